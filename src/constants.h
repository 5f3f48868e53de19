/*
 * constants.h
 *		Names and limits more than one module relies on, written once.
 *
 * The cookie and role names are part of the HTTP contract
 * (docs/contract.md); the SQL install scripts spell the same names.
 */
#ifndef TASK_API_CONSTANTS_H
#define TASK_API_CONSTANTS_H

/* The session cookie and its CSRF companion (__Host-: this host only). */
#define TA_SESSION_COOKIE "__Host-task_api_session"
#define TA_CSRF_COOKIE "__Host-task_api_csrf"
/* The session cookie's name in release 0.1.0, without the prefix: refused. */
#define TA_OLD_SESSION_COOKIE "task_api_session"

/* The role an authenticated request runs as. */
#define TA_USER_ROLE "task_api_user"
/* The role PostgREST uses for a request without a token (db-anon-role). */
#define TA_ANON_ROLE "task_api_anon"

/* The shortest task_api.jwt_secret or task_api.cursor_secret accepted. */
#define TA_MIN_SECRET_LEN 32

/* The setting PostgREST reads the response's extra headers from. */
#define TA_RESPONSE_HEADERS_GUC "response.headers"

#endif							/* TASK_API_CONSTANTS_H */
