// GET /rpc/task_events_page through the real PostgREST: the activity feed in
// signed-cursor pages, newest first or oldest first, filtered, with the Link
// header, its errors, and no access beyond the caller's projects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  api, createUser, createProject, createTask, addMember, list, expectError, expectStatus, show, enc,
} from './lib.mjs';

function page(token, args = {}) {
  const qs = Object.entries(args).filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&');
  return api('GET', `/rpc/task_events_page${qs ? '?' + qs : ''}`, { token });
}

// Follow next_cursor to the end; returns every row.
async function walk(token, args, size) {
  const rows = [];
  let cursor;
  for (let i = 0; i < 500; i++) {
    const res = await page(token, { ...args, page_size: size, cursor });
    const body = expectStatus(res, 200);
    rows.push(...body.data);
    if (!body.has_more) {
      assert.equal(body.next_cursor, null, show(res));
      assert.equal(res.headers.get('link'), null, 'no Link on the last page');
      return rows;
    }
    assert.equal(body.data.length, size, 'a page with more after it is full');
    cursor = body.next_cursor;
  }
  throw new Error('the walk did not end');
}

// Two projects of one user with events of every kind, and a stranger's project.
async function fixture() {
  const alice = await createUser();
  const bob = await createUser();
  const stranger = await createUser();
  const big = await createProject(alice.token);
  const small = await createProject(alice.token);
  await addMember(alice.token, big.id, bob, 'editor');
  for (let i = 0; i < 9; i++) {
    const t = await createTask(alice.token, i % 3 === 0 ? small.id : big.id, { title: `task ${i}` });
    if (i % 2 === 0) {
      expectStatus(await api('PATCH', `/tasks?id=eq.${t.id}`, { token: alice.token, body: { status: 'done' } }), 204);
    }
  }
  const other = await createProject(stranger.token);
  await createTask(stranger.token, other.id, { title: 'not yours' });
  return { alice, bob, stranger, big, small, other };
}

test('task_events_page walks the feed of every project of the caller exactly once, in id order, both directions', async () => {
  const { alice, big, small } = await fixture();
  const expected = await list(`/task_events?project_id=in.(${big.id},${small.id})&order=id.desc`, alice.token);
  assert.ok(expected.length >= 19, `enough events: ${expected.length}`);
  for (const size of [1, 4, 7, 100]) {
    const desc = await walk(alice.token, {}, size);
    assert.deepEqual(desc.map((e) => e.id), expected.map((e) => e.id), `desc, page_size ${size}`);
    const asc = await walk(alice.token, { direction: 'asc' }, size);
    assert.deepEqual(asc.map((e) => e.id), expected.map((e) => e.id).reverse(), `asc, page_size ${size}`);
  }
  // Rows are shaped exactly like GET /task_events.
  const first = expectStatus(await page(alice.token, { page_size: 3 }), 200);
  assert.deepEqual(first.data, expected.slice(0, 3));
});

test('task_events_page filters by project and resource type; page_size may change mid-walk', async () => {
  const { alice, big } = await fixture();
  const expected = await list(`/task_events?project_id=eq.${big.id}&resource_type=eq.task&order=id.desc`, alice.token);
  const first = expectStatus(await page(alice.token, { project_id: big.id, resource_type: 'task', page_size: 2 }), 200);
  const rest = expectStatus(await page(alice.token, {
    project_id: big.id, resource_type: 'task', page_size: 50, cursor: first.next_cursor,
  }), 200);
  assert.deepEqual([...first.data, ...rest.data].map((e) => e.id), expected.map((e) => e.id));
  assert.equal(rest.has_more, false);
});

test('task_events_page: the Link header repeats the arguments and is followable', async () => {
  const { alice, big } = await fixture();
  const res = await page(alice.token, { project_id: big.id, resource_type: 'task', direction: 'asc', page_size: 2 });
  const body = expectStatus(res, 200);
  const link = res.headers.get('link');
  const m = /^<([^>]+)>; rel="next"$/.exec(link ?? '');
  assert.ok(m, `Link: ${link}`);
  const url = new URL(m[1], 'http://x');
  assert.equal(url.pathname, '/rpc/task_events_page');
  assert.equal(url.searchParams.get('project_id'), big.id);
  assert.equal(url.searchParams.get('resource_type'), 'task');
  assert.equal(url.searchParams.get('direction'), 'asc');
  assert.equal(url.searchParams.get('page_size'), '2');
  assert.equal(url.searchParams.get('cursor'), body.next_cursor);
  const next = expectStatus(await api('GET', m[1], { token: alice.token }), 200);
  assert.ok(next.data.length > 0);
  assert.ok(next.data[0].id > body.data[1].id, 'the next page continues after the last row');
});

test('task_events_page errors: bad cursor, cursor of other filters, bad arguments', async () => {
  const { alice, big, small } = await fixture();
  const first = expectStatus(await page(alice.token, { project_id: big.id, page_size: 2 }), 200);
  expectError(await page(alice.token, { cursor: 'garbage' }), 400, 'invalid_cursor');
  const tampered = first.next_cursor.slice(0, -2) + (first.next_cursor.endsWith('AA') ? 'BA' : 'AA');
  expectError(await page(alice.token, { project_id: big.id, cursor: tampered }), 400, 'invalid_cursor');
  expectError(await page(alice.token, { project_id: small.id, cursor: first.next_cursor }), 400, 'cursor_mismatch');
  expectError(await page(alice.token, { project_id: big.id, direction: 'asc', cursor: first.next_cursor }), 400, 'cursor_mismatch');
  expectError(await page(alice.token, { project_id: big.id, resource_type: 'task', cursor: first.next_cursor }), 400, 'cursor_mismatch');
  // A cursor of another page function is refused too.
  const tasksPage = expectStatus(await api('GET', `/rpc/tasks_page?project_id=${big.id}&page_size=1`, { token: alice.token }), 200);
  expectError(await page(alice.token, { cursor: tasksPage.next_cursor }), 400, 'cursor_mismatch');
  expectError(await page(alice.token, { page_size: 0 }), 400, 'invalid_parameter');
  expectError(await page(alice.token, { page_size: 101 }), 400, 'invalid_parameter');
  expectError(await page(alice.token, { direction: 'sideways' }), 400, 'invalid_parameter');
  expectError(await page(alice.token, { resource_type: 'user' }), 400, 'invalid_parameter');
});

test('task_events_page shows nothing beyond the caller\'s projects, whatever cursor they hold', async () => {
  const { alice, bob, stranger, big, small, other } = await fixture();
  // The editor of one project sees that project's events only.
  const bobs = await walk(bob.token, {}, 10);
  assert.ok(bobs.length > 0);
  assert.ok(bobs.every((e) => e.project_id === big.id), 'only the shared project');
  // A stranger holding Alice's cursor and Link sees none of her projects.
  const res = await page(alice.token, { project_id: big.id, page_size: 2 });
  const body = expectStatus(res, 200);
  const viaCursor = expectStatus(await page(stranger.token, { project_id: big.id, page_size: 2, cursor: body.next_cursor }), 200);
  assert.deepEqual(viaCursor, { data: [], next_cursor: null, has_more: false });
  const link = /^<([^>]+)>/.exec(res.headers.get('link'))[1];
  assert.deepEqual(expectStatus(await api('GET', link, { token: stranger.token }), 200).data, []);
  const strangers = await walk(stranger.token, {}, 10);
  assert.ok(strangers.every((e) => e.project_id === other.id));
  assert.ok(!strangers.some((e) => e.project_id === small.id || e.project_id === big.id));
  // Anonymous callers have no feed at all.
  expectError(await api('GET', '/rpc/task_events_page'), 401);
  expectError(await api('GET', `/rpc/task_events_page?project_id=${big.id}`), 401);
});

test('task_events_page: a removed member loses the feed at once, cursor or not', async () => {
  const { alice, bob, big } = await fixture();
  const first = expectStatus(await page(bob.token, { project_id: big.id, page_size: 2 }), 200);
  assert.equal(first.data.length, 2);
  assert.ok(first.has_more);
  expectStatus(await api('DELETE', `/project_members?project_id=eq.${big.id}&user_id=eq.${bob.id}`, { token: alice.token }), 204);
  const empty = { data: [], next_cursor: null, has_more: false };
  assert.deepEqual(expectStatus(await page(bob.token, { project_id: big.id, page_size: 2, cursor: first.next_cursor }), 200), empty);
  assert.deepEqual(expectStatus(await page(bob.token, { project_id: big.id }), 200), empty);
  assert.deepEqual(await walk(bob.token, {}, 5), [], 'no project left, no event');
  // Alice still sees Bob's removal, the newest event of the project.
  const [last] = expectStatus(await page(alice.token, { project_id: big.id, page_size: 1 }), 200).data;
  assert.equal(`${last.resource_type} ${last.action} ${last.resource_id}`, `member purged ${bob.id}`);
});
