#!/usr/bin/env bash
# Soft-delete benchmarks (run by 'make bench' after scripts/bench-auth.sh, or
# alone), on their own throw-away cluster on 127.0.0.1, without PostgREST:
#   1. DELETE of N tasks through api.tasks (INSTEAD OF trigger -> DELETE on
#      task_api.tasks -> the C soft_delete() trigger turns it into an UPDATE
#      of deleted_at/deleted_by, with RLS and the stamp trigger) vs a plain
#      DELETE of the same rows from a bare table with the same columns and
#      indexes (no triggers, RLS or foreign keys).
#   2. The API list query (25 newest tasks of a project, as a member) on a
#      project with N live tasks vs one with N live and N soft-deleted tasks:
#      the partial indexes (WHERE deleted_at IS NULL) should keep it flat.
# Baseline and subject alternate in every round; the report gives medians and
# ratios.  Targets are reported, never enforced.  See bench/README.md.
#
#   scripts/bench-trash.sh            report, and a results table of its own
#   scripts/bench-trash.sh --append   also add the rows to the table
#                                     scripts/bench.sh wrote (make bench)
# shellcheck source=SCRIPTDIR/bench-lib.sh
source "$(dirname "$0")/bench-lib.sh"

bench_option "$@"

PG_PORT=${TASK_API_BENCH_TRASH_PG_PORT:-5493}
STATE=${TASK_API_BENCH_TRASH_STATE:-bench-trash}
ROUNDS=${TASK_API_BENCH_ROUNDS:-3}
DELETE_ROWS=${TASK_API_BENCH_TRASH_DELETE_ROWS:-100000}
LIVE_ROWS=${TASK_API_BENCH_TRASH_LIVE_ROWS:-100000}
DURATION=${TASK_API_BENCH_TRASH_DURATION:-5}
WARMUP=${TASK_API_BENCH_TRASH_WARMUP:-1}
LIST_TARGET=1.2

DEL_DB=bench_trash_delete
LIST_DB=bench_trash_list

bench_start "$STATE" "$PG_PORT"

OWNER=01900000-0000-7000-8000-0000000000d1
EDITOR=01900000-0000-7000-8000-0000000000d2
MEMBER=01900000-0000-7000-8000-0000000000d3
P_DEL=01900000-0000-7000-8000-0000000000e1
P_FLAT=01900000-0000-7000-8000-0000000000e2
P_HALF=01900000-0000-7000-8000-0000000000e3
for db in "$DEL_DB" "$LIST_DB"; do
    bench_database "$db"
    bench_psql "$db" -v owner="$OWNER" -v editor="$EDITOR" -v member="$MEMBER" \
        -v p_del="$P_DEL" -v p_flat="$P_FLAT" -v p_half="$P_HALF" -f "$BENCH/setup_trash.sql"
done
# Session settings of a request by USER (request.jwt.claims with its sub), as
# task_api_user or, with "su", staying the superuser.
claims() { # claims USER [su]
    [ "${2:-}" = su ] || echo "SET ROLE task_api_user;"
    echo "SELECT set_config('request.jwt.claims', '{\"sub\": \"$1\", \"role\": \"task_api_user\"}', false) \\g /dev/null"
}

# ---------------------------------------------------------------------------
# 1. Deleting tasks
# ---------------------------------------------------------------------------
say "trash benchmark 1: DELETE of $DELETE_ROWS tasks of one project ($ROUNDS rounds)"
# The rows every variant starts from: as in scripts/bench.sh, every other task
# assigned (to the editor), a quarter done, all with a description and a due
# date; one second apart.
bench_psql "$DEL_DB" <<SQL
INSERT INTO bench.src_tasks (project_id, assignee_id, title, description, status, priority, due_date,
                             created_by, created_at, updated_at)
SELECT '$P_DEL'::uuid, CASE WHEN g % 2 = 0 THEN '$EDITOR'::uuid END, 'Task ' || g,
       'Benchmark task number ' || g,
       (ARRAY['todo', 'in_progress', 'blocked', 'done']::task_api.task_status[])[1 + g % 4],
       g % 5, DATE '2025-01-01' + g % 90, '$OWNER'::uuid,
       now() - g * interval '1 second', now() - g * interval '1 second'
  FROM generate_series(1, $DELETE_ROWS) AS g;
SQL

# Variants: key -> table the rows live in, statement, session setup.
variants=(bare direct_su direct_user api)
declare -A v_table=([bare]=bench.bare_tasks [direct_su]=task_api.tasks [direct_user]=task_api.tasks
                    [api]=task_api.tasks)
declare -A v_target=([bare]=bench.bare_tasks [direct_su]=task_api.tasks [direct_user]=task_api.tasks
                     [api]=api.tasks)
declare -A v_setup=([bare]="" [direct_su]="$(claims "$EDITOR" su)" [direct_user]="$(claims "$EDITOR")"
                    [api]="$(claims "$EDITOR")")
declare -A v_label=(
    [bare]="bare table: plain DELETE, same columns + indexes (BASELINE)"
    [direct_su]="task_api.tasks as superuser: soft_delete() -> UPDATE, stamp trigger"
    [direct_user]="task_api.tasks as task_api_user: + RLS (DELETE and UPDATE policies)"
    [api]="api.tasks as task_api_user: + INSTEAD OF trigger (SUBJECT)")
declare -A v_ms=()

# Time one variant's DELETE on a fresh copy of the rows; prints milliseconds.
time_delete() { # time_delete VARIANT
    local v=$1 t=${v_table[$1]} out ms got expected
    bench_psql "$DEL_DB" -q -c "TRUNCATE $t" -c "INSERT INTO $t SELECT * FROM bench.src_tasks" \
        -c "VACUUM (ANALYZE) $t" -c "CHECKPOINT"
    out=$(bench_psql "$DEL_DB" <<SQL
${v_setup[$v]}
\\timing on
DELETE FROM ${v_target[$v]} WHERE project_id = '$P_DEL';
SQL
)
    ms=$(printf '%s\n' "$out" | last_ms)
    [ -n "$ms" ] || die "no timing for $v: $out"
    # The plain DELETE removes the rows; the others move every one to the trash.
    got=$(bench_psql "$DEL_DB" -tAc "SELECT count(*) || ' ' || count(*) FILTER (WHERE deleted_at IS NOT NULL AND deleted_by = '$EDITOR') FROM $t")
    if [ "$v" = bare ]; then expected="0 0"; else expected="$DELETE_ROWS $DELETE_ROWS"; fi
    [ "$got" = "$expected" ] || die "$v: expected rows/trashed '$expected', got '$got'"
    echo "$ms"
}

declare -A v_med=()
run_variant_rounds time_delete
delete_ratio=$(ratio "${v_med[api]}" "${v_med[bare]}")
per_round=$(per_round_ratios)

echo
echo "DELETE $DELETE_ROWS tasks of one project, median of $ROUNDS rounds (ratio to the bare table; per-row cost):"
print_variants "$DELETE_ROWS"
echo "  where the time goes (differences of medians, per row):"
echo "    soft_delete() -> UPDATE + stamp trigger  $(overhead_step "${v_med[direct_su]}" "${v_med[bare]}" "$DELETE_ROWS")"
echo "    RLS                                      $(overhead_step "${v_med[direct_user]}" "${v_med[direct_su]}" "$DELETE_ROWS")"
echo "    INSTEAD OF trigger (tasks_delete)        $(overhead_step "${v_med[api]}" "${v_med[direct_user]}" "$DELETE_ROWS")"
echo "  api.tasks / bare table: ${delete_ratio}x (per round:$per_round); no target"

# ---------------------------------------------------------------------------
# 2. Listing a project with half its tasks in the trash
# ---------------------------------------------------------------------------
say "trash benchmark 2: list the 25 newest tasks, $LIVE_ROWS live vs $LIVE_ROWS live + $LIVE_ROWS in the trash (pgbench, $ROUNDS rounds of ${DURATION} s)"
# One table: project "flat" has LIVE_ROWS tasks, project "half" as many live
# ones and as many more that then go to the trash; created_at one second
# apart and the trashed rows interleaved with the live ones, inserted in
# created_at order so that both projects' rows share the heap pages evenly.
bench_psql "$LIST_DB" <<SQL
INSERT INTO task_api.tasks (project_id, assignee_id, title, description, status, priority, due_date,
                            created_by, created_at)
SELECT v.project, NULL, CASE WHEN v.trash THEN 'Trashed task ' ELSE 'Task ' END || g,
       'Benchmark task number ' || g,
       (ARRAY['todo', 'in_progress', 'blocked', 'done']::task_api.task_status[])[1 + g % 4],
       g % 5, DATE '2025-01-01' + g % 90, '$OWNER'::uuid,
       now() - g * interval '1 second' - CASE WHEN v.trash THEN interval '0.5 second' ELSE interval '0' END
  FROM generate_series(1, $LIVE_ROWS) AS g
 CROSS JOIN (VALUES (1, '$P_FLAT'::uuid, false), (2, '$P_HALF'::uuid, false), (3, '$P_HALF'::uuid, true))
         AS v(k, project, trash)
 ORDER BY g DESC, v.k;
-- Into the trash through the real path: DELETE, turned into an UPDATE by soft_delete().
$(claims "$OWNER" su)
DELETE FROM task_api.tasks WHERE project_id = '$P_HALF' AND title LIKE 'Trashed task %';
RESET request.jwt.claims;
VACUUM (ANALYZE) task_api.tasks;
SQL
counts=$(bench_psql "$LIST_DB" -tA -F ' ' -c "SELECT count(*) FILTER (WHERE project_id = '$P_FLAT' AND deleted_at IS NULL),
       count(*) FILTER (WHERE project_id = '$P_FLAT' AND deleted_at IS NOT NULL),
       count(*) FILTER (WHERE project_id = '$P_HALF' AND deleted_at IS NULL),
       count(*) FILTER (WHERE project_id = '$P_HALF' AND deleted_at IS NOT NULL) FROM task_api.tasks")
[ "$counts" = "$LIVE_ROWS 0 $LIVE_ROWS $LIVE_ROWS" ] || die "unexpected live/trashed counts (flat, half): $counts"
echo "  project flat: $LIVE_ROWS live tasks; project half: $LIVE_ROWS live + $LIVE_ROWS in the trash; the member is a viewer of both"

# The member must get the 25 newest live tasks of each project, none trashed.
for p in "$P_FLAT" "$P_HALF"; do
    got=$(bench_psql "$LIST_DB" -tA <<SQL
$(claims "$MEMBER")
SELECT string_agg(id::text, ',') FROM (SELECT * FROM api.tasks WHERE project_id = '$p' ORDER BY created_at DESC LIMIT 25) AS q;
SQL
)
    want=$(bench_psql "$LIST_DB" -tAc "SELECT string_agg(id::text, ',') FROM (SELECT id FROM task_api.tasks WHERE project_id = '$p' AND deleted_at IS NULL ORDER BY created_at DESC LIMIT 25) AS q")
    { [ -n "$want" ] && [ "$got" = "$want" ]; } || die "the member's list of project $p is not its 25 newest live tasks"
done

# What PostgREST would run, minus the pre-request hook: the request's role and
# claims, then the list query with the project as a parameter ($1 under -M prepared).
cat > "$logdir/list.sql" <<SQL
BEGIN;
SELECT set_config('role', 'task_api_user', true), set_config('request.jwt.claims', '{"sub": "$MEMBER", "role": "task_api_user"}', true);
SELECT * FROM api.tasks WHERE project_id = :project ORDER BY created_at DESC LIMIT 25;
COMMIT;
SQL
list_run() { # list_run flat|half SECONDS: "<query latency ms> <tps>"
    local side=$1 secs=$2 project log="$logdir/pgbench-$1.log" lat tps
    if [ "$side" = flat ]; then project=$P_FLAT; else project=$P_HALF; fi
    if ! "$PGBIN/pgbench" -n -M prepared -r -h "$(socket_dir "$dir")" -p "$PG_PORT" -U postgres \
        -c 1 -j 1 -T "$secs" -D project="$project" -f "$logdir/list.sql" "$LIST_DB" >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        die "pgbench $side failed; see $log"
    fi
    grep -q '^number of failed transactions: 0 ' "$log" || die "pgbench $side: failed transactions; see $log"
    lat=$(awk '/FROM api.tasks WHERE project_id/ {print $1; exit}' "$log")
    tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$log")
    { [ -n "$lat" ] && [ -n "$tps" ]; } || die "pgbench $side: no latency; see $log"
    echo "$lat $tps"
}
list_run flat "$WARMUP" >/dev/null
list_run half "$WARMUP" >/dev/null
l_flat=() l_half=() t_flat=() t_half=()
for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then order=(flat half); else order=(half flat); fi
    line="round $r:"
    for side in "${order[@]}"; do
        read -r lat tps <<<"$(list_run "$side" "$DURATION")"
        if [ "$side" = flat ]; then l_flat+=("$lat"); t_flat+=("$tps"); else l_half+=("$lat"); t_half+=("$tps"); fi
        line="$line $side=$(awk -v l="$lat" 'BEGIN {printf "%.1f", l * 1000}') us"
    done
    echo "  $line"
done
flat_ms=$(median "${l_flat[@]}")
half_ms=$(median "${l_half[@]}")
flat_us=$(awk -v l="$flat_ms" 'BEGIN {printf "%.1f", l * 1000}')
half_us=$(awk -v l="$half_ms" 'BEGIN {printf "%.1f", l * 1000}')
list_ratio=$(ratio "$half_ms" "$flat_ms")
list_met=$(meets "$list_ratio" "$LIST_TARGET" le)
per_round=""
for i in "${!l_half[@]}"; do per_round="$per_round $(ratio "${l_half[$i]}" "${l_flat[$i]}")x"; done

echo
echo "List the 25 newest tasks of a project as a member (pgbench -M prepared, 1 client), median of $ROUNDS rounds of ${DURATION} s:"
printf '  %-62s %8s us/query  %8.0f tx/s\n' \
    "project with $LIVE_ROWS live tasks, none in the trash (BASELINE)" "$flat_us" "$(median "${t_flat[@]}")" \
    "project with $LIVE_ROWS live + $LIVE_ROWS in the trash (SUBJECT)" "$half_us" "$(median "${t_half[@]}")"
echo "  half trashed / none trashed: ${list_ratio}x (per round:$per_round); target <= ${LIST_TARGET}x: $list_met"
echo "  query plans (as the member; buffers = pages touched):"
for p in "$P_FLAT" "$P_HALF"; do
    if [ "$p" = "$P_FLAT" ]; then echo "    project flat:"; else echo "    project half:"; fi
    bench_psql "$LIST_DB" -tA <<SQL | grep -v '^$' | sed 's/^/      /'
$(claims "$MEMBER")
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) SELECT * FROM api.tasks WHERE project_id = '$p' ORDER BY created_at DESC LIMIT 25;
SQL
done

# ---------------------------------------------------------------------------
# Results table rows (same format as scripts/bench.sh's table)
# ---------------------------------------------------------------------------
rows=$(
    printf '| Soft-delete %s tasks (DELETE FROM api.tasks WHERE project_id = ...) | bare table, plain DELETE: %s | api.tasks: %s | %sx | none | n/a |\n' \
        "$DELETE_ROWS" "$(fmt_ms "${v_med[bare]}")" "$(fmt_ms "${v_med[api]}")" "$delete_ratio"
    printf '| List 25 newest tasks of a project, half of its rows in the trash (pgbench, 1 client) | %s live: %s us | %s live + %s trashed: %s us | %sx | <= %sx | %s |\n' \
        "$LIVE_ROWS" "$flat_us" "$LIVE_ROWS" "$LIVE_ROWS" "$half_us" "$list_ratio" "$LIST_TARGET" "$list_met"
)
bench_report "$rows"
