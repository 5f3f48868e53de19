// Monitoring through the real PostgREST (docs/operations.md#monitoring):
// GET /rpc/metrics for the scraper's token only, parsed by a Prometheus
// text-format parser, and every counter moving by exactly what each event
// adds; one request id from the request to the answer, the server log and
// the event row; query plans for operators only.
//
// The counters are the server's, so this file runs alone (scripts/test.sh):
// nothing else moves them between two scrapes.  It changes limits and log
// settings by ALTER SYSTEM and restores them in `after`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import {
  api, psql, show, createUser, createProject, createTask, expectError, expectStatus, mintJwt, uniqueEmail, JWT_SECRET, consumerAtEnd, onCitus,
} from './lib.mjs';
import { PASSWORD, cookieHeader, signup } from './session_lib.mjs';

// What a Prometheus 2.x server sends.
const PROMETHEUS_ACCEPT = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,' +
  'text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const SETTINGS = ['task_api.rate_limit_anon', 'task_api.rate_limit_user', 'task_api.rate_limit_api_key',
  'task_api.rate_limit_login', 'task_api.rate_limit_anon_burst', 'task_api.rate_limit_user_burst',
  'task_api.rate_limit_api_key_burst', 'task_api.rate_limit_login_burst', 'task_api.login_max_failures',
  'task_api.login_backoff', 'log_min_duration_statement', 'task_api.max_inflight_per_user', 'task_api.idempotency_wait'];
let saved;
let scraper;

// Settings by ALTER SYSTEM and a reload, waiting until a new connection sees them.
async function setAll(wanted) {
  let sql = '';
  for (const [name, value] of Object.entries(wanted)) {
    assert.match(name, /^[a-z_.]+$/);
    assert.match(String(value), /^-?[a-z0-9]+$/);
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
  scraper = await psql("SELECT task_api.metrics_token('1 hour')");
});

after(async () => {
  await setAll(saved);
  await psql('SELECT task_api.rate_limit_reset()');
});

// GET /rpc/metrics as Prometheus does; the samples by "family{labels}".
async function scrape() {
  const res = await api('GET', '/rpc/metrics', { token: scraper, headers: { Accept: PROMETHEUS_ACCEPT } });
  expectStatus(res, 200);
  const samples = {};
  for (const family of parsePrometheusTextFormat(res.text)) {
    for (const m of family.metrics) {
      const labels = Object.entries(m.labels ?? {}).map(([k, v]) => `${k}="${v}"`).join(',');
      samples[`${family.name}{${labels}}`] = Number(m.value);
    }
  }
  return samples;
}

// What `action` moves: every sample's change between two scrapes (the
// second scrape counts itself as one request of the scraper's kind).
async function moves(action) {
  const first = await scrape();
  await action();
  const second = await scrape();
  const delta = {};
  for (const [k, v] of Object.entries(second)) if (v !== (first[k] ?? 0)) delta[k] = v - (first[k] ?? 0);
  return delta;
}

// Assert the exact moves of the counters (requests and the scraper's own
// request aside, unless named).
function expectMoves(delta, expected, { requests = false } = {}) {
  const got = Object.fromEntries(Object.entries(delta).filter(([k]) =>
    (requests || !k.startsWith('task_api_requests_total')) && !k.startsWith('task_api_rate_limit_buckets') &&
    !k.startsWith('task_api_event_consumer_')));
  assert.deepEqual(got, expected);
}

test('GET /rpc/metrics answers the scraper role in the Prometheus text format, with HELP and TYPE', async () => {
  const res = await api('GET', '/rpc/metrics', { token: scraper, headers: { Accept: PROMETHEUS_ACCEPT } });
  expectStatus(res, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain/, 'Prometheus reads text/plain as its text format 0.0.4');
  assert.match(res.text, /^# HELP task_api_[a-z_]+ .+\n# TYPE task_api_[a-z_]+ (counter|gauge)\n/);
  const families = parsePrometheusTextFormat(res.text);
  const names = families.map((f) => f.name);
  for (const name of ['task_api_requests_total', 'task_api_rate_limit_refusals_total', 'task_api_rate_limit_evictions_total',
    'task_api_auth_failures_total', 'task_api_logins_total', 'task_api_idempotency_total', 'task_api_events_total',
    'task_api_rate_limit_buckets']) assert.ok(names.includes(name), `${name} is served: ${names}`);
  for (const f of families) assert.ok(f.help && ['COUNTER', 'GAUGE'].includes(f.type), `${f.name} has help and a type`);
  const buckets = families.find((f) => f.name === 'task_api_rate_limit_buckets').metrics;
  assert.equal(Number(buckets.find((m) => m.labels.state === 'capacity').value),
    Number(await psql("SELECT current_setting('task_api.rate_limit_buckets')")), 'the table\'s capacity');
  assert.ok(Number(buckets.find((m) => m.labels.state === 'in_use').value) >= 1, 'buckets in use');
  const plain = await api('GET', '/rpc/metrics', { token: scraper, headers: { Accept: 'text/plain' } });
  assert.equal(plain.status, 200, show(plain));
  assert.match(plain.headers.get('content-type'), /^text\/plain/);
});

test('GET /rpc/metrics refuses anonymous callers (401) and ordinary users (403)', async () => {
  const anon = await api('GET', '/rpc/metrics', { headers: { Accept: 'text/plain' } });
  expectError(anon, 401);
  const user = await createUser();
  expectError(await api('GET', '/rpc/metrics', { token: user.token, headers: { Accept: 'text/plain' } }), 403);
  // The scraper's token opens nothing else.
  expectError(await api('GET', '/tasks', { token: scraper }), 403);
});

test('a revoked scraper token is refused at its next scrape (401); a new one works', async () => {
  const token = await psql("SELECT task_api.metrics_token('1 hour')");
  const accept = { Accept: 'text/plain' };
  expectStatus(await api('GET', '/rpc/metrics', { token, headers: accept }), 200);
  const revoked = await psql(`SELECT task_api.revoke_metrics_token(((task_api.jwt_verify('${token}')).claims ->> 'jti')::uuid)`);
  assert.equal(revoked, 't');
  expectError(await api('GET', '/rpc/metrics', { token, headers: accept }), 401, 'unauthenticated');
  // The other scraper token is untouched.
  expectStatus(await api('GET', '/rpc/metrics', { token: scraper, headers: accept }), 200);
});

test('requests are counted by the credential they carry', async () => {
  const u = await signup();
  const key = (await api('POST', '/rpc/create_api_key', { token: u.token, body: { name: 'metrics' } })).body.key;
  assert.ok(key, 'an API key');
  const delta = await moves(async () => {
    expectStatus(await api('GET', '/tasks', { token: u.token }), 200);
    expectStatus(await api('GET', '/tasks', { token: key }), 200);
    expectStatus(await u.jar.request('GET', '/tasks'), 200);
    expectError(await api('GET', '/tasks'), 401);
  });
  expectMoves(delta, {
    'task_api_requests_total{credential="session"}': 1, 'task_api_requests_total{credential="api_key"}': 1,
    'task_api_requests_total{credential="cookie"}': 1, 'task_api_requests_total{credential="anonymous"}': 1,
    'task_api_requests_total{credential="service"}': 1,
  }, { requests: true });
});

test('authentication failures are counted by reason', async () => {
  const u = await signup();
  const other = await signup();
  const [, payload] = u.token.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url'));
  const cookie = u.jar.get('__Host-task_api_session');
  const sig = cookie.split('.')[2];
  const badSig = `${cookie.split('.').slice(0, 2).join('.')}.${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`;
  const delta = await moves(async () => {
    // revoked: a signed-out session
    expectStatus(await api('POST', '/rpc/logout', { token: other.token }), 204);
    expectError(await api('GET', '/tasks', { token: other.token }), 401, 'unauthenticated');
    // expired: a session past its expires_at
    const late = await signup();
    await psql("UPDATE task_api.sessions SET expires_at = now() - interval '1 minute' WHERE id = :'j'", { j: late.claims.jti });
    expectError(await api('GET', '/tasks', { token: late.token }), 401, 'unauthenticated');
    // bad signature: a session cookie whose MAC was altered
    expectError(await api('GET', '/tasks', { headers: { Cookie: cookieHeader(badSig) } }), 401, 'unauthenticated');
    // malformed: a token of no session nor API key
    const loose = mintJwt(JWT_SECRET, { sub: claims.sub, role: 'task_api_user', exp: claims.exp });
    expectError(await api('GET', '/tasks', { token: loose }), 401, 'unauthenticated');
    // unknown user
    const ghost = mintJwt(JWT_SECRET, { sub: randomUUID(), role: 'task_api_user', jti: randomUUID(), exp: claims.exp });
    expectError(await api('GET', '/tasks', { token: ghost }), 401, 'unauthenticated');
    // CSRF: a cookie write without X-CSRF-Token
    expectError(await u.jar.request('POST', '/projects', { body: { name: 'no csrf' } }), 403, 'csrf_failed');
    // a query plan asked for by an ordinary user
    expectError(await api('GET', '/tasks', { token: u.token, headers: { Accept: 'application/vnd.pgrst.plan+json' } }),
      403, 'forbidden');
  });
  expectMoves(delta, {
    'task_api_auth_failures_total{reason="revoked"}': 1, 'task_api_auth_failures_total{reason="expired"}': 1,
    'task_api_auth_failures_total{reason="bad_signature"}': 1, 'task_api_auth_failures_total{reason="malformed"}': 1,
    'task_api_auth_failures_total{reason="unknown_user"}': 1, 'task_api_auth_failures_total{reason="csrf"}': 1,
    'task_api_auth_failures_total{reason="plan_not_allowed"}': 1,
  });
});

test('logins are counted: succeeded, failed, throttled', async () => {
  const u = await signup();
  await setAll({ 'task_api.login_max_failures': '1', 'task_api.login_backoff': '30s' });
  try {
    const delta = await moves(async () => {
      expectStatus(await api('POST', '/rpc/login', { body: { email: u.email, password: PASSWORD } }), 200);
      expectError(await api('POST', '/rpc/login', { body: { email: u.email, password: 'wrong password!' } }), 401);
      // Past task_api.login_max_failures (1): the email backs off.
      expectError(await api('POST', '/rpc/login', { body: { email: u.email, password: PASSWORD } }), 429, 'rate_limited');
    });
    expectMoves(delta, {
      'task_api_logins_total{outcome="succeeded"}': 1, 'task_api_logins_total{outcome="failed"}': 1,
      'task_api_logins_total{outcome="throttled"}': 1,
    });
  } finally {
    await setAll({ 'task_api.login_max_failures': saved['task_api.login_max_failures'],
      'task_api.login_backoff': saved['task_api.login_backoff'] });
    await psql('SELECT task_api.login_throttle_reset(NULL)');
  }
});

test('rate-limit refusals are counted per kind of bucket', async () => {
  const u = await createUser();
  const keyOwner = await signup();
  const key = (await api('POST', '/rpc/create_api_key', { token: keyOwner.token, body: { name: 'limited' } })).body.key;
  const first = await scrape();
  // One request a minute for every kind.
  await setAll({ 'task_api.rate_limit_anon': '1', 'task_api.rate_limit_user': '1', 'task_api.rate_limit_api_key': '1',
    'task_api.rate_limit_login': '1' });
  try {
    await psql('SELECT task_api.rate_limit_reset()');
    // The scraper is never charged: it sees a flood of anonymous requests.
    await scrape();
    await scrape();
    for (let i = 0; i < 2; i++) {
      await api('GET', '/tasks');
      await api('GET', '/tasks', { token: u.token });
      await api('GET', '/tasks', { token: key });
      await api('POST', '/rpc/login', { body: { email: uniqueEmail(), password: PASSWORD } });
    }
  } finally {
    await setAll(Object.fromEntries(['anon', 'user', 'api_key', 'login'].map((k) =>
      [`task_api.rate_limit_${k}`, saved[`task_api.rate_limit_${k}`]])));
  }
  const second = await scrape();
  for (const kind of ['anon', 'user', 'api_key', 'login']) {
    const name = `task_api_rate_limit_refusals_total{kind="${kind}"}`;
    assert.equal(second[name] - first[name], 1, `${name}: one refusal`);
  }
});

// A psql session holding a row lock until release(): a request that needs
// the row waits, so it is still in flight while the next one arrives.
async function holdRowLock(projectId) {
  const child = spawn(process.env.TASK_API_PSQL, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', process.env.TASK_API_PGHOST,
    '-p', process.env.TASK_API_PGPORT, '-U', 'postgres', '-d', process.env.TASK_API_PGDATABASE, '-v', `id=${projectId}`],
  { stdio: ['pipe', 'ignore', 'inherit'], env: { ...process.env, PGAPPNAME: 'monitoring-lock-holder' } });
  child.stdin.write("BEGIN;\nSELECT 1 FROM task_api.projects WHERE id = :'id' FOR UPDATE;\n");
  await waitUntil("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'monitoring-lock-holder' AND state = 'idle in transaction'");
  return () => new Promise((resolve) => {
    child.on('close', resolve);
    child.stdin.end('COMMIT;\n');
  });
}

// Wait until a count query answers 1 or more.
async function waitUntil(sql) {
  for (let i = 0; i < 200; i++) {
    if (Number(await psql(sql)) >= 1) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`never true: ${sql}`);
}
const LOCK_WAITER = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()";
// On Citus the row lock is taken on the worker that holds the project's
// shard, so the request waits there: citus_stat_activity shows every node's
// backends (docs/scaling.md, "Events").
const CITUS_LOCK_WAITER = "SELECT count(*) FROM citus_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()";
const lockWaiter = async () => ((await onCitus()) ? CITUS_LOCK_WAITER : LOCK_WAITER);

test('refusals at the in-flight cap and idempotency_in_progress are counted', { timeout: 60000 }, async () => {
  const u = await createUser();
  const project = await createProject(u.token);
  const patch = (headers = {}) => api('PATCH', `/projects?id=eq.${project.id}`, { token: u.token, body: { name: `n ${randomUUID()}` }, headers });
  const inflight = await moves(async () => {
    await setAll({ 'task_api.max_inflight_per_user': '1' });
    const release = await holdRowLock(project.id);
    let slow;
    try {
      slow = patch();
      await waitUntil(await lockWaiter());
      expectError(await api('GET', '/tasks', { token: u.token }), 429, 'rate_limited');
    } finally {
      await release();
      await setAll({ 'task_api.max_inflight_per_user': saved['task_api.max_inflight_per_user'] });
    }
    expectStatus(await slow, 204);
  });
  expectMoves(inflight, { 'task_api_rate_limit_refusals_total{kind="inflight"}': 1, 'task_api_events_total{stage="recorded"}': 1 });
  const key = randomUUID();
  const waiting = await moves(async () => {
    await setAll({ 'task_api.idempotency_wait': '100ms' });
    const release = await holdRowLock(project.id);
    let first;
    try {
      first = patch({ 'Idempotency-Key': key });
      await waitUntil(await lockWaiter());
      expectError(await patch({ 'Idempotency-Key': key }), 409, 'idempotency_in_progress');
    } finally {
      await release();
      await setAll({ 'task_api.idempotency_wait': saved['task_api.idempotency_wait'] });
    }
    expectStatus(await first, 204);
  });
  expectMoves(waiting, { 'task_api_idempotency_total{outcome="in_progress"}': 1, 'task_api_events_total{stage="recorded"}': 1 });
});

test('idempotency outcomes and events are counted; consumer lag is shown', async () => {
  const u = await createUser();
  const project = await createProject(u.token);
  const consumer = `metrics-${randomUUID()}`;
  await consumerAtEnd(consumer);
  const key = randomUUID();
  const body = { project_id: project.id, title: 'once' };
  const delta = await moves(async () => {
    expectStatus(await api('POST', '/tasks', { token: u.token, body, headers: { 'Idempotency-Key': key } }), 201);
    const replay = await api('POST', '/tasks', { token: u.token, body, headers: { 'Idempotency-Key': key } });
    expectStatus(replay, 201);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    expectError(await api('POST', '/tasks', { token: u.token, body: { ...body, title: 'other' }, headers: { 'Idempotency-Key': key } }),
      422, 'idempotency_key_reused');
  });
  expectMoves(delta, {
    'task_api_idempotency_total{outcome="replayed"}': 1, 'task_api_idempotency_total{outcome="key_reused"}': 1,
    'task_api_events_total{stage="recorded"}': 1,
  });
  const label = `{consumer="${consumer}"}`;
  const lagging = await scrape();
  assert.equal(lagging[`task_api_event_consumer_backlog${label}`], 1, 'one event waits for the consumer');
  assert.ok(lagging[`task_api_event_consumer_oldest_unacked_age_seconds${label}`] >= 0);
  const claimed = await moves(async () => {
    await psql(`BEGIN;
      SELECT count(*) FROM task_api.claim_events(:'c', 100);
      SELECT task_api.ack_events(:'c', (SELECT claimed_id FROM task_api.event_consumers WHERE name = :'c'));
      COMMIT;`, { c: consumer });
  });
  expectMoves(claimed, { 'task_api_events_total{stage="claimed"}': 1, 'task_api_events_total{stage="acknowledged"}': 1 });
  const caughtUp = await scrape();
  assert.equal(caughtUp[`task_api_event_consumer_backlog${label}`], 0, 'the consumer caught up');
  assert.equal(caughtUp[`task_api_event_consumer_oldest_unacked_age_seconds${label}`], 0);
});

test('one request id: X-Request-Id, traceparent or a new one, once in every answer, errors included', async () => {
  const u = await createUser();
  const plain = await api('GET', '/tasks', { token: u.token });
  assert.match(plain.headers.get('x-request-id'), /^[0-9a-f]{32}$/, 'a new id when the client sends none');
  const again = await api('GET', '/tasks', { token: u.token });
  assert.notEqual(again.headers.get('x-request-id'), plain.headers.get('x-request-id'), 'a new id for each request');
  const given = await api('GET', '/tasks', { token: u.token, headers: { 'X-Request-Id': 'req-42.a:b_c' } });
  assert.equal(given.headers.get('x-request-id'), 'req-42.a:b_c', 'the client\'s X-Request-Id, once (fetch joins repeats with ", ")');
  const traced = await api('GET', '/tasks', { token: u.token, headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } });
  assert.equal(traced.headers.get('x-request-id'), '4bf92f3577b34da6a3ce929d0e0e4736', 'the trace id of traceparent');
  const bad = await api('GET', '/tasks', { token: u.token, headers: { 'X-Request-Id': 'no spaces allowed', traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' } });
  assert.match(bad.headers.get('x-request-id'), /^[0-9a-f]{32}$/, 'an unusable id or traceparent is replaced by a new id');
  const gone = await createUser();
  expectStatus(await api('POST', '/rpc/logout', { token: gone.token }), 204);
  const refused = await api('GET', '/tasks', { token: gone.token, headers: { 'X-Request-Id': 'refused-1' } });
  expectError(refused, 401, 'unauthenticated');
  assert.equal(refused.headers.get('x-request-id'), 'refused-1', 'a refusal carries the id too');
  const csrf = await (await signup()).jar.request('POST', '/projects', { body: { name: 'x' }, headers: { 'X-Request-Id': 'refused-2' } });
  expectError(csrf, 403, 'csrf_failed');
  assert.equal(csrf.headers.get('x-request-id'), 'refused-2');
});

test('the request id is in the server log lines of the request and in the events it writes', async () => {
  const u = await createUser();
  const project = await createProject(u.token);
  const id = `log-${randomUUID()}`;
  await setAll({ log_min_duration_statement: '0' });
  let res;
  try {
    res = await api('POST', '/tasks', { token: u.token, body: { project_id: project.id, title: 'logged' },
      headers: { 'X-Request-Id': id, Prefer: 'return=representation' } });
  } finally {
    await setAll({ log_min_duration_statement: saved.log_min_duration_statement });
  }
  expectStatus(res, 201);
  assert.equal(res.headers.get('x-request-id'), id);
  // log_line_prefix '%m [%p] %q%a ': the id is the application_name of the request's statements.
  const lines = await psql(`SELECT count(*) FROM pg_catalog.regexp_split_to_table(pg_catalog.pg_read_file(:'log'), E'\\n') l
                             WHERE l LIKE '%] ' || :'id' || ' %'`, { log: `${process.env.TASK_API_CLUSTER_DIR}/postgres.log`, id });
  assert.ok(Number(lines) >= 1, `the server log has the request's lines under its id (${lines})`);
  const feed = await api('GET', `/task_events?resource_id=eq.${res.body[0].id}&select=request_id`, { token: u.token });
  expectStatus(feed, 200);
  assert.deepEqual(feed.body, [{ request_id: id }], 'the activity feed shows the request id of the change');
});

test('query plans are answered to an operator\'s token only', async () => {
  const u = await createUser();
  await createTask(u.token, (await createProject(u.token)).id);
  const planAccept = { Accept: 'application/vnd.pgrst.plan+json' };
  expectError(await api('GET', '/tasks', { headers: planAccept }), 401, 'unauthenticated');
  expectError(await api('GET', '/tasks', { token: u.token, headers: planAccept }), 403, 'forbidden');
  expectError(await api('GET', '/tasks', { token: u.token, headers: { Accept: 'application/vnd.pgrst.plan+text; options=analyze' } }),
    403, 'forbidden');
  const operator = JSON.parse(await psql("SELECT task_api.operator_session(:'u')", { u: u.id })).token;
  const plan = await api('GET', '/tasks', { token: operator, headers: planAccept });
  expectStatus(plan, 200);
  assert.match(plan.headers.get('content-type'), /^application\/vnd\.pgrst\.plan\+json/);
  assert.ok(Array.isArray(plan.body) && plan.body[0].Plan, `a JSON plan: ${show(plan)}`);
  // The same token is an ordinary session otherwise.
  const rows = await api('GET', '/tasks', { token: operator });
  expectStatus(rows, 200);
  assert.equal(rows.body.length, 1);
});
