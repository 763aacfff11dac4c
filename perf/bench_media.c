/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_media — single-core cost of the relay decision of lib/media
 * (media_relay), without any I/O: what a worker spends per RTP packet
 * between recvmmsg/rx_burst and sendmmsg/tx_burst.
 *
 *   bench_media [-c CORE] [-t SECONDS] [-n COUNT] [-k NAME] [-s SESSIONS] [--json]
 *
 * Set-up: two realms, SESSIONS confirmed calls (default 10000) of one
 * G.711 stream each, both legs latched. Each burst is 32 packets of 172
 * bytes (20 ms of G.711) drawn from a shuffled list of (call, direction),
 * so with many calls the streams are not in cache, as on a loaded worker.
 * Every packet carries the next sequence number and timestamp of its
 * direction, so loss and jitter accounting run their normal path.
 *
 * Cases:
 *   relay/hot      the same 8 calls over and over (everything in L1)
 *   relay/calls    SESSIONS calls in shuffled order
 *   drop/unknown   packets to ports nobody holds (the cheapest refusal)
 *
 * Figures: ns per packet (CLOCK_MONOTONIC over batches of bursts) and, on
 * x86-64, TSC ticks per packet (the TSC runs at the nominal clock, so this
 * is cycles at nominal frequency). -n COUNT runs exactly COUNT bursts with
 * no warm-up, for callgrind instruction counts.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "media.h"

#define BURST 32u
#define PKT_LEN 172u

static const struct media_realm_conf realms[2] = {
	{ "203.0.113.1", 10000, 39999, 0 },
	{ "10.0.0.1", 40000, 65535, 0 },
};

/* One direction of one call: where its packets come from and go to. */
struct flow {
	union sbc_sockaddr src;
	uint16_t port;
	uint16_t realm;
	uint16_t seq;
	uint32_t ts;
	uint8_t hdr[12];
};

static struct media *m;
static struct flow *flows;
static uint32_t nflows;
static uint32_t *order;  /* shuffled flow indices */
static uint64_t sink;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t ticks(void)
{
#if defined(__x86_64__)
	return __rdtsc();
#else
	return 0;
#endif
}

static int sdp_apply(struct media_session *s, enum media_side side, enum media_sdp_kind kind,
		     const char *body)
{
	static struct sdp sdp;
	struct sdp_rewrite rw;

	if (sdp_parse(&sdp, body, strlen(body)) != SDP_E_OK)
		return -EINVAL;
	return media_sdp(m, s, side, kind, &sdp, 0, &rw);
}

static void flow_init(struct flow *f, const char *ip, uint16_t sport, uint16_t port,
		      uint16_t realm, uint32_t ssrc)
{
	(void)sbc_addr_from(&f->src, ip, strlen(ip), sport);
	f->port = port;
	f->realm = realm;
	f->seq = (uint16_t)ssrc;
	f->ts = ssrc * 7;
	memset(f->hdr, 0, sizeof(f->hdr));
	f->hdr[0] = 0x80;
	for (int i = 0; i < 4; i++)
		f->hdr[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
}

/* n confirmed calls; flows 2i (caller -> SBC) and 2i + 1 (callee -> SBC). */
static int setup(uint32_t n)
{
	struct media_conf c = { .worker = 0, .nworkers = 1, .max_sessions = n,
				.nrealms = 2, .realms = realms };
	char offer[512], answer[512], ip[32];

	m = media_create(&c);
	flows = calloc(2 * (size_t)n, sizeof(*flows));
	order = calloc(2 * (size_t)n, sizeof(*order));
	if (!m || !flows || !order)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		struct media_session *s = media_session_new(m, 0, 1, 0);
		snprintf(ip, sizeof(ip), "198.51.%u.%u", (i >> 8) & 255, i & 255);
		snprintf(offer, sizeof(offer),
			 "v=0\r\no=a 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
			 "m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n",
			 ip, ip);
		snprintf(answer, sizeof(answer),
			 "v=0\r\no=b 1 1 IN IP4 10.1.%u.%u\r\ns=-\r\nc=IN IP4 10.1.%u.%u\r\n"
			 "t=0 0\r\nm=audio 6000 RTP/AVP 0\r\n",
			 (i >> 8) & 255, i & 255, (i >> 8) & 255, i & 255);
		if (!s || sdp_apply(s, MEDIA_SIDE_A, MEDIA_OFFER, offer) < 0 ||
		    sdp_apply(s, MEDIA_SIDE_B, MEDIA_ANSWER, answer) < 0)
			return -ENOSPC;
		media_session_confirm(m, s);
		struct media_stats st;
		media_session_stats(m, s, &st);
		flow_init(&flows[2 * i], ip, 4000, st.stream[0].leg[0].local_rtp_port, 0, 2 * i);
		snprintf(ip, sizeof(ip), "10.1.%u.%u", (i >> 8) & 255, i & 255);
		flow_init(&flows[2 * i + 1], ip, 6000, st.stream[0].leg[1].local_rtp_port, 1,
			  2 * i + 1);
	}
	nflows = 2 * n;
	for (uint32_t i = 0; i < nflows; i++)
		order[i] = i;
	uint32_t x = 2463534242u;
	for (uint32_t i = nflows - 1; i > 0; i--) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		uint32_t j = x % (i + 1), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	return 0;
}

/* ---- one burst ------------------------------------------------------------ */

static uint32_t cursor;
static uint64_t clock_us = 1000000;

static void fill(struct media_pkt *p, uint32_t nused, bool unknown)
{
	for (unsigned i = 0; i < BURST; i++) {
		struct flow *f = &flows[order[cursor]];
		if (++cursor >= nused)
			cursor = 0;
		f->seq++;
		f->ts += 160;
		f->hdr[2] = (uint8_t)(f->seq >> 8);
		f->hdr[3] = (uint8_t)f->seq;
		f->hdr[4] = (uint8_t)(f->ts >> 24);
		f->hdr[5] = (uint8_t)(f->ts >> 16);
		f->hdr[6] = (uint8_t)(f->ts >> 8);
		f->hdr[7] = (uint8_t)f->ts;
		uint16_t port = unknown ? 39998 : f->port; /* 39998: held by nobody */
		p[i] = (struct media_pkt){ &f->src, f->hdr, PKT_LEN, port, f->realm, clock_us };
	}
	clock_us += 20;
}

struct bcase {
	const char *name;
	uint32_t flows;          /* how many flows the case cycles through */
	bool unknown;
	uint64_t pkts;
	double ns, tsc;
	uint64_t fwd;
};

/* Filling a burst (the next RTP header of each flow) is timed too; main()
 * times it alone over the same flows and subtracts it. */
static double run(struct bcase *c, double seconds, uint64_t count, bool do_relay)
{
	struct media_pkt p[BURST];
	struct media_fwd v[BURST];
	uint64_t bursts = 0, fwd = 0, t0, t1, k0, k1, end;

	cursor = 0;
	if (!count) {
		end = now_ns() + 200000000u;
		while (now_ns() < end)
			for (unsigned b = 0; b < 64; b++) {
				fill(p, c->flows, c->unknown);
				if (do_relay)
					fwd += media_relay(m, p, v, BURST);
			}
	}
	t0 = now_ns();
	k0 = ticks();
	end = t0 + (uint64_t)(seconds * 1e9);
	do {
		for (unsigned b = 0; b < 64 && (!count || bursts < count); b++, bursts++) {
			fill(p, c->flows, c->unknown);
			if (do_relay)
				fwd += media_relay(m, p, v, BURST);
			else
				sink += p[b % BURST].port;
		}
		t1 = now_ns();
	} while (count ? bursts < count : t1 < end);
	k1 = ticks();
	sink += fwd;
	c->pkts = bursts * BURST;
	c->fwd = fwd;
	c->tsc = (double)(k1 - k0) / (double)c->pkts;
	return (double)(t1 - t0) / (double)c->pkts;
}

static void usage(FILE *f)
{
	fputs("usage: bench_media [-c CORE] [-t SECONDS] [-n BURSTS] [-k NAME] [-s SESSIONS]"
	      " [--json]\n"
	      "  -c CORE      pin to this CPU (default 1)\n"
	      "  -t SECONDS   measured time per case (default 1)\n"
	      "  -n BURSTS    run each case exactly BURSTS bursts, no warm-up (callgrind)\n"
	      "  -k NAME      only the cases whose name contains NAME\n"
	      "  -s SESSIONS  calls set up (8..12000, default 10000)\n"
	      "  --json       one JSON object instead of a table\n", f);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int core = 1, opt;
	double seconds = 1.0;
	uint64_t count = 0;
	uint32_t sessions = 10000;
	const char *only = NULL;
	bool json = false;
	cpu_set_t set;

	while ((opt = getopt_long(argc, argv, "c:t:n:k:s:h", lopts, NULL)) != -1) {
		switch (opt) {
		case 'c': core = atoi(optarg); break;
		case 't': seconds = atof(optarg); break;
		case 'n': count = strtoull(optarg, NULL, 10); break;
		case 'k': only = optarg; break;
		case 's': sessions = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (seconds <= 0 || sessions < 8 || sessions > 12000 || core < 0 || core >= CPU_SETSIZE) {
		usage(stderr);
		return 2;
	}
	CPU_ZERO(&set);
	CPU_SET(core, &set);
	bool pinned = sched_setaffinity(0, sizeof(set), &set) == 0;
	if (setup(sessions) < 0) {
		fprintf(stderr, "bench_media: set-up failed\n");
		return 1;
	}
	struct bcase cases[] = {
		{ "relay/hot", 16, false, 0, 0, 0, 0 },
		{ "relay/calls", 2 * sessions, false, 0, 0, 0, 0 },
		{ "drop/unknown", 2 * sessions, true, 0, 0, 0, 0 },
	};
	size_t n = sizeof(cases) / sizeof(cases[0]);
	double fill_ns = 0;

	for (size_t i = 0; i < n; i++) {
		if (only && !strstr(cases[i].name, only))
			continue;
		struct bcase fill_only = cases[i];
		fill_ns = run(&fill_only, seconds / 2, count, false);
		cases[i].ns = run(&cases[i], seconds, count, true) - fill_ns;
		cases[i].tsc -= fill_only.tsc;
	}
	if (json) {
		printf("{\"cpu\":%d,\"pinned\":%s,\"sessions\":%u,\"cases\":[", core,
		       pinned ? "true" : "false", sessions);
		for (size_t i = 0, k = 0; i < n; i++)
			if (cases[i].pkts)
				printf("%s{\"name\":\"%s\",\"packets\":%llu,\"ns_per_pkt\":%.1f,"
				       "\"tsc_per_pkt\":%.0f,\"mpps\":%.2f}",
				       k++ ? "," : "", cases[i].name,
				       (unsigned long long)cases[i].pkts, cases[i].ns, cases[i].tsc,
				       1e3 / cases[i].ns);
		printf("]}\n");
	} else {
		printf("bench_media: CPU %d%s, %u calls, bursts of %u, %g s per case "
		       "(burst filling measured alone and subtracted; last: %.1f ns/pkt)\n",
		       core, pinned ? "" : " (not pinned)", sessions, BURST, seconds, fill_ns);
		printf("%-14s %12s %10s %10s %8s %10s\n", "case", "packets", "ns/pkt", "tsc/pkt",
		       "Mpps", "forwarded");
		for (size_t i = 0; i < n; i++)
			if (cases[i].pkts)
				printf("%-14s %12llu %10.1f %10.0f %8.2f %10llu\n", cases[i].name,
				       (unsigned long long)cases[i].pkts, cases[i].ns, cases[i].tsc,
				       1e3 / cases[i].ns, (unsigned long long)cases[i].fwd);
	}
	const struct media_counters *c = media_counters(m);
	if (!json)
		printf("drops: source %llu, no_dest %llu, unknown_port %llu\n",
		       (unsigned long long)c->drop[MEDIA_DROP_SOURCE],
		       (unsigned long long)c->drop[MEDIA_DROP_NO_DEST],
		       (unsigned long long)c->drop[MEDIA_DROP_UNKNOWN_PORT]);
	media_destroy(m);
	free(flows);
	free(order);
	return sink == 42 ? 1 : 0;
}
