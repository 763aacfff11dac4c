/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/util/ring — lock-free pointer rings between threads.
 *
 * ring_spsc: one producer thread, one consumer thread, power-of-two size,
 *   burst enqueue/dequeue. C11 acquire/release on two free-running 32-bit
 *   indices; producer and consumer state sit on separate cache lines, and
 *   each side keeps a private copy of the other's index so it touches the
 *   remote line only when its copy says full/empty. No CAS, no fence beyond
 *   the acquire/release pair; wait-free on both sides.
 *
 * ring_mesh: the many-to-one handoff between workers (a packet that
 *   reached the wrong worker goes to the shard's owner). Built as an N x N
 *   matrix of SPSC rings - ring (from, to) is written only by worker
 *   `from` and read only by worker `to` - rather than one MPSC ring with a
 *   CAS on the producer head. Why:
 *     - producers never contend: no CAS retry loop, no shared cache line
 *       between producers, enqueue cost is independent of N;
 *     - no head-of-line blocking: in an MPSC ring a producer preempted
 *       between reserving and publishing its slots stalls the consumer for
 *       everyone; with the socket backend workers are ordinary threads the
 *       kernel does preempt;
 *     - per-producer FIFO order, and per-producer back-pressure: one worker
 *       flooding handoffs fills only its own ring, never the others' share;
 *     - the consumer drains the rings round-robin, so no producer starves.
 *   Costs: N*(N-1) rings of memory (N=32 workers, 1024 slots: 8 MiB), and
 *   an idle consumer reads N-1 remote head lines per poll.
 *   The control thread talks to each worker over its own pair of ring_spsc
 *   (request and response), not through the mesh.
 *
 * Ownership and threads
 *   Create and destroy at start-up/shutdown only, while no thread uses the
 *   ring. Enqueue from exactly one thread and dequeue from exactly one
 *   thread per ring_spsc (per (from, to) in the mesh). Pointers are handed
 *   over, never copied: what they point to belongs to the consumer once
 *   dequeued. All writes the producer made to an object before enqueuing
 *   it are visible to the consumer after dequeuing it.
 *
 * Errors
 *   Constructors return NULL (bad size, out of memory). Burst functions
 *   return how many objects they moved, 0..n: enqueue moves what fits and
 *   the caller owns (and counts, and frees) the rest.
 */
#ifndef SBC_RING_H
#define SBC_RING_H

#include <stdint.h>

#include "sbc_defs.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RING_MAX_SIZE ((uint32_t)1 << 30)

struct ring_spsc;

/* size: a power of two in [2, RING_MAX_SIZE]; holds size objects. */
struct ring_spsc *ring_spsc_create(uint32_t size) SBC_MUST_CHECK;
void ring_spsc_destroy(struct ring_spsc *r);  /* NULL ok */

/* Producer side. */
unsigned ring_spsc_enqueue_burst(struct ring_spsc *r, void *const *objs,
				 unsigned n) SBC_MUST_CHECK;
/* Consumer side. */
unsigned ring_spsc_dequeue_burst(struct ring_spsc *r, void **objs, unsigned n);

/* Objects in the ring; exact only when both sides are quiet (metrics). */
uint32_t ring_spsc_count(const struct ring_spsc *r);
uint32_t ring_spsc_capacity(const struct ring_spsc *r);

struct ring_mesh;

/* nthreads in [1, 1024] participants; one ring of ring_size per ordered pair. */
struct ring_mesh *ring_mesh_create(unsigned nthreads, uint32_t ring_size)
	SBC_MUST_CHECK;
void ring_mesh_destroy(struct ring_mesh *m);  /* NULL ok */

/* Called only by thread `from`. from == to or out of range: returns 0. */
unsigned ring_mesh_enqueue_burst(struct ring_mesh *m, unsigned from,
				 unsigned to, void *const *objs, unsigned n)
	SBC_MUST_CHECK;
/* Called only by thread `to`: up to n objects from all producers, round-robin. */
unsigned ring_mesh_dequeue_burst(struct ring_mesh *m, unsigned to,
				 void **objs, unsigned n);
/* The ring (from, to), NULL for from == to; e.g. for its count in metrics. */
struct ring_spsc *ring_mesh_ring(const struct ring_mesh *m, unsigned from,
				 unsigned to);

#ifdef __cplusplus
}
#endif

#endif /* SBC_RING_H */
