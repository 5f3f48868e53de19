/*
 * guc.c
 *		Definitions of every task_api.* setting, each under its full name.
 *
 * The modules only read the variables (guc.h).  Secrets are superuser-only
 * and hidden from SHOW ALL and pg_settings for everybody else; C code reads
 * them directly, so no role that PostgREST switches to ever needs to see
 * them.  A PGC_POSTMASTER setting can only be defined while preloading
 * (else FATAL); without preloading there is no shared table to size anyway.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/guc.h"

#include "constants.h"
#include "cors.h"
#include "guc.h"
#include "hmac_keyed.h"
#include "metrics.h"

char	   *ta_jwt_secret = NULL;
char	   *ta_cursor_secret = NULL;
int			ta_jwt_ttl = 3600;
int			ta_password_iterations = 100000;
int			ta_password_memory = 19 * 1024;
int			ta_password_time_cost = 2;
int			ta_max_api_keys_per_user = 20;
int			ta_max_sessions_per_user = 20;
int			ta_trash_retention = 30 * 24 * 3600;
int			ta_invitation_ttl = 7 * 24 * 3600;
int			ta_events_retention = 30 * 24 * 3600;
int			ta_credentials_grace = 7 * 24 * 3600;
int			ta_statement_timeout = 5000;
int			ta_max_bulk_rows = 1000;
int			ta_idempotency_ttl = 24 * 3600;
int			ta_idempotency_wait = 10000;
int			ta_rate_limit_buckets = 100000;
int			ta_rate_limit_nodes = 1;
int			ta_rate_limit[TA_RL_NUM_POLICIES] = {60, 600, 1200, 60};
int			ta_rate_limit_burst[TA_RL_NUM_POLICIES] = {0, 0, 0, 0};
bool		ta_trust_forwarded_for = false;
int			ta_max_inflight_per_user = 4;
int			ta_login_throttle_entries = 10000;
int			ta_login_max_failures = 5;
int			ta_login_backoff = 1;
int			ta_login_backoff_max = 900;
bool		ta_log_expected_refusals = false;
char	   *ta_cors_allowed_origins = NULL;
int			ta_session_lifetime = 7 * 24 * 3600;

/* A secret's value; unset or shorter than TA_MIN_SECRET_LEN is a configuration error. */
const char *
ta_usable_secret(const char *value, const char *name)
{
	if (value == NULL || strlen(value) < TA_MIN_SECRET_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("%s must be set to at least %d bytes", name, TA_MIN_SECRET_LEN),
				 errhint("Set it in postgresql.conf (superuser only) and reload.")));
	return value;
}

/* A secret changed: no keyed HMAC state of the old one is kept (hmac_keyed.c). */
static void
assign_secret(const char *newval, void *extra)
{
	(void) newval;
	(void) extra;
	ta_hmac_keyed_forget();
}

/* The two secrets: superuser-only, never shown to anyone else. */
static void
define_secrets(void)
{
	DefineCustomStringVariable("task_api.jwt_secret",
							   "Secret that signs and verifies task_api JWTs (HS256).",
							   "At least 32 bytes; PostgREST must be configured with the same secret.",
							   &ta_jwt_secret, NULL, PGC_SUSET,
							   GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   NULL, assign_secret, NULL);
	DefineCustomStringVariable("task_api.cursor_secret",
							   "Secret that authenticates pagination cursors (HMAC-SHA-256).",
							   "At least 32 bytes.",
							   &ta_cursor_secret, NULL, PGC_SUSET,
							   GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   NULL, assign_secret, NULL);
}

/*
 * Every integer setting, by its full name: what it means, its variable
 * (whose initial value is the default), its range, when it can change and
 * its unit.  preload: a PGC_POSTMASTER setting, defined only while
 * preloading (else FATAL); without preloading there is no table to size.
 */
static const struct
{
	const char *name;
	const char *desc;
	const char *long_desc;
	int		   *var;
	int			min;
	int			max;
	GucContext	context;
	int			flags;
	bool		preload;
}			int_settings[] = {
	{"task_api.jwt_ttl",
		"Lifetime of issued JWTs.",
		NULL,
	&ta_jwt_ttl, 60, 60 * 60 * 24 * 365, PGC_SIGHUP, GUC_UNIT_S, false},
	{"task_api.password_iterations",
		"PBKDF2 rounds of SCRAM-SHA-256 password verifiers (release 0.1.0); new hashes are Argon2id.",
		"Unused since 0.2.0: old verifiers keep the count they were made with and are replaced at the next login.",
	&ta_password_iterations, 4096, 10000000, PGC_SUSET, 0, false},
	{"task_api.password_memory",
		"Memory cost of new Argon2id password hashes.",
		"Hashes made with another cost are redone at the next login.",
	&ta_password_memory, 8, 4 * 1024 * 1024, PGC_SUSET, GUC_UNIT_KB, false},
	{"task_api.password_time_cost",
		"Passes over memory of new Argon2id password hashes.",
		"Hashes made with another cost are redone at the next login.",
	&ta_password_time_cost, 1, 100, PGC_SUSET, 0, false},
	{"task_api.max_api_keys_per_user",
		"Most live (unrevoked, unexpired) API keys one user may hold.",
		"create_api_key answers conflict (409) beyond it; existing keys are never revoked by it.",
	&ta_max_api_keys_per_user, 1, 100000, PGC_SUSET, 0, false},
	{"task_api.max_sessions_per_user",
		"Most live sessions one user may hold.",
		"A sign-in beyond it ends the user's oldest sessions.",
	&ta_max_sessions_per_user, 1, 100000, PGC_SUSET, 0, false},
	{"task_api.trash_retention",
		"How long deleted projects and tasks stay in the trash before task_api.purge_expired() removes them.",
		NULL,
	&ta_trash_retention, 60, PG_INT32_MAX, PGC_SIGHUP, GUC_UNIT_S, false},
	{"task_api.events_retention",
		"How long events are kept: task_api.purge_expired() deletes older ones once every registered consumer has acknowledged them.",
		"With no consumer registered, age alone decides.",
	&ta_events_retention, 60, PG_INT32_MAX, PGC_SUSET, GUC_UNIT_S, false},
	{"task_api.credentials_grace",
		"How long expired sessions and revoked or expired API keys are kept before task_api.purge_expired() deletes them.",
		NULL,
	&ta_credentials_grace, 0, PG_INT32_MAX, PGC_SUSET, GUC_UNIT_S, false},
	{"task_api.invitation_ttl",
		"How long an invitation to a project can be accepted.",
		"Invitations made earlier keep the expiry they were made with.",
	&ta_invitation_ttl, 60, PG_INT32_MAX, PGC_SIGHUP, GUC_UNIT_S, false},
	{"task_api.idempotency_ttl",
		"How long an Idempotency-Key is kept: a replay within it returns the stored response.",
		"Expired keys count as new; task_api.purge_expired() deletes them.",
	&ta_idempotency_ttl, 1, PG_INT32_MAX, PGC_SIGHUP, GUC_UNIT_S, false},
	{"task_api.idempotency_wait",
		"How long a request waits for a concurrent request with the same Idempotency-Key before answering idempotency_in_progress.",
		"0 waits without limit.",
	&ta_idempotency_wait, 0, PG_INT32_MAX, PGC_SIGHUP, GUC_UNIT_MS, false},
	{"task_api.statement_timeout",
		"Longest a request's statements may run (task_api.pre_request() sets statement_timeout for the transaction).",
		"0 leaves statement_timeout as the session has it.",
	&ta_statement_timeout, 0, PG_INT32_MAX, PGC_SUSET, GUC_UNIT_MS, false},
	{"task_api.max_bulk_rows",
		"Most rows one request may insert into api.projects or api.tasks.",
		"0 means unlimited.",
	&ta_max_bulk_rows, 0, PG_INT32_MAX, PGC_SUSET, 0, false},
	{"task_api.max_inflight_per_user",
		"Requests of one user (any of their tokens, cookies and API keys) that may run at once.",
		"Keep it well under PostgREST's db-pool, so that one user can never hold the whole pool; 0 means no cap.",
	&ta_max_inflight_per_user, 0, 10000, PGC_SIGHUP, 0, false},
	{"task_api.rate_limit_anon",
		"Requests a minute for each anonymous caller (the shared anonymous bucket, or one client address).",
		"0 means unlimited: such requests are not charged and carry no RateLimit headers.",
	&ta_rate_limit[TA_RL_ANON], 0, TA_RL_MAX_LIMIT, PGC_SIGHUP, 0, false},
	{"task_api.rate_limit_user",
		"Requests a minute for each user (bearer token or session cookie).",
		"0 means unlimited: such requests are not charged and carry no RateLimit headers.",
	&ta_rate_limit[TA_RL_USER], 0, TA_RL_MAX_LIMIT, PGC_SIGHUP, 0, false},
	{"task_api.rate_limit_api_key",
		"Requests a minute for each API key (each also counts against its owner's user bucket).",
		"0 means unlimited: such requests are not charged and carry no RateLimit headers.",
	&ta_rate_limit[TA_RL_API_KEY], 0, TA_RL_MAX_LIMIT, PGC_SIGHUP, 0, false},
	{"task_api.rate_limit_login",
		"Signups and logins a minute for each client address (task_api.trust_forwarded_for), else for all clients together.",
		"0 means unlimited: such requests are not charged and carry no RateLimit headers.",
	&ta_rate_limit[TA_RL_LOGIN], 0, TA_RL_MAX_LIMIT, PGC_SIGHUP, 0, false},
	{"task_api.rate_limit_nodes",
		"Servers that share each rate limit: every server (primary and replicas) admits the limit and the burst divided by this number (at least 1).",
		"1 (the default): every server applies the limits in full, so a client spread over N servers gets up to N times them.",
	&ta_rate_limit_nodes, 1, 1000, PGC_SIGHUP, 0, false},
	{"task_api.rate_limit_buckets",
		"Rate-limit buckets kept in shared memory.",
		"When the table is full, the least recently used idle buckets are evicted.",
	&ta_rate_limit_buckets, 100, 10000000, PGC_POSTMASTER, 0, true},
	{"task_api.rate_limit_anon_burst",
		"Requests an anonymous caller may make at once; 0 means equal to task_api.rate_limit_anon.",
		NULL,
	&ta_rate_limit_burst[TA_RL_ANON], 0, TA_RL_MAX_LIMIT, PGC_SIGHUP, 0, false},
	{"task_api.rate_limit_user_burst",
		"Requests a user may make at once; 0 means equal to task_api.rate_limit_user.",
		NULL,
	&ta_rate_limit_burst[TA_RL_USER], 0, TA_RL_MAX_LIMIT, PGC_SIGHUP, 0, false},
	{"task_api.rate_limit_api_key_burst",
		"Requests an API key may make at once; 0 means equal to task_api.rate_limit_api_key.",
		NULL,
	&ta_rate_limit_burst[TA_RL_API_KEY], 0, TA_RL_MAX_LIMIT, PGC_SIGHUP, 0, false},
	{"task_api.rate_limit_login_burst",
		"Signups and logins at once; 0 means equal to task_api.rate_limit_login.",
		NULL,
	&ta_rate_limit_burst[TA_RL_LOGIN], 0, TA_RL_MAX_LIMIT, PGC_SIGHUP, 0, false},
	{"task_api.login_throttle_entries",
		"Accounts whose failed logins are tracked in shared memory.",
		"When the table is full, the accounts least recently failed are forgotten.",
	&ta_login_throttle_entries, 100, 10000000, PGC_POSTMASTER, 0, true},
	{"task_api.login_max_failures",
		"Failed logins in a row allowed for one email before its logins back off.",
		"0 turns the per-account throttle off.",
	&ta_login_max_failures, 0, 1000, PGC_SUSET, 0, false},
	{"task_api.login_backoff",
		"How long an email's logins are refused after its first failure past task_api.login_max_failures; doubles with each further failure.",
		NULL,
	&ta_login_backoff, 1, 86400, PGC_SUSET, GUC_UNIT_S, false},
	{"task_api.login_backoff_max",
		"The longest backoff; failures are forgotten after this long without one.",
		NULL,
	&ta_login_backoff_max, 1, 86400, PGC_SUSET, GUC_UNIT_S, false},
	{"task_api.session_lifetime",
		"Longest a session lasts from sign-in, however often it is refreshed or its cookie slides (never less than task_api.jwt_ttl).",
		"A session's tokens live task_api.jwt_ttl each; /rpc/refresh and a sliding cookie renew them until this limit.",
	&ta_session_lifetime, 60, PG_INT32_MAX, PGC_SIGHUP, GUC_UNIT_S, false},
};

/* Every boolean setting, by its full name. */
static const struct
{
	const char *name;
	const char *desc;
	const char *long_desc;
	bool	   *var;
	GucContext	context;
}			bool_settings[] = {
	{"task_api.trust_forwarded_for",
		"Charge anonymous requests to the client address in the first hop of X-Forwarded-For.",
		"Turn on only behind a proxy that sets the header; clients can forge it otherwise.",
	&ta_trust_forwarded_for, PGC_SIGHUP},
	{"task_api.log_expected_refusals",
		"Write the API's own 401 and 429 refusals to the server log.",
		"Off by default: they are only counted (task_api.status()), so abuse cannot flood the log.",
	&ta_log_expected_refusals, PGC_SUSET},
	{"task_api.metrics",
		"Count requests, refusals, logins, idempotency outcomes and events in shared memory (task_api.metrics).",
		"On by default; off only to measure what counting costs.",
	&ta_metrics_enabled, PGC_SUSET},
};

/* The one list setting: origins whose pages may use the session cookie. */
static void
define_cors(void)
{
	DefineCustomStringVariable("task_api.cors_allowed_origins",
							   "Origins (scheme://host[:port], comma-separated) whose pages may use the session cookie.",
							   "A cookie-authenticated request with another Origin is refused (origin_not_allowed, 403), and sign-ins from it set no cookie; the API's own origin and requests without Origin are always allowed. PostgREST's server-cors-allowed-origins must list them too.",
							   &ta_cors_allowed_origins, "", PGC_SUSET, 0,
							   ta_cors_check_origins, NULL, NULL);
}

/* Register every task_api setting (the prefix is reserved in task_api.c). */
void
ta_guc_init(void)
{
	define_secrets();
	define_cors();
	for (int i = 0; i < (int) lengthof(int_settings); i++)
	{
		if (int_settings[i].preload && !process_shared_preload_libraries_in_progress)
			continue;
		DefineCustomIntVariable(int_settings[i].name, int_settings[i].desc,
								int_settings[i].long_desc, int_settings[i].var,
								*int_settings[i].var, int_settings[i].min,
								int_settings[i].max, int_settings[i].context,
								int_settings[i].flags, NULL, NULL, NULL);
	}
	for (int i = 0; i < (int) lengthof(bool_settings); i++)
		DefineCustomBoolVariable(bool_settings[i].name, bool_settings[i].desc,
								 bool_settings[i].long_desc, bool_settings[i].var,
								 *bool_settings[i].var, bool_settings[i].context, 0,
								 NULL, NULL, NULL);
}
