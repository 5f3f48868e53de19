-- Bounds on the work of one request (issue 21): the statement and lock
-- timeouts task_api.pre_request() sets for the request's transaction, and
-- the cap on rows one statement inserts through api.projects and api.tasks.
-- What a client sees when a request is cut off (the emit_log_hook's
-- rewrite) is tested through PostgREST: test/security/bounds.test.mjs.
BEGIN;
SELECT plan(16);
\ir helpers/setup.psql

\o /dev/null
SELECT tap.make_user('alice', 'a0000000-0000-4000-8000-00000000000a');
SELECT tap.make_project('P1', tap.id('alice'));
\o

-- Settings ------------------------------------------------------------------------------
SELECT is(current_setting('task_api.statement_timeout'), '5s', 'task_api.statement_timeout defaults to 5 s');
SELECT is(current_setting('task_api.max_bulk_rows'), '1000', 'task_api.max_bulk_rows defaults to 1000');
SELECT set_eq($$SELECT name, context FROM pg_settings WHERE name IN ('task_api.statement_timeout', 'task_api.max_bulk_rows')$$,
              $$VALUES ('task_api.statement_timeout', 'superuser'), ('task_api.max_bulk_rows', 'superuser')$$,
              'both are set by operators (ALTER SYSTEM, ALTER DATABASE), never by the API roles');
SELECT is(tap.err($$SET task_api.statement_timeout = 0$$), 'no error', 'the superuser may change the timeout');
SELECT tap.act_as(tap.id('alice'));
SELECT is(tap.err($$SELECT set_config('task_api.statement_timeout', '0', true)$$), '42501',
          'an API role may not lift its own timeout');
SELECT tap.act_as_admin();

-- pre_request() sets the request's timeouts -------------------------------------------
SET LOCAL statement_timeout = 0;
SET LOCAL lock_timeout = 0;
SET LOCAL task_api.statement_timeout = '3s';
SELECT tap.act_as_anon();
SELECT is(tap.err('SELECT task_api.pre_request()'), 'no error', 'an anonymous request passes');
SELECT is(current_setting('statement_timeout'), '3s', 'pre_request sets statement_timeout for the transaction');
SELECT is(current_setting('lock_timeout'), '1500ms', 'and lock_timeout to half of it');
SELECT tap.act_as_admin();
SET LOCAL statement_timeout = 0;
SET LOCAL lock_timeout = '100ms';
SELECT tap.act_as_anon();
SELECT task_api.pre_request();
SELECT is(current_setting('statement_timeout'), '3s', 'again');
SELECT is(current_setting('lock_timeout'), '100ms', 'a shorter lock_timeout already set is kept');
SELECT tap.act_as_admin();
SET LOCAL statement_timeout = '7s';
SET LOCAL task_api.statement_timeout = 0;
SELECT tap.act_as_anon();
SELECT task_api.pre_request();
SELECT is(current_setting('statement_timeout'), '7s', 'task_api.statement_timeout = 0 leaves statement_timeout alone');
SELECT tap.act_as_admin();
SET LOCAL statement_timeout = 0;
SET LOCAL lock_timeout = 0;

-- Rows per statement ----------------------------------------------------------------------
SET LOCAL task_api.max_bulk_rows = 2;
SELECT tap.act_as(tap.id('alice'));
SELECT is(tap.err(format($$INSERT INTO api.tasks (project_id, title) VALUES (%L, 'a'), (%L, 'b'), (%L, 'c')$$,
                         tap.id('P1'), tap.id('P1'), tap.id('P1'))),
          'payload_too_large 413', 'three rows in one INSERT into api.tasks pass a cap of two: 413');
SELECT is(tap.err(format($$INSERT INTO api.tasks (project_id, title) VALUES (%L, 'a'), (%L, 'b')$$,
                         tap.id('P1'), tap.id('P1'))),
          'no error', 'two rows are within it');
SELECT is(tap.err(format($$INSERT INTO api.tasks (project_id, title) VALUES (%L, 'c'), (%L, 'd')$$,
                         tap.id('P1'), tap.id('P1'))),
          'no error', 'the count is per statement, not per transaction');
SELECT is(tap.err($$INSERT INTO api.projects (name) VALUES ('x1'), ('x2'), ('x3')$$),
          'payload_too_large 413', 'api.projects has the same cap');
SELECT tap.act_as_admin();
SELECT is((SELECT count(*) FROM task_api.tasks WHERE project_id = tap.id('P1') AND title IN ('a', 'b', 'c', 'd'))::int, 4,
          'the refused statements wrote nothing');

SELECT * FROM finish();
ROLLBACK;
