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


/*
 * A fixed-size JSON writer for the answers built inside the emit_log_hook:
 * no allocation.  Every append is whole or nothing, and leaves `reserve`
 * bytes free for the closing brackets the caller adds last (with reserve
 * lowered to 0), so a full buffer still holds valid JSON: what did not fit
 * is left out and `full` is set.
 */
typedef struct TaOut
{
	char	   *buf;
	size_t		cap;
	size_t		len;
	size_t		reserve;
	bool		full;
} TaOut;

/* Start an empty text in buf (cap bytes, cap >= 1). */
extern void ta_out_init(TaOut *out, char *buf, size_t cap, size_t reserve);

/* Append s as it is; false (nothing appended) if it does not fit. */
extern bool ta_out_raw(TaOut *out, const char *s);

/*
 * Append s as a JSON string (escaped as PostgreSQL's escape_json does), at
 * most max bytes of it, cut at a UTF-8 character boundary; false (nothing
 * appended) if it does not fit.
 */
extern bool ta_out_json(TaOut *out, const char *s, size_t max);

/* How a date/time text may be checked without anything that can throw. */
typedef enum TaDatetimeText
{
	TA_DT_DECODE,				/* digits and punctuation only: decode `out` */
	TA_DT_NO_DIGITS,			/* no digit at all: valid only as a special word */
	TA_DT_UNSURE				/* letters (a zone, a month...): cannot tell */
} TaDatetimeText;

/*
 * Classify a date/time text before DecodeDateTime sees it.  The ISO 8601
 * forms clients send are rewritten into out (cap bytes): a 'T' between a
 * digit and a time (digits then ':') becomes a space, a final 'Z' after a
 * digit becomes "+00".  Any other letter, a byte above 0x7F, or a text
 * longer than cap - 3 bytes is TA_DT_UNSURE: a letter may be a time-zone
 * name or abbreviation, whose lookup (pg_tzset) can raise an error.
 */
extern TaDatetimeText ta_datetime_text(const char *s, char *out, size_t cap);

#endif							/* TASK_API_ERROR_FIELDS_H */
