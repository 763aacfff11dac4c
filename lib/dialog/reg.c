/* SPDX-License-Identifier: BSD-3-Clause */
#include "reg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"
#include "pool.h"
#include "sbc_defs.h"

struct reg_table {
	struct pool *pool;
	struct htab *index;         /* key: aor \0 contact */
	struct wheel *wheel;
	uint16_t next_gen;
};

static size_t make_key(char *k, sip_str_t aor, sip_str_t contact)
{
	memcpy(k, aor.p, aor.len);
	k[aor.len] = 0;
	memcpy(k + aor.len + 1, contact.p, contact.len);
	return (size_t)aor.len + 1 + contact.len;
}

static bool key_eq(void *ctx, uint32_t val, const void *key, size_t len)
{
	struct reg_table *t = ctx;
	const struct reg_binding *b = pool_at(t->pool, val);
	char k[REG_AOR_MAX + REG_CONTACT_MAX + 1];
	size_t n = make_key(k, (sip_str_t){ b->aor, b->aor_len }, (sip_str_t){ b->contact, b->contact_len });
	return n == len && memcmp(k, key, len) == 0;
}

struct reg_table *reg_table_create(uint32_t max_bindings, struct wheel *w, const uint64_t seed[2])
{
	struct sbc_hash_key k = { seed[0], seed[1] };
	struct reg_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->pool = pool_create(max_bindings, sizeof(struct reg_binding), 0);
	t->index = htab_create(max_bindings, &k, key_eq, t);
	t->wheel = w;
	t->next_gen = (uint16_t)(seed[0] | 1);
	if (!t->pool || !t->index) {
		reg_table_destroy(t);
		return NULL;
	}
	return t;
}

void reg_table_destroy(struct reg_table *t)
{
	if (!t)
		return;
	if (t->pool && t->index) {
		uint32_t cur = 0, v;
		while ((v = htab_next(t->index, &cur)) != HTAB_NONE)
			wheel_cancel(t->wheel, &((struct reg_binding *)pool_at(t->pool, v))->t_expire);
	}
	htab_destroy(t->index);
	pool_destroy(t->pool);
	free(t);
}

static void arm(struct reg_table *t, struct reg_binding *b, uint32_t expires_s)
{
	b->expires_s = expires_s;
	wheel_add_in(t->wheel, &b->t_expire, ((uint64_t)expires_s + REG_GRACE_S) * 1000u);
}

struct reg_binding *reg_bind(struct reg_table *t, sip_str_t aor, sip_str_t contact,
			     const union sbc_sockaddr *from, uint16_t iface, uint16_t realm,
			     uint32_t expires_s)
{
	char k[REG_AOR_MAX + REG_CONTACT_MAX + 1];
	if (!aor.len || aor.len >= REG_AOR_MAX || !contact.len || contact.len >= REG_CONTACT_MAX)
		return NULL;
	size_t n = make_key(k, aor, contact);
	uint64_t h = htab_hash(t->index, k, n);
	uint32_t v = htab_find_h(t->index, h, k, n);
	struct reg_binding *b;
	if (v != HTAB_NONE) {
		b = pool_at(t->pool, v);
	} else {
		b = pool_get(t->pool);
		if (!b)
			return NULL;
		memset(b, 0, offsetof(struct reg_binding, aor));
		memcpy(b->aor, aor.p, aor.len);
		memcpy(b->contact, contact.p, contact.len);
		b->aor_len = (uint16_t)aor.len;
		b->contact_len = (uint16_t)contact.len;
		b->gen = t->next_gen++;
		wheel_timer_init(&b->t_expire, REG_TIMER_TAG);
		if (htab_insert_h(t->index, h, k, n, pool_idx(t->pool, b)) < 0) {
			pool_put(t->pool, b);
			return NULL;
		}
	}
	b->addr = *from;
	b->iface = iface;
	b->realm = realm;
	arm(t, b, expires_s);
	return b;
}

struct reg_binding *reg_find(struct reg_table *t, sip_str_t aor, sip_str_t contact)
{
	char k[REG_AOR_MAX + REG_CONTACT_MAX + 1];
	if (!aor.len || aor.len >= REG_AOR_MAX || !contact.len || contact.len >= REG_CONTACT_MAX)
		return NULL;
	size_t n = make_key(k, aor, contact);
	uint32_t v = htab_find(t->index, k, n);
	return v == HTAB_NONE ? NULL : pool_at(t->pool, v);
}

struct reg_binding *reg_get(struct reg_table *t, uint32_t idx, uint16_t gen)
{
	if (idx >= pool_capacity(t->pool) || !pool_idx_in_use(t->pool, idx))
		return NULL;
	struct reg_binding *b = pool_at(t->pool, idx);
	return b->gen == gen ? b : NULL;
}

uint32_t reg_index(const struct reg_table *t, const struct reg_binding *b)
{
	return pool_idx(t->pool, b);
}

void reg_confirm(struct reg_table *t, struct reg_binding *b, uint32_t expires_s)
{
	if (!expires_s) {
		reg_unbind(t, b);
		return;
	}
	b->confirmed = true;
	b->granted_until_ms = wheel_now(t->wheel) + (uint64_t)expires_s * 1000u;
	arm(t, b, expires_s);
}

void reg_unbind(struct reg_table *t, struct reg_binding *b)
{
	char k[REG_AOR_MAX + REG_CONTACT_MAX + 1];
	size_t n = make_key(k, (sip_str_t){ b->aor, b->aor_len }, (sip_str_t){ b->contact, b->contact_len });
	wheel_cancel(t->wheel, &b->t_expire);
	(void)htab_remove(t->index, k, n);
	b->gen = 0;
	pool_put(t->pool, b);
}

unsigned reg_unbind_aor(struct reg_table *t, sip_str_t aor)
{
	unsigned n = 0;
	for (uint32_t i = 0; i < pool_capacity(t->pool); i++) {
		if (!pool_idx_in_use(t->pool, i))
			continue;
		struct reg_binding *b = pool_at(t->pool, i);
		if (b->aor_len == aor.len && memcmp(b->aor, aor.p, aor.len) == 0) {
			reg_unbind(t, b);
			n++;
		}
	}
	return n;
}

void reg_timer_fire(struct reg_table *t, struct wheel_timer *tm)
{
	reg_unbind(t, sbc_container_of(tm, struct reg_binding, t_expire));
}

uint32_t reg_count(const struct reg_table *t)
{
	return pool_in_use(t->pool);
}
