#!/usr/bin/env bash
# Retention benchmark (run by 'make bench' after the others, or alone), on a
# throw-away cluster of its own, without PostgREST: a backlog of EVENTS
# events (10M by default), nine tenths of them older than
# task_api.events_retention, purged by repeated
# task_api.purge_expired_events(10000, 10) calls (one short transaction
# each, as docs/operations.md advises for a backlog) while one writer
# inserts tasks through api.tasks (each insert writes an event too).
# Reports the purge's duration and WAL volume, and the writer's longest
# transaction during the purge against the same writer alone.
#
#   scripts/bench-retention.sh            report, and a results table of its own
#   scripts/bench-retention.sh --append   also add the rows to the table
#                                         scripts/bench.sh wrote (make bench)
# shellcheck source=SCRIPTDIR/bench-lib.sh
source "$(dirname "$0")/bench-lib.sh"

bench_option "$@"

PG_PORT=${TASK_API_BENCH_RETENTION_PG_PORT:-5487}
STATE=${TASK_API_BENCH_RETENTION_STATE:-bench-retention}
EVENTS=${TASK_API_BENCH_RETENTION_EVENTS:-10000000}
ALONE=${TASK_API_BENCH_RETENTION_ALONE:-10}   # seconds of the writer alone
ROUNDS=1
DB=bench_retention

bench_start "$STATE" "$PG_PORT"
bench_database "$DB"

OWNER=01900000-0000-7000-8000-0000000000f1
EDITOR=01900000-0000-7000-8000-0000000000f2
PROJECT=01900000-0000-7000-8000-0000000000f3
psql_db -v owner="$OWNER" -v editor="$EDITOR" -v project="$PROJECT" -v ntasks=100 -f "$BENCH/setup_events.sql" >/dev/null

say "retention benchmark: $EVENTS events, 90% past the retention"
psql_db -q <<SQL
DELETE FROM task_api.events;
CREATE TABLE bench.flag (done boolean NOT NULL);
INSERT INTO bench.flag VALUES (false);
GRANT SELECT ON bench.flag TO PUBLIC;
SQL
chunk=1000000
for ((start = 1; start <= EVENTS; start += chunk)); do
    psql_db -q -c "INSERT INTO task_api.events (occurred_at, resource_type, resource_id, project_id, action, changes)
        SELECT now() - CASE WHEN g <= $EVENTS * 9 / 10 THEN interval '400 days' ELSE interval '1 day' END,
               'task', gen_random_uuid(), '$PROJECT', 'created', '{\"title\": \"Benchmark\"}'
          FROM generate_series($start, least($start + $chunk - 1, $EVENTS)) g"
done
psql_db -q -c "VACUUM ANALYZE task_api.events" -c "CHECKPOINT"

# The writer: one task insert a transaction through api.tasks; it stops
# (an error ends the client) once bench.flag says done.
cat > "$logdir/writer.sql" <<SQL
BEGIN;
SELECT set_config('role', 'task_api_user', true), set_config('request.jwt.claims', '{"sub": "$EDITOR", "role": "task_api_user"}', true);
INSERT INTO api.tasks (project_id, title) VALUES ('$PROJECT', 'written during the purge');
COMMIT;
SELECT 1 / (CASE WHEN done THEN 0 ELSE 1 END) FROM bench.flag;
SQL
writer() { # writer NAME SECONDS: run it; prints the longest transaction in ms and the count
    # Ended by bench.flag, pgbench reports the run as aborted: not a failure.
    "$PGBIN/pgbench" -n -h "$(socket_dir "$dir")" -p "$PG_PORT" -U postgres -c 1 -T "$2" \
        -l --log-prefix="$logdir/latency-$1" -f "$logdir/writer.sql" "$DB" >"$logdir/pgbench-$1.log" 2>&1 || true
    cat "$logdir/latency-$1".* | awk '{if ($3 > m) m = $3; n++} END {printf "%.1f %d\n", m / 1000, n}'
}

read -r alone_max alone_n < <(writer alone "$ALONE")

writer during 3600 > "$logdir/result-during" &
wpid=$!
sleep 1
before=$(psql_db -tAc "SELECT pg_current_wal_lsn()")
start=$(date +%s.%N)
purged=0
while :; do
    n=$(psql_db -tAc "SELECT task_api.purge_expired_events(10000, 10)")
    purged=$((purged + n))
    [ "$n" != 0 ] || break
done
seconds=$(echo "$(date +%s.%N) - $start" | bc)
wal=$(psql_db -tAc "SELECT pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), '$before'))")
psql_db -q -c "UPDATE bench.flag SET done = true"
wait "$wpid"
read -r during_max during_n < "$logdir/result-during"
left=$(psql_db -tAc "SELECT count(*) FROM task_api.events")

echo
printf '  purged %s events in %.1f s, WAL %s (writer included); %s events left\n' "$purged" "$seconds" "$wal" "$left"
printf '  writer alone: longest transaction %s ms (%s transactions in %s s)\n' "$alone_max" "$alone_n" "$ALONE"
printf '  writer during the purge: longest transaction %s ms (%s transactions)\n' "$during_max" "$during_n"

rows=$(
    printf '| Purge %s of %s events in 10000-row batches while a writer inserts tasks | writer alone: longest %s ms | during: longest %s ms; purge %.0f s, WAL %s | %sx | none | n/a |\n' \
        "$purged" "$EVENTS" "$alone_max" "$during_max" "$seconds" "$wal" "$(ratio "$during_max" "$alone_max")"
)
bench_report "$rows"
