/* SPDX-License-Identifier: BSD-3-Clause */
#include "token.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#define PAYLOAD_LEN 9u
#define MAC_LEN 8u
#define RAW_LEN (PAYLOAD_LEN + MAC_LEN) /* 17 bytes -> 28 base32 chars */
#define B32_LEN 28u
#define TOKEN_VERSION 1u

struct topo_mac {
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx;
};

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

struct topo_mac *topo_mac_create(const uint8_t *key, size_t len)
{
	struct topo_mac *m = calloc(1, sizeof(*m));
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_end(),
	};
	if (!m)
		return NULL;
	m->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	m->ctx = m->mac ? EVP_MAC_CTX_new(m->mac) : NULL;
	/* Keyed once here; EVP_MAC_init(ctx, NULL, ...) later reuses the key
	 * without allocating. */
	if (!m->ctx || !EVP_MAC_init(m->ctx, key, len, params)) {
		topo_mac_destroy(m);
		return NULL;
	}
	return m;
}

void topo_mac_destroy(struct topo_mac *m)
{
	if (!m)
		return;
	EVP_MAC_CTX_free(m->ctx);
	EVP_MAC_free(m->mac);
	free(m);
}

static int compute_mac(struct topo_mac *m, const uint8_t *payload, uint8_t out[MAC_LEN])
{
	uint8_t full[EVP_MAX_MD_SIZE];
	size_t n = 0;
	if (!EVP_MAC_init(m->ctx, NULL, 0, NULL) || !EVP_MAC_update(m->ctx, payload, PAYLOAD_LEN) ||
	    !EVP_MAC_final(m->ctx, full, &n, sizeof(full)) || n < MAC_LEN)
		return -EIO;
	memcpy(out, full, MAC_LEN);
	return 0;
}

static void pack(const struct topo_token *t, uint8_t p[PAYLOAD_LEN])
{
	p[0] = (uint8_t)(TOKEN_VERSION << 4 | (t->kind & 0xf));
	p[1] = t->realm;
	p[2] = t->shard;
	p[3] = (uint8_t)(t->id >> 24);
	p[4] = (uint8_t)(t->id >> 16);
	p[5] = (uint8_t)(t->id >> 8);
	p[6] = (uint8_t)t->id;
	p[7] = (uint8_t)(t->gen >> 8);
	p[8] = (uint8_t)t->gen;
}

static int unpack(const uint8_t p[PAYLOAD_LEN], struct topo_token *t)
{
	if (p[0] >> 4 != TOKEN_VERSION)
		return -EINVAL;
	t->kind = (enum topo_kind)(p[0] & 0xf);
	if (t->kind != TOPO_DIALOG && t->kind != TOPO_REG && t->kind != TOPO_CALLID)
		return -EINVAL;
	t->realm = p[1];
	t->shard = p[2];
	t->id = (uint32_t)p[3] << 24 | (uint32_t)p[4] << 16 | (uint32_t)p[5] << 8 | p[6];
	t->gen = (uint16_t)(p[7] << 8 | p[8]);
	return 0;
}

/* RFC 4648 base32, lower case, no padding: 17 bytes -> 28 characters. */
static void b32_encode(const uint8_t *in, char *out)
{
	uint32_t acc = 0;
	unsigned bits = 0, o = 0;
	for (unsigned i = 0; i < RAW_LEN; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = b32[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits)
		out[o++] = b32[(acc << (5 - bits)) & 31];
}

static int b32_val(char c)
{
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

static int b32_decode(const char *in, uint8_t *out)
{
	uint32_t acc = 0;
	unsigned bits = 0, o = 0;
	for (unsigned i = 0; i < B32_LEN; i++) {
		int v = b32_val(in[i]);
		if (v < 0)
			return -EINVAL;
		acc = (acc << 5) | (uint32_t)v;
		bits += 5;
		if (bits >= 8) {
			out[o++] = (uint8_t)(acc >> (bits - 8));
			bits -= 8;
		}
	}
	/* the 4 padding bits of the last character must be zero (canonical) */
	return o == RAW_LEN && (acc & ((1u << bits) - 1)) == 0 ? 0 : -EINVAL;
}

int topo_token_mint(struct topo_mac *m, const struct topo_token *t, char *out)
{
	uint8_t raw[RAW_LEN];
	pack(t, raw);
	if (compute_mac(m, raw, raw + PAYLOAD_LEN) < 0)
		return -EIO;
	memcpy(out, "sbc", 3);
	b32_encode(raw, out + 3);
	return 0;
}

static int decode(sip_str_t s, uint8_t raw[RAW_LEN], struct topo_token *t)
{
	if (s.len != TOPO_TOKEN_LEN || memcmp(s.p, "sbc", 3) != 0)
		return -EINVAL;
	if (b32_decode(s.p + 3, raw) < 0)
		return -EINVAL;
	return unpack(raw, t);
}

int topo_token_peek(sip_str_t s, struct topo_token *t)
{
	uint8_t raw[RAW_LEN];
	return decode(s, raw, t);
}

int topo_token_check(struct topo_mac *m, sip_str_t s, struct topo_token *t)
{
	uint8_t raw[RAW_LEN], mac[MAC_LEN];
	int r = decode(s, raw, t);
	if (r < 0)
		return r;
	if (compute_mac(m, raw, mac) < 0)
		return -EIO;
	return CRYPTO_memcmp(mac, raw + PAYLOAD_LEN, MAC_LEN) == 0 ? 0 : -EBADMSG;
}
