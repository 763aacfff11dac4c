/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sbc/worker — one data-plane thread: the burst loop over an I/O queue and
 * the per-packet SIP handling. It knows struct io_pkt, never a socket.
 *
 * Threads and ownership
 *   worker_create()/worker_destroy() run on the main thread. Between
 *   worker_run()'s start and its return, the worker's state (message,
 *   buffers, counters) is written only by its own thread; main reads the
 *   counters after joining it. Counters are plain integers in a cache-line
 *   aligned block: one writer, no atomics; the control thread's metrics
 *   reader loads them racily with relaxed atomic loads (METRICS_LOAD),
 *   which is sound for monotonic, aligned 64-bit counters.
 *   All buffers are allocated in worker_create(): no malloc per packet.
 *
 * Sharding (DESIGN "Threads and sharding")
 *   The first worker that receives a datagram parses it, answers what needs
 *   no state (verdicts, OPTIONS to the SBC, 483/416/420) and computes its
 *   shard from its bytes alone: the shard a client branch minted by the SBC
 *   names (responses), else the keyed hash of the Call-ID. A packet of
 *   another shard goes to its owner by pointer through the handoff ring
 *   mesh; the owner gives the buffer back through the giveback mesh, so no
 *   byte is copied and no buffer crosses pools. A sleeping owner is woken
 *   through its eventfd, written only when it announced it sleeps.
 *
 * Replies
 *   Responses go to the datagram's source address and port, out of the
 *   interface it arrived on: for UDP with ;rport (RFC 3581) that is what
 *   RFC 3261 18.2.2 asks, and behind NAT the only address that works.
 */
#ifndef SBC_WORKER_H
#define SBC_WORKER_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "dialog.h"
#include "io.h"
#include "media.h"
#include "metrics.h"
#include "protect.h"
#include "ring.h"
#include "sip.h"
#include "txn.h"

/* Datagrams the worker handled without answering, besides ACKs and
 * keepalives which are normal traffic. */
#define WORKER_DROPS(X)                                                        \
	X(UNPARSEABLE, "no request line, malformed response or malformed ACK") \
	X(NO_VIA, "malformed request without a Via to answer to")             \
	X(REPLY_OVERFLOW, "reply did not fit the buffer")                     \
	X(HANDOFF, "owner worker's ring full or no spare buffer")

enum worker_drop {
#define WORKER_DROP_ENUM(name, text) WORKER_DROP_##name,
	WORKER_DROPS(WORKER_DROP_ENUM)
#undef WORKER_DROP_ENUM
	WORKER_DROP__COUNT
};

const char *worker_drop_name(enum worker_drop d);

struct worker_counters {
	uint64_t rx;                       /* datagrams received */
	uint64_t tx;                       /* datagrams accepted by the backend */
	uint64_t tx_failed;                /* datagrams the backend refused */
	uint64_t keepalives;               /* CRLF pings (RFC 5626 3.5.1) */
	uint64_t options_ok;               /* OPTIONS to the SBC answered 200 */
	uint64_t acks_absorbed;            /* ACKs of stateless responses */
	uint64_t handoff_out;              /* packets handed to their shard's worker */
	uint64_t handoff_in;               /* packets received from other workers */
	uint64_t handoff_dropped;          /* ring full or no spare buffer */
	uint64_t sip_err[SIP_E__COUNT];    /* verdicts of parse/check/proxy check */
	uint64_t drop[WORKER_DROP__COUNT];
} __attribute__((aligned(64)));

/* Media relay figures of a worker's shard (lib/media's counters and gauges,
 * republished with the shard snapshot). */
struct worker_media {
	uint64_t rx;                       /* packets given to the relay */
	uint64_t fwd[MEDIA_PKT__COUNT];    /* relayed, by kind */
	uint64_t fwd_bytes;
	uint64_t drop[MEDIA_DROP__COUNT];  /* by reason ([NONE] unused) */
	uint64_t no_ports, no_streams, no_sessions, sdp_errors;
	uint64_t port_open_failed;         /* relay sockets that did not open */
	uint64_t sessions, streams;        /* now */
	uint32_t ports_in_use[SBC_MAX_REALMS];   /* now, per realm */
	uint32_t ports_capacity[SBC_MAX_REALMS]; /* this worker's slice */
};

/* What the metrics endpoint shows of a worker (besides worker_counters and
 * the proxy counters). Written only by the worker, read racily by the
 * control thread with METRICS_LOAD; the shard snapshot is republished by
 * the worker every WORKER_SNAPSHOT_MS with METRICS_STORE (the reader never
 * touches the proxy's own structures). */
struct worker_metrics {
	uint64_t requests[SIP_M__COUNT];   /* parsed requests by method (first touch) */
	uint64_t responses[7];             /* parsed responses by class 1..6; [0] other */
	uint64_t overload_503;             /* 503s because the owner's ring was full */
	struct metrics_hist processing;    /* one datagram's handling on this worker */
	struct metrics_calls calls;        /* kept by the shard's proxy (proxy_env.calls) */
	struct txn_stats txn;              /* shard snapshot */
	struct dlg_stats dlg;              /* shard snapshot */
	uint64_t registrations;            /* shard snapshot: bindings held */
	struct worker_media media;         /* shard snapshot */
} __attribute__((aligned(64)));

#define WORKER_SNAPSHOT_MS 20u

struct worker;

/* What the workers share, built by main before any worker starts and
 * read-only afterwards (the rings inside are the only shared mutable
 * state, each written by one thread). */
struct worker_shared {
	unsigned nworkers;
	struct ring_mesh *handoff;         /* packets to their shard's owner */
	struct ring_mesh *giveback;        /* their buffers back to the owner */
	struct worker **workers;           /* to wake a sleeping peer */
	uint64_t shard_key[2];             /* process-wide Call-ID -> shard key */
	uint64_t seed[2];                  /* per-process secret for the shards */
	/* To-tag of every stateless response of the process, so whichever
	 * worker gets the ACK of a stateless 4xx recognises and absorbs it. */
	char sl_tag[17];
	/* HMAC secret of the Contact tokens; one for all workers so any of
	 * them can mint a token another one verifies. */
	uint8_t token_key[32];
};

/* Set up worker id on queue q (owned by the caller). NULL on ENOMEM. */
struct worker *worker_create(unsigned id, const struct sbc_config *cfg,
			     const struct io_backend *io, struct io_queue *q,
			     const atomic_bool *stop, const struct worker_shared *sh);
void worker_destroy(struct worker *w);  /* accepts NULL */

/* Thread body: loop until *stop. A worker whose queue breaks logs it and
 * raises SIGUSR2 so the main thread shuts the daemon down (exit 1). */
void *worker_run(void *arg);

const struct worker_counters *worker_counters(const struct worker *w);
/* Add b's counters into a. */
void worker_counters_add(struct worker_counters *a, const struct worker_counters *b);
/* Proxy counters of the worker's shard (PROXY_C__COUNT entries). */
const uint64_t *worker_proxy_counters(const struct worker *w);
/* For the metrics reader (control thread): racy reads, see above. */
const struct worker_metrics *worker_metrics(const struct worker *w);
const struct protect *worker_protect(const struct worker *w);

#define WORKER_STOP_SIGNAL SIGUSR2

#endif /* SBC_WORKER_H */
