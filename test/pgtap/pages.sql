-- Cursor pagination (docs/contract.md §6) from SQL, as task_api_user calls the
-- helpers directly: page_link() only ever writes a plain path into the Link
-- header, search_tasks() never returns another user's tasks whatever arrays
-- it is given, and the page functions under RLS.
BEGIN;
SELECT plan(18);
\ir helpers/setup.psql

-- Fixtures: P (alice owner, carol viewer) with tasks about rockets; Q (alice
-- owner) with one; dave shares nothing and owns R.
\o /dev/null
SELECT tap.make_user('alice', 'a0000000-0000-4000-8000-00000000000a');
SELECT tap.make_user('carol', 'c0000000-0000-4000-8000-00000000000c');
SELECT tap.make_user('dave', 'd0000000-0000-4000-8000-00000000000d');
SELECT tap.make_project('P', tap.id('alice'));
SELECT tap.make_member(tap.id('P'), tap.id('carol'), 'viewer');
SELECT tap.make_project('Q', tap.id('alice'));
SELECT tap.make_project('R', tap.id('dave'));
SELECT tap.make_task('rocket one', tap.id('P'), tap.id('alice'));
SELECT tap.make_task('rocket two', tap.id('P'), tap.id('alice'));
SELECT tap.make_task('rocket three', tap.id('Q'), tap.id('alice'));
SELECT tap.make_task('rocket four', tap.id('R'), tap.id('dave'));
\o

-- page_link() -------------------------------------------------------------------
SELECT tap.act_as(tap.id('carol'));
SELECT set_config('request.path', '', true) IS NOT NULL AS "# no request.path";
SELECT is(tap.err($$SELECT task_api.page_link('/x>; rel="evil", <https://evil.example/', ARRAY['a', 'b'], 'c')$$),
          '22023', 'page_link() refuses a default path that is not a plain path (no URL or parameter smuggled into Link)');
SELECT is(tap.err($$SELECT task_api.page_link(NULL, ARRAY['a', 'b'], 'c')$$), '22023',
          'page_link() refuses a NULL default path when there is no request.path');
SELECT is(tap.err($$SELECT task_api.page_link('https://evil.example/rpc/tasks_page', NULL, 'c')$$), '22023',
          'page_link() refuses an absolute URL as the default path');
SELECT lives_ok($$SELECT task_api.page_link('/rpc/tasks_page', ARRAY['q', 'a b&c#d', 'status', NULL, 'odd'], 'C-_')$$,
                'page_link() with a plain default path');
SELECT is(current_setting('response.headers', true)::jsonb,
          '[{"Link": "</rpc/tasks_page?q=a%20b%26c%23d&cursor=C-_>; rel=\"next\""}]'::jsonb,
          'the Link header: arguments percent-encoded, NULL values and an odd trailing name left out');
-- A request.path PostgREST would never send is not used; the default is.
SELECT set_config('response.headers', '', true) IS NOT NULL AS "# headers cleared";
SELECT set_config('request.path', '/rpc/x?y=z', true) IS NOT NULL AS "# odd request.path";
SELECT lives_ok($$SELECT task_api.page_link('/rpc/tasks_page', NULL, 'c')$$, 'page_link() with an odd request.path');
SELECT is(current_setting('response.headers', true)::jsonb,
          '[{"Link": "</rpc/tasks_page?cursor=c>; rel=\"next\""}]'::jsonb,
          'an odd request.path is replaced by the default path');

-- search_tasks() with crafted arrays ---------------------------------------------
SELECT tap.act_as(tap.id('dave'));
SELECT is((SELECT count(*) FROM task_api.search_tasks(ARRAY[tap.id('P'), tap.id('Q'), tap.id('R')], 'rocket')), 1::bigint,
          'search_tasks() gives a non-member none of the projects he names but his own');
SELECT is((SELECT count(*) FROM task_api.search_tasks(ARRAY[tap.id('P')], 'rocket')), 0::bigint,
          'search_tasks() with only another user''s project: nothing');
SELECT is((SELECT count(*) FROM task_api.search_tasks(NULL, 'rocket')), 0::bigint, 'search_tasks() with NULL projects: nothing');
SELECT tap.act_as(tap.id('carol'));
SELECT is((SELECT count(*) FROM task_api.search_tasks(ARRAY[tap.id('P'), tap.id('Q'), tap.id('R')], 'rocket')), 2::bigint,
          'search_tasks() gives a viewer of P only P''s matches');
SELECT is((SELECT count(*) FROM task_api.search_tasks(ARRAY[tap.id('P')], '')), 0::bigint,
          'search_tasks() with an empty query matches nothing');

-- The page functions called directly ---------------------------------------------
SELECT tap.act_as(tap.id('dave'));
SELECT is(api.tasks_page(project_id => tap.id('P'))::jsonb, '{"data": [], "next_cursor": null, "has_more": false}'::jsonb,
          'tasks_page() of another user''s project is empty');
SELECT is((SELECT count(*) FROM json_array_elements(api.tasks_page(q => 'rocket') -> 'data')), 1::bigint,
          'tasks_page() with q finds only the caller''s task');
SELECT tap.act_as(tap.id('carol'));
SELECT is((SELECT count(*) FROM json_array_elements(api.tasks_page(q => 'rocket') -> 'data')), 2::bigint,
          'tasks_page() with q finds a viewer''s tasks');

-- Every walk against an ORDER BY reference ----------------------------------------
-- Carol is a viewer of P (it gets 31 more tasks) and owns S (12 tasks), so
-- she walks two projects of uneven sizes; ties on every key (created_at in
-- groups of four, one updated_at per statement, priority 0..4), a third of
-- the due dates NULL, spread through the order.  Every sort, direction,
-- page size 1..5, with and without project_id, status and q: the walk
-- returns the reference order exactly (no duplicate, no gap).
\o /dev/null
SELECT tap.act_as_admin();
SELECT tap.make_project('S', tap.id('carol'));
INSERT INTO task_api.tasks (project_id, title, priority, due_date, status, created_by, created_at)
SELECT CASE WHEN i <= 31 THEN tap.id('P') ELSE tap.id('S') END,
       'walk ' || i || CASE WHEN i % 2 = 1 THEN ' odd' ELSE '' END, i % 5,
       CASE WHEN i % 3 <> 0 THEN date '2026-05-01' + i % 4 END,
       (ARRAY['todo', 'done']::task_api.task_status[])[1 + i % 2], tap.id('alice'),
       timestamptz '2026-01-01 00:00:00+00' + (i / 4) * interval '1 second'
  FROM generate_series(1, 43) i;
\o
SELECT tap.act_as(tap.id('carol'));
CREATE FUNCTION pg_temp.walk_mismatches() RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
    s text; d text; ps int; pid uuid; st task_api.task_status; qq text;
    j json; c text; got uuid[]; want uuid[]; bad text[] := '{}'; walks int := 0;
BEGIN
    FOREACH s IN ARRAY ARRAY['created_at', 'updated_at', 'due_date', 'priority'] LOOP
     FOREACH d IN ARRAY ARRAY['asc', 'desc'] LOOP
      FOR ps IN 1 .. 5 LOOP
       FOR pid IN SELECT NULL::uuid UNION ALL SELECT tap.id('P') UNION ALL SELECT tap.id('S') LOOP
        FOR st, qq IN VALUES (NULL::task_api.task_status, NULL::text), ('done', NULL), (NULL, 'odd') LOOP
            got := '{}';
            c := NULL;
            LOOP
                j := api.tasks_page(project_id => pid, status => st, q => qq, sort => s, direction => d,
                                    page_size => ps, cursor => c);
                got := got || ARRAY(SELECT (e ->> 'id')::uuid FROM json_array_elements(j -> 'data') e);
                c := j ->> 'next_cursor';
                EXIT WHEN c IS NULL OR cardinality(got) > 1000;
            END LOOP;
            EXECUTE format('SELECT coalesce(array_agg(id ORDER BY %I %s NULLS %s, id %s), ''{}'') FROM api.tasks
                             WHERE ($1 IS NULL OR project_id = $1) AND ($2 IS NULL OR status = $2)
                               AND ($3 IS NULL OR title LIKE ''%% '' || $3)',
                           s, d, CASE d WHEN 'asc' THEN 'LAST' ELSE 'FIRST' END, d)
                INTO want USING pid, st, qq;
            walks := walks + 1;
            IF got IS DISTINCT FROM want THEN
                bad := bad || format('%s %s page_size %s project %s status %s q %s: %s rows, want %s',
                                     s, d, ps, pid, st, qq, cardinality(got), cardinality(want));
            END IF;
        END LOOP;
       END LOOP;
      END LOOP;
     END LOOP;
    END LOOP;
    RETURN bad || ARRAY[walks::text || ' walks'];
END
$$;
SELECT is(pg_temp.walk_mismatches(), ARRAY['360 walks'],
          'every walk (4 sorts x 2 directions x page sizes 1..5 x 3 project filters x no filter, status, q) returns the ORDER BY reference exactly');

-- Function attributes --------------------------------------------------------------
SELECT tap.act_as_admin();
SELECT is((SELECT proparallel FROM pg_proc WHERE oid = 'task_api.search_tasks(uuid[],text)'::regprocedure), 'r',
          'search_tasks() is PARALLEL RESTRICTED, as member_project_ids() it calls');
SELECT is((SELECT array_agg(p.oid::regprocedure::text ORDER BY p.oid::regprocedure::text) FROM pg_proc p
            WHERE p.oid IN ('task_api.search_tasks(uuid[],text)'::regprocedure, 'task_api.page_link(text,text[],text)'::regprocedure)
              AND p.prosecdef AND p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp']),
          ARRAY['task_api.page_link(text,text[],text)', 'task_api.search_tasks(uuid[],text)'],
          'both SECURITY DEFINER helpers pin search_path');

SELECT * FROM finish();
ROLLBACK;
