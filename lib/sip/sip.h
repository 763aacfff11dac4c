/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/sip — zero-copy SIP message parser, field parsers and message editor.
 *
 * Ownership and threads
 *   The caller owns every buffer. sip_parse() indexes the datagram it is given
 *   and never copies or allocates: struct sip_msg holds {ptr,len} views into
 *   that buffer, so the buffer must outlive the msg. A struct sip_msg is a
 *   fixed-size value (bounded memory per message) that one thread owns; the
 *   library has no global mutable state and is safe to use from any number of
 *   threads on distinct messages. The library never logs and never touches a
 *   socket.
 *
 * Laziness
 *   sip_parse() reads the start line and builds a header index (name, value,
 *   byte range, well-known id). Header values are parsed only when a caller
 *   asks (sip_via_next(), sip_nameaddr_parse(), sip_cseq_parse(), ...).
 *   sip_check() runs the RFC 3261 sanity rules a proxy needs before it acts
 *   (mandatory headers, single-value headers, CSeq, Content-Length, Via).
 *
 * Errors
 *   Every malformed input maps to one enum sip_err value whose table entry
 *   gives the SIP status the SBC answers and a reason phrase naming the
 *   problem, or status 0 meaning "drop silently" (no start line, or a
 *   response: responses are never answered).
 */
#ifndef SBC_SIP_H
#define SBC_SIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SIP_MUST_CHECK __attribute__((warn_unused_result))

/* ---- limits a peer controls (STYLE 7) ---------------------------------- */
#define SIP_MAX_MSG      65535u /* largest datagram / message accepted (513 above) */
#define SIP_MAX_HEADERS  128u   /* header lines per message */
#define SIP_MAX_LINE     8192u  /* one logical header line incl. folding */
#define SIP_MAX_VIA      70u    /* Via values per message: a Max-Forwards 70 path */
#define SIP_MAX_URI      4096u  /* Request-URI length */

/* ---- views -------------------------------------------------------------- */
typedef struct sip_str {
	const char *p;
	uint32_t len;
} sip_str_t;

#define SIP_STR(lit) ((sip_str_t){ (lit), (uint32_t)(sizeof(lit) - 1) })
#define SIP_STR_NULL ((sip_str_t){ NULL, 0 })

static inline bool sip_str_empty(sip_str_t s) { return s.len == 0; }
bool sip_str_eq(sip_str_t a, sip_str_t b);      /* byte-exact */
bool sip_str_caseeq(sip_str_t a, sip_str_t b);  /* ASCII case-insensitive */
bool sip_str_caseeq_lit(sip_str_t a, const char *lit);

/* ---- errors: one table, code + reason (status 0 = silent drop) ---------- */
#define SIP_ERRORS(X)                                                           \
	X(OK,                 0,   "OK")                                         \
	X(DROP_START_LINE,    0,   "Unparseable start line")                     \
	X(DROP_RESPONSE,      0,   "Malformed response")                         \
	X(TOO_BIG,            513, "Message Too Large")                          \
	X(NUL_BYTE,           400, "Bad Request - NUL byte in header")           \
	X(BAD_REQUEST_LINE,   400, "Bad Request - Malformed Request-Line")       \
	X(BAD_RURI,           400, "Bad Request - Malformed Request-URI")        \
	X(RURI_TOO_LONG,      414, "Request-URI Too Long")                       \
	X(UNSUPPORTED_SCHEME, 416, "Unsupported URI Scheme")                     \
	X(BAD_VERSION,        505, "Version Not Supported")                      \
	X(NO_HEADER_END,      400, "Bad Request - Headers not terminated")       \
	X(BAD_HEADER,         400, "Bad Request - Malformed header line")        \
	X(LINE_TOO_LONG,      400, "Bad Request - Header line too long")         \
	X(TOO_MANY_HEADERS,   400, "Bad Request - Too many headers")             \
	X(TOO_MANY_VIAS,      400, "Bad Request - Too many Via values")          \
	X(MISSING_VIA,        400, "Bad Request - Missing Via")                  \
	X(MISSING_FROM,       400, "Bad Request - Missing From")                 \
	X(MISSING_TO,         400, "Bad Request - Missing To")                   \
	X(MISSING_CALL_ID,    400, "Bad Request - Missing Call-ID")              \
	X(MISSING_CSEQ,       400, "Bad Request - Missing CSeq")                 \
	X(DUP_FROM,           400, "Bad Request - Duplicate From")               \
	X(DUP_TO,             400, "Bad Request - Duplicate To")                 \
	X(DUP_CALL_ID,        400, "Bad Request - Duplicate Call-ID")            \
	X(DUP_CSEQ,           400, "Bad Request - Duplicate CSeq")               \
	X(DUP_MAX_FORWARDS,   400, "Bad Request - Duplicate Max-Forwards")       \
	X(DUP_CONTENT_LENGTH, 400, "Bad Request - Duplicate Content-Length")     \
	X(DUP_CONTENT_TYPE,   400, "Bad Request - Duplicate Content-Type")       \
	X(BAD_VIA,            400, "Bad Request - Malformed Via")                \
	X(BAD_FROM,           400, "Bad Request - Malformed From")               \
	X(BAD_TO,             400, "Bad Request - Malformed To")                 \
	X(BAD_CALL_ID,        400, "Bad Request - Malformed Call-ID")            \
	X(BAD_CSEQ,           400, "Bad Request - Malformed CSeq")               \
	X(CSEQ_METHOD,        400, "Bad Request - CSeq method mismatch")         \
	X(BAD_MAX_FORWARDS,   400, "Bad Request - Malformed Max-Forwards")       \
	X(BAD_CONTENT_LENGTH, 400, "Bad Request - Malformed Content-Length")     \
	X(CL_MISMATCH,        400, "Bad Request - Content-Length exceeds datagram") \
	X(BAD_CONTACT,        400, "Bad Request - Malformed Contact")            \
	X(BAD_EXPIRES,        400, "Bad Request - Malformed Expires")            \
	X(BAD_HEADER_VALUE,   400, "Bad Request - Malformed header value")       \
	X(UNKNOWN_METHOD_CSEQ,501, "Not Implemented - Unknown method")          \
	X(TOO_MANY_HOPS,      483, "Too Many Hops")                              \
	X(BAD_EXTENSION,      420, "Bad Extension")                              \
	X(LOOP_DETECTED,      482, "Loop Detected")

enum sip_err {
#define SIP_ERR_ENUM(name, code, reason) SIP_E_##name,
	SIP_ERRORS(SIP_ERR_ENUM)
#undef SIP_ERR_ENUM
	SIP_E__COUNT
};

/* Status the SBC answers for err (0: drop silently), and its reason phrase. */
uint16_t sip_err_status(enum sip_err e);
const char *sip_err_reason(enum sip_err e);
const char *sip_err_name(enum sip_err e); /* "CL_MISMATCH" — metric label */

/* ---- methods ------------------------------------------------------------ */
#define SIP_METHODS(X)                                                         \
	X(INVITE) X(ACK) X(BYE) X(CANCEL) X(REGISTER) X(OPTIONS) X(PRACK)      \
	X(SUBSCRIBE) X(NOTIFY) X(PUBLISH) X(INFO) X(REFER) X(MESSAGE) X(UPDATE)

enum sip_method {
	SIP_M_UNKNOWN = 0, /* extension method: see sip_msg.method_name */
#define SIP_M_ENUM(n) SIP_M_##n,
	SIP_METHODS(SIP_M_ENUM)
#undef SIP_M_ENUM
	SIP_M__COUNT
};

/* Case-sensitive per RFC 3261 7.1; unknown tokens give SIP_M_UNKNOWN. */
enum sip_method sip_method_from(sip_str_t name);
const char *sip_method_name(enum sip_method m); /* "UNKNOWN" for 0 */

/* ---- well-known headers -------------------------------------------------
 * Full name, compact form (0 if none). Matching is case-insensitive.      */
#define SIP_HEADERS(X)                                                         \
	X(VIA,                 "Via",                 'v')                     \
	X(FROM,                "From",                'f')                     \
	X(TO,                  "To",                  't')                     \
	X(CALL_ID,             "Call-ID",             'i')                     \
	X(CSEQ,                "CSeq",                0)                       \
	X(CONTACT,             "Contact",             'm')                     \
	X(MAX_FORWARDS,        "Max-Forwards",        0)                       \
	X(CONTENT_LENGTH,      "Content-Length",      'l')                     \
	X(CONTENT_TYPE,        "Content-Type",        'c')                     \
	X(CONTENT_ENCODING,    "Content-Encoding",    'e')                     \
	X(ROUTE,               "Route",               0)                       \
	X(RECORD_ROUTE,        "Record-Route",        0)                       \
	X(REQUIRE,             "Require",             0)                       \
	X(PROXY_REQUIRE,       "Proxy-Require",       0)                       \
	X(SUPPORTED,           "Supported",           'k')                     \
	X(UNSUPPORTED,         "Unsupported",         0)                       \
	X(EXPIRES,             "Expires",             0)                       \
	X(MIN_EXPIRES,         "Min-Expires",         0)                       \
	X(RSEQ,                "RSeq",                0)                       \
	X(RACK,                "RAck",                0)                       \
	X(EVENT,               "Event",               'o')                     \
	X(ALLOW_EVENTS,        "Allow-Events",        'u')                     \
	X(SUBSCRIPTION_STATE,  "Subscription-State",  0)                       \
	X(REFER_TO,            "Refer-To",            'r')                     \
	X(REFERRED_BY,         "Referred-By",         'b')                     \
	X(REPLACES,            "Replaces",            0)                       \
	X(SUBJECT,             "Subject",             's')                     \
	X(ALLOW,               "Allow",               0)                       \
	X(ACCEPT,              "Accept",              0)                       \
	X(ACCEPT_CONTACT,      "Accept-Contact",      'a')                     \
	X(REJECT_CONTACT,      "Reject-Contact",      'j')                     \
	X(REQUEST_DISPOSITION, "Request-Disposition", 'd')                     \
	X(IDENTITY,            "Identity",            'y')                     \
	X(IDENTITY_INFO,       "Identity-Info",       'n')                     \
	X(SESSION_EXPIRES,     "Session-Expires",     'x')                     \
	X(MIN_SE,              "Min-SE",              0)                       \
	X(AUTHORIZATION,       "Authorization",       0)                       \
	X(PROXY_AUTHORIZATION, "Proxy-Authorization", 0)                       \
	X(WWW_AUTHENTICATE,    "WWW-Authenticate",    0)                       \
	X(PROXY_AUTHENTICATE,  "Proxy-Authenticate",  0)                       \
	X(USER_AGENT,          "User-Agent",          0)                       \
	X(SERVER,              "Server",              0)                       \
	X(WARNING,             "Warning",             0)                       \
	X(RETRY_AFTER,         "Retry-After",         0)                       \
	X(REASON,              "Reason",              0)                       \
	X(PATH,                "Path",                0)                       \
	X(P_ASSERTED_IDENTITY, "P-Asserted-Identity", 0)                       \
	X(P_PREFERRED_IDENTITY,"P-Preferred-Identity",0)                       \
	X(ERROR_INFO,          "Error-Info",          0)                       \
	X(CALL_INFO,           "Call-Info",           0)                       \
	X(ALERT_INFO,          "Alert-Info",          0)                       \
	X(DATE,                "Date",                0)                       \
	X(TIMESTAMP,           "Timestamp",           0)                       \
	X(ORGANIZATION,        "Organization",        0)                       \
	X(PRIORITY,            "Priority",            0)                       \
	X(IN_REPLY_TO,         "In-Reply-To",         0)                       \
	X(REPLY_TO,            "Reply-To",            0)                       \
	X(MIME_VERSION,        "MIME-Version",        0)                       \
	X(CONTENT_DISPOSITION, "Content-Disposition", 0)                       \
	X(CONTENT_LANGUAGE,    "Content-Language",    0)                       \
	X(ACCEPT_ENCODING,     "Accept-Encoding",     0)                       \
	X(ACCEPT_LANGUAGE,     "Accept-Language",     0)                       \
	X(AUTHENTICATION_INFO, "Authentication-Info", 0)

enum sip_hdr_id {
	SIP_H_OTHER = 0,
#define SIP_H_ENUM(id, name, compact) SIP_H_##id,
	SIP_HEADERS(SIP_H_ENUM)
#undef SIP_H_ENUM
	SIP_H__COUNT
};

/* Full canonical name of a well-known header ("Call-ID"); NULL for OTHER. */
const char *sip_hdr_name(enum sip_hdr_id id);
/* Look up a header name (full or compact, any case). */
enum sip_hdr_id sip_hdr_lookup(sip_str_t name);

/* ---- parsed values (see the parsers below) ------------------------------ */
enum sip_scheme { SIP_SCHEME_OTHER = 0, SIP_SCHEME_SIP, SIP_SCHEME_SIPS, SIP_SCHEME_TEL };
enum sip_host_type { SIP_HOST_NAME = 0, SIP_HOST_IPV4, SIP_HOST_IPV6 };

struct sip_nameaddr {
	sip_str_t display;   /* without quotes; escapes left as received */
	sip_str_t uri;       /* inside <> or the bare addr-spec */
	bool angle;          /* URI was in <> */
	sip_str_t params;    /* header params after the URI (from the first ';') */
	sip_str_t tag;       /* value of ;tag= if present */
	bool star;           /* Contact: * */
};

struct sip_via {
	sip_str_t value;      /* the whole via-parm */
	sip_str_t proto;      /* "SIP" */
	sip_str_t version;    /* "2.0" */
	sip_str_t transport;  /* "UDP", "TCP", "TLS", "SCTP", "WS", ... */
	sip_str_t host;       /* IPv6 without brackets */
	enum sip_host_type host_type;
	uint16_t port;        /* 0 if absent */
	sip_str_t params;     /* from the first ';' */
	sip_str_t branch;
	sip_str_t received;
	sip_str_t maddr;
	bool has_rport;
	uint16_t rport;       /* 0 when ;rport has no value */
	uint8_t ttl;
};

struct sip_cseq {
	uint32_t seq;
	enum sip_method method;
	sip_str_t method_name;
};

/* ---- the message -------------------------------------------------------- */
#define SIP_HDR_NONE 0xffffu

struct sip_hdr {
	sip_str_t name;    /* as received */
	sip_str_t value;   /* trimmed; may contain folded CRLF+WSP inside */
	uint32_t off;      /* first byte of the header line */
	uint32_t end;      /* one past the line's terminating CRLF (or LF) */
	uint16_t id;       /* enum sip_hdr_id */
	uint16_t next;     /* next header line with the same id, or SIP_HDR_NONE */
};

struct sip_msg {
	const char *buf;   /* the datagram (not owned) */
	uint32_t len;      /* datagram length */
	bool is_request;

	/* Request-Line (is_request) */
	enum sip_method method;
	sip_str_t method_name;
	sip_str_t ruri;
	/* Status-Line (!is_request) */
	uint16_t status;
	sip_str_t reason;
	sip_str_t version;        /* "SIP/2.0" as received */
	uint32_t start_line_end;  /* offset just past the start line's CRLF */

	uint32_t hdr_end;         /* offset of the empty line ending the headers */
	uint32_t body_off;        /* offset of the body */
	uint32_t body_len;        /* by Content-Length, or to the end (no C-L) */
	bool has_content_length;
	bool has_nul;             /* a NUL byte somewhere after the start line */

	/* Filled by sip_check(): the single-value headers it validated, so the
	 * accessors below (sip_msg_from/to/cseq/top_via/max_forwards) return
	 * them without parsing again. Cleared by sip_parse(). */
	bool checked;
	bool has_max_forwards;
	uint32_t max_forwards;
	struct sip_cseq cseq;
	struct sip_nameaddr from, to;
	struct sip_via top_via;

	uint16_t nhdr;
	uint16_t first[SIP_H__COUNT]; /* first line of each id, or SIP_HDR_NONE */
	uint16_t last[SIP_H__COUNT];  /* last line of each id (for list append) */
	uint8_t count[SIP_H__COUNT];  /* lines per id, saturating at 255 */
	struct sip_hdr hdr[SIP_MAX_HEADERS];
};

/* Index a datagram. Returns SIP_E_OK, or the verdict. On SIP_E_OK the start
 * line, header index and body framing are filled; m->buf aliases buf.
 * Trailing octets after Content-Length are ignored (RFC 3261 18.3). */
SIP_MUST_CHECK enum sip_err sip_parse(struct sip_msg *m, const char *buf, size_t len);

/* RFC 3261 sanity a proxy runs before acting: mandatory headers, duplicate
 * single-value headers, From/To/Call-ID/CSeq well-formed, CSeq method equal
 * to the request method, Via well-formed and bounded, Max-Forwards and
 * Expires numeric. Lazily parses only those headers, and keeps the
 * single-value ones in m for the accessors. */
SIP_MUST_CHECK enum sip_err sip_check(struct sip_msg *m);

/* Proxy sanity of RFC 3261 16.3 on a request that passed sip_check():
 *  - R-URI scheme other than sip/sips/tel: UNSUPPORTED_SCHEME (416);
 *  - not terminating and Max-Forwards 0: TOO_MANY_HOPS (483) (an endpoint,
 *    e.g. the SBC answering OPTIONS to itself, processes it normally);
 *  - option tags of Proxy-Require (and of Require when terminating) that are
 *    not in the NULL-terminated `supported` list: BAD_EXTENSION (420); the
 *    unsupported tags are written comma-separated into unsup (for the
 *    Unsupported header) and their length into *unsup_len.
 * unsup may be NULL when cap is 0. */
SIP_MUST_CHECK enum sip_err sip_proxy_check(const struct sip_msg *m, bool terminating,
					    const char *const *supported, char *unsup,
					    size_t cap, uint32_t *unsup_len);

/* Verdict of a message whose sip_parse()/sip_check() failed: the status to
 * answer, or 0 when it must be dropped (responses, no start line). */
uint16_t sip_verdict_status(const struct sip_msg *m, enum sip_err e);

static inline const struct sip_hdr *sip_hdr_first(const struct sip_msg *m, enum sip_hdr_id id)
{
	uint16_t i = m->first[id];
	return i == SIP_HDR_NONE ? NULL : &m->hdr[i];
}

static inline const struct sip_hdr *sip_hdr_next(const struct sip_msg *m, const struct sip_hdr *h)
{
	return h->next == SIP_HDR_NONE ? NULL : &m->hdr[h->next];
}

/* First header whose name matches (case-insensitive, any id incl. OTHER). */
const struct sip_hdr *sip_hdr_find(const struct sip_msg *m, sip_str_t name);

static inline sip_str_t sip_msg_body(const struct sip_msg *m)
{
	return (sip_str_t){ m->buf + m->body_off, m->body_len };
}

/* ---- generic value helpers ---------------------------------------------- */

/* Parse a decimal uint32 (leading zeros allowed; no sign; overflow fails). */
SIP_MUST_CHECK int sip_parse_u32(sip_str_t s, uint32_t *out);

/* Iterate the comma-separated values of a header across all its lines,
 * honouring quoted strings and <...> so commas inside them do not split.
 * Usage:  struct sip_list_iter it; sip_list_init(&it, m, SIP_H_ROUTE);
 *         while (sip_list_next(&it, &v) > 0) ...   (0 = end, <0 = malformed) */
struct sip_list_iter {
	const struct sip_msg *m;
	const struct sip_hdr *h;
	uint32_t pos;
};
void sip_list_init(struct sip_list_iter *it, const struct sip_msg *m, enum sip_hdr_id id);
int sip_list_next(struct sip_list_iter *it, sip_str_t *value);

/* Parameters ";name[=value]" in a view that starts at or before the first
 * ';'. Returns 1 if present (value may be empty), 0 if absent, <0 if the
 * parameter list is malformed. Name comparison is case-insensitive. */
int sip_param_get(sip_str_t params, const char *name, sip_str_t *value);

/* Iterate parameters: *pos starts at 0. Returns 1 with name/value, 0 at end,
 * <0 when malformed (e.g. empty ";;" parameter). */
int sip_param_next(sip_str_t params, uint32_t *pos, sip_str_t *name, sip_str_t *value);

/* ---- URIs --------------------------------------------------------------- */

struct sip_uri {
	enum sip_scheme scheme;
	sip_str_t scheme_str;
	sip_str_t user;      /* escaped, as received; may contain ';' (RFC 4475 semiuri) */
	sip_str_t password;
	sip_str_t host;      /* IPv6 without the brackets */
	enum sip_host_type host_type;
	uint16_t port;       /* 0 if absent */
	bool has_port;
	sip_str_t params;    /* starting at the first ';' after host[:port], or empty */
	sip_str_t headers;   /* after '?', or empty */
	sip_str_t opaque;    /* the part after "scheme:" for non-sip schemes; tel number */
};

/* Parse a URI (no angle brackets, no surrounding LWS). sip/sips get the full
 * RFC 3261 grammar; tel: the number in user and params; other schemes are
 * accepted as scheme ":" opaque. Returns 0 or <0 when malformed. */
SIP_MUST_CHECK int sip_uri_parse(sip_str_t s, struct sip_uri *u);

/* Unescape %HH into out (at most cap bytes). Returns length or <0 on a bad
 * escape or overflow. NUL bytes are kept: the result is a view, not a C string. */
SIP_MUST_CHECK int sip_unescape(sip_str_t in, char *out, size_t cap);

/* ---- name-addr / addr-spec (From, To, Contact, Route, Refer-To ...) ------ */

/* Parse one name-addr / addr-spec value (one list element). Returns 0 or <0.
 * For a bare addr-spec, ';' starts header params (RFC 3261 20.10). */
SIP_MUST_CHECK int sip_nameaddr_parse(sip_str_t v, struct sip_nameaddr *na);

/* ---- Via ---------------------------------------------------------------- */

/* Iterate Via values across every Via header line in order. Returns 1 with
 * *via filled, 0 at the end, <0 when a value is malformed. */
struct sip_via_iter {
	struct sip_list_iter li;
};
void sip_via_init(struct sip_via_iter *it, const struct sip_msg *m);
int sip_via_next(struct sip_via_iter *it, struct sip_via *via);
SIP_MUST_CHECK int sip_via_parse(sip_str_t v, struct sip_via *via);

/* RFC 3261 magic cookie "z9hG4bK" followed by at least one character. */
bool sip_branch_is_3261(sip_str_t branch);

/* ---- single-value headers ----------------------------------------------- */
SIP_MUST_CHECK int sip_cseq_parse(sip_str_t v, struct sip_cseq *c);

struct sip_rack {
	uint32_t rseq;
	uint32_t cseq;
	enum sip_method method;
	sip_str_t method_name;
};
SIP_MUST_CHECK int sip_rack_parse(sip_str_t v, struct sip_rack *r);

struct sip_contact {
	struct sip_nameaddr na;
	bool has_expires;
	uint32_t expires;
	sip_str_t q;
};
/* One Contact list element; an expires beyond 2^32-1 saturates to UINT32_MAX
 * (a registrar clamps it to its own maximum anyway). */
SIP_MUST_CHECK int sip_contact_parse(sip_str_t v, struct sip_contact *c);

struct sip_event {
	sip_str_t package;   /* "refer", "presence", "dialog" ... */
	sip_str_t id;        /* ;id= */
	sip_str_t params;
};
SIP_MUST_CHECK int sip_event_parse(sip_str_t v, struct sip_event *e);

/* Content-Type: type "/" subtype *(;param) */
struct sip_ctype {
	sip_str_t type, subtype, params;
};
SIP_MUST_CHECK int sip_ctype_parse(sip_str_t v, struct sip_ctype *c);

/* Header value accessors for the message's single-value headers. Each
 * returns 1 and fills out, 0 if the header is absent, <0 if malformed. */
int sip_msg_call_id(const struct sip_msg *m, sip_str_t *out);
int sip_msg_cseq(const struct sip_msg *m, struct sip_cseq *out);
int sip_msg_from(const struct sip_msg *m, struct sip_nameaddr *out);
int sip_msg_to(const struct sip_msg *m, struct sip_nameaddr *out);
int sip_msg_max_forwards(const struct sip_msg *m, uint32_t *out);
int sip_msg_expires(const struct sip_msg *m, uint32_t *out);
int sip_msg_top_via(const struct sip_msg *m, struct sip_via *out);

/* Is the option tag present in any Require/Supported/... line of id? */
bool sip_msg_has_tag(const struct sip_msg *m, enum sip_hdr_id id, const char *tag);

/* ---- stateless replies ---------------------------------------------------
 * Build a response to request m into out (RFC 3261 8.2.6): status line with
 * the given reason, every Via line, From, To (";tag=" to_tag appended when
 * To has no tag, status > 100 and to_tag is non-empty), Call-ID, CSeq, the
 * caller's extra header lines (raw, each ending CRLF; may be empty), and
 * "Content-Length: 0". Works on a message that failed sip_check(): headers
 * are copied as received (so a 400 still reaches the sender's Via). Returns
 * the length, or -ENOSPC. */
SIP_MUST_CHECK int sip_reply(const struct sip_msg *m, uint16_t status, const char *reason,
			     sip_str_t to_tag, sip_str_t extra_hdrs, char *out, size_t cap);

/* ---- editor -------------------------------------------------------------
 * Collects edits against the original buffer (byte ranges of it replaced,
 * deleted or inserted into) and serializes once. Inserted bytes are copied
 * into the editor's own scratch arena at the call, so callers may pass
 * stack temporaries. Edits may be given in any order; overlapping edits are
 * refused (-EINVAL). Body replacement fixes Content-Length (or adds one). */
#define SIP_EDIT_MAX_OPS     192u  /* a hidden rewrite deletes every Via line */
#define SIP_EDIT_SCRATCH     16384u /* room to restore a whole Via stack */

struct sip_edit_op {
	uint32_t off;        /* replace buf[off, off+len) ... */
	uint32_t len;
	uint32_t ins_off;    /* ... with scratch[ins_off, ins_off+ins_len) */
	uint32_t ins_len;
	uint32_t seq;        /* insertion order for equal offsets */
};

struct sip_editor {
	const struct sip_msg *m;
	uint16_t nops;
	bool body_set;
	bool failed;         /* sticky: an op was refused; serialize fails */
	sip_str_t body;      /* new body (not copied: caller keeps it alive) */
	uint32_t scratch_used;
	struct sip_edit_op ops[SIP_EDIT_MAX_OPS];
	char scratch[SIP_EDIT_SCRATCH];
};

void sip_edit_init(struct sip_editor *e, const struct sip_msg *m);
/* Replace bytes [off, off+len) of the original message. */
int sip_edit_replace(struct sip_editor *e, uint32_t off, uint32_t len, sip_str_t with);
/* Remove a whole header line (index into m->hdr). */
int sip_edit_delete_hdr(struct sip_editor *e, uint16_t idx);
/* Remove every line of a well-known header. */
int sip_edit_delete_all(struct sip_editor *e, enum sip_hdr_id id);
/* Replace a header line's value, keeping its name as received. */
int sip_edit_replace_value(struct sip_editor *e, uint16_t idx, sip_str_t value);
/* Insert a full header line "Name: value" (CRLF added) before header idx;
 * idx == m->nhdr appends after the last header. */
int sip_edit_insert_hdr(struct sip_editor *e, uint16_t idx, sip_str_t name, sip_str_t value);
/* Replace the body; Content-Length is set to its length. */
int sip_edit_set_body(struct sip_editor *e, sip_str_t body);
/* Write the edited message into out. Returns its length, or -ENOSPC /
 * -EINVAL (a refused edit earlier). */
SIP_MUST_CHECK int sip_edit_serialize(struct sip_editor *e, char *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* SBC_SIP_H */
