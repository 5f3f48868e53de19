-- Tasks ------------------------------------------------------------------------
-- Members read a project's tasks; editors and owners create, change and
-- delete them.  An assignee must be a member of the task's project: when a
-- member leaves, their tasks there become unassigned.

-- The rules of a task's fields, stated once: the comments of api.tasks
-- below read them, and test/pgtap/task_rules.sql fails if the CHECK
-- constraints of task_api.tasks or the validation of POST and PATCH
-- (src/task_insert.c, which also trims the title and refuses a blank one)
-- disagree with them.  The constraints keep their literal bounds: making
-- them call task_rule() would make an update revalidate the tasks table
-- under the lock that adds the constraint (docs/contributing.md).
CREATE FUNCTION @extschema@.task_rule(name text) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN CASE name WHEN 'title_min' THEN 1 WHEN 'title_max' THEN 200
                     WHEN 'description_max' THEN 10000
                     WHEN 'priority_min' THEN 0 WHEN 'priority_max' THEN 4 END;
COMMENT ON FUNCTION @extschema@.task_rule(text) IS 'A bound of a task''s fields, in characters or values: title_min, title_max, description_max, priority_min, priority_max.';

CREATE TABLE @extschema@.tasks (
    id           uuid PRIMARY KEY DEFAULT @extschema@.uuidv7(),
    -- RESTRICT, not CASCADE: a cascaded delete of a live task would be
    -- turned into a soft delete by its trigger and leave it orphaned; purging
    -- deletes a project's tasks first (60_trash.sql).
    project_id   uuid NOT NULL REFERENCES @extschema@.projects (id) ON DELETE RESTRICT,
    assignee_id  uuid,
    title        text NOT NULL CHECK (pg_catalog.char_length(title) BETWEEN 1 AND 200),
    description  text CHECK (pg_catalog.char_length(description) <= 10000),
    status       @extschema@.task_status NOT NULL DEFAULT 'todo',
    priority     smallint NOT NULL DEFAULT 2 CHECK (priority BETWEEN 0 AND 4),
    due_date     date,
    created_by   uuid NOT NULL REFERENCES @extschema@.users (id),
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    completed_at timestamptz,
    version      integer NOT NULL DEFAULT 1,
    deleted_at   timestamptz,
    deleted_by   uuid REFERENCES @extschema@.users (id),
    FOREIGN KEY (project_id, assignee_id) REFERENCES @extschema@.project_members (project_id, user_id)
        ON DELETE SET NULL (assignee_id)
);
COMMENT ON TABLE @extschema@.tasks IS 'Tasks; exposed as api.tasks.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tasks', '');
-- Listing a project's live tasks newest first, and the RLS filter on
-- project_id, use this index; the foreign key to project_members is checked
-- through it when a member leaves.
CREATE INDEX tasks_project_created_idx ON @extschema@.tasks (project_id, created_at DESC, id DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX tasks_project_assignee_idx ON @extschema@.tasks (project_id, assignee_id)
    WHERE assignee_id IS NOT NULL;
-- GET /tasks?order=created_at.desc (or .asc) over all the caller's projects:
-- the page is read in index order, the RLS filter on project_id checked row
-- by row, and the scan stops after the page, instead of reading and sorting
-- every visible task (docs/performance.md, "Query plans").
CREATE INDEX tasks_live_created_idx ON @extschema@.tasks (created_at DESC, id DESC)
    WHERE deleted_at IS NULL;

CREATE TRIGGER tasks_stamp BEFORE INSERT OR UPDATE ON @extschema@.tasks
    FOR EACH ROW EXECUTE FUNCTION @extschema@.stamp_row('updated_at', 'version', 'status', 'done', 'completed_at');

ALTER TABLE @extschema@.tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.tasks FORCE ROW LEVEL SECURITY;

CREATE POLICY tasks_select ON @extschema@.tasks FOR SELECT
    USING (project_id = ANY ((SELECT @extschema@.member_project_ids('viewer'))::uuid[]));
CREATE POLICY tasks_insert ON @extschema@.tasks FOR INSERT
    WITH CHECK (@extschema@.has_project_role(project_id, 'editor')
                AND created_by = @extschema@.current_user_id());
CREATE POLICY tasks_update ON @extschema@.tasks FOR UPDATE
    USING (@extschema@.has_project_role(project_id, 'editor'))
    WITH CHECK (@extschema@.has_project_role(project_id, 'editor'));
CREATE POLICY tasks_delete ON @extschema@.tasks FOR DELETE
    USING (@extschema@.has_project_role(project_id, 'editor'));

-- The API view ----------------------------------------------------------------

CREATE VIEW api.tasks WITH (security_invoker = true) AS
    SELECT t.id, t.project_id, t.assignee_id, t.title, t.description, t.status, t.priority,
           t.due_date, t.created_by, t.created_at, t.updated_at, t.completed_at, t.version
      FROM @extschema@.tasks t
     WHERE t.deleted_at IS NULL;
ALTER VIEW api.tasks ALTER COLUMN status SET DEFAULT 'todo';
ALTER VIEW api.tasks ALTER COLUMN priority SET DEFAULT 2;
COMMENT ON VIEW api.tasks IS 'Tasks of your projects. Editors and owners POST, PATCH and DELETE.';
COMMENT ON COLUMN api.tasks.id IS 'Task id (UUIDv7), set by the server.';
COMMENT ON COLUMN api.tasks.project_id IS 'The project the task belongs to (required; you must be an editor or owner there).';
COMMENT ON COLUMN api.tasks.assignee_id IS 'Member of the project the task is assigned to, or null.';
COMMENT ON COLUMN api.tasks.status IS 'todo (default), in_progress, blocked, done or cancelled.';
COMMENT ON COLUMN api.tasks.due_date IS 'Due date, or null.';
COMMENT ON COLUMN api.tasks.created_by IS 'The user who created the task; set by the server.';
COMMENT ON COLUMN api.tasks.created_at IS 'When the task was created; set by the server.';
COMMENT ON COLUMN api.tasks.updated_at IS 'When the task last changed; set by the server.';
COMMENT ON COLUMN api.tasks.completed_at IS 'When the task became done; cleared when it leaves done; set by the server.';
COMMENT ON COLUMN api.tasks.version IS 'Starts at 1 and goes up by one on every change; set by the server.';
-- The comments that state a rule, from task_rule().
DO $comments$
BEGIN
    EXECUTE pg_catalog.format('COMMENT ON COLUMN api.tasks.title IS %L',
        pg_catalog.format('Title, %s to %s characters after trimming.',
                          @extschema@.task_rule('title_min'), @extschema@.task_rule('title_max')));
    EXECUTE pg_catalog.format('COMMENT ON COLUMN api.tasks.description IS %L',
        pg_catalog.format('Free text, at most %s characters.', @extschema@.task_rule('description_max')));
    EXECUTE pg_catalog.format('COMMENT ON COLUMN api.tasks.priority IS %L',
        pg_catalog.format('Priority from %s to %s (default 2).',
                          @extschema@.task_rule('priority_min'), @extschema@.task_rule('priority_max')));
END
$comments$;

-- Problems with a task's writable fields (title already trimmed), and the
-- caller's right to write tasks in its project: the same C rules POST uses.
CREATE FUNCTION @extschema@.task_problems(t api.tasks) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'task_api_task_problems' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION @extschema@.task_problems(api.tasks) IS 'The {field, problem} list of a task''s writable fields (raises forbidden for a viewer); the rules POST /tasks applies.';

-- POST /tasks in C (task_insert.c): the row trigger validates the row,
-- fills in the server-owned fields and buffers it; the statement trigger
-- stores the whole statement's rows with one set-based INSERT, as the caller.
CREATE FUNCTION @extschema@.tasks_insert() RETURNS trigger
    AS 'MODULE_PATHNAME', 'task_api_tasks_insert' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.tasks_insert() IS 'INSTEAD OF INSERT on api.tasks: validates a task (every problem at once), completes it and buffers it for tasks_insert_flush().';
CREATE FUNCTION @extschema@.tasks_insert_flush() RETURNS trigger
    AS 'MODULE_PATHNAME', 'task_api_tasks_insert_flush' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.tasks_insert_flush() IS 'AFTER INSERT FOR EACH STATEMENT on api.tasks: inserts the buffered tasks into task_api.tasks in one statement.';

CREATE FUNCTION @extschema@.tasks_update() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    problems jsonb;
BEGIN
    IF @extschema@.idempotent_replay() THEN
        RETURN NEW;  -- the stored row of an idempotent replay (70_idempotency.sql)
    END IF;
    IF @extschema@.project_role(OLD.project_id) < 'editor' THEN
        PERFORM @extschema@.raise_error('forbidden', 'viewers cannot write tasks',
            NULL, 'ask a project owner for the editor role');
    END IF;
    PERFORM @extschema@.check_if_match(OLD.version);
    NEW.title := pg_catalog.btrim(NEW.title, E' \t\r\n');
    problems := @extschema@.task_problems(NEW);
    problems := problems OPERATOR(pg_catalog.||) @extschema@.server_set_problems(pg_catalog.to_jsonb(NEW), pg_catalog.to_jsonb(OLD),
        ARRAY['id', 'created_by', 'created_at', 'updated_at', 'completed_at', 'version']);
    PERFORM @extschema@.check_problems('task', problems);

    IF NEW.project_id IS DISTINCT FROM OLD.project_id THEN
        -- On Citus (docs/scaling.md) a task stays in its project's shard
        -- group: a move is refused after the same checks as on one server.
        IF pg_catalog.current_setting('task_api_citus.caller', true) OPERATOR(pg_catalog.<>) '' THEN
            PERFORM @extschema@.check_problems('task', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                'field', 'project_id', 'problem',
                'cannot change on this Citus cluster: create the task in the other project and delete this one')));
        END IF;
        UPDATE @extschema@.tasks
           SET project_id = NEW.project_id, assignee_id = NEW.assignee_id, title = NEW.title,
               description = NEW.description, status = NEW.status, priority = NEW.priority,
               due_date = NEW.due_date
         WHERE id = OLD.id
        RETURNING id, project_id, assignee_id, title, description, status, priority, due_date,
                  created_by, created_at, updated_at, completed_at, version
        INTO NEW.id, NEW.project_id, NEW.assignee_id, NEW.title, NEW.description, NEW.status, NEW.priority,
             NEW.due_date, NEW.created_by, NEW.created_at, NEW.updated_at, NEW.completed_at, NEW.version;
    ELSE
        -- The task stays in its project: project_id is not written (Citus
        -- refuses to set a distribution column, even to its value) and names
        -- the row's shard (docs/scaling.md).
        UPDATE @extschema@.tasks
           SET assignee_id = NEW.assignee_id, title = NEW.title,
               description = NEW.description, status = NEW.status, priority = NEW.priority,
               due_date = NEW.due_date
         WHERE project_id = OLD.project_id AND id = OLD.id
        RETURNING id, project_id, assignee_id, title, description, status, priority, due_date,
                  created_by, created_at, updated_at, completed_at, version
        INTO NEW.id, NEW.project_id, NEW.assignee_id, NEW.title, NEW.description, NEW.status, NEW.priority,
             NEW.due_date, NEW.created_by, NEW.created_at, NEW.updated_at, NEW.completed_at, NEW.version;
    END IF;
    PERFORM @extschema@.note_etag(NEW.version);
    RETURN NEW;
END
$$;

CREATE FUNCTION @extschema@.tasks_delete() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    IF @extschema@.project_role(OLD.project_id) < 'editor' THEN
        PERFORM @extschema@.raise_error('forbidden', 'viewers cannot delete tasks',
            NULL, 'ask a project owner for the editor role');
    END IF;
    PERFORM @extschema@.check_if_match(OLD.version);
    -- Live rows only: a concurrent DELETE that trashed it first must not
    -- turn this one into a purge.
    DELETE FROM @extschema@.tasks WHERE id = OLD.id AND deleted_at IS NULL;
    RETURN OLD;
END
$$;

SELECT @extschema@.view_trigger('api.tasks', 50, 'insert', 'INSTEAD OF INSERT FOR EACH ROW', '@extschema@.tasks_insert');
SELECT @extschema@.view_trigger('api.tasks', 50, 'insert_flush', 'AFTER INSERT FOR EACH STATEMENT', '@extschema@.tasks_insert_flush');
SELECT @extschema@.view_trigger('api.tasks', 50, 'update', 'INSTEAD OF UPDATE FOR EACH ROW', '@extschema@.tasks_update');
SELECT @extschema@.view_trigger('api.tasks', 50, 'delete', 'INSTEAD OF DELETE FOR EACH ROW', '@extschema@.tasks_delete');

-- Privileges: column-level INSERT and UPDATE, only what the API's triggers
-- write.  tasks.id is insertable because the insert trigger generates it (a
-- UUIDv7) before the set-based insert; created_by is pinned to the caller by
-- the insert policy.  DELETE moves a task to the trash (60_trash.sql).
GRANT SELECT, DELETE ON @extschema@.tasks TO task_api_user;
GRANT INSERT (id, project_id, assignee_id, title, description, status, priority, due_date, created_by),
      UPDATE (project_id, assignee_id, title, description, status, priority, due_date, deleted_at, deleted_by)
    ON @extschema@.tasks TO task_api_user;
GRANT EXECUTE ON FUNCTION @extschema@.task_rule(text), @extschema@.task_problems(api.tasks) TO task_api_user;
GRANT SELECT, INSERT, UPDATE, DELETE ON api.tasks TO task_api_user;
