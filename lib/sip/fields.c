/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Lazy header value parsers: list splitting, parameters, URIs, name-addr,
 * Via, CSeq, RAck, Contact, Event, Content-Type. All work on views; none
 * copies or allocates. LWS (including folded CRLF SP) is accepted wherever
 * RFC 3261 allows it: around ';' '=' '/' ':' separators.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "sip_int.h"

/* ---- lists --------------------------------------------------------------- */

void sip_list_init(struct sip_list_iter *it, const struct sip_msg *m, enum sip_hdr_id id)
{
	it->m = m;
	it->h = sip_hdr_first(m, id);
	it->pos = 0;
}

/* Bytes that matter when splitting a list: everything else is skipped by
 * one table lookup (the list splitter ran ~15% of a full INVITE check). */
static const uint8_t list_special[256] = { ['"'] = 1, ['<'] = 1, ['>'] = 1, [','] = 1 };

/* End of one list element: the first ',' outside "..." and <...>. */
static int elem_end(sip_str_t v, uint32_t i, uint32_t *end)
{
	bool angle = false;
	for (; i < v.len; i++) {
		unsigned char c = (unsigned char)v.p[i];
		if (!list_special[c])
			continue;
		if (c == '"') {
			uint32_t q = skip_quoted(v.p, i, v.len);
			if (!q)
				return -EINVAL;
			i = q - 1;
		} else if (c == '<') {
			angle = true;
		} else if (c == '>') {
			angle = false;
		} else if (!angle) {
			break; /* ',' */
		}
	}
	*end = i;
	return 0;
}

int sip_list_next(struct sip_list_iter *it, sip_str_t *value)
{
	while (it->h) {
		sip_str_t v = it->h->value;
		if (it->pos == 0 && v.len == 0) {
			it->h = sip_hdr_next(it->m, it->h); /* empty line: no element */
			continue;
		}
		if (it->pos > v.len) {
			it->h = sip_hdr_next(it->m, it->h);
			it->pos = 0;
			continue;
		}
		uint32_t end;
		if (elem_end(v, it->pos, &end) < 0)
			return -EINVAL;
		sip_str_t e = sip_trim(str_sub(v, it->pos, end));
		it->pos = end + 1; /* past the ',' (or past the end) */
		if (e.len == 0)
			return -EINVAL; /* ",," or trailing ',' */
		*value = e;
		return 1;
	}
	return 0;
}

/* ---- parameters ------------------------------------------------------------ */

static bool param_value_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != ';' && c != ',' && c != '"' && c != '?';
}

int sip_param_next(sip_str_t s, uint32_t *pos, sip_str_t *name, sip_str_t *value)
{
	uint32_t i = skip_lws(s.p, *pos, s.len);
	if (i >= s.len) {
		*pos = i;
		return 0;
	}
	if (s.p[i] != ';')
		return -EINVAL;
	i = skip_lws(s.p, i + 1, s.len);
	uint32_t b = i;
	while (i < s.len && cc_is((unsigned char)s.p[i], CC_TOKEN))
		i++;
	if (i == b)
		return -EINVAL; /* empty parameter ";;" (RFC 4475 badinv01) */
	*name = str_sub(s, b, i);
	*value = SIP_STR_NULL;
	i = skip_lws(s.p, i, s.len);
	if (i < s.len && s.p[i] == '=') {
		i = skip_lws(s.p, i + 1, s.len);
		b = i;
		if (i < s.len && s.p[i] == '"') {
			uint32_t q = skip_quoted(s.p, i, s.len);
			if (!q)
				return -EINVAL;
			i = q;
		} else {
			while (i < s.len && param_value_char((unsigned char)s.p[i]))
				i++;
		}
		if (i == b)
			return -EINVAL;
		*value = str_sub(s, b, i);
	}
	i = skip_lws(s.p, i, s.len);
	if (i < s.len && s.p[i] != ';')
		return -EINVAL;
	*pos = i;
	return 1;
}

int sip_param_get(sip_str_t params, const char *name, sip_str_t *value)
{
	uint32_t pos = 0;
	sip_str_t n, v;
	int r;
	size_t nl = strlen(name); /* name is the caller's literal, not packet data */
	while ((r = sip_param_next(params, &pos, &n, &v)) > 0) {
		if (n.len == nl && sip_str_caseeq(n, (sip_str_t){ name, (uint32_t)nl })) {
			if (value)
				*value = v;
			return 1;
		}
	}
	return r;
}

static int params_valid(sip_str_t params)
{
	uint32_t pos = 0;
	sip_str_t n, v;
	int r;
	while ((r = sip_param_next(params, &pos, &n, &v)) > 0)
		;
	return r;
}

/* ---- hosts and URIs ------------------------------------------------------ */

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = ascii_lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int sip_unescape(sip_str_t in, char *out, size_t cap)
{
	size_t o = 0;
	for (uint32_t i = 0; i < in.len; i++) {
		unsigned char c = (unsigned char)in.p[i];
		if (c == '%') {
			int h, l;
			if (i + 2 >= in.len)
				return -EINVAL;
			h = hexval((unsigned char)in.p[i + 1]);
			l = hexval((unsigned char)in.p[i + 2]);
			if (h < 0 || l < 0)
				return -EINVAL;
			c = (unsigned char)(h << 4 | l);
			i += 2;
		}
		if (o >= cap)
			return -ENOSPC;
		out[o++] = (char)c;
	}
	return (int)o;
}

/* A literal address of family af (inet_pton needs a C string). */
static bool inet_ok(int af, sip_str_t h, uint32_t min, uint32_t max)
{
	char tmp[INET6_ADDRSTRLEN];
	union { struct in_addr v4; struct in6_addr v6; } a;
	if (h.len < min || h.len > max)
		return false;
	memcpy(tmp, h.p, h.len);
	tmp[h.len] = 0;
	return inet_pton(af, tmp, &a) == 1;
}

/* dotted quad, each part 0..255 without more than 3 digits: what
 * inet_pton(AF_INET) accepts, without the copy and the call (one per Via
 * and URI host, so it shows in the parse profile). */
static bool ipv4_ok(sip_str_t h)
{
	unsigned parts = 0, digits = 0, v = 0;
	for (uint32_t i = 0; i < h.len; i++) {
		char c = h.p[i];
		if (c == '.') {
			if (!digits || ++parts > 3)
				return false;
			digits = v = 0;
			continue;
		}
		if (c < '0' || c > '9' || ++digits > 3 || (digits > 1 && v == 0))
			return false;
		v = v * 10 + (unsigned)(c - '0');
		if (v > 255)
			return false;
	}
	return parts == 3 && digits;
}

static bool ipv6_ok(sip_str_t h)
{
	return inet_ok(AF_INET6, h, 2, 45);
}

/* host [":" port] at s[i..); stops at ';' '?' LWS or end. Fills host/type/
 * port; returns the index after it or -1. */
static int parse_hostport(sip_str_t s, uint32_t i, sip_str_t *host, enum sip_host_type *type,
			  uint16_t *port, bool *has_port, bool lws_ok)
{
	uint32_t b;
	*has_port = false;
	*port = 0;
	if (i < s.len && s.p[i] == '[') {
		b = ++i;
		while (i < s.len && s.p[i] != ']')
			i++;
		if (i >= s.len)
			return -1;
		*host = str_sub(s, b, i);
		if (!ipv6_ok(*host))
			return -1;
		*type = SIP_HOST_IPV6;
		i++;
	} else {
		b = i;
		bool digits_dots = true;
		while (i < s.len && cc_is((unsigned char)s.p[i], CC_HOST)) {
			unsigned char c = (unsigned char)s.p[i];
			digits_dots &= (c == '.' || cc_is(c, CC_DIGIT));
			i++;
		}
		if (i == b)
			return -1;
		*host = str_sub(s, b, i);
		*type = SIP_HOST_NAME;
		if (digits_dots) {
			if (!ipv4_ok(*host))
				return -1;
			*type = SIP_HOST_IPV4;
		} else {
			/* domainlabel = alphanum [*(alphanum / "-") alphanum]: no
			 * empty label, no '-' at a label's edge; one final '.' ok */
			for (uint32_t k = 0; k < host->len; k++) {
				char c = host->p[k];
				bool first = k == 0 || host->p[k - 1] == '.';
				bool last = k + 1 == host->len || host->p[k + 1] == '.';
				if ((c == '.' && first) || (c == '-' && (first || last)))
					return -1;
			}
		}
	}
	uint32_t j = lws_ok ? skip_lws(s.p, i, s.len) : i;
	if (j < s.len && s.p[j] == ':') {
		j = lws_ok ? skip_lws(s.p, j + 1, s.len) : j + 1;
		b = j;
		uint32_t v = 0;
		while (j < s.len && cc_is((unsigned char)s.p[j], CC_DIGIT) && j - b < 6)
			v = v * 10 + (uint32_t)(s.p[j++] - '0');
		if (j == b || v > 65535 || (j < s.len && cc_is((unsigned char)s.p[j], CC_DIGIT)))
			return -1;
		*port = (uint16_t)v;
		*has_port = true;
		i = j;
	}
	return (int)i;
}

static bool escapes_ok(sip_str_t s)
{
	for (uint32_t i = 0; i < s.len; i++)
		if (s.p[i] == '%' &&
		    (i + 2 >= s.len || hexval((unsigned char)s.p[i + 1]) < 0 ||
		     hexval((unsigned char)s.p[i + 2]) < 0))
			return false;
	return true;
}

/* user: unreserved / escaped / user-unreserved; escapes are checked only
 * when the pre-pass saw a '%'. */
static bool user_ok(sip_str_t u, bool pct)
{
	for (uint32_t i = 0; i < u.len; i++) {
		unsigned char c = (unsigned char)u.p[i];
		if (c != '%' && !cc_is(c, CC_USER))
			return false;
	}
	return u.len > 0 && (!pct || escapes_ok(u));
}

static bool password_ok(sip_str_t pw, bool pct)
{
	for (uint32_t i = 0; i < pw.len; i++) {
		unsigned char c = (unsigned char)pw.p[i];
		if (c == ';' || c == '?' || c == '/' || (c != '%' && !cc_is(c, CC_USER)))
			return false;
	}
	return !pct || escapes_ok(pw);
}

/* at: the last '@' (userinfo delimiter) or NULL. Neither host, params nor
 * headers may hold a raw '@', while the user part may hold ';' '?' ','
 * (RFC 4475 semiuri, intmeth). */
static int parse_sip_uri(sip_str_t s, uint32_t i, const char *at, bool pct, struct sip_uri *u)
{
	if (at) {
		sip_str_t ui = { s.p + i, (uint32_t)(at - (s.p + i)) };
		const char *colon = memchr(ui.p, ':', ui.len);
		u->user = colon ? (sip_str_t){ ui.p, (uint32_t)(colon - ui.p) } : ui;
		if (colon)
			u->password = (sip_str_t){ colon + 1, (uint32_t)(ui.p + ui.len - colon - 1) };
		if (!user_ok(u->user, pct) || !password_ok(u->password, pct))
			return -EINVAL;
		i = (uint32_t)(at - s.p) + 1;
	}
	int r = parse_hostport(s, i, &u->host, &u->host_type, &u->port, &u->has_port, false);
	if (r < 0)
		return -EINVAL;
	i = (uint32_t)r;
	const char *q = memchr(s.p + i, '?', s.len - i);
	uint32_t qi = q ? (uint32_t)(q - s.p) : s.len;
	u->params = str_sub(s, i, qi);
	/* pname/pvalue are paramchar, which includes escaped (19.1.1) */
	if (u->params.len && (u->params.p[0] != ';' || params_valid(u->params) < 0 ||
			      (pct && !escapes_ok(u->params))))
		return -EINVAL;
	if (q) {
		u->headers = str_sub(s, qi + 1, s.len);
		if (!u->headers.len || (pct && !escapes_ok(u->headers)))
			return -EINVAL;
	}
	return 0;
}

static inline bool lit_caseeq(sip_str_t s, const char *lower, uint32_t n)
{
	if (s.len != n)
		return false;
	for (uint32_t i = 0; i < n; i++)
		if ((char)(s.p[i] | 0x20) != lower[i])
			return false;
	return true;
}

static enum sip_scheme scheme_of(sip_str_t s)
{
	if (lit_caseeq(s, "sip", 3))
		return SIP_SCHEME_SIP;
	if (lit_caseeq(s, "sips", 4))
		return SIP_SCHEME_SIPS;
	if (lit_caseeq(s, "tel", 3))
		return SIP_SCHEME_TEL;
	return SIP_SCHEME_OTHER;
}

int sip_uri_parse(sip_str_t s, struct sip_uri *u)
{
	memset(u, 0, sizeof(*u));
	uint32_t i = 0;
	if (!s.len || !cc_is((unsigned char)s.p[0], CC_ALPHA))
		return -EINVAL;
	while (i < s.len && (cc_is((unsigned char)s.p[i], CC_ALPHA | CC_DIGIT) || s.p[i] == '+' ||
			     s.p[i] == '-' || s.p[i] == '.'))
		i++;
	if (i >= s.len || s.p[i] != ':')
		return -EINVAL;
	u->scheme_str = str_sub(s, 0, i);
	i++;
	/* One pass: no LWS, controls or raw 8-bit inside a URI; remember the
	 * last '@' and whether any escape needs checking. */
	const char *at = NULL;
	bool pct = false;
	for (uint32_t k = i; k < s.len; k++) {
		unsigned char c = (unsigned char)s.p[k];
		if (c <= 0x20 || c >= 0x7f)
			return -EINVAL;
		if (c == '@')
			at = s.p + k;
		pct |= c == '%';
	}
	u->opaque = str_sub(s, i, s.len);
	u->scheme = scheme_of(u->scheme_str);
	if (u->scheme == SIP_SCHEME_OTHER)
		return u->opaque.len ? 0 : -EINVAL;
	if (u->scheme == SIP_SCHEME_TEL) {
		const char *semi = memchr(u->opaque.p, ';', u->opaque.len);
		u->user = semi ? (sip_str_t){ u->opaque.p, (uint32_t)(semi - u->opaque.p) } : u->opaque;
		u->params = semi ? (sip_str_t){ semi, (uint32_t)(u->opaque.p + u->opaque.len - semi) }
				 : SIP_STR_NULL;
		if (!u->user.len || (u->params.len && params_valid(u->params) < 0))
			return -EINVAL;
		return 0;
	}
	return parse_sip_uri(s, i, at, pct, u);
}

/* ---- name-addr --------------------------------------------------------------- */

/* display-name as *(token LWS): tokens and LWS only (RFC 4475 baddn). */
static bool display_tokens_ok(sip_str_t d)
{
	for (uint32_t i = 0; i < d.len; i++) {
		unsigned char c = (unsigned char)d.p[i];
		if (!cc_is(c, CC_TOKEN | CC_LWS))
			return false;
	}
	return true;
}

static int nameaddr_tail(sip_str_t v, uint32_t i, struct sip_nameaddr *na)
{
	i = skip_lws(v.p, i, v.len);
	na->params = str_sub(v, i, v.len);
	if (na->params.len && na->params.p[0] != ';')
		return -EINVAL;
	uint32_t pos = 0;
	sip_str_t n, val;
	int r;
	while ((r = sip_param_next(na->params, &pos, &n, &val)) > 0)
		if (lit_caseeq(n, "tag", 3))
			na->tag = val;
	return r;
}

int sip_nameaddr_parse(sip_str_t v, struct sip_nameaddr *na)
{
	struct sip_uri u;
	memset(na, 0, sizeof(*na));
	v = sip_trim(v);
	if (!v.len)
		return -EINVAL;
	if (v.len == 1 && v.p[0] == '*') {
		na->star = true;
		return 0;
	}
	uint32_t i = 0;
	if (v.p[0] == '"') {
		uint32_t q = skip_quoted(v.p, 0, v.len);
		if (!q)
			return -EINVAL; /* unterminated quote (quotbal) */
		na->display = str_sub(v, 1, q - 1);
		i = skip_lws(v.p, q, v.len);
		if (i >= v.len || v.p[i] != '<')
			return -EINVAL;
	} else {
		const char *lt = memchr(v.p, '<', v.len);
		if (lt) {
			i = (uint32_t)(lt - v.p);
			na->display = sip_trim(str_sub(v, 0, i));
			if (!display_tokens_ok(na->display))
				return -EINVAL;
		}
	}
	if (i < v.len && v.p[i] == '<') {
		const char *gt = memchr(v.p + i, '>', v.len - i);
		if (!gt)
			return -EINVAL;
		na->angle = true;
		na->uri = str_sub(v, i + 1, (uint32_t)(gt - v.p));
		i = (uint32_t)(gt - v.p) + 1;
	} else {
		/* addr-spec: ';' starts header params; ',' '?' need <> (20.10) */
		uint32_t b = i;
		while (i < v.len && v.p[i] != ';' && !cc_is((unsigned char)v.p[i], CC_LWS))
			i++;
		na->uri = str_sub(v, b, i);
		if (memchr(na->uri.p, '?', na->uri.len) || memchr(na->uri.p, ',', na->uri.len))
			return -EINVAL;
	}
	if (sip_uri_parse(na->uri, &u) < 0)
		return -EINVAL; /* includes "< sip:x >" (badaspec) */
	return nameaddr_tail(v, i, na);
}

/* ---- Via ------------------------------------------------------------------- */

static uint32_t take_token(sip_str_t s, uint32_t i, sip_str_t *out)
{
	uint32_t b = i;
	while (i < s.len && cc_is((unsigned char)s.p[i], CC_TOKEN))
		i++;
	*out = str_sub(s, b, i);
	return i;
}

static int expect_slash(sip_str_t s, uint32_t *i)
{
	uint32_t k = skip_lws(s.p, *i, s.len);
	if (k >= s.len || s.p[k] != '/')
		return -EINVAL;
	*i = skip_lws(s.p, k + 1, s.len);
	return 0;
}

static int via_params(struct sip_via *via)
{
	uint32_t pos = 0;
	sip_str_t n, v;
	int r;
	while ((r = sip_param_next(via->params, &pos, &n, &v)) > 0) {
		if (n.len == 6 && sip_str_caseeq(n, SIP_STR("branch"))) {
			if (!v.len)
				return -EINVAL;
			via->branch = v;
		} else if (n.len == 8 && sip_str_caseeq(n, SIP_STR("received"))) {
			via->received = v;
		} else if (n.len == 5 && sip_str_caseeq(n, SIP_STR("maddr"))) {
			via->maddr = v;
		} else if (n.len == 5 && sip_str_caseeq(n, SIP_STR("rport"))) {
			uint32_t p = 0;
			via->has_rport = true;
			if (v.len && (sip_parse_u32(v, &p) < 0 || p > 65535))
				return -EINVAL;
			via->rport = (uint16_t)p;
		} else if (n.len == 3 && sip_str_caseeq(n, SIP_STR("ttl"))) {
			uint32_t t;
			if (sip_parse_u32(v, &t) < 0 || t > 255)
				return -EINVAL;
			via->ttl = (uint8_t)t;
		}
	}
	return r;
}

int sip_via_parse(sip_str_t v, struct sip_via *via)
{
	memset(via, 0, sizeof(*via));
	v = sip_trim(v);
	via->value = v;
	uint32_t i = take_token(v, 0, &via->proto);
	if (!via->proto.len || expect_slash(v, &i) < 0)
		return -EINVAL;
	i = take_token(v, i, &via->version);
	if (!via->version.len || expect_slash(v, &i) < 0)
		return -EINVAL;
	i = take_token(v, i, &via->transport);
	if (!via->transport.len || i >= v.len || !cc_is((unsigned char)v.p[i], CC_LWS))
		return -EINVAL;
	i = skip_lws(v.p, i, v.len);
	bool has_port;
	int r = parse_hostport(v, i, &via->host, &via->host_type, &via->port, &has_port, true);
	if (r < 0)
		return -EINVAL;
	/* params start at the first ';' (sip.h), past any LWS after sent-by */
	via->params = str_sub(v, skip_lws(v.p, (uint32_t)r, v.len), v.len);
	return via_params(via);
}

void sip_via_init(struct sip_via_iter *it, const struct sip_msg *m)
{
	sip_list_init(&it->li, m, SIP_H_VIA);
}

int sip_via_next(struct sip_via_iter *it, struct sip_via *via)
{
	sip_str_t v;
	int r = sip_list_next(&it->li, &v);
	if (r <= 0)
		return r;
	return sip_via_parse(v, via) < 0 ? -EINVAL : 1;
}

bool sip_branch_is_3261(sip_str_t b)
{
	return b.len > 7 && memcmp(b.p, "z9hG4bK", 7) == 0;
}

/* ---- single-value headers ------------------------------------------------- */

int sip_cseq_parse(sip_str_t v, struct sip_cseq *c)
{
	v = sip_trim(v);
	uint32_t i = 0;
	while (i < v.len && cc_is((unsigned char)v.p[i], CC_DIGIT))
		i++;
	if (!i || i >= v.len || !cc_is((unsigned char)v.p[i], CC_LWS))
		return -EINVAL;
	if (sip_parse_u32(str_sub(v, 0, i), &c->seq) < 0)
		return -ERANGE; /* > 2^32-1 (RFC 4475 scalar02) */
	i = skip_lws(v.p, i, v.len);
	i = take_token(v, i, &c->method_name);
	if (!c->method_name.len || i != v.len)
		return -EINVAL;
	c->method = sip_method_from(c->method_name);
	return 0;
}

int sip_rack_parse(sip_str_t v, struct sip_rack *r)
{
	v = sip_trim(v);
	uint32_t i = 0, b;
	uint32_t *nums[2] = { &r->rseq, &r->cseq };
	for (int k = 0; k < 2; k++) {
		b = i;
		while (i < v.len && cc_is((unsigned char)v.p[i], CC_DIGIT))
			i++;
		if (i == b || i >= v.len || !cc_is((unsigned char)v.p[i], CC_LWS) ||
		    sip_parse_u32(str_sub(v, b, i), nums[k]) < 0)
			return -EINVAL;
		i = skip_lws(v.p, i, v.len);
	}
	i = take_token(v, i, &r->method_name);
	if (!r->method_name.len || i != v.len)
		return -EINVAL;
	r->method = sip_method_from(r->method_name);
	return 0;
}

/* delta-seconds: 1*DIGIT. Values beyond 2^32-1 saturate: a registrar clamps
 * them to its maximum anyway (RFC 3261 20.19 says treat oddities as a
 * default, not as fatal). */
static int delta_seconds(sip_str_t v, uint32_t *out)
{
	int r = sip_parse_u32(v, out);
	if (r == -ERANGE) {
		*out = UINT32_MAX;
		return 0;
	}
	return r;
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) (20.10) */
static bool qvalue_ok(sip_str_t q)
{
	if (q.len == 0 || q.len > 5 || (q.p[0] != '0' && q.p[0] != '1'))
		return false;
	if (q.len == 1)
		return true;
	if (q.p[1] != '.')
		return false;
	for (uint32_t i = 2; i < q.len; i++)
		if (q.p[0] == '1' ? q.p[i] != '0' : !cc_is((unsigned char)q.p[i], CC_DIGIT))
			return false;
	return true;
}

int sip_contact_parse(sip_str_t v, struct sip_contact *c)
{
	memset(c, 0, sizeof(*c));
	if (sip_nameaddr_parse(v, &c->na) < 0)
		return -EINVAL;
	sip_str_t e;
	int r = sip_param_get(c->na.params, "expires", &e);
	if (r < 0)
		return -EINVAL;
	if (r > 0) {
		if (delta_seconds(e, &c->expires) < 0)
			return -EINVAL;
		c->has_expires = true;
	}
	r = sip_param_get(c->na.params, "q", &c->q);
	if (r < 0 || (r > 0 && !qvalue_ok(c->q)))
		return -EINVAL;
	return 0;
}

int sip_event_parse(sip_str_t v, struct sip_event *e)
{
	memset(e, 0, sizeof(*e));
	v = sip_trim(v);
	uint32_t i = take_token(v, 0, &e->package);
	if (!e->package.len)
		return -EINVAL;
	e->params = str_sub(v, skip_lws(v.p, i, v.len), v.len);
	if (e->params.len && e->params.p[0] != ';')
		return -EINVAL;
	/* sip_param_get stops at the match: validate the whole list first */
	if (params_valid(e->params) < 0)
		return -EINVAL;
	return sip_param_get(e->params, "id", &e->id) < 0 ? -EINVAL : 0;
}

int sip_ctype_parse(sip_str_t v, struct sip_ctype *c)
{
	memset(c, 0, sizeof(*c));
	v = sip_trim(v);
	uint32_t i = take_token(v, 0, &c->type);
	if (!c->type.len || expect_slash(v, &i) < 0)
		return -EINVAL;
	i = take_token(v, i, &c->subtype);
	if (!c->subtype.len)
		return -EINVAL;
	c->params = str_sub(v, skip_lws(v.p, i, v.len), v.len);
	if (c->params.len && c->params.p[0] != ';')
		return -EINVAL;
	return params_valid(c->params) < 0 ? -EINVAL : 0;
}

/* ---- message accessors ------------------------------------------------------ */

int sip_msg_call_id(const struct sip_msg *m, sip_str_t *out)
{
	const struct sip_hdr *h = sip_hdr_first(m, SIP_H_CALL_ID);
	if (!h)
		return 0;
	if (!h->value.len)
		return -EINVAL;
	*out = h->value;
	return 1;
}

int sip_msg_cseq(const struct sip_msg *m, struct sip_cseq *out)
{
	if (m->checked) {
		*out = m->cseq;
		return 1;
	}
	const struct sip_hdr *h = sip_hdr_first(m, SIP_H_CSEQ);
	if (!h)
		return 0;
	return sip_cseq_parse(h->value, out) < 0 ? -EINVAL : 1;
}

static int msg_nameaddr(const struct sip_msg *m, enum sip_hdr_id id, struct sip_nameaddr *out)
{
	const struct sip_hdr *h = sip_hdr_first(m, id);
	if (!h)
		return 0;
	return sip_nameaddr_parse(h->value, out) < 0 ? -EINVAL : 1;
}

int sip_msg_from(const struct sip_msg *m, struct sip_nameaddr *out)
{
	if (m->checked) {
		*out = m->from;
		return 1;
	}
	return msg_nameaddr(m, SIP_H_FROM, out);
}

int sip_msg_to(const struct sip_msg *m, struct sip_nameaddr *out)
{
	if (m->checked) {
		*out = m->to;
		return 1;
	}
	return msg_nameaddr(m, SIP_H_TO, out);
}

int sip_msg_max_forwards(const struct sip_msg *m, uint32_t *out)
{
	if (m->checked) {
		*out = m->max_forwards;
		return m->has_max_forwards;
	}
	const struct sip_hdr *h = sip_hdr_first(m, SIP_H_MAX_FORWARDS);
	if (!h)
		return 0;
	/* "0068" is 68 (wsinv); > 255 is out of the ABNF's intent but harmless:
	 * a proxy only decrements it (RFC 4475 scalar02 allows either reading). */
	return sip_parse_u32(h->value, out) < 0 ? -EINVAL : 1;
}

int sip_msg_expires(const struct sip_msg *m, uint32_t *out)
{
	const struct sip_hdr *h = sip_hdr_first(m, SIP_H_EXPIRES);
	if (!h)
		return 0;
	return delta_seconds(h->value, out) < 0 ? -EINVAL : 1;
}

int sip_msg_top_via(const struct sip_msg *m, struct sip_via *out)
{
	if (m->checked) {
		*out = m->top_via;
		return 1;
	}
	struct sip_via_iter it;
	sip_via_init(&it, m);
	int r = sip_via_next(&it, out);
	return r < 0 ? -EINVAL : r;
}

bool sip_msg_has_tag(const struct sip_msg *m, enum sip_hdr_id id, const char *tag)
{
	struct sip_list_iter it;
	sip_str_t v;
	sip_list_init(&it, m, id);
	while (sip_list_next(&it, &v) > 0)
		if (sip_str_caseeq_lit(v, tag))
			return true;
	return false;
}
