// Browser sessions (docs/contract.md §4): the session and CSRF cookies set by signup and
// login, cookie authentication in the database, the double-submit CSRF
// check on unsafe methods, logout by cookie, stale cookies on signup/login.
// A small cookie jar (session_lib.mjs) plays the browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  api, psql, show, createUser, uniqueEmail, list, REPRESENTATION, expectError, expectStatus, BASE_URL,
} from './lib.mjs';
import {
  PASSWORD, JWT_TTL, SESSION_LIFETIME, signup, login, signupRaw, loginRaw, decodeJwt, responseCookies, CookieJar,
  cookieHeader, checkSessionBody,
} from './session_lib.mjs';

// Check the two cookies of a signup or login response against its body.
function checkSessionCookies(res) {
  const cookies = responseCookies(res);
  assert.deepEqual(Object.keys(cookies).sort(), ['__Host-task_api_csrf', '__Host-task_api_session'], `cookies: ${show(res)}`);
  const { payload } = decodeJwt(res.body.token);
  const s = cookies['__Host-task_api_session'];
  assert.equal(s.value, res.body.token, 'the session cookie is the token');
  assert.equal(s.attrs.httponly, true, `HttpOnly: ${s.line}`);
  assert.equal(s.attrs.secure, true, `Secure: ${s.line}`);
  assert.equal(s.attrs.samesite, 'Lax', `SameSite=Lax: ${s.line}`);
  assert.equal(s.attrs.path, '/', `Path=/: ${s.line}`);
  assert.equal(s.attrs['max-age'], String(JWT_TTL), `Max-Age: ${s.line}`);
  assert.equal(Number(s.attrs['max-age']), payload.exp - payload.iat, 'Max-Age is the token lifetime');
  assert.ok(!('domain' in s.attrs), 'a host-only cookie');

  const c = cookies['__Host-task_api_csrf'];
  assert.ok(!('httponly' in c.attrs), `the CSRF cookie is readable by scripts: ${c.line}`);
  assert.equal(c.attrs.secure, true, `Secure: ${c.line}`);
  assert.equal(c.attrs.samesite, 'Lax', `SameSite=Lax: ${c.line}`);
  assert.equal(c.attrs.path, '/', `Path=/: ${c.line}`);
  assert.equal(c.attrs['max-age'], String(SESSION_LIFETIME), `Max-Age: the session's whole life (the session cookie slides): ${c.line}`);
  assert.match(c.value, /^[A-Za-z0-9_-]{32,}$/, 'an unguessable URL-safe token');
  assert.notEqual(c.value, s.value);
  assert.ok(!res.body.token.includes(c.value), 'the CSRF token is not part of the session token');
  return cookies;
}

test('signup and login set the session cookie (HttpOnly) and the CSRF cookie (readable), Secure, Lax, Path=/, Max-Age=ttl', async () => {
  const s = await signup();
  const a = checkSessionCookies(s.res);
  const l = await login(s.email);
  const b = checkSessionCookies(l.res);
  assert.notEqual(a['__Host-task_api_csrf'].value, b['__Host-task_api_csrf'].value, 'each session has its own CSRF token');
  assert.notEqual(a['__Host-task_api_session'].value, b['__Host-task_api_session'].value);
  // Errors set no cookies.
  assert.deepEqual(responseCookies(await loginRaw({ email: s.email, password: 'wrong password!' })), {});
  assert.deepEqual(responseCookies(await signupRaw({ email: s.email, password: PASSWORD })), {});
  // Ordinary API responses set no cookies.
  assert.deepEqual(responseCookies(await api('GET', '/projects', { token: s.token })), {});
});

test('the full browser flow: cookie reads, CSRF-protected writes, logout by cookie', async () => {
  const email = uniqueEmail('browser');
  const res = await signupRaw({ email, password: PASSWORD, display_name: 'Browser' });
  expectStatus(res, 201);
  checkSessionBody(res);
  const jar = new CookieJar().update(res);
  assert.ok(jar.get('__Host-task_api_session') && jar.get('__Host-task_api_csrf'));
  const userId = res.body.user_id;

  // Reads need only the cookie.
  let r = await jar.request('GET', '/users');
  expectStatus(r, 200);
  assert.deepEqual(r.body.map((u) => [u.id, u.email, u.display_name]), [[userId, email, 'Browser']]);
  expectStatus(await jar.request('HEAD', '/projects'), 200);
  expectStatus(await jar.request('GET', '/api_keys'), 200);

  // Writes without a valid X-CSRF-Token: 403 csrf_failed, nothing written.
  const wrongs = [
    ['no header', false],
    ['empty header', ''],
    ['wrong value', 'not-the-csrf-token'],
    ['the session token', jar.get('__Host-task_api_session')],
    ['csrf with a suffix', `${jar.get('__Host-task_api_csrf')}x`],
    ['csrf truncated', jar.get('__Host-task_api_csrf').slice(0, -1)],
    ['csrf lower-cased', jar.get('__Host-task_api_csrf').toLowerCase() === jar.get('__Host-task_api_csrf') ? 'x' : jar.get('__Host-task_api_csrf').toLowerCase()],
  ];
  for (const [what, csrf] of wrongs) {
    r = await jar.request('POST', '/projects', { csrf, body: { name: `csrf ${what}` } });
    expectError(r, 403, 'csrf_failed');
  }
  assert.equal(Number(await psql("SELECT count(*) FROM task_api.projects WHERE name LIKE 'csrf %'")), 0);

  // With the CSRF token: the write happens as the cookie's user.
  r = await jar.request('POST', '/projects', { csrf: true, body: { name: 'by cookie' }, headers: REPRESENTATION });
  expectStatus(r, 201);
  const project = r.body[0];
  assert.equal(project.owner_id, userId);
  assert.deepEqual((await list(`/projects?id=eq.${project.id}`, res.body.token)).map((p) => p.name), ['by cookie']);

  // PATCH, DELETE, PUT and RPCs are unsafe too.
  expectError(await jar.request('PATCH', `/projects?id=eq.${project.id}`, { body: { name: 'x' } }), 403, 'csrf_failed');
  expectError(await jar.request('DELETE', `/projects?id=eq.${project.id}`), 403, 'csrf_failed');
  expectError(await jar.request('PUT', `/projects?id=eq.${project.id}`, { body: { id: project.id, name: 'x' } }), 403, 'csrf_failed');
  expectError(await jar.request('POST', '/rpc/create_api_key', { body: { name: 'k' } }), 403, 'csrf_failed');
  expectError(await jar.request('POST', '/tasks', { body: { project_id: project.id, title: 't' } }), 403, 'csrf_failed');
  r = await jar.request('GET', `/projects?id=eq.${project.id}`);
  assert.equal(r.body[0].name, 'by cookie');
  assert.equal(r.body[0].version, project.version);

  r = await jar.request('PATCH', `/projects?id=eq.${project.id}`, { csrf: true, body: { name: 'renamed' }, headers: REPRESENTATION });
  expectStatus(r, 200);
  assert.equal(r.body[0].name, 'renamed');
  r = await jar.request('POST', '/tasks', { csrf: true, body: { project_id: project.id, title: 'cookie task' }, headers: REPRESENTATION });
  expectStatus(r, 201);
  assert.equal(r.body[0].created_by, userId);
  r = await jar.request('POST', '/rpc/create_api_key', { csrf: true, body: { name: 'from the browser' } });
  expectStatus(r, 201);
  expectStatus(await api('GET', '/projects', { token: r.body.key }), 200);
  expectStatus(await jar.request('DELETE', `/projects?id=eq.${project.id}`, { csrf: true }), 204);
  assert.deepEqual(await list(`/projects?id=eq.${project.id}`, res.body.token), []);

  // Logout by cookie needs the CSRF token too.
  const saved = jar.clone();
  expectError(await jar.request('POST', '/rpc/logout'), 403, 'csrf_failed');
  expectStatus(await jar.request('GET', '/projects'), 200);
  r = await jar.request('POST', '/rpc/logout', { csrf: true });
  expectStatus(r, 204);
  const cleared = responseCookies(r);
  assert.deepEqual(Object.keys(cleared).sort(), ['__Host-task_api_csrf', '__Host-task_api_session']);
  for (const c of Object.values(cleared)) {
    assert.equal(c.value, '');
    assert.equal(c.attrs['max-age'], '0');
    assert.equal(c.attrs.path, '/');
  }
  assert.equal(cleared['__Host-task_api_session'].attrs.httponly, true);
  assert.deepEqual(jar.cookies, {}, 'the browser dropped both cookies');

  // The old cookies (kept by an attacker, say) and the token are now dead.
  expectError(await saved.clone().request('GET', '/projects'), 401, 'unauthenticated');
  expectError(await saved.clone().request('POST', '/projects', { csrf: true, body: { name: 'after' } }), 401, 'unauthenticated');
  expectError(await saved.clone().request('POST', '/rpc/logout', { csrf: true }), 401, 'unauthenticated');
  expectError(await api('GET', '/projects', { token: res.body.token }), 401, 'unauthenticated');
  // Without cookies the browser is simply anonymous again.
  expectError(await jar.request('GET', '/projects'), 401);
});

test('the CSRF token is bound to the session: another session\'s token, or an equal forged pair, is refused', async () => {
  const a = await createUser();
  const b = await createUser();
  const csrfOf = (token) => psql("SELECT task_api.csrf_token(:'jti')", { jti: decodeJwt(token).payload.jti });
  const ca = await csrfOf(a.token);
  const cb = await csrfOf(b.token);
  assert.notEqual(ca, cb);
  const post = (cookie, header) => api('POST', '/projects', {
    headers: { Cookie: cookie, ...(header === undefined ? {} : { 'X-CSRF-Token': header }) }, body: { name: 'bound' },
  });
  // B's CSRF pair with A's session.
  expectError(await post(cookieHeader(a.token, cb), cb), 403, 'csrf_failed');
  // Header right, cookie missing or different.
  expectError(await post(cookieHeader(a.token), ca), 403, 'csrf_failed');
  expectError(await post(cookieHeader(a.token, cb), ca), 403, 'csrf_failed');
  expectError(await post(cookieHeader(a.token, ca), cb), 403, 'csrf_failed');
  // Cookie right, header missing.
  expectError(await post(cookieHeader(a.token, ca)), 403, 'csrf_failed');
  // An attacker-chosen value in both places is not enough.
  expectError(await post(cookieHeader(a.token, 'attacker'), 'attacker'), 403, 'csrf_failed');
  assert.deepEqual(await list('/projects', a.token), []);
  // The right pair works.
  expectStatus(await post(cookieHeader(a.token, ca), ca), 201);
  assert.equal((await list('/projects', a.token)).length, 1);
});

test('a bearer token takes precedence over cookies and needs no CSRF token', async () => {
  const a = await createUser();
  const b = await createUser();
  // Garbage or another user's session cookie next to a valid bearer token: the bearer wins.
  for (const cookie of ['__Host-task_api_session=garbage', cookieHeader(b.token)]) {
    let r = await api('GET', '/users', { token: a.token, headers: { Cookie: cookie } });
    expectStatus(r, 200);
    assert.deepEqual(r.body.map((u) => u.id), [a.id]);
    r = await api('POST', '/projects', { token: a.token, headers: { Cookie: cookie, ...REPRESENTATION }, body: { name: `bearer wins ${cookie.slice(0, 30)}` } });
    expectStatus(r, 201);
    assert.equal(r.body[0].owner_id, a.id);
  }
  assert.deepEqual(await list('/projects', b.token), []);
  // A bad bearer token is not rescued by a good cookie.
  const r = await api('GET', '/projects', { token: 'garbage', headers: { Cookie: cookieHeader(a.token) } });
  expectError(r, 401);
});

test('signup and login ignore a stale session cookie; other endpoints refuse it', async () => {
  const s = await signup();
  expectStatus(await api('POST', '/rpc/logout', { token: s.token }), 204);
  const stale = new CookieJar().update(s.res); // revoked session cookie + its CSRF cookie
  for (const cookie of [stale.header(), '__Host-task_api_session=garbage', cookieHeader(s.token.slice(0, -3))]) {
    // login with a stale cookie: a fresh session and fresh cookies.
    let r = await loginRaw({ email: s.email, password: PASSWORD }, { headers: { Cookie: cookie } });
    expectStatus(r, 200);
    checkSessionBody(r, s.id);
    checkSessionCookies(r);
    const jar = new CookieJar({ '__Host-task_api_session': 'stale' }).update(r);
    expectStatus(await jar.request('GET', '/projects'), 200);
    // Wrong password with a stale cookie: still invalid_credentials, not unauthenticated.
    r = await loginRaw({ email: s.email, password: 'wrong password!' }, { headers: { Cookie: cookie } });
    expectError(r, 401, 'invalid_credentials');
    // Other endpoints: 401 unauthenticated, even with the CSRF token.
    r = await api('POST', '/rpc/create_api_key', { headers: { Cookie: cookie, 'X-CSRF-Token': stale.get('__Host-task_api_csrf') }, body: { name: 'k' } });
    expectError(r, 401, 'unauthenticated');
    r = await api('GET', '/projects', { headers: { Cookie: cookie } });
    expectError(r, 401, 'unauthenticated');
  }
  // signup with a stale cookie (the browser of someone else who signed out).
  const r = await signupRaw({ email: uniqueEmail('stale'), password: PASSWORD }, { headers: { Cookie: stale.header() } });
  expectStatus(r, 201);
  checkSessionCookies(r);
  // Validation and conflicts still answer as usual with a stale cookie.
  expectError(await signupRaw({ email: s.email, password: PASSWORD }, { headers: { Cookie: '__Host-task_api_session=garbage' } }), 409, 'conflict');
  expectError(await signupRaw({ email: 'bad', password: PASSWORD }, { headers: { Cookie: '__Host-task_api_session=garbage' } }), 422, 'validation_failed');
});

test('a cookie session that expired in the database is 401 unauthenticated, never anonymous', async () => {
  const u = await createUser();
  const cookie = cookieHeader(u.token);
  expectStatus(await api('GET', '/projects', { headers: { Cookie: cookie } }), 200);
  await psql("UPDATE task_api.sessions SET expires_at = now() - interval '1 second' WHERE id = :'jti'",
    { jti: decodeJwt(u.token).payload.jti });
  const r = await api('GET', '/projects', { headers: { Cookie: cookie } });
  expectError(r, 401, 'unauthenticated');
  // The 401 tells the browser to drop the dead session cookie.
  const cleared = responseCookies(r)['__Host-task_api_session'];
  assert.ok(cleared, `Set-Cookie clears the session cookie: ${show(r)}`);
  assert.equal(cleared.attrs['max-age'], '0');
});

test('an API key is not a session: as a cookie it is 401 unauthenticated', async () => {
  const u = await createUser();
  const r = await api('POST', '/rpc/create_api_key', { token: u.token, body: { name: 'not a cookie' } });
  expectStatus(r, 201);
  expectStatus(await api('GET', '/projects', { token: r.body.key }), 200);
  expectError(await api('GET', '/projects', { headers: { Cookie: cookieHeader(r.body.key) } }), 401, 'unauthenticated');
});

test('login CSRF: signup and login refuse a cross-site form body (403 csrf_failed) and set no cookie', async () => {
  for (const path of ['/rpc/login', '/rpc/signup']) {
    const res = await fetch(`${BASE_URL}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'email=attacker%40example.com&password=attacker-password',
    });
    const body = await res.json();
    assert.equal(res.status, 403, `${path}: ${JSON.stringify(body)}`);
    assert.equal(body.code, 'csrf_failed');
    assert.equal(res.headers.get('set-cookie'), null);
  }
});

test('an Authorization header PostgREST does not authenticate (Basic) does not turn a bad cookie into anonymous', async () => {
  const res = await api('GET', '/projects', {
    headers: { Authorization: 'Basic dXNlcjpwYXNz', Cookie: '__Host-task_api_session=not.a.token' },
  });
  expectError(res, 401, 'unauthenticated');
});
