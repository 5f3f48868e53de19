/*
 * request.c
 *		Read the request context PostgREST passes in settings, once.
 *
 * PostgREST sets request.headers, request.cookies and request.jwt.claims as
 * JSON objects for every request.  RLS policies ask for the caller's id for
 * every row, so we parse each setting once and keep the result until the
 * setting's text changes (a new request, or pre_request switching identity).
 * Each cache owns a small memory context that is reset on change, so memory
 * does not grow with the number of requests.
 *
 * The settings are read without a search by name (ta_request_setting): each
 * keeps a reference to its variable in PostgreSQL's array of settings,
 * checked on every read, so a read is a few loads and compares instead of
 * GetConfigOption()'s binary search with case-insensitive comparisons.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/formatting.h"
#include "utils/guc.h"
#include "utils/guc_tables.h"
#include "utils/memutils.h"

#include "errors.h"
#include "json_pairs.h"
#include "jwt_codec.h"
#include "pre_request.h"
#include "request.h"
#include "trace_id.h"

/*
 * Where a setting's variable is in PostgreSQL's array of settings
 * (guc_tables.h).  PostgreSQL never moves a variable's struct, but it may
 * grow and re-sort the array when a setting is added, replace a placeholder
 * by an extension's real definition (freeing the placeholder), or remove
 * placeholders of a reserved prefix.  So the reference is used only while
 * the array still holds the same struct at the same index under the same
 * name: the array holds only live variables, and holds one per name.
 */
typedef struct SettingRef
{
	const char *name;			/* as callers spell it */
	int			index;			/* in get_guc_variables(); -1: not found yet */
	struct config_string *var;	/* the string variable found there */
	char		found[32];		/* its name as PostgreSQL spells it */
} SettingRef;

typedef struct RequestCache
{
	SettingRef	setting;
	MemoryContext cxt;			/* owns raw and pairs */
	char	   *raw;			/* setting text the pairs were parsed from */
	TaPairs		pairs;
	bool		uuid_done;		/* claims only: sub parsed */
	bool		has_uuid;
	pg_uuid_t	uuid;
} RequestCache;

#define SETTING_REF(n) {.name = (n), .index = -1}

static RequestCache headers_cache = {.setting = SETTING_REF("request.headers")};
static RequestCache cookies_cache = {.setting = SETTING_REF("request.cookies")};
static RequestCache claims_cache = {.setting = SETTING_REF("request.jwt.claims")};
static SettingRef method_ref = SETTING_REF("request.method");
static SettingRef path_ref = SETTING_REF("request.path");
static SettingRef response_headers_ref = SETTING_REF("response.headers");

static bool collect_plain(const char *raw, TaPairs *pairs);

/* guc.c's guc_name_compare(), the order of the array: ASCII case folded. */
static int
setting_name_compare(const char *a, const char *b)
{
	while (*a && *b)
	{
		char		ca = *a++;
		char		cb = *b++;

		if (ca >= 'A' && ca <= 'Z')
			ca += 'a' - 'A';
		if (cb >= 'A' && cb <= 'Z')
			cb += 'a' - 'A';
		if (ca != cb)
			return ca - cb;
	}
	if (*a)
		return 1;
	if (*b)
		return -1;
	return 0;
}

/* Is ref's variable still at its index, under its name? */
static inline bool
setting_ref_valid(const SettingRef *ref)
{
	struct config_generic **vars;

	if (ref->index < 0 || ref->index >= GetNumConfigOptions())
		return false;
	vars = get_guc_variables();
	return vars[ref->index] == &ref->var->gen && strcmp(vars[ref->index]->name, ref->found) == 0;
}

/*
 * Find ref's variable by binary search of the sorted array, as guc.c does.
 * False when it does not exist, is not a string or has a name too long to
 * keep (then the caller asks GetConfigOption()).
 */
static bool
setting_ref_find(SettingRef *ref)
{
	struct config_generic **vars = get_guc_variables();
	int			lo = 0;
	int			hi = GetNumConfigOptions() - 1;

	ref->index = -1;
	while (lo <= hi)
	{
		int			mid = lo + (hi - lo) / 2;
		int			c = setting_name_compare(ref->name, vars[mid]->name);

		if (c == 0)
		{
			if (vars[mid]->vartype != PGC_STRING || strlen(vars[mid]->name) >= sizeof(ref->found))
				return false;
			ref->var = (struct config_string *) vars[mid];
			strlcpy(ref->found, vars[mid]->name, sizeof(ref->found));
			ref->index = mid;
			return true;
		}
		if (c < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	return false;
}

/* The setting's current text, or NULL when unset: GetConfigOption(name, true, false). */
static const char *
setting_value(SettingRef *ref)
{
	if (!setting_ref_valid(ref) && !setting_ref_find(ref))
		return GetConfigOption(ref->name, true, false);
	return *ref->var->variable;
}

/* Empty cache, its memory reset, for a new value; returns into its context. */
static MemoryContext
cache_reset(RequestCache *cache)
{
	if (cache->cxt == NULL)
		cache->cxt = AllocSetContextCreate(TopMemoryContext,
										   "task_api request cache",
										   ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(cache->cxt);
	cache->raw = NULL;
	cache->uuid_done = false;
	memset(&cache->pairs, 0, sizeof(cache->pairs));
	return MemoryContextSwitchTo(cache->cxt);
}

/* Make sure cache reflects the current value of its setting. */
static RequestCache *
refresh(RequestCache *cache)
{
	const char *raw = setting_value(&cache->setting);
	MemoryContext old;

	if (raw == NULL)
		raw = "";
	if (cache->raw != NULL && strcmp(cache->raw, raw) == 0)
		return cache;

	old = cache_reset(cache);
	/* A value that is not a JSON object reads as empty. */
	if (!collect_plain(raw, &cache->pairs))
		(void) ta_json_collect_pairs(raw, 1, &cache->pairs);
	cache->raw = pstrdup(raw);
	MemoryContextSwitchTo(old);
	return cache;
}

const char *
ta_request_method(void)
{
	return setting_value(&method_ref);
}

const char *
ta_request_path(void)
{
	return setting_value(&path_ref);
}

const char *
ta_response_headers(void)
{
	return setting_value(&response_headers_ref);
}

/*
 * Is this transaction a request to the API: request.method set and the
 * search path beginning with the api schema, as PostgREST's first statement
 * of a request leaves them ("api", then db-extra-search-path)?  A request
 * of another PostgREST serving another schema of the same database is not,
 * nor one in a database without task_api.
 */
bool
ta_request_for_api(void)
{
	const char *path = namespace_search_path;
	const char *method;
	size_t		len;

	if (path == NULL)
		return false;
	if (path[0] == '"')
	{
		if (strncmp(path, "\"api\"", 5) != 0)
			return false;
		len = 5;
	}
	else
	{
		if (strncmp(path, "api", 3) != 0)
			return false;
		len = 3;
	}
	if (path[len] != '\0' && path[len] != ',' && path[len] != ' ')
		return false;
	method = ta_request_method();
	if (method == NULL || method[0] == '\0')
		return false;
	/* A database with an api schema of its own but no task_api. */
	return OidIsValid(get_namespace_oid("task_api", true));
}

/* Are all members plain (no escapes: each string's value is its JSON text)? */
static bool
all_plain(const ta_jwt_claims *claims)
{
	for (int i = 0; i < claims->count; i++)
		if (!claims->members[i].plain)
			return false;
	return true;
}

/*
 * The pairs ta_json_collect_pairs() collects from a flat object whose
 * members are all plain, built from its members in the current context:
 * each string as is, numbers, true and false as their text, null as NULL.
 */
static void
pairs_from_members(const ta_jwt_claims *claims, TaPairs *pairs)
{
	pairs->capacity = Max(claims->count, 1);
	pairs->names = palloc(sizeof(char *) * pairs->capacity);
	pairs->values = palloc(sizeof(char *) * pairs->capacity);
	for (int i = 0; i < claims->count; i++)
	{
		const ta_json_member *m = &claims->members[i];

		pairs->names[i] = pnstrdup(m->name, m->name_len);
		pairs->values[i] = !m->is_string && strcmp(m->value, "null") == 0 ?
			NULL : pnstrdup(m->value, m->value_len);
	}
	pairs->count = claims->count;
}

/*
 * Collect raw's pairs with the JWT codec's flat-object reader, which is
 * cheaper than the backend's JSON parser and callbacks.  It reads only flat
 * objects of at most TA_JWT_MAX_CLAIMS members without duplicate names,
 * with JSON's whitespace, RFC 8259 numbers and valid UTF-8, all of which
 * the backend's parser reads the same way; false for anything else, an
 * escape included, and then the caller parses raw as before.
 */
static bool
collect_plain(const char *raw, TaPairs *pairs)
{
	static ta_jwt_claims members;	/* large; reused, never re-entered */

	if (!ta_json_parse_flat(raw, strlen(raw), &members) || !all_plain(&members))
		return false;
	pairs_from_members(&members, pairs);
	return true;
}

/*
 * request.jwt.claims was just set to json, the text of claims: keep claims
 * as its parsed value, so the next read does not parse it again (the text
 * is still compared on every read, as always).  Only when every member is
 * plain, as collect_plain() would.
 */
void
ta_request_claims_were_set(const char *json, const ta_jwt_claims *claims)
{
	MemoryContext old;

	if (!all_plain(claims))
		return;
	old = cache_reset(&claims_cache);
	pairs_from_members(claims, &claims_cache.pairs);
	claims_cache.raw = pstrdup(json);
	MemoryContextSwitchTo(old);
}

/* name in lower case: itself when it has no upper-case letter. */
static const char *
lower_name(const char *name, char **copy)
{
	*copy = NULL;
	for (const char *c = name; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			return *copy = asc_tolower(name, strlen(name));
	return name;
}

const char *
ta_request_header(const char *name)
{
	RequestCache *cache = refresh(&headers_cache);
	char	   *copy;
	const char *value = ta_pairs_get(&cache->pairs, lower_name(name, &copy), NULL);

	if (copy != NULL)
		pfree(copy);
	return value;
}

const char *
ta_request_cookie(const char *name)
{
	return ta_pairs_get(&refresh(&cookies_cache)->pairs, name, NULL);
}

const char *
ta_request_claim(const char *name)
{
	return ta_pairs_get(&refresh(&claims_cache)->pairs, name, NULL);
}

/* Parse the canonical 8-4-4-4-12 form without raising (src/trace_id.c). */
bool
ta_parse_uuid(const char *s, pg_uuid_t *out)
{
	return ta_uuid_parse(s, out->data);
}

bool
ta_current_user_id(pg_uuid_t *out)
{
	RequestCache *cache;

	/* A request to the API that no gate checked is refused (pre_request.c). */
	if (!ta_gate_ran())
		ta_gate_require();
	cache = refresh(&claims_cache);

	if (!cache->uuid_done)
	{
		bool		found;
		const char *sub = ta_pairs_get(&cache->pairs, "sub", &found);

		cache->has_uuid = false;
		if (found && sub != NULL)
		{
			if (!ta_parse_uuid(sub, &cache->uuid))
				ta_raise("unauthenticated", "the token's subject is not a user id",
						 NULL, NULL, NULL, 0);
			cache->has_uuid = true;
		}
		cache->uuid_done = true;
	}
	if (cache->has_uuid)
		*out = cache->uuid;
	return cache->has_uuid;
}

PG_FUNCTION_INFO_V1(task_api_current_user_id);

/* The caller's user id, for RLS policies and defaults; NULL when anonymous. */
Datum
task_api_current_user_id(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *uuid = palloc(sizeof(pg_uuid_t));

	if (!ta_current_user_id(uuid))
		PG_RETURN_NULL();
	PG_RETURN_UUID_P(uuid);
}

/* Return a C string as text, or SQL NULL. */
#define RETURN_TEXT_OR_NULL(s) \
	do { \
		const char *s_ = (s); \
		if (s_ == NULL) \
			PG_RETURN_NULL(); \
		PG_RETURN_TEXT_P(cstring_to_text(s_)); \
	} while (0)

PG_FUNCTION_INFO_V1(task_api_request_header);

/* A request header by name, case-insensitively. */
Datum
task_api_request_header(PG_FUNCTION_ARGS)
{
	RETURN_TEXT_OR_NULL(ta_request_header(text_to_cstring(PG_GETARG_TEXT_PP(0))));
}

PG_FUNCTION_INFO_V1(task_api_request_cookie);

/* A request cookie by name. */
Datum
task_api_request_cookie(PG_FUNCTION_ARGS)
{
	RETURN_TEXT_OR_NULL(ta_request_cookie(text_to_cstring(PG_GETARG_TEXT_PP(0))));
}

PG_FUNCTION_INFO_V1(task_api_request_claim);

/* A claim of the request's JWT, as text. */
Datum
task_api_request_claim(PG_FUNCTION_ARGS)
{
	RETURN_TEXT_OR_NULL(ta_request_claim(text_to_cstring(PG_GETARG_TEXT_PP(0))));
}
