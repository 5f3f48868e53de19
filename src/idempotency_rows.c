/*
 * idempotency_rows.c
 *		Idempotency-Key: rows of an API view as JSON (to store and fingerprint
 *		them) and back (to replay them).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/sysattr.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/bitmapset.h"
#include "nodes/pg_list.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "idempotency_internal.h"

/* A row of a view as JSON text, exactly as row_to_json() renders it. */
char *
idem_row_json(HeapTuple tuple, TupleDesc desc)
{
	Datum		rec = heap_copy_tuple_as_datum(tuple, desc);

	return text_to_cstring(DatumGetTextPP(DirectFunctionCall1(row_to_json, rec)));
}

/* The same row as jsonb, whose keys are sorted for the canonical form. */
Jsonb *
idem_row_jsonb(HeapTuple tuple, TupleDesc desc)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(idem_row_json(tuple, desc))));
}

/* Rebuild a row of the view from its stored JSON object. */
HeapTuple
idem_jsonb_to_tuple(TupleDesc desc, JsonbContainer *obj)
{
	Datum	   *values = palloc0(sizeof(Datum) * desc->natts);
	bool	   *nulls = palloc(sizeof(bool) * desc->natts);

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		const char *name = NameStr(att->attname);
		JsonbValue	vbuf;
		JsonbValue *v;
		char	   *s;
		Oid			typinput;
		Oid			typioparam;

		nulls[i] = true;
		if (att->attisdropped)
			continue;
		v = getKeyJsonValueFromContainer(obj, name, strlen(name), &vbuf);
		if (v == NULL || v->type == jbvNull)
			continue;
		switch (v->type)
		{
			case jbvString:
				s = pnstrdup(v->val.string.val, v->val.string.len);
				break;
			case jbvNumeric:
				s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
				break;
			case jbvBool:
				s = pstrdup(v->val.boolean ? "true" : "false");
				break;
			case jbvBinary:
				{
					StringInfoData b;

					initStringInfo(&b);
					(void) JsonbToCString(&b, v->val.binary.data, v->val.binary.len);
					s = b.data;
				}
				break;
			default:
				elog(ERROR, "unexpected jsonb value type %d in a stored row", (int) v->type);
		}
		getTypeInputInfo(att->atttypid, &typinput, &typioparam);
		values[i] = OidInputFunctionCall(typinput, s, typioparam, att->atttypmod);
		nulls[i] = false;
	}
	return heap_form_tuple(desc, values, nulls);
}

/* A JSON string value. */
static JsonbValue
jstring(const char *s)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = unconstify(char *, s);
	v.val.string.len = strlen(s);
	return v;
}

/* The id column of a row, as text. */
char *
idem_row_id(HeapTuple tuple, TupleDesc desc)
{
	int			attnum = SPI_fnumber(desc, "id");
	char	   *id;

	if (attnum <= 0)
		elog(ERROR, "idempotency: the view has no id column");
	id = SPI_getvalue(tuple, desc, attnum);
	return id != NULL ? id : pstrdup("");
}

/* {"id": <old id>, "set": {<SET column>: <new value>, ...}}: one row of a PATCH. */
Jsonb *
idem_update_entry(const IdemRequest *r, HeapTuple oldtup, HeapTuple newtup, TupleDesc desc)
{
	Jsonb	   *newjb = idem_row_jsonb(newtup, desc);
	JsonbParseState *st = NULL;
	JsonbValue	k;
	JsonbValue	v;
	JsonbValue *res;
	int			col = -1;

	(void) pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	k = jstring("id");
	(void) pushJsonbValue(&st, WJB_KEY, &k);
	v = jstring(idem_row_id(oldtup, desc));
	(void) pushJsonbValue(&st, WJB_VALUE, &v);
	k = jstring("set");
	(void) pushJsonbValue(&st, WJB_KEY, &k);
	(void) pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	while ((col = bms_next_member(r->setcols, col)) >= 0)
	{
		AttrNumber	attno = col + FirstLowInvalidHeapAttributeNumber;
		Form_pg_attribute att;
		JsonbValue	vbuf;
		JsonbValue *jv;

		if (attno <= 0 || attno > desc->natts)
			continue;
		att = TupleDescAttr(desc, attno - 1);
		if (att->attisdropped)
			continue;
		k = jstring(NameStr(att->attname));
		(void) pushJsonbValue(&st, WJB_KEY, &k);
		jv = getKeyJsonValueFromContainer(&newjb->root, k.val.string.val, k.val.string.len, &vbuf);
		if (jv == NULL)
		{
			vbuf.type = jbvNull;
			jv = &vbuf;
		}
		(void) pushJsonbValue(&st, WJB_VALUE, jv);
	}
	(void) pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

/* The stored row whose id is id, or NULL. */
JsonbContainer *
idem_stored_row_by_id(const IdemRequest *r, const char *id)
{
	if (r->stored_response == NULL || !JB_ROOT_IS_ARRAY(r->stored_response))
		return NULL;
	for (uint32 i = 0;; i++)
	{
		JsonbValue *elem = getIthJsonbValueFromContainer(&r->stored_response->root, i);
		JsonbValue	vbuf;
		JsonbValue *v;

		if (elem == NULL)
			return NULL;
		if (elem->type != jbvBinary)
			continue;
		v = getKeyJsonValueFromContainer(elem->val.binary.data, "id", 2, &vbuf);
		if (v != NULL && v->type == jbvString && v->val.string.len == (int) strlen(id) &&
			memcmp(v->val.string.val, id, v->val.string.len) == 0)
			return elem->val.binary.data;
	}
}

/* The i-th stored row (0-based), or NULL. */
JsonbContainer *
idem_stored_row_at(const IdemRequest *r, int i)
{
	JsonbValue *elem;

	if (r->stored_response == NULL || !JB_ROOT_IS_ARRAY(r->stored_response))
		return NULL;
	elem = getIthJsonbValueFromContainer(&r->stored_response->root, i);
	return (elem != NULL && elem->type == jbvBinary) ? elem->val.binary.data : NULL;
}
