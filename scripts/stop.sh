#!/usr/bin/env bash
# make stop: stop the PostgREST and PostgreSQL that 'make serve' started.
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$0")/lib.sh"

postgrest_stop "$ROOT/.task_api/postgrest-serve.pid"
dir=$(existing_state_dir serve)
if [ -n "$dir" ]; then
    cluster_stop "$dir"
fi
