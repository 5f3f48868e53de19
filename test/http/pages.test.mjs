// Cursor pagination (docs/contract.md §6): GET /rpc/tasks_page and
// GET /rpc/projects_page through the real PostgREST.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  api, BASE_URL, createUser, createProject, addMember, list, expectError, expectStatus, show, psql, enc,
} from './lib.mjs';

const SORTS = ['created_at', 'updated_at', 'due_date', 'priority'];
const DIRECTIONS = ['asc', 'desc'];

// GET with the arguments as a query string; returns the response.
function page(path, token, args = {}) {
  const qs = Object.entries(args).filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&');
  return api('GET', `${path}${qs ? '?' + qs : ''}`, { token });
}

// Follow next_cursor until has_more is false; page sizes cycle through sizes.
async function walk(path, token, args, sizes = [7]) {
  const rows = [];
  let cursor;
  for (let i = 0; i < 1000; i++) {
    const res = await page(path, token, { ...args, page_size: sizes[i % sizes.length], cursor });
    const body = expectStatus(res, 200);
    assert.ok(Array.isArray(body.data), show(res));
    assert.ok(body.data.length <= sizes[i % sizes.length], show(res));
    rows.push(...body.data);
    if (!body.has_more) {
      assert.equal(body.next_cursor, null, show(res));
      assert.equal(res.headers.get('link'), null, 'no Link header on the last page');
      return rows;
    }
    assert.equal(typeof body.next_cursor, 'string', show(res));
    assert.equal(body.data.length, sizes[i % sizes.length], 'a page with more after it is full');
    cursor = body.next_cursor;
  }
  throw new Error('the walk did not end');
}

// The order GET /tasks gives with PostgREST's own order= (NULL due dates as +infinity).
function orderParam(sort, direction) {
  const nulls = sort === 'due_date' ? (direction === 'asc' ? '.nullslast' : '.nullsfirst') : '';
  return `${sort}.${direction}${nulls},id.${direction}`;
}

let alice; // owner of p1 and p2
let bob; // viewer of p1 only
let stranger; // member of nothing alice owns
let p1;
let p2;
let pOther; // stranger's own project

before(async () => {
  alice = await createUser({ displayName: 'Alice' });
  bob = await createUser({ displayName: 'Bob' });
  stranger = await createUser({ displayName: 'Stranger' });
  p1 = await createProject(alice.token);
  p2 = await createProject(alice.token);
  pOther = await createProject(stranger.token);
  await addMember(alice.token, p1.id, bob, 'viewer');
  // 40 tasks in p1, 17 in p2, 5 in the stranger's project: ties in every
  // sort key (created_at in groups of three, priority 0..4, updated_at the
  // same for a whole statement), a third without a due date, some trashed.
  await psql(`
    INSERT INTO task_api.tasks (project_id, title, description, status, priority, due_date, created_by, created_at, assignee_id)
    SELECT CASE WHEN i <= 40 THEN :'p1'::uuid ELSE :'p2'::uuid END,
           'task ' || i || CASE WHEN i % 6 = 0 THEN ' launch' ELSE '' END,
           CASE WHEN i % 4 = 0 THEN 'Rocket fuel & engines' END,
           (ARRAY['todo', 'in_progress', 'blocked', 'done', 'cancelled']::task_api.task_status[])[1 + i % 5],
           i % 5, CASE WHEN i % 3 <> 0 THEN date '2026-03-01' + (i * 7) % 11 END,
           :'alice', timestamptz '2026-01-01 00:00:00.123456+00' + (i / 3) * interval '1 minute',
           CASE WHEN i % 2 = 0 THEN :'alice'::uuid END
      FROM generate_series(1, 57) i;
    INSERT INTO task_api.tasks (project_id, title, description, created_by)
    SELECT :'po', 'secret ' || i || ' launch', 'Rocket', :'stranger' FROM generate_series(1, 5) i;
    UPDATE task_api.tasks SET deleted_at = now() WHERE project_id = :'p1' AND title IN ('task 5', 'task 13');`,
  { p1: p1.id, p2: p2.id, po: pOther.id, alice: alice.id, stranger: stranger.id });
});

for (const sort of SORTS) {
  for (const direction of DIRECTIONS) {
    test(`tasks_page walks every task exactly once, sort=${sort} direction=${direction}, rows as GET /tasks gives them`, async () => {
      const expected = await list(`/tasks?project_id=eq.${p1.id}&order=${orderParam(sort, direction)}`, alice.token);
      assert.equal(expected.length, 38);
      const got = await walk('/rpc/tasks_page', alice.token, { project_id: p1.id, sort, direction });
      assert.deepEqual(got, expected);
      // Across every project of the caller (no project_id), with other page sizes.
      const all = await list(`/tasks?order=${orderParam(sort, direction)}`, alice.token);
      assert.equal(all.length, 55);
      assert.deepEqual(await walk('/rpc/tasks_page', alice.token, { sort, direction }, [1, 10, 3, 25]), all);
    });
  }
}

test('defaults: created_at descending, 25 a page', async () => {
  const res = await page('/rpc/tasks_page', alice.token, { project_id: p1.id });
  const body = expectStatus(res, 200);
  assert.deepEqual(Object.keys(body).sort(), ['data', 'has_more', 'next_cursor']);
  assert.equal(body.data.length, 25);
  assert.equal(body.has_more, true);
  const expected = await list(`/tasks?project_id=eq.${p1.id}&order=created_at.desc,id.desc&limit=25`, alice.token);
  assert.deepEqual(body.data, expected);
  assert.match(body.next_cursor, /^[A-Za-z0-9_-]+$/, 'the cursor is URL-safe');
});

test('the Link header repeats the arguments with the new cursor, and following it with GET gives the next page', async () => {
  const args = { project_id: p1.id, q: 'rocket & fuel', sort: 'due_date', direction: 'asc', page_size: 2 };
  const res = await page('/rpc/tasks_page', alice.token, args);
  const body = expectStatus(res, 200);
  assert.equal(body.has_more, true);
  const link = res.headers.get('link');
  assert.ok(link, `Link header: ${show(res)}`);
  const m = /^<([^>]+)>; rel="next"$/.exec(link);
  assert.ok(m, `Link is <url>; rel="next": ${link}`);
  const url = new URL(m[1], BASE_URL + '/rpc/tasks_page');
  assert.equal(url.pathname, '/rpc/tasks_page');
  assert.deepEqual(Object.fromEntries(url.searchParams), {
    project_id: p1.id, q: 'rocket & fuel', sort: 'due_date', direction: 'asc', page_size: '2', cursor: body.next_cursor,
  });
  const viaLink = await api('GET', m[1], { token: alice.token });
  const viaCursor = await page('/rpc/tasks_page', alice.token, { ...args, cursor: body.next_cursor });
  assert.deepEqual(expectStatus(viaLink, 200), expectStatus(viaCursor, 200));
  assert.ok(viaLink.body.data.length > 0);
  // Headers set earlier in the request are kept (the Link is appended).
  assert.equal(res.headers.get('content-type').split(';')[0], 'application/json');
});

test('page_size may change between pages; filters and sort may not', async () => {
  const first = expectStatus(await page('/rpc/tasks_page', alice.token, { project_id: p1.id, page_size: 5 }), 200);
  const next = expectStatus(await page('/rpc/tasks_page', alice.token,
    { project_id: p1.id, page_size: 30, cursor: first.next_cursor }), 200);
  const expected = await list(`/tasks?project_id=eq.${p1.id}&order=created_at.desc,id.desc&offset=5&limit=30`, alice.token);
  assert.deepEqual(next.data, expected);

  const c = first.next_cursor;
  for (const changed of [
    { project_id: p1.id, sort: 'priority' },
    { project_id: p1.id, direction: 'asc' },
    { project_id: p2.id },
    {},
    { project_id: p1.id, status: 'done' },
    { project_id: p1.id, assignee_id: alice.id },
    { project_id: p1.id, q: 'launch' },
  ]) {
    expectError(await page('/rpc/tasks_page', alice.token, { ...changed, cursor: c }), 400, 'cursor_mismatch');
  }
  // A projects_page cursor is not a tasks_page cursor.
  const pc = expectStatus(await page('/rpc/projects_page', alice.token, { page_size: 1 }), 200).next_cursor;
  expectError(await page('/rpc/tasks_page', alice.token, { cursor: pc }), 400, 'cursor_mismatch');
});

test('tampered, truncated, extended, foreign and garbage cursors are invalid_cursor (400)', async () => {
  const c = expectStatus(await page('/rpc/tasks_page', alice.token, { project_id: p1.id, page_size: 3 }), 200).next_cursor;
  const flip = (s, i) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
  for (const bad of [
    'garbage', 'x', '', '!!!!', c.slice(0, -1), c.slice(0, -4), c + 'A', c + '==', flip(c, 0), flip(c, 10),
    flip(c, c.length - 1), c.slice(2), 'A'.repeat(5000), Buffer.from('{"last_id": 1}').toString('base64url'),
  ]) {
    const res = await page('/rpc/tasks_page', alice.token, { project_id: p1.id, cursor: bad });
    expectError(res, 400, 'invalid_cursor');
  }
  // Signed with another secret: the same record under a different key.
  const forged = await psql(`
    CREATE EXTENSION IF NOT EXISTS pgcrypto;
    SELECT rtrim(translate(replace(encode(rec || hmac(rec, 'not the server''s cursor secret, 32+ bytes', 'sha256'), 'base64'), E'\\n', ''), '+/', '-_'), '=')
      FROM (SELECT substring(b from 1 for length(b) - 32) AS rec
              FROM (SELECT decode(rpad(translate(:'c', '-_', '+/'), (length(:'c') + 3) / 4 * 4, '='), 'base64') AS b) x) y`,
  { c });
  assert.match(forged, /^[A-Za-z0-9_-]{60,}$/);
  assert.notEqual(forged, c);
  expectError(await page('/rpc/tasks_page', alice.token, { project_id: p1.id, cursor: forged }), 400, 'invalid_cursor');
});

test('invalid_parameter (400) for page_size out of 1..100, an unknown sort or direction', async () => {
  for (const args of [{ page_size: 0 }, { page_size: 101 }, { page_size: -1 }, { sort: 'title' }, { sort: 'id' },
    { direction: 'up' }, { direction: 'DESC' }]) {
    expectError(await page('/rpc/tasks_page', alice.token, args), 400, 'invalid_parameter');
  }
  for (const args of [{ page_size: 0 }, { page_size: 101 }, { sort: 'priority' }, { sort: 'due_date' }, { direction: 'sideways' }]) {
    expectError(await page('/rpc/projects_page', alice.token, args), 400, 'invalid_parameter');
  }
  expectStatus(await page('/rpc/tasks_page', alice.token, { page_size: 1 }), 200);
  expectStatus(await page('/rpc/tasks_page', alice.token, { page_size: 100 }), 200);
  // Values PostgreSQL rejects itself keep its code and a 4xx.
  for (const args of [{ page_size: 'ten' }, { status: 'finished' }, { project_id: 'not-a-uuid' }]) {
    const res = await page('/rpc/tasks_page', alice.token, args);
    assert.ok(res.status >= 400 && res.status < 500, show(res));
  }
});

test('a cursor grants nothing: a non-member holding a member\'s cursor and Link sees none of the project', async () => {
  const res = await page('/rpc/tasks_page', bob.token, { project_id: p1.id, page_size: 4 });
  const body = expectStatus(res, 200);
  assert.equal(body.data.length, 4, 'bob, a viewer of p1, reads it');
  const link = /^<([^>]+)>/.exec(res.headers.get('link'))[1];
  for (const path of [link, `/rpc/tasks_page?project_id=${p1.id}&page_size=4&cursor=${enc(body.next_cursor)}`]) {
    const theirs = await api('GET', path, { token: stranger.token });
    assert.deepEqual(expectStatus(theirs, 200), { data: [], next_cursor: null, has_more: false });
    assert.equal(theirs.headers.get('link'), null);
  }
  // Without project_id the stranger's own walk shows only the stranger's tasks, and bob's only p1.
  const mine = await walk('/rpc/tasks_page', stranger.token, {}, [2]);
  assert.deepEqual(mine.map((t) => t.project_id), Array(5).fill(pOther.id));
  const bobs = await walk('/rpc/tasks_page', bob.token, { sort: 'priority' }, [9]);
  assert.equal(bobs.length, 38);
  assert.ok(bobs.every((t) => t.project_id === p1.id));
  // Anonymous callers get nothing at all.
  const anon = await page('/rpc/tasks_page', undefined, {});
  assert.ok(anon.status === 401 || anon.status === 403, show(anon));
});

test('q is a full-text search over title and description; status and assignee_id filter', async () => {
  const launch = await walk('/rpc/tasks_page', alice.token, { q: 'launch', sort: 'priority', direction: 'asc' }, [4]);
  const expected = await list(`/tasks?title=like.*launch*&order=priority.asc,id.asc`, alice.token);
  assert.ok(expected.length >= 9);
  assert.deepEqual(launch, expected);
  const fuel = await walk('/rpc/tasks_page', alice.token, { project_id: p1.id, q: 'ROCKET fuel' }, [3]);
  assert.deepEqual(fuel, await list(`/tasks?project_id=eq.${p1.id}&description=eq.${enc('Rocket fuel & engines')}&order=created_at.desc,id.desc`, alice.token));
  assert.deepEqual(await walk('/rpc/tasks_page', alice.token, { q: '"engines rocket"' }), [], 'phrase search');
  assert.deepEqual(await walk('/rpc/tasks_page', stranger.token, { q: 'fuel' }), [], 'another project\'s matches are not shown');
  const done = await walk('/rpc/tasks_page', alice.token, { status: 'done', sort: 'due_date' }, [2]);
  assert.deepEqual(done, await list(`/tasks?status=eq.done&order=due_date.desc.nullsfirst,id.desc`, alice.token));
  const assigned = await walk('/rpc/tasks_page', alice.token,
    { project_id: p2.id, assignee_id: alice.id, sort: 'updated_at', direction: 'asc' }, [3]);
  assert.deepEqual(assigned, await list(`/tasks?project_id=eq.${p2.id}&assignee_id=eq.${alice.id}&order=updated_at.asc,id.asc`, alice.token));
  assert.ok(assigned.length > 0);
  // A blank q is no filter.
  assert.equal((await walk('/rpc/tasks_page', alice.token, { project_id: p2.id, q: '   ' }, [50])).length, 17);
});

test('projects_page walks the caller\'s projects in keyset order, rows as GET /projects gives them', async () => {
  const carol = await createUser({ displayName: 'Carol' });
  for (let i = 0; i < 7; i++) await createProject(carol.token);
  await addMember(alice.token, p1.id, carol, 'editor');
  await psql(`UPDATE task_api.projects SET description = 'touched' WHERE id = :'p'`, { p: p1.id });
  for (const sort of ['created_at', 'updated_at']) {
    for (const direction of DIRECTIONS) {
      const expected = await list(`/projects?order=${sort}.${direction},id.${direction}`, carol.token);
      assert.equal(expected.length, 8);
      assert.deepEqual(await walk('/rpc/projects_page', carol.token, { sort, direction }, [3, 1]), expected);
    }
  }
  const res = await page('/rpc/projects_page', carol.token, { page_size: 3 });
  const link = res.headers.get('link');
  assert.match(link, /^<\/rpc\/projects_page\?sort=created_at&direction=desc&page_size=3&cursor=[A-Za-z0-9_-]+>; rel="next"$/);
  const c = res.body.next_cursor;
  expectError(await page('/rpc/projects_page', carol.token, { sort: 'updated_at', cursor: c }), 400, 'cursor_mismatch');
  expectError(await page('/rpc/projects_page', carol.token, { cursor: c.slice(1) }), 400, 'invalid_cursor');
  // Bob is a member of p1 only.
  const bobs = await walk('/rpc/projects_page', bob.token, {});
  assert.deepEqual(bobs.map((p) => p.id), [p1.id]);
});

test('POST /rpc/tasks_page works too, and a write in the same walk is seen if it lands ahead', async () => {
  const first = await api('POST', '/rpc/tasks_page', { token: alice.token, body: { project_id: p2.id, page_size: 5, sort: 'created_at', direction: 'asc' } });
  const body = expectStatus(first, 200);
  assert.equal(body.data.length, 5);
  await psql(`INSERT INTO task_api.tasks (project_id, title, created_by) VALUES (:'p', 'late arrival', :'a')`, { p: p2.id, a: alice.id });
  const rest = await walk('/rpc/tasks_page', alice.token, { project_id: p2.id, sort: 'created_at', direction: 'asc', cursor: undefined }, [100]);
  assert.equal(rest.length, 18);
  const next = expectStatus(await page('/rpc/tasks_page', alice.token,
    { project_id: p2.id, sort: 'created_at', direction: 'asc', page_size: 100, cursor: body.next_cursor }), 200);
  assert.equal(next.data.length, 13, 'the 12 after the first page and the new task');
  assert.equal(next.data.at(-1).title, 'late arrival');
});

// Follow Link rel="next" from a first response to the end; the rows of every page.
async function followLinks(first, token) {
  const rows = [];
  let res = first;
  for (let i = 0; i < 1000; i++) {
    const body = expectStatus(res, 200);
    rows.push(...body.data);
    const link = res.headers.get('link');
    if (!body.has_more) {
      assert.equal(link, null, show(res));
      return rows;
    }
    const m = /^<(\/rpc\/[a-z_]+\?[A-Za-z0-9%._~=&-]+)>; rel="next"$/.exec(link);
    assert.ok(m, `Link is <path?query>; rel="next" with only unreserved or percent-encoded bytes: ${link}`);
    res = await api('GET', m[1], { token });
  }
  throw new Error('the walk did not end');
}

test('the Link header is followable to the end with every argument, q with spaces, &, #, +, %, quotes and unicode', async () => {
  const q = '  rocket%  or "launch" or é#&+ ';
  for (const args of [
    { project_id: p1.id, assignee_id: alice.id, q, sort: 'due_date', direction: 'asc', page_size: 2 },
    { status: 'todo', q, sort: 'priority', page_size: 1 },
    { q: 'fuel & #engines', sort: 'updated_at', direction: 'asc', page_size: 3 },
    { sort: 'due_date', direction: 'desc', page_size: 4 },
  ]) {
    const first = await page('/rpc/tasks_page', alice.token, args);
    const viaLinks = await followLinks(first, alice.token);
    const viaCursors = await walk('/rpc/tasks_page', alice.token, args, [args.page_size]);
    assert.ok(viaLinks.length > args.page_size, `more than one page: ${JSON.stringify(args)}`);
    assert.deepEqual(viaLinks, viaCursors, JSON.stringify(args));
    assert.equal(new Set(viaLinks.map((t) => t.id)).size, viaLinks.length, 'no task twice');
  }
  // A walk started with POST continues with GET through its Link.
  const posted = await api('POST', '/rpc/tasks_page', { token: alice.token, body: { q, page_size: 2, direction: 'asc' } });
  assert.deepEqual(await followLinks(posted, alice.token),
    await walk('/rpc/tasks_page', alice.token, { q, direction: 'asc' }, [2]));
  assert.ok(posted.body.data.length === 2);
  const projects = await page('/rpc/projects_page', alice.token, { sort: 'updated_at', direction: 'asc', page_size: 1 });
  assert.deepEqual(await followLinks(projects, alice.token),
    await walk('/rpc/projects_page', alice.token, { sort: 'updated_at', direction: 'asc' }, [1]));
});

test('repeated arguments: PostgREST uses the last one, and the Link repeats what was used', async () => {
  const res = await api('GET', `/rpc/tasks_page?project_id=${p2.id}&page_size=2&page_size=3&sort=created_at&sort=priority`, { token: alice.token });
  const body = expectStatus(res, 200);
  assert.equal(body.data.length, 3);
  const url = new URL(/^<([^>]+)>/.exec(res.headers.get('link'))[1], BASE_URL);
  assert.equal(url.searchParams.get('page_size'), '3');
  assert.equal(url.searchParams.get('sort'), 'priority');
  assert.deepEqual(body.data, await list(`/tasks?project_id=eq.${p2.id}&order=priority.desc,id.desc&limit=3`, alice.token));
});

test('odd cursors are 400, never 500: empty, padded, standard base64, percent-encoded junk, 100 KB', async () => {
  const c = expectStatus(await page('/rpc/tasks_page', alice.token, { project_id: p1.id, page_size: 3 }), 200).next_cursor;
  const std = c.replace(/-/g, '+').replace(/_/g, '/');
  for (const bad of ['', '=', c + '=', c + '==', `${c.slice(0, -2)}%%`, '%00', ' ' + c, c + ' ', c + '\n', '+/+/', c.replace(/.$/, '.')]
    .concat(std !== c ? [std] : [])) {
    expectError(await page('/rpc/tasks_page', alice.token, { project_id: p1.id, cursor: bad }), 400, 'invalid_cursor');
  }
  // Raw (not re-encoded) junk in the query string.
  const raw = await api('GET', `/rpc/tasks_page?project_id=${p1.id}&cursor=%25%25%2B%2F%3D`, { token: alice.token });
  expectError(raw, 400, 'invalid_cursor');
  // 100 KB: in the body it reaches the database and is refused by length; in
  // the URL the HTTP server refuses it first, but with a 4xx all the same.
  const huge = 'A'.repeat(100 * 1024);
  expectError(await api('POST', '/rpc/tasks_page', { token: alice.token, body: { cursor: huge } }), 400, 'invalid_cursor');
  const inUrl = await page('/rpc/tasks_page', alice.token, { cursor: huge });
  assert.ok(inUrl.status >= 400 && inUrl.status < 500, show(inUrl));
});

test('a q PostgreSQL cannot build or match is invalid_parameter (400), not 500 or 413; tsquery syntax, quotes and stop words are fine', async () => {
  // More than 32 nested NOTs: "tsquery stack too small", an internal error.
  expectError(await page('/rpc/tasks_page', alice.token, { q: '-'.repeat(40) + 'launch' }), 400, 'invalid_parameter');
  // Tens of thousands of terms: matching them overflows the stack, or takes
  // longer than task_api.statement_timeout (issue 21: query_too_expensive).
  for (const q of ['launch '.repeat(20000), 'launch or '.repeat(20000) + 'x', '"a b" '.repeat(50000), 'launch or '.repeat(600) + 'x']) {
    expectError(await api('POST', '/rpc/tasks_page', { token: alice.token, body: { q } }), 400,
      /^(invalid_parameter|query_too_expensive)$/);
  }
  // At the limits: 32 NOTs, and 1000 terms and operators.
  expectStatus(await page('/rpc/tasks_page', alice.token, { q: '-'.repeat(32) + 'launch' }), 200);
  expectStatus(await api('POST', '/rpc/tasks_page', { token: alice.token, body: { q: 'launch or '.repeat(499) + 'x' } }), 200);
  const launch = await walk('/rpc/tasks_page', alice.token, { q: 'launch' });
  assert.ok(launch.length > 0);
  for (const q of ["launch & !rocket | (x <-> y)", '"unclosed launch', "'launch'", 'the and of launch', 'LAUNCH', 'launch -"rocket fuel"']) {
    const rows = await walk('/rpc/tasks_page', alice.token, { q });
    assert.ok(rows.every((t) => /launch/.test(t.title)), q);
  }
  assert.deepEqual(await walk('/rpc/tasks_page', alice.token, { q: 'x launch' }), [], 'every word must match');
  assert.deepEqual(await walk('/rpc/tasks_page', alice.token, { q: 'ünïcødé 🚀' }), []);
});
