/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Server transactions (RFC 3261 17.2.1, 17.2.2, RFC 6026 7.1) and the
 * matching of incoming requests to them (RFC 3261 17.2.3, 9.2).
 */
#include <errno.h>
#include <string.h>

#include "txn_int.h"

/* ---- matching keys ------------------------------------------------------
 * The table stores no key bytes (htab.h): a lookup encodes the incoming
 * message's key into sh->keybuf, and the eq callback walks the same
 * encoding over the candidate's stored views, comparing instead of writing,
 * so both sides come from one function and cannot drift apart. */

struct kcur {
	uint8_t *out;        /* encode into out ... */
	const uint8_t *cmp;  /* ... or compare against cmp */
	size_t pos, cap;
	bool bad;
};

static void kput(struct kcur *k, const void *p, size_t n)
{
	if (k->bad || n > k->cap - k->pos) {
		k->bad = true;
		return;
	}
	if (!n)
		return;
	if (k->out)
		memcpy(k->out + k->pos, p, n);
	else if (memcmp(k->cmp + k->pos, p, n) != 0)
		k->bad = true;
	k->pos += n;
}

static void kput_u32(struct kcur *k, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	kput(k, b, sizeof(b));
}

/* Length-prefixed, so ("ab","c") and ("a","bc") never collide. */
static void kput_str(struct kcur *k, sip_str_t s)
{
	kput_u32(k, s.len);
	kput(k, s.p, s.len);
}

static void key_emit(struct kcur *k, const struct txn_key *key)
{
	uint8_t head[4] = { key->kind, key->mclass, (uint8_t)key->port, (uint8_t)(key->port >> 8) };

	kput(k, head, sizeof(head));
	kput_str(k, key->mname);
	kput_str(k, key->host);
	if (key->kind == KEY_3261) {
		kput_str(k, key->branch);
		return;
	}
	kput_u32(k, key->cseq);
	kput_str(k, key->call_id);
	kput_str(k, key->from_tag);
	kput_str(k, key->ruri);
}

static int key_encode(struct txn_shard *sh, const struct txn_key *key)
{
	struct kcur k = { .out = sh->keybuf, .cap = TXN_MAX_MSG + 64u };

	key_emit(&k, key);
	return k.bad ? -ENOSPC : (int)k.pos;
}

bool txn_key_eq_cb(void *ctx, uint32_t val, const void *key, size_t len)
{
	struct txn_shard *sh = ctx;
	const struct txn_server *s = pool_at(sh->spool, val);
	struct kcur k = { .cmp = key, .cap = len };

	key_emit(&k, &s->key);
	return !k.bad && k.pos == len;
}

/* ACK belongs to the INVITE's transaction (17.2.3); CANCEL is a class of
 * its own, as is every other method. */
static enum sip_method method_class(enum sip_method m)
{
	return m == SIP_M_ACK ? SIP_M_INVITE : m;
}

/* The RFC 2543 fallback (17.2.3, last paragraphs): Call-ID, CSeq number,
 * From tag, top Via sent-by and Request-URI. The To tag is left out so the
 * ACK of a non-2xx (which carries our tag) still matches its INVITE. */
static int key_2543(const struct sip_msg *m, struct txn_key *k)
{
	struct sip_nameaddr from;
	struct sip_cseq cseq;

	if (sip_msg_call_id(m, &k->call_id) <= 0 || sip_msg_cseq(m, &cseq) <= 0 ||
	    sip_msg_from(m, &from) <= 0)
		return -EINVAL;
	k->kind = KEY_2543;
	k->cseq = cseq.seq;
	k->from_tag = from.tag;
	k->ruri = m->ruri;
	return 0;
}

static int key_from_msg(const struct sip_msg *m, enum sip_method mclass, struct txn_key *k)
{
	struct sip_via via;

	memset(k, 0, sizeof(*k));
	if (sip_msg_top_via(m, &via) <= 0)
		return -EINVAL;
	k->mclass = (uint8_t)mclass;
	if (mclass == SIP_M_UNKNOWN)
		k->mname = m->method_name;
	k->host = via.host;
	k->port = via.port;
	/* sip_branch_is_3261 wants the cookie and more: a bare "z9hG4bK"
	 * is no unique branch and falls back too. */
	if (!sip_branch_is_3261(via.branch))
		return key_2543(m, k);
	k->kind = KEY_3261;
	k->branch = via.branch;
	return 0;
}

static sip_str_t rebase(sip_str_t s, const char *from, const char *to)
{
	if (!s.p)
		return s;
	return (sip_str_t){ to + (s.p - from), s.len };
}

static void key_rebase(struct txn_key *k, const char *from, const char *to)
{
	k->mname = rebase(k->mname, from, to);
	k->branch = rebase(k->branch, from, to);
	k->host = rebase(k->host, from, to);
	k->call_id = rebase(k->call_id, from, to);
	k->from_tag = rebase(k->from_tag, from, to);
	k->ruri = rebase(k->ruri, from, to);
}

static struct txn_server *server_find(struct txn_shard *sh, const struct txn_key *k)
{
	int n = key_encode(sh, k);
	uint32_t v;

	if (n < 0)
		return NULL;
	v = htab_find(sh->tab, sh->keybuf, (size_t)n);
	return v == HTAB_NONE ? NULL : pool_at(sh->spool, v);
}

/* ---- states ------------------------------------------------------------ */

/* The one lifetime timer of each state, UDP values (over TCP, J and I
 * would be zero): H, I and L for INVITE (17.2.1, RFC 6026 7.1), J for
 * non-INVITE (17.2.2). */
static const uint8_t srv_end_timer[2][SS__COUNT] = {
	[0] = { [SS_COMPLETED] = DUR_64T1 },
	[1] = { [SS_COMPLETED] = DUR_64T1, [SS_CONFIRMED] = DUR_T4, [SS_ACCEPTED] = DUR_64T1 },
};

/* A request retransmission gets the last response again in Proceeding and
 * Completed (17.2.1, 17.2.2); Trying, Confirmed and Accepted absorb it
 * silently (RFC 6026 7.1: the 2xx is retransmitted end to end, not by us). */
static const bool srv_resend_on_retx[SS__COUNT] = {
	[SS_PROCEEDING] = true,
	[SS_COMPLETED] = true,
};

/* An ACK that matched an INVITE transaction: hop by hop for a non-2xx
 * (absorbed), end to end for a 2xx (the proxy forwards it). An ACK before
 * any final answers nothing that was sent: drop it. */
static const uint8_t srv_ack_verdict[SS__COUNT] = {
	[SS_PROCEEDING] = TXN_ABSORBED,
	[SS_COMPLETED] = TXN_ABSORBED,
	[SS_CONFIRMED] = TXN_ABSORBED,
	[SS_ACCEPTED] = TXN_ACK,
};

static void server_enter(struct txn_server *s, enum txn_sstate st)
{
	enum txn_dur d = (enum txn_dur)srv_end_timer[s->method == SIP_M_INVITE][st];

	s->state = (uint8_t)st;
	if (d != DUR_NONE)
		txn_arm(s->sh, &s->t_end, d);
}

static int server_send(struct txn_server *s, const char *p, uint32_t len)
{
	return txn_send(s->sh, &s->peer, p, len);
}

/* RFC 6026 7.1: after a 2xx, further 2xx (other forks, retransmissions
 * from downstream) pass through; nothing else may follow a final. */
static int server_after_final(struct txn_server *s, uint16_t status, const char *p, uint32_t len)
{
	if (s->state != SS_ACCEPTED || status < 200 || status >= 300)
		return -EALREADY;
	return server_send(s, p, len);
}

static int server_provisional(struct txn_server *s, const char *p, uint32_t len)
{
	/* Kept for request retransmissions; if no slab is free they are
	 * absorbed without an answer, which the peer survives. */
	(void)txn_buf_set(s->sh, &s->rsp, p, len);
	s->state = SS_PROCEEDING;
	return server_send(s, p, len);
}

/* After a 2xx to INVITE the owner may still forward further 2xx (RFC 6026
 * 7.1) and read the request's Vias, From, Call-ID, Contact ... for them;
 * its body (the offer, already applied) is dead weight: keep the header
 * section only, with Content-Length 0, in the smallest buffer that holds
 * it. Anything unexpected keeps the request whole. */
static void server_trim_request(struct txn_server *s)
{
	struct txn_shard *sh = s->sh;
	int n;

	if (txn_reparse(sh, &s->req) < 0 || !sh->msg->body_len)
		return;
	sip_edit_init(sh->ed, sh->msg);
	if (sip_edit_set_body(sh->ed, SIP_STR_NULL) < 0)
		return;
	n = sip_edit_serialize(sh->ed, sh->out, TXN_MAX_MSG);
	if (n > 0)
		txn_buf_replace(sh, &s->req, sh->out, (uint32_t)n);
}

/* After any other final only the key (and To-tag), copied at create,
 * matches retransmissions and the ACK: the request goes back to its slab
 * unless the key still points into it. */
static void server_drop_request(struct txn_server *s)
{
	if (!s->pinned)
		txn_buf_free(s->sh, &s->req);
}

static int server_accept(struct txn_server *s, const char *p, uint32_t len)
{
	int rc;

	/* Accepted resends nothing (RFC 6026 7.1): drop the provisional. */
	txn_buf_free(s->sh, &s->rsp);
	server_enter(s, SS_ACCEPTED);
	rc = server_send(s, p, len);
	/* after the send: p may be sh->out, which trimming reuses */
	if (!s->pinned)
		server_trim_request(s);
	return rc;
}

static int server_complete(struct txn_server *s, const char *p, uint32_t len)
{
	struct txn_shard *sh = s->sh;
	int rc;

	/* On failure rsp is empty: the final goes out once, unretransmitted,
	 * rather than not at all. */
	(void)txn_buf_set(sh, &s->rsp, p, len);
	if (s->method == SIP_M_INVITE) {
		/* Timer G, UDP only (17.2.1). */
		s->retx_ms = sh->dur[DUR_T1];
		txn_arm(sh, &s->t_retx, DUR_T1);
	}
	server_enter(s, SS_COMPLETED);
	rc = server_send(s, p, len);
	server_drop_request(s);
	return rc;
}

static int server_respond(struct txn_server *s, uint16_t status, const char *p, uint32_t len)
{
	if (s->state == SS_FREE || status < 100 || status > 699)
		return -EINVAL;
	if (s->final)
		return server_after_final(s, status, p, len);
	if (status < 200)
		return server_provisional(s, p, len);
	s->final = status;
	if (s->method == SIP_M_INVITE && status < 300)
		return server_accept(s, p, len);
	return server_complete(s, p, len);
}

static void server_confirm(struct txn_server *s)
{
	wheel_cancel(s->sh->w, &s->t_retx);
	wheel_cancel(s->sh->w, &s->t_end);
	/* Confirmed absorbs everything silently: the final is not needed */
	txn_buf_free(s->sh, &s->rsp);
	server_enter(s, SS_CONFIRMED);  /* Timer I */
}

void txn_server_timer(struct txn_server *s, enum txn_tt tt)
{
	struct txn_shard *sh = s->sh;

	if (tt == TT_S_END) {
		txn_server_release(s);
		return;
	}
	/* Timer G: doubling up to T2 (17.2.1). */
	if (s->state != SS_COMPLETED || !s->rsp.p)
		return;
	sh->st.retransmits_sent++;
	(void)server_send(s, s->rsp.p, s->rsp.len);
	s->retx_ms = 2u * s->retx_ms < sh->dur[DUR_T2] ? 2u * s->retx_ms : sh->dur[DUR_T2];
	txn_arm_ms(sh, &s->t_retx, s->retx_ms);
}

void txn_server_release(struct txn_server *s)
{
	struct txn_shard *sh = s->sh;

	wheel_cancel(sh->w, &s->t_retx);
	wheel_cancel(sh->w, &s->t_end);
	(void)htab_remove_val(sh->tab, s->hash, pool_idx(sh->spool, s));
	s->state = SS_FREE;  /* calls on s from server_gone are refused */
	if (sh->ops.server_gone)
		sh->ops.server_gone(sh->ctx, s);
	txn_buf_free(sh, &s->req);
	txn_buf_free(sh, &s->rsp);
	pool_put(sh->spool, s);
}

/* ---- input ------------------------------------------------------------- */

static enum txn_verdict server_retransmission(struct txn_server *s)
{
	s->sh->st.retransmits_absorbed++;
	if (srv_resend_on_retx[s->state] && s->rsp.p)
		(void)server_send(s, s->rsp.p, s->rsp.len);
	return TXN_ABSORBED;
}

static enum txn_verdict input_ack(struct txn_shard *sh, const struct txn_key *k,
				  struct txn_server **match)
{
	struct txn_server *s = server_find(sh, k);

	if (!s)
		return TXN_ACK;
	*match = s;
	if (s->state == SS_COMPLETED)
		server_confirm(s);
	return (enum txn_verdict)srv_ack_verdict[s->state];
}

/* RFC 3261 9.2: a CANCEL matches the INVITE it cancels by the INVITE's own
 * key (same branch and sent-by, or the same 2543 fields). */
static enum txn_verdict input_cancel(struct txn_shard *sh, struct txn_key *k,
				     struct txn_server **match)
{
	struct txn_server *s = server_find(sh, k);

	if (s) {
		*match = s;
		return server_retransmission(s);
	}
	k->mclass = SIP_M_INVITE;
	s = server_find(sh, k);
	if (!s)
		return TXN_CANCEL_NOMATCH;
	*match = s;
	return s->final ? TXN_CANCEL_LATE : TXN_CANCEL;
}

static enum txn_verdict verdict_unmatched(enum sip_method m)
{
	if (m == SIP_M_ACK)
		return TXN_ACK;
	return m == SIP_M_CANCEL ? TXN_CANCEL_NOMATCH : TXN_NEW;
}

enum txn_verdict txn_input_request(struct txn_shard *sh, const struct sip_msg *m,
				   struct txn_server **match)
{
	struct txn_server *s;
	struct txn_key k;

	if (key_from_msg(m, method_class(m->method), &k) < 0)
		return verdict_unmatched(m->method);
	if (m->method == SIP_M_ACK)
		return input_ack(sh, &k, match);
	if (m->method == SIP_M_CANCEL)
		return input_cancel(sh, &k, match);
	s = server_find(sh, &k);
	if (!s)
		return TXN_NEW;
	*match = s;
	return server_retransmission(s);
}

/* ---- creation ---------------------------------------------------------- */

static void server_init(struct txn_server *s, struct txn_shard *sh, const struct sip_msg *m,
			const struct txn_peer *from)
{
	memset(s, 0, sizeof(*s));
	s->sh = sh;
	wheel_timer_init(&s->t_retx, TXN_TIMER_TAG_BASE + TT_S_RETX);
	wheel_timer_init(&s->t_end, TXN_TIMER_TAG_BASE + TT_S_END);
	s->peer = *from;
	s->method = (uint8_t)m->method;
	s->state = m->method == SIP_M_INVITE ? SS_PROCEEDING : SS_TRYING;
}

static int server_insert(struct txn_server *s)
{
	struct txn_shard *sh = s->sh;
	int n = key_encode(sh, &s->key);

	if (n < 0)
		return n;
	s->hash = htab_hash(sh->tab, sh->keybuf, (size_t)n);
	return htab_insert_h(sh->tab, s->hash, sh->keybuf, (size_t)n, pool_idx(sh->spool, s));
}

/* The key's strings and the To-tag, copied into s->kb so that they outlive
 * the stored request. An in-dialog request keeps its own To-tag; otherwise
 * ours is 64 PRF bits, written into kb first. When the rest does not fit,
 * the views point into the stored request instead, which then stays for
 * the transaction's life (pinned). */
static void server_key_own(struct txn_server *s, const struct txn_key *k, const struct sip_msg *m)
{
	struct sip_nameaddr to;
	sip_str_t tag = SIP_STR_NULL;
	uint32_t used = 0, need = 0;

	s->key = *k;
	if (sip_msg_to(m, &to) > 0 && to.tag.len) {
		tag = to.tag;
	} else {
		txn_hex(s->kb, txn_prf(s->sh), TXN_TAG_LEN);
		s->to_tag = (sip_str_t){ s->kb, TXN_TAG_LEN };
		used = TXN_TAG_LEN;
	}
	sip_str_t *f[] = { &s->key.mname, &s->key.branch, &s->key.host, &s->key.call_id,
			   &s->key.from_tag, &s->key.ruri, &tag };
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		need += f[i]->p ? f[i]->len : 0;
	if (need > TXN_KEY_INLINE - used) {
		s->pinned = true;
		key_rebase(&s->key, m->buf, s->req.p);
		if (tag.p)
			s->to_tag = rebase(tag, m->buf, s->req.p);
		return;
	}
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (!f[i]->p)
			continue;
		memcpy(s->kb + used, f[i]->p, f[i]->len);
		f[i]->p = s->kb + used;
		used += f[i]->len;
	}
	if (tag.p)
		s->to_tag = tag;
}

/* RFC 3261 17.2.1: the INVITE server transaction answers 100 at once so
 * the upstream stops Timer A; built from the request, so it costs no
 * route or dialog work. */
static void server_trying(struct txn_server *s, const struct sip_msg *m)
{
	int n = sip_reply(m, 100, "Trying", SIP_STR_NULL, SIP_STR_NULL, s->sh->out, TXN_MAX_MSG);

	if (n > 0)
		(void)server_respond(s, 100, s->sh->out, (uint32_t)n);
}

struct txn_server *txn_server_create(struct txn_shard *sh, const struct sip_msg *m,
				     const struct txn_peer *from)
{
	struct txn_server *s;
	struct txn_key k;

	if (!m->is_request || m->method == SIP_M_ACK || m->len > TXN_MAX_MSG ||
	    key_from_msg(m, m->method, &k) < 0)
		return NULL;
	s = pool_get(sh->spool);
	if (!s) {
		sh->st.pool_exhausted++;
		return NULL;
	}
	server_init(s, sh, m, from);
	if (txn_buf_set(sh, &s->req, m->buf, m->len) < 0)
		goto fail;
	server_key_own(s, &k, m);
	if (server_insert(s) < 0)
		goto fail;
	sh->st.server_created++;
	if (m->method == SIP_M_INVITE)
		server_trying(s, m);
	return s;
fail:
	txn_buf_free(sh, &s->req);
	s->state = SS_FREE;
	pool_put(sh->spool, s);
	return NULL;
}

/* ---- responses from the proxy ------------------------------------------ */

int txn_server_reply(struct txn_server *s, uint16_t status, const char *reason, sip_str_t extra_hdrs)
{
	struct txn_shard *sh = s->sh;
	int n;

	if (s->state == SS_FREE)
		return -EINVAL;
	/* refused as server_respond would, before looking for a request the
	 * final may have released */
	if (s->final && (s->state != SS_ACCEPTED || status < 200 || status >= 300))
		return -EALREADY;
	if (txn_reparse(sh, &s->req) < 0)
		return -EINVAL;
	n = sip_reply(sh->msg, status, reason, s->to_tag, extra_hdrs, sh->out, TXN_MAX_MSG);
	if (n < 0)
		return n;
	return server_respond(s, status, sh->out, (uint32_t)n);
}

int txn_server_send(struct txn_server *s, uint16_t status, const char *buf, uint32_t len)
{
	return server_respond(s, status, buf, len);
}

/* ---- accessors --------------------------------------------------------- */

sip_str_t txn_server_request(const struct txn_server *s)
{
	return (sip_str_t){ s->req.p, s->req.len };
}

const struct txn_peer *txn_server_peer(const struct txn_server *s)
{
	return &s->peer;
}

enum sip_method txn_server_method(const struct txn_server *s)
{
	return (enum sip_method)s->method;
}

uint16_t txn_server_final(const struct txn_server *s)
{
	return s->final;
}

sip_str_t txn_server_to_tag(const struct txn_server *s)
{
	return s->to_tag;
}

void txn_server_set_user(struct txn_server *s, void *user)
{
	s->user = user;
}

void *txn_server_user(const struct txn_server *s)
{
	return s->user;
}
