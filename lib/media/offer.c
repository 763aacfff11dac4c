/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Offer/answer (RFC 3264) over media sessions: what an SDP body means for
 * the relay (ports, remote addresses, rtcp-mux, hold, clock rates) and the
 * sdp_rewrite spec that gives the other side the relay's addresses.
 *
 * An offer is applied in two steps: first everything it needs is counted
 * and checked against the pools, then it is applied with allocations that
 * cannot fail. So an exhausted pool (503) leaves the session untouched,
 * and a pending offer can be rolled back exactly by media_sdp_reject().
 */
#include <errno.h>
#include <string.h>

#include "media_int.h"

/* ---- reading the SDP ------------------------------------------------------ */

static bool media_has_attr(const struct sdp *sdp, unsigned i, const char *name)
{
	uint16_t pos = 0;
	sip_str_t v;

	return sdp_attr_next(sdp, (int)i, name, &pos, &v) == 1;
}

/* c=0.0.0.0 is hold unless the media uses ICE (RFC 8839: no candidate yet);
 * the same rule as sdp_media_is_hold(), for the address alone. */
static bool conn_is_hold(const struct sdp *sdp, unsigned i)
{
	const struct sdp_conn *c = sdp_media_conn(sdp, i);
	const struct sdp_media *mi = &sdp->media[i];

	return c && c->unspec && !(sdp->ice || mi->ice || mi->ncandidates);
}

static void sockaddr_of(union sbc_sockaddr *a, sip_str_t ip, uint32_t port)
{
	if (port > 65535 || sbc_addr_from(a, ip.p, ip.len, (uint16_t)port) < 0)
		memset(a, 0, sizeof(*a));
}

/* What the author of sdp says about media i. An unspecified address
 * leaves rtp/rtcp unknown (family 0). */
static void remote_of(const struct sdp *sdp, unsigned i, struct media_remote *r)
{
	const struct sdp_media *mi = &sdp->media[i];
	const struct sdp_conn *c = sdp_media_conn(sdp, i);

	memset(r, 0, sizeof(*r));
	r->dir = (uint8_t)sdp_media_dir(sdp, i);
	r->mux = mi->rtcp_mux;
	r->hold = conn_is_hold(sdp, i);
	if (!c || c->unspec)
		return;
	sockaddr_of(&r->rtp, c->addr, mi->port);
	if (mi->has_rtcp)
		sockaddr_of(&r->rtcp, mi->rtcp_conn.present ? mi->rtcp_conn.addr : c->addr,
			    mi->rtcp_port);
	else
		sockaddr_of(&r->rtcp, c->addr, (uint32_t)mi->port + 1);
}

/* A new SDP from a leg's peer. On hold the last real address is kept, so
 * resuming at the same address keeps the latch; a different address is a
 * different endpoint (transfer, re-INVITE to a new device): latch again. */
static void leg_update(struct media_stream *st, unsigned L, const struct media_remote *r)
{
	struct media_leg *l = &st->leg[L];
	struct media_leg_cold *c = &st->cold[L];

	if (!r->hold) {
		if (!sbc_addr_eq(&c->remote.rtp, &r->rtp) || !addr_known(&r->rtp)) {
			l->flags &= (uint16_t)~(LEG_LAT_RTP | LEG_LAT_RTCP);
			l->peer_rtp = r->rtp;
			c->peer_rtcp = r->rtcp;
		} else if (!sbc_addr_eq(&c->remote.rtcp, &r->rtcp)) {
			l->flags &= (uint16_t)~LEG_LAT_RTCP;
			c->peer_rtcp = r->rtcp;
		}
		c->remote.rtp = r->rtp;
		c->remote.rtcp = r->rtcp;
	}
	c->remote.hold = r->hold;
	c->remote.dir = r->dir;
	c->remote.mux = r->mux;
	l->flags = (uint16_t)((l->flags & ~(LEG_HOLD | LEG_MUX)) | (r->hold ? LEG_HOLD : 0) |
			      (r->mux ? LEG_MUX : 0));
}

/* a=rtpmap:<pt> <encoding>/<rate>[/<channels>] -> the stream's clock table.
 * The first mapping of a payload type wins (offer and answer agree). */
static void add_rtpmaps(struct media_stream *st, const struct sdp *sdp, unsigned i)
{
	uint16_t pos = 0;
	sip_str_t v;

	while (sdp_attr_next(sdp, (int)i, "rtpmap", &pos, &v) == 1 && st->npt < MEDIA_MAX_PT) {
		uint32_t k = 0, pt = 0, rate = 0;
		while (k < v.len && v.p[k] >= '0' && v.p[k] <= '9' && pt < 1000)
			pt = pt * 10 + (uint32_t)(v.p[k++] - '0');
		while (k < v.len && v.p[k] != '/')
			k++;
		for (k++; k < v.len && v.p[k] >= '0' && v.p[k] <= '9' && rate < 10000000; k++)
			rate = rate * 10 + (uint32_t)(v.p[k] - '0');
		if (pt > 127 || !rate)
			continue;
		bool known = false;
		for (unsigned j = 0; j < st->npt; j++)
			known |= st->pt[j] == pt;
		if (!known) {
			st->pt[st->npt] = (uint8_t)pt;
			st->rate[st->npt++] = rate;
		}
	}
	if (sip_str_caseeq_lit(sdp->media[i].type, "video"))
		st->flags |= ST_VIDEO;
}

/* ---- offers --------------------------------------------------------------- */

struct demand {
	uint32_t pairs[2], singles[2], streams;
};

static bool mux_only(const struct sdp *sdp, unsigned i)
{
	return media_has_attr(sdp, i, "rtcp-mux-only");
}

static struct media_stream *stream_of(const struct media *m, const struct media_session *s,
				      unsigned i)
{
	return i < SDP_MAX_MEDIA && s->stream[i] != MEDIA_NONE ? stream_at(m, s->stream[i]) : NULL;
}

/* A single-port leg (rtcp-mux-only) that must get a separate RTCP port:
 * the offer no longer insists on mux, so the answer may refuse it. Not a
 * port shared with forks: those all have the same shape, and a port only
 * one of them knew of would leak when another took the ownership. */
static bool needs_rtcp(const struct media *m, const struct media_stream *st, unsigned L)
{
	const struct media_leg *l = &st->leg[L];

	return (l->flags & LEG_OWN) && !l->rtcp_port &&
	       !(stream_chained(m, st) && L == st->shared);
}

static void offer_demand(const struct media *m, const struct media_session *s,
			 const struct sdp *sdp, struct demand *d)
{
	memset(d, 0, sizeof(*d));
	for (unsigned i = 0; i < sdp->nmedia; i++) {
		if (!sdp->media[i].port)
			continue;
		const struct media_stream *st = stream_of(m, s, i);
		if (!st) {
			bool single = mux_only(sdp, i);
			d->streams++;
			for (unsigned L = 0; L < 2; L++) {
				d->pairs[L] += !single;
				d->singles[L] += single;
			}
			continue;
		}
		for (unsigned L = 0; L < 2; L++)
			d->singles[L] += needs_rtcp(m, st, L) && !mux_only(sdp, i);
	}
}

/* Can the pools give d at once? Counts the refusal by its cause. */
static bool demand_fits(struct media *m, const struct media_session *s, const struct demand *d)
{
	const struct media_ports *a = m->realm[s->realm[0]].ports;
	const struct media_ports *b = m->realm[s->realm[1]].ports;
	bool ok;

	if (d->streams > m->nstreams - m->streams_used) {
		m->ctr.no_streams++;
		return false;
	}
	if (a == b)
		ok = ports_can(a, d->pairs[0] + d->pairs[1], d->singles[0] + d->singles[1]);
	else
		ok = ports_can(a, d->pairs[0], d->singles[0]) &&
		     ports_can(b, d->pairs[1], d->singles[1]);
	if (!ok)
		m->ctr.no_ports++;
	return ok;
}

/* Remember the offerer's leg and the stream state before the first change
 * of this offer, for media_sdp_reject(). */
static void save_undo(struct media_stream *st, unsigned X)
{
	const struct media_leg *l = &st->leg[X];

	if (st->flags & ST_HAVE_UNDO)
		return;
	st->undo = st->cold[X].remote;
	st->undo_peer_rtp = l->peer_rtp;
	st->undo_peer_rtcp = st->cold[X].peer_rtcp;
	st->undo_flags = l->flags & LEG_UNDO_MASK;
	st->undo_stflags = st->flags;
	st->flags |= ST_HAVE_UNDO;
}

static void offer_new_stream(struct media *m, struct media_session *s, unsigned X,
			     const struct sdp *sdp, unsigned i)
{
	bool single = mux_only(sdp, i);
	struct media_stream *st = stream_new(m, s, i);
	struct media_remote r;

	/* demand_fits() checked the pools: nothing below can fail. */
	(void)leg_alloc(m, st, 0, single);
	(void)leg_alloc(m, st, 1, single);
	st->flags |= ST_ACTIVE | ST_PEND_NEW | (single ? ST_MUX_ONLY : 0);
	remote_of(sdp, i, &r);
	leg_update(st, X, &r);
	add_rtpmaps(st, sdp, i);
}

static void offer_stream(struct media *m, struct media_stream *st, unsigned X,
			 const struct sdp *sdp, unsigned i)
{
	struct media_remote r;

	save_undo(st, X);
	st->flags &= (uint8_t)~(ST_PEND_DEL | ST_MUX_ONLY);
	if (mux_only(sdp, i))
		st->flags |= ST_MUX_ONLY;
	else
		for (unsigned L = 0; L < 2; L++)
			if (needs_rtcp(m, st, L) && leg_alloc_rtcp(m, st, L) == 0)
				st->leg[L].flags |= LEG_NEW_RTCP;
	remote_of(sdp, i, &r);
	leg_update(st, X, &r);
	add_rtpmaps(st, sdp, i);
}

/* A stream the offer disables (port 0, or an m= line missing): it keeps
 * relaying until the answer confirms the removal. */
static void offer_remove(struct media_stream *st, unsigned X)
{
	save_undo(st, X);
	st->flags |= ST_PEND_DEL;
}

static int apply_offer(struct media *m, struct media_session *s, unsigned X,
		       const struct sdp *sdp)
{
	struct demand d;

	if ((s->flags & SES_PENDING) && s->offer_side != X)
		return -EBUSY;
	offer_demand(m, s, sdp, &d);
	if (!demand_fits(m, s, &d))
		return -ENOSPC;
	if (!(s->flags & SES_PENDING)) {
		/* A repeated pending offer (failover to the next hop) keeps the
		 * undo state of the first one. */
		s->flags |= SES_PENDING;
		s->undo_nmedia = s->nmedia;
		s->undo_offer_side = s->offer_side;
	}
	s->offer_side = (uint8_t)X;
	for (unsigned i = 0; i < SDP_MAX_MEDIA; i++) {
		struct media_stream *st = stream_of(m, s, i);
		if (i >= sdp->nmedia || !sdp->media[i].port) {
			if (st)
				offer_remove(st, X);
		} else if (st) {
			offer_stream(m, st, X, sdp, i);
		} else {
			offer_new_stream(m, s, X, sdp, i);
		}
	}
	s->nmedia = (uint8_t)sdp->nmedia;
	return 0;
}

void media_sdp_reject(struct media *m, struct media_session *s)
{
	if (!m || !s || !(s->flags & SES_PENDING))
		return;
	unsigned X = s->offer_side;
	for (unsigned i = 0; i < SDP_MAX_MEDIA; i++) {
		struct media_stream *st = stream_of(m, s, i);
		if (!st)
			continue;
		if (st->flags & ST_PEND_NEW) {
			stream_free(m, s, st);
			continue;
		}
		for (unsigned L = 0; L < 2; L++) {
			if (!(st->leg[L].flags & LEG_NEW_RTCP))
				continue;
			/* Forks made since copied the port: it is theirs too now. */
			if (!(stream_chained(m, st) && L == st->shared))
				leg_release_rtcp(m, st, L);
			st->leg[L].flags &= (uint16_t)~LEG_NEW_RTCP;
		}
		if (st->flags & ST_HAVE_UNDO) {
			struct media_leg *l = &st->leg[X];
			st->cold[X].remote = st->undo;
			st->cold[X].peer_rtcp = st->undo_peer_rtcp;
			l->peer_rtp = st->undo_peer_rtp;
			l->flags = (uint16_t)((l->flags & ~LEG_UNDO_MASK) | st->undo_flags);
			st->flags = st->undo_stflags;
		}
		st->flags &= (uint8_t)~(ST_PEND_DEL | ST_HAVE_UNDO | ST_PEND_NEW);
	}
	s->nmedia = s->undo_nmedia;
	s->offer_side = s->undo_offer_side;
	s->flags &= (uint8_t)~SES_PENDING;
}

/* ---- answers -------------------------------------------------------------- */

/* An answer has the offer's m= lines (RFC 3264 6) and cannot enable a
 * stream the offer disabled; a repeated answer cannot revive a stream whose
 * ports are gone. */
static int answer_check(const struct media *m, const struct media_session *s, unsigned Y,
			const struct sdp *sdp)
{
	if (s->flags & SES_PENDING) {
		if (s->offer_side == Y)
			return -EPROTO;
	} else if (!(s->flags & SES_ANSWERED) || s->answer_side != Y) {
		return -EPROTO;
	}
	if (sdp->nmedia != s->nmedia)
		return -EPROTO;
	for (unsigned i = 0; i < sdp->nmedia; i++) {
		const struct media_stream *st = stream_of(m, s, i);
		if (sdp->media[i].port && (!st || (st->flags & ST_PEND_DEL)))
			return -EPROTO;
	}
	return 0;
}

static void answer_stream(struct media_stream *st, unsigned Y, const struct sdp *sdp, unsigned i)
{
	struct media_remote r;

	if (st->flags & ST_PEND_DEL)
		return;
	if (!sdp->media[i].port) {
		st->flags = (uint8_t)((st->flags | ST_REFUSED) & ~ST_ACTIVE);
		return;
	}
	remote_of(sdp, i, &r);
	leg_update(st, Y, &r);
	st->flags = (uint8_t)((st->flags | ST_ACTIVE) & ~(ST_REFUSED | ST_MUX_OK));
	if (st->cold[0].remote.mux && st->cold[1].remote.mux)
		st->flags |= ST_MUX_OK;
	add_rtpmaps(st, sdp, i);
}

/* The offer is settled: removals happen, the undo state goes. */
static void commit(struct media *m, struct media_session *s)
{
	for (unsigned i = 0; i < SDP_MAX_MEDIA; i++) {
		struct media_stream *st = stream_of(m, s, i);
		if (!st)
			continue;
		if (st->flags & ST_PEND_DEL) {
			stream_free(m, s, st);
			continue;
		}
		st->flags &= (uint8_t)~(ST_PEND_NEW | ST_HAVE_UNDO);
		st->leg[0].flags &= (uint16_t)~LEG_NEW_RTCP;
		st->leg[1].flags &= (uint16_t)~LEG_NEW_RTCP;
	}
	s->flags &= (uint8_t)~SES_PENDING;
}

static int apply_answer(struct media *m, struct media_session *s, unsigned Y,
			const struct sdp *sdp)
{
	int r = answer_check(m, s, Y, sdp);

	if (r < 0)
		return r;
	for (unsigned i = 0; i < sdp->nmedia; i++) {
		struct media_stream *st = stream_of(m, s, i);
		if (st)
			answer_stream(st, Y, sdp, i);
	}
	if (s->flags & SES_PENDING)
		commit(m, s);
	s->flags |= SES_ANSWERED;
	s->answer_side = (uint8_t)Y;
	if (s->flags & SES_CONFIRMED)
		session_tidy(m, s);
	return 0;
}

/* ---- the rewrite ---------------------------------------------------------- */

static void rewrite_media(const struct media_stream *st, unsigned Y, const struct sdp *sdp,
			  unsigned i, struct sdp_addr addr, struct sdp_rewrite *rw)
{
	const struct sdp_media *mi = &sdp->media[i];
	const struct sdp_conn *c = sdp_media_conn(sdp, i);
	struct sdp_media_rewrite *mr = &rw->media[i];
	/* Hold by c=0.0.0.0 stays 0.0.0.0 on the other side (media.h, Hold). */
	bool keep = !c || (c->unspec && conn_is_hold(sdp, i));

	/* A port-0 line that inherits the session c= needs nothing: giving it
	 * an address could only insert a useless c= line. */
	if (!keep && (mi->port || mi->conn.present))
		mr->conn = addr;
	/* An a=rtcp address we do not replace would leak the peer's. */
	if (mi->rtcp_conn.present && !mr->conn.addr.len && (mi->conn.present || !rw->conn.addr.len))
		rw->flags |= SDP_RW_RTCP_DROP_ADDR;
	if (!mi->port || !st)
		return;
	const struct media_leg *l = &st->leg[Y];
	mr->set_port = true;
	mr->port = l->rtp_port;
	if (mi->has_rtcp) {
		mr->rtcp = SDP_RTCP_SET;
		mr->rtcp_port = l->rtcp_port ? l->rtcp_port : l->rtp_port;
	} else if (l->rtcp_port && l->rtcp_port != l->rtp_port + 1) {
		mr->rtcp = SDP_RTCP_SET;
		mr->rtcp_port = l->rtcp_port;
	}
}

static void build_rewrite(const struct media *m, const struct media_session *s, unsigned X,
			  const struct sdp *sdp, struct sdp_rewrite *rw)
{
	unsigned Y = !X;
	const struct media_realm *r = &m->realm[s->realm[Y]];
	struct sdp_addr addr = { { r->ip, r->iplen }, r->type };

	memset(rw, 0, sizeof(*rw));
	rw->origin = addr;
	if (r->flags & MEDIA_RF_STRIP_ICE)
		rw->flags |= SDP_RW_STRIP_ICE | SDP_RW_STRIP_CANDIDATES;
	if (r->flags & MEDIA_RF_STRIP_CANDIDATES)
		rw->flags |= SDP_RW_STRIP_CANDIDATES;
	if (sdp->conn.present && !sdp->conn.unspec)
		rw->conn = addr;
	for (unsigned i = 0; i < sdp->nmedia; i++)
		rewrite_media(stream_of(m, s, i), Y, sdp, i, addr, rw);
}

/* ---- entry point ---------------------------------------------------------- */

int media_sdp(struct media *m, struct media_session *s, enum media_side from,
	      enum media_sdp_kind kind, const struct sdp *sdp, uint64_t now_ms,
	      struct sdp_rewrite *rw)
{
	int r;

	if (!m || !s || !sdp || !rw || (unsigned)from > 1 || !sdp->nmedia ||
	    sdp->nmedia > SDP_MAX_MEDIA)
		return -EINVAL;
	if (kind == MEDIA_OFFER)
		r = apply_offer(m, s, from, sdp);
	else if (kind == MEDIA_ANSWER)
		r = apply_answer(m, s, from, sdp);
	else
		return -EINVAL;
	if (r < 0) {
		if (r != -ENOSPC)
			m->ctr.sdp_errors++;
		return r;
	}
	s->sdp_ms = now_ms;
	build_rewrite(m, s, from, sdp, rw);
	return 0;
}
