// Issue 21, the shared-memory limits, probed as an attacker with an ordinary
// account would, through the real PostgREST:
//   - login with a bearer token: charged to the login bucket, never to the
//     token's user (any account used to buy 600 guesses a minute);
//   - lockout: a flood of anonymous requests does not block logins, and
//     failed logins back off per account, the same for every email;
//   - API keys: four keys of one user get at most the user's quota through;
//   - log: refused requests do not each write an ERROR line;
//   - requests in flight: one user holding slow requests is refused past
//     task_api.max_inflight_per_user while another user is served, and
//     slots come back however a request ends.
//
// The security tier runs its files one at a time: this file changes the
// cluster's settings (ALTER SYSTEM + reload) and restores them in `after`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  api, psql, show, createUser, createProject, expectError, expectStatus, uniqueEmail, uniqueName,
} from '../http/lib.mjs';
import { PASSWORD, signup } from '../http/session_lib.mjs';

const HIGH = '100000000';
const DEFAULTS = {
  'task_api.rate_limit_anon': HIGH, 'task_api.rate_limit_anon_burst': '0',
  'task_api.rate_limit_user': HIGH, 'task_api.rate_limit_user_burst': '0',
  'task_api.rate_limit_api_key': HIGH, 'task_api.rate_limit_api_key_burst': '0',
  'task_api.rate_limit_login': HIGH, 'task_api.rate_limit_login_burst': '0',
  'task_api.trust_forwarded_for': 'off',
  'task_api.max_inflight_per_user': '4',
  'task_api.login_max_failures': '1000', 'task_api.login_backoff': '1', 'task_api.login_backoff_max': '900',
  'task_api.log_expected_refusals': 'off',
};
const SETTINGS = Object.keys(DEFAULTS);
let saved;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A setting's value without its unit (seconds settings show as 15min).
const setting = (name) => `(SELECT setting FROM pg_catalog.pg_settings WHERE name = '${name}')`;

// ALTER SYSTEM and a reload; wait until a new connection sees the values.
async function setAll(wanted) {
  let sql = '';
  for (const [name, value] of Object.entries(wanted)) {
    assert.match(name, /^task_api\.[a-z_]+$/);
    assert.match(String(value), /^[a-z0-9]+$/);
    sql += `ALTER SYSTEM SET ${name} = '${value}';\n`;
  }
  await psql(sql + 'SELECT pg_reload_conf();');
  const check = Object.keys(wanted).map(setting).join(" || ',' || ");
  const expected = Object.values(wanted).join(',');
  for (let i = 0; i < 200; i++) {
    if (await psql(`SELECT ${check}`) === expected) return;
    await sleep(50);
  }
  assert.fail(`the settings did not take effect: ${expected}`);
}

// The settings a test needs (the rest as DEFAULTS), every bucket and the
// login throttle forgotten.
async function configure(values = {}) {
  await setAll({ ...DEFAULTS, ...values });
  await psql('SELECT task_api.rate_limit_reset(), task_api.login_throttle_reset()');
}

before(async () => {
  const out = await psql(`SELECT ${SETTINGS.map(setting).join(" || ',' || ")}`);
  saved = Object.fromEntries(out.split(',').map((v, i) => [SETTINGS[i], v]));
});

// Lock holders still open when a test failed half-way: ended here, or the
// psql children would keep this file from ever finishing.
const lockHolders = new Set();

after(async () => {
  for (const child of lockHolders) child.kill();
  await setAll(saved);
  await psql('SELECT task_api.rate_limit_reset(), task_api.login_throttle_reset()');
});

// The policy named by a response's RateLimit header.
function policyOf(res) {
  const m = (res.headers.get('ratelimit') ?? '').match(/^"([a-z_]+)";r=(\d+);t=(\d+)$/);
  assert.ok(m, `no RateLimit header: ${show(res)}`);
  return { kind: m[1], r: Number(m[2]) };
}

function expectRetryAfter(res) {
  expectError(res, 429, 'rate_limited');
  const retry = res.headers.get('retry-after');
  assert.match(retry ?? '', /^[1-9]\d*$/, `Retry-After: ${show(res)}`);
  return Number(retry);
}

const login = (email, password, headers = {}) =>
  api('POST', '/rpc/login', { body: { email, password }, headers });

test('login with a bearer token: charged to the login bucket, never to the token\'s user (no quota bought with an account)', async () => {
  await configure();
  const attacker = await createUser();
  const victim = await signup();
  await configure({
    'task_api.rate_limit_user': '1', 'task_api.rate_limit_user_burst': '3',
    'task_api.rate_limit_login': '1', 'task_api.rate_limit_login_burst': '4',
  });
  const bearer = { Authorization: `Bearer ${attacker.token}` };
  for (let r = 3; r >= 0; r--) {
    const res = await login(victim.email, 'a wrong password', bearer);
    expectError(res, 401, 'invalid_credentials');
    assert.deepEqual(policyOf(res), { kind: 'login', r }, 'the login bucket, not the attacker\'s user bucket');
  }
  const refused = await login(victim.email, 'a wrong password', bearer);
  expectRetryAfter(refused);
  assert.equal(policyOf(refused).kind, 'login');
  // A session cookie buys nothing either, nor does signup.
  expectRetryAfter(await login(victim.email, 'a wrong password', { Cookie: `__Host-task_api_session=${attacker.token}` }));
  expectRetryAfter(await api('POST', '/rpc/signup', { body: { email: uniqueEmail(), password: PASSWORD }, headers: bearer }));
  // Other spellings of the path either do not reach api.login or are
  // charged to the login bucket there (api.login checks): never a password
  // check past the login limit.
  for (const path of ['/rpc/login/', '/rpc/Login', '/rpc//login', '/rpc/login?select=*']) {
    const res = await api('POST', path, { body: { email: victim.email, password: 'a wrong password' }, headers: bearer });
    assert.ok(res.status === 429 || res.status === 404 || res.status === 400, `${path}: ${show(res)}`);
  }
  // The attacker's own bucket was never charged: it still holds all 3.
  assert.equal(await psql("SELECT remaining || ' ' || tracked FROM task_api.rate_limit_status('user', :'id')", { id: attacker.id }),
    '3 false');
  const own = await api('GET', '/projects', { token: attacker.token });
  expectStatus(own, 200);
  assert.deepEqual(policyOf(own), { kind: 'user', r: 2 });
});

test('login buckets are per client address when X-Forwarded-For is trusted', async () => {
  await configure({ 'task_api.rate_limit_login': '1', 'task_api.rate_limit_login_burst': '2', 'task_api.trust_forwarded_for': 'on' });
  const from = (xff) => login('nobody@example.test', 'a wrong password', { 'X-Forwarded-For': xff });
  expectError(await from('203.0.113.50'), 401, 'invalid_credentials');
  expectError(await from('203.0.113.50'), 401, 'invalid_credentials');
  expectRetryAfter(await from('203.0.113.50'));
  // Another client still logs in.
  const other = await from('203.0.113.51');
  expectError(other, 401, 'invalid_credentials');
  assert.deepEqual(policyOf(other), { kind: 'login', r: 1 });
  assert.equal(await psql("SELECT remaining FROM task_api.rate_limit_status('login', '203.0.113.50')"), '0');
});

test('lockout: a flood of anonymous requests exhausts the anonymous bucket, and logins and signups are still served', async () => {
  await configure();
  const user = await signup();
  await configure({ 'task_api.rate_limit_anon': '1', 'task_api.rate_limit_anon_burst': '5' });
  let refused = 0;
  for (let i = 0; i < 8; i++) {
    const res = await api('GET', '/projects');
    if (res.status === 429) refused++;
  }
  assert.equal(refused, 3, 'the anonymous bucket is empty after 5');
  expectRetryAfter(await api('GET', '/projects'));
  const ok = await login(user.email, PASSWORD);
  expectStatus(ok, 200);
  assert.equal(policyOf(ok).kind, 'login');
  expectStatus(await api('POST', '/rpc/signup', { body: { email: uniqueEmail(), password: PASSWORD } }), 201);
});

// Everything a client sees of a throttled login but the date and the login
// bucket's count (which moves with every request, whatever the email).
function visible(res) {
  // X-Request-Id is new in every request, whatever the account.
  const headers = Object.fromEntries([...res.headers].filter(([k]) => !['date', 'ratelimit', 'x-request-id'].includes(k)));
  return { status: res.status, text: res.text, headers };
}

test('lockout: failed logins back off per account, the same status, body and headers for a known and an unknown email; other accounts are not locked out', async () => {
  await configure();
  const known = await signup();
  const bystander = await signup();
  const unknown = uniqueEmail('nobody');
  await configure({ 'task_api.login_max_failures': '3', 'task_api.login_backoff': '300', 'task_api.login_backoff_max': '900' });
  for (let i = 0; i < 3; i++) {
    expectError(await login(known.email, 'a wrong password'), 401, 'invalid_credentials');
    expectError(await login(unknown, 'a wrong password'), 401, 'invalid_credentials');
  }
  // The fourth attempt waits, even with the right password.
  const lockedKnown = await login(known.email, PASSWORD);
  const lockedUnknown = await login(unknown, PASSWORD);
  assert.ok(expectRetryAfter(lockedKnown) > 60, 'backs off for task_api.login_backoff');
  expectRetryAfter(lockedUnknown);
  assert.deepEqual(visible(lockedKnown), visible(lockedUnknown), 'nothing tells a known email from an unknown one');
  // Case and blanks do not make a new account.
  expectRetryAfter(await login(`  ${known.email.toUpperCase()} `, PASSWORD));
  // Nobody else is locked out.
  expectStatus(await login(bystander.email, PASSWORD), 200);
  // An operator may lift it.
  assert.equal(await psql("SELECT task_api.login_throttle_reset(:'email')", { email: known.email }), '1');
  expectStatus(await login(known.email, PASSWORD), 200);
});

test('lockout: a flood against one account at a small shared login bucket never succeeds, and everyone else still logs in', async () => {
  await configure();
  const victim = await signup();
  const bystander = await signup();
  // One shared login bucket of 30 (no trusted X-Forwarded-For): without the
  // refund of refused attempts, the flood below would empty it for everyone.
  await configure({
    'task_api.rate_limit_login': '30', 'task_api.login_max_failures': '3',
    'task_api.login_backoff': '300', 'task_api.login_backoff_max': '900',
  });
  // Three guesses one after the other lock the account (concurrent ones
  // before the lock could each be checked: the check and the count are not
  // one step), then a concurrent flood.
  const answers = [];
  for (let i = 0; i < 3; i++) answers.push(await login(victim.email, `first guess ${i}`));
  for (let i = 0; i < 120; i += 10) {
    answers.push(...await Promise.all(Array.from({ length: 10 }, (_, k) =>
      login(victim.email, `guess number ${i + k}`))));
  }
  assert.equal(answers.filter((r) => r.status === 401).length, 3, 'three guesses are checked');
  for (const r of answers.filter((x) => x.status !== 401)) expectRetryAfter(r);
  // Not even the right password gets through while the account backs off.
  const right = await login(victim.email, PASSWORD);
  expectRetryAfter(right);
  assert.equal(right.body.message, 'too many failed sign-ins for this email', 'the account\'s backoff, not the shared bucket');
  // The shared bucket paid only for the checked guesses.
  const ok = await login(bystander.email, PASSWORD);
  expectStatus(ok, 200);
  assert.ok(policyOf(ok).r >= 30 - 5, `the login bucket is nearly full: ${ok.headers.get('ratelimit')}`);
});

test('lockout: a successful login forgets the failures', async () => {
  await configure();
  const user = await signup();
  await configure({ 'task_api.login_max_failures': '3', 'task_api.login_backoff': '300' });
  for (let i = 0; i < 2; i++) expectError(await login(user.email, 'a wrong password'), 401, 'invalid_credentials');
  expectStatus(await login(user.email, PASSWORD), 200);
  for (let i = 0; i < 3; i++) expectError(await login(user.email, 'a wrong password'), 401, 'invalid_credentials');
  expectRetryAfter(await login(user.email, 'a wrong password'));
});

test('API keys: at a user limit of 5, four keys of one user get at most 5 requests through in total', async () => {
  await configure();
  const u = await createUser();
  const keys = [];
  for (let i = 0; i < 4; i++) {
    const res = await api('POST', '/rpc/create_api_key', { token: u.token, body: { name: `key ${i}` } });
    expectStatus(res, 201);
    keys.push(res.body.key);
  }
  await configure({ 'task_api.rate_limit_user': '1', 'task_api.rate_limit_user_burst': '5' });
  const statuses = [];
  for (let round = 0; round < 5; round++) {
    for (const key of keys) statuses.push((await api('GET', '/projects', { token: key })).status);
  }
  assert.equal(statuses.filter((s) => s === 200).length, 5, `statuses: ${statuses}`);
  assert.equal(statuses.filter((s) => s === 429).length, 15, `statuses: ${statuses}`);
  // And the user's own token finds the bucket empty too.
  expectRetryAfter(await api('GET', '/projects', { token: u.token }));
});

// ERROR lines in the server log so far (read by the superuser).
async function errorLines() {
  const path = `${process.env.TASK_API_CLUSTER_DIR}/postgres.log`;
  return Number(await psql(
    "SELECT count(*) FROM regexp_split_to_table(pg_read_file(:'path'), E'\\n') AS l WHERE l LIKE '%ERROR:%'", { path }));
}

async function refusalsNotLogged() {
  const out = await psql("SELECT (task_api.status() -> 'refusals_not_logged' ->> '401') || ' ' || (task_api.status() -> 'refusals_not_logged' ->> '429')");
  const [u, r] = out.split(' ').map(Number);
  return { 401: u, 429: r };
}

test('log: 200 refused requests (429 and 401) do not write 200 ERROR lines; they are counted; a real error still logs', async () => {
  await configure();
  const u = await createUser();
  await configure({ 'task_api.rate_limit_user': '1', 'task_api.rate_limit_user_burst': '1' });
  expectStatus(await api('GET', '/projects', { token: u.token }), 200);
  const before = await errorLines();
  const counted = await refusalsNotLogged();
  for (let i = 0; i < 100; i++) {
    expectError(await api('GET', '/projects', { token: u.token }), 429, 'rate_limited');
    expectError(await api('GET', '/projects', { headers: { Cookie: '__Host-task_api_session=forged' } }), 401, 'unauthenticated');
  }
  const grown = (await errorLines()) - before;
  assert.ok(grown < 10, `the log grew by ${grown} ERROR lines for 200 refusals`);
  const now = await refusalsNotLogged();
  assert.ok(now[429] - counted[429] >= 100, `429s counted: ${now[429] - counted[429]}`);
  assert.ok(now[401] - counted[401] >= 100, `401s counted: ${now[401] - counted[401]}`);
  // The measure can see them: with task_api.log_expected_refusals on, each
  // refusal is an ERROR line again.
  await configure({ 'task_api.rate_limit_user': '1', 'task_api.rate_limit_user_burst': '1', 'task_api.log_expected_refusals': 'on' });
  expectStatus(await api('GET', '/projects', { token: u.token }), 200);
  const loud = await errorLines();
  for (let i = 0; i < 20; i++) expectError(await api('GET', '/projects', { token: u.token }), 429, 'rate_limited');
  let louder = loud;
  for (let i = 0; i < 50 && louder - loud < 20; i++) {
    louder = await errorLines();
    if (louder - loud < 20) await sleep(100);
  }
  assert.ok(louder - loud >= 20, `logged when asked: ${louder - loud} ERROR lines for 20 refusals`);
  // A real error (not a refusal the API means) is still logged.
  await configure();
  const marker = `no_such_column_${Date.now()}`;
  const bad = await api('GET', `/projects?select=${marker}`, { token: u.token });
  assert.ok(bad.status >= 400, show(bad));
  const path = `${process.env.TASK_API_CLUSTER_DIR}/postgres.log`;
  let logged = '0';
  for (let i = 0; i < 50 && logged === '0'; i++) {
    logged = await psql("SELECT count(*) FROM regexp_split_to_table(pg_read_file(:'path'), E'\\n') AS l WHERE l LIKE '%ERROR:%' AND l LIKE '%' || :'marker' || '%'",
      { path, marker });
    if (logged === '0') await sleep(100);
  }
  assert.notEqual(logged, '0', 'the real error is in the server log');
});

// A psql session holding a row lock until release() (a test-only way to
// make a request slow: it waits for the lock).
async function holdRowLock(table, id) {
  const args = ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', process.env.TASK_API_PGHOST, '-p', process.env.TASK_API_PGPORT,
    '-U', 'postgres', '-d', process.env.TASK_API_PGDATABASE];
  const child = spawn(process.env.TASK_API_PSQL, args, {
    stdio: ['pipe', 'ignore', 'inherit'], env: { ...process.env, PGAPPNAME: 'limits-lock-holder' },
  });
  assert.match(id, /^[0-9a-f-]{36}$/);
  assert.match(table, /^task_api\.[a-z_]+$/);
  lockHolders.add(child);
  child.on('close', () => lockHolders.delete(child));
  child.stdin.write(`BEGIN; SELECT 1 FROM ${table} WHERE id = '${id}' FOR UPDATE;\n`);
  await waitFor("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'limits-lock-holder' AND state = 'idle in transaction'", '1');
  return {
    release: () => new Promise((resolve) => {
      child.on('close', resolve);
      child.stdin.end('COMMIT;\n');
    }),
  };
}

async function waitFor(sql, expected, vars = {}) {
  let got;
  for (let i = 0; i < 200; i++) {
    got = await psql(sql, vars);
    if (got === expected) return;
    await sleep(50);
  }
  assert.fail(`${sql}: expected ${expected}, got ${got}`);
}

const LOCK_WAITERS = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database() AND application_name <> 'limits-lock-holder'";
const heldSlots = async () => Number(await psql("SELECT task_api.status() -> 'in_flight' ->> 'held'"));

// N PATCHes of the user's project, each waiting for the held row lock.
function slowRequests(token, projectId, n) {
  return Array.from({ length: n }, () =>
    api('PATCH', `/projects?id=eq.${projectId}`, { token, body: { name: uniqueName('slow') } }));
}

test('requests in flight: a user holding N slow requests is refused the N+1th (429, Retry-After: 1, also with an API key) while another user is served', async () => {
  await configure();
  const a = await createUser();
  const b = await createUser();
  const project = await createProject(a.token);
  const keyRes = await api('POST', '/rpc/create_api_key', { token: a.token, body: { name: 'k' } });
  expectStatus(keyRes, 201);
  await configure({ 'task_api.max_inflight_per_user': '3' });

  const lock = await holdRowLock('task_api.projects', project.id);
  const pending = slowRequests(a.token, project.id, 3);
  await waitFor(LOCK_WAITERS, '3');
  const refused = await api('GET', '/projects', { token: a.token });
  expectError(refused, 429, 'rate_limited');
  assert.equal(refused.headers.get('retry-after'), '1');
  assert.match(refused.body.details, /3 requests of one user/);
  expectError(await api('GET', '/projects', { token: keyRes.body.key }), 429, 'rate_limited');
  expectError(await api('GET', '/projects', { headers: { Cookie: `__Host-task_api_session=${a.token}` } }), 429, 'rate_limited');
  // Another user is served meanwhile.
  expectStatus(await api('GET', '/projects', { token: b.token }), 200);

  await lock.release();
  for (const res of await Promise.all(pending)) expectStatus(res, 204);
  await waitFor("SELECT task_api.status() -> 'in_flight' ->> 'held'", '0');
  expectStatus(await api('GET', '/projects', { token: a.token }), 200);
});

test('requests in flight: slots come back after errors, cancels and terminated backends (no leak)', async () => {
  await configure();
  const a = await createUser();
  const project = await createProject(a.token);
  await configure({ 'task_api.max_inflight_per_user': '2' });

  // Many requests that fail (aborted transactions).
  for (let i = 0; i < 40; i++) {
    expectError(await api('POST', '/tasks', { token: a.token, body: { project_id: project.id, title: ' ' } }), 422, 'validation_failed');
  }
  // Two slow requests, one cancelled (as statement_timeout would) and one
  // whose backend is terminated.
  let lock = await holdRowLock('task_api.projects', project.id);
  const pending = slowRequests(a.token, project.id, 2);
  await waitFor(LOCK_WAITERS, '2');
  expectError(await api('GET', '/projects', { token: a.token }), 429, 'rate_limited');
  await psql(`SELECT pg_cancel_backend(pid) FROM (${LOCK_WAITERS.replace('count(*)', 'pid')} ORDER BY pid LIMIT 1) w`);
  await waitFor(LOCK_WAITERS, '1');
  await psql(`SELECT pg_terminate_backend(pid) FROM (${LOCK_WAITERS.replace('count(*)', 'pid')}) w`);
  await waitFor(LOCK_WAITERS, '0');
  for (const res of await Promise.all(pending)) assert.ok(res.status >= 400, `an interrupted request: ${show(res)}`);
  await lock.release();
  await waitFor("SELECT task_api.status() -> 'in_flight' ->> 'held'", '0');
  assert.equal(await heldSlots(), 0);

  // The user still has both slots.
  lock = await holdRowLock('task_api.projects', project.id);
  const again = slowRequests(a.token, project.id, 2);
  await waitFor(LOCK_WAITERS, '2');
  expectError(await api('GET', '/projects', { token: a.token }), 429, 'rate_limited');
  await lock.release();
  for (const res of await Promise.all(again)) expectStatus(res, 204);
  // 0 turns the cap off.
  await configure({ 'task_api.max_inflight_per_user': '0' });
  expectStatus(await api('GET', '/projects', { token: a.token }), 200);
});
