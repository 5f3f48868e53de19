#!/usr/bin/env bash
# Backup and restore with pg_dump (a tier of its own, in the manner of
# test/cluster/rate_limit.sh):
#   1. a database filled through the HTTP API (test/lib/fill.mjs: users with
#      passwords, more sessions and one logged out, projects, members, tasks
#      written singly and in bulk, a PATCH with If-Match, a task and a project
#      in the trash, a live and a revoked API key, a POST with an
#      Idempotency-Key, a page cursor, an event consumer part-way through its
#      events) is dumped in custom, directory and plain formats, and each dump
#      is restored into a new database (the directory dump also in parallel,
#      pg_restore -j 2 with session_replication_role=replica): the restore
#      succeeds and holds exactly the source's data (test/lib/data_snapshot.sql);
#   2. PostgREST on the custom-format restore: test/lib/verify.test.mjs (old
#      passwords, tokens and the cursor work, the logged-out token and the
#      revoked key do not, the idempotent POST replays, the trash restores,
#      the consumer resumes where it was);
#   3. the custom dump restored on a second, fresh cluster with the same
#      secrets (task_api_secrets.conf): the same data, verify.test.mjs again;
#   4. a schema-only dump restored: every table empty, and signup, login, a
#      project and a task work through PostgREST.
# Prints TAP lines ("ok N - ...", "not ok N - ...") and the plan; exits
# non-zero on any failure; stops every PostgREST and cluster it started and
# drops its databases, whatever happens.  Environment: TASK_API_CLUSTER_DIR
# (the running test cluster's directory), TASK_API_TEST_PG_PORT,
# TASK_API_TEST_PORT (this tier's PostgRESTs listen on it + 1 to + 4),
# TASK_API_TEST_BACKUP_PORT (the second cluster's port, default: the test
# port + 11), TASK_API_BACKUP_LOGDIR (default .task_api/test-logs-<port>/backup).
# shellcheck source-path=SCRIPTDIR source=../../scripts/lib.sh
# shellcheck source=SCRIPTDIR/../../scripts/lib.sh
source "$(dirname "$0")/../../scripts/lib.sh"
set +e

dir=${TASK_API_CLUSTER_DIR:?}
PG_PORT=${TASK_API_TEST_PG_PORT:-5498}
API_PORT=${TASK_API_TEST_PORT:-3998}
PORT2=${TASK_API_TEST_BACKUP_PORT:-$((PG_PORT + 11))}
logdir=${TASK_API_BACKUP_LOGDIR:-$ROOT/.task_api/test-logs-$PG_PORT/backup}
SRC=task_api_backup_src
SCHEMA_DB=task_api_backup_schema
DB2=task_api_backup          # on the second cluster
dbs=("$SRC" task_api_backup_custom task_api_backup_directory task_api_backup_plain task_api_backup_parallel "$SCHEMA_DB")
name2="backup-$PG_PORT"      # the second cluster's state_dir
dir2=""
sock=$(socket_dir "$dir")
started=$SECONDS
n=0
failures=0
pidfiles=()

mkdir -p "$logdir"
# Dumps, the fill state (tokens, keys) and PostgREST configurations
# (passwords): private, and deleted at the end.
work=$(mktemp -d /tmp/task_api-backup-XXXXXXXX)

# shellcheck disable=SC2317 # run by the trap
cleanup() {
    local p db
    for p in "${pidfiles[@]}"; do
        postgrest_stop "$p" >/dev/null 2>&1
    done
    if [ -n "$dir2" ]; then
        as_root cat "$dir2/postgres.log" 2>/dev/null > "$logdir/postgres-second-cluster.log"
        cluster_discard "$dir2" >/dev/null 2>&1
        remove_state_dir "$name2" >/dev/null 2>&1
    fi
    for db in "${dbs[@]}"; do
        cluster_psql "$dir" "$PG_PORT" -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
    done
    rm -rf -- "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failures=$((failures + 1)); echo "not ok $n - $1"; }
diag() { sed 's/^/#   /' "$@"; }
bail() { # bail DESCRIPTION [LOG]: a failure the rest cannot go on without
    not_ok "$1"
    [ -z "${2:-}" ] || tail -n 30 "$2" | diag
    echo "1..$n"
    exit 1
}

# A client program of $PGBIN as the superuser over a cluster's socket.
pg() { # pg CLUSTER_DIR PORT PROGRAM ARGS...
    local d=$1 p=$2 prog=$3
    shift 3
    "$PGBIN/$prog" -h "$(socket_dir "$d")" -p "$p" -U postgres "$@"
}
# One line per table (rows, md5) and sequence (position), in UTC.
snapshot() { # snapshot CLUSTER_DIR PORT DB
    PGTZ=UTC pg "$1" "$2" psql -X -q -v ON_ERROR_STOP=1 -d "$3" -f "$ROOT/test/lib/data_snapshot.sql"
}
new_db() { # new_db CLUSTER_DIR PORT DB: an empty database (from template0)
    cluster_psql "$1" "$2" -d postgres -c "CREATE DATABASE $3 TEMPLATE template0"
}
# data_check DESCRIPTION CLUSTER_DIR PORT DB LABEL: ok when DB holds exactly
# the source's data (its snapshot is the source's); the difference otherwise.
data_check() {
    local desc=$1 label=$5
    if ! snapshot "$2" "$3" "$4" > "$work/snap-$label" 2>"$logdir/snapshot-$label.log"; then
        not_ok "$desc"
        diag "$logdir/snapshot-$label.log"
    elif cmp -s "$work/snap-source" "$work/snap-$label"; then
        ok "$desc"
    else
        not_ok "$desc"
        echo "#   the data differs from the source's (< source, > $label):"
        diff "$work/snap-source" "$work/snap-$label" | grep '^[<>]' | diag
    fi
}

# PostgREST NAME on a database, logging to $logdir/postgrest-NAME.log; why
# it did not start in $work/NAME.err.
api_start() { # api_start NAME CLUSTER_DIR PG_PORT DB API_PORT
    local name=$1 cdir=$2 port=$3 db=$4 api=$5 shared keep=""
    # postgrest_config writes .task_api/postgrest-<cluster>.conf, which
    # scripts/test.sh's own PostgREST uses: take ours, put that one back.
    shared="$ROOT/.task_api/postgrest-$(basename "$cdir").conf"
    if [ -f "$shared" ]; then
        keep="$work/$name.keep"
        cp -p "$shared" "$keep"
    fi
    postgrest_config "$cdir" "$port" "$db" "$api" >/dev/null && mv "$shared" "$work/$name.conf"
    [ -z "$keep" ] || mv "$keep" "$shared"
    pidfiles+=("$work/$name.pid")
    # In a subshell: postgrest_start exits on failure.
    (postgrest_start "$work/$name.conf" "$logdir/postgrest-$name.log" "$work/$name.pid" "$api") >/dev/null 2>"$work/$name.err"
}
api_stop() { postgrest_stop "$work/$1.pid" >/dev/null 2>&1; }

# verify.test.mjs against a restored database: one TAP line per test.
verify() { # verify LABEL CLUSTER_DIR PG_PORT DB API_PORT
    local label=$1 log="$logdir/verify-${1// /-}.log" rc line lines num desc tests=0
    TASK_API_STATE="$work/state.json" TASK_API_URL="http://127.0.0.1:$5" \
    TASK_API_PSQL="$PGBIN/psql" TASK_API_PGHOST="$(socket_dir "$2")" TASK_API_PGPORT="$3" TASK_API_PGDATABASE="$4" \
        node --test --test-reporter=tap "$ROOT/test/lib/verify.test.mjs" >"$log" 2>&1
    rc=$?
    mapfile -t lines < "$log"
    for line in "${lines[@]}"; do
        if [[ "$line" =~ ^(not\ )?ok\ ([0-9]+)\ -\ (.*)$ ]]; then
            tests=$((tests + 1))
            num=${BASH_REMATCH[2]}
            desc=${BASH_REMATCH[3]}
            if [ -z "${BASH_REMATCH[1]}" ]; then
                ok "$label: $desc"
            else
                not_ok "$label: $desc"
                # The failure's YAML block, without the stack trace.
                sed -n "/^not ok $num - /,/^  \.\.\.\$/p" "$log" | sed '/^  stack:/,$d' \
                    | grep -v '^not ok\|duration_ms\|^  ---\|^  \.\.\.' | head -n 30 | diag
            fi
        fi
    done
    if [ "$tests" -eq 0 ] || { [ "$rc" -ne 0 ] && ! grep -q '^not ok ' "$log"; }; then
        not_ok "$label: verify.test.mjs ran ($tests tests, exit code $rc)"
        tail -n 20 "$log" | diag
    fi
}

# ---------------------------------------------------------------------------
# 1. A source filled through the API, dumped in three formats and restored
# ---------------------------------------------------------------------------
for db in "${dbs[@]}"; do
    cluster_psql "$dir" "$PG_PORT" -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
done
database_setup "$dir" "$PG_PORT" "$SRC" >"$logdir/setup.log" 2>&1 || bail "the source database is created" "$logdir/setup.log"
api_start source "$dir" "$PG_PORT" "$SRC" $((API_PORT + 1)) || bail "PostgREST starts on the source database" "$work/source.err"
TASK_API_URL="http://127.0.0.1:$((API_PORT + 1))" TASK_API_PSQL="$PGBIN/psql" TASK_API_PGHOST="$sock" \
TASK_API_PGPORT="$PG_PORT" TASK_API_PGDATABASE="$SRC" \
    node "$ROOT/test/lib/fill.mjs" "$work/state.json" >"$logdir/fill.log" 2>&1 \
    || bail "fill.mjs fills the source through the API" "$logdir/fill.log"
ok "fill.mjs filled the source through the API: users, sessions, a logout, projects, members, tasks, If-Match, the trash, API keys, an Idempotency-Key, a cursor, an event consumer"
# Nothing writes to the source from now on.
api_stop source

snapshot "$dir" "$PG_PORT" "$SRC" > "$work/snap-source" 2>"$logdir/snapshot-source.log" \
    || bail "the source's data snapshot" "$logdir/snapshot-source.log"
empty=$(awk '$2 != "last_value" && $2 == 0 { print $1 }' "$work/snap-source")
tables=$(grep -vc ' last_value ' "$work/snap-source")
if [ -z "$empty" ] && [ "$tables" -ge 1 ] && ! grep -q ' last_value unset$' "$work/snap-source"; then
    ok "the source has rows in every one of its $tables task_api tables, and its sequences are set"
else
    not_ok "the source has rows in every task_api table, and its sequences are set"
    diag "$work/snap-source"
fi
awk '{ printf "%s%s %s", (NR > 1 ? ", " : "# source: "), $1, ($2 == "last_value" ? $3 : $2) } END { print "" }' "$work/snap-source"

# dump FORMAT: the source in that format, into $work/dump.FORMAT.
dump() {
    local flag
    case $1 in custom) flag=-Fc ;; directory) flag=-Fd ;; plain) flag=-Fp ;; esac
    pg "$dir" "$PG_PORT" pg_dump "$flag" -f "$work/dump.$1" "$SRC"
}
# restore FORMAT DB: the dump into a new database of the test cluster.
restore() {
    new_db "$dir" "$PG_PORT" "$2" || return
    case $1 in
        custom | directory) pg "$dir" "$PG_PORT" pg_restore -d "$2" --exit-on-error "$work/dump.$1" ;;
        # Parallel workers load tables in any order: foreign keys are only
        # checked in order with the replica role (docs/operations.md).
        parallel) PGOPTIONS="-c session_replication_role=replica" \
                      pg "$dir" "$PG_PORT" pg_restore -j 2 -d "$2" --exit-on-error "$work/dump.directory" ;;
        plain) pg "$dir" "$PG_PORT" psql -X -q -v ON_ERROR_STOP=1 -d "$2" -f "$work/dump.$1" >/dev/null ;;
    esac
}
for format in custom directory plain parallel; do
    db=task_api_backup_$format
    if [ "$format" != parallel ] && ! dump "$format" >"$logdir/dump-$format.log" 2>&1; then
        not_ok "$format format: pg_dump"
        diag "$logdir/dump-$format.log"
    elif ! restore "$format" "$db" >"$logdir/restore-$format.log" 2>&1; then
        not_ok "$format format: the restore fails"
        tail -n 20 "$logdir/restore-$format.log" | diag
    else
        case $format in
            plain) how="pg_dump, then psql -v ON_ERROR_STOP=1 -f" ;;
            parallel) how="the directory dump, pg_restore -j 2 with session_replication_role=replica" ;;
            *) how="pg_dump, then pg_restore --exit-on-error" ;;
        esac
        data_check "$format format: $how into a new database: exactly the source's rows and sequence positions" \
            "$dir" "$PG_PORT" "$db" "$format"
    fi
done
data_check "the source did not change while it was dumped" "$dir" "$PG_PORT" "$SRC" source-after

# ---------------------------------------------------------------------------
# 2. The custom-format restore through PostgREST
# ---------------------------------------------------------------------------
if api_start custom "$dir" "$PG_PORT" task_api_backup_custom $((API_PORT + 2)); then
    verify "custom restore" "$dir" "$PG_PORT" task_api_backup_custom $((API_PORT + 2))
else
    not_ok "PostgREST starts on the custom-format restore"
    diag "$work/custom.err"
fi
api_stop custom

# ---------------------------------------------------------------------------
# 3. A second, fresh cluster with the same secrets
# ---------------------------------------------------------------------------
dir2=$(state_dir "$name2")
if ! (cluster_recreate "$dir2" "$PORT2" &&
      as_pg cp "$dir/data/task_api_secrets.conf" "$dir2/data/task_api_secrets.conf" &&
      cluster_start "$dir2") >"$logdir/second-cluster.log" 2>&1; then
    as_root tail -n 20 "$dir2/postgres.log" >>"$logdir/second-cluster.log" 2>/dev/null
    bail "a second cluster (port $PORT2) with the first one's secrets starts" "$logdir/second-cluster.log"
fi
if ! { new_db "$dir2" "$PORT2" "$DB2" &&
       pg "$dir2" "$PORT2" pg_restore -d "$DB2" --exit-on-error "$work/dump.custom" &&
       database_setup "$dir2" "$PORT2" "$DB2"; } >"$logdir/restore-second-cluster.log" 2>&1; then
    not_ok "second cluster: pg_restore --exit-on-error of the custom dump into a new database"
    tail -n 20 "$logdir/restore-second-cluster.log" | diag
else
    data_check "second cluster: the custom dump restores into a new database, exactly the source's rows and sequence positions" \
        "$dir2" "$PORT2" "$DB2" second-cluster
    if api_start second "$dir2" "$PORT2" "$DB2" $((API_PORT + 3)); then
        verify "second cluster" "$dir2" "$PORT2" "$DB2" $((API_PORT + 3))
    else
        not_ok "PostgREST starts on the second cluster's restore"
        diag "$work/second.err"
    fi
    api_stop second
fi

# ---------------------------------------------------------------------------
# 4. A schema-only dump: empty tables, and the API works from scratch
# ---------------------------------------------------------------------------
if ! { pg "$dir" "$PG_PORT" pg_dump --schema-only -Fc -f "$work/dump.schema" "$SRC" &&
       new_db "$dir" "$PG_PORT" "$SCHEMA_DB" &&
       pg "$dir" "$PG_PORT" pg_restore -d "$SCHEMA_DB" --exit-on-error "$work/dump.schema"; } >"$logdir/restore-schema.log" 2>&1; then
    not_ok "schema-only: pg_dump --schema-only and pg_restore --exit-on-error"
    tail -n 20 "$logdir/restore-schema.log" | diag
else
    snapshot "$dir" "$PG_PORT" "$SCHEMA_DB" > "$work/snap-schema" 2>&1
    expected=$(awk '{ print $1, ($2 == "last_value" ? "last_value unset" : 0) }' "$work/snap-source")
    got=$(awk '{ print $1, ($2 == "last_value" ? $2 " " $3 : $2) }' "$work/snap-schema")
    if [ "$got" = "$expected" ]; then
        ok "schema-only: restored with every task_api table empty and its sequences unset"
    else
        not_ok "schema-only: restored with every task_api table empty and its sequences unset"
        diff <(echo "$expected") <(echo "$got") | grep '^[<>]' | diag
    fi
    if api_start schema "$dir" "$PG_PORT" "$SCHEMA_DB" $((API_PORT + 4)); then
        # shellcheck disable=SC2016 # JavaScript, not shell
        if node --input-type=module -e '
            const base = process.argv[1];
            const call = async (method, path, body, token, status) => {
              const headers = { "Content-Type": "application/json", Prefer: "return=representation" };
              if (token) headers.Authorization = `Bearer ${token}`;
              const res = await fetch(base + path, { method, headers, body: JSON.stringify(body) });
              const text = await res.text();
              if (res.status !== status) throw new Error(`${method} ${path}: expected ${status}, got ${res.status} ${text}`);
              return JSON.parse(text);
            };
            const email = "fresh@example.test", password = "a fresh long password";
            await call("POST", "/rpc/signup", { email, password }, null, 201);
            const { token } = await call("POST", "/rpc/login", { email, password }, null, 200);
            const [project] = await call("POST", "/projects", { name: "Fresh" }, token, 201);
            const [task] = await call("POST", "/tasks", { project_id: project.id, title: "First" }, token, 201);
            if (task.version !== 1 || task.project_id !== project.id) throw new Error(JSON.stringify(task));
          ' "http://127.0.0.1:$((API_PORT + 4))" >"$logdir/schema-smoke.log" 2>&1; then
            ok "schema-only: signup, login, a project and a task through PostgREST"
        else
            not_ok "schema-only: signup, login, a project and a task through PostgREST"
            tail -n 20 "$logdir/schema-smoke.log" | diag
        fi
    else
        not_ok "PostgREST starts on the schema-only restore"
        diag "$work/schema.err"
    fi
    api_stop schema
fi

echo "# $((SECONDS - started)) s"
echo "1..$n"
exit $((failures > 0))
