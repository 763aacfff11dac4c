/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Requests the layer writes itself from a stored INVITE: the hop-by-hop ACK
 * of a non-2xx final (RFC 3261 17.1.1.3) and CANCEL (RFC 3261 9.1). Both
 * carry the INVITE's Request-URI, its top Via only (so the same branch),
 * its Route set, From, Call-ID and CSeq number; they differ in the To
 * (ACK: the response's, with the tag; CANCEL: the INVITE's).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "txn_int.h"

struct wbuf {
	char *p;
	size_t cap, n;
	bool full;
};

static void w_put(struct wbuf *w, const char *p, size_t n)
{
	if (!n)
		return;
	if (w->full || n > w->cap - w->n) {
		w->full = true;
		return;
	}
	memcpy(w->p + w->n, p, n);
	w->n += n;
}

static void w_lit(struct wbuf *w, const char *s)
{
	w_put(w, s, strlen(s));
}

static void w_str(struct wbuf *w, sip_str_t s)
{
	w_put(w, s.p, s.len);
}

/* Every line of a header, as received (name spelling, folding and all). */
static void w_lines(struct wbuf *w, const struct sip_msg *m, enum sip_hdr_id id)
{
	for (const struct sip_hdr *h = sip_hdr_first(m, id); h; h = sip_hdr_next(m, h))
		w_put(w, m->buf + h->off, h->end - h->off);
}

static void w_cseq(struct wbuf *w, uint32_t seq, const char *method)
{
	char line[48];
	int n = snprintf(line, sizeof(line), "CSeq: %u %s\r\n", seq, method);
	w_put(w, line, (size_t)n);
}

/* Request line, the single Via, Route set, Max-Forwards and From. */
static int w_head(struct wbuf *w, const char *method, const struct sip_msg *inv,
		  struct sip_cseq *cseq)
{
	struct sip_via via;

	if (!inv->is_request || sip_msg_top_via(inv, &via) <= 0 || sip_msg_cseq(inv, cseq) <= 0)
		return -EINVAL;
	w_lit(w, method);
	w_lit(w, " ");
	w_str(w, inv->ruri);
	w_lit(w, " SIP/2.0\r\nVia: ");
	w_str(w, via.value);
	w_lit(w, "\r\n");
	w_lines(w, inv, SIP_H_ROUTE);
	w_lit(w, "Max-Forwards: 70\r\n");
	w_lines(w, inv, SIP_H_FROM);
	return 0;
}

static int w_done(struct wbuf *w)
{
	w_lit(w, "Content-Length: 0\r\n\r\n");
	return w->full ? -ENOSPC : (int)w->n;
}

int txn_build_ack(struct txn_shard *sh, const struct sip_msg *inv, const struct sip_msg *rsp)
{
	struct wbuf w = { sh->out, TXN_MAX_MSG, 0, false };
	struct sip_cseq cseq;

	if (w_head(&w, "ACK", inv, &cseq) < 0)
		return -EINVAL;
	w_lines(&w, rsp, SIP_H_TO);
	w_lines(&w, inv, SIP_H_CALL_ID);
	w_cseq(&w, cseq.seq, "ACK");
	return w_done(&w);
}

int txn_build_cancel(struct txn_shard *sh, const struct sip_msg *inv, sip_str_t extra)
{
	struct wbuf w = { sh->out, TXN_MAX_MSG, 0, false };
	struct sip_cseq cseq;

	if (w_head(&w, "CANCEL", inv, &cseq) < 0)
		return -EINVAL;
	w_lines(&w, inv, SIP_H_TO);
	w_lines(&w, inv, SIP_H_CALL_ID);
	w_cseq(&w, cseq.seq, "CANCEL");
	w_str(&w, extra);
	return w_done(&w);
}
