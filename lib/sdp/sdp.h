/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/sdp — zero-copy SDP parser and rewriter (RFC 8866, RFC 4566) for media
 * anchoring and topology hiding.
 *
 * Ownership and threads
 *   The caller owns every buffer. sdp_parse() indexes the body it is given
 *   and never copies or allocates: struct sdp holds {ptr,len} views into that
 *   buffer, so the buffer must outlive the struct and must not change while
 *   the struct is used. struct sdp is a fixed-size value (about 7 KiB, bounded
 *   by SDP_MAX_LINES and SDP_MAX_MEDIA) that one thread owns; keep it in a
 *   per-worker scratch area rather than on a small stack. The library has no
 *   global mutable state, never allocates, never logs and is safe to use from
 *   any number of threads on distinct structs.
 *
 * What is parsed
 *   v= o= s= t= c= m= and a= lines are parsed; every other line type (i= u=
 *   e= p= b= z= k= r= and unknown letters) is kept as an opaque line. Lines end
 *   in CRLF or a bare LF (mixed is fine); the last line may be unterminated
 *   and blank lines at the very end are tolerated. The rewriter keeps every
 *   byte it does not have to change, including each line's own terminator.
 *   Session-level line types (v o s t) inside a media section are refused;
 *   other line types are accepted anywhere (real peers get the order wrong).
 *
 * Two verdicts (the caller maps them to a SIP answer with sdp_err_status())
 *   sdp_parse()  syntax: 400 when the body is not valid SDP, 488 when it is
 *                valid but beyond this library's limits.
 *   sdp_check()  usability for anchoring: 488 when the SDP is valid but the
 *                SBC cannot relay it (no media, every stream disabled,
 *                multicast / FQDN / non-IN connection, m= port/n).
 *   Rule: 400 means any compliant parser would reject the body; 488 means the
 *   body is fine but not acceptable here. For an SDP in a response there is
 *   nothing to answer; the caller counts the error and tears down.
 */
#ifndef SBC_SDP_H
#define SBC_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sip.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SDP_MUST_CHECK __attribute__((warn_unused_result))

/* ---- limits a peer controls (STYLE 7); exceeding one is an error ---------- */
#define SDP_MAX_BODY  16384u /* bytes of SDP body */
#define SDP_MAX_LINES 256u   /* lines, not counting trailing blank lines */
#define SDP_MAX_MEDIA 16u    /* m= sections; a 17th is SDP_E_TOO_MANY_MEDIA */
#define SDP_NO_LINE   0xffffu

/* ---- errors: one table, status + reason (status 0 only for OK) ----------- */
#define SDP_ERRORS(X)                                                               \
	X(OK,                0,   "OK")                                              \
	X(NOT_SDP,           400, "Bad Request - Body is not SDP")                   \
	X(NUL_BYTE,          400, "Bad Request - NUL byte in SDP")                   \
	X(MISSING_V,         400, "Bad Request - SDP does not start with v=")        \
	X(BAD_V,             400, "Bad Request - SDP version is not 0")              \
	X(BAD_LINE,          400, "Bad Request - Malformed SDP line")                \
	X(BAD_ORDER,         400, "Bad Request - SDP session line in media section") \
	X(DUP_LINE,          400, "Bad Request - Duplicate SDP v=, o=, s= or c=")    \
	X(MISSING_O,         400, "Bad Request - SDP o= line missing")               \
	X(MISSING_S,         400, "Bad Request - SDP s= line missing")               \
	X(MISSING_T,         400, "Bad Request - SDP t= line missing")               \
	X(BAD_O,             400, "Bad Request - Malformed SDP o= line")             \
	X(BAD_C,             400, "Bad Request - Malformed SDP c= line")             \
	X(BAD_T,             400, "Bad Request - Malformed SDP t= line")             \
	X(BAD_M,             400, "Bad Request - Malformed SDP m= line")             \
	X(BAD_RTCP,          400, "Bad Request - Malformed SDP a=rtcp")              \
	X(NO_CONN,           400, "Bad Request - SDP media without c= line")         \
	X(TOO_BIG,           488, "Not Acceptable Here - SDP body too large")        \
	X(TOO_MANY_LINES,    488, "Not Acceptable Here - Too many SDP lines")        \
	X(TOO_MANY_MEDIA,    488, "Not Acceptable Here - Too many SDP media")        \
	X(NO_MEDIA,          488, "Not Acceptable Here - SDP has no media")          \
	X(NO_ACTIVE_MEDIA,   488, "Not Acceptable Here - All SDP media disabled")    \
	X(UNSUPPORTED_CONN,  488, "Not Acceptable Here - SDP address not unicast IP") \
	X(UNSUPPORTED_MEDIA, 488, "Not Acceptable Here - SDP media with port count")

enum sdp_err {
#define SDP_ERR_ENUM(name, status, reason) SDP_E_##name,
	SDP_ERRORS(SDP_ERR_ENUM)
#undef SDP_ERR_ENUM
	SDP_E__COUNT
};

/* SIP status for e (400 or 488; 0 for SDP_E_OK), its reason phrase, and its
 * name ("BAD_M") for a metric label. Out-of-range values give 500 / "?". */
uint16_t sdp_err_status(enum sdp_err e);
const char *sdp_err_reason(enum sdp_err e);
const char *sdp_err_name(enum sdp_err e);

/* ---- value types ---------------------------------------------------------- */
enum sdp_addrtype { SDP_AT_OTHER = 0, SDP_AT_IP4, SDP_AT_IP6 };

/* Direction attribute; NONE means "not stated at this level". */
enum sdp_dir { SDP_DIR_NONE = 0, SDP_DIR_SENDRECV, SDP_DIR_SENDONLY,
	       SDP_DIR_RECVONLY, SDP_DIR_INACTIVE };
const char *sdp_dir_name(enum sdp_dir d); /* "sendrecv" ..., "" for NONE */

/* Attributes the library acts on; everything else is SDP_A_OTHER.
 * Names match case-insensitively. */
#define SDP_ATTRS(X)                                      \
	X(RTCP,              "rtcp")                      \
	X(RTCP_MUX,          "rtcp-mux")                  \
	X(SENDRECV,          "sendrecv")                  \
	X(SENDONLY,          "sendonly")                  \
	X(RECVONLY,          "recvonly")                  \
	X(INACTIVE,          "inactive")                  \
	X(CANDIDATE,         "candidate")                 \
	X(REMOTE_CANDIDATES, "remote-candidates")         \
	X(ICE_UFRAG,         "ice-ufrag")                 \
	X(ICE_PWD,           "ice-pwd")                   \
	X(ICE_OPTIONS,       "ice-options")               \
	X(ICE_LITE,          "ice-lite")                  \
	X(ICE_MISMATCH,      "ice-mismatch")              \
	X(ICE_PACING,        "ice-pacing")                \
	X(END_OF_CANDIDATES, "end-of-candidates")

enum sdp_attr_id {
	SDP_A_OTHER = 0,
#define SDP_A_ENUM(id, name) SDP_A_##id,
	SDP_ATTRS(SDP_A_ENUM)
#undef SDP_A_ENUM
	SDP_A__COUNT
};

/* One line of the body. */
struct sdp_line {
	uint32_t off;    /* offset of the type letter */
	uint16_t len;    /* bytes up to (not including) the terminator */
	uint8_t eol;     /* terminator length: 2 CRLF, 1 LF, 0 unterminated last line */
	char type;       /* 'v', 'o', 'a', ... */
	uint8_t attr;    /* enum sdp_attr_id for a= lines, else 0 */
	uint8_t media;   /* 0: session level; i + 1: media section i */
};

/* A connection address: c= line, o= address, or the address part of a=rtcp. */
struct sdp_conn {
	sip_str_t nettype;  /* "IN" */
	sip_str_t addrtype; /* "IP4" / "IP6" as received */
	sip_str_t addr;     /* the address alone, without "/ttl/num" */
	sip_str_t token;    /* the whole connection-address token, with "/ttl/num" */
	uint8_t type;       /* enum sdp_addrtype (OTHER unless nettype is IN) */
	bool present;
	bool fqdn;          /* a domain name rather than an IP literal */
	bool unspec;        /* 0.0.0.0 or :: (RFC 2543 hold) */
	bool multicast;     /* a multicast literal, or a "/ttl" or "/num" suffix */
	uint16_t line;      /* index into sdp.line, SDP_NO_LINE if absent */
};

struct sdp_origin {
	sip_str_t user, sess_id, sess_version;
	struct sdp_conn conn;  /* nettype, addrtype, unicast-address */
};

struct sdp_media {
	sip_str_t type;        /* "audio", "video", "application", ... */
	sip_str_t port_str;    /* the port token, without "/n" */
	sip_str_t proto;       /* "RTP/AVP", "UDP/TLS/RTP/SAVPF", ... */
	sip_str_t fmts;        /* the format list as received (>= 1 format) */
	uint16_t port;
	uint16_t nports;       /* n of "port/n"; 1 when absent */
	uint16_t nfmt;
	uint16_t line;         /* index of the m= line */
	uint16_t end;          /* one past the section's last line */
	uint16_t nconn;        /* media-level c= lines (more than 1: layered multicast) */
	struct sdp_conn conn;  /* first media-level c=; .present false if none */
	bool has_rtcp;         /* a=rtcp present (the first one is described) */
	bool rtcp_mux;         /* a=rtcp-mux present */
	uint16_t rtcp_port;
	uint16_t rtcp_line;
	struct sdp_conn rtcp_conn; /* address part of a=rtcp; .present false if none */
	uint8_t dir;           /* enum sdp_dir stated at media level (last one wins) */
	uint16_t ncandidates;        /* a=candidate lines */
	uint16_t nremote_candidates; /* a=remote-candidates lines */
	bool ice;              /* a=ice-ufrag at media level */
};

struct sdp {
	const char *buf;       /* the body (not owned) */
	uint32_t len;
	uint32_t err_off;      /* on error: offset of the offending line (for logs) */
	struct sdp_origin origin;
	sip_str_t name;        /* s= value */
	struct sdp_conn conn;  /* session-level c=; .present false if none */
	uint8_t dir;           /* enum sdp_dir stated at session level */
	uint16_t ncandidates;  /* session-level a=candidate (invalid there, counted) */
	uint16_t ntime;        /* t= lines */
	bool ice;              /* a=ice-ufrag at session level */
	uint16_t session_end;  /* index of the first m= line, or nlines */
	uint16_t nlines;
	uint16_t nmedia;
	struct sdp_media media[SDP_MAX_MEDIA];
	struct sdp_line line[SDP_MAX_LINES];
};

/* ---- parsing -------------------------------------------------------------- */

/* Index an SDP body of len bytes. Returns SDP_E_OK or the first error found;
 * on error s->err_off tells where, s->nlines and s->nmedia are 0 (so
 * sdp_rewrite() refuses the struct) and the rest of *s is unspecified. */
SDP_MUST_CHECK enum sdp_err sdp_parse(struct sdp *s, const char *buf, size_t len);

/* Can the SBC anchor this SDP? Call it on a successfully parsed s. Every
 * media with a non-zero port must have one unicast IP4/IP6 literal
 * connection address (0.0.0.0 and :: allowed; so must its a=rtcp address)
 * and a single port; there must be at least one media and one non-zero
 * port. Returns SDP_E_OK or a 488-class error. */
SDP_MUST_CHECK enum sdp_err sdp_check(const struct sdp *s);

/* ---- accessors ------------------------------------------------------------ */

static inline const struct sdp_media *sdp_media(const struct sdp *s, unsigned i)
{
	return i < s->nmedia ? &s->media[i] : NULL;
}

/* Line idx (< s->nlines) without its terminator. */
static inline sip_str_t sdp_line_str(const struct sdp *s, unsigned idx)
{
	const struct sdp_line *l = &s->line[idx];
	return (sip_str_t){ s->buf + l->off, l->len };
}

/* Effective connection of media i: its own first c=, else the session c=;
 * NULL when neither exists (only possible for a port-0 media) or i is out of
 * range. */
const struct sdp_conn *sdp_media_conn(const struct sdp *s, unsigned i);

/* Effective direction of media i: media level, else session level, else
 * sendrecv (RFC 8866 6.7). SDP_DIR_NONE only when i is out of range. */
enum sdp_dir sdp_media_dir(const struct sdp *s, unsigned i);

/* Media i is on hold: effective direction sendonly / inactive (RFC 3264
 * 8.4), or effective address unspecified (c=0.0.0.0 or ::, the RFC 2543
 * way) unless the media uses ICE (a=ice-ufrag at either level, or
 * a=candidate), where 0.0.0.0 only means "no candidate yet" (RFC 8839).
 * False for an out-of-range i. */
bool sdp_media_is_hold(const struct sdp *s, unsigned i);

/* Every media with a non-zero port is on hold (false when there is none). */
bool sdp_is_hold(const struct sdp *s);

/* Where media i's peer expects RTCP: its RTP port with a=rtcp-mux (RFC 5761;
 * read media.rtcp_port directly when mux was not negotiated), else the
 * a=rtcp port (RFC 3605), else RTP port + 1. Returns 0 for a disabled
 * stream (port 0), -EINVAL for a bad index, -ERANGE when port + 1 > 65535. */
int sdp_media_rtcp_port(const struct sdp *s, unsigned i);

/* Iterate the formats of a media: *pos starts at 0. Returns 1 with *fmt
 * filled, 0 at the end. */
int sdp_fmt_next(const struct sdp_media *m, uint32_t *pos, sip_str_t *fmt);

/* Iterate the a= lines named name (case-insensitive, a NUL-terminated
 * literal) at one level: media = -1 for the session level, else the media
 * index. *pos starts at 0. Returns 1 with *value (after the ':', empty for a
 * flag attribute) and *pos advanced, 0 at the end. */
int sdp_attr_next(const struct sdp *s, int media, const char *name, uint16_t *pos,
		  sip_str_t *value);

/* ---- rewriting ------------------------------------------------------------ *
 * sdp_rewrite() serializes the parsed body into out with these changes and
 * no others (every other byte, line terminator and blank line is copied):
 *
 *  o=   user, sess-id, sess-version and address replaced when given; the
 *       addrtype token changes only when the new type differs, the nettype
 *       only when it was not IN (same for c= and a=rtcp). Keeping
 *       sess-version increasing across offers (RFC 3264 8) is the caller's.
 *  c=   the session c= gets spec.conn when given (ignored when the body has
 *       no session c= line: nothing carries it). A media with its own c=
 *       line(s) gets media[i].conn on each of them. A media that inherits
 *       the session c= and is given an address:
 *         - if spec.conn is empty and every inheriting media that is given
 *           an address is given the same one, and no inheriting active
 *           (port != 0) media is left without one, the session c= is
 *           rewritten to it (one line changes, nothing is inserted);
 *         - otherwise, if its address differs from the session c= as
 *           rewritten (or there is no session c=: a port-0 media), a
 *           media-level "c=IN IP4 addr" line is inserted after the m= line
 *           and any i= lines following it, ending in that line's
 *           terminator (an unterminated last line gets one first).
 *       The whole connection-address token is replaced, "/ttl/num" included:
 *       a relay address is unicast (sdp_check() refuses multicast anyway).
 *  m=   the port token only ("/n" and everything else kept).
 *  a=rtcp  SDP_RTCP_SET rewrites the port of every a=rtcp line of the
 *       media, or inserts "a=rtcp:PORT" as the section's last line if there
 *       is none; SDP_RTCP_REMOVE deletes them. An address part is replaced
 *       by the media's new address (media[i].conn, else spec.conn when the
 *       media inherits the session c=), or removed with SDP_RW_RTCP_DROP_ADDR.
 *  Lines removed by flags (the whole line with its terminator):
 *       SDP_RW_STRIP_CANDIDATES  a=candidate, a=remote-candidates: the
 *                                address-bearing ICE attributes.
 *       SDP_RW_STRIP_ICE         additionally a=ice-ufrag, ice-pwd,
 *                                ice-options, ice-lite, ice-mismatch,
 *                                ice-pacing, end-of-candidates: the SBC
 *                                terminates ICE towards that side. Without
 *                                it, ICE credentials pass unchanged (they
 *                                carry no address).
 *  Nothing else is touched: an address in i=, u=, e=, p=, k= or an unknown
 *  attribute passes through, as does a=rtcp at session level.
 * An all-zero spec reproduces the input byte for byte.
 */
enum sdp_rtcp_op { SDP_RTCP_KEEP = 0, SDP_RTCP_SET, SDP_RTCP_REMOVE };

#define SDP_RW_STRIP_CANDIDATES (1u << 0)
#define SDP_RW_STRIP_ICE        (1u << 1)
#define SDP_RW_RTCP_DROP_ADDR   (1u << 2)

/* A replacement address: empty addr means "keep". addr must be 1..255
 * printable non-space bytes without '/'; type must be IP4 or IP6. */
struct sdp_addr {
	sip_str_t addr;
	enum sdp_addrtype type;
};

struct sdp_media_rewrite {
	bool set_port;
	uint16_t port;
	enum sdp_rtcp_op rtcp;
	uint16_t rtcp_port;      /* for SDP_RTCP_SET */
	struct sdp_addr conn;
};

struct sdp_rewrite {
	uint32_t flags;              /* SDP_RW_* */
	struct sdp_addr origin;      /* o= address */
	sip_str_t origin_user;       /* o= username (1..255 printable, no space) */
	sip_str_t origin_sess_id;    /* o= sess-id (digits) */
	sip_str_t origin_sess_version; /* o= sess-version (digits) */
	struct sdp_addr conn;        /* session-level c= */
	struct sdp_media_rewrite media[SDP_MAX_MEDIA]; /* entries >= nmedia ignored */
};

/* Write the rewritten body into out (cap bytes; must not overlap s->buf).
 * Returns its length, -ENOSPC when cap is too small (out then holds a
 * truncated prefix), or -EINVAL for a bad spec, an unparsed s, or a spec
 * that would give a port to a media that has no c= anywhere (a port-0
 * stream) without giving it an address: the output would not be valid SDP.
 * The caller sets the SIP Content-Length from the returned length. */
SDP_MUST_CHECK int sdp_rewrite(const struct sdp *s, const struct sdp_rewrite *spec,
			       char *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* SBC_SDP_H */
