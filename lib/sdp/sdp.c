/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/sdp — SDP parser and rewriter. See sdp.h for the contract.
 *
 * The parser makes one pass over the body: it cuts it into lines, records
 * each line's offset, length, terminator and type, and parses the line types
 * the SBC acts on. The rewriter walks that line index in order and emits a
 * list of monotonically increasing splices against the original buffer, so
 * every byte it was not asked to change is copied from the input. It
 * re-parses the few lines it edits (c=, a=rtcp) with the same helpers the
 * parser used instead of storing token offsets for every line: a struct sdp
 * stays small and the two can never disagree about where a token is.
 */
#include "sdp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

/* ---- error and name tables ------------------------------------------------ */

static const struct {
	uint16_t status;
	const char *reason;
	const char *name;
} sdp_errs[SDP_E__COUNT] = {
#define SDP_ERR_ROW(n, st, r) [SDP_E_##n] = { st, r, #n },
	SDP_ERRORS(SDP_ERR_ROW)
#undef SDP_ERR_ROW
};

uint16_t sdp_err_status(enum sdp_err e)
{
	return (unsigned)e < SDP_E__COUNT ? sdp_errs[e].status : 500;
}

const char *sdp_err_reason(enum sdp_err e)
{
	return (unsigned)e < SDP_E__COUNT ? sdp_errs[e].reason : "?";
}

const char *sdp_err_name(enum sdp_err e)
{
	return (unsigned)e < SDP_E__COUNT ? sdp_errs[e].name : "?";
}

static const char *const sdp_attr_names[SDP_A__COUNT] = {
	[SDP_A_OTHER] = "",
#define SDP_A_ROW(id, name) [SDP_A_##id] = name,
	SDP_ATTRS(SDP_A_ROW)
#undef SDP_A_ROW
};

const char *sdp_dir_name(enum sdp_dir d)
{
	switch (d) {
	case SDP_DIR_SENDRECV: return "sendrecv";
	case SDP_DIR_SENDONLY: return "sendonly";
	case SDP_DIR_RECVONLY: return "recvonly";
	case SDP_DIR_INACTIVE: return "inactive";
	case SDP_DIR_NONE: break;
	}
	return "";
}

/* ---- small string helpers (no libsip objects: tests link sdp.c alone) ----- */

static inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
static inline bool is_alpha(char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static inline char lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c; }

/* a equals the literal lit, ignoring ASCII case. lit is ours, a is data. */
static bool lit_caseeq(sip_str_t a, const char *lit)
{
	uint32_t i;

	for (i = 0; i < a.len; i++) {
		if (lit[i] == '\0' || lower(a.p[i]) != lower(lit[i]))
			return false;
	}
	return lit[i] == '\0';
}

static bool all_digits(sip_str_t t)
{
	if (t.len == 0)
		return false;
	for (uint32_t i = 0; i < t.len; i++) {
		if (!is_digit(t.p[i]))
			return false;
	}
	return true;
}

static bool parse_u16(sip_str_t t, uint16_t *out)
{
	uint32_t v = 0;

	if (t.len == 0 || t.len > 5 || !all_digits(t))
		return false;
	for (uint32_t i = 0; i < t.len; i++)
		v = v * 10 + (uint32_t)(t.p[i] - '0');
	if (v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

/* Next space-separated token of v from *pos. RFC 8866 wants exactly one SP
 * between fields; runs of spaces and trailing spaces are tolerated because
 * peers send them and the rewriter keeps them anyway. */
static bool tok_next(sip_str_t v, uint32_t *pos, sip_str_t *t)
{
	uint32_t i = *pos;

	while (i < v.len && v.p[i] == ' ')
		i++;
	if (i == v.len) {
		*pos = i;
		return false;
	}
	uint32_t b = i;
	while (i < v.len && v.p[i] != ' ')
		i++;
	*t = (sip_str_t){ v.p + b, i - b };
	*pos = i;
	return true;
}

/* Split v into at most max tokens. Returns the count, max + 1 if there are
 * more. */
static unsigned tok_split(sip_str_t v, sip_str_t *t, unsigned max)
{
	uint32_t pos = 0;
	unsigned n = 0;
	sip_str_t extra;

	while (n < max && tok_next(v, &pos, &t[n]))
		n++;
	if (n == max && tok_next(v, &pos, &extra))
		return max + 1;
	return n;
}

/* ---- addresses ------------------------------------------------------------ */

/* Dotted-quad IPv4 literal; fills the first octet and whether all are 0. */
static bool ipv4_literal(sip_str_t a, unsigned *first, bool *zero)
{
	unsigned parts = 0, val = 0, digits = 0, sum = 0;

	for (uint32_t i = 0; i <= a.len; i++) {
		if (i < a.len && is_digit(a.p[i])) {
			val = val * 10 + (unsigned)(a.p[i] - '0');
			if (++digits > 3 || val > 255)
				return false;
			continue;
		}
		if (digits == 0 || (i < a.len && a.p[i] != '.'))
			return false;
		if (parts == 0)
			*first = val;
		sum |= val;
		parts++;
		val = digits = 0;
	}
	*zero = sum == 0;
	return parts == 4;
}

/* IPv6 literal (RFC 4291 text forms, embedded IPv4 allowed). inet_pton
 * wants a C string, so the token is copied to the stack first. */
static bool ipv6_literal(sip_str_t a, unsigned char bytes[16])
{
	char tmp[INET6_ADDRSTRLEN];

	if (a.len == 0 || a.len >= sizeof(tmp))
		return false;
	memcpy(tmp, a.p, a.len);
	tmp[a.len] = '\0';
	return inet_pton(AF_INET6, tmp, bytes) == 1;
}

/* A domain name as RFC 8866 allows in c= and o=: letters, digits, '-' and
 * '.', starting with an alphanumeric and holding at least one letter, so
 * that "1.2.3" or "300.1.1.1" are not taken for names. */
static bool hostname_ok(sip_str_t a)
{
	bool letter = false;

	if (a.len == 0 || a.len > 253 || !(is_alpha(a.p[0]) || is_digit(a.p[0])))
		return false;
	for (uint32_t i = 0; i < a.len; i++) {
		char c = a.p[i];
		if (is_alpha(c))
			letter = true;
		else if (!is_digit(c) && c != '-' && c != '.')
			return false;
	}
	return letter;
}

static bool addr_classify(struct sdp_conn *c)
{
	if (c->type == SDP_AT_IP4) {
		unsigned first = 0;
		bool zero = false;
		if (ipv4_literal(c->addr, &first, &zero)) {
			c->unspec = zero;
			c->multicast |= first >= 224 && first <= 239;
			return true;
		}
	} else {
		unsigned char b[16];
		if (ipv6_literal(c->addr, b)) {
			static const unsigned char any[16];
			c->unspec = memcmp(b, any, sizeof(b)) == 0;
			c->multicast |= b[0] == 0xff;
			return true;
		}
	}
	c->fqdn = hostname_ok(c->addr);
	return c->fqdn;
}

/* "/ttl[/num]" for IP4, "/num" for IP6 (RFC 8866 5.7), after the address. */
static bool suffix_ok(sip_str_t sfx, enum sdp_addrtype type)
{
	unsigned parts = 0;
	uint32_t i = 0;

	while (i < sfx.len) {
		uint16_t n;
		uint32_t b = ++i; /* skip the '/' */
		while (i < sfx.len && sfx.p[i] != '/')
			i++;
		if (!parse_u16((sip_str_t){ sfx.p + b, i - b }, &n))
			return false;
		parts++;
	}
	return parts >= 1 && parts <= (type == SDP_AT_IP4 ? 2u : 1u);
}

/* Fill c from the three fields "nettype addrtype connection-address". Other
 * network or address types are kept opaque (RFC 8866 allows them); IN with
 * IP4/IP6 must carry a literal or a domain name. */
static bool conn_parse(struct sdp_conn *c, const sip_str_t t[3], bool allow_suffix)
{
	*c = (struct sdp_conn){ .nettype = t[0], .addrtype = t[1], .addr = t[2],
				.token = t[2], .present = true, .line = SDP_NO_LINE };
	if (!lit_caseeq(t[0], "IN"))
		return true;
	if (lit_caseeq(t[1], "IP4"))
		c->type = SDP_AT_IP4;
	else if (lit_caseeq(t[1], "IP6"))
		c->type = SDP_AT_IP6;
	else
		return true;

	const char *slash = memchr(t[2].p, '/', t[2].len);
	if (slash != NULL) {
		uint32_t n = (uint32_t)(slash - t[2].p);
		sip_str_t sfx = { slash, t[2].len - n };
		if (!allow_suffix || !suffix_ok(sfx, c->type))
			return false;
		c->addr.len = n;
		c->multicast = true;
	}
	return addr_classify(c);
}

/* ---- line parsers ------------------------------------------------------- */

static inline sip_str_t line_value(const struct sdp *s, const struct sdp_line *l)
{
	return (sip_str_t){ s->buf + l->off + 2, (uint32_t)l->len - 2 };
}

static enum sdp_err parse_v(sip_str_t v)
{
	sip_str_t t[1];

	if (tok_split(v, t, 1) != 1 || t[0].len != 1 || t[0].p[0] != '0')
		return SDP_E_BAD_V;
	return SDP_E_OK;
}

/* o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address> */
static enum sdp_err parse_o(struct sdp *s, sip_str_t v, uint16_t idx)
{
	sip_str_t t[6];

	if (s->origin.conn.present)
		return SDP_E_DUP_LINE;
	if (tok_split(v, t, 6) != 6 || !all_digits(t[1]) || !all_digits(t[2]))
		return SDP_E_BAD_O;
	if (!conn_parse(&s->origin.conn, &t[3], false))
		return SDP_E_BAD_O;
	s->origin.user = t[0];
	s->origin.sess_id = t[1];
	s->origin.sess_version = t[2];
	s->origin.conn.line = idx;
	return SDP_E_OK;
}

static enum sdp_err parse_s(struct sdp *s, sip_str_t v)
{
	/* An empty s= breaks RFC 8866 ("s= " is the way to say nothing), but
	 * peers send it and it carries nothing the SBC needs: accept it. */
	if (s->name.p != NULL)
		return SDP_E_DUP_LINE;
	s->name = v;
	return SDP_E_OK;
}

static enum sdp_err parse_t(struct sdp *s, sip_str_t v)
{
	sip_str_t t[2];

	if (tok_split(v, t, 2) != 2 || !all_digits(t[0]) || !all_digits(t[1]))
		return SDP_E_BAD_T;
	s->ntime++;
	return SDP_E_OK;
}

/* c=<nettype> <addrtype> <connection-address> */
static bool c_line_parse(sip_str_t v, struct sdp_conn *c)
{
	sip_str_t t[3];

	return tok_split(v, t, 3) == 3 && conn_parse(c, t, true);
}

static enum sdp_err parse_c(struct sdp *s, sip_str_t v, uint16_t idx)
{
	struct sdp_conn c;

	if (!c_line_parse(v, &c))
		return SDP_E_BAD_C;
	c.line = idx;
	if (s->nmedia == 0) {
		if (s->conn.present)
			return SDP_E_DUP_LINE;
		s->conn = c;
		return SDP_E_OK;
	}
	struct sdp_media *m = &s->media[s->nmedia - 1];
	if (m->nconn++ == 0)
		m->conn = c;
	return SDP_E_OK;
}

/* "port" or "port/n" of an m= line. */
static bool m_port_parse(sip_str_t pp, struct sdp_media *m)
{
	const char *slash = memchr(pp.p, '/', pp.len);

	m->port_str = pp;
	m->nports = 1;
	if (slash == NULL)
		return parse_u16(pp, &m->port);
	m->port_str.len = (uint32_t)(slash - pp.p);
	sip_str_t n = { slash + 1, pp.len - m->port_str.len - 1 };
	return parse_u16(m->port_str, &m->port) && parse_u16(n, &m->nports) && m->nports > 0;
}

/* m=<media> <port>[/<number of ports>] <proto> <fmt> ... */
static enum sdp_err parse_m(struct sdp *s, sip_str_t v, uint16_t idx)
{
	sip_str_t pp, f;
	uint32_t pos = 0;

	if (s->nmedia == SDP_MAX_MEDIA)
		return SDP_E_TOO_MANY_MEDIA;
	struct sdp_media *m = &s->media[s->nmedia];
	*m = (struct sdp_media){ .line = idx, .end = idx + 1, .rtcp_line = SDP_NO_LINE };
	m->conn.line = m->rtcp_conn.line = SDP_NO_LINE;
	if (!tok_next(v, &pos, &m->type) || !tok_next(v, &pos, &pp) ||
	    !tok_next(v, &pos, &m->proto) || !m_port_parse(pp, m))
		return SDP_E_BAD_M;
	while (tok_next(v, &pos, &f)) {
		if (m->nfmt++ == 0)
			m->fmts.p = f.p;
		m->fmts.len = (uint32_t)(f.p + f.len - m->fmts.p);
	}
	if (m->nfmt == 0)
		return SDP_E_BAD_M;
	if (s->nmedia == 0)
		s->session_end = idx;
	s->nmedia++;
	return SDP_E_OK;
}

/* a=rtcp:<port> [<nettype> <addrtype> <connection-address>] (RFC 3605) */
static bool rtcp_parse(sip_str_t v, uint16_t *port, sip_str_t *port_tok, struct sdp_conn *c)
{
	sip_str_t t[4];
	unsigned n = tok_split(v, t, 4);

	*c = (struct sdp_conn){ .line = SDP_NO_LINE };
	if ((n != 1 && n != 4) || !parse_u16(t[0], port))
		return false;
	*port_tok = t[0];
	return n == 1 || conn_parse(c, &t[1], true);
}

static enum sdp_attr_id attr_lookup(sip_str_t name)
{
	for (unsigned i = 1; i < SDP_A__COUNT; i++) {
		if (lit_caseeq(name, sdp_attr_names[i]))
			return (enum sdp_attr_id)i;
	}
	return SDP_A_OTHER;
}

/* Split "name[:value]". */
static void attr_split(sip_str_t v, sip_str_t *name, sip_str_t *value)
{
	const char *colon = memchr(v.p, ':', v.len);

	*name = v;
	*value = (sip_str_t){ v.p + v.len, 0 };
	if (colon == NULL)
		return;
	name->len = (uint32_t)(colon - v.p);
	*value = (sip_str_t){ colon + 1, v.len - name->len - 1 };
}

static enum sdp_err parse_rtcp_attr(struct sdp_media *m, sip_str_t value, uint16_t idx)
{
	uint16_t port;
	sip_str_t tok;
	struct sdp_conn c;

	/* Every a=rtcp line is validated: the rewriter edits all of them. */
	if (!rtcp_parse(value, &port, &tok, &c))
		return SDP_E_BAD_RTCP;
	if (m->has_rtcp)
		return SDP_E_OK;
	m->has_rtcp = true;
	m->rtcp_port = port;
	m->rtcp_line = idx;
	m->rtcp_conn = c;
	m->rtcp_conn.line = c.present ? idx : SDP_NO_LINE;
	return SDP_E_OK;
}

static enum sdp_err parse_a(struct sdp *s, struct sdp_line *l, sip_str_t v, uint16_t idx)
{
	sip_str_t name, value;
	struct sdp_media *m = s->nmedia ? &s->media[s->nmedia - 1] : NULL;
	uint8_t *dir = m ? &m->dir : &s->dir;

	attr_split(v, &name, &value);
	if (name.len == 0)
		return SDP_E_BAD_LINE;
	l->attr = (uint8_t)attr_lookup(name);
	switch ((enum sdp_attr_id)l->attr) {
	case SDP_A_SENDRECV: *dir = SDP_DIR_SENDRECV; break;
	case SDP_A_SENDONLY: *dir = SDP_DIR_SENDONLY; break;
	case SDP_A_RECVONLY: *dir = SDP_DIR_RECVONLY; break;
	case SDP_A_INACTIVE: *dir = SDP_DIR_INACTIVE; break;
	case SDP_A_CANDIDATE:
		if (m)
			m->ncandidates++;
		else
			s->ncandidates++;
		break;
	case SDP_A_REMOTE_CANDIDATES:
		if (m)
			m->nremote_candidates++;
		break;
	case SDP_A_RTCP_MUX:
		if (m)
			m->rtcp_mux = true;
		break;
	case SDP_A_ICE_UFRAG:
		if (m)
			m->ice = true;
		else
			s->ice = true;
		break;
	case SDP_A_RTCP:
		/* Session-level a=rtcp is not defined; it stays opaque. */
		return m ? parse_rtcp_attr(m, value, idx) : SDP_E_OK;
	default:
		break;
	}
	return SDP_E_OK;
}

static enum sdp_err parse_line(struct sdp *s, struct sdp_line *l, uint16_t idx)
{
	sip_str_t v = line_value(s, l);
	bool in_media = s->nmedia > 0;

	l->attr = SDP_A_OTHER;
	l->media = (uint8_t)s->nmedia;
	if (idx == 0)
		return l->type == 'v' ? parse_v(v) : SDP_E_MISSING_V;
	switch (l->type) {
	case 'v': return in_media ? SDP_E_BAD_ORDER : SDP_E_DUP_LINE;
	case 'o': return in_media ? SDP_E_BAD_ORDER : parse_o(s, v, idx);
	case 's': return in_media ? SDP_E_BAD_ORDER : parse_s(s, v);
	case 't': return in_media ? SDP_E_BAD_ORDER : parse_t(s, v);
	case 'c': return parse_c(s, v, idx);
	case 'a': return parse_a(s, l, v, idx);
	case 'm': {
		enum sdp_err e = parse_m(s, v, idx);
		l->media = (uint8_t)s->nmedia;
		return e;
	}
	default:
		return SDP_E_OK; /* i= u= e= p= b= z= k= r= and unknown: opaque */
	}
}

/* ---- line splitting --------------------------------------------------- */

/* Only CR and LF left: blank lines at the end, which peers append. */
static bool only_blank(const char *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (p[i] != '\r' && p[i] != '\n')
			return false;
	}
	return true;
}

/* Cut the line starting at pos: "x=..." up to LF or CRLF or the end. */
static enum sdp_err split_line(const struct sdp *s, uint32_t pos, struct sdp_line *l)
{
	const char *p = s->buf + pos;
	uint32_t rest = s->len - pos;
	const char *nl = memchr(p, '\n', rest);
	uint32_t n = nl ? (uint32_t)(nl - p) : rest;

	l->off = pos;
	l->eol = nl ? 1 : 0;
	if (nl && n > 0 && p[n - 1] == '\r') {
		n--;
		l->eol = 2;
	}
	l->len = (uint16_t)n; /* n < SDP_MAX_BODY */
	if (n < 2 || !is_alpha(p[0]) || p[1] != '=')
		return SDP_E_BAD_LINE;
	if (memchr(p, '\r', n) != NULL) /* a CR not before LF */
		return SDP_E_BAD_LINE;
	l->type = p[0];
	return SDP_E_OK;
}

/* A failed parse leaves no lines and no media, so a caller that uses the
 * struct anyway gets -EINVAL from sdp_rewrite() and empty accessors rather
 * than views of a half-parsed line. */
static enum sdp_err fail(struct sdp *s, uint32_t off, enum sdp_err e)
{
	s->err_off = off;
	s->nlines = 0;
	s->nmedia = 0;
	return e;
}

/* Rules that need the whole body. */
static enum sdp_err finish(struct sdp *s)
{
	if (s->nlines == 0)
		return fail(s, 0, SDP_E_NOT_SDP);
	if (!s->origin.conn.present)
		return fail(s, s->len, SDP_E_MISSING_O);
	if (s->name.p == NULL)
		return fail(s, s->len, SDP_E_MISSING_S);
	if (s->ntime == 0)
		return fail(s, s->len, SDP_E_MISSING_T);
	if (s->nmedia == 0)
		s->session_end = s->nlines;
	/* RFC 8866 5.7: c= at session level or in every media. A disabled
	 * stream (port 0) without one is let through: peers omit it there and
	 * nothing is ever sent to it. */
	for (unsigned i = 0; i < s->nmedia; i++) {
		const struct sdp_media *m = &s->media[i];
		if (m->port != 0 && !m->conn.present && !s->conn.present)
			return fail(s, s->line[m->line].off, SDP_E_NO_CONN);
	}
	return SDP_E_OK;
}

static void sdp_reset(struct sdp *s, const char *buf)
{
	/* The media and line arrays are filled as they are used; clearing 7 KiB
	 * per message would cost more than the parse of a typical body. */
	memset(s, 0, offsetof(struct sdp, media));
	s->buf = buf;
	s->conn.line = SDP_NO_LINE;
	s->origin.conn.line = SDP_NO_LINE;
}

enum sdp_err sdp_parse(struct sdp *s, const char *buf, size_t len)
{
	uint32_t pos = 0;

	sdp_reset(s, buf);
	if (buf == NULL || len == 0)
		return fail(s, 0, SDP_E_NOT_SDP);
	if (len > SDP_MAX_BODY)
		return fail(s, 0, SDP_E_TOO_BIG);
	s->len = (uint32_t)len;
	const char *nul = memchr(buf, '\0', len);
	if (nul != NULL)
		return fail(s, (uint32_t)(nul - buf), SDP_E_NUL_BYTE);

	while (pos < s->len) {
		if ((buf[pos] == '\r' || buf[pos] == '\n') && only_blank(buf + pos, s->len - pos))
			break;
		if (s->nlines == SDP_MAX_LINES)
			return fail(s, pos, SDP_E_TOO_MANY_LINES);
		uint16_t idx = s->nlines;
		struct sdp_line *l = &s->line[idx];
		enum sdp_err e = split_line(s, pos, l);
		if (e != SDP_E_OK)
			return fail(s, pos, idx == 0 ? SDP_E_NOT_SDP : e);
		s->nlines++;
		e = parse_line(s, l, idx);
		if (e != SDP_E_OK)
			return fail(s, pos, e);
		if (s->nmedia > 0)
			s->media[s->nmedia - 1].end = (uint16_t)(idx + 1);
		pos += (uint32_t)l->len + l->eol;
	}
	return finish(s);
}

enum sdp_err sdp_check(const struct sdp *s)
{
	unsigned active = 0;

	if (s->nmedia == 0)
		return SDP_E_NO_MEDIA;
	for (unsigned i = 0; i < s->nmedia; i++) {
		const struct sdp_media *m = &s->media[i];
		const struct sdp_conn *c = sdp_media_conn(s, i);
		if (m->port == 0)
			continue;
		active++;
		if (m->nports != 1)
			return SDP_E_UNSUPPORTED_MEDIA;
		if (c == NULL || c->type == SDP_AT_OTHER || c->fqdn || c->multicast || m->nconn > 1)
			return SDP_E_UNSUPPORTED_CONN;
		c = &m->rtcp_conn;
		if (c->present && (c->type == SDP_AT_OTHER || c->fqdn || c->multicast))
			return SDP_E_UNSUPPORTED_CONN;
	}
	return active ? SDP_E_OK : SDP_E_NO_ACTIVE_MEDIA;
}

/* ---- accessors -------------------------------------------------------- */

const struct sdp_conn *sdp_media_conn(const struct sdp *s, unsigned i)
{
	if (i >= s->nmedia)
		return NULL;
	if (s->media[i].conn.present)
		return &s->media[i].conn;
	return s->conn.present ? &s->conn : NULL;
}

enum sdp_dir sdp_media_dir(const struct sdp *s, unsigned i)
{
	if (i >= s->nmedia)
		return SDP_DIR_NONE;
	if (s->media[i].dir != SDP_DIR_NONE)
		return (enum sdp_dir)s->media[i].dir;
	if (s->dir != SDP_DIR_NONE)
		return (enum sdp_dir)s->dir;
	return SDP_DIR_SENDRECV;
}

bool sdp_media_is_hold(const struct sdp *s, unsigned i)
{
	if (i >= s->nmedia)
		return false;

	const struct sdp_conn *c = sdp_media_conn(s, i);
	enum sdp_dir d = sdp_media_dir(s, i);
	/* ICE agents put 0.0.0.0 / :: in c= before they have candidates
	 * (RFC 8839 5.1, trickle): that is not a hold. */
	bool ice = s->ice || s->media[i].ice || s->media[i].ncandidates;

	if (c != NULL && c->unspec && !ice)
		return true;
	return d == SDP_DIR_SENDONLY || d == SDP_DIR_INACTIVE;
}

bool sdp_is_hold(const struct sdp *s)
{
	unsigned active = 0;

	for (unsigned i = 0; i < s->nmedia; i++) {
		if (s->media[i].port == 0)
			continue;
		if (!sdp_media_is_hold(s, i))
			return false;
		active++;
	}
	return active > 0;
}

int sdp_media_rtcp_port(const struct sdp *s, unsigned i)
{
	const struct sdp_media *m = sdp_media(s, i);

	if (m == NULL)
		return -EINVAL;
	if (m->port == 0 || m->rtcp_mux)
		return m->port;
	if (m->has_rtcp)
		return m->rtcp_port;
	return m->port == 65535 ? -ERANGE : m->port + 1;
}

int sdp_fmt_next(const struct sdp_media *m, uint32_t *pos, sip_str_t *fmt)
{
	return tok_next(m->fmts, pos, fmt) ? 1 : 0;
}

int sdp_attr_next(const struct sdp *s, int media, const char *name, uint16_t *pos,
		  sip_str_t *value)
{
	unsigned from = 0, to = s->session_end;

	if (media >= 0) {
		if ((unsigned)media >= s->nmedia)
			return 0;
		from = s->media[media].line;
		to = s->media[media].end;
	}
	for (unsigned i = *pos > from ? *pos : from; i < to; i++) {
		sip_str_t n;
		if (s->line[i].type != 'a')
			continue;
		attr_split(line_value(s, &s->line[i]), &n, value);
		if (lit_caseeq(n, name)) {
			*pos = (uint16_t)(i + 1);
			return 1;
		}
	}
	*pos = (uint16_t)to;
	return 0;
}

/* ---- rewriter ----------------------------------------------------------- */

struct rw {
	const struct sdp *s;
	const struct sdp_rewrite *spec;
	char *out;
	size_t cap;
	size_t len;
	uint32_t cur;          /* input bytes consumed (copied or replaced) */
	bool full;             /* out of room: keep going, report -ENOSPC */
	bool bad;              /* a splice went backwards: internal error */
	struct sdp_addr sess;  /* the session c= address to write, or empty */
	bool insert_c[SDP_MAX_MEDIA];
};

static void put(struct rw *w, const char *p, size_t n)
{
	if (w->full || n == 0)
		return;
	if (n > w->cap - w->len) {
		w->full = true;
		return;
	}
	memcpy(w->out + w->len, p, n);
	w->len += n;
}

static inline void put_str(struct rw *w, sip_str_t v) { put(w, v.p, v.len); }

/* Copy the input up to off, then skip len input bytes. */
static void splice(struct rw *w, uint32_t off, uint32_t len)
{
	/* Edits come in input order and inside the body; anything else is a
	 * bug here, refused rather than turned into a wild copy. */
	if (off < w->cur || off > w->s->len || len > w->s->len - off) {
		w->bad = true;
		return;
	}
	put(w, w->s->buf + w->cur, off - w->cur);
	w->cur = off + len;
}

static void replace(struct rw *w, sip_str_t old, sip_str_t with)
{
	splice(w, (uint32_t)(old.p - w->s->buf), old.len);
	put_str(w, with);
}

static sip_str_t u16_str(char buf[6], uint16_t v)
{
	char tmp[5];
	unsigned n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (unsigned i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return (sip_str_t){ buf, n };
}

static sip_str_t at_name(enum sdp_addrtype t)
{
	return t == SDP_AT_IP6 ? SIP_STR("IP6") : SIP_STR("IP4");
}

static inline bool addr_set(const struct sdp_addr *a) { return a->addr.len != 0; }

static bool addr_same(const struct sdp_addr *a, const struct sdp_addr *b)
{
	return a->type == b->type && a->addr.len == b->addr.len &&
	       memcmp(a->addr.p, b->addr.p, a->addr.len) == 0;
}

/* Put a's nettype, addrtype and address into the tokens of c, changing only
 * the tokens that differ in kind (a plain address swap touches one token). */
static void replace_conn(struct rw *w, const struct sdp_conn *c, const struct sdp_addr *a)
{
	if (!lit_caseeq(c->nettype, "IN"))
		replace(w, c->nettype, SIP_STR("IN"));
	if (c->type != a->type)
		replace(w, c->addrtype, at_name(a->type));
	replace(w, c->token, a->addr);
}

/* The address media k will carry after the rewrite, if it changes. */
static const struct sdp_addr *media_new_addr(const struct rw *w, unsigned k)
{
	const struct sdp_addr *a = &w->spec->media[k].conn;

	if (addr_set(a))
		return a;
	if (w->s->media[k].nconn == 0 && addr_set(&w->sess))
		return &w->sess;
	return NULL;
}

static uint16_t new_port(const struct rw *w, unsigned k)
{
	const struct sdp_media_rewrite *mr = &w->spec->media[k];

	return mr->set_port ? mr->port : w->s->media[k].port;
}

/* Decide the session c= address and which media need a c= line of their
 * own (see sdp.h: promote a common address, else insert). */
static void plan_conn(struct rw *w)
{
	const struct sdp *s = w->s;
	const struct sdp_addr *common = NULL;
	bool promote = s->conn.present;

	/* Without a session c= line there is nothing to carry spec->conn. */
	w->sess = s->conn.present ? w->spec->conn : (struct sdp_addr){ SIP_STR_NULL, SDP_AT_OTHER };
	for (unsigned k = 0; k < s->nmedia && !addr_set(&w->sess); k++) {
		const struct sdp_addr *a = &w->spec->media[k].conn;
		if (s->media[k].nconn != 0)
			continue;
		if (!addr_set(a))
			promote &= new_port(w, k) == 0;
		else if (common == NULL)
			common = a;
		else
			promote &= addr_same(common, a);
	}
	if (!addr_set(&w->sess) && promote && common != NULL)
		w->sess = *common;

	struct sdp_addr cur = w->sess;
	if (!addr_set(&cur) && s->conn.present)
		cur = (struct sdp_addr){ s->conn.token, (enum sdp_addrtype)s->conn.type };
	for (unsigned k = 0; k < s->nmedia; k++) {
		const struct sdp_addr *a = &w->spec->media[k].conn;
		w->insert_c[k] = s->media[k].nconn == 0 && addr_set(a) &&
				 !(addr_set(&cur) && addr_same(a, &cur));
	}
}

static void rw_origin(struct rw *w)
{
	const struct sdp_rewrite *sp = w->spec;
	const struct sdp_origin *o = &w->s->origin;

	if (sp->origin_user.len)
		replace(w, o->user, sp->origin_user);
	if (sp->origin_sess_id.len)
		replace(w, o->sess_id, sp->origin_sess_id);
	if (sp->origin_sess_version.len)
		replace(w, o->sess_version, sp->origin_sess_version);
	if (addr_set(&sp->origin))
		replace_conn(w, &o->conn, &sp->origin);
}

static void rw_conn(struct rw *w, const struct sdp_line *l)
{
	const struct sdp_addr *a = l->media ? &w->spec->media[l->media - 1].conn : &w->sess;
	struct sdp_conn c;

	if (!addr_set(a) || !c_line_parse(line_value(w->s, l), &c))
		return;
	replace_conn(w, &c, a);
}

static void rw_port(struct rw *w, const struct sdp_line *l)
{
	const struct sdp_media_rewrite *mr = &w->spec->media[l->media - 1];
	char num[6];

	if (mr->set_port)
		replace(w, w->s->media[l->media - 1].port_str, u16_str(num, mr->port));
}

static void delete_line(struct rw *w, const struct sdp_line *l)
{
	splice(w, l->off, (uint32_t)l->len + l->eol);
}

static bool rw_rtcp(struct rw *w, const struct sdp_line *l)
{
	unsigned k = l->media - 1u;
	const struct sdp_media_rewrite *mr = &w->spec->media[k];
	const struct sdp_addr *a = media_new_addr(w, k);
	sip_str_t name, value, tok;
	struct sdp_conn c;
	uint16_t port;
	char num[6];

	if (mr->rtcp == SDP_RTCP_REMOVE) {
		delete_line(w, l);
		return true;
	}
	attr_split(line_value(w->s, l), &name, &value);
	if (!rtcp_parse(value, &port, &tok, &c))
		return false;
	if (mr->rtcp == SDP_RTCP_SET)
		replace(w, tok, u16_str(num, mr->rtcp_port));
	if (!c.present)
		return false;
	if (w->spec->flags & SDP_RW_RTCP_DROP_ADDR) {
		uint32_t from = (uint32_t)(tok.p + tok.len - w->s->buf);
		splice(w, from, (uint32_t)(c.token.p + c.token.len - w->s->buf) - from);
	} else if (a != NULL) {
		replace_conn(w, &c, a);
	}
	return false;
}

/* Edit or delete an a= line; true when the line is gone. */
static bool rw_attr(struct rw *w, const struct sdp_line *l)
{
	uint32_t fl = w->spec->flags;

	switch ((enum sdp_attr_id)l->attr) {
	case SDP_A_CANDIDATE:
	case SDP_A_REMOTE_CANDIDATES:
		if (!(fl & (SDP_RW_STRIP_CANDIDATES | SDP_RW_STRIP_ICE)))
			return false;
		delete_line(w, l);
		return true;
	case SDP_A_ICE_UFRAG:
	case SDP_A_ICE_PWD:
	case SDP_A_ICE_OPTIONS:
	case SDP_A_ICE_LITE:
	case SDP_A_ICE_MISMATCH:
	case SDP_A_ICE_PACING:
	case SDP_A_END_OF_CANDIDATES:
		if (!(fl & SDP_RW_STRIP_ICE))
			return false;
		delete_line(w, l);
		return true;
	case SDP_A_RTCP:
		return l->media ? rw_rtcp(w, l) : false;
	default:
		return false;
	}
}

/* Start a new line after l (whose own bytes are already handled) and
 * return the terminator to end it with. need_eol: l is an unterminated last
 * line still in the output, so it gets a terminator first. */
static sip_str_t insert_after(struct rw *w, const struct sdp_line *l, bool need_eol)
{
	sip_str_t eol = w->s->line[0].eol == 1 ? SIP_STR("\n") : SIP_STR("\r\n");

	if (l->eol != 0)
		eol = (sip_str_t){ w->s->buf + l->off + l->len, l->eol };
	splice(w, l->off + l->len + l->eol, 0);
	if (need_eol)
		put_str(w, eol);
	return eol;
}

static void insert_c_line(struct rw *w, const struct sdp_line *l, bool need_eol,
			  const struct sdp_addr *a)
{
	sip_str_t eol = insert_after(w, l, need_eol);

	put_str(w, SIP_STR("c=IN "));
	put_str(w, at_name(a->type));
	put_str(w, SIP_STR(" "));
	put_str(w, a->addr);
	put_str(w, eol);
}

static void insert_rtcp_line(struct rw *w, const struct sdp_line *l, bool need_eol,
			     uint16_t port)
{
	sip_str_t eol = insert_after(w, l, need_eol);
	char num[6];

	put_str(w, SIP_STR("a=rtcp:"));
	put_str(w, u16_str(num, port));
	put_str(w, eol);
}

/* Lines added to media section k after line i: its c= right after the m=
 * line and any i= lines (RFC 8866 order m i c b k a), its a=rtcp last. */
static void rw_inserts(struct rw *w, unsigned i, bool gone)
{
	const struct sdp_line *l = &w->s->line[i];
	unsigned k = l->media - 1u;
	const struct sdp_media *m = &w->s->media[k];
	const struct sdp_media_rewrite *mr = &w->spec->media[k];
	bool next_is_i = i + 1 < m->end && w->s->line[i + 1].type == 'i';
	bool need_eol = l->eol == 0 && !gone;

	if (w->insert_c[k] && (l->type == 'm' || l->type == 'i') && !next_is_i) {
		insert_c_line(w, l, need_eol, &mr->conn);
		w->insert_c[k] = false;
		need_eol = false; /* the output now ends with our terminator */
	}
	if (i + 1 == m->end && mr->rtcp == SDP_RTCP_SET && !m->has_rtcp)
		insert_rtcp_line(w, l, need_eol, mr->rtcp_port);
}

static bool token_ok(sip_str_t t, bool digits)
{
	if (t.len > 255 || (t.len != 0 && t.p == NULL))
		return false;
	for (uint32_t i = 0; i < t.len; i++) {
		char c = t.p[i];
		if (c <= ' ' || c > '~' || (digits && !is_digit(c)))
			return false;
	}
	return true;
}

static bool spec_addr_ok(const struct sdp_addr *a)
{
	if (!addr_set(a))
		return true;
	if (a->type != SDP_AT_IP4 && a->type != SDP_AT_IP6)
		return false;
	return token_ok(a->addr, false) && memchr(a->addr.p, '/', a->addr.len) == NULL;
}

static bool spec_ok(const struct sdp_rewrite *sp)
{
	if (!spec_addr_ok(&sp->origin) || !spec_addr_ok(&sp->conn) ||
	    !token_ok(sp->origin_user, false) || !token_ok(sp->origin_sess_id, true) ||
	    !token_ok(sp->origin_sess_version, true))
		return false;
	for (unsigned k = 0; k < SDP_MAX_MEDIA; k++) {
		const struct sdp_media_rewrite *mr = &sp->media[k];
		if ((unsigned)mr->rtcp > SDP_RTCP_REMOVE || !spec_addr_ok(&mr->conn))
			return false;
	}
	return true;
}

/* Would media k end up with a port but no connection address? Only a
 * port-0 stream may lack c= (sdp_parse() lets it through), and giving it a
 * port without an address would emit SDP that sdp_parse() refuses. */
static bool spec_orphans_media(const struct sdp *s, const struct sdp_rewrite *sp)
{
	for (unsigned k = 0; k < s->nmedia; k++) {
		const struct sdp_media_rewrite *mr = &sp->media[k];
		uint16_t port = mr->set_port ? mr->port : s->media[k].port;
		if (port != 0 && s->media[k].nconn == 0 && !s->conn.present && !addr_set(&mr->conn))
			return true;
	}
	return false;
}

int sdp_rewrite(const struct sdp *s, const struct sdp_rewrite *spec, char *out, size_t cap)
{
	struct rw w = { .s = s, .spec = spec, .out = out, .cap = cap };

	if (s == NULL || spec == NULL || s->buf == NULL || s->nlines == 0 ||
	    (out == NULL && cap != 0) || !spec_ok(spec) || spec_orphans_media(s, spec))
		return -EINVAL;
	if (w.cap > INT_MAX)
		w.cap = INT_MAX;
	plan_conn(&w);
	for (unsigned i = 0; i < s->nlines; i++) {
		const struct sdp_line *l = &s->line[i];
		bool gone = false;
		switch (l->type) {
		case 'o': rw_origin(&w); break;
		case 'c': rw_conn(&w, l); break;
		case 'm': rw_port(&w, l); break;
		case 'a': gone = rw_attr(&w, l); break;
		default: break;
		}
		if (l->media != 0)
			rw_inserts(&w, i, gone);
	}
	splice(&w, s->len, 0); /* the tail: blank lines the peer appended */
	if (w.bad)
		return -EINVAL;
	return w.full ? -ENOSPC : (int)w.len;
}
