// The error translation's hardening (src/error_map.c, docs/errors.md):
// whose fault a data error is (the client's input, or the API's own code:
// 500 internal_error), which headers set before a failure an error answer
// keeps, authentication before 405, date texts with zone names (whose
// lookup can raise an error inside the hook), and the scheme in the
// same-origin check of the session cookie (src/cors.c).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  api, psql, show, createUser, createProject, createTask, expectError, expectValidation, fields,
  expectStatus, JWT_SECRET, mintJwt, NIL_UUID,
} from './lib.mjs';
import { JWT_TTL, signup, responseCookies, cookieHeader, now, CookieJar } from './session_lib.mjs';

// A test-only trigger whose body fails converting one of its own values:
// a fault of the API's code, not of the request.  Dropped after the file.
const FAULT_TITLE = 'internal-fault-of-the-api';
after(async () => {
  await psql(`DROP TRIGGER IF EXISTS zz_test_internal_fault ON task_api.tasks;
              DROP FUNCTION IF EXISTS public.test_internal_fault();`);
});

test('a data error of the API\'s own code is 500 internal_error with the catalogue\'s body; the same bad value in a body is 422 naming the field', async () => {
  await psql(`CREATE FUNCTION public.test_internal_fault() RETURNS trigger LANGUAGE plpgsql AS $$
              BEGIN
                  IF NEW.title = '${FAULT_TITLE}' THEN
                      PERFORM (NEW.title || '-not-a-uuid')::uuid;
                  END IF;
                  RETURN NEW;
              END $$;
              CREATE TRIGGER zz_test_internal_fault BEFORE INSERT ON task_api.tasks
                  FOR EACH ROW EXECUTE FUNCTION public.test_internal_fault();`);
  const u = await createUser();
  const p = await createProject(u.token);
  const res = await api('POST', '/tasks', { token: u.token, body: { project_id: p.id, title: FAULT_TITLE } });
  assert.equal(res.status, 500, show(res));
  assert.deepEqual(res.body, {
    code: 'internal_error', message: 'the server failed to answer this request', details: null,
    hint: 'nothing was written; report it with the X-Request-Id of the answer',
  }, show(res));
  assert.match(res.headers.get('x-request-id') ?? '', /./, 'with the X-Request-Id to report');
  assert.doesNotMatch(res.text, /uuid|22P02|plpgsql|test_internal_fault/i, 'nothing of PostgreSQL\'s message');
  const codes = await psql("SELECT status FROM task_api.error_codes WHERE code = 'internal_error'");
  assert.equal(codes, '500', 'internal_error is in the catalogue, 500');
  assert.equal(await psql(`SELECT count(*) FROM task_api.tasks WHERE title = '${FAULT_TITLE}'`), '0');
  // The same kind of bad value sent by the client: its field is named.
  const bad = await api('POST', '/tasks', { token: u.token, body: { project_id: p.id, title: 'x', assignee_id: 'internal-fault-not-a-uuid' } });
  assert.deepEqual(fields(expectValidation(bad)), ['assignee_id']);
  // And in a filter: 400 invalid_parameter.
  expectError(await api('GET', '/tasks?assignee_id=eq.not-a-uuid', { token: u.token }), 400, 'invalid_parameter');
});

test('dates with a time-zone name or abbreviation are never named as bad on a guess, and never break the answer', async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  // PostgreSQL 15's date input raises "time zone not recognized" for these
  // itself: inside the error hook the same lookup would raise again.
  for (const due of ['2030-01-01 Mars/Olympus_Mons', '2030-01-01 10:00 Nowhere/Never', 'today Foo/Bar']) {
    const res = await api('POST', '/tasks', { token: u.token, body: { project_id: p.id, title: 'x', due_date: due, priority: 'high' } });
    const problems = expectValidation(res);
    assert.ok(fields(problems).includes('priority'), `the other bad field is still named: ${show(res)}`);
    assert.ok(!fields(problems).includes('due_date'), `a zone name is not judged: ${show(res)}`);
  }
  // Letters PostgreSQL accepts are never named; plain bad dates still are.
  const zoned = await api('POST', '/tasks', { token: u.token, body: { project_id: p.id, title: 'x', due_date: '2030-01-01 EST', priority: 'high' } });
  assert.ok(!fields(expectValidation(zoned)).includes('due_date'), show(zoned));
  const iso = await api('POST', '/tasks', { token: u.token, body: { project_id: p.id, title: 'x', due_date: '2030-02-30T10:00:00Z', priority: 'high' } });
  assert.deepEqual(fields(expectValidation(iso)).sort(), ['due_date', 'priority'], show(iso));
  const isoOk = await api('POST', '/tasks', { token: u.token, body: { project_id: p.id, title: 'x', due_date: '2030-02-28T10:00:00Z', priority: 'high' } });
  assert.deepEqual(fields(expectValidation(isoOk)), ['priority'], show(isoOk));
  // The server is still up and answers normally.
  expectStatus(await api('GET', '/projects', { token: u.token }), 200);
});

// A cookie token of a real session, signed as if issued `age` seconds ago
// (past half its life, pre_request() slides it: a Set-Cookie is pending).
function agedCookieToken(claims, age) {
  const iat = now() - age;
  return mintJwt(JWT_SECRET, { sub: claims.sub, role: 'task_api_user', iat, exp: iat + JWT_TTL, jti: claims.jti });
}

test('an error answer keeps only the headers that describe it: no Set-Cookie from a sliding session, translated or raised by the API', async () => {
  const s = await signup();
  const cookie = cookieHeader(agedCookieToken(s.claims, JWT_TTL / 2 + 60));
  // The slide does happen on a request that succeeds.
  const ok = await api('GET', '/projects', { headers: { Cookie: cookie } });
  expectStatus(ok, 200);
  assert.ok('__Host-task_api_session' in responseCookies(ok), 'the cookie slides on a success');
  for (const [path, status, code] of [['/tasks?id=eq.not-a-uuid', 400, 'invalid_parameter'],
    ['/rpc/logout', 405, 'method_not_allowed'], ['/tasks?nope=eq.1', 400, 'invalid_parameter'],
    // and an error the API raises itself (ta_raise)
    ['/rpc/tasks_page?page_size=0', 400, 'invalid_parameter']]) {
    const res = await api('GET', path, { headers: { Cookie: cookie, Origin: `http://${new URL(process.env.TASK_API_URL).host}` } });
    expectError(res, status, code);
    assert.deepEqual(responseCookies(res), {}, `no Set-Cookie on an error: ${path}`);
    assert.equal(res.headers.get('location'), null);
    assert.equal(res.headers.get('etag'), null);
    // What describes the answer stays.
    assert.match(res.headers.get('x-request-id') ?? '', /./, `X-Request-Id kept: ${path}`);
    assert.match(res.headers.get('access-control-expose-headers') ?? '', /RateLimit/, `Expose-Headers kept: ${path}`);
  }
});

test('anonymous writes that a signed-in caller gets 405 for are 401 unauthenticated: authentication comes first', async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  const t = await createTask(u.token, p.id);
  const cases = [
    ['PUT', `/tasks?id=eq.${t.id}`, { id: t.id, project_id: p.id, title: 'x' }],
    ['PUT', `/projects?id=eq.${p.id}`, { id: p.id, name: 'x' }],
    ['POST', '/trash', { id: NIL_UUID }],
    ['POST', '/tasks?on_conflict=id', { id: t.id, project_id: p.id, title: 'x' }],
  ];
  for (const [method, path, body] of cases) {
    const anon = await api(method, path, { body, headers: method === 'POST' && path.includes('on_conflict') ? { Prefer: 'resolution=merge-duplicates' } : {} });
    expectError(anon, 401, 'unauthenticated');
    assert.equal(anon.headers.get('allow'), null, `${method} ${path}: no Allow on a 401`);
    const signedIn = await api(method, path, { token: u.token, body, headers: method === 'POST' && path.includes('on_conflict') ? { Prefer: 'resolution=merge-duplicates' } : {} });
    expectError(signedIn, 405, 'method_not_allowed');
    assert.ok(signedIn.headers.get('allow'), `${method} ${path}: Allow on the 405`);
  }
});

test('the same-origin check of the session cookie compares the scheme: http is not the origin of an API served over https', async () => {
  const s = await signup();
  const jar = new CookieJar({ '__Host-task_api_session': s.jar.get('__Host-task_api_session') });
  const host = new URL(process.env.TASK_API_URL).host;
  const get = (origin, headers = {}) => jar.request('GET', '/projects', { headers: { Origin: origin, ...headers } });
  // Served as plain HTTP (no proxy header): http://host is the API's origin, https://host is not.
  expectStatus(await get(`http://${host}`), 200);
  expectError(await get(`https://${host}`), 403, 'origin_not_allowed');
  // Behind a proxy that ends TLS and says so: https://host is, http://host is not.
  for (const proxy of [{ 'X-Forwarded-Proto': 'https' }, { Forwarded: 'for=192.0.2.1;proto=https;host=x' },
    { Forwarded: 'for=192.0.2.1; proto="https", proto=http' }]) {
    expectStatus(await get(`https://${host}`, proxy), 200);
    expectError(await get(`http://${host}`, proxy), 403, 'origin_not_allowed');
  }
  expectError(await get(`https://${host}`, { 'X-Forwarded-Proto': 'http' }), 403, 'origin_not_allowed');
});

test('every bad enum field is named, not only the value PostgreSQL refused first (labels cached outside the hook)', async () => {
  const u = await createUser();
  const p = await createProject(u.token);
  // Whichever field PostgreSQL converts first, both are listed.
  for (const body of [{ project_id: p.id, title: 'x', status: 'bogus', priority: 'high' },
    { project_id: p.id, title: 'x', priority: 'high', status: 'bogus' }]) {
    const res = await api('POST', '/tasks', { token: u.token, body });
    const problems = expectValidation(res);
    assert.deepEqual(fields(problems), ['priority', 'status'], show(res));
    assert.equal(problems.find((x) => x.field === 'status').problem, 'is not one of the allowed values');
  }
  // In a bulk insert, a later row's bad label too; a valid label is never named.
  const bulk = await api('POST', '/tasks', {
    token: u.token,
    body: [{ project_id: p.id, title: 'a', status: 'done', priority: 'high' }, { project_id: p.id, title: 'b', status: 'Done', priority: 1 }],
  });
  assert.deepEqual(fields(expectValidation(bulk)), ['priority', 'status'], show(bulk));
  const good = await api('POST', '/tasks', { token: u.token, body: { project_id: p.id, title: 'x', status: 'in_progress', priority: 'high' } });
  assert.deepEqual(fields(expectValidation(good)), ['priority'], show(good));
});
