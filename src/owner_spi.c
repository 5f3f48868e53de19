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

Oid
ta_tables_owner(void)
{
	Oid			nsp = get_namespace_oid("task_api", false);
	Oid			relid = get_relname_relid("project_members", nsp);
	HeapTuple	tup;
	Oid			owner;

	if (!OidIsValid(relid))
		elog(ERROR, "task_api.project_members does not exist");
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
SPIPlanPtr
ta_prepare_pinned(const char *sql, int nargs, Oid *argtypes)
{
	OverrideSearchPath path = {.schemas = NIL,.addCatalog = true,.addTemp = false};
	SPIPlanPtr	plan;

	PushOverrideSearchPath(&path);
	plan = SPI_prepare(sql, nargs, argtypes);
	PopOverrideSearchPath();
	return plan;
}

bool
ta_owner_query_row(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes,
				   Datum *args, bool read_only, int ncols, Datum *values, bool *nulls)
{
	MemoryContext callercxt = CurrentMemoryContext;
	Oid			save_userid;
	int			save_sec;
	volatile bool found = false;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(ta_tables_owner(),
						   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		int			rc;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (*plan == NULL)
		{
			SPIPlanPtr	p = ta_prepare_pinned(sql, nargs, argtypes);

			if (p == NULL)
				elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
			SPI_keepplan(p);
			*plan = p;
		}
		rc = SPI_execute_plan(*plan, args, NULL, read_only, 1);
		if (rc < 0)
			elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
		if (SPI_processed > 0 && SPI_tuptable != NULL)
		{
			TupleDesc	desc = SPI_tuptable->tupdesc;
			HeapTuple	tup = SPI_tuptable->vals[0];

			found = true;
			for (int i = 0; i < ncols; i++)
			{
				Form_pg_attribute att = TupleDescAttr(desc, i);
				Datum		d = SPI_getbinval(tup, desc, i + 1, &nulls[i]);
				MemoryContext spicxt = MemoryContextSwitchTo(callercxt);

				values[i] = nulls[i] ? (Datum) 0 : datumCopy(d, att->attbyval, att->attlen);
				MemoryContextSwitchTo(spicxt);
			}
		}
		SPI_finish();
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	PG_END_TRY();
	return found;
}
