/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of lib/sdp: parser, accessors, checks and the rewriter.
 *
 * Every body is copied into a heap block of exactly its length before it is
 * parsed, so ASan or valgrind flag any read past the end. Rewrites are
 * compared against full expected bodies: the rewriter's promise is that no
 * other byte changes. Needs nothing outside this file.
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

#include "sdp.h"

/* ---- fixtures ------------------------------------------------------------- */

/* A parsed body: struct sdp is ~8 KiB, so it lives on the heap. */
struct fx {
	struct sdp s;
	char *buf;
	size_t len;
};

static struct fx *fx_new(const char *body, size_t len)
{
	struct fx *f = test_malloc(sizeof(*f));

	/* malloc(0) may return NULL; keep a valid pointer for len 0 */
	f->buf = test_malloc(len ? len : 1);
	memcpy(f->buf, body, len);
	f->len = len;
	return f;
}

static void fx_free(struct fx *f)
{
	test_free(f->buf);
	test_free(f);
}

static enum sdp_err fx_parse(struct fx *f)
{
	return sdp_parse(&f->s, f->buf, f->len);
}

/* Parse a body that must be valid. */
static struct fx *parse_ok(const char *body)
{
	struct fx *f = fx_new(body, strlen(body));
	enum sdp_err e = fx_parse(f);

	if (e != SDP_E_OK)
		fail_msg("parse failed: %s at %u", sdp_err_name(e), f->s.err_off);
	return f;
}

static enum sdp_err parse_err(const char *body)
{
	struct fx *f = fx_new(body, strlen(body));
	enum sdp_err e = fx_parse(f);

	fx_free(f);
	return e;
}

static void assert_view(sip_str_t v, const char *lit)
{
	size_t n = strlen(lit);

	if (v.len != n || (n && memcmp(v.p, lit, n) != 0))
		fail_msg("view \"%.*s\" != \"%s\"", (int)v.len, v.p ? v.p : "", lit);
}

static sip_str_t S(const char *lit)
{
	return (sip_str_t){ lit, (uint32_t)strlen(lit) };
}

static struct sdp_addr A4(const char *a) { return (struct sdp_addr){ S(a), SDP_AT_IP4 }; }
static struct sdp_addr A6(const char *a) { return (struct sdp_addr){ S(a), SDP_AT_IP6 }; }

/* Rewrite f with spec and compare the whole output with expect. */
static void assert_rewrite(const struct fx *f, const struct sdp_rewrite *spec, const char *expect)
{
	char out[8192];
	int n = sdp_rewrite(&f->s, spec, out, sizeof(out));

	if (n < 0)
		fail_msg("rewrite failed: %d", n);
	if ((size_t)n != strlen(expect) || memcmp(out, expect, (size_t)n) != 0)
		fail_msg("rewrite mismatch\n--- got (%d)\n%.*s\n--- want (%zu)\n%s", n, n, out,
			 strlen(expect), expect);
}

/* ---- sample bodies ---------------------------------------------------------- */

static const char G711[] =
	"v=0\r\n"
	"o=alice 2890844526 2890844527 IN IP4 10.0.0.1\r\n"
	"s=-\r\n"
	"c=IN IP4 10.0.0.1\r\n"
	"t=0 0\r\n"
	"m=audio 49170 RTP/AVP 0 8 101\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=fmtp:101 0-15\r\n"
	"a=ptime:20\r\n"
	"a=sendrecv\r\n";

static const char AV[] =
	"v=0\r\n"
	"o=- 1 1 IN IP4 198.51.100.1\r\n"
	"s=call\r\n"
	"t=0 0\r\n"
	"m=audio 5004 RTP/AVP 0\r\n"
	"c=IN IP4 198.51.100.2\r\n"
	"a=rtcp:5005 IN IP4 198.51.100.2\r\n"
	"m=video 5006 RTP/AVP 96\r\n"
	"i=camera\r\n"
	"c=IN IP4 198.51.100.3\r\n"
	"b=AS:512\r\n"
	"a=rtpmap:96 H264/90000\r\n"
	"a=rtcp-mux\r\n";

static const char V6_LF[] =
	"v=0\n"
	"o=bob 2808844564 2808844564 IN IP6 2001:db8::2\n"
	"s= \n"
	"c=IN IP6 2001:db8::2\n"
	"t=0 0\n"
	"m=audio 49172 RTP/AVP 0\n"
	"a=rtpmap:0 PCMU/8000\n";

static const char ICE[] =
	"v=0\r\n"
	"o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n"
	"s=-\r\n"
	"t=0 0\r\n"
	"a=group:BUNDLE 0\r\n"
	"a=ice-options:trickle\r\n"
	"m=audio 54400 UDP/TLS/RTP/SAVPF 111 0\r\n"
	"c=IN IP4 203.0.113.5\r\n"
	"a=rtcp:54401 IN IP4 203.0.113.5\r\n"
	"a=candidate:1 1 UDP 2130706431 192.168.1.5 54400 typ host\r\n"
	"a=candidate:2 1 UDP 1694498815 203.0.113.5 54400 typ srflx raddr 192.168.1.5 rport 54400\r\n"
	"a=remote-candidates:1 192.168.1.7 5000\r\n"
	"a=ice-ufrag:F7gI\r\n"
	"a=ice-pwd:x9cml/YzichV2+XlhiMu8g\r\n"
	"a=end-of-candidates\r\n"
	"a=rtcp-mux\r\n"
	"a=rtpmap:111 opus/48000/2\r\n";

/* RFC 8866-style description: every opaque line type, multicast, port/n. */
static const char SEMINAR[] =
	"v=0\r\n"
	"o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5\r\n"
	"s=SDP Seminar\r\n"
	"i=A Seminar on the session description protocol\r\n"
	"u=http://www.example.com/seminars/sdp.pdf\r\n"
	"e=j.doe@example.com (Jane Doe)\r\n"
	"p=+1 617 555-6011\r\n"
	"c=IN IP4 224.2.17.12/127\r\n"
	"b=CT:128\r\n"
	"t=2873397496 2873404696\r\n"
	"r=7d 1h 0 25h\r\n"
	"z=2882844526 -1h 2898848070 0\r\n"
	"k=clear:secret\r\n"
	"a=recvonly\r\n"
	"m=audio 49170 RTP/AVP 0\r\n"
	"m=video 51372/2 RTP/AVP 99\r\n"
	"c=IN IP4 224.2.1.1/127/3\r\n"
	"a=rtpmap:99 h263-1998/90000\r\n";

static const char TWO_INHERIT[] =
	"v=0\r\n"
	"o=- 5 5 IN IP4 10.0.0.5\r\n"
	"s=-\r\n"
	"c=IN IP4 10.0.0.5\r\n"
	"t=0 0\r\n"
	"m=audio 6000 RTP/AVP 0\r\n"
	"i=voice\r\n"
	"a=sendrecv\r\n"
	"m=video 6002 RTP/AVP 96\r\n";

static const char *const SAMPLES[] = { G711, AV, V6_LF, ICE, SEMINAR, TWO_INHERIT };
#define NSAMPLES (sizeof(SAMPLES) / sizeof(SAMPLES[0]))

/* ---- parsing ------------------------------------------------------------ */

static void test_parse_g711(void **state)
{
	(void)state;
	struct fx *f = parse_ok(G711);
	const struct sdp *s = &f->s;

	assert_int_equal(s->nlines, 12);
	assert_int_equal(s->nmedia, 1);
	assert_int_equal(s->session_end, 5);
	assert_view(s->origin.user, "alice");
	assert_view(s->origin.sess_id, "2890844526");
	assert_view(s->origin.sess_version, "2890844527");
	assert_view(s->origin.conn.nettype, "IN");
	assert_view(s->origin.conn.addrtype, "IP4");
	assert_view(s->origin.conn.addr, "10.0.0.1");
	assert_int_equal(s->origin.conn.type, SDP_AT_IP4);
	assert_int_equal(s->origin.conn.line, 1);
	assert_view(s->name, "-");
	assert_true(s->conn.present);
	assert_view(s->conn.addr, "10.0.0.1");
	assert_int_equal(s->conn.line, 3);
	assert_false(s->conn.fqdn);
	assert_false(s->conn.multicast);
	assert_false(s->conn.unspec);
	assert_int_equal(s->ntime, 1);

	const struct sdp_media *m = sdp_media(s, 0);
	assert_non_null(m);
	assert_null(sdp_media(s, 1));
	assert_view(m->type, "audio");
	assert_view(m->port_str, "49170");
	assert_int_equal(m->port, 49170);
	assert_int_equal(m->nports, 1);
	assert_view(m->proto, "RTP/AVP");
	assert_view(m->fmts, "0 8 101");
	assert_int_equal(m->nfmt, 3);
	assert_int_equal(m->line, 5);
	assert_int_equal(m->end, 12);
	assert_false(m->conn.present);
	assert_int_equal(m->nconn, 0);
	assert_int_equal(m->dir, SDP_DIR_SENDRECV);
	assert_ptr_equal(sdp_media_conn(s, 0), &s->conn);
	assert_null(sdp_media_conn(s, 1));
	assert_int_equal(sdp_media_rtcp_port(s, 0), 49171);
	assert_false(sdp_media_is_hold(s, 0));
	assert_false(sdp_is_hold(s));
	assert_int_equal(sdp_check(s), SDP_E_OK);

	/* every line knows its type, terminator and level */
	for (unsigned i = 0; i < s->nlines; i++) {
		assert_int_equal(s->line[i].eol, 2);
		assert_int_equal(s->line[i].media, i >= 5 ? 1 : 0);
	}
	assert_view(sdp_line_str(s, 5), "m=audio 49170 RTP/AVP 0 8 101");
	assert_int_equal(s->line[11].attr, SDP_A_SENDRECV);
	assert_int_equal(s->line[6].attr, SDP_A_OTHER);
	fx_free(f);
}

static void test_fmt_iteration(void **state)
{
	(void)state;
	struct fx *f = parse_ok(G711);
	const char *want[] = { "0", "8", "101" };
	uint32_t pos = 0;
	sip_str_t fmt;
	unsigned n = 0;

	while (sdp_fmt_next(&f->s.media[0], &pos, &fmt) == 1) {
		assert_true(n < 3);
		assert_view(fmt, want[n++]);
	}
	assert_int_equal(n, 3);
	assert_int_equal(sdp_fmt_next(&f->s.media[0], &pos, &fmt), 0);
	fx_free(f);
}

static void test_attr_iteration(void **state)
{
	(void)state;
	struct fx *f = parse_ok(G711);
	const char *want[] = { "0 PCMU/8000", "8 PCMA/8000", "101 telephone-event/8000" };
	uint16_t pos = 0;
	sip_str_t v;
	unsigned n = 0;

	while (sdp_attr_next(&f->s, 0, "RTPMAP", &pos, &v) == 1) {
		assert_true(n < 3);
		assert_view(v, want[n++]);
	}
	assert_int_equal(n, 3);

	pos = 0;
	assert_int_equal(sdp_attr_next(&f->s, 0, "sendrecv", &pos, &v), 1);
	assert_int_equal(v.len, 0);
	pos = 0;
	assert_int_equal(sdp_attr_next(&f->s, -1, "rtpmap", &pos, &v), 0);
	pos = 0;
	assert_int_equal(sdp_attr_next(&f->s, 1, "rtpmap", &pos, &v), 0);
	pos = 0;
	assert_int_equal(sdp_attr_next(&f->s, 0, "rtpma", &pos, &v), 0);
	fx_free(f);

	f = parse_ok(ICE);
	pos = 0;
	assert_int_equal(sdp_attr_next(&f->s, -1, "ice-options", &pos, &v), 1);
	assert_view(v, "trickle");
	assert_int_equal(sdp_attr_next(&f->s, -1, "ice-options", &pos, &v), 0);
	fx_free(f);
}

static void test_parse_multi_media(void **state)
{
	(void)state;
	struct fx *f = parse_ok(AV);
	const struct sdp *s = &f->s;

	assert_int_equal(s->nmedia, 2);
	assert_false(s->conn.present);
	assert_int_equal(s->conn.line, SDP_NO_LINE);

	const struct sdp_media *a = &s->media[0], *v = &s->media[1];
	assert_int_equal(a->line, 4);
	assert_int_equal(a->end, 7);
	assert_int_equal(v->line, 7);
	assert_int_equal(v->end, 13);
	assert_true(a->conn.present);
	assert_view(a->conn.addr, "198.51.100.2");
	assert_int_equal(a->conn.line, 5);
	assert_ptr_equal(sdp_media_conn(s, 0), &a->conn);
	assert_view(sdp_media_conn(s, 1)->addr, "198.51.100.3");
	assert_int_equal(v->nconn, 1);

	/* a=rtcp with an address, and rtcp-mux */
	assert_true(a->has_rtcp);
	assert_int_equal(a->rtcp_port, 5005);
	assert_int_equal(a->rtcp_line, 6);
	assert_true(a->rtcp_conn.present);
	assert_view(a->rtcp_conn.addr, "198.51.100.2");
	assert_int_equal(a->rtcp_conn.type, SDP_AT_IP4);
	assert_false(a->rtcp_mux);
	assert_int_equal(sdp_media_rtcp_port(s, 0), 5005);
	assert_false(v->has_rtcp);
	assert_true(v->rtcp_mux);
	assert_int_equal(sdp_media_rtcp_port(s, 1), 5006);
	assert_int_equal(sdp_media_rtcp_port(s, 2), -EINVAL);
	assert_view(v->type, "video");
	assert_int_equal(s->line[8].type, 'i');
	assert_int_equal(s->line[10].type, 'b');
	assert_int_equal(sdp_check(s), SDP_E_OK);
	fx_free(f);
}

static void test_parse_ipv6_bare_lf(void **state)
{
	(void)state;
	struct fx *f = parse_ok(V6_LF);
	const struct sdp *s = &f->s;

	assert_int_equal(s->nlines, 7);
	for (unsigned i = 0; i < s->nlines; i++)
		assert_int_equal(s->line[i].eol, 1);
	assert_int_equal(s->origin.conn.type, SDP_AT_IP6);
	assert_view(s->origin.conn.addr, "2001:db8::2");
	assert_int_equal(s->conn.type, SDP_AT_IP6);
	assert_view(s->conn.addrtype, "IP6");
	assert_view(s->conn.addr, "2001:db8::2");
	assert_view(s->name, " ");
	assert_int_equal(sdp_check(s), SDP_E_OK);
	fx_free(f);
}

static void test_parse_mixed_eol_unterminated(void **state)
{
	(void)state;
	struct fx *f = parse_ok("v=0\r\no=- 1 1 IN IP4 10.0.0.1\ns=x\r\nt=0 0\n"
				"c=IN IP4 10.0.0.1\r\nm=audio 1000 RTP/AVP 0");
	const struct sdp *s = &f->s;

	assert_int_equal(s->nlines, 6);
	assert_int_equal(s->line[0].eol, 2);
	assert_int_equal(s->line[1].eol, 1);
	assert_int_equal(s->line[5].eol, 0);
	assert_view(sdp_line_str(s, 5), "m=audio 1000 RTP/AVP 0");
	fx_free(f);
}

static void test_parse_trailing_blank_lines(void **state)
{
	(void)state;
	static const char body[] = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=x\r\nt=0 0\r\n"
				   "c=IN IP4 10.0.0.1\r\nm=audio 1000 RTP/AVP 0\r\n\r\n\n\r\n";
	struct fx *f = parse_ok(body);
	struct sdp_rewrite spec = { 0 };

	assert_int_equal(f->s.nlines, 6);
	spec.media[0].set_port = true;
	spec.media[0].port = 2000;
	assert_rewrite(f, &spec, "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=x\r\nt=0 0\r\n"
				 "c=IN IP4 10.0.0.1\r\nm=audio 2000 RTP/AVP 0\r\n\r\n\n\r\n");
	fx_free(f);
}

static void test_parse_opaque_lines(void **state)
{
	(void)state;
	struct fx *f = parse_ok(SEMINAR);
	const struct sdp *s = &f->s;
	const char types[] = "vosiuepcbtrzkammca";

	assert_int_equal(s->nlines, 18);
	for (unsigned i = 0; i < s->nlines; i++)
		assert_int_equal(s->line[i].type, types[i]);
	assert_view(s->name, "SDP Seminar");
	assert_view(s->conn.addr, "224.2.17.12");
	assert_view(s->conn.token, "224.2.17.12/127");
	assert_true(s->conn.multicast);
	assert_int_equal(s->dir, SDP_DIR_RECVONLY);

	const struct sdp_media *v = &s->media[1];
	assert_int_equal(v->port, 51372);
	assert_int_equal(v->nports, 2);
	assert_view(v->port_str, "51372");
	assert_view(v->conn.addr, "224.2.1.1");
	assert_view(v->conn.token, "224.2.1.1/127/3");
	assert_true(v->conn.multicast);
	assert_int_equal(sdp_media_dir(s, 0), SDP_DIR_RECVONLY);
	assert_int_equal(sdp_media_dir(s, 1), SDP_DIR_RECVONLY);
	assert_int_equal(sdp_media_dir(s, 2), SDP_DIR_NONE);
	/* valid SDP, but nothing a unicast relay can anchor */
	assert_int_equal(sdp_check(s), SDP_E_UNSUPPORTED_CONN);
	fx_free(f);
}

static void test_parse_unknown_line_types(void **state)
{
	(void)state;
	struct fx *f = parse_ok("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=x\r\nx=whatever\r\nt=0 0\r\n"
				"Q=upper\r\nc=IN IP4 10.0.0.1\r\nm=audio 1000 RTP/AVP 0\r\ny=\r\n");
	assert_int_equal(f->s.line[3].type, 'x');
	assert_int_equal(f->s.line[5].type, 'Q');
	assert_int_equal(f->s.line[8].type, 'y');
	assert_int_equal(f->s.line[8].media, 1);
	fx_free(f);
}

static void test_parse_ice(void **state)
{
	(void)state;
	struct fx *f = parse_ok(ICE);
	const struct sdp *s = &f->s;
	const struct sdp_media *m = &s->media[0];

	assert_int_equal(m->ncandidates, 2);
	assert_int_equal(m->nremote_candidates, 1);
	assert_true(m->ice);
	assert_false(s->ice);
	assert_true(m->rtcp_mux);
	assert_true(m->has_rtcp);
	/* mux wins over a=rtcp: RFC 5761 fallback offer */
	assert_int_equal(sdp_media_rtcp_port(s, 0), 54400);
	assert_int_equal(m->rtcp_port, 54401);
	assert_int_equal(s->line[9].attr, SDP_A_CANDIDATE);
	assert_int_equal(s->line[11].attr, SDP_A_REMOTE_CANDIDATES);
	assert_int_equal(s->line[12].attr, SDP_A_ICE_UFRAG);
	assert_int_equal(s->line[5].attr, SDP_A_ICE_OPTIONS);
	assert_int_equal(s->line[14].attr, SDP_A_END_OF_CANDIDATES);
	assert_view(m->proto, "UDP/TLS/RTP/SAVPF");

	uint16_t pos = 0;
	sip_str_t v;
	assert_int_equal(sdp_attr_next(s, 0, "candidate", &pos, &v), 1);
	assert_view(v, "1 1 UDP 2130706431 192.168.1.5 54400 typ host");
	assert_int_equal(sdp_attr_next(s, 0, "candidate", &pos, &v), 1);
	assert_int_equal(sdp_attr_next(s, 0, "candidate", &pos, &v), 0);
	fx_free(f);
}

static void test_directions(void **state)
{
	(void)state;
	static const char *const lvl[] = { "", "a=sendrecv\r\n", "a=sendonly\r\n",
					   "a=recvonly\r\n", "a=inactive\r\n" };
	char body[512];

	for (unsigned sess = 0; sess < 5; sess++) {
		for (unsigned med = 0; med < 5; med++) {
			snprintf(body, sizeof(body),
				 "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=x\r\nt=0 0\r\n%s"
				 "c=IN IP4 10.0.0.1\r\nm=audio 1000 RTP/AVP 0\r\n%s",
				 lvl[sess], lvl[med]);
			struct fx *f = parse_ok(body);
			enum sdp_dir want = med ? (enum sdp_dir)med
					  : sess ? (enum sdp_dir)sess : SDP_DIR_SENDRECV;
			assert_int_equal(f->s.dir, sess);
			assert_int_equal(f->s.media[0].dir, med);
			assert_int_equal(sdp_media_dir(&f->s, 0), want);
			assert_int_equal(sdp_media_is_hold(&f->s, 0),
					 want == SDP_DIR_SENDONLY || want == SDP_DIR_INACTIVE);
			fx_free(f);
		}
	}
	assert_string_equal(sdp_dir_name(SDP_DIR_INACTIVE), "inactive");
	assert_string_equal(sdp_dir_name(SDP_DIR_SENDONLY), "sendonly");
	assert_string_equal(sdp_dir_name(SDP_DIR_NONE), "");
}

static void test_hold(void **state)
{
	(void)state;
	struct fx *f = parse_ok("v=0\r\no=- 1 2 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 0.0.0.0\r\n"
				"t=0 0\r\nm=audio 4000 RTP/AVP 0\r\nm=video 0 RTP/AVP 31\r\n");
	assert_true(f->s.conn.unspec);
	assert_true(sdp_media_is_hold(&f->s, 0));
	assert_true(sdp_is_hold(&f->s)); /* the port-0 video does not count */
	assert_int_equal(sdp_check(&f->s), SDP_E_OK);
	fx_free(f);

	f = parse_ok("v=0\r\no=- 1 2 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::\r\n"
		     "t=0 0\r\nm=audio 4000 RTP/AVP 0\r\nm=video 4002 RTP/AVP 31\r\n"
		     "c=IN IP6 2001:db8::7\r\n");
	assert_true(sdp_media_is_hold(&f->s, 0));
	assert_false(sdp_media_is_hold(&f->s, 1));
	assert_false(sdp_is_hold(&f->s));
	fx_free(f);

	/* ICE: 0.0.0.0 with a=ice-ufrag is "no candidate yet", not hold */
	f = parse_ok("v=0\r\no=- 1 2 IN IP4 10.1.1.1\r\ns=-\r\na=ice-ufrag:abcd\r\n"
		     "t=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n");
	assert_true(f->s.ice);
	assert_false(sdp_media_is_hold(&f->s, 0));
	fx_free(f);

	/* recvonly is the held party's answer, not a hold */
	f = parse_ok("v=0\r\no=- 1 2 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\n"
		     "t=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=recvonly\r\n");
	assert_false(sdp_is_hold(&f->s));
	fx_free(f);

	/* nothing active: not "on hold" */
	f = parse_ok("v=0\r\no=- 1 2 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\n"
		     "t=0 0\r\nm=audio 0 RTP/AVP 0\r\n");
	assert_false(sdp_is_hold(&f->s));
	assert_int_equal(sdp_media_rtcp_port(&f->s, 0), 0);
	fx_free(f);
}

static void test_rtcp_ports(void **state)
{
	(void)state;
	struct fx *f = parse_ok("v=0\r\no=- 1 2 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\n"
				"t=0 0\r\nm=audio 65535 RTP/AVP 0\r\nm=audio 3000 RTP/AVP 0\r\n"
				"a=rtcp:4001\r\nm=audio 65535 RTP/AVP 0\r\na=rtcp-mux\r\n"
				"m=audio 7000 RTP/AVP 0\r\na=rtcp:7001 IN IP6 2001:db8::1\r\n");
	assert_int_equal(sdp_media_rtcp_port(&f->s, 0), -ERANGE);
	assert_int_equal(sdp_media_rtcp_port(&f->s, 1), 4001);
	assert_false(f->s.media[1].rtcp_conn.present);
	assert_int_equal(sdp_media_rtcp_port(&f->s, 2), 65535);
	assert_int_equal(f->s.media[3].rtcp_conn.type, SDP_AT_IP6);
	assert_view(f->s.media[3].rtcp_conn.addr, "2001:db8::1");
	fx_free(f);

	/* session-level a=rtcp is not defined: kept opaque, not validated */
	f = parse_ok("v=0\r\no=- 1 2 IN IP4 10.1.1.1\r\ns=-\r\na=rtcp:junk\r\nc=IN IP4 10.1.1.1\r\n"
		     "t=0 0\r\nm=audio 3000 RTP/AVP 0\r\n");
	assert_int_equal(f->s.line[3].attr, SDP_A_RTCP);
	assert_false(f->s.media[0].has_rtcp);
	fx_free(f);
}

static void test_addresses(void **state)
{
	(void)state;
	static const struct {
		const char *c;
		enum sdp_err e;
		uint8_t type;
		bool fqdn, unspec, mcast;
	} cases[] = {
		{ "IN IP4 192.0.2.1", SDP_E_OK, SDP_AT_IP4, false, false, false },
		{ "IN IP4 0.0.0.0", SDP_E_OK, SDP_AT_IP4, false, true, false },
		{ "IN IP4 255.255.255.255", SDP_E_OK, SDP_AT_IP4, false, false, false },
		{ "IN IP4 239.1.1.1", SDP_E_OK, SDP_AT_IP4, false, false, true },
		{ "IN IP4 224.2.1.1/127/3", SDP_E_OK, SDP_AT_IP4, false, false, true },
		{ "IN IP4 media.example.com", SDP_E_OK, SDP_AT_IP4, true, false, false },
		{ "in ip4 192.0.2.1", SDP_E_OK, SDP_AT_IP4, false, false, false },
		{ "IN IP6 2001:db8::1", SDP_E_OK, SDP_AT_IP6, false, false, false },
		{ "IN IP6 ::ffff:192.0.2.1", SDP_E_OK, SDP_AT_IP6, false, false, false },
		{ "IN IP6 ::", SDP_E_OK, SDP_AT_IP6, false, true, false },
		{ "IN IP6 ff15::101/3", SDP_E_OK, SDP_AT_IP6, false, false, true },
		{ "IN IP6 media6.example.net", SDP_E_OK, SDP_AT_IP6, true, false, false },
		{ "ATM NSAP 47.0091.8100.0000", SDP_E_OK, SDP_AT_OTHER, false, false, false },
		{ "IN IPX whatever", SDP_E_OK, SDP_AT_OTHER, false, false, false },
		{ "IN IP4 192.0.2.256", SDP_E_BAD_C, 0, false, false, false },
		{ "IN IP4 192.0.2", SDP_E_BAD_C, 0, false, false, false },
		{ "IN IP4 192.0.2.1.", SDP_E_BAD_C, 0, false, false, false },
		{ "IN IP4 1..2.3", SDP_E_BAD_C, 0, false, false, false },
		{ "IN IP4 0001.1.1.1", SDP_E_BAD_C, 0, false, false, false },
		{ "IN IP4 2001:db8::1", SDP_E_BAD_C, 0, false, false, false },
		{ "IN IP4 224.2.1.1/", SDP_E_BAD_C, 0, false, false, false },
		{ "IN IP4 224.2.1.1/1/2/3", SDP_E_BAD_C, 0, false, false, false },
		{ "IN IP4 224.2.1.1/x", SDP_E_BAD_C, 0, false, false, false },
		{ "IN IP6 ff15::101/3/2", SDP_E_BAD_C, 0, false, false, false },
		{ "IN IP6 2001:db8:::1", SDP_E_BAD_C, 0, false, false, false },
		{ "IN IP6 [2001:db8::1]", SDP_E_BAD_C, 0, false, false, false },
		{ "IN IP4 -bad.example", SDP_E_BAD_C, 0, false, false, false },
		{ "IN IP4 bad_name.example", SDP_E_BAD_C, 0, false, false, false },
		{ "IN IP4", SDP_E_BAD_C, 0, false, false, false },
		{ "IN IP4 1.2.3.4 extra", SDP_E_BAD_C, 0, false, false, false },
		{ "", SDP_E_BAD_C, 0, false, false, false },
	};
	char body[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(body, sizeof(body),
			 "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=x\r\nt=0 0\r\nc=%s\r\n"
			 "m=audio 1000 RTP/AVP 0\r\n", cases[i].c);
		struct fx *f = fx_new(body, strlen(body));
		enum sdp_err e = fx_parse(f);
		if (e != cases[i].e)
			fail_msg("c=%s: got %s", cases[i].c, sdp_err_name(e));
		if (e == SDP_E_OK) {
			assert_int_equal(f->s.conn.type, cases[i].type);
			assert_int_equal(f->s.conn.fqdn, cases[i].fqdn);
			assert_int_equal(f->s.conn.unspec, cases[i].unspec);
			assert_int_equal(f->s.conn.multicast, cases[i].mcast);
		} else {
			assert_int_equal(f->s.err_off, strstr(body, "c=") - body);
		}
		fx_free(f);
	}
}

/* ---- errors ------------------------------------------------------------- */

#define HDR "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=x\r\nt=0 0\r\nc=IN IP4 10.0.0.1\r\n"

static void test_error_cases(void **state)
{
	(void)state;
	static const struct {
		const char *body;
		enum sdp_err e;
	} cases[] = {
		{ "", SDP_E_NOT_SDP },
		{ "\r\n\r\n", SDP_E_NOT_SDP },
		{ "hello world", SDP_E_NOT_SDP },
		{ "<?xml version=\"1.0\"?>", SDP_E_NOT_SDP },
		{ "=0\r\n", SDP_E_NOT_SDP },
		{ "v\r\n", SDP_E_NOT_SDP },
		{ "o=- 1 1 IN IP4 10.0.0.1\r\nv=0\r\n", SDP_E_MISSING_V },
		{ "v=1\r\n", SDP_E_BAD_V },
		{ "v=\r\n", SDP_E_BAD_V },
		{ "v=0 0\r\n", SDP_E_BAD_V },
		{ "v=00\r\n", SDP_E_BAD_V },
		{ HDR "m=audio 1000 RTP/AVP 0\r\nbogus\r\n", SDP_E_BAD_LINE },
		{ HDR "\r\nm=audio 1000 RTP/AVP 0\r\n", SDP_E_BAD_LINE },
		{ HDR "a\r=b\r\n", SDP_E_BAD_LINE },
		{ HDR "a=b\rc\r\n", SDP_E_BAD_LINE },
		{ HDR "a=\r\n", SDP_E_BAD_LINE },
		{ HDR "a=:x\r\n", SDP_E_BAD_LINE },
		{ HDR "1=x\r\n", SDP_E_BAD_LINE },
		{ HDR " a=x\r\n", SDP_E_BAD_LINE },
		{ HDR "m=audio 1000 RTP/AVP 0\r\n\r", SDP_E_OK },
		{ HDR "m=audio 1000 RTP/AVP 0\r", SDP_E_BAD_LINE },
		{ HDR "m=audio 1000 RTP/AVP 0\r\no=- 2 2 IN IP4 10.0.0.2\r\n", SDP_E_BAD_ORDER },
		{ HDR "m=audio 1000 RTP/AVP 0\r\ns=y\r\n", SDP_E_BAD_ORDER },
		{ HDR "m=audio 1000 RTP/AVP 0\r\nt=0 0\r\n", SDP_E_BAD_ORDER },
		{ HDR "m=audio 1000 RTP/AVP 0\r\nv=0\r\n", SDP_E_BAD_ORDER },
		{ HDR "v=0\r\n", SDP_E_DUP_LINE },
		{ HDR "o=- 1 1 IN IP4 10.0.0.1\r\n", SDP_E_DUP_LINE },
		{ HDR "s=again\r\n", SDP_E_DUP_LINE },
		{ HDR "c=IN IP4 10.0.0.2\r\n", SDP_E_DUP_LINE },
		{ "v=0\r\ns=x\r\nt=0 0\r\nc=IN IP4 10.0.0.1\r\nm=audio 1 RTP/AVP 0\r\n", SDP_E_MISSING_O },
		{ "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\nt=0 0\r\nc=IN IP4 10.0.0.1\r\n", SDP_E_MISSING_S },
		{ "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=x\r\nc=IN IP4 10.0.0.1\r\n", SDP_E_MISSING_T },
		{ "v=0\r\no=- 1 1 IN IP4\r\n", SDP_E_BAD_O },
		{ "v=0\r\no=- 1 1 IN IP4 10.0.0.1 x\r\n", SDP_E_BAD_O },
		{ "v=0\r\no=- x1 1 IN IP4 10.0.0.1\r\n", SDP_E_BAD_O },
		{ "v=0\r\no=- 1 -1 IN IP4 10.0.0.1\r\n", SDP_E_BAD_O },
		{ "v=0\r\no=- 1 1 IN IP4 10.0.0.300\r\n", SDP_E_BAD_O },
		{ "v=0\r\no=- 1 1 IN IP4 224.0.0.1/3\r\n", SDP_E_BAD_O },
		{ "v=0\r\no=\r\n", SDP_E_BAD_O },
		{ "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=x\r\nt=0\r\n", SDP_E_BAD_T },
		{ "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=x\r\nt=now 0\r\n", SDP_E_BAD_T },
		{ "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=x\r\nt=0 0 0\r\n", SDP_E_BAD_T },
		{ HDR "m=audio 65536 RTP/AVP 0\r\n", SDP_E_BAD_M },
		{ HDR "m=audio 100000 RTP/AVP 0\r\n", SDP_E_BAD_M },
		{ HDR "m=audio -1 RTP/AVP 0\r\n", SDP_E_BAD_M },
		{ HDR "m=audio abc RTP/AVP 0\r\n", SDP_E_BAD_M },
		{ HDR "m=audio 1000 RTP/AVP\r\n", SDP_E_BAD_M },
		{ HDR "m=audio 1000 RTP/AVP \r\n", SDP_E_BAD_M },
		{ HDR "m=audio 1000/0 RTP/AVP 0\r\n", SDP_E_BAD_M },
		{ HDR "m=audio 1000/ RTP/AVP 0\r\n", SDP_E_BAD_M },
		{ HDR "m=audio /2 RTP/AVP 0\r\n", SDP_E_BAD_M },
		{ HDR "m=audio 1000/2/3 RTP/AVP 0\r\n", SDP_E_BAD_M },
		{ HDR "m=\r\n", SDP_E_BAD_M },
		{ HDR "m=audio 1000 RTP/AVP 0\r\na=rtcp:\r\n", SDP_E_BAD_RTCP },
		{ HDR "m=audio 1000 RTP/AVP 0\r\na=rtcp:70000\r\n", SDP_E_BAD_RTCP },
		{ HDR "m=audio 1000 RTP/AVP 0\r\na=rtcp:1001 IN IP4\r\n", SDP_E_BAD_RTCP },
		{ HDR "m=audio 1000 RTP/AVP 0\r\na=rtcp:1001 IN IP4 1.2.3.999\r\n", SDP_E_BAD_RTCP },
		{ HDR "m=audio 1000 RTP/AVP 0\r\na=rtcp:1001 IN IP4 1.2.3.4 x\r\n", SDP_E_BAD_RTCP },
		{ HDR "m=audio 1000 RTP/AVP 0\r\na=rtcp\r\n", SDP_E_BAD_RTCP },
		/* a second, bad a=rtcp is caught too: the rewriter edits all */
		{ HDR "m=audio 1000 RTP/AVP 0\r\na=rtcp:1001\r\na=rtcp:x\r\n", SDP_E_BAD_RTCP },
		{ "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=x\r\nt=0 0\r\nm=audio 1000 RTP/AVP 0\r\n",
		  SDP_E_NO_CONN },
		{ "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=x\r\nt=0 0\r\nm=audio 1000 RTP/AVP 0\r\n"
		  "c=IN IP4 10.0.0.1\r\nm=video 1002 RTP/AVP 0\r\n", SDP_E_NO_CONN },
		/* a disabled stream without c= is let through */
		{ "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=x\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n", SDP_E_OK },
		/* leniencies */
		{ "v=0  \r\no=-  1 1  IN IP4 10.0.0.1 \r\ns=\r\nt=0 0\r\n", SDP_E_OK },
		{ "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=x\r\nt=0 0\r\nt=1 2\r\n", SDP_E_OK },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum sdp_err e = parse_err(cases[i].body);
		if (e != cases[i].e)
			fail_msg("case %zu: want %s got %s", i, sdp_err_name(cases[i].e),
				 sdp_err_name(e));
	}
}

static void test_error_offsets(void **state)
{
	(void)state;
	static const char body[] = HDR "m=audio 1000 RTP/AVP 0\r\na=x\r\nm=audio x RTP/AVP 0\r\n";
	struct fx *f = fx_new(body, strlen(body));

	assert_int_equal(fx_parse(f), SDP_E_BAD_M);
	assert_int_equal(f->s.err_off, strstr(body, "m=audio x") - body);
	fx_free(f);
}

static void test_check_errors(void **state)
{
	(void)state;
	static const struct {
		const char *body;
		enum sdp_err e;
	} cases[] = {
		{ HDR, SDP_E_NO_MEDIA },
		{ HDR "m=audio 0 RTP/AVP 0\r\nm=video 0 RTP/AVP 31\r\n", SDP_E_NO_ACTIVE_MEDIA },
		{ HDR "m=audio 0 RTP/AVP 0\r\nm=video 1000 RTP/AVP 31\r\n", SDP_E_OK },
		{ HDR "m=audio 1000/2 RTP/AVP 0\r\n", SDP_E_UNSUPPORTED_MEDIA },
		{ HDR "m=audio 0/2 RTP/AVP 0\r\n", SDP_E_NO_ACTIVE_MEDIA },
		{ HDR "m=audio 1000 RTP/AVP 0\r\nc=IN IP4 host.example.com\r\n", SDP_E_UNSUPPORTED_CONN },
		{ HDR "m=audio 1000 RTP/AVP 0\r\nc=IN IP4 232.1.1.1\r\n", SDP_E_UNSUPPORTED_CONN },
		{ HDR "m=audio 1000 RTP/AVP 0\r\nc=ATM NSAP 47.1\r\n", SDP_E_UNSUPPORTED_CONN },
		{ HDR "m=audio 1000 RTP/AVP 0\r\nc=IN IP4 10.0.0.2\r\nc=IN IP4 10.0.0.3\r\n",
		  SDP_E_UNSUPPORTED_CONN },
		{ HDR "m=audio 1000 RTP/AVP 0\r\na=rtcp:1001 IN IP4 rtcp.example.com\r\n",
		  SDP_E_UNSUPPORTED_CONN },
		{ HDR "m=audio 1000 RTP/AVP 0\r\na=rtcp:1001 IN IP4 10.0.0.9\r\n", SDP_E_OK },
		/* a disabled multicast stream does not matter */
		{ HDR "m=audio 0 RTP/AVP 0\r\nc=IN IP4 232.1.1.1\r\nm=audio 2 RTP/AVP 0\r\n", SDP_E_OK },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fx *f = parse_ok(cases[i].body);
		enum sdp_err e = sdp_check(&f->s);
		if (e != cases[i].e)
			fail_msg("case %zu: want %s got %s", i, sdp_err_name(cases[i].e),
				 sdp_err_name(e));
		fx_free(f);
	}
}

static void test_error_table(void **state)
{
	(void)state;
	for (int e = 0; e < SDP_E__COUNT; e++) {
		uint16_t st = sdp_err_status((enum sdp_err)e);
		assert_true(e == SDP_E_OK ? st == 0 : (st == 400 || st == 488));
		assert_non_null(sdp_err_reason((enum sdp_err)e));
		assert_true(strlen(sdp_err_reason((enum sdp_err)e)) > 0);
		for (int o = 0; o < e; o++)
			assert_string_not_equal(sdp_err_name((enum sdp_err)e),
						sdp_err_name((enum sdp_err)o));
	}
	assert_int_equal(sdp_err_status(SDP_E_BAD_M), 400);
	assert_int_equal(sdp_err_status(SDP_E_TOO_MANY_MEDIA), 488);
	assert_int_equal(sdp_err_status(SDP_E_NO_MEDIA), 488);
	assert_string_equal(sdp_err_name(SDP_E_BAD_C), "BAD_C");
	assert_string_equal(sdp_err_reason(SDP_E_BAD_C), "Bad Request - Malformed SDP c= line");
	assert_int_equal(sdp_err_status(SDP_E__COUNT), 500);
	assert_string_equal(sdp_err_name(SDP_E__COUNT), "?");
	assert_string_equal(sdp_err_reason((enum sdp_err)-1), "?");
}

/* ---- limits -------------------------------------------------------------- */

static void test_limit_media(void **state)
{
	(void)state;
	char body[2048];

	for (unsigned n = 15; n <= 17; n++) {
		size_t off = (size_t)snprintf(body, sizeof(body), "%s", HDR);
		for (unsigned i = 0; i < n; i++)
			off += (size_t)snprintf(body + off, sizeof(body) - off,
						"m=audio %u RTP/AVP 0\r\n", 1000 + 2 * i);
		struct fx *f = fx_new(body, off);
		enum sdp_err e = fx_parse(f);
		assert_int_equal(e, n <= SDP_MAX_MEDIA ? SDP_E_OK : SDP_E_TOO_MANY_MEDIA);
		if (e == SDP_E_OK)
			assert_int_equal(f->s.nmedia, n);
		fx_free(f);
	}
}

static void test_limit_lines(void **state)
{
	(void)state;
	char body[8192];

	for (unsigned n = 255; n <= 257; n++) {
		/* HDR is 5 lines, plus the m= line */
		size_t off = (size_t)snprintf(body, sizeof(body), "%sm=audio 1 RTP/AVP 0\r\n", HDR);
		for (unsigned i = 6; i < n; i++)
			off += (size_t)snprintf(body + off, sizeof(body) - off, "a=x%u\r\n", i);
		struct fx *f = fx_new(body, off);
		enum sdp_err e = fx_parse(f);
		assert_int_equal(e, n <= SDP_MAX_LINES ? SDP_E_OK : SDP_E_TOO_MANY_LINES);
		if (e == SDP_E_OK)
			assert_int_equal(f->s.nlines, n);
		fx_free(f);
	}
}

/* A body of exactly len bytes: HDR, an m= line, one long a= line. */
static char *body_of_len(size_t len)
{
	static const char head[] = HDR "m=audio 1 RTP/AVP 0\r\na=";
	char *b = test_malloc(len);

	memcpy(b, head, sizeof(head) - 1);
	memset(b + sizeof(head) - 1, 'x', len - (sizeof(head) - 1) - 2);
	memcpy(b + len - 2, "\r\n", 2);
	return b;
}

static void test_limit_size(void **state)
{
	(void)state;
	struct sdp *s = test_malloc(sizeof(*s));
	char *b = body_of_len(SDP_MAX_BODY);

	assert_int_equal(sdp_parse(s, b, SDP_MAX_BODY), SDP_E_OK);
	assert_int_equal(s->line[6].len, SDP_MAX_BODY - s->line[6].off - 2);
	char *out = test_malloc(SDP_MAX_BODY + 64);
	struct sdp_rewrite spec = { 0 };
	assert_int_equal(sdp_rewrite(s, &spec, out, SDP_MAX_BODY + 64), SDP_MAX_BODY);
	assert_memory_equal(out, b, SDP_MAX_BODY);
	test_free(out);
	test_free(b);

	b = body_of_len(SDP_MAX_BODY + 1);
	assert_int_equal(sdp_parse(s, b, SDP_MAX_BODY + 1), SDP_E_TOO_BIG);
	/* too big is decided before anything is read */
	assert_int_equal(sdp_parse(s, b, (size_t)1 << 40), SDP_E_TOO_BIG);
	test_free(b);

	assert_int_equal(sdp_parse(s, NULL, 0), SDP_E_NOT_SDP);
	assert_int_equal(sdp_parse(s, NULL, 10), SDP_E_NOT_SDP);
	test_free(s);
}

/* ---- robustness ----------------------------------------------------------- */

/* Every prefix of every sample parses or fails cleanly, and any prefix that
 * parses rewrites to itself. The prefix lives in a block of exactly its
 * length so a read past it is caught by ASan / valgrind. */
static void test_truncation(void **state)
{
	(void)state;
	struct sdp *s = test_malloc(sizeof(*s));
	char *out = test_malloc(4096);
	struct sdp_rewrite zero = { 0 }, spec = { 0 };

	spec.flags = SDP_RW_STRIP_ICE;
	spec.origin = A4("192.0.2.1");
	spec.conn = A4("192.0.2.1");
	for (unsigned k = 0; k < SDP_MAX_MEDIA; k++) {
		spec.media[k] = (struct sdp_media_rewrite){ true, (uint16_t)(20000 + 2 * k),
			SDP_RTCP_SET, (uint16_t)(20001 + 2 * k), A6("2001:db8::5") };
	}
	for (size_t i = 0; i < NSAMPLES; i++) {
		size_t n = strlen(SAMPLES[i]);
		for (size_t len = 0; len <= n; len++) {
			char *b = test_malloc(len ? len : 1);
			memcpy(b, SAMPLES[i], len);
			if (sdp_parse(s, b, len) == SDP_E_OK) {
				int r = sdp_rewrite(s, &zero, out, 4096);
				assert_int_equal(r, (int)len);
				assert_memory_equal(out, b, len);
				assert_true(sdp_rewrite(s, &spec, out, 4096) > 0);
				enum sdp_err ce = sdp_check(s);
				assert_true(ce == SDP_E_OK || sdp_err_status(ce) == 488);
				for (unsigned m = 0; m <= s->nmedia; m++) {
					(void)sdp_media_is_hold(s, m);
					(void)sdp_media_rtcp_port(s, m);
				}
			}
			test_free(b);
		}
	}
	test_free(out);
	test_free(s);
}

static void test_embedded_nul(void **state)
{
	(void)state;
	size_t n = strlen(G711);
	struct fx *f = fx_new(G711, n);

	for (size_t i = 0; i < n; i++) {
		char saved = f->buf[i];
		f->buf[i] = '\0';
		assert_int_equal(fx_parse(f), SDP_E_NUL_BYTE);
		assert_int_equal(f->s.err_off, i);
		f->buf[i] = saved;
	}
	assert_int_equal(fx_parse(f), SDP_E_OK);
	fx_free(f);
}

/* Bytes >= 0x80 (UTF-8 in s= and i=) are text, not errors. */
static void test_high_bytes(void **state)
{
	(void)state;
	struct fx *f = parse_ok("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=Sitzung \xc3\xa4\xff\r\n"
				"i=\x80\x81\r\nt=0 0\r\nc=IN IP4 10.0.0.1\r\nm=audio 1 RTP/AVP 0\r\n");
	assert_view(f->s.name, "Sitzung \xc3\xa4\xff");
	fx_free(f);
}

/* ---- rewriting ------------------------------------------------------------ */

static void test_rewrite_identity(void **state)
{
	(void)state;
	struct sdp_rewrite spec = { 0 };

	for (size_t i = 0; i < NSAMPLES; i++) {
		struct fx *f = parse_ok(SAMPLES[i]);
		assert_rewrite(f, &spec, SAMPLES[i]);
		fx_free(f);
	}
}

static void test_rewrite_g711(void **state)
{
	(void)state;
	struct fx *f = parse_ok(G711);
	struct sdp_rewrite spec = { 0 };

	spec.origin = A4("192.0.2.10");
	spec.conn = A4("192.0.2.10");
	spec.media[0].set_port = true;
	spec.media[0].port = 30000;
	assert_rewrite(f, &spec,
		       "v=0\r\n"
		       "o=alice 2890844526 2890844527 IN IP4 192.0.2.10\r\n"
		       "s=-\r\n"
		       "c=IN IP4 192.0.2.10\r\n"
		       "t=0 0\r\n"
		       "m=audio 30000 RTP/AVP 0 8 101\r\n"
		       "a=rtpmap:0 PCMU/8000\r\n"
		       "a=rtpmap:8 PCMA/8000\r\n"
		       "a=rtpmap:101 telephone-event/8000\r\n"
		       "a=fmtp:101 0-15\r\n"
		       "a=ptime:20\r\n"
		       "a=sendrecv\r\n");

	/* o= identity fields and a family change */
	spec = (struct sdp_rewrite){ 0 };
	spec.origin = A6("2001:db8::a");
	spec.origin_user = S("sbc");
	spec.origin_sess_id = S("42");
	spec.origin_sess_version = S("43");
	spec.media[0].set_port = true;
	spec.media[0].port = 0;
	spec.media[0].conn = A6("2001:db8::b");
	assert_rewrite(f, &spec,
		       "v=0\r\n"
		       "o=sbc 42 43 IN IP6 2001:db8::a\r\n"
		       "s=-\r\n"
		       "c=IN IP6 2001:db8::b\r\n"
		       "t=0 0\r\n"
		       "m=audio 0 RTP/AVP 0 8 101\r\n"
		       "a=rtpmap:0 PCMU/8000\r\n"
		       "a=rtpmap:8 PCMA/8000\r\n"
		       "a=rtpmap:101 telephone-event/8000\r\n"
		       "a=fmtp:101 0-15\r\n"
		       "a=ptime:20\r\n"
		       "a=sendrecv\r\n");
	fx_free(f);
}

static void test_rewrite_media_level_conn(void **state)
{
	(void)state;
	struct fx *f = parse_ok(AV);
	struct sdp_rewrite spec = { 0 };

	spec.origin = A4("192.0.2.1");
	spec.conn = A4("192.0.2.1"); /* no session c=: nothing to write it to */
	spec.media[0] = (struct sdp_media_rewrite){ true, 40000, SDP_RTCP_SET, 40001, A4("192.0.2.1") };
	spec.media[1] = (struct sdp_media_rewrite){ true, 40002, SDP_RTCP_KEEP, 0, A6("2001:db8::1") };
	assert_rewrite(f, &spec,
		       "v=0\r\n"
		       "o=- 1 1 IN IP4 192.0.2.1\r\n"
		       "s=call\r\n"
		       "t=0 0\r\n"
		       "m=audio 40000 RTP/AVP 0\r\n"
		       "c=IN IP4 192.0.2.1\r\n"
		       "a=rtcp:40001 IN IP4 192.0.2.1\r\n"
		       "m=video 40002 RTP/AVP 96\r\n"
		       "i=camera\r\n"
		       "c=IN IP6 2001:db8::1\r\n"
		       "b=AS:512\r\n"
		       "a=rtpmap:96 H264/90000\r\n"
		       "a=rtcp-mux\r\n");

	/* only the port of a=rtcp, address kept (media address unchanged) */
	spec = (struct sdp_rewrite){ 0 };
	spec.media[0].rtcp = SDP_RTCP_SET;
	spec.media[0].rtcp_port = 7;
	assert_rewrite(f, &spec,
		       "v=0\r\n"
		       "o=- 1 1 IN IP4 198.51.100.1\r\n"
		       "s=call\r\n"
		       "t=0 0\r\n"
		       "m=audio 5004 RTP/AVP 0\r\n"
		       "c=IN IP4 198.51.100.2\r\n"
		       "a=rtcp:7 IN IP4 198.51.100.2\r\n"
		       "m=video 5006 RTP/AVP 96\r\n"
		       "i=camera\r\n"
		       "c=IN IP4 198.51.100.3\r\n"
		       "b=AS:512\r\n"
		       "a=rtpmap:96 H264/90000\r\n"
		       "a=rtcp-mux\r\n");

	/* drop the address part; remove vs insert a=rtcp */
	spec = (struct sdp_rewrite){ 0 };
	spec.flags = SDP_RW_RTCP_DROP_ADDR;
	spec.media[0].conn = A4("192.0.2.7");
	spec.media[1].rtcp = SDP_RTCP_SET;
	spec.media[1].rtcp_port = 9999;
	assert_rewrite(f, &spec,
		       "v=0\r\n"
		       "o=- 1 1 IN IP4 198.51.100.1\r\n"
		       "s=call\r\n"
		       "t=0 0\r\n"
		       "m=audio 5004 RTP/AVP 0\r\n"
		       "c=IN IP4 192.0.2.7\r\n"
		       "a=rtcp:5005\r\n"
		       "m=video 5006 RTP/AVP 96\r\n"
		       "i=camera\r\n"
		       "c=IN IP4 198.51.100.3\r\n"
		       "b=AS:512\r\n"
		       "a=rtpmap:96 H264/90000\r\n"
		       "a=rtcp-mux\r\n"
		       "a=rtcp:9999\r\n");

	spec = (struct sdp_rewrite){ 0 };
	spec.media[0].rtcp = SDP_RTCP_REMOVE;
	spec.media[1].rtcp = SDP_RTCP_REMOVE; /* nothing to remove */
	assert_rewrite(f, &spec,
		       "v=0\r\n"
		       "o=- 1 1 IN IP4 198.51.100.1\r\n"
		       "s=call\r\n"
		       "t=0 0\r\n"
		       "m=audio 5004 RTP/AVP 0\r\n"
		       "c=IN IP4 198.51.100.2\r\n"
		       "m=video 5006 RTP/AVP 96\r\n"
		       "i=camera\r\n"
		       "c=IN IP4 198.51.100.3\r\n"
		       "b=AS:512\r\n"
		       "a=rtpmap:96 H264/90000\r\n"
		       "a=rtcp-mux\r\n");
	fx_free(f);
}

static void test_rewrite_promote_session_conn(void **state)
{
	(void)state;
	struct fx *f = parse_ok(TWO_INHERIT);
	struct sdp_rewrite spec = { 0 };

	/* both inheriting media get the same address: the session c= moves */
	spec.media[0].conn = A4("192.0.2.1");
	spec.media[1].conn = A4("192.0.2.1");
	assert_rewrite(f, &spec,
		       "v=0\r\n"
		       "o=- 5 5 IN IP4 10.0.0.5\r\n"
		       "s=-\r\n"
		       "c=IN IP4 192.0.2.1\r\n"
		       "t=0 0\r\n"
		       "m=audio 6000 RTP/AVP 0\r\n"
		       "i=voice\r\n"
		       "a=sendrecv\r\n"
		       "m=video 6002 RTP/AVP 96\r\n");

	/* an inheriting media being disabled does not block the promotion */
	spec.media[1] = (struct sdp_media_rewrite){ .set_port = true, .port = 0 };
	assert_rewrite(f, &spec,
		       "v=0\r\n"
		       "o=- 5 5 IN IP4 10.0.0.5\r\n"
		       "s=-\r\n"
		       "c=IN IP4 192.0.2.1\r\n"
		       "t=0 0\r\n"
		       "m=audio 6000 RTP/AVP 0\r\n"
		       "i=voice\r\n"
		       "a=sendrecv\r\n"
		       "m=video 0 RTP/AVP 96\r\n");

	/* an active inheriting media left alone blocks it: c= is inserted */
	spec.media[1] = (struct sdp_media_rewrite){ 0 };
	assert_rewrite(f, &spec,
		       "v=0\r\n"
		       "o=- 5 5 IN IP4 10.0.0.5\r\n"
		       "s=-\r\n"
		       "c=IN IP4 10.0.0.5\r\n"
		       "t=0 0\r\n"
		       "m=audio 6000 RTP/AVP 0\r\n"
		       "i=voice\r\n"
		       "c=IN IP4 192.0.2.1\r\n"
		       "a=sendrecv\r\n"
		       "m=video 6002 RTP/AVP 96\r\n");

	/* the same address as the session c= needs no line of its own */
	spec.media[0].conn = A4("10.0.0.5");
	assert_rewrite(f, &spec, TWO_INHERIT);
	fx_free(f);
}

static void test_rewrite_insert_conn(void **state)
{
	(void)state;
	struct fx *f = parse_ok(TWO_INHERIT);
	struct sdp_rewrite spec = { 0 };

	/* different addresses, no session address given: one line each */
	spec.media[0].conn = A4("192.0.2.1");
	spec.media[1].conn = A6("2001:db8::9");
	assert_rewrite(f, &spec,
		       "v=0\r\n"
		       "o=- 5 5 IN IP4 10.0.0.5\r\n"
		       "s=-\r\n"
		       "c=IN IP4 10.0.0.5\r\n"
		       "t=0 0\r\n"
		       "m=audio 6000 RTP/AVP 0\r\n"
		       "i=voice\r\n"
		       "c=IN IP4 192.0.2.1\r\n"
		       "a=sendrecv\r\n"
		       "m=video 6002 RTP/AVP 96\r\n"
		       "c=IN IP6 2001:db8::9\r\n");

	/* session address given and equal to media 0's: only media 1 gets one */
	spec.conn = A4("192.0.2.1");
	spec.media[1].rtcp = SDP_RTCP_SET;
	spec.media[1].rtcp_port = 6003;
	assert_rewrite(f, &spec,
		       "v=0\r\n"
		       "o=- 5 5 IN IP4 10.0.0.5\r\n"
		       "s=-\r\n"
		       "c=IN IP4 192.0.2.1\r\n"
		       "t=0 0\r\n"
		       "m=audio 6000 RTP/AVP 0\r\n"
		       "i=voice\r\n"
		       "a=sendrecv\r\n"
		       "m=video 6002 RTP/AVP 96\r\n"
		       "c=IN IP6 2001:db8::9\r\n"
		       "a=rtcp:6003\r\n");
	fx_free(f);

	/* the last line unterminated and bare LF: inserted lines follow the
	 * body's own terminator, and the last line gets one */
	f = parse_ok("v=0\no=- 5 5 IN IP4 10.0.0.5\ns=-\nc=IN IP4 10.0.0.5\nt=0 0\n"
		     "m=audio 6000 RTP/AVP 0\nm=video 6002 RTP/AVP 96");
	spec = (struct sdp_rewrite){ 0 };
	spec.media[0].conn = A4("192.0.2.1");
	spec.media[1] = (struct sdp_media_rewrite){ true, 7000, SDP_RTCP_SET, 7001, A4("192.0.2.2") };
	assert_rewrite(f, &spec,
		       "v=0\no=- 5 5 IN IP4 10.0.0.5\ns=-\nc=IN IP4 10.0.0.5\nt=0 0\n"
		       "m=audio 6000 RTP/AVP 0\nc=IN IP4 192.0.2.1\n"
		       "m=video 7000 RTP/AVP 96\nc=IN IP4 192.0.2.2\na=rtcp:7001\n");
	/* without inserts the missing terminator stays missing */
	spec = (struct sdp_rewrite){ 0 };
	spec.media[1].set_port = true;
	spec.media[1].port = 7;
	assert_rewrite(f, &spec,
		       "v=0\no=- 5 5 IN IP4 10.0.0.5\ns=-\nc=IN IP4 10.0.0.5\nt=0 0\n"
		       "m=audio 6000 RTP/AVP 0\nm=video 7 RTP/AVP 96");
	fx_free(f);

	/* a port-0 media without any c= gets one when given an address */
	f = parse_ok("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=x\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n");
	spec = (struct sdp_rewrite){ 0 };
	spec.media[0].conn = A4("192.0.2.3");
	assert_rewrite(f, &spec,
		       "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=x\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n"
		       "c=IN IP4 192.0.2.3\r\n");
	fx_free(f);
}

static void test_rewrite_ice_strip(void **state)
{
	(void)state;
	struct fx *f = parse_ok(ICE);
	struct sdp_rewrite spec = { 0 };

	spec.flags = SDP_RW_STRIP_CANDIDATES;
	spec.origin = A4("192.0.2.1");
	spec.media[0] = (struct sdp_media_rewrite){ true, 30000, SDP_RTCP_SET, 30001, A4("192.0.2.1") };
	assert_rewrite(f, &spec,
		       "v=0\r\n"
		       "o=- 4611731400430051336 2 IN IP4 192.0.2.1\r\n"
		       "s=-\r\n"
		       "t=0 0\r\n"
		       "a=group:BUNDLE 0\r\n"
		       "a=ice-options:trickle\r\n"
		       "m=audio 30000 UDP/TLS/RTP/SAVPF 111 0\r\n"
		       "c=IN IP4 192.0.2.1\r\n"
		       "a=rtcp:30001 IN IP4 192.0.2.1\r\n"
		       "a=ice-ufrag:F7gI\r\n"
		       "a=ice-pwd:x9cml/YzichV2+XlhiMu8g\r\n"
		       "a=end-of-candidates\r\n"
		       "a=rtcp-mux\r\n"
		       "a=rtpmap:111 opus/48000/2\r\n");

	spec.flags = SDP_RW_STRIP_ICE;
	assert_rewrite(f, &spec,
		       "v=0\r\n"
		       "o=- 4611731400430051336 2 IN IP4 192.0.2.1\r\n"
		       "s=-\r\n"
		       "t=0 0\r\n"
		       "a=group:BUNDLE 0\r\n"
		       "m=audio 30000 UDP/TLS/RTP/SAVPF 111 0\r\n"
		       "c=IN IP4 192.0.2.1\r\n"
		       "a=rtcp:30001 IN IP4 192.0.2.1\r\n"
		       "a=rtcp-mux\r\n"
		       "a=rtpmap:111 opus/48000/2\r\n");
	fx_free(f);

	/* a stripped unterminated last line followed by an inserted a=rtcp */
	f = parse_ok("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=x\r\nt=0 0\r\nc=IN IP4 10.0.0.1\r\n"
		     "m=audio 1000 RTP/AVP 0\r\na=candidate:1 1 UDP 1 10.0.0.1 1000 typ host");
	spec = (struct sdp_rewrite){ 0 };
	spec.flags = SDP_RW_STRIP_CANDIDATES;
	spec.media[0].rtcp = SDP_RTCP_SET;
	spec.media[0].rtcp_port = 1001;
	assert_rewrite(f, &spec,
		       "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=x\r\nt=0 0\r\nc=IN IP4 10.0.0.1\r\n"
		       "m=audio 1000 RTP/AVP 0\r\na=rtcp:1001\r\n");
	fx_free(f);
}

static void test_rewrite_multicast_token(void **state)
{
	(void)state;
	struct fx *f = parse_ok(SEMINAR);
	struct sdp_rewrite spec = { 0 };

	/* the whole connection-address goes, /ttl/num included; "/2" of the
	 * port and every opaque line stay */
	spec.conn = A4("192.0.2.1");
	spec.media[1] = (struct sdp_media_rewrite){ true, 40000, SDP_RTCP_KEEP, 0, A6("2001:db8::2") };
	assert_rewrite(f, &spec,
		       "v=0\r\n"
		       "o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5\r\n"
		       "s=SDP Seminar\r\n"
		       "i=A Seminar on the session description protocol\r\n"
		       "u=http://www.example.com/seminars/sdp.pdf\r\n"
		       "e=j.doe@example.com (Jane Doe)\r\n"
		       "p=+1 617 555-6011\r\n"
		       "c=IN IP4 192.0.2.1\r\n"
		       "b=CT:128\r\n"
		       "t=2873397496 2873404696\r\n"
		       "r=7d 1h 0 25h\r\n"
		       "z=2882844526 -1h 2898848070 0\r\n"
		       "k=clear:secret\r\n"
		       "a=recvonly\r\n"
		       "m=audio 49170 RTP/AVP 0\r\n"
		       "m=video 40000/2 RTP/AVP 99\r\n"
		       "c=IN IP6 2001:db8::2\r\n"
		       "a=rtpmap:99 h263-1998/90000\r\n");
	fx_free(f);

	/* a foreign network type becomes IN */
	f = parse_ok("v=0\r\no=- 1 1 ATM NSAP 47.1\r\ns=x\r\nt=0 0\r\nc=ATM NSAP 47.2\r\n"
		     "m=audio 1 RTP/AVP 0\r\n");
	spec = (struct sdp_rewrite){ 0 };
	spec.origin = A4("192.0.2.1");
	spec.conn = A6("2001:db8::1");
	assert_rewrite(f, &spec,
		       "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=x\r\nt=0 0\r\nc=IN IP6 2001:db8::1\r\n"
		       "m=audio 1 RTP/AVP 0\r\n");
	fx_free(f);
}

/* Odd but legal spacing survives: only the tokens change. */
static void test_rewrite_keeps_spacing(void **state)
{
	(void)state;
	struct fx *f = parse_ok("v=0\r\no=-  1 1 IN  IP4   10.0.0.1 \r\ns=x\r\nt=0 0\r\n"
				"c=IN IP4  10.0.0.1  \r\nm=audio  1000  RTP/AVP  0 \r\n"
				"a=rtcp:1001  IN IP4 10.0.0.1 \r\n");
	struct sdp_rewrite spec = { 0 };

	spec.origin = A4("192.0.2.1");
	spec.conn = A4("192.0.2.2");
	spec.media[0] = (struct sdp_media_rewrite){ true, 2000, SDP_RTCP_SET, 2001, { { NULL, 0 }, 0 } };
	assert_rewrite(f, &spec,
		       "v=0\r\no=-  1 1 IN  IP4   192.0.2.1 \r\ns=x\r\nt=0 0\r\n"
		       "c=IN IP4  192.0.2.2  \r\nm=audio  2000  RTP/AVP  0 \r\n"
		       "a=rtcp:2001  IN IP4 192.0.2.2 \r\n");
	spec.flags = SDP_RW_RTCP_DROP_ADDR;
	assert_rewrite(f, &spec,
		       "v=0\r\no=-  1 1 IN  IP4   192.0.2.1 \r\ns=x\r\nt=0 0\r\n"
		       "c=IN IP4  192.0.2.2  \r\nm=audio  2000  RTP/AVP  0 \r\n"
		       "a=rtcp:2001 \r\n");
	fx_free(f);
}

static void test_rewrite_enospc(void **state)
{
	(void)state;
	struct fx *f = parse_ok(TWO_INHERIT);
	struct sdp_rewrite spec = { 0 };
	char big[1024];

	spec.media[0].conn = A4("192.0.2.1");
	spec.media[1] = (struct sdp_media_rewrite){ true, 7000, SDP_RTCP_SET, 7001, A6("2001:db8::9") };
	int need = sdp_rewrite(&f->s, &spec, big, sizeof(big));
	assert_true(need > (int)f->len);
	for (int cap = 0; cap < need; cap++) {
		/* exactly cap bytes, so a write past it is caught */
		char *out = test_malloc(cap ? (size_t)cap : 1);
		assert_int_equal(sdp_rewrite(&f->s, &spec, out, (size_t)cap), -ENOSPC);
		test_free(out);
	}
	char *out = test_malloc((size_t)need);
	assert_int_equal(sdp_rewrite(&f->s, &spec, out, (size_t)need), need);
	assert_memory_equal(out, big, (size_t)need);
	test_free(out);
	assert_int_equal(sdp_rewrite(&f->s, &spec, NULL, 0), -ENOSPC);
	fx_free(f);
}

static void test_rewrite_einval(void **state)
{
	(void)state;
	struct fx *f = parse_ok(G711);
	char out[1024];
	struct sdp_rewrite spec;
	struct sdp *blank = test_calloc(1, sizeof(*blank));

	spec = (struct sdp_rewrite){ 0 };
	assert_int_equal(sdp_rewrite(&f->s, NULL, out, sizeof(out)), -EINVAL);
	assert_int_equal(sdp_rewrite(NULL, &spec, out, sizeof(out)), -EINVAL);
	assert_int_equal(sdp_rewrite(blank, &spec, out, sizeof(out)), -EINVAL);
	assert_int_equal(sdp_rewrite(&f->s, &spec, NULL, 10), -EINVAL);
	test_free(blank);

	spec.conn = (struct sdp_addr){ S("192.0.2.1"), SDP_AT_OTHER };
	assert_int_equal(sdp_rewrite(&f->s, &spec, out, sizeof(out)), -EINVAL);
	spec.conn = A4("192.0.2.1 x");
	assert_int_equal(sdp_rewrite(&f->s, &spec, out, sizeof(out)), -EINVAL);
	spec.conn = A4("192.0.2.1\r\na=evil");
	assert_int_equal(sdp_rewrite(&f->s, &spec, out, sizeof(out)), -EINVAL);
	spec.conn = A4("224.1.1.1/3");
	assert_int_equal(sdp_rewrite(&f->s, &spec, out, sizeof(out)), -EINVAL);
	spec = (struct sdp_rewrite){ 0 };
	spec.origin = A6("2001:db8::1\n");
	assert_int_equal(sdp_rewrite(&f->s, &spec, out, sizeof(out)), -EINVAL);
	spec = (struct sdp_rewrite){ 0 };
	spec.origin_sess_version = S("12a");
	assert_int_equal(sdp_rewrite(&f->s, &spec, out, sizeof(out)), -EINVAL);
	spec = (struct sdp_rewrite){ 0 };
	spec.origin_user = S("a b");
	assert_int_equal(sdp_rewrite(&f->s, &spec, out, sizeof(out)), -EINVAL);
	spec = (struct sdp_rewrite){ 0 };
	spec.media[3].rtcp = (enum sdp_rtcp_op)7;
	assert_int_equal(sdp_rewrite(&f->s, &spec, out, sizeof(out)), -EINVAL);
	spec = (struct sdp_rewrite){ 0 };
	spec.media[15].conn = (struct sdp_addr){ S("x"), (enum sdp_addrtype)9 };
	assert_int_equal(sdp_rewrite(&f->s, &spec, out, sizeof(out)), -EINVAL);

	/* a failed parse leaves nothing to rewrite, even when it stopped on
	 * the very line a rewrite would edit */
	struct fx *bad = fx_new("v=0\r\no=- 1 x IN IP4 1.2.3.4\r\n", 29);
	assert_int_equal(fx_parse(bad), SDP_E_BAD_O);
	assert_int_equal(bad->s.nlines, 0);
	assert_int_equal(bad->s.nmedia, 0);
	spec = (struct sdp_rewrite){ 0 };
	spec.origin = A4("192.0.2.1");
	assert_int_equal(sdp_rewrite(&bad->s, &spec, out, sizeof(out)), -EINVAL);
	assert_int_equal(sdp_check(&bad->s), SDP_E_NO_MEDIA);
	fx_free(bad);

	/* entries past nmedia are otherwise ignored */
	spec = (struct sdp_rewrite){ 0 };
	spec.media[5] = (struct sdp_media_rewrite){ true, 1, SDP_RTCP_SET, 2, A4("192.0.2.1") };
	assert_rewrite(f, &spec, G711);
	fx_free(f);
}

/* Every fuzz seed is a valid SDP that rewrites to itself; run only when the
 * suite is given SBC_TESTS_DIR (meson does), skipped otherwise. */
static void test_corpus_seeds(void **state)
{
	(void)state;
	const char *root = getenv("SBC_TESTS_DIR");
	char path[4096];
	unsigned nfiles = 0;

	if (root == NULL || root[0] == '\0')
		skip();
	snprintf(path, sizeof(path), "%s/fuzz/corpus/sdp", root);
	DIR *d = opendir(path);
	if (d == NULL)
		skip();
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/fuzz/corpus/sdp/%s", root, de->d_name);
		FILE *fp = fopen(path, "rb");
		assert_non_null(fp);
		char body[SDP_MAX_BODY + 1];
		size_t n = fread(body, 1, sizeof(body), fp);
		fclose(fp);
		struct fx *f = fx_new(body, n);
		enum sdp_err e = fx_parse(f);
		if (e != SDP_E_OK)
			fail_msg("%s: %s", de->d_name, sdp_err_name(e));
		struct sdp_rewrite spec = { 0 };
		char out[SDP_MAX_BODY];
		assert_int_equal(sdp_rewrite(&f->s, &spec, out, sizeof(out)), (int)n);
		assert_memory_equal(out, body, n);
		fx_free(f);
		nfiles++;
	}
	closedir(d);
	assert_true(nfiles >= 10);
}

/* Found by fuzz_sdp: a port-0 media without c= given a port but no address
 * would come out as SDP that sdp_parse() refuses (NO_CONN). */
static void test_regress_port0_no_conn(void **state)
{
	(void)state;
	static const char body[] = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\n"
				   "m=uadio 00 typ hP/TLS/RTP4{0 typ host\r\n"
				   "a=candidate:2 1 UDP 1 203.0.113.5 54400 typ srflx\r\n";
	struct fx *f = parse_ok(body);
	struct sdp_rewrite spec = { 0 };
	char out[1024];

	spec.flags = SDP_RW_STRIP_CANDIDATES;
	spec.media[0].set_port = true;
	spec.media[0].port = 40000;
	assert_int_equal(sdp_rewrite(&f->s, &spec, out, sizeof(out)), -EINVAL);
	spec.media[0].port = 0; /* still disabled: fine */
	assert_rewrite(f, &spec, "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\n"
				 "m=uadio 0 typ hP/TLS/RTP4{0 typ host\r\n");
	spec.media[0].port = 40000;
	spec.conn = A4("192.0.2.1"); /* no session c= to carry it: not enough */
	assert_int_equal(sdp_rewrite(&f->s, &spec, out, sizeof(out)), -EINVAL);
	/* the same address as spec.conn still needs its own line: there is
	 * no session c= carrying spec.conn (second fuzz finding) */
	spec.media[0].conn = A4("192.0.2.1");
	assert_rewrite(f, &spec, "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\n"
				 "m=uadio 40000 typ hP/TLS/RTP4{0 typ host\r\n"
				 "c=IN IP4 192.0.2.1\r\n");
	fx_free(f);
}

/* A rewritten body parses again and carries what was asked for. */
static void test_rewrite_reparses(void **state)
{
	(void)state;
	struct sdp_rewrite spec = { 0 };
	char out[8192];

	spec.flags = SDP_RW_STRIP_CANDIDATES;
	spec.origin = A4("192.0.2.1");
	for (unsigned k = 0; k < SDP_MAX_MEDIA; k++)
		spec.media[k] = (struct sdp_media_rewrite){ true, (uint16_t)(30000 + 2 * k),
			SDP_RTCP_SET, (uint16_t)(30001 + 2 * k),
			k & 1 ? A6("2001:db8::77") : A4("192.0.2.77") };
	for (size_t i = 0; i < NSAMPLES; i++) {
		struct fx *f = parse_ok(SAMPLES[i]);
		int n = sdp_rewrite(&f->s, &spec, out, sizeof(out));
		assert_true(n > 0);
		struct fx *g = fx_new(out, (size_t)n);
		assert_int_equal(fx_parse(g), SDP_E_OK);
		assert_int_equal(g->s.nmedia, f->s.nmedia);
		assert_view(g->s.origin.conn.addr, "192.0.2.1");
		for (unsigned k = 0; k < g->s.nmedia; k++) {
			const struct sdp_conn *c = sdp_media_conn(&g->s, k);
			assert_int_equal(g->s.media[k].port, 30000 + 2 * k);
			assert_non_null(c);
			assert_view(c->addr, k & 1 ? "2001:db8::77" : "192.0.2.77");
			assert_int_equal(g->s.media[k].ncandidates, 0);
			assert_int_equal(g->s.media[k].nremote_candidates, 0);
			assert_true(g->s.media[k].has_rtcp);
			assert_int_equal(g->s.media[k].rtcp_port, 30001 + 2 * k);
			if (g->s.media[k].rtcp_conn.present)
				assert_view(g->s.media[k].rtcp_conn.addr,
					    k & 1 ? "2001:db8::77" : "192.0.2.77");
		}
		fx_free(g);
		fx_free(f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_g711),
		cmocka_unit_test(test_fmt_iteration),
		cmocka_unit_test(test_attr_iteration),
		cmocka_unit_test(test_parse_multi_media),
		cmocka_unit_test(test_parse_ipv6_bare_lf),
		cmocka_unit_test(test_parse_mixed_eol_unterminated),
		cmocka_unit_test(test_parse_trailing_blank_lines),
		cmocka_unit_test(test_parse_opaque_lines),
		cmocka_unit_test(test_parse_unknown_line_types),
		cmocka_unit_test(test_parse_ice),
		cmocka_unit_test(test_directions),
		cmocka_unit_test(test_hold),
		cmocka_unit_test(test_rtcp_ports),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_error_cases),
		cmocka_unit_test(test_error_offsets),
		cmocka_unit_test(test_check_errors),
		cmocka_unit_test(test_error_table),
		cmocka_unit_test(test_limit_media),
		cmocka_unit_test(test_limit_lines),
		cmocka_unit_test(test_limit_size),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_high_bytes),
		cmocka_unit_test(test_rewrite_identity),
		cmocka_unit_test(test_rewrite_g711),
		cmocka_unit_test(test_rewrite_media_level_conn),
		cmocka_unit_test(test_rewrite_promote_session_conn),
		cmocka_unit_test(test_rewrite_insert_conn),
		cmocka_unit_test(test_rewrite_ice_strip),
		cmocka_unit_test(test_rewrite_multicast_token),
		cmocka_unit_test(test_rewrite_keeps_spacing),
		cmocka_unit_test(test_rewrite_enospc),
		cmocka_unit_test(test_rewrite_einval),
		cmocka_unit_test(test_rewrite_reparses),
		cmocka_unit_test(test_regress_port0_no_conn),
		cmocka_unit_test(test_corpus_seeds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
