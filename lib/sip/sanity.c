/* SPDX-License-Identifier: BSD-3-Clause */
/* Proxy-level request sanity (RFC 3261 16.3 steps 1-4 that need no state). */
#include <string.h>

#include "sip_int.h"

static bool tag_supported(sip_str_t tag, const char *const *supported)
{
	for (; supported && *supported; supported++)
		if (sip_str_caseeq_lit(tag, *supported))
			return true;
	return false;
}

/* Collect the unsupported tags of every line of id; returns how many. */
static unsigned collect_unsupported(const struct sip_msg *m, enum sip_hdr_id id,
				    const char *const *supported, char *out, size_t cap,
				    uint32_t *len)
{
	struct sip_list_iter it;
	sip_str_t v;
	unsigned n = 0;
	sip_list_init(&it, m, id);
	while (sip_list_next(&it, &v) > 0) {
		if (tag_supported(v, supported))
			continue;
		n++;
		size_t need = v.len + (*len ? 2 : 0);
		if (!out || need > cap - *len)
			continue; /* still a 420; the list is just cut short */
		if (*len) {
			memcpy(out + *len, ", ", 2);
			*len += 2;
		}
		memcpy(out + *len, v.p, v.len);
		*len += v.len;
	}
	return n;
}

enum sip_err sip_proxy_check(const struct sip_msg *m, bool terminating,
			     const char *const *supported, char *unsup, size_t cap,
			     uint32_t *unsup_len)
{
	struct sip_uri u;
	uint32_t mf;
	*unsup_len = 0;
	if (sip_uri_parse(m->ruri, &u) < 0)
		return SIP_E_BAD_RURI;
	if (u.scheme == SIP_SCHEME_OTHER)
		return SIP_E_UNSUPPORTED_SCHEME;
	if (!terminating && sip_msg_max_forwards(m, &mf) > 0 && mf == 0)
		return SIP_E_TOO_MANY_HOPS;
	/* ACK and CANCEL never get 420: their fate is tied to the INVITE. */
	if (m->method == SIP_M_ACK || m->method == SIP_M_CANCEL)
		return SIP_E_OK;
	unsigned n = collect_unsupported(m, SIP_H_PROXY_REQUIRE, supported, unsup, cap, unsup_len);
	if (terminating)
		n += collect_unsupported(m, SIP_H_REQUIRE, supported, unsup, cap, unsup_len);
	return n ? SIP_E_BAD_EXTENSION : SIP_E_OK;
}
