/*
 * quiet_log.c
 *		Expected refusals are counted, not logged.
 *
 * Every 401 and 429 the API raises on purpose (ta_raise() with a catalogue
 * code of that status: rate_limited, unauthenticated, invalid_credentials)
 * is an ERROR for PostgreSQL, so without this each would write an ERROR
 * line (and its STATEMENT) to the server log, and a flood of refused
 * requests would flood the log.  An emit_log_hook drops exactly those from
 * the server log (the client still gets its answer) and counts them in
 * shared memory; task_api.status() shows the counts.  Every other error
 * still logs, and task_api.log_expected_refusals = on logs these too.
 */
#include "postgres.h"

#include "guc.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/elog.h"
#include "utils/guc.h"

#include "errors.h"
#include "quiet_log.h"

#define CODE_PREFIX "{\"code\": \""
#define MAX_CODE_LEN 64

typedef struct QuietShared
{
	pg_atomic_uint64 unauthenticated;	/* 401s not logged */
	pg_atomic_uint64 rate_limited;	/* 429s not logged */
} QuietShared;

static QuietShared *quiet = NULL;

static emit_log_hook_type prev_emit_log_hook = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
quiet_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(QuietShared)));
}

static void
quiet_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	quiet = ShmemInitStruct("task_api quiet log", sizeof(QuietShared), &found);
	if (!found)
	{
		pg_atomic_init_u64(&quiet->unauthenticated, 0);
		pg_atomic_init_u64(&quiet->rate_limited, 0);
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * The HTTP status of an error ta_raise() made: its message is the JSON body
 * and starts with the catalogue code.  0 for any other error.
 */
static int
raised_status(const ErrorData *edata)
{
	char		code[MAX_CODE_LEN + 1];
	const char *start;
	size_t		len;

	if (edata->sqlerrcode != MAKE_SQLSTATE('P', 'G', 'R', 'S', 'T') || edata->message == NULL ||
		strncmp(edata->message, CODE_PREFIX, strlen(CODE_PREFIX)) != 0)
		return 0;
	start = edata->message + strlen(CODE_PREFIX);
	len = strcspn(start, "\"");
	if (len == 0 || len > MAX_CODE_LEN || start[len] != '"')
		return 0;
	memcpy(code, start, len);
	code[len] = '\0';
	return ta_error_status(code);
}

static void
quiet_emit_log(ErrorData *edata)
{
	if (edata->elevel == ERROR && edata->output_to_server && !ta_log_expected_refusals)
	{
		int			status = raised_status(edata);

		if (status == 401 || status == 429)
		{
			edata->output_to_server = false;
			if (quiet != NULL)
				pg_atomic_fetch_add_u64(status == 401 ? &quiet->unauthenticated : &quiet->rate_limited, 1);
		}
	}
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

void
ta_quiet_log_init(void)
{
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = quiet_emit_log;

	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = quiet_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = quiet_shmem_startup;
}

void
ta_quiet_log_describe(StringInfo buf)
{
	if (quiet == NULL)
	{
		appendStringInfoString(buf, "\"refusals_not_logged\": \"not counted (not preloaded)\"");
		return;
	}
	appendStringInfo(buf, "\"refusals_not_logged\": {\"401\": " UINT64_FORMAT ", \"429\": " UINT64_FORMAT "}",
					 pg_atomic_read_u64(&quiet->unauthenticated),
					 pg_atomic_read_u64(&quiet->rate_limited));
}
