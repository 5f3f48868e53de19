/*
 * login_throttle.h
 *		Per-account backoff after failed logins, in shared memory.
 */
#ifndef TASK_API_LOGIN_THROTTLE_H
#define TASK_API_LOGIN_THROTTLE_H

#include "lib/stringinfo.h"

/* When preloading, request the table (settings: guc.c). */
extern void ta_login_throttle_init(void);

/* Append the throttle's state to task_api.status() as a JSON member. */
extern void ta_login_throttle_describe(StringInfo buf);

#endif							/* TASK_API_LOGIN_THROTTLE_H */
