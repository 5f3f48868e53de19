// /projects through PostgREST: CRUD, validation, uniqueness, version,
// PostgREST query features (filters, select, order, limit, count, embedding).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  api, createUser, createProject, createTask, addMember, list, uniqueName,
  expectError, expectValidation, expectStatus, fields, show, REPRESENTATION, enc,
} from './lib.mjs';

const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('POST /projects returns the new project and makes the creator its owner', async () => {
  const u = await createUser();
  const name = uniqueName('Launch');
  const res = await api('POST', '/projects', {
    token: u.token, headers: REPRESENTATION,
    body: { name: `  ${name}\t\n`, description: 'the launch plan' },
  });
  expectStatus(res, 201);
  assert.equal(res.body.length, 1);
  const p = res.body[0];
  assert.match(p.id, UUIDV7);
  assert.equal(p.name, name, 'name is trimmed');
  assert.equal(p.description, 'the launch plan');
  assert.equal(p.owner_id, u.id);
  assert.equal(p.version, 1);
  assert.ok(!Number.isNaN(Date.parse(p.created_at)), 'created_at is a timestamp');
  assert.equal(p.updated_at, p.created_at);
  assert.deepEqual(Object.keys(p).sort(),
    ['created_at', 'description', 'id', 'name', 'owner_id', 'updated_at', 'version']);

  const members = await list(`/project_members?project_id=eq.${p.id}`, u.token);
  assert.equal(members.length, 1);
  assert.equal(members[0].user_id, u.id);
  assert.equal(members[0].role, 'owner');
  assert.equal(members[0].email, null);

  const got = await list(`/projects?id=eq.${p.id}`, u.token);
  assert.deepEqual(got, [p]);
});

test('POST /projects without return=representation answers 201 with no body', async () => {
  const u = await createUser();
  const name = uniqueName();
  const res = await api('POST', '/projects', { token: u.token, body: { name } });
  expectStatus(res, 201);
  assert.equal(res.body, null);
  const got = await list(`/projects?name=eq.${enc(name)}`, u.token);
  assert.equal(got.length, 1);
  assert.equal(got[0].owner_id, u.id);
});

test('PATCH /projects changes name and description and bumps version; a no-op PATCH does not', async () => {
  const u = await createUser();
  const p = await createProject(u.token, { description: 'first' });
  const newName = uniqueName('Renamed');
  let res = await api('PATCH', `/projects?id=eq.${p.id}`, {
    token: u.token, headers: REPRESENTATION, body: { name: ` ${newName} `, description: 'second' },
  });
  expectStatus(res, 200);
  assert.equal(res.body.length, 1);
  const p2 = res.body[0];
  assert.equal(p2.id, p.id);
  assert.equal(p2.name, newName);
  assert.equal(p2.description, 'second');
  assert.equal(p2.version, 2);
  assert.equal(p2.created_at, p.created_at);
  assert.ok(Date.parse(p2.updated_at) >= Date.parse(p.updated_at));

  // Same values again (name with whitespace that trims away): nothing changes.
  res = await api('PATCH', `/projects?id=eq.${p.id}`, {
    token: u.token, headers: REPRESENTATION, body: { name: `${newName}  `, description: 'second' },
  });
  expectStatus(res, 200);
  assert.equal(res.body[0].version, 2, 'a no-op PATCH keeps the version');
  assert.equal(res.body[0].updated_at, p2.updated_at, 'a no-op PATCH keeps updated_at');

  res = await api('PATCH', `/projects?id=eq.${p.id}`, {
    token: u.token, headers: REPRESENTATION, body: { description: null },
  });
  expectStatus(res, 200);
  assert.equal(res.body[0].description, null);
  assert.equal(res.body[0].version, 3);
  const [now] = await list(`/projects?id=eq.${p.id}`, u.token);
  assert.equal(now.version, 3);
  assert.equal(now.name, newName);
});

test('project validation lists every problem', async () => {
  const u = await createUser();
  let res = await api('POST', '/projects', { token: u.token, body: {} });
  assert.deepEqual(expectValidation(res), [{ field: 'name', problem: 'is required' }]);

  res = await api('POST', '/projects', { token: u.token, body: { name: ' \t\n ' } });
  assert.deepEqual(expectValidation(res), [{ field: 'name', problem: 'must not be blank' }]);

  res = await api('POST', '/projects', { token: u.token, body: { name: 'x'.repeat(121) } });
  assert.deepEqual(expectValidation(res), [{ field: 'name', problem: 'must be at most 120 characters' }]);

  res = await api('POST', '/projects', {
    token: u.token, body: { name: '', description: 'd'.repeat(10001) },
  });
  assert.deepEqual(fields(expectValidation(res)), ['description', 'name']);

  // Limits are inclusive.
  const ok = await createProject(u.token, { name: 'y'.repeat(120), description: 'd'.repeat(10000) });
  assert.equal(ok.name.length, 120);
  assert.equal(ok.description.length, 10000);

  // Nothing invalid was stored.
  const mine = await list('/projects?select=id', u.token);
  assert.deepEqual(mine, [{ id: ok.id }]);
});

test('server-owned project fields are refused on POST and PATCH, all listed at once', async () => {
  const u = await createUser();
  const other = await createUser();
  let res = await api('POST', '/projects', {
    token: u.token,
    body: {
      name: '   ', id: '01890a5d-ac96-774b-bcce-b302099a8057', owner_id: other.id,
      created_at: '2020-01-01T00:00:00Z', updated_at: '2020-01-01T00:00:00Z', version: 7,
    },
  });
  assert.deepEqual(fields(expectValidation(res)),
    ['created_at', 'id', 'name', 'owner_id', 'updated_at', 'version']);
  assert.deepEqual(await list('/projects', u.token), []);

  const p = await createProject(u.token);
  res = await api('PATCH', `/projects?id=eq.${p.id}`, {
    token: u.token,
    body: {
      id: '01890a5d-ac96-774b-bcce-b302099a8057', owner_id: other.id,
      created_at: '2020-01-01T00:00:00Z', updated_at: '2020-01-01T00:00:00Z', version: 9,
    },
  });
  const problems = expectValidation(res);
  assert.deepEqual(fields(problems), ['created_at', 'id', 'owner_id', 'updated_at', 'version']);
  for (const pr of problems) assert.match(pr.problem, /set by the server/);

  for (const body of [{ version: 5 }, { owner_id: other.id }, { created_at: '2001-02-03T04:05:06Z' }]) {
    res = await api('PATCH', `/projects?id=eq.${p.id}`, { token: u.token, body });
    assert.deepEqual(fields(expectValidation(res)), Object.keys(body));
  }
  const [now] = await list(`/projects?id=eq.${p.id}`, u.token);
  assert.deepEqual(now, p, 'refused PATCHes changed nothing');
});

test('project names are unique per owner among live projects', async () => {
  const a = await createUser();
  const b = await createUser();
  const name = uniqueName('Same');
  const p = await createProject(a.token, { name });

  let res = await api('POST', '/projects', { token: a.token, body: { name } });
  expectError(res, 409, 'conflict');
  res = await api('POST', '/projects', { token: a.token, body: { name: `  ${name} ` } });
  expectError(res, 409, 'conflict');

  // Another owner may use the same name.
  const pb = await createProject(b.token, { name });
  assert.equal(pb.name, name);

  // Renaming onto an existing name conflicts; renaming to itself does not.
  const q = await createProject(a.token);
  res = await api('PATCH', `/projects?id=eq.${q.id}`, { token: a.token, body: { name } });
  expectError(res, 409, 'conflict');
  res = await api('PATCH', `/projects?id=eq.${p.id}`, { token: a.token, headers: REPRESENTATION, body: { name } });
  expectStatus(res, 200);
  assert.equal(res.body[0].version, 1);

  // Once the project is deleted its name is free again.
  res = await api('DELETE', `/projects?id=eq.${p.id}`, { token: a.token });
  expectStatus(res, 204);
  const again = await createProject(a.token, { name });
  assert.notEqual(again.id, p.id);
  assert.equal(again.name, name);
});

test('DELETE /projects by the owner removes it, its tasks and memberships from the API', async () => {
  const owner = await createUser();
  const editor = await createUser();
  const p = await createProject(owner.token);
  await addMember(owner.token, p.id, editor, 'editor');
  const t = await createTask(owner.token, p.id);

  const res = await api('DELETE', `/projects?id=eq.${p.id}`, { token: owner.token, headers: REPRESENTATION });
  expectStatus(res, 200);
  assert.equal(res.body.length, 1);
  assert.equal(res.body[0].id, p.id);

  for (const who of [owner, editor]) {
    assert.deepEqual(await list(`/projects?id=eq.${p.id}`, who.token), []);
    assert.deepEqual(await list(`/tasks?id=eq.${t.id}`, who.token), []);
    assert.deepEqual(await list(`/project_members?project_id=eq.${p.id}`, who.token), []);
  }
  // Deleting again affects nothing.
  const again = await api('DELETE', `/projects?id=eq.${p.id}`, { token: owner.token, headers: REPRESENTATION });
  expectStatus(again, 200);
  assert.deepEqual(again.body, []);
});

test('only owners change or delete a project: editors and viewers get forbidden', async () => {
  const owner = await createUser();
  const editor = await createUser();
  const viewer = await createUser();
  const p = await createProject(owner.token);
  await addMember(owner.token, p.id, editor, 'editor');
  await addMember(owner.token, p.id, viewer, 'viewer');

  for (const who of [editor, viewer]) {
    assert.equal((await list(`/projects?id=eq.${p.id}`, who.token)).length, 1, 'members see the project');
    let res = await api('PATCH', `/projects?id=eq.${p.id}`, { token: who.token, body: { name: 'taken over' } });
    expectError(res, 403, 'forbidden');
    res = await api('DELETE', `/projects?id=eq.${p.id}`, { token: who.token });
    expectError(res, 403, 'forbidden');
  }
  const [now] = await list(`/projects?id=eq.${p.id}`, owner.token);
  assert.deepEqual(now, p);
});

test('GET /projects: filters, select, order, limit, offset and count=exact', async () => {
  const u = await createUser();
  const tag = uniqueName('tag').replace(' ', '-');
  const names = ['alpha', 'beta', 'gamma', 'delta'].map((n) => `${n} ${tag}`);
  const created = [];
  for (const name of names) created.push(await createProject(u.token, { name, description: name.startsWith('beta') ? 'b' : null }));

  // order + select
  let rows = await list(`/projects?select=name&order=name.asc`, u.token);
  assert.deepEqual(rows, [...names].sort().map((name) => ({ name })));

  // filters
  rows = await list(`/projects?select=id&name=eq.${enc(names[2])}`, u.token);
  assert.deepEqual(rows, [{ id: created[2].id }]);
  rows = await list(`/projects?select=name&name=like.${enc('*ta ' + tag)}&order=name.desc`, u.token);
  assert.deepEqual(rows.map((r) => r.name), [`delta ${tag}`, `beta ${tag}`]);
  rows = await list(`/projects?select=name&description=is.null&order=name`, u.token);
  assert.deepEqual(rows.map((r) => r.name), [`alpha ${tag}`, `delta ${tag}`, `gamma ${tag}`]);
  rows = await list(`/projects?select=name&or=(name.eq.${enc(names[0])},name.eq.${enc(names[3])})&order=name`, u.token);
  assert.deepEqual(rows.map((r) => r.name), [`alpha ${tag}`, `delta ${tag}`]);
  rows = await list(`/projects?select=name&id=in.(${created[1].id},${created[3].id})&order=created_at`, u.token);
  assert.deepEqual(rows.map((r) => r.name), [names[1], names[3]]);

  // limit + offset
  rows = await list(`/projects?select=name&order=name.asc&limit=2&offset=1`, u.token);
  assert.deepEqual(rows.map((r) => r.name), [`beta ${tag}`, `delta ${tag}`]);

  // count=exact
  let res = await api('GET', '/projects?select=id', { token: u.token, headers: { Prefer: 'count=exact' } });
  expectStatus(res, 200);
  assert.equal(res.headers.get('content-range'), '0-3/4');
  res = await api('GET', '/projects?select=id&order=name&limit=2', { token: u.token, headers: { Prefer: 'count=exact' } });
  assert.equal(res.status, 206, show(res));
  assert.equal(res.headers.get('content-range'), '0-1/4');
  assert.equal(res.body.length, 2);
  res = await api('GET', '/projects?select=id&description=eq.b', { token: u.token, headers: { Prefer: 'count=exact' } });
  expectStatus(res, 200);
  assert.equal(res.headers.get('content-range'), '0-0/1');
  // HEAD with count: the total only.
  res = await api('HEAD', '/projects', { token: u.token, headers: { Prefer: 'count=exact' } });
  expectStatus(res, 200);
  assert.equal(res.headers.get('content-range'), '0-3/4');
});

test('embedding: /projects?select=id,name,tasks(id,title) and tasks with their project', async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  const empty = await createProject(u.token);
  const t1 = await createTask(u.token, p.id, { title: 'one' });
  const t2 = await createTask(u.token, p.id, { title: 'two' });

  const rows = await list(`/projects?select=id,name,tasks(id,title)&order=created_at`, u.token);
  assert.equal(rows.length, 2);
  assert.deepEqual(Object.keys(rows[0]).sort(), ['id', 'name', 'tasks']);
  assert.equal(rows[0].id, p.id);
  assert.equal(rows[0].name, p.name);
  const byId = (a, b) => (a.id < b.id ? -1 : 1);
  assert.deepEqual([...rows[0].tasks].sort(byId), [{ id: t1.id, title: 'one' }, { id: t2.id, title: 'two' }].sort(byId));
  assert.deepEqual(rows[1], { id: empty.id, name: empty.name, tasks: [] });

  // Ordered and filtered embedding.
  const one = await list(`/projects?select=id,tasks(title)&id=eq.${p.id}&tasks.order=title.desc`, u.token);
  assert.deepEqual(one, [{ id: p.id, tasks: [{ title: 'two' }, { title: 'one' }] }]);

  // Many-to-one the other way.
  const tasks = await list(`/tasks?select=id,projects(id,name)&id=eq.${t1.id}`, u.token);
  assert.deepEqual(tasks, [{ id: t1.id, projects: { id: p.id, name: p.name } }]);

  // Another user's embedding shows nothing of this.
  const stranger = await createUser();
  assert.deepEqual(await list('/projects?select=id,name,tasks(id,title)', stranger.token), []);
});

test('a co-owner renaming onto a name the primary owner already uses gets conflict (409)', async () => {
  const a = await createUser();
  const b = await createUser();
  const name = uniqueName('Private');
  await createProject(a.token, { name }); // only a sees it
  const shared = await createProject(a.token);
  await addMember(a.token, shared.id, b, 'owner');
  // Names are unique per owner (owner_id = a), whether or not b can see a's other project.
  const res = await api('PATCH', `/projects?id=eq.${shared.id}`, { token: b.token, body: { name } });
  expectError(res, 409, 'conflict');
  const [now] = await list(`/projects?id=eq.${shared.id}`, b.token);
  assert.equal(now.name, shared.name);
});
