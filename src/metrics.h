/*
 * metrics.h
 *		Operational counters in shared memory (metrics.c): each event adds to
 *		one atomic counter, with no lock on the request path.
 */
#ifndef TASK_API_METRICS_H
#define TASK_API_METRICS_H

#include "port/atomics.h"

/*
 * Every counter, in the order of metrics.c's catalogue.  The four limiter
 * refusals follow TaRateLimitPolicy's order (anon, user, api_key, login), so
 * TA_METRIC_RL_REFUSED_ANON + policy names the policy's counter.
 */
typedef enum TaMetric
{
	TA_METRIC_REQUESTS_ANONYMOUS,
	TA_METRIC_REQUESTS_SESSION,
	TA_METRIC_REQUESTS_COOKIE,
	TA_METRIC_REQUESTS_API_KEY,
	TA_METRIC_REQUESTS_SERVICE,
	TA_METRIC_RL_REFUSED_ANON,
	TA_METRIC_RL_REFUSED_USER,
	TA_METRIC_RL_REFUSED_API_KEY,
	TA_METRIC_RL_REFUSED_LOGIN,
	TA_METRIC_RL_REFUSED_INFLIGHT,
	TA_METRIC_RL_EVICTIONS,
	TA_METRIC_AUTH_EXPIRED,
	TA_METRIC_AUTH_REVOKED,
	TA_METRIC_AUTH_BAD_SIGNATURE,
	TA_METRIC_AUTH_MALFORMED,
	TA_METRIC_AUTH_UNKNOWN_USER,
	TA_METRIC_AUTH_CSRF,
	TA_METRIC_AUTH_PLAN_REFUSED,
	TA_METRIC_LOGIN_SUCCEEDED,
	TA_METRIC_LOGIN_FAILED,
	TA_METRIC_LOGIN_THROTTLED,
	TA_METRIC_IDEMPOTENT_REPLAYED,
	TA_METRIC_IDEMPOTENT_IN_PROGRESS,
	TA_METRIC_IDEMPOTENT_KEY_REUSED,
	TA_METRIC_EVENTS_RECORDED,
	TA_METRIC_EVENTS_CLAIMED,
	TA_METRIC_EVENTS_ACKNOWLEDGED,
	TA_NUM_METRICS
} TaMetric;

typedef struct TaMetricsShared
{
	pg_atomic_uint64 counters[TA_NUM_METRICS];
} TaMetricsShared;

/* NULL unless the library was preloaded. */
extern TaMetricsShared *ta_metrics_shared;
/* task_api.metrics: off skips every increment (for measuring their cost). */
extern bool ta_metrics_enabled;

/* Add n to counter m: one atomic add, nothing when off or not preloaded. */
static inline void
ta_metric_add(TaMetric m, uint64 n)
{
	if (ta_metrics_shared != NULL && ta_metrics_enabled)
		pg_atomic_fetch_add_u64(&ta_metrics_shared->counters[m], n);
}

extern void ta_metrics_init(void);

#endif							/* TASK_API_METRICS_H */
