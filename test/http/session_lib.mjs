// Helpers for the authentication tests (signup, login, logout, cookies,
// API keys, crafted tokens).  Not a test file: imported by *.test.mjs.
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { api, show, uniqueEmail, JWT_SECRET } from './lib.mjs';

// A password long enough for signup (>= 10 characters).
export const PASSWORD = 'correct horse battery staple';
export const JWT_TTL = 3600; // task_api.jwt_ttl in the test cluster (default 1 hour)
// task_api.session_lifetime (default 7 days): the CSRF cookie's Max-Age.
export const SESSION_LIFETIME = 7 * 24 * 3600;
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const JWT_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export const now = () => Math.floor(Date.now() / 1000);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const b64url = (s) => Buffer.from(s).toString('base64url');

// The decoded header and payload of a compact JWT (no verification).
export function decodeJwt(token) {
  const [h, p] = token.split('.');
  return { header: JSON.parse(Buffer.from(h, 'base64url')), payload: JSON.parse(Buffer.from(p, 'base64url')) };
}

// Sign arbitrary header and payload text (already JSON or not) with HMAC
// SHA-256, or another digest; the header and payload are encoded with enc
// (base64url by default).
export function signRaw(headerText, payloadText, { secret = JWT_SECRET, digest = 'sha256', enc = b64url, sigEnc = 'base64url' } = {}) {
  const input = `${enc(headerText)}.${enc(payloadText)}`;
  return `${input}.${createHmac(digest, secret).update(input).digest(sigEnc)}`;
}

// ---------------------------------------------------------------- cookies

// The raw Set-Cookie lines of a response (Node 18 and 20).
export function setCookieLines(res) {
  if (typeof res.headers.getSetCookie === 'function') return res.headers.getSetCookie();
  const joined = res.headers.get('set-cookie');
  if (!joined) return [];
  // Our cookies carry Max-Age, never Expires, so a comma only separates them.
  return joined.split(/,\s*(?=[A-Za-z0-9_.-]+=)/);
}

// Parse one Set-Cookie line: {name, value, attrs} with attribute names
// lowercased (flags map to true).
export function parseSetCookie(line) {
  const [pair, ...rest] = line.split(';');
  const eq = pair.indexOf('=');
  const attrs = {};
  for (const a of rest) {
    const t = a.trim();
    if (t === '') continue;
    const i = t.indexOf('=');
    if (i < 0) attrs[t.toLowerCase()] = true;
    else attrs[t.slice(0, i).trim().toLowerCase()] = t.slice(i + 1).trim();
  }
  return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), attrs, line };
}

// The parsed Set-Cookie headers of a response, by cookie name (asserting
// that no cookie is set twice).
export function responseCookies(res) {
  const out = {};
  for (const line of setCookieLines(res)) {
    const c = parseSetCookie(line);
    assert.ok(!(c.name in out), `cookie ${c.name} set twice: ${setCookieLines(res).join(' | ')}`);
    out[c.name] = c;
  }
  return out;
}

// A minimal cookie jar for one origin: applies Set-Cookie (Max-Age=0 or
// an empty value deletes) and renders the Cookie header.
export class CookieJar {
  constructor(cookies = {}) {
    this.cookies = { ...cookies };
  }

  update(res) {
    for (const line of setCookieLines(res)) {
      const c = parseSetCookie(line);
      if (c.value === '' || Number(c.attrs['max-age']) <= 0) delete this.cookies[c.name];
      else this.cookies[c.name] = c.value;
    }
    return this;
  }

  get(name) {
    return this.cookies[name];
  }

  clone() {
    return new CookieJar(this.cookies);
  }

  header() {
    return Object.entries(this.cookies).map(([k, v]) => `${k}=${v}`).join('; ');
  }

  // One request with the jar's cookies and no Authorization header; the
  // jar learns the response's cookies.  csrf: true sends X-CSRF-Token from
  // the __Host-task_api_csrf cookie, a string sends that value, false sends none.
  async request(method, path, { csrf = false, body, headers = {}, rawBody } = {}) {
    const h = { ...headers };
    const cookie = this.header();
    if (cookie !== '') h.Cookie = cookie;
    if (csrf === true) h['X-CSRF-Token'] = this.get('__Host-task_api_csrf') ?? '';
    else if (typeof csrf === 'string') h['X-CSRF-Token'] = csrf;
    const res = await api(method, path, { body, headers: h, rawBody });
    this.update(res);
    return res;
  }
}

// A Cookie header value carrying just a session cookie (and optionally a
// CSRF cookie).
export function cookieHeader(session, csrf) {
  return csrf === undefined ? `__Host-task_api_session=${session}` : `__Host-task_api_session=${session}; __Host-task_api_csrf=${csrf}`;
}

// ---------------------------------------------------------- signup / login

export async function signupRaw(body, opts = {}) {
  return api('POST', '/rpc/signup', { body, ...opts });
}

export async function loginRaw(body, opts = {}) {
  return api('POST', '/rpc/login', { body, ...opts });
}

// Assert the body of a successful signup or login and return its claims.
export function checkSessionBody(res, userId) {
  const b = res.body;
  assert.equal(typeof b, 'object', show(res));
  assert.deepEqual(Object.keys(b).sort(), ['expires_at', 'token', 'token_type', 'user_id'], show(res));
  assert.match(b.user_id, UUID_RE, show(res));
  if (userId) assert.equal(b.user_id, userId);
  assert.equal(b.token_type, 'bearer');
  assert.match(b.token, JWT_RE);
  const { header, payload } = decodeJwt(b.token);
  assert.equal(header.alg, 'HS256');
  assert.equal(payload.sub, b.user_id);
  assert.equal(payload.role, 'task_api_user');
  assert.match(payload.jti, UUID_RE, 'the session id is the jti');
  assert.equal(typeof payload.iat, 'number');
  assert.equal(payload.exp - payload.iat, JWT_TTL, 'exp = iat + task_api.jwt_ttl');
  assert.ok(Math.abs(payload.iat - now()) <= 60, `iat ${payload.iat} is now`);
  assert.equal(Date.parse(b.expires_at), payload.exp * 1000, `expires_at ${b.expires_at} matches exp`);
  return payload;
}

// Sign up a new account (one real Argon2id hash).  Returns
// {id, email, password, token, claims, jar, res}.
export async function signup({ email = uniqueEmail('signup'), password = PASSWORD, displayName } = {}) {
  const body = { email, password };
  if (displayName !== undefined) body.display_name = displayName;
  const res = await signupRaw(body);
  assert.equal(res.status, 201, `signup: ${show(res)}`);
  const claims = checkSessionBody(res);
  return { id: res.body.user_id, email, password, token: res.body.token, claims, jar: new CookieJar().update(res), res };
}

// Log in (one real Argon2id hash); same shape as signup().
export async function login(email, password = PASSWORD) {
  const res = await loginRaw({ email, password });
  assert.equal(res.status, 200, `login: ${show(res)}`);
  const claims = checkSessionBody(res);
  return { id: res.body.user_id, email, password, token: res.body.token, claims, jar: new CookieJar().update(res), res };
}

export { randomUUID };
