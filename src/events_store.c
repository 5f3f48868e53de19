/*
 * events_store.c
 *		The transactional outbox, storing: one row into task_api.events
 *		through the executor's single-row path (ExecSimpleRelationInsert,
 *		what logical replication's apply worker uses): CHECK and NOT NULL
 *		constraints, every index and the table's own triggers, but no plan,
 *		no SPI, no privilege checks and no row-level security (nothing but
 *		record_event() writes events; see events_record.c).
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

#include "events_internal.h"
#include "metrics.h"
#include "owner_spi.h"

/* task_api.events. */
static Oid
events_table(void)
{
	return ta_task_api_relid("events");
}


/* The columns of task_api.events, in order, as store_event() fills them. */
static const struct
{
	const char *name;
	Oid			type;
}			events_columns[Natts_events] = {
	{"id", INT8OID}, {"occurred_at", TIMESTAMPTZOID}, {"xact_id", XID8OID},
	{"actor_id", UUIDOID}, {"resource_type", TEXTOID}, {"resource_id", UUIDOID},
	{"project_id", UUIDOID}, {"action", TEXTOID}, {"changes", JSONBOID},
	{"request_id", TEXTOID}
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
					 errhint("The columns are id, occurred_at, xact_id, actor_id, resource_type, resource_id, project_id, action, changes, request_id.")));
		slot->tts_values[i] = values[k];
		slot->tts_isnull[i] = nulls[k];
		k++;
	}
	/* 0.1.0's table ends before request_id: still written, without it. */
	if (k != Natts_events && k != Anum_events_request_id - 1)
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

/* Open task_api.events, store the row, and close it again. */
void
ta_events_store(Datum *values, bool *nulls)
{
	Relation	events = table_open(events_table(), RowExclusiveLock);

	store_event(events, values, nulls);
	table_close(events, RowExclusiveLock);
	ta_metric_add(TA_METRIC_EVENTS_RECORDED, 1);
}
