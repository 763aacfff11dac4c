/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/util/addr — a socket address value (IPv4 or IPv6) and helpers.
 *
 * A plain value type: copy it freely; no allocation, no state, any thread.
 * Libraries use it to say where a message came from or must go; only the
 * daemon's I/O backends turn it into a socket operation.
 */
#ifndef SBC_ADDR_H
#define SBC_ADDR_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

union sbc_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;
};

static inline uint16_t sbc_addr_port(const union sbc_sockaddr *a)
{
	return ntohs(a->sa.sa_family == AF_INET6 ? a->v6.sin6_port : a->v4.sin_port);
}

static inline bool sbc_addr_eq(const union sbc_sockaddr *a, const union sbc_sockaddr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->v4.sin_port == b->v4.sin_port &&
		       a->v4.sin_addr.s_addr == b->v4.sin_addr.s_addr;
	return a->v6.sin6_port == b->v6.sin6_port &&
	       memcmp(&a->v6.sin6_addr, &b->v6.sin6_addr, 16) == 0;
}

/* Same IP, any port. */
static inline bool sbc_addr_ip_eq(const union sbc_sockaddr *a, const union sbc_sockaddr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->v4.sin_addr.s_addr == b->v4.sin_addr.s_addr;
	return memcmp(&a->v6.sin6_addr, &b->v6.sin6_addr, 16) == 0;
}

/* Parse a literal IPv4 / IPv6 address (no brackets, length-delimited) and a
 * port. Returns 0 or -1 when not a literal address. */
static inline int sbc_addr_from(union sbc_sockaddr *a, const char *ip, size_t len, uint16_t port)
{
	char tmp[48];
	memset(a, 0, sizeof(*a));
	if (len == 0 || len >= sizeof(tmp))
		return -1;
	memcpy(tmp, ip, len);
	tmp[len] = 0;
	if (inet_pton(AF_INET, tmp, &a->v4.sin_addr) == 1) {
		a->v4.sin_family = AF_INET;
		a->v4.sin_port = htons(port);
		return 0;
	}
	if (inet_pton(AF_INET6, tmp, &a->v6.sin6_addr) == 1) {
		a->v6.sin6_family = AF_INET6;
		a->v6.sin6_port = htons(port);
		return 0;
	}
	return -1;
}

static inline void sbc_addr_set_port(union sbc_sockaddr *a, uint16_t port)
{
	if (a->sa.sa_family == AF_INET6)
		a->v6.sin6_port = htons(port);
	else
		a->v4.sin_port = htons(port);
}

/* The IP as text (no brackets, no port) into buf; returns its length. */
static inline int sbc_addr_ip_str(const union sbc_sockaddr *a, char *buf, size_t cap)
{
	const void *src = a->sa.sa_family == AF_INET6 ? (const void *)&a->v6.sin6_addr
						      : (const void *)&a->v4.sin_addr;
	if (!inet_ntop(a->sa.sa_family == AF_INET6 ? AF_INET6 : AF_INET, src, buf, (socklen_t)cap))
		return -1;
	return (int)strlen(buf);
}

/* "host:port" as SIP writes it ("[v6]:port" for IPv6); returns its length. */
static inline int sbc_addr_hostport(const union sbc_sockaddr *a, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];
	if (sbc_addr_ip_str(a, ip, sizeof(ip)) < 0)
		return -1;
	int n = a->sa.sa_family == AF_INET6
			? snprintf(buf, cap, "[%s]:%u", ip, sbc_addr_port(a))
			: snprintf(buf, cap, "%s:%u", ip, sbc_addr_port(a));
	return n < 0 || (size_t)n >= cap ? -1 : n;
}

#endif /* SBC_ADDR_H */
