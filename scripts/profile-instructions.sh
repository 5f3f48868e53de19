#!/usr/bin/env bash
# The database's work per POST /tasks (or GET /tasks?limit=25), in
# instructions, task_api against the
# hand-written peer: a benchmark tool, never part of 'make test'.  On a copy
# of this checkout ('make serve') with the peer's tables loaded, the
# postmaster runs under callgrind and pgbench replays, in one connection,
# the statements each side sends for one POST (task_api: PostgREST's
# BEGIN, its settings statement, which runs the request gate, its insert
# statement and COMMIT, captured from PostgREST's own log; the peer: its
# session look-up, BEGIN, role look-up, task insert, event insert and
# COMMIT, from its server.mjs).  Each side runs N and 3N transactions; the
# difference over 2N is the instructions of one transaction, exact and not
# moved by the machine's load (what the peer comparison's CPU times are).
# Also the insert statement alone (INSERT INTO api.tasks ... VALUES,
# no PostgREST wrapping), the top of each side's profile by function, and
# each side's transaction statement by statement: every statement's share
# is the difference between two replays that differ by that statement alone
# (task_api: BEGIN and COMMIT, then the settings statement without the gate,
# then with it, then the whole; the peer: its session look-up alone, BEGIN
# and COMMIT, then each statement added in turn).
# synchronous_commit is off in these sessions: the WAL flush is a wait,
# not instructions.  About 4 minutes.  Needs valgrind.
#   TASK_API_PEER_DIR             the peer's folder (server.mjs, setup.sql); required
#   TASK_API_PROFILE_MEASURE      post (default) or get: GET /tasks?limit=25, the
#                                 peer's session look-up and list query
#   TASK_API_PROFILE_N            transactions of the short run (default 100)
#   TASK_API_PROFILE_PG_PORT      PostgreSQL's port (default 5531)
#   TASK_API_PROFILE_PORT         PostgREST's port (default 3031)
#   TASK_API_PROFILE_OUT          output folder (default: .task_api/instructions)
# shellcheck source=SCRIPTDIR/bench-lib.sh
source "$(dirname "$0")/bench-lib.sh"

[ -n "${TASK_API_PEER_DIR:-}" ] || die "set TASK_API_PEER_DIR to the peer's folder (server.mjs, setup.sql)"
[ -f "$TASK_API_PEER_DIR/setup.sql" ] || die "no setup.sql in $TASK_API_PEER_DIR"
command -v valgrind >/dev/null || die "valgrind is not installed (Debian: apt-get install valgrind)"
N=${TASK_API_PROFILE_N:-100}
MEASURE=${TASK_API_PROFILE_MEASURE:-post}
case $MEASURE in post | get) ;; *) die "TASK_API_PROFILE_MEASURE is post or get" ;; esac
PG_PORT=${TASK_API_PROFILE_PG_PORT:-5531}
API_PORT=${TASK_API_PROFILE_PORT:-3031}
OUT=${TASK_API_PROFILE_OUT:-$ROOT/.task_api/instructions}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

work=$(mktemp -d /tmp/task_api-instr.XXXXXX)
chmod 755 "$work"
cleanup() {
    if [ -n "${data:-}" ]; then
        as_pg "$PGBIN/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    (cd "$work/copy" 2>/dev/null && make -s stop >/dev/null 2>&1 && make -s reset >/dev/null 2>&1) || true
    rm -rf "$work"
}
trap cleanup EXIT
peer_setup "$work" "$API_PORT" "$PG_PORT"
"$PSQL" -q -c "ALTER SYSTEM SET log_statement = 'all'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1

# One POST through PostgREST, to read the statements it sends from the log.
dir=$(ROOT="$work/copy" existing_state_dir serve)
data="$dir/data"
log="$dir/postgres.log"
mark=$(wc -l <"$log")
if [ "$MEASURE" = post ]; then
    body="{\"project_id\":\"$PROJECT\",\"title\":\"profile task\",\"priority\":3}"
    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$API_PORT/tasks" \
        -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -H 'Prefer: return=representation' -d "$body")
    [ "$code" = 201 ] || die "POST /tasks answered $code"
else
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$API_PORT/tasks?limit=25" -H "Authorization: Bearer $TOKEN")
    [ "$code" = 200 ] || die "GET /tasks answered $code"
fi
# Fresh statistics, and no autovacuum from here on: an ANALYZE between two
# replays (the runs insert rows) could change a plan, and with it a share.
"$PSQL" -q -c "ALTER SYSTEM RESET log_statement" -c "ALTER SYSTEM SET autovacuum = off" \
    -c "SELECT pg_reload_conf()" -c "ANALYZE" >/dev/null
(cd "$work/copy" && make -s stop >/dev/null)

# PostgREST's statements with their parameters put in as literals, one per line.
node - "$log" "$mark" >"$work/task_api.sql" <<'JS'
const fs = require('fs');
const lines = fs.readFileSync(process.argv[2], 'utf8').split('\n').slice(Number(process.argv[3]));
const out = [];
for (let i = 0; i < lines.length; i++) {
  const m = lines[i].match(/LOG:  execute [^:]*: (.*)$/);
  if (!m || !/PostgREST|^\S+ \S+ UTC \[\d+\] [0-9a-f]{32} /.test(lines[i])) continue;
  let sql = m[1];
  // A statement's text may run over several log lines.
  while (i + 1 < lines.length && !/^\d{4}-\d\d-\d\d /.test(lines[i + 1])) sql += ' ' + lines[++i].trim();
  const d = (lines[i + 1] || '').match(/DETAIL:  parameters: (.*)$/);
  if (d) {
    const params = {};
    const re = /\$(\d+) = ('(?:[^']|'')*'|NULL)/g;
    let p;
    while ((p = re.exec(d[1]))) params[p[1]] = p[2];
    sql = sql.replace(/\$(\d+)/g, (_, n) => params[n]);
  }
  // The body's parameter is sent as json: a literal needs the cast.
  sql = sql.replace(/\(SELECT ('(?:[^']|'')*') AS json_data\)/, '(SELECT $1::json AS json_data)');
  out.push(sql.replace(/\s+/g, ' ') + ';');
}
// The request's transaction: from PostgREST's BEGIN to its COMMIT.
const first = out.findIndex((s) => /^BEGIN/.test(s));
const last = out.findIndex((s, i) => i > first && /^COMMIT/.test(s));
if (first < 0 || last < 0) { console.error('no BEGIN ... COMMIT of PostgREST in the log'); process.exit(1); }
out.splice(last + 1);
out.splice(0, first);
if (out.length < 4) { console.error('found ' + out.length + ' statements of PostgREST in the log'); process.exit(1); }
console.log(out.join('\n'));
JS
[ "$MEASURE" = get ] || grep -q 'INSERT INTO "api"."tasks"' "$work/task_api.sql" || die "PostgREST's insert statement is not in its log"
# The insert statement alone, without PostgREST's wrapping.
sed "s|^WITH pgrst_source AS (INSERT INTO \"api\".\"tasks\".*|INSERT INTO api.tasks (priority, project_id, title) VALUES (3, '$PROJECT', 'profile task') RETURNING *;|" \
    "$work/task_api.sql" >"$work/task_api_plain.sql"
# The row inserted straight into task_api.tasks, as the user: RLS, the stamp,
# the checks, foreign keys, indexes and the event as in a POST, without the
# view's triggers (validation, bounds, idempotency) or PostgREST's wrapping.
# The user gets INSERT on the table for this only, on this throw-away copy.
sed "s|^WITH pgrst_source AS (INSERT INTO \"api\".\"tasks\".*|INSERT INTO task_api.tasks (priority, project_id, title, created_by) VALUES (3, '$PROJECT', 'profile task', '$member') RETURNING *;|" \
    "$work/task_api.sql" >"$work/task_api_direct.sql"
jti=$(node -e 'const p=process.argv[1].split(".")[1];console.log(JSON.parse(Buffer.from(p,"base64url")).jti)' "$TOKEN")
changes='{"id": "01a24e80-bb9e-7cc5-a374-08650c3e1357", "title": "profile task", "status": "todo", "due_date": null, "priority": 3, "created_at": "2026-12-07T03:16:29.207854+00:00", "created_by": "'$member'", "deleted_at": null, "deleted_by": null, "project_id": "'$PROJECT'", "assignee_id": null, "description": null, "completed_at": null, "deleted_with_project": false}'
if [ "$MEASURE" = get ]; then
    cat >"$work/peer.sql" <<SQL
SELECT 1 FROM peer.sessions s JOIN peer.users u ON u.id = s.user_id WHERE s.id = '$jti' AND s.user_id = '$member' AND s.revoked_at IS NULL AND s.expires_at > now();
SELECT id, project_id, assignee_id, title, description, status, priority, due_date, created_by, created_at, updated_at, completed_at, version FROM peer.tasks WHERE project_id = ANY (SELECT project_id FROM peer.project_members WHERE user_id = '$member') AND deleted_at IS NULL ORDER BY id LIMIT 25;
SQL
else cat >"$work/peer.sql" <<SQL
SELECT 1 FROM peer.sessions s JOIN peer.users u ON u.id = s.user_id WHERE s.id = '$jti' AND s.user_id = '$member' AND s.revoked_at IS NULL AND s.expires_at > now();
BEGIN;
SELECT m.role FROM peer.project_members m JOIN peer.projects p ON p.id = m.project_id WHERE m.project_id = '$PROJECT' AND m.user_id = '$member' AND p.deleted_at IS NULL;
INSERT INTO peer.tasks (project_id, title, priority, created_by) VALUES ('$PROJECT', 'profile task', 3, '$member') RETURNING id, project_id, assignee_id, title, description, status, priority, due_date, created_by, created_at, updated_at, completed_at, version, deleted_at, deleted_by, deleted_with_project;
WITH e AS (INSERT INTO peer.events (actor_id, resource_type, resource_id, project_id, action, changes) VALUES ('$member', 'task', '01a24e80-bb9e-7cc5-a374-08650c3e1357', '$PROJECT', 'created', '$changes') RETURNING id) SELECT pg_notify('peer_events', id::text) FROM e;
COMMIT;
SQL
fi
cp "$work"/*.sql "$OUT/"

# The postmaster under callgrind, one output file per process.
mkdir -p "$work/cg" && chown "$(stat -c %U "$data")" "$work/cg"
as_pg bash -c "cd / && nohup valgrind --tool=callgrind --trace-children=yes --callgrind-out-file='$work/cg/cg.%p' \
    '$PGBIN/postgres' -D '$data' >'$work/cg/postmaster.log' 2>&1 &"
for _ in $(seq 120); do "$PSQL" -tAc 'SELECT 1' >/dev/null 2>&1 && break; sleep 1; done
sock=$(socket_dir "$dir")
pw=$(cat "$dir/authenticator.password")

# run_side SCRIPT USER PASSWORD COUNT: the instructions of that one pgbench connection's backend.
run_side() {
    local before file
    before=$(find "$work/cg" -maxdepth 1 -name 'cg.*' -printf '%f\n' | sort)
    PGPASSWORD=$3 PGOPTIONS='-c synchronous_commit=off' "$PGBIN/pgbench" -n -M prepared -c 1 -t "$4" \
        -h "$sock" -p "$PG_PORT" -U "$2" -f "$1" task_api >"$work/pgbench.out" 2>&1 \
        || die "pgbench failed on $1: $(tail -3 "$work/pgbench.out")"
    ! grep -qi 'error' "$work/pgbench.out" || die "pgbench failed on $1: $(grep -i error "$work/pgbench.out" | head -2)"
    sleep 2
    # The connection's backend: the new output file with the most instructions.
    file=$(comm -13 <(echo "$before") <(find "$work/cg" -maxdepth 1 -name 'cg.*' -printf '%f\n' | sort) | while read -r f; do
        echo "$(sed -n 's/^summary: //p' "$work/cg/$f") $f"; done | sort -n | tail -1 | cut -d' ' -f2)
    [ -n "$file" ] || die "no callgrind output for $1"
    echo "$work/cg/$file"
}
# per_tx NAME SCRIPT USER PASSWORD: instructions per transaction; keeps the long run's profile.
declare -A per=()
per_tx() {
    local a b
    a=$(run_side "$2" "$3" "$4" "$N")
    b=$(run_side "$2" "$3" "$4" $((3 * N)))
    per[$1]=$(( ($(sed -n 's/^summary: //p' "$b") - $(sed -n 's/^summary: //p' "$a")) / (2 * N) ))
    cp "$b" "$OUT/$1.callgrind"
    callgrind_annotate --inclusive=yes "$b" 2>/dev/null | grep -v '=>' | grep -E '^ *[0-9,]+ ' | sed -n '1,60p' >"$OUT/$1.top.txt"
}
# The statement-by-statement replays: task_api's lines are BEGIN, the
# settings statement, the query, COMMIT; the settings statement without
# request.method does not run the gate (src/pre_request.c).
sed -n '1p;4p' "$work/task_api.sql" >"$work/s_tx.sql"
sed -n '1,2p;4p' "$work/task_api.sql" | sed "s/set_config('request.method', '[A-Z]*', true), //" >"$work/s_settings.sql"
sed -n '1,2p;4p' "$work/task_api.sql" >"$work/s_gate.sql"
if ! grep -q "request.method" "$work/s_gate.sql" || grep -q "request.method" "$work/s_settings.sql"; then
    die "the settings statement has no request.method to take out"
fi
sed -n '1p' "$work/peer.sql" >"$work/p_session.sql"
if [ "$MEASURE" = post ]; then
    # The peer's lines: session, BEGIN, role, task, event, COMMIT.
    sed -n '2p;6p' "$work/peer.sql" >"$work/p_tx.sql"
    sed -n '2,3p;6p' "$work/peer.sql" >"$work/p_role.sql"
    sed -n '2,4p;6p' "$work/peer.sql" >"$work/p_task.sql"
fi
cp "$work"/s_*.sql "$work"/p_*.sql "$OUT/"

say "callgrind: $N and $((3 * N)) transactions of each"
per_tx task_api "$work/task_api.sql" task_api_authenticator "$pw"
if [ "$MEASURE" = post ]; then
    per_tx task_api_plain "$work/task_api_plain.sql" task_api_authenticator "$pw"
    "$PSQL" -q -c "GRANT INSERT ON task_api.tasks TO task_api_user" >/dev/null
    per_tx task_api_direct "$work/task_api_direct.sql" task_api_authenticator "$pw"
fi
per_tx peer "$work/peer.sql" peer_app peer_app_bench_only
for s in s_tx s_settings s_gate; do per_tx "$s" "$work/$s.sql" task_api_authenticator "$pw"; done
for s in p_session p_tx p_role p_task; do
    if [ -f "$work/$s.sql" ]; then per_tx "$s" "$work/$s.sql" peer_app peer_app_bench_only; fi
done

{
    if [ "$MEASURE" = get ]; then
        echo "Instructions per GET /tasks?limit=25 in the database backend (callgrind; $(date -u +%Y-%m-%dT%H:%MZ)):"
        echo "  task_api (PostgREST's four statements): ${per[task_api]}"
        echo "  the peer (its session look-up and list query): ${per[peer]}"
    else
        echo "Instructions per POST /tasks transaction in the database backend (callgrind; $(date -u +%Y-%m-%dT%H:%MZ)):"
        echo "  task_api (PostgREST's four statements: gate, insert, events): ${per[task_api]}"
        echo "  task_api with INSERT ... VALUES for PostgREST's insert: ${per[task_api_plain]}"
        echo "  task_api with INSERT INTO task_api.tasks ... VALUES (no view) for it: ${per[task_api_direct]}"
        echo "  the peer (its six statements: session, role, task, event): ${per[peer]}"
        echo "  PostgREST's wrapping of the insert (CTE, json_to_recordset, count, json_agg): $(( per[task_api] - per[task_api_plain] ))"
    fi
    echo "task_api / peer: $(awk -v a="${per[task_api]}" -v b="${per[peer]}" 'BEGIN {printf "%.3f", a / b}')"
    echo
    echo "Statement by statement (each the difference of two replays; per transaction):"
    row() { printf '  %-72s %9s\n' "$1" "$2"; }
    row "task_api: BEGIN ISOLATION LEVEL ... and COMMIT" "${per[s_tx]}"
    row "task_api: PostgREST's settings statement, without the gate" "$((per[s_settings] - per[s_tx]))"
    row "task_api: the request gate at its end" "$((per[s_gate] - per[s_settings]))"
    if [ "$MEASURE" = get ]; then
        row "task_api: the page query" "$((per[task_api] - per[s_gate]))"
        row "peer: the session look-up (its own transaction)" "${per[p_session]}"
        row "peer: the list query (its own transaction)" "$((per[peer] - per[p_session]))"
    else
        row "task_api: PostgREST's insert statement" "$((per[task_api] - per[s_gate]))"
        row "task_api:   of which PostgREST's wrapping of the insert" "$((per[task_api] - per[task_api_plain]))"
        row "task_api: the insert as INSERT INTO api.tasks ... VALUES" "$((per[task_api_plain] - per[s_gate]))"
        row "task_api: the insert straight into task_api.tasks (no view)" "$((per[task_api_direct] - per[s_gate]))"
        row "peer: the session look-up (its own transaction)" "${per[p_session]}"
        row "peer: BEGIN and COMMIT" "${per[p_tx]}"
        row "peer: the role look-up" "$((per[p_role] - per[p_tx]))"
        row "peer: the task insert" "$((per[p_task] - per[p_role]))"
        row "peer: the event insert with its NOTIFY" "$((per[peer] - per[p_session] - per[p_task]))"
        row "task_api: PostgREST's statements (BEGIN, COMMIT, settings, the wrapping)" \
            "$((per[s_settings] + per[task_api] - per[task_api_plain]))"
        row "task_api: the extension's work (the rest)" \
            "$((per[task_api_plain] - per[s_settings]))"
        row "peer: BEGIN and COMMIT" "${per[p_tx]}"
        row "peer: its statements' work (the rest)" "$((per[peer] - per[p_tx]))"
    fi
    echo "Profiles (inclusive, by function) in $OUT/*.top.txt; callgrind files in $OUT/*.callgrind"
} | tee "$OUT/summary.txt"
