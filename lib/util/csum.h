/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * util/csum — the Internet checksum (RFC 1071) and its incremental update
 * (RFC 1624), for rewriting headers of a packet without reading its
 * payload again (the DPDK backend relays RTP in place: new addresses and
 * ports, same payload).
 *
 * Sums are over 16-bit words as they lie in memory. The one's complement
 * sum does not depend on byte order (RFC 1071 2.B), so a checksum computed
 * or updated here is stored as is, without a byte swap, on any host.
 * No allocation, no state: usable from any thread.
 */
#ifndef SBC_UTIL_CSUM_H
#define SBC_UTIL_CSUM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* 32-bit partial sum of len bytes (an odd last byte padded with zero, as
 * it lies in memory); add partial sums of spans that start at even
 * offsets of the checksummed data, then fold. */
static inline uint32_t csum_partial(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;
	uint64_t s = sum;

	for (; len >= 2; p += 2, len -= 2) {
		uint16_t w;
		memcpy(&w, p, 2);
		s += w;
	}
	if (len) {
		uint16_t w = 0;
		memcpy(&w, p, 1);
		s += w;
	}
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	return (uint32_t)s;
}

/* A partial sum folded to 16 bits (not complemented). */
static inline uint16_t csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/*
 * The checksum field `check` (as stored) of data in which the bytes `from`
 * (len bytes, len even, at an even offset of the checksummed data: an
 * address, a pair of ports) were replaced by `to`: HC' = ~(~HC + ~m + m')
 * (RFC 1624 eqn. 3, which keeps -0 and +0 apart correctly). Several spans:
 * call once per span. from and to may be the same memory only if the
 * caller saved the old bytes first (they are read before `to`).
 */
static inline uint16_t csum_replace(uint16_t check, const void *from, const void *to, size_t len)
{
	uint32_t sum = (uint16_t)~check;

	sum += (uint16_t)~csum_fold(csum_partial(from, len, 0));
	sum += csum_fold(csum_partial(to, len, 0));
	return (uint16_t)~csum_fold(sum);
}

/* A UDP checksum as sent: a computed 0 goes out as 0xffff, since 0 means
 * "no checksum" (RFC 768; over IPv6 it is invalid, RFC 8200 8.1). */
static inline uint16_t csum_udp_final(uint16_t check)
{
	return check ? check : 0xffff;
}

#endif /* SBC_UTIL_CSUM_H */
