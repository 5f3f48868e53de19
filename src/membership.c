/*
 * membership.c
 *		The caller's project memberships, for RLS policies and triggers.
 *
 * Every policy on projects, members and tasks asks "what is the caller's
 * role in this project?", once per row.  We answer from a hash table of the
 * caller's memberships, loaded with one query and kept exactly as long as
 * it is what a fresh query would return:
 *
 *  - same user (sub claim);
 *  - the active snapshot sees the same other transactions as the one it
 *    was loaded under (same xmin, xmax and in-progress xids), so other
 *    sessions' committed changes are seen exactly when a fresh query would
 *    see them;
 *  - no change to project_members or projects in this session since
 *    (statement triggers bump a generation counter), and no transaction or
 *    subtransaction aborted since (which may have undone such a change).
 *
 * The cache outlives transactions: consecutive read-only requests of one
 * user on a pooled connection see the same snapshot data and share it.
 *
 * A snapshot that sees other transactions differently still gets the same
 * answer when none of those transactions changed memberships, projects,
 * users, sessions or API keys.  The statement triggers on those tables
 * also raise a horizon in shared memory to their transaction's id, before
 * it commits (writer_horizon below).  Every transaction whose visibility
 * differs between two snapshots is at or after the older of their xmins,
 * so when that xmin is past the horizon read after both snapshots were
 * taken, no such transaction changed anything the cache holds: the cache
 * is kept and takes the new snapshot as its own.  Under concurrent writes
 * of tasks (every request's snapshot differs from the last) the cache is
 * then loaded once, not once per statement.
 *
 * The lookup runs as the owner of the tables (the superuser who created the
 * extension), which is what lets the policies on project_members call it
 * without recursing into themselves.
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "citus.h"
#include "membership.h"
#include "owner_spi.h"
#include "request.h"

typedef struct MemberEntry
{
	pg_uuid_t	project_id;		/* hash key */
	int8		role;			/* TaRole */
	bool		live;			/* project not in the trash */
} MemberEntry;

typedef struct MemberCache
{
	bool		valid;
	uint64		generation;
	/* Own changes the loading snapshot could see (see own_changes_seen). */
	LocalTransactionId load_lxid;
	CommandId	load_curcid;
	/* What the loading snapshot could see of other transactions. */
	TransactionId xmin;
	TransactionId xmax;
	uint32		xcnt;
	int32		subxcnt;
	bool		suboverflowed;
	TransactionId *xip;
	TransactionId *subxip;
	uint32		xip_cap;		/* allocated lengths of xip and subxip */
	uint32		subxip_cap;
	/* Loaded outside recovery, with the shared horizon available. */
	bool		horizon_ok;
	pg_uuid_t	user_id;
	bool		user_exists;	/* the caller has a row in task_api.users */
	/*
	 * On Citus (docs/scaling.md) memberships change in shards on the
	 * workers, unseen by this node's snapshots and triggers: never reused.
	 */
	bool		citus;
	/*
	 * On Citus, inside a request: the text of task_api_citus.caller this
	 * load was read from (see load_resolved), or NULL for a queried load.
	 */
	char	   *resolved;
	/* How many loads there have been: names this one (ta_membership_version). */
	uint64		loads;
	MemoryContext cxt;
	HTAB	   *entries;
	int			count;
	pg_uuid_t  *ids;			/* all entries, for member_project_ids() */
	int8	   *roles;
} MemberCache;

static MemberCache cache;
static uint64 local_generation = 0;

/* The command of this session's last change to memberships, projects, ... */
static LocalTransactionId change_lxid = InvalidLocalTransactionId;
static CommandId change_cid = InvalidCommandId;
static SPIPlanPtr lookup_plan = NULL;

/*
 * The newest top-level transaction (full id) whose statement triggers
 * reported a change to what the cache holds; 0 until the first backend
 * sets it to the next transaction id, which covers every transaction of
 * before the server started (prepared ones included).
 */
typedef struct MembershipShared
{
	pg_atomic_uint64 horizon;
} MembershipShared;

static MembershipShared *membership_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

#define NUM_ROLES 3
static const char *const role_labels[NUM_ROLES] = {"viewer", "editor", "owner"};

/* An abort may undo membership changes the cache has seen: forget it. */
static void
membership_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
							SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		local_generation++;
}

/* A top-level abort may undo membership changes too: forget the cache. */
static void
membership_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		local_generation++;
}

static void
membership_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(sizeof(MembershipShared));
}

static void
membership_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	membership_shared = ShmemInitStruct("task_api membership horizon",
										sizeof(MembershipShared), &found);
	if (!found)
		pg_atomic_init_u64(&membership_shared->horizon, 0);
	LWLockRelease(AddinShmemInitLock);
}

/*
 * The cache must notice aborts, which may undo changes it has seen; with
 * shared memory (shared_preload_libraries) it also shares the horizon.
 */
void
ta_membership_init(void)
{
	RegisterXactCallback(membership_xact_callback, NULL);
	RegisterSubXactCallback(membership_subxact_callback, NULL);
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = membership_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = membership_shmem_startup;
}

/* The shared horizon, set to the next transaction id on first use. */
static uint64
writer_horizon(void)
{
	uint64		h = pg_atomic_read_u64(&membership_shared->horizon);

	if (h == 0)
	{
		uint64		next = U64FromFullTransactionId(ReadNextFullTransactionId());

		(void) pg_atomic_compare_exchange_u64(&membership_shared->horizon, &h, next);
		h = pg_atomic_read_u64(&membership_shared->horizon);
	}
	return h;
}

/* Raise the shared horizon to this transaction (a writer, before it commits). */
static void
raise_writer_horizon(void)
{
	uint64		mine;
	uint64		h;

	if (membership_shared == NULL || RecoveryInProgress())
		return;
	mine = U64FromFullTransactionId(GetTopFullTransactionId());
	h = writer_horizon();
	while (h < mine &&
		   !pg_atomic_compare_exchange_u64(&membership_shared->horizon, &h, mine))
		;
}

/* The full id of xid, a recent one (within 2^31 of the next id). */
static uint64
full_xid(TransactionId xid, FullTransactionId next)
{
	return U64FromFullTransactionId(next) -
		(uint32) (XidFromFullTransactionId(next) - xid);
}

/*
 * Did no transaction whose visibility differs between the cache's snapshot
 * and snap change what the cache holds?  Each such transaction is at or
 * after the older xmin; each writer raised the horizon before it could
 * commit, so before snap (or the cache's snapshot) could see it, and both
 * were taken before the read below.
 */
static bool
others_changed_nothing(Snapshot snap)
{
	FullTransactionId next;
	uint64		horizon;

	if (!cache.horizon_ok || membership_shared == NULL || RecoveryInProgress())
		return false;
	pg_memory_barrier();
	horizon = writer_horizon();
	next = ReadNextFullTransactionId();
	return full_xid(cache.xmin, next) > horizon && full_xid(snap->xmin, next) > horizon;
}

/* Rank of a role label. */
static TaRole
role_from_label(const char *label)
{
	for (int i = 0; i < NUM_ROLES; i++)
		if (strcmp(role_labels[i], label) == 0)
			return (TaRole) i;
	elog(ERROR, "unknown member role \"%s\"", label);
	return TA_ROLE_NONE;		/* keep compiler quiet */
}

/* Does snap see other transactions exactly as the cache's snapshot did? */
static bool
same_visibility(Snapshot snap)
{
	return cache.xmin == snap->xmin &&
		cache.xmax == snap->xmax &&
		cache.xcnt == snap->xcnt &&
		cache.subxcnt == snap->subxcnt &&
		cache.suboverflowed == snap->suboverflowed &&
		memcmp(cache.xip, snap->xip, sizeof(TransactionId) * snap->xcnt) == 0 &&
		(snap->subxcnt <= 0 ||
		 memcmp(cache.subxip, snap->subxip, sizeof(TransactionId) * snap->subxcnt) == 0);
}

/* An array of at least n xids in the cache's context, reusing *xids. */
static TransactionId *
xid_array(TransactionId *xids, uint32 *cap, uint32 n)
{
	if (xids != NULL && *cap >= n)
		return xids;
	if (xids != NULL)
		pfree(xids);
	*cap = Max(n, 16);
	return MemoryContextAlloc(cache.cxt, sizeof(TransactionId) * *cap);
}

/* Remember what snap sees, in the cache's memory context. */
static void
remember_visibility(Snapshot snap)
{
	cache.xmin = snap->xmin;
	cache.xmax = snap->xmax;
	cache.xcnt = snap->xcnt;
	cache.subxcnt = snap->subxcnt;
	cache.suboverflowed = snap->suboverflowed;
	cache.xip = xid_array(cache.xip, &cache.xip_cap, snap->xcnt);
	memcpy(cache.xip, snap->xip, sizeof(TransactionId) * snap->xcnt);
	cache.subxip = xid_array(cache.subxip, &cache.subxip_cap, Max(snap->subxcnt, 0));
	if (snap->subxcnt > 0)
		memcpy(cache.subxip, snap->subxip, sizeof(TransactionId) * snap->subxcnt);
}

/* The lookup behind the cache: one row per membership, or one NULL row. */
static const char *const lookup_sql =
"SELECT m.project_id, m.role::pg_catalog.text, p.deleted_at IS NULL"
"  FROM task_api.users u"
"  LEFT JOIN (task_api.project_members m"
"             JOIN task_api.projects p ON p.id OPERATOR(pg_catalog.=) m.project_id)"
"    ON m.user_id OPERATOR(pg_catalog.=) u.id"
" WHERE u.id OPERATOR(pg_catalog.=) $1";

/* Empty the cache (its context stays) before a new load fills it. */
static void
reset_cache(void)
{
	if (cache.cxt == NULL)
		cache.cxt = AllocSetContextCreate(TopMemoryContext,
										  "task_api membership cache",
										  ALLOCSET_DEFAULT_SIZES);
	else
		MemoryContextReset(cache.cxt);
	cache.valid = false;
	cache.entries = NULL;
	cache.xip = NULL;
	cache.subxip = NULL;
	cache.count = 0;
	cache.resolved = NULL;
	cache.loads++;
}

/* Fill the cache from the lookup's rows (ta_owner_rows_fn; SPI connected). */
static void
fill_cache(SPITupleTable *tuptable, uint64 nrows, void *arg)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(cache.cxt);
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(pg_uuid_t);
	ctl.entrysize = sizeof(MemberEntry);
	ctl.hcxt = cache.cxt;
	cache.entries = hash_create("task_api memberships", Max(nrows, 16), &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	cache.ids = palloc(sizeof(pg_uuid_t) * Max(nrows, 1));
	cache.roles = palloc(sizeof(int8) * Max(nrows, 1));
	/* No row: no such user.  One row with a NULL project: no memberships. */
	cache.user_exists = nrows > 0;
	for (uint64 i = 0; i < nrows; i++)
	{
		HeapTuple	tup = tuptable->vals[i];
		TupleDesc	desc = tuptable->tupdesc;
		bool		isnull;
		pg_uuid_t  *pid;
		bool		found;
		MemberEntry *entry;
		Datum		d = SPI_getbinval(tup, desc, 1, &isnull);

		if (isnull)
			continue;
		pid = DatumGetUUIDP(d);
		entry = hash_search(cache.entries, pid, HASH_ENTER, &found);
		entry->live = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
		entry->role = (int8) role_from_label(SPI_getvalue(tup, desc, 2));
		cache.ids[cache.count] = *pid;
		cache.roles[cache.count] = entry->role;
		cache.count++;
	}
	MemoryContextSwitchTo(oldcxt);
}

/* Load every membership of user into the cache, replacing what was there. */
static void
load_memberships(const pg_uuid_t *user_id, Snapshot snap)
{
	Oid			argtypes[1] = {UUIDOID};
	Datum		arg = UUIDPGetDatum(unconstify(pg_uuid_t *, user_id));
	TaSpiQuery	q = {&lookup_plan, lookup_sql, 1, argtypes, &arg, NULL, true};

	reset_cache();
	ta_owner_query_rows(&q, fill_cache, NULL);

	remember_visibility(snap);
	cache.horizon_ok = membership_shared != NULL && !RecoveryInProgress();
	cache.citus = ta_citus_table_named("project_members");
	cache.load_lxid = MyProc->lxid;
	cache.load_curcid = snap->curcid;
	cache.generation = local_generation;
	cache.user_id = *user_id;
	cache.valid = true;
}

/*
 * On a Citus node inside a request: what citus_pre_request() resolved on
 * the coordinator (task_api_citus.caller), or NULL.  Without Citus
 * preloaded, NULL at the cost of one boolean.
 */
static const char *
citus_resolved_caller(void)
{
	return ta_citus_request_setting("task_api_citus.caller");
}

/* The uuid in a jsonb string value. */
static pg_uuid_t *
uuid_of_jsonb_string(const JsonbValue *v)
{
	if (v->type != jbvString)
		elog(ERROR, "task_api_citus.caller: a project id is not a string");
	return DatumGetUUIDP(DirectFunctionCall1(uuid_in,
											 CStringGetDatum(pnstrdup(v->val.string.val,
																	  v->val.string.len))));
}

/* The resolved caller's {project id: role} into the cache (its context). */
static void
fill_resolved_projects(JsonbContainer *projects)
{
	JsonbIterator *it = JsonbIteratorInit(projects);
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			n = JsonContainerSize(projects);
	pg_uuid_t	pid = {{0}};

	cache.ids = palloc(sizeof(pg_uuid_t) * Max(n, 1));
	cache.roles = palloc(sizeof(int8) * Max(n, 1));
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		MemberEntry *entry;

		if (tok == WJB_KEY)
			pid = *uuid_of_jsonb_string(&v);
		if (tok != WJB_VALUE || v.type != jbvString || cache.count >= n)
			continue;
		entry = hash_search(cache.entries, &pid, HASH_ENTER, NULL);
		entry->live = true;
		entry->role = (int8) role_from_label(pnstrdup(v.val.string.val, v.val.string.len));
		cache.ids[cache.count] = pid;
		cache.roles[cache.count] = entry->role;
		cache.count++;
	}
}

/* The resolved caller's projects in the trash: not live. */
static void
mark_resolved_trashed(JsonbContainer *trashed)
{
	JsonbIterator *it = JsonbIteratorInit(trashed);
	JsonbValue	v;
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		MemberEntry *entry;

		if (tok != WJB_ELEM)
			continue;
		entry = hash_search(cache.entries, uuid_of_jsonb_string(&v), HASH_FIND, NULL);
		if (entry != NULL)
			entry->live = false;
	}
}

/* A key of the resolved caller that holds an object or array, or NULL. */
static JsonbContainer *
resolved_part(Jsonb *caller, const char *key)
{
	JsonbValue *v = getKeyJsonValueFromContainer(&caller->root, key, strlen(key), NULL);

	return (v != NULL && v->type == jbvBinary) ? v->val.binary.data : NULL;
}

/*
 * On Citus (docs/scaling.md, "One role per transaction"): load the cache
 * from what citus_pre_request() resolved for this request, with no query.
 * A query here would run as the tables' owner, which Citus refuses once the
 * caller has written the project's shards in the transaction (the second
 * row of a PATCH).  Kept while the setting (SET LOCAL once per request)
 * and the user stay the same.
 */
static void
load_resolved(const pg_uuid_t *user_id, const char *resolved)
{
	MemoryContext oldcxt;
	Jsonb	   *caller;
	JsonbContainer *part;
	JsonbValue *email;
	HASHCTL		ctl;

	reset_cache();
	oldcxt = MemoryContextSwitchTo(cache.cxt);
	caller = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(resolved)));
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(pg_uuid_t);
	ctl.entrysize = sizeof(MemberEntry);
	ctl.hcxt = cache.cxt;
	cache.entries = hash_create("task_api memberships", 16, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	if ((part = resolved_part(caller, "projects")) != NULL)
		fill_resolved_projects(part);
	if ((part = resolved_part(caller, "trashed")) != NULL)
		mark_resolved_trashed(part);
	email = getKeyJsonValueFromContainer(&caller->root, "email", 5, NULL);
	cache.user_exists = email != NULL && email->type != jbvNull;
	cache.resolved = pstrdup(resolved);
	MemoryContextSwitchTo(oldcxt);
	cache.horizon_ok = false;
	cache.citus = true;
	cache.generation = local_generation;
	cache.user_id = *user_id;
	cache.valid = true;
}

/*
 * Keep or load the cache from the resolved caller; false when the request
 * has none (a single server, or before citus_pre_request() resolved it).
 */
static bool
refresh_from_resolved(const pg_uuid_t *user_id)
{
	const char *resolved = citus_resolved_caller();

	if (resolved == NULL)
		return false;
	if (cache.valid && cache.resolved != NULL &&
		memcmp(&cache.user_id, user_id, sizeof(pg_uuid_t)) == 0 &&
		strcmp(cache.resolved, resolved) == 0)
		return true;
	if (!ta_citus_table_named("project_members"))
		return false;
	load_resolved(user_id, resolved);
	return true;
}

bool
ta_membership_resolved(void)
{
	return cache.valid && cache.resolved != NULL;
}

/*
 * Does snap see this transaction's own changes as the loading snapshot did?
 * Changes by command c are visible to snapshots with curcid > c.  A statement
 * can reload the cache with a snapshot older than a change its own nested
 * statements made: that load is valid only for that same command id.
 */
static bool
own_changes_seen(Snapshot snap)
{
	if (change_lxid != MyProc->lxid)
		return true;			/* no change in this transaction */
	if (cache.load_lxid != MyProc->lxid)
		return false;
	if (cache.load_curcid == snap->curcid)
		return true;
	return cache.load_curcid > change_cid && snap->curcid > change_cid;
}

/* Make the cache current for user_id. */
static void
refresh_cache_for(const pg_uuid_t *user_id)
{
	Snapshot	snap;

	if (!ActiveSnapshotSet())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("project memberships can only be checked inside a query")));
	snap = GetActiveSnapshot();

	if (refresh_from_resolved(user_id))
		return;
	if (!cache.valid || cache.citus ||
		cache.generation != local_generation ||
		memcmp(&cache.user_id, user_id, sizeof(pg_uuid_t)) != 0 ||
		!own_changes_seen(snap))
		load_memberships(user_id, snap);
	else if (same_visibility(snap))
		return;
	else if (others_changed_nothing(snap))
		remember_visibility(snap);
	else
		load_memberships(user_id, snap);
}

/* Make the cache current for the caller; false when there is no caller. */
static bool
refresh_cache(void)
{
	pg_uuid_t	user_id;

	if (!ta_current_user_id(&user_id))
		return false;
	refresh_cache_for(&user_id);
	return true;
}

/* Which load of the cache is current, so others can memoize exactly as long. */
uint64
ta_membership_version(void)
{
	return refresh_cache() ? cache.loads : 0;
}

/*
 * The same for a user who is not the caller yet (a session cookie's, before
 * pre_request() makes it the caller): the load is the one the caller's
 * checks then reuse.
 */
uint64
ta_membership_version_of(const pg_uuid_t *user_id)
{
	refresh_cache_for(user_id);
	return cache.loads;
}

/* A token can outlive its user: policies and pre_request() ask this. */
bool
ta_caller_exists(void)
{
	return refresh_cache() && cache.user_exists;
}

/* What every RLS policy on projects, members and tasks asks, once per row. */
TaRole
ta_member_role(const pg_uuid_t *project_id, bool *live)
{
	MemberEntry *entry;

	*live = false;
	if (!refresh_cache())
		return TA_ROLE_NONE;
	entry = hash_search(cache.entries, project_id, HASH_FIND, NULL);
	if (entry == NULL)
		return TA_ROLE_NONE;
	*live = entry->live;
	return (TaRole) entry->role;
}

/* Enum value <-> rank, for the member_role type the function uses. */
typedef struct RoleTypeInfo
{
	Oid			label_oids[NUM_ROLES];
} RoleTypeInfo;

static RoleTypeInfo *
role_type_info(FunctionCallInfo fcinfo, Oid enumtype)
{
	RoleTypeInfo *info = fcinfo->flinfo->fn_extra;

	if (info == NULL)
	{
		info = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(RoleTypeInfo));
		for (int i = 0; i < NUM_ROLES; i++)
			info->label_oids[i] = DatumGetObjectId(DirectFunctionCall2(enum_in,
																	   CStringGetDatum(role_labels[i]),
																	   ObjectIdGetDatum(enumtype)));
		fcinfo->flinfo->fn_extra = info;
	}
	return info;
}

static TaRole
role_of_enum(FunctionCallInfo fcinfo, Datum value, Oid enumtype)
{
	RoleTypeInfo *info = role_type_info(fcinfo, enumtype);

	for (int i = 0; i < NUM_ROLES; i++)
		if (info->label_oids[i] == DatumGetObjectId(value))
			return (TaRole) i;
	elog(ERROR, "unexpected member_role value %u", DatumGetObjectId(value));
	return TA_ROLE_NONE;
}

PG_FUNCTION_INFO_V1(task_api_project_role);

/* The caller's role in a live project, or NULL (not a member, or trashed). */
Datum
task_api_project_role(PG_FUNCTION_ARGS)
{
	bool		live;
	TaRole		role = ta_member_role(PG_GETARG_UUID_P(0), &live);

	if (role == TA_ROLE_NONE || !live)
		PG_RETURN_NULL();
	PG_RETURN_OID(role_type_info(fcinfo, get_fn_expr_rettype(fcinfo->flinfo))->label_oids[role]);
}

PG_FUNCTION_INFO_V1(task_api_has_project_role);

/* Does the caller have at least min_role in the project (live or trashed)? */
Datum
task_api_has_project_role(PG_FUNCTION_ARGS)
{
	bool		live;
	TaRole		role = ta_member_role(PG_GETARG_UUID_P(0), &live);
	TaRole		min_role = role_of_enum(fcinfo, PG_GETARG_DATUM(1),
										get_fn_expr_argtype(fcinfo->flinfo, 1));

	PG_RETURN_BOOL(role != TA_ROLE_NONE && role >= min_role);
}

PG_FUNCTION_INFO_V1(task_api_member_project_ids);

/*
 * Ids of the projects where the caller has at least min_role, as an array,
 * so a policy "project_id = ANY ((SELECT member_project_ids(...)))" is an
 * index condition evaluated once per query.
 */
Datum
task_api_member_project_ids(PG_FUNCTION_ARGS)
{
	TaRole		min_role = role_of_enum(fcinfo, PG_GETARG_DATUM(0),
										get_fn_expr_argtype(fcinfo->flinfo, 0));
	Datum	   *elems;
	int			n = 0;

	if (!refresh_cache())
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(UUIDOID));

	elems = palloc(sizeof(Datum) * Max(cache.count, 1));
	for (int i = 0; i < cache.count; i++)
	{
		if (cache.roles[i] >= min_role)
		{
			pg_uuid_t  *copy = palloc(sizeof(pg_uuid_t));

			*copy = cache.ids[i];
			elems[n++] = UUIDPGetDatum(copy);
		}
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
}

PG_FUNCTION_INFO_V1(task_api_membership_changed);

/*
 * Statement trigger on project_members, projects, users, sessions and
 * api_keys: this session's cache is stale, and every other session's is
 * once this transaction commits (the shared horizon).
 */
Datum
task_api_membership_changed(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("membership_changed: not called by trigger manager")));
	raise_writer_horizon();
	local_generation++;
	change_lxid = MyProc->lxid;
	change_cid = GetCurrentCommandId(false);
	return PointerGetDatum(NULL);
}
