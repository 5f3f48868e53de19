/*
 * error_fields.h
 *		Pure-C checks that name the fields of a request body PostgreSQL
 *		rejected (used from the emit_log_hook by src/error_map.c; no
 *		backend calls, nothing that can throw; fuzzed in test/c).
 */
#ifndef TASK_API_ERROR_FIELDS_H
#define TASK_API_ERROR_FIELDS_H

#include <stdbool.h>
#include <stddef.h>

/* The JSON kinds a member's value can have. */
typedef enum TaJsonKind
{
	TA_JSON_STRING,
	TA_JSON_NUMBER,
	TA_JSON_NULL,
	TA_JSON_OTHER				/* true, false, an object or an array */
} TaJsonKind;

/*
 * Called for each member: key and raw value (a string's raw text without
 * its quotes, still escaped) are spans into the scanned text.
 */
typedef void (*TaFieldCallback) (void *arg, const char *key, size_t keylen,
								 TaJsonKind kind, const char *raw, size_t rawlen);

/*
 * Visit the members of the top-level object, or of each object in a
 * top-level array.  False if the text is not shaped like JSON (members seen
 * before the fault have been visited).  Never reads past len.
 */
extern bool ta_body_fields(const char *json, size_t len, TaFieldCallback cb, void *arg);

/*
 * Decode the raw text of a JSON string into out (cap bytes, always
 * terminated); *has_nul tells whether it contains \u0000.  Returns false on
 * a bad escape or when it does not fit.
 */
extern bool ta_json_unescape(const char *raw, size_t rawlen, char *out, size_t cap,
							 bool *has_nul);

/* Would PostgreSQL's uuid_in accept s? */
extern bool ta_text_is_uuid(const char *s);

/* Would int2in/int4in/int8in (bits 16, 32, 64) accept s? 0 yes, 1 syntax, 2 range. */
extern int	ta_text_int_check(const char *s, int bits);

/* One entry of a column definition list: "name" type. */
typedef struct TaColumnType
{
	char		name[64];
	char		type[64];
} TaColumnType;

/*
 * Parse the column definition list PostgREST 12 writes for the body,
 * `json_to_recordset(...) AS _("a" uuid, "b" task_api.task_status)`, from
 * the statement text.  Returns the number of columns (at most max), 0 if
 * there is none.
 */
extern int	ta_body_column_types(const char *sql, TaColumnType *cols, int max);

#endif							/* TASK_API_ERROR_FIELDS_H */
