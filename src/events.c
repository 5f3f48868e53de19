/*
 * events.c
 *		The transactional outbox: task_api.record_event() and the claim bound.
 *
 * record_event() is an AFTER INSERT OR UPDATE OR DELETE row trigger:
 *
 *   record_event(resource_type, id_col, project_id_col [, unrecorded_col ...])
 *
 * Every insert, update, soft delete (deleted_at NULL -> set), restore
 * (deleted_at set -> NULL) and real DELETE (purge) of a row appends one row
 * to task_api.events in the same transaction and queues NOTIFY
 * task_api_events with the event id (sent only if the transaction commits).
 * An update records only the columns that changed, with old and new values;
 * an update that changed nothing but the unrecorded columns (the stamps
 * updated_at and version) records nothing.  The insert runs as the owner of
 * the tables, with a plan kept per trigger.
 *
 * Ordering.  Event ids come from a sequence when the row is written, not
 * when its transaction commits, so a transaction holding id 5 may commit
 * after one holding id 6 was already delivered; a consumer that resumes
 * "after 6" would skip 5 forever.  So every backend publishes, in shared
 * memory, the first event id its current transaction drew (a "pending"
 * marker is stored before the id is drawn) and clears it only after the
 * transaction's commit is visible to new snapshots.  events_claim_bound()
 * reads the sequence's last value L and then every published id; ids below
 * min(L + 1, smallest published id) belong to transactions that have all
 * ended, and no transaction can still add an id below that bound.  The
 * caller (claim_events) then takes a fresh snapshot and hands out only
 * events under the bound, so acknowledging "up to N" never skips anything.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgrprotos.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/uuid.h"

#include "events.h"
#include "owner_spi.h"
#include "request.h"

/* Slot values: no event in the current transaction, or an id being drawn. */
#define SLOT_EMPTY		UINT64CONST(0)
#define SLOT_PENDING	PG_UINT64_MAX

/* How long events_claim_bound() waits for a writer to finish drawing its id. */
#define PENDING_WAIT_US 50
#define PENDING_WAIT_TRIES 200

typedef struct EventsShared
{
	int			nslots;
	pg_atomic_uint64 first_id[FLEXIBLE_ARRAY_MEMBER];
} EventsShared;

static EventsShared *events_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* Has this backend's current top-level transaction published an event id? */
static bool published = false;
static bool exit_registered = false;

/* The INSERT of each record_event trigger, prepared once per backend. */
typedef struct EventPlan
{
	Oid			tgoid;			/* hash key */
	SPIPlanPtr	plan;
} EventPlan;

static HTAB *plans = NULL;

static Size
events_shmem_size(void)
{
	return add_size(offsetof(EventsShared, first_id),
					mul_size(MaxBackends, sizeof(pg_atomic_uint64)));
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
		for (int i = 0; i < MaxBackends; i++)
			pg_atomic_init_u64(&events_shared->first_id[i], SLOT_EMPTY);
	}
	LWLockRelease(AddinShmemInitLock);
}

/* This backend's slot, or NULL without shared memory. */
static pg_atomic_uint64 *
my_slot(void)
{
	if (events_shared == NULL || MyBackendId <= 0 || MyBackendId > events_shared->nslots)
		return NULL;
	return &events_shared->first_id[MyBackendId - 1];
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
			if (published)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that recorded task_api events")));
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
	Oid			nsp = get_namespace_oid("task_api", false);
	Oid			seq = get_relname_relid("events_id_seq", nsp);

	if (!OidIsValid(seq))
		elog(ERROR, "task_api.events_id_seq does not exist");
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
	pg_atomic_write_u64(slot, SLOT_PENDING);
	published = true;
	pg_memory_barrier();
	id = nextval_internal(seq, false);
	pg_memory_barrier();
	pg_atomic_write_u64(slot, (uint64) id);
	return id;
}

/* The kept INSERT plan of this trigger (argument types depend on the table). */
static SPIPlanPtr
event_plan(Oid tgoid, Oid rowtype)
{
	EventPlan  *entry;
	bool		found;

	if (plans == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(EventPlan);
		plans = hash_create("task_api record_event plans", 16, &ctl, HASH_ELEM | HASH_BLOBS);
	}
	entry = hash_search(plans, &tgoid, HASH_ENTER, &found);
	if (!found)
		entry->plan = NULL;
	if (entry->plan == NULL)
	{
		/*
		 * $1 id, $2 actor, $3 resource_type, $4 resource_id, $5 project_id,
		 * $6 action, $7 old row, $8 new row, $9 unrecorded columns, $10
		 * changed columns.
		 */
		static const char *sql =
			"INSERT INTO task_api.events (id, actor_id, resource_type, resource_id, project_id, action, changes) "
			"OVERRIDING SYSTEM VALUE "
			"SELECT $1, $2, $3, $4, $5, $6, "
			"CASE $6 WHEN 'created' THEN pg_catalog.to_jsonb($8) OPERATOR(pg_catalog.-) $9 "
			"WHEN 'purged' THEN pg_catalog.to_jsonb($7) OPERATOR(pg_catalog.-) $9 "
			"ELSE (SELECT pg_catalog.jsonb_object_agg(k, pg_catalog.jsonb_build_object("
			"'old', r.o OPERATOR(pg_catalog.->) k, 'new', r.n OPERATOR(pg_catalog.->) k)) "
			"FROM (SELECT pg_catalog.to_jsonb($7) AS o, pg_catalog.to_jsonb($8) AS n) AS r, "
			"pg_catalog.unnest($10) AS k) END";
		Oid			argtypes[10] = {INT8OID, UUIDOID, TEXTOID, UUIDOID, UUIDOID, TEXTOID,
		rowtype, rowtype, TEXTARRAYOID, TEXTARRAYOID};
		SPIPlanPtr	plan = SPI_prepare(sql, 10, argtypes);

		if (plan == NULL)
			elog(ERROR, "record_event: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		entry->plan = plan;
	}
	return entry->plan;
}

/* Attribute number of a named uuid column, or an error naming the trigger. */
static int
uuid_column(Relation rel, Trigger *trigger, const char *colname)
{
	int			attnum = SPI_fnumber(RelationGetDescr(rel), colname);

	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" named by trigger \"%s\" does not exist in \"%s\"",
						colname, trigger->tgname, RelationGetRelationName(rel))));
	if (SPI_gettypeid(RelationGetDescr(rel), attnum) != UUIDOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of \"%s\" must be uuid for trigger \"%s\"",
						colname, RelationGetRelationName(rel), trigger->tgname)));
	return attnum;
}

/* A text[] of the given C strings. */
static Datum
text_array(const char **items, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		elems[i] = CStringGetTextDatum(items[i]);
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

PG_FUNCTION_INFO_V1(task_api_record_event);

/* Append the event of one row change to task_api.events and queue its NOTIFY. */
Datum
task_api_record_event(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Trigger    *trigger;
	Relation	rel;
	TupleDesc	desc;
	HeapTuple	oldtup = NULL,
				newtup = NULL,
				keytup;
	const char *action;
	const char **changed;
	int			nchanged = 0;
	int			id_col,
				project_col,
				deleted_col;
	bool		isnull;
	Datum		args[10];
	char		nulls[11] = "          ";
	pg_uuid_t	me;
	Oid			save_userid;
	int			save_sec;
	volatile int64 event_id = 0;
	char		payload[32];

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("record_event: not called by trigger manager")));
	if (!TRIGGER_FIRED_AFTER(trigdata->tg_event) || !TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("record_event: must be fired AFTER INSERT, UPDATE or DELETE, FOR EACH ROW")));

	trigger = trigdata->tg_trigger;
	rel = trigdata->tg_relation;
	desc = RelationGetDescr(rel);
	if (trigger->tgnargs < 3)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("record_event: trigger \"%s\" needs at least 3 arguments, got %d",
						trigger->tgname, trigger->tgnargs),
				 errhint("Arguments: resource type, id column, project id column [, columns not recorded ...].")));
	id_col = uuid_column(rel, trigger, trigger->tgargs[1]);
	project_col = uuid_column(rel, trigger, trigger->tgargs[2]);
	deleted_col = SPI_fnumber(desc, "deleted_at");
	if (deleted_col <= 0)
		deleted_col = 0;

	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
	{
		newtup = trigdata->tg_trigtuple;
		action = "created";
	}
	else if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
	{
		oldtup = trigdata->tg_trigtuple;
		action = "purged";
	}
	else
	{
		bool		was_deleted = false,
					is_deleted = false;

		oldtup = trigdata->tg_trigtuple;
		newtup = trigdata->tg_newtuple;
		if (deleted_col)
		{
			(void) heap_getattr(oldtup, deleted_col, desc, &isnull);
			was_deleted = !isnull;
			(void) heap_getattr(newtup, deleted_col, desc, &isnull);
			is_deleted = !isnull;
		}
		action = (!was_deleted && is_deleted) ? "deleted" :
			(was_deleted && !is_deleted) ? "restored" : "updated";
	}

	/* The changed columns, other than the unrecorded ones. */
	changed = palloc(sizeof(char *) * Max(desc->natts, 1));
	if (oldtup != NULL && newtup != NULL)
	{
		for (int i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);
			bool		oldnull,
						newnull,
						skip = false;
			Datum		oldval,
						newval;

			if (att->attisdropped)
				continue;
			for (int k = 3; k < trigger->tgnargs; k++)
				if (strcmp(trigger->tgargs[k], NameStr(att->attname)) == 0)
					skip = true;
			if (skip)
				continue;
			oldval = heap_getattr(oldtup, i + 1, desc, &oldnull);
			newval = heap_getattr(newtup, i + 1, desc, &newnull);
			if (oldnull != newnull ||
				(!oldnull && !datum_image_eq(oldval, newval, att->attbyval, att->attlen)))
				changed[nchanged++] = NameStr(att->attname);
		}
		/* A no-op update (at most the stamps moved) is not an event. */
		if (nchanged == 0)
			return PointerGetDatum(NULL);
	}

	keytup = newtup != NULL ? newtup : oldtup;
	args[1] = (Datum) 0;
	if (ta_current_user_id(&me))
		args[1] = UUIDPGetDatum(&me);
	else
		nulls[1] = 'n';
	args[2] = CStringGetTextDatum(trigger->tgargs[0]);
	args[3] = heap_getattr(keytup, id_col, desc, &isnull);
	if (isnull)
		nulls[3] = 'n';
	args[4] = heap_getattr(keytup, project_col, desc, &isnull);
	if (isnull)
		nulls[4] = 'n';
	args[5] = CStringGetTextDatum(action);
	if (oldtup != NULL)
		args[6] = heap_copy_tuple_as_datum(oldtup, desc);
	else
	{
		args[6] = (Datum) 0;
		nulls[6] = 'n';
	}
	if (newtup != NULL)
		args[7] = heap_copy_tuple_as_datum(newtup, desc);
	else
	{
		args[7] = (Datum) 0;
		nulls[7] = 'n';
	}
	args[8] = text_array((const char **) trigger->tgargs + 3, trigger->tgnargs - 3);
	args[9] = text_array(changed, nchanged);

	/* Insert as the owner of the tables: no API role may write events. */
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(ta_tables_owner(),
						   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		event_id = next_event_id(events_sequence());
		args[0] = Int64GetDatum(event_id);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute_plan(event_plan(trigger->tgoid, rel->rd_rel->reltype), args, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "record_event: inserting the event failed");
		SPI_finish();
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	PG_END_TRY();

	snprintf(payload, sizeof(payload), INT64_FORMAT, event_id);
	Async_Notify("task_api_events", payload);

	return PointerGetDatum(NULL);
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
		uint64		v = pg_atomic_read_u64(&events_shared->first_id[i]);

		for (int tries = 0; v == SLOT_PENDING && tries < PENDING_WAIT_TRIES; tries++)
		{
			CHECK_FOR_INTERRUPTS();
			pg_usleep(PENDING_WAIT_US);
			v = pg_atomic_read_u64(&events_shared->first_id[i]);
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
	PG_RETURN_INT64((int64) bound);
}
