/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Start line, header index and body framing (sip_parse), and the RFC 3261
 * sanity rules a proxy applies before acting (sip_check).
 *
 * Liberal readings chosen where RFC 4475 allows one (documented per rule):
 *  - leading CRLFs before the start line are skipped (RFC 3261 7.5);
 *  - bare LF is accepted as a line end;
 *  - trailing octets after Content-Length are ignored on datagrams (18.3);
 *  - no Content-Length: the body runs to the end of the datagram (RFC 2543);
 *  - a Via branch of only the magic cookie is accepted; the transaction layer
 *    then falls back to RFC 2543 matching (sip_branch_is_3261() is false);
 *  - extra SP in the Request-Line and trailing SP are rejected (400), as is
 *    LWS inside the Request-URI and a Request-URI in <> — forwarding any of
 *    them would propagate the error.
 */
#include <errno.h>
#include <string.h>

#include "sip_int.h"

int sip_parse_u32(sip_str_t s, uint32_t *out)
{
	if (s.len == 0)
		return -EINVAL;
	uint64_t v = 0;
	for (uint32_t i = 0; i < s.len; i++) {
		unsigned d = (unsigned char)s.p[i] - '0';
		if (d > 9)
			return -EINVAL;
		v = v * 10 + d;
		if (v > UINT32_MAX)
			return -ERANGE;
	}
	*out = (uint32_t)v;
	return 0;
}

/* Find the end of the line starting at i: returns the index of its LF (or
 * n if none); *content_end is the index before CR LF / LF. */
static inline uint32_t line_end(const char *p, uint32_t i, uint32_t n, uint32_t *content_end)
{
	const char *lf = memchr(p + i, '\n', n - i);
	uint32_t e = lf ? (uint32_t)(lf - p) : n;
	uint32_t c = e;
	if (lf && c > i && p[c - 1] == '\r')
		c--;
	*content_end = c;
	return e;
}

static bool is_token(sip_str_t s)
{
	if (s.len == 0)
		return false;
	for (uint32_t i = 0; i < s.len; i++)
		if (!cc_is((unsigned char)s.p[i], CC_TOKEN))
			return false;
	return true;
}

/* "SIP/" 1*DIGIT "." 1*DIGIT, "SIP" case-insensitive. 1: SIP/2.0, 0: another
 * SIP version, -1: not a SIP version at all. */
static int check_version(sip_str_t v)
{
	if (v.len < 7 || !sip_str_caseeq((sip_str_t){ v.p, 4 }, SIP_STR("SIP/")))
		return -1;
	uint32_t i = 4, d1 = 0, d2 = 0;
	while (i < v.len && cc_is((unsigned char)v.p[i], CC_DIGIT))
		i++, d1++;
	if (!d1 || i >= v.len || v.p[i] != '.')
		return -1;
	for (i++; i < v.len && cc_is((unsigned char)v.p[i], CC_DIGIT); i++)
		d2++;
	if (!d2 || i != v.len)
		return -1;
	return v.len == 7 && v.p[4] == '2' && v.p[6] == '0';
}

static enum sip_err parse_status_line(struct sip_msg *m, sip_str_t line)
{
	m->is_request = false;
	const char *sp = memchr(line.p, ' ', line.len);
	if (!sp)
		return SIP_E_DROP_RESPONSE;
	m->version = (sip_str_t){ line.p, (uint32_t)(sp - line.p) };
	if (check_version(m->version) != 1)
		return SIP_E_DROP_RESPONSE;
	uint32_t i = (uint32_t)(sp - line.p) + 1;
	/* Status-Code is exactly 3 digits, 100..699; "4294967301" must not wrap. */
	if (line.len - i < 3)
		return SIP_E_DROP_RESPONSE;
	uint32_t code = 0;
	for (uint32_t k = 0; k < 3; k++) {
		unsigned d = (unsigned char)line.p[i + k] - '0';
		if (d > 9)
			return SIP_E_DROP_RESPONSE;
		code = code * 10 + d;
	}
	i += 3;
	if (code < 100 || code > 699)
		return SIP_E_DROP_RESPONSE;
	if (i < line.len && line.p[i] != ' ')
		return SIP_E_DROP_RESPONSE;
	m->status = (uint16_t)code;
	/* Reason-Phrase may be empty ("SIP/2.0 100 ") and may hold UTF-8. */
	m->reason = i < line.len ? str_sub(line, i + 1, line.len) : SIP_STR_NULL;
	for (uint32_t k = 0; k < m->reason.len; k++) {
		unsigned char c = (unsigned char)m->reason.p[k];
		if (c < 0x20 && c != '\t')
			return SIP_E_DROP_RESPONSE;
	}
	return SIP_E_OK;
}

static enum sip_err parse_request_line(struct sip_msg *m, sip_str_t line)
{
	m->is_request = true;
	const char *sp1 = memchr(line.p, ' ', line.len);
	if (!sp1)
		return SIP_E_DROP_START_LINE;
	m->method_name = (sip_str_t){ line.p, (uint32_t)(sp1 - line.p) };
	if (!is_token(m->method_name))
		return SIP_E_DROP_START_LINE;
	m->method = sip_method_from(m->method_name);
	/* The version is the last SP-separated word; without a SIP version this
	 * is not a SIP request at all (HTTP, garbage): drop. */
	uint32_t last_sp = line.len;
	while (last_sp > 0 && line.p[last_sp - 1] != ' ')
		last_sp--;
	uint32_t first = (uint32_t)(sp1 - line.p);
	sip_str_t ver = str_sub(line, last_sp, line.len);
	if (last_sp - 1 == first) {
		/* only one SP: either "METHOD URI" without version or trailing SP */
		if (ver.len == 0)
			return SIP_E_BAD_REQUEST_LINE;
		return SIP_E_DROP_START_LINE;
	}
	if (ver.len == 0) {
		/* trailing SP after the version (RFC 4475 trws) */
		return SIP_E_BAD_REQUEST_LINE;
	}
	int vr = check_version(ver);
	if (vr < 0)
		return SIP_E_DROP_START_LINE;
	m->version = ver;
	sip_str_t uri = str_sub(line, first + 1, last_sp - 1);
	if (uri.len == 0 || uri.p[0] == ' ')
		return SIP_E_BAD_REQUEST_LINE; /* several SP between elements (lwsstart) */
	if (uri.len > SIP_MAX_URI)
		return SIP_E_RURI_TOO_LONG;
	for (uint32_t i = 0; i < uri.len; i++) {
		unsigned char c = (unsigned char)uri.p[i];
		if (c <= 0x20 || c >= 0x7f)
			return SIP_E_BAD_RURI; /* LWS inside the R-URI (lwsruri), NUL, 8-bit */
	}
	if (uri.p[0] == '<')
		return SIP_E_BAD_RURI; /* R-URI in <> (ltgtruri) */
	m->ruri = uri;
	if (vr == 0)
		return SIP_E_BAD_VERSION;
	return SIP_E_OK;
}

static enum sip_err parse_start_line(struct sip_msg *m, uint32_t *pos)
{
	const char *p = m->buf;
	uint32_t n = m->len, i = *pos, ce;
	uint32_t e = line_end(p, i, n, &ce);
	if (e >= n)
		return SIP_E_DROP_START_LINE;
	sip_str_t line = { p + i, ce - i };
	*pos = e + 1;
	m->start_line_end = e + 1;
	if (line.len >= 4 && memcmp(line.p, "SIP/", 4) == 0)
		return parse_status_line(m, line);
	return parse_request_line(m, line);
}

/* NUL is legal only as a quoted-pair (RFC 4475 intmeth has one inside a
 * display name); anywhere else in a header it is an attack or a bug. */
static bool nul_ok(const char *p, uint32_t from, uint32_t to)
{
	const char *z = memchr(p + from, '\0', to - from);
	while (z) {
		if (z == p + from || z[-1] != '\\')
			return false;
		uint32_t at = (uint32_t)(z - p) + 1;
		z = at < to ? memchr(p + at, '\0', to - at) : NULL;
	}
	return true;
}

static enum sip_err add_header(struct sip_msg *m, uint32_t off, uint32_t end,
			       sip_str_t name, sip_str_t value, enum sip_hdr_id id)
{
	if (m->nhdr >= SIP_MAX_HEADERS)
		return SIP_E_TOO_MANY_HEADERS;
	uint16_t idx = m->nhdr++;
	struct sip_hdr *h = &m->hdr[idx];
	h->name = name;
	h->value = value;
	h->off = off;
	h->end = end;
	h->id = (uint16_t)id;
	h->next = SIP_HDR_NONE;
	if (m->last[id] != SIP_HDR_NONE)
		m->hdr[m->last[id]].next = idx;
	else
		m->first[id] = idx;
	m->last[id] = idx;
	if (m->count[id] < 255)
		m->count[id]++;
	return SIP_E_OK;
}

/* One logical header line starting at i (folded continuation lines
 * included). On success *next is the offset of the following line. */
static enum sip_err parse_header(struct sip_msg *m, uint32_t i, uint32_t *next)
{
	const char *p = m->buf;
	uint32_t n = m->len, k = i, hash = 0;
	while (k < n && cc_is((unsigned char)p[k], CC_TOKEN))
		hash = sip_hdr_hash_step(hash, (unsigned char)p[k++]);
	sip_str_t name = { p + i, k - i };
	while (k < n && cc_is((unsigned char)p[k], CC_WSP))
		k++;
	if (name.len == 0 || k >= n || p[k] != ':')
		return k < n && p[k] == '\0' ? SIP_E_NUL_BYTE : SIP_E_BAD_HEADER;
	uint32_t vstart = k + 1, ce, e;
	/* Extend over folded lines: a line end followed by SP/HT continues. */
	for (;;) {
		e = line_end(p, k, n, &ce);
		if (e >= n)
			return SIP_E_NO_HEADER_END;
		if (e + 1 < n && cc_is((unsigned char)p[e + 1], CC_WSP)) {
			k = e + 1;
			continue;
		}
		break;
	}
	if (e + 1 - i > SIP_MAX_LINE)
		return SIP_E_LINE_TOO_LONG;
	if (m->has_nul && !nul_ok(p, i, ce))
		return SIP_E_NUL_BYTE;
	sip_str_t value = sip_trim((sip_str_t){ p + vstart, ce - vstart });
	*next = e + 1;
	return add_header(m, i, e + 1, name, value, sip_hdr_lookup_hashed(name, hash));
}

static enum sip_err frame_body(struct sip_msg *m)
{
	uint32_t avail = m->len - m->body_off;
	const struct sip_hdr *cl = sip_hdr_first(m, SIP_H_CONTENT_LENGTH);
	if (!cl) {
		/* RFC 2543 / inv2543: the body is the rest of the datagram. */
		m->body_len = avail;
		return SIP_E_OK;
	}
	if (m->count[SIP_H_CONTENT_LENGTH] > 1)
		return SIP_E_DUP_CONTENT_LENGTH;
	uint32_t v;
	int r = sip_parse_u32(cl->value, &v);
	if (r == -ERANGE)
		return SIP_E_CL_MISMATCH;
	if (r < 0)
		return SIP_E_BAD_CONTENT_LENGTH;
	if (v > avail)
		return SIP_E_CL_MISMATCH;
	m->has_content_length = true;
	m->body_len = v; /* octets beyond it are ignored (RFC 3261 18.3, dblreq) */
	return SIP_E_OK;
}

enum sip_err sip_parse(struct sip_msg *m, const char *buf, size_t len)
{
	m->buf = buf;
	m->len = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
	m->nhdr = 0;
	m->method = SIP_M_UNKNOWN;
	m->method_name = m->ruri = m->reason = m->version = SIP_STR_NULL;
	m->status = 0;
	m->body_off = m->body_len = m->hdr_end = 0;
	m->has_content_length = false;
	m->checked = false;
	memset(m->first, 0xff, sizeof(m->first));
	memset(m->last, 0xff, sizeof(m->last));
	memset(m->count, 0, sizeof(m->count));

	uint32_t pos = 0;
	while (pos < m->len && (buf[pos] == '\r' || buf[pos] == '\n'))
		pos++; /* RFC 3261 7.5: CRLFs before the start line are ignored */
	enum sip_err e = parse_start_line(m, &pos);
	enum sip_err deferred = SIP_E_OK;
	if (e != SIP_E_OK) {
		/* A request whose start line is answerable (505, 414, 400) still
		 * gets its headers indexed: the answer must reach its Via. */
		if (!m->is_request || sip_err_status(e) == 0)
			return e;
		deferred = e;
	}
	if (len > SIP_MAX_MSG && deferred == SIP_E_OK)
		deferred = SIP_E_TOO_BIG;
	/* One vectorised pass for NUL over the message; per-line checks only
	 * when there is one (rare: quoted-pair NUL, or an attack). */
	m->has_nul = memchr(buf + pos, '\0', m->len - pos) != NULL;
	for (;;) {
		if (pos >= m->len)
			return deferred != SIP_E_OK ? deferred : SIP_E_NO_HEADER_END;
		if (buf[pos] == '\n' || (buf[pos] == '\r' && pos + 1 < m->len && buf[pos + 1] == '\n')) {
			m->hdr_end = pos;
			m->body_off = pos + (buf[pos] == '\r' ? 2 : 1);
			break;
		}
		e = parse_header(m, pos, &pos);
		if (e != SIP_E_OK)
			return deferred != SIP_E_OK ? deferred : e;
	}
	e = frame_body(m);
	return deferred != SIP_E_OK ? deferred : e;
}

uint16_t sip_verdict_status(const struct sip_msg *m, enum sip_err e)
{
	if (e == SIP_E_OK || !m->is_request || m->method == SIP_M_ACK)
		return 0; /* never answer responses or ACK */
	return sip_err_status(e);
}

const struct sip_hdr *sip_hdr_find(const struct sip_msg *m, sip_str_t name)
{
	enum sip_hdr_id id = sip_hdr_lookup(name);
	if (id != SIP_H_OTHER)
		return sip_hdr_first(m, id);
	for (uint16_t i = 0; i < m->nhdr; i++)
		if (m->hdr[i].id == SIP_H_OTHER && sip_str_caseeq(m->hdr[i].name, name))
			return &m->hdr[i];
	return NULL;
}

/* ---- sip_check --------------------------------------------------------- */

static enum sip_err check_presence(const struct sip_msg *m)
{
	static const struct { uint8_t id, missing, dup; } single[] = {
		{ SIP_H_FROM, SIP_E_MISSING_FROM, SIP_E_DUP_FROM },
		{ SIP_H_TO, SIP_E_MISSING_TO, SIP_E_DUP_TO },
		{ SIP_H_CALL_ID, SIP_E_MISSING_CALL_ID, SIP_E_DUP_CALL_ID },
		{ SIP_H_CSEQ, SIP_E_MISSING_CSEQ, SIP_E_DUP_CSEQ },
		{ SIP_H_MAX_FORWARDS, SIP_E_OK, SIP_E_DUP_MAX_FORWARDS },
		{ SIP_H_CONTENT_TYPE, SIP_E_OK, SIP_E_DUP_CONTENT_TYPE },
	};
	if (m->count[SIP_H_VIA] == 0)
		return SIP_E_MISSING_VIA;
	for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++) {
		uint8_t c = m->count[single[i].id];
		if (c == 0 && single[i].missing != SIP_E_OK)
			return (enum sip_err)single[i].missing;
		if (c > 1)
			return (enum sip_err)single[i].dup;
	}
	return SIP_E_OK;
}

static bool call_id_ok(sip_str_t v)
{
	uint32_t at = 0;
	if (v.len == 0)
		return false;
	for (uint32_t i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.p[i];
		if (c == '@') {
			if (++at > 1 || i == 0 || i + 1 == v.len)
				return false;
		} else if (!cc_is(c, CC_WORD)) {
			return false;
		}
	}
	return true;
}

static enum sip_err check_vias(struct sip_msg *m)
{
	struct sip_via_iter it;
	struct sip_via via;
	unsigned n = 0;
	int r;
	sip_via_init(&it, m);
	while ((r = sip_via_next(&it, n ? &via : &m->top_via)) > 0)
		if (++n > SIP_MAX_VIA)
			return SIP_E_TOO_MANY_VIAS;
	if (r < 0)
		return SIP_E_BAD_VIA;
	return n ? SIP_E_OK : SIP_E_MISSING_VIA;
}

static enum sip_err check_contacts(const struct sip_msg *m)
{
	struct sip_list_iter it;
	sip_str_t v;
	struct sip_contact c;
	unsigned n = 0;
	bool star = false;
	int r;
	sip_list_init(&it, m, SIP_H_CONTACT);
	while ((r = sip_list_next(&it, &v)) > 0) {
		if (sip_contact_parse(v, &c) < 0)
			return SIP_E_BAD_CONTACT;
		star |= c.na.star;
		n++;
	}
	if (r < 0 || (star && n > 1))
		return SIP_E_BAD_CONTACT; /* '*' must stand alone (RFC 3261 10.2.2) */
	return SIP_E_OK;
}

static enum sip_err check_cseq(struct sip_msg *m)
{
	struct sip_cseq *cs = &m->cseq;
	if (sip_cseq_parse(sip_hdr_first(m, SIP_H_CSEQ)->value, cs) < 0)
		return SIP_E_BAD_CSEQ;
	if (!m->is_request || sip_str_eq(cs->method_name, m->method_name))
		return SIP_E_OK;
	/* An unknown method whose CSeq disagrees: 501 is the better answer for
	 * a proxy (RFC 4475 mismatch02); a known one is a plain 400. */
	return m->method == SIP_M_UNKNOWN ? SIP_E_UNKNOWN_METHOD_CSEQ : SIP_E_CSEQ_METHOD;
}

static enum sip_err check_ruri(const struct sip_msg *m)
{
	struct sip_uri u;
	if (sip_uri_parse(m->ruri, &u) < 0)
		return SIP_E_BAD_RURI;
	/* Headers are not allowed in a SIP Request-URI (RFC 3261 19.1.1 table;
	 * RFC 4475 escruri): never let them turn into real headers. */
	if ((u.scheme == SIP_SCHEME_SIP || u.scheme == SIP_SCHEME_SIPS) && u.headers.len)
		return SIP_E_BAD_RURI;
	return SIP_E_OK;
}

static enum sip_err check_numbers(struct sip_msg *m)
{
	uint32_t v;
	int r = sip_msg_max_forwards(m, &m->max_forwards);
	if (r < 0)
		return SIP_E_BAD_MAX_FORWARDS;
	m->has_max_forwards = r > 0;
	if (sip_msg_expires(m, &v) < 0)
		return SIP_E_BAD_EXPIRES;
	return SIP_E_OK;
}

enum sip_err sip_check(struct sip_msg *m)
{
	enum sip_err e = check_presence(m);
	if (e != SIP_E_OK)
		return e;
	if (m->is_request && (e = check_ruri(m)) != SIP_E_OK)
		return e;
	if ((e = check_vias(m)) != SIP_E_OK)
		return e;
	if (sip_nameaddr_parse(sip_hdr_first(m, SIP_H_FROM)->value, &m->from) < 0 || m->from.star)
		return SIP_E_BAD_FROM;
	if (sip_nameaddr_parse(sip_hdr_first(m, SIP_H_TO)->value, &m->to) < 0 || m->to.star)
		return SIP_E_BAD_TO;
	if (!call_id_ok(sip_hdr_first(m, SIP_H_CALL_ID)->value))
		return SIP_E_BAD_CALL_ID;
	if ((e = check_cseq(m)) != SIP_E_OK)
		return e;
	if ((e = check_numbers(m)) != SIP_E_OK)
		return e;
	if ((e = check_contacts(m)) != SIP_E_OK)
		return e;
	m->checked = true;
	return SIP_E_OK;
}
