/*
 * json_agg.c
 *		api.json_agg(record): the JSON array of rows PostgREST builds every
 *		response body with, the same text as pg_catalog.json_agg(), with
 *		each column's type looked up once per aggregate instead of once per
 *		value.
 *
 * PostgREST writes its response body as json_agg(_postgrest_t), the name
 * unqualified, under a search_path that starts with the API's schema; a
 * row of a sub-query is a record, so this aggregate, which takes a record
 * exactly, is chosen over pg_catalog's, which takes anyelement (see
 * docs/performance.md, "The response body").
 *
 * pg_catalog.json_agg() of rows finds, for every value of every row, how
 * to write the value's type (up to four catalogue look-ups and an output
 * function look-up), calls the type's output function, and escapes the
 * text a character at a time; for a page of 25 tasks that was a quarter of
 * the database's work on a GET.  Here the row's shape is worked out once:
 * the escaped member names, and per column one way to write its values:
 *
 *	- natively, for the types the API's rows are made of: boolean, the
 *	  integers, uuid, text and varchar, enums without a cast to json,
 *	  date, timestamp, timestamptz (through JsonEncodeDateTime(), as
 *	  PostgreSQL does) and json; a string with nothing to escape is copied
 *	  whole, any other goes through escape_json();
 *	- by PostgreSQL's own to_json() for every other type (numeric and the
 *	  floats, jsonb, arrays, composites, types with a cast to json, ...),
 *	  so the text is PostgreSQL's by construction.
 *
 * The array's layout is json_agg()'s: "[", then ", " between elements and
 * "\n " before every row after the first, "]" at the end, and NULL for no
 * rows.  test/pgtap/json_agg.sql compares the two aggregates byte for byte.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/makefuncs.h"
#include "parser/parse_coerce.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/typcache.h"
#include "utils/uuid.h"

/* How one column's values are written. */
typedef enum ColumnWay
{
	WAY_DROPPED,				/* a dropped column: not written */
	WAY_BOOL,
	WAY_INT2,
	WAY_INT4,
	WAY_INT8,
	WAY_UUID,
	WAY_TEXT,					/* text, varchar: the string, escaped */
	WAY_ENUM,					/* the label, escaped (labels cached) */
	WAY_DATETIME,				/* date, timestamp, timestamptz */
	WAY_JSON,					/* json: its text as it is */
	WAY_TO_JSON					/* anything else: PostgreSQL's to_json() */
} ColumnWay;

#define ENUM_CACHE 8

typedef struct Column
{
	ColumnWay	way;
	Oid			base;			/* the type, domains looked through */
	char	   *key;			/* "name": escaped, with its colon */
	int			keylen;
	FmgrInfo	to_json;		/* WAY_TO_JSON: to_json() of this type */
	FmgrInfo	enum_out;		/* WAY_ENUM */
	int			nlabels;
	Oid			label_oid[ENUM_CACHE];
	char	   *label[ENUM_CACHE];	/* escaped, quotes included */
} Column;

typedef struct RowShape
{
	MemoryContext cxt;			/* holds the shape and all it points to */
	Oid			type;
	int32		typmod;
	TupleDesc	desc;
	Datum	   *values;
	bool	   *nulls;
	Column		columns[FLEXIBLE_ARRAY_MEMBER];
} RowShape;

typedef struct RowsAggState
{
	StringInfoData buf;
	RowShape   *shape;
	MemoryContext cxt;
} RowsAggState;

/* Append s (len bytes, no NUL inside) as a JSON string, as escape_json() writes it. */
static void
append_string(StringInfo buf, const char *s, int len)
{
	for (int i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c < 0x20 || c == '"' || c == '\\')
		{
			char	   *copy = pnstrdup(s, len);

			escape_json(buf, copy);
			pfree(copy);
			return;
		}
	}
	enlargeStringInfo(buf, len + 2);
	buf->data[buf->len++] = '"';
	memcpy(buf->data + buf->len, s, len);
	buf->len += len;
	buf->data[buf->len++] = '"';
	buf->data[buf->len] = '\0';
}

/* The way of a built-in type written natively, or WAY_TO_JSON. */
static ColumnWay
builtin_way(Oid type)
{
	switch (type)
	{
		case BOOLOID:
			return WAY_BOOL;
		case INT2OID:
			return WAY_INT2;
		case INT4OID:
			return WAY_INT4;
		case INT8OID:
			return WAY_INT8;
		case UUIDOID:
			return WAY_UUID;
		case TEXTOID:
		case VARCHAROID:
			return WAY_TEXT;
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return WAY_DATETIME;
		case JSONOID:
			return WAY_JSON;
		default:
			return WAY_TO_JSON;
	}
}

/*
 * How PostgreSQL's JSON output writes a type, for the types written here;
 * WAY_TO_JSON for every other (base: the type, domains looked through).
 */
static ColumnWay
column_way(Oid base)
{
	ColumnWay	way = builtin_way(base);
	Oid			castfunc;

	if (way != WAY_TO_JSON)
		return way;
	/* An enum is written by its label, unless a cast to json says otherwise. */
	if (type_is_enum(base) &&
		!(find_coercion_pathway(JSONOID, base, COERCION_EXPLICIT, &castfunc) == COERCION_PATH_FUNC &&
		  OidIsValid(castfunc)))
		return WAY_ENUM;
	return WAY_TO_JSON;
}

/*
 * The shape of rows of this type, in a context of its own under the
 * aggregate's (parent), so that a shape replaced by the next row's is freed.
 */
static RowShape *
shape_for(Oid type, int32 typmod, MemoryContext parent)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "task_api json_agg row shape",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	TupleDesc	desc = lookup_rowtype_tupdesc_copy(type, typmod);
	RowShape   *shape = palloc0(offsetof(RowShape, columns) + sizeof(Column) * Max(desc->natts, 1));
	StringInfoData keys;
	int		   *key_at = palloc(sizeof(int) * Max(desc->natts, 1));

	shape->cxt = cxt;
	shape->type = type;
	shape->typmod = typmod;
	shape->desc = desc;
	shape->values = palloc(sizeof(Datum) * Max(desc->natts, 1));
	shape->nulls = palloc(sizeof(bool) * Max(desc->natts, 1));
	/* Every member name, escaped and with its colon, in one buffer. */
	initStringInfo(&keys);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		Column	   *col = &shape->columns[i];

		if (att->attisdropped)
		{
			col->way = WAY_DROPPED;
			continue;
		}
		key_at[i] = keys.len;
		escape_json(&keys, NameStr(att->attname));
		appendStringInfoChar(&keys, ':');
		col->keylen = keys.len - key_at[i];
		/* A built-in type is no domain: no catalogue look-up for it. */
		col->base = att->atttypid;
		col->way = builtin_way(col->base);
		if (col->way == WAY_TO_JSON)
		{
			col->base = getBaseType(att->atttypid);
			col->way = column_way(col->base);
		}
		if (col->way == WAY_TO_JSON)
		{
			/* to_json() reads its argument's type from the call expression. */
			Const	   *arg = makeNullConst(att->atttypid, att->atttypmod, att->attcollation);

			fmgr_info_cxt(F_TO_JSON, &col->to_json, cxt);
			fmgr_info_set_expr((Node *) makeFuncExpr(F_TO_JSON, JSONOID, list_make1(arg),
													 InvalidOid, InvalidOid,
													 COERCE_EXPLICIT_CALL),
							   &col->to_json);
		}
		else if (col->way == WAY_ENUM)
			fmgr_info_cxt(F_ENUM_OUT, &col->enum_out, cxt);
	}
	/* The buffer is where it will stay now. */
	for (int i = 0; i < desc->natts; i++)
		if (shape->columns[i].way != WAY_DROPPED)
			shape->columns[i].key = keys.data + key_at[i];
	pfree(key_at);
	MemoryContextSwitchTo(old);
	return shape;
}

/* An enum's label as a JSON string, from the column's small cache. */
static void
append_enum(StringInfo buf, Column *col, Datum value, MemoryContext cxt)
{
	Oid			oid = DatumGetObjectId(value);
	char	   *label;
	StringInfoData quoted;
	MemoryContext old;

	for (int i = 0; i < col->nlabels; i++)
		if (col->label_oid[i] == oid)
		{
			appendStringInfoString(buf, col->label[i]);
			return;
		}
	label = OutputFunctionCall(&col->enum_out, value);
	if (col->nlabels == ENUM_CACHE)
	{
		append_string(buf, label, (int) strlen(label));
		return;
	}
	old = MemoryContextSwitchTo(cxt);
	initStringInfo(&quoted);
	append_string(&quoted, label, (int) strlen(label));
	MemoryContextSwitchTo(old);
	col->label_oid[col->nlabels] = oid;
	col->label[col->nlabels++] = quoted.data;
	appendBinaryStringInfo(buf, quoted.data, quoted.len);
}

/* A uuid as uuid_out() writes it, in quotes. */
static void
append_uuid(StringInfo buf, const pg_uuid_t *uuid)
{
	static const char hex[] = "0123456789abcdef";
	char	   *o;

	enlargeStringInfo(buf, 2 * UUID_LEN + 4 + 2);
	o = buf->data + buf->len;
	*o++ = '"';
	for (int i = 0; i < UUID_LEN; i++)
	{
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o++ = '-';
		*o++ = hex[uuid->data[i] >> 4];
		*o++ = hex[uuid->data[i] & 0x0F];
	}
	*o++ = '"';
	*o = '\0';
	buf->len = (int) (o - buf->data);
}

/* An integer as its output function writes it (a valid JSON number). */
static void
append_int(StringInfo buf, ColumnWay way, Datum value)
{
	char		digits[MAXINT8LEN + 1];
	int			n;

	if (way == WAY_INT2)
		n = pg_itoa(DatumGetInt16(value), digits);
	else if (way == WAY_INT4)
		n = pg_ltoa(DatumGetInt32(value), digits);
	else
		n = pg_lltoa(DatumGetInt64(value), digits);
	appendBinaryStringInfo(buf, digits, n);
}

/* One value of a column that is not NULL. */
static void
append_value(StringInfo buf, Column *col, Datum value, MemoryContext cxt)
{
	switch (col->way)
	{
		case WAY_BOOL:
			if (DatumGetBool(value))
				appendBinaryStringInfo(buf, "true", 4);
			else
				appendBinaryStringInfo(buf, "false", 5);
			break;
		case WAY_INT2:
		case WAY_INT4:
		case WAY_INT8:
			append_int(buf, col->way, value);
			break;
		case WAY_UUID:
			append_uuid(buf, DatumGetUUIDP(value));
			break;
		case WAY_TEXT:
			{
				text	   *t = DatumGetTextPP(value);

				append_string(buf, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
				break;
			}
		case WAY_ENUM:
			append_enum(buf, col, value, cxt);
			break;
		case WAY_DATETIME:
			{
				char		out[MAXDATELEN + 1];

				JsonEncodeDateTime(out, value, col->base, NULL);
				appendStringInfoChar(buf, '"');
				appendStringInfoString(buf, out);
				appendStringInfoChar(buf, '"');
				break;
			}
		case WAY_JSON:
			{
				text	   *t = DatumGetTextPP(value);

				appendBinaryStringInfo(buf, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
				break;
			}
		case WAY_TO_JSON:
			{
				text	   *t = DatumGetTextPP(FunctionCall1(&col->to_json, value));

				appendBinaryStringInfo(buf, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
				break;
			}
		case WAY_DROPPED:
			break;
	}
}

/* One row as a JSON object: {"name":value,...}, as composite_to_json() writes it. */
static void
append_row(RowsAggState *state, HeapTupleHeader row)
{
	Oid			type = HeapTupleHeaderGetTypeId(row);
	int32		typmod = HeapTupleHeaderGetTypMod(row);
	RowShape   *shape = state->shape;
	HeapTupleData tuple;
	bool		first = true;

	if (shape == NULL || shape->type != type || shape->typmod != typmod)
	{
		if (shape != NULL)
			MemoryContextDelete(shape->cxt);
		shape = state->shape = shape_for(type, typmod, state->cxt);
	}
	tuple.t_len = HeapTupleHeaderGetDatumLength(row);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = row;
	heap_deform_tuple(&tuple, shape->desc, shape->values, shape->nulls);

	appendStringInfoChar(&state->buf, '{');
	for (int i = 0; i < shape->desc->natts; i++)
	{
		Column	   *col = &shape->columns[i];

		if (col->way == WAY_DROPPED)
			continue;
		if (!first)
			appendStringInfoChar(&state->buf, ',');
		first = false;
		appendBinaryStringInfo(&state->buf, col->key, col->keylen);
		if (shape->nulls[i])
			appendBinaryStringInfo(&state->buf, "null", 4);
		else
			append_value(&state->buf, col, shape->values[i], shape->cxt);
	}
	appendStringInfoChar(&state->buf, '}');
}

PG_FUNCTION_INFO_V1(task_api_json_agg_rows_step);

/* The transition: the array so far, and one more row (or NULL). */
Datum
task_api_json_agg_rows_step(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	RowsAggState   *state;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "task_api_json_agg_rows_step called in non-aggregate context");
	if (PG_ARGISNULL(0))
	{
		MemoryContext old = MemoryContextSwitchTo(aggcxt);

		state = palloc0(sizeof(RowsAggState));
		state->cxt = aggcxt;
		initStringInfo(&state->buf);
		appendStringInfoChar(&state->buf, '[');
		MemoryContextSwitchTo(old);
	}
	else
	{
		state = (RowsAggState *) PG_GETARG_POINTER(0);
		appendBinaryStringInfo(&state->buf, ", ", 2);
	}
	if (PG_ARGISNULL(1))
	{
		appendBinaryStringInfo(&state->buf, "null", 4);
		PG_RETURN_POINTER(state);
	}
	/* json_agg() starts each row after the first on a new line. */
	if (!PG_ARGISNULL(0))
		appendBinaryStringInfo(&state->buf, "\n ", 2);
	append_row(state, PG_GETARG_HEAPTUPLEHEADER(1));
	PG_RETURN_POINTER(state);
}

PG_FUNCTION_INFO_V1(task_api_json_agg_rows_final);

/* The array closed, or NULL when there was no row. */
Datum
task_api_json_agg_rows_final(PG_FUNCTION_ARGS)
{
	RowsAggState   *state;
	text	   *result;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "task_api_json_agg_rows_final called in non-aggregate context");
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	state = (RowsAggState *) PG_GETARG_POINTER(0);
	/* The bracket is written into the result only: the state stays as it is. */
	result = palloc(VARHDRSZ + state->buf.len + 1);
	SET_VARSIZE(result, VARHDRSZ + state->buf.len + 1);
	memcpy(VARDATA(result), state->buf.data, state->buf.len);
	VARDATA(result)[state->buf.len] = ']';
	PG_RETURN_TEXT_P(result);
}
