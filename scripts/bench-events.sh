#!/usr/bin/env bash
# Events benchmarks (run by 'make bench' after the others, or alone), on a
# throw-away cluster of their own, without PostgREST:
#   1. Task updates through api.tasks (what PATCH /tasks runs: the request's
#      role and claims, the INSTEAD OF trigger, RLS, the stamp trigger), one
#      random task per transaction, pgbench with 2 clients: with the
#      events_record trigger (an event row and a NOTIFY per update) vs the
#      same database with the trigger disabled.  Target >= 0.8x.
#   2. Claim/ack throughput: workers run bench.claim_ack() (claim_events()
#      of a batch, ack_events(), one transaction) on one consumer over a
#      backlog of events: 4 concurrent workers vs 1.  Only one worker holds
#      the consumer at a time (the others get empty batches and wait 1 ms),
#      so 4 workers should keep, not multiply, the throughput.
# Baseline and subject alternate in every round; medians and ratios are
# reported, never enforced.
#
#   scripts/bench-events.sh            report, and a results table of its own
#   scripts/bench-events.sh --append   also add the rows to the table
#                                      scripts/bench.sh wrote (make bench)
# shellcheck source=SCRIPTDIR/bench-lib.sh
source "$(dirname "$0")/bench-lib.sh"

bench_option "$@"

PG_PORT=${TASK_API_BENCH_EVENTS_PG_PORT:-5489}
STATE=${TASK_API_BENCH_EVENTS_STATE:-bench-events}
ROUNDS=${TASK_API_BENCH_ROUNDS:-3}
NTASKS=${TASK_API_BENCH_EVENTS_TASKS:-20000}
DURATION=${TASK_API_BENCH_EVENTS_DURATION:-8}
BACKLOG=${TASK_API_BENCH_EVENTS_BACKLOG:-1500000}
BATCH=${TASK_API_BENCH_EVENTS_BATCH:-100}
CLAIM_DURATION=${TASK_API_BENCH_EVENTS_CLAIM_DURATION:-3}
UPDATE_TARGET=0.8

DB=bench_events

bench_start "$STATE" "$PG_PORT"
bench_database "$DB"

OWNER=01900000-0000-7000-8000-0000000000f1
EDITOR=01900000-0000-7000-8000-0000000000f2
PROJECT=01900000-0000-7000-8000-0000000000f3
psql_db -v owner="$OWNER" -v editor="$EDITOR" -v project="$PROJECT" -v ntasks="$NTASKS" -f "$BENCH/setup_events.sql" >/dev/null

# pgbench: prints tps (without initial connection time); fails on errors.
run_pgbench() { # run_pgbench NAME CLIENTS SECONDS SCRIPT
    local log="$logdir/pgbench-$1.log" tps
    if ! "$PGBIN/pgbench" -n -M prepared -h "$(socket_dir "$dir")" -p "$PG_PORT" -U postgres \
        -c "$2" -j "$2" -T "$3" -f "$4" "$DB" >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        die "pgbench $1 failed; see $log"
    fi
    grep -q '^number of failed transactions: 0 ' "$log" || die "pgbench $1: failed transactions; see $log"
    tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$log")
    [ -n "$tps" ] || die "pgbench $1: no tps; see $log"
    echo "$tps"
}

# ---------------------------------------------------------------------------
# 1. Task updates with and without the event trigger
# ---------------------------------------------------------------------------
say "events benchmark 1: task updates through api.tasks, event trigger on vs off ($ROUNDS rounds of ${DURATION} s, 2 clients)"
cat > "$logdir/update.sql" <<SQL
\\set n random(1, $NTASKS)
\\set p random(0, 4)
\\set r random(1, 1000000000)
BEGIN;
SELECT set_config('role', 'task_api_user', true), set_config('request.jwt.claims', '{"sub": "$EDITOR", "role": "task_api_user"}', true);
UPDATE api.tasks SET priority = :p, title = 'Task ' || :r WHERE id = (SELECT id FROM bench.task_ids WHERE n = :n);
COMMIT;
SQL
set_trigger() { psql_db -q -c "ALTER TABLE task_api.tasks $1 TRIGGER events_record"; }
time_update() { # time_update bare|api: prints tps
    if [ "$1" = bare ]; then set_trigger DISABLE; else set_trigger ENABLE; fi
    local before after tps
    before=$(psql_db -tAc "SELECT coalesce(max(id), 0) FROM task_api.events")
    psql_db -q -c "CHECKPOINT"
    tps=$(run_pgbench "update-$1" 2 "$DURATION" "$logdir/update.sql")
    after=$(psql_db -tAc "SELECT coalesce(max(id), 0) FROM task_api.events")
    if [ "$1" = bare ]; then
        [ "$after" = "$before" ] || die "the disabled trigger recorded events"
    else
        [ "$after" -gt "$before" ] || die "the enabled trigger recorded no events"
    fi
    echo "$tps"
}
variants=(bare api)
declare -A v_ms=() v_med=()
declare -A v_label=([bare]="events_record disabled (BASELINE)" [api]="events_record enabled: an event row + NOTIFY per update (SUBJECT)")
run_variant_rounds time_update
set_trigger ENABLE
update_ratio=$(ratio "${v_med[api]}" "${v_med[bare]}")
update_met=$(meets "$update_ratio" "$UPDATE_TARGET" ge)
per_round=$(per_round_ratios)
update_bare=${v_med[bare]}
update_api=${v_med[api]}
echo
echo "Task updates through api.tasks, pgbench 2 clients, median of $ROUNDS rounds of ${DURATION} s (tps):"
printf '  %-70s %10.0f tps\n' "${v_label[bare]}" "${v_med[bare]}" "${v_label[api]}" "${v_med[api]}"
echo "  with events / without: ${update_ratio}x (per round:$per_round); target >= ${UPDATE_TARGET}x: $update_met"

# ---------------------------------------------------------------------------
# 2. Claim/ack throughput, 4 workers vs 1
# ---------------------------------------------------------------------------
say "events benchmark 2: claim_events()/ack_events() over a backlog of $BACKLOG events, batches of $BATCH, 4 workers vs 1 ($ROUNDS rounds of ${CLAIM_DURATION} s)"
# The backlog: event rows shaped like those of task updates, inserted in
# bulk (making them through updates would take minutes).
psql_db -q -c "INSERT INTO task_api.events (actor_id, resource_type, resource_id, project_id, action, changes)
               SELECT '$EDITOR', 'task', t.id, '$PROJECT', 'updated', jsonb_build_object('priority', jsonb_build_object('old', g % 5, 'new', (g + 1) % 5))
                 FROM generate_series(1, $BACKLOG) AS g JOIN bench.task_ids t ON t.n = 1 + g % $NTASKS"
psql_db -q -c "VACUUM ANALYZE task_api.events"
have=$(psql_db -tAc "SELECT count(*) FROM task_api.events")
echo "  backlog: $have events"
# A worker that gets an empty batch (another one holds the consumer) waits
# a little before trying again, as a relay waits for a notification.
cat > "$logdir/claim.sql" <<SQL
SET ROLE task_api_relay;
SELECT bench.claim_ack('bench', $BATCH) AS n \\gset
RESET ROLE;
\\if :n
\\else
\\sleep 1 ms
\\endif
SQL
time_claim() { # time_claim bare|api: prints events acknowledged per second
    local clients=1 after
    [ "$1" = api ] && clients=4
    psql_db -q -c "DELETE FROM task_api.event_consumers" -c "INSERT INTO task_api.event_consumers (name) VALUES ('bench')" -c "CHECKPOINT"
    run_pgbench "claim-$1" "$clients" "$CLAIM_DURATION" "$logdir/claim.sql" >/dev/null
    after=$(psql_db -tAc "SELECT acked_id FROM task_api.event_consumers WHERE name = 'bench'")
    [ "$after" -lt "$(psql_db -tAc "SELECT max(id) FROM task_api.events")" ] || die "the backlog ran out during the round: raise TASK_API_BENCH_EVENTS_BACKLOG"
    # The consumer started at 0: acked_id events went through in CLAIM_DURATION s.
    awk -v a="$after" -v d="$CLAIM_DURATION" 'BEGIN {printf "%.0f", a / d}'
}
declare -A v_ms=() v_med=()
declare -A v_label=([bare]="1 worker (BASELINE)" [api]="4 concurrent workers of one consumer (SUBJECT)")
run_variant_rounds time_claim
claim_ratio=$(ratio "${v_med[api]}" "${v_med[bare]}")
per_round=$(per_round_ratios)
echo
echo "Events claimed and acknowledged per second, batches of $BATCH, median of $ROUNDS rounds of ${CLAIM_DURATION} s:"
printf '  %-70s %10.0f events/s\n' "${v_label[bare]}" "${v_med[bare]}" "${v_label[api]}" "${v_med[api]}"
echo "  4 workers / 1 worker: ${claim_ratio}x (per round:$per_round)"

rows=$(
    printf '| Task update through api.tasks with the event trigger (pgbench, 2 clients) | trigger disabled: %.0f tps | enabled: %.0f tps | %sx | >= %sx | %s |\n' \
        "$update_bare" "$update_api" "$update_ratio" "$UPDATE_TARGET" "$update_met"
    printf '| Claim + ack events, batches of %s, one consumer (pgbench) | 1 worker: %.0f events/s | 4 workers: %.0f events/s | %sx | none | n/a |\n' \
        "$BATCH" "${v_med[bare]}" "${v_med[api]}" "$claim_ratio"
)
bench_report "$rows"
