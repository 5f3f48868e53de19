/*
 * metrics.c
 *		Operational counters in shared memory, for monitoring and alerts.
 *
 * Each counter is one pg_atomic_uint64 in a small shared struct requested
 * the pg_stat_statements way (shmem_request_hook, then ShmemInitStruct
 * under AddinShmemInitLock).  The request path only adds to a counter
 * (ta_metric_add(), one atomic fetch-and-add, no lock); readers take no
 * lock either.  Counters start at zero when the server starts: nothing is
 * written to disk, so a restart (or task_api.metrics_reset()) zeroes them.
 *
 * task_api.metrics_read() lists every counter with its Prometheus family,
 * label and help text, plus the rate-limit table's fill, read from
 * rate_limit.c's shared state; the view task_api.metrics (for pg_monitor)
 * and api.metrics() (the Prometheus text for the scraper role) read it.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"

#include "metrics.h"
#include "rate_limit_internal.h"

TaMetricsShared *ta_metrics_shared = NULL;
bool		ta_metrics_enabled = true;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* One sample: Prometheus family, its type and help, and the label. */
typedef struct TaMetricInfo
{
	const char *family;
	const char *type;
	const char *help;
	const char *labels;
} TaMetricInfo;

#define REQUESTS "task_api_requests_total", "counter", \
	"Requests that reached task_api's request gate, by the credential they carry."
#define REFUSALS "task_api_rate_limit_refusals_total", "counter", \
	"Requests refused with 429 by the rate limiter (per bucket kind) or the per-user in-flight cap."
#define AUTH "task_api_auth_failures_total", "counter", \
	"Requests refused by task_api's authentication, by reason (bearer tokens with a bad signature or past exp are refused by PostgREST before the database)."
#define LOGINS "task_api_logins_total", "counter", \
	"Password sign-ins by outcome (throttled: refused while the email backs off)."
#define IDEMPOTENCY "task_api_idempotency_total", "counter", \
	"Idempotency-Key outcomes other than a first execution."
#define EVENTS "task_api_events_total", "counter", \
	"Outbox events recorded by writes, handed out by claim_events() and acknowledged by ack_events()."

/* In TaMetric's order (metrics.h); StaticAssertDecl below keeps them level. */
static const TaMetricInfo metric_info[] = {
	{REQUESTS, "credential=\"anonymous\""},
	{REQUESTS, "credential=\"session\""},
	{REQUESTS, "credential=\"cookie\""},
	{REQUESTS, "credential=\"api_key\""},
	{REQUESTS, "credential=\"service\""},
	{REFUSALS, "kind=\"anon\""},
	{REFUSALS, "kind=\"user\""},
	{REFUSALS, "kind=\"api_key\""},
	{REFUSALS, "kind=\"login\""},
	{REFUSALS, "kind=\"inflight\""},
	{"task_api_rate_limit_evictions_total", "counter",
	"Idle rate-limit buckets evicted to make room in a full table.", ""},
	{AUTH, "reason=\"expired\""},
	{AUTH, "reason=\"revoked\""},
	{AUTH, "reason=\"bad_signature\""},
	{AUTH, "reason=\"malformed\""},
	{AUTH, "reason=\"unknown_user\""},
	{AUTH, "reason=\"csrf\""},
	{AUTH, "reason=\"plan_not_allowed\""},
	{LOGINS, "outcome=\"succeeded\""},
	{LOGINS, "outcome=\"failed\""},
	{LOGINS, "outcome=\"throttled\""},
	{IDEMPOTENCY, "outcome=\"replayed\""},
	{IDEMPOTENCY, "outcome=\"in_progress\""},
	{IDEMPOTENCY, "outcome=\"key_reused\""},
	{EVENTS, "stage=\"recorded\""},
	{EVENTS, "stage=\"claimed\""},
	{EVENTS, "stage=\"acknowledged\""},
};

StaticAssertDecl(lengthof(metric_info) == TA_NUM_METRICS, "one description per counter");

static void
metrics_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(TaMetricsShared)));
}

static void
metrics_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	ta_metrics_shared = ShmemInitStruct("task_api metrics", sizeof(TaMetricsShared), &found);
	if (!found)
		for (int i = 0; i < TA_NUM_METRICS; i++)
			pg_atomic_init_u64(&ta_metrics_shared->counters[i], 0);
	LWLockRelease(AddinShmemInitLock);
}

/* When preloading, ask for the counters' shared memory. */
void
ta_metrics_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = metrics_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = metrics_shmem_startup;
}

/* Refuse to read or reset counters that do not exist. */
static void
require_preloaded(void)
{
	if (ta_metrics_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("task_api must be loaded via shared_preload_libraries to keep metrics")));
}

/* One row of metrics_read(). */
static void
put_row(ReturnSetInfo *rsinfo, const char *family, const char *type,
		const char *help, const char *labels, int64 value)
{
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};

	values[0] = CStringGetTextDatum(family);
	values[1] = CStringGetTextDatum(labels);
	values[2] = CStringGetTextDatum(type);
	values[3] = Int64GetDatum(value);
	values[4] = CStringGetTextDatum(help);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* The rate-limit table's fill: buckets in use and capacity (gauges). */
static void
put_rate_limit_fill(ReturnSetInfo *rsinfo)
{
	long		in_use = 0;
	int			capacity = 0;

	if (rl_active())
	{
		LWLockAcquire(rl_state->lock, LW_SHARED);
		in_use = hash_get_num_entries(rl_hash);
		LWLockRelease(rl_state->lock);
		capacity = rl_state->capacity;
	}
	put_row(rsinfo, "task_api_rate_limit_buckets", "gauge",
			"Rate-limit buckets in use, and the table's capacity (task_api.rate_limit_buckets).",
			"state=\"in_use\"", in_use);
	put_row(rsinfo, "task_api_rate_limit_buckets", "gauge",
			"Rate-limit buckets in use, and the table's capacity (task_api.rate_limit_buckets).",
			"state=\"capacity\"", capacity);
}

PG_FUNCTION_INFO_V1(task_api_metrics_read);

/* Every counter and gauge: (metric, labels, type, value, help). */
Datum
task_api_metrics_read(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	require_preloaded();
	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < TA_NUM_METRICS; i++)
		put_row(rsinfo, metric_info[i].family, metric_info[i].type, metric_info[i].help,
				metric_info[i].labels,
				(int64) pg_atomic_read_u64(&ta_metrics_shared->counters[i]));
	put_rate_limit_fill(rsinfo);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(task_api_metrics_reset);

/* Superuser only: zero every counter (gauges are states, not counts). */
Datum
task_api_metrics_reset(PG_FUNCTION_ARGS)
{
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only a superuser may reset the task_api metrics")));
	require_preloaded();
	for (int i = 0; i < TA_NUM_METRICS; i++)
		pg_atomic_write_u64(&ta_metrics_shared->counters[i], 0);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(task_api_metrics_count_events);

/*
 * Count events handed out (stage 'claimed') or acknowledged; called by
 * claim_events() and ack_events(), which run as the extension's owner:
 * nobody else may execute it.
 */
Datum
task_api_metrics_count_events(PG_FUNCTION_ARGS)
{
	char	   *stage = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int64		n = PG_GETARG_INT64(1);

	if (n <= 0)
		PG_RETURN_VOID();
	if (strcmp(stage, "claimed") == 0)
		ta_metric_add(TA_METRIC_EVENTS_CLAIMED, (uint64) n);
	else if (strcmp(stage, "acknowledged") == 0)
		ta_metric_add(TA_METRIC_EVENTS_ACKNOWLEDGED, (uint64) n);
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown event stage \"%s\"", stage)));
	PG_RETURN_VOID();
}
