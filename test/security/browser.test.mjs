// Issue 14, browsers on other origins (docs/authentication.md, "Browsers on
// other origins"), probed with node's fetch and in a real browser, Debian's
// headless chromium:
//   - every answer to a request with an Origin header exposes the API's own
//     headers (Access-Control-Expose-Headers), errors included;
//   - the session cookie works only from the origins
//     task_api.cors_allowed_origins lists (and the API's own): a
//     cookie request from another origin is refused, reads included, even
//     when PostgREST's server-cors-allowed-origins lets that origin read;
//     signup and login from it set no cookie;
//   - in chromium, a page on an allowed origin logs in with the cookie,
//     writes with the CSRF header and reads ETag, RateLimit and Link; a page
//     PostgREST lets read but the setting does not list cannot use the
//     cookie; a page on an origin listed nowhere cannot read at all.
// scripts/test.sh lists http://localhost:<API port + 1> and + 2 in
// PostgREST's server-cors-allowed-origins; this file lists only + 1 in
// task_api.cors_allowed_origins (ALTER SYSTEM, reload) and restores the
// setting in `after`.  The pages are served from ports + 1, + 2 and + 3.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, psql, show, expectError, expectStatus, uniqueName } from '../http/lib.mjs';
import { PASSWORD, signup, responseCookies, CookieJar, cookieHeader } from '../http/session_lib.mjs';

const API_PORT = Number(process.env.TASK_API_TEST_PORT);
const API = `http://localhost:${API_PORT}`;
// What node itself calls: PostgREST listens on 127.0.0.1, and Node 18 tries
// localhost's ::1 first, without falling back.
const NODE_API = `http://127.0.0.1:${API_PORT}`;
const ALLOWED = `http://localhost:${API_PORT + 1}`; // both lists
const READER = `http://localhost:${API_PORT + 2}`; // PostgREST's list only
const STRANGER = `http://localhost:${API_PORT + 3}`; // no list
const SETTING = 'task_api.cors_allowed_origins';
const EXPOSED = ['ETag', 'Link', 'Location', 'RateLimit', 'RateLimit-Policy', 'Retry-After', 'Idempotent-Replayed'];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function setOrigins(value) {
  await psql(`ALTER SYSTEM SET ${SETTING} = :'v';\nSELECT pg_reload_conf();`, { v: value });
  for (let i = 0; i < 200; i++) {
    if (await psql(`SELECT current_setting('${SETTING}')`) === value) return;
    await sleep(50);
  }
  assert.fail(`${SETTING} did not take effect`);
}

before(async () => {
  assert.ok(API_PORT > 0, 'TASK_API_TEST_PORT is set');
  await setOrigins(ALLOWED);
});
after(async () => {
  await psql(`ALTER SYSTEM RESET ${SETTING};\nSELECT pg_reload_conf();`);
});

// The names a response exposes: every Access-Control-Expose-Headers line,
// joined (fetch joins repeated headers with ", ", as browsers do).
function exposed(res) {
  return (res.headers.get('access-control-expose-headers') ?? '').split(',').map((s) => s.trim().toLowerCase());
}

test('answers to a request with an Origin expose the API\'s headers, next to PostgREST\'s own; errors too', async () => {
  const u = await signup();
  const origin = { Origin: READER };
  const ok = await api('GET', '/projects', { token: u.token, headers: origin });
  expectStatus(ok, 200);
  for (const h of EXPOSED) assert.ok(exposed(ok).includes(h.toLowerCase()), `${h} exposed: ${show(ok)} ${exposed(ok)}`);
  assert.ok(exposed(ok).includes('content-range'), 'PostgREST\'s own list is still there');
  assert.equal(ok.headers.get('access-control-allow-origin'), READER, 'PostgREST allows the listed origin');
  assert.equal(ok.headers.get('vary'), 'Origin');
  const refused = await api('POST', '/projects', { token: u.token, headers: origin, body: { name: '' } });
  expectError(refused, 422, 'validation_failed');
  for (const h of EXPOSED) assert.ok(exposed(refused).includes(h.toLowerCase()), `${h} exposed on an error: ${exposed(refused)}`);
  const anon = await api('POST', '/projects', { headers: origin, body: { name: 'x' } });
  assert.equal(anon.status, 401, show(anon));
  // Without an Origin (curl, a server), nothing is added.
  const plain = await api('GET', '/projects', { token: u.token });
  assert.equal(plain.headers.get('access-control-expose-headers'), null);
  assert.equal(plain.headers.get('vary'), null);
});

test('PostgREST answers preflights: a listed origin may send credentials, X-CSRF-Token and Idempotency-Key; an unlisted one may send neither', async () => {
  const preflight = (origin) => fetch(`${NODE_API}/projects`, {
    method: 'OPTIONS',
    headers: {
      Origin: origin, 'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'content-type,x-csrf-token,idempotency-key,prefer',
    },
  });
  const ok = await preflight(ALLOWED);
  assert.equal(ok.headers.get('access-control-allow-origin'), ALLOWED);
  assert.equal(ok.headers.get('access-control-allow-credentials'), 'true');
  assert.match(ok.headers.get('access-control-allow-headers') ?? '', /x-csrf-token/i);
  // wai-cors passes an unlisted origin to PostgREST's own OPTIONS answer:
  // "Access-Control-Allow-Origin: *" and Allow, no credentials, no headers.
  const none = await preflight(STRANGER);
  assert.equal(none.headers.get('access-control-allow-origin'), '*');
  assert.equal(none.headers.get('access-control-allow-credentials'), null);
  assert.equal(none.headers.get('access-control-allow-headers'), null);
});

test('a cookie request from an origin the setting does not list is 403 origin_not_allowed, reads included; listed, same-origin and Origin-less ones pass', async () => {
  const u = await signup();
  const jar = u.jar;
  for (const origin of [READER, STRANGER, 'null', 'http://localhost', `https://localhost:${API_PORT + 1}`, `${ALLOWED}/`, `${ALLOWED}.evil.test`]) {
    const res = await jar.request('GET', '/projects', { headers: { Origin: origin } });
    expectError(res, 403, 'origin_not_allowed');
    assert.deepEqual(responseCookies(res), {}, 'the cookie is valid: it is not cleared');
    expectError(await jar.request('POST', '/projects', { csrf: true, headers: { Origin: origin }, body: { name: uniqueName() } }), 403, 'origin_not_allowed');
  }
  expectStatus(await jar.request('GET', '/projects', { headers: { Origin: ALLOWED } }), 200);
  expectStatus(await jar.request('POST', '/projects', { csrf: true, headers: { Origin: ALLOWED }, body: { name: uniqueName() } }), 201);
  // The API's own origin (its Host), and no Origin at all.
  const host = new URL(process.env.TASK_API_URL).host;
  expectStatus(await jar.request('GET', '/projects', { headers: { Origin: `http://${host}` } }), 200);
  expectStatus(await jar.request('GET', '/projects'), 200);
  // A bearer token works from any origin: a page cannot send one it does not hold.
  expectStatus(await api('GET', '/projects', { token: u.token, headers: { Origin: STRANGER } }), 200);
  // The setting is reread: with the origin listed, the same cookie works from it.
  await setOrigins(`${ALLOWED}, ${READER}`);
  try {
    expectStatus(await jar.request('GET', '/projects', { headers: { Origin: READER } }), 200);
  } finally {
    await setOrigins(ALLOWED);
  }
});

test('signup and login from an origin that may not use the cookie answer the token and set no cookie', async () => {
  const u = await signup();
  const from = (origin) => api('POST', '/rpc/login', { body: { email: u.email, password: PASSWORD }, headers: { Origin: origin } });
  const reader = await from(READER);
  expectStatus(reader, 200);
  assert.equal(typeof reader.body.token, 'string');
  assert.deepEqual(responseCookies(reader), {});
  expectStatus(await api('GET', '/projects', { token: reader.body.token }), 200);
  assert.equal(reader.headers.get('x-csrf-token'), null);
  const allowed = await from(ALLOWED);
  expectStatus(allowed, 200);
  const cookies = responseCookies(allowed);
  assert.deepEqual(Object.keys(cookies).sort(), ['__Host-task_api_csrf', '__Host-task_api_session']);
  assert.equal(allowed.headers.get('x-csrf-token'), cookies['__Host-task_api_csrf'].value,
    'a page on another host reads the CSRF token from the answer');
  const s = await api('POST', '/rpc/signup', { body: { email: `x${Date.now()}${Math.random()}@example.test`, password: PASSWORD }, headers: { Origin: STRANGER } });
  expectStatus(s, 201);
  assert.deepEqual(responseCookies(s), {});
});

test('task_api.cors_allowed_origins accepts only origins', async () => {
  for (const bad of ['*', 'https://app.example.com/', 'app.example.com', 'https://a.example.com/path', 'ftp://x.example.com', 'null']) {
    await assert.rejects(psql(`SET ${SETTING} = :'v'`, { v: bad }), /invalid value/, bad);
  }
  assert.equal(await psql(`SET ${SETTING} = 'https://app.example.com, http://localhost:5173'; SHOW ${SETTING}`),
    'https://app.example.com, http://localhost:5173');
});

// ------------------------------------------------------------ chromium

function chromiumPath() {
  for (const name of ['chromium', 'chromium-browser']) {
    const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim() !== '') return r.stdout.trim();
  }
  return null;
}
const CHROMIUM = chromiumPath();
if (CHROMIUM === null) {
  // Loud: the TAP output shows the skip and why; CI installs chromium (scripts/deps.sh).
  console.error('# SKIP browser test: chromium is not installed (scripts/deps.sh installs it)');
}

// The pages: each runs its part, reports to its own server, then goes on.
function page(role, next, vars) {
  return `<!doctype html><html><body><pre id="out">running</pre><script>
const API = ${JSON.stringify(API)};
const V = ${JSON.stringify(vars)};
const cookie = (n) => (document.cookie.split('; ').find((c) => c.startsWith(n + '=')) || '').slice(n.length + 1);
const json = { 'Content-Type': 'application/json' };
const parts = {
  async allowed(out) {
    let r = await fetch(API + '/rpc/login', { method: 'POST', credentials: 'include', headers: json,
      body: JSON.stringify({ email: V.email, password: V.password }) });
    out.login = r.status;
    out.loginBodyHasToken = typeof (await r.json()).token === 'string';
    out.csrfCookie = cookie('__Host-task_api_csrf') !== '';
    out.csrfHeaderIsCookie = r.headers.get('X-CSRF-Token') === cookie('__Host-task_api_csrf');
    out.sessionCookieHidden = cookie('__Host-task_api_session') === '';
    for (const name of [V.name1, V.name2]) {
      r = await fetch(API + '/projects', { method: 'POST', credentials: 'include',
        headers: { ...json, 'X-CSRF-Token': cookie('__Host-task_api_csrf'), Prefer: 'return=representation' },
        body: JSON.stringify({ name }) });
      out.create = r.status;
      out.etag = r.headers.get('ETag');
      out.rateLimit = r.headers.get('RateLimit');
      out.rateLimitPolicy = r.headers.get('RateLimit-Policy');
    }
    r = await fetch(API + '/rpc/projects_page?page_size=1', { credentials: 'include' });
    out.page = r.status;
    out.link = r.headers.get('Link');
    out.pageRateLimit = r.headers.get('RateLimit');
    out.pageRows = (await r.json()).data.length;
    r = await fetch(API + '/projects', { method: 'POST', credentials: 'include', headers: json,
      body: JSON.stringify({ name: V.name3 }) });
    out.withoutCsrf = r.status;
    out.withoutCsrfCode = (await r.json()).code;
  },
  async reader(out) {
    let r = await fetch(API + '/projects', { credentials: 'include' });
    out.cookieRead = r.status;
    out.cookieReadCode = (await r.json()).code;
    out.cookieReadRateLimitExposed = r.headers.get('RateLimit') !== null;
    const before = cookie('__Host-task_api_csrf');
    r = await fetch(API + '/rpc/login', { method: 'POST', credentials: 'include', headers: json,
      body: JSON.stringify({ email: V.email2, password: V.password }) });
    out.login = r.status;
    out.csrfHeader = r.headers.get('X-CSRF-Token');
    const token = (await r.json()).token;
    out.cookiesUnchanged = before !== '' && cookie('__Host-task_api_csrf') === before;
    r = await fetch(API + '/projects?select=name', { headers: { Authorization: 'Bearer ' + token } });
    out.bearer = r.status;
    out.bearerRows = (await r.json()).length;
  },
  async stranger(out) {
    try {
      await fetch(API + '/projects', { credentials: 'include' });
      out.cookieRead = 'readable';
    } catch (e) {
      out.cookieRead = 'blocked';
    }
    try {
      await fetch(API + '/projects');
      out.anonymousRead = 'readable';
    } catch (e) {
      out.anonymousRead = 'blocked';
    }
  },
};
(async () => {
  const out = { role: ${JSON.stringify(role)} };
  try { await parts[out.role](out); } catch (e) { out.error = String(e); }
  await fetch('/report', { method: 'POST', body: JSON.stringify(out) });
  document.getElementById('out').textContent = JSON.stringify(out);
  ${next ? `location.href = ${JSON.stringify(next)};` : ''}
})();
</script></body></html>`;
}

// One server per origin; reports land in `reports` by role.
function serve(port, html, reports) {
  const server = http.createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/report') {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => {
        const r = JSON.parse(body);
        reports[r.role] = r;
        res.end('ok');
      });
      return;
    }
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(req.url === '/' ? html : '');
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

// Run chromium on url until finished() (every page has reported) or 60 s,
// then end it (its process group: the browser and its helpers).
function runChromium(url, profile, finished) {
  return new Promise((resolve) => {
    const child = spawn(CHROMIUM, ['--headless', '--disable-gpu', '--no-sandbox', '--no-first-run',
      `--user-data-dir=${profile}`, '--virtual-time-budget=20000', '--dump-dom', url],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    let closed = false;
    child.stdout.on('data', (d) => { out += d; });
    const end = (signal) => {
      if (!closed) {
        try {
          process.kill(-child.pid, signal);
        } catch { /* already gone */ }
      }
    };
    const started = Date.now();
    const poll = setInterval(() => {
      if (finished() || Date.now() - started > 60000) {
        clearInterval(poll);
        end('SIGTERM');
        setTimeout(() => end('SIGKILL'), 5000).unref();
      }
    }, 100);
    child.on('close', (code) => {
      closed = true;
      clearInterval(poll);
      resolve({ code, out, ms: Date.now() - started });
    });
  });
}

test('chromium: an allowed page logs in with the cookie, writes with the CSRF header and reads ETag, RateLimit and Link; other origins cannot use the cookie',
  { skip: CHROMIUM === null && !process.env.CI ? 'chromium is not installed (scripts/deps.sh installs it)' : false }, async () => {
    assert.ok(CHROMIUM !== null, 'CI must run the browser test: chromium is missing (scripts/deps.sh installs it)');
    const alice = await signup();
    const bob = await signup();
    const vars = {
      email: alice.email, email2: bob.email, password: PASSWORD,
      name1: uniqueName('browser'), name2: uniqueName('browser'), name3: uniqueName('browser'),
    };
    const reports = {};
    const servers = await Promise.all([
      serve(API_PORT + 1, page('allowed', `${READER}/`, vars), reports),
      serve(API_PORT + 2, page('reader', `${STRANGER}/`, vars), reports),
      serve(API_PORT + 3, page('stranger', null, vars), reports),
    ]);
    const profile = mkdtempSync(join(tmpdir(), 'task_api-chromium-'));
    let run;
    try {
      run = await runChromium(`${ALLOWED}/`, profile, () => reports.stranger !== undefined);
    } finally {
      for (const s of servers) s.close();
      rmSync(profile, { recursive: true, force: true });
    }
    const msg = `reports ${JSON.stringify(reports)}; chromium ran ${run.ms} ms (exit ${run.code}); DOM ${run.out.slice(0, 2000)}`;
    const a = reports.allowed;
    assert.ok(a && !a.error, msg);
    assert.equal(a.login, 200, msg);
    assert.equal(a.loginBodyHasToken, true);
    assert.equal(a.csrfCookie, true, 'the CSRF cookie is readable by the page');
    assert.equal(a.csrfHeaderIsCookie, true, 'and so is the X-CSRF-Token header of the login answer');
    assert.equal(a.sessionCookieHidden, true, 'the session cookie is HttpOnly');
    assert.equal(a.create, 201, msg);
    assert.equal(a.etag, '"1"', msg);
    assert.match(a.rateLimit ?? '', /^"user";r=\d+;t=\d+$/, msg);
    assert.match(a.rateLimitPolicy ?? '', /^"user";q=\d+;w=60$/, msg);
    assert.equal(a.page, 200, msg);
    assert.equal(a.pageRows, 1);
    assert.match(a.link ?? '', /rel="next"/, msg);
    assert.match(a.pageRateLimit ?? '', /^"user";r=\d+/, msg);
    assert.equal(a.withoutCsrf, 403, msg);
    assert.equal(a.withoutCsrfCode, 'csrf_failed');
    // The page wrote as Alice.
    assert.equal(await psql("SELECT count(*) FROM task_api.projects p JOIN task_api.users u ON u.id = p.owner_id WHERE u.id = :'id' AND p.name IN (:'a', :'b')",
      { id: alice.id, a: vars.name1, b: vars.name2 }), '2');

    const r = reports.reader;
    assert.ok(r && !r.error, msg);
    assert.equal(r.cookieRead, 403, `PostgREST lets this origin read, the database refuses its cookie: ${msg}`);
    assert.equal(r.cookieReadCode, 'origin_not_allowed');
    assert.equal(r.cookieReadRateLimitExposed, true, 'the refusal\'s RateLimit header is readable');
    assert.equal(r.login, 200, msg);
    assert.equal(r.cookiesUnchanged, true, 'a login from this origin set no cookie');
    assert.equal(r.csrfHeader, null, 'nor sent a CSRF token');
    assert.equal(r.bearer, 200, 'a bearer token works from it');
    assert.equal(r.bearerRows, 0, 'Bob sees none of Alice\'s projects');

    const s = reports.stranger;
    assert.ok(s && !s.error, msg);
    assert.equal(s.cookieRead, 'blocked', msg);
    assert.equal(s.anonymousRead, 'blocked', msg);
  });
