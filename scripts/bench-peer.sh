#!/usr/bin/env bash
# task_api against a hand-written API server (run by 'make bench', or alone):
# the peer's own side-by-side script, given by path, on a copy of this
# checkout (the script deletes and recreates the copy's .task_api).  Ports:
# PostgREST 3030, PostgreSQL 5530, peer 3035 (the peer's, fixed).  About 12
# minutes.  Prints the peer's JSON lines, then a table with the ratios.
#   TASK_API_PEER_DIR   the peer's folder (with run.sh); unset: skipped
# The peer's script lifts task_api's rate limits, not the per-user limit on
# requests in flight (docs/rate-limiting.md), which would refuse most of one
# user's requests at concurrency 8 and 32: the copy of run.sh used here also
# sets task_api.max_inflight_per_user = 0.  GHC runtime options and every
# other setting are the 'make serve' defaults.  Profiles of both sides
# under the same load: scripts/profile-peer.sh.
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$0")/lib.sh"

if [ -z "${TASK_API_PEER_DIR:-}" ]; then
    say "peer comparison skipped: set TASK_API_PEER_DIR to the peer's folder (with run.sh) to run it"
    exit 0
fi
[ -x "$TASK_API_PEER_DIR/run.sh" ] || [ -f "$TASK_API_PEER_DIR/run.sh" ] || die "no run.sh in $TASK_API_PEER_DIR"

work=$(mktemp -d /tmp/task_api-peer.XXXXXX)
chmod 755 "$work"   # the cluster lives in the copy: PostgreSQL's user must reach it
trap 'rm -rf "$work"' EXIT
cp -r "$TASK_API_PEER_DIR" "$work/peer"
sed -i 's/-c "ALTER SYSTEM SET task_api.rate_limit_anon = 100000000"/& -c "ALTER SYSTEM SET task_api.max_inflight_per_user = 0"/' "$work/peer/run.sh"
grep -q max_inflight_per_user "$work/peer/run.sh" || die "the peer's run.sh changed: cannot lift the in-flight limit"
say "copying the checkout to $work/copy"
mkdir -p "$work/copy"
tar -C "$ROOT" --exclude=./.task_api --exclude=./.git -cf - . | tar -C "$work/copy" -xf -
results="$work/results.jsonl"
RESULTS="$results" bash "$work/peer/run.sh" "$work/copy"

echo
echo "task_api vs the hand-written peer (medians; ratios task_api / peer; CPU ms per request = HTTP process + its backends):"
node - "$results" <<'JS'
const fs = require('fs');
const rows = fs.readFileSync(process.argv[2], 'utf8').trim().split('\n').filter(Boolean).map(JSON.parse);
const r2 = (x) => (x == null ? '—' : x.toFixed(2));
console.log('| measure | conc | task_api / peer req/s | ratio | CPU ms/req task_api (PostgREST + db) / peer (node + db) | db CPU ratio | p99 ms task_api / peer | p99 ratio |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const t = r.task_api, p = r.peer;
  console.log(`| ${r.measure} | ${r.conc} | ${t.rps.toFixed(0)} / ${p.rps.toFixed(0)} | **${r2(t.rps / p.rps)}** | `
    + `${r2(t.cpu_s_per_1000)} (${r2(t.app_cpu_s_per_1000)} + ${r2(t.db_cpu_s_per_1000)}) / ${r2(p.cpu_s_per_1000)} (${r2(p.app_cpu_s_per_1000)} + ${r2(p.db_cpu_s_per_1000)}) | `
    + `${r2(t.db_cpu_s_per_1000 / p.db_cpu_s_per_1000)} | ${r2(t.p99_ms)} / ${r2(p.p99_ms)} | ${r2(t.p99_ms / p.p99_ms)} |`
    + (t.failed || p.failed ? ` failed: ${t.failed} / ${p.failed}` : ''));
}
JS
echo "$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg) at the end; $(date -u +%Y-%m-%dT%H:%MZ)"
