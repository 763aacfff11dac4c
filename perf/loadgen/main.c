/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * perf/loadgen/main — sbc-loadgen's options, threads and report.
 *
 * Main parses the options, builds one worker per --threads (socket, pools,
 * wheel), starts them, prints progress while they run, joins them, merges
 * their statistics and prints one report. It never touches a worker's
 * state while it runs except to read counters for the progress line.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lg.h"

volatile sig_atomic_t lg_stop;
_Atomic uint64_t lg_last_rx_ns;

static const char usage_text[] =
"usage: sbc-loadgen [--role uac|uas] [--scenario NAME] [options]\n"
"\n"
"A SIP load generator over UDP. Run a UAS (answers) and a UAC (sends), with\n"
"the device under test between them, or the UAC against any SIP server.\n"
"\n"
"Roles and scenarios\n"
"  --role uac|uas        uac sends (default), uas answers\n"
"  -s, --scenario NAME   uac: call (default): INVITE / 100 / 180 / 200 (SDP) / ACK,\n"
"                          BYE after --hold-ms (--reinvite: a hold re-INVITE\n"
"                          half way);\n"
"                        register: REGISTER, then --refreshes refreshes one\n"
"                          every --hold-ms (AOR USER<n>@DOMAIN);\n"
"                        options, message: one OPTIONS / MESSAGE each;\n"
"                        flood: INVITEs at --rate keeping no state; responses\n"
"                          counted by code, a 2xx is ACKed and BYEd statelessly\n"
"\n"
"Addresses (IPv4 a.b.c.d:port, IPv6 [addr]:port)\n"
"  --local ADDR          bind address; it goes into Via, Contact and SDP, so it\n"
"                        must be a concrete address (uac default 127.0.0.4:0 =\n"
"                        any port; uas default 127.0.0.3:5060). With --threads\n"
"                        a uac takes ports PORT, PORT+1, ...; a uas shares PORT\n"
"  --remote ADDR         uac: where every request is sent, like an outbound\n"
"                        proxy (default 127.0.0.1:5060)\n"
"  --ruri URI            Request-URI and To of calls (default sip:service@REMOTE)\n"
"  --from-user USER      From user, and AOR user prefix (default loadgen)\n"
"  --domain HOST         From / AOR host (default: the Request-URI's host)\n"
"\n"
"Load (uac)\n"
"  -r, --rate N          units (calls, registrations, requests) started per\n"
"                        second (default 10)\n"
"  --ramp S              rise linearly from 0 to --rate over S seconds\n"
"  -n, --calls N         stop starting after N units\n"
"  -d, --duration S      stop starting after S seconds (default 10 when neither\n"
"                        --calls nor --duration is given)\n"
"  --max-concurrent N    units in progress at most; starts beyond are skipped and\n"
"                        counted, not queued (default 32768; uas: responses\n"
"                        awaiting ACK, default 8192)\n"
"  --hold-ms MS          call: 200 to BYE; register: between refreshes (1000)\n"
"  --reinvite            call: send a hold re-INVITE (a=sendonly) at hold/2\n"
"  --refreshes N         register: refreshes after the first REGISTER (1)\n"
"  --expires S           register: Expires (3600)\n"
"  --users N             register: AORs USER0..USER<N-1> reused (default: one\n"
"                        per unit)\n"
"  --drain S             after the last start, wait at most S seconds for units\n"
"                        in progress; the rest count as unfinished failures\n"
"                        (default: long enough for them to time out on their own)\n"
"\n"
"SIP timers\n"
"  --t1 MS, --t2 MS      retransmission intervals (500, 4000): requests on\n"
"                        Timer A/E, uas finals until their ACK\n"
"  --timeout MS          a transaction without a final response fails after MS\n"
"                        (default 64*T1, Timers B/F)\n"
"\n"
"Answering (uas)\n"
"  --uas-code CODE[:PCT] answer initial requests with CODE (e.g. 486, 503)\n"
"                        instead of 200, for PCT%% of them (default 100)\n"
"  --answer-ms MS        delay between 180 and 200 (default 0)\n"
"  --no-100              no 100 Trying\n"
"  --idle-exit S         exit S seconds after the last datagram (default 10;\n"
"                        0 = never); the uas also stops after --duration\n"
"                        (default 3600) or on SIGINT/SIGTERM\n"
"\n"
"Media (call scenario, both roles)\n"
"  --rtp                 an RTP stream each way per call: the uac sends from the\n"
"                        2xx to its BYE to the answer's address, the uas from the\n"
"                        ACK to the BYE to the offer's (through an anchoring SBC:\n"
"                        its relay ports). PCMU (PT 0) headers with sequence,\n"
"                        timestamp and an SSRC per stream; one socket per thread\n"
"                        for all calls, paced on a 1 ms tick with sendmmsg. A\n"
"                        call that received no RTP (media_not_received), or\n"
"                        whose RTP the peer reports never getting\n"
"                        (media_not_delivered), fails\n"
"  --rtp-ptime MS        packet interval (default 20; 10..200)\n"
"  --rtp-payload BYTES   payload per packet (default 160 = 20 ms of PCMU; 8..1400)\n"
"  --rtp-port PORT       local RTP port, thread i PORT+i (default: ephemeral)\n"
"  --rtp-mute            send no RTP, only receive (fault injection: the peer\n"
"                        must count media_not_received)\n"
"  --rtp-streams N       uas: concurrent streams at most (default 32768); a\n"
"                        silent stream ends after 30 s (lost BYE)\n"
"\n"
"Output\n"
"  --threads N           worker threads, each with its own socket (default 1)\n"
"  --json                print the final report as one JSON object\n"
"  --interval S          progress line on stderr every S seconds (default 1 when\n"
"                        stderr is a terminal, else 0 = none)\n"
"  -h, --help\n"
"\n"
"Media: without --rtp the SDP offers and answers are real, but no RTP is sent.\n"
"Exit status: uac 0 when every unit succeeded, 1 when any failed; 2 on a usage\n"
"error. SIGINT/SIGTERM stop at once: units in progress count as unfinished,\n"
"then the report is printed.\n";

enum {
	OPT_ROLE = 256, OPT_LOCAL, OPT_REMOTE, OPT_RURI, OPT_FROM_USER, OPT_DOMAIN, OPT_RAMP,
	OPT_MAXC, OPT_HOLD, OPT_REINVITE, OPT_REFRESHES, OPT_EXPIRES, OPT_USERS, OPT_DRAIN,
	OPT_T1, OPT_T2, OPT_TIMEOUT, OPT_UAS_CODE, OPT_ANSWER, OPT_NO100, OPT_IDLE,
	OPT_THREADS, OPT_JSON, OPT_INTERVAL, OPT_RTP, OPT_RTP_PTIME, OPT_RTP_PAYLOAD,
	OPT_RTP_PORT, OPT_RTP_MUTE, OPT_RTP_STREAMS,
};

static const struct option long_opts[] = {
	{ "role", required_argument, NULL, OPT_ROLE },
	{ "scenario", required_argument, NULL, 's' },
	{ "local", required_argument, NULL, OPT_LOCAL },
	{ "remote", required_argument, NULL, OPT_REMOTE },
	{ "ruri", required_argument, NULL, OPT_RURI },
	{ "from-user", required_argument, NULL, OPT_FROM_USER },
	{ "domain", required_argument, NULL, OPT_DOMAIN },
	{ "rate", required_argument, NULL, 'r' },
	{ "ramp", required_argument, NULL, OPT_RAMP },
	{ "calls", required_argument, NULL, 'n' },
	{ "duration", required_argument, NULL, 'd' },
	{ "max-concurrent", required_argument, NULL, OPT_MAXC },
	{ "hold-ms", required_argument, NULL, OPT_HOLD },
	{ "reinvite", no_argument, NULL, OPT_REINVITE },
	{ "refreshes", required_argument, NULL, OPT_REFRESHES },
	{ "expires", required_argument, NULL, OPT_EXPIRES },
	{ "users", required_argument, NULL, OPT_USERS },
	{ "drain", required_argument, NULL, OPT_DRAIN },
	{ "t1", required_argument, NULL, OPT_T1 },
	{ "t2", required_argument, NULL, OPT_T2 },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "uas-code", required_argument, NULL, OPT_UAS_CODE },
	{ "answer-ms", required_argument, NULL, OPT_ANSWER },
	{ "no-100", no_argument, NULL, OPT_NO100 },
	{ "idle-exit", required_argument, NULL, OPT_IDLE },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "rtp", no_argument, NULL, OPT_RTP },
	{ "rtp-ptime", required_argument, NULL, OPT_RTP_PTIME },
	{ "rtp-payload", required_argument, NULL, OPT_RTP_PAYLOAD },
	{ "rtp-port", required_argument, NULL, OPT_RTP_PORT },
	{ "rtp-mute", no_argument, NULL, OPT_RTP_MUTE },
	{ "rtp-streams", required_argument, NULL, OPT_RTP_STREAMS },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

__attribute__((format(printf, 1, 2), noreturn))
static void die_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("sbc-loadgen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n(sbc-loadgen --help for the options)\n", stderr);
	exit(2);
}

static double num(const char *s, double lo, double hi, const char *what)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
		die_usage("bad %s", what);
	return v;
}

static uint32_t u32(const char *s, const char *what)
{
	return (uint32_t)num(s, 0, UINT32_MAX, what);
}

/* "a.b.c.d:port", "[v6]:port", or an address alone (port = defport). */
static void parse_addr(const char *s, uint16_t defport, union sbc_sockaddr *a)
{
	const char *host = s, *colon;
	size_t hlen;
	long port = defport;

	if (*s == '[') {
		const char *rb = strchr(s, ']');

		if (!rb)
			die_usage("bad address %s", s);
		host = s + 1;
		hlen = (size_t)(rb - host);
		colon = rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = strrchr(s, ':');
		if (colon && strchr(s, ':') != colon)
			colon = NULL;   /* bare IPv6 */
		hlen = colon ? (size_t)(colon - s) : strlen(s);
	}
	if (colon) {
		char *end;

		port = strtol(colon + 1, &end, 10);
		if (*end || port < 0 || port > 65535)
			die_usage("bad port in %s", s);
	}
	if (sbc_addr_from(a, host, hlen, (uint16_t)port) < 0)
		die_usage("not a literal IP address: %s", s);
}

static void parse_uas_code(struct lg_opts *o, const char *s)
{
	char *end;
	long code = strtol(s, &end, 10);

	if (code < 100 || code > 699 || (*end && *end != ':'))
		die_usage("bad --uas-code %s (CODE or CODE:PERCENT)", s);
	o->uas_code = (uint16_t)code;
	o->uas_pct = *end == ':' ? (uint32_t)num(end + 1, 0, 100, "--uas-code percentage") : 100;
}

static void parse_enum(struct lg_opts *o, int c, const char *arg)
{
	static const char *const sc[] = { "call", "register", "options", "message", "flood" };

	if (c == OPT_ROLE) {
		if (strcmp(arg, "uac") && strcmp(arg, "uas"))
			die_usage("--role is uac or uas, not %s", arg);
		o->role = strcmp(arg, "uac") ? LG_UAS : LG_UAC;
		return;
	}
	for (unsigned i = 0; i < sizeof(sc) / sizeof(sc[0]); i++) {
		if (!strcmp(arg, sc[i])) {
			o->scen = (enum lg_scen)i;
			return;
		}
	}
	die_usage("unknown scenario %s", arg);
}

static void copy_str(char *dst, size_t cap, const char *src, const char *what)
{
	if (strlen(src) >= cap)
		die_usage("%s is too long", what);
	strcpy(dst, src);
}

struct raw_opts {
	const char *local, *remote;
	bool have_maxc, have_duration;
};

static void parse_one(struct lg_opts *o, struct raw_opts *r, int c, const char *a)
{
	switch (c) {
	case OPT_ROLE: case 's': parse_enum(o, c, a); break;
	case OPT_LOCAL: r->local = a; break;
	case OPT_REMOTE: r->remote = a; break;
	case OPT_RURI: copy_str(o->ruri, sizeof(o->ruri), a, "--ruri"); break;
	case OPT_FROM_USER: copy_str(o->from_user, sizeof(o->from_user), a, "--from-user"); break;
	case OPT_DOMAIN: copy_str(o->domain, sizeof(o->domain), a, "--domain"); break;
	case 'r': o->rate = num(a, 0.001, 1e7, "--rate"); break;
	case OPT_RAMP: o->ramp_s = num(a, 0, 86400, "--ramp"); break;
	case 'n': o->calls = (uint64_t)num(a, 1, 1e15, "--calls"); break;
	case 'd': o->duration_s = num(a, 0.001, 1e7, "--duration"); r->have_duration = true; break;
	case OPT_MAXC: o->max_concurrent = (uint32_t)num(a, 1, 1 << 24, "--max-concurrent");
		r->have_maxc = true; break;
	case OPT_HOLD: o->hold_ms = u32(a, "--hold-ms"); break;
	case OPT_REINVITE: o->reinvite = true; break;
	case OPT_REFRESHES: o->refreshes = (uint32_t)num(a, 0, 65535, "--refreshes"); break;
	case OPT_EXPIRES: o->expires = u32(a, "--expires"); break;
	case OPT_USERS: o->users = u32(a, "--users"); break;
	case OPT_DRAIN: o->drain_s = num(a, 0, 86400, "--drain"); break;
	case OPT_T1: o->t1_ms = (uint32_t)num(a, 1, 60000, "--t1"); break;
	case OPT_T2: o->t2_ms = (uint32_t)num(a, 1, 600000, "--t2"); break;
	case OPT_TIMEOUT: o->timeout_ms = (uint32_t)num(a, 1, 86400000, "--timeout"); break;
	case OPT_UAS_CODE: parse_uas_code(o, a); break;
	case OPT_ANSWER: o->answer_ms = (uint32_t)num(a, 0, 3600000, "--answer-ms"); break;
	case OPT_NO100: o->no_100 = true; break;
	case OPT_IDLE: o->idle_exit_s = (uint32_t)num(a, 0, 86400, "--idle-exit"); break;
	case OPT_THREADS: o->threads = (uint32_t)num(a, 1, 64, "--threads"); break;
	case OPT_JSON: o->json = true; break;
	case OPT_INTERVAL: o->interval_s = num(a, 0, 3600, "--interval"); break;
	case OPT_RTP: o->rtp = true; break;
	case OPT_RTP_PTIME: o->rtp_ptime = (uint32_t)num(a, 10, 200, "--rtp-ptime"); break;
	case OPT_RTP_PAYLOAD: o->rtp_payload = (uint32_t)num(a, 8, LG_RTP_PAYLOAD_MAX,
							     "--rtp-payload"); break;
	case OPT_RTP_PORT: o->rtp_port = (uint16_t)num(a, 1, 65535, "--rtp-port"); break;
	case OPT_RTP_MUTE: o->rtp_mute = true; break;
	case OPT_RTP_STREAMS: o->rtp_streams = (uint32_t)num(a, 1, 1 << 24, "--rtp-streams");
		break;
	case 'h': fputs(usage_text, stdout); exit(0);
	default: die_usage("%s", "unknown option");
	}
}

/* The R-URI's host for the default --domain; "sip:HOST[:PORT]" is the
 * REGISTER Request-URI. */
static void derive_uris(struct lg_opts *o)
{
	struct sip_uri u;
	char hp[64];

	if (!o->ruri[0]) {
		if (sbc_addr_hostport(&o->remote, hp, sizeof(hp)) < 0)
			die_usage("%s", "bad --remote");
		snprintf(o->ruri, sizeof(o->ruri), "sip:service@%s", hp);
	}
	if (sip_uri_parse((sip_str_t){ o->ruri, (uint32_t)strlen(o->ruri) }, &u) < 0 ||
	    (u.scheme != SIP_SCHEME_SIP && u.scheme != SIP_SCHEME_SIPS))
		die_usage("--ruri %s is not a sip: URI", o->ruri);
	if (!o->domain[0]) {
		if (u.host.len >= sizeof(o->domain))
			die_usage("%s", "--ruri host too long");
		memcpy(o->domain, u.host.p, u.host.len);
		o->domain[u.host.len] = 0;
	}
}

static void defaults(struct lg_opts *o, const struct raw_opts *r)
{
	bool uac = o->role == LG_UAC;

	parse_addr(r->local ? r->local : uac ? "127.0.0.4:0" : "127.0.0.3:5060", uac ? 0 : 5060,
		   &o->local);
	parse_addr(r->remote ? r->remote : "127.0.0.1:5060", 5060, &o->remote);
	if ((o->local.sa.sa_family == AF_INET && o->local.v4.sin_addr.s_addr == 0) ||
	    (o->local.sa.sa_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&o->local.v6.sin6_addr)))
		die_usage("%s", "--local must be a concrete address: it goes into Via, Contact and SDP");
	if (!r->have_maxc)
		o->max_concurrent = uac ? 32768 : 8192;
	if (!o->timeout_ms)
		o->timeout_ms = 64u * o->t1_ms;
	if (o->t2_ms < o->t1_ms)
		o->t2_ms = o->t1_ms;
	if (uac && !o->calls && !r->have_duration)
		o->duration_s = 10;
	if (!uac && !r->have_duration)
		o->duration_s = 3600;
	if (o->calls && o->threads > o->calls)
		o->threads = (uint32_t)o->calls;   /* every thread gets a unit */
	if (o->interval_s < 0)
		o->interval_s = isatty(STDERR_FILENO) ? 1 : 0;
	if (o->rtp && uac && o->scen != LG_CALL)
		die_usage("%s", "--rtp goes with the call scenario");
	if (o->rtp && o->rtp_port && (uint32_t)o->rtp_port + o->threads > 65536)
		die_usage("%s", "--rtp-port + --threads passes 65535");
	derive_uris(o);
}

static void parse_opts(struct lg_opts *o, int argc, char **argv)
{
	struct raw_opts r = { 0 };
	int c;

	*o = (struct lg_opts){ .role = LG_UAC, .scen = LG_CALL, .rate = 10, .hold_ms = 1000,
			       .t1_ms = 500, .t2_ms = 4000, .expires = 3600, .refreshes = 1,
			       .threads = 1, .idle_exit_s = 10, .interval_s = -1, .drain_s = -1,
			       .rtp_ptime = 20, .rtp_payload = 160, .rtp_streams = 32768 };
	strcpy(o->from_user, "loadgen");
	while ((c = getopt_long(argc, argv, "s:r:n:d:h", long_opts, NULL)) != -1)
		parse_one(o, &r, c, optarg);
	if (optind < argc)
		die_usage("unexpected argument %s", argv[optind]);
	defaults(o, &r);
}

/* ---- workers ------------------------------------------------------------ */

static void split_load(const struct lg_opts *o, struct lg_worker *w, unsigned n)
{
	w->rate = o->rate / n;
	w->ramp_s = o->ramp_s;
	w->calls = o->calls ? o->calls / n + (w->id < o->calls % n) : 0;
	w->max_concurrent = o->max_concurrent / n ? o->max_concurrent / n : 1;
	w->rtp_streams = o->rtp_streams / n ? o->rtp_streams / n : 1;
}

static void set_uris(struct lg_worker *w)
{
	struct lg_sb b = { w->from_uri, 0, sizeof(w->from_uri), false };
	struct sip_uri u;
	struct lg_sb h = { w->ruri_host, 0, sizeof(w->ruri_host), false };

	lg_sb_lit(&b, "sip:");
	lg_sb_put(&b, w->o->from_user, strlen(w->o->from_user));
	lg_sb_lit(&b, "@");
	lg_sb_put(&b, w->o->domain, strlen(w->o->domain));
	w->from_uri_len = b.len;
	if (sip_uri_parse((sip_str_t){ w->o->ruri, (uint32_t)strlen(w->o->ruri) }, &u) < 0)
		return;
	lg_sb_lit(&h, "sip:");
	if (u.host_type == SIP_HOST_IPV6)
		lg_sb_lit(&h, "[");
	lg_sb_str(&h, u.host);
	if (u.host_type == SIP_HOST_IPV6)
		lg_sb_lit(&h, "]");
	if (u.has_port) {
		lg_sb_lit(&h, ":");
		lg_sb_u32(&h, u.port);
	}
	w->ruri_host_len = h.len;
}

static int worker_setup(struct lg_worker *w, const struct lg_opts *o, unsigned id, unsigned n,
			const struct sbc_hash_key *key)
{
	int r;

	w->id = id;
	w->o = o;
	w->fd = w->ep = -1;
	w->key = *key;
	w->run_id = (uint32_t)(key->k0 >> 32) ^ (uint32_t)getpid();
	split_load(o, w, n);
	r = lg_net_open(w);
	if (r < 0) {
		fprintf(stderr, "sbc-loadgen: socket on --local: %s\n", strerror(-r));
		return r;
	}
	if (o->rtp && (r = lg_rtp_open(w)) < 0) {
		fprintf(stderr, "sbc-loadgen: RTP socket on --local: %s\n", strerror(-r));
		return r;
	}
	set_uris(w);
	lg_build_sdp(w);
	r = o->role == LG_UAC ? lg_uac_init(w) : lg_uas_init(w);
	if (r < 0)
		fprintf(stderr, "sbc-loadgen: out of memory for %u units\n", w->max_concurrent);
	return r;
}

static void worker_teardown(struct lg_worker *w)
{
	lg_rtp_close(w);
	lg_net_close(w);
	wheel_destroy(w->wheel);
	htab_destroy(w->tab);
	pool_destroy(w->pool);
}

static void *worker_main(void *arg)
{
	struct lg_worker *w = arg;

	if (w->o->role == LG_UAC)
		lg_uac_loop(w);
	else
		lg_uas_loop(w);
	w->t_done_ns = lg_clock_ns();
	atomic_store(&w->done, true);
	return NULL;
}

static void on_signal(int sig)
{
	(void)sig;
	lg_stop = 1;
}

static void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Sleep in 20 ms steps until every worker is done, printing progress. */
static void monitor(const struct lg_opts *o, struct lg_worker *ws, unsigned n, uint64_t t0)
{
	double next = o->interval_s;

	for (;;) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		unsigned done = 0;
		double t;

		nanosleep(&ts, NULL);
		for (unsigned i = 0; i < n; i++)
			done += atomic_load(&ws[i].done);
		if (done == n)
			return;
		t = (double)(lg_clock_ns() - t0) / 1e9;
		if (o->interval_s > 0 && t >= next) {
			lg_progress(o, ws, n, t);
			next += o->interval_s;
		}
	}
}

static int finish(const struct lg_opts *o, struct lg_worker *ws, unsigned n, uint64_t t0)
{
	struct lg_stats *sum = calloc(1, sizeof(*sum));
	uint64_t t_end = t0, start_ns = 0;

	if (!sum)
		return 2;
	for (unsigned i = 0; i < n; i++) {
		lg_stats_merge(sum, &ws[i].st);
		if (ws[i].t_done_ns > t_end)
			t_end = ws[i].t_done_ns;
		if (ws[i].t_stop_start_ns > ws[i].t_start_ns &&
		    ws[i].t_stop_start_ns - ws[i].t_start_ns > start_ns)
			start_ns = ws[i].t_stop_start_ns - ws[i].t_start_ns;
	}
	lg_report(stdout, o, sum, (double)(t_end - t0) / 1e9, (double)start_ns / 1e9, o->json);
	int rc = o->role == LG_UAC && (sum->failed || !sum->started) ? 1 : 0;

	free(sum);
	return rc;
}

int main(int argc, char **argv)
{
	struct lg_opts o;
	struct sbc_hash_key key;
	struct lg_worker *ws;
	uint64_t t0;
	unsigned n, started = 0;
	int rc = 2;

	parse_opts(&o, argc, argv);
	n = o.threads;
	if (sbc_hash_key_random(&key) < 0) {
		fputs("sbc-loadgen: no randomness for the hash key\n", stderr);
		return 2;
	}
	ws = aligned_alloc(64, sizeof(*ws) * n);
	if (!ws)
		return 2;
	memset(ws, 0, sizeof(*ws) * n);
	for (unsigned i = 0; i < n; i++)
		if (worker_setup(&ws[i], &o, i, n, &key) < 0)
			goto out;
	catch_signals();
	t0 = lg_clock_ns();
	for (; started < n; started++)
		if (pthread_create(&ws[started].thread, NULL, worker_main, &ws[started]) != 0)
			goto out;
	monitor(&o, ws, n, t0);
	for (unsigned i = 0; i < started; i++)
		pthread_join(ws[i].thread, NULL);
	rc = finish(&o, ws, n, t0);
	started = 0;
out:
	if (started) {
		lg_stop = 1;
		for (unsigned i = 0; i < started; i++)
			pthread_join(ws[i].thread, NULL);
	}
	for (unsigned i = 0; i < n; i++)
		worker_teardown(&ws[i]);
	free(ws);
	return rc;
}
