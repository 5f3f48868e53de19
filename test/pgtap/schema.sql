-- Schema: what CREATE EXTENSION task_api builds (docs/contract.md §2, §3, §5).
BEGIN;
SELECT plan(259);

-- Extension and schemas ---------------------------------------------------------
SELECT has_extension('task_api', 'the task_api extension is installed');
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'task_api'),
          (SELECT default_version FROM pg_available_extensions WHERE name = 'task_api'),
          'task_api is at the version task_api.control names');
SELECT has_schema('api', 'schema api exists (what PostgREST serves)');
SELECT has_schema('task_api', 'schema task_api exists (tables and internals)');
SELECT is((SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'task_api'),
          'task_api', 'the extension lives in schema task_api');
SELECT ok(obj_description('api'::regnamespace, 'pg_namespace') IS NOT NULL, 'schema api has a COMMENT (OpenAPI description)');

-- Tables live in task_api, never in api ----------------------------------------
SELECT has_table('task_api', 'users', 'table task_api.users exists');
SELECT has_table('task_api', 'projects', 'table task_api.projects exists');
SELECT has_table('task_api', 'project_members', 'table task_api.project_members exists');
SELECT has_table('task_api', 'tasks', 'table task_api.tasks exists');
SELECT has_table('task_api', 'sessions', 'table task_api.sessions exists (one row per login; the token''s jti)');
SELECT has_table('task_api', 'api_keys', 'table task_api.api_keys exists');
SELECT has_table('task_api', 'invitations', 'table task_api.invitations exists');
SELECT is_empty($$SELECT relname FROM pg_class WHERE relnamespace = 'api'::regnamespace AND relkind NOT IN ('v')$$,
                'schema api holds only views: no table, sequence, index or materialized view is exposed');
SELECT views_are('api', ARRAY['users', 'projects', 'project_members', 'invitations', 'tasks', 'api_keys', 'trash', 'task_events'],
                 'schema api exposes exactly the views users, projects, project_members, invitations, tasks, api_keys, trash, task_events');
SELECT has_view('task_api', 'error_codes', 'view task_api.error_codes exists (the queryable catalogue)');

-- Enums ----------------------------------------------------------------------------
SELECT has_enum('task_api', 'task_status', 'enum task_api.task_status exists');
SELECT enum_has_labels('task_api', 'task_status', ARRAY['todo', 'in_progress', 'blocked', 'done', 'cancelled'],
                       'task_status is todo, in_progress, blocked, done, cancelled (in that order)');
SELECT has_enum('task_api', 'member_role', 'enum task_api.member_role exists');
SELECT enum_has_labels('task_api', 'member_role', ARRAY['viewer', 'editor', 'owner'],
                       'member_role is viewer < editor < owner, so roles compare with >=');

-- Table columns and types ------------------------------------------------------------
SELECT col_type_is('task_api', 'users', 'id', 'uuid', 'users.id is uuid');
SELECT col_is_pk('task_api', 'users', 'id', 'users.id is the primary key');
SELECT col_type_is('task_api', 'users', 'email', 'text', 'users.email is text');
SELECT col_not_null('task_api', 'users', 'email', 'users.email is NOT NULL');
SELECT col_type_is('task_api', 'users', 'display_name', 'text', 'users.display_name is text');
SELECT col_type_is('task_api', 'users', 'password_hash', 'text', 'users.password_hash is text');
SELECT col_type_is('task_api', 'users', 'created_at', 'timestamp with time zone', 'users.created_at is timestamptz');

SELECT col_type_is('task_api', 'projects', 'id', 'uuid', 'projects.id is uuid');
SELECT col_is_pk('task_api', 'projects', 'id', 'projects.id is the primary key');
SELECT col_type_is('task_api', 'projects', 'name', 'text', 'projects.name is text');
SELECT col_type_is('task_api', 'projects', 'description', 'text', 'projects.description is text');
SELECT col_type_is('task_api', 'projects', 'owner_id', 'uuid', 'projects.owner_id is uuid');
SELECT col_not_null('task_api', 'projects', 'owner_id', 'projects.owner_id is NOT NULL');
SELECT col_type_is('task_api', 'projects', 'created_at', 'timestamp with time zone', 'projects.created_at is timestamptz');
SELECT col_type_is('task_api', 'projects', 'updated_at', 'timestamp with time zone', 'projects.updated_at is timestamptz');
SELECT col_type_is('task_api', 'projects', 'version', 'integer', 'projects.version is integer');
SELECT col_default_is('task_api', 'projects', 'version', '1', 'projects.version defaults to 1');
SELECT col_type_is('task_api', 'projects', 'deleted_at', 'timestamp with time zone', 'projects.deleted_at is timestamptz (soft delete)');
SELECT col_type_is('task_api', 'projects', 'deleted_by', 'uuid', 'projects.deleted_by is uuid (soft delete)');
SELECT fk_ok('task_api', 'projects', 'owner_id', 'task_api', 'users', 'id', 'projects.owner_id references users');

SELECT col_type_is('task_api', 'project_members', 'project_id', 'uuid', 'project_members.project_id is uuid');
SELECT col_type_is('task_api', 'project_members', 'user_id', 'uuid', 'project_members.user_id is uuid');
SELECT col_type_is('task_api', 'project_members', 'role', 'task_api', 'member_role', 'project_members.role is task_api.member_role');
SELECT col_type_is('task_api', 'project_members', 'added_at', 'timestamp with time zone', 'project_members.added_at is timestamptz');
SELECT col_is_pk('task_api', 'project_members', ARRAY['project_id', 'user_id'], 'project_members is keyed by (project_id, user_id)');
SELECT fk_ok('task_api', 'project_members', 'project_id', 'task_api', 'projects', 'id', 'project_members.project_id references projects');
SELECT fk_ok('task_api', 'project_members', 'user_id', 'task_api', 'users', 'id', 'project_members.user_id references users');

SELECT col_type_is('task_api', 'tasks', 'id', 'uuid', 'tasks.id is uuid');
SELECT col_is_pk('task_api', 'tasks', 'id', 'tasks.id is the primary key');
SELECT col_type_is('task_api', 'tasks', 'project_id', 'uuid', 'tasks.project_id is uuid');
SELECT col_not_null('task_api', 'tasks', 'project_id', 'tasks.project_id is NOT NULL');
SELECT col_type_is('task_api', 'tasks', 'assignee_id', 'uuid', 'tasks.assignee_id is uuid');
SELECT col_is_null('task_api', 'tasks', 'assignee_id', 'tasks.assignee_id is nullable');
SELECT col_type_is('task_api', 'tasks', 'title', 'text', 'tasks.title is text');
SELECT col_type_is('task_api', 'tasks', 'description', 'text', 'tasks.description is text');
SELECT col_type_is('task_api', 'tasks', 'status', 'task_api', 'task_status', 'tasks.status is task_api.task_status');
SELECT col_default_is('task_api', 'tasks', 'status', 'todo', 'tasks.status defaults to todo');
SELECT col_type_is('task_api', 'tasks', 'priority', 'smallint', 'tasks.priority is smallint');
SELECT col_default_is('task_api', 'tasks', 'priority', '2', 'tasks.priority defaults to 2');
SELECT col_type_is('task_api', 'tasks', 'due_date', 'date', 'tasks.due_date is date');
SELECT col_type_is('task_api', 'tasks', 'created_by', 'uuid', 'tasks.created_by is uuid');
SELECT col_type_is('task_api', 'tasks', 'created_at', 'timestamp with time zone', 'tasks.created_at is timestamptz');
SELECT col_type_is('task_api', 'tasks', 'updated_at', 'timestamp with time zone', 'tasks.updated_at is timestamptz');
SELECT col_type_is('task_api', 'tasks', 'completed_at', 'timestamp with time zone', 'tasks.completed_at is timestamptz');
SELECT col_type_is('task_api', 'tasks', 'version', 'integer', 'tasks.version is integer');
SELECT col_type_is('task_api', 'tasks', 'deleted_at', 'timestamp with time zone', 'tasks.deleted_at is timestamptz (soft delete)');
SELECT col_type_is('task_api', 'tasks', 'deleted_by', 'uuid', 'tasks.deleted_by is uuid (soft delete)');
SELECT col_type_is('task_api', 'tasks', 'deleted_with_project', 'boolean', 'tasks.deleted_with_project is boolean (trashed with its project)');
SELECT col_not_null('task_api', 'tasks', 'deleted_with_project', 'tasks.deleted_with_project is NOT NULL');
SELECT col_default_is('task_api', 'tasks', 'deleted_with_project', 'false', 'tasks.deleted_with_project defaults to false');
SELECT fk_ok('task_api', 'tasks', 'deleted_by', 'task_api', 'users', 'id', 'tasks.deleted_by references users');
SELECT fk_ok('task_api', 'projects', 'deleted_by', 'task_api', 'users', 'id', 'projects.deleted_by references users');
SELECT fk_ok('task_api', 'tasks', 'project_id', 'task_api', 'projects', 'id', 'tasks.project_id references projects');
SELECT fk_ok('task_api', 'tasks', ARRAY['project_id', 'assignee_id'], 'task_api', 'project_members', ARRAY['project_id', 'user_id'],
             'tasks (project_id, assignee_id) references project_members: an assignee is a member');
SELECT fk_ok('task_api', 'tasks', 'created_by', 'task_api', 'users', 'id', 'tasks.created_by references users');

-- Defaults come from the database, and ids are UUIDv7 made in C.
SELECT col_default_is('task_api', 'tasks', 'id', 'task_api.uuidv7()', 'tasks.id defaults to task_api.uuidv7()');
SELECT col_default_is('task_api', 'projects', 'id', 'task_api.uuidv7()', 'projects.id defaults to task_api.uuidv7()');
SELECT col_default_is('task_api', 'users', 'id', 'task_api.uuidv7()', 'users.id defaults to task_api.uuidv7()');
SELECT col_default_is('task_api', 'sessions', 'id', 'task_api.uuidv7()', 'sessions.id defaults to task_api.uuidv7()');
SELECT col_default_is('task_api', 'api_keys', 'id', 'task_api.uuidv7()', 'api_keys.id defaults to task_api.uuidv7()');

-- Authentication tables: what is stored (never a token or key) and whose it is.
SELECT columns_are('task_api', 'sessions', ARRAY['id', 'user_id', 'created_at', 'expires_at', 'revoked_at'],
                   'task_api.sessions has exactly id, user_id, created_at, expires_at, revoked_at (no token)');
SELECT columns_are('task_api', 'api_keys', ARRAY['id', 'user_id', 'name', 'created_at', 'expires_at', 'revoked_at', 'last_used_at'],
                   'task_api.api_keys has exactly id, user_id, name, created_at, expires_at, revoked_at, last_used_at (no key)');
SELECT fk_ok('task_api', 'sessions', 'user_id', 'task_api', 'users', 'id', 'sessions.user_id references users');
SELECT fk_ok('task_api', 'api_keys', 'user_id', 'task_api', 'users', 'id', 'api_keys.user_id references users');

-- API view columns: exactly what docs/contract.md §3 lists, never the soft-delete or secret columns.
SELECT columns_are('api', 'users', ARRAY['id', 'email', 'display_name', 'created_at'],
                   'api.users has exactly id, email, display_name, created_at (no password_hash)');
SELECT columns_are('api', 'projects', ARRAY['id', 'name', 'description', 'owner_id', 'created_at', 'updated_at', 'version'],
                   'api.projects has exactly the columns of docs/contract.md §3 (no deleted_at/deleted_by)');
SELECT columns_are('api', 'project_members', ARRAY['project_id', 'user_id', 'role', 'added_at', 'email'],
                   'api.project_members has project_id, user_id, role, added_at and the write-only email');
SELECT columns_are('api', 'api_keys', ARRAY['id', 'name', 'created_at', 'expires_at', 'last_used_at'],
                   'api.api_keys has exactly id, name, created_at, expires_at, last_used_at (never the key, the owner or revoked_at)');
SELECT columns_are('api', 'tasks', ARRAY['id', 'project_id', 'assignee_id', 'title', 'description', 'status', 'priority',
                                         'due_date', 'created_by', 'created_at', 'updated_at', 'completed_at', 'version'],
                   'api.tasks has exactly the task model of docs/contract.md §3 (no deleted_at/deleted_by)');
SELECT columns_are('api', 'trash', ARRAY['resource_type', 'id', 'project_id', 'title', 'deleted_at', 'deleted_by', 'purge_after'],
                   'api.trash has exactly resource_type, id, project_id, title, deleted_at, deleted_by, purge_after');
SELECT col_type_is('api', 'trash', 'resource_type', 'text', 'api.trash.resource_type is text');
SELECT col_type_is('api', 'trash', 'purge_after', 'timestamp with time zone', 'api.trash.purge_after is timestamptz');
SELECT col_type_is('api', 'tasks', 'status', 'task_api', 'task_status', 'api.tasks.status is task_api.task_status');
SELECT col_type_is('api', 'tasks', 'priority', 'smallint', 'api.tasks.priority is smallint');
SELECT col_type_is('api', 'tasks', 'due_date', 'date', 'api.tasks.due_date is date');
SELECT col_type_is('api', 'tasks', 'version', 'integer', 'api.tasks.version is integer');
SELECT col_type_is('api', 'tasks', 'completed_at', 'timestamp with time zone', 'api.tasks.completed_at is timestamptz');
SELECT col_type_is('api', 'projects', 'owner_id', 'uuid', 'api.projects.owner_id is uuid');
SELECT col_type_is('api', 'project_members', 'role', 'task_api', 'member_role', 'api.project_members.role is task_api.member_role');
SELECT col_type_is('api', 'users', 'email', 'text', 'api.users.email is text');
-- PostgREST fills omitted columns from the view's defaults.
SELECT col_default_is('api', 'tasks', 'status', 'todo', 'api.tasks.status defaults to todo');
SELECT col_default_is('api', 'tasks', 'priority', '2', 'api.tasks.priority defaults to 2');
SELECT col_default_is('api', 'project_members', 'role', 'viewer', 'api.project_members.role defaults to viewer');
SELECT columns_are('api', 'invitations', ARRAY['id', 'project_id', 'email', 'user_id', 'role', 'created_at', 'expires_at', 'project_name'],
                   'api.invitations shows id, project_id, the invitee as given (email or user_id), role, created_at, expires_at and the project''s name');
SELECT col_default_is('api', 'invitations', 'role', 'viewer', 'api.invitations.role defaults to viewer');
SELECT columns_are('task_api', 'invitations', ARRAY['id', 'project_id', 'email', 'user_id', 'role', 'invited_by', 'created_at', 'expires_at'],
                   'task_api.invitations keeps the invitee as given and who invited');

-- Row-level security: enabled AND forced on every task_api table ---------------
SELECT ok(relrowsecurity AND relforcerowsecurity, format('RLS is enabled and forced on task_api.%s', relname))
  FROM pg_class
 WHERE oid IN ('task_api.users'::regclass, 'task_api.projects'::regclass,
               'task_api.project_members'::regclass, 'task_api.tasks'::regclass,
               'task_api.sessions'::regclass, 'task_api.api_keys'::regclass,
               'task_api.events'::regclass, 'task_api.event_consumers'::regclass,
               'task_api.invitations'::regclass)
 ORDER BY relname;
SELECT is_empty($$SELECT relname FROM pg_class
                   WHERE relnamespace = 'task_api'::regnamespace AND relkind IN ('r', 'p')
                     AND NOT (relrowsecurity AND relforcerowsecurity)$$,
                'no task_api table lacks enabled and forced RLS');
SELECT policies_are('task_api', 'projects', ARRAY['projects_select', 'projects_insert', 'projects_update', 'projects_delete'],
                    'task_api.projects has a policy per command');
SELECT policies_are('task_api', 'project_members',
                    ARRAY['project_members_select', 'project_members_update', 'project_members_delete'],
                    'task_api.project_members has select, update and delete policies: members join by accepting an invitation (accept_invitation(), as the owner)');
SELECT policies_are('task_api', 'invitations', ARRAY['invitations_select', 'invitations_insert', 'invitations_delete'],
                    'task_api.invitations has select, insert and delete (revoke) policies: an invitation is never updated');
SELECT policies_are('task_api', 'tasks', ARRAY['tasks_select', 'tasks_insert', 'tasks_update', 'tasks_delete'],
                    'task_api.tasks has a policy per command');
SELECT policies_are('task_api', 'api_keys', ARRAY['api_keys_select', 'api_keys_update'],
                    'task_api.api_keys has select and update (revoke) policies only: keys are created by create_api_key');
SELECT policies_are('task_api', 'users', ARRAY['users_select', 'users_update'],
                    'task_api.users has select and update policies only (no insert or delete through the API)');
SELECT policies_are('task_api', 'events', ARRAY['events_select'],
                    'task_api.events has a select policy only: the trigger writes as the tables'' owner');
SELECT policies_are('task_api', 'event_consumers', ARRAY[]::name[],
                    'task_api.event_consumers has no policy: only claim_events()/ack_events() (SECURITY DEFINER) touch it');

-- API views are security_invoker ---------------------------------------------------
SELECT ok(coalesce('security_invoker=true' = ANY (c.reloptions), false), format('api.%s is security_invoker', c.relname))
  FROM pg_class c
 WHERE c.relnamespace = 'api'::regnamespace AND c.relkind = 'v'
   AND c.relname IN ('users', 'projects', 'project_members', 'invitations', 'tasks', 'api_keys', 'trash', 'task_events')
 ORDER BY c.relname;
SELECT is_empty($$SELECT relname FROM pg_class
                   WHERE relnamespace = 'api'::regnamespace AND relkind = 'v'
                     AND NOT coalesce('security_invoker=true' = ANY (reloptions)
                                      OR 'security_invoker=on' = ANY (reloptions), false)$$,
                'no api view can bypass RLS (every one is security_invoker)');

-- Writes go through INSTEAD OF triggers ------------------------------------------
SELECT has_trigger('api', 'users', 'users_50_update', 'api.users has its INSTEAD OF UPDATE trigger');
SELECT triggers_are('api', 'projects', ARRAY['projects_50_insert', 'projects_50_update', 'projects_50_delete',
                                             'projects_20_idempotency_begin', 'projects_20_idempotency_in',
                                             'projects_90_idempotency_out', 'projects_90_idempotency_end',
                                             'projects_10_bulk_rows'],
                    'api.projects has INSTEAD OF INSERT/UPDATE/DELETE triggers, the idempotency triggers around them and the bulk-row cap');
SELECT triggers_are('api', 'project_members', ARRAY['project_members_50_insert', 'project_members_50_update', 'project_members_50_delete'],
                    'api.project_members has INSTEAD OF INSERT/UPDATE/DELETE triggers');
SELECT triggers_are('api', 'invitations', ARRAY['invitations_50_insert', 'invitations_50_delete',
                                                'invitations_20_idempotency_begin', 'invitations_20_idempotency_in',
                                                'invitations_90_idempotency_out', 'invitations_90_idempotency_end'],
                    'api.invitations has INSTEAD OF INSERT/DELETE triggers and the idempotency triggers around the insert');
SELECT is((SELECT array_agg(tgname::text ORDER BY tgname::text COLLATE "C") FROM pg_trigger
            WHERE tgrelid = 'api.invitations'::regclass AND tgtype & 64 <> 0 AND tgtype & 4 <> 0),
          ARRAY['invitations_20_idempotency_in', 'invitations_50_insert', 'invitations_90_idempotency_out'],
          'on INSERT into api.invitations, idempotency_row_in fires before invitations_insert and idempotency_row_out after it');
SELECT triggers_are('api', 'tasks', ARRAY['tasks_50_insert', 'tasks_50_insert_flush', 'tasks_50_update', 'tasks_50_delete',
                                          'tasks_20_idempotency_begin', 'tasks_20_idempotency_in',
                                          'tasks_90_idempotency_out', 'tasks_90_idempotency_end', 'tasks_10_bulk_rows'],
                    'api.tasks has INSTEAD OF INSERT/UPDATE/DELETE triggers, the statement-level insert flush, the idempotency triggers and the bulk-row cap');
-- INSTEAD OF row triggers fire in name order (view_trigger() stages): the
-- bulk-row cap first, then the idempotency ones around the write; every
-- view's order is in trigger_order.sql.
SELECT is((SELECT array_agg(tgname::text ORDER BY tgname::text COLLATE "C") FROM pg_trigger
            WHERE tgrelid = 'api.tasks'::regclass AND tgtype & 64 <> 0 AND tgtype & 4 <> 0),
          ARRAY['tasks_10_bulk_rows', 'tasks_20_idempotency_in', 'tasks_50_insert', 'tasks_90_idempotency_out'],
          'on INSERT into api.tasks, bulk_rows counts first, idempotency_row_in fires before tasks_insert and idempotency_row_out after it');
SELECT is((SELECT array_agg(tgname::text ORDER BY tgname::text COLLATE "C") FROM pg_trigger
            WHERE tgrelid = 'api.projects'::regclass AND tgtype & 64 <> 0 AND tgtype & 16 <> 0),
          ARRAY['projects_20_idempotency_in', 'projects_50_update', 'projects_90_idempotency_out'],
          'on UPDATE of api.projects, idempotency_row_in fires before projects_update and idempotency_row_out after it');
SELECT triggers_are('api', 'api_keys', ARRAY['api_keys_50_delete'], 'api.api_keys has its INSTEAD OF DELETE (revoke) trigger only');
SELECT triggers_are('api', 'trash', ARRAY[]::name[], 'api.trash has no triggers: it is read-only');
SELECT triggers_are('task_api', 'projects', ARRAY['projects_stamp', 'projects_changed', 'projects_add_owner', 'projects_soft_delete', 'events_record'],
                    'task_api.projects has exactly the stamp, membership-cache, add-owner, soft-delete and event triggers');
SELECT triggers_are('task_api', 'tasks', ARRAY['tasks_stamp', 'tasks_soft_delete', 'events_record'],
                    'task_api.tasks has exactly the stamp, soft-delete and event triggers');
SELECT triggers_are('task_api', 'project_members', ARRAY['project_members_changed', 'project_members_keep_owner', 'events_record'],
                    'task_api.project_members has exactly the membership-cache, keep-owner and event triggers');
SELECT triggers_are('api', 'task_events', ARRAY[]::name[], 'api.task_events has no triggers: it is read-only');
SELECT is(pg_get_triggerdef(t.oid), d,
          format('task_api.%s records its events with the C trigger record_event() AFTER each row change', c.relname))
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
  JOIN (VALUES ('projects', 'CREATE TRIGGER events_record AFTER INSERT OR DELETE OR UPDATE ON task_api.projects FOR EACH ROW EXECUTE FUNCTION task_api.record_event(''project'', ''id'', ''id'', ''updated_at'', ''version'')'),
               ('project_members', 'CREATE TRIGGER events_record AFTER INSERT OR DELETE OR UPDATE ON task_api.project_members FOR EACH ROW EXECUTE FUNCTION task_api.record_event(''member'', ''user_id'', ''project_id'')'),
               ('tasks', 'CREATE TRIGGER events_record AFTER INSERT OR DELETE OR UPDATE ON task_api.tasks FOR EACH ROW EXECUTE FUNCTION task_api.record_event(''task'', ''id'', ''project_id'', ''updated_at'', ''version'')'))
         AS x(rel, d) ON x.rel = c.relname
 WHERE t.tgname = 'events_record' AND c.relnamespace = 'task_api'::regnamespace
 ORDER BY c.relname;
SELECT function_lang_is('task_api', 'record_event', ARRAY[]::name[], 'c', 'record_event() is written in C');
SELECT function_lang_is('task_api', 'events_claim_bound', ARRAY[]::name[], 'c', 'events_claim_bound() is written in C');
SELECT trigger_is('task_api', 'projects', 'projects_soft_delete', 'task_api', 'soft_delete', 'projects go to the trash by the C trigger soft_delete');
SELECT trigger_is('task_api', 'tasks', 'tasks_soft_delete', 'task_api', 'soft_delete', 'tasks go to the trash by the C trigger soft_delete');
SELECT is(pg_get_triggerdef(t.oid),
          format('CREATE TRIGGER %s_soft_delete BEFORE DELETE ON task_api.%s FOR EACH ROW EXECUTE FUNCTION task_api.soft_delete(''deleted_at'', ''deleted_by'')', c.relname, c.relname),
          format('%s_soft_delete is BEFORE DELETE FOR EACH ROW soft_delete(deleted_at, deleted_by)', c.relname))
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE t.tgname IN ('projects_soft_delete', 'tasks_soft_delete') AND c.relnamespace = 'task_api'::regnamespace
 ORDER BY c.relname;
SELECT trigger_is('task_api', 'tasks', 'tasks_stamp', 'task_api', 'stamp_row', 'tasks are stamped by the C trigger stamp_row');
SELECT trigger_is('task_api', 'projects', 'projects_stamp', 'task_api', 'stamp_row', 'projects are stamped by the C trigger stamp_row');
SELECT has_trigger('task_api', 'project_members', 'project_members_keep_owner', 'project_members keeps an owner by trigger');
SELECT has_trigger('task_api', 'projects', 'projects_add_owner', 'a new project gets its creator as owner by trigger');
SELECT matches(pg_get_triggerdef(t.oid),
               $re$BEFORE INSERT OR UPDATE ON task_api\.tasks FOR EACH ROW EXECUTE FUNCTION task_api\.stamp_row\('updated_at', 'version', 'status', 'done', 'completed_at'\)$re$,
               'tasks_stamp maintains updated_at, version and completed_at (status done)')
  FROM pg_trigger t WHERE t.tgname = 'tasks_stamp' AND t.tgrelid = 'task_api.tasks'::regclass;

-- Comments: every api view, column and function is described (OpenAPI) ---------
SELECT is_empty($$SELECT c.relname FROM pg_class c
                   WHERE c.relnamespace = 'api'::regnamespace AND c.relkind = 'v'
                     AND obj_description(c.oid, 'pg_class') IS NULL$$,
                'every api view has a COMMENT');
SELECT is_empty($$SELECT c.relname || '.' || a.attname FROM pg_class c
                    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                   WHERE c.relnamespace = 'api'::regnamespace AND c.relkind = 'v'
                     AND col_description(c.oid, a.attnum) IS NULL$$,
                'every api view column has a COMMENT');
SELECT is_empty($$SELECT p.oid::regprocedure::text FROM pg_proc p
                   WHERE p.pronamespace = 'api'::regnamespace
                     AND obj_description(p.oid, 'pg_proc') IS NULL$$,
                'every api function has a COMMENT');
SELECT is_empty($$SELECT p.oid::regprocedure::text FROM pg_proc p
                   WHERE p.pronamespace = 'task_api'::regnamespace AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'c')
                     AND obj_description(p.oid, 'pg_proc') IS NULL$$,
                'every C function has a COMMENT');
SELECT ok(obj_description('task_api.pre_request()'::regprocedure, 'pg_proc') IS NOT NULL,
          'the PostgREST hook task_api.pre_request() has a COMMENT');
SELECT ok(obj_description('task_api.error_codes'::regclass, 'pg_class') IS NOT NULL, 'task_api.error_codes has a COMMENT');
SELECT ok(obj_description('task_api.task_status'::regtype, 'pg_type') IS NOT NULL, 'type task_status has a COMMENT');
SELECT ok(obj_description('task_api.member_role'::regtype, 'pg_type') IS NOT NULL, 'type member_role has a COMMENT');

-- SECURITY DEFINER functions pin search_path ------------------------------------
SELECT is_empty($$SELECT p.oid::regprocedure::text FROM pg_proc p
                   WHERE p.pronamespace IN ('api'::regnamespace, 'task_api'::regnamespace) AND p.prosecdef
                     AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search\_path=%')$$,
                'every SECURITY DEFINER function has a pinned search_path');
SELECT is_empty($$SELECT p.oid::regprocedure::text FROM pg_proc p, unnest(p.proconfig) c
                   WHERE p.pronamespace IN ('api'::regnamespace, 'task_api'::regnamespace) AND p.prosecdef
                     AND c LIKE 'search\_path=%'
                     AND (c ~ '\mpublic\M' OR c LIKE '%$user%' OR c NOT LIKE '%pg\_temp%')$$,
                'no SECURITY DEFINER search_path includes public or $user, and each puts pg_temp explicitly');
SELECT set_eq($$SELECT p.oid::regprocedure::text FROM pg_proc p
                 WHERE p.pronamespace IN ('api'::regnamespace, 'task_api'::regnamespace) AND p.prosecdef$$,
              ARRAY['task_api.projects_add_owner()', 'task_api.project_members_keep_owner()',
                    'task_api.check_project_name(uuid,text,uuid)',
                    'task_api.own_email(uuid)', 'task_api.project_members_insert()',
                    'api.accept_invitation(uuid)', 'api.decline_invitation(uuid)', 'task_api.purge_expired_invitations()', 'task_api.purge_expired_events(integer,integer)', 'task_api.purge_expired_credentials()',
                    'task_api.invitation_project_name(uuid)',
                    'task_api.start_session(uuid)', 'api.signup(text,text,text)', 'api.login(text,text)',
                    'api.logout()', 'api.refresh()', 'api.change_password(text,text)', 'api.logout_all()', 'api.create_api_key(text,timestamp with time zone)',
                    'task_api.purge_expired()', 'task_api.purge_expired_idempotency_keys()',
                    'task_api.search_tasks(uuid[],text)', 'task_api.page_link(text,text[],text)',
                    'task_api.claim_events(text,integer)', 'task_api.ack_events(text,bigint)',
                    'api.metrics()', 'task_api.check_scraper_token()', 'task_api.citus_resolve_caller()',
                    'task_api.citus_search_tasks(uuid[],text)', 'task_api.citus_event_consumer_health()',
                    'task_api.citus_api_keys_delete()', 'task_api.citus_claim_events(text,integer)',
                    'task_api.citus_ack_events(text,bigint)', 'task_api.citus_metrics_read()'],
              'only the functions that must bypass RLS (new owner, keep an owner, accepting and declining an invitation, its project''s name for the invitee, name uniqueness, own email, the auth RPCs that read users, sessions and keys, the scheduled purges, the full-text search of tasks_page, the event consumers, the Prometheus endpoint and its token check, the caller''s projects, the full-text search, consumer health, a key''s revoke, the per-node claims and acknowledgements and the workers'' counters on Citus) or set a response header (the Link of a page, the Allow of POST /project_members) are SECURITY DEFINER');

-- C functions: volatility and strictness --------------------------------------------
SELECT volatility_is('task_api', 'uuidv7', ARRAY[]::name[], 'volatile', 'uuidv7() is VOLATILE');
SELECT volatility_is('task_api', 'uuidv7_time', ARRAY['uuid'], 'immutable', 'uuidv7_time(uuid) is IMMUTABLE');
SELECT is_strict('task_api', 'uuidv7_time', ARRAY['uuid'], 'uuidv7_time(uuid) is STRICT');
SELECT volatility_is('task_api', 'current_user_id', ARRAY[]::name[], 'stable', 'current_user_id() is STABLE (usable in policies)');
SELECT volatility_is('task_api', 'pre_request', ARRAY[]::name[], 'volatile', 'pre_request() is VOLATILE');
SELECT function_returns('task_api', 'current_user_id', ARRAY[]::name[], 'uuid', 'current_user_id() returns uuid');
SELECT function_returns('task_api', 'stamp_row', ARRAY[]::name[], 'trigger', 'stamp_row() is a trigger function');
SELECT function_lang_is('task_api', 'stamp_row', ARRAY[]::name[], 'c', 'stamp_row() is written in C');
SELECT function_lang_is('task_api', 'pre_request', ARRAY[]::name[], 'c', 'pre_request() is written in C');
SELECT function_returns('task_api', 'soft_delete', ARRAY[]::name[], 'trigger', 'soft_delete() is a trigger function');
SELECT function_lang_is('task_api', 'soft_delete', ARRAY[]::name[], 'c', 'soft_delete() is written in C');
SELECT function_returns('task_api', 'trash_retention', ARRAY[]::name[], 'interval', 'trash_retention() returns interval');
SELECT volatility_is('task_api', 'trash_retention', ARRAY[]::name[], 'stable', 'trash_retention() is STABLE (it reads a setting)');
SELECT function_returns('task_api', 'purge_expired', ARRAY[]::name[], 'bigint', 'purge_expired() returns how many rows it removed (bigint)');
SELECT function_lang_is('task_api', f, a, 'c', format('%s(%s) is written in C', f, array_to_string(a, ', ')))
  FROM (VALUES ('check_if_match', ARRAY['integer']::name[]), ('note_etag', ARRAY['integer']::name[])) AS c(f, a)
 ORDER BY f;
SELECT function_lang_is('task_api', 'raise_error', ARRAY['text', 'text', 'text', 'text'], 'c', 'raise_error() is written in C');
SELECT function_lang_is('task_api', f, a, 'c', format('%s(%s) is written in C', f, array_to_string(a, ', ')))
  FROM (VALUES ('jwt_sign', ARRAY['text']::name[]), ('jwt_verify', ARRAY['text']::name[]), ('csrf_token', ARRAY['text']::name[]),
               ('password_hash', ARRAY['text']::name[]), ('password_verify', ARRAY['text', 'text']::name[])) AS c(f, a)
 ORDER BY f;
SELECT function_lang_is('task_api', f, a, 'c', format('%s(%s) is written in C', f, array_to_string(a, ', ')))
  FROM (VALUES ('rate_limit_status', ARRAY['text', 'text']::name[]), ('rate_limit_reset', ARRAY['text', 'text']::name[]),
               ('rate_limit_charge', ARRAY['text', 'text']::name[]),
               ('rate_limit_gcra', ARRAY['bigint', 'bigint', 'integer', 'integer']::name[])) AS c(f, a)
 ORDER BY f;
SELECT volatility_is('task_api', 'rate_limit_gcra', ARRAY['bigint', 'bigint', 'integer', 'integer'], 'immutable',
                     'rate_limit_gcra() is IMMUTABLE (the clock is an argument)');

-- Indexes ----------------------------------------------------------------------------
SELECT has_index('task_api', 'users', 'users_email_key', 'users has users_email_key');
SELECT index_is_unique('task_api', 'users', 'users_email_key', 'users_email_key is unique');
SELECT is(pg_get_indexdef('task_api.users_email_key'::regclass) ~ 'lower\(email\)', true,
          'users_email_key is on lower(email): email is unique case-insensitively');
SELECT has_index('task_api', 'projects', 'projects_owner_name_key', ARRAY['owner_id', 'name'], 'projects has (owner_id, name) index');
SELECT index_is_unique('task_api', 'projects', 'projects_owner_name_key', 'projects_owner_name_key is unique');
SELECT is(pg_get_expr(i.indpred, i.indrelid), '(deleted_at IS NULL)',
          'projects_owner_name_key covers live projects only (partial on deleted_at IS NULL)')
  FROM pg_index i WHERE i.indexrelid = 'task_api.projects_owner_name_key'::regclass;
SELECT has_index('task_api', 'projects', 'projects_owner_idx', ARRAY['owner_id'], 'projects has (owner_id) index (the owner arm of the visibility policy)');
SELECT has_index('task_api', 'project_members', 'project_members_user_idx', 'project_members has user_idx (every RLS check)');
SELECT is(pg_get_indexdef('task_api.project_members_user_idx'::regclass),
          'CREATE INDEX project_members_user_idx ON task_api.project_members USING btree (user_id, project_id) INCLUDE (role)',
          'project_members_user_idx is (user_id, project_id) INCLUDE (role)');
SELECT has_index('task_api', 'tasks', 'tasks_project_created_idx', 'tasks has tasks_project_created_idx');
SELECT is(pg_get_indexdef('task_api.tasks_project_created_idx'::regclass),
          'CREATE INDEX tasks_project_created_idx ON task_api.tasks USING btree (project_id, created_at DESC, id DESC) WHERE (deleted_at IS NULL)',
          'tasks_project_created_idx is (project_id, created_at DESC, id DESC) over live tasks');
SELECT is(pg_get_indexdef('task_api.projects_trash_idx'::regclass),
          'CREATE INDEX projects_trash_idx ON task_api.projects USING btree (deleted_at) WHERE (deleted_at IS NOT NULL)',
          'projects_trash_idx is (deleted_at) over trashed projects only');
SELECT is(pg_get_indexdef('task_api.tasks_trash_idx'::regclass),
          'CREATE INDEX tasks_trash_idx ON task_api.tasks USING btree (project_id, deleted_at) WHERE (deleted_at IS NOT NULL)',
          'tasks_trash_idx is (project_id, deleted_at) over trashed tasks only');
SELECT indexes_are('task_api', 'projects', ARRAY['projects_pkey', 'projects_owner_name_key', 'projects_owner_idx', 'projects_trash_idx'],
                   'task_api.projects has exactly its primary key, the live-name, owner and trash indexes');
SELECT indexes_are('task_api', 'tasks', ARRAY['tasks_pkey', 'tasks_project_created_idx', 'tasks_project_assignee_idx', 'tasks_trash_idx',
                                               'tasks_project_updated_idx', 'tasks_project_due_idx', 'tasks_project_priority_idx',
                                               'tasks_search_idx', 'tasks_live_created_idx'],
                   'task_api.tasks has exactly its primary key, the live-list, assignee and trash indexes, the keyset and full-text indexes of tasks_page, and the live index by created_at');
-- Cursor pagination: one index per sort key, live rows only, both directions.
SELECT is(pg_get_indexdef(('task_api.' || i)::regclass), d, format('%s is %s', i, d))
  FROM (VALUES
    ('tasks_project_updated_idx', 'CREATE INDEX tasks_project_updated_idx ON task_api.tasks USING btree (project_id, updated_at, id) WHERE (deleted_at IS NULL)'),
    ('tasks_project_due_idx', 'CREATE INDEX tasks_project_due_idx ON task_api.tasks USING btree (project_id, due_date, id) WHERE (deleted_at IS NULL)'),
    ('tasks_project_priority_idx', 'CREATE INDEX tasks_project_priority_idx ON task_api.tasks USING btree (project_id, priority, id) WHERE (deleted_at IS NULL)'),
    ('tasks_search_idx', 'CREATE INDEX tasks_search_idx ON task_api.tasks USING gin (to_tsvector(''simple''::regconfig, ((title || '' ''::text) || COALESCE(description, ''''::text)))) WHERE (deleted_at IS NULL)')
  ) AS x(i, d) ORDER BY i;
SELECT volatility_is('api', f, a, 'stable', format('api.%s is STABLE (GET, in a read-only transaction)', f))
  FROM (VALUES ('tasks_page', ARRAY['uuid', 'task_api.task_status', 'uuid', 'text', 'text', 'text', 'integer', 'text']::name[]),
               ('projects_page', ARRAY['text', 'text', 'integer', 'text']::name[]),
               ('task_events_page', ARRAY['uuid', 'text', 'text', 'integer', 'text']::name[])) AS x(f, a) ORDER BY f;
SELECT function_returns('api', f, a, 'json', format('api.%s returns json {data, next_cursor, has_more}', f))
  FROM (VALUES ('tasks_page', ARRAY['uuid', 'task_api.task_status', 'uuid', 'text', 'text', 'text', 'integer', 'text']::name[]),
               ('projects_page', ARRAY['text', 'text', 'integer', 'text']::name[]),
               ('task_events_page', ARRAY['uuid', 'text', 'text', 'integer', 'text']::name[])) AS x(f, a) ORDER BY f;
SELECT ok(NOT p.prosecdef, format('%s is SECURITY INVOKER: row-level security applies to every page', p.oid::regprocedure))
  FROM pg_proc p WHERE p.oid IN ('api.tasks_page(uuid,task_api.task_status,uuid,text,text,text,integer,text)'::regprocedure,
                                 'api.projects_page(text,text,integer,text)'::regprocedure,
                                 'api.task_events_page(uuid,text,text,integer,text)'::regprocedure) ORDER BY 1;
SELECT function_lang_is('task_api', f, a, 'c', format('%s(%s) is written in C', f, array_to_string(a, ', ')))
  FROM (VALUES ('cursor_encode', ARRAY['anyelement', 'uuid', 'text', 'text']::name[]),
               ('cursor_decode', ARRAY['text', 'text', 'anyelement']::name[]),
               ('percent_encode', ARRAY['text']::name[])) AS c(f, a)
 ORDER BY f;
SELECT has_index('task_api', 'tasks', 'tasks_project_assignee_idx', ARRAY['project_id', 'assignee_id'],
                 'tasks has (project_id, assignee_id) index for the member foreign key');

-- Roles ------------------------------------------------------------------------------
SELECT has_role('task_api_anon', 'role task_api_anon exists');
SELECT has_role('task_api_user', 'role task_api_user exists');
SELECT has_role('task_api_authenticator', 'role task_api_authenticator exists');
SELECT has_role('task_api_relay', 'role task_api_relay exists (event consumers)');

-- Events -------------------------------------------------------------------------------
SELECT columns_are('task_api', 'events', ARRAY['id', 'occurred_at', 'xact_id', 'actor_id', 'resource_type', 'resource_id',
                                               'project_id', 'action', 'changes', 'request_id'],
                   'task_api.events has exactly its columns');
SELECT col_type_is('task_api', 'events', 'id', 'bigint', 'events.id is bigint');
SELECT col_is_pk('task_api', 'events', 'id', 'events.id is the primary key');
SELECT is((SELECT attidentity::text FROM pg_attribute WHERE attrelid = 'task_api.events'::regclass AND attname = 'id'), 'a',
          'events.id is GENERATED ALWAYS AS IDENTITY');
SELECT is((SELECT seqcache FROM pg_sequence WHERE seqrelid = 'task_api.events_id_seq'::regclass), 1::bigint,
          'the event id sequence has CACHE 1 (ids drawn in order from the shared sequence; the claim bound relies on it)');
SELECT col_type_is('task_api', 'events', 'xact_id', 'xid8', 'events.xact_id is xid8');
SELECT col_type_is('task_api', 'events', 'changes', 'jsonb', 'events.changes is jsonb');
SELECT columns_are('api', 'task_events', ARRAY['id', 'occurred_at', 'actor_id', 'resource_type', 'resource_id', 'project_id', 'action', 'changes', 'request_id'],
                   'api.task_events has exactly the feed columns (no xact_id)');
SELECT indexes_are('task_api', 'events', ARRAY['events_pkey', 'events_project_idx'], 'task_api.events has its primary key and the feed index');
SELECT is(pg_get_indexdef('task_api.events_project_idx'::regclass),
          'CREATE INDEX events_project_idx ON task_api.events USING btree (project_id, id DESC)',
          'events_project_idx is (project_id, id DESC): a project''s feed, newest first');
SELECT columns_are('task_api', 'event_consumers', ARRAY['name', 'acked_id', 'claimed_id', 'created_at', 'acked_at', 'node_positions'],
                   'task_api.event_consumers has exactly its columns');
SELECT function_returns('task_api', 'claim_events', ARRAY['text', 'integer'], 'setof task_api.events', 'claim_events() returns events');
SELECT function_returns('task_api', 'ack_events', ARRAY['text', 'bigint'], 'bigint', 'ack_events() returns the new position');

-- Settings ---------------------------------------------------------------------------
SELECT is((SELECT setting || ' ' || unit || ' ' || context FROM pg_settings WHERE name = 'task_api.trash_retention'),
          '2592000 s sighup', 'task_api.trash_retention is in seconds, 30 days by default, set in the server configuration');
SELECT is(task_api.trash_retention(), interval '30 days', 'trash_retention() reads task_api.trash_retention as an interval');
SELECT is((SELECT setting || ' ' || unit || ' ' || context FROM pg_settings WHERE name = 'task_api.invitation_ttl'),
          '604800 s sighup', 'task_api.invitation_ttl is in seconds, 7 days by default, set in the server configuration');
SELECT is(task_api.invitation_ttl(), interval '7 days', 'invitation_ttl() reads task_api.invitation_ttl as an interval');
SELECT is((SELECT setting || ' ' || unit || ' ' || context FROM pg_settings WHERE name = 'task_api.idempotency_ttl'),
          '86400 s sighup', 'task_api.idempotency_ttl is in seconds, 24 hours by default, set in the server configuration');
SELECT is((SELECT setting || ' ' || unit || ' ' || context FROM pg_settings WHERE name = 'task_api.idempotency_wait'),
          '10000 ms sighup', 'task_api.idempotency_wait is in milliseconds, 10 s by default, set in the server configuration');

-- Idempotency keys ---------------------------------------------------------------------
SELECT has_table('task_api', 'idempotency_keys', 'table task_api.idempotency_keys exists');
SELECT col_is_pk('task_api', 'idempotency_keys', ARRAY['caller_kind', 'caller_id', 'key'],
                 'an idempotency key is unique per caller (user or API key), not globally');
SELECT col_not_null('task_api', 'idempotency_keys', 'user_id', 'idempotency_keys.user_id records the user also when an API key is the caller');
SELECT ok((SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE oid = 'task_api.idempotency_keys'::regclass),
          'task_api.idempotency_keys has row-level security enabled and forced');
SELECT is((SELECT p.provolatile::text || ' ' || p.proisstrict::text || ' ' || l.lanname::text
             FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
            WHERE p.oid = 'task_api.request_fingerprint(text,text,jsonb)'::regprocedure),
          'i true c', 'request_fingerprint() is IMMUTABLE, STRICT and written in C');

SELECT * FROM finish();
ROLLBACK;
