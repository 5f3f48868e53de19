/*
 * login_throttle.c
 *		Per-account backoff after failed logins, in shared memory.
 *
 * api.login calls task_api.login_throttle(email) before it verifies the
 * password, task_api.login_failed(email) when verification fails and
 * task_api.login_succeeded(email) when it succeeds.  After
 * task_api.login_max_failures failures in a row, each further failure
 * locks the account's logins for task_api.login_backoff, doubling with every
 * failure up to task_api.login_backoff_max; a login while locked answers
 * 429 rate_limited with Retry-After, without verifying the password.  A
 * success forgets the failures, and so does a quiet spell of
 * task_api.login_backoff_max after the last one.
 *
 * The state is keyed by HMAC-SHA-256 of the normalised email (trimmed of
 * spaces and lower-cased as api.login matches it) under a random key made
 * when shared memory is created, so the table names no address, and it
 * never looks at the users table: known and unknown emails are throttled
 * alike, with the same status, body and headers.
 *
 * login_throttle() also makes sure the request was charged to the login
 * bucket (rate_limit.c), whatever path reached the function.  A login
 * refused while its email backs off costs no password check, so it gives
 * that charge back: a flood against one account cannot empty a shared login
 * bucket and lock everyone else out; it gets only the few attempts the
 * backoff lets through.
 */
#include "postgres.h"

#include <time.h>

#include "catalog/pg_collation.h"
#include "fmgr.h"
#include "guc.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/formatting.h"
#include "utils/guc.h"
#include "utils/hsearch.h"

#include "errors.h"
#include "metrics.h"
#include "jwt.h"
#include "login_throttle.h"
#include "rate_limit.h"
#include "rate_limit_core.h"

#define TRANCHE_NAME "task_api_login_throttle"
#define SECRET_LEN 32
#define KEY_LEN 16
#define NS_PER_SEC TA_NS_PER_SEC
/* Doubling stops here; the cap (at most a day) is reached long before. */
#define MAX_DOUBLINGS 30

typedef struct LtKey
{
	uint8		id[KEY_LEN];
} LtKey;

typedef struct LtEntry
{
	LtKey		key;			/* hash key; must be first */
	int32		failures;		/* failed logins in a row */
	int64		last_failure;	/* ns, monotonic */
	int64		blocked_until;	/* ns, monotonic; 0 when not locked */
} LtEntry;

typedef struct LtShared
{
	LWLock	   *lock;
	int			capacity;
	uint8		secret[SECRET_LEN];
} LtShared;

static LtShared *lt_state = NULL;
static HTAB *lt_hash = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size
lt_memsize(void)
{
	return add_size(MAXALIGN(sizeof(LtShared)), hash_estimate_size(ta_login_throttle_entries, sizeof(LtEntry)));
}

static void
lt_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(lt_memsize());
	RequestNamedLWLockTranche(TRANCHE_NAME, 1);
}

/* The table, empty, and a new random key (also after a crash restart). */
static void
lt_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	lt_state = ShmemInitStruct("task_api login throttle", sizeof(LtShared), &found);
	if (!found)
	{
		lt_state->lock = &(GetNamedLWLockTranche(TRANCHE_NAME))->lock;
		lt_state->capacity = ta_login_throttle_entries;
		if (!pg_strong_random(lt_state->secret, SECRET_LEN))
			ereport(FATAL,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate the login throttle's key")));
	}
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(LtKey);
	info.entrysize = sizeof(LtEntry);
	lt_hash = ShmemInitHash("task_api login throttle entries", ta_login_throttle_entries, ta_login_throttle_entries,
							&info, HASH_ELEM | HASH_BLOBS);
	LWLockRelease(AddinShmemInitLock);
}

/* When preloading, ask for the shared table (the settings are in guc.c). */
void
ta_login_throttle_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = lt_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = lt_shmem_startup;
}

/* The key of an email: HMAC of its normalised form under the table's key. */
static void
email_key(text *email, LtKey *key)
{
	char	   *raw = email == NULL ? pstrdup("") : text_to_cstring(email);
	size_t		len = strlen(raw);
	size_t		start = strspn(raw, " ");
	char	   *lower;
	uint8		mac[32];

	while (len > start && raw[len - 1] == ' ')
		len--;
	lower = str_tolower(raw + start, len - start, DEFAULT_COLLATION_OID);
	if (!ta_pg_hmac_sha256(lt_state->secret, SECRET_LEN, (const uint8 *) lower, strlen(lower), mac))
		elog(ERROR, "could not compute HMAC-SHA-256");
	memset(key, 0, sizeof(LtKey));
	memcpy(key->id, mac, KEY_LEN);
	pfree(lower);
	pfree(raw);
}

/* Failures are forgotten after a quiet backoff_max past the last lock. */
static bool
stale(const LtEntry *e, int64 now)
{
	return e->blocked_until <= now &&
		now - Max(e->last_failure, e->blocked_until) >= (int64) ta_login_backoff_max * NS_PER_SEC;
}

/* How long the n-th failure locks the account (0: not yet). */
static int64
backoff_ns(int32 failures)
{
	int			doublings = failures - ta_login_max_failures;
	int64		ns = (int64) ta_login_backoff * NS_PER_SEC;
	int64		cap = (int64) ta_login_backoff_max * NS_PER_SEC;

	if (doublings < 0)
		return 0;
	for (int i = 0; i < Min(doublings, MAX_DOUBLINGS) && ns < cap; i++)
		ns *= 2;
	return Min(ns, cap);
}

static bool
lt_active(void)
{
	return lt_state != NULL && lt_hash != NULL && ta_login_max_failures > 0;
}

/* Refuse the login while the email is locked. */
static void
check_locked(const LtKey *key)
{
	LtEntry    *e;
	int64		now = ta_clock_ns();
	int64		wait = 0;

	LWLockAcquire(lt_state->lock, LW_SHARED);
	e = hash_search(lt_hash, key, HASH_FIND, NULL);
	if (e != NULL && e->blocked_until > now)
		wait = e->blocked_until - now;
	LWLockRelease(lt_state->lock);

	if (wait > 0)
	{
		char		seconds[32];
		TaHeader	retry = {"Retry-After", seconds};

		snprintf(seconds, sizeof(seconds), INT64_FORMAT, Max(ta_ceil_seconds(wait), 1));
		/* No hash is computed: the login bucket gets its charge back. */
		ta_rate_limit_login_refund();
		ta_metric_add(TA_METRIC_LOGIN_THROTTLED, 1);
		ta_raise("rate_limited", "too many failed sign-ins for this email",
				 "Sign-ins for this email back off after repeated failures.",
				 psprintf("retry after %s second%s", seconds, strcmp(seconds, "1") == 0 ? "" : "s"),
				 &retry, 1);
	}
}

/* Make room: forget stale entries, else the least recently failed tenth. */
static void
evict(int64 now)
{
	HASH_SEQ_STATUS seq;
	LtEntry    *e;
	LtEntry    *oldest = NULL;
	long		removed = 0;

	hash_seq_init(&seq, lt_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		if (stale(e, now))
		{
			(void) hash_search(lt_hash, &e->key, HASH_REMOVE, NULL);
			removed++;
		}
		else if (oldest == NULL || e->last_failure < oldest->last_failure)
			oldest = e;
	}
	if (removed == 0 && oldest != NULL)
		(void) hash_search(lt_hash, &oldest->key, HASH_REMOVE, NULL);
}

/* Count one failure for the email, and lock it when past the limit. */
static void
record_failure(const LtKey *key)
{
	LtEntry    *e;
	bool		found;
	int64		now = ta_clock_ns();

	LWLockAcquire(lt_state->lock, LW_EXCLUSIVE);
	e = hash_search(lt_hash, key, HASH_FIND, NULL);
	if (e == NULL && hash_get_num_entries(lt_hash) >= lt_state->capacity)
		evict(now);
	if (e == NULL)
	{
		e = hash_search(lt_hash, key, HASH_ENTER_NULL, &found);
		if (e != NULL)
		{
			e->failures = 0;
			e->last_failure = 0;
			e->blocked_until = 0;
		}
	}
	if (e != NULL)
	{
		if (stale(e, now))
			e->failures = 0;
		e->failures = Min(e->failures + 1, PG_INT32_MAX - 1);
		e->last_failure = now;
		if (backoff_ns(e->failures) > 0)
			e->blocked_until = now + backoff_ns(e->failures);
	}
	LWLockRelease(lt_state->lock);
}

static void
forget(const LtKey *key)
{
	LWLockAcquire(lt_state->lock, LW_EXCLUSIVE);
	(void) hash_search(lt_hash, key, HASH_REMOVE, NULL);
	LWLockRelease(lt_state->lock);
}

PG_FUNCTION_INFO_V1(task_api_login_throttle);

/* Before verifying a password: the login bucket, then the email's lock. */
Datum
task_api_login_throttle(PG_FUNCTION_ARGS)
{
	LtKey		key;

	ta_rate_limit_login();
	if (!lt_active())
		PG_RETURN_VOID();
	email_key(PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0), &key);
	check_locked(&key);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(task_api_login_failed);

Datum
task_api_login_failed(PG_FUNCTION_ARGS)
{
	LtKey		key;

	ta_metric_add(TA_METRIC_LOGIN_FAILED, 1);
	if (!lt_active())
		PG_RETURN_VOID();
	email_key(PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0), &key);
	record_failure(&key);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(task_api_login_succeeded);

Datum
task_api_login_succeeded(PG_FUNCTION_ARGS)
{
	LtKey		key;

	ta_metric_add(TA_METRIC_LOGIN_SUCCEEDED, 1);
	if (lt_state == NULL || lt_hash == NULL)
		PG_RETURN_VOID();
	email_key(PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0), &key);
	forget(&key);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(task_api_login_throttle_reset);

/* Superuser only: forget one email's failures, or every email's. */
Datum
task_api_login_throttle_reset(PG_FUNCTION_ARGS)
{
	int64		removed = 0;

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only a superuser may reset the login throttle")));
	if (lt_state == NULL || lt_hash == NULL)
		PG_RETURN_INT64(0);
	if (!PG_ARGISNULL(0))
	{
		LtKey		key;

		email_key(PG_GETARG_TEXT_PP(0), &key);
		LWLockAcquire(lt_state->lock, LW_EXCLUSIVE);
		removed = hash_search(lt_hash, &key, HASH_REMOVE, NULL) != NULL ? 1 : 0;
		LWLockRelease(lt_state->lock);
		PG_RETURN_INT64(removed);
	}
	LWLockAcquire(lt_state->lock, LW_EXCLUSIVE);
	{
		HASH_SEQ_STATUS seq;
		LtEntry    *e;

		hash_seq_init(&seq, lt_hash);
		while ((e = hash_seq_search(&seq)) != NULL)
		{
			(void) hash_search(lt_hash, &e->key, HASH_REMOVE, NULL);
			removed++;
		}
	}
	LWLockRelease(lt_state->lock);
	PG_RETURN_INT64(removed);
}

void
ta_login_throttle_describe(StringInfo buf)
{
	long		tracked;
	long		locked = 0;
	int64		now = ta_clock_ns();
	HASH_SEQ_STATUS seq;
	LtEntry    *e;

	if (lt_state == NULL || lt_hash == NULL)
	{
		appendStringInfoString(buf, "\"login_throttle\": \"off (not preloaded)\"");
		return;
	}
	LWLockAcquire(lt_state->lock, LW_SHARED);
	tracked = hash_get_num_entries(lt_hash);
	hash_seq_init(&seq, lt_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
		if (e->blocked_until > now)
			locked++;
	LWLockRelease(lt_state->lock);
	appendStringInfo(buf, "\"login_throttle\": {\"max_failures\": %d, \"tracked\": %ld, \"locked\": %ld, \"capacity\": %d}",
					 ta_login_max_failures, tracked, locked, lt_state->capacity);
}
