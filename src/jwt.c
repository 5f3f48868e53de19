/*
 * jwt.c
 *		HS256 JWTs in the server: signing and verification under the
 *		superuser-only task_api.jwt_secret, with the OpenSSL PostgreSQL links
 *		(keyed contexts kept per secret: hmac_keyed.c).
 *
 * The codec (jwt_codec.c) is pure C; this file supplies the secret, the
 * clock and the HMAC, and the SQL entry points.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "constants.h"
#include "guc.h"
#include "hmac_keyed.h"
#include "jwt.h"
#include "task_api.h"


/* HMAC-SHA-256 under a key schedule kept per secret (hmac_keyed.c). */
bool
ta_pg_hmac_sha256(const uint8_t *key, size_t keylen, const uint8_t *msg, size_t msglen,
				  uint8_t *out)
{
	return ta_hmac_sha256_keyed(key, keylen, msg, msglen, out);
}

/* The signing secret, refusing to work with a missing or short one. */
const char *
ta_jwt_signing_secret(void)
{
	return ta_usable_secret(ta_jwt_secret, "task_api.jwt_secret");
}

char *
ta_jwt_sign_json(const char *payload_json)
{
	const char *secret = ta_jwt_signing_secret();
	size_t		cap = (strlen(payload_json) + 2) / 3 * 4 + 128;
	char	   *out = palloc(cap);

	if (ta_jwt_sign(payload_json, strlen(payload_json),
					(const uint8_t *) secret, strlen(secret),
					ta_pg_hmac_sha256, out, cap) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("could not sign the token: claims too long or HMAC failure")));
	return out;
}

ta_jwt_result
ta_jwt_verify_token(const char *token, ta_jwt_claims *claims)
{
	const char *secret = ta_jwt_signing_secret();
	ta_jwt_result r;

	r = ta_jwt_verify(token, strlen(token), (const uint8_t *) secret, strlen(secret),
					  ta_pg_hmac_sha256, claims);
	if (r != TA_JWT_OK)
		return r;
	return ta_jwt_check_times(claims,
							  (int64_t) (GetCurrentTimestamp() / USECS_PER_SEC) +
							  (int64_t) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY,
							  TA_JWT_CLOCK_SKEW);
}

/*
 * A JSON string: copied whole when nothing in it needs escaping (claims
 * are ids, names and numbers), escape_json() otherwise, which goes a
 * character at a time and was a tenth of jwt_verify()'s time.
 */
static void
append_json_string(StringInfo buf, const char *s)
{
	size_t		n = 0;

	for (const unsigned char *p = (const unsigned char *) s; *p != '\0'; p++, n++)
		if (*p < 0x20 || *p == '"' || *p == '\\')
		{
			escape_json(buf, s);
			return;
		}
	enlargeStringInfo(buf, (int) n + 2);
	buf->data[buf->len++] = '"';
	memcpy(buf->data + buf->len, s, n);
	buf->len += (int) n;
	buf->data[buf->len++] = '"';
	buf->data[buf->len] = '\0';
}

char *
ta_jwt_claims_json(const ta_jwt_claims *claims)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; i < claims->count; i++)
	{
		if (i > 0)
			appendBinaryStringInfo(&buf, ", ", 2);
		append_json_string(&buf, claims->members[i].name);
		appendBinaryStringInfo(&buf, ": ", 2);
		if (claims->members[i].is_string)
			append_json_string(&buf, claims->members[i].value);
		else
			appendStringInfoString(&buf, claims->members[i].value);
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

PG_FUNCTION_INFO_V1(task_api_jwt_sign);

/* Sign a flat JSON object of claims with task_api.jwt_secret. */
Datum
task_api_jwt_sign(PG_FUNCTION_ARGS)
{
	static ta_jwt_claims claims;	/* large; reused, never re-entered */
	char	   *json = text_to_cstring(PG_GETARG_TEXT_PP(0));

	if (!ta_json_parse_flat(json, strlen(json), &claims))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("claims must be a flat JSON object"),
				 errdetail("Members must be strings, numbers, true, false or null, with no duplicate names.")));
	PG_RETURN_TEXT_P(cstring_to_text(ta_jwt_sign_json(json)));
}

PG_FUNCTION_INFO_V1(task_api_jwt_verify);

/* Verify a token: (valid, reason, claims). */
Datum
task_api_jwt_verify(PG_FUNCTION_ARGS)
{
	/* Large (the codec never allocates): reused, never re-entered. */
	static ta_jwt_claims claims;
	char	   *token = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ta_jwt_result r = ta_jwt_verify_token(token, &claims);
	TupleDesc	desc = ta_result_desc(fcinfo);
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	values[0] = BoolGetDatum(r == TA_JWT_OK);
	values[1] = CStringGetTextDatum(ta_jwt_result_text(r));
	if (r == TA_JWT_OK)
		values[2] = CStringGetTextDatum(ta_jwt_claims_json(&claims));
	else
		nulls[2] = true;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
