// After a restore: everything test/lib/fill.mjs left in the source database
// works again through PostgREST (run by test/backup/backup.sh, once per
// restored database: it changes data).  Environment: TASK_API_STATE (the
// state file fill.mjs wrote), TASK_API_URL (PostgREST on the restored
// database), and for the event consumer TASK_API_PSQL, TASK_API_PGHOST,
// TASK_API_PGPORT, TASK_API_PGDATABASE.
//
// node:test runs a file's tests one after another, in order: the read-only
// checks come first, so that the restores and replays at the end cannot
// change what they compare.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  client, psql, view, walkRest, expectStatus, show, PENDING_EVENTS_SQL, REPRESENTATION, TRASH_COLUMNS,
} from './fill.mjs';

for (const name of ['TASK_API_STATE', 'TASK_API_URL']) {
  if (!process.env[name]) throw new Error(`${name} is not set (test/backup/backup.sh sets it)`);
}
const state = JSON.parse(readFileSync(process.env.TASK_API_STATE, 'utf8'));
const api = client(process.env.TASK_API_URL);
const { alice } = state.users;
const A = alice.tokens[0].token;

// Each event of `actual` with only the fields its counterpart in `expected`
// had at fill time: an update may add columns to task_api.events (0.2.0:
// request_id), and nothing else may differ.
function asAtFill(actual, expected) {
  return actual.map((e, i) => (expected[i] ? Object.fromEntries(Object.keys(expected[i]).map((k) => [k, e[k]])) : e));
}

function expect401(res) {
  assert.equal(res.status, 401, `expected HTTP 401, got ${show(res)}`);
  assert.equal(typeof res.body?.code, 'string', show(res));
}

test('the event consumer resumes after its acknowledged id: exactly the events pending at fill time, in order', async () => {
  const position = await psql("SELECT acked_id || ' ' || claimed_id FROM task_api.event_consumers WHERE name = :'consumer'",
    { consumer: state.consumer.name });
  assert.equal(position, `${state.consumer.acked_id} ${state.consumer.claimed_id}`, 'acked_id and claimed_id as at fill time');
  // Claimed in a transaction that is rolled back: the check changes nothing.
  const out = await psql(`
BEGIN;
SET LOCAL ROLE task_api_relay;
SET LOCAL TimeZone = 'UTC';
SELECT coalesce(json_agg(c ORDER BY c.ordinality), '[]')
  FROM task_api.claim_events(:'consumer', 10000) WITH ORDINALITY c;
ROLLBACK;`, { consumer: state.consumer.name });
  const claimed = JSON.parse(out).map(({ ordinality, ...e }) => e);
  const ids = claimed.map((e) => e.id);
  assert.ok(ids.every((id, i) => i === 0 || id > ids[i - 1]), `in id order: ${ids}`);
  assert.ok(ids.length > 0 && ids[0] > state.consumer.acked_id, 'after the acknowledged id');
  assert.deepEqual(ids, state.consumer.pending.map((e) => e.id),
    'the claimed-but-unacknowledged events again, then the unclaimed ones: none skipped, none new');
  assert.deepEqual(asAtFill(claimed, state.consumer.pending), state.consumer.pending, 'the events themselves, as they were');
  // The superuser's view agrees (the rollback left the consumer where it was).
  assert.deepEqual(asAtFill(JSON.parse(await psql(PENDING_EVENTS_SQL, { consumer: state.consumer.name })), state.consumer.pending),
    state.consumer.pending);
});

test('every unexpired token from before authenticates and sees the same users, projects, members, tasks, trash, events and keys', async () => {
  let checked = 0;
  for (const [name, u] of Object.entries(state.users)) {
    for (const t of u.tokens) {
      if (Date.parse(t.expires_at) <= Date.now()) continue;
      assert.deepEqual(await view(api, t.token), u.view, `${name}'s ${t.via} token`);
      checked++;
    }
  }
  assert.ok(checked >= 6, `${checked} tokens checked`);
});

test('the feed shows no column of the trash after the update', async () => {
  for (const u of Object.values(state.users)) {
    const t = u.tokens.find((x) => Date.parse(x.expires_at) > Date.now());
    if (!t) continue;
    for (const e of expectStatus(await api('GET', '/task_events', { token: t.token }), 200)) {
      assert.deepEqual(Object.keys(e.changes).filter((c) => TRASH_COLUMNS.includes(c)), [], JSON.stringify(e));
    }
  }
});

test('the logged-out token answers 401', async () => {
  expect401(await api('GET', '/projects', { token: state.loggedOutToken }));
  expect401(await api('GET', '/tasks', { token: state.loggedOutToken }));
});

test('the revoked API key answers 401; the live one works as its user', async () => {
  expect401(await api('GET', '/projects', { token: state.apiKeys.revoked.key }));
  const owner = state.users[state.apiKeys.live.user];
  assert.deepEqual(await view(api, state.apiKeys.live.key), owner.view);
});

// Scraper tokens exist from 0.2.0 on: a database filled at 0.1.0 has none.
if (state.scraper) {
  test('the scraper token still scrapes; the revoked one answers 401', async () => {
    const scrape = (t) => api('GET', '/rpc/metrics', { token: t, headers: { Accept: 'text/plain' } });
    assert.equal((await scrape(state.scraper.live)).status, 200);
    expect401(await scrape(state.scraper.revoked));
  });
}

test('the old cursor continues the walk with exactly the remaining ids', async () => {
  const { args, cursor, rest, first } = state.cursor;
  assert.deepEqual(await walkRest(api, A, args, cursor, 4), rest);
  assert.deepEqual(await walkRest(api, A, args, cursor, 100), rest, 'in one page');
  assert.ok(rest.every((id) => !first.includes(id)), 'none of the first page again');
  const res = await api('GET', `/rpc/tasks_page?${new URLSearchParams({ ...args, sort: 'priority', cursor })}`, { token: A });
  assert.equal(res.status, 400, `a cursor still belongs to its query: ${show(res)}`);
});

test('each user\'s old password logs in, and the new session sees the same', async () => {
  for (const [name, u] of Object.entries(state.users)) {
    const res = await api('POST', '/rpc/login', { body: { email: u.email, password: u.password } });
    const s = expectStatus(res, 200);
    assert.equal(s.user_id, u.id, name);
    const now = await view(api, s.token);
    assert.deepEqual(now.projects, u.view.projects, `${name}'s projects`);
    assert.deepEqual(now.tasks, u.view.tasks, `${name}'s tasks`);
    const wrong = await api('POST', '/rpc/login', { body: { email: u.email, password: `${u.password}!` } });
    expect401(wrong);
  }
});

test('the idempotent POST replayed with the same key and body gives the original response and creates no task', async () => {
  const idem = state.idempotency;
  const before = expectStatus(await api('GET', `/tasks?project_id=eq.${idem.project_id}&select=id&order=id`, { token: A }), 200);
  const res = await api('POST', '/tasks', { token: A, body: idem.body, headers: { 'Idempotency-Key': idem.key, ...REPRESENTATION } });
  expectStatus(res, idem.status);
  assert.equal(res.headers.get('idempotent-replayed'), 'true', show(res));
  assert.deepEqual(res.body, idem.response, 'the original representation');
  assert.equal(res.headers.get('etag'), idem.etag);
  const after = expectStatus(await api('GET', `/tasks?project_id=eq.${idem.project_id}&select=id&order=id`, { token: A }), 200);
  assert.deepEqual(after, before, 'no task created');
  const titled = expectStatus(await api('GET', `/tasks?title=eq.${encodeURIComponent(idem.title)}&select=id`, { token: A }), 200);
  assert.deepEqual(titled.map((t) => t.id), idem.response.map((t) => t.id));
  // Another request with the key is still refused as one.
  const other = await api('POST', '/tasks', { token: A, body: { ...idem.body, title: 'not the same' }, headers: { 'Idempotency-Key': idem.key } });
  assert.equal(other.status, 422, show(other));
  assert.equal(other.body.code, 'idempotency_key_reused');
});

test('the trashed task and project restore (POST /rpc/restore_task, /rpc/restore_project)', async () => {
  const { trash } = state;
  const trashed = expectStatus(await api('GET', '/trash?select=resource_type,id&order=resource_type,id', { token: A }), 200);
  assert.deepEqual(trashed, [{ resource_type: 'project', id: trash.project }, { resource_type: 'task', id: trash.task }]);

  const t = expectStatus(await api('POST', '/rpc/restore_task', { token: A, body: { id: trash.task } }), 200);
  assert.equal(t.id, trash.task);
  assert.equal(expectStatus(await api('GET', `/tasks?id=eq.${trash.task}`, { token: A }), 200).length, 1);

  const p = expectStatus(await api('POST', '/rpc/restore_project', { token: A, body: { id: trash.project } }), 200);
  assert.equal(p.id, trash.project);
  const tasks = expectStatus(await api('GET', `/tasks?project_id=eq.${trash.project}&select=id&order=id`, { token: A }), 200);
  assert.deepEqual(tasks.map((x) => x.id), trash.projectTasks, 'with the tasks deleted with it');
  assert.deepEqual(expectStatus(await api('GET', '/trash', { token: A }), 200), [], 'the trash is empty');
});
