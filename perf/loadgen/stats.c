/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * perf/loadgen/stats — latency histogram, merging and the reports.
 *
 * The histogram is log-linear like HdrHistogram: values below 32 ns have a
 * bucket each, above that every power of two is cut into 32 equal
 * sub-buckets, so any value is known to within 1/32 (~3%) over the full
 * 64-bit range in 1920 counters (15 KiB per thread). Adding is a count
 * leading zeros and a shift; percentiles walk the buckets once and report
 * the highest value of the bucket they fall in (never above the exact max).
 */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "lg.h"

static const char *const fail_names[LG_F__COUNT] = {
#define LG_FAIL_NAME(n, s) s,
	LG_FAILS(LG_FAIL_NAME)
#undef LG_FAIL_NAME
};

const char *lg_fail_name(enum lg_fail f)
{
	return f < LG_F__COUNT ? fail_names[f] : "?";
}

static unsigned hist_idx(uint64_t v)
{
	unsigned e, shift;

	if (v < LG_HIST_SUB)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);
	shift = e - LG_HIST_SUB_BITS;
	return (shift + 1u) * LG_HIST_SUB + (unsigned)((v >> shift) & (LG_HIST_SUB - 1u));
}

static uint64_t hist_high(unsigned i)
{
	unsigned shift, mant;

	if (i < LG_HIST_SUB)
		return i;
	shift = i / LG_HIST_SUB - 1u;
	mant = i % LG_HIST_SUB;
	return (((uint64_t)LG_HIST_SUB + mant) << shift) + ((1ull << shift) - 1u);
}

void lg_hist_add(struct lg_hist *h, uint64_t v)
{
	h->b[hist_idx(v)]++;
	if (h->count == 0 || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->count++;
	h->sum += v;
}

void lg_hist_merge(struct lg_hist *into, const struct lg_hist *from)
{
	if (from->count == 0)
		return;
	for (unsigned i = 0; i < LG_HIST_BUCKETS; i++)
		into->b[i] += from->b[i];
	if (into->count == 0 || from->min < into->min)
		into->min = from->min;
	if (from->max > into->max)
		into->max = from->max;
	into->count += from->count;
	into->sum += from->sum;
}

uint64_t lg_hist_pct(const struct lg_hist *h, double pct)
{
	uint64_t want, seen = 0;

	if (h->count == 0)
		return 0;
	want = (uint64_t)ceil(pct / 100.0 * (double)h->count);
	if (want < 1)
		want = 1;
	for (unsigned i = 0; i < LG_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want) {
			uint64_t v = hist_high(i);

			return v < h->max ? v : h->max;
		}
	}
	return h->max;
}

void lg_stats_merge(struct lg_stats *a, const struct lg_stats *b)
{
	/* Every field but the histogram is a sum of uint64_t/uint32_t:
	 * walk them by name to stay exact when fields are added. */
#define SUM(f) a->f += b->f
	SUM(started); SUM(ok); SUM(failed); SUM(skipped); SUM(no_slot);
	SUM(active); SUM(max_active); SUM(retx_sent); SUM(retx_rcvd); SUM(stray);
	SUM(ack_timeouts); SUM(acks_absorbed); SUM(msgs_sent); SUM(msgs_rcvd);
	SUM(bytes_sent); SUM(bytes_rcvd); SUM(tx_dropped); SUM(rx_truncated);
	SUM(parse_errors);
#undef SUM
	for (unsigned i = 0; i < LG_STATUS_MAX; i++) {
		a->fail_code[i] += b->fail_code[i];
		a->inv_resp[i] += b->inv_resp[i];
	}
	for (unsigned i = 0; i < LG_F__COUNT; i++)
		a->fail[i] += b->fail[i];
	for (unsigned i = 0; i < SIP_M__COUNT; i++)
		a->req_rcvd[i] += b->req_rcvd[i];
	lg_hist_merge(&a->setup, &b->setup);
#define MSUM(f) a->m.f += b->m.f
	MSUM(streams); MSUM(no_slot); MSUM(bad_sdp); MSUM(tx_pkts); MSUM(tx_bytes);
	MSUM(tx_dropped); MSUM(tx_skipped); MSUM(rx_pkts); MSUM(rx_bytes); MSUM(rx_counted); MSUM(expected);
	MSUM(lost); MSUM(late); MSUM(dup); MSUM(unmatched); MSUM(bad); MSUM(calls_ok);
	MSUM(calls_no_rx); MSUM(calls_no_tx); MSUM(calls_unjudged); MSUM(idle_ended);
	MSUM(open_at_exit); MSUM(ssrc_conflict);
#undef MSUM
	lg_hist_merge(&a->m.jitter, &b->m.jitter);
}

static double loss_ratio(const struct lg_media_stats *m)
{
	return m->expected ? (double)m->lost / (double)m->expected : 0.0;
}

static const char *const scen_names[] = { "call", "register", "options", "message", "flood" };

static double ms(uint64_t ns) { return (double)ns / 1e6; }

/* ---- human -------------------------------------------------------------- */

static void human_codes(FILE *f, const char *label, const uint64_t *v)
{
	bool any = false;

	for (unsigned i = 0; i < LG_STATUS_MAX; i++) {
		if (!v[i])
			continue;
		fprintf(f, "%s %u: %" PRIu64, any ? "," : label, i, v[i]);
		any = true;
	}
	if (any)
		fputc('\n', f);
}

static void human_fails(FILE *f, const struct lg_stats *s)
{
	bool any = false;

	for (unsigned i = 0; i < LG_F__COUNT; i++) {
		if (!s->fail[i])
			continue;
		fprintf(f, "%s %s: %" PRIu64, any ? "," : "  failures (other): ",
			fail_names[i], s->fail[i]);
		any = true;
	}
	if (s->no_slot) {
		fprintf(f, "%s no_slot: %" PRIu64, any ? "," : "  failures (other): ", s->no_slot);
		any = true;
	}
	if (any)
		fputc('\n', f);
}

static void human_latency(FILE *f, const struct lg_hist *h)
{
	if (!h->count)
		return;
	fprintf(f, "  setup latency ms: p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f"
		   "  mean %.3f  (n=%" PRIu64 ")\n",
		ms(lg_hist_pct(h, 50)), ms(lg_hist_pct(h, 90)), ms(lg_hist_pct(h, 99)),
		ms(lg_hist_pct(h, 99.9)), ms(h->max), ms(h->sum / h->count), h->count);
}

static void human_uac(FILE *f, const struct lg_opts *o, const struct lg_stats *s,
		      double start_s)
{
	double total = (double)(s->ok + s->failed);

	fprintf(f, "  units: started %" PRIu64 ", ok %" PRIu64 ", failed %" PRIu64
		   " (%.3f%%), skipped at --max-concurrent %" PRIu64 ", max concurrent %u\n",
		s->started, s->ok, s->failed, total > 0 ? 100.0 * (double)s->failed / total : 0.0,
		s->skipped, s->max_active);
	fprintf(f, "  rate: target %.1f/s, achieved %.1f/s over %.2f s\n", o->rate,
		start_s > 0 ? (double)s->started / start_s : 0.0, start_s);
	human_codes(f, "  failures by status:", s->fail_code);
	human_fails(f, s);
	human_codes(f, "  INVITE responses:", s->inv_resp);
	human_latency(f, &s->setup);
}

static void human_uas(FILE *f, const struct lg_stats *s)
{
	bool any = false;

	for (unsigned i = 1; i < SIP_M__COUNT; i++) {
		if (!s->req_rcvd[i])
			continue;
		fprintf(f, "%s %s: %" PRIu64, any ? "," : "  requests:", sip_method_name(i),
			s->req_rcvd[i]);
		any = true;
	}
	if (any)
		fputc('\n', f);
	fprintf(f, "  awaiting ACK: max %u, never ACKed %" PRIu64 ", no slot %" PRIu64
		   ", stray ACKs %" PRIu64 "\n",
		s->max_active, s->ack_timeouts, s->no_slot, s->acks_absorbed);
}

static void human_media(FILE *f, const struct lg_media_stats *m)
{
	const struct lg_hist *j = &m->jitter;

	fprintf(f, "  media: streams %" PRIu64 ", ok %" PRIu64 ", not received %" PRIu64
		   ", not delivered %" PRIu64 ", too short to judge %" PRIu64 ", open at exit %"
		   PRIu64 ", bad SDP %" PRIu64 ", no slot %" PRIu64 "\n",
		m->streams, m->calls_ok, m->calls_no_rx, m->calls_no_tx, m->calls_unjudged,
		m->open_at_exit, m->bad_sdp, m->no_slot);
	fprintf(f, "  RTP sent: %" PRIu64 " packets, %" PRIu64 " bytes (dropped by socket %"
		   PRIu64 ", given up after a stall %" PRIu64 ")\n", m->tx_pkts, m->tx_bytes,
		m->tx_dropped, m->tx_skipped);
	fprintf(f, "  RTP received: %" PRIu64 " packets, %" PRIu64 " bytes; expected %" PRIu64
		   ", lost %" PRIu64 " (%.4f%%), late %" PRIu64 ", duplicates %" PRIu64
		   ", no stream %" PRIu64 ", not RTP %" PRIu64 "\n",
		m->rx_pkts, m->rx_bytes, m->expected, m->lost, 100.0 * loss_ratio(m), m->late,
		m->dup, m->unmatched, m->bad);
	if (j->count)
		fprintf(f, "  RTP jitter ms (RFC 3550, per stream): p50 %.3f  p99 %.3f  max %.3f\n",
			ms(lg_hist_pct(j, 50)), ms(lg_hist_pct(j, 99)), ms(j->max));
}

static void human(FILE *f, const struct lg_opts *o, const struct lg_stats *s, double el,
		  double start_s)
{
	fprintf(f, "sbc-loadgen %s %s: %.2f s\n", o->role == LG_UAC ? "uac" : "uas",
		o->role == LG_UAC ? scen_names[o->scen] : "answering", el);
	if (o->role == LG_UAC)
		human_uac(f, o, s, start_s);
	else
		human_uas(f, s);
	fprintf(f, "  retransmissions: sent %" PRIu64 ", duplicates received %" PRIu64
		   ", stray responses %" PRIu64 "\n", s->retx_sent, s->retx_rcvd, s->stray);
	fprintf(f, "  messages: sent %" PRIu64 ", received %" PRIu64 ", %.0f/s"
		   " (dropped by socket %" PRIu64 ", unparseable %" PRIu64 ", truncated %" PRIu64
		   ")\n", s->msgs_sent, s->msgs_rcvd,
		el > 0 ? (double)(s->msgs_sent + s->msgs_rcvd) / el : 0.0, s->tx_dropped,
		s->parse_errors, s->rx_truncated);
	if (o->rtp)
		human_media(f, &s->m);
}

/* ---- JSON --------------------------------------------------------------- */

static void json_codes(FILE *f, const char *key, const uint64_t *v)
{
	bool any = false;

	fprintf(f, "\"%s\":{", key);
	for (unsigned i = 0; i < LG_STATUS_MAX; i++) {
		if (!v[i])
			continue;
		fprintf(f, "%s\"%u\":%" PRIu64, any ? "," : "", i, v[i]);
		any = true;
	}
	fputs("}", f);
}

static void json_fails(FILE *f, const struct lg_stats *s)
{
	fputs("\"failures_other\":{", f);
	for (unsigned i = 0; i < LG_F__COUNT; i++)
		fprintf(f, "\"%s\":%" PRIu64 ",", fail_names[i], s->fail[i]);
	fprintf(f, "\"no_slot\":%" PRIu64 "}", s->no_slot);
}

static void json_latency(FILE *f, const struct lg_hist *h)
{
	fprintf(f, "\"latency_ms\":{\"count\":%" PRIu64 ",\"p50\":%.4f,\"p90\":%.4f,\"p99\":%.4f,"
		   "\"p999\":%.4f,\"max\":%.4f,\"min\":%.4f,\"mean\":%.4f}",
		h->count, ms(lg_hist_pct(h, 50)), ms(lg_hist_pct(h, 90)), ms(lg_hist_pct(h, 99)),
		ms(lg_hist_pct(h, 99.9)), ms(h->max), ms(h->min),
		h->count ? ms(h->sum / h->count) : 0.0);
}

static void json_requests(FILE *f, const struct lg_stats *s)
{
	bool any = false;

	fputs("\"requests_received\":{", f);
	for (unsigned i = 1; i < SIP_M__COUNT; i++) {
		if (!s->req_rcvd[i])
			continue;
		fprintf(f, "%s\"%s\":%" PRIu64, any ? "," : "", sip_method_name(i), s->req_rcvd[i]);
		any = true;
	}
	fputs("}", f);
}

/* "media":{...}, only with --rtp (the report is unchanged without). */
static void json_media(FILE *f, const struct lg_media_stats *m)
{
	const struct lg_hist *j = &m->jitter;

	fprintf(f, ",\"media\":{\"streams\":%" PRIu64 ",\"calls_ok\":%" PRIu64
		   ",\"calls_not_received\":%" PRIu64 ",\"calls_not_delivered\":%" PRIu64
		   ",\"calls_failed\":%" PRIu64 ",\"calls_unjudged\":%" PRIu64
		   ",\"open_at_exit\":%" PRIu64 ",\"idle_ended\":%" PRIu64 ",\"bad_sdp\":%" PRIu64
		   ",\"no_slot\":%" PRIu64 ",",
		m->streams, m->calls_ok, m->calls_no_rx, m->calls_no_tx,
		m->calls_no_rx + m->calls_no_tx, m->calls_unjudged, m->open_at_exit, m->idle_ended,
		m->bad_sdp, m->no_slot);
	fprintf(f, "\"sent\":{\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
		   ",\"socket_dropped\":%" PRIu64 ",\"skipped_late\":%" PRIu64 "},", m->tx_pkts,
		m->tx_bytes, m->tx_dropped, m->tx_skipped);
	fprintf(f, "\"received\":{\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
		   ",\"counted\":%" PRIu64 ",\"expected\":%" PRIu64 ",\"lost\":%" PRIu64
		   ",\"loss_ratio\":%.6f,\"late\":%" PRIu64 ",\"duplicates\":%" PRIu64
		   ",\"no_stream\":%" PRIu64 ",\"ssrc_conflict\":%" PRIu64 ",\"not_rtp\":%" PRIu64 "},",
		m->rx_pkts, m->rx_bytes, m->rx_counted, m->expected, m->lost, loss_ratio(m),
		m->late, m->dup, m->unmatched, m->ssrc_conflict, m->bad);
	fprintf(f, "\"jitter_ms\":{\"count\":%" PRIu64 ",\"p50\":%.4f,\"p99\":%.4f,"
		   "\"max\":%.4f}}", j->count, ms(lg_hist_pct(j, 50)), ms(lg_hist_pct(j, 99)),
		ms(j->max));
}

static void json(FILE *f, const struct lg_opts *o, const struct lg_stats *s, double el,
		 double start_s)
{
	double total = (double)(s->ok + s->failed);

	fprintf(f, "{\"role\":\"%s\",\"scenario\":\"%s\",\"elapsed_s\":%.3f,\"start_phase_s\":%.3f,"
		   "\"rate_target\":%.3f,\"rate_achieved\":%.3f,",
		o->role == LG_UAC ? "uac" : "uas", scen_names[o->scen], el, start_s, o->rate,
		start_s > 0 ? (double)s->started / start_s : 0.0);
	fprintf(f, "\"started\":%" PRIu64 ",\"ok\":%" PRIu64 ",\"failed\":%" PRIu64
		   ",\"failure_ratio\":%.6f,\"skipped\":%" PRIu64 ",\"max_concurrent\":%u,",
		s->started, s->ok, s->failed, total > 0 ? (double)s->failed / total : 0.0,
		s->skipped, s->max_active);
	json_codes(f, "failures_by_status", s->fail_code);
	fputc(',', f);
	json_fails(f, s);
	fputc(',', f);
	json_codes(f, "invite_responses", s->inv_resp);
	fputc(',', f);
	json_latency(f, &s->setup);
	fputc(',', f);
	json_requests(f, s);
	fprintf(f, ",\"uas_never_acked\":%" PRIu64 ",\"uas_stray_acks\":%" PRIu64,
		s->ack_timeouts, s->acks_absorbed);
	fprintf(f, ",\"retransmissions\":{\"sent\":%" PRIu64 ",\"duplicates_received\":%" PRIu64
		   "},\"stray_responses\":%" PRIu64, s->retx_sent, s->retx_rcvd, s->stray);
	fprintf(f, ",\"messages\":{\"sent\":%" PRIu64 ",\"received\":%" PRIu64 ",\"per_s\":%.1f,"
		   "\"socket_dropped\":%" PRIu64 ",\"unparseable\":%" PRIu64 ",\"truncated\":%"
		   PRIu64 "}", s->msgs_sent, s->msgs_rcvd,
		el > 0 ? (double)(s->msgs_sent + s->msgs_rcvd) / el : 0.0, s->tx_dropped,
		s->parse_errors, s->rx_truncated);
	if (o->rtp)
		json_media(f, &s->m);
	fputs("}\n", f);
}

void lg_report(FILE *f, const struct lg_opts *o, const struct lg_stats *s, double elapsed_s,
	       double start_s, bool as_json)
{
	if (as_json)
		json(f, o, s, elapsed_s, start_s);
	else
		human(f, o, s, elapsed_s, start_s);
	fflush(f);
}

/* Racy reads of the workers' counters: display only (aligned 64-bit loads
 * do not tear on the targets this runs on). */
void lg_progress(const struct lg_opts *o, struct lg_worker *ws, unsigned n, double t_s)
{
	uint64_t started = 0, ok = 0, failed = 0, msgs = 0, retx = 0;
	uint64_t active = 0, inv = 0, bye = 0;

	for (unsigned i = 0; i < n; i++) {
		const struct lg_stats *s = &ws[i].st;

		started += s->started;
		ok += s->ok;
		failed += s->failed;
		active += s->active;
		retx += s->retx_sent;
		msgs += s->msgs_sent + s->msgs_rcvd;
		inv += s->req_rcvd[SIP_M_INVITE];
		bye += s->req_rcvd[SIP_M_BYE];
	}
	if (o->role == LG_UAC)
		fprintf(stderr, "[%7.1fs] started %" PRIu64 "  ok %" PRIu64 "  failed %" PRIu64
				"  active %" PRIu64 "  retx %" PRIu64 "  msgs %" PRIu64 "\n",
			t_s, started, ok, failed, active, retx, msgs);
	else
		fprintf(stderr, "[%7.1fs] INVITE %" PRIu64 "  BYE %" PRIu64
				"  awaiting ACK %" PRIu64 "  retx %" PRIu64 "  msgs %" PRIu64 "\n",
			t_s, inv, bye, active, retx, msgs);
}
