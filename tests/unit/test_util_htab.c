/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "htab.h"

/* The owner objects: key bytes live here, the table holds indices. */
struct keys {
	char (*s)[32];
	size_t *len;
	unsigned n;
	unsigned eq_calls;
};

static struct keys *keys_new(unsigned n)
{
	struct keys *k = calloc(1, sizeof(*k));

	assert_non_null(k);
	k->s = calloc(n, sizeof(*k->s));
	k->len = calloc(n, sizeof(*k->len));
	assert_non_null(k->s);
	assert_non_null(k->len);
	k->n = n;
	for (unsigned i = 0; i < n; i++)
		k->len[i] = (size_t)snprintf(k->s[i], sizeof(k->s[i]),
					     "%x-%u@host.example", i * 2654435761u, i);
	return k;
}

static void keys_free(struct keys *k)
{
	free(k->s);
	free(k->len);
	free(k);
}

static bool key_eq(void *ctx, uint32_t val, const void *key, size_t len)
{
	struct keys *k = ctx;

	k->eq_calls++;
	assert_true(val < k->n);
	return k->len[val] == len && memcmp(k->s[val], key, len) == 0;
}

static struct sbc_hash_key test_key(void)
{
	struct sbc_hash_key hk = { 0x0123456789abcdefull, 0xfedcba9876543210ull };

	return hk;
}

static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void test_create_args(void **state)
{
	struct sbc_hash_key hk = test_key();

	(void)state;
	assert_null(htab_create(0, &hk, key_eq, NULL));
	assert_null(htab_create(HTAB_MAX_ENTRIES + 1, &hk, key_eq, NULL));
	assert_null(htab_create(10, NULL, key_eq, NULL));
	assert_null(htab_create(10, &hk, NULL, NULL));
	htab_destroy(NULL);
}

static void test_basic(void **state)
{
	struct sbc_hash_key hk = test_key();
	struct keys *k = keys_new(4);
	struct htab *t = htab_create(4, &hk, key_eq, k);

	(void)state;
	assert_non_null(t);
	assert_int_equal(htab_find(t, k->s[0], k->len[0]), HTAB_NONE);
	assert_int_equal(htab_insert(t, k->s[0], k->len[0], 0), 0);
	assert_int_equal(htab_insert(t, k->s[1], k->len[1], 1), 0);
	assert_int_equal(htab_insert(t, k->s[0], k->len[0], 0), -EEXIST);
	assert_int_equal(htab_insert(t, k->s[2], k->len[2], HTAB_NONE), -EINVAL);
	assert_int_equal(htab_count(t), 2);
	assert_int_equal(htab_find(t, k->s[0], k->len[0]), 0);
	assert_int_equal(htab_find(t, k->s[1], k->len[1]), 1);
	/* a prefix of a key is another key */
	assert_int_equal(htab_find(t, k->s[1], k->len[1] - 1), HTAB_NONE);
	assert_int_equal(htab_remove(t, k->s[0], k->len[0]), 0);
	assert_int_equal(htab_remove(t, k->s[0], k->len[0]), -ENOENT);
	assert_int_equal(htab_find(t, k->s[0], k->len[0]), HTAB_NONE);
	assert_int_equal(htab_find(t, k->s[1], k->len[1]), 1);
	assert_int_equal(htab_count(t), 1);
	assert_int_equal(htab_max_entries(t), 4);
	htab_destroy(t);
	keys_free(k);
}

static void test_capacity(void **state)
{
	enum { MAX = 1000 };
	struct sbc_hash_key hk = test_key();
	struct keys *k = keys_new(MAX + 1);
	struct htab *t = htab_create(MAX, &hk, key_eq, k);

	(void)state;
	for (uint32_t i = 0; i < MAX; i++)
		assert_int_equal(htab_insert(t, k->s[i], k->len[i], i), 0);
	assert_int_equal(htab_insert(t, k->s[MAX], k->len[MAX], MAX), -ENOSPC);
	assert_int_equal(htab_insert(t, k->s[5], k->len[5], 5), -EEXIST);
	assert_int_equal(htab_remove(t, k->s[7], k->len[7]), 0);
	assert_int_equal(htab_insert(t, k->s[MAX], k->len[MAX], MAX), 0);
	assert_int_equal(htab_count(t), MAX);
	htab_destroy(t);
	keys_free(k);
}

/* 100k real keys: insert, delete a random half, check all, re-insert, walk. */
static void test_many_keys(void **state)
{
	enum { N = 100000 };
	struct sbc_hash_key hk = test_key();
	struct keys *k = keys_new(N);
	struct htab *t = htab_create(N, &hk, key_eq, k);
	bool *in = calloc(N, sizeof(*in));
	uint32_t cursor = 0, v, walked = 0;

	(void)state;
	assert_non_null(t);
	assert_non_null(in);
	for (uint32_t i = 0; i < N; i++) {
		assert_int_equal(htab_insert(t, k->s[i], k->len[i], i), 0);
		in[i] = true;
	}
	k->eq_calls = 0;
	for (uint32_t i = 0; i < N; i++)
		assert_int_equal(htab_find(t, k->s[i], k->len[i]), i);
	/* The 32-bit tag filters: eq runs about once per hit. */
	assert_true(k->eq_calls < N + N / 100);
	for (uint32_t n = 0; n < N / 2; n++) {
		uint32_t i = (uint32_t)(rnd() % N);

		assert_int_equal(htab_remove(t, k->s[i], k->len[i]), in[i] ? 0 : -ENOENT);
		in[i] = false;
	}
	for (uint32_t i = 0; i < N; i++)
		assert_int_equal(htab_find(t, k->s[i], k->len[i]), in[i] ? i : HTAB_NONE);
	for (uint32_t i = 0; i < N; i++) {
		if (!in[i]) {
			uint64_t h = htab_hash(t, k->s[i], k->len[i]);

			assert_int_equal(htab_find_h(t, h, k->s[i], k->len[i]), HTAB_NONE);
			assert_int_equal(htab_insert_h(t, h, k->s[i], k->len[i], i), 0);
			in[i] = true;
		}
	}
	assert_int_equal(htab_count(t), N);
	memset(in, 0, N * sizeof(*in));
	while ((v = htab_next(t, &cursor)) != HTAB_NONE) {
		assert_true(v < N);
		assert_false(in[v]);
		in[v] = true;
		walked++;
	}
	assert_int_equal(walked, N);
	assert_int_equal(htab_next(t, &cursor), HTAB_NONE);
	free(in);
	htab_destroy(t);
	keys_free(k);
}

/*
 * Deletion inside long probe chains. Hashes are forged so that homes fall
 * on a handful of slots around the end of the array (chains wrap past slot
 * 0 and interleave), and some keys share the whole 32-bit tag (eq has to
 * decide). A brute-force model checks every key after every operation.
 */
static uint64_t forged_hash(uint32_t i, uint32_t mask)
{
	static const uint32_t homes[] = { 0, 1, 3, 250, 252, 253, 255 };
	uint32_t home = homes[i % 7u] & mask;
	uint32_t upper = (i % 5 == 0) ? 0xabcd00u : (i * 0x9e3779b9u);

	/* tag = upper bits | home; home = tag & mask */
	return (uint64_t)((upper & ~mask) | home) << 32 | i;
}

static void test_deletion_chains(void **state)
{
	enum { K = 120, MAX = 128, OPS = 20000 };
	struct sbc_hash_key hk = test_key();
	struct keys *k = keys_new(K);
	struct htab *t = htab_create(MAX, &hk, key_eq, k);  /* 256 slots */
	const uint32_t mask = 255;
	bool in[K] = { false };
	uint32_t count = 0;

	(void)state;
	for (unsigned op = 0; op < OPS; op++) {
		uint32_t i = (uint32_t)(rnd() % K);
		uint64_t h = forged_hash(i, mask);
		unsigned kind = (unsigned)(rnd() % 3);

		if (kind == 0) {
			int r = htab_insert_h(t, h, k->s[i], k->len[i], i);

			assert_int_equal(r, in[i] ? -EEXIST : 0);
			count += !in[i];
			in[i] = true;
		} else if (kind == 1) {
			int r = htab_remove_h(t, h, k->s[i], k->len[i]);

			assert_int_equal(r, in[i] ? 0 : -ENOENT);
			count -= in[i];
			in[i] = false;
		} else {
			int r = htab_remove_val(t, h, i);

			assert_int_equal(r, in[i] ? 0 : -ENOENT);
			count -= in[i];
			in[i] = false;
		}
		assert_int_equal(htab_count(t), count);
		for (uint32_t j = 0; j < K; j++) {
			uint32_t got = htab_find_h(t, forged_hash(j, mask),
						   k->s[j], k->len[j]);

			if (got != (in[j] ? j : HTAB_NONE))
				fail_msg("op %u: key %u expected %s", op, j,
					 in[j] ? "present" : "absent");
		}
	}
	htab_destroy(t);
	keys_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_args),
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_many_keys),
		cmocka_unit_test(test_deletion_chains),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
