// The top of a perf profile for the processes given (scripts/profile-peer.sh):
//   perf script -i DATA -F pid,ip,sym,dso | node profile-breakdown.mjs PID,PID,... [db]
// Prints their samples, self time by symbol and by shared object and, with
// "db", the inclusive share of chosen PostgreSQL and task_api functions (a
// sample counts for a function anywhere on its stack, callees included).
import { createInterface } from 'node:readline';

const pids = new Set(process.argv[2].split(',').map(Number));
const wanted = [
  ['task_api_pre_request', 'pre_request() (all of it)'],
  ['refresh_cache_for', '  the membership cache: check or load'],
  ['load_memberships', '  the membership cache: load'],
  ['ta_trace_begin_request', '  the request id (application_name)'],
  ['ta_rate_limit_request', '  the rate limiter'],
  ['set_config_by_name', 'set_config() (PostgREST\'s statement)'],
  ['task_api_tasks_insert', 'tasks_50_insert (validation, buffering)'],
  ['task_api_tasks_insert_flush', 'tasks_50_insert_flush (the insert, all below)'],
  ['ExecWithCheckOptions', '  RLS WITH CHECK'],
  ['ExecInsertIndexTuples', '  index entries'],
  ['RI_FKey_check_ins', '  foreign-key checks'],
  ['task_api_record_event', '  events_record'],
  ['flush_above', '  the events written (per statement)'],
  ['json_agg_transfn', 'pg_catalog.json_agg (a response body)'],
  ['task_api_json_agg_rows_step', 'api.json_agg (the response body)'],
  ['standard_ExecutorStart', 'executor start-up (all statements)'],
  ['GetCachedPlan', 'plan cache look-up and planning'],
  ['standard_planner', '  planning'],
  ['CommitTransactionCommand', 'commit'],
  ['XLogFlush', '  WAL flush'],
  ['ReportChangedGUCOptions', 'ParameterStatus reports (GUC_REPORT settings)'],
  ['AtEOXact_GUC', 'settings reset at transaction end'],
  ['pq_getbyte', 'waiting for / reading the next message'],
  ['__send', 'sending results'],
  ['send', 'sending results'],
];
let total = 0;
const counts = new Map();
const self = new Map();
const selfDso = new Map();
const add = (m, k) => m.set(k, (m.get(k) ?? 0) + 1);
let pid = null;
let frames = new Set();
let leaf = null;
const flush = () => {
  if (pid !== null && pids.has(pid)) {
    total++;
    for (const f of frames) add(counts, f);
    if (leaf) { add(self, `${leaf.sym}  (${leaf.dso})`); add(selfDso, leaf.dso); }
  }
  pid = null;
  frames = new Set();
  leaf = null;
};
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (line.trim() === '') { flush(); return; }
  if (!line.startsWith('\t')) { flush(); pid = Number(line.trim().split(/\s+/)[0]); return; }
  const m = /^\s*[0-9a-f]+\s+(.*?)\s+\(([^)]*)\)\s*$/.exec(line);
  if (!m) return;
  const sym = m[1].replace(/\+0x[0-9a-f]+$/, '');
  const dso = m[2].split('/').pop();
  frames.add(sym);
  if (!leaf) leaf = { sym: sym === '[unknown]' ? '?' : sym, dso };
});
const pct = (n) => `${(100 * n / total).toFixed(1).padStart(5)}%`;
const top = (m, n) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n);
rl.on('close', () => {
  flush();
  console.log(`${total} samples`);
  console.log('### self time by symbol');
  for (const [k, n] of top(self, 15)) console.log(`${pct(n)}  ${k}`);
  console.log('### self time by shared object');
  for (const [k, n] of top(selfDso, 6)) console.log(`${pct(n)}  ${k}`);
  if (process.argv[3] !== 'db') return;
  console.log('### what the backends did (inclusive)');
  const seen = new Set();
  for (const [sym, label] of wanted) {
    if (seen.has(label)) continue;
    const n = counts.get(sym) ?? 0;
    if (n === 0) continue;
    seen.add(label);
    console.log(`${pct(n)}  ${label} [${sym}]`);
  }
});
