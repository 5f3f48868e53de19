/*
 * request.h
 *		The per-request context PostgREST passes in settings.
 */
#ifndef TASK_API_REQUEST_H
#define TASK_API_REQUEST_H

#include "utils/uuid.h"

struct ta_jwt_claims;

/* Header value (name matched case-insensitively), or NULL. */
extern const char *ta_request_header(const char *name);

/* Cookie value, or NULL. */
extern const char *ta_request_cookie(const char *name);

/* A JWT claim as text (strings unquoted), or NULL. */
extern const char *ta_request_claim(const char *name);

/* request.method and request.path, or NULL when unset. */
extern const char *ta_request_method(void);
extern const char *ta_request_path(void);
/* response.headers as it stands, or NULL: GetConfigOption(name, true, false). */
extern const char *ta_response_headers(void);

/*
 * Is the transaction a PostgREST request to the api schema (request.method
 * set, the search path beginning with api)?
 */
extern bool ta_request_for_api(void);

/*
 * pre_request() set request.jwt.claims to json, the text of claims: keep
 * them as its parsed value (the next read compares the text, and parses
 * only if it differs).
 */
extern void ta_request_claims_were_set(const char *json, const struct ta_jwt_claims *claims);

/* Parse a UUID in its canonical 8-4-4-4-12 form; false (no error) if it is not. */
extern bool ta_parse_uuid(const char *text, pg_uuid_t *out);

/*
 * The caller's user id from the sub claim.  Returns false when there is no
 * sub claim; raises unauthenticated when there is one but it is not a UUID.
 */
extern bool ta_current_user_id(pg_uuid_t *out);

#endif							/* TASK_API_REQUEST_H */
