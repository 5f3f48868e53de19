// Helpers for the HTTP end-to-end tests (node:test, no npm dependencies).
// scripts/test.sh starts a throw-away cluster and PostgREST and passes:
//   TASK_API_URL, TASK_API_JWT_SECRET, TASK_API_PSQL, TASK_API_PGHOST,
//   TASK_API_PGPORT, TASK_API_PGDATABASE.
// psql (superuser over the private socket) is used for setup only: users are
// created by SQL until signup exists.  Everything under test goes through
// the real PostgREST.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mintJwt, userToken } from '../lib/mint-jwt.mjs';
import { psql } from '../lib/psql.mjs';
export { psql };

export { mintJwt, userToken };

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the HTTP tests through 'make test' (scripts/test.sh)`);
  return v;
}

export const BASE_URL = env('TASK_API_URL').replace(/\/+$/, '');
export const JWT_SECRET = env('TASK_API_JWT_SECRET');

export const REPRESENTATION = { Prefer: 'return=representation' };

// One HTTP request.  body is sent as JSON unless rawBody (a string or
// Buffer) is given.  Returns {status, headers, body, text}; body is the
// parsed JSON when the response is JSON, else the text (null when empty).
export async function api(method, path, { token, body, headers = {}, rawBody } = {}) {
  const h = { Accept: 'application/json', ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  let payload;
  if (rawBody !== undefined) {
    payload = rawBody;
    if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['Content-Type'] = 'application/json';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    h['Content-Type'] = 'application/json';
  }
  const res = await fetch(BASE_URL + path, { method, headers: h, body: payload });
  const text = await res.text();
  let parsed = text === '' ? null : text;
  const ctype = res.headers.get('content-type') || '';
  if (text !== '' && /json/i.test(ctype)) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

// Short description of a response for assertion messages.
export function show(res) {
  const t = res.text.length > 600 ? res.text.slice(0, 600) + '...' : res.text;
  return `HTTP ${res.status} ${t}`;
}


export function uniqueEmail(prefix = 'user') {
  return `${prefix}-${randomUUID()}@example.test`;
}

export function uniqueName(prefix = 'project') {
  return `${prefix} ${randomUUID().slice(0, 8)}`;
}

// A new user (by SQL, since signup does not exist yet) and a bearer token.
export async function createUser({ email = uniqueEmail(), displayName = 'Test User' } = {}) {
  // A user row (no password: these users never log in) and a real session,
  // whose token is signed in C by task_api.start_session().
  const out = await psql(
    "WITH u AS (INSERT INTO task_api.users (email, display_name) VALUES (:'email', :'display_name') RETURNING id)\n" +
    "SELECT id || ' ' || (task_api.start_session(id) ->> 'token') FROM u;\n",
    { email, display_name: displayName });
  const [id, token] = out.split(' ');
  assert.match(id, /^[0-9a-f-]{36}$/, `createUser: unexpected psql output ${out}`);
  return { id, email, displayName, token };
}

// Assert an error response: exact status and code, a string message, never a 500.
export function expectError(res, status, code) {
  assert.ok(res.status < 500, `server error: ${show(res)}`);
  assert.equal(res.status, status, `expected HTTP ${status} ${code ?? ''}, got ${show(res)}`);
  assert.equal(typeof res.body, 'object', `error body is not JSON: ${show(res)}`);
  assert.ok(res.body !== null, `error body is empty: ${show(res)}`);
  assert.equal(typeof res.body.code, 'string', `error body has no code: ${show(res)}`);
  assert.equal(typeof res.body.message, 'string', `error body has no message: ${show(res)}`);
  assert.ok(res.body.message.length > 0, `error message is empty: ${show(res)}`);
  if (code instanceof RegExp) assert.match(res.body.code, code, show(res));
  else if (code !== undefined) assert.equal(res.body.code, code, show(res));
  return res.body;
}

// Assert a client error (any 4xx) with a PostgREST-shaped body.
export function expect4xx(res, code) {
  assert.ok(res.status >= 400 && res.status < 500, `expected a 4xx, got ${show(res)}`);
  return expectError(res, res.status, code);
}

// Assert validation_failed (422) and return its details as an array of
// {field, problem}.
export function expectValidation(res) {
  const body = expectError(res, 422, 'validation_failed');
  assert.equal(typeof body.details, 'string', `details must be JSON text: ${show(res)}`);
  let problems;
  try {
    problems = JSON.parse(body.details);
  } catch {
    assert.fail(`details is not JSON: ${body.details}`);
  }
  assert.ok(Array.isArray(problems), `details is not an array: ${body.details}`);
  for (const p of problems) {
    assert.equal(typeof p.field, 'string', `problem without field: ${body.details}`);
    assert.equal(typeof p.problem, 'string', `problem without problem: ${body.details}`);
  }
  return problems;
}

// The sorted field names of a validation problem list.
export function fields(problems) {
  return problems.map((p) => p.field).sort();
}

// Assert a successful status, with the response in the message otherwise.
export function expectStatus(res, status) {
  assert.equal(res.status, status, `expected HTTP ${status}, got ${show(res)}`);
  return res.body;
}

// POST one row with return=representation; returns the created row.
export async function create(path, token, body) {
  const res = await api('POST', path, { token, body, headers: REPRESENTATION });
  expectStatus(res, 201);
  assert.ok(Array.isArray(res.body) && res.body.length === 1, `expected one row: ${show(res)}`);
  return res.body[0];
}

export async function createProject(token, fieldsIn = {}) {
  return create('/projects', token, { name: uniqueName(), ...fieldsIn });
}

export async function createTask(token, projectId, fieldsIn = {}) {
  return create('/tasks', token, { project_id: projectId, title: 'a task', ...fieldsIn });
}

// Members join only by accepting an invitation: the owner invites the user
// (a user from createUser()) by id, and the user accepts with their own
// token.  Returns the membership row.
export async function addMember(ownerToken, projectId, member, role = 'viewer') {
  assert.ok(member && member.id && member.token, 'addMember takes a user from createUser(), not an id');
  const invitation = await create('/invitations', ownerToken, { project_id: projectId, user_id: member.id, role });
  const res = await api('POST', '/rpc/accept_invitation', { token: member.token, body: { id: invitation.id } });
  expectStatus(res, 200);
  return res.body;
}

// A request the HTTP server may refuse before any SQL runs (say, 1 MB of
// headers): it answers 4xx, or closes the connection while the request is
// still arriving.  Either is a refusal; a 5xx or a success is not.
export async function expectRefused(method, path, opts) {
  let res;
  try {
    res = await api(method, path, opts);
  } catch (e) {
    if (e instanceof TypeError) return null;
    throw e;
  }
  assert.ok(res.status >= 400 && res.status < 500, `expected a 4xx refusal: ${show(res)}`);
  return res;
}

// GET returning the JSON array (asserting 200).
export async function list(path, token) {
  const res = await api('GET', path, { token });
  expectStatus(res, 200);
  assert.ok(Array.isArray(res.body), `expected an array: ${show(res)}`);
  return res.body;
}

// A user who owns a project, plus users added with the given roles.
// Returns {owner, project, members: {role: user}}.
export async function projectWithMembers(roles = []) {
  const owner = await createUser({ displayName: 'Owner' });
  const project = await createProject(owner.token);
  const members = {};
  for (const role of roles) {
    const u = await createUser({ displayName: `A ${role}` });
    await addMember(owner.token, project.id, u, role);
    members[role] = u;
  }
  return { owner, project, members };
}

export const NIL_UUID = '00000000-0000-0000-0000-000000000000';
export const enc = encodeURIComponent;

// Is the API served by a distributed (Citus) database (make test-citus,
// docs/scaling.md)?  For the few answers that differ there by design.
let citusAnswer;
export async function onCitus() {
  citusAnswer ??= psql("SELECT to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL"
    + " AND EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus')").then((v) => v === 't');
  return citusAnswer;
}

// An event consumer that starts at the current end: on one server its
// position is the newest event; on Citus each node has its own position
// (docs/scaling.md, "Claiming across nodes"), every one at its node's newest.
export async function consumerAtEnd(name) {
  if (await onCitus()) {
    await psql(`INSERT INTO task_api.event_consumers (name, acked_id, claimed_id, node_positions)
                SELECT :'c', (p -> '0' ->> 'acked_id')::bigint, (p -> '0' ->> 'acked_id')::bigint, p
                  FROM task_api.citus_event_positions() p`, { c: name });
  } else {
    await psql(`INSERT INTO task_api.event_consumers (name, acked_id, claimed_id)
                SELECT :'c', coalesce(max(id), 0), coalesce(max(id), 0) FROM task_api.events`, { c: name });
  }
}

// A consumer's acknowledged position where event id lives: acked_id on one
// server; on Citus the position of the event's node (id >> 48).
export async function consumerPosition(name, id) {
  if (await onCitus()) {
    return Number(await psql(`SELECT task_api.citus_node_acked(node_positions, acked_id, (:'e'::bigint >> 48)::integer)
                                FROM task_api.event_consumers WHERE name = :'c'`, { c: name, e: String(id) }));
  }
  return Number(await psql("SELECT acked_id FROM task_api.event_consumers WHERE name = :'c'", { c: name }));
}
