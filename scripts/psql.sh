#!/usr/bin/env bash
# make psql: a superuser psql session on the database 'make serve' runs.
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$0")/lib.sh"

dir=$(existing_state_dir serve)
[ -n "$dir" ] || die "run 'make serve' first"
PG_PORT=$(cluster_port "$dir" "${TASK_API_PG_PORT:-5499}")
exec "$PGBIN/psql" -X -h "$(socket_dir "$dir")" -p "$PG_PORT" -U postgres -d task_api "$@"
