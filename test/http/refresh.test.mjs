// Sessions that renew (docs/authentication.md, "Sessions that renew"):
// POST /rpc/refresh rotates a bearer session without the password; a
// session cookie past half its life slides (a new token for the same
// session, never past the session's absolute end); every revocation still
// ends a renewed session at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, psql, show, createProject, expectError, expectStatus, JWT_SECRET, mintJwt } from './lib.mjs';
import {
  JWT_TTL, SESSION_LIFETIME, PASSWORD, signup, login, checkSessionBody, decodeJwt, responseCookies,
  CookieJar, cookieHeader, now,
} from './session_lib.mjs';

const refresh = (token, opts = {}) => api('POST', '/rpc/refresh', { token, ...opts });

// The session row of a token: its absolute end (epoch seconds) and whether it is revoked.
async function sessionRow(token) {
  const { jti } = decodeJwt(token).payload;
  const out = await psql(
    "SELECT floor(extract(epoch FROM expires_at))::bigint || ' ' || (revoked_at IS NOT NULL) FROM task_api.sessions WHERE id = :'id'",
    { id: jti });
  const [ends, revoked] = out.split(' ');
  return { ends: Number(ends), revoked: revoked === 'true' };
}

test('refresh: 200 with a new token for a new session; the old token stops working at once, the new one works', async () => {
  const s = await signup();
  const first = await sessionRow(s.token);
  assert.ok(Math.abs(first.ends - (now() + SESSION_LIFETIME)) <= 60, 'the session ends task_api.session_lifetime after sign-in');
  const res = await refresh(s.token);
  expectStatus(res, 200);
  const claims = checkSessionBody(res, s.id);
  assert.notEqual(claims.jti, s.claims.jti, 'a new session id');
  assert.notEqual(res.body.token, s.token);
  expectError(await api('GET', '/projects', { token: s.token }), 401, 'unauthenticated');
  expectStatus(await api('GET', '/projects', { token: res.body.token }), 200);
  // The successor keeps the absolute end of the session it replaced.
  assert.deepEqual(await sessionRow(res.body.token), { ends: first.ends, revoked: false });
  assert.equal((await sessionRow(s.token)).revoked, true);
  // Cookies come with it, as with login.
  assert.deepEqual(Object.keys(responseCookies(res)).sort(), ['__Host-task_api_csrf', '__Host-task_api_session']);
});

test('refresh of an already refreshed (rotated) session is 401 unauthenticated; of 5 concurrent refreshes with one token exactly one succeeds', async () => {
  const s = await signup();
  expectStatus(await refresh(s.token), 200);
  expectError(await refresh(s.token), 401, 'unauthenticated');
  const t = (await login(s.email)).token;
  const answers = await Promise.all(Array.from({ length: 5 }, () => refresh(t)));
  const ok = answers.filter((r) => r.status === 200);
  assert.equal(ok.length, 1, answers.map(show).join('\n'));
  for (const r of answers.filter((x) => x.status !== 200)) expectError(r, 401, 'unauthenticated');
});

test('refresh of a revoked session (logout, logout_all, change_password elsewhere, a deleted user) is 401 unauthenticated', async () => {
  const s = await signup();
  const a = (await refresh(s.token)).body.token;
  expectStatus(await api('POST', '/rpc/logout', { token: a }), 204);
  expectError(await refresh(a), 401, 'unauthenticated');
  expectError(await api('GET', '/projects', { token: a }), 401, 'unauthenticated');

  const b = (await refresh((await login(s.email)).token)).body.token;
  const other = (await login(s.email)).token;
  expectStatus(await api('POST', '/rpc/logout_all', { token: other }), 204);
  expectError(await refresh(b), 401, 'unauthenticated');

  const c = (await refresh((await login(s.email)).token)).body.token;
  const changer = (await login(s.email)).token;
  expectStatus(await api('POST', '/rpc/change_password', {
    token: changer, body: { current_password: PASSWORD, new_password: `${PASSWORD} two` },
  }), 204);
  expectError(await refresh(c), 401, 'unauthenticated');
  expectStatus(await refresh(changer), 200);

  const d = await signup();
  const dt = (await refresh(d.token)).body.token;
  await psql("DELETE FROM task_api.users WHERE id = :'id'", { id: d.id });
  expectError(await refresh(dt), 401, 'unauthenticated');
});

test('refresh of an expired session is 401: unauthenticated when the session ended, PGRST301 when the token itself expired', async () => {
  const s = await signup();
  await psql("UPDATE task_api.sessions SET expires_at = now() - interval '1 second' WHERE id = :'id'", { id: s.claims.jti });
  expectError(await refresh(s.token), 401, 'unauthenticated');
  // A token past exp never reaches the database: PostgREST refuses it.
  const t = await signup();
  const stale = mintJwt(JWT_SECRET, { ...t.claims, iat: now() - 7200, exp: now() - 3600 });
  expectError(await refresh(stale), 401, 'PGRST301');
});

test('refresh never outlives the session: near its end the new token expires with the session', async () => {
  const s = await signup();
  await psql("UPDATE task_api.sessions SET expires_at = now() + interval '100 seconds' WHERE id = :'id'", { id: s.claims.jti });
  const res = await refresh(s.token);
  expectStatus(res, 200);
  const { payload } = decodeJwt(res.body.token);
  assert.ok(payload.exp - now() <= 100 && payload.exp - now() >= 90, `exp ${payload.exp - now()} s from now`);
  assert.equal(Number(responseCookies(res)['__Host-task_api_session'].attrs['max-age']), payload.exp - payload.iat);
});

test('refresh: an API key gets 403 forbidden, anonymous callers 401, and GET is not a refresh', async () => {
  const s = await signup();
  const key = await api('POST', '/rpc/create_api_key', { token: s.token, body: { name: 'ci' } });
  expectStatus(key, 201);
  expectError(await refresh(key.body.key), 403, 'forbidden');
  const anon = await refresh(undefined);
  assert.equal(anon.status, 401, show(anon));
  const get = await api('GET', '/rpc/refresh', { token: s.token });
  assert.ok(get.status >= 400 && get.status < 500, show(get));
  expectStatus(await api('GET', '/projects', { token: s.token }), 200);
});

test('refresh by cookie: needs the CSRF token, rotates both cookies, the old cookie is refused', async () => {
  const s = await signup();
  const jar = s.jar;
  const before = jar.clone();
  expectError(await jar.request('POST', '/rpc/refresh'), 403, 'csrf_failed');
  const res = await jar.request('POST', '/rpc/refresh', { csrf: true });
  expectStatus(res, 200);
  assert.notEqual(jar.get('__Host-task_api_session'), before.get('__Host-task_api_session'));
  assert.notEqual(jar.get('__Host-task_api_csrf'), before.get('__Host-task_api_csrf'), 'the CSRF token is bound to the new session');
  expectStatus(await jar.request('GET', '/projects'), 200);
  expectStatus(await jar.request('POST', '/projects', { csrf: true, body: { name: `after refresh ${now()}-${Math.random()}` } }), 201);
  expectError(await before.request('GET', '/projects'), 401, 'unauthenticated');
});

// A cookie token of a real session, signed as if issued `age` seconds ago.
function agedCookieToken(claims, age, ttl = JWT_TTL) {
  const iat = now() - age;
  return mintJwt(JWT_SECRET, { sub: claims.sub, role: 'task_api_user', iat, exp: iat + ttl, jti: claims.jti });
}

test('a session cookie slides past half its life: a GET (read-only) gets a new cookie for the same session, exp task_api.jwt_ttl from now', async () => {
  const s = await signup();
  const young = await api('GET', '/projects', { headers: { Cookie: cookieHeader(agedCookieToken(s.claims, 60)) } });
  expectStatus(young, 200);
  assert.deepEqual(responseCookies(young), {}, 'a young cookie is left alone');
  const old = await api('GET', '/projects', { headers: { Cookie: cookieHeader(agedCookieToken(s.claims, JWT_TTL / 2 + 60)) } });
  expectStatus(old, 200);
  const cookies = responseCookies(old);
  assert.deepEqual(Object.keys(cookies), ['__Host-task_api_session'], 'only the session cookie: the CSRF cookie lives as long as the session');
  const c = cookies['__Host-task_api_session'];
  assert.equal(c.attrs.httponly, true);
  assert.equal(c.attrs.secure, true);
  assert.equal(c.attrs.samesite, 'Lax');
  assert.equal(c.attrs.path, '/');
  const { payload } = decodeJwt(c.value);
  assert.equal(payload.jti, s.claims.jti, 'the same session: logout still ends it');
  assert.equal(payload.sub, s.id);
  assert.ok(Math.abs(payload.exp - (now() + JWT_TTL)) <= 5, `exp ${payload.exp}`);
  assert.equal(Number(c.attrs['max-age']), payload.exp - payload.iat);
  // The new cookie works, by cookie, for reads and (with the same CSRF token) writes.
  const jar = new CookieJar({ '__Host-task_api_session': c.value, '__Host-task_api_csrf': s.jar.get('__Host-task_api_csrf') });
  expectStatus(await jar.request('GET', '/projects'), 200);
  await createProject(s.token);
  expectStatus(await jar.request('PATCH', '/users?id=eq.' + s.id, { csrf: true, body: { display_name: 'slid' } }), 204);
  // logout_all by cookie ends the slid session too; a bearer token never slides.
  const csrf = s.jar.get('__Host-task_api_csrf');
  const w = await api('POST', '/rpc/logout_all', { headers: { Cookie: cookieHeader(agedCookieToken(s.claims, 0), csrf), 'X-CSRF-Token': csrf } });
  expectStatus(w, 204);
  expectError(await jar.request('GET', '/projects'), 401, 'unauthenticated');
  const b = await login(s.email);
  const bearer = await api('GET', '/projects', { token: mintJwt(JWT_SECRET, { ...b.claims, iat: now() - 3000, exp: now() + 600 }) });
  expectStatus(bearer, 200);
  assert.deepEqual(responseCookies(bearer), {}, 'bearer tokens are renewed by /rpc/refresh only');
});

test('a sliding cookie never outlives the session, and logout ends a slid session at once', async () => {
  const s = await signup();
  await psql("UPDATE task_api.sessions SET expires_at = now() + interval '300 seconds' WHERE id = :'id'", { id: s.claims.jti });
  // A token 100 s from its exp slides to the session's end, not a full task_api.jwt_ttl.
  const res = await api('GET', '/projects', { headers: { Cookie: cookieHeader(agedCookieToken(s.claims, JWT_TTL - 100)) } });
  expectStatus(res, 200);
  const c = responseCookies(res)['__Host-task_api_session'];
  assert.ok(c, show(res));
  const { payload } = decodeJwt(c.value);
  assert.ok(payload.exp - now() <= 300 && payload.exp - now() >= 290, `capped at the session's end: ${payload.exp - now()}`);
  // At the cap, nothing more to slide.
  const capped = await api('GET', '/projects', { headers: { Cookie: cookieHeader(mintJwt(JWT_SECRET, { ...payload, iat: now() - 3000 })) } });
  expectStatus(capped, 200);
  assert.deepEqual(responseCookies(capped), {});
  expectStatus(await api('POST', '/rpc/logout', { token: s.token }), 204);
  expectError(await api('GET', '/projects', { headers: { Cookie: cookieHeader(c.value) } }), 401, 'unauthenticated');
});
