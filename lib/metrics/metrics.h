/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/metrics — per-worker counters and histograms, and the Prometheus text
 * exposition format (version 0.0.4) they are rendered in.
 *
 * Writers and readers
 *   Every counter and histogram belongs to one worker, which increments it
 *   with plain stores (no atomic read-modify-write, no lock, no fence: an
 *   increment costs what it costs on a private variable). The metrics
 *   reader on the control thread reads them racily with METRICS_LOAD, a
 *   relaxed atomic load: an aligned 64-bit load is never torn, and the
 *   relaxed atomic tells the compiler it must really load it. A scrape sums
 *   workers at one instant per value, so two values of one scrape may be a
 *   few increments apart (e.g. a histogram's buckets and its sum); each is
 *   monotonic across scrapes, which is what Prometheus' rate() needs.
 *   Writers that publish a gauge snapshot use METRICS_STORE (a relaxed
 *   store: a plain mov on x86-64 and arm64).
 *
 * Histograms
 *   Fixed bucket layouts (struct metrics_hist_layout, bounds in integer
 *   nanoseconds, `le` semantics: a value equal to a bound falls in it).
 *   The writer counts per bucket (not cumulative); the exposition
 *   accumulates, and writes _count as the +Inf bucket so the two always
 *   agree within one scrape.
 *
 * Exposition
 *   metrics_buf is a growing text buffer (heap: control thread only).
 *   Families are written as "# HELP", "# TYPE", then samples; the caller
 *   writes each family once, with all its samples together. Label values
 *   and help text are escaped as the format asks (\\, \", \n). Numbers are
 *   integers, or exact decimals of nanosecond values for seconds (no
 *   floating-point rounding: 0.0000025, not 2.5000000000000001e-06).
 *   Allocation failure sticks (metrics_buf.failed) and later writes are
 *   ignored; the caller answers 500.
 *
 * Threads
 *   Layouts are immutable. A metrics_buf belongs to the thread building it.
 */
#ifndef SBC_METRICS_H
#define SBC_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define METRICS_LOAD(x)     __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define METRICS_STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

/* Monotonic nanoseconds (CLOCK_MONOTONIC through the vDSO: ~20 ns with
 * the TSC clocksource). For durations, not for limits (those use ms). */
static inline uint64_t metrics_now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- histograms --------------------------------------------------------- */

#define METRICS_HIST_MAX 24u   /* finite bounds; +Inf is implicit */

struct metrics_hist_layout {
	unsigned n;                         /* finite bounds, <= METRICS_HIST_MAX */
	uint64_t bound_ns[METRICS_HIST_MAX];
};

/* 1 us .. 1 s in 1-2.5-5 steps (19 bounds): time to handle one message. */
extern const struct metrics_hist_layout metrics_layout_processing;
/* 10 ms .. 250 s in 1-2.5-5 steps (14 bounds): INVITE to answer. */
extern const struct metrics_hist_layout metrics_layout_setup;

struct metrics_hist {
	uint64_t bucket[METRICS_HIST_MAX + 1];  /* per bucket; last = above all bounds */
	uint64_t sum_ns;
};

static inline void metrics_hist_observe(struct metrics_hist *h, const struct metrics_hist_layout *l,
					uint64_t ns)
{
	unsigned i = 0;

	while (i < l->n && ns > l->bound_ns[i])
		i++;
	h->bucket[i]++;
	h->sum_ns += ns;
}

/* acc += racy snapshot of h (reader side). */
void metrics_hist_add(struct metrics_hist *acc, const struct metrics_hist *h);

/* ---- calls (written by the proxy of a shard through the worker's block) */

struct metrics_calls {
	uint64_t attempted;      /* initial INVITEs taken on by the proxy */
	uint64_t answered;       /* ... that got a 2xx upstream */
	uint64_t failed;         /* ... that got a final >= 300 upstream */
	struct metrics_hist setup;  /* INVITE received -> first 2xx relayed */
};

static inline void metrics_call_attempted(struct metrics_calls *c)
{
	if (c)
		c->attempted++;
}

static inline void metrics_call_answered(struct metrics_calls *c, uint64_t setup_ns)
{
	if (!c)
		return;
	c->answered++;
	metrics_hist_observe(&c->setup, &metrics_layout_setup, setup_ns);
}

static inline void metrics_call_failed(struct metrics_calls *c)
{
	if (c)
		c->failed++;
}

/* ---- exposition --------------------------------------------------------- */

struct metrics_buf {
	char *p;
	size_t len, cap;
	bool failed;             /* an allocation failed: discard the text */
};

struct metrics_label {
	const char *name;
	const char *value;
};

void metrics_buf_init(struct metrics_buf *b);
void metrics_buf_free(struct metrics_buf *b);   /* keeps b reusable (empty) */
/* Take the text (NUL-terminated, length b->len) out of b; caller frees. */
char *metrics_buf_take(struct metrics_buf *b);

/* "# HELP name help" and "# TYPE name type" (counter, gauge, histogram). */
void metrics_family(struct metrics_buf *b, const char *name, const char *type, const char *help);
/* name{labels} value */
void metrics_sample(struct metrics_buf *b, const char *name, const struct metrics_label *l,
		    size_t nl, uint64_t value);
/* name{labels} value_ns/1e9, as an exact decimal */
void metrics_sample_seconds(struct metrics_buf *b, const char *name,
			    const struct metrics_label *l, size_t nl, uint64_t value_ns);
/* name_bucket{labels,le=...} (cumulative), name_sum, name_count. */
void metrics_histogram(struct metrics_buf *b, const char *name, const struct metrics_label *l,
		       size_t nl, const struct metrics_hist_layout *lay,
		       const struct metrics_hist *h);

/* Exact decimal of ns / 1e9 ("0.0000025", "1", "12.5") into buf. */
void metrics_format_seconds(uint64_t ns, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* SBC_METRICS_H */
