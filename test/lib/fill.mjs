// Fill a task_api database through its HTTP API, for the backup tier
// (test/backup/backup.sh): every resource gets rows, and the state returned
// (JSON) records what test/lib/verify.test.mjs checks after a restore.
//
//   import { fill } from './fill.mjs'; const state = await fill(url);
//   TASK_API_URL=... node test/lib/fill.mjs STATE_FILE
//
// Everything goes through PostgREST at the URL given, except the event
// consumer, which is not an API client: it claims and acknowledges events as
// the role task_api_relay in a superuser psql (SET ROLE), as test/http/lib.mjs
// uses psql, with TASK_API_PSQL, TASK_API_PGHOST, TASK_API_PGPORT and
// TASK_API_PGDATABASE.  No npm dependencies; self-contained (test/http/lib.mjs
// binds one URL and needs the JWT secret at import), and verify.test.mjs uses
// its helpers from here.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { psql } from './psql.mjs';
export { psql };

export const CONSUMER = 'fill-consumer';
export const REPRESENTATION = { Prefer: 'return=representation' };

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (test/backup/backup.sh sets it)`);
  return v;
}

// An HTTP client for one API root: api(method, path, {token, body, headers})
// returns {status, headers, body, text} as test/http/lib.mjs's api() does.
export function client(url) {
  const base = url.replace(/\/+$/, '');
  return async function api(method, path, { token, body, headers = {} } = {}) {
    const h = { Accept: 'application/json', ...headers };
    if (token) h.Authorization = `Bearer ${token}`;
    let payload;
    if (body !== undefined) {
      payload = JSON.stringify(body);
      h['Content-Type'] = 'application/json';
    }
    const res = await fetch(base + path, { method, headers: h, body: payload });
    const text = await res.text();
    let parsed = text === '' ? null : text;
    if (text !== '' && /json/i.test(res.headers.get('content-type') || '')) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    return { status: res.status, headers: res.headers, body: parsed, text, method, path };
  };
}

export function show(res) {
  const t = res.text.length > 600 ? res.text.slice(0, 600) + '...' : res.text;
  return `${res.method} ${res.path}: HTTP ${res.status} ${t}`;
}

export function expectStatus(res, status) {
  assert.equal(res.status, status, `expected HTTP ${status}, got ${show(res)}`);
  return res.body;
}


// The events after the consumer's acknowledged position, as full rows in id
// order (timestamps in UTC, so two clusters render them alike).
export const PENDING_EVENTS_SQL = `
SET TimeZone = 'UTC';
SELECT coalesce(json_agg(e ORDER BY e.id), '[]')
  FROM task_api.events e
 WHERE e.id > (SELECT acked_id FROM task_api.event_consumers WHERE name = :'consumer');`;

// Everything a token shows of the data, in a fixed order: what a restore
// must give back to the same token.
export async function view(api, token) {
  const paths = {
    users: '/users?order=id',
    projects: '/projects?order=id',
    project_members: '/project_members?order=project_id,user_id',
    tasks: '/tasks?order=id',
    trash: '/trash?order=resource_type,id',
    // The columns of every release (0.2.0 added request_id).
    task_events: '/task_events?order=id&select=id,occurred_at,actor_id,resource_type,resource_id,project_id,action,changes',
    api_keys: '/api_keys?order=id',
  };
  const out = {};
  for (const [k, path] of Object.entries(paths)) {
    out[k] = expectStatus(await api('GET', path, { token }), 200);
  }
  // 0.1.0's feed also showed the trash's bookkeeping, which 0.2.0 leaves out
  // (issue 14): compared without it.
  out.task_events = out.task_events.map((e) => ({
    ...e, changes: Object.fromEntries(Object.entries(e.changes).filter(([c]) => !TRASH_COLUMNS.includes(c))),
  }));
  return out;
}

// Columns of the tables that their api views do not have.
export const TRASH_COLUMNS = ['deleted_at', 'deleted_by', 'deleted_with_project'];

// GET /rpc/tasks_page from cursor to the end; returns the ids in walk order.
export async function walkRest(api, token, args, cursor, pageSize) {
  const ids = [];
  for (let i = 0; i < 1000; i++) {
    const qs = new URLSearchParams({ ...args, page_size: String(pageSize), cursor });
    const res = await api('GET', `/rpc/tasks_page?${qs}`, { token });
    const page = expectStatus(res, 200);
    ids.push(...page.data.map((t) => t.id));
    if (!page.has_more) return ids;
    cursor = page.next_cursor;
  }
  throw new Error('the page walk did not end');
}

const PASSWORD = (name) => `${name}'s long password ${randomUUID().slice(0, 8)}`;

export async function fill(url) {
  const api = client(url);
  const run = randomUUID().slice(0, 8);
  const post = async (path, token, body, status = 201, headers = REPRESENTATION) =>
    expectStatus(await api('POST', path, { token, body, headers }), status);
  const one = async (path, token, body) => {
    const rows = await post(path, token, body);
    assert.equal(rows.length, 1);
    return rows[0];
  };

  // Users: signup, then more sessions by login.
  const users = {};
  for (const name of ['alice', 'bob', 'carol']) {
    const email = `${name}-${run}@example.test`;
    const password = PASSWORD(name);
    const s = await post('/rpc/signup', undefined, { email, password, display_name: name[0].toUpperCase() + name.slice(1) }, 201, {});
    users[name] = { id: s.user_id, email, password, tokens: [{ token: s.token, expires_at: s.expires_at, via: 'signup' }] };
  }
  const login = async (name) => {
    const u = users[name];
    const s = await post('/rpc/login', undefined, { email: u.email, password: u.password }, 200, {});
    assert.equal(s.user_id, u.id);
    u.tokens.push({ token: s.token, expires_at: s.expires_at, via: 'login' });
    return s.token;
  };
  await login('alice');
  await login('bob');
  await login('carol');
  const toLogOut = await login('alice'); // logged out below
  const { alice, bob, carol } = users;
  const A = alice.tokens[0].token;
  const B = bob.tokens[1].token; // bob's login session
  const C = carol.tokens[0].token;
  expectStatus(await api('PATCH', `/users?id=eq.${carol.id}`, { token: C, body: { display_name: 'Carol C.' } }), 204);

  // Projects and members.
  const launch = await one('/projects', A, { name: `Launch ${run}`, description: 'Ship v1' });
  const ops = await one('/projects', A, { name: `Ops ${run}` });
  const doomed = await one('/projects', A, { name: `Doomed ${run}`, description: 'to the trash' });
  const bobs = await one('/projects', B, { name: `Bob's ${run}` });
  // Members: added by the owner before invitations (0.1.0), invited and
  // accepting since (POST /project_members answers 405 there).
  const invitations = (await api('GET', '/invitations?limit=0', { token: A })).status === 200;
  const member = async (owner, invitee, body) => {
    if (!invitations) return one('/project_members', owner, body);
    const invitation = await one('/invitations', owner, body);
    return expectStatus(await api('POST', '/rpc/accept_invitation', { token: invitee, body: { id: invitation.id } }), 200);
  };
  await member(A, B, { project_id: launch.id, user_id: bob.id, role: 'editor' });
  await member(A, C, { project_id: launch.id, email: carol.email.toUpperCase(), role: 'viewer' });
  await member(A, C, { project_id: ops.id, user_id: carol.id, role: 'viewer' });
  expectStatus(await api('PATCH', `/project_members?project_id=eq.${ops.id}&user_id=eq.${carol.id}`,
    { token: A, body: { role: 'editor' } }), 204);
  await member(B, A, { project_id: bobs.id, user_id: alice.id, role: 'viewer' });
  // One invitation left open (since invitations exist), to an address with no account.
  if (invitations) await one('/invitations', A, { project_id: launch.id, email: `dave-${run}@example.test`, role: 'viewer' });

  // Tasks: single and bulk POSTs, by owners and editors.
  const first = await one('/tasks', A, { project_id: launch.id, title: '  Write the post  ', priority: 1, due_date: '2026-03-01' });
  const statuses = ['todo', 'in_progress', 'blocked', 'done', 'cancelled'];
  const bulk = await post('/tasks', A, Array.from({ length: 8 }, (_, i) => ({
    project_id: launch.id, title: `launch step ${i + 1}`, status: statuses[i % 5], priority: i % 5,
    due_date: i % 3 === 0 ? null : `2026-04-${String(10 + i).padStart(2, '0')}`,
    description: i % 2 ? `details of step ${i + 1}` : null,
  })));
  assert.equal(bulk.length, 8);
  await one('/tasks', B, { project_id: launch.id, title: 'Bob edits launch', assignee_id: carol.id });
  const opsTasks = await post('/tasks', C, [1, 2, 3].map((i) => ({ project_id: ops.id, title: `ops chore ${i}` })));
  await post('/tasks', B, [{ project_id: bobs.id, title: 'bob one', status: 'todo' }, { project_id: bobs.id, title: 'bob two', status: 'done' }]);
  const doomedTasks = await post('/tasks', A, [{ project_id: doomed.id, title: 'doomed a' }, { project_id: doomed.id, title: 'doomed b' }]);

  // API keys: one live (and used to write), one revoked.
  const live = await post('/rpc/create_api_key', A, { name: 'live key' }, 201, {});
  const revoked = await post('/rpc/create_api_key', A, { name: 'revoked key' }, 201, {});
  expectStatus(await api('DELETE', `/api_keys?id=eq.${revoked.id}`, { token: A }), 204);
  expectStatus(await api('GET', '/projects', { token: revoked.key }), 401);
  await one('/tasks', live.key, { project_id: ops.id, title: 'written with the API key' });

  // A scraper token (0.2.0 on; signed by a superuser, not through the API),
  // one live and one revoked, each tried once.
  let scraper = null;
  if (await psql("SELECT to_regprocedure('task_api.revoke_metrics_token(uuid)') IS NOT NULL") === 't') {
    const token = (n) => psql(`SELECT task_api.metrics_token('${n} days')`);
    scraper = { live: await token(90), revoked: await token(30) };
    await psql(`SELECT task_api.revoke_metrics_token(((task_api.jwt_verify('${scraper.revoked}')).claims ->> 'jti')::uuid)`);
    const scrape = (t) => api('GET', '/rpc/metrics', { token: t, headers: { Accept: 'text/plain' } });
    expectStatus(await scrape(scraper.live), 200);
    expectStatus(await scrape(scraper.revoked), 401);
  }

  // The event consumer takes a batch and acknowledges part of it; the rest
  // of the batch stays claimed but unacknowledged, and the events written
  // after it (below) are unclaimed.
  const CLAIM = 20;
  const ACK = 8;
  const claimOut = await psql(`
BEGIN;
SET LOCAL ROLE task_api_relay;
WITH c AS (SELECT * FROM task_api.claim_events(:'consumer', ${CLAIM}) WITH ORDINALITY)
SELECT (SELECT json_agg(c.id ORDER BY c.ordinality) FROM c) AS claimed,
       (SELECT c.id FROM c WHERE c.ordinality = ${ACK}) AS ack_to \\gset
SELECT task_api.ack_events(:'consumer', :ack_to) AS acked \\gset
COMMIT;
SELECT json_build_object('claimed', :'claimed'::json, 'acked', :acked);`, { consumer: CONSUMER });
  const consumer = JSON.parse(claimOut);
  assert.equal(consumer.claimed.length, CLAIM, `a batch of ${CLAIM} events: ${claimOut}`);
  assert.equal(consumer.acked, consumer.claimed[ACK - 1]);

  // PATCH with If-Match.
  const patched = await api('PATCH', `/tasks?id=eq.${first.id}`,
    { token: A, body: { status: 'done' }, headers: { 'If-Match': '"1"', ...REPRESENTATION } });
  expectStatus(patched, 200);
  assert.equal(patched.headers.get('etag'), '"2"');
  expectStatus(await api('PATCH', `/tasks?id=eq.${first.id}`,
    { token: A, body: { title: 'stale edit' }, headers: { 'If-Match': '"1"' } }), 412);
  expectStatus(await api('PATCH', `/projects?id=eq.${ops.id}`,
    { token: A, body: { description: 'Keep the lights on' }, headers: { 'If-Match': 'W/"1"' } }), 204);
  expectStatus(await api('PATCH', `/tasks?id=eq.${bulk[1].id}`, { token: B, body: { assignee_id: bob.id, priority: 0 } }), 204);

  // One POST /tasks with an Idempotency-Key.
  const idemKey = `fill-${randomUUID()}`;
  const idemBody = { project_id: launch.id, title: 'Pay the invoice', priority: 1 };
  const idem = await api('POST', '/tasks', { token: A, body: idemBody, headers: { 'Idempotency-Key': idemKey, ...REPRESENTATION } });
  expectStatus(idem, 201);

  // The trash: a task on its own, a project with its tasks.
  const trashedTask = opsTasks[1];
  expectStatus(await api('DELETE', `/tasks?id=eq.${trashedTask.id}`, { token: C }), 204);
  expectStatus(await api('DELETE', `/projects?id=eq.${doomed.id}`, { token: A }), 204);

  // A page walk: the first page's cursor, and the ids of the rest of the walk.
  const pageArgs = { project_id: launch.id, sort: 'due_date', direction: 'asc' };
  const firstPage = expectStatus(await api('GET', `/rpc/tasks_page?${new URLSearchParams({ ...pageArgs, page_size: '3' })}`, { token: A }), 200);
  assert.equal(firstPage.has_more, true);
  const rest = await walkRest(api, A, pageArgs, firstPage.next_cursor, 4);
  assert.ok(rest.length >= 5, 'a walk of several pages');

  // One session logged out (its token is refused from now on).
  expectStatus(await api('POST', '/rpc/logout', { token: toLogOut }), 204);
  expectStatus(await api('GET', '/projects', { token: toLogOut }), 401);
  alice.tokens = alice.tokens.filter((t) => t.token !== toLogOut);

  // What each user sees, and what the consumer has still to receive.
  for (const u of Object.values(users)) u.view = await view(api, u.tokens[0].token);
  const pending = JSON.parse(await psql(PENDING_EVENTS_SQL, { consumer: CONSUMER }));
  const claimedUnacked = pending.filter((e) => e.id <= consumer.claimed[CLAIM - 1]).length;
  assert.equal(claimedUnacked, CLAIM - ACK, 'part of the batch is claimed but not acknowledged');
  assert.ok(pending.length > claimedUnacked, 'some events are not claimed yet');

  return {
    url,
    users,
    loggedOutToken: toLogOut,
    apiKeys: { live: { id: live.id, key: live.key, user: 'alice' }, revoked: { id: revoked.id, key: revoked.key } },
    scraper,
    projects: { launch: launch.id, ops: ops.id, doomed: doomed.id, bobs: bobs.id },
    trash: {
      task: trashedTask.id,
      project: doomed.id,
      projectTasks: doomedTasks.map((t) => t.id).sort(),
    },
    idempotency: {
      key: idemKey, body: idemBody, status: idem.status, response: idem.body,
      etag: idem.headers.get('etag'), title: idemBody.title, project_id: launch.id,
    },
    cursor: { args: pageArgs, first: firstPage.data.map((t) => t.id), cursor: firstPage.next_cursor, rest },
    consumer: {
      name: CONSUMER, claimed: consumer.claimed, acked_id: consumer.acked,
      claimed_id: consumer.claimed[CLAIM - 1], pending,
    },
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: TASK_API_URL=... node test/lib/fill.mjs STATE_FILE');
    process.exit(2);
  }
  const state = await fill(env('TASK_API_URL'));
  writeFileSync(file, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  console.log(`filled ${state.url}: ${Object.keys(state.users).length} users, ` +
    `${state.consumer.pending.length} events pending for ${CONSUMER}`);
}
