/*
 * guc.h
 *		task_api settings (task_api.*).
 */
#ifndef TASK_API_GUC_H
#define TASK_API_GUC_H

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
extern int	ta_statement_timeout;
extern int	ta_max_bulk_rows;

extern void ta_guc_init(void);

#endif							/* TASK_API_GUC_H */
