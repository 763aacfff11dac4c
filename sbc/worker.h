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
 *   aligned block: one writer, no atomics (a metrics reader will later read
 *   them racily, which is acceptable for monotonic 64-bit counters).
 *   All buffers are allocated in worker_create(): no malloc per packet.
 *
 * Replies
 *   Stateless replies go to the datagram's source address and port, out of
 *   the socket it arrived on. RFC 3261 18.2.2 sends responses to the top
 *   Via's received/rport address, which for a request received over UDP
 *   with ;rport (RFC 3581) *is* the packet source, and behind NAT the only
 *   address that works. Via-based routing (maddr, no rport) arrives with
 *   the transaction layer.
 */
#ifndef SBC_WORKER_H
#define SBC_WORKER_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "io.h"
#include "sip.h"

/* Datagrams the worker handled without answering, besides ACKs and
 * keepalives which are normal traffic. */
#define WORKER_DROPS(X)                                                        \
	X(UNPARSEABLE, "no request line, malformed response or malformed ACK") \
	X(RESPONSE, "response outside any transaction")                       \
	X(NO_VIA, "malformed request without a Via to answer to")             \
	X(REPLY_OVERFLOW, "reply did not fit the buffer")

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
	uint64_t tx_failed;                /* replies the backend refused */
	uint64_t keepalives;               /* CRLF pings (RFC 5626 3.5.1) */
	uint64_t acks;                     /* ACKs absorbed */
	uint64_t options_ok;               /* OPTIONS to the SBC answered 200 */
	uint64_t not_implemented;          /* 501: proxying is not there yet */
	uint64_t sip_err[SIP_E__COUNT];    /* verdicts of parse/check/proxy check */
	uint64_t drop[WORKER_DROP__COUNT];
} __attribute__((aligned(64)));

struct worker;

/* Set up worker id on queue q (owned by the caller). io may be NULL for a
 * worker used only through worker_handle() (tests). NULL on ENOMEM. */
struct worker *worker_create(unsigned id, const struct sbc_config *cfg,
			     const struct io_backend *io, struct io_queue *q,
			     const atomic_bool *stop);
void worker_destroy(struct worker *w);  /* accepts NULL */

/* Thread body: loop until *stop. A worker whose queue breaks logs it and
 * raises SIGUSR2 so the main thread shuts the daemon down (exit 1). */
void *worker_run(void *arg);

/* Handle one received datagram. Returns the length of the reply written
 * to out (sent back to in->src), or 0 when nothing is to be sent. */
size_t worker_handle(struct worker *w, const struct io_pkt *in, char *out, size_t cap);

const struct worker_counters *worker_counters(const struct worker *w);

/* Add b's counters into a. */
void worker_counters_add(struct worker_counters *a, const struct worker_counters *b);

#define WORKER_STOP_SIGNAL SIGUSR2

#endif /* SBC_WORKER_H */
