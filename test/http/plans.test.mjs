// PostgREST's statements are planned once per connection, not per request
// (docs/performance.md, "Planning"): task_api_user has plan_cache_mode =
// force_generic_plan, which PostgREST applies from the role's settings.
// Without it PostgreSQL plans a page query with `LIMIT $1` again on every
// request.  Counted with pg_stat_statements (preloaded in the test cluster;
// planning tracked for this file only, restored afterwards).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { api, psql, createTask, projectWithMembers, expectStatus, onCitus } from './lib.mjs';

let created = false;

before(async () => {
  created = (await psql("SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'")) === '0';
  await psql(`CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
              ALTER SYSTEM SET pg_stat_statements.track_planning = on;
              SELECT pg_reload_conf();`);
});

after(async () => {
  await psql(`ALTER SYSTEM RESET pg_stat_statements.track_planning;
              SELECT pg_reload_conf();`);
  if (created) await psql('DROP EXTENSION IF EXISTS pg_stat_statements;');
});

test('a page query through PostgREST is planned once per pooled connection, not on every request', { timeout: 60000 }, async (t) => {
  if (await onCitus()) {
    // docs/scaling.md, "Tests that cannot apply on Citus".
    t.skip('on Citus every request runs with plan_cache_mode = auto: Citus plans a distributed query with its parameters\' values, so a page is planned per request');
    return;
  }
  const { owner, project } = await projectWithMembers();
  await createTask(owner.token, project.id);
  // Enough rows that a generic plan of `LIMIT $1` looks costlier than a
  // custom one: without the setting PostgreSQL then plans every request
  // (61 plans for 60 requests).  Inserted with the row triggers off, so
  // that they add no events for the other tests' consumers to relay.
  await psql(`SET session_replication_role = replica;
              INSERT INTO task_api.tasks (project_id, title, created_by)
              SELECT :'p', 'Task ' || g, :'o' FROM generate_series(1, 3000) g;
              ANALYZE task_api.tasks;`, { p: project.id, o: owner.id });
  // A shape no other test sends, so its statistics are this test's alone.
  const path = '/tasks?select=id,priority&order=id.desc&limit=4';
  const stats = `SELECT coalesce(sum(calls), 0) || ' ' || coalesce(sum(plans), 0) FROM pg_stat_statements
                  WHERE query LIKE 'WITH pgrst_source%' AND query LIKE '%"tasks"."priority"%ORDER BY "api"."tasks"."id" DESC%'`;
  const [calls0, plans0] = (await psql(stats)).split(' ').map(Number);
  const n = 60;
  for (let i = 0; i < n; i++) expectStatus(await api('GET', path, { token: owner.token }), 200);
  const [calls1, plans1] = (await psql(stats)).split(' ').map(Number);
  assert.equal(calls1 - calls0, n, 'every request ran the query once');
  // One plan per connection of the pool (10), plus any a cache invalidation
  // (autovacuum's ANALYZE) forces; a custom plan per request would be 60.
  assert.ok(plans1 - plans0 < n / 2, `planned ${plans1 - plans0} times for ${n} requests`);
});
