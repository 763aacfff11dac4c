/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * perf/loadgen/uac — the sending side: units started at a rate, each a
 * small state machine on the worker's wheel.
 *
 * A unit runs one client transaction at a time (RFC 3261 17.1): INVITE
 * retransmitted on Timer A until a provisional, non-INVITE on Timer E
 * (T1 doubling to T2, T2 after a provisional), both abandoned after
 * --timeout (64*T1, Timers B/F). Requests are rebuilt from the unit's
 * saved fields on every retransmission instead of being stored: a unit is
 * ~800 bytes whatever its messages weigh.
 *
 * Responses find their unit by Call-ID (htab); the CSeq tells the
 * transaction. Responses of no unit (late 2xx retransmissions, flood) are
 * answered statelessly: ACK for a final to INVITE, plus a BYE for a 2xx so
 * no dialog is left open in the device under test.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "lg.h"

enum { TAG_RETX = 1, TAG_MAIN = 2 };

enum unit_state {
	US_INVITE,       /* initial INVITE pending */
	US_HOLD_WAIT,    /* confirmed, re-INVITE due at hold/2 */
	US_REINVITE,
	US_TALK_WAIT,    /* confirmed, BYE due */
	US_BYE,
	US_REQ,          /* REGISTER / OPTIONS / MESSAGE pending */
	US_REFRESH_WAIT, /* registered, refresh due */
};

struct lg_call {
	struct wheel_timer t_retx, t_main;
	uint64_t h;            /* htab hash of the Call-ID */
	uint64_t t0_ns;        /* first send of the current transaction */
	uint64_t seq;          /* unit number */
	uint32_t retx_ms;
	uint32_t cseq;         /* of the current transaction */
	uint32_t inv_cseq;     /* of the last INVITE, to re-ACK its 2xx */
	uint16_t refresh_left;
	uint8_t state;
	uint8_t method;        /* enum sip_method of the current transaction */
	uint8_t branch_no;
	bool pending;          /* current transaction awaits its final */
	bool prov;             /* ... and has had a provisional */
	bool failed;           /* a failure is counted; the unit may go on */
	bool confirmed;        /* dialog established (2xx to INVITE) */
	uint8_t cid_len, totag_len, target_len;
	uint16_t route_len;
	uint32_t ms;           /* RTP stream (--rtp), LG_RTP_NONE */
	char cid[48];
	char totag[LG_TAG_MAX];
	char target[LG_TARGET_MAX];
	char route[LG_ROUTE_MAX];
};

/* Scratch for the views of one request. */
struct req_tmp {
	char branch[64];
	char ftag[24];
	char aor[224];
	char contact[224];
};

#define LG_MAX_RR 8u
#define SL_SEQ 0xfffffffffull /* "unit" of stateless requests' branches */

struct dlg_view {
	sip_str_t totag, target;
	char route[LG_ROUTE_MAX];
	uint32_t route_len;
	bool ok;
};

/* ---- helpers ------------------------------------------------------------ */

static sip_str_t ruri_of(const struct lg_worker *w)
{
	return (sip_str_t){ w->o->ruri, (uint32_t)strlen(w->o->ruri) };
}

static sip_str_t from_uri_of(const struct lg_worker *w)
{
	return (sip_str_t){ w->from_uri, w->from_uri_len };
}

static bool call_eq(void *ctx, uint32_t val, const void *key, size_t len)
{
	const struct lg_call *c = pool_at(ctx, val);

	return c->cid_len == len && memcmp(c->cid, key, len) == 0;
}

static sip_str_t mk_branch(const struct lg_worker *w, uint64_t seq, unsigned no, char *buf,
			   size_t cap)
{
	struct lg_sb b = { buf, 0, (uint32_t)cap, false };

	lg_sb_lit(&b, "z9hG4bK-");
	lg_sb_hex(&b, w->run_id, 8);
	lg_sb_lit(&b, ".");
	lg_sb_u32(&b, w->id);
	lg_sb_lit(&b, ".");
	lg_sb_hex(&b, seq, 10);
	lg_sb_lit(&b, ".");
	lg_sb_u32(&b, no);
	return (sip_str_t){ buf, b.len };
}

static sip_str_t mk_ftag(const struct lg_worker *w, uint64_t seq, char *buf, size_t cap)
{
	struct lg_sb b = { buf, 0, (uint32_t)cap, false };

	lg_sb_hex(&b, w->run_id ^ w->id, 8);
	lg_sb_hex(&b, seq, 10);
	return (sip_str_t){ buf, b.len };
}

/* REGISTER: AOR sip:USER<n>@DOMAIN and Contact sip:USER<n>@LOCAL. */
static void mk_aor(const struct lg_worker *w, const struct lg_call *c, struct req_tmp *t,
		   sip_str_t *aor, sip_str_t *contact)
{
	uint32_t n = (uint32_t)(w->o->users ? c->seq % w->o->users : c->seq);
	const char *u = w->o->from_user;
	struct lg_sb a = { t->aor, 0, sizeof(t->aor), false };
	struct lg_sb k = { t->contact, 0, sizeof(t->contact), false };

	lg_sb_lit(&a, "sip:");
	lg_sb_put(&a, u, strlen(u));
	lg_sb_u32(&a, n);
	lg_sb_lit(&a, "@");
	lg_sb_put(&a, w->o->domain, strlen(w->o->domain));
	lg_sb_lit(&k, "sip:");
	lg_sb_put(&k, u, strlen(u));
	lg_sb_u32(&k, n);
	lg_sb_lit(&k, "@");
	lg_sb_put(&k, w->local_hp, w->local_hp_len);
	*aor = (sip_str_t){ t->aor, a.len };
	*contact = (sip_str_t){ t->contact, k.len };
}

static sip_str_t our_contact(const struct lg_worker *w, struct req_tmp *t)
{
	struct lg_sb k = { t->contact, 0, sizeof(t->contact), false };
	const char *u = w->o->from_user;

	lg_sb_lit(&k, "sip:");
	lg_sb_put(&k, u, strlen(u));
	lg_sb_lit(&k, "@");
	lg_sb_put(&k, w->local_hp, w->local_hp_len);
	return (sip_str_t){ t->contact, k.len };
}

static void send_req(struct lg_worker *w, const struct lg_req *r)
{
	char *out = lg_tx_slot(w);
	int n = lg_build_request(w, r, out, LG_MSG_MAX);

	if (n > 0)
		lg_tx_commit(w, (uint32_t)n, &w->o->remote);
	else
		w->st.tx_dropped++;
}

/* ---- building a unit's current request ---------------------------------- */

static void fill_dialog_req(const struct lg_worker *w, const struct lg_call *c, struct lg_req *r)
{
	r->ruri = (sip_str_t){ c->target, c->target_len };
	r->to_uri = ruri_of(w);
	r->to_tag = (sip_str_t){ c->totag, c->totag_len };
	r->route = (sip_str_t){ c->route, c->route_len };
}

static void fill_register(const struct lg_worker *w, const struct lg_call *c, struct req_tmp *t,
			  struct lg_req *r)
{
	sip_str_t aor, contact;

	mk_aor(w, c, t, &aor, &contact);
	r->ruri = (sip_str_t){ w->ruri_host, w->ruri_host_len };
	r->from_uri = aor;
	r->to_uri = aor;
	r->contact = contact;
	r->expires = w->o->expires;
}

/* The request of c's current transaction (method, cseq, branch). */
static void fill_req(const struct lg_worker *w, const struct lg_call *c, struct req_tmp *t,
		     struct lg_req *r)
{
	static const char msg_body[] = "sbc-loadgen message\r\n";

	memset(r, 0, sizeof(*r));
	r->method = c->method;
	r->branch = mk_branch(w, c->seq, c->branch_no, t->branch, sizeof(t->branch));
	r->from_uri = from_uri_of(w);
	r->from_tag = mk_ftag(w, c->seq, t->ftag, sizeof(t->ftag));
	r->call_id = (sip_str_t){ c->cid, c->cid_len };
	r->cseq = c->cseq;
	r->expires = -1;
	r->ruri = ruri_of(w);
	r->to_uri = ruri_of(w);
	if (c->confirmed)
		fill_dialog_req(w, c, r);
	switch (c->method) {
	case SIP_M_INVITE:
		r->contact = our_contact(w, t);
		r->ctype = SIP_STR("application/sdp");
		r->body = lg_sdp(w, c->confirmed ? LG_SDP_HOLD : LG_SDP_OFFER);
		break;
	case SIP_M_REGISTER:
		fill_register(w, c, t, r);
		break;
	case SIP_M_MESSAGE:
		r->ctype = SIP_STR("text/plain");
		r->body = SIP_STR(msg_body);
		break;
	default:
		break;
	}
}

static void send_current(struct lg_worker *w, const struct lg_call *c)
{
	struct req_tmp t;
	struct lg_req r;

	fill_req(w, c, &t, &r);
	send_req(w, &r);
}

/* ---- unit life ---------------------------------------------------------- */

static void fail(struct lg_worker *w, struct lg_call *c, int code, enum lg_fail why)
{
	if (c->failed)
		return;
	c->failed = true;
	if (code > 0 && code < (int)LG_STATUS_MAX)
		w->st.fail_code[code]++;
	else
		w->st.fail[why < LG_F__COUNT ? why : LG_F_BAD_RESPONSE]++;
}

/* Stops the call's RTP; a media failure fails the call (unless it has
 * failed already, for a reason that came first). */
static void media_end(struct lg_worker *w, struct lg_call *c)
{
	enum lg_fail why;

	if (c->ms == LG_RTP_NONE)
		return;
	why = lg_rtp_uac_end(w, c->ms, true);
	c->ms = LG_RTP_NONE;
	if (why != LG_F__COUNT)
		fail(w, c, 0, why);
}

static void unit_end(struct lg_worker *w, struct lg_call *c)
{
	media_end(w, c);
	wheel_cancel(w->wheel, &c->t_retx);
	wheel_cancel(w->wheel, &c->t_main);
	if (c->failed)
		w->st.failed++;
	else
		w->st.ok++;
	(void)htab_remove_val(w->tab, c->h, pool_idx(w->pool, c));
	pool_put(w->pool, c);
	w->st.active--;
}

static void txn_start(struct lg_worker *w, struct lg_call *c, enum sip_method m)
{
	c->method = (uint8_t)m;
	c->branch_no++;
	if (m != SIP_M_ACK)
		c->cseq++;
	c->pending = true;
	c->prov = false;
	c->t0_ns = w->now_ns;
	c->retx_ms = w->o->t1_ms;
	if (m == SIP_M_INVITE)
		c->inv_cseq = c->cseq;
	send_current(w, c);
	wheel_add_in(w->wheel, &c->t_retx, c->retx_ms);
	wheel_add_in(w->wheel, &c->t_main, w->o->timeout_ms);
}

static enum sip_method scen_method(enum lg_scen s)
{
	switch (s) {
	case LG_REGISTER: return SIP_M_REGISTER;
	case LG_OPTIONS: return SIP_M_OPTIONS;
	case LG_MESSAGE: return SIP_M_MESSAGE;
	default: return SIP_M_INVITE;
	}
}

static int cid_make(const struct lg_worker *w, uint64_t seq, char *buf, size_t cap)
{
	struct lg_sb b = { buf, 0, (uint32_t)cap, false };

	lg_sb_lit(&b, "lg");
	lg_sb_hex(&b, w->run_id, 8);
	lg_sb_lit(&b, ".");
	lg_sb_u32(&b, w->id);
	lg_sb_lit(&b, ".");
	lg_sb_hex(&b, seq, 10);
	lg_sb_lit(&b, "@loadgen");
	return b.over ? -1 : (int)b.len;
}

/* Flood: one INVITE, no state. */
static void flood_one(struct lg_worker *w)
{
	struct lg_call tmp;

	memset(&tmp, 0, sizeof(tmp));
	tmp.seq = w->seq++;
	tmp.method = SIP_M_INVITE;
	tmp.cseq = 1;
	tmp.cid_len = (uint8_t)cid_make(w, tmp.seq, tmp.cid, sizeof(tmp.cid));
	send_current(w, &tmp);
	w->st.started++;
}

static void unit_start(struct lg_worker *w)
{
	struct lg_call *c;
	uint64_t seq = w->seq++;
	int n;

	w->st.started++;
	c = pool_get(w->pool);
	if (!c) {
		w->st.no_slot++;
		w->st.failed++;
		return;
	}
	memset(c, 0, offsetof(struct lg_call, totag));
	wheel_timer_init(&c->t_retx, TAG_RETX);
	wheel_timer_init(&c->t_main, TAG_MAIN);
	c->seq = seq;
	c->ms = LG_RTP_NONE;
	n = cid_make(w, seq, c->cid, sizeof(c->cid));
	c->cid_len = (uint8_t)n;
	c->h = htab_hash(w->tab, c->cid, c->cid_len);
	if (htab_insert_h(w->tab, c->h, c->cid, c->cid_len, pool_idx(w->pool, c)) < 0) {
		pool_put(w->pool, c);
		w->st.no_slot++;
		w->st.failed++;
		return;
	}
	if (++w->st.active > w->st.max_active)
		w->st.max_active = w->st.active;
	c->refresh_left = (uint16_t)w->o->refreshes;
	c->state = w->o->scen == LG_CALL ? US_INVITE : US_REQ;
	txn_start(w, c, scen_method(w->o->scen));
}

/* ---- dialog state from a 2xx -------------------------------------------- */

static void put_route(struct dlg_view *d, const sip_str_t *rr, unsigned n)
{
	struct lg_sb b = { d->route, 0, sizeof(d->route), false };

	/* The UAC's route set is the Record-Route in reverse (RFC 3261 12.1.2). */
	for (unsigned i = n; i-- > 0;) {
		lg_sb_str(&b, rr[i]);
		if (i)
			lg_sb_lit(&b, ", ");
	}
	d->route_len = b.len;
	if (b.over)
		d->ok = false;
}

static void dlg_from_2xx(const struct sip_msg *m, struct dlg_view *d)
{
	struct sip_nameaddr to, ct;
	const struct sip_hdr *h = sip_hdr_first(m, SIP_H_CONTACT);
	struct sip_list_iter it;
	sip_str_t rr[LG_MAX_RR], v;
	unsigned n = 0;

	d->ok = sip_msg_to(m, &to) > 0 && to.tag.len && to.tag.len <= LG_TAG_MAX;
	d->totag = d->ok ? to.tag : SIP_STR_NULL;
	d->target = SIP_STR_NULL;
	if (h) {
		struct sip_list_iter ci;

		sip_list_init(&ci, m, SIP_H_CONTACT);
		if (sip_list_next(&ci, &v) > 0 && sip_nameaddr_parse(v, &ct) == 0)
			d->target = ct.uri;
	}
	if (!d->target.len || d->target.len > LG_TARGET_MAX)
		d->ok = false;
	sip_list_init(&it, m, SIP_H_RECORD_ROUTE);
	while (n < LG_MAX_RR && sip_list_next(&it, &v) > 0)
		rr[n++] = v;
	put_route(d, rr, n);
}

static void save_dialog(struct lg_call *c, const struct dlg_view *d)
{
	memcpy(c->totag, d->totag.p, d->totag.len);
	c->totag_len = (uint8_t)d->totag.len;
	memcpy(c->target, d->target.p, d->target.len);
	c->target_len = (uint8_t)d->target.len;
	memcpy(c->route, d->route, d->route_len);
	c->route_len = (uint16_t)d->route_len;
	c->confirmed = true;
}

/* ---- ACKs --------------------------------------------------------------- */

/* ACK of a 2xx: a new transaction of the dialog (RFC 3261 13.2.2.4). */
static void send_ack_2xx(struct lg_worker *w, struct lg_call *c, uint32_t cseq)
{
	struct req_tmp t;
	struct lg_req r;

	memset(&r, 0, sizeof(r));
	r.method = SIP_M_ACK;
	r.branch = mk_branch(w, c->seq, 200u + (c->branch_no & 0x3f), t.branch, sizeof(t.branch));
	r.from_uri = from_uri_of(w);
	r.from_tag = mk_ftag(w, c->seq, t.ftag, sizeof(t.ftag));
	r.call_id = (sip_str_t){ c->cid, c->cid_len };
	r.cseq = cseq;
	r.expires = -1;
	fill_dialog_req(w, c, &r);
	send_req(w, &r);
}

/* ACK of a non-2xx final, from the response: same branch, To with its tag,
 * the INVITE's R-URI and route (RFC 3261 17.1.1.3). */
static void send_ack_non2xx(struct lg_worker *w, const struct sip_msg *m, sip_str_t ruri,
			    sip_str_t route)
{
	struct sip_via via;
	struct sip_nameaddr from, to;
	struct sip_cseq cs;
	sip_str_t cid;

	if (sip_msg_top_via(m, &via) <= 0 || sip_msg_from(m, &from) <= 0 ||
	    sip_msg_to(m, &to) <= 0 || sip_msg_cseq(m, &cs) <= 0 ||
	    sip_msg_call_id(m, &cid) <= 0) {
		w->st.parse_errors++;
		return;
	}
	send_req(w, &(struct lg_req){ .method = SIP_M_ACK, .ruri = ruri, .branch = via.branch,
				      .from_uri = from_uri_of(w), .from_tag = from.tag,
				      .to_uri = ruri_of(w), .to_tag = to.tag, .call_id = cid,
				      .cseq = cs.seq, .route = route, .expires = -1 });
}

/* A 2xx of no unit: ACK it and hang up, statelessly. */
static void ack_bye_stateless(struct lg_worker *w, const struct sip_msg *m, uint32_t cseq)
{
	struct dlg_view d;
	struct sip_nameaddr from;
	sip_str_t cid;
	struct lg_req r;
	char br[64];

	dlg_from_2xx(m, &d);
	if (!d.ok || sip_msg_from(m, &from) <= 0 || sip_msg_call_id(m, &cid) <= 0) {
		w->st.parse_errors++;
		return;
	}
	r = (struct lg_req){ .method = SIP_M_ACK, .ruri = d.target,
			     .branch = mk_branch(w, SL_SEQ, w->sl_branch++, br, sizeof(br)),
			     .from_uri = from_uri_of(w), .from_tag = from.tag,
			     .to_uri = ruri_of(w), .to_tag = d.totag, .call_id = cid,
			     .cseq = cseq, .route = { d.route, d.route_len }, .expires = -1 };
	send_req(w, &r);
	r.method = SIP_M_BYE;
	r.cseq = cseq + 1;
	r.branch = mk_branch(w, SL_SEQ, w->sl_branch++, br, sizeof(br));
	send_req(w, &r);
}

static void stateless_final(struct lg_worker *w, const struct sip_msg *m,
			    const struct sip_cseq *cs)
{
	if (cs->method != SIP_M_INVITE || m->status < 200)
		return;
	if (m->status < 300)
		ack_bye_stateless(w, m, cs->seq);
	else
		send_ack_non2xx(w, m, ruri_of(w), SIP_STR_NULL);
}

/* ---- responses of a unit ------------------------------------------------ */

static void next_after_invite(struct lg_worker *w, struct lg_call *c)
{
	uint32_t hold = w->o->hold_ms;

	if (c->state == US_INVITE && w->o->reinvite) {
		c->state = US_HOLD_WAIT;
		wheel_add_in(w->wheel, &c->t_main, hold / 2);
	} else {
		uint32_t left = c->state == US_INVITE ? hold : hold - hold / 2;

		c->state = US_TALK_WAIT;
		wheel_add_in(w->wheel, &c->t_main, left);
	}
}

static void invite_2xx(struct lg_worker *w, struct lg_call *c, const struct sip_msg *m)
{
	struct dlg_view d;

	if (c->state == US_INVITE) {
		lg_hist_add(&w->st.setup, w->now_ns - c->t0_ns);
		dlg_from_2xx(m, &d);
		if (!d.ok) {
			/* Cannot build the ACK and BYE: count, and let the
			 * peer's 2xx retransmissions time out. */
			fail(w, c, 0, LG_F_BAD_RESPONSE);
			unit_end(w, c);
			return;
		}
		save_dialog(c, &d);
		if (w->rtp) {
			c->ms = lg_rtp_uac_answer(w, (sip_str_t){ c->cid, c->cid_len }, m);
			if (c->ms == LG_RTP_BAD_SDP) {
				c->ms = LG_RTP_NONE;
				fail(w, c, 0, LG_F_MEDIA_SDP);
			}
		}
	}
	send_ack_2xx(w, c, c->cseq);
	next_after_invite(w, c);
}

static void invite_final(struct lg_worker *w, struct lg_call *c, const struct sip_msg *m)
{
	if (m->status < 300) {
		invite_2xx(w, c, m);
		return;
	}
	fail(w, c, m->status, LG_F__COUNT);
	if (c->state == US_INVITE) {
		send_ack_non2xx(w, m, ruri_of(w), SIP_STR_NULL);
		unit_end(w, c);
		return;
	}
	/* A refused re-INVITE leaves the dialog up: hang it up. */
	send_ack_non2xx(w, m, (sip_str_t){ c->target, c->target_len },
			(sip_str_t){ c->route, c->route_len });
	c->state = US_BYE;
	txn_start(w, c, SIP_M_BYE);
}

static void req_final(struct lg_worker *w, struct lg_call *c, const struct sip_msg *m)
{
	if (m->status >= 300) {
		fail(w, c, m->status, LG_F__COUNT);
		unit_end(w, c);
		return;
	}
	if (c->cseq == 1)
		lg_hist_add(&w->st.setup, w->now_ns - c->t0_ns);
	if (c->method == SIP_M_REGISTER && c->refresh_left) {
		c->refresh_left--;
		c->state = US_REFRESH_WAIT;
		wheel_add_in(w->wheel, &c->t_main, w->o->hold_ms);
		return;
	}
	unit_end(w, c);
}

static void final_response(struct lg_worker *w, struct lg_call *c, const struct sip_msg *m)
{
	wheel_cancel(w->wheel, &c->t_retx);
	wheel_cancel(w->wheel, &c->t_main);
	c->pending = false;
	switch (c->method) {
	case SIP_M_INVITE:
		invite_final(w, c, m);
		break;
	case SIP_M_BYE:
		if (m->status >= 300)
			fail(w, c, m->status, LG_F__COUNT);
		unit_end(w, c);
		break;
	default:
		req_final(w, c, m);
		break;
	}
}

static void provisional(struct lg_worker *w, struct lg_call *c)
{
	if (c->prov)
		return;
	c->prov = true;
	/* INVITE: Timer A stops at a provisional (17.1.1.2); non-INVITE goes
	 * on at T2 (17.1.2.2). */
	if (c->method == SIP_M_INVITE) {
		wheel_cancel(w->wheel, &c->t_retx);
	} else {
		c->retx_ms = w->o->t2_ms;
		wheel_add_in(w->wheel, &c->t_retx, c->retx_ms);
	}
}

static void unit_response(struct lg_worker *w, struct lg_call *c, const struct sip_msg *m,
			  const struct sip_cseq *cs)
{
	if (!c->pending || cs->seq != c->cseq || cs->method != c->method) {
		/* A retransmitted 2xx of an INVITE: our ACK was lost. */
		if (cs->method == SIP_M_INVITE && m->status >= 200 && m->status < 300 &&
		    c->confirmed && cs->seq == c->inv_cseq)
			send_ack_2xx(w, c, cs->seq);
		w->st.retx_rcvd++;
		return;
	}
	if (m->status < 200)
		provisional(w, c);
	else
		final_response(w, c, m);
}

static void uac_response(struct lg_worker *w, const struct sip_msg *m)
{
	sip_str_t cid;
	struct sip_cseq cs;
	uint32_t idx;

	if (sip_msg_call_id(m, &cid) <= 0 || sip_msg_cseq(m, &cs) <= 0) {
		w->st.parse_errors++;
		return;
	}
	if (cs.method == SIP_M_INVITE && m->status < LG_STATUS_MAX)
		w->st.inv_resp[m->status]++;
	if (w->o->scen == LG_FLOOD) {
		if (cs.method == SIP_M_INVITE && m->status >= 200 && m->status < 300)
			w->st.ok++;
		else if (cs.method == SIP_M_INVITE && m->status >= 300)
			w->st.failed++;
		stateless_final(w, m, &cs);
		return;
	}
	idx = htab_find(w->tab, cid.p, cid.len);
	if (idx == HTAB_NONE) {
		w->st.stray++;
		stateless_final(w, m, &cs);
		return;
	}
	unit_response(w, pool_at(w->pool, idx), m, &cs);
}

/* A request to the UAC (a BYE from the peer, an OPTIONS keepalive): 200. */
static void uac_request(struct lg_worker *w, const struct sip_msg *m,
			const union sbc_sockaddr *from)
{
	sip_str_t cid;
	char *out;
	int n;

	if (m->method < SIP_M__COUNT)
		w->st.req_rcvd[m->method]++;
	if (m->method == SIP_M_ACK)
		return;
	if (m->method == SIP_M_BYE && sip_msg_call_id(m, &cid) > 0) {
		uint32_t idx = htab_find(w->tab, cid.p, cid.len);

		if (idx != HTAB_NONE) {
			struct lg_call *c = pool_at(w->pool, idx);

			fail(w, c, 0, LG_F_REMOTE_BYE);
			unit_end(w, c);
		}
	}
	out = lg_tx_slot(w);
	n = lg_build_response(w, m, 200, SIP_STR("lguac"), SIP_STR_NULL, false, SIP_STR_NULL,
			      out, LG_MSG_MAX);
	if (n > 0)
		lg_tx_commit(w, (uint32_t)n, from);
}

static void uac_rx(struct lg_worker *w, const char *buf, uint32_t len,
		   const union sbc_sockaddr *from)
{
	struct sip_msg m;

	if (sip_parse(&m, buf, len) != SIP_E_OK) {
		w->st.parse_errors++;
		return;
	}
	if (m.is_request)
		uac_request(w, &m, from);
	else
		uac_response(w, &m);
}

/* ---- timers ------------------------------------------------------------- */

static void on_retx(struct lg_worker *w, struct lg_call *c)
{
	if (!c->pending)
		return;
	w->st.retx_sent++;
	send_current(w, c);
	/* Timer A doubles without bound; Timer E caps at T2. */
	c->retx_ms *= 2;
	if (c->method != SIP_M_INVITE && c->retx_ms > w->o->t2_ms)
		c->retx_ms = w->o->t2_ms;
	wheel_add_in(w->wheel, &c->t_retx, c->retx_ms);
}

static enum lg_fail timeout_kind(const struct lg_call *c)
{
	if (c->method == SIP_M_BYE)
		return LG_F_TIMEOUT_BYE;
	if (c->method != SIP_M_INVITE)
		return LG_F_TIMEOUT_REQUEST;
	return c->confirmed ? LG_F_TIMEOUT_REINVITE : LG_F_TIMEOUT_INVITE;
}

static void on_main(struct lg_worker *w, struct lg_call *c)
{
	if (c->pending) {
		/* Timer B/F: no final response within --timeout. */
		wheel_cancel(w->wheel, &c->t_retx);
		c->pending = false;
		fail(w, c, 0, timeout_kind(c));
		if (c->method == SIP_M_INVITE && c->confirmed) {
			c->state = US_BYE;
			txn_start(w, c, SIP_M_BYE);
			return;
		}
		unit_end(w, c);
		return;
	}
	switch (c->state) {
	case US_HOLD_WAIT:
		c->state = US_REINVITE;
		txn_start(w, c, SIP_M_INVITE);
		break;
	case US_TALK_WAIT:
		media_end(w, c);   /* streams stop at the BYE */
		c->state = US_BYE;
		txn_start(w, c, SIP_M_BYE);
		break;
	case US_REFRESH_WAIT:
		c->state = US_REQ;
		txn_start(w, c, SIP_M_REGISTER);
		break;
	default:
		break;
	}
}

static void uac_timer(struct wheel_timer *t, void *ctx)
{
	struct lg_worker *w = ctx;

	if (t->tag == TAG_RETX)
		on_retx(w, sbc_container_of(t, struct lg_call, t_retx));
	else
		on_main(w, sbc_container_of(t, struct lg_call, t_main));
}

/* ---- rate --------------------------------------------------------------- */

/* Units due by t seconds: the integral of a rate that ramps linearly from
 * 0 to --rate over --ramp seconds, then stays. */
static double units_due(const struct lg_worker *w, double t)
{
	double r = w->rate, ramp = w->ramp_s;

	if (ramp <= 0)
		return r * t;
	if (t < ramp)
		return r * t * t / (2 * ramp);
	return r * (ramp / 2 + (t - ramp));
}

static void stop_starting(struct lg_worker *w)
{
	const struct lg_opts *o = w->o;
	double drain = o->drain_s;

	w->starting = false;
	w->t_stop_start_ns = w->now_ns;
	if (drain < 0) {
		/* Long enough for any unit started last to finish or time out
		 * on its own: setup, hold/refresh waits, the final transaction. */
		double per_txn = o->timeout_ms / 1000.0;

		drain = (o->refreshes + 2) * (per_txn + o->hold_ms / 1000.0) + 1;
		if (o->scen == LG_FLOOD)
			drain = 2;   /* answers to the last INVITEs */
	}
	w->t_end_ns = w->now_ns + (uint64_t)(drain * 1e9);
}

static void start_units(struct lg_worker *w)
{
	double t = (double)(w->now_ns - w->t_start_ns) / 1e9;
	bool last = w->o->duration_s > 0 && t >= w->o->duration_s;
	uint64_t target;
	unsigned burst = 0;

	/* The last call starts the units due just before the end, so a run
	 * of S seconds at R starts R*S units, not a loop iteration fewer. A
	 * unit due exactly at the end is the next run's. */
	if (last)
		t = w->o->duration_s - 1e-9;
	/* +1: the first unit starts at once, not after 1/rate. */
	target = (uint64_t)floor(units_due(w, t) + 1 - w->start_debt);
	if (w->calls && target > w->calls)
		target = w->calls;
	while (w->seq < target && burst++ < 256) {
		if (w->o->scen == LG_FLOOD) {
			flood_one(w);
			continue;
		}
		if (w->st.active >= w->max_concurrent) {
			/* At the cap, starts are given up, not queued: a queue
			 * would fire as one burst when calls end. */
			w->st.skipped += target - w->seq;
			w->start_debt += (double)(target - w->seq);
			w->seq = target;
			break;
		}
		unit_start(w);
	}
	if (last || (w->calls && w->seq >= w->calls))
		stop_starting(w);
}

/* ---- loop --------------------------------------------------------------- */

int lg_uac_init(struct lg_worker *w)
{
	uint32_t cap = w->max_concurrent ? w->max_concurrent : 1;

	w->pool = pool_create(cap, sizeof(struct lg_call), 64);
	if (!w->pool)
		return -ENOMEM;
	w->tab = htab_create(cap, &w->key, call_eq, w->pool);
	return w->tab ? 0 : -ENOMEM;
}

static int idle_timeout_ms(const struct lg_worker *w)
{
	uint64_t next = wheel_next_expiry(w->wheel);

	if (w->starting)
		return 1;
	if (next == UINT64_MAX || next > w->now_ms + 50)
		return 50;
	return next > w->now_ms ? (int)(next - w->now_ms) : 0;
}

static void count_unfinished(struct lg_worker *w)
{
	uint32_t cap = pool_capacity(w->pool);

	for (uint32_t i = 0; i < cap; i++) {
		if (!pool_idx_in_use(w->pool, i))
			continue;
		struct lg_call *c = pool_at(w->pool, i);

		fail(w, c, 0, LG_F_UNFINISHED);
		unit_end(w, c);
	}
}

/* Flood keeps no units: it waits for a final response per INVITE sent. */
static bool flood_waits(const struct lg_worker *w)
{
	return w->o->scen == LG_FLOOD && w->st.ok + w->st.failed < w->st.started;
}

static void count_unanswered(struct lg_worker *w)
{
	uint64_t fin = w->st.ok + w->st.failed;

	if (w->o->scen != LG_FLOOD || fin >= w->st.started)
		return;
	w->st.fail[LG_F_UNFINISHED] += w->st.started - fin;
	w->st.failed += w->st.started - fin;
}

void lg_uac_loop(struct lg_worker *w)
{
	w->now_ns = w->t_start_ns = lg_clock_ns();
	w->now_ms = w->now_ns / 1000000u;
	w->wheel = wheel_create(w->now_ms);
	if (!w->wheel)
		return;
	w->starting = true;
	while (!lg_stop) {
		unsigned n;

		w->now_ns = lg_clock_ns();
		w->now_ms = w->now_ns / 1000000u;
		wheel_advance(w->wheel, w->now_ms, uac_timer, w);
		if (w->starting)
			start_units(w);
		lg_tx_flush(w);
		n = lg_rx_burst(w, uac_rx);
		lg_tx_flush(w);
		if (w->rtp)
			n += lg_rtp_poll(w);
		if (!w->starting && ((w->st.active == 0 && !flood_waits(w)) ||
				     w->now_ns >= w->t_end_ns))
			break;
		if (n == 0)
			lg_wait(w, lg_rtp_wait_ms(w, idle_timeout_ms(w)));
	}
	if (w->starting)
		stop_starting(w);
	count_unfinished(w);
	count_unanswered(w);
	lg_rtp_finish(w);
	lg_tx_flush(w);
}
