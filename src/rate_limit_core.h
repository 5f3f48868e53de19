/*
 * rate_limit_core.h
 *		The rate limiter's pure-C core: GCRA arithmetic and client addresses.
 *
 * No backend dependency, so it is unit-tested and fuzzed outside the server
 * (test/c/).  src/rate_limit.c keeps the buckets in shared memory.
 */
#ifndef TASK_API_RATE_LIMIT_CORE_H
#define TASK_API_RATE_LIMIT_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TA_NS_PER_SEC INT64_C(1000000000)
/* Limits are per minute. */
#define TA_GCRA_WINDOW_NS (60 * TA_NS_PER_SEC)
/* Upper bound of per_minute and burst: keeps burst * interval within int64. */
#define TA_GCRA_MAX_LIMIT 100000000
/* Upper bound of the times ta_gcra() is defined for (ns, about 31 years). */
#define TA_GCRA_MAX_TIME INT64_C(1000000000000000000)

/* The outcome of one GCRA step. */
typedef struct TaGcraResult
{
	bool		allowed;		/* was the request admitted */
	int64_t		new_tat;		/* the bucket's theoretical arrival time after it (ns) */
	int64_t		remaining;		/* requests still admissible right now */
	int64_t		reset_ns;		/* time until the bucket is full again */
	int64_t		retry_after_ns; /* when refused: time until one request fits */
} TaGcraResult;

/*
 * One GCRA step: a bucket whose theoretical arrival time is tat (ns on any
 * clock; 0 for a new bucket) receives a request at now under a limit of
 * per_minute requests a minute with room for burst at once.  Defined for
 * 1 <= per_minute, burst <= TA_GCRA_MAX_LIMIT and 0 <= tat, now <=
 * TA_GCRA_MAX_TIME.
 */
extern void ta_gcra(int64_t tat, int64_t now, int32_t per_minute, int32_t burst,
					TaGcraResult *out);

/*
 * One request charged to a stored bucket: *tat its theoretical arrival time,
 * *last the time of its last update (0 for a new bucket), both updated.  A
 * now older than *last (the caller read the clock before it got the bucket)
 * counts as *last, so the bucket's history is charged in order and a late
 * request can never move tat back.  Same bounds as ta_gcra().
 */
extern void ta_gcra_charge(int64_t *tat, int64_t *last, int64_t now, int32_t per_minute,
						   int32_t burst, TaGcraResult *out);

/* The emission interval (ns) of per_minute requests a minute, rounded up. */
extern int64_t ta_gcra_interval(int32_t per_minute);

/* Seconds, rounded up (0 for nothing left to wait). */
extern int64_t ta_ceil_seconds(int64_t ns);

/*
 * Parse one client address of len bytes (not NUL-terminated): IPv4 or IPv6,
 * optionally in brackets, with an optional :port, blanks around ignored.
 * IPv4 becomes its IPv4-mapped IPv6 form; other IPv6 addresses keep their
 * /64 prefix (what one client usually holds), the rest zeroed.  Returns
 * false, out unspecified, for anything else.
 */
extern bool ta_parse_client_address(const char *s, size_t len, uint8_t out[16]);

#endif							/* TASK_API_RATE_LIMIT_CORE_H */
