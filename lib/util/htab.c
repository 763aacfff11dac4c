/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Linear probing with backward-shift deletion. The home slot of an entry is
 * its tag & mask, so the table can move entries without the key: deletion
 * only needs the home of each following entry, which the tag gives.
 */
#include "htab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct htab_slot {
	uint32_t tag;  /* upper half of the hash */
	uint32_t val;  /* HTAB_NONE: empty */
};

struct htab {
	struct htab_slot *slot;
	uint32_t mask;
	uint32_t count;
	uint32_t max;
	htab_eq_fn eq;
	void *ctx;
	struct sbc_hash_key key;
};

static inline uint32_t tag_of(uint64_t h)
{
	return (uint32_t)(h >> 32);
}

struct htab *htab_create(uint32_t max_entries, const struct sbc_hash_key *key,
			 htab_eq_fn eq, void *ctx)
{
	uint32_t size = 8;
	struct htab *t;

	if (!max_entries || max_entries > HTAB_MAX_ENTRIES || !key || !eq)
		return NULL;
	while (size < 2 * max_entries)
		size <<= 1;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->slot = aligned_alloc(SBC_CACHE_LINE, (size_t)size * sizeof(*t->slot));
	if (!t->slot) {
		free(t);
		return NULL;
	}
	/* All-ones bytes make every val HTAB_NONE. */
	memset(t->slot, 0xff, (size_t)size * sizeof(*t->slot));
	t->mask = size - 1;
	t->max = max_entries;
	t->eq = eq;
	t->ctx = ctx;
	t->key = *key;
	return t;
}

void htab_destroy(struct htab *t)
{
	if (!t)
		return;
	free(t->slot);
	free(t);
}

uint64_t htab_hash(const struct htab *t, const void *key, size_t len)
{
	return sbc_siphash24(&t->key, key, len);
}

/* Slot holding the key, or the empty slot ending its probe run (*found=false). */
static uint32_t probe(const struct htab *t, uint64_t h, const void *key,
		      size_t len, bool *found)
{
	uint32_t tag = tag_of(h);
	uint32_t i = tag & t->mask;

	for (;; i = (i + 1) & t->mask) {
		const struct htab_slot *s = &t->slot[i];

		if (s->val == HTAB_NONE) {
			*found = false;
			return i;
		}
		if (s->tag == tag && t->eq(t->ctx, s->val, key, len)) {
			*found = true;
			return i;
		}
	}
}

uint32_t htab_find_h(const struct htab *t, uint64_t h,
		     const void *key, size_t len)
{
	bool found;
	uint32_t i = probe(t, h, key, len, &found);

	return found ? t->slot[i].val : HTAB_NONE;
}

uint32_t htab_find(const struct htab *t, const void *key, size_t len)
{
	return htab_find_h(t, htab_hash(t, key, len), key, len);
}

int htab_insert_h(struct htab *t, uint64_t h, const void *key, size_t len,
		  uint32_t val)
{
	bool found;
	uint32_t i;

	if (val == HTAB_NONE)
		return -EINVAL;
	i = probe(t, h, key, len, &found);
	if (found)
		return -EEXIST;
	if (t->count >= t->max)
		return -ENOSPC;
	t->slot[i].tag = tag_of(h);
	t->slot[i].val = val;
	t->count++;
	return 0;
}

int htab_insert(struct htab *t, const void *key, size_t len, uint32_t val)
{
	return htab_insert_h(t, htab_hash(t, key, len), key, len, val);
}

/*
 * Empty slot i and pull later entries of the run back over it. An entry at
 * j may fill the hole at i only if its home is not in (i, j]: otherwise it
 * would sit before its home and become unreachable.
 */
static void erase_at(struct htab *t, uint32_t i)
{
	uint32_t j = i;

	for (;;) {
		uint32_t home;

		j = (j + 1) & t->mask;
		if (t->slot[j].val == HTAB_NONE)
			break;
		home = t->slot[j].tag & t->mask;
		if (((j - home) & t->mask) < ((j - i) & t->mask))
			continue;
		t->slot[i] = t->slot[j];
		i = j;
	}
	t->slot[i].tag = UINT32_MAX;
	t->slot[i].val = HTAB_NONE;
	t->count--;
}

int htab_remove_h(struct htab *t, uint64_t h, const void *key, size_t len)
{
	bool found;
	uint32_t i = probe(t, h, key, len, &found);

	if (!found)
		return -ENOENT;
	erase_at(t, i);
	return 0;
}

int htab_remove(struct htab *t, const void *key, size_t len)
{
	return htab_remove_h(t, htab_hash(t, key, len), key, len);
}

int htab_remove_val(struct htab *t, uint64_t h, uint32_t val)
{
	uint32_t tag = tag_of(h);
	uint32_t i = tag & t->mask;

	if (val == HTAB_NONE)
		return -EINVAL;
	for (; t->slot[i].val != HTAB_NONE; i = (i + 1) & t->mask) {
		if (t->slot[i].val == val && t->slot[i].tag == tag) {
			erase_at(t, i);
			return 0;
		}
	}
	return -ENOENT;
}

uint32_t htab_count(const struct htab *t)
{
	return t->count;
}

uint32_t htab_max_entries(const struct htab *t)
{
	return t->max;
}

uint32_t htab_next(const struct htab *t, uint32_t *cursor)
{
	for (uint32_t i = *cursor; i <= t->mask; i++) {
		if (t->slot[i].val != HTAB_NONE) {
			*cursor = i + 1;
			return t->slot[i].val;
		}
	}
	*cursor = t->mask + 1;
	return HTAB_NONE;
}
