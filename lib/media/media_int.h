/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/media internals: shared by ports.c, session.c, offer.c and relay.c,
 * never included outside lib/media.
 */
#ifndef SBC_MEDIA_INT_H
#define SBC_MEDIA_INT_H

#include "media.h"
#include "pool.h"
#include "sbc_defs.h"

/* ---- port slice ----------------------------------------------------------- */

enum { PORT_USED = 0, PORT_FREE = 1 };

struct media_ports {
	uint16_t first, last;
	uint32_t worker, nworkers;
	uint32_t npairs;        /* pairs of this slice */
	uint64_t div_m;         /* ceil(2^32 / nworkers), see ports_slot() */
	uint32_t in_use;        /* ports */
	uint64_t bad_frees;
	/* FIFO ring of fully free pairs (slice pair indices). */
	uint32_t *ring;
	uint32_t ring_head, ring_count;
	/* Doubly linked FIFO of free halves: free ports whose partner is used. */
	uint32_t *half_next, *half_prev;
	uint32_t half_head, half_tail, half_count;
	uint8_t *state;         /* per slot: PORT_USED / PORT_FREE */
};

/*
 * Slot (2 * slice pair + parity) of a port, or -1. Pair / nworkers by
 * multiply-shift with div_m = ceil(2^32 / nworkers): exact for every
 * 15-bit pair index and nworkers <= 256 (Granlund-Montgomery / Lemire:
 * 32 fraction bits >= 15 + 8 needed). A 32-bit divide has 10-20+ cycles
 * of latency on current x86 cores against 3 for the multiply, on a path of
 * ~60 cycles per packet (relay.c).
 */
static inline int32_t ports_slot(const struct media_ports *p, uint16_t port)
{
	if (port < p->first || port > p->last)
		return -1;
	uint32_t off = (uint32_t)(port - p->first);
	uint32_t pair = off >> 1;
	uint32_t k = (uint32_t)(((uint64_t)pair * p->div_m) >> 32);
	if (pair - k * p->nworkers != p->worker || k >= p->npairs)
		return -1;
	return (int32_t)(2 * k + (off & 1));
}

/* Could pairs whole pairs and singles single ports be taken at once? */
static inline bool ports_can(const struct media_ports *p, uint32_t pairs, uint32_t singles)
{
	return pairs <= p->ring_count &&
	       singles <= p->half_count + 2 * (p->ring_count - pairs);
}

static inline uint16_t ports_port(const struct media_ports *p, uint32_t slot)
{
	uint32_t pair = (slot >> 1) * p->nworkers + p->worker;
	return (uint16_t)(p->first + 2 * pair + (slot & 1));
}

/* ---- streams -------------------------------------------------------------- */

/* What a leg's peer said in its last SDP. */
struct media_remote {
	union sbc_sockaddr rtp;     /* family 0: not known */
	union sbc_sockaddr rtcp;    /* RTCP when not muxed (a=rtcp or port + 1) */
	uint8_t dir;                /* enum sdp_dir (effective) */
	bool hold;                  /* c=0.0.0.0 / :: (not ICE): do not send */
	bool mux;                   /* its SDP had a=rtcp-mux */
};

/* RFC 3550 A.1 / A.8 receive state of one leg. */
struct media_rx {
	uint32_t ssrc;
	uint32_t cycles;            /* count of sequence wraps << 16 */
	uint32_t base_seq;
	uint32_t bad_seq;
	uint32_t received;          /* since the last (re)start */
	uint32_t transit;
	uint32_t jitter16;          /* jitter * 16 (A.8 integer form) */
	uint32_t clock;
	uint16_t max_seq;
	uint8_t last_pt;
	bool started;
	bool have_transit;
	uint64_t lost_before;       /* loss of earlier SSRCs / re-syncs */
};

#define LEG_OWN      (1u << 0) /* the ports are this stream's to free */
#define LEG_LAT_RTP  (1u << 1) /* peer_rtp confirmed by a packet */
#define LEG_LAT_RTCP (1u << 2)
#define LEG_STRICT   (1u << 3)
#define LEG_NEW_RTCP (1u << 4) /* rtcp_port allocated by the pending offer */
#define LEG_HOLD     (1u << 5) /* = remote.hold: send nothing to this leg */
#define LEG_MUX      (1u << 6) /* = remote.mux: RTCP may come on the RTP port */
#define LEG_UNDO_MASK (LEG_LAT_RTP | LEG_LAT_RTCP | LEG_HOLD | LEG_MUX)

/*
 * The per-packet part of a leg, 112 bytes; the two legs follow the stream
 * header so that a packet touches about four lines of one stream. What a
 * forward reads of the other leg (peer, ports, realm, flags) is its first
 * 40 bytes.
 *
 * peer_rtp is both where the leg's RTP goes and the source it accepts: the
 * SDP address until a packet latches it elsewhere, so the common case (a
 * packet from the peer) is one address compare.
 */
struct media_leg {
	union sbc_sockaddr peer_rtp;    /* family 0: unknown */
	uint16_t rtp_port, rtcp_port;   /* local; rtcp_port 0: single port */
	uint16_t realm;
	uint16_t flags;                 /* LEG_* */
	uint64_t packets, bytes;
	uint64_t last_rx_us;
	struct media_rx rx;
};

/* The rest of a leg: RTCP, SDP and what only the control plane reads. */
struct media_leg_cold {
	struct media_remote remote;     /* the peer's last SDP */
	union sbc_sockaddr peer_rtcp;   /* as peer_rtp, for RTCP without mux */
	uint64_t rtcp_packets, rtcp_bytes, dropped;
};

#define ST_ACTIVE     (1u << 0) /* relays */
#define ST_MUX_OK     (1u << 1) /* rtcp-mux negotiated */
#define ST_REFUSED    (1u << 2) /* the answer said port 0 */
#define ST_PEND_NEW   (1u << 3) /* created by the pending offer */
#define ST_PEND_DEL   (1u << 4) /* the pending offer said port 0 */
#define ST_MUX_ONLY   (1u << 5) /* offered with a=rtcp-mux-only */
#define ST_HAVE_UNDO  (1u << 6)
#define ST_VIDEO      (1u << 7) /* default clock 90000 */

#define MEDIA_MAX_PT 8u

/* classify() results beyond enum media_pkt_kind */
#define MEDIA_PKT__BAD       (MEDIA_PKT__COUNT)
#define MEDIA_PKT__BAD_SHORT (MEDIA_PKT__COUNT + 1)

struct media_stream {
	/* hot */
	uint32_t fork_next;             /* next member of the chain, MEDIA_NONE at the end */
	uint8_t flags;                  /* ST_* */
	uint8_t shared;                 /* leg whose ports the chain shares */
	uint8_t index;                  /* m= line */
	uint8_t npt;
	struct media_leg leg[2];
	/* cold */
	struct media_leg_cold cold[2];
	uint32_t session;               /* owner's pool index */
	uint32_t fork_head;             /* head of the chain; self if none */
	uint32_t free_next;             /* stream pool free list */
	uint8_t pt[MEDIA_MAX_PT];       /* rtpmap'd payload types ... */
	uint32_t rate[MEDIA_MAX_PT];    /* ... and their clock rates */
	/* the offerer's leg before the pending offer, for media_sdp_reject() */
	struct media_remote undo;
	union sbc_sockaddr undo_peer_rtp, undo_peer_rtcp;
	uint16_t undo_flags;            /* its LEG_UNDO_MASK bits */
	uint8_t undo_stflags;           /* st->flags before */
} SBC_CACHE_ALIGNED;

/* ---- sessions ------------------------------------------------------------- */

#define SES_PENDING   (1u << 0) /* an offer waits for its answer */
#define SES_ANSWERED  (1u << 1) /* an answer was applied (answer_side valid) */
#define SES_CONFIRMED (1u << 2)
#define SES_FORK      (1u << 3) /* created by media_session_fork */

struct media_session {
	uint32_t stream[SDP_MAX_MEDIA]; /* stream index per m= line, MEDIA_NONE */
	uint16_t realm[2];
	uint8_t nmedia;                 /* m= lines of the last SDP */
	uint8_t flags;                  /* SES_* */
	uint8_t offer_side;             /* side of the last (or pending) offer */
	uint8_t answer_side;
	uint8_t undo_nmedia;
	uint8_t undo_offer_side;
	uint64_t sdp_ms;                /* last offer/answer */
};

/* ---- the shard ------------------------------------------------------------ */

struct media_realm {
	struct media_ports *ports;      /* NULL: realm without media */
	uint32_t *tab;                  /* per slot: stream index << 1 | leg, MEDIA_NONE */
	uint32_t flags;                 /* MEDIA_RF_* */
	enum sdp_addrtype type;
	uint8_t iplen;
	char ip[MEDIA_IP_MAX];
};

struct media {
	uint32_t worker, nworkers, nrealms;
	struct pool *sessions;
	struct media_stream *streams;
	uint32_t nstreams, streams_used, stream_free;
	struct media_counters ctr;
	media_port_hook port_hook;      /* media_conf.port_hook, NULL: none */
	void *port_ctx;
	struct media_realm realm[MEDIA_MAX_REALMS];
};

static inline struct media_stream *stream_at(const struct media *m, uint32_t idx)
{
	return &m->streams[idx];
}

static inline uint32_t stream_idx(const struct media *m, const struct media_stream *st)
{
	return (uint32_t)(st - m->streams);
}

/* Is st in a fork chain (sharing the ports of leg st->shared)? */
static inline bool stream_chained(const struct media *m, const struct media_stream *st)
{
	return st->fork_next != MEDIA_NONE || st->fork_head != stream_idx(m, st);
}

static inline bool addr_known(const union sbc_sockaddr *a)
{
	return a->sa.sa_family == AF_INET || a->sa.sa_family == AF_INET6;
}

/* session.c */
struct media_stream *stream_new(struct media *m, struct media_session *s, unsigned index);
int leg_alloc(struct media *m, struct media_stream *st, unsigned leg, bool single);
int leg_alloc_rtcp(struct media *m, struct media_stream *st, unsigned leg);
void leg_release_rtcp(struct media *m, struct media_stream *st, unsigned leg);
void stream_free(struct media *m, struct media_session *s, struct media_stream *st);
void session_tidy(struct media *m, struct media_session *s);

/* relay.c */
void rx_reset(struct media_rx *rx);

#endif /* SBC_MEDIA_INT_H */
