/* SPDX-License-Identifier: BSD-3-Clause */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum sbc_log_level log_level = SBC_LOG_INFO;
static _Thread_local char thread_name[16] = "main";

static const char *const level_tag[] = { "ERROR", "WARN", "INFO", "DEBUG" };

void sbc_log_set_level(enum sbc_log_level level)
{
	log_level = level;
}

bool sbc_log_enabled(enum sbc_log_level level)
{
	return level <= log_level;
}

void sbc_log_thread_name(const char *name)
{
	snprintf(thread_name, sizeof thread_name, "%s", name);
}

/* Write all of buf; a short write to a pipe is retried, EINTR too. A
 * failing stderr has nowhere to report to, so errors are dropped. */
static void write_all(const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(STDERR_FILENO, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

void sbc_log(enum sbc_log_level level, const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	size_t len;
	int n;
	va_list ap;

	if (!sbc_log_enabled(level))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	len = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line + len, sizeof line - len, ".%03ldZ %-5s [%s] ", ts.tv_nsec / 1000000,
		     level_tag[level], thread_name);
	len += n > 0 ? (size_t)n : 0;
	va_start(ap, fmt);
	n = vsnprintf(line + len, sizeof line - len, fmt, ap);
	va_end(ap);
	len += n > 0 ? (size_t)n : 0;
	if (len > sizeof line - 2)
		len = sizeof line - 2; /* truncated: keep the newline */
	line[len++] = '\n';
	write_all(line, len);
}
