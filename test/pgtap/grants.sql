-- Grants: least privilege for PUBLIC and the three API roles (docs/contract.md §2, §5).
BEGIN;
SELECT plan(86);

-- The API roles -------------------------------------------------------------------
SELECT ok(rolcanlogin, 'task_api_authenticator can LOG IN (PostgREST connects as it)')
  FROM pg_roles WHERE rolname = 'task_api_authenticator';
SELECT ok(NOT rolinherit, 'task_api_authenticator is NOINHERIT: it has nothing until it switches role')
  FROM pg_roles WHERE rolname = 'task_api_authenticator';
SELECT is_member_of('task_api_anon', 'task_api_authenticator', 'task_api_authenticator can switch to task_api_anon');
SELECT is_member_of('task_api_user', 'task_api_authenticator', 'task_api_authenticator can switch to task_api_user');
SELECT is_empty($$SELECT rolname FROM pg_roles
                   WHERE rolname IN ('task_api_anon', 'task_api_user', 'task_api_authenticator')
                     AND (rolsuper OR rolbypassrls OR rolcreaterole OR rolcreatedb OR rolreplication)$$,
                'no API role is superuser, bypasses RLS, or creates roles or databases');
SELECT is_empty($$SELECT rolname FROM pg_roles WHERE rolname IN ('task_api_anon', 'task_api_user') AND rolcanlogin$$,
                'task_api_anon and task_api_user cannot log in directly');
SELECT is_empty($$SELECT m.roleid::regrole::text FROM pg_auth_members m
                   WHERE m.member IN ('task_api_anon'::regrole, 'task_api_user'::regrole)$$,
                'task_api_anon and task_api_user are members of no other role');
SELECT ok(NOT has_table_privilege('task_api_authenticator', 'api.tasks', 'SELECT')
          AND NOT has_table_privilege('task_api_authenticator', 'api.projects', 'SELECT'),
          'task_api_authenticator itself reads no api view (NOINHERIT)');
SELECT is_empty($$SELECT c.oid::regclass::text FROM pg_class c
                   WHERE c.relnamespace IN ('api'::regnamespace, 'task_api'::regnamespace)
                     AND c.relowner IN ('task_api_anon'::regrole, 'task_api_user'::regrole, 'task_api_authenticator'::regrole)$$,
                'no API role owns a table or view (an owner could change its policies)');
SELECT is_empty($$SELECT p.oid::regprocedure::text FROM pg_proc p
                   WHERE p.pronamespace IN ('api'::regnamespace, 'task_api'::regnamespace)
                     AND p.proowner IN ('task_api_anon'::regrole, 'task_api_user'::regrole, 'task_api_authenticator'::regrole)$$,
                'no API role owns a function');

-- PUBLIC has nothing ------------------------------------------------------------------
SELECT is_empty($$SELECT c.oid::regclass::text || ' ' || a.privilege_type
                    FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
                   WHERE c.relnamespace IN ('api'::regnamespace, 'task_api'::regnamespace) AND a.grantee = 0$$,
                'PUBLIC has no privilege on any table or view in task_api or api');
SELECT is_empty($$SELECT c.oid::regclass::text || '.' || att.attname || ' ' || a.privilege_type
                    FROM pg_class c JOIN pg_attribute att ON att.attrelid = c.oid, aclexplode(att.attacl) a
                   WHERE c.relnamespace IN ('api'::regnamespace, 'task_api'::regnamespace) AND a.grantee = 0$$,
                'PUBLIC has no column privilege in task_api or api');
SELECT is_empty($$SELECT p.oid::regprocedure::text
                    FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                   WHERE p.pronamespace IN ('api'::regnamespace, 'task_api'::regnamespace) AND a.grantee = 0$$,
                'PUBLIC cannot EXECUTE any function in task_api or api');
SELECT is_empty($$SELECT n.nspname || ' ' || a.privilege_type
                    FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
                   WHERE n.nspname IN ('api', 'task_api') AND a.grantee = 0$$,
                'PUBLIC has no USAGE or CREATE on schemas api and task_api');

-- task_api_anon: the schemas and the pre-request hook -------------------------------
SELECT ok(has_schema_privilege('task_api_anon', 'api', 'USAGE'), 'task_api_anon has USAGE on schema api');
SELECT ok(has_schema_privilege('task_api_anon', 'task_api', 'USAGE'), 'task_api_anon has USAGE on schema task_api (to run pre_request)');
SELECT ok(NOT has_schema_privilege('task_api_anon', 'api', 'CREATE') AND NOT has_schema_privilege('task_api_anon', 'task_api', 'CREATE'),
          'task_api_anon cannot CREATE in api or task_api');
SELECT ok(has_function_privilege('task_api_anon', 'task_api.pre_request()', 'EXECUTE'), 'task_api_anon can EXECUTE task_api.pre_request()');
SELECT is_empty($$SELECT c.relname || ' ' || p FROM pg_class c,
                         unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p
                   WHERE c.relnamespace = 'api'::regnamespace AND has_table_privilege('task_api_anon', c.oid, p)$$,
                'task_api_anon has no privilege on any api view');
SELECT is_empty($$SELECT c.relname || ' ' || p FROM pg_class c,
                         unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p
                   WHERE c.relnamespace = 'task_api'::regnamespace AND c.relkind IN ('r', 'p', 'S')
                     AND has_table_privilege('task_api_anon', c.oid, p)$$,
                'task_api_anon has no privilege on any task_api table or sequence');
SELECT is_empty($$SELECT c.relname || '.' || a.attname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
                   WHERE c.relnamespace IN ('api'::regnamespace, 'task_api'::regnamespace) AND c.relkind IN ('r', 'p', 'v')
                     AND c.relname <> 'error_codes'
                     AND has_column_privilege('task_api_anon', c.oid, a.attnum, 'SELECT, INSERT, UPDATE, REFERENCES')$$,
                'task_api_anon has no column privilege on any table or api view');
-- Besides the hook, signup, login and the OpenAPI document (GET /), anon may only read the public error catalogue (not served by PostgREST).
SELECT set_eq($$SELECT p.oid::regprocedure::text FROM pg_proc p
                 WHERE p.pronamespace IN ('api'::regnamespace, 'task_api'::regnamespace)
                   AND has_function_privilege('task_api_anon', p.oid, 'EXECUTE')$$,
              ARRAY['task_api.pre_request()', 'api.signup(text,text,text)', 'api.login(text,text)', 'task_api.error_catalogue()',
                    'task_api.openapi_facts()', 'task_api.openapi_type(oid,boolean)', 'task_api.openapi_schemas()',
                    'task_api.openapi_errors(jsonb)', 'task_api.openapi_rate_headers()', 'task_api.openapi_response(text,jsonb,jsonb)',
                    'task_api.openapi_view_path(oid)', 'task_api.openapi_function_path(oid)', 'api.openapi()', 'api.json_agg(record)'],
              'task_api_anon can EXECUTE only pre_request(), signup(), login(), the OpenAPI document api.openapi() with its builders, the response body''s api.json_agg() (and error_catalogue() behind task_api.error_codes)');
SELECT set_eq($$SELECT c.oid::regclass::text FROM pg_class c
                 WHERE c.relnamespace IN ('api'::regnamespace, 'task_api'::regnamespace)
                   AND has_table_privilege('task_api_anon', c.oid, 'SELECT, INSERT, UPDATE, DELETE')$$,
              ARRAY['task_api.error_codes'],
              'the only relation task_api_anon can touch is the read-only catalogue task_api.error_codes');

-- Rate limiting: operators only ---------------------------------------------------------
SELECT is_empty($$SELECT p.oid::regprocedure::text FROM pg_proc p
                   WHERE p.pronamespace = 'task_api'::regnamespace AND p.proname LIKE 'rate\_limit\_%'
                     AND EXISTS (SELECT FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                                  WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')$$,
                'PUBLIC cannot EXECUTE any rate_limit_* function');
SELECT ok(has_function_privilege('pg_monitor', 'task_api.rate_limit_status(text,text)', 'EXECUTE'),
          'pg_monitor may read rate_limit_status()');
SELECT ok(NOT has_function_privilege('pg_monitor', 'task_api.rate_limit_reset(text,text)', 'EXECUTE')
          AND NOT has_function_privilege('pg_monitor', 'task_api.rate_limit_charge(text,text)', 'EXECUTE')
          AND NOT has_function_privilege('pg_monitor', 'task_api.rate_limit_gcra(bigint,bigint,integer,integer)', 'EXECUTE'),
          'pg_monitor may not reset or charge buckets or call the GCRA test entry');

-- task_api_user: exactly what the API needs -----------------------------------------
SELECT ok(has_schema_privilege('task_api_user', 'api', 'USAGE'), 'task_api_user has USAGE on schema api');
SELECT ok(NOT has_schema_privilege('task_api_user', 'api', 'CREATE') AND NOT has_schema_privilege('task_api_user', 'task_api', 'CREATE'),
          'task_api_user cannot CREATE in api or task_api');
SELECT ok(NOT has_column_privilege('task_api_user', 'task_api.users', 'password_hash', 'SELECT'),
          'task_api_user cannot read task_api.users.password_hash');
SELECT ok(NOT has_column_privilege('task_api_user', 'task_api.users', 'password_hash', 'UPDATE'),
          'task_api_user cannot write task_api.users.password_hash');
SELECT ok(NOT has_column_privilege('task_api_user', 'task_api.users', 'email', 'SELECT'),
          'task_api_user cannot read task_api.users.email (its own comes through own_email(), others'' never)');
SELECT ok(NOT has_table_privilege('task_api_user', 'task_api.users', 'SELECT'),
          'task_api_user has no table-wide SELECT on task_api.users (it would include password_hash)');
SELECT ok(has_column_privilege('task_api_user', 'task_api.users', 'display_name', 'UPDATE'),
          'task_api_user can update task_api.users.display_name (PATCH /users)');
SELECT ok(NOT has_column_privilege('task_api_user', 'task_api.users', 'email', 'UPDATE')
          AND NOT has_column_privilege('task_api_user', 'task_api.users', 'id', 'UPDATE')
          AND NOT has_column_privilege('task_api_user', 'task_api.users', 'created_at', 'UPDATE'),
          'task_api_user cannot update a user''s id, email or created_at');
SELECT ok(NOT has_table_privilege('task_api_user', 'task_api.users', 'INSERT')
          AND NOT has_table_privilege('task_api_user', 'task_api.users', 'DELETE'),
          'task_api_user cannot insert or delete task_api.users (accounts come from signup)');
SELECT ok(NOT has_table_privilege('task_api_user', 'api.users', 'INSERT')
          AND NOT has_table_privilege('task_api_user', 'api.users', 'DELETE'),
          'api.users is GET and PATCH only');
SELECT ok(has_table_privilege('task_api_user', 'api.users', 'SELECT') AND has_table_privilege('task_api_user', 'api.users', 'UPDATE'),
          'task_api_user can GET and PATCH api.users');
SELECT ok(has_table_privilege('task_api_user', 'api.' || v, 'SELECT') AND has_table_privilege('task_api_user', 'api.' || v, 'INSERT')
          AND has_table_privilege('task_api_user', 'api.' || v, 'UPDATE') AND has_table_privilege('task_api_user', 'api.' || v, 'DELETE'),
          format('task_api_user can GET, POST, PATCH and DELETE api.%s', v))
  FROM unnest(ARRAY['projects', 'project_members', 'tasks']) v;
SELECT is_empty($$SELECT c.oid::regclass::text || ' ' || p FROM pg_class c, unnest(ARRAY['TRUNCATE', 'REFERENCES', 'TRIGGER']) p
                   WHERE c.relnamespace IN ('api'::regnamespace, 'task_api'::regnamespace)
                     AND has_table_privilege('task_api_user', c.oid, p)$$,
                'task_api_user has no TRUNCATE, REFERENCES or TRIGGER anywhere');
SELECT is_empty($$SELECT c.oid::regclass::text FROM pg_class c
                   WHERE c.relnamespace IN ('api'::regnamespace, 'task_api'::regnamespace)
                     AND c.relkind NOT IN ('i', 'I', 'c', 't')
                     AND has_table_privilege('task_api_user', c.oid, 'SELECT, INSERT, UPDATE, DELETE')
                     AND c.oid NOT IN ('api.users'::regclass, 'api.projects'::regclass, 'api.project_members'::regclass,
                                       'api.tasks'::regclass, 'api.api_keys'::regclass, 'task_api.projects'::regclass,
                                       'task_api.project_members'::regclass, 'task_api.tasks'::regclass,
                                       'task_api.error_codes'::regclass, 'api.trash'::regclass, 'api.task_events'::regclass,
                                       'api.invitations'::regclass, 'task_api.invitations'::regclass)$$,
                'task_api_user has table privileges only on the api views, the tables behind them and the catalogue (task_api.users and task_api.api_keys by column only, task_api.sessions not at all)');
SELECT set_eq($$SELECT p.oid::regprocedure::text FROM pg_proc p
                 WHERE p.pronamespace IN ('api'::regnamespace, 'task_api'::regnamespace)
                   AND has_function_privilege('task_api_user', p.oid, 'EXECUTE')$$,
              ARRAY['task_api.pre_request()', 'task_api.error_catalogue()',
                    'task_api.uuidv7()', 'task_api.uuidv7_time(uuid)', 'task_api.current_user_id()',
                    'task_api.request_header(text)', 'task_api.request_cookie(text)', 'task_api.request_claim(text)',
                    'task_api.raise_error(text,text,text,text)', 'task_api.problem(text,text)',
                    'task_api.text_problem(text,integer,boolean)', 'task_api.check_problems(text,jsonb)',
                    'task_api.server_set_problems(jsonb,jsonb,text[],jsonb)',
                    'task_api.member_project_ids(task_api.member_role)', 'task_api.project_role(uuid)',
                    'task_api.has_project_role(uuid,task_api.member_role)', 'task_api.project_problems(text,text)',
                    'task_api.check_project_name(uuid,text,uuid)', 'task_api.task_problems(api.tasks)',
                    'task_api.task_rule(text)',
                    'task_api.own_email(uuid)', 'task_api.check_if_match(integer)', 'task_api.note_etag(integer)',
                    'api.signup(text,text,text)', 'api.login(text,text)', 'api.logout()', 'api.refresh()',
                    'api.change_password(text,text)', 'api.logout_all()',
                    'api.create_api_key(text,timestamp with time zone)',
                    'task_api.trash_retention()', 'task_api.trashed_task(uuid)',
                    'api.restore_task(uuid)', 'api.restore_project(uuid)', 'api.purge_task(uuid)', 'api.purge_project(uuid)',
                    'task_api.idempotent_replay()', 'task_api.idempotency_claim(jsonb)', 'task_api.idempotency_record(jsonb)',
                    'task_api.cursor_encode(anyelement,uuid,text,text)', 'task_api.cursor_decode(text,text,anyelement)',
                    'task_api.percent_encode(text)', 'task_api.search_tasks(uuid[],text)',
                    'task_api.page_link(text,text[],text)', 'task_api.check_page_args(text,text[],text,integer)', 'task_api.check_search_q(text)', 'task_api.task_page_ranges(text,text,text,boolean,boolean,text,text)',
                    'task_api.page_tail(anyarray,integer,text,text,text,text,text,text[])',
                    'api.tasks_page(uuid,task_api.task_status,uuid,text,text,text,integer,text)',
                    'api.projects_page(text,text,integer,text)', 'api.task_events_page(uuid,text,text,integer,text)',
                    'task_api.invitation_ttl()', 'task_api.invitation_project_name(uuid)', 'task_api.internal_columns(text)', 'api.accept_invitation(uuid)', 'api.decline_invitation(uuid)',
                    'task_api.openapi_facts()', 'task_api.openapi_type(oid,boolean)', 'task_api.openapi_schemas()',
                    'task_api.openapi_errors(jsonb)', 'task_api.openapi_rate_headers()', 'task_api.openapi_response(text,jsonb,jsonb)',
                    'task_api.openapi_view_path(oid)', 'task_api.openapi_function_path(oid)', 'api.openapi()', 'api.json_agg(record)'],
              'task_api_user can EXECUTE exactly the hook, the OpenAPI document, the response body''s api.json_agg(), the auth RPCs, the page RPCs with the public cursor codec, and the helpers its views, policies, triggers and idempotent RPCs call');
SELECT ok(has_table_privilege('task_api_user', 'api.trash', 'SELECT')
          AND NOT has_table_privilege('task_api_user', 'api.trash', 'INSERT')
          AND NOT has_table_privilege('task_api_user', 'api.trash', 'UPDATE')
          AND NOT has_table_privilege('task_api_user', 'api.trash', 'DELETE'),
          'api.trash is GET only (restore and purge are RPCs)');
SELECT ok(NOT has_function_privilege('task_api_user', 'task_api.purge_expired()', 'EXECUTE')
          AND NOT has_function_privilege('task_api_anon', 'task_api.purge_expired()', 'EXECUTE'),
          'neither API role can run task_api.purge_expired() (the scheduler runs it)');
SELECT ok(NOT has_table_privilege('task_api_user', 'task_api.idempotency_keys', 'SELECT, INSERT, UPDATE, DELETE')
          AND NOT has_table_privilege('task_api_anon', 'task_api.idempotency_keys', 'SELECT, INSERT, UPDATE, DELETE')
          AND NOT has_any_column_privilege('task_api_user', 'task_api.idempotency_keys', 'SELECT'),
          'neither API role can touch task_api.idempotency_keys (it holds replayable responses, API keys included)');
SELECT ok(NOT has_function_privilege('task_api_user', 'task_api.purge_expired_idempotency_keys()', 'EXECUTE')
          AND NOT has_function_privilege('task_api_user', 'task_api.request_fingerprint(text,text,jsonb)', 'EXECUTE'),
          'task_api_user cannot purge keys or call request_fingerprint() directly');
SELECT ok(NOT has_function_privilege('task_api_user', 'task_api.soft_delete()', 'EXECUTE'),
          'the soft_delete() trigger function is not granted to task_api_user');
SELECT set_eq($$SELECT a.attname::text FROM pg_attribute a
                 WHERE a.attrelid = 'task_api.projects'::regclass AND a.attnum > 0 AND NOT a.attisdropped
                   AND has_column_privilege('task_api_user', a.attrelid, a.attnum, 'UPDATE')$$,
              ARRAY['name', 'description', 'deleted_at', 'deleted_by'],
              'task_api_user can UPDATE exactly name, description, deleted_at, deleted_by of task_api.projects');
SELECT set_eq($$SELECT a.attname::text FROM pg_attribute a
                 WHERE a.attrelid = 'task_api.tasks'::regclass AND a.attnum > 0 AND NOT a.attisdropped
                   AND has_column_privilege('task_api_user', a.attrelid, a.attnum, 'UPDATE')$$,
              ARRAY['project_id', 'assignee_id', 'title', 'description', 'status', 'priority', 'due_date',
                    'deleted_at', 'deleted_by', 'deleted_with_project'],
              'task_api_user can UPDATE exactly the writable task columns and deleted_at, deleted_by, deleted_with_project of task_api.tasks');
SELECT set_eq($$SELECT a.attname::text FROM pg_attribute a
                 WHERE a.attrelid = 'task_api.tasks'::regclass AND a.attnum > 0 AND NOT a.attisdropped
                   AND has_column_privilege('task_api_user', a.attrelid, a.attnum, 'INSERT')$$,
              ARRAY['id', 'project_id', 'assignee_id', 'title', 'description', 'status', 'priority', 'due_date', 'created_by'],
              'task_api_user cannot INSERT deleted_at, deleted_by or deleted_with_project of task_api.tasks');
SELECT ok(NOT has_function_privilege('task_api_user', 'task_api.status()', 'EXECUTE'),
          'task_api_user cannot run task_api.status() (which settings are set is admin information)');
SELECT ok(NOT has_function_privilege('task_api_user', 'task_api.append_response_header(text,text)', 'EXECUTE'),
          'task_api_user cannot call append_response_header() directly');
SELECT ok(NOT has_function_privilege('task_api_user', 'task_api.stamp_row()', 'EXECUTE')
          AND NOT has_function_privilege('task_api_user', 'task_api.projects_add_owner()', 'EXECUTE')
          AND NOT has_function_privilege('task_api_user', 'task_api.project_members_keep_owner()', 'EXECUTE')
          AND NOT has_function_privilege('task_api_user', 'task_api.membership_changed()', 'EXECUTE')
          AND NOT has_function_privilege('task_api_user', 'task_api.api_keys_delete()', 'EXECUTE'),
          'trigger functions are not granted to task_api_user');
SELECT ok(has_type_privilege('task_api_user', 'task_api.task_status', 'USAGE') AND has_type_privilege('task_api_user', 'task_api.member_role', 'USAGE'),
          'task_api_user can use the enum types of its columns');

-- Events: users read the feed; only task_api_relay claims and acknowledges --------------
SELECT ok(has_table_privilege('task_api_user', 'api.task_events', 'SELECT')
          AND NOT has_table_privilege('task_api_user', 'api.task_events', 'INSERT')
          AND NOT has_table_privilege('task_api_user', 'api.task_events', 'UPDATE')
          AND NOT has_table_privilege('task_api_user', 'api.task_events', 'DELETE'),
          'api.task_events is GET only');
SELECT set_eq($$SELECT a.attname::text FROM pg_attribute a
                 WHERE a.attrelid = 'task_api.events'::regclass AND a.attnum > 0 AND NOT a.attisdropped
                   AND has_column_privilege('task_api_user', a.attrelid, a.attnum, 'SELECT')$$,
              ARRAY['id', 'occurred_at', 'actor_id', 'resource_type', 'resource_id', 'project_id', 'action', 'changes', 'request_id'],
              'task_api_user can read exactly the feed columns of task_api.events (not xact_id)');
SELECT is_empty($$SELECT a.attname FROM pg_attribute a
                   WHERE a.attrelid = 'task_api.events'::regclass AND a.attnum > 0
                     AND has_column_privilege('task_api_user', a.attrelid, a.attnum, 'INSERT, UPDATE, REFERENCES')$$,
                'task_api_user cannot write any column of task_api.events');
SELECT ok(NOT rolcanlogin AND NOT rolsuper AND NOT rolbypassrls, 'task_api_relay is NOLOGIN (grant it to the relay''s login role), not superuser, no BYPASSRLS')
  FROM pg_roles WHERE rolname = 'task_api_relay';
SELECT set_eq($$SELECT p.oid::regprocedure::text FROM pg_proc p
                 WHERE p.pronamespace IN ('api'::regnamespace, 'task_api'::regnamespace)
                   AND has_function_privilege('task_api_relay', p.oid, 'EXECUTE')$$,
              ARRAY['task_api.claim_events(text,integer)', 'task_api.ack_events(text,bigint)'],
              'task_api_relay can EXECUTE exactly claim_events() and ack_events()');
SELECT is_empty($$SELECT c.oid::regclass::text FROM pg_class c
                   WHERE c.relnamespace IN ('api'::regnamespace, 'task_api'::regnamespace) AND c.relkind IN ('r', 'v', 'S')
                     AND has_table_privilege('task_api_relay', c.oid, 'SELECT, INSERT, UPDATE, DELETE')$$,
                'task_api_relay has no table privilege: it reads events only through claim_events()');
SELECT ok(NOT has_function_privilege(r, 'task_api.claim_events(text,integer)', 'EXECUTE')
          AND NOT has_function_privilege(r, 'task_api.ack_events(text,bigint)', 'EXECUTE')
          AND NOT has_function_privilege(r, 'task_api.events_claim_bound()', 'EXECUTE')
          AND NOT has_function_privilege(r, 'task_api.record_event()', 'EXECUTE'),
          format('%s cannot claim or acknowledge events, compute the claim bound or run the event trigger', r))
  FROM unnest(ARRAY['task_api_anon', 'task_api_user', 'task_api_authenticator']) r;

-- Column privileges behind the views: server-owned columns are not writable ------------
SELECT ok(NOT has_column_privilege('task_api_user', 'task_api.projects', 'owner_id', 'UPDATE'),
          'task_api_user cannot UPDATE task_api.projects.owner_id (it moves only by the SECURITY DEFINER keep-owner trigger)');
SELECT ok(NOT has_column_privilege('task_api_user', 'task_api.tasks', 'created_by', 'UPDATE'),
          'task_api_user cannot UPDATE task_api.tasks.created_by (server-owned, the API never changes it)');
SELECT ok(NOT has_column_privilege('task_api_user', 'task_api.project_members', 'user_id', 'UPDATE')
          AND NOT has_column_privilege('task_api_user', 'task_api.project_members', 'project_id', 'UPDATE'),
          'task_api_user cannot UPDATE a membership''s project_id or user_id (only role changes)');
SELECT ok(has_column_privilege('task_api_user', 'task_api.project_members', 'role', 'UPDATE'),
          'task_api_user can UPDATE task_api.project_members.role (PATCH /project_members)');
SELECT ok(NOT has_table_privilege('task_api_user', 'task_api.project_members', 'INSERT')
          AND NOT has_any_column_privilege('task_api_user', 'task_api.project_members', 'INSERT'),
          'task_api_user cannot INSERT into task_api.project_members at all: members join through accept_invitation()');
SELECT ok(has_table_privilege('task_api_user', 'api.project_members', 'INSERT'),
          'api.project_members keeps INSERT only so that POST reaches its trigger and answers 405 method_not_allowed');
SELECT ok(has_table_privilege('task_api_user', 'api.invitations', 'SELECT') AND has_table_privilege('task_api_user', 'api.invitations', 'INSERT')
          AND has_table_privilege('task_api_user', 'api.invitations', 'DELETE')
          AND NOT has_table_privilege('task_api_user', 'api.invitations', 'UPDATE'),
          'api.invitations is GET, POST and DELETE (revoke): an invitation is never changed');
SELECT ok(NOT has_any_column_privilege('task_api_user', 'task_api.invitations', 'UPDATE')
          AND NOT has_column_privilege('task_api_user', 'task_api.invitations', 'invited_by', 'SELECT')
          AND NOT has_column_privilege('task_api_user', 'task_api.invitations', 'expires_at', 'INSERT')
          AND NOT has_column_privilege('task_api_user', 'task_api.invitations', 'id', 'INSERT')
          AND NOT has_column_privilege('task_api_user', 'task_api.invitations', 'created_at', 'INSERT'),
          'task_api.invitations: no UPDATE, invited_by not readable, id, created_at and expires_at set by the server only');
SELECT ok(NOT has_table_privilege('task_api_anon', 'api.invitations', 'SELECT, INSERT, UPDATE, DELETE')
          AND NOT has_function_privilege('task_api_anon', 'api.accept_invitation(uuid)', 'EXECUTE')
          AND NOT has_function_privilege('task_api_anon', 'api.decline_invitation(uuid)', 'EXECUTE'),
          'anonymous callers cannot reach invitations at all');
SELECT ok(NOT has_function_privilege('task_api_user', 'task_api.caller_invitation(uuid)', 'EXECUTE')
          AND NOT has_function_privilege('task_api_user', 'task_api.purge_expired_invitations()', 'EXECUTE'),
          'task_api_user cannot call caller_invitation() or purge_expired_invitations() directly');
SELECT ok(has_column_privilege('task_api_user', 'task_api.tasks', 'title', 'UPDATE')
          AND has_column_privilege('task_api_user', 'task_api.tasks', 'status', 'UPDATE'),
          'task_api_user can UPDATE a task''s writable columns (PATCH /tasks)');

-- What each role can actually do, checked by running it --------------------------------
\ir helpers/setup.psql
\o /dev/null
SELECT tap.make_user('alice', 'a0000000-0000-4000-8000-00000000000a');
SELECT tap.make_project('Grants', tap.id('alice'));
\o
SELECT tap.act_as_anon();
SELECT throws_ok($$SELECT * FROM api.projects$$, '42501', NULL, 'anonymous SELECT on api.projects is refused (42501)');
SELECT throws_ok($$SELECT * FROM api.users$$, '42501', NULL, 'anonymous SELECT on api.users is refused (42501)');
SELECT throws_ok($$INSERT INTO api.projects (name) VALUES ('x')$$, '42501', NULL, 'anonymous POST /projects is refused (42501)');
SELECT throws_ok($$SELECT * FROM task_api.tasks$$, '42501', NULL, 'anonymous SELECT on task_api.tasks is refused (42501)');
SELECT lives_ok($$SELECT task_api.pre_request()$$, 'an anonymous request passes pre_request()');
SELECT tap.act_as(tap.id('alice'));
SELECT throws_ok($$SELECT password_hash FROM task_api.users$$, '42501', NULL, 'task_api_user cannot SELECT password_hash');
SELECT throws_ok($$SELECT * FROM task_api.users$$, '42501', NULL, 'task_api_user cannot SELECT * from task_api.users (password_hash)');
SELECT throws_ok($$UPDATE task_api.users SET email = 'x@example.com' WHERE id = task_api.current_user_id()$$, '42501', NULL,
                 'task_api_user cannot change its email in the table directly');
SELECT throws_ok($$INSERT INTO api.users (display_name) VALUES ('X')$$, '42501', NULL,
                 'task_api_user cannot POST /users');
SELECT throws_ok($$DELETE FROM api.users WHERE id = task_api.current_user_id()$$, '42501', NULL,
                 'task_api_user cannot DELETE /users');
SELECT throws_ok($$SELECT task_api.status()$$, '42501', NULL, 'task_api_user cannot run task_api.status()');
SELECT tap.act_as_admin();

SELECT * FROM finish();
ROLLBACK;
