/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sbc — the daemon's main thread: arguments, configuration, start-up and
 * shutdown. It starts the workers and then only waits for signals; the data
 * plane runs entirely in the workers.
 *
 * Exit status: 0 clean stop (SIGTERM/SIGINT) or valid config (-t);
 * 1 run-time failure (a socket cannot be bound, a worker broke);
 * 2 bad command line or configuration.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/random.h>
#include <sys/resource.h>

#include "config.h"
#include "control.h"
#include "io.h"
#include "log.h"
#include "proxy.h"
#include "sbc-config.h"
#include "worker.h"

#ifndef SBC_DEFAULT_CONFIG
#define SBC_DEFAULT_CONFIG "/etc/sbc/sbc.yaml"
#endif

enum { EXIT_RUNTIME = 1, EXIT_CONFIG = 2 };

struct daemon {
	const struct sbc_config *cfg;
	const struct io_backend *io;
	unsigned nworkers;
	unsigned started;            /* threads running */
	bool io_ready;               /* setup() succeeded: teardown() owed */
	struct io_queue **queues;
	struct worker **workers;
	pthread_t *threads;
	atomic_bool stop;
	struct worker_shared shared;
	struct control *control;     /* metrics endpoint; NULL when disabled */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sbc [-c FILE] [-t] [-h] [-V]\n"
		"  -c FILE  configuration (default " SBC_DEFAULT_CONFIG ")\n"
		"  -t       validate the configuration and exit (0 valid, 2 invalid)\n"
		"  -h       this help\n"
		"  -V       version\n");
}

static void config_freep(struct sbc_config **c)
{
	sbc_config_free(*c);
}

/* ---- start and stop ----------------------------------------------------- */

static void daemon_stop_threads(struct daemon *d)
{
	/* first: the control thread reads the workers' counters */
	control_stop(d->control);
	d->control = NULL;
	atomic_store(&d->stop, true);
	for (unsigned i = 0; i < d->started; i++)
		pthread_join(d->threads[i], NULL);
	d->started = 0;
}

static void daemon_free(struct daemon *d)
{
	daemon_stop_threads(d);
	for (unsigned i = 0; d->workers && i < d->nworkers; i++)
		worker_destroy(d->workers[i]);
	for (unsigned i = 0; d->queues && i < d->nworkers; i++)
		d->io->close(d->queues[i]);
	if (d->io_ready)
		d->io->teardown();
	ring_mesh_destroy(d->shared.handoff);
	ring_mesh_destroy(d->shared.giveback);
	free(d->workers);
	free(d->queues);
	free(d->threads);
}

/* Rings between every pair of workers, the process-wide shard key and the
 * secrets of the shards. The giveback rings hold every buffer a worker can
 * lend (its whole pool), so returning one never fails. */
static int daemon_shared(struct daemon *d)
{
	struct worker_shared *sh = &d->shared;
	uint64_t rnd[4];

	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		return -EIO;
	sh->nworkers = d->nworkers;
	sh->workers = d->workers;
	sh->shard_key[0] = rnd[0];
	sh->shard_key[1] = rnd[1];
	sh->seed[0] = rnd[2];
	sh->seed[1] = rnd[3];
	if (getrandom(sh->token_key, sizeof sh->token_key, 0) != (ssize_t)sizeof sh->token_key)
		return -EIO;
	snprintf(sh->sl_tag, sizeof sh->sl_tag, "%016llx",
		 (unsigned long long)(rnd[0] ^ rnd[3]));
	if (d->nworkers < 2)
		return 0;
	sh->handoff = ring_mesh_create(d->nworkers, 256);
	sh->giveback = ring_mesh_create(d->nworkers, 512);
	return sh->handoff && sh->giveback ? 0 : -ENOMEM;
}

/* Queues and workers are built on this thread, before any worker runs, so
 * a bind error stops start-up with nothing half-running. */
static int daemon_prepare(struct daemon *d)
{
	int r;

	d->queues = calloc(d->nworkers, sizeof *d->queues);
	d->workers = calloc(d->nworkers, sizeof *d->workers);
	d->threads = calloc(d->nworkers, sizeof *d->threads);
	if (!d->queues || !d->workers || !d->threads)
		return -ENOMEM;
	r = daemon_shared(d);
	if (r)
		return r;
	r = d->io->setup(d->cfg);
	if (r)
		return r;
	d->io_ready = true;
	for (unsigned i = 0; i < d->nworkers; i++) {
		r = d->io->open(d->cfg, i, &d->queues[i]);
		if (r)
			return r;
		d->workers[i] = worker_create(i, d->cfg, d->io, d->queues[i], &d->stop, &d->shared);
		if (!d->workers[i])
			return -ENOMEM;
	}
	return 0;
}

/* The control thread (metrics), before the workers run: a metrics
 * address in use stops start-up with no worker started. */
static int daemon_control(struct daemon *d)
{
	struct control_env env = { .cfg = d->cfg, .workers = d->workers, .nworkers = d->nworkers };

	return control_start(&env, &d->control);
}

static int daemon_start(struct daemon *d)
{
	for (unsigned i = 0; i < d->nworkers; i++) {
		char name[16];
		int r = pthread_create(&d->threads[i], NULL, worker_run, d->workers[i]);

		if (r) {
			log_error("cannot start worker %u: %s", i, strerror(r));
			return -r;
		}
		d->started++;
		snprintf(name, sizeof name, "sbc-w%u", i);
		pthread_setname_np(d->threads[i], name);
	}
	return 0;
}

/* Blocks until SIGTERM/SIGINT (0) or a broken worker (-EIO). SIGHUP will
 * reload the configuration; today it is only acknowledged. */
static int daemon_wait(const sigset_t *set)
{
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(set, &si);

		if (sig < 0) {
			int err = errno;
			if (err == EINTR)
				continue;
			log_error("sigwaitinfo: %s", strerror(err));
			return -err;
		}
		if (sig == SIGHUP) {
			log_warn("SIGHUP: configuration reload is not supported yet; ignored");
			continue;
		}
		if (sig == WORKER_STOP_SIGNAL)
			return -EIO;
		log_info("%s received from pid %d: stopping", strsignal(sig), (int)si.si_pid);
		return 0;
	}
}

/* ---- descriptors ---------------------------------------------------------- *
 * The socket backend opens one socket per media relay port in use, so the
 * daemon may need as many descriptors as its port ranges have ports, plus
 * the SIP sockets, epoll sets and eventfds of the workers and the control
 * thread's. Raise the soft limit to the hard one (and the hard one too
 * when we may: CAP_SYS_RESOURCE); say so when it still falls short, since
 * calls beyond it get 503 (the relay cannot open their ports). */
static uint64_t fds_wanted(const struct sbc_config *cfg, unsigned nworkers)
{
	uint64_t n = 64; /* stdio, logs, control thread, libraries */

	for (size_t i = 0; i < cfg->nrealms; i++) {
		const struct sbc_media *m = &cfg->realms[i].media;
		n += (uint64_t)nworkers * (cfg->realms[i].nlisten + 1);
		if (m->ip.family != AF_UNSPEC && m->port_last >= m->port_first)
			n += (uint64_t)(m->port_last - m->port_first) + 1;
	}
	return n + 4u * nworkers; /* epoll set, eventfd per worker */
}

static void raise_fd_limit(const struct sbc_config *cfg, unsigned nworkers)
{
	uint64_t want = fds_wanted(cfg, nworkers);
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		log_warn("getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
		return;
	}
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
		struct rlimit up = { .rlim_cur = want, .rlim_max = want };
		if (setrlimit(RLIMIT_NOFILE, &up) == 0) {
			log_info("descriptor limit raised to %llu (media port ranges)",
				 (unsigned long long)want);
			return;
		}
	}
	/* Soft to hard (an infinite hard limit is capped by fs.nr_open, so
	 * ask for what we need then). The backend uses epoll, never select:
	 * descriptors above 1024 are fine. */
	if (rl.rlim_max == RLIM_INFINITY)
		rl.rlim_cur = rl.rlim_cur > want ? rl.rlim_cur : want;
	else
		rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_warn("setrlimit(RLIMIT_NOFILE, %llu): %s", (unsigned long long)rl.rlim_cur,
			 strerror(errno));
	(void)getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < want)
		log_warn("descriptor limit is %llu (hard %llu) but the media port ranges may need "
			 "%llu: calls beyond it are refused with 503; raise it (ulimit -Hn, "
			 "LimitNOFILE= in the systemd unit) or narrow media.ports",
			 (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
			 (unsigned long long)want);
	else
		log_debug("descriptor limit %llu", (unsigned long long)rl.rlim_cur);
}

/* ---- logging ------------------------------------------------------------ */

static void log_listening(const struct sbc_config *cfg, unsigned nworkers, const char *backend)
{
	log_info("sbc %s: %u worker%s, backend %s, config %s", SBC_VERSION, nworkers,
		 nworkers == 1 ? "" : "s", backend, cfg->source);
	for (size_t i = 0; i < cfg->nrealms; i++) {
		const struct sbc_realm *r = &cfg->realms[i];
		for (size_t j = 0; j < r->nlisten; j++)
			log_info("realm %s (%s): listening on %s%s%s:%u/%s, advertising %s", r->name,
				 r->trusted ? "trusted" : "untrusted",
				 r->listen[j].ip.family == AF_INET6 ? "[" : "", r->listen[j].ip.text,
				 r->listen[j].ip.family == AF_INET6 ? "]" : "", r->listen[j].port,
				 sbc_transport_name(r->listen[j].transport), r->advertise.name);
	}
}

static void log_summary(const struct daemon *d)
{
	struct worker_counters t;
	struct io_stats io = { 0 };

	memset(&t, 0, sizeof t);
	for (unsigned i = 0; i < d->nworkers; i++) {
		struct io_stats s;
		if (!d->workers[i] || !d->queues[i])
			continue;
		worker_counters_add(&t, worker_counters(d->workers[i]));
		d->io->stats(d->queues[i], &s);
		io.rx_errors += s.rx_errors;
		io.tx_errors += s.tx_errors;
		log_info("worker %u: received %llu, sent %llu", i,
			 (unsigned long long)worker_counters(d->workers[i])->rx,
			 (unsigned long long)worker_counters(d->workers[i])->tx);
	}
	log_info("total: received %llu, sent %llu, send failures %llu, OPTIONS answered %llu, "
		 "handed over %llu, keepalives %llu, rx errors %llu",
		 (unsigned long long)t.rx, (unsigned long long)t.tx,
		 (unsigned long long)t.tx_failed, (unsigned long long)t.options_ok,
		 (unsigned long long)t.handoff_out, (unsigned long long)t.keepalives,
		 (unsigned long long)io.rx_errors);
	uint64_t pc[PROXY_C__COUNT] = { 0 };
	for (unsigned i = 0; i < d->nworkers; i++) {
		if (!d->workers[i])
			continue;
		const uint64_t *c = worker_proxy_counters(d->workers[i]);
		for (unsigned k = 0; k < PROXY_C__COUNT; k++)
			pc[k] += c[k];
	}
	for (unsigned k = 0; k < PROXY_C__COUNT; k++) {
		if (pc[k])
			log_info("  proxy %s: %llu", proxy_counter_name((enum proxy_counter)k),
				 (unsigned long long)pc[k]);
	}
	/* media: relayed and dropped, and what is still allocated (0 once
	 * every call has ended: ports never leak) */
	uint64_t mrx = 0, mfwd = 0, msess = 0, mports = 0;
	for (unsigned i = 0; i < d->nworkers; i++) {
		const struct worker_media *m;
		if (!d->workers[i])
			continue;
		m = &worker_metrics(d->workers[i])->media;
		mrx += m->rx;
		for (unsigned k = 0; k < MEDIA_PKT__COUNT; k++)
			mfwd += m->fwd[k];
		msess += m->sessions;
		for (size_t r = 0; r < d->cfg->nrealms && r < SBC_MAX_REALMS; r++)
			mports += m->ports_in_use[r];
	}
	if (mrx || msess || mports)
		log_info("media: received %llu, relayed %llu, dropped %llu; at exit %llu sessions, "
			 "%llu relay ports in use",
			 (unsigned long long)mrx, (unsigned long long)mfwd,
			 (unsigned long long)(mrx - mfwd), (unsigned long long)msess,
			 (unsigned long long)mports);
	for (unsigned e = 1; e < SIP_E__COUNT; e++) {
		if (t.sip_err[e])
			log_info("  sip error %s: %llu", sip_err_name((enum sip_err)e),
				 (unsigned long long)t.sip_err[e]);
	}
	for (unsigned k = 0; k < WORKER_DROP__COUNT; k++) {
		if (t.drop[k])
			log_info("  dropped %s: %llu", worker_drop_name((enum worker_drop)k),
				 (unsigned long long)t.drop[k]);
	}
}

/* ---- main --------------------------------------------------------------- */

static int run(const struct sbc_config *cfg)
{
	struct daemon d = { .cfg = cfg, .io = &io_socket_backend };

#if HAVE_DPDK
	if (cfg->io.backend == SBC_IO_DPDK)
		d.io = &io_dpdk_backend;
#endif
	sigset_t set;
	int r;

	/* Workers inherit this mask: only main receives these, synchronously. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, WORKER_STOP_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	d.nworkers = sbc_config_workers(cfg);
	atomic_init(&d.stop, false);
	raise_fd_limit(cfg, d.nworkers);
	r = daemon_prepare(&d);
	if (!r)
		r = daemon_control(&d);
	if (!r)
		r = daemon_start(&d);
	if (r) {
		if (r == -ENOMEM)
			log_error("out of memory during start-up");
		log_error("start-up failed");
		daemon_free(&d);
		return EXIT_RUNTIME;
	}
	log_listening(cfg, d.nworkers, d.io->name);
	r = daemon_wait(&set);
	daemon_stop_threads(&d);
	log_summary(&d);
	daemon_free(&d);
	log_info("stopped%s", r ? " after a worker failure" : "");
	return r ? EXIT_RUNTIME : EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
	__attribute__((cleanup(config_freep))) struct sbc_config *cfg = NULL;
	const char *path = SBC_DEFAULT_CONFIG;
	bool test_only = false;
	char err[1024];
	int opt;

	while ((opt = getopt(argc, argv, "c:thV")) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 't': test_only = true; break;
		case 'h': usage(stdout); return EXIT_SUCCESS;
		case 'V': printf("sbc %s\n", SBC_VERSION); return EXIT_SUCCESS;
		default: usage(stderr); return EXIT_CONFIG;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sbc: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_CONFIG;
	}
	if (sbc_config_load(path, &cfg, err, sizeof err)) {
		if (test_only)
			fprintf(stderr, "%s\n", err);
		else
			log_error("%s", err);
		return EXIT_CONFIG;
	}
	if (test_only) {
		printf("%s: configuration OK (%zu realms, %zu routes, %u workers)\n", path,
		       cfg->nrealms, cfg->nroutes, sbc_config_workers(cfg));
		return EXIT_SUCCESS;
	}
	sbc_log_set_level(cfg->log_level);
	return run(cfg);
}
