/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Histogram layouts and the Prometheus text exposition writer.
 */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define US 1000ull
#define MS 1000000ull
#define S  1000000000ull

const struct metrics_hist_layout metrics_layout_processing = {
	19, { 1 * US, 2500, 5 * US, 10 * US, 25 * US, 50 * US, 100 * US, 250 * US, 500 * US,
	      1 * MS, 2500 * US, 5 * MS, 10 * MS, 25 * MS, 50 * MS, 100 * MS, 250 * MS, 500 * MS,
	      1 * S },
};

const struct metrics_hist_layout metrics_layout_setup = {
	14, { 10 * MS, 25 * MS, 50 * MS, 100 * MS, 250 * MS, 500 * MS, 1 * S, 2500 * MS, 5 * S,
	      10 * S, 25 * S, 50 * S, 100 * S, 250 * S },
};

void metrics_hist_add(struct metrics_hist *acc, const struct metrics_hist *h)
{
	for (unsigned i = 0; i <= METRICS_HIST_MAX; i++)
		acc->bucket[i] += METRICS_LOAD(h->bucket[i]);
	acc->sum_ns += METRICS_LOAD(h->sum_ns);
}

/* ---- buffer ------------------------------------------------------------- */

void metrics_buf_init(struct metrics_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void metrics_buf_free(struct metrics_buf *b)
{
	free(b->p);
	metrics_buf_init(b);
}

char *metrics_buf_take(struct metrics_buf *b)
{
	char *p = b->p;

	if (b->failed || !p) {
		metrics_buf_free(b);
		return NULL;
	}
	metrics_buf_init(b);
	return p;
}

static bool reserve(struct metrics_buf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->failed)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	cap = b->cap ? b->cap : 16384;
	while (cap < b->len + more + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static void put(struct metrics_buf *b, const char *s, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void puts_(struct metrics_buf *b, const char *s)
{
	put(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3)))
static void putf(struct metrics_buf *b, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Escape \ and newline (help), plus " (label values). */
static void put_escaped(struct metrics_buf *b, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			put(b, "\\\\", 2);
		else if (*s == '\n')
			put(b, "\\n", 2);
		else if (quote && *s == '"')
			put(b, "\\\"", 2);
		else
			put(b, s, 1);
	}
}

/* ---- exposition --------------------------------------------------------- */

void metrics_format_seconds(uint64_t ns, char *buf, size_t cap)
{
	uint64_t whole = ns / S, frac = ns % S;
	char f[16];
	int n;

	if (!frac) {
		snprintf(buf, cap, "%llu", (unsigned long long)whole);
		return;
	}
	n = snprintf(f, sizeof(f), "%09llu", (unsigned long long)frac);
	while (n > 0 && f[n - 1] == '0')
		f[--n] = '\0';
	snprintf(buf, cap, "%llu.%s", (unsigned long long)whole, f);
}

void metrics_family(struct metrics_buf *b, const char *name, const char *type, const char *help)
{
	puts_(b, "# HELP ");
	puts_(b, name);
	puts_(b, " ");
	put_escaped(b, help, false);
	puts_(b, "\n# TYPE ");
	puts_(b, name);
	puts_(b, " ");
	puts_(b, type);
	puts_(b, "\n");
}

static void put_labels(struct metrics_buf *b, const struct metrics_label *l, size_t nl,
		       const char *le)
{
	if (!nl && !le)
		return;
	puts_(b, "{");
	for (size_t i = 0; i < nl; i++) {
		if (i)
			puts_(b, ",");
		puts_(b, l[i].name);
		puts_(b, "=\"");
		put_escaped(b, l[i].value, true);
		puts_(b, "\"");
	}
	if (le) {
		puts_(b, nl ? ",le=\"" : "le=\"");
		puts_(b, le);
		puts_(b, "\"");
	}
	puts_(b, "}");
}

void metrics_sample(struct metrics_buf *b, const char *name, const struct metrics_label *l,
		    size_t nl, uint64_t value)
{
	puts_(b, name);
	put_labels(b, l, nl, NULL);
	putf(b, " %llu\n", (unsigned long long)value);
}

void metrics_sample_seconds(struct metrics_buf *b, const char *name,
			    const struct metrics_label *l, size_t nl, uint64_t value_ns)
{
	char v[40];

	metrics_format_seconds(value_ns, v, sizeof(v));
	puts_(b, name);
	put_labels(b, l, nl, NULL);
	puts_(b, " ");
	puts_(b, v);
	puts_(b, "\n");
}

void metrics_histogram(struct metrics_buf *b, const char *name, const struct metrics_label *l,
		       size_t nl, const struct metrics_hist_layout *lay,
		       const struct metrics_hist *h)
{
	char sname[160], le[40];
	uint64_t cum = 0;
	unsigned n = lay->n < METRICS_HIST_MAX ? lay->n : METRICS_HIST_MAX;

	snprintf(sname, sizeof(sname), "%s_bucket", name);
	for (unsigned i = 0; i <= n; i++) {
		cum += h->bucket[i];
		if (i < n)
			metrics_format_seconds(lay->bound_ns[i], le, sizeof(le));
		else
			snprintf(le, sizeof(le), "+Inf");
		puts_(b, sname);
		put_labels(b, l, nl, le);
		putf(b, " %llu\n", (unsigned long long)cum);
	}
	snprintf(sname, sizeof(sname), "%s_sum", name);
	metrics_sample_seconds(b, sname, l, nl, h->sum_ns);
	snprintf(sname, sizeof(sname), "%s_count", name);
	metrics_sample(b, sname, l, nl, cum);
}
