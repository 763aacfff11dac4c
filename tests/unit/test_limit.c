/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/limit: token buckets and the flood-multiple rule on a fake clock,
 * the per-source table (eviction, blocking and release), CIDR parsing and
 * ACL matching at the IPv4/IPv6 edges.
 */
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

#include "limit.h"

/* ---- buckets ------------------------------------------------------------ */

static void test_rate_set(void **state)
{
	struct lim_rate r;

	lim_rate_set(&r, 0, 1, 0);
	assert_true(lim_rate_unlimited(&r));
	lim_rate_set(&r, 10, 1, 0);
	assert_int_equal(r.per_ms, 10 * 1000);          /* 10 tokens/s = 0.01/ms */
	assert_int_equal(r.burst, 10ull * LIM_UNIT);    /* one second's worth */
	lim_rate_set(&r, 10, 4, 0);                     /* split over 4 workers */
	assert_int_equal(r.per_ms, 2500);
	assert_int_equal(r.burst, 2500000ull);
	lim_rate_set(&r, 1, 8, 0);                      /* below a token: burst 1 */
	assert_int_equal(r.per_ms, 125);
	assert_int_equal(r.burst, LIM_UNIT);
	lim_rate_set(&r, 1, 256, 0);
	assert_int_equal(r.per_ms, 3);
	lim_rate_set(&r, 5, 1, 20);                     /* explicit burst */
	assert_int_equal(r.burst, 20ull * LIM_UNIT);
	lim_rate_set(&r, 1, 0, 0);                      /* share 0 means 1 */
	assert_int_equal(r.per_ms, 1000);
}

static void test_bucket_burst_then_rate(void **state)
{
	struct lim_rate r;
	struct lim_bucket b;
	unsigned ok = 0;

	lim_rate_set(&r, 10, 1, 0);
	lim_bucket_init(&b, &r, 0);
	for (int i = 0; i < 15; i++)
		ok += lim_bucket_take(&b, &r, 0);
	assert_int_equal(ok, 10);                       /* the burst */
	assert_false(lim_bucket_take(&b, &r, 99));      /* 0.99 token */
	assert_true(lim_bucket_take(&b, &r, 100));      /* 1 token after 100 ms */
	assert_false(lim_bucket_take(&b, &r, 100));
	/* one second at 10/s, one request per ms: exactly 10 pass */
	ok = 0;
	for (uint64_t t = 101; t <= 1100; t++)
		ok += lim_bucket_take(&b, &r, t);
	assert_int_equal(ok, 10);
}

static void test_bucket_caps_at_burst(void **state)
{
	struct lim_rate r;
	struct lim_bucket b;
	unsigned ok = 0;

	lim_rate_set(&r, 3, 1, 0);
	lim_bucket_init(&b, &r, 1000);
	for (int i = 0; i < 3; i++)
		assert_true(lim_bucket_take(&b, &r, 1000));
	/* an hour idle, then a huge clock value: no overflow, only the burst */
	for (int i = 0; i < 10; i++)
		ok += lim_bucket_take(&b, &r, 1000 + 3600000);
	assert_int_equal(ok, 3);
	ok = 0;
	for (int i = 0; i < 10; i++)
		ok += lim_bucket_take(&b, &r, UINT64_MAX / 2);
	assert_int_equal(ok, 3);
}

static void test_bucket_clock_backwards(void **state)
{
	struct lim_rate r;
	struct lim_bucket b;

	lim_rate_set(&r, 1, 1, 0);
	lim_bucket_init(&b, &r, 5000);
	assert_true(lim_bucket_take(&b, &r, 5000));
	assert_false(lim_bucket_take(&b, &r, 1000));    /* earlier: no refill */
	assert_false(lim_bucket_take(&b, &r, 5999));
	assert_true(lim_bucket_take(&b, &r, 6000));
}

static void test_bucket_fractional_share(void **state)
{
	struct lim_rate r;
	struct lim_bucket b;
	unsigned ok = 0;

	/* 10/s over 3 workers: 3.333/s each; 30 s give 100 (+ the burst 3) */
	lim_rate_set(&r, 10, 3, 0);
	lim_bucket_init(&b, &r, 0);
	for (uint64_t t = 0; t <= 30000; t += 7)
		ok += lim_bucket_take(&b, &r, t);
	assert_in_range(ok, 101, 103);
}

/* ---- flood multiple ------------------------------------------------------- */

static void count_verdicts(struct lim_state *s, const struct lim_rule *r, uint64_t from,
			   uint64_t to, uint64_t step, unsigned v[3])
{
	for (uint64_t t = from; t < to; t += step)
		v[lim_check(s, r, t)]++;
}

static void test_rule_three_way(void **state)
{
	struct lim_rule r;
	struct lim_state s;
	unsigned v[3] = { 0 };

	/* limit 10/s, multiple 4, a source at 200/s (20x) for 10 s */
	lim_rule_set(&r, 10, 1, 4);
	lim_state_init(&s, &r, 0);
	count_verdicts(&s, &r, 0, 10000, 5, v);
	assert_int_equal(v[LIM_PASS] + v[LIM_REJECT] + v[LIM_DROP], 2000);
	assert_in_range(v[LIM_PASS], 109, 110);        /* burst + 10 s x 10/s */
	assert_in_range(v[LIM_REJECT], 328, 330);      /* (4 - 1) x the same */
	assert_in_range(v[LIM_DROP], 2000 - 440, 2000 - 437); /* silence above 4x */
}

static void test_rule_below_limit_all_pass(void **state)
{
	struct lim_rule r;
	struct lim_state s;
	unsigned v[3] = { 0 };

	lim_rule_set(&r, 10, 1, 4);
	lim_state_init(&s, &r, 0);
	count_verdicts(&s, &r, 0, 60000, 125, v);       /* 8/s */
	assert_int_equal(v[LIM_PASS], 480);
	assert_int_equal(v[LIM_REJECT], 0);
	assert_int_equal(v[LIM_DROP], 0);
}

static void test_rule_between_limit_and_flood(void **state)
{
	struct lim_rule r;
	struct lim_state s;
	unsigned v[3] = { 0 };

	/* 30/s against 10/s x 4: nothing dropped, the excess answered */
	lim_rule_set(&r, 10, 1, 4);
	lim_state_init(&s, &r, 0);
	count_verdicts(&s, &r, 0, 10000, 33, v);
	assert_int_equal(v[LIM_DROP], 0);
	assert_in_range(v[LIM_PASS], 109, 111);
	assert_int_equal(v[LIM_PASS] + v[LIM_REJECT], 304);
}

static void test_rule_multiple_one_never_answers(void **state)
{
	struct lim_rule r;
	struct lim_state s;
	unsigned v[3] = { 0 };

	lim_rule_set(&r, 5, 1, 1);
	lim_state_init(&s, &r, 0);
	count_verdicts(&s, &r, 0, 1000, 10, v);
	assert_int_equal(v[LIM_PASS], 5 + 4);  /* burst 5 + 0.99 s at 5/s (4 whole tokens) */
	assert_int_equal(v[LIM_REJECT], 0);
	assert_true(v[LIM_DROP] > 0);
}

static void test_rule_unlimited(void **state)
{
	struct lim_rule r;
	struct lim_state s;

	lim_rule_set(&r, 0, 4, 4);
	lim_state_init(&s, &r, 0);
	for (int i = 0; i < 100000; i++)
		assert_int_equal(lim_check(&s, &r, 0), LIM_PASS);
}

static void test_rule_huge_values(void **state)
{
	struct lim_rule r;
	struct lim_state s;

	/* the largest configurable numbers must not overflow */
	lim_rule_set(&r, UINT32_MAX, 1, 1000);
	lim_state_init(&s, &r, 0);
	assert_int_equal(lim_check(&s, &r, 0), LIM_PASS);
	assert_int_equal(lim_check(&s, &r, UINT64_MAX / 4), LIM_PASS);
}

/* ---- keys ----------------------------------------------------------------- */

static union sbc_sockaddr sa4(const char *ip, uint16_t port)
{
	union sbc_sockaddr a;

	assert_int_equal(sbc_addr_from(&a, ip, strlen(ip), port), 0);
	return a;
}

static void test_key_from_sockaddr(void **state)
{
	struct lim_key a, b, c;
	union sbc_sockaddr x = sa4("192.0.2.1", 5060), y = sa4("192.0.2.1", 40000),
			   m = sa4("::ffff:192.0.2.1", 5060), v6 = sa4("2001:db8::1", 5060);

	lim_key_set(&a, &x, 1);
	lim_key_set(&b, &y, 1);
	assert_memory_equal(&a, &b, sizeof(a));        /* the port is not in the key */
	lim_key_set(&c, &m, 1);
	assert_memory_equal(&a, &c, sizeof(a));        /* v4-mapped is IPv4 */
	lim_key_set(&b, &x, 2);
	assert_memory_not_equal(&a, &b, sizeof(a));    /* per realm */
	lim_key_set(&c, &v6, 1);
	assert_int_equal(c.family, 6);
	assert_int_equal(a.family, 4);
}

/* ---- table ---------------------------------------------------------------- */

static const struct sbc_hash_key hkey = { 0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull };

static struct lim_policy policy(uint32_t rate, uint32_t multiple, uint64_t block_after_ms,
				uint64_t block_ms)
{
	struct lim_policy p;

	memset(&p, 0, sizeof(p));
	for (unsigned c = 0; c < LIM_C__COUNT; c++)
		lim_rule_set(&p.cls[c], rate, 1, multiple);
	p.block_after_ms = block_after_ms;
	p.block_ms = block_ms;
	return p;
}

static struct lim_key key_n(uint32_t n)
{
	struct lim_key k;

	memset(&k, 0, sizeof(k));
	k.family = 4;
	k.addr[0] = 10;
	k.addr[1] = (uint8_t)(n >> 16);
	k.addr[2] = (uint8_t)(n >> 8);
	k.addr[3] = (uint8_t)n;
	return k;
}

static void test_table_find_get(void **state)
{
	struct lim_table *t = lim_table_create(100, &hkey);
	struct lim_policy p = policy(10, 4, 0, 0);
	struct lim_key k = key_n(1), k2 = key_n(2);
	uint64_t h = lim_table_hash(t, &k);

	assert_non_null(t);
	assert_int_equal(lim_table_capacity(t), 128);
	assert_null(lim_table_find(t, &k, h));
	struct lim_source *s = lim_table_get(t, &k, h, &p, 5);
	assert_non_null(s);
	assert_ptr_equal(lim_table_find(t, &k, h), s);
	assert_ptr_equal(lim_table_get(t, &k, h, &p, 6), s);
	assert_int_equal(s->last_ms, 6);
	assert_int_equal(lim_table_used(t), 1);
	assert_null(lim_table_find(t, &k2, lim_table_hash(t, &k2)));
	assert_null(lim_table_create(1u << 30, &hkey));
	assert_null(lim_table_create(8, NULL));
	lim_table_destroy(t);
	lim_table_destroy(NULL);
}

/* A spoofed-source flood recycles entries: the table never fills up, the
 * recently seen source survives, the eviction count says what happened. */
static void test_table_flood_evicts_lru(void **state)
{
	struct lim_table *t = lim_table_create(64, &hkey);
	struct lim_policy p = policy(10, 4, 0, 0);
	struct lim_key good = key_n(0xffffff);
	uint64_t hg = lim_table_hash(t, &good);
	bool blocked;

	assert_non_null(t);
	/* the good source spends its burst, then the flood comes */
	struct lim_source *g = lim_table_get(t, &good, hg, &p, 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(lim_source_check(g, &p, LIM_C_INVITE, 0, &blocked), LIM_PASS);
	for (uint32_t n = 0; n < 100000; n++) {
		struct lim_key k = key_n(n);
		uint64_t now = 1 + n;   /* the LRU clock has ms resolution */
		(void)lim_table_get(t, &k, lim_table_hash(t, &k), &p, now);
		if (n % 4 == 0) /* the good source keeps talking */
			(void)lim_table_get(t, &good, hg, &p, now);
	}
	assert_int_equal(lim_table_used(t), 64);
	assert_int_equal(lim_table_evictions(t), 100000 + 1 - 64);
	g = lim_table_find(t, &good, hg);
	assert_non_null(g);
	lim_table_destroy(t);
}

static void test_table_keeps_blocked_entries(void **state)
{
	struct lim_table *t = lim_table_create(8, &hkey);   /* one set of 8 */
	struct lim_policy p = policy(1, 2, 1000, 60000);
	struct lim_key bad = key_n(7);
	uint64_t hb = lim_table_hash(t, &bad);
	struct lim_source *s;
	bool blocked = false;

	assert_non_null(t);
	s = lim_table_get(t, &bad, hb, &p, 0);
	for (uint64_t now = 0; now <= 2000 && !blocked; now += 10)
		(void)lim_source_check(s, &p, LIM_C_OTHER, now, &blocked);
	assert_true(blocked);
	/* the bad source is the least recently seen of many, yet stays */
	for (uint32_t n = 100; n < 200; n++) {
		struct lim_key k = key_n(n);
		(void)lim_table_get(t, &k, lim_table_hash(t, &k), &p, 2000 + n);
	}
	s = lim_table_find(t, &bad, hb);
	assert_non_null(s);
	assert_true(lim_source_blocked(s, &p, 3000));
	lim_table_destroy(t);
}

static void test_table_all_blocked_evicts_oldest(void **state)
{
	struct lim_table *t = lim_table_create(8, &hkey);
	struct lim_policy p = policy(1, 1, 1, 60000);
	bool blocked;

	assert_non_null(t);
	for (uint32_t n = 0; n < 8; n++) {
		struct lim_key k = key_n(n);
		struct lim_source *s = lim_table_get(t, &k, lim_table_hash(t, &k), &p, n);
		(void)lim_source_check(s, &p, LIM_C_OTHER, n, &blocked);   /* burst token */
		(void)lim_source_check(s, &p, LIM_C_OTHER, n, &blocked);   /* refused: streak */
		(void)lim_source_check(s, &p, LIM_C_OTHER, n + 1, &blocked);
		assert_true(blocked);
	}
	struct lim_key k = key_n(1000), k0 = key_n(0);
	(void)lim_table_get(t, &k, lim_table_hash(t, &k), &p, 100);
	assert_null(lim_table_find(t, &k0, lim_table_hash(t, &k0)));   /* oldest went */
	assert_int_equal(lim_table_evictions(t), 1);
	lim_table_destroy(t);
}

/* ---- blocking ------------------------------------------------------------- */

static void test_block_and_release(void **state)
{
	struct lim_table *t = lim_table_create(64, &hkey);
	struct lim_policy p = policy(5, 4, 2000, 10000);
	struct lim_key k = key_n(9);
	uint64_t h = lim_table_hash(t, &k), now, blocked_at = 0;
	struct lim_source *s = lim_table_get(t, &k, h, &p, 0);
	bool blocked = false;
	unsigned nblocks = 0;

	/* 50/s against 5/s: refused in every second; blocked after 2 s */
	for (now = 0; now < 5000; now += 20) {
		if (lim_source_blocked(s, &p, now))
			continue;
		(void)lim_source_check(s, &p, LIM_C_INVITE, now, &blocked);
		if (blocked) {
			nblocks++;
			blocked_at = now;
		}
	}
	assert_int_equal(nblocks, 1);
	assert_in_range(blocked_at, 2000, 2100);
	assert_true(lim_source_blocked(s, &p, blocked_at + 9999));
	/* released after block_ms, with full buckets and no streak */
	assert_false(lim_source_blocked(s, &p, blocked_at + 10000));
	for (int i = 0; i < 5; i++)
		assert_int_equal(lim_source_check(s, &p, LIM_C_INVITE, blocked_at + 10000, &blocked),
				 LIM_PASS);
	assert_false(blocked);
	lim_table_destroy(t);
}

static void test_block_needs_a_continuous_streak(void **state)
{
	struct lim_table *t = lim_table_create(64, &hkey);
	struct lim_policy p = policy(5, 4, 3000, 10000);
	struct lim_key k = key_n(9);
	struct lim_source *s = lim_table_get(t, &k, lim_table_hash(t, &k), &p, 0);
	bool blocked = false;

	/* a burst of 20 every 1.5 s: refused each time, but with gaps longer
	 * than a second, so the streak restarts and no block follows */
	for (uint64_t now = 0; now < 20000; now += 1500) {
		for (int i = 0; i < 20; i++) {
			(void)lim_source_check(s, &p, LIM_C_INVITE, now, &blocked);
			assert_false(blocked);
		}
	}
	assert_false(lim_source_blocked(s, &p, 20000));
	lim_table_destroy(t);
}

static void test_block_disabled(void **state)
{
	struct lim_table *t = lim_table_create(64, &hkey);
	struct lim_policy p = policy(1, 2, 0, 10000);
	struct lim_key k = key_n(9);
	struct lim_source *s = lim_table_get(t, &k, lim_table_hash(t, &k), &p, 0);
	bool blocked = false;

	for (uint64_t now = 0; now < 60000; now += 10) {
		(void)lim_source_check(s, &p, LIM_C_REGISTER, now, &blocked);
		assert_false(blocked);
	}
	lim_table_destroy(t);
}

static void test_classes_are_separate(void **state)
{
	struct lim_table *t = lim_table_create(64, &hkey);
	struct lim_policy p = policy(2, 1, 0, 0);
	struct lim_key k = key_n(3);
	struct lim_source *s = lim_table_get(t, &k, lim_table_hash(t, &k), &p, 0);
	bool b;

	lim_rule_set(&p.cls[LIM_C_OTHER], 0, 1, 1);   /* other: unlimited */
	assert_int_equal(lim_source_check(s, &p, LIM_C_INVITE, 0, &b), LIM_PASS);
	assert_int_equal(lim_source_check(s, &p, LIM_C_INVITE, 0, &b), LIM_PASS);
	assert_int_equal(lim_source_check(s, &p, LIM_C_INVITE, 0, &b), LIM_DROP);
	assert_int_equal(lim_source_check(s, &p, LIM_C_REGISTER, 0, &b), LIM_PASS);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(lim_source_check(s, &p, LIM_C_OTHER, 0, &b), LIM_PASS);
	lim_table_destroy(t);
}

/* ---- CIDR ------------------------------------------------------------------ */

static struct lim_cidr cidr(const char *s)
{
	struct lim_cidr c;
	char why[128] = "";

	if (lim_cidr_parse(s, &c, why, sizeof(why)))
		fail_msg("%s: %s", s, why);
	return c;
}

static void cidr_bad(const char *s, const char *want)
{
	struct lim_cidr c;
	char why[128] = "";

	assert_int_equal(lim_cidr_parse(s, &c, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, want);
}

static void test_cidr_parse(void **state)
{
	struct lim_cidr c;
	char txt[64];

	c = cidr("10.0.0.0/8");
	assert_int_equal(c.family, 4);
	assert_int_equal(c.len, 8);
	c = cidr("192.0.2.7");
	assert_int_equal(c.len, 32);
	c = cidr("0.0.0.0/0");
	assert_int_equal(c.len, 0);
	c = cidr("2001:db8::/32");
	assert_int_equal(c.family, 6);
	assert_int_equal(c.len, 32);
	c = cidr("::1");
	assert_int_equal(c.len, 128);
	c = cidr("::/0");
	assert_int_equal(c.len, 0);
	c = cidr("2001:DB8:0:0::/64");
	lim_cidr_format(&c, txt, sizeof(txt));
	assert_string_equal(txt, "2001:db8::/64");
	/* v4-mapped IPv6 prefixes become IPv4 rules */
	c = cidr("::ffff:10.1.0.0/112");
	assert_int_equal(c.family, 4);
	assert_int_equal(c.len, 16);
	lim_cidr_format(&c, txt, sizeof(txt));
	assert_string_equal(txt, "10.1.0.0/16");
	c = cidr("10.0.0.0/31");
	assert_int_equal(c.len, 31);
	cidr_bad("10.0.0.1/31", "has host bits set below the prefix (did you mean 10.0.0.0/31?)");
	cidr_bad("10.0.0.1/8", "has host bits set below the prefix (did you mean 10.0.0.0/8?)");
	cidr_bad("2001:db8::1/32",
		 "has host bits set below the prefix (did you mean 2001:db8::/32?)");
	cidr_bad("10.0.0.0/33", "has a prefix length above 32");
	cidr_bad("::/129", "has a prefix length above 128");
	cidr_bad("10.0.0.0/", "has no prefix length after '/' (0-32)");
	cidr_bad("10.0.0.0/1000", "has no prefix length after '/' (0-32)");
	cidr_bad("10.0.0.0/-1", "has a prefix length that is not a number (0-32)");
	cidr_bad("10.0.0.0/8/8", "has a prefix length that is not a number (0-32)");
	cidr_bad("10.0.0/8", "is not an IPv4 or IPv6 address or ADDRESS/PREFIX");
	cidr_bad("example.com", "is not an IPv4 or IPv6 address or ADDRESS/PREFIX");
	cidr_bad("[::1]/128", "is not an IPv4 or IPv6 address or ADDRESS/PREFIX");
	cidr_bad("", "is not an address or ADDRESS/PREFIX");
	cidr_bad("/8", "is not an address or ADDRESS/PREFIX");
	assert_true(lim_cidr_eq(&(struct lim_cidr){ .family = 4, .len = 8, .addr = { 10 } },
				&(struct lim_cidr){ .family = 4, .len = 8, .addr = { 10 } }));
}

/* ---- ACL ------------------------------------------------------------------- */

static struct lim_key key_ip(const char *ip)
{
	union sbc_sockaddr a = sa4(ip, 5060);
	struct lim_key k;

	lim_key_set(&k, &a, 0);
	return k;
}

static struct lim_acl *acl(const char *const *allow, size_t na, const char *const *deny, size_t nd)
{
	struct lim_cidr a[16], d[16];
	char why[128] = "";
	struct lim_acl *x;

	for (size_t i = 0; i < na; i++)
		a[i] = cidr(allow[i]);
	for (size_t i = 0; i < nd; i++)
		d[i] = cidr(deny[i]);
	x = lim_acl_create(a, na, d, nd, why, sizeof(why));
	if (!x)
		fail_msg("acl: %s", why);
	return x;
}

static bool allows(const struct lim_acl *a, const char *ip)
{
	struct lim_key k = key_ip(ip);

	return lim_acl_allows(a, &k);
}

static void test_acl_empty_allows_all(void **state)
{
	struct lim_acl *a = acl(NULL, 0, NULL, 0);

	assert_true(allows(a, "192.0.2.1"));
	assert_true(allows(a, "2001:db8::1"));
	lim_acl_destroy(a);
}

static void test_acl_deny_list(void **state)
{
	static const char *const deny[] = { "198.51.100.0/24", "2001:db8:bad::/48", "203.0.113.9" };
	struct lim_acl *a = acl(NULL, 0, deny, 3);

	assert_false(allows(a, "198.51.100.0"));     /* network address */
	assert_false(allows(a, "198.51.100.255"));   /* broadcast address */
	assert_true(allows(a, "198.51.101.0"));      /* next /24 */
	assert_true(allows(a, "198.51.99.255"));     /* previous */
	assert_false(allows(a, "203.0.113.9"));
	assert_true(allows(a, "203.0.113.8"));
	assert_true(allows(a, "203.0.113.10"));
	assert_false(allows(a, "2001:db8:bad::1"));
	assert_false(allows(a, "2001:db8:bad:ffff:ffff:ffff:ffff:ffff"));
	assert_true(allows(a, "2001:db8:bae::"));
	assert_false(allows(a, "::ffff:198.51.100.7"));  /* mapped = IPv4 */
	lim_acl_destroy(a);
}

static void test_acl_allow_list_is_whitelist(void **state)
{
	static const char *const allow[] = { "10.0.0.0/8", "2001:db8::/32" };
	struct lim_acl *a = acl(allow, 2, NULL, 0);

	assert_true(allows(a, "10.255.255.255"));
	assert_true(allows(a, "10.0.0.0"));
	assert_false(allows(a, "11.0.0.0"));
	assert_false(allows(a, "9.255.255.255"));
	assert_true(allows(a, "2001:db8:ffff::1"));
	assert_false(allows(a, "2001:db9::1"));
	assert_false(allows(a, "::1"));
	lim_acl_destroy(a);

	static const char *const allow4[] = { "10.0.0.0/8" };
	a = acl(allow4, 1, NULL, 0);
	assert_false(allows(a, "2001:db8::1"));      /* whitelist covers both families */
	lim_acl_destroy(a);
}

static void test_acl_longest_prefix_wins(void **state)
{
	static const char *const allow[] = { "10.0.0.0/8", "10.1.2.0/24", "2001:db8:0:1::/64" };
	static const char *const deny[] = { "10.1.0.0/16", "10.1.2.3", "2001:db8::/32" };
	struct lim_acl *a = acl(allow, 3, deny, 3);

	assert_true(allows(a, "10.9.9.9"));          /* /8 allow */
	assert_false(allows(a, "10.1.9.9"));         /* /16 deny beats /8 allow */
	assert_true(allows(a, "10.1.2.4"));          /* /24 allow beats /16 deny */
	assert_false(allows(a, "10.1.2.3"));         /* /32 deny beats /24 allow */
	assert_false(allows(a, "2001:db8::5"));
	assert_true(allows(a, "2001:db8:0:1::5"));
	assert_false(allows(a, "192.0.2.1"));        /* no match, whitelist */
	lim_acl_destroy(a);
}

static void test_acl_zero_and_full_prefixes(void **state)
{
	static const char *const deny_all[] = { "0.0.0.0/0", "::/0" };
	static const char *const allow_one[] = { "192.0.2.1", "::1" };
	struct lim_acl *a = acl(allow_one, 2, deny_all, 2);

	assert_true(allows(a, "192.0.2.1"));
	assert_false(allows(a, "192.0.2.0"));
	assert_false(allows(a, "192.0.2.2"));
	assert_false(allows(a, "255.255.255.255"));
	assert_false(allows(a, "0.0.0.0"));
	assert_true(allows(a, "::1"));
	assert_false(allows(a, "::2"));
	assert_false(allows(a, "::"));
	lim_acl_destroy(a);
}

static void test_acl_odd_prefix_lengths(void **state)
{
	static const char *const deny[] = { "192.0.2.128/25", "10.0.0.0/31", "2001:db8::8000/113",
					    "224.0.0.0/3" };
	struct lim_acl *a = acl(NULL, 0, deny, 4);

	assert_true(allows(a, "192.0.2.127"));
	assert_false(allows(a, "192.0.2.128"));
	assert_false(allows(a, "10.0.0.1"));
	assert_true(allows(a, "10.0.0.2"));
	assert_true(allows(a, "2001:db8::7fff"));
	assert_false(allows(a, "2001:db8::8000"));
	assert_false(allows(a, "2001:db8::ffff"));
	assert_true(allows(a, "2001:db8::1:0"));
	assert_true(allows(a, "223.255.255.255"));
	assert_false(allows(a, "224.0.0.0"));
	assert_false(allows(a, "255.255.255.255"));
	lim_acl_destroy(a);
}

static void test_acl_conflict_and_duplicates(void **state)
{
	struct lim_cidr al[2] = { cidr("10.0.0.0/8"), cidr("10.0.0.0/8") };
	struct lim_cidr de[1] = { cidr("10.0.0.0/8") };
	char why[128] = "";
	struct lim_acl *a;

	assert_null(lim_acl_create(al, 1, de, 1, why, sizeof(why)));
	assert_string_equal(why, "10.0.0.0/8 is in both allow and deny");
	a = lim_acl_create(al, 2, NULL, 0, why, sizeof(why));  /* same list twice: fine */
	assert_non_null(a);
	assert_true(allows(a, "10.1.1.1"));
	lim_acl_destroy(a);
	lim_acl_destroy(NULL);
}

static void test_acl_many_rules(void **state)
{
	struct lim_cidr *d = calloc(4096, sizeof(*d));
	char why[128], ip[32];
	struct lim_acl *a;

	assert_non_null(d);
	for (unsigned i = 0; i < 4096; i++) {
		snprintf(ip, sizeof(ip), "172.%u.%u.0/24", 16 + i / 256, i % 256);
		d[i] = cidr(ip);
	}
	a = lim_acl_create(NULL, 0, d, 4096, why, sizeof(why));
	assert_non_null(a);
	for (unsigned i = 0; i < 4096; i += 37) {
		snprintf(ip, sizeof(ip), "172.%u.%u.77", 16 + i / 256, i % 256);
		assert_false(allows(a, ip));
	}
	assert_true(allows(a, "172.32.0.1"));
	assert_true(allows(a, "172.15.255.255"));
	lim_acl_destroy(a);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate_set),
		cmocka_unit_test(test_bucket_burst_then_rate),
		cmocka_unit_test(test_bucket_caps_at_burst),
		cmocka_unit_test(test_bucket_clock_backwards),
		cmocka_unit_test(test_bucket_fractional_share),
		cmocka_unit_test(test_rule_three_way),
		cmocka_unit_test(test_rule_below_limit_all_pass),
		cmocka_unit_test(test_rule_between_limit_and_flood),
		cmocka_unit_test(test_rule_multiple_one_never_answers),
		cmocka_unit_test(test_rule_unlimited),
		cmocka_unit_test(test_rule_huge_values),
		cmocka_unit_test(test_key_from_sockaddr),
		cmocka_unit_test(test_table_find_get),
		cmocka_unit_test(test_table_flood_evicts_lru),
		cmocka_unit_test(test_table_keeps_blocked_entries),
		cmocka_unit_test(test_table_all_blocked_evicts_oldest),
		cmocka_unit_test(test_block_and_release),
		cmocka_unit_test(test_block_needs_a_continuous_streak),
		cmocka_unit_test(test_block_disabled),
		cmocka_unit_test(test_classes_are_separate),
		cmocka_unit_test(test_cidr_parse),
		cmocka_unit_test(test_acl_empty_allows_all),
		cmocka_unit_test(test_acl_deny_list),
		cmocka_unit_test(test_acl_allow_list_is_whitelist),
		cmocka_unit_test(test_acl_longest_prefix_wins),
		cmocka_unit_test(test_acl_zero_and_full_prefixes),
		cmocka_unit_test(test_acl_odd_prefix_lengths),
		cmocka_unit_test(test_acl_conflict_and_duplicates),
		cmocka_unit_test(test_acl_many_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
