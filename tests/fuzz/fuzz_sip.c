/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for lib/sip: everything the daemon does to an untrusted
 * datagram before and while it rewrites it.
 *
 *   sip_parse -> sip_check -> every lazy field parser over every header value
 *   (and over every list element, whatever the header: a parser must survive
 *   any bytes, not just the header it is meant for) -> sip_reply -> a
 *   topology-hiding style edit (delete top Via, insert ours, replace Contact,
 *   set a body) + serialize + re-parse -> a second edit run driven by a
 *   PRNG seeded from the input that throws random, often invalid, edits.
 *
 * Beyond what ASan/UBSan catch, it aborts on broken invariants: a view that
 * points outside the input it was parsed from, lengths past the declared
 * caps, offsets out of order, an iterator that does not make progress, a
 * reply or edited message of a valid request that does not parse again.
 * Output buffers are heap blocks of exactly the capacity passed, so a write
 * one byte past "cap" is an ASan report, not silent.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INV(cond)                                                               \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "fuzz_sip: invariant failed: %s (%s:%d)\n", \
				#cond, __FILE__, __LINE__);                     \
			abort();                                                \
		}                                                               \
	} while (0)

/* A non-empty view must lie inside [lo, lo+n). Empty views may point
 * anywhere (often NULL or at a literal ""), they are never dereferenced. */
static void in_range(sip_str_t s, const char *lo, size_t n)
{
	if (s.len == 0)
		return;
	INV(s.p != NULL);
	INV(s.p >= lo);
	INV((size_t)(s.p - lo) <= n);
	INV(s.len <= n - (size_t)(s.p - lo));
}

#define IN(s, v) in_range((s), (v).p, (v).len)

/* Walk a parameter list; every name/value lies in params, *pos advances. */
static void walk_params(sip_str_t params)
{
	uint32_t pos = 0, prev = 0;
	sip_str_t name, value;
	int rc, guard = 0;

	while ((rc = sip_param_next(params, &pos, &name, &value)) > 0) {
		IN(name, params);
		IN(value, params);
		INV(pos > prev || guard == 0);
		INV(pos <= params.len);
		prev = pos;
		INV(++guard <= (int)params.len + 1);
	}
	static const char *const names[] = { "tag", "branch", "lr", "transport",
					     "expires", "q", "rport", "received",
					     "maddr", "user", "ttl", "" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (sip_param_get(params, names[i], &value) > 0)
			IN(value, params);
	}
}

static void walk_uri(sip_str_t s)
{
	struct sip_uri u;
	char unesc[256];

	if (sip_uri_parse(s, &u) < 0)
		return;
	IN(u.scheme_str, s);
	IN(u.user, s);
	IN(u.password, s);
	IN(u.host, s);
	IN(u.params, s);
	IN(u.headers, s);
	IN(u.opaque, s);
	INV(u.has_port || u.port == 0);
	walk_params(u.params);

	/* Unescaping into a small buffer must refuse, never overflow. */
	int n = sip_unescape(u.user, unesc, sizeof(unesc));
	INV(n < 0 || (size_t)n <= sizeof(unesc));
	INV(n < 0 || (uint32_t)n <= u.user.len);
	n = sip_unescape(u.user, unesc, 1);
	INV(n <= 1);
}

static void walk_nameaddr_fields(const struct sip_nameaddr *na, sip_str_t v)
{
	IN(na->display, v);
	IN(na->uri, v);
	IN(na->params, v);
	IN(na->tag, v);
	if (na->tag.len > 0)
		IN(na->tag, na->params);
	walk_params(na->params);
	if (!na->star)
		walk_uri(na->uri);
}

/* Every value parser over one value, whatever header it came from. */
static void walk_value(sip_str_t v)
{
	struct sip_nameaddr na;
	struct sip_contact c;
	struct sip_via via;
	struct sip_cseq cs;
	struct sip_rack ra;
	struct sip_event ev;
	struct sip_ctype ct;
	uint32_t u32;

	if (sip_nameaddr_parse(v, &na) == 0)
		walk_nameaddr_fields(&na, v);
	if (sip_contact_parse(v, &c) == 0) {
		walk_nameaddr_fields(&c.na, v);
		IN(c.q, v);
	}
	if (sip_via_parse(v, &via) == 0) {
		IN(via.value, v);
		IN(via.proto, v);
		IN(via.version, v);
		IN(via.transport, v);
		IN(via.host, v);
		IN(via.params, v);
		IN(via.branch, v);
		IN(via.received, v);
		IN(via.maddr, v);
		INV(via.has_rport || via.rport == 0);
		walk_params(via.params);
		(void)sip_branch_is_3261(via.branch);
	}
	if (sip_cseq_parse(v, &cs) == 0) {
		IN(cs.method_name, v);
		INV(cs.method == sip_method_from(cs.method_name));
	}
	if (sip_rack_parse(v, &ra) == 0) {
		IN(ra.method_name, v);
		INV(ra.method == sip_method_from(ra.method_name));
	}
	if (sip_event_parse(v, &ev) == 0) {
		IN(ev.package, v);
		IN(ev.id, v);
		IN(ev.params, v);
		walk_params(ev.params);
	}
	if (sip_ctype_parse(v, &ct) == 0) {
		IN(ct.type, v);
		IN(ct.subtype, v);
		IN(ct.params, v);
		walk_params(ct.params);
	}
	(void)sip_parse_u32(v, &u32);
	walk_uri(v);
	walk_params(v);
}

static void check_msg(const struct sip_msg *m, const char *buf, size_t len)
{
	sip_str_t all = { buf, (uint32_t)len };

	INV(m->buf == buf);
	INV(m->len == len);
	INV(len <= SIP_MAX_MSG);
	INV(m->start_line_end <= m->hdr_end);
	INV(m->hdr_end <= m->body_off);
	INV(m->body_off <= len);
	INV(m->body_len <= len - m->body_off);
	INV(m->nhdr <= SIP_MAX_HEADERS);
	IN(m->version, all);
	if (m->is_request) {
		IN(m->method_name, all);
		IN(m->ruri, all);
		INV(m->ruri.len <= SIP_MAX_URI);
		INV(m->method == sip_method_from(m->method_name));
		INV(sip_method_name(m->method) != NULL);
	} else {
		IN(m->reason, all);
		INV(m->status >= 100 && m->status <= 999);
	}

	uint32_t prev_end = m->start_line_end;
	for (uint16_t i = 0; i < m->nhdr; i++) {
		const struct sip_hdr *h = &m->hdr[i];

		IN(h->name, all);
		IN(h->value, all);
		INV(h->name.len > 0);
		INV(h->id < SIP_H__COUNT);
		INV(h->off >= prev_end);
		INV(h->off < h->end);
		INV(h->end <= m->hdr_end);
		INV(h->value.len <= SIP_MAX_LINE);
		INV(h->next == SIP_HDR_NONE || (h->next > i && h->next < m->nhdr));
		INV(h->next == SIP_HDR_NONE || m->hdr[h->next].id == h->id);
		/* the name a header was indexed under is the name it has */
		if (h->id != SIP_H_OTHER)
			INV(sip_hdr_lookup(h->name) == (enum sip_hdr_id)h->id);
		prev_end = h->end;
		(void)sip_hdr_find(m, h->name);
	}
	/* Chains of well-known ids; OTHER lines need not be chained. */
	for (unsigned id = 1; id < SIP_H__COUNT; id++) {
		unsigned n = 0;
		uint16_t last = SIP_HDR_NONE;

		for (uint16_t i = m->first[id]; i != SIP_HDR_NONE; i = m->hdr[i].next) {
			INV(i < m->nhdr);
			INV(m->hdr[i].id == id);
			last = i;
			INV(++n <= m->nhdr);
		}
		INV(m->last[id] == last);
		INV(m->count[id] == (n > 255 ? 255 : n));
		(void)sip_hdr_name((enum sip_hdr_id)id);
	}
}

/* Every header's raw value, every list element of every well-known header
 * (through the list iterator), the Via iterator and the accessors. */
static void walk_fields(const struct sip_msg *m)
{
	sip_str_t all = { m->buf, m->len };
	struct sip_list_iter it;
	struct sip_via_iter vi;
	struct sip_via via;
	struct sip_nameaddr na;
	struct sip_cseq cs;
	sip_str_t v;
	uint32_t u32;
	int rc, guard;

	if (m->is_request)
		walk_uri(m->ruri);

	for (uint16_t i = 0; i < m->nhdr; i++)
		walk_value(m->hdr[i].value);

	for (unsigned id = 1; id < SIP_H__COUNT; id++) {
		if (m->first[id] == SIP_HDR_NONE)
			continue;
		sip_list_init(&it, m, (enum sip_hdr_id)id);
		guard = 0;
		while ((rc = sip_list_next(&it, &v)) > 0) {
			IN(v, all);
			walk_value(v);
			INV(++guard <= (int)m->len + 1);
		}
	}

	sip_via_init(&vi, m);
	guard = 0;
	while ((rc = sip_via_next(&vi, &via)) > 0) {
		IN(via.value, all);
		IN(via.host, all);
		IN(via.branch, all);
		INV(++guard <= (int)m->len + 1);
	}

	if (sip_msg_call_id(m, &v) > 0)
		IN(v, all);
	(void)sip_msg_cseq(m, &cs);
	if (sip_msg_from(m, &na) > 0)
		IN(na.tag, all);
	if (sip_msg_to(m, &na) > 0)
		IN(na.tag, all);
	(void)sip_msg_max_forwards(m, &u32);
	(void)sip_msg_expires(m, &u32);
	if (sip_msg_top_via(m, &via) > 0)
		IN(via.branch, all);
	(void)sip_msg_has_tag(m, SIP_H_REQUIRE, "100rel");
	(void)sip_msg_has_tag(m, SIP_H_SUPPORTED, "timer");
	(void)sip_msg_has_tag(m, SIP_H_PROXY_REQUIRE, "");
	in_range(sip_msg_body(m), m->buf, m->len);
}

/* Reply into a heap block of exactly cap bytes: an overrun is an ASan
 * report. Returns the length (or <0). */
static int reply_into(const struct sip_msg *m, uint16_t status, sip_str_t extra, size_t cap,
		      char **outp)
{
	char *out = malloc(cap ? cap : 1);
	int n;

	INV(out != NULL);
	n = sip_reply(m, status, "Fuzz Reason", SIP_STR("fz7tag"), extra, out, cap);
	INV(n == -ENOSPC || n >= 0);
	INV(n < 0 || (size_t)n <= cap);
	*outp = out;
	return n;
}

static void do_reply(const struct sip_msg *m, bool valid, uint32_t rnd)
{
	uint16_t status = (uint16_t)(100 + rnd % 600);
	size_t cap = (size_t)m->len + 1024;
	/* extra header lines, or none given as SIP_STR_NULL */
	sip_str_t extra = (rnd & 4) ? SIP_STR_NULL : SIP_STR("Retry-After: 5\r\n");
	struct sip_msg r;
	char *out;
	int n;

	n = reply_into(m, status, extra, cap, &out);
	if (valid && m->is_request) {
		/* A reply to a request that passed sip_check() is a well-formed
		 * response carrying the request's Via/From/To/Call-ID/CSeq. */
		INV(n > 0);
		INV(sip_parse(&r, out, (size_t)n) == SIP_E_OK);
		INV(!r.is_request && r.status == status);
		check_msg(&r, out, (size_t)n);
	}
	free(out);

	/* Too small: refused, not truncated past cap. */
	n = reply_into(m, status, extra, (size_t)(rnd >> 8) % 128, &out);
	free(out);
}

static size_t edit_cap(const struct sip_msg *m, size_t body_len)
{
	/* every op may add a header name, ": " and CRLF around its scratch
	 * bytes, and Content-Length may be added */
	return (size_t)m->len + SIP_EDIT_SCRATCH + body_len + SIP_EDIT_MAX_OPS * 64u + 256;
}

/* Serialize e into an exact-size heap block; also try a too-small cap on a
 * copy (the editor is a plain value). Returns the output or NULL. */
static char *serialize(struct sip_editor *e, size_t cap, size_t small_cap, int *np)
{
	static struct sip_editor copy;
	char *out = malloc(cap), *small = malloc(small_cap ? small_cap : 1);
	int n;

	INV(out != NULL && small != NULL);
	memcpy(&copy, e, sizeof(copy));
	n = sip_edit_serialize(&copy, small, small_cap);
	INV(n < 0 || (size_t)n <= small_cap);
	free(small);

	n = sip_edit_serialize(e, out, cap);
	INV(n == -ENOSPC || n == -EINVAL || n >= 0);
	INV(n < 0 || (size_t)n <= cap);
	INV(n != -ENOSPC); /* cap covers every edit the editor can hold */
	*np = n;
	return out;
}

/* The rewrite the SBC performs on every relayed request. */
static void do_topo_edit(const struct sip_msg *m, bool valid, uint32_t rnd)
{
	static struct sip_editor e;
	static const char body[] =
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n"
		"t=0 0\r\nm=audio 40000 RTP/AVP 0\r\n";
	sip_str_t b = SIP_STR(body);
	bool ok = true;
	struct sip_msg r;
	char *out;
	int n;

	sip_edit_init(&e, m);
	if (m->first[SIP_H_VIA] != SIP_HDR_NONE)
		ok &= sip_edit_delete_hdr(&e, m->first[SIP_H_VIA]) == 0;
	ok &= sip_edit_insert_hdr(&e, 0, SIP_STR("Via"),
				  SIP_STR("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK.fz1;rport")) == 0;
	if (m->first[SIP_H_CONTACT] != SIP_HDR_NONE)
		ok &= sip_edit_replace_value(&e, m->first[SIP_H_CONTACT],
					     SIP_STR("<sip:s0x1@192.0.2.1:5060>")) == 0;
	/* a new SDP, or no body at all: given as "" or, as callers that drop
	 * a body write it, SIP_STR_NULL */
	if (rnd & 1)
		ok &= sip_edit_set_body(&e, b) == 0;
	else
		ok &= sip_edit_set_body(&e, (rnd & 2) ? SIP_STR("") : SIP_STR_NULL) == 0;

	out = serialize(&e, edit_cap(m, b.len), rnd % 256, &n);
	INV(!ok || n >= 0);
	if (n >= 0 && valid) {
		/* The edit of a valid message is a valid message. */
		INV(sip_parse(&r, out, (size_t)n) == SIP_E_OK);
		check_msg(&r, out, (size_t)n);
		INV(sip_check(&r) == SIP_E_OK);
		if (rnd & 1) {
			INV(r.body_len == b.len);
			INV(memcmp(out + r.body_off, body, b.len) == 0);
		} else {
			INV(r.body_len == 0);
		}
		INV(r.first[SIP_H_VIA] != SIP_HDR_NONE);
	}
	free(out);
}

static uint32_t xorshift(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x ? x : 0x9e3779b9u;
}

/* Random edits, many of them invalid (out-of-range offsets, overlaps, too
 * many ops, scratch exhaustion): the editor must refuse, never overrun. */
static void do_random_edits(const struct sip_msg *m, uint32_t seed)
{
	static struct sip_editor e;
	static char big[SIP_EDIT_SCRATCH + 64];
	uint32_t s = seed | 1;
	unsigned nops = 1 + xorshift(&s) % (SIP_EDIT_MAX_OPS + 8);
	size_t body_max = 0;
	char *out;
	int n;

	memset(big, 'x', sizeof(big));
	sip_edit_init(&e, m);
	for (unsigned i = 0; i < nops; i++) {
		uint32_t r = xorshift(&s);
		uint16_t idx = (uint16_t)(xorshift(&s) % (m->nhdr + 2u));
		uint32_t off = xorshift(&s) % (m->len + 8u);
		uint32_t len = xorshift(&s) % 64u;
		sip_str_t with = { big, xorshift(&s) % (r & 0x100 ? sizeof(big) : 40u) };

		switch (r % 7) {
		case 0: (void)sip_edit_replace(&e, off, len, with); break;
		case 1: (void)sip_edit_delete_hdr(&e, idx); break;
		case 2: (void)sip_edit_delete_all(&e, (enum sip_hdr_id)(xorshift(&s) % SIP_H__COUNT)); break;
		case 3: (void)sip_edit_replace_value(&e, idx, with); break;
		case 4: (void)sip_edit_insert_hdr(&e, idx, SIP_STR("X-Fuzz"), with); break;
		case 5:
			with.len %= 2048;
			if (with.len > body_max)
				body_max = with.len;
			(void)sip_edit_set_body(&e, with);
			break;
		default: (void)sip_edit_replace(&e, UINT32_MAX - len, len + 1, with); break;
		}
		INV(e.nops <= SIP_EDIT_MAX_OPS);
		INV(e.scratch_used <= SIP_EDIT_SCRATCH);
	}
	out = serialize(&e, edit_cap(m, body_max), xorshift(&s) % 512, &n);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sip_msg m;
	const char *buf = (const char *)data;
	enum sip_err err;
	uint32_t h = 2166136261u; /* FNV-1a of the input seeds the edit PRNG */
	bool valid;

	if (size > SIP_MAX_MSG + 16u)
		return -1; /* reject from the corpus: only the size path is new */

	err = sip_parse(&m, buf, size);
	INV(err < SIP_E__COUNT);
	INV(sip_err_name(err) != NULL && sip_err_reason(err) != NULL);
	if (size > SIP_MAX_MSG)
		INV(err != SIP_E_OK);
	if (err != SIP_E_OK) {
		uint16_t st = sip_verdict_status(&m, err);
		INV(st == 0 || (st >= 400 && st <= 599));
		return 0;
	}
	check_msg(&m, buf, size);

	err = sip_check(&m);
	INV(err < SIP_E__COUNT);
	valid = err == SIP_E_OK;
	if (!valid) {
		uint16_t st = sip_verdict_status(&m, err);
		INV(st == 0 || (st >= 400 && st <= 599));
		/* Responses are never answered. */
		INV(m.is_request || st == 0);
	}

	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;

	walk_fields(&m);
	if (valid && m.is_request) {
		static const char *const supported[] = { "100rel", "timer", "replaces", NULL };
		size_t cap = h % 24; /* often too small: the list is cut, not overrun */
		char *unsup = malloc(cap ? cap : 1);
		uint32_t ulen = 0;

		INV(unsup != NULL);
		err = sip_proxy_check(&m, h & 1, supported, cap ? unsup : NULL, cap, &ulen);
		INV(err < SIP_E__COUNT);
		INV(ulen <= cap);
		free(unsup);
	}
	do_reply(&m, valid, h);
	do_topo_edit(&m, valid, h);
	do_random_edits(&m, h);
	return 0;
}
