/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of lib/media: port slices, offer/answer over sessions (with
 * byte-exact rewritten bodies), forks, rtcp-mux, hold, the relay decision
 * (latching, strict sources, drops) and RTP statistics.
 *
 * Realms of the fixture:
 *   ACC    203.0.113.1  20000-20099  untrusted access, ICE stripped
 *   CORE   10.0.0.1     30000-30099  trusted core, latching
 *   STRICT 10.0.0.2     40000-40019  strict source checking
 *   TINY   10.0.0.3     50000-50003  two pairs, for exhaustion
 *   V6     2001:db8::1  60000-60099  an IPv6 core
 * One worker of one unless a test says otherwise, so allocation order is
 * predictable: pairs come FIFO from the start of the range.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "media.h"

enum { ACC = 0, CORE = 1, STRICT = 2, TINY = 3, V6 = 4, NREALMS = 5 };
#define A MEDIA_SIDE_A
#define B MEDIA_SIDE_B
#define OFFER MEDIA_OFFER
#define ANSWER MEDIA_ANSWER

static const struct media_realm_conf realms[NREALMS] = {
	[ACC] = { "203.0.113.1", 20000, 20099, MEDIA_RF_STRIP_ICE },
	[CORE] = { "10.0.0.1", 30000, 30099, 0 },
	[STRICT] = { "10.0.0.2", 40000, 40019, MEDIA_RF_STRICT },
	[TINY] = { "10.0.0.3", 50000, 50003, 0 },
	[V6] = { "2001:db8::1", 60000, 60099, 0 },
};

static struct media *mk(uint32_t sessions)
{
	struct media_conf c = { .worker = 0, .nworkers = 1, .max_sessions = sessions,
				.nrealms = NREALMS, .realms = realms };
	struct media *m = media_create(&c);

	assert_non_null(m);
	return m;
}

static uint32_t in_use(const struct media *m, unsigned realm)
{
	return media_ports_in_use(media_realm_ports(m, realm));
}

/* ---- SDP helpers ----------------------------------------------------------- *
 * A parsed body lives in one of a few rotating holders (struct sdp is ~7 KiB)
 * until the holder comes round again: enough for one exchange at a time. */

#define NHOLD 4
static struct holder {
	struct sdp s;
	char buf[4096];
} *hold_pool;
static unsigned hold_next;

static int setup(void **state)
{
	hold_pool = calloc(NHOLD, sizeof(*hold_pool));
	return hold_pool ? 0 : -1;
}

static int teardown(void **state)
{
	free(hold_pool);
	return 0;
}

static const struct sdp *P(const char *body)
{
	struct holder *h = &hold_pool[hold_next++ % NHOLD];
	size_t n = strlen(body);

	assert_true(n < sizeof(h->buf));
	memcpy(h->buf, body, n);
	enum sdp_err e = sdp_parse(&h->s, h->buf, n);
	if (e != SDP_E_OK || (e = sdp_check(&h->s)) != SDP_E_OK)
		fail_msg("SDP refused: %s", sdp_err_name(e));
	return &h->s;
}

static char out_buf[8192];

/* Apply body and return media_sdp's result; on success out_buf holds the
 * body as it leaves for the other side. */
static int X(struct media *m, struct media_session *s, enum media_side from,
	     enum media_sdp_kind kind, const char *body)
{
	struct sdp_rewrite rw;
	const struct sdp *sdp = P(body);
	int r = media_sdp(m, s, from, kind, sdp, 1000, &rw);

	out_buf[0] = 0;
	if (r < 0)
		return r;
	int n = sdp_rewrite(sdp, &rw, out_buf, sizeof(out_buf) - 1);
	if (n < 0)
		fail_msg("sdp_rewrite: %d", n);
	out_buf[n] = 0;
	return 0;
}

static void assert_body(const char *want)
{
	if (strcmp(out_buf, want) != 0)
		fail_msg("rewrite mismatch\n--- got\n%s\n--- want\n%s", out_buf, want);
}

/* Apply and compare byte for byte. */
static void XX(struct media *m, struct media_session *s, enum media_side from,
	       enum media_sdp_kind kind, const char *body, const char *want)
{
	int r = X(m, s, from, kind, body);

	if (r < 0)
		fail_msg("media_sdp: %d", r);
	if (want)
		assert_body(want);
}

/* ---- packet helpers -------------------------------------------------------- */

static union sbc_sockaddr AD(const char *ip, uint16_t port)
{
	union sbc_sockaddr a;

	assert_int_equal(sbc_addr_from(&a, ip, strlen(ip), port), 0);
	return a;
}

static void assert_addr(const union sbc_sockaddr *got, const char *ip, uint16_t port)
{
	union sbc_sockaddr w = AD(ip, port);

	if (!sbc_addr_eq(got, &w)) {
		char t[64] = "?";
		(void)sbc_addr_hostport(got, t, sizeof(t));
		fail_msg("address %s, want %s:%u", t, ip, port);
	}
}

static uint8_t pkt[256];

static size_t rtp(uint16_t seq, uint32_t ts, uint32_t ssrc, uint8_t pt)
{
	memset(pkt, 0, 172);
	pkt[0] = 0x80;
	pkt[1] = pt;
	pkt[2] = (uint8_t)(seq >> 8);
	pkt[3] = (uint8_t)seq;
	for (int i = 0; i < 4; i++) {
		pkt[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
		pkt[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
	}
	return 172; /* 20 ms of G.711 */
}

static size_t rtcp_sr(void)
{
	memset(pkt, 0, 28);
	pkt[0] = 0x80;
	pkt[1] = 200;
	pkt[3] = 6;
	return 28;
}

static struct media_fwd send_at(struct media *m, unsigned realm, uint16_t port, const char *ip,
				uint16_t sport, size_t len, uint64_t rx_us)
{
	union sbc_sockaddr src = AD(ip, sport);
	struct media_pkt p = { &src, pkt, (uint32_t)len, port, (uint16_t)realm, rx_us };
	struct media_fwd f;

	memset(&f, 0xa5, sizeof(f));
	unsigned n = media_relay(m, &p, &f, 1);
	assert_int_equal(n, f.drop == MEDIA_DROP_NONE);
	return f;
}

static struct media_fwd sendp(struct media *m, unsigned realm, uint16_t port, const char *ip,
			     uint16_t sport)
{
	return send_at(m, realm, port, ip, sport, rtp(1, 160, 0x1234, 0), 1000000);
}

static void assert_fwd(struct media_fwd f, unsigned realm, uint16_t port, const char *ip,
		       uint16_t dport)
{
	if (f.drop != MEDIA_DROP_NONE)
		fail_msg("dropped: %s", media_drop_name(f.drop));
	assert_int_equal(f.realm, realm);
	assert_int_equal(f.port, port);
	assert_addr(&f.dst, ip, dport);
}

static void assert_drop(struct media_fwd f, enum media_drop d)
{
	if (f.drop != d)
		fail_msg("verdict %s, want %s", media_drop_name(f.drop), media_drop_name(d));
}

/* ---- bodies ---------------------------------------------------------------- */

#define L(x) x "\r\n"

/* Caller behind NAT (private address in SDP). */
#define OFFER_A(port, codecs, extra)                                     \
	L("v=0") L("o=alice 100 100 IN IP4 192.168.1.10") L("s=-")     \
	L("c=IN IP4 192.168.1.10") L("t=0 0")                           \
	L("m=audio " port " RTP/AVP " codecs) L("a=rtpmap:0 PCMU/8000") \
	L("a=rtpmap:101 telephone-event/8000") extra

#define ANSWER_B(ip, port, extra)                                        \
	L("v=0") L("o=core 200 200 IN IP4 " ip) L("s=-")               \
	L("c=IN IP4 " ip) L("t=0 0") L("m=audio " port " RTP/AVP 0 101") \
	L("a=rtpmap:0 PCMU/8000") L("a=rtpmap:101 telephone-event/8000") extra

static const char offer_a[] = OFFER_A("4000", "0 101", L("a=sendrecv"));
static const char offer_a_to_core[] =
	L("v=0") L("o=alice 100 100 IN IP4 10.0.0.1") L("s=-") L("c=IN IP4 10.0.0.1") L("t=0 0")
	L("m=audio 30000 RTP/AVP 0 101") L("a=rtpmap:0 PCMU/8000")
	L("a=rtpmap:101 telephone-event/8000") L("a=sendrecv");
static const char answer_b[] = ANSWER_B("10.1.1.20", "6000", "");
static const char answer_b_to_acc[] =
	L("v=0") L("o=core 200 200 IN IP4 203.0.113.1") L("s=-") L("c=IN IP4 203.0.113.1")
	L("t=0 0") L("m=audio 20000 RTP/AVP 0 101") L("a=rtpmap:0 PCMU/8000")
	L("a=rtpmap:101 telephone-event/8000");

/* A confirmed ACC -> CORE call: INVITE/200/ACK. */
static struct media_session *call(struct media *m)
{
	struct media_session *s = media_session_new(m, ACC, CORE, 1000);

	assert_non_null(s);
	XX(m, s, A, OFFER, offer_a, offer_a_to_core);
	XX(m, s, B, ANSWER, answer_b, answer_b_to_acc);
	media_session_confirm(m, s);
	return s;
}

/* ============================================================================
 * Port slices
 * ========================================================================== */

static void test_port_owner_math(void **state)
{
	for (uint32_t n = 1; n <= 7; n++) {
		struct media_ports *p[7];
		for (uint32_t w = 0; w < n; w++)
			assert_non_null(p[w] = media_ports_create(10000, 10999, w, n));
		uint32_t total = 0;
		for (uint32_t port = 10000; port <= 10999; port++) {
			uint32_t owner = media_port_owner((uint16_t)port, 10000, n), hits = 0;
			assert_true(owner < n);
			for (uint32_t w = 0; w < n; w++)
				hits += media_ports_slot(p[w], (uint16_t)port) >= 0;
			assert_int_equal(hits, 1);
			assert_true(media_ports_slot(p[owner], (uint16_t)port) >= 0);
			/* RTP and RTCP of a pair have the same owner */
			if (port & 1)
				assert_int_equal(owner,
						 media_port_owner((uint16_t)(port - 1), 10000, n));
		}
		for (uint32_t w = 0; w < n; w++) {
			total += media_ports_capacity(p[w]);
			/* everything a worker allocates is its own */
			int port;
			while ((port = media_ports_alloc_one(p[w])) >= 0)
				assert_int_equal(media_port_owner((uint16_t)port, 10000, n), w);
			media_ports_destroy(p[w]);
		}
		assert_int_equal(total, 1000);
	}
}

/* The slot math divides by multiply-shift: check it against plain
 * division for every worker count and every port of the widest range. */
static void test_port_slot_division(void **state)
{
	static const uint32_t ns[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 16, 24, 31, 48, 64,
				       96, 127, 128, 200, 255, 256 };
	for (unsigned t = 0; t < sizeof(ns) / sizeof(ns[0]); t++) {
		uint32_t n = ns[t], w = n / 2;
		struct media_ports *p = media_ports_create(0, 65535, w, n);
		assert_non_null(p);
		for (uint32_t port = 0; port <= 65535; port++) {
			uint32_t pair = port / 2;
			int32_t want = pair % n == w ? (int32_t)(2 * (pair / n) + (port & 1)) : -1;
			if (media_ports_slot(p, (uint16_t)port) != want)
				fail_msg("n=%u port=%u: slot %d, want %d", n, port,
					 media_ports_slot(p, (uint16_t)port), want);
		}
		media_ports_destroy(p);
	}
}

static void test_ports_range_edges(void **state)
{
	/* 11 ports: 5 pairs, the odd last port 10010 has no partner */
	struct media_ports *p = media_ports_create(10000, 10010, 0, 1);
	assert_non_null(p);
	assert_int_equal(media_ports_capacity(p), 10);
	assert_int_equal(media_ports_slot(p, 10010), -1);
	assert_int_equal(media_ports_slot(p, 9999), -1);
	media_ports_destroy(p);
	/* more workers than pairs: worker 3 of 4 has nothing */
	p = media_ports_create(10000, 10005, 3, 4);
	assert_non_null(p);
	assert_int_equal(media_ports_capacity(p), 0);
	assert_int_equal(media_ports_alloc_pair(p), -ENOSPC);
	assert_int_equal(media_ports_alloc_one(p), -ENOSPC);
	media_ports_destroy(p);
	/* bad arguments */
	assert_null(media_ports_create(10001, 10010, 0, 1));
	assert_null(media_ports_create(10000, 10000, 0, 1));
	assert_null(media_ports_create(10000, 10010, 1, 1));
	assert_null(media_ports_create(10000, 10010, 0, 0));
	media_ports_destroy(NULL);
}

static void test_ports_exhaustion_fifo(void **state)
{
	struct media_ports *p = media_ports_create(10000, 10009, 0, 1);
	int got[5];

	for (int i = 0; i < 5; i++) {
		got[i] = media_ports_alloc_pair(p);
		assert_int_equal(got[i], 10000 + 2 * i);
	}
	assert_int_equal(media_ports_in_use(p), 10);
	assert_int_equal(media_ports_alloc_pair(p), -ENOSPC);
	assert_int_equal(media_ports_alloc_one(p), -ENOSPC);
	/* a freed pair rests at the back of the queue */
	media_ports_free(p, 10002);
	media_ports_free(p, 10003);
	media_ports_free(p, 10006);
	media_ports_free(p, 10007);
	assert_int_equal(media_ports_alloc_pair(p), 10002);
	assert_int_equal(media_ports_alloc_pair(p), 10006);
	assert_int_equal(media_ports_alloc_pair(p), -ENOSPC);
	for (int i = 0; i < 5; i++) {
		media_ports_free(p, (uint16_t)got[i]);
		media_ports_free(p, (uint16_t)(got[i] + 1));
	}
	assert_int_equal(media_ports_in_use(p), 0);
	assert_int_equal(media_ports_bad_frees(p), 0);
	media_ports_destroy(p);
}

static void test_ports_split_merge(void **state)
{
	struct media_ports *p = media_ports_create(10000, 10003, 0, 1); /* 2 pairs */

	/* singles split a pair and use both halves before the next pair */
	assert_int_equal(media_ports_alloc_one(p), 10000);
	assert_int_equal(media_ports_alloc_one(p), 10001);
	assert_int_equal(media_ports_alloc_one(p), 10002);
	assert_int_equal(media_ports_alloc_pair(p), -ENOSPC); /* 10003 alone */
	assert_int_equal(media_ports_in_use(p), 3);
	/* freeing one half of a used pair: a free half, not a pair */
	media_ports_free(p, 10000);
	assert_int_equal(media_ports_alloc_pair(p), -ENOSPC);
	/* its partner too: the pair is whole again */
	media_ports_free(p, 10001);
	assert_int_equal(media_ports_alloc_pair(p), 10000);
	/* the half list is FIFO: 10003 was freed first */
	assert_int_equal(media_ports_alloc_one(p), 10003);
	assert_int_equal(media_ports_alloc_one(p), -ENOSPC);
	/* the RTCP half of a pair released alone (rtcp-mux) */
	media_ports_free(p, 10001);
	assert_int_equal(media_ports_alloc_one(p), 10001);
	/* bad frees are counted, never corrupt */
	media_ports_free(p, 12000);
	media_ports_free(p, 9998);
	media_ports_free(p, 10000);
	media_ports_free(p, 10000);
	assert_int_equal(media_ports_bad_frees(p), 3);
	media_ports_destroy(p);
}

/* xorshift: deterministic churn */
static uint32_t rnd_state = 2463534242u;
static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

static void test_ports_churn(void **state)
{
	/* worker 1 of 3 over 600 ports: 100 pairs */
	struct media_ports *p = media_ports_create(10000, 10599, 1, 3);
	static int held[400];
	unsigned nheld = 0;

	assert_int_equal(media_ports_capacity(p), 200);
	for (int round = 0; round < 100000; round++) {
		uint32_t r = rnd();
		if ((r & 1) && nheld) {
			unsigned i = (r >> 8) % nheld;
			media_ports_free(p, (uint16_t)held[i]);
			held[i] = held[--nheld];
		} else if (r & 2) {
			int port = media_ports_alloc_pair(p);
			if (port >= 0) {
				assert_int_equal(port & 1, 0);
				assert_int_equal(media_port_owner((uint16_t)port, 10000, 3), 1);
				held[nheld++] = port;
				held[nheld++] = port + 1;
			}
		} else {
			int port = media_ports_alloc_one(p);
			if (port >= 0)
				held[nheld++] = port;
		}
		assert_int_equal(media_ports_in_use(p), nheld);
	}
	while (nheld)
		media_ports_free(p, (uint16_t)held[--nheld]);
	assert_int_equal(media_ports_in_use(p), 0);
	assert_int_equal(media_ports_bad_frees(p), 0);
	/* every pair merged back: all 100 can be taken whole */
	for (int i = 0; i < 100; i++)
		assert_true(media_ports_alloc_pair(p) >= 0);
	assert_int_equal(media_ports_alloc_pair(p), -ENOSPC);
	media_ports_destroy(p);
}

static void test_create_bad_conf(void **state)
{
	struct media_realm_conf bad[1] = { { "not-an-ip", 20000, 20099, 0 } };
	struct media_conf c = { .worker = 0, .nworkers = 1, .max_sessions = 4, .nrealms = 1,
				.realms = bad };
	assert_null(media_create(&c));
	bad[0] = (struct media_realm_conf){ "10.0.0.1", 20001, 20099, 0 };
	assert_null(media_create(&c));
	c.realms = realms;
	c.nworkers = 2;
	c.worker = 2;
	assert_null(media_create(&c));
	c.worker = 1;
	c.max_sessions = 0;
	assert_null(media_create(&c));
	assert_null(media_create(NULL));
	media_destroy(NULL);
	/* a realm without media: sessions on it are refused */
	struct media_realm_conf nomedia[2] = { { "10.0.0.1", 20000, 20099, 0 }, { NULL, 0, 0, 0 } };
	c = (struct media_conf){ .worker = 0, .nworkers = 1, .max_sessions = 4, .nrealms = 2,
				 .realms = nomedia };
	struct media *m = media_create(&c);
	assert_non_null(m);
	assert_null(media_realm_ports(m, 1));
	assert_null(media_session_new(m, 0, 1, 0));
	assert_null(media_session_new(m, 0, 7, 0));
	media_destroy(m);
}

/* ============================================================================
 * Offer / answer
 * ========================================================================== */

static void test_invite_200_ack(void **state)
{
	struct media *m = mk(8);
	struct media_session *s = call(m);

	assert_int_equal(in_use(m, ACC), 2);
	assert_int_equal(in_use(m, CORE), 2);
	assert_int_equal(media_sessions_in_use(m), 1);
	assert_int_equal(media_streams_in_use(m), 1);
	assert_ptr_equal(media_session_at(m, media_session_idx(m, s)), s);
	assert_false(media_sdp_pending(s));
	/* the 2xx retransmitted: the same answer, the same rewrite */
	XX(m, s, B, ANSWER, answer_b, answer_b_to_acc);
	media_session_free(m, s);
	assert_int_equal(in_use(m, ACC), 0);
	assert_int_equal(in_use(m, CORE), 0);
	assert_int_equal(media_sessions_in_use(m), 0);
	assert_int_equal(media_streams_in_use(m), 0);
	assert_null(media_session_at(m, 0));
	assert_null(media_session_at(m, 12345));
	media_session_free(m, NULL);
	media_destroy(m);
}

static void test_early_media_183_then_200(void **state)
{
	struct media *m = mk(8);
	struct media_session *s = media_session_new(m, ACC, CORE, 1000);

	XX(m, s, A, OFFER, offer_a, offer_a_to_core);
	assert_true(media_sdp_pending(s));
	/* early media may come before the 183 (RFC 3264 lets the answerer
	 * send once it has the offer): the caller's address is known, and the
	 * callee's source is latched */
	assert_fwd(sendp(m, CORE, 30000, "10.1.1.20", 6000), ACC, 20000, "192.168.1.10", 4000);
	/* so the caller's media has somewhere to go before any answer too */
	assert_fwd(sendp(m, ACC, 20000, "192.168.1.10", 4000), CORE, 30000, "10.1.1.20", 6000);
	XX(m, s, B, ANSWER, answer_b, answer_b_to_acc); /* 183 */
	assert_false(media_sdp_pending(s));
	XX(m, s, B, ANSWER, answer_b, answer_b_to_acc); /* 200 repeats it */
	media_session_confirm(m, s);
	assert_int_equal(in_use(m, ACC), 2);
	assert_int_equal(in_use(m, CORE), 2);
	/* the answer from the offerer's side is not an answer */
	assert_int_equal(X(m, s, A, ANSWER, offer_a), -EPROTO);
	media_session_free(m, s);
	media_destroy(m);
}

static void test_no_dest_until_known(void **state)
{
	struct media *m = mk(8);
	struct media_session *s = media_session_new(m, ACC, CORE, 1000);

	XX(m, s, A, OFFER, offer_a, NULL);
	/* nobody on the callee side has spoken or answered yet */
	assert_drop(sendp(m, ACC, 20000, "192.168.1.10", 4000), MEDIA_DROP_NO_DEST);
	assert_int_equal(media_counters(m)->drop[MEDIA_DROP_NO_DEST], 1);
	XX(m, s, B, ANSWER, answer_b, NULL);
	assert_fwd(sendp(m, ACC, 20000, "192.168.1.10", 4000), CORE, 30000, "10.1.1.20", 6000);
	media_session_free(m, s);
	media_destroy(m);
}

static void test_prack_update_reoffer(void **state)
{
	struct media *m = mk(8);
	struct media_session *s = media_session_new(m, ACC, CORE, 1000);

	XX(m, s, A, OFFER, offer_a, offer_a_to_core); /* INVITE */
	XX(m, s, B, ANSWER, answer_b, answer_b_to_acc); /* 183 with 100rel */
	/* UPDATE from the caller in the early dialog: new codec, same ports */
	XX(m, s, A, OFFER,
	   L("v=0") L("o=alice 100 101 IN IP4 192.168.1.10") L("s=-") L("c=IN IP4 192.168.1.10")
	   L("t=0 0") L("m=audio 4000 RTP/AVP 8") L("a=rtpmap:8 PCMA/8000"),
	   L("v=0") L("o=alice 100 101 IN IP4 10.0.0.1") L("s=-") L("c=IN IP4 10.0.0.1")
	   L("t=0 0") L("m=audio 30000 RTP/AVP 8") L("a=rtpmap:8 PCMA/8000"));
	assert_int_equal(in_use(m, ACC), 2);
	assert_int_equal(in_use(m, CORE), 2);
	XX(m, s, B, ANSWER,
	   L("v=0") L("o=core 200 201 IN IP4 10.1.1.20") L("s=-") L("c=IN IP4 10.1.1.20")
	   L("t=0 0") L("m=audio 6000 RTP/AVP 8"),
	   L("v=0") L("o=core 200 201 IN IP4 203.0.113.1") L("s=-") L("c=IN IP4 203.0.113.1")
	   L("t=0 0") L("m=audio 20000 RTP/AVP 8"));
	/* an UPDATE offer from the callee (PRACK/UPDATE work both ways) */
	XX(m, s, B, OFFER, ANSWER_B("10.1.1.20", "6000", ""), answer_b_to_acc);
	XX(m, s, A, ANSWER, offer_a, offer_a_to_core);
	media_session_confirm(m, s);
	assert_int_equal(in_use(m, ACC), 2);
	assert_int_equal(in_use(m, CORE), 2);
	media_session_free(m, s);
	media_destroy(m);
}

static void test_reinvite_codec_change_keeps_ports(void **state)
{
	struct media *m = mk(8);
	struct media_session *s = call(m);

	/* re-INVITE from the callee side switching to G.729 */
	XX(m, s, B, OFFER,
	   L("v=0") L("o=core 200 201 IN IP4 10.1.1.20") L("s=-") L("c=IN IP4 10.1.1.20")
	   L("t=0 0") L("m=audio 6000 RTP/AVP 18") L("a=rtpmap:18 G729/8000")
	   L("a=fmtp:18 annexb=no"),
	   L("v=0") L("o=core 200 201 IN IP4 203.0.113.1") L("s=-") L("c=IN IP4 203.0.113.1")
	   L("t=0 0") L("m=audio 20000 RTP/AVP 18") L("a=rtpmap:18 G729/8000")
	   L("a=fmtp:18 annexb=no"));
	XX(m, s, A, ANSWER,
	   OFFER_A("4000", "18", L("a=rtpmap:18 G729/8000")),
	   L("v=0") L("o=alice 100 100 IN IP4 10.0.0.1") L("s=-") L("c=IN IP4 10.0.0.1")
	   L("t=0 0") L("m=audio 30000 RTP/AVP 18") L("a=rtpmap:0 PCMU/8000")
	   L("a=rtpmap:101 telephone-event/8000") L("a=rtpmap:18 G729/8000"));
	assert_int_equal(in_use(m, ACC), 2);
	assert_int_equal(in_use(m, CORE), 2);
	assert_int_equal(media_streams_in_use(m), 1);
	media_session_free(m, s);
	media_destroy(m);
}

static void test_late_offer(void **state)
{
	struct media *m = mk(8);
	struct media_session *s = media_session_new(m, ACC, CORE, 1000);

	/* INVITE without SDP: an answer now is a protocol error */
	assert_int_equal(X(m, s, B, ANSWER, answer_b), -EPROTO);
	/* the offer comes in the 200 from the callee, the answer in the ACK */
	XX(m, s, B, OFFER, answer_b, answer_b_to_acc);
	XX(m, s, A, ANSWER, offer_a, offer_a_to_core);
	assert_fwd(sendp(m, CORE, 30000, "10.1.1.20", 6000), ACC, 20000, "192.168.1.10", 4000);
	media_session_free(m, s);
	media_destroy(m);
}

static void test_glare_and_bad_answers(void **state)
{
	struct media *m = mk(8);
	struct media_session *s = call(m);

	XX(m, s, A, OFFER, offer_a, NULL);
	/* the other side's offer while ours is pending: 491 */
	assert_int_equal(X(m, s, B, OFFER, answer_b), -EBUSY);
	/* the same side repeating its offer (failover to another hop) is fine */
	XX(m, s, A, OFFER, offer_a, offer_a_to_core);
	/* an answer with a different number of m= lines */
	assert_int_equal(X(m, s, B, ANSWER,
			   ANSWER_B("10.1.1.20", "6000", L("m=video 6002 RTP/AVP 96"))),
			 -EPROTO);
	assert_true(media_sdp_pending(s));
	XX(m, s, B, ANSWER, answer_b, answer_b_to_acc);
	assert_int_equal(media_counters(m)->sdp_errors, 2);
	/* bad arguments */
	struct sdp_rewrite rw;
	assert_int_equal(media_sdp(m, s, (enum media_side)2, OFFER, P(offer_a), 0, &rw), -EINVAL);
	assert_int_equal(media_sdp(m, s, A, (enum media_sdp_kind)7, P(offer_a), 0, &rw), -EINVAL);
	assert_int_equal(media_sdp(m, s, A, OFFER, NULL, 0, &rw), -EINVAL);
	media_session_free(m, s);
	media_destroy(m);
}

#define AV_OFFER                                                               \
	L("v=0") L("o=- 1 1 IN IP4 198.51.100.1") L("s=call") L("t=0 0")     \
	L("m=audio 5004 RTP/AVP 0") L("c=IN IP4 198.51.100.2")                \
	L("a=rtcp:5005 IN IP4 198.51.100.2") L("m=video 5006 RTP/AVP 96")     \
	L("i=camera") L("c=IN IP4 198.51.100.3") L("b=AS:512")                \
	L("a=rtpmap:96 H264/90000")

static void test_audio_video(void **state)
{
	struct media *m = mk(8);
	struct media_session *s = media_session_new(m, ACC, CORE, 1000);

	XX(m, s, A, OFFER, AV_OFFER,
	   L("v=0") L("o=- 1 1 IN IP4 10.0.0.1") L("s=call") L("t=0 0")
	   L("m=audio 30000 RTP/AVP 0") L("c=IN IP4 10.0.0.1") L("a=rtcp:30001 IN IP4 10.0.0.1")
	   L("m=video 30002 RTP/AVP 96") L("i=camera") L("c=IN IP4 10.0.0.1") L("b=AS:512")
	   L("a=rtpmap:96 H264/90000"));
	assert_int_equal(in_use(m, ACC), 4);
	assert_int_equal(in_use(m, CORE), 4);
	XX(m, s, B, ANSWER,
	   L("v=0") L("o=- 2 2 IN IP4 10.1.1.20") L("s=-") L("c=IN IP4 10.1.1.20") L("t=0 0")
	   L("m=audio 6000 RTP/AVP 0") L("m=video 6002 RTP/AVP 96"),
	   L("v=0") L("o=- 2 2 IN IP4 203.0.113.1") L("s=-") L("c=IN IP4 203.0.113.1") L("t=0 0")
	   L("m=audio 20000 RTP/AVP 0") L("m=video 20002 RTP/AVP 96"));
	media_session_confirm(m, s);
	/* each stream relays on its own pair; RTCP of audio to its a=rtcp */
	assert_fwd(send_at(m, CORE, 30002, "10.1.1.20", 6002, rtp(1, 0, 5, 96), 1000), ACC, 20002,
		   "198.51.100.3", 5006);
	assert_fwd(send_at(m, CORE, 30001, "10.1.1.20", 6001, rtcp_sr(), 1000), ACC, 20001,
		   "198.51.100.2", 5005);
	struct media_stats st;
	media_session_stats(m, s, &st);
	assert_int_equal(st.nstreams, 2);
	assert_int_equal(st.stream[1].leg[B].clock, 90000);
	assert_int_equal(st.stream[0].leg[B].rtcp_packets, 1);
	assert_int_equal(st.stream[1].leg[A].local_rtp_port, 20002);
	media_session_free(m, s);
	assert_int_equal(in_use(m, ACC), 0);
	assert_int_equal(in_use(m, CORE), 0);
	media_destroy(m);
}

static void test_remove_and_readd_stream(void **state)
{
	struct media *m = mk(8);
	struct media_session *s = media_session_new(m, ACC, CORE, 1000);

	XX(m, s, A, OFFER, AV_OFFER, NULL);
	XX(m, s, B, ANSWER,
	   L("v=0") L("o=- 2 2 IN IP4 10.1.1.20") L("s=-") L("c=IN IP4 10.1.1.20") L("t=0 0")
	   L("m=audio 6000 RTP/AVP 0") L("m=video 6002 RTP/AVP 96"), NULL);
	media_session_confirm(m, s);
	/* the caller drops video with port 0: its c= still hidden */
	XX(m, s, A, OFFER,
	   L("v=0") L("o=- 1 2 IN IP4 198.51.100.1") L("s=call") L("t=0 0")
	   L("m=audio 5004 RTP/AVP 0") L("c=IN IP4 198.51.100.2")
	   L("m=video 0 RTP/AVP 96") L("c=IN IP4 198.51.100.3"),
	   L("v=0") L("o=- 1 2 IN IP4 10.0.0.1") L("s=call") L("t=0 0")
	   L("m=audio 30000 RTP/AVP 0") L("c=IN IP4 10.0.0.1")
	   L("m=video 0 RTP/AVP 96") L("c=IN IP4 10.0.0.1"));
	/* video relays until the answer settles it */
	assert_int_equal(in_use(m, CORE), 4);
	assert_fwd(sendp(m, CORE, 30002, "10.1.1.20", 6002), ACC, 20002, "198.51.100.3", 5006);
	XX(m, s, B, ANSWER,
	   L("v=0") L("o=- 2 3 IN IP4 10.1.1.20") L("s=-") L("c=IN IP4 10.1.1.20") L("t=0 0")
	   L("m=audio 6000 RTP/AVP 0") L("m=video 0 RTP/AVP 96"),
	   L("v=0") L("o=- 2 3 IN IP4 203.0.113.1") L("s=-") L("c=IN IP4 203.0.113.1") L("t=0 0")
	   L("m=audio 20000 RTP/AVP 0") L("m=video 0 RTP/AVP 96"));
	assert_int_equal(in_use(m, ACC), 2);
	assert_int_equal(in_use(m, CORE), 2);
	assert_drop(sendp(m, CORE, 30002, "10.1.1.20", 6002), MEDIA_DROP_UNKNOWN_PORT);
	/* video back in the same slot: new ports, and not the ones just freed */
	XX(m, s, A, OFFER, AV_OFFER,
	   L("v=0") L("o=- 1 1 IN IP4 10.0.0.1") L("s=call") L("t=0 0")
	   L("m=audio 30000 RTP/AVP 0") L("c=IN IP4 10.0.0.1") L("a=rtcp:30001 IN IP4 10.0.0.1")
	   L("m=video 30004 RTP/AVP 96") L("i=camera") L("c=IN IP4 10.0.0.1") L("b=AS:512")
	   L("a=rtpmap:96 H264/90000"));
	assert_int_equal(in_use(m, CORE), 4);
	media_session_free(m, s);
	assert_int_equal(in_use(m, ACC), 0);
	assert_int_equal(in_use(m, CORE), 0);
	media_destroy(m);
}

static void test_reject_rolls_back(void **state)
{
	struct media *m = mk(8);
	struct media_session *s = call(m);

	/* the caller's real address: latch it */
	assert_fwd(sendp(m, ACC, 20000, "192.168.1.10", 4000), CORE, 30000, "10.1.1.20", 6000);
	/* re-INVITE moving the caller and adding video ... */
	XX(m, s, A, OFFER,
	   L("v=0") L("o=alice 100 101 IN IP4 192.168.1.99") L("s=-") L("c=IN IP4 192.168.1.99")
	   L("t=0 0") L("m=audio 4100 RTP/AVP 0") L("m=video 4102 RTP/AVP 96"), NULL);
	assert_int_equal(in_use(m, ACC), 4);
	assert_fwd(sendp(m, CORE, 30000, "10.1.1.20", 6000), ACC, 20000, "192.168.1.99", 4100);
	/* ... refused with 488: all as before */
	media_sdp_reject(m, s);
	assert_false(media_sdp_pending(s));
	assert_int_equal(in_use(m, ACC), 2);
	assert_int_equal(in_use(m, CORE), 2);
	assert_int_equal(media_streams_in_use(m), 1);
	assert_fwd(sendp(m, CORE, 30000, "10.1.1.20", 6000), ACC, 20000, "192.168.1.10", 4000);
	media_sdp_reject(m, s); /* nothing pending: no-op */
	/* the retransmitted answer still applies to the old offer */
	XX(m, s, B, ANSWER, answer_b, answer_b_to_acc);
	media_session_free(m, s);
	media_destroy(m);
}

static void test_exhaustion_503(void **state)
{
	struct media *m = mk(8);
	/* TINY has two pairs; a hairpin call takes both */
	struct media_session *s1 = media_session_new(m, TINY, TINY, 0);
	struct media_session *s2 = media_session_new(m, TINY, TINY, 0);

	XX(m, s1, A, OFFER, offer_a, NULL);
	assert_int_equal(in_use(m, TINY), 4);
	assert_int_equal(X(m, s2, A, OFFER, offer_a), -ENOSPC);
	assert_false(media_sdp_pending(s2));
	assert_int_equal(media_streams_in_use(m), 1);
	/* a two-stream offer that cannot fit takes nothing at all */
	media_session_free(m, s1);
	assert_int_equal(X(m, s2, A, OFFER,
			   OFFER_A("4000", "0",
				   L("m=video 4002 RTP/AVP 96") L("m=video 4004 RTP/AVP 96"))),
			 -ENOSPC);
	assert_int_equal(in_use(m, TINY), 0);
	assert_int_equal(media_streams_in_use(m), 0);
	/* and recovers once ports are back */
	XX(m, s2, A, OFFER, offer_a, NULL);
	assert_int_equal(in_use(m, TINY), 4);
	assert_true(media_counters(m)->no_ports >= 2);
	media_session_free(m, s2);
	assert_int_equal(in_use(m, TINY), 0);
	/* the session pool: 8 sessions, the 9th refused */
	struct media_session *ss[8];
	for (int i = 0; i < 8; i++)
		assert_non_null(ss[i] = media_session_new(m, ACC, CORE, 0));
	assert_null(media_session_new(m, ACC, CORE, 0));
	assert_int_equal(media_counters(m)->no_sessions, 1);
	for (int i = 0; i < 8; i++)
		media_session_free(m, ss[i]);
	media_destroy(m);
}

static void test_stream_pool_exhaustion(void **state)
{
	struct media_conf c = { .worker = 0, .nworkers = 1, .max_sessions = 4, .max_streams = 1,
				.nrealms = NREALMS, .realms = realms };
	struct media *m = media_create(&c);
	struct media_session *s = media_session_new(m, ACC, CORE, 0);

	assert_int_equal(X(m, s, A, OFFER, AV_OFFER), -ENOSPC);
	assert_int_equal(in_use(m, ACC), 0);
	assert_int_equal(media_counters(m)->no_streams, 1);
	assert_int_equal(media_counters(m)->no_ports, 0);
	XX(m, s, A, OFFER, offer_a, NULL);
	media_session_free(m, s);
	media_destroy(m);
}

/* ---- hold ------------------------------------------------------------------ */

static void test_hold_resume(void **state)
{
	struct media *m = mk(8);
	struct media_session *s = call(m);

	assert_fwd(sendp(m, ACC, 20000, "198.51.100.7", 61000), CORE, 30000, "10.1.1.20", 6000);
	assert_false(media_session_on_hold(m, s));
	/* RFC 3264 hold: direction passes through, relay keeps going */
	XX(m, s, A, OFFER, OFFER_A("4000", "0 101", L("a=sendonly")),
	   L("v=0") L("o=alice 100 100 IN IP4 10.0.0.1") L("s=-") L("c=IN IP4 10.0.0.1")
	   L("t=0 0") L("m=audio 30000 RTP/AVP 0 101") L("a=rtpmap:0 PCMU/8000")
	   L("a=rtpmap:101 telephone-event/8000") L("a=sendonly"));
	XX(m, s, B, ANSWER, ANSWER_B("10.1.1.20", "6000", L("a=recvonly")), NULL);
	assert_true(media_session_on_hold(m, s));
	assert_fwd(sendp(m, CORE, 30000, "10.1.1.20", 6000), ACC, 20000, "198.51.100.7", 61000);
	/* RFC 2543 hold: 0.0.0.0 stays 0.0.0.0 on the other side */
	XX(m, s, A, OFFER,
	   L("v=0") L("o=alice 100 102 IN IP4 192.168.1.10") L("s=-") L("c=IN IP4 0.0.0.0")
	   L("t=0 0") L("m=audio 4000 RTP/AVP 0") L("a=inactive"),
	   L("v=0") L("o=alice 100 102 IN IP4 10.0.0.1") L("s=-") L("c=IN IP4 0.0.0.0")
	   L("t=0 0") L("m=audio 30000 RTP/AVP 0") L("a=inactive"));
	XX(m, s, B, ANSWER, ANSWER_B("10.1.1.20", "6000", L("a=inactive")), NULL);
	assert_drop(sendp(m, CORE, 30000, "10.1.1.20", 6000), MEDIA_DROP_HOLD);
	/* the held side may still send (RTCP does, on inactive streams) */
	assert_fwd(sendp(m, ACC, 20000, "198.51.100.7", 61000), CORE, 30000, "10.1.1.20", 6000);
	struct media_stats st;
	media_session_stats(m, s, &st);
	assert_true(st.stream[0].leg[A].hold);
	assert_true(st.stream[0].leg[A].latched);
	/* resume at the same address: the NAT latch survived the hold */
	XX(m, s, A, OFFER, offer_a, NULL);
	XX(m, s, B, ANSWER, answer_b, NULL);
	assert_false(media_session_on_hold(m, s));
	assert_fwd(sendp(m, CORE, 30000, "10.1.1.20", 6000), ACC, 20000, "198.51.100.7", 61000);
	assert_int_equal(in_use(m, ACC), 2);
	media_session_free(m, s);
	media_destroy(m);
}

/* ---- ICE and address attributes ------------------------------------------- */

static void test_ice_stripped_towards_access(void **state)
{
	struct media *m = mk(8);
	struct media_session *s = media_session_new(m, ACC, CORE, 1000);
	static const char ice[] =
		L("v=0") L("o=ua 1 1 IN IP4 10.1.1.20") L("s=-") L("c=IN IP4 10.1.1.20") L("t=0 0")
		L("a=ice-lite")
		L("m=audio 6000 RTP/AVP 0") L("a=ice-ufrag:F7gI")
		L("a=ice-pwd:x9cml/YzichV2+XlhiMu8g")
		L("a=candidate:1 1 UDP 2130706431 10.1.1.20 6000 typ host")
		L("a=rtcp:6001 IN IP4 10.1.1.20");

	/* the offer in the 200 goes to the access realm: ICE removed */
	XX(m, s, B, OFFER, ice,
	   L("v=0") L("o=ua 1 1 IN IP4 203.0.113.1") L("s=-") L("c=IN IP4 203.0.113.1") L("t=0 0")
	   L("m=audio 20000 RTP/AVP 0") L("a=rtcp:20001 IN IP4 203.0.113.1"));
	/* the answer in the ACK goes to the core: passes (policy is per realm) */
	XX(m, s, A, ANSWER,
	   L("v=0") L("o=a 1 1 IN IP4 192.168.1.10") L("s=-") L("c=IN IP4 192.168.1.10") L("t=0 0")
	   L("m=audio 4000 RTP/AVP 0") L("a=candidate:1 1 UDP 1 192.168.1.10 4000 typ host"),
	   L("v=0") L("o=a 1 1 IN IP4 10.0.0.1") L("s=-") L("c=IN IP4 10.0.0.1") L("t=0 0")
	   L("m=audio 30000 RTP/AVP 0") L("a=candidate:1 1 UDP 1 192.168.1.10 4000 typ host"));
	media_session_free(m, s);
	media_destroy(m);
}

static void test_media_level_hold_keeps_rtcp_private(void **state)
{
	struct media *m = mk(8);
	struct media_session *s = call(m);

	/* a held media with its own c=0.0.0.0 and an a=rtcp naming a private
	 * host: the address part goes (it would leak), the port is ours */
	XX(m, s, A, OFFER,
	   L("v=0") L("o=alice 100 101 IN IP4 192.168.1.10") L("s=-") L("c=IN IP4 192.168.1.10")
	   L("t=0 0") L("m=audio 4000 RTP/AVP 0") L("c=IN IP4 0.0.0.0")
	   L("a=rtcp:4001 IN IP4 192.168.1.10"),
	   L("v=0") L("o=alice 100 101 IN IP4 10.0.0.1") L("s=-") L("c=IN IP4 10.0.0.1")
	   L("t=0 0") L("m=audio 30000 RTP/AVP 0") L("c=IN IP4 0.0.0.0") L("a=rtcp:30001"));
	media_session_free(m, s);
	media_destroy(m);
}

static void test_ipv6_realm(void **state)
{
	struct media *m = mk(8);
	struct media_session *s = media_session_new(m, ACC, V6, 1000);

	/* an IPv4 caller towards an IPv6 core: addrtype follows the realm */
	XX(m, s, A, OFFER, offer_a,
	   L("v=0") L("o=alice 100 100 IN IP6 2001:db8::1") L("s=-") L("c=IN IP6 2001:db8::1")
	   L("t=0 0") L("m=audio 60000 RTP/AVP 0 101") L("a=rtpmap:0 PCMU/8000")
	   L("a=rtpmap:101 telephone-event/8000") L("a=sendrecv"));
	XX(m, s, B, ANSWER,
	   L("v=0") L("o=b 1 1 IN IP6 2001:db8::20") L("s=-") L("c=IN IP6 2001:db8::20")
	   L("t=0 0") L("m=audio 6000 RTP/AVP 0"),
	   L("v=0") L("o=b 1 1 IN IP4 203.0.113.1") L("s=-") L("c=IN IP4 203.0.113.1")
	   L("t=0 0") L("m=audio 20000 RTP/AVP 0"));
	assert_fwd(sendp(m, V6, 60000, "2001:db8::20", 6000), ACC, 20000, "192.168.1.10", 4000);
	assert_fwd(sendp(m, ACC, 20000, "192.168.1.10", 4000), V6, 60000, "2001:db8::20", 6000);
	assert_drop(sendp(m, V6, 60000, "2001:db8::21", 6000), MEDIA_DROP_SOURCE);
	media_session_free(m, s);
	media_destroy(m);
}

/* ---- rtcp-mux ---------------------------------------------------------------- */

static void test_rtcp_mux(void **state)
{
	struct media *m = mk(8);
	struct media_session *s = media_session_new(m, ACC, CORE, 1000);

	XX(m, s, A, OFFER, OFFER_A("4000", "0", L("a=rtcp-mux")), NULL);
	XX(m, s, B, ANSWER, ANSWER_B("10.1.1.20", "6000", L("a=rtcp-mux")), NULL);
	media_session_confirm(m, s);
	/* agreed, but a later answer may refuse it: the pair stays */
	assert_int_equal(in_use(m, ACC), 2);
	assert_int_equal(in_use(m, CORE), 2);
	/* RTCP on the RTP port, to the other side's RTP port */
	assert_fwd(send_at(m, CORE, 30000, "10.1.1.20", 6000, rtcp_sr(), 1000), ACC, 20000,
		   "192.168.1.10", 4000);
	/* and on the RTCP port too (a peer still sending there) */
	assert_fwd(send_at(m, CORE, 30001, "10.1.1.20", 6001, rtcp_sr(), 1000), ACC, 20000,
		   "192.168.1.10", 4000);
	struct media_stats st;
	media_session_stats(m, s, &st);
	assert_true(st.stream[0].rtcp_mux);
	assert_int_equal(st.stream[0].leg[B].rtcp_packets, 2);
	assert_int_equal(st.stream[0].leg[B].packets, 0);
	/* the next answer refuses mux: RTCP goes to the RTCP ports again */
	XX(m, s, A, OFFER, OFFER_A("4000", "0", L("a=rtcp-mux")), NULL);
	XX(m, s, B, ANSWER, answer_b, NULL);
	assert_fwd(send_at(m, CORE, 30001, "10.1.1.20", 6001, rtcp_sr(), 1000), ACC, 20001,
		   "192.168.1.10", 4001);

	/* a WebRTC-style offer that insists on mux gets single ports */
	struct media_session *s2 = media_session_new(m, ACC, CORE, 1000);
	XX(m, s2, A, OFFER, OFFER_A("4000", "0", L("a=rtcp-mux") L("a=rtcp-mux-only")),
	   L("v=0") L("o=alice 100 100 IN IP4 10.0.0.1") L("s=-") L("c=IN IP4 10.0.0.1")
	   L("t=0 0") L("m=audio 30002 RTP/AVP 0") L("a=rtpmap:0 PCMU/8000")
	   L("a=rtpmap:101 telephone-event/8000") L("a=rtcp-mux") L("a=rtcp-mux-only"));
	XX(m, s2, B, ANSWER, ANSWER_B("10.1.1.30", "6000", L("a=rtcp-mux")), NULL);
	assert_int_equal(in_use(m, ACC), 3);
	assert_int_equal(in_use(m, CORE), 3);
	/* the next one takes the other halves */
	struct media_session *s3 = media_session_new(m, ACC, CORE, 1000);
	XX(m, s3, A, OFFER, OFFER_A("4000", "0", L("a=rtcp-mux") L("a=rtcp-mux-only")), NULL);
	media_session_stats(m, s3, &st);
	assert_int_equal(st.stream[0].leg[A].local_rtp_port, 20003);
	assert_int_equal(st.stream[0].leg[B].local_rtp_port, 30003);
	assert_int_equal(st.stream[0].leg[B].local_rtcp_port, 0);
	/* s2 stops insisting: its legs need RTCP ports again, which are no
	 * longer RTP + 1, so a=rtcp announces them */
	XX(m, s2, A, OFFER, OFFER_A("4000", "0", L("a=rtcp-mux")),
	   L("v=0") L("o=alice 100 100 IN IP4 10.0.0.1") L("s=-") L("c=IN IP4 10.0.0.1")
	   L("t=0 0") L("m=audio 30002 RTP/AVP 0") L("a=rtpmap:0 PCMU/8000")
	   L("a=rtpmap:101 telephone-event/8000") L("a=rtcp-mux") L("a=rtcp:30004"));
	XX(m, s2, B, ANSWER, ANSWER_B("10.1.1.30", "6000", ""),
	   L("v=0") L("o=core 200 200 IN IP4 203.0.113.1") L("s=-") L("c=IN IP4 203.0.113.1")
	   L("t=0 0") L("m=audio 20002 RTP/AVP 0 101") L("a=rtpmap:0 PCMU/8000")
	   L("a=rtpmap:101 telephone-event/8000") L("a=rtcp:20004"));
	assert_fwd(send_at(m, CORE, 30004, "10.1.1.30", 6001, rtcp_sr(), 1000), ACC, 20004,
		   "192.168.1.10", 4001);
	/* and a rejected offer gives such a port back */
	assert_int_equal(in_use(m, ACC), 5);
	XX(m, s3, B, ANSWER, ANSWER_B("10.1.1.31", "6000", L("a=rtcp-mux")), NULL);
	XX(m, s3, A, OFFER, OFFER_A("4000", "0", ""), NULL);
	assert_int_equal(in_use(m, ACC), 6);
	media_sdp_reject(m, s3);
	assert_int_equal(in_use(m, ACC), 5);
	media_session_free(m, s);
	media_session_free(m, s2);
	media_session_free(m, s3);
	assert_int_equal(in_use(m, ACC), 0);
	assert_int_equal(in_use(m, CORE), 0);
	media_destroy(m);
}

static void test_rtcp_mux_refused_keeps_pairs(void **state)
{
	struct media *m = mk(8);
	struct media_session *s = media_session_new(m, ACC, CORE, 1000);

	XX(m, s, A, OFFER, OFFER_A("4000", "0", L("a=rtcp-mux")), NULL);
	XX(m, s, B, ANSWER, answer_b, NULL);
	media_session_confirm(m, s);
	assert_int_equal(in_use(m, ACC), 2);
	/* RTCP-looking bytes on the RTP port of a peer that did not offer mux
	 * are RTP (payload type 72 + marker), not RTCP */
	assert_fwd(send_at(m, CORE, 30000, "10.1.1.20", 6000, rtcp_sr(), 1000), ACC, 20000,
		   "192.168.1.10", 4000);
	struct media_stats st;
	media_session_stats(m, s, &st);
	assert_int_equal(st.stream[0].leg[B].packets, 1);
	media_session_free(m, s);
	media_destroy(m);
}

/* ---- forks ----------------------------------------------------------------- */

static void test_forked_early_media(void **state)
{
	struct media *m = mk(8);
	struct media_session *s = media_session_new(m, ACC, CORE, 1000);

	XX(m, s, A, OFFER, offer_a, offer_a_to_core);
	/* first early dialog: 183 from B1 */
	XX(m, s, B, ANSWER, ANSWER_B("10.1.1.21", "6000", ""), answer_b_to_acc);
	/* second early dialog: 183 from B2 -> its own session */
	struct media_session *f = media_session_fork(m, s, 1000);
	assert_non_null(f);
	assert_true(media_sdp_pending(f));
	XX(m, f, B, ANSWER, ANSWER_B("10.1.1.22", "7000", ""),
	   L("v=0") L("o=core 200 200 IN IP4 203.0.113.1") L("s=-") L("c=IN IP4 203.0.113.1")
	   L("t=0 0") L("m=audio 20002 RTP/AVP 0 101") L("a=rtpmap:0 PCMU/8000")
	   L("a=rtpmap:101 telephone-event/8000"));
	/* the callees share the offer's port; the caller has one per fork */
	assert_int_equal(in_use(m, ACC), 4);
	assert_int_equal(in_use(m, CORE), 2);
	assert_fwd(sendp(m, CORE, 30000, "10.1.1.21", 6000), ACC, 20000, "192.168.1.10", 4000);
	assert_fwd(sendp(m, CORE, 30000, "10.1.1.22", 7000), ACC, 20002, "192.168.1.10", 4000);
	assert_drop(sendp(m, CORE, 30000, "10.9.9.9", 7000), MEDIA_DROP_FORK_SOURCE);
	assert_fwd(sendp(m, ACC, 20000, "192.168.1.10", 4000), CORE, 30000, "10.1.1.21", 6000);
	assert_fwd(sendp(m, ACC, 20002, "192.168.1.10", 4000), CORE, 30000, "10.1.1.22", 7000);
	/* B2 answers 200: it wins the shared ports, B1 stops */
	XX(m, f, B, ANSWER, ANSWER_B("10.1.1.22", "7000", ""), NULL);
	media_session_confirm(m, f);
	assert_drop(sendp(m, ACC, 20000, "192.168.1.10", 4000), MEDIA_DROP_DISABLED);
	assert_drop(sendp(m, CORE, 30000, "10.1.1.21", 6000), MEDIA_DROP_SOURCE);
	assert_fwd(sendp(m, CORE, 30000, "10.1.1.22", 7000), ACC, 20002, "192.168.1.10", 4000);
	/* the losing dialog ends: its own ports go, the shared ones stay */
	media_session_free(m, s);
	assert_int_equal(in_use(m, ACC), 2);
	assert_int_equal(in_use(m, CORE), 2);
	assert_fwd(sendp(m, CORE, 30000, "10.1.1.22", 7000), ACC, 20002, "192.168.1.10", 4000);
	media_session_free(m, f);
	assert_int_equal(in_use(m, ACC), 0);
	assert_int_equal(in_use(m, CORE), 0);
	assert_int_equal(media_streams_in_use(m), 0);
	media_destroy(m);
}

static void test_fork_parent_dies_first(void **state)
{
	struct media *m = mk(16);
	struct media_session *s = media_session_new(m, ACC, CORE, 1000);

	XX(m, s, A, OFFER, AV_OFFER, NULL);
	/* B1 refuses video in its 183; B2 (a fork) takes it */
	XX(m, s, B, ANSWER,
	   L("v=0") L("o=- 2 2 IN IP4 10.1.1.21") L("s=-") L("c=IN IP4 10.1.1.21") L("t=0 0")
	   L("m=audio 6000 RTP/AVP 0") L("m=video 0 RTP/AVP 96"), NULL);
	struct media_session *f = media_session_fork(m, s, 1000);
	XX(m, f, B, ANSWER,
	   L("v=0") L("o=- 3 3 IN IP4 10.1.1.22") L("s=-") L("c=IN IP4 10.1.1.22") L("t=0 0")
	   L("m=audio 7000 RTP/AVP 0") L("m=video 7002 RTP/AVP 96"),
	   L("v=0") L("o=- 3 3 IN IP4 203.0.113.1") L("s=-") L("c=IN IP4 203.0.113.1") L("t=0 0")
	   L("m=audio 20004 RTP/AVP 0") L("m=video 20006 RTP/AVP 96"));
	assert_fwd(sendp(m, CORE, 30002, "10.1.1.22", 7002), ACC, 20006, "198.51.100.3", 5006);
	/* B1 gives up (486): the parent goes before the fork is confirmed */
	media_session_free(m, s);
	assert_int_equal(in_use(m, CORE), 4);
	assert_fwd(sendp(m, CORE, 30002, "10.1.1.22", 7002), ACC, 20006, "198.51.100.3", 5006);
	assert_fwd(sendp(m, CORE, 30000, "10.1.1.22", 7000), ACC, 20004, "198.51.100.2", 5004);
	media_session_confirm(m, f);
	media_session_free(m, f);
	assert_int_equal(in_use(m, ACC), 0);
	assert_int_equal(in_use(m, CORE), 0);

	/* fork limit */
	s = media_session_new(m, ACC, CORE, 1000);
	XX(m, s, A, OFFER, offer_a, NULL);
	struct media_session *fs[MEDIA_MAX_FORKS];
	for (unsigned i = 0; i + 1 < MEDIA_MAX_FORKS; i++)
		assert_non_null(fs[i] = media_session_fork(m, s, 0));
	assert_null(media_session_fork(m, s, 0));
	for (unsigned i = 0; i + 1 < MEDIA_MAX_FORKS; i++)
		media_session_free(m, fs[i]);
	media_session_free(m, s);
	/* no fork of a session that never saw an offer */
	s = media_session_new(m, ACC, CORE, 1000);
	assert_null(media_session_fork(m, s, 0));
	media_session_free(m, s);
	assert_int_equal(in_use(m, ACC), 0);
	assert_int_equal(in_use(m, CORE), 0);
	assert_int_equal(media_streams_in_use(m), 0);
	assert_int_equal(media_sessions_in_use(m), 0);
	media_destroy(m);
}

/* Forks whose parent changes shape (rtcp-mux-only dropped) while they
 * share its ports: nothing leaks, nothing is freed twice. */
static void test_fork_reshape_no_leak(void **state)
{
	static const char mux_only[] = OFFER_A("4000", "0", L("a=rtcp-mux") L("a=rtcp-mux-only"));
	static const char mux[] = OFFER_A("4000", "0", L("a=rtcp-mux"));
	static const char ans1[] = ANSWER_B("10.1.1.21", "6000", L("a=rtcp-mux"));
	static const char ans2[] = ANSWER_B("10.1.1.22", "7000", L("a=rtcp-mux"));
	struct media *m = mk(8);

	/* a re-offer in the parent's early dialog after the fork */
	struct media_session *s = media_session_new(m, ACC, CORE, 0);
	XX(m, s, A, OFFER, mux_only, NULL);
	XX(m, s, B, ANSWER, ans1, NULL);
	struct media_session *f = media_session_fork(m, s, 0);
	XX(m, f, B, ANSWER, ans2, NULL);
	assert_int_equal(in_use(m, CORE), 1);
	XX(m, s, A, OFFER, mux, NULL);
	XX(m, s, B, ANSWER, ans1, NULL);
	assert_int_equal(in_use(m, CORE), 1); /* the shared port keeps its shape */
	assert_int_equal(in_use(m, ACC), 3);
	media_session_free(m, s);
	assert_fwd(sendp(m, CORE, 30000, "10.1.1.22", 7000), ACC, 20001, "192.168.1.10", 4000);
	media_session_free(m, f);

	/* a fork made while the parent's reshaping offer is pending, which
	 * is then rejected: the RTCP port the fork copied stays with it */
	s = media_session_new(m, ACC, CORE, 0);
	XX(m, s, A, OFFER, mux_only, NULL);
	XX(m, s, B, ANSWER, ans1, NULL);
	XX(m, s, A, OFFER, mux, NULL);
	f = media_session_fork(m, s, 0);
	assert_non_null(f);
	media_sdp_reject(m, s);
	XX(m, f, B, ANSWER, ans2, NULL);
	media_session_free(m, s);
	media_session_free(m, f);
	for (unsigned k = 0; k < NREALMS; k++) {
		assert_int_equal(in_use(m, k), 0);
		assert_int_equal(media_ports_bad_frees(media_realm_ports(m, k)), 0);
	}
	media_destroy(m);
}

static void test_refused_stream_released_on_confirm(void **state)
{
	struct media *m = mk(8);
	struct media_session *s = media_session_new(m, ACC, CORE, 1000);

	XX(m, s, A, OFFER, AV_OFFER, NULL);
	XX(m, s, B, ANSWER,
	   L("v=0") L("o=- 2 2 IN IP4 10.1.1.21") L("s=-") L("c=IN IP4 10.1.1.21") L("t=0 0")
	   L("m=audio 6000 RTP/AVP 0") L("m=video 0 RTP/AVP 96"), NULL);
	/* early: a fork may still want video */
	assert_int_equal(in_use(m, CORE), 4);
	assert_drop(sendp(m, CORE, 30002, "10.1.1.21", 6002), MEDIA_DROP_DISABLED);
	media_session_confirm(m, s);
	assert_int_equal(in_use(m, CORE), 2);
	assert_int_equal(media_streams_in_use(m), 1);
	media_session_free(m, s);
	media_destroy(m);
}

/* ---- churn: nothing leaks --------------------------------------------------- */

static const char *const churn_bodies[] = {
	offer_a,
	answer_b,
	AV_OFFER,
	L("v=0") L("o=- 2 2 IN IP4 10.1.1.20") L("s=-") L("c=IN IP4 10.1.1.20") L("t=0 0")
	L("m=audio 6000 RTP/AVP 0") L("m=video 0 RTP/AVP 96"),
	L("v=0") L("o=- 2 2 IN IP4 10.1.1.21") L("s=-") L("c=IN IP4 10.1.1.21") L("t=0 0")
	L("m=audio 6000 RTP/AVP 0") L("m=video 6002 RTP/AVP 96"),
	OFFER_A("4000", "0", L("a=rtcp-mux") L("a=rtcp-mux-only")),
	OFFER_A("4000", "0", L("a=rtcp-mux")),
	L("v=0") L("o=a 1 2 IN IP4 192.168.1.10") L("s=-") L("c=IN IP4 0.0.0.0") L("t=0 0")
	L("m=audio 4000 RTP/AVP 0") L("a=inactive"),
	L("v=0") L("o=- 1 1 IN IP4 198.51.100.1") L("s=-") L("c=IN IP4 198.51.100.1") L("t=0 0")
	L("m=audio 0 RTP/AVP 0") L("m=video 5006 RTP/AVP 96") L("m=audio 5008 RTP/AVP 8"),
};

/* Random SIP-like sequences over many sessions (offers and answers from
 * either side, rejects, forks, confirms, frees) with random packets in
 * between: nothing may leak, crash or trip the sanitizers. */
static void test_session_churn(void **state)
{
	struct media *m = mk(32);
	struct media_session *live[32] = { 0 };
	static const char *const srcs[] = { "10.1.1.20", "10.1.1.21", "192.168.1.10",
					    "198.51.100.2" };
	unsigned nb = sizeof(churn_bodies) / sizeof(churn_bodies[0]);

	for (int round = 0; round < 40000; round++) {
		uint32_t r = rnd();
		unsigned i = r % 32;
		struct media_session *s = live[i];
		if (!s) {
			static const unsigned rb[] = { CORE, TINY, STRICT, V6 };
			live[i] = media_session_new(m, ACC, rb[(r >> 8) & 3], 0);
			continue;
		}
		const char *body = churn_bodies[(r >> 12) % nb];
		enum media_side side = (r >> 16) & 1 ? B : A;
		switch ((r >> 9) % 7) {
		case 0:
		case 1:
			(void)X(m, s, side, (r >> 17) & 1 ? ANSWER : OFFER, body);
			break;
		case 2:
			media_sdp_reject(m, s);
			break;
		case 3:
			media_session_confirm(m, s);
			break;
		case 4: {
			struct media_session *f = media_session_fork(m, s, 0);
			unsigned j = (r >> 18) % 32;
			if (f && !live[j])
				live[j] = f;
			else
				media_session_free(m, f);
			break;
		}
		case 5:
			(void)media_session_on_hold(m, s);
			(void)media_session_idle_ms(m, s, round);
			break;
		default:
			media_session_free(m, s);
			live[i] = NULL;
		}
		for (int k = 0; k < 4; k++) {
			uint32_t q = rnd();
			static const uint16_t base[] = { 20000, 30000, 40000, 50000, 60000 };
			unsigned realm = q % NREALMS;
			uint16_t port = (uint16_t)(base[realm] + ((q >> 4) & 15));
			uint8_t pt = (q >> 10) & 1 ? 0 : 200; /* 200: RTCP on a mux port */
			size_t len = (q >> 9) & 1 ? rtp((uint16_t)q, q, q >> 20, pt) : rtcp_sr();
			const char *ip = realm == V6 ? "2001:db8::20" : srcs[(q >> 12) & 3];
			uint16_t sport = (uint16_t)(6000 + ((q >> 14) & 1));
			(void)send_at(m, realm, port, ip, sport, len, (uint64_t)round * 1000);
		}
	}
	for (int i = 0; i < 32; i++)
		media_session_free(m, live[i]);
	for (unsigned k = 0; k < NREALMS; k++) {
		assert_int_equal(in_use(m, k), 0);
		assert_int_equal(media_ports_bad_frees(media_realm_ports(m, k)), 0);
	}
	assert_int_equal(media_streams_in_use(m), 0);
	assert_int_equal(media_sessions_in_use(m), 0);
	media_destroy(m);
}

/* ============================================================================
 * Relay decisions
 * ========================================================================== */

static void test_latching_behind_nat(void **state)
{
	struct media *m = mk(8);
	struct media_session *s = call(m);

	/* the caller's SDP says 192.168.1.10:4000; its NAT says otherwise */
	assert_fwd(sendp(m, ACC, 20000, "198.51.100.7", 61000), CORE, 30000, "10.1.1.20", 6000);
	assert_fwd(sendp(m, CORE, 30000, "10.1.1.20", 6000), ACC, 20000, "198.51.100.7", 61000);
	/* anyone else is refused once latched */
	assert_drop(sendp(m, ACC, 20000, "198.51.100.66", 61000), MEDIA_DROP_SOURCE);
	assert_drop(sendp(m, ACC, 20000, "198.51.100.7", 61002), MEDIA_DROP_SOURCE);
	/* RTCP latches on its own */
	assert_fwd(send_at(m, ACC, 20001, "198.51.100.7", 61001, rtcp_sr(), 1000), CORE, 30001,
		   "10.1.1.20", 6001);
	assert_fwd(send_at(m, CORE, 30001, "10.1.1.20", 6001, rtcp_sr(), 1000), ACC, 20001,
		   "198.51.100.7", 61001);
	/* the SDP address itself always wins the latch back */
	assert_fwd(sendp(m, ACC, 20000, "192.168.1.10", 4000), CORE, 30000, "10.1.1.20", 6000);
	assert_fwd(sendp(m, CORE, 30000, "10.1.1.20", 6000), ACC, 20000, "192.168.1.10", 4000);
	/* a new address in a re-INVITE (transfer): latching starts over */
	XX(m, s, A, OFFER, OFFER_A("4002", "0", ""), NULL);
	XX(m, s, B, ANSWER, answer_b, NULL);
	assert_fwd(sendp(m, ACC, 20000, "198.51.100.99", 50000), CORE, 30000, "10.1.1.20", 6000);
	assert_fwd(sendp(m, CORE, 30000, "10.1.1.20", 6000), ACC, 20000, "198.51.100.99", 50000);
	const struct media_counters *c = media_counters(m);
	assert_int_equal(c->drop[MEDIA_DROP_SOURCE], 2);
	assert_int_equal(c->fwd[MEDIA_PKT_RTCP], 2);
	struct media_stats st;
	media_session_stats(m, s, &st);
	assert_int_equal(st.stream[0].leg[A].dropped, 2);
	assert_true(st.stream[0].leg[A].latched);
	assert_addr(&st.stream[0].leg[A].remote, "198.51.100.99", 50000);
	media_session_free(m, s);
	media_destroy(m);
}

static void test_strict_source(void **state)
{
	struct media *m = mk(8);
	struct media_session *s = media_session_new(m, ACC, STRICT, 1000);

	XX(m, s, A, OFFER, offer_a, NULL);
	/* strict leg without its SDP yet: nothing is accepted */
	assert_drop(sendp(m, STRICT, 40000, "10.1.1.30", 6000), MEDIA_DROP_STRICT);
	XX(m, s, B, ANSWER, ANSWER_B("10.1.1.30", "6000", ""), NULL);
	assert_fwd(sendp(m, STRICT, 40000, "10.1.1.30", 6000), ACC, 20000, "192.168.1.10", 4000);
	assert_drop(sendp(m, STRICT, 40000, "10.1.1.30", 6002), MEDIA_DROP_STRICT);
	assert_drop(sendp(m, STRICT, 40000, "10.1.1.31", 6000), MEDIA_DROP_STRICT);
	/* and media goes to the SDP address, never to a latch */
	assert_fwd(sendp(m, ACC, 20000, "198.51.100.7", 61000), STRICT, 40000, "10.1.1.30", 6000);
	assert_int_equal(media_counters(m)->drop[MEDIA_DROP_STRICT], 3);
	media_session_free(m, s);
	media_destroy(m);
}

static void test_bad_packets(void **state)
{
	struct media *m = mk(8);
	struct media_session *s = call(m);

	assert_drop(sendp(m, ACC, 20002, "192.168.1.10", 4000), MEDIA_DROP_UNKNOWN_PORT);
	assert_drop(sendp(m, ACC, 19998, "192.168.1.10", 4000), MEDIA_DROP_NOT_OURS);
	assert_drop(sendp(m, ACC, 20100, "192.168.1.10", 4000), MEDIA_DROP_NOT_OURS);
	assert_drop(sendp(m, 9, 20000, "192.168.1.10", 4000), MEDIA_DROP_BAD_REALM);
	(void)rtp(1, 1, 1, 0);
	assert_drop(send_at(m, ACC, 20000, "192.168.1.10", 4000, 7, 0), MEDIA_DROP_SHORT);
	assert_drop(send_at(m, ACC, 20000, "192.168.1.10", 4000, 11, 0), MEDIA_DROP_SHORT);
	pkt[0] = 0x40;
	assert_drop(send_at(m, ACC, 20000, "192.168.1.10", 4000, 172, 0), MEDIA_DROP_NOT_RTP);
	/* an 8-byte RTCP is fine */
	(void)rtcp_sr();
	struct media_fwd f = send_at(m, ACC, 20001, "192.168.1.10", 4001, 8, 0);
	assert_fwd(f, CORE, 30001, "10.1.1.20", 6001);
	assert_int_equal(f.kind, MEDIA_PKT_RTCP);
	/* RFC 7983: DTLS (20..63) passes end to end, on either component;
	 * STUN (0..3) has nobody to answer it */
	memset(pkt, 0, 64);
	pkt[0] = 22;
	f = send_at(m, ACC, 20000, "192.168.1.10", 4000, 64, 0);
	assert_fwd(f, CORE, 30000, "10.1.1.20", 6000);
	assert_int_equal(f.kind, MEDIA_PKT_DTLS);
	f = send_at(m, CORE, 30001, "10.1.1.20", 6001, 64, 0);
	assert_fwd(f, ACC, 20001, "192.168.1.10", 4001);
	pkt[0] = 0;
	pkt[1] = 1;
	assert_drop(send_at(m, ACC, 20000, "192.168.1.10", 4000, 64, 0), MEDIA_DROP_NOT_RTP);
	pkt[0] = 0x80;
	/* a burst mixes verdicts; the count is of forwarded ones */
	union sbc_sockaddr src = AD("192.168.1.10", 4000);
	uint8_t good[172];
	(void)rtp(2, 320, 7, 0);
	memcpy(good, pkt, sizeof(good));
	struct media_pkt burst[3] = {
		{ &src, good, sizeof(good), 20000, ACC, 0 },
		{ &src, good, sizeof(good), 20004, ACC, 0 },
		{ &src, good, 3, 20000, ACC, 0 },
	};
	struct media_fwd v[3];
	assert_int_equal(media_relay(m, burst, v, 3), 1);
	assert_int_equal(v[0].drop, MEDIA_DROP_NONE);
	assert_int_equal(v[1].drop, MEDIA_DROP_UNKNOWN_PORT);
	assert_int_equal(v[2].drop, MEDIA_DROP_SHORT);
	/* a burst longer than MEDIA_BURST_MAX is cut, not refused */
	struct media_pkt big[MEDIA_BURST_MAX + 9];
	struct media_fwd bv[MEDIA_BURST_MAX + 9];
	for (unsigned i = 0; i < MEDIA_BURST_MAX + 9; i++)
		big[i] = (struct media_pkt){ &src, good, sizeof(good),
					     i % 2 ? 20000 : 20006, ACC, 0 };
	assert_int_equal(media_relay(m, big, bv, MEDIA_BURST_MAX + 9), (MEDIA_BURST_MAX + 9) / 2);
	assert_int_equal(bv[MEDIA_BURST_MAX + 8].drop, MEDIA_DROP_UNKNOWN_PORT);
	assert_int_equal(bv[MEDIA_BURST_MAX + 7].drop, MEDIA_DROP_NONE);
	assert_int_equal(media_relay(m, big, bv, 0), 0);
	assert_string_equal(media_drop_name(MEDIA_DROP_FORK_SOURCE), "FORK_SOURCE");
	assert_string_equal(media_drop_name((enum media_drop)99), "?");
	const struct media_counters *c = media_counters(m);
	assert_int_equal(c->rx_packets, 14 + MEDIA_BURST_MAX + 9);
	assert_int_equal(c->fwd[MEDIA_PKT_RTP] + c->fwd[MEDIA_PKT_RTCP],
			 2 + (MEDIA_BURST_MAX + 9) / 2);
	assert_int_equal(c->fwd[MEDIA_PKT_DTLS], 2);
	media_session_free(m, s);
	/* after the call, its ports are unknown */
	assert_drop(sendp(m, ACC, 20000, "192.168.1.10", 4000), MEDIA_DROP_UNKNOWN_PORT);
	media_destroy(m);
}

static void test_worker_slices(void **state)
{
	/* worker 1 of 2: it owns pairs 1, 3, 5... = ports 20002, 20006, ... */
	struct media_conf c = { .worker = 1, .nworkers = 2, .max_sessions = 4,
				.nrealms = NREALMS, .realms = realms };
	struct media *m = media_create(&c);
	struct media_session *s = media_session_new(m, ACC, CORE, 0);

	XX(m, s, A, OFFER, offer_a,
	   L("v=0") L("o=alice 100 100 IN IP4 10.0.0.1") L("s=-") L("c=IN IP4 10.0.0.1") L("t=0 0")
	   L("m=audio 30002 RTP/AVP 0 101") L("a=rtpmap:0 PCMU/8000")
	   L("a=rtpmap:101 telephone-event/8000") L("a=sendrecv"));
	assert_int_equal(media_port_owner(30002, 30000, 2), 1);
	assert_int_equal(media_ports_capacity(media_realm_ports(m, ACC)), 50);
	/* a packet for worker 0's port reached us: a steering bug, counted */
	assert_drop(sendp(m, CORE, 30000, "10.1.1.20", 6000), MEDIA_DROP_NOT_OURS);
	assert_fwd(sendp(m, CORE, 30002, "10.1.1.20", 6000), ACC, 20002, "192.168.1.10", 4000);
	media_session_free(m, s);
	media_destroy(m);
}

/* ============================================================================
 * RTP statistics and idle time
 * ========================================================================== */

static void rtp_from_b(struct media *m, uint16_t seq, uint32_t ts, uint32_t ssrc, uint64_t us)
{
	assert_fwd(send_at(m, CORE, 30000, "10.1.1.20", 6000, rtp(seq, ts, ssrc, 0), us), ACC,
		   20000, "192.168.1.10", 4000);
}

static struct media_leg_stats leg_b(struct media *m, struct media_session *s)
{
	struct media_stats st;

	media_session_stats(m, s, &st);
	return st.stream[0].leg[B];
}

static void test_rtp_loss_wrap_reorder(void **state)
{
	struct media *m = mk(8);
	struct media_session *s = call(m);
	static const uint16_t seqs[] = { 65530, 65531, 65533, 65534, 65535, 0, 1, 3, 4 };

	/* two gaps (65532 and 2) across the wrap */
	for (unsigned i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++)
		rtp_from_b(m, seqs[i], 160u * i, 0xabc, 1000000 + 20000 * i);
	assert_int_equal(leg_b(m, s).lost, 2);
	assert_int_equal(leg_b(m, s).packets, 9);
	/* 2 arrives late: one loss less */
	rtp_from_b(m, 2, 0, 0xabc, 2000000);
	assert_int_equal(leg_b(m, s).lost, 1);
	/* duplicates never make loss negative */
	rtp_from_b(m, 4, 0, 0xabc, 2000000);
	rtp_from_b(m, 4, 0, 0xabc, 2000000);
	assert_int_equal(leg_b(m, s).lost, 0);
	/* a jump of 20000: not believed at once, then re-synced */
	rtp_from_b(m, 20000, 0, 0xabc, 2000000);
	rtp_from_b(m, 20001, 0, 0xabc, 2000000);
	rtp_from_b(m, 20003, 0, 0xabc, 2000000);
	assert_int_equal(leg_b(m, s).lost, 1);
	/* a new SSRC (another source after a transfer) keeps the old loss */
	rtp_from_b(m, 500, 0, 0xdef, 2000000);
	rtp_from_b(m, 503, 0, 0xdef, 2000000);
	struct media_leg_stats l = leg_b(m, s);
	assert_int_equal(l.lost, 3);
	assert_int_equal(l.ssrc, 0xdef);
	assert_int_equal(l.bytes, 172u * l.packets);
	media_session_free(m, s);
	media_destroy(m);
}

static void test_rtp_jitter_hand_computed(void **state)
{
	struct media *m = mk(8);
	struct media_session *s = call(m);
	/*
	 * PCMU, 8000 Hz: timestamps step 160 every 20 ms; arrivals late by
	 * 0, 1, 0, 2, 0 ms (1 ms = 8 units). From t0 = 1 s (8000 units):
	 *   transit = 8000, 8008, 8000, 8016, 8000;  D = 8, 8, 16, 16
	 * RFC 3550 A.8 in sixteenths, J16 += D - ((J16 + 8) >> 4):
	 *   8 + 0 = 8;  8 + 8 - 1 = 15;  15 + 16 - 1 = 30;  30 + 16 - 2 = 44
	 * J = 44 / 16 = 2.75 units -> 2 units, 44e6 / (16 * 8000) = 343 us.
	 * (The real-valued recurrence gives 2.79 units.)
	 */
	static const uint32_t late_us[] = { 0, 1000, 0, 2000, 0 };
	for (unsigned k = 0; k < 5; k++)
		rtp_from_b(m, (uint16_t)(100 + k), 160u * k, 0x77,
			   1000000u + 20000u * k + late_us[k]);
	struct media_leg_stats l = leg_b(m, s);
	assert_int_equal(l.clock, 8000);
	assert_int_equal(l.jitter, 2);
	assert_int_equal(l.jitter_us, 343);
	assert_int_equal(l.lost, 0);
	media_session_free(m, s);

	/* a dynamic payload type takes its rtpmap clock (opus, 48 kHz) */
	s = media_session_new(m, ACC, CORE, 0);
	XX(m, s, A, OFFER, OFFER_A("4000", "111", L("a=rtpmap:111 opus/48000/2")), NULL);
	XX(m, s, B, ANSWER, answer_b, NULL);
	assert_fwd(send_at(m, CORE, 30002, "10.1.1.20", 6000, rtp(1, 0, 9, 111), 1000000), ACC,
		   20002, "192.168.1.10", 4000);
	struct media_stats st;
	media_session_stats(m, s, &st);
	assert_int_equal(st.stream[0].leg[B].clock, 48000);
	/* telephone-event from its rtpmap, a static type from RFC 3551 */
	assert_fwd(send_at(m, CORE, 30002, "10.1.1.20", 6000, rtp(2, 0, 9, 101), 1000000), ACC,
		   20002, "192.168.1.10", 4000);
	media_session_stats(m, s, &st);
	assert_int_equal(st.stream[0].leg[B].clock, 8000);
	assert_fwd(send_at(m, CORE, 30002, "10.1.1.20", 6000, rtp(3, 0, 9, 9), 1000000), ACC,
		   20002, "192.168.1.10", 4000);
	media_session_stats(m, s, &st);
	assert_int_equal(st.stream[0].leg[B].clock, 8000); /* G.722's RTP clock */
	media_session_free(m, s);
	media_destroy(m);
}

static void test_idle(void **state)
{
	struct media *m = mk(8);
	struct media_session *s = media_session_new(m, ACC, CORE, 1000);

	assert_int_equal(media_session_idle_ms(m, s, 5000), 4000);
	XX(m, s, A, OFFER, offer_a, NULL); /* X() applies at now = 1000 */
	XX(m, s, B, ANSWER, answer_b, NULL);
	assert_int_equal(media_session_idle_ms(m, s, 7000), 6000);
	/* a packet at 8 s */
	assert_fwd(send_at(m, CORE, 30000, "10.1.1.20", 6000, rtp(1, 0, 1, 0), 8000000), ACC,
		   20000, "192.168.1.10", 4000);
	assert_int_equal(media_session_idle_ms(m, s, 9500), 1500);
	assert_int_equal(media_session_idle_ms(m, s, 7000), 0);
	/* refused packets do not count as activity */
	assert_drop(send_at(m, CORE, 30000, "10.6.6.6", 1, rtp(2, 0, 1, 0), 9000000),
		    MEDIA_DROP_SOURCE);
	assert_int_equal(media_session_idle_ms(m, s, 9500), 1500);
	struct media_stats st;
	media_session_stats(m, s, &st);
	assert_int_equal(st.stream[0].leg[B].last_rx_ms, 8000);
	media_session_free(m, s);
	media_destroy(m);
}

/* The port hook sees every port taken and given back exactly once, forks
 * included (shared ports are not announced twice), and the accessors tell
 * who offered. */
static int hook_open[NREALMS][128];  /* per realm, per port - first */
static int hook_calls;

static void hook(void *ctx, uint32_t realm, uint16_t port, bool in_use)
{
	int *slot = &hook_open[realm][port - realms[realm].port_first];

	assert_ptr_equal(ctx, hook_open);
	assert_true(port >= realms[realm].port_first && port <= realms[realm].port_last);
	assert_int_equal(*slot, in_use ? 0 : 1); /* no double open or close */
	*slot = in_use;
	hook_calls++;
}

static int hook_count(unsigned realm)
{
	int n = 0;

	for (unsigned i = 0; i < 128; i++)
		n += hook_open[realm][i];
	return n;
}

static void test_port_hook_and_offer_side(void **state)
{
	struct media_conf c = { .worker = 0, .nworkers = 1, .max_sessions = 8, .nrealms = NREALMS,
				.realms = realms, .port_hook = hook, .port_ctx = hook_open };
	struct media *m = media_create(&c);

	memset(hook_open, 0, sizeof(hook_open));
	hook_calls = 0;
	assert_non_null(m);
	struct media_session *s = media_session_new(m, ACC, CORE, 1000);
	assert_int_equal(media_sdp_offer_side(s), -1);
	assert_false(media_sdp_answered(s));
	XX(m, s, A, OFFER, offer_a, NULL);
	assert_int_equal(media_sdp_offer_side(s), A);
	assert_int_equal(hook_count(ACC), 2);
	assert_int_equal(hook_count(CORE), 2);
	struct media_session *f = media_session_fork(m, s, 1000);
	assert_non_null(f);
	assert_int_equal(media_sdp_offer_side(f), A);
	assert_int_equal(hook_count(ACC), 4);   /* the fork's own caller-side pair */
	assert_int_equal(hook_count(CORE), 2);  /* shared */
	XX(m, s, B, ANSWER, answer_b, NULL);
	assert_int_equal(media_sdp_offer_side(s), -1);
	assert_true(media_sdp_answered(s));
	/* a re-offer from B rolled back gives back only what it took */
	XX(m, s, B, OFFER, ANSWER_B("10.1.1.20", "6000", ""), NULL);
	assert_int_equal(media_sdp_offer_side(s), B);
	media_sdp_reject(m, s);
	assert_int_equal(media_sdp_offer_side(s), -1);
	media_session_confirm(m, s);
	media_session_free(m, f);
	assert_int_equal(hook_count(ACC), 2);
	assert_int_equal(hook_count(CORE), 2);
	assert_int_equal(in_use(m, ACC), (uint32_t)hook_count(ACC));
	media_session_free(m, s);
	assert_int_equal(hook_count(ACC), 0);
	assert_int_equal(hook_count(CORE), 0);
	assert_int_equal(hook_calls, 12);
	media_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_port_owner_math),
		cmocka_unit_test(test_port_slot_division),
		cmocka_unit_test(test_ports_range_edges),
		cmocka_unit_test(test_ports_exhaustion_fifo),
		cmocka_unit_test(test_ports_split_merge),
		cmocka_unit_test(test_ports_churn),
		cmocka_unit_test(test_create_bad_conf),
		cmocka_unit_test(test_invite_200_ack),
		cmocka_unit_test(test_early_media_183_then_200),
		cmocka_unit_test(test_no_dest_until_known),
		cmocka_unit_test(test_prack_update_reoffer),
		cmocka_unit_test(test_reinvite_codec_change_keeps_ports),
		cmocka_unit_test(test_late_offer),
		cmocka_unit_test(test_glare_and_bad_answers),
		cmocka_unit_test(test_audio_video),
		cmocka_unit_test(test_remove_and_readd_stream),
		cmocka_unit_test(test_reject_rolls_back),
		cmocka_unit_test(test_exhaustion_503),
		cmocka_unit_test(test_stream_pool_exhaustion),
		cmocka_unit_test(test_hold_resume),
		cmocka_unit_test(test_ice_stripped_towards_access),
		cmocka_unit_test(test_media_level_hold_keeps_rtcp_private),
		cmocka_unit_test(test_ipv6_realm),
		cmocka_unit_test(test_rtcp_mux),
		cmocka_unit_test(test_rtcp_mux_refused_keeps_pairs),
		cmocka_unit_test(test_forked_early_media),
		cmocka_unit_test(test_fork_parent_dies_first),
		cmocka_unit_test(test_fork_reshape_no_leak),
		cmocka_unit_test(test_refused_stream_released_on_confirm),
		cmocka_unit_test(test_session_churn),
		cmocka_unit_test(test_latching_behind_nat),
		cmocka_unit_test(test_strict_source),
		cmocka_unit_test(test_bad_packets),
		cmocka_unit_test(test_worker_slices),
		cmocka_unit_test(test_rtp_loss_wrap_reorder),
		cmocka_unit_test(test_rtp_jitter_hand_computed),
		cmocka_unit_test(test_idle),
		cmocka_unit_test(test_port_hook_and_offer_side),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
