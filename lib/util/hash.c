/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SipHash-c-d (Aumasson, Bernstein 2012), written from the paper's
 * description: 64-bit lanes v0..v3, little-endian 8-byte message words, a
 * final word carrying the length byte, then 0xff xored into v2 before the
 * finalisation rounds.
 */
#include "hash.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

static inline uint64_t rotl(uint64_t x, unsigned b)
{
	return (x << b) | (x >> (64u - b));
}

/* Unaligned little-endian load; memcpy compiles to one mov on x86/arm64. */
static inline uint64_t load_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

struct sip_state {
	uint64_t v0, v1, v2, v3;
};

static inline void sip_round(struct sip_state *s)
{
	s->v0 += s->v1;
	s->v1 = rotl(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = rotl(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = rotl(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = rotl(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = rotl(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = rotl(s->v2, 32);
}

static inline void sip_compress(struct sip_state *s, uint64_t m, unsigned c)
{
	s->v3 ^= m;
	for (unsigned i = 0; i < c; i++)
		sip_round(s);
	s->v0 ^= m;
}

/* Last word: the 0..7 trailing bytes, length mod 256 in the top byte. */
static inline uint64_t sip_last_word(const uint8_t *tail, size_t len)
{
	uint64_t b = (uint64_t)len << 56;

	for (size_t i = 0; i < (len & 7u); i++)
		b |= (uint64_t)tail[i] << (8u * i);
	return b;
}

static inline uint64_t siphash_cd(const struct sbc_hash_key *k,
				  const void *p, size_t len,
				  unsigned c, unsigned d)
{
	const uint8_t *in = p;
	const uint8_t *end = in + (len & ~(size_t)7u);
	struct sip_state s = {
		.v0 = k->k0 ^ 0x736f6d6570736575ull,  /* "somepseu" */
		.v1 = k->k1 ^ 0x646f72616e646f6dull,  /* "dorandom" */
		.v2 = k->k0 ^ 0x6c7967656e657261ull,  /* "lygenera" */
		.v3 = k->k1 ^ 0x7465646279746573ull,  /* "tedbytes" */
	};

	for (; in != end; in += 8)
		sip_compress(&s, load_le64(in), c);
	sip_compress(&s, sip_last_word(in, len), c);
	s.v2 ^= 0xff;
	for (unsigned i = 0; i < d; i++)
		sip_round(&s);
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

uint64_t sbc_siphash24(const struct sbc_hash_key *k, const void *p, size_t len)
{
	return siphash_cd(k, p, len, 2, 4);
}

uint64_t sbc_siphash13(const struct sbc_hash_key *k, const void *p, size_t len)
{
	return siphash_cd(k, p, len, 1, 3);
}

void sbc_hash_key_from_bytes(struct sbc_hash_key *k, const uint8_t bytes[16])
{
	k->k0 = load_le64(bytes);
	k->k1 = load_le64(bytes + 8);
}

int sbc_hash_key_random(struct sbc_hash_key *k)
{
	uint8_t buf[16];
	size_t got = 0;

	while (got < sizeof(buf)) {
		ssize_t r = getrandom(buf + got, sizeof(buf) - got, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)r;
	}
	sbc_hash_key_from_bytes(k, buf);
	return 0;
}
