/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * perf/loadgen/msg — requests and responses built by appending views.
 *
 * Why not snprintf: a 900-byte INVITE through one format string costs
 * about 1 us; appending memcpy'd pieces costs a fraction of that, and at
 * 10k calls/s the loadgen builds some 40k messages per second.
 * Responses copy the request's Via, Record-Route, From, To, Call-ID and
 * CSeq lines byte for byte from the sip_msg index, as RFC 3261 8.2.6 asks.
 */
#include <string.h>

#include "lg.h"

void lg_sb_put(struct lg_sb *b, const void *s, size_t n)
{
	if (n == 0)
		return;   /* empty views may carry NULL: memcpy must not see it */
	if (b->over || n > b->cap - b->len) {
		b->over = true;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += (uint32_t)n;
}

void lg_sb_u32(struct lg_sb *b, uint32_t v)
{
	char tmp[10];
	unsigned n = 0;

	do {
		tmp[sizeof(tmp) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	lg_sb_put(b, tmp + sizeof(tmp) - n, n);
}

void lg_sb_hex(struct lg_sb *b, uint64_t v, unsigned digits)
{
	static const char hx[] = "0123456789abcdef";
	char tmp[16];

	if (digits > 16)
		digits = 16;
	for (unsigned i = 0; i < digits; i++)
		tmp[digits - 1 - i] = hx[(v >> (4 * i)) & 15];
	lg_sb_put(b, tmp, digits);
}

static void put_nameaddr(struct lg_sb *b, sip_str_t uri, sip_str_t tag)
{
	lg_sb_lit(b, "<");
	lg_sb_str(b, uri);
	lg_sb_lit(b, ">");
	if (tag.len) {
		lg_sb_lit(b, ";tag=");
		lg_sb_str(b, tag);
	}
	lg_sb_lit(b, "\r\n");
}

static void put_optional(struct lg_sb *b, const struct lg_req *r)
{
	if (r->route.len) {
		lg_sb_lit(b, "Route: ");
		lg_sb_str(b, r->route);
		lg_sb_lit(b, "\r\n");
	}
	if (r->contact.len) {
		lg_sb_lit(b, "Contact: <");
		lg_sb_str(b, r->contact);
		lg_sb_lit(b, ">\r\n");
	}
	if (r->expires >= 0) {
		lg_sb_lit(b, "Expires: ");
		lg_sb_u32(b, (uint32_t)r->expires);
		lg_sb_lit(b, "\r\n");
	}
	if (r->body.len) {
		lg_sb_lit(b, "Content-Type: ");
		lg_sb_str(b, r->ctype);
		lg_sb_lit(b, "\r\n");
	}
}

int lg_build_request(const struct lg_worker *w, const struct lg_req *r, char *out, uint32_t cap)
{
	struct lg_sb b = { out, 0, cap, false };
	const char *mname = sip_method_name(r->method);
	size_t mlen = strlen(mname);

	lg_sb_put(&b, mname, mlen);
	lg_sb_lit(&b, " ");
	lg_sb_str(&b, r->ruri);
	lg_sb_lit(&b, " SIP/2.0\r\nVia: SIP/2.0/UDP ");
	lg_sb_put(&b, w->local_hp, w->local_hp_len);
	lg_sb_lit(&b, ";branch=");
	lg_sb_str(&b, r->branch);
	lg_sb_lit(&b, ";rport\r\nMax-Forwards: 70\r\nFrom: ");
	put_nameaddr(&b, r->from_uri, r->from_tag);
	lg_sb_lit(&b, "To: ");
	put_nameaddr(&b, r->to_uri, r->to_tag);
	lg_sb_lit(&b, "Call-ID: ");
	lg_sb_str(&b, r->call_id);
	lg_sb_lit(&b, "\r\nCSeq: ");
	lg_sb_u32(&b, r->cseq);
	lg_sb_lit(&b, " ");
	lg_sb_put(&b, mname, mlen);
	lg_sb_lit(&b, "\r\n");
	put_optional(&b, r);
	lg_sb_lit(&b, "User-Agent: sbc-loadgen\r\nContent-Length: ");
	lg_sb_u32(&b, r->body.len);
	lg_sb_lit(&b, "\r\n\r\n");
	lg_sb_str(&b, r->body);
	return b.over ? -1 : (int)b.len;
}

/* The To line with ";tag=" appended to its value (which is trimmed, so the
 * tag lands before any trailing whitespace the sender had). */
static void put_to_with_tag(struct lg_sb *b, const struct sip_msg *m, const struct sip_hdr *h,
			    sip_str_t tag)
{
	uint32_t vend = (uint32_t)(h->value.p - m->buf) + h->value.len;

	lg_sb_put(b, m->buf + h->off, vend - h->off);
	lg_sb_lit(b, ";tag=");
	lg_sb_str(b, tag);
	lg_sb_lit(b, "\r\n");
}

static bool copied_header(uint16_t id, bool rr)
{
	switch (id) {
	case SIP_H_VIA: case SIP_H_FROM: case SIP_H_CALL_ID: case SIP_H_CSEQ:
		return true;
	case SIP_H_RECORD_ROUTE:
		return rr;
	default:
		return false;
	}
}

int lg_build_response(const struct lg_worker *w, const struct sip_msg *m, uint16_t status,
		      sip_str_t to_tag, sip_str_t extra, bool contact, sip_str_t body,
		      char *out, uint32_t cap)
{
	struct lg_sb b = { out, 0, cap, false };
	const char *reason = lg_reason(status);
	bool rr = status > 100 && status < 300;

	lg_sb_lit(&b, "SIP/2.0 ");
	lg_sb_u32(&b, status);
	lg_sb_lit(&b, " ");
	lg_sb_put(&b, reason, strlen(reason));
	lg_sb_lit(&b, "\r\n");
	for (uint16_t i = 0; i < m->nhdr; i++) {
		const struct sip_hdr *h = &m->hdr[i];

		if (h->id == SIP_H_TO && to_tag.len && status > 100)
			put_to_with_tag(&b, m, h, to_tag);
		else if (h->id == SIP_H_TO || copied_header(h->id, rr))
			lg_sb_put(&b, m->buf + h->off, h->end - h->off);
	}
	lg_sb_str(&b, extra);
	if (contact) {
		lg_sb_lit(&b, "Contact: <sip:uas@");
		lg_sb_put(&b, w->local_hp, w->local_hp_len);
		lg_sb_lit(&b, ">\r\n");
	}
	if (body.len)
		lg_sb_lit(&b, "Content-Type: application/sdp\r\n");
	lg_sb_lit(&b, "Server: sbc-loadgen\r\nContent-Length: ");
	lg_sb_u32(&b, body.len);
	lg_sb_lit(&b, "\r\n\r\n");
	lg_sb_str(&b, body);
	return b.over ? -1 : (int)b.len;
}

static uint32_t sdp_one(const struct lg_worker *w, char *out, uint32_t cap, unsigned version,
			uint16_t port, const char *dir)
{
	struct lg_sb b = { out, 0, cap, false };
	bool v6 = w->local.sa.sa_family == AF_INET6;

	lg_sb_lit(&b, "v=0\r\no=loadgen 1 ");
	lg_sb_u32(&b, version);
	lg_sb_put(&b, v6 ? " IN IP6 " : " IN IP4 ", 8);
	lg_sb_put(&b, w->local_ip, w->local_ip_len);
	lg_sb_lit(&b, "\r\ns=-\r\nc=");
	lg_sb_put(&b, v6 ? "IN IP6 " : "IN IP4 ", 7);
	lg_sb_put(&b, w->local_ip, w->local_ip_len);
	lg_sb_lit(&b, "\r\nt=0 0\r\nm=audio ");
	lg_sb_u32(&b, port);
	lg_sb_lit(&b, " RTP/AVP 0 8 101\r\n"
		      "a=rtpmap:0 PCMU/8000\r\n"
		      "a=rtpmap:8 PCMA/8000\r\n"
		      "a=rtpmap:101 telephone-event/8000\r\n"
		      "a=fmtp:101 0-15\r\n"
		      "a=ptime:");
	lg_sb_u32(&b, w->rtp ? w->o->rtp_ptime : 20);
	lg_sb_lit(&b, "\r\na=");
	lg_sb_put(&b, dir, strlen(dir));
	lg_sb_lit(&b, "\r\n");
	return b.over ? 0 : b.len;
}

/* Without --rtp no RTP is sent: the SDP only makes the calls look like
 * calls to whatever parses or rewrites it on the way. With --rtp every
 * call of a worker advertises the worker's one RTP socket (rtp.c). */
void lg_build_sdp(struct lg_worker *w)
{
	static const struct {
		unsigned version;
		uint16_t port;
		const char *dir;
	} k[4] = {
		[LG_SDP_OFFER] = { 1, 40000, "sendrecv" },
		[LG_SDP_HOLD] = { 2, 40000, "sendonly" },
		[LG_SDP_ANSWER] = { 1, 50000, "sendrecv" },
		[LG_SDP_ANSWER_HOLD] = { 2, 50000, "recvonly" },
	};

	for (int i = 0; i < 4; i++)
		w->sdp_len[i] = sdp_one(w, w->sdp[i], sizeof(w->sdp[i]), k[i].version,
					w->rtp ? w->rtp_port : k[i].port, k[i].dir);
}

const char *lg_reason(uint16_t status)
{
	switch (status) {
	case 100: return "Trying";
	case 180: return "Ringing";
	case 183: return "Session Progress";
	case 200: return "OK";
	case 202: return "Accepted";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 408: return "Request Timeout";
	case 480: return "Temporarily Unavailable";
	case 481: return "Call/Transaction Does Not Exist";
	case 486: return "Busy Here";
	case 487: return "Request Terminated";
	case 488: return "Not Acceptable Here";
	case 500: return "Server Internal Error";
	case 503: return "Service Unavailable";
	case 600: return "Busy Everywhere";
	case 603: return "Decline";
	default: break;
	}
	if (status < 200)
		return "Progress";
	if (status < 300)
		return "OK";
	return "Failure";
}
