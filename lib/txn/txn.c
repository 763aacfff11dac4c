/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Transaction layer: the shard (pools, slabs, scratch), timer dispatch,
 * branch tokens, and the entry point that sorts requests from responses.
 *
 * Memory budget of a shard (everything is allocated in txn_shard_create and
 * touched once by pool_create, so the first calls never page-fault). With
 * S = max_server, C = max_client and N = max_messages stored copies:
 *   struct txn_server   S x 384 B (352 B with its inline key, padded)
 *   struct txn_client   C x 256 B (232 B padded)
 *   server match table  8 B x next_pow2(2*S) slots
 *   slab 1 KiB          (N + 8)        short responses, ACKs, the headers
 *                                      an Accepted INVITE keeps
 *   slab 2 KiB          (N/8 + 8)      requests with SDP while active
 *   slab 8 KiB          (N/64 + 4)     large SDP, long Route sets
 *   slab 64 KiB         (N/1024 + 2)   anything up to SIP_MAX_MSG
 *   scratch             ~160 KiB (a sip_msg, an editor, a key buffer, an
 *                       output buffer)
 * i.e. 1.44 KiB per stored copy. Copies are held only while the RFC needs
 * them (txn.h): a call costs two server and two client transactions, but
 * over the 64*T1 they linger only two copies, the INVITE's headers
 * (Accepted) and the BYE's final response (Completed), both nearly always
 * in the 1 KiB class; a larger class is used only during setup. So the
 * proxy sizes N = S (sbc/proxy.c). The sbc default S = C = N = 57344
 * gives 81 MiB of slabs + 35 MiB of transactions + 1 MiB of table:
 * ~117 MiB per shard (plus 26 MiB of proxy contexts), sustaining
 * S / (2 * 64 * T1) = 896 calls/s at T1 = 500 ms. It was 16384
 * transactions with 2*S + C copies in 2 KiB slabs: 135 MiB (plus 13 MiB
 * of contexts) for 256 calls/s. A class that runs dry borrows from the
 * next larger one; when all are dry the create/send call fails and the
 * proxy answers 503 (overload), which is counted in pool_exhausted.
 *
 * Reliable transports (TCP/TLS, not used yet) would change only timer
 * values: no Timer A/E/G retransmissions, and D, I, J, K of zero
 * (RFC 3261 17.1.1.2, 17.1.2.2, 17.2.1, 17.2.2): see DUR_ZERO.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "txn_int.h"

#define TXN_DEF_T1      500u
#define TXN_DEF_T2      4000u
#define TXN_DEF_T4      5000u
#define TXN_DEF_TIMER_C 180000u
#define TXN_MAX_TXNS    (1u << 24)
#define TIMER_D_MIN_MS  32000u

/* Slab classes: one buffer of the class per `per` stored messages, plus
 * `extra` so a tiny shard (tests) still has a few of each. */
static const struct {
	uint32_t size, per, extra;
} slab_class[TXN_SLAB_CLASSES] = {
	{ 1024u, 1u, 8u },
	{ 2048u, 8u, 8u },
	{ 8192u, 64u, 4u },
	{ TXN_MAX_MSG, 1024u, 2u },
};

/* ---- slabs ------------------------------------------------------------- */

static int slabs_create(struct txn_shard *sh)
{
	uint64_t n = sh->cfg.max_messages;

	for (unsigned i = 0; i < TXN_SLAB_CLASSES; i++) {
		struct txn_slab *s = &sh->slab[i];
		s->size = slab_class[i].size;
		s->count = (uint32_t)(n / slab_class[i].per + slab_class[i].extra);
		s->pool = pool_create(s->count, s->size, 64);
		if (!s->pool)
			return -ENOMEM;
	}
	return 0;
}

/* A buffer of the smallest class that holds len (borrowing upwards) into
 * b, which holds none. */
static bool buf_alloc(struct txn_shard *sh, struct txn_buf *b, uint32_t len)
{
	for (unsigned i = 0; !b->p && i < TXN_SLAB_CLASSES; i++) {
		if (sh->slab[i].size < len)
			continue;
		b->p = pool_get(sh->slab[i].pool);
		b->cls = (uint8_t)i;
	}
	return b->p != NULL;
}

/* Store a copy of p in b, reusing b's buffer when it is large enough. */
int txn_buf_set(struct txn_shard *sh, struct txn_buf *b, const char *p, uint32_t len)
{
	if (len > TXN_MAX_MSG)
		return -E2BIG;
	if (b->p && sh->slab[b->cls].size < len)
		txn_buf_free(sh, b);
	if (!b->p && !buf_alloc(sh, b, len)) {
		sh->st.pool_exhausted++;
		return -ENOBUFS;
	}
	memcpy(b->p, p, len);
	b->len = len;
	return 0;
}

void txn_buf_free(struct txn_shard *sh, struct txn_buf *b)
{
	if (b->p)
		pool_put(sh->slab[b->cls].pool, b->p);
	b->p = NULL;
	b->len = 0;
}

/* Replace b's content with p, len (which may lie outside b only) in the
 * smallest class that holds it, giving b's buffer back: shrinking a copy
 * that must stay. No smaller buffer free: in place if b's buffer holds it.
 * Returns whether b now holds p; if not, b is unchanged. Never counted as
 * pool exhaustion: the old buffer serves. */
bool txn_buf_replace(struct txn_shard *sh, struct txn_buf *b, const char *p, uint32_t len)
{
	struct txn_buf nb = { 0 };

	if (len <= TXN_MAX_MSG && buf_alloc(sh, &nb, len)) {
		memcpy(nb.p, p, len);
		nb.len = len;
		txn_buf_free(sh, b);
		*b = nb;
		return true;
	}
	if (!b->p || sh->slab[b->cls].size < len)
		return false;
	memmove(b->p, p, len);
	b->len = len;
	return true;
}

int txn_reparse(struct txn_shard *sh, const struct txn_buf *b)
{
	if (!b->p || sip_parse(sh->msg, b->p, b->len) != SIP_E_OK)
		return -EINVAL;
	return 0;
}

/* ---- randomness without syscalls ------------------------------------- */

/* SipHash of a counter under a key derived from the configured secret: a
 * PRF, so To-tags and branch generations are unpredictable to a peer that
 * sees any number of them, at ~20 ns and no getrandom() per transaction. */
uint64_t txn_prf(struct txn_shard *sh)
{
	uint64_t ctr = sh->prf_ctr++;
	return sbc_siphash13(&sh->prf_key, &ctr, sizeof(ctr));
}

void txn_hex(char *out, uint64_t v, unsigned digits)
{
	static const char hex[] = "0123456789abcdef";
	for (unsigned i = digits; i-- > 0; v >>= 4)
		out[i] = hex[v & 15u];
}

static int unhex(const char *p, unsigned digits, uint32_t *out)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < digits; i++) {
		char ch = p[i];
		unsigned d;
		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else
			return -1;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}

/* ---- branches ---------------------------------------------------------- */

int txn_branch_decode(sip_str_t b, uint32_t *shard, uint32_t *idx, uint32_t *gen)
{
	const char *p = b.p + TXN_BRANCH_PREFIX_LEN;
	if (b.len != TXN_BRANCH_LEN ||
	    memcmp(b.p, TXN_BRANCH_PREFIX, TXN_BRANCH_PREFIX_LEN) != 0)
		return -1;
	if (unhex(p, 2, shard) < 0 || unhex(p + 2, 8, idx) < 0 || unhex(p + 10, 8, gen) < 0)
		return -1;
	return 0;
}

void txn_branch_encode(char *out, uint32_t shard, uint32_t idx, uint32_t gen)
{
	memcpy(out, TXN_BRANCH_PREFIX, TXN_BRANCH_PREFIX_LEN);
	txn_hex(out + TXN_BRANCH_PREFIX_LEN, shard, 2);
	txn_hex(out + TXN_BRANCH_PREFIX_LEN + 2, idx, 8);
	txn_hex(out + TXN_BRANCH_PREFIX_LEN + 10, gen, 8);
}

int txn_branch_shard(sip_str_t branch)
{
	uint32_t shard, idx, gen;
	if (!branch.p || txn_branch_decode(branch, &shard, &idx, &gen) < 0)
		return -1;
	return (int)shard;
}

/* ---- timers and transport --------------------------------------------- */

void txn_arm(struct txn_shard *sh, struct wheel_timer *t, enum txn_dur d)
{
	wheel_add_in(sh->w, t, sh->dur[d]);
}

void txn_arm_ms(struct txn_shard *sh, struct wheel_timer *t, uint32_t ms)
{
	wheel_add_in(sh->w, t, ms);
}

void txn_timer_fire(struct txn_shard *sh, struct wheel_timer *t)
{
	enum txn_tt tt = (enum txn_tt)(t->tag - TXN_TIMER_TAG_BASE);

	switch (tt) {
	case TT_S_RETX:
		txn_server_timer(sbc_container_of(t, struct txn_server, t_retx), tt);
		return;
	case TT_S_END:
		txn_server_timer(sbc_container_of(t, struct txn_server, t_end), tt);
		return;
	case TT_C_RETX:
		txn_client_timer(sbc_container_of(t, struct txn_client, t_retx), tt);
		return;
	case TT_C_END:
		txn_client_timer(sbc_container_of(t, struct txn_client, t_end), tt);
		return;
	case TT_C_C:
		txn_client_timer(sbc_container_of(t, struct txn_client, t_c), tt);
		return;
	}
}

int txn_send(struct txn_shard *sh, const struct txn_peer *to, const char *p, uint32_t len)
{
	if (sh->ops.send(sh->ctx, to, p, len) >= 0)
		return 0;
	sh->st.send_failures++;
	return -EIO;
}

/* ---- input ------------------------------------------------------------- */

enum txn_verdict txn_input(struct txn_shard *sh, const struct sip_msg *m,
			   const struct txn_peer *from, struct txn_server **match)
{
	struct txn_server *dummy;

	if (!match)
		match = &dummy;
	*match = NULL;
	if (m->is_request)
		return txn_input_request(sh, m, match);
	return txn_input_response(sh, m);
}

/* ---- shard -------------------------------------------------------------- */

static uint32_t or_default(uint32_t v, uint32_t def)
{
	return v ? v : def;
}

static int config_fill(struct txn_shard *sh, const struct txn_config *cfg)
{
	struct txn_config *c = &sh->cfg;

	*c = *cfg;
	c->t1_ms = or_default(c->t1_ms, TXN_DEF_T1);
	c->t2_ms = or_default(c->t2_ms, TXN_DEF_T2);
	c->t4_ms = or_default(c->t4_ms, TXN_DEF_T4);
	c->timer_c_ms = or_default(c->timer_c_ms, TXN_DEF_TIMER_C);
	if (c->t2_ms < c->t1_ms || c->t1_ms > UINT32_MAX / 64 || !c->max_server ||
	    !c->max_client || c->max_server > TXN_MAX_TXNS || c->max_client > TXN_MAX_TXNS ||
	    c->max_messages > TXN_MAX_TXNS)
		return -EINVAL;
	if (!c->max_messages)
		c->max_messages = c->max_server + c->max_client;
	sh->dur[DUR_T1] = c->t1_ms;
	sh->dur[DUR_T2] = c->t2_ms;
	sh->dur[DUR_T4] = c->t4_ms;
	sh->dur[DUR_64T1] = 64u * c->t1_ms;
	sh->dur[DUR_TIMER_C] = c->timer_c_ms;
	sh->dur[DUR_TIMER_D] = sh->dur[DUR_64T1] > TIMER_D_MIN_MS ? sh->dur[DUR_64T1]
								   : TIMER_D_MIN_MS;
	sh->dur[DUR_ZERO] = 0;
	return 0;
}

/* Two keys from the one secret: the table's and the PRF's must differ so
 * that tags a peer sees reveal nothing about the table's hash. */
static void keys_derive(struct txn_shard *sh, struct sbc_hash_key *tab_key)
{
	tab_key->k0 = sh->cfg.seed[0];
	tab_key->k1 = sh->cfg.seed[1];
	sh->prf_key.k0 = sbc_siphash24(tab_key, "txn-prf-0", 9);
	sh->prf_key.k1 = sbc_siphash24(tab_key, "txn-prf-1", 9);
}

struct txn_shard *txn_shard_create(const struct txn_config *cfg, struct wheel *w,
				   const struct txn_ops *ops, void *ctx)
{
	struct sbc_hash_key tab_key;
	struct txn_shard *sh;

	if (!cfg || !w || !ops || !ops->send || !ops->response || !ops->timeout)
		return NULL;
	sh = calloc(1, sizeof(*sh));
	if (!sh)
		return NULL;
	if (config_fill(sh, cfg) < 0)
		goto fail;
	sh->w = w;
	sh->ops = *ops;
	sh->ctx = ctx;
	keys_derive(sh, &tab_key);
	sh->spool = pool_create(sh->cfg.max_server, sizeof(struct txn_server), 0);
	sh->cpool = pool_create(sh->cfg.max_client, sizeof(struct txn_client), 0);
	sh->tab = htab_create(sh->cfg.max_server, &tab_key, txn_key_eq_cb, sh);
	sh->msg = malloc(sizeof(*sh->msg));
	sh->ed = malloc(sizeof(*sh->ed));
	/* A key holds disjoint views of one message plus 28 bytes of framing. */
	sh->keybuf = malloc(TXN_MAX_MSG + 64u);
	sh->out = malloc(TXN_MAX_MSG);
	if (!sh->spool || !sh->cpool || !sh->tab || !sh->msg || !sh->ed || !sh->keybuf || !sh->out ||
	    slabs_create(sh) < 0)
		goto fail;
	return sh;
fail:
	txn_shard_destroy(sh);
	return NULL;
}

static void destroy_clients(struct txn_shard *sh)
{
	/* A CANCEL goes with its INVITE, so only walk the top-level ones. */
	for (uint32_t i = 0; i < pool_capacity(sh->cpool); i++) {
		struct txn_client *c = pool_at(sh->cpool, i);
		if (pool_idx_in_use(sh->cpool, i) && !c->parent)
			txn_client_release(c);
	}
}

static void destroy_servers(struct txn_shard *sh)
{
	for (uint32_t i = 0; i < pool_capacity(sh->spool); i++)
		if (pool_idx_in_use(sh->spool, i))
			txn_server_release(pool_at(sh->spool, i));
}

void txn_shard_destroy(struct txn_shard *sh)
{
	if (!sh)
		return;
	if (sh->cpool && sh->slab[TXN_SLAB_CLASSES - 1].pool)
		destroy_clients(sh);
	if (sh->spool && sh->tab && sh->slab[TXN_SLAB_CLASSES - 1].pool)
		destroy_servers(sh);
	for (unsigned i = 0; i < TXN_SLAB_CLASSES; i++)
		pool_destroy(sh->slab[i].pool);
	htab_destroy(sh->tab);
	pool_destroy(sh->spool);
	pool_destroy(sh->cpool);
	free(sh->msg);
	free(sh->ed);
	free(sh->keybuf);
	free(sh->out);
	free(sh);
}

void txn_shard_stats(const struct txn_shard *sh, struct txn_stats *out)
{
	*out = sh->st;
	out->server_active = pool_in_use(sh->spool);
	out->client_active = pool_in_use(sh->cpool);
	out->buffers_held = out->buffers_total = out->buffer_bytes_held = 0;
	for (unsigned i = 0; i < TXN_SLAB_CLASSES; i++) {
		uint32_t used = pool_in_use(sh->slab[i].pool);
		out->buffers_held += used;
		out->buffers_total += sh->slab[i].count;
		out->buffer_bytes_held += (uint64_t)used * sh->slab[i].size;
	}
}
