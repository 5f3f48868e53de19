#!/usr/bin/env bash
# The API on a hot standby (run by scripts/test.sh, tier "cluster"): a
# standby made with pg_basebackup -R, one PostgREST on the primary and one on
# the standby, the same configuration but the database address; then
# test/cluster/replica.test.mjs (reads, writes refused, revocation after
# replay), and a stream of writes to the standby that must not make its
# PostgREST reload (it does on every 503: docs/errors.md).
# Prints TAP lines.  Environment: as test/cluster/rate_limit.sh, plus
# TASK_API_TEST_PORT (PostgREST ports: it + 1 for the primary, + 2 for the
# standby) and what test/http/lib.mjs takes.
# shellcheck source=SCRIPTDIR/../../scripts/lib.sh
source "$(dirname "$0")/../../scripts/lib.sh"
set +e
# shellcheck source=SCRIPTDIR/../lib/tap.sh
source "$ROOT/test/lib/tap.sh"

dir=${TASK_API_CLUSTER_DIR:?}
PG_PORT=${TASK_API_TEST_PG_PORT:-5498}
STANDBY_PORT=${TASK_API_TEST_STANDBY_PORT:-$((PG_PORT + 10))}
API_PORT=${TASK_API_TEST_PORT:-3998}
PRIMARY_API=$((API_PORT + 1))
STANDBY_API=$((API_PORT + 2))
DB=task_api_replica
standby="$dir/standby-replica"
sock=$(socket_dir "$dir")
logs="$ROOT/.task_api/test-logs-$PG_PORT"
mkdir -p "$logs"
primary_pid="$ROOT/.task_api/postgrest-replica-primary-$PG_PORT.pid"
standby_pid="$ROOT/.task_api/postgrest-replica-standby-$PG_PORT.pid"

cleanup() {
    postgrest_stop "$standby_pid" >/dev/null 2>&1
    postgrest_stop "$primary_pid" >/dev/null 2>&1
    if as_pg test -f "$standby/PG_VERSION"; then
        as_pg "$PGBIN/pg_ctl" -D "$standby" -m immediate -w stop >/dev/null 2>&1
    fi
    as_root rm -rf -- "$standby"
    rm -f "$ROOT/.task_api/postgrest-replica-"*"-$PG_PORT.conf"
    cluster_psql "$dir" "$PG_PORT" -d postgres -qc "ALTER SYSTEM RESET task_api.rate_limit_user" \
        -c "SELECT pg_reload_conf()" >/dev/null 2>&1
}
trap cleanup EXIT

# The primary: its database and PostgREST, with a user rate limit (the
# standby inherits it with postgresql.auto.conf) so that both send RateLimit headers.
cluster_psql "$dir" "$PG_PORT" -d postgres -qc "ALTER SYSTEM SET task_api.rate_limit_user = 100000000" \
    -c "SELECT pg_reload_conf()" >/dev/null
database_setup "$dir" "$PG_PORT" "$DB" >/dev/null
conf=$(postgrest_config "$dir" "$PG_PORT" "$DB" "$PRIMARY_API")
mv "$conf" "$ROOT/.task_api/postgrest-replica-primary-$PG_PORT.conf"
postgrest_start "$ROOT/.task_api/postgrest-replica-primary-$PG_PORT.conf" "$logs/postgrest-replica-primary.log" \
    "$primary_pid" "$PRIMARY_API" >/dev/null

as_root rm -rf -- "$standby"
as_pg "$PGBIN/pg_basebackup" -h "$sock" -p "$PG_PORT" -U postgres -D "$standby" -R -X stream -c fast >/dev/null 2>&1
as_pg "$PGBIN/pg_ctl" -D "$standby" -l "$dir/standby-replica.log" -w -t 60 -o "-c port=$STANDBY_PORT" start >/dev/null 2>&1
conf=$(postgrest_config "$dir" "$STANDBY_PORT" "$DB" "$STANDBY_API")
mv "$conf" "$ROOT/.task_api/postgrest-replica-standby-$PG_PORT.conf"
postgrest_start "$ROOT/.task_api/postgrest-replica-standby-$PG_PORT.conf" "$logs/postgrest-replica-standby.log" \
    "$standby_pid" "$STANDBY_API" >/dev/null
check "PostgREST answers on the standby" "200" \
    "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$STANDBY_API/projects")"

# The read suite against the standby's PostgREST.
out=$(TASK_API_URL="http://127.0.0.1:$PRIMARY_API" TASK_API_STANDBY_URL="http://127.0.0.1:$STANDBY_API" \
    TASK_API_STANDBY_PGPORT="$STANDBY_PORT" TASK_API_PGDATABASE="$DB" \
    timeout --kill-after=10 300 node --test --test-reporter=tap "$ROOT/test/cluster/replica.test.mjs" 2>&1)
echo "$out" > "$logs/replica-node.log"
while IFS= read -r line; do
    case $line in
        "ok "*) check "${line#ok * - }" ok ok ;;
        "not ok "*) check "${line#not ok * - }" ok "failed (see $logs/replica-node.log)"
                    sed -n '/^not ok/,/^  \.\.\./p' <<<"$out" | head -n 40 ;;
    esac
done < <(grep -E '^(not )?ok ' <<<"$out")

# A stream of writes to the standby: 421 each time, and its PostgREST keeps
# its pool and schema cache (a 503 would make it reconnect and reload).
before=$(grep -c 'Schema cache loaded' "$logs/postgrest-replica-standby.log")
codes=$(for _ in $(seq 1 30); do
    curl -s -o /dev/null -w '%{http_code}\n' -X POST -H 'Content-Type: application/json' \
        -d '{"email":"x@example.com","password":"y"}' "http://127.0.0.1:$STANDBY_API/rpc/login"
done | sort | uniq -c | awk '{print $2 "x" $1}' | tr '\n' ' ')
check "30 writes to the standby: 421 each" "421x30 " "$codes"
after=$(grep -c 'Schema cache loaded' "$logs/postgrest-replica-standby.log")
check "the standby's PostgREST did not reload its schema cache for them" "$before" "$after"
echo "1..$n"
[ "$failures" -eq 0 ]
