-- Soft delete, the trash, restore and purge ------------------------------------------
-- DELETE moves projects and tasks to the trash (task_api.soft_delete(), a
-- generic C trigger); deleting a project moves its live tasks with it, and
-- restoring it brings back exactly those.  Owners purge (hard delete);
-- task_api.purge_expired() purges what has been in the trash longer than
-- task_api.trash_retention.

CREATE FUNCTION @extschema@.soft_delete() RETURNS trigger
    AS 'MODULE_PATHNAME', 'task_api_soft_delete' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.soft_delete() IS 'BEFORE DELETE row trigger: soft_delete(deleted_at_col [, deleted_by_col]) turns DELETE of a live row into setting deleted_at (and deleted_by); deleting a row already deleted removes it (so a DELETE meant for live rows should say AND deleted_at IS NULL).';

-- Tasks that went to the trash with their project (not on their own).
ALTER TABLE @extschema@.tasks ADD COLUMN deleted_with_project boolean NOT NULL DEFAULT false;

CREATE TRIGGER projects_soft_delete BEFORE DELETE ON @extschema@.projects
    FOR EACH ROW EXECUTE FUNCTION @extschema@.soft_delete('deleted_at', 'deleted_by');
CREATE TRIGGER tasks_soft_delete BEFORE DELETE ON @extschema@.tasks
    FOR EACH ROW EXECUTE FUNCTION @extschema@.soft_delete('deleted_at', 'deleted_by');

-- The trash, and purging it, by age.
CREATE INDEX projects_trash_idx ON @extschema@.projects (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX tasks_trash_idx ON @extschema@.tasks (project_id, deleted_at) WHERE deleted_at IS NOT NULL;

-- How long the trash keeps things.
CREATE FUNCTION @extschema@.trash_retention() RETURNS interval
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN pg_catalog.current_setting('task_api.trash_retention')::interval;
COMMENT ON FUNCTION @extschema@.trash_retention() IS 'task_api.trash_retention as an interval (30 days by default).';

CREATE VIEW api.trash WITH (security_invoker = true) AS
    SELECT 'project'::text AS resource_type, p.id, p.id AS project_id, p.name AS title,
           p.deleted_at, p.deleted_by, p.deleted_at + @extschema@.trash_retention() AS purge_after
      FROM @extschema@.projects p
     WHERE p.deleted_at IS NOT NULL AND @extschema@.has_project_role(p.id, 'owner')
    UNION ALL
    SELECT 'task'::text, t.id, t.project_id, t.title,
           t.deleted_at, t.deleted_by, t.deleted_at + @extschema@.trash_retention()
      FROM @extschema@.tasks t
      JOIN @extschema@.projects p ON p.id = t.project_id AND p.deleted_at IS NULL
     WHERE t.deleted_at IS NOT NULL AND NOT t.deleted_with_project
       AND @extschema@.has_project_role(t.project_id, 'editor');
COMMENT ON VIEW api.trash IS 'What you may restore: projects you own and tasks of projects where you are an editor or owner, deleted within task_api.trash_retention. Tasks deleted with their project come back with it.';
COMMENT ON COLUMN api.trash.resource_type IS 'project or task.';
COMMENT ON COLUMN api.trash.id IS 'Id of the deleted project or task (for restore_* and purge_*).';
COMMENT ON COLUMN api.trash.project_id IS 'The project (for a project, its own id).';
COMMENT ON COLUMN api.trash.title IS 'The task''s title, or the project''s name.';
COMMENT ON COLUMN api.trash.deleted_at IS 'When it was deleted.';
COMMENT ON COLUMN api.trash.deleted_by IS 'Who deleted it.';
COMMENT ON COLUMN api.trash.purge_after IS 'When task_api.purge_expired() may remove it for good.';

-- A trashed row of the caller's, or not_found (absent, not visible, or live).
CREATE FUNCTION @extschema@.trashed_task(task_id uuid) RETURNS @extschema@.tasks
    LANGUAGE plpgsql STABLE
AS $$
DECLARE
    t @extschema@.tasks;
BEGIN
    SELECT * INTO t FROM @extschema@.tasks WHERE id = task_id AND deleted_at IS NOT NULL;
    IF NOT FOUND THEN
        PERFORM @extschema@.raise_error('not_found', 'no such task in the trash');
    END IF;
    RETURN t;
END
$$;

CREATE FUNCTION api.restore_task(id uuid) RETURNS api.tasks
    LANGUAGE plpgsql
AS $$
DECLARE
    t @extschema@.tasks;
    restored api.tasks;
    prior jsonb := @extschema@.idempotency_claim(jsonb_build_object('id', restore_task.id));
BEGIN
    IF prior IS NOT NULL THEN
        RETURN jsonb_populate_record(NULL::api.tasks, prior -> 'body');
    END IF;
    t := @extschema@.trashed_task(restore_task.id);
    IF t.deleted_with_project OR @extschema@.project_role(t.project_id) IS NULL THEN
        PERFORM @extschema@.raise_error('not_found', 'no such task in the trash',
            'It went to the trash with its project: restore the project.');
    END IF;
    IF @extschema@.project_role(t.project_id) < 'editor' THEN
        PERFORM @extschema@.raise_error('forbidden', 'viewers cannot restore tasks');
    END IF;
    UPDATE @extschema@.tasks SET deleted_at = NULL, deleted_by = NULL WHERE tasks.id = t.id;
    SELECT * INTO restored FROM api.tasks WHERE api.tasks.id = t.id;
    PERFORM @extschema@.note_etag(restored.version);
    PERFORM @extschema@.idempotency_record(to_jsonb(restored));
    RETURN restored;
END
$$;
COMMENT ON FUNCTION api.restore_task(uuid) IS E'Bring a task back from the trash (editors and owners): 200 with the task.\n\nArguments:\nid: the task''s id (see /trash).';

CREATE FUNCTION api.restore_project(id uuid) RETURNS api.projects
    LANGUAGE plpgsql
AS $$
DECLARE
    p @extschema@.projects;
    restored api.projects;
    prior jsonb := @extschema@.idempotency_claim(jsonb_build_object('id', restore_project.id));
BEGIN
    IF prior IS NOT NULL THEN
        RETURN jsonb_populate_record(NULL::api.projects, prior -> 'body');
    END IF;
    SELECT * INTO p FROM @extschema@.projects WHERE projects.id = restore_project.id AND deleted_at IS NOT NULL;
    IF NOT FOUND THEN
        PERFORM @extschema@.raise_error('not_found', 'no such project in the trash');
    END IF;
    IF NOT @extschema@.has_project_role(p.id, 'owner') THEN
        PERFORM @extschema@.raise_error('forbidden', 'only a project owner can restore the project');
    END IF;
    PERFORM @extschema@.check_project_name(p.owner_id, p.name, p.id);
    UPDATE @extschema@.projects SET deleted_at = NULL, deleted_by = NULL WHERE projects.id = p.id;
    UPDATE @extschema@.tasks SET deleted_at = NULL, deleted_by = NULL, deleted_with_project = false
     WHERE project_id = p.id AND deleted_with_project;
    SELECT * INTO restored FROM api.projects WHERE api.projects.id = p.id;
    PERFORM @extschema@.note_etag(restored.version);
    PERFORM @extschema@.idempotency_record(to_jsonb(restored));
    RETURN restored;
END
$$;
COMMENT ON FUNCTION api.restore_project(uuid) IS E'Bring a project back from the trash with exactly the tasks deleted with it (owners): 200 with the project; conflict (409) if a live project of the owner now has its name.\n\nArguments:\nid: the project''s id (see /trash).';

CREATE FUNCTION api.purge_task(id uuid) RETURNS void
    LANGUAGE plpgsql
AS $$
DECLARE
    t @extschema@.tasks;
BEGIN
    IF @extschema@.idempotency_claim(jsonb_build_object('id', purge_task.id)) IS NOT NULL THEN
        RETURN;
    END IF;
    SELECT * INTO t FROM @extschema@.tasks WHERE tasks.id = purge_task.id;
    IF NOT FOUND THEN
        PERFORM @extschema@.raise_error('not_found', 'no such task');
    END IF;
    IF NOT @extschema@.has_project_role(t.project_id, 'owner') THEN
        PERFORM @extschema@.raise_error('forbidden', 'only a project owner can purge tasks');
    END IF;
    -- A live task goes through the trash on its way out.
    DELETE FROM @extschema@.tasks WHERE tasks.id = t.id AND deleted_at IS NULL;
    DELETE FROM @extschema@.tasks WHERE tasks.id = t.id;
    PERFORM @extschema@.idempotency_record(NULL);
END
$$;
COMMENT ON FUNCTION api.purge_task(uuid) IS E'Delete a task for good, live or in the trash (owners): 204.\n\nArguments:\nid: the task''s id.';

CREATE FUNCTION api.purge_project(id uuid) RETURNS void
    LANGUAGE plpgsql
AS $$
DECLARE
    p @extschema@.projects;
BEGIN
    IF @extschema@.idempotency_claim(jsonb_build_object('id', purge_project.id)) IS NOT NULL THEN
        RETURN;
    END IF;
    SELECT * INTO p FROM @extschema@.projects WHERE projects.id = purge_project.id;
    IF NOT FOUND THEN
        PERFORM @extschema@.raise_error('not_found', 'no such project');
    END IF;
    IF NOT @extschema@.has_project_role(p.id, 'owner') THEN
        PERFORM @extschema@.raise_error('forbidden', 'only a project owner can purge the project');
    END IF;
    -- Everything goes through the trash on its way out: the tasks first,
    -- then the project (its memberships go with it, ON DELETE CASCADE).
    DELETE FROM @extschema@.tasks WHERE project_id = p.id AND deleted_at IS NULL;
    DELETE FROM @extschema@.tasks WHERE project_id = p.id;
    DELETE FROM @extschema@.projects WHERE projects.id = p.id AND deleted_at IS NULL;
    DELETE FROM @extschema@.projects WHERE projects.id = p.id;
    PERFORM @extschema@.idempotency_record(NULL);
END
$$;
COMMENT ON FUNCTION api.purge_project(uuid) IS E'Delete a project for good, with its tasks and memberships, live or in the trash (owners): 204.\n\nArguments:\nid: the project''s id.';

CREATE FUNCTION @extschema@.purge_expired() RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cutoff timestamptz := now() - @extschema@.trash_retention();
    tasks_purged bigint;
    projects_purged bigint;
    more bigint;
BEGIN
    DELETE FROM @extschema@.tasks WHERE deleted_at < cutoff;
    GET DIAGNOSTICS tasks_purged = ROW_COUNT;
    -- The tasks of expired projects go first (through the trash if live).
    DELETE FROM @extschema@.tasks t USING @extschema@.projects p
     WHERE t.project_id = p.id AND p.deleted_at < cutoff AND t.deleted_at IS NULL;
    DELETE FROM @extschema@.tasks t USING @extschema@.projects p
     WHERE t.project_id = p.id AND p.deleted_at < cutoff;
    GET DIAGNOSTICS more = ROW_COUNT;
    DELETE FROM @extschema@.projects WHERE deleted_at < cutoff;
    GET DIAGNOSTICS projects_purged = ROW_COUNT;
    -- Expired idempotency keys and invitations too (70_idempotency.sql,
    -- 72_invitations.sql); not counted.
    PERFORM @extschema@.purge_expired_idempotency_keys();
    PERFORM @extschema@.purge_expired_invitations();
    -- Events, sessions and API keys past their retention (82_retention.sql);
    -- at most 100 batches of 10000 events, so a call stays one short
    -- transaction: a larger backlog is left for the next calls.
    PERFORM @extschema@.purge_expired_events(10000, 100);
    PERFORM @extschema@.purge_expired_credentials();
    RETURN tasks_purged + more + projects_purged;
END
$$;
COMMENT ON FUNCTION @extschema@.purge_expired() IS 'Delete for good what has been in the trash longer than task_api.trash_retention, the expired idempotency keys and invitations, the events past task_api.events_retention that every consumer has acknowledged, and the sessions and API keys expired or revoked longer than task_api.credentials_grace ago; returns how many projects and tasks. Events go at most 1000000 a call (100 batches of 10000), so each call is one short transaction: to clear a larger backlog, call task_api.purge_expired_events(10000, 100) again while it returns 1000000. Schedule it, e.g. SELECT cron.schedule(''task_api purge'', ''17 3 * * *'', ''SELECT task_api.purge_expired()'').';

-- Privileges: deleting a project marks its tasks; GET /trash and the four RPCs.
GRANT UPDATE (deleted_with_project) ON @extschema@.tasks TO task_api_user;
GRANT SELECT ON api.trash TO task_api_user;
GRANT EXECUTE ON FUNCTION
    @extschema@.trash_retention(),
    @extschema@.trashed_task(uuid),
    api.restore_task(uuid), api.restore_project(uuid), api.purge_task(uuid), api.purge_project(uuid)
TO task_api_user;
