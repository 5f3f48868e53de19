-- Events (docs/contract.md §10): what each create, update, delete, restore and
-- purge of a project, membership and task records; the activity feed's RLS
-- per role; claim_events()/ack_events() rules and rights; the generic
-- record_event() trigger on a user table.
BEGIN;
SELECT plan(92);
\ir helpers/setup.psql

\o /dev/null
SELECT tap.make_user('alice', 'a0000000-0000-4000-8000-00000000000a');
SELECT tap.make_user('bob', 'b0000000-0000-4000-8000-00000000000b');
SELECT tap.make_user('carol', 'c0000000-0000-4000-8000-00000000000c');
SELECT tap.make_user('dave', 'd0000000-0000-4000-8000-00000000000d');
\o

-- The newest events after a mark, oldest first: "resource_type action".
CREATE FUNCTION tap.events_since(mark bigint) RETURNS text[]
    LANGUAGE sql AS $$
    SELECT coalesce(array_agg(e.resource_type || ' ' || e.action ORDER BY e.id), '{}')
      FROM task_api.events e WHERE e.id > mark
$$;
CREATE FUNCTION tap.mark() RETURNS bigint
    LANGUAGE sql AS $$ SELECT coalesce(max(id), 0) FROM task_api.events $$;
-- The one event after a mark of a resource and action.
CREATE FUNCTION tap.event(mark bigint, rtype text, act text) RETURNS task_api.events
    LANGUAGE sql AS $$
    SELECT e FROM task_api.events e WHERE e.id > mark AND e.resource_type = rtype AND e.action = act ORDER BY e.id DESC LIMIT 1
$$;
GRANT INSERT ON tap.ids TO PUBLIC;
CREATE TABLE tap.marks (name text PRIMARY KEY, id bigint);
GRANT ALL ON tap.marks TO PUBLIC;
CREATE FUNCTION tap.set_mark(name text) RETURNS void
    LANGUAGE sql SECURITY DEFINER AS $$
    INSERT INTO tap.marks VALUES (name, (SELECT coalesce(max(id), 0) FROM task_api.events))
    ON CONFLICT (name) DO UPDATE SET id = excluded.id
$$;
CREATE FUNCTION tap.m(name text) RETURNS bigint
    LANGUAGE sql STABLE AS $$ SELECT m.id FROM tap.marks m WHERE m.name = $1 $$;
-- Every event id of a project, whoever asks (the superuser bypasses RLS).
CREATE FUNCTION tap.all_event_ids(project uuid) RETURNS bigint[]
    LANGUAGE sql SECURITY DEFINER AS $$ SELECT array_agg(e.id ORDER BY e.id DESC) FROM task_api.events e WHERE e.project_id = project $$;

-- Projects ----------------------------------------------------------------------------
SELECT tap.set_mark('start');
SELECT tap.act_as(tap.id('alice'));
\o /dev/null
WITH x AS (INSERT INTO api.projects (name, description) VALUES ('P', 'first') RETURNING id) SELECT tap.name_id('P', id) FROM x;
\o
SELECT tap.act_as_admin();
SELECT is(tap.events_since(tap.m('start')), ARRAY['project created', 'member created'],
          'POST /projects records the project''s creation, then its owner''s membership');
SELECT results_eq($$SELECT actor_id, resource_id, project_id, changes ->> 'name', changes ->> 'description', changes ->> 'owner_id'
                      FROM tap.event(tap.m('start'), 'project', 'created')$$,
                  $$VALUES (tap.id('alice'), tap.id('P'), tap.id('P'), 'P', 'first', tap.id('alice')::text)$$,
                  'project created: actor, resource, project and the new row in changes');
SELECT ok(NOT ((tap.event(tap.m('start'), 'project', 'created')).changes ?| ARRAY['updated_at', 'version']),
          'the stamps updated_at and version are not recorded');
SELECT results_eq($$SELECT resource_id, project_id, changes ->> 'role', changes ->> 'user_id'
                      FROM tap.event(tap.m('start'), 'member', 'created')$$,
                  $$VALUES (tap.id('alice'), tap.id('P'), 'owner', tap.id('alice')::text)$$,
                  'the owner''s membership: resource_id is the user, role owner');
SELECT ok((SELECT xact_id = pg_current_xact_id() FROM tap.event(tap.m('start'), 'project', 'created')),
          'xact_id is the writing transaction');
SELECT ok((SELECT occurred_at = now() FROM tap.event(tap.m('start'), 'project', 'created')),
          'occurred_at is the transaction''s time');

SELECT tap.set_mark('upd');
SELECT tap.act_as(tap.id('alice'));
SELECT is(tap.row_count(format('UPDATE api.projects SET name = %L WHERE id = %L', 'P2', tap.id('P'))), 1::bigint, 'PATCH a project''s name');
SELECT tap.act_as_admin();
SELECT is((tap.event(tap.m('upd'), 'project', 'updated')).changes, '{"name": {"old": "P", "new": "P2"}}'::jsonb,
          'project updated: only the changed column, old and new (not updated_at or version)');
SELECT tap.set_mark('noop');
SELECT tap.act_as(tap.id('alice'));
SELECT is(tap.row_count(format('UPDATE api.projects SET name = %L, description = %L WHERE id = %L', 'P2', 'first', tap.id('P'))), 1::bigint,
          'PATCH a project with its current values');
SELECT tap.act_as_admin();
SELECT is(tap.events_since(tap.m('noop')), '{}'::text[], 'a PATCH that changes nothing records nothing');

-- Members ----------------------------------------------------------------------------
SELECT tap.set_mark('mem');
SELECT tap.act_as(tap.id('alice'));
\o /dev/null
INSERT INTO api.invitations (project_id, user_id, role) VALUES (tap.id('P'), tap.id('bob'), 'viewer');
INSERT INTO api.invitations (project_id, email, role) VALUES (tap.id('P'), 'carol@example.com', 'viewer');
\o
SELECT tap.act_as_admin();
SELECT is(tap.events_since(tap.m('mem')), '{}'::text[], 'an invitation records no event (the feed is for every member; the invitee has not joined)');
SELECT tap.act_as(tap.id('bob'));
\o /dev/null
SELECT api.accept_invitation(i.id) FROM api.invitations i WHERE i.project_id = tap.id('P');
SELECT tap.act_as(tap.id('carol'));
SELECT api.accept_invitation(i.id) FROM api.invitations i WHERE i.project_id = tap.id('P');
SELECT tap.act_as(tap.id('alice'));
UPDATE api.project_members SET role = 'editor' WHERE project_id = tap.id('P') AND user_id = tap.id('bob');
UPDATE api.project_members SET role = 'editor' WHERE project_id = tap.id('P') AND user_id = tap.id('bob');
\o
SELECT tap.act_as_admin();
SELECT is(tap.events_since(tap.m('mem')), ARRAY['member created', 'member created', 'member updated'],
          'adding two members and promoting one records three events (the repeated promotion none)');
SELECT results_eq($$SELECT actor_id, resource_id, project_id, changes FROM tap.event(tap.m('mem'), 'member', 'updated')$$,
                  $$VALUES (tap.id('alice'), tap.id('bob'), tap.id('P'), '{"role": {"old": "viewer", "new": "editor"}}'::jsonb)$$,
                  'member updated: the role change, by alice, on bob');
SELECT results_eq($$SELECT actor_id, resource_id FROM task_api.events WHERE id > tap.m('mem') AND resource_type = 'member' AND action = 'created' ORDER BY id$$,
                  $$VALUES (tap.id('bob'), tap.id('bob')), (tap.id('carol'), tap.id('carol'))$$,
                  'member created: recorded when the invitee accepts, with the invitee as the actor');

-- Tasks ------------------------------------------------------------------------------
SELECT tap.set_mark('task');
SELECT tap.act_as(tap.id('bob'));
\o /dev/null
WITH x AS (INSERT INTO api.tasks (project_id, title, priority) VALUES (tap.id('P'), '  Write  ', 1) RETURNING id) SELECT tap.name_id('t1', id) FROM x;
WITH x AS (INSERT INTO api.tasks (project_id, title) VALUES (tap.id('P'), 'Second') RETURNING id) SELECT tap.name_id('t2', id) FROM x;
\o
SELECT tap.act_as_admin();
SELECT is(tap.events_since(tap.m('task')), ARRAY['task created', 'task created'], 'POST /tasks of two tasks records two events');
SELECT results_eq($$SELECT actor_id, resource_id, project_id, changes ->> 'title', changes ->> 'priority', changes ->> 'status',
                           changes ->> 'created_by', changes ? 'version'
                      FROM task_api.events WHERE resource_id = tap.id('t1') AND action = 'created'$$,
                  $$VALUES (tap.id('bob'), tap.id('t1'), tap.id('P'), 'Write', '1', 'todo', tap.id('bob')::text, false)$$,
                  'task created: the stored (trimmed) row');

SELECT tap.set_mark('tupd');
SELECT tap.act_as(tap.id('bob'));
SELECT is(tap.row_count(format('UPDATE api.tasks SET status = %L, assignee_id = %L WHERE id = %L', 'done', tap.id('carol'), tap.id('t1'))),
          1::bigint, 'PATCH a task to done and assign it');
SELECT tap.act_as_admin();
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys((tap.event(tap.m('tupd'), 'task', 'updated')).changes) k),
          ARRAY['assignee_id', 'completed_at', 'status'],
          'task updated: status, assignee and the completed_at the stamp trigger set, nothing else');
SELECT is((tap.event(tap.m('tupd'), 'task', 'updated')).changes -> 'status', '{"old": "todo", "new": "done"}'::jsonb,
          'task updated: status old and new');
SELECT is((tap.event(tap.m('tupd'), 'task', 'updated')).changes -> 'assignee_id', jsonb_build_object('old', NULL, 'new', tap.id('carol')),
          'task updated: a null old value is JSON null');
SELECT ok((tap.event(tap.m('tupd'), 'task', 'updated')).changes #> '{completed_at,new}' <> 'null',
          'task updated: completed_at gets its new time');

SELECT tap.set_mark('tdel');
SELECT tap.act_as(tap.id('bob'));
SELECT is(tap.row_count(format('DELETE FROM api.tasks WHERE id = %L', tap.id('t2'))), 1::bigint, 'DELETE a task (to the trash)');
SELECT tap.act_as_admin();
SELECT is(tap.events_since(tap.m('tdel')), ARRAY['task deleted'], 'a soft delete is one "deleted" event (not an update)');
SELECT results_eq($$SELECT actor_id, changes #>> '{deleted_by,new}', changes #>> '{deleted_at,old}', changes ? 'deleted_with_project'
                      FROM tap.event(tap.m('tdel'), 'task', 'deleted')$$,
                  $$VALUES (tap.id('bob'), tap.id('bob')::text, NULL::text, false)$$,
                  'task deleted: deleted_at and deleted_by set, by bob');
SELECT tap.set_mark('trest');
SELECT tap.act_as(tap.id('bob'));
\o /dev/null
SELECT api.restore_task(tap.id('t2'));
\o
SELECT tap.act_as_admin();
SELECT is(tap.events_since(tap.m('trest')), ARRAY['task restored'], 'restore_task() is one "restored" event');
SELECT results_eq($$SELECT changes #>> '{deleted_at,new}', changes #>> '{deleted_by,old}' FROM tap.event(tap.m('trest'), 'task', 'restored')$$,
                  $$VALUES (NULL::text, tap.id('bob')::text)$$,
                  'task restored: deleted_at and deleted_by cleared');
SELECT tap.set_mark('tpurge');
SELECT tap.act_as(tap.id('alice'));
\o /dev/null
SELECT api.purge_task(tap.id('t2'));
\o
SELECT tap.act_as_admin();
SELECT is(tap.events_since(tap.m('tpurge')), ARRAY['task deleted', 'task purged'],
          'purging a live task: it goes through the trash ("deleted"), then "purged"');
SELECT results_eq($$SELECT actor_id, resource_id, changes ->> 'title', changes ->> 'deleted_by' FROM tap.event(tap.m('tpurge'), 'task', 'purged')$$,
                  $$VALUES (tap.id('alice'), tap.id('t2'), 'Second', tap.id('alice')::text)$$,
                  'task purged: the last row');

-- Project delete, restore, purge: its tasks and memberships follow ------------------------
SELECT tap.set_mark('pdel');
SELECT tap.act_as(tap.id('alice'));
SELECT is(tap.row_count(format('DELETE FROM api.projects WHERE id = %L', tap.id('P'))), 1::bigint, 'DELETE the project');
SELECT tap.act_as_admin();
SELECT is(tap.events_since(tap.m('pdel')), ARRAY['task deleted', 'project deleted'], 'deleting a project: its live task, then the project');
SELECT is((tap.event(tap.m('pdel'), 'task', 'deleted')).changes -> 'deleted_with_project', '{"old": false, "new": true}'::jsonb,
          'a task trashed with its project says so (deleted_with_project)');
SELECT tap.set_mark('prest');
SELECT tap.act_as(tap.id('alice'));
\o /dev/null
SELECT api.restore_project(tap.id('P'));
\o
SELECT tap.act_as_admin();
SELECT is(tap.events_since(tap.m('prest')), ARRAY['project restored', 'task restored'], 'restore_project(): the project, then its task');

-- Maintenance has no actor.
SELECT tap.set_mark('admin');
UPDATE task_api.tasks SET priority = 4 WHERE id = tap.id('t1');
SELECT results_eq($$SELECT actor_id, changes FROM tap.event(tap.m('admin'), 'task', 'updated')$$,
                  $$VALUES (NULL::uuid, '{"priority": {"old": 1, "new": 4}}'::jsonb)$$,
                  'a change made without a request (maintenance) has a null actor');

-- The feed, per role -----------------------------------------------------------------
\o /dev/null
SELECT tap.make_project('Q', tap.id('dave'));
SELECT tap.make_task('q1', tap.id('Q'), tap.id('dave'));
\o
SELECT tap.act_as(tap.id('alice'));
SELECT is((SELECT array_agg(id) FROM (SELECT id FROM api.task_events WHERE project_id = tap.id('P') ORDER BY id DESC) AS x),
          tap.all_event_ids(tap.id('P')), 'the owner sees every event of her project (order=id.desc: newest first)');
SELECT is_empty($$SELECT id FROM api.task_events WHERE project_id <> tap.id('P')$$,
                'the owner sees no event of a project she is not a member of');
SELECT tap.act_as(tap.id('carol'));
SELECT ok((SELECT count(*) FROM api.task_events WHERE project_id = tap.id('P')) > 10, 'a viewer sees her project''s events');
SELECT tap.act_as(tap.id('dave'));
SELECT is((SELECT array_agg(DISTINCT project_id) FROM api.task_events), ARRAY[tap.id('Q')],
          'a non-member sees only his own project''s events');
SELECT tap.act_as(tap.id('alice'));
\o /dev/null
DELETE FROM api.project_members WHERE project_id = tap.id('P') AND user_id = tap.id('carol');
\o
SELECT results_eq($$SELECT resource_type, action, resource_id, changes FROM api.task_events ORDER BY id DESC LIMIT 2$$,
                  $$VALUES ('task', 'updated', tap.id('t1'), jsonb_build_object('assignee_id', jsonb_build_object('old', tap.id('carol'), 'new', NULL))),
                           ('member', 'purged', tap.id('carol'), jsonb_build_object('role', 'viewer', 'user_id', tap.id('carol'), 'project_id', tap.id('P'),
                                                                                    'added_at', (SELECT changes -> 'added_at' FROM task_api.events WHERE resource_id = tap.id('carol') AND action = 'created')))$$,
                  'removing a member is a "purged" membership (memberships have no trash), and unassigning her task an update');
SELECT tap.act_as(tap.id('carol'));
SELECT is_empty($$SELECT id FROM api.task_events$$, 'a removed member sees none of the project''s events any more');
SELECT tap.act_as(tap.id('alice'));
SELECT is(tap.err($$INSERT INTO api.task_events (resource_type, resource_id, project_id, action, changes)
                   VALUES ('task', gen_random_uuid(), gen_random_uuid(), 'created', '{}')$$), '0A000',
          'the feed is read-only: INSERT is refused (0A000: changes is computed; 403 forbidden over HTTP)');
SELECT is(tap.err($$UPDATE api.task_events SET action = 'purged'$$), '42501', 'UPDATE on the feed is refused (42501)');
SELECT is(tap.err($$DELETE FROM api.task_events$$), '42501', 'DELETE on the feed is refused (42501)');
SELECT is(tap.err($$INSERT INTO task_api.events (resource_type, resource_id, project_id, action, changes)
                   VALUES ('task', gen_random_uuid(), gen_random_uuid(), 'created', '{}')$$), '42501',
          'a user cannot write task_api.events directly (42501)');
SELECT is(tap.err($$SELECT xact_id FROM task_api.events$$), '42501', 'a user cannot read xact_id (column grants)');
SELECT is(tap.err($$SELECT * FROM task_api.claim_events('mine', 10)$$), '42501', 'a user cannot claim events (42501)');
SELECT is(tap.err($$SELECT task_api.ack_events('mine', 10)$$), '42501', 'a user cannot acknowledge events (42501)');
SELECT is(tap.err($$SELECT * FROM task_api.event_consumers$$), '42501', 'a user cannot read the consumers (42501)');
SELECT tap.act_as_anon();
SELECT is(tap.err($$SELECT * FROM api.task_events$$), '42501', 'anonymous callers cannot read the feed (42501)');
SELECT tap.act_as_admin();

-- Consumers ----------------------------------------------------------------------------
-- Every event so far was written by this (uncommitted) transaction: none may
-- be handed out, not even to itself.  Claiming and acknowledging committed
-- events, in order and concurrently, is in specs/events_*.spec.
SET LOCAL ROLE task_api_relay;
SELECT is((SELECT count(*) FROM task_api.claim_events('tap', 5)), 0::bigint,
          'events of a transaction still in flight are not handed out (here: this one''s own)');
SELECT throws_ok($$SELECT task_api.ack_events('tap', 1)$$, '22023', NULL, 'acknowledging past the claimed batch is refused (22023)');
SELECT throws_ok($$SELECT task_api.ack_events('nobody', 1)$$, '22023', NULL, 'acknowledging for an unknown consumer is refused (22023)');
SELECT throws_ok($$SELECT task_api.ack_events(NULL, 1)$$, '22023', NULL, 'a null consumer is refused (22023)');
SELECT throws_ok($$SELECT task_api.ack_events('tap', NULL)$$, '22023', NULL, 'a null last_id is refused (22023)');
SELECT throws_ok($$SELECT * FROM task_api.claim_events('tap', 0)$$, '22023', NULL, 'max 0 is refused (22023)');
SELECT throws_ok($$SELECT * FROM task_api.claim_events('tap', 10001)$$, '22023', NULL, 'max over 10000 is refused (22023)');
SELECT throws_ok($$SELECT * FROM task_api.claim_events('tap', NULL)$$, '22023', NULL, 'a null max is refused (22023)');
SELECT throws_ok($$SELECT * FROM task_api.claim_events('', 10)$$, '22023', NULL, 'an empty consumer name is refused (22023)');
SELECT throws_ok($$SELECT * FROM task_api.claim_events(repeat('x', 101), 10)$$, '22023', NULL, 'a consumer name over 100 characters is refused (22023)');
SELECT throws_ok($$SELECT * FROM task_api.claim_events(NULL, 10)$$, '22023', NULL, 'a null consumer name is refused (22023)');
SELECT throws_ok($$SELECT * FROM task_api.events$$, '42501', NULL, 'task_api_relay reads events only through claim_events()');
SELECT throws_ok($$SELECT task_api.events_claim_bound()$$, '42501', NULL, 'task_api_relay cannot call events_claim_bound() itself');
RESET ROLE;
SELECT results_eq($$SELECT acked_id, claimed_id FROM task_api.event_consumers WHERE name = 'tap'$$, $$VALUES (0::bigint, 0::bigint)$$,
                  'the first claim registered the consumer, at the start');
SELECT ok(task_api.events_claim_bound() <= (SELECT min(id) FROM task_api.events WHERE xact_id = pg_current_xact_id()),
          'the claim bound is at most this transaction''s first event id');

-- The generic trigger on a user table ------------------------------------------------
CREATE TABLE tap.notes (id uuid PRIMARY KEY, project uuid, body text, n int);
CREATE TRIGGER notes_event AFTER INSERT OR UPDATE OR DELETE ON tap.notes
    FOR EACH ROW EXECUTE FUNCTION task_api.record_event('task', 'id', 'project', 'n');
SELECT tap.set_mark('notes');
INSERT INTO tap.notes VALUES ('e0000000-0000-4000-8000-000000000001', tap.id('Q'), 'x', 1);
UPDATE tap.notes SET n = 2;
UPDATE tap.notes SET body = 'y', n = 3;
DELETE FROM tap.notes;
SELECT is(tap.events_since(tap.m('notes')), ARRAY['task created', 'task updated', 'task purged'],
          'record_event() on a user table: created, updated (a change of only unrecorded columns records nothing), purged');
SELECT is((tap.event(tap.m('notes'), 'task', 'updated')).changes, '{"body": {"old": "x", "new": "y"}}'::jsonb,
          'unrecorded columns are left out of the changes');
SELECT is((tap.event(tap.m('notes'), 'task', 'created')).changes, jsonb_build_object('id', 'e0000000-0000-4000-8000-000000000001', 'project', tap.id('Q'), 'body', 'x'),
          'and out of the created row');
-- The conversions are kept per table for the backend's life: a column
-- retyped (same number of columns, same row type) is seen at the next insert.
CREATE TABLE tap.retyped (id uuid PRIMARY KEY, project uuid, body text);
CREATE TRIGGER retyped_event AFTER INSERT ON tap.retyped
    FOR EACH ROW EXECUTE FUNCTION task_api.record_event('task', 'id', 'project');
INSERT INTO tap.retyped VALUES ('e0000000-0000-4000-8000-0000000000a1', tap.id('Q'), 'five');
DELETE FROM tap.retyped;
ALTER TABLE tap.retyped ALTER COLUMN body TYPE integer USING length(body);
SELECT tap.set_mark('retyped');
INSERT INTO tap.retyped VALUES ('e0000000-0000-4000-8000-0000000000a2', tap.id('Q'), 5);
SELECT is((tap.event(tap.m('retyped'), 'task', 'created')).changes,
          jsonb_build_object('id', 'e0000000-0000-4000-8000-0000000000a2', 'project', tap.id('Q'), 'body', 5),
          'a column retyped after the table''s events were recorded in this session is recorded as its new type');
DROP TABLE tap.retyped;
CREATE TABLE tap.bad (id uuid, project uuid, label text);
CREATE TRIGGER bad_before BEFORE INSERT ON tap.bad FOR EACH ROW EXECUTE FUNCTION task_api.record_event('task', 'id', 'project');
SELECT throws_ok($$INSERT INTO tap.bad VALUES (gen_random_uuid(), gen_random_uuid(), 'x')$$, '39P01', NULL,
                 'record_event() as a BEFORE trigger is refused');
DROP TRIGGER bad_before ON tap.bad;
CREATE TRIGGER bad_args AFTER INSERT ON tap.bad FOR EACH ROW EXECUTE FUNCTION task_api.record_event('task', 'id');
SELECT throws_ok($$INSERT INTO tap.bad VALUES (gen_random_uuid(), gen_random_uuid(), 'x')$$, '39P01', NULL,
                 'record_event() with fewer than 3 arguments is refused');
DROP TRIGGER bad_args ON tap.bad;
CREATE TRIGGER bad_col AFTER INSERT ON tap.bad FOR EACH ROW EXECUTE FUNCTION task_api.record_event('task', 'id', 'nope');
SELECT throws_ok($$INSERT INTO tap.bad VALUES (gen_random_uuid(), gen_random_uuid(), 'x')$$, '42703', NULL,
                 'record_event() naming a missing column is refused (42703)');
DROP TRIGGER bad_col ON tap.bad;
CREATE TRIGGER bad_type AFTER INSERT ON tap.bad FOR EACH ROW EXECUTE FUNCTION task_api.record_event('task', 'id', 'label');
SELECT throws_ok($$INSERT INTO tap.bad VALUES (gen_random_uuid(), gen_random_uuid(), 'x')$$, '42804', NULL,
                 'record_event() naming a non-uuid column is refused (42804)');
DROP TRIGGER bad_type ON tap.bad;
CREATE TRIGGER bad_kind AFTER INSERT ON tap.bad FOR EACH ROW EXECUTE FUNCTION task_api.record_event('note', 'id', 'project');
SELECT throws_ok($$INSERT INTO tap.bad VALUES (gen_random_uuid(), gen_random_uuid(), 'x')$$, '22023', NULL,
                 'record_event() with an unknown resource type is refused (22023)');
DROP TRIGGER bad_kind ON tap.bad;
CREATE TRIGGER bad_null AFTER INSERT ON tap.bad FOR EACH ROW EXECUTE FUNCTION task_api.record_event('task', 'id', 'project');
SELECT throws_ok($$INSERT INTO tap.bad VALUES (gen_random_uuid(), NULL, 'x')$$, '23502', NULL,
                 'record_event() on a row without a project id is refused (23502)');
DROP TRIGGER bad_null ON tap.bad;
SELECT throws_ok($$SELECT task_api.record_event()$$, '39P01', NULL, 'record_event() called directly is refused');

-- task_api.events is a user table: its row goes through the executor's insert path
-- (a CHECK someone adds is enforced, every kind of index is maintained, its own
-- triggers fire), and a table or sequence the library cannot write in order is refused.
ALTER TABLE task_api.events ADD CONSTRAINT tap_no_forbidden CHECK (changes ->> 'body' IS DISTINCT FROM 'forbidden');
SELECT throws_ok($$INSERT INTO tap.notes VALUES ('e0000000-0000-4000-8000-000000000002', tap.id('Q'), 'forbidden', 1)$$,
                 '23514', NULL, 'a CHECK constraint added to task_api.events is enforced on the events the trigger writes');
ALTER TABLE task_api.events DROP CONSTRAINT tap_no_forbidden;
CREATE INDEX tap_events_purged ON task_api.events (resource_id) WHERE action = 'purged';
CREATE INDEX tap_events_body ON task_api.events ((changes ->> 'body'));
CREATE TABLE tap.seen (event_id bigint);
CREATE FUNCTION tap.seen_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO tap.seen VALUES (NEW.id); RETURN NULL; END $$;
CREATE TRIGGER tap_seen AFTER INSERT ON task_api.events FOR EACH ROW EXECUTE FUNCTION tap.seen_event();
INSERT INTO tap.notes VALUES ('e0000000-0000-4000-8000-000000000003', tap.id('Q'), 'indexed', 1);
DELETE FROM tap.notes WHERE id = 'e0000000-0000-4000-8000-000000000003';
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
SELECT results_eq($$SELECT action FROM task_api.events WHERE action = 'purged' AND resource_id = 'e0000000-0000-4000-8000-000000000003'$$,
                  ARRAY['purged'], 'a partial index on task_api.events holds only the rows its predicate admits');
SELECT results_eq($$SELECT action FROM task_api.events WHERE changes ->> 'body' = 'indexed' ORDER BY id$$,
                  ARRAY['created', 'purged'], 'an expression index on task_api.events is maintained');
RESET enable_seqscan;
RESET enable_bitmapscan;
SELECT results_eq($$SELECT count(*) FROM tap.seen s JOIN task_api.events e ON e.id = s.event_id
                     WHERE e.resource_id = 'e0000000-0000-4000-8000-000000000003'$$,
                  ARRAY[2::bigint], 'triggers on task_api.events fire for the events the trigger writes');
DROP TRIGGER tap_seen ON task_api.events;
DROP INDEX task_api.tap_events_purged;
DROP INDEX task_api.tap_events_body;
ALTER SEQUENCE task_api.events_id_seq CACHE 5;
SELECT throws_ok($$INSERT INTO tap.notes VALUES ('e0000000-0000-4000-8000-000000000004', tap.id('Q'), 'x', 1)$$,
                 '55000', NULL, 'an event id sequence with CACHE > 1 (ids out of order across backends) is refused (55000)');
ALTER SEQUENCE task_api.events_id_seq CACHE 1 INCREMENT -1 MINVALUE 1;
SELECT throws_ok($$INSERT INTO tap.notes VALUES ('e0000000-0000-4000-8000-00000000000a', tap.id('Q'), 'x', 1)$$,
                 '55000', NULL, 'and so is one counting down (55000)');
ALTER SEQUENCE task_api.events_id_seq INCREMENT 1;
ALTER TABLE task_api.events ADD COLUMN tap_extra int;
SELECT throws_ok($$INSERT INTO tap.notes VALUES ('e0000000-0000-4000-8000-000000000005', tap.id('Q'), 'x', 1)$$,
                 '55000', NULL, 'task_api.events with a column the library does not write is refused (55000)');
ALTER TABLE task_api.events DROP COLUMN tap_extra;
SELECT lives_ok($$INSERT INTO tap.notes VALUES ('e0000000-0000-4000-8000-000000000006', tap.id('Q'), 'x', 1)$$,
                'a dropped column of task_api.events is skipped');
ALTER TABLE task_api.events RENAME COLUMN changes TO diff;
SELECT throws_ok($$INSERT INTO tap.notes VALUES ('e0000000-0000-4000-8000-000000000007', tap.id('Q'), 'x', 1)$$,
                 '55000', NULL, 'task_api.events with a column renamed is refused (55000)');
ALTER TABLE task_api.events RENAME COLUMN diff TO changes;
SAVEPOINT no_changes;
ALTER EXTENSION task_api DROP VIEW api.task_events;
DROP VIEW api.task_events;
ALTER TABLE task_api.events DROP COLUMN changes;
SELECT throws_ok($$INSERT INTO tap.notes VALUES ('e0000000-0000-4000-8000-000000000008', tap.id('Q'), 'x', 1)$$,
                 '55000', NULL, 'task_api.events missing a column is refused (55000)');
ROLLBACK TO SAVEPOINT no_changes;
ALTER TABLE task_api.events RENAME TO events_real;
CREATE VIEW task_api.events AS SELECT * FROM task_api.events_real;
SELECT throws_ok($$INSERT INTO tap.notes VALUES ('e0000000-0000-4000-8000-000000000009', tap.id('Q'), 'x', 1)$$,
                 '42809', NULL, 'a task_api.events that is not a plain table is refused (42809)');
DROP VIEW task_api.events;
ALTER TABLE task_api.events_real RENAME TO events;

-- Isolation level: the bound needs a fresh snapshot.
SELECT throws_ok($$SELECT * FROM task_api.claim_events('tap', 1)$$, '0A000', NULL, 'claim_events() outside READ COMMITTED is refused (0A000)')
  FROM (SELECT 1) AS x WHERE current_setting('transaction_isolation') <> 'read committed';
SELECT pass('claim_events() runs in READ COMMITTED') FROM (SELECT 1) AS x WHERE current_setting('transaction_isolation') = 'read committed';

-- OpenAPI: every argument of every api function is described -------------------------
-- PostgREST 12 renders no per-argument description; it shows the function
-- comment, so every argument is listed there as "name: description".
SELECT is_empty($$SELECT p.oid::regprocedure::text || ' ' || a.name FROM pg_proc p,
                         unnest(p.proargnames, p.proargmodes) AS a(name, mode)
                   WHERE p.pronamespace = 'api'::regnamespace AND coalesce(a.mode, 'i') IN ('i', 'b', 'v') AND a.name <> ''
                     AND coalesce(obj_description(p.oid, 'pg_proc'), '') !~ ('(^|\n)' || a.name || ': \S')$$,
                'every argument of every api function has a "name: description" line in the function''s COMMENT');
SELECT is_empty($$SELECT p.oid::regprocedure::text FROM pg_proc p
                   WHERE p.pronamespace = 'api'::regnamespace AND p.prokind = 'f'
                     AND coalesce(obj_description(p.oid, 'pg_proc'), '') !~ '\n\nArguments:'$$,
                'every api function''s COMMENT has an Arguments paragraph (PostgREST shows it as the description; aggregates are no RPC)');

SELECT is_empty($$SELECT id FROM task_api.events
                  WHERE resource_type NOT IN ('project', 'member', 'task')
                     OR action NOT IN ('created', 'updated', 'deleted', 'restored', 'purged')$$,
                'every event written by the tests has a known resource_type and action (record_event() writes nothing else)');

-- The feed shows only fields of the public resource (issue 14) -----------------------
SELECT set_eq($$SELECT r, c FROM (VALUES ('task', 'tasks'), ('project', 'projects'), ('member', 'project_members')) AS v(r, t),
                      unnest(task_api.internal_columns(r)) AS c$$,
              $$SELECT v.r, a.attname::text FROM (VALUES ('task', 'tasks'), ('project', 'projects'), ('member', 'project_members')) AS v(r, t)
                  JOIN pg_attribute a ON a.attrelid = ('task_api.' || v.t)::regclass AND a.attnum > 0 AND NOT a.attisdropped
                 WHERE a.attname NOT IN (SELECT b.attname FROM pg_attribute b
                                          WHERE b.attrelid = ('api.' || v.t)::regclass AND b.attnum > 0)$$,
              'internal_columns() lists exactly the columns of each table that its api view does not have');
SELECT is_empty($$SELECT e.id, e.resource_type, e.action, k FROM api.task_events e, jsonb_object_keys(e.changes) AS k
                  WHERE k NOT IN (SELECT a.attname FROM pg_attribute a
                                   WHERE a.attrelid = ('api.' || CASE e.resource_type WHEN 'task' THEN 'tasks'
                                          WHEN 'project' THEN 'projects' ELSE 'project_members' END)::regclass
                                     AND a.attnum > 0)
                    AND e.resource_id::text NOT LIKE 'e0000000-0000-4000-8000-%'$$,
                'api.task_events: no event of any type shows a field its resource''s view does not have');
SELECT is((SELECT count(DISTINCT resource_type || ' ' || action) FROM api.task_events)::integer, 12,
          'the check above saw created, updated, deleted, restored and purged events of tasks and projects, and members');

SELECT * FROM finish();
ROLLBACK;
