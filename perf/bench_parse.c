/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_parse — single-core cost of lib/sip (and lib/sdp) on the messages an
 * SBC sees most, in messages per second.
 *
 *   bench_parse [-c CORE] [-t SECONDS] [-n COUNT] [-k NAME] [--json]
 *
 * Cases:
 *   parse/...  sip_parse + sip_check (which validates every Via, From, To,
 *              Call-ID, CSeq, Max-Forwards, Contact) + reading every routing
 *              header the daemon uses (top Via, From, To, Call-ID, CSeq,
 *              Contacts, Route/Record-Route, Max-Forwards, Content-Length),
 *              in the daemon's order.
 *   rewrite/... the same, then a topology-hiding rewrite: the Via stack
 *              replaced by one Via of ours, Contact replaced, Record-Route
 *              deleted, the SDP's o=/c=/m= pointed at a relay via lib/sdp,
 *              the new body set and the message serialized.
 *
 * Each case runs a short warm-up, then batches until the duration (default
 * 1 s) has passed, timed with CLOCK_MONOTONIC. The process pins itself to
 * one core (-c, default 1) so the figure is per core. Results go to stdout
 * as a table, or as one JSON object with --json. -n runs each case exactly
 * COUNT times with no warm-up, for instruction counts under callgrind (where
 * time means nothing); -k runs only the cases whose name contains NAME.
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

#include "sdp.h"
#include "sip.h"

/* ---- the messages --------------------------------------------------------- */

static const char invite_hdrs[] =
	"INVITE sip:+15557654321@core.example.net;user=phone SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-524287-1---b8e4a1c9d2f3;rport\r\n"
	"Via: SIP/2.0/UDP 10.20.30.40:5070;branch=z9hG4bK-77ab12cd;received=10.20.30.40\r\n"
	"Max-Forwards: 69\r\n"
	"From: \"Alice Caller\" <sip:+15551234567@access.example.com;user=phone>;tag=a8f3c2d1\r\n"
	"To: <sip:+15557654321@core.example.net;user=phone>\r\n"
	"Call-ID: 7f3a9c2e-1b4d-4e8f-9a6c-2d5e8f1a3b7c@198.51.100.7\r\n"
	"CSeq: 102 INVITE\r\n"
	"Contact: <sip:+15551234567@198.51.100.7:5060;transport=udp>;+sip.instance=\"<urn:uuid:1>\"\r\n"
	"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE, INFO, REFER, NOTIFY\r\n"
	"Supported: 100rel, timer, replaces, norefersub\r\n"
	"Session-Expires: 1800;refresher=uac\r\n"
	"Min-SE: 90\r\n"
	"P-Asserted-Identity: \"Alice Caller\" <sip:+15551234567@access.example.com>\r\n"
	"User-Agent: PBX-Model-7/3.2.1\r\n"
	"Content-Type: application/sdp\r\n";

static const char invite_sdp[] =
	"v=0\r\n"
	"o=PBX 1718273645 1718273646 IN IP4 198.51.100.7\r\n"
	"s=Talk\r\n"
	"c=IN IP4 198.51.100.7\r\n"
	"t=0 0\r\n"
	"m=audio 16384 RTP/AVP 0 8 18 101\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:18 G729/8000\r\n"
	"a=fmtp:18 annexb=no\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=fmtp:101 0-16\r\n"
	"a=ptime:20\r\n"
	"a=sendrecv\r\n";

static const char ok_hdrs[] =
	"SIP/2.0 200 OK\r\n"
	"Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-524287-1---b8e4a1c9d2f3;rport=5060;received=198.51.100.7\r\n"
	"Via: SIP/2.0/UDP 10.20.30.40:5070;branch=z9hG4bK-77ab12cd;received=10.20.30.40\r\n"
	"Record-Route: <sip:10.1.1.1:5060;lr;ftag=a8f3c2d1>\r\n"
	"Record-Route: <sip:sbc-core.example.net;lr>, <sip:10.9.9.9;lr;transport=tcp>\r\n"
	"From: \"Alice Caller\" <sip:+15551234567@access.example.com;user=phone>;tag=a8f3c2d1\r\n"
	"To: <sip:+15557654321@core.example.net;user=phone>;tag=5e6f7a8b\r\n"
	"Call-ID: 7f3a9c2e-1b4d-4e8f-9a6c-2d5e8f1a3b7c@198.51.100.7\r\n"
	"CSeq: 102 INVITE\r\n"
	"Contact: <sip:+15557654321@10.1.1.20:5060;transport=udp>\r\n"
	"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE\r\n"
	"Supported: timer\r\n"
	"Require: timer\r\n"
	"Session-Expires: 1800;refresher=uac\r\n"
	"Content-Type: application/sdp\r\n";

static const char ok_sdp[] =
	"v=0\r\n"
	"o=SoftSwitch 3344556677 3344556678 IN IP4 10.1.1.20\r\n"
	"s=-\r\n"
	"c=IN IP4 10.1.1.20\r\n"
	"t=0 0\r\n"
	"m=audio 20000 RTP/AVP 0 101\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=fmtp:101 0-16\r\n"
	"a=ptime:20\r\n"
	"a=sendrecv\r\n";

static const char register_msg[] =
	"REGISTER sip:access.example.com SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 192.0.2.33:5060;branch=z9hG4bK-d8754z-reg-4412;rport\r\n"
	"Max-Forwards: 70\r\n"
	"From: <sip:2001@access.example.com>;tag=37c1f2a9\r\n"
	"To: <sip:2001@access.example.com>\r\n"
	"Call-ID: NTU4ZmI5YjQ4ZTYwY2U0ZDBjZTc1M2E1@192.0.2.33\r\n"
	"CSeq: 7 REGISTER\r\n"
	"Contact: <sip:2001@192.0.2.33:5060;rinstance=6f8a2b1c;transport=udp>;expires=3600\r\n"
	"Expires: 3600\r\n"
	"Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n"
	"Supported: replaces, outbound, gruu\r\n"
	"User-Agent: Softphone 5.4.12\r\n"
	"Content-Length: 0\r\n"
	"\r\n";

struct msgbuf {
	char buf[4096];
	size_t len;
};

static void build(struct msgbuf *mb, const char *hdrs, const char *body)
{
	int n = snprintf(mb->buf, sizeof(mb->buf), "%sContent-Length: %zu\r\n\r\n%s",
			 hdrs, strlen(body), body);

	if (n < 0 || (size_t)n >= sizeof(mb->buf)) {
		fprintf(stderr, "bench_parse: message too large\n");
		exit(1);
	}
	mb->len = (size_t)n;
}

/* ---- the work ------------------------------------------------------------- */

/* Everything measured writes here so the compiler keeps it. */
static volatile uint64_t sink;

static struct sip_msg msg;
static struct sip_editor ed;
static struct sdp sdp;
static char out[8192];
static char sdp_out[4096];

static void fail(const char *what)
{
	fprintf(stderr, "bench_parse: %s failed on a benchmark message\n", what);
	exit(1);
}

/* Parse and read every routing header: what a proxy needs before it acts. */
static uint64_t parse_routing(const char *buf, size_t len)
{
	struct sip_via_iter vi;
	struct sip_list_iter li;
	struct sip_via via;
	struct sip_nameaddr na;
	struct sip_cseq cs;
	struct sip_contact ct;
	sip_str_t v;
	uint32_t n;
	uint64_t acc = 0;

	/* The daemon's order: sip_check validates every Via, From, To, CSeq,
	 * Call-ID, Max-Forwards and Contact once and keeps the single-value
	 * ones; the proxy then reads them (and the route lists) from there. */
	if (sip_parse(&msg, buf, len) != SIP_E_OK)
		fail("sip_parse");
	if (sip_check(&msg) != SIP_E_OK)
		fail("sip_check");
	(void)vi;
	if (sip_msg_top_via(&msg, &via) > 0)
		acc += via.port + via.branch.len;
	if (sip_msg_from(&msg, &na) > 0)
		acc += na.tag.len;
	if (sip_msg_to(&msg, &na) > 0)
		acc += na.tag.len;
	if (sip_msg_call_id(&msg, &v) > 0)
		acc += v.len;
	if (sip_msg_cseq(&msg, &cs) > 0)
		acc += cs.seq;
	sip_list_init(&li, &msg, SIP_H_CONTACT);
	while (sip_list_next(&li, &v) > 0)
		if (sip_contact_parse(v, &ct) == 0)
			acc += ct.na.uri.len;
	sip_list_init(&li, &msg, SIP_H_ROUTE);
	while (sip_list_next(&li, &v) > 0)
		if (sip_nameaddr_parse(v, &na) == 0)
			acc += na.uri.len;
	sip_list_init(&li, &msg, SIP_H_RECORD_ROUTE);
	while (sip_list_next(&li, &v) > 0)
		if (sip_nameaddr_parse(v, &na) == 0)
			acc += na.uri.len;
	if (sip_msg_max_forwards(&msg, &n) > 0)
		acc += n;
	if (msg.first[SIP_H_CONTENT_LENGTH] != SIP_HDR_NONE &&
	    sip_parse_u32(msg.hdr[msg.first[SIP_H_CONTENT_LENGTH]].value, &n) == 0)
		acc += n;
	return acc;
}

static const struct sdp_rewrite relay_spec = {
	.origin = { { "203.0.113.5", 11 }, SDP_AT_IP4 },
	.conn = { { "203.0.113.5", 11 }, SDP_AT_IP4 },
	.media = { [0] = { .set_port = true, .port = 30000 } },
};

/* Parse, then rewrite as topology hiding does on every relayed message. */
static uint64_t parse_rewrite(const char *buf, size_t len)
{
	static const sip_str_t via = SIP_STR(
		"SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK-sbc-0001-7f3a9c2e");
	static const sip_str_t contact = SIP_STR("<sip:s1x7f3a9c2e@203.0.113.5:5060>");
	uint64_t acc = parse_routing(buf, len);
	uint16_t first_via = msg.first[SIP_H_VIA];
	int n;

	sip_edit_init(&ed, &msg);
	/* the new Via goes where the old stack began */
	if (sip_edit_insert_hdr(&ed, first_via, SIP_STR("Via"), via) < 0 ||
	    sip_edit_delete_all(&ed, SIP_H_VIA) < 0 ||
	    sip_edit_replace_value(&ed, msg.first[SIP_H_CONTACT], contact) < 0 ||
	    sip_edit_delete_all(&ed, SIP_H_RECORD_ROUTE) < 0)
		fail("sip_edit");
	if (msg.body_len > 0) {
		sip_str_t body = sip_msg_body(&msg);

		if (sdp_parse(&sdp, body.p, body.len) != SDP_E_OK)
			fail("sdp_parse");
		n = sdp_rewrite(&sdp, &relay_spec, sdp_out, sizeof(sdp_out));
		if (n < 0)
			fail("sdp_rewrite");
		if (sip_edit_set_body(&ed, (sip_str_t){ sdp_out, (uint32_t)n }) < 0)
			fail("sip_edit_set_body");
	}
	n = sip_edit_serialize(&ed, out, sizeof(out));
	if (n < 0)
		fail("sip_edit_serialize");
	return acc + (uint64_t)n + (unsigned char)out[n / 2];
}

/* The rewrite must produce what the daemon would send, or the figure is
 * meaningless: check it once before timing (and show it with -v). */
static void verify_rewrite(const struct msgbuf *mb, bool show)
{
	static struct sip_msg again;
	static char copy[sizeof(out)];
	struct sip_via via;
	int n;

	(void)parse_rewrite(mb->buf, mb->len);
	n = sip_edit_serialize(&ed, copy, sizeof(copy));
	if (n < 0)
		fail("sip_edit_serialize (verify)");
	if (sip_parse(&again, copy, (size_t)n) != SIP_E_OK || sip_check(&again) != SIP_E_OK)
		fail("re-parse of the rewritten message");
	if (again.count[SIP_H_VIA] != 1 || again.count[SIP_H_RECORD_ROUTE] != 0 ||
	    sip_msg_top_via(&again, &via) <= 0 || !sip_str_caseeq_lit(via.host, "203.0.113.5"))
		fail("Via/Record-Route rewrite");
	if (again.body_len > 0) {
		sip_str_t body = sip_msg_body(&again);

		if (sdp_parse(&sdp, body.p, body.len) != SDP_E_OK ||
		    !sip_str_eq(sdp.conn.addr, SIP_STR("203.0.113.5")) ||
		    !sip_str_eq(sdp.origin.conn.addr, SIP_STR("203.0.113.5")) ||
		    sdp.media[0].port != 30000)
			fail("SDP rewrite");
	}
	if (show)
		printf("---- rewritten (%d bytes) ----\n%.*s\n", n, n, copy);
}

/* ---- timing --------------------------------------------------------------- */

struct bcase {
	const char *name;
	const struct msgbuf *mb;
	uint64_t (*fn)(const char *, size_t);
	/* results */
	uint64_t iters;
	double ns_per_msg;
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Batches keep clock_gettime (~20 ns) out of the per-message figure. */
#define BATCH 1000u

static void run_case(struct bcase *c, double seconds, uint64_t count)
{
	const char *buf = c->mb->buf;
	size_t len = c->mb->len;
	uint64_t acc = 0, iters = 0;
	double t0, t1, end;

	if (count > 0) {
		t0 = now_ns();
		for (uint64_t i = 0; i < count; i++)
			acc += c->fn(buf, len);
		t1 = now_ns();
		sink += acc;
		c->iters = count;
		c->ns_per_msg = (t1 - t0) / (double)count;
		return;
	}
	/* warm-up: caches, branch predictors, page faults of the statics */
	t0 = now_ns();
	end = t0 + 0.2e9;
	do {
		for (unsigned i = 0; i < BATCH; i++)
			acc += c->fn(buf, len);
	} while (now_ns() < end);

	t0 = now_ns();
	end = t0 + seconds * 1e9;
	do {
		for (unsigned i = 0; i < BATCH; i++)
			acc += c->fn(buf, len);
		iters += BATCH;
		t1 = now_ns();
	} while (t1 < end);
	sink += acc;
	c->iters = iters;
	c->ns_per_msg = (t1 - t0) / (double)iters;
}

static void usage(FILE *f)
{
	fputs("usage: bench_parse [-c CORE] [-t SECONDS] [-n COUNT] [-k NAME] [--json]\n"
	      "  -c CORE      pin to this CPU (default 1)\n"
	      "  -t SECONDS   measured time per case (default 1)\n"
	      "  -n COUNT     run each case exactly COUNT times, no warm-up (callgrind)\n"
	      "  -k NAME      only the cases whose name contains NAME\n"
	      "  -v           print the rewritten messages first\n"
	      "  --json       one JSON object instead of a table\n", f);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct msgbuf invite, ok200, reg;
	int core = 1, opt;
	double seconds = 1.0;
	uint64_t count = 0;
	const char *only = NULL;
	bool verbose = false;
	bool json = false, pinned = false;
	cpu_set_t set;

	while ((opt = getopt_long(argc, argv, "c:t:n:k:vh", lopts, NULL)) != -1) {
		switch (opt) {
		case 'c': core = atoi(optarg); break;
		case 't': seconds = atof(optarg); break;
		case 'n': count = strtoull(optarg, NULL, 10); break;
		case 'k': only = optarg; break;
		case 'v': verbose = true; break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (seconds <= 0 || core < 0 || core >= CPU_SETSIZE) {
		usage(stderr);
		return 2;
	}

	CPU_ZERO(&set);
	CPU_SET(core, &set);
	if (sched_setaffinity(0, sizeof(set), &set) == 0)
		pinned = true;
	else
		fprintf(stderr, "bench_parse: cannot pin to CPU %d (%s); running unpinned\n",
			core, strerror(errno));

	build(&invite, invite_hdrs, invite_sdp);
	build(&ok200, ok_hdrs, ok_sdp);
	reg.len = sizeof(register_msg) - 1;
	memcpy(reg.buf, register_msg, reg.len);

	struct bcase cases[] = {
		{ "parse/INVITE+SDP",    &invite, parse_routing, 0, 0 },
		{ "parse/200-INVITE+SDP", &ok200, parse_routing, 0, 0 },
		{ "parse/REGISTER",      &reg,    parse_routing, 0, 0 },
		{ "rewrite/INVITE+SDP",  &invite, parse_rewrite, 0, 0 },
		{ "rewrite/200-INVITE+SDP", &ok200, parse_rewrite, 0, 0 },
	};
	size_t ncases = 0;

	verify_rewrite(&invite, verbose);
	verify_rewrite(&ok200, verbose);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (only != NULL && strstr(cases[i].name, only) == NULL)
			continue;
		cases[ncases] = cases[i];
		run_case(&cases[ncases++], seconds, count);
	}

	if (json) {
		printf("{\"cpu\":%d,\"pinned\":%s,\"seconds\":%g,\"cases\":[", core,
		       pinned ? "true" : "false", seconds);
		for (size_t i = 0; i < ncases; i++)
			printf("%s{\"name\":\"%s\",\"bytes\":%zu,\"iterations\":%llu,"
			       "\"ns_per_msg\":%.1f,\"msgs_per_s\":%.0f}",
			       i ? "," : "", cases[i].name, cases[i].mb->len,
			       (unsigned long long)cases[i].iters, cases[i].ns_per_msg,
			       1e9 / cases[i].ns_per_msg);
		printf("]}\n");
	} else {
		printf("bench_parse: CPU %d%s, %g s per case\n", core,
		       pinned ? "" : " (not pinned)", seconds);
		printf("%-26s %6s %10s %12s\n", "case", "bytes", "ns/msg", "msgs/s");
		for (size_t i = 0; i < ncases; i++)
			printf("%-26s %6zu %10.1f %12.0f\n", cases[i].name, cases[i].mb->len,
			       cases[i].ns_per_msg, 1e9 / cases[i].ns_per_msg);
	}
	return 0;
}
