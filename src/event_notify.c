/*
 * event_notify.c
 *		NOTIFY task_api_events off the writing transaction's commit path.
 *
 * A transaction that sends NOTIFY takes, at commit, a lock that is one for
 * the whole cluster (PreCommit_Notify: AccessExclusiveLock on pg_database
 * object 0) and holds it through its commit's WAL flush, so every writing
 * transaction used to wait for every other one's flush.  Instead:
 *
 * - a transaction that records events only notes, in backend memory, the
 *   highest event id it drew (ta_event_notify, from record_event());
 * - when it has committed (XACT_EVENT_COMMIT: after its commit is durable
 *   and visible to new snapshots) it publishes that id in its database's
 *   slot in shared memory (an atomic maximum and an atomic counter, no lock)
 *   and sets the latch of the slot's notifier;
 * - the notifier, a background worker connected to that database, sends
 *   NOTIFY task_api_events in its own short transactions.  Commits that
 *   arrive while it is sending are coalesced into its next NOTIFY, whose
 *   payload is the highest event id among the transactions that committed
 *   since its previous one.
 *
 * A launcher (a static background worker, registered when the library is
 * preloaded, started only once recovery has finished: never on a standby)
 * starts one notifier per database on demand with
 * RegisterDynamicBackgroundWorker.  A notifier exits after NOTIFIER_IDLE_MS
 * without commits, so that it never holds up DROP DATABASE for long; the
 * launcher starts a new one at the next commit.  An aborted transaction
 * publishes nothing.  Without the preloaded library, or with more than
 * NOTIFY_DATABASES databases writing events since the server started, a
 * transaction queues its NOTIFY itself, as before (one per event, payload
 * the event id).
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "events.h"

#define NOTIFY_CHANNEL		"task_api_events"
/* Databases that can have a notifier; beyond that, NOTIFY in the transaction. */
#define NOTIFY_DATABASES	64
/* A notifier with nothing to send for this long exits. */
#define NOTIFIER_IDLE_MS	2000
/* The launcher looks at every slot at least this often. */
#define LAUNCHER_POLL_MS	1000
/* A notifier that exits this many times in a row without sending: give up its backlog. */
#define NOTIFIER_MAX_FAILURES 3

/*
 * One database's slot.  dbid is set once (under the spinlock) and never
 * changes until the server restarts.  Committers add to commits and raise
 * max_id; the notifier takes max_id (exchanging it for 0) and records in
 * notified the commits its NOTIFY covered.  worker is the notifier's
 * pgprocno + 1, or 0 when none runs.
 */
typedef struct NotifySlot
{
	Oid			dbid;
	pg_atomic_uint64 commits;
	pg_atomic_uint64 notified;
	pg_atomic_uint64 max_id;
	pg_atomic_uint32 worker;
	/* 1: a committed transaction wrote events on other nodes (Citus). */
	pg_atomic_uint32 remote;
} NotifySlot;

typedef struct NotifyShared
{
	slock_t		mutex;			/* taking a free slot */
	pg_atomic_uint32 launcher;	/* the launcher's pgprocno + 1, or 0 */
	NotifySlot	slot[NOTIFY_DATABASES];
} NotifyShared;

static NotifyShared *notify_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* This backend's database's slot (a backend never changes database), or -1. */
static int	my_slot_index = -1;

/* The highest event id the current transaction drew, 0 for none. */
static int64 xact_max_id = 0;

/*
 * On a Citus coordinator: the current transaction may have written events
 * on the workers (citus_notify_at_commit(), from citus_pre_request() for a
 * request that writes).  Their ids are drawn there; the notifier reads the
 * highest committed one itself (docs/scaling.md, "Events", NOTIFY).
 */
static bool xact_remote_events = false;

void		task_api_notify_launcher_main(Datum main_arg);
void		task_api_notifier_main(Datum main_arg);

/* Ask for the slots' shared memory (PG15: from shmem_request_hook). */
static void
notify_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(sizeof(NotifyShared));
}

/* Create or attach to the slots, all free at server start. */
static void
notify_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	notify_shared = ShmemInitStruct("task_api event notify", sizeof(NotifyShared), &found);
	if (!found)
	{
		SpinLockInit(&notify_shared->mutex);
		pg_atomic_init_u32(&notify_shared->launcher, 0);
		for (int i = 0; i < NOTIFY_DATABASES; i++)
		{
			NotifySlot *slot = &notify_shared->slot[i];

			slot->dbid = InvalidOid;
			pg_atomic_init_u64(&slot->commits, 0);
			pg_atomic_init_u64(&slot->notified, 0);
			pg_atomic_init_u64(&slot->max_id, 0);
			pg_atomic_init_u32(&slot->worker, 0);
			pg_atomic_init_u32(&slot->remote, 0);
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

/* The slot of database dbid, taking a free one if it has none; -1 if all are taken. */
static int
database_slot(Oid dbid)
{
	int			found = -1;

	SpinLockAcquire(&notify_shared->mutex);
	for (int i = 0; i < NOTIFY_DATABASES && found < 0; i++)
	{
		if (notify_shared->slot[i].dbid == dbid)
			found = i;
		else if (notify_shared->slot[i].dbid == InvalidOid)
		{
			notify_shared->slot[i].dbid = dbid;
			found = i;
		}
	}
	SpinLockRelease(&notify_shared->mutex);
	return found;
}

/* Set the latch of the process whose pgprocno + 1 is procno1. */
static void
wake(uint32 procno1)
{
	SetLatch(&ProcGlobal->allProcs[procno1 - 1].procLatch);
}

/* Raise *target to at least value. */
static void
atomic_raise(pg_atomic_uint64 *target, uint64 value)
{
	uint64		seen = pg_atomic_read_u64(target);

	while (seen < value && !pg_atomic_compare_exchange_u64(target, &seen, value))
		;
}

/*
 * After the commit (visible and durable): hand the transaction's highest
 * event id to its database's notifier.  The id first, then the counter (a
 * full barrier), then the notifier's latch, or the launcher's if none runs.
 */
static void
publish_commit(void)
{
	NotifySlot *slot = &notify_shared->slot[my_slot_index];
	uint32		worker;

	atomic_raise(&slot->max_id, (uint64) xact_max_id);
	if (xact_remote_events)
		pg_atomic_write_u32(&slot->remote, 1);
	pg_atomic_fetch_add_u64(&slot->commits, 1);
	worker = pg_atomic_read_u32(&slot->worker);
	if (worker == 0)
		worker = pg_atomic_read_u32(&notify_shared->launcher);
	if (worker != 0)
		wake(worker);
}

/* Publish at commit; an aborted or prepared transaction publishes nothing. */
static void
notify_xact_callback(XactEvent event, void *arg)
{
	if (xact_max_id == 0 && !xact_remote_events)
		return;
	if (event == XACT_EVENT_COMMIT)
		publish_commit();
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PREPARE)
	{
		xact_max_id = 0;
		xact_remote_events = false;
	}
}

PG_FUNCTION_INFO_V1(task_api_citus_notify_at_commit);

/*
 * On a Citus coordinator, from citus_pre_request() for a request that may
 * write: when this transaction commits, wake the database's notifier, which
 * reads the highest committed event id (written on the workers) and sends
 * NOTIFY task_api_events with it.  Without the preloaded library (no
 * notifier) it does nothing: nobody could send it.
 */
Datum
task_api_citus_notify_at_commit(PG_FUNCTION_ARGS)
{
	if (notify_shared != NULL && my_slot_index < 0 && OidIsValid(MyDatabaseId))
		my_slot_index = database_slot(MyDatabaseId);
	if (notify_shared != NULL && my_slot_index >= 0)
		xact_remote_events = true;
	PG_RETURN_VOID();
}

/*
 * Event id has been recorded in the current transaction: note it for the
 * notifier, or, when there is none, queue the NOTIFY in the transaction.
 */
void
ta_event_notify(int64 id)
{
	if (notify_shared != NULL && my_slot_index < 0 && OidIsValid(MyDatabaseId))
		my_slot_index = database_slot(MyDatabaseId);
	if (notify_shared == NULL || my_slot_index < 0)
	{
		char		payload[32];

		snprintf(payload, sizeof(payload), INT64_FORMAT, id);
		Async_Notify(NOTIFY_CHANNEL, payload);
		return;
	}
	if (id > xact_max_id)
		xact_max_id = id;
}

/* Fill in a worker of this library. */
static void
worker_entry(BackgroundWorker *worker, const char *function, const char *name)
{
	memset(worker, 0, sizeof(*worker));
	worker->bgw_flags = BGWORKER_SHMEM_ACCESS;
	worker->bgw_start_time = BgWorkerStart_RecoveryFinished;
	snprintf(worker->bgw_library_name, BGW_MAXLEN, "task_api");
	snprintf(worker->bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(worker->bgw_name, BGW_MAXLEN, "%s", name);
	snprintf(worker->bgw_type, BGW_MAXLEN, "%s", name);
}

/* The transaction callback; when preloaded, shared memory and the launcher. */
void
ta_event_notify_init(void)
{
	BackgroundWorker worker;

	RegisterXactCallback(notify_xact_callback, NULL);
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = notify_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = notify_shmem_startup;

	worker_entry(&worker, "task_api_notify_launcher_main", "task_api notify launcher");
	worker.bgw_flags |= BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_restart_time = 5;
	RegisterBackgroundWorker(&worker);
}

/* ---- the notifier: one per database ---- */

/* Send one NOTIFY in a short transaction of its own. */
static void
send_notify(uint64 max_id)
{
	char		payload[32];

	snprintf(payload, sizeof(payload), UINT64_FORMAT, max_id);
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	pgstat_report_activity(STATE_RUNNING, "NOTIFY " NOTIFY_CHANNEL);
	Async_Notify(NOTIFY_CHANNEL, payload);
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * The newest event id of each node this notifier has seen (a Citus node's
 * ids are its group id << 48 and up: a new event on a node whose range is
 * below another's does not raise the highest id overall, so newness is
 * judged per node).
 */
#define REMOTE_NODES 64
static int	remote_count = 0;
static int32 remote_node[REMOTE_NODES];
static uint64 remote_seen[REMOTE_NODES];

/* Note node's newest id; true if it is newer than what was seen before. */
static bool
remote_advanced(int32 node, uint64 top)
{
	for (int i = 0; i < remote_count; i++)
	{
		if (remote_node[i] != node)
			continue;
		if (top <= remote_seen[i])
			return false;
		remote_seen[i] = top;
		return true;
	}
	if (remote_count < REMOTE_NODES)
	{
		remote_node[remote_count] = node;
		remote_seen[remote_count] = top;
		remote_count++;
	}
	return true;
}

/*
 * Each node's newest committed event id (task_api.citus_node_top(), one
 * descent of the events' id index per shard), in a transaction of its own:
 * the highest of those newer than this notifier saw before, or 0 (also on
 * an error, which is logged).
 */
static uint64
read_new_top(void)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	volatile uint64 best = 0;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	pgstat_report_activity(STATE_RUNNING, "SELECT task_api.citus_node_top(n) FROM task_api.citus_event_nodes() n");
	PG_TRY();
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute("SELECT n, task_api.citus_node_top(n) FROM task_api.citus_event_nodes() n",
						true, 0) != SPI_OK_SELECT)
			elog(ERROR, "reading the newest event ids failed");
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			bool		null_node,
						null_top;
			Datum		node = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &null_node);
			Datum		top = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &null_top);

			if (null_node || null_top)
				continue;
			if (remote_advanced(DatumGetInt32(node), (uint64) DatumGetInt64(top))
				&& (uint64) DatumGetInt64(top) > best)
				best = (uint64) DatumGetInt64(top);
		}
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		ereport(LOG,
				(errmsg("task_api notifier: could not read the newest event ids: %s", edata->message)));
		FreeErrorData(edata);
		best = 0;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcontext);
	pgstat_report_activity(STATE_IDLE, NULL);
	return best;
}

/*
 * Events committed on other nodes (a Citus coordinator's writes, whose
 * events the workers record): the newest committed id of a node that has
 * new events, read after the commit.  Citus finishes the workers' part of
 * a commit in its own commit callback, which runs after task_api's: a read
 * that finds nothing new is repeated a few times, 20 ms apart.  0 when no
 * node has anything new.
 */
#define REMOTE_TRIES 10
#define REMOTE_WAIT_US 20000
static uint64
remote_top(void)
{
	for (int tries = 0; tries < REMOTE_TRIES; tries++)
	{
		uint64		top;

		if (tries > 0)
			pg_usleep(REMOTE_WAIT_US);
		top = read_new_top();
		if (top != 0)
			return top;
	}
	return 0;
}

/*
 * Send what has committed since the last NOTIFY: the commits counted now
 * are covered, and their ids were raised into max_id before they were
 * counted.  A max_id of 0 means an earlier NOTIFY already carried them.
 * Returns false when there was nothing new.
 */
static bool
notify_pending(NotifySlot *slot)
{
	uint64		commits = pg_atomic_read_u64(&slot->commits);
	uint64		max_id;

	if (commits == pg_atomic_read_u64(&slot->notified))
		return false;
	max_id = pg_atomic_exchange_u64(&slot->max_id, 0);
	if (pg_atomic_exchange_u32(&slot->remote, 0) != 0)
	{
		uint64		top = remote_top();

		if (top > max_id)
			max_id = top;
	}
	if (max_id != 0)
		send_notify(max_id);
	pg_atomic_write_u64(&slot->notified, commits);
	return true;
}

static NotifySlot *notifier_slot = NULL;

/* A notifier that exits (even by an error) leaves its slot free for the next. */
static void
notifier_exit(int code, Datum arg)
{
	uint32		me = (uint32) MyProc->pgprocno + 1;

	if (notifier_slot != NULL)
		pg_atomic_compare_exchange_u32(&notifier_slot->worker, &me, 0);
}

/*
 * Leave after being idle: give up the slot, then look again (a full
 * barrier in between), so that a commit counted after this look finds no
 * notifier and wakes the launcher.  Returns false if work arrived and the
 * slot could be taken back.
 */
static bool
notifier_leave(NotifySlot *slot)
{
	uint32		me = (uint32) MyProc->pgprocno + 1;
	uint32		none = 0;

	pg_atomic_compare_exchange_u32(&slot->worker, &me, 0);
	if (pg_atomic_read_u64(&slot->commits) == pg_atomic_read_u64(&slot->notified))
		return true;
	return !pg_atomic_compare_exchange_u32(&slot->worker, &none, me);
}

/* The notifier's loop: send, coalescing, until idle or told to stop. */
static void
notifier_loop(NotifySlot *slot)
{
	TimestampTz last = GetCurrentTimestamp();

	for (;;)
	{
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ShutdownRequestPending)
			return;
		if (notify_pending(slot))
		{
			last = GetCurrentTimestamp();
			continue;
		}
		if (TimestampDifferenceExceeds(last, GetCurrentTimestamp(), NOTIFIER_IDLE_MS))
		{
			if (notifier_leave(slot))
				return;
			continue;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 NOTIFIER_IDLE_MS, PG_WAIT_EXTENSION);
	}
}

/* A notifier's entry point: main_arg is its database's slot. */
void
task_api_notifier_main(Datum main_arg)
{
	NotifySlot *slot = &notify_shared->slot[DatumGetInt32(main_arg)];
	uint32		me;
	uint32		none = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(slot->dbid, InvalidOid, 0);
	/* A NOTIFY is not kept across a crash: its commit need not wait for the flush. */
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);

	me = (uint32) MyProc->pgprocno + 1;
	if (!pg_atomic_compare_exchange_u32(&slot->worker, &none, me))
		proc_exit(0);			/* another notifier serves this database */
	notifier_slot = slot;
	before_shmem_exit(notifier_exit, (Datum) 0);
	notifier_loop(slot);
	proc_exit(0);
}

/* ---- the launcher ---- */

/* What the launcher knows of each slot's notifier. */
typedef struct NotifierState
{
	BackgroundWorkerHandle *handle;
	uint64		notified_at_start;
	int			failures;
} NotifierState;

static NotifierState notifiers[NOTIFY_DATABASES];

/* Is the notifier the launcher started for slot i still starting or running? */
static bool
notifier_alive(int i)
{
	pid_t		pid;
	BgwHandleStatus status;

	if (notifiers[i].handle == NULL)
		return false;
	status = GetBackgroundWorkerPid(notifiers[i].handle, &pid);
	if (status == BGWH_STARTED || status == BGWH_NOT_YET_STARTED)
		return true;
	pfree(notifiers[i].handle);
	notifiers[i].handle = NULL;
	return false;
}

/*
 * A notifier that stopped without sending anything (its database dropped,
 * or it cannot connect) is started again NOTIFIER_MAX_FAILURES times; then
 * the backlog it could not send is dropped (no one can be listening there).
 */
static bool
give_up(int i, NotifySlot *slot)
{
	uint64		notified = pg_atomic_read_u64(&slot->notified);

	if (notified != notifiers[i].notified_at_start)
	{
		notifiers[i].failures = 0;
		return false;
	}
	if (++notifiers[i].failures < NOTIFIER_MAX_FAILURES)
		return false;
	ereport(LOG,
			(errcode(ERRCODE_WARNING),
			 errmsg("task_api notify launcher: the notifier of database %u stopped %d times without notifying; skipping its backlog",
					slot->dbid, notifiers[i].failures)));
	(void) pg_atomic_exchange_u64(&slot->max_id, 0);
	pg_atomic_write_u64(&slot->notified, pg_atomic_read_u64(&slot->commits));
	notifiers[i].failures = 0;
	return true;
}

/* Start slot i's notifier (the launcher is told when it stops). */
static void
start_notifier(int i, NotifySlot *slot)
{
	BackgroundWorker worker;

	worker_entry(&worker, "task_api_notifier_main", "task_api notifier");
	worker.bgw_flags |= BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	worker.bgw_main_arg = Int32GetDatum(i);
	worker.bgw_notify_pid = MyProcPid;
	notifiers[i].notified_at_start = pg_atomic_read_u64(&slot->notified);
	if (!RegisterDynamicBackgroundWorker(&worker, &notifiers[i].handle))
		notifiers[i].handle = NULL; /* no worker slot free: again at the next poll */
}

/* Start a notifier for every database with commits to send and none running. */
static void
launch_notifiers(void)
{
	for (int i = 0; i < NOTIFY_DATABASES; i++)
	{
		NotifySlot *slot = &notify_shared->slot[i];
		bool		had = notifiers[i].handle != NULL;

		if (slot->dbid == InvalidOid || notifier_alive(i))
			continue;
		if (pg_atomic_read_u64(&slot->commits) == pg_atomic_read_u64(&slot->notified))
			continue;
		if (pg_atomic_read_u32(&slot->worker) != 0)
			continue;			/* one the launcher did not start (it restarted) runs */
		if (had && give_up(i, slot))
			continue;
		start_notifier(i, slot);
	}
}

/* The launcher's exit clears its latch for committers. */
static void
launcher_exit(int code, Datum arg)
{
	pg_atomic_write_u32(&notify_shared->launcher, 0);
}

/* The launcher's entry point. */
void
task_api_notify_launcher_main(Datum main_arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	/* No database: only to be listed in pg_stat_activity. */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	memset(notifiers, 0, sizeof(notifiers));
	pg_atomic_write_u32(&notify_shared->launcher, (uint32) MyProc->pgprocno + 1);
	before_shmem_exit(launcher_exit, (Datum) 0);

	while (!ShutdownRequestPending)
	{
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		launch_notifiers();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 LAUNCHER_POLL_MS, PG_WAIT_EXTENSION);
	}
	proc_exit(0);
}
