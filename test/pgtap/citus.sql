-- Citus (docs/scaling.md): task_api.distribute() without Citus refuses
-- with citus_not_installed and changes nothing; only a superuser may call
-- it.  Distributing itself runs in make test-citus (scripts/test-citus.sh).
BEGIN;
SELECT plan(29);
\ir helpers/setup.psql

SELECT has_function('task_api', 'distribute', ARRAY[]::text[], 'task_api.distribute() exists');
SELECT is_empty($$SELECT r.rolname FROM pg_roles r
                   WHERE has_function_privilege(r.oid, 'task_api.distribute()', 'EXECUTE') AND NOT r.rolsuper$$,
                'no role but superusers may execute distribute()');

CREATE TEMP TABLE keys_before AS
    SELECT conrelid::regclass::text AS rel, conname, pg_get_constraintdef(oid) AS def
      FROM pg_constraint WHERE connamespace = 'task_api'::regnamespace;
SELECT is(tap.err('SELECT task_api.distribute()'), 'citus_not_installed 409',
          'without the citus extension: citus_not_installed (409)');
SELECT matches((tap.error_of('SELECT task_api.distribute()')) ->> 'hint', 'CREATE EXTENSION citus',
               'the refusal says how to install Citus');
SELECT set_eq($$SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
                  FROM pg_constraint WHERE connamespace = 'task_api'::regnamespace$$,
              $$SELECT * FROM keys_before$$,
              'a refused distribute() leaves every key as installed');
SELECT ok(EXISTS (SELECT FROM pg_indexes WHERE schemaname = 'task_api' AND indexname = 'projects_owner_name_key'),
          'and the unique project names per owner');

-- citus_pre_request() plans the request afresh for its parameters: Citus
-- cannot plan a distributed query with unknown ones, and task_api_user's
-- force_generic_plan (which PostgREST sets per request) would ask for that.
SET LOCAL plan_cache_mode = force_generic_plan;
SELECT task_api.citus_pre_request();
SELECT is(current_setting('plan_cache_mode'), 'auto', 'citus_pre_request() sets plan_cache_mode = auto for the transaction');

-- citus_view_rows(): what an UPDATE or DELETE through an API view reads on
-- Citus (src/citus_views.c): one read-only query, its parameters as text,
-- as the caller.  Granted to nobody until distribute().
SELECT is_empty($$SELECT r.rolname FROM pg_roles r
                   WHERE has_function_privilege(r.oid, 'task_api.citus_view_rows(text, text[])', 'EXECUTE') AND NOT r.rolsuper$$,
                'no role but superusers may execute citus_view_rows() before distribute()');
SELECT results_eq($$SELECT * FROM task_api.citus_view_rows('SELECT $1::int + 1, $2, $3::uuid', ARRAY['41', NULL, 'a0000000-0000-4000-8000-0000000000bb'])
                        AS r(a int, b text, c uuid)$$,
                  $$VALUES (42, NULL::text, 'a0000000-0000-4000-8000-0000000000bb'::uuid)$$,
                  'citus_view_rows() runs its query with the parameters as values');
SELECT is(tap.err($$SELECT * FROM task_api.citus_view_rows('DELETE FROM task_api.tasks RETURNING 1', '{}') AS r(a int)$$),
          '0A000', 'citus_view_rows() refuses a query that writes');
SELECT is(tap.err($$SELECT * FROM task_api.citus_view_rows('SELECT 1, 2', '{}') AS r(a int)$$),
          '42804', 'citus_view_rows() refuses rows of another shape than the call''s');
-- Without Citus preloaded, no planner hook: an UPDATE through a view reads the view.
CREATE TEMP TABLE plan_lines (line text);
DO $$
DECLARE
    l text;
BEGIN
    FOR l IN EXPLAIN (VERBOSE, COSTS OFF) UPDATE api.tasks SET title = 'x' WHERE id = 'a0000000-0000-4000-8000-0000000000bb' LOOP
        INSERT INTO plan_lines VALUES (l);
    END LOOP;
END
$$;
SELECT is((SELECT count(*) FROM plan_lines WHERE line LIKE '%citus_view_rows%'), 0::bigint,
          'without Citus an UPDATE through api.tasks does not go through citus_view_rows()');

SELECT tap.make_user('bob', 'a0000000-0000-4000-8000-00000000000b') \gset
SELECT tap.make_user('carol', 'a0000000-0000-4000-8000-00000000000c') \gset
SELECT tap.make_project('bobs', tap.id('bob')) \gset
SELECT tap.make_task('bobs task', tap.id('bobs'), tap.id('bob')) \gset
GRANT EXECUTE ON FUNCTION task_api.citus_view_rows(text, text[]) TO task_api_user;
SELECT tap.act_as(tap.id('bob')) \gset
SELECT results_eq($$SELECT r.title FROM task_api.citus_view_rows('SELECT t.title FROM api.tasks t WHERE t.id = $1::uuid',
                                                                 ARRAY[tap.id('bobs task')::text]) AS r(title text)$$,
                  $$VALUES ('bobs task')$$,
                  'as a member: the task''s row');
SELECT tap.act_as(tap.id('carol')) \gset
SELECT is_empty($$SELECT r.title FROM task_api.citus_view_rows('SELECT t.title FROM api.tasks t WHERE t.id = $1::uuid',
                                                               ARRAY[tap.id('bobs task')::text]) AS r(title text)$$,
                'as another user: row-level security applies, no row');
SELECT is(tap.err($$SELECT * FROM task_api.citus_view_rows('UPDATE task_api.tasks SET title = ''x'' RETURNING 1', '{}') AS r(a int)$$),
          '0A000', 'nor can the caller write through it');
SELECT tap.act_as_admin() \gset

-- The rows' stamps: on a server without Citus preloaded, task_api_citus.now
-- (the coordinator's now() that citus_resolve_caller() sends the workers)
-- is ignored: nobody backdates a row by setting it.
SET LOCAL task_api_citus.now = '0';
SELECT tap.make_task('stamped', tap.id('bobs'), tap.id('bob')) \gset
SELECT is((SELECT updated_at FROM task_api.tasks WHERE id = tap.id('stamped')), now(),
          'without Citus, an insert''s updated_at is the transaction''s start, whatever task_api_citus.now says');
UPDATE task_api.tasks SET title = 'stamped again' WHERE id = tap.id('stamped');
SELECT is((SELECT updated_at FROM task_api.tasks WHERE id = tap.id('stamped')), now(),
          'and so is an update''s');
RESET task_api_citus.now;

-- citus_project_role(): project_role() on Citus (distribute_reads() points
-- it there), from what citus_pre_request() resolved; granted to nobody
-- until distribute().
SELECT is_empty($$SELECT r.rolname FROM pg_roles r
                   WHERE has_function_privilege(r.oid, 'task_api.citus_project_role(uuid)', 'EXECUTE') AND NOT r.rolsuper$$,
                'no role but superusers may execute citus_project_role() before distribute()');
SET LOCAL task_api_citus.caller = '{"projects": {"a0000000-0000-4000-8000-000000000001": "editor", "a0000000-0000-4000-8000-000000000002": "owner"}, "peers": [], "trashed": ["a0000000-0000-4000-8000-000000000002"]}';
SELECT is(task_api.citus_project_role('a0000000-0000-4000-8000-000000000001'), 'editor'::task_api.member_role,
          'citus_project_role(): the resolved role in a live project');
SELECT is(task_api.citus_project_role('a0000000-0000-4000-8000-000000000002'), NULL,
          'citus_project_role(): NULL for a project in the trash, as project_role()');
SELECT is(task_api.citus_project_role('a0000000-0000-4000-8000-000000000003'), NULL,
          'citus_project_role(): NULL where the caller is no member');
SET LOCAL task_api_citus.caller = '';
SELECT is(task_api.citus_project_role('a0000000-0000-4000-8000-000000000001'), NULL,
          'citus_project_role(): NULL outside a request that citus_pre_request() resolved');

-- The owner hand-off on Citus (citus_keep_owner(), a trigger distribute()
-- adds to api.project_members): nothing of it on one server.
SELECT is_empty($$SELECT r.rolname FROM pg_roles r
                   WHERE has_function_privilege(r.oid, 'task_api.citus_keep_owner()', 'EXECUTE') AND NOT r.rolsuper$$,
                'no role but superusers may execute citus_keep_owner() before distribute()');
SELECT is_empty($$SELECT tgname FROM pg_trigger WHERE tgname LIKE '%citus_keep_owner%'$$,
                'and no trigger calls it before distribute()');

-- The leaver's assignments and a key's revoke on Citus (citus_unassign()
-- and citus_api_keys_delete(), triggers distribute() puts on the views, and
-- the policy tasks_update_unassign): nothing of them on one server.
SELECT is_empty($$SELECT p.oid::regprocedure::text FROM pg_proc p CROSS JOIN pg_roles r
                   WHERE p.oid IN ('task_api.citus_unassign()'::regprocedure, 'task_api.citus_api_keys_delete()'::regprocedure)
                     AND has_function_privilege(r.oid, p.oid, 'EXECUTE') AND NOT r.rolsuper$$,
                'no role but superusers may execute citus_unassign() or citus_api_keys_delete() before distribute()');
SELECT is_empty($$SELECT tgname FROM pg_trigger
                   WHERE tgfoid IN ('task_api.citus_unassign'::regproc, 'task_api.citus_api_keys_delete'::regproc)$$,
                'and no trigger calls them before distribute()');
SELECT is_empty($$SELECT polname FROM pg_policy WHERE polname = 'tasks_update_unassign'$$,
                'and no policy admits the unassigning update');

-- The C checks of a task (POST /tasks, task_problems()) take the caller's
-- roles from what citus_pre_request() resolved only on Citus: on one server
-- a task_api_citus.caller that names a project is ignored.
SELECT set_config('task_api_citus.caller',
                  jsonb_build_object('projects', jsonb_build_object(tap.id('bobs'), 'owner'), 'peers', '[]'::jsonb,
                                     'trashed', '[]'::jsonb, 'email', 'carol@example.com')::text, true);
SELECT tap.act_as(tap.id('carol')) \gset
SELECT is(tap.err(format($$INSERT INTO api.tasks (project_id, title) VALUES (%L, 'x')$$, tap.id('bobs'))),
          'validation_failed 422',
          'without Citus, a task in a project the caller is no member of is refused, whatever task_api_citus.caller says');
SELECT tap.act_as_admin() \gset
SET LOCAL task_api_citus.caller = '';

-- A non-superuser is refused by the grant before anything runs.
SELECT tap.act_as(tap.make_user('alice', 'a0000000-0000-4000-8000-00000000000a')) \gset
SELECT is(tap.err('SELECT task_api.distribute()'), '42501', 'task_api_user cannot execute distribute()');

SELECT * FROM finish();
ROLLBACK;
