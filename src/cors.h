/*
 * cors.h
 *		Browsers on other origins: the response headers their scripts may
 *		read, and the origins that may use the session cookie (cors.c).
 */
#ifndef TASK_API_CORS_H
#define TASK_API_CORS_H

#include "utils/guc.h"

/* The headers of this API a cross-origin script may read. */
#define TA_EXPOSE_HEADERS \
	"ETag, Link, Location, RateLimit, RateLimit-Policy, Retry-After, " \
	"Idempotent-Replayed, Allow, Preference-Applied, Content-Range, X-CSRF-Token, X-Request-Id"

/* GUC check hook of task_api.cors_allowed_origins (guc.c). */
extern bool ta_cors_check_origins(char **newval, void **extra, GucSource source);

/*
 * A request from a browser (it has an Origin header): expose the API's own
 * headers to its scripts and make caches vary on Origin.
 */
extern void ta_cors_begin_request(void);

/*
 * May the request use the session cookie?  Yes without an Origin header
 * (not a cross-origin browser request), for the API's own origin, and for
 * the origins listed in task_api.cors_allowed_origins.
 */
extern bool ta_cors_cookie_allowed(void);

/* Refuse a cookie-authenticated request from an origin not allowed (403). */
extern void ta_cors_check_cookie(void);

#endif							/* TASK_API_CORS_H */
