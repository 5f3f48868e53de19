#!/usr/bin/env bash
# Rolling-upgrade benchmark (not part of 'make test' or 'make bench'; run it
# alone), on its own throw-away cluster on 127.0.0.1, without PostgREST.
# A database made with CREATE EXTENSION task_api VERSION '0.1.0' while the
# library is the current one (a rolling upgrade: new binaries, old SQL),
# filled with 1,000,000 tasks in 1,000 projects; a writer (pgbench, 3
# clients) updates random tasks through api.tasks as editors, as PATCH
# /tasks does, and logs every transaction.
#   A. With the writer running: the operator's step
#      ($(pg_config --sharedir)/extension/task_api_prepare_upgrade.sql) and ALTER EXTENSION
#      task_api UPDATE.  Reported: their durations, and the writer's longest
#      stall (the longest time without a commit, and the slowest
#      transaction) during the upgrade vs an equally long window without it
#      in the same run.  Target: <= 1 s.
#   B. The update while another transaction stays open for 10 s: a client
#      that updated a task through api.tasks and sits idle in transaction
#      (what a real long transaction on the tasks holds: ROW EXCLUSIVE on
#      task_api.tasks, ACCESS SHARE on what it read, a row lock).  If the
#      update waits on it, it must fail after about the script's
#      lock_timeout with a clear error, the writer must stall for about
#      that long at most (not the 10 s), and the update must succeed once
#      the transaction ends.  If the update does not wait on it, the same
#      is shown with the mildest lock that the update does wait on, found
#      from pg_locks (bench/upgrade_locks.sql).
# The locks the update holds are listed first.  Targets are reported, never
# enforced.  See bench/README.md.
#
#   scripts/bench-upgrade.sh     about 3 minutes on 2 CPUs
# shellcheck source=SCRIPTDIR/bench-lib.sh
source "$(dirname "$0")/bench-lib.sh"

[ $# = 0 ] || die "usage: $0"

PG_PORT=${TASK_API_BENCH_UPGRADE_PG_PORT:-5488}
STATE=${TASK_API_BENCH_UPGRADE_STATE:-bench-upgrade}
TASKS=${TASK_API_BENCH_UPGRADE_TASKS:-1000000}
PROJECTS=${TASK_API_BENCH_UPGRADE_PROJECTS:-1000}
USERS=${TASK_API_BENCH_UPGRADE_USERS:-2000}
CLIENTS=${TASK_API_BENCH_UPGRADE_CLIENTS:-3}
WARMUP=${TASK_API_BENCH_UPGRADE_WARMUP:-5}
BASELINE=${TASK_API_BENCH_UPGRADE_BASELINE:-10}
AFTER=${TASK_API_BENCH_UPGRADE_AFTER:-5}
HOLD=${TASK_API_BENCH_UPGRADE_HOLD:-10}
STALL_TARGET_MS=1000
# Windows shorter than this are widened to it (the baseline's too), so that
# a 50 ms upgrade is not compared over 50 ms of writes.
MIN_WINDOW=1

# A table of its own, never added to make bench's.
results="$ROOT/.task_api/$STATE-results.md"
PREPARE="$("$PGBIN/pg_config" --sharedir)/extension/task_api_prepare_upgrade.sql"
TEMPLATE_DB=bench_upgrade_010
FROM_VERSION=0.1.0
TO_VERSION=$(sed -n "s/^default_version = '\(.*\)'$/\1/p" "$ROOT/task_api.control")
# The first upgrade step from FROM_VERSION (its lock_timeout is the one the
# update runs under).
STEP=$(find "$ROOT/sql" -maxdepth 1 -name "task_api--$FROM_VERSION--*.sql" | sort | head -n1)
[ -n "$STEP" ] || die "no upgrade step from $FROM_VERSION in sql/"
LOCK_TIMEOUT=$(sed -n "s/^SET lock_timeout = '\(.*\)';.*/\1/p" "$STEP" 2>/dev/null | head -n1)
# Scenario B's target: a writer queued behind an update that waits gets
# through at most lock_timeout later, plus a little to catch up.
B_MARGIN_MS=500

writer_pid=""
blocker_pid=""
stop_background() { # our own background processes, by pid: the writer, the open transaction
    if [ -n "$writer_pid" ]; then kill "$writer_pid" 2>/dev/null || true; fi
    if [ -n "$blocker_pid" ]; then kill "$blocker_pid" 2>/dev/null || true; fi
    wait 2>/dev/null || true
}
bench_at_exit stop_background
# The server log shows every lock wait longer than deadlock_timeout (1 s).
bench_start "$STATE" "$PG_PORT" "log_lock_waits = on"

SOCK=$(socket_dir "$dir")
now_s() { date +%s.%N; }
ms_between() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.0f", (b - a) * 1000}'; }
max_of() { awk -v a="$1" -v b="$2" 'BEGIN {print (a > b) ? a : b}'; }
add_s() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.6f", a + b}'; }
sleep_until() { # sleep_until EPOCH_SECONDS
    local left
    left=$(awk -v t="$1" -v n="$(now_s)" 'BEGIN {d = t - n; printf "%.3f", (d > 0) ? d : 0}')
    sleep "$left"
}
ext_version() { bench_psql "$1" -tAc "SELECT extversion FROM pg_extension WHERE extname = 'task_api'"; }
# A database at 0.1.0 with the filled data: a copy of the template.
fresh_db() {
    bench_psql postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1 TEMPLATE $TEMPLATE_DB STRATEGY FILE_COPY"
    [ "$(ext_version "$1")" = "$FROM_VERSION" ] || die "$1 is not at $FROM_VERSION"
}

# ---------------------------------------------------------------------------
# Fill
# ---------------------------------------------------------------------------
say "upgrade benchmark: filling a $FROM_VERSION database with $TASKS tasks in $PROJECTS projects ($USERS users, 10 members a project)"
t0=$(now_s)
bench_psql postgres -c "CREATE DATABASE $TEMPLATE_DB"
bench_psql "$TEMPLATE_DB" -c "SET client_min_messages = warning" -c "CREATE EXTENSION task_api VERSION '$FROM_VERSION'"
[ "$(ext_version "$TEMPLATE_DB")" = "$FROM_VERSION" ] || die "CREATE EXTENSION did not make version $FROM_VERSION"
bench_psql "$TEMPLATE_DB" -v users="$USERS" -v projects="$PROJECTS" -v tasks="$TASKS" -f "$BENCH/upgrade_fill.sql"
t1=$(now_s)
bench_psql "$TEMPLATE_DB" -c "VACUUM (ANALYZE)"
t2=$(now_s)
check=$(bench_psql "$TEMPLATE_DB" -tA -f "$BENCH/upgrade_check.sql")
case "$check" in problems=0\ *) ;; *) die "the filled data is not valid: $check" ;; esac
NTARGETS=$(bench_psql "$TEMPLATE_DB" -tAc "SELECT count(*) FROM bench.targets")
size=$(bench_psql "$TEMPLATE_DB" -tAc "SELECT pg_size_pretty(pg_total_relation_size('task_api.tasks'))")
echo "  loaded in $(ms_between "$t0" "$t1") ms, VACUUM (ANALYZE) $(ms_between "$t1" "$t2") ms; task_api.tasks: $size"
echo "  checked: ${check#problems=0 } (no invalid row)"
bench_psql postgres -c "CHECKPOINT"

# ---------------------------------------------------------------------------
# Helpers: the writer, the update, the watch on lock waits, the statistics
# ---------------------------------------------------------------------------
start_writer() { # start_writer DB NAME: pgbench in the background, one log line per transaction
    rm -f "$logdir/tx-$2".*
    "$PGBIN/pgbench" -n -M prepared -h "$SOCK" -p "$PG_PORT" -U postgres -c "$CLIENTS" -j "$CLIENTS" -T 3600 \
        -D ntargets="$NTARGETS" -l --log-prefix="$logdir/tx-$2" -f "$BENCH/upgrade_writer.sql" "$1" \
        >"$logdir/pgbench-$2.log" 2>&1 &
    writer_pid=$!
    writer_start=$(now_s)
}
# stop_writer NAME: SIGALRM ends pgbench as its -T would (logs complete);
# merges the per-thread logs into "commit-time latency" lines, in order.
stop_writer() {
    local rc=0
    kill -ALRM "$writer_pid"
    wait "$writer_pid" || rc=$?
    writer_pid=""
    writer_errors=$(grep -c -i 'error\|aborted' "$logdir/pgbench-$1.log" || true)
    if [ "$rc" != 0 ] || [ "$writer_errors" != 0 ]; then
        echo "  WARNING: the writer had errors (pgbench exit $rc); see $logdir/pgbench-$1.log:" >&2
        grep -i 'error\|aborted' "$logdir/pgbench-$1.log" | head -n 5 >&2
    fi
    cat "$logdir/tx-$1".* | awk '{printf "%.6f %.6f\n", $5 + $6 / 1e6, $3 / 1e6}' | sort -g > "$logdir/commits-$1.txt"
    [ -s "$logdir/commits-$1.txt" ] || die "the writer logged no transaction; see $logdir/pgbench-$1.log"
}
# window_stats NAME FROM TO: "GAP_MS LATENCY_MS COMMITS": the longest time
# without any commit that overlaps [FROM, TO], the slowest transaction that
# ran during it, the commits inside it.
window_stats() {
    awk -v a="$2" -v b="$3" '
        {end = $1; lat = $2; start = end - lat
         if (NR > 1 && end > a && prev < b && end - prev > gap) gap = end - prev
         if (end > a && start < b && lat > maxlat) maxlat = lat
         if (end >= a && end <= b) n++
         prev = end}
        END {printf "%.0f %.0f %d\n", gap * 1000, maxlat * 1000, n}' "$logdir/commits-$1.txt"
}
# stall_line LABEL NAME FROM TO: one line of statistics; sets ws_stall (ms),
# the longer of the two.
stall_line() {
    local gap lat n len
    read -r gap lat n <<<"$(window_stats "$2" "$3" "$4")"
    len=$(ms_between "$3" "$4")
    ws_stall=$(max_of "$gap" "$lat")
    ws_gap=$gap
    ws_lat=$lat
    printf '  %-58s longest without a commit %6s ms, slowest transaction %6s ms  (%s commits in %s ms)\n' \
        "$1" "$gap" "$lat" "$n" "$len"
}
# watch_waits DB FILE: until FILE.stop exists, every 50 ms, one line: the
# number of writers waiting for the update (queued behind a lock it holds or
# waits for) | the locks the update waits on | the sessions that block it.
watch_waits() {
    local db=$1 out=$2
    : > "$out"
    while [ ! -e "$out.stop" ]; do
        bench_psql "$db" -tAc "
            SELECT format('%s|%s|%s',
                (SELECT count(*) FROM pg_stat_activity w, pg_stat_activity u
                  WHERE w.application_name = 'pgbench' AND u.application_name = 'bench-upgrade-alter'
                    AND u.pid = ANY (pg_blocking_pids(w.pid))),
                (SELECT string_agg(DISTINCT format('%s on %s', l.mode,
                            coalesce(l.relation::regclass::text, pg_describe_object(l.classid, l.objid, l.objsubid),
                                     l.locktype || ' ' || coalesce(l.transactionid::text, l.virtualxid, ''))), '; ')
                   FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                  WHERE NOT l.granted AND a.application_name = 'bench-upgrade-alter'),
                (SELECT string_agg(DISTINCT coalesce(nullif(b.application_name, ''), 'pid ' || b.pid) || ' (' || b.state || ')', ', ')
                   FROM pg_stat_activity a CROSS JOIN LATERAL unnest(pg_blocking_pids(a.pid)) AS bp
                   JOIN pg_stat_activity b ON b.pid = bp
                  WHERE a.application_name = 'bench-upgrade-alter'))" >> "$out" 2>/dev/null || true
        sleep 0.05
    done
    rm -f "$out.stop"
}
# summarize_waits FILE: sets max_waiting_writers (the most writers seen
# waiting for the update at once), update_waited_on, update_blocked_by.
summarize_waits() {
    max_waiting_writers=$(awk -F'|' 'BEGIN {m = 0} $1 > m {m = $1} END {print m}' "$1")
    update_waited_on=$(awk -F'|' '$2 != "" {print $2; exit}' "$1")
    update_blocked_by=$(awk -F'|' '$3 != "" {print $3; exit}' "$1")
}
# run_watched DB WATCHFILE CMD...: CMD with the watch running; returns CMD's status.
run_watched() {
    local db=$1 watch=$2 rc=0 wpid
    shift 2
    watch_waits "$db" "$watch" &
    wpid=$!
    "$@" || rc=$?
    touch "$watch.stop"
    wait "$wpid" || true
    return "$rc"
}
# alter_update DB OUT: ALTER EXTENSION task_api UPDATE as the operator runs
# it (docs/operations.md): with psql's \timing, and (scenario A) again up
# to update_max_tries times, a second apart, when it gave way to a lock
# (lock_timeout, or the deadlock it detects first); its output (and errors)
# in OUT; the tries in update_tries.
update_max_tries=1
alter_update() {
    local try
    for try in $(seq 1 "$update_max_tries"); do
        update_tries=$try
        PGAPPNAME=bench-upgrade-alter "$PGBIN/psql" -X -v ON_ERROR_STOP=1 -v VERBOSITY=default -h "$SOCK" -p "$PG_PORT" -U postgres -d "$1" \
            -c "\\timing on" -c "ALTER EXTENSION task_api UPDATE" >>"$2" 2>&1 && return 0
        grep -q "lock timeout\|deadlock detected" "$2" || return 1
        sleep 1
    done
    return 1
}
# timed_update DB OUT WATCHFILE: alter_update under watch_waits; sets upd_t0,
# upd_t1, upd_ms (wall clock, with psql's start); returns the update's status.
timed_update() {
    local rc=0
    upd_t0=$(now_s)
    run_watched "$1" "$3" alter_update "$1" "$2" || rc=$?
    upd_t1=$(now_s)
    upd_ms=$(ms_between "$upd_t0" "$upd_t1")
    return "$rc"
}
prepare_step() { # prepare_step DB: the operator's step before the update, if there is one
    prep_ms=""
    [ -f "$PREPARE" ] || return 0
    local t
    t=$(now_s)
    PGAPPNAME=bench-upgrade-prepare "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PG_PORT" -U postgres -d "$1" \
        -f "$PREPARE" >"$logdir/prepare-$1.log" 2>&1 || { cat "$logdir/prepare-$1.log" >&2; die "$PREPARE failed"; }
    prep_ms=$(ms_between "$t" "$(now_s)")
}
prep_text() { if [ -n "$1" ]; then echo "$1 ms"; else echo "none (no such file)"; fi; }
met() { meets "$1" "${2:-$STALL_TARGET_MS}" le; }
error_of() { # the ERROR line(s) and CONTEXT of a failed update's output
    grep -E '^(ERROR|CONTEXT|DETAIL|HINT):' "$1" | sed 's/^/    /' || true
}

if [ -n "$LOCK_TIMEOUT" ]; then
    case "$LOCK_TIMEOUT" in
        *[!0-9]*) lock_timeout_ms=$(bench_psql postgres -tAc "SELECT (extract(epoch FROM interval '$LOCK_TIMEOUT') * 1000)::int") ;;
        *) lock_timeout_ms=$LOCK_TIMEOUT ;;
    esac
    B_TARGET_MS=$((lock_timeout_ms + B_MARGIN_MS))
    B_TARGET_TEXT="<= $B_TARGET_MS ms (lock_timeout + $B_MARGIN_MS ms)"
else
    B_TARGET_MS=$STALL_TARGET_MS
    B_TARGET_TEXT="<= $B_TARGET_MS ms (the script sets no lock_timeout)"
fi

# ---------------------------------------------------------------------------
# The locks the update takes (a scratch database at 0.1.0, rolled back)
# ---------------------------------------------------------------------------
say "upgrade benchmark: the locks ALTER EXTENSION task_api UPDATE ($FROM_VERSION -> $TO_VERSION) holds at its end"
bench_psql postgres -c "CREATE DATABASE bench_upgrade_probe"
bench_psql bench_upgrade_probe -c "SET client_min_messages = warning" -c "CREATE EXTENSION task_api VERSION '$FROM_VERSION'"
if [ -f "$PREPARE" ]; then
    echo "  (after $PREPARE)"
    prepare_step bench_upgrade_probe
fi
probe=$(bench_psql bench_upgrade_probe -f "$BENCH/upgrade_locks.sql")
locks=$(awk -F'|' '$1 == "lock" {printf "    %-24s %-48s %s\n", $3, $2, $4}' <<<"$probe")
blocker_stmt=$(awk -F'|' '$1 == "blocker" {print $2}' <<<"$probe")
blocker_conflict=$(awk -F'|' '$1 == "blocker" {print $3}' <<<"$probe")
echo "$locks"
echo "  lock_timeout set by $(basename "$STEP"): ${LOCK_TIMEOUT:-none}"
bench_psql postgres -c "DROP DATABASE bench_upgrade_probe"

# ---------------------------------------------------------------------------
# A. The upgrade under the writer
# ---------------------------------------------------------------------------
say "upgrade benchmark A: ALTER EXTENSION task_api UPDATE under the writer ($CLIENTS clients; ${WARMUP} s warm-up, ${BASELINE} s before, ${AFTER} s after)"
fresh_db bench_upgrade_a
start_writer bench_upgrade_a A
sleep "$WARMUP"
base_from=$(now_s)
sleep "$BASELINE"
a_t0=$(now_s)
prepare_step bench_upgrade_a
a_prep_ms=$prep_ms
a_rc=0
update_max_tries=5
timed_update bench_upgrade_a "$logdir/update-A.out" "$logdir/waits-A.txt" || a_rc=$?
update_max_tries=1
[ "$a_rc" = 0 ] || { cat "$logdir/update-A.out" >&2; die "ALTER EXTENSION task_api UPDATE failed under the writer alone"; }
a_t1=$upd_t1
a_alter_ms=$upd_ms
a_alter_server_ms=$(last_ms < "$logdir/update-A.out")
a_tries=$update_tries
summarize_waits "$logdir/waits-A.txt"
a_waiting=$max_waiting_writers
a_waited_on=$update_waited_on
# The upgrade window (at least MIN_WINDOW long) and an equally long one
# without the upgrade: just before it, or just after if it does not fit.
a_len=$(max_of "$(awk -v a="$a_t0" -v b="$a_t1" 'BEGIN {print b - a}')" "$MIN_WINDOW")
a_win_end=$(add_s "$a_t0" "$a_len")
if awk -v l="$a_len" -v a="$base_from" -v t="$a_t0" 'BEGIN {exit !(t - l >= a)}'; then
    b_from=$(awk -v t="$a_t0" -v l="$a_len" 'BEGIN {printf "%.6f", t - l}')
    b_where="just before the upgrade"
    sleep_until "$(add_s "$a_win_end" "$AFTER")"
else
    b_from=$(add_s "$a_win_end" 1)
    b_where="just after the upgrade"
    sleep_until "$(add_s "$(add_s "$b_from" "$a_len")" "$AFTER")"
fi
b_to=$(add_s "$b_from" "$a_len")
stop_writer A
[ "$(ext_version bench_upgrade_a)" = "$TO_VERSION" ] || die "bench_upgrade_a is not at $TO_VERSION after the update"
a_total_tps=$(awk -v s="$writer_start" 'END {printf "%.0f", NR / ($1 - s)}' "$logdir/commits-A.txt")

echo
echo "  operator step (task_api_prepare_upgrade.sql): $(prep_text "$a_prep_ms")"
echo "  ALTER EXTENSION task_api UPDATE: $a_alter_ms ms in $a_tries tries (server, last try: ${a_alter_server_ms:-?} ms); version now $TO_VERSION"
echo "  writers waiting for the update at once, most seen: $a_waiting; the update waited on: ${a_waited_on:-nothing seen}"
stall_line "upgrade window (operator step + update, >= ${MIN_WINDOW} s):" A "$a_t0" "$a_win_end"
a_stall=$ws_stall a_gap=$ws_gap a_lat=$ws_lat
stall_line "baseline, same length, $b_where:" A "$b_from" "$b_to"
a_base=$ws_stall a_base_gap=$ws_gap a_base_lat=$ws_lat
a_ratio=$(ratio "$a_stall" "$(max_of "$a_base" 1)")
echo "  writer: $a_total_tps tps over the run; errors: $writer_errors"
echo "  longest stall, upgrade / baseline: ${a_ratio}x ($a_stall ms vs $a_base ms); target <= $STALL_TARGET_MS ms: $(met "$a_stall")"

# ---------------------------------------------------------------------------
# B. The update while a long transaction is open
# ---------------------------------------------------------------------------
# scenario_b NAME DB KIND STATEMENT...: the writer; after the warm-up and a
# baseline of HOLD s, the operator step, then a session runs the statements
# in a transaction and stays idle in it for HOLD s (then COMMIT, or ROLLBACK
# for a synthetic lock); the update is run 1 s after it went idle, and again
# once it has ended if it failed.  Sets b_* results.
scenario_b() {
    local name=$1 db=$2 kind=$3 end_stmt=COMMIT stmts
    shift 3
    [ "$kind" = synthetic ] && end_stmt=ROLLBACK
    stmts=$(printf '%s; ' "$@")
    fresh_db "$db"
    {
        echo "BEGIN;"
        printf '%s;\n' "$@"
        echo "\\! sleep $HOLD"
        echo "$end_stmt;"
    } > "$logdir/blocker-$name.sql"
    start_writer "$db" "$name"
    sleep "$WARMUP"
    local base_t0 base_t1 hold_t0 hold_t1 r2_t0="" r2_t1="" rc1=0 rc2=0
    base_t0=$(now_s)
    sleep "$HOLD"
    base_t1=$(now_s)
    prepare_step "$db"
    b_prep_ms=$prep_ms
    hold_t0=$(now_s)
    PGAPPNAME=bench-upgrade-blocker "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PG_PORT" -U postgres -d "$db" \
        -f "$logdir/blocker-$name.sql" >"$logdir/blocker-$name.out" 2>&1 &
    blocker_pid=$!
    for _ in $(seq 1 100); do
        [ "$(bench_psql "$db" -tAc "SELECT state FROM pg_stat_activity WHERE application_name = 'bench-upgrade-blocker'")" = "idle in transaction" ] && break
        sleep 0.05
    done
    [ "$(bench_psql "$db" -tAc "SELECT state FROM pg_stat_activity WHERE application_name = 'bench-upgrade-blocker'")" = "idle in transaction" ] \
        || { cat "$logdir/blocker-$name.out" >&2; die "the long transaction did not start"; }
    b_held=$(bench_psql "$db" -tAc "
        SELECT string_agg(x, ', ' ORDER BY x)
          FROM (SELECT l.mode || ' on ' || coalesce(c.oid::regclass::text, pg_describe_object(l.classid, l.objid, l.objsubid)) AS x
                  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                  LEFT JOIN pg_class c ON l.locktype = 'relation' AND c.oid = l.relation
                 WHERE a.application_name = 'bench-upgrade-blocker' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                   AND ((l.locktype = 'relation' AND c.relkind IN ('r', 'v', 'p') AND c.relnamespace <> 'pg_catalog'::regnamespace)
                        OR l.locktype = 'object')) AS h")
    sleep 1
    timed_update "$db" "$logdir/update-$name-1.out" "$logdir/waits-$name-1.txt" || rc1=$?
    b_t0=$upd_t0 b_t1=$upd_t1 b_ms=$upd_ms b_rc=$rc1
    summarize_waits "$logdir/waits-$name-1.txt"
    b_waiting=$max_waiting_writers b_waited_on=$update_waited_on b_blocked_by=$update_blocked_by
    b_error=$(error_of "$logdir/update-$name-1.out")
    wait "$blocker_pid" || { cat "$logdir/blocker-$name.out" >&2; die "the long transaction failed"; }
    blocker_pid=""
    hold_t1=$(now_s)
    b_hold_ms=$(ms_between "$hold_t0" "$hold_t1")
    b_retry_ms=""
    if [ "$rc1" != 0 ]; then
        r2_t0=$(now_s)
        timed_update "$db" "$logdir/update-$name-2.out" "$logdir/waits-$name-2.txt" || rc2=$?
        r2_t1=$upd_t1
        b_retry_ms=$upd_ms
        [ "$rc2" = 0 ] || { cat "$logdir/update-$name-2.out" >&2; die "the update failed again after the long transaction ended"; }
    fi
    sleep "$AFTER"
    stop_writer "$name"
    b_version=$(ext_version "$db")
    [ "$b_version" = "$TO_VERSION" ] || die "$db is not at $TO_VERSION at the end"

    echo
    echo "  operator step: $(prep_text "$b_prep_ms")"
    echo "  the long transaction: BEGIN; ${stmts}then idle $HOLD s; $end_stmt (open for $b_hold_ms ms)"
    echo "  it holds: ${b_held:-no relation lock}"
    if [ "$rc1" != 0 ]; then
        echo "  update while it was open: FAILED after $b_ms ms (lock_timeout ${LOCK_TIMEOUT:-none}); waited on: ${b_waited_on:-?}; blocked by: ${b_blocked_by:-?}"
        echo "$b_error"
        echo "  update after it ended: succeeded in $b_retry_ms ms; version now $b_version"
    else
        echo "  update while it was open: succeeded in $b_ms ms without waiting on it (waited on: ${b_waited_on:-nothing seen}); version now $b_version"
    fi
    echo "  writers waiting for the update at once during the first update, most seen: $b_waiting"
    stall_line "first update (>= ${MIN_WINDOW} s):" "$name" "$b_t0" "$(max_of "$b_t1" "$(add_s "$b_t0" "$MIN_WINDOW")")"
    b_stall1=$ws_stall
    stall_line "whole time the transaction was open:" "$name" "$hold_t0" "$hold_t1"
    b_stall_hold=$ws_stall
    if [ -n "$r2_t0" ]; then
        stall_line "second update (>= ${MIN_WINDOW} s):" "$name" "$r2_t0" "$(max_of "$r2_t1" "$(add_s "$r2_t0" "$MIN_WINDOW")")"
    fi
    stall_line "baseline, as long, before (no upgrade, no long transaction):" "$name" "$base_t0" "$base_t1"
    b_base=$ws_stall
    b_ratio=$(ratio "$b_stall_hold" "$(max_of "$b_base" 1)")
    echo "  writer errors: $writer_errors; longest stall while open / baseline: ${b_ratio}x ($b_stall_hold ms vs $b_base ms); target $B_TARGET_TEXT: $(met "$b_stall_hold" "$B_TARGET_MS")"
}

say "upgrade benchmark B: the update while a task write stays open for ${HOLD} s (idle in transaction)"
scenario_b B1 bench_upgrade_b api-write \
    "SELECT set_config('role', 'task_api_user', true), set_config('request.jwt.claims', json_build_object('sub', user_id, 'role', 'task_api_user')::text, true) FROM bench.blocker" \
    "UPDATE api.tasks SET priority = (priority + 1) % 5 WHERE id = (SELECT task_id FROM bench.blocker)"
b1_rc=$b_rc b1_ms=$b_ms b1_retry=$b_retry_ms b1_stall=$b_stall_hold b1_base=$b_base b1_ratio=$b_ratio b1_stall1=$b_stall1
b1_error=$(head -n1 <<<"$b_error" | sed 's/^ *//')
b1_waited_on=$b_waited_on b1_waiting=$b_waiting
b2_done=0
if [ "$b1_rc" = 0 ]; then
    if [ -n "$blocker_stmt" ]; then
        say "upgrade benchmark B': the update does not wait on a task write; a transaction holding what it does wait on ($blocker_conflict)"
        scenario_b B2 bench_upgrade_c synthetic "$blocker_stmt"
        b2_done=1
        b2_rc=$b_rc b2_ms=$b_ms b2_retry=$b_retry_ms b2_stall=$b_stall_hold b2_base=$b_base b2_ratio=$b_ratio
        b2_error=$(head -n1 <<<"$b_error" | sed 's/^ *//')
        b2_waited_on=$b_waited_on
    else
        echo "  the update takes no lock another session can hold without doing DDL itself: nothing to show for lock_timeout"
    fi
fi

# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------
pg_version=$("$PGBIN/postgres" --version | awk '{print $3}')
outcome() { # outcome RC MS RETRY_MS ERROR
    if [ "$1" != 0 ]; then
        printf "failed after %s ms (\`%s\`); after it ended: done in %s ms" "$2" "$4" "$3"
    else
        printf 'done in %s ms, did not wait' "$2"
    fi
}
{
    echo "Rolling upgrade $FROM_VERSION → $TO_VERSION (\`scripts/bench-upgrade.sh\`, $(date -u +%Y-%m-%d), PostgreSQL $pg_version, $(nproc) CPUs):"
    echo "$TASKS tasks in $PROJECTS projects, $USERS users; a writer (pgbench, $CLIENTS clients) updating random tasks"
    echo "through \`api.tasks\` as editors, $a_total_tps tps. \"Stall\": the longest time without a commit or the slowest"
    echo "transaction, whichever is longer, in windows of at least ${MIN_WINDOW} s; the baseline is a window as long without the upgrade"
    echo "(B: as long as the transaction was open, before it). Targets: A <= $STALL_TARGET_MS ms; B $B_TARGET_TEXT."
    echo "The upgrade script sets lock_timeout = ${LOCK_TIMEOUT:-none}. Locks the update holds:"
    echo
    awk -F'|' '$1 == "lock" {printf "- %s on %s (%s)\n", $3, $2, $4}' <<<"$probe"
    echo
    echo "| Scenario | Upgrade | Writer's longest stall | Baseline | Ratio | Target | Met |"
    echo "|---|---|---|---|---|---|---|"
    printf '| A. Writer running | %s%s ms (server %s ms) | %s ms (no commit %s ms, slowest %s ms) | %s ms (%s ms, %s ms) | %sx | <= %s ms | %s |\n' \
        "${a_prep_ms:+operator step $a_prep_ms ms, then }" "$a_alter_ms" "${a_alter_server_ms:-?}" "$a_stall" "$a_gap" "$a_lat" "$a_base" "$a_base_gap" "$a_base_lat" "$a_ratio" \
        "$STALL_TARGET_MS" "$(met "$a_stall")"
    printf '| B. A task write left open %s s | %s | %s ms while it was open (%s ms during the first update) | %s ms | %sx | <= %s ms | %s |\n' \
        "$HOLD" "$(outcome "$b1_rc" "$b1_ms" "$b1_retry" "$b1_error")" "$b1_stall" "$b1_stall1" "$b1_base" "$b1_ratio" \
        "$B_TARGET_MS" "$(met "$b1_stall" "$B_TARGET_MS")"
    if [ "$b2_done" = 1 ]; then
        printf "| B'. \`%s\` left open %s s | %s | %s ms while it was open | %s ms | %sx | <= %s ms | %s |\n" \
            "$blocker_stmt" "$HOLD" "$(outcome "$b2_rc" "$b2_ms" "$b2_retry" "$b2_error")" "$b2_stall" "$b2_base" "$b2_ratio" \
            "$B_TARGET_MS" "$(met "$b2_stall" "$B_TARGET_MS")"
    fi
    echo
    if [ "$b1_rc" != 0 ]; then
        echo "B: the update waited on ${b1_waited_on:-?}; up to $b1_waiting writers queued behind it."
    else
        echo "B: the update did not wait on the open task write (it takes no lock that conflicts with it)."
    fi
    if [ "$b2_done" = 1 ]; then
        echo "B': the mildest lock the update does wait on, found from pg_locks: the update waited on ${b2_waited_on:-?}."
    fi
    echo "Command: \`scripts/bench-upgrade.sh\`"
} > "$results"
chmod 644 "$results"
echo
say "results (also in $results)"
echo
cat "$results"
echo
