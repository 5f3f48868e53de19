#!/usr/bin/env bash
# make bench: measure task_api against bare baselines, side by side, on a
# throw-away cluster and two PostgREST instances on localhost (both reach
# the database over its Unix socket, as scripts/lib.sh postgrest_config
# connects them).
#   1. INSERT ... SELECT of N tasks through api.tasks (INSTEAD OF trigger,
#      validation, RLS, FKs, stamp and event triggers) vs into a bare table with the
#      same columns, defaults, CHECKs and indexes (no triggers, RLS or FKs).
#   2. GET /tasks?limit=25 through PostgREST with JWT, the request gate and RLS vs
#      a second PostgREST serving a plain table with the same rows.
# The machine may be shared and noisy, so baseline and subject alternate in
# every round and the report gives medians and their ratio.  Targets are
# reported, never enforced.  See bench/README.md.
# shellcheck source=SCRIPTDIR/bench-lib.sh
source "$(dirname "$0")/bench-lib.sh"

PG_PORT=${TASK_API_BENCH_PG_PORT:-5496}
API_PORT=${TASK_API_BENCH_PORT:-3996}
BARE_PORT=${TASK_API_BENCH_BARE_PORT:-3995}
ROUNDS=${TASK_API_BENCH_ROUNDS:-3}
ROWS=${TASK_API_BENCH_ROWS:-200000}
BREAKDOWN_ROWS=${TASK_API_BENCH_BREAKDOWN_ROWS:-50000}
SEED_TASKS=${TASK_API_BENCH_SEED_TASKS:-100000}
SEED_PROJECTS=${TASK_API_BENCH_SEED_PROJECTS:-10}
MEMBER_OF=${TASK_API_BENCH_MEMBER_OF:-3}
REQUESTS=${TASK_API_BENCH_REQUESTS:-5000}
CONCURRENCY=${TASK_API_BENCH_CONCURRENCY:-8}
WARMUP=${TASK_API_BENCH_WARMUP:-500}
# Targets of the per-request cost work (docs/performance.md).
INSERT_TARGET=1.8
HTTP_TARGET=0.90

bench_start bench "$PG_PORT"

# ---------------------------------------------------------------------------
# 1. Inserting tasks
# ---------------------------------------------------------------------------
say "benchmark 1: INSERT ... SELECT of $ROWS tasks ($ROUNDS rounds)"
OWNER=01900000-0000-7000-8000-000000000001
EDITOR=01900000-0000-7000-8000-000000000002
PROJECT=01900000-0000-7000-8000-0000000000a1
bench_database bench_insert
bench_psql bench_insert -v owner="$OWNER" -v editor="$EDITOR" -v project="$PROJECT" -f "$BENCH/setup_insert.sql"

# The rows: the same generated values for every variant.  Every other task is
# assigned (to the editor, a member), a quarter are done (stamp_row sets
# completed_at), all have a description and a due date.
insert_sql() { # insert_sql TARGET WITH_CREATED_BY ROWS
    local target=$1 with_created_by=$2 n=$3 cols vals
    cols="project_id, assignee_id, title, description, status, priority, due_date"
    vals="'$PROJECT'::uuid, CASE WHEN g % 2 = 0 THEN '$EDITOR'::uuid END, 'Task ' || g,
          'Benchmark task number ' || g,
          (ARRAY['todo', 'in_progress', 'blocked', 'done']::task_api.task_status[])[1 + g % 4],
          g % 5, DATE '2025-01-01' + g % 90"
    if [ "$with_created_by" = 1 ]; then
        cols="$cols, created_by"
        vals="$vals, '$EDITOR'::uuid"
    fi
    echo "INSERT INTO $target ($cols) SELECT $vals FROM generate_series(1, $n) AS g"
}
AS_EDITOR="SET ROLE task_api_user;
SELECT set_config('request.jwt.claims', '{\"sub\": \"$EDITOR\", \"role\": \"task_api_user\"}', false) \\g /dev/null"

# Variants: key -> target table, whether created_by is given, session setup.
variants=(heap nofk bare direct_su direct_user api)
declare -A v_target=([heap]=bench.heap_tasks [nofk]=bench.nofk_tasks [bare]=bench.bare_tasks [direct_su]=task_api.tasks
                     [direct_user]=task_api.tasks [api]=api.tasks)
declare -A v_created_by=([heap]=1 [nofk]=1 [bare]=1 [direct_su]=1 [direct_user]=1 [api]=0)
declare -A v_setup=([heap]="" [nofk]="" [bare]="" [direct_su]="" [direct_user]="$AS_EDITOR" [api]="$AS_EDITOR")
declare -A v_table=([heap]=bench.heap_tasks [nofk]=bench.nofk_tasks [bare]=bench.bare_tasks [direct_su]=task_api.tasks
                    [direct_user]=task_api.tasks [api]=task_api.tasks)
declare -A v_label=(
    [heap]="heap only: same columns + defaults, no constraints/indexes"
    [nofk]="+ CHECKs, PK, indexes (no foreign keys)"
    [bare]="bare table, the same constraints: + the 4 foreign keys (BASELINE)"
    [direct_su]="task_api.tasks as superuser: + stamp and event triggers (no RLS)"
    [direct_user]="task_api.tasks as task_api_user: + RLS WITH CHECK"
    [api]="api.tasks as task_api_user: + INSTEAD OF trigger, validation (SUBJECT)")
declare -A v_ms=()

# Time one variant on an empty table; prints milliseconds (psql \timing).
time_insert() { # time_insert VARIANT ROWS
    local v=$1 n=$2 out ms
    bench_psql bench_insert -c "TRUNCATE ${v_table[$v]}" -c "CHECKPOINT"
    out=$(bench_psql bench_insert <<SQL
${v_setup[$v]}
\\timing on
$(insert_sql "${v_target[$v]}" "${v_created_by[$v]}" "$n");
SQL
)
    ms=$(printf '%s\n' "$out" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n1)
    [ -n "$ms" ] || die "no timing for $v: $out"
    local count
    count=$(bench_psql bench_insert -tAc "SELECT count(*) FROM ${v_table[$v]}")
    [ "$count" = "$n" ] || die "$v inserted $count rows, expected $n"
    echo "$ms"
}

declare -A v_med=()
run_variant_rounds time_insert "$ROWS"
insert_ratio=$(ratio "${v_med[api]}" "${v_med[bare]}")
insert_met=$(meets "$insert_ratio" "$INSERT_TARGET" le)
per_round=$(per_round_ratios)

echo
echo "Insert $ROWS tasks, median of $ROUNDS rounds (ratio to the bare table; per-row cost):"
print_variants "$ROWS"
echo "  the baseline's foreign keys: $(awk -v a="${v_med[bare]}" -v b="${v_med[nofk]}" -v n="$ROWS" 'BEGIN {printf "%.1f us/row", (a - b) * 1000 / n}')"
echo "  where the time goes (differences of medians, per row):"
echo "    stamp + event triggers            $(overhead_step "${v_med[direct_su]}" "${v_med[bare]}" "$ROWS")"
echo "    RLS WITH CHECK                    $(overhead_step "${v_med[direct_user]}" "${v_med[direct_su]}" "$ROWS")"
echo "    INSTEAD OF trigger + validation   $(overhead_step "${v_med[api]}" "${v_med[direct_user]}" "$ROWS")"
echo "  api.tasks / bare table: ${insert_ratio}x (per round:$per_round); target <= ${INSERT_TARGET}x: $insert_met"

# Breakdown, outside the timed rounds (instrumentation slows things down).
say "insert breakdown on $BREAKDOWN_ROWS rows (instrumented, not part of the ratio)"
bench_psql bench_insert -c "TRUNCATE task_api.tasks"
echo "  EXPLAIN ANALYZE of the insert into task_api.tasks as task_api_user:"
bench_psql bench_insert -tA <<SQL | grep -E 'Trigger|Execution Time|Planning Time|SubPlan|Insert on' | sed 's/^/    /'
$AS_EDITOR
EXPLAIN (ANALYZE, COSTS OFF) $(insert_sql task_api.tasks 1 "$BREAKDOWN_ROWS");
SQL
bench_psql bench_insert -c "TRUNCATE task_api.tasks" -c "SELECT pg_stat_reset()" >/dev/null
bench_psql bench_insert -tA <<SQL >/dev/null
SET track_functions = 'all';
$AS_EDITOR
$(insert_sql api.tasks 0 "$BREAKDOWN_ROWS");
SQL
echo "  functions called by the api.tasks insert (track_functions = all; self time excludes callees):"
bench_psql bench_insert -P footer=off <<'SQL' | sed 's/^/    /'
SELECT schemaname || '.' || funcname AS function, calls,
       round(total_time::numeric) AS total_ms, round(self_time::numeric) AS self_ms,
       round((1000 * self_time / calls)::numeric, 2) AS self_us_per_call
  FROM pg_stat_user_functions
 ORDER BY self_time DESC
 LIMIT 12;
SQL

# ---------------------------------------------------------------------------
# 2. Reading tasks through PostgREST
# ---------------------------------------------------------------------------
say "benchmark 2: GET /tasks?limit=25, $REQUESTS requests x $ROUNDS rounds, concurrency $CONCURRENCY"
M_OWNER=01900000-0000-7000-8000-000000000011
M_OTHER=01900000-0000-7000-8000-000000000012
MEMBER=01900000-0000-7000-8000-000000000013
bench_database bench_api
bench_psql bench_api -v owner="$M_OWNER" -v other="$M_OTHER" -v member="$MEMBER" \
    -v projects="$SEED_PROJECTS" -v member_of="$MEMBER_OF" -v tasks="$SEED_TASKS" -f "$BENCH/setup_http.sql"
bench_psql postgres -c "CREATE DATABASE bench_bare"
bench_psql bench_bare -f "$BENCH/setup_bare.sql"
bench_psql bench_api -c "\\copy (SELECT * FROM api.tasks ORDER BY id) TO STDOUT" \
    | bench_psql bench_bare -c "\\copy api.tasks FROM STDIN"
bench_psql bench_bare -c "VACUUM (ANALYZE) api.tasks"
visible=$(bench_psql bench_api -tAc "SELECT count(*) FROM task_api.tasks t JOIN task_api.project_members m ON m.project_id = t.project_id AND m.user_id = '$MEMBER'")
echo "  $SEED_TASKS tasks in $SEED_PROJECTS projects; the member sees $visible of them (bare table: all $(bench_psql bench_bare -tAc 'SELECT count(*) FROM api.tasks'))"

password=$(as_pg cat "$dir/authenticator.password")
bare_conf="$ROOT/.task_api/postgrest-bench-bare.conf"
(
    umask 077
    cat > "$bare_conf" <<CONF
db-uri = "postgres://task_api_authenticator:$password@127.0.0.1:$PG_PORT/bench_bare"
db-schemas = "api"
db-anon-role = "bench_anon"
server-host = "127.0.0.1"
server-port = $BARE_PORT
log-level = "warn"
CONF
)
bench_postgrest api "$(postgrest_config "$dir" "$PG_PORT" bench_api "$API_PORT")" "$API_PORT"
bench_postgrest bare "$bare_conf" "$BARE_PORT"

# A real session for the member: tokens must be bound to one.
TOKEN=$(bench_psql bench_api -tAc "SELECT task_api.start_session('$MEMBER') ->> 'token'")
JTI=$(bench_psql bench_api -tAc "SELECT id FROM task_api.sessions WHERE user_id = '$MEMBER' ORDER BY created_at DESC LIMIT 1")
API_URL="http://127.0.0.1:$API_PORT/tasks?limit=25"
BARE_URL="http://127.0.0.1:$BARE_PORT/tasks?limit=25"
member_projects=$(bench_psql bench_api -tAc "SELECT string_agg(project_id::text, ',') FROM task_api.project_members WHERE user_id = '$MEMBER'")

# Both endpoints must answer 25 rows, the task_api one only from the member's projects.
node --input-type=module - "$API_URL" "$TOKEN" "$BARE_URL" "$member_projects" <<'JS' || die "the endpoints do not answer as expected"
const [apiUrl, token, bareUrl, projects] = process.argv.slice(2);
const allowed = new Set(projects.split(','));
const get = async (url, auth) => {
  const res = await fetch(url, { headers: auth ? { Authorization: `Bearer ${auth}` } : {} });
  const body = await res.json();
  if (res.status !== 200 || !Array.isArray(body) || body.length !== 25) {
    throw new Error(`${url}: HTTP ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
  }
  return body;
};
const rows = await get(apiUrl, token);
if (!rows.every((r) => allowed.has(r.project_id))) throw new Error('task_api returned a task of another project');
const bare = await get(bareUrl);
if (Object.keys(bare[0]).join() !== Object.keys(rows[0]).join()) throw new Error('the two endpoints return different columns');
JS

load() { # load URL [TOKEN] REQUESTS: one JSON line
    local url=$1 token=$2 n=$3
    node "$BENCH/load.mjs" "$url" ${token:+--token "$token"} --requests "$n" \
        --concurrency "$CONCURRENCY" --timeout 120
}
jfield() { node -e 'const o = JSON.parse(process.argv[1]); console.log(o[process.argv[2]])' "$1" "$2"; }

load "$BARE_URL" "" "$WARMUP" >/dev/null
load "$API_URL" "$TOKEN" "$WARMUP" >/dev/null
h_api=() h_bare=() h_api_p50=() h_bare_p50=() h_api_p99=() h_bare_p99=()
for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then order=(bare api); else order=(api bare); fi
    line="round $r:"
    for side in "${order[@]}"; do
        if [ "$side" = api ]; then out=$(load "$API_URL" "$TOKEN" "$REQUESTS"); else out=$(load "$BARE_URL" "" "$REQUESTS"); fi
        failed=$(jfield "$out" failed)
        [ "$failed" = 0 ] || die "$side: $failed requests failed: $out"
        [ "$(jfield "$out" ok)" = "$REQUESTS" ] || die "$side: did not finish $REQUESTS requests in time: $out"
        rps=$(jfield "$out" rps)
        if [ "$side" = api ]; then
            h_api+=("$rps"); h_api_p50+=("$(jfield "$out" p50_ms)"); h_api_p99+=("$(jfield "$out" p99_ms)")
        else
            h_bare+=("$rps"); h_bare_p50+=("$(jfield "$out" p50_ms)"); h_bare_p99+=("$(jfield "$out" p99_ms)")
        fi
        line="$line $side=${rps} req/s (p50 $(jfield "$out" p50_ms) ms)"
    done
    echo "  $line"
done
api_rps=$(median "${h_api[@]}")
bare_rps=$(median "${h_bare[@]}")
http_ratio=$(ratio "$api_rps" "$bare_rps")
http_met=$(meets "$http_ratio" "$HTTP_TARGET" ge)
per_round=""
for i in "${!h_api[@]}"; do per_round="$per_round $(ratio "${h_api[$i]}" "${h_bare[$i]}")x"; done
echo
echo "GET /tasks?limit=25, median of $ROUNDS rounds of $REQUESTS requests (concurrency $CONCURRENCY):"
printf '  %-58s %8.1f req/s  p50 %6.2f ms  p99 %6.2f ms\n' "bare table, anonymous (BASELINE)" "$bare_rps" \
    "$(median "${h_bare_p50[@]}")" "$(median "${h_bare_p99[@]}")"
printf '  %-58s %8.1f req/s  p50 %6.2f ms  p99 %6.2f ms\n' "api.tasks with JWT, the request gate and RLS (SUBJECT)" "$api_rps" \
    "$(median "${h_api_p50[@]}")" "$(median "${h_api_p99[@]}")"
echo "  task_api / bare: ${http_ratio}x (per round:$per_round); target >= ${HTTP_TARGET}x: $http_met"

# The counters' cost (src/metrics.c): the same GET with task_api.metrics on
# and off (a reload), alternating in every round; the ratio of the medians.
set_metrics() { # set_metrics on|off: by ALTER SYSTEM and a reload, seen by new connections
    bench_psql postgres -c "ALTER SYSTEM SET task_api.metrics = $1" -c "SELECT pg_reload_conf()" >/dev/null
    for _ in $(seq 1 200); do
        [ "$(bench_psql postgres -tAc "SHOW task_api.metrics")" = "$1" ] && return
        sleep 0.05
    done
    die "task_api.metrics did not become $1"
}
m_on=() m_off=()
for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then order=(off on); else order=(on off); fi
    line="round $r:"
    for state in "${order[@]}"; do
        set_metrics "$state"
        # Let every pooled connection reread the configuration first.
        load "$API_URL" "$TOKEN" "$WARMUP" >/dev/null
        out=$(load "$API_URL" "$TOKEN" "$REQUESTS")
        [ "$(jfield "$out" ok)" = "$REQUESTS" ] || die "metrics $state: did not finish $REQUESTS requests: $out"
        if [ "$state" = on ]; then m_on+=("$(jfield "$out" rps)"); else m_off+=("$(jfield "$out" rps)"); fi
        line="$line metrics $state=$(jfield "$out" rps) req/s"
    done
    echo "  $line"
done
set_metrics on
metrics_ratio=$(ratio "$(median "${m_on[@]}")" "$(median "${m_off[@]}")")
per_round=""
for i in "${!m_on[@]}"; do per_round="$per_round $(ratio "${m_on[$i]}" "${m_off[$i]}")x"; done
echo "  counters on / off (task_api.metrics): $(median "${m_on[@]}") / $(median "${m_off[@]}") req/s = ${metrics_ratio}x (per round:$per_round)"

# Breakdown: the per-request statements PostgREST sends (settings, at whose
# end the request gate runs in a database with task_api, then the wrapped
# SELECT), replayed by pgbench without HTTP, JWT or PostgREST.
pgrst_sql() { # pgrst_sql ROLE CLAIMS
    cat <<SQL
BEGIN;
SELECT set_config('search_path', '"api", "public"', true), set_config('role', '$1', true), set_config('request.jwt.claims', '$2', true), set_config('request.method', 'GET', true), set_config('request.path', '/tasks', true), set_config('request.headers', '{"accept": "application/json", "host": "127.0.0.1"}', true), set_config('request.cookies', '{}', true);
WITH pgrst_source AS (SELECT "api"."tasks".* FROM "api"."tasks" LIMIT 25 OFFSET 0) SELECT null::bigint AS total_result_set, pg_catalog.count(_postgrest_t) AS page_total, coalesce(json_agg(_postgrest_t), '[]') AS body, nullif(current_setting('response.headers', true), '') AS response_headers, nullif(current_setting('response.status', true), '') AS response_status, '' AS response_inserted FROM (SELECT * FROM pgrst_source) AS _postgrest_t;
COMMIT;
SQL
}
pgrst_sql task_api_user "{\"sub\": \"$MEMBER\", \"role\": \"task_api_user\", \"jti\": \"$JTI\"}" > "$logdir/pgbench-api.sql"
pgrst_sql bench_anon '{"role": "bench_anon"}' > "$logdir/pgbench-bare.sql"
pgbench_tps() { # pgbench_tps DB SCRIPT
    "$PGBIN/pgbench" -n -M prepared -h "$(socket_dir "$dir")" -p "$PG_PORT" -U postgres \
        -c "$CONCURRENCY" -j 2 -t $((REQUESTS / CONCURRENCY)) -f "$2" "$1" 2>&1 \
        | sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p'
}
s_api=() s_bare=()
for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then
        s_bare+=("$(pgbench_tps bench_bare "$logdir/pgbench-bare.sql")"); s_api+=("$(pgbench_tps bench_api "$logdir/pgbench-api.sql")")
    else
        s_api+=("$(pgbench_tps bench_api "$logdir/pgbench-api.sql")"); s_bare+=("$(pgbench_tps bench_bare "$logdir/pgbench-bare.sql")")
    fi
done
[[ -n ${s_api[0]} && -n ${s_bare[0]} ]] || die "pgbench did not run; see $logdir/pgbench-*.sql"
sql_api=$(median "${s_api[@]}")
sql_bare=$(median "${s_bare[@]}")
echo "  breakdown: the same per-request SQL without HTTP (pgbench -M prepared, $REQUESTS transactions, $CONCURRENCY clients):"
printf '    %-56s %8.1f tx/s\n' "bare table, as bench_anon" "$sql_bare" \
    "task_api: claims, the request gate, RLS, as task_api_user" "$sql_api"
echo "    task_api / bare in the database alone: $(ratio "$sql_api" "$sql_bare")x"
echo "  query plan of the task_api request (as PostgREST runs it, for the member):"
bench_psql bench_api -tA <<SQL | sed 's/^/    /'
SET ROLE task_api_user;
SELECT set_config('request.jwt.claims', '{"sub": "$MEMBER", "role": "task_api_user", "jti": "$JTI"}', false) \\g /dev/null
EXPLAIN (ANALYZE, COSTS OFF) SELECT * FROM api.tasks LIMIT 25;
SQL

# ---------------------------------------------------------------------------
# Results table (for the main README)
# ---------------------------------------------------------------------------
pg_version=$("$PGBIN/postgres" --version | awk '{print $3}')
results="$ROOT/.task_api/bench-results.md"
{
    echo "| Benchmark | Baseline | task_api | Ratio | Target | Met |"
    echo "|---|---|---|---|---|---|"
    printf '| Insert %s tasks (one INSERT ... SELECT) | bare table: %s | api.tasks: %s | %sx | <= %sx | %s |\n' \
        "$ROWS" "$(fmt_ms "${v_med[bare]}")" "$(fmt_ms "${v_med[api]}")" "$insert_ratio" "$INSERT_TARGET" "$insert_met"
    printf '| GET /tasks?limit=25 (%s req, concurrency %s) | bare PostgREST: %.0f req/s | task_api: %.0f req/s | %sx | >= %sx | %s |\n' \
        "$REQUESTS" "$CONCURRENCY" "$bare_rps" "$api_rps" "$http_ratio" "$HTTP_TARGET" "$http_met"
    printf '| GET /tasks?limit=25, counters on vs off (task_api.metrics) | off: %.0f req/s | on: %.0f req/s | %sx | within noise | - |\n' \
        "$(median "${m_off[@]}")" "$(median "${m_on[@]}")" "$metrics_ratio"
    echo
    echo "Medians of $ROUNDS alternating rounds, $(date -u +%Y-%m-%d), PostgreSQL $pg_version, PostgREST 12.0.2, $(nproc) CPUs; \`make bench\`."
} > "$results"
echo
say "results (also in $results)"
echo
cat "$results"
echo
