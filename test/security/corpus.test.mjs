// Issue 14, item 3 (second half): a bad-input corpus.  Several hundred
// hostile requests over every resource and every function of the api schema
// (read from the catalogue, so a new view or function is covered by
// itself): wrong types, missing fields, huge values, invalid UTF-8 where
// PostgREST lets it through (bodies, headers), NUL, deep nesting, unknown
// columns, hostile filters and headers.  Every answer must be a success or
// an error whose code is in the catalogue (task_api.error_codes) or is a
// PGRST code listed in docs/errors.md; none is a 5xx; and the server log
// shows no crash (no "terminated by signal", no PANIC).  The counts are
// printed as TAP diagnostics ("# corpus: ...").
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { BASE_URL, createUser, createProject, createTask, psql } from '../http/lib.mjs';

const URL_ = new URL(BASE_URL);
const DOC = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
// PGRST codes docs/errors.md lists in its PostgREST table: | `PGRST301` | 401 | ...
const LISTED_PGRST = new Set([...DOC.matchAll(/^\| `(PGRST\d+)` \|/gm)].map((m) => m[1]));

// One raw request (node:http lets header values carry latin-1 bytes and
// bodies carry any bytes).  Resolves {status, headers, text}.
function raw(method, path, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: URL_.hostname, port: URL_.port, method, path, headers: {
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers,
      },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.setTimeout(30000, () => req.destroy(new Error(`timeout: ${method} ${path}`)));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const deep = (n) => '['.repeat(n) + ']'.repeat(n);
const deepObject = (n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
// Values of every JSON kind that a field of any type may be sent.
const VALUES = [
  '', ' ', 'bogus', '\u0000', 'a\u0000b', 'x'.repeat(100000), '\ud800', '😀'.repeat(50), "'; DROP TABLE x; --",
  '../../etc/passwd', '2024-02-30', 'infinity', '0000-01-01', '99999-12-31', '1e5', 'null',
  '00000000-0000-0000-0000-000000000000', '{6ba7b810-9dad-11d1-80b4-00c04fd430c8}', '6ba7b8109dad11d180b400c04fd430c8',
  -1, 0, 1.5, 1e308, -1e308, 2 ** 63, 32768, true, false, null, [], {}, [1, 2], { a: { b: {} } }, { $ne: 1 },
];
// Raw bodies PostgREST may or may not accept: invalid UTF-8, NUL, depth.
const RAW_BODIES = [
  Buffer.from([0x7b, 0x22, 0x74, 0x69, 0x74, 0x6c, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), // {"title":"\xff\xfe"}
  Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d]), // a key with an invalid sequence
  Buffer.from('{"title":"a\u0000b"}'), // a raw NUL byte
  Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), // BOM + {}
  deep(100000), deepObject(10000), `{"title": ${deep(5000)}}`, '', 'null', '[]', '[[]]', '[{}, 1]', '"x"', '1e999',
  `{"title":"${'x'.repeat(2 * 1024 * 1024)}"}`, `[${Array(3000).fill('{}').join(',')}]`,
];
// Header values with non-ASCII characters, sent as their UTF-8 bytes.
const utf8 = (text) => Buffer.from(text, 'utf8').toString('latin1');
const HEADERS = [
  { Prefer: 'return=representation, resolution=merge-duplicates, missing=default, count=exact, tx=rollback' },
  { Prefer: utf8('\u00ff\u00fe') }, { Accept: 'application/vnd.pgrst.object+json' }, { Accept: 'text/csv' },
  { Accept: 'application/openapi+json' }, { Accept: utf8('\u00e9/\u00e9') }, { 'Content-Type': 'text/plain' },
  { 'Content-Type': 'application/x-www-form-urlencoded' }, { 'Content-Type': 'application/json; charset=latin1' },
  { 'If-Match': utf8('"\u00ff"') }, { 'If-Match': 'W/"1", "2", *' }, { 'If-Match': '"' + '9'.repeat(500) + '"' },
  { 'Idempotency-Key': utf8('\u00e9t\u00e9') }, { 'Idempotency-Key': 'k'.repeat(300) }, { 'Idempotency-Key': ' ' },
  { Authorization: 'Bearer' }, { Authorization: 'Bearer a.b.c' }, { Authorization: 'Basic YTpi' },
  { Authorization: `Bearer ${'A'.repeat(8000)}` }, { Authorization: utf8('Bearer \u00ff.\u00ff.\u00ff') },
  { Cookie: utf8('__Host-task_api_session=\u00ff') }, { Cookie: `__Host-task_api_session=${'x'.repeat(4000)}` },
  { Cookie: 'task_api_session=a; __Host-task_api_session=b' }, { 'X-Forwarded-For': utf8('999.1.1.1, \u00ff, ::g') },
  { 'X-CSRF-Token': utf8('\u00ff') }, { Range: 'items=9-1' }, { Range: utf8('\u00ff') }, { 'Accept-Profile': 'task_api' },
  { 'Content-Profile': 'pg_catalog' }, { Origin: 'null' },
];
// Header values that are not valid UTF-8 (latin-1 bytes): PostgREST 12.0.2
// answers them itself, before the database (see the TODO test below).
const LATIN1_HEADERS = [
  { Prefer: '\u00ff\u00fe' }, { 'If-Match': '"\u00ff"' }, { 'Idempotency-Key': '\u00e9t\u00e9' },
  { Authorization: 'Bearer \u00ff.\u00ff.\u00ff' }, { Cookie: '__Host-task_api_session=\u00ff' }, { Accept: '\u00e9/\u00e9' },
];
const FILTER_OPS = ['eq', 'gt', 'in', 'like', 'ilike', 'fts', 'cs', 'is', 'match', 'imatch', 'isdistinct'];
const FILTER_VALUES = ['bogus', '%00', `(${'1,'.repeat(500)}1)`, "'", '"', '\\', '%25', '*', 'null', '{1,2}',
  'x'.repeat(5000), '%C3%A9', '9'.repeat(40), '1e999', '((((((((((x))))))))))'];
const QUERIES = [
  'select=nope', 'select=*,nope(*)', 'select=id::nope', 'select=' + 'a,'.repeat(500) + 'a', 'order=nope.desc',
  'order=id.sideways', 'limit=-1', 'limit=99999999999999999999', 'offset=-5', 'offset=abc',
  'and=(id.eq.1,or(id.eq.2,and(id.eq.3)))', 'or=' + '('.repeat(200) + 'id.eq.1' + ')'.repeat(200),
  'columns=nope', 'on_conflict=nope', 'select=*,users(*)', 'select=count()', 'nope=eq.1',
];

let users;
let catalogue;
let views;
let functions;

before(async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  const t = await createTask(u.token, p.id);
  users = { u, p, t };
  catalogue = new Set((await psql('SELECT string_agg(code, \' \') FROM task_api.error_codes')).split(' '));
  // Every view of api with its columns, every function with its arguments.
  views = Object.fromEntries((await psql(`
    SELECT c.relname || '|' || string_agg(a.attname, ',' ORDER BY a.attnum)
      FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
     WHERE c.relnamespace = 'api'::regnamespace AND c.relkind = 'v' GROUP BY c.relname ORDER BY 1`))
    .split('\n').map((l) => l.split('|')).map(([v, cols]) => [v, cols.split(',')]));
  functions = Object.fromEntries((await psql(`
    SELECT p.proname || '|' || coalesce(array_to_string(p.proargnames[1:p.pronargs], ','), '')
      FROM pg_proc p WHERE p.pronamespace = 'api'::regnamespace ORDER BY 1`))
    .split('\n').map((l) => l.split('|')).map(([f, args]) => [f, args ? args.split(',') : []]));
});

// The requests: [method, path, {headers, body}].  body is a string or Buffer.
function corpus() {
  const { u, t } = users;
  const auth = { Authorization: `Bearer ${u.token}` };
  const list = [];
  const add = (method, path, opts = {}) => list.push([method, path, { ...opts, headers: { ...auth, ...opts.headers } }]);
  const json = (v) => JSON.stringify(v);
  let k = 0;
  const pick = (n) => Array.from({ length: n }, () => VALUES[k++ % VALUES.length]);

  for (const [view, cols] of Object.entries(views)) {
    const path = `/${view}`;
    // Bodies: each column with a few hostile values, in POST and PATCH; a missing everything; an unknown column.
    for (const col of cols) {
      for (const v of pick(2)) add('POST', path, { body: json({ [col]: v }) });
      add('PATCH', `${path}?${cols[0]}=eq.${randomUUID()}`, { body: json({ [col]: pick(1)[0] }) });
      for (const op of FILTER_OPS.slice(0, 4)) {
        add('GET', `${path}?${col}=${op}.${FILTER_VALUES[k++ % FILTER_VALUES.length]}`);
      }
    }
    add('POST', path, { body: json({}) });
    add('POST', path, { body: json({ nope: 1 }) });
    add('POST', path, { body: json(Object.fromEntries(cols.map((c) => [c, pick(1)[0]]))) });
    add('PUT', `${path}?${cols[0]}=eq.${t.id}`, { body: json(Object.fromEntries(cols.map((c) => [c, 'x']))) });
    add('DELETE', `${path}?${cols[0]}=eq.bogus`);
    add('DELETE', path);
    for (const q of QUERIES) add('GET', `${path}?${q}`);
    for (const b of RAW_BODIES.slice(0, 8)) add('POST', path, { body: b });
    // Anonymous, and with hostile headers.
    list.push(['GET', path, { headers: {} }]);
    list.push(['POST', path, { headers: {}, body: json({}) }]);
  }
  for (const [fn, args] of Object.entries(functions)) {
    const path = `/rpc/${fn}`;
    const writes = !fn.endsWith('_page');
    for (const arg of args) {
      for (const v of pick(3)) add('POST', path, { body: json({ ...Object.fromEntries(args.map((a) => [a, null])), [arg]: v }) });
      if (!writes) add('GET', `${path}?${arg}=${encodeURIComponent(String(pick(1)[0]))}`);
    }
    add('POST', path, { body: json({ nope: 1 }) });
    add('GET', `${path}?nope=1`);
    add('GET', `${path}?select=nope`);
    add('PUT', path, { body: json({}) });
    if (args.length > 0) add('POST', path, { body: json({}) });
    for (const b of RAW_BODIES.slice(0, 6)) add('POST', path, { body: b });
  }
  for (const b of RAW_BODIES) add('POST', '/tasks', { body: b });
  for (const h of HEADERS) {
    add('GET', '/tasks', { headers: h });
    add('POST', '/tasks', { headers: h, body: json({ project_id: users.p.id, title: 'corpus' }) });
    list.push(['GET', '/projects', { headers: h }]);
  }
  for (const path of ['/nope', '/rpc/nope', '/api.tasks', '/task_api.tasks', '/rpc/pre_request',
    '/rpc/raise_error', '/%00', `/${'a'.repeat(5000)}`]) add('GET', path);
  return list;
}

// A valid answer: a success (2xx), or an answer with a code of the catalogue or a
// PGRST code docs/errors.md lists; never a 5xx.  Returns the code or null.
function check(res, label) {
  assert.ok(res.status < 500, `${label}: ${res.status} ${res.text.slice(0, 300)}`);
  if (res.status < 300) return null;
  let body;
  try {
    body = JSON.parse(res.text);
  } catch {
    assert.fail(`${label}: ${res.status} with a body that is not JSON: ${res.text.slice(0, 300)}`);
  }
  const code = body && body.code;
  assert.ok(typeof code === 'string' && (catalogue.has(code) || LISTED_PGRST.has(code)),
    `${label}: ${res.status} code ${JSON.stringify(code)} is neither in the catalogue nor listed: ${res.text.slice(0, 300)}`);
  return code;
}

async function crashLines() {
  const path = `${process.env.TASK_API_CLUSTER_DIR}/postgres.log`;
  return psql(
    "SELECT count(*) FILTER (WHERE l ~ 'terminated by signal|PANIC:') || ' ' || count(*) FILTER (WHERE l ~ 'server process .* (was terminated|exited with exit code [1-9])') " +
    "FROM regexp_split_to_table(pg_read_file(:'path'), E'\\n') AS l", { path });
}

test('the bad-input corpus: every answer is a catalogue or listed PGRST code, none is 5xx, no crash', async (t) => {
  const before_ = await crashLines();
  const requests = corpus();
  assert.ok(requests.length >= 300, `at least 300 requests (${requests.length})`);
  const codes = new Map();
  const failures = [];
  let fives = 0;
  // Four at a time: the requests are independent.
  for (let i = 0; i < requests.length; i += 4) {
    await Promise.all(requests.slice(i, i + 4).map(async ([method, path, opts]) => {
      const label = `${method} ${path.slice(0, 120)} ${String(opts.body ?? '').slice(0, 80)} ${JSON.stringify(opts.headers).slice(0, 120)}`;
      let res;
      try {
        res = await raw(method, path, opts);
      } catch (e) {
        failures.push(`${label}: no answer (${e.message})`);
        return;
      }
      if (res.status >= 500) fives++;
      try {
        const code = check(res, label);
        const key = `${res.status} ${code ?? 'ok'}`;
        codes.set(key, (codes.get(key) ?? 0) + 1);
      } catch (e) {
        failures.push(e.message);
      }
    }));
  }
  const after_ = await crashLines();
  t.diagnostic(`corpus: ${requests.length} requests, ${failures.length} answers outside the catalogue and listed PGRST codes, ` +
    `${fives} 5xx, crashes in the log: ${after_ === before_ ? 0 : `${before_} -> ${after_}`}`);
  t.diagnostic(`corpus: codes seen: ${[...codes].sort().map(([c, n]) => `${c} x${n}`).join(', ')}`);
  for (const f of failures.slice(0, 50)) t.diagnostic(`corpus: not in the contract: ${f.replace(/\s+/g, ' ').slice(0, 400)}`);
  assert.deepEqual(failures, [], 'every answer is in the catalogue or a listed PGRST code, never a 5xx');
  assert.equal(after_, before_, 'no backend crashed (no "terminated by signal", no PANIC)');
});

// PostgREST 12.0.2 answers a header value that is not valid UTF-8 with a
// plain-text 500 "Something went wrong" (or closes the connection, for
// Accept) before any SQL runs, like the query string in
// test/http/errors.test.mjs; and for a path ending in %00 (/tasks%00) it
// queries /tasks and answers with a NUL byte in its Content-Location
// header, which HTTP clients refuse.  Upstream limitations, kept as a TODO
// that asserts the right behaviour.
test('a header value that is not valid UTF-8, or a NUL in the path, gets a 4xx with a code', {
  todo: 'PostgREST 12.0.2 answers 500, or a malformed header, around the database (upstream)',
}, async () => {
  for (const h of LATIN1_HEADERS) {
    check(await raw('GET', '/projects', { headers: h }), `GET /projects ${JSON.stringify(h)}`);
  }
  check(await raw('GET', '/tasks%00', { headers: { Authorization: `Bearer ${users.u.token}` } }), 'GET /tasks%00');
});
