/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * perf/loadgen/rtp — optional RTP streams per call (--rtp).
 *
 * Shape: one RTP socket per worker, whatever the number of calls. Every
 * SDP the worker sends advertises that socket's port, so thousands of
 * calls share it; the per-call state is a pool entry (struct lg_stream,
 * ~200 bytes with its timer) and up to three index keys in one htab:
 *   'S' + SSRC    the peer's SSRC. Both ends derive a call's two SSRCs from
 *                 its Call-ID (a fixed-key SipHash, one half per role), so
 *                 UAC -> UAS directly every packet is found by its SSRC.
 *   'A' + addr    the remote address the call sends to. Through a B2BUA
 *                 that rewrites the Call-ID (the sbc with hide_topology),
 *                 the SSRC is unknown in advance, but a media-anchoring
 *                 device sends each call from its own relay port, which is
 *                 the address its SDP gave: the first packet is found by
 *                 source address and its SSRC is then learned (rekeyed),
 *                 so later packets need one lookup. Where many calls share
 *                 one remote address (direct mode) the newest holds the
 *                 key; a stream refuses to be re-bound to a second SSRC.
 *   'C' + hash    uas: the Call-ID's keyed hash, to find the stream at the
 *                 ACK (start sending) and the BYE (stop).
 * Why not a socket per call: 2000 calls would be 2000 fds and a syscall per
 * packet; here receiving is recvmmsg of up to 256 datagrams and sending a
 * sendmmsg per millisecond tick.
 *
 * Pacing: streams are spread over the ptime by the millisecond they start
 * (ptime lists of streams, one per phase); every loop iteration sends the
 * lists of the milliseconds elapsed since the last, so the wire sees a
 * smooth 1/ptime of the streams each millisecond rather than one burst per
 * ptime. The RTP timestamp is the send tick in 8 kHz units from the
 * stream's start, so a late tick shows as jitter, as it would on a phone.
 *
 * Packets are real RTP (V=2, PT 0 PCMU, marker on the first, sequence,
 * timestamp, SSRC), so a relay's RFC 3550 statistics mean something. The
 * payload (PCMU silence, 0xff) begins with "LGR1" and the number of
 * packets this end has received on the call so far: an in-band receiver
 * report that lets each end tell, per call, whether its own media arrived
 * (RTCP would need a second socket and port per worker).
 *
 * Judgement at a stream's end (BYE): nothing received = media_not_received;
 * received, but the peer never reported receiving what we sent =
 * media_not_delivered. Streams shorter than 3 ptime + 250 ms are not
 * judged (the first report cannot have made the round trip).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lg.h"
#include "sdp.h"

#define RTP_BATCH   256u      /* datagrams per recvmmsg / sendmmsg */
#define RTP_RX_SLOT 2048u     /* larger datagrams are truncated and counted as bad */
#define RTP_HDR     12u
#define RTP_MAGIC   "LGR1"
#define RTP_REPORT  8u        /* magic + received count */
#define RTP_RX_ROUNDS 8u      /* recvmmsg calls per poll at most, then SIP gets a turn */
#define RTP_NONE    UINT32_MAX
#define RTP_CATCHUP_MS 200u   /* packets owed for longer are not sent */

enum {
	SF_SENDING = 1u << 0,  /* on a send list */
	SF_KEY_S = 1u << 1,
	SF_KEY_A = 1u << 2,
	SF_KEY_C = 1u << 3,
	SF_BOUND = 1u << 4,    /* has received: its SSRC is fixed */
	SF_HELD = 1u << 5,     /* uas: the peer put us on hold (its offer sendonly) */
	SF_ACKED = 1u << 6,    /* uas: the 2xx was ACKed */
};

struct lg_stream {
	struct wheel_timer t_idle;     /* uas: ends a stream whose BYE never came */
	union sbc_sockaddr dst;        /* remote RTP address from the SDP */
	uint64_t h_s, h_a, h_c;        /* htab hashes of the keys held */
	uint64_t cid_h;                /* uas: keyed hash of the Call-ID */
	uint64_t t_start_ms, last_rx_ms;
	uint32_t next, prev;           /* send list of its phase */
	uint32_t ssrc_tx, ssrc_rx;
	uint32_t ts0;
	uint32_t tx, rx, counted, peer_rx, late, dup;
	uint32_t base_ext, max_ext;    /* extended sequence numbers */
	uint64_t win;                  /* bit i: max_ext - i was received */
	uint32_t transit, jitter;      /* RFC 3550 A.8; jitter scaled by 16 */
	uint16_t seq;
	uint16_t phase;
	uint16_t flags;
	bool have_transit;
};

struct lg_rtp {
	int fd;
	struct pool *pool;
	struct htab *tab;
	uint32_t *lists;               /* ptime heads */
	uint32_t ptime, plen;          /* ms, payload bytes */
	uint32_t sending;              /* streams on the lists */
	uint64_t last_tick_ms;
	uint32_t ntx;
	struct mmsghdr tx_mh[RTP_BATCH];
	struct iovec tx_iov[RTP_BATCH];
	union sbc_sockaddr tx_addr[RTP_BATCH];
	uint8_t *tx_buf;
	struct mmsghdr rx_mh[RTP_BATCH];
	struct iovec rx_iov[RTP_BATCH];
	union sbc_sockaddr rx_addr[RTP_BATCH];
	uint8_t *rx_buf;
};

/* Both ends must derive the same SSRCs from a Call-ID without sharing a
 * secret: a fixed key. The index itself is still hashed with the worker's
 * random key, so a peer choosing SSRCs cannot flood it. */
static const struct sbc_hash_key ssrc_key = { 0x6c672d7274702d31ull, 0x737372632d6b6579ull };

static void ssrc_pair(const char *cid, uint32_t len, bool uac, uint32_t *tx, uint32_t *rx)
{
	uint64_t h = sbc_siphash13(&ssrc_key, cid, len);
	uint32_t lo = (uint32_t)h, hi = (uint32_t)(h >> 32);

	if (hi == lo)
		hi ^= 1;   /* the two directions never share an SSRC */
	*tx = uac ? lo : hi;
	*rx = uac ? hi : lo;
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* ---- index keys ----------------------------------------------------------- */

struct key {
	uint8_t b[20];
	uint32_t len;
};

static void key_ssrc(struct key *k, uint32_t ssrc)
{
	k->b[0] = 'S';
	memcpy(k->b + 1, &ssrc, 4);
	k->len = 5;
}

static void key_addr(struct key *k, const union sbc_sockaddr *a)
{
	k->b[0] = 'A';
	if (a->sa.sa_family == AF_INET6) {
		memcpy(k->b + 1, &a->v6.sin6_port, 2);
		memcpy(k->b + 3, &a->v6.sin6_addr, 16);
		k->len = 19;
	} else {
		memcpy(k->b + 1, &a->v4.sin_port, 2);
		memcpy(k->b + 3, &a->v4.sin_addr, 4);
		k->len = 7;
	}
}

static void key_cid(struct key *k, uint64_t h)
{
	k->b[0] = 'C';
	memcpy(k->b + 1, &h, 8);
	k->len = 9;
}

static bool stream_eq(void *ctx, uint32_t val, const void *key, size_t len)
{
	const struct lg_stream *s = pool_at(ctx, val);
	const uint8_t *kb = key;
	struct key mine;

	switch (kb[0]) {
	case 'S':
		if (!(s->flags & SF_KEY_S))
			return false;
		key_ssrc(&mine, s->ssrc_rx);
		break;
	case 'A':
		if (!(s->flags & SF_KEY_A))
			return false;
		key_addr(&mine, &s->dst);
		break;
	case 'C':
		if (!(s->flags & SF_KEY_C))
			return false;
		key_cid(&mine, s->cid_h);
		break;
	default:
		return false;
	}
	return mine.len == len && memcmp(mine.b, key, len) == 0;
}

/* Insert k for s; on a clash (another stream has it) s goes without. */
static bool key_add(struct lg_rtp *r, struct lg_stream *s, const struct key *k, uint16_t flag,
		    uint64_t *h)
{
	*h = htab_hash(r->tab, k->b, k->len);
	s->flags |= flag;   /* before insert: eq may be asked about s */
	if (htab_insert_h(r->tab, *h, k->b, k->len, pool_idx(r->pool, s)) < 0) {
		s->flags &= (uint16_t)~flag;
		return false;
	}
	return true;
}

static void key_del(struct lg_rtp *r, struct lg_stream *s, uint16_t flag, uint64_t h)
{
	if (!(s->flags & flag))
		return;
	(void)htab_remove_val(r->tab, h, pool_idx(r->pool, s));
	s->flags &= (uint16_t)~flag;
}

static struct lg_stream *find(const struct lg_rtp *r, const struct key *k)
{
	uint32_t i = htab_find(r->tab, k->b, k->len);

	return i == HTAB_NONE ? NULL : pool_at(r->pool, i);
}

/* ---- set-up ----------------------------------------------------------------- */

int lg_rtp_open(struct lg_worker *w)
{
	const struct lg_opts *o = w->o;
	struct lg_rtp *r;
	union sbc_sockaddr a = o->local;
	socklen_t alen = a.sa.sa_family == AF_INET6 ? sizeof(a.v6) : sizeof(a.v4);
	uint32_t cap = o->role == LG_UAC ? w->max_concurrent : w->rtp_streams;
	size_t slot = RTP_HDR + o->rtp_payload;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	w->rtp = r;
	r->fd = -1;
	r->ptime = o->rtp_ptime;
	r->plen = o->rtp_payload;
	r->pool = pool_create(cap ? cap : 1, sizeof(struct lg_stream), 64);
	r->tab = r->pool ? htab_create(3 * (cap ? cap : 1), &w->key, stream_eq, r->pool) : NULL;
	r->lists = malloc(sizeof(uint32_t) * r->ptime);
	r->tx_buf = malloc(RTP_BATCH * slot);
	r->rx_buf = malloc((size_t)RTP_BATCH * RTP_RX_SLOT);
	if (!r->tab || !r->lists || !r->tx_buf || !r->rx_buf)
		return -ENOMEM;
	for (uint32_t i = 0; i < r->ptime; i++)
		r->lists[i] = RTP_NONE;
	/* PCMU silence; send_one writes only the header and the report. */
	memset(r->tx_buf, 0xff, RTP_BATCH * slot);
	for (unsigned i = 0; i < RTP_BATCH; i++) {
		r->tx_iov[i].iov_base = r->tx_buf + i * slot;
		r->tx_mh[i].msg_hdr.msg_iov = &r->tx_iov[i];
		r->tx_mh[i].msg_hdr.msg_iovlen = 1;
		r->tx_mh[i].msg_hdr.msg_name = &r->tx_addr[i];
		r->rx_iov[i].iov_base = r->rx_buf + (size_t)i * RTP_RX_SLOT;
		r->rx_iov[i].iov_len = RTP_RX_SLOT;
		r->rx_mh[i].msg_hdr.msg_iov = &r->rx_iov[i];
		r->rx_mh[i].msg_hdr.msg_iovlen = 1;
		r->rx_mh[i].msg_hdr.msg_name = &r->rx_addr[i];
	}
	r->fd = socket(a.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->fd < 0)
		return -errno;
	lg_net_bufs(r->fd);
	/* Every thread its own port (PORT + id): a call's media must come
	 * back to the thread that holds the call, which SO_REUSEPORT's
	 * 4-tuple spreading would not guarantee. */
	sbc_addr_set_port(&a, o->rtp_port ? (uint16_t)(o->rtp_port + w->id) : 0);
	if (bind(r->fd, &a.sa, alen) < 0)
		return -errno;
	alen = sizeof(a);
	if (getsockname(r->fd, &a.sa, &alen) < 0)
		return -errno;
	w->rtp_port = sbc_addr_port(&a);
	return 0;
}

void lg_rtp_close(struct lg_worker *w)
{
	struct lg_rtp *r = w->rtp;

	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	htab_destroy(r->tab);
	pool_destroy(r->pool);
	free(r->lists);
	free(r->tx_buf);
	free(r->rx_buf);
	free(r);
	w->rtp = NULL;
}

/* ---- sending ------------------------------------------------------------------ */

static void list_add(struct lg_rtp *r, struct lg_stream *s)
{
	uint32_t i = pool_idx(r->pool, s), *head = &r->lists[s->phase];

	s->prev = RTP_NONE;
	s->next = *head;
	if (*head != RTP_NONE)
		((struct lg_stream *)pool_at(r->pool, *head))->prev = i;
	*head = i;
	s->flags |= SF_SENDING;
	r->sending++;
}

static void list_del(struct lg_rtp *r, struct lg_stream *s)
{
	if (!(s->flags & SF_SENDING))
		return;
	if (s->prev != RTP_NONE)
		((struct lg_stream *)pool_at(r->pool, s->prev))->next = s->next;
	else
		r->lists[s->phase] = s->next;
	if (s->next != RTP_NONE)
		((struct lg_stream *)pool_at(r->pool, s->next))->prev = s->prev;
	s->flags &= (uint16_t)~SF_SENDING;
	r->sending--;
}

/* Begin sending at the next millisecond tick; that tick's phase is the
 * stream's for the rest of the call. */
static void start_tx(struct lg_worker *w, struct lg_stream *s)
{
	struct lg_rtp *r = w->rtp;

	if ((s->flags & SF_SENDING) || w->o->rtp_mute)
		return;
	s->t_start_ms = w->now_ms + 1;
	if (r->last_tick_ms < w->now_ms && r->sending == 0)
		r->last_tick_ms = w->now_ms;   /* idle lists: no stale ticks to replay */
	s->phase = (uint16_t)(s->t_start_ms % r->ptime);
	list_add(r, s);
}

static void rtp_flush(struct lg_worker *w)
{
	struct lg_rtp *r = w->rtp;
	unsigned i = 0;
	bool waited = false;

	while (i < r->ntx) {
		int n = sendmmsg(r->fd, r->tx_mh + i, r->ntx - i, 0);

		if (n > 0) {
			i += (unsigned)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
			struct pollfd p = { .fd = r->fd, .events = POLLOUT };

			if (!waited && poll(&p, 1, 2) == 1) {
				waited = true;
				continue;
			}
			/* Lost like on a congested link: the receiver counts it. */
			w->st.m.tx_dropped += r->ntx - i;
			break;
		}
		w->st.m.tx_dropped++;
		i++;
	}
	r->ntx = 0;
}

static void send_one(struct lg_worker *w, struct lg_stream *s, uint64_t tick_ms)
{
	struct lg_rtp *r = w->rtp;
	uint8_t *p;
	unsigned i;

	if (r->ntx == RTP_BATCH)
		rtp_flush(w);
	i = r->ntx++;
	p = r->tx_iov[i].iov_base;
	p[0] = 0x80;
	p[1] = s->tx == 0 ? 0x80 : 0x00;   /* marker: start of a talkspurt; PT 0 */
	p[2] = (uint8_t)(s->seq >> 8);
	p[3] = (uint8_t)s->seq;
	wr32(p + 4, s->ts0 + (uint32_t)((tick_ms - s->t_start_ms) * 8u));
	wr32(p + 8, s->ssrc_tx);
	if (r->plen >= RTP_REPORT) {
		memcpy(p + RTP_HDR, RTP_MAGIC, 4);
		wr32(p + RTP_HDR + 4, s->counted);
	}
	/* The rest of the payload stays PCMU silence (0xff), written once. */
	r->tx_iov[i].iov_len = RTP_HDR + r->plen;
	r->tx_addr[i] = s->dst;
	r->tx_mh[i].msg_hdr.msg_namelen = s->dst.sa.sa_family == AF_INET6 ? sizeof(s->dst.v6)
									  : sizeof(s->dst.v4);
	s->seq++;
	s->tx++;
	w->st.m.tx_pkts++;
	w->st.m.tx_bytes += RTP_HDR + r->plen;
}

/* The lists of every millisecond since the last call. After a stall (the
 * process descheduled on a busy machine) the packets owed are sent late,
 * with the timestamps they should have had, so the offered rate stays
 * what was asked and the delay shows as jitter; beyond RTP_CATCHUP_MS they
 * are given up (counted), as a phone would after a long freeze. */
static void tick(struct lg_worker *w)
{
	struct lg_rtp *r = w->rtp;
	uint64_t now = w->now_ms, t;

	if (now <= r->last_tick_ms)
		return;
	t = r->last_tick_ms + 1;
	if (now - r->last_tick_ms > RTP_CATCHUP_MS) {
		t = now - RTP_CATCHUP_MS + 1;
		w->st.m.tx_skipped += (t - r->last_tick_ms - 1) / r->ptime * r->sending;
	}
	for (; t <= now; t++) {
		for (uint32_t i = r->lists[t % r->ptime]; i != RTP_NONE;) {
			struct lg_stream *s = pool_at(r->pool, i);

			i = s->next;
			if (t >= s->t_start_ms)
				send_one(w, s, t);
		}
	}
	r->last_tick_ms = now;
}

/* ---- receiving ---------------------------------------------------------------- */

/* RFC 3550 A.1 sequence tracking with a 64-packet window, so that a
 * duplicate is not counted as received and a late packet is not loss. */
static void rx_seq(struct lg_worker *w, struct lg_stream *s, uint16_t seq)
{
	int32_t delta;
	uint32_t ext;

	if (s->counted == 0 && s->dup == 0) {
		/* Cycle 1, so packets that were sent before the first one
		 * received (late ones) still have a positive extended number. */
		s->base_ext = s->max_ext = 0x10000u | seq;
		s->win = 1;
		s->counted = 1;
		return;
	}
	delta = (int16_t)(seq - (uint16_t)s->max_ext);
	ext = s->max_ext + (uint32_t)delta;
	if (delta > 0) {
		s->win = delta < 64 ? (s->win << delta) | 1u : 1u;
		s->max_ext = ext;
		s->counted++;
		return;
	}
	if (delta == 0 || (-delta < 64 && (s->win >> -delta) & 1u)) {
		s->dup++;
		w->st.m.dup++;
		return;
	}
	if (-delta < 64)
		s->win |= 1ull << -delta;
	if (ext < s->base_ext)
		s->base_ext = ext;
	s->late++;
	s->counted++;
}

/* RFC 3550 A.8 interarrival jitter, in 8 kHz units scaled by 16. Arrival
 * is the clock read after the recvmmsg, so it carries the loop's 1 ms
 * tick grain (a few tenths of a ms of jitter on an idle loopback). */
static void rx_jitter(struct lg_worker *w, struct lg_stream *s, uint32_t ts)
{
	uint32_t arrival = (uint32_t)(w->now_ns / 125000u);
	uint32_t transit = arrival - ts;
	int32_t d;

	if (s->have_transit) {
		d = (int32_t)(transit - s->transit);
		if (d < 0)
			d = -d;
		s->jitter += (uint32_t)d - ((s->jitter + 8) >> 4);
	}
	s->transit = transit;
	s->have_transit = true;
}

/* The stream of a packet: its SSRC, else its source address (then its
 * SSRC is learned, once). */
static struct lg_stream *demux(struct lg_worker *w, uint32_t ssrc, const union sbc_sockaddr *src)
{
	struct lg_rtp *r = w->rtp;
	struct key k;
	struct lg_stream *s;

	key_ssrc(&k, ssrc);
	s = find(r, &k);
	if (s)
		return s;
	key_addr(&k, src);
	s = find(r, &k);
	if (s && (s->flags & SF_BOUND)) {
		/* The address's call already has its peer's SSRC: a second
		 * sender from one relay port (or a port the relay reused
		 * while we still had its old call) is not this call's. */
		w->st.m.ssrc_conflict++;
		return NULL;
	}
	if (!s)
		return NULL;
	key_del(r, s, SF_KEY_S, s->h_s);
	s->ssrc_rx = ssrc;
	key_ssrc(&k, ssrc);
	(void)key_add(r, s, &k, SF_KEY_S, &s->h_s);
	return s;
}

static void rx_one(struct lg_worker *w, const uint8_t *p, uint32_t len,
		   const union sbc_sockaddr *src)
{
	struct lg_stream *s;

	w->st.m.rx_pkts++;
	w->st.m.rx_bytes += len;
	if (len < RTP_HDR || (p[0] >> 6) != 2) {
		w->st.m.bad++;
		return;
	}
	s = demux(w, rd32(p + 8), src);
	if (!s) {
		w->st.m.unmatched++;   /* e.g. after our BYE, still in flight */
		return;
	}
	s->flags |= SF_BOUND;
	s->rx++;
	s->last_rx_ms = w->now_ms;
	rx_seq(w, s, (uint16_t)(p[2] << 8 | p[3]));
	rx_jitter(w, s, rd32(p + 4));
	if (len >= RTP_HDR + RTP_REPORT && memcmp(p + RTP_HDR, RTP_MAGIC, 4) == 0) {
		uint32_t v = rd32(p + RTP_HDR + 4);

		if (v > s->peer_rx)
			s->peer_rx = v;
	}
}

/* Returns whether datagrams may be left (every round was a full batch). */
static bool rx_burst(struct lg_worker *w)
{
	struct lg_rtp *r = w->rtp;

	for (unsigned round = 0; round < RTP_RX_ROUNDS; round++) {
		int n;

		for (unsigned i = 0; i < RTP_BATCH; i++) {
			r->rx_mh[i].msg_hdr.msg_namelen = sizeof(r->rx_addr[i]);
			r->rx_mh[i].msg_hdr.msg_flags = 0;
		}
		n = recvmmsg(r->fd, r->rx_mh, RTP_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return false;
		w->now_ns = lg_clock_ns();
		w->now_ms = w->now_ns / 1000000u;
		atomic_store_explicit(&lg_last_rx_ns, w->now_ns, memory_order_relaxed);
		for (int i = 0; i < n; i++) {
			if (r->rx_mh[i].msg_hdr.msg_flags & MSG_TRUNC) {
				w->st.m.rx_pkts++;
				w->st.m.bad++;
				continue;
			}
			rx_one(w, r->rx_iov[i].iov_base, r->rx_mh[i].msg_len, &r->rx_addr[i]);
		}
		if ((unsigned)n < RTP_BATCH)
			return false;
	}
	return true;
}

unsigned lg_rtp_poll(struct lg_worker *w)
{
	bool more = rx_burst(w);

	tick(w);
	if (w->rtp->ntx)
		rtp_flush(w);
	return more;
}

/* The RTP socket is not in the epoll set: waking for each datagram would
 * turn 100k packets/s into as many loop turns and syscalls. While streams
 * exist the loop wakes every millisecond instead and reads what arrived
 * in one recvmmsg (so arrival times, and the jitter, have a 1 ms grain). */
int lg_rtp_wait_ms(const struct lg_worker *w, int wait_ms)
{
	return w->rtp && pool_in_use(w->rtp->pool) && wait_ms > 1 ? 1 : wait_ms;
}

/* ---- stream life ---------------------------------------------------------------- */

/* The first audio stream's address, or -1. */
static int sdp_dest(sip_str_t body, union sbc_sockaddr *dst)
{
	struct sdp sd;

	if (!body.len || sdp_parse(&sd, body.p, body.len) != SDP_E_OK)
		return -1;
	for (unsigned i = 0; i < sd.nmedia; i++) {
		const struct sdp_media *m = &sd.media[i];
		const struct sdp_conn *c = sdp_media_conn(&sd, i);

		if (m->port == 0 || m->type.len != 5 || memcmp(m->type.p, "audio", 5) != 0)
			continue;
		if (!c || !c->present || c->fqdn || c->unspec || c->multicast)
			return -1;
		return sbc_addr_from(dst, c->addr.p, c->addr.len, m->port) < 0 ? -1 : 0;
	}
	return -1;
}

static struct lg_stream *stream_new(struct lg_worker *w, const union sbc_sockaddr *dst,
				    sip_str_t cid, bool uac)
{
	struct lg_rtp *r = w->rtp;
	struct lg_stream *s = pool_get(r->pool), *old;
	struct key k;

	if (!s) {
		w->st.m.no_slot++;
		return NULL;
	}
	memset(s, 0, sizeof(*s));
	wheel_timer_init(&s->t_idle, LG_TAG_RTP);
	s->dst = *dst;
	s->next = s->prev = RTP_NONE;
	ssrc_pair(cid.p, cid.len, uac, &s->ssrc_tx, &s->ssrc_rx);
	/* Random-looking starts, as RFC 3550 asks, yet reproducible per call. */
	s->seq = (uint16_t)(s->ssrc_tx >> 7);
	s->ts0 = s->ssrc_tx * 2654435761u;
	s->last_rx_ms = w->now_ms;
	s->t_start_ms = w->now_ms;
	key_ssrc(&k, s->ssrc_rx);
	(void)key_add(r, s, &k, SF_KEY_S, &s->h_s);
	key_addr(&k, dst);
	/* The newest call to name an address owns it: a relay that reused a
	 * port for a new call while we still held the old one (its BYE late,
	 * or a stray late INVITE made a stream) must not leave the new call
	 * unmatched. An old stream that has received keeps its learned SSRC. */
	old = find(r, &k);
	if (old)
		key_del(r, old, SF_KEY_A, old->h_a);
	(void)key_add(r, s, &k, SF_KEY_A, &s->h_a);
	w->st.m.streams++;
	return s;
}

/* Ends s: its statistics into the worker's, and the verdict (none when
 * !judge: the run is ending under it). */
static enum lg_fail stream_end(struct lg_worker *w, struct lg_stream *s, bool judge)
{
	struct lg_rtp *r = w->rtp;
	uint32_t judge_ms = 3 * r->ptime + 250;
	enum lg_fail verdict = LG_F__COUNT;

	list_del(r, s);
	wheel_cancel(w->wheel, &s->t_idle);
	key_del(r, s, SF_KEY_S, s->h_s);
	key_del(r, s, SF_KEY_A, s->h_a);
	key_del(r, s, SF_KEY_C, s->h_c);
	if (s->counted) {
		uint32_t expected = s->max_ext - s->base_ext + 1;

		w->st.m.expected += expected;
		w->st.m.lost += expected > s->counted ? expected - s->counted : 0;
		w->st.m.late += s->late;
		w->st.m.rx_counted += s->counted;
		lg_hist_add(&w->st.m.jitter, (uint64_t)(s->jitter >> 4) * 125000u);
	}
	if (!judge)
		w->st.m.open_at_exit++;
	else if (w->now_ms < s->t_start_ms + judge_ms)
		w->st.m.calls_unjudged++;
	else if (s->counted == 0)
		verdict = LG_F_MEDIA_NO_RX;
	else if (s->tx && r->plen >= RTP_REPORT && s->peer_rx == 0)
		verdict = LG_F_MEDIA_NO_TX;
	else
		w->st.m.calls_ok++;
	if (verdict == LG_F_MEDIA_NO_RX)
		w->st.m.calls_no_rx++;
	else if (verdict == LG_F_MEDIA_NO_TX)
		w->st.m.calls_no_tx++;
	pool_put(r->pool, s);
	return verdict;
}

uint32_t lg_rtp_uac_answer(struct lg_worker *w, sip_str_t cid, const struct sip_msg *m)
{
	union sbc_sockaddr dst;
	struct lg_stream *s;

	if (sdp_dest(sip_msg_body(m), &dst) < 0) {
		w->st.m.bad_sdp++;
		return LG_RTP_BAD_SDP;
	}
	s = stream_new(w, &dst, cid, true);
	if (!s)
		return LG_RTP_NONE;
	/* The 2xx went through any relay before us, so the relay knows both
	 * ends now: sending at once loses nothing to set-up. */
	start_tx(w, s);
	return pool_idx(w->rtp->pool, s);
}

enum lg_fail lg_rtp_uac_end(struct lg_worker *w, uint32_t idx, bool judge)
{
	return stream_end(w, pool_at(w->rtp->pool, idx), judge);
}

static struct lg_stream *by_cid(struct lg_worker *w, uint64_t cid_h)
{
	struct key k;

	key_cid(&k, cid_h);
	return find(w->rtp, &k);
}

void lg_rtp_uas_offer(struct lg_worker *w, sip_str_t cid, uint64_t cid_h,
		      const struct sip_msg *m)
{
	union sbc_sockaddr dst;
	struct lg_stream *s = by_cid(w, cid_h);
	struct key k;

	if (s)
		return;   /* the call has its stream already */
	if (sdp_dest(sip_msg_body(m), &dst) < 0) {
		w->st.m.bad_sdp++;
		return;
	}
	s = stream_new(w, &dst, cid, false);
	if (!s)
		return;
	s->cid_h = cid_h;
	key_cid(&k, cid_h);
	if (!key_add(w->rtp, s, &k, SF_KEY_C, &s->h_c)) {
		(void)stream_end(w, s, false);
		w->st.m.open_at_exit--;
		w->st.m.streams--;
		w->st.m.no_slot++;
		return;
	}
	/* Receive at once (the UAC may send as soon as it has the 2xx), send
	 * from the ACK: before it a relay may not yet know where to. */
	wheel_add_in(w->wheel, &s->t_idle, LG_RTP_IDLE_MS);
}

void lg_rtp_uas_ack(struct lg_worker *w, uint64_t cid_h)
{
	struct lg_stream *s = by_cid(w, cid_h);

	if (!s)
		return;
	s->flags |= SF_ACKED;
	if (!(s->flags & SF_HELD))
		start_tx(w, s);
}

void lg_rtp_uas_reinvite(struct lg_worker *w, uint64_t cid_h, bool held)
{
	struct lg_stream *s = by_cid(w, cid_h);

	if (!s)
		return;
	if (held) {
		s->flags |= SF_HELD;
		list_del(w->rtp, s);
	} else {
		s->flags &= (uint16_t)~SF_HELD;
		if (s->flags & SF_ACKED)
			start_tx(w, s);
	}
}

void lg_rtp_uas_bye(struct lg_worker *w, uint64_t cid_h)
{
	struct lg_stream *s = by_cid(w, cid_h);

	if (s)
		(void)stream_end(w, s, true);
}

/* uas: a stream whose peer has been silent for LG_RTP_IDLE_MS ends (its
 * BYE was lost, or the UAC is gone); otherwise look again later. */
void lg_rtp_timer(struct lg_worker *w, struct wheel_timer *t)
{
	struct lg_stream *s = sbc_container_of(t, struct lg_stream, t_idle);
	uint64_t quiet = w->now_ms - s->last_rx_ms;

	if (quiet >= LG_RTP_IDLE_MS) {
		w->st.m.idle_ended++;
		(void)stream_end(w, s, true);
		return;
	}
	wheel_add_in(w->wheel, &s->t_idle, LG_RTP_IDLE_MS - quiet);
}

/* At exit: streams still running are counted, not judged. */
void lg_rtp_finish(struct lg_worker *w)
{
	struct lg_rtp *r = w->rtp;
	uint32_t cap;

	if (!r)
		return;
	cap = pool_capacity(r->pool);
	for (uint32_t i = 0; i < cap; i++) {
		if (!pool_idx_in_use(r->pool, i))
			continue;
		struct lg_stream *s = pool_at(r->pool, i);

		(void)stream_end(w, s, false);
	}
	if (r->ntx)
		rtp_flush(w);
}
