/*
 * events_store.c
 *		The transactional outbox, storing: the events of a statement are
 *		buffered as record_event() builds them and written together when the
 *		statement ends, through the executor's single-row insert path
 *		(ExecSimpleRelationInsert, what logical replication's apply worker
 *		uses) under one executor state: CHECK and NOT NULL constraints, every
 *		index and the table's own triggers, but no plan, no SPI, no privilege
 *		checks and no row-level security (nothing but record_event() writes
 *		events; see events_record.c).
 *
 * When the buffer is written.  An ExecutorFinish hook writes it after each
 * statement's AFTER triggers have fired (so after every record_event() of
 * the statement; the events of statements run inside those triggers, such
 * as a foreign key's check, are written at their own end and never the
 * enclosing statement's), a full buffer (FLUSH_AT events) is written at once, and
 * whatever is left (a COPY, which has no ExecutorFinish) is written before
 * the transaction commits.  Each buffered event carries the subtransaction
 * it was recorded in (handed to the parent when a subtransaction commits):
 * a subtransaction that aborts drops its own, and a statement writes only
 * the events of the subtransaction it runs in, never an enclosing one's
 * (which an abort of the inner one would otherwise take back with it).
 * The ids were drawn, and the NOTIFYs queued, when the events were
 * recorded, in order; only the heap and index writes move.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/table.h"
#include "access/tableam.h"
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
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/uuid.h"

#include "citus.h"
#include "events_internal.h"
#include "metrics.h"
#include "events.h"
#include "owner_spi.h"

/* Events buffered before a flush writes them at once. */
#define FLUSH_AT 10000

/* One recorded event waiting to be written. */
typedef struct PendingEvent
{
	Datum		values[Natts_events];
	bool		nulls[Natts_events];
	SubTransactionId subid;		/* recorded in (or handed to) this subxact */
	int			depth;			/* finish_depth when it was recorded */
	Oid			target;			/* on a Citus worker: the events shard; else invalid */
} PendingEvent;

static MemoryContext pending_cxt = NULL;	/* child of TopTransactionContext */
static PendingEvent *pending = NULL;
static int	npending = 0;
/* Did this transaction record an event for task_api.events itself (not a shard)? */
static bool local_events = false;
static int	pending_cap = 0;
static int	flush_depth = 0;
/* How many statements' ExecutorFinish (AFTER triggers) are running. */
static int	finish_depth = 0;
static ExecutorFinish_hook_type prev_executor_finish = NULL;

/* task_api.events. */
static Oid
events_table(void)
{
	return ta_task_api_relid("events");
}


/* The columns of task_api.events, in order, as the flush fills them. */
static const struct
{
	const char *name;
	Oid			type;
	bool		byval;
	int			len;
}			events_columns[Natts_events] = {
	{"id", INT8OID, true, 8}, {"occurred_at", TIMESTAMPTZOID, true, 8},
	{"xact_id", XID8OID, true, 8}, {"actor_id", UUIDOID, false, UUID_LEN},
	{"resource_type", TEXTOID, false, -1}, {"resource_id", UUIDOID, false, UUID_LEN},
	{"project_id", UUIDOID, false, UUID_LEN}, {"action", TEXTOID, false, -1},
	{"changes", JSONBOID, false, -1},
	{"request_id", TEXTOID, false, -1}
};

/*
 * The table must be a plain table with exactly the columns this library
 * writes, in order (dropped ones aside): the executor path computes no
 * defaults.
 */
static void
check_events_table(Relation events)
{
	TupleDesc	desc = RelationGetDescr(events);
	int			k = 0;

	if (events->rd_rel->relkind != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("task_api.events must be a plain table")));
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		if (k == Natts_events || att->atttypid != events_columns[k].type ||
			strcmp(NameStr(att->attname), events_columns[k].name) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("task_api.events does not have the columns this library writes"),
					 errdetail("Column \"%s\" is not expected there.", NameStr(att->attname)),
					 errhint("The columns are id, occurred_at, xact_id, actor_id, resource_type, resource_id, project_id, action, changes, request_id.")));
		k++;
	}
	/* 0.1.0's table ends before request_id: still written, without it. */
	if (k != Natts_events && k != Anum_events_request_id - 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("task_api.events does not have the columns this library writes"),
				 errdetail("Column \"%s\" is missing.", events_columns[k].name)));
}

/* Put one event into the slot, in table column order (dropped columns NULL). */
static void
fill_slot(TupleTableSlot *slot, TupleDesc desc, const PendingEvent *ev)
{
	int			k = 0;

	ExecClearTuple(slot);
	for (int i = 0; i < desc->natts; i++)
	{
		if (TupleDescAttr(desc, i)->attisdropped)
		{
			slot->tts_values[i] = (Datum) 0;
			slot->tts_isnull[i] = true;
			continue;
		}
		slot->tts_values[i] = ev->values[k];
		slot->tts_isnull[i] = ev->nulls[k];
		k++;
	}
	ExecStoreVirtualTuple(slot);
}

/* Rows per heap_multi_insert() call (COPY's batches are of the same order). */
#define MULTI_INSERT_BATCH 1000

/*
 * Can the events go in with heap_multi_insert(): more than one, and no
 * row trigger or stored generated column on the table that the executor's
 * one-row path would have to run?
 */
static bool
multi_insert_ok(ResultRelInfo *rri, int n)
{
	TriggerDesc *td = rri->ri_TrigDesc;
	TupleConstr *constr = RelationGetDescr(rri->ri_RelationDesc)->constr;

	return n > 1 && rri->ri_RelationDesc->rd_rel->relkind == RELKIND_RELATION &&
		(td == NULL || (!td->trig_insert_before_row && !td->trig_insert_after_row &&
						!td->trig_insert_instead_row && !td->trig_insert_new_table)) &&
		(constr == NULL || !constr->has_generated_stored);
}

/*
 * The events, MULTI_INSERT_BATCH at a time: the heap rows with one
 * heap_multi_insert() per batch (a WAL record per page, not per row), then
 * each row's index entries, as COPY does; constraints checked per row as
 * ExecSimpleRelationInsert() would.
 */
static void
multi_insert(ResultRelInfo *rri, EState *estate, const PendingEvent *evs, int n)
{
	Relation	rel = rri->ri_RelationDesc;
	int			batch = Min(n, MULTI_INSERT_BATCH);
	TupleTableSlot **slots = palloc(sizeof(TupleTableSlot *) * batch);

	for (int i = 0; i < batch; i++)
		slots[i] = table_slot_create(rel, NULL);
	for (int done = 0; done < n; done += batch)
	{
		int			m = Min(batch, n - done);

		for (int i = 0; i < m; i++)
		{
			fill_slot(slots[i], RelationGetDescr(rel), &evs[done + i]);
			if (rel->rd_att->constr)
				ExecConstraints(rri, slots[i], estate);
		}
		table_multi_insert(rel, slots, m, estate->es_output_cid, 0, NULL);
		for (int i = 0; i < m; i++)
		{
			if (rri->ri_NumIndices > 0)
				list_free(ExecInsertIndexTuples(rri, slots[i], estate, false, false, NULL, NIL));
			ResetPerTupleExprContext(estate);
		}
	}
	for (int i = 0; i < batch; i++)
		ExecDropSingleTupleTableSlot(slots[i]);
	pfree(slots);
}

/*
 * Insert the events into task_api.events as the executor would for one
 * INSERT of them all (constraints, every index, the table's own triggers),
 * but without a plan, privilege checks or row-level security.
 */
static void
store_events(Relation events, const PendingEvent *evs, int n)
{
	EState	   *estate;
	RangeTblEntry *rte;
	ResultRelInfo *rri;
	TupleTableSlot *slot;

	check_events_table(events);
	estate = CreateExecutorState();
	slot = ExecInitExtraTupleSlot(estate, RelationGetDescr(events), &TTSOpsVirtual);
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

	if (multi_insert_ok(rri, n))
		multi_insert(rri, estate, evs, n);
	else
		for (int i = 0; i < n; i++)
		{
			fill_slot(slot, RelationGetDescr(events), &evs[i]);
			ExecSimpleRelationInsert(rri, estate, slot);
			ResetPerTupleExprContext(estate);
		}

	/* Fire the AFTER triggers of events, if anyone created some. */
	AfterTriggerEndQuery(estate);
	/* Closes the indexes and any relation the triggers opened. */
	ExecCloseResultRelations(estate);
	ExecResetTupleTable(estate->es_tupleTable, false);
	FreeExecutorState(estate);
}

/* Open the events' table, store the events, and close it again. */
static void
store_run(Oid target, const PendingEvent *evs, int n)
{
	Relation	events = table_open(OidIsValid(target) ? target : events_table(), RowExclusiveLock);

	store_events(events, evs, n);
	table_close(events, RowExclusiveLock);
	ta_metric_add(TA_METRIC_EVENTS_RECORDED, n);
}

/*
 * Store a batch: task_api.events, or on a Citus worker each run of events
 * recorded on one shard group into that group's events shard.
 */
static void
store_batch(const PendingEvent *evs, int n)
{
	int			start = 0;

	for (int i = 1; i <= n; i++)
	{
		if (i == n || evs[i].target != evs[start].target)
		{
			store_run(evs[start].target, &evs[start], i - start);
			start = i;
		}
	}
}

/*
 * Write the buffered events of the current subtransaction (the tail of the
 * buffer; an enclosing subtransaction's stay for its own statements).  The
 * batch is copied out first, so events recorded while it is written (by
 * triggers on task_api.events) join the buffer for a later flush.
 */
static void flush_above(int depth);

void
ta_events_flush(void)
{
	flush_above(-1);
}

/*
 * Write the buffered events of the current subtransaction recorded deeper
 * than depth (the tail of the buffer: anything recorded deeper was written
 * when its own statement ended, unless it belongs to another subxact).
 */
static void
flush_above(int depth)
{
	SubTransactionId cur = GetCurrentSubTransactionId();
	int			first = npending;
	int			n;
	PendingEvent *batch;

	while (first > 0 && pending[first - 1].subid == cur && pending[first - 1].depth > depth)
		first--;
	n = npending - first;
	if (n == 0)
		return;
	batch = palloc(sizeof(PendingEvent) * n);
	memcpy(batch, &pending[first], sizeof(PendingEvent) * n);
	npending = first;
	flush_depth++;
	PG_TRY();
	{
		store_batch(batch, n);
	}
	PG_FINALLY();
	{
		flush_depth--;
	}
	PG_END_TRY();
	pfree(batch);
	/* Nothing left that points into the buffer's memory: start it afresh. */
	if (npending == 0 && flush_depth == 0)
		MemoryContextReset(pending_cxt);
}

/* Make room for one more buffered event. */
static PendingEvent *
pending_slot(void)
{
	if (pending_cxt == NULL)
		pending_cxt = AllocSetContextCreate(TopTransactionContext, "task_api pending events",
											ALLOCSET_DEFAULT_SIZES);
	if (npending == pending_cap)
	{
		int			cap = Max(64, pending_cap * 2);
		/* The array itself outlives resets of pending_cxt: its own context. */
		PendingEvent *grown = MemoryContextAlloc(TopTransactionContext, sizeof(PendingEvent) * cap);

		if (npending > 0)
			memcpy(grown, pending, sizeof(PendingEvent) * npending);
		if (pending != NULL)
			pfree(pending);
		pending = grown;
		pending_cap = cap;
	}
	return &pending[npending++];
}

/*
 * Buffer one event row (values/nulls in column order, built by the caller in
 * any memory context): it is copied, and written when the statement ends.
 */
void
ta_events_store(Relation rel, Datum *values, bool *nulls)
{
	Oid			target = ta_citus_events_shard(rel);
	PendingEvent *ev = pending_slot();
	MemoryContext old = MemoryContextSwitchTo(pending_cxt);

	ev->target = target;
	if (!OidIsValid(target))
		local_events = true;

	for (int k = 0; k < Natts_events; k++)
	{
		ev->nulls[k] = nulls[k];
		ev->values[k] = nulls[k] ? (Datum) 0 :
			datumCopy(values[k], events_columns[k].byval, events_columns[k].len);
	}
	ev->subid = GetCurrentSubTransactionId();
	ev->depth = finish_depth;
	MemoryContextSwitchTo(old);
	if (npending >= FLUSH_AT)
		ta_events_flush();
}

/* After a statement's AFTER triggers: write the events they recorded. */
static void
events_executor_finish(QueryDesc *queryDesc)
{
	finish_depth++;
	PG_TRY();
	{
		if (prev_executor_finish)
			prev_executor_finish(queryDesc);
		else
			standard_ExecutorFinish(queryDesc);
	}
	PG_FINALLY();
	{
		finish_depth--;
	}
	PG_END_TRY();

	/*
	 * The events this statement's AFTER triggers recorded, not those of the
	 * statement it runs in: a foreign key's check is a statement run inside
	 * the AFTER triggers of an insert, and writing the insert's events at
	 * its end wrote them one row at a time.  At the top level, anything
	 * recorded outside a statement's end (COPY) goes too.
	 */
	if (npending > 0)
		flush_above(finish_depth > 0 ? finish_depth : -1);
}

/* Before commit: write what no statement end wrote (COPY); forget at the end. */
static void
pending_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
			while (npending > 0)
			{
				int			before = npending;

				ta_events_flush();
				if (npending >= before)
					elog(ERROR, "task_api events of an enclosing subtransaction were left unwritten");
			}
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			/* The memory went with TopTransactionContext. */
			pending_cxt = NULL;
			pending = NULL;
			npending = 0;
			pending_cap = 0;
			flush_depth = 0;
			finish_depth = 0;
			local_events = false;
			break;
		default:
			break;
	}
}

/* An aborted subtransaction takes its events back; a committed one hands them up. */
static void
pending_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		while (npending > 0 && pending[npending - 1].subid == mySubid)
			npending--;
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		for (int i = npending - 1; i >= 0 && pending[i].subid == mySubid; i--)
			pending[i].subid = parentSubid;
	}
}

/*
 * May this transaction be prepared?  Only when every event it recorded went
 * into a Citus events shard: a worker's part of a Citus transaction, which
 * Citus commits with two-phase commit (docs/scaling.md, "Events").
 */
bool
ta_events_only_in_shards(void)
{
	return !local_events;
}

/* Register the statement-end hook and the transaction callbacks. */
void
ta_events_store_init(void)
{
	prev_executor_finish = ExecutorFinish_hook;
	ExecutorFinish_hook = events_executor_finish;
	RegisterXactCallback(pending_xact_callback, NULL);
	RegisterSubXactCallback(pending_subxact_callback, NULL);
}
