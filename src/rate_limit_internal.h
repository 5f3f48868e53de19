/*
 * rate_limit_internal.h
 *		What rate_limit.c (charging requests) shares with rate_limit_admin.c
 *		(the operators' SQL functions): the bucket table in shared memory.
 */
#ifndef TASK_API_RATE_LIMIT_INTERNAL_H
#define TASK_API_RATE_LIMIT_INTERNAL_H

#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/hsearch.h"

#include "guc.h"
#include "rate_limit_core.h"

#define NS_PER_SEC TA_NS_PER_SEC
#define WINDOW_NS TA_GCRA_WINDOW_NS
#define WINDOW_SECONDS 60
#define MAX_LIMIT TA_GCRA_MAX_LIMIT
StaticAssertDecl(TA_RL_MAX_LIMIT == TA_GCRA_MAX_LIMIT, "guc.h and rate_limit_core.h agree");
#define MAX_TEST_TIME TA_GCRA_MAX_TIME
#define TRANCHE_NAME "task_api_rate_limit"
#define OVERFLOW_WARNING_INTERVAL (60 * NS_PER_SEC)
/* After a scan that left no idle bucket, the least time before the next. */
#define EVICT_SCAN_PAUSE (100 * (NS_PER_SEC / 1000))

/* What a bucket belongs to; part of the key, so kinds never collide. */
typedef enum RlKind
{
	RL_ANON = 1,				/* the one shared anonymous bucket */
	RL_ADDRESS,					/* an anonymous client address */
	RL_USER,					/* a user id */
	RL_API_KEY,					/* an API key id */
	RL_LOGIN,					/* the one shared login bucket */
	RL_LOGIN_ADDRESS			/* the logins of one client address */
} RlKind;

/* Which limits apply: the kinds of docs/contract.md §7. */
typedef enum RlPolicy
{
	POLICY_ANON = TA_RL_ANON,
	POLICY_USER = TA_RL_USER,
	POLICY_API_KEY = TA_RL_API_KEY,
	POLICY_LOGIN = TA_RL_LOGIN,
	NUM_POLICIES = TA_RL_NUM_POLICIES
} RlPolicy;

/* The policies' names, as in the settings and the RateLimit headers. */
extern const char *const rl_policy_names[NUM_POLICIES];

/* Hash key: the kind and a 16-byte identifier (a UUID or an IPv6 address). */
typedef struct RlKey
{
	uint32		kind;
	uint8		id[16];
} RlKey;

typedef struct RlEntry
{
	RlKey		key;			/* hash key; must be first */
	slock_t		mutex;			/* protects tat and last_used */
	int64		tat;			/* theoretical arrival time, ns; 0 when new */
	int64		last_used;		/* last update, ns: orders charges, and for
								 * least-recently-used eviction */
} RlEntry;

/* A bucket outside the hash table: the per-kind overflow buckets. */
typedef struct RlBucket
{
	slock_t		mutex;
	int64		tat;
	int64		last;
} RlBucket;

typedef struct RlShared
{
	LWLock	   *lock;			/* hash table structure: shared to look up, exclusive to add or remove */
	int			capacity;		/* the most buckets the table holds */
	/*
	 * When a full table may be scanned for idle buckets again (both under
	 * the exclusive lock): not before earliest_idle, a lower bound of the
	 * tat of every bucket the last scan left (0: unknown), and not before
	 * scan_not_before, so that a table full of active buckets costs a scan
	 * at most every EVICT_SCAN_PAUSE, not one per newcomer.
	 */
	int64		earliest_idle;
	int64		scan_not_before;
	slock_t		stats_mutex;	/* protects the counters below */
	int64		eviction_scans;
	int64		evictions;
	int64		overflows;
	int64		last_overflow_warning;
	RlBucket	overflow[NUM_POLICIES];
} RlShared;

/* The shared state and bucket table; NULL unless preloaded. */
extern RlShared *rl_state;
extern HTAB *rl_hash;

/* Is the shared table there (the library was preloaded)? */
extern bool rl_active(void);

/* The effective burst of a policy: its setting, or the per-minute limit. */
extern int32 rl_policy_limit(RlPolicy policy);
extern int32 rl_policy_burst(RlPolicy policy);

/* Charge one request to the bucket key at time now; res says if it fits. */
extern void rl_charge_bucket(const RlKey *key, RlPolicy policy, int64 now, TaGcraResult *res);

#endif							/* TASK_API_RATE_LIMIT_INTERNAL_H */
