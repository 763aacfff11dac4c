/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sbc/protect — the protection a worker applies to the packets it receives
 * from the network, before it steers them to their shard (DESIGN "Rate
 * limiting runs on the first core that touches a packet"): per-realm ACLs,
 * the block list, per-source limits per method class, per-realm calls per
 * second and concurrent calls, and SBC-wide limits. It turns the
 * configuration into lib/limit rules and counts every decision by realm,
 * reason and action.
 *
 * Order for one datagram
 *   protect_screen()   before parsing, from the source address alone:
 *                      ACL (deny with policy drop: gone; policy reject:
 *                      PROTECT_DENY, the worker answers 403 to requests
 *                      that expect an answer), then the block list (a
 *                      blocked source's packets are dropped unread).
 *   protect_request()  a parsed, checked request: its source's bucket of
 *                      its class (INVITE = initial INVITE, REGISTER, other
 *                      = everything else, ACK and in-dialog requests
 *                      included), then for initial INVITEs the realm's cps
 *                      and the global cps, then the global rps, then for
 *                      initial INVITEs the concurrent calls. The first
 *                      limit that refuses decides: LIM_REJECT (503 +
 *                      Retry-After; an ACK is never answered: drop) or
 *                      LIM_DROP (beyond the flood multiple).
 *   protect_malformed() a malformed request the worker would answer 400:
 *                      the source's "other" bucket and the global rps, so
 *                      a flood of garbage is not reflected 1:1 either.
 *   Responses are only screened (ACL, block list), never rate limited.
 *
 * Approximations (the price of no shared state between workers)
 *   - Per-source limits are keyed by source IP (not port) per realm and
 *     kept per worker, each with the full configured rate. The socket
 *     backend spreads datagrams over workers by 4-tuple (SO_REUSEPORT), so
 *     a source that always sends from one port (a PBX, a phone, a peer) is
 *     limited exactly; a source that spreads over many ports can get up to
 *     nworkers x its limit before refusals. Dividing the rate by nworkers
 *     instead would cut every single-port customer to 1/nworkers of its
 *     contract, which is the worse error. Exact per-IP limits need the
 *     backend to steer by source IP (a SO_ATTACH_REUSEPORT_CBPF program
 *     hashing the source address; with DPDK, RSS on L3 only).
 *   - Realm cps and the global cps/rps are split evenly: each worker
 *     enforces rate / nworkers (bursts likewise). With many sources the
 *     kernel's hash spreads them evenly and the sum is exact; a realm fed
 *     by one single-port source reaches only rate / nworkers.
 *   - Concurrent calls: a worker compares the calls of its own shard
 *     (early + confirmed dialogs of all realms, from proxy_stats(),
 *     refreshed by the worker every few ms) with concurrent_calls /
 *     nworkers. Calls spread over shards by Call-ID hash, so the shard
 *     holds ~1/nworkers of them; INVITEs not yet answered with a tag are
 *     not counted, and dialogs are not yet counted per realm.
 *   - The global limits apply to requests of untrusted realms only: they
 *     protect the core, and must not refuse the core's own requests.
 *
 * Threads
 *   One struct protect per worker, used by that worker only. The counters
 *   (protect_decisions/acl/blocks) are plain per-worker integers that the
 *   metrics reader loads racily (METRICS_LOAD).
 */
#ifndef SBC_PROTECT_H
#define SBC_PROTECT_H

#include <stdint.h>

#include "config.h"
#include "hash.h"
#include "io.h"
#include "limit.h"
#include "sip.h"

/* Why a request was refused: the label "reason" of
 * sbc_ratelimit_decisions_total. */
#define PROTECT_REASONS(X)                        \
	X(SOURCE_INVITE, "source_invite")          \
	X(SOURCE_REGISTER, "source_register")      \
	X(SOURCE_OTHER, "source_other")            \
	X(REALM_CPS, "realm_cps")                  \
	X(CONCURRENT_CALLS, "concurrent_calls")    \
	X(GLOBAL_CPS, "global_cps")                \
	X(GLOBAL_RPS, "global_rps")                \
	X(BLOCKED, "blocked")

enum protect_reason {
#define PROTECT_REASON_ENUM(n, s) PROTECT_R_##n,
	PROTECT_REASONS(PROTECT_REASON_ENUM)
#undef PROTECT_REASON_ENUM
	PROTECT_R__COUNT
};

enum protect_action { PROTECT_A_REJECT = 0, PROTECT_A_DROP, PROTECT_A__COUNT };
enum protect_acl_action { PROTECT_ACL_ALLOW = 0, PROTECT_ACL_REJECT, PROTECT_ACL_DROP,
			  PROTECT_ACL__COUNT };

const char *protect_reason_name(enum protect_reason r);
const char *protect_action_name(enum protect_action a);     /* "reject", "drop" */
const char *protect_acl_action_name(enum protect_acl_action a); /* "allow", ... */

enum protect_screen { PROTECT_PASS = 0, PROTECT_DROP, PROTECT_DENY };

/* What protect_screen() learnt about the datagram's source, reused by
 * protect_request() for the same datagram (one key, one hash). */
struct protect_pkt {
	struct lim_key key;
	uint64_t h;
	struct lim_source *src;      /* existing entry, or NULL */
	bool keyed;                  /* key and h are set */
};

struct protect;

/* NULL on ENOMEM. now_ms starts the buckets full. */
struct protect *protect_create(const struct sbc_config *cfg, unsigned nworkers,
			       const struct sbc_hash_key *key, uint64_t seed, uint64_t now_ms);
void protect_destroy(struct protect *p);  /* NULL ok */

enum protect_screen protect_screen(struct protect *p, struct protect_pkt *pp,
				   const struct io_pkt *in, uint64_t now_ms);
/* A PROTECT_DENY datagram: count whether it was answered (403) or not. */
void protect_denied(struct protect *p, const struct io_pkt *in, bool answered);

enum lim_verdict protect_request(struct protect *p, struct protect_pkt *pp,
				 const struct io_pkt *in, const struct sip_msg *m, uint64_t now_ms);
enum lim_verdict protect_malformed(struct protect *p, struct protect_pkt *pp,
				   const struct io_pkt *in, uint64_t now_ms);

/* Seconds for the Retry-After of a 503 in this realm: retry_after plus a
 * uniform jitter of 0..retry_after/2, so refused clients do not come back
 * in lockstep. */
unsigned protect_retry_after(struct protect *p, uint16_t realm);

/* The shard's current calls (early + confirmed dialogs), for admission. */
void protect_set_calls(struct protect *p, uint64_t calls);

/* ---- counters (owner writes, metrics reader loads racily) -------------- */

size_t protect_nrealms(const struct protect *p);
/* [realm * PROTECT_R__COUNT * PROTECT_A__COUNT + reason * PROTECT_A__COUNT + action] */
const uint64_t *protect_decisions(const struct protect *p);
/* [realm * PROTECT_ACL__COUNT + action] */
const uint64_t *protect_acl(const struct protect *p);
/* [realm]: sources blocked */
const uint64_t *protect_blocks(const struct protect *p);
/* Per-source entries in use / recycled; NULL table: zeros. */
void protect_table_stats(const struct protect *p, uint64_t *used, uint64_t *capacity,
			 uint64_t *evictions);

#endif /* SBC_PROTECT_H */
