/* SPDX-License-Identifier: BSD-3-Clause */
#include "callid.h"

#include <stdlib.h>
#include <string.h>

#include "htab.h"
#include "pool.h"
#include "sbc_defs.h"

struct cid_map {
	struct pool *pool;
	struct htab *index;        /* key: realm byte + original Call-ID */
	struct wheel *wheel;
	uint64_t linger_ms;
	uint16_t next_gen;
};

static size_t make_key(char *k, sip_str_t cid, uint8_t realm)
{
	k[0] = (char)realm;
	memcpy(k + 1, cid.p, cid.len);
	return (size_t)cid.len + 1;
}

static bool key_eq(void *ctx, uint32_t val, const void *key, size_t len)
{
	struct cid_map *m = ctx;
	const struct cid_entry *e = pool_at(m->pool, val);
	const char *k = key;
	return len == (size_t)e->len + 1 && (uint8_t)k[0] == e->realm && memcmp(k + 1, e->cid, e->len) == 0;
}

struct cid_map *cid_map_create(uint32_t max, struct wheel *w, const uint64_t seed[2], uint32_t linger_s)
{
	struct sbc_hash_key k = { seed[0], seed[1] };
	struct cid_map *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->pool = pool_create(max, sizeof(struct cid_entry), 0);
	m->index = htab_create(max, &k, key_eq, m);
	m->wheel = w;
	m->linger_ms = (uint64_t)linger_s * 1000u;
	m->next_gen = (uint16_t)(seed[1] | 1);
	if (!m->pool || !m->index) {
		cid_map_destroy(m);
		return NULL;
	}
	return m;
}

void cid_map_destroy(struct cid_map *m)
{
	if (!m)
		return;
	if (m->pool && m->index) {
		uint32_t cur = 0, v;
		while ((v = htab_next(m->index, &cur)) != HTAB_NONE)
			wheel_cancel(m->wheel, &((struct cid_entry *)pool_at(m->pool, v))->t);
	}
	htab_destroy(m->index);
	pool_destroy(m->pool);
	free(m);
}

struct cid_entry *cid_map_get(struct cid_map *m, sip_str_t cid, uint8_t realm)
{
	char k[CID_MAX + 1];
	if (!cid.len || cid.len >= CID_MAX)
		return NULL;
	size_t n = make_key(k, cid, realm);
	uint64_t h = htab_hash(m->index, k, n);
	uint32_t v = htab_find_h(m->index, h, k, n);
	struct cid_entry *e;
	if (v != HTAB_NONE) {
		e = pool_at(m->pool, v);
	} else {
		e = pool_get(m->pool);
		if (!e)
			return NULL;
		memcpy(e->cid, cid.p, cid.len);
		e->len = (uint16_t)cid.len;
		e->realm = realm;
		e->gen = m->next_gen++;
		wheel_timer_init(&e->t, CID_TIMER_TAG);
		if (htab_insert_h(m->index, h, k, n, pool_idx(m->pool, e)) < 0) {
			pool_put(m->pool, e);
			return NULL;
		}
	}
	wheel_add_in(m->wheel, &e->t, m->linger_ms);
	return e;
}

struct cid_entry *cid_map_at(struct cid_map *m, uint32_t idx, uint16_t gen)
{
	if (idx >= pool_capacity(m->pool) || !pool_idx_in_use(m->pool, idx))
		return NULL;
	struct cid_entry *e = pool_at(m->pool, idx);
	if (e->gen != gen)
		return NULL;
	wheel_add_in(m->wheel, &e->t, m->linger_ms);
	return e;
}

uint32_t cid_map_index(const struct cid_map *m, const struct cid_entry *e)
{
	return pool_idx(m->pool, e);
}

void cid_map_timer_fire(struct cid_map *m, struct wheel_timer *t)
{
	struct cid_entry *e = sbc_container_of(t, struct cid_entry, t);
	char k[CID_MAX + 1];
	size_t n = make_key(k, (sip_str_t){ e->cid, e->len }, e->realm);
	(void)htab_remove(m->index, k, n);
	e->gen = 0;
	pool_put(m->pool, e);
}

uint32_t cid_map_count(const struct cid_map *m)
{
	return pool_in_use(m->pool);
}
