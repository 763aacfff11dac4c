/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Client transactions (RFC 3261 17.1.1, 17.1.2, RFC 6026 7.2), the proxy's
 * Timer C (16.6 step 11, 16.7 step 2, 16.8), CANCEL (9.1), and the
 * matching of responses by the branch the layer minted.
 *
 * Re-entrancy. Callbacks (response, timeout) may call back into the layer,
 * including txn_client_abandon() on the very transaction being reported.
 * Every entry point that can call out holds the transaction (c->hold) for
 * its whole run; ending it meanwhile only marks it CS_TERMINATED, and the
 * holder frees it on the way out (client_settle). Nothing touches c after
 * it has been put back into the pool.
 */
#include <errno.h>
#include <string.h>

#include "txn_int.h"

/* The lifetime timer each state arms on entry, UDP values (over TCP, D and
 * K would be zero). B and F guard the whole request phase; Proceeding of
 * INVITE has none (Timer C guards it); D, K and M close the transaction. */
static const uint8_t cli_end_timer[2][CS__COUNT] = {
	[0] = { [CS_TRYING] = DUR_64T1, [CS_COMPLETED] = DUR_T4 },
	[1] = { [CS_CALLING] = DUR_64T1, [CS_COMPLETED] = DUR_TIMER_D, [CS_ACCEPTED] = DUR_64T1 },
};

/* What the expiry of that timer means in each state. */
enum end_action { END_SILENT = 0, END_TIMEOUT, END_TRANSPORT };
static const uint8_t cli_end_action[CS__COUNT] = {
	[CS_CALLING] = END_TIMEOUT,     /* B */
	[CS_TRYING] = END_TIMEOUT,      /* F */
	[CS_PROCEEDING] = END_TIMEOUT,  /* F (INVITE Proceeding arms none) */
	[CS_FAILED] = END_TRANSPORT,
};

/* ---- lifecycle ----------------------------------------------------------- */

static bool is_invite(const struct txn_client *c)
{
	return c->method == SIP_M_INVITE;
}

static void client_stop_timers(struct txn_client *c)
{
	wheel_cancel(c->sh->w, &c->t_retx);
	wheel_cancel(c->sh->w, &c->t_end);
	wheel_cancel(c->sh->w, &c->t_c);
}

static void client_enter(struct txn_client *c, enum txn_cstate st)
{
	enum txn_dur d = (enum txn_dur)cli_end_timer[is_invite(c)][st];

	c->state = (uint8_t)st;
	if (d != DUR_NONE)
		txn_arm(c->sh, &c->t_end, d);
}

void txn_client_release(struct txn_client *c)
{
	struct txn_shard *sh = c->sh;

	client_stop_timers(c);
	c->state = CS_TERMINATED;
	if (c->cancel) {
		c->cancel->parent = NULL;
		txn_client_release(c->cancel);
		c->cancel = NULL;
	}
	if (c->parent)
		c->parent->cancel = NULL;
	c->parent = NULL;
	if (!c->internal && !c->abandoned && sh->ops.client_gone)
		sh->ops.client_gone(sh->ctx, c);
	txn_buf_free(sh, &c->req);
	c->gen = 0;
	c->state = CS_FREE;
	pool_put(sh->cpool, c);
}

/* End c: now, or when the entry point holding it returns. */
static void client_end(struct txn_client *c)
{
	client_stop_timers(c);
	c->state = CS_TERMINATED;
	if (!c->hold)
		txn_client_release(c);
}

static void client_settle(struct txn_client *c)
{
	if (--c->hold == 0 && c->state == CS_TERMINATED)
		txn_client_release(c);
}

static void client_report(struct txn_client *c, const struct sip_msg *m)
{
	struct txn_shard *sh = c->sh;

	if (!c->internal && !c->abandoned)
		sh->ops.response(sh->ctx, c, m);
}

static void client_timeout(struct txn_client *c, uint16_t status)
{
	struct txn_shard *sh = c->sh;
	bool tell = !c->internal && !c->abandoned;

	client_stop_timers(c);
	c->state = CS_TERMINATED;
	if (tell)
		sh->ops.timeout(sh->ctx, c, status);
	client_end(c);
}

/* RFC 3261 17.1.4: a transport error ends the transaction. Reported from a
 * 0 ms timer, so never from inside the caller's txn_client_send(). */
static void client_fail(struct txn_client *c)
{
	client_stop_timers(c);
	c->state = CS_FAILED;
	txn_arm(c->sh, &c->t_end, DUR_ZERO);
}

static int client_send(struct txn_client *c, const char *p, uint32_t len)
{
	return txn_send(c->sh, &c->peer, p, len);
}

/* Calling/Trying: Timer A or E (UDP only), B or F, and C for INVITE. */
static int client_start(struct txn_client *c)
{
	struct txn_shard *sh = c->sh;

	c->retx_ms = sh->dur[DUR_T1];
	txn_arm(sh, &c->t_retx, DUR_T1);
	client_enter(c, is_invite(c) ? CS_CALLING : CS_TRYING);
	if (is_invite(c))
		txn_arm(sh, &c->t_c, DUR_TIMER_C);
	if (client_send(c, c->req.p, c->req.len) == 0)
		return 0;
	client_fail(c);
	return -EIO;
}

/* ---- CANCEL ----------------------------------------------------------- */

/* Send the built CANCEL and give the INVITE 64*T1 to come back with a
 * final (9.1: "consider the original transaction cancelled"). */
static void cancel_start(struct txn_client *c)
{
	struct txn_shard *sh = c->sh;

	if (c->cancel)
		(void)client_start(c->cancel);
	c->guard = true;
	txn_arm(sh, &c->t_c, DUR_64T1);
}

static void cancel_drop_pending(struct txn_client *c)
{
	if (c->cancel && c->cancel->state == CS_PENDING)
		txn_client_release(c->cancel);
}

static void client_init(struct txn_client *c, struct txn_shard *sh, enum sip_method method,
			const struct txn_peer *to)
{
	memset(c, 0, sizeof(*c));
	c->sh = sh;
	wheel_timer_init(&c->t_retx, TXN_TIMER_TAG_BASE + TT_C_RETX);
	wheel_timer_init(&c->t_end, TXN_TIMER_TAG_BASE + TT_C_END);
	wheel_timer_init(&c->t_c, TXN_TIMER_TAG_BASE + TT_C_C);
	c->peer = *to;
	c->method = (uint8_t)method;
	c->state = CS_RESERVED;
}

static int cancel_fill(struct txn_client *k, struct txn_client *c, sip_str_t extra)
{
	struct txn_shard *sh = c->sh;
	int n;

	if (txn_reparse(sh, &c->req) < 0)
		return -EINVAL;
	n = txn_build_cancel(sh, sh->msg, extra);
	if (n < 0)
		return n;
	return txn_buf_set(sh, &k->req, sh->out, (uint32_t)n);
}

static int cancel_create(struct txn_client *c, sip_str_t extra)
{
	struct txn_shard *sh = c->sh;
	struct txn_client *k = pool_get(sh->cpool);
	int rc;

	if (!k) {
		sh->st.pool_exhausted++;
		return -ENOBUFS;
	}
	client_init(k, sh, SIP_M_CANCEL, &c->peer);
	k->internal = true;  /* gen 0: no branch leads to it but its INVITE's */
	memcpy(k->branch, c->branch, TXN_BRANCH_LEN);
	rc = cancel_fill(k, c, extra);
	if (rc < 0) {
		k->state = CS_FREE;
		pool_put(sh->cpool, k);
		return rc;
	}
	k->state = CS_PENDING;
	k->parent = c;
	c->cancel = k;
	c->cancelled = true;
	sh->st.client_created++;
	if (c->provisional)
		cancel_start(c);
	return 0;
}

int txn_client_cancel(struct txn_client *c, sip_str_t extra_hdrs)
{
	if (!is_invite(c) || c->internal || c->state == CS_RESERVED || c->state == CS_FREE)
		return -EINVAL;
	/* 9.1: nothing to cancel once a final arrived (or the txn failed). */
	if ((c->state != CS_CALLING && c->state != CS_PROCEEDING) || c->cancelled)
		return 0;
	return cancel_create(c, extra_hdrs);
}

/* ---- timers ------------------------------------------------------------ */

/* Timer A doubles without bound (17.1.1.2; B stops it); Timer E doubles up
 * to T2 in Trying and stays at T2 in Proceeding (17.1.2.2). */
static uint32_t next_retx(const struct txn_client *c)
{
	uint32_t t2 = c->sh->dur[DUR_T2];
	uint32_t twice = 2u * c->retx_ms;

	if (is_invite(c))
		return twice;
	if (c->state == CS_PROCEEDING)
		return t2;
	return twice < t2 ? twice : t2;
}

static void client_retransmit(struct txn_client *c)
{
	struct txn_shard *sh = c->sh;

	if (c->state != CS_CALLING && c->state != CS_TRYING && c->state != CS_PROCEEDING)
		return;
	sh->st.retransmits_sent++;
	if (client_send(c, c->req.p, c->req.len) < 0) {
		client_fail(c);
		return;
	}
	c->retx_ms = next_retx(c);
	txn_arm_ms(sh, &c->t_retx, c->retx_ms);
}

static void client_end_timer(struct txn_client *c)
{
	switch ((enum end_action)cli_end_action[c->state]) {
	case END_TIMEOUT:
		c->sh->st.timeouts++;
		client_timeout(c, TXN_END_TIMEOUT);
		return;
	case END_TRANSPORT:
		client_timeout(c, TXN_END_TRANSPORT);
		return;
	case END_SILENT:
		client_end(c);
		return;
	}
}

/* Timer C (16.8): no provisional yet → as if 408 arrived; a provisional →
 * CANCEL and wait 64*T1 more. The guard that follows times out with 408. */
static void client_timer_c(struct txn_client *c)
{
	if (c->guard || !c->provisional) {
		c->sh->st.timeouts++;
		client_timeout(c, TXN_END_TIMEOUT);
		return;
	}
	if (c->cancelled || cancel_create(c, SIP_STR_NULL) < 0)
		cancel_start(c);  /* no CANCEL possible: still arm the guard */
}

void txn_client_timer(struct txn_client *c, enum txn_tt tt)
{
	c->hold++;
	if (tt == TT_C_RETX)
		client_retransmit(c);
	else if (tt == TT_C_END)
		client_end_timer(c);
	else
		client_timer_c(c);
	client_settle(c);
}

/* ---- responses ------------------------------------------------------------ */

/* ACK a non-2xx final (17.1.1.3). The first time it is built from the
 * stored INVITE and then kept instead of it (smaller, in the smallest
 * class that holds it): a retransmitted final carries the same To, so the
 * same ACK answers it until Timer D, and the INVITE is no longer needed
 * (no retransmission, no CANCEL after a final). */
static void inv_ack(struct txn_client *c, const struct sip_msg *rsp)
{
	struct txn_shard *sh = c->sh;
	int n;

	if (c->ack_stored) {
		(void)client_send(c, c->req.p, c->req.len);
		return;
	}
	if (txn_reparse(sh, &c->req) < 0)
		return;
	n = txn_build_ack(sh, sh->msg, rsp);
	if (n <= 0)
		return;
	(void)client_send(c, sh->out, (uint32_t)n);
	c->ack_stored = txn_buf_replace(sh, &c->req, sh->out, (uint32_t)n);
}

static void inv_provisional(struct txn_client *c, const struct sip_msg *m)
{
	struct txn_shard *sh = c->sh;

	if (c->state == CS_CALLING) {
		/* 17.1.1.2: retransmissions stop; Timer B only guards Calling. */
		wheel_cancel(sh->w, &c->t_retx);
		wheel_cancel(sh->w, &c->t_end);
		client_enter(c, CS_PROCEEDING);
	}
	c->provisional = true;
	/* 16.7 step 2: a provisional other than 100 restarts Timer C. */
	if (m->status > 100 && !c->guard)
		txn_arm(sh, &c->t_c, DUR_TIMER_C);
	if (c->cancel && c->cancel->state == CS_PENDING)
		cancel_start(c);  /* 9.1: the CANCEL waited for this */
	if (m->status > 100)
		client_report(c, m);
}

static void inv_final(struct txn_client *c, const struct sip_msg *m)
{
	client_stop_timers(c);
	c->final = m->status;
	cancel_drop_pending(c);
	if (m->status < 300) {
		/* RFC 6026 7.2: Accepted only passes further 2xx up */
		txn_buf_free(c->sh, &c->req);
		client_enter(c, CS_ACCEPTED);   /* Timer M */
	} else {
		inv_ack(c, m);
		client_enter(c, CS_COMPLETED);  /* Timer D */
	}
	client_report(c, m);
}

static void inv_response(struct txn_client *c, const struct sip_msg *m)
{
	uint16_t st = m->status;

	switch (c->state) {
	case CS_CALLING:
	case CS_PROCEEDING:
		if (st < 200)
			inv_provisional(c, m);
		else
			inv_final(c, m);
		return;
	case CS_COMPLETED:
		/* 17.1.1.2: a retransmitted final is acknowledged again and
		 * not passed up. */
		if (st >= 300)
			inv_ack(c, m);
		return;
	case CS_ACCEPTED:
		/* RFC 6026 7.2: every 2xx is passed up (retransmissions and
		 * other forks); the proxy forwards them statelessly. */
		if (st >= 200 && st < 300)
			client_report(c, m);
		return;
	default:
		return;
	}
}

static void non_inv_response(struct txn_client *c, const struct sip_msg *m)
{
	if (c->state != CS_TRYING && c->state != CS_PROCEEDING)
		return;  /* Completed absorbs retransmitted finals (17.1.2.2) */
	if (m->status < 200) {
		c->state = CS_PROCEEDING;
		c->provisional = true;
		if (m->status > 100)
			client_report(c, m);
		return;
	}
	client_stop_timers(c);
	c->final = m->status;
	/* Completed only absorbs retransmitted finals (17.1.2.2) */
	txn_buf_free(c->sh, &c->req);
	client_enter(c, CS_COMPLETED);  /* Timer K */
	client_report(c, m);
}

/* The branch names shard, slot and generation; the CSeq method picks the
 * INVITE or its CANCEL, which share the branch (9.1). */
static struct txn_client *client_match(struct txn_shard *sh, sip_str_t branch,
				       enum sip_method cm)
{
	uint32_t shard, idx, gen;
	struct txn_client *c;

	if (txn_branch_decode(branch, &shard, &idx, &gen) < 0 || shard != sh->cfg.shard ||
	    !gen || !pool_idx_in_use(sh->cpool, idx))
		return NULL;
	c = pool_at(sh->cpool, idx);
	if (c->gen != gen || c->state == CS_RESERVED || c->state == CS_TERMINATED)
		return NULL;
	if (cm == c->method)
		return c;
	if (cm == SIP_M_CANCEL && c->cancel && c->cancel->state != CS_PENDING)
		return c->cancel;
	return NULL;
}

enum txn_verdict txn_input_response(struct txn_shard *sh, const struct sip_msg *m)
{
	struct txn_client *c = NULL;
	struct sip_cseq cseq;
	struct sip_via via;

	if (sip_msg_top_via(m, &via) > 0 && sip_msg_cseq(m, &cseq) > 0)
		c = client_match(sh, via.branch, cseq.method);
	if (!c || m->status < 100) {
		sh->st.stray_responses++;
		return TXN_STRAY;
	}
	c->hold++;
	if (is_invite(c))
		inv_response(c, m);
	else
		non_inv_response(c, m);
	client_settle(c);
	return TXN_RESPONSE;
}

/* ---- the API ------------------------------------------------------------ */

static uint32_t new_generation(struct txn_shard *sh)
{
	uint32_t g;

	do
		g = (uint32_t)txn_prf(sh);
	while (!g);
	return g;
}

struct txn_client *txn_client_create(struct txn_shard *sh, enum sip_method method,
				     const struct txn_peer *to, sip_str_t *branch)
{
	struct txn_client *c;

	if (method == SIP_M_ACK)
		return NULL;  /* ACK has no client transaction (17.1) */
	c = pool_get(sh->cpool);
	if (!c) {
		sh->st.pool_exhausted++;
		return NULL;
	}
	client_init(c, sh, method, to);
	c->gen = new_generation(sh);
	txn_branch_encode(c->branch, sh->cfg.shard, pool_idx(sh->cpool, c), c->gen);
	if (branch)
		*branch = (sip_str_t){ c->branch, TXN_BRANCH_LEN };
	sh->st.client_created++;
	return c;
}

int txn_client_send(struct txn_client *c, const char *buf, uint32_t len)
{
	int rc;

	if (c->state != CS_RESERVED)
		return -EALREADY;
	if (len > TXN_MAX_MSG)
		return -E2BIG;
	rc = txn_buf_set(c->sh, &c->req, buf, len);
	if (rc < 0) {
		client_fail(c);  /* overload: the owner hears 503, as for transport */
		return rc;
	}
	return client_start(c);
}

/* In Completed the transaction still has work that needs no owner: ACK
 * the retransmitted finals until Timer D/K. It finishes silently. */
void txn_client_abandon(struct txn_client *c)
{
	if (!c || c->state == CS_FREE || c->abandoned)
		return;
	c->abandoned = true;
	c->user = NULL;
	if (c->state == CS_COMPLETED || c->state == CS_TERMINATED)
		return;
	client_end(c);
}

bool txn_client_provisional_seen(const struct txn_client *c)
{
	return c->provisional;
}

uint16_t txn_client_final(const struct txn_client *c)
{
	return c->final;
}

const struct txn_peer *txn_client_peer(const struct txn_client *c)
{
	return &c->peer;
}

void txn_client_set_user(struct txn_client *c, void *user)
{
	c->user = user;
}

void *txn_client_user(const struct txn_client *c)
{
	return c->user;
}
