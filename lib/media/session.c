/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The media shard: realms, session and stream pools, relay port ownership,
 * fork groups, confirmation, statistics and idle time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "media_int.h"

/* ---- shard ---------------------------------------------------------------- */

static int realm_init(struct media *m, uint32_t i, const struct media_realm_conf *rc)
{
	struct media_realm *r = &m->realm[i];
	union sbc_sockaddr a;
	size_t n;

	r->flags = rc->flags;
	if (!rc->ip)
		return 0;
	n = strlen(rc->ip);
	if (n >= MEDIA_IP_MAX || sbc_addr_from(&a, rc->ip, n, 0) < 0)
		return -EINVAL;
	memcpy(r->ip, rc->ip, n);
	r->iplen = (uint8_t)n;
	r->type = a.sa.sa_family == AF_INET6 ? SDP_AT_IP6 : SDP_AT_IP4;
	r->ports = media_ports_create(rc->port_first, rc->port_last, m->worker, m->nworkers);
	if (!r->ports)
		return -EINVAL;
	uint32_t nslots = media_ports_capacity(r->ports);
	r->tab = malloc((nslots ? nslots : 1) * sizeof(*r->tab));
	if (!r->tab)
		return -ENOMEM;
	for (uint32_t k = 0; k < nslots; k++)
		r->tab[k] = MEDIA_NONE;
	return 0;
}

static int streams_init(struct media *m, uint32_t n)
{
	m->streams = aligned_alloc(SBC_CACHE_LINE, (size_t)n * sizeof(*m->streams));
	if (!m->streams)
		return -ENOMEM;
	/* Touch every page now: the first calls must not page-fault. */
	memset(m->streams, 0, (size_t)n * sizeof(*m->streams));
	m->nstreams = n;
	for (uint32_t i = 0; i < n; i++)
		m->streams[i].free_next = i + 1 < n ? i + 1 : MEDIA_NONE;
	m->stream_free = 0;
	return 0;
}

struct media *media_create(const struct media_conf *c)
{
	if (!c || !c->nworkers || c->nworkers > MEDIA_MAX_WORKERS || c->worker >= c->nworkers ||
	    c->nrealms > MEDIA_MAX_REALMS || (c->nrealms && !c->realms) || !c->max_sessions ||
	    c->max_sessions > (1u << 24))
		return NULL;
	uint64_t nst = c->max_streams ? c->max_streams : 2ull * c->max_sessions;
	if (nst > (1u << 30))
		return NULL;
	struct media *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->worker = c->worker;
	m->nworkers = c->nworkers;
	m->nrealms = c->nrealms;
	m->port_hook = c->port_hook;
	m->port_ctx = c->port_ctx;
	for (uint32_t i = 0; i < c->nrealms; i++)
		if (realm_init(m, i, &c->realms[i]) < 0)
			goto fail;
	m->sessions = pool_create(c->max_sessions, sizeof(struct media_session), 0);
	if (!m->sessions || streams_init(m, (uint32_t)nst) < 0)
		goto fail;
	return m;
fail:
	media_destroy(m);
	return NULL;
}

void media_destroy(struct media *m)
{
	if (!m)
		return;
	for (uint32_t i = 0; i < MEDIA_MAX_REALMS; i++) {
		media_ports_destroy(m->realm[i].ports);
		free(m->realm[i].tab);
	}
	pool_destroy(m->sessions);
	free(m->streams);
	free(m);
}

const struct media_ports *media_realm_ports(const struct media *m, uint32_t realm)
{
	return realm < m->nrealms ? m->realm[realm].ports : NULL;
}

const struct media_counters *media_counters(const struct media *m)
{
	return &m->ctr;
}

uint32_t media_sessions_in_use(const struct media *m)
{
	return pool_in_use(m->sessions);
}

uint32_t media_streams_in_use(const struct media *m)
{
	return m->streams_used;
}

/* ---- ports of a leg ------------------------------------------------------- */

/* Tell the daemon a port changed hands (its socket opens or closes). */
static void port_hook(struct media *m, const struct media_leg *l, uint16_t port, bool in_use)
{
	if (m->port_hook)
		m->port_hook(m->port_ctx, l->realm, port, in_use);
}

static void tab_set(struct media *m, const struct media_leg *l, uint16_t port, uint32_t val)
{
	struct media_realm *r = &m->realm[l->realm];
	int32_t slot = ports_slot(r->ports, port);

	if (slot >= 0)
		r->tab[slot] = val;
}

static uint32_t tab_val(const struct media *m, const struct media_stream *st, unsigned leg)
{
	return stream_idx(m, st) << 1 | leg;
}

int leg_alloc(struct media *m, struct media_stream *st, unsigned leg, bool single)
{
	struct media_leg *l = &st->leg[leg];
	struct media_ports *p = m->realm[l->realm].ports;
	int port = single ? media_ports_alloc_one(p) : media_ports_alloc_pair(p);

	if (port < 0) {
		m->ctr.no_ports++;
		return port;
	}
	l->rtp_port = (uint16_t)port;
	l->rtcp_port = single ? 0 : (uint16_t)(port + 1);
	l->flags |= LEG_OWN;
	tab_set(m, l, l->rtp_port, tab_val(m, st, leg));
	port_hook(m, l, l->rtp_port, true);
	if (l->rtcp_port) {
		tab_set(m, l, l->rtcp_port, tab_val(m, st, leg));
		port_hook(m, l, l->rtcp_port, true);
	}
	return 0;
}

int leg_alloc_rtcp(struct media *m, struct media_stream *st, unsigned leg)
{
	struct media_leg *l = &st->leg[leg];
	int port = media_ports_alloc_one(m->realm[l->realm].ports);

	if (port < 0) {
		m->ctr.no_ports++;
		return port;
	}
	l->rtcp_port = (uint16_t)port;
	tab_set(m, l, l->rtcp_port, tab_val(m, st, leg));
	port_hook(m, l, l->rtcp_port, true);
	return 0;
}

static void port_release(struct media *m, struct media_leg *l, uint16_t port)
{
	tab_set(m, l, port, MEDIA_NONE);
	media_ports_free(m->realm[l->realm].ports, port);
	port_hook(m, l, port, false);
}

void leg_release_rtcp(struct media *m, struct media_stream *st, unsigned leg)
{
	struct media_leg *l = &st->leg[leg];

	if ((l->flags & LEG_OWN) && l->rtcp_port)
		port_release(m, l, l->rtcp_port);
	l->rtcp_port = 0;
}

static void leg_release(struct media *m, struct media_leg *l)
{
	if (!(l->flags & LEG_OWN))
		return;
	if (l->rtp_port)
		port_release(m, l, l->rtp_port);
	if (l->rtcp_port)
		port_release(m, l, l->rtcp_port);
	l->flags &= (uint16_t)~LEG_OWN;
}

/* ---- fork chains ---------------------------------------------------------- *
 * Streams of sibling fork sessions for the same m= line share the ports of
 * leg `shared`. The head owns them (LEG_OWN) and the port table points at
 * it; members are linked through fork_next and all name the head. */

/* Give the shared ports of from to to (same port numbers). */
static void move_ownership(struct media *m, struct media_stream *from, struct media_stream *to)
{
	unsigned L = from->shared;
	struct media_leg *tl = &to->leg[L];

	if (!(from->leg[L].flags & LEG_OWN))
		return;
	from->leg[L].flags &= (uint16_t)~LEG_OWN;
	tl->flags |= LEG_OWN;
	tab_set(m, tl, tl->rtp_port, tab_val(m, to, L));
	if (tl->rtcp_port)
		tab_set(m, tl, tl->rtcp_port, tab_val(m, to, L));
}

static void chain_rehead(struct media *m, uint32_t head)
{
	for (uint32_t x = head; x != MEDIA_NONE; x = stream_at(m, x)->fork_next)
		stream_at(m, x)->fork_head = head;
}

static void chain_leave(struct media *m, struct media_stream *st)
{
	uint32_t self = stream_idx(m, st);

	if (!stream_chained(m, st))
		return;
	if (st->fork_head == self) {
		struct media_stream *next = stream_at(m, st->fork_next);
		move_ownership(m, st, next);
		chain_rehead(m, st->fork_next);
	} else {
		struct media_stream *prev = stream_at(m, st->fork_head);
		while (prev->fork_next != self)
			prev = stream_at(m, prev->fork_next);
		prev->fork_next = st->fork_next;
	}
	st->fork_head = self;
	st->fork_next = MEDIA_NONE;
}

/* st wins its chain: it takes the shared ports; the others stop relaying. */
static void chain_win(struct media *m, struct media_stream *st)
{
	uint32_t self = stream_idx(m, st), x = st->fork_head;

	if (!stream_chained(m, st))
		return;
	move_ownership(m, stream_at(m, st->fork_head), st);
	while (x != MEDIA_NONE) {
		struct media_stream *o = stream_at(m, x);
		x = o->fork_next;
		o->fork_head = stream_idx(m, o);
		o->fork_next = MEDIA_NONE;
		if (o != st)
			o->flags &= (uint8_t)~ST_ACTIVE;
	}
	st->fork_head = self;
}

static unsigned chain_len(const struct media *m, const struct media_stream *st)
{
	unsigned n = 0;

	for (uint32_t x = st->fork_head; x != MEDIA_NONE; x = stream_at(m, x)->fork_next)
		n++;
	return n;
}

/* ---- streams -------------------------------------------------------------- */

struct media_stream *stream_new(struct media *m, struct media_session *s, unsigned index)
{
	if (m->stream_free == MEDIA_NONE) {
		m->ctr.no_streams++;
		return NULL;
	}
	uint32_t idx = m->stream_free;
	struct media_stream *st = stream_at(m, idx);
	m->stream_free = st->free_next;
	m->streams_used++;
	memset(st, 0, sizeof(*st));
	st->session = pool_idx(m->sessions, s);
	st->fork_head = idx;
	st->fork_next = MEDIA_NONE;
	st->free_next = MEDIA_NONE;
	st->index = (uint8_t)index;
	for (unsigned L = 0; L < 2; L++) {
		st->leg[L].realm = s->realm[L];
		if (m->realm[s->realm[L]].flags & MEDIA_RF_STRICT)
			st->leg[L].flags |= LEG_STRICT;
		rx_reset(&st->leg[L].rx);
	}
	s->stream[index] = idx;
	return st;
}

void stream_free(struct media *m, struct media_session *s, struct media_stream *st)
{
	uint32_t idx = stream_idx(m, st);

	chain_leave(m, st);
	leg_release(m, &st->leg[0]);
	leg_release(m, &st->leg[1]);
	if (st->index < SDP_MAX_MEDIA && s->stream[st->index] == idx)
		s->stream[st->index] = MEDIA_NONE;
	st->flags = 0;
	st->free_next = m->stream_free;
	m->stream_free = idx;
	m->streams_used--;
}

/* ---- sessions ------------------------------------------------------------- */

static bool realm_ok(const struct media *m, uint32_t r)
{
	return r < m->nrealms && m->realm[r].ports;
}

static struct media_session *session_get(struct media *m, uint32_t ra, uint32_t rb,
					 uint64_t now_ms)
{
	if (!realm_ok(m, ra) || !realm_ok(m, rb))
		return NULL;
	struct media_session *s = pool_get(m->sessions);
	if (!s) {
		m->ctr.no_sessions++;
		return NULL;
	}
	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < SDP_MAX_MEDIA; i++)
		s->stream[i] = MEDIA_NONE;
	s->realm[0] = (uint16_t)ra;
	s->realm[1] = (uint16_t)rb;
	s->sdp_ms = now_ms;
	return s;
}

struct media_session *media_session_new(struct media *m, uint32_t realm_a, uint32_t realm_b,
					uint64_t now_ms)
{
	return m ? session_get(m, realm_a, realm_b, now_ms) : NULL;
}

void media_session_free(struct media *m, struct media_session *s)
{
	if (!m || !s)
		return;
	for (unsigned i = 0; i < SDP_MAX_MEDIA; i++)
		if (s->stream[i] != MEDIA_NONE)
			stream_free(m, s, stream_at(m, s->stream[i]));
	pool_put(m->sessions, s);
}

uint32_t media_session_idx(const struct media *m, const struct media_session *s)
{
	return pool_idx(m->sessions, s);
}

struct media_session *media_session_at(const struct media *m, uint32_t idx)
{
	return pool_idx_in_use(m->sessions, idx) ? pool_at(m->sessions, idx) : NULL;
}

bool media_sdp_pending(const struct media_session *s)
{
	return s->flags & SES_PENDING;
}

int media_sdp_offer_side(const struct media_session *s)
{
	return (s->flags & SES_PENDING) ? s->offer_side : -1;
}

bool media_sdp_answered(const struct media_session *s)
{
	return s->flags & SES_ANSWERED;
}

/* ---- forks ---------------------------------------------------------------- */

/* The clone of ps in fork session s: the offerer's leg X copied onto new
 * ports of the same shape, leg Y on ps's ports, joined to its chain. */
static int fork_stream(struct media *m, struct media_session *s, struct media_stream *ps,
		       unsigned X)
{
	unsigned Y = !X;

	if (stream_chained(m, ps) && ps->shared != Y)
		return -EINVAL;
	if (chain_len(m, ps) >= MEDIA_MAX_FORKS)
		return -ENOSPC;
	struct media_stream *cs = stream_new(m, s, ps->index);
	if (!cs)
		return -ENOSPC;
	struct media_leg *cx = &cs->leg[X], *px = &ps->leg[X];
	cs->cold[X].remote = ps->cold[X].remote;
	cs->cold[X].peer_rtcp = ps->cold[X].peer_rtcp;
	cx->peer_rtp = px->peer_rtp;
	cx->flags |= px->flags & LEG_UNDO_MASK;
	cs->flags = ST_ACTIVE | (ps->flags & (ST_MUX_ONLY | ST_VIDEO));
	cs->npt = ps->npt;
	memcpy(cs->pt, ps->pt, sizeof(cs->pt));
	memcpy(cs->rate, ps->rate, sizeof(cs->rate));
	cs->leg[Y].rtp_port = ps->leg[Y].rtp_port;
	cs->leg[Y].rtcp_port = ps->leg[Y].rtcp_port;
	/* Join the chain before allocating: a failure then frees cleanly. */
	struct media_stream *head = stream_at(m, ps->fork_head);
	head->shared = Y;
	cs->shared = Y;
	cs->fork_head = ps->fork_head;
	cs->fork_next = head->fork_next;
	head->fork_next = stream_idx(m, cs);
	return leg_alloc(m, cs, X, px->rtcp_port == 0);
}

struct media_session *media_session_fork(struct media *m, struct media_session *parent,
					 uint64_t now_ms)
{
	if (!m || !parent || !(parent->flags & (SES_PENDING | SES_ANSWERED)))
		return NULL;
	struct media_session *s = session_get(m, parent->realm[0], parent->realm[1], now_ms);
	if (!s)
		return NULL;
	unsigned X = parent->offer_side;
	s->flags = SES_PENDING | SES_FORK;
	s->offer_side = (uint8_t)X;
	s->nmedia = parent->nmedia;
	for (unsigned i = 0; i < parent->nmedia; i++) {
		if (parent->stream[i] == MEDIA_NONE)
			continue;
		struct media_stream *ps = stream_at(m, parent->stream[i]);
		if (ps->flags & ST_PEND_DEL)
			continue;
		if (fork_stream(m, s, ps, X) < 0) {
			media_session_free(m, s);
			m->ctr.no_sessions++;
			return NULL;
		}
	}
	return s;
}

/* ---- confirmation --------------------------------------------------------- */

/* Give back the ports of streams the answer refused, once no fork can
 * want them any more (never ports shared with forks). */
void session_tidy(struct media *m, struct media_session *s)
{
	for (unsigned i = 0; i < SDP_MAX_MEDIA; i++) {
		if (s->stream[i] == MEDIA_NONE)
			continue;
		struct media_stream *st = stream_at(m, s->stream[i]);
		if (!stream_chained(m, st) && (st->flags & ST_REFUSED))
			stream_free(m, s, st);
	}
}

void media_session_confirm(struct media *m, struct media_session *s)
{
	if (!m || !s)
		return;
	for (unsigned i = 0; i < SDP_MAX_MEDIA; i++)
		if (s->stream[i] != MEDIA_NONE)
			chain_win(m, stream_at(m, s->stream[i]));
	s->flags |= SES_CONFIRMED;
	if (!(s->flags & SES_PENDING))
		session_tidy(m, s);
}

/* ---- statistics and idle -------------------------------------------------- */

uint64_t media_session_idle_ms(const struct media *m, const struct media_session *s,
			       uint64_t now_ms)
{
	uint64_t last = s->sdp_ms;

	for (unsigned i = 0; i < SDP_MAX_MEDIA; i++) {
		if (s->stream[i] == MEDIA_NONE)
			continue;
		const struct media_stream *st = stream_at(m, s->stream[i]);
		for (unsigned L = 0; L < 2; L++) {
			uint64_t t = st->leg[L].last_rx_us / 1000;
			if (t > last)
				last = t;
		}
	}
	return now_ms > last ? now_ms - last : 0;
}

static bool leg_held(const struct media_leg_cold *c)
{
	return c->remote.hold || c->remote.dir == SDP_DIR_SENDONLY ||
	       c->remote.dir == SDP_DIR_RECVONLY || c->remote.dir == SDP_DIR_INACTIVE;
}

bool media_session_on_hold(const struct media *m, const struct media_session *s)
{
	unsigned active = 0;

	for (unsigned i = 0; i < SDP_MAX_MEDIA; i++) {
		if (s->stream[i] == MEDIA_NONE)
			continue;
		const struct media_stream *st = stream_at(m, s->stream[i]);
		if (!(st->flags & ST_ACTIVE))
			continue;
		if (!leg_held(&st->cold[0]) && !leg_held(&st->cold[1]))
			return false;
		active++;
	}
	return active > 0;
}

static uint64_t rx_lost(const struct media_rx *rx)
{
	uint64_t lost = rx->lost_before;

	if (rx->started) {
		int64_t expected = (int64_t)rx->cycles + rx->max_seq - rx->base_seq + 1;
		int64_t cur = expected - (int64_t)rx->received;
		if (cur > 0)
			lost += (uint64_t)cur;
	}
	return lost;
}

static void leg_stats(const struct media_stream *st, unsigned L, struct media_leg_stats *o)
{
	const struct media_leg *l = &st->leg[L];
	const struct media_leg_cold *c = &st->cold[L];
	const struct media_rx *rx = &l->rx;

	o->packets = l->packets;
	o->bytes = l->bytes;
	o->rtcp_packets = c->rtcp_packets;
	o->rtcp_bytes = c->rtcp_bytes;
	o->dropped = c->dropped;
	o->lost = rx_lost(rx);
	o->jitter = rx->jitter16 >> 4;
	if (rx->clock)
		o->jitter_us = (uint32_t)((uint64_t)rx->jitter16 * 1000000u / (16u * rx->clock));
	o->ssrc = rx->ssrc;
	o->clock = rx->clock;
	o->last_rx_ms = l->last_rx_us / 1000;
	o->local_rtp_port = l->rtp_port;
	o->local_rtcp_port = l->rtcp_port;
	o->latched = l->flags & LEG_LAT_RTP;
	o->hold = c->remote.hold;
	o->dir = c->remote.dir;
	o->remote = l->peer_rtp;
}

void media_session_stats(const struct media *m, const struct media_session *s,
			 struct media_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < SDP_MAX_MEDIA; i++) {
		if (s->stream[i] == MEDIA_NONE)
			continue;
		const struct media_stream *st = stream_at(m, s->stream[i]);
		struct media_stream_stats *o = &out->stream[out->nstreams++];
		o->index = st->index;
		o->active = st->flags & ST_ACTIVE;
		o->rtcp_mux = st->flags & ST_MUX_OK;
		leg_stats(st, 0, &o->leg[0]);
		leg_stats(st, 1, &o->leg[1]);
	}
}
