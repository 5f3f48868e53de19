// Optimistic concurrency: If-Match on PATCH and DELETE, ETag on single-row writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  api, createUser, createProject, createTask, addMember, list, expectError, expectStatus, REPRESENTATION,
} from './lib.mjs';

test('single-row POST and PATCH carry ETag: "<version>"; multi-row writes carry none', async () => {
  const u = await createUser();
  let res = await api('POST', '/projects', { token: u.token, body: { name: 'etag' }, headers: REPRESENTATION });
  expectStatus(res, 201);
  assert.equal(res.headers.get('etag'), '"1"');
  const project = res.body[0];

  res = await api('POST', '/tasks', { token: u.token, body: { project_id: project.id, title: 'one' } });
  expectStatus(res, 201);
  assert.equal(res.headers.get('etag'), '"1"');

  res = await api('POST', '/tasks', {
    token: u.token, body: [{ project_id: project.id, title: 'two' }, { project_id: project.id, title: 'three' }],
  });
  expectStatus(res, 201);
  assert.equal(res.headers.get('etag'), null, 'a two-row POST has no single version');

  res = await api('PATCH', `/tasks?title=eq.one`, { token: u.token, body: { status: 'done' }, headers: REPRESENTATION });
  expectStatus(res, 200);
  assert.equal(res.headers.get('etag'), '"2"');
  assert.equal(res.body[0].version, 2);

  res = await api('PATCH', `/tasks?project_id=eq.${project.id}`, { token: u.token, body: { priority: 4 } });
  expectStatus(res, 204);
  assert.equal(res.headers.get('etag'), null, 'a three-row PATCH has no single version');

  res = await api('PATCH', `/projects?id=eq.${project.id}`, { token: u.token, body: { description: 'd' } });
  expectStatus(res, 204);
  assert.equal(res.headers.get('etag'), '"2"');
});

test('If-Match: the current version (strong, weak, in a list, or *) lets PATCH and DELETE through', async () => {
  const u = await createUser();
  const project = await createProject(u.token);
  const task = await createTask(u.token, project.id, { title: 'v1' });
  for (const [header, version] of [['"1"', 2], ['W/"2"', 3], ['"9", "3"', 4], ['*', 5]]) {
    const res = await api('PATCH', `/tasks?id=eq.${task.id}`, {
      token: u.token, body: { title: `v${version}` }, headers: { 'If-Match': header, ...REPRESENTATION },
    });
    expectStatus(res, 200);
    assert.equal(res.body[0].version, version, `If-Match ${header}`);
    assert.equal(res.headers.get('etag'), `"${version}"`);
  }
  expectStatus(await api('DELETE', `/tasks?id=eq.${task.id}`, { token: u.token, headers: { 'If-Match': '"5"' } }), 204);
  assert.deepEqual(await list(`/tasks?id=eq.${task.id}`, u.token), []);
  expectStatus(await api('PATCH', `/projects?id=eq.${project.id}`, {
    token: u.token, body: { name: 'renamed' }, headers: { 'If-Match': '"1"' },
  }), 204);
  expectStatus(await api('DELETE', `/projects?id=eq.${project.id}`, { token: u.token, headers: { 'If-Match': '"2"' } }), 204);
});

test('If-Match with another version is 412 precondition_failed and changes nothing', async () => {
  const u = await createUser();
  const project = await createProject(u.token);
  const task = await createTask(u.token, project.id, { title: 'original' });
  await api('PATCH', `/tasks?id=eq.${task.id}`, { token: u.token, body: { title: 'changed by someone' } });

  for (const header of ['"1"', 'W/"1"', '"01"', '"2 "', '"3", "4"']) {
    const res = await api('PATCH', `/tasks?id=eq.${task.id}`, {
      token: u.token, body: { title: 'lost update' }, headers: { 'If-Match': header },
    });
    if (header === '"2 "') {
      expectError(res, 400, 'invalid_parameter');
      continue;
    }
    expectError(res, 412, 'precondition_failed');
  }
  expectError(await api('DELETE', `/tasks?id=eq.${task.id}`, { token: u.token, headers: { 'If-Match': '"1"' } }),
    412, 'precondition_failed');
  expectError(await api('PATCH', `/projects?id=eq.${project.id}`, {
    token: u.token, body: { name: 'x' }, headers: { 'If-Match': '"7"' },
  }), 412, 'precondition_failed');
  expectError(await api('DELETE', `/projects?id=eq.${project.id}`, { token: u.token, headers: { 'If-Match': '"7"' } }),
    412, 'precondition_failed');

  const [row] = await list(`/tasks?id=eq.${task.id}`, u.token);
  assert.equal(row.title, 'changed by someone');
  assert.equal(row.version, 2);
  assert.equal((await list(`/projects?id=eq.${project.id}`, u.token)).length, 1);
});

test('a malformed If-Match is 400 invalid_parameter and changes nothing', async () => {
  const u = await createUser();
  const project = await createProject(u.token);
  const task = await createTask(u.token, project.id);
  for (const header of ['2', '"two"', '"1', 'w/"1"', '"1" "2"', '"1",', ',', 'W/*', '"-1"', '"123456789012"']) {
    expectError(await api('PATCH', `/tasks?id=eq.${task.id}`, {
      token: u.token, body: { title: 'nope' }, headers: { 'If-Match': header },
    }), 400, 'invalid_parameter');
    expectError(await api('DELETE', `/tasks?id=eq.${task.id}`, { token: u.token, headers: { 'If-Match': header } }),
      400, 'invalid_parameter');
  }
  const [row] = await list(`/tasks?id=eq.${task.id}`, u.token);
  assert.equal(row.version, 1);
});

test('If-Match does not let a viewer write: forbidden comes first', async () => {
  const owner = await createUser();
  const viewer = await createUser();
  const project = await createProject(owner.token);
  await addMember(owner.token, project.id, viewer, 'viewer');
  const task = await createTask(owner.token, project.id);
  expectError(await api('PATCH', `/tasks?id=eq.${task.id}`, {
    token: viewer.token, body: { title: 'x' }, headers: { 'If-Match': '"1"' },
  }), 403, 'forbidden');
});
