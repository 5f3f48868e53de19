-- Errors (docs/contract.md §11): every code the foundation raises, with its status,
-- PostgREST's body shape, and the catalogue task_api.error_codes.
BEGIN;
SELECT plan(114);
\ir helpers/setup.psql

\o /dev/null
SELECT tap.make_user('alice', 'a0000000-0000-4000-8000-00000000000a');
SELECT tap.make_user('bob', 'b0000000-0000-4000-8000-00000000000b');
SELECT tap.make_user('carol', 'c0000000-0000-4000-8000-00000000000c');
SELECT tap.make_user('dave', 'd0000000-0000-4000-8000-00000000000d');
SELECT tap.make_user('frank', 'f0000000-0000-4000-8000-00000000000f');
SELECT tap.make_project('P1', tap.id('alice'));
SELECT tap.make_project('Roadmap', tap.id('alice'));
SELECT tap.make_member(tap.id('P1'), tap.id('bob'), 'editor');
SELECT tap.make_member(tap.id('P1'), tap.id('carol'), 'viewer');
SELECT tap.make_task('t1', tap.id('P1'), tap.id('alice'));
-- P3: alice's, with dave as a second owner; dave owns a project of his own named P3 too.
SELECT tap.make_project('P3', tap.id('alice'));
SELECT tap.make_member(tap.id('P3'), tap.id('dave'), 'owner');
SELECT tap.name_id('dave P3', tap.make_project('P3 (dave)', tap.id('dave')));
UPDATE task_api.projects SET name = 'P3' WHERE id = tap.id('dave P3');
-- A live session for alice: tokens are bound to a session (jti) or an API key.
WITH s AS (INSERT INTO task_api.sessions (user_id, expires_at) VALUES (tap.id('alice'), now() + interval '1 hour') RETURNING id)
SELECT tap.name_id('alice session', s.id) FROM s;
\o

-- The catalogue ------------------------------------------------------------------------
SELECT set_eq($$SELECT code, status FROM task_api.error_codes$$,
              $$VALUES ('unauthenticated', 401), ('invalid_credentials', 401), ('forbidden', 403), ('csrf_failed', 403), ('origin_not_allowed', 403),
                       ('not_found', 404), ('conflict', 409), ('idempotency_in_progress', 409), ('precondition_failed', 412),
                       ('validation_failed', 422), ('idempotency_key_reused', 422), ('invalid_cursor', 400),
                       ('cursor_mismatch', 400), ('invalid_idempotency_key', 400), ('invalid_parameter', 400),
                       ('method_not_allowed', 405), ('rate_limited', 429), ('query_too_expensive', 400),
                       ('payload_too_large', 413), ('busy', 504), ('unavailable', 503), ('read_only_replica', 421),
                       ('internal_error', 500),
                       ('citus_not_installed', 409)$$,
              'task_api.error_codes is exactly the catalogue of docs/errors.md, with its statuses');
SELECT is((SELECT count(DISTINCT code) FROM task_api.error_codes), (SELECT count(*) FROM task_api.error_codes),
          'each code appears once in task_api.error_codes');
SELECT matches((SELECT description FROM task_api.error_codes WHERE code = 'payload_too_large'), 'class 54',
               'payload_too_large says it also answers PostgreSQL''s program limits (class 54)');
SELECT is_empty($$SELECT code FROM task_api.error_codes WHERE coalesce(btrim(description), '') = ''$$,
                'every catalogue code has a description');
-- raise_error() answers each code with the status docs/contract.md §11 gives it.
SELECT is(tap.err(format('SELECT task_api.raise_error(%L, %L)', s.code, 'test')), s.code || ' ' || s.status,
          format('raise_error(%s) raises %s with status %s', s.code, s.code, s.status))
  FROM (VALUES ('unauthenticated', 401), ('invalid_credentials', 401), ('forbidden', 403), ('csrf_failed', 403), ('origin_not_allowed', 403),
               ('not_found', 404), ('conflict', 409), ('idempotency_in_progress', 409), ('precondition_failed', 412),
               ('validation_failed', 422), ('idempotency_key_reused', 422), ('invalid_cursor', 400),
               ('cursor_mismatch', 400), ('invalid_idempotency_key', 400), ('invalid_parameter', 400),
               ('method_not_allowed', 405), ('rate_limited', 429), ('query_too_expensive', 400),
               ('payload_too_large', 413), ('busy', 504), ('unavailable', 503), ('read_only_replica', 421)) AS s(code, status)
 ORDER BY s.code;
SELECT is(tap.err($$SELECT task_api.raise_error('teapot', 'short and stout')$$), '22023',
          'raise_error() refuses a code outside the catalogue (22023), never a malformed PGRST error');
SELECT tap.act_as_anon();
SELECT is((SELECT status FROM task_api.error_codes WHERE code = 'forbidden'), 403, 'an anonymous caller can read the catalogue');
SELECT tap.act_as_admin();

-- PostgREST's error shape ----------------------------------------------------------------
SELECT tap.act_as(tap.id('bob'));
CREATE TEMP TABLE shape ON COMMIT DROP AS
SELECT tap.error_of($$INSERT INTO api.tasks (project_id, title, priority) VALUES (tap.id('P1'), '   ', 9)$$) AS e;
SELECT is((SELECT e ->> 'sqlstate' FROM shape), 'PGRST', 'API errors are raised with SQLSTATE PGRST');
SELECT set_eq($$SELECT jsonb_object_keys(e - 'sqlstate' - 'status' - 'headers' - 'raw_detail') FROM shape$$,
              ARRAY['code', 'message', 'details', 'hint'], 'the error message is the JSON body {code, message, details, hint}');
SELECT is((SELECT jsonb_typeof(e -> 'details') FROM shape), 'string', 'details is a string (PostgREST accepts no other JSON type)');
SELECT is((SELECT jsonb_typeof((e ->> 'details')::jsonb) FROM shape), 'array', 'validation_failed details is the JSON text of an array');
SELECT ok((SELECT jsonb_typeof(e -> 'hint') IN ('string', 'null') FROM shape), 'hint is a string or null');
SELECT ok((SELECT coalesce(e ->> 'message', '') <> '' FROM shape), 'message is a non-empty human text');
SELECT set_eq($$SELECT jsonb_object_keys(e -> 'raw_detail') FROM shape$$, ARRAY['status', 'headers'],
              'the error detail is the JSON {status, headers}');
SELECT is((SELECT jsonb_typeof(e -> 'raw_detail' -> 'status') || '/' || jsonb_typeof(e -> 'raw_detail' -> 'headers') FROM shape),
          'number/object', 'status is a number and headers an object');
SELECT tap.act_as_admin();
SELECT is((tap.error_of($$SELECT task_api.append_response_header('Retry-After', '7'), task_api.raise_error('rate_limited', 'slow down')$$)
           -> 'headers'), '{"Retry-After": "7"}'::jsonb,
          'an error carries the response headers set earlier in the request');

-- details has one type (issue 14): JSON text of an array for validation_failed, of an
-- object for every other code, or null; prose is wrapped, JSON is kept.
SELECT is(tap.error_of($$SELECT task_api.raise_error('conflict', 'm', 'It is taken.')$$) ->> 'details',
          '{"reason": "It is taken."}', 'prose details of a code are wrapped as {"reason": ...}');
SELECT is(tap.error_of($$SELECT task_api.raise_error('validation_failed', 'm', 'bad')$$) ->> 'details',
          '[{"field": null, "problem": "bad"}]', 'prose details of validation_failed become a one-problem array');
SELECT is(tap.error_of($$SELECT task_api.raise_error('busy', 'm', ' {"lock_timeout_ms": 5}')$$) ->> 'details',
          ' {"lock_timeout_ms": 5}', 'an object is kept as it is');
SELECT is(tap.error_of($$SELECT task_api.raise_error('forbidden', 'm')$$) -> 'details', 'null'::jsonb,
          'no details is null');

-- validation_failed (422): details lists every problem ------------------------------------
SELECT tap.act_as(tap.id('bob'));
SELECT is(tap.err($$INSERT INTO api.tasks (project_id, title, priority) VALUES (tap.id('P1'), '   ', 9)$$), 'validation_failed 422',
          'POST /tasks with a blank title and priority 9: validation_failed 422');
SELECT is(tap.problems($$INSERT INTO api.tasks (project_id, title, description, priority, id, created_by, created_at, updated_at, completed_at, version)
                         VALUES (tap.id('P1'), '   ', repeat('x', 10001), 9, '00000000-0000-4000-8000-000000000001', tap.id('bob'),
                                 now(), now(), now(), 7)$$),
          ARRAY['completed_at: is set by the server', 'created_at: is set by the server', 'created_by: is set by the server',
                'description: must be at most 10000 characters', 'id: is set by the server', 'priority: must be between 0 and 4',
                'title: must not be blank', 'updated_at: is set by the server', 'version: is set by the server'],
          'POST /tasks: details lists every problem, server-owned fields included');
SELECT is(tap.problems($$INSERT INTO api.tasks (title) VALUES (NULL)$$), ARRAY['project_id: is required', 'title: is required'],
          'POST /tasks without project_id and title: both are required');
SELECT is(tap.problems($$INSERT INTO api.tasks (project_id, title) VALUES (tap.id('P1'), repeat('x', 201))$$),
          ARRAY['title: must be at most 200 characters'], 'POST /tasks: title of 201 characters is too long');
SELECT is(tap.err($$INSERT INTO api.tasks (project_id, title) VALUES (tap.id('P1'), '  ' || repeat('x', 200) || '  ')$$), 'no error',
          'POST /tasks: a 200-character title is accepted once trimmed');
SELECT is(tap.problems($$INSERT INTO api.tasks (project_id, title, assignee_id) VALUES (tap.id('P1'), 'x', tap.id('dave'))$$),
          ARRAY['assignee_id: must be a member of the project'], 'POST /tasks: the assignee must be a member of the project');
SELECT is(tap.problems($$INSERT INTO api.tasks (project_id, title, status, priority) VALUES (tap.id('P1'), 'x', NULL, NULL)$$),
          ARRAY['priority: is required', 'status: is required'], 'POST /tasks: explicit null status and priority are refused');
SELECT is(tap.problems($$UPDATE api.tasks SET title = '', version = 99, completed_at = now(), created_by = tap.id('bob'),
                                            created_at = now() - interval '1 day', updated_at = now() - interval '1 day'
                          WHERE id = tap.id('t1')$$),
          ARRAY['completed_at: is set by the server', 'created_at: is set by the server', 'created_by: is set by the server',
                'title: must not be blank', 'updated_at: is set by the server', 'version: is set by the server'],
          'PATCH /tasks: details lists every problem, server-owned fields included');
SELECT is(tap.problems($$UPDATE api.tasks SET id = '00000000-0000-4000-8000-000000000001' WHERE id = tap.id('t1')$$),
          ARRAY['id: is set by the server'], 'PATCH /tasks: id cannot be changed');
SELECT is(tap.problems($$UPDATE api.tasks SET assignee_id = tap.id('frank') WHERE id = tap.id('t1')$$),
          ARRAY['assignee_id: must be a member of the project'], 'PATCH /tasks: the assignee must be a member');
SELECT is(tap.problems($$UPDATE api.tasks SET project_id = tap.id('Roadmap') WHERE id = tap.id('t1')$$),
          ARRAY['project_id: no such project'], 'PATCH /tasks: cannot move a task into a project you cannot see');

SELECT tap.act_as(tap.id('alice'));
SELECT is(tap.problems($$INSERT INTO api.projects (name, description, id, owner_id, created_at, updated_at, version)
                         VALUES ('  ', repeat('x', 10001), '00000000-0000-4000-8000-000000000001', tap.id('bob'), now(), now(), 3)$$),
          ARRAY['created_at: is set by the server', 'description: must be at most 10000 characters', 'id: is set by the server',
                'name: must not be blank', 'owner_id: is set by the server', 'updated_at: is set by the server',
                'version: is set by the server'],
          'POST /projects: details lists every problem, server-owned fields included');
SELECT is(tap.problems($$INSERT INTO api.projects (name) VALUES (repeat('n', 121))$$), ARRAY['name: must be at most 120 characters'],
          'POST /projects: a 121-character name is too long');
SELECT is(tap.problems($$INSERT INTO api.projects (description) VALUES ('no name')$$), ARRAY['name: is required'],
          'POST /projects: name is required');
SELECT is(tap.problems($$UPDATE api.projects SET owner_id = tap.id('bob'), version = 5, name = '' WHERE id = tap.id('P1')$$),
          ARRAY['name: must not be blank', 'owner_id: is set by the server; change roles in project_members instead',
                'version: is set by the server'],
          'PATCH /projects: details lists every problem');
SELECT is(tap.problems($$INSERT INTO api.invitations (project_id, created_at) VALUES (tap.id('P1'), now())$$),
          ARRAY['created_at: is set by the server', 'user_id: give user_id or email'],
          'POST /invitations without user_id or email, with created_at: both problems');
SELECT is(tap.problems($$INSERT INTO api.invitations (project_id, user_id, email) VALUES (tap.id('P1'), tap.id('frank'), 'frank@example.com')$$),
          ARRAY['email: give user_id or email, not both'], 'POST /invitations with both user_id and email');
SELECT is(tap.problems($$INSERT INTO api.invitations (project_id, email) VALUES (tap.id('P1'), 'not an email')$$),
          ARRAY['email: is not a valid email address'], 'POST /invitations with a malformed email');
SELECT is(tap.problems($$INSERT INTO api.invitations (project_id, email) VALUES (tap.id('P1'), repeat('x', 250) || '@example.com')$$),
          ARRAY['email: is not a valid email address'], 'POST /invitations with an email over 254 characters');
SELECT is(tap.problems($$INSERT INTO api.invitations (project_id, user_id, role) VALUES (NULL, tap.id('frank'), NULL)$$),
          ARRAY['project_id: is required', 'role: is required'], 'POST /invitations: project_id and role are required');
SELECT is(tap.problems($$INSERT INTO api.invitations (id, project_id, user_id, expires_at) VALUES (gen_random_uuid(), tap.id('P1'), tap.id('frank'), now() + interval '1 year')$$),
          ARRAY['expires_at: is set by the server', 'id: is set by the server'], 'POST /invitations: id and expires_at are server-owned');
SELECT is(tap.problems($$INSERT INTO api.invitations (project_id, user_id) VALUES ('00000000-0000-4000-8000-000000000000', tap.id('frank'))$$),
          ARRAY['project_id: no such project'], 'POST /invitations to a project that does not exist: no such project');
SELECT is(tap.problems($$UPDATE api.project_members SET user_id = tap.id('frank'), added_at = now() - interval '1 day', email = 'x@example.com'
                          WHERE project_id = tap.id('P1') AND user_id = tap.id('carol')$$),
          ARRAY['added_at: is set by the server', 'email: cannot be changed', 'user_id: cannot be changed'],
          'PATCH /project_members: only the role can change');
SELECT is(tap.problems($$UPDATE api.project_members SET role = NULL WHERE project_id = tap.id('P1') AND user_id = tap.id('carol')$$),
          ARRAY['role: is required'], 'PATCH /project_members: role cannot be null');
SELECT is(tap.problems($$UPDATE api.users SET display_name = '   ', email = 'other@example.com' WHERE id = tap.id('alice')$$),
          ARRAY['display_name: must not be blank', 'email: cannot be changed'], 'PATCH /users: blank display_name and email change');
SELECT is(tap.problems($$UPDATE api.users SET display_name = repeat('d', 101) WHERE id = tap.id('alice')$$),
          ARRAY['display_name: must be at most 100 characters'], 'PATCH /users: display_name of 101 characters');
SELECT is(tap.problems($$UPDATE api.users SET created_at = now() - interval '1 year', id = tap.id('bob') WHERE id = tap.id('alice')$$),
          ARRAY['created_at: is set by the server', 'id: is set by the server'], 'PATCH /users: id and created_at are server-owned');

-- Values PostgreSQL rejects itself keep its codes (a 4xx in PostgREST) -----------------
SELECT tap.act_as(tap.id('bob'));
SELECT is(tap.err($$INSERT INTO api.tasks (project_id, title, status) VALUES (tap.id('P1'), 'x', 'urgent')$$), '22P02',
          'an unknown status keeps PostgreSQL''s 22P02 (invalid_text_representation)');
SELECT is(tap.err($$SELECT 1 FROM api.tasks WHERE id = 'not-a-uuid'$$), '22P02', 'a malformed uuid keeps 22P02');
SELECT is(left(tap.err($$INSERT INTO api.tasks (project_id, title, due_date) VALUES (tap.id('P1'), 'x', 'soon')$$), 2), '22',
          'a malformed due_date keeps a class-22 data exception');
SELECT tap.act_as(tap.id('alice'));
SELECT is(tap.err($$INSERT INTO api.invitations (project_id, user_id, role) VALUES (tap.id('P1'), tap.id('frank'), 'admin')$$), '22P02',
          'an unknown member role keeps 22P02');

-- forbidden (403) -------------------------------------------------------------------
SELECT tap.act_as(tap.id('carol'));
SELECT is(tap.err($$UPDATE api.tasks SET title = 'x' WHERE id = tap.id('t1')$$), 'forbidden 403', 'viewer PATCH /tasks: forbidden 403');
SELECT is(tap.error_of($$INSERT INTO api.tasks (project_id, title) VALUES (tap.id('P1'), 'x')$$) ->> 'hint',
          'ask a project owner for the editor role', 'forbidden tells a viewer how to get the right');
SELECT tap.act_as(tap.id('bob'));
SELECT is(tap.err($$UPDATE api.projects SET name = 'x' WHERE id = tap.id('P1')$$), 'forbidden 403', 'editor PATCH /projects: forbidden 403');
SELECT is(tap.err($$DELETE FROM api.project_members WHERE user_id = tap.id('carol')$$), 'forbidden 403', 'editor removing a member: forbidden 403');
SELECT is(tap.err($$UPDATE api.users SET display_name = 'x' WHERE id = tap.id('alice')$$), 'forbidden 403', 'PATCH another user: forbidden 403');

-- conflict (409) --------------------------------------------------------------------
SELECT tap.act_as(tap.id('alice'));
SELECT is(tap.err($$INSERT INTO api.projects (name) VALUES ('Roadmap')$$), 'conflict 409', 'POST /projects with a name the owner already uses: conflict 409');
SELECT is(tap.err($$INSERT INTO api.projects (name) VALUES ('  Roadmap  ')$$), 'conflict 409', 'the duplicate name check applies after trimming');
SELECT is(tap.err($$UPDATE api.projects SET name = 'Roadmap' WHERE id = tap.id('P1')$$), 'conflict 409',
          'PATCH /projects to a name the owner already uses: conflict 409');
SELECT is(tap.err($$UPDATE api.projects SET name = 'Roadmap', description = 'same name, new text' WHERE id = tap.id('Roadmap')$$), 'no error',
          'a project keeps its own name on PATCH (no conflict with itself)');
SELECT is(tap.err($$INSERT INTO api.invitations (project_id, email) VALUES (tap.id('P1'), 'Someone@Example.com')$$), 'no error',
          'POST /invitations by email');
SELECT is(tap.err($$INSERT INTO api.invitations (project_id, email) VALUES (tap.id('P1'), ' someone@example.COM ')$$), 'conflict 409',
          'POST /invitations for an address with an open invitation of the project (case-insensitive, trimmed): conflict 409');
SELECT is(tap.error_of($$INSERT INTO api.invitations (project_id, email) VALUES (tap.id('P1'), 'someone@example.com')$$) ->> 'hint',
          'revoke it first (DELETE /invitations?id=eq.<id>) to invite again', 'the duplicate-invitation conflict says what to do');

-- method_not_allowed (405) ----------------------------------------------------------------
SELECT is(tap.err($$INSERT INTO api.project_members (project_id, user_id) VALUES (tap.id('P1'), tap.id('frank'))$$), 'method_not_allowed 405',
          'POST /project_members: method_not_allowed 405');
SELECT is(tap.err($$INSERT INTO api.project_members (project_id, user_id) VALUES (tap.id('P1'), tap.id('bob'))$$), 'method_not_allowed 405',
          'POST /project_members for an existing member: the same method_not_allowed 405');
SELECT is(tap.err($$INSERT INTO api.project_members (project_id, email) VALUES (tap.id('P1'), 'Carol@Example.com')$$), 'method_not_allowed 405',
          'POST /project_members by email: the same method_not_allowed 405');
SELECT ok(tap.error_of($$INSERT INTO api.project_members (project_id, user_id) VALUES (tap.id('P1'), tap.id('frank'))$$) ->> 'hint' LIKE '%POST /invitations%',
          'the 405 hint names POST /invitations');
SELECT is(tap.error_of($$INSERT INTO api.project_members (project_id, user_id) VALUES (tap.id('P1'), tap.id('frank'))$$) -> 'headers' ->> 'Allow',
          'GET, PATCH, DELETE', 'the 405 carries Allow: GET, PATCH, DELETE');
SELECT is(tap.err($$DELETE FROM api.project_members WHERE project_id = tap.id('P1') AND user_id = tap.id('alice')$$), 'conflict 409',
          'the last owner leaving: conflict 409');
SELECT is(tap.err($$UPDATE api.project_members SET role = 'editor' WHERE project_id = tap.id('P1') AND user_id = tap.id('alice')$$), 'conflict 409',
          'demoting the last owner: conflict 409');
SELECT is((SELECT role::text FROM api.project_members WHERE project_id = tap.id('P1') AND user_id = tap.id('alice')), 'owner',
          'after both refusals the last owner is still an owner');
SELECT is(tap.error_of($$DELETE FROM api.project_members WHERE project_id = tap.id('P1') AND user_id = tap.id('alice')$$) ->> 'hint',
          'make another member an owner first, or delete the project', 'the keep-an-owner conflict says what to do');
SELECT tap.act_as(tap.id('bob'));
SELECT is(tap.err($$INSERT INTO api.projects (name) VALUES ('Roadmap')$$), 'no error', 'another owner may use the same project name');
-- The name rule holds whoever renames: a second owner cannot see all of the
-- primary owner's projects, yet must get conflict, not a raw unique violation.
SELECT tap.act_as(tap.id('alice'));
SELECT is(tap.row_count($$UPDATE api.project_members SET role = 'owner' WHERE project_id = tap.id('P1') AND user_id = tap.id('bob')$$),
          1::bigint, 'owner: promote the editor to owner');
SELECT tap.act_as(tap.id('bob'));
SELECT is(tap.err($$UPDATE api.projects SET name = 'Roadmap' WHERE id = tap.id('P1')$$), 'conflict 409',
          'a second owner renaming to a name the primary owner already uses: conflict 409');
-- Ownership moving to an owner who already has a live project of that name.
SELECT tap.act_as(tap.id('alice'));
SELECT is(tap.err($$DELETE FROM api.project_members WHERE project_id = tap.id('P3') AND user_id = tap.id('alice')$$), 'conflict 409',
          'the primary owner leaving when the next owner already has a project of that name: conflict 409');

-- unauthenticated (401) -----------------------------------------------------------------
SELECT tap.act_as_admin();
SET LOCAL ROLE task_api_user;
SELECT '# claims: role task_api_user, no sub' FROM set_config('request.jwt.claims', '{"role":"task_api_user"}', true);
SELECT is(tap.err('SELECT task_api.pre_request()'), 'unauthenticated 401', 'pre_request: a task_api_user token without sub is unauthenticated 401');
SELECT is(tap.err($$INSERT INTO api.projects (name) VALUES ('x')$$), 'unauthenticated 401', 'POST /projects without sub: unauthenticated 401');
SELECT is(tap.err($$INSERT INTO api.tasks (project_id, title) VALUES (tap.id('P1'), 'x')$$), 'unauthenticated 401',
          'POST /tasks without sub: unauthenticated 401');
SELECT is(tap.err($$INSERT INTO api.invitations (project_id, user_id) VALUES (tap.id('P1'), tap.id('frank'))$$), 'unauthenticated 401',
          'POST /invitations without sub: unauthenticated 401');
SELECT is(tap.err($$SELECT api.accept_invitation('00000000-0000-4000-8000-000000000000')$$), 'unauthenticated 401',
          'accept_invitation without sub: unauthenticated 401');
SELECT is(tap.err($$SELECT api.decline_invitation('00000000-0000-4000-8000-000000000000')$$), 'unauthenticated 401',
          'decline_invitation without sub: unauthenticated 401');
SELECT '# claims: sub null' FROM set_config('request.jwt.claims', '{"role":"task_api_user","sub":null}', true);
SELECT is(tap.err('SELECT task_api.pre_request()'), 'unauthenticated 401', 'pre_request: sub null is unauthenticated 401');
SELECT '# claims: sub "nope"' FROM set_config('request.jwt.claims', '{"role":"task_api_user","sub":"nope"}', true);
SELECT is(tap.err('SELECT task_api.pre_request()'), 'unauthenticated 401', 'pre_request: a non-UUID sub is unauthenticated 401');
SELECT is(tap.err('SELECT 1 FROM api.projects'), 'unauthenticated 401', 'GET /projects with a non-UUID sub: unauthenticated 401, not a 500');
SELECT is(tap.err('SELECT 1 FROM api.users'), 'unauthenticated 401', 'GET /users with a non-UUID sub: unauthenticated 401');
SELECT '# claims: sub 42' FROM set_config('request.jwt.claims', '{"role":"task_api_user","sub":42}', true);
SELECT is(tap.err('SELECT task_api.pre_request()'), 'unauthenticated 401', 'pre_request: a numeric sub is unauthenticated 401');
SELECT '# claims: sub with a trailing character' FROM set_config('request.jwt.claims', '{"role":"task_api_user","sub":"a0000000-0000-4000-8000-00000000000aa"}', true);
SELECT is(tap.err('SELECT task_api.pre_request()'), 'unauthenticated 401', 'pre_request: a sub one character too long is unauthenticated 401');
SELECT '# claims: valid sub, no session' FROM set_config('request.jwt.claims', format('{"role":"task_api_user","sub":"%s"}', tap.id('alice')), true);
SELECT is(tap.err('SELECT task_api.pre_request()'), 'unauthenticated 401',
          'pre_request: a token naming a user but bound to no session or API key is unauthenticated 401');
SELECT '# claims: valid sub and its live session' FROM set_config('request.jwt.claims',
    format('{"role":"task_api_user","sub":"%s","jti":"%s"}', tap.id('alice'), tap.id('alice session')), true);
SELECT is(tap.err('SELECT task_api.pre_request()'), 'no error', 'pre_request: a token naming a user and a live session of that user passes');
SELECT '# claims: upper-case sub' FROM set_config('request.jwt.claims', format('{"role":"task_api_user","sub":"%s"}', upper(tap.id('alice')::text)), true);
SELECT is((SELECT task_api.current_user_id()), tap.id('alice'), 'an upper-case UUID sub identifies the same user');
SELECT tap.act_as_anon();
SELECT is(tap.err('SELECT task_api.pre_request()'), 'no error', 'pre_request: an anonymous request passes');
SELECT '# claims: none' FROM set_config('request.jwt.claims', '', true);
SELECT is(tap.err('SELECT task_api.pre_request()'), 'no error', 'pre_request: no claims at all passes (anonymous)');
SELECT tap.act_as_admin();

SELECT * FROM finish();
ROLLBACK;
