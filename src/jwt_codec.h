/*
 * jwt_codec.h
 *		HS256 JSON Web Tokens: a pure-C codec with no backend dependency.
 *
 * The codec is compiled into the extension and, on its own, into the unit
 * test and fuzzer in test/c/.  It never allocates: callers pass buffers.
 * HMAC-SHA-256 is injected, so the server uses PostgreSQL's own and the
 * tests can use the same routines from libpgcommon.
 */
#ifndef TASK_API_JWT_CODEC_H
#define TASK_API_JWT_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec_util.h"		/* base64url, ta_hmac_sha256_fn, constant-time compare */

#define TA_JWT_MAX_TOKEN	8192	/* longer tokens are refused unread */
#define TA_JWT_MAX_JSON		6144	/* decoded header or payload */
#define TA_JWT_MAX_CLAIMS	32
#define TA_JWT_MAC_LEN		32

typedef enum ta_jwt_result
{
	TA_JWT_OK = 0,
	TA_JWT_TOO_LONG,			/* token or JSON over the limits */
	TA_JWT_MALFORMED,			/* not three base64url parts, bad JSON or UTF-8 */
	TA_JWT_BAD_HEADER,			/* a JSON header other than {"alg":"HS256"[,"typ":"JWT"]} */
	TA_JWT_BAD_SIGNATURE,		/* MAC mismatch */
	TA_JWT_HMAC_FAILED,			/* the HMAC provider failed */
	TA_JWT_EXPIRED,				/* exp in the past (beyond the skew) */
	TA_JWT_NOT_YET_VALID,		/* nbf or iat in the future (beyond the skew) */
	TA_JWT_MISSING_CLAIM		/* exp or sub missing or of the wrong type */
} ta_jwt_result;

/* One member of a flat JSON object; strings are unescaped, NUL-terminated. */
typedef struct ta_json_member
{
	char	   *name;
	char	   *value;			/* string value, or the number's text */
	bool		is_string;		/* false: a number, true, false or null */
	bool		plain;			/* name and string value had no escapes */
	uint32_t	name_len;		/* strlen(name) */
	uint32_t	value_len;		/* strlen(value) */
} ta_json_member;

typedef struct ta_jwt_claims
{
	int			count;
	ta_json_member members[TA_JWT_MAX_CLAIMS];
	char		storage[TA_JWT_MAX_JSON * 2 + 64];	/* names and values */
} ta_jwt_claims;

/*
 * Parse a flat JSON object whose members are strings, numbers, true, false
 * or null (no nested objects or arrays, no duplicate names) into claims.
 */
extern bool ta_json_parse_flat(const char *json, size_t len, ta_jwt_claims *out);

/* Look up a member; NULL if absent. */
extern const ta_json_member *ta_jwt_claim(const ta_jwt_claims *claims, const char *name);

/*
 * Verify a compact HS256 JWS and parse its payload into claims.  Only the
 * structure, the header and the signature are checked here; see
 * ta_jwt_check_times for exp/nbf/iat.  The MAC is compared in constant time.
 */
extern ta_jwt_result ta_jwt_verify(const char *token, size_t len,
								   const uint8_t *key, size_t keylen,
								   ta_hmac_sha256_fn hmac,
								   ta_jwt_claims *claims);

/*
 * Check exp (required), nbf and iat (optional) against now (Unix seconds),
 * allowing skew seconds either way.
 */
extern ta_jwt_result ta_jwt_check_times(const ta_jwt_claims *claims, int64_t now, int64_t skew);

/*
 * Sign payload_json (a JSON object, used as is) with the fixed header
 * {"alg":"HS256","typ":"JWT"}.  Writes a NUL-terminated token into out and
 * returns its length, or 0 if it does not fit or the HMAC failed.
 */
extern size_t ta_jwt_sign(const char *payload_json, size_t len,
						  const uint8_t *key, size_t keylen,
						  ta_hmac_sha256_fn hmac,
						  char *out, size_t outcap);

extern const char *ta_jwt_result_text(ta_jwt_result r);

#endif							/* TASK_API_JWT_CODEC_H */
