/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the lazy field parsers of lib/sip (fields.c), the message
 * accessors, the lookup tables (str.c), proxy sanity (sanity.c) and stateless
 * replies (reply.c). Every grammar rule gets at least one input that must be
 * refused next to the inputs it must accept: a parser that accepts everything
 * passes positive tests only.
 *
 * Inputs are string literals: the parsers take views, and a literal outlives
 * every view taken of it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sip.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static sip_str_t cs(const char *s)
{
	return (sip_str_t){ s, (uint32_t)strlen(s) };
}

static bool view_is(sip_str_t v, const char *want)
{
	size_t n = strlen(want);
	return v.len == n && (n == 0 || memcmp(v.p, want, n) == 0);
}

/* Table-driven tests name the failing input, not just a line number. */
#define CHECK(cond, ctx)                                                               \
	do {                                                                           \
		if (!(cond)) {                                                         \
			print_error("%s:%d: case \"%s\": %s\n", __FILE__, __LINE__,    \
				    (ctx), #cond);                                     \
			fail();                                                        \
		}                                                                      \
	} while (0)

#define CHECK_VIEW(v, want, ctx)                                                       \
	do {                                                                           \
		sip_str_t v_ = (v);                                                    \
		if (!view_is(v_, (want))) {                                            \
			print_error("%s:%d: case \"%s\": %s = \"%.*s\", want \"%s\"\n",  \
				    __FILE__, __LINE__, (ctx), #v, (int)v_.len,        \
				    v_.p ? v_.p : "", (want));                         \
			fail();                                                        \
		}                                                                      \
	} while (0)

static void parse_ok(struct sip_msg *m, const char *text)
{
	enum sip_err e = sip_parse(m, text, strlen(text));
	if (e != SIP_E_OK) {
		print_error("sip_parse: %s for:\n%s\n", sip_err_name(e), text);
		fail();
	}
}

/* Headers every request below shares; tests add what they are about. */
#define VIA1 "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n"
#define DIALOG_HDRS                                                                    \
	"To: Bob <sip:bob@biloxi.com>\r\n"                                             \
	"From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"                       \
	"Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n"

/* ======================================================================== */
/* sip_uri_parse                                                             */
/* ======================================================================== */

struct uri_ok_case {
	const char *in;
	enum sip_scheme scheme;
	const char *scheme_str;
	const char *user, *password, *host;
	enum sip_host_type host_type;
	bool has_port;
	uint16_t port;
	const char *params, *headers;
};

static const struct uri_ok_case uri_ok[] = {
	{ "sip:alice@atlanta.com", SIP_SCHEME_SIP, "sip", "alice", "", "atlanta.com",
	  SIP_HOST_NAME, false, 0, "", "" },
	/* password, port and a transport parameter together */
	{ "sips:bob:secret@biloxi.com:5061;transport=tls", SIP_SCHEME_SIPS, "sips", "bob",
	  "secret", "biloxi.com", SIP_HOST_NAME, true, 5061, ";transport=tls", "" },
	/* the scheme is case-insensitive (RFC 3261 19.1.4); scheme_str keeps it */
	{ "SIP:carol@chicago.com", SIP_SCHEME_SIP, "SIP", "carol", "", "chicago.com",
	  SIP_HOST_NAME, false, 0, "", "" },
	{ "SiPs:carol@chicago.com", SIP_SCHEME_SIPS, "SiPs", "carol", "", "chicago.com",
	  SIP_HOST_NAME, false, 0, "", "" },
	{ "sip:192.0.2.4", SIP_SCHEME_SIP, "sip", "", "", "192.0.2.4", SIP_HOST_IPV4, false,
	  0, "", "" },
	{ "sip:[2001:db8::1]:5060", SIP_SCHEME_SIP, "sip", "", "", "2001:db8::1",
	  SIP_HOST_IPV6, true, 5060, "", "" },
	{ "sip:u@[::1]", SIP_SCHEME_SIP, "sip", "u", "", "::1", SIP_HOST_IPV6, false, 0, "",
	  "" },
	/* port bounds: 0 and 65535 are both representable */
	{ "sip:host.example.com:0", SIP_SCHEME_SIP, "sip", "", "", "host.example.com",
	  SIP_HOST_NAME, true, 0, "", "" },
	{ "sip:host.example.com:65535", SIP_SCHEME_SIP, "sip", "", "", "host.example.com",
	  SIP_HOST_NAME, true, 65535, "", "" },
	/* valueless parameter: loose routing */
	{ "sip:proxy.example.com;lr", SIP_SCHEME_SIP, "sip", "", "", "proxy.example.com",
	  SIP_HOST_NAME, false, 0, ";lr", "" },
	{ "sip:p1.example.com;transport=udp;lr;maddr=[2001:db8::9]", SIP_SCHEME_SIP, "sip",
	  "", "", "p1.example.com", SIP_HOST_NAME, false, 0,
	  ";transport=udp;lr;maddr=[2001:db8::9]", "" },
	/* headers after '?' */
	{ "sip:alice@atlanta.com?subject=project%20x&priority=urgent", SIP_SCHEME_SIP, "sip",
	  "alice", "", "atlanta.com", SIP_HOST_NAME, false, 0, "",
	  "subject=project%20x&priority=urgent" },
	{ "sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com", SIP_SCHEME_SIP, "sip", "",
	  "", "atlanta.com", SIP_HOST_NAME, false, 0, ";method=REGISTER",
	  "to=alice%40atlanta.com" },
	/* escapes stay as received in the view */
	{ "sip:user%40x@example.com", SIP_SCHEME_SIP, "sip", "user%40x", "", "example.com",
	  SIP_HOST_NAME, false, 0, "", "" },
	/* RFC 4475 semiuri: params start after the host, not at the first ';' */
	{ "sip:user;par=u%40example.net@example.com", SIP_SCHEME_SIP, "sip",
	  "user;par=u%40example.net", "", "example.com", SIP_HOST_NAME, false, 0, "", "" },
	/* telephone-subscriber user part with a password */
	{ "sip:+1-212-555-1212:1234@gateway.com;user=phone", SIP_SCHEME_SIP, "sip",
	  "+1-212-555-1212", "1234", "gateway.com", SIP_HOST_NAME, false, 0, ";user=phone",
	  "" },
	/* password may be empty (password = *( ... )) */
	{ "sip:alice:@atlanta.com", SIP_SCHEME_SIP, "sip", "alice", "", "atlanta.com",
	  SIP_HOST_NAME, false, 0, "", "" },
	/* an absolute FQDN with its trailing dot */
	{ "sip:example.com.", SIP_SCHEME_SIP, "sip", "", "", "example.com.", SIP_HOST_NAME,
	  false, 0, "", "" },
	{ "sip:a-b.c--d.example.com", SIP_SCHEME_SIP, "sip", "", "", "a-b.c--d.example.com",
	  SIP_HOST_NAME, false, 0, "", "" },
	/* hostname labels that start with digits are names, not IPv4 */
	{ "sip:3com.example", SIP_SCHEME_SIP, "sip", "", "", "3com.example", SIP_HOST_NAME,
	  false, 0, "", "" },
	{ "sip:host;transport=tcp?x=y", SIP_SCHEME_SIP, "sip", "", "", "host", SIP_HOST_NAME,
	  false, 0, ";transport=tcp", "x=y" },
	/* tel: number in user, parameters after it */
	{ "tel:+1-201-555-0123", SIP_SCHEME_TEL, "tel", "+1-201-555-0123", "", "",
	  SIP_HOST_NAME, false, 0, "", "" },
	{ "tel:7042;phone-context=example.com", SIP_SCHEME_TEL, "tel", "7042", "", "",
	  SIP_HOST_NAME, false, 0, ";phone-context=example.com", "" },
	{ "TEL:7042", SIP_SCHEME_TEL, "TEL", "7042", "", "", SIP_HOST_NAME, false, 0, "", "" },
	/* other schemes: scheme ":" opaque, nothing else interpreted */
	{ "isbn:2983792873", SIP_SCHEME_OTHER, "isbn", "", "", "", SIP_HOST_NAME, false, 0,
	  "", "" },
	{ "http://www.example.com/a?b=c", SIP_SCHEME_OTHER, "http", "", "", "", SIP_HOST_NAME,
	  false, 0, "", "" },
	{ "x-my.scheme+1:anything", SIP_SCHEME_OTHER, "x-my.scheme+1", "", "", "",
	  SIP_HOST_NAME, false, 0, "", "" },
};

static void test_uri_accepts_rfc3261_forms(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(uri_ok); i++) {
		const struct uri_ok_case *c = &uri_ok[i];
		struct sip_uri u;
		CHECK(sip_uri_parse(cs(c->in), &u) == 0, c->in);
		CHECK(u.scheme == c->scheme, c->in);
		CHECK_VIEW(u.scheme_str, c->scheme_str, c->in);
		CHECK_VIEW(u.user, c->user, c->in);
		CHECK_VIEW(u.password, c->password, c->in);
		CHECK_VIEW(u.host, c->host, c->in);
		CHECK_VIEW(u.params, c->params, c->in);
		CHECK_VIEW(u.headers, c->headers, c->in);
		CHECK(u.has_port == c->has_port, c->in);
		CHECK(u.port == c->port, c->in);
		if (c->host[0])
			CHECK(u.host_type == c->host_type, c->in);
		/* opaque is everything after "scheme:" whatever the scheme */
		CHECK_VIEW(u.opaque, strchr(c->in, ':') + 1, c->in);
	}
}

static const char *const uri_bad[] = {
	"",
	"sip",                          /* no ':' */
	"sip:",                         /* empty host */
	"sip:@example.com",             /* empty user before '@' */
	"sip:user@",                    /* empty host after '@' */
	"sip:user@;lr",                 /* empty host before params */
	"sip:host:65536",               /* port out of range */
	"sip:host:99999",
	"sip:host:",                    /* empty port */
	"sip:host:abc",                 /* non-digit port */
	"sip:host:50a",                 /* digits then junk */
	"sip:host:-1",
	"sip:user%4@example.com",       /* truncated escape */
	"sip:user%zz@example.com",      /* non-hex escape */
	"sip:user%@example.com",
	"sip:user@example.com;p=%4",    /* bad escape in a param is still an escape */
	"sip:host?x=%zz",               /* bad escape in headers */
	"sip:host?",                    /* '?' without headers */
	"sip:user @example.com",        /* whitespace anywhere inside */
	"sip:user@exa mple.com",
	"sip:user@example.com ;lr",
	"sip:user@example.com\t",
	"sip:user@example.com\r\n",
	"sip:a\x7f@example.com",        /* DEL */
	"sip:h\xc3\xa9llo.example.com", /* raw 8-bit */
	"sip:1.2.3.999",                /* digits and dots must be a real IPv4 */
	"sip:1.2.3",
	"sip:1.2.3.4.5",
	"sip:[2001:db8::g]",            /* bad IPv6 */
	"sip:[2001:db8:::1]",
	"sip:[::1",                     /* unterminated bracket */
	"sip:[]",
	"sip:[1.2.3.4]",                /* IPv4 is not an IPv6reference */
	"sip:[::1]x",                   /* junk after the bracket */
	"sip:::1",                      /* IPv6 needs brackets */
	"sip:-host.example.com",        /* label starts with '-' */
	"sip:host.example.com-",
	"sip:.example.com",
	"sip:host-.example.com",        /* '-' at the end of an inner label */
	"sip:a.-b.example.com",         /* ... at the start of one */
	"sip:a..b.example.com",         /* empty label */
	"sip:example.com..",
	"sip:user@host-",
	"sip:exa_mple.com",             /* '_' is not a host char */
	"sip:a#b@example.com",          /* '#' is not a user char */
	"sip:a<b@example.com",
	"sip:user:pa:ss@example.com",   /* ':' is not a password char */
	"sip:user:pa;ss@example.com",   /* nor ';' */
	"sip:user@host@example.com",    /* raw '@' in the user part */
	"sip:user@example.com;;lr",     /* empty URI parameter */
	"sip:user@example.com;",
	"sip:user@example.com;=x",
	"sip:user@example.com;a=",
	"sip:user@example.com/path",    /* junk after host */
	"1sip:host",                    /* scheme must start with ALPHA */
	"+sip:host",
	":host",
	"s_p:host",                     /* '_' is not a scheme char */
	"si p:host",
	"mailto:",                      /* other scheme needs something after ':' */
	"tel:",                         /* tel needs a number */
	"tel:;phone-context=x",
	"tel:123;;x",
	"isbn:29 83",                   /* whitespace is refused for any scheme */
};

static void test_uri_rejects_malformed(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(uri_bad); i++) {
		struct sip_uri u;
		CHECK(sip_uri_parse(cs(uri_bad[i]), &u) < 0, uri_bad[i]);
	}
}

/* A view is not a C string: parsing must stop at len, not at NUL. */
static void test_uri_respects_view_length(void **state)
{
	(void)state;
	struct sip_uri u;
	const char buf[] = "sip:alice@atlanta.com:5060JUNK";
	assert_int_equal(sip_uri_parse((sip_str_t){ buf, 26 }, &u), 0);
	assert_int_equal(u.port, 5060);
	assert_true(view_is(u.host, "atlanta.com"));
	const char nul[] = "sip:a@b\0c";
	assert_true(sip_uri_parse((sip_str_t){ nul, sizeof(nul) - 1 }, &u) < 0);
}

/* ======================================================================== */
/* sip_unescape                                                              */
/* ======================================================================== */

struct unescape_case {
	const char *in;
	const char *out;
	int len; /* expected return (may count NUL bytes) */
};

static const struct unescape_case unescape_ok[] = {
	{ "alice", "alice", 5 },
	{ "", "", 0 },
	{ "%61lice", "alice", 5 },
	{ "%4A%4a", "JJ", 2 },             /* hex digits in either case */
	{ "a%00b", "a\0b", 3 },            /* NUL kept and counted (RFC 4475 escnull) */
	{ "%00%00", "\0\0", 2 },
	{ "u%40example.net", "u@example.net", 13 },
	{ "%25%34%31", "%41", 3 },         /* one level only: "%41" stays literal */
	{ "%ff", "\xff", 1 },
};

static void test_unescape_decodes_and_keeps_nul(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(unescape_ok); i++) {
		const struct unescape_case *c = &unescape_ok[i];
		char out[32];
		memset(out, 'X', sizeof(out));
		int n = sip_unescape(cs(c->in), out, sizeof(out));
		CHECK(n == c->len, c->in);
		CHECK(memcmp(out, c->out, (size_t)c->len) == 0, c->in);
	}
}

static const char *const unescape_bad[] = { "%", "%4", "a%", "a%4", "%zz", "%4g", "%g4",
					    "ab%-1" };

static void test_unescape_rejects_bad_escapes(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(unescape_bad); i++) {
		char out[32];
		CHECK(sip_unescape(cs(unescape_bad[i]), out, sizeof(out)) == -EINVAL,
		      unescape_bad[i]);
	}
}

static void test_unescape_overflow_is_enospc(void **state)
{
	(void)state;
	char out[8];
	assert_int_equal(sip_unescape(SIP_STR("abcd"), out, 4), 4); /* exact fit */
	assert_int_equal(sip_unescape(SIP_STR("abcd"), out, 3), -ENOSPC);
	/* the cap counts decoded bytes, not input bytes */
	assert_int_equal(sip_unescape(SIP_STR("%41%42"), out, 2), 2);
	assert_int_equal(sip_unescape(SIP_STR("%41%42"), out, 1), -ENOSPC);
	assert_int_equal(sip_unescape(SIP_STR("a"), NULL, 0), -ENOSPC);
	assert_int_equal(sip_unescape(SIP_STR(""), NULL, 0), 0);
}

/* ======================================================================== */
/* sip_nameaddr_parse                                                        */
/* ======================================================================== */

struct na_case {
	const char *in;
	const char *display, *uri;
	bool angle;
	const char *params, *tag;
};

static const struct na_case na_ok[] = {
	/* RFC 4475 esc01-style quoted display: escaped backslash, escaped quote */
	{ "\"J Rosenberg \\\\\\\"\" <sip:jdrosen@example.com>;tag=gja1",
	  "J Rosenberg \\\\\\\"", "sip:jdrosen@example.com", true, ";tag=gja1", "gja1" },
	{ "Bob <sip:bob@biloxi.com>", "Bob", "sip:bob@biloxi.com", true, "", "" },
	{ "Bob Smith <sip:bob@biloxi.com>;tag=a6c85cf", "Bob Smith", "sip:bob@biloxi.com",
	  true, ";tag=a6c85cf", "a6c85cf" },
	/* RFC 4475 lwsdisp: no LWS between a token display name and '<' */
	{ "caller<sip:caller@example.com>;tag=323", "caller", "sip:caller@example.com", true,
	  ";tag=323", "323" },
	{ "\"caller\"<sip:caller@example.com>", "caller", "sip:caller@example.com", true, "",
	  "" },
	{ "<sip:a@example.com>", "", "sip:a@example.com", true, "", "" },
	{ "\"\" <sip:a@example.com>", "", "sip:a@example.com", true, "", "" },
	/* specials are fine inside a quoted display */
	{ "\"a,b<c>;d\" <sip:a@example.com>", "a,b<c>;d", "sip:a@example.com", true, "", "" },
	/* addr-spec: ';' starts header params, so tag is a header param (20.10) */
	{ "sip:alice@atlanta.com;tag=88sja8x", "", "sip:alice@atlanta.com", false,
	  ";tag=88sja8x", "88sja8x" },
	{ "sip:alice@atlanta.com", "", "sip:alice@atlanta.com", false, "", "" },
	{ "sip:alice@atlanta.com ;tag=1", "", "sip:alice@atlanta.com", false, ";tag=1", "1" },
	/* URI params inside <> belong to the URI, not to the header */
	{ "<sip:p1.example.com;lr>;tag=1", "", "sip:p1.example.com;lr", true, ";tag=1", "1" },
	{ "<sip:a@example.com?subject=x>", "", "sip:a@example.com?subject=x", true, "", "" },
	/* LWS around ';' and '=', folded continuation lines, outer LWS */
	{ "<sip:a@example.com> ; tag = 12 ; x", "", "sip:a@example.com", true,
	  "; tag = 12 ; x", "12" },
	{ "<sip:a@example.com>\r\n ;tag=1\r\n\t;x=y", "", "sip:a@example.com", true,
	  ";tag=1\r\n\t;x=y", "1" },
	{ "  \"A\"\r\n <sip:a@example.com>  ", "A", "sip:a@example.com", true, "", "" },
	/* parameter names are case-insensitive; the tag value is kept as is */
	{ "<sip:a@example.com>;TAG=xY", "", "sip:a@example.com", true, ";TAG=xY", "xY" },
	{ "<sip:a@example.com>;x=\"a;b,c\";tag=9", "", "sip:a@example.com", true,
	  ";x=\"a;b,c\";tag=9", "9" },
	/* any absoluteURI is a name-addr URI */
	{ "<isbn:2983792873>", "", "isbn:2983792873", true, "", "" },
	{ "\"Web\" <http://www.example.com/a?b=c>;purpose=info", "Web",
	  "http://www.example.com/a?b=c", true, ";purpose=info", "" },
	{ "<tel:+1-201-555-0123>;tag=t", "", "tel:+1-201-555-0123", true, ";tag=t", "t" },
};

static void test_nameaddr_accepts_valid_forms(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(na_ok); i++) {
		const struct na_case *c = &na_ok[i];
		struct sip_nameaddr na;
		CHECK(sip_nameaddr_parse(cs(c->in), &na) == 0, c->in);
		CHECK_VIEW(na.display, c->display, c->in);
		CHECK_VIEW(na.uri, c->uri, c->in);
		CHECK(na.angle == c->angle, c->in);
		CHECK_VIEW(na.params, c->params, c->in);
		CHECK_VIEW(na.tag, c->tag, c->in);
		CHECK(!na.star, c->in);
	}
}

static void test_nameaddr_star(void **state)
{
	(void)state;
	struct sip_nameaddr na;
	assert_int_equal(sip_nameaddr_parse(SIP_STR("*"), &na), 0);
	assert_true(na.star);
	assert_int_equal(sip_nameaddr_parse(SIP_STR("  *  "), &na), 0);
	assert_true(na.star);
	/* '*' is all or nothing */
	assert_true(sip_nameaddr_parse(SIP_STR("*;expires=0"), &na) < 0);
	assert_true(sip_nameaddr_parse(SIP_STR("**"), &na) < 0);
	assert_true(sip_nameaddr_parse(SIP_STR("<*>"), &na) < 0);
}

static const char *const na_bad[] = {
	"",
	"   ",
	"\"unterminated <sip:a@example.com>",          /* RFC 4475 quotbal */
	"\"ends in escape\\",
	"Bell, Alexander <sip:a.g.bell@bell-tel.com>", /* RFC 4475 baddn: ',' unquoted */
	"Bob \"x\" <sip:a@example.com>",               /* quote inside a token display */
	"Bob@home <sip:a@example.com>",                /* '@' is not a token char */
	"< sip:x@example.com >",                       /* RFC 4475 badaspec */
	"<sip:x@example.com >",
	"< sip:x@example.com>",
	"sip:x@example.com?subject=a",                 /* addr-spec with '?' needs <> */
	"sip:x@example.com,y",                         /* ... and so does ',' */
	"<sip:x@example.com",                          /* missing '>' */
	"<sip:x@example.com>;;tag=1",                  /* empty parameter */
	"<sip:x@example.com>;tag=1;",
	"<sip:x@example.com>;tag=",                    /* empty value */
	"<sip:x@example.com>;tag=\"open",
	"<sip:x@example.com>;=1",
	"<sip:x@example.com>junk",                     /* junk after '>' */
	"<sip:x@example.com> <sip:y@example.com>",
	"sip:x@example.com junk",                      /* junk after an addr-spec */
	"\"x\" sip:x@example.com",                     /* quoted display needs <> */
	"\"x\"",
	"<>",
	"<sip:>",
	"<sip:x@1.2.3.999>",                           /* URI errors propagate */
	"just-a-token",
};

static void test_nameaddr_rejects_malformed(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(na_bad); i++) {
		struct sip_nameaddr na;
		CHECK(sip_nameaddr_parse(cs(na_bad[i]), &na) < 0, na_bad[i]);
	}
}

/* ======================================================================== */
/* Via                                                                       */
/* ======================================================================== */

struct via_case {
	const char *in;
	const char *transport, *host;
	enum sip_host_type host_type;
	uint16_t port;
	const char *params, *branch, *received, *maddr;
	bool has_rport;
	uint16_t rport;
	uint8_t ttl;
};

static const struct via_case via_ok[] = {
	{ "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds", "UDP", "pc33.atlanta.com",
	  SIP_HOST_NAME, 0, ";branch=z9hG4bK776asdhds", "z9hG4bK776asdhds", "", "", false, 0,
	  0 },
	/* RFC 4475 wsinv: LWS around every '/' */
	{ "SIP  /   2.0 / UDP host.example.com:5060;branch=z9hG4bKx", "UDP",
	  "host.example.com", SIP_HOST_NAME, 5060, ";branch=z9hG4bKx", "z9hG4bKx", "", "",
	  false, 0, 0 },
	{ "SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK1;received=192.0.2.2;rport=5070", "TCP",
	  "192.0.2.1", SIP_HOST_IPV4, 5060, ";branch=z9hG4bK1;received=192.0.2.2;rport=5070",
	  "z9hG4bK1", "192.0.2.2", "", true, 5070, 0 },
	{ "SIP/2.0/TLS [::1]:5061;branch=z9hG4bK2", "TLS", "::1", SIP_HOST_IPV6, 5061,
	  ";branch=z9hG4bK2", "z9hG4bK2", "", "", false, 0, 0 },
	{ "SIP/2.0/TLS [2001:db8::1];branch=z9hG4bK2", "TLS", "2001:db8::1", SIP_HOST_IPV6, 0,
	  ";branch=z9hG4bK2", "z9hG4bK2", "", "", false, 0, 0 },
	/* RFC 3581 rport without a value: a request for the source port */
	{ "SIP/2.0/SCTP h.example.com;branch=z9hG4bK3;rport", "SCTP", "h.example.com",
	  SIP_HOST_NAME, 0, ";branch=z9hG4bK3;rport", "z9hG4bK3", "", "", true, 0, 0 },
	{ "SIP/2.0/WS h.example.com;branch=z9hG4bK4;maddr=224.2.0.1;ttl=16", "WS",
	  "h.example.com", SIP_HOST_NAME, 0, ";branch=z9hG4bK4;maddr=224.2.0.1;ttl=16",
	  "z9hG4bK4", "", "224.2.0.1", false, 0, 16 },
	/* bounds: ttl 255, rport 65535 */
	{ "SIP/2.0/UDP h;ttl=255;rport=65535", "UDP", "h", SIP_HOST_NAME, 0,
	  ";ttl=255;rport=65535", "", "", "", true, 65535, 255 },
	/* RFC 4475 transports: any token is a transport; no branch is legal (2543) */
	{ "SIP/2.0/UNKNOWN t.example.com", "UNKNOWN", "t.example.com", SIP_HOST_NAME, 0, "",
	  "", "", "", false, 0, 0 },
	/* LWS around ':' ';' '=' (COLON, SEMI, EQUAL all allow SWS) */
	{ "SIP/2.0/UDP h.example.com : 5060 ; branch = z9hG4bK5", "UDP", "h.example.com",
	  SIP_HOST_NAME, 5060, "; branch = z9hG4bK5", "z9hG4bK5", "", "", false, 0, 0 },
	/* folded continuation lines inside one value */
	{ "SIP/2.0/UDP\r\n h.example.com\r\n\t;branch=z9hG4bK6", "UDP", "h.example.com",
	  SIP_HOST_NAME, 0, ";branch=z9hG4bK6", "z9hG4bK6", "", "", false, 0, 0 },
	/* parameter names are case-insensitive */
	{ "SIP/2.0/UDP h;BRANCH=z9hG4bK7;Received=10.0.0.1", "UDP", "h", SIP_HOST_NAME, 0,
	  ";BRANCH=z9hG4bK7;Received=10.0.0.1", "z9hG4bK7", "10.0.0.1", "", false, 0, 0 },
	{ "sip/2.0/udp h", "udp", "h", SIP_HOST_NAME, 0, "", "", "", "", false, 0, 0 },
	/* unknown parameters, incl. quoted values, are carried along */
	{ "SIP/2.0/UDP h;x=\"a;b\";branch=z9hG4bK8", "UDP", "h", SIP_HOST_NAME, 0,
	  ";x=\"a;b\";branch=z9hG4bK8", "z9hG4bK8", "", "", false, 0, 0 },
};

static void test_via_parse_accepts_valid(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(via_ok); i++) {
		const struct via_case *c = &via_ok[i];
		struct sip_via v;
		CHECK(sip_via_parse(cs(c->in), &v) == 0, c->in);
		CHECK_VIEW(v.proto, c->in[0] == 's' ? "sip" : "SIP", c->in);
		CHECK_VIEW(v.version, "2.0", c->in);
		CHECK_VIEW(v.transport, c->transport, c->in);
		CHECK_VIEW(v.host, c->host, c->in);
		CHECK(v.host_type == c->host_type, c->in);
		CHECK(v.port == c->port, c->in);
		CHECK_VIEW(v.params, c->params, c->in);
		CHECK_VIEW(v.branch, c->branch, c->in);
		CHECK_VIEW(v.received, c->received, c->in);
		CHECK_VIEW(v.maddr, c->maddr, c->in);
		CHECK(v.has_rport == c->has_rport, c->in);
		CHECK(v.rport == c->rport, c->in);
		CHECK(v.ttl == c->ttl, c->in);
		CHECK_VIEW(v.value, c->in, c->in);
	}
}

static const char *const via_bad[] = {
	"",
	"SIP/2.0/UDP",                           /* no sent-by */
	"SIP/2.0/UDP ",
	"SIP/2.0 host.example.com",              /* missing transport */
	"SIP/2.0/ host.example.com;branch=z9hG4bK1",
	"SIP/2.0/UDPhost.example.com",           /* no LWS before sent-by */
	"SIP/2.0/UDP;branch=z9hG4bK1",
	"/2.0/UDP host",                         /* empty protocol name */
	"SIP//UDP host",                         /* empty version */
	"SIP 2.0 UDP host",                      /* no slashes */
	"SIP/2.0/UDP host;branch=",              /* empty branch */
	"SIP/2.0/UDP host;branch",               /* branch without a value */
	"SIP/2.0/UDP host;;branch=z9hG4bK1",     /* RFC 4475 badinv01 */
	"SIP/2.0/UDP host;branch=z9hG4bK1;",
	"SIP/2.0/UDP host;rport=70000",          /* > 65535 */
	"SIP/2.0/UDP host;rport=abc",
	"SIP/2.0/UDP host;ttl=256",              /* ttl is 1*3DIGIT 0-255 */
	"SIP/2.0/UDP host;ttl=",
	"SIP/2.0/UDP host;ttl",
	"SIP/2.0/UDP host;ttl=-1",
	"SIP/2.0/UDP 1.2.3.999",                 /* bad IPv4 */
	"SIP/2.0/UDP [::1",                      /* bad IPv6 reference */
	"SIP/2.0/UDP [::g]:5060",
	"SIP/2.0/UDP ::1",
	"SIP/2.0/UDP host:65536",
	"SIP/2.0/UDP host:",
	"SIP/2.0/UDP host:50x",
	"SIP/2.0/UDP host junk",                 /* junk after sent-by */
	"SIP/2.0/UDP host;branch=a b",
	"SIP/2.0/UDP -host",
	"SIP/2.0/UDP host, SIP/2.0/UDP h2",      /* one value only: ',' is the list's */
};

static void test_via_parse_rejects_malformed(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(via_bad); i++) {
		struct sip_via v;
		CHECK(sip_via_parse(cs(via_bad[i]), &v) < 0, via_bad[i]);
	}
}

/* Via values come in message order: top line first, left to right in a
 * line, across compact and folded lines. */
static void test_via_iter_order_across_lines(void **state)
{
	(void)state;
	static const char msg[] =
		"INVITE sip:bob@biloxi.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1 , SIP/2.0/TCP b.example.com:5070;branch=z9hG4bK2\r\n"
		DIALOG_HDRS
		"v: SIP/2.0/UDP c.example.com;branch=z9hG4bK3\r\n"
		"Via: SIP/2.0/UDP d.example.com\r\n"
		"   ;branch=z9hG4bK4,\r\n"
		" SIP/2.0/UDP [::1]:5062;branch=z9hG4bK5\r\n"
		"CSeq: 1 INVITE\r\n"
		"\r\n";
	static const struct { const char *host, *branch, *transport; uint16_t port; } want[] = {
		{ "a.example.com", "z9hG4bK1", "UDP", 0 },
		{ "b.example.com", "z9hG4bK2", "TCP", 5070 },
		{ "c.example.com", "z9hG4bK3", "UDP", 0 },
		{ "d.example.com", "z9hG4bK4", "UDP", 0 },
		{ "::1", "z9hG4bK5", "UDP", 5062 },
	};
	struct sip_msg m;
	struct sip_via_iter it;
	struct sip_via v;
	parse_ok(&m, msg);
	sip_via_init(&it, &m);
	for (size_t i = 0; i < N_ELEMS(want); i++) {
		CHECK(sip_via_next(&it, &v) == 1, want[i].host);
		CHECK_VIEW(v.host, want[i].host, want[i].host);
		CHECK_VIEW(v.branch, want[i].branch, want[i].host);
		CHECK_VIEW(v.transport, want[i].transport, want[i].host);
		CHECK(v.port == want[i].port, want[i].host);
	}
	assert_int_equal(sip_via_next(&it, &v), 0);
	assert_int_equal(sip_via_next(&it, &v), 0); /* stays at the end */

	assert_int_equal(sip_msg_top_via(&m, &v), 1);
	assert_true(view_is(v.host, "a.example.com"));
	assert_int_equal(sip_check(&m), SIP_E_OK);
}

static void test_via_iter_rejects_empty_values(void **state)
{
	(void)state;
	static const char *const msgs[] = {
		/* ",," between values (RFC 4475 badinv01) */
		"OPTIONS sip:b@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1,,SIP/2.0/UDP b.example.com\r\n"
		DIALOG_HDRS "CSeq: 1 OPTIONS\r\n\r\n",
		/* trailing ',' */
		"OPTIONS sip:b@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1,\r\n"
		DIALOG_HDRS "CSeq: 1 OPTIONS\r\n\r\n",
		/* a malformed second value */
		"OPTIONS sip:b@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n"
		"Via: SIP/2.0/UDP b.example.com;;branch=z9hG4bK2\r\n"
		DIALOG_HDRS "CSeq: 1 OPTIONS\r\n\r\n",
	};
	for (size_t i = 0; i < N_ELEMS(msgs); i++) {
		struct sip_msg m;
		struct sip_via_iter it;
		struct sip_via v;
		parse_ok(&m, msgs[i]);
		sip_via_init(&it, &m);
		CHECK(sip_via_next(&it, &v) == 1, msgs[i]);
		CHECK(view_is(v.host, "a.example.com"), msgs[i]);
		CHECK(sip_via_next(&it, &v) < 0, msgs[i]);
		CHECK(sip_check(&m) == SIP_E_BAD_VIA, msgs[i]);
	}
}

static void test_via_iter_without_via(void **state)
{
	(void)state;
	struct sip_msg m;
	struct sip_via v;
	parse_ok(&m, "OPTIONS sip:b@example.com SIP/2.0\r\n" DIALOG_HDRS "\r\n");
	assert_int_equal(sip_msg_top_via(&m, &v), 0);
}

static void test_branch_is_3261(void **state)
{
	(void)state;
	static const struct { const char *b; bool want; } cases[] = {
		{ "z9hG4bK776asdhds", true },
		{ "z9hG4bKx", true },
		{ "z9hG4bK", false },   /* the cookie alone carries no identifier */
		{ "", false },
		{ "z9hg4bKx", false },  /* the cookie is case-sensitive */
		{ "Z9HG4BKx", false },
		{ "xz9hG4bK1", false },
		{ "z9hG4b", false },
		{ "1234", false },
	};
	for (size_t i = 0; i < N_ELEMS(cases); i++)
		CHECK(sip_branch_is_3261(cs(cases[i].b)) == cases[i].want, cases[i].b);
}

/* ======================================================================== */
/* sip_list_next                                                             */
/* ======================================================================== */

static void test_list_spans_lines_and_honours_quotes_and_angles(void **state)
{
	(void)state;
	static const char msg[] =
		"INVITE sip:bob@biloxi.com SIP/2.0\r\n" VIA1 DIALOG_HDRS
		"Route: <sip:a@x.example.com;lr>, <sip:b@y.example.com;lr>\r\n"
		"CSeq: 1 INVITE\r\n"
		"Route: \"q,uoted <x>\" <sip:c@z.example.com>\r\n"
		"Route:\r\n"
		"Route: <sip:d,e@w.example.com;x=\"a,b\">  ,\r\n"
		"  <sip:f@v.example.com>\r\n"
		"\r\n";
	static const char *const want[] = {
		"<sip:a@x.example.com;lr>",
		"<sip:b@y.example.com;lr>",
		"\"q,uoted <x>\" <sip:c@z.example.com>",
		"<sip:d,e@w.example.com;x=\"a,b\">",
		"<sip:f@v.example.com>",
	};
	struct sip_msg m;
	struct sip_list_iter it;
	sip_str_t v;
	parse_ok(&m, msg);
	sip_list_init(&it, &m, SIP_H_ROUTE);
	for (size_t i = 0; i < N_ELEMS(want); i++) {
		CHECK(sip_list_next(&it, &v) == 1, want[i]);
		CHECK_VIEW(v, want[i], want[i]);
	}
	assert_int_equal(sip_list_next(&it, &v), 0);
}

static void test_list_absent_header_is_empty(void **state)
{
	(void)state;
	struct sip_msg m;
	struct sip_list_iter it;
	sip_str_t v;
	parse_ok(&m, "INVITE sip:bob@biloxi.com SIP/2.0\r\n" VIA1 DIALOG_HDRS "Route:\r\n\r\n");
	sip_list_init(&it, &m, SIP_H_RECORD_ROUTE);
	assert_int_equal(sip_list_next(&it, &v), 0);
	sip_list_init(&it, &m, SIP_H_ROUTE); /* present but empty: no element */
	assert_int_equal(sip_list_next(&it, &v), 0);
}

static void test_list_rejects_empty_elements(void **state)
{
	(void)state;
	static const struct { const char *msg; int good; } cases[] = {
		{ "OPTIONS sip:b@example.com SIP/2.0\r\nRoute: <sip:a@x>,\r\n\r\n", 1 },
		{ "OPTIONS sip:b@example.com SIP/2.0\r\nRoute: ,<sip:a@x>\r\n\r\n", 0 },
		{ "OPTIONS sip:b@example.com SIP/2.0\r\nRoute: <sip:a@x>,,<sip:b@y>\r\n\r\n", 1 },
		{ "OPTIONS sip:b@example.com SIP/2.0\r\nRoute: <sip:a@x>, ,<sip:b@y>\r\n\r\n", 1 },
		{ "OPTIONS sip:b@example.com SIP/2.0\r\nRoute: <sip:a@x>\r\nRoute: ,\r\n\r\n", 1 },
		/* an unterminated quote swallows the rest: malformed, not one element */
		{ "OPTIONS sip:b@example.com SIP/2.0\r\nRoute: \"x <sip:a@x>, <sip:b@y>\r\n\r\n", 0 },
	};
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct sip_msg m;
		struct sip_list_iter it;
		sip_str_t v;
		parse_ok(&m, cases[i].msg);
		sip_list_init(&it, &m, SIP_H_ROUTE);
		for (int k = 0; k < cases[i].good; k++)
			CHECK(sip_list_next(&it, &v) == 1, cases[i].msg);
		CHECK(sip_list_next(&it, &v) < 0, cases[i].msg);
	}
}

/* ======================================================================== */
/* parameters                                                                */
/* ======================================================================== */

struct param_get_case {
	const char *params, *name;
	int ret;
	const char *value;
};

static const struct param_get_case param_get_cases[] = {
	{ ";a=1;b=2", "b", 1, "2" },
	{ ";a=1;b=2", "a", 1, "1" },
	{ ";A=1", "a", 1, "1" },               /* names are case-insensitive */
	{ ";a=1", "A", 1, "1" },
	{ ";lr", "lr", 1, "" },                /* valueless: present, empty value */
	{ ";lr;x=1", "lr", 1, "" },
	{ ";x=\"a;b\";y=2", "y", 1, "2" },     /* ';' inside quotes does not split */
	{ ";x=\"a;b\";y=2", "x", 1, "\"a;b\"" },
	{ ";x=\"q\\\"uote\"", "x", 1, "\"q\\\"uote\"" },
	{ ";a=1", "b", 0, "" },
	{ "", "a", 0, "" },
	{ "   ", "a", 0, "" },
	{ ";ab=1", "a", 0, "" },               /* no prefix matches */
	{ ";a=1", "ab", 0, "" },
	{ " ; a = 1 ", "a", 1, "1" },          /* LWS around ';' and '=' */
	{ ";a=1\r\n ;b=2", "b", 1, "2" },      /* folded */
	{ ";maddr=[2001:db8::1]", "maddr", 1, "[2001:db8::1]" },
	/* malformed before the name is reached */
	{ ";;a=1", "a", -1, "" },
	{ ";a=;b=1", "b", -1, "" },
	{ "a=1", "a", -1, "" },                /* must start at ';' */
	{ ";a=1 junk", "b", -1, "" },
	{ ";a=\"open", "b", -1, "" },
	{ ";=1", "a", -1, "" },
	{ ";a=1;", "b", -1, "" },
	{ ";a b", "b", -1, "" },
	{ ";a=b\"c\"", "z", -1, "" },          /* a quote is not a token char */
};

static void test_param_get(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(param_get_cases); i++) {
		const struct param_get_case *c = &param_get_cases[i];
		sip_str_t v = SIP_STR("untouched");
		int r = sip_param_get(cs(c->params), c->name, &v);
		if (c->ret < 0) {
			CHECK(r < 0, c->params);
			continue;
		}
		CHECK(r == c->ret, c->params);
		if (r == 1)
			CHECK_VIEW(v, c->value, c->params);
	}
	/* value may be NULL when only presence matters */
	assert_int_equal(sip_param_get(SIP_STR(";lr"), "lr", NULL), 1);
}

static void test_param_next_iterates_all(void **state)
{
	(void)state;
	static const char p[] = ";a=1; lr ;b=\"x y;z\"\r\n\t;C=tok.en";
	static const struct { const char *n, *v; } want[] = {
		{ "a", "1" }, { "lr", "" }, { "b", "\"x y;z\"" }, { "C", "tok.en" },
	};
	uint32_t pos = 0;
	sip_str_t n, v;
	for (size_t i = 0; i < N_ELEMS(want); i++) {
		CHECK(sip_param_next(cs(p), &pos, &n, &v) == 1, want[i].n);
		CHECK_VIEW(n, want[i].n, want[i].n);
		CHECK_VIEW(v, want[i].v, want[i].n);
	}
	assert_int_equal(sip_param_next(cs(p), &pos, &n, &v), 0);
	assert_int_equal(sip_param_next(cs(p), &pos, &n, &v), 0);
}

static void test_param_next_reports_malformed(void **state)
{
	(void)state;
	static const struct { const char *p; int good; } cases[] = {
		{ ";a=1;;b=2", 1 },
		{ ";a=1;", 1 },
		{ ";a=1;b=", 1 },
		{ ";a=1 x", 0 },
		{ ";a=\"x", 0 },
		{ "x", 0 },
		{ ";", 0 },
		{ "; =1", 0 },
		{ ";a=1;b=2,c=3", 1 },  /* ',' ends a list element, never a value */
	};
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		uint32_t pos = 0;
		sip_str_t n, v;
		for (int k = 0; k < cases[i].good; k++)
			CHECK(sip_param_next(cs(cases[i].p), &pos, &n, &v) == 1, cases[i].p);
		CHECK(sip_param_next(cs(cases[i].p), &pos, &n, &v) < 0, cases[i].p);
	}
}

/* ======================================================================== */
/* CSeq, RAck, Contact, Event, Content-Type, numbers                         */
/* ======================================================================== */

static void test_cseq_accepts(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		uint32_t seq;
		enum sip_method method;
		const char *name;
	} cases[] = {
		{ "4711 INVITE", 4711, SIP_M_INVITE, "INVITE" },
		{ "0009 INVITE", 9, SIP_M_INVITE, "INVITE" },     /* RFC 4475 wsinv */
		{ "0 ACK", 0, SIP_M_ACK, "ACK" },
		{ "4294967295 BYE", 4294967295u, SIP_M_BYE, "BYE" },
		{ "1   CANCEL", 1, SIP_M_CANCEL, "CANCEL" },
		{ "1\tINFO", 1, SIP_M_INFO, "INFO" },
		{ "1 \r\n INVITE", 1, SIP_M_INVITE, "INVITE" },  /* folded */
		{ "  5 OPTIONS  ", 5, SIP_M_OPTIONS, "OPTIONS" },
		{ "8 NEWMETHOD", 8, SIP_M_UNKNOWN, "NEWMETHOD" }, /* extension method */
		{ "8 invite", 8, SIP_M_UNKNOWN, "invite" },       /* methods are case-sensitive */
		{ "3 !interesting-Method0123456789_*+`.%indeed'~", 3, SIP_M_UNKNOWN,
		  "!interesting-Method0123456789_*+`.%indeed'~" },
	};
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct sip_cseq c;
		CHECK(sip_cseq_parse(cs(cases[i].in), &c) == 0, cases[i].in);
		CHECK(c.seq == cases[i].seq, cases[i].in);
		CHECK(c.method == cases[i].method, cases[i].in);
		CHECK_VIEW(c.method_name, cases[i].name, cases[i].in);
	}
}

static const char *const cseq_bad[] = {
	"",
	"4294967296 INVITE",          /* > 2^32-1 (RFC 4475 scalar02) */
	"99999999999999999999 INVITE",
	"1",                          /* missing method */
	"1 ",
	"INVITE",                     /* missing number */
	"INVITE 1",
	"1INVITE",                    /* no LWS between */
	"-1 INVITE",
	"+1 INVITE",
	"1.5 INVITE",
	"0x10 INVITE",
	"1 INVITE x",                 /* trailing garbage */
	"1 INVITE;x",
	"1 INV@ITE",
	"1 INVITE BYE",
};

static void test_cseq_rejects(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(cseq_bad); i++) {
		struct sip_cseq c;
		CHECK(sip_cseq_parse(cs(cseq_bad[i]), &c) < 0, cseq_bad[i]);
	}
}

static void test_rack(void **state)
{
	(void)state;
	struct sip_rack r;
	assert_int_equal(sip_rack_parse(SIP_STR("776656 1 INVITE"), &r), 0);
	assert_int_equal(r.rseq, 776656);
	assert_int_equal(r.cseq, 1);
	assert_int_equal(r.method, SIP_M_INVITE);
	assert_true(view_is(r.method_name, "INVITE"));

	assert_int_equal(sip_rack_parse(SIP_STR("  0001 \r\n 4294967295\tFOO  "), &r), 0);
	assert_int_equal(r.rseq, 1);
	assert_int_equal(r.cseq, 4294967295u);
	assert_int_equal(r.method, SIP_M_UNKNOWN);
	assert_true(view_is(r.method_name, "FOO"));

	static const char *const bad[] = {
		"", "776656", "776656 1", "776656 1 ", "776656 INVITE", "a 1 INVITE",
		"1 b INVITE", "1 2 INVITE x", "4294967296 1 INVITE", "1 4294967296 INVITE",
		"1,2 INVITE", "1 2INVITE", "-1 2 INVITE",
	};
	for (size_t i = 0; i < N_ELEMS(bad); i++)
		CHECK(sip_rack_parse(cs(bad[i]), &r) < 0, bad[i]);
}

static void test_contact_accepts(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		bool has_expires;
		uint32_t expires;
		const char *q, *uri;
		bool star;
	} cases[] = {
		{ "<sip:a@example.com>;expires=3600;q=0.7", true, 3600, "0.7",
		  "sip:a@example.com", false },
		{ "<sip:a@example.com>", false, 0, "", "sip:a@example.com", false },
		{ "\"A\" <sip:a@example.com>;q=1.0;EXPIRES=0", true, 0, "1.0",
		  "sip:a@example.com", false },
		{ "sip:a@example.com;expires=60", true, 60, "", "sip:a@example.com", false },
		/* huge delta-seconds saturate rather than fail (RFC 4475 scalar02) */
		{ "<sip:a@example.com>;expires=280297596632815", true, UINT32_MAX, "",
		  "sip:a@example.com", false },
		{ "<sip:a@example.com>;expires=4294967295", true, UINT32_MAX, "",
		  "sip:a@example.com", false },
		/* expires inside the URI is a URI parameter, not the contact's */
		{ "<sip:a@example.com;expires=5>", false, 0, "", "sip:a@example.com;expires=5",
		  false },
		{ "<sip:a@example.com>;q=0", false, 0, "0", "sip:a@example.com", false },
		{ "<sip:a@example.com>;q=0.123", false, 0, "0.123", "sip:a@example.com", false },
		{ "<sip:a@example.com>;q=1", false, 0, "1", "sip:a@example.com", false },
		{ "<sip:a@example.com>;q=1.000", false, 0, "1.000", "sip:a@example.com", false },
		{ "*", false, 0, "", "", true },
	};
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct sip_contact c;
		CHECK(sip_contact_parse(cs(cases[i].in), &c) == 0, cases[i].in);
		CHECK(c.has_expires == cases[i].has_expires, cases[i].in);
		CHECK(c.expires == cases[i].expires, cases[i].in);
		CHECK_VIEW(c.q, cases[i].q, cases[i].in);
		CHECK_VIEW(c.na.uri, cases[i].uri, cases[i].in);
		CHECK(c.na.star == cases[i].star, cases[i].in);
	}
}

static const char *const contact_bad[] = {
	"<sip:a@example.com>;expires=abc",
	"<sip:a@example.com>;expires=",
	"<sip:a@example.com>;expires",
	"<sip:a@example.com>;expires=-1",
	"<sip:a@example.com>;expires=1.5",
	"<sip:a@example.com>;expires=1;;q=1",     /* RFC 4475 badinv01 */
	"<sip:a@example.com",
	"<sip:a@example.com>;q=",
	/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) */
	"<sip:a@example.com>;q",
	"<sip:a@example.com>;q=2",
	"<sip:a@example.com>;q=1.5",
	"<sip:a@example.com>;q=0.1234",
	"<sip:a@example.com>;q=.5",
	"<sip:a@example.com>;q=abc",
	"<sip:a@example.com>;q=-0.5",
	"<sip:a@example.com>;q=01",
	"",
};

static void test_contact_rejects(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(contact_bad); i++) {
		struct sip_contact c;
		CHECK(sip_contact_parse(cs(contact_bad[i]), &c) < 0, contact_bad[i]);
	}
}

static void test_event(void **state)
{
	(void)state;
	static const struct { const char *in, *package, *id, *params; } ok[] = {
		{ "refer;id=93809824", "refer", "93809824", ";id=93809824" },
		{ "presence", "presence", "", "" },
		{ "dialog ; id = 5 ; x", "dialog", "5", "; id = 5 ; x" },
		{ "presence.winfo", "presence.winfo", "", "" },
		{ "  message-summary  ", "message-summary", "", "" },
		{ "refer;ID=7", "refer", "7", ";ID=7" },
	};
	for (size_t i = 0; i < N_ELEMS(ok); i++) {
		struct sip_event e;
		CHECK(sip_event_parse(cs(ok[i].in), &e) == 0, ok[i].in);
		CHECK_VIEW(e.package, ok[i].package, ok[i].in);
		CHECK_VIEW(e.id, ok[i].id, ok[i].in);
		CHECK_VIEW(e.params, ok[i].params, ok[i].in);
	}
	static const char *const bad[] = {
		"", ";id=1", "refer junk", "refer;id=", "refer;;id=1", "re@fer", "refer;",
		"\"refer\"",
		"refer;id=1;;",  /* malformed after the id is still malformed */
		"refer;id=1;x=",
	};
	for (size_t i = 0; i < N_ELEMS(bad); i++) {
		struct sip_event e;
		CHECK(sip_event_parse(cs(bad[i]), &e) < 0, bad[i]);
	}
}

static void test_ctype(void **state)
{
	(void)state;
	static const struct { const char *in, *type, *subtype, *params; } ok[] = {
		{ "application/sdp", "application", "sdp", "" },
		{ "multipart/mixed;boundary=\"x y\"", "multipart", "mixed", ";boundary=\"x y\"" },
		{ "text / plain", "text", "plain", "" },          /* SLASH = SWS "/" SWS */
		{ "Application/SDP", "Application", "SDP", "" },
		{ "text/plain ; charset=utf-8", "text", "plain", "; charset=utf-8" },
		{ "text/\r\n plain", "text", "plain", "" },
		{ "application/vnd.3gpp.ims+xml", "application", "vnd.3gpp.ims+xml", "" },
	};
	for (size_t i = 0; i < N_ELEMS(ok); i++) {
		struct sip_ctype c;
		CHECK(sip_ctype_parse(cs(ok[i].in), &c) == 0, ok[i].in);
		CHECK_VIEW(c.type, ok[i].type, ok[i].in);
		CHECK_VIEW(c.subtype, ok[i].subtype, ok[i].in);
		CHECK_VIEW(c.params, ok[i].params, ok[i].in);
	}
	static const char *const bad[] = {
		"", "text", "text/", "/plain", "text plain", "text/plain junk", "text/plain;",
		"text/plain;charset=", "te xt/plain", "text//plain", "text/pl@in",
		"multipart/mixed;boundary=\"open",
	};
	for (size_t i = 0; i < N_ELEMS(bad); i++) {
		struct sip_ctype c;
		CHECK(sip_ctype_parse(cs(bad[i]), &c) < 0, bad[i]);
	}
}

static void test_parse_u32_bounds(void **state)
{
	(void)state;
	static const struct { const char *in; uint32_t v; } ok[] = {
		{ "0", 0 }, { "00", 0 }, { "7", 7 }, { "4294967295", 4294967295u },
		{ "0004294967295", 4294967295u }, { "0068", 68 },
	};
	for (size_t i = 0; i < N_ELEMS(ok); i++) {
		uint32_t v = 1234;
		CHECK(sip_parse_u32(cs(ok[i].in), &v) == 0, ok[i].in);
		CHECK(v == ok[i].v, ok[i].in);
	}
	static const char *const bad[] = {
		"", "4294967296", "99999999999", "18446744073709551617", "-1", "+1", " 1", "1 ",
		"1a", "0x10", "1.0",
	};
	for (size_t i = 0; i < N_ELEMS(bad); i++) {
		uint32_t v = 1234;
		CHECK(sip_parse_u32(cs(bad[i]), &v) < 0, bad[i]);
		CHECK(v == 1234, bad[i]); /* no partial write on failure */
	}
	uint32_t v;
	assert_int_equal(sip_parse_u32(SIP_STR("4294967296"), &v), -ERANGE);
	assert_int_equal(sip_parse_u32(SIP_STR("x"), &v), -EINVAL);
}

/* ======================================================================== */
/* message accessors                                                         */
/* ======================================================================== */

static void test_msg_accessors_present(void **state)
{
	(void)state;
	static const char msg[] =
		"INVITE sip:bob@biloxi.com SIP/2.0\r\n" VIA1
		"Max-Forwards: 70\r\n" DIALOG_HDRS
		"CSeq: 314159 INVITE\r\n"
		"Expires: 300\r\n"
		"Contact: <sip:alice@pc33.atlanta.com>\r\n"
		"Content-Length: 0\r\n"
		"\r\n";
	struct sip_msg m;
	sip_str_t s;
	struct sip_cseq c;
	struct sip_nameaddr na;
	uint32_t n;
	struct sip_via v;
	parse_ok(&m, msg);
	assert_int_equal(sip_msg_call_id(&m, &s), 1);
	assert_true(view_is(s, "a84b4c76e66710@pc33.atlanta.com"));
	assert_int_equal(sip_msg_cseq(&m, &c), 1);
	assert_int_equal(c.seq, 314159);
	assert_int_equal(c.method, SIP_M_INVITE);
	assert_int_equal(sip_msg_from(&m, &na), 1);
	assert_true(view_is(na.display, "Alice"));
	assert_true(view_is(na.tag, "1928301774"));
	assert_int_equal(sip_msg_to(&m, &na), 1);
	assert_true(view_is(na.uri, "sip:bob@biloxi.com"));
	assert_int_equal(na.tag.len, 0);
	assert_int_equal(sip_msg_max_forwards(&m, &n), 1);
	assert_int_equal(n, 70);
	assert_int_equal(sip_msg_expires(&m, &n), 1);
	assert_int_equal(n, 300);
	assert_int_equal(sip_msg_top_via(&m, &v), 1);
	assert_true(view_is(v.branch, "z9hG4bK776asdhds"));
	assert_int_equal(sip_check(&m), SIP_E_OK);
}

/* Compact names index the same headers as full ones. */
static void test_msg_accessors_compact_forms(void **state)
{
	(void)state;
	static const char msg[] =
		"BYE sip:bob@biloxi.com SIP/2.0\r\n"
		"v: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKc\r\n"
		"t: <sip:bob@biloxi.com>;tag=b\r\n"
		"f: <sip:alice@atlanta.com>;tag=a\r\n"
		"i: compact@host\r\n"
		"CSeq: 2 BYE\r\n"
		"l: 0\r\n"
		"\r\n";
	struct sip_msg m;
	sip_str_t s;
	struct sip_nameaddr na;
	parse_ok(&m, msg);
	assert_int_equal(sip_msg_call_id(&m, &s), 1);
	assert_true(view_is(s, "compact@host"));
	assert_int_equal(sip_msg_to(&m, &na), 1);
	assert_true(view_is(na.tag, "b"));
	assert_int_equal(sip_msg_from(&m, &na), 1);
	assert_true(view_is(na.tag, "a"));
	assert_true(m.has_content_length);
	assert_int_equal(sip_check(&m), SIP_E_OK);
	const struct sip_hdr *h = sip_hdr_find(&m, SIP_STR("CALL-ID"));
	assert_non_null(h);
	assert_true(view_is(h->name, "i"));
}

static void test_msg_accessors_absent(void **state)
{
	(void)state;
	struct sip_msg m;
	sip_str_t s;
	struct sip_cseq c;
	struct sip_nameaddr na;
	uint32_t n;
	struct sip_via v;
	parse_ok(&m, "OPTIONS sip:x@example.com SIP/2.0\r\nSubject: hi\r\n\r\n");
	assert_int_equal(sip_msg_call_id(&m, &s), 0);
	assert_int_equal(sip_msg_cseq(&m, &c), 0);
	assert_int_equal(sip_msg_from(&m, &na), 0);
	assert_int_equal(sip_msg_to(&m, &na), 0);
	assert_int_equal(sip_msg_max_forwards(&m, &n), 0);
	assert_int_equal(sip_msg_expires(&m, &n), 0);
	assert_int_equal(sip_msg_top_via(&m, &v), 0);
	assert_null(sip_hdr_find(&m, SIP_STR("X-Nothing")));
	const struct sip_hdr *h = sip_hdr_find(&m, SIP_STR("subject"));
	assert_non_null(h);
	assert_true(view_is(h->value, "hi"));
}

/* Each malformed single-value header is reported as <0, not as absent. */
static void test_msg_accessors_malformed(void **state)
{
	(void)state;
	static const struct { const char *msg; int which; } cases[] = {
		{ "OPTIONS sip:x@example.com SIP/2.0\r\nCall-ID:\r\n\r\n", 0 },
		{ "OPTIONS sip:x@example.com SIP/2.0\r\nCSeq: x OPTIONS\r\n\r\n", 1 },
		{ "OPTIONS sip:x@example.com SIP/2.0\r\nCSeq: 4294967296 OPTIONS\r\n\r\n", 1 },
		{ "OPTIONS sip:x@example.com SIP/2.0\r\nFrom: <sip:a@b\r\n\r\n", 2 },
		{ "OPTIONS sip:x@example.com SIP/2.0\r\nTo: \"open <sip:a@b>\r\n\r\n", 3 },
		{ "OPTIONS sip:x@example.com SIP/2.0\r\nMax-Forwards: abc\r\n\r\n", 4 },
		{ "OPTIONS sip:x@example.com SIP/2.0\r\nMax-Forwards: -1\r\n\r\n", 4 },
		{ "OPTIONS sip:x@example.com SIP/2.0\r\nExpires: -1\r\n\r\n", 5 },
		{ "OPTIONS sip:x@example.com SIP/2.0\r\nExpires: 1 hour\r\n\r\n", 5 },
		{ "OPTIONS sip:x@example.com SIP/2.0\r\nVia: SIP/2.0/UDP\r\n\r\n", 6 },
	};
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct sip_msg m;
		sip_str_t s;
		struct sip_cseq c;
		struct sip_nameaddr na;
		uint32_t n;
		struct sip_via v;
		int r = 0;
		parse_ok(&m, cases[i].msg);
		switch (cases[i].which) {
		case 0: r = sip_msg_call_id(&m, &s); break;
		case 1: r = sip_msg_cseq(&m, &c); break;
		case 2: r = sip_msg_from(&m, &na); break;
		case 3: r = sip_msg_to(&m, &na); break;
		case 4: r = sip_msg_max_forwards(&m, &n); break;
		case 5: r = sip_msg_expires(&m, &n); break;
		case 6: r = sip_msg_top_via(&m, &v); break;
		}
		CHECK(r < 0, cases[i].msg);
	}
}

/* Expires is delta-seconds; a huge value is clamped, not refused (the
 * registrar caps it anyway, RFC 4475 scalar02 allows this reading). */
static void test_msg_expires_saturates(void **state)
{
	(void)state;
	struct sip_msg m;
	uint32_t n;
	parse_ok(&m, "REGISTER sip:example.com SIP/2.0\r\nExpires: 10000000000000000000000\r\n\r\n");
	assert_int_equal(sip_msg_expires(&m, &n), 1);
	assert_int_equal(n, UINT32_MAX);
}

static void test_msg_has_tag(void **state)
{
	(void)state;
	static const char msg[] =
		"INVITE sip:bob@biloxi.com SIP/2.0\r\n" VIA1 DIALOG_HDRS
		"Require: 100rel\r\n"
		"CSeq: 1 INVITE\r\n"
		"Require: timer,\r\n replaces\r\n"
		"Supported: path\r\n"
		"\r\n";
	static const struct { enum sip_hdr_id id; const char *tag; bool want; } cases[] = {
		{ SIP_H_REQUIRE, "100rel", true },
		{ SIP_H_REQUIRE, "timer", true },
		{ SIP_H_REQUIRE, "replaces", true },
		{ SIP_H_REQUIRE, "TIMER", true },     /* tokens compare case-insensitively */
		{ SIP_H_REQUIRE, "100re", false },    /* whole tags only */
		{ SIP_H_REQUIRE, "100rel2", false },
		{ SIP_H_REQUIRE, "path", false },     /* in another header */
		{ SIP_H_SUPPORTED, "path", true },
		{ SIP_H_SUPPORTED, "timer", false },
		{ SIP_H_PROXY_REQUIRE, "timer", false }, /* absent header */
	};
	struct sip_msg m;
	parse_ok(&m, msg);
	for (size_t i = 0; i < N_ELEMS(cases); i++)
		CHECK(sip_msg_has_tag(&m, cases[i].id, cases[i].tag) == cases[i].want,
		      cases[i].tag);
}

/* ======================================================================== */
/* tables: header names, methods, errors                                     */
/* ======================================================================== */

static void test_hdr_lookup_compact_forms(void **state)
{
	(void)state;
	static const struct { char c; enum sip_hdr_id id; } compact[] = {
		{ 'i', SIP_H_CALL_ID },        { 'm', SIP_H_CONTACT },
		{ 'e', SIP_H_CONTENT_ENCODING }, { 'l', SIP_H_CONTENT_LENGTH },
		{ 'c', SIP_H_CONTENT_TYPE },   { 'f', SIP_H_FROM },
		{ 's', SIP_H_SUBJECT },        { 'k', SIP_H_SUPPORTED },
		{ 't', SIP_H_TO },             { 'v', SIP_H_VIA },
		{ 'o', SIP_H_EVENT },          { 'u', SIP_H_ALLOW_EVENTS },
		{ 'r', SIP_H_REFER_TO },       { 'b', SIP_H_REFERRED_BY },
		{ 'x', SIP_H_SESSION_EXPIRES }, { 'y', SIP_H_IDENTITY },
		{ 'a', SIP_H_ACCEPT_CONTACT }, { 'j', SIP_H_REJECT_CONTACT },
		{ 'd', SIP_H_REQUEST_DISPOSITION }, { 'n', SIP_H_IDENTITY_INFO },
	};
	for (size_t i = 0; i < N_ELEMS(compact); i++) {
		char lo[2] = { compact[i].c, 0 };
		char up[2] = { (char)(compact[i].c - 'a' + 'A'), 0 };
		CHECK(sip_hdr_lookup(cs(lo)) == compact[i].id, lo);
		CHECK(sip_hdr_lookup(cs(up)) == compact[i].id, up);
	}
	/* letters with no compact form, and non-letters */
	static const char *const none[] = { "g", "h", "p", "q", "w", "z", "G", "1", "-", " " };
	for (size_t i = 0; i < N_ELEMS(none); i++)
		CHECK(sip_hdr_lookup(cs(none[i])) == SIP_H_OTHER, none[i]);
}

static void test_hdr_lookup_full_names_any_case(void **state)
{
	(void)state;
	for (unsigned id = 1; id < SIP_H__COUNT; id++) {
		const char *name = sip_hdr_name((enum sip_hdr_id)id);
		char lo[64], up[64];
		size_t n = strlen(name);
		assert_true(n < sizeof(lo));
		for (size_t k = 0; k <= n; k++) {
			lo[k] = (char)((name[k] >= 'A' && name[k] <= 'Z') ? name[k] + 32 : name[k]);
			up[k] = (char)((name[k] >= 'a' && name[k] <= 'z') ? name[k] - 32 : name[k]);
		}
		CHECK(sip_hdr_lookup(cs(name)) == id, name);
		CHECK(sip_hdr_lookup(cs(lo)) == id, lo);
		CHECK(sip_hdr_lookup(cs(up)) == id, up);
	}
	assert_null(sip_hdr_name(SIP_H_OTHER));
	assert_string_equal(sip_hdr_name(SIP_H_CALL_ID), "Call-ID");
	static const char *const other[] = {
		"", "X-Custom", "Vias", "Via ", " Via", "Vi", "Call_ID", "CallID",
		"Content-Lengths", "UnknownHeaderWithUnusualValue",
		"A-Header-Name-Longer-Than-Thirty-Two-Bytes",
	};
	for (size_t i = 0; i < N_ELEMS(other); i++)
		CHECK(sip_hdr_lookup(cs(other[i])) == SIP_H_OTHER, other[i]);
}

static void test_method_from(void **state)
{
	(void)state;
	static const struct { const char *name; enum sip_method m; } cases[] = {
		{ "INVITE", SIP_M_INVITE },     { "ACK", SIP_M_ACK },
		{ "BYE", SIP_M_BYE },           { "CANCEL", SIP_M_CANCEL },
		{ "REGISTER", SIP_M_REGISTER }, { "OPTIONS", SIP_M_OPTIONS },
		{ "PRACK", SIP_M_PRACK },       { "SUBSCRIBE", SIP_M_SUBSCRIBE },
		{ "NOTIFY", SIP_M_NOTIFY },     { "PUBLISH", SIP_M_PUBLISH },
		{ "INFO", SIP_M_INFO },         { "REFER", SIP_M_REFER },
		{ "MESSAGE", SIP_M_MESSAGE },   { "UPDATE", SIP_M_UPDATE },
		/* RFC 3261 7.1: methods are case-sensitive */
		{ "invite", SIP_M_UNKNOWN },    { "Invite", SIP_M_UNKNOWN },
		{ "ack", SIP_M_UNKNOWN },
		{ "FOO", SIP_M_UNKNOWN },       { "", SIP_M_UNKNOWN },
		{ "INVITEX", SIP_M_UNKNOWN },   { "INV", SIP_M_UNKNOWN },
		{ "SUBSCRIBES", SIP_M_UNKNOWN }, { "RE%47IST%45R", SIP_M_UNKNOWN },
		{ "I", SIP_M_UNKNOWN },
	};
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		CHECK(sip_method_from(cs(cases[i].name)) == cases[i].m, cases[i].name);
		if (cases[i].m != SIP_M_UNKNOWN)
			CHECK(strcmp(sip_method_name(cases[i].m), cases[i].name) == 0,
			      cases[i].name);
	}
	assert_string_equal(sip_method_name(SIP_M_UNKNOWN), "UNKNOWN");
	assert_string_equal(sip_method_name(SIP_M__COUNT), "UNKNOWN");
	/* a view: only len bytes count */
	assert_int_equal(sip_method_from((sip_str_t){ "BYEBYE", 3 }), SIP_M_BYE);
}

static void test_err_tables_complete(void **state)
{
	(void)state;
	for (unsigned e = 0; e < SIP_E__COUNT; e++) {
		const char *r = sip_err_reason((enum sip_err)e);
		const char *n = sip_err_name((enum sip_err)e);
		uint16_t s = sip_err_status((enum sip_err)e);
		assert_non_null(r);
		assert_non_null(n);
		assert_true(r[0] != 0);
		assert_true(n[0] != 0);
		/* 0 (drop) or a final error status a UAS may send */
		assert_true(s == 0 || (s >= 400 && s <= 699));
		/* reasons go into a status line: no CR/LF */
		assert_null(strpbrk(r, "\r\n"));
	}
	static const struct { enum sip_err e; uint16_t status; const char *name; } key[] = {
		{ SIP_E_OK, 0, "OK" },
		{ SIP_E_DROP_START_LINE, 0, "DROP_START_LINE" },
		{ SIP_E_DROP_RESPONSE, 0, "DROP_RESPONSE" },
		{ SIP_E_TOO_BIG, 513, "TOO_BIG" },
		{ SIP_E_RURI_TOO_LONG, 414, "RURI_TOO_LONG" },
		{ SIP_E_UNSUPPORTED_SCHEME, 416, "UNSUPPORTED_SCHEME" },
		{ SIP_E_BAD_VERSION, 505, "BAD_VERSION" },
		{ SIP_E_CL_MISMATCH, 400, "CL_MISMATCH" },
		{ SIP_E_BAD_VIA, 400, "BAD_VIA" },
		{ SIP_E_MISSING_CALL_ID, 400, "MISSING_CALL_ID" },
		{ SIP_E_UNKNOWN_METHOD_CSEQ, 501, "UNKNOWN_METHOD_CSEQ" },
		{ SIP_E_TOO_MANY_HOPS, 483, "TOO_MANY_HOPS" },
		{ SIP_E_BAD_EXTENSION, 420, "BAD_EXTENSION" },
		{ SIP_E_LOOP_DETECTED, 482, "LOOP_DETECTED" },
	};
	for (size_t i = 0; i < N_ELEMS(key); i++) {
		CHECK(sip_err_status(key[i].e) == key[i].status, key[i].name);
		CHECK(strcmp(sip_err_name(key[i].e), key[i].name) == 0, key[i].name);
	}
	assert_string_equal(sip_err_reason(SIP_E_TOO_MANY_HOPS), "Too Many Hops");
	/* out of range values do not index past the table */
	assert_int_equal(sip_err_status(SIP_E__COUNT), 0);
	assert_non_null(sip_err_reason(SIP_E__COUNT));
	assert_non_null(sip_err_name((enum sip_err)1000));
}

/* ======================================================================== */
/* sip_proxy_check                                                           */
/* ======================================================================== */

#define PC_REQ(method, ruri, extra)                                                    \
	method " " ruri " SIP/2.0\r\n" VIA1 DIALOG_HDRS "CSeq: 1 " method "\r\n" extra "\r\n"

struct pc_case {
	const char *name, *msg;
	bool terminating;
	enum sip_err want;
	const char *unsup;
};

static const char *const supported_list[] = { "timer", "100rel", "replaces", NULL };

static const struct pc_case pc_cases[] = {
	{ "plain", PC_REQ("INVITE", "sip:bob@biloxi.com", "Max-Forwards: 70\r\n"), false,
	  SIP_E_OK, "" },
	{ "sips and tel are ours", PC_REQ("INVITE", "sips:bob@biloxi.com", ""), false,
	  SIP_E_OK, "" },
	{ "tel", PC_REQ("INVITE", "tel:+1-201-555-0123", ""), false, SIP_E_OK, "" },
	{ "unknown scheme 416", PC_REQ("INVITE", "http://www.example.com", ""), false,
	  SIP_E_UNSUPPORTED_SCHEME, "" },
	{ "unknown scheme 416 even terminating", PC_REQ("OPTIONS", "mailto:a@b.example", ""),
	  true, SIP_E_UNSUPPORTED_SCHEME, "" },
	{ "Max-Forwards 0 forwarded", PC_REQ("INVITE", "sip:bob@biloxi.com", "Max-Forwards: 0\r\n"),
	  false, SIP_E_TOO_MANY_HOPS, "" },
	{ "Max-Forwards 00 forwarded",
	  PC_REQ("OPTIONS", "sip:bob@biloxi.com", "Max-Forwards: 00\r\n"), false,
	  SIP_E_TOO_MANY_HOPS, "" },
	{ "Max-Forwards 0 terminating (RFC 4475 zeromf)",
	  PC_REQ("OPTIONS", "sip:bob@biloxi.com", "Max-Forwards: 0\r\n"), true, SIP_E_OK, "" },
	{ "Max-Forwards 1 forwarded", PC_REQ("INVITE", "sip:bob@biloxi.com", "Max-Forwards: 1\r\n"),
	  false, SIP_E_OK, "" },
	{ "Proxy-Require unknown",
	  PC_REQ("INVITE", "sip:bob@biloxi.com", "Proxy-Require: foo, bar\r\n"), false,
	  SIP_E_BAD_EXTENSION, "foo, bar" },
	{ "Proxy-Require mixed over lines",
	  PC_REQ("INVITE", "sip:bob@biloxi.com",
		 "Proxy-Require: foo\r\nSubject: x\r\nProxy-Require: timer, bar\r\n"),
	  false, SIP_E_BAD_EXTENSION, "foo, bar" },
	{ "Proxy-Require known, any case",
	  PC_REQ("INVITE", "sip:bob@biloxi.com", "Proxy-Require: TIMER, 100Rel\r\n"), false,
	  SIP_E_OK, "" },
	{ "Require ignored when forwarding",
	  PC_REQ("INVITE", "sip:bob@biloxi.com", "Require: foo\r\n"), false, SIP_E_OK, "" },
	{ "Require checked when terminating",
	  PC_REQ("INVITE", "sip:bob@biloxi.com", "Require: foo, timer\r\n"), true,
	  SIP_E_BAD_EXTENSION, "foo" },
	{ "Proxy-Require and Require when terminating",
	  PC_REQ("INVITE", "sip:bob@biloxi.com", "Require: baz\r\nProxy-Require: foo\r\n"),
	  true, SIP_E_BAD_EXTENSION, "foo, baz" },
	{ "ACK exempt", PC_REQ("ACK", "sip:bob@biloxi.com", "Proxy-Require: foo\r\n"), false,
	  SIP_E_OK, "" },
	{ "CANCEL exempt",
	  PC_REQ("CANCEL", "sip:bob@biloxi.com", "Proxy-Require: foo\r\nRequire: bar\r\n"),
	  true, SIP_E_OK, "" },
	{ "ACK still counts hops", PC_REQ("ACK", "sip:bob@biloxi.com", "Max-Forwards: 0\r\n"),
	  false, SIP_E_TOO_MANY_HOPS, "" },
};

static void test_proxy_check(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(pc_cases); i++) {
		const struct pc_case *c = &pc_cases[i];
		struct sip_msg m;
		char unsup[64];
		uint32_t ulen = 999;
		parse_ok(&m, c->msg);
		CHECK(sip_check(&m) == SIP_E_OK, c->name);
		enum sip_err e = sip_proxy_check(&m, c->terminating, supported_list, unsup,
						 sizeof(unsup), &ulen);
		CHECK(e == c->want, c->name);
		CHECK_VIEW(((sip_str_t){ unsup, ulen }), c->unsup, c->name);
	}
}

static void test_proxy_check_unsupported_list_bounds(void **state)
{
	(void)state;
	struct sip_msg m;
	char unsup[16];
	uint32_t ulen;
	parse_ok(&m, PC_REQ("INVITE", "sip:bob@biloxi.com", "Proxy-Require: foo, bar\r\n"));
	/* no supported list: every tag is unknown */
	assert_int_equal(sip_proxy_check(&m, false, NULL, unsup, sizeof(unsup), &ulen),
			 SIP_E_BAD_EXTENSION);
	assert_true(view_is((sip_str_t){ unsup, ulen }, "foo, bar"));
	/* a short buffer cuts the list but the verdict stays 420 */
	assert_int_equal(sip_proxy_check(&m, false, supported_list, unsup, 5, &ulen),
			 SIP_E_BAD_EXTENSION);
	assert_true(view_is((sip_str_t){ unsup, ulen }, "foo"));
	assert_int_equal(sip_proxy_check(&m, false, supported_list, NULL, 0, &ulen),
			 SIP_E_BAD_EXTENSION);
	assert_int_equal(ulen, 0);
}

/* ======================================================================== */
/* sip_reply                                                                 */
/* ======================================================================== */

static const char reply_req[] =
	"INVITE sip:bob@biloxi.com SIP/2.0\r\n"
	"Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n"
	"Max-Forwards: 70\r\n"
	"v: SIP/2.0/UDP p2.example.com;branch=z9hG4bK2, SIP/2.0/TCP p3.example.com;branch=z9hG4bK3\r\n"
	"To: Bob <sip:bob@biloxi.com>\r\n"
	"From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
	"Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n"
	"CSeq: 314159 INVITE\r\n"
	"Via: SIP/2.0/UDP p4.example.com\r\n"
	" ;branch=z9hG4bK4\r\n"
	"Contact: <sip:alice@pc33.atlanta.com>\r\n"
	"Content-Type: application/sdp\r\n"
	"Content-Length: 4\r\n"
	"\r\n"
	"v=0\n";

/* Exact bytes: Via lines in order and as received (compact, folded), then
 * From, To with the new tag, Call-ID, CSeq, extra headers, Content-Length. */
static const char reply_486[] =
	"SIP/2.0 486 Busy Here\r\n"
	"Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n"
	"v: SIP/2.0/UDP p2.example.com;branch=z9hG4bK2, SIP/2.0/TCP p3.example.com;branch=z9hG4bK3\r\n"
	"Via: SIP/2.0/UDP p4.example.com\r\n"
	" ;branch=z9hG4bK4\r\n"
	"From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
	"To: Bob <sip:bob@biloxi.com>;tag=sbc42\r\n"
	"Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n"
	"CSeq: 314159 INVITE\r\n"
	"Retry-After: 60\r\n"
	"Content-Length: 0\r\n"
	"\r\n";

static void test_reply_exact_output(void **state)
{
	(void)state;
	struct sip_msg m;
	char out[1024];
	parse_ok(&m, reply_req);
	int n = sip_reply(&m, 486, "Busy Here", SIP_STR("sbc42"), SIP_STR("Retry-After: 60\r\n"),
			  out, sizeof(out));
	assert_int_equal(n, (int)strlen(reply_486));
	assert_memory_equal(out, reply_486, strlen(reply_486));

	/* the reply is itself a well-formed response with all the Vias */
	struct sip_msg r;
	assert_int_equal(sip_parse(&r, out, (size_t)n), SIP_E_OK);
	assert_false(r.is_request);
	assert_int_equal(r.status, 486);
	assert_int_equal(sip_check(&r), SIP_E_OK);
	struct sip_via_iter it;
	struct sip_via v;
	int nvia = 0;
	sip_via_init(&it, &r);
	while (sip_via_next(&it, &v) > 0)
		nvia++;
	assert_int_equal(nvia, 4);
}

static void test_reply_to_tag_rules(void **state)
{
	(void)state;
	static const struct {
		const char *name, *to;
		uint16_t status;
		const char *tag, *want_to;
	} cases[] = {
		{ "tag added on final", "To: <sip:b@example.com>\r\n", 200, "t1",
		  "To: <sip:b@example.com>;tag=t1\r\n" },
		{ "tag added on 180", "To: <sip:b@example.com>\r\n", 180, "t1",
		  "To: <sip:b@example.com>;tag=t1\r\n" },
		{ "no tag on 100", "To: <sip:b@example.com>\r\n", 100, "t1",
		  "To: <sip:b@example.com>\r\n" },
		{ "existing tag kept", "To: <sip:b@example.com>;tag=old\r\n", 200, "t1",
		  "To: <sip:b@example.com>;tag=old\r\n" },
		{ "existing TAG kept", "To: <sip:b@example.com>;TAG=old\r\n", 404, "t1",
		  "To: <sip:b@example.com>;TAG=old\r\n" },
		{ "empty to_tag", "To: <sip:b@example.com>\r\n", 200, "",
		  "To: <sip:b@example.com>\r\n" },
		{ "compact t: kept", "t: sip:b@example.com\r\n", 404, "x",
		  "t: sip:b@example.com;tag=x\r\n" },
		{ "params kept", "To: <sip:b@example.com> ;p=1\r\n", 404, "x",
		  "To: <sip:b@example.com> ;p=1;tag=x\r\n" },
	};
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		char req[512], out[512], want[512];
		snprintf(req, sizeof(req),
			 "OPTIONS sip:b@example.com SIP/2.0\r\n" VIA1
			 "%sf: <sip:a@example.com>;tag=1\r\ni: c@h\r\nCSeq: 1 OPTIONS\r\n\r\n",
			 cases[i].to);
		snprintf(want, sizeof(want),
			 "SIP/2.0 %u R\r\n" VIA1 "f: <sip:a@example.com>;tag=1\r\n%si: c@h\r\n"
			 "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
			 cases[i].status, cases[i].want_to);
		struct sip_msg m;
		parse_ok(&m, req);
		int n = sip_reply(&m, cases[i].status, "R", cs(cases[i].tag), SIP_STR_NULL, out,
				  sizeof(out));
		CHECK(n == (int)strlen(want), cases[i].name);
		CHECK(n > 0 && memcmp(out, want, (size_t)n) == 0, cases[i].name);
	}
}

static void test_reply_enospc(void **state)
{
	(void)state;
	struct sip_msg m;
	char out[1024];
	parse_ok(&m, reply_req);
	size_t need = strlen(reply_486);
	/* every cap short of the full reply fails cleanly, never writes past cap */
	for (size_t cap = 0; cap < need; cap++) {
		memset(out, 'Z', sizeof(out));
		int n = sip_reply(&m, 486, "Busy Here", SIP_STR("sbc42"),
				  SIP_STR("Retry-After: 60\r\n"), out, cap);
		assert_int_equal(n, -ENOSPC);
		assert_int_equal(out[cap], 'Z');
	}
	assert_int_equal(sip_reply(&m, 486, "Busy Here", SIP_STR("sbc42"),
				   SIP_STR("Retry-After: 60\r\n"), out, need),
			 (int)need);
}

/* A 400 must reach the sender even when the request is broken. */
static void test_reply_on_message_failing_check(void **state)
{
	(void)state;
	static const char req[] =
		"INVITE sip:bob@biloxi.com SIP/2.0\r\n" VIA1
		"To: Bob <sip:bob@biloxi.com\r\n"          /* malformed: no '>' */
		"From: Alice <sip:alice@atlanta.com>;tag=1\r\n"
		"CSeq: 1 INVITE\r\n"
		"\r\n";
	static const char want[] =
		"SIP/2.0 400 Bad Request - Missing Call-ID\r\n" VIA1
		"From: Alice <sip:alice@atlanta.com>;tag=1\r\n"
		"To: Bob <sip:bob@biloxi.com\r\n"          /* copied as received, no tag */
		"CSeq: 1 INVITE\r\n"
		"Content-Length: 0\r\n"
		"\r\n";
	struct sip_msg m;
	char out[512];
	parse_ok(&m, req);
	enum sip_err e = sip_check(&m);
	assert_int_equal(e, SIP_E_MISSING_CALL_ID);
	assert_int_equal(sip_verdict_status(&m, e), 400);
	int n = sip_reply(&m, sip_err_status(e), sip_err_reason(e), SIP_STR("x"), SIP_STR_NULL,
			  out, sizeof(out));
	assert_int_equal(n, (int)strlen(want));
	assert_memory_equal(out, want, strlen(want));
}

/* Bare LF is accepted on input, but a response we build ends every line
 * with CRLF (RFC 3261 7): the Via/From/To/Call-ID/CSeq lines copied from an
 * LF-only request are re-terminated. */
static void test_reply_lines_end_with_crlf(void **state)
{
	(void)state;
	static const char req[] =
		"OPTIONS sip:b@example.com SIP/2.0\n"
		"Via: SIP/2.0/UDP h.example.com;branch=z9hG4bKlf\n"
		"From: <sip:a@example.com>;tag=1\n"
		"To: <sip:b@example.com>;tag=2\n"
		"Call-ID: lf@h\n"
		"CSeq: 1 OPTIONS\n"
		"\n";
	static const char want[] =
		"SIP/2.0 200 OK\r\n"
		"Via: SIP/2.0/UDP h.example.com;branch=z9hG4bKlf\r\n"
		"From: <sip:a@example.com>;tag=1\r\n"
		"To: <sip:b@example.com>;tag=2\r\n"
		"Call-ID: lf@h\r\n"
		"CSeq: 1 OPTIONS\r\n"
		"Content-Length: 0\r\n"
		"\r\n";
	struct sip_msg m;
	char out[512];
	parse_ok(&m, req);
	int n = sip_reply(&m, 200, "OK", SIP_STR("x"), SIP_STR_NULL, out, sizeof(out));
	assert_int_equal(n, (int)strlen(want));
	assert_memory_equal(out, want, strlen(want));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uri_accepts_rfc3261_forms),
		cmocka_unit_test(test_uri_rejects_malformed),
		cmocka_unit_test(test_uri_respects_view_length),
		cmocka_unit_test(test_unescape_decodes_and_keeps_nul),
		cmocka_unit_test(test_unescape_rejects_bad_escapes),
		cmocka_unit_test(test_unescape_overflow_is_enospc),
		cmocka_unit_test(test_nameaddr_accepts_valid_forms),
		cmocka_unit_test(test_nameaddr_star),
		cmocka_unit_test(test_nameaddr_rejects_malformed),
		cmocka_unit_test(test_via_parse_accepts_valid),
		cmocka_unit_test(test_via_parse_rejects_malformed),
		cmocka_unit_test(test_via_iter_order_across_lines),
		cmocka_unit_test(test_via_iter_rejects_empty_values),
		cmocka_unit_test(test_via_iter_without_via),
		cmocka_unit_test(test_branch_is_3261),
		cmocka_unit_test(test_list_spans_lines_and_honours_quotes_and_angles),
		cmocka_unit_test(test_list_absent_header_is_empty),
		cmocka_unit_test(test_list_rejects_empty_elements),
		cmocka_unit_test(test_param_get),
		cmocka_unit_test(test_param_next_iterates_all),
		cmocka_unit_test(test_param_next_reports_malformed),
		cmocka_unit_test(test_cseq_accepts),
		cmocka_unit_test(test_cseq_rejects),
		cmocka_unit_test(test_rack),
		cmocka_unit_test(test_contact_accepts),
		cmocka_unit_test(test_contact_rejects),
		cmocka_unit_test(test_event),
		cmocka_unit_test(test_ctype),
		cmocka_unit_test(test_parse_u32_bounds),
		cmocka_unit_test(test_msg_accessors_present),
		cmocka_unit_test(test_msg_accessors_compact_forms),
		cmocka_unit_test(test_msg_accessors_absent),
		cmocka_unit_test(test_msg_accessors_malformed),
		cmocka_unit_test(test_msg_expires_saturates),
		cmocka_unit_test(test_msg_has_tag),
		cmocka_unit_test(test_hdr_lookup_compact_forms),
		cmocka_unit_test(test_hdr_lookup_full_names_any_case),
		cmocka_unit_test(test_method_from),
		cmocka_unit_test(test_err_tables_complete),
		cmocka_unit_test(test_proxy_check),
		cmocka_unit_test(test_proxy_check_unsupported_list_bounds),
		cmocka_unit_test(test_reply_exact_output),
		cmocka_unit_test(test_reply_to_tag_rules),
		cmocka_unit_test(test_reply_enospc),
		cmocka_unit_test(test_reply_on_message_failing_check),
		cmocka_unit_test(test_reply_lines_end_with_crlf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
