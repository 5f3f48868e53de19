-- task_api 0.1.0 -> 0.2.0 (CHANGELOG.md).  Written by the rules in
-- docs/contributing.md, "Upgrade steps": no table rewrite, no long lock.
\echo Use "ALTER EXTENSION task_api UPDATE TO '0.2.0'" to load this file. \quit

-- Fail at once rather than queue behind a long transaction, holding up every
-- request behind us; the operator runs the update again (docs/operations.md).
SET lock_timeout = '1s';

-- Backups carry the data: pg_dump dumps the rows of configuration tables.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.users', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.projects', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.project_members', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tasks', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.sessions', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.api_keys', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.idempotency_keys', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.events', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.events_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.event_consumers', '');

-- Restores load rows as dumped: the row triggers do no bookkeeping then.
CREATE FUNCTION @extschema@.restoring() RETURNS boolean
    AS 'MODULE_PATHNAME', 'task_api_restoring' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.restoring() IS 'Whether rows are being restored (a superuser session with row_security off, as pg_restore and pg_dump''s scripts set it): the row triggers then keep rows as they were dumped.';
REVOKE ALL ON FUNCTION @extschema@.restoring() FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@.projects_add_owner() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF @extschema@.restoring() THEN
        RETURN NULL;
    END IF;
    INSERT INTO @extschema@.project_members (project_id, user_id, role)
    VALUES (NEW.id, NEW.owner_id, 'owner');
    RETURN NULL;
END
$$;

-- Issue 21: bounded work per request
CREATE FUNCTION @extschema@.bulk_rows() RETURNS trigger
    AS 'MODULE_PATHNAME', 'task_api_bulk_rows' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.bulk_rows() IS 'Trigger: INSTEAD OF INSERT FOR EACH ROW on an API view, fired first: refuses the statement with payload_too_large (413) at its row past task_api.max_bulk_rows.';
REVOKE ALL ON FUNCTION @extschema@.bulk_rows() FROM PUBLIC;
CREATE TRIGGER projects_aa_bulk_rows INSTEAD OF INSERT ON api.projects
    FOR EACH ROW EXECUTE FUNCTION @extschema@.bulk_rows();
CREATE TRIGGER tasks_aa_bulk_rows INSTEAD OF INSERT ON api.tasks
    FOR EACH ROW EXECUTE FUNCTION @extschema@.bulk_rows();

-- PostgREST reloads its schema cache when this update commits.
NOTIFY pgrst, 'reload schema';
