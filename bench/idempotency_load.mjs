// Fixed-count POST load loop for scripts/bench-idempotency.sh (no npm dependencies).
//   node idempotency_load.mjs URL --token JWT --body JSON --mode plain|fresh|replay
//        [--requests N] [--concurrency C] [--timeout SECONDS] [--prefix TEXT]
// Sends exactly N POST requests over C keep-alive connections to 127.0.0.1:
//   plain   without Idempotency-Key;
//   fresh   with a new Idempotency-Key per request (every one creates a row);
//   replay  with one Idempotency-Key used before (every one is a replay).
// Prints one JSON line: {requests, ok, failed, replayed, seconds, rps, p50_ms, p99_ms}.
import http from 'node:http';
import { randomUUID } from 'node:crypto';

const args = process.argv.slice(2);
const url = new URL(args.shift());
const opt = { token: null, body: '{}', mode: 'plain', requests: 2000, concurrency: 4, timeout: 120, prefix: randomUUID() };
while (args.length) {
  const k = args.shift().replace(/^--/, '');
  const v = args.shift();
  opt[k] = ['token', 'body', 'mode', 'prefix'].includes(k) ? v : Number(v);
}
if (!['127.0.0.1', 'localhost'].includes(url.hostname)) {
  console.error('idempotency_load.mjs only talks to 127.0.0.1');
  process.exit(2);
}
if (!['plain', 'fresh', 'replay'].includes(opt.mode)) {
  console.error('--mode is plain, fresh or replay');
  process.exit(2);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: opt.concurrency });
const body = Buffer.from(opt.body);
let seq = 0;

function once() {
  const headers = {
    Accept: 'application/json', 'Content-Type': 'application/json', 'Content-Length': body.length,
    Prefer: 'return=representation', Authorization: `Bearer ${opt.token}`,
  };
  if (opt.mode === 'fresh') headers['Idempotency-Key'] = `${opt.prefix}-${seq++}`;
  if (opt.mode === 'replay') headers['Idempotency-Key'] = `${opt.prefix}-replay`;
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const req = http.request(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'POST', headers, agent },
      (res) => {
        res.resume();
        res.on('end', () => resolve({
          ok: res.statusCode === 201, replayed: res.headers['idempotent-replayed'] === 'true',
          ms: Number(process.hrtime.bigint() - t0) / 1e6,
        }));
        res.on('error', () => resolve({ ok: false, ms: 0 }));
      });
    req.on('error', () => resolve({ ok: false, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
    req.setTimeout(10000, () => req.destroy());
    req.end(body);
  });
}

// A replay run replays a request made once beforehand.
if (opt.mode === 'replay') {
  const first = await once();
  if (!first.ok) {
    console.error('the request to replay failed');
    process.exit(1);
  }
}

const deadline = Date.now() + opt.timeout * 1000;
let issued = 0;
let ok = 0;
let failed = 0;
let replayed = 0;
const lat = [];
const start = process.hrtime.bigint();
async function worker() {
  while (issued < opt.requests && Date.now() < deadline) {
    issued++;
    const r = await once();
    if (r.ok) { ok++; lat.push(r.ms); if (r.replayed) replayed++; } else failed++;
  }
}
await Promise.all(Array.from({ length: opt.concurrency }, worker));
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
agent.destroy();
lat.sort((a, b) => a - b);
const pct = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] : 0);
console.log(JSON.stringify({
  requests: ok + failed, ok, failed, replayed, seconds: +seconds.toFixed(3),
  rps: +(ok / seconds).toFixed(1), p50_ms: +pct(50).toFixed(2), p99_ms: +pct(99).toFixed(2),
}));
process.exit(failed > 0 ? 1 : 0);
