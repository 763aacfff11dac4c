/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/dialog/reg — per-shard registration bindings of devices behind the
 * SBC (RFC 3261 section 10 relayed, RFC 5626-style NAT handling): the SBC
 * replaces a device's Contact with a token naming the binding, and keeps
 * what the token stands for: the AOR, the device's own Contact URI, and the
 * address and interface its REGISTER really came from (the NAT mapping).
 *
 * Ownership and threads
 *   One table per shard (worker), used by that thread only. Fixed pool sized
 *   at create time; reg_bind() returns NULL when full. A binding is named by
 *   (pool index, generation): a token for a freed binding matches nothing.
 *   Expiry runs on the shard's wheel (tags REG_TIMER_TAG), handed to
 *   reg_timer_fire() by the caller's wheel callback.
 */
#ifndef SBC_REG_H
#define SBC_REG_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "sip.h"
#include "wheel.h"

#define REG_TIMER_TAG 0x30000u
#define REG_AOR_MAX 256u
#define REG_CONTACT_MAX 512u
/* After the expiry the registrar granted, the binding lingers this long so a
 * late refresh still finds it (the device refreshes before expiry anyway). */
#define REG_GRACE_S 5u

struct reg_binding {
	union sbc_sockaddr addr;    /* where the device's REGISTER came from */
	uint16_t iface, realm;
	uint16_t gen;
	bool confirmed;             /* a 2xx from the registrar accepted it */
	uint16_t aor_len, contact_len;
	uint32_t expires_s;         /* as last granted (or requested) */
	uint64_t granted_until_ms;  /* end of the registrar's grant (0: none) */
	struct wheel_timer t_expire;
	char aor[REG_AOR_MAX];      /* To URI of the REGISTER */
	char contact[REG_CONTACT_MAX]; /* the device's Contact URI */
};

struct reg_table;

struct reg_table *reg_table_create(uint32_t max_bindings, struct wheel *w, const uint64_t seed[2]);
void reg_table_destroy(struct reg_table *t);

/* Find the binding of (aor, contact) or create it; refreshes its source
 * address (a device whose NAT mapping moved keeps its binding). NULL when
 * full or too long. expires_s arms the expiry (plus REG_GRACE_S). */
struct reg_binding *reg_bind(struct reg_table *t, sip_str_t aor, sip_str_t contact,
			     const union sbc_sockaddr *from, uint16_t iface, uint16_t realm,
			     uint32_t expires_s);
/* The binding of (aor, contact), or NULL. */
struct reg_binding *reg_find(struct reg_table *t, sip_str_t aor, sip_str_t contact);
/* The binding a token names, or NULL (freed, reused, out of range). */
struct reg_binding *reg_get(struct reg_table *t, uint32_t idx, uint16_t gen);
uint32_t reg_index(const struct reg_table *t, const struct reg_binding *b);
/* A 2xx granted expires_s (0: removed). */
void reg_confirm(struct reg_table *t, struct reg_binding *b, uint32_t expires_s);
void reg_unbind(struct reg_table *t, struct reg_binding *b);
/* Remove every binding of aor (Contact: *). Returns how many. */
unsigned reg_unbind_aor(struct reg_table *t, sip_str_t aor);
void reg_timer_fire(struct reg_table *t, struct wheel_timer *tm);
uint32_t reg_count(const struct reg_table *t);

#endif /* SBC_REG_H */
