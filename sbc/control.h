/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sbc/control — the control thread. Today it serves the Prometheus
 * endpoint: GET /metrics on control.metrics (libmicrohttpd, driven by this
 * thread's own epoll loop, never by a worker). The loop is where the CLI
 * socket, configuration reload and the Redis client will join it.
 *
 * Scraping does not disturb the workers: it takes no lock and sends them
 * nothing; it loads their per-worker counters racily (METRICS_LOAD on
 * aligned 64-bit values each worker alone writes) and sums them. The cost
 * lands on the control thread only (see control.c for figures).
 *
 * Ownership and threads
 *   control_start() and control_stop() run on the main thread. The workers
 *   in env must outlive the control thread: main stops it before it joins
 *   and frees them. control_metrics() may run on any thread while the
 *   workers exist (tests call it directly).
 *
 * Errors
 *   control_start() returns 0 (metrics disabled: *out stays NULL) or
 *   -errno after logging what failed (address in use, out of memory).
 */
#ifndef SBC_CONTROL_H
#define SBC_CONTROL_H

#include "config.h"
#include "metrics.h"
#include "worker.h"

struct control_env {
	const struct sbc_config *cfg;
	struct worker *const *workers;
	unsigned nworkers;
};

struct control;

int control_start(const struct control_env *env, struct control **out);
void control_stop(struct control *c);  /* NULL ok; joins the thread */

/* The whole exposition (text format 0.0.4) of env into b. */
void control_metrics(const struct control_env *env, struct metrics_buf *b,
		     uint64_t last_scrape_ns);

#endif /* SBC_CONTROL_H */
