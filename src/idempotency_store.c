/*
 * idempotency_store.c
 *		Idempotency-Key: the caller's row in task_api.idempotency_keys, claimed
 *		before the write and completed after it, all as the tables' owner.
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

#include "citus.h"
#include "constants.h"
#include "errors.h"
#include "metrics.h"
#include "guc.h"
#include "idempotency_internal.h"
#include "json_pairs.h"
#include "owner_spi.h"
#include "request.h"

#define KEY_HEADER "idempotency-key"
#define KEY_MAX 255

static SPIPlanPtr lookup_plan = NULL;
static SPIPlanPtr claim_plan = NULL;
static SPIPlanPtr expire_plan = NULL;
static SPIPlanPtr record_plan = NULL;

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

/* A request setting, or "" when PostgREST did not set it (psql, tests). */
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
IdemRequest *
idem_start_request(void)
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

/* 422 idempotency_key_reused: the key belongs to another request. */
void
idem_key_reused(const IdemRequest *r)
{
	/* A statement that looked like a replay at first is not one after all. */
	if (r->mode == IDEM_REPLAY)
		ta_remove_header("Idempotent-Replayed");
	ta_metric_add(TA_METRIC_IDEMPOTENT_KEY_REUSED, 1);
	ta_raise("idempotency_key_reused",
			 "this Idempotency-Key was already used for a different request",
			 psprintf("The key was first used for %s %s with another payload or target; "
					  "a key can only be retried with the same request.",
					  r->stored_method, r->stored_path),
			 "use a new key for a new request", NULL, 0);
}

static void
idem_in_progress(void) pg_attribute_noreturn();

/* 409 idempotency_in_progress: the key's first request has not finished. */
static void
idem_in_progress(void)
{
	ta_metric_add(TA_METRIC_IDEMPOTENT_IN_PROGRESS, 1);
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
 * On Citus (docs/scaling.md) the key's row is in a shard on a worker, where
 * the wait for a concurrent claim happens: a setting changed in C does not
 * reach the workers, a SET LOCAL statement does (distribute() has Citus
 * propagate them).  ms is this library's integer, never the client's text.
 */
static void
citus_set_lock_timeout(int ms)
{
	char		sql[64];

	snprintf(sql, sizeof(sql), "SET LOCAL lock_timeout = %d", ms);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not set lock_timeout for the idempotency key's wait");
	SPI_finish();
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
	int			citus_lock_timeout = -1;

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

		if (ta_citus_table_named("idempotency_keys"))
		{
			citus_lock_timeout = LockTimeout;
			citus_set_lock_timeout(ta_idempotency_wait);
		}
		else
		{
			snprintf(ms, sizeof(ms), "%d", ta_idempotency_wait);
			(void) set_config_option("lock_timeout", ms, PGC_SUSET, PGC_S_SESSION,
									 GUC_ACTION_SAVE, true, 0, false);
		}
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
			idem_in_progress();
		}
		PG_RE_THROW();
	}
	PG_END_TRY();
	AtEOXact_GUC(true, nest);
	/* The request's own bound again, here and on the workers. */
	if (citus_lock_timeout >= 0)
		citus_set_lock_timeout(citus_lock_timeout);
	return claimed;
}

/*
 * Claim the key for r: execute (the key is new or expired) or replay (a
 * committed request holds it).  A different method or path, or a known
 * and different fingerprint, is idempotency_key_reused.
 */
void
idem_claim(IdemRequest *r)
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
				idem_in_progress();
			break;
		case KEY_NONE:
			/* Gone between the two statements (purged): a retry will claim it. */
			idem_in_progress();
	}
	/* Only this transaction can see a row still in flight: a nested reuse. */
	if (r->stored_status < 0)
		idem_in_progress();
	if (strcmp(r->method, r->stored_method) != 0 || strcmp(r->path, r->stored_path) != 0)
		idem_key_reused(r);
	if (r->fingerprint != NULL && !idem_same_bytea(r->fingerprint, r->stored_fingerprint))
		idem_key_reused(r);
	r->mode = IDEM_REPLAY;
}

/* The ETag response header set so far in this request, or NULL. */
char *
idem_current_etag(void)
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
void
idem_record(IdemRequest *r, bytea *fp, int status, Jsonb *response, const char *etag)
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
