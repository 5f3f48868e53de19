/*
 * cursor.c
 *		Pagination cursors in the server: task_api.cursor_encode() and
 *		task_api.cursor_decode(), authenticated with PostgreSQL's own
 *		HMAC-SHA-256 under the superuser-only task_api.cursor_secret.
 *
 * The record format and its strict parser are in cursor_codec.c (pure C);
 * this file maps SQL values to and from it, hashes the caller's fingerprint
 * text, and turns every failure into the catalogue's invalid_cursor or
 * cursor_mismatch.  The Link headers' percent-encoding is in http.c.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "cursor.h"
#include "errors.h"
#include "constants.h"
#include "guc.h"
#include "jwt.h"


/* The cursor secret, refusing to work with a missing or short one. */
static const char *
cursor_secret(void)
{
	return ta_usable_secret(ta_cursor_secret, "task_api.cursor_secret");
}

/* The codec's tag for a SQL type, or 0 when cursors cannot carry it. */
static ta_cursor_type
type_tag(Oid typid)
{
	switch (typid)
	{
		case INT2OID:
			return TA_CURSOR_INT2;
		case INT4OID:
			return TA_CURSOR_INT4;
		case INT8OID:
			return TA_CURSOR_INT8;
		case TIMESTAMPTZOID:
			return TA_CURSOR_TIMESTAMPTZ;
		case TIMESTAMPOID:
			return TA_CURSOR_TIMESTAMP;
		case DATEOID:
			return TA_CURSOR_DATE;
		case TEXTOID:
			return TA_CURSOR_TEXT;
		case UUIDOID:
			return TA_CURSOR_UUID;
		default:
			return 0;
	}
}

/* Refuse a sort key type the codec cannot carry, naming the ones it can. */
static ta_cursor_type
required_type_tag(Oid typid)
{
	ta_cursor_type tag = type_tag(typid);

	if (tag == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a cursor cannot carry a sort key of type %s", format_type_be(typid)),
				 errhint("Use smallint, integer, bigint, timestamptz, timestamp, date, text or uuid.")));
	return tag;
}

/* The first 16 bytes of SHA-256 of the caller's canonical fingerprint text. */
static void
fingerprint_bytes(text *fp, uint8_t *out)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	uint8_t		digest[PG_SHA256_DIGEST_LENGTH];

	if (ctx == NULL ||
		pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) VARDATA_ANY(fp), VARSIZE_ANY_EXHDR(fp)) < 0 ||
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
	{
		pg_cryptohash_free(ctx);
		elog(ERROR, "could not compute SHA-256 of the cursor fingerprint");
	}
	pg_cryptohash_free(ctx);
	memcpy(out, digest, TA_CURSOR_FP_LEN);
}

/*
 * Per call site state, kept in fn_extra: the last fingerprint hashed (a page
 * function passes the same one for every row) and decode's result
 * descriptor, so that neither is rebuilt for every call of a statement.
 */
#define FP_CACHE_MAX 1024

typedef struct CursorCallCache
{
	int			fp_len;			/* -1: nothing cached */
	char		fp_text[FP_CACHE_MAX];
	uint8_t		fp[TA_CURSOR_FP_LEN];
	TupleDesc	tupdesc;		/* decode only; in fn_mcxt */
} CursorCallCache;

/* This call site's cache, made on first use in the function's own context. */
static CursorCallCache *
call_cache(FunctionCallInfo fcinfo)
{
	CursorCallCache *cache = (CursorCallCache *) fcinfo->flinfo->fn_extra;

	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(CursorCallCache));
		cache->fp_len = -1;
		fcinfo->flinfo->fn_extra = cache;
	}
	return cache;
}

/* fingerprint_bytes() through the call site's cache of the last one. */
static void
cached_fingerprint(CursorCallCache *cache, text *fp, uint8_t *out)
{
	int			len = VARSIZE_ANY_EXHDR(fp);

	if (len == cache->fp_len && memcmp(cache->fp_text, VARDATA_ANY(fp), len) == 0)
	{
		memcpy(out, cache->fp, TA_CURSOR_FP_LEN);
		return;
	}
	fingerprint_bytes(fp, out);
	if (len <= FP_CACHE_MAX)
	{
		memcpy(cache->fp_text, VARDATA_ANY(fp), len);
		memcpy(cache->fp, out, TA_CURSOR_FP_LEN);
		cache->fp_len = len;
	}
}

/* 'asc' or 'desc' (exactly), else an error naming the argument. */
static ta_cursor_direction
parse_direction(text *t)
{
	char	   *s = text_to_cstring(t);

	if (strcmp(s, "asc") == 0)
		return TA_CURSOR_ASC;
	if (strcmp(s, "desc") == 0)
		return TA_CURSOR_DESC;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("cursor direction must be asc or desc, not \"%s\"", s)));
	pg_unreachable();
}

/* Argument n must not be NULL. */
static void
require_arg(FunctionCallInfo fcinfo, int n, const char *name)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
}

PG_FUNCTION_INFO_V1(task_api_cursor_encode);

/*
 * cursor_encode(sort_key anyelement, last_id uuid, direction text,
 * fingerprint text): the signed cursor that resumes a walk after the row
 * (sort_key, last_id); a NULL sort_key is carried as NULL of its type.
 */
Datum
task_api_cursor_encode(PG_FUNCTION_ARGS)
{
	const char *secret = cursor_secret();
	Oid			keytype = get_fn_expr_argtype(fcinfo->flinfo, 0);
	ta_cursor	c;
	char		out[TA_CURSOR_MAX_ENCODED];
	size_t		outlen;
	ta_cursor_result r;

	require_arg(fcinfo, 1, "last_id");
	require_arg(fcinfo, 2, "direction");
	require_arg(fcinfo, 3, "fingerprint");
	if (!OidIsValid(keytype))
		elog(ERROR, "could not determine the sort key's type");

	memset(&c, 0, sizeof(c));
	c.type = required_type_tag(keytype);
	c.direction = parse_direction(PG_GETARG_TEXT_PP(2));
	c.key_is_null = PG_ARGISNULL(0);
	if (!c.key_is_null)
	{
		Datum		key = PG_GETARG_DATUM(0);

		switch (c.type)
		{
			case TA_CURSOR_INT2:
				c.key_int = DatumGetInt16(key);
				break;
			case TA_CURSOR_INT4:
				c.key_int = DatumGetInt32(key);
				break;
			case TA_CURSOR_DATE:
				c.key_int = DatumGetDateADT(key);
				break;
			case TA_CURSOR_INT8:
				c.key_int = DatumGetInt64(key);
				break;
			case TA_CURSOR_TIMESTAMPTZ:
				c.key_int = DatumGetTimestampTz(key);
				break;
			case TA_CURSOR_TIMESTAMP:
				c.key_int = DatumGetTimestamp(key);
				break;
			case TA_CURSOR_UUID:
				memcpy(c.key_uuid, DatumGetUUIDP(key)->data, UUID_LEN);
				break;
			case TA_CURSOR_TEXT:
				{
					text	   *t = DatumGetTextPP(key);
					size_t		len = VARSIZE_ANY_EXHDR(t);

					if (len > TA_CURSOR_MAX_TEXT)
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								 errmsg("a text sort key in a cursor is at most %d bytes", TA_CURSOR_MAX_TEXT)));
					c.key_text_len = (uint16_t) len;
					memcpy(c.key_text, VARDATA_ANY(t), len);
				}
				break;
		}
	}
	memcpy(c.last_id, PG_GETARG_UUID_P(1)->data, UUID_LEN);
	cached_fingerprint(call_cache(fcinfo), PG_GETARG_TEXT_PP(3), c.fingerprint);

	r = ta_cursor_encode(&c, (const uint8_t *) secret, strlen(secret),
						 ta_pg_hmac_sha256, out, sizeof(out), &outlen);
	if (r != TA_CURSOR_OK)
		elog(ERROR, "could not encode a cursor: %s", ta_cursor_result_text(r));
	PG_RETURN_TEXT_P(cstring_to_text_with_len(out, outlen));
}

/* invalid_cursor (400), the same for every way a cursor can be bad. */
static void
raise_invalid_cursor(ta_cursor_result r)
{
	ta_raise("invalid_cursor", "the cursor is not valid",
			 r == TA_CURSOR_OK ? "The cursor's sort key is not valid text."
			 : r == TA_CURSOR_BAD_VERSION ? "The cursor has a version this server does not read."
			 : "The cursor is malformed, truncated, altered or signed with another key.",
			 "Start again without a cursor, or pass next_cursor exactly as it was returned.",
			 NULL, 0);
}

PG_FUNCTION_INFO_V1(task_api_cursor_decode);

/*
 * cursor_decode(cursor text, fingerprint text, key_type anyelement,
 * OUT sort_key anyelement, OUT last_id uuid, OUT direction text): the
 * position a cursor carries, after checking its MAC, that it was made with
 * the same fingerprint (filters and sort) and a sort key of key_type's type.
 * A NULL cursor gives NULL (the first page).
 */
Datum
task_api_cursor_decode(PG_FUNCTION_ARGS)
{
	const char *secret = cursor_secret();
	Oid			keytype = get_fn_expr_argtype(fcinfo->flinfo, 2);
	ta_cursor_type tag;
	text	   *cursor;
	ta_cursor	c;
	ta_cursor_result r;
	uint8_t		fp[TA_CURSOR_FP_LEN];
	CursorCallCache *cache;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	pg_uuid_t  *id;

	if (!OidIsValid(keytype))
		elog(ERROR, "could not determine the sort key's type");
	tag = required_type_tag(keytype);
	require_arg(fcinfo, 1, "fingerprint");
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	cache = call_cache(fcinfo);
	if (cache->tupdesc == NULL)
	{
		TupleDesc	tupdesc;
		MemoryContext old;

		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "cursor_decode must return a record");
		old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		cache->tupdesc = BlessTupleDesc(CreateTupleDescCopy(tupdesc));
		MemoryContextSwitchTo(old);
	}

	cursor = PG_GETARG_TEXT_PP(0);
	r = ta_cursor_decode(VARDATA_ANY(cursor), VARSIZE_ANY_EXHDR(cursor),
						 (const uint8_t *) secret, strlen(secret),
						 ta_pg_hmac_sha256, &c);
	if (r == TA_CURSOR_HMAC_FAILED)
		elog(ERROR, "could not compute HMAC-SHA-256");
	if (r != TA_CURSOR_OK)
		raise_invalid_cursor(r);

	cached_fingerprint(cache, PG_GETARG_TEXT_PP(1), fp);
	if (!ta_timing_safe_equal(fp, c.fingerprint, TA_CURSOR_FP_LEN))
		ta_raise("cursor_mismatch", "the cursor belongs to another query",
				 "The cursor was made with other filters, another sort or another direction.",
				 "Repeat the call that returned the cursor with the same arguments (page_size may change), or start again without a cursor.",
				 NULL, 0);
	if (c.type != tag)
		ta_raise("cursor_mismatch", "the cursor belongs to another query",
				 psprintf("The cursor's sort key is not of type %s.", format_type_be(keytype)),
				 "Decode it with the sort key type it was encoded with.",
				 NULL, 0);

	if (c.key_is_null)
	{
		values[0] = (Datum) 0;
		nulls[0] = true;
	}
	else
	{
		switch (c.type)
		{
			case TA_CURSOR_INT2:
				values[0] = Int16GetDatum((int16) c.key_int);
				break;
			case TA_CURSOR_INT4:
				values[0] = Int32GetDatum((int32) c.key_int);
				break;
			case TA_CURSOR_DATE:
				values[0] = DateADTGetDatum((DateADT) c.key_int);
				break;
			case TA_CURSOR_INT8:
				values[0] = Int64GetDatum(c.key_int);
				break;
			case TA_CURSOR_TIMESTAMPTZ:
				values[0] = TimestampTzGetDatum((TimestampTz) c.key_int);
				break;
			case TA_CURSOR_TIMESTAMP:
				values[0] = TimestampGetDatum((Timestamp) c.key_int);
				break;
			case TA_CURSOR_UUID:
				{
					pg_uuid_t  *u = palloc(sizeof(pg_uuid_t));

					memcpy(u->data, c.key_uuid, UUID_LEN);
					values[0] = UUIDPGetDatum(u);
				}
				break;
			case TA_CURSOR_TEXT:
				if (!pg_verifymbstr((const char *) c.key_text, c.key_text_len, true) ||
					memchr(c.key_text, '\0', c.key_text_len) != NULL)
					raise_invalid_cursor(TA_CURSOR_OK);
				values[0] = PointerGetDatum(cstring_to_text_with_len((const char *) c.key_text,
																	 c.key_text_len));
				break;
		}
	}
	id = palloc(sizeof(pg_uuid_t));
	memcpy(id->data, c.last_id, UUID_LEN);
	values[1] = UUIDPGetDatum(id);
	values[2] = CStringGetTextDatum(c.direction == TA_CURSOR_DESC ? "desc" : "asc");
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(cache->tupdesc, values, nulls)));
}
