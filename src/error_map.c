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
 *	  42501, anonymous			401 unauthenticated (also what would be a 405:
 *								authentication comes first)
 *	  42501, with an identity	403 forbidden (also 428C9 and 0A000 on a write to
 *								the read-only /task_events)
 *	  PUT, 42P10 (upsert), a write on a view without triggers
 *								405 method_not_allowed, Allow of the resource
 *	  25006 on GET (a writing /rpc/ function)
 *								405 method_not_allowed, Allow: POST
 *	  class 22 in the body or an /rpc/ argument
 *								422 validation_failed, every bad field listed
 *	  class 22 in a filter, 42703, 42704, 42883 and kin
 *								400 invalid_parameter
 *	  class 22 of the API's own code	500 internal_error
 *	  42P01 (an unknown resource)	404 not_found
 *	  23505 409 conflict; 23502, 23503, 23514 422 validation_failed;
 *	  54xxx (too large, too deep)  413 payload_too_large
 *
 * Naming the fields: PostgREST sends the body (and /rpc/ arguments) as $1
 * and converts it with json_to_recordset($1) AS _("field" type, ...); the
 * failed portal still holds both when the error is reported (the
 * transaction is aborted just after).  src/error_fields.c scans them with
 * plain C; dates go through ParseDateTime/DecodeDateTime, but only once
 * ta_datetime_text() has refused every text with a letter in it (a zone
 * name or abbreviation: their lookup, pg_tzset, can raise an error).
 *
 * Nothing here raises an error or allocates: an error inside an
 * emit_log_hook would recurse, and running out of memory there is a PANIC.
 * The answer is built in fixed-size buffers on the stack (src/error_fields.c's
 * TaOut: whole members or none, so a truncated answer is still valid JSON)
 * and ta_error_rewrite() copies it into static ones.  What is called, and
 * why it cannot throw: GetConfigOption with missing_ok (a lookup),
 * GetPortalByName (a hash lookup), RecoveryInProgress (a shared flag),
 * ParseDateTime and DecodeDateTime on texts without letters (arithmetic on
 * the text; the session time zone is already loaded).
 *
 * Whose error: a class-22 error is the client's only when it comes from
 * the conversion of PostgREST's own statement's input (the body or /rpc/
 * arguments in json_to_recordset, or a filter's literal, which PostgreSQL
 * reports with a position in the statement), and with no context of a
 * function or trigger of the API (edata->context, internalquery).  Any
 * other is a fault of the API: 500 internal_error.  Headers set before the
 * failure are carried only when they describe the answer (RateLimit,
 * RateLimit-Policy, Retry-After, X-Request-Id, Vary,
 * Access-Control-Expose-Headers): never a Set-Cookie, Location or ETag.
 * A 25006 on a hot standby is left alone (a write sent to a replica is
 * another case).
 */
#include "postgres.h"

#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "utils/datetime.h"
#include "utils/elog.h"
#include "utils/guc.h"
#include "utils/portal.h"

#include "constants.h"
#include "enum_labels.h"
#include "error_fields.h"
#include "error_map.h"
#include "errors.h"

#define MAX_COLUMNS 64
#define MAX_HEADERS 8
#define MAX_HEADER_VALUE 512	/* longest header value carried */
#define MAX_VALUE 1024			/* longest field value checked */
#define MAX_BODY (16 * 1024 * 1024)
#define MAX_SHOWN 200			/* longest value quoted back in details */
#define DETAILS_CAP TA_REWRITE_DETAILS_CAP	/* details, as JSON text */

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

/* The only headers set before a failure that an error answer keeps. */
static const char *const kept_header_names[] = {
	"RateLimit", "RateLimit-Policy", "Retry-After", "X-Request-Id", "Vary",
	"Access-Control-Expose-Headers",
};

typedef struct KeptHeader
{
	char		name[64];
	char		value[MAX_HEADER_VALUE];
} KeptHeader;

/* The request being answered, read from the settings PostgREST makes. */
typedef struct Request
{
	const char *method;
	const char *path;
	bool		anonymous;
	KeptHeader	kept[MAX_HEADERS];
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

static const char *
kept_name(const char *name)
{
	for (size_t i = 0; i < lengthof(kept_header_names); i++)
		if (pg_strcasecmp(kept_header_names[i], name) == 0)
			return kept_header_names[i];
	return NULL;
}

/* One member of response.headers: keep it if it is listed (a later one replaces). */
static void
on_header(void *arg, const char *key, size_t keylen, TaJsonKind kind,
		  const char *raw, size_t rawlen)
{
	Request    *req = arg;
	char		name[64];
	char		value[MAX_HEADER_VALUE];
	bool		has_nul;
	const char *canonical;
	int			slot;

	if (kind != TA_JSON_STRING || !ta_json_unescape(key, keylen, name, sizeof(name), &has_nul) ||
		has_nul || (canonical = kept_name(name)) == NULL)
		return;
	for (slot = 0; slot < req->nheaders; slot++)
		if (strcmp(req->kept[slot].name, canonical) == 0)
			break;
	if (slot == MAX_HEADERS ||
		!ta_json_unescape(raw, rawlen, value, sizeof(value), &has_nul) || has_nul)
		return;
	strlcpy(req->kept[slot].name, canonical, sizeof(req->kept[slot].name));
	strlcpy(req->kept[slot].value, value, sizeof(req->kept[slot].value));
	if (slot == req->nheaders)
		req->nheaders++;
}

/*
 * The headers pre_request() and the statement set (response.headers, an
 * array of one-member objects) that the error answer keeps; read with the
 * allocation-free scanner of src/error_fields.c.
 */
static void
keep_headers(Request *req)
{
	const char *raw = GetConfigOption(TA_RESPONSE_HEADERS_GUC, true, false);

	req->nheaders = 0;
	if (raw != NULL)
		(void) ta_body_fields(raw, strlen(raw), on_header, req);
	for (int i = 0; i < req->nheaders; i++)
	{
		req->headers[i].name = req->kept[i].name;
		req->headers[i].value = req->kept[i].value;
	}
}

static void
rewrite(ErrorData *edata, Request *req, const char *code, const char *message,
		const char *details, const char *hint)
{
	ta_error_rewrite(edata, code, message, details, hint, req->headers, req->nheaders);
}

/*
 * details {"k1": v1[, "k2": v2]} in buf (DETAILS_CAP bytes), each value at
 * most MAX_SHOWN bytes; a member that does not fit is left out.
 */
static const char *
object_details(char *buf, const char *k1, const char *v1, const char *k2, const char *v2)
{
	TaOut		out;
	const char *keys[2] = {k1, k2};
	const char *values[2] = {v1, v2};
	bool		first = true;

	ta_out_init(&out, buf, DETAILS_CAP, 1);
	(void) ta_out_raw(&out, "{");
	for (int i = 0; i < 2; i++)
	{
		size_t		mark = out.len;

		if (keys[i] == NULL)
			continue;
		if (ta_out_raw(&out, first ? "" : ", ") && ta_out_json(&out, keys[i], MAX_SHOWN) &&
			ta_out_raw(&out, ": ") && ta_out_json(&out, values[i], MAX_SHOWN))
			first = false;
		else
			out.len = mark, buf[mark] = '\0';
	}
	out.reserve = 0;
	(void) ta_out_raw(&out, "}");
	return buf;
}

static void
method_not_allowed(ErrorData *edata, Request *req, const char *allow, const char *message)
{
	char		details[DETAILS_CAP];

	req->headers[req->nheaders].name = "Allow";
	req->headers[req->nheaders].value = allow;
	req->nheaders++;
	rewrite(edata, req, "method_not_allowed", message,
			object_details(details, "method", req->method, "allow", allow),
			strcmp(req->method, "PUT") == 0
			? "replace a row with a PATCH of every writable field" : "see the Allow header");
}

/* Is the message PostgreSQL's untranslated format `prefix...`? */
static bool
message_starts(const ErrorData *edata, const char *prefix)
{
	return edata->message_id != NULL && strncmp(edata->message_id, prefix, strlen(prefix)) == 0;
}

/*
 * The value an input function quoted at the end of its message (`...: "v"`)
 * into buf (cap bytes, cut if longer); false if there is none.
 */
static bool
quoted_value(const ErrorData *edata, char *buf, size_t cap)
{
	const char *start;
	const char *end;

	if (edata->message == NULL || (start = strstr(edata->message, ": \"")) == NULL)
		return false;
	start += 3;
	end = strrchr(start, '"');
	if (end == NULL)
		return false;
	strlcpy(buf, start, Min((size_t) (end - start) + 1, cap));
	return true;
}

static void
map_privilege(ErrorData *edata, Request *req)
{
	char		details[DETAILS_CAP];

	/* Anonymous: sign in.  Any identity (a user, the scraper): forbidden. */
	if (req->anonymous)
		rewrite(edata, req, "unauthenticated", "sign in to use this resource",
				object_details(details, "path", req->path, NULL, NULL),
				"send a bearer token, an API key or the session cookie");
	else if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0)
		rewrite(edata, req, "forbidden", "you may not read this resource",
				object_details(details, "path", req->path, NULL, NULL), NULL);
	else
		rewrite(edata, req, "forbidden", "this resource is read-only for you",
				object_details(details, "path", req->path, "method", req->method),
				"see the resource's methods in docs/contract.md");
}

static void
map_unknown_column(ErrorData *edata, Request *req)
{
	const char *msg = edata->message ? edata->message : "";
	const char *start = strncmp(msg, "column ", 7) == 0 ? msg + 7 : msg;
	const char *end = strstr(start, " does not exist");
	char		buf[MAX_SHOWN + 1];
	char	   *name = buf;
	char	   *dot;
	size_t		len;
	char		details[DETAILS_CAP];

	strlcpy(buf, start, Min((size_t) (end ? end - start : 0) + 1, sizeof(buf)));
	if ((dot = strrchr(name, '.')) != NULL)
		name = dot + 1;
	len = strlen(name);
	if (name[0] == '"' && len >= 2)
	{
		name[len - 1] = '\0';
		name++;
	}
	rewrite(edata, req, "invalid_parameter", "the request names a column the resource does not have",
			object_details(details, "column", name, NULL, NULL),
			"see the resource's columns in the OpenAPI document at /");
}

/* Is a field (of ParseDateTime) a word that makes a date on its own? */
static bool
special_word(const char *field)
{
	static const char *const words[] = {"now", "today", "tomorrow", "yesterday", "epoch",
	"infinity", "allballs"};

	if (*field == '+' || *field == '-')
		field++;
	for (size_t i = 0; i < lengthof(words); i++)
		if (strcmp(field, words[i]) == 0)
			return true;
	return false;
}

/*
 * Would the date or timestamp input function refuse s?  Never throws:
 * DecodeDateTime only sees texts without letters (ta_datetime_text); a
 * text without digits is refused unless it holds a special word; any other
 * text with a letter is "cannot tell" (false).
 */
static bool
datetime_bad(const char *s, bool date_only)
{
	char		text[MAXDATELEN + 4];
	char		workbuf[2 * (MAXDATELEN + MAXDATEFIELDS)];
	char	   *field[MAXDATEFIELDS];
	int			ftype[MAXDATEFIELDS];
	int			nf;
	int			dtype;
	int			tz = 0;
	struct pg_tm tt;
	fsec_t		fsec;
	Timestamp	ts;
	TaDatetimeText kind = ta_datetime_text(s, text, sizeof(text));

	if (kind == TA_DT_UNSURE)
		return false;
	if (ParseDateTime(text, workbuf, sizeof(workbuf), field, ftype, MAXDATEFIELDS, &nf) != 0)
		return true;
	if (kind == TA_DT_NO_DIGITS)
	{
		for (int i = 0; i < nf; i++)
			if (special_word(field[i]))
				return false;
		return true;
	}
	if (DecodeDateTime(field, ftype, nf, &dtype, &tt, &fsec, &tz) != 0)
		return true;
	if (dtype != DTK_DATE)
		return !(dtype == DTK_EPOCH || dtype == DTK_LATE || dtype == DTK_EARLY);
	if (date_only)
		return !(IS_VALID_JULIAN(tt.tm_year, tt.tm_mon, tt.tm_mday) &&
				 IS_VALID_DATE(date2j(tt.tm_year, tt.tm_mon, tt.tm_mday) - POSTGRES_EPOCH_JDATE));
	return !(tm2timestamp(&tt, fsec, &tz, &ts) == 0 && IS_VALID_TIMESTAMP(ts));
}

/* The scan of a body for the fields PostgreSQL cannot convert. */
typedef struct BodyScan
{
	TaColumnType cols[MAX_COLUMNS];
	int			ncols;
	const char *bad_value;		/* the value the error message quotes */
	bool		enum_error;
	bool		reported[MAX_COLUMNS];
	TaOut		problems;		/* JSON array under construction */
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
		return kind != TA_JSON_STRING || datetime_bad(text, true)
			? "must be a date (YYYY-MM-DD)" : NULL;
	if (strncmp(type, "timestamp", 9) == 0)
		return kind != TA_JSON_STRING || datetime_bad(text, false)
			? "must be a date and time (ISO 8601)" : NULL;
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
	if (problem != NULL || strchr(col->type, '.') == NULL)
		return problem;
	/* An enum of the extension: its labels, cached outside the hook. */
	switch (ta_enum_label_check(col->type, text))
	{
		case 0:
			return NULL;
		case 1:
			return "is not one of the allowed values";
		default:
			break;
	}
	if (scan->bad_value != NULL && strcmp(text, scan->bad_value) == 0)
		problem = scan->enum_error ? "is not one of the allowed values" : "has a value of the wrong type";
	return problem;
}

/* Append {"field": name, "problem": problem} whole, or nothing when full. */
static void
add_problem(BodyScan *scan, const char *name, const char *problem)
{
	TaOut	   *out = &scan->problems;
	size_t		mark = out->len;

	if (ta_out_raw(out, scan->count ? ", {\"field\": " : "{\"field\": ") &&
		ta_out_json(out, name, MAX_SHOWN) && ta_out_raw(out, ", \"problem\": ") &&
		ta_out_json(out, problem, MAX_SHOWN) && ta_out_raw(out, "}"))
		scan->count++;
	else
		out->len = mark, out->buf[mark] = '\0';
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
		add_problem(scan, name, problem);
		return;
	}
}

/*
 * The body ($1) of the failed statement, if it converts a body (then
 * scan->ncols > 0: PostgREST's own statement converts input); else NULL.
 */
static const char *
failed_body(BodyScan *scan, size_t *len)
{
	Portal		portal = GetPortalByName("");
	ParamExternData *param;
	struct varlena *v;

	scan->ncols = 0;
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

/*
 * Was the error raised while PostgreSQL bound the parameters of PostgREST's
 * statement (the filters' values, converted to the columns' types)?  Then
 * the unnamed portal exists and is still new: no statement yet.
 */
static bool
in_bind(void)
{
	Portal		portal = GetPortalByName("");

	return portal != NULL && portal->status == PORTAL_NEW && portal->sourceText == NULL;
}

/* One of the errors of the JSON parser (with its "JSON data, line 1" context). */
static bool
is_json_parse_error(const ErrorData *edata)
{
	return message_starts(edata, "unsupported Unicode escape sequence") ||
		(edata->message_id != NULL && strcmp(edata->message_id, "invalid input syntax for type %s") == 0);
}

/*
 * Is a class-22 error the client's: raised converting the input of
 * PostgREST's own statement?  That is the binding of its parameters, or
 * the body statement's json_to_recordset (no context but the JSON
 * parser's), or a literal of the statement (a position in it).  An error
 * with another context (a PL/pgSQL or SQL function, a trigger's SPI
 * query) or an internal query is the API's own.  Contexts are not read as
 * text (they are translated): only their presence counts.
 */
static bool
client_input(const ErrorData *edata, const BodyScan *scan)
{
	if (edata->internalquery != NULL)
		return false;
	if (in_bind())
		return true;
	if (scan->ncols > 0)
		return edata->context == NULL || is_json_parse_error(edata);
	return edata->context == NULL && edata->cursorpos > 0;
}

/* The API's own fault: nothing of PostgreSQL's message reaches the client. */
static void
internal_error(ErrorData *edata, Request *req)
{
	rewrite(edata, req, "internal_error", "the server failed to answer this request", NULL,
			"nothing was written; report it with the X-Request-Id of the answer");
}

static void
map_bad_value(ErrorData *edata, Request *req)
{
	BodyScan	scan;
	char		problems[DETAILS_CAP];
	char		value[MAX_VALUE + 1];
	char		details[DETAILS_CAP];
	size_t		len = 0;
	const char *body = failed_body(&scan, &len);
	bool		quoted = quoted_value(edata, value, sizeof(value));

	scan.bad_value = quoted ? value : NULL;
	scan.enum_error = message_starts(edata, "invalid input value for enum");
	scan.count = 0;
	memset(scan.reported, 0, sizeof(scan.reported));
	ta_out_init(&scan.problems, problems, sizeof(problems), 1);
	(void) ta_out_raw(&scan.problems, "[");
	if (body != NULL && client_input(edata, &scan))
		(void) ta_body_fields(body, len, on_field, &scan);
	scan.problems.reserve = 0;
	(void) ta_out_raw(&scan.problems, "]");
	if (scan.count > 0)
		rewrite(edata, req, "validation_failed",
				strncmp(req->path, "/rpc/", 5) == 0 ? "the arguments are invalid" : "the payload is invalid",
				problems, "details lists every field with a problem");
	else if (!client_input(edata, &scan))
		internal_error(edata, req);
	else if (scan.ncols > 0)
		rewrite(edata, req, "validation_failed",
				strncmp(req->path, "/rpc/", 5) == 0 ? "the arguments are invalid" : "the payload is invalid",
				"[{\"field\": null, \"problem\": \"a value does not fit its field's type\"}]",
				"check the values against the fields' types in the OpenAPI document at /");
	else
		rewrite(edata, req, "invalid_parameter", "a value in the query string is malformed",
				quoted ? object_details(details, "value", value, NULL, NULL) : NULL,
				"check the filters' values against the columns' types");
}

static void
map_integrity(ErrorData *edata, Request *req)
{
	const char *field = edata->column_name ? edata->column_name : "(row)";
	char		problems[DETAILS_CAP];
	TaOut		out;

	if (edata->sqlerrcode == ERRCODE_UNIQUE_VIOLATION)
	{
		rewrite(edata, req, "conflict", "the request conflicts with an existing row", NULL, NULL);
		return;
	}
	ta_out_init(&out, problems, sizeof(problems), 0);
	(void) (ta_out_raw(&out, "[{\"field\": ") && ta_out_json(&out, field, MAX_SHOWN) &&
			ta_out_raw(&out, ", \"problem\": ") &&
			ta_out_json(&out, edata->sqlerrcode == ERRCODE_NOT_NULL_VIOLATION
						? "is required" : "is not allowed here", MAX_SHOWN) &&
			ta_out_raw(&out, "}]"));
	rewrite(edata, req, "validation_failed", "the payload is invalid",
			out.full ? NULL : problems, "details lists every field with a problem");
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

/*
 * Map the error by what the request was; false if it is left as it is.
 * Authentication comes first: an anonymous caller gets 401 where a
 * signed-in one would get 405 (anonymous callers may write nothing).
 */
static bool
map_by_request(ErrorData *edata, Request *req)
{
	int			code = edata->sqlerrcode;

	if (strcmp(req->method, "PUT") == 0 || code == ERRCODE_INVALID_COLUMN_REFERENCE ||
		is_write_on_plain_view(edata))
	{
		if (req->anonymous)
			map_privilege(edata, req);
		else
			method_not_allowed(edata, req, allow_for(req->path),
							   "this resource does not support this method");
	}
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
	char		details[DETAILS_CAP];

	if (code == ERRCODE_UNDEFINED_COLUMN)
		map_unknown_column(edata, req);
	else if (code == ERRCODE_UNDEFINED_TABLE)
		rewrite(edata, req, "not_found", "there is no such resource",
				object_details(details, "path", req->path, NULL, NULL),
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
	req.anonymous = strcmp(setting("role"), TA_ANON_ROLE) == 0;
	keep_headers(&req);
	if (!map_by_request(edata, &req))
		map_by_error(edata, &req);
}
