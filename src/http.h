/*
 * http.h
 *		HTTP details shared by the request path and the SQL (http.c).
 */
#ifndef TASK_API_HTTP_H
#define TASK_API_HTTP_H

#include "constants.h"

/* The CSRF token bound to a session id: base64url(HMAC(secret, "csrf:" jti)). */
extern char *ta_csrf_token(const char *jti);

/* Equal strings, compared in constant time (tokens from headers and cookies). */
extern bool ta_same_secret(const char *a, const char *b);

/* Is the request /rpc/signup or /rpc/login (they ignore session cookies)? */
extern bool ta_request_is_login_path(void);

#endif							/* TASK_API_HTTP_H */
