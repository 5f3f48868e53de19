#!/usr/bin/env bash
# make test: install what is missing, build, then run every test tier against
# a throw-away cluster and PostgREST:
#   0. the pure-C cores (JWT and cursor codecs, rate limiter): unit tests and bounded
#      libFuzzer runs (test/c/)
#   1. pg_regress (sql/ -> expected/) and isolation tests (specs/)
#   2. pgTAP (test/pgtap/, with pg_prove)
#   3. clusters: the rate limiter under 16 concurrent pgbench clients and on a
#      hot standby made with pg_basebackup (test/cluster/)
#   3b. revocation: a logout, a revoked API key or a deleted user refuses the
#      next request, on the primary and on a hot standby after replay
#      (test/cluster/revocation.sh)
#   4. upgrades: the release scripts, the catalogue after an update from
#      every release, and a database filled through the API at the first
#      release and updated while PostgREST serves it (test/upgrade/)
#   5. backups: pg_dump and pg_restore of a filled database, in every format
#      and into a fresh cluster, then the API on the copy (test/backup/)
#   6. HTTP end to end through the real PostgREST (test/http/, node --test),
#      against the database tier 4 upgraded (a fresh one without tier 4)
#   7. security: an attacker's probes through PostgREST (test/security/)
#   8. contract: the OpenAPI document at / (swagger-parser, openapi-typescript)
#      and a client session through a validating proxy (test/contract/)
#   9. lint: shellcheck -x of every shell script (scripts/, test/, .ci/run)
# Each tier is one row of TIER_TABLE below.  Ends with one line
# "N passed, N failed" summed over the tiers.
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$0")/lib.sh"

PG_PORT=${TASK_API_TEST_PG_PORT:-5498}
API_PORT=${TASK_API_TEST_PORT:-3998}
# Which tiers to run (all by default), e.g. TASK_API_TEST_TIERS="pgtap http".
TIERS=" ${TASK_API_TEST_TIERS:-c regress pgtap cluster revocation upgrade backup http security contract lint} "
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
# tally RC PASSED FAILED: add to the totals; a command that failed (RC not 0)
# with no failed check counts as one failure.
tally() {
    local rc=$1 p=${2:-0} f=${3:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    count "$p" "$f"
}
# pg_regress and pgTAP outputs carry no rate-limit counters: no limits there
# (sql/rate_limit.sql sets its own); HTTP tests run under high ones.
cluster_rate_limits "$dir" "$PG_PORT" 0

# Tier 0: the pure-C cores outside the server, under ASan/UBSan, and fuzzed.
c_tier() {
    local unit_rc=0 fuzz_rc=0 log="$logdir/c-unit.log" fuzz_log="$logdir/c-fuzz.log"
    make -s -C "$ROOT/test/c" PG_CONFIG="$PGBIN/pg_config" unit >"$log" 2>&1 || unit_rc=$?
    make -s -k -C "$ROOT/test/c" PG_CONFIG="$PGBIN/pg_config" fuzz FUZZ_RUNS="${TASK_API_FUZZ_RUNS:-50000}" \
        >"$fuzz_log" 2>&1 || fuzz_rc=$?
    grep -E "^FAIL|passed" "$log" || tail -n 20 "$log"
    grep -E "^fuzz:" "$fuzz_log" || tail -n 20 "$fuzz_log"
    tally "$unit_rc" "$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$log" | tail -n1)" \
        "$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$log" | tail -n1)"
    # One check per fuzzer: "fuzz: NAME: N runs, 0 crashes".
    count "$(grep -c '^fuzz: .* 0 crashes' "$fuzz_log" || true)" $((fuzz_rc != 0))
}

# Tier 1: pg_regress and isolation, through PGXS installcheck.
regress_tier() {
    local rc=0 log="$logdir/regress.log" f
    make -C "$ROOT" -s PG_CONFIG="$PGBIN/pg_config" installcheck PGHOST="$(socket_dir "$dir")" PGPORT="$PG_PORT" PGUSER=postgres \
        >"$log" 2>&1 || rc=$?
    cat "$log"
    f=$(grep -cE '\.\.\. FAILED' "$log" || true)
    if [ -f "$ROOT/regression.diffs" ] && { [ "$f" -gt 0 ] || [ "$rc" -ne 0 ]; }; then cat "$ROOT/regression.diffs"; fi
    tally "$rc" "$(grep -cE '^(ok|test|     |) *[a-z0-9_]+ +\.\.\. ok' "$log" || true)" "$f"
}

# Tier 2: pgTAP, then whether docs/reference.md is what the catalogue of a
# fresh install says.
pgtap_tier() {
    local rc=0 log="$logdir/pgtap.log" p f files
    # shellcheck disable=SC2206 # a list of files, split on white space
    files=(${TASK_API_PGTAP_FILES:-"$ROOT"/test/pgtap/*.sql})
    cluster_psql "$dir" "$PG_PORT" -d postgres -c "CREATE DATABASE task_api_tap"
    cluster_psql "$dir" "$PG_PORT" -d task_api_tap -c "CREATE EXTENSION pgtap" -c "CREATE EXTENSION task_api"
    pg_prove --verbose -h "$(socket_dir "$dir")" -p "$PG_PORT" -U postgres -d task_api_tap "${files[@]}" \
        >"$log" 2>&1 || rc=$?
    grep -vE '^ok ' "$log" || true
    p=$(grep -cE '^ok ' "$log" || true)
    f=$(grep -cE '^not ok ' "$log" || true)
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    echo "pgTAP: $p passed, $f failed"
    count "$p" "$f"
    if "$ROOT/scripts/reference.sh" --check -h "$(socket_dir "$dir")" -p "$PG_PORT" -U postgres -d task_api_tap \
            >"$logdir/reference.log" 2>&1; then
        echo "ok - docs/reference.md is current"
        count 1 0
    else
        echo "not ok - docs/reference.md is stale: run scripts/reference.sh on a fresh install"
        head -n 40 "$logdir/reference.log"
        count 0 1
    fi
}

# What test/http/, test/lib/fill.mjs and verify.test.mjs need.
test_env() {
    TASK_API_URL="http://127.0.0.1:$API_PORT" \
    TASK_API_JWT_SECRET="$(cluster_secret "$dir" jwt_secret)" \
    TASK_API_PSQL="$PGBIN/psql" TASK_API_PGHOST="$(socket_dir "$dir")" TASK_API_PGPORT="$PG_PORT" \
    TASK_API_PGDATABASE=task_api_http TASK_API_AS_PG="$( [ "$(id -u)" = 0 ] && echo postgres )" \
    TASK_API_CLUSTER_DIR="$dir" TASK_API_TEST_PG_PORT="$PG_PORT" TASK_API_TEST_PORT="$API_PORT" \
        "$@"
}
# The HTTP and security tiers' database and PostgREST, made once: at the
# first release by the upgrade tier (which updates them), at the current
# version otherwise.
http_database_ready=""
http_database() { # http_database [VERSION]
    [ -z "$http_database_ready" ] || return 0
    database_setup "$dir" "$PG_PORT" task_api_http "$@"
    cluster_rate_limits "$dir" "$PG_PORT" 100000000
    # The pages of test/security/browser.test.mjs: two origins may call the
    # API from a browser (only the first may use the session cookie).
    conf=$(postgrest_config "$dir" "$PG_PORT" task_api_http "$API_PORT" \
           "http://localhost:$((API_PORT + 1)),http://localhost:$((API_PORT + 2))")
    postgrest_start "$conf" "$logdir/postgrest.log" "$pidfile" "$API_PORT"
    http_database_ready=1
}
tap_tier() { # tap_tier NAME SCRIPT: run a tier script printing TAP lines
    local name=$1 rc=0 log="$logdir/$1.log"
    test_env "$ROOT/$2" >"$log" 2>&1 || rc=$?
    cat "$log"
    tally "$rc" "$(grep -cE '^ok ' "$log" || true)" "$(grep -cE '^not ok ' "$log" || true)"
}

# Tier 3: the rate limiter on real clusters, then the API on a hot standby.
cluster_tier() {
    tap_tier cluster test/cluster/rate_limit.sh
    tap_tier cluster-replica test/cluster/replica.sh
}

# Tier 4: the database of the HTTP tier, created at the first release (the
# oldest frozen full script), checked and updated by test/upgrade/upgrade.sh.
upgrade_tier() {
    local first
    first=$(find "$ROOT/sql" -maxdepth 1 -name 'task_api--*.sql' ! -name 'task_api--*--*' -printf '%f\n' |
            sed 's/^task_api--\(.*\)\.sql$/\1/' | sort -V | head -n 1)
    http_database "$first"
    TASK_API_UPGRADE_DB=task_api_http tap_tier upgrade test/upgrade/upgrade.sh
}

http_run() { # http_run LOG FILES...: run, report, add to the totals
    local log=$1 rc=0
    shift
    # Nothing may hang the suite: a run is cut off after ten minutes (the
    # node of Debian 12, 18, has no --test-timeout).
    test_env timeout --kill-after=10 600 node --test --test-reporter=tap "$@" >"$log" 2>&1 || rc=$?
    grep -E '^# (tests|pass|fail)|^not ok|^    not ok' "$log" || true
    if grep -E '^# fail [1-9]|^not ok' "$log" | grep -qv '# TODO' || [ "$rc" -ne 0 ]; then
        sed -n '/not ok/,/\.\.\./p' "$log" | head -n 200
    fi
    tally "$rc" "$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$log" | tail -n1)" \
        "$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$log" | tail -n1)"
}

# Tier 6: node --test runs files concurrently; rate_limit.test.mjs and
# monitoring.test.mjs change the cluster's settings (and the second reads
# the server's counters), so each runs alone after the others.
http_tier() {
    local concurrent=() alone=() file
    http_database
    for file in ${TASK_API_HTTP_FILES:-"$ROOT"/test/http/*.test.mjs}; do
        case $(basename "$file") in
            rate_limit.test.mjs|monitoring.test.mjs) alone+=("$file") ;;
            *) concurrent+=("$file") ;;
        esac
    done
    [ ${#concurrent[@]} -eq 0 ] || http_run "$logdir/http.log" "${concurrent[@]}"
    for file in "${alone[@]}"; do
        http_run "$logdir/http-$(basename "$file" .test.mjs).log" "$file"
    done
}

# Tier 7: one file at a time (they change the cluster's limits and timeouts).
security_tier() {
    local files file
    http_database
    # shellcheck disable=SC2206 # a list of files, split on white space
    files=(${TASK_API_SECURITY_FILES:-"$ROOT"/test/security/*.test.mjs})
    if [ ! -e "${files[0]}" ]; then
        echo "no security test files"
        return
    fi
    for file in "${files[@]}"; do
        http_run "$logdir/security-$(basename "$file" .test.mjs).log" "$file"
    done
}

# Tier 8: the contract (test/contract/): the OpenAPI document at / validated
# and typed, and a client session through prism's validating proxy.
contract_tier() {
    http_database
    tap_tier contract test/contract/contract.sh
}

# Tier 9: every shell script passes shellcheck -x (sources are followed by
# their "# shellcheck source=" directives; a disable says why beside it).
lint_tier() {
    local scripts
    mapfile -t scripts < <(cd "$ROOT" && { echo .ci/run; find scripts test -name '*.sh'; } | sort)
    if (cd "$ROOT" && shellcheck -x "${scripts[@]}") >"$logdir/lint.log" 2>&1; then
        echo "ok - shellcheck -x: ${#scripts[@]} shell scripts, no findings"
        count 1 0
    else
        echo "not ok - shellcheck -x: findings in $(grep -c '^In .* line [0-9]*:$' "$logdir/lint.log") places"
        head -n 100 "$logdir/lint.log"
        count 0 1
    fi
}

# The tiers in order, one row each: the name TASK_API_TEST_TIERS selects,
# what it tests, how it runs.
TIER_TABLE=(
    "c|pure-C unit tests and fuzzers|c_tier"
    "regress|pg_regress and isolation tests|regress_tier"
    "pgtap|pgTAP|pgtap_tier"
    "cluster|rate limiting with 16 concurrent clients and on a hot standby; the API on a standby's PostgREST|cluster_tier"
    "revocation|revocation seen by the next request, on the primary and on a hot standby|tap_tier revocation test/cluster/revocation.sh"
    "upgrade|upgrades from every release|upgrade_tier"
    "backup|backup and restore|tap_tier backup test/backup/backup.sh"
    "http|HTTP end to end through PostgREST|http_tier"
    "security|security probes through PostgREST|security_tier"
    "contract|the OpenAPI document, and a client session through a validating proxy|contract_tier"
    "lint|shellcheck of every shell script|lint_tier"
)
for number in "${!TIER_TABLE[@]}"; do
    IFS='|' read -r name description run <<<"${TIER_TABLE[$number]}"
    tier "$name" || continue
    say "tier $number: $description"
    read -r -a run <<<"$run"
    "${run[@]}"
done

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
