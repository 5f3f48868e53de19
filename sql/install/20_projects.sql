-- Projects and memberships ----------------------------------------------------
-- A project is visible to its members; its creator becomes its first owner.
-- Names are unique per owner among live projects.

CREATE TABLE @extschema@.projects (
    id          uuid PRIMARY KEY DEFAULT @extschema@.uuidv7(),
    name        text NOT NULL CHECK (pg_catalog.char_length(name) BETWEEN 1 AND 120),
    description text CHECK (pg_catalog.char_length(description) <= 10000),
    owner_id    uuid NOT NULL REFERENCES @extschema@.users (id),
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    version     integer NOT NULL DEFAULT 1,
    deleted_at  timestamptz,
    deleted_by  uuid REFERENCES @extschema@.users (id)
);
COMMENT ON TABLE @extschema@.projects IS 'Projects; exposed as api.projects.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.projects', '');
-- Unique names among live projects only, so a trashed name can be reused.
CREATE UNIQUE INDEX projects_owner_name_key ON @extschema@.projects (owner_id, name) WHERE deleted_at IS NULL;
-- The "owner_id = caller" arm of the visibility policy.
CREATE INDEX projects_owner_idx ON @extschema@.projects (owner_id);

CREATE TABLE @extschema@.project_members (
    project_id uuid NOT NULL REFERENCES @extschema@.projects (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES @extschema@.users (id) ON DELETE CASCADE,
    role       @extschema@.member_role NOT NULL DEFAULT 'viewer',
    added_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (project_id, user_id)
);
COMMENT ON TABLE @extschema@.project_members IS 'Who belongs to which project, with which role; exposed as api.project_members.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.project_members', '');
-- Every RLS check starts from "the projects of this user".
CREATE INDEX project_members_user_idx ON @extschema@.project_members (user_id, project_id) INCLUDE (role);

CREATE TRIGGER projects_stamp BEFORE INSERT OR UPDATE ON @extschema@.projects
    FOR EACH ROW EXECUTE FUNCTION @extschema@.stamp_row('updated_at', 'version');

-- Membership lookups for policies and triggers, answered in C from a
-- per-caller cache that is exact for the current snapshot (membership.c).
CREATE FUNCTION @extschema@.project_role(project_id uuid) RETURNS @extschema@.member_role
    AS 'MODULE_PATHNAME', 'task_api_project_role' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.project_role(uuid) IS 'The caller''s role in a live project, or NULL when not a member or the project is in the trash.';

CREATE FUNCTION @extschema@.has_project_role(project_id uuid, min_role @extschema@.member_role) RETURNS boolean
    AS 'MODULE_PATHNAME', 'task_api_has_project_role' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.has_project_role(uuid, @extschema@.member_role) IS 'Whether the caller has at least min_role in the project (live or in the trash).';

CREATE FUNCTION @extschema@.member_project_ids(min_role @extschema@.member_role DEFAULT 'viewer') RETURNS uuid[]
    AS 'MODULE_PATHNAME', 'task_api_member_project_ids' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.member_project_ids(@extschema@.member_role) IS 'Ids of the projects where the caller has at least min_role; policies use project_id = ANY ((SELECT ...)) so it runs once per query and can drive an index scan.';

-- Any change to memberships, projects or users (and, in 50_auth.sql, to
-- sessions and API keys) makes the callers' caches stale: this session's at
-- once, every other session's when the change commits.
CREATE FUNCTION @extschema@.membership_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'task_api_membership_changed' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.membership_changed() IS 'Statement trigger: marks the callers'' cached memberships and credential checks stale (this session''s now, others'' at commit).';
CREATE TRIGGER project_members_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.project_members
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.membership_changed();
CREATE TRIGGER projects_changed AFTER UPDATE OR DELETE OR TRUNCATE ON @extschema@.projects
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.membership_changed();
-- A user created or deleted changes whether a token's user exists.  Every
-- session's cache may skip changes of other transactions that fired none of
-- these triggers (src/membership.c), so they fire in every replication role.
CREATE TRIGGER users_changed AFTER INSERT OR DELETE OR TRUNCATE ON @extschema@.users
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.membership_changed();
ALTER TABLE @extschema@.project_members ENABLE ALWAYS TRIGGER project_members_changed;
ALTER TABLE @extschema@.projects ENABLE ALWAYS TRIGGER projects_changed;
ALTER TABLE @extschema@.users ENABLE ALWAYS TRIGGER users_changed;

ALTER TABLE @extschema@.projects ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.projects FORCE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.project_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.project_members FORCE ROW LEVEL SECURITY;

-- Members see the project; its owner_id also sees it (the row just inserted,
-- before the owner membership exists).  Owners change and delete it.
CREATE POLICY projects_select ON @extschema@.projects FOR SELECT
    USING (owner_id = @extschema@.current_user_id()
           OR id = ANY ((SELECT @extschema@.member_project_ids('viewer'))::uuid[]));
CREATE POLICY projects_insert ON @extschema@.projects FOR INSERT
    WITH CHECK (owner_id = @extschema@.current_user_id());
CREATE POLICY projects_update ON @extschema@.projects FOR UPDATE
    USING (@extschema@.has_project_role(id, 'owner'))
    WITH CHECK (@extschema@.has_project_role(id, 'owner'));
CREATE POLICY projects_delete ON @extschema@.projects FOR DELETE
    USING (@extschema@.has_project_role(id, 'owner'));

-- The creator becomes the first owner.  SECURITY DEFINER: nobody is an
-- owner yet, so the membership policies would refuse the caller.  A restore
-- brings the memberships as dumped.
CREATE FUNCTION @extschema@.projects_add_owner() RETURNS trigger
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
CREATE TRIGGER projects_add_owner AFTER INSERT ON @extschema@.projects
    FOR EACH ROW EXECUTE FUNCTION @extschema@.projects_add_owner();

-- The API view ----------------------------------------------------------------

CREATE VIEW api.projects WITH (security_invoker = true) AS
    SELECT p.id, p.name, p.description, p.owner_id, p.created_at, p.updated_at, p.version
      FROM @extschema@.projects p
     WHERE p.deleted_at IS NULL;
COMMENT ON VIEW api.projects IS 'Projects you are a member of. POST creates one with you as owner; owners PATCH and DELETE.';
COMMENT ON COLUMN api.projects.id IS 'Project id (UUIDv7), set by the server.';
COMMENT ON COLUMN api.projects.name IS 'Name, 1 to 120 characters after trimming; unique among the owner''s live projects.';
COMMENT ON COLUMN api.projects.description IS 'Free text, at most 10000 characters.';
COMMENT ON COLUMN api.projects.owner_id IS 'The primary owner (the creator, until they leave); set by the server.';
COMMENT ON COLUMN api.projects.created_at IS 'When the project was created; set by the server.';
COMMENT ON COLUMN api.projects.updated_at IS 'When the project last changed; set by the server.';
COMMENT ON COLUMN api.projects.version IS 'Starts at 1 and goes up by one on every change; set by the server.';

-- Problems with a project's writable fields, given trimmed values.
CREATE FUNCTION @extschema@.project_problems(name text, description text) RETURNS jsonb
    LANGUAGE plpgsql STABLE
AS $$
DECLARE
    problems jsonb := '[]';
    p text;
BEGIN
    p := @extschema@.text_problem(name, 120, true);
    IF p IS NOT NULL THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('name', p);
    END IF;
    p := @extschema@.text_problem(description, 10000, false);
    IF p IS NOT NULL THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('description', p);
    END IF;
    RETURN problems;
END
$$;

-- Refuse a name another live project of the same owner already has.
-- SECURITY DEFINER: a co-owner renaming the project must be checked against
-- all of the primary owner's projects, not only those the co-owner sees.
CREATE FUNCTION @extschema@.check_project_name(owner_id uuid, name text, except_id uuid) RETURNS void
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- SELECT 1, not SELECT: Citus cannot plan an EXISTS of no column.
    IF EXISTS (SELECT 1 FROM @extschema@.projects p
                WHERE p.owner_id = check_project_name.owner_id AND p.name = check_project_name.name
                  AND p.deleted_at IS NULL AND p.id IS DISTINCT FROM except_id) THEN
        PERFORM @extschema@.raise_error('conflict', 'a project with this name already exists',
            'Project names are unique among the live projects of the project''s owner.',
            'choose another name');
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.check_project_name(uuid, text, uuid) IS 'Raise conflict (409) if the owner already has another live project with this name.';

CREATE FUNCTION @extschema@.projects_insert() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    me uuid := @extschema@.current_user_id();
    problems jsonb;
BEGIN
    IF @extschema@.idempotent_replay() THEN
        RETURN NEW;  -- the stored row of an idempotent replay (70_idempotency.sql)
    END IF;
    IF me IS NULL THEN
        PERFORM @extschema@.raise_error('unauthenticated', 'sign in to create projects');
    END IF;
    NEW.name := pg_catalog.btrim(NEW.name, E' \t\r\n');
    problems := @extschema@.project_problems(NEW.name, NEW.description);
    problems := problems OPERATOR(pg_catalog.||) @extschema@.server_set_problems(pg_catalog.to_jsonb(NEW), NULL,
        ARRAY['id', 'owner_id', 'created_at', 'updated_at', 'version']);
    PERFORM @extschema@.check_problems('project', problems);
    PERFORM @extschema@.check_project_name(me, NEW.name, NULL);

    BEGIN
        INSERT INTO @extschema@.projects (name, description, owner_id)
        VALUES (NEW.name, NEW.description, me)
        RETURNING id, name, description, owner_id, created_at, updated_at, version
        INTO NEW.id, NEW.name, NEW.description, NEW.owner_id, NEW.created_at, NEW.updated_at, NEW.version;
    EXCEPTION WHEN unique_violation THEN
        -- A concurrent request took the name after the check above.
        PERFORM @extschema@.check_project_name(me, NEW.name, NULL);
        RAISE;
    END;
    PERFORM @extschema@.note_etag(NEW.version);
    RETURN NEW;
END
$$;

CREATE FUNCTION @extschema@.projects_update() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    problems jsonb;
BEGIN
    IF @extschema@.idempotent_replay() THEN
        RETURN NEW;  -- the stored row of an idempotent replay (70_idempotency.sql)
    END IF;
    IF @extschema@.project_role(OLD.id) IS DISTINCT FROM 'owner' THEN
        PERFORM @extschema@.raise_error('forbidden', 'only a project owner can change the project');
    END IF;
    PERFORM @extschema@.check_if_match(OLD.version);
    NEW.name := pg_catalog.btrim(NEW.name, E' \t\r\n');
    problems := @extschema@.project_problems(NEW.name, NEW.description);
    problems := problems OPERATOR(pg_catalog.||) @extschema@.server_set_problems(pg_catalog.to_jsonb(NEW), pg_catalog.to_jsonb(OLD),
        ARRAY['id', 'owner_id', 'created_at', 'updated_at', 'version'],
        '{"owner_id": "change roles in project_members instead"}');
    PERFORM @extschema@.check_problems('project', problems);
    IF NEW.name IS DISTINCT FROM OLD.name THEN
        PERFORM @extschema@.check_project_name(OLD.owner_id, NEW.name, OLD.id);
    END IF;

    BEGIN
        UPDATE @extschema@.projects SET name = NEW.name, description = NEW.description
         WHERE id = OLD.id
        RETURNING id, name, description, owner_id, created_at, updated_at, version
        INTO NEW.id, NEW.name, NEW.description, NEW.owner_id, NEW.created_at, NEW.updated_at, NEW.version;
    EXCEPTION WHEN unique_violation THEN
        PERFORM @extschema@.check_project_name(OLD.owner_id, NEW.name, OLD.id);
        RAISE;
    END;
    PERFORM @extschema@.note_etag(NEW.version);
    RETURN NEW;
END
$$;

CREATE FUNCTION @extschema@.projects_delete() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    IF @extschema@.project_role(OLD.id) IS DISTINCT FROM 'owner' THEN
        PERFORM @extschema@.raise_error('forbidden', 'only a project owner can delete the project');
    END IF;
    PERFORM @extschema@.check_if_match(OLD.version);
    -- To the trash, with its live tasks, marked so that restoring the
    -- project brings back exactly those (see 60_trash.sql).
    UPDATE @extschema@.tasks
       SET deleted_at = pg_catalog.now(), deleted_by = @extschema@.current_user_id(), deleted_with_project = true
     WHERE project_id = OLD.id AND deleted_at IS NULL;
    DELETE FROM @extschema@.projects WHERE id = OLD.id AND deleted_at IS NULL;
    RETURN OLD;
END
$$;

SELECT @extschema@.view_trigger('api.projects', 50, 'insert', 'INSTEAD OF INSERT FOR EACH ROW', '@extschema@.projects_insert');
SELECT @extschema@.view_trigger('api.projects', 50, 'update', 'INSTEAD OF UPDATE FOR EACH ROW', '@extschema@.projects_update');
SELECT @extschema@.view_trigger('api.projects', 50, 'delete', 'INSTEAD OF DELETE FOR EACH ROW', '@extschema@.projects_delete');

-- Privileges ------------------------------------------------------------------
-- Column-level INSERT and UPDATE: only what the API's triggers write, so
-- server-owned columns (owner_id, stamps, ...) cannot be set even by SQL
-- that reaches the tables directly.  The owner hand-off and the stamp
-- trigger run with the table owner's rights.
GRANT SELECT, DELETE ON @extschema@.projects TO task_api_user;
GRANT INSERT (name, description, owner_id), UPDATE (name, description, deleted_at, deleted_by)
    ON @extschema@.projects TO task_api_user;
GRANT EXECUTE ON FUNCTION
    @extschema@.member_project_ids(@extschema@.member_role),
    @extschema@.project_role(uuid),
    @extschema@.has_project_role(uuid, @extschema@.member_role),
    @extschema@.project_problems(text, text),
    @extschema@.check_project_name(uuid, text, uuid)
TO task_api_user;
GRANT SELECT, INSERT, UPDATE, DELETE ON api.projects TO task_api_user;
