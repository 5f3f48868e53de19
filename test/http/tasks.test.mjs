// /tasks through PostgREST: CRUD, validation, server-owned fields, version
// and completed_at, bad input that PostgreSQL rejects, PUT.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  api, createUser, createProject, createTask, addMember, list, projectWithMembers,
  expectError, expect4xx, expectValidation, expectStatus, fields, show, REPRESENTATION, NIL_UUID, onCitus,
} from './lib.mjs';

const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

async function patchTask(token, id, body, headers = REPRESENTATION) {
  return api('PATCH', `/tasks?id=eq.${id}`, { token, body, headers });
}

async function getTask(token, id) {
  const rows = await list(`/tasks?id=eq.${id}`, token);
  assert.equal(rows.length, 1, `task ${id} should be visible`);
  return rows[0];
}

test('POST /tasks with defaults; title is trimmed; server fields are filled', async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  const res = await api('POST', '/tasks', {
    token: u.token, headers: REPRESENTATION, body: { project_id: p.id, title: ' \t Write the spec \n ' },
  });
  expectStatus(res, 201);
  assert.equal(res.body.length, 1);
  const t = res.body[0];
  assert.match(t.id, UUIDV7);
  assert.equal(t.project_id, p.id);
  assert.equal(t.title, 'Write the spec');
  assert.equal(t.status, 'todo');
  assert.equal(t.priority, 2);
  assert.equal(t.description, null);
  assert.equal(t.assignee_id, null);
  assert.equal(t.due_date, null);
  assert.equal(t.created_by, u.id);
  assert.equal(t.completed_at, null);
  assert.equal(t.version, 1);
  assert.ok(!Number.isNaN(Date.parse(t.created_at)));
  assert.equal(t.updated_at, t.created_at);
  assert.deepEqual(Object.keys(t).sort(), ['assignee_id', 'completed_at', 'created_at', 'created_by',
    'description', 'due_date', 'id', 'priority', 'project_id', 'status', 'title', 'updated_at', 'version']);
  assert.deepEqual(await getTask(u.token, t.id), t);
});

test('POST /tasks with every writable field', async () => {
  const { owner, project, members } = await projectWithMembers(['editor']);
  const t = await createTask(owner.token, project.id, {
    title: 'Ship it', description: 'all of it', status: 'in_progress', priority: 0,
    due_date: '2030-01-31', assignee_id: members.editor.id,
  });
  assert.equal(t.title, 'Ship it');
  assert.equal(t.description, 'all of it');
  assert.equal(t.status, 'in_progress');
  assert.equal(t.priority, 0);
  assert.equal(t.due_date, '2030-01-31');
  assert.equal(t.assignee_id, members.editor.id);
  assert.equal(t.completed_at, null);
  const t4 = await createTask(owner.token, project.id, { priority: 4, status: 'blocked' });
  assert.equal(t4.priority, 4);
  assert.equal(t4.status, 'blocked');
  const tc = await createTask(owner.token, project.id, { status: 'cancelled' });
  assert.equal(tc.status, 'cancelled');
  assert.equal(tc.completed_at, null);
});

test('PATCH and DELETE /tasks', async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  const t = await createTask(u.token, p.id, { title: 'before' });

  let res = await patchTask(u.token, t.id, { title: ' after ', priority: 4, due_date: '2031-12-01', description: 'x' });
  expectStatus(res, 200);
  assert.equal(res.body.length, 1);
  const t2 = res.body[0];
  assert.equal(t2.title, 'after');
  assert.equal(t2.priority, 4);
  assert.equal(t2.due_date, '2031-12-01');
  assert.equal(t2.description, 'x');
  assert.equal(t2.version, 2);
  assert.equal(t2.created_at, t.created_at);
  assert.equal(t2.created_by, u.id);
  assert.ok(Date.parse(t2.updated_at) >= Date.parse(t.updated_at));
  assert.deepEqual(await getTask(u.token, t.id), t2);

  // Without return=representation: 204.
  res = await patchTask(u.token, t.id, { due_date: null }, {});
  expectStatus(res, 204);
  assert.equal((await getTask(u.token, t.id)).due_date, null);

  res = await api('DELETE', `/tasks?id=eq.${t.id}`, { token: u.token, headers: REPRESENTATION });
  expectStatus(res, 200);
  assert.equal(res.body.length, 1);
  assert.equal(res.body[0].id, t.id);
  assert.deepEqual(await list(`/tasks?id=eq.${t.id}`, u.token), []);
  res = await patchTask(u.token, t.id, { title: 'ghost' });
  expectStatus(res, 200);
  assert.deepEqual(res.body, [], 'a deleted task cannot be patched');
  res = await api('DELETE', `/tasks?id=eq.${t.id}`, { token: u.token });
  expectStatus(res, 204);
});

test('version starts at 1 and goes up by one on each real change, never on a no-op PATCH', async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  const t = await createTask(u.token, p.id, { title: 'steady', priority: 1 });
  assert.equal(t.version, 1);

  let res = await patchTask(u.token, t.id, { title: 'steady' });
  expectStatus(res, 200);
  assert.equal(res.body[0].version, 1, 'same title: no change');
  assert.equal(res.body[0].updated_at, t.updated_at);

  res = await patchTask(u.token, t.id, { title: '  steady  ', priority: 1, status: 'todo' });
  expectStatus(res, 200);
  assert.equal(res.body[0].version, 1, 'title that trims to the same value: no change');

  res = await patchTask(u.token, t.id, { priority: 3 });
  assert.equal(res.body[0].version, 2);
  res = await patchTask(u.token, t.id, { priority: 3 });
  assert.equal(res.body[0].version, 2);
  res = await patchTask(u.token, t.id, { description: 'now described' });
  assert.equal(res.body[0].version, 3);
  res = await patchTask(u.token, t.id, { description: 'now described', title: 'steady' });
  assert.equal(res.body[0].version, 3);
  assert.equal((await getTask(u.token, t.id)).version, 3);
});

test('completed_at is set when status becomes done and cleared when it leaves done', async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  const t = await createTask(u.token, p.id);
  assert.equal(t.completed_at, null);

  let res = await patchTask(u.token, t.id, { status: 'in_progress' });
  let row = expectStatus(res, 200)[0];
  assert.equal(row.status, 'in_progress');
  assert.equal(row.completed_at, null);
  assert.equal(row.version, 2);

  res = await patchTask(u.token, t.id, { status: 'done' });
  row = expectStatus(res, 200)[0];
  assert.equal(row.status, 'done');
  assert.equal(row.version, 3);
  assert.ok(row.completed_at, 'completed_at is set');
  assert.ok(Date.parse(row.completed_at) >= Date.parse(t.created_at));
  const completedAt = row.completed_at;

  // Still done: completed_at stays; a no-op status PATCH changes nothing.
  res = await patchTask(u.token, t.id, { title: 'renamed while done' });
  row = expectStatus(res, 200)[0];
  assert.equal(row.completed_at, completedAt);
  assert.equal(row.version, 4);
  res = await patchTask(u.token, t.id, { status: 'done' });
  row = expectStatus(res, 200)[0];
  assert.equal(row.completed_at, completedAt);
  assert.equal(row.version, 4);

  res = await patchTask(u.token, t.id, { status: 'todo' });
  row = expectStatus(res, 200)[0];
  assert.equal(row.status, 'todo');
  assert.equal(row.completed_at, null, 'completed_at is cleared');
  assert.equal(row.version, 5);

  res = await patchTask(u.token, t.id, { status: 'done' });
  row = expectStatus(res, 200)[0];
  assert.ok(row.completed_at);
  assert.equal(row.version, 6);
  res = await patchTask(u.token, t.id, { status: 'cancelled' });
  row = expectStatus(res, 200)[0];
  assert.equal(row.completed_at, null);

  // Created done: completed_at set at once, version 1.
  const d = await createTask(u.token, p.id, { status: 'done' });
  assert.ok(d.completed_at);
  assert.equal(d.version, 1);
});

test('task validation_failed lists every problem', async () => {
  const u = await createUser();
  const p = await createProject(u.token);

  let res = await api('POST', '/tasks', { token: u.token, body: { project_id: p.id } });
  assert.deepEqual(expectValidation(res), [{ field: 'title', problem: 'is required' }]);

  res = await api('POST', '/tasks', { token: u.token, body: { title: 'no project' } });
  assert.deepEqual(expectValidation(res), [{ field: 'project_id', problem: 'is required' }]);

  res = await api('POST', '/tasks', { token: u.token, body: { project_id: p.id, title: ' \n\t ' } });
  assert.deepEqual(expectValidation(res), [{ field: 'title', problem: 'must not be blank' }]);

  res = await api('POST', '/tasks', { token: u.token, body: { project_id: p.id, title: 'x', priority: 5 } });
  assert.deepEqual(expectValidation(res), [{ field: 'priority', problem: 'must be between 0 and 4' }]);
  res = await api('POST', '/tasks', { token: u.token, body: { project_id: p.id, title: 'x', priority: -1 } });
  assert.deepEqual(fields(expectValidation(res)), ['priority']);

  res = await api('POST', '/tasks', { token: u.token, body: { project_id: p.id, title: 'x', status: null, priority: null } });
  assert.deepEqual(fields(expectValidation(res)), ['priority', 'status']);

  // Everything wrong at once, server-owned fields included.
  res = await api('POST', '/tasks', {
    token: u.token,
    body: {
      title: '', description: 'd'.repeat(10001), priority: 9, status: null,
      id: '01890a5d-ac96-774b-bcce-b302099a8057', created_by: u.id,
      created_at: '2020-01-01T00:00:00Z', updated_at: '2020-01-01T00:00:00Z',
      completed_at: '2020-01-01T00:00:00Z', version: 1,
    },
  });
  const problems = expectValidation(res);
  assert.deepEqual(fields(problems), ['completed_at', 'created_at', 'created_by', 'description', 'id',
    'priority', 'project_id', 'status', 'title', 'updated_at', 'version']);
  const byField = Object.fromEntries(problems.map((x) => [x.field, x.problem]));
  assert.equal(byField.title, 'must not be blank');
  assert.equal(byField.description, 'must be at most 10000 characters');
  assert.equal(byField.project_id, 'is required');
  for (const f of ['id', 'created_by', 'created_at', 'updated_at', 'completed_at', 'version']) {
    assert.equal(byField[f], 'is set by the server');
  }
  assert.deepEqual(await list('/tasks', u.token), [], 'no invalid task was stored');
});

test('title and description length limits; a 1 MB title is validation_failed, not a 500', async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  const t200 = await createTask(u.token, p.id, { title: 't'.repeat(200) });
  assert.equal(t200.title.length, 200);
  const padded = await createTask(u.token, p.id, { title: `   ${'p'.repeat(200)}   ` });
  assert.equal(padded.title, 'p'.repeat(200), 'trimmed before the length check');
  const multibyte = await createTask(u.token, p.id, { title: 'é'.repeat(200) });
  assert.equal(multibyte.title, 'é'.repeat(200), 'limit counts characters, not bytes');

  let res = await api('POST', '/tasks', { token: u.token, body: { project_id: p.id, title: 't'.repeat(201) } });
  assert.deepEqual(expectValidation(res), [{ field: 'title', problem: 'must be at most 200 characters' }]);

  res = await api('POST', '/tasks', { token: u.token, body: { project_id: p.id, title: 'M'.repeat(1024 * 1024) } });
  assert.deepEqual(expectValidation(res), [{ field: 'title', problem: 'must be at most 200 characters' }]);
  res = await api('PATCH', `/tasks?id=eq.${t200.id}`, { token: u.token, body: { title: 'M'.repeat(1024 * 1024) } });
  assert.deepEqual(expectValidation(res), [{ field: 'title', problem: 'must be at most 200 characters' }]);

  const d = await createTask(u.token, p.id, { description: 'd'.repeat(10000) });
  assert.equal(d.description.length, 10000);
  res = await api('PATCH', `/tasks?id=eq.${d.id}`, { token: u.token, body: { description: 'd'.repeat(10001) } });
  assert.deepEqual(expectValidation(res), [{ field: 'description', problem: 'must be at most 10000 characters' }]);
  assert.equal((await getTask(u.token, d.id)).version, 1);
});

test('server-owned task fields are refused on PATCH, every one listed, nothing changed', async () => {
  const u = await createUser();
  const other = await createUser();
  const p = await createProject(u.token);
  const t = await createTask(u.token, p.id);

  const res = await patchTask(u.token, t.id, {
    id: '01890a5d-ac96-774b-bcce-b302099a8057', created_by: other.id,
    created_at: '2020-01-01T00:00:00Z', updated_at: '2020-01-01T00:00:00Z',
    completed_at: '2020-01-01T00:00:00Z', version: 42, title: '', priority: 7,
  });
  const problems = expectValidation(res);
  assert.deepEqual(fields(problems), ['completed_at', 'created_at', 'created_by', 'id', 'priority',
    'title', 'updated_at', 'version']);

  for (const body of [{ version: 2 }, { completed_at: '2024-01-01T00:00:00Z' }, { created_by: other.id },
    { updated_at: '2030-01-01T00:00:00Z' }, { id: '01890a5d-ac96-774b-bcce-b302099a8057' }]) {
    const r = await patchTask(u.token, t.id, body);
    assert.deepEqual(expectValidation(r), [{ field: Object.keys(body)[0], problem: 'is set by the server' }]);
  }
  assert.deepEqual(await getTask(u.token, t.id), t, 'nothing changed');
});

test('assignee must be a member of the project; removing the member unassigns', async () => {
  const { owner, project, members } = await projectWithMembers(['viewer']);
  const outsider = await createUser();
  let res = await api('POST', '/tasks', {
    token: owner.token, body: { project_id: project.id, title: 'x', assignee_id: outsider.id },
  });
  assert.deepEqual(expectValidation(res), [{ field: 'assignee_id', problem: 'must be a member of the project' }]);
  res = await api('POST', '/tasks', {
    token: owner.token, body: { project_id: project.id, title: 'x', assignee_id: NIL_UUID },
  });
  assert.deepEqual(fields(expectValidation(res)), ['assignee_id']);

  const t = await createTask(owner.token, project.id, { assignee_id: members.viewer.id });
  assert.equal(t.assignee_id, members.viewer.id);
  res = await patchTask(owner.token, t.id, { assignee_id: outsider.id });
  assert.deepEqual(fields(expectValidation(res)), ['assignee_id']);
  res = await patchTask(owner.token, t.id, { assignee_id: owner.id });
  assert.equal(expectStatus(res, 200)[0].assignee_id, owner.id);
  res = await patchTask(owner.token, t.id, { assignee_id: members.viewer.id });
  assert.equal(expectStatus(res, 200)[0].assignee_id, members.viewer.id);

  res = await api('DELETE', `/project_members?project_id=eq.${project.id}&user_id=eq.${members.viewer.id}`,
    { token: owner.token });
  expectStatus(res, 204);
  const after = await getTask(owner.token, t.id);
  assert.equal(after.assignee_id, null, 'the task of a removed member becomes unassigned');
});

test('values PostgreSQL rejects (enum, uuid, date, types) are validation_failed naming the field, 400 in filters', async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  const t = await createTask(u.token, p.id);
  const post = (extra) => api('POST', '/tasks', { token: u.token, body: { project_id: p.id, title: 'x', ...extra } });
  const bad = async (res, field) => {
    const problems = expectValidation(await res);
    assert.ok(problems.some((x) => x.field === field), `${field} not listed: ${JSON.stringify(problems)}`);
    assert.doesNotMatch(JSON.stringify(problems), /task_api\.|enum|22P02/, 'no internal names');
  };

  await bad(post({ status: 'finished' }), 'status');
  await bad(post({ status: 'DONE' }), 'status');
  await bad(patchTask(u.token, t.id, { status: 'nope' }), 'status');
  await bad(post({ project_id: 'not-a-uuid' }), 'project_id');
  await bad(post({ assignee_id: '1234' }), 'assignee_id');
  await bad(patchTask(u.token, t.id, { assignee_id: 'zzz' }), 'assignee_id');
  await bad(post({ due_date: '2024-02-30' }), 'due_date');
  await bad(post({ due_date: 'tomorrow-ish' }), 'due_date');
  await bad(patchTask(u.token, t.id, { due_date: '31/31/2024' }), 'due_date');
  await bad(post({ priority: 'high' }), 'priority');
  await bad(post({ priority: 2.5 }), 'priority');
  await bad(post({ priority: true }), 'priority');
  await bad(post({ priority: 70000 }), 'priority');
  await bad(post({ priority: [1] }), 'priority');
  await bad(post({ due_date: { y: 2024 } }), 'due_date');
  await bad(post({ status: ['todo'] }), 'status');
  // Several at once: every field PostgreSQL cannot convert is listed.
  const all = expectValidation(await post({ project_id: 'x', assignee_id: 5, priority: 'high', due_date: 'soon',
    description: 'a\u0000b' }));
  assert.deepEqual(all.map((x) => x.field).sort(), ['assignee_id', 'description', 'due_date', 'priority', 'project_id']);

  // Filters with bad values: 400 invalid_parameter.
  for (const path of ['/tasks?id=eq.not-a-uuid', '/tasks?status=eq.bogus', '/tasks?due_date=lt.notadate',
    '/tasks?priority=gt.high']) {
    const body = expectError(await api('GET', path, { token: u.token }), 400, 'invalid_parameter');
    assert.equal(typeof JSON.parse(body.details).value, 'string', path);
  }

  assert.deepEqual(await getTask(u.token, t.id), t, 'nothing changed');
  assert.equal((await list('/tasks', u.token)).length, 1, 'nothing created');
});

test('malformed or unusable JSON bodies are 4xx with a code', async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  const t = await createTask(u.token, p.id);
  const bodies = ['{"title": ', '{title: "x"}', '', 'not json', '{"project_id": "x"', '[{"title":"a"},{"priority":1}]',
    '[1, 2]', '\u0000'];
  for (const rawBody of bodies) {
    for (const [method, path] of [['POST', '/tasks'], ['PATCH', `/tasks?id=eq.${t.id}`], ['POST', '/projects']]) {
      const res = await api(method, path, { token: u.token, rawBody });
      expect4xx(res);
    }
  }
  expectError(await api('POST', '/tasks', { token: u.token, rawBody: '{"title": ' }), 400, 'PGRST102');
  // A column that does not exist.
  expectError(await api('POST', '/tasks', { token: u.token, body: { project_id: p.id, title: 'x', colour: 'red' } }),
    400, 'PGRST204');
  expectError(await api('PATCH', `/tasks?id=eq.${t.id}`, { token: u.token, body: { deleted_at: '2020-01-01' } }),
    400, 'PGRST204');
  // Not JSON at all.
  expect4xx(await api('POST', '/tasks', { token: u.token, rawBody: 'title=x', headers: { 'Content-Type': 'text/plain' } }));
  assert.deepEqual(await getTask(u.token, t.id), t);
  assert.equal((await list('/tasks', u.token)).length, 1);
});

test('PUT and upsert are 405 method_not_allowed with Allow, and change nothing', async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  const t = await createTask(u.token, p.id);
  const full = { ...t, title: 'replaced' };
  const refused = (res, allow) => {
    expectError(res, 405, 'method_not_allowed');
    assert.equal(res.headers.get('allow'), allow, show(res));
    assert.ok(res.headers.get('ratelimit'), 'the RateLimit headers too');
  };
  refused(await api('PUT', `/tasks?id=eq.${t.id}`, { token: u.token, body: full, headers: REPRESENTATION }),
    'GET, POST, PATCH, DELETE');
  refused(await api('PUT', `/tasks?id=eq.${t.id}`, { token: u.token, body: { project_id: p.id, title: 'replaced' } }),
    'GET, POST, PATCH, DELETE');
  refused(await api('PUT', `/projects?id=eq.${p.id}`, { token: u.token, body: { id: p.id, name: 'replaced' } }),
    'GET, POST, PATCH, DELETE');
  for (const prefer of ['resolution=merge-duplicates', 'resolution=ignore-duplicates']) {
    refused(await api('POST', '/tasks', { token: u.token, headers: { Prefer: prefer }, body: full }),
      'GET, POST, PATCH, DELETE');
  }
  // Without a filter on the key PostgREST refuses PUT itself.
  expect4xx(await api('PUT', '/tasks', { token: u.token, body: { title: 'replaced' } }));
  assert.deepEqual(await getTask(u.token, t.id), t);
  assert.equal((await list(`/projects?id=eq.${p.id}`, u.token))[0].name, p.name);
});

test('GET /tasks: filters, select, order, limit and count=exact', async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  const q = await createProject(u.token);
  const a = await createTask(u.token, p.id, { title: 'a', priority: 0, status: 'done' });
  const b = await createTask(u.token, p.id, { title: 'b', priority: 4, due_date: '2030-05-01' });
  const c = await createTask(u.token, p.id, { title: 'c', priority: 3, description: 'needs review' });
  const d = await createTask(u.token, q.id, { title: 'd', priority: 4 });

  let rows = await list(`/tasks?select=title&project_id=eq.${p.id}&order=title`, u.token);
  assert.deepEqual(rows, [{ title: 'a' }, { title: 'b' }, { title: 'c' }]);
  rows = await list(`/tasks?select=id&status=eq.done`, u.token);
  assert.deepEqual(rows, [{ id: a.id }]);
  rows = await list(`/tasks?select=title&priority=gte.3&order=priority.desc,title.asc`, u.token);
  assert.deepEqual(rows.map((r) => r.title), ['b', 'd', 'c']);
  rows = await list(`/tasks?select=title&status=neq.done&project_id=eq.${p.id}&order=title.desc`, u.token);
  assert.deepEqual(rows.map((r) => r.title), ['c', 'b']);
  rows = await list(`/tasks?select=title&due_date=not.is.null`, u.token);
  assert.deepEqual(rows, [{ title: 'b' }]);
  rows = await list(`/tasks?select=title&description=ilike.*REVIEW*`, u.token);
  assert.deepEqual(rows, [{ title: 'c' }]);
  rows = await list(`/tasks?select=title&status=in.(done,todo)&order=title&limit=2`, u.token);
  assert.deepEqual(rows.map((r) => r.title), ['a', 'b']);
  rows = await list(`/tasks?select=title&order=title&limit=2&offset=2`, u.token);
  assert.deepEqual(rows.map((r) => r.title), ['c', 'd']);
  rows = await list(`/tasks?select=id,project_id&id=eq.${d.id}`, u.token);
  assert.deepEqual(rows, [{ id: d.id, project_id: q.id }]);
  rows = await list(`/tasks?select=title,version&order=created_at.asc`, u.token);
  assert.deepEqual(rows.map((r) => r.title), ['a', 'b', 'c', 'd']);
  assert.ok(rows.every((r) => r.version === 1));

  let res = await api('GET', `/tasks?project_id=eq.${p.id}&limit=1`, { token: u.token, headers: { Prefer: 'count=exact' } });
  assert.equal(res.status, 206, show(res));
  assert.equal(res.headers.get('content-range'), '0-0/3');
  res = await api('GET', `/tasks?select=id&priority=eq.4`, { token: u.token, headers: { Prefer: 'count=exact' } });
  expectStatus(res, 200);
  assert.equal(res.headers.get('content-range'), '0-1/2');
  res = await api('GET', `/tasks?select=id&priority=eq.1`, { token: u.token, headers: { Prefer: 'count=exact' } });
  expectStatus(res, 200);
  assert.deepEqual(res.body, []);
  assert.equal(res.headers.get('content-range'), '*/0');
  void c;
});

test('moving a task to another project needs editor rights there', async () => {
  const owner = await createUser();
  const p = await createProject(owner.token);
  const t = await createTask(owner.token, p.id);
  // A project where the owner is only a viewer, and one they cannot see.
  const other = await createUser();
  const viewOnly = await createProject(other.token);
  await addMember(other.token, viewOnly.id, owner, 'viewer');
  const hidden = await createProject(other.token);
  const mine = await createProject(owner.token);

  let res = await patchTask(owner.token, t.id, { project_id: viewOnly.id });
  expectError(res, 403, 'forbidden');
  res = await patchTask(owner.token, t.id, { project_id: hidden.id });
  assert.deepEqual(expectValidation(res), [{ field: 'project_id', problem: 'no such project' }]);
  assert.equal((await getTask(owner.token, t.id)).project_id, p.id);
  assert.deepEqual(await list('/tasks', other.token), [], 'nothing reached the other user\'s projects');

  // A project one cannot see answers exactly like one that does not exist.
  const hiddenPost = await api('POST', '/tasks', { token: owner.token, body: { project_id: hidden.id, title: 'x' } });
  const missingPost = await api('POST', '/tasks', { token: owner.token, body: { project_id: '01890a5d-ac96-774b-bcce-b302099a8057', title: 'x' } });
  assert.deepEqual(expectValidation(hiddenPost), [{ field: 'project_id', problem: 'no such project' }]);
  assert.equal(hiddenPost.status, missingPost.status);
  assert.deepEqual(hiddenPost.body, missingPost.body);

  res = await patchTask(owner.token, t.id, { project_id: mine.id });
  if (await onCitus()) {
    // On Citus a task stays in its project's shard group: the move is
    // refused, after the same checks (docs/scaling.md), and nothing changes.
    assert.deepEqual(fields(expectValidation(res)), ['project_id']);
    const kept = await getTask(owner.token, t.id);
    assert.equal(kept.project_id, p.id);
    assert.equal(kept.version, 1);
    return;
  }
  const row = expectStatus(res, 200)[0];
  assert.equal(row.project_id, mine.id);
  assert.equal(row.version, 2);
});
