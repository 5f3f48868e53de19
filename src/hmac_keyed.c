/*
 * hmac_keyed.c
 *		HMAC-SHA-256 with the key schedule computed once per secret and
 *		per backend, with the OpenSSL PostgreSQL itself links.
 *
 * HMAC(K, m) = H((K0 ^ opad) || H((K0 ^ ipad) || m)) (RFC 2104): the two
 * padded-key blocks are the same for every message under one key, so a
 * backend hashes each once and keeps the two SHA-256 states.  A MAC then
 * copies the states (plain structs) and hashes only the message and the
 * inner digest: no context allocated, set up or freed per MAC, which the
 * EVP_MAC interface did and which cost as much as the hashing itself.
 * SHA-256 is OpenSSL's (its low-level interface, still in OpenSSL 3,
 * deprecated there only in favour of EVP); nothing here hashes by itself.
 *
 * A backend uses few keys (task_api.jwt_secret, task_api.cursor_secret,
 * the login throttle's key), so it keeps one keyed pair of states per key
 * in a few slots, found by comparing the key bytes: a changed setting is a
 * different key, so it takes effect at once.  When either secret setting
 * changes, ta_hmac_keyed_forget() (the settings' assign hook, guc.c) wipes
 * every slot, so an old secret's key and states do not linger in memory.
 * The results are HMAC-SHA-256's, bit for bit.
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "postgres.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "utils/memutils.h"

#include "hmac_keyed.h"

#define SLOTS 4
#define BLOCK 64				/* SHA-256's block size */

typedef struct KeyedSlot
{
	uint8	   *key;			/* a copy, in TopMemoryContext; NULL: empty */
	size_t		keylen;
	SHA256_CTX	inner;			/* after (K0 ^ ipad) */
	SHA256_CTX	outer;			/* after (K0 ^ opad) */
	uint64		used;			/* for least-recently-used replacement */
} KeyedSlot;

static KeyedSlot slots[SLOTS];
static uint64 clock_tick = 0;
static uint64 generation = 0;

/* Empty a slot, wiping its copy of the key and its states. */
static void
slot_clear(KeyedSlot *slot)
{
	if (slot->key != NULL)
	{
		OPENSSL_cleanse(slot->key, Max(slot->keylen, 1));
		pfree(slot->key);
	}
	OPENSSL_cleanse(slot, sizeof(*slot));
	slot->key = NULL;
}

void
ta_hmac_keyed_forget(void)
{
	for (int i = 0; i < SLOTS; i++)
		slot_clear(&slots[i]);
	generation++;
}

uint64_t
ta_hmac_keyed_generation(void)
{
	return generation;
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

/* The inner and outer states of key (RFC 2104: K0 is the key, hashed if longer than a block). */
static bool
key_states(const uint8_t *key, size_t keylen, SHA256_CTX *inner, SHA256_CTX *outer)
{
	uint8		k0[BLOCK];
	uint8		pad[BLOCK];
	bool		ok;

	memset(k0, 0, sizeof(k0));
	if (keylen > BLOCK)
		ok = SHA256(key, keylen, k0) != NULL;
	else
	{
		if (keylen > 0)
			memcpy(k0, key, keylen);
		ok = true;
	}
	for (int i = 0; i < BLOCK; i++)
		pad[i] = k0[i] ^ 0x36;
	ok = ok && SHA256_Init(inner) && SHA256_Update(inner, pad, BLOCK);
	for (int i = 0; i < BLOCK; i++)
		pad[i] = k0[i] ^ 0x5c;
	ok = ok && SHA256_Init(outer) && SHA256_Update(outer, pad, BLOCK);
	OPENSSL_cleanse(k0, sizeof(k0));
	OPENSSL_cleanse(pad, sizeof(pad));
	return ok;
}

/* The key's states in the least recently used slot, or NULL. */
static KeyedSlot *
slot_fill(const uint8_t *key, size_t keylen)
{
	KeyedSlot  *slot = &slots[0];

	for (int i = 1; i < SLOTS; i++)
		if (slots[i].used < slot->used)
			slot = &slots[i];
	slot_clear(slot);
	if (!key_states(key, keylen, &slot->inner, &slot->outer))
	{
		slot_clear(slot);
		return NULL;
	}
	slot->key = MemoryContextAlloc(TopMemoryContext, Max(keylen, 1));
	if (keylen > 0)
		memcpy(slot->key, key, keylen);
	slot->keylen = keylen;
	return slot;
}

bool
ta_hmac_sha256_keyed(const uint8_t *key, size_t keylen, const uint8_t *msg, size_t msglen,
					 uint8_t *out)
{
	KeyedSlot  *slot = slot_find(key, keylen);
	SHA256_CTX	ctx;
	uint8		inner_digest[SHA256_DIGEST_LENGTH];
	bool		ok;

	if (slot == NULL && (slot = slot_fill(key, keylen)) == NULL)
		return false;
	slot->used = ++clock_tick;
	ctx = slot->inner;
	ok = SHA256_Update(&ctx, msg, msglen) && SHA256_Final(inner_digest, &ctx);
	ctx = slot->outer;
	ok = ok && SHA256_Update(&ctx, inner_digest, sizeof(inner_digest)) &&
		SHA256_Final(out, &ctx);
	OPENSSL_cleanse(&ctx, sizeof(ctx));
	return ok;
}
