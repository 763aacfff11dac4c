/* SPDX-License-Identifier: BSD-3-Clause */
/* Stateless responses built from a request (RFC 3261 8.2.6.2). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sip_int.h"

struct wbuf {
	char *p;
	size_t cap, n;
	bool full;
};

static void w_put(struct wbuf *w, const void *p, size_t n)
{
	if (n == 0)
		return; /* empty extra_hdrs may be SIP_STR_NULL: no memcpy(NULL) */
	if (w->full || n > w->cap - w->n) {
		w->full = true;
		return;
	}
	memcpy(w->p + w->n, p, n);
	w->n += n;
}

/* Copy a header line as received, but end it with CRLF: the request may use
 * bare LF (accepted on input), a message we build may not (RFC 3261 7). */
static void w_line(struct wbuf *w, const struct sip_msg *m, const struct sip_hdr *h)
{
	uint32_t e = h->end;
	if (e > h->off && m->buf[e - 1] == '\n')
		e--;
	if (e > h->off && m->buf[e - 1] == '\r')
		e--;
	w_put(w, m->buf + h->off, e - h->off);
	w_put(w, "\r\n", 2);
}

/* Copy every line of a header. */
static void w_lines(struct wbuf *w, const struct sip_msg *m, enum sip_hdr_id id)
{
	for (const struct sip_hdr *h = sip_hdr_first(m, id); h; h = sip_hdr_next(m, h))
		w_line(w, m, h);
}

static void w_to(struct wbuf *w, const struct sip_msg *m, uint16_t status, sip_str_t to_tag)
{
	const struct sip_hdr *h = sip_hdr_first(m, SIP_H_TO);
	struct sip_nameaddr na;
	if (!h)
		return;
	if (status <= 100 || !to_tag.len || sip_nameaddr_parse(h->value, &na) < 0 || na.tag.len) {
		w_line(w, m, h);
		return;
	}
	const char *vend = h->value.p + h->value.len;
	w_put(w, m->buf + h->off, (size_t)(vend - (m->buf + h->off)));
	w_put(w, ";tag=", 5);
	w_put(w, to_tag.p, to_tag.len);
	w_put(w, "\r\n", 2);
}

int sip_reply(const struct sip_msg *m, uint16_t status, const char *reason, sip_str_t to_tag,
	      sip_str_t extra_hdrs, char *out, size_t cap)
{
	struct wbuf w = { out, cap, 0, false };
	char line[160];
	int k = snprintf(line, sizeof(line), "SIP/2.0 %03u %s\r\n", status, reason ? reason : "");
	if (k < 0 || (size_t)k >= sizeof(line))
		return -ENOSPC;
	w_put(&w, line, (size_t)k);
	w_lines(&w, m, SIP_H_VIA);
	w_lines(&w, m, SIP_H_FROM);
	w_to(&w, m, status, to_tag);
	w_lines(&w, m, SIP_H_CALL_ID);
	w_lines(&w, m, SIP_H_CSEQ);
	w_put(&w, extra_hdrs.p, extra_hdrs.len);
	w_put(&w, "Content-Length: 0\r\n\r\n", 21);
	return w.full ? -ENOSPC : (int)w.n;
}
