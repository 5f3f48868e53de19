/*
 * task_insert.c
 *		POST /tasks: validation in C and one set-based insert per statement.
 *
 * api.tasks is a view with INSTEAD OF triggers, which PostgreSQL runs once
 * per row; a PL/pgSQL trigger that validates and then runs its own INSERT
 * pays for a whole statement per row.  Here the row trigger
 * (task_api.tasks_insert) validates the row, fills in every server-owned
 * value (id, created_by, timestamps, version, completed_at), returns the
 * final representation, and only buffers the row.  The statement trigger
 * (task_api.tasks_insert_flush, AFTER INSERT FOR EACH STATEMENT on the
 * view) then inserts the whole buffer into task_api.tasks with one
 * INSERT ... SELECT FROM unnest(...), as the caller: row-level security,
 * foreign keys and the stamp trigger apply as before, and any error aborts
 * the statement.  The rows the client sees are exactly the rows stored: the
 * stamp trigger and the column defaults compute the same values from the
 * same transaction timestamp.
 *
 * The buffer lives in a child of TopTransactionContext.  A subtransaction
 * that aborts takes back the rows buffered since it started; a transaction
 * that aborts takes back everything.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/typcache.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "citus.h"
#include "errors.h"
#include "etag.h"
#include "idempotency.h"
#include "membership.h"
#include "owner_spi.h"
#include "request.h"
#include "task_insert.h"
#include "uuidv7.h"

#define TITLE_MAX 200
#define DESCRIPTION_MAX 10000

/* The columns of api.tasks, by role. */
enum
{
	C_ID, C_PROJECT, C_ASSIGNEE, C_TITLE, C_DESCRIPTION, C_STATUS, C_PRIORITY,
	C_DUE, C_CREATED_BY, C_CREATED_AT, C_UPDATED_AT, C_COMPLETED_AT, C_VERSION,
	NUM_COLS
};

static const char *const col_names[NUM_COLS] = {
	"id", "project_id", "assignee_id", "title", "description", "status", "priority",
	"due_date", "created_by", "created_at", "updated_at", "completed_at", "version"
};

/* The columns the flush inserts, in this order. */
static const int insert_cols[] = {
	C_ID, C_PROJECT, C_ASSIGNEE, C_TITLE, C_DESCRIPTION, C_STATUS, C_PRIORITY,
	C_DUE, C_CREATED_BY
};
#define NUM_INSERT lengthof(insert_cols)

typedef struct InsertBuffer
{
	MemoryContext cxt;
	SubTransactionId created_in;	/* subtransaction that created it */
	int			count;
	int			capacity;
	Datum	   *values[NUM_INSERT];
	bool	   *nulls[NUM_INSERT];
	Oid			types[NUM_INSERT];	/* element types */
	int16		typlen[NUM_INSERT];
	bool		typbyval[NUM_INSERT];
	char		typalign[NUM_INSERT];
} InsertBuffer;

static InsertBuffer *buffer = NULL;

/* Row counts at the start of each open subtransaction. */
typedef struct SubxactMark
{
	SubTransactionId subid;
	int			count;
	struct SubxactMark *next;
} SubxactMark;

static SubxactMark *marks = NULL;

static SPIPlanPtr flush_plan = NULL;
static Oid	flush_types[NUM_INSERT];	/* element types flush_plan was made for */
static SPIPlanPtr assignee_plan = NULL;

/* Per-statement cache of the view's layout and the "done" label. */
typedef struct TriggerInfo
{
	TupleDesc	desc;
	int			attnum[NUM_COLS];
	Oid			done_oid;
} TriggerInfo;

static void
insert_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PREPARE)
	{
		/* The memory goes with TopTransactionContext. */
		buffer = NULL;
		marks = NULL;
	}
}

static void
insert_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	switch (event)
	{
		case SUBXACT_EVENT_START_SUB:
			if (buffer != NULL)
			{
				SubxactMark *m = MemoryContextAlloc(buffer->cxt, sizeof(SubxactMark));

				m->subid = mySubid;
				m->count = buffer->count;
				m->next = marks;
				marks = m;
			}
			break;
		case SUBXACT_EVENT_COMMIT_SUB:
		case SUBXACT_EVENT_ABORT_SUB:
			if (buffer == NULL)
				break;
			if (event == SUBXACT_EVENT_ABORT_SUB && buffer->created_in >= mySubid)
			{
				/* Every buffered row was buffered inside the aborted one. */
				buffer->count = 0;
				marks = NULL;
				break;
			}
			while (marks != NULL && marks->subid >= mySubid)
			{
				if (marks->subid == mySubid && event == SUBXACT_EVENT_ABORT_SUB)
					buffer->count = marks->count;
				marks = marks->next;
			}
			break;
		default:
			break;
	}
}

void
ta_task_insert_init(void)
{
	RegisterXactCallback(insert_xact_callback, NULL);
	RegisterSubXactCallback(insert_subxact_callback, NULL);
}

/* The buffer of this transaction, created on first use. */
static InsertBuffer *
get_buffer(const TriggerInfo *info)
{
	if (buffer == NULL)
	{
		MemoryContext cxt = AllocSetContextCreate(TopTransactionContext,
												  "task_api task insert buffer",
												  ALLOCSET_DEFAULT_SIZES);
		InsertBuffer *b = MemoryContextAllocZero(cxt, sizeof(InsertBuffer));

		b->cxt = cxt;
		b->created_in = GetCurrentSubTransactionId();
		marks = NULL;
		for (int i = 0; i < (int) NUM_INSERT; i++)
		{
			Form_pg_attribute att = TupleDescAttr(info->desc, info->attnum[insert_cols[i]] - 1);

			b->types[i] = att->atttypid;
			get_typlenbyvalalign(att->atttypid, &b->typlen[i], &b->typbyval[i], &b->typalign[i]);
		}
		buffer = b;
	}
	return buffer;
}

/* Append one row (by value; by-reference data copied into the buffer). */
static void
buffer_row(InsertBuffer *b, const Datum *values, const bool *nulls)
{
	MemoryContext old = MemoryContextSwitchTo(b->cxt);

	if (b->count == b->capacity)
	{
		int			newcap = b->capacity == 0 ? 64 : b->capacity * 2;

		for (int i = 0; i < (int) NUM_INSERT; i++)
		{
			if (b->capacity == 0)
			{
				b->values[i] = palloc(sizeof(Datum) * newcap);
				b->nulls[i] = palloc(sizeof(bool) * newcap);
			}
			else
			{
				b->values[i] = repalloc(b->values[i], sizeof(Datum) * newcap);
				b->nulls[i] = repalloc(b->nulls[i], sizeof(bool) * newcap);
			}
		}
		b->capacity = newcap;
	}
	for (int i = 0; i < (int) NUM_INSERT; i++)
	{
		int			col = insert_cols[i];

		b->nulls[i][b->count] = nulls[col];
		b->values[i][b->count] = nulls[col] ? (Datum) 0 :
			datumCopy(values[col], b->typbyval[i], b->typlen[i]);
	}
	b->count++;
	MemoryContextSwitchTo(old);
}

/* Resolve the view's columns once per statement. */
static TriggerInfo *
trigger_info(FunctionCallInfo fcinfo, TupleDesc desc)
{
	TriggerInfo *info = fcinfo->flinfo->fn_extra;

	if (info == NULL || info->desc != desc)
	{
		info = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(TriggerInfo));
		info->desc = desc;
		for (int i = 0; i < NUM_COLS; i++)
		{
			info->attnum[i] = SPI_fnumber(desc, col_names[i]);
			if (info->attnum[i] <= 0)
				elog(ERROR, "tasks_insert: the view has no column \"%s\"", col_names[i]);
		}
		info->done_oid = DatumGetObjectId(DirectFunctionCall2(enum_in, CStringGetDatum("done"),
															  ObjectIdGetDatum(TupleDescAttr(desc, info->attnum[C_STATUS] - 1)->atttypid)));
		fcinfo->flinfo->fn_extra = info;
	}
	return info;
}

/* Append {"field": f, "problem": p} to a JSON array under construction. */
static void
add_problem(StringInfo problems, const char *field, const char *problem)
{
	appendStringInfoString(problems, problems->len > 1 ? ", {\"field\": " : "{\"field\": ");
	escape_json(problems, field);
	appendStringInfoString(problems, ", \"problem\": ");
	escape_json(problems, problem);
	appendStringInfoChar(problems, '}');
}

static bool
is_trimmed(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Trim spaces, tabs, CR and LF from both ends, as the API does for titles. */
static text *
trim_text(text *t)
{
	char	   *s = VARDATA_ANY(t);
	int			len = VARSIZE_ANY_EXHDR(t);
	int			start = 0;

	while (start < len && is_trimmed(s[start]))
		start++;
	while (len > start && is_trimmed(s[len - 1]))
		len--;
	return cstring_to_text_with_len(s + start, len - start);
}

/* Length in characters, in the database encoding. */
static int
char_length(text *t)
{
	return pg_mbstrlen_with_len(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

static SPIPlanPtr caller_assignee_plan = NULL;
static const char *const assignee_sql =
"SELECT 1 FROM task_api.project_members m"
" WHERE m.project_id OPERATOR(pg_catalog.=) $1"
"   AND m.user_id OPERATOR(pg_catalog.=) $2";

/* Is user a member of project?  Memoized for runs of the same pair. */
static bool
is_member(const pg_uuid_t *project, const pg_uuid_t *user)
{
	static pg_uuid_t last_project;
	static pg_uuid_t last_user;
	static bool last_result;
	static LocalTransactionId last_lxid = InvalidLocalTransactionId;
	static CommandId last_cid;
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		args[2] = {UUIDPGetDatum(unconstify(pg_uuid_t *, project)),
	UUIDPGetDatum(unconstify(pg_uuid_t *, user))};
	Datum		one;
	bool		isnull;

	if (last_lxid == MyProc->lxid && last_cid == GetCurrentCommandId(false) &&
		memcmp(&last_project, project, sizeof(pg_uuid_t)) == 0 &&
		memcmp(&last_user, user, sizeof(pg_uuid_t)) == 0)
		return last_result;

	if (ta_membership_resolved())
	{
		/*
		 * On Citus, as the caller, who may read the members of a project
		 * where it writes tasks: the owner may not read the shards the
		 * caller has written in this transaction (docs/scaling.md).
		 */
		TaSpiQuery	q = {&caller_assignee_plan, assignee_sql, 2, types, args, NULL, true};

		last_result = ta_spi_exists(&q);
	}
	else
		last_result = ta_owner_query_row(&assignee_plan, assignee_sql,
										 2, types, args, true, 1, &one, &isnull);
	last_project = *project;
	last_user = *user;
	last_lxid = MyProc->lxid;
	last_cid = GetCurrentCommandId(false);
	return last_result;
}

/*
 * The rules for a task's writable fields, shared by POST (the insert trigger)
 * and PATCH (task_problems(), called by the update trigger): append every
 * problem to the JSON array under construction; trim the title in place;
 * raise forbidden for a viewer.  Server-owned fields are the callers' part.
 */
static void
task_field_problems(Datum *values, bool *nulls, StringInfo problems)
{
	/* The project, the caller's right to write there, the assignee. */
	if (nulls[C_PROJECT])
		add_problem(problems, "project_id", "is required");
	else
	{
		bool		live;
		TaRole		role = ta_member_role(DatumGetUUIDP(values[C_PROJECT]), &live);

		if (role == TA_ROLE_NONE || !live)
			add_problem(problems, "project_id", "no such project");
		else if (role < TA_ROLE_EDITOR)
			ta_raise("forbidden", "viewers cannot write tasks", NULL,
					 "ask a project owner for the editor role", NULL, 0);
		else if (!nulls[C_ASSIGNEE] &&
				 !is_member(DatumGetUUIDP(values[C_PROJECT]), DatumGetUUIDP(values[C_ASSIGNEE])))
			add_problem(problems, "assignee_id", "must be a member of the project");
	}

	/* Title: required, trimmed, 1 to 200 characters. */
	if (nulls[C_TITLE])
		add_problem(problems, "title", "is required");
	else
	{
		text	   *title = trim_text(DatumGetTextPP(values[C_TITLE]));

		values[C_TITLE] = PointerGetDatum(title);
		if (char_length(title) > TITLE_MAX)
			add_problem(problems, "title", psprintf("must be at most %d characters", TITLE_MAX));
		else if (VARSIZE_ANY_EXHDR(title) == 0)
			add_problem(problems, "title", "must not be blank");
	}
	if (!nulls[C_DESCRIPTION] && char_length(DatumGetTextPP(values[C_DESCRIPTION])) > DESCRIPTION_MAX)
		add_problem(problems, "description",
					psprintf("must be at most %d characters", DESCRIPTION_MAX));
	if (nulls[C_STATUS])
		add_problem(problems, "status", "is required");
	if (nulls[C_PRIORITY])
		add_problem(problems, "priority", "is required");
	else if (DatumGetInt16(values[C_PRIORITY]) < 0 || DatumGetInt16(values[C_PRIORITY]) > 4)
		add_problem(problems, "priority", "must be between 0 and 4");
}

PG_FUNCTION_INFO_V1(task_api_tasks_insert);

/* INSTEAD OF INSERT on api.tasks: validate, complete and buffer one row. */
Datum
task_api_tasks_insert(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	TriggerInfo *info;
	Datum		values[NUM_COLS];
	bool		nulls[NUM_COLS];
	StringInfoData problems;
	pg_uuid_t	me;
	pg_uuid_t  *id;
	pg_uuid_t  *created_by;
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_INSTEAD(trigdata->tg_event) ||
		!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) || !TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("tasks_insert: must be fired INSTEAD OF INSERT, FOR EACH ROW")));

	/* An idempotent replay: the row is the stored one; write nothing. */
	if (ta_idempotency_replaying())
		return PointerGetDatum(trigdata->tg_trigtuple);

	desc = RelationGetDescr(trigdata->tg_relation);
	info = trigger_info(fcinfo, desc);
	for (int i = 0; i < NUM_COLS; i++)
		values[i] = heap_getattr(trigdata->tg_trigtuple, info->attnum[i], desc, &nulls[i]);

	if (!ta_current_user_id(&me))
		ta_raise("unauthenticated", "sign in to create tasks", NULL, NULL, NULL, 0);

	initStringInfo(&problems);
	appendStringInfoChar(&problems, '[');

	task_field_problems(values, nulls, &problems);

	/* Server-owned fields. */
	{
		static const int owned[] = {C_ID, C_CREATED_BY, C_CREATED_AT, C_UPDATED_AT,
		C_COMPLETED_AT, C_VERSION};

		for (int i = 0; i < (int) lengthof(owned); i++)
			if (!nulls[owned[i]])
				add_problem(&problems, col_names[owned[i]], "is set by the server");
	}

	if (problems.len > 1)
	{
		appendStringInfoChar(&problems, ']');
		ta_raise("validation_failed", "task is invalid", problems.data,
				 "details lists every field with a problem", NULL, 0);
	}

	/* Everything the server owns, exactly as the table will store it. */
	id = palloc(sizeof(pg_uuid_t));
	ta_uuidv7(id);
	created_by = palloc(sizeof(pg_uuid_t));
	*created_by = me;
	values[C_ID] = UUIDPGetDatum(id);
	nulls[C_ID] = false;
	values[C_CREATED_BY] = UUIDPGetDatum(created_by);
	nulls[C_CREATED_BY] = false;
	values[C_CREATED_AT] = values[C_UPDATED_AT] = TimestampTzGetDatum(now);
	nulls[C_CREATED_AT] = nulls[C_UPDATED_AT] = false;
	values[C_VERSION] = Int32GetDatum(1);
	nulls[C_VERSION] = false;
	nulls[C_COMPLETED_AT] = DatumGetObjectId(values[C_STATUS]) != info->done_oid;
	values[C_COMPLETED_AT] = nulls[C_COMPLETED_AT] ? (Datum) 0 : TimestampTzGetDatum(now);

	buffer_row(get_buffer(info), values, nulls);
	ta_note_etag(1);
	return PointerGetDatum(heap_form_tuple(desc, values, nulls));
}

PG_FUNCTION_INFO_V1(task_api_task_problems);

/* task_problems(api.tasks): the field problems of a task row, as jsonb. */
Datum
task_api_task_problems(PG_FUNCTION_ARGS)
{
	HeapTupleHeader rec = PG_GETARG_HEAPTUPLEHEADER(0);
	TupleDesc	desc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(rec),
											  HeapTupleHeaderGetTypMod(rec));
	HeapTupleData tuple;
	Datum		values[NUM_COLS];
	bool		nulls[NUM_COLS];
	StringInfoData problems;

	tuple.t_len = HeapTupleHeaderGetDatumLength(rec);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = rec;
	for (int i = 0; i < NUM_COLS; i++)
	{
		int			attnum = SPI_fnumber(desc, col_names[i]);

		if (attnum <= 0)
			elog(ERROR, "task_problems: the row has no column \"%s\"", col_names[i]);
		values[i] = heap_getattr(&tuple, attnum, desc, &nulls[i]);
	}
	ReleaseTupleDesc(desc);

	initStringInfo(&problems);
	appendStringInfoChar(&problems, '[');
	task_field_problems(values, nulls, &problems);
	appendStringInfoChar(&problems, ']');
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(problems.data)));
}

/* The statement that writes the buffered rows: one INSERT over unnest(). */
static const char *const flush_sql =
"INSERT INTO task_api.tasks"
" (id, project_id, assignee_id, title, description, status, priority,"
"  due_date, created_by)"
" SELECT * FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2),"
"   pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5),"
"   pg_catalog.unnest($6), pg_catalog.unnest($7), pg_catalog.unnest($8),"
"   pg_catalog.unnest($9))";

/* Insert the n buffered rows of b as the caller, as arrays; SPI's code. */
static int
run_flush(const InsertBuffer *b, int n)
{
	Oid			argtypes[NUM_INSERT];
	Datum		args[NUM_INSERT];
	TaSpiQuery	q = {&flush_plan, flush_sql, NUM_INSERT, argtypes, args, NULL, false};

	for (int i = 0; i < (int) NUM_INSERT; i++)
	{
		int			dims[1] = {n};
		int			lbs[1] = {1};

		args[i] = PointerGetDatum(construct_md_array(b->values[i], b->nulls[i], 1, dims, lbs,
													 b->types[i], b->typlen[i],
													 b->typbyval[i], b->typalign[i]));
	}

	/* A re-created extension has new type OIDs: prepare again. */
	if (flush_plan != NULL && memcmp(flush_types, b->types, sizeof(flush_types)) != 0)
	{
		SPI_freeplan(flush_plan);
		flush_plan = NULL;
	}
	for (int i = 0; i < (int) NUM_INSERT; i++)
		argtypes[i] = get_array_type(b->types[i]);
	memcpy(flush_types, b->types, sizeof(flush_types));
	return ta_spi_run(&q);
}

/*
 * One INSERT ... VALUES per row: for a single row (a POST of one task, the
 * common request), which then needs no arrays and no function scan (about a
 * tenth of the flush's cost), and on Citus (docs/scaling.md), which routes
 * it to the row's shard; it runs an INSERT ... SELECT as a COPY, which it
 * refuses on a table with row-level security.
 */
static const char *const flush_row_sql =
"INSERT INTO task_api.tasks"
" (id, project_id, assignee_id, title, description, status, priority,"
"  due_date, created_by)"
" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
static SPIPlanPtr flush_row_plan = NULL;
static Oid	flush_row_types[NUM_INSERT];

/* Insert the n buffered rows of b one by one as the caller; SPI's code. */
static int
run_flush_rows(const InsertBuffer *b, int n)
{
	Oid			argtypes[NUM_INSERT];
	Datum		args[NUM_INSERT];
	char		nulls[NUM_INSERT];
	TaSpiQuery	q = {&flush_row_plan, flush_row_sql, NUM_INSERT, argtypes, args, nulls, false};
	int			rc = SPI_OK_INSERT;

	if (flush_row_plan != NULL && memcmp(flush_row_types, b->types, sizeof(flush_row_types)) != 0)
	{
		SPI_freeplan(flush_row_plan);
		flush_row_plan = NULL;
	}
	memcpy(argtypes, b->types, sizeof(argtypes));
	memcpy(flush_row_types, b->types, sizeof(flush_row_types));
	for (int r = 0; r < n && rc == SPI_OK_INSERT; r++)
	{
		for (int i = 0; i < (int) NUM_INSERT; i++)
		{
			args[i] = b->values[i][r];
			nulls[i] = b->nulls[i][r] ? 'n' : ' ';
		}
		rc = ta_spi_run(&q);
	}
	return rc;
}

PG_FUNCTION_INFO_V1(task_api_tasks_insert_flush);

/* AFTER INSERT FOR EACH STATEMENT on api.tasks: store the buffered rows. */
Datum
task_api_tasks_insert_flush(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	InsertBuffer *b = buffer;
	int			rc;
	int			n;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("tasks_insert_flush: must be fired AFTER, FOR EACH STATEMENT")));
	if (b == NULL || b->count == 0)
		return PointerGetDatum(NULL);

	/* Take the rows out first: whatever happens next, they are not retried. */
	n = b->count;
	b->count = 0;
	rc = (n == 1 || ta_citus_table_named("tasks")) ? run_flush_rows(b, n) : run_flush(b, n);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "inserting the buffered tasks failed: %s", SPI_result_code_string(rc));
	buffer = NULL;
	marks = NULL;
	MemoryContextDelete(b->cxt);
	return PointerGetDatum(NULL);
}
