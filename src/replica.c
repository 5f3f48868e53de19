/*
 * replica.c
 *		A write sent to a hot standby's PostgREST, answered as a catalogue
 *		error (read_only_replica) instead of PostgreSQL's raw code.
 *
 * PostgREST opens a write's transaction with BEGIN ... READ WRITE.  On a
 * standby PostgreSQL refuses that statement itself (SQLSTATE 0A000, "cannot
 * set transaction read-write mode during recovery"), before
 * task_api.pre_request() runs, so the translation cannot live in SQL: the
 * emit_log_hook of src/bounds.c calls ta_replica_translate() for every error,
 * inside a request or not.  A statement that writes inside a read-only
 * transaction (25006) on a standby is the same mistake and gets the same
 * answer.
 *
 * Only PostgREST's sessions are rewritten (its connections carry the
 * application_name "PostgREST <version>" unless the operator sets another
 * in db-uri): a psql user on the standby keeps PostgreSQL's own message.
 *
 * The status is 421 Misdirected Request, not 503: PostgREST 12 takes every
 * 503 response for a lost database, flushes its connection pool and
 * reloads its schema cache (docs/errors.md, "read_only_replica").
 */
#include "postgres.h"

#include "access/xlog.h"
#include "utils/elog.h"
#include "utils/guc.h"

#include "errors.h"
#include "replica.h"

#define POSTGREST_APPLICATION "PostgREST"
#define READ_WRITE_IN_RECOVERY "cannot set transaction read-write mode during recovery"

/* Is this backend one of PostgREST's connections? */
static bool
is_postgrest_session(void)
{
	return application_name != NULL &&
		strncmp(application_name, POSTGREST_APPLICATION, strlen(POSTGREST_APPLICATION)) == 0;
}

/* The message of a refused BEGIN ... READ WRITE (a GUC check, so no message_id). */
static bool
is_read_write_refusal(const ErrorData *edata)
{
	return edata->sqlerrcode == ERRCODE_FEATURE_NOT_SUPPORTED && edata->message != NULL &&
		(strcmp(edata->message, READ_WRITE_IN_RECOVERY) == 0 ||
		 strcmp(edata->message, _(READ_WRITE_IN_RECOVERY)) == 0);
}

/* A write refused because this server is a standby? */
static bool
is_write_on_standby(const ErrorData *edata)
{
	return (is_read_write_refusal(edata) ||
			edata->sqlerrcode == ERRCODE_READ_ONLY_SQL_TRANSACTION) &&
		RecoveryInProgress();
}

void
ta_replica_translate(ErrorData *edata, bool in_request)
{
	/*
	 * Inside a request pre_request() has named the transaction after the
	 * request (trace.c); before it, PostgREST's session has its own name.
	 */
	if (edata->elevel != ERROR || !(in_request || is_postgrest_session()) ||
		!is_write_on_standby(edata))
		return;
	ta_error_rewrite(edata, "read_only_replica",
					 "this server is a read-only replica",
					 NULL, "send writes to the primary", NULL, 0);
}
