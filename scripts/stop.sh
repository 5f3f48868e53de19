#!/usr/bin/env bash
# make stop: stop the PostgREST and PostgreSQL that 'make serve' started.
source "$(dirname "$0")/lib.sh"

postgrest_stop "$ROOT/.task_api/postgrest-serve.pid"
if [ -e "$ROOT/.task_api/serve" ]; then
    cluster_stop "$(readlink -f "$ROOT/.task_api/serve")"
fi
