// Revocation is immediate (issue 15): pre_request() reads the session or API
// key behind a token from its primary-key index on every request, with no
// cache that could outlive a revocation.  Each case first sends requests on
// several of PostgREST's pooled connections (so each backend has checked the
// credential), revokes it — through the API or from another database
// session — and then expects the very next requests refused on every
// connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, psql, createUser, expectError, expectStatus } from './lib.mjs';

// Enough concurrent requests to touch several pooled connections.
const SPREAD = 6;

async function allStatus(token, path = '/projects') {
  const res = await Promise.all(Array.from({ length: SPREAD }, () => api('GET', path, { token })));
  return res;
}

async function expectAllOk(token) {
  for (const r of await allStatus(token)) expectStatus(r, 200);
}

async function expectAllRefused(token, message) {
  for (const r of await allStatus(token)) {
    const body = expectError(r, 401, 'unauthenticated');
    assert.equal(body.message, message);
  }
}

test('logout: the very next request with the session token is refused, on every connection', async () => {
  const u = await createUser();
  await expectAllOk(u.token);
  expectStatus(await api('POST', '/rpc/logout', { token: u.token }), 204);
  await expectAllRefused(u.token, 'the session has ended');
});

test('a session revoked from another database session: the next request is refused', async () => {
  const u = await createUser();
  await expectAllOk(u.token);
  await psql("UPDATE task_api.sessions SET revoked_at = now() WHERE user_id = :'id'", { id: u.id });
  await expectAllRefused(u.token, 'the session has ended');
});

test('a revoked API key: the very next request with it is refused, on every connection', async () => {
  const u = await createUser();
  const created = await api('POST', '/rpc/create_api_key', { token: u.token, body: { name: 'revoke me' } });
  expectStatus(created, 201);
  const key = created.body;
  await expectAllOk(key.key);
  expectStatus(await api('DELETE', `/api_keys?id=eq.${key.id}`, { token: u.token }), 204);
  await expectAllRefused(key.key, 'the API key is not valid');
  // The user's session is untouched.
  await expectAllOk(u.token);
});

test('a deleted user: the very next request with their token is refused', async () => {
  const u = await createUser();
  await expectAllOk(u.token);
  await psql("DELETE FROM task_api.users WHERE id = :'id'", { id: u.id });
  await expectAllRefused(u.token, "the token's user does not exist");
});
