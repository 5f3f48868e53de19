/*
 * error_map.c
 *		Every error a client can get is in the catalogue (issue 14, item 1).
 *
 * Some errors PostgreSQL raises before any trigger of the API runs, or for
 * requests no trigger sees: a privilege it lacks (42501), a value of the
 * wrong type (class 22), PostgREST's upsert on a view (42P10), a write in
 * a GET's read-only transaction (25006), a write on a view without
 * triggers (55000), an unknown column (42703).  src/bounds.c's
 * emit_log_hook calls ta_error_map() for every error of a request's
 * transaction, before it is sent, and this rewrites those into catalogue
 * errors (SQLSTATE 'PGRST', exact status), keeping the RateLimit headers
 * pre_request() set:
 *
 *	  42501, anonymous			401 unauthenticated
 *	  42501, with an identity	403 forbidden (also 428C9 and 0A000 on a write to
 *								the read-only /task_events)
 *	  PUT, 42P10 (upsert), a write on a view without triggers
 *								405 method_not_allowed, Allow of the resource
 *	  25006 on GET (a writing /rpc/ function)
 *								405 method_not_allowed, Allow: POST
 *	  class 22 in the body or an /rpc/ argument
 *								422 validation_failed, every bad field listed
 *	  class 22 elsewhere (a filter), 42703, 42704, 42883 and kin
 *								400 invalid_parameter
 *	  42P01 (an unknown resource)	404 not_found
 *	  23505 409 conflict; 23502, 23503, 23514 422 validation_failed;
 *	  54xxx (too large, too deep)  413 payload_too_large
 *
 * Naming the fields: PostgREST sends the body (and /rpc/ arguments) as $1
 * and converts it with json_to_recordset($1) AS _("field" type, ...); the
 * failed portal still holds both when the error is reported (the
 * transaction is aborted just after).  src/error_fields.c scans them with
 * plain C; dates go through ParseDateTime/DecodeDateTime, which report
 * errors as return codes.  Nothing here raises an error: an error inside
 * an emit_log_hook would recurse.  A 25006 on a hot standby is left alone
 * (a write sent to a replica is another case).
 */
#include "postgres.h"

#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/elog.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/portal.h"

#include "constants.h"
#include "error_fields.h"
#include "error_map.h"
#include "errors.h"
#include "json_pairs.h"

#define MAX_COLUMNS 64
#define MAX_HEADERS 8
#define MAX_VALUE 1024			/* longest field value checked */
#define MAX_BODY (16 * 1024 * 1024)
#define MAX_SHOWN 200			/* longest value quoted back in details */

#define PGRST_SQLSTATE MAKE_SQLSTATE('P', 'G', 'R', 'S', 'T')

/* What each resource allows, for the Allow header (the grants of 90_grants.sql). */
static const struct
{
	const char *path;
	const char *allow;
}			resource_allow[] = {
	{"/tasks", "GET, POST, PATCH, DELETE"},
	{"/projects", "GET, POST, PATCH, DELETE"},
	{"/users", "GET, PATCH"},
	{"/project_members", "GET, PATCH, DELETE"},
	{"/invitations", "GET, POST, DELETE"},
	{"/api_keys", "GET, DELETE"},
	{"/trash", "GET"},
	{"/task_events", "GET"},
};

/* The request being answered, read from the settings PostgREST makes. */
typedef struct Request
{
	const char *method;
	const char *path;
	TaHeader	headers[MAX_HEADERS + 1];	/* + Allow */
	int			nheaders;
} Request;

static const char *
setting(const char *name)
{
	const char *v = GetConfigOption(name, true, false);

	return v ? v : "";
}

static const char *
allow_for(const char *path)
{
	size_t		len = strlen(path);

	for (size_t i = 0; i < lengthof(resource_allow); i++)
		if (strcmp(resource_allow[i].path, path) == 0)
			return resource_allow[i].allow;
	if (strncmp(path, "/rpc/", 5) == 0)
		return len > 5 && strcmp(path + len - 5, "_page") == 0 ? "GET, POST" : "POST";
	return "GET";
}

/* The RateLimit headers (and the like) pre_request() set; never an ETag. */
static void
keep_headers(Request *req)
{
	TaPairs		pairs;

	req->nheaders = 0;
	if (!ta_json_collect_pairs(GetConfigOption(TA_RESPONSE_HEADERS_GUC, true, false), 2, &pairs))
		return;
	for (int i = 0; i < pairs.count && req->nheaders < MAX_HEADERS; i++)
	{
		if (pairs.names[i] == NULL || pairs.values[i] == NULL ||
			pg_strcasecmp(pairs.names[i], "ETag") == 0)
			continue;
		req->headers[req->nheaders].name = pairs.names[i];
		req->headers[req->nheaders].value = pairs.values[i];
		req->nheaders++;
	}
}

static void
rewrite(ErrorData *edata, Request *req, const char *code, const char *message,
		const char *details, const char *hint)
{
	ta_error_rewrite(edata, code, message, details, hint, req->headers, req->nheaders);
}

static void
method_not_allowed(ErrorData *edata, Request *req, const char *allow, const char *message)
{
	req->headers[req->nheaders].name = "Allow";
	req->headers[req->nheaders].value = allow;
	req->nheaders++;
	rewrite(edata, req, "method_not_allowed", message,
			psprintf("{\"method\": %s, \"allow\": %s}",
					 ta_json_quote(req->method), ta_json_quote(allow)),
			strcmp(req->method, "PUT") == 0
			? "replace a row with a PATCH of every writable field" : "see the Allow header");
}

/* Is the message PostgreSQL's untranslated format `prefix...`? */
static bool
message_starts(const ErrorData *edata, const char *prefix)
{
	return edata->message_id != NULL && strncmp(edata->message_id, prefix, strlen(prefix)) == 0;
}

/* The value an input function quoted at the end of its message (`...: "v"`), or NULL. */
static char *
quoted_value(const ErrorData *edata)
{
	const char *start;
	const char *end;

	if (edata->message == NULL || (start = strstr(edata->message, ": \"")) == NULL)
		return NULL;
	start += 3;
	end = strrchr(start, '"');
	if (end == NULL)
		return NULL;
	return pnstrdup(start, end - start);
}

/* JSON text of s, at most MAX_SHOWN bytes of it (cut at a character boundary). */
const char *
ta_json_quote(const char *s)
{
	StringInfoData buf;
	size_t		len = strlen(s);

	if (len > MAX_SHOWN)
	{
		len = MAX_SHOWN;
		while (len > 0 && (s[len] & 0xC0) == 0x80)
			len--;
	}
	initStringInfo(&buf);
	escape_json(&buf, pnstrdup(s, len));
	return buf.data;
}

static void
map_privilege(ErrorData *edata, Request *req)
{
	/* Anonymous: sign in.  Any identity (a user, the scraper): forbidden. */
	if (strcmp(setting("role"), TA_ANON_ROLE) == 0)
		rewrite(edata, req, "unauthenticated", "sign in to use this resource",
				psprintf("{\"path\": %s}", ta_json_quote(req->path)),
				"send a bearer token, an API key or the session cookie");
	else if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0)
		rewrite(edata, req, "forbidden", "you may not read this resource",
				psprintf("{\"path\": %s}", ta_json_quote(req->path)), NULL);
	else
		rewrite(edata, req, "forbidden", "this resource is read-only for you",
				psprintf("{\"path\": %s, \"method\": %s}",
						 ta_json_quote(req->path), ta_json_quote(req->method)),
				"see the resource's methods in docs/contract.md");
}

static void
map_unknown_column(ErrorData *edata, Request *req)
{
	const char *msg = edata->message ? edata->message : "";
	const char *start = strncmp(msg, "column ", 7) == 0 ? msg + 7 : msg;
	const char *end = strstr(start, " does not exist");
	char	   *name = pnstrdup(start, end ? end - start : 0);
	char	   *dot = strrchr(name, '.');

	if (dot)
		name = dot + 1;
	if (name[0] == '"' && strlen(name) >= 2)
		name = pnstrdup(name + 1, strlen(name) - 2);
	rewrite(edata, req, "invalid_parameter", "the request names a column the resource does not have",
			psprintf("{\"column\": %s}", ta_json_quote(name)),
			"see the resource's columns in the OpenAPI document at /");
}

/* Would the date or timestamp input function accept s?  Never throws. */
static bool
datetime_ok(const char *s, bool date_only)
{
	char		workbuf[MAXDATELEN + MAXDATEFIELDS];
	char	   *field[MAXDATEFIELDS];
	int			ftype[MAXDATEFIELDS];
	int			nf;
	int			dtype;
	int			tz = 0;
	struct pg_tm tt;
	fsec_t		fsec;
	Timestamp	ts;

	if (strlen(s) > MAXDATELEN ||
		ParseDateTime(s, workbuf, sizeof(workbuf), field, ftype, MAXDATEFIELDS, &nf) != 0 ||
		DecodeDateTime(field, ftype, nf, &dtype, &tt, &fsec, &tz) != 0)
		return false;
	if (dtype != DTK_DATE)
		return dtype == DTK_EPOCH || dtype == DTK_LATE || dtype == DTK_EARLY;
	if (date_only)
		return IS_VALID_JULIAN(tt.tm_year, tt.tm_mon, tt.tm_mday) &&
			IS_VALID_DATE(date2j(tt.tm_year, tt.tm_mon, tt.tm_mday) - POSTGRES_EPOCH_JDATE);
	return tm2timestamp(&tt, fsec, &tz, &ts) == 0 && IS_VALID_TIMESTAMP(ts);
}

/* The scan of a body for the fields PostgreSQL cannot convert. */
typedef struct BodyScan
{
	TaColumnType cols[MAX_COLUMNS];
	int			ncols;
	const char *bad_value;		/* the value the error message quotes */
	bool		enum_error;
	bool		reported[MAX_COLUMNS];
	StringInfoData problems;	/* JSON array under construction */
	int			count;
} BodyScan;

static const char *
typed_problem(const char *type, TaJsonKind kind, const char *text)
{
	bool		usable = kind == TA_JSON_STRING || kind == TA_JSON_NUMBER;

	if (strcmp(type, "uuid") == 0)
		return usable && ta_text_is_uuid(text) ? NULL : "must be a UUID";
	if (strcmp(type, "smallint") == 0 || strcmp(type, "integer") == 0 || strcmp(type, "bigint") == 0)
	{
		int			r = usable ? ta_text_int_check(text, type[0] == 's' ? 16 : type[0] == 'i' ? 32 : 64) : 1;

		return r == 0 ? NULL : r == 1 ? "must be an integer" : "is out of range";
	}
	if (strcmp(type, "date") == 0)
		return kind == TA_JSON_STRING && datetime_ok(text, true) ? NULL
			: "must be a date (YYYY-MM-DD)";
	if (strncmp(type, "timestamp", 9) == 0)
		return kind == TA_JSON_STRING && datetime_ok(text, false) ? NULL
			: "must be a date and time (ISO 8601)";
	return NULL;
}

/* The problem of one member's value for its column's type, or NULL. */
static const char *
field_problem(BodyScan *scan, const TaColumnType *col, TaJsonKind kind,
			  const char *raw, size_t rawlen)
{
	char		text[MAX_VALUE];
	bool		has_nul = false;
	const char *problem;

	if (kind == TA_JSON_NULL || strcmp(col->type, "json") == 0 || strcmp(col->type, "jsonb") == 0)
		return NULL;
	if (kind == TA_JSON_STRING)
	{
		if (!ta_json_unescape(raw, rawlen, text, sizeof(text), &has_nul))
			return has_nul ? "must not contain the character \\u0000" : NULL;
	}
	else
	{
		/* raw is a span of the body, not terminated: copy at most rawlen bytes */
		size_t		n = Min(rawlen, sizeof(text) - 1);

		memcpy(text, raw, n);
		text[n] = '\0';
	}
	if (has_nul)
		return "must not contain the character \\u0000";
	problem = typed_problem(col->type, kind, text);
	if (problem == NULL && scan->bad_value != NULL && strcmp(text, scan->bad_value) == 0 &&
		strchr(col->type, '.') != NULL)
		problem = scan->enum_error ? "is not one of the allowed values" : "has a value of the wrong type";
	return problem;
}

static void
on_field(void *arg, const char *key, size_t keylen, TaJsonKind kind,
		 const char *raw, size_t rawlen)
{
	BodyScan   *scan = arg;
	char		name[64];
	bool		has_nul;
	const char *problem;

	if (!ta_json_unescape(key, keylen, name, sizeof(name), &has_nul))
		return;
	for (int i = 0; i < scan->ncols; i++)
	{
		if (scan->reported[i] || strcmp(scan->cols[i].name, name) != 0)
			continue;
		problem = field_problem(scan, &scan->cols[i], kind, raw, rawlen);
		if (problem == NULL)
			return;
		scan->reported[i] = true;
		appendStringInfoString(&scan->problems, scan->count++ ? ", {\"field\": " : "{\"field\": ");
		escape_json(&scan->problems, name);
		appendStringInfoString(&scan->problems, ", \"problem\": ");
		escape_json(&scan->problems, problem);
		appendStringInfoChar(&scan->problems, '}');
		return;
	}
}

/* The body ($1) of the failed statement, if it converts a body; else NULL. */
static const char *
failed_body(BodyScan *scan, size_t *len)
{
	Portal		portal = GetPortalByName("");
	ParamExternData *param;
	struct varlena *v;

	if (portal == NULL || portal->status != PORTAL_FAILED || portal->sourceText == NULL ||
		portal->portalParams == NULL || portal->portalParams->numParams < 1 ||
		portal->portalParams->paramFetch != NULL)
		return NULL;
	scan->ncols = ta_body_column_types(portal->sourceText, scan->cols, MAX_COLUMNS);
	param = &portal->portalParams->params[0];
	if (scan->ncols == 0 || param->isnull ||
		(param->ptype != JSONOID && param->ptype != TEXTOID && param->ptype != UNKNOWNOID))
		return NULL;
	v = (struct varlena *) DatumGetPointer(param->value);
	if (param->ptype == UNKNOWNOID)
	{
		*len = strnlen((const char *) v, MAX_BODY + 1);
		return *len > MAX_BODY ? NULL : (const char *) v;
	}
	if (VARATT_IS_EXTENDED(v) && !VARATT_IS_SHORT(v))
		return NULL;
	*len = VARSIZE_ANY_EXHDR(v);
	return *len > MAX_BODY ? NULL : VARDATA_ANY(v);
}

static void
map_bad_value(ErrorData *edata, Request *req)
{
	BodyScan   *scan = palloc0(sizeof(BodyScan));
	size_t		len = 0;
	const char *body = failed_body(scan, &len);
	char	   *value = quoted_value(edata);

	scan->bad_value = value;
	scan->enum_error = message_starts(edata, "invalid input value for enum");
	initStringInfo(&scan->problems);
	appendStringInfoChar(&scan->problems, '[');
	if (body != NULL)
		(void) ta_body_fields(body, len, on_field, scan);
	appendStringInfoChar(&scan->problems, ']');
	if (scan->count > 0)
		rewrite(edata, req, "validation_failed",
				strncmp(req->path, "/rpc/", 5) == 0 ? "the arguments are invalid" : "the payload is invalid",
				scan->problems.data, "details lists every field with a problem");
	else
		rewrite(edata, req, "invalid_parameter", "a value in the query string is malformed",
				value ? psprintf("{\"value\": %s}", ta_json_quote(value)) : NULL,
				"check the filters' values against the columns' types");
}

static void
map_integrity(ErrorData *edata, Request *req)
{
	const char *field = edata->column_name ? edata->column_name : "(row)";

	if (edata->sqlerrcode == ERRCODE_UNIQUE_VIOLATION)
		rewrite(edata, req, "conflict", "the request conflicts with an existing row", NULL, NULL);
	else
		rewrite(edata, req, "validation_failed", "the payload is invalid",
				psprintf("[{\"field\": %s, \"problem\": %s}]", ta_json_quote(field),
						 ta_json_quote(edata->sqlerrcode == ERRCODE_NOT_NULL_VIOLATION
									   ? "is required" : "is not allowed here")),
				"details lists every field with a problem");
}

static bool
is_write_on_plain_view(const ErrorData *edata)
{
	return edata->sqlerrcode == ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE &&
		(message_starts(edata, "cannot insert into view") ||
		 message_starts(edata, "cannot update view") ||
		 message_starts(edata, "cannot delete from view"));
}

/* An INSERT naming a computed column of a view (api.task_events.changes). */
static bool
is_write_on_computed_column(const ErrorData *edata)
{
	return edata->sqlerrcode == ERRCODE_FEATURE_NOT_SUPPORTED &&
		(message_starts(edata, "cannot insert into column") ||
		 message_starts(edata, "cannot update column"));
}

static bool
is_bad_query(int code)
{
	return code == ERRCODE_UNDEFINED_FUNCTION || code == ERRCODE_DATATYPE_MISMATCH ||
		code == ERRCODE_CANNOT_COERCE || code == ERRCODE_AMBIGUOUS_FUNCTION ||
		code == ERRCODE_INDETERMINATE_DATATYPE || code == ERRCODE_SYNTAX_ERROR ||
		code == ERRCODE_INVALID_NAME || code == ERRCODE_AMBIGUOUS_COLUMN ||
		code == ERRCODE_UNDEFINED_OBJECT;
}

/* Map the error by what the request was; false if it is left as it is. */
static bool
map_by_request(ErrorData *edata, Request *req)
{
	int			code = edata->sqlerrcode;

	if (strcmp(req->method, "PUT") == 0 || code == ERRCODE_INVALID_COLUMN_REFERENCE ||
		is_write_on_plain_view(edata))
		method_not_allowed(edata, req, allow_for(req->path),
						   "this resource does not support this method");
	else if (code == ERRCODE_READ_ONLY_SQL_TRANSACTION && !RecoveryInProgress() &&
			 (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0))
		method_not_allowed(edata, req, "POST", "this function changes data: call it with POST");
	else if (code == ERRCODE_INSUFFICIENT_PRIVILEGE || code == ERRCODE_GENERATED_ALWAYS ||
			 is_write_on_computed_column(edata))
		map_privilege(edata, req);
	else
		return false;
	return true;
}

static void
map_by_error(ErrorData *edata, Request *req)
{
	int			code = edata->sqlerrcode;

	if (code == ERRCODE_UNDEFINED_COLUMN)
		map_unknown_column(edata, req);
	else if (code == ERRCODE_UNDEFINED_TABLE)
		rewrite(edata, req, "not_found", "there is no such resource",
				psprintf("{\"path\": %s}", ta_json_quote(req->path)),
				"see the resources in the OpenAPI document at /");
	else if (ERRCODE_TO_CATEGORY(code) == ERRCODE_DATA_EXCEPTION)
		map_bad_value(edata, req);
	else if (ERRCODE_TO_CATEGORY(code) == ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION)
		map_integrity(edata, req);
	else if (ERRCODE_TO_CATEGORY(code) == ERRCODE_PROGRAM_LIMIT_EXCEEDED)
		rewrite(edata, req, "payload_too_large", "the request is too large or too deeply nested",
				NULL, "send less, or flatter JSON");
	else if (is_bad_query(code))
		rewrite(edata, req, "invalid_parameter", "a filter or parameter does not fit its column",
				NULL, "see PostgREST's operators and the columns' types");
}

void
ta_error_map(ErrorData *edata)
{
	Request		req;

	if (edata->elevel != ERROR || edata->sqlerrcode == PGRST_SQLSTATE ||
		ERRCODE_TO_CATEGORY(edata->sqlerrcode) == ERRCODE_OPERATOR_INTERVENTION)
		return;
	req.method = setting("request.method");
	req.path = setting("request.path");
	if (req.method[0] == '\0')
		return;
	keep_headers(&req);
	if (!map_by_request(edata, &req))
		map_by_error(edata, &req);
}
