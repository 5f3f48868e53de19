// Idempotency keys (docs/contract.md §8), end to end through the real PostgREST:
// replay of every endpoint that honours Idempotency-Key, mismatch, malformed
// keys, concurrency, per-caller scoping, expiry and failed requests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  api, psql, show, createUser, createProject, createTask, projectWithMembers, list, uniqueName,
  expectError, expectStatus, expectValidation, REPRESENTATION,
} from './lib.mjs';
import { signup } from './session_lib.mjs';

const MINIMAL = { Prefer: 'return=minimal' };
const key = () => `k-${randomUUID()}`;
const withKey = (k, headers = {}) => ({ 'Idempotency-Key': k, ...headers });
const replayed = (res) => res.headers.get('idempotent-replayed');

// Send the same request twice; the second is a replay of the first.
async function twice(method, path, opts) {
  const first = await api(method, path, opts);
  const second = await api(method, path, opts);
  return [first, second];
}

async function count(sql, vars) {
  return Number(await psql(sql, vars));
}

async function keyRows(k) {
  return count('SELECT count(*) FROM task_api.idempotency_keys WHERE key = :\'k\'', { k });
}

test('POST /projects: the replay has the original status, representation and ETag, and writes nothing', async () => {
  const u = await createUser();
  const k = key();
  const name = uniqueName();
  const [first, second] = await twice('POST', '/projects',
    { token: u.token, body: { name, description: 'd' }, headers: withKey(k, REPRESENTATION) });
  expectStatus(first, 201);
  assert.equal(replayed(first), null, 'the original is not marked as a replay');
  expectStatus(second, 201);
  assert.equal(replayed(second), 'true', show(second));
  assert.deepEqual(second.body, first.body, 'the same row, to the microsecond');
  assert.equal(second.headers.get('etag'), first.headers.get('etag'));
  assert.equal(first.headers.get('etag'), '"1"');
  assert.equal(await count('SELECT count(*) FROM task_api.projects WHERE name = :\'n\'', { n: name }), 1);
  assert.equal(await keyRows(k), 1);
});

test('POST /projects: a minimal original replays with a representation, and the other way round', async () => {
  const u = await createUser();
  const k = key();
  const name = uniqueName();
  const first = await api('POST', '/projects', { token: u.token, body: { name }, headers: withKey(k, MINIMAL) });
  expectStatus(first, 201);
  assert.equal(first.text, '');
  const second = await api('POST', '/projects', { token: u.token, body: { name }, headers: withKey(k, REPRESENTATION) });
  expectStatus(second, 201);
  assert.equal(replayed(second), 'true');
  const [row] = await list(`/projects?name=eq.${encodeURIComponent(name)}`, u.token);
  assert.deepEqual(second.body, [row], 'the representation of the row the original created');
  const third = await api('POST', '/projects', { token: u.token, body: { name }, headers: withKey(k, MINIMAL) });
  expectStatus(third, 201);
  assert.equal(third.text, '');
  assert.equal(replayed(third), 'true');
});

test('POST /tasks (the C insert path): single and bulk replays; key order and whitespace do not matter', async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  const k = key();
  const first = await api('POST', '/tasks', {
    token: u.token, headers: withKey(k, REPRESENTATION),
    rawBody: `{"project_id":"${p.id}","title":"one","priority":3}`,
  });
  expectStatus(first, 201);
  const second = await api('POST', '/tasks', {
    token: u.token, headers: withKey(k, REPRESENTATION),
    rawBody: `{ "priority" : 3,\n  "title": "one",   "project_id": "${p.id}" }`,
  });
  expectStatus(second, 201);
  assert.equal(replayed(second), 'true', show(second));
  assert.deepEqual(second.body, first.body);
  assert.equal(second.headers.get('etag'), '"1"');

  const bulk = key();
  const rows = [1, 2, 3].map((i) => ({ project_id: p.id, title: `bulk ${i}` }));
  const [b1, b2] = await twice('POST', '/tasks', { token: u.token, body: rows, headers: withKey(bulk, REPRESENTATION) });
  expectStatus(b1, 201);
  expectStatus(b2, 201);
  assert.equal(b1.body.length, 3);
  assert.deepEqual(b2.body, b1.body, 'row for row, in order');
  assert.equal(replayed(b2), 'true');
  assert.equal(b2.headers.get('etag'), null, 'no ETag for several rows, as originally');
  assert.equal(await count('SELECT count(*) FROM task_api.tasks WHERE project_id = :\'p\'', { p: p.id }), 4);
  // The same rows in another order are another request.
  expectError(await api('POST', '/tasks', { token: u.token, body: [...rows].reverse(), headers: withKey(bulk) }),
    422, 'idempotency_key_reused');
});

test('PATCH /tasks and /projects: replay, and a different patch or target with the key is refused', async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  const t = await createTask(u.token, p.id);
  const other = await createTask(u.token, p.id);
  const k = key();
  const [first, second] = await twice('PATCH', `/tasks?id=eq.${t.id}`,
    { token: u.token, body: { title: 'renamed', priority: 4 }, headers: withKey(k, REPRESENTATION) });
  expectStatus(first, 200);
  expectStatus(second, 200);
  assert.equal(replayed(second), 'true');
  assert.deepEqual(second.body, first.body);
  assert.equal(first.body[0].version, 2);
  assert.equal(second.headers.get('etag'), '"2"');
  const [now] = await list(`/tasks?id=eq.${t.id}`, u.token);
  assert.equal(now.version, 2, 'the replay did not update the row again');
  // Minimal replays as 204.
  const minimal = await api('PATCH', `/tasks?id=eq.${t.id}`,
    { token: u.token, body: { priority: 4, title: 'renamed' }, headers: withKey(k, MINIMAL) });
  expectStatus(minimal, 204);
  assert.equal(replayed(minimal), 'true');
  // Another value, another field, another row: 422, nothing changes.
  for (const [path, body] of [
    [`/tasks?id=eq.${t.id}`, { title: 'renamed', priority: 3 }],
    [`/tasks?id=eq.${t.id}`, { title: 'renamed', priority: 4, description: null }],
    [`/tasks?id=eq.${other.id}`, { title: 'renamed', priority: 4 }],
    [`/projects?id=eq.${p.id}`, { name: 'renamed' }],
  ]) {
    const res = await api('PATCH', path, { token: u.token, body, headers: withKey(k) });
    expectError(res, 422, 'idempotency_key_reused');
    assert.equal(replayed(res), null, 'a refused request is not marked as a replay');
  }
  const [after] = await list(`/tasks?id=eq.${other.id}`, u.token);
  assert.equal(after.version, 1);

  const pk = key();
  const [p1, p2] = await twice('PATCH', `/projects?id=eq.${p.id}`,
    { token: u.token, body: { description: 'new' }, headers: withKey(pk, REPRESENTATION) });
  expectStatus(p1, 200);
  expectStatus(p2, 200);
  assert.equal(replayed(p2), 'true');
  assert.deepEqual(p2.body, p1.body);
  assert.equal(p2.headers.get('etag'), '"2"');
});

test('create_api_key: the replay returns the same key (201); only its caller can replay it', async () => {
  const u = await createUser();
  const k = key();
  const [first, second] = await twice('POST', '/rpc/create_api_key', { token: u.token, body: { name: 'ci' }, headers: withKey(k) });
  expectStatus(first, 201);
  expectStatus(second, 201);
  assert.equal(replayed(second), 'true');
  assert.deepEqual(second.body, first.body, 'the key itself included');
  assert.equal(await count('SELECT count(*) FROM task_api.api_keys WHERE user_id = :\'u\'', { u: u.id }), 1);
  expectError(await api('POST', '/rpc/create_api_key', { token: u.token, body: { name: 'other' }, headers: withKey(k) }),
    422, 'idempotency_key_reused');
  // Another user with the same key gets a key of their own.
  const v = await createUser();
  const theirs = await api('POST', '/rpc/create_api_key', { token: v.token, body: { name: 'ci' }, headers: withKey(k) });
  expectStatus(theirs, 201);
  assert.equal(replayed(theirs), null);
  assert.notEqual(theirs.body.key, first.body.key);
});

test('restore_* (200 with ETag) and purge_* (204) replay; the replay writes nothing', async () => {
  const { owner, project } = await projectWithMembers();
  const t = await createTask(owner.token, project.id);
  expectStatus(await api('DELETE', `/tasks?id=eq.${t.id}`, { token: owner.token }), 204);
  const rk = key();
  const [r1, r2] = await twice('POST', '/rpc/restore_task', { token: owner.token, body: { id: t.id }, headers: withKey(rk) });
  expectStatus(r1, 200);
  expectStatus(r2, 200);
  assert.equal(replayed(r2), 'true');
  assert.deepEqual(r2.body, r1.body);
  assert.equal(r2.headers.get('etag'), r1.headers.get('etag'));
  assert.equal(r1.headers.get('etag'), `"${r1.body.version}"`);
  // Without the key, restoring again is not_found: the replay really did not run it.
  expectError(await api('POST', '/rpc/restore_task', { token: owner.token, body: { id: t.id } }), 404, 'not_found');
  expectError(await api('POST', '/rpc/restore_task', { token: owner.token, body: { id: randomUUID() }, headers: withKey(rk) }),
    422, 'idempotency_key_reused');

  const uk = key();
  const [u1, u2] = await twice('POST', '/rpc/purge_task', { token: owner.token, body: { id: t.id }, headers: withKey(uk) });
  expectStatus(u1, 204);
  expectStatus(u2, 204);
  assert.equal(replayed(u2), 'true');
  assert.equal(await count('SELECT count(*) FROM task_api.tasks WHERE id = :\'t\'', { t: t.id }), 0);

  expectStatus(await api('DELETE', `/projects?id=eq.${project.id}`, { token: owner.token }), 204);
  const pk = key();
  const [p1, p2] = await twice('POST', '/rpc/restore_project', { token: owner.token, body: { id: project.id }, headers: withKey(pk) });
  expectStatus(p1, 200);
  expectStatus(p2, 200);
  assert.equal(replayed(p2), 'true');
  assert.deepEqual(p2.body, p1.body);
  assert.equal(p2.headers.get('etag'), p1.headers.get('etag'));
  const xk = key();
  const [x1, x2] = await twice('POST', '/rpc/purge_project', { token: owner.token, body: { id: project.id }, headers: withKey(xk) });
  expectStatus(x1, 204);
  expectStatus(x2, 204);
  assert.equal(replayed(x2), 'true');
});

test('the same key on another endpoint or method is idempotency_key_reused (422)', async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  const k = key();
  expectStatus(await api('POST', '/tasks', { token: u.token, body: { project_id: p.id, title: 'a' }, headers: withKey(k) }), 201);
  const res = await api('POST', '/projects', { token: u.token, body: { name: uniqueName() }, headers: withKey(k) });
  const body = expectError(res, 422, 'idempotency_key_reused');
  assert.match(body.details, /POST \/tasks/);
  expectError(await api('PATCH', `/projects?id=eq.${p.id}`, { token: u.token, body: { name: 'x' }, headers: withKey(k) }),
    422, 'idempotency_key_reused');
  expectError(await api('POST', '/tasks', { token: u.token, body: { project_id: p.id, title: 'b' }, headers: withKey(k) }),
    422, 'idempotency_key_reused');
  assert.equal(await count('SELECT count(*) FROM task_api.tasks WHERE project_id = :\'p\'', { p: p.id }), 1);
});

test('malformed keys are invalid_idempotency_key (400) and write nothing', async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  const name = uniqueName();
  // (Non-ASCII is refused too: see sql/idempotency.sql.  Through HTTP, fetch
  // sends it as Latin-1, which PostgREST 12.0.2 cannot decode in any header:
  // it answers 500 before the database is reached.)
  for (const bad of ['has space', 'x'.repeat(256), 'tab\there', '']) {
    for (const [method, path, body] of [
      ['POST', '/projects', { name }],
      ['POST', '/tasks', { project_id: p.id, title: 't' }],
      ['PATCH', `/projects?id=eq.${p.id}`, { description: 'x' }],
      ['POST', '/rpc/create_api_key', { name: 'k' }],
      ['POST', '/rpc/purge_project', { id: p.id }],
    ]) {
      const res = await api(method, path, { token: u.token, body, headers: { 'Idempotency-Key': bad } });
      expectError(res, 400, 'invalid_idempotency_key');
    }
  }
  assert.equal(await count('SELECT count(*) FROM task_api.projects WHERE owner_id = :\'u\'', { u: u.id }), 1);
  assert.equal(await count('SELECT count(*) FROM task_api.idempotency_keys WHERE user_id = :\'u\'', { u: u.id }), 0);
  // 255 visible ASCII characters are a valid key.
  const longest = '!~'.repeat(127) + 'z';
  expectStatus(await api('POST', '/projects', { token: u.token, body: { name }, headers: { 'Idempotency-Key': longest } }), 201);
});

test('other endpoints ignore Idempotency-Key (GET, DELETE, PATCH /project_members, signup); anonymous writes stay 401', async () => {
  const { owner, project, members } = await projectWithMembers(['viewer']);
  const bad = 'not a valid key';
  expectStatus(await api('GET', '/projects', { token: owner.token, headers: { 'Idempotency-Key': bad } }), 200);
  const v = members.viewer;
  expectStatus(await api('PATCH', `/project_members?project_id=eq.${project.id}&user_id=eq.${v.id}`,
    { token: owner.token, body: { role: 'editor' }, headers: { 'Idempotency-Key': bad } }), 204);
  const t = await createTask(owner.token, project.id);
  expectStatus(await api('DELETE', `/tasks?id=eq.${t.id}`, { token: owner.token, headers: { 'Idempotency-Key': bad } }), 204);
  // Anonymous callers may not write at all: PostgREST's own 401, whatever the key.
  expectError(await api('POST', '/projects', { body: { name: 'anon' }, headers: { 'Idempotency-Key': 'bad key' } }), 401);
});

test('20 concurrent POSTs with one key: exactly one row; every response is that row, 19 replays', async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  const k = key();
  const results = await Promise.all(Array.from({ length: 20 }, () =>
    api('POST', '/tasks', { token: u.token, body: { project_id: p.id, title: 'once' }, headers: withKey(k, REPRESENTATION) })));
  for (const r of results) expectStatus(r, 201);
  const ids = new Set(results.map((r) => r.body[0].id));
  assert.equal(ids.size, 1, 'every response carries the same row');
  assert.equal(results.filter((r) => replayed(r) === 'true').length, 19);
  assert.equal(await count('SELECT count(*) FROM task_api.tasks WHERE project_id = :\'p\'', { p: p.id }), 1);
  assert.equal(await keyRows(k), 1);
});

test('keys are per caller: two users, and a user\'s session and API key, are independent', async () => {
  const a = await createUser();
  const b = await createUser();
  const k = key();
  const name = uniqueName();
  const ra = await api('POST', '/projects', { token: a.token, body: { name }, headers: withKey(k, REPRESENTATION) });
  const rb = await api('POST', '/projects', { token: b.token, body: { name }, headers: withKey(k, REPRESENTATION) });
  expectStatus(ra, 201);
  expectStatus(rb, 201);
  assert.equal(replayed(rb), null);
  assert.notEqual(ra.body[0].id, rb.body[0].id);
  assert.equal(await count('SELECT count(*) FROM task_api.projects WHERE name = :\'n\'', { n: name }), 2);

  const apiKey = (await api('POST', '/rpc/create_api_key', { token: a.token, body: { name: 'k' } })).body.key;
  const p = await createProject(a.token);
  const viaSession = await api('POST', '/tasks', { token: a.token, body: { project_id: p.id, title: 't' }, headers: withKey(k, REPRESENTATION) });
  const viaKey = await api('POST', '/tasks', { token: apiKey, body: { project_id: p.id, title: 't' }, headers: withKey(k, REPRESENTATION) });
  // The session's key k was used for POST /projects: a different request.
  expectError(viaSession, 422, 'idempotency_key_reused');
  expectStatus(viaKey, 201);
  assert.equal(replayed(viaKey), null, 'the API key is its own caller');
  const again = await api('POST', '/tasks', { token: apiKey, body: { project_id: p.id, title: 't' }, headers: withKey(k, REPRESENTATION) });
  assert.equal(replayed(again), 'true');
  assert.deepEqual(again.body, viaKey.body);
});

test('an expired key counts as new; the purge deletes expired keys', async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  const k = key();
  const body = { project_id: p.id, title: 'expiring' };
  const first = await api('POST', '/tasks', { token: u.token, body, headers: withKey(k, REPRESENTATION) });
  expectStatus(first, 201);
  // Aged by 25 hours in two steps: the values first, then an UPDATE that
  // sets them (Citus refuses a STABLE operator on a column in an UPDATE of
  // a reference table).
  const [created, expires] = (await psql("SELECT created_at - interval '25 hours', expires_at - interval '25 hours' FROM task_api.idempotency_keys WHERE key = :'k'", { k })).trim().split('|');
  assert.ok(created && expires, 'the key was stored');
  await psql("UPDATE task_api.idempotency_keys SET created_at = :'c', expires_at = :'e' WHERE key = :'k'", { k, c: created, e: expires });
  const second = await api('POST', '/tasks', { token: u.token, body, headers: withKey(k, REPRESENTATION) });
  expectStatus(second, 201);
  assert.equal(replayed(second), null, 'not a replay: the key had expired');
  assert.notEqual(second.body[0].id, first.body[0].id);
  assert.equal(await keyRows(k), 1, 'the expired row was taken over');
  await psql("UPDATE task_api.idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = :'k'", { k });
  // The keys' part of task_api.purge_expired() (sql/idempotency.sql runs the
  // whole of it; here it would race trash.test.mjs's own purge counts).
  await psql('SELECT task_api.purge_expired_idempotency_keys()');
  assert.equal(await keyRows(k), 0);
});

test('a failed request leaves no key behind and can be retried with it', async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  const k = key();
  expectValidation(await api('POST', '/tasks', { token: u.token, body: { project_id: p.id, title: '   ' }, headers: withKey(k) }));
  assert.equal(await keyRows(k), 0);
  const retry = await api('POST', '/tasks', { token: u.token, body: { project_id: p.id, title: 'fixed' }, headers: withKey(k, REPRESENTATION) });
  expectStatus(retry, 201);
  assert.equal(replayed(retry), null);
  assert.equal(retry.body[0].title, 'fixed');
  // An error raised by a statement trigger after the rows (a precondition) also leaves nothing.
  const pk = key();
  expectError(await api('PATCH', `/projects?id=eq.${p.id}`,
    { token: u.token, body: { description: 'x' }, headers: withKey(pk, { 'If-Match': '"9"' }) }), 412, 'precondition_failed');
  assert.equal(await keyRows(pk), 0);
  expectStatus(await api('PATCH', `/projects?id=eq.${p.id}`,
    { token: u.token, body: { description: 'x' }, headers: withKey(pk, { 'If-Match': '"1"' }) }), 204);
});

test('a cookie session and a bearer token of one user share keys; the replay keeps Location and ETag', async () => {
  const u = await signup();
  const k = key();
  const name = uniqueName();
  const headersOnly = { Prefer: 'return=headers-only' };
  const first = await u.jar.request('POST', '/projects', { csrf: true, body: { name }, headers: withKey(k, headersOnly) });
  expectStatus(first, 201);
  assert.match(first.headers.get('location') ?? '', /^\/projects\?id=eq\./, show(first));
  const second = await api('POST', '/projects', { token: u.token, body: { name }, headers: withKey(k, headersOnly) });
  expectStatus(second, 201);
  assert.equal(replayed(second), 'true', 'the same user, whatever the credential');
  assert.equal(second.headers.get('location'), first.headers.get('location'));
  assert.equal(second.headers.get('etag'), '"1"');
  assert.equal(await count('SELECT count(*) FROM task_api.projects WHERE name = :\'n\'', { n: name }), 1);
});

test('If-Match with a key: the replay after the row changed returns the original row and ETag, and patches nothing', async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  const t = await createTask(u.token, p.id);
  const k = key();
  const patch = { token: u.token, body: { title: 'first' }, headers: withKey(k, { 'If-Match': '"1"', ...REPRESENTATION }) };
  const first = await api('PATCH', `/tasks?id=eq.${t.id}`, patch);
  expectStatus(first, 200);
  expectStatus(await api('PATCH', `/tasks?id=eq.${t.id}`, { token: u.token, body: { title: 'second' } }), 204);
  const retry = await api('PATCH', `/tasks?id=eq.${t.id}`, patch);
  expectStatus(retry, 200);
  assert.equal(replayed(retry), 'true', show(retry));
  assert.deepEqual(retry.body, first.body, 'the original representation, version 2');
  assert.equal(retry.headers.get('etag'), '"2"');
  const [now] = await list(`/tasks?id=eq.${t.id}`, u.token);
  assert.deepEqual([now.title, now.version], ['second', 3], 'the later change stands');
});

test('a PATCH retried after its filter stopped matching is idempotency_key_reused (the target rows stand for the query string)', async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  const t = await createTask(u.token, p.id);
  const k = key();
  const req = { token: u.token, body: { status: 'done' }, headers: withKey(k) };
  expectStatus(await api('PATCH', `/tasks?id=eq.${t.id}&status=eq.todo`, req), 204);
  expectError(await api('PATCH', `/tasks?id=eq.${t.id}&status=eq.todo`, req), 422, 'idempotency_key_reused');
  const [now] = await list(`/tasks?id=eq.${t.id}`, u.token);
  assert.equal(now.version, 2, 'patched once');
});

test('concurrent same-key PATCHes and create_api_key calls: one write each, the rest replay it', async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  const t = await createTask(u.token, p.id);
  const pk = key();
  const patches = await Promise.all(Array.from({ length: 8 }, () =>
    api('PATCH', `/tasks?id=eq.${t.id}`, { token: u.token, body: { priority: 0 }, headers: withKey(pk, REPRESENTATION) })));
  for (const r of patches) expectStatus(r, 200);
  assert.deepEqual([...new Set(patches.map((r) => r.body[0].version))], [2]);
  assert.equal(patches.filter((r) => replayed(r) === 'true').length, 7);

  const ak = key();
  const keys = await Promise.all(Array.from({ length: 8 }, () =>
    api('POST', '/rpc/create_api_key', { token: u.token, body: { name: 'ci' }, headers: withKey(ak) })));
  for (const r of keys) expectStatus(r, 201);
  assert.equal(new Set(keys.map((r) => r.body.key)).size, 1, 'every response carries the one key created');
  assert.equal(await count('SELECT count(*) FROM task_api.api_keys WHERE user_id = :\'u\'', { u: u.id }), 1);
});
