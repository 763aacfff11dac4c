/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/metrics: histogram bucketing, exact seconds, escaping, and the text
 * exposition of a small registry against golden output.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "metrics.h"

static void test_format_seconds(void **state)
{
	char b[40];

	metrics_format_seconds(0, b, sizeof(b));
	assert_string_equal(b, "0");
	metrics_format_seconds(1, b, sizeof(b));
	assert_string_equal(b, "0.000000001");
	metrics_format_seconds(2500, b, sizeof(b));
	assert_string_equal(b, "0.0000025");
	metrics_format_seconds(1000000000ull, b, sizeof(b));
	assert_string_equal(b, "1");
	metrics_format_seconds(12500000000ull, b, sizeof(b));
	assert_string_equal(b, "12.5");
	metrics_format_seconds(UINT64_MAX, b, sizeof(b));
	assert_string_equal(b, "18446744073.709551615");
}

static void test_layouts_are_increasing(void **state)
{
	const struct metrics_hist_layout *l[] = { &metrics_layout_processing,
						  &metrics_layout_setup };

	for (size_t k = 0; k < 2; k++) {
		assert_true(l[k]->n > 0 && l[k]->n <= METRICS_HIST_MAX);
		for (unsigned i = 1; i < l[k]->n; i++)
			assert_true(l[k]->bound_ns[i] > l[k]->bound_ns[i - 1]);
	}
	assert_int_equal(metrics_layout_processing.bound_ns[0], 1000);
	assert_int_equal(metrics_layout_processing.bound_ns[18], 1000000000ull);
	assert_int_equal(metrics_layout_setup.bound_ns[0], 10000000ull);
}

static void test_observe_le_semantics(void **state)
{
	struct metrics_hist h;
	const struct metrics_hist_layout *l = &metrics_layout_processing;

	memset(&h, 0, sizeof(h));
	metrics_hist_observe(&h, l, 0);                 /* first bucket */
	metrics_hist_observe(&h, l, 1000);              /* == 1 us: still first */
	metrics_hist_observe(&h, l, 1001);              /* second */
	metrics_hist_observe(&h, l, 1000000000ull);     /* == 1 s: last finite */
	metrics_hist_observe(&h, l, 1000000001ull);     /* +Inf */
	assert_int_equal(h.bucket[0], 2);
	assert_int_equal(h.bucket[1], 1);
	assert_int_equal(h.bucket[18], 1);
	assert_int_equal(h.bucket[19], 1);
	assert_int_equal(h.sum_ns, 0 + 1000 + 1001 + 1000000000ull + 1000000001ull);

	struct metrics_hist acc;
	memset(&acc, 0, sizeof(acc));
	metrics_hist_add(&acc, &h);
	metrics_hist_add(&acc, &h);
	assert_int_equal(acc.bucket[0], 4);
	assert_int_equal(acc.sum_ns, 2 * h.sum_ns);
}

static void test_calls_null_safe(void **state)
{
	struct metrics_calls c;

	memset(&c, 0, sizeof(c));
	metrics_call_attempted(NULL);
	metrics_call_answered(NULL, 5);
	metrics_call_failed(NULL);
	metrics_call_attempted(&c);
	metrics_call_attempted(&c);
	metrics_call_answered(&c, 300000000ull);        /* 0.3 s */
	metrics_call_failed(&c);
	assert_int_equal(c.attempted, 2);
	assert_int_equal(c.answered, 1);
	assert_int_equal(c.failed, 1);
	assert_int_equal(c.setup.bucket[5], 1);         /* 0.25 < 0.3 <= 0.5 */
}

static const struct metrics_hist_layout tiny = { 3, { 1000, 1000000, 1000000000ull } };

static const char golden[] =
	"# HELP sbc_requests_received_total SIP requests received, by method.\n"
	"# TYPE sbc_requests_received_total counter\n"
	"sbc_requests_received_total{method=\"INVITE\"} 42\n"
	"sbc_requests_received_total{method=\"OPTIONS\"} 0\n"
	"# HELP sbc_build_info Build of the running daemon \\\\ with \"quotes\"\\nand a newline.\n"
	"# TYPE sbc_build_info gauge\n"
	"sbc_build_info{version=\"0.1.0\",odd=\"a\\\\b\\\"c\\nd\"} 1\n"
	"# HELP sbc_workers Worker threads.\n"
	"# TYPE sbc_workers gauge\n"
	"sbc_workers 2\n"
	"# HELP sbc_message_processing_seconds Time to handle one message.\n"
	"# TYPE sbc_message_processing_seconds histogram\n"
	"sbc_message_processing_seconds_bucket{worker=\"0\",le=\"0.000001\"} 2\n"
	"sbc_message_processing_seconds_bucket{worker=\"0\",le=\"0.001\"} 3\n"
	"sbc_message_processing_seconds_bucket{worker=\"0\",le=\"1\"} 3\n"
	"sbc_message_processing_seconds_bucket{worker=\"0\",le=\"+Inf\"} 4\n"
	"sbc_message_processing_seconds_sum{worker=\"0\"} 2.0010015\n"
	"sbc_message_processing_seconds_count{worker=\"0\"} 4\n"
	"# HELP sbc_call_setup_seconds Setup.\n"
	"# TYPE sbc_call_setup_seconds histogram\n"
	"sbc_call_setup_seconds_bucket{le=\"0.000001\"} 0\n"
	"sbc_call_setup_seconds_bucket{le=\"0.001\"} 0\n"
	"sbc_call_setup_seconds_bucket{le=\"1\"} 0\n"
	"sbc_call_setup_seconds_bucket{le=\"+Inf\"} 0\n"
	"sbc_call_setup_seconds_sum 0\n"
	"sbc_call_setup_seconds_count 0\n";

static void test_exposition_golden(void **state)
{
	struct metrics_buf b;
	struct metrics_hist h, empty;
	char *text;

	metrics_buf_init(&b);
	metrics_family(&b, "sbc_requests_received_total", "counter",
		       "SIP requests received, by method.");
	metrics_sample(&b, "sbc_requests_received_total",
		       (struct metrics_label[]){ { "method", "INVITE" } }, 1, 42);
	metrics_sample(&b, "sbc_requests_received_total",
		       (struct metrics_label[]){ { "method", "OPTIONS" } }, 1, 0);
	metrics_family(&b, "sbc_build_info", "gauge",
		       "Build of the running daemon \\ with \"quotes\"\nand a newline.");
	metrics_sample(&b, "sbc_build_info",
		       (struct metrics_label[]){ { "version", "0.1.0" }, { "odd", "a\\b\"c\nd" } }, 2,
		       1);
	metrics_family(&b, "sbc_workers", "gauge", "Worker threads.");
	metrics_sample(&b, "sbc_workers", NULL, 0, 2);

	memset(&h, 0, sizeof(h));
	metrics_hist_observe(&h, &tiny, 500);           /* <= 1 us */
	metrics_hist_observe(&h, &tiny, 1000);          /* equal to 1 us: le */
	metrics_hist_observe(&h, &tiny, 1000000);       /* equal to 1 ms */
	metrics_hist_observe(&h, &tiny, 2000000000ull); /* above 1 s: +Inf */
	metrics_family(&b, "sbc_message_processing_seconds", "histogram",
		       "Time to handle one message.");
	metrics_histogram(&b, "sbc_message_processing_seconds",
			  (struct metrics_label[]){ { "worker", "0" } }, 1, &tiny, &h);
	memset(&empty, 0, sizeof(empty));
	metrics_family(&b, "sbc_call_setup_seconds", "histogram", "Setup.");
	metrics_histogram(&b, "sbc_call_setup_seconds", NULL, 0, &tiny, &empty);

	assert_false(b.failed);
	text = metrics_buf_take(&b);
	assert_non_null(text);
	if (strcmp(text, golden)) {
		fprintf(stderr, "--- got ---\n%s--- want ---\n%s", text, golden);
		fail();
	}
	assert_int_equal(b.len, 0);                     /* taken */
	free(text);
	metrics_buf_free(&b);
}

static void test_buffer_grows(void **state)
{
	struct metrics_buf b;
	char name[32];

	metrics_buf_init(&b);
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		metrics_sample(&b, name, (struct metrics_label[]){ { "l", "v" } }, 1,
			       (uint64_t)i * 1000003u);
	}
	assert_false(b.failed);
	assert_true(b.len > 50000);
	assert_int_equal(strlen(b.p), b.len);
	assert_non_null(strstr(b.p, "m4999{l=\"v\"} 4999014997\n"));
	metrics_buf_free(&b);
	assert_null(metrics_buf_take(&b));             /* empty: nothing to take */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_seconds),
		cmocka_unit_test(test_layouts_are_increasing),
		cmocka_unit_test(test_observe_le_semantics),
		cmocka_unit_test(test_calls_null_safe),
		cmocka_unit_test(test_exposition_golden),
		cmocka_unit_test(test_buffer_grows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
