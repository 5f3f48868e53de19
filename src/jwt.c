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
#include "storage/proc.h"

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

/* The current time for exp, nbf and iat: Unix seconds. */
static int64_t
unix_now(void)
{
	return (int64_t) (GetCurrentTimestamp() / USECS_PER_SEC) +
		(int64_t) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;
}

/* Verify len bytes of token (no NUL needed): signature, then times. */
static ta_jwt_result
verify_bytes(const char *token, size_t len, ta_jwt_claims *claims)
{
	const char *secret = ta_jwt_signing_secret();
	ta_jwt_result r;

	r = ta_jwt_verify(token, len, (const uint8_t *) secret, strlen(secret),
					  ta_pg_hmac_sha256, claims);
	if (r != TA_JWT_OK)
		return r;
	return ta_jwt_check_times(claims, unix_now(), TA_JWT_CLOCK_SKEW);
}

ta_jwt_result
ta_jwt_verify_token(const char *token, ta_jwt_claims *claims)
{
	return verify_bytes(token, strlen(token), claims);
}

/*
 * The request's session cookie, verified once per transaction: the rate
 * limiter and the authentication both read it.  Kept for the transaction
 * (its local id), the exact token text and the secrets' generation (a
 * changed secret wipes the keyed states and so the memo); the signature's
 * answer is reused, the times are checked again on every call.
 */
static struct
{
	LocalTransactionId lxid;
	uint64_t	generation;
	size_t		len;
	ta_jwt_result result;		/* of the signature and structure */
	char		token[TA_JWT_MAX_TOKEN];
	ta_jwt_claims claims;
} cookie_memo = {.lxid = InvalidLocalTransactionId};

ta_jwt_result
ta_jwt_verify_cookie(const char *cookie, const ta_jwt_claims **claims)
{
	size_t		len = strlen(cookie);
	const char *secret = ta_jwt_signing_secret();

	*claims = &cookie_memo.claims;
	if (cookie_memo.lxid != MyProc->lxid || cookie_memo.generation != ta_hmac_keyed_generation() ||
		cookie_memo.len != len || memcmp(cookie_memo.token, cookie, len) != 0)
	{
		cookie_memo.lxid = InvalidLocalTransactionId;
		cookie_memo.result = ta_jwt_verify(cookie, len, (const uint8_t *) secret, strlen(secret),
										   ta_pg_hmac_sha256, &cookie_memo.claims);
		/* Kept only when the token fits; a longer one is refused anyway. */
		if (len <= sizeof(cookie_memo.token))
		{
			memcpy(cookie_memo.token, cookie, len);
			cookie_memo.len = len;
			cookie_memo.generation = ta_hmac_keyed_generation();
			cookie_memo.lxid = MyProc->lxid;
		}
	}
	if (cookie_memo.result != TA_JWT_OK)
		return cookie_memo.result;
	return ta_jwt_check_times(&cookie_memo.claims, unix_now(), TA_JWT_CLOCK_SKEW);
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

/* The claims as JSON through escape_json(), for claims that had escapes. */
static char *
claims_json_escaped(const ta_jwt_claims *claims)
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

/*
 * Length of the claims' JSON text when every member was read without an
 * escape (so each string is its value in quotes), else 0.
 */
static size_t
claims_json_plain_length(const ta_jwt_claims *claims)
{
	size_t		n = 2;			/* braces */

	for (int i = 0; i < claims->count; i++)
	{
		const ta_json_member *m = &claims->members[i];

		if (!m->plain)
			return 0;
		/* "name": value, and ", " before all but the first */
		n += (i > 0 ? 2 : 0) + m->name_len + 4 + m->value_len + (m->is_string ? 2 : 0);
	}
	return n;
}

/* Write the plain claims' JSON text (claims_json_plain_length() bytes). */
static void
claims_json_plain_write(const ta_jwt_claims *claims, char *o)
{
	*o++ = '{';
	for (int i = 0; i < claims->count; i++)
	{
		const ta_json_member *m = &claims->members[i];

		if (i > 0)
		{
			*o++ = ',';
			*o++ = ' ';
		}
		*o++ = '"';
		memcpy(o, m->name, m->name_len);
		o += m->name_len;
		memcpy(o, "\": ", 3);
		o += 3;
		if (m->is_string)
			*o++ = '"';
		memcpy(o, m->value, m->value_len);
		o += m->value_len;
		if (m->is_string)
			*o++ = '"';
	}
	*o = '}';
}

/*
 * The claims back to JSON text, as {"name": value, ...} (the members in
 * their order, the strings escaped as escape_json() does).
 */
char *
ta_jwt_claims_json(const ta_jwt_claims *claims)
{
	size_t		n = claims_json_plain_length(claims);
	char	   *out;

	if (n == 0)
		return claims_json_escaped(claims);
	out = palloc(n + 1);
	claims_json_plain_write(claims, out);
	out[n] = '\0';
	return out;
}

/* The same as a text datum, written in place when it can be. */
static text *
claims_json_text(const ta_jwt_claims *claims)
{
	size_t		n = claims_json_plain_length(claims);
	text	   *out;

	if (n == 0)
		return cstring_to_text(claims_json_escaped(claims));
	out = palloc(VARHDRSZ + n);
	SET_VARSIZE(out, VARHDRSZ + n);
	claims_json_plain_write(claims, VARDATA(out));
	return out;
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

/* The reason text of each result, made once per backend. */
static Datum
reason_datum(ta_jwt_result r)
{
	static text *reasons[TA_JWT_MISSING_CLAIM + 1];

	if ((int) r < 0 || r > TA_JWT_MISSING_CLAIM)
		return CStringGetTextDatum(ta_jwt_result_text(r));
	if (reasons[r] == NULL)
	{
		const char *s = ta_jwt_result_text(r);
		size_t		n = strlen(s);
		text	   *t = MemoryContextAlloc(TopMemoryContext, VARHDRSZ + n);

		SET_VARSIZE(t, VARHDRSZ + n);
		memcpy(VARDATA(t), s, n);
		reasons[r] = t;
	}
	return PointerGetDatum(reasons[r]);
}

PG_FUNCTION_INFO_V1(task_api_jwt_verify);

/*
 * Verify a token: (valid, reason, claims).  Read where it lies (no copy),
 * every call verified afresh (no memo: each call is a new question).
 */
Datum
task_api_jwt_verify(PG_FUNCTION_ARGS)
{
	/* Large (the codec never allocates): reused, never re-entered. */
	static ta_jwt_claims claims;
	text	   *token = PG_GETARG_TEXT_PP(0);
	ta_jwt_result r = verify_bytes(VARDATA_ANY(token), VARSIZE_ANY_EXHDR(token), &claims);
	TupleDesc	desc = ta_result_desc(fcinfo);
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	values[0] = BoolGetDatum(r == TA_JWT_OK);
	values[1] = reason_datum(r);
	if (r == TA_JWT_OK)
		values[2] = PointerGetDatum(claims_json_text(&claims));
	else
		nulls[2] = true;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
