// Fixed-count HTTP load loop for scripts/bench.sh (no npm dependencies).
//   node load.mjs URL [--token JWT] [--requests N] [--concurrency C] [--timeout SECONDS]
// Sends exactly N GET requests over C keep-alive connections to 127.0.0.1 and
// prints one JSON line: {requests, ok, failed, seconds, rps, p50_ms, p99_ms,
// bytes_per_response}.  Stops early (reporting what it did) after --timeout.
import http from 'node:http';

const args = process.argv.slice(2);
const url = new URL(args.shift());
const opt = { token: null, requests: 5000, concurrency: 8, timeout: 120 };
while (args.length) {
  const k = args.shift().replace(/^--/, '');
  const v = args.shift();
  opt[k] = k === 'token' ? v : Number(v);
}
if (!['127.0.0.1', 'localhost'].includes(url.hostname)) {
  console.error('load.mjs only talks to 127.0.0.1');
  process.exit(2);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: opt.concurrency });
const headers = { Accept: 'application/json' };
if (opt.token) headers.Authorization = `Bearer ${opt.token}`;

function once() {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const req = http.request(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'GET', headers, agent },
      (res) => {
        let bytes = 0;
        res.on('data', (c) => { bytes += c.length; });
        res.on('end', () => resolve({ ok: res.statusCode === 200, bytes, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
        res.on('error', () => resolve({ ok: false, bytes: 0, ms: 0 }));
      });
    req.on('error', () => resolve({ ok: false, bytes: 0, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
    req.setTimeout(10000, () => req.destroy());
    req.end();
  });
}

const deadline = Date.now() + opt.timeout * 1000;
let issued = 0;
let ok = 0;
let failed = 0;
let bytes = 0;
const lat = [];
const start = process.hrtime.bigint();
async function worker() {
  while (issued < opt.requests && Date.now() < deadline) {
    issued++;
    const r = await once();
    if (r.ok) { ok++; bytes += r.bytes; lat.push(r.ms); } else failed++;
  }
}
await Promise.all(Array.from({ length: opt.concurrency }, worker));
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
agent.destroy();
lat.sort((a, b) => a - b);
const pct = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] : 0);
console.log(JSON.stringify({
  requests: ok + failed, ok, failed, seconds: +seconds.toFixed(3),
  rps: +(ok / seconds).toFixed(1), p50_ms: +pct(50).toFixed(2), p99_ms: +pct(99).toFixed(2),
  bytes_per_response: ok ? Math.round(bytes / ok) : 0,
}));
process.exit(failed > 0 && ok === 0 ? 1 : 0);
