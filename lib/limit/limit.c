/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Token buckets, the flood-multiple rule and the per-source table.
 *
 * Cost: a lim_check on a warm bucket is a handful of integer operations;
 * a table lookup is one SipHash-1-3 of the 20-byte key plus the set's
 * line and one entry (~55 ns all told per request in sbc/protect.c's
 * measurement, ~110 ns when every packet recycles an entry).
 */
#include "limit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A refusal streak survives gaps shorter than this. */
#define LIM_STREAK_GAP_MS 1000u

/* ---- buckets ------------------------------------------------------------ */

static void rate_set64(struct lim_rate *r, uint64_t per_second, uint32_t share,
		       uint32_t burst_tokens)
{
	if (!share)
		share = 1;
	if (!per_second) {
		r->per_ms = 0;
		r->burst = 0;
		return;
	}
	/* tokens/s * 1e6 micro-tokens / 1000 ms */
	r->per_ms = per_second * (LIM_UNIT / 1000u) / share;
	if (!r->per_ms)
		r->per_ms = 1;
	if (burst_tokens) {
		r->burst = (uint64_t)burst_tokens * LIM_UNIT;
	} else {
		r->burst = per_second * LIM_UNIT / share;
		if (r->burst < LIM_UNIT)
			r->burst = LIM_UNIT;
	}
}

void lim_rate_set(struct lim_rate *r, uint32_t per_second, uint32_t share, uint32_t burst_tokens)
{
	rate_set64(r, per_second, share, burst_tokens);
}

void lim_bucket_init(struct lim_bucket *b, const struct lim_rate *r, uint64_t now_ms)
{
	b->tokens = r->burst;
	b->last_ms = now_ms;
}

static void refill(struct lim_bucket *b, const struct lim_rate *r, uint64_t now_ms)
{
	uint64_t el, room;

	if (now_ms <= b->last_ms)
		return;
	el = now_ms - b->last_ms;
	b->last_ms = now_ms;
	room = r->burst - b->tokens;
	/* el * per_ms cannot overflow: el <= room / per_ms here */
	if (el > room / r->per_ms)
		b->tokens = r->burst;
	else
		b->tokens += el * r->per_ms;
}

bool lim_bucket_take(struct lim_bucket *b, const struct lim_rate *r, uint64_t now_ms)
{
	refill(b, r, now_ms);
	if (b->tokens < LIM_UNIT)
		return false;
	b->tokens -= LIM_UNIT;
	return true;
}

void lim_rule_set(struct lim_rule *r, uint32_t per_second, uint32_t share, uint32_t multiple)
{
	rate_set64(&r->admit, per_second, share, 0);
	r->answer_none = multiple <= 1;
	if (r->answer_none)
		rate_set64(&r->answer, 0, share, 0);
	else
		rate_set64(&r->answer, (uint64_t)per_second * (multiple - 1u), share, 0);
}

void lim_state_init(struct lim_state *s, const struct lim_rule *r, uint64_t now_ms)
{
	lim_bucket_init(&s->admit, &r->admit, now_ms);
	lim_bucket_init(&s->answer, &r->answer, now_ms);
}

enum lim_verdict lim_check(struct lim_state *s, const struct lim_rule *r, uint64_t now_ms)
{
	if (lim_rule_unlimited(r) || lim_bucket_take(&s->admit, &r->admit, now_ms))
		return LIM_PASS;
	if (r->answer_none || !lim_bucket_take(&s->answer, &r->answer, now_ms))
		return LIM_DROP;
	return LIM_REJECT;
}

/* ---- keys --------------------------------------------------------------- */

void lim_key_set(struct lim_key *k, const union sbc_sockaddr *a, uint16_t realm)
{
	memset(k, 0, sizeof(*k));
	k->realm = realm;
	if (a->sa.sa_family == AF_INET6) {
		const uint8_t *b = a->v6.sin6_addr.s6_addr;
		if (IN6_IS_ADDR_V4MAPPED(&a->v6.sin6_addr)) {
			k->family = 4;
			memcpy(k->addr, b + 12, 4);
		} else {
			k->family = 6;
			memcpy(k->addr, b, 16);
		}
		return;
	}
	k->family = 4;
	memcpy(k->addr, &a->v4.sin_addr.s_addr, 4);
}

/* ---- per-source table --------------------------------------------------- */

/* One cache line per set: what a lookup and an eviction need, so a miss
 * in a full set (the spoofed-flood case) reads this line and the victim
 * only, not all eight entries. */
struct lim_set {
	uint32_t tag[LIM_WAYS];       /* 0 = empty way */
	uint32_t seen[LIM_WAYS];      /* low 32 bits of the entry's last_ms */
};

struct lim_table {
	uint32_t nsets;
	uint32_t mask;
	uint32_t used;
	uint64_t evictions;
	struct sbc_hash_key key;
	struct lim_set *sets;
	struct lim_source *ent;       /* nsets * LIM_WAYS */
};

struct lim_table *lim_table_create(uint32_t capacity, const struct sbc_hash_key *key)
{
	struct lim_table *t;
	uint32_t nsets = 1;

	if (!key || capacity > (1u << 28))
		return NULL;
	while ((uint64_t)nsets * LIM_WAYS < capacity)
		nsets <<= 1;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->nsets = nsets;
	t->mask = nsets - 1;
	t->key = *key;
	t->sets = aligned_alloc(64, (size_t)nsets * sizeof(*t->sets));
	t->ent = calloc((size_t)nsets * LIM_WAYS, sizeof(*t->ent));
	if (!t->sets || !t->ent) {
		lim_table_destroy(t);
		return NULL;
	}
	memset(t->sets, 0, (size_t)nsets * sizeof(*t->sets));
	return t;
}

void lim_table_destroy(struct lim_table *t)
{
	if (!t)
		return;
	free(t->sets);
	free(t->ent);
	free(t);
}

uint64_t lim_table_hash(const struct lim_table *t, const struct lim_key *k)
{
	return sbc_siphash13(&t->key, k, sizeof(*k));
}

static inline uint32_t tag_of(uint64_t h)
{
	return (uint32_t)h | 1u;   /* never 0, the empty mark */
}

static inline uint32_t set_of(const struct lim_table *t, uint64_t h)
{
	return (uint32_t)(h >> 32) & t->mask;
}

/* The entry of k and its way (if way != NULL), or NULL. */
static struct lim_source *lim_table_way(struct lim_table *t, const struct lim_key *k, uint64_t h,
					unsigned *way)
{
	uint32_t set = set_of(t, h), tag = tag_of(h);
	const struct lim_set *ls = &t->sets[set];

	for (unsigned w = 0; w < LIM_WAYS; w++) {
		struct lim_source *s = &t->ent[(size_t)set * LIM_WAYS + w];
		if (ls->tag[w] == tag && !memcmp(&s->key, k, sizeof(*k))) {
			if (way)
				*way = w;
			return s;
		}
	}
	return NULL;
}

struct lim_source *lim_table_find(struct lim_table *t, const struct lim_key *k, uint64_t h)
{
	return lim_table_way(t, k, h, NULL);
}

/* An empty way, else the least recently seen entry that is not blocked
 * (blocked ones hold the state worth keeping), else the least recent.
 * Ages come from the set's line; an entry is read only to check that the
 * oldest is not blocked (rarely more than one). */
static unsigned victim(const struct lim_table *t, uint32_t set, uint64_t now_ms, bool *evict)
{
	const struct lim_set *ls = &t->sets[set];
	const struct lim_source *e = &t->ent[(size_t)set * LIM_WAYS];
	uint32_t now32 = (uint32_t)now_ms, age[LIM_WAYS];
	bool tried[LIM_WAYS] = { false };
	unsigned oldest = 0;

	*evict = false;
	for (unsigned w = 0; w < LIM_WAYS; w++) {
		if (!ls->tag[w])
			return w;
		age[w] = now32 - ls->seen[w];   /* wraps safely */
		if (age[w] > age[oldest])
			oldest = w;
	}
	*evict = true;
	for (unsigned n = 0; n < LIM_WAYS; n++) {
		unsigned best = LIM_WAYS;
		for (unsigned w = 0; w < LIM_WAYS; w++) {
			if (!tried[w] && (best == LIM_WAYS || age[w] > age[best]))
				best = w;
		}
		if (e[best].blocked_until <= now_ms)
			return best;
		tried[best] = true;
	}
	return oldest;
}

static void source_reset(struct lim_source *s, const struct lim_policy *p, uint64_t now_ms)
{
	s->blocked_until = 0;
	s->over_since = 0;
	s->over_last = 0;
	s->streak = false;
	for (unsigned c = 0; c < LIM_C__COUNT; c++)
		lim_state_init(&s->st[c], &p->cls[c], now_ms);
}

struct lim_source *lim_table_get(struct lim_table *t, const struct lim_key *k, uint64_t h,
				 const struct lim_policy *p, uint64_t now_ms)
{
	uint32_t set = set_of(t, h);
	unsigned w;
	struct lim_source *s = lim_table_way(t, k, h, &w);
	bool evict;

	if (s) {
		if (now_ms > s->last_ms) {
			s->last_ms = now_ms;
			t->sets[set].seen[w] = (uint32_t)now_ms;
		}
		return s;
	}
	w = victim(t, set, now_ms, &evict);
	if (evict)
		t->evictions++;
	else
		t->used++;
	t->sets[set].tag[w] = tag_of(h);
	t->sets[set].seen[w] = (uint32_t)now_ms;
	s = &t->ent[(size_t)set * LIM_WAYS + w];
	s->key = *k;
	s->last_ms = now_ms;
	source_reset(s, p, now_ms);
	return s;
}

uint32_t lim_table_capacity(const struct lim_table *t)
{
	return t->nsets * LIM_WAYS;
}

/* Relaxed loads: a metrics reader on another thread may call these. */
uint32_t lim_table_used(const struct lim_table *t)
{
	return __atomic_load_n(&t->used, __ATOMIC_RELAXED);
}

uint64_t lim_table_evictions(const struct lim_table *t)
{
	return __atomic_load_n(&t->evictions, __ATOMIC_RELAXED);
}

bool lim_source_blocked(struct lim_source *s, const struct lim_policy *p, uint64_t now_ms)
{
	if (!s->blocked_until)
		return false;
	if (now_ms < s->blocked_until)
		return true;
	source_reset(s, p, now_ms);   /* released: start afresh */
	return false;
}

enum lim_verdict lim_source_check(struct lim_source *s, const struct lim_policy *p,
				  enum lim_class c, uint64_t now_ms, bool *blocked_now)
{
	enum lim_verdict v = lim_check(&s->st[c], &p->cls[c], now_ms);

	*blocked_now = false;
	if (v == LIM_PASS)
		return v;
	if (!s->streak || now_ms - s->over_last > LIM_STREAK_GAP_MS) {
		s->streak = true;
		s->over_since = now_ms;
	}
	s->over_last = now_ms;
	if (p->block_after_ms && now_ms - s->over_since >= p->block_after_ms) {
		s->blocked_until = now_ms + (p->block_ms ? p->block_ms : 1);
		*blocked_now = true;
		return LIM_DROP;
	}
	return v;
}
