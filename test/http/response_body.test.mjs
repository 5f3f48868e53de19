// Response bodies through PostgREST are written by api.json_agg(record)
// (sql/install/89_response_body.sql, src/json_agg.c): the text must be the
// one pg_catalog.json_agg() writes for the same rows, byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, createUser, createProject, createTask, addMember, psql, show } from './lib.mjs';

// pg_catalog.json_agg() of rows of an api view, read as the superuser.  The
// rows are materialized first, so that on Citus the aggregate runs on the
// coordinator: pushed to a worker, Citus sends the row without its column
// names and pg_catalog.json_agg() writes them as f1, f2, ...
async function builtinBody(query, vars, expression = 'pg_catalog.json_agg(t)') {
  return psql(`WITH q AS MATERIALIZED (${query}) SELECT ${expression} FROM q t;`, vars);
}

test('GET /tasks: the body is pg_catalog.json_agg()\'s text, escapes and NULLs included', async () => {
  const u = await createUser();
  const p = await createProject(u.token, { description: 'quote " backslash \\ tab \t é 😀' });
  await createTask(u.token, p.id, { title: 'line\nbreak "quoted"', description: '\u0001 control', priority: 4, due_date: '2027-02-03' });
  await createTask(u.token, p.id, { title: 'done one', status: 'done' });
  await createTask(u.token, p.id, { title: 'plain', status: 'blocked', description: null });
  const res = await api('GET', `/tasks?project_id=eq.${p.id}&order=title`, { token: u.token });
  assert.equal(res.status, 200, show(res));
  assert.equal(res.body.length, 3);
  const expected = await builtinBody("SELECT * FROM api.tasks WHERE project_id = :'p' ORDER BY title", { p: p.id });
  assert.equal(res.text, expected);
});

test('GET /projects, /project_members and a chosen column list: the same text as pg_catalog.json_agg()', async () => {
  const owner = await createUser({ displayName: 'Owner "O"' });
  const member = await createUser();
  const p = await createProject(owner.token, { description: 'multi\nline' });
  await addMember(owner.token, p.id, member, 'editor');

  let res = await api('GET', `/projects?id=eq.${p.id}`, { token: owner.token });
  assert.equal(res.status, 200, show(res));
  assert.equal(res.text, await builtinBody("SELECT * FROM api.projects WHERE id = :'p'", { p: p.id }));

  res = await api('GET', `/project_members?project_id=eq.${p.id}&order=user_id`, { token: owner.token });
  assert.equal(res.status, 200, show(res));
  assert.equal(res.text, await builtinBody("SELECT * FROM api.project_members WHERE project_id = :'p' ORDER BY user_id", { p: p.id }));

  res = await api('GET', `/projects?id=eq.${p.id}&select=name,created_at,owner_id`, { token: owner.token });
  assert.equal(res.status, 200, show(res));
  assert.equal(res.text, await builtinBody("SELECT name, created_at, owner_id FROM api.projects WHERE id = :'p'", { p: p.id }));
});

test('an empty list is [] and a single object (vnd.pgrst.object) is unchanged', async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  let res = await api('GET', `/tasks?project_id=eq.${p.id}`, { token: u.token });
  assert.equal(res.status, 200, show(res));
  assert.equal(res.text, '[]');
  const t = await createTask(u.token, p.id, { title: 'only' });
  res = await api('GET', `/tasks?id=eq.${t.id}`, { token: u.token, headers: { Accept: 'application/vnd.pgrst.object+json' } });
  assert.equal(res.status, 200, show(res));
  assert.equal(res.text, await builtinBody("SELECT * FROM api.tasks WHERE id = :'t'", { t: t.id }, 'pg_catalog.json_agg(t) -> 0'));
});
