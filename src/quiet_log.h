/*
 * quiet_log.h
 *		The API's expected 401 and 429 refusals: counted, not logged.
 */
#ifndef TASK_API_QUIET_LOG_H
#define TASK_API_QUIET_LOG_H

#include "lib/stringinfo.h"

/* Install the emit_log_hook; when preloading, request the counters. */
extern void ta_quiet_log_init(void);

/* Append the counts to task_api.status() as a JSON member. */
extern void ta_quiet_log_describe(StringInfo buf);

#endif							/* TASK_API_QUIET_LOG_H */
