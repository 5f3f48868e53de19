/*
 * errors.h
 *		The task_api error catalogue and PostgREST-shaped errors.
 */
#ifndef TASK_API_ERRORS_H
#define TASK_API_ERRORS_H

typedef struct TaHeader
{
	const char *name;
	const char *value;
} TaHeader;

/* HTTP status for a catalogue code, or 0 if the code is not in it. */
extern int	ta_error_status(const char *code);

/*
 * Raise a catalogue error through PostgREST's SQLSTATE 'PGRST' mechanism:
 * exact status, the {code, message, details, hint} body, the response
 * headers set earlier in this request, and `extra` headers on top.
 */
extern void ta_raise(const char *code, const char *message,
					 const char *details, const char *hint,
					 const TaHeader *extra, int nextra) pg_attribute_noreturn();

/* Longest details (JSON text) ta_error_rewrite() keeps; longer is left out. */
#define TA_REWRITE_DETAILS_CAP 4096

/*
 * Rewrite an error being reported (emit_log_hook) into the catalogue error
 * `code` in PostgREST's 'PGRST' form, with only the `extra` headers.
 * Allocates nothing and never throws (static buffers: src/errors.c).
 */
extern void ta_error_rewrite(ErrorData *edata, const char *code, const char *message,
							 const char *details, const char *hint,
							 const TaHeader *extra, int nextra);

/* Reserve, when the library loads, the chunks a FATAL error's rewrite needs. */
extern void ta_error_rewrite_reserve(void);

/* Append a header to response.headers, keeping the ones already there. */
extern void ta_append_header(const char *name, const char *value);
/* Set response.headers to text, a JSON array of {name: value} objects. */
extern void ta_write_response_headers(const char *text);

/* Remove every header called name (case-insensitively) from response.headers. */
extern void ta_remove_header(const char *name);

#endif							/* TASK_API_ERRORS_H */
