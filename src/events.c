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
 * updated_at and version) records nothing.  The row is built here and
 * stored through the executor's single-row path (ExecSimpleRelationInsert,
 * what logical replication's apply worker uses): the table's CHECK and NOT
 * NULL constraints are checked, every index is maintained (expression,
 * partial and deferred unique ones included) and triggers on the events
 * table fire; no plan, no SPI.  Nothing but this trigger writes events, so
 * no API role has any right on the table: the row is written without
 * privilege checks and without row-level security (events has no INSERT
 * policy on purpose), and the id is drawn from the sequence without
 * checking the invoking role's USAGE on it.
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
#include "request.h"
#include "task_api.h"

/* Columns of task_api.events, in order (80_events.sql). */
enum
{
	Anum_events_id = 1,
	Anum_events_occurred_at,
	Anum_events_xact_id,
	Anum_events_actor_id,
	Anum_events_resource_type,
	Anum_events_resource_id,
	Anum_events_project_id,
	Anum_events_action,
	Anum_events_changes,
	Natts_events = Anum_events_changes
};

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

typedef struct EventsShared
{
	int			nslots;
	EventsSlot	slot[FLEXIBLE_ARRAY_MEMBER];
} EventsShared;

static EventsShared *events_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* Has this backend's current top-level transaction published an event id? */
static bool published = false;
static bool exit_registered = false;

static Size
events_shmem_size(void)
{
	return add_size(offsetof(EventsShared, slot),
					mul_size(MaxBackends, sizeof(EventsSlot)));
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
		{
			pg_atomic_init_u64(&events_shared->slot[i].first_id, SLOT_EMPTY);
			pg_atomic_init_u32(&events_shared->slot[i].dbid, InvalidOid);
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
	HeapTuple	tup;
	int64		cache,
				increment;

	if (!OidIsValid(seq))
		elog(ERROR, "task_api.events_id_seq does not exist");

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

/* task_api.events. */
static Oid
events_table(void)
{
	Oid			rel = get_relname_relid("events", get_namespace_oid("task_api", false));

	if (!OidIsValid(rel))
		elog(ERROR, "task_api.events does not exist");
	return rel;
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

/* A row as jsonb: {"column": value, ...} (row_to_json's conversions). */
static Jsonb *
row_jsonb(HeapTuple tuple, TupleDesc desc)
{
	Datum		json = DirectFunctionCall1(row_to_json, heap_copy_tuple_as_datum(tuple, desc));

	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text_to_cstring(DatumGetTextPP(json)))));
}

/* Is name one of the trigger's unrecorded columns? */
static bool
unrecorded(Trigger *trigger, const char *name, int len)
{
	for (int k = 3; k < trigger->tgnargs; k++)
		if ((int) strlen(trigger->tgargs[k]) == len && memcmp(trigger->tgargs[k], name, len) == 0)
			return true;
	return false;
}

/* The whole row, without the unrecorded columns (created, purged). */
static Jsonb *
row_changes(HeapTuple tuple, TupleDesc desc, Trigger *trigger)
{
	Jsonb	   *row = row_jsonb(tuple, desc);
	JsonbParseState *state = NULL;
	JsonbIterator *it = JsonbIteratorInit(&row->root);
	JsonbValue	v;
	JsonbValue *result = NULL;
	JsonbIteratorToken tok;
	bool		skip = false;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			skip = unrecorded(trigger, v.val.string.val, v.val.string.len);
			if (!skip)
				pushJsonbValue(&state, tok, &v);
		}
		else if (tok == WJB_VALUE)
		{
			if (!skip)
				pushJsonbValue(&state, tok, &v);
		}
		else
			result = pushJsonbValue(&state, tok, NULL);
	}
	return JsonbValueToJsonb(result);
}

/* Push key: the column's value as JSON (to_jsonb's conversions). */
static void
push_value(JsonbParseState **state, const char *key, HeapTuple tuple, TupleDesc desc, int attnum)
{
	Form_pg_attribute att = TupleDescAttr(desc, attnum - 1);
	JsonbValue	k,
				v;
	bool		isnull;
	Datum		value = heap_getattr(tuple, attnum, desc, &isnull);

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(state, WJB_KEY, &k);
	if (isnull)
	{
		v.type = jbvNull;
		pushJsonbValue(state, WJB_VALUE, &v);
	}
	else
	{
		/* to_jsonb(anyelement) learns the argument's type from its call node. */
		FmgrInfo	flinfo;
		Jsonb	   *jb;

		fmgr_info(F_TO_JSONB, &flinfo);
		flinfo.fn_expr = (Node *) makeFuncExpr(F_TO_JSONB, JSONBOID,
											   list_make1(makeNullConst(att->atttypid, att->atttypmod, att->attcollation)),
											   InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
		jb = DatumGetJsonbP(FunctionCall1(&flinfo, value));
		v.type = jbvBinary;
		v.val.binary.data = &jb->root;
		v.val.binary.len = VARSIZE(jb) - VARHDRSZ;
		pushJsonbValue(state, WJB_VALUE, &v);
	}
}

/* {"column": {"old": ..., "new": ...}} for the changed columns. */
static Jsonb *
diff_changes(HeapTuple oldtup, HeapTuple newtup, TupleDesc desc, const int *changed, int nchanged)
{
	JsonbParseState *state = NULL;
	JsonbValue *result;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < nchanged; i++)
	{
		JsonbValue	k;
		char	   *name = NameStr(TupleDescAttr(desc, changed[i] - 1)->attname);

		k.type = jbvString;
		k.val.string.val = name;
		k.val.string.len = strlen(name);
		pushJsonbValue(&state, WJB_KEY, &k);
		pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
		push_value(&state, "old", oldtup, desc, changed[i]);
		push_value(&state, "new", newtup, desc, changed[i]);
		pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	}
	result = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(result);
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

/* The columns of task_api.events, in order, as store_event() fills them. */
static const struct
{
	const char *name;
	Oid			type;
}			events_columns[Natts_events] = {
	{"id", INT8OID}, {"occurred_at", TIMESTAMPTZOID}, {"xact_id", XID8OID},
	{"actor_id", UUIDOID}, {"resource_type", TEXTOID}, {"resource_id", UUIDOID},
	{"project_id", UUIDOID}, {"action", TEXTOID}, {"changes", JSONBOID}
};

/*
 * Insert one row into task_api.events as the executor would for an INSERT
 * (constraints, every index, the table's own triggers), but without a plan,
 * privilege checks or row-level security.  values/nulls are in the order of
 * events_columns; dropped columns are skipped.  A table that has other
 * columns (the executor path computes no defaults) or is not a plain table
 * is refused.
 */
static void
store_event(Relation events, Datum *values, bool *nulls)
{
	TupleDesc	desc = RelationGetDescr(events);
	EState	   *estate;
	RangeTblEntry *rte;
	ResultRelInfo *rri;
	TupleTableSlot *slot;
	int			k = 0;

	if (events->rd_rel->relkind != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("task_api.events must be a plain table")));

	estate = CreateExecutorState();
	slot = ExecInitExtraTupleSlot(estate, desc, &TTSOpsVirtual);
	ExecClearTuple(slot);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
		{
			slot->tts_values[i] = (Datum) 0;
			slot->tts_isnull[i] = true;
			continue;
		}
		if (k == Natts_events || att->atttypid != events_columns[k].type ||
			strcmp(NameStr(att->attname), events_columns[k].name) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("task_api.events does not have the columns this library writes"),
					 errdetail("Column \"%s\" is not expected there.", NameStr(att->attname)),
					 errhint("The columns are id, occurred_at, xact_id, actor_id, resource_type, resource_id, project_id, action, changes.")));
		slot->tts_values[i] = values[k];
		slot->tts_isnull[i] = nulls[k];
		k++;
	}
	if (k != Natts_events)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("task_api.events does not have the columns this library writes"),
				 errdetail("Column \"%s\" is missing.", events_columns[k].name)));
	ExecStoreVirtualTuple(slot);

	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(events);
	rte->relkind = events->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	ExecInitRangeTable(estate, list_make1(rte));
	rri = makeNode(ResultRelInfo);
	InitResultRelInfo(rri, events, 1, NULL, 0);
	/* So that the AFTER triggers queued below find it (no second open). */
	estate->es_opened_result_relations = list_make1(rri);
	estate->es_output_cid = GetCurrentCommandId(true);
	ExecOpenIndices(rri, false);
	AfterTriggerBeginQuery();

	ExecSimpleRelationInsert(rri, estate, slot);

	/* Fire the AFTER triggers of events, if anyone created some. */
	AfterTriggerEndQuery(estate);
	/* Closes the indexes and any relation the triggers opened. */
	ExecCloseResultRelations(estate);
	ExecResetTupleTable(estate->es_tupleTable, false);
	FreeExecutorState(estate);
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
	const char *resource_type;
	int		   *changed;
	int			nchanged = 0;
	int			id_col,
				project_col,
				deleted_col;
	bool		isnull;
	Datum		values[Natts_events];
	bool		nulls[Natts_events];
	pg_uuid_t	me;
	Jsonb	   *changes;
	Relation	events;
	int64		event_id;
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

	/* A restore loads the events table as dumped: nothing new to record. */
	if (ta_restoring())
		return PointerGetDatum(NULL);

	trigger = trigdata->tg_trigger;
	rel = trigdata->tg_relation;
	desc = RelationGetDescr(rel);
	if (trigger->tgnargs < 3)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("record_event: trigger \"%s\" needs at least 3 arguments, got %d",
						trigger->tgname, trigger->tgnargs),
				 errhint("Arguments: resource type, id column, project id column [, columns not recorded ...].")));
	resource_type = trigger->tgargs[0];
	if (strcmp(resource_type, "project") != 0 && strcmp(resource_type, "member") != 0 &&
		strcmp(resource_type, "task") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("record_event: trigger \"%s\" names resource type \"%s\"", trigger->tgname, resource_type),
				 errhint("The resource type is project, member or task.")));
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
	changed = palloc(sizeof(int) * Max(desc->natts, 1));
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
				changed[nchanged++] = i + 1;
		}
		/* A no-op update (at most the stamps moved) is not an event. */
		if (nchanged == 0)
			return PointerGetDatum(NULL);
	}

	if (oldtup == NULL)
		changes = row_changes(newtup, desc, trigger);
	else if (newtup == NULL)
		changes = row_changes(oldtup, desc, trigger);
	else
		changes = diff_changes(oldtup, newtup, desc, changed, nchanged);

	/*
	 * The row, stored directly (heap and indexes): events are written only
	 * here, with values built here, so no API role needs any right on the
	 * table and no executor is started per event.
	 */
	memset(nulls, false, sizeof(nulls));
	keytup = newtup != NULL ? newtup : oldtup;
	event_id = next_event_id(events_sequence());
	values[Anum_events_id - 1] = Int64GetDatum(event_id);
	values[Anum_events_occurred_at - 1] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	values[Anum_events_xact_id - 1] = FullTransactionIdGetDatum(GetTopFullTransactionId());
	if (ta_current_user_id(&me))
		values[Anum_events_actor_id - 1] = UUIDPGetDatum(&me);
	else
		nulls[Anum_events_actor_id - 1] = true;
	values[Anum_events_resource_type - 1] = CStringGetTextDatum(resource_type);
	values[Anum_events_resource_id - 1] = heap_getattr(keytup, id_col, desc, &nulls[Anum_events_resource_id - 1]);
	values[Anum_events_project_id - 1] = heap_getattr(keytup, project_col, desc, &nulls[Anum_events_project_id - 1]);
	if (nulls[Anum_events_resource_id - 1] || nulls[Anum_events_project_id - 1])
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("record_event: the id and project id of a row of \"%s\" must not be null",
						RelationGetRelationName(rel))));
	values[Anum_events_action - 1] = CStringGetTextDatum(action);
	values[Anum_events_changes - 1] = JsonbPGetDatum(changes);

	events = table_open(events_table(), RowExclusiveLock);
	store_event(events, values, nulls);
	table_close(events, RowExclusiveLock);

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
	PG_RETURN_INT64((int64) bound);
}
