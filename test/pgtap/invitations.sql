-- Invitations (issue 21): who sees which invitation (RLS), what POST
-- /invitations answers (the same whether or not the invitee has an account),
-- and accept_invitation() / decline_invitation() with their error paths.
BEGIN;
SELECT plan(62);
\ir helpers/setup.psql

-- Fixtures: P (olga owner, ed editor, vi viewer); Q (ole owner); ivan, ida
-- and uma share nothing with anyone.
\o /dev/null
SELECT tap.make_user('olga', 'a1000000-0000-4000-8000-00000000000a');
SELECT tap.make_user('ed', 'a2000000-0000-4000-8000-00000000000a');
SELECT tap.make_user('vi', 'a3000000-0000-4000-8000-00000000000a');
SELECT tap.make_user('ivan', 'a4000000-0000-4000-8000-00000000000a');
SELECT tap.make_user('ida', 'a5000000-0000-4000-8000-00000000000a');
SELECT tap.make_user('ole', 'a6000000-0000-4000-8000-00000000000a');
SELECT tap.make_user('uma', 'a7000000-0000-4000-8000-00000000000a');
SELECT tap.make_project('P', tap.id('olga'));
SELECT tap.make_member(tap.id('P'), tap.id('ed'), 'editor');
SELECT tap.make_member(tap.id('P'), tap.id('vi'), 'viewer');
SELECT tap.make_project('Q', tap.id('ole'));
\o

-- Inviting -----------------------------------------------------------------------------
SELECT tap.act_as(tap.id('olga'));
CREATE TEMP TABLE made ON COMMIT DROP AS
    WITH a AS (INSERT INTO api.invitations (project_id, user_id, role) VALUES (tap.id('P'), tap.id('ivan'), 'editor') RETURNING *)
    SELECT 'ivan' AS who, a.* FROM a;
GRANT SELECT, INSERT ON made TO task_api_user;
WITH a AS (INSERT INTO api.invitations (project_id, email) VALUES (tap.id('P'), '  IDA@Example.com ') RETURNING *)
    INSERT INTO made SELECT 'ida', a.* FROM a;
WITH a AS (INSERT INTO api.invitations (project_id, email) VALUES (tap.id('P'), '  NOBODY@Example.com ') RETURNING *)
    INSERT INTO made SELECT 'nobody', a.* FROM a;
WITH a AS (INSERT INTO api.invitations (project_id, user_id) VALUES (tap.id('P'), '00000000-0000-4000-8000-0000000000aa') RETURNING *)
    INSERT INTO made SELECT 'no such id', a.* FROM a;
SELECT is((SELECT count(*) FROM made), 4::bigint, 'owner: four invitations made (two registered invitees, an unknown address, an unknown id)');
SELECT is((SELECT jsonb_object_keys_agg FROM (SELECT array_agg(k ORDER BY k) AS jsonb_object_keys_agg
             FROM jsonb_object_keys((SELECT to_jsonb(m) - 'who' FROM made m WHERE who = 'ida')) k) x),
          ARRAY['created_at', 'email', 'expires_at', 'id', 'project_id', 'project_name', 'role', 'user_id'],
          'the invitation shows id, project_id, email, user_id, role, created_at, expires_at, project_name');
SELECT is((SELECT project_name FROM made WHERE who = 'nobody'), 'P', 'the answer names the project');
SELECT is(tap.problems($$INSERT INTO api.invitations (project_id, user_id, project_name) VALUES (tap.id('P'), tap.id('uma'), 'Other')$$),
          ARRAY['project_name: is set by the server'], 'project_name is set by the server');
SELECT is((SELECT to_jsonb(m) - ARRAY['who', 'id', 'created_at', 'expires_at', 'email'] FROM made m WHERE who = 'ida'),
          (SELECT to_jsonb(m) - ARRAY['who', 'id', 'created_at', 'expires_at', 'email'] FROM made m WHERE who = 'nobody'),
          'a registered and an unregistered address get the same answer apart from id, times and the address itself');
SELECT is((SELECT to_jsonb(m) - ARRAY['who', 'id', 'created_at', 'expires_at', 'user_id'] FROM made m WHERE who = 'ivan')
              || '{"role": "viewer"}',
          (SELECT to_jsonb(m) - ARRAY['who', 'id', 'created_at', 'expires_at', 'user_id'] FROM made m WHERE who = 'no such id'),
          'an existing and an unknown user id get the same answer apart from id, times and the id itself');
SELECT is((SELECT email || ' ' || coalesce(user_id::text, 'null') FROM made WHERE who = 'ida'), 'IDA@Example.com null',
          'an invitation by email echoes the address as given (trimmed) and never the account it belongs to');
SELECT is((SELECT role::text FROM made WHERE who = 'ida'), 'viewer', 'role defaults to viewer');
SELECT ok((SELECT bool_and(expires_at = created_at + interval '7 days') FROM made),
          'expires_at is created_at + task_api.invitation_ttl (7 days by default)');
SELECT is(tap.err($$INSERT INTO api.invitations (project_id, user_id) VALUES (tap.id('P'), tap.id('ed'))$$), 'no error',
          'inviting an existing member answers like any other invitation (nothing tells who is a member)');
SELECT is(tap.err($$INSERT INTO api.invitations (project_id, user_id) VALUES (tap.id('P'), tap.id('ivan'))$$), 'conflict 409',
          'a second open invitation for the same user id: conflict 409');
SELECT is(tap.err($$INSERT INTO api.invitations (project_id, email) VALUES (tap.id('P'), 'ivan@example.com')$$), 'no error',
          'the same person by email is another invitee as given: no conflict (the owner learns nothing about whose address it is)');
SELECT is(tap.err($$INSERT INTO api.invitations (project_id, email) VALUES (tap.id('Q'), 'uma@example.com')$$), 'validation_failed 422',
          'inviting into a project one is not a member of: validation_failed (no such project)');
SELECT tap.act_as_admin();
SELECT is((SELECT count(*) FROM task_api.invitations WHERE invited_by = tap.id('olga')), 6::bigint, 'invited_by records the owner who invited');

-- Who sees which invitation ------------------------------------------------------------
SELECT tap.act_as(tap.id('olga'));
SELECT is((SELECT count(*) FROM api.invitations WHERE project_id = tap.id('P')), 6::bigint, 'owner: sees every open invitation of her project');
SELECT tap.act_as(tap.id('ed'));
SELECT is(ARRAY(SELECT user_id FROM api.invitations), ARRAY[tap.id('ed')],
          'editor: sees none of the project''s invitations but the one addressed to him');
SELECT is(ARRAY(SELECT user_id FROM task_api.invitations), ARRAY[tap.id('ed')], 'editor, table: the same');
SELECT tap.act_as(tap.id('vi'));
SELECT is_empty('SELECT 1 FROM api.invitations', 'viewer: sees none');
SELECT tap.act_as(tap.id('ole'));
SELECT is_empty('SELECT 1 FROM api.invitations', 'the owner of another project: sees none');
SELECT tap.act_as(tap.id('uma'));
SELECT is_empty('SELECT 1 FROM task_api.invitations', 'a stranger, table: sees none');
SELECT tap.act_as(tap.id('ivan'));
SELECT set_eq('SELECT id FROM api.invitations', $$SELECT id FROM made WHERE who = 'ivan'
                                                  UNION ALL SELECT i.id FROM task_api.invitations i WHERE i.email = 'ivan@example.com'$$,
              'invitee: sees the invitations to his user id and to his account''s email');
SELECT tap.act_as(tap.id('ida'));
SELECT set_eq('SELECT id FROM api.invitations', $$SELECT id FROM made WHERE who = 'ida'$$,
              'invitee: sees the invitation to her email, matched case-insensitively');
SELECT is_empty('SELECT 1 FROM api.projects', 'invitee: sees no project before accepting');
SELECT is((SELECT project_name FROM api.invitations), 'P', 'invitee: sees the name of the project she is invited to');
SELECT tap.act_as(tap.id('uma'));
SELECT is(task_api.invitation_project_name((SELECT id FROM made WHERE who = 'ida')), NULL,
          'invitation_project_name() tells nobody else the name (a stranger who knows the invitation id gets NULL)');
SELECT tap.act_as(tap.id('ed'));
SELECT is(task_api.invitation_project_name((SELECT id FROM made WHERE who = 'ida')), NULL,
          'nor a member who is not an owner');
-- Each arm of the select policy (owners' projects, user id, email) has an index.
CREATE FUNCTION pg_temp.plan_of(query text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    line text;
    plan text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
        plan := plan || line || E'\n';
    END LOOP;
    RETURN plan;
END
$f$;
SET LOCAL enable_seqscan = off;
SELECT ok(pg_temp.plan_of('SELECT id FROM task_api.invitations') ~ 'BitmapOr',
          'the select policy combines an index scan per arm (owners'' projects, user id, email): no arm forces reading every invitation');
RESET enable_seqscan;
SELECT tap.act_as_anon();
SELECT is(tap.err('SELECT 1 FROM api.invitations'), '42501', 'anonymous: GET /invitations is refused');
SELECT is(tap.err($$SELECT api.accept_invitation('00000000-0000-4000-8000-000000000000')$$), '42501', 'anonymous: accept_invitation is refused');

-- Only owners write them ---------------------------------------------------------------
SELECT tap.act_as(tap.id('ivan'));
SELECT is(tap.err($$DELETE FROM api.invitations$$), 'forbidden 403', 'invitee: DELETE /invitations (revoke) is forbidden (403)');
SELECT is(tap.row_count($$DELETE FROM task_api.invitations$$), 0::bigint, 'invitee, table: DELETE affects nothing');
SELECT is(tap.err($$UPDATE task_api.invitations SET role = 'owner'$$), '42501', 'invitee, table: no UPDATE (cannot raise his role)');
SELECT is(tap.err($$UPDATE api.invitations SET role = 'owner'$$), '42501', 'invitee: PATCH /invitations is refused');
SELECT is(tap.err($$INSERT INTO task_api.invitations (project_id, user_id, role, invited_by) VALUES (tap.id('P'), tap.id('uma'), 'owner', tap.id('ivan'))$$),
          '42501', 'invitee, table: cannot invite anyone');
SELECT tap.act_as(tap.id('ed'));
SELECT is(tap.err($$INSERT INTO api.invitations (project_id, user_id) VALUES (tap.id('P'), tap.id('uma'))$$), 'forbidden 403',
          'editor: POST /invitations is forbidden (403)');
SELECT tap.act_as(tap.id('olga'));
SELECT is(tap.err($$INSERT INTO task_api.invitations (project_id, user_id, role, invited_by) VALUES (tap.id('P'), tap.id('uma'), 'viewer', tap.id('ed'))$$),
          '42501', 'owner, table: invited_by cannot name someone else');
SELECT is(tap.err($$INSERT INTO task_api.invitations (project_id, user_id, role, invited_by, expires_at) VALUES (tap.id('P'), tap.id('uma'), 'viewer', tap.id('olga'), now() + interval '1 year')$$),
          '42501', 'owner, table: expires_at cannot be chosen');

-- Accepting and declining --------------------------------------------------------------
SELECT tap.act_as(tap.id('uma'));
SELECT is(tap.error_of(format('SELECT api.accept_invitation(%L)', (SELECT id FROM made WHERE who = 'ida'))) - 'raw_detail',
          tap.error_of($$SELECT api.accept_invitation('00000000-0000-4000-8000-000000000000')$$) - 'raw_detail',
          'someone else''s invitation: answered exactly as one that does not exist');
SELECT is(tap.err(format('SELECT api.accept_invitation(%L)', (SELECT id FROM made WHERE who = 'ida'))), 'not_found 404',
          'accepting someone else''s invitation: not_found 404');
SELECT is(tap.err(format('SELECT api.decline_invitation(%L)', (SELECT id FROM made WHERE who = 'ida'))), 'not_found 404',
          'declining someone else''s invitation: not_found 404');
SELECT tap.act_as(tap.id('ida'));
SELECT is((SELECT to_jsonb(m) - 'added_at' FROM api.accept_invitation((SELECT id FROM made WHERE who = 'ida')) m),
          jsonb_build_object('project_id', tap.id('P'), 'user_id', tap.id('ida'), 'role', 'viewer', 'email', NULL),
          'invitee: accept_invitation returns the membership as /project_members shows it');
SELECT set_eq('SELECT id FROM api.projects', ARRAY[tap.id('P')], 'invitee: sees the project at once');
SELECT ok(EXISTS (SELECT 1 FROM api.users WHERE id = tap.id('olga')), 'new member: sees the other members in /users');
SELECT is(tap.err(format('SELECT api.accept_invitation(%L)', (SELECT id FROM made WHERE who = 'ida'))), 'not_found 404',
          'accepting twice: not_found 404 (an answered invitation is gone)');
SELECT is(tap.err(format('SELECT api.decline_invitation(%L)', (SELECT id FROM made WHERE who = 'ida'))), 'not_found 404',
          'declining an accepted invitation: not_found 404');
-- Already a member: the invitation is refused as a conflict, and can be declined.
SELECT tap.act_as(tap.id('olga'));
SELECT is(tap.err($$INSERT INTO api.invitations (project_id, user_id, role) VALUES (tap.id('P'), tap.id('ida'), 'owner')$$), 'no error',
          'owner: invites a member again (answered as any invitation)');
SELECT tap.act_as(tap.id('ida'));
SELECT is(tap.err($$SELECT api.accept_invitation((SELECT id FROM api.invitations WHERE user_id = tap.id('ida')))$$), 'conflict 409',
          'accepting while already a member: conflict 409 (the role does not change)');
SELECT is((SELECT role::text FROM api.project_members WHERE project_id = tap.id('P') AND user_id = tap.id('ida')), 'viewer',
          'the member keeps her role');
SELECT lives_ok($$SELECT api.decline_invitation((SELECT id FROM api.invitations WHERE user_id = tap.id('ida')))$$, 'invitee: declines it');
SELECT is_empty('SELECT 1 FROM api.invitations', 'a declined invitation is gone');

-- Revoked
SELECT tap.act_as(tap.id('olga'));
SELECT is(tap.row_count($$DELETE FROM api.invitations WHERE user_id = tap.id('ivan')$$), 1::bigint, 'owner: DELETE /invitations revokes');
SELECT tap.act_as(tap.id('ivan'));
SELECT is(tap.err(format('SELECT api.accept_invitation(%L)', (SELECT id FROM made WHERE who = 'ivan'))), 'not_found 404',
          'accepting a revoked invitation: not_found 404');
SELECT is_empty('SELECT 1 FROM api.project_members', 'the revoked invitee is no member');

-- Expired
SELECT tap.act_as_admin();
UPDATE task_api.invitations SET expires_at = now() - interval '1 second', created_at = now() - interval '8 days'
 WHERE email = 'ivan@example.com';
SELECT tap.act_as(tap.id('ivan'));
SELECT is_empty('SELECT 1 FROM api.invitations', 'an expired invitation leaves the list');
SELECT tap.act_as_admin();
\o /dev/null
SELECT tap.name_id('expired', (SELECT id FROM task_api.invitations WHERE email = 'ivan@example.com'));
\o
SELECT tap.act_as(tap.id('ivan'));
SELECT is(tap.err(format('SELECT api.accept_invitation(%L)', tap.id('expired'))), 'conflict 409', 'accepting an expired invitation: conflict 409');
SELECT is(tap.error_of(format('SELECT api.accept_invitation(%L)', tap.id('expired'))) ->> 'message', 'this invitation has expired',
          'the conflict says it expired');
SELECT tap.act_as(tap.id('olga'));
SELECT is(tap.err($$INSERT INTO api.invitations (project_id, email) VALUES (tap.id('P'), 'Ivan@example.com')$$), 'no error',
          'owner: an expired invitation does not block a new one for the same invitee (it is replaced)');
SELECT tap.act_as_admin();
SELECT is((SELECT count(*) FROM task_api.invitations WHERE lower(email) = 'ivan@example.com'), 1::bigint, 'the expired one is gone');

-- A project in the trash
SELECT tap.act_as(tap.id('olga'));
SELECT is(tap.row_count($$DELETE FROM api.projects WHERE id = tap.id('P')$$), 1::bigint, 'owner: the project goes to the trash');
SELECT tap.act_as(tap.id('ivan'));
SELECT is(tap.err($$SELECT api.accept_invitation((SELECT id FROM api.invitations WHERE project_id = tap.id('P')))$$), 'not_found 404',
          'accepting an invitation to a project in the trash: not_found 404');

-- Purging
SELECT tap.act_as_admin();
UPDATE task_api.invitations SET expires_at = now() - interval '1 second' WHERE user_id = '00000000-0000-4000-8000-0000000000aa';
SELECT is(task_api.purge_expired_invitations(), 1::bigint, 'purge_expired_invitations() deletes the expired invitations');
SELECT is((SELECT count(*) FROM task_api.invitations WHERE expires_at > now()), (SELECT count(*) FROM task_api.invitations),
          'and only those');

SELECT * FROM finish();
ROLLBACK;
