/*
 * credential_lookup.c
 *		The session or API key behind a token, read straight from the
 *		table's primary-key index, as PostgreSQL reads its catalogues.
 *
 * pre_request() checks every authenticated request's session or API key.
 * Through SPI that meant an SPI connection, a user switch and a cached
 * plan's executor start-up for one index probe; here it is one
 * systable_beginscan() on the primary key with the active snapshot, the
 * very snapshot the read-only SPI query used.  So the answer is exactly the
 * query's, and as fresh: a revocation committed before the request's
 * snapshot is seen, on the primary and on a hot standby alike (replayed
 * rows are visible to the next snapshot), with no cache to invalidate.
 * The rows are read as the extension, below row-level security, as the
 * owner-run query read them.
 *
 * Only the tables' OIDs and column numbers are kept per backend; a relcache
 * invalidation of either table (ALTER, DROP, an extension update) forgets
 * them.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"

#include "citus.h"
#include "credential_lookup.h"
#include "owner_spi.h"

/* Where a credential table's columns are, once found. */
typedef struct CredentialTable
{
	const char *name;
	Oid			relid;			/* InvalidOid: look it up again */
	AttrNumber	user_id;
	AttrNumber	expires_at;
	AttrNumber	revoked_at;
	bool		citus;			/* a Citus table: read through a query */
} CredentialTable;

static CredentialTable tables[2] = {{"sessions", InvalidOid, 0, 0, 0, false}, {"api_keys", InvalidOid, 0, 0, 0, false}};

/* Forget a table's OID and columns when its relcache entry goes. */
static void
credential_relcache_callback(Datum arg, Oid relid)
{
	for (size_t i = 0; i < lengthof(tables); i++)
		if (relid == InvalidOid || relid == tables[i].relid)
			tables[i].relid = InvalidOid;
}

void
ta_credential_init(void)
{
	CacheRegisterRelcacheCallback(credential_relcache_callback, (Datum) 0);
}

/* A column's number; the extension cannot work without it. */
static AttrNumber
column(Oid relid, const char *name)
{
	AttrNumber	attnum = get_attnum(relid, name);

	if (attnum == InvalidAttrNumber)
		elog(ERROR, "task_api column %s does not exist", name);
	return attnum;
}

/* The table of kind 's' (sessions) or 'k' (api_keys), located. */
static CredentialTable *
credential_table(char kind)
{
	CredentialTable *t = &tables[kind == 's' ? 0 : 1];

	if (!OidIsValid(t->relid))
	{
		Oid			relid = ta_task_api_relid(t->name);

		t->user_id = column(relid, "user_id");
		t->expires_at = column(relid, "expires_at");
		t->revoked_at = column(relid, "revoked_at");
		t->citus = ta_citus_table(relid);
		t->relid = relid;
	}
	return t;
}

bool
ta_credentials_on_citus(void)
{
	return credential_table('s')->citus;
}

/* Read the credential's verdict from its row (see ta_credential_lookup). */
static void
credential_verdict(HeapTuple tup, TupleDesc desc, const CredentialTable *t,
				   const pg_uuid_t *user_id, bool *ok, TimestampTz *expires)
{
	bool		isnull;
	Datum		owner = heap_getattr(tup, t->user_id, desc, &isnull);
	Datum		expiry;

	(void) heap_getattr(tup, t->revoked_at, desc, &isnull);
	*ok = isnull &&
		memcmp(DatumGetUUIDP(owner), user_id, sizeof(pg_uuid_t)) == 0;
	expiry = heap_getattr(tup, t->expires_at, desc, &isnull);
	*expires = (*ok && !isnull) ? DatumGetTimestampTz(expiry) : DT_NOEND;
}

/*
 * Is the credential id of kind ('s' session, 'k' API key) the user's and
 * unrevoked (*ok), and when does it expire (*expires, DT_NOEND: never)?
 * Exactly what
 *   SELECT user_id = $2 AND revoked_at IS NULL, expires_at FROM ... WHERE id = $1
 * returns under the active snapshot; no row: not ok.
 */
void
ta_credential_lookup(char kind, const pg_uuid_t *id, const pg_uuid_t *user_id,
					 bool *ok, TimestampTz *expires)
{
	CredentialTable *t = credential_table(kind);
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;

	if (!ActiveSnapshotSet())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("credentials can only be checked inside a query")));
	if (t->citus)
	{
		ta_citus_credential_lookup(kind, id, user_id, ok, expires);
		return;
	}
	*ok = false;
	*expires = DT_NOEND;
	rel = table_open(t->relid, AccessShareLock);
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_UUID_EQ,
				UUIDPGetDatum(unconstify(pg_uuid_t *, id)));
	scan = systable_beginscan(rel, RelationGetPrimaryKeyIndex(rel), true,
							  GetActiveSnapshot(), 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		credential_verdict(tup, RelationGetDescr(rel), t, user_id, ok, expires);
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}
