-- Row-level security per role (docs/contract.md §5): owner, editor, viewer,
-- non-member and anonymous, through the api views and, for defense in
-- depth, directly on the task_api tables as task_api_user.
BEGIN;
SELECT plan(138);
\ir helpers/setup.psql

-- Fixtures: P1 (alice owner, bob editor, carol viewer) with tasks t1 and t2;
-- P2 (dave owner, erin viewer) with task t3; frank and zed share nothing.
\o /dev/null
SELECT tap.make_user('alice', 'a0000000-0000-4000-8000-00000000000a');
SELECT tap.make_user('bob', 'b0000000-0000-4000-8000-00000000000b');
SELECT tap.make_user('carol', 'c0000000-0000-4000-8000-00000000000c');
SELECT tap.make_user('dave', 'd0000000-0000-4000-8000-00000000000d');
SELECT tap.make_user('erin', 'e0000000-0000-4000-8000-00000000000e');
SELECT tap.make_user('frank', 'f0000000-0000-4000-8000-00000000000f');
SELECT tap.make_user('zed', '90000000-0000-4000-8000-000000000009');
SELECT tap.make_project('P1', tap.id('alice'));
SELECT tap.make_member(tap.id('P1'), tap.id('bob'), 'editor');
SELECT tap.make_member(tap.id('P1'), tap.id('carol'), 'viewer');
SELECT tap.make_project('P2', tap.id('dave'));
SELECT tap.make_member(tap.id('P2'), tap.id('erin'), 'viewer');
SELECT tap.make_task('t1', tap.id('P1'), tap.id('alice'));
SELECT tap.make_task('t2', tap.id('P1'), tap.id('alice'));
SELECT tap.make_task('t3', tap.id('P2'), tap.id('dave'));
UPDATE task_api.tasks SET assignee_id = tap.id('bob') WHERE id = tap.id('t1');
\o

-- Reads ------------------------------------------------------------------------------
SELECT tap.act_as(tap.id('alice'));
SELECT set_eq('SELECT id FROM api.projects', ARRAY[tap.id('P1')], 'owner: sees exactly her project');
SELECT set_eq('SELECT id FROM api.tasks', ARRAY[tap.id('t1'), tap.id('t2')], 'owner: sees exactly her project''s tasks');
SELECT set_eq('SELECT user_id FROM api.project_members', ARRAY[tap.id('alice'), tap.id('bob'), tap.id('carol')],
              'owner: sees exactly her project''s members');
SELECT set_eq($$SELECT user_id::text || ' ' || role FROM api.project_members$$,
              ARRAY[tap.id('alice') || ' owner', tap.id('bob') || ' editor', tap.id('carol') || ' viewer'],
              'owner: sees each member''s role');
SELECT set_eq('SELECT id FROM api.users', ARRAY[tap.id('alice'), tap.id('bob'), tap.id('carol')],
              'owner: api.users is herself and the users who share a project with her');
SELECT is((SELECT email FROM api.users WHERE id = tap.id('alice')), 'alice@example.com', 'users: the caller''s own email is shown');
SELECT is_empty($$SELECT id FROM api.users WHERE email IS NOT NULL AND id <> tap.id('alice')$$, 'users: every other user''s email is null');
SELECT is((SELECT display_name FROM api.users WHERE id = tap.id('bob')), 'Bob', 'users: other members'' display_name is shown');
SELECT is_empty($$SELECT 1 FROM api.project_members WHERE email IS NOT NULL$$, 'project_members.email is write-only (always null when read)');

SELECT tap.act_as(tap.id('bob'));
SELECT set_eq('SELECT id FROM api.projects', ARRAY[tap.id('P1')], 'editor: sees the project');
SELECT set_eq('SELECT id FROM api.tasks', ARRAY[tap.id('t1'), tap.id('t2')], 'editor: sees its tasks');
SELECT set_eq('SELECT user_id FROM api.project_members', ARRAY[tap.id('alice'), tap.id('bob'), tap.id('carol')], 'editor: sees its members');
SELECT set_eq('SELECT id FROM api.users', ARRAY[tap.id('alice'), tap.id('bob'), tap.id('carol')], 'editor: sees the users sharing the project');
SELECT is((SELECT email FROM api.users WHERE id = tap.id('bob')), 'bob@example.com', 'editor: sees his own email');
SELECT is((SELECT email FROM api.users WHERE id = tap.id('alice')), NULL, 'editor: does not see the owner''s email');

SELECT tap.act_as(tap.id('carol'));
SELECT set_eq('SELECT id FROM api.projects', ARRAY[tap.id('P1')], 'viewer: sees the project');
SELECT set_eq('SELECT id FROM api.tasks', ARRAY[tap.id('t1'), tap.id('t2')], 'viewer: sees its tasks');
SELECT set_eq('SELECT user_id FROM api.project_members', ARRAY[tap.id('alice'), tap.id('bob'), tap.id('carol')], 'viewer: sees its members');
SELECT set_eq('SELECT id FROM api.users', ARRAY[tap.id('alice'), tap.id('bob'), tap.id('carol')], 'viewer: sees the users sharing the project');

SELECT tap.act_as(tap.id('dave'));
SELECT set_eq('SELECT id FROM api.projects', ARRAY[tap.id('P2')], 'non-member: sees only his own project, not P1');
SELECT set_eq('SELECT id FROM api.tasks', ARRAY[tap.id('t3')], 'non-member: sees none of P1''s tasks');
SELECT set_eq('SELECT user_id FROM api.project_members', ARRAY[tap.id('dave'), tap.id('erin')], 'non-member: sees none of P1''s members');
SELECT set_eq('SELECT id FROM api.users', ARRAY[tap.id('dave'), tap.id('erin')], 'non-member: sees none of P1''s users');
SELECT is_empty($$SELECT 1 FROM api.tasks WHERE id = tap.id('t1')$$, 'non-member: GET /tasks?id=eq.<t1> returns nothing');
SELECT is_empty($$SELECT 1 FROM api.projects WHERE id = tap.id('P1')$$, 'non-member: GET /projects?id=eq.<P1> returns nothing');
SELECT is_empty($$SELECT 1 FROM api.users WHERE id = tap.id('alice')$$, 'non-member: GET /users?id=eq.<alice> returns nothing');
-- Defense in depth: the tables themselves, as task_api_user.
SELECT set_eq('SELECT id FROM task_api.projects', ARRAY[tap.id('P2')], 'non-member, table: task_api.projects hides P1');
SELECT set_eq('SELECT id FROM task_api.tasks', ARRAY[tap.id('t3')], 'non-member, table: task_api.tasks hides P1''s tasks');
SELECT set_eq('SELECT user_id FROM task_api.project_members', ARRAY[tap.id('dave'), tap.id('erin')], 'non-member, table: task_api.project_members hides P1''s members');
SELECT set_eq('SELECT id FROM task_api.users', ARRAY[tap.id('dave'), tap.id('erin')], 'non-member, table: task_api.users hides P1''s users');

SELECT tap.act_as(tap.id('frank'));
SELECT is_empty('SELECT 1 FROM api.projects', 'user in no project: sees no project');
SELECT is_empty('SELECT 1 FROM api.tasks', 'user in no project: sees no task');
SELECT is_empty('SELECT 1 FROM api.project_members', 'user in no project: sees no membership');
SELECT set_eq('SELECT id FROM api.users', ARRAY[tap.id('frank')], 'user in no project: sees only himself');

-- task_api_user with no sub claim (pre_request refuses it; RLS must not rely on that).
SELECT tap.act_as_admin();
SELECT '# as task_api_user without a sub claim' FROM set_config('request.jwt.claims', '{"role":"task_api_user"}', true);
SET LOCAL ROLE task_api_user;
SELECT is_empty('SELECT 1 FROM api.projects', 'no sub: sees no project');
SELECT is_empty('SELECT 1 FROM api.tasks', 'no sub: sees no task');
SELECT is_empty('SELECT 1 FROM api.project_members', 'no sub: sees no membership');
SELECT is_empty('SELECT 1 FROM api.users', 'no sub: sees no user');
SELECT is(tap.row_count($$UPDATE api.tasks SET title = 'x'$$), 0::bigint, 'no sub: PATCH /tasks affects nothing');
SELECT is(tap.row_count($$DELETE FROM task_api.tasks$$), 0::bigint, 'no sub, table: DELETE task_api.tasks affects nothing');

-- Anonymous role: nothing at all.
SELECT tap.act_as_anon();
SELECT is(tap.err('SELECT 1 FROM api.tasks'), '42501', 'anonymous: GET /tasks is refused');
SELECT is(tap.err('SELECT 1 FROM api.project_members'), '42501', 'anonymous: GET /project_members is refused');
SELECT is(tap.err('SELECT 1 FROM task_api.projects'), '42501', 'anonymous, table: task_api.projects is refused');
SELECT is(tap.err($$DELETE FROM api.tasks$$), '42501', 'anonymous: DELETE /tasks is refused');

-- Viewer writes ----------------------------------------------------------------------
SELECT tap.act_as(tap.id('carol'));
SELECT is(tap.err($$INSERT INTO api.tasks (project_id, title) VALUES (tap.id('P1'), 'by carol')$$), 'forbidden 403',
          'viewer: POST /tasks is forbidden (403)');
SELECT is(tap.err($$UPDATE api.tasks SET title = 'by carol' WHERE id = tap.id('t1')$$), 'forbidden 403',
          'viewer: PATCH /tasks is forbidden (403)');
SELECT is(tap.err($$DELETE FROM api.tasks WHERE id = tap.id('t1')$$), 'forbidden 403', 'viewer: DELETE /tasks is forbidden (403)');
SELECT is(tap.err($$UPDATE api.projects SET name = 'by carol' WHERE id = tap.id('P1')$$), 'forbidden 403',
          'viewer: PATCH /projects is forbidden (403)');
SELECT is(tap.err($$DELETE FROM api.projects WHERE id = tap.id('P1')$$), 'forbidden 403', 'viewer: DELETE /projects is forbidden (403)');
SELECT is(tap.err($$INSERT INTO api.invitations (project_id, user_id) VALUES (tap.id('P1'), tap.id('frank'))$$), 'forbidden 403',
          'viewer: POST /invitations is forbidden (403)');
SELECT is(tap.err($$UPDATE api.project_members SET role = 'owner' WHERE user_id = tap.id('carol')$$), 'forbidden 403',
          'viewer: cannot promote herself (403)');
SELECT is(tap.err($$INSERT INTO task_api.tasks (project_id, title, created_by) VALUES (tap.id('P1'), 'by carol', tap.id('carol'))$$),
          '42501', 'viewer, table: INSERT INTO task_api.tasks violates RLS');
SELECT is(tap.row_count($$UPDATE task_api.tasks SET title = 'by carol' WHERE id = tap.id('t1')$$), 0::bigint,
          'viewer, table: UPDATE task_api.tasks affects nothing');
SELECT is(tap.row_count($$DELETE FROM task_api.tasks WHERE id = tap.id('t1')$$), 0::bigint, 'viewer, table: DELETE task_api.tasks affects nothing');
SELECT is(tap.row_count($$UPDATE task_api.project_members SET role = 'owner' WHERE user_id = tap.id('carol')$$), 0::bigint,
          'viewer, table: cannot promote herself in task_api.project_members');
SELECT is(tap.row_count($$UPDATE task_api.projects SET name = 'by carol' WHERE id = tap.id('P1')$$), 0::bigint,
          'viewer, table: UPDATE task_api.projects affects nothing');

-- Editor writes ----------------------------------------------------------------------
SELECT tap.act_as(tap.id('bob'));
SELECT is(tap.row_count($$INSERT INTO api.tasks (project_id, title) VALUES (tap.id('P1'), 'by bob')$$), 1::bigint, 'editor: POST /tasks creates a task');
SELECT is((SELECT created_by FROM api.tasks WHERE title = 'by bob'), tap.id('bob'), 'editor: the new task''s created_by is the caller');
SELECT is(tap.row_count($$UPDATE api.tasks SET status = 'in_progress' WHERE id = tap.id('t2')$$), 1::bigint, 'editor: PATCH /tasks updates a task');
SELECT is(tap.row_count($$DELETE FROM api.tasks WHERE title = 'by bob'$$), 1::bigint, 'editor: DELETE /tasks deletes a task');
SELECT is_empty($$SELECT 1 FROM api.tasks WHERE title = 'by bob'$$, 'editor: a deleted task leaves /tasks at once');
SELECT is(tap.err($$UPDATE api.projects SET name = 'by bob' WHERE id = tap.id('P1')$$), 'forbidden 403', 'editor: PATCH /projects is forbidden (403)');
SELECT is(tap.err($$DELETE FROM api.projects WHERE id = tap.id('P1')$$), 'forbidden 403', 'editor: DELETE /projects is forbidden (403)');
SELECT is(tap.err($$INSERT INTO api.invitations (project_id, user_id) VALUES (tap.id('P1'), tap.id('frank'))$$), 'forbidden 403',
          'editor: POST /invitations is forbidden (403)');
SELECT is(tap.err($$UPDATE api.project_members SET role = 'editor' WHERE user_id = tap.id('carol')$$), 'forbidden 403',
          'editor: PATCH /project_members is forbidden (403)');
SELECT is(tap.err($$DELETE FROM api.project_members WHERE user_id = tap.id('carol')$$), 'forbidden 403',
          'editor: removing another member is forbidden (403)');
SELECT is(tap.row_count($$UPDATE task_api.projects SET name = 'by bob' WHERE id = tap.id('P1')$$), 0::bigint,
          'editor, table: UPDATE task_api.projects affects nothing');
SELECT is(tap.row_count($$DELETE FROM task_api.projects WHERE id = tap.id('P1')$$), 0::bigint, 'editor, table: DELETE task_api.projects affects nothing');
SELECT is(tap.err($$INSERT INTO task_api.project_members (project_id, user_id, role) VALUES (tap.id('P1'), tap.id('frank'), 'viewer')$$),
          '42501', 'editor, table: INSERT INTO task_api.project_members is refused (nobody has INSERT on it)');
SELECT is(tap.err($$INSERT INTO task_api.invitations (project_id, user_id, role, invited_by) VALUES (tap.id('P1'), tap.id('frank'), 'viewer', tap.id('bob'))$$),
          '42501', 'editor, table: INSERT INTO task_api.invitations violates RLS');
SELECT is(tap.row_count($$UPDATE task_api.project_members SET role = 'owner' WHERE user_id = tap.id('bob')$$), 0::bigint,
          'editor, table: cannot promote himself');
SELECT is(tap.row_count($$DELETE FROM task_api.project_members WHERE user_id = tap.id('carol')$$), 0::bigint,
          'editor, table: cannot remove another member');

-- Non-member writes: as if absent --------------------------------------------------------
SELECT tap.act_as(tap.id('dave'));
SELECT is(tap.row_count($$UPDATE api.tasks SET title = 'by dave' WHERE id = tap.id('t1')$$), 0::bigint, 'non-member: PATCH /tasks?id=eq.<t1> affects nothing');
SELECT is(tap.row_count($$DELETE FROM api.tasks WHERE id = tap.id('t1')$$), 0::bigint, 'non-member: DELETE /tasks?id=eq.<t1> affects nothing');
SELECT is(tap.row_count($$UPDATE api.projects SET name = 'by dave' WHERE id = tap.id('P1')$$), 0::bigint, 'non-member: PATCH /projects affects nothing');
SELECT is(tap.row_count($$DELETE FROM api.projects WHERE id = tap.id('P1')$$), 0::bigint, 'non-member: DELETE /projects affects nothing');
SELECT is(tap.row_count($$UPDATE api.project_members SET role = 'owner' WHERE project_id = tap.id('P1')$$), 0::bigint,
          'non-member: PATCH /project_members affects nothing');
SELECT is(tap.row_count($$DELETE FROM api.project_members WHERE project_id = tap.id('P1')$$), 0::bigint,
          'non-member: DELETE /project_members affects nothing');
SELECT is(tap.row_count($$UPDATE api.users SET display_name = 'by dave' WHERE id = tap.id('alice')$$), 0::bigint,
          'non-member: PATCH /users of an unseen user affects nothing');
-- A project he cannot see answers exactly like one that does not exist.
SELECT is(tap.error_of($$INSERT INTO api.tasks (project_id, title) VALUES (tap.id('P1'), 'by dave')$$) - 'raw_detail',
          tap.error_of($$INSERT INTO api.tasks (project_id, title) VALUES ('00000000-0000-4000-8000-000000000000', 'by dave')$$) - 'raw_detail',
          'non-member: POST /tasks into a hidden project is answered as for a missing one (no existence leak)');
SELECT is(tap.problems($$INSERT INTO api.tasks (project_id, title) VALUES (tap.id('P1'), 'by dave')$$),
          ARRAY['project_id: no such project'], 'non-member: POST /tasks into a hidden project is validation_failed on project_id');
SELECT is(tap.error_of($$INSERT INTO api.invitations (project_id, user_id) VALUES (tap.id('P1'), tap.id('dave'))$$) - 'raw_detail',
          tap.error_of($$INSERT INTO api.invitations (project_id, user_id) VALUES ('00000000-0000-4000-8000-000000000000', tap.id('dave'))$$) - 'raw_detail',
          'non-member: inviting into a hidden project is answered as for a missing one');
SELECT is(tap.err($$INSERT INTO task_api.tasks (project_id, title, created_by) VALUES (tap.id('P1'), 'by dave', tap.id('dave'))$$),
          '42501', 'non-member, table: INSERT INTO task_api.tasks violates RLS');
SELECT is(tap.err($$INSERT INTO task_api.project_members (project_id, user_id, role) VALUES (tap.id('P1'), tap.id('dave'), 'owner')$$),
          '42501', 'non-member, table: cannot add himself to task_api.project_members');
SELECT is(tap.err($$INSERT INTO task_api.invitations (project_id, user_id, role, invited_by) VALUES (tap.id('P1'), tap.id('dave'), 'owner', tap.id('dave'))$$),
          '42501', 'non-member, table: cannot invite himself into task_api.invitations');
SELECT is(tap.row_count($$UPDATE task_api.tasks SET title = 'by dave' WHERE id = tap.id('t1')$$), 0::bigint,
          'non-member, table: UPDATE task_api.tasks affects nothing');
SELECT is(tap.row_count($$DELETE FROM task_api.tasks WHERE project_id = tap.id('P1')$$), 0::bigint,
          'non-member, table: DELETE task_api.tasks affects nothing');
SELECT is(tap.row_count($$UPDATE task_api.users SET display_name = 'by dave' WHERE id = tap.id('alice')$$), 0::bigint,
          'non-member, table: UPDATE task_api.users of another user affects nothing');

SELECT tap.act_as_admin();
SELECT is((SELECT title FROM task_api.tasks WHERE id = tap.id('t1')), 't1', 'nothing the viewer or the non-member tried changed t1');
SELECT is((SELECT name FROM task_api.projects WHERE id = tap.id('P1')), 'P1', 'nothing the editor, viewer or non-member tried changed P1');
SELECT is((SELECT count(*) FROM task_api.project_members WHERE project_id = tap.id('P1')), 3::bigint, 'P1 still has its three members');

-- Owner writes ----------------------------------------------------------------------
SELECT tap.act_as(tap.id('alice'));
SELECT is(tap.row_count($$UPDATE api.projects SET description = 'by alice' WHERE id = tap.id('P1')$$), 1::bigint, 'owner: PATCH /projects');
SELECT is(tap.row_count($$INSERT INTO api.invitations (project_id, email, role) VALUES (tap.id('P1'), ' FRANK@Example.COM ', 'viewer')$$),
          1::bigint, 'owner: POST /invitations by email');
SELECT is((SELECT email FROM api.invitations WHERE project_id = tap.id('P1')), 'FRANK@Example.COM',
          'owner: sees the invitation, with the address as given (trimmed)');
SELECT ok(NOT EXISTS (SELECT 1 FROM api.project_members WHERE user_id = tap.id('frank')), 'owner: an invitation makes nobody a member');
SELECT ok(NOT EXISTS (SELECT 1 FROM api.users WHERE id = tap.id('frank')), 'owner: the invitee does not appear in /users before accepting');
SELECT tap.act_as(tap.id('frank'));
SELECT ok(NOT EXISTS (SELECT 1 FROM api.users WHERE id = tap.id('alice')), 'invitee: the owner does not appear in /users before accepting');
SELECT is_empty('SELECT 1 FROM api.projects', 'invitee: sees no project before accepting');
SELECT is((SELECT role::text FROM api.invitations WHERE project_id = tap.id('P1')), 'viewer',
          'invitee: sees the invitation addressed to his account''s email (case-insensitively)');
SELECT is((api.accept_invitation((SELECT id FROM api.invitations WHERE project_id = tap.id('P1')))).role::text, 'viewer',
          'invitee: accept_invitation() makes him a member with the invited role');
SELECT is_empty('SELECT 1 FROM api.invitations', 'invitee: the accepted invitation is gone');
SELECT ok(EXISTS (SELECT 1 FROM api.users WHERE id = tap.id('alice')), 'new member: the owner appears in /users');
SELECT tap.act_as(tap.id('alice'));
SELECT is((SELECT role::text FROM api.project_members WHERE project_id = tap.id('P1') AND user_id = tap.id('frank')), 'viewer',
          'owner: the invitee is a member with the given role');
SELECT ok(EXISTS (SELECT 1 FROM api.users WHERE id = tap.id('frank')), 'owner: the new member appears in /users');
SELECT is(tap.row_count($$UPDATE api.project_members SET role = 'editor' WHERE project_id = tap.id('P1') AND user_id = tap.id('frank')$$),
          1::bigint, 'owner: PATCH /project_members changes a role');
SELECT is(tap.row_count($$INSERT INTO api.tasks (project_id, title, assignee_id) VALUES (tap.id('P1'), 'by alice', tap.id('frank'))$$),
          1::bigint, 'owner: POST /tasks assigned to a member');
SELECT is(tap.row_count($$UPDATE api.projects SET description = 'by alice' WHERE id = tap.id('P2')$$), 0::bigint, 'owner: PATCH of another''s project affects nothing');
SELECT is(tap.row_count($$UPDATE api.users SET display_name = '  Alice A.  ' WHERE id = tap.id('alice')$$), 1::bigint, 'PATCH /users of yourself');
SELECT is((SELECT display_name FROM api.users WHERE id = tap.id('alice')), 'Alice A.', 'PATCH /users trims display_name');
SELECT is(tap.err($$UPDATE api.users SET display_name = 'by alice' WHERE id = tap.id('bob')$$), 'forbidden 403',
          'PATCH /users of another visible user is forbidden (403)');

SELECT tap.act_as(tap.id('frank'));
SELECT set_eq('SELECT id FROM api.projects', ARRAY[tap.id('P1')], 'a new member sees the project at once');
SELECT ok(EXISTS (SELECT 1 FROM api.tasks WHERE id = tap.id('t1')), 'a new member sees its tasks at once');

-- A role change takes effect at once, both ways.
SELECT tap.act_as(tap.id('alice'));
SELECT is(tap.row_count($$UPDATE api.project_members SET role = 'editor' WHERE project_id = tap.id('P1') AND user_id = tap.id('carol')$$),
          1::bigint, 'owner: promote the viewer to editor');
SELECT tap.act_as(tap.id('carol'));
SELECT is(tap.row_count($$INSERT INTO api.tasks (project_id, title) VALUES (tap.id('P1'), 'by carol')$$), 1::bigint,
          'promoted to editor: POST /tasks works at once');
SELECT is(tap.row_count($$UPDATE task_api.tasks SET title = 'by carol, edited' WHERE title = 'by carol'$$), 1::bigint,
          'promoted to editor, table: UPDATE task_api.tasks works at once');
SELECT tap.act_as(tap.id('alice'));
SELECT is(tap.row_count($$UPDATE api.project_members SET role = 'viewer' WHERE project_id = tap.id('P1') AND user_id = tap.id('carol')$$),
          1::bigint, 'owner: demote her back to viewer');
SELECT tap.act_as(tap.id('carol'));
SELECT is(tap.err($$INSERT INTO api.tasks (project_id, title) VALUES (tap.id('P1'), 'by carol again')$$), 'forbidden 403',
          'demoted to viewer: POST /tasks is forbidden at once');
SELECT is(tap.row_count($$UPDATE task_api.tasks SET title = 'by carol, again' WHERE title = 'by carol, edited'$$), 0::bigint,
          'demoted to viewer, table: UPDATE task_api.tasks affects nothing at once');
SELECT ok(EXISTS (SELECT 1 FROM api.tasks WHERE title = 'by carol, edited'), 'demoted to viewer: still reads the tasks');

-- A removed member loses sight of everything at once ----------------------------------
SELECT tap.act_as(tap.id('alice'));
SELECT is(tap.row_count($$DELETE FROM api.project_members WHERE project_id = tap.id('P1') AND user_id = tap.id('bob')$$), 1::bigint,
          'owner: DELETE /project_members removes the editor');
SELECT is((SELECT assignee_id FROM api.tasks WHERE id = tap.id('t1')), NULL, 'the removed member''s tasks become unassigned');
SELECT ok(NOT EXISTS (SELECT 1 FROM api.users WHERE id = tap.id('bob')), 'the removed member leaves the owner''s /users');
SELECT tap.act_as(tap.id('bob'));
SELECT is_empty('SELECT 1 FROM api.projects', 'removed member: sees no project');
SELECT is_empty('SELECT 1 FROM api.tasks', 'removed member: sees no task');
SELECT is_empty('SELECT 1 FROM api.project_members', 'removed member: sees no membership');
SELECT set_eq('SELECT id FROM api.users', ARRAY[tap.id('bob')], 'removed member: sees only himself in /users');
SELECT is_empty('SELECT 1 FROM task_api.tasks', 'removed member, table: sees no task');
SELECT is(tap.row_count($$UPDATE api.tasks SET title = 'by bob' WHERE id = tap.id('t1')$$), 0::bigint, 'removed member: can no longer PATCH tasks');

-- Any member may leave
SELECT tap.act_as(tap.id('carol'));
SELECT is(tap.row_count($$DELETE FROM api.project_members WHERE project_id = tap.id('P1') AND user_id = tap.id('carol')$$), 1::bigint,
          'viewer: may leave the project (DELETE her own membership)');
SELECT is_empty('SELECT 1 FROM api.projects', 'after leaving: sees no project');
SELECT is_empty('SELECT 1 FROM api.tasks', 'after leaving: sees no task');

-- An owner deletes the project: it leaves every member's view at once.
SELECT tap.act_as(tap.id('dave'));
SELECT is(tap.row_count($$DELETE FROM api.projects WHERE id = tap.id('P2')$$), 1::bigint, 'owner: DELETE /projects');
SELECT is_empty('SELECT 1 FROM api.projects', 'owner: the deleted project is gone from /projects');
SELECT tap.act_as(tap.id('erin'));
SELECT is_empty('SELECT 1 FROM api.projects', 'member of a deleted project: it is gone from /projects');
SELECT is_empty('SELECT 1 FROM api.tasks', 'member of a deleted project: its tasks are gone from /tasks');
SELECT is_empty('SELECT 1 FROM api.project_members', 'member of a deleted project: its memberships are gone');

-- Defense in depth: server-owned columns cannot be forged in the tables ---------------
-- projects_select lets owner_id see the project, so owner_id must never name a
-- non-member: an owner writing the table directly must not hand it to a stranger.
SELECT tap.act_as(tap.id('alice'));
SELECT '# direct owner_id hand-off: ' || tap.err($$UPDATE task_api.projects SET owner_id = tap.id('zed') WHERE id = tap.id('P1')$$);
SELECT tap.act_as(tap.id('zed'));
SELECT is_empty('SELECT 1 FROM api.projects',
                'a user who was never a member cannot be made to see a project by writing task_api.projects.owner_id');
SELECT tap.act_as(tap.id('frank'));
SELECT '# direct created_by forgery: ' || tap.err($$UPDATE task_api.tasks SET created_by = tap.id('zed') WHERE id = tap.id('t1')$$);
SELECT tap.act_as_admin();
SELECT is((SELECT created_by FROM task_api.tasks WHERE id = tap.id('t1')), tap.id('alice'),
          'an editor cannot forge tasks.created_by by writing the table directly');

SELECT * FROM finish();
ROLLBACK;
