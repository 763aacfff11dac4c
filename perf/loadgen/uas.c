/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * perf/loadgen/uas — the answering side.
 *
 * State is kept only where RFC 3261 needs it: from a final response to an
 * INVITE until its ACK (13.3.1.4 for a 2xx, 17.2.1 Timer G for the rest),
 * to retransmit that response at T1, 2*T1, ... capped at T2, and give up
 * after 64*T1. Everything else is answered from the request alone: BYE,
 * CANCEL, OPTIONS, MESSAGE, REGISTER and in-dialog requests get 200, so
 * the UAS's memory does not grow with the number of established calls and
 * a UAS never limits a benchmark's concurrency. (--rtp is the exception:
 * a stream per call, ~200 bytes, found by Call-ID hash at the ACK and BYE.)
 *
 * The To-tag is a keyed hash of the Call-ID, so the 180, the 200 and any
 * stateless retransmission of them agree without storing anything.
 * --uas-code CODE[:PCT] fails that share of initial requests (chosen by
 * the same hash, so a retransmission gets the same answer).
 */
#include <errno.h>
#include <string.h>

#include "lg.h"

enum { TAG_RETX = 1, TAG_END = 2 };

struct lg_uas_ent {
	struct wheel_timer t_retx, t_end;   /* t_end: answer delay, then 64*T1 */
	uint64_t h;
	union sbc_sockaddr peer;
	uint32_t retx_ms, cseq;
	uint16_t resp_len;
	uint8_t cid_len;
	bool answered;                      /* the final response has been sent */
	char cid[LG_CID_MAX];
	char resp[LG_UAS_RESP_MAX];
};

struct req_info {
	sip_str_t cid;
	struct sip_cseq cs;
	uint64_t h;            /* keyed hash of the Call-ID */
	char tag[16];
	sip_str_t to_tag;      /* ours to add, empty when To has one */
};

static bool ent_eq(void *ctx, uint32_t val, const void *key, size_t len)
{
	const struct lg_uas_ent *e = pool_at(ctx, val);

	return e->cid_len == len && memcmp(e->cid, key, len) == 0;
}

static void ent_free(struct lg_worker *w, struct lg_uas_ent *e)
{
	wheel_cancel(w->wheel, &e->t_retx);
	wheel_cancel(w->wheel, &e->t_end);
	(void)htab_remove_val(w->tab, e->h, pool_idx(w->pool, e));
	pool_put(w->pool, e);
	w->st.active--;
}

static struct lg_uas_ent *ent_find(struct lg_worker *w, const struct req_info *ri)
{
	uint32_t idx = htab_find_h(w->tab, ri->h, ri->cid.p, ri->cid.len);

	return idx == HTAB_NONE ? NULL : pool_at(w->pool, idx);
}

static struct lg_uas_ent *ent_new(struct lg_worker *w, const struct req_info *ri,
				  const union sbc_sockaddr *peer)
{
	struct lg_uas_ent *e;

	if (ri->cid.len > LG_CID_MAX)
		return NULL;
	e = pool_get(w->pool);
	if (!e)
		return NULL;
	wheel_timer_init(&e->t_retx, TAG_RETX);
	wheel_timer_init(&e->t_end, TAG_END);
	e->h = ri->h;
	e->peer = *peer;
	e->cseq = ri->cs.seq;
	e->cid_len = (uint8_t)ri->cid.len;
	memcpy(e->cid, ri->cid.p, ri->cid.len);
	e->answered = false;
	e->resp_len = 0;
	if (htab_insert_h(w->tab, e->h, e->cid, e->cid_len, pool_idx(w->pool, e)) < 0) {
		pool_put(w->pool, e);
		return NULL;
	}
	if (++w->st.active > w->st.max_active)
		w->st.max_active = w->st.active;
	return e;
}

/* ---- sending ------------------------------------------------------------ */

static int reply(struct lg_worker *w, const struct sip_msg *m, const struct req_info *ri,
		 uint16_t status, sip_str_t extra, bool contact, sip_str_t body,
		 const union sbc_sockaddr *to)
{
	char *out = lg_tx_slot(w);
	int n = lg_build_response(w, m, status, ri->to_tag, extra, contact, body, out,
				  LG_MSG_MAX);

	if (n > 0)
		lg_tx_commit(w, (uint32_t)n, to);
	else
		w->st.tx_dropped++;
	return n;
}

static void ent_send(struct lg_worker *w, struct lg_uas_ent *e)
{
	e->answered = true;
	lg_tx_copy(w, e->resp, e->resp_len, &e->peer);
	e->retx_ms = w->o->t1_ms;
	wheel_add_in(w->wheel, &e->t_retx, e->retx_ms);
	wheel_add_in(w->wheel, &e->t_end, 64u * w->o->t1_ms);
}

/* ---- requests ----------------------------------------------------------- */

static uint16_t pick_status(const struct lg_worker *w, const struct req_info *ri,
			    uint16_t normal)
{
	if (!w->o->uas_code || ri->to_tag.len == 0)
		return normal;   /* in-dialog requests are never failed */
	return (uint32_t)(ri->h % 100u) < w->o->uas_pct ? w->o->uas_code : normal;
}

static sip_str_t answer_sdp(const struct lg_worker *w, const struct sip_msg *m)
{
	sip_str_t b = sip_msg_body(m);

	if (b.len && memmem(b.p, b.len, "a=sendonly", 10))
		return lg_sdp(w, LG_SDP_ANSWER_HOLD);
	return lg_sdp(w, LG_SDP_ANSWER);
}

/* --rtp: an initial offer gets a stream (sending from the ACK); a
 * re-INVITE putting us on hold (sendonly/inactive) pauses ours. */
static void uas_media(struct lg_worker *w, const struct sip_msg *m, const struct req_info *ri,
		      bool initial)
{
	sip_str_t b = sip_msg_body(m);
	bool held = false;

	if (b.p && b.len)
		held = memmem(b.p, b.len, "a=sendonly", 10) || memmem(b.p, b.len, "a=inactive", 10);
	if (initial)
		lg_rtp_uas_offer(w, ri->cid, ri->h, m);
	else
		lg_rtp_uas_reinvite(w, ri->h, held);
}

/* A retransmitted INVITE: repeat what it last got. */
static void invite_again(struct lg_worker *w, struct lg_uas_ent *e, const struct sip_msg *m,
			 const struct req_info *ri, const union sbc_sockaddr *from)
{
	w->st.retx_rcvd++;
	if (e->answered)
		lg_tx_copy(w, e->resp, e->resp_len, &e->peer);
	else
		(void)reply(w, m, ri, 180, SIP_STR_NULL, true, SIP_STR_NULL, from);
}

static void uas_invite(struct lg_worker *w, const struct sip_msg *m, const struct req_info *ri,
		       const union sbc_sockaddr *from)
{
	bool initial = ri->to_tag.len != 0;
	uint16_t status = pick_status(w, ri, 200);
	struct lg_uas_ent *e = ent_find(w, ri);
	char buf[LG_MSG_MAX];
	int n;

	if (e && e->cseq == ri->cs.seq) {
		invite_again(w, e, m, ri, from);
		return;
	}
	if (e)
		ent_free(w, e);   /* a new INVITE replaces one awaiting its ACK */
	if (w->rtp && status < 300)
		uas_media(w, m, ri, initial);
	if (initial && !w->o->no_100)
		(void)reply(w, m, ri, 100, SIP_STR_NULL, false, SIP_STR_NULL, from);
	if (initial && status < 300)
		(void)reply(w, m, ri, 180, SIP_STR_NULL, true, SIP_STR_NULL, from);
	n = lg_build_response(w, m, status, ri->to_tag, SIP_STR_NULL, status < 300,
			      status < 300 ? answer_sdp(w, m) : SIP_STR_NULL, buf, sizeof(buf));
	if (n <= 0) {
		w->st.tx_dropped++;
		return;
	}
	e = (uint32_t)n <= LG_UAS_RESP_MAX ? ent_new(w, ri, from) : NULL;
	if (!e) {
		/* No room to keep it: answer once, without retransmissions. */
		w->st.no_slot++;
		lg_tx_copy(w, buf, (uint32_t)n, from);
		return;
	}
	memcpy(e->resp, buf, (size_t)n);
	e->resp_len = (uint16_t)n;
	if (initial && status < 300 && w->o->answer_ms)
		wheel_add_in(w->wheel, &e->t_end, w->o->answer_ms);
	else
		ent_send(w, e);
}

static void uas_ack(struct lg_worker *w, const struct req_info *ri)
{
	struct lg_uas_ent *e = ent_find(w, ri);

	if (w->rtp)
		lg_rtp_uas_ack(w, ri->h);
	if (e && e->cseq == ri->cs.seq && e->answered)
		ent_free(w, e);
	else
		w->st.acks_absorbed++;
}

/* REGISTER's 200 echoes the bindings: the request's Contact lines. */
static sip_str_t contact_lines(const struct sip_msg *m, char *buf, uint32_t cap)
{
	struct lg_sb b = { buf, 0, cap, false };

	for (const struct sip_hdr *h = sip_hdr_first(m, SIP_H_CONTACT); h;
	     h = sip_hdr_next(m, h))
		lg_sb_put(&b, m->buf + h->off, h->end - h->off);
	return b.over ? SIP_STR_NULL : (sip_str_t){ buf, b.len };
}

static void uas_other(struct lg_worker *w, const struct sip_msg *m, const struct req_info *ri,
		      const union sbc_sockaddr *from)
{
	char tmp[1024];
	sip_str_t extra = SIP_STR_NULL;
	uint16_t status = 200;

	if (m->method == SIP_M_BYE || m->method == SIP_M_CANCEL) {
		/* A BYE overtaking a lost ACK ends the wait for it. */
		struct lg_uas_ent *e = m->method == SIP_M_BYE ? ent_find(w, ri) : NULL;

		if (e)
			ent_free(w, e);
		if (w->rtp && m->method == SIP_M_BYE)
			lg_rtp_uas_bye(w, ri->h);
	} else {
		status = pick_status(w, ri, 200);
	}
	if (m->method == SIP_M_REGISTER && status == 200)
		extra = contact_lines(m, tmp, sizeof(tmp));
	(void)reply(w, m, ri, status, extra, false, SIP_STR_NULL, from);
}

static int req_info(struct lg_worker *w, const struct sip_msg *m, struct req_info *ri)
{
	struct sip_nameaddr to;
	struct lg_sb b = { ri->tag, 0, sizeof(ri->tag), false };

	if (sip_msg_call_id(m, &ri->cid) <= 0 || sip_msg_cseq(m, &ri->cs) <= 0)
		return -1;
	ri->h = htab_hash(w->tab, ri->cid.p, ri->cid.len);
	ri->to_tag = SIP_STR_NULL;
	if (m->method == SIP_M_ACK)
		return 0;
	if (sip_msg_to(m, &to) <= 0)
		return -1;
	if (to.tag.len == 0) {
		lg_sb_hex(&b, ri->h >> 16, 12);
		ri->to_tag = (sip_str_t){ ri->tag, b.len };
	}
	return 0;
}

static void uas_rx(struct lg_worker *w, const char *buf, uint32_t len,
		   const union sbc_sockaddr *from)
{
	struct sip_msg m;
	struct req_info ri;

	if (sip_parse(&m, buf, len) != SIP_E_OK) {
		w->st.parse_errors++;
		return;
	}
	if (!m.is_request) {
		w->st.stray++;   /* a UAS sends no requests */
		return;
	}
	if (m.method < SIP_M__COUNT)
		w->st.req_rcvd[m.method]++;
	if (req_info(w, &m, &ri) < 0) {
		w->st.parse_errors++;
		return;
	}
	switch (m.method) {
	case SIP_M_INVITE:
		uas_invite(w, &m, &ri, from);
		break;
	case SIP_M_ACK:
		uas_ack(w, &ri);
		break;
	default:
		uas_other(w, &m, &ri, from);
		break;
	}
}

/* ---- timers ------------------------------------------------------------- */

static void uas_timer(struct wheel_timer *t, void *ctx)
{
	struct lg_worker *w = ctx;
	struct lg_uas_ent *e;

	if (t->tag == LG_TAG_RTP) {
		lg_rtp_timer(w, t);
		return;
	}
	if (t->tag == TAG_RETX) {
		e = sbc_container_of(t, struct lg_uas_ent, t_retx);
		w->st.retx_sent++;
		lg_tx_copy(w, e->resp, e->resp_len, &e->peer);
		e->retx_ms = 2u * e->retx_ms < w->o->t2_ms ? 2u * e->retx_ms : w->o->t2_ms;
		wheel_add_in(w->wheel, &e->t_retx, e->retx_ms);
		return;
	}
	e = sbc_container_of(t, struct lg_uas_ent, t_end);
	if (!e->answered) {
		ent_send(w, e);   /* --answer-ms elapsed */
		return;
	}
	w->st.ack_timeouts++;    /* Timer H / 64*T1 without an ACK */
	ent_free(w, e);
}

/* ---- loop --------------------------------------------------------------- */

int lg_uas_init(struct lg_worker *w)
{
	uint32_t cap = w->max_concurrent ? w->max_concurrent : 1;

	w->pool = pool_create(cap, sizeof(struct lg_uas_ent), 64);
	if (!w->pool)
		return -ENOMEM;
	w->tab = htab_create(cap, &w->key, ent_eq, w->pool);
	return w->tab ? 0 : -ENOMEM;
}

static bool uas_should_stop(const struct lg_worker *w)
{
	const struct lg_opts *o = w->o;
	uint64_t idle_ns = (uint64_t)o->idle_exit_s * 1000000000u;
	uint64_t last = atomic_load_explicit(&lg_last_rx_ns, memory_order_relaxed);

	if (o->duration_s > 0 && w->now_ns - w->t_start_ns >= (uint64_t)(o->duration_s * 1e9))
		return true;
	/* Idle exit counts from the last datagram of any thread, once there
	 * has been one: a UAS waits for its UAC as long as --duration allows. */
	return idle_ns && last && w->now_ns > last && w->now_ns - last >= idle_ns &&
	       w->st.active == 0;
}

void lg_uas_loop(struct lg_worker *w)
{
	w->now_ns = w->t_start_ns = lg_clock_ns();
	w->now_ms = w->now_ns / 1000000u;
	w->wheel = wheel_create(w->now_ms);
	if (!w->wheel)
		return;
	while (!lg_stop) {
		unsigned n;
		uint64_t next;

		w->now_ns = lg_clock_ns();
		w->now_ms = w->now_ns / 1000000u;
		wheel_advance(w->wheel, w->now_ms, uas_timer, w);
		n = lg_rx_burst(w, uas_rx);
		lg_tx_flush(w);
		if (w->rtp)
			n += lg_rtp_poll(w);
		if (uas_should_stop(w))
			break;
		if (n)
			continue;
		next = wheel_next_expiry(w->wheel);
		lg_wait(w, lg_rtp_wait_ms(w, next <= w->now_ms ? 0
					     : next - w->now_ms < 100 ? (int)(next - w->now_ms)
								      : 100));
	}
	lg_rtp_finish(w);
	lg_tx_flush(w);
}
