/*
 * json_pairs.c
 *		A small, non-throwing reader for flat JSON objects.
 *
 * PostgREST passes request headers, cookies and JWT claims as flat JSON
 * objects, and response headers as an array of one-member objects.  Using
 * the backend's own JSON lexer with semantic actions gives us exactly the
 * members we need without building a jsonb value, and reports malformed
 * input as a return value instead of an error, so callers on error paths
 * can tolerate a corrupt setting.
 */
#include "postgres.h"

#include "common/jsonapi.h"
#include "mb/pg_wchar.h"

#include "json_pairs.h"

typedef struct CollectState
{
	TaPairs    *out;
	int			want_depth;
	int			depth;			/* current nesting of arrays and objects */
	bool		top_is_array;
	bool		shape_ok;
	char	   *field;			/* member name awaiting its value */
} CollectState;

/* Append one pair, growing the arrays geometrically. */
static void
pairs_add(TaPairs *pairs, char *name, char *value)
{
	if (pairs->count == pairs->capacity)
	{
		int			newcap = pairs->capacity == 0 ? 16 : pairs->capacity * 2;

		if (pairs->names == NULL)
		{
			pairs->names = palloc(sizeof(char *) * newcap);
			pairs->values = palloc(sizeof(char *) * newcap);
		}
		else
		{
			pairs->names = repalloc(pairs->names, sizeof(char *) * newcap);
			pairs->values = repalloc(pairs->values, sizeof(char *) * newcap);
		}
		pairs->capacity = newcap;
	}
	pairs->names[pairs->count] = name;
	pairs->values[pairs->count] = value;
	pairs->count++;
}

/* Track depth and whether the outer container has the expected kind. */
static void
on_object_start(void *state)
{
	CollectState *st = state;

	if (st->depth == 0 && st->want_depth == 2)
		st->shape_ok = false;
	st->depth++;
}

static void
on_object_end(void *state)
{
	((CollectState *) state)->depth--;
}

static void
on_array_start(void *state)
{
	CollectState *st = state;

	if (st->depth == 0)
	{
		st->top_is_array = true;
		if (st->want_depth == 1)
			st->shape_ok = false;
	}
	st->depth++;
}

static void
on_array_end(void *state)
{
	((CollectState *) state)->depth--;
}

/* Remember the member name when we are inside a wanted object. */
static void
on_field_start(void *state, char *fname, bool isnull)
{
	CollectState *st = state;

	st->field = (st->depth == st->want_depth) ? fname : NULL;
}

/* Scalars that are direct members of a wanted object become pairs. */
static void
on_scalar(void *state, char *token, JsonTokenType tokentype)
{
	CollectState *st = state;

	if (st->depth == 0)
	{
		st->shape_ok = false;
		return;
	}
	if (st->field == NULL || st->depth != st->want_depth)
		return;
	pairs_add(st->out, st->field,
			  tokentype == JSON_TOKEN_NULL ? NULL : token);
	st->field = NULL;
}

bool
ta_json_collect_pairs(const char *json, int depth, TaPairs *out)
{
	JsonLexContext *lex;
	JsonSemAction sem;
	CollectState st;

	memset(out, 0, sizeof(*out));
	if (json == NULL || json[0] == '\0')
		return true;

	memset(&st, 0, sizeof(st));
	st.out = out;
	st.want_depth = depth;
	st.shape_ok = true;

	memset(&sem, 0, sizeof(sem));
	sem.semstate = &st;
	sem.object_start = on_object_start;
	sem.object_end = on_object_end;
	sem.array_start = on_array_start;
	sem.array_end = on_array_end;
	sem.object_field_start = on_field_start;
	sem.scalar = on_scalar;

	lex = makeJsonLexContextCstringLen(unconstify(char *, json), strlen(json),
									   GetDatabaseEncoding(), true);
	if (pg_parse_json(lex, &sem) != JSON_SUCCESS || !st.shape_ok)
	{
		memset(out, 0, sizeof(*out));
		return false;
	}
	return true;
}

const char *
ta_pairs_get(const TaPairs *pairs, const char *name, bool *found)
{
	for (int i = pairs->count - 1; i >= 0; i--)
	{
		if (strcmp(pairs->names[i], name) == 0)
		{
			if (found)
				*found = true;
			return pairs->values[i];
		}
	}
	if (found)
		*found = false;
	return NULL;
}
