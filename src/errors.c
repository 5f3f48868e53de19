/*
 * errors.c
 *		The error catalogue, PostgREST-shaped errors and response headers.
 *
 * PostgREST turns SQLSTATE 'PGRST' into an HTTP response: the error message
 * must be the JSON body {code, message, details, hint} (strings or null) and
 * the detail must be {"status": N, "headers": {...}}.  Anything else makes
 * it answer 500, so every task_api error goes through ta_raise().
 *
 * Response headers travel in the transaction-local setting
 * response.headers, a JSON array of one-member objects.  PostgREST replaces
 * nothing itself, but any writer that sets the whole array drops what was
 * there; ta_append_header() always keeps what earlier code set, and
 * ta_raise() carries those headers into the error response, which PostgREST
 * would otherwise lose with the aborted transaction (all but ETag,
 * Location and Set-Cookie, which describe a success: not_for_errors).
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/memutils.h"

#include "constants.h"
#include "error_fields.h"
#include "errors.h"
#include "json_pairs.h"
#include "request.h"


typedef struct TaErrorCode
{
	const char *code;
	int			status;
	const char *description;
} TaErrorCode;

/* The catalogue: docs/contract.md §11.  task_api.error_codes reads this array. */
static const TaErrorCode error_codes[] = {
	{"unauthenticated", 401, "The request carries no valid credentials, or they expired or were revoked."},
	{"invalid_credentials", 401, "The email and password do not match an account."},
	{"forbidden", 403, "The caller is authenticated but not allowed to do this: its role in the project, an API key where a password sign-in is needed, or a wrong current password."},
	{"csrf_failed", 403, "A cookie-authenticated unsafe request lacks a matching X-CSRF-Token header."},
	{"origin_not_allowed", 403, "A cookie-authenticated request comes from a page whose origin task_api.cors_allowed_origins does not list."},
	{"not_found", 404, "The object does not exist or is not visible to the caller."},
	{"conflict", 409, "The request conflicts with the current state (a duplicate, or a rule such as keeping an owner)."},
	{"idempotency_in_progress", 409, "A request with the same Idempotency-Key is still running."},
	{"precondition_failed", 412, "If-Match does not match the current version."},
	{"validation_failed", 422, "The payload is invalid; details is a JSON array of {field, problem}."},
	{"idempotency_key_reused", 422, "The Idempotency-Key was already used for a different request."},
	{"invalid_cursor", 400, "The pagination cursor is malformed, tampered with or signed with another key."},
	{"cursor_mismatch", 400, "The cursor was issued for different filters or sort."},
	{"invalid_idempotency_key", 400, "The Idempotency-Key header is not 1 to 255 visible ASCII characters."},
	{"invalid_parameter", 400, "A parameter or header value is out of range or malformed."},
	{"method_not_allowed", 405, "The resource does not support this method; see the Allow header and the hint."},
	{"rate_limited", 429, "The caller's rate limit is exhausted; see Retry-After."},
	{"query_too_expensive", 400, "The request ran longer than task_api.statement_timeout and was rolled back; ask for less."},
	{"payload_too_large", 413, "The request writes more rows than task_api.max_bulk_rows (send them in several requests), or exceeds one of PostgreSQL's limits (SQLSTATE class 54: too large, too deeply nested, too many columns or arguments)."},
	{"busy", 504, "The request waited too long for data other transactions hold, or was cancelled; nothing was written: retry after Retry-After with the same Idempotency-Key."},
	{"read_only_replica", 421, "A write was sent to a read-only replica (a hot standby); nothing was written: send writes to the primary."},
	{"internal_error", 500, "The API itself failed (an error of its own code or data, not of the request); nothing was written: report it with the answer's X-Request-Id."},
	{"citus_not_installed", 409, "task_api.distribute() was called in a database without the citus extension: nothing was changed."},
	{"unavailable", 503, "The database ended the request's connection (e.g. a restart); its outcome is unknown: retry after Retry-After with the same Idempotency-Key."},
};

int
ta_error_status(const char *code)
{
	for (size_t i = 0; i < lengthof(error_codes); i++)
		if (strcmp(error_codes[i].code, code) == 0)
			return error_codes[i].status;
	return 0;
}

/* RFC 9110 token characters, the only ones allowed in a header name. */
static bool
is_header_name(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		if (!(isalnum(c) || strchr("!#$%&'*+-.^_`|~", c) != NULL))
			return false;
	}
	return true;
}

/* A header value may not contain control characters (no CR/LF injection). */
static bool
is_header_value(const char *s)
{
	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

/* Refuse header names and values that would corrupt the HTTP response. */
static void
check_header(const char *name, const char *value)
{
	if (!is_header_name(name))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid response header name \"%s\"", name)));
	if (!is_header_value(value))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for response header \"%s\"", name),
				 errdetail("Header values may not contain control characters.")));
}

/* Append `"key": value-or-null` to a JSON object under construction. */
static void
append_json_member(StringInfo buf, const char *key, const char *value, bool first)
{
	if (!first)
		appendStringInfoString(buf, ", ");
	escape_json(buf, key);
	appendStringInfoString(buf, ": ");
	if (value)
		escape_json(buf, value);
	else
		appendStringInfoString(buf, "null");
}

/* Is details already JSON of its code's type (array for validation_failed)? */
static bool
details_typed(const char *code, const char *details, bool *array)
{
	const char *p = details;

	*array = strcmp(code, "validation_failed") == 0;
	while (*p == ' ' || *p == '\n' || *p == '\t')
		p++;
	return *p == (*array ? '[' : '{');
}

/*
 * details has one type (docs/errors.md): JSON text of an array for
 * validation_failed, of an object for every other code, or null.  Prose
 * from a caller is wrapped as {"reason": "..."} (or [{"field": null,
 * "problem": "..."}]) rather than sent as it is.
 */
static const char *
normalized_details(const char *code, const char *details)
{
	bool		array;
	StringInfoData buf;

	if (details == NULL || details_typed(code, details, &array))
		return details;
	initStringInfo(&buf);
	appendStringInfoString(&buf, array ? "[{\"field\": null, \"problem\": " : "{\"reason\": ");
	escape_json(&buf, details);
	appendStringInfoString(&buf, array ? "}]" : "}");
	return buf.data;
}

/* The JSON body PostgREST sends for a catalogue error. */
static void
error_body(StringInfo body, const char *code, const char *message,
		   const char *details, const char *hint)
{
	details = normalized_details(code, details);
	initStringInfo(body);
	appendStringInfoChar(body, '{');
	append_json_member(body, "code", code, true);
	append_json_member(body, "message", message, false);
	append_json_member(body, "details", details, false);
	append_json_member(body, "hint", hint, false);
	appendStringInfoChar(body, '}');
}

/* True if the header at position i is set again later in the list. */
static bool
set_again_later(const TaPairs *pairs, int i)
{
	for (int k = i + 1; k < pairs->count; k++)
		if (pairs->names[k] && pg_strcasecmp(pairs->names[k], pairs->names[i]) == 0)
			return true;
	return false;
}

/*
 * Headers set earlier in the request that an error answer must not carry:
 * an ETag describes a representation (an error has none), a Location a row
 * that was not created, a Set-Cookie (a sliding session's) a success.  A
 * caller that means one passes it in `extra`.
 */
static bool
not_for_errors(const char *name)
{
	return pg_strcasecmp(name, "ETag") == 0 || pg_strcasecmp(name, "Location") == 0 ||
		pg_strcasecmp(name, "Set-Cookie") == 0;
}

void
ta_raise(const char *code, const char *message, const char *details,
		 const char *hint, const TaHeader *extra, int nextra)
{
	int			status = ta_error_status(code);
	StringInfoData body;
	StringInfoData detail;
	TaPairs		current;
	const char *raw;
	bool		first = true;

	if (status == 0)
		elog(ERROR, "unknown task_api error code \"%s\"", code);

	error_body(&body, code, message, details, hint);

	/*
	 * Headers set earlier in this request, then the extra ones; a later
	 * header of the same name (case-insensitively) replaces an earlier one.
	 * A corrupt response.headers is ignored rather than masking this error.
	 */
	raw = GetConfigOption(TA_RESPONSE_HEADERS_GUC, true, false);
	(void) ta_json_collect_pairs(raw, 2, &current);
	for (int i = 0; i < nextra; i++)
	{
		for (int j = 0; j < current.count; j++)
			if (current.names[j] && pg_strcasecmp(current.names[j], extra[i].name) == 0)
				current.names[j] = NULL;
	}

	initStringInfo(&detail);
	appendStringInfo(&detail, "{\"status\": %d, \"headers\": {", status);
	for (int j = 0; j < current.count; j++)
	{
		/* What describes a success is not carried into an error. */
		if (current.names[j] == NULL || current.values[j] == NULL ||
			set_again_later(&current, j) || not_for_errors(current.names[j]))
			continue;
		append_json_member(&detail, current.names[j], current.values[j], first);
		first = false;
	}
	for (int i = 0; i < nextra; i++)
	{
		check_header(extra[i].name, extra[i].value);
		append_json_member(&detail, extra[i].name, extra[i].value, first);
		first = false;
	}
	appendStringInfoString(&detail, "}}");

	ereport(ERROR,
			(errcode(MAKE_SQLSTATE('P', 'G', 'R', 'S', 'T')),
			 errmsg_internal("%s", body.data),
			 errdetail_internal("%s", detail.data)));
	pg_unreachable();
}

/* What ta_error_rewrite() leaves in the error: see the lifetime note there. */
#define REWRITE_MESSAGE_CAP (3 * TA_REWRITE_DETAILS_CAP)
#define REWRITE_DETAIL_CAP 8192
static char rewrite_message[REWRITE_MESSAGE_CAP];
static char rewrite_detail[REWRITE_DETAIL_CAP];

/*
 * A FATAL (or PANIC) error is reported by errfinish() itself, which then
 * pfree's the message and detail: those need palloc'd chunks.  One pair is
 * reserved when the library loads, handed over once (the process exits
 * after a FATAL), and never reused.
 */
static char *handover_message = NULL;
static char *handover_detail = NULL;

void
ta_error_rewrite_reserve(void)
{
	if (handover_message != NULL)
		return;
	handover_message = MemoryContextAlloc(TopMemoryContext, REWRITE_MESSAGE_CAP);
	handover_detail = MemoryContextAlloc(TopMemoryContext, REWRITE_DETAIL_CAP);
}

/* Where the answer goes: the static buffers for ERROR, else the reserved chunks (once). */
static bool
take_buffers(int elevel, char **message, char **detail)
{
	if (elevel == ERROR)
	{
		*message = rewrite_message;
		*detail = rewrite_detail;
		return true;
	}
	if (handover_message == NULL)
		return false;
	*message = handover_message;
	*detail = handover_detail;
	handover_message = handover_detail = NULL;
	return true;
}

/*
 * Append `, "key": value-or-null` (first: without the comma), the value a
 * JSON string of at most max bytes; a value that does not fit is null.
 */
static void
out_member(TaOut *out, const char *key, const char *value, size_t max, bool first)
{
	(void) ta_out_raw(out, first ? "" : ", ");
	(void) ta_out_json(out, key, 64);
	(void) ta_out_raw(out, ": ");
	if (value == NULL || !ta_out_json(out, value, max))
		(void) ta_out_raw(out, "null");
}

/*
 * details as ta_raise() gives it one type (normalized_details), without
 * allocating: prose is wrapped into buf.
 */
static const char *
rewrite_details(const char *code, const char *details, char *buf, size_t cap)
{
	bool		array;
	TaOut		out;

	if (details == NULL || details_typed(code, details, &array))
		return details;
	ta_out_init(&out, buf, cap, 0);
	if (ta_out_raw(&out, array ? "[{\"field\": null, \"problem\": " : "{\"reason\": ") &&
		ta_out_json(&out, details, cap / 8) && ta_out_raw(&out, array ? "}]" : "}"))
		return buf;
	return NULL;
}

/*
 * Turn an error PostgreSQL is about to report (from an emit_log_hook) into
 * the catalogue error `code`, as ta_raise() would have raised it, with only
 * the extra headers (reading response.headers is the caller's business).
 *
 * Nothing here allocates or can raise an error: an error inside the hook
 * would recurse, and running out of memory there is a PANIC.  The answer is
 * written into static buffers, with whole members or none (src/error_fields.c's
 * TaOut): details longer than TA_REWRITE_DETAILS_CAP bytes, or a header that
 * does not fit, is left out, and the texts are still valid JSON.  The
 * buffers live until the next rewrite; PostgreSQL sends and logs the error
 * before any other error of this backend can be reported, and an error
 * (elevel ERROR) is never pfree'd field by field: ErrorContext is reset.
 * A FATAL one is, by errfinish(): it gets the chunks reserved at load
 * (take_buffers).
 */
void
ta_error_rewrite(ErrorData *edata, const char *code, const char *message,
				 const char *details, const char *hint,
				 const TaHeader *extra, int nextra)
{
	int			status = ta_error_status(code);
	char		wrapped[TA_REWRITE_DETAILS_CAP];
	char		number[32];
	char	   *message_buf;
	char	   *detail_buf;
	TaOut		body;
	TaOut		detail;

	Assert(status != 0);
	if (!take_buffers(edata->elevel, &message_buf, &detail_buf))
		return;					/* a second FATAL: left as PostgreSQL wrote it */
	details = rewrite_details(code, details, wrapped, sizeof(wrapped));
	if (details != NULL && strnlen(details, TA_REWRITE_DETAILS_CAP) >= TA_REWRITE_DETAILS_CAP)
		details = NULL;

	ta_out_init(&body, message_buf, REWRITE_MESSAGE_CAP, 32);
	(void) ta_out_raw(&body, "{");
	out_member(&body, "code", code, 64, true);
	out_member(&body, "message", message, 512, false);
	out_member(&body, "details", details, TA_REWRITE_DETAILS_CAP, false);
	out_member(&body, "hint", hint, 512, false);
	body.reserve = 0;
	(void) ta_out_raw(&body, "}");

	ta_out_init(&detail, detail_buf, REWRITE_DETAIL_CAP, 8);
	snprintf(number, sizeof(number), "{\"status\": %d, \"headers\": {", status);
	(void) ta_out_raw(&detail, number);
	for (int i = 0, n = 0; i < nextra; i++)
	{
		size_t		mark = detail.len;

		if (ta_out_raw(&detail, n ? ", " : "") && ta_out_json(&detail, extra[i].name, 256) &&
			ta_out_raw(&detail, ": ") && ta_out_json(&detail, extra[i].value, 1024))
			n++;
		else
			detail.len = mark, detail_buf[mark] = '\0';
	}
	detail.reserve = 0;
	(void) ta_out_raw(&detail, "}}");

	edata->sqlerrcode = MAKE_SQLSTATE('P', 'G', 'R', 'S', 'T');
	edata->message = message_buf;
	edata->detail = detail_buf;
	edata->detail_log = NULL;
	edata->hint = NULL;
	edata->context = NULL;
}

/*
 * What this backend last wrote to response.headers (in TopMemoryContext).
 * While the setting still holds exactly that text, nobody has written it
 * since, and an append extends it without reading it back: it is this
 * file's own rendering of its headers, which reading and rendering again
 * would give unchanged.  Anything else (another value, a header dropped)
 * is read and checked as before.
 */
static char *headers_written = NULL;
static Size headers_written_cap = 0;

void
ta_write_response_headers(const char *text)
{
	Size		len = strlen(text) + 1;

	(void) set_config_option(TA_RESPONSE_HEADERS_GUC, text,
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	if (len > headers_written_cap)
	{
		if (headers_written != NULL)
			pfree(headers_written);
		headers_written_cap = Max(len, 512);
		headers_written = MemoryContextAlloc(TopMemoryContext, headers_written_cap);
	}
	memcpy(headers_written, text, len);
}

/*
 * Rewrite response.headers: the headers set so far, less those called
 * `drop` (case-insensitively; NULL drops none), plus name: value (if name).
 */
static void
rewrite_headers(const char *drop, const char *name, const char *value)
{
	const char *raw = ta_response_headers();
	TaPairs		current = {0};
	StringInfoData buf;
	bool		first = true;

	initStringInfo(&buf);
	if (drop == NULL && name != NULL && raw != NULL && headers_written != NULL &&
		raw[0] == '[' && strcmp(raw, headers_written) == 0)
	{
		/* Our own last write, "[]" or "[{...}, ...]": append to it. */
		size_t		len = strlen(raw);

		appendBinaryStringInfo(&buf, raw, (int) len - 1);
		if (len > 2)
			appendStringInfoString(&buf, ", ");
		appendStringInfoChar(&buf, '{');
		append_json_member(&buf, name, value, true);
		appendStringInfoString(&buf, "}]");
		ta_write_response_headers(buf.data);
		pfree(buf.data);
		return;
	}

	/*
	 * Nothing set yet (the request gate's first header, every request):
	 * nothing to read back.
	 */
	if (raw != NULL && raw[0] != '\0' && strcmp(raw, "[]") != 0 &&
		!ta_json_collect_pairs(raw, 2, &current))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("response.headers is not a JSON array of objects")));

	appendStringInfoChar(&buf, '[');
	for (int i = 0; i < current.count; i++)
	{
		if (current.values[i] == NULL ||
			(drop != NULL && pg_strcasecmp(current.names[i], drop) == 0))
			continue;
		if (!first)
			appendStringInfoString(&buf, ", ");
		appendStringInfoChar(&buf, '{');
		append_json_member(&buf, current.names[i], current.values[i], true);
		appendStringInfoChar(&buf, '}');
		first = false;
	}
	if (name != NULL)
	{
		if (!first)
			appendStringInfoString(&buf, ", ");
		appendStringInfoChar(&buf, '{');
		append_json_member(&buf, name, value, true);
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoChar(&buf, ']');

	ta_write_response_headers(buf.data);
	pfree(buf.data);
}

void
ta_append_header(const char *name, const char *value)
{
	check_header(name, value);
	rewrite_headers(NULL, name, value);
}

void
ta_remove_header(const char *name)
{
	rewrite_headers(name, NULL, NULL);
}

PG_FUNCTION_INFO_V1(task_api_raise_error);

/* SQL entry point to ta_raise() for PL/pgSQL and SQL code in the extension. */
Datum
task_api_raise_error(PG_FUNCTION_ARGS)
{
	char	   *code;
	char	   *message;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("code and message must not be null")));

	code = text_to_cstring(PG_GETARG_TEXT_PP(0));
	message = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (ta_error_status(code) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown task_api error code \"%s\"", code),
				 errhint("See task_api.error_codes.")));

	ta_raise(code, message,
			 PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2)),
			 PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3)),
			 NULL, 0);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(task_api_append_header);

/* SQL entry point to ta_append_header(). */
Datum
task_api_append_header(PG_FUNCTION_ARGS)
{
	ta_append_header(text_to_cstring(PG_GETARG_TEXT_PP(0)),
					 text_to_cstring(PG_GETARG_TEXT_PP(1)));
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(task_api_error_catalogue);

/* Rows of the error catalogue, for the task_api.error_codes view. */
Datum
task_api_error_catalogue(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (size_t i = 0; i < lengthof(error_codes); i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = CStringGetTextDatum(error_codes[i].code);
		values[1] = Int32GetDatum(error_codes[i].status);
		values[2] = CStringGetTextDatum(error_codes[i].description);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
