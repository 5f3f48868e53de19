-- Citus, the read path (docs/scaling.md, "Queries Citus cannot plan"): the
-- forms distribute() points the API at give, on one server, exactly what
-- the single-server functions and views give (the HTTP suite checks them on
-- Citus, scripts/test-citus.sh); distribute_reads() keeps every name,
-- column and grant.  Everything here is rolled back.
BEGIN;
SELECT plan(35);
\ir helpers/setup.psql

-- Fixtures: P (alice owner, carol viewer) and Q (alice) with tasks of every
-- kind of key (ties, no due date, trashed ones); dave owns R.
\o /dev/null
SELECT tap.make_user('alice', 'a0000000-0000-4000-8000-00000000000a');
SELECT tap.make_user('carol', 'c0000000-0000-4000-8000-00000000000c');
SELECT tap.make_user('dave', 'd0000000-0000-4000-8000-00000000000d');
SELECT tap.make_project('P', tap.id('alice'));
SELECT tap.make_member(tap.id('P'), tap.id('carol'), 'viewer');
SELECT tap.make_project('Q', tap.id('alice'));
SELECT tap.make_project('R', tap.id('dave'));
INSERT INTO task_api.tasks (project_id, title, description, status, priority, due_date, created_by, created_at, assignee_id)
SELECT CASE WHEN i % 3 = 0 THEN tap.id('Q') ELSE tap.id('P') END,
       'task ' || i || CASE WHEN i % 4 = 0 THEN ' rocket' ELSE '' END, CASE WHEN i % 5 = 0 THEN 'rocket fuel' END,
       (ARRAY['todo', 'in_progress', 'blocked', 'done', 'cancelled']::task_api.task_status[])[1 + i % 5],
       i % 5, CASE WHEN i % 3 <> 1 THEN date '2026-03-01' + (i * 7) % 11 END, tap.id('alice'),
       timestamptz '2026-01-01 00:00:00+00' + (i / 3) * interval '1 minute',
       CASE WHEN i % 2 = 0 THEN tap.id('alice') END
  FROM generate_series(1, 26) i;
INSERT INTO task_api.tasks (project_id, title, created_by) SELECT tap.id('R'), 'secret rocket ' || i, tap.id('dave') FROM generate_series(1, 3) i;
UPDATE task_api.tasks SET deleted_at = now() WHERE title IN ('task 5', 'task 9');
INSERT INTO task_api.invitations (project_id, email, role, invited_by) VALUES (tap.id('Q'), 'CAROL@example.com', 'viewer', tap.id('alice'));
INSERT INTO task_api.event_consumers (name, acked_id) SELECT 'behind', 0 UNION ALL SELECT 'caught up', max(id) FROM task_api.events;
\o

-- Every page of a walk (page_size size) through fn, concatenated: fn is
-- api.tasks_page or its Citus form (the same arguments in the same order).
CREATE FUNCTION tap.walk(fn text, project uuid, q text, sort text, dir text, size integer) RETURNS jsonb
    LANGUAGE plpgsql AS $$
DECLARE
    page json;
    cur text;
    rows_ jsonb := '[]';
BEGIN
    FOR i IN 1 .. 100 LOOP
        EXECUTE format('SELECT %s($1, NULL, NULL, $2, $3, $4, $5, $6)', fn) INTO page USING project, q, sort, dir, size, cur;
        rows_ := rows_ || (page -> 'data')::jsonb;
        cur := page ->> 'next_cursor';
        EXIT WHEN cur IS NULL;
    END LOOP;
    RETURN rows_;
END
$$;
CREATE FUNCTION tap.event_walk(fn text, project uuid, kind text, dir text, size integer) RETURNS jsonb
    LANGUAGE plpgsql AS $$
DECLARE
    page json;
    cur text;
    rows_ jsonb := '[]';
BEGIN
    FOR i IN 1 .. 100 LOOP
        EXECUTE format('SELECT %s($1, $2, $3, $4, $5)', fn) INTO page USING project, kind, dir, size, cur;
        rows_ := rows_ || (page -> 'data')::jsonb;
        cur := page ->> 'next_cursor';
        EXIT WHEN cur IS NULL;
    END LOOP;
    RETURN rows_;
END
$$;
GRANT USAGE ON SCHEMA tap TO task_api_user;

SELECT is_empty($$SELECT p.oid::regprocedure FROM pg_proc p
                   WHERE p.pronamespace = 'task_api'::regnamespace
                     AND (p.proname LIKE 'citus\_%' OR p.proname = 'distribute_reads')
                     AND (has_function_privilege('task_api_user', p.oid, 'EXECUTE')
                          OR has_function_privilege('task_api_anon', p.oid, 'EXECUTE'))$$,
                'before distribute(), the API roles may execute none of the Citus forms');
-- What distribute_reads() grants, to call them as the caller here.
GRANT EXECUTE ON FUNCTION task_api.citus_tasks_page(uuid, task_api.task_status, uuid, text, text, text, integer, text),
    task_api.citus_task_events_page(uuid, text, text, integer, text), task_api.citus_search_tasks(uuid[], text)
    TO task_api_user;

-- tasks_page ---------------------------------------------------------------------
SELECT tap.act_as(tap.id('alice'));
SELECT is(tap.walk('task_api.citus_tasks_page', NULL, NULL, s.sort, d.dir, 4),
          tap.walk('api.tasks_page', NULL, NULL, s.sort, d.dir, 4),
          format('citus_tasks_page() walks every project of the caller as tasks_page() does: sort=%s direction=%s', s.sort, d.dir))
  FROM unnest(ARRAY['created_at', 'updated_at', 'due_date', 'priority']) s(sort), unnest(ARRAY['asc', 'desc']) d(dir);
SELECT is(jsonb_array_length(tap.walk('task_api.citus_tasks_page', NULL, NULL, 'due_date', 'desc', 5)), 24,
          'the walks hold every live task of the caller''s projects once (24 of 26, none of dave''s)');
SELECT is(tap.walk('task_api.citus_tasks_page', tap.id('P'), 'rocket', 'due_date', 'asc', 2),
          tap.walk('api.tasks_page', tap.id('P'), 'rocket', 'due_date', 'asc', 2),
          'with a project and q: the same walk');
SELECT is(task_api.citus_tasks_page(NULL, 'done', tap.id('alice'), 'rocket', 'priority', 'asc', 3, NULL)::jsonb,
          api.tasks_page(NULL, 'done', tap.id('alice'), 'rocket', 'priority', 'asc', 3, NULL)::jsonb,
          'with status, assignee_id and q: the same page and cursor');
SELECT is(task_api.citus_tasks_page(NULL, NULL, NULL, NULL, 'due_date', 'desc', 5,
              api.tasks_page(NULL, NULL, NULL, NULL, 'due_date', 'desc', 5, NULL) ->> 'next_cursor')::jsonb,
          api.tasks_page(NULL, NULL, NULL, NULL, 'due_date', 'desc', 5,
              api.tasks_page(NULL, NULL, NULL, NULL, 'due_date', 'desc', 5, NULL) ->> 'next_cursor')::jsonb,
          'a cursor of tasks_page() resumes in citus_tasks_page() at the same place');
SELECT is(tap.err($$SELECT task_api.citus_tasks_page(NULL, NULL, NULL, NULL, 'created_at', 'desc', 5, 'junk')$$),
          'invalid_cursor 400', 'citus_tasks_page(): a bad cursor is invalid_cursor');
SELECT is(tap.err(format('SELECT task_api.citus_tasks_page(NULL, NULL, NULL, NULL, %L, %L, 5, %L)', 'created_at', 'asc',
                         api.tasks_page(NULL, NULL, NULL, NULL, 'created_at', 'desc', 1, NULL) ->> 'next_cursor')),
          'cursor_mismatch 400', 'citus_tasks_page(): a cursor of another direction is cursor_mismatch');
SELECT is(tap.err($$SELECT task_api.citus_tasks_page(NULL, NULL, NULL, repeat('a ', 1001), 'created_at', 'desc', 5, NULL)$$),
          'invalid_parameter 400', 'citus_tasks_page(): a q too complex is invalid_parameter');
SELECT is(tap.walk('task_api.citus_tasks_page', tap.id('R'), NULL, 'created_at', 'desc', 5), '[]'::jsonb,
          'citus_tasks_page() with another user''s project: nothing');

-- citus_search_tasks(): search_tasks()'s answers, crafted arrays included.
SELECT tap.act_as(tap.id('carol'));
SELECT set_eq($$SELECT * FROM task_api.citus_search_tasks(ARRAY[tap.id('P'), tap.id('Q'), tap.id('R')], 'rocket')$$,
              $$SELECT * FROM task_api.search_tasks(ARRAY[tap.id('P'), tap.id('Q'), tap.id('R')], 'rocket')$$,
              'citus_search_tasks() gives a viewer of P P''s matches only, as search_tasks()');
SELECT tap.act_as(tap.id('dave'));
SELECT is((SELECT count(*) FROM task_api.citus_search_tasks(ARRAY[tap.id('P'), tap.id('R')], 'rocket')), 3::bigint,
          'citus_search_tasks() gives dave his own matches, none of P''s');

-- task_events_page ---------------------------------------------------------------
SELECT tap.act_as(tap.id('alice'));
SELECT is(tap.event_walk('task_api.citus_task_events_page', NULL, NULL, d.dir, 7),
          tap.event_walk('api.task_events_page', NULL, NULL, d.dir, 7),
          format('citus_task_events_page() walks the feed as task_events_page() does: direction=%s', d.dir))
  FROM unnest(ARRAY['asc', 'desc']) d(dir);
SELECT is(tap.event_walk('task_api.citus_task_events_page', tap.id('P'), 'task', 'desc', 4),
          tap.event_walk('api.task_events_page', tap.id('P'), 'task', 'desc', 4),
          'with a project and a resource type: the same walk');
SELECT is(tap.err($$SELECT task_api.citus_task_events_page(NULL, 'nope', 'desc', 5, NULL)$$), 'invalid_parameter 400',
          'citus_task_events_page(): a bad resource_type is invalid_parameter');

-- event_consumer_health ------------------------------------------------------------
SELECT tap.act_as_admin();
SELECT results_eq($$SELECT * FROM task_api.citus_event_consumer_health() ORDER BY consumer$$,
                  $$SELECT * FROM task_api.event_consumer_health ORDER BY consumer$$,
                  'citus_event_consumer_health() gives the rows of event_consumer_health');
CREATE TEMP TABLE health_before AS SELECT * FROM task_api.event_consumer_health;

-- citus_pre_request_reads(): the project names for GET /invitations.
SELECT set_config('request.jwt.claims', json_build_object('sub', tap.id('carol'))::text, true) IS NOT NULL AS "# carol";
SELECT set_config('task_api_citus.caller', '{"projects": {}, "peers": [], "email": "carol@example.com"}', true) IS NOT NULL AS "# resolved";
SELECT set_config('task_api_citus.names', '', true) IS NOT NULL AS "# no names";
SELECT set_config('request.path', '/tasks', true) IS NOT NULL AS "# GET /tasks";
SELECT task_api.citus_pre_request_reads();
SELECT is(current_setting('task_api_citus.names', true), '', 'citus_pre_request_reads() resolves nothing for another path');
SELECT set_config('request.path', '/invitations', true) IS NOT NULL AS "# GET /invitations";
SELECT task_api.citus_pre_request_reads();
SELECT is(current_setting('task_api_citus.names')::jsonb, jsonb_build_object(tap.id('Q'), 'Q'),
          'for /invitations, the invitee (by the email of her account, in another case) gets the name of Q alone');
SELECT set_config('request.jwt.claims', json_build_object('sub', tap.id('alice'))::text, true) IS NOT NULL AS "# alice";
SELECT set_config('task_api_citus.caller', '{"projects": {}, "peers": [], "email": "alice@example.com"}', true) IS NOT NULL AS "# resolved";
SELECT task_api.citus_pre_request_reads();
SELECT is(current_setting('task_api_citus.names')::jsonb, jsonb_build_object(tap.id('P'), 'P', tap.id('Q'), 'Q'),
          'an owner gets the names of the projects she owns');

-- distribute_reads() ---------------------------------------------------------------
CREATE TEMP TABLE columns_before AS
    SELECT attrelid::regclass::text AS rel, attnum, attname, format_type(atttypid, atttypmod) AS type
      FROM pg_attribute WHERE attrelid IN ('api.invitations'::regclass, 'task_api.event_consumer_health'::regclass) AND attnum > 0;
SELECT set_config('request.jwt.claims', '', true) IS NOT NULL AS "# no caller";
SELECT lives_ok('SELECT task_api.distribute_reads()', 'distribute_reads() runs on a node');
SELECT ok(pg_get_functiondef('api.tasks_page'::regproc) ~ 'citus_tasks_page'
          AND pg_get_functiondef('api.task_events_page'::regproc) ~ 'citus_task_events_page',
          'then the page functions are the Citus forms');
SELECT set_eq($$SELECT attrelid::regclass::text, attnum, attname, format_type(atttypid, atttypmod)
                  FROM pg_attribute WHERE attrelid IN ('api.invitations'::regclass, 'task_api.event_consumer_health'::regclass) AND attnum > 0$$,
              'SELECT * FROM columns_before', 'api.invitations and event_consumer_health keep their columns');
SELECT set_eq('SELECT * FROM task_api.event_consumer_health', 'SELECT * FROM health_before',
              'event_consumer_health gives the same rows through the Citus form');
SELECT ok(has_function_privilege('task_api_user', 'api.tasks_page(uuid, task_api.task_status, uuid, text, text, text, integer, text)', 'EXECUTE')
          AND has_table_privilege('task_api_user', 'api.invitations', 'SELECT, INSERT, DELETE')
          AND has_table_privilege('pg_monitor', 'task_api.event_consumer_health', 'SELECT'),
          'the API roles keep their grants');
SELECT tap.act_as(tap.id('carol'));
SELECT is(tap.walk('api.tasks_page', NULL, NULL, 'priority', 'desc', 3),
          tap.walk('task_api.citus_tasks_page', NULL, NULL, 'priority', 'desc', 3),
          'tasks_page() answers as citus_tasks_page()');
SELECT set_config('task_api_citus.caller', '{"projects": {}, "peers": [], "email": "carol@example.com"}', true) IS NOT NULL AS "# resolved";
SELECT is((SELECT array_agg(u.email ORDER BY u.email) FROM api.users u), ARRAY['carol@example.com', NULL],
          'api.users: the caller''s own email, from what citus_pre_request() resolved; others'' hidden');
SELECT is((SELECT i.project_name FROM api.invitations i), 'Q',
          'api.invitations: the project''s name, from what citus_pre_request_reads() resolved');

SELECT * FROM finish();
ROLLBACK;
