/*
 * error_map.h
 *		Rewrite the errors PostgreSQL raises for a request into catalogue
 *		errors (called from the emit_log_hook in src/bounds.c).
 */
#ifndef TASK_API_ERROR_MAP_H
#define TASK_API_ERROR_MAP_H

/* Rewrite edata in place if it is one of the errors src/error_map.c lists. */
extern void ta_error_map(ErrorData *edata);

#endif							/* TASK_API_ERROR_MAP_H */
