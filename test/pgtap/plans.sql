-- Query plans of GET /tasks (docs/performance.md, "Query plans"): ordered by
-- created_at over all the caller's projects, the page is read in index order
-- and the scan stops after it (no sort of every visible task); the caller's
-- projects are resolved once per statement (an InitPlan), not per row; and
-- RLS still decides which rows come back.
BEGIN;
SELECT plan(12);
\ir helpers/setup.psql

-- Fixtures: alice owns P1..P6; carol is a viewer of P1..P3.  1,200 tasks, one
-- project after the other, so half of any run of them is carol's.
\o /dev/null
SELECT tap.make_user('alice', 'a0000000-0000-4000-8000-00000000000a');
SELECT tap.make_user('carol', 'c0000000-0000-4000-8000-00000000000c');
SELECT tap.make_project('P' || i, tap.id('alice')) FROM generate_series(1, 6) i;
SELECT tap.make_member(tap.id('P' || i), tap.id('carol'), 'viewer') FROM generate_series(1, 3) i;
INSERT INTO task_api.tasks (project_id, title, created_by)
SELECT tap.id('P' || (1 + g % 6)), 'Task ' || g, tap.id('alice') FROM generate_series(1, 1200) g ORDER BY g;
ANALYZE task_api.tasks;
\o

-- The plan of a statement, as task_api_user runs it.
CREATE FUNCTION tap.plan_of(stmt text, analyze_ boolean DEFAULT false) RETURNS jsonb
    LANGUAGE plpgsql AS $$
DECLARE
    j jsonb;
BEGIN
    EXECUTE format('EXPLAIN (FORMAT JSON, COSTS OFF, ANALYZE %s, TIMING OFF, SUMMARY OFF) %s', CASE WHEN analyze_ THEN 'true' ELSE 'false' END, stmt) INTO j;
    RETURN j;
END
$$;
CREATE FUNCTION tap.uses_index(p jsonb, idx text) RETURNS boolean
    LANGUAGE sql RETURN jsonb_path_exists(p, 'strict $.** ? (@."Index Name" == $i)', jsonb_build_object('i', idx));
CREATE FUNCTION tap.has_node(p jsonb, node text) RETURNS boolean
    LANGUAGE sql RETURN jsonb_path_exists(p, 'strict $.** ? (@."Node Type" == $n)', jsonb_build_object('n', node));

SELECT tap.act_as(tap.id('carol'));

SELECT ok(tap.uses_index(tap.plan_of('SELECT * FROM api.tasks ORDER BY created_at DESC LIMIT 25'), 'tasks_live_created_idx')
          AND NOT tap.has_node(tap.plan_of('SELECT * FROM api.tasks ORDER BY created_at DESC LIMIT 25'), 'Sort'),
          'order=created_at.desc&limit=25 over every project of the caller: an index scan in that order, no sort');
SELECT ok(tap.uses_index(tap.plan_of('SELECT * FROM api.tasks ORDER BY created_at LIMIT 25'), 'tasks_live_created_idx')
          AND NOT tap.has_node(tap.plan_of('SELECT * FROM api.tasks ORDER BY created_at LIMIT 25'), 'Sort'),
          'order=created_at.asc&limit=25: the same index, read backwards');

-- What the scan read, with ANALYZE: the page and the other projects' rows
-- between its rows, not the 1,200 tasks.
SELECT tap.plan_of('SELECT * FROM api.tasks ORDER BY created_at DESC LIMIT 25', true) AS p \gset analyzed_
SELECT is((SELECT (n ->> 'Actual Rows')::int FROM jsonb_path_query(:'analyzed_p'::jsonb,
              'strict $.** ? (@."Index Name" == "tasks_live_created_idx")') n), 25,
          'the index scan returns the 25 rows of the page');
SELECT cmp_ok((SELECT coalesce((n ->> 'Rows Removed by Filter')::int, 0) FROM jsonb_path_query(:'analyzed_p'::jsonb,
                  'strict $.** ? (@."Index Name" == "tasks_live_created_idx")') n), '<=', 50,
              'it reads past at most the other projects'' tasks between them (not every task)');
SELECT is((SELECT (n ->> 'Actual Loops')::int FROM jsonb_path_query(:'analyzed_p'::jsonb,
              'strict $.** ? (@."Subplan Name" like_regex "^InitPlan")') n), 1,
          'the caller''s projects are resolved once per statement (an InitPlan run once), not per row');
SELECT ok(jsonb_path_exists(:'analyzed_p'::jsonb, 'strict $.** ? (@."Filter" like_regex "project_id = ANY \\(\\$0\\)")'),
          'the RLS filter compares each row with that one result');

-- PostgREST's statements are prepared (LIMIT $1 OFFSET $2) and task_api_user
-- plans them once (plan_cache_mode = force_generic_plan, applied by
-- PostgREST from the role's settings): the generic plan of the page still
-- reads the index in order, without a sort.
SELECT is((SELECT setconfig FROM pg_catalog.pg_db_role_setting
            WHERE setrole = 'task_api_user'::regrole AND setdatabase = 0),
          ARRAY['plan_cache_mode=force_generic_plan'],
          'task_api_user''s statements use generic plans (a role setting PostgREST applies)');
SET plan_cache_mode = force_generic_plan;
PREPARE page(bigint, bigint) AS SELECT * FROM api.tasks ORDER BY created_at DESC LIMIT $1 OFFSET $2;
SELECT ok(tap.uses_index(tap.plan_of('EXECUTE page(25, 0)'), 'tasks_live_created_idx')
          AND NOT tap.has_node(tap.plan_of('EXECUTE page(25, 0)'), 'Sort'),
          'the generic plan of order=created_at.desc&limit=25: the index in that order, no sort');
SELECT ok(jsonb_path_exists(tap.plan_of('EXECUTE page(25, 0)'), 'strict $.** ? (@."Subplan Name" like_regex "^InitPlan")'),
          'and the caller''s projects resolved once (an InitPlan)');
DEALLOCATE page;
RESET plan_cache_mode;

-- The rows: exactly what RLS allows, in the order asked for.
SELECT array_agg(id) AS got FROM (SELECT id FROM api.tasks ORDER BY created_at DESC, id DESC LIMIT 25) s \gset
SELECT array_agg(id) AS unordered FROM (SELECT id FROM api.tasks LIMIT 25) s \gset
SELECT tap.act_as_admin();
SELECT is(:'got'::uuid[],
          (SELECT array_agg(id) FROM (SELECT t.id FROM task_api.tasks t
                                        JOIN task_api.project_members m ON m.project_id = t.project_id
                                       WHERE m.user_id = tap.id('carol') AND t.deleted_at IS NULL
                                       ORDER BY t.created_at DESC, t.id DESC LIMIT 25) s),
          'the page is carol''s 25 newest tasks, as RLS and the order say');
SELECT is((SELECT count(*) FROM task_api.tasks t WHERE t.id = ANY (:'unordered'::uuid[])
              AND t.project_id NOT IN (SELECT project_id FROM task_api.project_members WHERE user_id = tap.id('carol'))),
          0::bigint, 'an unordered page holds only tasks of carol''s projects');
SELECT is(cardinality(:'unordered'::uuid[]), 25, 'and is full');

SELECT * FROM finish();
ROLLBACK;
