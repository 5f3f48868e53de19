/*
 * hmac_pg.h
 *		HMAC-SHA-256 provider for the jwt_codec tests: PostgreSQL's own
 *		pg_hmac_* routines from libpgcommon (frontend build, OpenSSL).
 *
 * Deliberately free of PostgreSQL headers so test programs include only
 * jwt_codec.h and this.
 */
#ifndef TASK_API_TEST_HMAC_PG_H
#define TASK_API_TEST_HMAC_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Matches ta_hmac_sha256_fn: HMAC-SHA-256(key, msg) into out[32]. */
extern bool ta_test_hmac_sha256(const uint8_t *key, size_t keylen,
								const uint8_t *msg, size_t msglen,
								uint8_t *out);

#endif							/* TASK_API_TEST_HMAC_PG_H */
