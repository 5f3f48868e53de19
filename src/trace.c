/*
 * trace.c
 *		One request id from the client to the log line and the webhook,
 *		and query plans for operators only.
 *
 * The id is the client's X-Request-Id when it is 1 to 63 characters of
 * [A-Za-z0-9._:-], else the trace id of a valid W3C traceparent header,
 * else 32 random hex digits (a valid trace id).  pre_request() takes it
 * first, so that every answer from the database carries it in X-Request-Id
 * (refusals too: ta_raise() keeps the headers set earlier), every log line
 * of the request shows it (application_name, %a in log_line_prefix) and
 * record_event() stores it in task_api.events.request_id, from which the
 * relay sends it on in the webhook.  PostgREST's server-trace-header is not
 * used: it adds its header to every answer, empty when the client sent
 * none, so an id made here would then be answered twice.
 *
 * PostgREST's db-plan-enabled answers any request with its plan for
 * Accept: application/vnd.pgrst.plan...; a plan shows tables, indexes and
 * row estimates, so pre_request() refuses it unless the token carries the
 * claim "operator": true (task_api.operator_session() issues such tokens).
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/guc.h"

#include "citus.h"
#include "constants.h"
#include "errors.h"
#include "metrics.h"
#include "request.h"
#include "trace.h"
#include "trace_id.h"
#include "uuidv7.h"

static char request_id[TA_REQUEST_ID_MAX + 1];
static LocalTransactionId request_id_lxid = InvalidLocalTransactionId;

/* 32 random lowercase hex digits. */
static void
new_trace_id(char *out)
{
	static const char hex[] = "0123456789abcdef";
	uint8		bytes[TA_TRACE_ID_LEN / 2];

	ta_random_bytes(bytes, sizeof(bytes));
	for (size_t i = 0; i < TA_TRACE_ID_LEN / 2; i++)
	{
		out[2 * i] = hex[bytes[i] >> 4];
		out[2 * i + 1] = hex[bytes[i] & 15];
	}
	out[TA_TRACE_ID_LEN] = '\0';
}

void
ta_trace_begin_request(void)
{
	const char *given = ta_request_header("x-request-id");

	if (ta_valid_request_id(given))
		strlcpy(request_id, given, sizeof(request_id));
	else if (!ta_traceparent_trace_id(ta_request_header("traceparent"), request_id))
		new_trace_id(request_id);
	request_id_lxid = MyProc->lxid;

	ta_append_header("X-Request-Id", request_id);
	(void) set_config_option("application_name", request_id, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
}

/*
 * On a Citus worker, inside a request: the coordinator's request id, which
 * citus_resolve_caller() sends with the request's settings, so the events
 * written there carry it (docs/scaling.md).  NULL elsewhere (one boolean
 * where Citus is not preloaded).
 */
static const char *
citus_request_id(void)
{
	const char *value = ta_citus_request_setting("task_api_citus.request_id");

	return ta_valid_request_id(value) ? value : NULL;
}

const char *
ta_request_id(void)
{
	if (request_id_lxid == InvalidLocalTransactionId || request_id_lxid != MyProc->lxid)
		return citus_request_id();
	return request_id;
}

/* Does s contain needle (lower case), ignoring ASCII case? */
static bool
contains_ci(const char *s, const char *needle)
{
	size_t		n = strlen(needle);

	for (; *s != '\0'; s++)
		if (pg_strncasecmp(s, needle, n) == 0)
			return true;
	return false;
}

/* Is the request asking for PostgREST's plan media type (any case: RFC 9110 8.3.1)? */
static bool
wants_plan(void)
{
	const char *accept = ta_request_header("accept");

	return accept != NULL && contains_ci(accept, "application/vnd.pgrst.plan");
}

void
ta_trace_check_plan(void)
{
	const char *role;
	const char *op;

	if (!wants_plan())
		return;
	op = ta_request_claim("operator");
	if (op != NULL && strcmp(op, "true") == 0)
		return;
	ta_metric_add(TA_METRIC_AUTH_PLAN_REFUSED, 1);
	role = ta_request_claim("role");
	if (role == NULL || strcmp(role, TA_ANON_ROLE) == 0)
		ta_raise("unauthenticated", "query plans are for operators",
				 "Accept: application/vnd.pgrst.plan is answered only for a token of task_api.operator_session().",
				 "sign in with an operator's token", NULL, 0);
	ta_raise("forbidden", "query plans are for operators",
			 "Accept: application/vnd.pgrst.plan is answered only for a token of task_api.operator_session().",
			 NULL, NULL, 0);
}
