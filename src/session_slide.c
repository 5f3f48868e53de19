/*
 * session_slide.c
 *		Cookie sessions that slide (docs/authentication.md, "Sessions that
 *		renew").
 *
 * A browser cannot call /rpc/refresh for a cookie it cannot read, so a
 * cookie session renews itself: a request authenticated by a session
 * cookie past half its life gets a Set-Cookie with a new token for the
 * same session (same jti, so logout and every other revocation still end
 * it), whose exp is task_api.jwt_ttl from now but never past the session
 * row's expires_at, the absolute limit set at sign-in
 * (task_api.session_lifetime).  Nothing is written: GET and HEAD run in
 * read-only transactions, and the token carries the new expiry itself.
 * The session row is read only when a cookie slides, at most once per half
 * a token's life per browser in the common case.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "utils/timestamp.h"

#include "constants.h"
#include "errors.h"
#include "guc.h"
#include "jwt.h"
#include "owner_spi.h"
#include "session_slide.h"

static SPIPlanPtr session_end_plan = NULL;

/* A numeric claim, or false when it is absent or not an integer. */
static bool
int_claim(const ta_jwt_claims *claims, const char *name, int64 *out)
{
	const ta_json_member *m = ta_jwt_claim(claims, name);
	char	   *end;

	if (m == NULL || m->is_string)
		return false;
	errno = 0;
	*out = strtoll(m->value, &end, 10);
	return errno == 0 && *end == '\0' && end != m->value;
}

/* When the session ends for good (Unix seconds), or false if it is gone. */
static bool
session_end(const pg_uuid_t *session_id, int64 *out)
{
	Oid			types[1] = {UUIDOID};
	Datum		args[1] = {UUIDPGetDatum(unconstify(pg_uuid_t *, session_id))};
	Datum		row[1];
	bool		nulls[1];

	if (!ta_owner_query_row(&session_end_plan,
							"SELECT pg_catalog.floor(pg_catalog.date_part('epoch', s.expires_at))::bigint"
							"  FROM task_api.sessions s WHERE s.id OPERATOR(pg_catalog.=) $1",
							1, types, args, true, 1, row, nulls) || nulls[0])
		return false;
	*out = DatumGetInt64(row[0]);
	return true;
}

void
ta_session_slide(const ta_jwt_claims *claims, const pg_uuid_t *session_id)
{
	const ta_json_member *sub = ta_jwt_claim(claims, "sub");
	const ta_json_member *jti = ta_jwt_claim(claims, "jti");
	int64		iat;
	int64		exp;
	int64		ends;
	int64		now = (int64) (GetCurrentTransactionStartTimestamp() / USECS_PER_SEC) +
		(int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;
	int64		new_exp;
	char	   *token;

	if (sub == NULL || jti == NULL || !int_claim(claims, "iat", &iat) ||
		!int_claim(claims, "exp", &exp) || exp <= iat || now - iat < (exp - iat) / 2)
		return;
	if (!session_end(session_id, &ends))
		return;
	new_exp = Min(now + (int64) ta_jwt_ttl, ends);
	if (new_exp <= exp)
		return;
	/* The claims start_session() signs; sub and jti are checked UUIDs. */
	token = ta_jwt_sign_json(psprintf("{\"sub\": \"%s\", \"role\": \"%s\", \"iat\": " INT64_FORMAT
									  ", \"exp\": " INT64_FORMAT ", \"jti\": \"%s\"}",
									  sub->value, TA_USER_ROLE, now, new_exp, jti->value));
	ta_append_header("Set-Cookie",
					 psprintf("%s=%s; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=" INT64_FORMAT,
							  TA_SESSION_COOKIE, token, new_exp - now));
}
