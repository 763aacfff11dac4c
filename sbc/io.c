/* SPDX-License-Identifier: BSD-3-Clause */
/* Backend-independent helpers of sbc/io.h. */
#include "io.h"

#include <arpa/inet.h>
#include <stdio.h>

unsigned io_iface_count(const struct sbc_config *cfg)
{
	unsigned n = 0;

	for (size_t i = 0; i < cfg->nrealms; i++)
		n += (unsigned)cfg->realms[i].nlisten;
	return n;
}

const char *io_addr_str(const union sbc_sockaddr *a, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];

	if (a->sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &a->v4.sin_addr, ip, sizeof ip);
		snprintf(buf, cap, "%s:%u", ip, ntohs(a->v4.sin_port));
	} else if (a->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &a->v6.sin6_addr, ip, sizeof ip);
		snprintf(buf, cap, "[%s]:%u", ip, ntohs(a->v6.sin6_port));
	} else {
		snprintf(buf, cap, "(family %d)", a->sa.sa_family);
	}
	return buf;
}
