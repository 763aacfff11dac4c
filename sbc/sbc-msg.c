/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sbc-msg — run the SBC's own SIP parser over captured messages and print
 * what it sees, one JSON object per file (one line each, so the output is
 * JSON Lines and greps/jq's well).
 *
 *   sbc-msg [-q] FILE...        ("-" reads standard input)
 *
 * Each file is one SIP message as raw bytes (it may contain NUL). The file
 * goes through sip_parse() and sip_check() exactly as a datagram would in the
 * daemon, so the verdict printed is the one the SBC would reach: "ok",
 * "reject" (with the "status" and "reason" it would answer, and the "error"
 * name used as metric label) or "drop" (with "error" and "detail"). Unless
 * -q is given, a message that indexed is then dumped: start line, headers,
 * every parsed field and, for an application/sdp body, the SDP as lib/sdp
 * reads it. A present but malformed field is {"malformed": true, "raw": ...}.
 *
 * Exit status: 0 if every file is ok, 1 if any was rejected or dropped,
 * 2 on a usage or I/O error (other files are still processed).
 *
 * JSON strings: '"', '\\' and control bytes (NUL included) are escaped, the
 * usual ones as \n \r \t, the rest as \u00XX. Valid UTF-8 passes through
 * unchanged. A byte that is not part of a valid UTF-8 sequence is written as
 * \u00XX of the byte value: the output stays valid JSON, at the price that
 * such a byte reads back as the Latin-1 character of the same value.
 *
 * This is a debugging tool run by hand, not the data path: it may use stdio
 * and the heap freely.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sdp.h"
#include "sip.h"

/* ---- a minimal streaming JSON writer ----------------------------------- */

#define JW_MAX_DEPTH 16

struct jw {
	FILE *f;
	int depth;
	bool first[JW_MAX_DEPTH]; /* nothing written yet at this nesting level */
	bool after_key;           /* a key was written, its value comes next */
};

static void jw_sep(struct jw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth > 0) {
		if (!w->first[w->depth])
			fputc(',', w->f);
		w->first[w->depth] = false;
	}
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0 if the
 * byte at p does not start one. Rejects overlongs, surrogates and code
 * points above U+10FFFF so the output is strictly valid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

static void jw_strn(struct jw *w, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	jw_sep(w);
	fputc('"', w->f);
	while (i < n) {
		unsigned char c = p[i];
		size_t l;

		switch (c) {
		case '"':  fputs("\\\"", w->f); i++; continue;
		case '\\': fputs("\\\\", w->f); i++; continue;
		case '\n': fputs("\\n", w->f); i++; continue;
		case '\r': fputs("\\r", w->f); i++; continue;
		case '\t': fputs("\\t", w->f); i++; continue;
		default: break;
		}
		if (c < 0x20 || c == 0x7f) {
			fprintf(w->f, "\\u%04x", c);
			i++;
			continue;
		}
		l = utf8_seq(p + i, n - i);
		if (l == 0) {
			fprintf(w->f, "\\u%04x", c);
			i++;
			continue;
		}
		fwrite(p + i, 1, l, w->f);
		i += l;
	}
	fputc('"', w->f);
}

static void jw_str(struct jw *w, sip_str_t s)
{
	if (s.p == NULL && s.len == 0) {
		jw_sep(w);
		fputs("null", w->f);
		return;
	}
	jw_strn(w, s.p, s.len);
}

static void jw_cstr(struct jw *w, const char *s)
{
	if (s == NULL) {
		jw_sep(w);
		fputs("null", w->f);
		return;
	}
	jw_strn(w, s, strlen(s)); /* our own literals and argv, not packet data */
}

static void jw_key(struct jw *w, const char *k)
{
	jw_cstr(w, k);
	fputc(':', w->f);
	w->after_key = true;
}

static void jw_u64(struct jw *w, uint64_t v)
{
	jw_sep(w);
	fprintf(w->f, "%llu", (unsigned long long)v);
}

static void jw_bool(struct jw *w, bool v)
{
	jw_sep(w);
	fputs(v ? "true" : "false", w->f);
}

static void jw_open(struct jw *w, char c)
{
	jw_sep(w);
	fputc(c, w->f);
	if (w->depth + 1 < JW_MAX_DEPTH)
		w->depth++;
	w->first[w->depth] = true;
}

static void jw_close(struct jw *w, char c)
{
	fputc(c, w->f);
	if (w->depth > 0)
		w->depth--;
}

#define jw_obj(w)     jw_open((w), '{')
#define jw_obj_end(w) jw_close((w), '}')
#define jw_arr(w)     jw_open((w), '[')
#define jw_arr_end(w) jw_close((w), ']')

static void kv_str(struct jw *w, const char *k, sip_str_t v)
{
	jw_key(w, k);
	jw_str(w, v);
}

/* Optional string: omitted when the view is empty/absent. */
static void kv_str_opt(struct jw *w, const char *k, sip_str_t v)
{
	if (v.p != NULL && v.len > 0)
		kv_str(w, k, v);
}

static void kv_u64(struct jw *w, const char *k, uint64_t v)
{
	jw_key(w, k);
	jw_u64(w, v);
}

static void kv_cstr(struct jw *w, const char *k, const char *v)
{
	jw_key(w, k);
	jw_cstr(w, v);
}

static void kv_bool(struct jw *w, const char *k, bool v)
{
	jw_key(w, k);
	jw_bool(w, v);
}

/* A field that is present but does not parse: {"malformed": true, "raw": ...}
 * so a consumer can tell it apart from an absent one. */
static void j_malformed(struct jw *w, sip_str_t raw)
{
	jw_obj(w);
	kv_bool(w, "malformed", true);
	if (raw.p != NULL)
		kv_str(w, "raw", raw);
	jw_obj_end(w);
}

/* ---- field printers ----------------------------------------------------- */

static const char *scheme_name(const struct sip_uri *u)
{
	switch (u->scheme) {
	case SIP_SCHEME_SIP:  return "sip";
	case SIP_SCHEME_SIPS: return "sips";
	case SIP_SCHEME_TEL:  return "tel";
	default:              return NULL;
	}
}

static void j_uri(struct jw *w, sip_str_t s)
{
	struct sip_uri u;

	if (sip_uri_parse(s, &u) < 0) {
		j_malformed(w, s);
		return;
	}
	jw_obj(w);
	if (scheme_name(&u) != NULL)
		kv_cstr(w, "scheme", scheme_name(&u));
	else
		kv_str(w, "scheme", u.scheme_str);
	if (u.scheme == SIP_SCHEME_SIP || u.scheme == SIP_SCHEME_SIPS) {
		kv_str_opt(w, "user", u.user);
		kv_str_opt(w, "password", u.password);
		kv_str(w, "host", u.host);
		kv_cstr(w, "host_type", u.host_type == SIP_HOST_IPV4 ? "ipv4" :
					u.host_type == SIP_HOST_IPV6 ? "ipv6" : "name");
		if (u.has_port)
			kv_u64(w, "port", u.port);
	} else if (u.scheme == SIP_SCHEME_TEL) {
		kv_str_opt(w, "number", u.user);
	} else {
		kv_str_opt(w, "opaque", u.opaque);
	}
	kv_str_opt(w, "params", u.params);
	kv_str_opt(w, "headers", u.headers);
	jw_obj_end(w);
}

static void j_nameaddr_fields(struct jw *w, const struct sip_nameaddr *na)
{
	kv_str_opt(w, "display", na->display);
	kv_str(w, "uri", na->uri);
	kv_str_opt(w, "tag", na->tag);
	kv_str_opt(w, "params", na->params);
	jw_key(w, "uri_parsed");
	j_uri(w, na->uri);
}

static void j_nameaddr(struct jw *w, const char *key, int rc, const struct sip_nameaddr *na,
		       const struct sip_hdr *h)
{
	if (rc == 0)
		return;
	jw_key(w, key);
	if (rc < 0) {
		j_malformed(w, h ? h->value : SIP_STR_NULL);
		return;
	}
	jw_obj(w);
	j_nameaddr_fields(w, na);
	jw_obj_end(w);
}

static void j_vias(struct jw *w, const struct sip_msg *m)
{
	struct sip_via_iter it;
	struct sip_via v;
	int rc;

	if (m->first[SIP_H_VIA] == SIP_HDR_NONE)
		return;
	jw_key(w, "via");
	jw_arr(w);
	sip_via_init(&it, m);
	while ((rc = sip_via_next(&it, &v)) > 0) {
		jw_obj(w);
		kv_str(w, "transport", v.transport);
		kv_str(w, "host", v.host);
		if (v.port != 0)
			kv_u64(w, "port", v.port);
		kv_str_opt(w, "branch", v.branch);
		kv_str_opt(w, "received", v.received);
		if (v.has_rport) {
			/* true for a bare ";rport" (RFC 3581 request), the
			 * number once a proxy has filled it in */
			jw_key(w, "rport");
			if (v.rport != 0)
				jw_u64(w, v.rport);
			else
				jw_bool(w, true);
		}
		kv_str_opt(w, "maddr", v.maddr);
		jw_obj_end(w);
	}
	if (rc < 0)
		j_malformed(w, SIP_STR_NULL);
	jw_arr_end(w);
}

static void j_contacts(struct jw *w, const struct sip_msg *m)
{
	struct sip_list_iter it;
	sip_str_t v;
	int rc;

	if (m->first[SIP_H_CONTACT] == SIP_HDR_NONE)
		return;
	jw_key(w, "contact");
	jw_arr(w);
	sip_list_init(&it, m, SIP_H_CONTACT);
	while ((rc = sip_list_next(&it, &v)) > 0) {
		struct sip_contact c;

		if (sip_contact_parse(v, &c) < 0) {
			j_malformed(w, v);
			continue;
		}
		jw_obj(w);
		if (c.na.star) {
			kv_bool(w, "star", true);
		} else {
			kv_str_opt(w, "display", c.na.display);
			kv_str(w, "uri", c.na.uri);
			jw_key(w, "uri_parsed");
			j_uri(w, c.na.uri);
			kv_str_opt(w, "params", c.na.params);
		}
		if (c.has_expires)
			kv_u64(w, "expires", c.expires);
		kv_str_opt(w, "q", c.q);
		jw_obj_end(w);
	}
	if (rc < 0)
		j_malformed(w, SIP_STR_NULL);
	jw_arr_end(w);
}

/* A list header as a JSON array: Route / Record-Route as their URIs in
 * order (uris), Require / Supported as their option tags. */
static void j_list(struct jw *w, const struct sip_msg *m, enum sip_hdr_id id, const char *key,
		   bool uris)
{
	struct sip_list_iter it;
	sip_str_t v;
	int rc;

	if (m->first[id] == SIP_HDR_NONE)
		return;
	jw_key(w, key);
	jw_arr(w);
	sip_list_init(&it, m, id);
	while ((rc = sip_list_next(&it, &v)) > 0) {
		struct sip_nameaddr na;

		if (!uris)
			jw_str(w, v);
		else if (sip_nameaddr_parse(v, &na) < 0)
			j_malformed(w, v);
		else
			jw_str(w, na.uri);
	}
	if (rc < 0)
		j_malformed(w, SIP_STR_NULL);
	jw_arr_end(w);
}

/* Single numeric header (Max-Forwards, Content-Length, RSeq). */
static void j_number_hdr(struct jw *w, const struct sip_msg *m, enum sip_hdr_id id,
			 const char *key)
{
	const struct sip_hdr *h = sip_hdr_first(m, id);
	uint32_t n;

	if (h == NULL)
		return;
	jw_key(w, key);
	if (sip_parse_u32(h->value, &n) < 0)
		j_malformed(w, h->value);
	else
		jw_u64(w, n);
}

static void j_conn(struct jw *w, const char *key, const struct sdp_conn *c)
{
	if (c == NULL || !c->present)
		return;
	jw_key(w, key);
	jw_obj(w);
	kv_str(w, "addrtype", c->addrtype);
	kv_str(w, "addr", c->addr);
	if (c->token.len != c->addr.len)
		kv_str(w, "token", c->token);
	if (c->multicast)
		kv_bool(w, "multicast", true);
	if (c->fqdn)
		kv_bool(w, "fqdn", true);
	if (c->unspec)
		kv_bool(w, "unspecified", true);
	jw_obj_end(w);
}

/* The SDP as lib/sdp sees it: what the media anchoring acts on. */
static void j_sdp(struct jw *w, const struct sip_msg *m)
{
	static struct sdp s; /* ~8 KB */
	sip_str_t body = sip_msg_body(m);
	enum sdp_err e = sdp_parse(&s, body.p, body.len);

	jw_key(w, "sdp");
	jw_obj(w);
	if (e != SDP_E_OK) {
		kv_cstr(w, "error", sdp_err_name(e));
		kv_u64(w, "status", sdp_err_status(e));
		kv_cstr(w, "reason", sdp_err_reason(e));
		kv_u64(w, "offset", s.err_off);
		jw_obj_end(w);
		return;
	}
	e = sdp_check(&s);
	kv_cstr(w, "check", e == SDP_E_OK ? "ok" : sdp_err_name(e));

	jw_key(w, "origin");
	jw_obj(w);
	kv_str(w, "user", s.origin.user);
	kv_str(w, "sess_id", s.origin.sess_id);
	kv_str(w, "sess_version", s.origin.sess_version);
	kv_str(w, "addrtype", s.origin.conn.addrtype);
	kv_str(w, "addr", s.origin.conn.addr);
	jw_obj_end(w);
	j_conn(w, "connection", &s.conn);
	if (s.dir != SDP_DIR_NONE)
		kv_cstr(w, "direction", sdp_dir_name((enum sdp_dir)s.dir));

	jw_key(w, "media");
	jw_arr(w);
	for (unsigned i = 0; i < s.nmedia; i++) {
		const struct sdp_media *md = sdp_media(&s, i);
		uint32_t pos = 0;
		sip_str_t fmt;
		int rtcp;

		jw_obj(w);
		kv_str(w, "type", md->type);
		kv_u64(w, "port", md->port);
		if (md->nports != 1)
			kv_u64(w, "nports", md->nports);
		kv_str(w, "proto", md->proto);
		jw_key(w, "formats");
		jw_arr(w);
		while (sdp_fmt_next(md, &pos, &fmt) > 0)
			jw_str(w, fmt);
		jw_arr_end(w);
		/* effective values: inherited from the session when not stated */
		kv_cstr(w, "direction", sdp_dir_name(sdp_media_dir(&s, i)));
		j_conn(w, "connection", sdp_media_conn(&s, i));
		rtcp = sdp_media_rtcp_port(&s, i);
		if (rtcp > 0)
			kv_u64(w, "rtcp", (uint64_t)rtcp);
		if (md->rtcp_mux)
			kv_bool(w, "rtcp_mux", true);
		j_conn(w, "rtcp_connection", &md->rtcp_conn);
		if (md->ncandidates > 0)
			kv_u64(w, "candidates", md->ncandidates);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
}

static bool is_sdp(const struct sip_msg *m)
{
	const struct sip_hdr *h = sip_hdr_first(m, SIP_H_CONTENT_TYPE);
	struct sip_ctype ct;

	return h != NULL && sip_ctype_parse(h->value, &ct) == 0 &&
	       sip_str_caseeq_lit(ct.type, "application") &&
	       sip_str_caseeq_lit(ct.subtype, "sdp");
}

static void j_message(struct jw *w, const struct sip_msg *m)
{
	const struct sip_hdr *h;
	struct sip_nameaddr na;
	struct sip_cseq cs;
	sip_str_t s;
	uint32_t n;
	int rc;

	kv_cstr(w, "type", m->is_request ? "request" : "response");
	if (m->is_request) {
		kv_str(w, "method", m->method_name);
		kv_str(w, "ruri", m->ruri);
		jw_key(w, "ruri_parsed");
		j_uri(w, m->ruri);
	} else {
		kv_u64(w, "status", m->status);
		kv_str(w, "reason", m->reason);
	}
	kv_str(w, "version", m->version);

	jw_key(w, "headers");
	jw_arr(w);
	for (uint16_t i = 0; i < m->nhdr; i++) {
		const struct sip_hdr *hh = &m->hdr[i];

		jw_obj(w);
		kv_str(w, "name", hh->name);
		kv_str(w, "value", hh->value);
		kv_cstr(w, "id", sip_hdr_name((enum sip_hdr_id)hh->id));
		jw_obj_end(w);
	}
	jw_arr_end(w);

	rc = sip_msg_call_id(m, &s);
	if (rc > 0) {
		kv_str(w, "call_id", s);
	} else if (rc < 0) {
		jw_key(w, "call_id");
		j_malformed(w, sip_hdr_first(m, SIP_H_CALL_ID)->value);
	}

	rc = sip_msg_cseq(m, &cs);
	if (rc != 0) {
		jw_key(w, "cseq");
		if (rc < 0) {
			j_malformed(w, sip_hdr_first(m, SIP_H_CSEQ)->value);
		} else {
			jw_obj(w);
			kv_u64(w, "seq", cs.seq);
			kv_str(w, "method", cs.method_name);
			jw_obj_end(w);
		}
	}

	rc = sip_msg_from(m, &na);
	j_nameaddr(w, "from", rc, &na, sip_hdr_first(m, SIP_H_FROM));
	rc = sip_msg_to(m, &na);
	j_nameaddr(w, "to", rc, &na, sip_hdr_first(m, SIP_H_TO));

	j_vias(w, m);
	j_contacts(w, m);
	j_list(w, m, SIP_H_ROUTE, "route", true);
	j_list(w, m, SIP_H_RECORD_ROUTE, "record_route", true);
	j_number_hdr(w, m, SIP_H_MAX_FORWARDS, "max_forwards");
	j_number_hdr(w, m, SIP_H_CONTENT_LENGTH, "content_length");

	h = sip_hdr_first(m, SIP_H_CONTENT_TYPE);
	if (h != NULL) {
		struct sip_ctype ct;

		jw_key(w, "content_type");
		if (sip_ctype_parse(h->value, &ct) < 0) {
			j_malformed(w, h->value);
		} else {
			jw_obj(w);
			kv_str(w, "type", ct.type);
			kv_str(w, "subtype", ct.subtype);
			kv_str_opt(w, "params", ct.params);
			jw_obj_end(w);
		}
	}

	j_list(w, m, SIP_H_REQUIRE, "require", false);
	j_list(w, m, SIP_H_SUPPORTED, "supported", false);

	rc = sip_msg_expires(m, &n);
	if (rc > 0) {
		kv_u64(w, "expires", n);
	} else if (rc < 0) {
		jw_key(w, "expires");
		j_malformed(w, sip_hdr_first(m, SIP_H_EXPIRES)->value);
	}

	j_number_hdr(w, m, SIP_H_RSEQ, "rseq");

	h = sip_hdr_first(m, SIP_H_RACK);
	if (h != NULL) {
		struct sip_rack ra;

		jw_key(w, "rack");
		if (sip_rack_parse(h->value, &ra) < 0) {
			j_malformed(w, h->value);
		} else {
			jw_obj(w);
			kv_u64(w, "rseq", ra.rseq);
			kv_u64(w, "cseq", ra.cseq);
			kv_str(w, "method", ra.method_name);
			jw_obj_end(w);
		}
	}

	h = sip_hdr_first(m, SIP_H_EVENT);
	if (h != NULL) {
		struct sip_event ev;

		jw_key(w, "event");
		if (sip_event_parse(h->value, &ev) < 0) {
			j_malformed(w, h->value);
		} else {
			jw_obj(w);
			kv_str(w, "package", ev.package);
			kv_str_opt(w, "id", ev.id);
			kv_str_opt(w, "params", ev.params);
			jw_obj_end(w);
		}
	}

	h = sip_hdr_first(m, SIP_H_REFER_TO);
	if (h != NULL)
		j_nameaddr(w, "refer_to", sip_nameaddr_parse(h->value, &na) < 0 ? -1 : 1, &na, h);

	if (m->body_len > 0 && is_sdp(m))
		j_sdp(w, m);
	kv_u64(w, "body_length", m->body_len);
}

/* ---- files -------------------------------------------------------------- */

/* Read a whole file, keeping at most SIP_MAX_MSG + 1 bytes: one byte more
 * than the parser accepts is enough to know the message is too large, and
 * a huge file must not make a debugging tool eat memory. *total gets the
 * real size. Returns 0 or -errno. */
static int read_file(const char *path, char *buf, size_t cap, size_t *kept, size_t *total)
{
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	char sink[4096];
	int err = 0;

	if (fd < 0)
		return -errno;
	*kept = 0;
	*total = 0;
	for (;;) {
		char *dst = *kept < cap ? buf + *kept : sink;
		size_t room = *kept < cap ? cap - *kept : sizeof(sink);
		ssize_t r = read(fd, dst, room);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (r == 0)
			break;
		if (*kept < cap)
			*kept += (size_t)r;
		*total += (size_t)r;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	return err;
}

enum { EXIT_ALL_OK = 0, EXIT_VERDICT = 1, EXIT_USAGE = 2 };

static int process(const char *path, char *buf, bool quiet)
{
	struct jw w = { .f = stdout };
	static struct sip_msg m; /* ~4 KB: keep it off the stack */
	size_t kept, total;
	enum sip_err err;
	int rc;

	rc = read_file(path, buf, SIP_MAX_MSG + 1, &kept, &total);
	if (rc < 0) {
		fprintf(stderr, "sbc-msg: %s: %s\n", path, strerror(-rc));
		return EXIT_USAGE;
	}

	jw_obj(&w);
	kv_cstr(&w, "file", path);
	if (total > SIP_MAX_MSG) {
		/* Never handed to the parser: the daemon refuses such a
		 * datagram on its size alone. */
		kv_cstr(&w, "verdict", "reject");
		kv_u64(&w, "status", sip_err_status(SIP_E_TOO_BIG));
		kv_cstr(&w, "reason", sip_err_reason(SIP_E_TOO_BIG));
		kv_cstr(&w, "error", sip_err_name(SIP_E_TOO_BIG));
		kv_u64(&w, "size", total);
		jw_obj_end(&w);
		fputc('\n', stdout);
		return EXIT_VERDICT;
	}

	err = sip_parse(&m, buf, kept);
	bool parsed = err == SIP_E_OK;
	if (parsed)
		err = sip_check(&m);

	if (err == SIP_E_OK) {
		kv_cstr(&w, "verdict", "ok");
	} else {
		uint16_t st = sip_verdict_status(&m, err);

		/* A reject says what the SBC answers (status, reason); a drop
		 * answers nothing, so its explanation is "detail". That also
		 * keeps "status"/"reason" free for a response's status line:
		 * responses are only ever dropped. */
		if (st != 0) {
			kv_cstr(&w, "verdict", "reject");
			kv_u64(&w, "status", st);
			kv_cstr(&w, "reason", sip_err_reason(err));
		} else {
			kv_cstr(&w, "verdict", "drop");
			kv_cstr(&w, "detail", sip_err_reason(err));
		}
		kv_cstr(&w, "error", sip_err_name(err));
	}
	/* A message that indexed but failed sip_check() is still dumped: that
	 * is usually what one wants to look at. */
	if (!quiet && parsed)
		j_message(&w, &m);
	jw_obj_end(&w);
	fputc('\n', stdout);
	return err == SIP_E_OK ? EXIT_ALL_OK : EXIT_VERDICT;
}

static void usage(FILE *f)
{
	fputs("usage: sbc-msg [-q] FILE...\n"
	      "Parse each file as one SIP message with the SBC's parser and print\n"
	      "one JSON object per file (\"-\" reads standard input).\n"
	      "  -q   print only the verdict\n"
	      "exit: 0 all ok, 1 some rejected/dropped, 2 usage or I/O error\n", f);
}

int main(int argc, char **argv)
{
	bool quiet = false;
	int opt, status = EXIT_ALL_OK;
	char *buf;

	while ((opt = getopt(argc, argv, "qh")) != -1) {
		switch (opt) {
		case 'q':
			quiet = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_ALL_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	buf = malloc(SIP_MAX_MSG + 1);
	if (buf == NULL) {
		perror("sbc-msg");
		return EXIT_USAGE;
	}
	for (int i = optind; i < argc; i++) {
		int rc = process(argv[i], buf, quiet);

		if (rc > status)
			status = rc;
	}
	free(buf);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("sbc-msg: stdout");
		status = EXIT_USAGE;
	}
	return status;
}
