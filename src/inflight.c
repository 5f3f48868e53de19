/*
 * inflight.c
 *		A per-user cap on requests in flight (task_api.max_inflight_per_user).
 *
 * One caller must never hold the whole PostgREST pool: pre_request() takes
 * a slot for the authenticated user (a bearer token, a session cookie, or an
 * API key: then its owner) and the slot is given back when the transaction
 * ends, however it ends.  Over the cap the request is refused with 429
 * rate_limited and Retry-After: 1 before it does any work.
 *
 * Leak-proof by construction: shared memory holds one slot per backend
 * (indexed by MyBackendId), not a counter.  A backend only ever writes its
 * own slot, and a user's count is the number of live slots naming them, so
 * a slot cannot outlive the backend that holds it:
 *	- commit, abort (errors, statement_timeout, cancels) and PREPARE release
 *	  it in a transaction callback;
 *	- a backend leaving (FATAL, pg_terminate_backend, a client gone) releases
 *	  it in a before_shmem_exit callback;
 *	- a backend killed outright makes the postmaster restart the cluster,
 *	  which creates shared memory afresh: every slot is free again.
 * Taking scans the slots under an LWLock (one slot per backend: a few
 * hundred at most); releasing is a single atomic write and takes no lock,
 * so it cannot fail or wait in an abort or exit path.
 */
#include "postgres.h"

#include "access/xact.h"
#include "guc.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/backendid.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"

#include "errors.h"
#include "metrics.h"
#include "inflight.h"

#define TRANCHE_NAME "task_api_inflight"

typedef struct InflightSlot
{
	pg_atomic_uint32 used;		/* 1 while the backend holds a request slot */
	uint8		user[16];		/* whose: written under the lock, before used */
} InflightSlot;

typedef struct InflightShared
{
	LWLock	   *lock;			/* serialises taking (count, then claim) */
	int			nslots;			/* MaxBackends */
	pg_atomic_uint64 refused;	/* requests refused for the cap */
	InflightSlot slots[FLEXIBLE_ARRAY_MEMBER];
} InflightShared;

static InflightShared *inflight = NULL;
static int	my_slot = -1;		/* the slot this transaction holds, or -1 */
static bool exit_callback_registered = false;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size
inflight_memsize(void)
{
	return add_size(offsetof(InflightShared, slots),
					mul_size(MaxBackends, sizeof(InflightSlot)));
}

static void
inflight_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(inflight_memsize());
	RequestNamedLWLockTranche(TRANCHE_NAME, 1);
}

/* Create the slots, all free (also after a crash restart). */
static void
inflight_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	inflight = ShmemInitStruct("task_api inflight", inflight_memsize(), &found);
	if (!found)
	{
		inflight->lock = &(GetNamedLWLockTranche(TRANCHE_NAME))->lock;
		inflight->nslots = MaxBackends;
		pg_atomic_init_u64(&inflight->refused, 0);
		for (int i = 0; i < MaxBackends; i++)
		{
			pg_atomic_init_u32(&inflight->slots[i].used, 0);
			memset(inflight->slots[i].user, 0, 16);
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Give the slot back; never fails, takes no lock. */
static void
release_slot(void)
{
	if (my_slot < 0 || inflight == NULL)
		return;
	(void) pg_atomic_exchange_u32(&inflight->slots[my_slot].used, 0);
	my_slot = -1;
}

static void
inflight_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			release_slot();
			break;
		default:
			break;
	}
}

static void
inflight_exit_callback(int code, Datum arg)
{
	release_slot();
}

void
ta_inflight_init(void)
{
	RegisterXactCallback(inflight_xact_callback, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = inflight_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = inflight_shmem_startup;
}

/* How many other backends hold a slot for user.  Caller holds the lock. */
static int
count_user(const uint8 *user, int mine)
{
	int			n = 0;

	for (int i = 0; i < inflight->nslots; i++)
		if (i != mine && pg_atomic_read_u32(&inflight->slots[i].used) != 0 &&
			memcmp(inflight->slots[i].user, user, 16) == 0)
			n++;
	return n;
}

/* Claim this backend's slot for user, unless the user is at the cap. */
static bool
claim_slot(const uint8 *user, int mine)
{
	bool		ok;

	LWLockAcquire(inflight->lock, LW_EXCLUSIVE);
	ok = count_user(user, mine) < ta_max_inflight_per_user;
	if (ok)
	{
		memcpy(inflight->slots[mine].user, user, 16);
		(void) pg_atomic_exchange_u32(&inflight->slots[mine].used, 1);
	}
	LWLockRelease(inflight->lock);
	return ok;
}

void
ta_inflight_take(const uint8 *user)
{
	TaHeader	retry = {"Retry-After", "1"};
	int			mine = MyBackendId - 1;

	if (inflight == NULL || ta_max_inflight_per_user <= 0 || my_slot >= 0 ||
		mine < 0 || mine >= inflight->nslots)
		return;
	if (!exit_callback_registered)
	{
		before_shmem_exit(inflight_exit_callback, (Datum) 0);
		exit_callback_registered = true;
	}
	if (!claim_slot(user, mine))
	{
		pg_atomic_fetch_add_u64(&inflight->refused, 1);
		ta_metric_add(TA_METRIC_RL_REFUSED_INFLIGHT, 1);
		ta_raise("rate_limited", "too many requests at once",
				 psprintf("At most %d requests of one user run at once.", ta_max_inflight_per_user),
				 "retry after 1 second", &retry, 1);
	}
	my_slot = mine;
}

void
ta_inflight_describe(StringInfo buf)
{
	int			held = 0;

	if (inflight == NULL)
	{
		appendStringInfoString(buf, "\"in_flight\": \"off (not preloaded)\"");
		return;
	}
	for (int i = 0; i < inflight->nslots; i++)
		if (pg_atomic_read_u32(&inflight->slots[i].used) != 0)
			held++;
	appendStringInfo(buf, "\"in_flight\": {\"max_per_user\": %d, \"held\": %d, \"refused\": " UINT64_FORMAT "}",
					 ta_max_inflight_per_user, held, pg_atomic_read_u64(&inflight->refused));
}
