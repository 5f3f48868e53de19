/*
 * guc.c
 *		Definitions of the task_api.* settings.
 *
 * Secrets are superuser-only and hidden from SHOW ALL and pg_settings for
 * everybody else; C code reads them directly, so no role that PostgREST
 * switches to ever needs to see them.
 */
#include "postgres.h"

#include "utils/guc.h"

#include "guc.h"

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
int			ta_statement_timeout = 5000;
int			ta_max_bulk_rows = 1000;

/* Register every task_api setting and reserve the prefix. */
void
ta_guc_init(void)
{
	DefineCustomStringVariable("task_api.jwt_secret",
							   "Secret that signs and verifies task_api JWTs (HS256).",
							   "At least 32 bytes; PostgREST must be configured with the same secret.",
							   &ta_jwt_secret,
							   NULL,
							   PGC_SUSET,
							   GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("task_api.cursor_secret",
							   "Secret that authenticates pagination cursors (HMAC-SHA-256).",
							   "At least 32 bytes.",
							   &ta_cursor_secret,
							   NULL,
							   PGC_SUSET,
							   GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("task_api.jwt_ttl",
							"Lifetime of issued JWTs.",
							NULL,
							&ta_jwt_ttl,
							3600,
							60,
							60 * 60 * 24 * 365,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("task_api.password_iterations",
							"PBKDF2 rounds of SCRAM-SHA-256 password verifiers (release 0.1.0); new hashes are Argon2id.",
							"Unused since 0.2.0: old verifiers keep the count they were made with and are replaced at the next login.",
							&ta_password_iterations,
							100000,
							4096,
							10000000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("task_api.password_memory",
							"Memory cost of new Argon2id password hashes.",
							"Hashes made with another cost are redone at the next login.",
							&ta_password_memory,
							19 * 1024,
							8,
							4 * 1024 * 1024,
							PGC_SUSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("task_api.password_time_cost",
							"Passes over memory of new Argon2id password hashes.",
							"Hashes made with another cost are redone at the next login.",
							&ta_password_time_cost,
							2,
							1,
							100,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("task_api.max_api_keys_per_user",
							"Most live (unrevoked, unexpired) API keys one user may hold.",
							"create_api_key answers conflict (409) beyond it; existing keys are never revoked by it.",
							&ta_max_api_keys_per_user,
							20,
							1,
							100000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("task_api.max_sessions_per_user",
							"Most live sessions one user may hold.",
							"A sign-in beyond it ends the user's oldest sessions.",
							&ta_max_sessions_per_user,
							20,
							1,
							100000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("task_api.trash_retention",
							"How long deleted projects and tasks stay in the trash before task_api.purge_expired() removes them.",
							NULL,
							&ta_trash_retention,
							30 * 24 * 3600,
							60,
							PG_INT32_MAX,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("task_api.invitation_ttl",
							"How long an invitation to a project can be accepted.",
							"Invitations made earlier keep the expiry they were made with.",
							&ta_invitation_ttl,
							7 * 24 * 3600,
							60,
							PG_INT32_MAX,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("task_api.statement_timeout",
							"Longest a request's statements may run (task_api.pre_request() sets statement_timeout for the transaction).",
							"0 leaves statement_timeout as the session has it.",
							&ta_statement_timeout,
							5000,
							0,
							PG_INT32_MAX,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("task_api.max_bulk_rows",
							"Most rows one request may insert into api.projects or api.tasks.",
							"0 means unlimited.",
							&ta_max_bulk_rows,
							1000,
							0,
							PG_INT32_MAX,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);
}
