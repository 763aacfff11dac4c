/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/media — the I/O-agnostic core of media anchoring: relay port pools,
 * media sessions driven by SDP offer/answer, and the per-packet relay
 * decision with RTP statistics. No socket anywhere: the worker hands in
 * packets (source, local port, bytes) and gets back where to send them.
 *
 * Ownership and threads
 *   A struct media is one worker's media shard: its slice of every realm's
 *   port range, its sessions and streams, its counters. Every call on it
 *   and on its sessions happens on that worker's thread; nothing is locked.
 *   All memory is allocated by media_create(); nothing allocates after.
 *   The library never logs and never reads a clock (callers pass now_ms /
 *   rx_us on the monotonic clock of lib/util/clock.h).
 *
 * Ports
 *   A realm's range [first, last] is cut into pairs (first + 2p, +1): RTP on
 *   the even port, RTCP on the odd one. Pair p belongs to worker p mod N,
 *   so any thread finds a port's owner with media_port_owner() and no
 *   table. A worker hands out whole pairs, or single ports for streams
 *   that must use rtcp-mux (RFC 8858 rtcp-mux-only) by splitting a pair;
 *   two free halves merge back. Allocation and release are O(1); free
 *   ports are reused FIFO, so a released port rests as long as possible
 *   before it carries another call (stray packets of the old call then find
 *   an unknown port, not a new call to latch). An odd last port of the
 *   range (no partner) is never used.
 *
 * Sessions and streams
 *   One media session per dialog (and per forked early dialog). A session
 *   has up to SDP_MAX_MEDIA streams, one per m= line; a stream has two legs:
 *   leg A faces the caller's realm, leg B the callee's. Each leg has its
 *   own local relay port(s) on its realm, the address its peer advertised
 *   in SDP, and the source it was latched to. Sessions and streams come from
 *   fixed per-worker pools; a port maps to (stream, leg) through an array
 *   indexed by the port's slot in this worker's slice: no hashing.
 *
 * Offer/answer (media_sdp)
 *   The caller parses the body (sdp_parse, sdp_check: 400/488 are theirs),
 *   then calls media_sdp() with the side it came from and whether it is an
 *   offer or an answer; every SIP exchange maps onto that: INVITE/2xx/ACK,
 *   an offer in 2xx answered in ACK, 18x (reliable or not) then 2xx
 *   repeating the answer, PRACK, UPDATE, re-INVITE. It allocates what the
 *   offer needs and fills the struct sdp_rewrite for sdp_rewrite() to
 *   serialize the body for the other side:
 *     - o= address and c= (session or media level) become the SBC's media
 *       address on the realm the body goes to; m= ports and a=rtcp ports
 *       become the leg's relay ports; ICE attributes are stripped towards a
 *       realm with MEDIA_RF_STRIP_ICE / _CANDIDATES. Nothing else changes.
 *     - A re-offer keeps the ports a stream has. A new m= line, or a port-0
 *       slot reused, gets new ports. A port-0 m= line in an offer releases
 *       its stream when the answer comes; a stream the answer refuses
 *       (port 0) stops relaying at once and gives its ports back when the
 *       dialog is confirmed (forks may still need them, see below).
 *     - Until the answer, the offer is pending: media_sdp_reject() puts the
 *       session back as it was (a 488 or 491 to a re-INVITE, a failed
 *       UPDATE), releasing what the offer allocated.
 *     - The o= sess-version passes through: the SBC's rewrite of a body
 *       changes only when the body changes (ports are stable), so the
 *       originator's version numbering stays right (RFC 3264 8).
 *
 * Hold (RFC 3264 8.4, RFC 6337 5)
 *   Direction attributes pass through untouched and the relay does not
 *   enforce them: the endpoints own the direction, and RTCP flows even on an
 *   inactive stream (RFC 3264 5.1), so dropping by direction would break it.
 *   c=0.0.0.0 (or ::), the RFC 2543 way, means "do not send to me": it is
 *   kept as 0.0.0.0 towards the other side, so the other endpoint stops
 *   sending too (no bandwidth wasted on the relay), and the relay drops what
 *   would go to the held leg (MEDIA_DROP_HOLD). The m= port is still
 *   rewritten to the relay port so that resume does not change it. The
 *   leg's last real address and latch survive the hold: resuming with the
 *   same address does not re-open latching. With ICE, 0.0.0.0 is not hold
 *   (RFC 8839); the address is just unknown until latched.
 *
 * rtcp-mux (RFC 5761, RFC 8858)
 *   a=rtcp-mux passes through, so both endpoints agree on it through the
 *   SBC. An offer with a=rtcp-mux still gets pairs: its answer may refuse
 *   mux (RFC 5761 5.1.3), and so may the answer to any later offer, so the
 *   RTCP port stays reserved for the whole call; releasing it when mux is
 *   agreed would mean a new a=rtcp port in every later offer, a changed
 *   body under an unchanged o= version. Only an offer with
 *   a=rtcp-mux-only, where refusing mux means refusing the stream, gets
 *   single ports; a later offer without it gets an RTCP port again,
 *   announced with a=rtcp (RFC 3605) when it is not RTP + 1. On a port that
 *   may carry mux, a packet whose second byte is in 192..223 is RTCP (RFC
 *   5761 4: this covers SR/RR/SDES/BYE/APP 200-204 and the feedback and XR
 *   types 205-207 that a narrower test would count as RTP).
 *
 * Forks
 *   A forked INVITE reaches several UAS with the same offer, so they all
 *   send to the same relay ports (the offer's "other side" leg). Each early
 *   dialog answering gets its own session with media_session_fork(): a copy
 *   of the offer side with its own ports on the offerer's side (each answer
 *   to the offerer names a different relay port, so the offerer's media can
 *   be steered per dialog) and the shared ports on the answerers' side.
 *   Packets on a shared port go to the fork whose answer (or latch) matches
 *   the source address, else to the one whose SDP IP matches; otherwise they
 *   are dropped (MEDIA_DROP_FORK_SOURCE). media_session_confirm() on the
 *   2xx makes that session the sole owner of the shared ports; the other
 *   forks stop relaying and are freed by the caller when their dialogs end.
 *   Freeing any member of a fork group never frees ports another member
 *   still uses. (An early dialog that makes its own offer, after an
 *   INVITE without SDP, is not a fork of anything: media_session_new().)
 *
 * Latching and strict source checking
 *   Until a packet says otherwise a leg's media goes to the address its
 *   SDP advertised. The first packet from elsewhere latches the leg (RTP
 *   and RTCP separately): the relay then sends that leg's media to the
 *   latched source (symmetric RTP behind NAT) and accepts no other source
 *   (MEDIA_DROP_SOURCE) until a new SDP changes the leg's address, except
 *   the SDP address itself, which always takes the latch back: a stray or
 *   forged first packet cannot keep a non-NATed endpoint's media. Behind a
 *   NAT nothing can tell the first packet of an attacker who guessed the
 *   port from the endpoint's (the "RTP bleed" race); FIFO port reuse makes
 *   guessing harder, MEDIA_RF_STRICT removes the race where there is no
 *   NAT: a strict leg never latches, accepts only its SDP address (port
 *   included) and sends there (trusted cores).
 *
 * Statistics
 *   Per leg, of what its peer sends: packets and bytes (RTP and RTCP),
 *   cumulative loss from RTP sequence numbers (RFC 3550 A.3 with A.1's
 *   wrap, reordering and re-sync rules), interarrival jitter (RFC 3550 A.8)
 *   with the clock rate of the payload type's rtpmap (static types per RFC
 *   3551; 8000 for unknown audio, 90000 for unknown video).
 *
 * Errors (STYLE 8)
 *   Constructors return NULL. Control functions return 0 or a negative
 *   errno: -ENOSPC no ports or streams (answer 503 + Retry-After), -EPROTO
 *   the SDP breaks offer/answer (488 for a request; tear down for a
 *   response), -EBUSY an offer while the other side's offer is pending
 *   (491), -EINVAL a bad argument. The relay returns counts and a reason
 *   per dropped packet, also counted in media_counters().
 */
#ifndef SBC_MEDIA_H
#define SBC_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "sdp.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MEDIA_MUST_CHECK __attribute__((warn_unused_result))

#define MEDIA_MAX_REALMS   64u   /* = SBC_MAX_REALMS */
#define MEDIA_MAX_WORKERS  256u  /* = SBC_MAX_WORKERS */
#define MEDIA_MAX_FORKS    8u    /* early dialogs sharing one offer's ports */
#define MEDIA_IP_MAX       46u   /* INET6_ADDRSTRLEN */
#define MEDIA_NONE         UINT32_MAX

/* ---- ports ---------------------------------------------------------------- */

/* Worker owning a relay port of a range starting at first (port >= first):
 * what the I/O layer uses to steer an RTP packet to its shard. */
static inline uint32_t media_port_owner(uint16_t port, uint16_t first, uint32_t nworkers)
{
	return ((uint32_t)(port - first) >> 1) % nworkers;
}

/* One worker's slice of a realm's port range. */
struct media_ports;

/* first must be even, first < last, worker < nworkers <= MEDIA_MAX_WORKERS.
 * NULL for bad arguments or out of memory. A slice may be empty (more
 * workers than pairs): every allocation then fails. */
struct media_ports *media_ports_create(uint16_t first, uint16_t last, uint32_t worker,
				       uint32_t nworkers) MEDIA_MUST_CHECK;
void media_ports_destroy(struct media_ports *p); /* NULL ok */

/* An even port whose odd partner is also taken, or -ENOSPC. */
int media_ports_alloc_pair(struct media_ports *p) MEDIA_MUST_CHECK;
/* One port (even or odd), or -ENOSPC. Uses a free half first. */
int media_ports_alloc_one(struct media_ports *p) MEDIA_MUST_CHECK;
/* Release one port (free both ports of a pair to release the pair).
 * Ignores a port that is not this slice's or not in use (counted in
 * media_ports_bad_frees(): a bug upstream, never a corruption here). */
void media_ports_free(struct media_ports *p, uint16_t port);

uint32_t media_ports_in_use(const struct media_ports *p);   /* ports */
uint32_t media_ports_capacity(const struct media_ports *p); /* ports of this slice */
uint64_t media_ports_bad_frees(const struct media_ports *p);
/* Slot of port in this slice (0 .. capacity-1), or -1 if not this slice's. */
int32_t media_ports_slot(const struct media_ports *p, uint16_t port);

/* ---- the worker's media shard -------------------------------------------- */

/* Realm flags. */
#define MEDIA_RF_STRIP_CANDIDATES (1u << 0) /* SDP to this realm: no a=candidate */
#define MEDIA_RF_STRIP_ICE        (1u << 1) /* SDP to this realm: no ICE at all */
#define MEDIA_RF_STRICT           (1u << 2) /* legs here: SDP source only, no latching */

struct media_realm_conf {
	const char *ip;          /* media address, literal IPv4/IPv6 (copied); NULL: no media */
	uint16_t port_first;     /* even */
	uint16_t port_last;
	uint32_t flags;          /* MEDIA_RF_* */
};

/* A relay port of this worker's slice was taken (in_use true) or given
 * back (false): the daemon opens or closes its socket there (sbc/io.h,
 * media_open). Called on the worker's thread from inside media_sdp(),
 * media_sdp_reject(), media_session_fork(), media_session_confirm() and
 * media_session_free(); it must not call back into the library. It cannot
 * refuse: a caller whose open failed rolls the operation back with the
 * public API (media_sdp_reject, media_session_free), which gives the port
 * back through the hook again. Ports a fork shares change owner without a
 * call: they stay in use until the last member lets them go. */
typedef void (*media_port_hook)(void *ctx, uint32_t realm, uint16_t port, bool in_use);

struct media_conf {
	uint32_t worker;         /* this worker's id, < nworkers */
	uint32_t nworkers;
	uint32_t max_sessions;   /* per worker */
	uint32_t max_streams;    /* per worker; 0: 2 per session (audio + video) */
	uint32_t nrealms;        /* <= MEDIA_MAX_REALMS */
	const struct media_realm_conf *realms;
	media_port_hook port_hook; /* NULL: none */
	void *port_ctx;
};

struct media;
struct media_session;

struct media *media_create(const struct media_conf *c) MEDIA_MUST_CHECK;
void media_destroy(struct media *m); /* NULL ok; sessions still open are gone */

/* The realm's port slice (for metrics); NULL for a realm without media. */
const struct media_ports *media_realm_ports(const struct media *m, uint32_t realm);

/* ---- sessions ------------------------------------------------------------- */

enum media_side { MEDIA_SIDE_A = 0, MEDIA_SIDE_B = 1 };
enum media_sdp_kind { MEDIA_OFFER = 0, MEDIA_ANSWER };

/* A session between realm_a (the caller's side) and realm_b. NULL when the
 * pool is full (503) or a realm has no media address. */
struct media_session *media_session_new(struct media *m, uint32_t realm_a, uint32_t realm_b,
					uint64_t now_ms) MEDIA_MUST_CHECK;

/* Release the session and every port it owns. NULL ok. Any packet still
 * in flight for its ports is dropped as MEDIA_DROP_UNKNOWN_PORT. */
void media_session_free(struct media *m, struct media_session *s);

/* Compact handle for the dialog (and HA records): index <-> session. */
uint32_t media_session_idx(const struct media *m, const struct media_session *s);
/* NULL when idx is not a live session (forged, or stale with no successor
 * yet: indices are reused, so the owner drops its handle on free). */
struct media_session *media_session_at(const struct media *m, uint32_t idx);

/*
 * Apply an SDP body from side `from` and fill *rw (fully overwritten) for
 * the copy that goes to the other side. s must come from sdp_parse() and
 * sdp_check(). An answer with no offer pending re-applies the last answer
 * (a 2xx repeating the 18x's answer, a retransmission) and must come from
 * the same side. Returns 0, -ENOSPC (no ports/streams: 503), -EPROTO
 * (answer without a matching offer, m= count differs, a stream enabled by
 * the answer alone: 488 / tear down), -EBUSY (the other side's offer is
 * pending: 491), -EINVAL. On error the session is unchanged.
 */
int media_sdp(struct media *m, struct media_session *s, enum media_side from,
	      enum media_sdp_kind kind, const struct sdp *sdp, uint64_t now_ms,
	      struct sdp_rewrite *rw) MEDIA_MUST_CHECK;

/* The pending offer failed (non-2xx to the re-INVITE/UPDATE/PRACK that
 * carried it, or its answer was unusable): restore the session as it was
 * before the offer. No-op without a pending offer. */
void media_sdp_reject(struct media *m, struct media_session *s);

/* Is an offer waiting for its answer? */
bool media_sdp_pending(const struct media_session *s);

/* The side whose offer is pending, or -1 when none: lets the caller tell
 * an answer from a new offer where SIP does not say (an SDP in a 2xx, a
 * PRACK). */
int media_sdp_offer_side(const struct media_session *s);

/* Has an answer ever completed an offer/answer exchange of s? */
bool media_sdp_answered(const struct media_session *s);

/*
 * A new early dialog of a forked offer: a session that copies the offer
 * side of parent (remote addresses, latches, formats), has new ports on
 * the offerer's side and shares the parent's ports on the answerers' side,
 * with the offer pending so the fork's answer goes to media_sdp(). NULL
 * when pools or ports are exhausted or MEDIA_MAX_FORKS is reached.
 */
struct media_session *media_session_fork(struct media *m, struct media_session *parent,
					 uint64_t now_ms) MEDIA_MUST_CHECK;

/* The dialog of s is confirmed (2xx): s becomes the sole owner of ports
 * shared with other forks (those stop relaying), and the ports of streams
 * its answer refused go back to the pool. */
void media_session_confirm(struct media *m, struct media_session *s);

/* Milliseconds since the later of the session's last accepted packet (RTP
 * or RTCP, any stream, either way) and its last offer/answer; 0 if now is
 * earlier. With media_session_on_hold() the daemon picks its timeout: RTP
 * legitimately stops on hold, where the SIP session timer (RFC 4028) is
 * the better judge. */
uint64_t media_session_idle_ms(const struct media *m, const struct media_session *s,
			       uint64_t now_ms);

/* Every active stream is on hold from at least one side (sendonly,
 * recvonly, inactive or c=0.0.0.0 in the last SDP from either side). */
bool media_session_on_hold(const struct media *m, const struct media_session *s);

/* ---- statistics ----------------------------------------------------------- */

/* What one leg's peer sent to the SBC. */
struct media_leg_stats {
	uint64_t packets, bytes;           /* RTP accepted */
	uint64_t rtcp_packets, rtcp_bytes; /* RTCP accepted */
	uint64_t dropped;                  /* refused: source check, hold, no destination */
	uint64_t lost;                     /* RFC 3550 cumulative loss, all SSRCs, >= 0 */
	uint32_t jitter;                   /* RFC 3550 A.8, RTP timestamp units */
	uint32_t jitter_us;                /* the same in microseconds */
	uint32_t ssrc;                     /* current SSRC */
	uint32_t clock;                    /* clock rate of the last RTP packet */
	uint64_t last_rx_ms;               /* 0: nothing received yet */
	uint16_t local_rtp_port;           /* relay port(s) on the leg's realm */
	uint16_t local_rtcp_port;          /* 0: rtcp-mux on the RTP port */
	bool latched;                      /* RTP source latched */
	bool hold;                         /* the peer's last SDP said c=0.0.0.0 */
	uint8_t dir;                       /* enum sdp_dir of the peer's last SDP */
	union sbc_sockaddr remote;         /* where RTP goes (latched, else SDP) */
};

struct media_stream_stats {
	uint8_t index;                     /* m= line */
	bool active;                       /* relaying */
	bool rtcp_mux;                     /* negotiated */
	struct media_leg_stats leg[2];     /* [MEDIA_SIDE_A], [MEDIA_SIDE_B] */
};

struct media_stats {
	uint32_t nstreams;
	struct media_stream_stats stream[SDP_MAX_MEDIA];
};

void media_session_stats(const struct media *m, const struct media_session *s,
			 struct media_stats *out);

/* ---- relay ---------------------------------------------------------------- */

/* Drop reasons: one table for metrics labels (STYLE 11). */
#define MEDIA_DROPS(X)                                                           \
	X(NONE,         "forwarded")                                             \
	X(BAD_REALM,    "realm index out of range or without media")            \
	X(NOT_OURS,     "port outside this worker's slice (steering bug)")      \
	X(UNKNOWN_PORT, "port not allocated to any stream")                      \
	X(DISABLED,     "stream removed, refused, or a fork that lost")          \
	X(SHORT,        "shorter than an RTP/RTCP header")                       \
	X(NOT_RTP,      "neither RTP/RTCP version 2 nor DTLS (STUN, junk)")     \
	X(STRICT,       "strict leg: source is not the SDP address")            \
	X(SOURCE,       "latched leg: source is neither latch nor SDP address") \
	X(FORK_SOURCE,  "shared fork port: source matches no fork")              \
	X(NO_DEST,      "other leg's address unknown (no SDP, no latch)")        \
	X(HOLD,         "other leg is on hold (c=0.0.0.0)")

enum media_drop {
#define MEDIA_DROP_ENUM(name, text) MEDIA_DROP_##name,
	MEDIA_DROPS(MEDIA_DROP_ENUM)
#undef MEDIA_DROP_ENUM
	MEDIA_DROP__COUNT
};
const char *media_drop_name(enum media_drop d); /* "SOURCE"; "?" out of range */

/* A received packet. src and data stay the caller's; src must point at a
 * whole union sbc_sockaddr (a latch copies all of it). */
struct media_pkt {
	const union sbc_sockaddr *src;
	const uint8_t *data;          /* UDP payload */
	uint32_t len;
	uint16_t port;                /* local port it arrived on */
	uint16_t realm;               /* realm of the local address it arrived on */
	uint64_t rx_us;               /* arrival, monotonic microseconds */
};

/* What a forwarded packet is (RFC 7983 demultiplexing). */
enum media_pkt_kind {
	MEDIA_PKT_RTP = 0,
	MEDIA_PKT_RTCP,
	MEDIA_PKT_DTLS,               /* DTLS-SRTP handshake, passed end to end */
	MEDIA_PKT__COUNT
};

/* The decision for one packet: forward out of (realm, port) to dst, or drop. */
struct media_fwd {
	uint8_t drop;                 /* enum media_drop; MEDIA_DROP_NONE = forward */
	uint8_t kind;                 /* enum media_pkt_kind, when forwarded */
	uint16_t realm;               /* send from this realm's media address */
	uint16_t port;                /* ... and this local port */
	union sbc_sockaddr dst;
};

/* Packets decided together (any n works; larger bursts are cut). */
#define MEDIA_BURST_MAX 32u

/* Decide n packets: fills out[0..n-1], returns how many are forwarded.
 * Counts and statistics are updated; the payload is never modified. The
 * verdicts copy the destination, so they stay valid whatever the caller
 * does to sessions afterwards. */
unsigned media_relay(struct media *m, const struct media_pkt *pkts, struct media_fwd *out,
		     unsigned n);

struct media_counters {
	uint64_t rx_packets;               /* every packet given to media_relay */
	uint64_t fwd[MEDIA_PKT__COUNT];    /* forwarded, by enum media_pkt_kind */
	uint64_t fwd_bytes;
	uint64_t drop[MEDIA_DROP__COUNT];  /* [MEDIA_DROP_NONE] unused */
	uint64_t no_ports;                 /* allocations refused: ports */
	uint64_t no_streams;               /* allocations refused: stream pool */
	uint64_t no_sessions;              /* media_session_new/fork refused */
	uint64_t sdp_errors;               /* media_sdp() returned -EPROTO/-EBUSY */
};
const struct media_counters *media_counters(const struct media *m);

uint32_t media_sessions_in_use(const struct media *m);
uint32_t media_streams_in_use(const struct media *m);

#ifdef __cplusplus
}
#endif
#endif /* SBC_MEDIA_H */
