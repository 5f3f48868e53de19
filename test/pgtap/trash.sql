-- Soft delete, the trash, restore and purge (docs/contract.md §9): trash
-- bookkeeping, RLS on api.trash per role, restore and purge rights,
-- purge_expired(), and the generic soft_delete() trigger on a user table.
BEGIN;
SELECT plan(95);
\ir helpers/setup.psql

-- Fixtures: P (alice owner, bob editor, carol viewer) with tasks t1, t2, t3;
-- Q (alice owner, bob editor, carol viewer) with tasks q1, q2; dave shares nothing.
\o /dev/null
SELECT tap.make_user('alice', 'a0000000-0000-4000-8000-00000000000a');
SELECT tap.make_user('bob', 'b0000000-0000-4000-8000-00000000000b');
SELECT tap.make_user('carol', 'c0000000-0000-4000-8000-00000000000c');
SELECT tap.make_user('dave', 'd0000000-0000-4000-8000-00000000000d');
SELECT tap.make_project('P', tap.id('alice'));
SELECT tap.make_member(tap.id('P'), tap.id('bob'), 'editor');
SELECT tap.make_member(tap.id('P'), tap.id('carol'), 'viewer');
SELECT tap.make_project('Q', tap.id('alice'));
SELECT tap.make_member(tap.id('Q'), tap.id('bob'), 'editor');
SELECT tap.make_member(tap.id('Q'), tap.id('carol'), 'viewer');
SELECT tap.make_task('t1', tap.id('P'), tap.id('alice'));
SELECT tap.make_task('t2', tap.id('P'), tap.id('alice'));
SELECT tap.make_task('t3', tap.id('P'), tap.id('alice'));
SELECT tap.make_task('q1', tap.id('Q'), tap.id('alice'));
SELECT tap.make_task('q2', tap.id('Q'), tap.id('alice'));
\o

-- Deleting moves to the trash ----------------------------------------------------------
SELECT tap.act_as(tap.id('carol'));
SELECT is(tap.err(format('DELETE FROM api.tasks WHERE id = %L', tap.id('q1'))), 'forbidden 403',
          'a viewer cannot DELETE a task (forbidden 403)');
SELECT tap.act_as(tap.id('dave'));
SELECT is(tap.row_count(format('DELETE FROM api.tasks WHERE id = %L', tap.id('q1'))), 0::bigint,
          'a non-member''s DELETE of a task affects nothing');
SELECT is(tap.row_count(format('DELETE FROM api.projects WHERE id = %L', tap.id('Q'))), 0::bigint,
          'a non-member''s DELETE of a project affects nothing');
SELECT tap.act_as(tap.id('bob'));
SELECT is(tap.err(format('DELETE FROM api.projects WHERE id = %L', tap.id('Q'))), 'forbidden 403',
          'an editor cannot DELETE a project (forbidden 403)');
SELECT is(tap.row_count(format('DELETE FROM api.tasks WHERE id = %L', tap.id('q1'))), 1::bigint,
          'an editor DELETEs a task: one row');
SELECT is_empty(format('SELECT id FROM api.tasks WHERE id = %L', tap.id('q1')), 'the deleted task leaves api.tasks at once');
SELECT tap.act_as(tap.id('alice'));
SELECT is(tap.row_count(format('DELETE FROM api.tasks WHERE id = %L', tap.id('t1'))), 1::bigint,
          'the owner DELETEs task t1 on its own');
SELECT is(tap.row_count(format('DELETE FROM api.projects WHERE id = %L', tap.id('P'))), 1::bigint,
          'the owner DELETEs project P');
SELECT is_empty(format('SELECT id FROM api.projects WHERE id = %L', tap.id('P')), 'the deleted project leaves api.projects');
SELECT is_empty(format('SELECT id FROM api.tasks WHERE project_id = %L', tap.id('P')), 'its tasks leave api.tasks');
SELECT is_empty(format('SELECT user_id FROM api.project_members WHERE project_id = %L', tap.id('P')),
                'its memberships leave api.project_members');
SELECT tap.act_as_admin();

SELECT results_eq($$SELECT t.id, t.deleted_at IS NOT NULL, t.deleted_by, t.deleted_with_project
                      FROM task_api.tasks t WHERE t.project_id = tap.id('P') ORDER BY t.id$$,
                  $$VALUES (tap.id('t1'), true, tap.id('alice'), false),
                           (tap.id('t2'), true, tap.id('alice'), true),
                           (tap.id('t3'), true, tap.id('alice'), true)$$,
                  'the project''s live tasks went to the trash with it (deleted_with_project); t1, deleted before, did not');
SELECT results_eq($$SELECT p.deleted_at = now(), p.deleted_by, p.version FROM task_api.projects p WHERE p.id = tap.id('P')$$,
                  $$VALUES (true, tap.id('alice'), 2)$$,
                  'the project row stays, with deleted_at, deleted_by and its version up by one');
SELECT results_eq($$SELECT t.deleted_by, t.deleted_with_project, t.version FROM task_api.tasks t WHERE t.id = tap.id('q1')$$,
                  $$VALUES (tap.id('bob'), false, 2)$$,
                  'a task deleted on its own: deleted_by is who deleted it, not with the project, version up by one');
SELECT is((SELECT count(*) FROM task_api.project_members WHERE project_id = tap.id('P')), 3::bigint,
          'the trashed project''s memberships are kept (for a restore)');

-- What the trash shows, per role ----------------------------------------------------------
SELECT tap.act_as(tap.id('alice'));
SELECT set_eq($$SELECT resource_type || ' ' || id FROM api.trash$$,
              ARRAY['project ' || tap.id('P'), 'task ' || tap.id('q1')],
              'owner: her trashed project and the trashed task of her live project, not the tasks of the trashed project');
SELECT results_eq($$SELECT project_id, title, deleted_by, purge_after = deleted_at + interval '30 days'
                      FROM api.trash WHERE resource_type = 'project'$$,
                  $$VALUES (tap.id('P'), 'P', tap.id('alice'), true)$$,
                  'a trashed project shows its own id as project_id, its name as title, and purge_after 30 days on');
SELECT results_eq($$SELECT project_id, title, deleted_by, purge_after = deleted_at + task_api.trash_retention()
                      FROM api.trash WHERE resource_type = 'task'$$,
                  $$VALUES (tap.id('Q'), 'q1', tap.id('bob'), true)$$,
                  'a trashed task shows its project, title, deleted_by and purge_after = deleted_at + trash_retention()');
SELECT tap.act_as(tap.id('bob'));
SELECT set_eq($$SELECT resource_type || ' ' || id FROM api.trash$$, ARRAY['task ' || tap.id('q1')],
              'editor: only the trashed task of the live project (not projects she does not own)');
SELECT tap.act_as(tap.id('carol'));
SELECT is_empty('SELECT * FROM api.trash', 'viewer: the trash is empty');
SELECT tap.act_as(tap.id('dave'));
SELECT is_empty('SELECT * FROM api.trash', 'non-member: the trash is empty');
SELECT tap.act_as_anon();
SELECT throws_ok('SELECT * FROM api.trash', '42501', NULL, 'anonymous: no access to api.trash at all');

-- Restore: rights --------------------------------------------------------------------------
SELECT tap.act_as(tap.id('carol'));
SELECT is(tap.err(format('SELECT api.restore_task(%L)', tap.id('q1'))), 'forbidden 403', 'a viewer cannot restore a task (forbidden 403)');
SELECT is(tap.err(format('SELECT api.restore_project(%L)', tap.id('P'))), 'forbidden 403', 'a viewer cannot restore a project (forbidden 403)');
SELECT tap.act_as(tap.id('dave'));
SELECT is(tap.err(format('SELECT api.restore_task(%L)', tap.id('q1'))), 'not_found 404', 'a non-member: restore_task is not_found 404');
SELECT is(tap.err(format('SELECT api.restore_project(%L)', tap.id('P'))), 'not_found 404', 'a non-member: restore_project is not_found 404');
SELECT tap.act_as(tap.id('bob'));
SELECT is(tap.err(format('SELECT api.restore_project(%L)', tap.id('P'))), 'forbidden 403', 'an editor cannot restore a project (forbidden 403)');
SELECT is(tap.err(format('SELECT api.restore_task(%L)', tap.id('t2'))), 'not_found 404',
          'a task trashed with its project cannot be restored on its own (not_found 404)');
SELECT is(tap.err(format('SELECT api.restore_task(%L)', tap.id('t1'))), 'not_found 404',
          'a task of a trashed project cannot be restored while the project is in the trash (not_found 404)');
SELECT is(tap.err(format('SELECT api.restore_task(%L)', tap.id('q2'))), 'not_found 404', 'restoring a live task is not_found 404');
SELECT is(tap.err($$SELECT api.restore_task('00000000-0000-0000-0000-000000000000')$$), 'not_found 404', 'restoring an unknown task is not_found 404');
SELECT is(tap.err(format('SELECT api.restore_project(%L)', tap.id('Q'))), 'not_found 404', 'restoring a live project is not_found 404');
SELECT is(tap.err($$SELECT api.restore_project('00000000-0000-0000-0000-000000000000')$$), 'not_found 404', 'restoring an unknown project is not_found 404');

-- Restore: exactly what went with it ---------------------------------------------------------
SELECT results_eq(format('SELECT id, title, version FROM api.restore_task(%L)', tap.id('q1')),
                  $$VALUES (tap.id('q1'), 'q1', 3)$$,
                  'an editor restores a task: it comes back with its version up by one');
SELECT ok(EXISTS (SELECT FROM api.tasks WHERE id = tap.id('q1')), 'the restored task is back in api.tasks');
SELECT is_empty('SELECT * FROM api.trash', 'and it left the trash');
SELECT tap.act_as(tap.id('alice'));
SELECT results_eq(format('SELECT id, name, version FROM api.restore_project(%L)', tap.id('P')),
                  $$VALUES (tap.id('P'), 'P', 3)$$,
                  'the owner restores the project: it comes back with its version up by one');
SELECT set_eq(format('SELECT id FROM api.tasks WHERE project_id = %L', tap.id('P')), ARRAY[tap.id('t2'), tap.id('t3')],
              'exactly the tasks trashed with it come back (t1, deleted before, stays in the trash)');
SELECT set_eq(format('SELECT user_id FROM api.project_members WHERE project_id = %L', tap.id('P')),
              ARRAY[tap.id('alice'), tap.id('bob'), tap.id('carol')], 'its memberships are back');
SELECT set_eq($$SELECT resource_type || ' ' || id FROM api.trash$$, ARRAY['task ' || tap.id('t1')],
              't1, deleted on its own, now shows in the trash of the live project');
SELECT tap.act_as_admin();
SELECT results_eq($$SELECT t.id, t.deleted_at IS NULL, t.deleted_by IS NULL, t.deleted_with_project
                      FROM task_api.tasks t WHERE t.project_id = tap.id('P') ORDER BY t.id$$,
                  $$VALUES (tap.id('t1'), false, false, false), (tap.id('t2'), true, true, false), (tap.id('t3'), true, true, false)$$,
                  'restored tasks have deleted_at, deleted_by cleared and deleted_with_project reset; t1 untouched');
SELECT results_eq($$SELECT p.deleted_at IS NULL, p.deleted_by IS NULL FROM task_api.projects p WHERE p.id = tap.id('P')$$,
                  $$VALUES (true, true)$$, 'the restored project has deleted_at and deleted_by cleared');
SELECT tap.act_as(tap.id('bob'));
SELECT results_eq(format('SELECT id FROM api.restore_task(%L)', tap.id('t1')), ARRAY[tap.id('t1')],
                  'with the project back, t1 can be restored on its own');

-- A second delete/restore cycle tracks only the new cascade.
SELECT tap.act_as(tap.id('alice'));
SELECT is(tap.row_count(format('DELETE FROM api.tasks WHERE id = %L', tap.id('t3'))), 1::bigint, 'the owner deletes t3 on its own');
SELECT is(tap.row_count(format('DELETE FROM api.projects WHERE id = %L', tap.id('P'))), 1::bigint, 'and deletes P again');
SELECT lives_ok(format('SELECT api.restore_project(%L)', tap.id('P')), 'and restores it');
SELECT set_eq(format('SELECT id FROM api.tasks WHERE project_id = %L', tap.id('P')), ARRAY[tap.id('t1'), tap.id('t2')],
              'the second restore brings back t1 and t2, not t3 (deleted before the second delete)');

-- Unique names among live projects only ---------------------------------------------------------
SELECT tap.act_as(tap.id('alice'));
SELECT lives_ok($$INSERT INTO api.projects (name) VALUES ('Reused')$$, 'alice creates project Reused');
SELECT is(tap.row_count($$DELETE FROM api.projects WHERE name = 'Reused'$$), 1::bigint, 'and deletes it');
\o /dev/null
SELECT tap.act_as_admin();
SELECT tap.name_id('Reused old', (SELECT id FROM task_api.projects WHERE name = 'Reused'));
SELECT tap.act_as(tap.id('alice'));
\o
SELECT lives_ok($$INSERT INTO api.projects (name) VALUES ('Reused')$$, 'a trashed project''s name can be reused by a new project');
SELECT is(tap.err(format('SELECT api.restore_project(%L)', tap.id('Reused old'))), 'conflict 409',
          'restoring the old one while a live project holds its name is conflict 409');
SELECT ok((SELECT deleted_at IS NOT NULL FROM task_api.projects WHERE id = tap.id('Reused old')),
          'the conflicting project stays in the trash');

-- Purge: rights and effect --------------------------------------------------------------------------
SELECT tap.act_as(tap.id('bob'));
SELECT is(tap.err(format('SELECT api.purge_task(%L)', tap.id('q2'))), 'forbidden 403', 'an editor cannot purge a task (forbidden 403)');
SELECT is(tap.err(format('SELECT api.purge_project(%L)', tap.id('Q'))), 'forbidden 403', 'an editor cannot purge a project (forbidden 403)');
SELECT tap.act_as(tap.id('carol'));
SELECT is(tap.err(format('SELECT api.purge_task(%L)', tap.id('q2'))), 'forbidden 403', 'a viewer cannot purge a task (forbidden 403)');
SELECT is(tap.err(format('SELECT api.purge_project(%L)', tap.id('Q'))), 'forbidden 403', 'a viewer cannot purge a project (forbidden 403)');
SELECT tap.act_as(tap.id('dave'));
SELECT is(tap.err(format('SELECT api.purge_task(%L)', tap.id('q2'))), 'not_found 404', 'a non-member: purge_task is not_found 404');
SELECT is(tap.err(format('SELECT api.purge_project(%L)', tap.id('Q'))), 'not_found 404', 'a non-member: purge_project is not_found 404');
SELECT tap.act_as(tap.id('alice'));
SELECT is(tap.err($$SELECT api.purge_task('00000000-0000-0000-0000-000000000000')$$), 'not_found 404', 'purging an unknown task is not_found 404');
SELECT is(tap.err($$SELECT api.purge_project('00000000-0000-0000-0000-000000000000')$$), 'not_found 404', 'purging an unknown project is not_found 404');
SELECT lives_ok(format('SELECT api.purge_task(%L)', tap.id('q2')), 'the owner purges live task q2');
SELECT lives_ok(format('SELECT api.purge_task(%L)', tap.id('t3')), 'the owner purges trashed task t3');
SELECT lives_ok(format('SELECT api.purge_project(%L)', tap.id('Reused old')), 'the owner purges the trashed project Reused');
SELECT is(tap.err(format('SELECT api.restore_task(%L)', tap.id('t3'))), 'not_found 404', 'a purged task cannot be restored (not_found 404)');
SELECT is(tap.err(format('SELECT api.restore_project(%L)', tap.id('Reused old'))), 'not_found 404', 'a purged project cannot be restored (not_found 404)');
SELECT lives_ok(format('SELECT api.purge_project(%L)', tap.id('P')), 'the owner purges live project P');
SELECT tap.act_as_admin();
SELECT is_empty($$SELECT id FROM task_api.tasks WHERE id IN (tap.id('q2'), tap.id('t3'))$$, 'purged tasks are gone from the table');
SELECT is_empty($$SELECT id FROM task_api.projects WHERE id IN (tap.id('P'), tap.id('Reused old'))$$, 'purged projects are gone from the table');
SELECT is_empty($$SELECT id FROM task_api.tasks WHERE project_id = tap.id('P')$$, 'a purged project''s tasks are gone');
SELECT is_empty($$SELECT user_id FROM task_api.project_members WHERE project_id = tap.id('P')$$, 'a purged project''s memberships are gone');
SELECT ok(EXISTS (SELECT FROM task_api.tasks WHERE id = tap.id('q1')) AND EXISTS (SELECT FROM task_api.projects WHERE id = tap.id('Q')),
          'nothing else was purged');

-- purge_expired(): by age -------------------------------------------------------------------------------
\o /dev/null
SELECT tap.make_project('Old', tap.id('alice'));
SELECT tap.make_task('old1', tap.id('Old'), tap.id('alice'));
SELECT tap.make_task('old2', tap.id('Old'), tap.id('alice'));
SELECT tap.make_project('Recent', tap.id('alice'));
SELECT tap.make_task('recent1', tap.id('Recent'), tap.id('alice'));
SELECT tap.make_task('x_old', tap.id('Q'), tap.id('alice'));
SELECT tap.make_task('x_recent', tap.id('Q'), tap.id('alice'));
SELECT tap.make_task('x_live', tap.id('Q'), tap.id('alice'));
SELECT tap.act_as(tap.id('alice'));
DELETE FROM api.projects WHERE id IN (tap.id('Old'), tap.id('Recent'));
DELETE FROM api.tasks WHERE id IN (tap.id('x_old'), tap.id('x_recent'));
SELECT tap.act_as_admin();
UPDATE task_api.projects SET deleted_at = now() - interval '31 days' WHERE id = tap.id('Old');
UPDATE task_api.tasks SET deleted_at = now() - interval '31 days' WHERE id IN (tap.id('old1'), tap.id('old2'), tap.id('x_old'));
UPDATE task_api.tasks SET deleted_at = now() - interval '29 days' WHERE id = tap.id('x_recent');
\o
SELECT tap.act_as(tap.id('alice'));
SELECT throws_ok('SELECT task_api.purge_expired()', '42501', NULL, 'task_api_user cannot run purge_expired()');
SELECT tap.act_as_admin();
SELECT is(task_api.purge_expired(), 4::bigint, 'purge_expired() removes the 31-day-old project, its two tasks and the old task: 4');
SELECT is_empty($$SELECT id FROM task_api.projects WHERE id = tap.id('Old')$$, 'the expired project is gone');
SELECT is_empty($$SELECT id FROM task_api.tasks WHERE id IN (tap.id('old1'), tap.id('old2'), tap.id('x_old'))$$, 'the expired tasks are gone');
SELECT set_eq($$SELECT id FROM task_api.tasks WHERE id IN (tap.id('recent1'), tap.id('x_recent'), tap.id('x_live'), tap.id('q1'))$$,
              ARRAY[tap.id('recent1'), tap.id('x_recent'), tap.id('x_live'), tap.id('q1')],
              'recent trash (29 days) and live tasks are kept');
SELECT ok(EXISTS (SELECT FROM task_api.projects WHERE id = tap.id('Recent') AND deleted_at IS NOT NULL), 'the recently trashed project is kept');
SELECT is(task_api.purge_expired(), 0::bigint, 'a second purge_expired() finds nothing');

-- The generic trigger on a user's own table ----------------------------------------------------------------
CREATE TABLE public.tap_notes (id int PRIMARY KEY, body text, deleted_at timestamptz, deleted_by text);
CREATE TRIGGER tap_notes_soft_delete BEFORE DELETE ON public.tap_notes
    FOR EACH ROW EXECUTE FUNCTION task_api.soft_delete('deleted_at', 'deleted_by');
INSERT INTO public.tap_notes (id, body) VALUES (1, 'one'), (2, 'two');
SELECT is(tap.row_count('DELETE FROM public.tap_notes WHERE id = 1'), 0::bigint, 'user table: DELETE of a live row deletes nothing');
SELECT results_eq('SELECT id, deleted_at = now(), deleted_by = session_user::text FROM public.tap_notes ORDER BY id',
                  $$VALUES (1, true, true), (2, NULL::boolean, NULL::boolean)$$,
                  'user table: the row stays with deleted_at = now() and deleted_by = the session user (text column)');
SELECT is(tap.row_count('DELETE FROM public.tap_notes WHERE id = 1'), 1::bigint, 'user table: DELETE of a trashed row removes it');
SELECT results_eq('SELECT id FROM public.tap_notes', ARRAY[2], 'user table: only the untouched row is left');

CREATE TABLE public.tap_one_arg (id int PRIMARY KEY, gone timestamp);
CREATE TRIGGER tap_one_arg_sd BEFORE DELETE ON public.tap_one_arg FOR EACH ROW EXECUTE FUNCTION task_api.soft_delete('gone');
INSERT INTO public.tap_one_arg VALUES (1, NULL);
DELETE FROM public.tap_one_arg;
SELECT ok((SELECT gone IS NOT NULL FROM public.tap_one_arg WHERE id = 1),
          'user table: one argument (a timestamp without time zone column) works too');

CREATE TABLE public.tap_uuid_by (id int PRIMARY KEY, deleted_at timestamptz, deleted_by uuid);
CREATE TRIGGER tap_uuid_by_sd BEFORE DELETE ON public.tap_uuid_by FOR EACH ROW EXECUTE FUNCTION task_api.soft_delete('deleted_at', 'deleted_by');
INSERT INTO public.tap_uuid_by VALUES (1, NULL, NULL);
GRANT SELECT, DELETE, UPDATE ON public.tap_uuid_by TO task_api_user;
SELECT tap.act_as(tap.id('dave'));
DELETE FROM public.tap_uuid_by;
SELECT tap.act_as_admin();
SELECT is((SELECT deleted_by FROM public.tap_uuid_by WHERE id = 1), tap.id('dave'),
          'user table: a uuid deleted_by column gets task_api.current_user_id()');

-- Misuse gives clear errors.
CREATE TABLE public.tap_bad (id int PRIMARY KEY, deleted_at timestamptz, deleted_by uuid, body text, n int);
INSERT INTO public.tap_bad VALUES (1, NULL, NULL, 'x', 1);
CREATE TRIGGER tap_bad BEFORE DELETE ON public.tap_bad FOR EACH ROW EXECUTE FUNCTION task_api.soft_delete('gone_at');
SELECT throws_ok('DELETE FROM public.tap_bad', '42703', 'column "gone_at" named by trigger "tap_bad" does not exist in "tap_bad"',
                 'a missing deleted_at column is 42703, naming the column, trigger and table');
DROP TRIGGER tap_bad ON public.tap_bad;
CREATE TRIGGER tap_bad BEFORE DELETE ON public.tap_bad FOR EACH ROW EXECUTE FUNCTION task_api.soft_delete('deleted_at', 'gone_by');
SELECT throws_ok('DELETE FROM public.tap_bad', '42703', 'column "gone_by" named by trigger "tap_bad" does not exist in "tap_bad"',
                 'a missing deleted_by column is 42703');
DROP TRIGGER tap_bad ON public.tap_bad;
CREATE TRIGGER tap_bad BEFORE DELETE ON public.tap_bad FOR EACH ROW EXECUTE FUNCTION task_api.soft_delete('body');
SELECT throws_ok('DELETE FROM public.tap_bad', '42804', 'column "body" of "tap_bad" must be a timestamp for trigger "tap_bad"',
                 'a deleted_at column that is not a timestamp is 42804');
DROP TRIGGER tap_bad ON public.tap_bad;
CREATE TRIGGER tap_bad BEFORE DELETE ON public.tap_bad FOR EACH ROW EXECUTE FUNCTION task_api.soft_delete('deleted_at', 'n');
SELECT throws_ok('DELETE FROM public.tap_bad', '42804', 'column "n" of "tap_bad" must be uuid or text for trigger "tap_bad"',
                 'a deleted_by column that is not uuid or text is 42804');
DROP TRIGGER tap_bad ON public.tap_bad;
CREATE TRIGGER tap_bad BEFORE DELETE ON public.tap_bad FOR EACH ROW EXECUTE FUNCTION task_api.soft_delete();
SELECT throws_ok('DELETE FROM public.tap_bad', '39P01', 'soft_delete: trigger "tap_bad" needs 1 or 2 arguments, got 0',
                 'no arguments is a trigger protocol violation (39P01)');
DROP TRIGGER tap_bad ON public.tap_bad;
CREATE TRIGGER tap_bad BEFORE DELETE ON public.tap_bad FOR EACH ROW EXECUTE FUNCTION task_api.soft_delete('deleted_at', 'deleted_by', 'body');
SELECT throws_ok('DELETE FROM public.tap_bad', '39P01', 'soft_delete: trigger "tap_bad" needs 1 or 2 arguments, got 3',
                 'three arguments is a trigger protocol violation (39P01)');
DROP TRIGGER tap_bad ON public.tap_bad;
CREATE TRIGGER tap_bad AFTER DELETE ON public.tap_bad FOR EACH ROW EXECUTE FUNCTION task_api.soft_delete('deleted_at');
SELECT throws_ok('DELETE FROM public.tap_bad', '39P01', 'soft_delete: must be fired BEFORE DELETE, FOR EACH ROW',
                 'an AFTER trigger is refused (39P01)');
DROP TRIGGER tap_bad ON public.tap_bad;
CREATE TRIGGER tap_bad BEFORE DELETE ON public.tap_bad FOR EACH STATEMENT EXECUTE FUNCTION task_api.soft_delete('deleted_at');
SELECT throws_ok('DELETE FROM public.tap_bad', '39P01', 'soft_delete: must be fired BEFORE DELETE, FOR EACH ROW',
                 'a statement trigger is refused (39P01)');
DROP TRIGGER tap_bad ON public.tap_bad;
CREATE TRIGGER tap_bad BEFORE UPDATE ON public.tap_bad FOR EACH ROW EXECUTE FUNCTION task_api.soft_delete('deleted_at');
SELECT throws_ok($$UPDATE public.tap_bad SET body = 'y'$$, '39P01', 'soft_delete: must be fired BEFORE DELETE, FOR EACH ROW',
                 'an UPDATE trigger is refused (39P01)');
DROP TRIGGER tap_bad ON public.tap_bad;
SELECT throws_ok('SELECT task_api.soft_delete()', '39P01', 'soft_delete: not called by trigger manager', 'soft_delete() cannot be called directly (39P01)');
SELECT results_eq('SELECT id, deleted_at IS NULL, body FROM public.tap_bad', $$VALUES (1, true, 'x')$$,
                  'none of the refused statements changed the row');

SELECT * FROM finish();
ROLLBACK;
