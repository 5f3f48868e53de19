/*
 * rate_limit.h
 *		GCRA rate limiting in shared memory (SPEC section 7).
 */
#ifndef TASK_API_RATE_LIMIT_H
#define TASK_API_RATE_LIMIT_H

#include "lib/stringinfo.h"

/* The outcome of one GCRA step. */
typedef struct TaGcraResult
{
	bool		allowed;		/* was the request admitted */
	int64		new_tat;		/* the bucket's theoretical arrival time after it (ns) */
	int64		remaining;		/* requests still admissible right now */
	int64		reset_ns;		/* time until the bucket is full again */
	int64		retry_after_ns; /* when refused: time until one request fits */
} TaGcraResult;

/*
 * One GCRA step, pure: a bucket whose theoretical arrival time is tat (ns on
 * any clock; 0 for a new bucket) receives a request at now under a limit of
 * per_minute requests a minute with room for burst at once.  per_minute and
 * burst must be positive.
 */
extern void ta_gcra(int64 tat, int64 now, int32 per_minute, int32 burst,
					TaGcraResult *out);

/* Define the settings; when preloading, also request the shared memory. */
extern void ta_rate_limit_init(void);

/*
 * Charge the current PostgREST request to its bucket, append the RateLimit
 * headers, and raise rate_limited (429) when the bucket is empty.  Does
 * nothing when the library was not preloaded.  Called by pre_request().
 */
extern void ta_rate_limit_request(void);

/* Append the limiter's state to task_api.status() as a JSON member. */
extern void ta_rate_limit_describe(StringInfo buf);

#endif							/* TASK_API_RATE_LIMIT_H */
