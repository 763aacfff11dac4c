/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/util/wheel — hierarchical timing wheel with intrusive timers.
 *
 * Ownership and threads
 *   A wheel belongs to one thread (a worker's shard). Nothing here is
 *   thread-safe and nothing needs to be: timers of a shard are only touched
 *   by the worker that owns the shard. struct wheel_timer is embedded in the
 *   owner's object (transaction, dialog, media session); the wheel never
 *   allocates or frees it, it only links it. The owner must cancel a timer
 *   before freeing or reusing the memory that holds it.
 *
 * Time
 *   One tick is one millisecond. The wheel never reads a clock: the caller
 *   passes now_ms to wheel_create() and wheel_advance() (the daemon passes
 *   sbc_now_ms(), tests a fake clock). Deadlines are absolute milliseconds on
 *   that same clock. Any deadline up to UINT64_MAX is valid, so SIP Timer C
 *   (180 s) and a 4 h dialog limit are ordinary timers.
 *
 * Guarantees
 *   - wheel_add / wheel_cancel are O(1).
 *   - wheel_advance(w, now) fires every timer whose deadline is <= now
 *     exactly once, in deadline order; timers with equal deadlines fire in
 *     the order they were added. A jump of any length costs time
 *     proportional to the timers it touches, never to the milliseconds
 *     skipped (a 10-minute stall is one call).
 *   - A timer never fires before its deadline, and fires in the first
 *     wheel_advance() whose now_ms reaches it.
 *   - Inside the callback the fired timer is already unlinked: the callback
 *     may re-arm it, arm or cancel any other timer of the same wheel
 *     (including one due in the same call: a cancelled one does not fire),
 *     or free its owner. It must not call wheel_advance() or
 *     wheel_destroy() on the same wheel.
 *   - A deadline at or before the wheel's cursor (already past) fires at the
 *     first advance to a later millisecond, never inside the add call, so a
 *     callback that re-arms with delay 0 cannot loop forever.
 *
 * Errors
 *   wheel_create() returns NULL when out of memory. Nothing else can fail.
 */
#ifndef SBC_WHEEL_H
#define SBC_WHEEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sbc_defs.h"

#ifdef __cplusplus
extern "C" {
#endif

struct wheel_link {
	struct wheel_link *next;
	struct wheel_link *prev;
};

/*
 * Embed one per timer in the owner object; 32 bytes. Fields other than tag
 * and expires are private to the wheel.
 */
struct wheel_timer {
	struct wheel_link link;  /* next == NULL: not armed */
	uint64_t expires;        /* deadline, ms; read-only for the owner */
	uint32_t bucket;         /* private: slot the timer is linked in */
	uint32_t tag;            /* owner's: which timer of which object */
};

/*
 * Called once per expired timer. The single callback of an advance call
 * dispatches on t->tag and recovers the owner with sbc_container_of().
 * t->expires still holds the deadline that fired (lateness =
 * wheel_now(w) - t->expires).
 */
typedef void (*wheel_cb)(struct wheel_timer *t, void *ctx);

struct wheel;

/* About 11 KiB, allocated once at start-up. */
struct wheel *wheel_create(uint64_t now_ms) SBC_MUST_CHECK;
/* Forgets timers still armed (their owners keep the memory). NULL ok. */
void wheel_destroy(struct wheel *w);

static inline void wheel_timer_init(struct wheel_timer *t, uint32_t tag)
{
	t->link.next = NULL;
	t->link.prev = NULL;
	t->expires = 0;
	t->bucket = 0;
	t->tag = tag;
}

static inline bool wheel_timer_armed(const struct wheel_timer *t)
{
	return t->link.next != NULL;
}

/* Arm t for an absolute deadline; re-arms (moves) it when already armed. */
void wheel_add(struct wheel *w, struct wheel_timer *t, uint64_t expires_ms);
/*
 * Arm t for delay_ms after the latest now_ms the wheel was given. Inside a
 * callback that is the now_ms of the running advance, not the deadline being
 * fired: after a stall a retransmission timer re-armed this way fires once,
 * delay_ms later, instead of catching up. For drift-free periodic timers use
 * wheel_add(w, t, t->expires + period) instead.
 */
void wheel_add_in(struct wheel *w, struct wheel_timer *t, uint64_t delay_ms);
/* Returns true if t was armed. Safe on an unarmed (initialised) timer. */
bool wheel_cancel(struct wheel *w, struct wheel_timer *t);

/*
 * Fire every timer due at or before now_ms, then move the wheel to now_ms.
 * A now_ms behind the wheel's time is ignored (the clock is monotonic; a
 * caller bug must not re-fire anything). Returns the number fired.
 */
size_t wheel_advance(struct wheel *w, uint64_t now_ms, wheel_cb cb, void *ctx);

/* Latest now_ms given to wheel_create()/wheel_advance(). */
uint64_t wheel_now(const struct wheel *w);
/* Number of armed timers. */
size_t wheel_pending(const struct wheel *w);
/*
 * A lower bound of the earliest deadline, UINT64_MAX when no timer is armed:
 * exact within 64 ms, otherwise the start of the earliest coarse slot. Meant
 * for an idle worker's epoll timeout; waking early only costs a cascade.
 */
uint64_t wheel_next_expiry(const struct wheel *w);

#ifdef __cplusplus
}
#endif

#endif /* SBC_WHEEL_H */
