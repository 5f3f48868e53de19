// Issue 21, item 1 (its first parts): bounded work per request, through the
// real PostgREST.  The probe "one user's reads" in a bounded form: user A
// puts 3,000 tasks in a project and sends nested selects that grow with the
// square of the project's tasks, under a statement timeout of one second;
// user B keeps being served, A's requests are cut off with a catalogue
// error, and nothing keeps running in the database once the clients are
// gone.  Also: the bulk-write cap (413 payload_too_large), a write waiting
// on a lock (504 busy with Retry-After), the authenticator's own
// statement_timeout.
//
// The file changes task_api.statement_timeout and task_api.max_bulk_rows
// (ALTER SYSTEM + reload); the security tier runs its files one at a time,
// and the after hook resets both (the test cluster sets neither).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  api, psql, show, createUser, createProject, expectError, expectStatus,
} from '../http/lib.mjs';

const TASKS = 3000;
// Each row of the outer list embeds the project's every task: 1,000 x 3,000
// rows, several seconds of work (at 300 x 3,000 a warm, quiet server could
// finish inside the one-second timeout the tests set).
const HEAVY = '/tasks?select=id,projects(tasks(id))&limit=1000';
let a;
let b;
let project;

// Set task_api.* settings (values in the setting's base unit) by ALTER
// SYSTEM and a reload; wait until a new connection sees them.
async function configure(values) {
  let sql = '';
  for (const [name, value] of Object.entries(values)) {
    assert.match(name, /^task_api\.[a-z_]+$/);
    sql += value === null ? `ALTER SYSTEM RESET ${name};\n` : `ALTER SYSTEM SET ${name} = '${Number(value)}';\n`;
  }
  await psql(sql + 'SELECT pg_reload_conf();');
  const expected = {};
  for (const [name, value] of Object.entries(values)) {
    expected[name] = value === null
      ? await psql(`SELECT boot_val FROM pg_settings WHERE name = '${name}'`) : String(Number(value));
  }
  for (let i = 0; i < 200; i++) {
    let ok = true;
    for (const [name, value] of Object.entries(expected)) {
      if (await psql(`SELECT setting FROM pg_settings WHERE name = '${name}'`) !== value) ok = false;
    }
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`the settings did not take effect: ${JSON.stringify(values)}`);
}

// Statements of PostgREST's requests still running in the database.
async function runningRequests() {
  return Number(await psql(
    "SELECT count(*) FROM pg_stat_activity WHERE usename = 'task_api_authenticator'" +
    " AND state = 'active' AND query LIKE '%pgrst_source%'"));
}

async function waitFor(what, check, seconds) {
  for (let i = 0; i < seconds * 10; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${what} did not happen within ${seconds} s`);
}

before(async () => {
  a = await createUser({ displayName: 'A' });
  b = await createUser({ displayName: 'B' });
  project = await createProject(a.token);
  await createProject(b.token);
  // Three bulk POSTs of 1,000 rows: at the default cap, which they reach.
  for (let n = 0; n < TASKS; n += 1000) {
    const rows = Array.from({ length: 1000 }, (_, i) => ({ project_id: project.id, title: `task ${n + i}` }));
    expectStatus(await api('POST', '/tasks', { token: a.token, body: rows }), 201);
  }
});

after(async () => {
  await configure({ 'task_api.statement_timeout': null, 'task_api.max_bulk_rows': null });
});

test('a request running past task_api.statement_timeout answers 400 query_too_expensive', async () => {
  await configure({ 'task_api.statement_timeout': 1000 });
  const res = await api('GET', HEAVY, { token: a.token });
  const body = expectError(res, 400, 'query_too_expensive');
  assert.deepEqual(JSON.parse(body.details), { statement_timeout_ms: 1000 });
  assert.doesNotMatch(res.text, /57014|canceling statement/, 'no raw PostgreSQL error');
});

test("one user's heavy reads are cut off while another user keeps being served", async () => {
  await configure({ 'task_api.statement_timeout': 1000 });
  // Twelve at once: more than PostgREST's pool of ten connections.
  const heavy = Array.from({ length: 12 }, () => api('GET', HEAVY, { token: a.token }));
  const served = [];
  for (let i = 0; i < 5; i++) served.push(await api('GET', '/projects', { token: b.token }));
  for (const res of served) {
    expectStatus(res, 200);
    assert.equal(res.body.length, 1, show(res));
  }
  for (const res of await Promise.all(heavy)) expectError(res, 400, 'query_too_expensive');
  await waitFor('the end of every request statement', async () => (await runningRequests()) === 0, 10);
});

test('nothing keeps running in the database after the clients have gone', async () => {
  await configure({ 'task_api.statement_timeout': 1000 });
  // Heavier still (3,000 x 3,000 rows): without a timeout each runs for
  // many seconds after its client gave up.
  const controllers = Array.from({ length: 8 }, () => new AbortController());
  const gone = controllers.map((c) => fetch(process.env.TASK_API_URL + HEAVY.replace('limit=1000', 'limit=3000'), {
    headers: { Authorization: `Bearer ${a.token}` }, signal: c.signal,
  }).then((r) => r.arrayBuffer()).catch(() => null));
  await waitFor('a heavy statement in pg_stat_activity', async () => (await runningRequests()) > 0, 10);
  for (const c of controllers) c.abort();
  await Promise.all(gone);
  await waitFor('the end of the abandoned statements', async () => (await runningRequests()) === 0, 10);
});

test('a write waiting for a lock for half the timeout answers 504 busy with Retry-After, and the setting follows a reload', async () => {
  await configure({ 'task_api.statement_timeout': 1000 });
  const holder = spawn(process.env.TASK_API_PSQL, ['-X', '-q', '-h', process.env.TASK_API_PGHOST,
    '-p', process.env.TASK_API_PGPORT, '-U', 'postgres', '-d', process.env.TASK_API_PGDATABASE,
    '-v', `id=${project.id}`], { stdio: ['pipe', 'ignore', 'inherit'] });
  holder.stdin.write("BEGIN;\nSELECT 1 FROM task_api.projects WHERE id = :'id' FOR UPDATE;\n\\echo\n");
  try {
    await waitFor('the lock', async () => Number(await psql(
      "SELECT count(*) FROM pg_stat_activity WHERE usename = 'postgres'" +
      " AND state = 'idle in transaction' AND backend_xid IS NOT NULL")) > 0, 10);
    for (const ms of [1000, 2000]) {
      await configure({ 'task_api.statement_timeout': ms });
      const res = await api('PATCH', `/projects?id=eq.${project.id}`, { token: a.token, body: { name: 'renamed' } });
      // 504, not 503: PostgREST 12 reconnects and reloads its schema
      // cache on any 503, refusing everyone meanwhile (src/bounds.c).
      assert.equal(res.status, 504, show(res));
      assert.equal(res.body.code, 'busy', show(res));
      assert.equal(res.headers.get('retry-after'), '1', show(res));
      assert.deepEqual(JSON.parse(res.body.details), { lock_timeout_ms: ms / 2 }, 'lock waits get half the time');
    }
  } finally {
    holder.stdin.end('ROLLBACK;\n');
    await new Promise((r) => holder.on('close', r));
  }
  const [row] = (await api('GET', `/projects?id=eq.${project.id}`, { token: a.token })).body;
  assert.equal(row.version, 1, 'the refused writes were rolled back');
  assert.notEqual(row.name, 'renamed');
});

test('a POST of more rows than task_api.max_bulk_rows answers 413 payload_too_large and writes nothing', async () => {
  await configure({ 'task_api.max_bulk_rows': 50 });
  const count = async () => Number(await psql(`SELECT count(*) FROM task_api.tasks WHERE project_id = '${project.id}'`));
  const before = await count();
  const rows = (n) => Array.from({ length: n }, (_, i) => ({ project_id: project.id, title: `bulk ${i}` }));
  const res = await api('POST', '/tasks', { token: a.token, body: rows(51) });
  const body = expectError(res, 413, 'payload_too_large');
  assert.deepEqual(JSON.parse(body.details), { max_rows: 50 });
  assert.equal(await count(), before);
  expectStatus(await api('POST', '/tasks', { token: a.token, body: rows(50) }), 201);
  assert.equal(await count(), before + 50);

  const projects = Array.from({ length: 51 }, (_, i) => ({ name: `bulk project ${i} ${Date.now()}` }));
  expectError(await api('POST', '/projects', { token: b.token, body: projects }), 413, 'payload_too_large');
  assert.equal((await api('GET', '/projects', { token: b.token })).body.length, 1);
  // Single-row writes never reach the cap.
  await configure({ 'task_api.max_bulk_rows': 1 });
  expectStatus(await api('POST', '/tasks', { token: a.token, body: { project_id: project.id, title: 'one' } }), 201);
});

test("the authenticator's own statements have a statement_timeout", async () => {
  const settings = await psql(
    "SELECT array_to_string(s.setconfig, ',') FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole" +
    " JOIN pg_database d ON d.oid = s.setdatabase WHERE r.rolname = 'task_api_authenticator' AND d.datname = current_database()");
  assert.match(settings, /(^|,)statement_timeout=30s(,|$)/);
});
