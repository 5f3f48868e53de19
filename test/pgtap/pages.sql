-- Cursor pagination (SPEC section 6) from SQL, as task_api_user calls the
-- helpers directly: page_link() only ever writes a plain path into the Link
-- header, search_tasks() never returns another user's tasks whatever arrays
-- it is given, and the page functions under RLS.
BEGIN;
SELECT plan(17);
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
