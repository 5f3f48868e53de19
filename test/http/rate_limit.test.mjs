// Rate limiting (docs/contract.md §7) through the real PostgREST: the RateLimit headers
// on successes and errors, 429 with Retry-After on GET and POST, buckets per
// user, per API key, per client address (only when X-Forwarded-For is
// trusted) and one shared anonymous bucket, and limits changed by a reload.
//
// The file changes the cluster's limits (ALTER SYSTEM + reload), so
// scripts/test.sh runs it alone, after the other HTTP files; it restores the
// limits it found when it ends.  Each test sets the limits it needs and
// forgets every bucket first, so the tests do not depend on each other.
//
// Tests that count a bucket down request by request use a limit of 1 a
// minute with a burst of N: the bucket holds N and refills one request a
// minute, so the exact remaining counts cannot shift when the machine is
// slow (a limit of N a minute refills every 60/N s, within the test).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  api, psql, show, createUser, createProject, expectError, expectStatus, REPRESENTATION, uniqueName,
} from './lib.mjs';
import { PASSWORD, decodeJwt, loginRaw, setCookieLines, signup } from './session_lib.mjs';

const KINDS = ['anon', 'user', 'api_key', 'login'];
const SETTINGS = [...KINDS.map((k) => `task_api.rate_limit_${k}`), ...KINDS.map((k) => `task_api.rate_limit_${k}_burst`),
  'task_api.trust_forwarded_for'];
let saved;

// Change settings by ALTER SYSTEM and a reload; wait until a new connection
// sees them (the postmaster has then signalled every backend, and each
// rereads the configuration before its next command); forget all buckets.
async function configure(values) {
  const wanted = {
    'task_api.rate_limit_anon': '100000000', 'task_api.rate_limit_user': '100000000',
    'task_api.rate_limit_api_key': '100000000', 'task_api.rate_limit_login': '100000000',
    'task_api.rate_limit_anon_burst': '0', 'task_api.rate_limit_login_burst': '0',
    'task_api.rate_limit_user_burst': '0', 'task_api.rate_limit_api_key_burst': '0',
    'task_api.trust_forwarded_for': 'off', ...values,
  };
  await setAll(wanted);
  assert.equal(await psql('SELECT task_api.rate_limit_reset() >= 0'), 't');
}

async function setAll(wanted) {
  let sql = '';
  for (const [name, value] of Object.entries(wanted)) {
    assert.match(name, /^task_api\.[a-z_]+$/);
    assert.match(String(value), /^[a-z0-9]+$/);
    sql += `ALTER SYSTEM SET ${name} = '${value}';\n`;
  }
  await psql(sql + 'SELECT pg_reload_conf();');
  const check = Object.keys(wanted).map((n) => `current_setting('${n}')`).join(" || ',' || ");
  const expected = Object.values(wanted).join(',');
  for (let i = 0; i < 200; i++) {
    if (await psql(`SELECT ${check}`) === expected) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`the settings did not take effect: ${expected}`);
}

before(async () => {
  const out = await psql(`SELECT ${SETTINGS.map((n) => `current_setting('${n}')`).join(" || ',' || ")}`);
  saved = Object.fromEntries(out.split(',').map((v, i) => [SETTINGS[i], v]));
});

after(async () => {
  await setAll(saved);
  await psql('SELECT task_api.rate_limit_reset()');
});

// The two IETF fields of a response, parsed: {kind, q, w, r, t}.
function limits(res) {
  const policy = res.headers.get('ratelimit-policy');
  const state = res.headers.get('ratelimit');
  assert.ok(policy && state, `no RateLimit headers: ${show(res)} ${JSON.stringify([...res.headers])}`);
  const p = policy.match(/^"([a-z_]+)";q=(\d+);w=(\d+)$/);
  const s = state.match(/^"([a-z_]+)";r=(\d+);t=(\d+)$/);
  assert.ok(p, `RateLimit-Policy: ${policy}`);
  assert.ok(s, `RateLimit: ${state}`);
  assert.equal(p[1], s[1], 'both fields name the same policy');
  return { kind: p[1], q: Number(p[2]), w: Number(p[3]), r: Number(s[2]), t: Number(s[3]) };
}

// A signup refused by validation before any password hashing (422): the
// cheapest request charged to a login bucket.
const BAD_SIGNUP = { email: 'not-an-email', password: 'short' };
// An anonymous request that reaches the database: a forged session cookie,
// refused by pre_request() (401) after it was charged.
const anonRequest = (headers = {}) =>
  api('GET', '/projects', { headers: { Cookie: '__Host-task_api_session=not.a.jwt', ...headers } });

// t is the seconds until the bucket is full again: at most the time its
// burst - r spent requests take to refill at q a minute.
function expectLimits(res, kind, q, r, burst = q) {
  const l = limits(res);
  assert.deepEqual({ kind: l.kind, q: l.q, w: l.w, r: l.r }, { kind, q, w: 60, r }, show(res));
  const most = Math.ceil(((burst - r) * 60) / q);
  assert.ok(l.t >= 1 && l.t <= most, `t is the seconds until the bucket is full again: ${l.t}, not in 1..${most}`);
  return l;
}

// 429 rate_limited, r=0, and a Retry-After no longer than one emission
// interval and no longer than t.
function expectLimited(res, kind, q, maxRetry, burst = q) {
  expectError(res, 429, 'rate_limited');
  const l = expectLimits(res, kind, q, 0, burst);
  const retry = res.headers.get('retry-after');
  assert.match(retry ?? '', /^\d+$/, `Retry-After: ${show(res)}`);
  assert.ok(Number(retry) >= 1 && Number(retry) <= maxRetry, `Retry-After ${retry} not in 1..${maxRetry}`);
  assert.ok(Number(retry) <= l.t, `Retry-After ${retry} is within t=${l.t}`);
}

test('headers on GET, POST and errors raised later in the request; 429 with Retry-After on GET and POST, and the refused POST writes nothing', async () => {
  const u = await createUser();
  const project = await createProject(u.token); // before the limits change
  await configure({ 'task_api.rate_limit_user': '1', 'task_api.rate_limit_user_burst': '6' });

  const get = await api('GET', '/projects', { token: u.token });
  expectStatus(get, 200);
  expectLimits(get, 'user', 1, 5, 6);

  const post = await api('POST', '/projects', { token: u.token, body: { name: uniqueName() }, headers: REPRESENTATION });
  expectStatus(post, 201);
  expectLimits(post, 'user', 1, 4, 6);
  assert.ok(post.headers.get('etag'), 'other response headers are kept (ETag)');

  // Errors raised after pre_request() carry the headers too: 422, 412, 404.
  expectError(await api('POST', '/tasks', { token: u.token, body: { title: ' ' } }), 422, 'validation_failed');
  const invalid = await api('POST', '/tasks', { token: u.token, body: { title: ' ' } });
  expectError(invalid, 422, 'validation_failed');
  expectLimits(invalid, 'user', 1, 2, 6);
  const stale = await api('PATCH', `/projects?id=eq.${project.id}`, {
    token: u.token, body: { name: 'x' }, headers: { 'If-Match': '"99"' },
  });
  expectError(stale, 412, 'precondition_failed');
  expectLimits(stale, 'user', 1, 1, 6);
  const missing = await api('POST', '/rpc/restore_task', { token: u.token, body: { id: '01900000-0000-7000-8000-000000000000' } });
  expectError(missing, 404, 'not_found');
  expectLimits(missing, 'user', 1, 0, 6);

  // Empty: GET and POST are refused; 1 a minute is one every 60 s.
  expectLimited(await api('GET', '/projects', { token: u.token }), 'user', 1, 60, 6);
  const name = uniqueName('refused');
  expectLimited(await api('POST', '/projects', { token: u.token, body: { name } }), 'user', 1, 60, 6);
  assert.equal(await psql("SELECT count(*) FROM task_api.projects WHERE name = :'name'", { name }), '0',
    'the refused POST wrote nothing');
  // The bucket as operators see it.
  const status = await psql("SELECT remaining || ' ' || quota || ' ' || tracked FROM task_api.rate_limit_status('user', :'id')",
    { id: u.id });
  assert.equal(status, '0 1 true');
});

test('each user has a bucket of their own; a session cookie is charged to its user', async () => {
  await configure({ 'task_api.rate_limit_user': '1', 'task_api.rate_limit_user_burst': '3' });
  const a = await createUser();
  const b = await createUser();
  for (let r = 2; r >= 0; r--) expectLimits(await api('GET', '/projects', { token: a.token }), 'user', 1, r, 3);
  expectLimited(await api('GET', '/projects', { token: a.token }), 'user', 1, 60, 3);
  // B is untouched by A.
  const other = await api('GET', '/projects', { token: b.token });
  expectStatus(other, 200);
  expectLimits(other, 'user', 1, 2, 3);
  // A browser of B's (the same user by session cookie) shares B's bucket.
  const byCookie = await api('GET', '/projects', { headers: { Cookie: `__Host-task_api_session=${b.token}` } });
  expectStatus(byCookie, 200);
  expectLimits(byCookie, 'user', 1, 1, 3);
  // A's cookie is refused like A's bearer token.
  expectLimited(await api('GET', '/projects', { headers: { Cookie: `__Host-task_api_session=${a.token}` } }), 'user', 1, 60, 3);
});

test('each API key has its own bucket, and its requests also count against its user\'s bucket', async () => {
  await configure({});
  const u = await createUser();
  const keys = [];
  for (const name of ['one', 'two']) {
    const res = await api('POST', '/rpc/create_api_key', { token: u.token, body: { name } });
    expectStatus(res, 201);
    keys.push(res.body.key);
  }
  await configure({
    'task_api.rate_limit_api_key': '1', 'task_api.rate_limit_api_key_burst': '2',
    'task_api.rate_limit_user': '1', 'task_api.rate_limit_user_burst': '5',
  });
  const first = await api('GET', '/projects', { token: keys[0] });
  expectStatus(first, 200);
  expectLimits(first, 'api_key', 1, 1, 2);
  const post = await api('POST', '/projects', { token: keys[0], body: { name: uniqueName() } });
  expectStatus(post, 201);
  expectLimits(post, 'api_key', 1, 0, 2);
  expectLimited(await api('GET', '/projects', { token: keys[0] }), 'api_key', 1, 60, 2);
  expectLimited(await api('POST', '/projects', { token: keys[0], body: { name: uniqueName() } }), 'api_key', 1, 60, 2);
  // The other key has its own bucket; the user's bucket counted the two
  // requests key one made (not the two refused), and this one.
  expectLimits(await api('GET', '/projects', { token: keys[1] }), 'api_key', 1, 1, 2);
  expectLimits(await api('GET', '/projects', { token: u.token }), 'user', 1, 1, 5);
  expectLimits(await api('GET', '/projects', { token: u.token }), 'user', 1, 0, 5);
  // The user's bucket now holds nothing: key two, with a request left in its
  // own bucket, is refused by its user's (and its own charge is given back).
  expectLimited(await api('GET', '/projects', { token: keys[1] }), 'user', 1, 60, 5);
  assert.equal(await psql("SELECT remaining FROM task_api.rate_limit_status('api_key', :'id')", { id: decodeJwt(keys[1]).payload.key_id }), '1');
});

test('anonymous callers share one bucket, whatever X-Forwarded-For says while it is not trusted; bad cookies are charged to it; signup and login are not', async () => {
  await configure({ 'task_api.rate_limit_anon': '1', 'task_api.rate_limit_anon_burst': '4' });
  // pre_request() refuses a forged session cookie (401): charged as anonymous.
  const first = await anonRequest({ 'X-Forwarded-For': '203.0.113.1' });
  expectError(first, 401, 'unauthenticated');
  expectLimits(first, 'anon', 1, 3, 4);
  expectLimits(await anonRequest({ 'X-Forwarded-For': '203.0.113.2' }), 'anon', 1, 2, 4);
  expectLimits(await anonRequest(), 'anon', 1, 1, 4);
  expectLimits(await anonRequest(), 'anon', 1, 0, 4);
  expectLimited(await anonRequest({ 'X-Forwarded-For': '198.51.100.9' }), 'anon', 1, 60, 4);
  // Signup and login have a bucket of their own (issue 21): still served.
  const signup = await api('POST', '/rpc/signup', { body: BAD_SIGNUP });
  expectError(signup, 422, 'validation_failed');
  assert.equal(limits(signup).kind, 'login');
  expectError(await api('POST', '/rpc/login', { body: { email: 'x@example.test', password: 'x' } }), 401, 'invalid_credentials');
  // Users are not anonymous: their own buckets still admit them.
  const u = await createUser();
  expectStatus(await api('GET', '/projects', { token: u.token }), 200);
});

test('with task_api.trust_forwarded_for on, each client address (first hop) has a login bucket; garbage falls back to the shared one', async () => {
  await configure({ 'task_api.rate_limit_login': '1', 'task_api.rate_limit_login_burst': '2', 'task_api.trust_forwarded_for': 'on' });
  const from = (xff) => api('POST', '/rpc/signup', { body: BAD_SIGNUP, headers: { 'X-Forwarded-For': xff } });
  expectLimits(await from('203.0.113.7'), 'login', 1, 1, 2);
  // The first hop counts; a proxy chain after it does not.
  expectLimits(await from('203.0.113.7, 10.0.0.1'), 'login', 1, 0, 2);
  expectLimited(await from('203.0.113.7'), 'login', 1, 60, 2);
  // The same address written as IPv4-mapped IPv6 is the same client.
  expectLimited(await from('::ffff:203.0.113.7'), 'login', 1, 60, 2);
  // Another address has its own bucket; IPv6 clients are bucketed by /64.
  expectLimits(await from('203.0.113.8'), 'login', 1, 1, 2);
  expectLimits(await from('[2001:db8:1:2::1]:443'), 'login', 1, 1, 2);
  expectLimits(await from('2001:db8:1:2:ffff::9'), 'login', 1, 0, 2);
  expectLimits(await from('2001:db8:1:3::1'), 'login', 1, 1, 2);
  // Garbage and a missing header: the shared anonymous bucket.
  expectLimits(await from('not-an-address'), 'login', 1, 1, 2);
  expectLimits(await api('POST', '/rpc/signup', { body: BAD_SIGNUP }), 'login', 1, 0, 2);
  expectLimited(await from('unknown, 203.0.113.9'), 'login', 1, 60, 2);
  assert.equal(await psql("SELECT remaining || ' ' || tracked FROM task_api.rate_limit_status('login')"), '0 true');
  assert.equal(await psql("SELECT remaining FROM task_api.rate_limit_status('login', '203.0.113.7')"), '0');
  assert.equal(await psql("SELECT tracked FROM task_api.rate_limit_status('login', '203.0.113.9')"), 'f');
});

test('the RateLimit headers are merged with the other response headers: Set-Cookie on login, ETag on PATCH, Content-Range', async () => {
  await configure({});
  const s = await signup();
  const u = await createUser();
  const project = await createProject(u.token);
  await configure({
    'task_api.rate_limit_login': '1', 'task_api.rate_limit_login_burst': '5',
    'task_api.rate_limit_user': '1', 'task_api.rate_limit_user_burst': '5',
  });
  const login = await loginRaw({ email: s.email, password: PASSWORD });
  expectStatus(login, 200);
  expectLimits(login, 'login', 1, 4, 5);
  const cookies = setCookieLines(login).map((l) => l.split('=')[0]).sort();
  assert.deepEqual(cookies, ['__Host-task_api_csrf', '__Host-task_api_session'], 'both cookies are still set');
  const patched = await api('PATCH', `/projects?id=eq.${project.id}`, { token: u.token, body: { name: uniqueName() }, headers: REPRESENTATION });
  expectStatus(patched, 200);
  expectLimits(patched, 'user', 1, 4, 5);
  assert.match(patched.headers.get('etag') ?? '', /^"\d+"$/, 'the ETag is kept');
  const counted = await api('GET', '/projects?limit=1', { token: u.token, headers: { Prefer: 'count=exact' } });
  expectStatus(counted, 200);
  expectLimits(counted, 'user', 1, 3, 5);
  assert.match(counted.headers.get('content-range') ?? '', /^0-0\/\d+$/, 'PostgREST\'s own headers are kept');
});

test('X-Forwarded-For (trusted): spaces, ports, IPv6 forms, many hops and a huge header name the right bucket or fall back to the shared one', async () => {
  await configure({ 'task_api.rate_limit_anon': '1', 'task_api.rate_limit_anon_burst': '20', 'task_api.trust_forwarded_for': 'on' });
  // Anonymous requests (the login kind parses the header the same way: above).
  const remaining = async (xff) => {
    const res = await anonRequest({ 'X-Forwarded-For': xff });
    expectError(res, 401, 'unauthenticated');
    return limits(res).r;
  };
  // One client, written five ways: one bucket counting down.
  assert.deepEqual([
    await remaining('198.51.100.20'),
    await remaining('  198.51.100.20  ,10.0.0.1'),
    await remaining('198.51.100.20:65535, 10.0.0.1, 10.0.0.2'),
    await remaining(`198.51.100.20, ${Array.from({ length: 300 }, (_, i) => `10.0.${i >> 8}.${i & 255}`).join(', ')}`),
    await remaining('[::ffff:198.51.100.20]:8080'),
  ], [19, 18, 17, 16, 15]);
  // IPv6 by /64: the interface part and the notation do not matter.
  assert.deepEqual([
    await remaining('2001:DB8:0:7::1'),
    await remaining('[2001:db8::7:ffff:ffff:ffff:ffff]:443'),
    await remaining('2001:db8:0:7:0:0:0:2, 2001:db8:0:8::1'),
  ], [19, 18, 17]);
  // Not an address in the first hop: the shared anonymous bucket, whatever
  // follows (a port out of range, a zone, half a bracket, an empty hop,
  // a huge first hop).
  const shared = [
    '198.51.100.20:65536', '198.51.100.20:', 'fe80::1%eth0', '[2001:db8::1', ', 198.51.100.20',
    '198.51.100.20 198.51.100.21', `${'9'.repeat(6000)}, 198.51.100.20`, 'unknown',
  ];
  const got = [];
  for (const x of shared) got.push(await remaining(x));
  assert.deepEqual(got, shared.map((_, i) => 19 - i));
  assert.equal(await psql("SELECT remaining FROM task_api.rate_limit_status('anon')"), String(20 - shared.length));
  assert.equal(await psql("SELECT remaining FROM task_api.rate_limit_status('anon', '198.51.100.20')"), '15');
  assert.equal(await psql("SELECT remaining FROM task_api.rate_limit_status('anon', '2001:db8:0:7::ab')"), '17');
});

test('a changed limit takes effect on reload, without a restart; 0 turns a kind off', async () => {
  await configure({});
  const u = await createUser();
  await configure({ 'task_api.rate_limit_user': '1', 'task_api.rate_limit_user_burst': '2' });
  expectLimits(await api('GET', '/projects', { token: u.token }), 'user', 1, 1, 2);
  expectLimits(await api('GET', '/projects', { token: u.token }), 'user', 1, 0, 2);
  expectLimited(await api('GET', '/projects', { token: u.token }), 'user', 1, 60, 2);
  // Raised by a reload to 600000 a minute (0.1 ms each), burst 5: the bucket
  // keeps its state, empty under the new limit, and refills at the new rate.
  await setAll({ 'task_api.rate_limit_user': '600000', 'task_api.rate_limit_user_burst': '5' });
  const raised = await api('GET', '/projects', { token: u.token });
  expectLimited(raised, 'user', 600000, 1);
  await new Promise((r) => setTimeout(r, 20));
  const refilled = await api('GET', '/projects', { token: u.token });
  expectStatus(refilled, 200);
  assert.equal(limits(refilled).q, 600000);
  assert.equal(limits(refilled).r, 4, 'full again (burst 5) less this request');
  // Off: not charged, no headers.
  await setAll({ 'task_api.rate_limit_user': '0' });
  const off = await api('GET', '/projects', { token: u.token });
  expectStatus(off, 200);
  assert.equal(off.headers.get('ratelimit'), null);
  assert.equal(off.headers.get('ratelimit-policy'), null);
});
