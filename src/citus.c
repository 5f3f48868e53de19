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
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
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

/*
 * The shard id at the end of a shard's name (tasks_102084), or 0 when the
 * name has none.
 */
static int64
shard_id_of_name(const char *name)
{
	const char *us = strrchr(name, '_');
	int64		id = 0;

	if (us == NULL || us[1] == '\0')
		return 0;
	for (const char *c = us + 1; *c != '\0'; c++)
	{
		if (*c < '0' || *c > '9' || id > PG_INT64_MAX / 10 - 10)
			return 0;
		id = id * 10 + (*c - '0');
	}
	return id;
}

static SPIPlanPtr events_shard_plan;

/* The id of the events shard colocated with shard shardid, or 0. */
static int64
colocated_events_shard(int64 shardid)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(shardid)};
	Datum		values[1];
	bool		nulls[1];

	if (!ta_owner_query_row(&events_shard_plan,
							"SELECT e.shardid FROM pg_catalog.pg_dist_shard s"
							"  JOIN pg_catalog.pg_dist_shard e"
							"    ON e.logicalrelid OPERATOR(pg_catalog.=) 'task_api.events'::pg_catalog.regclass"
							"   AND e.shardminvalue OPERATOR(pg_catalog.=) s.shardminvalue"
							" WHERE s.shardid OPERATOR(pg_catalog.=) $1",
							1, argtypes, args, true, 1, values, nulls) || nulls[0])
		return 0;
	return DatumGetInt64(values[0]);
}

/* The last relation asked about, and its answer. */
static Oid	events_shard_for_rel = InvalidOid;
static Oid	events_shard_answer = InvalidOid;

/* The lookup behind ta_citus_events_shard(). */
static Oid
find_events_shard(Relation rel)
{
	Oid			nsp = get_namespace_oid("task_api", true);
	int64		shardid;
	int64		events_shard;
	char		name[NAMEDATALEN];

	if (!OidIsValid(get_relname_relid("pg_dist_shard", PG_CATALOG_NAMESPACE)) ||
		RelationGetNamespace(rel) != nsp || ta_citus_table(RelationGetRelid(rel)))
		return InvalidOid;
	shardid = shard_id_of_name(RelationGetRelationName(rel));
	if (shardid <= 0 || (events_shard = colocated_events_shard(shardid)) <= 0)
		return InvalidOid;
	snprintf(name, sizeof(name), "events_" INT64_FORMAT, events_shard);
	return get_relname_relid(name, nsp);
}

Oid
ta_citus_events_shard(Relation rel)
{
	if (RelationGetRelid(rel) != events_shard_for_rel)
	{
		events_shard_answer = find_events_shard(rel);
		events_shard_for_rel = RelationGetRelid(rel);
	}
	return events_shard_answer;
}

bool		ta_citus_preloaded = false;

const char *
ta_citus_request_setting(const char *name)
{
	const char *value;

	if (!ta_citus_preloaded)
		return NULL;
	value = GetConfigOption(name, true, false);
	return (value == NULL || value[0] == '\0') ? NULL : value;
}

TimestampTz
ta_citus_request_start(void)
{
	const char *value = ta_citus_request_setting("task_api_citus.now");
	char	   *end;
	int64		unix_us;

	if (value == NULL)
		return GetCurrentTransactionStartTimestamp();
	errno = 0;
	unix_us = strtoi64(value, &end, 10);
	if (errno != 0 || *end != '\0')
		return GetCurrentTransactionStartTimestamp();
	/* Microseconds since 1970, as citus_resolve_caller() writes them. */
	return (TimestampTz) (unix_us -
						  (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY);
}
