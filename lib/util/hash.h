/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/util/hash — keyed hashing: SipHash-2-4 and SipHash-1-3.
 *
 * Why keyed: every table indexed by peer-controlled bytes (Call-ID, Via
 * branch, tags) is hashed with a 128-bit secret so that a peer cannot
 * compute colliding keys and turn O(1) lookups into O(n) (hash flooding).
 * There is deliberately no fast unkeyed hash in this project.
 *
 * Which variant: SipHash-2-4 is the conservative PRF of the paper and the
 * default. SipHash-1-3 (as in Python and Rust's HashMap) is ~1.5x faster on
 * short inputs and still a sound flooding defence; use it where a benchmark
 * shows the hash matters.
 *
 * Ownership and threads
 *   Pure functions of (key, bytes); no global state. A key is an immutable
 *   value once set up: share it read-only between threads freely (the
 *   Call-ID shard key is read by every worker).
 *
 * Errors
 *   sbc_hash_key_random() returns 0 or a negative errno. Hash functions
 *   cannot fail.
 */
#ifndef SBC_HASH_H
#define SBC_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "sbc_defs.h"

#ifdef __cplusplus
extern "C" {
#endif

/* k0 = bytes 0..7, k1 = bytes 8..15 of the key, little-endian (the paper). */
struct sbc_hash_key {
	uint64_t k0;
	uint64_t k1;
};

/* Key from 16 bytes as the SipHash paper orders them. */
void sbc_hash_key_from_bytes(struct sbc_hash_key *k, const uint8_t bytes[16]);
/* Key from the kernel CSPRNG (getrandom). Start-up only: may block early at boot. */
int sbc_hash_key_random(struct sbc_hash_key *k) SBC_MUST_CHECK;

uint64_t sbc_siphash24(const struct sbc_hash_key *k, const void *p, size_t len);
uint64_t sbc_siphash13(const struct sbc_hash_key *k, const void *p, size_t len);

/*
 * Map a 64-bit hash onto [0, n) by multiply-shift (Lemire): (h_hi * n) >> 32.
 * No division, and unlike h % n it has no bias towards low shards for any n,
 * not just powers of two. Uses the upper 32 bits of h, which SipHash makes
 * as uniform as the lower ones. n must be >= 1.
 */
static inline uint32_t sbc_reduce(uint64_t h, uint32_t n)
{
	return (uint32_t)(((h >> 32) * (uint64_t)n) >> 32);
}

/*
 * Shard owning a Call-ID (or any routing key): the one mapping every worker,
 * and the standby after a takeover if it uses the same key and worker
 * count, must agree on.
 */
static inline uint32_t sbc_shard_of(const struct sbc_hash_key *k,
				    const void *p, size_t len, uint32_t n)
{
	return sbc_reduce(sbc_siphash24(k, p, len), n);
}

#ifdef __cplusplus
}
#endif

#endif /* SBC_HASH_H */
