/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/util/clock — monotonic time for the daemon.
 *
 * Libraries never read a clock: they take now_ms as a parameter, so tests
 * drive them with a fake clock. Only the daemon's loop calls these, once
 * per iteration, and passes the value down.
 *
 * sbc_now_ms() uses CLOCK_MONOTONIC_COARSE: a vDSO read of the last tick's
 * time, a few ns, no syscall. Its resolution is one kernel tick (1-10 ms;
 * 4 ms at HZ=250, `clock_getres` tells): timers then fire in per-tick
 * batches, which SIP timers (T1 = 500 ms) do not notice. Use
 * sbc_now_ms_precise() (CLOCK_MONOTONIC, still vDSO, ~20 ns) where a
 * millisecond matters, e.g. latency measurements.
 *
 * Thread-safe; no state.
 */
#ifndef SBC_CLOCK_H
#define SBC_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t sbc_timespec_ms(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000u + (uint64_t)ts->tv_nsec / 1000000u;
}

/* Monotonic milliseconds since an arbitrary origin (boot). */
static inline uint64_t sbc_now_ms(void)
{
	struct timespec ts;

	/* Cannot fail for a valid clock id and pointer. */
	(void)clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return sbc_timespec_ms(&ts);
}

static inline uint64_t sbc_now_ms_precise(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return sbc_timespec_ms(&ts);
}

#endif /* SBC_CLOCK_H */
