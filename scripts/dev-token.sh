#!/usr/bin/env bash
# Development helper: ensure a user with this email exists in the 'make serve'
# cluster (without a password) and print a token of a new one-hour session
# for them.  Real clients use /rpc/signup and /rpc/login.
# Usage: scripts/dev-token.sh EMAIL [NAME]
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$0")/lib.sh"

[ $# -ge 1 ] || die "usage: $0 EMAIL [DISPLAY_NAME]"
dir=$(existing_state_dir serve)
[ -n "$dir" ] || die "run 'make serve' first"
PG_PORT=$(cluster_port "$dir" "${TASK_API_PG_PORT:-5499}")
cluster_psql "$dir" "$PG_PORT" -d task_api -tA -v email="$1" -v name="${2:-${1%%@*}}" <<'SQL'
WITH u AS (
    INSERT INTO task_api.users (email, display_name) VALUES (:'email', :'name')
    ON CONFLICT ((lower(email))) DO UPDATE SET email = task_api.users.email
    RETURNING id)
SELECT task_api.start_session(id) ->> 'token' FROM u;
SQL
