/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/txn private: the objects behind the opaque handles of txn.h and the
 * helpers the three source files share (txn.c: shard, slabs, timers,
 * branches; txn_server.c: server side and request matching; txn_client.c:
 * client side and response matching; txn_build.c: ACK and CANCEL bytes).
 */
#ifndef SBC_TXN_INT_H
#define SBC_TXN_INT_H

#include "hash.h"
#include "htab.h"
#include "pool.h"
#include "txn.h"

/* Largest message the layer stores: the biggest slab class. sip_parse()
 * refuses more than SIP_MAX_MSG (65535), so only a caller-built request can
 * exceed it (txn_client_send: -E2BIG). */
#define TXN_MAX_MSG 65536u

/* "z9hG4bK" "-sbc-" + 2 + 8 + 8 hex digits. */
#define TXN_BRANCH_PREFIX "z9hG4bK-sbc-"
#define TXN_BRANCH_PREFIX_LEN 12u
#define TXN_BRANCH_LEN (TXN_BRANCH_PREFIX_LEN + 18u)
#define TXN_TAG_LEN 16u /* To-tag: 64 random bits as hex */
/* Bytes of a server transaction's own copy of its matching key and To-tag,
 * so the stored request can go once the final response is sent: a 3261
 * key (branch + sent-by host) and a tag nearly always fit; one that does
 * not keeps the whole request for the transaction's life ("pinned"). */
#define TXN_KEY_INLINE 96u

/* Timers of the layer: tag = TXN_TIMER_TAG_BASE + one of these. */
enum txn_tt {
	TT_S_RETX = 1, /* server: Timer G */
	TT_S_END,      /* server: Timer H, I, J, L */
	TT_C_RETX,     /* client: Timer A, E */
	TT_C_END,      /* client: Timer B, F, D, K, M; deferred send failure */
	TT_C_C,        /* client INVITE: Timer C, then the post-CANCEL guard */
};

/* Durations the state machines use, precomputed at create (ms). */
enum txn_dur {
	DUR_NONE = 0, /* no timer (table entries left out) */
	DUR_T1,
	DUR_T2,
	DUR_T4,
	DUR_64T1,     /* Timers B, F, H, J, L, M; the post-CANCEL guard */
	DUR_TIMER_C,
	DUR_TIMER_D,  /* max(32 s, 64*T1) over UDP (RFC 3261 17.1.1.2) */
	DUR_ZERO,     /* TCP would use this for D, I, J, K (see txn.c) */
	DUR__COUNT
};

/* A stored message copy in one of the slab classes. */
struct txn_buf {
	char *p;          /* NULL: nothing stored */
	uint32_t len;
	uint8_t cls;
};

/* Server matching key (RFC 3261 17.2.3). Views into the transaction's
 * inline copy (kb, or its stored request when pinned), or into the
 * incoming message for a lookup. */
enum txn_key_kind { KEY_3261 = 1, KEY_2543 = 2 };

struct txn_key {
	uint8_t kind;
	uint8_t mclass;    /* enum sip_method; ACK is folded into INVITE */
	uint16_t port;     /* top Via sent-by port, 0 if absent */
	uint32_t cseq;     /* 2543 only */
	sip_str_t mname;   /* extension method token (mclass SIP_M_UNKNOWN) */
	sip_str_t branch;  /* 3261 only */
	sip_str_t host;    /* top Via sent-by host */
	sip_str_t call_id; /* 2543 only, and the two below */
	sip_str_t from_tag;
	sip_str_t ruri;
};

enum txn_sstate {
	SS_FREE = 0,
	SS_TRYING,      /* non-INVITE, nothing sent yet */
	SS_PROCEEDING,  /* a provisional sent (INVITE: from creation, 100) */
	SS_COMPLETED,   /* non-2xx final (INVITE) or any final (non-INVITE) */
	SS_CONFIRMED,   /* INVITE: ACK of the non-2xx final received */
	SS_ACCEPTED,    /* INVITE: 2xx sent (RFC 6026) */
	SS__COUNT
};

struct txn_server {
	struct txn_shard *sh;
	struct wheel_timer t_retx;  /* G */
	struct wheel_timer t_end;   /* H, I, J, L */
	struct txn_key key;
	uint64_t hash;              /* of the key, to leave the table without eq */
	struct txn_buf req;         /* the request until the final is sent;
				     * INVITE Accepted: its headers only */
	struct txn_buf rsp;         /* last provisional or non-2xx final */
	struct txn_peer peer;
	void *user;
	sip_str_t to_tag;           /* into kb (or req when pinned) */
	uint32_t retx_ms;           /* next Timer G interval */
	uint16_t final;
	uint8_t state;              /* enum txn_sstate */
	uint8_t method;             /* enum sip_method */
	bool pinned;                /* key/tag view req: req stays till the end */
	char kb[TXN_KEY_INLINE];    /* To-tag, then the key's strings */
};

enum txn_cstate {
	CS_FREE = 0,
	CS_RESERVED,    /* created, request not sent yet */
	CS_PENDING,     /* CANCEL built, waiting for a provisional (9.1) */
	CS_CALLING,     /* INVITE: Timer A/B */
	CS_TRYING,      /* non-INVITE: Timer E/F */
	CS_PROCEEDING,
	CS_COMPLETED,   /* INVITE: non-2xx final, Timer D; non-INVITE: K */
	CS_ACCEPTED,    /* INVITE: 2xx, Timer M (RFC 6026) */
	CS_FAILED,      /* transport error; timeout(503) on the next tick */
	CS_TERMINATED,  /* ended; freed as soon as no callback holds it */
	CS__COUNT
};

struct txn_client {
	struct txn_shard *sh;
	struct wheel_timer t_retx;  /* A, E */
	struct wheel_timer t_end;   /* B, F, D, K, M; deferred failure */
	struct wheel_timer t_c;     /* C; then the guard after CANCEL */
	struct txn_buf req;         /* the request until a final arrives; then
				     * nothing, or the ACK of a non-2xx */
	struct txn_peer peer;
	struct txn_client *cancel;  /* INVITE: its CANCEL transaction */
	struct txn_client *parent;  /* CANCEL: the INVITE it cancels */
	void *user;
	uint32_t gen;               /* in the branch; 0 = matches nothing */
	uint32_t retx_ms;           /* next Timer A/E interval */
	uint16_t final;
	uint8_t state;              /* enum txn_cstate */
	uint8_t method;
	uint8_t hold;               /* callbacks in progress on this object */
	bool provisional;           /* a 1xx arrived */
	bool cancelled;             /* txn_client_cancel done (or Timer C) */
	bool guard;                 /* t_c is the post-CANCEL guard */
	bool abandoned;             /* owner let go: no callback any more */
	bool internal;              /* a CANCEL of ours: never reported */
	bool ack_stored;            /* Completed INVITE: req holds the ACK */
	char branch[TXN_BRANCH_LEN];
};

#define TXN_SLAB_CLASSES 4u

struct txn_slab {
	uint32_t size;
	uint32_t count;
	struct pool *pool;
};

struct txn_shard {
	struct txn_config cfg;
	struct wheel *w;
	struct txn_ops ops;
	void *ctx;
	struct pool *spool;          /* struct txn_server */
	struct pool *cpool;          /* struct txn_client */
	struct htab *tab;            /* server key -> spool index */
	struct txn_slab slab[TXN_SLAB_CLASSES];
	struct sbc_hash_key prf_key; /* To-tags and generations */
	uint64_t prf_ctr;
	uint32_t dur[DUR__COUNT];
	struct txn_stats st;
	struct sip_msg *msg;         /* scratch: re-parse a stored copy */
	struct sip_editor *ed;       /* scratch: trim an Accepted request */
	uint8_t *keybuf;             /* scratch: an encoded matching key */
	char *out;                   /* scratch: a message being built */
};

/* txn.c */
int txn_buf_set(struct txn_shard *sh, struct txn_buf *b, const char *p, uint32_t len);
void txn_buf_free(struct txn_shard *sh, struct txn_buf *b);
bool txn_buf_replace(struct txn_shard *sh, struct txn_buf *b, const char *p, uint32_t len);
uint64_t txn_prf(struct txn_shard *sh);
void txn_hex(char *out, uint64_t v, unsigned digits);
void txn_arm(struct txn_shard *sh, struct wheel_timer *t, enum txn_dur d);
void txn_arm_ms(struct txn_shard *sh, struct wheel_timer *t, uint32_t ms);
int txn_send(struct txn_shard *sh, const struct txn_peer *to, const char *p, uint32_t len);
int txn_reparse(struct txn_shard *sh, const struct txn_buf *b);
int txn_branch_decode(sip_str_t b, uint32_t *shard, uint32_t *idx, uint32_t *gen);
void txn_branch_encode(char *out, uint32_t shard, uint32_t idx, uint32_t gen);

/* txn_server.c */
enum txn_verdict txn_input_request(struct txn_shard *sh, const struct sip_msg *m,
				   struct txn_server **match);
bool txn_key_eq_cb(void *ctx, uint32_t val, const void *key, size_t len);
void txn_server_timer(struct txn_server *s, enum txn_tt tt);
void txn_server_release(struct txn_server *s);

/* txn_client.c */
enum txn_verdict txn_input_response(struct txn_shard *sh, const struct sip_msg *m);
void txn_client_timer(struct txn_client *c, enum txn_tt tt);
void txn_client_release(struct txn_client *c);

/* txn_build.c: into sh->out; the length or <0. inv is the stored INVITE
 * parsed into sh->msg; rsp the non-2xx final being acknowledged. */
int txn_build_ack(struct txn_shard *sh, const struct sip_msg *inv, const struct sip_msg *rsp);
int txn_build_cancel(struct txn_shard *sh, const struct sip_msg *inv, sip_str_t extra);

#endif /* SBC_TXN_INT_H */
