/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK backend: IPv4 in and UDP out.
 *
 * Input (dp_ipv4_input): the checks a host stack makes before delivering
 * (version, header length, total length within the frame, header checksum,
 * destination is ours, source is possible), then fragments go through the
 * worker's rte_ip_frag table, ICMP echo requests are answered in place,
 * and UDP datagrams to a listen address are verified (checksum) and copied
 * into the worker's buffer. Everything else for our addresses goes to the
 * kernel (exception path): TCP, other UDP ports, other ICMP, other
 * protocols, broadcast and multicast.
 *
 * Output (dp_udp_output): Ethernet + IPv4 + UDP built in front of a copy of
 * the worker's datagram; IPv4 and UDP checksums offloaded where the port
 * can, else computed here. A datagram above the MTU is split into
 * fragments here (its UDP checksum computed once over the whole datagram,
 * each fragment's IPv4 header checksum offloaded or computed). Then the
 * next hop (on-link destination or the port's gateway) is resolved by
 * dpdk_arp.c, which sends or queues the frames. A relay-port frame lent
 * to the worker (io_dpdk.c) is instead rewritten and sent in place
 * (relay4 here, dp_relay6 in dpdk_ip6.c) when it can be.
 *
 * Reassembly limits: a datagram of at most RTE_LIBRTE_IP_FRAG_MAX_FRAG (8)
 * fragments (about 11.8 kB at MTU 1500; RFC 3261 18.1.1 wants anything
 * near the MTU on TCP anyway), DP_FRAG_FLOWS datagrams in reassembly per
 * worker, each given up after DP_FRAG_TIMEOUT_MS. That bounds the mbufs a
 * fragment flood can pin to DP_FRAG_FLOWS * 8 per worker.
 */
#include "dpdk.h"

#include <string.h>

#include "csum.h"  /* incremental checksum update (relay in place) */
#include "media.h" /* media_port_owner() */

static inline bool ip_martian_src(rte_be32_t src)
{
	uint32_t a = rte_be_to_cpu_32(src);

	return a == 0 || (a >> 24) == 127 || (a >> 28) >= 14;
}

/* 255.255.255.255, a directed broadcast of one of p's prefixes, or
 * multicast: for the kernel, never for the data plane. */
static bool ip_for_all(const struct dp_port *p, rte_be32_t dst)
{
	uint32_t a = rte_be_to_cpu_32(dst);

	if (a == UINT32_MAX || (a >> 28) == 14)
		return true;
	for (unsigned i = 0; i < p->naddr; i++) {
		if ((dst | p->mask[i]) == UINT32_MAX && ((dst ^ p->addr[i]) & p->mask[i]) == 0)
			return true;
	}
	return false;
}

static const struct dp_iface *iface_find(const struct dp_port *p, rte_be32_t ip, rte_be16_t port)
{
	for (unsigned i = 0; i < dp.nifaces; i++) {
		const struct dp_iface *f = &dp.iface[i];
		if (f->udp == port && f->ip == ip && f->port == p->idx && f->family == AF_INET)
			return f;
	}
	return NULL;
}

/* 16-bit one's complement sum folded. */
uint16_t dp_csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* ---- ICMP echo ------------------------------------------------------------ */

/* Echo request to one of our addresses: answered in the same mbuf. */
static void icmp_input(struct io_queue *q, const struct dp_port *p, struct rte_mbuf *m,
		       struct rte_ipv4_hdr *ip, unsigned ihl)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_icmp_hdr *icmp;
	uint16_t tot = rte_be_to_cpu_16(ip->total_length);
	uint32_t sum;

	if (tot < ihl + sizeof *icmp || m->nb_segs != 1 ||
	    m->data_len < sizeof *eth + ihl + sizeof *icmp) {
		dp_to_kernel(q, p, m);
		return;
	}
	icmp = (struct rte_icmp_hdr *)((char *)ip + ihl);
	if (icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST || icmp->icmp_code != 0 ||
	    !dp_port_owns(p, ip->dst_addr)) {
		dp_to_kernel(q, p, m);
		return;
	}
	if (tot > p->mtu || !dp_icmp_allowed(q)) {
		q->ctr[DP_C_ICMP_LIMITED]++;
		rte_pktmbuf_free(m);
		return;
	}
	/* RFC 1624 incremental update: type 8 -> 0 in the first word. */
	sum = (uint32_t)(~rte_be_to_cpu_16(icmp->icmp_cksum) & 0xffff) + (~0x0800u & 0xffff);
	icmp->icmp_cksum = rte_cpu_to_be_16((uint16_t)~dp_csum_fold(sum));
	icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;

	rte_be32_t src = ip->src_addr;
	ip->src_addr = ip->dst_addr;
	ip->dst_addr = src;
	ip->time_to_live = 64;
	ip->fragment_offset = 0;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	/* Replies go where the request came from, by its source MAC: no ARP
	 * lookup, so an echo works before (and tests) resolution. */
	rte_ether_addr_copy(&eth->src_addr, &eth->dst_addr);
	rte_ether_addr_copy(&p->mac, &eth->src_addr);
	m->ol_flags = 0;
	q->ctr[DP_C_ICMP_ECHO]++;
	dp_tx(q, p, m);
}

/* ---- UDP in --------------------------------------------------------------- */

static bool udp_csum_ok(const struct dp_port *p, const struct rte_mbuf *m,
			const struct rte_ipv4_hdr *ip, uint32_t l4_off, uint16_t ulen,
			uint16_t stored)
{
	uint64_t flag = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
	uint16_t raw;

	if (stored == 0)
		return true; /* IPv4: checksum not computed by the sender */
	if (p->rx_udp_csum && flag == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
		return true;
	if (p->rx_udp_csum && flag == RTE_MBUF_F_RX_L4_CKSUM_BAD)
		return false;
	/* Software: about 0.1 ns a byte; a 1 kB INVITE costs ~100 ns. */
	if (rte_raw_cksum_mbuf(m, l4_off, ulen, &raw))
		return false;
	return dp_csum_fold((uint32_t)raw + rte_ipv4_phdr_cksum(ip, 0)) == 0xffff;
}

static bool udp_input(struct io_queue *q, const struct dp_port *p, struct rte_mbuf *m,
		      const struct rte_ipv4_hdr *ip, unsigned ihl, struct io_pkt *out)
{
	uint32_t l4 = (uint32_t)sizeof(struct rte_ether_hdr) + ihl;
	uint16_t tot = rte_be_to_cpu_16(ip->total_length);
	struct rte_udp_hdr uh;
	const struct rte_udp_hdr *u;
	const struct dp_iface *f;
	uint16_t ulen;
	int mr = -1;

	u = rte_pktmbuf_read(m, l4, sizeof uh, &uh);
	if (!u || tot < ihl + sizeof uh) {
		q->ctr[DP_C_RX_BAD_UDP]++;
		rte_pktmbuf_free(m);
		return false;
	}
	ulen = rte_be_to_cpu_16(u->dgram_len);
	if (ulen < sizeof uh || ulen > tot - ihl) {
		q->ctr[DP_C_RX_BAD_UDP]++;
		rte_pktmbuf_free(m);
		return false;
	}
	f = iface_find(p, ip->dst_addr, u->dst_port);
	if (!f && (mr = dp_media_find(p->idx, AF_INET, &ip->dst_addr,
				      rte_be_to_cpu_16(u->dst_port))) < 0) {
		dp_to_kernel(q, p, m); /* the kernel's sockets, or its port unreachable */
		return false;
	}
	/* The pseudo-header of rte_ipv4_phdr_cksum uses total_length - ihl;
	 * a UDP length shorter than that (trailing bytes) is not worth
	 * supporting: refuse it rather than verify the wrong span. */
	if (ulen != tot - ihl || !udp_csum_ok(p, m, ip, l4, ulen, u->dgram_cksum)) {
		q->ctr[DP_C_RX_BAD_UDP]++;
		rte_pktmbuf_free(m);
		return false;
	}
	if (!f) {
		/* A relay port: its owner relays it (lib/media's steering). */
		unsigned owner = media_port_owner(rte_be_to_cpu_16(u->dst_port),
						  dp.media[mr].first, dp.nworkers);
		if (owner != q->id) {
			m->l2_len = sizeof(struct rte_ether_hdr);
			m->l3_len = ihl;
			m->hash.usr = (uint32_t)mr;
			dp_media_handoff(q, owner, m);
			return false;
		}
		dp_media_deliver(q, m, l4, ulen, AF_INET, &ip->src_addr, &ip->dst_addr,
				 u->src_port, u->dst_port, (unsigned)mr, out);
		return true;
	}
	return dp_listen_deliver(q, m, f, l4, ulen, &ip->src_addr, u->src_port, out);
}

/* ---- IPv4 in -------------------------------------------------------------- */

static bool ip_hdr_csum_ok(const struct dp_port *p, const struct rte_mbuf *m,
			   const struct rte_ipv4_hdr *ip, unsigned ihl)
{
	uint64_t flag = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;

	if (p->rx_ip_csum && flag == RTE_MBUF_F_RX_IP_CKSUM_GOOD)
		return true;
	if (p->rx_ip_csum && flag == RTE_MBUF_F_RX_IP_CKSUM_BAD)
		return false;
	return rte_raw_cksum(ip, ihl) == 0xffff;
}

bool dp_ipv4_input(struct io_queue *q, const struct dp_port *p, struct rte_mbuf *m,
		   struct io_pkt *out)
{
	const uint32_t l2 = sizeof(struct rte_ether_hdr);
	struct rte_ipv4_hdr *ip;
	unsigned ihl;
	uint16_t tot;

	if (m->data_len < l2 + sizeof *ip) {
		q->ctr[DP_C_RX_BAD_IP]++;
		goto drop;
	}
	ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, l2);
	ihl = (unsigned)(ip->version_ihl & RTE_IPV4_HDR_IHL_MASK) * 4u;
	tot = rte_be_to_cpu_16(ip->total_length);
	if ((ip->version_ihl >> 4) != 4 || ihl < sizeof *ip || m->data_len < l2 + ihl ||
	    tot < ihl || !ip_hdr_csum_ok(p, m, ip, ihl)) {
		q->ctr[DP_C_RX_BAD_IP]++;
		goto drop;
	}
	if (tot > m->pkt_len - l2) {
		q->ctr[DP_C_RX_TRUNCATED]++;
		goto drop;
	}
	if (m->pkt_len > l2 + tot) /* Ethernet padding of short frames */
		rte_pktmbuf_trim(m, (uint16_t)(m->pkt_len - l2 - tot));
	if (ip_martian_src(ip->src_addr) || dp_port_owns(p, ip->src_addr)) {
		q->ctr[DP_C_RX_MARTIAN]++;
		goto drop;
	}
	if (!dp_port_owns(p, ip->dst_addr)) {
		if (ip_for_all(p, ip->dst_addr)) {
			dp_to_kernel(q, p, m);
			return false;
		}
		q->ctr[DP_C_RX_NOT_OURS]++;
		goto drop;
	}
	if (rte_ipv4_frag_pkt_is_fragmented(ip)) {
		struct rte_mbuf *whole;

		q->ctr[DP_C_FRAG_IN]++;
		m->l2_len = l2;
		m->l3_len = ihl;
		whole = rte_ipv4_frag_reassemble_packet(q->frag, &q->dr, m, q->now_tsc, ip);
		if (!whole)
			return false; /* kept for later, or given up (death row) */
		q->ctr[DP_C_REASSEMBLED]++;
		m = whole;
		ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, l2);
		ihl = (unsigned)(ip->version_ihl & RTE_IPV4_HDR_IHL_MASK) * 4u;
		/* rte_ip_frag rewrote length and flags but not the checksum: the
		 * kernel checks it if the datagram goes there. */
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	}
	switch (ip->next_proto_id) {
	case IPPROTO_UDP:
		return udp_input(q, p, m, ip, ihl, out);
	case IPPROTO_ICMP:
		icmp_input(q, p, m, ip, ihl);
		return false;
	default:
		dp_to_kernel(q, p, m);
		return false;
	}
drop:
	rte_pktmbuf_free(m);
	return false;
}

/* ---- UDP out -------------------------------------------------------------- */

/* Append len bytes of src to the chain whose last segment is *last,
 * adding segments when one is full. False when the pool is empty (the
 * caller frees the chain). */
static bool chain_append(struct rte_mbuf *head, struct rte_mbuf **last, struct rte_mempool *pool,
			 const void *src, uint32_t len)
{
	const char *s = src;

	while (len) {
		struct rte_mbuf *seg = *last;
		uint16_t room = rte_pktmbuf_tailroom(seg);

		if (!room) {
			seg = rte_pktmbuf_alloc(pool);
			if (!seg)
				return false;
			(*last)->next = seg;
			*last = seg;
			head->nb_segs++;
			room = rte_pktmbuf_tailroom(seg);
		}
		uint16_t n = len < room ? (uint16_t)len : room;
		memcpy(rte_pktmbuf_mtod_offset(seg, char *, seg->data_len), s, n);
		seg->data_len = (uint16_t)(seg->data_len + n);
		head->pkt_len += n;
		s += n;
		len -= n;
	}
	return true;
}

/* Bytes [off, off+len) of the datagram "UDP header then payload". */
bool dp_append_span(struct rte_mbuf *head, struct rte_mbuf **last, struct rte_mempool *pool,
			const struct rte_udp_hdr *uh, const char *payload, uint32_t off, uint32_t len)
{
	if (off < sizeof *uh) {
		uint32_t n = (uint32_t)sizeof *uh - off;
		if (n > len)
			n = len;
		if (!chain_append(head, last, pool, (const char *)uh + off, n))
			return false;
		off += n;
		len -= n;
	}
	return chain_append(head, last, pool, payload + (off - sizeof *uh), len);
}

/* Ethernet (source, type; the destination comes with resolution) and
 * IPv4 header in a fresh mbuf. */
static struct rte_ipv4_hdr *frame_start(const struct dp_port *p, struct rte_mbuf *m,
					rte_be32_t src, rte_be32_t dst, uint16_t id)
{
	struct rte_ether_hdr *eth;
	struct rte_ipv4_hdr *ip;

	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, sizeof *eth + sizeof *ip);
	ip = (struct rte_ipv4_hdr *)(eth + 1);
	memset(&eth->dst_addr, 0, sizeof eth->dst_addr);
	rte_ether_addr_copy(&p->mac, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->type_of_service = 0;
	ip->packet_id = rte_cpu_to_be_16(id);
	ip->fragment_offset = 0;
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->hdr_checksum = 0;
	ip->src_addr = src;
	ip->dst_addr = dst;
	m->l2_len = sizeof *eth;
	m->l3_len = sizeof *ip;
	return ip;
}

static void ip_csum(const struct dp_port *p, struct rte_mbuf *m, struct rte_ipv4_hdr *ip)
{
	if (p->tx_ip_csum) {
		m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
		ip->hdr_checksum = 0;
	} else {
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	}
}

/* UDP checksum over the caller's contiguous payload: one pass, no mbuf
 * walk. The payload starts at an even offset (8), so the partial sums add. */
static uint16_t udp_csum_sw(const struct rte_ipv4_hdr *ip, const struct rte_udp_hdr *uh,
			    const void *payload, uint32_t len)
{
	uint32_t sum = rte_ipv4_phdr_cksum(ip, 0);
	uint16_t c;

	sum += rte_raw_cksum(uh, sizeof *uh);
	sum += rte_raw_cksum(payload, len);
	c = (uint16_t)~dp_csum_fold(sum);
	return c ? c : 0xffff;
}

/* Next hop of dst out of p: dst itself on-link, else the gateway; 0 if
 * neither. */
static rte_be32_t next_hop(const struct dp_port *p, rte_be32_t dst)
{
	if (dp_port_onlink(p, dst) >= 0)
		return dst;
	return p->gateway;
}

static bool dst_usable(rte_be32_t dst, rte_be16_t port)
{
	uint32_t a = rte_be_to_cpu_32(dst);

	if (!port || a == 0 || a == UINT32_MAX || (a >> 24) == 127 || (a >> 28) >= 14)
		return false;
	for (unsigned i = 0; i < dp.nports; i++) {
		if (dp_port_owns(&dp.port[i], dst))
			return false; /* to ourselves: a routing loop */
	}
	return true;
}

/* Most fragments one datagram becomes: 65535 / 8-byte units at MTU 576. */
#define DP_MAX_FRAGS 128u

/* Our address and port for a datagram of the worker: its listen iface's,
 * or a realm's media address and the relay port it names. */
static bool src_of(const struct io_pkt *pkt, struct dp_src *s)
{
	if (pkt->iface == IO_IFACE_MEDIA) {
		const struct dp_media *md;

		if (pkt->realm >= dp.nmedia || !dp.media[pkt->realm].on)
			return false;
		md = &dp.media[pkt->realm];
		if (pkt->port < md->first || pkt->port > md->last)
			return false;
		*s = (struct dp_src){ &dp.port[md->port], md->family, md->ip, md->ip6,
				      rte_cpu_to_be_16(pkt->port) };
		return true;
	}
	if (pkt->iface >= dp.nifaces)
		return false;
	const struct dp_iface *f = &dp.iface[pkt->iface];
	*s = (struct dp_src){ &dp.port[f->port], f->family, f->ip, f->ip6, f->udp };
	return true;
}

bool dp_route4(struct io_queue *q, const struct dp_port *p, rte_be32_t dst, rte_be16_t port,
	       rte_be32_t *nh)
{
	if (!dst_usable(dst, port)) {
		q->ctr[DP_C_TX_BAD]++;
		return false;
	}
	*nh = next_hop(p, dst);
	if (!*nh) {
		q->ctr[DP_C_TX_NO_ROUTE]++;
		return false;
	}
	return true;
}

/* ---- relay in place -------------------------------------------------------- */

/*
 * A lent IPv4 frame (dp_media_deliver checked it: one segment, ours alone,
 * a 20-byte IPv4 header, l2_len/l3_len set) rewritten into the datagram
 * the copy path would have built from its payload: same Ethernet/IPv4
 * header fields (our MAC, TOS 0, a fresh ID, no fragment flags, TTL 64),
 * new addresses and ports. The payload is neither read nor moved: the UDP
 * checksum is offloaded, or updated for the changed words (RFC 1624); one
 * the sender left out (0, IPv4 only) stays out. 1 sent (or queued for its
 * next hop), 0 dropped and freed, -1 not possible in place (untouched).
 */
static int relay4(struct io_queue *q, const struct io_pkt *pkt, const struct dp_src *sr,
		  struct rte_mbuf *m)
{
	const struct dp_port *p = sr->p;
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_udp_hdr *u = (struct rte_udp_hdr *)(ip + 1);
	rte_be32_t dst = pkt->dst.v4.sin_addr.s_addr, nh, addrs[2];
	rte_be16_t ports[2];
	uint8_t key[16];

	if (pkt->buf != (char *)(u + 1) || pkt->len + sizeof *u != rte_be_to_cpu_16(u->dgram_len) ||
	    pkt->len + sizeof *u + sizeof *ip > p->mtu)
		return -1; /* not the payload as lent, or to be fragmented */
	if (!dp_route4(q, p, dst, pkt->dst.v4.sin_port, &nh)) {
		rte_pktmbuf_free(m);
		return 0;
	}
	addrs[0] = sr->ip;
	addrs[1] = dst;
	ports[0] = sr->udp;
	ports[1] = pkt->dst.v4.sin_port;
	m->ol_flags = 0; /* the receive flags share the field */
	if (!p->tx_udp_csum && u->dgram_cksum) {
		uint16_t c = u->dgram_cksum;
		c = csum_replace(c, &ip->src_addr, addrs, sizeof addrs);
		c = csum_replace(c, &u->src_port, ports, sizeof ports);
		u->dgram_cksum = csum_udp_final(c);
	}
	u->src_port = ports[0];
	u->dst_port = ports[1];
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->type_of_service = 0;
	ip->packet_id = rte_cpu_to_be_16(q->ip_id);
	q->ip_id = (uint16_t)(q->ip_id + dp.nworkers);
	ip->fragment_offset = 0;
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = addrs[0];
	ip->dst_addr = addrs[1];
	ip->hdr_checksum = 0;
	m->l2_len = sizeof *eth;
	m->l3_len = sizeof *ip;
	ip_csum(p, m, ip);
	if (p->tx_udp_csum) {
		m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_UDP_CKSUM;
		u->dgram_cksum = rte_ipv4_phdr_cksum(ip, m->ol_flags);
	}
	rte_ether_addr_copy(&p->mac, &eth->src_addr);
	q->ctr[DP_C_TX_DGRAMS]++;
	q->ctr[DP_C_MEDIA_INPLACE]++;
	dp_v4_key(nh, key);
	dp_nbr_output(q, p, key, &m, 1);
	return 1;
}

static bool udp4_output(struct io_queue *q, const struct io_pkt *pkt, const struct dp_src *s);

bool dp_udp_output(struct io_queue *q, const struct io_pkt *pkt)
{
	struct rte_mbuf *lent = pkt->ref;
	struct dp_src sr;
	bool ok;

	if (!src_of(pkt, &sr) || pkt->dst.sa.sa_family != sr.family) {
		q->ctr[DP_C_TX_BAD]++;
		if (lent)
			rte_pktmbuf_free(lent);
		return false;
	}
	if (lent) {
		/* In place when the frame's family is the one it leaves in;
		 * between IPv4 and IPv6 realms it goes out as a copy (the
		 * header sizes differ; rare enough not to be worth a prepend
		 * or trim of the frame). */
		const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(lent, const struct rte_ether_hdr *);
		int r = -1;

		if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV4) && sr.family == AF_INET)
			r = relay4(q, pkt, &sr, lent);
		else if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV6) && sr.family == AF_INET6)
			r = dp_relay6(q, pkt, &sr, lent);
		if (r >= 0)
			return r > 0;
	}
	/* The copy path reads pkt->buf, which may lie in the lent frame: it
	 * is freed only after the copy. */
	ok = sr.family == AF_INET6 ? dp_udp6_output(q, pkt, &sr) : udp4_output(q, pkt, &sr);
	if (lent)
		rte_pktmbuf_free(lent);
	if (ok && pkt->iface == IO_IFACE_MEDIA)
		q->ctr[DP_C_MEDIA_COPIED]++;
	return ok;
}

/* Ethernet + IPv4 + UDP around a copy of the datagram. */
static bool udp4_output(struct io_queue *q, const struct io_pkt *pkt, const struct dp_src *s)
{
	struct rte_mbuf *m[DP_MAX_FRAGS];
	const struct dp_port *p;
	struct rte_udp_hdr uh;
	struct dp_src sr = *s;
	rte_be32_t dst, nh;
	uint32_t ulen, chunk, nfrag;
	uint8_t key[16];
	uint16_t id;

	if (pkt->len > UINT16_MAX - sizeof uh - sizeof(struct rte_ipv4_hdr)) {
		q->ctr[DP_C_TX_BAD]++;
		return false;
	}
	p = sr.p;
	dst = pkt->dst.v4.sin_addr.s_addr;
	if (!dp_route4(q, p, dst, pkt->dst.v4.sin_port, &nh))
		return false;
	ulen = pkt->len + (uint32_t)sizeof uh;
	uh.src_port = sr.udp;
	uh.dst_port = pkt->dst.v4.sin_port;
	uh.dgram_len = rte_cpu_to_be_16((uint16_t)ulen);
	uh.dgram_cksum = 0;
	/* IDs from disjoint sequences per worker, so two workers sending to
	 * the same peer never mix their fragments. */
	id = q->ip_id;
	q->ip_id = (uint16_t)(q->ip_id + dp.nworkers);

	if (ulen + sizeof(struct rte_ipv4_hdr) <= p->mtu) {
		struct rte_mbuf *last;
		struct rte_ipv4_hdr *ip;
		struct rte_udp_hdr *u;

		m[0] = rte_pktmbuf_alloc(p->pool);
		if (!m[0]) {
			q->ctr[DP_C_TX_NOMBUF]++;
			return false;
		}
		last = m[0];
		ip = frame_start(p, m[0], sr.ip, dst, id);
		ip->total_length = rte_cpu_to_be_16((uint16_t)(ulen + sizeof *ip));
		if (!chain_append(m[0], &last, p->pool, &uh, sizeof uh) ||
		    !chain_append(m[0], &last, p->pool, pkt->buf, pkt->len)) {
			rte_pktmbuf_free(m[0]);
			q->ctr[DP_C_TX_NOMBUF]++;
			return false;
		}
		u = (struct rte_udp_hdr *)(ip + 1); /* the first segment holds 42 bytes */
		ip_csum(p, m[0], ip);
		if (p->tx_udp_csum) {
			m[0]->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_UDP_CKSUM;
			u->dgram_cksum = rte_ipv4_phdr_cksum(ip, m[0]->ol_flags);
		} else {
			u->dgram_cksum = udp_csum_sw(ip, &uh, pkt->buf, pkt->len);
		}
		q->ctr[DP_C_TX_DGRAMS]++;
		dp_v4_key(nh, key);
		dp_nbr_output(q, p, key, m, 1);
		return true;
	}

	/* Fragments of 8-byte multiples; the UDP checksum covers the whole
	 * datagram, so it is computed before splitting. */
	chunk = ((uint32_t)p->mtu - (uint32_t)sizeof(struct rte_ipv4_hdr)) & ~7u;
	nfrag = (ulen + chunk - 1) / chunk;
	if (nfrag > DP_MAX_FRAGS || rte_pktmbuf_alloc_bulk(p->pool, m, nfrag)) {
		q->ctr[nfrag > DP_MAX_FRAGS ? DP_C_TX_BAD : DP_C_TX_NOMBUF]++;
		return false;
	}
	{
		struct rte_ipv4_hdr ph = { .src_addr = sr.ip, .dst_addr = dst,
					   .next_proto_id = IPPROTO_UDP,
					   .version_ihl = RTE_IPV4_VHL_DEF,
					   .total_length = rte_cpu_to_be_16((uint16_t)(ulen + sizeof ph)) };
		uh.dgram_cksum = udp_csum_sw(&ph, &uh, pkt->buf, pkt->len);
	}
	for (uint32_t i = 0, off = 0; i < nfrag; i++, off += chunk) {
		uint32_t len = ulen - off < chunk ? ulen - off : chunk;
		struct rte_mbuf *last = m[i];
		struct rte_ipv4_hdr *ip = frame_start(p, m[i], sr.ip, dst, id);
		uint16_t fo = (uint16_t)(off >> 3);

		if (off + len < ulen)
			fo |= RTE_IPV4_HDR_MF_FLAG;
		ip->fragment_offset = rte_cpu_to_be_16(fo);
		ip->total_length = rte_cpu_to_be_16((uint16_t)(len + sizeof *ip));
		if (!dp_append_span(m[i], &last, p->pool, &uh, pkt->buf, off, len)) {
			for (uint32_t k = 0; k < nfrag; k++)
				rte_pktmbuf_free(m[k]);
			q->ctr[DP_C_TX_NOMBUF]++;
			return false;
		}
		ip_csum(p, m[i], ip);
	}
	q->ctr[DP_C_TX_DGRAMS]++;
	q->ctr[DP_C_TX_FRAGS] += nfrag;
	dp_v4_key(nh, key);
	dp_nbr_output(q, p, key, m, nfrag);
	return true;
}
