/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Relay port slices: an order-1 buddy allocator over this worker's pairs.
 *
 * A pair is in exactly one of three states: fully free (on the ring),
 * split (one half used, the other on the half list, or both used), or
 * fully used. Invariant: a free port whose partner is free is never on the
 * half list; the pair is on the ring instead. Singles come from the half
 * list first so pairs stay whole for calls without rtcp-mux.
 */
#include <errno.h>
#include <stdlib.h>

#include "media_int.h"

void media_ports_destroy(struct media_ports *p)
{
	if (!p)
		return;
	free(p->ring);
	free(p->half_next);
	free(p->half_prev);
	free(p->state);
	free(p);
}

static uint32_t slice_pairs(uint16_t first, uint16_t last, uint32_t worker, uint32_t nworkers)
{
	uint32_t total = ((uint32_t)last - first + 1) / 2;
	return worker < total ? (total - worker + nworkers - 1) / nworkers : 0;
}

struct media_ports *media_ports_create(uint16_t first, uint16_t last, uint32_t worker,
				       uint32_t nworkers)
{
	if ((first & 1) || first >= last || !nworkers || nworkers > MEDIA_MAX_WORKERS ||
	    worker >= nworkers)
		return NULL;
	struct media_ports *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->first = first;
	p->last = last;
	p->worker = worker;
	p->nworkers = nworkers;
	p->npairs = slice_pairs(first, last, worker, nworkers);
	p->div_m = ((1ull << 32) + nworkers - 1) / nworkers;
	size_t n = p->npairs ? p->npairs : 1;
	p->ring = malloc(n * sizeof(*p->ring));
	p->half_next = malloc(2 * n * sizeof(*p->half_next));
	p->half_prev = malloc(2 * n * sizeof(*p->half_prev));
	p->state = malloc(2 * n);
	if (!p->ring || !p->half_next || !p->half_prev || !p->state) {
		media_ports_destroy(p);
		return NULL;
	}
	for (uint32_t k = 0; k < p->npairs; k++)
		p->ring[k] = k;
	p->ring_count = p->npairs;
	for (uint32_t i = 0; i < 2 * p->npairs; i++)
		p->state[i] = PORT_FREE;
	p->half_head = p->half_tail = MEDIA_NONE;
	return p;
}

/* ---- half list ---------------------------------------------------------- */

static void half_push(struct media_ports *p, uint32_t slot)
{
	p->half_next[slot] = MEDIA_NONE;
	p->half_prev[slot] = p->half_tail;
	if (p->half_tail == MEDIA_NONE)
		p->half_head = slot;
	else
		p->half_next[p->half_tail] = slot;
	p->half_tail = slot;
	p->half_count++;
}

static void half_unlink(struct media_ports *p, uint32_t slot)
{
	uint32_t n = p->half_next[slot], v = p->half_prev[slot];

	if (v == MEDIA_NONE)
		p->half_head = n;
	else
		p->half_next[v] = n;
	if (n == MEDIA_NONE)
		p->half_tail = v;
	else
		p->half_prev[n] = v;
	p->half_count--;
}

/* ---- ring of whole pairs ------------------------------------------------ */

static uint32_t ring_pop(struct media_ports *p)
{
	uint32_t k = p->ring[p->ring_head];

	p->ring_head = p->ring_head + 1 == p->npairs ? 0 : p->ring_head + 1;
	p->ring_count--;
	return k;
}

static void ring_push(struct media_ports *p, uint32_t k)
{
	uint32_t tail = p->ring_head + p->ring_count;

	if (tail >= p->npairs)
		tail -= p->npairs;
	p->ring[tail] = k;
	p->ring_count++;
}

/* ---- public ------------------------------------------------------------- */

int media_ports_alloc_pair(struct media_ports *p)
{
	if (!p->ring_count)
		return -ENOSPC;
	uint32_t k = ring_pop(p);
	p->state[2 * k] = p->state[2 * k + 1] = PORT_USED;
	p->in_use += 2;
	return ports_port(p, 2 * k);
}

int media_ports_alloc_one(struct media_ports *p)
{
	uint32_t slot;

	if (p->half_head != MEDIA_NONE) {
		slot = p->half_head;
		half_unlink(p, slot);
	} else if (p->ring_count) {
		/* Split a pair: the even half now, the odd one for the next single. */
		slot = 2 * ring_pop(p);
		half_push(p, slot + 1);
	} else {
		return -ENOSPC;
	}
	p->state[slot] = PORT_USED;
	p->in_use++;
	return ports_port(p, slot);
}

void media_ports_free(struct media_ports *p, uint16_t port)
{
	int32_t s = ports_slot(p, port);

	if (s < 0 || p->state[s] != PORT_USED) {
		p->bad_frees++;
		return;
	}
	uint32_t slot = (uint32_t)s, buddy = slot ^ 1u;
	p->state[slot] = PORT_FREE;
	p->in_use--;
	if (p->state[buddy] == PORT_FREE) {
		/* The partner was a free half: the pair is whole again. */
		half_unlink(p, buddy);
		ring_push(p, slot >> 1);
	} else {
		half_push(p, slot);
	}
}

uint32_t media_ports_in_use(const struct media_ports *p)
{
	return p->in_use;
}

uint32_t media_ports_capacity(const struct media_ports *p)
{
	return 2 * p->npairs;
}

uint64_t media_ports_bad_frees(const struct media_ports *p)
{
	return p->bad_frees;
}

int32_t media_ports_slot(const struct media_ports *p, uint16_t port)
{
	return ports_slot(p, port);
}
