/*
 * stamp.c
 *		task_api.stamp_row(): the bookkeeping columns of a versioned row.
 *
 * A BEFORE INSERT OR UPDATE row trigger, written the contrib/moddatetime
 * way, whose arguments name the columns it maintains:
 *
 *   stamp_row(updated_at_col, version_col
 *             [, status_col, done_value, completed_at_col])
 *
 * On INSERT the version is 1 and updated_at is now().  On UPDATE, if any
 * other column changed, the version goes up by one and updated_at becomes
 * now(); an UPDATE that changes nothing keeps both, so a retried PATCH does
 * not invalidate ETags.  With the optional arguments, completed_at is set
 * when status becomes done_value and cleared when it leaves it.
 * now() is the coordinator's on a Citus worker (ta_citus_request_start()).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "citus.h"
#include "task_api.h"

/* Attribute number of a named column, checked against the expected type. */
static int
column_of(Relation rel, const char *trigname, const char *colname, Oid want_type)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			attnum = SPI_fnumber(desc, colname);

	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" named by trigger \"%s\" does not exist in \"%s\"",
						colname, trigname, RelationGetRelationName(rel))));
	if (want_type != InvalidOid && SPI_gettypeid(desc, attnum) != want_type)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of \"%s\" must be of type %s for trigger \"%s\"",
						colname, RelationGetRelationName(rel),
						format_type_be(want_type), trigname)));
	return attnum;
}

/* Is the column's value equal to the given text, by its output function? */
static bool
value_is(HeapTuple tuple, TupleDesc desc, int attnum, const char *text)
{
	char	   *value = SPI_getvalue(tuple, desc, attnum);
	bool		result = value != NULL && strcmp(value, text) == 0;

	if (value)
		pfree(value);
	return result;
}

/* Did any column other than the maintained ones change? */
static bool
row_changed(HeapTuple oldtup, HeapTuple newtup, TupleDesc desc,
			const int *skip, int nskip)
{
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		int			attnum = i + 1;
		bool		oldnull,
					newnull;
		Datum		oldval,
					newval;
		bool		skipped = false;

		if (att->attisdropped)
			continue;
		for (int k = 0; k < nskip; k++)
			if (skip[k] == attnum)
				skipped = true;
		if (skipped)
			continue;

		oldval = heap_getattr(oldtup, attnum, desc, &oldnull);
		newval = heap_getattr(newtup, attnum, desc, &newnull);
		if (oldnull != newnull)
			return true;
		if (!oldnull && !datum_image_eq(oldval, newval, att->attbyval, att->attlen))
			return true;
	}
	return false;
}

PG_FUNCTION_INFO_V1(task_api_stamp_row);

/* Maintain updated_at, version and (optionally) completed_at. */
Datum
task_api_stamp_row(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Trigger    *trigger;
	Relation	rel;
	TupleDesc	desc;
	HeapTuple	newtup;
	HeapTuple	oldtup = NULL;
	char	  **args;
	int			cols[3];
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	int			ncols = 2;
	int			attnum_updated,
				attnum_version,
				attnum_status = 0,
				attnum_completed = 0;
	TimestampTz now = ta_citus_request_start();

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("stamp_row: not called by trigger manager")));
	if (!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("stamp_row: must be fired BEFORE, FOR EACH ROW")));
	if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) ||
		TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("stamp_row: must be fired for INSERT or UPDATE")));

	/* A restore keeps the dumped stamps. */
	if (ta_restoring())
		return PointerGetDatum(TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) ?
							   trigdata->tg_trigtuple : trigdata->tg_newtuple);

	trigger = trigdata->tg_trigger;
	rel = trigdata->tg_relation;
	desc = RelationGetDescr(rel);
	args = trigger->tgargs;
	if (trigger->tgnargs != 2 && trigger->tgnargs != 5)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("stamp_row: trigger \"%s\" needs 2 or 5 arguments, got %d",
						trigger->tgname, trigger->tgnargs),
				 errhint("Arguments: updated_at column, version column [, status column, done value, completed_at column].")));

	attnum_updated = column_of(rel, trigger->tgname, args[0], TIMESTAMPTZOID);
	attnum_version = column_of(rel, trigger->tgname, args[1], INT4OID);
	if (trigger->tgnargs == 5)
	{
		attnum_status = column_of(rel, trigger->tgname, args[2], InvalidOid);
		attnum_completed = column_of(rel, trigger->tgname, args[4], TIMESTAMPTZOID);
	}

	cols[0] = attnum_updated;
	cols[1] = attnum_version;
	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
	{
		newtup = trigdata->tg_trigtuple;
		values[0] = TimestampTzGetDatum(now);
		values[1] = Int32GetDatum(1);
	}
	else
	{
		bool		isnull;
		int32		version;
		int			skip[3] = {attnum_updated, attnum_version, attnum_completed};

		oldtup = trigdata->tg_trigtuple;
		newtup = trigdata->tg_newtuple;
		if (!row_changed(oldtup, newtup, desc, skip, attnum_completed ? 3 : 2))
		{
			/* Nothing changed: keep the stamps exactly as they were. */
			values[0] = heap_getattr(oldtup, attnum_updated, desc, &nulls[0]);
			values[1] = heap_getattr(oldtup, attnum_version, desc, &nulls[1]);
			if (attnum_completed)
			{
				cols[2] = attnum_completed;
				values[2] = heap_getattr(oldtup, attnum_completed, desc, &nulls[2]);
				ncols = 3;
			}
			return PointerGetDatum(heap_modify_tuple_by_cols(newtup, desc, ncols,
															 cols, values, nulls));
		}
		version = DatumGetInt32(heap_getattr(oldtup, attnum_version, desc, &isnull));
		if (isnull)
			version = 0;
		if (version == PG_INT32_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("version of a row in \"%s\" is out of range",
							RelationGetRelationName(rel))));
		values[0] = TimestampTzGetDatum(now);
		values[1] = Int32GetDatum(version + 1);
	}

	if (attnum_completed)
	{
		bool		now_done = value_is(newtup, desc, attnum_status, args[3]);

		cols[2] = attnum_completed;
		ncols = 3;
		if (!now_done)
		{
			values[2] = (Datum) 0;
			nulls[2] = true;
		}
		else if (oldtup != NULL && value_is(oldtup, desc, attnum_status, args[3]))
		{
			/* Still done: keep the original completion time. */
			values[2] = heap_getattr(oldtup, attnum_completed, desc, &nulls[2]);
		}
		else
			values[2] = TimestampTzGetDatum(now);
	}

	return PointerGetDatum(heap_modify_tuple_by_cols(newtup, desc, ncols,
													 cols, values, nulls));
}
