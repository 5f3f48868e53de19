#!/usr/bin/env bash
# make reset: stop 'make serve' and delete its cluster (all of its data), so
# the next 'make serve' starts from a fresh database with the current build.
source "$(dirname "$0")/lib.sh"

"$ROOT/scripts/stop.sh"
if [ -e "$ROOT/.task_api/serve" ]; then
    dir=$(readlink -f "$ROOT/.task_api/serve")
    say "deleting $dir"
    as_root rm -rf "${dir:?}"
    rm -f "$ROOT/.task_api/serve"
fi
