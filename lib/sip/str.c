/* SPDX-License-Identifier: BSD-3-Clause */
/* Tables (errors, methods, headers, character classes) and view helpers. */
#include <string.h>

#include "sip_int.h"

#define T CC_TOKEN
#define U CC_USER
#define H CC_HOST
#define W CC_WORD
#define D (CC_DIGIT | CC_TOKEN | CC_USER | CC_HOST | CC_WORD)
#define A (CC_ALPHA | CC_TOKEN | CC_USER | CC_HOST | CC_WORD)

/* token: alphanum - . ! % * _ + ` ' ~
 * user (unreserved + user-unreserved): alphanum - _ . ! ~ * ' ( ) & = + $ , ; ? /
 * word (Call-ID): alphanum - . ! % * _ + ` ' ~ ( ) < > : \ " / [ ] ? { }  */
const uint8_t sip_cc[256] = {
	['\t'] = CC_WSP | CC_LWS, [' '] = CC_WSP | CC_LWS,
	['\r'] = CC_LWS, ['\n'] = CC_LWS,
	['!'] = T | U | W, ['"'] = W, ['$'] = U, ['%'] = T | W, ['&'] = U,
	['\''] = T | U | W, ['('] = U | W, [')'] = U | W, ['*'] = T | U | W,
	['+'] = T | U | W, [','] = U, ['-'] = T | U | H | W, ['.'] = T | U | H | W,
	['/'] = U | W, [':'] = W, [';'] = U, ['<'] = W, ['='] = U, ['>'] = W,
	['?'] = U | W, ['['] = W, ['\\'] = W, [']'] = W, ['_'] = T | U | W,
	['`'] = T | W, ['{'] = W, ['}'] = W, ['~'] = T | U | W,
	['0'] = D, ['1'] = D, ['2'] = D, ['3'] = D, ['4'] = D,
	['5'] = D, ['6'] = D, ['7'] = D, ['8'] = D, ['9'] = D,
	['A'] = A, ['B'] = A, ['C'] = A, ['D'] = A, ['E'] = A, ['F'] = A, ['G'] = A,
	['H'] = A, ['I'] = A, ['J'] = A, ['K'] = A, ['L'] = A, ['M'] = A, ['N'] = A,
	['O'] = A, ['P'] = A, ['Q'] = A, ['R'] = A, ['S'] = A, ['T'] = A, ['U'] = A,
	['V'] = A, ['W'] = A, ['X'] = A, ['Y'] = A, ['Z'] = A,
	['a'] = A, ['b'] = A, ['c'] = A, ['d'] = A, ['e'] = A, ['f'] = A, ['g'] = A,
	['h'] = A, ['i'] = A, ['j'] = A, ['k'] = A, ['l'] = A, ['m'] = A, ['n'] = A,
	['o'] = A, ['p'] = A, ['q'] = A, ['r'] = A, ['s'] = A, ['t'] = A, ['u'] = A,
	['v'] = A, ['w'] = A, ['x'] = A, ['y'] = A, ['z'] = A,
};

#undef T
#undef U
#undef H
#undef W
#undef D
#undef A

bool sip_str_eq(sip_str_t a, sip_str_t b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

bool sip_str_caseeq(sip_str_t a, sip_str_t b)
{
	if (a.len != b.len)
		return false;
	for (uint32_t i = 0; i < a.len; i++)
		if (ascii_lower((unsigned char)a.p[i]) != ascii_lower((unsigned char)b.p[i]))
			return false;
	return true;
}

bool sip_str_caseeq_lit(sip_str_t a, const char *lit)
{
	return sip_str_caseeq(a, (sip_str_t){ lit, (uint32_t)strlen(lit) });
}

sip_str_t sip_trim(sip_str_t s)
{
	uint32_t b = 0, e = s.len;
	while (b < e && cc_is((unsigned char)s.p[b], CC_LWS))
		b++;
	while (e > b && cc_is((unsigned char)s.p[e - 1], CC_LWS))
		e--;
	return (sip_str_t){ s.p + b, e - b };
}

uint32_t skip_quoted(const char *p, uint32_t i, uint32_t n)
{
	for (i++; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '"')
			return i + 1;
		if (c == '\\') {
			if (i + 1 >= n || p[i + 1] == '\r' || p[i + 1] == '\n')
				return 0;
			i++;
		}
	}
	return 0;
}

/* ---- errors ----------------------------------------------------------- */
static const struct {
	uint16_t status;
	const char *reason;
	const char *name;
} err_tab[SIP_E__COUNT] = {
#define SIP_ERR_ROW(name, code, reason) [SIP_E_##name] = { code, reason, #name },
	SIP_ERRORS(SIP_ERR_ROW)
#undef SIP_ERR_ROW
};

uint16_t sip_err_status(enum sip_err e)
{
	return (unsigned)e < SIP_E__COUNT ? err_tab[e].status : 0;
}

const char *sip_err_reason(enum sip_err e)
{
	return (unsigned)e < SIP_E__COUNT ? err_tab[e].reason : "Unknown error";
}

const char *sip_err_name(enum sip_err e)
{
	return (unsigned)e < SIP_E__COUNT ? err_tab[e].name : "UNKNOWN";
}

/* ---- methods ---------------------------------------------------------- */
static const char *const method_tab[SIP_M__COUNT] = {
	[SIP_M_UNKNOWN] = "UNKNOWN",
#define SIP_M_ROW(n) [SIP_M_##n] = #n,
	SIP_METHODS(SIP_M_ROW)
#undef SIP_M_ROW
};

const char *sip_method_name(enum sip_method m)
{
	return (unsigned)m < SIP_M__COUNT ? method_tab[m] : "UNKNOWN";
}

/* Methods are case-sensitive (RFC 3261 7.1). Dispatch on the first byte so
 * a lookup is one or two memcmp calls. */
enum sip_method sip_method_from(sip_str_t s)
{
	if (s.len < 3 || s.len > 9)
		return SIP_M_UNKNOWN;
#define M_IS(lit, id) \
	if (s.len == sizeof(lit) - 1 && memcmp(s.p, lit, sizeof(lit) - 1) == 0) \
		return id;
	switch (s.p[0]) {
	case 'I': M_IS("INVITE", SIP_M_INVITE) M_IS("INFO", SIP_M_INFO) break;
	case 'A': M_IS("ACK", SIP_M_ACK) break;
	case 'B': M_IS("BYE", SIP_M_BYE) break;
	case 'C': M_IS("CANCEL", SIP_M_CANCEL) break;
	case 'R': M_IS("REGISTER", SIP_M_REGISTER) M_IS("REFER", SIP_M_REFER) break;
	case 'O': M_IS("OPTIONS", SIP_M_OPTIONS) break;
	case 'P': M_IS("PRACK", SIP_M_PRACK) M_IS("PUBLISH", SIP_M_PUBLISH) break;
	case 'S': M_IS("SUBSCRIBE", SIP_M_SUBSCRIBE) break;
	case 'N': M_IS("NOTIFY", SIP_M_NOTIFY) break;
	case 'M': M_IS("MESSAGE", SIP_M_MESSAGE) break;
	case 'U': M_IS("UPDATE", SIP_M_UPDATE) break;
	default: break;
	}
#undef M_IS
	return SIP_M_UNKNOWN;
}

/* ---- headers ---------------------------------------------------------- */
static const struct {
	const char *name;
	uint8_t len;
	char compact;
} hdr_tab[SIP_H__COUNT] = {
	[SIP_H_OTHER] = { NULL, 0, 0 },
#define SIP_H_ROW(id, name, compact) [SIP_H_##id] = { name, sizeof(name) - 1, compact },
	SIP_HEADERS(SIP_H_ROW)
#undef SIP_H_ROW
};

const char *sip_hdr_name(enum sip_hdr_id id)
{
	return (unsigned)id < SIP_H__COUNT ? hdr_tab[id].name : NULL;
}

/* Open-addressed table of the well-known names, hashed case-insensitively.
 * Built once at load time and read-only afterwards, so workers share it
 * without synchronisation. 256 slots for ~60 names keeps probes short.
 * The parser computes the hash while it scans the name (sip_hdr_hash_step)
 * so a lookup costs one probe and one compare: this took header indexing
 * of a 17-header INVITE from ~570 to ~330 ns. */
#define HDR_SLOTS 256u
static uint8_t hdr_slot[HDR_SLOTS];
static uint8_t hdr_compact[26];
static char hdr_lower[SIP_H__COUNT][32];

static inline uint32_t hdr_hash(const char *p, uint32_t n)
{
	uint32_t h = 0;
	for (uint32_t i = 0; i < n; i++)
		h = sip_hdr_hash_step(h, (unsigned char)p[i]);
	return h;
}

__attribute__((constructor)) static void hdr_table_init(void)
{
	for (unsigned id = 1; id < SIP_H__COUNT; id++) {
		uint32_t s = sip_hdr_hash_slot(hdr_hash(hdr_tab[id].name, hdr_tab[id].len), hdr_tab[id].len);
		while (hdr_slot[s])
			s = (s + 1) & (HDR_SLOTS - 1);
		hdr_slot[s] = (uint8_t)id;
		for (unsigned k = 0; k < hdr_tab[id].len; k++)
			hdr_lower[id][k] = (char)ascii_lower((unsigned char)hdr_tab[id].name[k]);
		if (hdr_tab[id].compact)
			hdr_compact[hdr_tab[id].compact - 'a'] = (uint8_t)id;
	}
}

/* Header names are tokens; for token bytes, c | 0x20 equals the lowercase
 * letter for letters and leaves '-', digits and '.' unchanged, and no other
 * token byte maps onto a letter, '-' or a digit. */
static inline bool name_matches(const char *p, uint32_t n, const char *lower)
{
	for (uint32_t i = 0; i < n; i++)
		if ((char)(p[i] | 0x20) != lower[i])
			return false;
	return true;
}

enum sip_hdr_id sip_hdr_lookup_hashed(sip_str_t name, uint32_t h)
{
	if (name.len == 1) {
		unsigned char c = ascii_lower((unsigned char)name.p[0]);
		return (c >= 'a' && c <= 'z') ? (enum sip_hdr_id)hdr_compact[c - 'a'] : SIP_H_OTHER;
	}
	if (name.len == 0 || name.len >= 32)
		return SIP_H_OTHER;
	for (uint32_t s = sip_hdr_hash_slot(h, name.len);; s = (s + 1) & (HDR_SLOTS - 1)) {
		uint8_t id = hdr_slot[s];
		if (!id)
			return SIP_H_OTHER;
		if (hdr_tab[id].len == name.len && name_matches(name.p, name.len, hdr_lower[id]))
			return (enum sip_hdr_id)id;
	}
}

enum sip_hdr_id sip_hdr_lookup(sip_str_t name)
{
	for (uint32_t i = 0; i < name.len; i++)
		if (!cc_is((unsigned char)name.p[i], CC_TOKEN))
			return SIP_H_OTHER;
	return sip_hdr_lookup_hashed(name, hdr_hash(name.p, name.len));
}
