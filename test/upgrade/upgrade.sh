#!/usr/bin/env bash
# Upgrades (run by scripts/test.sh, tier "upgrade"; docs/contributing.md,
# "Releases and upgrade steps"):
#   1. the frozen release scripts are the ones released (sql/released.sha256),
#      and every C function any of them names is still exported by the
#      library: the new library serves the old SQL until the update runs;
#      META.json and CHANGELOG.md name the current version;
#   2. from every earlier release, ALTER EXTENSION task_api UPDATE gives the
#      catalogue of a fresh install exactly (test/lib/catalog_snapshot.sh);
#   3. the database TASK_API_UPGRADE_DB, created at the first release and
#      served by the PostgREST at TASK_API_URL on the new library, is filled
#      through the API (test/lib/fill.mjs), prepared (the operator's
#      CREATE INDEX CONCURRENTLY step), updated while PostgREST runs, and then
#      holds the same rows and passes test/lib/verify.test.mjs; the update
#      built no index on an existing table.  The
#      HTTP tier then runs the whole suite against it.
# Prints TAP lines.  Environment: TASK_API_CLUSTER_DIR, TASK_API_TEST_PG_PORT,
# TASK_API_UPGRADE_DB, TASK_API_URL and what test/lib/fill.mjs needs.
# shellcheck source=SCRIPTDIR/../../scripts/lib.sh
source "$(dirname "$0")/../../scripts/lib.sh"
set +e
# shellcheck source=SCRIPTDIR/../lib/tap.sh
source "$ROOT/test/lib/tap.sh"

dir=${TASK_API_CLUSTER_DIR:?}
PG_PORT=${TASK_API_TEST_PG_PORT:-5498}
DB=${TASK_API_UPGRADE_DB:?}
sock=$(socket_dir "$dir")
work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT

psql_db() { # psql_db DATABASE SQL...: superuser psql, unaligned, tuples only
    local db=$1
    shift
    "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$sock" -p "$PG_PORT" -U postgres -d "$db" "$@"
}
catalog() { TASK_API_PGBIN=$PGBIN "$ROOT/test/lib/catalog_snapshot.sh" "$sock" "$PG_PORT" "$1"; }
data() { psql_db "$1" -f "$ROOT/test/lib/data_snapshot.sql"; }

current=$(sed -n "s/^default_version = '\(.*\)'$/\1/p" "$ROOT/task_api.control")

# 1. Released scripts, and the C symbols they name.
check "the frozen release scripts are unchanged (sql/released.sha256)" "" \
    "$(cd "$ROOT/sql" && sha256sum --quiet -c released.sha256 2>&1)"
lib="$("$PGBIN/pg_config" --pkglibdir)/task_api.so"
named=$(grep -ho "'MODULE_PATHNAME', *'[a-z0-9_]*'" "$ROOT"/sql/task_api--*.sql "$ROOT/task_api--$current.sql" |
        sed "s/.*'\([a-z0-9_]*\)'$/\1/" | sort -u)
exported=$(nm -D --defined-only "$lib" | awk '{print $3}' | sort -u)
check "every C function a release script names is exported by the library ($(echo "$named" | wc -l) names)" "" \
    "$(comm -23 <(echo "$named") <(echo "$exported") | tr '\n' ' ')"

check "META.json follows the PGXN Meta Spec 1.0.0 and names version $current" "0" \
    "$(node "$ROOT/test/lib/meta_check.mjs" "$ROOT" >"$work/meta.log" 2>&1; echo $?)"
grep '^#' "$work/meta.log"
check "CHANGELOG.md has a section for $current" "1" "$(grep -c "^## $current\b" "$ROOT/CHANGELOG.md")"

# 2. From every earlier release, an update gives the fresh catalogue.
psql_db postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS task_api_fresh" \
    -c "CREATE DATABASE task_api_fresh" >/dev/null
psql_db task_api_fresh -c "SET client_min_messages = warning" -c "CREATE EXTENSION task_api" >/dev/null
catalog task_api_fresh > "$work/fresh.sql"
check "a fresh install is at version $current" "$current" \
    "$(psql_db task_api_fresh -c "SELECT extversion FROM pg_extension WHERE extname = 'task_api'")"
releases=$(psql_db postgres -c "SELECT version FROM pg_available_extension_versions
                                 WHERE name = 'task_api' AND version <> '$current' ORDER BY 1")
for v in $releases; do
    psql_db postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS task_api_from" \
        -c "CREATE DATABASE task_api_from" >/dev/null
    psql_db task_api_from -c "SET client_min_messages = warning" -c "CREATE EXTENSION task_api VERSION '$v'" \
        -c "ALTER EXTENSION task_api UPDATE" >/dev/null 2>"$work/update.err"
    check "$v -> $current: ALTER EXTENSION task_api UPDATE succeeds" "" "$(cat "$work/update.err")"
    catalog task_api_from > "$work/from.sql"
    check "$v -> $current: the catalogue equals a fresh install's" "" \
        "$(diff "$work/fresh.sql" "$work/from.sql" | head -n 40)"
done
psql_db postgres -c "DROP DATABASE task_api_from" -c "DROP DATABASE task_api_fresh" >/dev/null

# 3. A database filled through the API at the first release, updated live.
first=$(psql_db "$DB" -c "SELECT extversion FROM pg_extension WHERE extname = 'task_api'")
node "$ROOT/test/lib/fill.mjs" "$work/state.json" >"$work/fill.log" 2>&1
check "$first: filled through the API (every resource, trash, keys, events, sessions)" "0" "$?"
[ -s "$work/fill.log" ] && sed 's/^/#   /' "$work/fill.log" | tail -n 20
data "$DB" > "$work/before.txt"
# The operator's step before the update, twice (it must be safe to repeat).
prepare="$("$PGBIN/pg_config" --sharedir)/extension/task_api_prepare_upgrade.sql"
for run in first second; do
    psql_db "$DB" -f "$prepare" >/dev/null 2>"$work/prepare.err"
    check "$first: the prepare step ($(basename "$prepare")) runs, $run time" "" "$(cat "$work/prepare.err")"
done
tables=$(psql_db "$DB" -c "SELECT string_agg(oid::regclass::text, ' ') FROM pg_class
                            WHERE relnamespace = 'task_api'::regnamespace AND relkind = 'r'")
indexes_on() { # indexes_on TABLES: "table index" of every index on those tables
    psql_db "$DB" -v tables="$1" <<'SQL'
SELECT i.indrelid::regclass || ' ' || i.indexrelid::regclass FROM pg_index i
 WHERE i.indrelid::regclass::text = ANY (string_to_array(:'tables', ' ')) ORDER BY 1;
SQL
}
indexes_on "$tables" > "$work/indexes-before.txt"
psql_db "$DB" -c "ALTER EXTENSION task_api UPDATE" >/dev/null 2>"$work/update.err"
check "$first -> $current: updated while PostgREST serves it" "" "$(cat "$work/update.err")"
check "$first -> $current: the version is $current" "$current" \
    "$(psql_db "$DB" -c "SELECT extversion FROM pg_extension WHERE extname = 'task_api'")"
# The tables the release had; an update may add new ones (empty).
data "$DB" | grep -F -f <(cut -d' ' -f1 "$work/before.txt" | sed 's/$/ /') > "$work/after.txt"
indexes_on "$tables" > "$work/indexes-after.txt"
check "$first -> $current: after the prepare step the update builds no index on an existing table" "" \
    "$(comm -13 "$work/indexes-before.txt" "$work/indexes-after.txt" | tr '\n' ' ')"
check "$first -> $current: every row and sequence is as before the update ($(grep -c . "$work/before.txt") tables and sequences)" "" \
    "$(diff "$work/before.txt" "$work/after.txt")"
check "$first -> $current: the filled database has rows in every table" "" \
    "$(awk '$2 == "0" {print $1}' "$work/before.txt" | tr '\n' ' ')"
catalog "$DB" > "$work/filled.sql"
check "$first -> $current: the filled database's catalogue equals a fresh install's" "" \
    "$(diff "$work/fresh.sql" "$work/filled.sql" | head -n 40)"

# PostgREST reloads its schema cache on the update's NOTIFY pgrst.
for _ in $(seq 1 50); do
    curl -fsS -o /dev/null "$TASK_API_URL/" && break
    sleep 0.1
done
TASK_API_STATE="$work/state.json" node --test --test-reporter=tap "$ROOT/test/lib/verify.test.mjs" >"$work/verify.log" 2>&1
verify_rc=$?
while IFS= read -r line; do
    case $line in
        "ok "*) n=$((n + 1)); echo "ok $n - after the update: ${line#* - }" ;;
        "not ok "*) n=$((n + 1)); failures=$((failures + 1)); echo "not ok $n - after the update: ${line#* - }" ;;
    esac
done < <(grep -E '^(not )?ok ' "$work/verify.log")
if [ "$verify_rc" -ne 0 ]; then
    failures=$((failures + 1))
    sed -n '/not ok/,/\.\.\./p' "$work/verify.log" | head -n 60
    echo "not ok $((n + 1)) - test/lib/verify.test.mjs exited with $verify_rc"
    n=$((n + 1))
fi

echo "1..$n"
[ "$failures" -eq 0 ]
