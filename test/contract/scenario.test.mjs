// An ordinary client session, through the validating proxy the contract tier
// (test/contract/contract.sh) puts in front of PostgREST: TASK_API_URL is the
// proxy, which checks every request and response against the document served
// at / and answers with an error on a violation.  Half of it uses plain
// fetch (lib.mjs's api()), half @supabase/postgrest-js, as docs/clients.md
// shows.  The tier counts the proxy's violations afterwards: 0 is the goal.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { PostgrestClient } from '@supabase/postgrest-js';
import { api, psql, show, expectStatus, expectError, uniqueEmail, uniqueName, REPRESENTATION, BASE_URL } from '../http/lib.mjs';
import { PASSWORD, setCookieLines } from '../http/session_lib.mjs';

const client = (token) => new PostgrestClient(BASE_URL, { headers: { Authorization: `Bearer ${token}` } });
const ok = ({ data, error, status }, expected) => {
  assert.equal(error, null, `postgrest-js error: ${JSON.stringify(error)}`);
  if (expected !== undefined) assert.equal(status, expected);
  return data;
};
// (Rows are read as arrays: prism validates an answer to .single(), whose
// media type is application/vnd.pgrst.object+json, against the
// application/json schema of the response, an array.)

async function signup(name) {
  const email = uniqueEmail(name);
  const res = await api('POST', '/rpc/signup', { body: { email, password: PASSWORD, display_name: name } });
  const body = expectStatus(res, 201);
  return { email, id: body.user_id, token: body.token };
}

const alice = {};
const bob = {};
let project;

test('the document: GET / through the proxy, anonymous and signed in', async () => {
  const anon = expectStatus(await api('GET', '/'), 200);
  assert.match(anon.openapi, /^3\.1\./);
  assert.deepEqual(Object.keys(anon.paths).sort(), ['/', '/rpc/login', '/rpc/openapi', '/rpc/signup']);
});

test('sessions: signup 201, login 200, a second login, logout 204 ends it', async () => {
  Object.assign(alice, await signup('alice'));
  Object.assign(bob, await signup('bob'));
  const login = expectStatus(await api('POST', '/rpc/login', { body: { email: alice.email, password: PASSWORD } }), 200);
  assert.equal(login.token_type, 'bearer');
  const res = await api('POST', '/rpc/logout', { token: login.token });
  expectStatus(res, 204);
  expectError(await api('GET', '/projects', { token: login.token }), 401, 'unauthenticated');
  const user = expectStatus(await api('GET', '/', { token: alice.token }), 200);
  assert.ok(user.paths['/tasks'].post && !user.paths['/task_events'].post);
});

test('refresh: a new token for the session, the old one refused, a second refresh of it 401', async () => {
  const login = expectStatus(await api('POST', '/rpc/login', { body: { email: bob.email, password: PASSWORD } }), 200);
  const renewed = expectStatus(await api('POST', '/rpc/refresh', { token: login.token }), 200);
  assert.equal(renewed.token_type, 'bearer');
  assert.notEqual(renewed.token, login.token);
  expectStatus(await api('GET', '/projects', { token: renewed.token }), 200);
  expectError(await api('GET', '/projects', { token: login.token }), 401, 'unauthenticated');
  expectError(await api('POST', '/rpc/refresh', { token: login.token }), 401, 'unauthenticated');
});

test('projects with postgrest-js: create, list, page, PATCH', async () => {
  const db = client(alice.token);
  project = ok(await db.from('projects').insert({ name: uniqueName(), description: 'contract' }).select(), 201)[0];
  assert.equal(project.owner_id, alice.id);
  const rows = ok(await db.from('projects').select('id,name').eq('id', project.id), 200);
  assert.equal(rows.length, 1);
  const page = ok(await db.rpc('projects_page', { page_size: 1, sort: 'created_at', direction: 'desc' }, { get: true }), 200);
  assert.equal(page.data.length, 1);
  ok(await db.from('projects').update({ description: 'changed' }).eq('id', project.id).select(), 200);
  const users = ok(await db.from('users').select('*'), 200);
  assert.equal(users.find((u) => u.id === alice.id).email, alice.email);
  ok(await db.from('users').update({ display_name: 'Alice A.' }).eq('id', alice.id), 204);
});

test('members and invitations: invite, accept, change role, decline', async () => {
  const inv = expectStatus(await api('POST', '/invitations', { token: alice.token, headers: REPRESENTATION,
    body: { project_id: project.id, email: bob.email, role: 'viewer' } }), 201)[0];
  const mine = expectStatus(await api('GET', '/invitations', { token: bob.token }), 200);
  assert.ok(mine.some((i) => i.id === inv.id));
  const member = expectStatus(await api('POST', '/rpc/accept_invitation', { token: bob.token, body: { id: inv.id } }), 200);
  assert.equal(member.role, 'viewer');
  const db = client(alice.token);
  const members = ok(await db.from('project_members').select('*').eq('project_id', project.id), 200);
  assert.equal(members.length, 2);
  ok(await db.from('project_members').update({ role: 'editor' }).eq('project_id', project.id).eq('user_id', bob.id).select(), 200);
  const carol = await signup('carol');
  const inv2 = ok(await db.from('invitations').insert({ project_id: project.id, user_id: carol.id, role: 'viewer' }).select(), 201)[0];
  expectStatus(await api('POST', '/rpc/decline_invitation', { token: carol.token, body: { id: inv2.id } }), 204);
  const inv3 = ok(await db.from('invitations').insert({ project_id: project.id, user_id: carol.id, role: 'viewer' }).select(), 201)[0];
  ok(await db.from('invitations').delete().eq('id', inv3.id), 204);
});

test('tasks: create, pages, PATCH with If-Match, 412, idempotent replay, trash, restore, purge', async () => {
  const db = client(alice.token);
  const first = ok(await db.from('tasks').insert({ project_id: project.id, title: 'one', priority: 1 }).select(), 201)[0];
  for (const title of ['two', 'three']) {
    expectStatus(await api('POST', '/tasks', { token: bob.token, headers: REPRESENTATION,
      body: { project_id: project.id, title, status: 'in_progress' } }), 201);
  }
  // Pages: follow next_cursor to the end.
  let seen = 0;
  let cursor = null;
  do {
    const q = new URLSearchParams({ project_id: project.id, page_size: '2', sort: 'priority', direction: 'asc', ...(cursor ? { cursor } : {}) });
    const res = await api('GET', `/rpc/tasks_page?${q}`, { token: alice.token });
    const page = expectStatus(res, 200);
    seen += page.data.length;
    assert.equal(page.has_more, page.next_cursor !== null);
    if (page.has_more) assert.match(res.headers.get('link') ?? '', /rel="next"/);
    cursor = page.next_cursor;
  } while (cursor);
  assert.equal(seen, 3);
  // If-Match: the current version passes and answers the new ETag; an old one is 412.
  const path = `/tasks?id=eq.${first.id}`;
  const patched = await api('PATCH', path, { token: alice.token, headers: { 'If-Match': `"${first.version}"`, ...REPRESENTATION },
    body: { status: 'done' } });
  expectStatus(patched, 200);
  assert.equal(patched.headers.get('etag'), `"${first.version + 1}"`);
  expectError(await api('PATCH', path, { token: alice.token, headers: { 'If-Match': `"${first.version}"` }, body: { title: 'x' } }),
    412, 'precondition_failed');
  // Idempotency-Key: the replay answers the stored answer and says so.
  const key = `contract-${Date.now()}`;
  const opts = { token: alice.token, headers: { 'Idempotency-Key': key, ...REPRESENTATION }, body: { project_id: project.id, title: 'once' } };
  const a = await api('POST', '/tasks', opts);
  const b = await api('POST', '/tasks', opts);
  expectStatus(a, 201);
  expectStatus(b, 201);
  assert.equal(b.headers.get('idempotent-replayed'), 'true', show(b));
  assert.equal(a.body[0].id, b.body[0].id);
  // DELETE to the trash, restore, then delete and purge.
  expectStatus(await api('DELETE', path, { token: alice.token }), 204);
  const trash = expectStatus(await api('GET', '/trash', { token: alice.token }), 200);
  assert.ok(trash.some((t) => t.id === first.id));
  const restored = ok(await db.rpc('restore_task', { id: first.id }), 200);
  assert.equal(restored.id, first.id);
  expectStatus(await api('DELETE', `/tasks?id=eq.${a.body[0].id}`, { token: alice.token, headers: { 'If-Match': `"${a.body[0].version}"` } }), 204);
  expectStatus(await api('POST', '/rpc/purge_task', { token: alice.token, body: { id: a.body[0].id } }), 204);
  const tasks = ok(await db.from('tasks').select('id,title,status').eq('project_id', project.id).order('created_at'), 200);
  assert.equal(tasks.length, 3);
});

test('the activity feed: /task_events and its pages', async () => {
  const db = client(bob.token);
  const events = ok(await db.from('task_events').select('*').eq('project_id', project.id).limit(5), 200);
  assert.ok(events.length > 0);
  const page = ok(await db.rpc('task_events_page', { project_id: project.id, resource_type: 'task', page_size: 3 }, { get: true }), 200);
  assert.ok(page.data.length > 0);
});

test('API keys: create 201, use, list, revoke', async () => {
  const created = expectStatus(await api('POST', '/rpc/create_api_key', { token: alice.token, body: { name: 'ci' } }), 201);
  const viaKey = expectStatus(await api('GET', `/projects?id=eq.${project.id}&select=id,name`, { token: created.key }), 200);
  assert.equal(viaKey.length, 1);
  const keys = ok(await client(alice.token).from('api_keys').select('*'), 200);
  assert.ok(keys.some((k) => k.id === created.id));
  expectStatus(await api('DELETE', `/api_keys?id=eq.${created.id}`, { token: alice.token }), 204);
  expectError(await api('GET', '/projects', { token: created.key }), 401, 'unauthenticated');
});

test('cookie session: login sets the cookies, a write sends X-CSRF-Token', async () => {
  const login = await api('POST', '/rpc/login', { body: { email: bob.email, password: PASSWORD } });
  expectStatus(login, 200);
  // (The proxy joins the two Set-Cookie fields into one, with ", ".)
  const lines = setCookieLines(login).flatMap((l) => l.split(/,\s*(?=[A-Za-z0-9_.-]+=)/));
  const cookies = Object.fromEntries(lines.map((l) => {
    const pair = l.split(';')[0];
    return [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)];
  }));
  const cookie = Object.entries(cookies).map(([n, v]) => `${n}=${v}`).join('; ');
  expectStatus(await api('GET', '/projects?select=id', { headers: { Cookie: cookie } }), 200);
  const created = await api('POST', '/projects', { headers: { Cookie: cookie, 'X-CSRF-Token': cookies['__Host-task_api_csrf'], ...REPRESENTATION },
    body: { name: uniqueName('cookie') } });
  expectStatus(created, 201);
});

test('password change and logout_all', async () => {
  const carol = await signup('carol2');
  expectStatus(await api('POST', '/rpc/change_password', { token: carol.token,
    body: { current_password: PASSWORD, new_password: `${PASSWORD} 2` } }), 204);
  expectStatus(await api('POST', '/rpc/logout_all', { token: carol.token }), 204);
});

test('project to the trash and back', async () => {
  const db = client(alice.token);
  ok(await db.from('projects').delete().eq('id', project.id), 204);
  const back = ok(await db.rpc('restore_project', { id: project.id }), 200);
  assert.equal(back.id, project.id);
  const other = ok(await db.from('projects').insert({ name: uniqueName('gone') }).select(), 201)[0];
  ok(await db.from('projects').delete().eq('id', other.id), 204);
  expectStatus(await api('POST', '/rpc/purge_project', { token: alice.token, body: { id: other.id } }), 204);
});

// 429: the user's limit lowered for this test only, restored after.
let saved;
after(async () => {
  if (saved === undefined) return;
  await psql(`ALTER SYSTEM SET task_api.rate_limit_user = '${saved[0]}'; ALTER SYSTEM SET task_api.rate_limit_user_burst = '${saved[1]}';
              SELECT pg_reload_conf();`);
  await waitSetting(saved.join(','));
  await psql('SELECT task_api.rate_limit_reset()');
});
async function waitSetting(expected) {
  for (let i = 0; i < 200; i++) {
    if (await psql("SELECT current_setting('task_api.rate_limit_user') || ',' || current_setting('task_api.rate_limit_user_burst')") === expected) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`the settings did not take effect: ${expected}`);
}

test('rate limit: 429 rate_limited with Retry-After', async () => {
  saved = (await psql("SELECT current_setting('task_api.rate_limit_user') || ',' || current_setting('task_api.rate_limit_user_burst')")).split(',');
  await psql("ALTER SYSTEM SET task_api.rate_limit_user = '1'; ALTER SYSTEM SET task_api.rate_limit_user_burst = '3'; SELECT pg_reload_conf();");
  await waitSetting('1,3');
  await psql('SELECT task_api.rate_limit_reset()');
  let res;
  for (let i = 0; i < 10; i++) {
    res = await api('GET', '/projects?select=id', { token: alice.token });
    if (res.status === 429) break;
    expectStatus(res, 200);
  }
  expectError(res, 429, 'rate_limited');
  assert.match(res.headers.get('retry-after') ?? '', /^\d+$/);
  const { error, status } = await client(alice.token).from('tasks').select('id');
  assert.equal(status, 429);
  assert.equal(error.code, 'rate_limited');
});
