#!/usr/bin/env bash
# make psql: a superuser psql session on the database 'make serve' runs.
source "$(dirname "$0")/lib.sh"

PG_PORT=${TASK_API_PG_PORT:-5499}
dir=$(readlink -f "$ROOT/.task_api/serve") || die "run 'make serve' first"
exec "$PGBIN/psql" -X -h "$dir/run" -p "$PG_PORT" -U postgres -d task_api "$@"
