-- Citus: one call distributes a task_api database (docs/scaling.md) ---------
-- Projects and everything that belongs to a project (memberships, tasks,
-- invitations, events) are sharded by project and colocated, so a request
-- about one project runs on one worker; users, their credentials,
-- idempotency keys and event consumers are reference tables (a copy on
-- every node).  Nothing here runs on a single server: a database that
-- never calls distribute() keeps its catalogue as installed.

CREATE FUNCTION @extschema@.distribute() RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    done boolean;
    t text;
BEGIN
    IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = CURRENT_USER) THEN
        PERFORM @extschema@.raise_error('forbidden', 'Only a superuser can distribute task_api.');
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        PERFORM @extschema@.raise_error('citus_not_installed',
            'The citus extension is not installed in this database.', NULL,
            'Preload citus before task_api (shared_preload_libraries = ''citus,task_api''), CREATE EXTENSION citus, add the workers, then call task_api.distribute() on the coordinator.');
    END IF;
    -- Idempotent: the last table distributed below marks the work done.
    EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition WHERE logicalrelid = ''@extschema@.events''::pg_catalog.regclass)'
       INTO done;
    IF done THEN
        RETURN false;
    END IF;
    -- The row triggers stay: they run on the shards (docs/scaling.md, "Triggers").
    PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
    -- Keys to reference tables in the same transaction need one connection per node.
    PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', true);
    -- The workers hold the extension's tables too (CREATE EXTENSION went
    -- to every node): their keys and policies change first, as here.
    IF EXISTS (SELECT FROM pg_catalog.run_command_on_workers(
                   -- One statement of one column: run_command_on_workers()
                   -- reports the first statement's outcome alone (a later
                   -- one's failure was lost) and wants a single column.
                   'SELECT pg_catalog.concat(pg_catalog.set_config(''citus.enable_ddl_propagation'', ''off'', true), pg_catalog.set_config(''client_min_messages'', ''warning'', true), @extschema@.distribute_keys(), @extschema@.distribute_policies(), @extschema@.distribute_reads())') w
                WHERE NOT w.success) THEN
        RAISE EXCEPTION 'distribute: a worker refused its keys and policies (SELECT * FROM run_command_on_workers(...) says which)'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    PERFORM @extschema@.distribute_keys();
    PERFORM @extschema@.distribute_policies();
    PERFORM @extschema@.distribute_reads();
    PERFORM @extschema@.distribute_tables();
    PERFORM @extschema@.distribute_foreign_keys();
    PERFORM @extschema@.distribute_column_grants();
    PERFORM @extschema@.view_trigger('api.projects', 60, 'citus_owner', 'INSTEAD OF INSERT FOR EACH ROW',
                                     '@extschema@.citus_add_owner');
    PERFORM @extschema@.view_trigger('api.project_members', 60, 'citus_keep_owner',
                                     'INSTEAD OF UPDATE OR DELETE FOR EACH ROW', '@extschema@.citus_keep_owner');
    PERFORM @extschema@.view_trigger('api.project_members', 40, 'citus_unassign',
                                     'INSTEAD OF DELETE FOR EACH ROW', '@extschema@.citus_unassign');
    DROP TRIGGER api_keys_50_delete ON api.api_keys;
    PERFORM @extschema@.view_trigger('api.api_keys', 50, 'delete', 'INSTEAD OF DELETE FOR EACH ROW',
                                     '@extschema@.citus_api_keys_delete');
    PERFORM @extschema@.distribute_view_writes();
    PERFORM @extschema@.distribute_event_ids();
    PERFORM @extschema@.distribute_events();
    -- PostgREST takes an API view's key from its table's primary key, and
    -- refuses a PUT that does not filter on exactly that key itself (405
    -- PGRST105): the coordinator's tables, which hold no rows, keep one
    -- server's key (id), so that PUT /tasks gets one server's answer
    -- (method_not_allowed); the shards keep (project_id, id).
    PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', 'off', true);
    FOREACH t IN ARRAY ARRAY['tasks', 'invitations', 'events'] LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %I.%I DROP CONSTRAINT %I, ADD CONSTRAINT %I PRIMARY KEY (id)',
                                  '@extschema@', t, t || '_pkey', t || '_pkey');
    END LOOP;
    PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', 'on', true);
    RETURN true;
END
$$;
COMMENT ON FUNCTION @extschema@.distribute() IS 'Superuser, on a Citus coordinator: shard projects and what belongs to them by project (colocated) and make users, credentials, idempotency keys and event consumers reference tables (docs/scaling.md). Returns true when it distributed, false when already done; citus_not_installed without Citus.';

-- The keys Citus needs: every unique index of a distributed table holds its
-- distribution column.
CREATE FUNCTION @extschema@.distribute_keys() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    fk record;
    t text;
BEGIN
    -- A foreign key from a local table to a reference table makes Citus
    -- convert every table of the key graph (and drop the views on them): the
    -- keys between the extension's tables go first and come back once every
    -- table is distributed (distribute_foreign_keys()).
    DROP TABLE IF EXISTS pg_temp.task_api_distribute_fks;
    CREATE TEMP TABLE task_api_distribute_fks ON COMMIT DROP AS
        SELECT c.conrelid::pg_catalog.regclass AS rel, c.conname AS name, pg_catalog.pg_get_constraintdef(c.oid) AS def
          FROM pg_catalog.pg_constraint c
         WHERE c.contype = 'f' AND c.connamespace = '@extschema@'::pg_catalog.regnamespace;
    FOR fk IN SELECT * FROM pg_temp.task_api_distribute_fks LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', fk.rel, fk.name);
    END LOOP;
    -- Citus refuses ON DELETE SET NULL (assignee_id) with the distribution
    -- column in the key; the plain key keeps assignees members.
    UPDATE pg_temp.task_api_distribute_fks
       SET def = pg_catalog.replace(def, ' ON DELETE SET NULL (assignee_id)', '')
     WHERE name = 'tasks_project_id_assignee_id_fkey';
    -- A trigger that writes another table writes, on a shard, into the
    -- worker's own empty table: the owner's membership is added on the
    -- coordinator instead, by citus_add_owner() on api.projects.
    DROP TRIGGER IF EXISTS projects_add_owner ON @extschema@.projects;
    -- The owner hand-off reads and writes projects from a members' shard:
    -- citus_keep_owner() on api.project_members does it on the coordinator.
    DROP TRIGGER IF EXISTS project_members_keep_owner ON @extschema@.project_members;
    -- A name unique per owner cannot be enforced across shards (projects are
    -- sharded by id; docs/scaling.md, "Keys").
    DROP INDEX IF EXISTS @extschema@.projects_owner_name_key;
    -- The primary keys of the tables sharded by project_id start with it.
    FOREACH t IN ARRAY ARRAY['tasks', 'invitations', 'events'] LOOP
        IF (SELECT pg_catalog.cardinality(c.conkey) FROM pg_catalog.pg_constraint c
             WHERE c.conrelid = ('@extschema@.' || t)::pg_catalog.regclass AND c.contype = 'p') = 1 THEN
            EXECUTE pg_catalog.format('ALTER TABLE %I.%I DROP CONSTRAINT %I, ADD CONSTRAINT %I PRIMARY KEY (project_id, id)',
                                      '@extschema@', t, t || '_pkey', t || '_pkey');
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.distribute_keys() IS 'Part of distribute(): the primary keys Citus accepts on the tables sharded by project; the foreign keys set aside until distribute_foreign_keys().';

CREATE FUNCTION @extschema@.distribute_foreign_keys() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    fk record;
BEGIN
    FOR fk IN SELECT * FROM pg_temp.task_api_distribute_fks LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I %s', fk.rel, fk.name, fk.def);
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.distribute_foreign_keys() IS 'Part of distribute(): the foreign keys distribute_keys() set aside, back on the distributed tables.';

CREATE FUNCTION @extschema@.distribute_tables() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['users', 'sessions', 'api_keys', 'idempotency_keys', 'event_consumers'] LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition
                        WHERE logicalrelid = pg_catalog.to_regclass('@extschema@.' || t)) THEN
            PERFORM pg_catalog.create_reference_table(('@extschema@.' || t)::pg_catalog.regclass);
        END IF;
    END LOOP;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition WHERE logicalrelid = '@extschema@.projects'::pg_catalog.regclass) THEN
        PERFORM pg_catalog.create_distributed_table('@extschema@.projects', 'id');
    END IF;
    FOREACH t IN ARRAY ARRAY['project_members', 'tasks', 'invitations', 'events'] LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition
                        WHERE logicalrelid = pg_catalog.to_regclass('@extschema@.' || t)) THEN
            PERFORM pg_catalog.create_distributed_table(('@extschema@.' || t)::pg_catalog.regclass, 'project_id',
                                                        colocate_with => '@extschema@.projects');
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.distribute_tables() IS 'Part of distribute(): the reference tables, then the tables sharded by project, colocated with projects.';


-- Citus gives a shard its table's grants but not its column grants, and
-- sends a shard every column of an INSERT (the defaults evaluated on the
-- coordinator): a role with a column grant on a distributed table gets the
-- privilege on the whole of its shards, by a table grant Citus sends to the
-- shards in this transaction, then taken back from the table on the
-- coordinator alone, whose column grants come back.  The coordinator checks
-- the column grants before any shard sees a statement, and only the
-- coordinator's connections reach a shard (docs/scaling.md).
CREATE FUNCTION @extschema@.distribute_column_grants() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g record;
BEGIN
    CREATE TEMP TABLE task_api_column_grants ON COMMIT DROP AS
        SELECT c.oid::pg_catalog.regclass AS rel, a.attname, p.privilege_type, r.rolname
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND a.attacl IS NOT NULL
          CROSS JOIN LATERAL pg_catalog.aclexplode(a.attacl) p
          JOIN pg_catalog.pg_roles r ON r.oid = p.grantee
         WHERE c.relnamespace = '@extschema@'::pg_catalog.regnamespace AND c.relkind = 'r'
           AND EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition d WHERE d.logicalrelid = c.oid);
    FOR g IN SELECT DISTINCT t.rel, t.privilege_type, t.rolname FROM pg_temp.task_api_column_grants t LOOP
        EXECUTE pg_catalog.format('GRANT %s ON %s TO %I', g.privilege_type, g.rel, g.rolname);
    END LOOP;
    SET LOCAL citus.enable_ddl_propagation = off;
    FOR g IN SELECT DISTINCT t.rel, t.privilege_type, t.rolname FROM pg_temp.task_api_column_grants t LOOP
        EXECUTE pg_catalog.format('REVOKE %s ON %s FROM %I', g.privilege_type, g.rel, g.rolname);
    END LOOP;
    FOR g IN SELECT * FROM pg_temp.task_api_column_grants LOOP
        EXECUTE pg_catalog.format('GRANT %s (%I) ON %s TO %I', g.privilege_type, g.attname, g.rel, g.rolname);
    END LOOP;
    SET LOCAL citus.enable_ddl_propagation = on;
END
$$;
COMMENT ON FUNCTION @extschema@.distribute_column_grants() IS 'Part of distribute(): a column grant of a distributed table becomes the privilege on its shards (Citus sends every column of an INSERT).';

-- The creator becomes the first owner (projects_add_owner() on one server),
-- after api.projects' own INSTEAD OF trigger has inserted the project; an
-- idempotent replay finds the membership there.  As the caller, not as the
-- tables' owner: Citus refuses, in one transaction, a shard written by one
-- role and then read by another (the request's next statement).  The
-- caller's insert passes the policy project_members_insert_owner, which
-- admits exactly this row: the caller, as owner, of the project named by
-- task_api_citus.new_project, set here (and sent to the workers).
CREATE FUNCTION @extschema@.citus_add_owner() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    EXECUTE pg_catalog.format('SET LOCAL task_api_citus.new_project = %L', NEW.id);
    -- Not ON CONFLICT: that needs the row visible to the caller, and the
    -- request's resolved projects do not hold the new one yet.
    BEGIN
        INSERT INTO @extschema@.project_members (project_id, user_id, role)
        VALUES (NEW.id, NEW.owner_id, 'owner');
    EXCEPTION WHEN unique_violation THEN
        NULL;  -- an idempotent replay: the membership is there
    END;
    EXECUTE 'SET LOCAL task_api_citus.new_project = ''''';
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.citus_add_owner() IS 'On Citus: INSTEAD OF INSERT trigger on api.projects after its own: the creator becomes the project''s owner, on the coordinator (projects_add_owner() on one server).';

-- project_members_keep_owner() on Citus, after api.project_members' own
-- UPDATE or DELETE trigger, on the coordinator, as the caller (an owner's
-- look-up or write after the caller's change in the same shard group is
-- refused): a project keeps an owner, and when its owner_id leaves the
-- owners, the longest-standing remaining owner takes it over.  Unlike one
-- server it does not skip owners with another live project of the same
-- name: those are in any shard, and names are not unique per owner on
-- Citus (projects_owner_name_key is dropped).  The caller may write
-- owner_id there (granted by distribute_policies()); projects_update
-- admits only an owner of the project.
CREATE FUNCTION @extschema@.citus_keep_owner() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    current_owner uuid;
    next_owner uuid;
BEGIN
    IF OLD.role <> 'owner' OR (TG_OP = 'UPDATE' AND NEW.role = 'owner') THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    SELECT p.owner_id INTO current_owner FROM @extschema@.projects p WHERE p.id = OLD.project_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    SELECT m.user_id INTO next_owner
      FROM @extschema@.project_members m
     WHERE m.project_id = OLD.project_id AND m.role = 'owner'
     ORDER BY m.added_at, m.user_id LIMIT 1;
    IF next_owner IS NULL THEN
        PERFORM @extschema@.raise_error('conflict', 'a project must keep at least one owner',
            'This change would leave the project without an owner.',
            'make another member an owner first, or delete the project');
    END IF;
    IF current_owner = OLD.user_id THEN
        UPDATE @extschema@.projects SET owner_id = next_owner WHERE id = OLD.project_id;
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;
COMMENT ON FUNCTION @extschema@.citus_keep_owner() IS 'On Citus: INSTEAD OF UPDATE OR DELETE trigger on api.project_members after its own: the project keeps an owner and owner_id moves to the longest-standing remaining owner, on the coordinator, as the caller (project_members_keep_owner() on one server).';

-- The leaver's assigned tasks on Citus, before api.project_members' own
-- DELETE trigger, on the coordinator, as the caller: one server clears them
-- with the key's ON DELETE SET NULL (assignee_id), which Citus refuses with
-- the distribution column in the key, so the plain key would refuse the
-- delete.  The same UPDATE (stamps, version, "updated" events), admitted by
-- the policy tasks_update_unassign for exactly those rows: the project and
-- assignee named by task_api_citus.leaving_project and _user, set here (and
-- sent to the workers), with only assignee_id cleared.  Only where the
-- view's own trigger deletes: the member themself, or an owner.
CREATE FUNCTION @extschema@.citus_unassign() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF OLD.user_id IS DISTINCT FROM @extschema@.current_user_id()
       AND @extschema@.project_role(OLD.project_id) IS DISTINCT FROM 'owner' THEN
        RETURN OLD;  -- the view's own trigger refuses it
    END IF;
    EXECUTE pg_catalog.format('SET LOCAL task_api_citus.leaving_project = %L', OLD.project_id);
    EXECUTE pg_catalog.format('SET LOCAL task_api_citus.leaving_user = %L', OLD.user_id);
    UPDATE @extschema@.tasks SET assignee_id = NULL
     WHERE project_id = OLD.project_id AND assignee_id = OLD.user_id;
    EXECUTE 'SET LOCAL task_api_citus.leaving_project = ''''';
    EXECUTE 'SET LOCAL task_api_citus.leaving_user = ''''';
    RETURN OLD;
END
$$;
COMMENT ON FUNCTION @extschema@.citus_unassign() IS 'On Citus: INSTEAD OF DELETE trigger on api.project_members before its own: the leaver''s tasks in the project lose their assignee, as the caller (the assignee key''s ON DELETE SET NULL on one server).';

-- DELETE /api_keys on Citus (distribute() points api.api_keys' own delete
-- trigger here): the revoke runs as the tables' owner.  A request made with
-- an API key first records the key's use as the owner (pre_request(),
-- last_used_at); Citus serializes the writes of a reference table with a
-- lock on its shard, held by the owner's connection to the workers until
-- the transaction ends, so the caller's own revoke, through the caller's
-- connection, waited for its own transaction until cancelled (504 busy).
-- The same rows as api_keys_delete() and the policy api_keys_update: the
-- caller's live key.
CREATE FUNCTION @extschema@.citus_api_keys_delete() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE @extschema@.api_keys SET revoked_at = pg_catalog.now()
     WHERE id = OLD.id AND user_id = @extschema@.current_user_id() AND revoked_at IS NULL;
    RETURN OLD;
END
$$;
COMMENT ON FUNCTION @extschema@.citus_api_keys_delete() IS 'On Citus: INSTEAD OF DELETE trigger on api.api_keys in place of api_keys_delete(): revokes the caller''s key as the tables'' owner, whose connection holds the key table''s lock after pre_request() recorded the key''s use.';

-- PATCH and DELETE through the API views (docs/scaling.md): Citus cannot
-- plan an UPDATE or DELETE of a view with INSTEAD OF triggers that reads a
-- distributed table.  Where Citus is preloaded, the library's planner hook
-- (src/citus_views.c) turns the view's row source of that statement into a
-- call of citus_view_rows(), which runs the same rows' query, deparsed by
-- PostgreSQL, with the statement's parameters as values, as a query of its
-- own that Citus plans, as the caller (row-level security as for a GET).
-- Read-only: a statement that writes is refused.
CREATE FUNCTION @extschema@.citus_view_rows(sql text, params text[]) RETURNS SETOF record
    LANGUAGE c STRICT VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'ta_citus_view_rows';
COMMENT ON FUNCTION @extschema@.citus_view_rows(text, text[]) IS 'On Citus: the rows of an API view that an UPDATE or DELETE through it reads, run as a query of their own (the planner hook of src/citus_views.c writes the call); granted by distribute().';

CREATE FUNCTION @extschema@.distribute_view_writes() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    GRANT EXECUTE ON FUNCTION @extschema@.citus_view_rows(text, text[]) TO task_api_user;
    -- A request that reads shards in parallel (citus_pre_request() reads the
    -- caller's memberships from every shard) may then not write a reference
    -- table that distributed tables have keys to (users, sessions, ...):
    -- Citus wants one connection per node for the whole transaction.
    EXECUTE pg_catalog.format('ALTER DATABASE %I SET citus.multi_shard_modify_mode = sequential',
                              pg_catalog.current_database());
END
$$;
COMMENT ON FUNCTION @extschema@.distribute_view_writes() IS 'Part of distribute(): the API role may run the view rows'' queries that UPDATE and DELETE through the views read on Citus; the database''s transactions reach each node over one connection, so that a request may write a reference table after reading shards.';

-- Event ids unique across nodes (docs/scaling.md, "Events"): a worker draws
-- the ids of its shards' events from its own task_api.events_id_seq, which
-- Citus leaves as installed (1, 2, ... on every node).  Each node's sequence
-- gets its own range, (group id << 48) + 1 up to the next group's: ids stay
-- ordered on each node (and so within a project, which lives on one node).
CREATE FUNCTION @extschema@.citus_event_id_range() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g bigint;
    low bigint;
    start_at bigint;
    propagate text := pg_catalog.current_setting('citus.enable_ddl_propagation');
BEGIN
    -- This node's sequence alone.
    PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', 'off', true);
    EXECUTE 'SELECT groupid FROM pg_catalog.pg_dist_local_group' INTO g;
    low := (g << 48) + 1;
    SELECT GREATEST(low, coalesce(s.last_value, 0) + 1) INTO start_at
      FROM pg_catalog.pg_sequences s WHERE s.schemaname = '@extschema@' AND s.sequencename = 'events_id_seq';
    EXECUTE pg_catalog.format('ALTER SEQUENCE @extschema@.events_id_seq MINVALUE %s MAXVALUE %s START %s RESTART %s',
                              low, ((g + 1) << 48) - 1, low, start_at);
    PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', propagate, true);
END
$$;
COMMENT ON FUNCTION @extschema@.citus_event_id_range() IS 'On a Citus node: this node''s events_id_seq draws from its own range, (group id << 48) + 1 up to the next group''s, so event ids are unique across nodes (docs/scaling.md).';

CREATE FUNCTION @extschema@.distribute_event_ids() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- One statement per call: run_command_on_workers() reports the first
    -- statement's outcome alone.
    IF EXISTS (SELECT FROM pg_catalog.run_command_on_workers('SELECT @extschema@.citus_event_id_range()') w
                WHERE NOT w.success) THEN
        RAISE EXCEPTION 'distribute: a worker refused its event id range (SELECT * FROM run_command_on_workers(...) says which)'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    PERFORM @extschema@.citus_event_id_range();
END
$$;
COMMENT ON FUNCTION @extschema@.distribute_event_ids() IS 'Part of distribute(): every node draws event ids from a range of its own (citus_event_id_range()).';

-- Authorization on the workers -----------------------------------------------
-- Policies run where the rows are: on a worker, which sees neither the
-- claims PostgREST sets with set_config() nor the memberships of other
-- shards.  So on Citus, PostgREST's pre-request hook is citus_pre_request():
-- on the coordinator, once per request, it resolves the caller's projects
-- with their roles, the users who share one, and the caller's email, and
-- SETs them LOCAL; Citus sends LOCAL settings to every worker connection of
-- the transaction (citus.propagate_set_commands = 'local', set by
-- distribute()), and the policies distribute() puts in place compare rows
-- with them, with no sub-select and no look-up.
CREATE FUNCTION @extschema@.citus_pre_request() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- task_api_user's force_generic_plan (PostgREST sets it per request):
    -- Citus cannot plan a distributed query with its parameters unknown, and
    -- keeps generic plans away itself when the plan cache may choose.
    SET LOCAL plan_cache_mode = auto;
    -- As the request's role, as PostgREST calls it on one server: for a
    -- session cookie it becomes task_api_user, which it cannot from inside a
    -- SECURITY DEFINER function (PostgreSQL ignores the change there).
    PERFORM @extschema@.pre_request();
    PERFORM @extschema@.citus_resolve_caller();
    -- A request that may write: its events are recorded on the workers, so
    -- this node's notifier reads the newest one after the commit and sends
    -- NOTIFY task_api_events here, where consumers listen (src/event_notify.c).
    IF pg_catalog.current_setting('request.method', true) NOT IN ('GET', 'HEAD') THEN
        PERFORM @extschema@.citus_notify_at_commit();
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.citus_pre_request() IS 'On Citus (after distribute()), PostgREST''s db-pre-request: pre_request(), then the caller''s projects, roles, peers and email SET LOCAL for the policies evaluated on the workers (docs/scaling.md).';

-- Its part that reads the tables, as their owner.
CREATE FUNCTION @extschema@.citus_resolve_caller() RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid;
    caller jsonb;
BEGIN
    me := @extschema@.current_user_id();
    IF me IS NULL THEN
        caller := '{"projects": {}, "peers": []}';
    ELSE
        SELECT pg_catalog.jsonb_build_object(
                   'projects', coalesce((SELECT pg_catalog.jsonb_object_agg(m.project_id, m.role)
                                           FROM @extschema@.project_members m WHERE m.user_id = me), '{}'),
                   'peers', coalesce((SELECT pg_catalog.jsonb_agg(DISTINCT o.user_id)
                                        FROM @extschema@.project_members m
                                        JOIN @extschema@.project_members o ON o.project_id = m.project_id
                                       WHERE m.user_id = me), '[]'),
                   'email', (SELECT u.email FROM @extschema@.users u WHERE u.id = me),
                   -- The caller's projects in the trash (project_role() is NULL there).
                   'trashed', coalesce((SELECT pg_catalog.jsonb_agg(p.id)
                                          FROM @extschema@.project_members m
                                          JOIN @extschema@.projects p ON p.id = m.project_id
                                         WHERE m.user_id = me AND p.deleted_at IS NOT NULL), '[]'))
          INTO caller;
    END IF;
    EXECUTE pg_catalog.format('SET LOCAL request.jwt.claims = %L',
                              coalesce(pg_catalog.current_setting('request.jwt.claims', true), ''));
    EXECUTE pg_catalog.format('SET LOCAL task_api_citus.caller = %L', caller);
    -- The rows' stamps on the workers take the coordinator's now() (src/stamp.c):
    -- microseconds since 1970.
    EXECUTE pg_catalog.format('SET LOCAL task_api_citus.now = %L',
                              (EXTRACT(epoch FROM pg_catalog.now()) * 1000000)::bigint);
    -- The request id, which pre_request() made the transaction's
    -- application_name, for the events written on the workers (src/trace.c).
    EXECUTE pg_catalog.format('SET LOCAL task_api_citus.request_id = %L',
                              pg_catalog.current_setting('application_name'));
    PERFORM @extschema@.citus_pre_request_reads();
END
$$;
COMMENT ON FUNCTION @extschema@.citus_resolve_caller() IS 'On Citus, part of citus_pre_request(): the caller''s projects, roles, peers and email (and the claims) SET LOCAL, read as the tables'' owner.';

CREATE FUNCTION @extschema@.citus_caller() RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN NULLIF(pg_catalog.current_setting('task_api_citus.caller', true), '')::jsonb;
COMMENT ON FUNCTION @extschema@.citus_caller() IS 'On Citus: what citus_pre_request() resolved for this request ({projects: {id: role}, peers: [user ids], email}), or NULL.';

CREATE FUNCTION @extschema@.citus_project_ids(min_role @extschema@.member_role) RETURNS uuid[]
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN ARRAY(SELECT p.key::uuid FROM pg_catalog.jsonb_each_text(@extschema@.citus_caller() -> 'projects') p
                  WHERE p.value::@extschema@.member_role >= min_role);
COMMENT ON FUNCTION @extschema@.citus_project_ids(@extschema@.member_role) IS 'On Citus: member_project_ids() from what citus_pre_request() resolved.';

CREATE FUNCTION @extschema@.citus_has_role(project_id uuid, min_role @extschema@.member_role) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN coalesce((@extschema@.citus_caller() -> 'projects' ->> project_id::text)::@extschema@.member_role >= min_role, false);
COMMENT ON FUNCTION @extschema@.citus_has_role(uuid, @extschema@.member_role) IS 'On Citus: has_project_role() from what citus_pre_request() resolved.';

CREATE FUNCTION @extschema@.citus_is_peer(user_id uuid) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN coalesce(@extschema@.citus_caller() -> 'peers' ? user_id::text, false);
COMMENT ON FUNCTION @extschema@.citus_is_peer(uuid) IS 'On Citus: whether the user shares a project with the caller, from what citus_pre_request() resolved.';

CREATE FUNCTION @extschema@.citus_email() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN @extschema@.citus_caller() ->> 'email';
COMMENT ON FUNCTION @extschema@.citus_email() IS 'On Citus: the caller''s email, from what citus_pre_request() resolved.';

-- project_role() on Citus (distribute_reads() points it here): the caller's
-- role in a live project from what citus_pre_request() resolved, not the
-- membership cache, whose look-ups run as the tables' owner (refused after
-- the caller's write in the same shard group) and, on a worker, from a shard.
CREATE FUNCTION @extschema@.citus_project_role(project_id uuid) RETURNS @extschema@.member_role
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN CASE WHEN NOT coalesce(@extschema@.citus_caller() -> 'trashed' ? project_id::text, false)
                THEN (@extschema@.citus_caller() -> 'projects' ->> project_id::text)::@extschema@.member_role END;
COMMENT ON FUNCTION @extschema@.citus_project_role(uuid) IS 'On Citus: project_role() from what citus_pre_request() resolved (NULL for a project in the trash).';

-- The same policies as on one server, reading citus_caller().
CREATE FUNCTION @extschema@.distribute_policies() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    EXECUTE pg_catalog.format('ALTER DATABASE %I SET citus.propagate_set_commands = local', pg_catalog.current_database());
    SET LOCAL citus.propagate_set_commands = local;
    GRANT EXECUTE ON FUNCTION @extschema@.citus_pre_request(), @extschema@.citus_resolve_caller(),
        @extschema@.citus_notify_at_commit() TO task_api_anon, task_api_user, task_api_metrics;
    GRANT EXECUTE ON FUNCTION @extschema@.citus_caller(), @extschema@.citus_project_ids(@extschema@.member_role),
        @extschema@.citus_has_role(uuid, @extschema@.member_role), @extschema@.citus_is_peer(uuid),
        @extschema@.citus_email(), @extschema@.citus_project_role(uuid) TO task_api_user;
    ALTER POLICY projects_select ON @extschema@.projects
        USING (owner_id = @extschema@.current_user_id() OR id = ANY (@extschema@.citus_project_ids('viewer')));
    ALTER POLICY projects_update ON @extschema@.projects
        USING (@extschema@.citus_has_role(id, 'owner')) WITH CHECK (@extschema@.citus_has_role(id, 'owner'));
    ALTER POLICY projects_delete ON @extschema@.projects USING (@extschema@.citus_has_role(id, 'owner'));
    ALTER POLICY project_members_select ON @extschema@.project_members
        USING (project_id = ANY (@extschema@.citus_project_ids('viewer')));
    ALTER POLICY project_members_update ON @extschema@.project_members
        USING (@extschema@.citus_has_role(project_id, 'owner')) WITH CHECK (@extschema@.citus_has_role(project_id, 'owner'));
    ALTER POLICY project_members_delete ON @extschema@.project_members
        USING (user_id = @extschema@.current_user_id() OR @extschema@.citus_has_role(project_id, 'owner'));
    ALTER POLICY users_select ON @extschema@.users
        USING (id = @extschema@.current_user_id() OR @extschema@.citus_is_peer(id));
    ALTER POLICY tasks_select ON @extschema@.tasks USING (project_id = ANY (@extschema@.citus_project_ids('viewer')));
    ALTER POLICY tasks_insert ON @extschema@.tasks
        WITH CHECK (@extschema@.citus_has_role(project_id, 'editor') AND created_by = @extschema@.current_user_id());
    ALTER POLICY tasks_update ON @extschema@.tasks
        USING (@extschema@.citus_has_role(project_id, 'editor')) WITH CHECK (@extschema@.citus_has_role(project_id, 'editor'));
    ALTER POLICY tasks_delete ON @extschema@.tasks USING (@extschema@.citus_has_role(project_id, 'editor'));
    ALTER POLICY events_select ON @extschema@.events USING (project_id = ANY (@extschema@.citus_project_ids('viewer')));
    ALTER POLICY invitations_select ON @extschema@.invitations
        USING (project_id = ANY (@extschema@.citus_project_ids('owner'))
               OR user_id = @extschema@.current_user_id()
               OR pg_catalog.lower(email) = pg_catalog.lower(@extschema@.citus_email()));
    ALTER POLICY invitations_insert ON @extschema@.invitations
        WITH CHECK (@extschema@.citus_has_role(project_id, 'owner') AND invited_by = @extschema@.current_user_id());
    ALTER POLICY invitations_delete ON @extschema@.invitations USING (@extschema@.citus_has_role(project_id, 'owner'));
    -- citus_add_owner(): the creator's own membership, as the caller.
    GRANT INSERT (project_id, user_id, role) ON @extschema@.project_members TO task_api_user;
    GRANT EXECUTE ON FUNCTION @extschema@.citus_add_owner() TO task_api_user;
    -- citus_keep_owner(): the owner hand-off, as the caller.
    GRANT UPDATE (owner_id) ON @extschema@.projects TO task_api_user;
    GRANT EXECUTE ON FUNCTION @extschema@.citus_keep_owner() TO task_api_user;
    -- citus_unassign(): a leaver's assignments cleared, as the caller.
    GRANT EXECUTE ON FUNCTION @extschema@.citus_unassign() TO task_api_user;
    -- citus_api_keys_delete(): a key's revoke, as the owner.
    GRANT EXECUTE ON FUNCTION @extschema@.citus_api_keys_delete() TO task_api_user;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy
                    WHERE polname = 'tasks_update_unassign'
                      AND polrelid = '@extschema@.tasks'::pg_catalog.regclass) THEN
        CREATE POLICY tasks_update_unassign ON @extschema@.tasks FOR UPDATE
            USING (project_id::text = pg_catalog.current_setting('task_api_citus.leaving_project', true)
                   AND assignee_id::text = pg_catalog.current_setting('task_api_citus.leaving_user', true))
            WITH CHECK (project_id::text = pg_catalog.current_setting('task_api_citus.leaving_project', true)
                        AND assignee_id IS NULL);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy
                    WHERE polname = 'project_members_insert_owner'
                      AND polrelid = '@extschema@.project_members'::pg_catalog.regclass) THEN
        CREATE POLICY project_members_insert_owner ON @extschema@.project_members FOR INSERT
            WITH CHECK (user_id = @extschema@.current_user_id() AND role = 'owner'
                        AND project_id::text = pg_catalog.current_setting('task_api_citus.new_project', true));
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.distribute_policies() IS 'Part of distribute(): the policies read what citus_pre_request() resolved (no sub-select, no look-up on a worker); the database propagates SET LOCAL to the workers.';

REVOKE ALL ON FUNCTION @extschema@.distribute(), @extschema@.distribute_keys(), @extschema@.distribute_tables(),
    @extschema@.distribute_foreign_keys(), @extschema@.distribute_column_grants(), @extschema@.citus_add_owner(),
    @extschema@.citus_keep_owner(), @extschema@.citus_unassign(), @extschema@.citus_api_keys_delete(),
    @extschema@.distribute_policies(), @extschema@.citus_pre_request(), @extschema@.citus_resolve_caller(),
    @extschema@.citus_caller(),
    @extschema@.citus_project_ids(@extschema@.member_role), @extschema@.citus_has_role(uuid, @extschema@.member_role),
    @extschema@.citus_is_peer(uuid), @extschema@.citus_email(), @extschema@.citus_project_role(uuid),
    @extschema@.citus_view_rows(text, text[]),
    @extschema@.distribute_view_writes(), @extschema@.citus_event_id_range(), @extschema@.distribute_event_ids() FROM PUBLIC;
