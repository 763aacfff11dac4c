/* SPDX-License-Identifier: BSD-3-Clause */
#include "pool.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct pool {
	uint8_t *base;
	size_t stride;      /* obj_size rounded up to align */
	uint32_t n;
	uint32_t nfree;     /* entries on the free stack */
	uint32_t *free;     /* stack of free indices, top at nfree - 1 */
	uint64_t *used;     /* bit per object: handed out */
};

struct pool *pool_create(uint32_t nobj, size_t obj_size, size_t align)
{
	struct pool *p;
	size_t bytes;

	if (!align)
		align = SBC_CACHE_LINE;
	if (!nobj || nobj > POOL_MAX_OBJS || !obj_size ||
	    (align & (align - 1)) || align > 4096)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->stride = (obj_size + align - 1) & ~(align - 1);
	if (p->stride > SIZE_MAX / nobj)
		goto fail;
	bytes = p->stride * nobj;
	/* aligned_alloc wants a size that is a multiple of the alignment. */
	p->base = aligned_alloc(align, (bytes + align - 1) & ~(align - 1));
	p->free = malloc((size_t)nobj * sizeof(*p->free));
	p->used = calloc(((size_t)nobj + 63) / 64, sizeof(*p->used));
	if (!p->base || !p->free || !p->used)
		goto fail;
	/* Touch every page now so the first calls never page-fault. */
	memset(p->base, 0, bytes);
	p->n = nobj;
	p->nfree = nobj;
	for (uint32_t i = 0; i < nobj; i++)
		p->free[i] = nobj - 1 - i;
	return p;
fail:
	pool_destroy(p);
	return NULL;
}

void pool_destroy(struct pool *p)
{
	if (!p)
		return;
	free(p->base);
	free(p->free);
	free(p->used);
	free(p);
}

static inline bool used_bit(const struct pool *p, uint32_t i)
{
	return (p->used[i / 64] >> (i % 64)) & 1u;
}

static inline void flip_used(struct pool *p, uint32_t i)
{
	p->used[i / 64] ^= 1ull << (i % 64);
}

void *pool_get(struct pool *p)
{
	uint32_t i;

	if (sbc_unlikely(!p->nfree))
		return NULL;
	i = p->free[--p->nfree];
	flip_used(p, i);
	return p->base + (size_t)i * p->stride;
}

void pool_put(struct pool *p, void *obj)
{
	uint32_t i = pool_idx(p, obj);

	assert(used_bit(p, i) && "pool_put: object is not in use (double put?)");
	if (sbc_unlikely(!used_bit(p, i)))
		return;
	flip_used(p, i);
	p->free[p->nfree++] = i;
}

uint32_t pool_idx(const struct pool *p, const void *obj)
{
	size_t off = (size_t)((const uint8_t *)obj - p->base);

	assert((const uint8_t *)obj >= p->base && off % p->stride == 0 &&
	       off / p->stride < p->n && "pool_idx: not an object of this pool");
	return (uint32_t)(off / p->stride);
}

void *pool_at(const struct pool *p, uint32_t idx)
{
	assert(idx < p->n && "pool_at: index out of range");
	return p->base + (size_t)idx * p->stride;
}

bool pool_idx_in_use(const struct pool *p, uint32_t idx)
{
	return idx < p->n && used_bit(p, idx);
}

uint32_t pool_in_use(const struct pool *p)
{
	return p->n - p->nfree;
}

uint32_t pool_capacity(const struct pool *p)
{
	return p->n;
}
