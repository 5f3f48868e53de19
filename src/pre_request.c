/*
 * pre_request.c
 *		The request gate, and task_api.pre_request().
 *
 * Every request to the API passes the gate after PostgREST has switched to
 * the request's role and set its settings, before the request's own query,
 * in the same transaction.  Anything it raises becomes the response, and
 * the request's query never runs.
 *
 * Where it runs.  When the library is preloaded, at the end of PostgREST's
 * first statement of a request: the top-level SELECT of set_config() calls
 * that leaves request.method set and the search path beginning with the api
 * schema (an ExecutorRun hook; ta_request_for_api()), except on Citus.
 * That saves the request a statement and its round trip
 * (docs/performance.md).  It cannot
 * wait for the query itself: a session cookie switches the role, and the
 * query's row-level security is fixed when the query is planned, before any
 * executor hook.  task_api.pre_request(), PostgREST's db-pre-request, runs
 * the same gate; named in a configuration, it does nothing in a
 * transaction the hook has already checked, so the request is charged once.
 * A request to the API that neither checked (the library not preloaded and
 * no db-pre-request, or settings set by SET rather than by a query) is
 * refused as soon as anything asks who the caller is (ta_gate_require(),
 * called by ta_current_user_id()): no request reads the caller's rows
 * unchecked.
 *
 * What it does.  First it bounds the request's statements by
 * task_api.statement_timeout (bounds.c), then it charges the request to its
 * rate-limit bucket (rate_limit.c; 429 when it is empty) and takes one of
 * its user's in-flight slots until the transaction ends (inflight.c; 429 at
 * task_api.max_inflight_per_user).  Then it decides who the caller is:
 *
 *  - a bearer token (Authorization header), which PostgREST has already
 *    verified: its user must exist and its session (jti) or API key
 *    (key_id) must not be revoked or expired;
 *  - otherwise the __Host-task_api_session cookie, verified here in C
 *    (signature, exp, revocation); unsafe methods must also carry
 *    X-CSRF-Token equal to the __Host-task_api_csrf cookie, which is bound
 *    to the session.  The __Host- prefix makes browsers refuse the cookie
 *    from any other host (a sibling subdomain cannot set or shadow it); a
 *    cookie under the old name task_api_session, which a sibling could
 *    set, is refused, alone or next to the real one, and so is a cookie
 *    from an origin task_api.cors_allowed_origins does not list (cors.c);
 *    a cookie past half its life is renewed (session_slide.c).  The request
 *    then runs as task_api_user with the same request.jwt.claims a bearer
 *    token would have produced.  A bad cookie is a 401, never anonymous,
 *    except on signup and login, which ignore it;
 *  - otherwise anonymous.
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "tcop/pquery.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
#include "datatype/timestamp.h"
#include "utils/uuid.h"

#include "bounds.h"
#include "constants.h"
#include "cors.h"
#include "credential_lookup.h"
#include "enum_labels.h"
#include "errors.h"
#include "guc.h"
#include "http.h"
#include "jwt.h"
#include "membership.h"
#include "metrics.h"
#include "owner_spi.h"
#include "pre_request.h"
#include "rate_limit.h"
#include "request.h"
#include "session_slide.h"
#include "trace.h"

#define CLEAR_ATTRS "=; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=0"

static SPIPlanPtr api_key_touch_plan = NULL;

/* The local transaction the gate last ran in, and whether the hook ran it. */
static LocalTransactionId gate_lxid = InvalidLocalTransactionId;
static bool gate_by_hook = false;

static ExecutorRun_hook_type prev_executor_run = NULL;

/* A UUID claim, or false when it is absent or not a UUID. */
static bool
uuid_claim(const char *text, pg_uuid_t *out)
{
	return text != NULL && ta_parse_uuid(text, out);
}

static void
refuse(const char *message, const char *detail, const char *clear) pg_attribute_noreturn();
static void
unauthenticated(const char *message, const char *detail) pg_attribute_noreturn();

/*
 * 401 unauthenticated; clear (a Set-Cookie value, or NULL) tells the
 * browser to drop a cookie.  An error response carries one header of each
 * name, so at most one cookie is cleared.
 */
static void
refuse(const char *message, const char *detail, const char *clear)
{
	TaHeader	header = {"Set-Cookie", clear};

	ta_raise("unauthenticated", message, detail, "sign in again",
			 clear ? &header : NULL, clear ? 1 : 0);
}

/* 401, and tell the browser to drop a session cookie it may hold. */
static void
unauthenticated(const char *message, const char *detail)
{
	refuse(message, detail,
		   ta_request_cookie(TA_SESSION_COOKIE) != NULL ? TA_SESSION_COOKIE CLEAR_ATTRS : NULL);
}

static void
malformed(const char *message, const char *detail) pg_attribute_noreturn();

/* 401 for a credential that is not what task_api issues, counted. */
static void
malformed(const char *message, const char *detail)
{
	ta_metric_add(TA_METRIC_AUTH_MALFORMED, 1);
	unauthenticated(message, detail);
}

/*
 * The session cookie, or NULL.  Under the old name, alone or next to the
 * real one, a session cookie is refused: another host of the same domain
 * can set that name (not the __Host- one), so it may be an attacker's.
 * PostgREST passes request.cookies as an object (the last of two cookies
 * of one name wins) and reads only the first Cookie header, so two cookies
 * of one name are invisible here; a browser cannot hold two __Host- cookies
 * of one name (same host, same Path=/), so only a non-browser client can
 * send them, against itself.
 */
static const char *
session_cookie(void)
{
	const char *cookie = ta_request_cookie(TA_SESSION_COOKIE);
	const char *old = ta_request_cookie(TA_OLD_SESSION_COOKIE);

	if (old != NULL && cookie != NULL)
		refuse("the request carries two session cookies",
			   "A " TA_OLD_SESSION_COOKIE " cookie came with " TA_SESSION_COOKIE
			   ": another site of the same domain may have set one, so neither is used.",
			   TA_OLD_SESSION_COOKIE CLEAR_ATTRS);
	if (old != NULL && old[0] != '\0')
		refuse("the session cookie has an old name",
			   "Session cookies are now " TA_SESSION_COOKIE "; " TA_OLD_SESSION_COOKIE
			   " is no longer accepted.",
			   TA_OLD_SESSION_COOKIE CLEAR_ATTRS);
	return cookie;
}

/*
 * A memo of the caller's last credential check ('s' session, 'k' API key):
 * whether it was valid apart from time, and when it expires.  It holds for
 * one load of the membership cache, so it is exactly as fresh as a new
 * query would be.
 */
typedef struct CredentialMemo
{
	uint64		version;		/* ta_membership_version_of(); 0: none */
	char		kind;
	pg_uuid_t	id;
	bool		ok;
	TimestampTz expires;		/* DT_NOEND when it does not expire */
} CredentialMemo;

static CredentialMemo memo;

/* The memoized answer for this credential, if the memo is still current. */
static bool
credential_memo(uint64 version, char kind, const pg_uuid_t *id, bool *ok, TimestampTz *expires)
{
	if (memo.version != version || memo.kind != kind ||
		memcmp(&memo.id, id, sizeof(pg_uuid_t)) != 0)
		return false;
	*ok = memo.ok;
	*expires = memo.expires;
	return true;
}

/* Remember a credential check for as long as the membership cache holds. */
static void
credential_remember(uint64 version, char kind, const pg_uuid_t *id, bool ok, TimestampTz expires)
{
	memo.version = version;
	memo.kind = kind;
	memo.id = *id;
	memo.ok = ok;
	memo.expires = expires;
}

/*
 * Is the credential (a session or an API key) live: it exists, belongs to
 * the user, is not revoked and has not expired?  It is read from its
 * primary-key index under the active snapshot (credential_lookup.c); the
 * answer apart from time is memoized for as long as the load of the
 * user's memberships holds (credential_memo), which is keyed on the token's
 * user, so a session cookie (whose user is not the caller yet) hits it as
 * a bearer token does; expiry is checked every time.
 */
static bool
credential_live(char kind, const pg_uuid_t *id, const pg_uuid_t *user_id)
{
	uint64		version = ta_membership_version_of(user_id);
	bool		ok;
	TimestampTz expires;

	if (!credential_memo(version, kind, id, &ok, &expires))
	{
		ta_credential_lookup(kind, id, user_id, &ok, &expires);
		credential_remember(version, kind, id, ok, expires);
	}
	if (!ok || (expires != DT_NOEND && expires <= GetCurrentTransactionStartTimestamp()))
		ta_metric_add(ok ? TA_METRIC_AUTH_EXPIRED : TA_METRIC_AUTH_REVOKED, 1);
	return ok && (expires == DT_NOEND || expires > GetCurrentTransactionStartTimestamp());
}

/* The session must exist, belong to the user, be unrevoked and unexpired. */
static void
check_session(const pg_uuid_t *session_id, const pg_uuid_t *user_id)
{
	if (!credential_live('s', session_id, user_id))
		unauthenticated("the session has ended", "The session was signed out, revoked or has expired.");
}

/*
 * The API key must exist, belong to the user and be unrevoked and
 * unexpired.  Its last_used_at is kept to the minute, on requests that may
 * write (PostgREST runs GET and HEAD read-only); a request never waits for
 * another one holding the key's row (SKIP LOCKED).
 */
static void
check_api_key(const pg_uuid_t *key_id, const pg_uuid_t *user_id)
{
	Oid			types[1] = {UUIDOID};
	Datum		args[1] = {UUIDPGetDatum(unconstify(pg_uuid_t *, key_id))};

	if (!credential_live('k', key_id, user_id))
		unauthenticated("the API key is not valid", "The API key was revoked or has expired.");

	if (!XactReadOnly)
		(void) ta_owner_query_row(&api_key_touch_plan,
								  "UPDATE task_api.api_keys SET last_used_at = pg_catalog.now()"
								  " WHERE id = (SELECT k.id FROM task_api.api_keys k"
								  "              WHERE k.id OPERATOR(pg_catalog.=) $1"
								  "                AND (k.last_used_at IS NULL OR k.last_used_at OPERATOR(pg_catalog.<)"
								  "                     (pg_catalog.now() OPERATOR(pg_catalog.-) interval '1 minute'))"
								  "                FOR UPDATE SKIP LOCKED)",
								  1, types, args, false, 0, NULL, NULL);
}

/* Checks common to bearer and cookie identities of task_api_user. */
static void
check_user_identity(bool session_checked)
{
	pg_uuid_t	user_id;
	pg_uuid_t	ref;
	const char *jti = ta_request_claim("jti");
	const char *key_id = ta_request_claim("key_id");

	if (!ta_current_user_id(&user_id))
	{
		ta_metric_add(TA_METRIC_AUTH_MALFORMED, 1);
		ta_raise("unauthenticated", "the token does not identify a user",
				 "The sub claim is missing.", NULL, NULL, 0);
	}
	if (!ta_caller_exists())
	{
		ta_metric_add(TA_METRIC_AUTH_UNKNOWN_USER, 1);
		unauthenticated("the token's user does not exist", NULL);
	}

	if (key_id != NULL)
	{
		if (!uuid_claim(key_id, &ref))
			malformed("the token's key_id is not valid", NULL);
		check_api_key(&ref, &user_id);
	}
	else if (jti != NULL)
	{
		if (!uuid_claim(jti, &ref))
			malformed("the token's session id is not valid", NULL);
		if (!session_checked)
			check_session(&ref, &user_id);
	}
	else
		malformed("the token is not bound to a session or an API key",
						"Tokens are issued by /rpc/login, /rpc/signup and /rpc/create_api_key.");
}

/*
 * Signup and login set the session cookie, so a cross-site form must not be
 * able to call them (login CSRF: signing the victim in as the attacker).
 * HTML forms cannot send a JSON body without a CORS preflight, so these two
 * accept only application/json.
 */
static void
check_login_request(void)
{
	const char *type = ta_request_header("content-type");

	if (type == NULL || pg_strncasecmp(type, "application/json", strlen("application/json")) != 0)
	{
		ta_metric_add(TA_METRIC_AUTH_CSRF, 1);
		ta_raise("csrf_failed", "signup and login accept only a JSON body",
				 "Send Content-Type: application/json.", NULL, NULL, 0);
	}
}

/* Methods that change nothing need no CSRF token. */
static bool
is_safe_method(void)
{
	const char *method = ta_request_method();

	return method != NULL &&
		(strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ||
		 strcmp(method, "OPTIONS") == 0);
}

/* The auth_failures reason of a session cookie that did not verify. */
static TaMetric
cookie_failure_metric(ta_jwt_result r)
{
	if (r == TA_JWT_EXPIRED)
		return TA_METRIC_AUTH_EXPIRED;
	return r == TA_JWT_BAD_SIGNATURE ? TA_METRIC_AUTH_BAD_SIGNATURE : TA_METRIC_AUTH_MALFORMED;
}

/* Authenticate the request by its session cookie and become that user. */
static void
authenticate_cookie(const char *cookie)
{
	const ta_jwt_claims *claims;
	ta_jwt_result r = ta_jwt_verify_cookie(cookie, &claims);
	const ta_json_member *role;
	const ta_json_member *sub;
	const ta_json_member *jti;
	pg_uuid_t	user_id;
	pg_uuid_t	session_id;
	char	   *json;

	if (r != TA_JWT_OK)
	{
		ta_metric_add(cookie_failure_metric(r), 1);
		unauthenticated("the session cookie is not valid", ta_jwt_result_text(r));
	}

	role = ta_jwt_claim(claims, "role");
	sub = ta_jwt_claim(claims, "sub");
	jti = ta_jwt_claim(claims, "jti");
	if (role == NULL || !role->is_string || strcmp(role->value, TA_USER_ROLE) != 0 ||
		sub == NULL || !sub->is_string || !uuid_claim(sub->value, &user_id) ||
		jti == NULL || !jti->is_string || !uuid_claim(jti->value, &session_id) ||
		ta_jwt_claim(claims, "key_id") != NULL)
		malformed("the session cookie is not valid", "It is not a session token.");

	check_session(&session_id, &user_id);
	ta_cors_check_cookie();

	if (!is_safe_method())
	{
		const char *header = ta_request_header("x-csrf-token");
		const char *csrf_cookie = ta_request_cookie(TA_CSRF_COOKIE);
		char	   *expected = ta_csrf_token(jti->value);

		if (header == NULL || csrf_cookie == NULL ||
			!ta_same_secret(header, expected) || !ta_same_secret(csrf_cookie, expected))
		{
			ta_metric_add(TA_METRIC_AUTH_CSRF, 1);
			ta_raise("csrf_failed", "the request lacks a valid CSRF token",
					 "Cookie-authenticated POST, PUT, PATCH and DELETE requests must send "
					 "X-CSRF-Token equal to the " TA_CSRF_COOKIE " cookie.",
					 "read the " TA_CSRF_COOKIE " cookie and send it in X-CSRF-Token", NULL, 0);
		}
	}
	ta_session_slide(claims, &session_id);

	/* Become the user exactly as PostgREST would for the bearer token. */
	(void) set_config_option("role", TA_USER_ROLE, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	json = ta_jwt_claims_json(claims);
	(void) set_config_option("request.jwt.claims", json,
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
	ta_request_claims_were_set(json, claims);
}

/* Decide who the caller is, or refuse the request. */
static void
gate(bool by_hook)
{
	const char *role;
	bool		by_cookie = false;

	gate_lxid = MyProc->lxid;
	gate_by_hook = by_hook;

	/* The request's id, in its answer and log lines, before anything can fail. */
	ta_trace_begin_request();
	/* The request's statement_timeout, before anything can fail. */
	ta_bounds_begin_request();
	/* What the error translation may not read in its hook: the enums' labels. */
	ta_enum_labels_load();

	/* A browser's script may read the API's headers, errors' included. */
	ta_cors_begin_request();

	/*
	 * Then the rate limit, so a refused request does nothing else and every
	 * answer below, errors included, carries the RateLimit headers.
	 */
	ta_rate_limit_request();

	/*
	 * PostgREST authenticated no user (no bearer token it accepted: no
	 * header, or e.g. an Authorization: Basic it ignores; it then sets the
	 * anonymous role's claims): the session cookie, if any, decides.
	 */
	role = ta_request_claim("role");
	if (role == NULL || strcmp(role, TA_USER_ROLE) != 0)
	{
		const char *cookie;

		if (ta_request_is_login_path())
			check_login_request();
		else if ((cookie = session_cookie()) != NULL && cookie[0] != '\0')
		{
			authenticate_cookie(cookie);
			by_cookie = true;
		}
	}

	role = ta_request_claim("role");
	if (role != NULL && strcmp(role, TA_USER_ROLE) == 0)
		check_user_identity(by_cookie);
	ta_trace_check_plan();
}

PG_FUNCTION_INFO_V1(task_api_pre_request);

/*
 * PostgREST's db-pre-request: the gate, unless the hook has checked this
 * transaction already.  Called again in a transaction it ran in, it checks
 * again (the settings may have changed: tests call it so).
 */
Datum
task_api_pre_request(PG_FUNCTION_ARGS)
{
	if (!(gate_by_hook && gate_lxid == MyProc->lxid))
		gate(false);
	PG_RETURN_VOID();
}

bool
ta_gate_ran(void)
{
	return gate_lxid == MyProc->lxid;
}

void
ta_gate_require(void)
{
	/*
	 * A parallel worker has the leader's settings but not its gate: the
	 * leader's query is the one that passed (or was refused by) this check.
	 */
	if (ta_gate_ran() || IsParallelWorker() || !ta_request_for_api())
		return;
	ereport(LOG,
			(errmsg("task_api refused a request that no gate checked"),
			 errdetail("Neither the preloaded library's hook nor task_api.pre_request() ran in this request's transaction."),
			 errhint("Add task_api to shared_preload_libraries, or set PostgREST's db-pre-request to task_api.pre_request.")));
	ta_raise("internal_error", "the request could not be authenticated", NULL,
			 "the server's log says why", NULL, 0);
}

/*
 * After a top-level SELECT (the portal's own query, not one a function
 * runs) that leaves this transaction a request to the API no gate has
 * checked: PostgREST's set_config() statement.  Its row has been sent; an
 * error here replaces the statement's result, and aborts the transaction.
 * Not once distribute() has made the tables Citus tables: Citus keeps its
 * own count of executor levels in its hooks, and the gate's queries would
 * run at none of them; there PostgREST's db-pre-request,
 * citus_pre_request(), runs the gate (docs/scaling.md).
 */
static void
gate_executor_run(QueryDesc *queryDesc, ScanDirection direction, uint64 count,
				  bool execute_once)
{
	if (prev_executor_run)
		prev_executor_run(queryDesc, direction, count, execute_once);
	else
		standard_ExecutorRun(queryDesc, direction, count, execute_once);

	if (gate_lxid != MyProc->lxid && ActivePortal != NULL &&
		ActivePortal->queryDesc == queryDesc && ta_request_for_api() &&
		!ta_credentials_on_citus())
		gate(true);
}

void
ta_gate_init(void)
{
	prev_executor_run = ExecutorRun_hook;
	ExecutorRun_hook = gate_executor_run;
}
