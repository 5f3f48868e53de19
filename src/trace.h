/*
 * trace.h
 *		One request id per request, and who may read query plans (trace.c).
 */
#ifndef TASK_API_TRACE_H
#define TASK_API_TRACE_H

/*
 * Take the request's id (X-Request-Id, else the trace id of traceparent,
 * else a new one), answer it in X-Request-Id and put it in
 * application_name for the transaction.  First thing pre_request() does.
 */
extern void ta_trace_begin_request(void);

/*
 * The current transaction's request id, or NULL outside a request (on a
 * Citus worker: the coordinator's, sent as task_api_citus.request_id).
 */
extern const char *ta_request_id(void);

/*
 * Refuse PostgREST's plan media type (Accept: application/vnd.pgrst.plan)
 * unless the caller's token carries "operator": true.
 */
extern void ta_trace_check_plan(void);

#endif							/* TASK_API_TRACE_H */
