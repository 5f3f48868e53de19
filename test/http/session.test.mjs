// Signup, login and logout through PostgREST (docs/contract.md §4): bodies, tokens,
// sessions, validation, duplicate emails (also under a race), credentials,
// revocation.  Every signup and login costs a real Argon2id hash (~30 ms),
// so this file keeps their number moderate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  api, psql, show, createUser, uniqueEmail, mintJwt, userToken, JWT_SECRET, REPRESENTATION,
  expectError, expect4xx, expectValidation, expectStatus, fields, list, createProject,
} from './lib.mjs';
import {
  PASSWORD, UUID_RE, SESSION_LIFETIME, signup, login, signupRaw, loginRaw, decodeJwt, responseCookies,
  CookieJar, cookieHeader, now, randomUUID,
} from './session_lib.mjs';

const countUsers = async (email) =>
  Number(await psql("SELECT count(*) FROM task_api.users WHERE lower(email) = lower(btrim(:'email'))", { email }));

test('signup: 201 with {user_id, token, token_type, expires_at}; the token works and is a session', async () => {
  const email = uniqueEmail('Signup.Mixed');
  const s = await signup({ email, displayName: '  Ada Lovelace  ' });
  assert.equal(s.res.headers.get('content-type')?.split(';')[0], 'application/json');

  // The token is a bearer token for this user.
  const me = await list('/users', s.token);
  assert.equal(me.length, 1);
  assert.equal(me[0].id, s.id);
  assert.equal(me[0].email, email, 'the email is stored as given');
  assert.equal(me[0].display_name, 'Ada Lovelace', 'display_name is trimmed');
  const p = await createProject(s.token);
  assert.equal(p.owner_id, s.id);

  // A session row whose id is the jti, renewable until task_api.session_lifetime
  // after sign-in (refresh, a sliding cookie); the password is stored only hashed.
  const row = await psql(
    "SELECT s.user_id || ' ' || (s.revoked_at IS NULL) || ' ' || floor(extract(epoch FROM s.expires_at))::bigint FROM task_api.sessions s WHERE s.id = :'jti'",
    { jti: s.claims.jti });
  assert.equal(row, `${s.id} true ${s.claims.iat + SESSION_LIFETIME}`);
  const hash = await psql("SELECT password_hash FROM task_api.users WHERE id = :'id'", { id: s.id });
  assert.ok(hash.length > 0, 'a password hash is stored');
  assert.ok(!hash.includes(PASSWORD), 'the password is not stored in clear');
  assert.match(hash, /^\$argon2id\$v=19\$m=\d+,t=\d+,p=1\$/, 'an Argon2id hash');
  assert.ok(Number(hash.match(/\$m=(\d+),/)[1]) >= 8192, 'a memory-hard hash (the default is 19 MiB)');
});

test('signup without display_name uses the local part of the email', async () => {
  const email = uniqueEmail('localpart');
  const s = await signup({ email });
  const [me] = await list('/users', s.token);
  assert.equal(me.display_name, email.split('@')[0]);
});

test('display_name is optional: the name derived from the email never fails validation', async () => {
  // A valid email whose local part is over 100 characters, without display_name.
  const email = `${'l'.repeat(120)}-${randomUUID().slice(0, 8)}@example.test`;
  const res = await signupRaw({ email, password: PASSWORD });
  assert.equal(res.status, 201, `a valid signup without display_name must succeed: ${show(res)}`);
  const [me] = await list('/users', res.body.token);
  assert.ok(me.display_name.length >= 1 && me.display_name.length <= 100, me.display_name);
  // An invalid email without display_name is a problem with the email only,
  // not with a display_name the client never sent.
  for (const bad of [null, '', '   ', `${'x'.repeat(300)}@example.com`]) {
    const r = await signupRaw({ email: bad, password: PASSWORD });
    assert.deepEqual(fields(expectValidation(r)), ['email'], `email ${JSON.stringify(bad)?.slice(0, 40)}: ${show(r)}`);
  }
});

test('signup: a duplicate email, in any case or with spaces, is 409 conflict and creates nothing', async () => {
  const email = uniqueEmail('Dup.User');
  const first = await signup({ email, password: PASSWORD });
  for (const variant of [email, email.toUpperCase(), `  ${email.toLowerCase()}  `]) {
    const res = await signupRaw({ email: variant, password: 'another password 123' });
    const body = expectError(res, 409, 'conflict');
    assert.deepEqual(responseCookies(res), {}, 'no cookies on a failed signup');
    assert.ok(!res.text.includes(first.id), 'the conflict does not reveal the user');
  }
  assert.equal(await countUsers(email), 1);
  // The original account is untouched: its password still works, the other does not.
  await login(email.toLowerCase(), PASSWORD);
  expectError(await loginRaw({ email, password: 'another password 123' }), 401, 'invalid_credentials');
});

test('signup race: 10 concurrent signups with one email give one 201 and nine 409', async () => {
  const email = uniqueEmail('race');
  const variants = Array.from({ length: 10 }, (_, i) => (i % 2 ? email.toUpperCase() : email));
  const results = await Promise.all(variants.map((e, i) =>
    signupRaw({ email: e, password: `race password ${i}` })));
  for (const r of results) assert.ok(r.status === 201 || r.status === 409, show(r));
  const won = results.filter((r) => r.status === 201);
  const lost = results.filter((r) => r.status === 409);
  assert.equal(won.length, 1, `exactly one signup wins: ${results.map((r) => r.status).join(',')}`);
  assert.equal(lost.length, 9);
  for (const r of lost) expectError(r, 409, 'conflict');
  assert.equal(await countUsers(email), 1, 'exactly one user row');
  const winner = won[0].body.user_id;
  assert.equal(await psql("SELECT id FROM task_api.users WHERE lower(email) = lower(:'email')", { email }), winner);
  assert.equal(Number(await psql("SELECT count(*) FROM task_api.sessions WHERE user_id = :'id'", { id: winner })), 1,
    'only the winner got a session');
  expectStatus(await api('GET', '/users', { token: won[0].body.token }), 200);
});

test('signup validation: every problem at once, 422 with details as JSON text', async () => {
  let problems = expectValidation(await signupRaw({ email: 'not an email', password: '', display_name: '   ' }));
  assert.deepEqual(fields(problems), ['display_name', 'email', 'password']);
  for (const p of problems) assert.ok(p.problem.length > 0);

  problems = expectValidation(await signupRaw({ email: null, password: null, display_name: 'Named' }));
  assert.deepEqual(fields(problems), ['email', 'password']);

  problems = expectValidation(await signupRaw({ email: uniqueEmail(), password: PASSWORD, display_name: 'x'.repeat(101) }));
  assert.deepEqual(fields(problems), ['display_name']);
  problems = expectValidation(await signupRaw({ email: uniqueEmail(), password: PASSWORD, display_name: '\t\n ' }));
  assert.deepEqual(fields(problems), ['display_name']);
});

test('signup: invalid emails are 422 on email, never 500, and create no user', async () => {
  const bad = [
    '', '   ', 'plain', 'no-at.example.com', 'a@b', 'a@@b.example', 'two@at@example.com',
    'sp ace@example.com', '@example.com', 'user@', 'user@.', 'user@example.', 'a@.com',
    `${'a'.repeat(250)}@example.com`, `tab\t@example.com`, 'new\nline@example.com',
  ];
  for (const email of bad) {
    // (display_name given: without it the name is derived from the email.)
    const res = await signupRaw({ email, password: PASSWORD, display_name: 'Named' });
    const problems = expectValidation(res);
    assert.deepEqual(fields(problems), ['email'], `${JSON.stringify(email)}: ${show(res)}`);
  }
  // Wrong JSON types for email are refused with a 4xx, never a 500.
  for (const email of [123, true, { a: 1 }]) {
    expect4xx(await signupRaw({ email, password: PASSWORD }));
  }
  // (PostgREST passes a JSON array as its text, which the loose email check
  // may accept; it must not be a 5xx.)
  const arr = await signupRaw({ email: [uniqueEmail()], password: PASSWORD, display_name: 'Named' });
  assert.ok(arr.status === 201 || (arr.status >= 400 && arr.status < 500), show(arr));
  // A missing argument or a body that is not an object: 4xx.
  expect4xx(await signupRaw({ password: PASSWORD }));
  expect4xx(await signupRaw({ email: uniqueEmail() }));
  expect4xx(await api('POST', '/rpc/signup', { rawBody: '{"email": "x@example.com", "password": ' }));
  expect4xx(await api('POST', '/rpc/signup', { rawBody: '[1, 2]' }));
  const users = Number(await psql("SELECT count(*) FROM task_api.users WHERE email !~ '^[^@[:space:]]+@[^@[:space:]]+\\.[^@[:space:]]+$'"));
  assert.equal(users, 0, 'no user with an invalid email was created');
});

test('signup: bad passwords (empty, short, > 1024 bytes, 1 MB) are 422 on password, never 500', async () => {
  const email = uniqueEmail('badpw');
  const cases = [
    ['', /required/],
    ['short', /at least 10/],
    ['123456789', /at least 10/],
    ['é'.repeat(9), /at least 10/], // 18 bytes but 9 characters
    ['x'.repeat(1025), /1024/],
    ['é'.repeat(513), /1024/], // 513 characters, 1026 bytes
    ['p'.repeat(1024 * 1024), /1024/],
  ];
  for (const [password, why] of cases) {
    const started = Date.now();
    const res = await signupRaw({ email, password });
    const problems = expectValidation(res);
    assert.deepEqual(fields(problems), ['password'], show(res));
    assert.match(problems[0].problem, why);
    assert.ok(Date.now() - started < 10000, 'refused promptly');
  }
  // A 1 MB password and a 1 MB email together: still a 422 listing both.
  const res = await signupRaw({ email: `${'e'.repeat(1024 * 1024)}@example.com`, password: 'p'.repeat(1024 * 1024), display_name: 'Named' });
  assert.deepEqual(fields(expectValidation(res)), ['email', 'password']);
  assert.equal(await countUsers(email), 0);
});

test('signup and login accept a non-ASCII password of 10 characters (bytes do not count)', async () => {
  const password = 'pässwörd€✓'; // 10 characters, 16 bytes
  assert.equal([...password].length, 10);
  const s = await signup({ password });
  const l = await login(s.email, password);
  assert.equal(l.id, s.id);
  expectError(await loginRaw({ email: s.email, password: 'passwort€✓' }), 401, 'invalid_credentials');
});

test('login: 200 with a new session; email matched case-insensitively and trimmed', async () => {
  const email = uniqueEmail('Login.Case');
  const s = await signup({ email });
  const a = await login(email.toUpperCase());
  assert.equal(a.id, s.id);
  assert.notEqual(a.claims.jti, s.claims.jti, 'each login is a new session');
  assert.notEqual(a.token, s.token);
  const b = await login(`  ${email.toLowerCase()}  `);
  assert.equal(b.id, s.id);
  for (const t of [s.token, a.token, b.token]) expectStatus(await api('GET', '/projects', { token: t }), 200);
  const sessions = Number(await psql("SELECT count(*) FROM task_api.sessions WHERE user_id = :'id' AND revoked_at IS NULL", { id: s.id }));
  assert.equal(sessions, 3);
});

test('login: wrong password and unknown email give the same 401 invalid_credentials', async () => {
  const s = await signup();
  const wrong = await loginRaw({ email: s.email, password: 'wrong password 123' });
  const unknown = await loginRaw({ email: uniqueEmail('nobody'), password: 'wrong password 123' });
  expectError(wrong, 401, 'invalid_credentials');
  expectError(unknown, 401, 'invalid_credentials');
  assert.deepEqual(wrong.body, unknown.body, 'the two failures are indistinguishable');
  assert.deepEqual(responseCookies(wrong), {});
  assert.deepEqual(responseCookies(unknown), {});
  assert.ok(!wrong.text.includes(s.id));

  // Similar time: an unknown email still costs a password hash.
  const time = async (email) => {
    const t0 = process.hrtime.bigint();
    expectError(await loginRaw({ email, password: 'wrong password 123' }), 401, 'invalid_credentials');
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  const known = [];
  const unknownT = [];
  for (let i = 0; i < 3; i++) {
    known.push(await time(s.email));
    unknownT.push(await time(uniqueEmail('nobody')));
  }
  const med = (xs) => xs.slice().sort((x, y) => x - y)[1];
  assert.ok(med(unknownT) > med(known) * 0.4,
    `an unknown email answers in similar time: known ${known.map(Math.round)} ms, unknown ${unknownT.map(Math.round)} ms`);
});

test('login: empty, null, 1 MB and wrong-typed credentials are 4xx, never 500', async () => {
  const s = await signup();
  const cases = [
    { email: s.email, password: '' },
    { email: s.email, password: null },
    { email: s.email, password: 'p'.repeat(1024 * 1024) },
    { email: s.email, password: PASSWORD + 'x'.repeat(1024 * 1024) },
    { email: '', password: PASSWORD },
    { email: null, password: PASSWORD },
    { email: 'not an email', password: PASSWORD },
    { email: `${'e'.repeat(1024 * 1024)}@example.com`, password: PASSWORD },
    { email: '', password: '' },
  ];
  for (const body of cases) {
    const res = await loginRaw(body);
    expectError(res, 401, 'invalid_credentials');
    assert.deepEqual(responseCookies(res), {});
  }
  for (const body of [{ email: s.email }, { password: PASSWORD }, {}, { email: s.email, password: 12345678901 }]) {
    const res = await loginRaw(body);
    expect4xx(res);
  }
  expect4xx(await api('POST', '/rpc/login', { rawBody: 'not json' }));
  // A user without a password (created by SQL) cannot log in with any password.
  const nopw = await createUser();
  expectError(await loginRaw({ email: nopw.email, password: PASSWORD }), 401, 'invalid_credentials');
  expectError(await loginRaw({ email: nopw.email, password: '' }), 401, 'invalid_credentials');
  // After all that, the right password still works.
  await login(s.email);
});

test('logout with a bearer token: 204, clears both cookies, revokes only that session', async () => {
  const s = await signup();
  const other = await login(s.email);
  const res = await api('POST', '/rpc/logout', { token: s.token });
  expectStatus(res, 204);
  const cookies = responseCookies(res);
  assert.deepEqual(Object.keys(cookies).sort(), ['__Host-task_api_csrf', '__Host-task_api_session']);
  for (const c of Object.values(cookies)) {
    assert.equal(c.value, '');
    assert.equal(c.attrs['max-age'], '0');
    assert.equal(c.attrs.path, '/');
  }
  assert.equal(await psql("SELECT revoked_at IS NOT NULL FROM task_api.sessions WHERE id = :'jti'", { jti: s.claims.jti }), 't');

  // The revoked token: 401 unauthenticated everywhere, bearer or cookie.
  for (const [method, path, body] of [
    ['GET', '/projects'], ['GET', '/users'], ['POST', '/projects', { name: 'after logout' }],
    ['POST', '/rpc/create_api_key', { name: 'k' }], ['POST', '/rpc/logout'], ['GET', '/api_keys'],
  ]) {
    expectError(await api(method, path, { token: s.token, body }), 401, 'unauthenticated');
  }
  // (Each request gets a fresh jar: the 401 also tells the browser to drop the cookie.)
  expectError(await new CookieJar().update(s.res).request('GET', '/projects'), 401, 'unauthenticated');
  expectError(await new CookieJar().update(s.res).request('POST', '/projects', { csrf: true, body: { name: 'after logout' } }),
    401, 'unauthenticated');
  assert.equal(Number(await psql("SELECT count(*) FROM task_api.projects WHERE name = 'after logout'")), 0);

  // The user's other session is still signed in.
  expectStatus(await api('GET', '/projects', { token: other.token }), 200);
});

test('logout without any credentials does not fail with 5xx and revokes nothing', async () => {
  const u = await createUser();
  const res = await api('POST', '/rpc/logout');
  assert.ok(res.status === 204 || res.status === 401, show(res));
  expectStatus(await api('GET', '/projects', { token: u.token }), 200);
});

test('tokens not bound to a live session or API key are 401 unauthenticated', async () => {
  const u = await createUser();
  const v = await createUser();
  const { payload: c } = decodeJwt(u.token);
  const { payload: cv } = decodeJwt(v.token);
  const exp = now() + 600;
  const tokens = {
    'random jti': userToken(JWT_SECRET, u.id),
    'no jti, no key_id': mintJwt(JWT_SECRET, { sub: u.id, role: 'task_api_user', iat: now(), exp }),
    'jti not a uuid': mintJwt(JWT_SECRET, { sub: u.id, role: 'task_api_user', exp, jti: 'session-1' }),
    'another user\'s session': mintJwt(JWT_SECRET, { ...c, jti: cv.jti }),
    'random key_id': mintJwt(JWT_SECRET, { sub: u.id, role: 'task_api_user', iat: now(), key_id: randomUUID() }),
    'key_id not a uuid': mintJwt(JWT_SECRET, { sub: u.id, role: 'task_api_user', iat: now(), key_id: 'k' }),
    'session id as key_id': mintJwt(JWT_SECRET, { sub: u.id, role: 'task_api_user', iat: now(), key_id: c.jti }),
    'user that does not exist': mintJwt(JWT_SECRET, { ...c, sub: randomUUID() }),
  };
  for (const [what, token] of Object.entries(tokens)) {
    for (const [method, path, body] of [['GET', '/projects'], ['POST', '/projects', { name: what }], ['GET', '/users']]) {
      const res = await api(method, path, { token, body });
      assert.equal(res.status, 401, `${what}: ${method} ${path}: ${show(res)}`);
      expectError(res, 401, 'unauthenticated');
    }
  }
  // PostgREST itself refuses a jti that is not a string.
  const numeric = mintJwt(JWT_SECRET, { sub: u.id, role: 'task_api_user', exp, jti: 12345 });
  expectError(await api('GET', '/projects', { token: numeric }), 401, /^(unauthenticated|PGRST30\d)$/);
  assert.deepEqual(await list('/projects', u.token), [], 'nothing was created');
});

test('a session that expired or was revoked in the database is 401 though its JWT is still valid', async () => {
  const a = await createUser();
  const b = await createUser();
  expectStatus(await api('GET', '/projects', { token: a.token }), 200);
  await psql("UPDATE task_api.sessions SET expires_at = now() - interval '1 second' WHERE id = :'jti'",
    { jti: decodeJwt(a.token).payload.jti });
  expectError(await api('GET', '/projects', { token: a.token }), 401, 'unauthenticated');
  expectError(await api('GET', '/projects', { headers: { Cookie: cookieHeader(a.token) } }), 401, 'unauthenticated');
  await psql("UPDATE task_api.sessions SET revoked_at = now() WHERE id = :'jti'", { jti: decodeJwt(b.token).payload.jti });
  expectError(await api('GET', '/projects', { token: b.token }), 401, 'unauthenticated');
  expectError(await api('POST', '/projects', { token: b.token, body: { name: 'revoked' }, headers: REPRESENTATION }), 401, 'unauthenticated');
});

test('a deleted user\'s token is 401 unauthenticated', async () => {
  const u = await createUser();
  const token = mintJwt(JWT_SECRET, { ...decodeJwt(u.token).payload });
  // Keep the session row's check apart from the user check: drop the user
  // only (sessions cascade), then the token is for a user that does not exist.
  await psql("DELETE FROM task_api.users WHERE id = :'id'", { id: u.id });
  expectError(await api('GET', '/projects', { token }), 401, 'unauthenticated');
  expectError(await api('GET', '/users', { token }), 401, 'unauthenticated');
});

test('the response of signup and login carries the token in the body and the session cookie only', async () => {
  const s = await signup();
  assert.match(s.id, UUID_RE);
  const cookies = responseCookies(s.res);
  assert.equal(cookies['__Host-task_api_session'].value, s.token);
  assert.notEqual(cookies['__Host-task_api_csrf'].value, s.token);
  assert.ok(!cookies['__Host-task_api_csrf'].value.includes('.'), 'the CSRF token is not a JWT');
});
