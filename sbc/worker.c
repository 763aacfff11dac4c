/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Worker: burst loop, stateless first-touch handling, shard steering, and
 * the shard's proxy (sbc/proxy.c) for the packets it owns.
 *
 * First touch (any worker, no state needed):
 *   unparseable / malformed   the lib's verdict: 4xx/5xx with the reason that
 *                             names the problem, or a counted drop (no
 *                             request line, responses, ACK)
 *   OPTIONS to the SBC        200 with Allow/Accept/Supported, or 420 for
 *                             Require tags (we support none)
 *   Max-Forwards 0, unknown   483 / 416 / 420 (RFC 3261 16.3), not for
 *   scheme, Proxy-Require     OPTIONS to the SBC: it is the endpoint
 * Everything else goes to its shard's proxy (here or by handoff).
 *
 * Media (lib/media through the shard's proxy): relay ports are opened by
 * the worker whose shard allocated them (media_open), so an RTP datagram
 * always arrives at its owner and never needs a handoff. A burst's media
 * datagrams are decided together by media_relay() and forwarded from the
 * receive buffers themselves (no copy) in the same send batch as SIP.
 *
 * Protection (sbc/protect.h) runs here too, on the first worker, before
 * steering: ACL and block list before parsing, rate limits on parsed
 * requests (503 + Retry-After, or silence beyond the flood multiple), and a
 * 503 instead of a silent loss when the owner's handoff ring is full.
 */
#include "worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/eventfd.h>

#include "clock.h"
#include "hash.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "protect.h"
#include "proxy.h"
#include "token.h"
#include "wheel.h"

/* An idle worker wakes at least this often to notice the stop flag. */
#define WORKER_IDLE_MS 100

/* Receive buffers per worker: a burst's worth in the rx slots plus those
 * in flight to other workers (bounded by the handoff ring). */
#define WORKER_HANDOFF_RING 256u
#define WORKER_BUFS (IO_BURST_MAX + WORKER_HANDOFF_RING + IO_BURST_MAX)

/* Per-shard capacities come from sip.max_transactions / max_dialogs. */
/* Media sessions per shard (a call, plus one per extra forked early
 * dialog), two streams each: ~1.3 KiB a session, ~10 MiB a worker. The
 * port ranges usually bind first: a call takes a pair on each realm. */
#define WORKER_MAX_MEDIA_SESSIONS 8192u

/* Reply buffer per packet of a burst: a reply copies the request's Via,
 * From, To, Call-ID and CSeq lines, so it is bounded by the largest
 * message we accept plus our own headers. */
#define WORKER_TX_SLOT (SIP_MAX_MSG + 1024u)

#define ALLOW_METHODS "INVITE, ACK, BYE, CANCEL, REGISTER, OPTIONS, PRACK, SUBSCRIBE, " \
		      "NOTIFY, PUBLISH, INFO, REFER, MESSAGE, UPDATE"

/* A receive buffer and the packet metadata that travels with it. */
struct pktbuf {
	struct io_pkt pkt;
	uint16_t owner;                    /* worker whose pool it belongs to */
	char data[IO_RX_SLOT];
};

struct worker {
	struct worker_counters ctr;        /* first: its own cache lines */
	/* read by other workers: their own cache line */
	atomic_bool sleeping __attribute__((aligned(64)));
	int wakefd;
	char pad_[64 - sizeof(atomic_bool) - sizeof(int)];
	unsigned id;
	const struct sbc_config *cfg;
	const struct io_backend *io;
	struct io_queue *q;
	const atomic_bool *stop;
	const struct worker_shared *sh;
	struct sbc_hash_key shard_key;
	sip_str_t tag;                     /* sh->sl_tag */
	char hdr_server[SBC_UA_MAX + 16];  /* "Server: ...\r\n" or "" */
	char hdr_options[512];             /* extra headers of the 200 to OPTIONS */
	struct pool *bufs;                 /* struct pktbuf */
	struct pktbuf *slot[IO_BURST_MAX]; /* rx buffers of the next burst */
	bool wake[SBC_MAX_WORKERS];        /* peers to wake after this burst */
	struct wheel *wheel;
	struct proxy *proxy;
	char *txbuf;                       /* IO_BURST_MAX * WORKER_TX_SLOT */
	unsigned ntx;
	struct io_pkt rx[IO_BURST_MAX];
	struct io_pkt tx[IO_BURST_MAX];
	/* media relay of one burst */
	struct media *media;               /* the proxy's; NULL: no anchoring */
	uint8_t mrx[IO_BURST_MAX];         /* rx[] indices of media datagrams */
	struct media_pkt mpkt[IO_BURST_MAX];
	struct media_fwd mfwd[IO_BURST_MAX];
	struct io_pkt mrel[IO_BURST_MAX];  /* lent frames dropped by the relay */
	uint64_t media_log_ms;             /* last "cannot open port" log */
	unsigned media_log_quiet;          /* failures not logged since */
	struct sip_msg msg;
	/* protection and metrics */
	struct protect *prot;
	struct protect_pkt pp;             /* what protect_screen() learnt of rx[i] */
	uint64_t now_ms;                   /* read once per loop iteration */
	uint64_t snap_ms;                  /* last shard snapshot into m */
	struct worker_metrics m;           /* read racily by the control thread */
};

static const char *const drop_names[] = {
#define WORKER_DROP_NAME(name, text) #name,
	WORKER_DROPS(WORKER_DROP_NAME)
#undef WORKER_DROP_NAME
};

const char *worker_drop_name(enum worker_drop d)
{
	return (unsigned)d < WORKER_DROP__COUNT ? drop_names[d] : "?";
}

const struct worker_counters *worker_counters(const struct worker *w)
{
	return &w->ctr;
}

const uint64_t *worker_proxy_counters(const struct worker *w)
{
	return proxy_counters(w->proxy);
}

const struct worker_metrics *worker_metrics(const struct worker *w)
{
	return &w->m;
}

const struct protect *worker_protect(const struct worker *w)
{
	return w->prot;
}

void worker_counters_add(struct worker_counters *a, const struct worker_counters *b)
{
	a->rx += b->rx;
	a->tx += b->tx;
	a->tx_failed += b->tx_failed;
	a->keepalives += b->keepalives;
	a->options_ok += b->options_ok;
	a->acks_absorbed += b->acks_absorbed;
	a->handoff_out += b->handoff_out;
	a->handoff_in += b->handoff_in;
	a->handoff_dropped += b->handoff_dropped;
	for (unsigned i = 0; i < SIP_E__COUNT; i++)
		a->sip_err[i] += b->sip_err[i];
	for (unsigned i = 0; i < WORKER_DROP__COUNT; i++)
		a->drop[i] += b->drop[i];
}

/* ---- output ------------------------------------------------------------ */

static void flush(struct worker *w)
{
	unsigned sent;

	if (!w->ntx)
		return;
	sent = w->io->tx_burst(w->q, w->tx, w->ntx);
	w->ctr.tx += sent;
	w->ctr.tx_failed += w->ntx - sent;
	w->ntx = 0;
}

/* The next transmit slot; flushes when the batch is full. */
static char *tx_slot(struct worker *w)
{
	if (w->ntx == IO_BURST_MAX)
		flush(w);
	return w->txbuf + (size_t)w->ntx * WORKER_TX_SLOT;
}

static void tx_commit(struct worker *w, uint32_t len, uint16_t iface, uint16_t realm,
		      const union sbc_sockaddr *dst)
{
	struct io_pkt *o = &w->tx[w->ntx++];

	o->buf = w->txbuf + (size_t)(w->ntx - 1) * WORKER_TX_SLOT;
	o->ref = NULL;
	o->len = len;
	o->iface = iface;
	o->realm = realm;
	o->dst = *dst;
}

/* A relayed media datagram: sent from its receive buffer, which stays in
 * its rx slot until the next burst, after this iteration's flush. A frame
 * the backend lent (ref) goes back to it here, to be rewritten and sent in
 * place (io.h: handed back exactly once, in this iteration). */
static void tx_media(struct worker *w, const struct io_pkt *in, const struct media_fwd *f)
{
	if (w->ntx == IO_BURST_MAX)
		flush(w);
	struct io_pkt *o = &w->tx[w->ntx++];
	o->buf = in->buf;
	o->ref = in->ref;
	o->len = in->len;
	o->iface = IO_IFACE_MEDIA;
	o->realm = f->realm;
	o->port = f->port;
	o->dst = f->dst;
}

/* proxy/txn output: copy into the batch (the caller's buffer is scratch). */
static int proxy_send(void *ctx, const struct txn_peer *to, const char *buf, uint32_t len)
{
	struct worker *w = ctx;
	char *slot;

	if (len > WORKER_TX_SLOT) {
		w->ctr.drop[WORKER_DROP_REPLY_OVERFLOW]++;
		return -EMSGSIZE;
	}
	slot = tx_slot(w);
	memcpy(slot, buf, len);
	tx_commit(w, len, to->iface, to->realm, &to->addr);
	return 0;
}

/* ---- stateless replies ----------------------------------------------------- */

static void reply(struct worker *w, const struct io_pkt *in, uint16_t status, const char *reason,
		  const char *extra)
{
	char *slot = tx_slot(w);
	int n = sip_reply(&w->msg, status, reason, w->tag,
			  (sip_str_t){ extra, (uint32_t)strlen(extra) }, slot, WORKER_TX_SLOT);

	if (n < 0) {
		w->ctr.drop[WORKER_DROP_REPLY_OVERFLOW]++;
		return;
	}
	tx_commit(w, (uint32_t)n, in->iface, in->realm, &in->src);
}

/* Answer a verdict of the lib, or drop it when it must not be answered. */
static void reply_error(struct worker *w, const struct io_pkt *in, enum sip_err e)
{
	uint16_t status;

	w->ctr.sip_err[e]++;
	status = sip_verdict_status(&w->msg, e);
	if (!status) {
		w->ctr.drop[WORKER_DROP_UNPARSEABLE]++;
		return;
	}
	/* Without a Via the response has nowhere to go (RFC 3261 18.2.2). */
	if (!sip_hdr_first(&w->msg, SIP_H_VIA)) {
		w->ctr.drop[WORKER_DROP_NO_VIA]++;
		return;
	}
	reply(w, in, status, sip_err_reason(e), w->hdr_server);
}

/* Option tags are tokens; anything else (a folded line, CR, LF) would let
 * a peer write headers into our reply. */
static bool tags_are_tokens(const char *s, size_t len)
{
	static const char extra[] = "-.!%*_+`'~, ";

	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || (ch && strchr(extra, ch))))
			return false;
	}
	return true;
}

static void reply_bad_extension(struct worker *w, const struct io_pkt *in, const char *unsup,
				uint32_t len)
{
	char hdr[1024];
	int n;


	if (!tags_are_tokens(unsup, len)) {
		w->ctr.sip_err[SIP_E_BAD_HEADER_VALUE]++;
		reply(w, in, 400, sip_err_reason(SIP_E_BAD_HEADER_VALUE), w->hdr_server);
		return;
	}
	w->ctr.sip_err[SIP_E_BAD_EXTENSION]++;
	n = snprintf(hdr, sizeof hdr, "Unsupported: %.*s\r\n%s", (int)len, unsup, w->hdr_server);
	if (n < 0 || (size_t)n >= sizeof hdr) {
		w->ctr.drop[WORKER_DROP_REPLY_OVERFLOW]++;
		return;
	}
	reply(w, in, 420, sip_err_reason(SIP_E_BAD_EXTENSION), hdr);
}

/* 503 + Retry-After (RFC 3261 21.5.4): refused by a limit, or overloaded. */
static void reply_unavailable(struct worker *w, const struct io_pkt *in, const char *reason)
{
	char hdr[sizeof w->hdr_server + 32];

	snprintf(hdr, sizeof hdr, "Retry-After: %u\r\n%s",
		 protect_retry_after(w->prot, in->realm), w->hdr_server);
	reply(w, in, 503, reason, hdr);
}

/* A source the realm's ACL denies, policy reject: 403 to a request that
 * expects an answer; responses, ACKs and unanswerable garbage: silence. */
static void reply_denied(struct worker *w, const struct io_pkt *in, enum sip_err e)
{
	const struct sip_msg *m = &w->msg;
	bool answer = e == SIP_E_OK ? m->is_request && m->method != SIP_M_ACK
				    : sip_verdict_status(m, e) != 0;

	answer = answer && sip_hdr_first(m, SIP_H_VIA);
	protect_denied(w->prot, in, answer);
	if (answer)
		reply(w, in, 403, "Forbidden - source not allowed", w->hdr_server);
}

/* The rate limits of a parsed request. False when it was refused here
 * (answered 503 or dropped); ACKs are never answered. */
static bool admitted(struct worker *w, const struct io_pkt *in)
{
	enum lim_verdict v = protect_request(w->prot, &w->pp, in, &w->msg, w->now_ms);

	if (v == LIM_REJECT)
		reply_unavailable(w, in, "Service Unavailable");
	return v == LIM_PASS;
}

/* ---- is a request for the SBC itself? ---------------------------------- */

static bool host_is_ip(sip_str_t host, const struct sbc_ip *ip)
{
	char buf[SBC_IP_TEXT_MAX];
	union { struct in_addr v4; struct in6_addr v6; } a;

	if (ip->family == AF_UNSPEC || host.len >= sizeof buf)
		return false;
	memcpy(buf, host.p, host.len);
	buf[host.len] = '\0';
	if (inet_pton(ip->family, buf, &a) != 1)
		return false;
	return ip->family == AF_INET ? a.v4.s_addr == ip->u.v4.s_addr
				     : !memcmp(&a.v6, &ip->u.v6, sizeof a.v6);
}

static bool realm_has_port(const struct sbc_realm *r, uint16_t port)
{
	for (size_t i = 0; i < r->nlisten; i++) {
		if (r->listen[i].port == port)
			return true;
	}
	return false;
}

/* R-URI without a user part (sip:host), or naming one of the realm's
 * addresses (listen or advertise) and, if it has a port, one of its ports. */
static bool addressed_to_us(const struct worker *w, const struct io_pkt *in,
			    const struct sip_msg *m)
{
	const struct sbc_realm *r = &w->cfg->realms[in->realm];
	struct sip_uri u;
	bool ours;

	if (sip_uri_parse(m->ruri, &u) < 0 ||
	    (u.scheme != SIP_SCHEME_SIP && u.scheme != SIP_SCHEME_SIPS))
		return false;
	if (!u.user.len)
		return true;
	if (u.user.len == TOPO_TOKEN_LEN && topo_token_peek(u.user, &(struct topo_token){ 0 }) == 0)
		return false; /* a Contact token of ours: the device's or dialog's, relay it */
	ours = sip_str_caseeq_lit(u.host, r->advertise.name) || host_is_ip(u.host, &r->advertise.ip);
	for (size_t i = 0; !ours && i < r->nlisten; i++)
		ours = host_is_ip(u.host, &r->listen[i].ip);
	return ours && (!u.has_port || realm_has_port(r, u.port));
}

/* RFC 5626 3.5.1 keepalive: a datagram of CRLFs. Not an error. */
static bool is_keepalive(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] != '\r' && p[i] != '\n')
			return false;
	}
	return len > 0;
}

/* ---- first touch ----------------------------------------------------------- */

/* Stateless handling of a parsed, checked request. Returns true when the
 * request was answered here and must not reach the proxy. */
static bool first_touch_request(struct worker *w, const struct io_pkt *in)
{
	static const char *const supported[] = { NULL }; /* no Proxy-Require extension */
	const struct sip_msg *m = &w->msg;
	char unsup[512];
	uint32_t unsup_len;
	bool terminating = m->method == SIP_M_OPTIONS && addressed_to_us(w, in, m);
	enum sip_err e;

	if (m->method == SIP_M_ACK) {
		/* The ACK of a stateless non-2xx of ours ends here (RFC 3261
		 * 17.2.1: hop by hop); any other goes to its shard. */
		struct sip_nameaddr to;
		if (sip_msg_to(m, &to) > 0 && sip_str_eq(to.tag, w->tag)) {
			w->ctr.acks_absorbed++;
			return true;
		}
	}
	/* Rate limits come after the ACKs of our own answers (a refused
	 * caller ACKs our 503: that must not count against it) and before
	 * anything is answered or steered. */
	if (!admitted(w, in))
		return true;
	if (m->method == SIP_M_ACK)
		return false;
	e = sip_proxy_check(m, terminating, supported, unsup, sizeof unsup, &unsup_len);
	if (e == SIP_E_BAD_EXTENSION) {
		reply_bad_extension(w, in, unsup, unsup_len);
		return true;
	}
	if (e != SIP_E_OK) {
		reply_error(w, in, e);
		return true;
	}
	if (terminating) {
		w->ctr.options_ok++;
		reply(w, in, 200, "OK", w->hdr_options);
		return true;
	}
	return false;
}

/* The shard of a parsed message, from its bytes alone. */
static unsigned shard_of(const struct worker *w, const struct sip_msg *m)
{
	unsigned n = w->sh->nworkers;
	struct sip_via via;
	sip_str_t cid = SIP_STR_NULL;

	if (n == 1)
		return 0;
	if (!m->is_request && sip_msg_top_via(m, &via) > 0) {
		int s = txn_branch_shard(via.branch);
		if (s >= 0 && (unsigned)s < n)
			return (unsigned)s;
	}
	if (m->is_request) {
		/* A request to one of our tokens belongs to the shard that minted
		 * it (a call to a registered device lives with its binding). Only
		 * peeked here; the owner verifies the MAC. */
		struct sip_uri u;
		struct topo_token t;
		if (sip_uri_parse(m->ruri, &u) == 0 && u.user.len == TOPO_TOKEN_LEN &&
		    topo_token_peek(u.user, &t) == 0 && t.shard < n)
			return t.shard;
	}
	if (m->is_request && m->method == SIP_M_REGISTER) {
		/* All bindings of an AOR in one shard, whatever the Call-ID of
		 * each device's REGISTER: "Contact: *" removes them all there. */
		struct sip_nameaddr to;
		if (sip_msg_to(m, &to) > 0 && to.uri.len)
			return sbc_shard_of(&w->shard_key, to.uri.p, to.uri.len, n);
	}
	(void)sip_msg_call_id(m, &cid);
	return sbc_shard_of(&w->shard_key, cid.p, cid.len, n);
}

static void to_proxy(struct worker *w, const struct io_pkt *in)
{
	struct txn_peer from = { .addr = in->src, .iface = in->iface, .realm = in->realm };

	proxy_input(w->proxy, &w->msg, &from);
}

static void count_received(struct worker *w)
{
	const struct sip_msg *m = &w->msg;

	if (m->is_request)
		w->m.requests[(unsigned)m->method < SIP_M__COUNT ? m->method : SIP_M_UNKNOWN]++;
	else
		w->m.responses[m->status >= 100 && m->status < 700 ? m->status / 100 : 0]++;
}

/* Parse and check; answers verdicts. Returns true when the message is
 * ready for the proxy (in w->msg). */
static bool accept_message(struct worker *w, const struct io_pkt *in)
{
	enum protect_screen scr;
	enum sip_err e;

	/* ACL and block list from the source address alone: a dropped
	 * source costs no parsing and gets nothing back, not even a pong. */
	scr = protect_screen(w->prot, &w->pp, in, w->now_ms);
	if (scr == PROTECT_DROP)
		return false;
	if (in->len && (in->buf[0] == '\r' || in->buf[0] == '\n') && is_keepalive(in->buf, in->len)) {
		/* RFC 5626 4.4.1 ping: answer the pong, which also refreshes the
		 * NAT pinhole from our side. */
		w->ctr.keepalives++;
		if (scr == PROTECT_DENY) {
			protect_denied(w->prot, in, false);   /* no pong either */
		} else if (in->len >= 4) {
			memcpy(tx_slot(w), "\r\n", 2);
			tx_commit(w, 2, in->iface, in->realm, &in->src);
		}
		return false;
	}
	e = sip_parse(&w->msg, in->buf, in->len);
	if (e == SIP_E_OK) {
		count_received(w);
		e = sip_check(&w->msg);
	}
	if (scr == PROTECT_DENY) {
		reply_denied(w, in, e);
		return false;
	}
	if (e != SIP_E_OK) {
		/* a source over its limits gets no 400s either (no reflection) */
		if (sip_verdict_status(&w->msg, e) &&
		    protect_malformed(w->prot, &w->pp, in, w->now_ms) != LIM_PASS)
			return false;
		reply_error(w, in, e);
		return false;
	}
	return true;
}

/* Hand slot i's buffer to its owner; put a fresh one in the slot. */
static void handoff(struct worker *w, unsigned i, unsigned owner)
{
	struct pktbuf *b = w->slot[i], *fresh = pool_get(w->bufs);
	void *obj = b;

	if (!fresh || ring_mesh_enqueue_burst(w->sh->handoff, w->id, owner, &obj, 1) != 1) {
		if (fresh)
			pool_put(w->bufs, fresh);
		w->ctr.handoff_dropped++;
		/* The owner is saturated: answer now what expects an answer
		 * (w->msg is this packet) rather than lose it silently and have
		 * the client retransmit into the same full ring. */
		if (w->msg.is_request && w->msg.method != SIP_M_ACK) {
			w->m.overload_503++;
			reply_unavailable(w, &w->rx[i], "Service Unavailable - SBC overloaded");
		} else {
			w->ctr.drop[WORKER_DROP_HANDOFF]++;
		}
		return;
	}
	b->pkt = w->rx[i];
	w->slot[i] = fresh;
	w->ctr.handoff_out++;
	w->wake[owner] = true;
}

static void process_one(struct worker *w, unsigned i)
{
	const struct io_pkt *in = &w->rx[i];

	if (!accept_message(w, in))
		return;
	if (w->msg.is_request && first_touch_request(w, in))
		return;
	unsigned owner = shard_of(w, &w->msg);
	if (owner == w->id)
		to_proxy(w, in);
	else
		handoff(w, i, owner);
}

/* The media datagrams of a burst, decided in one media_relay() call (it
 * prefetches the streams of the whole batch) and forwarded; drops are
 * counted by the library per reason. One clock read per burst: the
 * arrival time of every packet of it for jitter and inactivity. */
static void relay_media(struct worker *w, unsigned nm, uint64_t now_ns)
{
	uint64_t rx_us = now_ns / 1000u;
	unsigned fwd = 0;

	if (w->media) {
		for (unsigned k = 0; k < nm; k++) {
			const struct io_pkt *in = &w->rx[w->mrx[k]];
			w->mpkt[k] = (struct media_pkt){ &in->src, (const uint8_t *)in->buf, in->len,
							 in->port, in->realm, rx_us };
		}
		fwd = media_relay(w->media, w->mpkt, w->mfwd, nm);
	}
	/* Lent frames that are not forwarded go back to the backend now
	 * (io.h), together in one release call. */
	unsigned nrel = 0;
	for (unsigned k = 0; k < nm; k++) {
		const struct io_pkt *in = &w->rx[w->mrx[k]];
		if (fwd && w->mfwd[k].drop == MEDIA_DROP_NONE)
			tx_media(w, in, &w->mfwd[k]);
		else if (in->ref)
			w->mrel[nrel++] = *in;
	}
	if (nrel)
		w->io->release(w->q, w->mrel, nrel);
}

/* One clock read per datagram for the processing-time histogram:
 * CLOCK_MONOTONIC through the vDSO plus the bucket search, ~25-50 ns a
 * datagram on AMD EPYC (TSC clocksource), against ~1-5 us to handle one.
 * Media datagrams are set aside and relayed after the burst's SIP. */
static void process_rx(struct worker *w, unsigned n)
{
	uint64_t t0 = metrics_now_ns(), t1, burst_t0 = t0;
	unsigned nm = 0;

	w->ctr.rx += n;
	for (unsigned i = 0; i < n; i++) {
		if (w->rx[i].iface == IO_IFACE_MEDIA) {
			w->mrx[nm++] = (uint8_t)i;
			continue;
		}
		process_one(w, i);
		t1 = metrics_now_ns();
		metrics_hist_observe(&w->m.processing, &metrics_layout_processing, t1 - t0);
		t0 = t1;
	}
	if (nm)
		relay_media(w, nm, burst_t0);
}

/* Packets other workers handed us; their buffers go back to the owner. */
static unsigned drain_handoffs(struct worker *w)
{
	void *objs[IO_BURST_MAX];
	unsigned n;

	if (!w->sh->handoff)
		return 0;
	n = ring_mesh_dequeue_burst(w->sh->handoff, w->id, objs, IO_BURST_MAX);

	uint64_t t0 = n ? metrics_now_ns() : 0, t1;
	for (unsigned i = 0; i < n; i++) {
		struct pktbuf *b = objs[i];
		enum sip_err e = sip_parse(&w->msg, b->pkt.buf, b->pkt.len);
		void *obj = b;

		w->ctr.handoff_in++;
		if (e == SIP_E_OK)
			to_proxy(w, &b->pkt);
		t1 = metrics_now_ns();
		metrics_hist_observe(&w->m.processing, &metrics_layout_processing, t1 - t0);
		t0 = t1;
		/* The giveback ring is as deep as the owner's pool share, so it
		 * cannot be full; if it ever were, leaking one buffer beats a
		 * use-after-free. */
		if (ring_mesh_enqueue_burst(w->sh->giveback, w->id, b->owner, &obj, 1) != 1)
			w->ctr.drop[WORKER_DROP_HANDOFF]++;
	}
	return n;
}

static void drain_givebacks(struct worker *w)
{
	void *objs[IO_BURST_MAX];
	unsigned n;

	if (!w->sh->giveback)
		return;
	while ((n = ring_mesh_dequeue_burst(w->sh->giveback, w->id, objs, IO_BURST_MAX)) > 0)
		for (unsigned i = 0; i < n; i++)
			pool_put(w->bufs, objs[i]);
}

/* Wake the peers we handed packets to, if they sleep: one write per peer
 * per burst, and none at all while they are busy polling. */
static void wake_peers(struct worker *w)
{
	for (unsigned t = 0; t < w->sh->nworkers; t++) {
		if (!w->wake[t])
			continue;
		w->wake[t] = false;
		struct worker *p = w->sh->workers[t];
		if (atomic_load_explicit(&p->sleeping, memory_order_seq_cst)) {
			uint64_t one = 1;
			ssize_t r = write(p->wakefd, &one, sizeof one);
			(void)r; /* EAGAIN: the counter is already non-zero */
		}
	}
}

static int idle_timeout(const struct worker *w, uint64_t now)
{
	uint64_t next = wheel_next_expiry(w->wheel);

	if (next <= now)
		return 0;
	return next - now < WORKER_IDLE_MS ? (int)(next - now) : WORKER_IDLE_MS;
}

static bool rings_pending(struct worker *w)
{
	if (!w->sh->handoff)
		return false;
	for (unsigned f = 0; f < w->sh->nworkers; f++) {
		struct ring_spsc *r = ring_mesh_ring(w->sh->handoff, f, w->id);
		if (r && ring_spsc_count(r))
			return true;
		r = ring_mesh_ring(w->sh->giveback, f, w->id);
		if (r && ring_spsc_count(r))
			return true;
	}
	return false;
}

/*
 * Sleep in the backend until a packet, a handoff or the next timer. The
 * flag is raised before the final ring check so a producer that enqueues
 * after the check sees it and writes the eventfd (no lost wake-up).
 *
 * The eventfd is drained only when wait() says a watched fd may be
 * readable (> 0; io.h), not after every wait: a poll-mode backend (DPDK
 * without power_saving) returns 0 at once on every empty poll, and a
 * read() there was a system call per empty poll (~6% of a DPDK worker).
 * Why nothing is lost or spins:
 *   - Wake-ups are not carried by the counter's value: the producer's
 *     enqueue precedes its load of `sleeping`, which precedes its write,
 *     and after any wait() the loop polls every ring before it can raise
 *     the flag again and re-check. Draining only removes readability.
 *   - A blocking backend reports the eventfd when it is readable
 *     (epoll/ppoll count it), so a write before or during the wait is
 *     drained right after it; a write after our read leaves the fd
 *     readable, the next wait returns at once with > 0 and drains it: one
 *     spurious return at most, never a lost one.
 *   - A backend that never blocks never looks at the fd: writes from
 *     peers that saw the flag for an instant just add to the counter
 *     (which cannot realistically reach its 2^64-2 limit) until a wait
 *     reports it (DPDK power_saving's back-off ppoll does, then drains).
 */
static int sleep_until_work(struct worker *w)
{
	uint64_t junk;
	int r = 0;

	atomic_store_explicit(&w->sleeping, true, memory_order_seq_cst);
	if (!rings_pending(w))
		r = w->io->wait(w->q, idle_timeout(w, sbc_now_ms()));
	atomic_store_explicit(&w->sleeping, false, memory_order_relaxed);
	if (r > 0 && read(w->wakefd, &junk, sizeof junk) < 0 && errno != EAGAIN)
		return -errno;
	return r < 0 ? r : 0;
}

static void snapshot_media(struct worker *w)
{
	const struct media_counters *c = media_counters(w->media);
	struct worker_media *m = &w->m.media;

	METRICS_STORE(m->rx, c->rx_packets);
	for (unsigned k = 0; k < MEDIA_PKT__COUNT; k++)
		METRICS_STORE(m->fwd[k], c->fwd[k]);
	METRICS_STORE(m->fwd_bytes, c->fwd_bytes);
	for (unsigned k = 0; k < MEDIA_DROP__COUNT; k++)
		METRICS_STORE(m->drop[k], c->drop[k]);
	METRICS_STORE(m->no_ports, c->no_ports);
	METRICS_STORE(m->no_streams, c->no_streams);
	METRICS_STORE(m->no_sessions, c->no_sessions);
	METRICS_STORE(m->sdp_errors, c->sdp_errors);
	METRICS_STORE(m->sessions, media_sessions_in_use(w->media));
	METRICS_STORE(m->streams, media_streams_in_use(w->media));
	for (size_t r = 0; r < w->cfg->nrealms && r < SBC_MAX_REALMS; r++) {
		const struct media_ports *p = media_realm_ports(w->media, (uint32_t)r);
		METRICS_STORE(m->ports_in_use[r], p ? media_ports_in_use(p) : 0);
		METRICS_STORE(m->ports_capacity[r], p ? media_ports_capacity(p) : 0);
	}
}

/* Publish the shard's transaction and dialog figures for the metrics
 * reader, and the call count for admission control. */
static void snapshot(struct worker *w)
{
	struct txn_stats t;
	struct dlg_stats d;

	proxy_stats(w->proxy, &t, &d);
	METRICS_STORE(w->m.txn.server_created, t.server_created);
	METRICS_STORE(w->m.txn.client_created, t.client_created);
	METRICS_STORE(w->m.txn.server_active, t.server_active);
	METRICS_STORE(w->m.txn.client_active, t.client_active);
	METRICS_STORE(w->m.txn.retransmits_sent, t.retransmits_sent);
	METRICS_STORE(w->m.txn.retransmits_absorbed, t.retransmits_absorbed);
	METRICS_STORE(w->m.txn.timeouts, t.timeouts);
	METRICS_STORE(w->m.txn.stray_responses, t.stray_responses);
	METRICS_STORE(w->m.txn.pool_exhausted, t.pool_exhausted);
	METRICS_STORE(w->m.txn.send_failures, t.send_failures);
	METRICS_STORE(w->m.dlg.created, d.created);
	METRICS_STORE(w->m.dlg.confirmed, d.confirmed);
	METRICS_STORE(w->m.dlg.destroyed, d.destroyed);
	METRICS_STORE(w->m.dlg.table_full, d.table_full);
	METRICS_STORE(w->m.dlg.early, d.early);
	METRICS_STORE(w->m.dlg.active, d.active);
	METRICS_STORE(w->m.registrations, proxy_bindings(w->proxy));
	protect_set_calls(w->prot, (uint64_t)d.early + d.active);
	if (w->media)
		snapshot_media(w);
	w->snap_ms = w->now_ms;
}

static void prepare_rx(struct worker *w)
{
	for (unsigned i = 0; i < IO_BURST_MAX; i++) {
		w->rx[i].buf = w->slot[i]->data;
		w->rx[i].ref = NULL;
	}
}

void *worker_run(void *arg)
{
	struct worker *w = arg;
	char name[16];

	snprintf(name, sizeof name, "w%u", w->id);
	sbc_log_thread_name(name);
	log_debug("worker %u running", w->id);
	while (!atomic_load_explicit(w->stop, memory_order_relaxed)) {
		w->now_ms = sbc_now_ms();
		if (w->now_ms - w->snap_ms >= WORKER_SNAPSHOT_MS)
			snapshot(w);
		drain_givebacks(w);
		prepare_rx(w);
		unsigned n = w->io->rx_burst(w->q, w->rx, IO_BURST_MAX);
		if (n)
			process_rx(w, n);
		unsigned h = drain_handoffs(w);
		wheel_advance(w->wheel, sbc_now_ms(), proxy_timer, w->proxy);
		flush(w); /* one flush per iteration */
		wake_peers(w);
		if (n || h)
			continue;
		int r = sleep_until_work(w);
		if (r < 0) {
			log_error("worker %u: waiting for packets failed: %s; shutting down", w->id,
				  strerror(-r));
			kill(getpid(), WORKER_STOP_SIGNAL);
			break;
		}
	}
	snapshot(w); /* final figures for the shutdown summary */
	log_debug("worker %u stopped", w->id);
	return NULL;
}

/* ---- set-up ------------------------------------------------------------- */

static void make_headers(struct worker *w)
{
	const char *ua = w->cfg->sip.user_agent;

	if (ua[0])
		snprintf(w->hdr_server, sizeof w->hdr_server, "Server: %s\r\n", ua);
	snprintf(w->hdr_options, sizeof w->hdr_options,
		 "Allow: " ALLOW_METHODS "\r\n"
		 "Accept: application/sdp\r\n"
		 "Supported:\r\n"
		 "%s",
		 w->hdr_server);
}

static int make_buffers(struct worker *w)
{
	w->bufs = pool_create(WORKER_BUFS, sizeof(struct pktbuf), 0);
	w->txbuf = malloc((size_t)IO_BURST_MAX * WORKER_TX_SLOT);
	if (!w->bufs || !w->txbuf)
		return -ENOMEM;
	for (unsigned i = 0; i < WORKER_BUFS; i++) {
		struct pktbuf *b = pool_at(w->bufs, i);
		b->owner = (uint16_t)w->id;
	}
	for (unsigned i = 0; i < IO_BURST_MAX; i++) {
		w->slot[i] = pool_get(w->bufs);
		if (!w->slot[i])
			return -ENOMEM;
	}
	return 0;
}

/* The proxy's relay ports: open or close their sockets in our queue. An
 * open that fails (a foreign process holds the port, the descriptor
 * limit) refuses the offer (503): logged at most every 10 s with the
 * count of the failures kept quiet meanwhile. */
static int media_port(void *ctx, uint16_t realm, uint16_t port, bool open)
{
	struct worker *w = ctx;
	int r;

	if (!open) {
		w->io->media_close(w->q, realm, port);
		return 0;
	}
	r = w->io->media_open(w->q, realm, port);
	if (r < 0) {
		w->m.media.port_open_failed++;
		if (w->now_ms - w->media_log_ms >= 10000 || !w->media_log_ms) {
			log_warn("worker %u: cannot open media port %s:%u/udp: %s%s (%u more since "
				 "the last report); its call gets 503",
				 w->id, w->cfg->realms[realm].media.ip.text, port, strerror(-r),
				 r == -EMFILE ? " (descriptor limit)" : "", w->media_log_quiet);
			w->media_log_ms = w->now_ms ? w->now_ms : 1;
			w->media_log_quiet = 0;
		} else {
			w->media_log_quiet++;
		}
	}
	return r;
}

static int make_proxy(struct worker *w)
{
	struct proxy_env env = {
		.cfg = w->cfg,
		.shard = w->id,
		.send = proxy_send,
		.ctx = w,
		.seed = { w->sh->seed[0] ^ w->id, w->sh->seed[1] },
		.max_transactions = w->cfg->sip.max_transactions,
		.max_dialogs = w->cfg->sip.max_dialogs,
		.sl_tag = w->tag,
		.calls = &w->m.calls,
		.token_key = w->sh->token_key,
		.token_key_len = sizeof w->sh->token_key,
		/* media anchoring only where the backend can relay */
		.media_port = w->io && w->io->media_open && w->io->media_close ? media_port : NULL,
		.max_media_sessions = WORKER_MAX_MEDIA_SESSIONS,
		.nworkers = w->sh->nworkers,
	};

	w->wheel = wheel_create(sbc_now_ms());
	if (!w->wheel)
		return -ENOMEM;
	env.wheel = w->wheel;
	w->proxy = proxy_create(&env);
	if (w->proxy)
		w->media = proxy_media(w->proxy);
	return w->proxy ? 0 : -ENOMEM;
}

/* Per-worker secret for the source table, so that no two workers (and no
 * two runs) place a spoofed address in the same set. */
static int make_protect(struct worker *w)
{
	struct sbc_hash_key k;

	if (sbc_hash_key_random(&k) < 0)
		return -EIO;
	w->now_ms = sbc_now_ms();
	w->prot = protect_create(w->cfg, w->sh->nworkers, &k, k.k0 ^ k.k1, w->now_ms);
	return w->prot ? 0 : -ENOMEM;
}

struct worker *worker_create(unsigned id, const struct sbc_config *cfg,
			     const struct io_backend *io, struct io_queue *q,
			     const atomic_bool *stop, const struct worker_shared *sh)
{
	struct worker *w = aligned_alloc(64, (sizeof *w + 63) & ~(size_t)63);

	if (!w)
		return NULL;
	memset(w, 0, sizeof *w);
	w->id = id;
	w->cfg = cfg;
	w->io = io;
	w->q = q;
	w->stop = stop;
	w->sh = sh;
	w->shard_key = (struct sbc_hash_key){ sh->shard_key[0], sh->shard_key[1] };
	w->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	atomic_init(&w->sleeping, false);
	w->tag = (sip_str_t){ sh->sl_tag, (uint32_t)strlen(sh->sl_tag) };
	make_headers(w);
	if (w->wakefd < 0 || make_buffers(w) < 0 || make_proxy(w) < 0 || make_protect(w) < 0 ||
	    (io && io->watch && io->watch(q, w->wakefd) < 0)) {
		worker_destroy(w);
		return NULL;
	}
	return w;
}

void worker_destroy(struct worker *w)
{
	if (!w)
		return;
	proxy_destroy(w->proxy);
	protect_destroy(w->prot);
	wheel_destroy(w->wheel);
	pool_destroy(w->bufs);
	if (w->wakefd >= 0)
		close(w->wakefd);
	free(w->txbuf);
	free(w);
}
