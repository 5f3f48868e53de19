// The example relay (examples/relay) end to end: changes made through the
// real PostgREST reach a local webhook receiver in order, a delivery that
// fails is retried with backoff and nothing after it overtakes it, and a
// relay killed mid-batch loses nothing: the next one delivers the batch again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { api, psql, createTask, projectWithMembers, expectStatus, consumerAtEnd, consumerPosition } from './lib.mjs';

const RELAY_DIR = fileURLToPath(new URL('../../examples/relay/', import.meta.url));
const RELAY_ROLE = 'task_api_relay_test';
const RELAY_PASSWORD = randomBytes(18).toString('base64url');

let server;
let port;
const received = [];      // every request: {id, project_id, action, outcome}
let behaviour = () => 'ok'; // (event, attemptsSoFar) => 'ok' | 'fail' | 'hang'
const hung = [];
let onHang = null;
const relays = [];          // every relay started, killed at the end whatever happens

before(async () => {
  // The example's own dependencies, from its lockfile.
  await promisify(execFile)('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'],
    { cwd: RELAY_DIR, timeout: 180000 });
  // A login role with only task_api_relay's rights, and a password: over
  // the cluster's socket only the superuser logs in without one.
  await psql(`DO $$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${RELAY_ROLE}') THEN
        CREATE ROLE ${RELAY_ROLE} LOGIN;
      END IF;
    END $$;
    ALTER ROLE ${RELAY_ROLE} PASSWORD '${RELAY_PASSWORD}';
    GRANT task_api_relay TO ${RELAY_ROLE};`);
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const event = JSON.parse(body);
      assert.equal(req.headers['task-api-event-id'], String(event.id));
      const attempts = received.filter((r) => r.id === event.id).length;
      const outcome = behaviour(event, attempts);
      received.push({ id: event.id, project_id: event.project_id, action: event.action, outcome,
        requestId: req.headers['x-request-id'], traceparent: req.headers.traceparent });
      if (outcome === 'hang') {
        hung.push(res);
        if (onHang) onHang();
        return;
      }
      res.writeHead(outcome === 'ok' ? 204 : 503);
      res.end();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = server.address().port;
});

after(() => {
  for (const child of relays) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const res of hung) res.destroy();
  server?.close();
});

function startRelay(consumer, settings = {}) {
  const env = {
    ...process.env,
    PGHOST: process.env.TASK_API_PGHOST,
    PGPORT: process.env.TASK_API_PGPORT,
    PGDATABASE: process.env.TASK_API_PGDATABASE,
    PGUSER: RELAY_ROLE,
    PGPASSWORD: RELAY_PASSWORD,
    WEBHOOK_URL: `http://127.0.0.1:${port}/hook`,
    RELAY_CONSUMER: consumer,
    RELAY_BATCH: '3',
    // Far longer than the test: deliveries must be woken by NOTIFY.
    RELAY_POLL_MS: '600000',
    RELAY_BACKOFF_MS: '50',
    RELAY_BACKOFF_MAX_MS: '400',
    ...settings,
  };
  const child = spawn(process.execPath, ['relay.mjs'], { cwd: RELAY_DIR, env, stdio: ['ignore', 'ignore', 'pipe'] });
  relays.push(child);
  child.log = '';
  child.ready = new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      child.log += d;
      if (child.log.includes('"event":"listening"')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`relay exited (${code}) before listening: ${child.log}`)));
  });
  child.exited = new Promise((resolve) => child.on('exit', (code, sig) => resolve({ code, sig })));
  return child;
}

async function waitFor(what, predicate, ms = 30000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await predicate()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

// The project's event ids in the database, in order.
async function projectEventIds(projectId) {
  const out = await psql("SELECT string_agg(id::text, ',' ORDER BY id) FROM task_api.events WHERE project_id = :'p'", { p: projectId });
  return out === '' ? [] : out.split(',').map(Number);
}

test('the relay delivers every event in order, retries a failing delivery, and a killed relay loses nothing', { timeout: 120000 }, async () => {
  const consumer = `relay-test-${randomUUID()}`;
  // Start the consumer at the current end, so it relays what this test does
  // (and whatever other tests write meanwhile) rather than the whole history.
  await consumerAtEnd(consumer);

  let ours = null; // our project id, once known
  let failedId = null;
  let hangId = null;
  let seen = 0;
  behaviour = (event, attempts) => {
    if (event.project_id !== ours) return 'ok';
    if (attempts === 0) seen += 1;
    if (failedId === null && seen === 3) failedId = event.id;
    if (event.id === failedId && attempts < 2) return 'fail';
    if (hangId === null && seen === 6 && event.id !== failedId) hangId = event.id;
    if (event.id === hangId && attempts === 0) return 'hang';
    return 'ok';
  };

  // The project first; the relay starts with its first events as a backlog.
  const { owner, project } = await projectWithMembers(['editor']);
  ours = project.id;
  const hangSeen = new Promise((resolve, reject) => {
    onHang = resolve;
    setTimeout(() => reject(new Error(`the sixth event never came: ${JSON.stringify(received)}`)), 30000).unref();
  });
  let relay = startRelay(consumer);
  await relay.ready;
  const tasks = [];
  for (let i = 0; i < 4; i++) tasks.push(await createTask(owner.token, project.id, { title: `task ${i}` }));
  expectStatus(await api('PATCH', `/tasks?id=eq.${tasks[0].id}`, { token: owner.token, body: { status: 'done' } }), 204);
  expectStatus(await api('DELETE', `/tasks?id=eq.${tasks[1].id}`, { token: owner.token }), 204);

  // The sixth event of the project hangs: kill the relay mid-batch, start another.
  await hangSeen;
  relay.kill('SIGKILL');
  await relay.exited;
  for (const res of hung.splice(0)) res.destroy();
  relay = startRelay(consumer);
  await relay.ready;

  expectStatus(await api('PATCH', `/projects?id=eq.${project.id}`, { token: owner.token, body: { name: `renamed ${randomUUID()}` } }), 204);
  const expected = await projectEventIds(project.id);
  assert.ok(expected.length >= 9, `events of the project: ${expected}`);

  const delivered = () => new Set(received.filter((r) => r.project_id === ours && r.outcome === 'ok').map((r) => r.id));
  await waitFor(`delivery of ${expected}`, () => expected.every((id) => delivered().has(id)));
  relay.kill('SIGTERM');
  const { code } = await Promise.race([relay.exited, new Promise((resolve, reject) => {
    setTimeout(() => reject(new Error(`the relay did not stop within 10 s of SIGTERM: ${relay.log}`)), 10000).unref();
  })]);
  assert.equal(code, 0, `the relay stops cleanly on SIGTERM: ${relay.log}`);

  const mine = received.filter((r) => r.project_id === ours);
  // No loss and nothing foreign: exactly the project's events were delivered.
  assert.deepEqual([...delivered()].sort((a, b) => a - b), expected);
  // In order: successful first deliveries follow id order; a request for a
  // later event never came before the earlier event had been delivered.
  const firstOk = [];
  for (const r of mine) if (r.outcome === 'ok' && !firstOk.includes(r.id)) firstOk.push(r.id);
  assert.deepEqual(firstOk, expected, `first successful deliveries in id order: ${JSON.stringify(mine)}`);
  for (const [i, r] of mine.entries()) {
    const earlierUndelivered = expected.filter((id) => id < r.id && !mine.slice(0, i).some((p) => p.id === id && p.outcome === 'ok'));
    assert.deepEqual(earlierUndelivered, [], `event ${r.id} was sent before ${earlierUndelivered} had been delivered`);
  }
  // The failing delivery was retried (twice refused, then accepted).
  assert.deepEqual(mine.filter((r) => r.id === failedId).map((r) => r.outcome), ['fail', 'fail', 'ok']);
  // The event the killed relay was delivering came again from the new one.
  assert.deepEqual(mine.filter((r) => r.id === hangId).map((r) => r.outcome), ['hang', 'ok']);
  const position = await consumerPosition(consumer, expected.at(-1));
  assert.ok(position >= expected.at(-1), `the consumer acknowledged past the project's last event (${position})`);
});

// SIGTERM within `ms`, or fail; returns the exit code.
async function stopWithin(relay, ms) {
  relay.kill('SIGTERM');
  const started = Date.now();
  const { code } = await Promise.race([relay.exited, new Promise((resolve, reject) => {
    setTimeout(() => reject(new Error(`the relay did not stop within ${ms} ms of SIGTERM: ${relay.log}`)), ms).unref();
  })]);
  return { code, ms: Date.now() - started };
}

for (const [what, outcome, settings] of [
  ['waiting out a long backoff', 'fail', { RELAY_BACKOFF_MS: '60000', RELAY_BACKOFF_MAX_MS: '60000' }],
  ['waiting on a webhook that does not answer', 'hang', { RELAY_TIMEOUT_MS: '60000' }],
]) {
  test(`a relay ${what} stops at once on SIGTERM and acknowledges nothing it did not deliver`, { timeout: 60000 }, async () => {
    const consumer = `relay-stop-${randomUUID()}`;
    await consumerAtEnd(consumer);
    let ours = null;
    behaviour = (event) => (event.project_id === ours ? outcome : 'ok');
    const relay = startRelay(consumer, settings);
    await relay.ready;
    const { project } = await projectWithMembers();
    ours = project.id;
    const [first] = await projectEventIds(project.id);
    await waitFor(outcome === 'fail' ? 'a retry to be scheduled' : 'the webhook to be called',
      () => (outcome === 'fail' ? relay.log.includes('"event":"retrying"') : received.some((r) => r.project_id === ours)));
    const { code } = await stopWithin(relay, 5000);
    assert.equal(code, 0, `the relay stops cleanly: ${relay.log}`);
    for (const res of hung.splice(0)) res.destroy();
    const position = await consumerPosition(consumer, first);
    assert.ok(position < first, `event ${first} was never delivered, so it is not acknowledged (position ${position})`);
  });
}

test('the webhook carries the id of the request that wrote the event: X-Request-Id and traceparent', { timeout: 60000 }, async () => {
  const consumer = `relay-trace-${randomUUID()}`;
  await consumerAtEnd(consumer);
  behaviour = () => 'ok';
  const { owner, project } = await projectWithMembers([]);
  const traceId = randomUUID().replace(/-/g, '');
  const res = await api('POST', '/tasks', {
    token: owner.token, body: { project_id: project.id, title: 'traced' },
    headers: { Prefer: 'return=representation', traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
  });
  expectStatus(res, 201);
  assert.equal(res.headers.get('x-request-id'), traceId, 'the answer carries the trace id of traceparent');
  const taskId = res.body[0].id;
  const relay = startRelay(consumer);
  await relay.ready;
  const ours = () => received.find((r) => r.project_id === project.id && r.outcome === 'ok' && r.requestId === traceId);
  await waitFor('the task event with its request id', () => ours() !== undefined);
  const hook = ours();
  assert.match(hook.traceparent, new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`), 'traceparent continues the client\'s trace');
  assert.notEqual(hook.traceparent.split('-')[2], '00f067aa0ba902b7', 'the relay sends its own span id');
  assert.equal(await psql("SELECT request_id FROM task_api.events WHERE resource_id = :'t'", { t: taskId }), traceId,
    'the event row keeps the request id');
  relay.kill('SIGTERM');
  await relay.exited;
});
