// Crafted tokens, in the Authorization header and in the __Host-task_api_session
// cookie (docs/contract.md §4, §11).  Each bad token is derived from a real, live
// session (its sub and jti), so that the one thing wrong with it is what
// the case says; a positive control shows the genuine token works the same
// way.  Header tokens: 401 from PostgREST (PGRST30x) or from the database
// (unauthenticated).  Cookie tokens never reach PostgREST's JWT check: the
// database verifies them and answers 401 unauthenticated, never anonymous.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  api, show, psql, createUser, list, mintJwt, JWT_SECRET, REPRESENTATION, expectError, expectStatus, expectRefused,
} from './lib.mjs';
import { decodeJwt, signRaw, cookieHeader, now, randomUUID } from './session_lib.mjs';

const HEADER_CODE = /^(PGRST30\d|unauthenticated)$/;
const OTHER_SECRET = 'this-is-not-the-secret-but-it-is-long-enough-0123456789';
const MB = 1024 * 1024;

// The bad tokens, built from a live session's token.
function badTokens(token, otherUserId) {
  const { payload: c } = decodeJwt(token);
  const [h, p, s] = token.split('.');
  const hs = { alg: 'HS256', typ: 'JWT' };
  const j = JSON.stringify;
  const flip = (str, i) => str.slice(0, i) + (str[i] === 'A' ? 'B' : 'A') + str.slice(i + 1);
  const { sub, ...noSub } = c;
  const { exp, ...noExp } = c;
  const std64 = (x) => Buffer.from(x).toString('base64'); // + / and = padding
  return {
    // malformed
    'garbage': 'garbage',
    'empty parts': '..',
    'three dots': '...',
    'a.b.c': 'a.b.c',
    'two parts': `${h}.${p}`,
    'four parts': `${token}.${s}`,
    'header only': h,
    'payload is not JSON': `${h}.${Buffer.from('not json').toString('base64url')}.${s}`,
    'payload is a JSON array': signRaw(j(hs), j([c])),
    'payload is a JSON string': signRaw(j(hs), j('hello')),
    'header is not JSON': signRaw('{alg:HS256}', j(c)),
    'nested claims': signRaw(j(hs), j({ ...c, extra: { nested: [1, 2] } })), // signed: cookie only
    'prefixed': `x${token}`,
    // truncated
    'truncated signature': token.slice(0, -10),
    'truncated by half': token.slice(0, Math.floor(token.length / 2)),
    'truncated payload': `${h}.${p.slice(0, -5)}.${s}`,
    'no signature': `${h}.${p}.`,
    // oversized, below the HTTP server's header limit (checked by the database)
    'oversized (20 KB payload)': signRaw(j(hs), j({ ...c, pad: 'x'.repeat(20 * 1024) })), // signed: cookie only
    'oversized (40 KB garbage)': 'a'.repeat(40 * 1024),
    'oversized (40 KB signature)': `${token}${'A'.repeat(40 * 1024)}`,
    'oversized (40 KB claim, unsigned)': `${h}.${Buffer.from(j({ ...c, pad: 'x'.repeat(28 * 1024) })).toString('base64url')}.${s}`,
    // not base64url
    'standard base64 (+/= padding)': signRaw(j(hs), j({ ...c, q: '>>>???' }), { enc: std64, sigEnc: 'base64' }),
    'invalid characters': `${h}!.${p}.${s}`,
    'percent-encoded': `${h}.${p}.${encodeURIComponent(s + '+/=')}`,
    'signature not base64url': `${h}.${p}.${s.slice(0, -4)}$$$$`,
    // wrong signature
    'signed with another secret': mintJwt(OTHER_SECRET, c),
    'signature bit flipped': `${h}.${p}.${flip(s, 0)}`,
    'payload tampered (other user)': `${h}.${Buffer.from(j({ ...c, sub: otherUserId })).toString('base64url')}.${s}`,
    'signature of another token': `${h}.${p}.${mintJwt(JWT_SECRET, { ...c, x: 1 }).split('.')[2]}`,
    'HS256 signature over an empty key': mintJwt('', c),
    // alg none
    'alg none, no signature': `${Buffer.from(j({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`,
    'alg none, real signature': `${Buffer.from(j({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.${s}`,
    'alg None': signRaw(j({ alg: 'None', typ: 'JWT' }), j(c)),
    'alg missing': signRaw(j({ typ: 'JWT' }), j(c)),
    // other algorithms
    'alg RS256 (HMAC signature)': mintJwt(JWT_SECRET, c, { header: { alg: 'RS256', typ: 'JWT' } }),
    'alg RS256 (secret as a public key)': signRaw(j({ alg: 'RS256', typ: 'JWT' }), j(c), { digest: 'sha256' }),
    'alg ES256': mintJwt(JWT_SECRET, c, { header: { alg: 'ES256', typ: 'JWT' } }),
    // time claims (beyond any clock skew)
    'expired 2 minutes ago': mintJwt(JWT_SECRET, { ...c, iat: now() - 3600, exp: now() - 120 }),
    'expired a day ago': mintJwt(JWT_SECRET, { ...c, iat: now() - 90000, exp: now() - 86400 }),
    'exp not a number': mintJwt(JWT_SECRET, { ...c, exp: 'tomorrow' }),
    'nbf in the future': mintJwt(JWT_SECRET, { ...c, nbf: now() + 600 }),
    'iat in the future': mintJwt(JWT_SECRET, { ...c, iat: now() + 600, exp: now() + 4200 }),
    'nbf and iat in the future': mintJwt(JWT_SECRET, { ...c, iat: now() + 3000, nbf: now() + 3000, exp: now() + 6000 }),
    // claims
    'missing sub': mintJwt(JWT_SECRET, noSub),
    'sub null': mintJwt(JWT_SECRET, { ...c, sub: null }),
    'sub not a uuid': mintJwt(JWT_SECRET, { ...c, sub: 'admin' }),
    'sub of another user': mintJwt(JWT_SECRET, { ...c, sub: otherUserId }),
    // one character off a UUID (src/trace_id.c ta_uuid_parse): refused, never read as another id
    'sub one character off a UUID': mintJwt(JWT_SECRET, { ...c, sub: `g${c.sub.slice(1)}` }),
    'jti one character off a UUID': mintJwt(JWT_SECRET, { ...c, jti: `${c.jti.slice(0, -1)}g` }),
    'jti with a dash moved': mintJwt(JWT_SECRET, { ...c, jti: `${c.jti.slice(0, 8)}${c.jti[9]}-${c.jti.slice(10)}` }),
    'missing role': mintJwt(JWT_SECRET, (({ role, ...r }) => r)(c)),
    'no exp': mintJwt(JWT_SECRET, noExp),
  };
}

// Cases only the cookie must refuse (a bearer token may legitimately be
// accepted by PostgREST and is then bound to a live session anyway).
const COOKIE_ONLY = new Set(['no exp', 'missing role', 'alg missing', 'nested claims', 'oversized (20 KB payload)']);

test('header: every crafted bearer token is 401 (PostgREST PGRST30x or database unauthenticated)', async () => {
  const u = await createUser();
  const other = await createUser();
  // Positive control: the genuine token reads and writes.
  expectStatus(await api('GET', '/projects', { token: u.token }), 200);
  const cases = badTokens(u.token, other.id);
  for (const [what, token] of Object.entries(cases)) {
    if (COOKIE_ONLY.has(what)) continue;
    for (const [method, path, body] of [
      ['GET', '/projects'], ['GET', '/users'], ['POST', '/projects', { name: `hdr ${what}` }],
      ['POST', '/rpc/create_api_key', { name: `hdr ${what}` }],
    ]) {
      const res = await api(method, path, { headers: { Authorization: `Bearer ${token}` }, body });
      assert.equal(res.status, 401, `${what}: ${method} ${path}: ${show(res)}`);
      expectError(res, 401, HEADER_CODE);
    }
  }
  // Nothing was written, and the genuine token still works.
  assert.deepEqual(await list('/projects', u.token), []);
  assert.deepEqual(await list('/api_keys', u.token), []);
  assert.deepEqual(await list('/projects', other.token), []);
});

// Without a role claim PostgREST runs the request as the anonymous role.
// (A signed token without exp, or with nested claims, is still bound to its
// live session: PostgREST may accept it as a bearer token; the cookie
// verifier refuses it.)
test('header: a bearer token without a role or alg is never accepted as the user', async () => {
  const u = await createUser();
  const other = await createUser();
  const cases = badTokens(u.token, other.id);
  for (const what of ['missing role', 'alg missing']) {
    const res = await api('POST', '/projects', { token: cases[what], body: { name: `hdr ${what}` } });
    assert.ok(res.status === 401 || res.status === 403, `${what}: ${show(res)}`);
    expectError(res, res.status);
  }
  assert.deepEqual(await list('/projects', u.token), []);
});

test('header and cookie: the same session id in upper-case hex is the same session', async () => {
  const u = await createUser();
  const { payload: c } = decodeJwt(u.token);
  const upper = mintJwt(JWT_SECRET, { ...c, jti: c.jti.toUpperCase() });
  expectStatus(await api('GET', '/projects', { token: upper }), 200);
  expectStatus(await api('GET', '/projects', { headers: { Cookie: cookieHeader(upper) } }), 200);
});

test('header: a 1 MB token is refused with a 4xx before reaching the database, and the server lives on', async () => {
  const u = await createUser();
  const { payload: c } = decodeJwt(u.token);
  const huge = [
    'a'.repeat(MB),
    mintJwt(JWT_SECRET, { ...c, pad: 'x'.repeat(MB) }),
    `${u.token}${'A'.repeat(MB)}`,
  ];
  for (const token of huge) {
    for (const method of ['GET', 'POST']) {
      await expectRefused(method, '/projects', { token, body: method === 'POST' ? { name: 'huge' } : undefined });
    }
  }
  expectStatus(await api('GET', '/projects', { token: u.token }), 200);
  assert.deepEqual(await list('/projects', u.token), []);
});

test('cookie: every crafted session cookie is 401 unauthenticated from the database, on reads and writes', async () => {
  const u = await createUser();
  const other = await createUser();
  const csrf = await psql(
    "SELECT task_api.csrf_token(:'jti')", { jti: decodeJwt(u.token).payload.jti });
  // Positive controls: the genuine token as a cookie reads, and writes with the CSRF token.
  expectStatus(await api('GET', '/projects', { headers: { Cookie: cookieHeader(u.token, csrf) } }), 200);
  const made = await api('POST', '/projects', {
    headers: { Cookie: cookieHeader(u.token, csrf), 'X-CSRF-Token': csrf, ...REPRESENTATION }, body: { name: 'control' },
  });
  expectStatus(made, 201);

  const cases = {
    ...badTokens(u.token, other.id),
    'revoked-looking random session': mintJwt(JWT_SECRET, { ...decodeJwt(u.token).payload, jti: randomUUID() }),
    'no jti': mintJwt(JWT_SECRET, (({ jti, ...r }) => r)(decodeJwt(u.token).payload)),
    'role postgres': mintJwt(JWT_SECRET, { ...decodeJwt(u.token).payload, role: 'postgres' }),
    'role anon': mintJwt(JWT_SECRET, { ...decodeJwt(u.token).payload, role: 'task_api_anon' }),
    'HS512 with the secret': signRaw(JSON.stringify({ alg: 'HS512', typ: 'JWT' }), JSON.stringify(decodeJwt(u.token).payload), { digest: 'sha512' }),
    'key_id added': mintJwt(JWT_SECRET, { ...decodeJwt(u.token).payload, key_id: randomUUID() }),
    'quoted': `"${u.token}x"`,
  };
  for (const [what, token] of Object.entries(cases)) {
    for (const [method, path, body] of [
      ['GET', '/projects'], ['GET', '/users'], ['HEAD', '/projects'],
      ['POST', '/projects', { name: `cookie ${what}` }], ['PATCH', `/projects?id=eq.${made.body[0].id}`, { name: `cookie ${what}` }],
      ['DELETE', `/projects?id=eq.${made.body[0].id}`],
      ['POST', '/rpc/create_api_key', { name: `cookie ${what}` }], ['POST', '/rpc/logout'],
    ]) {
      // With the right CSRF token, so that only the session cookie is wrong.
      const res = await api(method, path, { headers: { Cookie: cookieHeader(token, csrf), 'X-CSRF-Token': csrf }, body });
      assert.equal(res.status, 401, `cookie ${what}: ${method} ${path}: ${show(res)}`);
      if (method !== 'HEAD') expectError(res, 401, 'unauthenticated');
    }
    // Without a CSRF token an unsafe request is still a 401 (who, before what).
    const res = await api('POST', '/projects', { headers: { Cookie: cookieHeader(token) }, body: { name: `cookie ${what}` } });
    expectError(res, 401, 'unauthenticated');
  }
  // Nothing was written or revoked; the genuine session still works.
  const rows = await list('/projects', u.token);
  assert.deepEqual(rows.map((r) => r.name), ['control']);
  assert.deepEqual(await list('/api_keys', u.token), []);
  expectStatus(await api('GET', '/projects', { headers: { Cookie: cookieHeader(u.token) } }), 200);
});

test('cookie: an oversized session cookie is 401 unauthenticated; at 1 MB the HTTP server refuses it with a 4xx', async () => {
  const u = await createUser();
  const { payload: c } = decodeJwt(u.token);
  for (const token of ['a'.repeat(9000), mintJwt(JWT_SECRET, { ...c, pad: 'x'.repeat(30 * 1024) }), 'a'.repeat(40 * 1024)]) {
    expectError(await api('GET', '/projects', { headers: { Cookie: cookieHeader(token) } }), 401, 'unauthenticated');
  }
  // 1 MB: over the HTTP server's header limit, so no SQL runs at all; it
  // must still be a client error, never a 5xx or anonymous success.
  for (const token of ['a'.repeat(MB), mintJwt(JWT_SECRET, { ...c, pad: 'x'.repeat(MB) })]) {
    for (const method of ['GET', 'POST']) {
      await expectRefused(method, '/projects', {
        headers: { Cookie: cookieHeader(token) }, body: method === 'POST' ? { name: 'huge' } : undefined,
      });
    }
  }
  expectStatus(await api('GET', '/projects', { headers: { Cookie: cookieHeader(u.token) } }), 200);
  assert.deepEqual(await list('/projects', u.token), []);
});

test('cookie: odd Cookie headers are never 500 and never anonymous success', async () => {
  const u = await createUser();
  const variants = [
    '__Host-task_api_session',
    '__Host-task_api_session=;',
    '__Host-task_api_session==',
    '__Host-task_api_session=a=b=c',
    `__Host-task_api_session=${u.token}; __Host-task_api_session=garbage`,
    `__Host-task_api_session=garbage; __Host-task_api_session=${u.token}`,
    '__Host-task_api_session=%00%00',
    `__Host-task_api_session="${u.token}"`,
    ';;;;',
    `${'x'.repeat(1000)}=${'y'.repeat(1000)}; __Host-task_api_session=garbage`,
  ];
  for (const cookie of variants) {
    const res = await api('GET', '/projects', { headers: { Cookie: cookie } });
    assert.ok(res.status < 500, `${cookie.slice(0, 60)}: ${show(res)}`);
    // Either the user (when the session token is what is parsed) or a 401.
    if (res.status === 200) assert.deepEqual(res.body, []);
    else expectError(res, 401);
  }
});
