/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * util/csum: the Internet checksum and its incremental update, against
 * the RFC examples and against a full recomputation by an independent
 * reference (big-endian words assembled byte by byte, RFC 768 pseudo-
 * header for IPv4, RFC 8200 8.1 for IPv6) over random UDP datagrams whose
 * addresses and ports are rewritten, as the DPDK backend does when it
 * relays RTP in place.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "csum.h"

/* ---- the reference: byte by byte, big-endian, no shortcuts ---------------- */

static uint32_t ref_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i += 2)
		sum += (uint32_t)(p[i] << 8) | (i + 1 < len ? p[i + 1] : 0u);
	return sum;
}

static uint16_t ref_final(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* A UDP datagram: addresses (4 or 16 bytes each), then the UDP header and
 * payload in udp[0..ulen). Returns the checksum as a host-order number. */
static uint16_t ref_udp(const uint8_t *src, const uint8_t *dst, size_t alen, const uint8_t *udp,
			size_t ulen)
{
	uint32_t sum = 0;

	sum = ref_add(sum, src, alen);
	sum = ref_add(sum, dst, alen);
	sum += 17; /* protocol (IPv4: 0, 17; IPv6: 3 zero bytes, 17) */
	sum += (uint32_t)ulen; /* IPv4: 16 bits; IPv6: 32 bits, < 65536 here */
	sum = ref_add(sum, udp, 6);  /* ports and length; the checksum field is 0 */
	sum = ref_add(sum, udp + 8, ulen - 8);
	uint16_t c = ref_final(sum);
	return c ? c : 0xffff;
}

/* ---- deterministic random bytes ------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static void rnd_fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

static uint16_t load16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

static void store16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

/* ---- tests ------------------------------------------------------------------ */

/* RFC 1071 section 3: the sum of 00 01 f2 03 f4 f5 f6 f7 is dd f2 (as
 * bytes in memory, whatever the host's order). */
static void test_rfc1071_example(void **state)
{
	static const uint8_t data[8] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	uint8_t out[2];

	(void)state;
	store16(out, csum_fold(csum_partial(data, sizeof data, 0)));
	assert_int_equal(out[0], 0xdd);
	assert_int_equal(out[1], 0xf2);
	/* split at an even offset: the partial sums add */
	store16(out, csum_fold(csum_partial(data + 4, 4, csum_partial(data, 4, 0))));
	assert_int_equal(out[0], 0xdd);
	assert_int_equal(out[1], 0xf2);
	/* an odd length: the last byte is padded with zero */
	store16(out, csum_fold(csum_partial(data, 3, 0)));
	assert_int_equal(out[0], 0xf2);
	assert_int_equal(out[1], 0x01);
}

/* RFC 1624 section 4: checksum dd 2f, a field 55 55 becomes 32 85: eqn. 3
 * gives 00 00 (eqn. 2 would give ff ff, the -0 the RFC warns about). */
static void test_rfc1624_example(void **state)
{
	static const uint8_t hc[2] = { 0xdd, 0x2f }, m[2] = { 0x55, 0x55 }, m2[2] = { 0x32, 0x85 };
	uint8_t out[2];

	(void)state;
	store16(out, csum_replace(load16(hc), m, m2, 2));
	assert_int_equal(out[0], 0x00);
	assert_int_equal(out[1], 0x00);
	assert_int_equal(csum_udp_final(0), 0xffff);
	assert_int_equal(csum_udp_final(0x1234), 0x1234);
}

/* Rewrite the addresses and ports of random UDP datagrams (IPv4 and IPv6
 * pseudo-headers, payload lengths 0..400, odd ones included) and compare
 * the incrementally updated checksum with a full recomputation. */
static void check_rewrites(size_t alen)
{
	uint8_t src[16], dst[16], nsrc[16], ndst[16], udp[8 + 400];

	for (int it = 0; it < 4000; it++) {
		size_t plen = rnd() % 401, ulen = 8 + plen;
		uint8_t before[4], after[4], want[2], got[2];
		uint16_t c;

		rnd_fill(src, alen);
		rnd_fill(dst, alen);
		rnd_fill(udp, ulen);
		if (it % 7 == 0) /* runs of 0x00 and 0xff: the -0/+0 corners */
			memset(udp + 8, it % 14 ? 0xff : 0x00, plen);
		udp[4] = (uint8_t)(ulen >> 8);
		udp[5] = (uint8_t)ulen;
		c = ref_udp(src, dst, alen, udp, ulen);
		udp[6] = (uint8_t)(c >> 8);
		udp[7] = (uint8_t)c;

		/* new addresses and ports, some unchanged */
		memcpy(nsrc, src, alen);
		memcpy(ndst, dst, alen);
		if (it % 3)
			rnd_fill(nsrc, alen);
		if (it % 5)
			rnd_fill(ndst, alen);
		memcpy(before, udp, 4);
		rnd_fill(after, it % 11 ? 4 : 2);
		if (it % 11 == 0)
			memcpy(after + 2, before + 2, 2);

		c = load16(udp + 6);
		c = csum_replace(c, src, nsrc, alen);
		c = csum_replace(c, dst, ndst, alen);
		c = csum_replace(c, before, after, 4);
		store16(got, csum_udp_final(c));

		memcpy(udp, after, 4);
		c = ref_udp(nsrc, ndst, alen, udp, ulen);
		want[0] = (uint8_t)(c >> 8);
		want[1] = (uint8_t)c;
		if (memcmp(got, want, 2)) {
			fprintf(stderr, "iteration %d (alen %zu, payload %zu): got %02x%02x, want %02x%02x\n",
				it, alen, plen, got[0], got[1], want[0], want[1]);
			fail();
		}
	}
}

static void test_rewrite_ipv4(void **state)
{
	(void)state;
	check_rewrites(4);
}

static void test_rewrite_ipv6(void **state)
{
	(void)state;
	check_rewrites(16);
}

/* The full sum through csum_partial agrees with the reference, and a
 * datagram with its checksum in place sums to all ones (how a receiver
 * verifies it). */
static void test_partial_matches_reference(void **state)
{
	uint8_t src[4], dst[4], udp[8 + 300], ph[12];

	(void)state;
	for (int it = 0; it < 1000; it++) {
		size_t ulen = 8 + rnd() % 301;
		uint16_t c;
		uint32_t sum;

		rnd_fill(src, 4);
		rnd_fill(dst, 4);
		rnd_fill(udp, ulen);
		udp[4] = (uint8_t)(ulen >> 8);
		udp[5] = (uint8_t)ulen;
		c = ref_udp(src, dst, 4, udp, ulen);
		udp[6] = (uint8_t)(c >> 8);
		udp[7] = (uint8_t)c;
		memcpy(ph, src, 4);
		memcpy(ph + 4, dst, 4);
		ph[8] = 0;
		ph[9] = 17;
		ph[10] = udp[4];
		ph[11] = udp[5];
		sum = csum_partial(udp, ulen, csum_partial(ph, sizeof ph, 0));
		assert_int_equal(csum_fold(sum), 0xffff);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc1071_example),
		cmocka_unit_test(test_rfc1624_example),
		cmocka_unit_test(test_rewrite_ipv4),
		cmocka_unit_test(test_rewrite_ipv6),
		cmocka_unit_test(test_partial_matches_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
