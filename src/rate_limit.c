/*
 * rate_limit.c
 *		Per-caller rate limiting with GCRA in shared memory (docs/contract.md §7).
 *
 * Every PostgREST request passes through task_api.pre_request(), which calls
 * ta_rate_limit_request() first.  The request is charged to:
 *
 *	- signup and login (by path, whatever credential they carry): the login
 *	  bucket of the client address when task_api.trust_forwarded_for is on,
 *	  else the one shared login bucket; never a user's, a key's or the
 *	  anonymous bucket (api.login also checks that its request was charged
 *	  to a login bucket, see ta_rate_limit_login());
 *	- its API key (key_id claim) AND the key's owner's user bucket when
 *	  PostgREST verified a bearer token that carries one (refused if either
 *	  is empty: keys cannot multiply a user's quota), else its user (sub);
 *	- the user of a session cookie whose signature and expiry verify (the
 *	  cookie path of pre_request() checks revocation and CSRF afterwards);
 *	- otherwise, when task_api.trust_forwarded_for is on, the client address
 *	  in the first hop of X-Forwarded-For (IPv6 by its /64 prefix);
 *	- otherwise one anonymous bucket shared by every such caller.
 *
 * Claims that are not UUIDs (the request is refused right after) count as
 * anonymous.  An authenticated request then takes one of its user's
 * in-flight slots (inflight.c).
 *
 * The algorithm is GCRA, the generic cell rate algorithm: a token bucket
 * described by a single timestamp, the theoretical arrival time (TAT) of
 * the next request if requests came exactly at the allowed rate.  With an
 * emission interval T = 60 s / limit and room for `burst` requests at once,
 * a request at time now is admitted when max(TAT, now) + T <= now + burst*T,
 * and then TAT becomes max(TAT, now) + T.  A bucket whose TAT is in the past
 * is full: it holds no information, so it is "idle" and may be evicted.
 *
 * Buckets live in a fixed-size shared hash table (task_api.rate_limit_buckets
 * entries), the pg_stat_statements way: lookups take the tranche's LWLock in
 * shared mode and update one bucket under its own spinlock; adding a bucket
 * takes the LWLock exclusively.  When the table is full, the least recently
 * used idle buckets are evicted in a batch.  If no bucket is idle (more
 * callers active within their windows than the table holds), the newcomer is
 * charged to its kind's shared overflow bucket, so limiting degrades to one
 * bucket per kind rather than switching off, and the server log says so.
 * Nothing is written to a table and no WAL is made: it works in PostgREST's
 * read-only transactions and on hot standbys.  Times come from the
 * monotonic clock, so a wall-clock step cannot refill or drain buckets.
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

#include "constants.h"
#include "errors.h"
#include "metrics.h"
#include "guc.h"
#include "http.h"
#include "inflight.h"
#include "jwt.h"
#include "rate_limit.h"
#include "rate_limit_core.h"
#include "rate_limit_internal.h"
#include "request.h"
#include "task_api.h"

const char *const rl_policy_names[NUM_POLICIES] = {"anon", "user", "api_key", "login"};

RlShared   *rl_state = NULL;
/* The transaction (MyProc->lxid) whose request was charged to a login bucket. */
static LocalTransactionId login_charged_lxid = InvalidLocalTransactionId;
/* Its login bucket, and whether one request is still charged to it there. */
static RlKey login_charged_key;
static bool login_refundable = false;
HTAB	   *rl_hash = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* The monotonic clock in ns; buckets are meaningful only within one boot. */
int64
ta_clock_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		elog(ERROR, "clock_gettime failed: %m");
	return (int64) ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

/*
 * This server's share of a limit shared by task_api.rate_limit_nodes
 * servers: limit / nodes, at least 1 (0 stays unlimited).
 */
static int32
node_share(int32 limit)
{
	return limit > 0 ? Max(limit / ta_rate_limit_nodes, 1) : 0;
}

/* The per-minute limit of a policy on this server. */
int32
rl_policy_limit(RlPolicy policy)
{
	return node_share(ta_rate_limit[policy]);
}

/* The effective burst of a policy: its setting, or the per-minute limit (this server's share). */
int32
rl_policy_burst(RlPolicy policy)
{
	return ta_rate_limit_burst[policy] > 0 ? node_share(ta_rate_limit_burst[policy]) : rl_policy_limit(policy);
}

/* Shared memory for the state and a full table of ta_rate_limit_buckets entries. */
static Size
rl_memsize(void)
{
	return add_size(MAXALIGN(sizeof(RlShared)),
					hash_estimate_size(ta_rate_limit_buckets, sizeof(RlEntry)));
}

/* Ask for our shared memory and lock before the postmaster sizes it. */
static void
rl_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(rl_memsize());
	RequestNamedLWLockTranche(TRANCHE_NAME, 1);
}

/* Create (or, in a child process, attach to) the shared state and table. */
static void
rl_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	rl_state = NULL;
	rl_hash = NULL;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	rl_state = ShmemInitStruct("task_api rate limit", sizeof(RlShared), &found);
	if (!found)
	{
		rl_state->lock = &(GetNamedLWLockTranche(TRANCHE_NAME))->lock;
		rl_state->capacity = ta_rate_limit_buckets;
		SpinLockInit(&rl_state->stats_mutex);
		rl_state->earliest_idle = 0;
		rl_state->scan_not_before = 0;
		rl_state->eviction_scans = 0;
		rl_state->evictions = 0;
		rl_state->overflows = 0;
		rl_state->last_overflow_warning = 0;
		for (int i = 0; i < NUM_POLICIES; i++)
		{
			SpinLockInit(&rl_state->overflow[i].mutex);
			rl_state->overflow[i].tat = 0;
			rl_state->overflow[i].last = 0;
		}
	}
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(RlKey);
	info.entrysize = sizeof(RlEntry);
	rl_hash = ShmemInitHash("task_api rate limit buckets", ta_rate_limit_buckets, ta_rate_limit_buckets,
							&info, HASH_ELEM | HASH_BLOBS);
	LWLockRelease(AddinShmemInitLock);
}

/* When preloading, ask for the shared table (the settings are in guc.c). */
void
ta_rate_limit_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = rl_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = rl_shmem_startup;
}

/* Is the shared table there (the library was preloaded)? */
bool
rl_active(void)
{
	return rl_state != NULL && rl_hash != NULL;
}

/* A UUID claim into a key identifier; false if absent or not a UUID. */
static bool
uuid_key(const char *text, RlKey *key, RlKind kind)
{
	pg_uuid_t	uuid;

	if (text == NULL || !ta_parse_uuid(text, &uuid))
		return false;
	key->kind = kind;
	memcpy(key->id, uuid.data, 16);
	return true;
}

/* The user of a session cookie whose signature and expiry verify. */
static bool
cookie_user_key(RlKey *key)
{
	const char *cookie = ta_request_cookie(TA_SESSION_COOKIE);
	const ta_jwt_claims *claims;
	const ta_json_member *role;
	const ta_json_member *sub;
	bool		ok = false;

	/* request_bucket() took signup and login, which ignore the cookie, first. */
	if (cookie == NULL || cookie[0] == '\0')
		return false;

	/* Verified once for the request: pre_request() reuses the answer. */
	if (ta_jwt_verify_cookie(cookie, &claims) == TA_JWT_OK)
	{
		role = ta_jwt_claim(claims, "role");
		sub = ta_jwt_claim(claims, "sub");
		ok = role != NULL && role->is_string && strcmp(role->value, TA_USER_ROLE) == 0 &&
			sub != NULL && sub->is_string && ta_jwt_claim(claims, "key_id") == NULL &&
			uuid_key(sub->value, key, RL_USER);
	}
	return ok;
}

/*
 * The trusted client address (task_api.trust_forwarded_for) as a bucket of
 * kind address_kind, else the kind's shared bucket shared_kind.
 */
static void
client_bucket(RlKey *key, RlKind address_kind, RlKind shared_kind)
{
	memset(key, 0, sizeof(RlKey));
	if (ta_trust_forwarded_for)
	{
		const char *xff = ta_request_header("x-forwarded-for");

		if (xff != NULL && ta_parse_client_address(xff, strcspn(xff, ","), key->id))
		{
			key->kind = address_kind;
			return;
		}
		memset(key, 0, sizeof(RlKey));
	}
	key->kind = shared_kind;
}

/*
 * A role of the operators' services (the Prometheus scraper's
 * task_api_metrics): a token's role that is neither anonymous nor a user.
 */
static bool
service_role(const char *role)
{
	return role != NULL && strcmp(role, TA_ANON_ROLE) != 0 && strcmp(role, TA_USER_ROLE) != 0;
}

/*
 * Which bucket the current request is charged to, and its policy; *user is
 * the authenticated user (kind RL_USER: a bearer token's or cookie's user,
 * an API key's owner), else zeroed.
 */
static RlPolicy
request_bucket(RlKey *key, RlKey *user)
{
	const char *role = ta_request_claim("role");

	memset(key, 0, sizeof(RlKey));
	memset(user, 0, sizeof(RlKey));
	if (ta_request_is_login_path())
	{
		client_bucket(key, RL_LOGIN_ADDRESS, RL_LOGIN);
		ta_metric_add(TA_METRIC_REQUESTS_ANONYMOUS, 1);
		return POLICY_LOGIN;
	}
	if (role != NULL && strcmp(role, TA_USER_ROLE) == 0)
	{
		/* A bearer token PostgREST verified: its claims are authentic. */
		const char *key_id = ta_request_claim("key_id");

		if (uuid_key(ta_request_claim("sub"), user, RL_USER))
		{
			if (key_id == NULL)
			{
				*key = *user;
				ta_metric_add(TA_METRIC_REQUESTS_SESSION, 1);
				return POLICY_USER;
			}
			if (uuid_key(key_id, key, RL_API_KEY))
			{
				ta_metric_add(TA_METRIC_REQUESTS_API_KEY, 1);
				return POLICY_API_KEY;
			}
		}
	}
	else if (cookie_user_key(key))
	{
		*user = *key;
		ta_metric_add(TA_METRIC_REQUESTS_COOKIE, 1);
		return POLICY_USER;
	}

	memset(user, 0, sizeof(RlKey));
	client_bucket(key, RL_ADDRESS, RL_ANON);
	ta_metric_add(service_role(role) ? TA_METRIC_REQUESTS_SERVICE : TA_METRIC_REQUESTS_ANONYMOUS, 1);
	return POLICY_ANON;
}

/* qsort comparator: least recently used first. */
static int
compare_last_used(const void *a, const void *b)
{
	int64		x = (*(RlEntry *const *) a)->last_used;
	int64		y = (*(RlEntry *const *) b)->last_used;

	return (x > y) - (x < y);
}

/*
 * Make room in a full table: remove the least recently used idle buckets,
 * up to a tenth of the table, so that the scan is paid once per many
 * newcomers.  Caller holds the lock exclusively, so no bucket is in use.
 * A scan that leaves no idle bucket behind records when one can next be
 * idle, and no scan runs before then (nor within EVICT_SCAN_PAUSE): while
 * the table is full of active buckets, newcomers go to the overflow bucket
 * without each paying a scan of the whole table under the exclusive lock.
 */
static void
evict_idle(int64 now)
{
	HASH_SEQ_STATUS seq;
	RlEntry    *entry;
	RlEntry   **idle;
	long		n = 0;
	long		batch = Max(rl_state->capacity / 10, 1);
	int64		earliest = PG_INT64_MAX;

	if (now < rl_state->earliest_idle || now < rl_state->scan_not_before)
		return;

	idle = palloc(sizeof(RlEntry *) * hash_get_num_entries(rl_hash));
	hash_seq_init(&seq, rl_hash);
	while ((entry = hash_seq_search(&seq)) != NULL)
	{
		if (entry->tat <= now)
			idle[n++] = entry;
		else if (entry->tat < earliest)
			earliest = entry->tat;
	}
	if (n > batch)
	{
		qsort(idle, n, sizeof(RlEntry *), compare_last_used);
		/* Idle buckets remain for the next newcomers. */
		rl_state->earliest_idle = 0;
		rl_state->scan_not_before = 0;
	}
	else
	{
		batch = n;
		rl_state->earliest_idle = earliest;
		rl_state->scan_not_before = now + EVICT_SCAN_PAUSE;
	}
	for (long i = 0; i < batch; i++)
		(void) hash_search(rl_hash, &idle[i]->key, HASH_REMOVE, NULL);
	pfree(idle);

	SpinLockAcquire(&rl_state->stats_mutex);
	rl_state->eviction_scans++;
	rl_state->evictions += batch;
	SpinLockRelease(&rl_state->stats_mutex);
	ta_metric_add(TA_METRIC_RL_EVICTIONS, (uint64) batch);
}

/* One GCRA step on a bucket, under its spinlock (pure arithmetic). */
static void
step(slock_t *mutex, int64 *tat, int64 *last, int64 now,
	 int32 per_minute, int32 burst, TaGcraResult *res)
{
	SpinLockAcquire(mutex);
	ta_gcra_charge(tat, last, now, per_minute, burst, res);
	SpinLockRelease(mutex);
}

/* Charge one request to the bucket `key`; the result says if it fits. */
void
rl_charge_bucket(const RlKey *key, RlPolicy policy, int64 now, TaGcraResult *res)
{
	int32		per_minute = rl_policy_limit(policy);
	int32		burst = rl_policy_burst(policy);
	uint32		hash = get_hash_value(rl_hash, key);
	RlEntry    *entry;
	bool		found;
	bool		inserted = false;
	bool		warn = false;

	LWLockAcquire(rl_state->lock, LW_SHARED);
	entry = hash_search_with_hash_value(rl_hash, key, hash, HASH_FIND, NULL);
	if (entry == NULL)
	{
		LWLockRelease(rl_state->lock);
		LWLockAcquire(rl_state->lock, LW_EXCLUSIVE);
		entry = hash_search_with_hash_value(rl_hash, key, hash, HASH_FIND, NULL);
		if (entry == NULL)
		{
			if (hash_get_num_entries(rl_hash) >= rl_state->capacity)
				evict_idle(now);
			if (hash_get_num_entries(rl_hash) < rl_state->capacity)
			{
				entry = hash_search_with_hash_value(rl_hash, key, hash, HASH_ENTER_NULL, &found);
				if (entry != NULL && !found)
				{
					SpinLockInit(&entry->mutex);
					entry->tat = 0;
					entry->last_used = 0;
					inserted = true;
				}
			}
		}
	}

	if (entry != NULL)
	{
		step(&entry->mutex, &entry->tat, &entry->last_used, now, per_minute, burst, res);
		/* Still under the exclusive lock: the newcomer may be idle first. */
		if (inserted && res->new_tat < rl_state->earliest_idle)
			rl_state->earliest_idle = res->new_tat;
	}
	else
	{
		RlBucket   *overflow = &rl_state->overflow[policy];

		step(&overflow->mutex, &overflow->tat, &overflow->last, now, per_minute, burst, res);
		SpinLockAcquire(&rl_state->stats_mutex);
		rl_state->overflows++;
		if (now - rl_state->last_overflow_warning >= OVERFLOW_WARNING_INTERVAL ||
			rl_state->last_overflow_warning == 0)
		{
			rl_state->last_overflow_warning = now;
			warn = true;
		}
		SpinLockRelease(&rl_state->stats_mutex);
	}
	LWLockRelease(rl_state->lock);

	if (warn)
		ereport(WARNING,
				(errmsg("task_api rate limit table is full of active buckets"),
				 errdetail("New callers share one overflow bucket per kind until buckets become idle."),
				 errhint("Raise task_api.rate_limit_buckets (needs a restart).")));
}

/*
 * A value format_value() wrote, as a JSON string.  Such a value holds only
 * the policy's name in quotes, letters, digits, ';' and '=', so a quote is
 * all there is to escape; escape_json() goes a character at a time.
 */
static void
append_json_value(StringInfo buf, const char *v)
{
	size_t		n = strlen(v);
	char	   *o;

	enlargeStringInfo(buf, (int) (2 * n + 2));
	o = buf->data + buf->len;
	*o++ = '"';
	for (; *v != '\0'; v++)
	{
		Assert((unsigned char) *v >= 0x20);
		if (*v == '"' || *v == '\\')
			*o++ = '\\';
		*o++ = *v;
	}
	*o++ = '"';
	*o = '\0';
	buf->len = (int) (o - buf->data);
}

/*
 * Add the two RateLimit headers to response.headers, in one setting
 * written without reading the array (the headers were half the cost of a
 * request's limiting otherwise): pre_request() runs first in a request, so
 * the array is empty or holds only the request id's header, and the two
 * are spliced in before its closing bracket.  Anything else goes through
 * ta_append_header(), which reads and checks what is there.
 */
static void
append_headers(const char *policy_value, const char *state_value)
{
	const char *raw = ta_response_headers();
	size_t		len = raw != NULL ? strlen(raw) : 0;
	StringInfoData buf;

	initStringInfo(&buf);
	if (len > 4 && raw[0] == '[' && raw[1] == '{' && raw[len - 2] == '}' && raw[len - 1] == ']')
	{
		/*
		 * The request id's header (trace.c) is there already: the two
		 * appended to the array as it stands, in one setting, rather than
		 * the array read and written back once per header.
		 */
		appendBinaryStringInfo(&buf, raw, (int) len - 1);
		appendStringInfoString(&buf, ", {\"RateLimit-Policy\": ");
	}
	else if (raw != NULL && raw[0] != '\0' && strcmp(raw, "[]") != 0)
	{
		pfree(buf.data);
		ta_append_header("RateLimit-Policy", policy_value);
		ta_append_header("RateLimit", state_value);
		return;
	}
	else
		appendStringInfoString(&buf, "[{\"RateLimit-Policy\": ");
	append_json_value(&buf, policy_value);
	appendStringInfoString(&buf, "}, {\"RateLimit\": ");
	append_json_value(&buf, state_value);
	appendStringInfoString(&buf, "}]");
	ta_write_response_headers(buf.data);
	pfree(buf.data);
}

/*
 * Give back one request charged to a bucket (the other bucket of an API
 * key's request refused it): its TAT moves back by one interval.
 */
static void
refund_bucket(const RlKey *key, RlPolicy policy)
{
	int64		interval = ta_gcra_interval(rl_policy_limit(policy));
	RlEntry    *entry;
	slock_t    *mutex;
	int64	   *tat;

	LWLockAcquire(rl_state->lock, LW_SHARED);
	entry = hash_search(rl_hash, key, HASH_FIND, NULL);
	mutex = entry != NULL ? &entry->mutex : &rl_state->overflow[policy].mutex;
	tat = entry != NULL ? &entry->tat : &rl_state->overflow[policy].tat;
	SpinLockAcquire(mutex);
	*tat = Max(*tat - interval, 0);
	SpinLockRelease(mutex);
	LWLockRelease(rl_state->lock);
}

/*
 * "name";a=N;b=M into out (at least 64 bytes): the two RateLimit values,
 * written without snprintf(), which was half the cost of the headers.
 */
static void
format_value(char *out, const char *name, char a, int64 n, char b, int64 m)
{
	char	   *o = out;
	size_t		len = strlen(name);

	*o++ = '"';
	memcpy(o, name, len);
	o += len;
	*o++ = '"';
	*o++ = ';';
	*o++ = a;
	*o++ = '=';
	o += pg_lltoa(n, o);
	*o++ = ';';
	*o++ = b;
	*o++ = '=';
	o += pg_lltoa(m, o);
	*o = '\0';
}

/* The RateLimit headers of a charge, and 429 if it was refused. */
static void
report_charge(RlPolicy policy, const TaGcraResult *res)
{
	char		policy_value[128];
	char		value[128];
	const char *name = rl_policy_names[policy];

	format_value(policy_value, name, 'q', rl_policy_limit(policy), 'w', WINDOW_SECONDS);
	format_value(value, name, 'r', res->remaining, 't', ta_ceil_seconds(res->reset_ns));
	append_headers(policy_value, value);

	if (!res->allowed)
	{
		TaHeader	retry;
		char		seconds[32];
		char	   *detail;

		snprintf(seconds, sizeof(seconds), INT64_FORMAT,
				 Max(ta_ceil_seconds(res->retry_after_ns), 1));
		retry.name = "Retry-After";
		retry.value = seconds;
		ta_metric_add(TA_METRIC_RL_REFUSED_ANON + policy, 1);
		detail = psprintf("The %s limit is %d requests a minute, %d at once.",
						  name, rl_policy_limit(policy), rl_policy_burst(policy));
		ta_raise("rate_limited", "too many requests", detail,
				 psprintf("retry after %s second%s", seconds, strcmp(seconds, "1") == 0 ? "" : "s"),
				 &retry, 1);
	}
}

/*
 * Charge the request's bucket and, for an API key, its owner's user bucket
 * too: refused if either is empty (a refusal by the user bucket gives the
 * key's charge back).  The headers describe the bucket that refused, else
 * the one with fewer requests left.
 */
static void
charge_request(const RlKey *key, RlPolicy policy, const RlKey *user)
{
	TaGcraResult res;
	TaGcraResult user_res;
	RlPolicy	shown = policy;
	bool		charged = false;
	int64		now = ta_clock_ns();

	if (rl_policy_limit(policy) > 0)
	{
		rl_charge_bucket(key, policy, now, &res);
		charged = true;
	}
	if (policy == POLICY_API_KEY && rl_policy_limit(POLICY_USER) > 0 && (!charged || res.allowed))
	{
		rl_charge_bucket(user, POLICY_USER, now, &user_res);
		if (charged && !user_res.allowed)
			refund_bucket(key, policy);
		if (!charged || !user_res.allowed || user_res.remaining < res.remaining)
		{
			res = user_res;
			shown = POLICY_USER;
			charged = true;
		}
	}
	if (charged)
		report_charge(shown, &res);
}

/* The request was admitted by its login bucket: it may be given back. */
static void
remember_login_charge(const RlKey *key)
{
	login_charged_key = *key;
	login_refundable = ta_rate_limit[POLICY_LOGIN] > 0;
}

void
ta_rate_limit_request(void)
{
	RlKey		key;
	RlKey		user;
	RlPolicy	policy;

	if (!rl_active())
		return;
	policy = request_bucket(&key, &user);
	/* The scraper must see an anonymous flood, not share its bucket. */
	if (policy == POLICY_ANON && service_role(ta_request_claim("role")))
		return;
	if (policy == POLICY_LOGIN)
	{
		login_charged_lxid = MyProc->lxid;
		login_refundable = false;
	}
	charge_request(&key, policy, &user);
	if (policy == POLICY_LOGIN)
		remember_login_charge(&key);
	if (user.kind == RL_USER)
		ta_inflight_take(user.id);
}

void
ta_rate_limit_login(void)
{
	RlKey		key;

	if (!rl_active() || login_charged_lxid == MyProc->lxid)
		return;
	/* Reached by a path pre_request() did not take for a login. */
	login_charged_lxid = MyProc->lxid;
	login_refundable = false;
	client_bucket(&key, RL_LOGIN_ADDRESS, RL_LOGIN);
	charge_request(&key, POLICY_LOGIN, NULL);
	remember_login_charge(&key);
}

void
ta_rate_limit_login_refund(void)
{
	if (!rl_active() || login_charged_lxid != MyProc->lxid || !login_refundable ||
		ta_rate_limit[POLICY_LOGIN] <= 0)
		return;
	login_refundable = false;
	refund_bucket(&login_charged_key, POLICY_LOGIN);
}

void
ta_rate_limit_describe(StringInfo buf)
{
	long		in_use;
	int64		evictions;
	int64		overflows;
	int64		scans;

	if (!rl_active())
	{
		appendStringInfoString(buf, "\"rate_limit\": \"off (not preloaded)\"");
		return;
	}
	LWLockAcquire(rl_state->lock, LW_SHARED);
	in_use = hash_get_num_entries(rl_hash);
	LWLockRelease(rl_state->lock);
	SpinLockAcquire(&rl_state->stats_mutex);
	evictions = rl_state->evictions;
	overflows = rl_state->overflows;
	scans = rl_state->eviction_scans;
	SpinLockRelease(&rl_state->stats_mutex);

	appendStringInfoString(buf, "\"rate_limit\": \"on\", \"rate_limit_buckets\": {");
	appendStringInfo(buf, "\"in_use\": %ld, \"capacity\": %d, \"shared_memory_bytes\": %zu, "
					 "\"eviction_scans\": " INT64_FORMAT ", \"evictions\": " INT64_FORMAT
					 ", \"overflows\": " INT64_FORMAT "}",
					 in_use, rl_state->capacity, rl_memsize(), scans, evictions, overflows);
}
