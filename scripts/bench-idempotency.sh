#!/usr/bin/env bash
# Idempotency-key benchmarks (run by 'make bench' after scripts/bench-trash.sh,
# or alone), on their own throw-away cluster and PostgREST on 127.0.0.1:
#   1. POST /tasks (one task, return=representation) with a fresh
#      Idempotency-Key on every request (claim + record in the same
#      transaction) vs the same POST without the header: throughput ratio,
#      target >= 0.8x.
#   2. A replay (the same key and body every time: nothing is written, the
#      stored row is returned) vs a fresh create with a key.
# The three variants alternate in every round (reversed every other round);
# the report gives medians and ratios.  Targets are reported, never enforced.
#
#   scripts/bench-idempotency.sh            report, and a results table of its own
#   scripts/bench-idempotency.sh --append   also add the rows to the table
#                                           scripts/bench.sh wrote (make bench)
# shellcheck source=SCRIPTDIR/bench-lib.sh
source "$(dirname "$0")/bench-lib.sh"

bench_option "$@"

PG_PORT=${TASK_API_BENCH_IDEM_PG_PORT:-5491}
API_PORT=${TASK_API_BENCH_IDEM_PORT:-3991}
STATE=${TASK_API_BENCH_IDEM_STATE:-bench-idem}
ROUNDS=${TASK_API_BENCH_ROUNDS:-5}
REQUESTS=${TASK_API_BENCH_IDEM_REQUESTS:-2000}
CONCURRENCY=${TASK_API_BENCH_IDEM_CONCURRENCY:-4}
WARMUP=${TASK_API_BENCH_IDEM_WARMUP:-300}
FRESH_TARGET=0.8

DB=bench_idem

bench_start "$STATE" "$PG_PORT"
bench_database "$DB"

# One user, one project; a real session (tokens must be bound to one).
USER_ID=01900000-0000-7000-8000-0000000000f1
PROJECT=01900000-0000-7000-8000-0000000000f2
psql_db -v user_id="$USER_ID" -v project="$PROJECT" -f "$BENCH/setup_idempotency.sql"
TOKEN=$(psql_db -tAc "SELECT task_api.start_session('$USER_ID') ->> 'token'")
BODY="{\"project_id\": \"$PROJECT\", \"title\": \"benchmark task\", \"priority\": 3}"

bench_postgrest api "$(postgrest_config "$dir" "$PG_PORT" "$DB" "$API_PORT")" "$API_PORT"
URL="http://127.0.0.1:$API_PORT/tasks"

load() { # load MODE REQUESTS: one JSON line
    node "$BENCH/idempotency_load.mjs" "$URL" --token "$TOKEN" --body "$BODY" --mode "$1" \
        --requests "$2" --concurrency "$CONCURRENCY" --timeout 300
}
jfield() { node -e 'const o = JSON.parse(process.argv[1]); console.log(o[process.argv[2]])' "$1" "$2"; }

say "POST /tasks through PostgREST: $REQUESTS requests per variant and round, $CONCURRENCY connections, $ROUNDS rounds"
for mode in plain fresh replay; do load "$mode" "$WARMUP" >/dev/null || die "warm-up $mode failed"; done

# Correctness of what is measured: fresh creates rows, replay creates none.
before=$(psql_db -tAc "SELECT count(*) FROM task_api.tasks")
out=$(load replay 50)
[ "$(jfield "$out" replayed)" = 50 ] || die "replays are not replays: $out"
[ "$(psql_db -tAc "SELECT count(*) FROM task_api.tasks")" = $((before + 1)) ] || die "a replay wrote a row"

declare -A rps_of p50_of
variants=(plain fresh replay)
for r in $(seq 1 "$ROUNDS"); do
    order=("${variants[@]}")
    [ $((r % 2)) = 0 ] && order=(replay fresh plain)
    line="round $r:"
    for v in "${order[@]}"; do
        out=$(load "$v" "$REQUESTS") || die "$v: requests failed: $out"
        [ "$(jfield "$out" ok)" = "$REQUESTS" ] || die "$v: did not finish $REQUESTS requests: $out"
        if [ "$v" = replay ]; then
            [ "$(jfield "$out" replayed)" = "$REQUESTS" ] || die "replay: not every response was a replay: $out"
        fi
        rps_of[$v]="${rps_of[$v]:-} $(jfield "$out" rps)"
        p50_of[$v]="${p50_of[$v]:-} $(jfield "$out" p50_ms)"
        line="$line $v=$(jfield "$out" rps) req/s"
    done
    echo "  $line"
done
plain=$(median_of "${rps_of[plain]}"); fresh=$(median_of "${rps_of[fresh]}"); replay=$(median_of "${rps_of[replay]}")
plain_p50=$(median_of "${p50_of[plain]}"); fresh_p50=$(median_of "${p50_of[fresh]}"); replay_p50=$(median_of "${p50_of[replay]}")
fresh_ratio=$(ratio "$fresh" "$plain")
replay_ratio=$(ratio "$replay" "$fresh")
fresh_met=$(meets "$fresh_ratio" "$FRESH_TARGET" ge)
read -r -a a_plain <<<"${rps_of[plain]}"
read -r -a a_fresh <<<"${rps_of[fresh]}"
read -r -a a_replay <<<"${rps_of[replay]}"
per_fresh="" per_replay=""
for i in "${!a_plain[@]}"; do
    per_fresh="$per_fresh $(ratio "${a_fresh[$i]}" "${a_plain[$i]}")x"
    per_replay="$per_replay $(ratio "${a_replay[$i]}" "${a_fresh[$i]}")x"
done
keys=$(psql_db -tAc "SELECT count(*) FROM task_api.idempotency_keys")

echo
echo "POST /tasks, one task, Prefer: return=representation (median of $ROUNDS rounds):"
printf '  %-48s %9s req/s  p50 %6s ms\n' \
    "without Idempotency-Key (BASELINE)" "$plain" "$plain_p50" \
    "fresh Idempotency-Key each request (SUBJECT)" "$fresh" "$fresh_p50" \
    "replay of one key (nothing written)" "$replay" "$replay_p50"
echo "  fresh key / no key: ${fresh_ratio}x (per round:$per_fresh); target >= ${FRESH_TARGET}x: $fresh_met"
echo "  replay / fresh create: ${replay_ratio}x (per round:$per_replay)"
echo "  ($keys keys stored in the run)"

rows=$(
    printf '| POST /tasks through PostgREST with a fresh Idempotency-Key per request (%s connections) | no key: %s req/s | fresh key: %s req/s | %sx | >= %sx | %s |\n' \
        "$CONCURRENCY" "$plain" "$fresh" "$fresh_ratio" "$FRESH_TARGET" "$fresh_met"
    printf '| POST /tasks replayed (same key and body: nothing written) vs a fresh create with a key | fresh create: %s req/s | replay: %s req/s | %sx | none | n/a |\n' \
        "$fresh" "$replay" "$replay_ratio"
)
bench_report "$rows"
