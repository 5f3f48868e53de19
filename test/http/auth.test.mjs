// Who may call what: anonymous callers, bad tokens, the OpenAPI document.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  api, createUser, createProject, createTask, list, mintJwt, userToken, JWT_SECRET,
  expectError, expect4xx, expectStatus, show,
} from './lib.mjs';

const RESOURCES = ['/projects', '/tasks', '/project_members', '/invitations', '/users'];

test('anonymous callers get 401 on every resource, read or write', async () => {
  const owner = await createUser();
  const p = await createProject(owner.token);
  const t = await createTask(owner.token, p.id);

  for (const path of RESOURCES) {
    const res = await api('GET', path);
    expectError(res, 401);
  }
  expectError(await api('GET', `/tasks?id=eq.${t.id}`), 401);
  expectError(await api('POST', '/projects', { body: { name: 'anon' } }), 401);
  expectError(await api('POST', '/tasks', { body: { project_id: p.id, title: 'anon' } }), 401);
  expectError(await api('POST', '/project_members', { body: { project_id: p.id, user_id: owner.id } }), 401);
  expectError(await api('POST', '/invitations', { body: { project_id: p.id, user_id: owner.id } }), 401);
  expectError(await api('DELETE', `/invitations?project_id=eq.${p.id}`), 401);
  expectError(await api('POST', '/rpc/accept_invitation', { body: { id: randomUUID() } }), 401);
  expectError(await api('POST', '/rpc/decline_invitation', { body: { id: randomUUID() } }), 401);
  expectError(await api('PATCH', `/tasks?id=eq.${t.id}`, { body: { title: 'anon' } }), 401);
  expectError(await api('PATCH', `/users?id=eq.${owner.id}`, { body: { display_name: 'anon' } }), 401);
  expectError(await api('DELETE', `/tasks?id=eq.${t.id}`), 401);
  expectError(await api('DELETE', `/projects?id=eq.${p.id}`), 401);

  const [still] = await list(`/tasks?id=eq.${t.id}`, owner.token);
  assert.deepEqual(still, t);
  assert.equal((await list('/projects', owner.token)).length, 1);
});

test('GET / serves the OpenAPI document: anonymously signup and login only; signed in, with descriptions on views and columns', async () => {
  const anon = await api('GET', '/');
  expectStatus(anon, 200);
  assert.deepEqual(Object.keys(anon.body.paths).sort(), ['/', '/rpc/login', '/rpc/openapi', '/rpc/signup']);
  const owner = await createUser();
  const res = await api('GET', '/', { token: owner.token });
  expectStatus(res, 200);
  assert.equal(typeof res.body, 'object', show(res));
  assert.match(res.body.openapi, /^3\.1\./);
  assert.match(res.body.info?.title ?? '', /task_api/, 'the document title');
  const defs = res.body.components.schemas;
  for (const view of ['users', 'projects', 'project_members', 'invitations', 'tasks', 'trash']) {
    assert.ok(defs[view], `definition of ${view}`);
    assert.equal(typeof defs[view].description, 'string', `description of ${view}`);
    assert.ok(defs[view].description.trim().length > 0, `description of ${view}`);
    for (const [col, prop] of Object.entries(defs[view].properties)) {
      assert.equal(typeof prop.description, 'string', `description of ${view}.${col}`);
      assert.ok(prop.description.trim().length > 0, `description of ${view}.${col}`);
    }
    assert.ok(res.body.paths[`/${view}`], `path /${view}`);
  }
  assert.deepEqual(defs.tasks.properties.status.enum, ['todo', 'in_progress', 'blocked', 'done', 'cancelled']);
  // /rpc/change_password is the one path about passwords (issue 21).
  assert.ok(!Object.keys(res.body.paths).some((p) => /deleted|password/.test(p) && p !== '/rpc/change_password'));
  assert.ok(res.body.paths['/rpc/change_password'] && res.body.paths['/rpc/logout_all'], 'change_password and logout_all are documented');
  assert.ok(!JSON.stringify(defs).includes('password_hash'), 'internals are not exposed');
  // Only the trash shows when and by whom something was deleted.
  assert.deepEqual(Object.entries(defs).filter(([, d]) => d.properties && ('deleted_at' in d.properties || 'deleted_by' in d.properties))
    .map(([name]) => name), ['trash'], 'soft-delete columns are exposed by /trash only');
  assert.deepEqual(Object.keys(defs.trash.properties).sort(),
    ['deleted_at', 'deleted_by', 'id', 'project_id', 'purge_after', 'resource_type', 'title']);
  assert.ok(!Object.values(defs).some((d) => d.properties && 'deleted_with_project' in d.properties),
    'deleted_with_project is not exposed');
  for (const rpc of ['restore_task', 'restore_project', 'purge_task', 'purge_project']) {
    assert.ok(res.body.paths[`/rpc/${rpc}`], `path /rpc/${rpc}`);
  }
});

test('a token whose sub is not a UUID is unauthenticated (401)', async () => {
  for (const sub of ['not-a-uuid', '12345', '', ' ', `${randomUUID()}x`, 'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz']) {
    const token = userToken(JWT_SECRET, sub);
    expectError(await api('GET', '/projects', { token }), 401, 'unauthenticated');
    expectError(await api('POST', '/projects', { token, body: { name: 'x' } }), 401, 'unauthenticated');
  }
  for (const sub of [123, true, { id: randomUUID() }, [randomUUID()]]) {
    const token = mintJwt(JWT_SECRET, { sub, role: 'task_api_user', exp: Math.floor(Date.now() / 1000) + 600 });
    expectError(await api('GET', '/tasks', { token }), 401);
  }
});

test('a user token without a sub is unauthenticated (401)', async () => {
  const token = mintJwt(JWT_SECRET, { role: 'task_api_user', exp: Math.floor(Date.now() / 1000) + 600 });
  expectError(await api('GET', '/projects', { token }), 401, 'unauthenticated');
  expectError(await api('POST', '/projects', { token, body: { name: 'no sub' } }), 401, 'unauthenticated');
});

test('a token signed with the wrong secret, expired, or garbage is 401 from PostgREST', async () => {
  const u = await createUser();
  const wrong = userToken('this-is-not-the-secret-but-is-long-enough-0123456789', u.id);
  let res = await api('GET', '/projects', { token: wrong });
  expectError(res, 401, /^PGRST30\d$/);
  res = await api('POST', '/projects', { token: wrong, body: { name: 'forged' } });
  expectError(res, 401, /^PGRST30\d$/);

  const expired = userToken(JWT_SECRET, u.id, -120);
  expectError(await api('GET', '/projects', { token: expired }), 401, /^PGRST30\d$/);

  // Tampered payload with the original signature.
  const good = u.token;
  const [h, , s] = good.split('.');
  const other = await createUser();
  const payload = Buffer.from(JSON.stringify({ sub: other.id, role: 'task_api_user', exp: Math.floor(Date.now() / 1000) + 600 })).toString('base64url');
  expectError(await api('GET', '/projects', { token: `${h}.${payload}.${s}` }), 401, /^PGRST30\d$/);

  // alg none.
  const none = mintJwt('', { sub: u.id, role: 'task_api_user' }, { header: { alg: 'none', typ: 'JWT' } });
  const [nh, np] = none.split('.');
  expectError(await api('GET', '/projects', { token: `${nh}.${np}.` }), 401);

  for (const token of ['garbage', 'a.b.c', '...', 'x'.repeat(5000)]) {
    expectError(await api('GET', '/projects', { token }), 401);
  }
  res = await api('GET', '/projects', { headers: { Authorization: 'Basic dXNlcjpwYXNz' } });
  expect4xx(res);

  // The genuine token still works.
  expectStatus(await api('GET', '/projects', { token: good }), 200);
});

test('a token cannot switch to a privileged or unknown role', async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  const exp = Math.floor(Date.now() / 1000) + 600;
  for (const role of ['postgres', 'task_api_authenticator', 'pg_read_all_data', 'no_such_role']) {
    const token = mintJwt(JWT_SECRET, { sub: u.id, role, exp });
    const res = await api('GET', '/projects', { token });
    expect4xx(res);
    const w = await api('PATCH', `/projects?id=eq.${p.id}`, { token, body: { name: 'escalated' } });
    expect4xx(w);
  }
  const [now] = await list(`/projects?id=eq.${p.id}`, u.token);
  assert.equal(now.name, p.name);
});

test('a well-formed token for a user that does not exist reads nothing and writes nothing', async () => {
  const token = userToken(JWT_SECRET, randomUUID());
  const res = await api('GET', '/projects', { token });
  assert.ok(res.status === 200 || res.status === 401, show(res));
  if (res.status === 200) assert.deepEqual(res.body, []);
  const w = await api('POST', '/projects', { token, body: { name: 'ghost' } });
  expect4xx(w);
});
