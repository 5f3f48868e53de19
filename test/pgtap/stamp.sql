-- Server-owned bookkeeping through the API (docs/contract.md §3): version,
-- updated_at and completed_at by the stamp_row trigger, and projects.owner_id
-- moving to the next owner when the primary owner leaves or is demoted.
BEGIN;
SELECT plan(52);
\ir helpers/setup.psql

\o /dev/null
SELECT tap.make_user('alice', 'a0000000-0000-4000-8000-00000000000a');
SELECT tap.make_user('bob', 'e0000000-0000-4000-8000-00000000000b');
SELECT tap.make_user('carol', 'c0000000-0000-4000-8000-00000000000c');
SELECT tap.make_user('dave', 'd0000000-0000-4000-8000-00000000000d');
\o

-- Backdate columns the trigger owns, so that "unchanged" and "moved" can be told
-- apart inside one transaction (now() is constant in it).
CREATE FUNCTION tap.backdate_task(task uuid, updated timestamptz, completed timestamptz) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    SET LOCAL session_replication_role = replica;
    UPDATE task_api.tasks SET updated_at = updated, completed_at = coalesce(completed, completed_at) WHERE id = task;
    SET LOCAL session_replication_role = origin;
END
$$;

-- Projects ------------------------------------------------------------------------------
SELECT tap.act_as(tap.id('alice'));
SELECT results_eq($$WITH p AS (INSERT INTO api.projects (name, description) VALUES ('  Home  ', 'chores')
                               RETURNING name, owner_id, version, created_at = now() AND updated_at = now() AS stamped)
                    SELECT name, owner_id, version, stamped FROM p$$,
                  $$VALUES ('Home', tap.id('alice'), 1, true)$$,
                  'POST /projects returns the trimmed name, the caller as owner_id, version 1 and fresh timestamps');
SELECT tap.act_as_admin();
\o /dev/null
SELECT tap.name_id('Home', (SELECT id FROM task_api.projects WHERE name = 'Home'));
\o
SELECT tap.act_as(tap.id('alice'));
SELECT is((SELECT role::text FROM api.project_members WHERE project_id = tap.id('Home') AND user_id = tap.id('alice')), 'owner',
          'the creator becomes the project''s owner');
SELECT ok(substr(tap.id('Home')::text, 15, 1) = '7' AND task_api.uuidv7_time(tap.id('Home')) IS NOT NULL,
          'a new project id is a UUIDv7');
SELECT results_eq($$WITH p AS (UPDATE api.projects SET name = 'House' WHERE id = tap.id('Home') RETURNING version) SELECT version FROM p$$,
                  ARRAY[2], 'PATCH /projects name: version 2, returned in the representation');
SELECT is(tap.row_count($$UPDATE api.projects SET name = 'House' WHERE id = tap.id('Home')$$), 1::bigint, 'PATCH /projects with the same name');
SELECT is((SELECT version FROM api.projects WHERE id = tap.id('Home')), 2, 'a no-op PATCH /projects keeps the version');
SELECT is(tap.row_count($$UPDATE api.projects SET name = '  House ', description = 'chores' WHERE id = tap.id('Home')$$), 1::bigint,
          'PATCH /projects with values equal after trimming');
SELECT is((SELECT version FROM api.projects WHERE id = tap.id('Home')), 2, 'a PATCH equal after trimming keeps the version');
SELECT is(tap.row_count($$UPDATE api.projects SET description = 'chores and errands' WHERE id = tap.id('Home')$$), 1::bigint,
          'PATCH /projects description');
SELECT is((SELECT version FROM api.projects WHERE id = tap.id('Home')), 3, 'each change adds one to the version');

-- Tasks ---------------------------------------------------------------------------------
SELECT results_eq($$WITH t AS (INSERT INTO api.tasks (project_id, title) VALUES (tap.id('Home'), '  Buy milk  ')
                               RETURNING title, status::text, priority, version, completed_at IS NULL, created_by,
                                         updated_at = created_at AND created_at = now())
                    SELECT * FROM t$$,
                  $$VALUES ('Buy milk', 'todo', 2::smallint, 1, true, tap.id('alice'), true)$$,
                  'POST /tasks: trimmed title, defaults todo and 2, version 1, no completed_at, created_by the caller, fresh timestamps');
SELECT tap.act_as_admin();
\o /dev/null
SELECT tap.name_id('milk', (SELECT id FROM task_api.tasks WHERE title = 'Buy milk'));
\o
SELECT tap.act_as(tap.id('alice'));
SELECT ok(substr(tap.id('milk')::text, 15, 1) = '7', 'a new task id is a UUIDv7');

SELECT results_eq($$WITH t AS (UPDATE api.tasks SET title = 'Buy oat milk' WHERE id = tap.id('milk') RETURNING version) SELECT version FROM t$$,
                  ARRAY[2], 'PATCH /tasks title: version 2, returned in the representation');
SELECT tap.act_as_admin();
SELECT '# backdated updated_at' FROM tap.backdate_task(tap.id('milk'), '2001-01-01 00:00:00+00', NULL);
SELECT tap.act_as(tap.id('alice'));
SELECT is(tap.row_count($$UPDATE api.tasks SET title = 'Buy oat milk' WHERE id = tap.id('milk')$$), 1::bigint, 'PATCH /tasks with the same title');
SELECT is((SELECT version FROM api.tasks WHERE id = tap.id('milk')), 2, 'a no-op PATCH /tasks keeps the version');
SELECT is((SELECT updated_at FROM api.tasks WHERE id = tap.id('milk')), '2001-01-01 00:00:00+00'::timestamptz, 'a no-op PATCH /tasks keeps updated_at');
SELECT is(tap.row_count($$UPDATE api.tasks SET title = ' Buy oat milk  ' WHERE id = tap.id('milk')$$), 1::bigint,
          'PATCH /tasks with a title equal after trimming');
SELECT is((SELECT version FROM api.tasks WHERE id = tap.id('milk')), 2, 'a PATCH equal after trimming keeps the version');
SELECT is(tap.row_count($$UPDATE api.tasks t SET project_id = t.project_id, assignee_id = t.assignee_id, title = t.title,
                                               description = t.description, status = t.status, priority = t.priority, due_date = t.due_date
                          WHERE id = tap.id('milk')$$), 1::bigint, 'PATCH /tasks of every writable field with its current value');
SELECT is((SELECT version FROM api.tasks WHERE id = tap.id('milk')), 2, 'a full no-op PATCH keeps the version (full replacement by PATCH)');
SELECT is((SELECT updated_at FROM api.tasks WHERE id = tap.id('milk')), '2001-01-01 00:00:00+00'::timestamptz, 'a full no-op PATCH keeps updated_at');
SELECT is(tap.row_count($$UPDATE api.tasks SET priority = 4, due_date = '2030-01-31' WHERE id = tap.id('milk')$$), 1::bigint,
          'PATCH /tasks priority and due_date');
SELECT is((SELECT version FROM api.tasks WHERE id = tap.id('milk')), 3, 'one PATCH changing two fields adds one to the version');
SELECT is((SELECT updated_at FROM api.tasks WHERE id = tap.id('milk')), now(), 'a real change moves updated_at to now');

-- completed_at follows status done
SELECT is(tap.row_count($$UPDATE api.tasks SET status = 'done' WHERE id = tap.id('milk')$$), 1::bigint, 'PATCH /tasks status done');
SELECT is((SELECT completed_at FROM api.tasks WHERE id = tap.id('milk')), now(), 'becoming done sets completed_at');
SELECT is((SELECT version FROM api.tasks WHERE id = tap.id('milk')), 4, 'becoming done adds one to the version');
SELECT tap.act_as_admin();
SELECT '# backdated completed_at' FROM tap.backdate_task(tap.id('milk'), '2002-02-02 00:00:00+00', '2002-02-02 00:00:00+00');
SELECT tap.act_as(tap.id('alice'));
SELECT is(tap.row_count($$UPDATE api.tasks SET priority = 1 WHERE id = tap.id('milk')$$), 1::bigint, 'PATCH a done task''s priority');
SELECT is((SELECT completed_at FROM api.tasks WHERE id = tap.id('milk')), '2002-02-02 00:00:00+00'::timestamptz,
          'a change that keeps status done keeps completed_at');
SELECT is(tap.row_count($$UPDATE api.tasks SET status = 'done' WHERE id = tap.id('milk')$$), 1::bigint, 'PATCH status done again');
SELECT is((SELECT completed_at FROM api.tasks WHERE id = tap.id('milk')), '2002-02-02 00:00:00+00'::timestamptz,
          'setting done on a done task keeps completed_at');
SELECT is((SELECT version FROM api.tasks WHERE id = tap.id('milk')), 5, 'setting done on a done task keeps the version');
SELECT is(tap.row_count($$UPDATE api.tasks SET status = 'in_progress' WHERE id = tap.id('milk')$$), 1::bigint, 'PATCH status in_progress');
SELECT is((SELECT completed_at FROM api.tasks WHERE id = tap.id('milk')), NULL, 'leaving done clears completed_at');
SELECT is((SELECT version FROM api.tasks WHERE id = tap.id('milk')), 6, 'leaving done adds one to the version');
SELECT is(tap.row_count($$UPDATE api.tasks SET status = 'cancelled' WHERE id = tap.id('milk')$$), 1::bigint, 'PATCH status cancelled');
SELECT is((SELECT completed_at FROM api.tasks WHERE id = tap.id('milk')), NULL, 'cancelled is not done: completed_at stays null');
SELECT results_eq($$WITH t AS (INSERT INTO api.tasks (project_id, title, status) VALUES (tap.id('Home'), 'Already done', 'done')
                               RETURNING completed_at = now(), version)
                    SELECT * FROM t$$,
                  $$VALUES (true, 1)$$, 'POST /tasks with status done sets completed_at at once, version 1');

-- owner_id moves to the longest-standing remaining owner --------------------------------
-- bob's id sorts after carol's, so only added_at can make bob the next owner.
SELECT tap.act_as_admin();
\o /dev/null
SELECT tap.make_project('Team', tap.id('alice'));
UPDATE task_api.project_members SET added_at = now() - interval '3 hours' WHERE project_id = tap.id('Team');
SELECT tap.make_member(tap.id('Team'), tap.id('carol'), 'owner');
SELECT tap.make_member(tap.id('Team'), tap.id('bob'), 'owner');
UPDATE task_api.project_members SET added_at = now() - interval '2 hours' WHERE project_id = tap.id('Team') AND user_id = tap.id('bob');
UPDATE task_api.project_members SET added_at = now() - interval '1 hour' WHERE project_id = tap.id('Team') AND user_id = tap.id('carol');
SELECT tap.make_member(tap.id('Team'), tap.id('dave'), 'editor');
\o
SELECT tap.act_as(tap.id('alice'));
SELECT is((SELECT version FROM api.projects WHERE id = tap.id('Team')), 1, 'Team starts at version 1');
SELECT is(tap.row_count($$DELETE FROM api.project_members WHERE project_id = tap.id('Team') AND user_id = tap.id('alice')$$), 1::bigint,
          'the primary owner leaves');
SELECT is_empty($$SELECT 1 FROM api.projects WHERE id = tap.id('Team')$$, 'the former primary owner no longer sees the project');
SELECT tap.act_as(tap.id('carol'));
SELECT is((SELECT owner_id FROM api.projects WHERE id = tap.id('Team')), tap.id('bob'),
          'owner_id moves to the longest-standing remaining owner');
SELECT is((SELECT version FROM api.projects WHERE id = tap.id('Team')), 2, 'the owner change adds one to the project''s version');
SELECT is(tap.row_count($$DELETE FROM api.project_members WHERE project_id = tap.id('Team') AND user_id = tap.id('carol')$$), 1::bigint,
          'a second owner leaves');
SELECT tap.act_as(tap.id('bob'));
SELECT is((SELECT owner_id FROM api.projects WHERE id = tap.id('Team')), tap.id('bob'), 'a non-primary owner leaving keeps owner_id');
SELECT is(tap.row_count($$UPDATE api.project_members SET role = 'owner' WHERE project_id = tap.id('Team') AND user_id = tap.id('dave')$$), 1::bigint,
          'the owner promotes dave');
SELECT is((SELECT owner_id FROM api.projects WHERE id = tap.id('Team')), tap.id('bob'), 'promoting another owner keeps owner_id');
SELECT is(tap.row_count($$UPDATE api.project_members SET role = 'editor' WHERE project_id = tap.id('Team') AND user_id = tap.id('bob')$$), 1::bigint,
          'the primary owner demotes himself to editor');
SELECT is((SELECT owner_id FROM api.projects WHERE id = tap.id('Team')), tap.id('dave'), 'demoting the primary owner moves owner_id to the remaining owner');
SELECT ok(EXISTS (SELECT 1 FROM api.tasks t RIGHT JOIN api.projects p ON p.id = t.project_id WHERE p.id = tap.id('Team')),
          'the demoted owner still sees the project as an editor');
SELECT tap.act_as_admin();

-- Names are unique per owner: owner_id skips a remaining owner who already has
-- a live project of the same name.
\o /dev/null
SELECT tap.make_project('Dup', tap.id('alice'));
SELECT tap.name_id('bob Dup', tap.make_project('Dup (bob)', tap.id('bob')));
UPDATE task_api.projects SET name = 'Dup' WHERE id = tap.id('bob Dup');
SELECT tap.make_member(tap.id('Dup'), tap.id('bob'), 'owner');
SELECT tap.make_member(tap.id('Dup'), tap.id('carol'), 'owner');
UPDATE task_api.project_members SET added_at = now() - interval '2 hours' WHERE project_id = tap.id('Dup') AND user_id = tap.id('bob');
UPDATE task_api.project_members SET added_at = now() - interval '1 hour' WHERE project_id = tap.id('Dup') AND user_id = tap.id('carol');
\o
SELECT tap.act_as(tap.id('alice'));
SELECT is(tap.row_count($$DELETE FROM api.project_members WHERE project_id = tap.id('Dup') AND user_id = tap.id('alice')$$), 1::bigint,
          'the primary owner of Dup leaves');
SELECT tap.act_as_admin();
SELECT is((SELECT owner_id FROM task_api.projects WHERE id = tap.id('Dup')), tap.id('carol'),
          'owner_id skips the older owner who already owns a live Dup and goes to the next owner');

SELECT * FROM finish();
ROLLBACK;
