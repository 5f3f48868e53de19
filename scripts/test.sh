#!/usr/bin/env bash
# make test: install what is missing, build, then run every test tier against
# a throw-away cluster and PostgREST:
#   0. the pure-C cores (JWT and cursor codecs, rate limiter): unit tests and bounded
#      libFuzzer runs (test/c/)
#   1. pg_regress (sql/ -> expected/) and isolation tests (specs/)
#   2. pgTAP (test/pgtap/, with pg_prove)
#   3. clusters: the rate limiter under 16 concurrent pgbench clients and on a
#      hot standby made with pg_basebackup (test/cluster/)
#   4. upgrades: the release scripts, the catalogue after an update from
#      every release, and a database filled through the API at the first
#      release and updated while PostgREST serves it (test/upgrade/)
#   5. backups: pg_dump and pg_restore of a filled database, in every format
#      and into a fresh cluster, then the API on the copy (test/backup/)
#   6. HTTP end to end through the real PostgREST (test/http/, node --test),
#      against the database tier 4 upgraded (a fresh one without tier 4)
#   7. security: an attacker's probes through PostgREST (test/security/)
# Ends with one line "N passed, N failed" summed over the tiers.
source "$(dirname "$0")/lib.sh"

PG_PORT=${TASK_API_TEST_PG_PORT:-5498}
API_PORT=${TASK_API_TEST_PORT:-3998}
# Which tiers to run (all by default), e.g. TASK_API_TEST_TIERS="pgtap http".
TIERS=" ${TASK_API_TEST_TIERS:-c regress pgtap cluster upgrade backup http security} "
tier() { [[ "$TIERS" == *" $1 "* ]]; }

"$ROOT/scripts/deps.sh"
build_and_install

dir=$(state_dir "test-$PG_PORT")
logdir="$ROOT/.task_api/test-logs-$PG_PORT"
pidfile="$ROOT/.task_api/postgrest-test-$PG_PORT.pid"

cleanup() {
    postgrest_stop "$pidfile" || true
    # Read as root (the server's file may be private), written as the caller.
    as_root cat "$dir/postgres.log" 2>/dev/null > "$logdir/postgres.log" || true
    if [ -z "${TASK_API_KEEP_TEST_CLUSTER:-}" ]; then
        cluster_discard "$dir"
        remove_state_dir "test-$PG_PORT"
        # It holds the discarded cluster's password and secret.
        rm -f "$ROOT/.task_api/postgrest-test-$PG_PORT.conf"
    else
        cluster_stop "$dir" || true
    fi
}
trap cleanup EXIT

# A fresh cluster every run.
postgrest_stop "$pidfile"
rm -rf "$logdir" && mkdir -p "$logdir"
cluster_recreate "$dir" "$PG_PORT"
cluster_start "$dir"

passed=0
failed=0
count() { # add to the totals: count PASSED FAILED
    passed=$((passed + $1))
    failed=$((failed + $2))
}

# Tier 0: the pure-C cores outside the server, under ASan/UBSan, and fuzzed.
if tier c; then
say "tier 0: pure-C unit tests and fuzzers"
set +e
make -s -C "$ROOT/test/c" PG_CONFIG="$PGBIN/pg_config" unit >"$logdir/c-unit.log" 2>&1
unit_rc=$?
make -s -k -C "$ROOT/test/c" PG_CONFIG="$PGBIN/pg_config" fuzz FUZZ_RUNS="${TASK_API_FUZZ_RUNS:-50000}" >"$logdir/c-fuzz.log" 2>&1
fuzz_rc=$?
set -e
grep -E "^FAIL|passed" "$logdir/c-unit.log" || tail -n 20 "$logdir/c-unit.log"
grep -E "^fuzz:" "$logdir/c-fuzz.log" || tail -n 20 "$logdir/c-fuzz.log"
p=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$logdir/c-unit.log" | tail -n1)
f=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$logdir/c-unit.log" | tail -n1)
p=${p:-0}
f=${f:-0}
if [ "$unit_rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
# One check per fuzzer: "fuzz: NAME: N runs, 0 crashes".
fp=$(grep -c '^fuzz: .* 0 crashes' "$logdir/c-fuzz.log" || true)
p=$((p + fp))
if [ "$fuzz_rc" -ne 0 ]; then f=$((f + 1)); fi
count "$p" "$f"
fi

# pg_regress and pgTAP outputs carry no rate-limit counters: no limits there
# (sql/rate_limit.sql sets its own); HTTP tests run under high ones.
cluster_rate_limits "$dir" "$PG_PORT" 0

# Tier 1: pg_regress and isolation, through PGXS installcheck.
if tier regress; then
say "tier 1: pg_regress and isolation tests"
set +e
make -C "$ROOT" -s PG_CONFIG="$PGBIN/pg_config" installcheck PGHOST="$(socket_dir "$dir")" PGPORT="$PG_PORT" PGUSER=postgres \
    >"$logdir/regress.log" 2>&1
regress_rc=$?
set -e
cat "$logdir/regress.log"
p=$(grep -cE '^(ok|test|     |) *[a-z0-9_]+ +\.\.\. ok' "$logdir/regress.log" || true)
f=$(grep -cE '\.\.\. FAILED' "$logdir/regress.log" || true)
if [ "$regress_rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
[ -f "$ROOT/regression.diffs" ] && [ "$f" -gt 0 ] && cat "$ROOT/regression.diffs"
count "$p" "$f"
fi

# Tier 2: pgTAP.
if tier pgtap; then
say "tier 2: pgTAP"
cluster_psql "$dir" "$PG_PORT" -d postgres -c "CREATE DATABASE task_api_tap"
cluster_psql "$dir" "$PG_PORT" -d task_api_tap -c "CREATE EXTENSION pgtap" -c "CREATE EXTENSION task_api"
set +e
pg_prove --verbose -h "$(socket_dir "$dir")" -p "$PG_PORT" -U postgres -d task_api_tap \
    ${TASK_API_PGTAP_FILES:-"$ROOT"/test/pgtap/*.sql} >"$logdir/pgtap.log" 2>&1
tap_rc=$?
set -e
grep -vE '^ok ' "$logdir/pgtap.log" || true
p=$(grep -cE '^ok ' "$logdir/pgtap.log" || true)
f=$(grep -cE '^not ok ' "$logdir/pgtap.log" || true)
if [ "$tap_rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
echo "pgTAP: $p passed, $f failed"
count "$p" "$f"
# docs/reference.md is what the catalogue of a fresh install says.
if "$ROOT/scripts/reference.sh" --check -h "$(socket_dir "$dir")" -p "$PG_PORT" -U postgres -d task_api_tap \
        >"$logdir/reference.log" 2>&1; then
    echo "ok - docs/reference.md is current"
    count 1 0
else
    echo "not ok - docs/reference.md is stale: run scripts/reference.sh on a fresh install"
    head -n 40 "$logdir/reference.log"
    count 0 1
fi
fi

# What test/http/, test/lib/fill.mjs and verify.test.mjs need.
test_env() {
    TASK_API_URL="http://127.0.0.1:$API_PORT" \
    TASK_API_JWT_SECRET="$(cluster_secret "$dir" jwt_secret)" \
    TASK_API_PSQL="$PGBIN/psql" TASK_API_PGHOST="$(socket_dir "$dir")" TASK_API_PGPORT="$PG_PORT" \
    TASK_API_PGDATABASE=task_api_http TASK_API_AS_PG="$( [ "$(id -u)" = 0 ] && echo postgres )" \
    TASK_API_CLUSTER_DIR="$dir" TASK_API_TEST_PG_PORT="$PG_PORT" TASK_API_TEST_PORT="$API_PORT" \
        "$@"
}
# The HTTP tier's database and PostgREST: created at the first release when
# the upgrade tier runs (it updates them), at the current version otherwise.
http_database() { # http_database [VERSION]
    database_setup "$dir" "$PG_PORT" task_api_http "$@"
    cluster_rate_limits "$dir" "$PG_PORT" 100000000
    conf=$(postgrest_config "$dir" "$PG_PORT" task_api_http "$API_PORT")
    postgrest_start "$conf" "$logdir/postgrest.log" "$pidfile" "$API_PORT"
}
tap_tier() { # tap_tier NAME SCRIPT: run a tier script printing TAP lines
    local name=$1 rc p f
    set +e
    test_env "$2" >"$logdir/$name.log" 2>&1
    rc=$?
    set -e
    cat "$logdir/$name.log"
    p=$(grep -cE '^ok ' "$logdir/$name.log" || true)
    f=$(grep -cE '^not ok ' "$logdir/$name.log" || true)
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    count "$p" "$f"
}

# Tier 3: clusters (exact admission under concurrency, a hot standby).
if tier cluster; then
say "tier 3: rate limiting with 16 concurrent clients and on a hot standby"
tap_tier cluster "$ROOT/test/cluster/rate_limit.sh"
fi

# Tier 4: upgrades.
if tier upgrade; then
say "tier 4: upgrades from every release"
# The first release: the oldest frozen full script.
first=$(find "$ROOT/sql" -maxdepth 1 -name 'task_api--*.sql' ! -name 'task_api--*--*' -printf '%f\n' |
        sed 's/^task_api--\(.*\)\.sql$/\1/' | sort -V | head -n 1)
http_database "$first"
TASK_API_UPGRADE_DB=task_api_http tap_tier upgrade "$ROOT/test/upgrade/upgrade.sh"
fi

# Tier 5: backups.
if tier backup; then
say "tier 5: backup and restore"
tap_tier backup "$ROOT/test/backup/backup.sh"
fi

http_run() { # http_run LOG FILES...: run, report, add to the totals
    local log=$1 rc p f
    shift
    set +e
    # Nothing may hang the suite: a run is cut off after ten minutes (the
    # node of Debian 12, 18, has no --test-timeout).
    test_env timeout --kill-after=10 600 node --test --test-reporter=tap "$@" >"$log" 2>&1
    rc=$?
    set -e
    grep -E '^# (tests|pass|fail)|^not ok|^    not ok' "$log" || true
    if grep -E '^# fail [1-9]|^not ok' "$log" | grep -qv '# TODO' || [ "$rc" -ne 0 ]; then
        sed -n '/not ok/,/\.\.\./p' "$log" | head -n 200
    fi
    p=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$log" | tail -n1)
    f=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$log" | tail -n1)
    p=${p:-0}
    f=${f:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    count "$p" "$f"
}

# Tier 6: HTTP end to end through the real PostgREST.
if tier http; then
say "tier 6: HTTP end to end through PostgREST"
tier upgrade || http_database
# node --test runs files concurrently; rate_limit.test.mjs changes the
# cluster's limits, so it runs alone after the others.
concurrent=() alone=()
for file in ${TASK_API_HTTP_FILES:-"$ROOT"/test/http/*.test.mjs}; do
    case $(basename "$file") in
        rate_limit.test.mjs) alone+=("$file") ;;
        *) concurrent+=("$file") ;;
    esac
done
[ ${#concurrent[@]} -eq 0 ] || http_run "$logdir/http.log" "${concurrent[@]}"
[ ${#alone[@]} -eq 0 ] || http_run "$logdir/http-rate-limit.log" "${alone[@]}"
fi

# Tier 7: an attacker's probes through the real PostgREST, one file at a time
# (they change the cluster's limits and timeouts).
if tier security; then
say "tier 7: security probes through PostgREST"
tier http || tier upgrade || http_database
# shellcheck disable=SC2206 # a list of files
security_files=(${TASK_API_SECURITY_FILES:-"$ROOT"/test/security/*.test.mjs})
if [ -e "${security_files[0]}" ]; then
    for file in "${security_files[@]}"; do
        http_run "$logdir/security-$(basename "$file" .test.mjs).log" "$file"
    done
else
    echo "no security test files"
fi
fi

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
