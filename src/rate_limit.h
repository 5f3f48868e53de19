/*
 * rate_limit.h
 *		GCRA rate limiting in shared memory (docs/contract.md §7).
 */
#ifndef TASK_API_RATE_LIMIT_H
#define TASK_API_RATE_LIMIT_H

#include "lib/stringinfo.h"

/* When preloading, request the shared memory (settings: guc.c). */
extern void ta_rate_limit_init(void);

/*
 * Charge the current PostgREST request to its bucket, append the RateLimit
 * headers, and raise rate_limited (429) when the bucket is empty.  Does
 * nothing when the library was not preloaded.  Called by pre_request().
 */
extern void ta_rate_limit_request(void);

/*
 * Called by api.login (task_api.login_throttle()): charge the login bucket
 * unless pre_request() already charged this transaction's request to it,
 * so that no path to the function escapes the login limit.
 */
extern void ta_rate_limit_login(void);

/*
 * Give this request's login-bucket charge back (once): a login refused
 * before any password check, for an email that is backing off, costs the
 * other callers of a shared login bucket nothing.
 */
extern void ta_rate_limit_login_refund(void);

/* Append the limiter's state to task_api.status() as a JSON member. */
extern void ta_rate_limit_describe(StringInfo buf);

/* The monotonic clock in nanoseconds (meaningful within one boot). */
extern int64 ta_clock_ns(void);

#endif							/* TASK_API_RATE_LIMIT_H */
