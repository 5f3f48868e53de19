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
 * to task_api.events in the same transaction and hands the event id to
 * the notifier, which sends NOTIFY task_api_events once the transaction has
 * committed (event_notify.c).
 * An update records only the columns that changed, with old and new values;
 * an update that changed nothing but the unrecorded columns (the stamps
 * updated_at and version) records nothing.  The row is built here (its id
 * drawn at once, in order) and buffered; the events
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
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/json.h"
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
 * Column values as to_jsonb() makes them, without its per-value catalogue
 * lookups: to_jsonb() looks up each value's type category and output
 * function on every call, which made the event's changes the costliest
 * part of an inserted row's event.  The conversion of each column is
 * resolved once per table and kept (below) and repeats
 * to_jsonb()'s own rules for the built-in types a table of the API has;
 * every other type (enums, domains, arrays, composites: where to_jsonb()
 * looks further, e.g. for a cast to json) goes through to_jsonb() itself.
 */
typedef enum ConvKind
{
	CONV_STRING,				/* the output function's text (uuid, text) */
	CONV_NUMBER,				/* the output function's text as a numeric (integers) */
	CONV_BOOL,
	CONV_DATETIME,				/* JsonEncodeDateTime() (date, timestamp[tz]) */
	CONV_TO_JSONB				/* to_jsonb() itself */
} ConvKind;

typedef struct ColumnConv
{
	ConvKind	kind;
	bool		unrecorded;		/* named by the trigger: not in the changes */
	FmgrInfo	fn;				/* the output function, or to_jsonb() */
} ColumnConv;

typedef struct RowConv
{
	Oid			trigger_oid;
	Oid			tdtypeid;
	int			natts;
	int			nrecorded;
	int		   *order;			/* recorded attnums, in jsonb's key order */
	ColumnConv	cols[FLEXIBLE_ARRAY_MEMBER];
} RowConv;

/* Is name one of the trigger's unrecorded columns? */
static bool
unrecorded(Trigger *trigger, const char *name, int len)
{
	for (int k = 3; k < trigger->tgnargs; k++)
		if ((int) strlen(trigger->tgargs[k]) == len && memcmp(trigger->tgargs[k], name, len) == 0)
			return true;
	return false;
}

/* How to_jsonb() converts a value of att's type, in cxt. */
static void
column_conv(Form_pg_attribute att, ColumnConv *conv, MemoryContext cxt)
{
	Oid			outfn;
	bool		varlena;

	switch (att->atttypid)
	{
		case UUIDOID:
		case TEXTOID:
			conv->kind = CONV_STRING;
			break;
		case INT2OID:
		case INT4OID:
		case INT8OID:
			conv->kind = CONV_NUMBER;
			break;
		case BOOLOID:
			conv->kind = CONV_BOOL;
			return;
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			conv->kind = CONV_DATETIME;
			return;
		default:
			/* to_jsonb(anyelement) learns the argument's type from its call node. */
			conv->kind = CONV_TO_JSONB;
			fmgr_info_cxt(F_TO_JSONB, &conv->fn, cxt);
			conv->fn.fn_expr = (Node *) makeFuncExpr(F_TO_JSONB, JSONBOID,
													 list_make1(makeNullConst(att->atttypid, att->atttypmod,
																			  att->attcollation)),
													 InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
			return;
	}
	getTypeOutputInfo(att->atttypid, &outfn, &varlena);
	fmgr_info_cxt(outfn, &conv->fn, cxt);
}

/* jsonb's order of object keys: shorter first, then bytewise (jsonb_util.c). */
static int
key_order(const void *a, const void *b, void *arg)
{
	TupleDesc	desc = (TupleDesc) arg;
	const char *na = NameStr(TupleDescAttr(desc, *(const int *) a - 1)->attname);
	const char *nb = NameStr(TupleDescAttr(desc, *(const int *) b - 1)->attname);
	size_t		la = strlen(na);
	size_t		lb = strlen(nb);

	if (la != lb)
		return la < lb ? -1 : 1;
	return memcmp(na, nb, la);
}

/*
 * The conversions of each trigger's table are kept for the backend's life,
 * a few tables' worth, each in a context of its own: worked out once per
 * statement they cost a tenth of a single-row insert's event (the output
 * functions looked up, the keys sorted).  A change to the table (a column
 * added, dropped or retyped; a trigger replaced) sends a relcache
 * invalidation, which marks its entry stale; a stale entry is freed and made
 * again at its next use, not in the callback (which may run while a
 * conversion is in use, at any lock taken).
 */
#define CONV_CACHE_SIZE 8

typedef struct ConvEntry
{
	Oid			relid;			/* InvalidOid: a free slot */
	Oid			trigger_oid;
	bool		stale;
	MemoryContext cxt;
	RowConv    *rc;
} ConvEntry;

static ConvEntry conv_cache[CONV_CACHE_SIZE];
static int	conv_cache_next = 0;	/* the slot taken next when all are in use */
static bool conv_callback_registered = false;

static void
conv_relcache_callback(Datum arg, Oid relid)
{
	for (int i = 0; i < CONV_CACHE_SIZE; i++)
		if (conv_cache[i].relid != InvalidOid && (relid == InvalidOid || relid == conv_cache[i].relid))
			conv_cache[i].stale = true;
}

/* The conversions of the trigger's table, made in cxt. */
static RowConv *
make_row_conv(TupleDesc desc, Trigger *trigger, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	RowConv    *rc = palloc0(offsetof(RowConv, cols) + sizeof(ColumnConv) * Max(desc->natts, 1));

	rc->trigger_oid = trigger->tgoid;
	rc->tdtypeid = desc->tdtypeid;
	rc->natts = desc->natts;
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		rc->cols[i].unrecorded = unrecorded(trigger, NameStr(att->attname),
											strlen(NameStr(att->attname)));
		column_conv(att, &rc->cols[i], cxt);
	}
	/* A whole row's keys pushed in jsonb's order leave it nothing to sort. */
	rc->order = palloc(sizeof(int) * Max(desc->natts, 1));
	for (int i = 0; i < desc->natts; i++)
		if (!TupleDescAttr(desc, i)->attisdropped && !rc->cols[i].unrecorded)
			rc->order[rc->nrecorded++] = i + 1;
	qsort_arg(rc->order, rc->nrecorded, sizeof(int), key_order, desc);
	MemoryContextSwitchTo(old);
	return rc;
}

/*
 * The conversions of the trigger's table: the backend's kept ones, else made
 * and kept.  Valid until the next call (which may replace a stale entry).
 */
static RowConv *
row_conv(Relation rel, Trigger *trigger)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Oid			relid = RelationGetRelid(rel);
	ConvEntry  *slot = NULL;

	if (!conv_callback_registered)
	{
		CacheRegisterRelcacheCallback(conv_relcache_callback, (Datum) 0);
		conv_callback_registered = true;
	}
	for (int i = 0; i < CONV_CACHE_SIZE; i++)
	{
		ConvEntry  *e = &conv_cache[i];

		if (e->relid != relid || e->trigger_oid != trigger->tgoid)
			continue;
		if (!e->stale && e->rc->tdtypeid == desc->tdtypeid && e->rc->natts == desc->natts)
			return e->rc;
		slot = e;				/* stale: made again in its place */
		break;
	}
	if (slot == NULL)
	{
		for (int i = 0; i < CONV_CACHE_SIZE && slot == NULL; i++)
			if (conv_cache[i].relid == InvalidOid)
				slot = &conv_cache[i];
		if (slot == NULL)
		{
			slot = &conv_cache[conv_cache_next];
			conv_cache_next = (conv_cache_next + 1) % CONV_CACHE_SIZE;
		}
	}
	if (slot->cxt != NULL)
		MemoryContextDelete(slot->cxt);
	/* Left empty if making the conversions fails. */
	slot->relid = InvalidOid;
	slot->rc = NULL;
	slot->cxt = AllocSetContextCreate(TopMemoryContext, "task_api event conversions",
									  ALLOCSET_SMALL_SIZES);
	slot->rc = make_row_conv(desc, trigger, slot->cxt);
	slot->relid = relid;
	slot->trigger_oid = trigger->tgoid;
	slot->stale = false;
	return slot->rc;
}

/* A non-null value as to_jsonb() makes it (src/backend/utils/adt/jsonb.c, datum_to_jsonb). */
static void
convert_value(ColumnConv *conv, Oid typid, Datum value, JsonbValue *v)
{
	char	   *str;

	switch (conv->kind)
	{
		case CONV_BOOL:
			v->type = jbvBool;
			v->val.boolean = DatumGetBool(value);
			return;
		case CONV_DATETIME:
			str = JsonEncodeDateTime(NULL, value, typid, NULL);
			break;
		case CONV_NUMBER:
			str = OutputFunctionCall(&conv->fn, value);
			v->type = jbvNumeric;
			v->val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(str),
																 ObjectIdGetDatum(InvalidOid),
																 Int32GetDatum(-1)));
			return;
		case CONV_STRING:
			str = OutputFunctionCall(&conv->fn, value);
			break;
		case CONV_TO_JSONB:
		default:
			{
				Jsonb	   *jb = DatumGetJsonbP(FunctionCall1(&conv->fn, value));

				v->type = jbvBinary;
				v->val.binary.data = &jb->root;
				v->val.binary.len = VARSIZE(jb) - VARHDRSZ;
				return;
			}
	}
	v->type = jbvString;
	v->val.string.val = str;
	v->val.string.len = strlen(str);
}

/* Push key: the column's value as JSON (to_jsonb's conversions). */
static void
push_value(JsonbParseState **state, const char *key, HeapTuple tuple, TupleDesc desc, int attnum,
		   RowConv *rc)
{
	JsonbValue	k,
				v;
	bool		isnull;
	Datum		value = heap_getattr(tuple, attnum, desc, &isnull);

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(state, WJB_KEY, &k);
	if (isnull)
		v.type = jbvNull;
	else
		convert_value(&rc->cols[attnum - 1], TupleDescAttr(desc, attnum - 1)->atttypid, value, &v);
	pushJsonbValue(state, WJB_VALUE, &v);
}

/*
 * The whole row without the unrecorded columns (created, purged): the
 * object to_jsonb(row) makes, minus those keys (pushJsonbValue() orders
 * the keys as jsonb does; they come in that order already).
 */
static Jsonb *
row_changes(HeapTuple tuple, TupleDesc desc, RowConv *rc)
{
	JsonbParseState *state = NULL;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < rc->nrecorded; i++)
		push_value(&state, NameStr(TupleDescAttr(desc, rc->order[i] - 1)->attname),
				   tuple, desc, rc->order[i], rc);
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
}

/* {"column": {"old": ..., "new": ...}} for the changed columns. */
static Jsonb *
diff_changes(HeapTuple oldtup, HeapTuple newtup, TupleDesc desc, const int *changed, int nchanged,
			 RowConv *rc)
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
		push_value(&state, "old", oldtup, desc, changed[i], rc);
		push_value(&state, "new", newtup, desc, changed[i], rc);
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
changed_columns(const EventChange *change, TupleDesc desc, const RowConv *rc, int *changed)
{
	int			nchanged = 0;

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		bool		oldnull,
					newnull;
		Datum		oldval,
					newval;

		if (att->attisdropped || rc->cols[i].unrecorded)
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
event_changes(const EventChange *change, TupleDesc desc, RowConv *rc)
{
	int		   *changed;
	int			nchanged;

	if (change->oldtup == NULL)
		return row_changes(change->newtup, desc, rc);
	if (change->newtup == NULL)
		return row_changes(change->oldtup, desc, rc);
	changed = palloc(sizeof(int) * Max(desc->natts, 1));
	nchanged = changed_columns(change, desc, rc, changed);
	if (nchanged == 0)
		return NULL;
	return diff_changes(change->oldtup, change->newtup, desc, changed, nchanged, rc);
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

/* Append the event of one row change to task_api.events; the notifier wakes listeners after commit. */
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
	changes = event_changes(&change, RelationGetDescr(rel),
							row_conv(rel, trigdata->tg_trigger));
	if (changes == NULL)
		return PointerGetDatum(NULL);

	/*
	 * The row, buffered and stored directly at the statement's end (heap and
	 * indexes, events_store.c): events are written only here, with values
	 * built here, so no API role needs any right on the table and no
	 * executor is started per event.
	 */
	event_id = event_row(rel, &target, &change, changes, &me, values, nulls);
	ta_events_store(rel, values, nulls);
	/* NOTIFY task_api_events once the transaction has committed (event_notify.c). */
	ta_event_notify(event_id);
	return PointerGetDatum(NULL);
}
