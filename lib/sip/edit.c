/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Message editor: edits are recorded as (range of the original, bytes to
 * put there) and applied in one pass at serialization, so a message is
 * copied exactly once whatever the number of edits (Via, Contact,
 * Record-Route, body ...). Inserted bytes live in the editor's scratch.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sip_int.h"

void sip_edit_init(struct sip_editor *e, const struct sip_msg *m)
{
	e->m = m;
	e->nops = 0;
	e->body_set = false;
	e->failed = false;
	e->body = SIP_STR_NULL;
	e->scratch_used = 0;
}

static int fail(struct sip_editor *e, int err)
{
	e->failed = true;
	return err;
}

/* Reserve n scratch bytes; returns their offset or -ENOSPC. */
static int64_t scratch_put(struct sip_editor *e, const void *p, size_t n)
{
	if (n > SIP_EDIT_SCRATCH - e->scratch_used)
		return -ENOSPC;
	uint32_t off = e->scratch_used;
	if (n)
		memcpy(e->scratch + off, p, n);
	e->scratch_used += (uint32_t)n;
	return off;
}

static int add_op(struct sip_editor *e, uint32_t off, uint32_t len, int64_t ins_off, uint32_t ins_len)
{
	uint32_t limit = e->m->body_off + e->m->body_len;
	if (ins_off < 0)
		return fail(e, -ENOSPC);
	if (e->nops >= SIP_EDIT_MAX_OPS)
		return fail(e, -ENOSPC);
	if (off > limit || len > limit - off)
		return fail(e, -EINVAL);
	e->ops[e->nops] = (struct sip_edit_op){ off, len, (uint32_t)ins_off, ins_len, e->nops };
	e->nops++;
	return 0;
}

int sip_edit_replace(struct sip_editor *e, uint32_t off, uint32_t len, sip_str_t with)
{
	return add_op(e, off, len, scratch_put(e, with.p, with.len), with.len);
}

int sip_edit_delete_hdr(struct sip_editor *e, uint16_t idx)
{
	if (idx >= e->m->nhdr)
		return fail(e, -EINVAL);
	const struct sip_hdr *h = &e->m->hdr[idx];
	return add_op(e, h->off, h->end - h->off, 0, 0);
}

int sip_edit_delete_all(struct sip_editor *e, enum sip_hdr_id id)
{
	for (const struct sip_hdr *h = sip_hdr_first(e->m, id); h; h = sip_hdr_next(e->m, h)) {
		int r = sip_edit_delete_hdr(e, (uint16_t)(h - e->m->hdr));
		if (r < 0)
			return r;
	}
	return 0;
}

int sip_edit_replace_value(struct sip_editor *e, uint16_t idx, sip_str_t value)
{
	if (idx >= e->m->nhdr)
		return fail(e, -EINVAL);
	const struct sip_hdr *h = &e->m->hdr[idx];
	return sip_edit_replace(e, (uint32_t)(h->value.p - e->m->buf), h->value.len, value);
}

int sip_edit_insert_hdr(struct sip_editor *e, uint16_t idx, sip_str_t name, sip_str_t value)
{
	if (idx > e->m->nhdr)
		return fail(e, -EINVAL);
	uint32_t at = idx == e->m->nhdr ? e->m->hdr_end : e->m->hdr[idx].off;
	int64_t o = scratch_put(e, name.p, name.len);
	if (o >= 0 && scratch_put(e, ": ", 2) >= 0 && scratch_put(e, value.p, value.len) >= 0 &&
	    scratch_put(e, "\r\n", 2) >= 0)
		return add_op(e, at, 0, o, name.len + value.len + 4);
	return fail(e, -ENOSPC);
}

static int set_content_length(struct sip_editor *e, uint32_t n)
{
	char num[16];
	int k = snprintf(num, sizeof(num), "%u", n);
	const struct sip_hdr *cl = sip_hdr_first(e->m, SIP_H_CONTENT_LENGTH);
	if (cl)
		return sip_edit_replace_value(e, (uint16_t)(cl - e->m->hdr), (sip_str_t){ num, (uint32_t)k });
	return sip_edit_insert_hdr(e, e->m->nhdr, SIP_STR("Content-Length"), (sip_str_t){ num, (uint32_t)k });
}

int sip_edit_set_body(struct sip_editor *e, sip_str_t body)
{
	if (e->body_set)
		return fail(e, -EINVAL);
	e->body_set = true;
	e->body = body;
	return set_content_length(e, body.len);
}

/* Order: by offset; at one offset, pure inserts first, each in call order. */
static bool op_before(const struct sip_edit_op *a, const struct sip_edit_op *b)
{
	if (a->off != b->off)
		return a->off < b->off;
	if ((a->len == 0) != (b->len == 0))
		return a->len == 0;
	return a->seq < b->seq;
}

static void sort_ops(struct sip_edit_op *ops, unsigned n)
{
	for (unsigned i = 1; i < n; i++) {
		struct sip_edit_op x = ops[i];
		unsigned j = i;
		while (j > 0 && op_before(&x, &ops[j - 1])) {
			ops[j] = ops[j - 1];
			j--;
		}
		ops[j] = x;
	}
}

struct out {
	char *p;
	size_t cap, n;
	bool full;
};

static void put(struct out *o, const void *p, size_t n)
{
	if (o->full || n > o->cap - o->n) {
		o->full = true;
		return;
	}
	if (n) /* an empty body may be SIP_STR_NULL: memcpy(NULL, 0) is UB */
		memcpy(o->p + o->n, p, n);
	o->n += n;
}

int sip_edit_serialize(struct sip_editor *e, char *out, size_t cap)
{
	const struct sip_msg *m = e->m;
	if (e->failed)
		return -EINVAL;
	/* Datagrams without Content-Length (RFC 2543) leave with one, emitted at
	 * the end of the headers after the caller's appends. It is not recorded
	 * as an op: a retry after -ENOSPC must not add a second one. */
	char cl[32];
	int cl_len = 0;
	if (!m->has_content_length && !e->body_set)
		cl_len = snprintf(cl, sizeof(cl), "Content-Length: %u\r\n", m->body_len);
	sort_ops(e->ops, e->nops);
	uint32_t end = e->body_set ? m->body_off : m->body_off + m->body_len;
	for (unsigned i = 0; i < e->nops; i++) {
		const struct sip_edit_op *op = &e->ops[i];
		if (op->off + op->len > end)
			return -EINVAL; /* edit inside a replaced body */
		if (i && op->off < e->ops[i - 1].off + e->ops[i - 1].len)
			return -EINVAL; /* overlapping edits */
		if (cl_len && op->off < m->hdr_end && op->off + op->len > m->hdr_end)
			return -EINVAL; /* overlaps the added Content-Length */
	}
	struct out o = { out, cap, 0, false };
	uint32_t cur = 0;
	for (unsigned i = 0; i < e->nops; i++) {
		const struct sip_edit_op *op = &e->ops[i];
		if (cl_len && (op->off > m->hdr_end || (op->off == m->hdr_end && op->len))) {
			put(&o, m->buf + cur, m->hdr_end - cur);
			put(&o, cl, (size_t)cl_len);
			cur = m->hdr_end;
			cl_len = 0;
		}
		put(&o, m->buf + cur, op->off - cur);
		put(&o, e->scratch + op->ins_off, op->ins_len);
		cur = op->off + op->len;
	}
	if (cl_len) {
		put(&o, m->buf + cur, m->hdr_end - cur);
		put(&o, cl, (size_t)cl_len);
		cur = m->hdr_end;
	}
	put(&o, m->buf + cur, end - cur);
	if (e->body_set)
		put(&o, e->body.p, e->body.len);
	if (o.full)
		return -ENOSPC;
	return (int)o.n;
}
