#!/usr/bin/env bash
# make serve: install what is missing, build, and run PostgreSQL + PostgREST
# on localhost.  Safe to run again: what exists is kept, what runs keeps running.
source "$(dirname "$0")/lib.sh"

PG_PORT=${TASK_API_PG_PORT:-5499}
API_PORT=${TASK_API_PORT:-3000}
DB=task_api

"$ROOT/scripts/deps.sh"
build_and_install
dir=$(state_dir serve)
cluster_init "$dir" "$PG_PORT"
cluster_start "$dir"
database_setup "$dir" "$PG_PORT" "$DB"
conf=$(postgrest_config "$dir" "$PG_PORT" "$DB" "$API_PORT")
postgrest_start "$conf" "$ROOT/.task_api/postgrest-serve.log" "$ROOT/.task_api/postgrest-serve.pid" "$API_PORT"

cat <<MSG

task_api is running.
  API (PostgREST):  http://localhost:$API_PORT/        (OpenAPI document at /)
  PostgreSQL:       make psql      (superuser session on 127.0.0.1:$PG_PORT, database $DB)
  Files and logs:   $ROOT/.task_api/

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
