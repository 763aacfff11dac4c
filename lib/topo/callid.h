/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/topo/callid — Call-ID masking towards a realm: the original Call-ID
 * (which often carries a host name or address) is replaced by a token of
 * kind TOPO_CALLID naming an entry of this table, which keeps the
 * original. Stored, not encrypted: the token has a fixed length whatever
 * the original's, and its shard is readable from its bytes (the DESIGN
 * invariant holds for masked Call-IDs too).
 *
 * Ownership and threads
 *   One table per shard, used by its worker only; fixed pool made at
 *   create time, no allocation afterwards. Entries live `linger_s` after
 *   their last use (refreshed by every message of the call), timed on the
 *   shard's wheel (tag CID_TIMER_TAG) through cid_map_timer_fire().
 */
#ifndef SBC_TOPO_CALLID_H
#define SBC_TOPO_CALLID_H

#include <stdint.h>

#include "sip.h"
#include "wheel.h"

#define CID_TIMER_TAG 0x40000u
#define CID_MAX 256u

struct cid_entry {
	struct wheel_timer t;
	uint16_t gen, len;
	uint8_t realm;             /* the realm that sees the mask */
	char cid[CID_MAX];         /* the original Call-ID */
};

struct cid_map;

struct cid_map *cid_map_create(uint32_t max, struct wheel *w, const uint64_t seed[2], uint32_t linger_s);
void cid_map_destroy(struct cid_map *m);
/* The entry masking cid towards realm, created if absent; its lifetime
 * restarts. NULL when the table is full or cid too long (the caller then
 * sends the original: masking is best effort, counted). */
struct cid_entry *cid_map_get(struct cid_map *m, sip_str_t cid, uint8_t realm);
/* The entry a token names (index, generation), refreshed; NULL if gone. */
struct cid_entry *cid_map_at(struct cid_map *m, uint32_t idx, uint16_t gen);
uint32_t cid_map_index(const struct cid_map *m, const struct cid_entry *e);
void cid_map_timer_fire(struct cid_map *m, struct wheel_timer *t);
uint32_t cid_map_count(const struct cid_map *m);

#endif /* SBC_TOPO_CALLID_H */
