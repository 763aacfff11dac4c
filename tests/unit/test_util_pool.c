/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "pool.h"

struct obj {
	uint64_t a;
	char name[40];
};

static void test_create_args(void **state)
{
	(void)state;
	assert_null(pool_create(0, 8, 0));
	assert_null(pool_create(8, 0, 0));
	assert_null(pool_create(8, 8, 3));        /* not a power of two */
	assert_null(pool_create(8, 8, 8192));     /* absurd alignment */
	pool_destroy(NULL);
}

static void test_exhaustion(void **state)
{
	enum { N = 100 };
	struct pool *p = pool_create(N, sizeof(struct obj), 0);
	struct obj *o[N];

	(void)state;
	assert_non_null(p);
	assert_int_equal(pool_capacity(p), N);
	for (uint32_t i = 0; i < N; i++) {
		o[i] = pool_get(p);
		assert_non_null(o[i]);
		assert_int_equal(pool_idx(p, o[i]), i);   /* fresh pool: in order */
		assert_ptr_equal(pool_at(p, i), o[i]);
		assert_true(pool_idx_in_use(p, i));
		memset(o[i], 0xa5, sizeof(*o[i]));        /* objects do not overlap */
	}
	assert_int_equal(pool_in_use(p), N);
	assert_null(pool_get(p));
	assert_null(pool_get(p));
	pool_put(p, o[42]);
	assert_false(pool_idx_in_use(p, 42));
	assert_false(pool_idx_in_use(p, N));          /* out of range */
	assert_int_equal(pool_in_use(p), N - 1);
	assert_ptr_equal(pool_get(p), o[42]);         /* LIFO: hot object back */
	for (uint32_t i = 0; i < N; i++)
		pool_put(p, o[i]);
	assert_int_equal(pool_in_use(p), 0);
	pool_destroy(p);
}

static void test_alignment(void **state)
{
	static const size_t aligns[] = { 0, 8, 16, 64, 128, 4096 };

	(void)state;
	for (size_t a = 0; a < sizeof(aligns) / sizeof(aligns[0]); a++) {
		size_t al = aligns[a] ? aligns[a] : 64;
		struct pool *p = pool_create(33, 13, aligns[a]);

		assert_non_null(p);
		for (uint32_t i = 0; i < 33; i++) {
			void *o = pool_get(p);

			assert_non_null(o);
			assert_int_equal((uintptr_t)o % al, 0);
			assert_int_equal(pool_idx(p, o), i);
		}
		pool_destroy(p);
	}
}

/* Random get/put against a model: every index handed out once at a time. */
static void test_churn(void **state)
{
	enum { N = 1000, OPS = 200000 };
	struct pool *p = pool_create(N, 24, 8);
	void *held[N];
	uint32_t nheld = 0;
	uint64_t r = 1;

	(void)state;
	for (unsigned op = 0; op < OPS; op++) {
		r = r * 6364136223846793005ull + 1442695040888963407ull;
		if ((r >> 33) % 2 == 0 || nheld == 0) {
			void *o = pool_get(p);

			if (nheld == N) {
				assert_null(o);
				continue;
			}
			assert_non_null(o);
			for (uint32_t k = 0; k < 4 && k < nheld; k++)
				assert_ptr_not_equal(o, held[nheld - 1 - k]);
			held[nheld++] = o;
		} else {
			uint32_t k = (uint32_t)((r >> 40) % nheld);

			pool_put(p, held[k]);
			held[k] = held[--nheld];
		}
		assert_int_equal(pool_in_use(p), nheld);
	}
	for (uint32_t k = 0; k < nheld; k++)
		assert_true(pool_idx_in_use(p, pool_idx(p, held[k])));
	pool_destroy(p);
}

/*
 * Double put: debug builds assert (checked in a child, which must die by
 * SIGABRT); release builds ignore the second put and stay consistent.
 */
static void test_double_put(void **state)
{
	struct pool *p = pool_create(4, 16, 0);
	void *a = pool_get(p);
	void *b = pool_get(p);

	(void)state;
	pool_put(p, a);
#ifdef NDEBUG
	pool_put(p, a);
	assert_int_equal(pool_in_use(p), 1);
	assert_non_null(pool_get(p));
	assert_non_null(pool_get(p));
	assert_non_null(pool_get(p));
	assert_null(pool_get(p));
#else
	{
		pid_t pid = fork();
		int status = 0;

		assert_true(pid >= 0);
		if (pid == 0) {
			/* keep the expected abort quiet in the test log */
			if (!freopen("/dev/null", "w", stderr))
				_exit(3);
			pool_put(p, a);
			_exit(0);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));
		assert_int_equal(WTERMSIG(status), SIGABRT);
	}
#endif
	pool_put(p, b);
	pool_destroy(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_args),
		cmocka_unit_test(test_exhaustion),
		cmocka_unit_test(test_alignment),
		cmocka_unit_test(test_churn),
		cmocka_unit_test(test_double_put),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
