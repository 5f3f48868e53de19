// The activity feed (GET /task_events) through the real PostgREST, and the
// OpenAPI document's descriptions of every resource, column, function and
// argument.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  api, createUser, createTask, list, projectWithMembers, expectError, expectStatus, expect4xx, show, REPRESENTATION, psql,
  consumerAtEnd, onCitus,
} from './lib.mjs';

// A project's feed as one user sees it, newest first.
async function feed(token, projectId) {
  return list(`/task_events?project_id=eq.${projectId}&order=id.desc`, token);
}

test('GET /task_events: members see every change of their project, newest first, with what changed', async () => {
  const { owner, project, members } = await projectWithMembers(['editor', 'viewer']);
  const task = await createTask(members.editor.token, project.id, { title: 'Draft', priority: 3 });
  expectStatus(await api('PATCH', `/tasks?id=eq.${task.id}`, {
    token: members.editor.token, body: { title: 'Final', status: 'done' }, headers: REPRESENTATION,
  }), 200);
  // A PATCH that changes nothing is not an event.
  expectStatus(await api('PATCH', `/tasks?id=eq.${task.id}`, { token: members.editor.token, body: { title: 'Final' } }), 204);
  expectStatus(await api('DELETE', `/tasks?id=eq.${task.id}`, { token: members.editor.token }), 204);
  expectStatus(await api('POST', '/rpc/restore_task', { token: members.editor.token, body: { id: task.id } }), 200);
  expectStatus(await api('POST', '/rpc/purge_task', { token: owner.token, body: { id: task.id } }), 204);

  const events = await feed(owner.token, project.id);
  const summary = events.map((e) => `${e.resource_type} ${e.action}`);
  assert.deepEqual(summary, [
    'task purged', 'task deleted', 'task restored', 'task deleted', 'task updated', 'task created',
    'member created', 'member created', 'member created', 'project created',
  ], `feed: ${JSON.stringify(summary)}`);
  const ids = events.map((e) => e.id);
  assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'order=id.desc is newest first');
  for (const e of events) {
    assert.deepEqual(Object.keys(e).sort(),
      ['action', 'actor_id', 'changes', 'id', 'occurred_at', 'project_id', 'request_id', 'resource_id', 'resource_type']);
    assert.equal(e.project_id, project.id);
    assert.ok(!Number.isNaN(Date.parse(e.occurred_at)), `occurred_at is a timestamp: ${e.occurred_at}`);
  }
  const updated = events.find((e) => e.action === 'updated');
  assert.equal(updated.actor_id, members.editor.id, 'the actor is the editor who patched');
  assert.equal(updated.resource_id, task.id);
  assert.deepEqual(Object.keys(updated.changes).sort(), ['completed_at', 'status', 'title']);
  assert.deepEqual(updated.changes.title, { old: 'Draft', new: 'Final' });
  assert.deepEqual(updated.changes.status, { old: 'todo', new: 'done' });
  const created = events.find((e) => e.resource_type === 'task' && e.action === 'created');
  assert.equal(created.changes.title, 'Draft');
  assert.equal(created.changes.priority, 3);
  const purged = events[0];
  assert.equal(purged.actor_id, owner.id);
  assert.equal(purged.changes.title, 'Final', 'purged carries the last row');

  // The viewer sees the same feed; filters and select= work as on any view.
  assert.deepEqual((await feed(members.viewer.token, project.id)).map((e) => e.id), ids);
  const onlyTask = await list(`/task_events?resource_id=eq.${task.id}&action=eq.deleted&select=id,action`, members.viewer.token);
  assert.equal(onlyTask.length, 2);
  assert.deepEqual(Object.keys(onlyTask[0]).sort(), ['action', 'id']);
});

test('GET /task_events: non-members see nothing, a removed member loses the feed at once, anonymous callers get 401', async () => {
  const { owner, project, members } = await projectWithMembers(['viewer']);
  await createTask(owner.token, project.id);
  const stranger = await createUser();
  assert.deepEqual(await feed(stranger.token, project.id), []);
  assert.deepEqual(await list('/task_events', stranger.token), [], 'a user with no project sees no event at all');
  assert.ok((await feed(members.viewer.token, project.id)).length > 0);

  expectStatus(await api('DELETE', `/project_members?project_id=eq.${project.id}&user_id=eq.${members.viewer.id}`,
    { token: owner.token }), 204);
  assert.deepEqual(await feed(members.viewer.token, project.id), [], 'a removed member sees none of the events');
  const [last] = await feed(owner.token, project.id);
  assert.equal(`${last.resource_type} ${last.action}`, 'member purged');
  assert.equal(last.resource_id, members.viewer.id);

  expectError(await api('GET', '/task_events'), 401);
});

test('/task_events is read-only: POST, PATCH and DELETE are refused with a 4xx, never a 500', async () => {
  const { owner, project } = await projectWithMembers();
  const before = await feed(owner.token, project.id);
  expect4xx(await api('POST', '/task_events', {
    token: owner.token,
    body: { resource_type: 'task', resource_id: project.id, project_id: project.id, action: 'created', changes: {} },
  }));
  expect4xx(await api('PATCH', `/task_events?project_id=eq.${project.id}`, { token: owner.token, body: { action: 'purged' } }));
  expect4xx(await api('DELETE', `/task_events?project_id=eq.${project.id}`, { token: owner.token }));
  assert.deepEqual(await feed(owner.token, project.id), before, 'nothing changed');
});

test('GET / describes every resource, column, function and argument (OpenAPI 3.1)', async () => {
  const { owner } = await projectWithMembers();
  const res = await api('GET', '/', { token: owner.token });
  expectStatus(res, 200);
  const doc = res.body;
  assert.match(doc.openapi, /^3\.1\./, show(res));
  const schemas = doc.components.schemas;
  assert.ok(schemas.task_events, 'task_events is in the document');
  assert.ok(doc.paths['/task_events']?.get, 'GET /task_events is in the document');
  for (const [name, def] of Object.entries(schemas)) {
    if (['Error', 'Session', 'ApiKeyCreated'].includes(name)) continue;
    assert.ok(typeof def.description === 'string' && def.description.trim() !== '', `description of ${name}`);
    for (const [col, prop] of Object.entries(def.properties ?? {})) {
      assert.ok(typeof prop.description === 'string' && prop.description.trim() !== '', `description of ${name}.${col}`);
    }
  }
  const rpcs = Object.keys(doc.paths).filter((p) => p.startsWith('/rpc/') && p !== '/rpc/openapi');
  assert.ok(rpcs.length >= 8, `rpc paths: ${rpcs}`);
  for (const path of rpcs) {
    for (const [method, op] of Object.entries(doc.paths[path])) {
      assert.ok(typeof op.summary === 'string' && op.summary.trim() !== '', `summary of ${method} ${path}`);
      // The function's comment is the description; its "Arguments:"
      // paragraph describes each argument.
      const args = method === 'post'
        ? Object.keys(op.requestBody?.content?.['application/json']?.schema?.properties ?? {})
        : (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
      if (args.length > 0) assert.match(op.description ?? '', /^Arguments:/m, `${method} ${path} describes its arguments`);
      for (const arg of args) {
        assert.match(op.description, new RegExp(`^${arg}: \\S`, 'm'), `${method} ${path}: argument ${arg} is described`);
      }
    }
  }
});

// Every database has its own event id sequence, but the slots that hold
// back claim_events() are per backend, cluster-wide: a transaction that
// wrote events in another database (ids from 1) must not hold back this
// one's consumers (ids in the thousands).
test('claim_events() is not held back by a transaction writing events in another database', { timeout: 60000 }, async () => {
  const other = 'task_api_events_other';
  const app = `events_other_${randomUUID().slice(0, 8)}`;
  await psql(`DROP DATABASE IF EXISTS ${other} WITH (FORCE);\nCREATE DATABASE ${other};`);
  const e = process.env;
  const writer = spawn(e.TASK_API_PSQL, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', e.TASK_API_PGHOST, '-p', e.TASK_API_PGPORT,
    '-U', 'postgres', '-d', other], { stdio: ['pipe', 'ignore', 'pipe'] });
  let writerErr = '';
  writer.stderr.on('data', (d) => { writerErr += d; });
  writer.stdin.end(`CREATE EXTENSION task_api;
    SET application_name = '${app}';
    BEGIN;
    INSERT INTO task_api.users (id, email, display_name) VALUES ('01890a5d-ac96-774b-bcce-b302099a0001', 'o@example.com', 'O');
    INSERT INTO task_api.projects (id, name, owner_id) VALUES ('01890a5d-ac96-774b-bcce-b302099a1001', 'A', '01890a5d-ac96-774b-bcce-b302099a0001');
    SELECT pg_sleep(50);
    COMMIT;`);
  const until = async (what, predicate, ms) => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (await predicate()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail(`timed out waiting for ${what} ${writerErr}`);
  };
  try {
    await until('the other database\'s writer', async () =>
      (await psql(`SELECT count(*) FROM pg_stat_activity WHERE application_name = '${app}' AND query LIKE '%pg_sleep%' AND state = 'active'`)) === '1', 20000);
    const consumer = `other-db-${randomUUID()}`;
    await consumerAtEnd(consumer);
    const { project } = await projectWithMembers();
    // Other tests' short transactions may hold the bound for a moment: retry, bounded.
    await until('our events to be claimable', async () => {
      const out = await psql(`BEGIN;
        SELECT count(*) FROM task_api.claim_events(:'c', 10000) WHERE project_id = :'p';
        ROLLBACK;`, { c: consumer, p: project.id });
      return Number(out) > 0;
    }, 10000);
  } finally {
    writer.kill();
    await psql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '${app}';`);
    await psql(`DROP DATABASE IF EXISTS ${other} WITH (FORCE);`);
  }
});

// Issue 14, item 6: changes carries only fields of the public resource, for
// every event type (no deleted_at, deleted_by, deleted_with_project).
test('the feed\'s changes show only fields of /tasks, /projects and /project_members, for every event type', async () => {
  const { owner, project, members } = await projectWithMembers(['editor']);
  const t = await createTask(owner.token, project.id);
  const t2 = await createTask(owner.token, project.id);
  const post = (fn, body) => api('POST', `/rpc/${fn}`, { token: owner.token, body });
  expectStatus(await api('PATCH', `/tasks?id=eq.${t.id}`, { token: owner.token, body: { status: 'done' } }), 204);
  expectStatus(await api('DELETE', `/tasks?id=eq.${t.id}`, { token: owner.token }), 204);
  expectStatus(await post('restore_task', { id: t.id }), 200);
  expectStatus(await api('DELETE', `/tasks?id=eq.${t2.id}`, { token: owner.token }), 204);
  expectStatus(await post('purge_task', { id: t2.id }), 204);
  expectStatus(await api('DELETE', `/projects?id=eq.${project.id}`, { token: owner.token }), 204);
  expectStatus(await post('restore_project', { id: project.id }), 200);

  const columns = {
    task: Object.keys(t),
    project: Object.keys((await list(`/projects?id=eq.${project.id}`, owner.token))[0]),
    member: Object.keys((await list(`/project_members?project_id=eq.${project.id}`, owner.token))[0]),
  };
  const page = await api('GET', `/rpc/task_events_page?project_id=${project.id}&page_size=100`, { token: owner.token });
  expectStatus(page, 200);
  for (const events of [await feed(owner.token, project.id), page.body.data]) {
    const seen = new Set();
    for (const e of events) {
      seen.add(`${e.resource_type} ${e.action}`);
      for (const key of Object.keys(e.changes)) {
        assert.ok(columns[e.resource_type].includes(key), `${e.resource_type} ${e.action} shows ${key}: ${JSON.stringify(e.changes)}`);
      }
    }
    for (const kind of ['task created', 'task updated', 'task deleted', 'task restored', 'task purged',
      'project created', 'project deleted', 'project restored', 'member created']) {
      assert.ok(seen.has(kind), `${kind} in the feed`);
    }
  }
  void members;
});

test('a transaction that recorded task_api events cannot be prepared (claimers could pass its events); nothing is left prepared', async (t) => {
  if (await onCitus()) {
    // docs/scaling.md, "Tests that cannot apply on Citus".
    t.skip('on Citus a client cannot prepare a transaction that reached the workers at all (Citus refuses first: cannot use 2PC in transactions involving multiple servers)');
    return;
  }
  const { project } = await projectWithMembers();
  await assert.rejects(psql(`BEGIN;
    UPDATE task_api.projects SET description = 'prepared' WHERE id = :'p';
    PREPARE TRANSACTION 'task_api_events_prepare_test';`, { p: project.id }),
  /cannot PREPARE a transaction that recorded task_api events/);
  assert.equal(await psql(`SELECT count(*) FROM pg_prepared_xacts WHERE gid = 'task_api_events_prepare_test'`), '0');
});
