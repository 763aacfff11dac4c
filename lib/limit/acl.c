/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CIDR access lists: longest-prefix match by one binary search per prefix
 * length present (rules sorted by length, longest first, then address as
 * a 128-bit integer). Typical lists have a handful of lengths, so a lookup
 * is a few dozen integer compares; the structure is immutable and built at
 * start-up.
 */
#include "limit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Addresses as 128-bit integers (IPv4 in the top 32 bits): masking and
 * ordering are a few integer operations, no byte loops. */
struct u128 {
	uint64_t hi, lo;
};

struct acl_rule {
	struct u128 net;                   /* network address */
	uint8_t len;
	uint8_t deny;
};

struct acl_group {
	uint32_t start, count;
	uint8_t len;
};

struct acl_fam {
	struct acl_rule *r;
	uint32_t n;
	uint32_t ngroups;
	struct acl_group g[129];
};

struct lim_acl {
	struct acl_fam fam[2];   /* IPv4, IPv6 */
	bool whitelist;          /* allow list non-empty: default deny */
};

static unsigned fam_bytes(uint8_t family)
{
	return family == 4 ? 4 : 16;
}

static void mask_to(uint8_t *out, const uint8_t *addr, unsigned len, unsigned nbytes)
{
	for (unsigned i = 0; i < nbytes; i++) {
		unsigned bits = len > i * 8 ? len - i * 8 : 0;
		uint8_t m = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
		out[i] = addr[i] & m;
	}
	for (unsigned i = nbytes; i < 16; i++)
		out[i] = 0;
}

/* ---- CIDR text ---------------------------------------------------------- */

/* ::ffff:0:0/96, bytewise (the bytes need not be aligned for in6_addr) */
static bool is_v4mapped(const uint8_t *a)
{
	static const uint8_t pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return !memcmp(a, pfx, sizeof(pfx));
}

int lim_cidr_parse(const char *s, struct lim_cidr *out, char *why, size_t cap)
{
	char buf[64], masked_txt[64];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	struct lim_cidr c;
	uint8_t masked[16];
	unsigned max, len;

	memset(&c, 0, sizeof(c));
	if (!alen || alen >= sizeof(buf)) {
		snprintf(why, cap, "is not an address or ADDRESS/PREFIX");
		return -EINVAL;
	}
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (inet_pton(AF_INET, buf, c.addr) == 1) {
		c.family = 4;
	} else if (inet_pton(AF_INET6, buf, c.addr) == 1) {
		c.family = 6;
	} else {
		snprintf(why, cap, "is not an IPv4 or IPv6 address or ADDRESS/PREFIX");
		return -EINVAL;
	}
	max = c.family == 4 ? 32 : 128;
	len = max;
	if (slash) {
		const char *p = slash + 1;
		if (!*p || strlen(p) > 3) {
			snprintf(why, cap, "has no prefix length after '/' (0-%u)", max);
			return -EINVAL;
		}
		len = 0;
		for (; *p; p++) {
			if (*p < '0' || *p > '9') {
				snprintf(why, cap, "has a prefix length that is not a number (0-%u)", max);
				return -EINVAL;
			}
			len = len * 10 + (unsigned)(*p - '0');
		}
		if (len > max) {
			snprintf(why, cap, "has a prefix length above %u", max);
			return -EINVAL;
		}
	}
	c.len = (uint8_t)len;
	mask_to(masked, c.addr, len, fam_bytes(c.family));
	if (memcmp(masked, c.addr, 16)) {
		struct lim_cidr m = c;
		memcpy(m.addr, masked, 16);
		lim_cidr_format(&m, masked_txt, sizeof(masked_txt));
		snprintf(why, cap, "has host bits set below the prefix (did you mean %s?)",
			 masked_txt);
		return -EINVAL;
	}
	/* ::ffff:a.b.c.d/96+ is an IPv4 rule: sources arrive normalised */
	if (c.family == 6 && len >= 96 && is_v4mapped(c.addr)) {
		memmove(c.addr, c.addr + 12, 4);
		memset(c.addr + 4, 0, 12);
		c.family = 4;
		c.len = (uint8_t)(len - 96);
	}
	*out = c;
	return 0;
}

void lim_cidr_format(const struct lim_cidr *c, char *buf, size_t cap)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(c->family == 4 ? AF_INET : AF_INET6, c->addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(buf, cap, "%s/%u", a, c->len);
}

bool lim_cidr_eq(const struct lim_cidr *a, const struct lim_cidr *b)
{
	return a->family == b->family && a->len == b->len && !memcmp(a->addr, b->addr, 16);
}

/* ---- building ----------------------------------------------------------- */

static struct u128 u128_of(const uint8_t *a, uint8_t family)
{
	struct u128 v = { 0, 0 };

	for (unsigned i = 0; i < 8; i++)
		v.hi = v.hi << 8 | a[i];
	for (unsigned i = 8; i < 16; i++)
		v.lo = v.lo << 8 | (family == 4 ? 0 : a[i]);
	if (family == 4)
		v.hi &= 0xffffffff00000000ull;
	return v;
}

static struct u128 u128_mask(struct u128 v, unsigned len)
{
	if (len == 0)
		return (struct u128){ 0, 0 };
	if (len < 64)
		return (struct u128){ v.hi & ~(~0ull >> len), 0 };
	if (len == 64)
		return (struct u128){ v.hi, 0 };
	if (len < 128)
		return (struct u128){ v.hi, v.lo & ~(~0ull >> (len - 64)) };
	return v;
}

static int u128_cmp(struct u128 a, struct u128 b)
{
	if (a.hi != b.hi)
		return a.hi < b.hi ? -1 : 1;
	if (a.lo != b.lo)
		return a.lo < b.lo ? -1 : 1;
	return 0;
}

static int rule_cmp(const void *pa, const void *pb)
{
	const struct acl_rule *a = pa, *b = pb;
	int d;

	if (a->len != b->len)
		return a->len > b->len ? -1 : 1;   /* longest first */
	d = u128_cmp(a->net, b->net);
	if (d)
		return d;
	return (int)a->deny - (int)b->deny;
}

static int fam_build(struct acl_fam *f, uint8_t family, const struct lim_cidr *allow,
		     size_t nallow, const struct lim_cidr *deny, size_t ndeny, char *why, size_t cap)
{
	size_t n = 0, out = 0;

	for (size_t i = 0; i < nallow; i++)
		n += allow[i].family == family;
	for (size_t i = 0; i < ndeny; i++)
		n += deny[i].family == family;
	if (!n)
		return 0;
	f->r = calloc(n, sizeof(*f->r));
	if (!f->r) {
		snprintf(why, cap, "out of memory");
		return -ENOMEM;
	}
	for (size_t k = 0; k < 2; k++) {
		const struct lim_cidr *l = k ? deny : allow;
		size_t nl = k ? ndeny : nallow;
		for (size_t i = 0; i < nl; i++) {
			if (l[i].family != family)
				continue;
			struct acl_rule *r = &f->r[out++];
			/* v4 prefix lengths count from the top of the 128 bits */
			r->len = l[i].len;
			r->net = u128_mask(u128_of(l[i].addr, family), r->len);
			r->deny = (uint8_t)k;
		}
	}
	qsort(f->r, n, sizeof(*f->r), rule_cmp);
	/* drop duplicates within a list; the same prefix in both is an error */
	out = 0;
	for (size_t i = 0; i < n; i++) {
		if (out && f->r[out - 1].len == f->r[i].len &&
		    !u128_cmp(f->r[out - 1].net, f->r[i].net)) {
			if (f->r[out - 1].deny != f->r[i].deny) {
				struct lim_cidr c = { .family = family, .len = f->r[i].len };
				char txt[64];
				for (unsigned b = 0; b < 8; b++) {
					c.addr[b] = (uint8_t)(f->r[i].net.hi >> (56 - 8 * b));
					c.addr[8 + b] = (uint8_t)(f->r[i].net.lo >> (56 - 8 * b));
				}
				lim_cidr_format(&c, txt, sizeof(txt));
				snprintf(why, cap, "%s is in both allow and deny", txt);
				return -EINVAL;
			}
			continue;
		}
		f->r[out++] = f->r[i];
	}
	f->n = (uint32_t)out;
	for (uint32_t i = 0; i < f->n; i++) {
		if (!f->ngroups || f->g[f->ngroups - 1].len != f->r[i].len) {
			f->g[f->ngroups].len = f->r[i].len;
			f->g[f->ngroups].start = i;
			f->g[f->ngroups].count = 0;
			f->ngroups++;
		}
		f->g[f->ngroups - 1].count++;
	}
	return 0;
}

struct lim_acl *lim_acl_create(const struct lim_cidr *allow, size_t nallow,
			       const struct lim_cidr *deny, size_t ndeny, char *why, size_t cap)
{
	struct lim_acl *a = calloc(1, sizeof(*a));

	if (!a) {
		snprintf(why, cap, "out of memory");
		return NULL;
	}
	a->whitelist = nallow > 0;
	if (fam_build(&a->fam[0], 4, allow, nallow, deny, ndeny, why, cap) < 0 ||
	    fam_build(&a->fam[1], 6, allow, nallow, deny, ndeny, why, cap) < 0) {
		lim_acl_destroy(a);
		return NULL;
	}
	return a;
}

void lim_acl_destroy(struct lim_acl *a)
{
	if (!a)
		return;
	free(a->fam[0].r);
	free(a->fam[1].r);
	free(a);
}

/* ---- lookup ------------------------------------------------------------- */

bool lim_acl_allows(const struct lim_acl *a, const struct lim_key *k)
{
	const struct acl_fam *f = &a->fam[k->family == 4 ? 0 : 1];
	struct u128 addr;

	if (!f->ngroups)
		return !a->whitelist;
	addr = u128_of(k->addr, k->family);
	for (uint32_t g = 0; g < f->ngroups; g++) {
		const struct acl_group *gr = &f->g[g];
		struct u128 m = u128_mask(addr, gr->len);
		uint32_t lo = gr->start, hi = gr->start + gr->count;

		while (lo < hi) {
			uint32_t mid = lo + (hi - lo) / 2;
			int d = u128_cmp(f->r[mid].net, m);
			if (!d)
				return !f->r[mid].deny;
			if (d < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
	}
	return !a->whitelist;
}
