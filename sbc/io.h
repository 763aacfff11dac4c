/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sbc/io — packet I/O backends behind one burst interface.
 *
 * A backend moves datagrams between the network and a worker: rx_burst()
 * fills an array of struct io_pkt, tx_burst() sends one. The worker never
 * sees a socket or an mbuf, so the socket backend (io_socket.c: SO_REUSEPORT
 * sockets, recvmmsg/sendmmsg, epoll when idle) and a later DPDK poll-mode
 * backend share the worker code unchanged.
 *
 * Interfaces ("ifaces") are the configured listen entries flattened in
 * config order: realm 0's listen[0..], then realm 1's, ... Every packet
 * carries the iface it arrived on / must leave by and that iface's realm.
 *
 * Threads and ownership
 *   setup()/teardown() and open()/close() run on the main thread (control
 *   plane; they log their own errors and return -errno). After open(), a
 *   queue belongs to exactly one worker thread, which alone calls rx_burst,
 *   tx_burst, wait and stats on it: no locks, no atomics.
 *   rx_burst: the caller owns the receive buffers: before the call every
 *   pkts[i].buf points to IO_RX_SLOT bytes of the caller's and pkts[i].ref
 *   is NULL, and the backend fills the buffers. So a worker can hand a
 *   received packet to another worker by pointer (no copy) and put a fresh
 *   buffer in its slot. tx_burst: the caller owns the buffers; the backend
 *   has sent or copied the data when it returns.
 *
 * Packets lent by the backend (ref != NULL; media relay without a copy)
 *   A backend may deliver a relay-port datagram (iface IO_IFACE_MEDIA, and
 *   only those) in its own memory instead: buf then points at the UDP
 *   payload inside the backend's frame (the DPDK backend: inside the mbuf)
 *   and ref is the backend's handle of that frame; the caller's buffer in
 *   that slot is left untouched. Such a packet stays the backend's:
 *     - the worker that received it hands it back exactly once, on its own
 *       thread, before its next rx_burst: either in tx_burst (iface
 *       IO_IFACE_MEDIA, with buf, len and ref as received; realm, port and
 *       dst are the relay's verdict), which then sends the frame itself
 *       after rewriting its headers, or through release() when it is
 *       dropped. tx_burst takes every ref it is given, sent or not (it
 *       frees those it does not accept);
 *     - it is never handed to another worker, never kept across bursts,
 *       and buf is read-only to the caller (the payload goes out as is);
 *     - a backend that lends packets implements release(); one that never
 *       does (the socket backend) leaves ref NULL and may leave release
 *       NULL.
 *   Ordinary packets (ref NULL) follow the rules above unchanged, and a
 *   tx_burst batch may mix both kinds.
 */
#ifndef SBC_IO_H
#define SBC_IO_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"

#define IO_BURST_MAX 32u       /* packets per rx_burst/tx_burst call */
#define IO_RX_SLOT   65536u    /* bytes per receive buffer: any UDP datagram */

#include "addr.h" /* union sbc_sockaddr */

/* iface of a media datagram: it arrived on (rx) or leaves from (tx) the
 * relay port `port` of realm `realm`'s media address, not a listen entry. */
#define IO_IFACE_MEDIA 0xffffu

struct io_pkt {
	char *buf;
	void *ref;               /* NULL, or the backend's frame buf lies in
				    (see "Packets lent by the backend") */
	uint32_t len;
	uint16_t iface;          /* flattened listen index, or IO_IFACE_MEDIA */
	uint16_t realm;          /* index into sbc_config.realms */
	uint16_t port;           /* IO_IFACE_MEDIA: our relay port (host order) */
	union sbc_sockaddr src;  /* rx: the peer; tx: our address (unused) */
	union sbc_sockaddr dst;  /* rx: our address; tx: the peer */
};

struct io_stats {
	uint64_t rx_errors;      /* receive calls that failed (not EAGAIN) */
	uint64_t tx_errors;      /* datagrams the kernel/NIC refused */
};

struct io_queue;                 /* one per worker, backend-private */

struct io_backend {
	const char *name;
	/* Once before any queue opens: check every iface is usable. */
	int (*setup)(const struct sbc_config *cfg);
	void (*teardown)(void);
	/* Worker id's queue on every iface. */
	int (*open)(const struct sbc_config *cfg, unsigned id, struct io_queue **out);
	void (*close)(struct io_queue *q);  /* accepts NULL */
	/* Up to n (<= IO_BURST_MAX) packets into the caller's pkts[i].buf;
	 * 0 when nothing is ready. */
	unsigned (*rx_burst)(struct io_queue *q, struct io_pkt *pkts, unsigned n);
	/* Sends pkts[0..n); returns how many were accepted, the rest are lost
	 * (lent packets among them are freed). */
	unsigned (*tx_burst)(struct io_queue *q, const struct io_pkt *pkts, unsigned n);
	/* Gives lent packets back unsent: frees pkts[i].ref of every i with a
	 * non-NULL ref, ignores the others. NULL in a backend that never lends. */
	void (*release)(struct io_queue *q, const struct io_pkt *pkts, unsigned n);
	/* Block until input may be ready or timeout_ms passes. > 0 when a
	 * watched fd (watch()) may be readable: the caller then drains it;
	 * 0 when none is (it must not return 0 while one is readable, or the
	 * caller never drains it and the next wait returns at once again);
	 * -errno when the queue is broken. Poll-mode backends return 0 at
	 * once. */
	int (*wait)(struct io_queue *q, int timeout_ms);
	void (*stats)(const struct io_queue *q, struct io_stats *out);
	/* Also end wait() when fd becomes readable (the worker's wake-up
	 * eventfd, written by workers that hand it packets). 0 or -errno.
	 * Poll-mode backends never block and may ignore it. */
	int (*watch)(struct io_queue *q, int fd);
	/*
	 * Media relay ports (media anchoring, lib/media). Contract:
	 *   media_open(q, realm, port): from now on, UDP datagrams to realm's
	 *     media address (cfg->realms[realm].media.ip) and port come out of
	 *     this queue's rx_burst with iface IO_IFACE_MEDIA, realm and port
	 *     set (src the peer, dst our address), and tx_burst sends packets
	 *     marked the same way with that address and port as the source.
	 *     Only the worker that owns the port (media_port_owner(): the
	 *     port's pair modulo the workers) calls it, on its own thread,
	 *     when lib/media hands the port out at call set-up: it may make
	 *     system calls (the socket backend binds a socket and adds it to
	 *     its epoll set), never per packet. 0, or -errno (EADDRINUSE: a
	 *     foreign process holds the port; EMFILE: the descriptor limit);
	 *     the caller counts and logs, and refuses the offer (503).
	 *   media_close(q, realm, port): the port went back to the pool; stop
	 *     delivering it. Accepts a port that is not open (a failed open).
	 *   Packets of a port that is not open may be dropped or delivered
	 *     (the worker's relay drops them as unknown ports, counted).
	 *   A poll-mode backend that classifies every datagram itself can
	 *   implement both as bookkeeping (or as no-ops returning 0) and
	 *   deliver the whole configured ranges. Both NULL: the backend cannot
	 *   relay media, and the daemon leaves SDP media lines as they are.
	 */
	int (*media_open)(struct io_queue *q, uint16_t realm, uint16_t port);
	void (*media_close)(struct io_queue *q, uint16_t realm, uint16_t port);
};

extern const struct io_backend io_socket_backend;
/* Poll-mode backend (sbc/io_dpdk.c); only in builds with DPDK (HAVE_DPDK). */
extern const struct io_backend io_dpdk_backend;

/* Number of ifaces in cfg (sum of listen entries). */
unsigned io_iface_count(const struct sbc_config *cfg);

/* "127.0.0.1:5060" / "[::1]:5060" into buf. */
const char *io_addr_str(const union sbc_sockaddr *a, char *buf, size_t cap);

#endif /* SBC_IO_H */
