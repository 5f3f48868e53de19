// The fixed-count HTTP load loop shared by bench/load.mjs and
// bench/idempotency_load.mjs (no npm dependencies).
import http from 'node:http';

// URL and --name value options from argv; names in strings stay text, the
// others become numbers. Refuses any host but this one.
export function parseArgs(argv, defaults, strings, script) {
  const args = argv.slice(2);
  const url = new URL(args.shift());
  const opt = { ...defaults };
  while (args.length) {
    const k = args.shift().replace(/^--/, '');
    const v = args.shift();
    opt[k] = strings.includes(k) ? v : Number(v);
  }
  if (!['127.0.0.1', 'localhost'].includes(url.hostname)) {
    console.error(`${script} only talks to 127.0.0.1`);
    process.exit(2);
  }
  return { url, opt };
}

export function keepAliveAgent(concurrency) {
  return new http.Agent({ keepAlive: true, maxSockets: concurrency });
}

// One request: resolves {ok: status === okStatus, ms, res} (res null on a
// network error), plus what onBody(res) returned (it may read the body).
export function request(url, { method, headers, agent, body, okStatus }, onBody = (res) => { res.resume(); }) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const ms = () => Number(process.hrtime.bigint() - t0) / 1e6;
    const req = http.request(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method, headers, agent },
      (res) => {
        const extra = onBody(res) ?? {};
        res.on('end', () => resolve({ ok: res.statusCode === okStatus, ms: ms(), res, ...extra }));
        res.on('error', () => resolve({ ok: false, ms: 0, res: null }));
      });
    req.on('error', () => resolve({ ok: false, ms: ms(), res: null }));
    req.setTimeout(10000, () => req.destroy());
    req.end(body);
  });
}

// Issue opt.requests calls of once() over opt.concurrency workers (stopping
// after opt.timeout seconds); onOk(result) sees each successful one.
// Returns {ok, failed, seconds, p50_ms, p99_ms}.
export async function run(opt, once, onOk = () => {}) {
  const deadline = Date.now() + opt.timeout * 1000;
  let issued = 0;
  let ok = 0;
  let failed = 0;
  const lat = [];
  const start = process.hrtime.bigint();
  async function worker() {
    while (issued < opt.requests && Date.now() < deadline) {
      issued++;
      const r = await once();
      if (r.ok) { ok++; lat.push(r.ms); onOk(r); } else failed++;
    }
  }
  await Promise.all(Array.from({ length: opt.concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  lat.sort((a, b) => a - b);
  const pct = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] : 0);
  return { ok, failed, seconds, p50_ms: +pct(50).toFixed(2), p99_ms: +pct(99).toFixed(2) };
}
