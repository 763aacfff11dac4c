/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/txn: every state machine of RFC 3261 section 17 (+ RFC 6026) driven by
 * a fake clock over a real timing wheel. The fake transport records every
 * datagram the layer sends with the time it was sent; tests re-parse them
 * with sip_parse() and assert their content, and assert retransmission
 * times to the millisecond (the clock steps one millisecond at a time, so a
 * timer that fires late or early shows).
 *
 * Every message fed to txn_input() is copied into a buffer that is wiped
 * right after the call: a layer that kept a pointer into an input would
 * then send garbage, and the content checks would see it.
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

#include "txn.h"

/* Tests override the defaults of a designated initializer (RQ below). */
#pragma GCC diagnostic ignored "-Woverride-init"

#define T0 1000u     /* the wheel's start: nothing is special about zero */
#define T1 500u
#define T2 4000u
#define T4 5000u
#define SHARD 3u
#define MAXSENT 512u
#define MAXEV 64u

struct sent {
	uint64_t at;   /* relative to T0 */
	struct txn_peer to;
	char *buf;
	uint32_t len;
	bool ok;       /* the fake transport accepted it */
};

struct ev {
	struct txn_client *c;
	uint16_t status;
	uint64_t at;
	char to_tag[32];
};

struct fx {
	struct wheel *w;
	struct txn_shard *sh;
	uint64_t now;
	struct sent sent[MAXSENT];
	size_t nsent;
	struct ev resp[MAXEV], tmo[MAXEV];
	size_t nresp, ntmo;
	void *sgone[MAXEV], *cgone[MAXEV];
	size_t nsgone, ncgone;
	/* fake transport */
	int fail_next;             /* fail this many sends */
	bool fail_all;
	/* callback behaviours */
	bool abandon_in_response;
	bool abandon_in_timeout;
	bool failover_in_timeout;  /* start a new client txn from ops->timeout */
	bool failover_in_response; /* ... and from ops->response */
	struct txn_client *failover;
	struct txn_server *relay;  /* ops->response forwards into this server txn */
	int relay_rc;
	bool in_client_send;       /* ops->timeout must never run inside it */
	/* scratch */
	struct sip_msg *in, *pm;
	char inbuf[70000];
};

static struct txn_peer up, down;

/* ---- fixture ------------------------------------------------------------- */

static void on_timer(struct wheel_timer *t, void *ctx)
{
	struct fx *f = ctx;
	assert_int_equal(t->tag & TXN_TIMER_TAG_MASK, TXN_TIMER_TAG_BASE);
	txn_timer_fire(f->sh, t);
}

static int op_send(void *ctx, const struct txn_peer *to, const char *buf, uint32_t len)
{
	struct fx *f = ctx;
	struct sent *s;
	bool ok = !f->fail_all && f->fail_next == 0;

	if (f->fail_next > 0)
		f->fail_next--;
	assert_true(f->nsent < MAXSENT);
	s = &f->sent[f->nsent++];
	s->at = f->now - T0;
	s->to = *to;
	s->buf = malloc(len);
	assert_non_null(s->buf);
	memcpy(s->buf, buf, len);
	s->len = len;
	s->ok = ok;
	return ok ? 0 : -ECONNREFUSED;
}

static void copy_to_tag(struct ev *e, const struct sip_msg *m)
{
	struct sip_nameaddr to;
	e->to_tag[0] = 0;
	if (sip_msg_to(m, &to) > 0 && to.tag.len < sizeof(e->to_tag)) {
		memcpy(e->to_tag, to.tag.p, to.tag.len);
		e->to_tag[to.tag.len] = 0;
	}
}

static void start_failover(struct fx *f);

static void op_response(void *ctx, struct txn_client *c, const struct sip_msg *m)
{
	struct fx *f = ctx;
	struct ev *e;

	assert_true(f->nresp < MAXEV);
	e = &f->resp[f->nresp++];
	e->c = c;
	e->status = m->status;
	e->at = f->now - T0;
	copy_to_tag(e, m);
	if (f->relay)
		f->relay_rc = txn_server_send(f->relay, m->status, m->buf, m->len);
	if (f->abandon_in_response)
		txn_client_abandon(c);
	if (f->failover_in_response)
		start_failover(f);
}

static int csend(struct fx *f, struct txn_client *c, const char *buf, uint32_t len);
static uint32_t fwd(char *out, const char *method, sip_str_t branch);

/* What the proxy does on failover: a new client transaction, which may
 * well take the pool slot the abandoned one just left. */
static void start_failover(struct fx *f)
{
	char buf[2048];
	sip_str_t br;
	f->failover_in_timeout = false;
	f->failover_in_response = false;
	f->failover = txn_client_create(f->sh, SIP_M_INVITE, &down, &br);
	assert_non_null(f->failover);
	assert_int_equal(csend(f, f->failover, buf, fwd(buf, "INVITE", br)), 0);
}

static void op_timeout(void *ctx, struct txn_client *c, uint16_t status)
{
	struct fx *f = ctx;
	struct ev *e;

	assert_false(f->in_client_send);
	assert_true(f->ntmo < MAXEV);
	e = &f->tmo[f->ntmo++];
	e->c = c;
	e->status = status;
	e->at = f->now - T0;
	if (f->abandon_in_timeout)
		txn_client_abandon(c);
	if (f->failover_in_timeout)
		start_failover(f);
}

static void op_server_gone(void *ctx, struct txn_server *s)
{
	struct fx *f = ctx;
	assert_true(f->nsgone < MAXEV);
	f->sgone[f->nsgone++] = s;
}

static void op_client_gone(void *ctx, struct txn_client *c)
{
	struct fx *f = ctx;
	assert_true(f->ncgone < MAXEV);
	f->cgone[f->ncgone++] = c;
}

static const struct txn_ops ops = {
	.send = op_send,
	.response = op_response,
	.timeout = op_timeout,
	.server_gone = op_server_gone,
	.client_gone = op_client_gone,
};

static struct txn_config cfg_default(void)
{
	return (struct txn_config){
		.t1_ms = T1, .t2_ms = T2, .t4_ms = T4, .timer_c_ms = 180000,
		.max_server = 16, .max_client = 16, .shard = SHARD,
		.seed = { 0x0123456789abcdefull, 0xfedcba9876543210ull },
	};
}

static struct fx *fx_open_cfg(const struct txn_config *cfg)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->now = T0;
	f->w = wheel_create(T0);
	assert_non_null(f->w);
	f->sh = txn_shard_create(cfg, f->w, &ops, f);
	assert_non_null(f->sh);
	f->in = malloc(sizeof(*f->in));
	f->pm = malloc(sizeof(*f->pm));
	assert_non_null(f->in);
	assert_non_null(f->pm);
	return f;
}

static struct fx *fx_open(void)
{
	struct txn_config cfg = cfg_default();
	return fx_open_cfg(&cfg);
}

static void fx_close(struct fx *f)
{
	txn_shard_destroy(f->sh);
	wheel_destroy(f->w);
	for (size_t i = 0; i < f->nsent; i++)
		free(f->sent[i].buf);
	free(f->in);
	free(f->pm);
	free(f);
}

static struct txn_stats stats(struct fx *f)
{
	struct txn_stats st;
	txn_shard_stats(f->sh, &st);
	return st;
}

/* Step the clock one millisecond at a time up to T0 + rel. */
static void run_to(struct fx *f, uint64_t rel)
{
	while (f->now < T0 + rel) {
		f->now++;
		wheel_advance(f->w, f->now, on_timer, f);
	}
}

static int csend(struct fx *f, struct txn_client *c, const char *buf, uint32_t len)
{
	int rc;
	f->in_client_send = true;
	rc = txn_client_send(c, buf, len);
	f->in_client_send = false;
	return rc;
}

/* ---- messages -------------------------------------------------------------- */

static sip_str_t S(const char *s)
{
	return (sip_str_t){ s, (uint32_t)strlen(s) };
}

static bool view_is(sip_str_t v, const char *want)
{
	size_t n = strlen(want);
	return v.len == n && (n == 0 || memcmp(v.p, want, n) == 0);
}

#define assert_view(v, want)                                                         \
	do {                                                                         \
		sip_str_t v_ = (v);                                                  \
		if (!view_is(v_, want))                                              \
			fail_msg("got \"%.*s\", want \"%s\"", (int)v_.len, v_.p, want); \
	} while (0)

/* A request from upstream. */
struct rq {
	const char *method, *ruri, *sent_by, *branch, *from_tag, *to_tag, *call_id, *cseq_method;
	unsigned cseq;
};
#define RQ(...)                                                                       \
	(&(const struct rq){ .method = "INVITE", .ruri = "sip:bob@example.com",        \
			     .sent_by = "192.0.2.1:5060", .branch = "z9hG4bKup1",      \
			     .from_tag = "fa", .call_id = "c1@192.0.2.1", .cseq = 1,    \
			     __VA_ARGS__ })

static const char *rq_text(const struct rq *r)
{
	static char buf[4096];
	char branch[128] = "";
	char to_tag[64] = "";
	if (r->branch)
		snprintf(branch, sizeof(branch), ";branch=%s", r->branch);
	if (r->to_tag)
		snprintf(to_tag, sizeof(to_tag), ";tag=%s", r->to_tag);
	snprintf(buf, sizeof(buf),
		 "%s %s SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP %s%s\r\n"
		 "Max-Forwards: 70\r\n"
		 "From: <sip:alice@example.net>;tag=%s\r\n"
		 "To: <sip:bob@example.com>%s\r\n"
		 "Call-ID: %s\r\n"
		 "CSeq: %u %s\r\n"
		 "Contact: <sip:alice@192.0.2.1>\r\n"
		 "Content-Length: 0\r\n\r\n",
		 r->method, r->ruri, r->sent_by, branch, r->from_tag, to_tag, r->call_id, r->cseq,
		 r->cseq_method ? r->cseq_method : r->method);
	return buf;
}

/* What the proxy forwards downstream: our Via on top of upstream's, two
 * Route values, CSeq 7. */
static uint32_t fwd(char *out, const char *method, sip_str_t branch)
{
	int n = snprintf(out, 2048,
			 "%s sip:bob@10.0.0.2 SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=%.*s\r\n"
			 "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKup1\r\n"
			 "Route: <sip:10.0.0.2;lr>\r\n"
			 "Route: <sip:10.0.0.3;lr>\r\n"
			 "Max-Forwards: 69\r\n"
			 "From: <sip:alice@example.net>;tag=fa\r\n"
			 "To: <sip:bob@example.com>\r\n"
			 "Call-ID: fwd1\r\n"
			 "CSeq: 7 %s\r\n"
			 "Content-Length: 0\r\n\r\n",
			 method, (int)branch.len, branch.p, method);
	assert_true(n > 0 && n < 2048);
	return (uint32_t)n;
}

/* A response from downstream to a request of ours. */
static const char *rs_text(unsigned status, sip_str_t branch, const char *to_tag,
			   const char *cseq_method)
{
	static char buf[2048];
	char tag[64] = "";
	if (to_tag)
		snprintf(tag, sizeof(tag), ";tag=%s", to_tag);
	snprintf(buf, sizeof(buf),
		 "SIP/2.0 %u Whatever\r\n"
		 "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=%.*s\r\n"
		 "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKup1\r\n"
		 "From: <sip:alice@example.net>;tag=fa\r\n"
		 "To: <sip:bob@example.com>%s\r\n"
		 "Call-ID: fwd1\r\n"
		 "CSeq: 7 %s\r\n"
		 "Content-Length: 0\r\n\r\n",
		 status, (int)branch.len, branch.p, tag, cseq_method);
	return buf;
}

/* A response the proxy forwards upstream through a server transaction. */
static const char *up_rs_text(unsigned status, const char *to_tag)
{
	static char buf[2048];
	snprintf(buf, sizeof(buf),
		 "SIP/2.0 %u Relayed\r\n"
		 "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKup1\r\n"
		 "From: <sip:alice@example.net>;tag=fa\r\n"
		 "To: <sip:bob@example.com>;tag=%s\r\n"
		 "Call-ID: c1@192.0.2.1\r\n"
		 "CSeq: 1 INVITE\r\n"
		 "Content-Length: 0\r\n\r\n",
		 status, to_tag);
	return buf;
}

static struct sip_msg *parse_in(struct fx *f, const char *text)
{
	size_t n = strlen(text);
	assert_true(n < sizeof(f->inbuf));
	memcpy(f->inbuf, text, n);
	assert_int_equal(sip_parse(f->in, f->inbuf, n), SIP_E_OK);
	assert_int_equal(sip_check(f->in), SIP_E_OK);
	return f->in;
}

static void wipe_in(struct fx *f)
{
	memset(f->inbuf, 'X', sizeof(f->inbuf));
}

static enum txn_verdict feed_m(struct fx *f, const char *text, struct txn_server **match)
{
	struct sip_msg *m = parse_in(f, text);
	enum txn_verdict v = txn_input(f->sh, m, &up, match);
	wipe_in(f);
	return v;
}

static enum txn_verdict feed(struct fx *f, const char *text)
{
	return feed_m(f, text, NULL);
}

static struct txn_server *screate(struct fx *f, const char *text)
{
	struct sip_msg *m = parse_in(f, text);
	struct txn_server *s;
	assert_int_equal(txn_input(f->sh, m, &up, NULL), TXN_NEW);
	s = txn_server_create(f->sh, m, &up);
	wipe_in(f);
	return s;
}

/* Parse sent datagram i into f->pm. */
static struct sip_msg *sent_msg(struct fx *f, size_t i)
{
	assert_true(i < f->nsent);
	assert_int_equal(sip_parse(f->pm, f->sent[i].buf, f->sent[i].len), SIP_E_OK);
	return f->pm;
}

static sip_str_t hval(const struct sip_msg *m, enum sip_hdr_id id)
{
	const struct sip_hdr *h = sip_hdr_first(m, id);
	assert_non_null(h);
	return h->value;
}

static sip_str_t to_tag_of(const struct sip_msg *m)
{
	struct sip_nameaddr na;
	assert_int_equal(sip_msg_to(m, &na), 1);
	return na.tag;
}

static bool same_bytes(struct fx *f, size_t a, size_t b)
{
	return f->sent[a].len == f->sent[b].len &&
	       memcmp(f->sent[a].buf, f->sent[b].buf, f->sent[a].len) == 0;
}

static void assert_sent_at(struct fx *f, size_t first, const uint64_t *times, size_t n)
{
	assert_true(f->nsent >= first + n);
	for (size_t i = 0; i < n; i++)
		if (f->sent[first + i].at != times[i])
			fail_msg("datagram %zu sent at %llu, want %llu", first + i,
				 (unsigned long long)f->sent[first + i].at,
				 (unsigned long long)times[i]);
}

/* A client INVITE sent at the current time. */
static struct txn_client *invite_out(struct fx *f, sip_str_t *branch)
{
	char buf[2048];
	struct txn_client *c = txn_client_create(f->sh, SIP_M_INVITE, &down, branch);
	assert_non_null(c);
	assert_int_equal(csend(f, c, buf, fwd(buf, "INVITE", *branch)), 0);
	return c;
}

static struct txn_client *request_out(struct fx *f, enum sip_method m, const char *name,
				      sip_str_t *branch)
{
	char buf[2048];
	struct txn_client *c = txn_client_create(f->sh, m, &down, branch);
	assert_non_null(c);
	assert_int_equal(csend(f, c, buf, fwd(buf, name, *branch)), 0);
	return c;
}

static void assert_all_gone(struct fx *f)
{
	struct txn_stats st = stats(f);
	assert_int_equal(st.server_active, 0);
	assert_int_equal(st.client_active, 0);
}

/* ---- client INVITE ----------------------------------------------------------- */

static void test_client_invite_timer_a_b(void **state)
{
	struct fx *f = fx_open();
	sip_str_t br;
	struct txn_client *c = invite_out(f, &br);
	static const uint64_t want[] = { 0, 500, 1500, 3500, 7500, 15500, 31500 };

	run_to(f, 40000);
	assert_int_equal(f->nsent, 7);
	assert_sent_at(f, 0, want, 7);
	for (size_t i = 1; i < 7; i++)
		assert_true(same_bytes(f, 0, i));
	assert_true(sbc_addr_eq(&f->sent[0].to.addr, &down.addr));
	assert_int_equal(f->ntmo, 1);
	assert_ptr_equal(f->tmo[0].c, c);
	assert_int_equal(f->tmo[0].status, 408);
	assert_int_equal(f->tmo[0].at, 32000);   /* Timer B = 64*T1 */
	assert_int_equal(f->ncgone, 1);
	assert_ptr_equal(f->cgone[0], c);
	assert_int_equal(f->nresp, 0);
	struct txn_stats st = stats(f);
	assert_int_equal(st.retransmits_sent, 6);
	assert_int_equal(st.timeouts, 1);
	assert_int_equal(st.client_created, 1);
	assert_all_gone(f);
	/* the transaction is gone: its branch matches nothing now */
	assert_int_equal(feed(f, rs_text(180, br, "t", "INVITE")), TXN_STRAY);
	fx_close(f);
}

static void test_client_branch_shape(void **state)
{
	struct fx *f = fx_open();
	sip_str_t b1, b2;
	struct txn_client *c1 = txn_client_create(f->sh, SIP_M_INVITE, &down, &b1);
	struct txn_client *c2 = txn_client_create(f->sh, SIP_M_OPTIONS, &down, &b2);

	assert_non_null(c1);
	assert_non_null(c2);
	assert_int_equal(b1.len, 30);
	assert_memory_equal(b1.p, "z9hG4bK-sbc-03", 14);
	assert_true(sip_branch_is_3261(b1));
	assert_int_equal(txn_branch_shard(b1), SHARD);
	assert_int_equal(txn_branch_shard(b2), SHARD);
	assert_false(sip_str_eq(b1, b2));
	assert_int_equal(txn_branch_shard(S("z9hG4bK-sbc-ff0000000000000001")), 255);
	assert_int_equal(txn_branch_shard(S("z9hG4bK-sbc-0000000000000000001")), -1); /* long */
	assert_int_equal(txn_branch_shard(S("z9hG4bK-sbc-00000000000000001")), -1);   /* short */
	assert_int_equal(txn_branch_shard(S("z9hG4bK-sbc-0A0000000000000001")), -1);  /* case */
	assert_int_equal(txn_branch_shard(S("z9hG4bK-sbx-000000000000000001")), -1);
	assert_int_equal(txn_branch_shard(S("z9hG4bKabcdef")), -1);
	assert_int_equal(txn_branch_shard(SIP_STR_NULL), -1);
	/* ACK never gets a client transaction */
	assert_null(txn_client_create(f->sh, SIP_M_ACK, &down, &b2));
	txn_client_abandon(c1);
	txn_client_abandon(c2);
	assert_int_equal(f->ncgone, 0);   /* abandon: no client_gone */
	assert_all_gone(f);
	fx_close(f);
}

static void assert_ack(struct fx *f, size_t i, sip_str_t br, const char *to_tag)
{
	struct sip_msg *a = sent_msg(f, i);
	struct sip_via via;
	struct sip_hdr const *r;

	assert_true(a->is_request);
	assert_int_equal(a->method, SIP_M_ACK);
	assert_view(a->ruri, "sip:bob@10.0.0.2");
	assert_int_equal(a->count[SIP_H_VIA], 1);           /* only our Via */
	assert_int_equal(sip_msg_top_via(a, &via), 1);
	assert_true(sip_str_eq(via.branch, br));            /* same branch */
	assert_view(via.host, "10.0.0.1");
	assert_int_equal(a->count[SIP_H_ROUTE], 2);         /* Route set copied */
	r = sip_hdr_first(a, SIP_H_ROUTE);
	assert_view(r->value, "<sip:10.0.0.2;lr>");
	assert_view(sip_hdr_next(a, r)->value, "<sip:10.0.0.3;lr>");
	assert_view(hval(a, SIP_H_MAX_FORWARDS), "70");
	assert_view(hval(a, SIP_H_FROM), "<sip:alice@example.net>;tag=fa");
	assert_view(to_tag_of(a), to_tag);                  /* To of the response */
	assert_view(hval(a, SIP_H_CALL_ID), "fwd1");
	assert_view(hval(a, SIP_H_CSEQ), "7 ACK");
	assert_view(hval(a, SIP_H_CONTENT_LENGTH), "0");
	assert_int_equal(a->body_len, 0);
	assert_int_equal(sip_check(a), SIP_E_OK);
}

static void test_client_invite_provisional_then_non2xx(void **state)
{
	struct fx *f = fx_open();
	sip_str_t br;
	struct txn_client *c = invite_out(f, &br);

	run_to(f, 600);
	assert_int_equal(f->nsent, 2);                      /* Timer A once */
	assert_int_equal(feed(f, rs_text(100, br, NULL, "INVITE")), TXN_RESPONSE);
	assert_int_equal(f->nresp, 0);                      /* 100 is hop by hop */
	assert_true(txn_client_provisional_seen(c));
	run_to(f, 40000);
	assert_int_equal(f->nsent, 2);                      /* A stopped */
	assert_int_equal(f->ntmo, 0);                       /* B stopped */
	assert_int_equal(feed(f, rs_text(180, br, "t486", "INVITE")), TXN_RESPONSE);
	assert_int_equal(f->nresp, 1);
	assert_int_equal(f->resp[0].status, 180);
	assert_int_equal(txn_client_final(c), 0);
	assert_int_equal(feed(f, rs_text(486, br, "t486", "INVITE")), TXN_RESPONSE);
	assert_int_equal(f->nresp, 2);
	assert_int_equal(f->resp[1].status, 486);
	assert_int_equal(txn_client_final(c), 486);
	assert_int_equal(f->nsent, 3);
	assert_ack(f, 2, br, "t486");
	/* Completed: a retransmitted final is ACKed again, not reported */
	run_to(f, 41000);
	assert_int_equal(feed(f, rs_text(486, br, "t486", "INVITE")), TXN_RESPONSE);
	assert_int_equal(f->nresp, 2);
	assert_int_equal(f->nsent, 4);
	assert_true(same_bytes(f, 2, 3));
	/* provisionals and 2xx are absorbed in Completed */
	assert_int_equal(feed(f, rs_text(180, br, "t486", "INVITE")), TXN_RESPONSE);
	assert_int_equal(f->nresp, 2);
	/* Timer D: 32 s after the final */
	run_to(f, 40000 + 32000 - 1);
	assert_int_equal(f->ncgone, 0);
	run_to(f, 40000 + 32000);
	assert_int_equal(f->ncgone, 1);
	assert_int_equal(f->ntmo, 0);
	assert_all_gone(f);
	fx_close(f);
}

static void test_client_invite_2xx_accepted(void **state)
{
	struct fx *f = fx_open();
	sip_str_t br;
	struct txn_client *c = invite_out(f, &br);

	run_to(f, 100);
	assert_int_equal(feed(f, rs_text(180, br, "a", "INVITE")), TXN_RESPONSE);
	assert_int_equal(feed(f, rs_text(200, br, "a", "INVITE")), TXN_RESPONSE);
	assert_int_equal(txn_client_final(c), 200);
	run_to(f, 1000);
	/* RFC 6026 7.2: retransmissions and other forks' 2xx go up too */
	assert_int_equal(feed(f, rs_text(200, br, "a", "INVITE")), TXN_RESPONSE);
	assert_int_equal(feed(f, rs_text(200, br, "b", "INVITE")), TXN_RESPONSE);
	/* anything else is absorbed */
	assert_int_equal(feed(f, rs_text(183, br, "c", "INVITE")), TXN_RESPONSE);
	assert_int_equal(feed(f, rs_text(486, br, "d", "INVITE")), TXN_RESPONSE);
	assert_int_equal(f->nresp, 4);
	assert_int_equal(f->resp[0].status, 180);
	assert_int_equal(f->resp[1].status, 200);
	assert_string_equal(f->resp[1].to_tag, "a");
	assert_int_equal(f->resp[2].status, 200);
	assert_string_equal(f->resp[2].to_tag, "a");
	assert_int_equal(f->resp[3].status, 200);
	assert_string_equal(f->resp[3].to_tag, "b");
	assert_int_equal(f->nsent, 1);                      /* no ACK for 2xx, no retransmit */
	/* Timer M = 64*T1 after the first 2xx */
	run_to(f, 100 + 32000 - 1);
	assert_int_equal(f->ncgone, 0);
	run_to(f, 100 + 32000);
	assert_int_equal(f->ncgone, 1);
	assert_int_equal(f->ntmo, 0);
	assert_int_equal(feed(f, rs_text(200, br, "a", "INVITE")), TXN_STRAY);
	assert_all_gone(f);
	fx_close(f);
}

static void test_client_invite_2xx_from_calling(void **state)
{
	struct fx *f = fx_open();
	sip_str_t br;

	invite_out(f, &br);
	run_to(f, 700);
	assert_int_equal(feed(f, rs_text(200, br, "a", "INVITE")), TXN_RESPONSE);
	assert_int_equal(f->nresp, 1);
	run_to(f, 40000);
	assert_int_equal(f->nsent, 2);  /* the one retransmission at 500, then none */
	assert_int_equal(f->ntmo, 0);   /* Timer B stopped by the final */
	assert_all_gone(f);             /* Timer M at 32700 */
	fx_close(f);
}

/* With a small T1, Timer M is 64*T1 but Timer D keeps its 32 s floor
 * (RFC 3261 17.1.1.2 "at least 32 seconds" over UDP). */
static void test_client_timer_m_and_d_floor(void **state)
{
	struct txn_config cfg = cfg_default();
	cfg.t1_ms = 250;
	struct fx *f = fx_open_cfg(&cfg);
	sip_str_t b1, b2;
	struct txn_client *c1 = invite_out(f, &b1);
	struct txn_client *c2 = invite_out(f, &b2);

	feed(f, rs_text(200, b1, "a", "INVITE"));
	feed(f, rs_text(404, b2, "b", "INVITE"));
	run_to(f, 16000 - 1);
	assert_int_equal(f->ncgone, 0);
	run_to(f, 16000);                                 /* M = 64 * 250 */
	assert_int_equal(f->ncgone, 1);
	assert_ptr_equal(f->cgone[0], c1);
	run_to(f, 32000 - 1);
	assert_int_equal(f->ncgone, 1);
	run_to(f, 32000);                                 /* D = 32 s */
	assert_int_equal(f->ncgone, 2);
	assert_ptr_equal(f->cgone[1], c2);
	fx_close(f);
}

/* Timer C restarts on every provisional but 100 (RFC 3261 16.7 step 2);
 * with a provisional seen, expiry sends CANCEL and a 64*T1 guard gives
 * the INVITE time to come back with 487 before 408 (16.8, 9.1). */
static void test_client_timer_c_reset_and_cancel(void **state)
{
	struct txn_config cfg = cfg_default();
	cfg.timer_c_ms = 10000;
	struct fx *f = fx_open_cfg(&cfg);
	sip_str_t br;
	struct txn_client *c = invite_out(f, &br);

	run_to(f, 100);
	feed(f, rs_text(100, br, NULL, "INVITE"));   /* no reset: C at 10000 */
	run_to(f, 4000);
	feed(f, rs_text(180, br, "t", "INVITE"));    /* C at 14000 */
	run_to(f, 12000);
	feed(f, rs_text(183, br, "t", "INVITE"));    /* C at 22000 */
	run_to(f, 15000);
	feed(f, rs_text(100, br, NULL, "INVITE"));   /* no reset */
	run_to(f, 21999);
	assert_int_equal(f->nsent, 1);
	run_to(f, 22000);
	assert_int_equal(f->nsent, 2);
	struct sip_msg *k = sent_msg(f, 1);
	assert_int_equal(k->method, SIP_M_CANCEL);
	assert_view(hval(k, SIP_H_CSEQ), "7 CANCEL");
	assert_int_equal(f->ntmo, 0);
	/* the CANCEL retransmits on Timer E like any non-INVITE */
	run_to(f, 23600);
	assert_int_equal(f->nsent, 4);
	static const uint64_t want[] = { 22000, 22500, 23500 };
	assert_sent_at(f, 1, want, 3);
	assert_true(same_bytes(f, 1, 2));
	/* the CANCEL's 200 is absorbed: not the proxy's business */
	assert_int_equal(feed(f, rs_text(200, br, "t", "CANCEL")), TXN_RESPONSE);
	assert_int_equal(f->nresp, 2);               /* 180, 183 */
	run_to(f, 30000);
	assert_int_equal(f->nsent, 4);               /* CANCEL retransmissions over */
	/* no 487 ever: the guard ends the INVITE with 408 */
	run_to(f, 22000 + 32000 - 1);
	assert_int_equal(f->ntmo, 0);
	run_to(f, 22000 + 32000);
	assert_int_equal(f->ntmo, 1);
	assert_ptr_equal(f->tmo[0].c, c);
	assert_int_equal(f->tmo[0].status, 408);
	assert_int_equal(stats(f).timeouts, 1);
	assert_int_equal(f->ncgone, 1);              /* the INVITE, not our CANCEL */
	assert_all_gone(f);
	fx_close(f);
}

static void test_client_timer_c_then_487(void **state)
{
	struct txn_config cfg = cfg_default();
	cfg.timer_c_ms = 10000;
	struct fx *f = fx_open_cfg(&cfg);
	sip_str_t br;

	invite_out(f, &br);
	run_to(f, 100);
	feed(f, rs_text(180, br, "t", "INVITE"));
	run_to(f, 10100);
	assert_int_equal(f->nsent, 2);
	assert_int_equal(sent_msg(f, 1)->method, SIP_M_CANCEL);
	run_to(f, 10200);
	feed(f, rs_text(200, br, "t", "CANCEL"));
	feed(f, rs_text(487, br, "t", "INVITE"));
	assert_int_equal(f->nresp, 2);
	assert_int_equal(f->resp[1].status, 487);
	assert_int_equal(f->nsent, 3);
	assert_ack(f, 2, br, "t");
	run_to(f, 200000);
	assert_int_equal(f->ntmo, 0);
	assert_int_equal(f->ncgone, 1);
	assert_all_gone(f);
	fx_close(f);
}

/* No provisional when Timer C fires: as if 408 arrived (16.8). */
static void test_client_timer_c_no_provisional(void **state)
{
	struct txn_config cfg = cfg_default();
	cfg.timer_c_ms = 2000;
	struct fx *f = fx_open_cfg(&cfg);
	sip_str_t br;
	struct txn_client *c = invite_out(f, &br);

	run_to(f, 1999);
	assert_int_equal(f->ntmo, 0);
	run_to(f, 2000);
	assert_int_equal(f->ntmo, 1);
	assert_ptr_equal(f->tmo[0].c, c);
	assert_int_equal(f->tmo[0].status, 408);
	run_to(f, 40000);
	assert_int_equal(f->nsent, 3);               /* 0, 500, 1500: no CANCEL */
	assert_int_equal(f->ntmo, 1);
	assert_all_gone(f);
	fx_close(f);
}

/* ---- CANCEL ---------------------------------------------------------------- */

static void test_client_cancel_waits_for_provisional(void **state)
{
	struct fx *f = fx_open();
	sip_str_t br;
	struct txn_client *c = invite_out(f, &br);
	const char *reason = "Reason: SIP;cause=487;text=\"gone\"\r\n";

	run_to(f, 100);
	assert_int_equal(txn_client_cancel(c, S(reason)), 0);
	assert_int_equal(f->nsent, 1);               /* 9.1: not before a 1xx */
	/* a CANCEL response before the CANCEL went out is a stray */
	assert_int_equal(feed(f, rs_text(200, br, "t", "CANCEL")), TXN_STRAY);
	run_to(f, 600);
	assert_int_equal(f->nsent, 2);
	assert_int_equal(sent_msg(f, 1)->method, SIP_M_INVITE);
	assert_int_equal(feed(f, rs_text(180, br, "t", "INVITE")), TXN_RESPONSE);
	assert_int_equal(f->nsent, 3);
	assert_int_equal(f->nresp, 1);

	struct sip_msg *k = sent_msg(f, 2);
	struct sip_via via;
	assert_int_equal(k->method, SIP_M_CANCEL);
	assert_view(k->ruri, "sip:bob@10.0.0.2");
	assert_int_equal(k->count[SIP_H_VIA], 1);
	assert_int_equal(sip_msg_top_via(k, &via), 1);
	assert_true(sip_str_eq(via.branch, br));
	assert_int_equal(k->count[SIP_H_ROUTE], 2);
	assert_view(hval(k, SIP_H_MAX_FORWARDS), "70");
	assert_view(hval(k, SIP_H_FROM), "<sip:alice@example.net>;tag=fa");
	assert_view(hval(k, SIP_H_TO), "<sip:bob@example.com>");  /* the INVITE's */
	assert_view(hval(k, SIP_H_CALL_ID), "fwd1");
	assert_view(hval(k, SIP_H_CSEQ), "7 CANCEL");
	assert_view(hval(k, SIP_H_REASON), "SIP;cause=487;text=\"gone\"");
	assert_view(hval(k, SIP_H_CONTENT_LENGTH), "0");
	assert_int_equal(sip_check(k), SIP_E_OK);
	assert_true(sbc_addr_eq(&f->sent[2].to.addr, &down.addr));

	/* only once */
	assert_int_equal(txn_client_cancel(c, SIP_STR_NULL), 0);
	assert_int_equal(f->nsent, 3);
	assert_int_equal(stats(f).client_active, 2);
	run_to(f, 1100);                                /* Timer E of the CANCEL */
	assert_int_equal(f->nsent, 4);
	assert_true(same_bytes(f, 2, 3));
	assert_int_equal(feed(f, rs_text(200, br, "t", "CANCEL")), TXN_RESPONSE);
	assert_int_equal(feed(f, rs_text(487, br, "t", "INVITE")), TXN_RESPONSE);
	assert_int_equal(f->nresp, 2);
	assert_int_equal(f->resp[1].status, 487);
	assert_int_equal(f->nsent, 5);
	assert_ack(f, 4, br, "t");
	run_to(f, 100000);
	assert_int_equal(f->nsent, 5);
	assert_int_equal(f->ntmo, 0);
	assert_int_equal(f->ncgone, 1);
	assert_int_equal(stats(f).client_created, 2);   /* INVITE + CANCEL */
	assert_all_gone(f);
	fx_close(f);
}

static void test_client_cancel_noop_cases(void **state)
{
	struct fx *f = fx_open();
	sip_str_t b1, b2, b3, b4;
	struct txn_client *c1 = invite_out(f, &b1);
	struct txn_client *c2 = invite_out(f, &b2);
	struct txn_client *c3 = request_out(f, SIP_M_OPTIONS, "OPTIONS", &b3);
	struct txn_client *c4 = txn_client_create(f->sh, SIP_M_INVITE, &down, &b4);

	feed(f, rs_text(486, b1, "x", "INVITE"));
	feed(f, rs_text(200, b2, "y", "INVITE"));
	size_t n = f->nsent;
	assert_int_equal(txn_client_cancel(c1, SIP_STR_NULL), 0);  /* already final */
	assert_int_equal(txn_client_cancel(c2, SIP_STR_NULL), 0);
	feed(f, rs_text(180, b1, "x", "INVITE"));
	assert_int_equal(f->nsent, n);
	assert_int_equal(txn_client_cancel(c3, SIP_STR_NULL), -EINVAL);  /* not INVITE */
	assert_int_equal(txn_client_cancel(c4, SIP_STR_NULL), -EINVAL);  /* not sent */
	assert_int_equal(f->nsent, n);
	assert_int_equal(stats(f).client_active, 4);
	txn_client_abandon(c4);
	run_to(f, 100000);
	assert_int_equal(f->nsent, n + 10);   /* OPTIONS: Timer E only */
	assert_all_gone(f);
	fx_close(f);
}

/* A final before any provisional: the pending CANCEL is never sent. */
static void test_client_cancel_pending_dropped_on_final(void **state)
{
	struct fx *f = fx_open();
	sip_str_t br;
	struct txn_client *c = invite_out(f, &br);

	assert_int_equal(txn_client_cancel(c, SIP_STR_NULL), 0);
	assert_int_equal(stats(f).client_active, 2);
	feed(f, rs_text(503, br, "x", "INVITE"));
	assert_int_equal(stats(f).client_active, 1);
	assert_int_equal(f->nsent, 2);                      /* INVITE, ACK */
	assert_int_equal(sent_msg(f, 1)->method, SIP_M_ACK);
	run_to(f, 100000);
	assert_int_equal(f->nsent, 2);
	assert_all_gone(f);
	fx_close(f);
}

/* No answer at all after a pending CANCEL: Timer B still ends it. */
static void test_client_cancel_pending_then_timer_b(void **state)
{
	struct fx *f = fx_open();
	sip_str_t br;
	struct txn_client *c = invite_out(f, &br);

	assert_int_equal(txn_client_cancel(c, SIP_STR_NULL), 0);
	run_to(f, 40000);
	assert_int_equal(f->ntmo, 1);
	assert_int_equal(f->tmo[0].status, 408);
	assert_int_equal(f->tmo[0].at, 32000);
	for (size_t i = 0; i < f->nsent; i++)
		assert_int_equal(sent_msg(f, i)->method, SIP_M_INVITE);
	assert_all_gone(f);
	fx_close(f);
}

/* ---- client non-INVITE ---------------------------------------------------- */

static void test_client_non_invite_timer_e_f(void **state)
{
	struct fx *f = fx_open();
	sip_str_t br;
	struct txn_client *c = request_out(f, SIP_M_OPTIONS, "OPTIONS", &br);
	static const uint64_t want[] = { 0, 500, 1500, 3500, 7500, 11500, 15500,
					 19500, 23500, 27500, 31500 };

	run_to(f, 40000);
	assert_int_equal(f->nsent, 11);
	assert_sent_at(f, 0, want, 11);    /* doubling, capped at T2 */
	assert_int_equal(f->ntmo, 1);
	assert_ptr_equal(f->tmo[0].c, c);
	assert_int_equal(f->tmo[0].status, 408);
	assert_int_equal(f->tmo[0].at, 32000);   /* Timer F */
	assert_int_equal(f->ncgone, 1);
	assert_all_gone(f);
	fx_close(f);
}

static void test_client_non_invite_proceeding_completed(void **state)
{
	struct fx *f = fx_open();
	sip_str_t br;
	struct txn_client *c = request_out(f, SIP_M_BYE, "BYE", &br);
	static const uint64_t want[] = { 0, 500, 1500, 5500, 9500 };

	run_to(f, 600);
	assert_int_equal(feed(f, rs_text(100, br, "x", "BYE")), TXN_RESPONSE);
	assert_int_equal(f->nresp, 0);
	run_to(f, 2000);
	assert_int_equal(feed(f, rs_text(180, br, "x", "BYE")), TXN_RESPONSE);
	assert_int_equal(f->nresp, 1);
	run_to(f, 10000);
	assert_int_equal(f->nsent, 5);
	assert_sent_at(f, 0, want, 5);     /* Proceeding: every T2 */
	assert_int_equal(feed(f, rs_text(200, br, "x", "BYE")), TXN_RESPONSE);
	assert_int_equal(f->nresp, 2);
	assert_int_equal(f->resp[1].status, 200);
	assert_int_equal(txn_client_final(c), 200);
	assert_int_equal(feed(f, rs_text(200, br, "x", "BYE")), TXN_RESPONSE);
	assert_int_equal(f->nresp, 2);     /* Completed absorbs */
	/* a response with another CSeq method does not match */
	assert_int_equal(feed(f, rs_text(200, br, "x", "INVITE")), TXN_STRAY);
	run_to(f, 10000 + T4 - 1);
	assert_int_equal(f->ncgone, 0);
	run_to(f, 10000 + T4);             /* Timer K */
	assert_int_equal(f->ncgone, 1);
	assert_int_equal(f->nsent, 5);
	assert_int_equal(f->ntmo, 0);
	assert_all_gone(f);
	fx_close(f);
}

/* ---- server INVITE ---------------------------------------------------------- */

static void test_server_invite_trying_and_retransmissions(void **state)
{
	struct fx *f = fx_open();
	struct txn_server *s = screate(f, rq_text(RQ()));
	struct txn_server *match = NULL;

	assert_non_null(s);
	assert_int_equal(txn_server_method(s), SIP_M_INVITE);
	assert_true(sbc_addr_eq(&txn_server_peer(s)->addr, &up.addr));
	/* the stored copy is intact although the input buffer was wiped */
	assert_true(view_is(txn_server_request(s), rq_text(RQ())));
	/* 100 Trying at once */
	assert_int_equal(f->nsent, 1);
	struct sip_msg *t = sent_msg(f, 0);
	assert_false(t->is_request);
	assert_int_equal(t->status, 100);
	assert_view(hval(t, SIP_H_VIA), "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKup1");
	assert_view(to_tag_of(t), "");
	assert_view(hval(t, SIP_H_CSEQ), "1 INVITE");
	assert_view(hval(t, SIP_H_CALL_ID), "c1@192.0.2.1");
	assert_true(sbc_addr_eq(&f->sent[0].to.addr, &up.addr));
	/* Proceeding: a retransmission gets the last provisional */
	assert_int_equal(feed_m(f, rq_text(RQ()), &match), TXN_ABSORBED);
	assert_ptr_equal(match, s);
	assert_int_equal(f->nsent, 2);
	assert_true(same_bytes(f, 0, 1));
	assert_int_equal(txn_server_send(s, 180, up_rs_text(180, "dn"),
					 (uint32_t)strlen(up_rs_text(180, "dn"))), 0);
	assert_int_equal(f->nsent, 3);
	assert_int_equal(feed(f, rq_text(RQ())), TXN_ABSORBED);
	assert_int_equal(f->nsent, 4);
	assert_true(same_bytes(f, 2, 3));
	assert_int_equal(sent_msg(f, 3)->status, 180);
	assert_int_equal(stats(f).retransmits_absorbed, 2);
	assert_int_equal(txn_server_final(s), 0);
	/* no timer in Proceeding: the proxy's Timer C answers eventually */
	run_to(f, 100000);
	assert_int_equal(f->nsent, 4);
	assert_int_equal(stats(f).server_active, 1);
	fx_close(f);
}

static void test_server_invite_non2xx_timer_g_h(void **state)
{
	struct fx *f = fx_open();
	struct txn_server *s = screate(f, rq_text(RQ()));
	static const uint64_t want[] = { 1000, 1500, 2500, 4500, 8500, 12500, 16500,
					 20500, 24500, 28500, 32500 };

	run_to(f, 1000);
	assert_int_equal(txn_server_reply(s, 486, "Busy Here", SIP_STR_NULL), 0);
	assert_int_equal(txn_server_final(s), 486);
	assert_int_equal(f->nsent, 2);
	struct sip_msg *r = sent_msg(f, 1);
	assert_int_equal(r->status, 486);
	assert_view(r->reason, "Busy Here");
	assert_true(sip_str_eq(to_tag_of(r), txn_server_to_tag(s)));
	assert_int_equal(txn_server_to_tag(s).len, 16);
	/* nothing may follow a non-2xx final */
	assert_int_equal(txn_server_send(s, 200, "x", 1), -EALREADY);
	assert_int_equal(txn_server_send(s, 180, "x", 1), -EALREADY);
	assert_int_equal(txn_server_reply(s, 500, "Oops", SIP_STR_NULL), -EALREADY);
	/* Completed: a retransmitted INVITE gets the final */
	run_to(f, 1200);
	assert_int_equal(feed(f, rq_text(RQ())), TXN_ABSORBED);
	assert_int_equal(f->nsent, 3);
	assert_true(same_bytes(f, 1, 2));
	run_to(f, 1000 + 32000 - 1);
	assert_int_equal(f->nsgone, 0);
	run_to(f, 1000 + 32000);              /* Timer H */
	assert_int_equal(f->nsgone, 1);
	assert_ptr_equal(f->sgone[0], s);
	/* datagram 2 was the answer to the retransmission: skip it */
	assert_int_equal(f->nsent, 13);
	assert_int_equal(f->sent[1].at, want[0]);
	assert_sent_at(f, 3, want + 1, 10);  /* Timer G: T1 doubling up to T2 */
	for (size_t i = 3; i < 13; i++)
		assert_true(same_bytes(f, 1, i));
	assert_int_equal(stats(f).retransmits_sent, 10);
	assert_all_gone(f);
	/* gone: the INVITE is new again */
	assert_int_equal(feed(f, rq_text(RQ())), TXN_NEW);
	fx_close(f);
}

static void test_server_invite_ack_confirmed(void **state)
{
	struct fx *f = fx_open();
	struct txn_server *s = screate(f, rq_text(RQ()));
	struct txn_server *match = NULL;
	char tag[32];

	assert_int_equal(txn_server_reply(s, 404, "Not Found", SIP_STR_NULL), 0);
	snprintf(tag, sizeof(tag), "%.*s", (int)txn_server_to_tag(s).len, txn_server_to_tag(s).p);
	run_to(f, 600);
	assert_int_equal(f->nsent, 3);                /* 100, 404, G at 500 */
	/* the hop-by-hop ACK: same branch, To-tag of our 404 */
	assert_int_equal(feed_m(f, rq_text(RQ(.method = "ACK", .to_tag = tag)), &match),
			 TXN_ABSORBED);
	assert_ptr_equal(match, s);
	assert_int_equal(feed(f, rq_text(RQ(.method = "ACK", .to_tag = tag))), TXN_ABSORBED);
	/* Confirmed: INVITE retransmissions absorbed silently, G stopped */
	assert_int_equal(feed(f, rq_text(RQ())), TXN_ABSORBED);
	run_to(f, 600 + T4 - 1);
	assert_int_equal(f->nsent, 3);
	assert_int_equal(f->nsgone, 0);
	run_to(f, 600 + T4);                          /* Timer I */
	assert_int_equal(f->nsgone, 1);
	assert_all_gone(f);
	fx_close(f);
}

static void test_server_invite_2xx_accepted(void **state)
{
	struct fx *f = fx_open();
	struct txn_server *s = screate(f, rq_text(RQ()));
	struct txn_server *match = NULL;
	const char *ok1 = up_rs_text(200, "fork1");

	assert_int_equal(txn_server_send(s, 200, ok1, (uint32_t)strlen(ok1)), 0);
	assert_int_equal(txn_server_final(s), 200);
	assert_int_equal(f->nsent, 2);
	/* Accepted: INVITE retransmissions absorbed without an answer */
	assert_int_equal(feed(f, rq_text(RQ())), TXN_ABSORBED);
	assert_int_equal(f->nsent, 2);
	/* the ACK of a 2xx has a branch of its own: end to end */
	assert_int_equal(feed_m(f, rq_text(RQ(.method = "ACK", .branch = "z9hG4bKack", .to_tag = "fork1")),
				&match), TXN_ACK);
	assert_null(match);
	/* one that matches the transaction while Accepted is passed on too */
	assert_int_equal(feed_m(f, rq_text(RQ(.method = "ACK", .to_tag = "fork1")), &match), TXN_ACK);
	assert_ptr_equal(match, s);
	/* further 2xx (forking, retransmissions from downstream) pass */
	const char *ok2 = up_rs_text(200, "fork2");
	assert_int_equal(txn_server_send(s, 200, ok2, (uint32_t)strlen(ok2)), 0);
	assert_int_equal(f->nsent, 3);
	assert_view(to_tag_of(sent_msg(f, 2)), "fork2");
	assert_int_equal(txn_server_send(s, 486, "x", 1), -EALREADY);
	assert_int_equal(txn_server_send(s, 180, "x", 1), -EALREADY);
	assert_int_equal(f->nsent, 3);
	run_to(f, 32000 - 1);
	assert_int_equal(f->nsgone, 0);
	run_to(f, 32000);                              /* Timer L */
	assert_int_equal(f->nsgone, 1);
	assert_int_equal(f->nsent, 3);                 /* the 2xx is not ours to resend */
	assert_all_gone(f);
	fx_close(f);
}

static void test_server_to_tags(void **state)
{
	struct fx *f = fx_open();
	struct txn_server *a = screate(f, rq_text(RQ(.branch = "z9hG4bKa")));
	struct txn_server *b = screate(f, rq_text(RQ(.branch = "z9hG4bKb")));
	struct txn_server *d = screate(f, rq_text(RQ(.method = "BYE", .branch = "z9hG4bKd",
						     .to_tag = "dlgtag")));
	sip_str_t ta = txn_server_to_tag(a), tb = txn_server_to_tag(b);

	assert_int_equal(ta.len, 16);
	for (uint32_t i = 0; i < ta.len; i++)
		assert_non_null(strchr("0123456789abcdef", ta.p[i]));
	assert_false(sip_str_eq(ta, tb));
	/* the same tag on every response of a transaction */
	assert_int_equal(txn_server_reply(a, 180, "Ringing", SIP_STR_NULL), 0);
	assert_int_equal(txn_server_reply(a, 603, "Decline", S("Retry-After: 5\r\n")), 0);
	size_t n = f->nsent;
	assert_true(sip_str_eq(to_tag_of(sent_msg(f, n - 2)), ta));
	struct sip_msg *r = sent_msg(f, n - 1);
	assert_true(sip_str_eq(to_tag_of(r), ta));
	assert_view(hval(r, SIP_H_RETRY_AFTER), "5");
	/* an in-dialog request keeps its own To-tag */
	assert_view(txn_server_to_tag(d), "dlgtag");
	assert_int_equal(txn_server_reply(d, 200, "OK", SIP_STR_NULL), 0);
	r = sent_msg(f, f->nsent - 1);
	assert_view(hval(r, SIP_H_TO), "<sip:bob@example.com>;tag=dlgtag");
	fx_close(f);
}

/* ---- server non-INVITE --------------------------------------------------------- */

static void test_server_non_invite(void **state)
{
	struct fx *f = fx_open();
	const char *bye = rq_text(RQ(.method = "BYE", .to_tag = "tt"));
	char req[4096];
	snprintf(req, sizeof(req), "%s", bye);
	struct txn_server *s = screate(f, req);

	assert_non_null(s);
	assert_int_equal(f->nsent, 0);                 /* no 100 for non-INVITE */
	/* Trying: absorbed silently */
	assert_int_equal(feed(f, req), TXN_ABSORBED);
	assert_int_equal(f->nsent, 0);
	/* Proceeding: the provisional again */
	assert_int_equal(txn_server_reply(s, 183, "Progress", SIP_STR_NULL), 0);
	assert_int_equal(feed(f, req), TXN_ABSORBED);
	assert_int_equal(f->nsent, 2);
	assert_true(same_bytes(f, 0, 1));
	/* Completed: the final again */
	run_to(f, 100);
	assert_int_equal(txn_server_reply(s, 200, "OK", SIP_STR_NULL), 0);
	assert_int_equal(txn_server_reply(s, 200, "OK", SIP_STR_NULL), -EALREADY);
	assert_int_equal(feed(f, req), TXN_ABSORBED);
	assert_int_equal(f->nsent, 4);
	assert_true(same_bytes(f, 2, 3));
	assert_int_equal(sent_msg(f, 3)->status, 200);
	assert_int_equal(stats(f).retransmits_absorbed, 3);
	run_to(f, 100 + 32000 - 1);
	assert_int_equal(f->nsent, 4);                 /* no Timer G for non-INVITE */
	assert_int_equal(f->nsgone, 0);
	run_to(f, 100 + 32000);                        /* Timer J */
	assert_int_equal(f->nsgone, 1);
	assert_all_gone(f);
	fx_close(f);
}

/* ---- matching ---------------------------------------------------------------- */

static void test_cancel_matching(void **state)
{
	struct fx *f = fx_open();
	struct txn_server *inv = screate(f, rq_text(RQ()));
	struct txn_server *match = NULL;
	const char *cancel = rq_text(RQ(.method = "CANCEL"));
	char creq[4096];

	snprintf(creq, sizeof(creq), "%s", cancel);
	assert_int_equal(feed_m(f, creq, &match), TXN_CANCEL);
	assert_ptr_equal(match, inv);
	struct sip_msg *m = parse_in(f, creq);
	struct txn_server *sc = txn_server_create(f->sh, m, &up);
	wipe_in(f);
	assert_non_null(sc);
	assert_int_equal(txn_server_method(sc), SIP_M_CANCEL);
	assert_int_equal(txn_server_reply(sc, 200, "OK", SIP_STR_NULL), 0);
	size_t n = f->nsent;
	/* the CANCEL's retransmission: its own 200 again */
	assert_int_equal(feed_m(f, creq, &match), TXN_ABSORBED);
	assert_ptr_equal(match, sc);
	assert_int_equal(f->nsent, n + 1);
	assert_int_equal(sent_msg(f, n)->status, 200);
	assert_view(hval(sent_msg(f, n), SIP_H_CSEQ), "1 CANCEL");
	/* other branch, other sent-by: nothing to cancel */
	assert_int_equal(feed_m(f, rq_text(RQ(.method = "CANCEL", .branch = "z9hG4bKzz")), &match),
			 TXN_CANCEL_NOMATCH);
	assert_null(match);
	assert_int_equal(feed(f, rq_text(RQ(.method = "CANCEL", .sent_by = "192.0.2.9:5060"))),
			 TXN_CANCEL_NOMATCH);
	/* answered INVITEs: late */
	struct txn_server *i2 = screate(f, rq_text(RQ(.branch = "z9hG4bKi2")));
	struct txn_server *i3 = screate(f, rq_text(RQ(.branch = "z9hG4bKi3")));
	assert_int_equal(txn_server_reply(i2, 486, "Busy", SIP_STR_NULL), 0);
	assert_int_equal(txn_server_send(i3, 200, up_rs_text(200, "x"),
					 (uint32_t)strlen(up_rs_text(200, "x"))), 0);
	assert_int_equal(feed_m(f, rq_text(RQ(.method = "CANCEL", .branch = "z9hG4bKi2")), &match),
			 TXN_CANCEL_LATE);
	assert_ptr_equal(match, i2);
	assert_int_equal(feed_m(f, rq_text(RQ(.method = "CANCEL", .branch = "z9hG4bKi3")), &match),
			 TXN_CANCEL_LATE);
	assert_ptr_equal(match, i3);
	/* a CANCEL never matches a non-INVITE */
	screate(f, rq_text(RQ(.method = "OPTIONS", .branch = "z9hG4bKo")));
	assert_int_equal(feed(f, rq_text(RQ(.method = "CANCEL", .branch = "z9hG4bKo"))),
			 TXN_CANCEL_NOMATCH);
	fx_close(f);
}

static void test_matching_key_parts(void **state)
{
	struct fx *f = fx_open();
	struct txn_server *match;

	assert_non_null(screate(f, rq_text(RQ())));
	/* same branch, other method: another transaction (17.2.3) */
	assert_int_equal(feed(f, rq_text(RQ(.method = "BYE"))), TXN_NEW);
	/* same branch, other sent-by host or port */
	assert_int_equal(feed(f, rq_text(RQ(.sent_by = "192.0.2.2:5060"))), TXN_NEW);
	assert_int_equal(feed(f, rq_text(RQ(.sent_by = "192.0.2.1:5070"))), TXN_NEW);
	assert_int_equal(feed(f, rq_text(RQ(.sent_by = "192.0.2.1"))), TXN_NEW);
	/* other branch */
	assert_int_equal(feed(f, rq_text(RQ(.branch = "z9hG4bKup2"))), TXN_NEW);
	/* an RFC 3261 branch alone decides: Call-ID, CSeq, R-URI do not */
	assert_int_equal(feed_m(f, rq_text(RQ(.call_id = "other", .cseq = 9, .ruri = "sip:x@y")), &match),
			 TXN_ABSORBED);
	/* extension methods are classes of their own */
	assert_non_null(screate(f, rq_text(RQ(.method = "FOO", .branch = "z9hG4bKext"))));
	assert_int_equal(feed(f, rq_text(RQ(.method = "FOO", .branch = "z9hG4bKext"))), TXN_ABSORBED);
	assert_int_equal(feed(f, rq_text(RQ(.method = "BAR", .branch = "z9hG4bKext"))), TXN_NEW);
	assert_non_null(screate(f, rq_text(RQ(.method = "BAR", .branch = "z9hG4bKext"))));
	/* creating twice for the same key is refused */
	struct sip_msg *m = parse_in(f, rq_text(RQ()));
	assert_null(txn_server_create(f->sh, m, &up));
	/* ACK and responses never create a server transaction */
	m = parse_in(f, rq_text(RQ(.method = "ACK", .branch = "z9hG4bKnew")));
	assert_null(txn_server_create(f->sh, m, &up));
	assert_int_equal(stats(f).server_active, 3);
	fx_close(f);
}

/* RFC 2543 peers: no cookie (or a bare cookie) in the branch. */
static void test_matching_rfc2543(void **state)
{
	struct fx *f = fx_open();
	struct txn_server *match = NULL;
	const char *inv_text = rq_text(RQ(.branch = NULL));
	char inv[4096];

	snprintf(inv, sizeof(inv), "%s", inv_text);
	struct txn_server *s = screate(f, inv);
	assert_non_null(s);
	assert_int_equal(feed_m(f, inv, &match), TXN_ABSORBED);
	assert_ptr_equal(match, s);
	/* each of the key's fields separates transactions */
	assert_int_equal(feed(f, rq_text(RQ(.branch = NULL, .cseq = 2))), TXN_NEW);
	assert_int_equal(feed(f, rq_text(RQ(.branch = NULL, .from_tag = "fb"))), TXN_NEW);
	assert_int_equal(feed(f, rq_text(RQ(.branch = NULL, .call_id = "c2"))), TXN_NEW);
	assert_int_equal(feed(f, rq_text(RQ(.branch = NULL, .ruri = "sip:carol@example.com"))), TXN_NEW);
	assert_int_equal(feed(f, rq_text(RQ(.branch = NULL, .sent_by = "192.0.2.7"))), TXN_NEW);
	assert_int_equal(feed(f, rq_text(RQ(.branch = NULL, .method = "BYE"))), TXN_NEW);
	/* a non-cookie branch is just ignored, like its absence */
	assert_int_equal(feed(f, rq_text(RQ(.branch = "1234"))), TXN_ABSORBED);
	/* CANCEL matches by the same fields */
	assert_int_equal(feed_m(f, rq_text(RQ(.branch = NULL, .method = "CANCEL")), &match), TXN_CANCEL);
	assert_ptr_equal(match, s);
	/* the ACK of our non-2xx carries our To-tag and still matches */
	assert_int_equal(txn_server_reply(s, 480, "Unavailable", SIP_STR_NULL), 0);
	char tag[32];
	snprintf(tag, sizeof(tag), "%.*s", (int)txn_server_to_tag(s).len, txn_server_to_tag(s).p);
	assert_int_equal(feed_m(f, rq_text(RQ(.branch = NULL, .method = "ACK", .to_tag = tag)), &match),
			 TXN_ABSORBED);
	assert_ptr_equal(match, s);
	assert_int_equal(feed(f, rq_text(RQ(.branch = NULL, .method = "CANCEL"))), TXN_CANCEL_LATE);
	/* a bare cookie is no RFC 3261 branch: two calls with it stay apart */
	struct txn_server *b1 = screate(f, rq_text(RQ(.branch = "z9hG4bK", .call_id = "k1")));
	struct txn_server *b2 = screate(f, rq_text(RQ(.branch = "z9hG4bK", .call_id = "k2")));
	assert_non_null(b1);
	assert_non_null(b2);
	assert_ptr_not_equal(b1, b2);
	assert_int_equal(feed_m(f, rq_text(RQ(.branch = "z9hG4bK", .call_id = "k2")), &match),
			 TXN_ABSORBED);
	assert_ptr_equal(match, b2);
	fx_close(f);
}

static void test_stray_responses(void **state)
{
	struct fx *f = fx_open();
	sip_str_t br, brv;
	struct txn_client *c = invite_out(f, &br);
	char b[31];

	(void)c;
	memcpy(b, br.p, 30);
	b[30] = 0;
	sip_str_t forged = { b, 30 };
	assert_int_equal(feed(f, rs_text(180, S("z9hG4bKnotours"), "t", "INVITE")), TXN_STRAY);
	/* wrong shard */
	b[12] = '0'; b[13] = '4';
	assert_int_equal(feed(f, rs_text(180, forged, "t", "INVITE")), TXN_STRAY);
	b[12] = '0'; b[13] = '3';
	/* right shard and index, wrong generation */
	b[29] = b[29] == '0' ? '1' : '0';
	assert_int_equal(feed(f, rs_text(180, forged, "t", "INVITE")), TXN_STRAY);
	b[29] = br.p[29];
	/* index beyond the pool */
	memcpy(b + 14, "7fffffff", 8);
	assert_int_equal(feed(f, rs_text(180, forged, "t", "INVITE")), TXN_STRAY);
	memcpy(b + 14, br.p + 14, 8);
	/* upper-case hex is not what we mint */
	for (int i = 14; i < 30; i++)
		if (b[i] >= 'a' && b[i] <= 'f')
			b[i] = (char)(b[i] - 32);
	uint64_t strays = 4;
	if (memcmp(b, br.p, 30) != 0) {
		assert_int_equal(feed(f, rs_text(180, forged, "t", "INVITE")), TXN_STRAY);
		strays++;
	}
	/* CSeq method of another transaction, or of a CANCEL never sent */
	assert_int_equal(feed(f, rs_text(200, br, "t", "BYE")), TXN_STRAY);
	assert_int_equal(feed(f, rs_text(200, br, "t", "CANCEL")), TXN_STRAY);
	/* a reserved, never sent transaction expects nothing */
	struct txn_client *r = txn_client_create(f->sh, SIP_M_OPTIONS, &down, &brv);
	assert_int_equal(feed(f, rs_text(200, brv, "t", "OPTIONS")), TXN_STRAY);
	assert_int_equal(f->nresp, 0);
	assert_int_equal(stats(f).stray_responses, strays + 3);
	/* the real one still works */
	assert_int_equal(feed(f, rs_text(180, br, "t", "INVITE")), TXN_RESPONSE);
	assert_int_equal(f->nresp, 1);
	/* a slot reused after its transaction ended has a new generation */
	txn_client_abandon(r);
	sip_str_t br2;
	char old[31];
	memcpy(old, brv.p, 30);
	struct txn_client *r2 = request_out(f, SIP_M_OPTIONS, "OPTIONS", &br2);
	assert_memory_equal(br2.p, old, 22);             /* same shard and index */
	assert_memory_not_equal(br2.p + 22, old + 22, 8);
	assert_int_equal(feed(f, rs_text(200, (sip_str_t){ old, 30 }, "t", "OPTIONS")), TXN_STRAY);
	assert_int_equal(feed(f, rs_text(200, br2, "t", "OPTIONS")), TXN_RESPONSE);
	(void)r2;
	fx_close(f);
}

/* ---- resources ------------------------------------------------------------- */

static void test_pool_exhaustion_and_recovery(void **state)
{
	struct txn_config cfg = cfg_default();
	cfg.max_server = 2;
	cfg.max_client = 2;
	struct fx *f = fx_open_cfg(&cfg);
	sip_str_t b1, b2, b3;

	struct txn_server *s1 = screate(f, rq_text(RQ(.method = "OPTIONS", .branch = "z9hG4bK1")));
	struct txn_server *s2 = screate(f, rq_text(RQ(.method = "OPTIONS", .branch = "z9hG4bK2")));
	assert_non_null(s1);
	assert_non_null(s2);
	assert_null(screate(f, rq_text(RQ(.method = "OPTIONS", .branch = "z9hG4bK3"))));
	struct txn_client *c1 = request_out(f, SIP_M_OPTIONS, "OPTIONS", &b1);
	struct txn_client *c2 = invite_out(f, &b2);
	assert_null(txn_client_create(f->sh, SIP_M_OPTIONS, &down, &b3));
	/* no room for a CANCEL either; the INVITE still ends on Timer B */
	feed(f, rs_text(180, b2, "t", "INVITE"));
	assert_int_equal(txn_client_cancel(c2, SIP_STR_NULL), -ENOBUFS);
	assert_int_equal(stats(f).pool_exhausted, 3);

	/* recovery: the transactions end, the slots come back */
	assert_int_equal(txn_server_reply(s1, 200, "OK", SIP_STR_NULL), 0);
	feed(f, rs_text(200, b1, "t", "OPTIONS"));
	run_to(f, 32000);
	assert_non_null(screate(f, rq_text(RQ(.method = "OPTIONS", .branch = "z9hG4bK3"))));
	struct txn_client *c3 = request_out(f, SIP_M_OPTIONS, "OPTIONS", &b3);
	assert_non_null(c3);
	assert_int_equal(stats(f).client_active, 2);
	(void)c1;
	fx_close(f);
}

static void test_oversized_and_large(void **state)
{
	struct fx *f = fx_open();
	sip_str_t br;
	static char big[70000];
	struct txn_client *c = txn_client_create(f->sh, SIP_M_MESSAGE, &down, &br);

	memset(big, 'a', sizeof(big));
	assert_int_equal(csend(f, c, big, 65537), -E2BIG);
	assert_int_equal(f->nsent, 0);
	/* nothing happened: c is still reserved and can be abandoned */
	run_to(f, 10);
	assert_int_equal(f->ntmo, 0);
	txn_client_abandon(c);

	/* a 5 KB request lives in the 8 KiB class and retransmits intact */
	c = txn_client_create(f->sh, SIP_M_MESSAGE, &down, &br);
	int n = snprintf(big, sizeof(big),
		     "MESSAGE sip:bob@10.0.0.2 SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=%.*s\r\n"
		     "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: big\r\n"
		     "CSeq: 1 MESSAGE\r\nContent-Length: 5000\r\n\r\n",
		     (int)br.len, br.p);
	memset(big + n, 'z', 5000);
	assert_int_equal(csend(f, c, big, (uint32_t)n + 5000), 0);
	memset(big, 0, sizeof(big));
	run_to(f, 600);
	assert_int_equal(f->nsent, 2);
	assert_int_equal(f->sent[1].len, (uint32_t)n + 5000);
	struct sip_msg *m = sent_msg(f, 1);
	assert_int_equal(m->body_len, 5000);
	assert_int_equal(m->buf[m->body_off + 4999], 'z');

	/* a server transaction for a 30 KB request (64 KiB class) */
	char *req = malloc(40000);
	assert_non_null(req);
	int k = snprintf(req, 40000,
			 "MESSAGE sip:bob@example.com SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKbig\r\n"
			 "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: big2\r\n"
			 "CSeq: 1 MESSAGE\r\nContent-Length: 30000\r\n\r\n");
	memset(req + k, 'q', 30000);
	req[k + 30000] = 0;
	struct txn_server *s = screate(f, req);
	assert_non_null(s);
	assert_int_equal(txn_server_request(s).len, (uint32_t)k + 30000);
	assert_int_equal(feed(f, req), TXN_ABSORBED);
	free(req);
	fx_close(f);
}

/* The 64 KiB class runs dry (N/1024 + 2 buffers, here 2): overload, told
 * as 503 on the next tick like a transport error. */
static void test_slab_exhaustion(void **state)
{
	struct fx *f = fx_open();
	sip_str_t br;
	static char big[60000];
	struct txn_client *c[3];

	memset(big, 'a', sizeof(big));
	for (int i = 0; i < 3; i++)
		c[i] = txn_client_create(f->sh, SIP_M_MESSAGE, &down, &br);
	assert_int_equal(csend(f, c[0], big, sizeof(big)), 0);
	assert_int_equal(csend(f, c[1], big, sizeof(big)), 0);
	uint64_t ex = stats(f).pool_exhausted;
	assert_int_equal(csend(f, c[2], big, sizeof(big)), -ENOBUFS);
	assert_int_equal(stats(f).pool_exhausted, ex + 1);
	assert_int_equal(f->nsent, 2);
	assert_int_equal(f->ntmo, 0);
	run_to(f, 1);
	assert_int_equal(f->ntmo, 1);
	assert_ptr_equal(f->tmo[0].c, c[2]);
	assert_int_equal(f->tmo[0].status, 503);
	fx_close(f);
}


/* ---- early release of stored messages ----------------------------------------
 * A transaction keeps a message copy only while the RFC needs it (txn.h):
 * these tests watch the slabs through txn_stats (buffers_held, and
 * buffer_bytes_held for the class a copy sits in). */

/* An INVITE with an SDP-sized body (lands in the 2 KiB class). */
static const char *rq_with_body(const char *method, const char *branch, unsigned body)
{
	static char buf[4096];
	int n = snprintf(buf, sizeof(buf),
			 "%s sip:bob@example.com SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=%s\r\n"
			 "Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKfar\r\n"
			 "Max-Forwards: 70\r\n"
			 "From: <sip:alice@example.net>;tag=fa\r\n"
			 "To: <sip:bob@example.com>\r\n"
			 "Call-ID: c1@192.0.2.1\r\n"
			 "CSeq: 1 %s\r\n"
			 "Contact: <sip:alice@192.0.2.1>\r\n"
			 "Content-Type: application/sdp\r\n"
			 "Content-Length: %u\r\n\r\n",
			 method, branch, method, body);
	assert_true(n > 0 && (size_t)n + body < sizeof(buf));
	memset(buf + n, 'v', body);
	buf[n + (int)body] = 0;
	return buf;
}

/* Non-INVITE: the request goes back to its slab with the final; the key
 * copied into the transaction still matches retransmissions, which get
 * the stored final, and Timer J then frees the rest. */
static void test_release_server_non_invite(void **state)
{
	struct fx *f = fx_open();
	char req[4096];
	snprintf(req, sizeof(req), "%s", rq_text(RQ(.method = "BYE", .to_tag = "tt")));
	struct txn_server *s = screate(f, req);

	assert_non_null(s);
	assert_int_equal(stats(f).buffers_held, 1);           /* the request */
	assert_true(txn_server_request(s).len > 0);
	assert_int_equal(txn_server_reply(s, 200, "OK", SIP_STR_NULL), 0);
	assert_int_equal(stats(f).buffers_held, 1);           /* the final only */
	assert_int_equal(txn_server_request(s).len, 0);
	assert_view(txn_server_to_tag(s), "tt");              /* kept apart */
	run_to(f, 1000);
	assert_int_equal(feed(f, req), TXN_ABSORBED);
	assert_int_equal(f->nsent, 2);
	assert_true(same_bytes(f, 0, 1));
	assert_view(to_tag_of(sent_msg(f, 1)), "tt");
	/* nothing can be built any more, and nothing may be */
	assert_int_equal(txn_server_reply(s, 500, "No", SIP_STR_NULL), -EALREADY);
	/* a request of another transaction is not mistaken for it */
	assert_int_equal(feed(f, rq_text(RQ(.method = "BYE", .to_tag = "tt", .branch = "z9hG4bKo"))),
			 TXN_NEW);
	run_to(f, 32000);
	assert_int_equal(f->nsgone, 1);
	assert_int_equal(stats(f).buffers_held, 0);
	assert_all_gone(f);
	fx_close(f);
}

/* INVITE answered 2xx (RFC 6026 Accepted): no stored response, and the
 * request shrinks to its header section (the owner reads Vias, From ...
 * to forward further 2xx), out of the 2 KiB class; retransmitted INVITEs
 * are absorbed without any buffer being needed. */
static void test_release_server_invite_accepted(void **state)
{
	struct fx *f = fx_open();
	char req[4096];
	snprintf(req, sizeof(req), "%s", rq_with_body("INVITE", "z9hG4bKacc", 1400));
	struct txn_server *s = screate(f, req);
	struct txn_server *match = NULL;
	const char *ok = up_rs_text(200, "t1");

	assert_non_null(s);
	assert_int_equal(stats(f).buffers_held, 2);           /* request + 100 */
	assert_int_equal(txn_server_send(s, 200, ok, (uint32_t)strlen(ok)), 0);
	struct txn_stats st = stats(f);
	assert_int_equal(st.buffers_held, 1);
	assert_int_equal(st.buffer_bytes_held, 1024);
	sip_str_t r = txn_server_request(s);
	assert_int_equal(sip_parse(f->pm, r.p, r.len), SIP_E_OK);
	assert_int_equal(f->pm->method, SIP_M_INVITE);
	assert_int_equal(f->pm->body_len, 0);
	assert_view(hval(f->pm, SIP_H_CONTENT_LENGTH), "0");
	assert_int_equal(f->pm->count[SIP_H_VIA], 2);
	assert_view(hval(f->pm, SIP_H_FROM), "<sip:alice@example.net>;tag=fa");
	assert_view(hval(f->pm, SIP_H_CALL_ID), "c1@192.0.2.1");
	size_t sent = f->nsent;
	for (int i = 0; i < 3; i++)
		assert_int_equal(feed(f, req), TXN_ABSORBED);
	assert_int_equal(f->nsent, sent);
	assert_int_equal(stats(f).buffers_held, 1);
	assert_int_equal(feed_m(f, rq_text(RQ(.method = "ACK", .branch = "z9hG4bKacc", .to_tag = "t1")),
				&match), TXN_ACK);
	assert_ptr_equal(match, s);
	/* a further 2xx still goes out; its own tag is the forwarder's */
	ok = up_rs_text(200, "t2");
	assert_int_equal(txn_server_send(s, 200, ok, (uint32_t)strlen(ok)), 0);
	assert_int_equal(f->nsent, sent + 1);
	run_to(f, 32000);
	assert_int_equal(stats(f).buffers_held, 0);
	assert_all_gone(f);
	fx_close(f);
}

/* INVITE answered non-2xx: Completed keeps only the final, resent by
 * Timer G and for retransmitted INVITEs; the ACK still matches. */
static void test_release_server_invite_completed(void **state)
{
	struct fx *f = fx_open();
	char req[4096];
	snprintf(req, sizeof(req), "%s", rq_with_body("INVITE", "z9hG4bKrej", 1400));
	struct txn_server *s = screate(f, req);
	struct txn_server *match = NULL;

	assert_int_equal(txn_server_reply(s, 486, "Busy Here", SIP_STR_NULL), 0);
	assert_int_equal(stats(f).buffers_held, 1);
	assert_int_equal(stats(f).buffer_bytes_held, 1024);
	assert_int_equal(txn_server_request(s).len, 0);
	sip_str_t tag = txn_server_to_tag(s);
	assert_int_equal(tag.len, 16);
	run_to(f, 400);
	assert_int_equal(feed(f, req), TXN_ABSORBED);
	assert_int_equal(f->nsent, 3);                         /* 100, 486, 486 */
	assert_true(same_bytes(f, 1, 2));
	run_to(f, 500);                                        /* Timer G */
	assert_int_equal(f->nsent, 4);
	assert_true(same_bytes(f, 1, 3));
	char ack[4096];
	char t[32];
	snprintf(t, sizeof(t), "%.*s", (int)tag.len, tag.p);
	snprintf(ack, sizeof(ack), "%s",
		 rq_text(RQ(.method = "ACK", .branch = "z9hG4bKrej", .to_tag = t)));
	assert_int_equal(feed_m(f, ack, &match), TXN_ABSORBED);
	assert_ptr_equal(match, s);
	run_to(f, 40000);
	assert_int_equal(f->nsent, 4);                         /* Confirmed: G stopped */
	assert_int_equal(stats(f).buffers_held, 0);
	assert_all_gone(f);
	fx_close(f);
}

/* A key too long to copy into the transaction keeps the request (pinned):
 * matching must never depend on a released buffer. */
static void test_release_pinned_long_key(void **state)
{
	struct fx *f = fx_open();
	char branch[200], req[4096];
	memcpy(branch, "z9hG4bK", 7);
	memset(branch + 7, 'b', 150);
	branch[157] = 0;
	snprintf(req, sizeof(req), "%s", rq_text(RQ(.method = "OPTIONS", .branch = branch)));
	struct txn_server *s = screate(f, req);

	assert_int_equal(txn_server_reply(s, 200, "OK", SIP_STR_NULL), 0);
	assert_int_equal(stats(f).buffers_held, 2);            /* request stays */
	assert_true(txn_server_request(s).len > 0);
	assert_int_equal(feed(f, req), TXN_ABSORBED);
	assert_int_equal(f->nsent, 2);
	assert_true(same_bytes(f, 0, 1));
	run_to(f, 32000);
	assert_int_equal(stats(f).buffers_held, 0);
	fx_close(f);
}

/* Client INVITE, non-2xx: the INVITE (2 KiB class with its body) gives way
 * to the ACK it needed (1 KiB), which answers every retransmitted final
 * until Timer D, byte for byte. */
static void test_release_client_invite_non2xx(void **state)
{
	struct fx *f = fx_open();
	sip_str_t br;
	char buf[4096];
	struct txn_client *c = txn_client_create(f->sh, SIP_M_INVITE, &down, &br);
	uint32_t n = fwd(buf, "INVITE", br);

	/* the same request with a 1400-byte body */
	n -= (uint32_t)strlen("Content-Length: 0\r\n\r\n");
	n += (uint32_t)snprintf(buf + n, sizeof(buf) - n, "Content-Length: 1400\r\n\r\n");
	memset(buf + n, 'v', 1400);
	n += 1400;
	assert_int_equal(csend(f, c, buf, n), 0);
	assert_int_equal(stats(f).buffer_bytes_held, 2048);
	run_to(f, 100);
	assert_int_equal(feed(f, rs_text(503, br, "x", "INVITE")), TXN_RESPONSE);
	assert_int_equal(f->nresp, 1);
	assert_int_equal(f->nsent, 2);
	assert_ack(f, 1, br, "x");
	struct txn_stats st = stats(f);
	assert_int_equal(st.buffers_held, 1);
	assert_int_equal(st.buffer_bytes_held, 1024);          /* the ACK, not the INVITE */
	/* the owner lets go; the transaction ACKs on its own until Timer D */
	txn_client_abandon(c);
	for (uint64_t t = 1000; t <= 31000; t += 10000) {
		run_to(f, t);
		assert_int_equal(feed(f, rs_text(503, br, "x", "INVITE")), TXN_RESPONSE);
		assert_true(same_bytes(f, 1, f->nsent - 1));
	}
	assert_int_equal(f->nsent, 6);
	assert_int_equal(f->nresp, 1);
	run_to(f, 100 + 32000);
	assert_int_equal(stats(f).buffers_held, 0);
	assert_int_equal(feed(f, rs_text(503, br, "x", "INVITE")), TXN_STRAY);
	assert_int_equal(f->nsent, 6);
	assert_all_gone(f);
	fx_close(f);
}

/* Client INVITE 2xx (Accepted) and non-INVITE finals (Completed, Timer K)
 * hold nothing: further 2xx are still reported. */
static void test_release_client_finals(void **state)
{
	struct fx *f = fx_open();
	sip_str_t bi, bo;

	invite_out(f, &bi);
	request_out(f, SIP_M_BYE, "BYE", &bo);
	assert_int_equal(stats(f).buffers_held, 2);
	assert_int_equal(feed(f, rs_text(200, bi, "a", "INVITE")), TXN_RESPONSE);
	assert_int_equal(stats(f).buffers_held, 1);
	assert_int_equal(feed(f, rs_text(200, bo, "a", "BYE")), TXN_RESPONSE);
	assert_int_equal(stats(f).buffers_held, 0);
	assert_int_equal(feed(f, rs_text(200, bi, "a", "INVITE")), TXN_RESPONSE);
	assert_int_equal(feed(f, rs_text(200, bo, "a", "BYE")), TXN_RESPONSE);
	assert_int_equal(f->nresp, 3);                         /* RFC 6026 7.2 */
	run_to(f, 40000);
	assert_int_equal(f->nsent, 2);                         /* nothing retransmitted */
	assert_all_gone(f);
	fx_close(f);
}

/* Stored copies can be far fewer than transactions: with max_messages 1
 * (a few buffers of each class), transactions lingering after their final
 * hold none; only active ones do, and when those run the slabs dry a
 * create/send is refused (the proxy answers 503) and counted. */
static void test_release_lets_many_linger(void **state)
{
	struct txn_config cfg = cfg_default();
	cfg.max_server = 64;
	cfg.max_client = 64;
	cfg.max_messages = 1;
	struct fx *f = fx_open_cfg(&cfg);
	struct txn_client *c[64];
	sip_str_t br[64];
	char b[32];

	assert_int_equal(stats(f).buffers_total, 9 + 8 + 4 + 2);
	for (int i = 0; i < 40; i++) {
		c[i] = request_out(f, SIP_M_BYE, "BYE", &br[i]);
		assert_int_equal(feed(f, rs_text(200, br[i], "a", "BYE")), TXN_RESPONSE);
	}
	for (int i = 40; i < 50; i++) {
		c[i] = invite_out(f, &br[i]);
		assert_int_equal(feed(f, rs_text(200, br[i], "a", "INVITE")), TXN_RESPONSE);
	}
	struct txn_stats st = stats(f);
	assert_int_equal(st.client_active, 50);
	assert_int_equal(st.buffers_held, 0);
	/* active requests take the buffers, borrowing upwards: 23 fit */
	for (int i = 50; i < 64; i++)
		c[i] = request_out(f, SIP_M_OPTIONS, "OPTIONS", &br[i]);
	for (int i = 0; i < 9; i++) {
		snprintf(b, sizeof(b), "z9hG4bKm%d", i);
		assert_non_null(screate(f, rq_text(RQ(.method = "OPTIONS", .branch = b))));
	}
	assert_int_equal(stats(f).buffers_held, 23);
	uint64_t ex = stats(f).pool_exhausted;
	assert_null(screate(f, rq_text(RQ(.method = "OPTIONS", .branch = "z9hG4bKlast"))));
	assert_int_equal(stats(f).pool_exhausted, ex + 1);
	/* a final gives the request's buffer back at once: room again */
	assert_int_equal(feed(f, rs_text(200, br[50], "a", "OPTIONS")), TXN_RESPONSE);
	assert_int_equal(stats(f).buffers_held, 22);
	assert_non_null(screate(f, rq_text(RQ(.method = "OPTIONS", .branch = "z9hG4bKlast"))));
	(void)c;
	fx_close(f);
}
/* ---- transport failures ------------------------------------------------------ */

static void test_send_failure_async_503(void **state)
{
	struct fx *f = fx_open();
	sip_str_t b1, b2, b3;
	char buf[2048];

	/* the first send fails: -EIO now, 503 on the next tick, never inline */
	struct txn_client *c1 = txn_client_create(f->sh, SIP_M_INVITE, &down, &b1);
	f->fail_next = 1;
	assert_int_equal(csend(f, c1, buf, fwd(buf, "INVITE", b1)), -EIO);
	assert_int_equal(f->ntmo, 0);
	run_to(f, 1);
	assert_int_equal(f->ntmo, 1);
	assert_ptr_equal(f->tmo[0].c, c1);
	assert_int_equal(f->tmo[0].status, 503);
	assert_int_equal(f->ncgone, 1);
	/* a retransmission fails: ends at once (from the timer) with 503 */
	struct txn_client *c2 = request_out(f, SIP_M_OPTIONS, "OPTIONS", &b2);
	f->fail_all = true;
	run_to(f, 600);
	assert_int_equal(f->ntmo, 2);
	assert_ptr_equal(f->tmo[1].c, c2);
	assert_int_equal(f->tmo[1].status, 503);
	assert_int_equal(f->tmo[1].at, 502);
	/* abandoned before the tick: no callback at all */
	struct txn_client *c3 = txn_client_create(f->sh, SIP_M_BYE, &down, &b3);
	assert_int_equal(csend(f, c3, buf, fwd(buf, "BYE", b3)), -EIO);
	txn_client_abandon(c3);
	run_to(f, 700);
	assert_int_equal(f->ntmo, 2);
	assert_int_equal(f->ncgone, 2);
	assert_int_equal(stats(f).send_failures, 3);
	assert_int_equal(stats(f).timeouts, 0);
	assert_all_gone(f);
	fx_close(f);
}

/* ---- re-entrancy ------------------------------------------------------------- */

static void test_abandon_inside_response(void **state)
{
	struct fx *f = fx_open();
	sip_str_t b1, b2;

	/* abandoned on a provisional: freed once the callback returns */
	invite_out(f, &b1);
	f->abandon_in_response = true;
	assert_int_equal(feed(f, rs_text(180, b1, "t", "INVITE")), TXN_RESPONSE);
	assert_int_equal(f->nresp, 1);
	assert_int_equal(stats(f).client_active, 0);
	assert_int_equal(f->ncgone, 0);
	assert_int_equal(feed(f, rs_text(200, b1, "t", "INVITE")), TXN_STRAY);

	/* abandoned on a non-2xx final: still ACKs retransmissions until D */
	invite_out(f, &b2);
	assert_int_equal(feed(f, rs_text(503, b2, "u", "INVITE")), TXN_RESPONSE);
	assert_int_equal(f->nresp, 2);
	f->abandon_in_response = false;
	size_t n = f->nsent;
	run_to(f, 1000);
	assert_int_equal(feed(f, rs_text(503, b2, "u", "INVITE")), TXN_RESPONSE);
	assert_int_equal(f->nsent, n + 1);
	assert_int_equal(sent_msg(f, n)->method, SIP_M_ACK);
	assert_int_equal(f->nresp, 2);
	run_to(f, 40000);
	assert_int_equal(f->ncgone, 0);
	assert_all_gone(f);
	fx_close(f);
}

/* Abandon + new transaction inside ops->response: the old one must stay
 * out of the pool until the callback returns, or the new one (LIFO pool)
 * would take its slot and inherit the rest of the old one's run. */
static void test_failover_inside_response(void **state)
{
	struct fx *f = fx_open();
	sip_str_t b1;
	struct txn_client *c = invite_out(f, &b1);

	run_to(f, 100);
	f->abandon_in_response = true;
	f->failover_in_response = true;
	assert_int_equal(feed(f, rs_text(180, b1, "t", "INVITE")), TXN_RESPONSE);
	f->abandon_in_response = false;
	(void)c;
	assert_int_equal(stats(f).client_active, 1);
	assert_int_equal(feed(f, rs_text(180, b1, "t", "INVITE")), TXN_STRAY);
	run_to(f, 100 + 32000);
	assert_int_equal(f->ntmo, 1);                   /* the new one's Timer B */
	assert_ptr_equal(f->tmo[0].c, f->failover);
	assert_int_equal(f->ncgone, 1);
	assert_all_gone(f);
	fx_close(f);
}

static void test_abandon_and_failover_inside_timeout(void **state)
{
	struct fx *f = fx_open();
	sip_str_t b1, b2;

	invite_out(f, &b1);
	f->abandon_in_timeout = true;
	f->failover_in_timeout = true;
	run_to(f, 32000);
	assert_int_equal(f->ntmo, 1);
	assert_int_equal(f->ncgone, 0);                 /* abandoned in the callback */
	assert_non_null(f->failover);
	assert_int_equal(stats(f).client_active, 1);    /* the new one only */
	f->abandon_in_timeout = false;
	/* the failover transaction runs normally */
	size_t n = f->nsent;
	run_to(f, 32500);
	assert_int_equal(f->nsent, n + 1);
	(void)b2;
	fx_close(f);
}

/* ops->response forwards into a server transaction (the proxy's relay). */
static void test_relay_inside_response(void **state)
{
	struct fx *f = fx_open();
	struct txn_server *s = screate(f, rq_text(RQ()));
	sip_str_t br;

	f->relay = s;
	invite_out(f, &br);
	feed(f, rs_text(180, br, "t", "INVITE"));
	assert_int_equal(f->relay_rc, 0);
	feed(f, rs_text(486, br, "t", "INVITE"));
	assert_int_equal(f->relay_rc, 0);
	assert_int_equal(txn_server_final(s), 486);
	/* 100 (upstream), INVITE, 180 up, ACK down, 486 up */
	assert_int_equal(f->nsent, 5);
	assert_int_equal(sent_msg(f, 2)->status, 180);
	assert_int_equal(sent_msg(f, 3)->method, SIP_M_ACK);
	assert_int_equal(sent_msg(f, 4)->status, 486);
	assert_true(sbc_addr_eq(&f->sent[4].to.addr, &up.addr));
	f->relay = NULL;
	run_to(f, 40000);
	assert_all_gone(f);
	fx_close(f);
}

/* ---- shard ------------------------------------------------------------------ */

static void test_destroy_with_live_transactions(void **state)
{
	struct fx *f = fx_open();
	sip_str_t b1, b2, b3;

	screate(f, rq_text(RQ()));
	screate(f, rq_text(RQ(.method = "OPTIONS")));
	struct txn_client *c1 = invite_out(f, &b1);
	invite_out(f, &b2);
	struct txn_client *c3 = txn_client_create(f->sh, SIP_M_BYE, &down, &b3);
	feed(f, rs_text(180, b1, "t", "INVITE"));
	assert_int_equal(txn_client_cancel(c1, SIP_STR_NULL), 0);  /* a live CANCEL */
	assert_int_equal(stats(f).client_active, 4);
	txn_shard_destroy(f->sh);
	f->sh = NULL;
	assert_int_equal(f->nsgone, 2);
	assert_int_equal(f->ncgone, 3);   /* the internal CANCEL is not reported */
	(void)c3;
	/* every timer of the layer was cancelled */
	assert_int_equal(wheel_pending(f->w), 0);
	fx_close(f);
}

static void test_bad_config(void **state)
{
	struct wheel *w = wheel_create(0);
	struct txn_config cfg = cfg_default();

	cfg.t2_ms = 100;   /* below T1 */
	assert_null(txn_shard_create(&cfg, w, &ops, NULL));
	cfg = cfg_default();
	cfg.max_server = 0;
	assert_null(txn_shard_create(&cfg, w, &ops, NULL));
	cfg = cfg_default();
	assert_null(txn_shard_create(&cfg, NULL, &ops, NULL));
	struct txn_ops no_send = ops;
	no_send.send = NULL;
	assert_null(txn_shard_create(&cfg, w, &no_send, NULL));
	/* zero timers mean the defaults */
	cfg.t1_ms = cfg.t2_ms = cfg.t4_ms = cfg.timer_c_ms = 0;
	struct txn_shard *sh = txn_shard_create(&cfg, w, &ops, NULL);
	assert_non_null(sh);
	txn_shard_destroy(sh);
	txn_shard_destroy(NULL);
	wheel_destroy(w);
}

static int group_setup(void **state)
{
	assert_int_equal(sbc_addr_from(&up.addr, "192.0.2.1", 9, 5060), 0);
	up.iface = 0;
	up.realm = 0;
	assert_int_equal(sbc_addr_from(&down.addr, "10.0.0.2", 8, 5060), 0);
	down.iface = 1;
	down.realm = 1;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_invite_timer_a_b),
		cmocka_unit_test(test_client_branch_shape),
		cmocka_unit_test(test_client_invite_provisional_then_non2xx),
		cmocka_unit_test(test_client_invite_2xx_accepted),
		cmocka_unit_test(test_client_invite_2xx_from_calling),
		cmocka_unit_test(test_client_timer_m_and_d_floor),
		cmocka_unit_test(test_client_timer_c_reset_and_cancel),
		cmocka_unit_test(test_client_timer_c_then_487),
		cmocka_unit_test(test_client_timer_c_no_provisional),
		cmocka_unit_test(test_client_cancel_waits_for_provisional),
		cmocka_unit_test(test_client_cancel_noop_cases),
		cmocka_unit_test(test_client_cancel_pending_dropped_on_final),
		cmocka_unit_test(test_client_cancel_pending_then_timer_b),
		cmocka_unit_test(test_client_non_invite_timer_e_f),
		cmocka_unit_test(test_client_non_invite_proceeding_completed),
		cmocka_unit_test(test_server_invite_trying_and_retransmissions),
		cmocka_unit_test(test_server_invite_non2xx_timer_g_h),
		cmocka_unit_test(test_server_invite_ack_confirmed),
		cmocka_unit_test(test_server_invite_2xx_accepted),
		cmocka_unit_test(test_server_to_tags),
		cmocka_unit_test(test_server_non_invite),
		cmocka_unit_test(test_cancel_matching),
		cmocka_unit_test(test_matching_key_parts),
		cmocka_unit_test(test_matching_rfc2543),
		cmocka_unit_test(test_stray_responses),
		cmocka_unit_test(test_pool_exhaustion_and_recovery),
		cmocka_unit_test(test_oversized_and_large),
		cmocka_unit_test(test_slab_exhaustion),
		cmocka_unit_test(test_send_failure_async_503),
		cmocka_unit_test(test_abandon_inside_response),
		cmocka_unit_test(test_failover_inside_response),
		cmocka_unit_test(test_abandon_and_failover_inside_timeout),
		cmocka_unit_test(test_relay_inside_response),
		cmocka_unit_test(test_destroy_with_live_transactions),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_release_server_non_invite),
		cmocka_unit_test(test_release_server_invite_accepted),
		cmocka_unit_test(test_release_server_invite_completed),
		cmocka_unit_test(test_release_pinned_long_key),
		cmocka_unit_test(test_release_client_invite_non2xx),
		cmocka_unit_test(test_release_client_finals),
		cmocka_unit_test(test_release_lets_many_linger),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
