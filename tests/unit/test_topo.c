/* SPDX-License-Identifier: BSD-3-Clause */
/* lib/topo tokens: round trip, forgery, shape, realm separation. */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "token.h"

static const uint8_t key[] = "0123456789abcdef0123456789abcdef";

static void test_round_trip(void **state)
{
	struct topo_mac *m = topo_mac_create(key, 32);
	assert_non_null(m);
	struct topo_token t = { TOPO_REG, 3, 7, 0xdeadbeef, 0xbeef }, u;
	char s[TOPO_TOKEN_LEN];
	assert_int_equal(topo_token_mint(m, &t, s), 0);
	sip_str_t v = { s, TOPO_TOKEN_LEN };
	assert_memory_equal(s, "sbc", 3);
	for (unsigned i = 3; i < TOPO_TOKEN_LEN; i++)
		assert_true((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '2' && s[i] <= '7'));
	assert_int_equal(topo_token_check(m, v, &u), 0);
	assert_int_equal(u.kind, TOPO_REG);
	assert_int_equal(u.realm, 3);
	assert_int_equal(u.shard, 7);
	assert_int_equal(u.id, 0xdeadbeef);
	assert_int_equal(u.gen, 0xbeef);
	memset(&u, 0, sizeof(u));
	assert_int_equal(topo_token_peek(v, &u), 0);
	assert_int_equal(u.shard, 7);
	topo_mac_destroy(m);
}

/* Changing any character makes it either not a token or a forgery. */
static void test_every_character_flip_is_rejected(void **state)
{
	struct topo_mac *m = topo_mac_create(key, 32);
	struct topo_token t = { TOPO_DIALOG, 0, 1, 42, 9 }, u;
	char s[TOPO_TOKEN_LEN];
	assert_int_equal(topo_token_mint(m, &t, s), 0);
	for (unsigned i = 0; i < TOPO_TOKEN_LEN; i++) {
		char c = s[i];
		s[i] = c == 'a' ? 'b' : 'a';
		int r = topo_token_check(m, (sip_str_t){ s, TOPO_TOKEN_LEN }, &u);
		assert_true(r == -EBADMSG || r == -EINVAL);
		s[i] = c;
	}
	topo_mac_destroy(m);
}

static void test_other_key_is_forgery(void **state)
{
	struct topo_mac *a = topo_mac_create(key, 32), *b = topo_mac_create(key, 31);
	struct topo_token t = { TOPO_DIALOG, 1, 0, 5, 5 }, u;
	char s[TOPO_TOKEN_LEN];
	assert_int_equal(topo_token_mint(a, &t, s), 0);
	assert_int_equal(topo_token_check(b, (sip_str_t){ s, TOPO_TOKEN_LEN }, &u), -EBADMSG);
	topo_mac_destroy(a);
	topo_mac_destroy(b);
}

static void test_realms_give_different_tokens(void **state)
{
	struct topo_mac *m = topo_mac_create(key, 32);
	struct topo_token t = { TOPO_DIALOG, 0, 0, 5, 5 };
	char s0[TOPO_TOKEN_LEN], s1[TOPO_TOKEN_LEN];
	assert_int_equal(topo_token_mint(m, &t, s0), 0);
	t.realm = 1;
	assert_int_equal(topo_token_mint(m, &t, s1), 0);
	assert_memory_not_equal(s0, s1, TOPO_TOKEN_LEN);
	topo_mac_destroy(m);
}

static void test_not_tokens(void **state)
{
	struct topo_mac *m = topo_mac_create(key, 32);
	struct topo_token u;
	static const char *const bad[] = {
		"", "alice", "sbc", "sbcaaaaaaaaaaaaaaaaaaaaaaaaaaaa0", /* '0' not base32 */
		"sbcaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" /* too long */, "SBCaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"sbcaaaaaaaaaaaaaaaaaaaaaaaaaaab", /* non-canonical tail bits */
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sip_str_t v = { bad[i], (uint32_t)strlen(bad[i]) };
		assert_int_equal(topo_token_peek(v, &u), -EINVAL);
		assert_int_equal(topo_token_check(m, v, &u), -EINVAL);
	}
	topo_mac_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_every_character_flip_is_rejected),
		cmocka_unit_test(test_other_key_is_forgery),
		cmocka_unit_test(test_realms_give_different_tokens),
		cmocka_unit_test(test_not_tokens),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
