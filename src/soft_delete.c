/*
 * soft_delete.c
 *		task_api.soft_delete(): turn DELETE into "move to the trash".
 *
 * A BEFORE DELETE row trigger, in the style of contrib/moddatetime, for any
 * table with a deletion timestamp column:
 *
 *   soft_delete(deleted_at_col [, deleted_by_col])
 *
 * Deleting a live row (deleted_at IS NULL) instead sets deleted_at to now()
 * and deleted_by to the caller (task_api.current_user_id() for a uuid
 * column, the session user's name for a text column), and the row stays.
 * Deleting a row already in the trash deletes it for real: that is how
 * purging works.  The update runs as the caller, so row-level security and
 * the table's other triggers apply to it.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/uuid.h"

#include "owner_spi.h"
#include "request.h"

/* The UPDATE of each soft_delete trigger, prepared once per backend. */
typedef struct SoftDeletePlan
{
	Oid			tgoid;			/* hash key */
	SPIPlanPtr	plan;
} SoftDeletePlan;

static HTAB *plans = NULL;

/* Where this trigger's UPDATE plan is kept (NULL until first use). */
static SPIPlanPtr *
soft_delete_plan(Oid tgoid)
{
	SoftDeletePlan *entry;
	bool		found;

	if (plans == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(SoftDeletePlan);
		plans = hash_create("task_api soft_delete plans", 16, &ctl, HASH_ELEM | HASH_BLOBS);
	}
	entry = hash_search(plans, &tgoid, HASH_ENTER, &found);
	if (!found)
		entry->plan = NULL;
	return &entry->plan;
}

PG_FUNCTION_INFO_V1(task_api_soft_delete);

/* Attribute number of a named column of a given type category, or an error. */
static int
soft_delete_column(Relation rel, const char *trigname, const char *colname)
{
	int			attnum = SPI_fnumber(RelationGetDescr(rel), colname);

	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" named by trigger \"%s\" does not exist in \"%s\"",
						colname, trigname, RelationGetRelationName(rel))));
	return attnum;
}

/* Move the row to the trash, or let a trashed row be deleted. */
Datum
task_api_soft_delete(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Trigger    *trigger;
	Relation	rel;
	TupleDesc	desc;
	HeapTuple	row;
	int			at_col,
				by_col = 0;
	Oid			at_type,
				by_type = InvalidOid;
	bool		isnull;
	StringInfoData sql;
	Oid			argtypes[2];
	Datum		args[2];
	char		argnulls[3] = "  ";
	int			nargs = 0;
	pg_uuid_t	me;
	TaSpiQuery	q = {.argtypes = argtypes,.args = args,.nulls = argnulls,.read_only = false};

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("soft_delete: not called by trigger manager")));
	if (!TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) || !TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("soft_delete: must be fired BEFORE DELETE, FOR EACH ROW")));

	trigger = trigdata->tg_trigger;
	rel = trigdata->tg_relation;
	desc = RelationGetDescr(rel);
	row = trigdata->tg_trigtuple;
	if (trigger->tgnargs < 1 || trigger->tgnargs > 2)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("soft_delete: trigger \"%s\" needs 1 or 2 arguments, got %d",
						trigger->tgname, trigger->tgnargs),
				 errhint("Arguments: deleted_at column [, deleted_by column].")));

	at_col = soft_delete_column(rel, trigger->tgname, trigger->tgargs[0]);
	at_type = SPI_gettypeid(desc, at_col);
	if (at_type != TIMESTAMPTZOID && at_type != TIMESTAMPOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of \"%s\" must be a timestamp for trigger \"%s\"",
						trigger->tgargs[0], RelationGetRelationName(rel), trigger->tgname)));
	if (trigger->tgnargs == 2)
	{
		by_col = soft_delete_column(rel, trigger->tgname, trigger->tgargs[1]);
		by_type = SPI_gettypeid(desc, by_col);
		if (by_type != UUIDOID && by_type != TEXTOID && by_type != NAMEOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of \"%s\" must be uuid or text for trigger \"%s\"",
							trigger->tgargs[1], RelationGetRelationName(rel), trigger->tgname)));
	}

	/* Already in the trash: this DELETE is a purge. */
	(void) heap_getattr(row, at_col, desc, &isnull);
	if (!isnull)
		return PointerGetDatum(row);

	initStringInfo(&sql);
	appendStringInfo(&sql, "UPDATE ONLY %s SET %s = pg_catalog.now()",
					 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												RelationGetRelationName(rel)),
					 quote_identifier(trigger->tgargs[0]));
	if (by_col)
	{
		appendStringInfo(&sql, ", %s = $1", quote_identifier(trigger->tgargs[1]));
		argtypes[nargs] = by_type == UUIDOID ? UUIDOID : TEXTOID;
		if (by_type == UUIDOID)
		{
			if (ta_current_user_id(&me))
				args[nargs] = UUIDPGetDatum(&me);
			else
			{
				args[nargs] = (Datum) 0;
				argnulls[nargs] = 'n';
			}
		}
		else
			args[nargs] = CStringGetTextDatum(GetUserNameFromId(GetSessionUserId(), false));
		nargs++;
	}
	appendStringInfo(&sql, " WHERE ctid = $%d", nargs + 1);
	argtypes[nargs] = TIDOID;
	args[nargs] = PointerGetDatum(&row->t_self);
	nargs++;

	q.plan = soft_delete_plan(trigger->tgoid);
	q.sql = sql.data;
	q.nargs = nargs;
	if (ta_spi_run(&q) != SPI_OK_UPDATE)
		elog(ERROR, "soft_delete: moving the row to the trash failed");

	/* The row stays; nothing is deleted. */
	return PointerGetDatum(NULL);
}
