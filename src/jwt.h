/*
 * jwt.h
 *		HS256 JWTs in the server, under task_api.jwt_secret.
 */
#ifndef TASK_API_JWT_H
#define TASK_API_JWT_H

#include "jwt_codec.h"

/* Seconds of clock difference tolerated on exp, nbf and iat. */
#define TA_JWT_CLOCK_SKEW 30

/* HMAC-SHA-256 with the OpenSSL PostgreSQL links (keyed contexts, hmac_keyed.c). */
extern bool ta_pg_hmac_sha256(const uint8_t *key, size_t keylen,
							  const uint8_t *msg, size_t msglen, uint8_t *out);

/* Sign a flat JSON object; palloc'd token.  Errors if the secret is unusable. */
extern char *ta_jwt_sign_json(const char *payload_json);

/* Verify signature and times; claims filled on TA_JWT_OK. */
extern ta_jwt_result ta_jwt_verify_token(const char *token, ta_jwt_claims *claims);

/*
 * The session cookie's token, verified once per transaction (the rate
 * limiter and the authentication both ask); *claims points at the memo's
 * claims, valid until the next call.  Times are checked on every call.
 */
extern ta_jwt_result ta_jwt_verify_cookie(const char *cookie, const ta_jwt_claims **claims);

/* Claims back to JSON text (palloc'd). */
extern char *ta_jwt_claims_json(const ta_jwt_claims *claims);

/* task_api.jwt_secret; errors if it is unset or shorter than TA_MIN_SECRET_LEN. */
extern const char *ta_jwt_signing_secret(void);

#endif							/* TASK_API_JWT_H */
