// API keys (docs/contract.md §4): create (the key is shown once), list (never the key),
// revoke, expiry, and the rule that an API key cannot create API keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  api, psql, show, createUser, createProject, list, REPRESENTATION, mintJwt, JWT_SECRET,
  expectError, expect4xx, expectValidation, expectStatus, fields,
} from './lib.mjs';
import { UUID_RE, JWT_RE, decodeJwt, responseCookies, sleep, now, randomUUID } from './session_lib.mjs';

async function createKey(token, body) {
  const res = await api('POST', '/rpc/create_api_key', { token, body });
  expectStatus(res, 201);
  return res.body;
}

test('create_api_key: 201 {id, key, name, expires_at}; the key is a bearer JWT with key_id that works', async () => {
  const u = await createUser();
  const res = await api('POST', '/rpc/create_api_key', { token: u.token, body: { name: '  ci deploy  ' } });
  expectStatus(res, 201);
  const k = res.body;
  assert.deepEqual(Object.keys(k).sort(), ['expires_at', 'id', 'key', 'name']);
  assert.match(k.id, UUID_RE);
  assert.equal(k.name, 'ci deploy', 'the name is trimmed');
  assert.equal(k.expires_at, null);
  assert.match(k.key, JWT_RE);
  const { header, payload } = decodeJwt(k.key);
  assert.equal(header.alg, 'HS256');
  assert.equal(payload.sub, u.id);
  assert.equal(payload.role, 'task_api_user');
  assert.equal(payload.key_id, k.id);
  // Every issued token carries exp; a key without expires_at gets one about
  // 100 years out (it stays revocable).
  assert.ok(payload.exp - payload.iat >= 99 * 365 * 86400, 'a key without expires_at lasts about 100 years');
  assert.ok(!('jti' in payload), 'a key is not a session');
  assert.deepEqual(responseCookies(res), {}, 'no cookies for an API key');
  // Not stored: neither the key nor its signature is in the database.
  const dump = await psql("SELECT row_to_json(k)::text FROM task_api.api_keys k WHERE id = :'id'", { id: k.id });
  assert.ok(!dump.includes(k.key.split('.')[2]), 'the key is not stored');

  // The key reads as its user.
  const mine = await createProject(u.token);
  assert.deepEqual((await list('/users', k.key)).map((x) => x.id), [u.id]);
  assert.deepEqual((await list('/projects', k.key)).map((x) => x.id), [mine.id]);
});

test('an API key writes as its user (POST, PATCH, DELETE, RPC)', async () => {
  const u = await createUser();
  const k = await createKey(u.token, { name: 'writer' });
  const p = await api('POST', '/projects', { token: k.key, body: { name: 'by key' }, headers: REPRESENTATION });
  expectStatus(p, 201);
  assert.equal(p.body[0].owner_id, u.id);
  const id = p.body[0].id;
  expectStatus(await api('PATCH', `/projects?id=eq.${id}`, { token: k.key, body: { name: 'renamed by key' } }), 204);
  assert.deepEqual((await list('/projects', u.token)).map((x) => x.name), ['renamed by key']);
  expectStatus(await api('DELETE', `/projects?id=eq.${id}`, { token: k.key }), 204);
  assert.deepEqual(await list('/projects', u.token), []);
  // An RPC that writes, by key: logout revokes no session for a key, and the key keeps working.
  expectStatus(await api('POST', '/rpc/logout', { token: k.key }), 204);
  expectStatus(await api('GET', '/projects', { token: k.key }), 200);
});

test('GET /api_keys lists your own live keys, never the key itself', async () => {
  const u = await createUser();
  const other = await createUser();
  const a = await createKey(u.token, { name: 'first' });
  const expires = new Date(Date.now() + 7 * 86400e3).toISOString();
  const b = await createKey(u.token, { name: 'second', expires_at: expires });
  assert.equal(Date.parse(b.expires_at), Date.parse(expires));
  assert.equal(decodeJwt(b.key).payload.exp, Math.floor(Date.parse(expires) / 1000), 'the key expires with expires_at');
  await createKey(other.token, { name: 'not yours' });

  const res = await api('GET', '/api_keys?order=created_at', { token: u.token });
  expectStatus(res, 200);
  assert.deepEqual(res.body.map((k) => [k.id, k.name]), [[a.id, 'first'], [b.id, 'second']]);
  for (const row of res.body) {
    assert.deepEqual(Object.keys(row).sort(), ['created_at', 'expires_at', 'id', 'last_used_at', 'name']);
  }
  assert.equal(Date.parse(res.body[1].expires_at), Date.parse(expires));
  for (const k of [a, b]) {
    assert.ok(!res.text.includes(k.key), 'the key is never listed');
    assert.ok(!res.text.includes(k.key.split('.')[2]), 'nor its signature');
  }
  // The key can list its own user's keys (reads are allowed).
  assert.equal((await list('/api_keys', a.key)).length, 2);
  assert.deepEqual((await list('/api_keys', other.token)).map((k) => k.name), ['not yours']);
});

test('create_api_key validation: blank or long name, past expires_at; 422 listing every problem', async () => {
  const u = await createUser();
  let problems = expectValidation(await api('POST', '/rpc/create_api_key', { token: u.token, body: { name: '   ' } }));
  assert.deepEqual(fields(problems), ['name']);
  problems = expectValidation(await api('POST', '/rpc/create_api_key', { token: u.token, body: { name: 'x'.repeat(101) } }));
  assert.deepEqual(fields(problems), ['name']);
  problems = expectValidation(await api('POST', '/rpc/create_api_key', {
    token: u.token, body: { name: 'old', expires_at: new Date(Date.now() - 60e3).toISOString() },
  }));
  assert.deepEqual(fields(problems), ['expires_at']);
  problems = expectValidation(await api('POST', '/rpc/create_api_key', {
    token: u.token, body: { name: '', expires_at: '2000-01-01T00:00:00Z' },
  }));
  assert.deepEqual(fields(problems), ['expires_at', 'name']);
  expectValidation(await api('POST', '/rpc/create_api_key', { token: u.token, body: { name: null } }));
  // Malformed values and missing arguments: 4xx, never 500.
  expect4xx(await api('POST', '/rpc/create_api_key', { token: u.token, body: { name: 'k', expires_at: 'not a date' } }));
  expect4xx(await api('POST', '/rpc/create_api_key', { token: u.token, body: { name: 'k', expires_at: 12 } }));
  expect4xx(await api('POST', '/rpc/create_api_key', { token: u.token, body: {} }));
  expect4xx(await api('POST', '/rpc/create_api_key', { token: u.token, body: { name: 'x'.repeat(1024 * 1024) } }));
  assert.deepEqual(await list('/api_keys', u.token), []);
});

test('an API key cannot create API keys (403 forbidden); anonymous callers get 401', async () => {
  const u = await createUser();
  const k = await createKey(u.token, { name: 'limited' });
  expectError(await api('POST', '/rpc/create_api_key', { token: k.key, body: { name: 'child' } }), 403, 'forbidden');
  expectError(await api('POST', '/rpc/create_api_key', { body: { name: 'anon' } }), 401);
  assert.deepEqual((await list('/api_keys', u.token)).map((x) => x.name), ['limited']);
});

test('DELETE /api_keys revokes: the key gets 401 on the next request', async () => {
  const u = await createUser();
  const k = await createKey(u.token, { name: 'to revoke' });
  const keep = await createKey(u.token, { name: 'to keep' });
  const before = await createProject(u.token, { name: 'before revoke' });
  assert.deepEqual((await list('/projects', k.key)).map((p) => p.id), [before.id]);

  const res = await api('DELETE', `/api_keys?id=eq.${k.id}`, { token: u.token });
  assert.ok(res.status === 204 || res.status === 200, show(res));
  expectError(await api('GET', '/projects', { token: k.key }), 401, 'unauthenticated');
  expectError(await api('POST', '/projects', { token: k.key, body: { name: 'after revoke' } }), 401, 'unauthenticated');
  expectError(await api('GET', '/api_keys', { token: k.key }), 401, 'unauthenticated');
  assert.deepEqual((await list('/api_keys', u.token)).map((x) => x.id), [keep.id]);
  expectStatus(await api('GET', '/projects', { token: keep.key }), 200);
  assert.deepEqual((await list('/projects', u.token)).map((p) => p.name), ['before revoke']);
  assert.equal(await psql("SELECT revoked_at IS NOT NULL FROM task_api.api_keys WHERE id = :'id'", { id: k.id }), 't');
  // Revoking again changes nothing and is no error.
  expect2xx(await api('DELETE', `/api_keys?id=eq.${k.id}`, { token: u.token }));
});

function expect2xx(res) {
  assert.ok(res.status >= 200 && res.status < 300, show(res));
}

test('a key can revoke itself; another user cannot see or revoke your key', async () => {
  const u = await createUser();
  const mallory = await createUser();
  const k = await createKey(u.token, { name: 'mine' });
  let res = await api('DELETE', `/api_keys?id=eq.${k.id}`, { token: mallory.token, headers: REPRESENTATION });
  assert.ok(res.status < 300, show(res));
  if (Array.isArray(res.body)) assert.deepEqual(res.body, []);
  expectStatus(await api('GET', '/projects', { token: k.key }), 200);
  assert.deepEqual(await list(`/api_keys?id=eq.${k.id}`, mallory.token), []);
  // Mallory's own token with the victim's key_id is not bound to anything of hers.
  const forged = mintJwt(JWT_SECRET, { sub: mallory.id, role: 'task_api_user', iat: now(), key_id: k.id });
  expectError(await api('GET', '/projects', { token: forged }), 401, 'unauthenticated');

  res = await api('DELETE', `/api_keys?id=eq.${k.id}`, { token: k.key });
  expect2xx(res);
  expectError(await api('GET', '/projects', { token: k.key }), 401, 'unauthenticated');
});

test('expired API keys are 401 (by exp, and by expires_at in the database)', async () => {
  const u = await createUser();
  // A key that expires in a few seconds: works now, refused after.  (Its
  // exp is whole seconds, so it can end up to a second early.)
  const short = await createKey(u.token, { name: 'short', expires_at: new Date((now() + 6) * 1000).toISOString() });
  expectStatus(await api('GET', '/projects', { token: short.key }), 200);
  // A key whose database expiry passes while its JWT has no exp.
  const dbExpired = await createKey(u.token, { name: 'db' });
  expectStatus(await api('GET', '/projects', { token: dbExpired.key }), 200);
  await psql("UPDATE task_api.api_keys SET expires_at = now() - interval '1 second' WHERE id = :'id'", { id: dbExpired.id });
  expectError(await api('GET', '/projects', { token: dbExpired.key }), 401, 'unauthenticated');
  expectError(await api('POST', '/projects', { token: dbExpired.key, body: { name: 'expired' } }), 401, 'unauthenticated');

  await sleep(7200);
  for (const [method, body] of [['GET'], ['POST', { name: 'expired' }]]) {
    const res = await api(method, '/projects', { token: short.key, body });
    expectError(res, 401, /^(PGRST30\d|unauthenticated)$/);
  }
  assert.deepEqual(await list('/projects', u.token), []);
});

test('an API key of a deleted user, or with its key_id changed, is 401', async () => {
  const u = await createUser();
  const k = await createKey(u.token, { name: 'k' });
  const { payload } = decodeJwt(k.key);
  const other = mintJwt(JWT_SECRET, { ...payload, key_id: randomUUID() });
  expectError(await api('GET', '/projects', { token: other }), 401, 'unauthenticated');
  await psql("DELETE FROM task_api.users WHERE id = :'id'", { id: u.id });
  expectError(await api('GET', '/projects', { token: k.key }), 401, 'unauthenticated');
});

test('last_used_at is kept for keys used on writes', async () => {
  const u = await createUser();
  const k = await createKey(u.token, { name: 'used' });
  let [row] = await list(`/api_keys?id=eq.${k.id}`, u.token);
  assert.equal(row.last_used_at, null);
  expectStatus(await api('POST', '/projects', { token: k.key, body: { name: 'touch' } }), 201);
  [row] = await list(`/api_keys?id=eq.${k.id}`, u.token);
  assert.ok(row.last_used_at !== null && Math.abs(Date.parse(row.last_used_at) - Date.now()) < 120e3, JSON.stringify(row));
});
