// /users: yourself and the people you share a project with; emails of others
// hidden; PATCH only your own display_name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  api, createUser, createProject, addMember, list, enc,
  expectError, expect4xx, expectValidation, expectStatus, fields, REPRESENTATION,
} from './lib.mjs';

const byId = (a, b) => (a.id < b.id ? -1 : 1);

test('a user alone sees only their own row, with their email', async () => {
  const u = await createUser({ displayName: 'Solo' });
  const rows = await list('/users', u.token);
  assert.equal(rows.length, 1);
  assert.equal(rows[0].id, u.id);
  assert.equal(rows[0].email, u.email);
  assert.equal(rows[0].display_name, 'Solo');
  assert.ok(!Number.isNaN(Date.parse(rows[0].created_at)));
  assert.deepEqual(Object.keys(rows[0]).sort(), ['created_at', 'display_name', 'email', 'id']);
});

test('co-members are visible with their email hidden; others are not visible', async () => {
  const alice = await createUser({ displayName: 'Alice' });
  const bob = await createUser({ displayName: 'Bob' });
  const carol = await createUser({ displayName: 'Carol' });
  const p = await createProject(alice.token);
  await addMember(alice.token, p.id, bob, 'viewer');

  const seenByAlice = (await list('/users', alice.token)).sort(byId);
  const expected = [alice, bob].sort(byId).map((u) => ({
    id: u.id, email: u.id === alice.id ? alice.email : null, display_name: u.displayName,
  }));
  assert.deepEqual(seenByAlice.map(({ id, email, display_name: displayName }) => ({ id, email, display_name: displayName })), expected);

  const seenByBob = (await list('/users?select=id,email', bob.token)).sort(byId);
  assert.deepEqual(seenByBob, [alice, bob].sort(byId).map((u) => ({ id: u.id, email: u.id === bob.id ? bob.email : null })));

  assert.deepEqual(await list(`/users?id=eq.${carol.id}`, alice.token), []);
  assert.deepEqual((await list('/users', carol.token)).map((u) => u.id), [carol.id]);

  // Filtering on the hidden email finds nothing.
  assert.deepEqual(await list(`/users?email=eq.${enc(bob.email)}`, alice.token), []);
  assert.deepEqual(await list(`/users?email=like.*example.test&select=id`, alice.token), [{ id: alice.id }]);
  // Nor through embedding.
  const embedded = await list(`/project_members?project_id=eq.${p.id}&select=user_id,users(id,email)`, alice.token);
  assert.equal(embedded.length, 2);
  for (const m of embedded) {
    assert.equal(m.users.id, m.user_id);
    assert.equal(m.users.email, m.user_id === alice.id ? alice.email : null);
  }
  // Nor does the email show in the raw response text.
  const raw = await api('GET', '/users', { token: alice.token });
  assert.ok(!raw.text.includes(bob.email), 'another user\'s email leaked');
});

test('PATCH your own display_name (trimmed, validated)', async () => {
  const u = await createUser({ displayName: 'Before' });
  let res = await api('PATCH', `/users?id=eq.${u.id}`, {
    token: u.token, headers: REPRESENTATION, body: { display_name: '  After  ' },
  });
  expectStatus(res, 200);
  assert.equal(res.body.length, 1);
  assert.equal(res.body[0].display_name, 'After');
  assert.equal(res.body[0].email, u.email);
  assert.equal((await list(`/users?id=eq.${u.id}`, u.token))[0].display_name, 'After');

  res = await api('PATCH', `/users?id=eq.${u.id}`, { token: u.token, body: { display_name: '   ' } });
  assert.deepEqual(expectValidation(res), [{ field: 'display_name', problem: 'must not be blank' }]);
  res = await api('PATCH', `/users?id=eq.${u.id}`, { token: u.token, body: { display_name: 'n'.repeat(101) } });
  assert.deepEqual(expectValidation(res), [{ field: 'display_name', problem: 'must be at most 100 characters' }]);
  res = await api('PATCH', `/users?id=eq.${u.id}`, { token: u.token, body: { display_name: null } });
  assert.deepEqual(expectValidation(res), [{ field: 'display_name', problem: 'is required' }]);
  res = await api('PATCH', `/users?id=eq.${u.id}`, {
    token: u.token,
    body: { email: `x-${u.email}`, created_at: '2020-01-01T00:00:00Z', id: '01890a5d-ac96-774b-bcce-b302099a8057', display_name: '' },
  });
  assert.deepEqual(fields(expectValidation(res)), ['created_at', 'display_name', 'email', 'id']);

  const [me] = await list(`/users?id=eq.${u.id}`, u.token);
  assert.equal(me.display_name, 'After');
  assert.equal(me.email, u.email);
});

test('PATCH another user is forbidden (visible) or affects nothing (invisible)', async () => {
  const alice = await createUser({ displayName: 'Alice' });
  const bob = await createUser({ displayName: 'Bob' });
  const carol = await createUser({ displayName: 'Carol' });
  const p = await createProject(alice.token);
  await addMember(alice.token, p.id, bob, 'editor');

  let res = await api('PATCH', `/users?id=eq.${bob.id}`, { token: alice.token, body: { display_name: 'Bobby' } });
  expectError(res, 403, 'forbidden');
  res = await api('PATCH', '/users', { token: alice.token, body: { display_name: 'Everyone' } });
  expectError(res, 403, 'forbidden');

  res = await api('PATCH', `/users?id=eq.${carol.id}`, { token: alice.token, headers: REPRESENTATION, body: { display_name: 'Caz' } });
  expectStatus(res, 200);
  assert.deepEqual(res.body, []);

  assert.equal((await list('/users', bob.token)).find((u) => u.id === bob.id).display_name, 'Bob');
  assert.equal((await list('/users', carol.token))[0].display_name, 'Carol');
  assert.equal((await list(`/users?id=eq.${alice.id}`, alice.token))[0].display_name, 'Alice');
});

test('users cannot be created or deleted through the API', async () => {
  const u = await createUser();
  let res = await api('POST', '/users', { token: u.token, body: { email: `n-${u.email}`, display_name: 'New' } });
  expect4xx(res);
  res = await api('POST', '/users', { token: u.token, body: { display_name: 'New' } });
  expectError(res, 403, 'forbidden');
  res = await api('DELETE', `/users?id=eq.${u.id}`, { token: u.token });
  expectError(res, 403, 'forbidden');
  assert.equal((await list('/users', u.token)).length, 1);
});
