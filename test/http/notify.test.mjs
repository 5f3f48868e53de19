// NOTIFY task_api_events off the writing transaction's commit path
// (src/event_notify.c, docs/events.md "Waking up"): a transaction that
// recorded events sends no NOTIFY itself; after it commits, the database's
// notifier (a background worker) sends one whose payload is the highest
// event id among the transactions that committed since its previous one.
// A LISTENer is woken only for committed events, only once they are
// visible, and never by the writing backend.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createTask, projectWithMembers, psql } from './lib.mjs';

const e = process.env;
const clients = [];

after(async () => {
  for (const c of clients) await c.end().catch(() => {});
});

// A LISTENer on task_api_events in database db; notifications collect in .seen.
async function listener(db = e.TASK_API_PGDATABASE) {
  const client = new pg.Client({ host: e.TASK_API_PGHOST, port: Number(e.TASK_API_PGPORT), user: 'postgres', database: db });
  clients.push(client);
  await client.connect();
  client.seen = [];
  client.waiters = [];
  client.on('notification', (n) => {
    if (n.channel !== 'task_api_events') return;
    client.seen.push(n);
    for (const w of client.waiters) w();
  });
  await client.query('LISTEN task_api_events');
  return client;
}

// The first notification (from index from on) whose payload satisfies pred.
async function notification(client, pred, from = 0, ms = 30000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = client.seen.slice(from).find((n) => pred(Number(n.payload)));
    if (found) return found;
    if (Date.now() > deadline) assert.fail(`no notification: saw ${JSON.stringify(client.seen.map((n) => n.payload))}`);
    await new Promise((resolve) => {
      const t = setTimeout(resolve, 200);
      client.waiters.push(() => { clearTimeout(t); resolve(); });
    });
  }
}

async function until(what, predicate, ms = 30000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await predicate()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('a committed write wakes a LISTENer through the notifier, with its event visible', { timeout: 60000 }, async () => {
  const l = await listener();
  // Every payload received is an event that is visible once the notification arrives.
  const checked = [];
  const { owner, project } = await projectWithMembers();
  const task = await createTask(owner.token, project.id);
  const id = Number(await psql(`SELECT id FROM task_api.events WHERE resource_id = :'t' AND action = 'created'`, { t: task.id }));
  const n = await notification(l, (p) => p >= id);
  // Sent by the notifier, not by the backend that wrote the event.
  const type = await psql('SELECT backend_type FROM pg_stat_activity WHERE pid = :p', { p: n.processId });
  assert.equal(type, 'task_api notifier', `notification sent by pid ${n.processId}`);
  for (const seen of l.seen) {
    checked.push(seen.payload);
    assert.equal(await psql('SELECT count(*) FROM task_api.events WHERE id = :p', { p: Number(seen.payload) }), '1',
      `event ${seen.payload} of a notification is visible`);
  }
  assert.ok(checked.length > 0);
});

test('in a database of its own: one NOTIFY per commit carrying the highest id, none for a rollback', { timeout: 90000 }, async () => {
  const db = `task_api_notify_${randomUUID().slice(0, 8)}`;
  await psql(`CREATE DATABASE ${db};`);
  const sql = (text) => {
    const c = new pg.Client({ host: e.TASK_API_PGHOST, port: Number(e.TASK_API_PGPORT), user: 'postgres', database: db });
    return c.connect().then(() => c.query(text)).finally(() => c.end());
  };
  try {
    await sql('CREATE EXTENSION task_api');
    const l = await listener(db);
    const writer = new pg.Client({ host: e.TASK_API_PGHOST, port: Number(e.TASK_API_PGPORT), user: 'postgres', database: db });
    clients.push(writer);
    await writer.connect();
    const writerPid = (await writer.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    const users = `INSERT INTO task_api.users (email, display_name) VALUES ('a-${randomUUID()}@example.com', 'A') RETURNING id`;
    const project = (uid) => `INSERT INTO task_api.projects (name, owner_id) VALUES ('P', '${uid}')`;

    // Rolled back: its events never commit, so no notification may carry them.
    await writer.query('BEGIN');
    const u0 = (await writer.query(users)).rows[0].id;
    await writer.query(project(u0));
    const rolledBack = Number((await writer.query('SELECT max(id) AS m FROM task_api.events')).rows[0].m);
    await writer.query('ROLLBACK');

    // Committed: one transaction, several events (the user has none; the
    // project and its owner's membership have one each).
    await writer.query('BEGIN');
    const u1 = (await writer.query(users)).rows[0].id;
    await writer.query(project(u1));
    const ids = (await writer.query('SELECT array_agg(id ORDER BY id) AS ids FROM task_api.events')).rows[0].ids.map(Number);
    await writer.query('COMMIT');
    assert.ok(ids.length >= 2, `events of the transaction: ${ids}`);
    assert.ok(ids.every((id) => id > rolledBack), 'ids drawn after the rolled-back ones');

    const n = await notification(l, (p) => p >= ids[ids.length - 1]);
    assert.equal((await l.query('SELECT backend_type FROM pg_stat_activity WHERE pid = $1', [n.processId])).rows[0]?.backend_type,
      'task_api notifier');
    // Nothing but this database's one committed transaction: a single
    // notification, for its highest id (not one per event), from the notifier.
    assert.deepEqual(l.seen.map((s) => Number(s.payload)), [ids[ids.length - 1]]);
    assert.notEqual(n.processId, writerPid, 'the writing backend sent no NOTIFY');
    await writer.end();
    await l.end();
    // An idle notifier leaves, so it never holds up DROP DATABASE for long.
    await until('the idle notifier to exit', async () =>
      (await psql(`SELECT count(*) FROM pg_stat_activity WHERE datname = :'d' AND backend_type = 'task_api notifier'`, { d: db })) === '0');
  } finally {
    await psql(`DROP DATABASE IF EXISTS ${db} WITH (FORCE);`);
  }
});

test('the launcher runs on the primary', async () => {
  assert.equal(await psql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'task_api notify launcher'"), '1');
});
