/*
 * enum_labels.c
 *		The labels of the extension's enum types (task_status, member_role),
 *		per backend, for the error translation.
 *
 * PostgreSQL converts a body with json_to_recordset and stops at the first
 * value it cannot convert; src/error_map.c then names every bad field, but
 * an enum's labels live in the catalogue, and inside an emit_log_hook
 * nothing may read the catalogue (a read can raise an error, which would
 * recurse).  So the labels are read here, outside the hook, when a request
 * starts (pre_request()) and only when the cache is stale: a
 * syscache callback on pg_enum and pg_type marks it stale (ALTER TYPE ...
 * ADD VALUE, an upgrade).  The cache is fixed-size static memory; an enum
 * with more labels than it holds is left out (its fields are then named
 * only when PostgreSQL refused them, as before).
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "enum_labels.h"

#define MAX_ENUMS 8
#define MAX_LABELS 32

typedef struct EnumLabels
{
	char		type[2 * NAMEDATALEN];	/* schema.name */
	int			nlabels;
	char		labels[MAX_LABELS][NAMEDATALEN];
	Oid			typid;
} EnumLabels;

static EnumLabels cache[MAX_ENUMS];
static int	ncache = 0;
static bool cache_valid = false;
static bool callbacks_registered = false;
static uint64 invalidations = 0;	/* to notice one that arrives while loading */

static void
invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	cache_valid = false;
	invalidations++;
}

/* The cache entry of an enum type of the extension's schema, made if new; NULL if full. */
static EnumLabels *
entry_for(Oid typid, Oid schema)
{
	HeapTuple	tup;
	Form_pg_type typ;
	EnumLabels *e = NULL;

	for (int i = 0; i < ncache; i++)
		if (cache[i].typid == typid)
			return &cache[i];
	if (ncache == MAX_ENUMS || (tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid))) == NULL)
		return NULL;
	typ = (Form_pg_type) GETSTRUCT(tup);
	if (typ->typnamespace == schema)
	{
		e = &cache[ncache++];
		e->typid = typid;
		e->nlabels = 0;
		snprintf(e->type, sizeof(e->type), "%s.%s",
				 get_namespace_name(schema), NameStr(typ->typname));
	}
	ReleaseSysCache(tup);
	return e;
}

/* The schema task_api is installed in (get_extension_schema is static in 15). */
static Oid
extension_schema(void)
{
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	Oid			schema = InvalidOid;

	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("task_api"));
	rel = table_open(ExtensionRelationId, AccessShareLock);
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	if (HeapTupleIsValid(tup = systable_getnext(scan)))
		schema = ((Form_pg_extension) GETSTRUCT(tup))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return schema;
}

void
ta_enum_labels_load(void)
{
	Oid			schema;
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;
	uint64		seen;

	if (cache_valid)
		return;
	if (!callbacks_registered)
	{
		CacheRegisterSyscacheCallback(ENUMOID, invalidate, (Datum) 0);
		CacheRegisterSyscacheCallback(TYPEOID, invalidate, (Datum) 0);
		callbacks_registered = true;
	}
	ncache = 0;
	if (!OidIsValid(schema = extension_schema()))
		return;
	rel = table_open(EnumRelationId, AccessShareLock);
	seen = invalidations;
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_enum en = (Form_pg_enum) GETSTRUCT(tup);
		EnumLabels *e = entry_for(en->enumtypid, schema);

		if (e == NULL)
			continue;
		if (e->nlabels < MAX_LABELS)
			strlcpy(e->labels[e->nlabels], NameStr(en->enumlabel), NAMEDATALEN);
		e->nlabels++;			/* past MAX_LABELS: left out below */
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	/* Stale already if the catalogue changed meanwhile: read again next time. */
	cache_valid = invalidations == seen;
}

int
ta_enum_label_check(const char *type, const char *text)
{
	if (!cache_valid)
		return -1;
	for (int i = 0; i < ncache; i++)
	{
		if (strcmp(cache[i].type, type) != 0)
			continue;
		if (cache[i].nlabels > MAX_LABELS)
			return -1;
		for (int k = 0; k < cache[i].nlabels; k++)
			if (strcmp(cache[i].labels[k], text) == 0)
				return 0;
		return 1;
	}
	return -1;
}
