// Issue 21, "enumeration": POST /project_members {"email": …} answered 201
// for a registered address and 422 "no registered user has this email"
// otherwise, and an owner could make anyone a member (even an owner)
// without their consent, after which their name showed in the owner's
// /users.  Now members are invited (POST /invitations, the same answer for
// any invitee) and join only by accepting.  Through the real PostgREST.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  api, psql, createUser, createProject, list, expectError, expectStatus, show, REPRESENTATION,
} from '../http/lib.mjs';

// Two addresses of the same length: one with an account, one without.
function addressPair() {
  const tail = `${randomUUID()}@example.test`;
  return { registered: `reg-${tail}`, unregistered: `unr-${tail}` };
}

// A response as bytes, with what differs between any two invitations
// (ids, times, the invitee as given, the limiter's counter, the request's
// own X-Request-Id) blanked out.
function normalized(res, invitee) {
  let text = res.text.split(invitee).join('<invitee>');
  text = text.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>');
  text = text.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00/g, '<time>');
  const headers = [...res.headers]
    .filter(([name]) => name !== 'date' && name !== 'x-request-id')
    .map(([name, value]) => `${name}: ${name === 'ratelimit' ? value.replace(/r=\d+/, 'r=<n>') : value}`);
  return { status: res.status, headers, text };
}

const invite = (token, body, headers = REPRESENTATION) => api('POST', '/invitations', { token, body, headers });
const accept = (token, id, headers = {}) => api('POST', '/rpc/accept_invitation', { token, body: { id }, headers });
const decline = (token, id, headers = {}) => api('POST', '/rpc/decline_invitation', { token, body: { id }, headers });

test('probe "enumeration": a registered and an unregistered address get byte-identical answers', async () => {
  const owner = await createUser();
  const p = await createProject(owner.token);
  const { registered, unregistered } = addressPair();
  const member = await createUser({ email: registered });

  // The old probe: POST /project_members no longer answers differently.
  const oldReg = await api('POST', '/project_members', { token: owner.token, body: { project_id: p.id, email: registered } });
  const oldUnr = await api('POST', '/project_members', { token: owner.token, body: { project_id: p.id, email: unregistered } });
  expectError(oldReg, 405, 'method_not_allowed');
  assert.deepEqual(normalized(oldReg, registered), normalized(oldUnr, unregistered));

  for (const prefer of [REPRESENTATION, { Prefer: 'return=minimal' }, {}]) {
    const { registered: r, unregistered: u } = addressPair();
    await createUser({ email: r });
    const a = await invite(owner.token, { project_id: p.id, email: r, role: 'owner' }, prefer);
    const b = await invite(owner.token, { project_id: p.id, email: u, role: 'owner' }, prefer);
    expectStatus(a, 201);
    assert.deepEqual(normalized(a, r), normalized(b, u), `identical answers (${JSON.stringify(prefer)}): ${show(a)} / ${show(b)}`);
    // A duplicate of either: the same conflict.
    const a2 = await invite(owner.token, { project_id: p.id, email: r.toUpperCase() }, prefer);
    const b2 = await invite(owner.token, { project_id: p.id, email: u.toUpperCase() }, prefer);
    expectError(a2, 409, 'conflict');
    assert.deepEqual(normalized(a2, r.toUpperCase()), normalized(b2, u.toUpperCase()));
  }

  // The representation: what was given, never the account behind it.
  const a = await invite(owner.token, { project_id: p.id, email: ` ${registered} `, role: 'editor' });
  expectStatus(a, 201);
  assert.deepEqual(Object.keys(a.body[0]).sort(), ['created_at', 'email', 'expires_at', 'id', 'project_id', 'project_name', 'role', 'user_id']);
  assert.equal(a.body[0].project_name, p.name);
  assert.equal(a.body[0].email, registered);
  assert.equal(a.body[0].user_id, null);
  assert.equal(a.body[0].role, 'editor');

  // By user id: an account's id and an id without an account.
  const r = await invite(owner.token, { project_id: p.id, user_id: member.id });
  const u = await invite(owner.token, { project_id: p.id, user_id: randomUUID() });
  expectStatus(r, 201);
  assert.deepEqual(normalized(r, member.id), normalized(u, u.body[0].user_id));

  // The address of a member (the owner's own) answers the same as one without an account.
  const stranger = `user-${randomUUID()}@example.test`;
  assert.equal(stranger.length, owner.email.length);
  const x = await invite(owner.token, { project_id: p.id, email: owner.email });
  const y = await invite(owner.token, { project_id: p.id, email: stranger });
  expectStatus(x, 201);
  assert.deepEqual(normalized(x, owner.email), normalized(y, stranger));
});

test('probe "enumeration", consent: an invitation makes nobody a member and shows no names; accepting does', async () => {
  const owner = await createUser({ displayName: 'Owner Person' });
  const invitee = await createUser({ displayName: 'Invitee Person' });
  const p = await createProject(owner.token);
  const inv = expectStatus(await invite(owner.token, { project_id: p.id, email: invitee.email, role: 'owner' }), 201)[0];

  assert.deepEqual((await list('/users', owner.token)).map((u) => u.id), [owner.id], 'the invitee is not in the owner\'s /users');
  assert.deepEqual((await list('/users', invitee.token)).map((u) => u.id), [invitee.id], 'nor the owner in the invitee\'s');
  assert.deepEqual(await list(`/project_members?project_id=eq.${p.id}&select=user_id`, owner.token), [{ user_id: owner.id }]);
  assert.deepEqual(await list('/projects', invitee.token), [], 'an invitation (even as owner) grants nothing');
  expectStatus(await api('PATCH', `/projects?id=eq.${p.id}`, { token: invitee.token, body: { name: 'mine' }, headers: REPRESENTATION }), 200);
  assert.equal((await list(`/projects?id=eq.${p.id}`, owner.token))[0].name, p.name);

  const res = await accept(invitee.token, inv.id);
  assert.deepEqual({ ...expectStatus(res, 200), added_at: null },
    { project_id: p.id, user_id: invitee.id, role: 'owner', added_at: null, email: null });
  assert.deepEqual((await list('/users?order=display_name', owner.token)).map((u) => u.display_name), ['Invitee Person', 'Owner Person']);
  assert.deepEqual((await list('/users?order=display_name', invitee.token)).map((u) => u.display_name), ['Invitee Person', 'Owner Person']);
  // Users who share no project still do not see each other.
  const stranger = await createUser();
  assert.deepEqual((await list('/users', stranger.token)).map((u) => u.id), [stranger.id]);
  // The membership is an event, by the invitee; the invitation is not.
  const events = await list(`/task_events?project_id=eq.${p.id}&resource_type=eq.member&order=id`, owner.token);
  assert.deepEqual(events.map((e) => [e.action, e.resource_id, e.actor_id]),
    [['created', owner.id, owner.id], ['created', invitee.id, invitee.id]]);
});

test('the invitation flow: list, accept, decline, revoke, expiry, and whose invitation it is', async () => {
  const owner = await createUser();
  const p = await createProject(owner.token);
  const ann = await createUser();
  const ben = await createUser();
  const eve = await createUser();

  // An address that has no account yet: whoever signs up with it sees it.
  const later = `later-${randomUUID()}@example.test`;
  const toLater = expectStatus(await invite(owner.token, { project_id: p.id, email: later.toUpperCase(), role: 'editor' }), 201)[0];
  const toAnn = expectStatus(await invite(owner.token, { project_id: p.id, user_id: ann.id, role: 'editor' }), 201)[0];
  const toBen = expectStatus(await invite(owner.token, { project_id: p.id, email: ben.email }), 201)[0];

  // Who sees what at GET /invitations.
  assert.deepEqual((await list('/invitations?order=id', owner.token)).map((i) => i.id).sort(), [toLater.id, toAnn.id, toBen.id].sort());
  assert.deepEqual((await list('/invitations', ann.token)).map((i) => i.id), [toAnn.id]);
  assert.deepEqual((await list('/invitations', ben.token)).map((i) => i.id), [toBen.id]);
  assert.deepEqual(await list('/invitations', eve.token), []);
  const lateUser = await createUser({ email: later });
  assert.deepEqual((await list('/invitations', lateUser.token)).map((i) => i.id), [toLater.id]);

  // Someone else's invitation: exactly as one that does not exist.
  const theirs = await accept(eve.token, toAnn.id);
  const none = await accept(eve.token, randomUUID());
  expectError(theirs, 404, 'not_found');
  assert.deepEqual(theirs.body, none.body);
  expectError(await decline(eve.token, toAnn.id), 404, 'not_found');
  // Revoking is the owners': the invitee declines instead, others see nothing to delete.
  expectError(await api('DELETE', `/invitations?id=eq.${toAnn.id}`, { token: ann.token }), 403, 'forbidden');
  expectStatus(await api('DELETE', `/invitations?id=eq.${toAnn.id}`, { token: eve.token }), 204);
  assert.equal((await list(`/invitations?id=eq.${toAnn.id}`, owner.token)).length, 1, 'still open');
  // Nobody changes an invitation (no PATCH).
  const patched = await api('PATCH', `/invitations?id=eq.${toAnn.id}`, { token: ann.token, body: { role: 'owner' } });
  assert.ok(patched.status >= 400 && patched.status < 500, show(patched));

  // Accept: 200 with the membership; twice: not_found.
  expectStatus(await accept(ann.token, toAnn.id), 200);
  assert.equal((await list(`/project_members?project_id=eq.${p.id}&user_id=eq.${ann.id}`, owner.token))[0].role, 'editor');
  expectError(await accept(ann.token, toAnn.id), 404, 'not_found');
  assert.deepEqual(await list(`/invitations?id=eq.${toAnn.id}`, owner.token), [], 'an accepted invitation leaves the list');

  // Decline: 204, gone; accepting it afterwards: not_found.
  const declined = await decline(ben.token, toBen.id);
  expectStatus(declined, 204);
  assert.equal(declined.text, '');
  expectError(await accept(ben.token, toBen.id), 404, 'not_found');
  assert.deepEqual(await list('/invitations', ben.token), []);
  assert.deepEqual(await list('/projects', ben.token), []);

  // Revoke: DELETE by an owner; accepting it afterwards: not_found.
  expectStatus(await api('DELETE', `/invitations?id=eq.${toLater.id}`, { token: owner.token }), 204);
  expectError(await accept(lateUser.token, toLater.id), 404, 'not_found');
  assert.deepEqual(await list('/projects', lateUser.token), []);

  // Expired: out of the list; accepting is a conflict; a new invitation replaces it.
  const toEve = expectStatus(await invite(owner.token, { project_id: p.id, user_id: eve.id }), 201)[0];
  await psql("UPDATE task_api.invitations SET expires_at = now() - interval '1 second' WHERE id = :'id'", { id: toEve.id });
  assert.deepEqual(await list('/invitations', eve.token), []);
  assert.deepEqual(await list(`/invitations?id=eq.${toEve.id}`, owner.token), []);
  const expired = expectError(await accept(eve.token, toEve.id), 409, 'conflict');
  assert.equal(expired.message, 'this invitation has expired');
  assert.match(expired.hint, /invite you again/);
  assert.deepEqual(await list('/projects', eve.token), []);
  const again = expectStatus(await invite(owner.token, { project_id: p.id, user_id: eve.id }), 201)[0];
  expectError(await accept(eve.token, toEve.id), 404, 'not_found');
  expectStatus(await accept(eve.token, again.id), 200);

  // Already a member: conflict, and the role stays.
  const toAnnAgain = expectStatus(await invite(owner.token, { project_id: p.id, user_id: ann.id, role: 'owner' }), 201)[0];
  expectError(await accept(ann.token, toAnnAgain.id), 409, 'conflict');
  assert.equal((await list(`/project_members?project_id=eq.${p.id}&user_id=eq.${ann.id}`, owner.token))[0].role, 'editor');
  expectStatus(await decline(ann.token, toAnnAgain.id), 204);

  // Role changes and removals stay on /project_members.
  expectStatus(await api('PATCH', `/project_members?project_id=eq.${p.id}&user_id=eq.${ann.id}`,
    { token: owner.token, body: { role: 'viewer' } }), 204);
  expectStatus(await api('DELETE', `/project_members?project_id=eq.${p.id}&user_id=eq.${eve.id}`, { token: owner.token }), 204);
  assert.deepEqual(await list('/projects', eve.token), []);

  // Only owners invite: a member with another role is forbidden.
  expectError(await invite(ann.token, { project_id: p.id, user_id: eve.id }), 403, 'forbidden');
  // A stranger's invitation to a hidden project is answered as for a missing one.
  const hidden = await invite(eve.token, { project_id: p.id, user_id: eve.id });
  const missing = await invite(eve.token, { project_id: randomUUID(), user_id: eve.id });
  expectError(hidden, 422, 'validation_failed');
  assert.deepEqual(hidden.body, missing.body);
});

test('POST /project_members: 405 method_not_allowed with Allow and a hint naming /invitations, as the client gets it', async () => {
  const owner = await createUser();
  const bob = await createUser();
  const p = await createProject(owner.token);
  const res = await api('POST', '/project_members', { token: owner.token, body: { project_id: p.id, user_id: bob.id, role: 'owner' } });
  assert.equal(res.status, 405, show(res));
  assert.deepEqual(Object.keys(res.body).sort(), ['code', 'details', 'hint', 'message']);
  assert.equal(res.body.code, 'method_not_allowed');
  assert.match(res.body.hint, /POST \/invitations/);
  assert.match(res.body.hint, /accept_invitation/);
  assert.equal(res.headers.get('allow'), 'GET, PATCH, DELETE');
  assert.match(res.headers.get('content-type'), /application\/json/);
  // A member's own token and a bulk body get the same answer; nothing was added.
  const bulk = await api('POST', '/project_members', {
    token: owner.token, body: [{ project_id: p.id, user_id: bob.id }, { project_id: p.id, user_id: owner.id }],
  });
  expectError(bulk, 405, 'method_not_allowed');
  assert.deepEqual(await list(`/project_members?project_id=eq.${p.id}&select=user_id`, owner.token), [{ user_id: owner.id }]);
  // The catalogue has the code.
  assert.equal(await psql("SELECT status FROM task_api.error_codes WHERE code = 'method_not_allowed'"), '405');
});

test('Idempotency-Key on POST /invitations, accept_invitation and decline_invitation', async () => {
  const owner = await createUser();
  const ann = await createUser();
  const ben = await createUser();
  const p = await createProject(owner.token);
  const key = () => ({ 'Idempotency-Key': randomUUID() });

  const k1 = key();
  const first = await invite(owner.token, { project_id: p.id, user_id: ann.id, role: 'editor' }, { ...REPRESENTATION, ...k1 });
  const replay = await invite(owner.token, { role: 'editor', user_id: ann.id, project_id: p.id }, { ...REPRESENTATION, ...k1 });
  expectStatus(first, 201);
  expectStatus(replay, 201);
  assert.deepEqual(replay.body, first.body);
  assert.equal(replay.headers.get('idempotent-replayed'), 'true');
  assert.equal(await psql("SELECT count(*) FROM task_api.invitations WHERE project_id = :'p'", { p: p.id }), '1');
  expectError(await invite(owner.token, { project_id: p.id, user_id: ben.id }, { ...REPRESENTATION, ...k1 }), 422, 'idempotency_key_reused');

  const k2 = key();
  const joined = await accept(ann.token, first.body[0].id, k2);
  const joinedAgain = await accept(ann.token, first.body[0].id, k2);
  expectStatus(joined, 200);
  expectStatus(joinedAgain, 200);
  assert.deepEqual(joinedAgain.body, joined.body);
  assert.equal(joinedAgain.headers.get('idempotent-replayed'), 'true');
  expectError(await accept(ann.token, first.body[0].id), 404, 'not_found');

  const toBen = expectStatus(await invite(owner.token, { project_id: p.id, user_id: ben.id }), 201)[0];
  const k3 = key();
  expectStatus(await decline(ben.token, toBen.id, k3), 204);
  const declinedAgain = await decline(ben.token, toBen.id, k3);
  expectStatus(declinedAgain, 204);
  assert.equal(declinedAgain.headers.get('idempotent-replayed'), 'true');
  expectError(await decline(ben.token, toBen.id), 404, 'not_found');
  expectError(await invite(owner.token, { project_id: p.id, user_id: ben.id }, { ...REPRESENTATION, 'Idempotency-Key': 'not a key' }),
    400, 'invalid_idempotency_key');
});

// task_api.invitation_ttl is a reloadable setting; put it back afterwards.
let ttlChanged = false;
after(async () => {
  if (ttlChanged) {
    await psql('ALTER SYSTEM RESET task_api.invitation_ttl');
    await psql('SELECT pg_reload_conf()');
  }
});

test('task_api.invitation_ttl sets how long a new invitation stays open (7 days by default)', async () => {
  const owner = await createUser();
  const p = await createProject(owner.token);
  const span = (inv) => (Date.parse(inv.expires_at) - Date.parse(inv.created_at)) / 1000;
  const a = expectStatus(await invite(owner.token, { project_id: p.id, user_id: randomUUID() }), 201)[0];
  assert.equal(span(a), 7 * 86400);

  ttlChanged = true;
  await psql("ALTER SYSTEM SET task_api.invitation_ttl = '1h'");
  await psql('SELECT pg_reload_conf()');
  let b;
  for (let i = 0; i < 100; i++) { // a reload reaches PostgREST's backends before their next command
    b = expectStatus(await invite(owner.token, { project_id: p.id, user_id: randomUUID() }), 201)[0];
    if (span(b) === 3600) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(span(b), 3600);
  assert.equal(span((await list(`/invitations?id=eq.${a.id}`, owner.token))[0]), 7 * 86400, 'earlier invitations keep their expiry');
});
