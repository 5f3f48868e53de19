/*
 * bounds.c
 *		Bounded work per request, and truthful answers when the server cuts
 *		a request off (issue 21, items 1 and 8).
 *
 *	- Time: task_api.pre_request() calls ta_bounds_begin_request(), which
 *	  sets statement_timeout to task_api.statement_timeout (and lock_timeout
 *	  to half of it, see below) for the rest of the transaction
 *	  (GUC_ACTION_LOCAL, as SET LOCAL).  PostgreSQL starts a statement's
 *	  timer when the statement starts, so the value applies to
 *	  the request's own query, which PostgREST sends after the hook.  An
 *	  operator changes it with ALTER SYSTEM (or ALTER DATABASE) and a
 *	  reload: no PostgREST reload, no role setting outside the extension.
 *	- Rows written: task_api.bulk_rows(), an INSTEAD OF INSERT row trigger
 *	  that fires first on api.projects and api.tasks, counts the rows of the
 *	  statement and refuses the one past task_api.max_bulk_rows with 413
 *	  payload_too_large; the statement is rolled back.
 *	- Answers: an error PostgreSQL raises itself reaches PostgREST with its
 *	  raw SQLSTATE, which PostgREST turns into a status of its own (57014,
 *	  a statement timeout, is a 500; 57P01, a terminated backend, a 503
 *	  with code "57P01").  An emit_log_hook sees every error before it is
 *	  sent, and rewrites these few, inside a request's transaction, into
 *	  catalogue errors in PostgREST's SQLSTATE 'PGRST' form.  A statement
 *	  timeout is 400 query_too_expensive: the transaction is rolled back, so
 *	  the outcome is known, and the same request would be cut off again.
 *	  Waiting for a lock is not the request's own work, so pre_request()
 *	  also bounds lock waits by half the statement timeout (lock_timeout,
 *	  unless a shorter one is set; src/idempotency.c keeps a shorter
 *	  lock_timeout for its wait): such a wait is 504 busy with Retry-After,
 *	  as is a cancel (pg_cancel_backend); nothing was written.  Not 503:
 *	  PostgREST 12 takes any 503 for a lost database, reconnects and
 *	  reloads its schema cache, answering everyone 503 PGRST002 meanwhile.
 *	  A termination (pg_terminate_backend, a fast shutdown), when its
 *	  message reaches PostgREST, is 503 unavailable: the connection is
 *	  really gone, and the outcome is unknown (PostgREST adds Retry-After to
 *	  every 503 itself).  The server
 *	  log shows the rewritten error, with the statement as usual.
 *
 * What the database cannot rewrite: a connection that dies without an
 * error message reaching PostgREST (a backend terminated between two
 * statements of a request, after its COMMIT, or a server that stops before
 * answering).  PostgREST 12 then answers 503 PGRST001, or 400 with an
 * empty code when its client library reports the lost connection as a
 * result without SQLSTATE; docs/errors.md, "Retrying", gives the rule for clients.
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/elog.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "bounds.h"
#include "error_map.h"
#include "errors.h"
#include "guc.h"
#include "replica.h"

/* Seconds a client should wait before retrying a cut-off request. */
#define RETRY_AFTER "1"

static emit_log_hook_type prev_emit_log_hook = NULL;

/* The local transaction in which pre_request() last ran. */
static LocalTransactionId request_lxid = InvalidLocalTransactionId;

/*
 * The two settings' values as text, formatted again only when
 * task_api.statement_timeout changes (a reload), not on every request.
 */
static int	formatted_for = -1;
static char statement_value[16];
static char lock_value[16];

void
ta_bounds_begin_request(void)
{
	int			lock_wait = Max(ta_statement_timeout / 2, 1);

	request_lxid = MyProc->lxid;
	if (ta_statement_timeout <= 0)
		return;
	if (formatted_for != ta_statement_timeout)
	{
		pg_ltoa(ta_statement_timeout, statement_value);
		pg_ltoa(lock_wait, lock_value);
		formatted_for = ta_statement_timeout;
	}
	(void) set_config_option("statement_timeout", statement_value, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	if (LockTimeout == 0 || LockTimeout > lock_wait)
		(void) set_config_option("lock_timeout", lock_value, PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_LOCAL, true, 0, false);
}

/* Is the backend inside the transaction of a PostgREST request? */
static bool
in_request(void)
{
	return MyProc != NULL && request_lxid != InvalidLocalTransactionId &&
		request_lxid == MyProc->lxid;
}

/* Is the error's message (untranslated) exactly this one? */
static bool
is_message(const ErrorData *edata, const char *message)
{
	return edata->message_id != NULL && strcmp(edata->message_id, message) == 0;
}

/* A statement cancelled by statement_timeout (not by a cancel request)? */
static bool
is_statement_timeout(const ErrorData *edata)
{
	return is_message(edata, "canceling statement due to statement timeout");
}

/*
 * Rewrite the errors listed in the file header; leave every other alone.
 * Runs inside the emit_log_hook: nothing here allocates (details on the
 * stack, ta_error_rewrite's static buffers).
 */
static void
translate_error(ErrorData *edata)
{
	TaHeader	retry = {"Retry-After", RETRY_AFTER};
	char		details[64];

	if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED && edata->elevel == ERROR)
	{
		if (is_statement_timeout(edata))
			ta_error_rewrite(edata, "query_too_expensive",
							 "the request took longer than the server allows",
							 (snprintf(details, sizeof(details), "{\"statement_timeout_ms\": %d}",
									   StatementTimeout), details),
							 "ask for fewer rows or a smaller embedding, or page with /rpc/tasks_page",
							 NULL, 0);
		else
			ta_error_rewrite(edata, "busy", "the request was cancelled",
							 NULL, "retry later with the same Idempotency-Key", &retry, 1);
	}
	else if (edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE && edata->elevel == ERROR &&
			 is_message(edata, "canceling statement due to lock timeout"))
		ta_error_rewrite(edata, "busy",
						 "the request waited too long for data another transaction holds",
						 (snprintf(details, sizeof(details), "{\"lock_timeout_ms\": %d}",
								   LockTimeout), details),
						 "retry later with the same Idempotency-Key", &retry, 1);
	else if (edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN && edata->elevel >= ERROR)
		ta_error_rewrite(edata, "unavailable", "the database ended the request",
						 "{\"outcome\": \"unknown\"}",
						 "retry later with the same Idempotency-Key", NULL, 0);
}

static void
bounds_emit_log(ErrorData *edata)
{
	/* A write sent to a hot standby fails before pre_request() runs. */
	ta_replica_translate(edata, in_request());
	if (in_request())
	{
		translate_error(edata);
		ta_error_map(edata);
	}
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

void
ta_bounds_init(void)
{
	ta_error_rewrite_reserve();
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = bounds_emit_log;
}

/*
 * Rows this statement has inserted through the trigger's view.  A statement
 * is told apart the way ta_note_etag() in src/etag.c does it: by its local
 * transaction and its start time.
 */
static int
count_statement_row(Oid view)
{
	static LocalTransactionId lxid = InvalidLocalTransactionId;
	static TimestampTz statement = 0;
	static Oid	relation = InvalidOid;
	static int	rows = 0;

	if (lxid != MyProc->lxid || statement != GetCurrentStatementStartTimestamp() ||
		relation != view)
	{
		lxid = MyProc->lxid;
		statement = GetCurrentStatementStartTimestamp();
		relation = view;
		rows = 0;
	}
	if (rows < PG_INT32_MAX)
		rows++;
	return rows;
}

PG_FUNCTION_INFO_V1(task_api_bulk_rows);

/*
 * INSTEAD OF INSERT FOR EACH ROW, before the view's other triggers: pass the
 * row on, or refuse the statement once it passes task_api.max_bulk_rows.
 */
Datum
task_api_bulk_rows(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_INSTEAD(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_BY_INSERT(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("bulk_rows: must be fired INSTEAD OF INSERT FOR EACH ROW")));

	if (ta_max_bulk_rows > 0 &&
		count_statement_row(RelationGetRelid(td->tg_relation)) > ta_max_bulk_rows)
		ta_raise("payload_too_large", "too many rows in one request",
				 psprintf("{\"max_rows\": %d}", ta_max_bulk_rows),
				 "send the rows in several requests", NULL, 0);

	return PointerGetDatum(td->tg_trigtuple);
}
