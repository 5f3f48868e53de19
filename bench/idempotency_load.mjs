// Fixed-count POST load loop for scripts/bench-idempotency.sh (no npm dependencies).
//   node idempotency_load.mjs URL --token JWT --body JSON --mode plain|fresh|replay
//        [--requests N] [--concurrency C] [--timeout SECONDS] [--prefix TEXT]
// Sends exactly N POST requests over C keep-alive connections to 127.0.0.1:
//   plain   without Idempotency-Key;
//   fresh   with a new Idempotency-Key per request (every one creates a row);
//   replay  with one Idempotency-Key used before (every one is a replay).
// Prints one JSON line: {requests, ok, failed, replayed, seconds, rps, p50_ms, p99_ms}.
import { randomUUID } from 'node:crypto';
import { parseArgs, keepAliveAgent, request, run } from './load_lib.mjs';

const { url, opt } = parseArgs(process.argv,
  { token: null, body: '{}', mode: 'plain', requests: 2000, concurrency: 4, timeout: 120, prefix: randomUUID() },
  ['token', 'body', 'mode', 'prefix'], 'idempotency_load.mjs');
if (!['plain', 'fresh', 'replay'].includes(opt.mode)) {
  console.error('--mode is plain, fresh or replay');
  process.exit(2);
}

const agent = keepAliveAgent(opt.concurrency);
const body = Buffer.from(opt.body);
let seq = 0;

function once() {
  const headers = {
    Accept: 'application/json', 'Content-Type': 'application/json', 'Content-Length': body.length,
    Prefer: 'return=representation', Authorization: `Bearer ${opt.token}`,
  };
  if (opt.mode === 'fresh') headers['Idempotency-Key'] = `${opt.prefix}-${seq++}`;
  if (opt.mode === 'replay') headers['Idempotency-Key'] = `${opt.prefix}-replay`;
  return request(url, { method: 'POST', headers, agent, body, okStatus: 201 });
}

// A replay run replays a request made once beforehand.
if (opt.mode === 'replay') {
  const first = await once();
  if (!first.ok) {
    console.error('the request to replay failed');
    process.exit(1);
  }
}

let replayed = 0;
const r = await run(opt, once, (res) => { if (res.res.headers['idempotent-replayed'] === 'true') replayed++; });
agent.destroy();
console.log(JSON.stringify({
  requests: r.ok + r.failed, ok: r.ok, failed: r.failed, replayed, seconds: +r.seconds.toFixed(3),
  rps: +(r.ok / r.seconds).toFixed(1), p50_ms: r.p50_ms, p99_ms: r.p99_ms,
}));
process.exit(r.failed > 0 ? 1 : 0);
