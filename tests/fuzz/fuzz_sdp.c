/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for lib/sdp: parse, accessors, check, and rewrite with
 * fixed replacement values, then re-parse the result.
 *
 * Invariants (a violation traps so the fuzzer reports it):
 *  - an all-zero spec reproduces the input byte for byte;
 *  - a cap one byte short of the output gives -ENOSPC, never a write past it;
 *  - a valid spec never fails with a cap large enough for any output;
 *  - the rewritten body parses again (unless it grew past a limit) with the
 *    same media count, the new ports, the new addresses, no stripped lines.
 *
 * Which options a run uses is derived from the input, so one corpus covers
 * promotion of the session c=, inserted c= lines, a=rtcp set/insert/remove
 * and both strip flags.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The worst-case growth: every line edited (o= gains "IN IP6" and longer
 * tokens, each c=/a=rtcp gains an address) plus two inserted lines per
 * media; far below this cap for SDP_MAX_BODY input. */
#define OUT_CAP (4u * SDP_MAX_BODY + 64u * SDP_MAX_LINES)

static struct sdp s1, s2;
static char out[OUT_CAP];

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static sip_str_t lit(const char *p)
{
	return (sip_str_t){ p, (uint32_t)strlen(p) };
}

static uint32_t mix(const uint8_t *data, size_t size)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	return h;
}

static const char *const addrs[] = { "192.0.2.1", "2001:db8::1", "192.0.2.99" };
static const enum sdp_addrtype addr_types[] = { SDP_AT_IP4, SDP_AT_IP6, SDP_AT_IP4 };

static void make_spec(struct sdp_rewrite *sp, uint32_t h)
{
	memset(sp, 0, sizeof(*sp));
	sp->flags = h & 7u;
	if (h & 8u) {
		sp->origin = (struct sdp_addr){ lit("192.0.2.254"), SDP_AT_IP4 };
		sp->origin_user = lit("sbc");
		sp->origin_sess_id = lit("1");
		sp->origin_sess_version = lit("2");
	}
	if (h & 16u)
		sp->conn = (struct sdp_addr){ lit(addrs[1]), addr_types[1] };
	for (unsigned k = 0; k < SDP_MAX_MEDIA; k++) {
		uint32_t b = (h >> (5 + k % 8)) ^ k;
		struct sdp_media_rewrite *mr = &sp->media[k];
		mr->set_port = b & 1u;
		mr->port = (uint16_t)(40000 + 2 * k);
		mr->rtcp = (enum sdp_rtcp_op)((b >> 1) % 3);
		mr->rtcp_port = (uint16_t)(40001 + 2 * k);
		if ((b >> 3) % 4 != 3)
			mr->conn = (struct sdp_addr){ lit(addrs[(b >> 3) % 4]),
						      addr_types[(b >> 3) % 4] };
	}
}

static bool view_is(sip_str_t v, sip_str_t want)
{
	return v.len == want.len && memcmp(v.p, want.p, v.len) == 0;
}

static void touch_accessors(const struct sdp *s)
{
	for (unsigned i = 0; i <= s->nmedia; i++) {
		const struct sdp_media *m = sdp_media(s, i);
		uint32_t pos = 0;
		uint16_t apos = 0;
		sip_str_t v;
		unsigned n = 0;

		(void)sdp_media_is_hold(s, i);
		(void)sdp_media_conn(s, i);
		CHECK(sdp_media_dir(s, i) != SDP_DIR_NONE || i == s->nmedia);
		int rp = sdp_media_rtcp_port(s, i);
		CHECK(m != NULL || rp == -EINVAL);
		if (m == NULL)
			continue;
		while (sdp_fmt_next(m, &pos, &v) == 1)
			n++;
		CHECK(n == m->nfmt);
		n = 0;
		while (sdp_attr_next(s, (int)i, "candidate", &apos, &v) == 1)
			n++;
		CHECK(n == m->ncandidates);
	}
	(void)sdp_is_hold(s);
	enum sdp_err e = sdp_check(s);
	CHECK(e == SDP_E_OK || sdp_err_status(e) == 488);
}

/* Independent statement of the one case sdp_rewrite() refuses a valid
 * spec: a port given to a media that has no c= and gets no address. */
static bool orphans(const struct sdp_rewrite *sp)
{
	for (unsigned k = 0; k < s1.nmedia; k++) {
		const struct sdp_media_rewrite *mr = &sp->media[k];
		bool has_port = mr->set_port ? mr->port != 0 : s1.media[k].port != 0;
		if (has_port && sdp_media_conn(&s1, k) == NULL && mr->conn.addr.len == 0)
			return true;
	}
	return false;
}

/* The rewritten body, parsed again into s2, carries what spec asked for. */
static void check_reparse(const struct sdp_rewrite *sp, size_t n)
{
	enum sdp_err e = sdp_parse(&s2, out, n);

	if (e == SDP_E_TOO_BIG || e == SDP_E_TOO_MANY_LINES)
		return; /* inserted lines may push a body at a limit over it */
	CHECK(e == SDP_E_OK);
	CHECK(s2.nmedia == s1.nmedia);
	if (sp->origin.addr.len)
		CHECK(view_is(s2.origin.conn.addr, sp->origin.addr));
	for (unsigned k = 0; k < s2.nmedia; k++) {
		const struct sdp_media_rewrite *mr = &sp->media[k];
		const struct sdp_media *m = &s2.media[k];
		const struct sdp_conn *c = sdp_media_conn(&s2, k);
		if (mr->set_port)
			CHECK(m->port == mr->port);
		if (mr->conn.addr.len) {
			CHECK(c != NULL && view_is(c->addr, mr->conn.addr));
			CHECK(c->type == mr->conn.type);
		}
		if (sp->flags & (SDP_RW_STRIP_CANDIDATES | SDP_RW_STRIP_ICE))
			CHECK(m->ncandidates == 0 && m->nremote_candidates == 0);
		if (mr->rtcp == SDP_RTCP_SET)
			CHECK(m->has_rtcp && m->rtcp_port == mr->rtcp_port);
		if (mr->rtcp == SDP_RTCP_REMOVE)
			CHECK(!m->has_rtcp);
		if (sp->flags & SDP_RW_RTCP_DROP_ADDR)
			CHECK(!m->rtcp_conn.present);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct sdp_rewrite spec;

	if (sdp_parse(&s1, buf, size) != SDP_E_OK)
		return 0;
	CHECK(s1.nlines > 0 && s1.nlines <= SDP_MAX_LINES && s1.nmedia <= SDP_MAX_MEDIA);
	touch_accessors(&s1);

	/* identity: every byte kept */
	memset(&spec, 0, sizeof(spec));
	int n = sdp_rewrite(&s1, &spec, out, OUT_CAP);
	CHECK(n >= 0 && (size_t)n == size && memcmp(out, buf, size) == 0);
	CHECK(sdp_rewrite(&s1, &spec, out, size - 1) == -ENOSPC);

	make_spec(&spec, mix(data, size));
	n = sdp_rewrite(&s1, &spec, out, OUT_CAP);
	if (n == -EINVAL) {
		/* only for a spec that enables a media with no c= anywhere */
		CHECK(orphans(&spec));
		return 0;
	}
	CHECK(n >= 0 && (size_t)n <= OUT_CAP);
	if (n > 0) {
		/* a cap one short never overruns: ASan sees the heap block end */
		char *tight = malloc((size_t)n - 1 ? (size_t)n - 1 : 1);
		CHECK(tight != NULL);
		CHECK(sdp_rewrite(&s1, &spec, tight, (size_t)n - 1) == -ENOSPC);
		free(tight);
	}
	check_reparse(&spec, (size_t)n);
	return 0;
}
