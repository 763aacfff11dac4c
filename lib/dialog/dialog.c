/* SPDX-License-Identifier: BSD-3-Clause */
/* Per-shard dialog table: pool of dialogs, SipHash index, wheel timers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dialog.h"
#include "htab.h"
#include "pool.h"
#include "sbc_defs.h"

/* A BYE for a dialog that outlived its Contact/route must not be needed
 * before this grace after a subscription's expiry (RFC 6665 4.1.2.2 lets
 * the notifier send a final NOTIFY late). */
#define DLG_SUB_GRACE_S 32u

enum { TAG_MAX = DLG_TIMER_TAG_BASE, TAG_EXPIRE = DLG_TIMER_TAG_BASE + 1 };

struct dlg_table {
	struct pool *pool;
	struct htab *index;
	struct wheel *wheel;
	const struct dlg_ops *ops;
	void *ctx;
	uint32_t max_duration_s;
	struct dlg_stats st;
};

static bool key_eq(void *ctx, uint32_t val, const void *key, size_t len)
{
	struct dlg_table *t = ctx;
	const struct dlg *d = pool_at(t->pool, val);
	return d->key_len == len && memcmp(d->key, key, len) == 0;
}

struct dlg_table *dlg_table_create(const struct dlg_config *cfg, struct wheel *w,
				   const struct dlg_ops *ops, void *ctx)
{
	struct sbc_hash_key k = { cfg->seed[0], cfg->seed[1] };
	struct dlg_table *t = calloc(1, sizeof(*t));
	if (!t || !cfg->max_dialogs)
		goto fail;
	t->pool = pool_create(cfg->max_dialogs, sizeof(struct dlg), 0);
	t->index = htab_create(cfg->max_dialogs, &k, key_eq, t);
	if (!t->pool || !t->index)
		goto fail;
	t->wheel = w;
	t->ops = ops;
	t->ctx = ctx;
	t->max_duration_s = cfg->max_duration_s;
	return t;
fail:
	dlg_table_destroy(t);
	return NULL;
}

void dlg_table_destroy(struct dlg_table *t)
{
	if (!t)
		return;
	if (t->pool && t->index) {
		uint32_t cur = 0, v;
		while ((v = htab_next(t->index, &cur)) != HTAB_NONE) {
			struct dlg *d = pool_at(t->pool, v);
			wheel_cancel(t->wheel, &d->t_max);
			wheel_cancel(t->wheel, &d->t_expire);
		}
	}
	htab_destroy(t->index);
	pool_destroy(t->pool);
	free(t);
}

/* Call-ID \0 smaller-tag \0 larger-tag: the same key from either side. */
static int make_key(char *out, sip_str_t cid, sip_str_t a, sip_str_t b)
{
	if ((size_t)cid.len + a.len + b.len + 2 > DLG_KEY_MAX)
		return -ENAMETOOLONG;
	int c = memcmp(a.p, b.p, a.len < b.len ? a.len : b.len);
	if (c > 0 || (c == 0 && a.len > b.len)) {
		sip_str_t x = a;
		a = b;
		b = x;
	}
	size_t n = 0;
	memcpy(out, cid.p, cid.len);
	n += cid.len;
	out[n++] = 0;
	if (a.len)
		memcpy(out + n, a.p, a.len);
	n += a.len;
	out[n++] = 0;
	if (b.len)
		memcpy(out + n, b.p, b.len);
	n += b.len;
	return (int)n;
}

struct dlg *dlg_find(struct dlg_table *t, sip_str_t call_id, sip_str_t tag_a, sip_str_t tag_b)
{
	char key[DLG_KEY_MAX];
	int n = make_key(key, call_id, tag_a, tag_b);
	if (n < 0)
		return NULL;
	uint32_t v = htab_find(t->index, key, (size_t)n);
	return v == HTAB_NONE ? NULL : pool_at(t->pool, v);
}

sip_str_t dlg_store(struct dlg *d, sip_str_t s)
{
	if (s.len > DLG_ARENA - d->arena_used) {
		d->can_end = false;
		return SIP_STR_NULL;
	}
	char *p = d->arena + d->arena_used;
	if (s.len)
		memcpy(p, s.p, s.len);
	d->arena_used = (uint16_t)(d->arena_used + s.len);
	return (sip_str_t){ p, s.len };
}

struct dlg *dlg_create(struct dlg_table *t, enum sip_method usage, sip_str_t call_id,
		       sip_str_t tag_caller, sip_str_t tag_callee, uint64_t now_ms)
{
	char key[DLG_KEY_MAX];
	int n = make_key(key, call_id, tag_caller, tag_callee);
	if (n < 0)
		return NULL;
	struct dlg *d = pool_get(t->pool);
	if (!d) {
		t->st.table_full++;
		return NULL;
	}
	memset(d, 0, offsetof(struct dlg, key));
	memcpy(d->key, key, (size_t)n);
	d->key_len = (uint16_t)n;
	uint32_t idx = pool_idx(t->pool, d);
	uint64_t h = htab_hash(t->index, key, (size_t)n);
	if (htab_insert_h(t->index, h, key, (size_t)n, idx) < 0) {
		pool_put(t->pool, d);
		return NULL;
	}
	d->key_hash = (uint32_t)(h >> 32);
	d->state = DLG_EARLY;
	d->usage = usage;
	d->can_end = true;
	d->created_ms = now_ms;
	/* the key already holds the Call-ID: point at it, no second copy */
	d->call_id = (sip_str_t){ d->key, call_id.len };
	d->tag_caller = dlg_store(d, tag_caller);
	d->tag_callee = dlg_store(d, tag_callee);
	wheel_timer_init(&d->t_max, TAG_MAX);
	wheel_timer_init(&d->t_expire, TAG_EXPIRE);
	t->st.created++;
	t->st.early++;
	t->st.active++;
	return d;
}

void dlg_confirm(struct dlg_table *t, struct dlg *d, uint64_t now_ms)
{
	if (d->state != DLG_EARLY)
		return;
	d->state = DLG_CONFIRMED;
	d->confirmed_ms = now_ms;
	t->st.early--;
	t->st.confirmed++;
	if (d->usage == SIP_M_INVITE && t->max_duration_s)
		wheel_add(t->wheel, &d->t_max, now_ms + (uint64_t)t->max_duration_s * 1000u);
}

void dlg_set_expiry(struct dlg_table *t, struct dlg *d, uint32_t expires_s)
{
	wheel_add_in(t->wheel, &d->t_expire, ((uint64_t)expires_s + DLG_SUB_GRACE_S) * 1000u);
}

void dlg_destroy(struct dlg_table *t, struct dlg *d)
{
	wheel_cancel(t->wheel, &d->t_max);
	wheel_cancel(t->wheel, &d->t_expire);
	uint32_t idx = pool_idx(t->pool, d);
	uint64_t h = htab_hash(t->index, d->key, d->key_len);
	(void)htab_remove_val(t->index, h, idx);
	if (d->state == DLG_EARLY)
		t->st.early--;
	d->state = DLG_TERMINATED;
	t->st.active--;
	t->st.destroyed++;
	pool_put(t->pool, d);
}

void dlg_timer_fire(struct dlg_table *t, struct wheel_timer *tm)
{
	if (tm->tag == TAG_MAX)
		t->ops->expired(t->ctx, sbc_container_of(tm, struct dlg, t_max), DLG_END_MAX_DURATION);
	else if (tm->tag == TAG_EXPIRE)
		t->ops->expired(t->ctx, sbc_container_of(tm, struct dlg, t_expire), DLG_END_SUB_EXPIRED);
}

void dlg_table_stats(const struct dlg_table *t, struct dlg_stats *out)
{
	*out = t->st;
}
