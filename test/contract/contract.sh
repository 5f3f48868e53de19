#!/usr/bin/env bash
# The contract tier: the OpenAPI document served at / is checked with
# @apidevtools/swagger-parser and openapi-typescript (check_document.mjs),
# then a client-scenario suite (scenario.test.mjs: plain fetch and
# @supabase/postgrest-js) runs through @stoplight/prism-cli's validating
# proxy in front of the test PostgREST, which checks every request and
# response against the signed-in document; the proxy's violations are
# counted and must be 0.  Prints TAP lines.  Environment: scripts/test.sh's
# test_env (TASK_API_URL, TASK_API_TEST_PORT, psql access).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
API=${TASK_API_URL:?run through scripts/test.sh}
PROXY_PORT=${TASK_API_TEST_PROXY_PORT:-$((TASK_API_TEST_PORT + 1))}
work=$(mktemp -d)
# The proxy's log and the generated types are kept with the tier logs.
keep="$ROOT/.task_api/test-logs-${TASK_API_TEST_PG_PORT:-5498}"
prism_pid=""
# shellcheck disable=SC2317 # run by the trap
cleanup() {
    if [ -n "$prism_pid" ]; then kill "$prism_pid" 2>/dev/null || true; wait "$prism_pid" 2>/dev/null || true; fi
    if [ -d "$keep" ]; then cp "$work"/*.log "$work"/*.ts "$work"/*.json "$keep/" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# The anonymous document, and a signed-in user's.
curl -sf "$API/" -o "$work/anon.json"
email="contract-$(date +%s%N)@example.test"
token=$(curl -sf "$API/rpc/signup" -H 'Content-Type: application/json' \
        -d "{\"email\": \"$email\", \"password\": \"a long contract password\"}" |
        node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).token))')
curl -sf "$API/" -H "Authorization: Bearer $token" -o "$work/user.json"
echo "# documents: anonymous $(wc -c <"$work/anon.json") bytes, signed in $(wc -c <"$work/user.json") bytes"

rc=0
node "$ROOT/test/contract/check_document.mjs" "$work/types.ts" "$work/anon.json" "$work/user.json" || rc=1

# The validating proxy: --errors turns every violation into an error answer.
"$ROOT/node_modules/.bin/prism" proxy "$work/user.json" "$API" --errors -h 127.0.0.1 -p "$PROXY_PORT" \
    >"$work/prism.log" 2>&1 &
prism_pid=$!
for _ in $(seq 1 240); do
    grep -q 'Prism is listening' "$work/prism.log" && break
    kill -0 "$prism_pid" 2>/dev/null || break
    sleep 0.5
done
if ! grep -q 'Prism is listening' "$work/prism.log"; then
    echo "not ok - prism proxy did not start"
    tail -n 30 "$work/prism.log" | sed 's/^/# /'
    exit 1
fi

TASK_API_URL="http://127.0.0.1:$PROXY_PORT" timeout --kill-after=10 300 \
    node --test --test-reporter=tap "$ROOT/test/contract/scenario.test.mjs" >"$work/scenario.log" 2>&1 || rc=1
grep -E '^(not )?ok |^# (pass|fail)' "$work/scenario.log" || true
if grep -qE '^not ok|^# fail [1-9]' "$work/scenario.log"; then sed -n '/not ok/,/\.\.\./p' "$work/scenario.log" | head -n 150; fi

# Every request the proxy saw, and its violations (request or response).
requests=$(grep -c 'Request received' "$work/prism.log" || true)
violations=$(grep -cE 'Violation:|✖ +error|⚠ +warning' "$work/prism.log" || true)
if [ "$requests" -gt 0 ] && [ "$violations" -eq 0 ]; then
    echo "ok - prism proxy: $requests requests, 0 violations"
else
    echo "not ok - prism proxy: $requests requests, $violations violations"
    grep -E -A3 'Violation:|✖ +error|⚠ +warning' "$work/prism.log" | head -n 80 | sed 's/^/# /'
    rc=1
fi
exit "$rc"
