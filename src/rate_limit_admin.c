/*
 * rate_limit_admin.c
 *		The operators' view of the rate limiter (docs/contract.md §7):
 *		task_api.rate_limit_status(), rate_limit_reset(), rate_limit_charge()
 *		and the pure GCRA step rate_limit_gcra() for tests.  The buckets
 *		themselves are in rate_limit.c.
 */
#include "postgres.h"

#include <time.h>

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "rate_limit.h"
#include "rate_limit_internal.h"
#include "request.h"
#include "task_api.h"

/* Refuse SQL entry points when there is no shared memory. */
static void
require_shared_memory(void)
{
	if (!rl_active())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("task_api rate limiting is off"),
				 errdetail("task_api must be loaded via shared_preload_libraries.")));
}

/*
 * Parse the (kind, key) of the operator functions into a bucket key; with
 * whole, only the kind is wanted (key->kind is then the kind's first one).
 */
static RlPolicy
parse_bucket(const char *kind, const char *id, bool whole, RlKey *key)
{
	pg_uuid_t	uuid;

	memset(key, 0, sizeof(RlKey));
	if (strcmp(kind, "anon") == 0 || strcmp(kind, "login") == 0)
	{
		bool		anon = kind[0] == 'a';

		if (id == NULL || whole)
		{
			key->kind = anon ? RL_ANON : RL_LOGIN;
			return anon ? POLICY_ANON : POLICY_LOGIN;
		}
		if (!ta_parse_client_address(id, strlen(id), key->id))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid client address \"%s\"", id),
					 errhint("Give an IPv4 or IPv6 address, or NULL for the shared %s bucket.",
							 anon ? "anonymous" : "login")));
		key->kind = anon ? RL_ADDRESS : RL_LOGIN_ADDRESS;
		return anon ? POLICY_ANON : POLICY_LOGIN;
	}
	if (strcmp(kind, "user") == 0 || strcmp(kind, "api_key") == 0)
	{
		if (whole)
		{
			key->kind = kind[0] == 'u' ? RL_USER : RL_API_KEY;
			return kind[0] == 'u' ? POLICY_USER : POLICY_API_KEY;
		}
		if (id == NULL || !ta_parse_uuid(id, &uuid))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a %s bucket is named by a UUID", kind),
					 errdetail("Got %s.", id == NULL ? "NULL" : quote_literal_cstr(id))));
		key->kind = kind[0] == 'u' ? RL_USER : RL_API_KEY;
		memcpy(key->id, uuid.data, 16);
		return kind[0] == 'u' ? POLICY_USER : POLICY_API_KEY;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown rate-limit kind \"%s\"", kind),
			 errhint("The kinds are anon, user, api_key and login.")));
	pg_unreachable();
}

/*
 * The (kind text, key text) arguments of rate_limit_status() and
 * rate_limit_charge(): one bucket, in a server that has the table.
 */
static RlPolicy
bucket_args(FunctionCallInfo fcinfo, RlKey *key)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("kind must not be NULL")));
	require_shared_memory();
	return parse_bucket(text_to_cstring(PG_GETARG_TEXT_PP(0)),
						PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1)),
						false, key);
}

PG_FUNCTION_INFO_V1(task_api_rate_limit_status);

/*
 * Operators' view of one bucket without charging it: the policy, what
 * remains now and when it is full again; a bucket never charged (or
 * evicted) is full.
 */
Datum
task_api_rate_limit_status(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	RlKey		key;
	RlPolicy	policy;
	RlEntry    *entry;
	int64		tat = 0;
	int64		now;
	bool		tracked = false;
	Datum		values[7];
	bool		nulls[7] = {false, false, false, false, false, false, false};

	policy = bucket_args(fcinfo, &key);
	desc = ta_result_desc(fcinfo);

	now = ta_clock_ns();
	LWLockAcquire(rl_state->lock, LW_SHARED);
	entry = hash_search(rl_hash, &key, HASH_FIND, NULL);
	if (entry != NULL)
	{
		SpinLockAcquire(&entry->mutex);
		tat = entry->tat;
		SpinLockRelease(&entry->mutex);
		tracked = true;
	}
	LWLockRelease(rl_state->lock);

	values[0] = CStringGetTextDatum(rl_policy_names[policy]);
	values[1] = Int32GetDatum(rl_policy_limit(policy));
	values[2] = Int32GetDatum(WINDOW_SECONDS);
	values[3] = Int32GetDatum(rl_policy_limit(policy) > 0 ? rl_policy_burst(policy) : 0);
	if (rl_policy_limit(policy) == 0)
	{
		nulls[4] = true;		/* unlimited */
		values[5] = Int64GetDatum(0);
	}
	else
	{
		int64		interval = ta_gcra_interval(rl_policy_limit(policy));
		int64		tolerance = interval * rl_policy_burst(policy);

		/*
		 * As the next charge sees it: after a reload lowered the burst (or
		 * raised the limit), a bucket is at most empty under the new one.
		 */
		int64		effective = Min(Max(tat, now), now + tolerance);
		int64		remaining = (now + tolerance - effective) / interval;

		values[4] = Int64GetDatum(Max(remaining, 0));
		values[5] = Int64GetDatum(ta_ceil_seconds(effective - now));
	}
	values[6] = BoolGetDatum(tracked);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

PG_FUNCTION_INFO_V1(task_api_rate_limit_reset);

/*
 * Forget buckets (superuser only): all of them, every bucket of a kind, or
 * one bucket; a forgotten bucket is full.  Returns how many were removed.
 */
Datum
task_api_rate_limit_reset(PG_FUNCTION_ARGS)
{
	RlKey		key;
	RlPolicy	policy = POLICY_ANON;
	bool		all = PG_ARGISNULL(0);
	bool		whole_kind = !all && PG_ARGISNULL(1);
	uint32		kinds[2] = {0, 0};
	int64		removed = 0;

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only a superuser may reset rate-limit buckets")));
	require_shared_memory();
	if (!all)
	{
		char	   *kind = text_to_cstring(PG_GETARG_TEXT_PP(0));

		policy = parse_bucket(kind, whole_kind ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1)),
							  whole_kind, &key);
		/* The anonymous and login kinds are a shared bucket and every address. */
		kinds[0] = key.kind;
		kinds[1] = policy == POLICY_ANON ? RL_ADDRESS :
			policy == POLICY_LOGIN ? RL_LOGIN_ADDRESS : key.kind;
	}

	LWLockAcquire(rl_state->lock, LW_EXCLUSIVE);
	if (all || whole_kind)
	{
		HASH_SEQ_STATUS seq;
		RlEntry    *entry;

		hash_seq_init(&seq, rl_hash);
		while ((entry = hash_seq_search(&seq)) != NULL)
			if (all || entry->key.kind == kinds[0] || entry->key.kind == kinds[1])
			{
				(void) hash_search(rl_hash, &entry->key, HASH_REMOVE, NULL);
				removed++;
			}
		for (int i = 0; i < NUM_POLICIES; i++)
			if (all || i == (int) policy)
			{
				rl_state->overflow[i].tat = 0;
				rl_state->overflow[i].last = 0;
			}
	}
	else if (hash_search(rl_hash, &key, HASH_REMOVE, NULL) != NULL)
		removed = 1;
	/* What the last eviction scan learnt no longer holds. */
	rl_state->earliest_idle = 0;
	rl_state->scan_not_before = 0;
	LWLockRelease(rl_state->lock);

	PG_RETURN_INT64(removed);
}

PG_FUNCTION_INFO_V1(task_api_rate_limit_charge);

/*
 * Charge one request to a bucket named by the operator, exactly as
 * pre_request() charges a request (superuser only: it can drain anyone's
 * bucket).  For operators and benchmarks; raises nothing when refused.
 */
Datum
task_api_rate_limit_charge(PG_FUNCTION_ARGS)
{
	RlKey		key;
	RlPolicy	policy;
	TaGcraResult res;
	TupleDesc	desc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only a superuser may charge rate-limit buckets")));
	policy = bucket_args(fcinfo, &key);
	desc = ta_result_desc(fcinfo);

	if (rl_policy_limit(policy) == 0)
	{
		values[0] = BoolGetDatum(true);
		nulls[1] = nulls[2] = nulls[3] = true;
	}
	else
	{
		rl_charge_bucket(&key, policy, ta_clock_ns(), &res);
		values[0] = BoolGetDatum(res.allowed);
		values[1] = Int64GetDatum(res.remaining);
		values[2] = Int64GetDatum(ta_ceil_seconds(res.reset_ns));
		values[3] = Int64GetDatum(res.allowed ? 0 : Max(ta_ceil_seconds(res.retry_after_ns), 1));
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

PG_FUNCTION_INFO_V1(task_api_rate_limit_gcra);

/*
 * The GCRA step itself with the clock passed in, for tests: it touches no
 * bucket, so it cannot let anyone past the limiter.
 */
Datum
task_api_rate_limit_gcra(PG_FUNCTION_ARGS)
{
	int64		tat = PG_GETARG_INT64(0);
	int64		now = PG_GETARG_INT64(1);
	int32		per_minute = PG_GETARG_INT32(2);
	int32		burst = PG_GETARG_INT32(3);
	TaGcraResult res;
	TupleDesc	desc;
	Datum		values[7];
	bool		nulls[7] = {false, false, false, false, false, false, false};

	if (tat < 0 || tat > MAX_TEST_TIME || now < 0 || now > MAX_TEST_TIME)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tat and now must be between 0 and " INT64_FORMAT " ns", MAX_TEST_TIME)));
	if (per_minute < 1 || per_minute > MAX_LIMIT || burst < 1 || burst > MAX_LIMIT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("per_minute and burst must be between 1 and %d", MAX_LIMIT)));
	desc = ta_result_desc(fcinfo);

	ta_gcra(tat, now, per_minute, burst, &res);
	values[0] = BoolGetDatum(res.allowed);
	values[1] = Int64GetDatum(res.new_tat);
	values[2] = Int64GetDatum(res.remaining);
	values[3] = Int64GetDatum(res.reset_ns);
	values[4] = Int64GetDatum(res.retry_after_ns);
	values[5] = Int64GetDatum(ta_ceil_seconds(res.reset_ns));
	values[6] = Int64GetDatum(res.allowed ? 0 : Max(ta_ceil_seconds(res.retry_after_ns), 1));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
