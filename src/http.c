/*
 * http.c
 *		HTTP details the SQL and the request path share: the CSRF token bound
 *		to a session, the percent-encoding of Link header query strings, the
 *		requests that run anonymously whatever cookie they carry, and the
 *		constant-time comparison of secrets that come in headers and cookies.
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "http.h"
#include "request.h"
#include "jwt.h"

/* The CSRF token is a MAC of the session id, so it needs no storage. */
char *
ta_csrf_token(const char *jti)
{
	const char *secret = ta_jwt_signing_secret();
	StringInfoData msg;
	uint8_t		mac[TA_JWT_MAC_LEN];
	char	   *out = palloc(64);

	initStringInfo(&msg);
	appendStringInfo(&msg, "csrf:%s", jti);
	if (!ta_pg_hmac_sha256((const uint8_t *) secret, strlen(secret),
						   (const uint8_t *) msg.data, msg.len, mac))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute the CSRF token")));
	ta_base64url_encode(mac, sizeof(mac), out);
	pfree(msg.data);
	return out;
}

/* Equal strings, compared in time independent of where they differ. */
bool
ta_same_secret(const char *a, const char *b)
{
	size_t		la = strlen(a);

	if (la != strlen(b))
		return false;
	return ta_timing_safe_equal((const uint8_t *) a, (const uint8_t *) b, la);
}

/* Signup and login run anonymously, so they ignore any session cookie. */
bool
ta_request_is_login_path(void)
{
	const char *path = ta_request_path();

	return path != NULL &&
		(strcmp(path, "/rpc/signup") == 0 || strcmp(path, "/rpc/login") == 0);
}

PG_FUNCTION_INFO_V1(task_api_csrf_token);

/* The CSRF token that goes with a session id. */
Datum
task_api_csrf_token(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(ta_csrf_token(text_to_cstring(PG_GETARG_TEXT_PP(0)))));
}

PG_FUNCTION_INFO_V1(task_api_percent_encode);

/*
 * percent_encode(text): RFC 3986 percent-encoding of the UTF-8 bytes (every
 * byte except the unreserved A-Z a-z 0-9 - . _ ~), for query strings in the
 * Link headers the page functions build.
 */
Datum
task_api_percent_encode(PG_FUNCTION_ARGS)
{
	static const char hex[] = "0123456789ABCDEF";
	text	   *in = PG_GETARG_TEXT_PP(0);
	const unsigned char *s = (const unsigned char *) VARDATA_ANY(in);
	size_t		len = VARSIZE_ANY_EXHDR(in);
	StringInfoData out;

	initStringInfo(&out);
	for (size_t i = 0; i < len; i++)
	{
		unsigned char ch = s[i];

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
			ch == '-' || ch == '.' || ch == '_' || ch == '~')
			appendStringInfoChar(&out, (char) ch);
		else
		{
			appendStringInfoChar(&out, '%');
			appendStringInfoChar(&out, hex[ch >> 4]);
			appendStringInfoChar(&out, hex[ch & 15]);
		}
	}
	PG_RETURN_TEXT_P(cstring_to_text_with_len(out.data, out.len));
}
