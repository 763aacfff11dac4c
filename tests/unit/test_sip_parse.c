/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sip_parse / sip_check: start line, header index, framing and sanity.
 * Data-driven parts read committed corpora:
 *   tests/corpus/malformed/MANIFEST.tsv   our own hostile messages
 *   ../shared/conformance/rfc4475/NAME.dat the RFC 4475 torture messages
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sip.h"

static struct sip_msg msg;

static size_t read_file(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	size_t n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

static const char *env_dir(const char *var, const char *dflt)
{
	const char *d = getenv(var);
	return d ? d : dflt;
}

/* parse + check as the SBC runs them. */
static enum sip_err judge(const char *buf, size_t len)
{
	enum sip_err e = sip_parse(&msg, buf, len);
	return e != SIP_E_OK ? e : sip_check(&msg);
}

static enum sip_err judge_str(const char *s)
{
	return judge(s, strlen(s));
}

#define INVITE_HDRS                                                   \
	"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\n" \
	"Max-Forwards: 70\r\n"                                        \
	"To: Bob <sip:bob@example.com>\r\n"                           \
	"From: Alice <sip:alice@example.com>;tag=1928301774\r\n"      \
	"Call-ID: a84b4c76e66710@pc33.example.com\r\n"                \
	"CSeq: 314159 INVITE\r\n"                                     \
	"Contact: <sip:alice@192.0.2.1>\r\n"

static const char invite[] = "INVITE sip:bob@example.com SIP/2.0\r\n" INVITE_HDRS
			     "Content-Type: application/sdp\r\n"
			     "Content-Length: 4\r\n\r\nv=0\n";

/* ---- start line ----------------------------------------------------------- */

static void test_all_methods(void **state)
{
	static const char *names[] = { "INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "PRACK",
				       "SUBSCRIBE", "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE" };
	char buf[1024];
	for (unsigned i = 0; i < 14; i++) {
		int n = snprintf(buf, sizeof(buf),
				 "%s sip:bob@example.com SIP/2.0\r\n"
				 "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKm%u\r\n"
				 "To: <sip:bob@example.com>\r\nFrom: <sip:a@example.com>;tag=1\r\n"
				 "Call-ID: m%u\r\nCSeq: 1 %s\r\nContent-Length: 0\r\n\r\n",
				 names[i], i, i, names[i]);
		assert_int_equal(judge(buf, (size_t)n), SIP_E_OK);
		assert_true(msg.is_request);
		assert_int_equal(msg.method, (enum sip_method)(SIP_M_INVITE + i));
		assert_string_equal(sip_method_name(msg.method), names[i]);
	}
}

static void test_extension_method(void **state)
{
	const char *m = "FOOBAR sip:bob@example.com SIP/2.0\r\n"
			"Via: SIP/2.0/UDP h;branch=z9hG4bKx\r\nTo: <sip:b@h>\r\nFrom: <sip:a@h>;tag=1\r\n"
			"Call-ID: x\r\nCSeq: 7 FOOBAR\r\nl: 0\r\n\r\n";
	assert_int_equal(judge_str(m), SIP_E_OK);
	assert_int_equal(msg.method, SIP_M_UNKNOWN);
	assert_int_equal(msg.method_name.len, 6);
	assert_memory_equal(msg.method_name.p, "FOOBAR", 6);
}

static void test_responses_every_class(void **state)
{
	static const unsigned codes[] = { 100, 180, 183, 199, 200, 202, 299, 300, 302, 399,
					  400, 401, 404, 407, 481, 486, 487, 499, 500, 503, 599, 600, 603, 699 };
	char buf[512];
	for (unsigned i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		int n = snprintf(buf, sizeof(buf),
				 "SIP/2.0 %u Any Reason\xc3\xa9 here\r\n"
				 "Via: SIP/2.0/UDP h;branch=z9hG4bKx\r\nTo: <sip:b@h>;tag=2\r\n"
				 "From: <sip:a@h>;tag=1\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nl: 0\r\n\r\n",
				 codes[i]);
		assert_int_equal(judge(buf, (size_t)n), SIP_E_OK);
		assert_false(msg.is_request);
		assert_int_equal(msg.status, codes[i]);
		assert_int_equal(msg.reason.len, strlen("Any Reason\xc3\xa9 here"));
	}
}

static void test_leading_crlf_skipped(void **state)
{
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), "\r\n\r\n%s", invite);
	assert_int_equal(judge(buf, (size_t)n), SIP_E_OK);
	assert_int_equal(msg.method, SIP_M_INVITE);
}

static void test_bare_lf(void **state)
{
	const char *m = "OPTIONS sip:h SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\nTo: <sip:b@h>\n"
			"From: <sip:a@h>;tag=1\nCall-ID: x\nCSeq: 1 OPTIONS\nl: 0\n\n";
	assert_int_equal(judge_str(m), SIP_E_OK);
	assert_int_equal(msg.nhdr, 6);
	assert_int_equal(msg.body_len, 0);
}

/* ---- header index ------------------------------------------------------------ */

static void test_compact_and_case(void **state)
{
	const char *m = "INVITE sip:b@h SIP/2.0\r\n"
			"v: SIP/2.0/UDP h;branch=z9hG4bKx\r\n"
			"t: <sip:b@h>\r\nf: <sip:a@h>;tag=1\r\ni: x@y\r\n"
			"cSeQ: 1 INVITE\r\nm: <sip:a@h>\r\nc: application/sdp\r\n"
			"k: 100rel\r\ns: hi\r\ne: gzip\r\no: refer\r\nu: refer\r\nr: <sip:c@h>\r\n"
			"b: <sip:d@h>\r\nx: 1800\r\ny: abc\r\na: *;audio\r\nj: *;video\r\nd: proxy\r\n"
			"n: <http://h/c>\r\nMAX-FORWARDS: 70\r\nl: 0\r\n\r\n";
	static const enum sip_hdr_id ids[] = {
		SIP_H_VIA, SIP_H_TO, SIP_H_FROM, SIP_H_CALL_ID, SIP_H_CSEQ, SIP_H_CONTACT,
		SIP_H_CONTENT_TYPE, SIP_H_SUPPORTED, SIP_H_SUBJECT, SIP_H_CONTENT_ENCODING,
		SIP_H_EVENT, SIP_H_ALLOW_EVENTS, SIP_H_REFER_TO, SIP_H_REFERRED_BY,
		SIP_H_SESSION_EXPIRES, SIP_H_IDENTITY, SIP_H_ACCEPT_CONTACT, SIP_H_REJECT_CONTACT,
		SIP_H_REQUEST_DISPOSITION, SIP_H_IDENTITY_INFO, SIP_H_MAX_FORWARDS, SIP_H_CONTENT_LENGTH,
	};
	assert_int_equal(judge_str(m), SIP_E_OK);
	assert_int_equal(msg.nhdr, sizeof(ids) / sizeof(ids[0]));
	for (unsigned i = 0; i < msg.nhdr; i++)
		assert_int_equal(msg.hdr[i].id, ids[i]);
}

static void test_folding_and_colon_ws(void **state)
{
	const char *m = "INVITE sip:b@h SIP/2.0\r\n"
			"Via  :  SIP/2.0/UDP h\r\n ;branch=z9hG4bKx\r\n"
			"To\t: <sip:b@h>\r\nFrom: <sip:a@h>\r\n\t;tag=1\r\nCall-ID:x\r\n"
			"CSeq: 1\r\n  INVITE\r\nSubject:   \r\nl: 0\r\n\r\n";
	assert_int_equal(judge_str(m), SIP_E_OK);
	const struct sip_hdr *via = sip_hdr_first(&msg, SIP_H_VIA);
	assert_non_null(via);
	assert_true(via->value.len > 0 && via->value.p[0] == 'S');
	assert_int_equal(via->value.p[via->value.len - 1], 'x');
	const struct sip_hdr *subj = sip_hdr_first(&msg, SIP_H_SUBJECT);
	assert_non_null(subj);
	assert_int_equal(subj->value.len, 0);
	struct sip_cseq cs;
	assert_int_equal(sip_msg_cseq(&msg, &cs), 1);
	assert_int_equal(cs.seq, 1);
	assert_int_equal(cs.method, SIP_M_INVITE);
}

static void test_multiple_lines_linked_in_order(void **state)
{
	const char *m = "INVITE sip:b@h SIP/2.0\r\n"
			"Via: SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/TCP b;branch=z9hG4bK2\r\n"
			"Route: <sip:r1;lr>\r\nTo: <sip:b@h>\r\n"
			"v: SIP/2.0/UDP c;branch=z9hG4bK3\r\nFrom: <sip:a@h>;tag=1\r\n"
			"Route: <sip:r2;lr>, <sip:r3;lr>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nl: 0\r\n\r\n";
	assert_int_equal(judge_str(m), SIP_E_OK);
	assert_int_equal(msg.count[SIP_H_VIA], 2);
	struct sip_via_iter it;
	struct sip_via via;
	const char *hosts[] = { "a", "b", "c" };
	unsigned n = 0;
	sip_via_init(&it, &msg);
	while (sip_via_next(&it, &via) > 0) {
		assert_true(n < 3);
		assert_int_equal(via.host.len, 1);
		assert_int_equal(via.host.p[0], hosts[n][0]);
		n++;
	}
	assert_int_equal(n, 3);
	struct sip_list_iter li;
	sip_str_t v;
	n = 0;
	sip_list_init(&li, &msg, SIP_H_ROUTE);
	while (sip_list_next(&li, &v) > 0)
		n++;
	assert_int_equal(n, 3);
	assert_non_null(sip_hdr_find(&msg, SIP_STR("route")));
	assert_null(sip_hdr_find(&msg, SIP_STR("X-None")));
}

static void test_unknown_header_found_by_name(void **state)
{
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), "OPTIONS sip:h SIP/2.0\r\nX-Custom-Thing: hello world\r\n%s"
			 "l: 0\r\n\r\n", "Via: SIP/2.0/UDP h;branch=z9hG4bKx\r\nTo: <sip:b@h>\r\n"
					 "From: <sip:a@h>;tag=1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n");
	assert_int_equal(judge(buf, (size_t)n), SIP_E_OK);
	const struct sip_hdr *h = sip_hdr_find(&msg, SIP_STR("x-custom-THING"));
	assert_non_null(h);
	assert_int_equal(h->id, SIP_H_OTHER);
	assert_int_equal(h->value.len, 11);
	/* the line range covers the whole line incl. CRLF */
	assert_memory_equal(buf + h->off, "X-Custom-Thing: hello world\r\n", h->end - h->off);
}

/* ---- framing -------------------------------------------------------------------- */

static void test_body_framing(void **state)
{
	assert_int_equal(judge(invite, sizeof(invite) - 1), SIP_E_OK);
	assert_true(msg.has_content_length);
	assert_int_equal(msg.body_len, 4);
	assert_memory_equal(sip_msg_body(&msg).p, "v=0\n", 4);
	/* trailing octets after Content-Length are ignored on datagrams */
	char buf[2048];
	memcpy(buf, invite, sizeof(invite) - 1);
	memcpy(buf + sizeof(invite) - 1, "JUNKJUNK", 8);
	assert_int_equal(judge(buf, sizeof(invite) - 1 + 8), SIP_E_OK);
	assert_int_equal(msg.body_len, 4);
}

static void test_no_content_length_body_to_end(void **state)
{
	const char *m = "INVITE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nTo: <sip:b@h>\r\n"
			"From: <sip:a@h>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\nv=0\r\n";
	assert_int_equal(judge_str(m), SIP_E_OK);
	assert_false(msg.has_content_length);
	assert_int_equal(msg.body_len, 5);
}

/* A valid message cut at every length never crashes and never reads past
 * the cut (ASan in the sanitizer build proves the latter). */
static void test_truncation_every_length(void **state)
{
	size_t n = sizeof(invite) - 1;
	for (size_t k = 0; k < n; k++) {
		char *copy = malloc(k ? k : 1);
		memcpy(copy, invite, k);
		enum sip_err e = judge(copy, k);
		assert_int_not_equal(e, SIP_E_OK);
		free(copy);
	}
}

static void test_verdict_status_rules(void **state)
{
	/* responses and ACK are never answered */
	assert_int_equal(sip_parse(&msg, "SIP/2.0 200 OK\r\n\r\n", 18), SIP_E_OK);
	assert_int_equal(sip_verdict_status(&msg, SIP_E_MISSING_VIA), 0);
	assert_int_equal(sip_parse(&msg, "ACK sip:h SIP/2.0\r\n\r\n", 21), SIP_E_OK);
	assert_int_equal(sip_verdict_status(&msg, SIP_E_MISSING_VIA), 0);
	assert_int_equal(sip_parse(&msg, "BYE sip:h SIP/2.0\r\n\r\n", 21), SIP_E_OK);
	assert_int_equal(sip_verdict_status(&msg, SIP_E_MISSING_VIA), 400);
	assert_int_equal(sip_verdict_status(&msg, SIP_E_OK), 0);
}

/* A request with an answerable start-line error still has its headers
 * indexed, so the 505/414/400 can be sent to its Via. */
static void test_start_line_error_keeps_headers(void **state)
{
	static const char *const lines[] = {
		"INVITE sip:bob@example.com SIP/3.0", "INVITE  sip:bob@example.com SIP/2.0",
		"INVITE sip:bob@exa mple.com SIP/2.0", "INVITE <sip:bob@example.com> SIP/2.0",
	};
	static const enum sip_err want[] = { SIP_E_BAD_VERSION, SIP_E_BAD_REQUEST_LINE, SIP_E_BAD_RURI,
					     SIP_E_BAD_RURI };
	char buf[1024];
	for (unsigned i = 0; i < 4; i++) {
		int n = snprintf(buf, sizeof(buf), "%s\r\n" INVITE_HDRS "Content-Length: 0\r\n\r\n", lines[i]);
		assert_int_equal(sip_parse(&msg, buf, (size_t)n), want[i]);
		assert_non_null(sip_hdr_first(&msg, SIP_H_VIA));
		assert_non_null(sip_hdr_first(&msg, SIP_H_CSEQ));
		assert_int_equal(msg.method, SIP_M_INVITE);
		char out[1024];
		int r = sip_reply(&msg, sip_err_status(want[i]), sip_err_reason(want[i]), SIP_STR("t"),
				  SIP_STR_NULL, out, sizeof(out));
		assert_true(r > 0);
		assert_non_null(strstr(out, "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\n"));
	}
}

/* ---- corpus: our malformed messages ----------------------------------------------- */

static enum sip_err err_by_name(const char *name)
{
	for (int e = 0; e < SIP_E__COUNT; e++)
		if (strcmp(sip_err_name((enum sip_err)e), name) == 0)
			return (enum sip_err)e;
	fail_msg("unknown error name %s", name);
	return SIP_E__COUNT;
}

static void test_malformed_corpus(void **state)
{
	char dir[1024], path[1400], line[512];
	static char buf[200000];
	snprintf(dir, sizeof(dir), "%s/corpus/malformed", env_dir("SBC_TESTS_DIR", "tests"));
	snprintf(path, sizeof(path), "%s/MANIFEST.tsv", dir);
	FILE *man = fopen(path, "r");
	assert_non_null(man);
	unsigned cases = 0;
	assert_non_null(fgets(line, sizeof(line), man)); /* header */
	while (fgets(line, sizeof(line), man)) {
		char file[256], err[64];
		unsigned status;
		if (sscanf(line, "%255s %63s %u", file, err, &status) != 3)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, file);
		size_t n = read_file(path, buf, sizeof(buf));
		enum sip_err want = err_by_name(err), got = judge(buf, n);
		if (got != want || sip_verdict_status(&msg, got) != status)
			fail_msg("%s: got %s/%u, want %s/%u", file, sip_err_name(got),
				 sip_verdict_status(&msg, got), err, status);
		if (status)
			assert_true(strlen(sip_err_reason(got)) > 3);
		cases++;
	}
	fclose(man);
	assert_true(cases >= 60);
}

/* ---- RFC 4475 ------------------------------------------------------------------------
 * Expected: the parse/check verdict, then the answer the SBC gives as a proxy
 * (after sip_proxy_check), 0 meaning "forward" for requests that pass, or
 * "drop" for responses that fail. Liberal choices, where the RFC allows one:
 *  baddate   Date is not used by a proxy: forwarded unchanged.
 *  badbranch accepted; RFC 2543 matching (branch is only the cookie).
 *  baddn     the archived file lacks the final CRLF: 400 headers not
 *            terminated; with it restored, 400 for the unquoted display name.
 */
struct t4475 {
	const char *name;
	enum sip_err err;       /* sip_parse + sip_check */
	enum sip_err proxy;     /* sip_proxy_check, when err == OK and a request */
	uint16_t answer;        /* status the SBC answers (0: forward/drop) */
};

static const struct t4475 rfc4475[] = {
	{ "wsinv", SIP_E_OK, SIP_E_OK, 0 },
	{ "intmeth", SIP_E_OK, SIP_E_OK, 0 },
	{ "esc01", SIP_E_OK, SIP_E_OK, 0 },
	{ "escnull", SIP_E_OK, SIP_E_OK, 0 },
	{ "esc02", SIP_E_OK, SIP_E_OK, 0 },
	{ "lwsdisp", SIP_E_OK, SIP_E_OK, 0 },
	{ "longreq", SIP_E_OK, SIP_E_OK, 0 },
	{ "dblreq", SIP_E_OK, SIP_E_OK, 0 },
	{ "semiuri", SIP_E_OK, SIP_E_OK, 0 },
	{ "transports", SIP_E_OK, SIP_E_OK, 0 },
	{ "mpart01", SIP_E_OK, SIP_E_OK, 0 },
	{ "unreason", SIP_E_OK, SIP_E_OK, 0 },
	{ "noreason", SIP_E_OK, SIP_E_OK, 0 },
	{ "badinv01", SIP_E_BAD_VIA, SIP_E_OK, 400 },
	{ "clerr", SIP_E_CL_MISMATCH, SIP_E_OK, 400 },
	{ "ncl", SIP_E_BAD_CONTENT_LENGTH, SIP_E_OK, 400 },
	{ "scalar02", SIP_E_BAD_CSEQ, SIP_E_OK, 400 },
	{ "scalarlg", SIP_E_BAD_CSEQ, SIP_E_OK, 0 },
	{ "quotbal", SIP_E_BAD_TO, SIP_E_OK, 400 },
	{ "ltgtruri", SIP_E_BAD_RURI, SIP_E_OK, 400 },
	{ "lwsruri", SIP_E_BAD_RURI, SIP_E_OK, 400 },
	{ "lwsstart", SIP_E_BAD_REQUEST_LINE, SIP_E_OK, 400 },
	{ "trws", SIP_E_BAD_REQUEST_LINE, SIP_E_OK, 400 },
	{ "escruri", SIP_E_BAD_RURI, SIP_E_OK, 400 },
	{ "baddate", SIP_E_OK, SIP_E_OK, 0 },
	{ "regbadct", SIP_E_BAD_CONTACT, SIP_E_OK, 400 },
	{ "badaspec", SIP_E_BAD_TO, SIP_E_OK, 400 },
	{ "baddn", SIP_E_NO_HEADER_END, SIP_E_OK, 400 },
	{ "badvers", SIP_E_BAD_VERSION, SIP_E_OK, 505 },
	{ "mismatch01", SIP_E_CSEQ_METHOD, SIP_E_OK, 400 },
	{ "mismatch02", SIP_E_UNKNOWN_METHOD_CSEQ, SIP_E_OK, 501 },
	{ "bigcode", SIP_E_DROP_RESPONSE, SIP_E_OK, 0 },
	{ "badbranch", SIP_E_OK, SIP_E_OK, 0 },
	{ "insuf", SIP_E_MISSING_FROM, SIP_E_OK, 400 },
	{ "unkscm", SIP_E_OK, SIP_E_UNSUPPORTED_SCHEME, 416 },
	{ "novelsc", SIP_E_OK, SIP_E_UNSUPPORTED_SCHEME, 416 },
	{ "unksm2", SIP_E_OK, SIP_E_OK, 0 },
	{ "bext01", SIP_E_OK, SIP_E_BAD_EXTENSION, 420 },
	{ "invut", SIP_E_OK, SIP_E_OK, 0 },
	{ "regaut01", SIP_E_OK, SIP_E_OK, 0 },
	{ "multi01", SIP_E_DUP_FROM, SIP_E_OK, 400 },
	{ "mcl01", SIP_E_DUP_CONTENT_LENGTH, SIP_E_OK, 400 },
	{ "bcast", SIP_E_OK, SIP_E_OK, 0 },
	{ "zeromf", SIP_E_OK, SIP_E_TOO_MANY_HOPS, 483 },
	{ "cparam01", SIP_E_OK, SIP_E_OK, 0 },
	{ "cparam02", SIP_E_OK, SIP_E_OK, 0 },
	{ "regescrt", SIP_E_OK, SIP_E_OK, 0 },
	{ "sdp01", SIP_E_OK, SIP_E_OK, 0 },
	{ "inv2543", SIP_E_OK, SIP_E_OK, 0 },
};

static char rbuf[70000];

static size_t load_4475(const char *name)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/conformance/rfc4475/%s.dat",
		 env_dir("SBC_SHARED_DIR", "../shared"), name);
	return read_file(path, rbuf, sizeof(rbuf));
}

static void test_rfc4475_verdicts(void **state)
{
	static const char *const supported[] = { "100rel", "timer", "replaces", "path", NULL };
	unsigned n = sizeof(rfc4475) / sizeof(rfc4475[0]);
	assert_int_equal(n, 49);
	for (unsigned i = 0; i < n; i++) {
		const struct t4475 *t = &rfc4475[i];
		size_t len = load_4475(t->name);
		enum sip_err e = judge(rbuf, len);
		if (e != t->err)
			fail_msg("%s: verdict %s, want %s", t->name, sip_err_name(e), sip_err_name(t->err));
		uint16_t answer = sip_verdict_status(&msg, e);
		if (e == SIP_E_OK && msg.is_request) {
			char unsup[128];
			uint32_t ul;
			enum sip_err p = sip_proxy_check(&msg, false, supported, unsup, sizeof(unsup), &ul);
			if (p != t->proxy)
				fail_msg("%s: proxy check %s, want %s", t->name, sip_err_name(p),
					 sip_err_name(t->proxy));
			answer = sip_err_status(p);
		}
		if (answer != t->answer)
			fail_msg("%s: answer %u, want %u", t->name, answer, t->answer);
	}
}

static void test_rfc4475_details(void **state)
{
	struct sip_nameaddr na;
	struct sip_uri u;
	struct sip_cseq cs;
	uint32_t mf;
	sip_str_t v;
	struct sip_list_iter it;
	unsigned n;

	/* wsinv: everything folded; values survive */
	assert_int_equal(judge(rbuf, load_4475("wsinv")), SIP_E_OK);
	assert_int_equal(sip_msg_max_forwards(&msg, &mf), 1);
	assert_int_equal(mf, 68);
	assert_int_equal(sip_msg_cseq(&msg, &cs), 1);
	assert_int_equal(cs.seq, 9);
	assert_int_equal(sip_msg_to(&msg, &na), 1);
	assert_int_equal(na.tag.len, 11);
	assert_memory_equal(na.tag.p, "1918181833n", 11);
	assert_int_equal(sip_msg_from(&msg, &na), 1);
	assert_memory_equal(na.tag.p, "98asjd8", 7);
	assert_memory_equal(na.display.p, "J Rosenberg \\\\\\\"", na.display.len);
	assert_non_null(sip_hdr_find(&msg, SIP_STR("UnknownHeaderWithUnusualValue")));

	/* intmeth: NUL inside a quoted-pair is kept, not a truncation point */
	assert_int_equal(judge(rbuf, load_4475("intmeth")), SIP_E_OK);
	assert_int_equal(msg.method, SIP_M_UNKNOWN);
	assert_int_equal(sip_msg_to(&msg, &na), 1);
	assert_non_null(memchr(na.display.p, 0, na.display.len));

	/* esc02: RE%47IST%45R is not REGISTER; two Contact values */
	assert_int_equal(judge(rbuf, load_4475("esc02")), SIP_E_OK);
	assert_int_equal(msg.method, SIP_M_UNKNOWN);
	n = 0;
	sip_list_init(&it, &msg, SIP_H_CONTACT);
	while (sip_list_next(&it, &v) > 0)
		n++;
	assert_int_equal(n, 2);

	/* escnull: %00 user parts unescape without truncating */
	assert_int_equal(judge(rbuf, load_4475("escnull")), SIP_E_OK);
	assert_int_equal(sip_msg_to(&msg, &na), 1);
	assert_int_equal(sip_uri_parse(na.uri, &u), 0);
	char tmp[64];
	int ul = sip_unescape(u.user, tmp, sizeof(tmp));
	assert_true(ul > 0);
	assert_non_null(memchr(tmp, 0, (size_t)ul));

	/* semiuri: ';' belongs to the user part */
	assert_int_equal(judge(rbuf, load_4475("semiuri")), SIP_E_OK);
	assert_int_equal(sip_uri_parse(msg.ruri, &u), 0);
	assert_int_equal(u.user.len, strlen("user;par=u%40example.net"));
	assert_memory_equal(u.user.p, "user;par=u%40example.net", u.user.len);
	assert_int_equal(u.host.len, 11);
	assert_int_equal(u.params.len, 0);

	/* dblreq: the REGISTER only; trailing INVITE-looking octets ignored */
	assert_int_equal(judge(rbuf, load_4475("dblreq")), SIP_E_OK);
	assert_int_equal(msg.method, SIP_M_REGISTER);
	assert_int_equal(msg.body_len, 0);

	/* mpart01: body framed strictly by Content-Length */
	assert_int_equal(judge(rbuf, load_4475("mpart01")), SIP_E_OK);
	assert_int_equal(msg.body_len, 553);

	/* transports: five Vias, unknown transport token legal */
	assert_int_equal(judge(rbuf, load_4475("transports")), SIP_E_OK);
	static const char *tp[] = { "UDP", "SCTP", "TLS", "UNKNOWN", "TCP" };
	struct sip_via_iter vi;
	struct sip_via via;
	n = 0;
	sip_via_init(&vi, &msg);
	while (sip_via_next(&vi, &via) > 0) {
		assert_true(sip_str_eq(via.transport, (sip_str_t){ tp[n], (uint32_t)strlen(tp[n]) }));
		n++;
	}
	assert_int_equal(n, 5);

	/* longreq: 34 Vias all parsed */
	assert_int_equal(judge(rbuf, load_4475("longreq")), SIP_E_OK);
	n = 0;
	sip_via_init(&vi, &msg);
	while (sip_via_next(&vi, &via) > 0)
		n++;
	assert_int_equal(n, 34);

	/* noreason / unreason */
	assert_int_equal(judge(rbuf, load_4475("noreason")), SIP_E_OK);
	assert_int_equal(msg.status, 100);
	assert_int_equal(msg.reason.len, 0);
	assert_int_equal(judge(rbuf, load_4475("unreason")), SIP_E_OK);
	assert_int_equal(msg.status, 200);
	assert_true(msg.reason.len > 20);

	/* badbranch: accepted, but not an RFC 3261 branch */
	assert_int_equal(judge(rbuf, load_4475("badbranch")), SIP_E_OK);
	assert_int_equal(sip_msg_top_via(&msg, &via), 1);
	assert_false(sip_branch_is_3261(via.branch));

	/* cparam01: ;unknownparam is a header (contact) param, not a URI param */
	assert_int_equal(judge(rbuf, load_4475("cparam01")), SIP_E_OK);
	struct sip_contact c;
	sip_list_init(&it, &msg, SIP_H_CONTACT);
	assert_int_equal(sip_list_next(&it, &v), 1);
	assert_int_equal(sip_contact_parse(v, &c), 0);
	assert_int_equal(sip_uri_parse(c.na.uri, &u), 0);
	assert_int_equal(u.params.len, 0);
	assert_int_equal(sip_param_get(c.na.params, "unknownparam", NULL), 1);
	/* cparam02: inside <> it is a URI param */
	assert_int_equal(judge(rbuf, load_4475("cparam02")), SIP_E_OK);
	sip_list_init(&it, &msg, SIP_H_CONTACT);
	assert_int_equal(sip_list_next(&it, &v), 1);
	assert_int_equal(sip_contact_parse(v, &c), 0);
	assert_int_equal(sip_uri_parse(c.na.uri, &u), 0);
	assert_int_equal(sip_param_get(u.params, "unknownparam", NULL), 1);
	/* regescrt: escaped header kept in the Contact URI */
	assert_int_equal(judge(rbuf, load_4475("regescrt")), SIP_E_OK);
	sip_list_init(&it, &msg, SIP_H_CONTACT);
	assert_int_equal(sip_list_next(&it, &v), 1);
	assert_int_equal(sip_contact_parse(v, &c), 0);
	assert_int_equal(sip_uri_parse(c.na.uri, &u), 0);
	assert_true(u.headers.len > 0);

	/* inv2543: no Content-Length, body runs to the end */
	size_t len = load_4475("inv2543");
	assert_int_equal(judge(rbuf, len), SIP_E_OK);
	assert_false(msg.has_content_length);
	assert_int_equal(msg.body_off + msg.body_len, len);

	/* bcast: parses; the broadcast second Via is for the proxy to refuse */
	assert_int_equal(judge(rbuf, load_4475("bcast")), SIP_E_OK);
	sip_via_init(&vi, &msg);
	assert_int_equal(sip_via_next(&vi, &via), 1);
	assert_int_equal(sip_via_next(&vi, &via), 1);
	assert_true(sip_str_eq(via.host, SIP_STR("255.255.255.255")));
}

/* baddn with its final CRLF restored is rejected for the display name. */
static void test_rfc4475_baddn_completed(void **state)
{
	size_t len = load_4475("baddn");
	memcpy(rbuf + len, "\r\n", 2);
	assert_int_equal(judge(rbuf, len + 2), SIP_E_BAD_FROM);
	assert_int_equal(sip_verdict_status(&msg, SIP_E_BAD_FROM), 400);
}

/* Every RFC 4475 message cut at every length: no crash, no over-read. */
static void test_rfc4475_truncations(void **state)
{
	unsigned n = sizeof(rfc4475) / sizeof(rfc4475[0]);
	for (unsigned i = 0; i < n; i++) {
		size_t len = load_4475(rfc4475[i].name);
		char *copy = malloc(len + 1);
		for (size_t k = 0; k <= len; k += 1 + k / 64) {
			memcpy(copy, rbuf, k);
			(void)judge(copy, k);
		}
		free(copy);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_methods),
		cmocka_unit_test(test_extension_method),
		cmocka_unit_test(test_responses_every_class),
		cmocka_unit_test(test_leading_crlf_skipped),
		cmocka_unit_test(test_bare_lf),
		cmocka_unit_test(test_compact_and_case),
		cmocka_unit_test(test_folding_and_colon_ws),
		cmocka_unit_test(test_multiple_lines_linked_in_order),
		cmocka_unit_test(test_unknown_header_found_by_name),
		cmocka_unit_test(test_body_framing),
		cmocka_unit_test(test_no_content_length_body_to_end),
		cmocka_unit_test(test_truncation_every_length),
		cmocka_unit_test(test_verdict_status_rules),
		cmocka_unit_test(test_start_line_error_keeps_headers),
		cmocka_unit_test(test_malformed_corpus),
		cmocka_unit_test(test_rfc4475_verdicts),
		cmocka_unit_test(test_rfc4475_details),
		cmocka_unit_test(test_rfc4475_baddn_completed),
		cmocka_unit_test(test_rfc4475_truncations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
