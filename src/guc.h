/*
 * guc.h
 *		task_api settings (task_api.*), all defined in guc.c.
 */
#ifndef TASK_API_GUC_H
#define TASK_API_GUC_H

/* The rate-limit policies, indexes of ta_rate_limit and ta_rate_limit_burst. */
typedef enum TaRateLimitPolicy
{
	TA_RL_ANON = 0,
	TA_RL_USER,
	TA_RL_API_KEY,
	TA_RL_LOGIN,
	TA_RL_NUM_POLICIES
} TaRateLimitPolicy;

/* The highest per-minute limit or burst (rate_limit_core.h's TA_GCRA_MAX_LIMIT). */
#define TA_RL_MAX_LIMIT 100000000

extern char *ta_jwt_secret;
extern char *ta_cursor_secret;
extern int	ta_jwt_ttl;
extern int	ta_password_iterations;
extern int	ta_password_memory;
extern int	ta_password_time_cost;
extern int	ta_max_api_keys_per_user;
extern int	ta_max_sessions_per_user;
extern int	ta_trash_retention;
extern int	ta_invitation_ttl;
extern int	ta_events_retention;
extern int	ta_credentials_grace;
extern int	ta_statement_timeout;
extern int	ta_max_bulk_rows;
extern int	ta_idempotency_ttl;
extern int	ta_idempotency_wait;
extern int	ta_rate_limit_buckets;
extern int	ta_rate_limit[TA_RL_NUM_POLICIES];
extern int	ta_rate_limit_burst[TA_RL_NUM_POLICIES];
extern int	ta_rate_limit_nodes;
extern bool ta_trust_forwarded_for;
extern int	ta_max_inflight_per_user;
extern int	ta_login_throttle_entries;
extern int	ta_login_max_failures;
extern int	ta_login_backoff;
extern int	ta_login_backoff_max;
extern bool ta_log_expected_refusals;
extern char *ta_cors_allowed_origins;
extern int	ta_session_lifetime;

/* value, or an error naming the setting when it is unset or too short. */
extern const char *ta_usable_secret(const char *value, const char *name);

extern void ta_guc_init(void);

#endif							/* TASK_API_GUC_H */
