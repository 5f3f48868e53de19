// Issue 21, item 8: faults answer truthfully.  The probe: during a restart
// or pg_terminate_backend, writes were answered
// 400 {"code":"","details":null,"hint":null,"message":""} although some had
// committed.  That answer is PostgREST 12's: when the connection dies after
// the statement's result was read (say, once COMMIT is done), its client
// library reports the loss as a result without SQLSTATE, and PostgREST maps
// an unknown SQLSTATE to 400.  Nothing in the database sees that moment, so
// the rule for clients (docs/errors.md, "Retrying") is: a 5xx, or a 400 whose code
// is empty, means the outcome is unknown — retry with the same
// Idempotency-Key.  These tests hold PostgREST and the database to that rule:
// a write whose backend is terminated mid-request answers 503 with
// Retry-After and commits nothing, and under a storm of terminations every
// write retried by the rule lands exactly once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { api, psql, show, createUser, createProject } from '../http/lib.mjs';

let user;
let project;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Is the outcome of this answer unknown, by the rule of docs/errors.md?
function outcomeUnknown(res) {
  return res.status >= 500 || (res.status === 400 && res.body?.code === '');
}

// POST a task with an Idempotency-Key, retrying by the rule until an
// answer that is not "outcome unknown" (PostgREST reconnects after a
// terminated backend and answers 503 until its schema cache is back).
async function postUntilKnown(title, key) {
  for (let i = 0; i < 150; i++) {
    const res = await api('POST', '/tasks', {
      token: user.token, body: { project_id: project.id, title }, headers: { 'Idempotency-Key': key },
    });
    if (!outcomeUnknown(res)) return res;
    await sleep(100);
  }
  assert.fail(`no definite answer for ${title}`);
}

async function tasksTitled(title) {
  return Number(await psql(`SELECT count(*) FROM task_api.tasks WHERE project_id = '${project.id}' AND title = :'t'`,
    { t: title }));
}

// Wait until PostgREST serves again after terminations.
async function healthy() {
  for (let i = 0; i < 150; i++) {
    if ((await api('GET', '/projects', { token: user.token })).status === 200) return;
    await sleep(100);
  }
  assert.fail('PostgREST did not recover');
}

before(async () => {
  // The blocked write must wait for the test, not for a lock timeout.
  await psql("ALTER SYSTEM SET task_api.statement_timeout = '60000'; SELECT pg_reload_conf();");
  for (let i = 0; i < 100 && await psql("SELECT setting FROM pg_settings WHERE name = 'task_api.statement_timeout'") !== '60000'; i++) await sleep(50);
  user = await createUser();
  project = await createProject(user.token);
});

after(async () => {
  await psql('ALTER SYSTEM RESET task_api.statement_timeout; SELECT pg_reload_conf();');
  await healthy();
});

test('a write whose backend is terminated mid-request answers 503 with Retry-After; the retry with the same key lands once', async () => {
  const title = `blocked ${randomUUID()}`;
  const key = randomUUID();
  // A session holding the project row: the insert waits for it (foreign key).
  const holder = spawn(process.env.TASK_API_PSQL, ['-X', '-q', '-h', process.env.TASK_API_PGHOST,
    '-p', process.env.TASK_API_PGPORT, '-U', 'postgres', '-d', process.env.TASK_API_PGDATABASE,
    '-v', `id=${project.id}`], { stdio: ['pipe', 'ignore', 'inherit'] });
  holder.stdin.write("BEGIN;\nSELECT 1 FROM task_api.projects WHERE id = :'id' FOR UPDATE;\n");
  let res;
  try {
    for (let i = 0; i < 100; i++) {
      if (await psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'postgres'" +
        " AND state = 'idle in transaction' AND backend_xid IS NOT NULL") !== '0') break;
      await sleep(100);
    }
    const pending = api('POST', '/tasks', {
      token: user.token, body: { project_id: project.id, title }, headers: { 'Idempotency-Key': key },
    });
    let pid = '';
    for (let i = 0; i < 100 && pid === ''; i++) {
      pid = await psql("SELECT pid FROM pg_stat_activity WHERE usename = 'task_api_authenticator'" +
        " AND datname = current_database() AND wait_event_type = 'Lock'");
      if (pid === '') await sleep(100);
    }
    assert.match(pid, /^\d+$/, 'the write waits for the lock');
    assert.equal(await psql(`SELECT pg_terminate_backend(${Number(pid)})`), 't');
    res = await pending;
  } finally {
    holder.stdin.end('ROLLBACK;\n');
    await new Promise((r) => holder.on('close', r));
  }
  // PostgREST reads the terminated connection as lost (503 PGRST001); when
  // the backend's own message gets through, it is the catalogue's
  // unavailable (src/bounds.c).  Either way: 503, Retry-After, retryable.
  assert.equal(res.status, 503, show(res));
  assert.ok(['PGRST001', 'unavailable'].includes(res.body.code), show(res));
  assert.match(res.headers.get('retry-after') ?? '', /^\d+(, \d+)?$/, show(res));
  assert.ok(outcomeUnknown(res));
  assert.equal(await tasksTitled(title), 0, 'the terminated write committed nothing');

  await healthy();
  const retried = await postUntilKnown(title, key);
  assert.equal(retried.status, 201, show(retried));
  assert.equal(retried.headers.get('idempotent-replayed'), null, 'the first definite answer is the write itself');
  const again = await postUntilKnown(title, key);
  assert.equal(again.status, 201, show(again));
  assert.equal(again.headers.get('idempotent-replayed'), 'true', show(again));
  assert.equal(await tasksTitled(title), 1, 'written exactly once');
});

test('under a storm of terminated backends every write retried by the rule lands exactly once', async () => {
  await healthy();
  let stop = false;
  const killer = (async () => {
    while (!stop) {
      await psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = 'task_api_authenticator'" +
        " AND datname = current_database() AND state <> 'idle'");
      await sleep(40);
    }
  })();
  const answers = [];
  const writes = [];
  await Promise.all(Array.from({ length: 4 }, async (_, w) => {
    for (let i = 0; i < 25; i++) {
      const title = `storm ${w}-${i} ${randomUUID()}`;
      const key = randomUUID();
      writes.push({ title, key });
      answers.push(await api('POST', '/tasks', {
        token: user.token, body: { project_id: project.id, title }, headers: { 'Idempotency-Key': key },
      }));
    }
  }));
  stop = true;
  await killer;
  await healthy();

  const kinds = {};
  for (const res of answers) {
    const kind = `${res.status} ${res.body?.code ?? ''}`.trim();
    kinds[kind] = (kinds[kind] ?? 0) + 1;
    // Never a 4xx that would tell the client its request was wrong.
    assert.ok(res.status === 201 || outcomeUnknown(res), `not truthful: ${show(res)}`);
  }
  console.log(`# answers during the storm: ${JSON.stringify(kinds)}`);
  for (const { title, key } of writes) {
    const res = await postUntilKnown(title, key);
    assert.equal(res.status, 201, show(res));
    assert.equal(await tasksTitled(title), 1, `${title} is written exactly once`);
  }
});
