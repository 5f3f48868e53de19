-- The order of the triggers on every API view (sql/install/00_core.sql,
-- view_trigger()): PostgreSQL fires the triggers of one kind in name order,
-- so each event's triggers are listed here in the order they fire; a trigger
-- that lands in the wrong position, or a new one, fails this file.
BEGIN;
SELECT plan(29);
\ir helpers/setup.psql

-- Each (view, kind, event): its triggers in firing order (name order).
CREATE FUNCTION tap.fired(view regclass, kind text, event text) RETURNS text[]
    LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(t.tgname::text ORDER BY t.tgname::text COLLATE "C"), '{}')
      FROM pg_trigger t
     WHERE t.tgrelid = view AND NOT t.tgisinternal
       AND CASE WHEN t.tgtype & 64 <> 0 THEN 'INSTEAD OF' WHEN t.tgtype & 2 <> 0 THEN 'BEFORE' ELSE 'AFTER' END
           || CASE WHEN t.tgtype & 1 <> 0 THEN ' ROW' ELSE ' STATEMENT' END = kind
       AND t.tgtype & CASE event WHEN 'INSERT' THEN 4 WHEN 'DELETE' THEN 8 WHEN 'UPDATE' THEN 16 END <> 0
$$;

SELECT is(tap.fired('api.projects', 'INSTEAD OF ROW', 'INSERT'),
          ARRAY['projects_10_bulk_rows', 'projects_20_idempotency_in', 'projects_50_insert', 'projects_90_idempotency_out'],
          'api.projects INSERT rows: bulk_rows, idempotency in, insert, idempotency out');
SELECT is(tap.fired('api.projects', 'INSTEAD OF ROW', 'UPDATE'),
          ARRAY['projects_20_idempotency_in', 'projects_50_update', 'projects_90_idempotency_out'],
          'api.projects UPDATE rows: idempotency in, update, idempotency out');
SELECT is(tap.fired('api.projects', 'INSTEAD OF ROW', 'DELETE'), ARRAY['projects_50_delete'],
          'api.projects DELETE rows: delete');
SELECT is(tap.fired('api.projects', 'BEFORE STATEMENT', 'INSERT'), ARRAY['projects_20_idempotency_begin'],
          'api.projects before an INSERT: the key is claimed');
SELECT is(tap.fired('api.projects', 'BEFORE STATEMENT', 'UPDATE'), ARRAY['projects_20_idempotency_begin'],
          'api.projects before an UPDATE: the key is claimed');
SELECT is(tap.fired('api.projects', 'AFTER STATEMENT', 'INSERT') || tap.fired('api.projects', 'AFTER STATEMENT', 'UPDATE'),
          ARRAY['projects_90_idempotency_end', 'projects_90_idempotency_end'],
          'api.projects after an INSERT or UPDATE: the response is stored');

SELECT is(tap.fired('api.tasks', 'INSTEAD OF ROW', 'INSERT'),
          ARRAY['tasks_10_bulk_rows', 'tasks_20_idempotency_in', 'tasks_50_insert', 'tasks_90_idempotency_out'],
          'api.tasks INSERT rows: bulk_rows, idempotency in, insert, idempotency out');
SELECT is(tap.fired('api.tasks', 'INSTEAD OF ROW', 'UPDATE'),
          ARRAY['tasks_20_idempotency_in', 'tasks_50_update', 'tasks_90_idempotency_out'],
          'api.tasks UPDATE rows: idempotency in, update, idempotency out');
SELECT is(tap.fired('api.tasks', 'INSTEAD OF ROW', 'DELETE'), ARRAY['tasks_50_delete'],
          'api.tasks DELETE rows: delete');
SELECT is(tap.fired('api.tasks', 'BEFORE STATEMENT', 'INSERT') || tap.fired('api.tasks', 'BEFORE STATEMENT', 'UPDATE'),
          ARRAY['tasks_20_idempotency_begin', 'tasks_20_idempotency_begin'],
          'api.tasks before an INSERT or UPDATE: the key is claimed');
SELECT is(tap.fired('api.tasks', 'AFTER STATEMENT', 'INSERT'), ARRAY['tasks_50_insert_flush', 'tasks_90_idempotency_end'],
          'api.tasks after an INSERT: the buffered rows are stored, then the response');
SELECT is(tap.fired('api.tasks', 'AFTER STATEMENT', 'UPDATE'), ARRAY['tasks_90_idempotency_end'],
          'api.tasks after an UPDATE: the response is stored');

SELECT is(tap.fired('api.invitations', 'INSTEAD OF ROW', 'INSERT'),
          ARRAY['invitations_20_idempotency_in', 'invitations_50_insert', 'invitations_90_idempotency_out'],
          'api.invitations INSERT rows: idempotency in, insert, idempotency out');
SELECT is(tap.fired('api.invitations', 'INSTEAD OF ROW', 'DELETE'), ARRAY['invitations_50_delete'],
          'api.invitations DELETE rows: delete');
SELECT is(tap.fired('api.invitations', 'BEFORE STATEMENT', 'INSERT') || tap.fired('api.invitations', 'AFTER STATEMENT', 'INSERT'),
          ARRAY['invitations_20_idempotency_begin', 'invitations_90_idempotency_end'],
          'api.invitations around an INSERT: the key is claimed, the response stored');

SELECT is(tap.fired('api.project_members', 'INSTEAD OF ROW', 'INSERT'), ARRAY['project_members_50_insert'],
          'api.project_members INSERT rows: insert (405)');
SELECT is(tap.fired('api.project_members', 'INSTEAD OF ROW', 'UPDATE'), ARRAY['project_members_50_update'],
          'api.project_members UPDATE rows: update');
SELECT is(tap.fired('api.project_members', 'INSTEAD OF ROW', 'DELETE'), ARRAY['project_members_50_delete'],
          'api.project_members DELETE rows: delete');
SELECT is(tap.fired('api.users', 'INSTEAD OF ROW', 'UPDATE'), ARRAY['users_50_update'],
          'api.users UPDATE rows: update');
SELECT is(tap.fired('api.api_keys', 'INSTEAD OF ROW', 'DELETE'), ARRAY['api_keys_50_delete'],
          'api.api_keys DELETE rows: delete');

-- Nothing else: every trigger on an api view is one of the above, named by
-- view_trigger() (<view>_<two-digit stage>_<what>), and the read-only views
-- have none.
SELECT is((SELECT count(*)::integer FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
            WHERE c.relnamespace = 'api'::regnamespace AND NOT t.tgisinternal), 28,
          'the api views have 28 triggers, all listed above');
SELECT is_empty($$SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                   WHERE c.relnamespace = 'api'::regnamespace AND NOT t.tgisinternal
                     AND t.tgname !~ ('^' || c.relname || '_[1-9][0-9]_[a-z_]+$')$$,
                'every trigger on an api view is named <view>_<stage>_<what>');
SELECT is_empty($$SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                   WHERE c.relnamespace = 'api'::regnamespace AND c.relname IN ('trash', 'task_events')$$,
                'api.trash and api.task_events have no triggers');

-- The tables' AFTER row triggers: the event of a change is recorded before
-- the changes it causes (sql/install/80_events.sql; the name events_record
-- sorts first, and scripts/bench-events.sh names it).
SELECT is(tap.fired('task_api.projects', 'AFTER ROW', 'INSERT'), ARRAY['events_record', 'projects_add_owner'],
          'task_api.projects after an INSERT: the project''s event, then its owner''s membership');
SELECT is(tap.fired('task_api.project_members', 'AFTER ROW', 'DELETE'), ARRAY['events_record', 'project_members_keep_owner'],
          'task_api.project_members after a DELETE: the membership''s event, then the owner hand-off');
SELECT is(tap.fired('task_api.project_members', 'AFTER ROW', 'UPDATE'), ARRAY['events_record', 'project_members_keep_owner'],
          'task_api.project_members after an UPDATE: the membership''s event, then the owner hand-off');

-- view_trigger() refuses names and kinds outside its scheme.
SELECT is(tap.err($$SELECT task_api.view_trigger('api.tasks', 5, 'early', 'INSTEAD OF INSERT FOR EACH ROW', 'task_api.bulk_rows')$$),
          '22023', 'view_trigger refuses a stage outside 10..99');
SELECT is(tap.err($$SELECT task_api.view_trigger('api.tasks', 30, 'x; DROP TABLE t', 'INSTEAD OF INSERT FOR EACH ROW', 'task_api.bulk_rows')$$),
          '22023', 'view_trigger refuses a name that is not lowercase letters and _');
SELECT is(tap.err($$SELECT task_api.view_trigger('api.tasks', 30, 'x', 'INSTEAD OF INSERT FOR EACH ROW WHEN (true)', 'task_api.bulk_rows')$$),
          '22023', 'view_trigger refuses anything but a plain timing, events and level');

SELECT * FROM finish();
ROLLBACK;
