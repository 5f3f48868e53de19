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
 *
 * This file keeps the requests' lifetime and the RPC entry points; the
 * other parts are listed in idempotency_internal.h.
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
#include "request.h"

/* The INSERT or UPDATE statement in progress, and the RPC in progress. */
IdemRequest *idem_stmt_request = NULL;
static IdemRequest *rpc_request = NULL;

/* The memory of a request goes with its transaction. */
static void
idem_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PREPARE)
	{
		idem_stmt_request = NULL;
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
	if (idem_stmt_request != NULL && idem_stmt_request->subid >= mySubid)
	{
		MemoryContextDelete(idem_stmt_request->cxt);
		idem_stmt_request = NULL;
	}
	if (rpc_request != NULL && rpc_request->subid >= mySubid)
	{
		MemoryContextDelete(rpc_request->cxt);
		rpc_request = NULL;
	}
}

/* A request's state must end with its (sub)transaction. */
void
ta_idempotency_init(void)
{
	RegisterXactCallback(idem_xact_callback, NULL);
	RegisterSubXactCallback(idem_subxact_callback, NULL);
}

/* The write triggers ask this to leave a replayed row untouched. */
bool
ta_idempotency_replaying(void)
{
	return idem_stmt_request != NULL && idem_stmt_request->mode == IDEM_REPLAY;
}

/* Forget a request and free its memory. */
void
idem_discard(IdemRequest **request)
{
	if (*request != NULL)
		MemoryContextDelete((*request)->cxt);
	*request = NULL;
}

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

	idem_discard(&rpc_request);
	r = idem_start_request();
	if (r == NULL)
		PG_RETURN_NULL();

	initStringInfo(&canon);
	if (PG_ARGISNULL(0))
		appendStringInfoChar(&canon, 'n');
	else
		idem_canon_jsonb(&canon, PG_GETARG_JSONB_P(0));
	{
		MemoryContext old = MemoryContextSwitchTo(r->cxt);

		r->fingerprint = idem_fingerprint(r->method, r->path, canon.data, canon.len);
		MemoryContextSwitchTo(old);
	}
	idem_claim(r);
	if (r->mode == IDEM_EXECUTE)
	{
		rpc_request = r;
		PG_RETURN_NULL();
	}

	if (r->stored_etag != NULL)
		ta_append_header("ETag", r->stored_etag);
	ta_append_header("Idempotent-Replayed", "true");
	ta_metric_add(TA_METRIC_IDEMPOTENT_REPLAYED, 1);
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
	idem_discard(&r);
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
	etag = idem_current_etag();
	idem_record(r, r->fingerprint, status,
		   body != NULL ? body : DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("null"))),
		   etag != NULL ? etag : "");
	idem_discard(&rpc_request);
	PG_RETURN_VOID();
}
