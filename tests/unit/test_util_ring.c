/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <unistd.h>
#include <cmocka.h>

#include "ring.h"

#define ITEMS 1000000u

static void *tok(uint64_t v)
{
	return (void *)(uintptr_t)v;
}

static uint64_t untok(void *p)
{
	return (uint64_t)(uintptr_t)p;
}

static void test_spsc_create_args(void **state)
{
	(void)state;
	assert_null(ring_spsc_create(0));
	assert_null(ring_spsc_create(1));
	assert_null(ring_spsc_create(3));
	assert_null(ring_spsc_create(RING_MAX_SIZE * 2u));
	ring_spsc_destroy(NULL);
}

/* Fill, overfill, drain, wrap the indices many times over a small ring. */
static void test_spsc_single_thread(void **state)
{
	struct ring_spsc *r = ring_spsc_create(8);
	void *in[16], *out[16];
	uint64_t next_in = 1, next_out = 1;

	(void)state;
	assert_non_null(r);
	assert_int_equal(ring_spsc_capacity(r), 8);
	assert_int_equal(ring_spsc_dequeue_burst(r, out, 16), 0);
	for (unsigned i = 0; i < 16; i++)
		in[i] = tok(next_in + i);
	assert_int_equal(ring_spsc_enqueue_burst(r, in, 16), 8);  /* partial */
	next_in += 8;
	assert_int_equal(ring_spsc_count(r), 8);
	assert_int_equal(ring_spsc_enqueue_burst(r, in, 1), 0);   /* full */
	for (unsigned round = 0; round < 1000; round++) {
		unsigned want = 1 + round % 8;
		unsigned got = ring_spsc_dequeue_burst(r, out, want);

		assert_true(got <= want);
		for (unsigned i = 0; i < got; i++)
			assert_int_equal(untok(out[i]), next_out++);
		for (unsigned i = 0; i < 16; i++)
			in[i] = tok(next_in + i);
		next_in += ring_spsc_enqueue_burst(r, in, 1 + round % 5);
		assert_true(ring_spsc_count(r) <= 8);
	}
	while (next_out < next_in) {
		unsigned got = ring_spsc_dequeue_burst(r, out, 16);

		assert_true(got > 0);
		for (unsigned i = 0; i < got; i++)
			assert_int_equal(untok(out[i]), next_out++);
	}
	assert_int_equal(ring_spsc_count(r), 0);
	assert_int_equal(ring_spsc_enqueue_burst(r, in, 0), 0);
	assert_int_equal(ring_spsc_dequeue_burst(r, out, 0), 0);
	ring_spsc_destroy(r);
}

/* ---- two-thread SPSC stress ------------------------------------------ */

struct spsc_arg {
	struct ring_spsc *r;
	uint64_t seed;
};

static void *spsc_producer(void *p)
{
	struct spsc_arg *a = p;
	uint64_t seq = 1, x = a->seed;
	void *buf[32];

	while (seq <= ITEMS) {
		unsigned n, sent;

		x = x * 6364136223846793005ull + 1;
		n = 1 + (unsigned)(x >> 59);             /* 1..32 */
		if (n > ITEMS + 1 - seq)
			n = (unsigned)(ITEMS + 1 - seq);
		for (unsigned i = 0; i < n; i++)
			buf[i] = tok(seq + i);
		sent = ring_spsc_enqueue_burst(a->r, buf, n);
		seq += sent;
		if (sent < n)
			sched_yield();  /* full: let the consumer run (2 cores, valgrind) */
	}
	return NULL;
}

static void test_spsc_two_threads(void **state)
{
	struct spsc_arg a = { .r = ring_spsc_create(256), .seed = 12345 };
	pthread_t th;
	uint64_t expect = 1;
	void *buf[32];

	(void)state;
	assert_non_null(a.r);
	assert_int_equal(pthread_create(&th, NULL, spsc_producer, &a), 0);
	while (expect <= ITEMS) {
		unsigned got = ring_spsc_dequeue_burst(a.r, buf, 1 + (unsigned)(expect % 32));

		if (!got) {
			sched_yield();
			continue;
		}
		for (unsigned i = 0; i < got; i++) {
			if (untok(buf[i]) != expect)
				fail_msg("got %llu, expected %llu",
					 (unsigned long long)untok(buf[i]),
					 (unsigned long long)expect);
			expect++;
		}
	}
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(ring_spsc_dequeue_burst(a.r, buf, 32), 0);
	ring_spsc_destroy(a.r);
}

/* ---- mesh ------------------------------------------------------------ */

static void test_mesh_basic(void **state)
{
	struct ring_mesh *m = ring_mesh_create(3, 16);
	void *in[10], *out[16];

	(void)state;
	assert_null(ring_mesh_create(0, 16));
	assert_null(ring_mesh_create(2, 3));
	assert_non_null(m);
	assert_null(ring_mesh_ring(m, 1, 1));
	assert_null(ring_mesh_ring(m, 3, 0));
	assert_non_null(ring_mesh_ring(m, 0, 2));
	for (unsigned i = 0; i < 10; i++)
		in[i] = tok(i);
	assert_int_equal(ring_mesh_enqueue_burst(m, 2, 2, in, 10), 0);  /* to self */
	assert_int_equal(ring_mesh_enqueue_burst(m, 0, 5, in, 10), 0);  /* bad id */
	assert_int_equal(ring_mesh_dequeue_burst(m, 7, out, 16), 0);
	/* Producers 0 and 1 each queue 10 for 2; bursts alternate. */
	for (unsigned i = 0; i < 10; i++)
		in[i] = tok(100 + i);
	assert_int_equal(ring_mesh_enqueue_burst(m, 0, 2, in, 10), 10);
	for (unsigned i = 0; i < 10; i++)
		in[i] = tok(200 + i);
	assert_int_equal(ring_mesh_enqueue_burst(m, 1, 2, in, 10), 10);
	assert_int_equal(ring_mesh_dequeue_burst(m, 2, out, 4), 4);
	assert_int_equal(untok(out[0]), 100);
	assert_int_equal(ring_mesh_dequeue_burst(m, 2, out, 4), 4);
	assert_int_equal(untok(out[0]), 200);
	assert_int_equal(ring_mesh_dequeue_burst(m, 2, out, 4), 4);
	assert_int_equal(untok(out[0]), 104);
	/* A large burst drains both, rest of each in order. */
	assert_int_equal(ring_mesh_dequeue_burst(m, 2, out, 16), 8);
	assert_int_equal(ring_mesh_dequeue_burst(m, 2, out, 16), 0);
	assert_int_equal(ring_mesh_dequeue_burst(m, 0, out, 16), 0);
	ring_mesh_destroy(m);
	ring_mesh_destroy(NULL);
}

enum { MESH_N = 4, CONSUMER = 0 };

struct mesh_arg {
	struct ring_mesh *m;
	unsigned id;
	uint64_t count;
};

static void *mesh_producer(void *p)
{
	struct mesh_arg *a = p;
	uint64_t seq = 0;
	void *buf[16];

	while (seq < a->count) {
		unsigned n = 1 + (unsigned)(seq % 16), sent;

		if (n > a->count - seq)
			n = (unsigned)(a->count - seq);
		for (unsigned i = 0; i < n; i++)
			buf[i] = tok((uint64_t)a->id << 32 | (seq + i));
		sent = ring_mesh_enqueue_burst(a->m, a->id, CONSUMER, buf, n);
		seq += sent;
		if (sent < n)
			sched_yield();
	}
	return NULL;
}

/* N-1 producers into one consumer: 1e6 items, per-producer FIFO, no loss. */
static void test_mesh_threads(void **state)
{
	struct ring_mesh *m = ring_mesh_create(MESH_N, 256);
	struct mesh_arg args[MESH_N];
	pthread_t th[MESH_N];
	uint64_t next[MESH_N] = { 0 };
	uint64_t total = 0;
	void *buf[32];

	(void)state;
	assert_non_null(m);
	for (unsigned i = 1; i < MESH_N; i++) {
		args[i].m = m;
		args[i].id = i;
		args[i].count = ITEMS / (MESH_N - 1) + (i == 1 ? ITEMS % (MESH_N - 1) : 0);
		assert_int_equal(pthread_create(&th[i], NULL, mesh_producer, &args[i]), 0);
	}
	while (total < ITEMS) {
		unsigned got = ring_mesh_dequeue_burst(m, CONSUMER, buf, 32);

		if (!got) {
			sched_yield();
			continue;
		}
		for (unsigned i = 0; i < got; i++) {
			uint64_t v = untok(buf[i]);
			unsigned from = (unsigned)(v >> 32);

			assert_true(from >= 1 && from < MESH_N);
			if ((v & 0xffffffffu) != next[from])
				fail_msg("producer %u: got %llu expected %llu", from,
					 (unsigned long long)(v & 0xffffffffu),
					 (unsigned long long)next[from]);
			next[from]++;
		}
		total += got;
	}
	for (unsigned i = 1; i < MESH_N; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(next[i], args[i].count);
	}
	assert_int_equal(ring_mesh_dequeue_burst(m, CONSUMER, buf, 32), 0);
	ring_mesh_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spsc_create_args),
		cmocka_unit_test(test_spsc_single_thread),
		cmocka_unit_test(test_spsc_two_threads),
		cmocka_unit_test(test_mesh_basic),
		cmocka_unit_test(test_mesh_threads),
	};

	/* Guard against a hang (a lost item would spin forever), not a timing check. */
	alarm(300);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
