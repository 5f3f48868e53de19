/*
 * hmac_keyed.h
 *		HMAC-SHA-256 with per-backend keyed contexts (hmac_keyed.c).
 */
#ifndef TASK_API_HMAC_KEYED_H
#define TASK_API_HMAC_KEYED_H

#include <stddef.h>
#include <stdint.h>

#define TA_HMAC_SHA256_LEN 32

/* HMAC-SHA-256(key, msg) into out[32]; false on failure. */
extern bool ta_hmac_sha256_keyed(const uint8_t *key, size_t keylen,
								 const uint8_t *msg, size_t msglen, uint8_t *out);

/* Wipe every keyed slot (a secret setting changed: guc.c's assign hook). */
extern void ta_hmac_keyed_forget(void);

/*
 * How many times the slots were wiped: a result computed under the
 * generation seen before it is stale once this changes (jwt.c's memo).
 */
extern uint64_t ta_hmac_keyed_generation(void);

#endif							/* TASK_API_HMAC_KEYED_H */
