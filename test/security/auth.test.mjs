// Issue 21, authentication: the probes of the rows "passwords", "API keys"
// (the key at rest) and "cookies", plus change_password, logout_all and the
// caps on live sessions and API keys, through the real PostgREST.
// The caps are cluster settings: this file changes them (ALTER SYSTEM and a
// reload) and restores them in the after hook.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  api, psql, show, uniqueEmail, expectError, expectStatus, expectValidation, fields, BASE_URL,
} from '../http/lib.mjs';
import {
  PASSWORD, signup, login, loginRaw, decodeJwt, responseCookies, CookieJar,
} from '../http/session_lib.mjs';

const SESSION = '__Host-task_api_session';
const CSRF = '__Host-task_api_csrf';
const OLD_SESSION = 'task_api_session';
const CAPS = ['task_api.max_sessions_per_user', 'task_api.max_api_keys_per_user'];

// ------------------------------------------------------------ settings

async function currentCaps() {
  const out = await psql(`SELECT ${CAPS.map((n) => `current_setting('${n}')`).join(" || ',' || ")}`);
  return Object.fromEntries(out.split(',').map((v, i) => [CAPS[i], v]));
}

// Set the caps (ALTER SYSTEM, reload) and wait until new connections see them.
async function setCaps(values) {
  let sql = '';
  for (const [name, value] of Object.entries(values)) {
    assert.ok(CAPS.includes(name), name);
    assert.match(String(value), /^[0-9]+$/);
    sql += `ALTER SYSTEM SET ${name} = '${value}';\n`;
  }
  await psql(sql + 'SELECT pg_reload_conf();');
  for (let i = 0; i < 200; i++) {
    const now = await currentCaps();
    if (Object.entries(values).every(([n, v]) => now[n] === String(v))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`the caps did not take effect: ${JSON.stringify(values)}`);
}

let saved;
before(async () => {
  saved = await currentCaps();
});
after(async () => {
  await psql(`${CAPS.map((n) => `ALTER SYSTEM RESET ${n};`).join('\n')}\nSELECT pg_reload_conf();`);
  for (let i = 0; i < 200; i++) {
    const now = await currentCaps();
    if (CAPS.every((n) => now[n] === saved[n])) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail('the caps were not restored');
});

// ------------------------------------------------------------ helpers

const rpc = (name, opts) => api('POST', `/rpc/${name}`, opts);

// The live sessions of a user, oldest first (ids are UUIDv7).
async function liveSessions(userId) {
  const out = await psql(
    'SELECT id FROM task_api.sessions WHERE user_id = :\'id\' AND revoked_at IS NULL AND expires_at > now() ORDER BY id',
    { id: userId });
  return out === '' ? [] : out.split('\n');
}

// Where the text appears in the database: every column of every table
// (cast to text) outside the system schemas, as "table.column" lines.
async function holders(needle) {
  const out = await psql(`
CREATE FUNCTION pg_temp.holders(needle text) RETURNS SETOF text LANGUAGE plpgsql AS $f$
DECLARE
    c record;
    n bigint;
BEGIN
    FOR c IN SELECT a.attrelid::regclass AS tbl, a.attname
               FROM pg_attribute a
               JOIN pg_class r ON r.oid = a.attrelid
               JOIN pg_namespace s ON s.oid = r.relnamespace
              WHERE r.relkind IN ('r', 'p', 'm') AND a.attnum > 0 AND NOT a.attisdropped
                AND s.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
    LOOP
        EXECUTE format('SELECT count(*) FROM %s WHERE strpos(%I::text, $1) > 0', c.tbl, c.attname) INTO n USING needle;
        IF n > 0 THEN
            RETURN NEXT c.tbl::text || '.' || c.attname;
        END IF;
    END LOOP;
END
$f$;
SELECT string_agg(h, ' ' ORDER BY h) FROM pg_temp.holders(:'needle') h;
`, { needle });
  return out === '' ? [] : out.split(' ');
}

// One GET with several Cookie header lines, over a raw socket (fetch and
// node:http would join them into one line).
function getWithCookieLines(path, lines) {
  const url = new URL(`${BASE_URL}${path}`);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname, () => {
      socket.end([`GET ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`, 'Accept: application/json',
        'Connection: close', ...lines.map((l) => `Cookie: ${l}`), '', ''].join('\r\n'));
    });
    let raw = '';
    socket.on('data', (d) => { raw += d; });
    socket.on('error', reject);
    socket.on('end', () => {
      const status = Number(raw.slice(9, 12));
      const head = raw.slice(0, raw.indexOf('\r\n\r\n'));
      let body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
      if (/transfer-encoding: chunked/i.test(head)) {
        let out = '';
        for (let i = 0; ;) {
          const eol = body.indexOf('\r\n', i);
          const size = parseInt(body.slice(i, eol), 16);
          if (!size) break;
          out += body.slice(eol + 2, eol + 2 + size);
          i = eol + 2 + size + 2;
        }
        body = out;
      }
      resolve({ status, text: body, body: body === '' ? null : JSON.parse(body) });
    });
  });
}

// ------------------------------------------------------------ passwords

test('passwords: stored as Argon2id; a 0.1.0 PBKDF2 verifier is replaced at the next login', async () => {
  const s = await signup();
  const hash = await psql("SELECT password_hash FROM task_api.users WHERE id = :'id'", { id: s.id });
  assert.match(hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/, 'Argon2id with 19 MiB and 2 passes (the defaults)');

  // A SCRAM-SHA-256 verifier as 0.1.0 stored them (PostgreSQL makes the same).
  await psql(`SET password_encryption = 'scram-sha-256';
CREATE ROLE tmp_task_api_scram PASSWORD :'pw';
UPDATE task_api.users SET password_hash = (SELECT rolpassword FROM pg_authid WHERE rolname = 'tmp_task_api_scram') WHERE id = :'id';
DROP ROLE tmp_task_api_scram;`, { pw: PASSWORD, id: s.id });
  assert.match(await psql("SELECT password_hash FROM task_api.users WHERE id = :'id'", { id: s.id }), /^SCRAM-SHA-256\$4096:/);
  expectError(await loginRaw({ email: s.email, password: 'wrong password!' }), 401, 'invalid_credentials');
  assert.match(await psql("SELECT password_hash FROM task_api.users WHERE id = :'id'", { id: s.id }), /^SCRAM-SHA-256\$/,
    'a failed login changes nothing');
  await login(s.email);
  assert.match(await psql("SELECT password_hash FROM task_api.users WHERE id = :'id'", { id: s.id }),
    /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/, 'the successful login re-hashed it with Argon2id');
  await login(s.email);
});

test('passwords: blank after trimming is refused (422 validation_failed listing the field)', async () => {
  for (const password of [' '.repeat(10), '\t\n \r'.repeat(4), '\u00a0\u3000\u2003'.repeat(4)]) {
    const res = await rpc('signup', { body: { email: uniqueEmail('blank'), password } });
    const problems = expectValidation(res);
    assert.deepEqual(problems, [{ field: 'password', problem: 'must not be blank' }], show(res));
  }
  const s = await signup();
  const res = await rpc('change_password', { token: s.token, body: { current_password: PASSWORD, new_password: ' '.repeat(12) } });
  assert.deepEqual(fields(expectValidation(res)), ['new_password']);
  expectStatus(await rpc('signup', { body: { email: uniqueEmail('spaced'), password: '  spaced  out  ' } }), 201);
});

// ------------------------------------------------------------ change_password, logout_all

test('change_password by bearer token: wrong current password 403, else 204 and every other session ends', async () => {
  const s = await signup();
  const b = await login(s.email);
  const c = await login(s.email);
  const key = await rpc('create_api_key', { token: s.token, body: { name: 'stays' } });
  expectStatus(key, 201);

  let res = await rpc('change_password', { token: b.token, body: { current_password: 'not my password', new_password: 'a brand new password' } });
  expectError(res, 403, 'forbidden');
  assert.equal(res.body.message, 'the current password is incorrect');
  res = await rpc('change_password', { token: b.token, body: { current_password: PASSWORD, new_password: 'short' } });
  assert.deepEqual(expectValidation(res), [{ field: 'new_password', problem: 'must be at least 10 characters' }]);
  assert.equal((await liveSessions(s.id)).length, 3, 'refusals end no session');

  res = await rpc('change_password', { token: b.token, body: { current_password: PASSWORD, new_password: 'a brand new password' } });
  expectStatus(res, 204);
  assert.deepEqual(await liveSessions(s.id), [b.claims.jti], 'only the caller\'s session is left');
  expectError(await api('GET', '/projects', { token: s.token }), 401, 'unauthenticated');
  expectError(await api('GET', '/projects', { token: c.token }), 401, 'unauthenticated');
  expectStatus(await api('GET', '/projects', { token: b.token }), 200);
  expectStatus(await api('GET', '/projects', { token: key.body.key }), 200); // API keys stay
  expectError(await loginRaw({ email: s.email, password: PASSWORD }), 401, 'invalid_credentials');
  await login(s.email, 'a brand new password');
});

test('change_password and logout_all by cookie need the CSRF token; logout_all ends every session (204)', async () => {
  const s = await signup();
  const other = await login(s.email);
  const jar = s.jar;
  assert.ok(jar.get(SESSION) && jar.get(CSRF));
  expectError(await jar.request('POST', '/rpc/change_password', { body: { current_password: PASSWORD, new_password: 'a cookie password' } }),
    403, 'csrf_failed');
  expectStatus(await jar.request('POST', '/rpc/change_password', { csrf: true, body: { current_password: PASSWORD, new_password: 'a cookie password' } }), 204);
  assert.deepEqual(await liveSessions(s.id), [s.claims.jti], 'the cookie\'s session stays, the other ends');
  expectError(await api('GET', '/projects', { token: other.token }), 401, 'unauthenticated');
  expectStatus(await jar.request('GET', '/projects'), 200);

  const third = await login(s.email, 'a cookie password');
  expectError(await jar.request('POST', '/rpc/logout_all'), 403, 'csrf_failed');
  const res = await jar.request('POST', '/rpc/logout_all', { csrf: true });
  expectStatus(res, 204);
  const cleared = responseCookies(res);
  assert.deepEqual(Object.keys(cleared).sort(), [CSRF, SESSION]);
  assert.equal(cleared[SESSION].attrs['max-age'], '0');
  assert.deepEqual(await liveSessions(s.id), [], 'every session ended, the caller\'s too');
  expectError(await api('GET', '/projects', { token: third.token }), 401, 'unauthenticated');
  expectError(await api('GET', '/projects', { headers: { Cookie: `${SESSION}=${s.token}` } }), 401, 'unauthenticated');
});

test('logout_all by bearer token: 204, every session ends', async () => {
  const s = await signup();
  await login(s.email);
  expectStatus(await rpc('logout_all', { token: s.token }), 204);
  assert.deepEqual(await liveSessions(s.id), []);
  expectError(await api('GET', '/projects', { token: s.token }), 401, 'unauthenticated');
});

test('API keys cannot change the password nor end sessions (403 forbidden); anonymous callers get 401', async () => {
  const s = await signup();
  const key = (await rpc('create_api_key', { token: s.token, body: { name: 'k' } })).body.key;
  let res = await rpc('change_password', { token: key, body: { current_password: PASSWORD, new_password: 'a brand new password' } });
  expectError(res, 403, 'forbidden');
  assert.equal(res.body.message, 'an API key cannot change the password');
  res = await rpc('logout_all', { token: key });
  expectError(res, 403, 'forbidden');
  assert.equal(res.body.message, 'an API key cannot end sessions');
  assert.equal((await liveSessions(s.id)).length, 1, 'the key ended nothing');
  await login(s.email);
  // Anonymous: PostgREST's 401 (no EXECUTE for task_api_anon), as for /rpc/logout.
  expectError(await rpc('change_password', { body: { current_password: PASSWORD, new_password: 'a brand new password' } }), 401);
  expectError(await rpc('logout_all', { body: {} }), 401);
});

// ------------------------------------------------------------ caps

test('over task_api.max_sessions_per_user a login still succeeds and ends the oldest session', async () => {
  await setCaps({ 'task_api.max_sessions_per_user': 3 });
  const s = await signup();
  const logins = [s];
  for (let i = 0; i < 4; i++) logins.push(await login(s.email));
  const live = await liveSessions(s.id);
  assert.deepEqual(live, logins.slice(2).map((l) => l.claims.jti), 'the newest three are live');
  for (const l of logins.slice(0, 2)) expectError(await api('GET', '/projects', { token: l.token }), 401, 'unauthenticated');
  for (const l of logins.slice(2)) expectStatus(await api('GET', '/projects', { token: l.token }), 200);
  await setCaps({ 'task_api.max_sessions_per_user': saved['task_api.max_sessions_per_user'] });
});

test('over task_api.max_api_keys_per_user create_api_key is 409 conflict; revoked keys free a place', async () => {
  await setCaps({ 'task_api.max_api_keys_per_user': 2 });
  const s = await signup();
  const first = await rpc('create_api_key', { token: s.token, body: { name: 'one' }, headers: { 'Idempotency-Key': 'cap-one' } });
  expectStatus(first, 201);
  expectStatus(await rpc('create_api_key', { token: s.token, body: { name: 'two' } }), 201);
  const res = await rpc('create_api_key', { token: s.token, body: { name: 'three' } });
  expectError(res, 409, 'conflict');
  assert.match(res.body.message, /2 live API keys/);
  assert.match(res.body.hint, /DELETE \/api_keys/);
  // A replay of a key made before the cap was reached is still a replay.
  const replay = await rpc('create_api_key', { token: s.token, body: { name: 'one' }, headers: { 'Idempotency-Key': 'cap-one' } });
  expectStatus(replay, 201);
  assert.deepEqual(replay.body, first.body);
  expectStatus(await api('DELETE', `/api_keys?id=eq.${first.body.id}`, { token: s.token }), 204);
  expectStatus(await rpc('create_api_key', { token: s.token, body: { name: 'three' } }), 201);
  expectError(await rpc('create_api_key', { token: s.token, body: { name: 'four' } }), 409, 'conflict');
  await setCaps({ 'task_api.max_api_keys_per_user': saved['task_api.max_api_keys_per_user'] });
});

// ------------------------------------------------------------ API keys at rest

test('API keys: a key created with an Idempotency-Key is nowhere in the database; a replay re-derives it', async () => {
  const s = await signup();
  const headers = { 'Idempotency-Key': `key-at-rest-${s.id}` };
  const res = await rpc('create_api_key', { token: s.token, body: { name: 'at rest' }, headers });
  expectStatus(res, 201);
  const { key, id } = res.body;
  assert.equal(decodeJwt(key).payload.key_id, id);
  // The search finds what is there (the key's id) ...
  assert.ok((await holders(id)).includes('task_api.api_keys.id'), 'the search works');
  assert.ok((await holders(id)).includes('task_api.idempotency_keys.response'), 'the idempotent response is stored');
  // ... and finds neither the key nor its signature anywhere.
  assert.deepEqual(await holders(key), [], 'the key is in no column of any table');
  assert.deepEqual(await holders(key.split('.')[2]), [], 'nor is its signature');

  // A replay answers the same key, signed again; it creates no second key.
  const replay = await rpc('create_api_key', { token: s.token, body: { name: 'at rest' }, headers });
  expectStatus(replay, 201);
  assert.equal(replay.headers.get('idempotent-replayed'), 'true');
  assert.deepEqual(replay.body, res.body);
  assert.equal(await psql("SELECT count(*) FROM task_api.api_keys WHERE user_id = :'id'", { id: s.id }), '1');
  expectStatus(await api('GET', '/projects', { token: replay.body.key }), 200);
  assert.deepEqual(await holders(key), [], 'still stored nowhere after the replay');

  // Once the key is revoked, a replay answers no key.
  expectStatus(await api('DELETE', `/api_keys?id=eq.${id}`, { token: s.token }), 204);
  const late = await rpc('create_api_key', { token: s.token, body: { name: 'at rest' }, headers });
  expectStatus(late, 201);
  assert.deepEqual(late.body, { ...res.body, key: null });
});

// ------------------------------------------------------------ cookies

test('cookies: __Host- session and CSRF cookies (Secure, Path=/, no Domain), HttpOnly and SameSite kept', async () => {
  const s = await signup();
  const c = responseCookies(s.res);
  assert.deepEqual(Object.keys(c).sort(), [CSRF, SESSION]);
  for (const name of [SESSION, CSRF]) {
    assert.equal(c[name].attrs.secure, true, c[name].line);
    assert.equal(c[name].attrs.path, '/', c[name].line);
    assert.ok(!('domain' in c[name].attrs), c[name].line);
    assert.equal(c[name].attrs.samesite, 'Lax', c[name].line);
  }
  assert.equal(c[SESSION].attrs.httponly, true);
  assert.ok(!('httponly' in c[CSRF].attrs));
  expectStatus(await s.jar.request('GET', '/projects'), 200);
});

test('cookies: two session cookies (the old and the new name) are 401 unauthenticated saying why', async () => {
  const victim = await signup();
  const attacker = await signup();
  for (const cookie of [
    `${OLD_SESSION}=${attacker.token}; ${SESSION}=${victim.token}`,
    `${SESSION}=${victim.token}; ${OLD_SESSION}=${attacker.token}`,
    `${SESSION}=${victim.token}; ${OLD_SESSION}=`,
    `${SESSION}=${victim.token}; ${OLD_SESSION}=${victim.token}`,
  ]) {
    for (const method of ['GET', 'POST']) {
      const res = await api(method, '/projects', { headers: { Cookie: cookie }, body: method === 'POST' ? { name: 'two cookies' } : undefined });
      expectError(res, 401, 'unauthenticated');
      assert.equal(res.body.message, 'the request carries two session cookies', show(res));
      assert.match(res.body.details, /another site of the same domain/);
      assert.equal(responseCookies(res)[OLD_SESSION]?.attrs['max-age'], '0', 'the old-name cookie is cleared');
    }
  }
  assert.equal(await psql("SELECT count(*) FROM task_api.projects WHERE name = 'two cookies'"), '0');
});

test('cookies: a session under the old name alone is 401; login still works with both names present', async () => {
  const s = await signup();
  const res = await api('GET', '/projects', { headers: { Cookie: `${OLD_SESSION}=${s.token}` } });
  expectError(res, 401, 'unauthenticated');
  assert.equal(res.body.message, 'the session cookie has an old name');
  // Users can always sign in again, whatever cookies the browser holds.
  const r = await loginRaw({ email: s.email, password: PASSWORD }, { headers: { Cookie: `${OLD_SESSION}=x; ${SESSION}=y` } });
  expectStatus(r, 200);
  assert.ok(responseCookies(r)[SESSION]);
});

test('cookies: with several Cookie header lines, a later line is never the identity', async () => {
  const victim = await signup();
  const attacker = await signup();
  const me = async (lines) => {
    const res = await getWithCookieLines('/users', lines);
    assert.ok(res.status < 500, res.text);
    return res.status === 200 ? res.body.map((u) => u.id) : res.status;
  };
  assert.deepEqual(await me([`${SESSION}=${victim.token}`]), [victim.id], 'the raw request works');
  // PostgREST reads the first Cookie line only: the victim stays the victim.
  assert.deepEqual(await me([`${SESSION}=${victim.token}`, `${SESSION}=${attacker.token}`]), [victim.id]);
  assert.deepEqual(await me([`${SESSION}=${victim.token}`, `${OLD_SESSION}=${attacker.token}`]), [victim.id]);
  // A first line with the old name is refused, whatever follows.
  assert.equal(await me([`${OLD_SESSION}=${attacker.token}`, `${SESSION}=${victim.token}`]), 401);
});

// A browser cannot hold two __Host- cookies of one name (one host, Path=/),
// so only a client forging its own request can send this; it is still not
// refused: PostgREST 12.0.2 passes request.cookies as an object (the last
// cookie of a name wins) and never passes the Cookie header itself.
test('cookies: two __Host- session cookies in one Cookie header are refused', {
  todo: 'PostgREST 12.0.2 keeps only the last cookie of a name in request.cookies (upstream)',
}, async () => {
  const victim = await signup();
  const attacker = await signup();
  const res = await api('GET', '/users', { headers: { Cookie: `${SESSION}=${victim.token}; ${SESSION}=${attacker.token}` } });
  expectError(res, 401, 'unauthenticated');
});

test('cookies: a bearer token still takes precedence over any cookies', async () => {
  const a = await signup();
  const b = await signup();
  const res = await api('GET', '/users', { token: a.token, headers: { Cookie: `${OLD_SESSION}=${b.token}; ${SESSION}=${b.token}` } });
  expectStatus(res, 200);
  assert.deepEqual(res.body.map((u) => u.id), [a.id]);
});

test('cookies: the cookie jar of a browser signs in, reads and writes under the new names', async () => {
  const email = uniqueEmail('jar');
  const res = await api('POST', '/rpc/signup', { body: { email, password: PASSWORD } });
  expectStatus(res, 201);
  const jar = new CookieJar().update(res);
  expectStatus(await jar.request('POST', '/projects', { csrf: true, body: { name: `jar ${email}` } }), 201);
  expectStatus(await jar.request('POST', '/rpc/logout', { csrf: true }), 204);
  assert.equal(jar.get(SESSION), undefined, 'logout cleared the session cookie');
});
