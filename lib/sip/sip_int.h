/* SPDX-License-Identifier: BSD-3-Clause */
/* lib/sip private helpers: character classes shared by the parser files. */
#ifndef SBC_SIP_INT_H
#define SBC_SIP_INT_H

#include "sip.h"

/* Character classes (RFC 3261 25.1), one bit per class in one table so each
 * test is a load and a mask. */
enum {
	CC_TOKEN = 1 << 0,  /* token */
	CC_WSP = 1 << 1,    /* SP HT */
	CC_LWS = 1 << 2,    /* SP HT CR LF */
	CC_DIGIT = 1 << 3,
	CC_ALPHA = 1 << 4,
	CC_USER = 1 << 5,   /* unreserved / user-unreserved (escapes separate) */
	CC_HOST = 1 << 6,   /* alphanum - . */
	CC_WORD = 1 << 7,   /* Call-ID word */
};

extern const uint8_t sip_cc[256];

static inline int cc_is(unsigned char c, unsigned cls) { return sip_cc[c] & cls; }

static inline unsigned char ascii_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

/* Trim LWS (SP HT CR LF) on both sides. */
sip_str_t sip_trim(sip_str_t s);

/* Index of the first byte at or after i that is not LWS. */
static inline uint32_t skip_lws(const char *p, uint32_t i, uint32_t n)
{
	while (i < n && cc_is((unsigned char)p[i], CC_LWS))
		i++;
	return i;
}

static inline sip_str_t str_sub(sip_str_t s, uint32_t from, uint32_t to)
{
	return (sip_str_t){ s.p + from, to - from };
}

/* Skip a quoted string starting at p[i] == '"'. Returns the index just past
 * the closing quote, or 0 if it is unterminated. quoted-pair may escape any
 * byte but CR and LF (RFC 3261 25.1), including NUL. */
uint32_t skip_quoted(const char *p, uint32_t i, uint32_t n);

/* Case-insensitive header-name hash, one byte at a time, so the parser can
 * compute it while it scans the name. */
static inline uint32_t sip_hdr_hash_step(uint32_t h, unsigned char c)
{
	return h * 31u + (uint32_t)(c | 0x20);
}

static inline uint32_t sip_hdr_hash_slot(uint32_t h, uint32_t len)
{
	h ^= len * 0x9e3779b1u;
	return (h ^ (h >> 11)) & 255u;
}

enum sip_hdr_id sip_hdr_lookup_hashed(sip_str_t name, uint32_t hash);

#endif
