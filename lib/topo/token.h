/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/topo/token — authenticated tokens the SBC puts where the other realm
 * would otherwise see an address: the user part of the Contact it
 * advertises (dialogs, registrations).
 *
 * A token is "sbc" + base32(payload || mac): payload = version+kind, realm,
 * shard, 32-bit id, 16-bit generation; mac = the first 8 bytes of
 * HMAC-SHA256(secret, payload) (OpenSSL EVP_MAC). 31 characters, all
 * lower-case letters and digits, so it is a valid URI user part anywhere.
 *  - The shard is readable without the secret (topo_token_peek), so any
 *    worker can steer a message to its owner from the bytes alone (DESIGN
 *    invariant); the owner verifies the MAC before it looks anything up, so
 *    a forged token costs one HMAC and no table access.
 *  - The realm is inside the MAC'd payload: the token minted towards one
 *    realm differs from the one minted towards the other, so no token of a
 *    realm ever appears in the other (the leak scanner checks this).
 *
 * Ownership and threads
 *   struct topo_mac holds a prepared OpenSSL MAC context: one per worker,
 *   created at start-up, used only by its thread; mint and check allocate
 *   nothing. The library never logs.
 */
#ifndef SBC_TOPO_TOKEN_H
#define SBC_TOPO_TOKEN_H

#include <stdint.h>

#include "sip.h"

#define TOPO_TOKEN_LEN 31u      /* "sbc" + 28 base32 characters */

enum topo_kind {
	TOPO_DIALOG = 1,         /* Contact of a dialog the SBC anchors */
	TOPO_REG = 2,            /* Contact of a registration binding */
	TOPO_CALLID = 3,         /* a masked Call-ID (lib/topo/callid.h) */
};

struct topo_token {
	enum topo_kind kind;
	uint8_t realm;           /* the realm the token was minted towards */
	uint8_t shard;
	uint32_t id;             /* pool index of the object named */
	uint16_t gen;            /* its generation: stale tokens match nothing */
};

struct topo_mac;

/* key: the configured secret (>= 16 bytes recommended). NULL on failure. */
struct topo_mac *topo_mac_create(const uint8_t *key, size_t len);
void topo_mac_destroy(struct topo_mac *m);

/* Write the token (TOPO_TOKEN_LEN bytes, no NUL) to out. 0 or -EIO. */
int topo_token_mint(struct topo_mac *m, const struct topo_token *t, char *out)
	__attribute__((warn_unused_result));

/* Decode without verifying: only for steering. 0, or -EINVAL when s is not
 * shaped like a token. */
int topo_token_peek(sip_str_t s, struct topo_token *t) __attribute__((warn_unused_result));

/* Decode and verify. 0; -EINVAL not a token; -EBADMSG forged (MAC wrong). */
int topo_token_check(struct topo_mac *m, sip_str_t s, struct topo_token *t)
	__attribute__((warn_unused_result));

#endif /* SBC_TOPO_TOKEN_H */
