-- The OpenAPI 3.1 document at / (api.openapi(), PostgREST's db-root-spec):
-- valid JSON, the operations each role may perform and none other, the facts
-- only the extension knows, and a new column comment or function appearing
-- by itself.
BEGIN;
SELECT plan(24);
\ir helpers/setup.psql

CREATE TEMP TABLE doc (who text PRIMARY KEY, d jsonb);
GRANT ALL ON doc TO PUBLIC;

SELECT tap.act_as_anon();
INSERT INTO doc SELECT 'anon', api.openapi()::jsonb;
SELECT tap.act_as(gen_random_uuid());
INSERT INTO doc SELECT 'user', api.openapi()::jsonb;
SELECT tap.act_as_admin();

SELECT matches((SELECT d ->> 'openapi' FROM doc WHERE who = 'anon'), '^3\.1\.\d+$', 'anonymous: openapi 3.1.x');
SELECT matches((SELECT d ->> 'openapi' FROM doc WHERE who = 'user'), '^3\.1\.\d+$', 'signed in: openapi 3.1.x');
SELECT is((SELECT d #>> '{info,version}' FROM doc WHERE who = 'user'),
          (SELECT extversion FROM pg_extension WHERE extname = 'task_api'), 'info.version is the installed version');
SELECT ok(api.openapi()::text::json IS NOT NULL, 'the document is valid JSON text');

-- Exactly the operations each role may perform.
SELECT set_eq($$SELECT jsonb_object_keys(d -> 'paths') FROM doc WHERE who = 'anon'$$,
              ARRAY['/', '/rpc/signup', '/rpc/login', '/rpc/openapi'],
              'anonymous: only /, signup, login and the document');
SELECT set_eq($$SELECT jsonb_object_keys(d -> 'paths') FROM doc WHERE who = 'user'$$,
              $$SELECT '/' UNION ALL
                SELECT '/' || relname FROM pg_class WHERE relnamespace = 'api'::regnamespace AND relkind = 'v'
                   AND (has_table_privilege('task_api_user', oid, 'SELECT') OR has_table_privilege('task_api_user', oid, 'INSERT')
                        OR has_table_privilege('task_api_user', oid, 'UPDATE') OR has_table_privilege('task_api_user', oid, 'DELETE'))
                UNION ALL
                SELECT '/rpc/' || proname FROM pg_proc WHERE pronamespace = 'api'::regnamespace AND prokind = 'f'
                   AND prorettype <> 'trigger'::regtype AND has_function_privilege('task_api_user', oid, 'EXECUTE')$$,
              'signed in: every api view and function task_api_user may use, and nothing else (api.json_agg(), an aggregate, is no RPC)');
SELECT set_eq($$SELECT p.key || ' ' || m FROM doc, jsonb_each(d -> 'paths') p, jsonb_object_keys(p.value) m
                 WHERE who = 'user' AND p.key IN ('/task_events', '/users', '/api_keys', '/project_members', '/trash')$$,
              ARRAY['/task_events get', '/users get', '/users patch', '/api_keys get', '/api_keys delete',
                    '/project_members get', '/project_members patch', '/project_members delete', '/trash get'],
              'no writes on read-only views, no POST /project_members (members join by invitation)');
SELECT is_empty($$SELECT p.key FROM doc, jsonb_each(d -> 'paths') p
                   JOIN pg_proc f ON '/rpc/' || f.proname = p.key AND f.pronamespace = 'api'::regnamespace
                  WHERE who = 'user' AND f.provolatile = 'v' AND p.value ? 'get'$$,
                'no GET on a function that writes (volatile)');
SELECT ok((SELECT d #> '{paths,/rpc/tasks_page}' ?& ARRAY['get', 'post'] FROM doc WHERE who = 'user'),
          'the page functions answer GET and POST');

-- What only the extension knows.
SELECT is((SELECT jsonb_object_keys(d #> '{paths,/rpc/signup,post,responses}') FROM doc WHERE who = 'anon' ORDER BY 1 LIMIT 1),
          '201', 'signup answers 201');
SELECT ok((SELECT d #> '{paths,/rpc/create_api_key,post,responses}' ? '201' FROM doc WHERE who = 'user'), 'create_api_key answers 201');
SELECT ok((SELECT d #> '{paths,/rpc/logout,post,responses}' ? '204'
              AND NOT d #> '{paths,/rpc/logout,post,responses,204}' ? 'content' FROM doc WHERE who = 'user'),
          'logout answers 204 with no body');
SELECT is((SELECT d #> '{paths,/rpc/tasks_page,get,responses,200,content,application/json,schema,required}' FROM doc WHERE who = 'user'),
          '["data", "next_cursor", "has_more"]', 'tasks_page: the page envelope');
SELECT is((SELECT d #>> '{paths,/rpc/task_events_page,get,responses,200,content,application/json,schema,properties,data,items,$ref}' FROM doc WHERE who = 'user'),
          '#/components/schemas/task_events', 'task_events_page: items are task_events');
SELECT ok((SELECT d #> '{paths,/rpc/tasks_page,get,responses,200,headers}' ? 'Link' FROM doc WHERE who = 'user'), 'pages answer a Link header');
SELECT is((SELECT d #> '{components,schemas,users,properties,email,type}' FROM doc WHERE who = 'user'), '["string", "null"]',
          'users.email may be null');
SELECT is((SELECT d #> '{components,schemas,tasks,properties,status,enum}' FROM doc WHERE who = 'user'),
          (SELECT jsonb_agg(e ORDER BY n) FROM unnest(enum_range(NULL::task_api.task_status)) WITH ORDINALITY u(e, n)),
          'tasks.status: the enum''s labels');
SELECT is((SELECT d #> '{paths,/rpc/tasks_page,get,parameters}' @> '[{"name": "sort", "schema": {"enum": ["created_at", "updated_at", "due_date", "priority"]}}, {"name": "direction", "schema": {"enum": ["asc", "desc"]}}]'
             FROM doc WHERE who = 'user'), true, 'tasks_page: sort and direction are enums');
SELECT set_eq($$SELECT jsonb_object_keys(d #> '{components,securitySchemes}') FROM doc WHERE who = 'user'$$,
              ARRAY['bearer', 'apiKey', 'cookie', 'csrf'], 'security schemes: bearer, API key, session cookie, CSRF header');
SELECT ok((SELECT d #> '{paths,/tasks,patch,parameters}' @> '[{"$ref": "#/components/parameters/If-Match"}]'
              AND d #> '{paths,/tasks,post,parameters}' @> '[{"$ref": "#/components/parameters/Idempotency-Key"}]'
              AND d #> '{paths,/tasks,patch,responses,200,headers}' ? 'ETag' FROM doc WHERE who = 'user'),
          '/tasks: If-Match, Idempotency-Key, ETag');
SELECT is_empty($$SELECT c FROM doc, jsonb_each(d -> 'paths') p, jsonb_each(p.value) o, jsonb_each(o.value -> 'responses') r,
                          jsonb_array_elements_text(r.value #> '{content,application/json,schema,allOf,1,properties,code,enum}') c
                   WHERE who = 'user' AND c NOT LIKE 'PGRST%' AND c NOT IN (SELECT code FROM task_api.error_codes)$$,
                'every error code the document lists is in the catalogue (or PostgREST''s)');
SELECT ok((SELECT d #> '{paths,/tasks,patch,responses}' ? '412' FROM doc WHERE who = 'user'), '/tasks PATCH lists 412');

-- Built from the catalogue: a comment and a new function appear by themselves.
COMMENT ON COLUMN api.tasks.title IS 'a description written by the test';
CREATE FUNCTION api.tap_probe(n integer DEFAULT 1) RETURNS integer LANGUAGE sql STABLE AS 'SELECT n';
REVOKE ALL ON FUNCTION api.tap_probe(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.tap_probe(integer) TO task_api_user;
SELECT tap.act_as(gen_random_uuid());
SELECT is((api.openapi()::jsonb #>> '{components,schemas,tasks,properties,title,description}'), 'a description written by the test',
          'a new column comment appears by itself');
SELECT ok((api.openapi()::jsonb #> '{paths,/rpc/tap_probe}') ?& ARRAY['get', 'post'], 'a new function appears by itself');
SELECT tap.act_as_admin();

SELECT * FROM finish();
ROLLBACK;
