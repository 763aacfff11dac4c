/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK backend: IPv6 in and UDP out, and neighbour discovery.
 *
 * Input (dp_ipv6_input): version and payload length within the frame;
 * the destination is one of our unicast addresses (the configured ones and
 * the link-local one derived from the MAC), or a multicast group the data
 * plane answers in (all-nodes, our solicited-node groups) for ND only.
 * A fragment header right after the IPv6 header goes through the worker's
 * rte_ip_frag table (the same one as IPv4). Then:
 *   ICMPv6  checksum checked; echo requests to a unicast address answered
 *           in place; neighbour solicitations for our addresses answered
 *           (RFC 4861 7.2.4; duplicate address detection probes defended,
 *           7.2.4 last paragraph), their source learnt; advertisements
 *           learnt and also passed to the kernel (its own resolutions);
 *           everything else (router advertisements, MLD, errors) to the
 *           kernel.
 *   UDP     checksum (mandatory in IPv6) checked, delivered if it is for a
 *           listen address, else to the kernel.
 *   other   to the kernel (TCP, extension headers other than a lone
 *           fragment header).
 * ND packets must arrive with hop limit 255 (RFC 4861 7.1): a router
 * cannot have forwarded them.
 *
 * Output (dp_udp6_output): Ethernet + IPv6 + UDP around a copy of the
 * datagram, UDP checksum offloaded or computed, fragment headers above the
 * MTU (the SBC is the source, so it fragments: RFC 8200 5), then the next
 * hop (on-link or link-local destination, else gateway6) through the
 * neighbour cache, which sends solicitations (dp_nd_solicit).
 */
#include "dpdk.h"

#include <string.h>

#include "csum.h"  /* incremental checksum update (relay in place) */
#include "media.h" /* media_port_owner() */

#define ND_NS 135
#define ND_NA 136
#define ND_OPT_SLLA 1
#define ND_OPT_TLLA 2
#define ND_NA_R 0x80
#define ND_NA_S 0x40
#define ND_NA_O 0x20
#define ICMP6_ECHO_REQUEST 128
#define ICMP6_ECHO_REPLY 129

static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 1 };

static inline bool is_mcast6(const uint8_t a[16])
{
	return a[0] == 0xff;
}

static inline bool is_unspec6(const uint8_t a[16])
{
	static const uint8_t zero[16];
	return !memcmp(a, zero, 16);
}

/* ff02::1:ffXX:XXXX of a. */
static void solicited_node(const uint8_t a[16], uint8_t out[16])
{
	static const uint8_t pfx[13] = { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff };

	memcpy(out, pfx, 13);
	memcpy(out + 13, a + 13, 3);
}

/* Is dst a group this port answers in: all-nodes, or the solicited-node
 * group of one of its addresses? */
static bool our_group(const struct dp_port *p, const uint8_t dst[16])
{
	uint8_t g[16];

	if (!memcmp(dst, all_nodes, 16))
		return true;
	solicited_node(p->ll6, g);
	if (!memcmp(dst, g, 16))
		return true;
	for (unsigned i = 0; i < p->naddr6; i++) {
		solicited_node(p->addr6[i], g);
		if (!memcmp(dst, g, 16))
			return true;
	}
	return false;
}

/* Our source address towards dst: the configured address of its prefix,
 * else the link-local one (link-local destinations, routers). */
static const uint8_t *src_for(const struct dp_port *p, const uint8_t dst[16])
{
	int i = dp_ll6(dst) ? -1 : dp_port_onlink6(p, dst);

	return i >= 0 ? p->addr6[i] : p->ll6;
}

/* ICMPv6/UDP checksum over the pseudo-header and len bytes at l4 (one
 * segment). Complemented, as it goes on the wire. */
static uint16_t l4_csum6(const struct rte_ipv6_hdr *ip, const void *l4, uint32_t len)
{
	uint32_t sum = rte_ipv6_phdr_cksum(ip, 0) + rte_raw_cksum(l4, len);

	return (uint16_t)~dp_csum_fold(sum);
}

static struct rte_ipv6_hdr *frame6(struct rte_mbuf *m, const struct dp_port *p,
				   const struct rte_ether_addr *eth_dst, uint16_t l3_payload)
{
	struct rte_ether_hdr *eth;
	struct rte_ipv6_hdr *ip;

	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, sizeof *eth + sizeof *ip);
	ip = (struct rte_ipv6_hdr *)(eth + 1);
	if (eth_dst)
		rte_ether_addr_copy(eth_dst, &eth->dst_addr);
	else
		memset(&eth->dst_addr, 0, sizeof eth->dst_addr);
	rte_ether_addr_copy(&p->mac, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
	ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
	ip->payload_len = rte_cpu_to_be_16(l3_payload);
	ip->hop_limits = 64;
	m->l2_len = sizeof *eth;
	m->l3_len = sizeof *ip;
	return ip;
}

/* ---- neighbour discovery --------------------------------------------------- */

/* NS or NA with one link-layer address option (ours): 24 + 8 bytes. */
static void nd_send(struct io_queue *q, const struct dp_port *p, uint8_t type,
		    const uint8_t src[16], const uint8_t dst[16],
		    const struct rte_ether_addr *eth_dst, const uint8_t target[16], uint8_t flags)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(p->pool);
	struct rte_ipv6_hdr *ip;
	uint8_t *icmp;

	if (!m) {
		q->ctr[DP_C_TX_NOMBUF]++;
		return;
	}
	ip = frame6(m, p, eth_dst, 32);
	ip->proto = IPPROTO_ICMPV6;
	ip->hop_limits = 255;
	memcpy(ip->src_addr, src, 16);
	memcpy(ip->dst_addr, dst, 16);
	icmp = (uint8_t *)rte_pktmbuf_append(m, 32);
	if (!icmp) { /* cannot happen: a fresh mbuf has room for 86 bytes */
		rte_pktmbuf_free(m);
		return;
	}
	memset(icmp, 0, 32);
	icmp[0] = type;
	icmp[4] = flags;
	memcpy(icmp + 8, target, 16);
	icmp[24] = type == ND_NS ? ND_OPT_SLLA : ND_OPT_TLLA;
	icmp[25] = 1; /* 8 bytes */
	memcpy(icmp + 26, p->mac.addr_bytes, 6);
	/* rte_raw_cksum sums in the packet's byte order: stored as is. */
	uint16_t c = l4_csum6(ip, icmp, 32);
	memcpy(icmp + 2, &c, 2);
	q->ctr[type == ND_NS ? DP_C_ND_NS_SENT : DP_C_ND_NA_SENT]++;
	dp_tx(q, p, m);
}

void dp_nd_solicit(struct io_queue *q, const struct dp_port *p, const uint8_t target[16],
		   const struct rte_ether_addr *mac)
{
	struct rte_ether_addr mc;
	uint8_t dst[16];

	if (mac) {
		memcpy(dst, target, 16);
	} else {
		solicited_node(target, dst);
		mc = (struct rte_ether_addr){ { 0x33, 0x33, dst[12], dst[13], dst[14], dst[15] } };
		mac = &mc;
	}
	nd_send(q, p, ND_NS, src_for(p, target), dst, mac, target, 0);
}

/* The link-layer address option of type want in ND options, or NULL. */
static const uint8_t *nd_lla(const uint8_t *opt, uint32_t len, uint8_t want)
{
	while (len >= 8) {
		uint32_t olen = (uint32_t)opt[1] * 8;
		if (!olen || olen > len)
			return NULL; /* RFC 4861 4.6: a zero length is invalid */
		if (opt[0] == want && olen >= 8)
			return opt + 2;
		opt += olen;
		len -= olen;
	}
	return NULL;
}

/* NS (icmp, len bytes): answer for our addresses, learn the asker. */
static void nd_ns_input(struct io_queue *q, const struct dp_port *p, const struct rte_ether_hdr *eth,
			const struct rte_ipv6_hdr *ip, const uint8_t *icmp, uint32_t len)
{
	const uint8_t *target = icmp + 8, *lla;
	struct rte_ether_addr who;

	q->ctr[DP_C_ND_NS_IN]++;
	if (len < 24 || is_mcast6(target)) {
		q->ctr[DP_C_ICMP6_BAD]++;
		return;
	}
	if (!dp_port_owns6(p, target))
		return; /* someone else's */
	lla = nd_lla(icmp + 24, len - 24, ND_OPT_SLLA);
	if (is_unspec6(ip->src_addr)) {
		/* Duplicate address detection by another host: defend ours. */
		if (lla) {
			q->ctr[DP_C_ICMP6_BAD]++;
			return;
		}
		struct rte_ether_addr mc = { { 0x33, 0x33, 0, 0, 0, 1 } };
		nd_send(q, p, ND_NA, target, all_nodes, &mc, target, ND_NA_O);
		return;
	}
	if (lla)
		memcpy(who.addr_bytes, lla, 6);
	else
		rte_ether_addr_copy(&eth->src_addr, &who);
	if (lla && !rte_is_multicast_ether_addr(&who))
		dp_nbr_learn(q, p, ip->src_addr, &who, true);
	nd_send(q, p, ND_NA, target, ip->src_addr, &who, target, ND_NA_S | ND_NA_O);
}

/* NA: learn; the kernel may be resolving too. Returns true when it keeps
 * the frame for the kernel. */
static void nd_na_input(struct io_queue *q, const struct dp_port *p, const struct rte_ether_hdr *eth,
			const struct rte_ipv6_hdr *ip, const uint8_t *icmp, uint32_t len)
{
	const uint8_t *target = icmp + 8, *lla;
	struct rte_ether_addr mac;

	if (len < 24 || is_mcast6(target) || dp_port_owns6(p, target)) {
		q->ctr[DP_C_ICMP6_BAD]++;
		return;
	}
	lla = nd_lla(icmp + 24, len - 24, ND_OPT_TLLA);
	if (lla)
		memcpy(mac.addr_bytes, lla, 6);
	else
		rte_ether_addr_copy(&eth->src_addr, &mac);
	if (rte_is_multicast_ether_addr(&mac) || rte_is_zero_ether_addr(&mac))
		return;
	/* Solicited and to us: a worker asked (maybe another one); else only
	 * an existing entry is updated (RFC 4861 7.2.5). */
	dp_nbr_learn(q, p, target, &mac,
		     (icmp[4] & ND_NA_S) && !is_mcast6(ip->dst_addr));
}

/* ---- ICMPv6 ------------------------------------------------------------------ */

static void icmp6_input(struct io_queue *q, const struct dp_port *p, struct rte_mbuf *m,
			struct rte_ipv6_hdr *ip, bool group)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	uint32_t len = rte_be_to_cpu_16(ip->payload_len);
	uint8_t *icmp = (uint8_t *)(ip + 1);

	if (m->nb_segs != 1 || len < 4 ||
	    m->data_len < sizeof *eth + sizeof *ip + len) {
		dp_to_kernel(q, p, m); /* reassembled or odd: the kernel copes */
		return;
	}
	if (dp_csum_fold((uint32_t)rte_ipv6_phdr_cksum(ip, 0) + rte_raw_cksum(icmp, len)) != 0xffff) {
		q->ctr[DP_C_ICMP6_BAD]++;
		rte_pktmbuf_free(m);
		return;
	}
	switch (icmp[0]) {
	case ND_NS:
	case ND_NA:
		if (ip->hop_limits != 255 || icmp[1] != 0) {
			q->ctr[DP_C_ICMP6_BAD]++;
			rte_pktmbuf_free(m);
			return;
		}
		if (icmp[0] == ND_NS) {
			nd_ns_input(q, p, eth, ip, icmp, len);
			rte_pktmbuf_free(m);
		} else {
			nd_na_input(q, p, eth, ip, icmp, len);
			if (p->tap != DP_NONE)
				dp_to_kernel(q, p, m);
			else
				rte_pktmbuf_free(m);
		}
		return;
	case ICMP6_ECHO_REQUEST:
		if (group || icmp[1] != 0)
			break; /* multicast pings: the kernel's business */
		if (sizeof *ip + len > p->mtu || !dp_icmp_allowed(q)) {
			q->ctr[DP_C_ICMP_LIMITED]++;
			rte_pktmbuf_free(m);
			return;
		}
		{
			/* RFC 1624: type 128 -> 129 in the first word; the
			 * pseudo-header sum does not change when the addresses
			 * swap. */
			rte_be16_t ck;
			uint32_t sum;
			uint8_t tmp[16];

			memcpy(&ck, icmp + 2, 2);
			sum = (uint32_t)(~rte_be_to_cpu_16(ck) & 0xffff) + (~0x8000u & 0xffff) + 0x8100u;
			ck = rte_cpu_to_be_16((uint16_t)~dp_csum_fold(sum));
			memcpy(icmp + 2, &ck, 2);
			icmp[0] = ICMP6_ECHO_REPLY;
			memcpy(tmp, ip->src_addr, 16);
			memcpy(ip->src_addr, ip->dst_addr, 16);
			memcpy(ip->dst_addr, tmp, 16);
			ip->hop_limits = 64;
			rte_ether_addr_copy(&eth->src_addr, &eth->dst_addr);
			rte_ether_addr_copy(&p->mac, &eth->src_addr);
			m->ol_flags = 0;
			q->ctr[DP_C_ICMP6_ECHO]++;
			dp_tx(q, p, m);
		}
		return;
	default:
		break;
	}
	dp_to_kernel(q, p, m);
}

/* ---- UDP in ------------------------------------------------------------------ */

static const struct dp_iface *iface_find6(const struct dp_port *p, const uint8_t ip[16],
					  rte_be16_t port)
{
	for (unsigned i = 0; i < dp.nifaces; i++) {
		const struct dp_iface *f = &dp.iface[i];
		if (f->family == AF_INET6 && f->udp == port && f->port == p->idx &&
		    !memcmp(f->ip6, ip, 16))
			return f;
	}
	return NULL;
}

static bool udp6_input(struct io_queue *q, const struct dp_port *p, struct rte_mbuf *m,
		       const struct rte_ipv6_hdr *ip, struct io_pkt *out)
{
	const uint32_t l4 = sizeof(struct rte_ether_hdr) + sizeof *ip;
	uint16_t plen = rte_be_to_cpu_16(ip->payload_len), ulen, raw;
	struct rte_udp_hdr uh;
	const struct rte_udp_hdr *u = rte_pktmbuf_read(m, l4, sizeof uh, &uh);
	const struct dp_iface *f;
	uint64_t flag = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
	int mr = -1;

	if (!u || (ulen = rte_be_to_cpu_16(u->dgram_len)) != plen || ulen < sizeof uh) {
		q->ctr[DP_C_RX_BAD_UDP]++;
		rte_pktmbuf_free(m);
		return false;
	}
	f = iface_find6(p, ip->dst_addr, u->dst_port);
	if (!f && (mr = dp_media_find(p->idx, AF_INET6, ip->dst_addr,
				      rte_be_to_cpu_16(u->dst_port))) < 0) {
		dp_to_kernel(q, p, m);
		return false;
	}
	/* The checksum is mandatory over IPv6 (RFC 8200 8.1): 0 is invalid. */
	if (!u->dgram_cksum || (p->rx_udp_csum && flag == RTE_MBUF_F_RX_L4_CKSUM_BAD) ||
	    (!(p->rx_udp_csum && flag == RTE_MBUF_F_RX_L4_CKSUM_GOOD) &&
	     (rte_raw_cksum_mbuf(m, l4, ulen, &raw) ||
	      dp_csum_fold((uint32_t)raw + rte_ipv6_phdr_cksum(ip, 0)) != 0xffff))) {
		q->ctr[DP_C_RX_BAD_UDP]++;
		rte_pktmbuf_free(m);
		return false;
	}
	if (!f) {
		unsigned owner = media_port_owner(rte_be_to_cpu_16(u->dst_port),
						  dp.media[mr].first, dp.nworkers);
		if (owner != q->id) {
			m->l2_len = sizeof(struct rte_ether_hdr);
			m->l3_len = sizeof *ip;
			m->hash.usr = (uint32_t)mr;
			dp_media_handoff(q, owner, m);
			return false;
		}
		dp_media_deliver(q, m, l4, ulen, AF_INET6, ip->src_addr, ip->dst_addr, u->src_port,
				 u->dst_port, (unsigned)mr, out);
		return true;
	}
	return dp_listen_deliver(q, m, f, l4, ulen, ip->src_addr, u->src_port, out);
}

/* ---- IPv6 in ----------------------------------------------------------------- */

bool dp_ipv6_input(struct io_queue *q, const struct dp_port *p, struct rte_mbuf *m,
		   struct io_pkt *out)
{
	const uint32_t l2 = sizeof(struct rte_ether_hdr);
	struct rte_ipv6_hdr *ip;
	uint32_t plen;
	bool group = false;

	if (!p->naddr6) {
		dp_to_kernel(q, p, m); /* no IPv6 in the data plane on this port */
		return false;
	}
	if (m->data_len < l2 + sizeof *ip) {
		q->ctr[DP_C_RX_BAD_IP6]++;
		goto drop;
	}
	ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv6_hdr *, l2);
	plen = rte_be_to_cpu_16(ip->payload_len);
	if ((rte_be_to_cpu_32(ip->vtc_flow) >> 28) != 6) {
		q->ctr[DP_C_RX_BAD_IP6]++;
		goto drop;
	}
	if (plen + sizeof *ip > m->pkt_len - l2) {
		q->ctr[DP_C_RX_TRUNCATED]++;
		goto drop;
	}
	if (m->pkt_len > l2 + sizeof *ip + plen)
		rte_pktmbuf_trim(m, (uint16_t)(m->pkt_len - l2 - sizeof *ip - plen));
	if (is_mcast6(ip->src_addr) || (!is_unspec6(ip->src_addr) && dp_port_owns6(p, ip->src_addr))) {
		q->ctr[DP_C_RX_MARTIAN]++;
		goto drop;
	}
	if (is_mcast6(ip->dst_addr)) {
		if (!our_group(p, ip->dst_addr) || ip->proto != IPPROTO_ICMPV6) {
			dp_to_kernel(q, p, m);
			return false;
		}
		group = true;
	} else if (!dp_port_owns6(p, ip->dst_addr)) {
		q->ctr[DP_C_RX_NOT_OURS]++;
		goto drop;
	} else if (is_unspec6(ip->src_addr)) {
		q->ctr[DP_C_RX_MARTIAN]++;
		goto drop;
	}
	if (ip->proto == IPPROTO_FRAGMENT && !group) {
		struct rte_ipv6_fragment_ext *fh;
		struct rte_mbuf *whole;

		if (m->data_len < l2 + sizeof *ip + sizeof *fh) {
			q->ctr[DP_C_RX_BAD_IP6]++;
			goto drop;
		}
		fh = (struct rte_ipv6_fragment_ext *)(ip + 1);
		q->ctr[DP_C_FRAG_IN]++;
		m->l2_len = l2;
		m->l3_len = sizeof *ip + sizeof *fh;
		whole = rte_ipv6_frag_reassemble_packet(q->frag, &q->dr, m, q->now_tsc, ip, fh);
		if (!whole)
			return false;
		q->ctr[DP_C_REASSEMBLED]++;
		m = whole;
		ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv6_hdr *, l2);
	}
	switch (ip->proto) {
	case IPPROTO_ICMPV6:
		icmp6_input(q, p, m, ip, group);
		return false;
	case IPPROTO_UDP:
		return udp6_input(q, p, m, ip, out);
	default:
		dp_to_kernel(q, p, m);
		return false;
	}
drop:
	rte_pktmbuf_free(m);
	return false;
}

/* ---- UDP out ----------------------------------------------------------------- */

#define DP_MAX_FRAGS6 128u

bool dp_route6(struct io_queue *q, const struct dp_port *p, const uint8_t dst[16], rte_be16_t port,
	       uint8_t nh[16])
{
	if (is_mcast6(dst) || is_unspec6(dst) || dp_key_is_v4(dst) || !port) {
		q->ctr[DP_C_TX_BAD]++;
		return false;
	}
	for (unsigned i = 0; i < dp.nports; i++) {
		if (dp_port_owns6(&dp.port[i], dst)) {
			q->ctr[DP_C_TX_BAD]++;
			return false;
		}
	}
	if (dp_ll6(dst) || dp_port_onlink6(p, dst) >= 0) {
		memcpy(nh, dst, 16);
	} else if (p->has_gw6) {
		memcpy(nh, p->gw6, 16);
	} else {
		q->ctr[DP_C_TX_NO_ROUTE]++;
		return false;
	}
	return true;
}

/* As relay4 (dpdk_ip.c) for a lent IPv6 frame (no extension headers):
 * the header the copy path builds (traffic class and flow label 0, hop
 * limit 64), new addresses and ports, the UDP checksum offloaded or
 * updated for the changed words (never 0 here: verified on input). */
int dp_relay6(struct io_queue *q, const struct io_pkt *pkt, const struct dp_src *sr,
	      struct rte_mbuf *m)
{
	const struct dp_port *p = sr->p;
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(eth + 1);
	struct rte_udp_hdr *u = (struct rte_udp_hdr *)(ip + 1);
	const uint8_t *dst = pkt->dst.v6.sin6_addr.s6_addr;
	uint8_t nh[16], addrs[32], old[32];
	rte_be16_t ports[2];

	if (pkt->buf != (char *)(u + 1) || pkt->len + sizeof *u != rte_be_to_cpu_16(u->dgram_len) ||
	    pkt->len + sizeof *u + sizeof *ip > p->mtu)
		return -1;
	if (!dp_route6(q, p, dst, pkt->dst.v6.sin6_port, nh)) {
		rte_pktmbuf_free(m);
		return 0;
	}
	memcpy(addrs, sr->ip6, 16);
	memcpy(addrs + 16, dst, 16);
	ports[0] = sr->udp;
	ports[1] = pkt->dst.v6.sin6_port;
	m->ol_flags = 0;
	if (!p->tx_udp_csum) {
		uint16_t c = u->dgram_cksum;
		memcpy(old, ip->src_addr, 16);
		memcpy(old + 16, ip->dst_addr, 16);
		c = csum_replace(c, old, addrs, sizeof addrs);
		c = csum_replace(c, &u->src_port, ports, sizeof ports);
		u->dgram_cksum = csum_udp_final(c);
	}
	u->src_port = ports[0];
	u->dst_port = ports[1];
	ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
	ip->proto = IPPROTO_UDP;
	ip->hop_limits = 64;
	memcpy(ip->src_addr, addrs, 16);
	memcpy(ip->dst_addr, addrs + 16, 16);
	m->l2_len = sizeof *eth;
	m->l3_len = sizeof *ip;
	if (p->tx_udp_csum) {
		m->ol_flags |= RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_UDP_CKSUM;
		u->dgram_cksum = rte_ipv6_phdr_cksum(ip, m->ol_flags);
	}
	rte_ether_addr_copy(&p->mac, &eth->src_addr);
	q->ctr[DP_C_TX_DGRAMS]++;
	q->ctr[DP_C_MEDIA_INPLACE]++;
	dp_nbr_output(q, p, nh, &m, 1);
	return 1;
}

bool dp_udp6_output(struct io_queue *q, const struct io_pkt *pkt, const struct dp_src *sr)
{
	struct rte_mbuf *m[DP_MAX_FRAGS6];
	const struct dp_port *p = sr->p;
	const uint8_t *dst = pkt->dst.v6.sin6_addr.s6_addr;
	uint8_t nh[16];
	struct rte_udp_hdr uh;
	struct rte_ipv6_hdr ph;
	uint32_t ulen = pkt->len + (uint32_t)sizeof uh, chunk, nfrag;

	if (ulen > UINT16_MAX) {
		q->ctr[DP_C_TX_BAD]++;
		return false;
	}
	if (!dp_route6(q, p, dst, pkt->dst.v6.sin6_port, nh))
		return false;
	uh.src_port = sr->udp;
	uh.dst_port = pkt->dst.v6.sin6_port;
	uh.dgram_len = rte_cpu_to_be_16((uint16_t)ulen);
	uh.dgram_cksum = 0;
	memset(&ph, 0, sizeof ph);
	ph.payload_len = uh.dgram_len;
	ph.proto = IPPROTO_UDP;
	memcpy(ph.src_addr, sr->ip6, 16);
	memcpy(ph.dst_addr, dst, 16);

	if (ulen + sizeof ph <= p->mtu) {
		struct rte_mbuf *last;
		struct rte_ipv6_hdr *ip;
		struct rte_udp_hdr *u;

		m[0] = rte_pktmbuf_alloc(p->pool);
		if (!m[0]) {
			q->ctr[DP_C_TX_NOMBUF]++;
			return false;
		}
		last = m[0];
		ip = frame6(m[0], p, NULL, (uint16_t)ulen);
		ip->proto = IPPROTO_UDP;
		memcpy(ip->src_addr, sr->ip6, 16);
		memcpy(ip->dst_addr, dst, 16);
		if (!dp_append_span(m[0], &last, p->pool, &uh, pkt->buf, 0, ulen)) {
			rte_pktmbuf_free(m[0]);
			q->ctr[DP_C_TX_NOMBUF]++;
			return false;
		}
		u = (struct rte_udp_hdr *)(ip + 1);
		if (p->tx_udp_csum) {
			m[0]->ol_flags |= RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_UDP_CKSUM;
			u->dgram_cksum = rte_ipv6_phdr_cksum(ip, m[0]->ol_flags);
		} else {
			uint32_t sum = rte_ipv6_phdr_cksum(ip, 0) + rte_raw_cksum(&uh, sizeof uh) +
				       rte_raw_cksum(pkt->buf, pkt->len);
			uint16_t c = (uint16_t)~dp_csum_fold(sum);
			u->dgram_cksum = c ? c : 0xffff;
		}
		q->ctr[DP_C_TX_DGRAMS]++;
		dp_nbr_output(q, p, nh, m, 1);
		return true;
	}

	/* Fragments: 8-byte multiples after the IPv6 and fragment headers;
	 * the UDP checksum covers the whole datagram. */
	{
		uint32_t sum = rte_ipv6_phdr_cksum(&ph, 0) + rte_raw_cksum(&uh, sizeof uh) +
			       rte_raw_cksum(pkt->buf, pkt->len);
		uint16_t c = (uint16_t)~dp_csum_fold(sum);
		uh.dgram_cksum = c ? c : 0xffff;
	}
	chunk = ((uint32_t)p->mtu - (uint32_t)sizeof ph - RTE_IPV6_FRAG_HDR_SIZE) & ~7u;
	nfrag = (ulen + chunk - 1) / chunk;
	if (nfrag > DP_MAX_FRAGS6 || rte_pktmbuf_alloc_bulk(p->pool, m, nfrag)) {
		q->ctr[nfrag > DP_MAX_FRAGS6 ? DP_C_TX_BAD : DP_C_TX_NOMBUF]++;
		return false;
	}
	uint32_t id = q->ip6_id;
	q->ip6_id += dp.nworkers;
	for (uint32_t i = 0, off = 0; i < nfrag; i++, off += chunk) {
		uint32_t len = ulen - off < chunk ? ulen - off : chunk;
		struct rte_mbuf *last = m[i];
		struct rte_ipv6_hdr *ip = frame6(m[i], p, NULL,
						 (uint16_t)(len + RTE_IPV6_FRAG_HDR_SIZE));
		struct rte_ipv6_fragment_ext *fh;

		ip->proto = IPPROTO_FRAGMENT;
		memcpy(ip->src_addr, sr->ip6, 16);
		memcpy(ip->dst_addr, dst, 16);
		fh = (struct rte_ipv6_fragment_ext *)rte_pktmbuf_append(m[i], sizeof *fh);
		fh->next_header = IPPROTO_UDP;
		fh->reserved = 0;
		fh->frag_data = rte_cpu_to_be_16((uint16_t)(off | (off + len < ulen ? 1u : 0u)));
		fh->id = rte_cpu_to_be_32(id);
		m[i]->l3_len = sizeof *ip + sizeof *fh;
		if (!dp_append_span(m[i], &last, p->pool, &uh, pkt->buf, off, len)) {
			for (uint32_t k = 0; k < nfrag; k++)
				rte_pktmbuf_free(m[k]);
			q->ctr[DP_C_TX_NOMBUF]++;
			return false;
		}
	}
	q->ctr[DP_C_TX_DGRAMS]++;
	q->ctr[DP_C_TX_FRAGS] += nfrag;
	dp_nbr_output(q, p, nh, m, nfrag);
	return true;
}
