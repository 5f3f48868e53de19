// Inclusive share of chosen functions in a perf profile, for the processes
// given (scripts/profile-peer.sh):
//   perf script -i DATA -F pid,ip,sym | node profile-breakdown.mjs PID,PID,...
// A sample counts for a function when the function is anywhere on its
// stack, so a function and its callees are counted together.
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
  ['json_agg_transfn', 'json_agg (the response body)'],
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
let pid = null;
let frames = new Set();
const flush = () => {
  if (pid !== null && pids.has(pid)) {
    total++;
    for (const f of frames) counts.set(f, (counts.get(f) ?? 0) + 1);
  }
  pid = null;
  frames = new Set();
};
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (line.trim() === '') { flush(); return; }
  if (!line.startsWith('\t')) { flush(); pid = Number(line.trim().split(/\s+/)[0]); return; }
  const sym = line.trim().split(/\s+/)[1];
  if (sym) frames.add(sym.replace(/\+0x[0-9a-f]+$/, ''));
});
rl.on('close', () => {
  flush();
  console.log(`${total} samples`);
  const seen = new Set();
  for (const [sym, label] of wanted) {
    if (seen.has(label)) continue;
    const n = counts.get(sym) ?? 0;
    if (n === 0) continue;
    seen.add(label);
    console.log(`${(100 * n / total).toFixed(1).padStart(5)}%  ${label} [${sym}]`);
  }
});
