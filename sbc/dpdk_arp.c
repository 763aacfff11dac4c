/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK backend: ARP and the neighbour cache.
 *
 * Each worker has its own cache (no lock, no shared cache line on the
 * send path): a set-associative table, NBR_BUCKETS x NBR_WAYS entries
 * keyed by (port, IPv6 or IPv4-mapped address) with a keyed hash, the least recently used way
 * evicted when a bucket is full. An entry is
 *   INCOMPLETE  requested; up to NBR_PENDING_MAX frames wait in it (and at
 *               most NBR_PENDING_TOTAL per worker): a datagram that does
 *               not fit whole is dropped and counted. A request goes out
 *               every NBR_RETRY_MS; after NBR_TRIES unanswered ones the
 *               waiting frames are dropped (counted) and the entry freed.
 *   REACHABLE   used for sending. Once NBR_STALE_MS old it is confirmed
 *               again (one request per NBR_RETRY_MS while in use); not
 *               confirmed within NBR_EXPIRE_MS it resolves again.
 *
 * The NIC hashes ARP (no IP header) to some queue, and ND answers come
 * from a neighbour's address, not necessarily to the worker that asked. So
 * whichever worker learns a neighbour from ARP or ND tells the others
 * through their update rings (24-byte elements, multi-producer,
 * single consumer; a full ring loses the update, counted, and the asker's
 * next retry fixes it). Updates are applied like ARP from the wire.
 *
 * Learning follows RFC 826: update an existing entry from any ARP; create
 * one only for ARP aimed at our address. ARP replies also go to the
 * kernel's TAP so the kernel's own neighbour table resolves (its TCP
 * replies on the exception path need it); requests for our addresses are
 * answered here, in the received mbuf.
 */
#include "dpdk.h"

#include <errno.h>
#include <string.h>

#define NBR_BUCKETS       256u
#define NBR_WAYS          4u
#define NBR_PENDING_MAX   16u
#define NBR_PENDING_TOTAL 256u
#define NBR_RETRY_MS      1000u
#define NBR_TRIES         3u
#define NBR_STALE_MS      60000u
#define NBR_EXPIRE_MS     75000u
#define NBR_RESHARE_MS    30000u   /* a confirmed entry is re-shared at most this often */

enum nbr_state { NBR_FREE = 0, NBR_INCOMPLETE, NBR_REACHABLE };

struct dp_nbr {
	uint8_t ip[16];          /* IPv6, or IPv4 mapped */
	uint8_t port;
	uint8_t state;
	uint8_t tries;
	uint8_t npending;
	struct rte_ether_addr mac;
	uint64_t confirmed_ms;
	uint64_t shared_ms;
	uint64_t probe_ms;       /* next request at or after */
	uint64_t used_ms;
	struct rte_mbuf *pending[NBR_PENDING_MAX];
};

struct dp_nbr_table {
	unsigned npending;
	struct dp_nbr e[NBR_BUCKETS][NBR_WAYS];
};

/* Element of the update rings (a multiple of 4 bytes, as rte_ring wants:
 * DP_NBR_UPDATE_SIZE in dpdk.h). */
struct nbr_update {
	uint8_t ip[16];
	uint16_t port;
	struct rte_ether_addr mac;
};
_Static_assert(sizeof(struct nbr_update) == DP_NBR_UPDATE_SIZE, "update ring element");

static unsigned nbr_hash(unsigned port, const uint8_t ip[16])
{
	uint8_t k[17];

	memcpy(k, ip, 16);
	k[16] = (uint8_t)port;
	return (unsigned)sbc_siphash13(&dp.nbr_key, k, sizeof k) & (NBR_BUCKETS - 1);
}

static struct dp_nbr *nbr_find(struct dp_nbr_table *t, unsigned port, const uint8_t ip[16])
{
	struct dp_nbr *b = t->e[nbr_hash(port, ip)];

	for (unsigned w = 0; w < NBR_WAYS; w++) {
		if (b[w].state != NBR_FREE && b[w].port == port && !memcmp(b[w].ip, ip, 16))
			return &b[w];
	}
	return NULL;
}

static void nbr_drop_pending(struct io_queue *q, struct dp_nbr *e, enum dp_counter why)
{
	for (unsigned i = 0; i < e->npending; i++)
		rte_pktmbuf_free(e->pending[i]);
	q->ctr[why] += e->npending;
	q->nbr->npending -= e->npending;
	e->npending = 0;
}

static void nbr_clear(struct io_queue *q, struct dp_nbr *e, enum dp_counter why)
{
	nbr_drop_pending(q, e, why);
	memset(e, 0, sizeof *e);
}

/* A free way of the bucket, or its least recently used entry, emptied. */
static struct dp_nbr *nbr_insert(struct io_queue *q, unsigned port, const uint8_t ip[16])
{
	struct dp_nbr *b = q->nbr->e[nbr_hash(port, ip)], *victim = &b[0];

	for (unsigned w = 0; w < NBR_WAYS; w++) {
		if (b[w].state == NBR_FREE) {
			victim = &b[w];
			break;
		}
		if (b[w].used_ms < victim->used_ms)
			victim = &b[w];
	}
	if (victim->state != NBR_FREE)
		nbr_clear(q, victim, DP_C_NBR_EVICTED);
	memcpy(victim->ip, ip, 16);
	victim->port = (uint8_t)port;
	victim->used_ms = q->now_ms;
	return victim;
}

static inline void set_dst(struct rte_mbuf *m, const struct rte_ether_addr *mac)
{
	rte_ether_addr_copy(mac, &rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->dst_addr);
}

static void arp_send(struct io_queue *q, const struct dp_port *p, uint16_t op,
		     const struct rte_ether_addr *eth_dst, const struct rte_ether_addr *tha,
		     rte_be32_t sip, rte_be32_t tip)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(p->pool);
	struct rte_ether_hdr *eth;
	struct rte_arp_hdr *a;

	if (!m) {
		q->ctr[DP_C_TX_NOMBUF]++;
		return;
	}
	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, sizeof *eth + sizeof *a);
	a = (struct rte_arp_hdr *)(eth + 1);
	rte_ether_addr_copy(eth_dst, &eth->dst_addr);
	rte_ether_addr_copy(&p->mac, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	a->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	a->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	a->arp_hlen = RTE_ETHER_ADDR_LEN;
	a->arp_plen = sizeof(rte_be32_t);
	a->arp_opcode = rte_cpu_to_be_16(op);
	rte_ether_addr_copy(&p->mac, &a->arp_data.arp_sha);
	a->arp_data.arp_sip = sip;
	rte_ether_addr_copy(tha, &a->arp_data.arp_tha);
	a->arp_data.arp_tip = tip;
	if (op == RTE_ARP_OP_REQUEST)
		q->ctr[DP_C_ARP_REQUESTS]++;
	dp_tx(q, p, m);
}

/* Ask for nh (ARP or ND): broadcast/multicast, or unicast to the MAC we
 * have when refreshing. */
static void nbr_request(struct io_queue *q, const struct dp_port *p, const struct dp_nbr *e,
			bool unicast)
{
	static const struct rte_ether_addr bcast = { .addr_bytes = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };
	static const struct rte_ether_addr zero = { .addr_bytes = { 0 } };
	rte_be32_t ip;
	int a;

	if (!dp_key_is_v4(e->ip)) {
		dp_nd_solicit(q, p, e->ip, unicast ? &e->mac : NULL);
		return;
	}
	memcpy(&ip, e->ip + 12, 4);
	a = dp_port_onlink(p, ip);
	arp_send(q, p, RTE_ARP_OP_REQUEST, unicast ? &e->mac : &bcast, &zero,
		 p->addr[a >= 0 ? a : 0], ip);
}

static void nbr_flush(struct io_queue *q, const struct dp_port *p, struct dp_nbr *e)
{
	for (unsigned i = 0; i < e->npending; i++) {
		set_dst(e->pending[i], &e->mac);
		dp_tx(q, p, e->pending[i]);
	}
	q->nbr->npending -= e->npending;
	e->npending = 0;
}

static void nbr_share(struct io_queue *q, const struct dp_nbr *e)
{
	struct nbr_update u = { .port = e->port, .mac = e->mac };

	memcpy(u.ip, e->ip, 16);

	for (unsigned w = 0; w < dp.nworkers; w++) {
		if (w != q->id && rte_ring_mp_enqueue_elem(dp.nbr_ring[w], &u, sizeof u) != 0)
			q->ctr[DP_C_NBR_SYNC_LOST]++;
	}
}

/* ip is at mac on p (from ARP/ND, or from another worker when !share). */
static void nbr_learn(struct io_queue *q, const struct dp_port *p, const uint8_t ip[16],
		      const struct rte_ether_addr *mac, bool create, bool share)
{
	struct dp_nbr *e = nbr_find(q->nbr, p->idx, ip);
	bool changed;

	if (!e) {
		if (!create)
			return;
		e = nbr_insert(q, p->idx, ip);
	}
	changed = e->state != NBR_REACHABLE || !rte_is_same_ether_addr(&e->mac, mac);
	rte_ether_addr_copy(mac, &e->mac);
	e->state = NBR_REACHABLE;
	e->confirmed_ms = q->now_ms;
	e->tries = 0;
	e->probe_ms = 0;
	if (e->npending)
		nbr_flush(q, p, e);
	if (changed)
		q->ctr[share ? DP_C_NBR_LEARNT : DP_C_NBR_SYNCED]++;
	if (share && dp.nworkers > 1 &&
	    (changed || q->now_ms - e->shared_ms >= NBR_RESHARE_MS)) {
		e->shared_ms = q->now_ms;
		nbr_share(q, e);
	}
}

void dp_arp_input(struct io_queue *q, const struct dp_port *p, struct rte_mbuf *m)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_arp_hdr *a = (struct rte_arp_hdr *)(eth + 1);
	struct rte_ether_addr sha;
	rte_be32_t sip, tip;
	uint16_t op;
	bool for_us;

	q->ctr[DP_C_ARP_IN]++;
	if (m->data_len < sizeof *eth + sizeof *a ||
	    a->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
	    a->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
	    a->arp_hlen != RTE_ETHER_ADDR_LEN || a->arp_plen != sizeof(rte_be32_t) ||
	    rte_is_multicast_ether_addr(&a->arp_data.arp_sha) ||
	    rte_is_zero_ether_addr(&a->arp_data.arp_sha)) {
		q->ctr[DP_C_ARP_BAD]++;
		rte_pktmbuf_free(m);
		return;
	}
	op = rte_be_to_cpu_16(a->arp_opcode);
	sip = a->arp_data.arp_sip;
	tip = a->arp_data.arp_tip;
	rte_ether_addr_copy(&a->arp_data.arp_sha, &sha);
	if (dp_port_owns(p, sip)) {
		/* Our own announcement seen again, or a host using our address. */
		if (!rte_is_same_ether_addr(&sha, &p->mac))
			q->ctr[DP_C_ARP_CONFLICT]++;
		rte_pktmbuf_free(m);
		return;
	}
	for_us = dp_port_owns(p, tip);
	if (sip && dp_port_onlink(p, sip) >= 0) {
		uint8_t key[16];
		dp_v4_key(sip, key);
		nbr_learn(q, p, key, &sha, for_us, true);
	}
	if (op == RTE_ARP_OP_REQUEST && for_us) {
		/* The reply in the request's mbuf: to the asker, from us. */
		a->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
		rte_ether_addr_copy(&sha, &a->arp_data.arp_tha);
		a->arp_data.arp_tip = sip;
		rte_ether_addr_copy(&p->mac, &a->arp_data.arp_sha);
		a->arp_data.arp_sip = tip;
		rte_ether_addr_copy(&sha, &eth->dst_addr);
		rte_ether_addr_copy(&p->mac, &eth->src_addr);
		m->ol_flags = 0;
		q->ctr[DP_C_ARP_REPLIED]++;
		dp_tx(q, p, m);
		return;
	}
	if (op == RTE_ARP_OP_REPLY && p->tap != DP_NONE) {
		dp_to_kernel(q, p, m);
		return;
	}
	rte_pktmbuf_free(m);
}

void dp_nbr_learn(struct io_queue *q, const struct dp_port *p, const uint8_t ip[16],
		  const struct rte_ether_addr *mac, bool create)
{
	nbr_learn(q, p, ip, mac, create, true);
}

void dp_nbr_output(struct io_queue *q, const struct dp_port *p, const uint8_t nh[16],
		   struct rte_mbuf **m, unsigned n)
{
	struct dp_nbr_table *t = q->nbr;
	struct dp_nbr *e = nbr_find(t, p->idx, nh);

	if (e && e->state == NBR_REACHABLE) {
		for (unsigned i = 0; i < n; i++) {
			set_dst(m[i], &e->mac);
			dp_tx(q, p, m[i]);
		}
		e->used_ms = q->now_ms;
		if (q->now_ms - e->confirmed_ms >= NBR_STALE_MS && q->now_ms >= e->probe_ms) {
			e->probe_ms = q->now_ms + NBR_RETRY_MS;
			nbr_request(q, p, e, true);
		}
		return;
	}
	if (!e) {
		e = nbr_insert(q, p->idx, nh);
		e->state = NBR_INCOMPLETE;
		e->tries = 1;
		e->probe_ms = q->now_ms + NBR_RETRY_MS;
		nbr_request(q, p, e, false);
	}
	e->used_ms = q->now_ms;
	/* A datagram's fragments wait together or not at all. */
	if (e->npending + n > NBR_PENDING_MAX || t->npending + n > NBR_PENDING_TOTAL) {
		for (unsigned i = 0; i < n; i++)
			rte_pktmbuf_free(m[i]);
		q->ctr[DP_C_NBR_QUEUE_FULL] += n;
		return;
	}
	for (unsigned i = 0; i < n; i++)
		e->pending[e->npending++] = m[i];
	t->npending += n;
	q->ctr[DP_C_NBR_QUEUED] += n;
}

void dp_nbr_housekeeping(struct io_queue *q)
{
	for (unsigned b = 0; b < NBR_BUCKETS; b++) {
		for (unsigned w = 0; w < NBR_WAYS; w++) {
			struct dp_nbr *e = &q->nbr->e[b][w];
			const struct dp_port *p = &dp.port[e->port];

			if (e->state == NBR_INCOMPLETE && q->now_ms >= e->probe_ms) {
				if (e->tries >= NBR_TRIES) {
					nbr_clear(q, e, DP_C_NBR_UNRESOLVED);
					continue;
				}
				e->tries++;
				e->probe_ms = q->now_ms + NBR_RETRY_MS;
				nbr_request(q, p, e, false);
			} else if (e->state == NBR_REACHABLE &&
				   q->now_ms - e->confirmed_ms >= NBR_EXPIRE_MS) {
				if (q->now_ms - e->used_ms >= NBR_EXPIRE_MS) {
					nbr_clear(q, e, DP_C_NBR_UNRESOLVED);
					continue;
				}
				e->state = NBR_INCOMPLETE;
				e->tries = 1;
				e->probe_ms = q->now_ms + NBR_RETRY_MS;
				nbr_request(q, p, e, false);
			}
		}
	}
}

void dp_nbr_sync_drain(struct io_queue *q)
{
	struct nbr_update u[32];
	unsigned n;

	if (dp.nworkers < 2)
		return;
	n = rte_ring_sc_dequeue_burst_elem(dp.nbr_ring[q->id], u, sizeof u[0], 32, NULL);
	for (unsigned i = 0; i < n; i++) {
		if (u[i].port < dp.nports)
			nbr_learn(q, &dp.port[u[i].port], u[i].ip, &u[i].mac, true, false);
	}
}

void dp_arp_announce(struct io_queue *q, const struct dp_port *p)
{
	static const struct rte_ether_addr bcast = { .addr_bytes = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };
	static const struct rte_ether_addr zero = { .addr_bytes = { 0 } };

	for (unsigned i = 0; i < p->naddr; i++)
		arp_send(q, p, RTE_ARP_OP_REQUEST, &bcast, &zero, p->addr[i], p->addr[i]);
}

int dp_nbr_create(struct io_queue *q)
{
	q->nbr = rte_zmalloc("sbc_nbr", sizeof *q->nbr, RTE_CACHE_LINE_SIZE);
	return q->nbr ? 0 : -ENOMEM;
}

void dp_nbr_destroy(struct io_queue *q)
{
	if (!q->nbr)
		return;
	for (unsigned b = 0; b < NBR_BUCKETS; b++) {
		for (unsigned w = 0; w < NBR_WAYS; w++)
			nbr_drop_pending(q, &q->nbr->e[b][w], DP_C_NBR_UNRESOLVED);
	}
	rte_free(q->nbr);
	q->nbr = NULL;
}
