#!/usr/bin/env bash
# Development helper until signup/login exist: ensure a user with this email
# exists in the 'make serve' cluster and print a one-hour JWT for them,
# signed with the cluster's secret.  Usage: scripts/dev-token.sh EMAIL [NAME]
source "$(dirname "$0")/lib.sh"

[ $# -ge 1 ] || die "usage: $0 EMAIL [DISPLAY_NAME]"
PG_PORT=${TASK_API_PG_PORT:-5499}
dir=$(readlink -f "$ROOT/.task_api/serve") || die "run 'make serve' first"
id=$(cluster_psql "$dir" "$PG_PORT" -d task_api -tA -v email="$1" -v name="${2:-${1%%@*}}" <<'SQL'
INSERT INTO task_api.users (email, display_name) VALUES (:'email', :'name')
ON CONFLICT ((lower(email))) DO UPDATE SET email = task_api.users.email
RETURNING id;
SQL
)
secret=$(cluster_secret "$dir" jwt_secret)
node "$ROOT/test/lib/mint-jwt.mjs" "$secret" "$id"
