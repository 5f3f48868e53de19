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
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/formatting.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "errors.h"
#include "json_pairs.h"
#include "request.h"

typedef struct RequestCache
{
	const char *guc;			/* setting name */
	MemoryContext cxt;			/* owns raw and pairs */
	char	   *raw;			/* setting text the pairs were parsed from */
	TaPairs		pairs;
	bool		uuid_done;		/* claims only: sub parsed */
	bool		has_uuid;
	pg_uuid_t	uuid;
} RequestCache;

static RequestCache headers_cache = {.guc = "request.headers"};
static RequestCache cookies_cache = {.guc = "request.cookies"};
static RequestCache claims_cache = {.guc = "request.jwt.claims"};

/* Make sure cache reflects the current value of its setting. */
static RequestCache *
refresh(RequestCache *cache)
{
	const char *raw = GetConfigOption(cache->guc, true, false);
	MemoryContext old;

	if (raw == NULL)
		raw = "";
	if (cache->raw != NULL && strcmp(cache->raw, raw) == 0)
		return cache;

	if (cache->cxt == NULL)
		cache->cxt = AllocSetContextCreate(TopMemoryContext,
										   "task_api request cache",
										   ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(cache->cxt);

	cache->raw = NULL;
	cache->uuid_done = false;
	old = MemoryContextSwitchTo(cache->cxt);
	/* A value that is not a JSON object reads as empty. */
	(void) ta_json_collect_pairs(raw, 1, &cache->pairs);
	cache->raw = pstrdup(raw);
	MemoryContextSwitchTo(old);
	return cache;
}

const char *
ta_request_header(const char *name)
{
	RequestCache *cache = refresh(&headers_cache);
	char	   *lower = asc_tolower(name, strlen(name));
	const char *value = ta_pairs_get(&cache->pairs, lower, NULL);

	pfree(lower);
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

/* Value of one hex digit, or -1. */
static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Parse the canonical 8-4-4-4-12 form without raising. */
bool
ta_parse_uuid(const char *s, pg_uuid_t *out)
{
	int			byte = 0;

	if (strlen(s) != 36)
		return false;
	for (int i = 0; i < 36;)
	{
		int			hi,
					lo;

		if (i == 8 || i == 13 || i == 18 || i == 23)
		{
			if (s[i] != '-')
				return false;
			i++;
			continue;
		}
		hi = hexval(s[i]);
		lo = hexval(s[i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out->data[byte++] = (unsigned char) ((hi << 4) | lo);
		i += 2;
	}
	return byte == UUID_LEN;
}

bool
ta_current_user_id(pg_uuid_t *out)
{
	RequestCache *cache = refresh(&claims_cache);

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
