/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sbc/dpdk — internals of the DPDK poll-mode backend (io_dpdk.c and the
 * dpdk_*.c helpers). Private to the backend: nothing outside sbc/io_dpdk*
 * and sbc/dpdk_* includes it, and lib/ never sees a DPDK header.
 *
 * Files
 *   io_dpdk.c     the io_backend: EAL, ports, queues, the RX and TX bursts,
 *                 the exception path to the kernel, relay ports (steering
 *                 to the owner worker), idle back-off, counters
 *   dpdk_ip.c     IPv4: input checks, reassembly (rte_ip_frag), ICMP echo,
 *                 UDP delivery; UDP output with checksums and fragmentation
 *   dpdk_ip6.c    the same for IPv6, and neighbour discovery (RFC 4861:
 *                 answers for our addresses, solicitations for next hops)
 *   dpdk_arp.c    ARP: answers for our addresses; the per-worker neighbour
 *                 cache (IPv4 and IPv6) with its bounded queues of
 *                 unresolved packets, and the sharing of learnt neighbours
 *                 between workers
 *   dpdk_kernel.c the kernel side of the exception TAP (addresses by
 *                 rtnetlink) and DPDK's log routed into the daemon's log
 *
 * Threads and ownership
 *   struct dp_global is written by the main thread in setup() and open()
 *   and read-only while workers run. A struct io_queue (one per worker) is
 *   touched only by its worker between open() and close(), except its
 *   `sleeping` flag (atomics). The cross-worker traffic is two rings per
 *   worker (multi-producer, single-consumer rte_rings): neighbour updates,
 *   and frames for its relay ports that another worker received.
 */
#ifndef SBC_DPDK_H
#define SBC_DPDK_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

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
#define DP_NBR_UPDATE_SIZE 24u     /* element of the neighbour update rings */
#define DP_TXB        64u          /* frames buffered per port before a flush */
#define DP_MAX_FDS    4u           /* fds wait() also watches (watch()) */
#define DP_ICMP_RATE  1000u        /* echo replies per worker per second: for
				      monitoring, not a reflector */

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
	X(ICMP6_ECHO, "ICMPv6 echo requests answered")                                 \
	X(ICMP6_BAD, "ICMPv6 with a bad checksum, or ND failing RFC 4861 checks")     \
	X(ND_NS_IN, "neighbour solicitations received")                               \
	X(ND_NA_SENT, "neighbour advertisements sent for our addresses")              \
	X(ND_NS_SENT, "neighbour solicitations sent (resolution, refresh)")           \
	X(RX_BAD_IP6, "bad IPv6 version or payload length")                           \
	X(ICMP_LIMITED, "ICMP echo requests over the rate limit or too large")         \
	X(MEDIA_IN, "datagrams to relay ports delivered to their owner (this worker)") \
	X(MEDIA_HANDOFF, "datagrams to another worker's relay ports passed to it")     \
	X(MEDIA_HANDOFF_LOST, "relay-port datagrams dropped: the owner's ring was full") \
	X(MEDIA_LENT, "relay-port datagrams delivered inside their frame (no copy)")  \
	X(MEDIA_INPLACE, "relay-port datagrams sent in place: received frame rewritten") \
	X(MEDIA_COPIED, "relay-port datagrams sent from a copy (see io_dpdk.c)")      \
	X(MEDIA_RELEASED, "lent relay-port frames given back unsent (relay drops)")   \
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
	uint8_t family;              /* AF_INET or AF_INET6 */
	rte_be32_t ip;               /* IPv4 */
	uint8_t ip6[16];             /* IPv6 */
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
	/* IPv6: the configured addresses, the link-local address from the
	 * MAC (EUI-64), and the router (often link-local). */
	unsigned naddr6;
	uint8_t addr6[SBC_IO_MAX_ADDRS][16];
	uint8_t plen6[SBC_IO_MAX_ADDRS];
	uint8_t ll6[16];
	uint8_t gw6[16];
	bool has_gw6;
	struct rte_mempool *pool;
	char name[RTE_ETH_NAME_MAX_LEN];
};

/* A realm's media relay range on the port that owns its media address. */
struct dp_media {
	bool on;
	uint16_t port;               /* index into dp.port */
	uint8_t family;
	rte_be32_t ip;
	uint8_t ip6[16];
	uint16_t first, last;        /* host order */
};

struct dp_global {
	const struct sbc_config *cfg;
	unsigned nworkers;
	unsigned nports;
	struct dp_port port[SBC_IO_MAX_PORTS];
	unsigned nifaces;
	struct dp_iface *iface;
	struct rte_ring **nbr_ring;  /* per worker: neighbour updates to apply */
	struct dp_media *media;      /* per realm */
	unsigned nmedia;
	/* per worker: frames for its relay ports that other workers received
	 * (RSS spreads by source, a relay port belongs to one worker) */
	struct rte_ring **media_ring;
	struct io_queue **queues;    /* per worker, to wake an owner that sleeps */
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
/* Remove EAL's runtime directory dir (its path taken before
 * rte_eal_cleanup()); io_dpdk.c explains why. Main thread, at exit. */
void dp_runtime_dir_remove(const char *dir);

/* Set by a program that embeds the backend (perf/dpdk) before setup():
 * relay-port datagrams are always copied, as before in-place relay, so
 * both paths can be measured side by side in one run. */
extern bool dp_media_copy;

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
	uint32_t ip6_id;
	uint32_t icmp_tokens;
	uint64_t icmp_refill_ms;
	struct rte_ip_frag_tbl *frag;
	struct dp_nbr_table *nbr;
	struct pollfd pfd[DP_MAX_FDS];
	unsigned npfd;
	bool sleeping;               /* in wait(): read by other workers (atomics) */
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

/* Neighbour keys are 16 bytes: an IPv6 address, or IPv4 mapped
 * (::ffff:a.b.c.d), so one cache serves ARP and ND. */
static inline void dp_v4_key(rte_be32_t a, uint8_t out[16])
{
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, &a, 4);
}

static inline bool dp_key_is_v4(const uint8_t k[16])
{
	static const uint8_t pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	return !memcmp(k, pfx, 12);
}

static inline bool dp_ll6(const uint8_t a[16])
{
	return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

/* Is a (IPv6) the port's link-local or one of its addresses? */
static inline bool dp_port_owns6(const struct dp_port *p, const uint8_t a[16])
{
	if (!p->naddr6)
		return false;
	if (!memcmp(a, p->ll6, 16))
		return true;
	for (unsigned i = 0; i < p->naddr6; i++) {
		if (!memcmp(a, p->addr6[i], 16))
			return true;
	}
	return false;
}

static inline bool dp_prefix6(const uint8_t a[16], const uint8_t pfx[16], unsigned bits)
{
	unsigned full = bits / 8, rem = bits % 8;

	if (memcmp(a, pfx, full))
		return false;
	return !rem || !((a[full] ^ pfx[full]) & (uint8_t)(0xffu << (8 - rem)));
}

/* Index of p's IPv6 address whose prefix holds a, or -1. */
static inline int dp_port_onlink6(const struct dp_port *p, const uint8_t a[16])
{
	for (unsigned i = 0; i < p->naddr6; i++) {
		if (dp_prefix6(a, p->addr6[i], p->plen6[i]))
			return (int)i;
	}
	return -1;
}

/* One echo reply's worth of the worker's ICMP budget (DP_ICMP_RATE a
 * second, IPv4 and IPv6 together)? */
static inline bool dp_icmp_allowed(struct io_queue *q)
{
	if (q->now_ms >= q->icmp_refill_ms + 1000) {
		q->icmp_tokens = DP_ICMP_RATE;
		q->icmp_refill_ms = q->now_ms;
	}
	if (!q->icmp_tokens)
		return false;
	q->icmp_tokens--;
	return true;
}

/* ---- media relay ports (io_dpdk.c) --------------------------------------- */

/* The realm whose relay range holds (our address, port), or -1. */
static inline int dp_media_find(unsigned port_idx, int family, const void *ip, uint16_t udp)
{
	for (unsigned r = 0; r < dp.nmedia; r++) {
		const struct dp_media *md = &dp.media[r];
		if (!md->on || md->port != port_idx || md->family != family || udp < md->first ||
		    udp > md->last)
			continue;
		if (family == AF_INET ? !memcmp(ip, &md->ip, 4) : !memcmp(ip, md->ip6, 16))
			return (int)r;
	}
	return -1;
}

/* Pass a checked frame for relay port `udp` of realm r to the worker that
 * owns the port (takes m). */
void dp_media_handoff(struct io_queue *q, unsigned owner, struct rte_mbuf *m);
/* Deliver a checked UDP datagram (l4 = offset of its UDP header) into out
 * as a relay-port datagram of realm r: lent in its frame (out->ref = m,
 * out->buf its payload; io.h) when the frame can be relayed in place, else
 * copied into out->buf and m freed. */
void dp_media_deliver(struct io_queue *q, struct rte_mbuf *m, uint32_t l4, uint16_t ulen,
		      int family, const void *src_ip, const void *dst_ip, rte_be16_t sport,
		      rte_be16_t dport, unsigned realm, struct io_pkt *out);
/* Deliver a checked UDP datagram (l4 = offset of its UDP header, ulen its
 * UDP length) for listen iface f into out: payload copied into out->buf,
 * source from src_ip/sport, destination f's address; m freed either way.
 * False (counted as a bad UDP datagram) when m is shorter than ulen. */
bool dp_listen_deliver(struct io_queue *q, struct rte_mbuf *m, const struct dp_iface *f,
		       uint32_t l4, uint16_t ulen, const void *src_ip, rte_be16_t sport,
		       struct io_pkt *out);

/* ---- dpdk_ip.c ---------------------------------------------------------- */

/* An IPv4 frame from port p (takes m). Returns true when it was a UDP
 * datagram for one of our listen ifaces, copied into out (out->buf is the
 * caller's IO_RX_SLOT buffer); anything else is answered, passed to the
 * kernel or dropped and counted. */
bool dp_ipv4_input(struct io_queue *q, const struct dp_port *p, struct rte_mbuf *m,
		   struct io_pkt *out);
/* Send one datagram of the worker; false when it was dropped (counted).
 * A lent frame (pkt->ref) is rewritten and sent in place when it can be,
 * else sent from a copy; either way it is consumed. */
bool dp_udp_output(struct io_queue *q, const struct io_pkt *pkt);
/* The next hop of an IPv4 datagram to dst:port out of p (dst itself
 * on-link, else the gateway); false, counted, when dst is unusable or
 * there is no route. */
bool dp_route4(struct io_queue *q, const struct dp_port *p, rte_be32_t dst, rte_be16_t port,
	       rte_be32_t *nh);
/* Bytes [off, off+len) of "UDP header then payload" appended to a chain
 * (shared with dpdk_ip6.c); false when the pool is empty. */
bool dp_append_span(struct rte_mbuf *head, struct rte_mbuf **last, struct rte_mempool *pool,
		    const struct rte_udp_hdr *uh, const char *payload, uint32_t off, uint32_t len);
uint16_t dp_csum_fold(uint32_t sum);

/* ---- dpdk_ip6.c --------------------------------------------------------- */

/* An IPv6 frame from port p (takes m); as dp_ipv4_input. */
bool dp_ipv6_input(struct io_queue *q, const struct dp_port *p, struct rte_mbuf *m,
		   struct io_pkt *out);
/* Where a datagram of the worker leaves from: port, our address, port. */
struct dp_src {
	const struct dp_port *p;
	uint8_t family;
	rte_be32_t ip;
	const uint8_t *ip6;
	rte_be16_t udp;
};
bool dp_udp6_output(struct io_queue *q, const struct io_pkt *pkt, const struct dp_src *s);
/* As dp_route4 for IPv6 (nh: a neighbour key). */
bool dp_route6(struct io_queue *q, const struct dp_port *p, const uint8_t dst[16], rte_be16_t port,
	       uint8_t nh[16]);
/* The lent IPv6 frame m (pkt->ref) rewritten to leave from s to pkt->dst
 * and sent: 1; dropped and freed (counted): 0; -1 when it cannot be done
 * in place (m untouched: the caller sends a copy). */
int dp_relay6(struct io_queue *q, const struct io_pkt *pkt, const struct dp_src *s,
	      struct rte_mbuf *m);
/* Neighbour solicitation for target: to its solicited-node group, or to
 * mac (unicast) when refreshing a known entry. */
void dp_nd_solicit(struct io_queue *q, const struct dp_port *p, const uint8_t target[16],
		   const struct rte_ether_addr *mac);
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
/* Send frames m[0..n) (Ethernet source and type set) to next hop nh on p
 * (a neighbour key: IPv6, or IPv4 mapped), resolving it first if needed
 * (takes the mbufs). */
void dp_nbr_output(struct io_queue *q, const struct dp_port *p, const uint8_t nh[16],
		   struct rte_mbuf **m, unsigned n);
/* ip is at mac on p (ARP or ND from the wire): update the entry, create it
 * when create, and tell the other workers. */
void dp_nbr_learn(struct io_queue *q, const struct dp_port *p, const uint8_t ip[16],
		  const struct rte_ether_addr *mac, bool create);
/* Retries, expiry and updates from other workers; every few ms. */
void dp_nbr_housekeeping(struct io_queue *q);
void dp_nbr_sync_drain(struct io_queue *q);
/* Gratuitous ARP for every address of p. */
void dp_arp_announce(struct io_queue *q, const struct dp_port *p);

/* ---- dpdk_kernel.c ------------------------------------------------------ */

/* Give the TAP interface ifname the port's addresses (with their
 * prefixes) and bring it up; 0 or -errno (logged by the caller). */
int dp_kernel_addresses(const char *ifname, const struct sbc_io_port *cp);
/* Route DPDK's log lines into the daemon's log. */
void dp_log_redirect(void);

#endif /* SBC_DPDK_H */
