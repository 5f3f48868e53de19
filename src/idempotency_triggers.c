/*
 * idempotency_triggers.c
 *		Idempotency-Key on INSERT and UPDATE of the API views: the BEFORE and
 *		AFTER statement triggers and the first and last INSTEAD OF row triggers.
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

#include "errors.h"
#include "metrics.h"
#include "idempotency.h"
#include "idempotency_internal.h"

/* Refuse a trigger function attached other than the protocol needs. */
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

/* Check an INSTEAD OF row trigger and return the row it is to write. */
static HeapTuple
check_row_trigger(FunctionCallInfo fcinfo, const char *name)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	check_trigger(fcinfo, name, true, true);
	return TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
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

	idem_discard(&idem_stmt_request);
	r = idem_start_request();
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
	idem_claim(r);
	idem_stmt_request = r;

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
	IdemRequest *r = idem_stmt_request;
	HeapTuple	newtuple = check_row_trigger(fcinfo, "idempotency_row_in");
	bool		is_update = TRIGGER_FIRED_BY_UPDATE(td->tg_event);
	TupleDesc	desc;
	JsonbContainer *stored;

	if (r == NULL)
		return PointerGetDatum(newtuple);
	if (r->is_update != is_update)
		elog(ERROR, "idempotency_row_in: fired for another statement than the one that claimed the key");

	desc = RelationGetDescr(td->tg_relation);
	if (!is_update)
		idem_canon_jsonb(&r->canon, idem_row_jsonb(newtuple, desc));
	else
	{
		Jsonb	   *entry = idem_update_entry(r, td->tg_trigtuple, newtuple, desc);
		MemoryContext old = MemoryContextSwitchTo(r->cxt);
		StringInfo	c = makeStringInfo();

		idem_canon_jsonb(c, entry);
		r->row_canons = lappend(r->row_canons, c);
		MemoryContextSwitchTo(old);
	}
	r->nrows++;

	if (r->mode != IDEM_REPLAY)
		return PointerGetDatum(newtuple);

	/* The row the original request returned for this one. */
	stored = is_update ? idem_stored_row_by_id(r, idem_row_id(td->tg_trigtuple, desc))
		: idem_stored_row_at(r, r->nrows - 1);
	if (stored == NULL)
		idem_key_reused(r);
	return PointerGetDatum(idem_jsonb_to_tuple(desc, stored));
}

PG_FUNCTION_INFO_V1(task_api_idempotency_row_out);

/* Last INSTEAD OF row trigger: collect the representation to store. */
Datum
task_api_idempotency_row_out(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	IdemRequest *r = idem_stmt_request;
	HeapTuple	newtuple = check_row_trigger(fcinfo, "idempotency_row_out");

	if (r != NULL && r->mode == IDEM_EXECUTE)
	{
		char	   *json = idem_row_json(newtuple, RelationGetDescr(td->tg_relation));

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
	IdemRequest *r = idem_stmt_request;
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
	fp = idem_fingerprint(r->method, r->path, canon.data, canon.len);

	if (r->mode == IDEM_REPLAY)
	{
		if (!idem_same_bytea(fp, r->stored_fingerprint))
			idem_key_reused(r);
		ta_metric_add(TA_METRIC_IDEMPOTENT_REPLAYED, 1);
	}
	else
	{
		StringInfoData json;
		char	   *etag = idem_current_etag();

		initStringInfo(&json);
		appendStringInfo(&json, "[%s]", r->response.data);
		idem_record(r, fp, r->is_update ? 200 : 201,
			   DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json.data))),
			   etag != NULL ? etag : "");
	}
	idem_discard(&idem_stmt_request);
	return PointerGetDatum(NULL);
}

PG_FUNCTION_INFO_V1(task_api_idempotent_replay);

/* idempotent_replay(): is this statement replaying?  The write triggers return NEW at once if so. */
Datum
task_api_idempotent_replay(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(ta_idempotency_replaying());
}
