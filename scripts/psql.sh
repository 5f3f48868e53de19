#!/usr/bin/env bash
# make psql: a superuser psql session on the database 'make serve' runs.
source "$(dirname "$0")/lib.sh"

dir=$(readlink -f "$ROOT/.task_api/serve") || die "run 'make serve' first"
PG_PORT=$(cluster_port "$dir" "${TASK_API_PG_PORT:-5499}")
exec "$PGBIN/psql" -X -h "$dir/run" -p "$PG_PORT" -U postgres -d task_api "$@"
