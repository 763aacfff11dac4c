/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the message editor (lib/sip/edit.c): edits are recorded
 * against the original datagram and applied in one copy at serialization.
 * Most tests compare the output byte for byte: an SBC that rewrites one
 * byte too many breaks the next hop's parser, and the output is always
 * re-parsed to prove it is still a SIP message.
 *
 * The property tests at the end run over a few built-in messages and, when
 * SBC_SHARED_DIR is set (meson test), over the RFC 4475 torture messages.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sip.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static bool view_is(sip_str_t v, const char *want)
{
	size_t n = strlen(want);
	return v.len == n && (n == 0 || memcmp(v.p, want, n) == 0);
}

static void parse_ok(struct sip_msg *m, const char *text, size_t len)
{
	enum sip_err e = sip_parse(m, text, len);
	if (e != SIP_E_OK) {
		print_error("sip_parse: %s for:\n%.*s\n", sip_err_name(e), (int)len, text);
		fail();
	}
}

/* Serialize and compare with want, printing both on mismatch. */
#define ASSERT_OUTPUT(e, want)                                                         \
	do {                                                                           \
		char out_[4096];                                                       \
		int n_ = sip_edit_serialize((e), out_, sizeof(out_));                  \
		const char *w_ = (want);                                               \
		if (n_ != (int)strlen(w_) || memcmp(out_, w_, strlen(w_)) != 0) {      \
			print_error("serialize returned %d:\n%.*s\n--- want %zu:\n%s\n", \
				    n_, n_ > 0 ? n_ : 0, out_, strlen(w_), w_);        \
			fail();                                                        \
		}                                                                      \
	} while (0)

/* Header indices of invite[] are fixed; tests refer to them by name. */
enum { I_VIA1, I_VIA2, I_MF, I_RR1, I_TO, I_FROM, I_CALLID, I_CSEQ, I_RR2, I_CONTACT,
       I_CTYPE, I_CL, I_NHDR };

static const char invite[] =
	"INVITE sip:bob@biloxi.com SIP/2.0\r\n"
	"Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n"
	"Via: SIP/2.0/UDP p2.example.com;branch=z9hG4bK2\r\n"
	"Max-Forwards: 70\r\n"
	"Record-Route: <sip:p1.example.com;lr>\r\n"
	"To: Bob <sip:bob@biloxi.com>\r\n"
	"From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
	"Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n"
	"CSeq: 314159 INVITE\r\n"
	"Record-Route: <sip:p2.example.com;lr>\r\n"
	"Contact: <sip:alice@pc33.atlanta.com>\r\n"
	"Content-Type: application/sdp\r\n"
	"Content-Length: 4\r\n"
	"\r\n"
	"v=0\n";

static void parse_invite(struct sip_msg *m)
{
	parse_ok(m, invite, sizeof(invite) - 1);
	assert_int_equal(m->nhdr, I_NHDR);
	assert_int_equal(m->hdr[I_CONTACT].id, SIP_H_CONTACT);
	assert_int_equal(m->hdr[I_CL].id, SIP_H_CONTENT_LENGTH);
}

/* ---- basics ------------------------------------------------------------- */

static void test_edit_no_edits_is_identity(void **state)
{
	(void)state;
	struct sip_msg m;
	struct sip_editor e;
	parse_invite(&m);
	sip_edit_init(&e, &m);
	ASSERT_OUTPUT(&e, invite);
}

static void test_edit_delete_header_line(void **state)
{
	(void)state;
	struct sip_msg m;
	struct sip_editor e;
	parse_invite(&m);
	sip_edit_init(&e, &m);
	assert_int_equal(sip_edit_delete_hdr(&e, I_MF), 0);
	assert_int_equal(sip_edit_delete_hdr(&e, I_CTYPE), 0);
	ASSERT_OUTPUT(&e,
		      "INVITE sip:bob@biloxi.com SIP/2.0\r\n"
		      "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n"
		      "Via: SIP/2.0/UDP p2.example.com;branch=z9hG4bK2\r\n"
		      "Record-Route: <sip:p1.example.com;lr>\r\n"
		      "To: Bob <sip:bob@biloxi.com>\r\n"
		      "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
		      "Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n"
		      "CSeq: 314159 INVITE\r\n"
		      "Record-Route: <sip:p2.example.com;lr>\r\n"
		      "Contact: <sip:alice@pc33.atlanta.com>\r\n"
		      "Content-Length: 4\r\n"
		      "\r\n"
		      "v=0\n");
}

/* A folded header is one line: deleting it removes its continuations. */
static void test_edit_delete_folded_header(void **state)
{
	(void)state;
	static const char msg[] =
		"OPTIONS sip:x@example.com SIP/2.0\r\n"
		"Subject: one\r\n"
		"  two\r\n"
		"\tthree\r\n"
		"Content-Length: 0\r\n"
		"\r\n";
	struct sip_msg m;
	struct sip_editor e;
	parse_ok(&m, msg, sizeof(msg) - 1);
	sip_edit_init(&e, &m);
	assert_int_equal(sip_edit_delete_hdr(&e, 0), 0);
	ASSERT_OUTPUT(&e, "OPTIONS sip:x@example.com SIP/2.0\r\nContent-Length: 0\r\n\r\n");
}

static void test_edit_delete_all(void **state)
{
	(void)state;
	static const char msg[] =
		"SIP/2.0 200 OK\r\n"
		"Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/UDP b.example.com;branch=z9hG4bK2\r\n"
		"To: <sip:b@example.com>;tag=2\r\n"
		"v: SIP/2.0/UDP c.example.com;branch=z9hG4bK3\r\n"
		"From: <sip:a@example.com>;tag=1\r\n"
		"VIA: SIP/2.0/UDP d.example.com\r\n"
		" ;branch=z9hG4bK4\r\n"
		"Call-ID: x@y\r\n"
		"CSeq: 1 INVITE\r\n"
		"Content-Length: 0\r\n"
		"\r\n";
	struct sip_msg m;
	struct sip_editor e;
	parse_ok(&m, msg, sizeof(msg) - 1);
	assert_int_equal(m.count[SIP_H_VIA], 3);
	sip_edit_init(&e, &m);
	assert_int_equal(sip_edit_delete_all(&e, SIP_H_VIA), 0);
	assert_int_equal(e.nops, 3);
	/* an absent header is a no-op, not an error */
	assert_int_equal(sip_edit_delete_all(&e, SIP_H_RECORD_ROUTE), 0);
	assert_int_equal(e.nops, 3);
	ASSERT_OUTPUT(&e,
		      "SIP/2.0 200 OK\r\n"
		      "To: <sip:b@example.com>;tag=2\r\n"
		      "From: <sip:a@example.com>;tag=1\r\n"
		      "Call-ID: x@y\r\n"
		      "CSeq: 1 INVITE\r\n"
		      "Content-Length: 0\r\n"
		      "\r\n");
}

/* The header name is kept exactly as received: compact form, odd case, and
 * the LWS before the colon, so only the value's bytes change. */
static void test_edit_replace_value_keeps_name(void **state)
{
	(void)state;
	static const char msg[] =
		"OPTIONS sip:x@example.com SIP/2.0\r\n"
		"v: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n"
		"cOnTaCt   :   <sip:u@10.0.0.1>  \r\n"
		"Subject: a\r\n"
		" folded\r\n"
		"Content-Length: 0\r\n"
		"\r\n";
	struct sip_msg m;
	struct sip_editor e;
	parse_ok(&m, msg, sizeof(msg) - 1);
	sip_edit_init(&e, &m);
	assert_int_equal(sip_edit_replace_value(&e, 0, SIP_STR("SIP/2.0/UDP sbc.example.net;branch=z9hG4bKs")), 0);
	assert_int_equal(sip_edit_replace_value(&e, 1, SIP_STR("<sip:sbc@sbc.example.net>")), 0);
	assert_int_equal(sip_edit_replace_value(&e, 2, SIP_STR("b")), 0);
	ASSERT_OUTPUT(&e,
		      "OPTIONS sip:x@example.com SIP/2.0\r\n"
		      "v: SIP/2.0/UDP sbc.example.net;branch=z9hG4bKs\r\n"
		      "cOnTaCt   :   <sip:sbc@sbc.example.net>  \r\n"
		      "Subject: b\r\n"
		      "Content-Length: 0\r\n"
		      "\r\n");
}

/* An empty value has a position too: the end of the line's content. */
static void test_edit_replace_empty_value(void **state)
{
	(void)state;
	static const char msg[] =
		"OPTIONS sip:x@example.com SIP/2.0\r\nSubject:\r\nContent-Length: 0\r\n\r\n";
	struct sip_msg m;
	struct sip_editor e;
	parse_ok(&m, msg, sizeof(msg) - 1);
	sip_edit_init(&e, &m);
	assert_int_equal(sip_edit_replace_value(&e, 0, SIP_STR("hi")), 0);
	ASSERT_OUTPUT(&e, "OPTIONS sip:x@example.com SIP/2.0\r\nSubject:hi\r\nContent-Length: 0\r\n\r\n");
}

/* sip_edit_replace with len 0 inserts inside a value (adding ;rport). */
static void test_edit_raw_replace_and_insert(void **state)
{
	(void)state;
	struct sip_msg m;
	struct sip_editor e;
	parse_invite(&m);
	sip_edit_init(&e, &m);
	const struct sip_hdr *via = &m.hdr[I_VIA1];
	uint32_t vend = (uint32_t)(via->value.p + via->value.len - m.buf);
	assert_int_equal(sip_edit_replace(&e, vend, 0, SIP_STR(";rport")), 0);
	/* the Request-URI is a byte range like any other */
	uint32_t ruri = (uint32_t)(m.ruri.p - m.buf);
	assert_int_equal(sip_edit_replace(&e, ruri, m.ruri.len, SIP_STR("sip:bob@10.1.2.3:5060")), 0);
	char want[1024];
	snprintf(want, sizeof(want), "INVITE sip:bob@10.1.2.3:5060 SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds;rport\r\n%s",
		 strstr(invite, "Via: SIP/2.0/UDP p2"));
	ASSERT_OUTPUT(&e, want);
}

static void test_edit_insert_before_and_append(void **state)
{
	(void)state;
	struct sip_msg m;
	struct sip_editor e;
	static const char msg[] =
		"BYE sip:b@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n"
		"Call-ID: x@y\r\n"
		"Content-Length: 0\r\n"
		"\r\n";
	parse_ok(&m, msg, sizeof(msg) - 1);
	sip_edit_init(&e, &m);
	assert_int_equal(sip_edit_insert_hdr(&e, 0, SIP_STR("Via"), SIP_STR("SIP/2.0/UDP sbc;branch=z9hG4bKs")), 0);
	assert_int_equal(sip_edit_insert_hdr(&e, 1, SIP_STR("Max-Forwards"), SIP_STR("69")), 0);
	assert_int_equal(sip_edit_insert_hdr(&e, m.nhdr, SIP_STR("X-Trace"), SIP_STR("1")), 0);
	ASSERT_OUTPUT(&e,
		      "BYE sip:b@example.com SIP/2.0\r\n"
		      "Via: SIP/2.0/UDP sbc;branch=z9hG4bKs\r\n"
		      "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n"
		      "Max-Forwards: 69\r\n"
		      "Call-ID: x@y\r\n"
		      "Content-Length: 0\r\n"
		      "X-Trace: 1\r\n"
		      "\r\n");
}

static void test_edit_insert_past_end_refused(void **state)
{
	(void)state;
	struct sip_msg m;
	struct sip_editor e;
	parse_invite(&m);
	sip_edit_init(&e, &m);
	assert_int_equal(sip_edit_insert_hdr(&e, I_NHDR + 1, SIP_STR("X"), SIP_STR("1")), -EINVAL);
	char out[1024];
	/* sticky: the message must not leave half-edited */
	assert_int_equal(sip_edit_serialize(&e, out, sizeof(out)), -EINVAL);
}

/* Several inserts at one offset come out in call order, whatever the order
 * of inserts at other offsets between them. */
static void test_edit_inserts_at_one_offset_keep_call_order(void **state)
{
	(void)state;
	struct sip_msg m;
	struct sip_editor e;
	static const char msg[] =
		"BYE sip:b@example.com SIP/2.0\r\n"
		"Call-ID: x@y\r\n"
		"CSeq: 2 BYE\r\n"
		"Content-Length: 0\r\n"
		"\r\n";
	parse_ok(&m, msg, sizeof(msg) - 1);
	sip_edit_init(&e, &m);
	assert_int_equal(sip_edit_insert_hdr(&e, 1, SIP_STR("A"), SIP_STR("1")), 0);
	assert_int_equal(sip_edit_insert_hdr(&e, 3, SIP_STR("Z"), SIP_STR("1")), 0);
	assert_int_equal(sip_edit_insert_hdr(&e, 1, SIP_STR("B"), SIP_STR("2")), 0);
	assert_int_equal(sip_edit_insert_hdr(&e, 0, SIP_STR("First"), SIP_STR("0")), 0);
	assert_int_equal(sip_edit_insert_hdr(&e, 1, SIP_STR("C"), SIP_STR("3")), 0);
	assert_int_equal(sip_edit_insert_hdr(&e, 3, SIP_STR("Y"), SIP_STR("2")), 0);
	ASSERT_OUTPUT(&e,
		      "BYE sip:b@example.com SIP/2.0\r\n"
		      "First: 0\r\n"
		      "Call-ID: x@y\r\n"
		      "A: 1\r\nB: 2\r\nC: 3\r\n"
		      "CSeq: 2 BYE\r\n"
		      "Content-Length: 0\r\n"
		      "Z: 1\r\nY: 2\r\n"
		      "\r\n");
}

/* Replacing a line = insert before it + delete it; the insert lands before
 * the deleted line whichever call came first. */
static void test_edit_insert_and_delete_same_header(void **state)
{
	(void)state;
	static const char want[] =
		"INVITE sip:bob@biloxi.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n"
		"Via: SIP/2.0/UDP p2.example.com;branch=z9hG4bK2\r\n"
		"Max-Forwards: 69\r\n"
		"Record-Route: <sip:p1.example.com;lr>\r\n"
		"To: Bob <sip:bob@biloxi.com>\r\n"
		"From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
		"Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n"
		"CSeq: 314159 INVITE\r\n"
		"Record-Route: <sip:p2.example.com;lr>\r\n"
		"Contact: <sip:alice@pc33.atlanta.com>\r\n"
		"Content-Type: application/sdp\r\n"
		"Content-Length: 4\r\n"
		"\r\n"
		"v=0\n";
	for (int order = 0; order < 2; order++) {
		struct sip_msg m;
		struct sip_editor e;
		parse_invite(&m);
		sip_edit_init(&e, &m);
		if (order == 0) {
			assert_int_equal(sip_edit_insert_hdr(&e, I_MF, SIP_STR("Max-Forwards"), SIP_STR("69")), 0);
			assert_int_equal(sip_edit_delete_hdr(&e, I_MF), 0);
		} else {
			assert_int_equal(sip_edit_delete_hdr(&e, I_MF), 0);
			assert_int_equal(sip_edit_insert_hdr(&e, I_MF, SIP_STR("Max-Forwards"), SIP_STR("69")), 0);
		}
		ASSERT_OUTPUT(&e, want);
	}
}

/* Inserted bytes are copied at the call: stack temporaries may die. */
static void test_edit_copies_inserted_bytes(void **state)
{
	(void)state;
	struct sip_msg m;
	struct sip_editor e;
	static const char msg[] = "BYE sip:b@example.com SIP/2.0\r\nContent-Length: 0\r\n\r\n";
	parse_ok(&m, msg, sizeof(msg) - 1);
	sip_edit_init(&e, &m);
	char name[16], value[16];
	strcpy(name, "X-A");
	strcpy(value, "one");
	assert_int_equal(sip_edit_insert_hdr(&e, 0, (sip_str_t){ name, 3 }, (sip_str_t){ value, 3 }), 0);
	memset(name, '#', sizeof(name));
	memset(value, '#', sizeof(value));
	ASSERT_OUTPUT(&e, "BYE sip:b@example.com SIP/2.0\r\nX-A: one\r\nContent-Length: 0\r\n\r\n");
}

/* ---- body and Content-Length ----------------------------------------------- */

static void test_edit_set_body_fixes_content_length(void **state)
{
	(void)state;
	static const struct { const char *name, *msg, *body, *want; } cases[] = {
		{ "existing Content-Length",
		  "MESSAGE sip:b@example.com SIP/2.0\r\nContent-Length: 4\r\nX: y\r\n\r\nabcd",
		  "hello, world!",
		  "MESSAGE sip:b@example.com SIP/2.0\r\nContent-Length: 13\r\nX: y\r\n\r\nhello, world!" },
		{ "compact l: keeps its name",
		  "MESSAGE sip:b@example.com SIP/2.0\r\nl:4\r\n\r\nabcd", "xy",
		  "MESSAGE sip:b@example.com SIP/2.0\r\nl:2\r\n\r\nxy" },
		{ "padded value",
		  "MESSAGE sip:b@example.com SIP/2.0\r\nContent-Length:   0004  \r\n\r\nabcd", "",
		  "MESSAGE sip:b@example.com SIP/2.0\r\nContent-Length:   0  \r\n\r\n" },
		{ "absent: added after the last header",
		  "MESSAGE sip:b@example.com SIP/2.0\r\nX: y\r\n\r\n", "body",
		  "MESSAGE sip:b@example.com SIP/2.0\r\nX: y\r\nContent-Length: 4\r\n\r\nbody" },
		{ "absent with an old body",
		  "MESSAGE sip:b@example.com SIP/2.0\r\nX: y\r\n\r\nold body", "new",
		  "MESSAGE sip:b@example.com SIP/2.0\r\nX: y\r\nContent-Length: 3\r\n\r\nnew" },
		{ "trailing octets are not the body",
		  "MESSAGE sip:b@example.com SIP/2.0\r\nContent-Length: 2\r\n\r\nabJUNK", "xyz",
		  "MESSAGE sip:b@example.com SIP/2.0\r\nContent-Length: 3\r\n\r\nxyz" },
	};
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct sip_msg m;
		struct sip_editor e;
		print_message("case: %s\n", cases[i].name);
		parse_ok(&m, cases[i].msg, strlen(cases[i].msg));
		sip_edit_init(&e, &m);
		assert_int_equal(sip_edit_set_body(&e, (sip_str_t){ cases[i].body, (uint32_t)strlen(cases[i].body) }), 0);
		ASSERT_OUTPUT(&e, cases[i].want);
	}
}

static void test_edit_set_body_twice_refused(void **state)
{
	(void)state;
	struct sip_msg m;
	struct sip_editor e;
	char out[1024];
	parse_invite(&m);
	sip_edit_init(&e, &m);
	assert_int_equal(sip_edit_set_body(&e, SIP_STR("a")), 0);
	assert_int_equal(sip_edit_set_body(&e, SIP_STR("b")), -EINVAL);
	assert_int_equal(sip_edit_serialize(&e, out, sizeof(out)), -EINVAL);
}

/* RFC 2543 datagrams without Content-Length leave with one (the body is the
 * rest of the datagram), so a stream transport downstream can frame them. */
static void test_edit_adds_missing_content_length(void **state)
{
	(void)state;
	static const struct { const char *msg, *want; } cases[] = {
		{ "OPTIONS sip:x@example.com SIP/2.0\r\nCall-ID: c@h\r\n\r\nv=0\r\n",
		  "OPTIONS sip:x@example.com SIP/2.0\r\nCall-ID: c@h\r\nContent-Length: 5\r\n\r\nv=0\r\n" },
		{ "OPTIONS sip:x@example.com SIP/2.0\r\nCall-ID: c@h\r\n\r\n",
		  "OPTIONS sip:x@example.com SIP/2.0\r\nCall-ID: c@h\r\nContent-Length: 0\r\n\r\n" },
	};
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct sip_msg m;
		struct sip_editor e;
		parse_ok(&m, cases[i].msg, strlen(cases[i].msg));
		assert_false(m.has_content_length);
		sip_edit_init(&e, &m);
		ASSERT_OUTPUT(&e, cases[i].want);
	}
}

/* The added Content-Length is an insertion at the end of the headers: a
 * range spanning that point would split it. */
static void test_edit_range_across_added_content_length_refused(void **state)
{
	(void)state;
	struct sip_msg m;
	struct sip_editor e;
	char out[256];
	static const char msg[] = "OPTIONS sip:x@example.com SIP/2.0\r\nCall-ID: c@h\r\n\r\nab";
	parse_ok(&m, msg, sizeof(msg) - 1);
	sip_edit_init(&e, &m);
	assert_int_equal(sip_edit_replace(&e, m.hdr_end - 2, 4, SIP_STR("\r\n\r\n")), 0);
	assert_int_equal(sip_edit_serialize(&e, out, sizeof(out)), -EINVAL);
	/* ending exactly at the headers' end is fine */
	sip_edit_init(&e, &m);
	assert_int_equal(sip_edit_replace(&e, m.hdr[0].value.p - m.buf, 3, SIP_STR("d@e")), 0);
	ASSERT_OUTPUT(&e, "OPTIONS sip:x@example.com SIP/2.0\r\nCall-ID: d@e\r\n"
			  "Content-Length: 2\r\n\r\nab");
}

/* The added Content-Length comes after headers the caller appended. */
static void test_edit_missing_content_length_after_appends(void **state)
{
	(void)state;
	struct sip_msg m;
	struct sip_editor e;
	static const char msg[] = "OPTIONS sip:x@example.com SIP/2.0\r\nCall-ID: c@h\r\n\r\nab";
	parse_ok(&m, msg, sizeof(msg) - 1);
	sip_edit_init(&e, &m);
	assert_int_equal(sip_edit_insert_hdr(&e, m.nhdr, SIP_STR("X-A"), SIP_STR("1")), 0);
	ASSERT_OUTPUT(&e, "OPTIONS sip:x@example.com SIP/2.0\r\nCall-ID: c@h\r\nX-A: 1\r\n"
			  "Content-Length: 2\r\n\r\nab");
}

/* Serializing is repeatable: a caller that got -ENOSPC retries with a larger
 * buffer and must get the same message, not one with a second
 * Content-Length. */
static void test_edit_serialize_is_repeatable(void **state)
{
	(void)state;
	static const char *const msgs[] = {
		"OPTIONS sip:x@example.com SIP/2.0\r\nCall-ID: c@h\r\n\r\nbody",
		invite,
	};
	for (size_t i = 0; i < N_ELEMS(msgs); i++) {
		struct sip_msg m;
		struct sip_editor e;
		char a[1024], b[1024], small[8];
		parse_ok(&m, msgs[i], strlen(msgs[i]));
		sip_edit_init(&e, &m);
		assert_int_equal(sip_edit_insert_hdr(&e, 0, SIP_STR("X-A"), SIP_STR("1")), 0);
		assert_int_equal(sip_edit_serialize(&e, small, sizeof(small)), -ENOSPC);
		int na = sip_edit_serialize(&e, a, sizeof(a));
		int nb = sip_edit_serialize(&e, b, sizeof(b));
		assert_true(na > 0);
		assert_int_equal(na, nb);
		assert_memory_equal(a, b, (size_t)na);
		struct sip_msg r;
		parse_ok(&r, a, (size_t)na);
		assert_int_equal(r.count[SIP_H_CONTENT_LENGTH], 1);
		assert_int_equal(r.nhdr, m.nhdr + 1 + (m.has_content_length ? 0 : 1));
	}
}

/* A datagram longer than Content-Length carries octets that are not part of
 * the message (RFC 3261 18.3, RFC 4475 dblreq): they are never forwarded. */
static void test_edit_trailing_octets_not_serialized(void **state)
{
	(void)state;
	static const char msg[] =
		"REGISTER sip:example.com SIP/2.0\r\n"
		"Content-Length: 0\r\n"
		"\r\n"
		"INVITE sip:joe@example.com SIP/2.0\r\n\r\n";
	struct sip_msg m;
	struct sip_editor e;
	parse_ok(&m, msg, sizeof(msg) - 1);
	sip_edit_init(&e, &m);
	ASSERT_OUTPUT(&e, "REGISTER sip:example.com SIP/2.0\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(sip_edit_insert_hdr(&e, 0, SIP_STR("X"), SIP_STR("1")), 0);
	ASSERT_OUTPUT(&e, "REGISTER sip:example.com SIP/2.0\r\nX: 1\r\nContent-Length: 0\r\n\r\n");
}

/* ---- refused edits -------------------------------------------------------------- */

static void test_edit_overlapping_edits_refused(void **state)
{
	(void)state;
	struct sip_msg m;
	parse_invite(&m);
	const uint32_t via = m.hdr[I_VIA1].off, body = m.body_off;
	struct {
		const char *name;
		int ops;
	} cases[] = {
		{ "replace_value then delete of the same line", 0 },
		{ "delete then replace_value of the same line", 1 },
		{ "delete twice", 2 },
		{ "raw ranges overlapping by one byte", 3 },
		{ "insert strictly inside a deleted line", 4 },
		{ "delete_all then delete of one of them", 5 },
		{ "set_body then an edit inside the old body", 6 },
		{ "set_body then an edit of Content-Length", 7 },
	};
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct sip_editor e;
		char out[2048];
		print_message("case: %s\n", cases[i].name);
		sip_edit_init(&e, &m);
		switch (cases[i].ops) {
		case 0:
			assert_int_equal(sip_edit_replace_value(&e, I_VIA1, SIP_STR("x")), 0);
			assert_int_equal(sip_edit_delete_hdr(&e, I_VIA1), 0);
			break;
		case 1:
			assert_int_equal(sip_edit_delete_hdr(&e, I_VIA1), 0);
			assert_int_equal(sip_edit_replace_value(&e, I_VIA1, SIP_STR("x")), 0);
			break;
		case 2:
			assert_int_equal(sip_edit_delete_hdr(&e, I_TO), 0);
			assert_int_equal(sip_edit_delete_hdr(&e, I_TO), 0);
			break;
		case 3:
			assert_int_equal(sip_edit_replace(&e, via, 10, SIP_STR("a")), 0);
			assert_int_equal(sip_edit_replace(&e, via + 9, 5, SIP_STR("b")), 0);
			break;
		case 4:
			assert_int_equal(sip_edit_delete_hdr(&e, I_VIA1), 0);
			assert_int_equal(sip_edit_replace(&e, via + 3, 0, SIP_STR("x")), 0);
			break;
		case 5:
			assert_int_equal(sip_edit_delete_all(&e, SIP_H_RECORD_ROUTE), 0);
			assert_int_equal(sip_edit_delete_hdr(&e, I_RR2), 0);
			break;
		case 6:
			assert_int_equal(sip_edit_set_body(&e, SIP_STR("new")), 0);
			assert_int_equal(sip_edit_replace(&e, body, 1, SIP_STR("V")), 0);
			break;
		case 7:
			assert_int_equal(sip_edit_set_body(&e, SIP_STR("new")), 0);
			assert_int_equal(sip_edit_delete_hdr(&e, I_CL), 0);
			break;
		}
		assert_int_equal(sip_edit_serialize(&e, out, sizeof(out)), -EINVAL);
	}
}

/* Touching ranges are not overlapping: consecutive lines, and an insert at
 * the first byte after a deleted line. */
static void test_edit_adjacent_edits_accepted(void **state)
{
	(void)state;
	struct sip_msg m;
	struct sip_editor e;
	parse_invite(&m);
	sip_edit_init(&e, &m);
	assert_int_equal(sip_edit_delete_hdr(&e, I_VIA1), 0);
	assert_int_equal(sip_edit_delete_hdr(&e, I_VIA2), 0);
	assert_int_equal(sip_edit_replace(&e, m.hdr[I_MF].off, 0, SIP_STR("X: 1\r\n")), 0);
	char want[1024];
	snprintf(want, sizeof(want), "INVITE sip:bob@biloxi.com SIP/2.0\r\nX: 1\r\n%s",
		 strstr(invite, "Max-Forwards"));
	ASSERT_OUTPUT(&e, want);
}

static void test_edit_out_of_range_refused(void **state)
{
	(void)state;
	struct sip_msg m;
	parse_invite(&m);
	const uint32_t end = m.body_off + m.body_len;
	static const int kinds[] = { 0, 1, 2, 3, 4 };
	for (size_t i = 0; i < N_ELEMS(kinds); i++) {
		struct sip_editor e;
		char out[2048];
		int r = 0;
		sip_edit_init(&e, &m);
		switch (kinds[i]) {
		case 0: r = sip_edit_delete_hdr(&e, I_NHDR); break;
		case 1: r = sip_edit_replace_value(&e, I_NHDR, SIP_STR("x")); break;
		case 2: r = sip_edit_replace(&e, end + 1, 0, SIP_STR("x")); break;
		case 3: r = sip_edit_replace(&e, end - 1, 2, SIP_STR("x")); break;
		case 4: r = sip_edit_replace(&e, 10, UINT32_MAX, SIP_STR("x")); break;
		}
		assert_int_equal(r, -EINVAL);
		assert_int_equal(sip_edit_serialize(&e, out, sizeof(out)), -EINVAL);
	}
	/* the very end of the body is a valid insertion point */
	struct sip_editor e;
	sip_edit_init(&e, &m);
	assert_int_equal(sip_edit_replace(&e, end, 0, SIP_STR("")), 0);
	ASSERT_OUTPUT(&e, invite);
}

static void test_edit_too_many_ops(void **state)
{
	(void)state;
	struct sip_msg m;
	struct sip_editor e;
	char out[4096];
	parse_invite(&m);
	sip_edit_init(&e, &m);
	for (unsigned i = 0; i < SIP_EDIT_MAX_OPS; i++)
		assert_int_equal(sip_edit_insert_hdr(&e, 0, SIP_STR("X"), SIP_STR("1")), 0);
	int n = sip_edit_serialize(&e, out, sizeof(out));
	assert_int_equal(n, (int)(sizeof(invite) - 1 + SIP_EDIT_MAX_OPS * 6));
	assert_int_equal(sip_edit_insert_hdr(&e, 0, SIP_STR("X"), SIP_STR("1")), -ENOSPC);
	assert_int_equal(sip_edit_serialize(&e, out, sizeof(out)), -EINVAL);
}

static void test_edit_scratch_exhausted(void **state)
{
	(void)state;
	static char big[SIP_EDIT_SCRATCH + 1];
	memset(big, 'a', sizeof(big));
	struct sip_msg m;
	struct sip_editor e;
	char out[4096];
	parse_invite(&m);

	/* exactly the arena fits */
	sip_edit_init(&e, &m);
	assert_int_equal(sip_edit_replace(&e, 0, 0, (sip_str_t){ big, SIP_EDIT_SCRATCH }), 0);
	assert_int_equal(e.scratch_used, SIP_EDIT_SCRATCH);
	/* ... and not one byte more, including a header line's ": " and CRLF */
	assert_int_equal(sip_edit_insert_hdr(&e, 0, SIP_STR(""), SIP_STR("")), -ENOSPC);
	assert_int_equal(sip_edit_serialize(&e, out, sizeof(out)), -EINVAL);

	sip_edit_init(&e, &m);
	assert_int_equal(sip_edit_replace(&e, 0, 0, (sip_str_t){ big, sizeof(big) }), -ENOSPC);
	assert_int_equal(sip_edit_serialize(&e, out, sizeof(out)), -EINVAL);

	sip_edit_init(&e, &m);
	assert_int_equal(sip_edit_insert_hdr(&e, 0, SIP_STR("X"), (sip_str_t){ big, SIP_EDIT_SCRATCH - 4 }), -ENOSPC);
	assert_int_equal(sip_edit_serialize(&e, out, sizeof(out)), -EINVAL);

	/* sip_edit_init resets everything: the editor is reusable */
	sip_edit_init(&e, &m);
	ASSERT_OUTPUT(&e, invite);
}

static void test_edit_enospc_small_out(void **state)
{
	(void)state;
	struct sip_msg m;
	struct sip_editor e;
	static char out[4096];
	parse_invite(&m);
	sip_edit_init(&e, &m);
	assert_int_equal(sip_edit_delete_all(&e, SIP_H_RECORD_ROUTE), 0);
	assert_int_equal(sip_edit_set_body(&e, SIP_STR("v=0\r\ns=-\r\n")), 0);
	int full = sip_edit_serialize(&e, out, sizeof(out));
	assert_true(full > 0);
	for (int cap = 0; cap < full; cap++) {
		memset(out, 'Z', sizeof(out));
		assert_int_equal(sip_edit_serialize(&e, out, (size_t)cap), -ENOSPC);
		assert_int_equal(out[cap], 'Z'); /* never writes past cap */
	}
	assert_int_equal(sip_edit_serialize(&e, out, (size_t)full), full);
}

/* ---- a whole rewrite ---------------------------------------------------------- */

/* What the SBC does to an INVITE leaving for the core: one Via of its own,
 * its own Contact, no Record-Route of the access side, anchored SDP. */
static void test_edit_topology_hiding_rewrite(void **state)
{
	(void)state;
	static const char sdp[] =
		"v=0\r\n"
		"o=- 1 1 IN IP4 203.0.113.1\r\n"
		"s=-\r\n"
		"c=IN IP4 203.0.113.1\r\n"
		"t=0 0\r\n"
		"m=audio 40000 RTP/AVP 0\r\n";
	static const char want[] =
		"INVITE sip:bob@biloxi.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP sbc.example.net:5060;branch=z9hG4bKsbc1\r\n"
		"Max-Forwards: 70\r\n"
		"To: Bob <sip:bob@biloxi.com>\r\n"
		"From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
		"Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n"
		"CSeq: 314159 INVITE\r\n"
		"Contact: <sip:sbc-7f3a@sbc.example.net:5060>\r\n"
		"Content-Type: application/sdp\r\n"
		"Content-Length: 92\r\n"
		"\r\n"
		"v=0\r\n"
		"o=- 1 1 IN IP4 203.0.113.1\r\n"
		"s=-\r\n"
		"c=IN IP4 203.0.113.1\r\n"
		"t=0 0\r\n"
		"m=audio 40000 RTP/AVP 0\r\n";
	assert_int_equal(strlen(sdp), 92);

	struct sip_msg m;
	struct sip_editor e;
	parse_invite(&m);
	sip_edit_init(&e, &m);
	const struct sip_hdr *top = sip_hdr_first(&m, SIP_H_VIA);
	assert_int_equal(sip_edit_delete_all(&e, SIP_H_VIA), 0);
	assert_int_equal(sip_edit_insert_hdr(&e, (uint16_t)(top - m.hdr), SIP_STR("Via"),
					     SIP_STR("SIP/2.0/UDP sbc.example.net:5060;branch=z9hG4bKsbc1")),
			 0);
	assert_int_equal(sip_edit_replace_value(&e, I_CONTACT,
						SIP_STR("<sip:sbc-7f3a@sbc.example.net:5060>")),
			 0);
	assert_int_equal(sip_edit_delete_all(&e, SIP_H_RECORD_ROUTE), 0);
	assert_int_equal(sip_edit_set_body(&e, (sip_str_t){ sdp, sizeof(sdp) - 1 }), 0);

	char out[2048];
	int n = sip_edit_serialize(&e, out, sizeof(out));
	assert_int_equal(n, (int)strlen(want));
	assert_memory_equal(out, want, strlen(want));

	/* the output is a valid request with the rewritten fields */
	struct sip_msg r;
	parse_ok(&r, out, (size_t)n);
	assert_int_equal(sip_check(&r), SIP_E_OK);
	assert_int_equal(r.nhdr, I_NHDR - 3);
	assert_int_equal(r.count[SIP_H_VIA], 1);
	assert_int_equal(r.count[SIP_H_RECORD_ROUTE], 0);
	struct sip_via v;
	assert_int_equal(sip_msg_top_via(&r, &v), 1);
	assert_true(view_is(v.host, "sbc.example.net"));
	assert_int_equal(v.port, 5060);
	assert_true(view_is(v.branch, "z9hG4bKsbc1"));
	struct sip_contact c;
	assert_int_equal(sip_contact_parse(sip_hdr_first(&r, SIP_H_CONTACT)->value, &c), 0);
	assert_true(view_is(c.na.uri, "sip:sbc-7f3a@sbc.example.net:5060"));
	assert_true(r.has_content_length);
	assert_true(view_is(sip_msg_body(&r), sdp));
	struct sip_nameaddr na;
	assert_int_equal(sip_msg_from(&r, &na), 1);
	assert_true(view_is(na.tag, "1928301774"));
	struct sip_cseq cs;
	assert_int_equal(sip_msg_cseq(&r, &cs), 1);
	assert_int_equal(cs.seq, 314159);
}

/* ---- properties ----------------------------------------------------------------- */

static const char *const prop_msgs[] = {
	invite,
	/* compact names, folding, a multi-value Contact, an empty header */
	"REGISTER sip:registrar.example.com SIP/2.0\r\n"
	"v: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKr1;rport\r\n"
	"f: <sip:alice@example.com>;tag=r1\r\n"
	"t: <sip:alice@example.com>\r\n"
	"i: reg-1@192.0.2.10\r\n"
	"CSeq: 1 REGISTER\r\n"
	"m: <sip:alice@192.0.2.10:5060>;expires=3600,\r\n"
	" <sip:alice@198.51.100.7>;q=0.5\r\n"
	"Expires: 3600\r\n"
	"Subject:\r\n"
	"l: 0\r\n"
	"\r\n",
	/* a response with a body */
	"SIP/2.0 200 OK\r\n"
	"Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bK1, SIP/2.0/UDP p2.example.com;branch=z9hG4bK2\r\n"
	"Record-Route: <sip:p1.example.com;lr>\r\n"
	"From: <sip:a@example.com>;tag=1\r\n"
	"To: <sip:b@example.com>;tag=2\r\n"
	"Call-ID: resp@x\r\n"
	"CSeq: 7 INVITE\r\n"
	"Contact: <sip:b@192.0.2.20>\r\n"
	"Content-Type: text/plain\r\n"
	"Content-Length: 10\r\n"
	"\r\n"
	"0123456789",
	/* bare LF line ends, accepted on input */
	"OPTIONS sip:x@example.com SIP/2.0\n"
	"Via: SIP/2.0/UDP h.example.com;branch=z9hG4bKlf\n"
	"From: <sip:a@example.com>;tag=1\n"
	"To: <sip:x@example.com>\n"
	"Call-ID: lf@h\n"
	"CSeq: 1 OPTIONS\n"
	"Content-Length: 0\n"
	"\n",
	/* trailing octets after Content-Length */
	"BYE sip:b@example.com SIP/2.0\r\n"
	"Via: SIP/2.0/UDP h.example.com;branch=z9hG4bKt\r\n"
	"Call-ID: t@h\r\n"
	"Content-Length: 2\r\n"
	"\r\n"
	"okTRAILING GARBAGE",
	/* no Content-Length at all (RFC 2543) */
	"BYE sip:b@example.com SIP/2.0\r\n"
	"Via: SIP/2.0/UDP h.example.com;branch=z9hG4bKn\r\n"
	"Call-ID: n@h\r\n"
	"\r\n"
	"rest of datagram",
};

/* Deterministic xorshift32: failures reproduce from the fixed seed. */
static uint32_t rng_next(uint32_t *s)
{
	uint32_t x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

/* No edits: the message up to Content-Length, plus a Content-Length line
 * before the blank line when the original had none. */
static void check_identity(const char *buf, size_t len, const char *name)
{
	struct sip_msg m;
	struct sip_editor e;
	static char out[SIP_MAX_MSG + 64];
	if (sip_parse(&m, buf, len) != SIP_E_OK)
		return;
	sip_edit_init(&e, &m);
	int n = sip_edit_serialize(&e, out, sizeof(out));
	uint32_t end = m.body_off + m.body_len;
	if (m.has_content_length) {
		if (n != (int)end || memcmp(out, buf, end) != 0) {
			print_error("identity failed for %s\n", name);
			fail();
		}
		return;
	}
	char cl[32];
	int k = snprintf(cl, sizeof(cl), "Content-Length: %u\r\n", m.body_len);
	if (n != (int)end + k || memcmp(out, buf, m.hdr_end) != 0 ||
	    memcmp(out + m.hdr_end, cl, (size_t)k) != 0 ||
	    memcmp(out + m.hdr_end + k, buf + m.hdr_end, end - m.hdr_end) != 0) {
		print_error("identity (+Content-Length) failed for %s\n", name);
		fail();
	}
}

/* Random sets of header deletes: the output parses, has exactly the headers
 * not deleted, in order and byte-identical, and the same body. */
static void check_random_deletes(const char *buf, size_t len, const char *name, uint32_t *seed,
				 unsigned iters)
{
	struct sip_msg m;
	static struct sip_msg r;
	static char out[SIP_MAX_MSG + 64];
	if (sip_parse(&m, buf, len) != SIP_E_OK)
		return;
	for (unsigned it = 0; it < iters; it++) {
		bool del[SIP_MAX_HEADERS] = { false };
		uint16_t order[SIP_MAX_HEADERS];
		unsigned k = 0;
		for (uint16_t i = 0; i < m.nhdr; i++)
			if (rng_next(seed) % 3 == 0) {
				del[i] = true;
				order[k++] = i;
			}
		for (unsigned i = k; i > 1; i--) { /* deletes in random call order */
			unsigned j = rng_next(seed) % i;
			uint16_t t = order[i - 1];
			order[i - 1] = order[j];
			order[j] = t;
		}
		struct sip_editor e;
		sip_edit_init(&e, &m);
		for (unsigned i = 0; i < k; i++)
			assert_int_equal(sip_edit_delete_hdr(&e, order[i]), 0);
		int n = sip_edit_serialize(&e, out, sizeof(out));
		assert_true(n > 0);
		enum sip_err pe = sip_parse(&r, out, (size_t)n);
		if (pe != SIP_E_OK) {
			print_error("%s: reparse after %u deletes: %s\n", name, k, sip_err_name(pe));
			fail();
		}
		unsigned added = m.has_content_length ? 0 : 1;
		assert_int_equal(r.nhdr, m.nhdr - k + added);
		uint16_t j = 0;
		for (uint16_t i = 0; i < m.nhdr; i++) {
			if (del[i])
				continue;
			if (!sip_str_eq(r.hdr[j].name, m.hdr[i].name) ||
			    !sip_str_eq(r.hdr[j].value, m.hdr[i].value)) {
				print_error("%s: header %u differs after deletes\n", name, i);
				fail();
			}
			j++;
		}
		assert_true(sip_str_eq(sip_msg_body(&r), sip_msg_body(&m)));
	}
}

static void test_prop_no_edits_is_identity(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(prop_msgs); i++) {
		struct sip_msg m;
		parse_ok(&m, prop_msgs[i], strlen(prop_msgs[i]));
		check_identity(prop_msgs[i], strlen(prop_msgs[i]), prop_msgs[i]);
	}
}

static void test_prop_random_deletes_reparse(void **state)
{
	(void)state;
	uint32_t seed = 0x5eed1234u;
	for (size_t i = 0; i < N_ELEMS(prop_msgs); i++)
		check_random_deletes(prop_msgs[i], strlen(prop_msgs[i]), prop_msgs[i], &seed, 300);
}

/* The same properties over the RFC 4475 torture messages that sip_parse
 * accepts (binary bodies, NUL in headers, folding everywhere). Skipped when
 * the shared directory is not known (plain gcc runs). */
static void test_prop_rfc4475_corpus(void **state)
{
	(void)state;
	const char *shared = getenv("SBC_SHARED_DIR");
	if (!shared) {
		print_message("SBC_SHARED_DIR unset: corpus skipped\n");
		skip();
	}
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/conformance/rfc4475", shared);
	DIR *d = opendir(dir);
	if (!d) {
		print_message("%s: not found, corpus skipped\n", dir);
		skip();
	}
	static char buf[SIP_MAX_MSG + 1];
	uint32_t seed = 0xc0ffee01u;
	unsigned files = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name);
		if (nl < 5 || strcmp(de->d_name + nl - 4, ".dat") != 0)
			continue;
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		FILE *f = fopen(path, "rb");
		assert_non_null(f);
		size_t len = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		check_identity(buf, len, de->d_name);
		check_random_deletes(buf, len, de->d_name, &seed, 40);
		files++;
	}
	closedir(d);
	assert_true(files > 0);
}

/* Fuzzer find: an empty body given as SIP_STR_NULL serializes (no
 * memcpy from NULL) with Content-Length: 0. */
static void test_set_body_null_empty(void **state)
{
	static const char m[] = "MESSAGE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\n"
				"To: <sip:b@h>\r\nFrom: <sip:a@h>;tag=1\r\nCall-ID: x\r\n"
				"CSeq: 1 MESSAGE\r\nContent-Length: 2\r\n\r\nhi";
	static struct sip_msg msg;
	static struct sip_editor e;
	char out[512];
	assert_int_equal(sip_parse(&msg, m, sizeof(m) - 1), SIP_E_OK);
	sip_edit_init(&e, &msg);
	assert_int_equal(sip_edit_set_body(&e, SIP_STR_NULL), 0);
	int n = sip_edit_serialize(&e, out, sizeof(out));
	assert_true(n > 0);
	assert_non_null(strstr(out, "Content-Length: 0\r\n\r\n"));
	assert_int_equal(memcmp(out + n - 4, "\r\n\r\n", 4), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_body_null_empty),
		cmocka_unit_test(test_edit_no_edits_is_identity),
		cmocka_unit_test(test_edit_delete_header_line),
		cmocka_unit_test(test_edit_delete_folded_header),
		cmocka_unit_test(test_edit_delete_all),
		cmocka_unit_test(test_edit_replace_value_keeps_name),
		cmocka_unit_test(test_edit_replace_empty_value),
		cmocka_unit_test(test_edit_raw_replace_and_insert),
		cmocka_unit_test(test_edit_insert_before_and_append),
		cmocka_unit_test(test_edit_insert_past_end_refused),
		cmocka_unit_test(test_edit_inserts_at_one_offset_keep_call_order),
		cmocka_unit_test(test_edit_insert_and_delete_same_header),
		cmocka_unit_test(test_edit_copies_inserted_bytes),
		cmocka_unit_test(test_edit_set_body_fixes_content_length),
		cmocka_unit_test(test_edit_set_body_twice_refused),
		cmocka_unit_test(test_edit_adds_missing_content_length),
		cmocka_unit_test(test_edit_missing_content_length_after_appends),
		cmocka_unit_test(test_edit_range_across_added_content_length_refused),
		cmocka_unit_test(test_edit_serialize_is_repeatable),
		cmocka_unit_test(test_edit_trailing_octets_not_serialized),
		cmocka_unit_test(test_edit_overlapping_edits_refused),
		cmocka_unit_test(test_edit_adjacent_edits_accepted),
		cmocka_unit_test(test_edit_out_of_range_refused),
		cmocka_unit_test(test_edit_too_many_ops),
		cmocka_unit_test(test_edit_scratch_exhausted),
		cmocka_unit_test(test_edit_enospc_small_out),
		cmocka_unit_test(test_edit_topology_hiding_rewrite),
		cmocka_unit_test(test_prop_no_edits_is_identity),
		cmocka_unit_test(test_prop_random_deletes_reparse),
		cmocka_unit_test(test_prop_rfc4475_corpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
