/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/dialog — per-shard dialog table (RFC 3261 section 12) for a
 * dialog-stateful proxy: early, confirmed and terminated dialogs of INVITE
 * and SUBSCRIBE/REFER usages, keyed by Call-ID and both tags.
 *
 * Ownership and threads
 *   A struct dlg_table belongs to one worker (its shard); every call and
 *   callback happens on that thread. Dialogs come from a fixed pool sized at
 *   create time; dlg_create() returns NULL when it is full (the caller still
 *   proxies the call, untracked, and counts it). No allocation afterwards.
 *
 * Storage
 *   Each dialog copies what it needs to act on its own (send BYE at the
 *   maximum duration): Call-ID, tags, the From and To header values, each
 *   side's Contact URI and route set, into a fixed arena inside the dialog
 *   (DLG_ARENA bytes). What does not fit leaves the field empty and clears
 *   `can_end` (the dialog is still tracked; the SBC cannot end it itself).
 *
 * Timers
 *   Maximum duration and subscription expiry run on the shard's wheel with
 *   tags in [DLG_TIMER_TAG_BASE, +0xffff]; the caller's wheel callback hands
 *   them to dlg_timer_fire(), which calls ops->expired.
 */
#ifndef SBC_DIALOG_H
#define SBC_DIALOG_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "sip.h"
#include "wheel.h"

#define DLG_TIMER_TAG_BASE 0x20000u
#define DLG_ARENA 1536u
#define DLG_KEY_MAX 512u

enum dlg_state { DLG_EARLY = 0, DLG_CONFIRMED, DLG_TERMINATED };
enum dlg_end_reason { DLG_END_MAX_DURATION = 0, DLG_END_SUB_EXPIRED };

/* One side of the dialog: where requests towards it go. */
struct dlg_side {
	union sbc_sockaddr addr;   /* next hop towards this side */
	uint16_t iface;            /* our interface on that side */
	uint16_t realm;
	sip_str_t contact;         /* remote target (URI) of this side */
	sip_str_t route;           /* route set towards it, "<a>, <b>" or empty */
	uint32_t cseq;             /* highest CSeq seen from this side */
};

struct dlg {
	enum dlg_state state;
	enum sip_method usage;     /* SIP_M_INVITE or SIP_M_SUBSCRIBE */
	bool can_end;              /* everything to build a BYE was stored */
	sip_str_t call_id;
	sip_str_t from;            /* caller's From value (with its tag) */
	sip_str_t to;              /* callee's To value (with its tag) */
	sip_str_t tag_caller, tag_callee;
	struct dlg_side side[2];   /* 0: caller (UAC), 1: callee (UAS) */
	uint64_t created_ms, confirmed_ms;
	struct wheel_timer t_max;
	struct wheel_timer t_expire;
	uint32_t key_hash;
	uint16_t key_len;
	uint16_t arena_used;
	void *user;
	char key[DLG_KEY_MAX];     /* Call-ID \0 smaller tag \0 larger tag */
	char arena[DLG_ARENA];
};

struct dlg_ops {
	/* A dialog's timer ran out. The callee usually sends BYEs and then
	 * calls dlg_destroy(); it must not touch d afterwards. */
	void (*expired)(void *ctx, struct dlg *d, enum dlg_end_reason why);
};

struct dlg_config {
	uint32_t max_dialogs;
	uint32_t max_duration_s;   /* confirmed INVITE dialogs; 0 = no limit */
	uint64_t seed[2];
};

struct dlg_table;

struct dlg_table *dlg_table_create(const struct dlg_config *cfg, struct wheel *w,
				   const struct dlg_ops *ops, void *ctx);
void dlg_table_destroy(struct dlg_table *t);

/* Find by Call-ID and the two tags, in either order. */
struct dlg *dlg_find(struct dlg_table *t, sip_str_t call_id, sip_str_t tag_a, sip_str_t tag_b);

/* New early dialog. NULL when the table is full, the key is too long, or
 * the dialog exists (then use dlg_find). now_ms is the creation time. */
struct dlg *dlg_create(struct dlg_table *t, enum sip_method usage, sip_str_t call_id,
		       sip_str_t tag_caller, sip_str_t tag_callee, uint64_t now_ms);

/* Copy s into the dialog's arena; returns the stored view or an empty
 * view (and clears can_end) when it does not fit. */
sip_str_t dlg_store(struct dlg *d, sip_str_t s);

/* Early -> confirmed; arms the maximum-duration timer for INVITE usage. */
void dlg_confirm(struct dlg_table *t, struct dlg *d, uint64_t now_ms);

/* (Re)arm the subscription expiry: expires_s from now plus grace. */
void dlg_set_expiry(struct dlg_table *t, struct dlg *d, uint32_t expires_s);

/* Remove and free the dialog (cancels its timers). */
void dlg_destroy(struct dlg_table *t, struct dlg *d);

void dlg_timer_fire(struct dlg_table *t, struct wheel_timer *tm);

struct dlg_stats {
	uint64_t created, confirmed, destroyed, table_full;
	uint32_t early, active;   /* now */
};
void dlg_table_stats(const struct dlg_table *t, struct dlg_stats *out);

#endif /* SBC_DIALOG_H */
