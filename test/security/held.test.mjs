// Issue 21: the probes that held — tokens, cookies, CSRF, RLS, mass
// assignment, SQL injection, cursor tampering — kept as regressions, as an
// attacker with an ordinary account would try them, through PostgREST.
// Most of the ground is covered by test/http/ already; this file adds only
// the attacker's angles those files lack, and names where the rest is:
//   tokens:       test/http/auth.test.mjs (wrong secret, alg none, role
//                 escalation, unknown users), bad_tokens.test.mjs (crafted
//                 headers and payloads), session.test.mjs (revoked and
//                 expired sessions), api_keys.test.mjs (revoked keys, keys
//                 cannot mint keys)
//   cookies/CSRF: test/http/cookies.test.mjs (flags, the browser flow,
//                 CSRF bound to the session, login CSRF), bad_tokens.test.mjs
//                 (crafted cookies)
//   RLS:          test/http/members.test.mjs, users.test.mjs,
//                 events.test.mjs, event_pages.test.mjs (non-members see
//                 nothing), test/pgtap/rls.sql
//   mass assign.: test/http/projects.test.mjs, tasks.test.mjs (server-owned
//                 fields refused)
//   injection:    test/http/errors.test.mjs (odd queries are 4xx)
//   cursors:      test/http/pages.test.mjs (tampered, truncated, foreign,
//                 a cursor grants nothing)
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  api, psql, show, createUser, createProject, createTask, addMember, expect4xx, expectError, expectStatus,
  list, mintJwt, JWT_SECRET, enc,
} from '../http/lib.mjs';
import { signup } from '../http/session_lib.mjs';

let alice; // the victim: owns a project with a task
let mallory; // the attacker: an ordinary account with a project of her own
let victimProject;
let victimTask;
let ownProject;

before(async () => {
  alice = await createUser({ displayName: 'Alice' });
  mallory = await createUser({ displayName: 'Mallory' });
  victimProject = await createProject(alice.token);
  victimTask = await createTask(alice.token, victimProject.id, { title: 'secret plan' });
  ownProject = await createProject(mallory.token);
  await createTask(mallory.token, ownProject.id);
});

// Alice's project and task, unchanged.
async function victimIntact() {
  const [p] = await list(`/projects?id=eq.${victimProject.id}`, alice.token);
  assert.equal(p.version, victimProject.version, 'the victim project is unchanged');
  const [t] = await list(`/tasks?id=eq.${victimTask.id}`, alice.token);
  assert.equal(t.version, victimTask.version, 'the victim task is unchanged');
  assert.equal(t.title, 'secret plan');
}

test('tokens: a token in the query string names nobody; a token for another user cannot be made from one\'s own', async () => {
  for (const path of [`/projects?access_token=${mallory.token}`, `/projects?token=${mallory.token}`]) {
    expect4xx(await api('GET', path));
  }
  // Mallory's own token with the payload swapped to Alice keeps Mallory's
  // signature: refused by PostgREST before any SQL.
  const [h, , s] = mallory.token.split('.');
  const forged = `${h}.${Buffer.from(JSON.stringify({ sub: alice.id, role: 'task_api_user', jti: alice.id })).toString('base64url')}.${s}`;
  expect4xx(await api('GET', '/projects', { token: forged }));
  // A correctly signed token for Alice that no session backs (what a
  // leaked secret would allow) is still refused: sessions are checked.
  const unbound = mintJwt(JWT_SECRET, { sub: alice.id, role: 'task_api_user', exp: Math.floor(Date.now() / 1000) + 600 });
  expectError(await api('GET', '/projects', { token: unbound }), 401, 'unauthenticated');
});

test('cookies and CSRF: a cookie session cannot write or mint keys without its CSRF token, nor with another session\'s', async () => {
  const victim = await signup();
  const other = await signup();
  const p = await victim.jar.request('POST', '/projects', { csrf: true, body: { name: 'by cookie' } });
  expectStatus(p, 201);
  for (const csrf of [false, other.jar.get('__Host-task_api_csrf'), '']) {
    expectError(await victim.jar.request('POST', '/rpc/create_api_key', { csrf, body: { name: 'stolen' } }), 403, 'csrf_failed');
    expectError(await victim.jar.request('PATCH', `/projects?name=eq.${enc('by cookie')}`, { csrf, body: { name: 'x' } }), 403, 'csrf_failed');
  }
  assert.equal(await psql(`SELECT count(*) FROM task_api.api_keys WHERE user_id = '${victim.id}'`), '0', 'no key was made');
});

test('RLS: embedding, filters, counts and RPCs show nothing of a project one is not a member of', async () => {
  assert.deepEqual(await list(`/tasks?project_id=eq.${victimProject.id}`, mallory.token), []);
  assert.deepEqual(await list(`/project_members?project_id=eq.${victimProject.id}`, mallory.token), []);
  // Embedding from one's own rows reaches only what RLS lets through.
  const mine = await list('/projects?select=id,tasks(id,title),project_members(user_id,users(display_name))', mallory.token);
  assert.deepEqual(mine.map((p) => p.id), [ownProject.id]);
  assert.ok(!JSON.stringify(mine).includes(alice.id) && !JSON.stringify(mine).includes('secret plan'), JSON.stringify(mine));
  const counted = await api('GET', `/tasks?title=eq.${enc('secret plan')}`, { token: mallory.token, headers: { Prefer: 'count=exact' } });
  assert.equal(counted.headers.get('content-range'), '*/0', show(counted));
  const users = await list('/users?select=id,email', mallory.token);
  assert.deepEqual(users.map((u) => u.id), [mallory.id], 'no other user is visible');
  const page = await api('GET', `/rpc/tasks_page?project_id=${victimProject.id}`, { token: mallory.token });
  assert.ok(page.status >= 400 || (page.body.data?.length === 0), show(page));
  // Writes aimed at the victim's rows touch nothing.
  await api('PATCH', `/tasks?id=eq.${victimTask.id}`, { token: mallory.token, body: { title: 'owned' } });
  await api('DELETE', `/tasks?id=eq.${victimTask.id}`, { token: mallory.token });
  await api('PATCH', `/projects?id=eq.${victimProject.id}`, { token: mallory.token, body: { name: 'owned' } });
  await victimIntact();
});

test('mass assignment: nobody writes into another project, makes themself a member, or changes identity columns', async () => {
  expect4xx(await api('POST', '/tasks', { token: mallory.token, body: { project_id: victimProject.id, title: 'planted' } }));
  expect4xx(await api('POST', '/project_members', {
    token: mallory.token, body: { project_id: victimProject.id, user_id: mallory.id, role: 'owner' },
  }));
  // Moving one's own task into the victim's project.
  const t = await createTask(mallory.token, ownProject.id);
  expect4xx(await api('PATCH', `/tasks?id=eq.${t.id}`, { token: mallory.token, body: { project_id: victimProject.id } }));
  // Identity columns of one's own user row.
  for (const body of [{ id: alice.id }, { email: 'alice@example.test' }]) {
    const res = await api('PATCH', `/users?id=eq.${mallory.id}`, { token: mallory.token, body });
    expect4xx(res);
  }
  assert.equal(await psql(`SELECT count(*) FROM task_api.project_members WHERE project_id = '${victimProject.id}'`), '1');
  await victimIntact();
});

test('SQL injection: quotes and SQL in filters, order, select and RPC arguments are data or a 4xx, never executed', async () => {
  const payloads = ["' OR '1'='1", "x'); DROP TABLE task_api.tasks; --", '1; SELECT pg_sleep(10)', '"; DELETE FROM task_api.users; --'];
  for (const p of payloads) {
    const res = await api('GET', `/tasks?title=eq.${enc(p)}`, { token: mallory.token });
    expectStatus(res, 200);
    assert.deepEqual(res.body, [], `filter ${p}`);
    for (const path of [`/tasks?order=${enc(p)}`, `/tasks?select=${enc(p)}`, `/tasks?${enc(p)}=eq.1`]) {
      const r = await api('GET', path, { token: mallory.token });
      assert.ok(r.status < 500, show(r));
      if (r.status === 200) assert.ok(!JSON.stringify(r.body).includes('secret plan'), show(r));
    }
    const q = await api('GET', `/rpc/tasks_page?project_id=${ownProject.id}&q=${enc(p)}`, { token: mallory.token });
    assert.ok(q.status < 500, show(q));
    // Stored as data, returned as data.
    const t = await createTask(mallory.token, ownProject.id, { title: p });
    assert.equal(t.title, p.trim());
  }
  assert.equal(await psql("SELECT to_regclass('task_api.tasks') IS NOT NULL AND (SELECT count(*) FROM task_api.users) > 0"), 't');
  await victimIntact();
});

test('cursor tampering: a cursor re-aimed at another project, or re-signed by a guess, grants nothing', async () => {
  const first = await api('GET', `/rpc/tasks_page?project_id=${ownProject.id}&page_size=1`, { token: mallory.token });
  expectStatus(first, 200);
  const cursor = first.body.next_cursor ?? 'AQAAAAAA';
  // The cursor of one's own walk, sent with the victim's project.
  const res = await api('GET', `/rpc/tasks_page?project_id=${victimProject.id}&cursor=${enc(cursor)}`, { token: mallory.token });
  assert.ok(res.status >= 400 || res.body.data?.length === 0, show(res));
  // Every single-byte change of the cursor is refused.
  const raw = Buffer.from(cursor, 'base64url');
  for (const i of [0, Math.floor(raw.length / 2), raw.length - 1]) {
    const bent = Buffer.from(raw);
    bent[i] ^= 0x01;
    const r = await api('GET', `/rpc/tasks_page?project_id=${ownProject.id}&cursor=${enc(bent.toString('base64url'))}`, { token: mallory.token });
    expectError(r, 400, /^(invalid_cursor|cursor_mismatch)$/);
  }
});

test('an ordinary account stays ordinary: no role, grant or function of the owner is reachable', async () => {
  for (const fn of ['jwt_sign', 'password_hash', 'start_session', 'rate_limit_reset']) {
    expect4xx(await api('POST', `/rpc/${fn}`, { token: mallory.token, body: {} }));
  }
  const probe = await api('GET', '/rpc/tasks_page', {
    token: mallory.token, headers: { 'Accept-Profile': 'task_api' },
  });
  expect4xx(probe);
  // A member's rights stop at their role.
  const viewer = await createUser();
  await addMember(alice.token, victimProject.id, viewer, 'viewer');
  expectError(await api('PATCH', `/tasks?id=eq.${victimTask.id}`, { token: viewer.token, body: { title: 'x' } }), 403, 'forbidden');
  await victimIntact();
});
