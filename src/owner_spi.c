/*
 * owner_spi.c
 *		Fixed lookups run as the owner of the task_api tables.
 *
 * Row-level security applies to everybody who is not the tables' owner (a
 * superuser), and the identity checks of every request must see rows the
 * caller cannot: their own session, their API key, their memberships.  The
 * queries are fixed strings prepared once; only parameters vary.  The user
 * switch is the one SECURITY DEFINER functions make, and is undone on error
 * by the transaction machinery as well as here.  The queries are parsed with
 * only pg_catalog on the search path.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "miscadmin.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "owner_spi.h"

/* A relation of the task_api schema by name; the extension cannot work without it. */
Oid
ta_task_api_relid(const char *name)
{
	Oid			relid = get_relname_relid(name, get_namespace_oid("task_api", false));

	if (!OidIsValid(relid))
		elog(ERROR, "task_api.%s does not exist", name);
	return relid;
}

/* The owner of task_api.project_members: who the fixed lookups run as. */
Oid
ta_tables_owner(void)
{
	Oid			relid = ta_task_api_relid("project_members");
	HeapTuple	tup;
	Oid			owner;

	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * SPI_prepare with pg_catalog alone on the search path (no temporary schema
 * either): a name the query does not qualify can never resolve to an object
 * the caller created.  The plan cache keeps this path for any re-parse.
 */
static SPIPlanPtr
prepare_pinned(const char *sql, int nargs, Oid *argtypes)
{
	OverrideSearchPath path = {.schemas = NIL,.addCatalog = true,.addTemp = false};
	SPIPlanPtr	plan;

	PushOverrideSearchPath(&path);
	plan = SPI_prepare(sql, nargs, argtypes);
	PopOverrideSearchPath();
	return plan;
}

/* Prepare sql into *plan on first use (pinned search path, kept). */
static void
ensure_plan(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	p;

	if (*plan != NULL)
		return;
	p = prepare_pinned(sql, nargs, argtypes);
	if (p == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	SPI_keepplan(p);
	*plan = p;
}

/* One SPI connection around one execution of a kept plan; returns its code. */
static int
run_kept(const TaSpiQuery *q, long tcount)
{
	int			rc;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ensure_plan(q->plan, q->sql, q->nargs, q->argtypes);
	rc = SPI_execute_plan(*q->plan, q->args, q->nulls, q->read_only, tcount);
	if (rc < 0)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	return rc;
}

/* A trigger's statement as the caller, so RLS and the table's triggers apply. */
int
ta_spi_run(const TaSpiQuery *q)
{
	int			rc = run_kept(q, 0);

	SPI_finish();
	return rc;
}

/* Does q, run as the caller (row-level security applies), return a row? */
bool
ta_spi_exists(const TaSpiQuery *q)
{
	bool		found;

	(void) run_kept(q, 1);
	found = SPI_processed > 0;
	SPI_finish();
	return found;
}

/*
 * Run body(arg) as the tables' owner, in a security-restricted operation,
 * and switch back whether it returns or raises.
 */
static void
as_owner(void (*body) (void *arg), void *arg)
{
	Oid			save_userid;
	int			save_sec;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(ta_tables_owner(),
						   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		body(arg);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	PG_END_TRY();
}

/* What the owner-run bodies below need. */
typedef struct OwnerCall
{
	const TaSpiQuery *q;
	MemoryContext callercxt;
	/* one row */
	int			ncols;
	Datum	   *values;
	bool	   *nulls;
	bool		found;
	/* every row */
	ta_owner_rows_fn fn;
	void	   *fn_arg;
} OwnerCall;

/* Copy the first row's first ncols columns into the caller's context. */
static void
copy_first_row(OwnerCall *call)
{
	TupleDesc	desc = SPI_tuptable->tupdesc;
	HeapTuple	tup = SPI_tuptable->vals[0];

	call->found = true;
	for (int i = 0; i < call->ncols; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		Datum		d = SPI_getbinval(tup, desc, i + 1, &call->nulls[i]);
		MemoryContext spicxt = MemoryContextSwitchTo(call->callercxt);

		call->values[i] = call->nulls[i] ? (Datum) 0 :
			datumCopy(d, att->attbyval, att->attlen);
		MemoryContextSwitchTo(spicxt);
	}
}

/* Body of ta_owner_query_row: at most one row. */
static void
owner_row_body(void *arg)
{
	OwnerCall  *call = arg;

	(void) run_kept(call->q, 1);
	if (SPI_processed > 0 && SPI_tuptable != NULL)
		copy_first_row(call);
	SPI_finish();
}

/* Body of ta_owner_query_rows: every row, to the callback. */
static void
owner_rows_body(void *arg)
{
	OwnerCall  *call = arg;

	(void) run_kept(call->q, 0);
	call->fn(SPI_tuptable, SPI_processed, call->fn_arg);
	SPI_finish();
}

/* One row of a fixed lookup the caller's RLS would hide (sessions, keys). */
bool
ta_owner_query_row(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes,
				   Datum *args, bool read_only, int ncols, Datum *values, bool *nulls)
{
	TaSpiQuery	q = {plan, sql, nargs, argtypes, args, NULL, read_only};
	OwnerCall	call = {.q = &q,.callercxt = CurrentMemoryContext,
	.ncols = ncols,.values = values,.nulls = nulls};

	as_owner(owner_row_body, &call);
	return call.found;
}

/* Every row of a fixed lookup as the owner (the membership cache's load). */
void
ta_owner_query_rows(const TaSpiQuery *q, ta_owner_rows_fn fn, void *arg)
{
	OwnerCall	call = {.q = q,.callercxt = CurrentMemoryContext,.fn = fn,.fn_arg = arg};

	as_owner(owner_rows_body, &call);
}
