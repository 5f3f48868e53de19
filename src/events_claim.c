/*
 * events_claim.c
 *		The transactional outbox, claiming: event ids drawn in order and the
 *		bound under which task_api.claim_events() may hand events out.
 *
 * Ordering.  Event ids come from a sequence when the row is written, not
 * when its transaction commits, so a transaction holding id 5 may commit
 * after one holding id 6 was already delivered; a consumer that resumes
 * "after 6" would skip 5 forever.  So every backend publishes, in shared
 * memory, the first event id its current transaction drew (a "pending"
 * marker is stored before the id is drawn) and clears it only after the
 * transaction's commit is visible to new snapshots.  events_claim_bound()
 * reads the sequence's last value L and then every id published in its
 * database (each database has its own sequence); ids below
 * min(L + 1, smallest published id) belong to transactions that have all
 * ended, and no transaction can still add an id below that bound.  The
 * caller (claim_events) then takes a fresh snapshot and hands out only
 * events under the bound, so acknowledging "up to N" never skips anything.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/twophase.h"
#include "access/xact.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_sequence.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgrprotos.h"
#include "nodes/makefuncs.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/uuid.h"

#include "events.h"
#include "events_internal.h"
#include "owner_spi.h"

/* Slot values: no event in the current transaction, or an id being drawn. */
#define SLOT_EMPTY		UINT64CONST(0)
#define SLOT_PENDING	PG_UINT64_MAX

/* How long events_claim_bound() waits for a writer to finish drawing its id. */
#define PENDING_WAIT_US 50
#define PENDING_WAIT_TRIES 200

/*
 * One slot per backend: the first event id of its current transaction and
 * the database it writes in (a backend never changes database).  Ids of
 * different databases come from different sequences: a claimer considers
 * only the slots of its own database.
 */
typedef struct EventsSlot
{
	pg_atomic_uint64 first_id;
	pg_atomic_uint32 dbid;
} EventsSlot;

/*
 * A prepared transaction's first event id (a Citus worker's part of a
 * two-phase commit, whose events went into shards): a backend's slot is
 * cleared at PREPARE, when the backend moves on, but the events stay
 * invisible until COMMIT PREPARED.  So at PRE_PREPARE the first id moves
 * here, with the transaction's xid; a claimer counts the entry while the
 * xid is in progress (a prepared transaction is, until COMMIT PREPARED or
 * ROLLBACK PREPARED) and frees it after.  first_id is SLOT_EMPTY when the
 * entry is free, SLOT_PENDING while it is being filled.
 */
typedef struct EventsPrepared
{
	pg_atomic_uint64 first_id;
	pg_atomic_uint32 dbid;
	pg_atomic_uint32 xid;
} EventsPrepared;

typedef struct EventsShared
{
	int			nslots;
	int			nprepared;		/* max_prepared_transactions, after the slots */
	EventsSlot	slot[FLEXIBLE_ARRAY_MEMBER];
} EventsShared;

static EventsShared *events_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* Has this backend's current top-level transaction published an event id? */
static bool published = false;
static bool exit_registered = false;

/* One slot per backend, so a claimer can see every open transaction's first id. */
static Size
events_slots_size(void)
{
	return add_size(offsetof(EventsShared, slot),
					mul_size(MaxBackends, sizeof(EventsSlot)));
}

/* The slots, then one entry per possible prepared transaction. */
static Size
events_shmem_size(void)
{
	return add_size(MAXALIGN(events_slots_size()),
					mul_size(max_prepared_xacts, sizeof(EventsPrepared)));
}

/* The prepared transactions' entries (nprepared of them). */
static EventsPrepared *
events_prepared(void)
{
	return (EventsPrepared *) ((char *) events_shared + MAXALIGN(events_slots_size()));
}

/* Ask for the slots' shared memory (PG15: from shmem_request_hook). */
static void
events_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(events_shmem_size());
}

/* Create or attach to the slots, all empty at server start. */
static void
events_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	events_shared = ShmemInitStruct("task_api events", events_shmem_size(), &found);
	if (!found)
	{
		events_shared->nslots = MaxBackends;
		events_shared->nprepared = max_prepared_xacts;
		for (int i = 0; i < MaxBackends; i++)
		{
			pg_atomic_init_u64(&events_shared->slot[i].first_id, SLOT_EMPTY);
			pg_atomic_init_u32(&events_shared->slot[i].dbid, InvalidOid);
		}
		for (int i = 0; i < max_prepared_xacts; i++)
		{
			EventsPrepared *e = &events_prepared()[i];

			pg_atomic_init_u64(&e->first_id, SLOT_EMPTY);
			pg_atomic_init_u32(&e->dbid, InvalidOid);
			pg_atomic_init_u32(&e->xid, InvalidTransactionId);
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

/* This backend's slot, or NULL without shared memory. */
static EventsSlot *
my_events_slot(void)
{
	if (events_shared == NULL || MyBackendId <= 0 || MyBackendId > events_shared->nslots)
		return NULL;
	return &events_shared->slot[MyBackendId - 1];
}

/* Its first-id field, or NULL. */
static pg_atomic_uint64 *
my_slot(void)
{
	EventsSlot *slot = my_events_slot();

	return slot != NULL ? &slot->first_id : NULL;
}

/*
 * Free the entries of prepared transactions that have ended (committed or
 * rolled back prepared, or a PREPARE that failed).
 */
static void
free_ended_prepared(void)
{
	for (int i = 0; i < events_shared->nprepared; i++)
	{
		EventsPrepared *e = &events_prepared()[i];
		uint64		v = pg_atomic_read_u64(&e->first_id);

		if (v == SLOT_EMPTY || v == SLOT_PENDING)
			continue;
		pg_read_barrier();
		if (!TransactionIdIsInProgress((TransactionId) pg_atomic_read_u32(&e->xid)))
			(void) pg_atomic_compare_exchange_u64(&e->first_id, &v, SLOT_EMPTY);
	}
}

/*
 * At PRE_PREPARE of a transaction whose events all went into shards: its
 * first id into a free entry, with its xid, before the slot is cleared at
 * PREPARE (docs/scaling.md, "The claim bound across two-phase commit").
 * No free entry: the PREPARE is refused (the transaction aborts, nothing
 * is lost).
 */
static void
keep_prepared_first_id(uint64 first_id)
{
	TransactionId xid = GetTopTransactionIdIfAny();

	if (!TransactionIdIsValid(xid) || first_id == SLOT_EMPTY || first_id == SLOT_PENDING)
		return;
	for (int pass = 0; pass < 2; pass++)
	{
		for (int i = 0; i < events_shared->nprepared; i++)
		{
			EventsPrepared *e = &events_prepared()[i];
			uint64		empty = SLOT_EMPTY;

			if (!pg_atomic_compare_exchange_u64(&e->first_id, &empty, SLOT_PENDING))
				continue;
			pg_atomic_write_u32(&e->dbid, MyDatabaseId);
			pg_atomic_write_u32(&e->xid, (uint32) xid);
			pg_write_barrier();
			pg_atomic_write_u64(&e->first_id, first_id);
			pg_memory_barrier();
			return;
		}
		free_ended_prepared();
	}
	ereport(ERROR,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("cannot PREPARE a transaction that recorded task_api events: no free entry for its first event id"),
			 errhint("Raise max_prepared_transactions.")));
}

/*
 * Clear the slot once the transaction is over.  COMMIT callbacks run after
 * the commit became visible to new snapshots, so a claimer that finds the
 * slot empty will see the transaction's events.  A transaction that wrote
 * events cannot be prepared: its events would stay invisible after the slot
 * is cleared.
 */
static void
events_xact_callback(XactEvent event, void *arg)
{
	pg_atomic_uint64 *slot;

	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			/* A Citus worker's events, in shards, prepare (docs/scaling.md, "Events"). */
			if (published && !ta_events_only_in_shards())
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that recorded task_api events")));
			if (published && (slot = my_slot()) != NULL)
				keep_prepared_first_id(pg_atomic_read_u64(slot));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			if (published && (slot = my_slot()) != NULL)
			{
				pg_memory_barrier();
				pg_atomic_write_u64(slot, SLOT_EMPTY);
			}
			published = false;
			break;
		default:
			break;
	}
}

/* A backend that exits mid-transaction never leaves its slot set. */
static void
events_exit(int code, Datum arg)
{
	pg_atomic_uint64 *slot = my_slot();

	if (slot != NULL)
		pg_atomic_write_u64(slot, SLOT_EMPTY);
	published = false;
}

/* Slots are cleared at transaction end; shared memory exists only when preloaded. */
void
ta_events_init(void)
{
	RegisterXactCallback(events_xact_callback, NULL);
	if (process_shared_preload_libraries_in_progress)
	{
		prev_shmem_request_hook = shmem_request_hook;
		shmem_request_hook = events_shmem_request;
		prev_shmem_startup_hook = shmem_startup_hook;
		shmem_startup_hook = events_shmem_startup;
	}
}


/* The event id sequence (task_api.events.id's identity sequence). */
static Oid
events_sequence(void)
{
	Oid			seq = ta_task_api_relid("events_id_seq");
	HeapTuple	tup;
	int64		cache,
				increment;

	/*
	 * The claim bound holds only if every id is drawn from the shared
	 * sequence at the moment it is used: with CACHE > 1 a backend takes ids
	 * from a private cache, below the sequence's last value, without the
	 * claimer being able to see it.  Refuse rather than lose events.
	 */
	tup = SearchSysCache1(SEQRELID, ObjectIdGetDatum(seq));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for sequence %u", seq);
	cache = ((Form_pg_sequence) GETSTRUCT(tup))->seqcache;
	increment = ((Form_pg_sequence) GETSTRUCT(tup))->seqincrement;
	ReleaseSysCache(tup);
	if (cache != 1 || increment <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("task_api.events_id_seq must have CACHE 1 and a positive INCREMENT"),
				 errdetail("It has CACHE " INT64_FORMAT " and INCREMENT " INT64_FORMAT ".", cache, increment),
				 errhint("ALTER SEQUENCE task_api.events_id_seq CACHE 1 INCREMENT 1; event ids must be drawn in order for claim_events() to hand them out in order.")));
	return seq;
}


/*
 * Draw the next event id; the first one of a transaction is published in
 * this backend's slot, with the pending marker set before the draw so that
 * a claimer reading the sequence afterwards cannot miss it.
 */
static int64
next_event_id(Oid seq)
{
	pg_atomic_uint64 *slot = my_slot();
	int64		id;

	if (published || slot == NULL)
		return nextval_internal(seq, false);

	if (!exit_registered)
	{
		before_shmem_exit(events_exit, (Datum) 0);
		exit_registered = true;
	}
	/* The database first, so a claimer that sees the id sees it too. */
	pg_atomic_write_u32(&my_events_slot()->dbid, MyDatabaseId);
	pg_write_barrier();
	pg_atomic_write_u64(slot, SLOT_PENDING);
	published = true;
	pg_memory_barrier();
	id = nextval_internal(seq, false);
	pg_memory_barrier();
	pg_atomic_write_u64(slot, (uint64) id);
	return id;
}

/* The next id of the events sequence, checked for CACHE 1 first. */
int64
ta_events_next_id(void)
{
	return next_event_id(events_sequence());
}

PG_FUNCTION_INFO_V1(task_api_events_claim_bound);

/*
 * The exclusive upper bound of the event ids a consumer may be handed now:
 * every transaction that drew an id below it has ended.  The caller must
 * read events under a snapshot taken after this returns.
 */
Datum
task_api_events_claim_bound(PG_FUNCTION_ARGS)
{
	LOCAL_FCINFO(seqinfo, 1);
	Datum		last;
	uint64		bound;

	if (events_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("task_api must be loaded via shared_preload_libraries to hand out events"),
				 errhint("Add task_api to shared_preload_libraries and restart the server.")));

	/* The last id drawn so far (NULL before the first). */
	InitFunctionCallInfoData(*seqinfo, NULL, 1, InvalidOid, NULL, NULL);
	seqinfo->args[0].value = ObjectIdGetDatum(events_sequence());
	seqinfo->args[0].isnull = false;
	last = pg_sequence_last_value(seqinfo);
	bound = seqinfo->isnull ? 1 : (uint64) DatumGetInt64(last) + 1;

	/* Then every transaction's first id: read after the sequence. */
	pg_memory_barrier();
	for (int i = 0; i < events_shared->nslots; i++)
	{
		uint64		v = pg_atomic_read_u64(&events_shared->slot[i].first_id);

		if (v == SLOT_EMPTY)
			continue;
		/* Written before the id: another database's writer is no concern. */
		pg_read_barrier();
		if (pg_atomic_read_u32(&events_shared->slot[i].dbid) != MyDatabaseId)
			continue;
		for (int tries = 0; v == SLOT_PENDING && tries < PENDING_WAIT_TRIES; tries++)
		{
			CHECK_FOR_INTERRUPTS();
			pg_usleep(PENDING_WAIT_US);
			v = pg_atomic_read_u64(&events_shared->slot[i].first_id);
		}
		if (v == SLOT_PENDING)
		{
			/* A writer stalled while drawing its id: hand out nothing now. */
			bound = 1;
			break;
		}
		if (v != SLOT_EMPTY && v < bound)
			bound = v;
	}

	/*
	 * Then the prepared transactions' first ids (read after the slots: an
	 * entry is filled before its transaction's slot is cleared).  A
	 * prepared transaction is in progress until COMMIT PREPARED makes its
	 * events visible; an ended one's entry is freed.
	 */
	pg_memory_barrier();
	for (int i = 0; i < events_shared->nprepared && bound > 1; i++)
	{
		EventsPrepared *e = &events_prepared()[i];
		uint64		v = pg_atomic_read_u64(&e->first_id);

		if (v == SLOT_EMPTY)
			continue;
		for (int tries = 0; v == SLOT_PENDING && tries < PENDING_WAIT_TRIES; tries++)
		{
			CHECK_FOR_INTERRUPTS();
			pg_usleep(PENDING_WAIT_US);
			v = pg_atomic_read_u64(&e->first_id);
		}
		if (v == SLOT_EMPTY)
			continue;
		if (v == SLOT_PENDING)
		{
			bound = 1;
			break;
		}
		pg_read_barrier();
		if (pg_atomic_read_u32(&e->dbid) != MyDatabaseId)
			continue;
		if (TransactionIdIsInProgress((TransactionId) pg_atomic_read_u32(&e->xid)))
		{
			if (v < bound)
				bound = v;
		}
		else
			(void) pg_atomic_compare_exchange_u64(&e->first_id, &v, SLOT_EMPTY);
	}
	PG_RETURN_INT64((int64) bound);
}

