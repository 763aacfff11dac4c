/* SPDX-License-Identifier: BSD-3-Clause */
/* Timing wheel driven by a fake clock: every time below is made up. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "clock.h"
#include "wheel.h"

#define HOUR_MS (3600ull * 1000ull)

struct item {
	struct wheel_timer t;
	uint32_t id;
	unsigned fired;
	uint64_t fired_at;   /* wheel_now() in the callback */
	uint64_t deadline;   /* what the test asked for */
};

struct log {
	struct wheel *w;
	uint32_t *ids;
	size_t n, cap;
	uint64_t prev_now;   /* now_ms of the previous advance call */
	uint64_t last_exp;   /* deadline order check within one call */
	bool check_window;
	/* behaviours for specific tests */
	struct item *victim;       /* cancelled by whichever fires first */
	uint64_t period;           /* >0: re-arm at expires + period */
	uint64_t rearm_in;         /* >0: re-arm with wheel_add_in */
	uint64_t stop_after;       /* stop periodic re-arm past this time */
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	/* xorshift64*: deterministic, good enough for test data */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static void log_init(struct log *l, struct wheel *w, size_t cap)
{
	memset(l, 0, sizeof(*l));
	l->w = w;
	l->cap = cap;
	l->ids = calloc(cap, sizeof(*l->ids));
	assert_non_null(l->ids);
}

static void on_fire(struct wheel_timer *t, void *ctx)
{
	struct log *l = ctx;
	struct item *it = sbc_container_of(t, struct item, t);
	uint64_t now = wheel_now(l->w);

	assert_false(wheel_timer_armed(t));
	assert_true(t->expires <= now);
	if (l->check_window) {
		/* Fired in the first advance that reached the deadline. */
		assert_true(t->expires > l->prev_now);
		assert_true(it->deadline <= now);
	}
	assert_true(t->expires >= l->last_exp);
	l->last_exp = t->expires;
	it->fired++;
	it->fired_at = now;
	assert_true(l->n < l->cap);
	l->ids[l->n++] = it->id;
	if (l->victim && l->victim != it) {
		assert_true(wheel_cancel(l->w, &l->victim->t));
		l->victim = NULL;
	}
	if (l->period && t->expires + l->period <= l->stop_after)
		wheel_add(l->w, t, t->expires + l->period);
	if (l->rearm_in && now < l->stop_after)
		wheel_add_in(l->w, t, l->rearm_in);
}

static size_t advance(struct log *l, uint64_t now)
{
	size_t n;

	l->prev_now = wheel_now(l->w);
	l->last_exp = 0;
	n = wheel_advance(l->w, now, on_fire, l);
	assert_int_equal(wheel_now(l->w), now > l->prev_now ? now : l->prev_now);
	return n;
}

static struct item *items_new(size_t n)
{
	struct item *v = calloc(n, sizeof(*v));

	assert_non_null(v);
	for (size_t i = 0; i < n; i++) {
		wheel_timer_init(&v[i].t, 7);
		v[i].id = (uint32_t)i;
	}
	return v;
}

static void arm(struct wheel *w, struct item *it, uint64_t deadline)
{
	it->deadline = deadline;
	wheel_add(w, &it->t, deadline);
}

/* ---- ordering -------------------------------------------------------- */

static void test_order_single_jump(void **state)
{
	enum { N = 2000 };
	uint64_t t0 = 5000;
	struct wheel *w = wheel_create(t0);
	struct item *v = items_new(N);
	struct log l;

	(void)state;
	assert_non_null(w);
	log_init(&l, w, N);
	for (size_t i = 0; i < N; i++)
		arm(w, &v[i], t0 + 1 + rnd() % 300000);  /* duplicates likely */
	assert_int_equal(wheel_pending(w), N);
	assert_int_equal(advance(&l, t0 + 300000), N);
	assert_int_equal(wheel_pending(w), 0);
	for (size_t i = 1; i < N; i++) {
		struct item *a = &v[l.ids[i - 1]], *b = &v[l.ids[i]];

		assert_true(a->deadline <= b->deadline);
		if (a->deadline == b->deadline)
			assert_true(a->id < b->id);  /* FIFO among equals */
	}
	for (size_t i = 0; i < N; i++)
		assert_int_equal(v[i].fired, 1);
	free(l.ids);
	free(v);
	wheel_destroy(w);
}

/* Same deadline armed from far away (high level) and from close (level 0). */
static void test_fifo_across_levels(void **state)
{
	struct wheel *w = wheel_create(0);
	struct item *v = items_new(4);
	struct log l;
	uint64_t dl = 1000000;

	(void)state;
	log_init(&l, w, 4);
	arm(w, &v[0], dl);              /* added at t=0 */
	assert_int_equal(advance(&l, dl - 70000), 0);
	arm(w, &v[1], dl);              /* added 70 s before */
	assert_int_equal(advance(&l, dl - 100), 0);
	arm(w, &v[2], dl);              /* 100 ms before */
	assert_int_equal(advance(&l, dl - 1), 0);
	arm(w, &v[3], dl);              /* 1 ms before */
	assert_int_equal(advance(&l, dl), 4);
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(l.ids[i], i);
	free(l.ids);
	free(v);
	wheel_destroy(w);
}

/* Stepping one ms at a time fires each timer exactly at its deadline. */
static void test_step_exact(void **state)
{
	enum { N = 500 };
	struct wheel *w = wheel_create(123);
	struct item *v = items_new(N);
	struct log l;

	(void)state;
	log_init(&l, w, N);
	l.check_window = true;
	for (size_t i = 0; i < N; i++)
		arm(w, &v[i], 124 + rnd() % 20000);
	for (uint64_t now = 124; now <= 124 + 20000; now++)
		advance(&l, now);
	for (size_t i = 0; i < N; i++) {
		assert_int_equal(v[i].fired, 1);
		assert_int_equal(v[i].fired_at, v[i].deadline);
	}
	free(l.ids);
	free(v);
	wheel_destroy(w);
}

/* ---- cancel ---------------------------------------------------------- */

static void test_cancel(void **state)
{
	enum { N = 1000 };
	struct wheel *w = wheel_create(0);
	struct item *v = items_new(N);
	struct log l;

	(void)state;
	log_init(&l, w, N);
	assert_false(wheel_cancel(w, &v[0].t));  /* never armed */
	for (size_t i = 0; i < N; i++)
		arm(w, &v[i], 1 + rnd() % (2 * HOUR_MS));
	for (size_t i = 1; i < N; i += 2)
		assert_true(wheel_cancel(w, &v[i].t));
	assert_false(wheel_cancel(w, &v[1].t));  /* already cancelled */
	assert_int_equal(wheel_pending(w), N / 2);
	assert_int_equal(advance(&l, 2 * HOUR_MS), N / 2);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(v[i].fired, (i % 2) ? 0 : 1);
	assert_int_equal(wheel_next_expiry(w), UINT64_MAX);
	free(l.ids);
	free(v);
	wheel_destroy(w);
}

/* Re-adding an armed timer moves it; the old deadline does not fire. */
static void test_readd_moves(void **state)
{
	struct wheel *w = wheel_create(0);
	struct item *v = items_new(1);
	struct log l;

	(void)state;
	log_init(&l, w, 4);
	arm(w, &v[0], 100);
	arm(w, &v[0], HOUR_MS);
	assert_int_equal(wheel_pending(w), 1);
	assert_int_equal(advance(&l, HOUR_MS - 1), 0);
	assert_int_equal(advance(&l, HOUR_MS), 1);
	arm(w, &v[0], 2 * HOUR_MS);
	arm(w, &v[0], HOUR_MS + 10);    /* earlier this time */
	assert_int_equal(advance(&l, HOUR_MS + 10), 1);
	assert_int_equal(wheel_pending(w), 0);
	free(l.ids);
	free(v);
	wheel_destroy(w);
}

static void test_cancel_from_callback(void **state)
{
	struct wheel *w = wheel_create(0);
	struct item *v = items_new(4);
	struct log l;

	(void)state;
	log_init(&l, w, 4);
	/* Same slot: 0 fires first and cancels 1, queued right behind it. */
	arm(w, &v[0], 50);
	arm(w, &v[1], 50);
	arm(w, &v[2], 60);
	l.victim = &v[1];
	assert_int_equal(advance(&l, 100), 2);
	assert_int_equal(v[1].fired, 0);
	assert_false(wheel_timer_armed(&v[1].t));
	/* Different deadline, due in the same call: 2 cancels 3. */
	arm(w, &v[2], 200);
	arm(w, &v[3], 5000);
	l.victim = &v[3];
	assert_int_equal(advance(&l, 10000), 1);
	assert_int_equal(v[3].fired, 0);
	assert_int_equal(wheel_pending(w), 0);
	free(l.ids);
	free(v);
	wheel_destroy(w);
}

/* ---- re-arm from the callback ---------------------------------------- */

/* Periodic via expires + period catches up across a jump, in order. */
static void test_rearm_periodic(void **state)
{
	struct wheel *w = wheel_create(1000);
	struct item *v = items_new(2);
	struct log l;

	(void)state;
	log_init(&l, w, 1000);
	l.period = 10;
	l.stop_after = 1000 + 5000;
	arm(w, &v[0], 1010);
	arm(w, &v[1], 1015);
	assert_int_equal(advance(&l, 1000 + 5000), 999);
	assert_int_equal(v[0].fired, 500);
	assert_int_equal(v[1].fired, 499);  /* 1015 .. 5995 */
	for (size_t i = 0; i < l.n; i++)
		assert_int_equal(l.ids[i], i % 2);  /* strictly interleaved */
	assert_int_equal(wheel_pending(w), 0);
	free(l.ids);
	free(v);
	wheel_destroy(w);
}

/* wheel_add_in from a callback counts from the advance's now: no burst. */
static void test_rearm_relative_after_stall(void **state)
{
	struct wheel *w = wheel_create(0);
	struct item *v = items_new(1);
	struct log l;

	(void)state;
	log_init(&l, w, 100);
	l.rearm_in = 500;
	l.stop_after = UINT64_MAX;
	arm(w, &v[0], 500);
	assert_int_equal(advance(&l, 500), 1);
	assert_int_equal(v[0].t.expires, 1000);
	/* Stall of 10 minutes: fires once, next deadline is now + 500. */
	assert_int_equal(advance(&l, 600500), 1);
	assert_int_equal(v[0].t.expires, 601000);
	assert_int_equal(advance(&l, 600999), 0);
	assert_int_equal(advance(&l, 601000), 1);
	wheel_cancel(w, &v[0].t);
	free(l.ids);
	free(v);
	wheel_destroy(w);
}

/* Re-arming with delay 0 cannot spin inside one advance. */
static void test_rearm_zero_terminates(void **state)
{
	struct wheel *w = wheel_create(0);
	struct item *v = items_new(1);
	struct log l;
	size_t n;

	(void)state;
	log_init(&l, w, 100);
	l.period = 0;
	arm(w, &v[0], 10);
	n = wheel_advance(w, 10, on_fire, &l);
	assert_int_equal(n, 1);
	wheel_add_in(w, &v[0].t, 0);        /* "now" = past the cursor */
	assert_int_equal(v[0].t.expires, 11);
	assert_int_equal(advance(&l, 10), 0);
	assert_int_equal(advance(&l, 11), 1);
	free(l.ids);
	free(v);
	wheel_destroy(w);
}

/* ---- long timeouts and jumps ----------------------------------------- */

static void test_long_timeouts(void **state)
{
	uint64_t t0 = 1234567890123ull;      /* arbitrary origin */
	struct wheel *w = wheel_create(t0);
	struct item *v = items_new(3);
	struct log l;

	(void)state;
	log_init(&l, w, 8);
	l.check_window = true;
	arm(w, &v[0], t0 + 4 * HOUR_MS);     /* max dialog duration */
	arm(w, &v[1], t0 + 180000);          /* Timer C */
	arm(w, &v[2], t0 + 1);
	assert_int_equal(advance(&l, t0 + 1), 1);
	/* Timer C, one millisecond at a time. */
	for (uint64_t now = t0 + 2; now < t0 + 180000; now++)
		assert_int_equal(advance(&l, now), 0);
	assert_int_equal(advance(&l, t0 + 180000), 1);
	assert_int_equal(v[1].fired_at, t0 + 180000);
	/* Four hours: coarse steps, then the last millisecond. */
	for (uint64_t now = t0 + 180000; now < t0 + 4 * HOUR_MS - 1; now += 997)
		assert_int_equal(advance(&l, now), 0);
	assert_int_equal(advance(&l, t0 + 4 * HOUR_MS - 1), 0);
	assert_int_equal(wheel_next_expiry(w), t0 + 4 * HOUR_MS);
	assert_int_equal(advance(&l, t0 + 4 * HOUR_MS), 1);
	assert_int_equal(v[0].fired_at, t0 + 4 * HOUR_MS);
	free(l.ids);
	free(v);
	wheel_destroy(w);
}

/* A 10-minute stall: one call, everything due fires in order, the rest stays. */
static void test_big_jump(void **state)
{
	enum { N = 20000 };
	uint64_t t0 = 77777;
	struct wheel *w = wheel_create(t0);
	struct item *v = items_new(N);
	struct log l;
	size_t due = 0;

	(void)state;
	log_init(&l, w, N + 1);
	l.check_window = true;
	for (size_t i = 0; i < N; i++) {
		arm(w, &v[i], t0 + 1 + rnd() % (20 * 60000));
		due += v[i].deadline <= t0 + 10 * 60000;
	}
	assert_int_equal(advance(&l, t0 + 10 * 60000), due);
	assert_int_equal(wheel_pending(w), N - due);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(v[i].fired, v[i].deadline <= t0 + 10 * 60000);
	/* The rest fire in the next jump, still each in its window. */
	assert_int_equal(advance(&l, t0 + 20 * 60000), N - due);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(v[i].fired, 1);
	/* A jump over an empty wheel costs nothing and keeps the time. */
	assert_int_equal(advance(&l, t0 + 1000 * HOUR_MS), 0);
	arm(w, &v[0], t0 + 1000 * HOUR_MS + 3);
	assert_int_equal(advance(&l, t0 + 1000 * HOUR_MS + 2), 0);
	assert_int_equal(advance(&l, t0 + 1000 * HOUR_MS + 3), 1);
	free(l.ids);
	free(v);
	wheel_destroy(w);
}

/* Deadlines straddling digit boundaries, up to the top of uint64_t. */
static void test_boundaries(void **state)
{
	static const uint64_t origins[] = {
		0, 63, 4095, (1ull << 32) - 5, (1ull << 48) - 1,
		UINT64_MAX - 3 * HOUR_MS,
	};

	(void)state;
	for (size_t o = 0; o < sizeof(origins) / sizeof(origins[0]); o++) {
		uint64_t t0 = origins[o];
		struct wheel *w = wheel_create(t0);
		struct item *v = items_new(64);
		struct log l;

		log_init(&l, w, 64);
		l.check_window = true;
		for (size_t i = 0; i < 64; i++)
			arm(w, &v[i], t0 + 1 + (rnd() % (2 * HOUR_MS)));
		for (uint64_t now = t0; now < t0 + 2 * HOUR_MS + 1; now += 1 + rnd() % 50000)
			advance(&l, now);
		advance(&l, t0 + 2 * HOUR_MS + 1);
		for (size_t i = 0; i < 64; i++)
			assert_int_equal(v[i].fired, 1);
		free(l.ids);
		free(v);
		wheel_destroy(w);
	}
}

/* ---- misc ------------------------------------------------------------ */

static void test_past_and_backwards(void **state)
{
	struct wheel *w = wheel_create(1000);
	struct item *v = items_new(1);
	struct log l;

	(void)state;
	log_init(&l, w, 4);
	arm(w, &v[0], 10);                   /* already past */
	assert_int_equal(v[0].t.expires, 1001);
	assert_int_equal(advance(&l, 1000), 0);
	assert_int_equal(advance(&l, 999), 0);   /* time going backwards */
	assert_int_equal(wheel_now(w), 1000);
	assert_int_equal(advance(&l, 1001), 1);
	free(l.ids);
	free(v);
	wheel_destroy(w);
}

static void test_next_expiry(void **state)
{
	struct wheel *w = wheel_create(100);
	struct item *v = items_new(2);

	(void)state;
	assert_int_equal(wheel_next_expiry(w), UINT64_MAX);
	arm(w, &v[0], 4 * HOUR_MS);
	assert_true(wheel_next_expiry(w) <= 4 * HOUR_MS);
	assert_true(wheel_next_expiry(w) > 100);
	arm(w, &v[1], 120);
	assert_int_equal(wheel_next_expiry(w), 120);
	wheel_cancel(w, &v[1].t);
	wheel_cancel(w, &v[0].t);
	assert_int_equal(wheel_next_expiry(w), UINT64_MAX);
	free(v);
	wheel_destroy(w);
}

/*
 * 100k timers, deadlines 1 ms .. 4 h, random steps from 1 ms to 10 min, a
 * share cancelled and re-armed on the way: each armed timer fires exactly
 * once, never early, and in the first advance that reaches its deadline.
 */
static void test_random_100k(void **state)
{
	enum { N = 100000 };
	uint64_t t0 = 42;
	uint64_t now = t0;
	uint64_t end = t0 + 4 * HOUR_MS + 1;
	struct wheel *w = wheel_create(t0);
	struct item *v = items_new(N);
	bool *dead = calloc(N, sizeof(*dead));
	struct log l;
	size_t live = N;

	(void)state;
	assert_non_null(dead);
	log_init(&l, w, 2 * N);
	l.check_window = true;
	for (size_t i = 0; i < N; i++)
		arm(w, &v[i], t0 + 1 + rnd() % (4 * HOUR_MS));
	while (now < end) {
		uint64_t r = rnd();
		uint64_t step = (r & 3) ? 1 + (r >> 8) % 1000 : 1 + (r >> 8) % 600000;

		now = now + step > end ? end : now + step;
		advance(&l, now);
		/* churn: cancel one pending, re-arm another somewhere ahead */
		for (int k = 0; k < 20; k++) {
			size_t i = rnd() % N;

			if (!wheel_timer_armed(&v[i].t))
				continue;
			if (k & 1) {
				wheel_cancel(w, &v[i].t);
				dead[i] = true;
				live--;
			} else {
				uint64_t d = now + 1 + rnd() % (4 * HOUR_MS);

				arm(w, &v[i], d < end ? d : end);
			}
		}
	}
	assert_int_equal(wheel_pending(w), 0);
	assert_int_equal(l.n, live);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(v[i].fired, dead[i] ? 0 : 1);
	free(dead);
	free(l.ids);
	free(v);
	wheel_destroy(w);
}

static void test_clock(void **state)
{
	uint64_t a = sbc_now_ms();
	uint64_t b = sbc_now_ms();
	uint64_t c = sbc_now_ms_precise();

	(void)state;
	assert_true(a > 0);
	assert_true(b >= a);
	/* coarse lags precise by at most a few ticks */
	assert_true(c + 100 >= b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_single_jump),
		cmocka_unit_test(test_fifo_across_levels),
		cmocka_unit_test(test_step_exact),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_readd_moves),
		cmocka_unit_test(test_cancel_from_callback),
		cmocka_unit_test(test_rearm_periodic),
		cmocka_unit_test(test_rearm_relative_after_stall),
		cmocka_unit_test(test_rearm_zero_terminates),
		cmocka_unit_test(test_long_timeouts),
		cmocka_unit_test(test_big_jump),
		cmocka_unit_test(test_boundaries),
		cmocka_unit_test(test_past_and_backwards),
		cmocka_unit_test(test_next_expiry),
		cmocka_unit_test(test_random_100k),
		cmocka_unit_test(test_clock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
