/*
 * task_api.c
 *		Library entry point and task_api.status().
 *
 * _PG_init only registers what each module needs; the modules themselves
 * live in one file per mechanism.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/rls.h"

#include <sodium.h>

#include "bounds.h"
#include "citus.h"
#include "credential_lookup.h"
#include "events.h"
#include "guc.h"
#include "idempotency.h"
#include "inflight.h"
#include "login_throttle.h"
#include "membership.h"
#include "metrics.h"
#include "pre_request.h"
#include "quiet_log.h"
#include "rate_limit.h"
#include "task_insert.h"
#include "task_api.h"

PG_MODULE_MAGIC;

bool		ta_preloaded = false;

void		_PG_init(void);

/* Register settings; note whether we came in through shared_preload_libraries. */
void
_PG_init(void)
{
	ta_guc_init();
	/* libsodium (Argon2id, password.c): once, before any hashing. */
	if (sodium_init() < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not initialize libsodium")));
	ta_membership_init();
	ta_credential_init();
	ta_task_insert_init();
	ta_idempotency_init();
	ta_rate_limit_init();
	ta_inflight_init();
	ta_login_throttle_init();
	ta_quiet_log_init();
	ta_events_init();
	ta_events_store_init();
	ta_event_notify_init();
	ta_bounds_init();
	ta_metrics_init();
	ta_citus_views_init();

	/*
	 * Last, once every module has defined its settings: a placeholder for a
	 * task_api.* name no module defines is then an error.
	 */
	MarkGUCPrefixReserved("task_api");

	if (process_shared_preload_libraries_in_progress)
	{
		ta_preloaded = true;
		ta_gate_init();
	}
	else
		ereport(LOG,
				(errmsg("task_api was not loaded via shared_preload_libraries"),
				 errdetail("Rate limiting, which needs shared memory, is off in this server process."),
				 errhint("Add task_api to shared_preload_libraries and restart the server.")));
}

/* Append one "name": "set"|"unset" pair without revealing the value. */
static void
append_setting_state(StringInfo buf, const char *name, const char *value, bool first)
{
	if (!first)
		appendStringInfoString(buf, ", ");
	escape_json(buf, name);
	appendStringInfoString(buf, (value != NULL && value[0] != '\0') ? ": \"set\"" : ": \"unset\"");
}

PG_FUNCTION_INFO_V1(task_api_status);

/*
 * Report the library version, whether it was preloaded, and which settings
 * are set, so operators can diagnose a deployment without reading secrets.
 */
Datum
task_api_status(PG_FUNCTION_ARGS)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"version\": ");
	escape_json(&buf, TASK_API_VERSION);
	appendStringInfo(&buf, ", \"preloaded\": %s", ta_preloaded ? "true" : "false");
	appendStringInfoString(&buf, ", \"settings\": {");
	append_setting_state(&buf, "task_api.jwt_secret", ta_jwt_secret, true);
	append_setting_state(&buf, "task_api.cursor_secret", ta_cursor_secret, false);
	appendStringInfoString(&buf, "}, ");
	ta_rate_limit_describe(&buf);
	appendStringInfoString(&buf, ", ");
	ta_inflight_describe(&buf);
	appendStringInfoString(&buf, ", ");
	ta_login_throttle_describe(&buf);
	appendStringInfoString(&buf, ", ");
	ta_quiet_log_describe(&buf);
	appendStringInfoChar(&buf, '}');

	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

/*
 * Rows are being restored: a superuser session with row_security off, as
 * every script pg_dump writes and every pg_restore sets it.  The API's roles
 * never log in, and PostgREST's authenticator is no superuser, so no request
 * can get here; the row triggers then keep rows exactly as they were dumped.
 */
bool
ta_restoring(void)
{
	return !row_security && superuser_arg(GetSessionUserId());
}

/*
 * The calling function's row type, blessed and kept for the call site
 * (fn_extra), so that row-returning functions look it up once.
 */
TupleDesc
ta_result_desc(FunctionCallInfo fcinfo)
{
	TupleDesc	desc = fcinfo->flinfo->fn_extra;

	if (desc == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "return type must be a row type");
		desc = BlessTupleDesc(CreateTupleDescCopy(desc));
		MemoryContextSwitchTo(old);
		fcinfo->flinfo->fn_extra = desc;
	}
	return desc;
}

PG_FUNCTION_INFO_V1(task_api_restoring);

/* SQL access to ta_restoring(), for the triggers written in PL/pgSQL. */
Datum
task_api_restoring(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(ta_restoring());
}
