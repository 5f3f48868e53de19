// /project_members and the role model: owner, editor, viewer, non-member;
// members join by accepting an invitation (the flow's edges: test/security/invitations.test.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  api, createUser, createProject, createTask, addMember, list, projectWithMembers, uniqueName,
  expectError, expectValidation, expectStatus, fields, show, REPRESENTATION, NIL_UUID,
} from './lib.mjs';

const memberPath = (projectId, userId) => `/project_members?project_id=eq.${projectId}&user_id=eq.${userId}`;

async function roleOf(token, projectId, userId) {
  const rows = await list(memberPath(projectId, userId), token);
  return rows.length ? rows[0].role : null;
}

// Invite by id, accept as the invitee: the membership /project_members shows.
async function invite(ownerToken, body) {
  const res = await api('POST', '/invitations', { token: ownerToken, headers: REPRESENTATION, body });
  expectStatus(res, 201);
  return res.body[0];
}
async function accept(token, id) {
  const res = await api('POST', '/rpc/accept_invitation', { token, body: { id } });
  return res;
}

test('owner invites a member by user_id; role defaults to viewer; the invitee joins by accepting; GET lists members', async () => {
  const owner = await createUser();
  const bob = await createUser();
  const p = await createProject(owner.token);
  const inv = await invite(owner.token, { project_id: p.id, user_id: bob.id });
  assert.equal(inv.role, 'viewer');
  assert.deepEqual(await list(`/project_members?project_id=eq.${p.id}&select=user_id`, owner.token), [{ user_id: owner.id }],
    'an invitation makes nobody a member');
  assert.deepEqual(await list(`/projects?id=eq.${p.id}`, bob.token), [], 'the invitee sees no project before accepting');

  const res = await accept(bob.token, inv.id);
  const m = expectStatus(res, 200);
  assert.equal(m.project_id, p.id);
  assert.equal(m.user_id, bob.id);
  assert.equal(m.role, 'viewer');
  assert.equal(m.email, null);
  assert.ok(!Number.isNaN(Date.parse(m.added_at)));

  const rows = await list(`/project_members?project_id=eq.${p.id}&select=user_id,role&order=role.desc`, owner.token);
  assert.deepEqual(rows, [{ user_id: owner.id, role: 'owner' }, { user_id: bob.id, role: 'viewer' }]);
  // The new member sees the project and the member list.
  assert.equal((await list(`/projects?id=eq.${p.id}`, bob.token)).length, 1);
  assert.equal((await list(`/project_members?project_id=eq.${p.id}`, bob.token)).length, 2);
});

test('owner invites a member by email; the account with that email (case-insensitively) accepts', async () => {
  const owner = await createUser();
  const email = `Mixed.Case-${randomUUID()}@Example.TEST`;
  const carol = await createUser({ email });
  const p = await createProject(owner.token);
  const inv = await invite(owner.token, { project_id: p.id, email: email.toLowerCase(), role: 'editor' });
  assert.equal(inv.email, email.toLowerCase(), 'the address as given');
  assert.equal(inv.user_id, null, 'never the account it belongs to');
  assert.equal((await list('/invitations', carol.token))[0].project_name, p.name, 'the invitee sees what she is invited to');
  assert.deepEqual((await list('/invitations', carol.token)).map((i) => i.id), [inv.id]);

  // Same address again, upper-cased, while the first is open: conflict.
  let res = await api('POST', '/invitations', { token: owner.token, body: { project_id: p.id, email: email.toUpperCase() } });
  expectError(res, 409, 'conflict');

  const m = expectStatus(await accept(carol.token, inv.id), 200);
  assert.equal(m.user_id, carol.id);
  assert.equal(m.role, 'editor');

  // Invited again once a member: accepting is a conflict and changes nothing.
  const again = await invite(owner.token, { project_id: p.id, email: email.toUpperCase(), role: 'owner' });
  expectError(await accept(carol.token, again.id), 409, 'conflict');
  assert.equal(await roleOf(owner.token, p.id, carol.id), 'editor');

  // Surrounding whitespace is ignored too.
  const dave = await createUser({ email: `Dave-${randomUUID()}@Example.test` });
  const di = await invite(owner.token, { project_id: p.id, email: `  ${dave.email.toUpperCase()} ` });
  assert.equal(di.email, dave.email.toUpperCase());
  res = await accept(dave.token, di.id);
  assert.equal(expectStatus(res, 200).user_id, dave.id);
  assert.equal(res.body.role, 'viewer');

  // Carol can now write tasks there.
  const t = await createTask(carol.token, p.id, { title: 'by carol' });
  assert.equal(t.created_by, carol.id);
});

test('invitation validation: neither or both, bad email, server fields; an unknown email or user id is not an error', async () => {
  const owner = await createUser();
  const bob = await createUser();
  const p = await createProject(owner.token);

  // No enumeration: an address or id without an account is invited like any other.
  let res = await api('POST', '/invitations', {
    token: owner.token, body: { project_id: p.id, email: `nobody-${randomUUID()}@example.test` },
  });
  expectStatus(res, 201);
  res = await api('POST', '/invitations', { token: owner.token, body: { project_id: p.id, user_id: NIL_UUID } });
  expectStatus(res, 201);

  res = await api('POST', '/invitations', { token: owner.token, body: { project_id: p.id } });
  assert.deepEqual(fields(expectValidation(res)), ['user_id']);

  res = await api('POST', '/invitations', {
    token: owner.token, body: { project_id: p.id, user_id: bob.id, email: bob.email },
  });
  assert.deepEqual(fields(expectValidation(res)), ['email']);

  res = await api('POST', '/invitations', { token: owner.token, body: { project_id: p.id, email: 'not an email' } });
  assert.deepEqual(expectValidation(res), [{ field: 'email', problem: 'is not a valid email address' }]);

  res = await api('POST', '/invitations', {
    token: owner.token,
    body: { user_id: bob.id, role: null, id: randomUUID(), created_at: '2020-01-01T00:00:00Z', expires_at: '2099-01-01T00:00:00Z' },
  });
  assert.deepEqual(fields(expectValidation(res)), ['created_at', 'expires_at', 'id', 'project_id', 'role']);

  res = await api('POST', '/invitations', { token: owner.token, body: { project_id: p.id, user_id: bob.id, role: 'admin' } });
  assert.deepEqual(fields(expectValidation(res)), ['role']);
  res = await api('POST', '/invitations', { token: owner.token, body: { project_id: p.id, user_id: '', role: 'viewer' } });
  assert.deepEqual(fields(expectValidation(res)), ['user_id']);

  assert.deepEqual(await list(`/project_members?project_id=eq.${p.id}&select=user_id`, owner.token), [{ user_id: owner.id }]);
});

test('POST /project_members is 405 method_not_allowed, naming /invitations, whoever the target is', async () => {
  const { owner, project, members } = await projectWithMembers(['editor']);
  const newcomer = await createUser();
  for (const body of [
    { project_id: project.id, user_id: newcomer.id, role: 'viewer' },
    { project_id: project.id, user_id: members.editor.id, role: 'viewer' },
    { project_id: project.id, user_id: owner.id, role: 'viewer' },
    { project_id: project.id, email: newcomer.email },
  ]) {
    const res = await api('POST', '/project_members', { token: owner.token, body, headers: REPRESENTATION });
    const err = expectError(res, 405, 'method_not_allowed');
    assert.match(err.hint, /POST \/invitations/);
    assert.equal(res.headers.get('allow'), 'GET, PATCH, DELETE');
  }
  assert.equal(await roleOf(owner.token, project.id, members.editor.id), 'editor', 'role unchanged');
  assert.equal(await roleOf(owner.token, project.id, owner.id), 'owner');
  assert.equal(await roleOf(owner.token, project.id, newcomer.id), null, 'nobody added');
});

test('only owners manage members; others are forbidden, strangers see no project', async () => {
  const { owner, project, members } = await projectWithMembers(['editor', 'viewer']);
  const newcomer = await createUser();
  const stranger = await createUser();

  for (const who of [members.editor, members.viewer]) {
    let res = await api('POST', '/invitations', {
      token: who.token, body: { project_id: project.id, user_id: newcomer.id },
    });
    expectError(res, 403, 'forbidden');
    res = await api('PATCH', memberPath(project.id, members.viewer.id), { token: who.token, body: { role: 'owner' } });
    expectError(res, 403, 'forbidden');
    res = await api('DELETE', memberPath(project.id, owner.id), { token: who.token });
    expectError(res, 403, 'forbidden');
  }

  // A stranger's invitation looks exactly like one to a project that does not exist.
  const hiddenRes = await api('POST', '/invitations', {
    token: stranger.token, body: { project_id: project.id, user_id: stranger.id, role: 'owner' },
  });
  const missingRes = await api('POST', '/invitations', {
    token: stranger.token, body: { project_id: randomUUID(), user_id: stranger.id, role: 'owner' },
  });
  assert.deepEqual(expectValidation(hiddenRes), [{ field: 'project_id', problem: 'no such project' }]);
  assert.deepEqual(hiddenRes.body, missingRes.body, 'existence does not leak');
  assert.equal(hiddenRes.status, missingRes.status);

  // A stranger's PATCH and DELETE affect nothing.
  let res = await api('PATCH', memberPath(project.id, owner.id), {
    token: stranger.token, headers: REPRESENTATION, body: { role: 'viewer' },
  });
  expectStatus(res, 200);
  assert.deepEqual(res.body, []);
  res = await api('DELETE', `/project_members?project_id=eq.${project.id}`, { token: stranger.token, headers: REPRESENTATION });
  expectStatus(res, 200);
  assert.deepEqual(res.body, []);

  const rows = await list(`/project_members?project_id=eq.${project.id}&select=user_id,role&order=role.desc`, owner.token);
  assert.deepEqual(rows, [
    { user_id: owner.id, role: 'owner' },
    { user_id: members.editor.id, role: 'editor' },
    { user_id: members.viewer.id, role: 'viewer' },
  ]);
});

test('owner changes roles with PATCH; server-owned membership fields are refused', async () => {
  const { owner, project, members } = await projectWithMembers(['viewer']);
  const v = members.viewer;
  let res = await api('PATCH', memberPath(project.id, v.id), { token: owner.token, headers: REPRESENTATION, body: { role: 'editor' } });
  expectStatus(res, 200);
  assert.equal(res.body.length, 1);
  assert.equal(res.body[0].role, 'editor');
  assert.equal(res.body[0].user_id, v.id);
  // Promotion takes effect at once.
  const t = await createTask(v.token, project.id, { title: 'now an editor' });
  assert.equal(t.created_by, v.id);

  res = await api('PATCH', memberPath(project.id, v.id), {
    token: owner.token,
    body: { added_at: '2020-01-01T00:00:00Z', user_id: owner.id, project_id: randomUUID(), role: null },
  });
  assert.deepEqual(fields(expectValidation(res)), ['added_at', 'project_id', 'role', 'user_id']);
  res = await api('PATCH', memberPath(project.id, v.id), { token: owner.token, body: { email: v.email } });
  assert.deepEqual(fields(expectValidation(res)), ['email']);
  res = await api('PATCH', memberPath(project.id, v.id), { token: owner.token, body: { role: 'superuser' } });
  assert.deepEqual(fields(expectValidation(res)), ['role']);
  assert.equal(await roleOf(owner.token, project.id, v.id), 'editor');

  res = await api('PATCH', memberPath(project.id, v.id), { token: owner.token, headers: REPRESENTATION, body: { role: 'viewer' } });
  assert.equal(expectStatus(res, 200)[0].role, 'viewer');
  res = await api('POST', '/tasks', { token: v.token, body: { project_id: project.id, title: 'no longer' } });
  expectError(res, 403, 'forbidden');
});

test('the last owner can neither leave nor be demoted', async () => {
  const { owner, project, members } = await projectWithMembers(['editor']);
  let res = await api('DELETE', memberPath(project.id, owner.id), { token: owner.token });
  expectError(res, 409, 'conflict');
  res = await api('PATCH', memberPath(project.id, owner.id), { token: owner.token, body: { role: 'editor' } });
  expectError(res, 409, 'conflict');
  res = await api('PATCH', memberPath(project.id, owner.id), { token: owner.token, body: { role: 'viewer' } });
  expectError(res, 409, 'conflict');
  // Deleting every membership at once must not strip the owner either.
  res = await api('DELETE', `/project_members?project_id=eq.${project.id}`, { token: owner.token });
  expectError(res, 409, 'conflict');

  assert.equal(await roleOf(owner.token, project.id, owner.id), 'owner');
  assert.equal(await roleOf(owner.token, project.id, members.editor.id), 'editor', 'the failed bulk delete was rolled back');
  const [p] = await list(`/projects?id=eq.${project.id}`, owner.token);
  assert.equal(p.owner_id, owner.id);
});

test('with a second owner, the first may leave; owner_id moves to the remaining owner', async () => {
  const { owner, project, members } = await projectWithMembers(['editor']);
  const b = members.editor;
  let res = await api('PATCH', memberPath(project.id, b.id), { token: owner.token, body: { role: 'owner' } });
  expectStatus(res, 204);

  res = await api('DELETE', memberPath(project.id, owner.id), { token: owner.token });
  expectStatus(res, 204);
  const [p] = await list(`/projects?id=eq.${project.id}`, b.token);
  assert.equal(p.owner_id, b.id);
  assert.deepEqual(await list(`/project_members?project_id=eq.${project.id}&select=user_id,role`, b.token),
    [{ user_id: b.id, role: 'owner' }]);
  assert.deepEqual(await list(`/projects?id=eq.${project.id}`, owner.token), [], 'the leaver sees nothing');

  // Now b is the only owner and cannot demote themself.
  res = await api('PATCH', memberPath(project.id, b.id), { token: b.token, body: { role: 'editor' } });
  expectError(res, 409, 'conflict');
});

test('an owner may demote themself while another owner remains', async () => {
  const { owner, project, members } = await projectWithMembers(['viewer']);
  await api('PATCH', memberPath(project.id, members.viewer.id), { token: owner.token, body: { role: 'owner' } });
  const res = await api('PATCH', memberPath(project.id, owner.id), { token: owner.token, headers: REPRESENTATION, body: { role: 'editor' } });
  expectStatus(res, 200);
  assert.equal(res.body[0].role, 'editor');
  assert.equal((await list(`/projects?id=eq.${project.id}`, owner.token))[0].owner_id, members.viewer.id);
  // No longer an owner: cannot manage members any more.
  const r2 = await api('PATCH', memberPath(project.id, members.viewer.id), { token: owner.token, body: { role: 'viewer' } });
  expectError(r2, 403, 'forbidden');
});

test('any member may leave; a removed member loses sight of everything at once', async () => {
  const { owner, project, members } = await projectWithMembers(['editor', 'viewer']);
  const t = await createTask(owner.token, project.id, { title: 'secret plan' });

  // The viewer leaves on their own.
  let res = await api('DELETE', memberPath(project.id, members.viewer.id), { token: members.viewer.token });
  expectStatus(res, 204);
  for (const path of [`/projects?id=eq.${project.id}`, `/tasks?id=eq.${t.id}`, `/tasks`,
    `/project_members?project_id=eq.${project.id}`]) {
    assert.deepEqual(await list(path, members.viewer.token), [], path);
  }

  // The owner removes the editor.
  const e = members.editor;
  assert.equal((await list(`/tasks?id=eq.${t.id}`, e.token)).length, 1, 'the editor sees the task before');
  res = await api('DELETE', memberPath(project.id, e.id), { token: owner.token, headers: REPRESENTATION });
  expectStatus(res, 200);
  assert.equal(res.body.length, 1);
  assert.equal(res.body[0].user_id, e.id);

  assert.deepEqual(await list(`/projects?id=eq.${project.id}`, e.token), []);
  assert.deepEqual(await list(`/tasks?project_id=eq.${project.id}`, e.token), []);
  assert.deepEqual(await list(`/project_members?project_id=eq.${project.id}`, e.token), []);
  assert.deepEqual(await list(`/projects?select=id,tasks(id)`, e.token), []);
  const users = await list('/users', e.token);
  assert.deepEqual(users.map((u) => u.id), [e.id], 'former co-members are no longer visible');

  // ... and can no longer write.
  res = await api('PATCH', `/tasks?id=eq.${t.id}`, { token: e.token, headers: REPRESENTATION, body: { title: 'pwned' } });
  expectStatus(res, 200);
  assert.deepEqual(res.body, []);
  res = await api('DELETE', `/tasks?id=eq.${t.id}`, { token: e.token });
  expectStatus(res, 204);
  res = await api('POST', '/tasks', { token: e.token, body: { project_id: project.id, title: 'sneaky' } });
  assert.deepEqual(expectValidation(res), [{ field: 'project_id', problem: 'no such project' }]);
  const [still] = await list(`/tasks?id=eq.${t.id}`, owner.token);
  assert.equal(still.title, 'secret plan');
  assert.equal(still.version, 1);
  assert.equal((await list(`/tasks?project_id=eq.${project.id}`, owner.token)).length, 1);
});

test('viewers read tasks but cannot write them; editors can', async () => {
  const { owner, project, members } = await projectWithMembers(['editor', 'viewer']);
  const { editor, viewer } = members;
  const t = await createTask(owner.token, project.id, { title: 'by owner' });

  // Viewer.
  assert.deepEqual((await list(`/tasks?project_id=eq.${project.id}`, viewer.token)).map((r) => r.id), [t.id]);
  let res = await api('POST', '/tasks', { token: viewer.token, body: { project_id: project.id, title: 'nope' } });
  expectError(res, 403, 'forbidden');
  res = await api('PATCH', `/tasks?id=eq.${t.id}`, { token: viewer.token, body: { title: 'nope' } });
  expectError(res, 403, 'forbidden');
  res = await api('PATCH', `/tasks?id=eq.${t.id}`, { token: viewer.token, body: { status: 'done' } });
  expectError(res, 403, 'forbidden');
  res = await api('DELETE', `/tasks?id=eq.${t.id}`, { token: viewer.token });
  expectError(res, 403, 'forbidden');
  const [unchanged] = await list(`/tasks?id=eq.${t.id}`, owner.token);
  assert.deepEqual(unchanged, t);

  // Editor.
  const et = await createTask(editor.token, project.id, { title: 'by editor', assignee_id: viewer.id });
  assert.equal(et.created_by, editor.id);
  res = await api('PATCH', `/tasks?id=eq.${t.id}`, { token: editor.token, headers: REPRESENTATION, body: { status: 'done' } });
  const row = expectStatus(res, 200)[0];
  assert.equal(row.status, 'done');
  assert.equal(row.version, 2);
  res = await api('DELETE', `/tasks?id=eq.${et.id}`, { token: editor.token });
  expectStatus(res, 204);
  assert.deepEqual(await list(`/tasks?id=eq.${et.id}`, owner.token), []);
  // Editors still cannot manage the project.
  res = await api('PATCH', `/projects?id=eq.${project.id}`, { token: editor.token, body: { description: 'x' } });
  expectError(res, 403, 'forbidden');
});

test('a non-member sees nothing and changes nothing; two users are isolated', async () => {
  const alice = await createUser();
  const bob = await createUser();
  const pa = await createProject(alice.token);
  const ta = await createTask(alice.token, pa.id, { title: 'alice only' });
  const pb = await createProject(bob.token);
  const tb = await createTask(bob.token, pb.id, { title: 'bob only' });

  // Reads: each sees only their own.
  assert.deepEqual((await list('/projects', bob.token)).map((p) => p.id), [pb.id]);
  assert.deepEqual((await list('/tasks', bob.token)).map((t) => t.id), [tb.id]);
  assert.deepEqual((await list('/project_members', bob.token)).map((m) => m.project_id), [pb.id]);
  assert.deepEqual(await list(`/projects?id=eq.${pa.id}`, bob.token), []);
  assert.deepEqual(await list(`/tasks?id=eq.${ta.id}`, bob.token), []);
  assert.deepEqual(await list(`/tasks?project_id=eq.${pa.id}`, bob.token), []);
  assert.deepEqual(await list(`/project_members?project_id=eq.${pa.id}`, bob.token), []);
  let res = await api('GET', `/tasks?project_id=eq.${pa.id}`, { token: bob.token, headers: { Prefer: 'count=exact' } });
  expectStatus(res, 200);
  assert.equal(res.headers.get('content-range'), '*/0', 'counts do not leak');

  // Writes affect nothing (as if the rows were absent).
  for (const [method, path, body] of [
    ['PATCH', `/projects?id=eq.${pa.id}`, { name: 'mine now' }],
    ['PATCH', '/projects', { description: 'everyone' }],
    ['DELETE', `/projects?id=eq.${pa.id}`],
    ['PATCH', `/tasks?id=eq.${ta.id}`, { title: 'mine now' }],
    ['PATCH', `/tasks?project_id=eq.${pa.id}`, { status: 'cancelled' }],
    ['DELETE', `/tasks?id=eq.${ta.id}`],
    ['PATCH', `/project_members?project_id=eq.${pa.id}`, { role: 'viewer' }],
    ['DELETE', `/project_members?project_id=eq.${pa.id}`],
  ]) {
    res = await api(method, path, { token: bob.token, body, headers: REPRESENTATION });
    expectStatus(res, 200);
    assert.ok(Array.isArray(res.body), `${method} ${path}`);
    assert.ok(res.body.every((r) => r.id !== pa.id && r.id !== ta.id && r.project_id !== pa.id),
      `${method} ${path} touched alice's rows`);
  }
  res = await api('POST', '/tasks', { token: bob.token, body: { project_id: pa.id, title: 'planted' } });
  assert.deepEqual(expectValidation(res), [{ field: 'project_id', problem: 'no such project' }]);

  assert.deepEqual(await list(`/projects?id=eq.${pa.id}`, alice.token), [pa]);
  assert.deepEqual(await list(`/tasks?project_id=eq.${pa.id}`, alice.token), [ta]);
  assert.deepEqual(await list(`/project_members?project_id=eq.${pa.id}&select=user_id,role`, alice.token),
    [{ user_id: alice.id, role: 'owner' }]);
  // Bob's own project took the blanket PATCH (it is his).
  assert.equal((await list(`/projects?id=eq.${pb.id}`, bob.token))[0].description, 'everyone');
});

test('an owner leaving when owner_id would move onto a clashing name: 204, or conflict (409), never a raw 23505', async () => {
  const a = await createUser();
  const b = await createUser();
  const name = uniqueName('Clash');
  const shared = await createProject(a.token, { name });
  await addMember(a.token, shared.id, b, 'owner');
  await createProject(b.token, { name }); // b already owns a live project with this name

  for (const [method, body] of [['PATCH', { role: 'editor' }], ['DELETE', undefined]]) {
    const res = await api(method, memberPath(shared.id, a.id), { token: a.token, body });
    if (res.status >= 400) {
      expectError(res, 409, 'conflict');
      assert.equal(await roleOf(a.token, shared.id, a.id), 'owner', 'a refused change leaves a as owner');
    } else {
      assert.equal(res.status, 204, show(res));
      const [p] = await list(`/projects?id=eq.${shared.id}`, b.token);
      assert.equal(p.owner_id, b.id);
      return;
    }
  }
});
