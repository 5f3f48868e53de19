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
# shellcheck source=SCRIPTDIR/../lib/cluster.sh
source "$ROOT/test/lib/cluster.sh"

API_PORT=${TASK_API_TEST_PORT:-3998}
PRIMARY_API=$((API_PORT + 1))
STANDBY_API=$((API_PORT + 2))
DB=task_api_replica
standby="$dir/standby-replica"
logs="$ROOT/.task_api/test-logs-$PG_PORT"
mkdir -p "$logs"
primary_pid="$ROOT/.task_api/postgrest-replica-primary-$PG_PORT.pid"
standby_pid="$ROOT/.task_api/postgrest-replica-standby-$PG_PORT.pid"

cleanup() {
    postgrest_stop "$standby_pid" >/dev/null 2>&1
    postgrest_stop "$primary_pid" >/dev/null 2>&1
    standby_remove "$standby"
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
# The primary's PostgREST keeps 0.1.0's db-pre-request, as an operator's
# configuration may after an upgrade (replica.test.mjs counts its requests).
echo 'db-pre-request = "task_api.pre_request"' >> "$ROOT/.task_api/postgrest-replica-primary-$PG_PORT.conf"
postgrest_start "$ROOT/.task_api/postgrest-replica-primary-$PG_PORT.conf" "$logs/postgrest-replica-primary.log" \
    "$primary_pid" "$PRIMARY_API" >/dev/null

standby_start "$standby" "$dir/standby-replica.log" "-c task_api.rate_limit_nodes=4 -c task_api.rate_limit_api_key=100"
conf=$(postgrest_config "$dir" "$STANDBY_PORT" "$DB" "$STANDBY_API")
mv "$conf" "$ROOT/.task_api/postgrest-replica-standby-$PG_PORT.conf"
# Asked to keep to a CPU that does not exist (scripts/lib.sh
# postgrest_start): it says so, and runs on any.
started=$(TASK_API_POSTGREST_CPUS=4095 postgrest_start "$ROOT/.task_api/postgrest-replica-standby-$PG_PORT.conf" \
    "$logs/postgrest-replica-standby.log" "$standby_pid" "$STANDBY_API" 2>/dev/null)
check "PostgREST answers on the standby" "200" \
    "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$STANDBY_API/")"
check "PostgREST kept to a CPU that does not exist: a warning" "yes" \
    "$(grep -q 'warning: PostgREST could not be kept on CPUs 4095' <<<"$started" && echo yes || echo "no: $started")"
check "and its threads may run on every CPU" "$(sed -n 's/^Cpus_allowed_list:\t//p' /proc/self/status)" \
    "$(sed -n 's/^Cpus_allowed_list:\t//p' /proc/"$(cat "$standby_pid")"/task/*/status | sort -u)"

# The read suite against the standby's PostgREST.
out=$(TASK_API_URL="http://127.0.0.1:$PRIMARY_API" TASK_API_STANDBY_URL="http://127.0.0.1:$STANDBY_API" \
    TASK_API_STANDBY_PGPORT="$STANDBY_PORT" TASK_API_PGDATABASE="$DB" \
    timeout --kill-after=10 300 node --test --test-reporter=tap "$ROOT/test/cluster/replica.test.mjs" 2>&1)
node_rc=$?
echo "$out" > "$logs/replica-node.log"
while IFS= read -r line; do
    case $line in
        "ok "*) check "${line#ok * - }" ok ok ;;
        "not ok "*) check "${line#not ok * - }" ok "failed (see $logs/replica-node.log)"
                    sed -n '/^not ok/,/^  \.\.\./p' <<<"$out" | head -n 40 ;;
    esac
done < <(grep -E '^(not )?ok ' <<<"$out")
# A suite that did not run (node failed to start, a timeout) fails too.
grep -qE '^not ok ' <<<"$out" || check "the read suite ran (node's exit status)" "0" "$node_rc"

# task_api.rate_limit_nodes = 4 on the standby: it admits a quarter of each limit.
uid=00000000-0000-4000-8000-000000000019
check "rate_limit_nodes = 4: the standby's user quota and burst are a quarter of the limit" "25000000|25000000" \
    "$(psql_at "$STANDBY_PORT" -c "SELECT quota, burst FROM task_api.rate_limit_status('user', '$uid')" 2>&1)"
check "rate_limit_nodes = 1 (the default): the primary's are the whole limit" "100000000|100000000" \
    "$(psql_at "$PG_PORT" -c "SELECT quota, burst FROM task_api.rate_limit_status('user', '$uid')" 2>&1)"
check "rate_limit_nodes = 4: an API key limited to 100 a minute gets 25 on the standby" "25" \
    "$(psql_at "$STANDBY_PORT" -c "SELECT count(*) FILTER (WHERE c.allowed) FROM generate_series(1, 40) g,
                                          LATERAL task_api.rate_limit_charge('api_key', CASE WHEN g > 0 THEN '$uid' END) c" 2>&1)"

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
# TASK_API_REPLICA_MEASURE=1: reads on the standby alone, then with a
# concurrent stream of writes to it (docs/errors.md); diagnostics only.
if [ "${TASK_API_REPLICA_MEASURE:-}" = 1 ]; then
    reads() { # reads: "N non-200 of 300, S seconds"
        local start bad
        start=$(date +%s.%N)
        bad=$(for _ in $(seq 1 300); do
            curl -s -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$STANDBY_API/"
        done | grep -vc '^200$')
        echo "$bad non-200 of 300, $(echo "$(date +%s.%N) - $start" | bc) s"
    }
    echo "# reads alone: $(reads)"
    (for _ in $(seq 1 2000); do
        curl -s -o /dev/null -X POST -H 'Content-Type: application/json' -d '{"email":"x@example.com","password":"y"}' \
            "http://127.0.0.1:$STANDBY_API/rpc/login"
    done) &
    writer=$!
    echo "# reads with writes to the standby: $(reads)"
    kill "$writer" 2>/dev/null
    wait "$writer" 2>/dev/null
    echo "# schema cache loads in the standby's PostgREST log: $(grep -c 'Schema cache loaded' "$logs/postgrest-replica-standby.log")"
fi
echo "1..$n"
[ "$failures" -eq 0 ]
