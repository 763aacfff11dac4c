/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_dpdk — one worker's packet rate on the DPDK backend beside the
 * socket backend, in the same run, on the same machine.
 *
 * Cases (each -t seconds, after a 0.3 s warm-up):
 *   rtp/dpdk    the backend alone: a loop rx_burst -> swap addresses ->
 *               tx_burst over a net_ring port (the DPDK data path without a
 *               NIC or kernel: frame checks, UDP checksum, copy into the
 *               worker's buffer, Ethernet/IPv4/UDP build, checksums,
 *               neighbour lookup). 172-byte payload: an RTP packet of 20 ms
 *               G.711 (12-byte header + 160 bytes), 214-byte frames.
 *   rtp/socket  the same loop on the socket backend over loopback UDP
 *               (recvmmsg/sendmmsg, the kernel's UDP and loopback paths).
 *   media/copy  the same RTP to a relay port (iface IO_IFACE_MEDIA) and
 *               back, copied in and out as rtp/dpdk (the backend forced to
 *               copy: dp_media_copy).
 *   media/inplace  the same, relayed in place: the frame is lent to the
 *               loop (io.h ref), its headers rewritten and the frame sent
 *               (incremental UDP checksum, no copy). Both media cases send
 *               a freshly allocated frame per packet (a frame shared by
 *               reference count is never rewritten in place), so they
 *               differ only in the path; every 64th frame that comes back
 *               has its checksums verified, and the backend's MEDIA_INPLACE
 *               and MEDIA_COPIED counters are printed to show which path
 *               ran.
 *   sip/dpdk    the real worker (worker_run: parse, checks, stateless 200 to
 *               an OPTIONS, reply built and sent) on the DPDK backend over
 *               net_ring; 64 distinct OPTIONS of ~330 bytes.
 *   sip/socket  the same worker on the socket backend over loopback.
 *
 * The generator runs on CPU 0 and the worker on CPU 1 (-c to change). It
 * keeps at most -w datagrams outstanding (sent, not yet answered) so
 * nothing is lost to queue overflow and the rate is the worker's. DPDK
 * frames are pre-built mbufs whose reference count is raised per use, so
 * the generator costs ~50 ns a frame and never limits the worker; the
 * socket generator uses sendmmsg/recvmmsg batches of 32 and shares the
 * kernel's work (loopback delivery runs on the sender's CPU).
 *
 * Figures: answered datagrams per second, and the worker thread's CPU time
 * per datagram (for DPDK the worker busy-polls, so its CPU is 100% and
 * ns/pkt = 1e9 / rate). The echo cases on DPDK (rtp/dpdk, media/...) also
 * give the loop's own cost: the median ns per packet over bursts of at
 * least 16 (TSC around rx_burst..tx_burst), which neither empty polls nor
 * preemptions on a shared machine distort; the media ratio line compares
 * that figure of the two media cases of the same run.
 *
 * usage: bench_dpdk [-t SECONDS] [-w WINDOW] [-c GENCPU,WORKERCPU] [-k CASE] [--json]
 */
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include "dpdk.h"   /* dp_eal_external; DPDK headers with their pragmas */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#include <rte_eth_ring.h>
#pragma GCC diagnostic pop
#include "clock.h"
#include "config.h"
#include "io.h"
#include "log.h"
#include "worker.h"

#define NFRAMES 64u
#define RTP_PAYLOAD 172u
#define BURST 32u

static double opt_secs = 2.0;
static unsigned opt_window = 512;
static int gen_cpu = 0, work_cpu = 1;
static const char *opt_case;
static bool opt_json;

static const uint8_t PORT_MAC[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t GEN_MAC[6] = { 0x02, 0, 0, 0, 0, 0x02 };
#define MEDIA_PORT 10000u  /* a relay port of the configuration's range */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	(void)pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static double thread_cpu_s(pthread_t t)
{
	clockid_t id;
	struct timespec ts;

	if (pthread_getcpuclockid(t, &id) || clock_gettime(id, &ts))
		return 0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- payloads --------------------------------------------------------------- */

static size_t options_msg(char *buf, size_t cap, unsigned i, const char *ip, unsigned port)
{
	int n = snprintf(buf, cap,
			 "OPTIONS sip:%s SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP %s:%u;branch=z9hG4bK-bench-%u;rport\r\n"
			 "Max-Forwards: 70\r\n"
			 "From: <sip:bench@%s>;tag=b%u\r\n"
			 "To: <sip:%s>\r\n"
			 "Call-ID: bench-%u-0123456789abcdef@%s\r\n"
			 "CSeq: %u OPTIONS\r\n"
			 "Accept: application/sdp\r\n"
			 "Content-Length: 0\r\n\r\n",
			 ip, ip, port, i, ip, i, ip, i, ip, i + 1);
	return n > 0 ? (size_t)n : 0;
}

static size_t rtp_payload(char *buf, unsigned i)
{
	memset(buf, 0xd5, RTP_PAYLOAD); /* G.711 A-law silence */
	buf[0] = (char)0x80;
	buf[1] = 8;
	buf[2] = (char)(i >> 8);
	buf[3] = (char)i;
	return RTP_PAYLOAD;
}

/* ---- a configuration -------------------------------------------------------- */

/* Relay ports below the kernel's ephemeral range, where free_udp_port()
 * finds the SIP port: the two must not overlap (the configuration says). */

static struct sbc_config *make_config(bool dpdk, unsigned port)
{
	char text[2048], err[512];
	struct sbc_config *cfg = NULL;
	int n;

	if (dpdk)
		n = snprintf(text, sizeof text,
			     "workers: 1\nlog_level: warn\ncontrol: { metrics: \"\" }\n"
			     "io:\n  backend: dpdk\n  mbufs: 16383\n  rx_queue_size: 1024\n"
			     "  tx_queue_size: 1024\n  power_saving: false\n  ports:\n"
			     "    - device: net_ring_bench0\n      mac: \"02:00:00:00:00:01\"\n"
			     "      addresses: [ 10.0.0.1/24 ]\n"
			     "realms:\n  - name: access\n    listen: [ { address: 10.0.0.1, port: 5060 } ]\n"
			     "    media: { address: 10.0.0.1, ports: 10000-10999 }\n");
	else
		n = snprintf(text, sizeof text,
			     "workers: 1\nlog_level: warn\ncontrol: { metrics: \"\" }\n"
			     "realms:\n  - name: access\n    listen: [ { address: 127.0.0.1, port: %u } ]\n"
			     "    media: { address: 127.0.0.1, ports: 10000-10999 }\n", port);
	if (n < 0 || sbc_config_parse("bench", text, (size_t)n, &cfg, err, sizeof err)) {
		fprintf(stderr, "bench_dpdk: configuration: %s\n", err);
		exit(1);
	}
	return cfg;
}

static unsigned free_udp_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (struct sockaddr *)&a, &len)) {
		perror("bench_dpdk: socket");
		exit(1);
	}
	close(fd);
	return ntohs(a.sin_port);
}

/* ---- the worker side: echo loop or the real worker ----------------------------- */

struct side {
	const struct io_backend *io;
	struct io_queue *q;
	struct worker *w;               /* sip: the real worker */
	atomic_bool stop;
	atomic_ullong echoed;
	atomic_ullong busy_tsc;         /* echo loop: TSC ticks in non-empty bursts */
	pthread_t thread;
};

/* Per-packet cost of each burst of at least BURST/2 packets (TSC ticks
 * per packet), the latest NSAMPLES: their median is the loop's cost per
 * packet, robust to the preemptions of a shared machine (a burst that was
 * descheduled is an outlier) and to the generator not keeping up (empty
 * polls are not in it). */
#define NSAMPLES (1u << 18)
static uint32_t samples[NSAMPLES];
static unsigned long long nsamples;

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Median ns per packet of the samples (after the echo thread stopped). */
static double median_ns(void)
{
	size_t n = nsamples < NSAMPLES ? (size_t)nsamples : NSAMPLES;

	if (!n)
		return 0;
	qsort(samples, n, sizeof samples[0], cmp_u32);
	return (double)samples[n / 2] * 1e9 / (double)rte_get_tsc_hz();
}

static void *echo_main(void *arg)
{
	struct side *s = arg;
	struct io_pkt pkts[BURST];
	char *bufs = malloc((size_t)BURST * IO_RX_SLOT);

	uint64_t busy = 0;

	pin(work_cpu);
	if (!bufs)
		return NULL;
	while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
		uint64_t t0 = rte_rdtsc();
		for (unsigned i = 0; i < BURST; i++) {
			pkts[i].buf = bufs + (size_t)i * IO_RX_SLOT;
			pkts[i].ref = NULL;
		}
		unsigned n = s->io->rx_burst(s->q, pkts, BURST);
		if (!n) {
			(void)s->io->wait(s->q, 1);
			continue;
		}
		/* Back where it came from; relay-port datagrams keep iface,
		 * realm, port and (lent ones) ref: the worker's tx_media. */
		for (unsigned i = 0; i < n; i++) {
			union sbc_sockaddr peer = pkts[i].src;
			pkts[i].src = pkts[i].dst;
			pkts[i].dst = peer;
		}
		s->io->tx_burst(s->q, pkts, n);
		/* Time spent on packets, not on empty polls: the loop's cost per
		 * packet whether or not the generator keeps it saturated. */
		uint64_t dt = rte_rdtsc() - t0;
		busy += dt;
		if (n >= BURST / 2)
			samples[nsamples++ % NSAMPLES] = (uint32_t)(dt / n);
		atomic_store_explicit(&s->busy_tsc, busy, memory_order_relaxed);
		atomic_fetch_add_explicit(&s->echoed, n, memory_order_relaxed);
	}
	free(bufs);
	return NULL;
}

static void *worker_main(void *arg)
{
	struct side *s = arg;

	pin(work_cpu);
	return worker_run(s->w);
}

static struct worker_shared shared;

static void start_side(struct side *s, const struct sbc_config *cfg, bool sip)
{
	static struct worker *wl[1];
	uint64_t k[2] = { 0x0123456789abcdefULL, 0xfedcba9876543210ULL };

	if (s->io->setup(cfg) || s->io->open(cfg, 0, &s->q)) {
		fprintf(stderr, "bench_dpdk: backend %s did not start\n", s->io->name);
		exit(1);
	}
	atomic_init(&s->stop, false);
	atomic_init(&s->echoed, 0);
	atomic_init(&s->busy_tsc, 0);
	if (sip) {
		memset(&shared, 0, sizeof shared);
		shared.nworkers = 1;
		shared.workers = wl;
		shared.shard_key[0] = k[0];
		shared.shard_key[1] = k[1];
		shared.seed[0] = k[1];
		shared.seed[1] = k[0];
		snprintf(shared.sl_tag, sizeof shared.sl_tag, "bench0123456789a");
		s->w = worker_create(0, cfg, s->io, s->q, &s->stop, &shared);
		if (!s->w) {
			fprintf(stderr, "bench_dpdk: worker_create failed\n");
			exit(1);
		}
		wl[0] = s->w;
		pthread_create(&s->thread, NULL, worker_main, s);
	} else {
		pthread_create(&s->thread, NULL, echo_main, s);
	}
}

static unsigned drain_tx(void);
static struct rte_ring *ring_rx, *ring_tx;  /* the port's view: rx = to the worker */
static uint64_t last_inplace, last_copied;   /* the DPDK queue's, at its end */

static void stop_side(struct side *s)
{
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	if (s->io == &io_dpdk_backend) {
		last_inplace = s->q->ctr[DP_C_MEDIA_INPLACE];
		last_copied = s->q->ctr[DP_C_MEDIA_COPIED];
	}
	if (s->io != &io_socket_backend) {
		/* Their mbufs belong to the backend's pool, freed by teardown. */
		void *objs[64];
		unsigned n;
		while (drain_tx())
			;
		while ((n = rte_ring_sc_dequeue_burst(ring_rx, objs, 64, NULL)) > 0)
			rte_pktmbuf_free_bulk((struct rte_mbuf **)objs, n);
	}
	worker_destroy(s->w);
	s->w = NULL;
	s->io->close(s->q);
	s->io->teardown();
}

/* ---- results ------------------------------------------------------------------ */

struct result {
	const char *name;
	double secs, pkts, cpu;
	size_t bytes;
	bool media;
	uint64_t inplace, copied;     /* media cases: the backend's counters */
	double busy_ns;               /* echo cases: ns per packet in non-empty bursts */
	double median_ns;             /* echo cases: median ns per packet of full bursts */
};

static void report(const struct result *r)
{
	double rate = r->pkts / r->secs;

	double share = r->cpu / r->secs, ns = r->pkts ? r->cpu * 1e9 / r->pkts : 0;

	/* Per core: what the worker did per second of CPU it actually got
	 * (on a shared machine it is descheduled part of the time). For a
	 * busy-polling worker that is 1e9 / ns. */
	if (opt_json)
		printf("{\"case\":\"%s\",\"payload_bytes\":%zu,\"seconds\":%.3f,\"packets\":%.0f,"
		       "\"per_second\":%.0f,\"worker_cpu\":%.3f,\"worker_ns_per_packet\":%.0f,"
		       "\"per_core_second\":%.0f,\"busy_ns_per_packet\":%.1f,"
		       "\"median_burst_ns_per_packet\":%.1f,"
		       "\"media_inplace\":%llu,\"media_copied\":%llu}\n",
		       r->name, r->bytes, r->secs, r->pkts, rate, share, ns, ns ? 1e9 / ns : 0,
		       r->busy_ns, r->median_ns, (unsigned long long)r->inplace,
		       (unsigned long long)r->copied);
	else
		printf("%-13s %5zu B  %10.0f /s  worker CPU %5.1f%%  %6.0f ns/pkt  %10.0f /s per core%s",
		       r->name, r->bytes, rate, 100 * share, ns, ns ? 1e9 / ns : 0,
		       r->media ? "" : "\n");
	if (!opt_json && r->media)
		printf("\n%13s median burst %5.0f ns/pkt = %10.0f /s per core (busy mean %.0f ns); "
		       "in place %llu, copied %llu\n",
		       "", r->median_ns, r->median_ns ? 1e9 / r->median_ns : 0, r->busy_ns,
		       (unsigned long long)r->inplace, (unsigned long long)r->copied);
	fflush(stdout);
}

/* ---- DPDK generator over net_ring ---------------------------------------------- */

static struct rte_mempool *gen_pool;

static void put_udp_frame(struct rte_mbuf *m, const char *payload, size_t len, unsigned i,
			  uint16_t dport)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)rte_pktmbuf_append(
		m, (uint16_t)(sizeof *eth + sizeof(struct rte_ipv4_hdr) + sizeof(struct rte_udp_hdr) + len));
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_udp_hdr *u = (struct rte_udp_hdr *)(ip + 1);

	memcpy(eth->dst_addr.addr_bytes, PORT_MAC, 6);
	memcpy(eth->src_addr.addr_bytes, GEN_MAC, 6);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	memset(ip, 0, sizeof *ip);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(sizeof *ip + sizeof *u + len));
	ip->packet_id = rte_cpu_to_be_16((uint16_t)i);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = inet_addr("10.0.0.2");
	ip->dst_addr = inet_addr("10.0.0.1");
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	u->src_port = rte_cpu_to_be_16((uint16_t)(20000 + i));
	u->dst_port = rte_cpu_to_be_16(dport);
	u->dgram_len = rte_cpu_to_be_16((uint16_t)(sizeof *u + len));
	u->dgram_cksum = 0;
	memcpy(u + 1, payload, len);
	u->dgram_cksum = rte_ipv4_udptcp_cksum(ip, u);
}

static struct rte_mbuf *arp_request(void)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(gen_pool);
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)rte_pktmbuf_append(
		m, sizeof *eth + sizeof(struct rte_arp_hdr));
	struct rte_arp_hdr *a = (struct rte_arp_hdr *)(eth + 1);

	memset(eth->dst_addr.addr_bytes, 0xff, 6);
	memcpy(eth->src_addr.addr_bytes, GEN_MAC, 6);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	a->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	a->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	a->arp_hlen = 6;
	a->arp_plen = 4;
	a->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
	memcpy(a->arp_data.arp_sha.addr_bytes, GEN_MAC, 6);
	a->arp_data.arp_sip = inet_addr("10.0.0.2");
	memset(a->arp_data.arp_tha.addr_bytes, 0, 6);
	a->arp_data.arp_tip = inet_addr("10.0.0.1");
	return m;
}

static unsigned long long checked, bad_frames;

/* A frame the worker sent: IPv4 and UDP checksums valid, from our relay
 * port to the generator. */
static bool frame_ok(const struct rte_mbuf *m)
{
	const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, const struct rte_ipv4_hdr *,
								 sizeof(struct rte_ether_hdr));
	const struct rte_udp_hdr *u = (const struct rte_udp_hdr *)(ip + 1);
	uint32_t sum = rte_ipv4_phdr_cksum(ip, 0) + rte_raw_cksum(u, rte_be_to_cpu_16(u->dgram_len));

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return m->nb_segs == 1 && rte_raw_cksum(ip, sizeof *ip) == 0xffff && u->dgram_cksum &&
	       sum == 0xffff &&
	       ip->src_addr == inet_addr("10.0.0.1") && ip->dst_addr == inet_addr("10.0.0.2") &&
	       u->src_port == rte_cpu_to_be_16(MEDIA_PORT);
}

/* Count and free what the worker sent: UDP datagrams only (skip ARP);
 * with verify, check every 64th. */
static unsigned drain_tx_verify(bool verify)
{
	void *objs[64];
	unsigned n = rte_ring_sc_dequeue_burst(ring_tx, objs, 64, NULL), got = 0;

	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = objs[i];
		const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
		if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) {
			if (verify && (++checked & 63) == 0 && !frame_ok(m))
				bad_frames++;
			got++;
		}
	}
	rte_pktmbuf_free_bulk((struct rte_mbuf **)objs, n);
	return got;
}

static unsigned drain_tx(void)
{
	return drain_tx_verify(false);
}

enum media_mode { NOT_MEDIA, MEDIA_COPY, MEDIA_INPLACE };
static struct rte_mempool *media_pool;  /* fresh frames of the media cases */

static struct result run_dpdk(const char *name, bool sip, enum media_mode media)
{
	struct sbc_config *cfg = make_config(true, 0);
	struct rte_mbuf *frames[NFRAMES];
	struct side s = { .io = &io_dpdk_backend };
	char payload[1024];
	size_t plen = 0;
	unsigned long long sent = 0, got = 0, got0 = 0, e0 = 0, b0 = 0;
	double t0, t1, c0, c1, warm;
	struct result r = { .name = name, .media = media != NOT_MEDIA };

	for (unsigned i = 0; i < NFRAMES; i++) {
		plen = sip ? options_msg(payload, sizeof payload, i, "10.0.0.2", 20000 + i)
			   : rtp_payload(payload, i);
		frames[i] = rte_pktmbuf_alloc(gen_pool);
		put_udp_frame(frames[i], payload, plen, i, media ? MEDIA_PORT : 5060);
	}
	r.bytes = plen;
	dp_media_copy = media == MEDIA_COPY;
	checked = bad_frames = 0;
	nsamples = 0;
	start_side(&s, cfg, sip);
	{
		void *arp = arp_request();
		while (rte_ring_sp_enqueue(ring_rx, arp))
			;
		usleep(100000);
		(void)drain_tx();
	}
	warm = now_s() + 0.3;
	t0 = 0;
	c0 = 0;
	for (unsigned k = 0, it = 0;; it++) {
		/* The clock every 64 rounds: a vDSO read per round was a quarter
		 * of the generator's time and made it the bottleneck. */
		double t = (it & 63) ? 0 : now_s();
		if (!t0 && t >= warm) {
			t0 = t;
			c0 = thread_cpu_s(s.thread);
			got0 = got;
			e0 = atomic_load(&s.echoed);
			b0 = atomic_load(&s.busy_tsc);
		}
		if (t0 && t >= t0 + opt_secs)
			break;
		got += drain_tx_verify(media != NOT_MEDIA);
		unsigned room = sent - got < opt_window ? (unsigned)(opt_window - (sent - got)) : 0;
		if (room > BURST)
			room = BURST;
		if (!room)
			continue;
		void *objs[BURST];
		if (media) {
			/* A frame of our own per packet: alloc and a 214-byte copy. */
			if (rte_pktmbuf_alloc_bulk(media_pool, (struct rte_mbuf **)objs, room))
				continue;
			for (unsigned i = 0; i < room; i++, k++) {
				const struct rte_mbuf *f = frames[k % NFRAMES];
				struct rte_mbuf *m = objs[i];
				rte_memcpy(rte_pktmbuf_append(m, (uint16_t)f->data_len),
					   rte_pktmbuf_mtod(f, const void *), f->data_len);
			}
		} else {
			for (unsigned i = 0; i < room; i++, k++) {
				struct rte_mbuf *m = frames[k % NFRAMES];
				rte_mbuf_refcnt_update(m, 1);
				objs[i] = m;
			}
		}
		unsigned q = rte_ring_sp_enqueue_burst(ring_rx, objs, room, NULL);
		for (unsigned i = q; i < room; i++) {
			if (media)
				rte_pktmbuf_free(objs[i]);
			else
				rte_mbuf_refcnt_update(objs[i], -1);
		}
		sent += q;
	}
	t1 = now_s();
	c1 = thread_cpu_s(s.thread);
	r.secs = t1 - t0;
	r.pkts = (double)(got - got0);
	r.cpu = c1 - c0;
	if (!sip && atomic_load(&s.echoed) > e0)
		r.busy_ns = (double)(atomic_load(&s.busy_tsc) - b0) * 1e9 / (double)rte_get_tsc_hz() /
			    (double)(atomic_load(&s.echoed) - e0);
	stop_side(&s);
	if (!sip)
		r.median_ns = median_ns();
	r.inplace = last_inplace;
	r.copied = last_copied;
	dp_media_copy = false;
	for (unsigned i = 0; i < NFRAMES; i++)
		rte_pktmbuf_free(frames[i]);
	if (bad_frames) {
		fprintf(stderr, "bench_dpdk: %s: %llu of %llu checked frames wrong (checksums, "
				"addresses or port)\n", name, bad_frames, checked / 64);
		exit(1);
	}
	sbc_config_free(cfg);
	return r;
}

/* ---- socket generator over loopback --------------------------------------------- */

static struct result run_socket(const char *name, bool sip)
{
	unsigned port = free_udp_port();
	struct sbc_config *cfg = make_config(false, port);
	struct side s = { .io = &io_socket_backend };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in me = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	static char msgs[NFRAMES][1024], rbuf[BURST][2048];
	struct mmsghdr sm[BURST], rm[BURST];
	struct iovec siov[BURST], riov[BURST];
	size_t len[NFRAMES];
	socklen_t slen = sizeof me;
	unsigned long long sent = 0, got = 0, got0 = 0;
	double t0 = 0, t1, c0 = 0, c1, warm;
	struct result r = { .name = name };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0), big = 4 << 20;

	if (fd < 0 || bind(fd, (struct sockaddr *)&me, sizeof me) ||
	    getsockname(fd, (struct sockaddr *)&me, &slen)) {
		perror("bench_dpdk: generator socket");
		exit(1);
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
	for (unsigned i = 0; i < NFRAMES; i++)
		len[i] = sip ? options_msg(msgs[i], sizeof msgs[i], i, "127.0.0.1", ntohs(me.sin_port))
			     : rtp_payload(msgs[i], i);
	r.bytes = len[0];
	start_side(&s, cfg, sip);
	pin(gen_cpu);
	warm = now_s() + 0.3;
	for (unsigned k = 0, it = 0;; it++) {
		/* The clock every 64 rounds: a vDSO read per round was a quarter
		 * of the generator's time and made it the bottleneck. */
		double t = (it & 63) ? 0 : now_s();
		if (!t0 && t >= warm) {
			t0 = t;
			c0 = thread_cpu_s(s.thread);
			got0 = got;
		}
		if (t0 && t >= t0 + opt_secs)
			break;
		for (unsigned i = 0; i < BURST; i++) {
			riov[i] = (struct iovec){ rbuf[i], sizeof rbuf[i] };
			rm[i].msg_hdr = (struct msghdr){ .msg_iov = &riov[i], .msg_iovlen = 1 };
		}
		int n = recvmmsg(fd, rm, BURST, MSG_DONTWAIT, NULL);
		if (n > 0)
			got += (unsigned)n;
		unsigned room = sent - got < opt_window ? (unsigned)(opt_window - (sent - got)) : 0;
		if (room > BURST)
			room = BURST;
		if (!room)
			continue;
		for (unsigned i = 0; i < room; i++, k++) {
			siov[i] = (struct iovec){ msgs[k % NFRAMES], len[k % NFRAMES] };
			sm[i].msg_hdr = (struct msghdr){ .msg_name = &to, .msg_namelen = sizeof to,
							 .msg_iov = &siov[i], .msg_iovlen = 1 };
		}
		n = sendmmsg(fd, sm, room, MSG_DONTWAIT);
		if (n > 0)
			sent += (unsigned)n;
	}
	t1 = now_s();
	c1 = thread_cpu_s(s.thread);
	r.secs = t1 - t0;
	r.pkts = (double)(got - got0);
	r.cpu = c1 - c0;
	stop_side(&s);
	close(fd);
	sbc_config_free(cfg);
	return r;
}

/* ---- main ------------------------------------------------------------------------ */

static int eal_and_ring_port(void)
{
	char prefix[64];
	char *argv[] = { "bench_dpdk", "--no-huge", "-m", "1024", "--no-pci", "--no-telemetry",
			 "-l", "0", prefix, "--log-level=warning", NULL };
	struct rte_ring *rx[1], *tx[1];
	int port;

	snprintf(prefix, sizeof prefix, "--file-prefix=sbcbench%d", (int)getpid());
	if (rte_eal_init(10, argv) < 0) {
		fprintf(stderr, "bench_dpdk: EAL: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	ring_rx = rte_ring_create("bench_rx", 4096, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	ring_tx = rte_ring_create("bench_tx", 4096, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	gen_pool = rte_pktmbuf_pool_create("bench_gen", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					   SOCKET_ID_ANY);
	/* Per-core caches: the generator allocates, the worker (copy path)
	 * or the generator (frames sent in place come back) frees. */
	media_pool = rte_pktmbuf_pool_create("bench_media", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					     SOCKET_ID_ANY);
	if (!ring_rx || !ring_tx || !gen_pool || !media_pool)
		return -1;
	rx[0] = ring_rx;
	tx[0] = ring_tx;
	/* The ring PMD names the port "net_ring_" + this name. */
	port = rte_eth_from_rings("bench0", rx, 1, tx, 1, (unsigned)rte_socket_id());
	if (port < 0)
		return -1;
	dp_eal_external = true;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = { { "json", no_argument, NULL, 'j' }, { 0 } };
	static const struct { const char *name; bool dpdk, sip; enum media_mode media; } cases[] = {
		{ "rtp/dpdk", true, false, NOT_MEDIA },	 { "rtp/socket", false, false, NOT_MEDIA },
		{ "media/copy", true, false, MEDIA_COPY }, { "media/inplace", true, false, MEDIA_INPLACE },
		{ "sip/dpdk", true, true, NOT_MEDIA },	 { "sip/socket", false, true, NOT_MEDIA },
	};
	double media_rate[2] = { 0, 0 };
	int opt;

	while ((opt = getopt_long(argc, argv, "t:w:c:k:", lo, NULL)) != -1) {
		switch (opt) {
		case 't': opt_secs = atof(optarg); break;
		case 'w': opt_window = (unsigned)atoi(optarg); break;
		case 'c':
			if (sscanf(optarg, "%d,%d", &gen_cpu, &work_cpu) != 2)
				return 2;
			break;
		case 'k': opt_case = optarg; break;
		case 'j': opt_json = true; break;
		default:
			fprintf(stderr, "usage: bench_dpdk [-t SECONDS] [-w WINDOW] [-c GEN,WORKER] "
					"[-k CASE] [--json]\n");
			return 2;
		}
	}
	sbc_log_set_level(SBC_LOG_WARN);
	sbc_log_thread_name("bench");
	pin(gen_cpu);
	if (eal_and_ring_port()) {
		fprintf(stderr, "bench_dpdk: DPDK set-up failed\n");
		return 1;
	}
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct result r;

		if (opt_case && !strstr(cases[i].name, opt_case))
			continue;
		r = cases[i].dpdk ? run_dpdk(cases[i].name, cases[i].sip, cases[i].media)
				  : run_socket(cases[i].name, cases[i].sip);
		report(&r);
		if (cases[i].media && r.median_ns > 0)
			media_rate[cases[i].media - 1] = 1e9 / r.median_ns;
	}
	if (media_rate[0] > 0 && media_rate[1] > 0 && !opt_json)
		printf("media in place / copy: %.2fx packets per core-second (median burst cost)\n",
		       media_rate[1] / media_rate[0]);
	char run_dir[PATH_MAX];
	snprintf(run_dir, sizeof run_dir, "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	dp_runtime_dir_remove(run_dir);
	return 0;
}
