/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hierarchical timing wheel, 11 levels of 64 slots, one tick = 1 ms.
 *
 * Placement. A timer lives at the level of the highest 6-bit digit in which
 * its deadline differs from the wheel's cursor, in the slot named by that
 * digit of the deadline. So at level L every timer agrees with the cursor on
 * all digits above L and has a larger digit L; level 0 holds exact
 * milliseconds. Consequences used below:
 *   - every timer of level L is earlier than every timer of level L+1, and
 *     within a level the lowest occupied slot is the earliest;
 *   - the earliest pending deadline is found from 11 bitmap words, so a time
 *     jump skips empty stretches instead of walking them tick by tick;
 *   - when the cursor reaches the first millisecond of a level-L slot, the
 *     timers of that slot are re-placed ("cascaded") at lower levels; a timer
 *     cascades at most 10 times over its life, in practice 2-4 times.
 * 11 x 6 = 66 bits cover the whole uint64_t range, so there is no overflow
 * list and no remaining-rounds counter to check on every pass.
 *
 * Invariant at rest (outside wheel_advance): every armed timer has
 * expires > cursor, and cursor == now.
 */
#include "wheel.h"

#include <stdlib.h>
#include <string.h>

#define WHEEL_BITS   6u
#define WHEEL_SLOTS  (1u << WHEEL_BITS)
#define WHEEL_MASK   (WHEEL_SLOTS - 1u)
#define WHEEL_LEVELS 11u

struct wheel {
	uint64_t cursor;  /* time up to which timers have been processed */
	uint64_t now;     /* latest now_ms from the caller; >= cursor */
	size_t count;     /* armed timers */
	uint64_t occupied[WHEEL_LEVELS];  /* bit s: slot s is non-empty */
	struct wheel_link slot[WHEEL_LEVELS * WHEEL_SLOTS];
};

static struct wheel_timer *timer_of(struct wheel_link *l)
{
	return sbc_container_of(l, struct wheel_timer, link);
}

static unsigned bucket_of(uint64_t expires, uint64_t cursor)
{
	uint64_t diff = expires ^ cursor;
	unsigned level = 0;

	if (diff)
		level = (63u - (unsigned)__builtin_clzll(diff)) / WHEEL_BITS;
	return level * WHEEL_SLOTS +
	       (unsigned)((expires >> (level * WHEEL_BITS)) & WHEEL_MASK);
}

/* First millisecond covered by a slot, given the cursor's upper digits. */
static uint64_t slot_start(uint64_t cursor, unsigned level, unsigned slot)
{
	unsigned shift = level * WHEEL_BITS;
	unsigned above = shift + WHEEL_BITS;
	uint64_t high = above >= 64 ? 0 : cursor >> above << above;

	return high | ((uint64_t)slot << shift);
}

static void link_tail(struct wheel *w, struct wheel_timer *t)
{
	unsigned b = bucket_of(t->expires, w->cursor);
	struct wheel_link *head = &w->slot[b];

	t->bucket = b;
	t->link.next = head;
	t->link.prev = head->prev;
	head->prev->next = &t->link;
	head->prev = &t->link;
	w->occupied[b / WHEEL_SLOTS] |= 1ull << (b % WHEEL_SLOTS);
}

static void unlink_timer(struct wheel *w, struct wheel_timer *t)
{
	struct wheel_link *head = &w->slot[t->bucket];

	t->link.prev->next = t->link.next;
	t->link.next->prev = t->link.prev;
	t->link.next = NULL;
	t->link.prev = NULL;
	if (head->next == head)
		w->occupied[t->bucket / WHEEL_SLOTS] &=
			~(1ull << (t->bucket % WHEEL_SLOTS));
}

struct wheel *wheel_create(uint64_t now_ms)
{
	size_t size = (sizeof(struct wheel) + SBC_CACHE_LINE - 1) &
		      ~(size_t)(SBC_CACHE_LINE - 1);
	struct wheel *w = aligned_alloc(SBC_CACHE_LINE, size);

	if (!w)
		return NULL;
	memset(w, 0, sizeof(*w));
	w->cursor = now_ms;
	w->now = now_ms;
	for (unsigned i = 0; i < WHEEL_LEVELS * WHEEL_SLOTS; i++) {
		w->slot[i].next = &w->slot[i];
		w->slot[i].prev = &w->slot[i];
	}
	return w;
}

void wheel_destroy(struct wheel *w)
{
	free(w);
}

void wheel_add(struct wheel *w, struct wheel_timer *t, uint64_t expires_ms)
{
	if (wheel_timer_armed(t))
		unlink_timer(w, t);
	else
		w->count++;
	/* Never into the slot being fired: keeps wheel_advance finite. */
	if (expires_ms <= w->cursor)
		expires_ms = w->cursor + 1;
	t->expires = expires_ms;
	link_tail(w, t);
}

void wheel_add_in(struct wheel *w, struct wheel_timer *t, uint64_t delay_ms)
{
	wheel_add(w, t, w->now + delay_ms);
}

bool wheel_cancel(struct wheel *w, struct wheel_timer *t)
{
	if (!wheel_timer_armed(t))
		return false;
	unlink_timer(w, t);
	w->count--;
	return true;
}

/* Lowest occupied (level, slot): the earliest deadlines. -1 when empty. */
static int earliest(const struct wheel *w, unsigned *slot)
{
	for (unsigned l = 0; l < WHEEL_LEVELS; l++) {
		if (w->occupied[l]) {
			*slot = (unsigned)__builtin_ctzll(w->occupied[l]);
			return (int)l;
		}
	}
	return -1;
}

/*
 * Pop one at a time rather than detaching the list: a callback may cancel a
 * timer further down this very slot, and then it must not fire.
 */
static size_t fire_slot(struct wheel *w, unsigned b, wheel_cb cb, void *ctx)
{
	struct wheel_link *head = &w->slot[b];
	size_t n = 0;

	while (head->next != head) {
		struct wheel_timer *t = timer_of(head->next);

		unlink_timer(w, t);
		w->count--;
		cb(t, ctx);
		n++;
	}
	return n;
}

/* Cursor sits at the slot's first ms: every timer lands at a lower level. */
static void cascade(struct wheel *w, unsigned b)
{
	struct wheel_link *head = &w->slot[b];
	struct wheel_link *l = head->next;

	head->prev->next = NULL;  /* terminate the detached chain */
	head->next = head;
	head->prev = head;
	w->occupied[b / WHEEL_SLOTS] &= ~(1ull << (b % WHEEL_SLOTS));
	while (l) {
		struct wheel_link *next = l->next;

		link_tail(w, timer_of(l));  /* FIFO order is kept */
		l = next;
	}
}

size_t wheel_advance(struct wheel *w, uint64_t now_ms, wheel_cb cb, void *ctx)
{
	size_t fired = 0;

	if (now_ms <= w->now)
		return 0;
	w->now = now_ms;
	for (;;) {
		unsigned slot;
		int level = earliest(w, &slot);
		uint64_t start;

		if (level < 0)
			break;
		start = slot_start(w->cursor, (unsigned)level, slot);
		if (start > now_ms)
			break;
		w->cursor = start;
		if (level == 0)
			fired += fire_slot(w, slot, cb, ctx);
		else
			cascade(w, (unsigned)level * WHEEL_SLOTS + slot);
	}
	/*
	 * Every remaining timer is later than now_ms and shares its upper
	 * digits with both the old cursor and now_ms, so the jump keeps the
	 * placement invariant without touching any of them.
	 */
	w->cursor = now_ms;
	return fired;
}

uint64_t wheel_now(const struct wheel *w)
{
	return w->now;
}

size_t wheel_pending(const struct wheel *w)
{
	return w->count;
}

uint64_t wheel_next_expiry(const struct wheel *w)
{
	unsigned slot;
	int level = earliest(w, &slot);

	if (level < 0)
		return UINT64_MAX;
	return slot_start(w->cursor, (unsigned)level, slot);
}
