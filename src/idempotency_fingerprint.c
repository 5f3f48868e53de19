/*
 * idempotency_fingerprint.c
 *		Idempotency-Key: the canonical serialization of a request and its
 *		SHA-256 fingerprint (method, path and payload; see idempotency.c).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/sysattr.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/bitmapset.h"
#include "nodes/pg_list.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "idempotency_internal.h"

#define FINGERPRINT_DOMAIN "task_api idempotency v1\n"

/* A string: S, its length in bytes, a colon, the bytes (prefix-free). */
static void
canon_string(StringInfo out, const char *s, int len)
{
	appendStringInfo(out, "S%d:", len);
	appendBinaryStringInfo(out, s, len);
}

/* A scalar; numbers without trailing zeros, so 1, 1.0 and 1e0 are equal. */
static void
canon_scalar(StringInfo out, const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			appendStringInfoChar(out, 'n');
			break;
		case jbvBool:
			appendStringInfoChar(out, v->val.boolean ? 't' : 'f');
			break;
		case jbvString:
			canon_string(out, v->val.string.val, v->val.string.len);
			break;
		case jbvNumeric:
			{
				char	   *n = numeric_normalize(v->val.numeric);

				appendStringInfo(out, "N%s;", n);
				pfree(n);
			}
			break;
		default:
			elog(ERROR, "unexpected jsonb scalar type %d", (int) v->type);
	}
}

/*
 * Append the canonical form of a jsonb value.  jsonb has already sorted
 * object keys and dropped duplicates (the last one wins) and forgotten
 * whitespace; arrays keep their order.
 */
void
idem_canon_jsonb(StringInfo out, Jsonb *j)
{
	JsonbIterator *it = JsonbIteratorInit(&j->root);
	JsonbValue	v;
	JsonbIteratorToken tok;
	bool		raw_scalar = JB_ROOT_IS_SCALAR(j);

	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		switch (tok)
		{
			case WJB_BEGIN_ARRAY:
				if (!raw_scalar)
					appendStringInfoChar(out, '[');
				break;
			case WJB_END_ARRAY:
				if (!raw_scalar)
					appendStringInfoChar(out, ']');
				break;
			case WJB_BEGIN_OBJECT:
				appendStringInfoChar(out, '{');
				break;
			case WJB_END_OBJECT:
				appendStringInfoChar(out, '}');
				break;
			case WJB_KEY:
				canon_string(out, v.val.string.val, v.val.string.len);
				break;
			case WJB_VALUE:
			case WJB_ELEM:
				canon_scalar(out, &v);
				break;
			default:
				elog(ERROR, "unexpected jsonb iterator token %d", (int) tok);
		}
	}
}

/* SHA-256 of the domain tag, method, path and canonical payload. */
bytea *
idem_fingerprint(const char *method, const char *path, const char *canon, size_t len)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	StringInfoData head;
	bytea	   *result = palloc(VARHDRSZ + PG_SHA256_DIGEST_LENGTH);

	initStringInfo(&head);
	appendStringInfoString(&head, FINGERPRINT_DOMAIN);
	canon_string(&head, method, strlen(method));
	canon_string(&head, path, strlen(path));
	if (pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (uint8 *) head.data, head.len) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) canon, len) < 0 ||
		pg_cryptohash_final(ctx, (uint8 *) VARDATA(result), PG_SHA256_DIGEST_LENGTH) < 0)
		elog(ERROR, "could not compute SHA-256: %s", pg_cryptohash_error(ctx));
	pg_cryptohash_free(ctx);
	SET_VARSIZE(result, VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
	pfree(head.data);
	return result;
}

/* Equal fingerprints (both present); they are no secret, so memcmp is fine. */
bool
idem_same_bytea(const bytea *a, const bytea *b)
{
	return a != NULL && b != NULL &&
		VARSIZE_ANY_EXHDR(a) == VARSIZE_ANY_EXHDR(b) &&
		memcmp(VARDATA_ANY(a), VARDATA_ANY(b), VARSIZE_ANY_EXHDR(a)) == 0;
}

PG_FUNCTION_INFO_V1(task_api_request_fingerprint);

/*
 * request_fingerprint(method, path, payload): the fingerprint an idempotent
 * request is compared by, exposed so tests and operators can compute it.
 */
Datum
task_api_request_fingerprint(PG_FUNCTION_ARGS)
{
	char	   *method = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *path = text_to_cstring(PG_GETARG_TEXT_PP(1));
	Jsonb	   *payload = PG_GETARG_JSONB_P(2);
	StringInfoData canon;

	initStringInfo(&canon);
	idem_canon_jsonb(&canon, payload);
	PG_RETURN_BYTEA_P(idem_fingerprint(method, path, canon.data, canon.len));
}
