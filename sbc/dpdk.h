/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sbc/dpdk — internals of the DPDK poll-mode backend (io_dpdk.c and the
 * dpdk_*.c helpers). Private to the backend: nothing outside sbc/io_dpdk*
 * and sbc/dpdk_* includes it, and lib/ never sees a DPDK header.
 *
 * Files
 *   io_dpdk.c     the io_backend: EAL, ports, queues, the RX and TX bursts,
 *                 the exception path to the kernel, idle back-off, counters
 *   dpdk_ip.c     IPv4: input checks, reassembly (rte_ip_frag), ICMP echo,
 *                 UDP delivery; UDP output with checksums and fragmentation
 *   dpdk_arp.c    ARP: answers for our addresses, the per-worker neighbour
 *                 cache with its bounded queues of unresolved packets, and
 *                 the sharing of learnt neighbours between workers
 *   dpdk_kernel.c the kernel side of the exception TAP (addresses by
 *                 rtnetlink) and DPDK's log routed into the daemon's log
 *
 * Threads and ownership
 *   struct dp_global is written by the main thread in setup() and open()
 *   and read-only while workers run. A struct io_queue (one per worker) is
 *   touched only by its worker between open() and close(); the only
 *   cross-worker traffic is the neighbour-update ring each worker drains
 *   (multi-producer, single-consumer, rte_ring).
 */
#ifndef SBC_DPDK_H
#define SBC_DPDK_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

/* DPDK's headers are not written for this project's warning set; keep
 * their diagnostics out without relaxing ours for our own code. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wcast-qual"
#pragma GCC diagnostic ignored "-Wcast-align"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ether.h>
#include <rte_ethdev.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_pause.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>
#include <rte_udp.h>
#pragma GCC diagnostic pop

#include "config.h"
#include "hash.h"
#include "io.h"

#define DP_NONE       UINT16_MAX   /* no port / no TAP */
#define DP_TXB        64u          /* frames buffered per port before a flush */
#define DP_MAX_FDS    4u           /* fds wait() also watches (watch()) */

/* Per-worker counters: one table of reasons (STYLE 11). */
#define DP_COUNTERS(X)                                                                 \
	X(RX_FRAMES, "frames received from the ports")                                 \
	X(RX_DGRAMS, "UDP datagrams delivered to the worker")                          \
	X(RX_BAD_L2, "runt frames or frames not in one segment")                       \
	X(RX_OTHER_MAC, "unicast frames for another Ethernet address")                 \
	X(RX_BAD_IP, "bad IPv4 version, header length, total length or checksum")      \
	X(RX_TRUNCATED, "frames shorter than their IPv4 length (device frame size?)") \
	X(RX_BAD_UDP, "bad UDP length or checksum")                                    \
	X(RX_NOT_OURS, "IPv4 to an address that is not ours")                          \
	X(RX_MARTIAN, "IPv4 from an impossible source (ours, loopback, multicast)")   \
	X(FRAG_IN, "IPv4 fragments received")                                          \
	X(REASSEMBLED, "IPv4 datagrams reassembled from fragments")                   \
	X(ARP_IN, "ARP packets received")                                              \
	X(ARP_BAD, "malformed ARP packets")                                            \
	X(ARP_REPLIED, "ARP requests for our addresses answered")                      \
	X(ARP_CONFLICT, "ARP from another host claiming one of our addresses")        \
	X(ARP_REQUESTS, "ARP requests sent (resolution, refresh, announcements)")     \
	X(NBR_LEARNT, "neighbour entries created or changed from ARP")                 \
	X(NBR_SYNCED, "neighbour updates applied from other workers")                  \
	X(NBR_SYNC_LOST, "neighbour updates to other workers lost (ring full)")        \
	X(NBR_QUEUED, "frames queued while their next hop was resolved")               \
	X(NBR_QUEUE_FULL, "frames dropped: next hop's queue full")                     \
	X(NBR_UNRESOLVED, "frames dropped: next hop did not answer ARP")               \
	X(NBR_EVICTED, "frames dropped with an evicted neighbour entry")               \
	X(ICMP_ECHO, "ICMP echo requests answered")                                    \
	X(ICMP_LIMITED, "ICMP echo requests over the rate limit or too large")         \
	X(TO_KERNEL, "frames passed to the kernel (exception path)")                   \
	X(TO_KERNEL_DROP, "exception frames dropped (no kernel_tap or it is full)")    \
	X(FROM_KERNEL, "frames from the kernel sent out of the port")                  \
	X(TX_DGRAMS, "UDP datagrams sent")                                             \
	X(TX_FRAGS, "IPv4 fragments sent (of datagrams above the MTU)")                \
	X(TX_BAD, "datagrams to an unusable destination or interface")                 \
	X(TX_NO_ROUTE, "datagrams off-link on a port without a gateway")               \
	X(TX_NOMBUF, "datagrams dropped: no packet buffer")                            \
	X(TX_FULL, "frames the device did not take (TX queue full)")

enum dp_counter {
#define DP_C_ENUM(name, text) DP_C_##name,
	DP_COUNTERS(DP_C_ENUM)
#undef DP_C_ENUM
	DP_C__COUNT
};

/* A listen entry (flattened iface index of io.h) on its port. */
struct dp_iface {
	uint16_t port;               /* index into dp.port */
	uint16_t realm;
	rte_be32_t ip;
	rte_be16_t udp;
};

struct dp_port {
	uint16_t id;                 /* ethdev port id */
	uint16_t tap;                /* ethdev id of the kernel TAP, DP_NONE if none */
	uint16_t mtu;
	uint16_t idx;                /* index into dp.port */
	uint16_t nq;                 /* queues configured (= workers) */
	bool tx_ip_csum, tx_udp_csum, tx_multiseg;
	bool rx_ip_csum, rx_udp_csum;
	struct rte_ether_addr mac;   /* ours: configured, or the device's */
	unsigned naddr;
	rte_be32_t addr[SBC_IO_MAX_ADDRS];
	rte_be32_t mask[SBC_IO_MAX_ADDRS];
	rte_be32_t gateway;          /* 0: none */
	struct rte_mempool *pool;
	char name[RTE_ETH_NAME_MAX_LEN];
};

struct dp_global {
	const struct sbc_config *cfg;
	unsigned nworkers;
	unsigned nports;
	struct dp_port port[SBC_IO_MAX_PORTS];
	unsigned nifaces;
	struct dp_iface *iface;
	struct rte_ring **nbr_ring;  /* per worker: neighbour updates to apply */
	struct sbc_hash_key nbr_key; /* neighbour table hashing */
	uint64_t tsc_hz;
	uint64_t tsc_per_ms;
	bool power_saving;
	uint32_t idle_sleep_us;
};

extern struct dp_global dp;

/* Set by a program that embeds the backend (perf/dpdk) after it ran
 * rte_eal_init and created the ports itself: setup() then finds the ports
 * by name and teardown() leaves EAL to it. */
extern bool dp_eal_external;

struct dp_txq {
	uint16_t n;
	struct rte_mbuf *m[DP_TXB];
};

struct dp_nbr_table;

struct io_queue {
	unsigned id;
	uint64_t now_ms;             /* clock of the current burst */
	uint64_t now_tsc;
	uint64_t next_house_ms;
	bool started;                /* first burst done on the worker thread */
	unsigned rx_next;            /* port the next rx_burst starts with */
	uint32_t idle;               /* consecutive empty polls (wait()) */
	uint16_t ip_id;
	uint32_t icmp_tokens;
	uint64_t icmp_refill_ms;
	struct rte_ip_frag_tbl *frag;
	struct dp_nbr_table *nbr;
	struct pollfd pfd[DP_MAX_FDS];
	unsigned npfd;
	uint64_t ctr[DP_C__COUNT];
	struct dp_txq tx[SBC_IO_MAX_PORTS];   /* to the wire */
	struct dp_txq ktx[SBC_IO_MAX_PORTS];  /* to the kernel TAP */
	struct rte_ip_frag_death_row dr;
};

/* ---- io_dpdk.c ---------------------------------------------------------- */

/* Queue a frame out of port p (takes m); flushes when the buffer fills. */
void dp_tx(struct io_queue *q, const struct dp_port *p, struct rte_mbuf *m);
/* Pass a frame to the kernel through p's TAP, or drop it (takes m). */
void dp_to_kernel(struct io_queue *q, const struct dp_port *p, struct rte_mbuf *m);

/* Is ip (network order) one of p's addresses? */
static inline bool dp_port_owns(const struct dp_port *p, rte_be32_t ip)
{
	for (unsigned i = 0; i < p->naddr; i++) {
		if (p->addr[i] == ip)
			return true;
	}
	return false;
}

/* Index of p's address whose prefix holds ip, or -1 (off-link). */
static inline int dp_port_onlink(const struct dp_port *p, rte_be32_t ip)
{
	for (unsigned i = 0; i < p->naddr; i++) {
		if (((p->addr[i] ^ ip) & p->mask[i]) == 0)
			return (int)i;
	}
	return -1;
}

/* ---- dpdk_ip.c ---------------------------------------------------------- */

/* An IPv4 frame from port p (takes m). Returns true when it was a UDP
 * datagram for one of our listen ifaces, copied into out (out->buf is the
 * caller's IO_RX_SLOT buffer); anything else is answered, passed to the
 * kernel or dropped and counted. */
bool dp_ipv4_input(struct io_queue *q, const struct dp_port *p, struct rte_mbuf *m,
		   struct io_pkt *out);
/* Send one datagram of the worker; false when it was dropped (counted). */
bool dp_udp_output(struct io_queue *q, const struct io_pkt *pkt);
/* Free the mbufs the reassembly table retired. */
static inline void dp_frag_flush(struct io_queue *q)
{
	if (q->dr.cnt)
		rte_ip_frag_free_death_row(&q->dr, 3);
}

/* ---- dpdk_arp.c --------------------------------------------------------- */

int dp_nbr_create(struct io_queue *q);
void dp_nbr_destroy(struct io_queue *q);
/* An ARP frame from port p (takes m). */
void dp_arp_input(struct io_queue *q, const struct dp_port *p, struct rte_mbuf *m);
/* Send frames m[0..n) (Ethernet source and type set) to next hop nh on p,
 * resolving it first if needed (takes the mbufs). */
void dp_nbr_output(struct io_queue *q, const struct dp_port *p, rte_be32_t nh,
		   struct rte_mbuf **m, unsigned n);
/* Retries, expiry and updates from other workers; every few ms. */
void dp_nbr_housekeeping(struct io_queue *q);
void dp_nbr_sync_drain(struct io_queue *q);
/* Gratuitous ARP for every address of p. */
void dp_arp_announce(struct io_queue *q, const struct dp_port *p);

/* ---- dpdk_kernel.c ------------------------------------------------------ */

/* Give the TAP interface ifname the port's addresses (IPv4, with their
 * prefixes) and bring it up; 0 or -errno (logged by the caller). */
int dp_kernel_addresses(const char *ifname, const struct sbc_io_port *cp);
/* Route DPDK's log lines into the daemon's log. */
void dp_log_redirect(void);

#endif /* SBC_DPDK_H */
