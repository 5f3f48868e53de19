/*
 * citus.c
 *		The library's paths on a Citus cluster (docs/scaling.md).
 *
 * Once task_api.distribute() has run, a task_api table's rows live in
 * shards (a reference table's too, in its placement on the coordinator);
 * the table itself stays empty.  The paths that read a table directly,
 * below the planner, go through a query instead when the table is a Citus
 * table.  A single server never takes them: without Citus there is no
 * pg_dist_partition, and ta_citus_table() is false.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/rel.h"

#include "citus.h"
#include "owner_spi.h"

bool
ta_citus_table(Oid relid)
{
	Oid			dist = get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE);
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	bool		found;

	if (!OidIsValid(dist))
		return false;
	rel = table_open(dist, AccessShareLock);
	/* Attribute 1 is logicalrelid (regclass). */
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 1, &key);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

bool
ta_citus_table_named(const char *name)
{
	if (!OidIsValid(get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE)))
		return false;
	return ta_citus_table(ta_task_api_relid(name));
}

static SPIPlanPtr session_plan;
static SPIPlanPtr api_key_plan;

void
ta_citus_credential_lookup(char kind, const pg_uuid_t *id, const pg_uuid_t *user_id,
						   bool *ok, TimestampTz *expires)
{
	Oid			argtypes[2] = {UUIDOID, UUIDOID};
	Datum		args[2] = {UUIDPGetDatum(unconstify(pg_uuid_t *, id)), UUIDPGetDatum(unconstify(pg_uuid_t *, user_id))};
	Datum		values[2];
	bool		nulls[2];

	*ok = false;
	*expires = DT_NOEND;
	if (!ta_owner_query_row(kind == 's' ? &session_plan : &api_key_plan,
							kind == 's'
							? "SELECT user_id OPERATOR(pg_catalog.=) $2 AND revoked_at IS NULL, expires_at"
							"  FROM task_api.sessions WHERE id OPERATOR(pg_catalog.=) $1"
							: "SELECT user_id OPERATOR(pg_catalog.=) $2 AND revoked_at IS NULL, expires_at"
							"  FROM task_api.api_keys WHERE id OPERATOR(pg_catalog.=) $1",
							2, argtypes, args, true, 2, values, nulls))
		return;
	*ok = !nulls[0] && DatumGetBool(values[0]);
	if (*ok && !nulls[1])
		*expires = DatumGetTimestampTz(values[1]);
}
