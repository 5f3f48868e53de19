/*
 * cors.c
 *		Browsers on other origins (docs/authentication.md, "Browsers on
 *		other origins").
 *
 * PostgREST 12.0.2 answers CORS itself (wai-cors, src/PostgREST/Cors.hs):
 * preflights entirely, and on actual responses it appends
 * Access-Control-Allow-Origin (the request's origin with
 * Access-Control-Allow-Credentials: true when server-cors-allowed-origins
 * lists it, else "*" when that setting is empty) and a fixed
 * Access-Control-Expose-Headers that names none of this API's headers.
 * Headers set in response.headers come first in the response and its own
 * are appended after them, so a second Access-Control-Expose-Headers set
 * here is combined with PostgREST's by the browser (Fetch's header lists
 * join repeated names): ta_cors_begin_request() adds ours to every answer
 * to a request with an Origin header, errors included (ta_raise carries
 * response.headers).
 *
 * PostgREST cannot tell which listed origins may use credentials: every
 * origin in server-cors-allowed-origins gets Allow-Credentials.  So the
 * database decides who may use the session cookie:
 * task_api.cors_allowed_origins lists those origins; a cookie request
 * whose Origin is neither listed nor the API's own (the Host header) is
 * refused with origin_not_allowed, reads included, and signup, login and
 * refresh set no cookie for it.  The API's own origin is the scheme the
 * client used (Forwarded or X-Forwarded-Proto from a proxy that ends TLS,
 * else http) with the Host header: http://api.example is not the origin
 * of an API served at https://api.example.  A request without Origin (curl, a
 * same-origin GET, a navigation) is not a cross-origin read.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "cors.h"
#include "errors.h"
#include "guc.h"
#include "request.h"

/* Is s[0..len) an origin: http(s)://host[:port], nothing after it? */
static bool
is_origin(const char *s, size_t len)
{
	size_t		start;

	if (len > 8 && pg_strncasecmp(s, "https://", 8) == 0)
		start = 8;
	else if (len > 7 && pg_strncasecmp(s, "http://", 7) == 0)
		start = 7;
	else
		return false;
	for (size_t i = start; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (!(isalnum(c) || strchr("-._:[]", c) != NULL))
			return false;
	}
	return true;
}

/* Calls fn on each comma-separated entry of list, trimmed; stops on false. */
static bool
each_origin(const char *list, bool (*fn) (const char *s, size_t len, const void *arg),
			const void *arg)
{
	const char *p = list;

	while (p != NULL && *p != '\0')
	{
		const char *end = strchr(p, ',');
		size_t		len = end ? (size_t) (end - p) : strlen(p);

		while (len > 0 && (*p == ' ' || *p == '\t'))
			p++, len--;
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len > 0 && !fn(p, len, arg))
			return false;
		p = end ? end + 1 : NULL;
	}
	return true;
}

static bool
valid_entry(const char *s, size_t len, const void *arg)
{
	return is_origin(s, len);
}

bool
ta_cors_check_origins(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || each_origin(*newval, valid_entry, NULL))
		return true;
	GUC_check_errdetail("Each entry must be an origin such as https://app.example.com or "
						"http://localhost:5173: a scheme, a host and an optional port, no path.");
	return false;
}

/* Stops (returns false) on the entry equal to the origin arg. */
static bool
differs(const char *s, size_t len, const void *arg)
{
	const char *origin = arg;

	return !(strlen(origin) == len && pg_strncasecmp(s, origin, len) == 0);
}

/*
 * The first value of a proxy's header into out: up to the first ',' (and
 * ';' for Forwarded's parameters), spaces and quotes trimmed.
 */
static void
first_value(const char *s, char *out, size_t cap, const char *stops)
{
	size_t		n = 0;

	while (*s == ' ' || *s == '\t' || *s == '"')
		s++;
	for (; *s != '\0' && strchr(stops, *s) == NULL && n + 1 < cap; s++)
		out[n++] = *s;
	while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t' || out[n - 1] == '"'))
		n--;
	out[n] = '\0';
}

/*
 * The scheme the client used to reach the API, into out: the proto= of the
 * first element of Forwarded (RFC 7239), else the first X-Forwarded-Proto,
 * else "http" (PostgREST itself serves plain HTTP).  A proxy that ends TLS
 * must set one of them.
 */
static void
api_scheme(char *out, size_t cap)
{
	const char *forwarded = ta_request_header("forwarded");
	const char *xfp = ta_request_header("x-forwarded-proto");
	char		element[256];

	strlcpy(out, "http", cap);
	if (forwarded != NULL)
	{
		first_value(forwarded, element, sizeof(element), ",");
		for (const char *p = element; p != NULL && *p != '\0'; p = strchr(p, ';') ? strchr(p, ';') + 1 : NULL)
		{
			while (*p == ' ' || *p == '\t')
				p++;
			if (pg_strncasecmp(p, "proto=", 6) == 0)
			{
				first_value(p + 6, out, cap, ";,");
				return;
			}
		}
	}
	if (xfp != NULL)
		first_value(xfp, out, cap, ",");
}

/*
 * The API's own origin: the Origin's scheme is the one the client used
 * (api_scheme) and its host and port are the Host header.
 */
static bool
same_origin(const char *origin)
{
	const char *host = ta_request_header("host");
	const char *authority = strstr(origin, "://");
	char		scheme[16];

	if (host == NULL || authority == NULL)
		return false;
	api_scheme(scheme, sizeof(scheme));
	return strlen(scheme) == (size_t) (authority - origin) &&
		pg_strncasecmp(origin, scheme, authority - origin) == 0 &&
		pg_strcasecmp(authority + 3, host) == 0;
}

bool
ta_cors_cookie_allowed(void)
{
	const char *origin = ta_request_header("origin");

	if (origin == NULL)
		return true;
	if (!is_origin(origin, strlen(origin)))
		return false;			/* "null", and anything malformed */
	return same_origin(origin) ||
		(ta_cors_allowed_origins != NULL && !each_origin(ta_cors_allowed_origins, differs, origin));
}

void
ta_cors_check_cookie(void)
{
	if (!ta_cors_cookie_allowed())
		ta_raise("origin_not_allowed", "this origin may not use the session cookie",
				 "The Origin header names a site that task_api.cors_allowed_origins does not list.",
				 "send the token in Authorization: Bearer, or list the origin in task_api.cors_allowed_origins",
				 NULL, 0);
}

void
ta_cors_begin_request(void)
{
	if (ta_request_header("origin") == NULL)
		return;
	ta_append_header("Access-Control-Expose-Headers", TA_EXPOSE_HEADERS);
	ta_append_header("Vary", "Origin");
}

PG_FUNCTION_INFO_V1(task_api_cookie_origin_allowed);

/* SQL: may this request's origin receive and use the session cookie? */
Datum
task_api_cookie_origin_allowed(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(ta_cors_cookie_allowed());
}
