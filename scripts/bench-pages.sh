#!/usr/bin/env bash
# Cursor pagination benchmarks (run by 'make bench' after scripts/bench-trash.sh,
# or alone), on their own throw-away cluster on 127.0.0.1, without PostgREST:
#   6a. A page of api.tasks_page() at depth D (half the rows) of a project of N
#       tasks (10 million by default, generated here; the load time is
#       reported) vs its first page, and the same depth with OFFSET on
#       api.tasks for comparison: pgbench, one client, as a member under RLS.
#   6b. task_api.cursor_encode()/cursor_decode() (C) called 100k times in one
#       statement vs the same codec written in SQL/PL/pgSQL with pgcrypto's
#       hmac(), JSON and encode() (bench/cursor_codec_plpgsql.sql).
#   6c. The response body of a page: the 25 newest tasks as JSON by
#       api.json_agg() (C, what PostgREST's json_agg() resolves to) vs
#       pg_catalog.json_agg(), PAGES pages in one statement (the rows read
#       alone, with count(), is the scan subtracted from both).
# Variants alternate in every round; the report gives medians and ratios.
# Targets are reported, never enforced.  See bench/README.md.
#
#   scripts/bench-pages.sh            report, and a results table of its own
#   scripts/bench-pages.sh --append   also add the rows to the table
#                                     scripts/bench.sh wrote (make bench)
# shellcheck source=SCRIPTDIR/bench-lib.sh
source "$(dirname "$0")/bench-lib.sh"

bench_option "$@"

PG_PORT=${TASK_API_BENCH_PAGES_PG_PORT:-5492}
STATE=${TASK_API_BENCH_PAGES_STATE:-bench-pages}
ROUNDS=${TASK_API_BENCH_ROUNDS:-3}
ROWS=${TASK_API_BENCH_PAGES_ROWS:-10000000}
DEPTH=${TASK_API_BENCH_PAGES_DEPTH:-$((ROWS / 2))}
CALLS=${TASK_API_BENCH_PAGES_CODEC_CALLS:-100000}
PAGES=${TASK_API_BENCH_PAGES_BODIES:-4000}
DURATION=${TASK_API_BENCH_PAGES_DURATION:-5}
WARMUP=${TASK_API_BENCH_PAGES_WARMUP:-1}
DEPTH_TARGET=1.5
# Targets of the per-request cost work (docs/performance.md).
CODEC_TARGET=12

DB=bench_pages

bench_start "$STATE" "$PG_PORT"
bench_database "$DB"
now_s() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", b - a}'; }

OWNER=01900000-0000-7000-8000-0000000000f1
PROJECT=01900000-0000-7000-8000-0000000000f2
psql_db -q -v owner="$OWNER" -v project="$PROJECT" -f "$BENCH/setup_pages.sql"
psql_db -q -f "$BENCH/cursor_codec_plpgsql.sql"
claims() { # the session settings of a request by the owner
    echo "SET ROLE task_api_user;"
    echo "SELECT set_config('request.jwt.claims', '{\"sub\": \"$OWNER\", \"role\": \"task_api_user\"}', false) \\g /dev/null"
}

# ---------------------------------------------------------------------------
# 6a. Load, then pages at depth
# ---------------------------------------------------------------------------
say "pages benchmark 6a: loading $ROWS tasks into one project"
# As a restore would: the secondary indexes are dropped, the rows inserted
# with triggers off (ids from task_api.uuidv7(), in order; every value the
# triggers would set is given), then the indexes are built again.
psql_db -q <<'SQL'
CREATE TABLE bench.tasks_indexes AS
    SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE i.indrelid = 'task_api.tasks'::regclass AND NOT i.indisprimary;
DO $$
DECLARE
    n text;
BEGIN
    FOR n IN SELECT name FROM bench.tasks_indexes LOOP
        EXECUTE format('DROP INDEX task_api.%I', n);
    END LOOP;
END
$$;
SQL
t0=$(now_s)
psql_db -q <<SQL
SET session_replication_role = replica;
INSERT INTO task_api.tasks (id, project_id, assignee_id, title, description, status, priority, due_date,
                            created_by, created_at, updated_at, version)
SELECT task_api.uuidv7(), '$PROJECT', CASE WHEN g % 2 = 0 THEN '$OWNER'::uuid END, 'Task ' || g,
       CASE WHEN g % 10 = 0 THEN 'Benchmark task number ' || g END,
       (ARRAY['todo', 'in_progress', 'blocked', 'done']::task_api.task_status[])[1 + g % 4],
       g % 5, CASE WHEN g % 3 <> 0 THEN DATE '2025-01-01' + g % 365 END, '$OWNER'::uuid,
       timestamptz '2020-01-01 00:00:00+00' + (g / 2) * interval '20 milliseconds',
       timestamptz '2020-01-01 00:00:00+00' + (g / 2) * interval '20 milliseconds' + (g % 1000) * interval '1 second', 1
  FROM generate_series(1, $ROWS) AS g;
SQL
t1=$(now_s)
psql_db -q <<'SQL'
SET maintenance_work_mem = '1GB';
DO $$
DECLARE
    d text;
BEGIN
    FOR d IN SELECT def FROM bench.tasks_indexes LOOP
        EXECUTE d;
    END LOOP;
END
$$;
SQL
t2=$(now_s)
psql_db -q -c "VACUUM (ANALYZE) task_api.tasks"
t3=$(now_s)
load_s=$(elapsed "$t0" "$t1")
index_s=$(elapsed "$t1" "$t2")
vacuum_s=$(elapsed "$t2" "$t3")
total_load_s=$(elapsed "$t0" "$t3")
size=$(psql_db -tAc "SELECT pg_size_pretty(pg_total_relation_size('task_api.tasks'))")
echo "  loaded $ROWS tasks in ${load_s} s, built $(psql_db -tAc "SELECT count(*) FROM bench.tasks_indexes") indexes in ${index_s} s, VACUUM ANALYZE ${vacuum_s} s: ${total_load_s} s in all ($size)"

# The cursor a walk would hold after DEPTH rows (sort created_at, desc): made
# with the same fingerprint tasks_page uses, from the row at that depth.
FP="jsonb_build_array('api.tasks_page', '$PROJECT'::uuid, NULL, NULL, NULL, 'created_at', 'desc')::text"
CURSOR=$(psql_db -tAc "SELECT task_api.cursor_encode(created_at, id, 'desc', $FP)
                         FROM (SELECT created_at, id FROM task_api.tasks WHERE project_id = '$PROJECT' AND deleted_at IS NULL
                               ORDER BY created_at DESC, id DESC OFFSET $DEPTH - 1 LIMIT 1) AS x")
[ -n "$CURSOR" ] || die "no row at depth $DEPTH"
# The page after it must be rows DEPTH+1 .. DEPTH+25, as OFFSET gives them.
got=$(psql_db -tA <<SQL
$(claims)
SELECT string_agg(e->>'id', ',') FROM json_array_elements(api.tasks_page(project_id => '$PROJECT', page_size => 25, cursor => '$CURSOR')->'data') e;
SQL
)
want=$(psql_db -tA <<SQL
$(claims)
SELECT string_agg(id::text, ',') FROM (SELECT id FROM api.tasks WHERE project_id = '$PROJECT' ORDER BY created_at DESC, id DESC OFFSET $DEPTH LIMIT 25) AS q;
SQL
)
{ [ -n "$want" ] && [ "$got" = "$want" ]; } || die "the page at depth $DEPTH is not rows $((DEPTH + 1))..$((DEPTH + 25))"

# What PostgREST would run, minus the pre-request hook: the request's role
# and claims, then the call ($n parameters under -M prepared).
txn() { # txn STATEMENT
    printf '%s\n' "BEGIN;" \
        "SELECT set_config('role', 'task_api_user', true), set_config('request.jwt.claims', '{\"sub\": \"$OWNER\", \"role\": \"task_api_user\"}', true);" \
        "$1" "COMMIT;"
}
txn "SELECT api.tasks_page(project_id => :project, page_size => 25) AS first_page;" > "$logdir/first.sql"
txn "SELECT api.tasks_page(project_id => :project, page_size => 25, cursor => :cursor) AS deep_page;" > "$logdir/deep.sql"
txn "SELECT * FROM api.tasks WHERE project_id = :project ORDER BY created_at DESC, id DESC OFFSET :depth LIMIT 25;" > "$logdir/offset.sql"
declare -A marker=([first]=first_page [deep]=deep_page [offset]="OFFSET :depth")
page_run() { # page_run first|deep|offset SECONDS: "<statement latency ms> <tps>"
    local v=$1 secs=$2 log="$logdir/pgbench-$1.log" lat tps
    if ! "$PGBIN/pgbench" -n -M prepared -r -h "$(socket_dir "$dir")" -p "$PG_PORT" -U postgres \
        -c 1 -j 1 -T "$secs" -D project="$PROJECT" -D cursor="$CURSOR" -D depth="$DEPTH" \
        -f "$logdir/$v.sql" "$DB" >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        die "pgbench $v failed; see $log"
    fi
    grep -q '^number of failed transactions: 0 ' "$log" || die "pgbench $v: failed transactions; see $log"
    lat=$(awk -v m="${marker[$v]}" 'index($0, m) {print $1; exit}' "$log")
    tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$log")
    { [ -n "$lat" ] && [ -n "$tps" ]; } || die "pgbench $v: no latency; see $log"
    echo "$lat $tps"
}

say "pages benchmark 6a: first page vs a page at depth $DEPTH vs OFFSET $DEPTH (pgbench -M prepared, 1 client, $ROUNDS rounds of ${DURATION} s)"
for v in first deep offset; do page_run "$v" "$WARMUP" >/dev/null; done
declare -A lat_all=()
pages=(first deep offset)
for r in $(seq 1 "$ROUNDS"); do
    case $((r % 3)) in
        1) order=(first deep offset) ;;
        2) order=(offset deep first) ;;
        0) order=(deep first offset) ;;
    esac
    line="round $r:"
    for v in "${order[@]}"; do
        read -r lat _ <<<"$(page_run "$v" "$DURATION")"
        lat_all[$v]="${lat_all[$v]:-} $lat"
        line="$line $v=$(awk -v l="$lat" 'BEGIN {printf "%.3f", l}') ms"
    done
    echo "  $line"
done
declare -A lat_med=()
for v in "${pages[@]}"; do lat_med[$v]=$(median_of "${lat_all[$v]}"); done
deep_ratio=$(ratio "${lat_med[deep]}" "${lat_med[first]}")
offset_ratio=$(ratio "${lat_med[offset]}" "${lat_med[first]}")
deep_met=$(meets "$deep_ratio" "$DEPTH_TARGET" le)
read -r -a a_first <<<"${lat_all[first]}"
read -r -a a_deep <<<"${lat_all[deep]}"
per_round=""
for i in "${!a_first[@]}"; do per_round="$per_round $(ratio "${a_deep[$i]}" "${a_first[$i]}")x"; done

echo
echo "A page of 25 of a project with $ROWS tasks, as a member under RLS, median of $ROUNDS rounds:"
printf '  %-58s %10.3f ms\n' "tasks_page, first page (BASELINE)" "${lat_med[first]}" \
    "tasks_page, cursor at depth $DEPTH (SUBJECT)" "${lat_med[deep]}" \
    "api.tasks ORDER BY created_at DESC, id DESC OFFSET $DEPTH" "${lat_med[offset]}"
echo "  depth $DEPTH / first page: ${deep_ratio}x (per round:$per_round); target <= ${DEPTH_TARGET}x: $deep_met"
echo "  OFFSET $DEPTH / first page: ${offset_ratio}x"
echo "  the plan of the page at depth $DEPTH (auto_explain of the statement tasks_page runs):"
psql_db -tA 2>&1 <<SQL | grep -E '^ *(->|Limit|Nested|Sort|Subquery|Result|Index|Buffers|Function|WindowAgg|Incremental|CTE|InitPlan|Planning|Execution)' | sed 's/^/    /'
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_analyze = on;
SET auto_explain.log_buffers = on;
SET auto_explain.log_timing = off;
SET auto_explain.log_level = notice;
SET client_min_messages = notice;
$(claims)
SELECT api.tasks_page(project_id => '$PROJECT', page_size => 25, cursor => '$CURSOR') IS NOT NULL AS ok;
SQL

# ---------------------------------------------------------------------------
# 6b. The codec, per call
# ---------------------------------------------------------------------------
say "pages benchmark 6b: $CALLS cursor encodes and decodes in one statement, C vs SQL/PL/pgSQL ($ROUNDS rounds)"
psql_db -q <<SQL
INSERT INTO bench.codec_input SELECT g, task_api.uuidv7() FROM generate_series(1, $CALLS) AS g;
INSERT INTO bench.cursors_c SELECT task_api.cursor_encode(k, id, 'desc', 'bench events') FROM bench.codec_input;
INSERT INTO bench.cursors_plpgsql SELECT bench.cursor_encode_plpgsql(k, id, 'desc', 'bench events') FROM bench.codec_input;
VACUUM (ANALYZE) bench.codec_input, bench.cursors_c, bench.cursors_plpgsql;
SQL
# Both codecs give back every (key, id) they encoded.
check=$(psql_db -tA <<SQL
SELECT (SELECT count(*) FROM bench.cursors_c c, LATERAL task_api.cursor_decode(c.c, 'bench events', NULL::bigint) d
          JOIN bench.codec_input i ON i.k = d.sort_key AND i.id = d.last_id AND d.direction = 'desc')
       || ' ' ||
       (SELECT count(*) FROM bench.cursors_plpgsql c, LATERAL bench.cursor_decode_plpgsql(c.c, 'bench events') d
          JOIN bench.codec_input i ON i.k = d.sort_key AND i.id = d.last_id AND d.direction = 'desc');
SQL
)
[ "$check" = "$CALLS $CALLS" ] || die "the codecs do not round-trip every row: $check"

declare -A codec_sql=(
    [scan]="SELECT count(k + 1) FROM bench.codec_input"
    [enc_pl]="SELECT count(bench.cursor_encode_plpgsql(k, id, 'desc', 'bench events')) FROM bench.codec_input"
    [enc_c]="SELECT count(task_api.cursor_encode(k, id, 'desc', 'bench events')) FROM bench.codec_input"
    [dec_pl]="SELECT count(bench.cursor_decode_plpgsql(c, 'bench events')) FROM bench.cursors_plpgsql"
    [dec_c]="SELECT count(task_api.cursor_decode(c, 'bench events', NULL::bigint)) FROM bench.cursors_c")
codec_time() { statement_ms "$1" "${codec_sql[$1]}"; }  # codec_time VARIANT: milliseconds
variants=(scan enc_pl enc_c dec_pl dec_c)
declare -A v_ms=() v_med=()
run_variant_rounds codec_time
us_per_call() { awk -v m="$1" -v s="${v_med[scan]}" -v n="$CALLS" 'BEGIN {printf "%.2f", (m - s) * 1000 / n}'; }
enc_pl_us=$(us_per_call "${v_med[enc_pl]}")
enc_c_us=$(us_per_call "${v_med[enc_c]}")
dec_pl_us=$(us_per_call "${v_med[dec_pl]}")
dec_c_us=$(us_per_call "${v_med[dec_c]}")
enc_ratio=$(ratio "$enc_pl_us" "$enc_c_us")
dec_ratio=$(ratio "$dec_pl_us" "$dec_c_us")
enc_met=$(meets "$enc_ratio" "$CODEC_TARGET")
dec_met=$(meets "$dec_ratio" "$CODEC_TARGET")
echo
echo "$CALLS calls in one statement, median of $ROUNDS rounds (per call: minus the bare scan, ${v_med[scan]} ms):"
printf '  %-44s %9s  %7s us/call\n' \
    "encode, SQL/PL/pgSQL + pgcrypto (BASELINE)" "$(fmt_ms "${v_med[enc_pl]}")" "$enc_pl_us" \
    "encode, task_api.cursor_encode() in C" "$(fmt_ms "${v_med[enc_c]}")" "$enc_c_us" \
    "decode, SQL/PL/pgSQL + pgcrypto (BASELINE)" "$(fmt_ms "${v_med[dec_pl]}")" "$dec_pl_us" \
    "decode, task_api.cursor_decode() in C" "$(fmt_ms "${v_med[dec_c]}")" "$dec_c_us"
echo "  encode: C is ${enc_ratio}x faster; decode: ${dec_ratio}x faster; target >= ${CODEC_TARGET}x: $enc_met / $dec_met"

# ---------------------------------------------------------------------------
# 6c. The response body: api.json_agg() vs pg_catalog.json_agg()
# ---------------------------------------------------------------------------
say "pages benchmark 6c: $PAGES response bodies of 25 tasks, api.json_agg() vs pg_catalog.json_agg()"
page_of() { # page_of AGGREGATE: PAGES pages of the 25 newest tasks through it
    echo "SELECT sum(octet_length(b::text)) FROM generate_series(1, $PAGES) g,
          LATERAL (SELECT $1(t) AS b FROM (SELECT * FROM api.tasks WHERE project_id = '$PROJECT' AND g > 0
                                           ORDER BY created_at DESC, id DESC LIMIT 25) t) x"
}
declare -A body_sql=([rows]="$(page_of pg_catalog.count)" [builtin]="$(page_of pg_catalog.json_agg)" [c]="$(page_of api.json_agg)")
[ "$(psql_db -tAc "SELECT api.json_agg(t)::text = pg_catalog.json_agg(t)::text FROM (SELECT * FROM api.tasks WHERE project_id = '$PROJECT'
                                             ORDER BY created_at DESC, id DESC LIMIT 25) t")" = t ] \
    || die "api.json_agg() and pg_catalog.json_agg() wrote different bodies"
body_time() { statement_ms "$1" "${body_sql[$1]}"; }  # body_time VARIANT: milliseconds
variants=(rows builtin c)
declare -A v_ms=() v_med=()
run_variant_rounds body_time
us_per_page() { awk -v m="$1" -v s="${v_med[rows]}" -v n="$PAGES" 'BEGIN {printf "%.1f", (m - s) * 1000 / n}'; }
body_builtin_us=$(us_per_page "${v_med[builtin]}")
body_c_us=$(us_per_page "${v_med[c]}")
body_ratio=$(ratio "$body_builtin_us" "$body_c_us")
echo
echo "$PAGES bodies of 25 tasks in one statement, median of $ROUNDS rounds (per body: minus reading the rows, ${v_med[rows]} ms):"
printf '  %-44s %9s  %7s us/body\n' \
    "pg_catalog.json_agg() (BASELINE)" "$(fmt_ms "${v_med[builtin]}")" "$body_builtin_us" \
    "api.json_agg() in C (the same text)" "$(fmt_ms "${v_med[c]}")" "$body_c_us"
echo "  api.json_agg() is ${body_ratio}x faster"

# ---------------------------------------------------------------------------
# Results table rows (same format as scripts/bench.sh's table)
# ---------------------------------------------------------------------------
rows=$(
    printf '| tasks_page at depth %s of %s tasks (loaded in %s s) vs its first page (pgbench, 1 client) | first page: %.3f ms | depth %s: %.3f ms (OFFSET: %.1f ms, %sx) | %sx | <= %sx | %s |\n' \
        "$DEPTH" "$ROWS" "$total_load_s" "${lat_med[first]}" "$DEPTH" "${lat_med[deep]}" "${lat_med[offset]}" "$offset_ratio" \
        "$deep_ratio" "$DEPTH_TARGET" "$deep_met"
    printf '| %s cursor encodes in one statement | SQL/PL/pgSQL + pgcrypto: %s us/call | cursor_encode(): %s us/call | %sx faster | >= %sx | %s |\n' \
        "$CALLS" "$enc_pl_us" "$enc_c_us" "$enc_ratio" "$CODEC_TARGET" "$enc_met"
    printf '| %s cursor decodes in one statement | SQL/PL/pgSQL + pgcrypto: %s us/call | cursor_decode(): %s us/call | %sx faster | >= %sx | %s |\n' \
        "$CALLS" "$dec_pl_us" "$dec_c_us" "$dec_ratio" "$CODEC_TARGET" "$dec_met"
    printf '| %s response bodies of 25 tasks in one statement | pg_catalog.json_agg(): %s us/body | api.json_agg(): %s us/body (the same text) | %sx faster | (none) | - |\n' \
        "$PAGES" "$body_builtin_us" "$body_c_us" "$body_ratio"
)
bench_report "$rows"
