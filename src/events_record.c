/*
 * events_record.c
 *		The transactional outbox, recording: task_api.record_event().
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
 * updated_at and version) records nothing.  The row is built here (its id
 * drawn and its NOTIFY queued at once, in order) and buffered; the events
 * of a statement are written together when it ends (events_store.c),
 * through the executor's single-row path (ExecSimpleRelationInsert, what
 * logical replication's apply worker uses): the table's CHECK and NOT NULL
 * constraints are checked, every index is maintained (expression, partial
 * and deferred unique ones included) and triggers on the events table
 * fire; no plan, no SPI.  Nothing but this trigger writes events, so
 * no API role has any right on the table: the row is written without
 * privilege checks and without row-level security (events has no INSERT
 * policy on purpose), and the id is drawn from the sequence without
 * checking the invoking role's USAGE on it.
 *
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
#include "events_internal.h"
#include "request.h"
#include "task_api.h"
#include "trace.h"

/* What a record_event trigger's arguments name, checked once per call. */
typedef struct EventTarget
{
	const char *resource_type;	/* project, member or task */
	int			id_col;
	int			project_col;
	int			deleted_col;	/* deleted_at, or 0 */
} EventTarget;

/* The row versions of one change and what kind of change it is. */
typedef struct EventChange
{
	HeapTuple	oldtup;			/* NULL for an insert */
	HeapTuple	newtup;			/* NULL for a delete */
	const char *action;
} EventChange;

/*
 * A row as jsonb: {"column": value, ...}, to_jsonb(row) built directly
 * (the same value as row_to_json(row)::jsonb, without the JSON text).
 */
static Jsonb *
row_jsonb(HeapTuple tuple, TupleDesc desc)
{
	FmgrInfo	flinfo;

	/* to_jsonb(anyelement) learns the row type from its call node. */
	fmgr_info(F_TO_JSONB, &flinfo);
	flinfo.fn_expr = (Node *) makeFuncExpr(F_TO_JSONB, JSONBOID,
										   list_make1(makeNullConst(desc->tdtypeid, -1, InvalidOid)),
										   InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	return DatumGetJsonbP(FunctionCall1(&flinfo, heap_copy_tuple_as_datum(tuple, desc)));
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


/* Refuse a record_event attached other than AFTER ROW on INSERT, UPDATE or DELETE. */
static void
check_record_trigger(FunctionCallInfo fcinfo)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("record_event: not called by trigger manager")));
	if (!TRIGGER_FIRED_AFTER(trigdata->tg_event) || !TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("record_event: must be fired AFTER INSERT, UPDATE or DELETE, FOR EACH ROW")));
}

/* Read the trigger's arguments: a bad one is an error naming the trigger. */
static void
event_target(Relation rel, Trigger *trigger, EventTarget *target)
{
	if (trigger->tgnargs < 3)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("record_event: trigger \"%s\" needs at least 3 arguments, got %d",
						trigger->tgname, trigger->tgnargs),
				 errhint("Arguments: resource type, id column, project id column [, columns not recorded ...].")));
	target->resource_type = trigger->tgargs[0];
	if (strcmp(target->resource_type, "project") != 0 && strcmp(target->resource_type, "member") != 0 &&
		strcmp(target->resource_type, "task") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("record_event: trigger \"%s\" names resource type \"%s\"",
						trigger->tgname, target->resource_type),
				 errhint("The resource type is project, member or task.")));
	target->id_col = uuid_column(rel, trigger, trigger->tgargs[1]);
	target->project_col = uuid_column(rel, trigger, trigger->tgargs[2]);
	target->deleted_col = SPI_fnumber(RelationGetDescr(rel), "deleted_at");
	if (target->deleted_col <= 0)
		target->deleted_col = 0;
}

/* Is the row version in the trash (deleted_at set)? */
static bool
in_trash(HeapTuple tuple, TupleDesc desc, int deleted_col)
{
	bool		isnull = true;

	if (deleted_col)
		(void) heap_getattr(tuple, deleted_col, desc, &isnull);
	return !isnull;
}

/* The row versions and the action: created, purged, deleted, restored or updated. */
static void
event_change(TriggerData *trigdata, const EventTarget *target, EventChange *change)
{
	TupleDesc	desc = RelationGetDescr(trigdata->tg_relation);
	bool		was_deleted;
	bool		is_deleted;

	change->oldtup = NULL;
	change->newtup = NULL;
	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
	{
		change->newtup = trigdata->tg_trigtuple;
		change->action = "created";
		return;
	}
	change->oldtup = trigdata->tg_trigtuple;
	if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
	{
		change->action = "purged";
		return;
	}
	change->newtup = trigdata->tg_newtuple;
	was_deleted = in_trash(change->oldtup, desc, target->deleted_col);
	is_deleted = in_trash(change->newtup, desc, target->deleted_col);
	change->action = (!was_deleted && is_deleted) ? "deleted" :
		(was_deleted && !is_deleted) ? "restored" : "updated";
}

/* The attribute numbers of an update's changed columns, other than the unrecorded ones. */
static int
changed_columns(const EventChange *change, TupleDesc desc, Trigger *trigger, int *changed)
{
	int			nchanged = 0;

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		bool		oldnull,
					newnull;
		Datum		oldval,
					newval;

		if (att->attisdropped ||
			unrecorded(trigger, NameStr(att->attname), strlen(NameStr(att->attname))))
			continue;
		oldval = heap_getattr(change->oldtup, i + 1, desc, &oldnull);
		newval = heap_getattr(change->newtup, i + 1, desc, &newnull);
		if (oldnull != newnull ||
			(!oldnull && !datum_image_eq(oldval, newval, att->attbyval, att->attlen)))
			changed[nchanged++] = i + 1;
	}
	return nchanged;
}

/*
 * The event's changes: the whole row for a create or purge, old and new
 * values of the changed columns otherwise; NULL for a no-op update (at most
 * the unrecorded stamps moved), which is no event.
 */
static Jsonb *
event_changes(const EventChange *change, TupleDesc desc, Trigger *trigger)
{
	int		   *changed;
	int			nchanged;

	if (change->oldtup == NULL)
		return row_changes(change->newtup, desc, trigger);
	if (change->newtup == NULL)
		return row_changes(change->oldtup, desc, trigger);
	changed = palloc(sizeof(int) * Max(desc->natts, 1));
	nchanged = changed_columns(change, desc, trigger, changed);
	if (nchanged == 0)
		return NULL;
	return diff_changes(change->oldtup, change->newtup, desc, changed, nchanged);
}

/* The events row: its id (drawn now, in order), who, what, and the changes. */
static int64
event_row(Relation rel, const EventTarget *target, const EventChange *change,
		  Jsonb *changes, pg_uuid_t *me, Datum *values, bool *nulls)
{
	TupleDesc	desc = RelationGetDescr(rel);
	HeapTuple	keytup = change->newtup != NULL ? change->newtup : change->oldtup;
	int64		event_id = ta_events_next_id();

	memset(nulls, false, sizeof(bool) * Natts_events);
	values[Anum_events_id - 1] = Int64GetDatum(event_id);
	values[Anum_events_occurred_at - 1] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	values[Anum_events_xact_id - 1] = FullTransactionIdGetDatum(GetTopFullTransactionId());
	if (ta_current_user_id(me))
		values[Anum_events_actor_id - 1] = UUIDPGetDatum(me);
	else
		nulls[Anum_events_actor_id - 1] = true;
	values[Anum_events_resource_type - 1] = CStringGetTextDatum(target->resource_type);
	values[Anum_events_resource_id - 1] = heap_getattr(keytup, target->id_col, desc,
													   &nulls[Anum_events_resource_id - 1]);
	values[Anum_events_project_id - 1] = heap_getattr(keytup, target->project_col, desc,
													  &nulls[Anum_events_project_id - 1]);
	if (nulls[Anum_events_resource_id - 1] || nulls[Anum_events_project_id - 1])
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("record_event: the id and project id of a row of \"%s\" must not be null",
						RelationGetRelationName(rel))));
	values[Anum_events_action - 1] = CStringGetTextDatum(change->action);
	values[Anum_events_changes - 1] = JsonbPGetDatum(changes);
	values[Anum_events_request_id - 1] = ta_request_id() != NULL ? CStringGetTextDatum(ta_request_id()) : (Datum) 0;
	nulls[Anum_events_request_id - 1] = ta_request_id() == NULL;
	return event_id;
}

PG_FUNCTION_INFO_V1(task_api_record_event);

/* Append the event of one row change to task_api.events and queue its NOTIFY. */
Datum
task_api_record_event(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	EventTarget target;
	EventChange change;
	Jsonb	   *changes;
	Datum		values[Natts_events];
	bool		nulls[Natts_events];
	pg_uuid_t	me;
	int64		event_id;

	check_record_trigger(fcinfo);
	/* A restore loads the events table as dumped: nothing new to record. */
	if (ta_restoring())
		return PointerGetDatum(NULL);

	rel = trigdata->tg_relation;
	event_target(rel, trigdata->tg_trigger, &target);
	event_change(trigdata, &target, &change);
	changes = event_changes(&change, RelationGetDescr(rel), trigdata->tg_trigger);
	if (changes == NULL)
		return PointerGetDatum(NULL);

	/*
	 * The row, buffered and stored directly at the statement's end (heap and
	 * indexes, events_store.c): events are written only here, with values
	 * built here, so no API role needs any right on the table and no
	 * executor is started per event.
	 */
	event_id = event_row(rel, &target, &change, changes, &me, values, nulls);
	ta_events_store(values, nulls);
	/* NOTIFY task_api_events once the transaction has committed (event_notify.c). */
	ta_event_notify(event_id);
	return PointerGetDatum(NULL);
}
