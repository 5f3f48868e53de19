#!/usr/bin/env bash
# Profiles of both sides of the peer comparison (scripts/bench-peer.sh), a
# benchmark tool, never part of 'make test'.  On a copy of this checkout
# ('make serve') and the peer's server, for GET /tasks?limit=25 and
# POST /tasks at one concurrency, each side alone under load in turn:
# 'perf record -g' of that side's PostgreSQL backends (by
# pg_stat_activity.usename) and, at the same time, of its HTTP process
# (PostgREST or node).  Writes the perf.data files and the top of each
# profile (self time by symbol and shared object, and what the backends'
# time went to) to the output folder and
# prints the tops.  About 3 minutes.  Needs perf (Debian: linux-perf) and
# root or kernel.perf_event_paranoid <= 1.
#   TASK_API_PEER_DIR            the peer's folder (server.mjs, setup.sql); required
#   TASK_API_PROFILE_OUT         output folder (default: .task_api/profiles)
#   TASK_API_PROFILE_SECONDS     seconds recorded per side and measure (default 20)
#   TASK_API_PROFILE_CONC        concurrency (default 8)
#   TASK_API_PROFILE_PORT, TASK_API_PROFILE_PG_PORT, TASK_API_PROFILE_PEER_PORT
#                                ports (default 3030, 5530, 3035, as bench-peer.sh)
#   TASK_API_PROFILE_MEASURES    default "get post"
# shellcheck source=SCRIPTDIR/bench-lib.sh
source "$(dirname "$0")/bench-lib.sh"

[ -n "${TASK_API_PEER_DIR:-}" ] || die "set TASK_API_PEER_DIR to the peer's folder (server.mjs, setup.sql)"
[ -f "$TASK_API_PEER_DIR/server.mjs" ] || die "no server.mjs in $TASK_API_PEER_DIR"
command -v perf >/dev/null || die "perf is not installed (Debian: apt-get install linux-perf)"
SECONDS_REC=${TASK_API_PROFILE_SECONDS:-20}
CONC=${TASK_API_PROFILE_CONC:-8}
API_PORT=${TASK_API_PROFILE_PORT:-3030}
PG_PORT=${TASK_API_PROFILE_PG_PORT:-5530}
PEER_PORT=${TASK_API_PROFILE_PEER_PORT:-3035}
MEASURES=${TASK_API_PROFILE_MEASURES:-get post}
OUT=${TASK_API_PROFILE_OUT:-$ROOT/.task_api/profiles}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

work=$(mktemp -d /tmp/task_api-profile.XXXXXX)
chmod 755 "$work"
peer_pid=
cleanup() {
    [ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null
    (cd "$work/copy" 2>/dev/null && make -s stop >/dev/null 2>&1 && make -s reset >/dev/null 2>&1) || true
    rm -rf "$work"
}
trap cleanup EXIT
cp -r "$TASK_API_PEER_DIR" "$work/peer"
peer_setup "$work" "$API_PORT" "$PG_PORT"
"$PSQL" -q -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" \
    -c "ALTER SYSTEM SET pg_stat_statements.track = 'all'" -c "ALTER SYSTEM SET pg_stat_statements.track_planning = on" \
    -c "SELECT pg_reload_conf()" >/dev/null
(cd "$work/peer" && npm install --no-audit --no-fund >/dev/null)
PORT=$PEER_PORT PGPORT=$PG_PORT PEER_SECRETS="$work/copy/.task_api/serve/data/task_api_secrets.conf" \
    RATE_LIMIT_USER=100000000 node "$work/peer/server.mjs" >"$work/peer.log" 2>&1 &
peer_pid=$!
sleep 2
pgrst_pid=$(cat "$work/copy/.task_api/postgrest-serve.pid")

# The top of one profile, for the processes in $2 (comma-separated pids):
# their samples, self time by symbol and by shared object and, for the
# backends ($4 = db), what they spent it on (scripts/profile-breakdown.mjs).
report_part() {
    local data=$1 filter=$2 title=$3 out
    out=$(perf script -i "$data" -F pid,ip,sym,dso 2>/dev/null | node "$ROOT/scripts/profile-breakdown.mjs" "$filter" "${4:-}")
    echo "## $title: ${out%%$'\n'*}"
    echo "${out#*$'\n'}"
}

# Load one side for SECONDS_REC + 6 s; perf records both its parts from the 3rd second.
profile() {
    local measure=$1 side=$2 port app_pid dbuser url pids body
    if [ "$side" = task_api ]; then port=$API_PORT app_pid=$pgrst_pid dbuser=task_api_authenticator
    else port=$PEER_PORT app_pid=$peer_pid dbuser=peer_app; fi
    body="{\"project_id\":\"$PROJECT\",\"title\":\"profile task\",\"priority\":3}"
    if [ "$measure" = get ]; then
        url="http://127.0.0.1:$port/tasks?limit=25"
        node "$ROOT/bench/load.mjs" "$url" --token "$TOKEN" --requests 100000000 \
            --concurrency "$CONC" --timeout $((SECONDS_REC + 6)) >"$OUT/$measure-$side.load.json" &
    else
        url="http://127.0.0.1:$port/tasks"
        node "$ROOT/bench/idempotency_load.mjs" "$url" --token "$TOKEN" --body "$body" --mode plain \
            --requests 100000000 --concurrency "$CONC" --timeout $((SECONDS_REC + 6)) >"$OUT/$measure-$side.load.json" &
    fi
    local load_pid=$!
    sleep 3
    "$PSQL" -qtA -c "SELECT pg_stat_statements_reset()" >/dev/null
    pids=$("$PSQL" -tA -c "SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE usename = '$dbuser'")
    # The whole machine, split by process below: a process's threads born
    # during the recording (the GHC runtime's) are then in it too.
    perf record -q -a -g -F 499 -o "$OUT/$measure-$side.perf.data" -- sleep "$SECONDS_REC" 2>/dev/null
    wait "$load_pid" || true
    local requests
    requests=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).ok)' "$OUT/$measure-$side.load.json")
    echo "db $pids app $app_pid" >"$OUT/$measure-$side.pids"
    for part in db app; do
        local filter=$pids
        [ "$part" = app ] && filter=$app_pid
        report_part "$OUT/$measure-$side.perf.data" "$filter" \
            "$measure, $side, $part (conc $CONC, $SECONDS_REC s at 499 Hz, $requests requests; load $(cut -d' ' -f1-3 /proc/loadavg))" \
            "$part" >"$OUT/$measure-$side-$part.top.txt"
    done
    # What each statement cost during the recording (mean ms per call; all
    # levels: the statements run inside pre_request() and the triggers too).
    "$PSQL" -P footer=off -c "SELECT calls, round(mean_exec_time::numeric, 3) AS exec_ms,
            round(mean_plan_time::numeric, 3) AS plan_ms, plans, toplevel, r.rolname,
            round((shared_blks_hit + shared_blks_read)::numeric / calls, 1) AS buffers,
            left(regexp_replace(query, '\s+', ' ', 'g'), 110) AS query
       FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
      WHERE calls >= 100 ORDER BY total_exec_time DESC LIMIT 12" >"$OUT/$measure-$side.statements.txt"
    say "$measure $side: $(cat "$OUT/$measure-$side.load.json")"
}

for measure in $MEASURES; do
    for side in task_api peer; do
        profile "$measure" "$side"
    done
done
for f in "$OUT"/*.top.txt "$OUT"/*.statements.txt; do echo "== $(basename "$f")"; cat "$f"; echo; done
echo "$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg) at the end; $(date -u +%Y-%m-%dT%H:%MZ); perf data in $OUT"
