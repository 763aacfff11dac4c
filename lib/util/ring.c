/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SPSC ring. Indices run freely and wrap at 2^32; head - tail is the fill
 * level as long as size <= 2^31. Ordering:
 *   producer: write slots, then store-release head;
 *   consumer: load-acquire head, read slots, then store-release tail;
 *   producer: load-acquire tail before reusing slots.
 * Each side writes only its own line; the copies of the remote index
 * (tail_cache / head_cache) spare a remote-line read on most calls.
 */
#include "ring.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct ring_spsc {
	struct {
		_Atomic uint32_t head;  /* next slot to fill */
		uint32_t tail_cache;    /* consumer's tail as last seen */
		uint32_t mask;          /* copy per side: no shared line */
	} prod SBC_CACHE_ALIGNED;
	struct {
		_Atomic uint32_t tail;  /* next slot to drain */
		uint32_t head_cache;
		uint32_t mask;
	} cons SBC_CACHE_ALIGNED;
	void *slot[];                   /* starts on its own line */
};

struct ring_spsc *ring_spsc_create(uint32_t size)
{
	struct ring_spsc *r;
	size_t bytes;

	if (size < 2 || size > RING_MAX_SIZE || (size & (size - 1)))
		return NULL;
	bytes = sizeof(*r) + (size_t)size * sizeof(void *);
	bytes = (bytes + SBC_CACHE_LINE - 1) & ~(size_t)(SBC_CACHE_LINE - 1);
	r = aligned_alloc(SBC_CACHE_LINE, bytes);
	if (!r)
		return NULL;
	memset(r, 0, bytes);
	atomic_init(&r->prod.head, 0);
	atomic_init(&r->cons.tail, 0);
	r->prod.mask = size - 1;
	r->cons.mask = size - 1;
	return r;
}

void ring_spsc_destroy(struct ring_spsc *r)
{
	free(r);
}

unsigned ring_spsc_enqueue_burst(struct ring_spsc *r, void *const *objs,
				 unsigned n)
{
	uint32_t mask = r->prod.mask;
	uint32_t head = atomic_load_explicit(&r->prod.head, memory_order_relaxed);
	uint32_t room = mask + 1 - (head - r->prod.tail_cache);

	if (room < n) {
		r->prod.tail_cache = atomic_load_explicit(&r->cons.tail,
							  memory_order_acquire);
		room = mask + 1 - (head - r->prod.tail_cache);
		if (n > room)
			n = room;
	}
	if (!n)
		return 0;
	for (unsigned i = 0; i < n; i++)
		r->slot[(head + i) & mask] = objs[i];
	atomic_store_explicit(&r->prod.head, head + n, memory_order_release);
	return n;
}

unsigned ring_spsc_dequeue_burst(struct ring_spsc *r, void **objs, unsigned n)
{
	uint32_t mask = r->cons.mask;
	uint32_t tail = atomic_load_explicit(&r->cons.tail, memory_order_relaxed);
	uint32_t avail = r->cons.head_cache - tail;

	if (avail < n) {
		r->cons.head_cache = atomic_load_explicit(&r->prod.head,
							  memory_order_acquire);
		avail = r->cons.head_cache - tail;
		if (n > avail)
			n = avail;
	}
	/* Empty poll: leave the tail line alone so the producer keeps it. */
	if (!n)
		return 0;
	for (unsigned i = 0; i < n; i++)
		objs[i] = r->slot[(tail + i) & mask];
	atomic_store_explicit(&r->cons.tail, tail + n, memory_order_release);
	return n;
}

uint32_t ring_spsc_count(const struct ring_spsc *r)
{
	uint32_t tail = atomic_load_explicit(&r->cons.tail, memory_order_acquire);
	uint32_t head = atomic_load_explicit(&r->prod.head, memory_order_acquire);
	uint32_t n = head - tail;

	/* Read out of order against a moving pair: clamp the impossible. */
	return n > r->prod.mask + 1 ? 0 : n;
}

uint32_t ring_spsc_capacity(const struct ring_spsc *r)
{
	return r->prod.mask + 1;
}

/* ---- mesh ---------------------------------------------------------------- */

#define RING_MESH_MAX 1024u

struct mesh_cons {
	unsigned next;  /* producer to poll first; private to the consumer */
} SBC_CACHE_ALIGNED;

struct ring_mesh {
	unsigned n;
	struct ring_spsc **ring;   /* [from * n + to], NULL on the diagonal */
	struct mesh_cons *cons;    /* [to] */
};

struct ring_mesh *ring_mesh_create(unsigned nthreads, uint32_t ring_size)
{
	struct ring_mesh *m;

	if (!nthreads || nthreads > RING_MESH_MAX)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->n = nthreads;
	m->ring = calloc((size_t)nthreads * nthreads, sizeof(*m->ring));
	m->cons = aligned_alloc(SBC_CACHE_LINE, nthreads * sizeof(*m->cons));
	if (!m->ring || !m->cons)
		goto fail;
	memset(m->cons, 0, nthreads * sizeof(*m->cons));
	for (unsigned f = 0; f < nthreads; f++) {
		for (unsigned t = 0; t < nthreads; t++) {
			if (f == t)
				continue;
			m->ring[f * nthreads + t] = ring_spsc_create(ring_size);
			if (!m->ring[f * nthreads + t])
				goto fail;
		}
	}
	return m;
fail:
	ring_mesh_destroy(m);
	return NULL;
}

void ring_mesh_destroy(struct ring_mesh *m)
{
	if (!m)
		return;
	if (m->ring) {
		for (size_t i = 0; i < (size_t)m->n * m->n; i++)
			ring_spsc_destroy(m->ring[i]);
	}
	free(m->ring);
	free(m->cons);
	free(m);
}

struct ring_spsc *ring_mesh_ring(const struct ring_mesh *m, unsigned from,
				 unsigned to)
{
	if (from >= m->n || to >= m->n)
		return NULL;
	return m->ring[from * m->n + to];
}

unsigned ring_mesh_enqueue_burst(struct ring_mesh *m, unsigned from,
				 unsigned to, void *const *objs, unsigned n)
{
	struct ring_spsc *r = ring_mesh_ring(m, from, to);

	return r ? ring_spsc_enqueue_burst(r, objs, n) : 0;
}

unsigned ring_mesh_dequeue_burst(struct ring_mesh *m, unsigned to,
				 void **objs, unsigned n)
{
	unsigned got = 0;
	unsigned from;

	if (to >= m->n)
		return 0;
	from = m->cons[to].next;
	for (unsigned k = 0; k < m->n && got < n; k++) {
		struct ring_spsc *r = m->ring[from * m->n + to];

		if (r)
			got += ring_spsc_dequeue_burst(r, objs + got, n - got);
		from = from + 1 == m->n ? 0 : from + 1;
	}
	/* Start after the last ring polled: a busy producer cannot hog bursts. */
	m->cons[to].next = from;
	return got;
}
