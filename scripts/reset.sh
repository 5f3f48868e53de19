#!/usr/bin/env bash
# make reset: stop 'make serve' and delete its cluster (all of its data), so
# the next 'make serve' starts from a fresh database with the current build.
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$0")/lib.sh"

"$ROOT/scripts/stop.sh"
dir=$(existing_state_dir serve)
if [ -n "$dir" ]; then
    say "deleting $dir"
    remove_state_dir serve
fi
# Its PostgREST configuration holds the deleted cluster's password and secret.
rm -f "$ROOT/.task_api/postgrest-serve.conf" "$ROOT/.task_api/postgrest-serve.pid"
