/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control thread and the /metrics exposition.
 *
 * HTTP: libmicrohttpd without its own threads (MHD_USE_EPOLL, external
 * loop): this thread waits on one epoll set holding MHD's epoll fd and a
 * stop eventfd, and calls MHD_run() when either is ready. We bind the
 * listening socket ourselves so a start-up failure names its errno.
 * Connection count and idle time are bounded (a slow or hostile client on
 * the management network cannot pin memory or the thread).
 *
 * Cost of a scrape (2 workers, 2 realms: ~200 samples, ~15 KiB of text):
 * 50-100 us on this thread to load the counters and render the text
 * (debugoptimized build, busy 2-core AMD EPYC VM; the value of the
 * previous scrape is exported as sbc_scrape_duration_seconds). Workers do
 * nothing for it: tests/integration/test_metrics.py answers every SIP
 * request while two clients scrape ~3,000 times a second.
 */
#include "control.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "log.h"
#include "proxy.h"
#include "sbc-config.h"

#define CONTROL_MAX_CONNECTIONS 32u
#define CONTROL_CONN_TIMEOUT_S  10u
#define CONTROL_TICK_MS         1000

struct control {
	struct control_env env;
	struct MHD_Daemon *mhd;
	pthread_t thread;
	bool started;
	int ep;                      /* epoll: MHD's fd + stopfd */
	int stopfd;
	atomic_bool stop;
	uint64_t last_scrape_ns;     /* control thread only */
};

/* ---- the exposition ----------------------------------------------------- */

#define L(n, v) ((struct metrics_label){ (n), (v) })

/* "CL_MISMATCH" -> "cl_mismatch" */
static const char *lower(const char *s, char *buf, size_t cap)
{
	size_t i = 0;

	for (; s[i] && i + 1 < cap; i++)
		buf[i] = (char)tolower((unsigned char)s[i]);
	buf[i] = '\0';
	return buf;
}

static void counter(struct metrics_buf *b, const char *name, const char *help, uint64_t v)
{
	metrics_family(b, name, "counter", help);
	metrics_sample(b, name, NULL, 0, v);
}

static void gauge(struct metrics_buf *b, const char *name, const char *help, uint64_t v)
{
	metrics_family(b, name, "gauge", help);
	metrics_sample(b, name, NULL, 0, v);
}

struct sums {
	struct worker_counters c;
	uint64_t requests[SIP_M__COUNT];
	uint64_t responses[7];
	uint64_t overload_503;
	uint64_t proxy[PROXY_C__COUNT];
	uint64_t calls_attempted, calls_answered, calls_failed;
	struct metrics_hist setup, processing;
	uint64_t txn_server_active, txn_client_active, txn_server_created, txn_client_created;
	uint64_t retrans_sent, retrans_absorbed, txn_timeouts, txn_pool_exhausted;
	uint64_t dlg_created, dlg_table_full, dlg_early, dlg_active, registrations;
	uint64_t src_used, src_capacity, src_evictions;
	struct worker_media media;   /* ports_* summed per realm */
};

static void sum_worker(struct sums *s, const struct worker *w)
{
	const struct worker_counters *c = worker_counters(w);
	const struct worker_metrics *m = worker_metrics(w);
	const uint64_t *pc = worker_proxy_counters(w);
	uint64_t used, cap, ev;

	s->c.rx += METRICS_LOAD(c->rx);
	s->c.tx += METRICS_LOAD(c->tx);
	s->c.tx_failed += METRICS_LOAD(c->tx_failed);
	s->c.keepalives += METRICS_LOAD(c->keepalives);
	s->c.options_ok += METRICS_LOAD(c->options_ok);
	s->c.acks_absorbed += METRICS_LOAD(c->acks_absorbed);
	s->c.handoff_out += METRICS_LOAD(c->handoff_out);
	s->c.handoff_in += METRICS_LOAD(c->handoff_in);
	s->c.handoff_dropped += METRICS_LOAD(c->handoff_dropped);
	for (unsigned i = 0; i < SIP_E__COUNT; i++)
		s->c.sip_err[i] += METRICS_LOAD(c->sip_err[i]);
	for (unsigned i = 0; i < WORKER_DROP__COUNT; i++)
		s->c.drop[i] += METRICS_LOAD(c->drop[i]);
	for (unsigned i = 0; i < SIP_M__COUNT; i++)
		s->requests[i] += METRICS_LOAD(m->requests[i]);
	for (unsigned i = 0; i < 7; i++)
		s->responses[i] += METRICS_LOAD(m->responses[i]);
	s->overload_503 += METRICS_LOAD(m->overload_503);
	for (unsigned i = 0; i < PROXY_C__COUNT; i++)
		s->proxy[i] += METRICS_LOAD(pc[i]);
	s->calls_attempted += METRICS_LOAD(m->calls.attempted);
	s->calls_answered += METRICS_LOAD(m->calls.answered);
	s->calls_failed += METRICS_LOAD(m->calls.failed);
	metrics_hist_add(&s->setup, &m->calls.setup);
	metrics_hist_add(&s->processing, &m->processing);
	s->txn_server_active += METRICS_LOAD(m->txn.server_active);
	s->txn_client_active += METRICS_LOAD(m->txn.client_active);
	s->txn_server_created += METRICS_LOAD(m->txn.server_created);
	s->txn_client_created += METRICS_LOAD(m->txn.client_created);
	s->retrans_sent += METRICS_LOAD(m->txn.retransmits_sent);
	s->retrans_absorbed += METRICS_LOAD(m->txn.retransmits_absorbed);
	s->txn_timeouts += METRICS_LOAD(m->txn.timeouts);
	s->txn_pool_exhausted += METRICS_LOAD(m->txn.pool_exhausted);
	s->dlg_created += METRICS_LOAD(m->dlg.created);
	s->dlg_table_full += METRICS_LOAD(m->dlg.table_full);
	s->dlg_early += METRICS_LOAD(m->dlg.early);
	s->registrations += METRICS_LOAD(m->registrations);
	s->dlg_active += METRICS_LOAD(m->dlg.active);
	const struct worker_media *md = &m->media;
	s->media.rx += METRICS_LOAD(md->rx);
	for (unsigned i = 0; i < MEDIA_PKT__COUNT; i++)
		s->media.fwd[i] += METRICS_LOAD(md->fwd[i]);
	s->media.fwd_bytes += METRICS_LOAD(md->fwd_bytes);
	for (unsigned i = 0; i < MEDIA_DROP__COUNT; i++)
		s->media.drop[i] += METRICS_LOAD(md->drop[i]);
	s->media.no_ports += METRICS_LOAD(md->no_ports);
	s->media.no_streams += METRICS_LOAD(md->no_streams);
	s->media.no_sessions += METRICS_LOAD(md->no_sessions);
	s->media.sdp_errors += METRICS_LOAD(md->sdp_errors);
	s->media.port_open_failed += METRICS_LOAD(md->port_open_failed);
	s->media.sessions += METRICS_LOAD(md->sessions);
	s->media.streams += METRICS_LOAD(md->streams);
	for (unsigned r = 0; r < SBC_MAX_REALMS; r++) {
		s->media.ports_in_use[r] += METRICS_LOAD(md->ports_in_use[r]);
		s->media.ports_capacity[r] += METRICS_LOAD(md->ports_capacity[r]);
	}
	protect_table_stats(worker_protect(w), &used, &cap, &ev);
	s->src_used += used;
	s->src_capacity += cap;
	s->src_evictions += ev;
}

static void per_worker(struct metrics_buf *b, const struct control_env *env, const char *name,
		       const char *help, size_t field_off)
{
	char id[16];

	metrics_family(b, name, "counter", help);
	for (unsigned i = 0; i < env->nworkers; i++) {
		const char *c = (const char *)worker_counters(env->workers[i]);
		const uint64_t *v = (const uint64_t *)(const void *)(c + field_off);
		snprintf(id, sizeof id, "%u", i);
		metrics_sample(b, name, &L("worker", id), 1, METRICS_LOAD(*v));
	}
}

static void protection(struct metrics_buf *b, const struct control_env *env)
{
	const struct sbc_config *cfg = env->cfg;
	size_t nr = cfg->nrealms;

	metrics_family(b, "sbc_ratelimit_decisions_total", "counter",
		       "Requests refused by a limit, by realm, limit (reason) and action "
		       "(reject: 503 with Retry-After; drop: silence beyond the flood multiple, "
		       "ACKs, blocked sources).");
	for (size_t r = 0; r < nr; r++) {
		for (unsigned k = 0; k < PROTECT_R__COUNT; k++) {
			for (unsigned a = 0; a < PROTECT_A__COUNT; a++) {
				uint64_t v = 0;
				for (unsigned i = 0; i < env->nworkers; i++) {
					const uint64_t *d = protect_decisions(
						worker_protect(env->workers[i]));
					v += METRICS_LOAD(d[(r * PROTECT_R__COUNT + k) *
							    PROTECT_A__COUNT + a]);
				}
				struct metrics_label l[3] = {
					L("realm", cfg->realms[r].name),
					L("reason", protect_reason_name((enum protect_reason)k)),
					L("action", protect_action_name((enum protect_action)a)),
				};
				metrics_sample(b, "sbc_ratelimit_decisions_total", l, 3, v);
			}
		}
	}
	metrics_family(b, "sbc_ratelimit_blocks_total", "counter",
		       "Sources blocked for staying over their limits, by realm.");
	for (size_t r = 0; r < nr; r++) {
		uint64_t v = 0;
		for (unsigned i = 0; i < env->nworkers; i++)
			v += METRICS_LOAD(protect_blocks(worker_protect(env->workers[i]))[r]);
		metrics_sample(b, "sbc_ratelimit_blocks_total", &L("realm", cfg->realms[r].name), 1,
			       v);
	}
	metrics_family(b, "sbc_acl_decisions_total", "counter",
		       "Datagrams from realms with an ACL, by realm and action (allow; reject: "
		       "403; drop: silence).");
	for (size_t r = 0; r < nr; r++) {
		if (!cfg->realms[r].acl.nallow && !cfg->realms[r].acl.ndeny)
			continue;
		for (unsigned a = 0; a < PROTECT_ACL__COUNT; a++) {
			uint64_t v = 0;
			for (unsigned i = 0; i < env->nworkers; i++)
				v += METRICS_LOAD(protect_acl(worker_protect(env->workers[i]))
							  [r * PROTECT_ACL__COUNT + a]);
			struct metrics_label l[2] = {
				L("realm", cfg->realms[r].name),
				L("action", protect_acl_action_name((enum protect_acl_action)a)),
			};
			metrics_sample(b, "sbc_acl_decisions_total", l, 2, v);
		}
	}
}

/* Media anchoring (lib/media via the workers' snapshots). */
static void media(struct metrics_buf *b, const struct control_env *env, const struct sums *s)
{
	static const char *const kinds[MEDIA_PKT__COUNT] = { "rtp", "rtcp", "dtls" };
	const struct sbc_config *cfg = env->cfg;
	char lb[64], id[16];

	counter(b, "sbc_media_packets_received_total",
		"Datagrams received on media relay ports.", s->media.rx);
	metrics_family(b, "sbc_media_packets_relayed_total", "counter",
		       "Media datagrams relayed, by kind (RFC 7983 demultiplexing).");
	for (unsigned k = 0; k < MEDIA_PKT__COUNT; k++)
		metrics_sample(b, "sbc_media_packets_relayed_total", &L("kind", kinds[k]), 1,
			       s->media.fwd[k]);
	metrics_family(b, "sbc_media_worker_packets_relayed_total", "counter",
		       "Media datagrams relayed (any kind), by worker.");
	for (unsigned i = 0; i < env->nworkers; i++) {
		const struct worker_media *md = &worker_metrics(env->workers[i])->media;
		uint64_t v = 0;
		for (unsigned k = 0; k < MEDIA_PKT__COUNT; k++)
			v += METRICS_LOAD(md->fwd[k]);
		snprintf(id, sizeof id, "%u", i);
		metrics_sample(b, "sbc_media_worker_packets_relayed_total", &L("worker", id), 1, v);
	}
	counter(b, "sbc_media_bytes_relayed_total", "UDP payload bytes of media relayed.",
		s->media.fwd_bytes);
	metrics_family(b, "sbc_media_drops_total", "counter",
		       "Media datagrams not relayed, by reason.");
	for (unsigned k = 1; k < MEDIA_DROP__COUNT; k++)
		metrics_sample(b, "sbc_media_drops_total",
			       &L("reason", lower(media_drop_name((enum media_drop)k), lb, sizeof lb)),
			       1, s->media.drop[k]);
	metrics_family(b, "sbc_media_refusals_total", "counter",
		       "Media allocations refused (the offer got 503 or its response lost its "
		       "SDP), by what ran out; sdp: offer/answer errors (488/491).");
	metrics_sample(b, "sbc_media_refusals_total", &L("reason", "ports"), 1, s->media.no_ports);
	metrics_sample(b, "sbc_media_refusals_total", &L("reason", "streams"), 1,
		       s->media.no_streams);
	metrics_sample(b, "sbc_media_refusals_total", &L("reason", "sessions"), 1,
		       s->media.no_sessions);
	metrics_sample(b, "sbc_media_refusals_total", &L("reason", "sdp"), 1, s->media.sdp_errors);
	counter(b, "sbc_media_port_open_failures_total",
		"Relay ports whose socket could not be opened (port taken, descriptor limit).",
		s->media.port_open_failed);
	gauge(b, "sbc_media_sessions", "Media sessions now (calls and forked early dialogs).",
	      s->media.sessions);
	gauge(b, "sbc_media_streams", "Media streams (m= lines) relayed now.", s->media.streams);
	metrics_family(b, "sbc_media_ports_in_use", "gauge", "Relay ports allocated now, by realm.");
	for (size_t r = 0; r < cfg->nrealms && r < SBC_MAX_REALMS; r++)
		metrics_sample(b, "sbc_media_ports_in_use", &L("realm", cfg->realms[r].name), 1,
			       s->media.ports_in_use[r]);
	metrics_family(b, "sbc_media_ports", "gauge",
		       "Relay ports of the realm's range usable by the workers.");
	for (size_t r = 0; r < cfg->nrealms && r < SBC_MAX_REALMS; r++)
		metrics_sample(b, "sbc_media_ports", &L("realm", cfg->realms[r].name), 1,
			       s->media.ports_capacity[r]);
}

void control_metrics(const struct control_env *env, struct metrics_buf *b,
		     uint64_t last_scrape_ns)
{
	static const char *const classes[] = { "other", "1xx", "2xx", "3xx", "4xx", "5xx", "6xx" };
	struct sums *s = calloc(1, sizeof(*s));
	char lb[64];

	if (!s) {
		b->failed = true;
		return;
	}
	for (unsigned i = 0; i < env->nworkers; i++)
		sum_worker(s, env->workers[i]);

	metrics_family(b, "sbc_build_info", "gauge", "Version of the running sbc (always 1).");
	metrics_sample(b, "sbc_build_info", &L("version", SBC_VERSION), 1, 1);
	gauge(b, "sbc_workers", "Worker threads.", env->nworkers);

	per_worker(b, env, "sbc_packets_received_total", "Datagrams received, by worker.",
		   offsetof(struct worker_counters, rx));
	per_worker(b, env, "sbc_packets_sent_total", "Datagrams sent, by worker.",
		   offsetof(struct worker_counters, tx));
	per_worker(b, env, "sbc_send_failures_total", "Datagrams the backend refused, by worker.",
		   offsetof(struct worker_counters, tx_failed));

	metrics_family(b, "sbc_requests_received_total", "counter",
		       "SIP requests received and parsed, by method (UNKNOWN: extension methods).");
	for (unsigned i = 0; i < SIP_M__COUNT; i++)
		metrics_sample(b, "sbc_requests_received_total",
			       &L("method", sip_method_name((enum sip_method)i)), 1, s->requests[i]);
	metrics_family(b, "sbc_responses_received_total", "counter",
		       "SIP responses received and parsed, by status class.");
	for (unsigned i = 1; i < 7; i++)
		metrics_sample(b, "sbc_responses_received_total", &L("code_class", classes[i]), 1,
			       s->responses[i]);

	metrics_family(b, "sbc_sip_parse_errors_total", "counter",
		       "Messages refused by the parser, the RFC 3261 sanity checks or the proxy "
		       "checks, by reason (answered 4xx/5xx, or dropped when unanswerable).");
	for (unsigned e = 1; e < SIP_E__COUNT; e++)
		metrics_sample(b, "sbc_sip_parse_errors_total",
			       &L("reason", lower(sip_err_name((enum sip_err)e), lb, sizeof lb)), 1,
			       s->c.sip_err[e]);
	metrics_family(b, "sbc_drops_total", "counter",
		       "Datagrams dropped without an answer by the workers, by reason.");
	for (unsigned k = 0; k < WORKER_DROP__COUNT; k++)
		metrics_sample(b, "sbc_drops_total",
			       &L("reason", lower(worker_drop_name((enum worker_drop)k), lb, sizeof lb)),
			       1, s->c.drop[k]);

	counter(b, "sbc_keepalives_total", "CRLF keepalives received (RFC 5626).",
		s->c.keepalives);
	counter(b, "sbc_options_answered_total", "OPTIONS to the SBC itself answered 200.",
		s->c.options_ok);
	counter(b, "sbc_acks_absorbed_total", "ACKs of the SBC's own stateless answers.",
		s->c.acks_absorbed);
	counter(b, "sbc_handoffs_total", "Datagrams handed to the worker that owns their shard.",
		s->c.handoff_out);
	counter(b, "sbc_handoff_failures_total",
		"Handoffs refused: the owner's ring was full or no spare buffer.",
		s->c.handoff_dropped);
	counter(b, "sbc_overload_rejections_total",
		"Requests answered 503 because the owning worker's ring was full.",
		s->overload_503);

	metrics_family(b, "sbc_proxy_events_total", "counter",
		       "Decisions of the proxy core, by event.");
	for (unsigned k = 0; k < PROXY_C__COUNT; k++)
		metrics_sample(b, "sbc_proxy_events_total",
			       &L("event", lower(proxy_counter_name((enum proxy_counter)k), lb,
						 sizeof lb)),
			       1, s->proxy[k]);

	counter(b, "sbc_calls_attempted_total", "Initial INVITEs taken on by the proxy.",
		s->calls_attempted);
	counter(b, "sbc_calls_answered_total", "Calls answered (2xx relayed to the caller).",
		s->calls_answered);
	counter(b, "sbc_calls_failed_total", "Calls that ended with a final >= 300 to the caller.",
		s->calls_failed);

	metrics_family(b, "sbc_dialogs_active", "gauge", "Dialogs now, by state.");
	metrics_sample(b, "sbc_dialogs_active", &L("state", "early"), 1, s->dlg_early);
	/* the table's "active" counts every live dialog, early ones too */
	metrics_sample(b, "sbc_dialogs_active", &L("state", "confirmed"), 1,
		       s->dlg_active >= s->dlg_early ? s->dlg_active - s->dlg_early : 0);
	gauge(b, "sbc_registrations_active", "Registration bindings of devices held by the SBC.",
	      s->registrations);
	counter(b, "sbc_dialogs_created_total", "Dialogs created.", s->dlg_created);
	counter(b, "sbc_dialogs_table_full_total", "Dialogs the tables could not hold.",
		s->dlg_table_full);

	metrics_family(b, "sbc_transactions_active", "gauge", "Transactions now, by kind.");
	metrics_sample(b, "sbc_transactions_active", &L("kind", "server"), 1, s->txn_server_active);
	metrics_sample(b, "sbc_transactions_active", &L("kind", "client"), 1, s->txn_client_active);
	metrics_family(b, "sbc_transactions_created_total", "counter",
		       "Transactions created, by kind.");
	metrics_sample(b, "sbc_transactions_created_total", &L("kind", "server"), 1,
		       s->txn_server_created);
	metrics_sample(b, "sbc_transactions_created_total", &L("kind", "client"), 1,
		       s->txn_client_created);
	counter(b, "sbc_transaction_timeouts_total", "Client transactions timed out (B/F/C).",
		s->txn_timeouts);
	counter(b, "sbc_transaction_pool_exhausted_total",
		"Transactions refused for lack of pool space.", s->txn_pool_exhausted);
	counter(b, "sbc_retransmissions_total", "Requests and responses retransmitted (A/E/G).",
		s->retrans_sent);
	counter(b, "sbc_retransmissions_absorbed_total",
		"Retransmitted requests absorbed by a server transaction.", s->retrans_absorbed);

	protection(b, env);
	media(b, env, s);
	gauge(b, "sbc_ratelimit_sources", "Sources tracked by the per-source limit tables.",
	      s->src_used);
	gauge(b, "sbc_ratelimit_sources_capacity", "Entries of the per-source limit tables.",
	      s->src_capacity);
	counter(b, "sbc_ratelimit_source_evictions_total",
		"Source entries recycled for new sources (least recently seen first).",
		s->src_evictions);

	metrics_family(b, "sbc_call_setup_seconds", "histogram",
		       "Time from an initial INVITE to the first 2xx relayed to the caller.");
	metrics_histogram(b, "sbc_call_setup_seconds", NULL, 0, &metrics_layout_setup, &s->setup);
	metrics_family(b, "sbc_message_processing_seconds", "histogram",
		       "Time a worker spends on one datagram (first touch, or the owner's "
		       "handling of a handed-off one), excluding socket I/O.");
	metrics_histogram(b, "sbc_message_processing_seconds", NULL, 0,
			  &metrics_layout_processing, &s->processing);

	metrics_family(b, "sbc_scrape_duration_seconds", "gauge",
		       "Time the previous scrape of this endpoint took on the control thread.");
	metrics_sample_seconds(b, "sbc_scrape_duration_seconds", NULL, 0, last_scrape_ns);
	free(s);
}

/* ---- HTTP --------------------------------------------------------------- */

static enum MHD_Result respond_text(struct MHD_Connection *conn, unsigned status,
				    const char *text, const char *ctype, const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
								  MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	(void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (allow)
		(void)MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct control *c = cls;
	struct MHD_Response *r;
	struct metrics_buf b;
	enum MHD_Result ret;
	uint64_t t0;
	char *text;

	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return respond_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n",
				    "text/plain", "GET, HEAD");
	if (*upload_size) {          /* a GET with a body: ignore the body */
		*upload_size = 0;
		return MHD_YES;
	}
	if (!strcmp(url, "/"))
		return respond_text(conn, MHD_HTTP_OK, "sbc: metrics at /metrics\n", "text/plain",
				    NULL);
	if (strcmp(url, "/metrics"))
		return respond_text(conn, MHD_HTTP_NOT_FOUND, "not found\n", "text/plain", NULL);
	t0 = metrics_now_ns();
	metrics_buf_init(&b);
	control_metrics(&c->env, &b, c->last_scrape_ns);
	text = metrics_buf_take(&b);
	if (!text)
		return respond_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n",
				    "text/plain", NULL);
	r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	(void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				      "text/plain; version=0.0.4; charset=utf-8");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	c->last_scrape_ns = metrics_now_ns() - t0;
	return ret;
}

__attribute__((format(printf, 2, 0)))
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof msg, fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	log_warn("metrics http: %s", msg);
}

/* The listening socket, bound here so a failure names its errno. */
static int listen_socket(const struct sbc_control *ctl)
{
	union sbc_sockaddr a;
	socklen_t len;
	int fd, one = 1;

	memset(&a, 0, sizeof a);
	if (ctl->metrics_ip.family == AF_INET6) {
		a.v6.sin6_family = AF_INET6;
		a.v6.sin6_addr = ctl->metrics_ip.u.v6;
		a.v6.sin6_port = htons(ctl->metrics_port);
		len = sizeof a.v6;
	} else {
		a.v4.sin_family = AF_INET;
		a.v4.sin_addr = ctl->metrics_ip.u.v4;
		a.v4.sin_port = htons(ctl->metrics_port);
		len = sizeof a.v4;
	}
	fd = socket(a.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (a.sa.sa_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, &a.sa, len) < 0 || listen(fd, 64) < 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

static void *control_run(void *arg)
{
	struct control *c = arg;

	sbc_log_thread_name("ctl");
	while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
		struct epoll_event ev[4];
		MHD_UNSIGNED_LONG_LONG to;
		int timeout = CONTROL_TICK_MS, n;

		if (MHD_get_timeout(c->mhd, &to) == MHD_YES && to < (MHD_UNSIGNED_LONG_LONG)timeout)
			timeout = (int)to;
		n = epoll_wait(c->ep, ev, 4, timeout);
		if (n < 0 && errno != EINTR) {
			log_error("control thread: epoll_wait: %s; metrics stopped", strerror(errno));
			break;
		}
		(void)MHD_run(c->mhd);
	}
	return NULL;
}

static void control_free(struct control *c)
{
	if (c->mhd)
		MHD_stop_daemon(c->mhd);   /* closes the listening socket */
	if (c->ep >= 0)
		close(c->ep);
	if (c->stopfd >= 0)
		close(c->stopfd);
	free(c);
}

int control_start(const struct control_env *env, struct control **out)
{
	const struct sbc_control *ctl = &env->cfg->control;
	const union MHD_DaemonInfo *info;
	struct epoll_event ev = { .events = EPOLLIN };
	struct control *c;
	int fd, r;

	*out = NULL;
	if (!ctl->metrics_enabled)
		return 0;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->env = *env;
	c->ep = c->stopfd = -1;
	atomic_init(&c->stop, false);
	fd = listen_socket(ctl);
	if (fd < 0) {
		log_error("metrics: cannot listen on %s%s%s:%u: %s",
			  ctl->metrics_ip.family == AF_INET6 ? "[" : "", ctl->metrics_ip.text,
			  ctl->metrics_ip.family == AF_INET6 ? "]" : "", ctl->metrics_port,
			  strerror(-fd));
		free(c);
		return fd;
	}
	c->mhd = MHD_start_daemon(
		MHD_USE_EPOLL | MHD_USE_ERROR_LOG | (ctl->metrics_ip.family == AF_INET6 ? MHD_USE_IPv6 : 0),
		ctl->metrics_port, NULL, NULL, on_request, c,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, c,
		MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONTROL_MAX_CONNECTIONS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONTROL_CONN_TIMEOUT_S,
		MHD_OPTION_END);
	if (!c->mhd) {
		log_error("metrics: libmicrohttpd did not start");
		close(fd);
		control_free(c);
		return -EIO;
	}
	info = MHD_get_daemon_info(c->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	c->ep = epoll_create1(EPOLL_CLOEXEC);
	c->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!info || c->ep < 0 || c->stopfd < 0) {
		control_free(c);
		return -EIO;
	}
	ev.data.fd = info->epoll_fd;
	if (epoll_ctl(c->ep, EPOLL_CTL_ADD, info->epoll_fd, &ev) < 0) {
		control_free(c);
		return -EIO;
	}
	ev.data.fd = c->stopfd;
	if (epoll_ctl(c->ep, EPOLL_CTL_ADD, c->stopfd, &ev) < 0) {
		control_free(c);
		return -EIO;
	}
	r = pthread_create(&c->thread, NULL, control_run, c);
	if (r) {
		log_error("cannot start the control thread: %s", strerror(r));
		control_free(c);
		return -r;
	}
	pthread_setname_np(c->thread, "sbc-ctl");
	c->started = true;
	log_info("metrics: http://%s%s%s:%u/metrics", ctl->metrics_ip.family == AF_INET6 ? "[" : "",
		 ctl->metrics_ip.text, ctl->metrics_ip.family == AF_INET6 ? "]" : "",
		 ctl->metrics_port);
	*out = c;
	return 0;
}

void control_stop(struct control *c)
{
	uint64_t one = 1;

	if (!c)
		return;
	if (c->started) {
		atomic_store(&c->stop, true);
		if (write(c->stopfd, &one, sizeof one) < 0) {
			/* the thread wakes within CONTROL_TICK_MS anyway */
		}
		pthread_join(c->thread, NULL);
	}
	control_free(c);
}
