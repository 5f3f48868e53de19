/*
 * bounds.h
 *		Bounded work per request and truthful answers for cut-off requests.
 */
#ifndef TASK_API_BOUNDS_H
#define TASK_API_BOUNDS_H

/* Install the emit_log_hook (from _PG_init). */
extern void ta_bounds_init(void);

/* Called by pre_request(): the request's statement_timeout, and mark the transaction. */
extern void ta_bounds_begin_request(void);

#endif							/* TASK_API_BOUNDS_H */
