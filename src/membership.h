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

/*
 * The current load of the caller's membership cache (0: no caller).  It
 * changes exactly when a fresh query could answer differently (another
 * user, another snapshot, a change or an abort), so a memo tagged with it
 * is as fresh as the cache (pre_request.c's credential memo).
 */
extern uint64 ta_membership_version(void);
/* The same, for a given user (loading that user's memberships). */
extern uint64 ta_membership_version_of(const pg_uuid_t *user_id);

/* Does the caller (sub claim) name an existing user? */
extern bool ta_caller_exists(void);

/*
 * Was the current load read from what citus_pre_request() resolved (on
 * Citus, inside a request; docs/scaling.md)?  Then the caller's own
 * queries, not the owner's, must read the project's shards.
 */
extern bool ta_membership_resolved(void);

extern void ta_membership_init(void);

#endif							/* TASK_API_MEMBERSHIP_H */
