/*
 * membership.h
 *		The caller's project memberships, cached per snapshot.
 */
#ifndef TASK_API_MEMBERSHIP_H
#define TASK_API_MEMBERSHIP_H

#include "utils/uuid.h"

/* Roles in increasing order of privilege, as in the member_role enum. */
typedef enum TaRole
{
	TA_ROLE_NONE = -1,
	TA_ROLE_VIEWER = 0,
	TA_ROLE_EDITOR = 1,
	TA_ROLE_OWNER = 2
} TaRole;

/* The caller's role in a project; *live says whether it is not trashed. */
extern TaRole ta_member_role(const pg_uuid_t *project_id, bool *live);

#include "datatype/timestamp.h"

/*
 * A memo of the caller's last credential check ('s' session, 'k' API key):
 * whether it was valid apart from time, and when it expires.  It lives in
 * the membership cache, so it is exactly as fresh as a new query would be.
 */
extern bool ta_credential_memo(char kind, const pg_uuid_t *id, bool *ok, TimestampTz *expires);
extern void ta_credential_remember(char kind, const pg_uuid_t *id, bool ok, TimestampTz expires);

/* Does the caller (sub claim) name an existing user? */
extern bool ta_caller_exists(void);

extern void ta_membership_init(void);

#endif							/* TASK_API_MEMBERSHIP_H */
