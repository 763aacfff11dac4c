/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * First-touch protection of one worker: configuration -> lib/limit rules,
 * the per-packet decisions, and their counters. See protect.h for the
 * order of checks and the approximations.
 *
 * Cost per request (gcc -O2, AMD EPYC VM, 20 M packets; busy machine, so
 * upper figures): realm without limits or ACL ~6 ns (two branches); per-
 * source limits ~55 ns with the source's entry in cache, ~110 ns when
 * every packet is a new source (1 M sources over 16 K entries: a
 * recycled entry each time); an initial-INVITE check adds sip_msg_to()
 * (~90-170 ns) to tell an initial INVITE from a re-INVITE; an ACL of 1,002
 * prefixes in 3 lengths ~40-70 ns. For scale: sip_parse + sip_check of a
 * small INVITE ~0.9-1.4 us.
 */
#include "protect.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

struct realm_prot {
	struct lim_acl *acl;              /* NULL: no ACL */
	bool acl_drop;                    /* policy drop */
	bool src_enabled;                 /* any per-source limit */
	bool trusted;                     /* exempt from the global limits */
	bool active;                      /* any limit applies to its requests */
	struct lim_policy pol;            /* per-source rules and blocking */
	struct lim_rule cps;              /* realm's initial INVITEs, this worker's share */
	struct lim_state cps_state;
	uint64_t concurrent;              /* this worker's share; 0 = unlimited */
	unsigned retry_after;
};

struct protect {
	size_t nrealms;
	struct realm_prot *realm;
	struct lim_table *sources;        /* NULL when no realm limits sources */
	struct lim_rule g_cps, g_rps;
	struct lim_state g_cps_state, g_rps_state;
	uint64_t calls;                   /* the shard's, for admission */
	uint64_t rng;
	uint64_t *dec;                    /* [realm][reason][action] */
	uint64_t *acl;                    /* [realm][acl action] */
	uint64_t *blocks;                 /* [realm] */
};

static const char *const reason_names[] = {
#define PROTECT_REASON_NAME(n, s) s,
	PROTECT_REASONS(PROTECT_REASON_NAME)
#undef PROTECT_REASON_NAME
};

const char *protect_reason_name(enum protect_reason r)
{
	return (unsigned)r < PROTECT_R__COUNT ? reason_names[r] : "?";
}

const char *protect_action_name(enum protect_action a)
{
	return a == PROTECT_A_REJECT ? "reject" : a == PROTECT_A_DROP ? "drop" : "?";
}

const char *protect_acl_action_name(enum protect_acl_action a)
{
	static const char *const n[] = { "allow", "reject", "drop" };

	return (unsigned)a < PROTECT_ACL__COUNT ? n[a] : "?";
}

/* ---- set-up ------------------------------------------------------------- */

static int realm_setup(struct realm_prot *rp, const struct sbc_realm *r, unsigned nworkers,
		       uint64_t now_ms)
{
	const struct sbc_limits *l = &r->limits;
	char why[128];

	rp->trusted = r->trusted;
	rp->retry_after = l->retry_after ? l->retry_after : 1;
	if (r->acl.nallow || r->acl.ndeny) {
		/* config validation refused conflicts, so only ENOMEM is left */
		rp->acl = lim_acl_create(r->acl.allow, r->acl.nallow, r->acl.deny, r->acl.ndeny,
					 why, sizeof why);
		if (!rp->acl)
			return -ENOMEM;
		rp->acl_drop = r->acl.policy == SBC_ACL_DROP;
	}
	/* per source: the full rate on every worker (see protect.h) */
	lim_rule_set(&rp->pol.cls[LIM_C_INVITE], l->per_source_cps, 1, l->flood_multiple);
	lim_rule_set(&rp->pol.cls[LIM_C_REGISTER], l->register_per_source_rps, 1, l->flood_multiple);
	lim_rule_set(&rp->pol.cls[LIM_C_OTHER], l->other_per_source_rps, 1, l->flood_multiple);
	rp->pol.block_after_ms = (uint64_t)l->block_after * 1000u;
	rp->pol.block_ms = (uint64_t)l->block_seconds * 1000u;
	rp->src_enabled = l->per_source_cps || l->register_per_source_rps || l->other_per_source_rps;
	/* realm-wide: this worker's share */
	lim_rule_set(&rp->cps, l->cps, nworkers, l->flood_multiple);
	lim_state_init(&rp->cps_state, &rp->cps, now_ms);
	if (l->concurrent_calls)
		rp->concurrent = ((uint64_t)l->concurrent_calls + nworkers - 1) / nworkers;
	return 0;
}

struct protect *protect_create(const struct sbc_config *cfg, unsigned nworkers,
			       const struct sbc_hash_key *key, uint64_t seed, uint64_t now_ms)
{
	struct protect *p = calloc(1, sizeof(*p));
	bool any_src = false;

	if (!p)
		return NULL;
	if (!nworkers)
		nworkers = 1;
	p->nrealms = cfg->nrealms;
	p->rng = seed | 1;
	p->realm = calloc(cfg->nrealms ? cfg->nrealms : 1, sizeof(*p->realm));
	p->dec = calloc((cfg->nrealms ? cfg->nrealms : 1) * PROTECT_R__COUNT * PROTECT_A__COUNT,
			sizeof(*p->dec));
	p->acl = calloc((cfg->nrealms ? cfg->nrealms : 1) * PROTECT_ACL__COUNT, sizeof(*p->acl));
	p->blocks = calloc(cfg->nrealms ? cfg->nrealms : 1, sizeof(*p->blocks));
	if (!p->realm || !p->dec || !p->acl || !p->blocks)
		goto fail;
	for (size_t i = 0; i < cfg->nrealms; i++) {
		if (realm_setup(&p->realm[i], &cfg->realms[i], nworkers, now_ms) < 0)
			goto fail;
		any_src |= p->realm[i].src_enabled;
	}
	if (any_src) {
		p->sources = lim_table_create(cfg->limits.sources, key);
		if (!p->sources)
			goto fail;
	}
	lim_rule_set(&p->g_cps, cfg->limits.cps, nworkers, cfg->limits.flood_multiple);
	lim_rule_set(&p->g_rps, cfg->limits.rps, nworkers, cfg->limits.flood_multiple);
	lim_state_init(&p->g_cps_state, &p->g_cps, now_ms);
	lim_state_init(&p->g_rps_state, &p->g_rps, now_ms);
	for (size_t i = 0; i < cfg->nrealms; i++) {
		struct realm_prot *rp = &p->realm[i];
		rp->active = rp->src_enabled || !lim_rule_unlimited(&rp->cps) || rp->concurrent ||
			     (!rp->trusted && (!lim_rule_unlimited(&p->g_cps) ||
					       !lim_rule_unlimited(&p->g_rps)));
	}
	return p;
fail:
	protect_destroy(p);
	return NULL;
}

void protect_destroy(struct protect *p)
{
	if (!p)
		return;
	for (size_t i = 0; p->realm && i < p->nrealms; i++)
		lim_acl_destroy(p->realm[i].acl);
	lim_table_destroy(p->sources);
	free(p->realm);
	free(p->dec);
	free(p->acl);
	free(p->blocks);
	free(p);
}

/* ---- decisions ---------------------------------------------------------- */

static inline void count(struct protect *p, uint16_t realm, enum protect_reason r,
			 enum lim_verdict v)
{
	enum protect_action a = v == LIM_REJECT ? PROTECT_A_REJECT : PROTECT_A_DROP;

	p->dec[((size_t)realm * PROTECT_R__COUNT + r) * PROTECT_A__COUNT + a]++;
}

enum protect_screen protect_screen(struct protect *p, struct protect_pkt *pp,
				   const struct io_pkt *in, uint64_t now_ms)
{
	struct realm_prot *rp;

	pp->keyed = false;
	pp->src = NULL;
	if (in->realm >= p->nrealms)
		return PROTECT_PASS;
	rp = &p->realm[in->realm];
	if (!rp->acl && !rp->src_enabled)
		return PROTECT_PASS;
	lim_key_set(&pp->key, &in->src, in->realm);
	pp->keyed = true;
	if (rp->acl) {
		if (!lim_acl_allows(rp->acl, &pp->key)) {
			if (!rp->acl_drop)
				return PROTECT_DENY;   /* counted by protect_denied() */
			p->acl[(size_t)in->realm * PROTECT_ACL__COUNT + PROTECT_ACL_DROP]++;
			return PROTECT_DROP;
		}
		p->acl[(size_t)in->realm * PROTECT_ACL__COUNT + PROTECT_ACL_ALLOW]++;
	}
	if (rp->src_enabled) {
		pp->h = lim_table_hash(p->sources, &pp->key);
		pp->src = lim_table_find(p->sources, &pp->key, pp->h);
		if (pp->src && lim_source_blocked(pp->src, &rp->pol, now_ms)) {
			count(p, in->realm, PROTECT_R_BLOCKED, LIM_DROP);
			return PROTECT_DROP;
		}
	}
	return PROTECT_PASS;
}

void protect_denied(struct protect *p, const struct io_pkt *in, bool answered)
{
	if (in->realm < p->nrealms)
		p->acl[(size_t)in->realm * PROTECT_ACL__COUNT +
		       (answered ? PROTECT_ACL_REJECT : PROTECT_ACL_DROP)]++;
}

static enum lim_class class_of(const struct sip_msg *m)
{
	struct sip_nameaddr to;

	if (m->method == SIP_M_REGISTER)
		return LIM_C_REGISTER;
	if (m->method != SIP_M_INVITE)
		return LIM_C_OTHER;
	/* a re-INVITE belongs to an admitted call: not a new call */
	if (sip_msg_to(m, &to) > 0 && to.tag.len)
		return LIM_C_OTHER;
	return LIM_C_INVITE;
}

/* The source's bucket of class c (and the block logic). */
static enum lim_verdict check_source(struct protect *p, struct protect_pkt *pp,
				     const struct io_pkt *in, enum lim_class c, uint64_t now_ms,
				     enum protect_reason *why)
{
	struct realm_prot *rp = &p->realm[in->realm];
	bool blocked_now;

	if (!rp->src_enabled || !pp->keyed)
		return LIM_PASS;
	pp->src = lim_table_get(p->sources, &pp->key, pp->h, &rp->pol, now_ms);
	*why = (enum protect_reason)(PROTECT_R_SOURCE_INVITE + c);
	enum lim_verdict v = lim_source_check(pp->src, &rp->pol, c, now_ms, &blocked_now);
	if (blocked_now)
		p->blocks[in->realm]++;
	return v;
}

static enum lim_verdict check_global_rps(struct protect *p, const struct io_pkt *in,
					 uint64_t now_ms, enum protect_reason *why)
{
	if (p->realm[in->realm].trusted || lim_rule_unlimited(&p->g_rps))
		return LIM_PASS;
	*why = PROTECT_R_GLOBAL_RPS;
	return lim_check(&p->g_rps_state, &p->g_rps, now_ms);
}

enum lim_verdict protect_request(struct protect *p, struct protect_pkt *pp,
				 const struct io_pkt *in, const struct sip_msg *m, uint64_t now_ms)
{
	enum protect_reason why = PROTECT_R_BLOCKED;
	struct realm_prot *rp;
	enum lim_class c;
	enum lim_verdict v;

	if (in->realm >= p->nrealms || !p->realm[in->realm].active)
		return LIM_PASS;   /* one branch for realms without limits */
	rp = &p->realm[in->realm];
	c = class_of(m);
	v = check_source(p, pp, in, c, now_ms, &why);
	if (v == LIM_PASS && c == LIM_C_INVITE && !lim_rule_unlimited(&rp->cps)) {
		why = PROTECT_R_REALM_CPS;
		v = lim_check(&rp->cps_state, &rp->cps, now_ms);
	}
	if (v == LIM_PASS && c == LIM_C_INVITE && !rp->trusted && !lim_rule_unlimited(&p->g_cps)) {
		why = PROTECT_R_GLOBAL_CPS;
		v = lim_check(&p->g_cps_state, &p->g_cps, now_ms);
	}
	if (v == LIM_PASS)
		v = check_global_rps(p, in, now_ms, &why);
	if (v == LIM_PASS && c == LIM_C_INVITE && rp->concurrent && p->calls >= rp->concurrent) {
		/* at most one answer per INVITE that passed every rate */
		why = PROTECT_R_CONCURRENT_CALLS;
		v = LIM_REJECT;
	}
	if (v == LIM_PASS)
		return v;
	if (m->method == SIP_M_ACK)
		v = LIM_DROP;   /* an ACK is never answered */
	count(p, in->realm, why, v);
	return v;
}

enum lim_verdict protect_malformed(struct protect *p, struct protect_pkt *pp,
				   const struct io_pkt *in, uint64_t now_ms)
{
	enum protect_reason why = PROTECT_R_BLOCKED;
	enum lim_verdict v;

	if (in->realm >= p->nrealms)
		return LIM_PASS;
	v = check_source(p, pp, in, LIM_C_OTHER, now_ms, &why);
	if (v == LIM_PASS)
		v = check_global_rps(p, in, now_ms, &why);
	if (v != LIM_PASS)
		count(p, in->realm, why, LIM_DROP);   /* garbage over the limit: silence */
	return v;
}

unsigned protect_retry_after(struct protect *p, uint16_t realm)
{
	unsigned base = realm < p->nrealms ? p->realm[realm].retry_after : 5;

	/* xorshift64: jitter only, not security */
	p->rng ^= p->rng << 13;
	p->rng ^= p->rng >> 7;
	p->rng ^= p->rng << 17;
	return base + (unsigned)(p->rng % (base / 2 + 1));
}

void protect_set_calls(struct protect *p, uint64_t calls)
{
	p->calls = calls;
}

size_t protect_nrealms(const struct protect *p)
{
	return p->nrealms;
}

const uint64_t *protect_decisions(const struct protect *p)
{
	return p->dec;
}

const uint64_t *protect_acl(const struct protect *p)
{
	return p->acl;
}

const uint64_t *protect_blocks(const struct protect *p)
{
	return p->blocks;
}

void protect_table_stats(const struct protect *p, uint64_t *used, uint64_t *capacity,
			 uint64_t *evictions)
{
	*used = p->sources ? lim_table_used(p->sources) : 0;
	*capacity = p->sources ? lim_table_capacity(p->sources) : 0;
	*evictions = p->sources ? lim_table_evictions(p->sources) : 0;
}
