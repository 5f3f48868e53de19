#!/usr/bin/env bash
# make serve: install what is missing, build, and run PostgreSQL + PostgREST
# on localhost.  Safe to run again: what exists is kept, what runs keeps running.
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$0")/lib.sh"

# The API keeps its port (until 'make reset') unless TASK_API_PORT says otherwise.
old_port=$(sed -n 's/^server-port = //p' "$ROOT/.task_api/postgrest-serve.conf" 2>/dev/null || true)
API_PORT=${TASK_API_PORT:-${old_port:-3000}}
DB=task_api

"$ROOT/scripts/deps.sh"
build_and_install
dir=$(state_dir serve)
# An existing cluster keeps its port unless TASK_API_PG_PORT says otherwise.
PG_PORT=$(cluster_port "$dir" "${TASK_API_PG_PORT:-5499}")
if [ -n "${TASK_API_PG_PORT:-}" ] && [ "$PG_PORT" != "$TASK_API_PG_PORT" ]; then
    die "the cluster in $dir listens on port $PG_PORT; run 'make reset' to recreate it on $TASK_API_PG_PORT"
fi
cluster_init "$dir" "$PG_PORT"
# Monitoring settings, for clusters made before them too; a library to load
# needs a restart.
if [ -n "$(cluster_monitoring "$dir")" ] && cluster_running "$dir"; then
    say "the monitoring settings changed: restarting PostgreSQL"
    postgrest_stop "$ROOT/.task_api/postgrest-serve.pid"
    cluster_stop "$dir"
fi

# Who may log in, for clusters made before these rules too (PostgREST then
# moves to the Unix socket when it next starts).
if [ -n "$(cluster_auth "$dir")" ] && cluster_running "$dir"; then
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" reload >/dev/null
fi

# A new build of the preloaded library needs a restart to take effect.
fingerprint=$(installed_fingerprint)
if cluster_running "$dir" && [ "$(cat "$dir/fingerprint" 2>/dev/null)" != "$fingerprint" ]; then
    say "the extension was rebuilt: restarting PostgreSQL"
    postgrest_stop "$ROOT/.task_api/postgrest-serve.pid"
    cluster_stop "$dir"
fi
cluster_start "$dir"
database_setup "$dir" "$PG_PORT" "$DB"
# A database made by an earlier release is brought to this one, the way
# docs/operations.md tells operators: the prepare step, then the update.
if [ "$(cluster_psql "$dir" "$PG_PORT" -d "$DB" -tAc "SELECT installed_version <> default_version
        FROM pg_available_extensions WHERE name = 'task_api'")" = t ]; then
    say "updating the task_api extension of database $DB"
    updated=1
    cluster_psql "$dir" "$PG_PORT" -d "$DB" -f "$("$PGBIN/pg_config" --sharedir)/extension/task_api_prepare_upgrade.sql" >/dev/null
    cluster_psql "$dir" "$PG_PORT" -d "$DB" -c "ALTER EXTENSION task_api UPDATE"
fi
if [ -z "${updated:-}" ] && [ -f "$dir/fingerprint" ] && [ "$(cat "$dir/fingerprint")" != "$fingerprint" ]; then
    say "note: the extension's SQL may have changed (same version) since the database was created;"
    say "      'make reset' recreates the database with it (and deletes its data)"
fi
echo "$fingerprint" > "$dir/fingerprint"
# A PostgREST still running on another port is moved to the new one, if free.
if [ -n "$old_port" ] && [ "$old_port" != "$API_PORT" ] && postgrest_alive "$ROOT/.task_api/postgrest-serve.pid"; then
    if curl -s -o /dev/null "http://127.0.0.1:$API_PORT/" 2>/dev/null; then
        die "port $API_PORT is already in use; the API stays on port $old_port"
    fi
    postgrest_stop "$ROOT/.task_api/postgrest-serve.pid"
fi
conf=$(postgrest_config "$dir" "$PG_PORT" "$DB" "$API_PORT")
postgrest_start "$conf" "$ROOT/.task_api/postgrest-serve.log" "$ROOT/.task_api/postgrest-serve.pid" "$API_PORT"

cat <<MSG

task_api is running.
  API (PostgREST):  http://localhost:$API_PORT/        (OpenAPI document at /)
  PostgreSQL:       make psql      (superuser session, port $PG_PORT, database $DB)
  Files and logs:   $dir (PostgreSQL), $ROOT/.task_api/ (PostgREST)

Try it:
  curl -s http://localhost:$API_PORT/rpc/signup -H 'Content-Type: application/json' \\
       -d '{"email": "you@example.com", "password": "a long password", "display_name": "You"}'
  TOKEN=<the "token" of that answer>      # or POST /rpc/login {email, password}
  curl -s http://localhost:$API_PORT/projects -H "Authorization: Bearer \$TOKEN" \\
       -H 'Content-Type: application/json' -H 'Prefer: return=representation' \\
       -d '{"name": "Launch"}'
  More in README.md (Getting started); the OpenAPI document is at http://localhost:$API_PORT/

Stop both with: make stop
MSG
