// Soft delete, the trash, restore and purge (docs/contract.md §9), end to end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  api, createUser, createProject, createTask, addMember, list, expectError, expectStatus, psql, projectWithMembers,
  NIL_UUID, uniqueName,
} from './lib.mjs';

const del = (path, token, headers = {}) => api('DELETE', path, { token, headers });
const rpc = (name, token, id) => api('POST', `/rpc/${name}`, { token, body: { id } });
const ids = (rows) => rows.map((r) => r.id).sort();
const DAY = 24 * 3600 * 1000;

async function total(path, token) {
  const res = await api('GET', path, { token, headers: { Prefer: 'count=exact' } });
  expectStatus(res, 200);
  return Number(res.headers.get('content-range').split('/')[1]);
}

test('DELETE /tasks moves the task to the trash; it leaves lists, embedding and counts', async () => {
  const { owner, project, members } = await projectWithMembers(['editor']);
  const keep = await createTask(owner.token, project.id, { title: 'keep' });
  const gone = await createTask(owner.token, project.id, { title: 'gone' });
  assert.equal(await total(`/tasks?project_id=eq.${project.id}`, owner.token), 2);

  expectStatus(await del(`/tasks?id=eq.${gone.id}`, members.editor.token), 204);
  assert.deepEqual(ids(await list(`/tasks?project_id=eq.${project.id}`, owner.token)), [keep.id]);
  assert.deepEqual(await list(`/tasks?id=eq.${gone.id}`, owner.token), []);
  assert.equal(await total(`/tasks?project_id=eq.${project.id}`, owner.token), 1);
  const [embedded] = await list(`/projects?id=eq.${project.id}&select=id,tasks(id)`, owner.token);
  assert.deepEqual(ids(embedded.tasks), [keep.id], 'a trashed task is not embedded');

  const row = await psql(`SELECT deleted_at IS NOT NULL, deleted_by, deleted_with_project, version
                            FROM task_api.tasks WHERE id = :'id'`, { id: gone.id });
  assert.equal(row, `t|${members.editor.id}|f|2`, 'the row stays with deleted_at, deleted_by, version up by one');

  const trash = await list('/trash', owner.token);
  assert.equal(trash.length, 1);
  const item = trash[0];
  assert.equal(item.resource_type, 'task');
  assert.equal(item.id, gone.id);
  assert.equal(item.project_id, project.id);
  assert.equal(item.title, 'gone');
  assert.equal(item.deleted_by, members.editor.id);
  assert.equal(new Date(item.purge_after) - new Date(item.deleted_at), 30 * DAY, 'purge_after = deleted_at + 30 days');
  assert.deepEqual(Object.keys(item).sort(),
    ['deleted_at', 'deleted_by', 'id', 'project_id', 'purge_after', 'resource_type', 'title']);
});

test('a viewer cannot DELETE tasks; a non-member\'s DELETE affects nothing', async () => {
  const { owner, project, members } = await projectWithMembers(['viewer']);
  const task = await createTask(owner.token, project.id);
  expectError(await del(`/tasks?id=eq.${task.id}`, members.viewer.token), 403, 'forbidden');
  const stranger = await createUser();
  expectStatus(await del(`/tasks?id=eq.${task.id}`, stranger.token), 204);
  expectStatus(await del(`/projects?id=eq.${project.id}`, stranger.token), 204);
  assert.deepEqual(ids(await list(`/tasks?id=eq.${task.id}`, owner.token)), [task.id]);
  assert.deepEqual(ids(await list(`/projects?id=eq.${project.id}`, owner.token)), [project.id]);
  assert.equal(await psql(`SELECT count(*) FROM task_api.tasks WHERE id = :'id' AND deleted_at IS NULL`, { id: task.id }), '1');
});

test('DELETE /projects trashes the project with its live tasks; restore brings back exactly those', async () => {
  const { owner, project, members } = await projectWithMembers(['editor', 'viewer']);
  const before = await createTask(owner.token, project.id, { title: 'deleted before' });
  const t2 = await createTask(owner.token, project.id, { title: 'two' });
  const t3 = await createTask(owner.token, project.id, { title: 'three' });
  expectStatus(await del(`/tasks?id=eq.${before.id}`, owner.token), 204);
  const projectsBefore = await total('/projects', owner.token);

  expectError(await del(`/projects?id=eq.${project.id}`, members.editor.token), 403, 'forbidden');
  expectStatus(await del(`/projects?id=eq.${project.id}`, owner.token), 204);
  assert.deepEqual(await list(`/projects?id=eq.${project.id}`, owner.token), []);
  assert.equal(await total('/projects', owner.token), projectsBefore - 1);
  assert.deepEqual(await list(`/tasks?project_id=eq.${project.id}`, owner.token), []);
  assert.deepEqual(await list(`/tasks?project_id=eq.${project.id}`, members.editor.token), []);
  assert.deepEqual(await list(`/project_members?project_id=eq.${project.id}`, owner.token), []);
  assert.deepEqual(await list(`/project_members?project_id=eq.${project.id}`, members.viewer.token), []);

  const marks = await psql(`SELECT string_agg(title || ':' || (deleted_at IS NOT NULL) || ':' || deleted_with_project, ',' ORDER BY title)
                              FROM task_api.tasks WHERE project_id = :'p'`, { p: project.id });
  assert.equal(marks, 'deleted before:true:false,three:true:true,two:true:true');

  // The owner sees the project (not its tasks); editors and viewers see nothing of it.
  const ownerTrash = await list('/trash', owner.token);
  assert.deepEqual(ownerTrash.map((r) => `${r.resource_type} ${r.id}`), [`project ${project.id}`]);
  assert.equal(ownerTrash[0].project_id, project.id);
  assert.equal(ownerTrash[0].title, project.name);
  assert.equal(ownerTrash[0].deleted_by, owner.id);
  assert.deepEqual(await list('/trash', members.editor.token), []);
  assert.deepEqual(await list('/trash', members.viewer.token), []);

  // Tasks trashed with the project are not restored on their own.
  expectError(await rpc('restore_task', members.editor.token, t2.id), 404, 'not_found');
  expectError(await rpc('restore_task', owner.token, t2.id), 404, 'not_found');
  expectError(await rpc('restore_project', members.editor.token, project.id), 403, 'forbidden');
  expectError(await rpc('restore_project', members.viewer.token, project.id), 403, 'forbidden');
  expectError(await rpc('restore_project', (await createUser()).token, project.id), 404, 'not_found');

  const res = await rpc('restore_project', owner.token, project.id);
  expectStatus(res, 200);
  assert.equal(res.body.id, project.id);
  assert.equal(res.body.name, project.name);
  assert.equal(res.body.version, 3, 'trashing and restoring each bump the version');
  assert.equal(res.headers.get('etag'), '"3"');
  assert.deepEqual(ids(await list(`/tasks?project_id=eq.${project.id}`, owner.token)), [t2.id, t3.id].sort());
  assert.equal((await list(`/project_members?project_id=eq.${project.id}`, owner.token)).length, 3);
  assert.deepEqual((await list('/trash', owner.token)).map((r) => `${r.resource_type} ${r.id}`), [`task ${before.id}`],
    'the task deleted before stays in the trash');
  assert.deepEqual((await list('/trash', members.editor.token)).map((r) => r.id), [before.id]);
  assert.deepEqual(await list('/trash', members.viewer.token), []);
  expectError(await rpc('restore_project', owner.token, project.id), 404, 'not_found');
});

test('POST /rpc/restore_task: 200 with the task and ETag; 404 and 403 cases', async () => {
  const { owner, project, members } = await projectWithMembers(['editor', 'viewer']);
  const task = await createTask(owner.token, project.id, { title: 'back' });
  const live = await createTask(owner.token, project.id, { title: 'live' });
  expectStatus(await del(`/tasks?id=eq.${task.id}`, owner.token), 204);

  expectError(await rpc('restore_task', members.viewer.token, task.id), 403, 'forbidden');
  expectError(await rpc('restore_task', (await createUser()).token, task.id), 404, 'not_found');
  expectError(await rpc('restore_task', members.editor.token, live.id), 404, 'not_found');
  expectError(await rpc('restore_task', members.editor.token, NIL_UUID), 404, 'not_found');

  const res = await rpc('restore_task', members.editor.token, task.id);
  expectStatus(res, 200);
  assert.equal(res.body.id, task.id);
  assert.equal(res.body.title, 'back');
  assert.equal(res.body.version, 3);
  assert.equal(res.headers.get('etag'), '"3"');
  assert.deepEqual(ids(await list(`/tasks?id=eq.${task.id}`, members.viewer.token)), [task.id]);
  assert.deepEqual(await list('/trash', owner.token), []);
  expectError(await rpc('restore_task', members.editor.token, task.id), 404, 'not_found');
});

test('unique names hold among live projects only; restoring into a taken name is 409', async () => {
  const u = await createUser();
  const name = uniqueName('reuse');
  const old = await createProject(u.token, { name });
  expectStatus(await del(`/projects?id=eq.${old.id}`, u.token), 204);
  const again = await createProject(u.token, { name });
  assert.notEqual(again.id, old.id);
  expectError(await rpc('restore_project', u.token, old.id), 409, 'conflict');
  assert.equal((await list('/trash', u.token)).filter((r) => r.id === old.id).length, 1, 'it stays in the trash');
  // Once the name is free again, the restore works.
  expectStatus(await api('PATCH', `/projects?id=eq.${again.id}`, { token: u.token, body: { name: uniqueName('other') } }), 204);
  expectStatus(await rpc('restore_project', u.token, old.id), 200);
  assert.deepEqual(ids(await list(`/projects?name=eq.${encodeURIComponent(name)}`, u.token)), [old.id]);
});

test('purge_task and purge_project: owners only, hard delete, then restore is 404', async () => {
  const { owner, project, members } = await projectWithMembers(['editor', 'viewer']);
  const stranger = await createUser();
  const trashed = await createTask(owner.token, project.id);
  const live = await createTask(owner.token, project.id);
  expectStatus(await del(`/tasks?id=eq.${trashed.id}`, owner.token), 204);

  for (const id of [trashed.id, live.id]) {
    expectError(await rpc('purge_task', members.editor.token, id), 403, 'forbidden');
    expectError(await rpc('purge_task', members.viewer.token, id), 403, 'forbidden');
    expectError(await rpc('purge_task', stranger.token, id), 404, 'not_found');
  }
  expectError(await rpc('purge_task', owner.token, NIL_UUID), 404, 'not_found');
  expectStatus(await rpc('purge_task', owner.token, trashed.id), 204);
  expectStatus(await rpc('purge_task', owner.token, live.id), 204);
  assert.equal(await psql(`SELECT count(*) FROM task_api.tasks WHERE id IN (:'a', :'b')`, { a: trashed.id, b: live.id }), '0');
  expectError(await rpc('restore_task', owner.token, trashed.id), 404, 'not_found');
  expectError(await rpc('restore_task', owner.token, live.id), 404, 'not_found');
  assert.deepEqual(await list('/trash', owner.token), []);

  const t = await createTask(owner.token, project.id);
  expectError(await rpc('purge_project', members.editor.token, project.id), 403, 'forbidden');
  expectError(await rpc('purge_project', members.viewer.token, project.id), 403, 'forbidden');
  expectError(await rpc('purge_project', stranger.token, project.id), 404, 'not_found');
  expectError(await rpc('purge_project', owner.token, NIL_UUID), 404, 'not_found');
  expectStatus(await rpc('purge_project', owner.token, project.id), 204);
  assert.equal(await psql(`SELECT (SELECT count(*) FROM task_api.projects WHERE id = :'p') || ' '
                              || (SELECT count(*) FROM task_api.tasks WHERE project_id = :'p' OR id = :'t') || ' '
                              || (SELECT count(*) FROM task_api.project_members WHERE project_id = :'p')`,
  { p: project.id, t: t.id }), '0 0 0', 'the project, its tasks and memberships are gone');
  expectError(await rpc('restore_project', owner.token, project.id), 404, 'not_found');
});

test('purge_project works on a trashed project and takes the tasks trashed with it', async () => {
  const u = await createUser();
  const project = await createProject(u.token);
  const t1 = await createTask(u.token, project.id);
  const t2 = await createTask(u.token, project.id);
  expectStatus(await del(`/tasks?id=eq.${t1.id}`, u.token), 204);
  expectStatus(await del(`/projects?id=eq.${project.id}`, u.token), 204);
  expectStatus(await rpc('purge_project', u.token, project.id), 204);
  assert.equal(await psql(`SELECT count(*) FROM task_api.tasks WHERE id IN (:'a', :'b')`, { a: t1.id, b: t2.id }), '0');
  assert.equal(await psql(`SELECT count(*) FROM task_api.projects WHERE id = :'p'`, { p: project.id }), '0');
  assert.deepEqual((await list('/trash', u.token)).filter((r) => r.project_id === project.id), []);
});

test('task_api.purge_expired() hard-deletes trash older than the retention and keeps recent trash', async () => {
  const u = await createUser();
  const oldProject = await createProject(u.token);
  const oldProjectTask = await createTask(u.token, oldProject.id);
  const recentProject = await createProject(u.token);
  const live = await createProject(u.token);
  const oldTask = await createTask(u.token, live.id);
  const recentTask = await createTask(u.token, live.id);
  const liveTask = await createTask(u.token, live.id);
  for (const p of [oldProject, recentProject]) expectStatus(await del(`/projects?id=eq.${p.id}`, u.token), 204);
  for (const t of [oldTask, recentTask]) expectStatus(await del(`/tasks?id=eq.${t.id}`, u.token), 204);

  await psql(`UPDATE task_api.projects SET deleted_at = now() - interval '31 days' WHERE id = :'p';
              UPDATE task_api.tasks SET deleted_at = now() - interval '31 days' WHERE id IN (:'a', :'b');
              UPDATE task_api.tasks SET deleted_at = now() - interval '29 days' WHERE id = :'c';`,
  { p: oldProject.id, a: oldProjectTask.id, b: oldTask.id, c: recentTask.id });
  const trash = await list('/trash', u.token);
  const oldItem = trash.find((r) => r.id === oldProject.id);
  assert.equal(new Date(oldItem.purge_after) - new Date(oldItem.deleted_at), 30 * DAY);
  assert.ok(new Date(oldItem.purge_after) < new Date(), 'the backdated project is past purge_after');

  // Other tests' trash may expire concurrently; count only ours.
  const purged = Number(await psql('SELECT task_api.purge_expired()'));
  assert.ok(purged >= 3, `purge_expired() returned ${purged}, expected at least the 3 expired rows`);
  const left = await psql(`SELECT string_agg(id::text, ',' ORDER BY id) FROM (
                             SELECT id FROM task_api.projects WHERE id IN (:'p1', :'p2', :'p3')
                             UNION ALL SELECT id FROM task_api.tasks WHERE id IN (:'t1', :'t2', :'t3', :'t4')) x`,
  { p1: oldProject.id, p2: recentProject.id, p3: live.id, t1: oldProjectTask.id, t2: oldTask.id, t3: recentTask.id, t4: liveTask.id });
  assert.deepEqual(left.split(',').sort(), [recentProject.id, live.id, recentTask.id, liveTask.id].sort());
  assert.deepEqual(ids((await list('/trash', u.token))), [recentProject.id, recentTask.id].sort());
  expectError(await rpc('restore_project', u.token, oldProject.id), 404, 'not_found');
  expectError(await rpc('restore_task', u.token, oldTask.id), 404, 'not_found');
});

test('task_api.purge_expired() returns how many projects and tasks it removed', async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  const t1 = await createTask(u.token, p.id);
  const t2 = await createTask(u.token, p.id);
  expectStatus(await del(`/projects?id=eq.${p.id}`, u.token), 204);
  // Far enough back that no other test's trash is older, and count this run only.
  const out = await psql(`UPDATE task_api.projects SET deleted_at = now() - interval '31 days' WHERE id = :'p';
                          UPDATE task_api.tasks SET deleted_at = now() - interval '31 days' WHERE id IN (:'a', :'b');
                          SELECT task_api.purge_expired() >= 3;
                          SELECT (SELECT count(*) FROM task_api.tasks WHERE id IN (:'a', :'b'))
                                 + (SELECT count(*) FROM task_api.projects WHERE id = :'p');`,
  { p: p.id, a: t1.id, b: t2.id });
  assert.equal(out, 't\n0', 'the count covers the project and its two tasks, and they are gone');
});

test('If-Match applies to soft delete: 412 on a mismatch changes nothing; the current version works', async () => {
  const u = await createUser();
  const project = await createProject(u.token);
  const task = await createTask(u.token, project.id);
  expectError(await del(`/tasks?id=eq.${task.id}`, u.token, { 'If-Match': '"7"' }), 412, 'precondition_failed');
  expectError(await del(`/tasks?id=eq.${task.id}`, u.token, { 'If-Match': 'seven' }), 400, 'invalid_parameter');
  assert.deepEqual(ids(await list(`/tasks?id=eq.${task.id}`, u.token)), [task.id]);
  assert.deepEqual(await list('/trash', u.token), []);
  expectStatus(await del(`/tasks?id=eq.${task.id}`, u.token, { 'If-Match': '"1"' }), 204);
  assert.deepEqual((await list('/trash', u.token)).map((r) => r.id), [task.id]);

  // Restored: version 3, so the old tag no longer matches.
  const restored = await rpc('restore_task', u.token, task.id);
  expectStatus(restored, 200);
  assert.equal(restored.body.version, 3);
  expectError(await del(`/tasks?id=eq.${task.id}`, u.token, { 'If-Match': '"1"' }), 412, 'precondition_failed');
  expectStatus(await del(`/tasks?id=eq.${task.id}`, u.token, { 'If-Match': 'W/"3"' }), 204);

  expectError(await del(`/projects?id=eq.${project.id}`, u.token, { 'If-Match': '"2"' }), 412, 'precondition_failed');
  assert.deepEqual(ids(await list(`/projects?id=eq.${project.id}`, u.token)), [project.id]);
  expectStatus(await del(`/projects?id=eq.${project.id}`, u.token, { 'If-Match': '"1"' }), 204);
  const res = await rpc('restore_project', u.token, project.id);
  expectStatus(res, 200);
  assert.equal(res.body.version, 3);
  assert.equal(res.headers.get('etag'), '"3"');
});

test('a task cannot be created in a trashed project', async () => {
  const u = await createUser();
  const project = await createProject(u.token);
  expectStatus(await del(`/projects?id=eq.${project.id}`, u.token), 204);
  const res = await api('POST', '/tasks', { token: u.token, body: { project_id: project.id, title: 'x' } });
  assert.equal(res.status, 422, `expected 422 validation_failed, got ${res.status} ${res.text}`);
});

test('co-owners: a second owner sees and restores the trashed project; the creator can too', async () => {
  const { owner, project } = await projectWithMembers();
  const co = await createUser();
  await addMember(owner.token, project.id, co, 'owner');
  expectStatus(await del(`/projects?id=eq.${project.id}`, co.token), 204);
  assert.deepEqual((await list('/trash', owner.token)).map((r) => r.id), [project.id]);
  assert.deepEqual((await list('/trash', co.token)).map((r) => r.id), [project.id]);
  expectStatus(await rpc('restore_project', co.token, project.id), 200);
  assert.deepEqual(ids(await list(`/projects?id=eq.${project.id}`, owner.token)), [project.id]);
});
