#!/usr/bin/env bash
# Rate limiting on real clusters (run by scripts/test.sh, tier "cluster"):
#   1. exact admission: 16 pgbench clients hammer one bucket through
#      pre_request(); exactly the quota gets through, never more; then in
#      tight loops of charges (the contention that catches a check-and-update
#      that is not atomic, which the first run, one request a transaction,
#      does not);
#   2. a hot standby made with pg_basebackup -R from the test cluster
#      limits requests in its own shared memory (read-only, no WAL); the
#      events claim bound works there and claim_events() is refused;
#   3. on that standby (a table of 100 buckets): least-recently-used idle
#      buckets are evicted when the table is full, and with none idle the
#      newcomers share an overflow bucket (still limited) and the log says so;
#   4. the standby restarted without shared_preload_libraries: requests work
#      unlimited, and task_api.status(), the functions and the log say so;
#   2b. on the standby, a user's requests in flight are capped
#      (task_api.max_inflight_per_user), and a backend killed while it holds
#      a slot makes the server restart with every slot free (no leak).
# Prints TAP lines ("ok N - ...", "not ok N - ...").  Environment:
# TASK_API_CLUSTER_DIR (the test cluster's directory), TASK_API_TEST_PG_PORT,
# TASK_API_TEST_STANDBY_PORT (default: the test port + 10).
# shellcheck source=SCRIPTDIR/../../scripts/lib.sh
source "$(dirname "$0")/../../scripts/lib.sh"
set +e
# shellcheck source=SCRIPTDIR/../lib/tap.sh
source "$ROOT/test/lib/tap.sh"
# shellcheck source=SCRIPTDIR/../lib/cluster.sh
source "$ROOT/test/lib/cluster.sh"

DB=task_api_cluster
CLIENTS=16
TRIES=20          # per client
QUOTA=100         # the user's burst; refill is 1 a minute
standby="$dir/standby"

cleanup() {
    standby_remove "$standby"
    # Back to no limits for whatever runs next.
    cluster_rate_limits "$dir" "$PG_PORT" 0 >/dev/null 2>&1 || true
    for k in anon user api_key login; do
        cluster_psql "$dir" "$PG_PORT" -d postgres -qc "ALTER SYSTEM RESET task_api.rate_limit_${k}_burst" >/dev/null 2>&1
    done
    cluster_psql "$dir" "$PG_PORT" -d postgres -qc "ALTER SYSTEM RESET task_api.max_inflight_per_user" >/dev/null 2>&1
    cluster_psql "$dir" "$PG_PORT" -d postgres -qc "SELECT pg_reload_conf()" >/dev/null 2>&1
}
trap cleanup EXIT

cluster_psql "$dir" "$PG_PORT" -d postgres -qc "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
cluster_psql "$dir" "$PG_PORT" -d "$DB" -qc "SET client_min_messages = warning" -c "CREATE EXTENSION task_api" >/dev/null

# A real user with a session; the claims PostgREST would pass for its token.
CLAIMS=$(psql_at "$PG_PORT" <<'SQL'
WITH u AS (INSERT INTO task_api.users (email, display_name) VALUES ('limits@example.test', 'Limits') RETURNING id)
SELECT (task_api.jwt_verify(task_api.start_session(u.id) ->> 'token')).claims::text FROM u;
SQL
)
USER_ID=$(psql_at "$PG_PORT" -c "SELECT id FROM task_api.users WHERE email = 'limits@example.test'")

# One request as PostgREST runs it, reporting admitted or rate_limited;
# any other error is raised (and fails the run).
psql_at "$PG_PORT" >/dev/null <<'SQL'
CREATE SCHEMA rl_test;
CREATE TABLE rl_test.outcomes (admitted boolean NOT NULL);
CREATE FUNCTION rl_test.request(claims text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('request.method', 'GET', true);
    PERFORM set_config('request.path', '/projects', true);
    PERFORM set_config('request.headers', '{"accept": "application/json"}', true);
    PERFORM set_config('request.cookies', '{}', true);
    PERFORM set_config('request.jwt.claims', claims, true);
    BEGIN
        PERFORM task_api.pre_request();
        RETURN true;
    EXCEPTION WHEN SQLSTATE 'PGRST' THEN
        IF SQLERRM::json ->> 'code' = 'rate_limited' THEN
            RETURN false;
        END IF;
        RAISE;
    END;
END
$$;
SQL

# ---------------------------------------------------------------------------
# 1. Exact admission under concurrency
# ---------------------------------------------------------------------------
cluster_rate_limits "$dir" "$PG_PORT" 1
# The 16 clients are one user: no cap on their requests in flight here (it
# would refuse some of them before the bucket is empty).
cluster_psql "$dir" "$PG_PORT" -d postgres -qc "ALTER SYSTEM SET task_api.rate_limit_user_burst = $QUOTA" \
    -c "ALTER SYSTEM SET task_api.max_inflight_per_user = 0" \
    -c "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 1 200); do
    [ "$(psql_at "$PG_PORT" -c "SELECT current_setting('task_api.rate_limit_user_burst')")" = "$QUOTA" ] && break
    sleep 0.05
done
psql_at "$PG_PORT" -c "SELECT task_api.rate_limit_reset()" >/dev/null
script=$(mktemp)
printf 'INSERT INTO rl_test.outcomes SELECT rl_test.request(%s);\n' "'$CLAIMS'" > "$script"
chmod 644 "$script"
pgbench_log=$(mktemp)
"$PGBIN/pgbench" -n -h "$sock" -p "$PG_PORT" -U postgres -c "$CLIENTS" -j 4 -t "$TRIES" -f "$script" "$DB" >"$pgbench_log" 2>&1
check "pgbench: $CLIENTS clients x $TRIES requests on one bucket ran without errors" \
    "$((CLIENTS * TRIES)) 0" \
    "$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$pgbench_log") $(grep -c 'aborted\|ERROR' "$pgbench_log")"
[ "$failures" -eq 0 ] || sed 's/^/#   /' "$pgbench_log" | tail -n 20
check "exactly the quota ($QUOTA) was admitted, the rest refused with rate_limited" \
    "$QUOTA $((CLIENTS * TRIES - QUOTA))" \
    "$(psql_at "$PG_PORT" -c "SELECT count(*) FILTER (WHERE admitted) || ' ' || count(*) FILTER (WHERE NOT admitted) FROM rl_test.outcomes")"
check "the bucket is empty afterwards" "0 true" \
    "$(psql_at "$PG_PORT" -c "SELECT remaining || ' ' || tracked FROM task_api.rate_limit_status('user', '$USER_ID')")"
rm -f "$script" "$pgbench_log"

# The same bucket under far more contention: each client charges it in a
# tight loop (rate_limit_charge() runs the code pre_request() runs), so the
# 16 backends are inside the check-and-update together all the time.  A
# check-and-update that were not atomic would let more than the quota in.
TIGHT_QUOTA=20000
TIGHT_TRIES=3000  # per client: 48000 attempts
cluster_psql "$dir" "$PG_PORT" -d postgres -qc "ALTER SYSTEM SET task_api.rate_limit_user_burst = $TIGHT_QUOTA" \
    -c "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 1 200); do
    [ "$(psql_at "$PG_PORT" -c "SELECT current_setting('task_api.rate_limit_user_burst')")" = "$TIGHT_QUOTA" ] && break
    sleep 0.05
done
psql_at "$PG_PORT" -c "SELECT task_api.rate_limit_reset()" -c "CREATE TABLE rl_test.tight (admitted bigint NOT NULL)" >/dev/null
script=$(mktemp)
printf "INSERT INTO rl_test.tight SELECT count(*) FILTER (WHERE (task_api.rate_limit_charge('user', '%s')).allowed) FROM generate_series(1, %s);\n" \
    "$USER_ID" "$TIGHT_TRIES" > "$script"
chmod 644 "$script"
pgbench_log=$(mktemp)
"$PGBIN/pgbench" -n -h "$sock" -p "$PG_PORT" -U postgres -c "$CLIENTS" -j "$CLIENTS" -t 1 -f "$script" "$DB" >"$pgbench_log" 2>&1
check "tight loops: $CLIENTS clients x $TIGHT_TRIES charges of one bucket, exactly its quota ($TIGHT_QUOTA) admitted" \
    "$CLIENTS $TIGHT_QUOTA" \
    "$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$pgbench_log") $(psql_at "$PG_PORT" -c "SELECT sum(admitted) FROM rl_test.tight")"
[ "$failures" -eq 0 ] || sed 's/^/#   /' "$pgbench_log" | tail -n 20
rm -f "$script" "$pgbench_log"

# ---------------------------------------------------------------------------
# 2. A hot standby limits requests too
# ---------------------------------------------------------------------------
as_root rm -rf -- "$standby"
as_pg "$PGBIN/pg_basebackup" -h "$sock" -p "$PG_PORT" -U postgres -D "$standby" -R -X stream -c fast >/dev/null 2>&1
check "pg_basebackup -R made a streaming replica" "yes" "$(as_pg test -f "$standby/standby.signal" && echo yes || echo no)"
as_pg "$PGBIN/pg_ctl" -D "$standby" -l "$dir/standby.log" -w -t 60 \
    -o "-c port=$STANDBY_PORT -c task_api.rate_limit_anon=3 -c task_api.rate_limit_user=2 -c task_api.rate_limit_user_burst=0 -c task_api.rate_limit_api_key=100000000 -c task_api.rate_limit_buckets=100 -c task_api.max_inflight_per_user=2" \
    start >/dev/null 2>&1
check "the standby runs in recovery (hot standby)" "t" "$(psql_at "$STANDBY_PORT" -c "SELECT pg_is_in_recovery()" 2>&1)"

# Requests as PostgREST sends a GET (read-only), in one session on the standby.
requests() { # requests CLAIMS COUNT: "admitted N limited M"
    psql_at "$STANDBY_PORT" 2>&1 <<SQL
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
DO \$\$
DECLARE
    admitted int := 0;
    limited int := 0;
BEGIN
    FOR i IN 1..$2 LOOP
        BEGIN
            PERFORM set_config('request.method', 'GET', true);
            PERFORM set_config('request.path', '/projects', true);
            PERFORM set_config('request.jwt.claims', '$1', true);
            PERFORM task_api.pre_request();
            admitted := admitted + 1;
        EXCEPTION WHEN SQLSTATE 'PGRST' THEN
            IF SQLERRM::json ->> 'code' <> 'rate_limited' THEN
                RAISE;
            END IF;
            limited := limited + 1;
        END;
    END LOOP;
    RAISE NOTICE 'admitted % limited %', admitted, limited;
END
\$\$;
COMMIT;
SQL
}
psql_at "$PG_PORT" -c "SELECT task_api.rate_limit_reset()" >/dev/null
check "anonymous GETs on the standby: 3 admitted, then refused (its own limits)" \
    "admitted 3 limited 2" "$(requests '{"role": "task_api_anon"}' 5 | sed -n 's/.*NOTICE:  //p')"
check "a user's GETs on the standby: 2 admitted (the session replicated), then refused" \
    "admitted 2 limited 2" "$(requests "$CLAIMS" 4 | sed -n 's/.*NOTICE:  //p')"
check "the standby keeps its buckets in its own shared memory: the user's is empty there, untouched on the primary" \
    "0 true | f" \
    "$(psql_at "$STANDBY_PORT" -c "SELECT remaining || ' ' || tracked FROM task_api.rate_limit_status('user', '$USER_ID')" 2>&1) | $(psql_at "$PG_PORT" -c "SELECT tracked FROM task_api.rate_limit_status('user', '$USER_ID')")"

# Events on the standby: the claim bound reads (no writer can exist there),
# claiming is refused as the write it is, nothing crashes.
claim_out=$(psql_at "$STANDBY_PORT" -c "SELECT * FROM task_api.claim_events('standby', 1)" 2>&1 || true)
check "events on the standby: the claim bound is computed; claim_events() is refused as a write" \
    "t | refused" \
    "$(psql_at "$STANDBY_PORT" -c "SELECT task_api.events_claim_bound() > 0" 2>&1) | $([[ "$claim_out" == *"cannot execute INSERT in a read-only transaction"* ]] && echo refused || echo "$claim_out")"

# ---------------------------------------------------------------------------
# 2b. Requests in flight on the standby (cap 2), and a crash restart
# ---------------------------------------------------------------------------
inflight() { # inflight FIELD: a member of task_api.status() -> 'in_flight' on the standby
    psql_at "$STANDBY_PORT" -c "SELECT task_api.status() -> 'in_flight' ->> '$1'" 2>&1
}
hold_slot() { # a session that takes one of the user's slots, then sleeps
    # pre_request() makes the request id the application_name: slot_holder.
    printf '%s\n' "BEGIN READ ONLY;" \
        "SELECT set_config('request.path', '/projects', true), set_config('request.jwt.claims', '$CLAIMS', true), set_config('request.headers', '{\"x-request-id\": \"slot_holder\"}', true);" \
        "SELECT task_api.pre_request();" "SELECT pg_sleep(120);" |
        PGAPPNAME=slot_holder "$PGBIN/psql" -X -q -h "$sock" -p "$STANDBY_PORT" -U postgres -d "$DB" >/dev/null 2>&1 &
}
wait_until() { # wait_until EXPECTED COMMAND...: poll for up to 20 s
    local expected=$1
    shift
    for _ in $(seq 1 200); do
        [ "$("$@")" = "$expected" ] && return 0
        sleep 0.1
    done
    return 1
}
psql_at "$STANDBY_PORT" -c "SELECT task_api.rate_limit_reset()" >/dev/null
hold_slot
hold_slot
wait_until 2 inflight held
# The third request passes its (reset) rate-limit bucket, then meets the cap.
psql_at "$STANDBY_PORT" -c "SELECT task_api.rate_limit_reset()" >/dev/null
check "two requests of one user hold slots on the standby; a third is refused at the cap (2)" \
    "2 | admitted 0 limited 1 | 1" \
    "$(inflight held) | $(requests "$CLAIMS" 1 | sed -n 's/.*NOTICE:  //p') | $(inflight refused)"
holder=$(psql_at "$STANDBY_PORT" -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'slot_holder' ORDER BY pid LIMIT 1")
# The shell's kill: the cluster runs as us, or as postgres when we are root
# (a minimal Debian has no kill program for sudo to run).
kill -KILL "$holder"
sleep 1
wait_until t psql_at "$STANDBY_PORT" -c "SELECT pg_is_in_recovery()" 2>/dev/null
check "a backend killed while holding a slot: the standby restarts, every slot is free, the user is served" \
    "0 0 | admitted 1 limited 0" \
    "$(inflight held) $(inflight refused) | $(requests "$CLAIMS" 1 | sed -n 's/.*NOTICE:  //p')"
check "the server log shows the crash restart" "yes" \
    "$(as_pg grep -q 'terminating any other active server processes\|all server processes terminated; reinitializing' "$dir/standby.log" && echo yes || echo no)"
wait

# ---------------------------------------------------------------------------
# 3. A full table (on the standby, whose table holds 100 buckets)
# ---------------------------------------------------------------------------
buckets() { # buckets FIELD: a counter of task_api.status() on the standby
    psql_at "$STANDBY_PORT" -c "SELECT task_api.status() -> 'rate_limit_buckets' ->> '$1'"
}
key() { echo "format('00000000-0000-4000-8000-%s', lpad(($1)::text, 12, '0'))"; }
psql_at "$STANDBY_PORT" -c "SELECT task_api.rate_limit_reset()" >/dev/null
# 100 API keys at 100 million a minute: each is full again (idle) at once.
check "100 API-key buckets fill the table of 100" "100 100" \
    "$(psql_at "$STANDBY_PORT" -c "SELECT count(*) FILTER (WHERE (task_api.rate_limit_charge('api_key', $(key g))).allowed) FROM generate_series(1, 100) g") $(buckets in_use)"
check "a newcomer evicts the least recently used idle buckets, a tenth of the table" "91 10 | false false true true" \
    "$(psql_at "$STANDBY_PORT" -c "SELECT (task_api.rate_limit_charge('anon', '203.0.113.1')).allowed" >/dev/null; buckets in_use) $(buckets evictions) | $(psql_at "$STANDBY_PORT" -c "SELECT string_agg(tracked::text, ' ' ORDER BY g) FROM unnest(ARRAY[1, 10, 11, 100]) g, LATERAL task_api.rate_limit_status('api_key', $(key g))")"
# The counter of src/metrics.c (zeroed by the crash restart above) saw them.
check "the evictions are counted in task_api.metrics" "10" \
    "$(psql_at "$STANDBY_PORT" -c "SELECT value FROM task_api.metrics WHERE metric = 'task_api_rate_limit_evictions_total'")"
# 100 client addresses at 3 a minute: none is idle for 20 s.
psql_at "$STANDBY_PORT" -c "SELECT task_api.rate_limit_reset()" >/dev/null
check "100 anonymous client buckets, none idle, fill the table" "100 100" \
    "$(psql_at "$STANDBY_PORT" -c "SELECT count(*) FILTER (WHERE (task_api.rate_limit_charge('anon', '10.1.0.' || g)).allowed) FROM generate_series(1, 100) g") $(buckets in_use)"
scans_before=$(buckets eviction_scans)
check "with no idle bucket, newcomers share the kind's overflow bucket (3 a minute): still limited, never unlimited" \
    "t t t f f | 100 5" \
    "$(psql_at "$STANDBY_PORT" -c "SELECT string_agg((task_api.rate_limit_charge('anon', '10.2.0.' || g)).allowed::text, ' ' ORDER BY g) FROM generate_series(1, 5) g" 2>/dev/null | sed 's/true/t/g; s/false/f/g') | $(buckets in_use) $(buckets overflows)"
check "a full table with no idle bucket is scanned once, not once per newcomer (none is idle for 20 s)" "1" \
    "$(( $(buckets eviction_scans) - scans_before ))"
psql_at "$STANDBY_PORT" -c "SELECT task_api.rate_limit_reset('anon', '10.1.0.1')" >/dev/null
check "a removed bucket makes room again at once: the next newcomer gets a bucket of its own" "t 100 | t" \
    "$(psql_at "$STANDBY_PORT" -c "SELECT (task_api.rate_limit_charge('anon', '10.3.0.1')).allowed") $(buckets in_use) | $(psql_at "$STANDBY_PORT" -c "SELECT tracked FROM task_api.rate_limit_status('anon', '10.3.0.1')")"
check "the server log warns that the table is full" "yes" \
    "$(as_pg grep -q 'rate limit table is full of active buckets' "$dir/standby.log" && echo yes || echo no)"

# ---------------------------------------------------------------------------
# 4. Without shared_preload_libraries (the standby restarted without it)
# ---------------------------------------------------------------------------
as_pg "$PGBIN/pg_ctl" -D "$standby" -l "$dir/standby.log" -w -t 60 -m fast \
    -o "-c port=$STANDBY_PORT -c shared_preload_libraries=''" restart >/dev/null 2>&1
check "not preloaded: task_api.status() says rate limiting is off" "off (not preloaded)" \
    "$(psql_at "$STANDBY_PORT" -c "SELECT task_api.status() ->> 'rate_limit'" 2>&1)"
check "not preloaded: requests still work, with no RateLimit headers (only the request id)" "admitted 5 limited 0 | [{\"X-Request-Id\": \"ID\"}]" \
    "$(requests '{"role": "task_api_anon"}' 5 | sed -n 's/.*NOTICE:  //p') | $(printf '%s\n' "BEGIN;" "SELECT task_api.pre_request();" "SELECT current_setting('response.headers', true);" "COMMIT;" | psql_at "$STANDBY_PORT" 2>&1 | tr -d '\n' | sed 's/[0-9a-f]\{32\}/ID/')"
check "not preloaded: the operators' functions say why they cannot work" \
    "ERROR:  task_api rate limiting is off DETAIL:  task_api must be loaded via shared_preload_libraries." \
    "$(psql_at "$STANDBY_PORT" -c "SELECT task_api.rate_limit_status('anon')" 2>&1 | tr '\n' ' ' | sed 's/ *$//')"
bound_out=$(psql_at "$STANDBY_PORT" -c "SELECT task_api.events_claim_bound()" 2>&1 || true)
check "not preloaded: events_claim_bound() says it needs shared_preload_libraries" "yes" \
    "$([[ "$bound_out" == *"must be loaded via shared_preload_libraries"* ]] && echo yes || echo "$bound_out")"
check "not preloaded: the server log says rate limiting is off" "yes" \
    "$(as_pg grep -q 'Rate limiting, which needs shared memory, is off' "$dir/standby.log" && echo yes || echo no)"

echo "1..$n"
# The last command's status is the script's.
[ "$failures" -eq 0 ]
