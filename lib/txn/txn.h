/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/txn — the RFC 3261 section 17 transaction layer of a stateful proxy
 * (section 16), with the RFC 6026 "Accepted" states, for one shard.
 *
 * Ownership and threads
 *   A struct txn_shard belongs to one worker thread: every function here is
 *   called by that thread only, and every callback runs on it. No locks.
 *   All memory (transactions, stored message copies) is allocated in
 *   txn_shard_create() from fixed pools; nothing is allocated per message.
 *   When a pool is empty the create functions return NULL and the caller
 *   answers 503 (overload), never queues.
 *
 *   A transaction keeps message copies only while the RFC needs them, so
 *   the copies (max_messages) can be far fewer than the transactions that
 *   linger 64*T1 after their final response:
 *   - server: the request until the final response is sent (then only the
 *     matching key and To-tag, copied into the transaction, absorb
 *     retransmissions; a key too long for that keeps the request); in
 *     INVITE Accepted (2xx, RFC 6026) the request's headers without the
 *     body, which the owner reads to forward further 2xx; the last
 *     response only while it may be resent (Proceeding, Completed);
 *   - client: the request until a final response arrives; in INVITE
 *     Completed (non-2xx) the ACK built for it, resent for each
 *     retransmitted final until Timer D.
 *
 * What the layer does
 *   - matches requests to server transactions (RFC 3261 17.2.3; RFC 2543
 *     fallback when the branch lacks the magic cookie) and responses to
 *     client transactions (by the branch the layer itself minted);
 *   - absorbs request retransmissions, resending the last response;
 *   - absorbs the ACK of a non-2xx final response (hop by hop) and
 *     generates that ACK downstream for client INVITE transactions;
 *   - retransmits over UDP: Timer A/E (client requests), Timer G (server
 *     non-2xx finals); times out on Timer B/F (and Timer C, the proxy's
 *     INVITE timer, reset by every provisional but 100, RFC 3261 16.6
 *     step 11 and 16.7 step 2): the owner is told through ops->timeout;
 *   - builds and sends CANCEL for a pending client INVITE (after a
 *     provisional has arrived, RFC 3261 9.1) and the 100 Trying of server
 *     INVITE transactions.
 *   It does not route, rewrite, or track dialogs: the proxy core above does,
 *   and hands the layer finished bytes to send.
 *
 * Branches and shards
 *   Client branches are "z9hG4bK" "-sbc-" <shard 2 hex> <index 8 hex>
 *   <generation 8 hex>: a response finds its shard (txn_branch_shard) and
 *   its transaction (index, checked against the generation so a stale or
 *   forged branch matches nothing) without any table lookup. This is the
 *   design invariant: the shard of every message is computable from its
 *   bytes.
 *
 * Timers
 *   The layer arms timers on the caller's wheel (shared with other modules
 *   of the shard) with tags in [TXN_TIMER_TAG_BASE, TXN_TIMER_TAG_BASE +
 *   0xffff]; the caller's wheel callback passes those to txn_timer_fire().
 */
#ifndef SBC_TXN_H
#define SBC_TXN_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "sip.h"
#include "wheel.h"

#define TXN_TIMER_TAG_BASE 0x10000u
#define TXN_TIMER_TAG_MASK 0xffff0000u

/* Where a message came from or goes: the peer and our local interface. */
struct txn_peer {
	union sbc_sockaddr addr;
	uint16_t iface;    /* local interface (flattened listen index) */
	uint16_t realm;
};

/* A zero timer value means its default. */
struct txn_config {
	uint32_t t1_ms;          /* RTT estimate, default 500 */
	uint32_t t2_ms;          /* max retransmit interval, default 4000 */
	uint32_t t4_ms;          /* max message lifetime, default 5000 */
	uint32_t timer_c_ms;     /* proxy INVITE timer, default 180000 */
	uint32_t max_server;     /* server transactions in the shard */
	uint32_t max_client;     /* client transactions in the shard */
	uint32_t max_messages;   /* stored message copies (slab sizing, see
				  * txn.c); 0: max_server + max_client */
	uint8_t shard;           /* this shard's number, encoded in branches */
	uint64_t seed[2];        /* secret for the matching hash and generations */
};

struct txn_server;
struct txn_client;

enum txn_end {
	TXN_END_TIMEOUT = 408,   /* Timer B/F, or Timer C with no provisional */
	TXN_END_TRANSPORT = 503, /* ops->send reported failure */
};

struct txn_ops {
	/* Transmit a datagram (copy it before returning). Returns 0, or <0 on
	 * a transport error: a client transaction then ends with
	 * TXN_END_TRANSPORT. */
	int (*send)(void *ctx, const struct txn_peer *to, const char *buf, uint32_t len);
	/* A response for client transaction c that the proxy must act on:
	 * every 1xx but 100, every final the first time, and 2xx
	 * retransmissions / further 2xx from forking downstream (RFC 6026:
	 * those are forwarded too). m's buffer is valid during the call only. */
	void (*response)(void *ctx, struct txn_client *c, const struct sip_msg *m);
	/* Client transaction c ends without a final response (status 408 or
	 * 503). Timer C with a provisional first sends CANCEL downstream and
	 * reports 408 only if no final response follows within 64*T1. */
	void (*timeout)(void *ctx, struct txn_client *c, uint16_t status);
	/* The transaction is being freed: drop every pointer to it. */
	void (*server_gone)(void *ctx, struct txn_server *s);
	void (*client_gone)(void *ctx, struct txn_client *c);
};

struct txn_shard;

/* NULL on bad configuration or out of memory (start-up only). */
struct txn_shard *txn_shard_create(const struct txn_config *cfg, struct wheel *w,
				   const struct txn_ops *ops, void *ctx);
/* Frees every transaction (calling the *_gone callbacks) and the shard.
 * Call it before destroying the wheel (it cancels its timers). NULL ok. */
void txn_shard_destroy(struct txn_shard *sh);

/* Deliver a timer of the layer (tag in the TXN range). */
void txn_timer_fire(struct txn_shard *sh, struct wheel_timer *t);

/* The shard a branch minted by any shard names, or -1. */
int txn_branch_shard(sip_str_t branch);

/* ---- input ------------------------------------------------------------ */

enum txn_verdict {
	TXN_NEW,             /* request matching no transaction, not ACK/CANCEL:
			      * create a server transaction or answer statelessly */
	TXN_ACK,             /* ACK matching no INVITE transaction: the ACK of a
			      * 2xx, end to end: forward it through the dialog */
	TXN_ABSORBED,        /* retransmission or hop-by-hop ACK: handled */
	TXN_CANCEL,          /* CANCEL matching server INVITE *match (which has
			      * no final response yet): create a server txn for
			      * the CANCEL, answer it 200, cancel the branches */
	TXN_CANCEL_LATE,     /* CANCEL of an INVITE already answered: answer the
			      * CANCEL 200, nothing else (RFC 3261 9.2) */
	TXN_CANCEL_NOMATCH,  /* CANCEL of nothing known: answer 481 */
	TXN_RESPONSE,        /* response handed to ops->response (or absorbed) */
	TXN_STRAY,           /* response matching no client transaction: drop,
			      * count (RFC 3261 16.7 may forward statelessly;
			      * an SBC must not) */
};

/* Classify and, for retransmissions and responses, handle a message that
 * passed sip_parse()+sip_check(). The time is the wheel's (wheel_now()):
 * the caller advances the wheel before feeding a burst. *match (may be
 * NULL) receives the server transaction the request matched: the INVITE's
 * for TXN_CANCEL / TXN_CANCEL_LATE, the matched one for TXN_ABSORBED and
 * for TXN_ACK of an Accepted INVITE; NULL otherwise. */
enum txn_verdict txn_input(struct txn_shard *sh, const struct sip_msg *m,
			   const struct txn_peer *from, struct txn_server **match);

/* ---- server transactions --------------------------------------------- */

/* Create the server transaction for request m (a TXN_NEW request or the
 * CANCEL of TXN_CANCEL/TXN_CANCEL_LATE). Copies the request. For INVITE it
 * sends 100 Trying at once. NULL when the pool is full or the request is
 * too large to store: answer 503 statelessly. */
struct txn_server *txn_server_create(struct txn_shard *sh, const struct sip_msg *m,
				     const struct txn_peer *from);

/* Answer with a response the layer builds from the stored request
 * (sip_reply: Vias, From, To + the transaction's To-tag, Call-ID, CSeq,
 * extra header lines). Finals move the transaction to Completed/Accepted. */
int txn_server_reply(struct txn_server *s, uint16_t status, const char *reason, sip_str_t extra_hdrs);

/* Send a response the proxy built (forwarded from downstream). status is
 * its code. 2xx after a 2xx are allowed (forking); a non-2xx final after a
 * final is refused (-EALREADY). Returns 0 or <0. */
int txn_server_send(struct txn_server *s, uint16_t status, const char *buf, uint32_t len);

/* The stored request (the view is valid until the next call into the layer
 * for s): whole until the final response is sent; after a 2xx final to
 * INVITE its header section only (same Vias, From, To, Call-ID, CSeq,
 * Contact, Route/Record-Route; no body); after any other final, empty
 * (len 0) unless the matching key was too long to keep separately. */
sip_str_t txn_server_request(const struct txn_server *s);
const struct txn_peer *txn_server_peer(const struct txn_server *s);
enum sip_method txn_server_method(const struct txn_server *s);
/* Highest final status sent (0 if none yet). */
uint16_t txn_server_final(const struct txn_server *s);
/* The To-tag used by txn_server_reply() for this transaction: the
 * request's own for an in-dialog request, else 16 hex digits from the
 * shard's keyed generator. */
sip_str_t txn_server_to_tag(const struct txn_server *s);
void txn_server_set_user(struct txn_server *s, void *user);
void *txn_server_user(const struct txn_server *s);

/* ---- client transactions ---------------------------------------------- */

/* Reserve a client transaction for a request of method to peer. *branch
 * receives the branch to put in the caller's Via (valid while c lives).
 * NULL when the pool is full. */
struct txn_client *txn_client_create(struct txn_shard *sh, enum sip_method method,
				     const struct txn_peer *to, sip_str_t *branch);

/* Send the request (the caller's finished bytes, top Via carrying the
 * branch). Copies it; starts Timer A/B or E/F, and Timer C for INVITE.
 * Returns 0, -E2BIG when it is too large to store, or <0 on transport
 * error (then ops->timeout(503) follows from the layer, never inline).
 * Precisely: -EALREADY (already sent) and -E2BIG: nothing happened, c
 * stays reserved - abandon it; -EIO (transport error) and -ENOBUFS (no
 * slab free to keep the copy: overload): ops->timeout(c, 503) follows on
 * the next wheel tick, unless c is abandoned first. */
int txn_client_send(struct txn_client *c, const char *buf, uint32_t len);

/* Cancel a pending INVITE: build CANCEL from the stored INVITE (R-URI,
 * top Via only, Route, From, To, Call-ID, CSeq number, Max-Forwards 70,
 * the optional extra header lines e.g. Reason) and send it in a client
 * non-INVITE transaction of its own, now if a provisional arrived, else
 * when one does (RFC 3261 9.1). If no response comes at all, Timer B/C
 * ends the INVITE with ops->timeout. No-op if already final, or if a
 * CANCEL was already issued (by an earlier call or by Timer C). Returns 0,
 * -EINVAL (not an INVITE, or not sent yet: abandon it instead), -ENOBUFS
 * (pools empty: Timer B/C still ends the INVITE). The CANCEL's own final
 * response is absorbed; the INVITE's 487 is what gets reported. */
int txn_client_cancel(struct txn_client *c, sip_str_t extra_hdrs);

/* Forget c at once, without CANCEL (e.g. after a final response has been
 * handled, or on failover). Safe to call from inside ops->response and
 * ops->timeout for c; ops->client_gone is not called for an abandon, and
 * no callback names c afterwards. In Completed (non-2xx final received)
 * the transaction lives on silently until Timer D/K so it still ACKs
 * retransmitted finals (17.1.1.2); in every other state it is freed. */
void txn_client_abandon(struct txn_client *c);

bool txn_client_provisional_seen(const struct txn_client *c);
/* Final status received (0 if none). */
uint16_t txn_client_final(const struct txn_client *c);
const struct txn_peer *txn_client_peer(const struct txn_client *c);
void txn_client_set_user(struct txn_client *c, void *user);
void *txn_client_user(const struct txn_client *c);

/* ---- stats ------------------------------------------------------------- */
struct txn_stats {
	uint64_t server_created, client_created;
	uint64_t server_active, client_active;
	uint64_t retransmits_sent;        /* Timer A/E/G */
	uint64_t retransmits_absorbed;    /* request retransmissions answered */
	uint64_t timeouts;                /* B/F/C */
	uint64_t stray_responses;
	uint64_t pool_exhausted;          /* transaction or slab pool empty */
	uint64_t send_failures;           /* ops->send returned < 0 */
	uint64_t buffers_held;            /* stored message copies in use */
	uint64_t buffers_total;           /* ... and preallocated, all classes */
	uint64_t buffer_bytes_held;       /* size of the buffers in use */
};
void txn_shard_stats(const struct txn_shard *sh, struct txn_stats *out);

#endif /* SBC_TXN_H */
