/*
 * inflight.h
 *		A per-user cap on requests in flight, in shared memory.
 */
#ifndef TASK_API_INFLIGHT_H
#define TASK_API_INFLIGHT_H

#include "lib/stringinfo.h"

/* Register the transaction callback; when preloading, request the slots. */
extern void ta_inflight_init(void);

/*
 * Take a request slot for the user (16-byte UUID) until the transaction
 * ends; raise rate_limited (429, Retry-After: 1) at the cap.  Does nothing
 * when the cap is 0, the library was not preloaded, or this transaction
 * already holds a slot.
 */
extern void ta_inflight_take(const uint8 *user);

/* Append the cap's state to task_api.status() as a JSON member. */
extern void ta_inflight_describe(StringInfo buf);

#endif							/* TASK_API_INFLIGHT_H */
