/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sbc/log — the daemon's logger: level filter, timestamp, thread name,
 * one line to stderr per call.
 *
 * Threads: any thread may log. Each line is formatted on the caller's stack
 * and written with a single write(2), so lines from different threads never
 * interleave (stderr to a pipe or journald keeps writes <= PIPE_BUF whole).
 * The level is set once by the main thread before workers start.
 * Only the daemon logs; lib/ never does (STYLE 10). Workers must not log per
 * packet above debug: they count instead.
 */
#ifndef SBC_LOG_H
#define SBC_LOG_H

#include <stdbool.h>

#include "config.h"

void sbc_log_set_level(enum sbc_log_level level);
bool sbc_log_enabled(enum sbc_log_level level);

/* Name shown in this thread's lines ("main", "w0"); at most 15 chars. */
void sbc_log_thread_name(const char *name);

__attribute__((format(printf, 2, 3)))
void sbc_log(enum sbc_log_level level, const char *fmt, ...);

#define log_error(...) sbc_log(SBC_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  sbc_log(SBC_LOG_WARN, __VA_ARGS__)
#define log_info(...)  sbc_log(SBC_LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                   \
	do {                                                             \
		if (sbc_log_enabled(SBC_LOG_DEBUG))                      \
			sbc_log(SBC_LOG_DEBUG, __VA_ARGS__);             \
	} while (0)

#endif /* SBC_LOG_H */
