/*
 * idempotency.c
 *		Idempotency-Key: exactly-once writes, atomic with the write itself.
 *
 * A request that carries Idempotency-Key claims the key (per caller: the
 * user, or the API key it authenticated with) in task_api.idempotency_keys
 * with INSERT ... ON CONFLICT DO NOTHING, in the request's own transaction,
 * before it writes anything.  The key row therefore exists if and only if the write
 * commits.  A concurrent request with the same key blocks on the unique
 * index until the first one commits (it then replays) or aborts (it then
 * executes itself); the wait is bounded by task_api.idempotency_wait, after
 * which it answers idempotency_in_progress (409).
 *
 * The request's fingerprint is SHA-256 over a canonical serialization of
 * its method, path and payload (request_fingerprint() below documents it).
 * SQL cannot see the HTTP body, so the payload is what the database sees:
 *
 *  - POST on a view: the array of the rows the INSTEAD OF INSERT triggers
 *    receive, in order, each as an object of every column of the view
 *    (omitted fields hold the view's defaults or null);
 *  - PATCH on a view: the array, sorted by id, of {"id": <target row id>,
 *    "set": {<column>: <new value>, ...}} over the columns the UPDATE sets
 *    (PostgREST sets exactly the body's fields);
 *  - an RPC: the object of its arguments, built by the function itself.
 *
 * For INSERT and UPDATE four triggers on each API view do the work: a
 * BEFORE statement trigger claims the key (and learns the SET columns from
 * tg_updatedcols) and, on a replay, sets Idempotent-Replayed and the stored
 * ETag (PostgREST reads the headers before AFTER statement triggers run); a
 * first INSTEAD OF row trigger folds each row into the fingerprint and, on a
 * replay, replaces the row by the stored one (the write triggers then return
 * it untouched, see ta_idempotency_replaying()); a last INSTEAD OF row
 * trigger collects the representation the write triggers produced; an AFTER
 * statement trigger stores status, representation and ETag, or, on a
 * replay, checks the fingerprint (a mismatch takes the header back and
 * fails the statement).
 * The mutating RPCs call idempotency_claim() first and idempotency_record()
 * last.
 *
 * A replay writes nothing: not the base tables, not the key row.
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
#include "guc.h"
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

#include "constants.h"
#include "errors.h"
#include "idempotency.h"
#include "json_pairs.h"
#include "owner_spi.h"
#include "request.h"

#define KEY_HEADER "idempotency-key"
#define KEY_MAX 255
#define FINGERPRINT_DOMAIN "task_api idempotency v1\n"

typedef enum IdemMode
{
	IDEM_EXECUTE,				/* the key is ours: run and record */
	IDEM_REPLAY					/* the key holds a committed response */
} IdemMode;

/* One request that carries a key, from claim to record (or replay). */
typedef struct IdemRequest
{
	MemoryContext cxt;			/* owns this struct and everything below */
	SubTransactionId subid;		/* subtransaction that claimed the key */
	IdemMode	mode;
	const char *caller_kind;	/* "user" or "api_key" */
	pg_uuid_t	caller_id;
	pg_uuid_t	user_id;
	char	   *key;
	char	   *method;
	char	   *path;
	bytea	   *fingerprint;	/* RPCs: known at the claim */

	/* INSERT and UPDATE on a view */
	bool		is_update;
	Bitmapset  *setcols;		/* UPDATE: the SET columns */
	int			nrows;
	StringInfoData canon;		/* INSERT: canonical rows so far */
	List	   *row_canons;		/* UPDATE: StringInfo per row, sorted later */
	StringInfoData response;	/* execute: the JSON rows produced */

	/* the stored request, when replaying */
	char	   *stored_method;
	char	   *stored_path;
	bytea	   *stored_fingerprint;
	int			stored_status;	/* -1 while its request is in flight */
	Jsonb	   *stored_response;
	char	   *stored_etag;
} IdemRequest;

/* The INSERT or UPDATE statement in progress, and the RPC in progress. */
static IdemRequest *stmt_request = NULL;
static IdemRequest *rpc_request = NULL;

static SPIPlanPtr lookup_plan = NULL;
static SPIPlanPtr claim_plan = NULL;
static SPIPlanPtr expire_plan = NULL;
static SPIPlanPtr record_plan = NULL;

/* The memory of a request goes with its transaction. */
static void
idem_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PREPARE)
	{
		stmt_request = NULL;
		rpc_request = NULL;
	}
}

/* A subtransaction that aborts takes its claim back: forget the request. */
static void
idem_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	if (stmt_request != NULL && stmt_request->subid >= mySubid)
	{
		MemoryContextDelete(stmt_request->cxt);
		stmt_request = NULL;
	}
	if (rpc_request != NULL && rpc_request->subid >= mySubid)
	{
		MemoryContextDelete(rpc_request->cxt);
		rpc_request = NULL;
	}
}

void
ta_idempotency_init(void)
{
	RegisterXactCallback(idem_xact_callback, NULL);
	RegisterSubXactCallback(idem_subxact_callback, NULL);
}

bool
ta_idempotency_replaying(void)
{
	return stmt_request != NULL && stmt_request->mode == IDEM_REPLAY;
}

/* Forget a request and free its memory. */
static void
discard(IdemRequest **request)
{
	if (*request != NULL)
		MemoryContextDelete((*request)->cxt);
	*request = NULL;
}

/* ---------------------------------------------------------------------------
 * The canonical serialization and the fingerprint
 * ---------------------------------------------------------------------------
 */

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
static void
canon_jsonb(StringInfo out, Jsonb *j)
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
static bytea *
fingerprint(const char *method, const char *path, const char *canon, size_t len)
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

static bool
same_bytea(const bytea *a, const bytea *b)
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
	canon_jsonb(&canon, payload);
	PG_RETURN_BYTEA_P(fingerprint(method, path, canon.data, canon.len));
}

/* ---------------------------------------------------------------------------
 * Rows as JSON and back
 * ---------------------------------------------------------------------------
 */

/* A row of a view as JSON text, exactly as row_to_json() renders it. */
static char *
row_json(HeapTuple tuple, TupleDesc desc)
{
	Datum		rec = heap_copy_tuple_as_datum(tuple, desc);

	return text_to_cstring(DatumGetTextPP(DirectFunctionCall1(row_to_json, rec)));
}

static Jsonb *
row_jsonb(HeapTuple tuple, TupleDesc desc)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(row_json(tuple, desc))));
}

/* Rebuild a row of the view from its stored JSON object. */
static HeapTuple
jsonb_to_tuple(TupleDesc desc, JsonbContainer *obj)
{
	Datum	   *values = palloc0(sizeof(Datum) * desc->natts);
	bool	   *nulls = palloc(sizeof(bool) * desc->natts);

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		const char *name = NameStr(att->attname);
		JsonbValue	vbuf;
		JsonbValue *v;
		char	   *s;
		Oid			typinput;
		Oid			typioparam;

		nulls[i] = true;
		if (att->attisdropped)
			continue;
		v = getKeyJsonValueFromContainer(obj, name, strlen(name), &vbuf);
		if (v == NULL || v->type == jbvNull)
			continue;
		switch (v->type)
		{
			case jbvString:
				s = pnstrdup(v->val.string.val, v->val.string.len);
				break;
			case jbvNumeric:
				s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
				break;
			case jbvBool:
				s = pstrdup(v->val.boolean ? "true" : "false");
				break;
			case jbvBinary:
				{
					StringInfoData b;

					initStringInfo(&b);
					(void) JsonbToCString(&b, v->val.binary.data, v->val.binary.len);
					s = b.data;
				}
				break;
			default:
				elog(ERROR, "unexpected jsonb value type %d in a stored row", (int) v->type);
		}
		getTypeInputInfo(att->atttypid, &typinput, &typioparam);
		values[i] = OidInputFunctionCall(typinput, s, typioparam, att->atttypmod);
		nulls[i] = false;
	}
	return heap_form_tuple(desc, values, nulls);
}

/* A JSON string value. */
static JsonbValue
jstring(const char *s)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = unconstify(char *, s);
	v.val.string.len = strlen(s);
	return v;
}

/* The id column of a row, as text. */
static char *
row_id(HeapTuple tuple, TupleDesc desc)
{
	int			attnum = SPI_fnumber(desc, "id");
	char	   *id;

	if (attnum <= 0)
		elog(ERROR, "idempotency: the view has no id column");
	id = SPI_getvalue(tuple, desc, attnum);
	return id != NULL ? id : pstrdup("");
}

/* {"id": <old id>, "set": {<SET column>: <new value>, ...}}: one row of a PATCH. */
static Jsonb *
update_entry(const IdemRequest *r, HeapTuple oldtup, HeapTuple newtup, TupleDesc desc)
{
	Jsonb	   *newjb = row_jsonb(newtup, desc);
	JsonbParseState *st = NULL;
	JsonbValue	k;
	JsonbValue	v;
	JsonbValue *res;
	int			col = -1;

	(void) pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	k = jstring("id");
	(void) pushJsonbValue(&st, WJB_KEY, &k);
	v = jstring(row_id(oldtup, desc));
	(void) pushJsonbValue(&st, WJB_VALUE, &v);
	k = jstring("set");
	(void) pushJsonbValue(&st, WJB_KEY, &k);
	(void) pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	while ((col = bms_next_member(r->setcols, col)) >= 0)
	{
		AttrNumber	attno = col + FirstLowInvalidHeapAttributeNumber;
		Form_pg_attribute att;
		JsonbValue	vbuf;
		JsonbValue *jv;

		if (attno <= 0 || attno > desc->natts)
			continue;
		att = TupleDescAttr(desc, attno - 1);
		if (att->attisdropped)
			continue;
		k = jstring(NameStr(att->attname));
		(void) pushJsonbValue(&st, WJB_KEY, &k);
		jv = getKeyJsonValueFromContainer(&newjb->root, k.val.string.val, k.val.string.len, &vbuf);
		if (jv == NULL)
		{
			vbuf.type = jbvNull;
			jv = &vbuf;
		}
		(void) pushJsonbValue(&st, WJB_VALUE, jv);
	}
	(void) pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

/* The stored row whose id is id, or NULL. */
static JsonbContainer *
stored_row_by_id(const IdemRequest *r, const char *id)
{
	if (r->stored_response == NULL || !JB_ROOT_IS_ARRAY(r->stored_response))
		return NULL;
	for (uint32 i = 0;; i++)
	{
		JsonbValue *elem = getIthJsonbValueFromContainer(&r->stored_response->root, i);
		JsonbValue	vbuf;
		JsonbValue *v;

		if (elem == NULL)
			return NULL;
		if (elem->type != jbvBinary)
			continue;
		v = getKeyJsonValueFromContainer(elem->val.binary.data, "id", 2, &vbuf);
		if (v != NULL && v->type == jbvString && v->val.string.len == (int) strlen(id) &&
			memcmp(v->val.string.val, id, v->val.string.len) == 0)
			return elem->val.binary.data;
	}
}

/* The i-th stored row (0-based), or NULL. */
static JsonbContainer *
stored_row_at(const IdemRequest *r, int i)
{
	JsonbValue *elem;

	if (r->stored_response == NULL || !JB_ROOT_IS_ARRAY(r->stored_response))
		return NULL;
	elem = getIthJsonbValueFromContainer(&r->stored_response->root, i);
	return (elem != NULL && elem->type == jbvBinary) ? elem->val.binary.data : NULL;
}

/* ---------------------------------------------------------------------------
 * Keys and callers
 * ---------------------------------------------------------------------------
 */

/* 1 to 255 visible ASCII characters (0x21 to 0x7E). */
static bool
valid_key(const char *key)
{
	size_t		len = strlen(key);

	if (len < 1 || len > KEY_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char) key[i] < 0x21 || (unsigned char) key[i] > 0x7e)
			return false;
	return true;
}

static const char *
setting_or_empty(const char *name)
{
	const char *v = GetConfigOption(name, true, false);

	return v != NULL ? v : "";
}

/*
 * A new request for the current Idempotency-Key, or NULL when there is no
 * key or no authenticated caller (the write itself then refuses anonymous
 * callers).  A malformed key is invalid_idempotency_key (400).
 */
static IdemRequest *
start_request(void)
{
	const char *key = ta_request_header(KEY_HEADER);
	pg_uuid_t	user_id;
	pg_uuid_t	key_id;
	const char *key_claim;
	MemoryContext cxt;
	IdemRequest *r;

	if (key == NULL || !ta_current_user_id(&user_id))
		return NULL;
	if (!valid_key(key))
		ta_raise("invalid_idempotency_key", "the Idempotency-Key header is malformed",
				 "An Idempotency-Key is 1 to 255 visible ASCII characters: no spaces, no control or non-ASCII characters.",
				 "send a fresh random value such as a UUID", NULL, 0);

	cxt = AllocSetContextCreate(TopTransactionContext, "task_api idempotent request",
								ALLOCSET_SMALL_SIZES);
	r = MemoryContextAllocZero(cxt, sizeof(IdemRequest));
	r->cxt = cxt;
	r->subid = GetCurrentSubTransactionId();
	r->user_id = user_id;
	key_claim = ta_request_claim("key_id");
	if (key_claim != NULL && ta_parse_uuid(key_claim, &key_id))
	{
		r->caller_kind = "api_key";
		r->caller_id = key_id;
	}
	else
	{
		r->caller_kind = "user";
		r->caller_id = user_id;
	}
	r->key = MemoryContextStrdup(cxt, key);
	r->method = MemoryContextStrdup(cxt, setting_or_empty("request.method"));
	r->path = MemoryContextStrdup(cxt, setting_or_empty("request.path"));
	r->stored_status = -1;
	return r;
}

static void
key_reused(const IdemRequest *r) pg_attribute_noreturn();

static void
key_reused(const IdemRequest *r)
{
	/* A statement that looked like a replay at first is not one after all. */
	if (r->mode == IDEM_REPLAY)
		ta_remove_header("Idempotent-Replayed");
	ta_raise("idempotency_key_reused",
			 "this Idempotency-Key was already used for a different request",
			 psprintf("The key was first used for %s %s with another payload or target; "
					  "a key can only be retried with the same request.",
					  r->stored_method, r->stored_path),
			 "use a new key for a new request", NULL, 0);
}

static void
in_progress(void) pg_attribute_noreturn();

static void
in_progress(void)
{
	ta_raise("idempotency_in_progress",
			 "a request with this Idempotency-Key is still running",
			 "Another request with the same key is still running: it did not finish within task_api.idempotency_wait.",
			 "retry with the same key in a moment", NULL, 0);
}

typedef enum KeyState
{
	KEY_NONE,
	KEY_LIVE,
	KEY_EXPIRED
} KeyState;

/* Read the caller's key row into r. */
static KeyState
lookup(IdemRequest *r)
{
	Oid			types[4] = {TEXTOID, UUIDOID, TEXTOID, TIMESTAMPTZOID};
	Datum		args[4];
	Datum		vals[7];
	bool		nulls[7];
	MemoryContext old = MemoryContextSwitchTo(r->cxt);
	bool		found;

	args[0] = CStringGetTextDatum(r->caller_kind);
	args[1] = UUIDPGetDatum(&r->caller_id);
	args[2] = CStringGetTextDatum(r->key);
	args[3] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	/* Not read-only: in READ COMMITTED, a fresh snapshot sees a concurrent commit. */
	found = ta_owner_query_row(&lookup_plan,
							   "SELECT k.method, k.path, k.fingerprint, k.status, k.response, k.etag,"
							   "       k.expires_at OPERATOR(pg_catalog.>) $4"
							   "  FROM task_api.idempotency_keys k"
							   " WHERE k.caller_kind OPERATOR(pg_catalog.=) $1"
							   "   AND k.caller_id OPERATOR(pg_catalog.=) $2"
							   "   AND k.key OPERATOR(pg_catalog.=) $3",
							   4, types, args, false, 7, vals, nulls);
	if (found)
	{
		r->stored_method = nulls[0] ? "" : TextDatumGetCString(vals[0]);
		r->stored_path = nulls[1] ? "" : TextDatumGetCString(vals[1]);
		r->stored_fingerprint = nulls[2] ? NULL : DatumGetByteaPCopy(vals[2]);
		r->stored_status = nulls[3] ? -1 : DatumGetInt16(vals[3]);
		r->stored_response = nulls[4] ? NULL : DatumGetJsonbPCopy(vals[4]);
		r->stored_etag = nulls[5] ? NULL : TextDatumGetCString(vals[5]);
	}
	MemoryContextSwitchTo(old);
	if (!found)
		return KEY_NONE;
	return DatumGetBool(vals[6]) ? KEY_LIVE : KEY_EXPIRED;
}

/*
 * Insert the key row (deleting an expired one first); false if a row is
 * there, committed by another transaction that we waited for.  ON CONFLICT
 * DO NOTHING locks no row, so replays never wait for each other.  The wait
 * for a concurrent claim is bounded by task_api.idempotency_wait.
 */
static bool
insert_claim(IdemRequest *r, bool expired)
{
	Oid			types[9] = {TEXTOID, UUIDOID, TEXTOID, UUIDOID, TEXTOID, TEXTOID,
	BYTEAOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		args[9];
	Oid			expire_types[4] = {TEXTOID, UUIDOID, TEXTOID, TIMESTAMPTZOID};
	Datum		expire_args[4];
	Datum		ret;
	bool		retnull;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	int			nest = NewGUCNestLevel();
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool claimed = false;

	args[0] = CStringGetTextDatum(r->caller_kind);
	args[1] = UUIDPGetDatum(&r->caller_id);
	args[2] = CStringGetTextDatum(r->key);
	args[3] = UUIDPGetDatum(&r->user_id);
	args[4] = CStringGetTextDatum(r->method);
	args[5] = CStringGetTextDatum(r->path);
	/* Statements know their fingerprint only at the end: empty until then. */
	args[6] = PointerGetDatum(r->fingerprint != NULL ? r->fingerprint : palloc0(VARHDRSZ));
	if (r->fingerprint == NULL)
		SET_VARSIZE(DatumGetPointer(args[6]), VARHDRSZ);
	args[7] = TimestampTzGetDatum(now);
	args[8] = TimestampTzGetDatum(now + (int64) ta_idempotency_ttl * USECS_PER_SEC);
	expire_args[0] = args[0];
	expire_args[1] = args[1];
	expire_args[2] = args[2];
	expire_args[3] = args[7];

	if (ta_idempotency_wait > 0 && (LockTimeout == 0 || LockTimeout > ta_idempotency_wait))
	{
		char		ms[32];

		snprintf(ms, sizeof(ms), "%d", ta_idempotency_wait);
		(void) set_config_option("lock_timeout", ms, PGC_SUSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	}
	PG_TRY();
	{
		if (expired)
		{
			Datum		ret2;
			bool		retnull2;

			(void) ta_owner_query_row(&expire_plan,
									  "DELETE FROM task_api.idempotency_keys k"
									  " WHERE k.caller_kind OPERATOR(pg_catalog.=) $1"
									  "   AND k.caller_id OPERATOR(pg_catalog.=) $2"
									  "   AND k.key OPERATOR(pg_catalog.=) $3"
									  "   AND k.expires_at OPERATOR(pg_catalog.<=) $4"
									  " RETURNING true",
									  4, expire_types, expire_args, false, 1, &ret2, &retnull2);
		}
		claimed = ta_owner_query_row(&claim_plan,
									 "INSERT INTO task_api.idempotency_keys"
									 " (caller_kind, caller_id, key, user_id, method, path, fingerprint,"
									 "  created_at, expires_at)"
									 " VALUES ($1, $2, $3, $4, $5, $6,"
									 "         CASE WHEN pg_catalog.length($7) OPERATOR(pg_catalog.=) 0 THEN NULL ELSE $7 END,"
									 "         $8, $9)"
									 " ON CONFLICT (caller_kind, caller_id, key) DO NOTHING"
									 " RETURNING true",
									 9, types, args, false, 1, &ret, &retnull);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE)
		{
			FlushErrorState();
			in_progress();
		}
		PG_RE_THROW();
	}
	PG_END_TRY();
	AtEOXact_GUC(true, nest);
	return claimed;
}

/*
 * Claim the key for r: execute (the key is new or expired) or replay (a
 * committed request holds it).  A different method or path, or a known
 * and different fingerprint, is idempotency_key_reused.
 */
static void
claim(IdemRequest *r)
{
	/* Insert first: a new key, the common case, then costs one statement. */
	if (insert_claim(r, false))
	{
		r->mode = IDEM_EXECUTE;
		return;
	}
	switch (lookup(r))
	{
		case KEY_LIVE:
			break;
		case KEY_EXPIRED:
			/* An expired key counts as new: take its row over. */
			if (insert_claim(r, true))
			{
				r->mode = IDEM_EXECUTE;
				return;
			}
			if (lookup(r) != KEY_LIVE)
				in_progress();
			break;
		case KEY_NONE:
			/* Gone between the two statements (purged): a retry will claim it. */
			in_progress();
	}
	/* Only this transaction can see a row still in flight: a nested reuse. */
	if (r->stored_status < 0)
		in_progress();
	if (strcmp(r->method, r->stored_method) != 0 || strcmp(r->path, r->stored_path) != 0)
		key_reused(r);
	if (r->fingerprint != NULL && !same_bytea(r->fingerprint, r->stored_fingerprint))
		key_reused(r);
	r->mode = IDEM_REPLAY;
}

/* The ETag response header set so far in this request, or NULL. */
static char *
current_etag(void)
{
	const char *raw = GetConfigOption(TA_RESPONSE_HEADERS_GUC, true, false);
	TaPairs		pairs;
	char	   *etag = NULL;

	if (raw == NULL || !ta_json_collect_pairs(raw, 2, &pairs))
		return NULL;
	for (int i = 0; i < pairs.count; i++)
		if (pairs.names[i] != NULL && pg_strcasecmp(pairs.names[i], "etag") == 0)
			etag = pairs.values[i];
	return etag;
}

/* Store the outcome of an executed request in its key row. */
static void
record(IdemRequest *r, bytea *fp, int status, Jsonb *response, const char *etag)
{
	Oid			types[7] = {TEXTOID, UUIDOID, TEXTOID, BYTEAOID, INT2OID, JSONBOID, TEXTOID};
	Datum		args[7];
	Datum		ret;
	bool		retnull;

	/* ta_owner_query_row takes no null flags: '' and JSON null stand for none. */
	args[0] = CStringGetTextDatum(r->caller_kind);
	args[1] = UUIDPGetDatum(&r->caller_id);
	args[2] = CStringGetTextDatum(r->key);
	args[3] = PointerGetDatum(fp);
	args[4] = Int16GetDatum((int16) status);
	args[5] = PointerGetDatum(response);
	args[6] = CStringGetTextDatum(etag);
	if (!ta_owner_query_row(&record_plan,
							"UPDATE task_api.idempotency_keys k"
							"   SET fingerprint = $4, status = $5,"
							"       response = CASE WHEN $6 OPERATOR(pg_catalog.=) 'null'::pg_catalog.jsonb THEN NULL ELSE $6 END,"
							"       etag = CASE WHEN $7 OPERATOR(pg_catalog.=) '' THEN NULL ELSE $7 END"
							" WHERE k.caller_kind OPERATOR(pg_catalog.=) $1"
							"   AND k.caller_id OPERATOR(pg_catalog.=) $2"
							"   AND k.key OPERATOR(pg_catalog.=) $3"
							" RETURNING true",
							7, types, args, false, 1, &ret, &retnull))
		elog(ERROR, "idempotency key row vanished before its response was recorded");
}

/* ---------------------------------------------------------------------------
 * INSERT and UPDATE on the API views
 * ---------------------------------------------------------------------------
 */

static void
check_trigger(FunctionCallInfo fcinfo, const char *name, bool row, bool instead)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		(TRIGGER_FIRED_FOR_ROW(td->tg_event) != 0) != row ||
		(instead && !TRIGGER_FIRED_INSTEAD(td->tg_event)) ||
		!(TRIGGER_FIRED_BY_INSERT(td->tg_event) || TRIGGER_FIRED_BY_UPDATE(td->tg_event)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s: must be fired %s on INSERT or UPDATE", name,
						row ? "INSTEAD OF, FOR EACH ROW" : "FOR EACH STATEMENT")));
}

PG_FUNCTION_INFO_V1(task_api_idempotency_begin);

/* BEFORE INSERT OR UPDATE FOR EACH STATEMENT: claim the request's key. */
Datum
task_api_idempotency_begin(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	IdemRequest *r;

	check_trigger(fcinfo, "idempotency_begin", false, false);
	if (!TRIGGER_FIRED_BEFORE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("idempotency_begin: must be fired BEFORE")));

	discard(&stmt_request);
	r = start_request();
	if (r == NULL)
		return PointerGetDatum(NULL);

	r->is_update = TRIGGER_FIRED_BY_UPDATE(td->tg_event);
	{
		MemoryContext old = MemoryContextSwitchTo(r->cxt);

		if (r->is_update)
			r->setcols = bms_copy(td->tg_updatedcols);
		initStringInfo(&r->canon);
		initStringInfo(&r->response);
		MemoryContextSwitchTo(old);
	}
	claim(r);
	stmt_request = r;

	/*
	 * PostgREST reads response.headers in the same statement, after the
	 * rows and before AFTER statement triggers: the headers of a replay are
	 * set now, and taken back if the rows turn out to differ.
	 */
	if (r->mode == IDEM_REPLAY)
	{
		if (r->stored_etag != NULL)
			ta_append_header("ETag", r->stored_etag);
		ta_append_header("Idempotent-Replayed", "true");
	}
	return PointerGetDatum(NULL);
}

PG_FUNCTION_INFO_V1(task_api_idempotency_row_in);

/*
 * First INSTEAD OF row trigger: fold the row into the fingerprint; on a
 * replay, hand the write triggers the stored row instead.
 */
Datum
task_api_idempotency_row_in(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	IdemRequest *r = stmt_request;
	bool		is_update;
	HeapTuple	newtuple;
	TupleDesc	desc;
	JsonbContainer *stored;

	check_trigger(fcinfo, "idempotency_row_in", true, true);
	is_update = TRIGGER_FIRED_BY_UPDATE(td->tg_event);
	newtuple = is_update ? td->tg_newtuple : td->tg_trigtuple;
	if (r == NULL)
		return PointerGetDatum(newtuple);
	if (r->is_update != is_update)
		elog(ERROR, "idempotency_row_in: fired for another statement than the one that claimed the key");

	desc = RelationGetDescr(td->tg_relation);
	if (!is_update)
		canon_jsonb(&r->canon, row_jsonb(newtuple, desc));
	else
	{
		Jsonb	   *entry = update_entry(r, td->tg_trigtuple, newtuple, desc);
		MemoryContext old = MemoryContextSwitchTo(r->cxt);
		StringInfo	c = makeStringInfo();

		canon_jsonb(c, entry);
		r->row_canons = lappend(r->row_canons, c);
		MemoryContextSwitchTo(old);
	}
	r->nrows++;

	if (r->mode != IDEM_REPLAY)
		return PointerGetDatum(newtuple);

	/* The row the original request returned for this one. */
	stored = is_update ? stored_row_by_id(r, row_id(td->tg_trigtuple, desc))
		: stored_row_at(r, r->nrows - 1);
	if (stored == NULL)
		key_reused(r);
	return PointerGetDatum(jsonb_to_tuple(desc, stored));
}

PG_FUNCTION_INFO_V1(task_api_idempotency_row_out);

/* Last INSTEAD OF row trigger: collect the representation to store. */
Datum
task_api_idempotency_row_out(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	IdemRequest *r = stmt_request;
	HeapTuple	newtuple;

	check_trigger(fcinfo, "idempotency_row_out", true, true);
	newtuple = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	if (r != NULL && r->mode == IDEM_EXECUTE)
	{
		char	   *json = row_json(newtuple, RelationGetDescr(td->tg_relation));

		if (r->response.len > 0)
			appendStringInfoString(&r->response, ", ");
		appendStringInfoString(&r->response, json);
	}
	return PointerGetDatum(newtuple);
}

/* Order canonical rows bytewise: a PATCH's rows come in heap order. */
static int
compare_canon(const ListCell *a, const ListCell *b)
{
	StringInfo	x = (StringInfo) lfirst(a);
	StringInfo	y = (StringInfo) lfirst(b);
	int			c = memcmp(x->data, y->data, Min(x->len, y->len));

	if (c != 0)
		return c;
	return (x->len > y->len) - (x->len < y->len);
}

PG_FUNCTION_INFO_V1(task_api_idempotency_end);

/*
 * AFTER INSERT OR UPDATE FOR EACH STATEMENT: record the response, or check
 * that the replayed request is the same and mark the response replayed.
 */
Datum
task_api_idempotency_end(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	IdemRequest *r = stmt_request;
	StringInfoData canon;
	bytea	   *fp;

	check_trigger(fcinfo, "idempotency_end", false, false);
	if (!TRIGGER_FIRED_AFTER(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("idempotency_end: must be fired AFTER")));
	if (r == NULL)
		return PointerGetDatum(NULL);

	initStringInfo(&canon);
	appendStringInfoChar(&canon, '[');
	if (!r->is_update)
		appendBinaryStringInfo(&canon, r->canon.data, r->canon.len);
	else
	{
		ListCell   *lc;

		list_sort(r->row_canons, compare_canon);
		foreach(lc, r->row_canons)
		{
			StringInfo	c = (StringInfo) lfirst(lc);

			appendBinaryStringInfo(&canon, c->data, c->len);
		}
	}
	appendStringInfoChar(&canon, ']');
	fp = fingerprint(r->method, r->path, canon.data, canon.len);

	if (r->mode == IDEM_REPLAY)
	{
		if (!same_bytea(fp, r->stored_fingerprint))
			key_reused(r);
	}
	else
	{
		StringInfoData json;
		char	   *etag = current_etag();

		initStringInfo(&json);
		appendStringInfo(&json, "[%s]", r->response.data);
		record(r, fp, r->is_update ? 200 : 201,
			   DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json.data))),
			   etag != NULL ? etag : "");
	}
	discard(&stmt_request);
	return PointerGetDatum(NULL);
}

PG_FUNCTION_INFO_V1(task_api_idempotent_replay);

/* idempotent_replay(): is this statement replaying?  The write triggers return NEW at once if so. */
Datum
task_api_idempotent_replay(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(ta_idempotency_replaying());
}

/* ---------------------------------------------------------------------------
 * The mutating RPCs
 * ---------------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(task_api_idempotency_claim);

/*
 * idempotency_claim(payload): called first by a mutating RPC with its
 * arguments.  NULL: go ahead (no key, or the key is now ours).  Otherwise a
 * replay: {"status": N, "body": <stored result>}, with the status and the
 * headers of the original response already set.
 */
Datum
task_api_idempotency_claim(PG_FUNCTION_ARGS)
{
	IdemRequest *r;
	StringInfoData canon;
	StringInfoData out;
	char		status[16];

	discard(&rpc_request);
	r = start_request();
	if (r == NULL)
		PG_RETURN_NULL();

	initStringInfo(&canon);
	if (PG_ARGISNULL(0))
		appendStringInfoChar(&canon, 'n');
	else
		canon_jsonb(&canon, PG_GETARG_JSONB_P(0));
	{
		MemoryContext old = MemoryContextSwitchTo(r->cxt);

		r->fingerprint = fingerprint(r->method, r->path, canon.data, canon.len);
		MemoryContextSwitchTo(old);
	}
	claim(r);
	if (r->mode == IDEM_EXECUTE)
	{
		rpc_request = r;
		PG_RETURN_NULL();
	}

	if (r->stored_etag != NULL)
		ta_append_header("ETag", r->stored_etag);
	ta_append_header("Idempotent-Replayed", "true");
	snprintf(status, sizeof(status), "%d", r->stored_status);
	(void) set_config_option("response.status", status, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	initStringInfo(&out);
	appendStringInfo(&out, "{\"status\": %d, \"body\": ", r->stored_status);
	if (r->stored_response != NULL)
		(void) JsonbToCString(&out, &r->stored_response->root, VARSIZE(r->stored_response));
	else
		appendStringInfoString(&out, "null");
	appendStringInfoChar(&out, '}');
	discard(&r);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data)));
}

PG_FUNCTION_INFO_V1(task_api_idempotency_record);

/*
 * idempotency_record(result): called by a mutating RPC just before it
 * returns, after setting its status and headers: store the response.
 */
Datum
task_api_idempotency_record(PG_FUNCTION_ARGS)
{
	IdemRequest *r = rpc_request;
	const char *status_text;
	int			status;
	char	   *etag;
	Jsonb	   *body = PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0);

	if (r == NULL || r->mode != IDEM_EXECUTE)
		PG_RETURN_VOID();

	/* strtol, not atoi: an out-of-range status must not wrap into a valid one. */
	status_text = GetConfigOption("response.status", true, false);
	status = 0;
	if (status_text != NULL)
	{
		char	   *end;
		long		n;

		errno = 0;
		n = strtol(status_text, &end, 10);
		if (errno == 0 && end != status_text && *end == '\0' && n >= 100 && n <= 599)
			status = (int) n;
	}
	if (status == 0)
		status = body == NULL ? 204 : 200;
	etag = current_etag();
	record(r, r->fingerprint, status,
		   body != NULL ? body : DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("null"))),
		   etag != NULL ? etag : "");
	discard(&rpc_request);
	PG_RETURN_VOID();
}
