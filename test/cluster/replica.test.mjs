// The API on a hot standby's PostgREST (run by test/cluster/replica.sh):
// every read answers as on the primary, with bearer tokens, API keys and
// cookies; writes answer 421 read_only_replica; a logout on the primary
// refuses the token on the standby once the standby has replayed it.
// Environment: what test/http/lib.mjs takes (the primary), plus
// TASK_API_STANDBY_URL and TASK_API_STANDBY_PGPORT.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { promisify } from 'node:util';
import { api, show, psql, createUser, createProject, createTask, expectStatus } from '../http/lib.mjs';
import { signup, cookieHeader } from '../http/session_lib.mjs';

const STANDBY_URL = process.env.TASK_API_STANDBY_URL.replace(/\/+$/, '');
const run = promisify(execFile);

async function standbySql(sql) {
  const { stdout } = await run(process.env.TASK_API_PSQL, ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
    '-h', process.env.TASK_API_PGHOST, '-p', process.env.TASK_API_STANDBY_PGPORT, '-U', 'postgres',
    '-d', process.env.TASK_API_PGDATABASE, '-c', sql]);
  return stdout.trim();
}

// The same request to the standby's PostgREST.  Through node:http, not
// fetch: the Fetch standard retries a 421 answer once on a new connection,
// and Node 18's fetch (Debian 12's) then fails a request that has a body
// ("Request body length does not match content-length header";
// docs/deployment.md).
function onStandby(method, path, { token, body, headers = {} } = {}) {
  const h = { Accept: 'application/json', ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  const payload = body === undefined ? undefined : JSON.stringify(body);
  if (payload !== undefined) {
    h['Content-Type'] = 'application/json';
    h['Content-Length'] = Buffer.byteLength(payload);
  }
  return new Promise((resolve, reject) => {
    const req = http.request(STANDBY_URL + path, { method, headers: h }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => {
        let parsed = text === '' ? null : text;
        try { parsed = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: new Headers(res.headers), body: parsed, text });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

// Wait until the standby has replayed everything the primary has written so far.
async function caughtUp() {
  const lsn = await psql('SELECT pg_current_wal_lsn()');
  for (let i = 0; i < 300; i++) {
    if ((await standbySql(`SELECT pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn`)) === 't') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the standby did not replay ${lsn} in 15 s`);
}

// Hop-by-hop headers too: the standby is read through node:http, the primary by fetch.
const VARYING = new Set(['date', 'ratelimit', 'content-length', 'connection', 'keep-alive', 'transfer-encoding']);
function headerNames(res) {
  return [...res.headers.keys()].filter((k) => !VARYING.has(k)).sort();
}

let user;
let key;
let project;
test.before(async () => {
  user = await signup();
  project = await createProject(user.token);
  await createTask(user.token, project.id, { title: 'one' });
  await createTask(user.token, project.id, { title: 'two' });
  const k = await api('POST', '/rpc/create_api_key', { token: user.token, body: { name: 'replica' } });
  assert.equal(k.status, 201, show(k));
  key = k.body.key;
  await caughtUp();
});

const READS = ['/projects', '/tasks?order=title', '/project_members', '/users', '/api_keys?select=id,name', '/trash',
  '/invitations', '/task_events?order=id', '/rpc/tasks_page', '/rpc/projects_page', '/rpc/task_events_page'];

test('the standby runs in recovery', async () => {
  assert.equal(await standbySql('SELECT pg_is_in_recovery()'), 't');
});

// The NOTIFY workers (src/event_notify.c) start only once recovery has
// finished: none on the standby, the launcher on the primary.
test('no task_api notify worker runs on the standby', async () => {
  const workers = "SELECT count(*) FROM pg_stat_activity WHERE backend_type IN ('task_api notify launcher', 'task_api notifier')";
  assert.equal(await standbySql(workers), '0');
  assert.equal(await psql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'task_api notify launcher'"), '1');
});

// The primary's PostgREST keeps 0.1.0's db-pre-request = task_api.pre_request
// (test/cluster/replica.sh); the gate has run in its settings statement by
// then, so the call does nothing and each request is counted (and charged)
// once.
test('a PostgREST that still names db-pre-request = task_api.pre_request counts each request once', async () => {
  const { token } = await createUser();
  const counted = async () => Number(await psql(
    "SELECT value FROM task_api.metrics_read() WHERE metric = 'task_api_requests_total' AND labels = 'credential=\"session\"'"));
  for (let i = 0; i < 3; i++) {
    const before = await counted();
    const res = await api('GET', '/projects', { token });
    assert.equal(res.status, 200, show(res));
    assert.equal(await counted() - before, 1, 'one GET, one request counted');
  }
});

test('every read answers on the standby as on the primary (bearer token): status, body, header names', async () => {
  for (const path of READS) {
    const p = await api('GET', path, { token: user.token });
    const s = await onStandby('GET', path, { token: user.token });
    assert.equal(p.status, 200, `${path} on the primary: ${show(p)}`);
    assert.equal(s.status, p.status, `${path} on the standby: ${show(s)}`);
    assert.deepEqual(s.body, p.body, `${path}: the same rows`);
    assert.deepEqual(headerNames(s), headerNames(p), `${path}: the same headers`);
  }
});

test('GET / (the OpenAPI document) answers on the standby', async () => {
  // The document lists what the caller may do: a signed-in user's lists /tasks.
  const s = await onStandby('GET', '/', { token: user.token });
  assert.equal(s.status, 200, show(s));
  assert.ok(s.body.paths['/tasks'], 'the document lists /tasks');
});

test('an API key and a session cookie read on the standby', async () => {
  const p = await api('GET', '/tasks?order=title', { token: user.token });
  const byKey = await onStandby('GET', '/tasks?order=title', { token: key });
  assert.equal(byKey.status, 200, show(byKey));
  assert.deepEqual(byKey.body, p.body);
  const session = user.jar.get('__Host-task_api_session');
  const byCookie = await onStandby('GET', '/tasks?order=title', { headers: { Cookie: cookieHeader(session) } });
  assert.equal(byCookie.status, 200, show(byCookie));
  assert.deepEqual(byCookie.body, p.body);
});

test('writes on the standby answer 421 read_only_replica with a hint, and write nothing', async () => {
  const [task] = (await api('GET', '/tasks?order=title&limit=1', { token: user.token })).body;
  const writes = [
    ['POST', '/projects', { name: 'nope' }],
    ['PATCH', `/tasks?id=eq.${task.id}`, { title: 'nope' }],
    ['DELETE', `/tasks?id=eq.${task.id}`, undefined],
    ['POST', '/rpc/create_api_key', { name: 'nope' }],
    ['POST', '/rpc/logout', {}],
  ];
  for (const [method, path, body] of writes) {
    const s = await onStandby(method, path, { token: user.token, body });
    assert.equal(s.status, 421, `${method} ${path}: ${show(s)}`);
    assert.equal(s.body.code, 'read_only_replica', show(s));
    assert.match(s.body.hint, /primary/, show(s));
  }
  const login = await onStandby('POST', '/rpc/login', { body: { email: user.email, password: user.password } });
  assert.equal(login.status, 421, `login: ${show(login)}`);
  assert.equal(login.body.code, 'read_only_replica');
  const titles = (await api('GET', `/tasks?project_id=eq.${project.id}&order=title`, { token: user.token })).body.map((t) => t.title);
  assert.deepEqual(titles, ['one', 'two'], 'nothing changed on the primary');
});

test('the error catalogue lists read_only_replica as 421 (on the standby too)', async () => {
  assert.equal(await standbySql("SELECT status FROM task_api.error_codes WHERE code = 'read_only_replica'"), '421');
});

test('a logout on the primary refuses the token on the standby once replayed', async () => {
  const other = await signup();
  await caughtUp();
  expectStatus(await onStandby('GET', '/projects', { token: other.token }), 200);
  expectStatus(await api('POST', '/rpc/logout', { token: other.token }), 204);
  await caughtUp();
  const s = await onStandby('GET', '/projects', { token: other.token });
  assert.equal(s.status, 401, show(s));
  assert.equal(s.body.code, 'unauthenticated');
});
