/*
 * hmac_keyed.c
 *		HMAC-SHA-256 with the key schedule computed once per secret and
 *		per backend, with the OpenSSL PostgreSQL itself links.
 *
 * Setting up an HMAC context (fetching the digest, hashing the padded key
 * into the inner and outer states) cost about as much as the MAC of a
 * token.  A backend uses few keys (task_api.jwt_secret,
 * task_api.cursor_secret, the login throttle's key), so it keeps one keyed
 * EVP_MAC_CTX per key in a few slots, found by comparing the key bytes: a
 * changed setting is a different key, so it takes effect at once, with no
 * hook to keep in step.  EVP_MAC_init() with a NULL key restarts a context
 * from its stored inner state.  The key copies are wiped when a slot is
 * reused.  The results are HMAC-SHA-256's, bit for bit.
 */
#include "postgres.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "utils/memutils.h"

#include "hmac_keyed.h"

#define SLOTS 4

typedef struct KeyedSlot
{
	uint8	   *key;			/* a copy, in TopMemoryContext; NULL: empty */
	size_t		keylen;
	EVP_MAC_CTX *ctx;			/* keyed */
	uint64		used;			/* for least-recently-used replacement */
} KeyedSlot;

static KeyedSlot slots[SLOTS];
static EVP_MAC *hmac_alg = NULL;
static uint64 clock_tick = 0;

/* Empty a slot, wiping its copy of the key. */
static void
slot_clear(KeyedSlot *slot)
{
	if (slot->ctx != NULL)
		EVP_MAC_CTX_free(slot->ctx);
	if (slot->key != NULL)
	{
		OPENSSL_cleanse(slot->key, Max(slot->keylen, 1));
		pfree(slot->key);
	}
	memset(slot, 0, sizeof(*slot));
}

/* The slot holding this key, or NULL. */
static KeyedSlot *
slot_find(const uint8_t *key, size_t keylen)
{
	for (int i = 0; i < SLOTS; i++)
		if (slots[i].key != NULL && slots[i].keylen == keylen &&
			memcmp(slots[i].key, key, keylen) == 0)
			return &slots[i];
	return NULL;
}

/* A keyed context for key in the least recently used slot, or NULL. */
static KeyedSlot *
slot_fill(const uint8_t *key, size_t keylen)
{
	static const uint8 empty[1] = {0};
	KeyedSlot  *slot = &slots[0];
	OSSL_PARAM	params[2];

	for (int i = 1; i < SLOTS; i++)
		if (slots[i].used < slot->used)
			slot = &slots[i];
	slot_clear(slot);
	if (hmac_alg == NULL && (hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return NULL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *) "SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	slot->ctx = EVP_MAC_CTX_new(hmac_alg);
	if (slot->ctx == NULL ||
		!EVP_MAC_init(slot->ctx, keylen ? (const unsigned char *) key : empty, keylen, params))
	{
		slot_clear(slot);
		return NULL;
	}
	slot->key = MemoryContextAlloc(TopMemoryContext, Max(keylen, 1));
	memcpy(slot->key, key, keylen);
	slot->keylen = keylen;
	return slot;
}

bool
ta_hmac_sha256_keyed(const uint8_t *key, size_t keylen, const uint8_t *msg, size_t msglen,
					 uint8_t *out)
{
	static const uint8 empty[1] = {0};
	KeyedSlot  *slot = slot_find(key, keylen);
	size_t		outlen = 0;

	if (slot == NULL && (slot = slot_fill(key, keylen)) == NULL)
		return false;
	slot->used = ++clock_tick;
	/* NULL key: restart from the stored key schedule. */
	if (!EVP_MAC_init(slot->ctx, NULL, 0, NULL) ||
		!EVP_MAC_update(slot->ctx, msglen ? (const unsigned char *) msg : empty, msglen) ||
		!EVP_MAC_final(slot->ctx, out, &outlen, TA_HMAC_SHA256_LEN) ||
		outlen != TA_HMAC_SHA256_LEN)
	{
		slot_clear(slot);
		return false;
	}
	return true;
}
