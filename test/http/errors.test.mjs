// Error shape and robustness: every error has {code, message}; odd requests
// get a 4xx, never a 500.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  api, createUser, createProject, createTask, list, userToken, JWT_SECRET,
  expectError, expect4xx, show, REPRESENTATION, psql,
} from './lib.mjs';

test('product errors carry PostgREST\'s body shape with string-or-null details and hint', async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  const samples = [
    [await api('POST', '/tasks', { token: u.token, body: { project_id: p.id, title: '' } }), 422, 'validation_failed'],
    [await api('POST', '/projects', { token: u.token, body: { name: p.name } }), 409, 'conflict'],
    [await api('DELETE', `/project_members?project_id=eq.${p.id}&user_id=eq.${u.id}`, { token: u.token }), 409, 'conflict'],
    [await api('GET', '/projects', { token: userToken(JWT_SECRET, 'nope') }), 401, 'unauthenticated'],
  ];
  for (const [res, status, code] of samples) {
    const body = expectError(res, status, code);
    assert.deepEqual(Object.keys(body).sort(), ['code', 'details', 'hint', 'message'], show(res));
    assert.ok(body.details === null || typeof body.details === 'string', show(res));
    assert.ok(body.hint === null || typeof body.hint === 'string', show(res));
    assert.match(res.headers.get('content-type') || '', /application\/json/);
  }
});

test('odd queries are 4xx with a code, never 500', async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  const t = await createTask(u.token, p.id);
  const gets = [
    '/tasks?select=nope', '/tasks?order=nope', '/tasks?order=title.sideways', '/tasks?select=id,(',
    '/tasks?select=id,nope(id)', '/tasks?priority=foo.1', '/tasks?priority=eq', '/tasks?limit=abc',
    '/tasks?limit=-1', '/tasks?offset=-5', '/tasks?id=in.(1,2', '/tasks?or=(id.eq.1', '/tasks?and=broken',
    '/tasks?title=eq.%00', `/tasks?id=eq.${'f'.repeat(5000)}`,
    '/tasks?created_at=gt.yesterday-ish', '/tasks?priority=eq.99999999999999999999',
    '/nope', '/task_api.tasks', '/rpc/nope', '/rpc/pre_request', '/error_codes',
    '/projects?select=*,users(*)', '/tasks?select=*,project_members(*)', '/tasks?select=*,users(*)', '/tasks?select=title::nope', '/tasks?version=eq.1e999',
  ];
  for (const path of gets) {
    const res = await api('GET', path, { token: u.token });
    assert.ok(res.status < 500, `GET ${path}: ${show(res)}`);
    if (res.status >= 400) {
      assert.ok(res.body && typeof res.body.code === 'string' && typeof res.body.message === 'string',
        `GET ${path}: error without code and message: ${show(res)}`);
    }
  }
  // Things that must be client errors outright.
  for (const path of ['/tasks?select=nope', '/tasks?order=nope', '/tasks?id=eq.zzz', '/nope', '/rpc/nope',
    '/tasks?select=id,nope(id)', '/task_api.tasks']) {
    const res = await api('GET', path, { token: u.token });
    assert.ok(res.status >= 400 && res.status < 500, `GET ${path}: ${show(res)}`);
    expectError(res, res.status);
  }
  // The internal schema is not reachable through profiles.
  for (const profile of ['task_api', 'public', 'pg_catalog']) {
    const res = await api('GET', '/tasks', { token: u.token, headers: { 'Accept-Profile': profile } });
    expect4xx(res);
    const w = await api('POST', '/tasks', {
      token: u.token, headers: { 'Content-Profile': profile }, body: { project_id: p.id, title: 'x' },
    });
    expect4xx(w);
  }
  assert.equal((await list('/tasks', u.token)).length, 1);
  void t;
});

// PostgREST 12.0.2 itself answers a query string that is not valid UTF-8
// with a plain-text 500 "Something went wrong" before any SQL runs (its log:
// "Cannot decode byte '\xe0': Data.Text.Internal.Encoding.decodeUtf8").
// docs/contract.md §11 says no input gives a 500, but the database never
// sees this request, so it is an upstream limitation: kept as a TODO that
// asserts the right behaviour.
test('a query string that is not valid UTF-8 is a 4xx', {
  todo: 'PostgREST 12.0.2 answers 500 before reaching the database (upstream)',
}, async () => {
  const u = await createUser();
  for (const path of ['/tasks?title=like.%E0%A4', '/tasks?select=%FF', '/projects?name=eq.%C3']) {
    for (const token of [u.token, undefined]) {
      const res = await api('GET', path, { token });
      expect4xx(res);
    }
  }
});

// PostgREST 12.0.2's router answers a path below a resource (/tasks/1) with
// 404 and the body {} (no code, no message) before any SQL runs.
test('a path below a resource is a 404 with code and message', {
  todo: 'PostgREST 12.0.2 answers 404 {} from its router (upstream)',
}, async () => {
  const u = await createUser();
  for (const path of ['/tasks/1', '/projects/x/y']) {
    expectError(await api('GET', path, { token: u.token }), 404);
  }
});

test('odd writes are 4xx with a code, never 500', async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  const t = await createTask(u.token, p.id);
  const cases = [
    ['POST', '/tasks', { project_id: p.id, title: 'nul \u0000 inside' }],
    ['POST', '/tasks', { project_id: p.id, title: 'x', description: '\u0000' }],
    ['POST', '/projects', { name: 'bad \u0000 name' }],
    ['PATCH', `/tasks?id=eq.${t.id}`, { title: '\u0000' }],
    ['POST', '/tasks', { project_id: p.id, title: 'x', due_date: '0000-01-01' }],
    ['POST', '/tasks', { project_id: p.id, title: 'x', priority: -32769 }],
    ['POST', '/tasks', { project_id: p.id, title: 'x', priority: 1e308 }],
    ['POST', '/tasks', { project_id: p.id, title: 'x', version: 'one' }],
    ['POST', '/tasks', { project_id: p.id, title: 'x', created_at: 'long ago' }],
    ['POST', '/tasks', [{ project_id: p.id, title: 'ok' }, { project_id: p.id, title: '' }]],
    ['POST', '/invitations', { project_id: p.id, email: 'not an email' }],
    ['POST', '/invitations', { project_id: p.id, email: '' }],
    ['POST', '/invitations', { project_id: p.id, email: 'x'.repeat(100000) }],
    ['POST', '/invitations', { project_id: p.id, email: 'a@b.c\u0000' }],
    ['POST', '/project_members', { project_id: p.id, email: 'x'.repeat(100000) }],
    ['PATCH', `/projects?id=eq.${p.id}`, { name: 'n'.repeat(1024 * 1024) }],
    ['PATCH', `/users?id=eq.${u.id}`, { display_name: 'd'.repeat(1024 * 1024) }],
    ['PATCH', `/tasks?id=eq.${t.id}`, { id: null }],
    ['PATCH', `/tasks?id=eq.${t.id}`, { project_id: null }],
    ['PATCH', `/tasks?id=eq.${t.id}`, { title: null }],
    ['PATCH', `/tasks?id=eq.${t.id}`, { version: null }],
    ['POST', '/rpc/nope', {}],
    ['DELETE', '/tasks?id=eq.not-a-uuid', undefined],
    ['PATCH', '/tasks?id=eq.not-a-uuid', { title: 'x' }],
    ['POST', '/tasks?columns=nope', { project_id: p.id, title: 'x' }],
  ];
  for (const [method, path, body] of cases) {
    const res = await api(method, path, { token: u.token, body, headers: REPRESENTATION });
    const label = `${method} ${path} ${JSON.stringify(body)?.slice(0, 80)}`;
    assert.ok(res.status >= 400 && res.status < 500, `${label}: expected a 4xx, got ${show(res)}`);
    expectError(res, res.status);
  }
  // Upsert-style requests are refused too.
  for (const prefer of ['resolution=merge-duplicates', 'resolution=ignore-duplicates']) {
    const res = await api('POST', '/tasks', {
      token: u.token, headers: { Prefer: prefer }, body: { ...t, title: 'upserted' },
    });
    expect4xx(res);
  }
  // Nothing changed: still one task, unchanged; still one project.
  const tasks = await list('/tasks', u.token);
  assert.deepEqual(tasks, [t]);
  assert.deepEqual(await list('/projects', u.token), [p]);
});

test('a multi-row POST is all or nothing', async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  let res = await api('POST', '/tasks', {
    token: u.token, headers: REPRESENTATION,
    body: [{ project_id: p.id, title: 'one' }, { project_id: p.id, title: '   ' }],
  });
  expectError(res, 422, 'validation_failed');
  assert.deepEqual(await list('/tasks', u.token), []);
  res = await api('POST', '/tasks', {
    token: u.token, headers: REPRESENTATION,
    body: [{ project_id: p.id, title: 'one' }, { project_id: p.id, title: 'two' }],
  });
  assert.equal(res.status, 201, show(res));
  assert.deepEqual(res.body.map((r) => r.title).sort(), ['one', 'two']);
  assert.ok(res.body.every((r) => r.version === 1 && r.created_by === u.id));
});

// Issue 14, item 1: what PostgreSQL used to answer with its own SQLSTATE
// (42501, 22P02, 22P05, 42P10, 25006, 42703, 55000) is a catalogue error.
test('every error a client can get is in the catalogue: the probes of issue 14', async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  const t = await createTask(u.token, p.id);
  const catalogue = new Set((await psql('SELECT string_agg(code, \' \') FROM task_api.error_codes')).split(' '));
  const inCatalogue = (res, status, code) => {
    const body = expectError(res, status, code);
    assert.ok(catalogue.has(body.code), show(res));
    assert.doesNotMatch(res.text, /task_api\.|permission denied|ON CONFLICT|read-only transaction|\b(42501|22P0[25]|42P10|25006|42703|55000)\b/,
      'no SQLSTATE, no internal names');
    assert.ok(res.headers.get('ratelimit') && res.headers.get('ratelimit-policy'), `RateLimit headers: ${show(res)}`);
    return body;
  };
  const fieldsOf = (body) => JSON.parse(body.details).map((x) => x.field).sort();

  // Anonymous access to a protected resource.
  for (const path of ['/projects', '/tasks', '/project_members', '/task_events', '/trash', '/api_keys']) {
    inCatalogue(await api('GET', path), 401, 'unauthenticated');
  }
  inCatalogue(await api('DELETE', `/tasks?id=eq.${t.id}`), 401, 'unauthenticated');
  // Wrong types in a body, a \u0000, an empty uuid: 422 naming the fields.
  let body = inCatalogue(await api('POST', '/tasks', { token: u.token, body: { project_id: p.id, title: 'x', status: 'bogus' } }),
    422, 'validation_failed');
  assert.deepEqual(fieldsOf(body), ['status']);
  body = inCatalogue(await api('POST', '/tasks', { token: u.token, body: { project_id: p.id, title: 'x\u0000' } }),
    422, 'validation_failed');
  assert.deepEqual(fieldsOf(body), ['title']);
  body = inCatalogue(await api('POST', '/invitations', { token: u.token, body: { project_id: p.id, user_id: '', role: 'viewer' } }),
    422, 'validation_failed');
  assert.deepEqual(fieldsOf(body), ['user_id']);
  body = inCatalogue(await api('POST', '/rpc/restore_task', { token: u.token, body: { id: 'nope' } }), 422, 'validation_failed');
  assert.deepEqual(fieldsOf(body), ['id']);
  body = inCatalogue(await api('GET', '/rpc/tasks_page?status=bogus&project_id=x', { token: u.token }), 422, 'validation_failed');
  assert.deepEqual(fieldsOf(body), ['project_id', 'status'], 'every bad argument, enums included (src/enum_labels.c)');
  // The same values in a filter: 400.
  inCatalogue(await api('GET', '/tasks?status=eq.bogus', { token: u.token }), 400, 'invalid_parameter');
  // PUT and upsert: 405 with Allow.
  let res = await api('PUT', `/tasks?id=eq.${t.id}`, { token: u.token, body: t });
  inCatalogue(res, 405, 'method_not_allowed');
  assert.equal(res.headers.get('allow'), 'GET, POST, PATCH, DELETE');
  res = await api('POST', '/tasks', { token: u.token, body: t, headers: { Prefer: 'resolution=merge-duplicates' } });
  inCatalogue(res, 405, 'method_not_allowed');
  // GET on a function that writes: 405 Allow: POST, and nothing happened.
  for (const fn of ['logout', 'logout_all']) {
    res = await api('GET', `/rpc/${fn}`, { token: u.token });
    inCatalogue(res, 405, 'method_not_allowed');
    assert.equal(res.headers.get('allow'), 'POST');
  }
  assert.equal((await api('GET', '/projects', { token: u.token })).status, 200, 'the session was not ended');
  // Unknown columns on a page function.
  body = inCatalogue(await api('GET', '/rpc/tasks_page?select=nope', { token: u.token }), 400, 'invalid_parameter');
  assert.deepEqual(JSON.parse(body.details), { column: 'nope' });
  // Writes on read-only resources.
  for (const method of ['POST', 'PATCH', 'DELETE']) {
    res = await api(method, '/trash', { token: u.token, body: method === 'DELETE' ? undefined : { title: 'x' } });
    inCatalogue(res, 405, 'method_not_allowed');
    assert.equal(res.headers.get('allow'), 'GET');
  }
  inCatalogue(await api('POST', '/task_events', { token: u.token, body: {} }), 403, 'forbidden');
  inCatalogue(await api('DELETE', `/users?id=eq.${u.id}`, { token: u.token }), 403, 'forbidden');
  assert.deepEqual(await list('/tasks', u.token), [t], 'nothing changed');
});

test('details is JSON text of an array for validation_failed, of an object elsewhere, or null', async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  const t = await createTask(u.token, p.id);
  const samples = [
    await api('POST', '/tasks', { token: u.token, body: { project_id: p.id, title: '' } }),
    await api('POST', '/projects', { token: u.token, body: { name: p.name } }),
    await api('PATCH', `/tasks?id=eq.${t.id}`, { token: u.token, body: { title: 'y' }, headers: { 'If-Match': '"9"' } }),
    await api('PATCH', `/tasks?id=eq.${t.id}`, { token: u.token, body: { title: 'y' }, headers: { 'If-Match': 'nope' } }),
    await api('GET', '/rpc/tasks_page?cursor=garbage', { token: u.token }),
    await api('POST', '/tasks', { token: u.token, body: { project_id: p.id, title: 'x' }, headers: { 'Idempotency-Key': 'a b' } }),
    await api('GET', '/projects', { token: userToken(JWT_SECRET, 'nope') }),
    await api('GET', '/projects'),
    await api('PUT', `/tasks?id=eq.${t.id}`, { token: u.token, body: t }),
  ];
  for (const res of samples) {
    const body = expect4xx(res);
    if (body.details === null) continue;
    const details = JSON.parse(body.details);
    if (body.code === 'validation_failed') assert.ok(Array.isArray(details), show(res));
    else assert.ok(details !== null && typeof details === 'object' && !Array.isArray(details), show(res));
  }
});
