// Fixed-count HTTP load loop for scripts/bench.sh (no npm dependencies).
//   node load.mjs URL [--token JWT] [--requests N] [--concurrency C] [--timeout SECONDS]
// Sends exactly N GET requests over C keep-alive connections to 127.0.0.1 and
// prints one JSON line: {requests, ok, failed, seconds, rps, p50_ms, p99_ms,
// bytes_per_response}.  Stops early (reporting what it did) after --timeout.
import { parseArgs, keepAliveAgent, request, run } from './load_lib.mjs';

const { url, opt } = parseArgs(process.argv, { token: null, requests: 5000, concurrency: 8, timeout: 120 },
  ['token'], 'load.mjs');
const agent = keepAliveAgent(opt.concurrency);
const headers = { Accept: 'application/json' };
if (opt.token) headers.Authorization = `Bearer ${opt.token}`;

const countBytes = (res) => {
  const seen = { bytes: 0 };
  res.on('data', (c) => { seen.bytes += c.length; });
  return seen;
};
let bytes = 0;
const r = await run(opt, () => request(url, { method: 'GET', headers, agent, okStatus: 200 }, countBytes),
  (res) => { bytes += res.bytes; });
agent.destroy();
console.log(JSON.stringify({
  requests: r.ok + r.failed, ok: r.ok, failed: r.failed, seconds: +r.seconds.toFixed(3),
  rps: +(r.ok / r.seconds).toFixed(1), p50_ms: r.p50_ms, p99_ms: r.p99_ms,
  bytes_per_response: r.ok ? Math.round(bytes / r.ok) : 0,
}));
process.exit(r.failed > 0 && r.ok === 0 ? 1 : 0);
