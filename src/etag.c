/*
 * etag.c
 *		Optimistic concurrency on versioned rows: If-Match and ETag.
 *
 * A row's entity tag is its version: "<version>".  PATCH and DELETE with
 * If-Match proceed only if the header names the row's current version
 * (strong "N" or weak W/"N", a comma-separated list of them, or "*"), else
 * precondition_failed (412); a header that is not such a list is
 * invalid_parameter (400).  Write responses for exactly one row carry
 * ETag: "<version>"; the write triggers note each row, and a second row in
 * the same statement takes the header back.
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "errors.h"
#include "etag.h"
#include "request.h"

static void
malformed(void) pg_attribute_noreturn();

static void
malformed(void)
{
	ta_raise("invalid_parameter", "If-Match is malformed",
			 "If-Match must be \"<version>\", W/\"<version>\", a comma-separated list of them, or *.",
			 "send the ETag of the row you read", NULL, 0);
}

static const char *
skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

void
ta_check_if_match(int32 version)
{
	const char *header = ta_request_header("if-match");
	const char *p;
	bool		matched = false;
	bool		any = false;

	if (header == NULL)
		return;

	p = skip_ows(header);
	if (*p == '\0')
		malformed();
	for (;;)
	{
		if (*p == '*')
		{
			matched = true;
			p++;
		}
		else
		{
			int64		tag = 0;
			int			digits = 0;

			if (p[0] == 'W' && p[1] == '/')
				p += 2;
			if (*p != '"')
				malformed();
			p++;
			while (*p >= '0' && *p <= '9')
			{
				if (++digits > 10)
					malformed();
				tag = tag * 10 + (*p - '0');
				p++;
			}
			if (digits == 0 || *p != '"')
				malformed();
			/* Tags compare as strings: "07" is not "7". */
			if (tag == version && !(digits > 1 && p[-digits] == '0'))
				matched = true;
			p++;
		}
		any = true;
		p = skip_ows(p);
		if (*p == '\0')
			break;
		if (*p != ',')
			malformed();
		p = skip_ows(p + 1);
	}
	if (any && !matched)
		ta_raise("precondition_failed", "the row has changed since you read it",
				 psprintf("{\"current_version\": %d}", version),
				 "read it again and retry with its ETag", NULL, 0);
}

void
ta_note_etag(int32 version)
{
	static LocalTransactionId lxid = InvalidLocalTransactionId;
	static TimestampTz statement = 0;
	static int	rows = 0;
	char		tag[16];

	if (lxid != MyProc->lxid || statement != GetCurrentStatementStartTimestamp())
	{
		lxid = MyProc->lxid;
		statement = GetCurrentStatementStartTimestamp();
		rows = 0;
	}
	rows++;
	if (rows == 1)
	{
		snprintf(tag, sizeof(tag), "\"%d\"", version);
		ta_append_header("ETag", tag);
	}
	else if (rows == 2)
		ta_remove_header("ETag");
}

PG_FUNCTION_INFO_V1(task_api_check_if_match);

/* SQL entry point of ta_check_if_match(). */
Datum
task_api_check_if_match(PG_FUNCTION_ARGS)
{
	ta_check_if_match(PG_GETARG_INT32(0));
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(task_api_note_etag);

/* SQL entry point of ta_note_etag(). */
Datum
task_api_note_etag(PG_FUNCTION_ARGS)
{
	ta_note_etag(PG_GETARG_INT32(0));
	PG_RETURN_VOID();
}
