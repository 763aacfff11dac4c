/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/limit — the protection primitives of the edge: token buckets with a
 * three-way verdict (pass / reject with 503 / silent drop), a fixed-capacity
 * per-source table that blocks sources which stay abusive, and CIDR access
 * lists (IPv4 and IPv6).
 *
 * Time
 *   Nothing here reads a clock: every call takes now_ms (monotonic
 *   milliseconds), so the tests drive it with a fake clock and the worker
 *   passes the value it read once per burst. Time must not go backwards for
 *   one object; if it does, the elapsed time counts as zero.
 *
 * Token buckets
 *   Amounts are micro-tokens (LIM_UNIT per token) refilled per millisecond,
 *   so a rate split over N workers (rate/N, see lim_rate_set) stays exact
 *   to 1e-6 token/ms and needs no division on the hot path. A bucket
 *   starts full (lim_state_init). The burst is the capacity: by default one
 *   second's worth of the rate, at least one token.
 *
 * Flood multiple (lim_rule)
 *   Two buckets in series. `admit` has the configured rate: a token passes
 *   the request. When it is empty, `answer` (rate (multiple - 1) x the
 *   rate) decides whether the refusal is answered (503 + Retry-After) or,
 *   once that budget is spent too, dropped without a word. A source
 *   sending at r gets min(r, limit) passed, answers up to multiple x limit
 *   in total, and silence beyond: the SBC never sends more than
 *   `multiple` answers per limit-worth of requests, so it cannot be used as
 *   an amplifier by a spoofed source. multiple 1 = never answer a refusal.
 *
 * Per-source table (lim_table)
 *   Set-associative: the keyed SipHash of (address, realm) picks a set of
 *   LIM_WAYS entries; a miss in a full set evicts the least recently seen
 *   entry of the set that is not blocked (all blocked: the least recently
 *   seen). A flood of spoofed sources therefore recycles entries of idle
 *   sources instead of exhausting the table, lookups stay O(LIM_WAYS) with
 *   one cache line of tags, and the secret key stops an attacker from
 *   aiming every spoofed address at the set of a victim. Entries are never
 *   freed otherwise: an idle entry is simply the first to go.
 *   Blocking: a source refused (reject or drop) by its own limits at least
 *   once in every second for block_after_ms is blocked for block_ms: all its
 *   packets are dropped unread until the block ends, then it starts afresh
 *   with full buckets.
 *
 * ACL
 *   Longest-prefix match over the allow and the deny list together; a
 *   prefix present in both is a configuration error (lim_acl_create
 *   refuses it), so the answer is never ambiguous. No rule matches: allowed
 *   when the allow list is empty (a pure deny list), denied otherwise (an
 *   allow list is a whitelist, for both families). IPv4-mapped IPv6
 *   sources (::ffff:a.b.c.d, from dual-stack sockets) are matched as IPv4.
 *   Lookup: one binary search per distinct prefix length present, longest
 *   first (~log2(n) 16-byte compares per length).
 *
 * Ownership and threads
 *   Buckets, states and tables belong to one worker: no locks, no atomics.
 *   An ACL is immutable after lim_acl_create and may be shared read-only.
 *   Counters a table keeps (evictions, entries in use) are written by the
 *   owner only and may be read racily by a metrics reader.
 *
 * Errors
 *   Constructors return NULL (bad arguments, out of memory; lim_acl_create
 *   also fills a message); lim_cidr_parse returns 0 or -EINVAL with a
 *   reason.
 */
#ifndef SBC_LIMIT_H
#define SBC_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "hash.h"
#include "sbc_defs.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LIM_UNIT 1000000u  /* micro-tokens per token */

/* ---- token buckets ------------------------------------------------------ */

struct lim_rate {
	uint64_t per_ms;     /* micro-tokens added per ms; 0 = unlimited */
	uint64_t burst;      /* capacity in micro-tokens */
};

/* per_second tokens a second shared by `share` (>= 1) workers: each gets
 * per_second / share. burst_tokens 0: one second of the share, at least one
 * token. per_second 0: unlimited. */
void lim_rate_set(struct lim_rate *r, uint32_t per_second, uint32_t share,
		  uint32_t burst_tokens);

static inline bool lim_rate_unlimited(const struct lim_rate *r)
{
	return r->per_ms == 0;
}

struct lim_bucket {
	uint64_t tokens;     /* micro-tokens */
	uint64_t last_ms;    /* time of the last refill */
};

void lim_bucket_init(struct lim_bucket *b, const struct lim_rate *r, uint64_t now_ms);
/* Refill to now_ms, then take one token if there is one. */
bool lim_bucket_take(struct lim_bucket *b, const struct lim_rate *r, uint64_t now_ms);

enum lim_verdict {
	LIM_PASS = 0,
	LIM_REJECT,          /* answer 503 + Retry-After (if it expects an answer) */
	LIM_DROP,            /* beyond the flood multiple (or blocked): silence */
};

struct lim_rule {
	struct lim_rate admit;
	struct lim_rate answer;   /* (multiple - 1) x admit; 0 when multiple is 1 */
	bool answer_none;         /* multiple 1: every refusal is dropped */
};

/* multiple >= 1. */
void lim_rule_set(struct lim_rule *r, uint32_t per_second, uint32_t share, uint32_t multiple);

static inline bool lim_rule_unlimited(const struct lim_rule *r)
{
	return lim_rate_unlimited(&r->admit);
}

struct lim_state {
	struct lim_bucket admit, answer;
};

void lim_state_init(struct lim_state *s, const struct lim_rule *r, uint64_t now_ms);
enum lim_verdict lim_check(struct lim_state *s, const struct lim_rule *r, uint64_t now_ms);

/* ---- per-source table --------------------------------------------------- */

#define LIM_WAYS 8u

enum lim_class { LIM_C_INVITE = 0, LIM_C_REGISTER, LIM_C_OTHER, LIM_C__COUNT };

/* (address, realm) of a source. family is 4 or 6; IPv4 in addr[0..3], the
 * rest zero, so keys compare and hash as plain bytes. */
struct lim_key {
	uint8_t addr[16];
	uint8_t family;
	uint8_t pad;
	uint16_t realm;
};

/* From a socket address; v4-mapped IPv6 becomes IPv4. */
void lim_key_set(struct lim_key *k, const union sbc_sockaddr *a, uint16_t realm);

/* What one realm allows each source (see lim_source_check). */
struct lim_policy {
	struct lim_rule cls[LIM_C__COUNT];
	uint64_t block_after_ms;     /* 0: never block */
	uint64_t block_ms;
};

struct lim_source {
	struct lim_key key;
	uint64_t last_ms;            /* last packet seen: the LRU clock */
	uint64_t blocked_until;      /* 0: not blocked */
	uint64_t over_since;         /* start of the current refusal streak */
	uint64_t over_last;          /* last refusal of the streak */
	bool streak;                 /* refused within the last second */
	struct lim_state st[LIM_C__COUNT];
};

struct lim_table;

/* capacity: entries (rounded up to a power of two, at least LIM_WAYS). */
struct lim_table *lim_table_create(uint32_t capacity, const struct sbc_hash_key *key)
	SBC_MUST_CHECK;
void lim_table_destroy(struct lim_table *t);  /* NULL ok */

uint64_t lim_table_hash(const struct lim_table *t, const struct lim_key *k);
/* The entry of k, or NULL. Does not touch its LRU time. */
struct lim_source *lim_table_find(struct lim_table *t, const struct lim_key *k, uint64_t h);
/* The entry of k, created (buckets full per p) or recycled when absent.
 * Marks it seen at now_ms. Never NULL. */
struct lim_source *lim_table_get(struct lim_table *t, const struct lim_key *k, uint64_t h,
				 const struct lim_policy *p, uint64_t now_ms);

uint32_t lim_table_capacity(const struct lim_table *t);
/* Entries in use and entries recycled so far. The only functions another
 * thread may call (relaxed loads of owner-written counters: metrics). */
uint32_t lim_table_used(const struct lim_table *t);
uint64_t lim_table_evictions(const struct lim_table *t);

/* Blocked at now_ms? An expired block is lifted here (buckets refilled,
 * streak forgotten). */
bool lim_source_blocked(struct lim_source *s, const struct lim_policy *p, uint64_t now_ms);

/* The class's verdict for one request, and the block logic: *blocked_now
 * is set when this refusal started a block. */
enum lim_verdict lim_source_check(struct lim_source *s, const struct lim_policy *p,
				  enum lim_class c, uint64_t now_ms, bool *blocked_now);

/* ---- ACL ---------------------------------------------------------------- */

struct lim_cidr {
	uint8_t addr[16];            /* network address (host bits zero) */
	uint8_t family;              /* 4 or 6 */
	uint8_t len;                 /* prefix length: 0-32 or 0-128 */
};

/* "a.b.c.d/len", "v6::/len", or a bare address (a host: /32, /128).
 * Host bits set below the prefix are an error (a typo more often than
 * not). 0, or -EINVAL with the reason in why. */
int lim_cidr_parse(const char *s, struct lim_cidr *out, char *why, size_t cap);
/* Canonical text "10.0.0.0/8" into buf. */
void lim_cidr_format(const struct lim_cidr *c, char *buf, size_t cap);
bool lim_cidr_eq(const struct lim_cidr *a, const struct lim_cidr *b);

struct lim_acl;

/* NULL with a message in why (a prefix in both lists; out of memory). */
struct lim_acl *lim_acl_create(const struct lim_cidr *allow, size_t nallow,
			       const struct lim_cidr *deny, size_t ndeny, char *why, size_t cap)
	SBC_MUST_CHECK;
void lim_acl_destroy(struct lim_acl *a);  /* NULL ok */

bool lim_acl_allows(const struct lim_acl *a, const struct lim_key *k);

#ifdef __cplusplus
}
#endif

#endif /* SBC_LIMIT_H */
