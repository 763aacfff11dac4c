/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The relay decision: local port -> (stream, leg) by index math, source
 * check and latching, RTP statistics, destination on the other leg. No
 * hashing, no allocation, no lock.
 *
 * Cost (perf/bench_media, bursts of 32 G.711 packets, both legs latched,
 * loss and jitter accounted; -O2 debugoptimized build, -O3 release within
 * the noise). Machine: 2-core KVM guest on an AMD EPYC, TSC 2.6 GHz,
 * shared with other jobs (load 3-4), so times are best / median of 6 runs
 * interleaved with a build without the prefetch pass:
 *   instructions: 274 per forwarded packet, 51 per packet refused in the
 *     lookup pass (callgrind, exact); the RTP statistics are ~60 of the 274.
 *   16 flows, all in L1: 57 / 70 TSC ticks (22 / 27 ns) per packet;
 *     without prefetch 46 / 74 ticks: the pass costs a little here.
 *   12 000 calls, shuffled (streams in L3, not L2): 64 / 147 ticks
 *     (25 / 56 ns); without prefetch 97 / 260 ticks (37 / 100 ns).
 *   Before streams were split into a hot part (header and the two legs'
 *   per-packet fields, 4 lines) and a cold part, one loaded run of 10 000
 *   calls took ~840 ticks (322 ns) per packet.
 */
#include <string.h>

#include "media_int.h"

/* RFC 3550 A.1: a jump of less than this is loss, not a restart ... */
#define MAX_DROPOUT  3000u
/* ... and a step back of less than this is a late packet. */
#define MAX_MISORDER 100u

const char *media_drop_name(enum media_drop d)
{
	static const char *const names[] = {
#define MEDIA_DROP_NAME(name, text) #name,
		MEDIA_DROPS(MEDIA_DROP_NAME)
#undef MEDIA_DROP_NAME
	};
	return (unsigned)d < MEDIA_DROP__COUNT ? names[d] : "?";
}

/* ---- RTP receive statistics ----------------------------------------------- */

void rx_reset(struct media_rx *rx)
{
	memset(rx, 0, sizeof(*rx));
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t rx_cur_lost(const struct media_rx *rx)
{
	int64_t expected = (int64_t)rx->cycles + rx->max_seq - rx->base_seq + 1;
	return expected - (int64_t)rx->received;
}

/* A new sequence: a new SSRC, or a re-sync after a jump. The loss of the
 * old one is kept (duplicates can make it negative: counted as none). */
static void rx_start(struct media_rx *rx, uint16_t seq)
{
	if (rx->started) {
		int64_t lost = rx_cur_lost(rx);
		rx->lost_before += lost > 0 ? (uint64_t)lost : 0;
	}
	rx->started = true;
	rx->base_seq = seq;
	rx->max_seq = seq;
	rx->bad_seq = 65536 + 1; /* matches no sequence number */
	rx->cycles = 0;
	rx->received = 0;
	rx->have_transit = false;
}

/* RFC 3550 A.1 without the probation of a new source (the SDP vouched
 * for it): returns false for a packet that is not counted. */
static bool rx_seq(struct media_rx *rx, uint16_t seq)
{
	uint16_t udelta = (uint16_t)(seq - rx->max_seq);

	if (udelta < MAX_DROPOUT) {
		if (seq < rx->max_seq)
			rx->cycles += 65536;
		rx->max_seq = seq;
	} else if (udelta <= 65536 - MAX_MISORDER) {
		/* A big jump: believe it when the next packet follows it. */
		if (seq != rx->bad_seq) {
			rx->bad_seq = (uint32_t)((seq + 1) & 0xffff);
			return false;
		}
		rx_start(rx, seq);
	}
	/* else a duplicate or a late packet: counted, max unchanged */
	rx->received++;
	return true;
}

/* RFC 3551 static payload types with a clock other than 8000. */
static uint32_t static_clock(uint8_t pt, bool video)
{
	switch (pt) {
	case 6:
		return 16000;
	case 10: case 11:
		return 44100;
	case 16:
		return 11025;
	case 17:
		return 22050;
	case 14: case 25: case 26: case 28: case 31: case 32: case 33: case 34:
		return 90000;
	default:
		return pt < 35 || !video ? 8000 : 90000;
	}
}

static uint32_t pt_clock(const struct media_stream *st, uint8_t pt)
{
	for (unsigned j = 0; j < st->npt; j++)
		if (st->pt[j] == pt)
			return st->rate[j];
	return static_clock(pt, st->flags & ST_VIDEO);
}

/* Arrival time in RTP timestamp units, split so that it cannot overflow. */
static uint32_t rtp_units(uint64_t us, uint32_t clock)
{
	return (uint32_t)((us / 1000000u) * clock + (us % 1000000u) * clock / 1000000u);
}

/* RFC 3550 A.8, integer form: jitter16 holds 16 x J. */
static void rx_jitter(struct media_rx *rx, uint32_t ts, uint64_t rx_us)
{
	uint32_t transit = rtp_units(rx_us, rx->clock) - ts;

	if (rx->have_transit) {
		int32_t d = (int32_t)(transit - rx->transit);
		uint32_t ad = d < 0 ? (uint32_t)-(int64_t)d : (uint32_t)d;
		rx->jitter16 += ad - ((rx->jitter16 + 8) >> 4);
	}
	rx->transit = transit;
	rx->have_transit = true;
}

static void rx_rtp(const struct media_stream *st, struct media_rx *rx, const uint8_t *p,
		   uint64_t rx_us)
{
	uint16_t seq = (uint16_t)(p[2] << 8 | p[3]);
	uint32_t ssrc = be32(p + 8);
	uint8_t pt = p[1] & 0x7f;

	if (!rx->started || ssrc != rx->ssrc) {
		rx_start(rx, seq);
		rx->ssrc = ssrc;
		rx->received = 1;
	} else if (!rx_seq(rx, seq)) {
		return;
	}
	if (pt != rx->last_pt || !rx->clock) {
		uint32_t clock = pt_clock(st, pt);
		/* Transit times in different clocks do not compare. */
		if (clock != rx->clock)
			rx->have_transit = false;
		rx->clock = clock;
		rx->last_pt = pt;
	}
	rx_jitter(rx, be32(p + 4), rx_us);
}

/* ---- the decision --------------------------------------------------------- */

/* RFC 5761 4: on a muxed port, RTCP packet types 192..223 sit where RTP
 * would have the marker bit and payload types 64..95, which mux forbids. */
static bool is_rtcp_pt(const uint8_t *p)
{
	return p[1] >= 192 && p[1] <= 223;
}

/* Of the forks sharing this port, the one the source belongs to: its peer
 * or SDP address exactly first, then a unique SDP IP. */
static struct media_stream *fork_pick(struct media *m, struct media_stream *head, unsigned L,
				      const union sbc_sockaddr *src, bool on_rtcp)
{
	struct media_stream *match = NULL;
	uint32_t x;

	for (x = stream_idx(m, head); x != MEDIA_NONE; x = stream_at(m, x)->fork_next) {
		struct media_stream *st = stream_at(m, x);
		const struct media_leg_cold *c = &st->cold[L];
		const union sbc_sockaddr *peer = on_rtcp ? &c->peer_rtcp : &st->leg[L].peer_rtp;
		const union sbc_sockaddr *sdp = on_rtcp ? &c->remote.rtcp : &c->remote.rtp;
		if (sbc_addr_eq(peer, src) || sbc_addr_eq(sdp, src))
			return st;
	}
	for (x = stream_idx(m, head); x != MEDIA_NONE; x = stream_at(m, x)->fork_next) {
		struct media_stream *st = stream_at(m, x);
		const union sbc_sockaddr *sdp = &st->cold[L].remote.rtp;
		if (addr_known(sdp) && sbc_addr_ip_eq(sdp, src)) {
			if (match)
				return NULL;
			match = st;
		}
	}
	return match;
}

/* Is src allowed to send into leg L? The common case is one compare with
 * the peer; the rest (latching, the SDP address winning a latch back) is
 * the first packets of a call. */
static uint8_t source_check(struct media_stream *st, unsigned L, const union sbc_sockaddr *src,
			    bool on_rtcp)
{
	struct media_leg *l = &st->leg[L];
	struct media_leg_cold *c = &st->cold[L];
	union sbc_sockaddr *peer = on_rtcp ? &c->peer_rtcp : &l->peer_rtp;
	unsigned flag = on_rtcp ? LEG_LAT_RTCP : LEG_LAT_RTP;

	if (sbc_likely(sbc_addr_eq(peer, src))) {
		l->flags |= (uint16_t)flag;
		return MEDIA_DROP_NONE;
	}
	if (l->flags & LEG_STRICT)
		return MEDIA_DROP_STRICT;
	/* Latch the first source (NAT); afterwards only the SDP address may
	 * take the latch back, so a stray or forged first packet cannot keep
	 * a non-NATed endpoint's media. */
	if (!(l->flags & flag) || sbc_addr_eq(on_rtcp ? &c->remote.rtcp : &c->remote.rtp, src)) {
		*peer = *src;
		l->flags |= (uint16_t)flag;
		return MEDIA_DROP_NONE;
	}
	return MEDIA_DROP_SOURCE;
}

static uint8_t forward(const struct media_stream *st, unsigned O, bool rtcp, struct media_fwd *f)
{
	const struct media_leg *out = &st->leg[O];
	const union sbc_sockaddr *dst = &out->peer_rtp;

	if (out->flags & LEG_HOLD)
		return MEDIA_DROP_HOLD;
	f->port = out->rtp_port;
	if (sbc_unlikely(rtcp) && !(st->flags & ST_MUX_OK)) {
		dst = &st->cold[O].peer_rtcp;
		if (out->rtcp_port)
			f->port = out->rtcp_port;
	}
	if (!addr_known(dst))
		return MEDIA_DROP_NO_DEST;
	f->dst = *dst;
	f->realm = out->realm;
	return MEDIA_DROP_NONE;
}

static void account(struct media_stream *st, unsigned L, const struct media_pkt *pk,
		    unsigned kind)
{
	struct media_leg *in = &st->leg[L];

	in->last_rx_us = pk->rx_us;
	if (sbc_likely(kind == MEDIA_PKT_RTP)) {
		in->packets++;
		in->bytes += pk->len;
		rx_rtp(st, &in->rx, pk->data, pk->rx_us);
	} else if (kind == MEDIA_PKT_RTCP) {
		st->cold[L].rtcp_packets++;
		st->cold[L].rtcp_bytes += pk->len;
	}
}

/* RFC 7983 demultiplexing by the first byte: 128..191 RTP/RTCP, 20..63
 * DTLS. DTLS-SRTP runs end to end through the relay (a=fingerprint and
 * a=setup pass untouched), so its records are forwarded like media. STUN
 * (0..3) is refused: with ICE stripped nobody on the other side would
 * answer it, and the SBC is no ICE agent. Only where the peer may mux is
 * RTCP looked for on the RTP port. */
static unsigned classify(const struct media_leg *in, const struct media_pkt *pk, bool on_rtcp)
{
	uint8_t b0 = pk->data[0];

	if ((b0 >> 6) == 2) {
		if (on_rtcp || (((in->flags & LEG_MUX) || !in->rtcp_port) && is_rtcp_pt(pk->data)))
			return MEDIA_PKT_RTCP;
		return pk->len < 12 ? MEDIA_PKT__BAD_SHORT : MEDIA_PKT_RTP;
	}
	return b0 >= 20 && b0 <= 63 ? MEDIA_PKT_DTLS : MEDIA_PKT__BAD;
}

/* First half: port -> table entry (or a drop reason with the top bit). */
#define LOOKUP_DROP 0x80000000u

static uint32_t lookup(const struct media *m, const struct media_pkt *pk)
{
	if (pk->realm >= m->nrealms || !m->realm[pk->realm].ports)
		return LOOKUP_DROP | MEDIA_DROP_BAD_REALM;
	const struct media_realm *r = &m->realm[pk->realm];
	int32_t slot = ports_slot(r->ports, pk->port);
	if (slot < 0)
		return LOOKUP_DROP | MEDIA_DROP_NOT_OURS;
	uint32_t e = r->tab[slot];
	return e == MEDIA_NONE ? LOOKUP_DROP | MEDIA_DROP_UNKNOWN_PORT : e;
}

/* Second half: the decision for a packet whose entry is e. */
static uint8_t decide(struct media *m, const struct media_pkt *pk, uint32_t e,
		      struct media_fwd *f)
{
	struct media_stream *st = stream_at(m, e >> 1);
	unsigned L = e & 1;
	bool on_rtcp = pk->port == st->leg[L].rtcp_port;

	if (pk->len < 8)
		return MEDIA_DROP_SHORT;
	/* Forks share port numbers, so on_rtcp holds for the one picked. */
	if (sbc_unlikely(st->fork_next != MEDIA_NONE) && L == st->shared) {
		st = fork_pick(m, st, L, pk->src, on_rtcp);
		if (!st)
			return MEDIA_DROP_FORK_SOURCE;
	}
	unsigned kind = classify(&st->leg[L], pk, on_rtcp);
	if (kind == MEDIA_PKT__BAD)
		return MEDIA_DROP_NOT_RTP;
	if (kind == MEDIA_PKT__BAD_SHORT)
		return MEDIA_DROP_SHORT;
	if (!(st->flags & ST_ACTIVE))
		return MEDIA_DROP_DISABLED;
	uint8_t d = source_check(st, L, pk->src, on_rtcp);
	if (d == MEDIA_DROP_NONE) {
		account(st, L, pk, kind);
		f->kind = (uint8_t)kind;
		/* DTLS of a separate RTCP component goes to the RTCP port. */
		d = forward(st, !L, kind == MEDIA_PKT_RTCP || (kind == MEDIA_PKT_DTLS && on_rtcp), f);
	}
	if (d != MEDIA_DROP_NONE)
		st->cold[L].dropped++;
	return d;
}

/*
 * Two passes over the burst: the first finds every packet's stream in the
 * port table and prefetches the stream's hot lines, so that with many
 * calls the cache misses of a whole burst overlap instead of stalling one
 * packet at a time; the second decides.
 */
unsigned media_relay(struct media *m, const struct media_pkt *pkts, struct media_fwd *out,
		     unsigned n)
{
	uint32_t e[MEDIA_BURST_MAX];
	unsigned fwd = 0;

	for (unsigned base = 0; base < n; base += MEDIA_BURST_MAX) {
		unsigned k = n - base < MEDIA_BURST_MAX ? n - base : MEDIA_BURST_MAX;
		const struct media_pkt *p = pkts + base;
		for (unsigned i = 0; i < k; i++) {
			e[i] = lookup(m, &p[i]);
			if (!(e[i] & LOOKUP_DROP)) {
				const char *st = (const char *)stream_at(m, e[i] >> 1);
				__builtin_prefetch(st);
				__builtin_prefetch(st + SBC_CACHE_LINE);
				__builtin_prefetch(st + 2 * SBC_CACHE_LINE);
				__builtin_prefetch(st + 3 * SBC_CACHE_LINE);
			}
		}
		for (unsigned i = 0; i < k; i++) {
			struct media_fwd *f = &out[base + i];
			uint8_t d = e[i] & LOOKUP_DROP ? (uint8_t)e[i] : decide(m, &p[i], e[i], f);
			f->drop = d;
			if (d != MEDIA_DROP_NONE) {
				m->ctr.drop[d]++;
				continue;
			}
			fwd++;
			m->ctr.fwd_bytes += p[i].len;
			m->ctr.fwd[f->kind]++;
		}
	}
	m->ctr.rx_packets += n;
	return fwd;
}
