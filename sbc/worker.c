/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Worker: burst loop and per-packet SIP handling (no proxying yet).
 *
 * What a request gets today:
 *   unparseable / malformed   the lib's verdict: 4xx/5xx with the reason that
 *                             names the problem, or a counted drop (no
 *                             request line, responses, ACK)
 *   ACK                       absorbed (it never gets a response)
 *   OPTIONS to the SBC        200 with Allow/Accept/Supported, or 420 for
 *                             Require tags (we support none yet)
 *   Max-Forwards 0            483 (not for OPTIONS to the SBC: it is the
 *                             endpoint, RFC 3261 16.3 step 3)
 *   anything else             501, until proxying lands
 * Responses are counted and dropped: there are no client transactions yet.
 */
#include "worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* An idle worker wakes this often to notice the stop flag; later it will
 * be the time to the next timer instead. */
#define WORKER_IDLE_MS 100

/* Reply buffer per packet of a burst: a reply copies the request's Via,
 * From, To, Call-ID and CSeq lines, so it is bounded by the largest
 * message we accept plus our own headers. */
#define WORKER_TX_SLOT (SIP_MAX_MSG + 1024u)

#define ALLOW_METHODS "INVITE, ACK, BYE, CANCEL, REGISTER, OPTIONS, PRACK, SUBSCRIBE, " \
		      "NOTIFY, PUBLISH, INFO, REFER, MESSAGE, UPDATE"

#define REASON_501 "Not Implemented - proxying arrives in the next release"

struct worker {
	struct worker_counters ctr;        /* first: its own cache lines */
	unsigned id;
	const struct sbc_config *cfg;
	const struct io_backend *io;
	struct io_queue *q;
	const atomic_bool *stop;
	char to_tag[17];                   /* random, per worker (RFC 3261 19.3) */
	sip_str_t tag;
	char hdr_server[SBC_UA_MAX + 16];  /* "Server: ...\r\n" or "" */
	char hdr_options[512];             /* extra headers of the 200 to OPTIONS */
	char *txbuf;                       /* IO_BURST_MAX * WORKER_TX_SLOT */
	struct io_pkt rx[IO_BURST_MAX];
	struct io_pkt tx[IO_BURST_MAX];
	struct sip_msg msg;
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

void worker_counters_add(struct worker_counters *a, const struct worker_counters *b)
{
	a->rx += b->rx;
	a->tx += b->tx;
	a->tx_failed += b->tx_failed;
	a->keepalives += b->keepalives;
	a->acks += b->acks;
	a->options_ok += b->options_ok;
	a->not_implemented += b->not_implemented;
	for (unsigned i = 0; i < SIP_E__COUNT; i++)
		a->sip_err[i] += b->sip_err[i];
	for (unsigned i = 0; i < WORKER_DROP__COUNT; i++)
		a->drop[i] += b->drop[i];
}

/* ---- replies ------------------------------------------------------------ */

static size_t drop(struct worker *w, enum worker_drop why)
{
	w->ctr.drop[why]++;
	return 0;
}

static size_t reply(struct worker *w, uint16_t status, const char *reason, const char *extra,
		    size_t extra_len, char *out, size_t cap)
{
	int n = sip_reply(&w->msg, status, reason, w->tag,
			  (sip_str_t){ extra, (uint32_t)extra_len }, out, cap);

	if (n < 0)
		return drop(w, WORKER_DROP_REPLY_OVERFLOW);
	return (size_t)n;
}

static size_t reply_server(struct worker *w, uint16_t status, const char *reason, char *out,
			   size_t cap)
{
	return reply(w, status, reason, w->hdr_server, strlen(w->hdr_server), out, cap);
}

/* Answer a verdict of the lib, or drop it when it must not be answered. */
static size_t reply_error(struct worker *w, enum sip_err e, char *out, size_t cap)
{
	uint16_t status;

	w->ctr.sip_err[e]++;
	status = sip_verdict_status(&w->msg, e);
	if (!status)
		return drop(w, WORKER_DROP_UNPARSEABLE);
	/* Without a Via the response has nowhere to go (RFC 3261 18.2.2);
	 * e.g. the request line failed and no header was indexed. */
	if (!sip_hdr_first(&w->msg, SIP_H_VIA))
		return drop(w, WORKER_DROP_NO_VIA);
	return reply_server(w, status, sip_err_reason(e), out, cap);
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

static size_t reply_bad_extension(struct worker *w, const char *unsup, uint32_t len, char *out,
				  size_t cap)
{
	char hdr[1024];
	int n;

	if (!tags_are_tokens(unsup, len)) {
		w->ctr.sip_err[SIP_E_BAD_HEADER_VALUE]++;
		return reply_server(w, 400, sip_err_reason(SIP_E_BAD_HEADER_VALUE), out, cap);
	}
	w->ctr.sip_err[SIP_E_BAD_EXTENSION]++;
	n = snprintf(hdr, sizeof hdr, "Unsupported: %.*s\r\n%s", (int)len, unsup, w->hdr_server);
	if (n < 0 || (size_t)n >= sizeof hdr)
		return drop(w, WORKER_DROP_REPLY_OVERFLOW);
	return reply(w, 420, sip_err_reason(SIP_E_BAD_EXTENSION), hdr, (size_t)n, out, cap);
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
	ours = sip_str_caseeq_lit(u.host, r->advertise.name) || host_is_ip(u.host, &r->advertise.ip);
	for (size_t i = 0; !ours && i < r->nlisten; i++)
		ours = host_is_ip(u.host, &r->listen[i].ip);
	return ours && (!u.has_port || realm_has_port(r, u.port));
}

/* ---- requests ----------------------------------------------------------- */

static size_t handle_request(struct worker *w, const struct io_pkt *in, char *out, size_t cap)
{
	static const char *const supported[] = { NULL }; /* no extension yet */
	const struct sip_msg *m = &w->msg;
	char unsup[512];
	uint32_t unsup_len;
	bool terminating;
	enum sip_err e;

	if (m->method == SIP_M_ACK) {
		w->ctr.acks++;
		return 0;
	}
	terminating = m->method == SIP_M_OPTIONS && addressed_to_us(w, in, m);
	e = sip_proxy_check(m, terminating, supported, unsup, sizeof unsup, &unsup_len);
	if (e == SIP_E_BAD_EXTENSION)
		return reply_bad_extension(w, unsup, unsup_len, out, cap);
	if (e != SIP_E_OK)
		return reply_error(w, e, out, cap);
	if (terminating) {
		w->ctr.options_ok++;
		return reply(w, 200, "OK", w->hdr_options, strlen(w->hdr_options), out, cap);
	}
	w->ctr.not_implemented++;
	return reply_server(w, 501, REASON_501, out, cap);
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

size_t worker_handle(struct worker *w, const struct io_pkt *in, char *out, size_t cap)
{
	enum sip_err e;

	if (in->len && (in->buf[0] == '\r' || in->buf[0] == '\n') && is_keepalive(in->buf, in->len)) {
		w->ctr.keepalives++;
		return 0;
	}
	e = sip_parse(&w->msg, in->buf, in->len);
	if (e == SIP_E_OK && !w->msg.is_request)
		return drop(w, WORKER_DROP_RESPONSE);
	if (e == SIP_E_OK)
		e = sip_check(&w->msg);
	if (e != SIP_E_OK)
		return reply_error(w, e, out, cap);
	return handle_request(w, in, out, cap);
}

/* ---- the loop ----------------------------------------------------------- */

static void flush(struct worker *w, unsigned n)
{
	unsigned sent;

	if (!n)
		return;
	sent = w->io->tx_burst(w->q, w->tx, n);
	w->ctr.tx += sent;
	w->ctr.tx_failed += n - sent;
}

static void process_burst(struct worker *w, unsigned n)
{
	unsigned ntx = 0;

	w->ctr.rx += n;
	for (unsigned i = 0; i < n; i++) {
		const struct io_pkt *in = &w->rx[i];
		struct io_pkt *out = &w->tx[ntx];
		size_t len;

		out->buf = w->txbuf + (size_t)ntx * WORKER_TX_SLOT;
		len = worker_handle(w, in, out->buf, WORKER_TX_SLOT);
		if (!len)
			continue;
		out->len = (uint32_t)len;
		out->iface = in->iface;
		out->realm = in->realm;
		out->src = in->dst;
		out->dst = in->src;
		ntx++;
	}
	flush(w, ntx); /* one flush per iteration */
}

void *worker_run(void *arg)
{
	struct worker *w = arg;
	char name[16];

	snprintf(name, sizeof name, "w%u", w->id);
	sbc_log_thread_name(name);
	log_debug("worker %u running", w->id);
	while (!atomic_load_explicit(w->stop, memory_order_relaxed)) {
		unsigned n = w->io->rx_burst(w->q, w->rx, IO_BURST_MAX);
		int r;

		if (n) {
			process_burst(w, n);
			continue;
		}
		r = w->io->wait(w->q, WORKER_IDLE_MS);
		if (r < 0) {
			log_error("worker %u: waiting for packets failed: %s; shutting down", w->id,
				  strerror(-r));
			kill(getpid(), WORKER_STOP_SIGNAL);
			break;
		}
	}
	log_debug("worker %u stopped", w->id);
	return NULL;
}

/* ---- set-up ------------------------------------------------------------- */

static void make_tag(struct worker *w)
{
	uint8_t rnd[8];

	if (getrandom(rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd) {
		/* Early boot without entropy: unique beats unpredictable here. */
		struct timespec ts;
		uint64_t x;

		clock_gettime(CLOCK_REALTIME, &ts);
		x = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40) ^
		    w->id;
		memcpy(rnd, &x, sizeof rnd);
	}
	for (unsigned i = 0; i < sizeof rnd; i++)
		snprintf(w->to_tag + 2 * i, 3, "%02x", rnd[i]);
	w->tag = (sip_str_t){ w->to_tag, 2 * sizeof rnd };
}

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

struct worker *worker_create(unsigned id, const struct sbc_config *cfg,
			     const struct io_backend *io, struct io_queue *q,
			     const atomic_bool *stop)
{
	struct worker *w = aligned_alloc(64, (sizeof *w + 63) & ~(size_t)63);

	if (!w)
		return NULL;
	memset(w, 0, sizeof *w);
	w->txbuf = malloc((size_t)IO_BURST_MAX * WORKER_TX_SLOT);
	if (!w->txbuf) {
		free(w);
		return NULL;
	}
	w->id = id;
	w->cfg = cfg;
	w->io = io;
	w->q = q;
	w->stop = stop;
	make_tag(w);
	make_headers(w);
	return w;
}

void worker_destroy(struct worker *w)
{
	if (!w)
		return;
	free(w->txbuf);
	free(w);
}
