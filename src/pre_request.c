/*
 * pre_request.c
 *		task_api.pre_request(): PostgREST's db-pre-request hook.
 *
 * PostgREST calls it after switching to the request's role and before the
 * request's own query, in the same transaction.  Anything it raises becomes
 * the response, and the request's query never runs.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"

#include "errors.h"
#include "membership.h"
#include "request.h"

PG_FUNCTION_INFO_V1(task_api_pre_request);

/*
 * Check that an authenticated request names a user: a token that PostgREST
 * accepted for task_api_user must carry the UUID of an existing user in its
 * sub claim, or nothing that follows could attribute or authorize the
 * request.  The lookup also warms the membership cache the request's row
 * security checks use.
 */
Datum
task_api_pre_request(PG_FUNCTION_ARGS)
{
	pg_uuid_t	user_id;
	const char *role = ta_request_claim("role");

	if (role != NULL && strcmp(role, "task_api_user") == 0 &&
		!ta_current_user_id(&user_id))
		ta_raise("unauthenticated", "the token does not identify a user",
				 "The sub claim is missing.", NULL, NULL, 0);
	if (role != NULL && strcmp(role, "task_api_user") == 0 && !ta_caller_exists())
		ta_raise("unauthenticated", "the token's user does not exist",
				 NULL, "sign in again", NULL, 0);

	PG_RETURN_VOID();
}
