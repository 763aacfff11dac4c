/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * perf/loadgen — sbc-loadgen, a SIP load generator over UDP on lib/sip.
 *
 * Shape
 *   N worker threads (default 1), each with its own UDP socket, epoll set,
 *   timing wheel (lib/util/wheel), call pool (lib/util/pool) indexed by
 *   Call-ID (lib/util/htab), send and receive batches (sendmmsg/recvmmsg)
 *   and statistics. Nothing is shared between workers but the read-only
 *   options and a stop flag; main merges the statistics after joining.
 *   Everything is allocated before the first packet: no malloc per call.
 *
 * Roles
 *   uac  starts "units" (calls, registrations, OPTIONS or MESSAGE
 *        transactions, or flood INVITEs) at a rate and runs them as a UA:
 *        Timer A/E retransmissions, 2xx ACK, BYE after the hold time.
 *   uas  answers: INVITE 100/180/200 (SDP), retransmitting the 2xx (or the
 *        failure chosen with --uas-code) until the ACK; BYE, CANCEL,
 *        OPTIONS, MESSAGE, REGISTER and the rest 200. It keeps state only
 *        between a final response to INVITE and its ACK, so a UAS holds no
 *        memory per established call (except its RTP stream with --rtp).
 *
 * Media (--rtp, rtp.c): one more UDP socket per worker carries an RTP
 * stream each way for every call of the worker, demultiplexed by SSRC or
 * by the relay's source address, paced on a 1 ms tick.
 *
 * Messages are rebuilt from a call's few saved fields when retransmitted,
 * never stored, except the UAS's final response (built from request bytes
 * it no longer has).
 */
#ifndef SBC_LOADGEN_H
#define SBC_LOADGEN_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "addr.h"
#include "hash.h"
#include "htab.h"
#include "pool.h"
#include "sip.h"
#include "wheel.h"

#define LG_MSG_MAX     4096u   /* largest message the loadgen builds */
#define LG_RX_SLOT     16384u  /* receive buffer per datagram (larger: truncated, counted) */
#define LG_BATCH       64u     /* datagrams per recvmmsg / sendmmsg */
#define LG_CID_MAX     128u    /* longest Call-ID a UAS entry keeps */
#define LG_TAG_MAX     64u
#define LG_TARGET_MAX  160u
#define LG_ROUTE_MAX   400u
#define LG_UAS_RESP_MAX 1800u  /* stored final response of a UAS entry */
#define LG_STATUS_MAX  700u    /* status codes 100..699 index arrays */

enum lg_role { LG_UAC = 0, LG_UAS };
enum lg_scen { LG_CALL = 0, LG_REGISTER, LG_OPTIONS, LG_MESSAGE, LG_FLOOD };

struct lg_opts {
	enum lg_role role;
	enum lg_scen scen;
	union sbc_sockaddr local;    /* port 0: ephemeral (per thread) */
	union sbc_sockaddr remote;   /* uac: every request goes here */
	char ruri[256];
	char from_user[64];
	char domain[128];            /* From/To/AOR host; default: R-URI host */
	double rate;                 /* units started per second */
	double ramp_s;
	uint32_t max_concurrent;
	uint64_t calls;              /* 0: no count limit */
	double duration_s;           /* 0: no time limit */
	double drain_s;              /* < 0: default */
	uint32_t hold_ms;
	bool reinvite;
	uint32_t t1_ms, t2_ms, timeout_ms;
	uint32_t expires, refreshes, users;
	uint16_t uas_code;           /* 0: answer normally */
	uint32_t uas_pct;            /* share of initial requests failed */
	uint32_t answer_ms;          /* uas: 180 -> 200 delay */
	bool no_100;
	uint32_t threads;
	uint32_t idle_exit_s;
	double interval_s;           /* progress lines on stderr, 0 = off */
	bool json;
	/* --rtp: a stream each way per call (rtp.c) */
	bool rtp;
	bool rtp_mute;               /* fault injection: send none */
	uint32_t rtp_ptime;          /* ms */
	uint32_t rtp_payload;        /* bytes after the 12-byte header */
	uint16_t rtp_port;           /* 0: ephemeral; thread i binds PORT + i */
	uint32_t rtp_streams;        /* uas: streams at most (process) */
};

/* Log-linear histogram (HDR-like): 32 sub-buckets per power of two, so a
 * recorded value is known to within ~3%; values in nanoseconds. */
#define LG_HIST_SUB_BITS 5u
#define LG_HIST_SUB      (1u << LG_HIST_SUB_BITS)
#define LG_HIST_BUCKETS  ((64u - LG_HIST_SUB_BITS + 1u) * LG_HIST_SUB)

struct lg_hist {
	uint64_t count, sum, max, min;
	uint64_t b[LG_HIST_BUCKETS];
};

void lg_hist_add(struct lg_hist *h, uint64_t v);
void lg_hist_merge(struct lg_hist *into, const struct lg_hist *from);
uint64_t lg_hist_pct(const struct lg_hist *h, double pct);

/* Failures that are not a status code. */
#define LG_FAILS(X)                                                          \
	X(TIMEOUT_INVITE, "timeout_invite")                                  \
	X(TIMEOUT_REINVITE, "timeout_reinvite")                              \
	X(TIMEOUT_BYE, "timeout_bye")                                        \
	X(TIMEOUT_REQUEST, "timeout_request")                                \
	X(UNFINISHED, "unfinished_at_drain")                                 \
	X(SEND, "send_error")                                                \
	X(REMOTE_BYE, "bye_from_peer")                                       \
	X(BAD_RESPONSE, "unusable_2xx")                                      \
	X(MEDIA_SDP, "media_bad_sdp")                                        \
	X(MEDIA_NO_RX, "media_not_received")                                 \
	X(MEDIA_NO_TX, "media_not_delivered")

enum lg_fail {
#define LG_FAIL_ENUM(n, s) LG_F_##n,
	LG_FAILS(LG_FAIL_ENUM)
#undef LG_FAIL_ENUM
	LG_F__COUNT
};
const char *lg_fail_name(enum lg_fail f);

/* RTP, all roles (--rtp). Packets are counted per direction of this end:
 * sent, and received (raw, then per stream: expected from the sequence
 * numbers, counted = distinct ones, lost = expected - counted). */
struct lg_media_stats {
	uint64_t streams, no_slot, bad_sdp;
	uint64_t tx_pkts, tx_bytes, tx_dropped;
	uint64_t tx_skipped;                 /* owed for > 200 ms (stall): given up */
	uint64_t rx_pkts, rx_bytes, rx_counted, expected, lost, late, dup;
	uint64_t unmatched;                  /* no stream (e.g. in flight at BYE) */
	uint64_t ssrc_conflict;              /* ... of those, from a bound stream's address */
	uint64_t bad;                        /* not RTP, short or truncated */
	uint64_t calls_ok, calls_no_rx, calls_no_tx, calls_unjudged;
	uint64_t idle_ended, open_at_exit;
	struct lg_hist jitter;               /* per stream at its end, ns */
};

struct lg_stats {
	/* uac units */
	uint64_t started, ok, failed;
	uint64_t fail_code[LG_STATUS_MAX];   /* final status of a failed unit */
	uint64_t fail[LG_F__COUNT];
	uint64_t skipped;                    /* starts dropped at --max-concurrent */
	uint64_t no_slot;                    /* pool or table full */
	uint32_t active, max_active;
	/* responses received to INVITE, by code (all roles; flood's counts) */
	uint64_t inv_resp[LG_STATUS_MAX];
	uint64_t retx_sent;                  /* our retransmissions (A/E, uas 2xx) */
	uint64_t retx_rcvd;                  /* duplicates received */
	uint64_t stray;                      /* responses matching no unit */
	/* uas */
	uint64_t req_rcvd[SIP_M__COUNT];
	uint64_t ack_timeouts;               /* uas final never ACKed */
	uint64_t acks_absorbed;
	/* wire */
	uint64_t msgs_sent, msgs_rcvd, bytes_sent, bytes_rcvd;
	uint64_t tx_dropped;                 /* socket refused (EAGAIN/ENOBUFS) */
	uint64_t rx_truncated, parse_errors;
	struct lg_hist setup;                /* INVITE/request sent -> final 2xx */
	struct lg_media_stats m;
};

/* Per-thread state. */
struct lg_worker {
	unsigned id;
	const struct lg_opts *o;
	int fd, ep;
	union sbc_sockaddr local;            /* bound address (port resolved) */
	char local_hp[64];                   /* "ip:port" for Via and Contact */
	uint32_t local_hp_len;
	char local_ip[48];
	uint32_t local_ip_len;
	char from_uri[192];                  /* <sip:user@domain> body */
	uint32_t from_uri_len;
	char ruri_host[128];                 /* host of the R-URI (REGISTER AOR) */
	uint32_t ruri_host_len;
	uint32_t run_id;                     /* random, makes Call-IDs unique */
	uint32_t sl_branch;                  /* branches of stateless requests */

	/* rate: share of this thread */
	double rate, ramp_s;
	uint64_t calls;                      /* 0: unlimited */
	uint32_t max_concurrent;
	uint64_t t_start_ns, t_stop_start_ns, t_end_ns, t_last_rx_ns, t_done_ns;
	bool starting;                       /* still starting units */
	uint64_t seq;                        /* units started (Call-ID counter) */
	double start_debt;                   /* starts given up at the cap */

	struct wheel *wheel;
	struct pool *pool;                   /* struct lg_call or struct lg_uas_ent */
	struct htab *tab;
	struct sbc_hash_key key;
	uint64_t now_ns, now_ms;

	/* batches */
	struct mmsghdr rx_mh[LG_BATCH];
	struct iovec rx_iov[LG_BATCH];
	union sbc_sockaddr rx_addr[LG_BATCH];
	char *rx_buf;                        /* LG_BATCH * LG_RX_SLOT */
	struct mmsghdr tx_mh[LG_BATCH];
	struct iovec tx_iov[LG_BATCH];
	union sbc_sockaddr tx_addr[LG_BATCH];
	char *tx_buf;                        /* LG_BATCH * LG_MSG_MAX */
	unsigned ntx;

	/* SDP bodies, built once: offer, hold offer (sendonly), answer, hold
	 * answer (recvonly). */
	char sdp[4][384];
	uint32_t sdp_len[4];

	struct lg_rtp *rtp;                  /* NULL without --rtp */
	uint16_t rtp_port;                   /* the RTP socket's, for the SDP */
	uint32_t rtp_streams;                /* uas: this thread's stream pool */

	struct lg_stats st;
	atomic_bool done;
	pthread_t thread;
} __attribute__((aligned(64)));

extern volatile sig_atomic_t lg_stop;
/* Last datagram received by any thread: a UAS thread the kernel gives no
 * peer must still see the process go idle. Relaxed, once per batch. */
extern _Atomic uint64_t lg_last_rx_ns;

/* net.c */
int lg_net_open(struct lg_worker *w);
void lg_net_bufs(int fd);
void lg_net_close(struct lg_worker *w);
/* Buffer for the next outgoing datagram (flushes a full batch first). */
char *lg_tx_slot(struct lg_worker *w);
/* Queue the datagram written into the last slot for dst. */
void lg_tx_commit(struct lg_worker *w, uint32_t len, const union sbc_sockaddr *dst);
void lg_tx_flush(struct lg_worker *w);
/* Send a copy of buf (queued like the others). */
void lg_tx_copy(struct lg_worker *w, const char *buf, uint32_t len, const union sbc_sockaddr *dst);
/* Receive one batch without blocking; calls handle for each datagram. */
unsigned lg_rx_burst(struct lg_worker *w,
		     void (*handle)(struct lg_worker *, const char *, uint32_t,
				    const union sbc_sockaddr *));
void lg_wait(struct lg_worker *w, int timeout_ms);
uint64_t lg_clock_ns(void);

/* msg.c — builders. A string builder that stops writing at its capacity. */
struct lg_sb {
	char *p;
	uint32_t len, cap;
	bool over;
};
void lg_sb_put(struct lg_sb *b, const void *s, size_t n);
void lg_sb_u32(struct lg_sb *b, uint32_t v);
void lg_sb_hex(struct lg_sb *b, uint64_t v, unsigned digits);
#define lg_sb_lit(b, s) lg_sb_put((b), (s), sizeof(s) - 1)
static inline void lg_sb_str(struct lg_sb *b, sip_str_t s) { lg_sb_put(b, s.p, s.len); }

/* A UAC request from its parts; empty views leave their header out. */
struct lg_req {
	enum sip_method method;
	sip_str_t ruri, branch;
	sip_str_t from_uri, from_tag;
	sip_str_t to_uri, to_tag;
	sip_str_t call_id;
	uint32_t cseq;
	sip_str_t route;       /* value of one Route header */
	sip_str_t contact;     /* our Contact URI */
	int64_t expires;       /* < 0: no Expires header */
	sip_str_t ctype, body;
};
int lg_build_request(const struct lg_worker *w, const struct lg_req *r, char *out, uint32_t cap);

/* A UAS response to request m: every Via, Record-Route (18x/2xx), From,
 * To (+ to_tag when it has none and status > 100), Call-ID, CSeq, then
 * extra (raw lines), Contact (when contact), body. */
int lg_build_response(const struct lg_worker *w, const struct sip_msg *m, uint16_t status,
		      sip_str_t to_tag, sip_str_t extra, bool contact, sip_str_t body,
		      char *out, uint32_t cap);
enum { LG_SDP_OFFER = 0, LG_SDP_HOLD, LG_SDP_ANSWER, LG_SDP_ANSWER_HOLD };
void lg_build_sdp(struct lg_worker *w);
static inline sip_str_t lg_sdp(const struct lg_worker *w, int which)
{
	return (sip_str_t){ w->sdp[which], w->sdp_len[which] };
}
const char *lg_reason(uint16_t status);

/* uac.c / uas.c */
int lg_uac_init(struct lg_worker *w);
void lg_uac_loop(struct lg_worker *w);
int lg_uas_init(struct lg_worker *w);
void lg_uas_loop(struct lg_worker *w);

/* rtp.c — RTP streams (--rtp); see there for the design. */
#define LG_RTP_NONE     UINT32_MAX        /* a call without a stream */
#define LG_RTP_BAD_SDP  (UINT32_MAX - 1u) /* ... because the SDP had no usable audio */
#define LG_RTP_IDLE_MS  30000u            /* uas: a silent stream ends (lost BYE) */
#define LG_TAG_RTP      7u                /* wheel tag of a stream's idle timer */
#define LG_RTP_PAYLOAD_MAX 1400u
struct lg_rtp;
int lg_rtp_open(struct lg_worker *w);
void lg_rtp_close(struct lg_worker *w);
/* Receive, send what the elapsed ticks owe, flush; 1 when more datagrams
 * may be waiting (the loop should not sleep), else 0. */
unsigned lg_rtp_poll(struct lg_worker *w);
/* wait_ms, shortened to the next tick while streams are sending. */
int lg_rtp_wait_ms(const struct lg_worker *w, int wait_ms);
/* uac: the 2xx's SDP starts a stream; its index or LG_RTP_NONE/BAD_SDP. */
uint32_t lg_rtp_uac_answer(struct lg_worker *w, sip_str_t cid, const struct sip_msg *m);
/* uac: stop; LG_F__COUNT or the media failure of the call (when judge). */
enum lg_fail lg_rtp_uac_end(struct lg_worker *w, uint32_t idx, bool judge);
void lg_rtp_uas_offer(struct lg_worker *w, sip_str_t cid, uint64_t cid_h,
		      const struct sip_msg *m);
void lg_rtp_uas_ack(struct lg_worker *w, uint64_t cid_h);
void lg_rtp_uas_reinvite(struct lg_worker *w, uint64_t cid_h, bool held);
void lg_rtp_uas_bye(struct lg_worker *w, uint64_t cid_h);
void lg_rtp_timer(struct lg_worker *w, struct wheel_timer *t);
void lg_rtp_finish(struct lg_worker *w);

/* stats.c */
void lg_stats_merge(struct lg_stats *into, const struct lg_stats *from);
void lg_report(FILE *f, const struct lg_opts *o, const struct lg_stats *s, double elapsed_s,
	       double start_s, bool json);
void lg_progress(const struct lg_opts *o, struct lg_worker *ws, unsigned n, double t_s);

#endif /* SBC_LOADGEN_H */
