-- Backups (docs/operations.md, "Backup and restore"): every table and
-- sequence with state is marked for pg_dump, and rows loaded the way
-- pg_restore loads them (a superuser with row_security off) keep exactly the
-- values they were dumped with.  test/backup/ restores real dumps.
BEGIN;
SELECT plan(16);
\ir helpers/setup.psql

SELECT is_empty($$
    SELECT c.oid::regclass::text FROM pg_class c
     WHERE c.relnamespace = 'task_api'::regnamespace AND c.relkind IN ('r', 'p', 'S')
       AND c.oid <> ALL ((SELECT extconfig FROM pg_extension WHERE extname = 'task_api')::oid[])$$,
    'every table and sequence of schema task_api is marked with pg_extension_config_dump');
SELECT is((SELECT count(*)::int FROM pg_extension e, unnest(e.extcondition) c WHERE e.extname = 'task_api' AND c <> ''),
          0, 'pg_dump carries all their rows (no WHERE condition)');

\o /dev/null
SELECT tap.make_user('alice', 'a0000000-0000-4000-8000-00000000000a');
\o
SELECT is(task_api.restoring(), false, 'an ordinary session is not restoring');

-- Load rows as pg_restore does.
SET LOCAL row_security = off;
SELECT is(task_api.restoring(), true, 'a superuser session with row_security off is restoring');
CREATE TEMP TABLE events_before AS SELECT max(id) AS id FROM task_api.events;
INSERT INTO task_api.projects (id, name, owner_id, created_at, updated_at, version)
VALUES ('b0000000-0000-7000-8000-000000000001', 'Dumped', tap.id('alice'),
        '2020-01-01', '2020-01-02', 7);
INSERT INTO task_api.tasks (id, project_id, title, status, created_by, created_at, updated_at, completed_at, version)
VALUES ('b0000000-0000-7000-8000-000000000002', 'b0000000-0000-7000-8000-000000000001', 'Done long ago', 'done',
        tap.id('alice'), '2020-01-01', '2020-01-03', NULL, 4);
SELECT is((SELECT (version, updated_at) FROM task_api.projects WHERE name = 'Dumped'),
          (7, '2020-01-02'::timestamptz), 'a restored project keeps its version and updated_at');
SELECT is((SELECT (version, updated_at, completed_at) FROM task_api.tasks WHERE title = 'Done long ago'),
          (4, '2020-01-03'::timestamptz, NULL::timestamptz), 'a restored task keeps version, updated_at and completed_at as dumped');
SELECT is_empty($$SELECT 1 FROM task_api.project_members WHERE project_id = 'b0000000-0000-7000-8000-000000000001'$$,
                'restoring a project adds no owner membership (the dumped memberships follow)');
INSERT INTO task_api.project_members (project_id, user_id, role)
VALUES ('b0000000-0000-7000-8000-000000000001', tap.id('alice'), 'owner');
UPDATE task_api.tasks SET title = 'Renamed while restoring' WHERE id = 'b0000000-0000-7000-8000-000000000002';
SELECT is((SELECT version FROM task_api.tasks WHERE id = 'b0000000-0000-7000-8000-000000000002'), 4,
          'an update while restoring does not bump the version');
SELECT is((SELECT count(*)::int FROM task_api.events WHERE id > coalesce((SELECT id FROM events_before), 0)), 0,
          'restoring records no event');
SELECT is((SELECT count(*)::int FROM task_api.project_members WHERE project_id = 'b0000000-0000-7000-8000-000000000001'), 1,
          'the dumped owner membership loads without a duplicate');

-- A session user that is no superuser is never restoring, row_security or not.
GRANT USAGE ON SCHEMA task_api TO task_api_authenticator;
GRANT EXECUTE ON FUNCTION task_api.restoring() TO task_api_authenticator;
SET SESSION AUTHORIZATION task_api_authenticator;
SET LOCAL row_security = off;
SELECT is(task_api.restoring(), false, 'row_security off in a session that is not a superuser''s is no restore');
RESET SESSION AUTHORIZATION;

-- row_security on again: the bookkeeping is back.
SET LOCAL row_security = on;
SELECT is(task_api.restoring(), false, 'row_security on: not restoring');
UPDATE task_api.tasks SET title = 'Renamed after the restore' WHERE id = 'b0000000-0000-7000-8000-000000000002';
SELECT is((SELECT version FROM task_api.tasks WHERE id = 'b0000000-0000-7000-8000-000000000002'), 5,
          'after the restore an update bumps the version');
SELECT is((SELECT count(*)::int FROM task_api.events WHERE id > coalesce((SELECT id FROM events_before), 0)), 1,
          'after the restore an update records its event');
INSERT INTO task_api.projects (name, owner_id) VALUES ('Made after', tap.id('alice'));
SELECT is((SELECT role::text FROM task_api.project_members m JOIN task_api.projects p ON p.id = m.project_id
            WHERE p.name = 'Made after'), 'owner', 'after the restore a new project gets its owner membership');
SELECT is((SELECT version FROM task_api.projects WHERE name = 'Made after'), 1, 'after the restore a new project starts at version 1');

SELECT * FROM finish();
ROLLBACK;
