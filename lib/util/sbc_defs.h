/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/util — compiler helpers shared by every module of the project.
 *
 * Header only, no state. Kept apart from the module headers so none of them
 * has to include another to get a macro (STYLE 2).
 */
#ifndef SBC_DEFS_H
#define SBC_DEFS_H

#include <stddef.h>

/* Results that must not be dropped: allocations, enqueues, inserts. */
#define SBC_MUST_CHECK __attribute__((warn_unused_result))

/*
 * x86-64 and most arm64 server parts use 64-byte lines. Adjacent-line
 * prefetch on Intel pulls pairs of lines, but padding to 128 doubles the
 * footprint of every per-worker struct for a gain nobody has measured here.
 */
#define SBC_CACHE_LINE 64
#define SBC_CACHE_ALIGNED __attribute__((aligned(SBC_CACHE_LINE)))

#define sbc_likely(x)   __builtin_expect(!!(x), 1)
#define sbc_unlikely(x) __builtin_expect(!!(x), 0)

/* Owner object from a pointer to an embedded member (intrusive nodes). */
#define sbc_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#endif /* SBC_DEFS_H */
