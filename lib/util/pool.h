/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/util/pool — fixed-size object pool with 32-bit indices.
 *
 * All objects are allocated in one aligned block at create; get/put never
 * touch the heap. Objects are referred to by pointer inside the worker and
 * by 32-bit index wherever a compact or stable handle is wanted (hash table
 * values, tokens minted into Contact/Via, HA records): pool_idx()/pool_at()
 * convert both ways in O(1).
 *
 * Free list: a LIFO stack of indices, so the most recently freed object -
 * the one most likely still in cache - is handed out next. A fresh pool
 * hands out indices 0, 1, 2, ... in order.
 *
 * Ownership and threads
 *   A pool belongs to one thread (a worker's shard); no locking, no per-core
 *   cache needed. An object may travel to another thread (e.g. a packet
 *   buffer through a ring) but must come back to the owner to be put.
 *
 * Objects
 *   pool_get() returns memory with whatever its last user left in it
 *   (zero for never-used objects): the caller initialises. Putting an
 *   object twice is a bug: assert() in debug builds; release builds keep a
 *   bit per object and ignore the second put rather than corrupt the free
 *   list (one bit test per put).
 *
 * Errors
 *   pool_create returns NULL (bad arguments, out of memory); pool_get
 *   returns NULL when exhausted - the caller counts the drop.
 */
#ifndef SBC_POOL_H
#define SBC_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sbc_defs.h"

#ifdef __cplusplus
extern "C" {
#endif

#define POOL_MAX_OBJS ((uint32_t)1 << 31)

struct pool;

/*
 * nobj objects of obj_size bytes, each aligned to align (a power of two;
 * 0 means SBC_CACHE_LINE so objects never share a line).
 */
struct pool *pool_create(uint32_t nobj, size_t obj_size, size_t align)
	SBC_MUST_CHECK;
void pool_destroy(struct pool *p);  /* NULL ok; objects still out are gone */

void *pool_get(struct pool *p) SBC_MUST_CHECK;
void pool_put(struct pool *p, void *obj);

/* obj must come from p. */
uint32_t pool_idx(const struct pool *p, const void *obj);
/* idx < pool_capacity(p). Valid whether the object is in use or free. */
void *pool_at(const struct pool *p, uint32_t idx);
/* Is idx a valid index of an object currently handed out? For tokens read
 * back from the network, which may be stale or forged. */
bool pool_idx_in_use(const struct pool *p, uint32_t idx);

uint32_t pool_in_use(const struct pool *p);
uint32_t pool_capacity(const struct pool *p);

#ifdef __cplusplus
}
#endif

#endif /* SBC_POOL_H */
