#!/usr/bin/env bash
# Rate-limit benchmarks (run by 'make bench' after the others, or alone), on
# their own throw-away cluster (Unix socket only):
#   1. pgbench, 8 clients: SELECT task_api.pre_request() with limiting on,
#      as PostgREST calls it for an anonymous GET (request.* settings set per
#      connection), vs SELECT 1 -- with one hot bucket shared by every
#      client, and with 100k distinct buckets (X-Forwarded-For trusted, a
#      random client address per request, against the same settings change
#      with SELECT 1).
#   2. 100k limiter checks in one statement over 1000 keys:
#      task_api.rate_limit_charge() vs a table-based limiter (UNLOGGED table,
#      INSERT ... ON CONFLICT DO UPDATE ... RETURNING; bench/rate_limit_table.sql).
#   3. Shared memory used per 100k buckets.
# Baseline and subject alternate in every round; the report gives medians and
# ratios.  Targets are reported, never enforced.  See bench/README.md.
#
#   scripts/bench-rate-limit.sh            report, and a results table of its own
#   scripts/bench-rate-limit.sh --append   also add the rows to the table
#                                          scripts/bench.sh just wrote (make bench)
# shellcheck source=SCRIPTDIR/bench-lib.sh
source "$(dirname "$0")/bench-lib.sh"

bench_option "$@"

PG_PORT=${TASK_API_BENCH_RATE_PG_PORT:-5490}
ROUNDS=${TASK_API_BENCH_ROUNDS:-3}
CLIENTS=${TASK_API_BENCH_RATE_CLIENTS:-8}
DURATION=${TASK_API_BENCH_RATE_DURATION:-10}
WARMUP=${TASK_API_BENCH_RATE_WARMUP:-2}
CALLS=${TASK_API_BENCH_RATE_CALLS:-100000}
KEYS=1000
BUCKETS=100000
CAPACITY=200000
E2E_TARGET=0.7
SPEEDUP_TARGET=20

DB=bench_rate

# Limits high enough never to refuse (lib.sh), a table with room for the
# 100k buckets, client addresses trusted.
bench_start bench-rate "$PG_PORT" "task_api.rate_limit_buckets = $CAPACITY" "task_api.trust_forwarded_for = on"
bench_database "$DB"
SOCK=$(socket_dir "$dir")

psql_db -q -f "$BENCH/rate_limit_table.sql"

# What PostgREST sets for an anonymous GET /projects, per connection here.
REQUEST_OPTIONS="-c role=task_api_anon -c request.method=GET -c request.path=/projects -c request.jwt.claims={\"role\":\"task_api_anon\"} -c request.headers={} -c request.cookies={}"
psql_req() { PGOPTIONS=$REQUEST_OPTIONS "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PG_PORT" -U postgres -d "$DB" "$@"; }

[ "$(psql_db -tAc "SELECT task_api.status() ->> 'rate_limit'")" = on ] || die "rate limiting is not on"
# The subject really limits: it charges the anonymous bucket and sets the headers.
got=$(psql_req -tA 2>&1 <<'SQL'
BEGIN;
SELECT task_api.pre_request();
SELECT current_setting('response.headers');
COMMIT;
SQL
)
echo "$got" | grep -q '"RateLimit": "\\"anon\\";r=' || die "pre_request() set no RateLimit header: $got"

# 100k distinct client addresses, charged once each.
addr_sql() { echo "'10.' || (($1) / 65536) || '.' || (($1) / 256 % 256) || '.' || (($1) % 256)"; }
say "rate-limit benchmark setup: $BUCKETS buckets (table capacity $CAPACITY)"
psql_db -tAc "SELECT count(*) FILTER (WHERE c.allowed) FROM generate_series(0, $BUCKETS - 1) g,
                LATERAL task_api.rate_limit_charge('anon', $(addr_sql g)) c" >/dev/null
in_use=$(psql_db -tAc "SELECT task_api.status() -> 'rate_limit_buckets' ->> 'in_use'")
[ "$in_use" -ge "$BUCKETS" ] || die "expected $BUCKETS buckets, found $in_use"

echo "SELECT 1;" > "$logdir/select1.sql"
echo "SELECT task_api.pre_request();" > "$logdir/hot.sql"
cp "$logdir/hot.sql" "$logdir/off.sql"
{
    echo "\\set a random(0, $((BUCKETS - 1)))"
    echo "SELECT set_config('request.headers', '{\"x-forwarded-for\": \"' || $(addr_sql :a) || '\"}', false), task_api.pre_request();"
} > "$logdir/spread.sql"
{
    echo "\\set a random(0, $((BUCKETS - 1)))"
    echo "SELECT set_config('request.headers', '{\"x-forwarded-for\": \"' || $(addr_sql :a) || '\"}', false), 1;"
} > "$logdir/spread-control.sql"

# The anonymous limit: "off" runs the same hook with it at 0 (not charged,
# no headers), to show what limiting itself adds.
anon_limit() {
    psql_db -qc "ALTER SYSTEM SET task_api.rate_limit_anon = $1" -c "SELECT pg_reload_conf()" >/dev/null
    for _ in $(seq 1 200); do
        [ "$(psql_db -tAc "SHOW task_api.rate_limit_anon")" = "$1" ] && return
        sleep 0.05
    done
    die "task_api.rate_limit_anon did not become $1"
}
pgbench_run() { # pgbench_run NAME SECONDS: tps
    local name=$1 secs=$2 out log="$logdir/pgbench-$1.log"
    [ "$name" = off ] && anon_limit 0
    if ! PGOPTIONS=$REQUEST_OPTIONS "$PGBIN/pgbench" -n -M prepared -h "$SOCK" -p "$PG_PORT" -U postgres \
        -c "$CLIENTS" -j 2 -T "$secs" -f "$logdir/$name.sql" "$DB" >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        die "pgbench $name failed; see $log"
    fi
    out=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$log")
    grep -q '^number of failed transactions: 0 ' "$log" || die "pgbench $name: failed transactions; see $log"
    [ -n "$out" ] || die "pgbench $name: no tps; see $log"
    [ "$name" = off ] && anon_limit 100000000
    echo "$out"
}

say "rate-limit benchmark 1: pgbench -M prepared, $CLIENTS clients over a Unix socket, -T $DURATION, $ROUNDS rounds"
for v in select1 off hot spread-control spread; do pgbench_run "$v" "$WARMUP" >/dev/null; done
declare -A tps=()
for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then order=(select1 off hot spread-control spread); else order=(spread spread-control hot off select1); fi
    line="round $r:"
    for v in "${order[@]}"; do
        t=$(pgbench_run "$v" "$DURATION")
        tps[$v]="${tps[$v]:-} $t"
        line="$line $v=$(printf '%.0f' "$t")"
    done
    echo "  $line tps"
done
declare -A med=()
for v in select1 off hot spread-control spread; do
    med[$v]=$(median_of "${tps[$v]}")
done
hot_ratio=$(ratio "${med[hot]}" "${med[select1]}")
off_ratio=$(ratio "${med[off]}" "${med[select1]}")
limit_ratio=$(ratio "${med[hot]}" "${med[off]}")
spread_ratio=$(ratio "${med[spread]}" "${med[spread-control]}")
per_round() { # per_round SUBJECT BASELINE
    local out="" i s b
    read -r -a s <<<"${tps[$1]}"
    read -r -a b <<<"${tps[$2]}"
    for i in "${!s[@]}"; do out="$out $(ratio "${s[$i]}" "${b[$i]}")x"; done
    echo "$out"
}
in_use_after=$(psql_db -tAc "SELECT task_api.status() -> 'rate_limit_buckets' ->> 'in_use'")
echo
echo "pgbench, $CLIENTS clients, median of $ROUNDS rounds of ${DURATION} s, $(nproc) CPUs (buckets in use: $in_use_after):"
printf '  %-78s %9.0f tps\n' \
    "SELECT 1 (BASELINE)" "${med[select1]}" \
    "SELECT task_api.pre_request(), anonymous, limiting off (reference)" "${med[off]}" \
    "SELECT task_api.pre_request(), anonymous, one hot bucket (SUBJECT)" "${med[hot]}" \
    "set_config(X-Forwarded-For of 100k addresses), 1 (BASELINE)" "${med[spread-control]}" \
    "set_config(X-Forwarded-For of 100k addresses), task_api.pre_request() (SUBJECT)" "${med[spread]}"
echo "  one hot bucket:   ${hot_ratio}x of SELECT 1 (per round:$(per_round hot select1)); target >= ${E2E_TARGET}x: $(meets "$hot_ratio" "$E2E_TARGET")"
echo "  pre_request() without limiting: ${off_ratio}x of SELECT 1; limiting on / off: ${limit_ratio}x (per round:$(per_round hot off))"
echo "  100k buckets:     ${spread_ratio}x of the same statement without the hook (per round:$(per_round spread spread-control)); target >= ${E2E_TARGET}x: $(meets "$spread_ratio" "$E2E_TARGET")"

# ---------------------------------------------------------------------------
# 2. 100k limiter checks in one statement
# ---------------------------------------------------------------------------
say "rate-limit benchmark 2: $CALLS limiter checks over $KEYS keys in one statement ($ROUNDS rounds)"
key_sql="'10.0.' || (g % $KEYS / 256) || '.' || (g % $KEYS % 256)"
declare -A q_sql=(
    [bare]="SELECT count(*) FILTER (WHERE bench.table_limiter($key_sql, 100000000, 100000000)) FROM generate_series(1, $CALLS) g"
    [api]="SELECT count(*) FILTER (WHERE (task_api.rate_limit_charge('anon', $key_sql)).allowed) FROM generate_series(1, $CALLS) g"
    [hook]="SELECT count(*) FROM generate_series(1, $CALLS) g, LATERAL (SELECT set_config('request.headers', json_build_object('x-forwarded-for', $key_sql)::text, true), set_config('response.headers', '[]', true), task_api.pre_request()) h")
variants=(bare api hook)
declare -A v_label=(
    [bare]="table-based limiter: UNLOGGED table, INSERT ... ON CONFLICT DO UPDATE ... RETURNING (BASELINE)"
    [api]="task_api.rate_limit_charge(): the shared-memory limiter (SUBJECT)"
    [hook]="task_api.pre_request() with the request's headers set per row (reference)")
# Both limiters admit every check (limits far above $CALLS a minute) and the
# table one really refuses over its limit.
for v in bare api hook; do
    got=$(psql_db -tAc "${q_sql[$v]}")
    [ "$got" = "$CALLS" ] || die "$v: expected $CALLS admitted, got $got"
done
got=$(psql_db -tAc "SELECT count(*) FILTER (WHERE bench.table_limiter('refuse-check', 60, 3)) FROM generate_series(1, 5)")
[ "$got" = 3 ] || die "the table limiter admitted $got of 5 with a burst of 3"
[ "$(psql_db -tAc "SELECT count(*) FROM bench.rate_buckets")" = "$((KEYS + 1))" ] || die "the table limiter does not hold $KEYS keys"
time_query() { statement_ms "$1" "${q_sql[$1]}"; }  # time_query VARIANT: milliseconds
for v in "${variants[@]}"; do time_query "$v" >/dev/null; done   # warm-up
declare -A v_ms=() v_med=()
run_variant_rounds time_query
speedup=$(ratio "${v_med[bare]}" "${v_med[api]}")
bare_us=$(awk -v m="${v_med[bare]}" -v n="$CALLS" 'BEGIN {printf "%.2f", m * 1000 / n}')
api_us=$(awk -v m="${v_med[api]}" -v n="$CALLS" 'BEGIN {printf "%.2f", m * 1000 / n}')
hook_us=$(awk -v m="${v_med[hook]}" -v n="$CALLS" 'BEGIN {printf "%.2f", m * 1000 / n}')
echo
echo "$CALLS checks over $KEYS keys in one statement, median of $ROUNDS rounds:"
print_variants "$CALLS"
echo "  shared-memory limiter speed-up over the table: ${speedup}x (per round:$(
    read -r -a a <<<"${v_ms[api]}"; read -r -a b <<<"${v_ms[bare]}"
    for i in "${!a[@]}"; do printf ' %sx' "$(ratio "${b[$i]}" "${a[$i]}")"; done)); target >= ${SPEEDUP_TARGET}x: $(meets "$speedup" "$SPEEDUP_TARGET")"

# ---------------------------------------------------------------------------
# 3. Shared memory
# ---------------------------------------------------------------------------
mem=$(psql_db -tAc "SELECT task_api.status() -> 'rate_limit_buckets' ->> 'shared_memory_bytes'")
per100k=$(awk -v m="$mem" -v c="$CAPACITY" -v n="$BUCKETS" 'BEGIN {printf "%.1f", m * n / c / 1048576}')
per_bucket=$(awk -v m="$mem" -v c="$CAPACITY" 'BEGIN {printf "%.0f", m / c}')
echo
echo "Shared memory: $mem bytes for a table of $CAPACITY buckets: $per_bucket bytes a bucket, $per100k MiB per 100k buckets (reserved at startup)"

# shellcheck disable=SC2016 # the backquotes are Markdown code spans, not commands
rows=$(
    printf '| Rate limiting: `SELECT task_api.pre_request()` with limiting on, one hot anonymous bucket (pgbench, %s clients, %s s) | `SELECT 1`: %.0f tps | %.0f tps | %sx | >= %sx | %s |\n' \
        "$CLIENTS" "$DURATION" "${med[select1]}" "${med[hot]}" "$hot_ratio" "$E2E_TARGET" "$(meets "$hot_ratio" "$E2E_TARGET")"
    printf '| The same hook with the anonymous limit at 0 (not charged): what limiting itself costs | the hook, limiting off: %.0f tps | %.0f tps | %sx | | |\n' \
        "${med[off]}" "${med[hot]}" "$limit_ratio"
    printf '| The same over 100k buckets (a random trusted client address per request) | the same settings change with `SELECT 1`: %.0f tps | %.0f tps | %sx | >= %sx | %s |\n' \
        "${med[spread-control]}" "${med[spread]}" "$spread_ratio" "$E2E_TARGET" "$(meets "$spread_ratio" "$E2E_TARGET")"
    printf '| %s limiter checks over %s keys in one statement (speed-up) | table-based limiter (UNLOGGED upsert): %s us/check | shared memory: %s us/check | %sx faster | >= %sx | %s |\n' \
        "$CALLS" "$KEYS" "$bare_us" "$api_us" "$speedup" "$SPEEDUP_TARGET" "$(meets "$speedup" "$SPEEDUP_TARGET")"
    printf '| Shared memory per 100k rate-limit buckets | | %s MiB (%s bytes a bucket) | | | |\n' "$per100k" "$per_bucket"
)
bench_report "$rows" "$ROOT/.task_api/bench-rate-limit-results.md"
echo "(pre_request() per call with its settings set per row, for reference: $hook_us us)"
