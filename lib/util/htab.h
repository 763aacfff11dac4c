/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/util/htab — fixed-capacity hash index from byte-string keys to 32-bit
 * values (pool indices of transactions, dialogs, bindings).
 *
 * Shape
 *   Open addressing, linear probing, backward-shift deletion (no
 *   tombstones, so lookups never degrade after churn). A slot is 8 bytes:
 *   the upper 32 bits of the key's SipHash (filter, and source of the home
 *   slot) and the value. The table stores no key bytes: the key lives in
 *   the owner object and the table calls the eq callback to confirm a
 *   candidate whose 32-bit tag matched. With a secret per-table key the
 *   tag filters nearly all non-matches, so eq runs about once per hit.
 *
 * Capacity
 *   max_entries is fixed at create; the slot array is the next power of two
 *   >= 2 * max_entries (load <= 1/2: about 1.5 probes per hit, 2.5 per
 *   miss). Insert beyond max_entries fails with -ENOSPC: the cap is the
 *   resource limit, never a resize.
 *
 * Ownership and threads
 *   One table per shard, used by the one thread that owns the shard. No
 *   locking. The eq callback must not modify the table.
 *
 * Errors and values
 *   Values are any uint32_t except HTAB_NONE. Lookups return HTAB_NONE on a
 *   miss; insert/remove return 0 or a negative errno; htab_create returns
 *   NULL (bad arguments or out of memory).
 *
 * Precomputed hashes
 *   The _h variants take h = htab_hash(t, key, len) so a caller can hash a
 *   key once for "find, else insert", or keep the hash in its object to
 *   remove itself later without calling eq (htab_remove_val).
 */
#ifndef SBC_HTAB_H
#define SBC_HTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hash.h"
#include "sbc_defs.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HTAB_NONE UINT32_MAX
#define HTAB_MAX_ENTRIES (1u << 30)

/* Does the object behind val have exactly this key? */
typedef bool (*htab_eq_fn)(void *ctx, uint32_t val, const void *key, size_t len);

struct htab;

struct htab *htab_create(uint32_t max_entries, const struct sbc_hash_key *key,
			 htab_eq_fn eq, void *ctx) SBC_MUST_CHECK;
void htab_destroy(struct htab *t);  /* NULL ok */

uint64_t htab_hash(const struct htab *t, const void *key, size_t len);

uint32_t htab_find(const struct htab *t, const void *key, size_t len);
uint32_t htab_find_h(const struct htab *t, uint64_t h,
		     const void *key, size_t len);

/* 0, -EEXIST (key present), -ENOSPC (max_entries reached), -EINVAL. */
int htab_insert(struct htab *t, const void *key, size_t len, uint32_t val)
	SBC_MUST_CHECK;
int htab_insert_h(struct htab *t, uint64_t h, const void *key, size_t len,
		  uint32_t val) SBC_MUST_CHECK;

/* 0 or -ENOENT. */
int htab_remove(struct htab *t, const void *key, size_t len);
int htab_remove_h(struct htab *t, uint64_t h, const void *key, size_t len);
/* Remove the entry holding val under hash h, without calling eq. */
int htab_remove_val(struct htab *t, uint64_t h, uint32_t val);

uint32_t htab_count(const struct htab *t);
uint32_t htab_max_entries(const struct htab *t);

/*
 * Walk all values: start with *cursor = 0, call until HTAB_NONE. The table
 * must not change during a walk (a removal shifts entries backwards, which
 * can skip one); collect, then remove.
 */
uint32_t htab_next(const struct htab *t, uint32_t *cursor);

#ifdef __cplusplus
}
#endif

#endif /* SBC_HTAB_H */
