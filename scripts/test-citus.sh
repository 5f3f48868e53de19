#!/usr/bin/env bash
# make test-citus: the HTTP suite (test/http/) against task_api on a Citus
# cluster: a coordinator and two workers under .task_api/citus/, made afresh,
# the extension created on the coordinator and distributed with
# task_api.distribute(), PostgREST on the coordinator.  Ends with the
# suite's "N passed, N failed, N skipped" line and one line per test file.
# Where Citus is not installed in the PostgreSQL it uses (TASK_API_PGBIN,
# default Debian's), it says so and exits 0: CI cannot install it.
# Design and the tests that cannot apply: docs/scaling.md.
#
# Environment: TASK_API_CITUS_PG_PORT (coordinator, 5490; the workers take
# the next two ports), TASK_API_CITUS_API_PORT (PostgREST, 3990),
# TASK_API_HTTP_FILES (a subset of test/http/), TASK_API_KEEP_TEST_CLUSTER
# (keep the stopped cluster for a look).
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$0")/lib.sh"

PG_PORT=${TASK_API_CITUS_PG_PORT:-5490}
API_PORT=${TASK_API_CITUS_API_PORT:-3990}
WORKER_PORTS=("$((PG_PORT + 1))" "$((PG_PORT + 2))")
DB=task_api_http

if [ ! -f "$("$PGBIN/pg_config" --pkglibdir)/citus.so" ]; then
    echo "test-citus: citus.so is not installed in $("$PGBIN/pg_config" --pkglibdir): nothing to run"
    echo "(build it with Citus 13.2.2 for PostgreSQL 15; docs/scaling.md, \"Running the tests on Citus\")"
    exit 0
fi

"$ROOT/scripts/deps.sh"
build_and_install

# Every node shares one private socket directory: the nodes reach each
# other through it (trust there, unlike the socket of every other
# cluster), never over TCP; only the coordinator listens on 127.0.0.1.
top=$(state_dir citus)
sock="$top/run"
nodes=("$top/coordinator" "$top/worker1" "$top/worker2")
ports=("$PG_PORT" "${WORKER_PORTS[@]}")
logdir="$ROOT/.task_api/test-logs-citus-$PG_PORT"
pidfile="$ROOT/.task_api/postgrest-citus-$PG_PORT.pid"

cleanup() {
    local n
    postgrest_stop "$pidfile" || true
    for n in "${nodes[@]}"; do
        as_root cat "$n/postgres.log" 2>/dev/null > "$logdir/postgres-$(basename "$n").log" || true
        if [ -z "${TASK_API_KEEP_TEST_CLUSTER:-}" ]; then cluster_discard "$n"; else cluster_stop "$n" || true; fi
    done
    if [ -z "${TASK_API_KEEP_TEST_CLUSTER:-}" ]; then
        remove_state_dir citus
        rm -f "$ROOT/.task_api/postgrest-coordinator.conf"
    fi
}
trap cleanup EXIT

# citus_node NUMBER: make node NUMBER (0: the coordinator) afresh, with the
# coordinator's secrets and Citus preloaded first.
citus_node() {
    local i=$1 n=${nodes[$1]} port=${ports[$1]} listen="''"
    as_pg mkdir -p "$n" "$sock"
    as_pg chmod 700 "$n" "$sock"
    cluster_recreate "$n" "$port" "$sock"
    # The nodes reach each other over the socket as the request's role, which
    # has no password: trust there, in a directory only the cluster's OS user
    # may enter (PostgREST then connects over 127.0.0.1).
    as_pg chmod 700 "$n" "$sock"
    printf '%s\n' "local all all trust" "local replication all trust" \
        "host all all 127.0.0.1/32 scram-sha-256" "host all all ::1/128 scram-sha-256" |
        as_pg tee "$n/data/pg_hba.conf" >/dev/null
    if [ "$i" -gt 0 ]; then
        as_pg cp "${nodes[0]}/data/task_api_secrets.conf" "$n/data/task_api_secrets.conf"
        as_pg cp "${nodes[0]}/authenticator.password" "$n/authenticator.password"
    else
        listen="'127.0.0.1'"
    fi
    as_pg tee "$n/data/task_api_citus.conf" >/dev/null <<CONF
# A node of the test Citus cluster (scripts/test-citus.sh).
shared_preload_libraries = 'citus,task_api,pg_stat_statements,auto_explain'
listen_addresses = $listen
max_prepared_transactions = 100
citus.enable_unsafe_triggers = on
CONF
    echo "include = 'task_api_citus.conf'" | as_pg tee -a "$n/data/postgresql.conf" >/dev/null
    cluster_start "$n"
}

postgrest_stop "$pidfile"
rm -rf "$logdir" && mkdir -p "$logdir"
for i in "${!nodes[@]}"; do
    say "Citus node $i: $(basename "${nodes[$i]}") on port ${ports[$i]}"
    citus_node "$i"
done

at() { # at NODE SQL...: superuser psql on $DB of node NODE
    local i=$1
    shift
    cluster_psql "${nodes[$i]}" "${ports[$i]}" -d "$DB" "$@"
}
for i in "${!nodes[@]}"; do
    cluster_psql "${nodes[$i]}" "${ports[$i]}" -d postgres -c "CREATE DATABASE $DB"
    at "$i" -c "SET client_min_messages = warning" -c "CREATE EXTENSION citus"
done
at 0 -c "SELECT citus_set_coordinator_host('$sock', $PG_PORT)" >/dev/null
for port in "${WORKER_PORTS[@]}"; do
    at 0 -c "SELECT citus_add_node('$sock', $port)" >/dev/null
done
database_setup "${nodes[0]}" "$PG_PORT" "$DB"
# The coordinator connects to the workers as the request's role: over the
# private socket (trust), so the API roles may log in there; over TCP they
# have no password (docs/scaling.md, "Running the tests on Citus").
at 0 -c "ALTER ROLE task_api_user LOGIN" -c "ALTER ROLE task_api_anon LOGIN"
say "distributing"
at 0 -c "SET client_min_messages = warning" -c "SELECT task_api.distribute()" >/dev/null
at 0 -c "SELECT task_api.distribute()" >/dev/null  # twice: idempotent
cluster_rate_limits "${nodes[0]}" "$PG_PORT" 100000000
conf=$(postgrest_config "${nodes[0]}" "$PG_PORT" "$DB" "$API_PORT")
# The gate runs in PostgREST's first statement (src/pre_request.c); on Citus
# citus_pre_request() adds the caller's projects for the workers' policies.
echo 'db-pre-request = "task_api.citus_pre_request"' >> "$conf"
# A LIMIT no list reaches: Citus then merges an ordered list on the
# coordinator before PostgREST's json_agg() (docs/scaling.md, "Ordered lists").
echo 'db-max-rows = 1000000000' >> "$conf"
postgrest_start "$conf" "$logdir/postgrest.log" "$pidfile" "$API_PORT"

# The HTTP tier as scripts/test.sh runs it: the files that change the
# cluster's settings alone, after the others.
test_env() {
    TASK_API_URL="http://127.0.0.1:$API_PORT" \
    TASK_API_JWT_SECRET="$(cluster_secret "${nodes[0]}" jwt_secret)" \
    TASK_API_PSQL="$PGBIN/psql" TASK_API_PGHOST="$sock" TASK_API_PGPORT="$PG_PORT" \
    TASK_API_PGDATABASE="$DB" TASK_API_AS_PG="$( [ "$(id -u)" = 0 ] && echo postgres )" \
    TASK_API_CLUSTER_DIR="${nodes[0]}" TASK_API_TEST_PG_PORT="$PG_PORT" TASK_API_TEST_PORT="$API_PORT" \
        "$@"
}
passed=0
failed=0
skipped=0
http_run() { # http_run LOG FILES...: the TAP log, and one line per file
    local log=$1 rc=0 p f s
    shift
    test_env timeout --kill-after=10 600 node --test --test-reporter=tap --test-reporter-destination="$log" \
        --test-reporter="$ROOT/test/lib/per_file_reporter.mjs" --test-reporter-destination="$log.files" \
        "$@" >"$log.out" 2>&1 || rc=$?
    p=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$log" | tail -n1)
    f=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$log" | tail -n1)
    s=$(sed -n 's/^# skipped \([0-9]*\)$/\1/p' "$log" | tail -n1)
    p=${p:-0} f=${f:-0} s=${s:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + s))
    cat "$log.files" >> "$logdir/per-file.txt" 2>/dev/null || true
}

concurrent=()
alone=()
for file in ${TASK_API_HTTP_FILES:-"$ROOT"/test/http/*.test.mjs}; do
    case $(basename "$file") in
        rate_limit.test.mjs|monitoring.test.mjs) alone+=("$file") ;;
        *) concurrent+=("$file") ;;
    esac
done
say "the HTTP suite against the coordinator"
[ ${#concurrent[@]} -eq 0 ] || http_run "$logdir/http.log" "${concurrent[@]}"
for file in "${alone[@]}"; do
    http_run "$logdir/http-$(basename "$file" .test.mjs).log" "$file"
done

# Event ids are unique across nodes (docs/scaling.md, "Events"): the suite
# wrote events on both workers, each from its own range.
id_nodes=$(at 0 -At -c "SELECT count(DISTINCT id >> 48) FROM task_api.events" || true)
id_dups=$(at 0 -At -c "SELECT count(*) FROM (SELECT id FROM task_api.events GROUP BY id HAVING count(*) > 1) d" || true)
if [ "${id_nodes:-0}" -ge 2 ] && [ "${id_dups:-1}" -eq 0 ]; then
    echo "event ids: unique across $id_nodes nodes" >> "$logdir/per-file.txt"
    passed=$((passed + 1))
else
    echo "event ids: FAILED (events from ${id_nodes:-0} node ranges, ${id_dups:-?} ids on more than one node)" >> "$logdir/per-file.txt"
    failed=$((failed + 1))
fi

echo
sort "$logdir/per-file.txt" 2>/dev/null || true
echo "logs: $logdir"
# Skipped: the tests that cannot apply on Citus (docs/scaling.md), not passes.
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
