-- The request gate (src/pre_request.c) runs at the end of PostgREST's first
-- statement of a request, the SELECT of set_config() calls, when the
-- library is preloaded; task_api.pre_request() named as PostgREST's
-- db-pre-request then does nothing, so a request is charged once; a request
-- to the API that no gate checked is refused as soon as anything asks who
-- the caller is.
--
-- Each case needs a transaction of its own (the gate runs once in a
-- transaction), so the plan is made outside them and each one commits:
-- they change settings only, which end with them.
SET client_min_messages = warning;
SELECT plan(12);

-- Requests the gate counted, anonymous ones (the cases are anonymous).
CREATE FUNCTION pg_temp.anonymous_requests() RETURNS bigint
    LANGUAGE sql AS $$
    SELECT value FROM task_api.metrics_read()
     WHERE metric = 'task_api_requests_total' AND labels = 'credential="anonymous"'
$$;
SELECT pg_temp.anonymous_requests() AS before \gset

-- An anonymous GET's settings on a search path, set by CALL: a utility
-- statement, which leaves them without running a top-level query.
CREATE PROCEDURE pg_temp.request_settings(path text)
    LANGUAGE sql AS $$
    SELECT set_config('search_path', path, true), set_config('request.method', 'GET', true),
           set_config('request.path', '/tasks', true),
           set_config('request.jwt.claims', '{"role":"task_api_anon"}', true)
$$;

-- 1. PostgREST's first statement of a request, as PostgREST 12 writes it.
BEGIN;
SELECT set_config('search_path', '"api", "public"', true),
       set_config('role', 'task_api_anon', true),
       set_config('request.jwt.claims', '{"role":"task_api_anon"}', true),
       set_config('request.method', 'GET', true),
       set_config('request.path', '/tasks', true),
       set_config('request.headers', '{"accept":"application/json"}', true),
       set_config('request.cookies', '{}', true) \g /dev/null
RESET ROLE;
SELECT is(pg_temp.anonymous_requests(), (:before + 1)::bigint,
          'the gate ran at the end of PostgREST''s set_config() statement');
SELECT is(current_setting('statement_timeout'), current_setting('task_api.statement_timeout'),
          'and set the request''s statement_timeout');
SELECT lives_ok('SELECT task_api.current_user_id()',
                'the checked request may ask who the caller is');
-- A parallel worker has the request's settings, not the gate's state:
-- it asks on behalf of a leader that passed the gate.
SET LOCAL force_parallel_mode = on;
SELECT task_api.current_user_id() IS NULL AS anonymous_in_worker \gset
RESET force_parallel_mode;
SELECT ok(:'anonymous_in_worker', 'a parallel worker of a checked request may ask who the caller is');
SELECT task_api.pre_request() \g /dev/null
SELECT is(pg_temp.anonymous_requests(), (:before + 1)::bigint,
          'pre_request() (db-pre-request) after the gate does nothing: the request is charged once');
COMMIT;

-- 2. The settings set by CALL, which runs no top-level query: no gate ran.
SELECT pg_temp.anonymous_requests() AS before \gset
BEGIN;
CALL pg_temp.request_settings('"api", "public"');
SELECT throws_like('SELECT task_api.current_user_id()',
                   '%"internal_error"%"the request could not be authenticated"%',
                   'a request to the API no gate checked is refused when it asks who the caller is');
-- That SELECT left the transaction a request to the API: the gate ran after it.
SELECT is(pg_temp.anonymous_requests(), (:before + 1)::bigint,
          'a top-level SELECT that ends with the request unchecked runs the gate');
SELECT lives_ok('SELECT task_api.current_user_id()', 'then the caller may be asked');
COMMIT;

-- 3. pre_request() called where the hook did not run (not the api
-- schema's search path) checks the request itself, every time it is called.
SELECT pg_temp.anonymous_requests() AS before \gset
BEGIN;
CALL pg_temp.request_settings('"public"');
SELECT task_api.pre_request() \g /dev/null
SELECT task_api.pre_request() \g /dev/null
SELECT is(pg_temp.anonymous_requests(), (:before + 2)::bigint,
          'pre_request() runs the gate on its own when the hook did not');
COMMIT;

-- 4. A request of another schema (another PostgREST on the same database):
-- neither the gate nor the refusal.
SELECT pg_temp.anonymous_requests() AS before \gset
BEGIN;
SELECT set_config('search_path', '"other", "public"', true),
       set_config('request.method', 'GET', true),
       set_config('request.jwt.claims', '{"role":"task_api_anon"}', true) \g /dev/null
SELECT lives_ok('SELECT task_api.current_user_id()', 'a request of another schema is not refused');
SELECT is(pg_temp.anonymous_requests(), :before::bigint, 'and passes no gate');
COMMIT;

-- 5. Outside a request (no request.method), the search path alone: nothing.
SELECT pg_temp.anonymous_requests() AS before \gset
BEGIN;
SET LOCAL search_path = "api", "public";
SELECT is(pg_temp.anonymous_requests(), :before::bigint, 'a session on the api schema that is no request passes no gate');
COMMIT;

SELECT * FROM finish();
