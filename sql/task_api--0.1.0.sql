-- task_api install script, assembled at build time from sql/install/*.sql
-- in name order: core, then one file per resource, then grants.

\echo Use "CREATE EXTENSION task_api" to load this file. \quit

-- Roles (cluster-wide, so created only when missing; never dropped with the
-- extension).  PostgREST logs in as task_api_authenticator and switches to
-- task_api_anon or task_api_user for each request.
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'task_api_anon') THEN
        CREATE ROLE task_api_anon NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'task_api_user') THEN
        CREATE ROLE task_api_user NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'task_api_authenticator') THEN
        CREATE ROLE task_api_authenticator LOGIN NOINHERIT;
    END IF;
END
$roles$;
GRANT task_api_anon, task_api_user TO task_api_authenticator;

-- The exposed schema: only views and functions PostgREST serves.
CREATE SCHEMA api;
COMMENT ON SCHEMA api IS E'task_api\n\nA task-manager REST API inside PostgreSQL: users, projects, members and tasks, with per-project roles enforced by row-level security. Authenticate with a bearer JWT; errors are JSON objects with a stable code.';

-- Types ------------------------------------------------------------------

-- Declared from least to most privileged, so roles compare with >=.
CREATE TYPE @extschema@.member_role AS ENUM ('viewer', 'editor', 'owner');
COMMENT ON TYPE @extschema@.member_role IS 'A member''s role in a project: viewer reads; editor also writes tasks; owner also manages the project and its members.';

CREATE TYPE @extschema@.task_status AS ENUM ('todo', 'in_progress', 'blocked', 'done', 'cancelled');
COMMENT ON TYPE @extschema@.task_status IS 'Workflow state of a task.';

-- C functions --------------------------------------------------------------

CREATE FUNCTION @extschema@.uuidv7() RETURNS uuid
    AS 'MODULE_PATHNAME', 'task_api_uuidv7' LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.uuidv7() IS 'A new time-ordered UUID (RFC 9562 version 7), monotonic within a session.';

CREATE FUNCTION @extschema@.uuidv7_time(uuid) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'task_api_uuidv7_time' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.uuidv7_time(uuid) IS 'Creation time embedded in a UUIDv7 (millisecond precision); NULL for other UUID versions.';

CREATE FUNCTION @extschema@.status() RETURNS jsonb
    AS 'MODULE_PATHNAME', 'task_api_status' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.status() IS 'Library version, whether it was preloaded, and which settings are set (never their values).';

CREATE FUNCTION @extschema@.raise_error(code text, message text, details text DEFAULT NULL, hint text DEFAULT NULL) RETURNS void
    AS 'MODULE_PATHNAME', 'task_api_raise_error' LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.raise_error(text, text, text, text) IS 'Raise a catalogue error (task_api.error_codes) as PostgREST turns it into HTTP: exact status, {code, message, details, hint} body, and the response headers set so far.';

CREATE FUNCTION @extschema@.append_response_header(name text, value text) RETURNS void
    AS 'MODULE_PATHNAME', 'task_api_append_header' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.append_response_header(text, text) IS 'Add an HTTP response header for this request, keeping the headers already set (response.headers).';

CREATE FUNCTION @extschema@.error_catalogue(OUT code text, OUT status integer, OUT description text) RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'task_api_error_catalogue' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.error_catalogue() IS 'The error catalogue compiled into the library.';

CREATE VIEW @extschema@.error_codes AS
    SELECT code, status, description FROM @extschema@.error_catalogue();
COMMENT ON VIEW @extschema@.error_codes IS 'Every error code the API raises, with its HTTP status.';

CREATE FUNCTION @extschema@.current_user_id() RETURNS uuid
    AS 'MODULE_PATHNAME', 'task_api_current_user_id' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.current_user_id() IS 'The caller''s user id (the sub claim of the request''s JWT), or NULL when anonymous.';

CREATE FUNCTION @extschema@.request_header(name text) RETURNS text
    AS 'MODULE_PATHNAME', 'task_api_request_header' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.request_header(text) IS 'A header of the current PostgREST request, matched case-insensitively.';

CREATE FUNCTION @extschema@.request_cookie(name text) RETURNS text
    AS 'MODULE_PATHNAME', 'task_api_request_cookie' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.request_cookie(text) IS 'A cookie of the current PostgREST request.';

CREATE FUNCTION @extschema@.request_claim(name text) RETURNS text
    AS 'MODULE_PATHNAME', 'task_api_request_claim' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.request_claim(text) IS 'A claim of the current request''s JWT, as text.';

CREATE FUNCTION @extschema@.pre_request() RETURNS void
    AS 'MODULE_PATHNAME', 'task_api_pre_request' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.pre_request() IS 'PostgREST db-pre-request hook: checks the caller''s identity before every request.';

CREATE FUNCTION @extschema@.stamp_row() RETURNS trigger
    AS 'MODULE_PATHNAME', 'task_api_stamp_row' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.stamp_row() IS 'BEFORE INSERT OR UPDATE row trigger: stamp_row(updated_at_col, version_col [, status_col, done_value, completed_at_col]) maintains updated_at, version and completed_at.';

CREATE FUNCTION @extschema@.check_if_match(version integer) RETURNS void
    AS 'MODULE_PATHNAME', 'task_api_check_if_match' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.check_if_match(integer) IS 'Compare the request''s If-Match with a row''s version: precondition_failed (412) on a mismatch, invalid_parameter (400) when malformed; nothing without If-Match.';

CREATE FUNCTION @extschema@.note_etag(version integer) RETURNS void
    AS 'MODULE_PATHNAME', 'task_api_note_etag' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.note_etag(integer) IS 'Note a row written by this statement: a response for exactly one row carries ETag: "<version>".';

-- Validation helpers --------------------------------------------------------

-- One {field, problem} entry of a validation_failed details array.
CREATE FUNCTION @extschema@.problem(field text, problem text) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('field', field, 'problem', problem));
COMMENT ON FUNCTION @extschema@.problem(text, text) IS 'A one-element validation_failed details array: [{field, problem}].';

-- What is wrong with a required, trimmed text of 1..max characters, if anything.
-- STABLE like format(), so that the planner inlines it into callers.
CREATE FUNCTION @extschema@.text_problem(value text, max_chars integer, required boolean) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN CASE
        WHEN value IS NULL THEN CASE WHEN required THEN 'is required' END
        WHEN pg_catalog.char_length(value) > max_chars THEN pg_catalog.format('must be at most %s characters', max_chars)
        WHEN required AND pg_catalog.btrim(value, E' \t\r\n') = '' THEN 'must not be blank'
    END;
COMMENT ON FUNCTION @extschema@.text_problem(text, integer, boolean) IS 'The problem with a text field (NULL when valid): required, at most max_chars, not blank.';

-- Raise validation_failed if any problem was collected.
CREATE FUNCTION @extschema@.check_problems(what text, problems jsonb) RETURNS void
    LANGUAGE plpgsql VOLATILE PARALLEL SAFE
AS $$
BEGIN
    IF problems IS NOT NULL AND problems OPERATOR(pg_catalog.<>) '[]'::jsonb THEN
        PERFORM @extschema@.raise_error('validation_failed', pg_catalog.format('%s is invalid', what), problems::text,
            'details lists every field with a problem');
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.check_problems(text, jsonb) IS 'Raise validation_failed (422) with every collected {field, problem} when there is any.';
-- Users ----------------------------------------------------------------------
-- Accounts.  Rows are created by signup; a user sees their own row and the
-- rows of users who share a project with them, with the email of others
-- hidden.

CREATE TABLE @extschema@.users (
    id            uuid PRIMARY KEY DEFAULT @extschema@.uuidv7(),
    email         text NOT NULL
                  CHECK (pg_catalog.char_length(email) <= 254 AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
    display_name  text NOT NULL
                  CHECK (pg_catalog.char_length(display_name) BETWEEN 1 AND 100),
    password_hash text,
    created_at    timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE @extschema@.users IS 'Accounts; exposed as api.users.';
-- Email is unique case-insensitively; login looks users up by lower(email).
CREATE UNIQUE INDEX users_email_key ON @extschema@.users (pg_catalog.lower(email));

ALTER TABLE @extschema@.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.users FORCE ROW LEVEL SECURITY;

-- The caller's own email.  SECURITY DEFINER so that task_api_user needs no
-- SELECT on users.email at all: nobody can read another user's address.
CREATE FUNCTION @extschema@.own_email(user_id uuid) RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT u.email FROM @extschema@.users u
     WHERE u.id = own_email.user_id AND u.id = @extschema@.current_user_id()
$$;
COMMENT ON FUNCTION @extschema@.own_email(uuid) IS 'The email of user_id if it is the caller, else NULL.';

-- The API view: other users' emails are hidden.
CREATE VIEW api.users WITH (security_invoker = true) AS
    SELECT u.id,
           CASE WHEN u.id OPERATOR(pg_catalog.=) @extschema@.current_user_id()
                THEN @extschema@.own_email(u.id) END AS email,
           u.display_name,
           u.created_at
      FROM @extschema@.users u;
COMMENT ON VIEW api.users IS 'You, and the users who share a project with you. PATCH your own display_name.';
COMMENT ON COLUMN api.users.id IS 'User id (UUIDv7).';
COMMENT ON COLUMN api.users.email IS 'Email address; null except on your own row.';
COMMENT ON COLUMN api.users.display_name IS 'Name shown to other members (1 to 100 characters).';
COMMENT ON COLUMN api.users.created_at IS 'When the account was created.';

-- PATCH /users: only your own row, only display_name.
CREATE FUNCTION @extschema@.users_update() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    problems jsonb := '[]';
    name text := pg_catalog.btrim(NEW.display_name, E' \t\r\n');
    p text;
BEGIN
    IF OLD.id IS DISTINCT FROM @extschema@.current_user_id() THEN
        PERFORM @extschema@.raise_error('forbidden', 'you can only change your own user');
    END IF;
    IF NEW.id IS DISTINCT FROM OLD.id THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('id', 'is set by the server');
    END IF;
    IF NEW.created_at IS DISTINCT FROM OLD.created_at THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('created_at', 'is set by the server');
    END IF;
    IF NEW.email IS DISTINCT FROM OLD.email THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('email', 'cannot be changed');
    END IF;
    p := @extschema@.text_problem(name, 100, true);
    IF p IS NOT NULL THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('display_name', p);
    END IF;
    PERFORM @extschema@.check_problems('user', problems);

    UPDATE @extschema@.users SET display_name = name WHERE id = OLD.id
        RETURNING id, display_name, created_at
        INTO NEW.id, NEW.display_name, NEW.created_at;
    RETURN NEW;
END
$$;
CREATE TRIGGER users_update INSTEAD OF UPDATE ON api.users
    FOR EACH ROW EXECUTE FUNCTION @extschema@.users_update();
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

-- Any change to memberships or projects (and, in 50_auth.sql, to sessions
-- and API keys) in this session makes the caller's cache stale.
CREATE FUNCTION @extschema@.membership_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'task_api_membership_changed' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.membership_changed() IS 'Statement trigger: marks the caller''s cached memberships and credential checks stale.';
CREATE TRIGGER project_members_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.project_members
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.membership_changed();
CREATE TRIGGER projects_changed AFTER UPDATE OR DELETE OR TRUNCATE ON @extschema@.projects
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.membership_changed();

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
-- owner yet, so the membership policies would refuse the caller.
CREATE FUNCTION @extschema@.projects_add_owner() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
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
    IF EXISTS (SELECT FROM @extschema@.projects p
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
    IF NEW.id IS NOT NULL THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('id', 'is set by the server');
    END IF;
    IF NEW.owner_id IS NOT NULL THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('owner_id', 'is set by the server');
    END IF;
    IF NEW.created_at IS NOT NULL THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('created_at', 'is set by the server');
    END IF;
    IF NEW.updated_at IS NOT NULL THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('updated_at', 'is set by the server');
    END IF;
    IF NEW.version IS NOT NULL THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('version', 'is set by the server');
    END IF;
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
    IF NEW.id IS DISTINCT FROM OLD.id THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('id', 'is set by the server');
    END IF;
    IF NEW.owner_id IS DISTINCT FROM OLD.owner_id THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('owner_id', 'is set by the server; change roles in project_members instead');
    END IF;
    IF NEW.created_at IS DISTINCT FROM OLD.created_at THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('created_at', 'is set by the server');
    END IF;
    IF NEW.updated_at IS DISTINCT FROM OLD.updated_at THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('updated_at', 'is set by the server');
    END IF;
    IF NEW.version IS DISTINCT FROM OLD.version THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('version', 'is set by the server');
    END IF;
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

CREATE TRIGGER projects_insert INSTEAD OF INSERT ON api.projects
    FOR EACH ROW EXECUTE FUNCTION @extschema@.projects_insert();
CREATE TRIGGER projects_update INSTEAD OF UPDATE ON api.projects
    FOR EACH ROW EXECUTE FUNCTION @extschema@.projects_update();
CREATE TRIGGER projects_delete INSTEAD OF DELETE ON api.projects
    FOR EACH ROW EXECUTE FUNCTION @extschema@.projects_delete();
-- Project members ---------------------------------------------------------------
-- Owners add (by user id or email), change and remove members; any member
-- may leave.  A project always keeps an owner.  Who shares a project also
-- decides who can see whom in api.users.

CREATE POLICY project_members_select ON @extschema@.project_members FOR SELECT
    USING (project_id = ANY ((SELECT @extschema@.member_project_ids('viewer'))::uuid[]));
CREATE POLICY project_members_insert ON @extschema@.project_members FOR INSERT
    WITH CHECK (@extschema@.has_project_role(project_id, 'owner'));
CREATE POLICY project_members_update ON @extschema@.project_members FOR UPDATE
    USING (@extschema@.has_project_role(project_id, 'owner'))
    WITH CHECK (@extschema@.has_project_role(project_id, 'owner'));
CREATE POLICY project_members_delete ON @extschema@.project_members FOR DELETE
    USING (user_id = @extschema@.current_user_id()
           OR @extschema@.has_project_role(project_id, 'owner'));

-- You see yourself and the members of your projects (project_members' own
-- policy limits the subquery to your projects).
CREATE POLICY users_select ON @extschema@.users FOR SELECT
    USING (id = @extschema@.current_user_id()
           OR id IN (SELECT m.user_id FROM @extschema@.project_members m));
CREATE POLICY users_update ON @extschema@.users FOR UPDATE
    USING (id = @extschema@.current_user_id())
    WITH CHECK (id = @extschema@.current_user_id());

-- After a member leaves or is demoted: the project must still have an owner,
-- and owner_id moves to the longest-standing remaining owner if it named
-- them.  Runs after the change, so a project being deleted (whose members
-- go with it) is not held back.
CREATE FUNCTION @extschema@.project_members_keep_owner() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    current_owner uuid;
    next_owner uuid;
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.role = 'owner' AND NEW.role = 'owner' THEN
        RETURN NULL;
    END IF;
    IF OLD.role <> 'owner' THEN
        RETURN NULL;
    END IF;
    SELECT p.owner_id INTO current_owner FROM @extschema@.projects p WHERE p.id = OLD.project_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF NOT EXISTS (SELECT FROM @extschema@.project_members m
                    WHERE m.project_id = OLD.project_id AND m.role = 'owner') THEN
        PERFORM @extschema@.raise_error('conflict', 'a project must keep at least one owner',
            'This change would leave the project without an owner.',
            'make another member an owner first, or delete the project');
    END IF;
    IF current_owner = OLD.user_id THEN
        -- The longest-standing remaining owner who has no other live
        -- project of the same name (names are unique per owner).
        SELECT m.user_id INTO next_owner
          FROM @extschema@.project_members m
          JOIN @extschema@.projects p ON p.id = m.project_id
         WHERE m.project_id = OLD.project_id AND m.role = 'owner'
           AND NOT EXISTS (SELECT FROM @extschema@.projects q
                            WHERE q.owner_id = m.user_id AND q.name = p.name
                              AND q.deleted_at IS NULL AND q.id <> p.id)
         ORDER BY m.added_at, m.user_id LIMIT 1;
        IF next_owner IS NULL THEN
            PERFORM @extschema@.raise_error('conflict', 'no remaining owner can take over this project',
                'Every remaining owner already owns another live project with the same name.',
                'rename the project first');
        END IF;
        UPDATE @extschema@.projects SET owner_id = next_owner WHERE id = OLD.project_id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER project_members_keep_owner AFTER UPDATE OR DELETE ON @extschema@.project_members
    FOR EACH ROW EXECUTE FUNCTION @extschema@.project_members_keep_owner();

-- Resolve an invitation target.  SECURITY DEFINER because the invitee is
-- usually not yet visible to the inviting owner.
CREATE FUNCTION @extschema@.user_id_for(user_id uuid, email text) RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT u.id FROM @extschema@.users u
     WHERE CASE WHEN user_id_for.user_id IS NOT NULL THEN u.id = user_id_for.user_id
                ELSE lower(u.email) = lower(btrim(user_id_for.email)) END
$$;
COMMENT ON FUNCTION @extschema@.user_id_for(uuid, text) IS 'The id of a registered user given by id or by email (case-insensitive), or NULL.';

-- The API view ----------------------------------------------------------------

CREATE VIEW api.project_members WITH (security_invoker = true) AS
    SELECT m.project_id, m.user_id, m.role, m.added_at, NULL::text AS email
      FROM @extschema@.project_members m
      JOIN @extschema@.projects p ON p.id = m.project_id
     WHERE p.deleted_at IS NULL;
ALTER VIEW api.project_members ALTER COLUMN role SET DEFAULT 'viewer';
COMMENT ON VIEW api.project_members IS 'Members of your projects and their roles. Owners POST (by user_id or email), PATCH role and DELETE; any member may DELETE their own membership to leave.';
COMMENT ON COLUMN api.project_members.project_id IS 'The project.';
COMMENT ON COLUMN api.project_members.user_id IS 'The member. On POST, give user_id or email.';
COMMENT ON COLUMN api.project_members.role IS 'owner, editor or viewer (default viewer).';
COMMENT ON COLUMN api.project_members.added_at IS 'When the member was added; set by the server.';
COMMENT ON COLUMN api.project_members.email IS 'Write-only: on POST, the email of a registered user to add instead of user_id. Always null when read.';

CREATE FUNCTION @extschema@.project_members_insert() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    problems jsonb := '[]';
    my_role @extschema@.member_role;
    target uuid;
BEGIN
    IF @extschema@.current_user_id() IS NULL THEN
        PERFORM @extschema@.raise_error('unauthenticated', 'sign in to manage members');
    END IF;
    IF NEW.project_id IS NULL THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('project_id', 'is required');
    ELSE
        my_role := @extschema@.project_role(NEW.project_id);
        IF my_role IS NULL THEN
            problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('project_id', 'no such project');
        ELSIF my_role <> 'owner' THEN
            PERFORM @extschema@.raise_error('forbidden', 'only a project owner can add members');
        END IF;
    END IF;
    IF NEW.user_id IS NULL AND NEW.email IS NULL THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('user_id', 'give user_id or email');
    ELSIF NEW.user_id IS NOT NULL AND NEW.email IS NOT NULL THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('email', 'give user_id or email, not both');
    ELSE
        target := @extschema@.user_id_for(NEW.user_id, NEW.email);
        IF target IS NULL THEN
            problems := problems OPERATOR(pg_catalog.||) CASE WHEN NEW.user_id IS NOT NULL
                THEN @extschema@.problem('user_id', 'no such user')
                ELSE @extschema@.problem('email', 'no registered user has this email') END;
        END IF;
    END IF;
    IF NEW.role IS NULL THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('role', 'is required');
    END IF;
    IF NEW.added_at IS NOT NULL THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('added_at', 'is set by the server');
    END IF;
    PERFORM @extschema@.check_problems('membership', problems);

    IF EXISTS (SELECT FROM @extschema@.project_members m
                WHERE m.project_id = NEW.project_id AND m.user_id = target) THEN
        PERFORM @extschema@.raise_error('conflict', 'this user is already a member of the project',
            NULL, 'PATCH the membership to change the role');
    END IF;

    BEGIN
        INSERT INTO @extschema@.project_members (project_id, user_id, role)
        VALUES (NEW.project_id, target, NEW.role)
        RETURNING project_id, user_id, role, added_at
        INTO NEW.project_id, NEW.user_id, NEW.role, NEW.added_at;
    EXCEPTION WHEN unique_violation THEN
        -- A concurrent request added the same member after the check above.
        PERFORM @extschema@.raise_error('conflict', 'this user is already a member of the project',
            NULL, 'PATCH the membership to change the role');
    END;
    NEW.email := NULL;
    RETURN NEW;
END
$$;

CREATE FUNCTION @extschema@.project_members_update() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    problems jsonb := '[]';
BEGIN
    IF @extschema@.project_role(OLD.project_id) IS DISTINCT FROM 'owner' THEN
        PERFORM @extschema@.raise_error('forbidden', 'only a project owner can change roles');
    END IF;
    IF NEW.project_id IS DISTINCT FROM OLD.project_id THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('project_id', 'cannot be changed');
    END IF;
    IF NEW.user_id IS DISTINCT FROM OLD.user_id THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('user_id', 'cannot be changed');
    END IF;
    IF NEW.added_at IS DISTINCT FROM OLD.added_at THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('added_at', 'is set by the server');
    END IF;
    IF NEW.email IS NOT NULL THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('email', 'cannot be changed');
    END IF;
    IF NEW.role IS NULL THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('role', 'is required');
    END IF;
    PERFORM @extschema@.check_problems('membership', problems);

    UPDATE @extschema@.project_members SET role = NEW.role
     WHERE project_id = OLD.project_id AND user_id = OLD.user_id
    RETURNING project_id, user_id, role, added_at
    INTO NEW.project_id, NEW.user_id, NEW.role, NEW.added_at;
    RETURN NEW;
END
$$;

CREATE FUNCTION @extschema@.project_members_delete() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    IF OLD.user_id IS DISTINCT FROM @extschema@.current_user_id()
       AND @extschema@.project_role(OLD.project_id) IS DISTINCT FROM 'owner' THEN
        PERFORM @extschema@.raise_error('forbidden', 'only a project owner can remove other members');
    END IF;
    DELETE FROM @extschema@.project_members
     WHERE project_id = OLD.project_id AND user_id = OLD.user_id;
    RETURN OLD;
END
$$;

CREATE TRIGGER project_members_insert INSTEAD OF INSERT ON api.project_members
    FOR EACH ROW EXECUTE FUNCTION @extschema@.project_members_insert();
CREATE TRIGGER project_members_update INSTEAD OF UPDATE ON api.project_members
    FOR EACH ROW EXECUTE FUNCTION @extschema@.project_members_update();
CREATE TRIGGER project_members_delete INSTEAD OF DELETE ON api.project_members
    FOR EACH ROW EXECUTE FUNCTION @extschema@.project_members_delete();
-- Tasks ------------------------------------------------------------------------
-- Members read a project's tasks; editors and owners create, change and
-- delete them.  An assignee must be a member of the task's project: when a
-- member leaves, their tasks there become unassigned.

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
-- Listing a project's live tasks newest first, and the RLS filter on
-- project_id, use this index; the foreign key to project_members is checked
-- through it when a member leaves.
CREATE INDEX tasks_project_created_idx ON @extschema@.tasks (project_id, created_at DESC, id DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX tasks_project_assignee_idx ON @extschema@.tasks (project_id, assignee_id)
    WHERE assignee_id IS NOT NULL;

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
COMMENT ON COLUMN api.tasks.title IS 'Title, 1 to 200 characters after trimming.';
COMMENT ON COLUMN api.tasks.description IS 'Free text, at most 10000 characters.';
COMMENT ON COLUMN api.tasks.status IS 'todo (default), in_progress, blocked, done or cancelled.';
COMMENT ON COLUMN api.tasks.priority IS 'Priority from 0 to 4 (default 2).';
COMMENT ON COLUMN api.tasks.due_date IS 'Due date, or null.';
COMMENT ON COLUMN api.tasks.created_by IS 'The user who created the task; set by the server.';
COMMENT ON COLUMN api.tasks.created_at IS 'When the task was created; set by the server.';
COMMENT ON COLUMN api.tasks.updated_at IS 'When the task last changed; set by the server.';
COMMENT ON COLUMN api.tasks.completed_at IS 'When the task became done; cleared when it leaves done; set by the server.';
COMMENT ON COLUMN api.tasks.version IS 'Starts at 1 and goes up by one on every change; set by the server.';

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
    IF NEW.id IS DISTINCT FROM OLD.id THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('id', 'is set by the server');
    END IF;
    IF NEW.created_by IS DISTINCT FROM OLD.created_by THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('created_by', 'is set by the server');
    END IF;
    IF NEW.created_at IS DISTINCT FROM OLD.created_at THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('created_at', 'is set by the server');
    END IF;
    IF NEW.updated_at IS DISTINCT FROM OLD.updated_at THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('updated_at', 'is set by the server');
    END IF;
    IF NEW.completed_at IS DISTINCT FROM OLD.completed_at THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('completed_at', 'is set by the server');
    END IF;
    IF NEW.version IS DISTINCT FROM OLD.version THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('version', 'is set by the server');
    END IF;
    PERFORM @extschema@.check_problems('task', problems);

    UPDATE @extschema@.tasks
       SET project_id = NEW.project_id, assignee_id = NEW.assignee_id, title = NEW.title,
           description = NEW.description, status = NEW.status, priority = NEW.priority,
           due_date = NEW.due_date
     WHERE id = OLD.id
    RETURNING id, project_id, assignee_id, title, description, status, priority, due_date,
              created_by, created_at, updated_at, completed_at, version
    INTO NEW.id, NEW.project_id, NEW.assignee_id, NEW.title, NEW.description, NEW.status, NEW.priority,
         NEW.due_date, NEW.created_by, NEW.created_at, NEW.updated_at, NEW.completed_at, NEW.version;
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

CREATE TRIGGER tasks_insert INSTEAD OF INSERT ON api.tasks
    FOR EACH ROW EXECUTE FUNCTION @extschema@.tasks_insert();
CREATE TRIGGER tasks_insert_flush AFTER INSERT ON api.tasks
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.tasks_insert_flush();
CREATE TRIGGER tasks_update INSTEAD OF UPDATE ON api.tasks
    FOR EACH ROW EXECUTE FUNCTION @extschema@.tasks_update();
CREATE TRIGGER tasks_delete INSTEAD OF DELETE ON api.tasks
    FOR EACH ROW EXECUTE FUNCTION @extschema@.tasks_delete();
-- Cursor pagination (SPEC 6) ----------------------------------------------------
-- Signed opaque cursors (C: cursor.c over the pure-C codec cursor_codec.c),
-- public so users can paginate their own functions, and the two page
-- endpoints GET /rpc/tasks_page and GET /rpc/projects_page.
--
-- Keyset order is (sort key, id).  A NULL due_date sorts as +infinity:
-- last in ascending order, first in descending order, which is what one
-- index scanned forwards or backwards gives.  A cursor only carries a
-- position: every page runs under the caller's row-level security.

CREATE FUNCTION @extschema@.cursor_encode(sort_key anyelement, last_id uuid, direction text, fingerprint text) RETURNS text
    AS 'MODULE_PATHNAME', 'task_api_cursor_encode' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cursor_encode(anyelement, uuid, text, text) IS 'A signed, URL-safe cursor that resumes a keyset walk after the row (sort_key, last_id): sort_key of type smallint, integer, bigint, timestamptz, timestamp, date, text (<= 512 bytes) or uuid, possibly NULL; direction asc or desc; fingerprint any canonical text describing the filters and sort (its SHA-256 is kept). HMAC-SHA-256 under task_api.cursor_secret.';

CREATE FUNCTION @extschema@.cursor_decode(cursor text, fingerprint text, key_type anyelement,
                                          OUT sort_key anyelement, OUT last_id uuid, OUT direction text) RETURNS record
    AS 'MODULE_PATHNAME', 'task_api_cursor_decode' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cursor_decode(text, text, anyelement) IS 'The position a cursor from cursor_encode() carries: invalid_cursor (400) unless it is intact and signed with task_api.cursor_secret; cursor_mismatch (400) unless it was made with the same fingerprint and a sort key of key_type''s type (pass NULL::<type>). NULL for a NULL cursor.';

CREATE FUNCTION @extschema@.percent_encode(value text) RETURNS text
    AS 'MODULE_PATHNAME', 'task_api_percent_encode' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.percent_encode(text) IS 'RFC 3986 percent-encoding of every byte but A-Z a-z 0-9 - . _ ~, for URL query values.';

-- Indexes: one per sort key, on live rows only (the API never shows trashed
-- ones), led by project_id so that a page of one project is one range scan
-- of (project_id, key, id); created_at uses tasks_project_created_idx
-- (40_tasks.sql).  Every index can be scanned both ways.
CREATE INDEX tasks_project_updated_idx ON @extschema@.tasks (project_id, updated_at, id)
    WHERE deleted_at IS NULL;
-- btree puts NULLs last ascending: a NULL due_date sorts as +infinity.
CREATE INDEX tasks_project_due_idx ON @extschema@.tasks (project_id, due_date, id)
    WHERE deleted_at IS NULL;
CREATE INDEX tasks_project_priority_idx ON @extschema@.tasks (project_id, priority, id)
    WHERE deleted_at IS NULL;
-- q: full-text search over title and description with the fixed 'simple'
-- configuration (no stemming or stop words, the same for every language).
CREATE INDEX tasks_search_idx ON @extschema@.tasks
    USING gin (pg_catalog.to_tsvector('simple'::regconfig,
               title OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) COALESCE(description, '')))
    WHERE deleted_at IS NULL;

-- The live tasks of projects (and of the caller's projects: the tasks
-- policy, spelled out) that match a websearch_to_tsquery() query, found
-- through tasks_search_idx.  SECURITY DEFINER because under row-level
-- security PostgreSQL may not use an index for the @@ operator (it is not
-- leakproof); tasks_page joins the ids back through api.tasks, so its
-- policy applies to every row returned all the same.
CREATE FUNCTION @extschema@.search_tasks(projects uuid[], q text) RETURNS SETOF uuid
    LANGUAGE sql STABLE SECURITY DEFINER PARALLEL RESTRICTED
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.id FROM @extschema@.tasks t
     WHERE t.deleted_at IS NULL
       AND t.project_id = ANY (projects)
       AND t.project_id = ANY ((SELECT @extschema@.member_project_ids('viewer'))::uuid[])
       AND pg_catalog.to_tsvector('simple'::regconfig, t.title || ' ' || COALESCE(t.description, ''))
           @@ pg_catalog.websearch_to_tsquery('simple'::regconfig, q)
$$;
COMMENT ON FUNCTION @extschema@.search_tasks(uuid[], text) IS 'Ids of the caller''s live tasks in projects that match the full-text query q (websearch syntax, ''simple'' configuration), through the GIN index tasks_search_idx.';

-- The Link header of a page that has more: the same path (request.path,
-- as PostgREST saw it) and arguments with the new cursor, as a path-absolute
-- reference that clients resolve against the URL they called (RFC 8288).
-- SECURITY DEFINER so that callers need no right to set arbitrary headers.
CREATE FUNCTION @extschema@.page_link(default_path text, args text[], cursor text) RETURNS void
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    path text := current_setting('request.path', true);
    query text := '';
BEGIN
    IF path IS NULL OR path !~ '^/[A-Za-z0-9/_.~-]*$' THEN
        path := default_path;
    END IF;
    -- The path goes into the header as it is: whichever one is used must be
    -- a plain path, or a direct caller could put any URL or parameter there.
    IF path IS NULL OR path !~ '^/[A-Za-z0-9/_.~-]*$' THEN
        RAISE EXCEPTION 'page_link: "%" is not a plain absolute path', path
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR i IN 1 .. coalesce(array_length(args, 1), 0) / 2 LOOP
        IF args[2 * i] IS NOT NULL THEN
            query := query || @extschema@.percent_encode(args[2 * i - 1]) || '='
                           || @extschema@.percent_encode(args[2 * i]) || '&';
        END IF;
    END LOOP;
    PERFORM @extschema@.append_response_header('Link',
        format('<%s?%scursor=%s>; rel="next"', path, query, @extschema@.percent_encode(cursor)));
END
$$;
COMMENT ON FUNCTION @extschema@.page_link(text, text[], text) IS 'Append Link: <path?args&cursor=...>; rel="next" to the response: args are name, value pairs (NULL values are left out), path is request.path or default_path.';

-- invalid_parameter unless sort, direction and page_size are acceptable.
CREATE FUNCTION @extschema@.check_page_args(sort text, sorts text[], direction text, page_size integer) RETURNS void
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT (sort = ANY (sorts)) THEN
        PERFORM @extschema@.raise_error('invalid_parameter', format('sort must be one of %s', array_to_string(sorts, ', ')),
            format('sort was "%s".', sort), NULL);
    END IF;
    IF direction IS DISTINCT FROM 'asc' AND direction IS DISTINCT FROM 'desc' THEN
        PERFORM @extschema@.raise_error('invalid_parameter', 'direction must be asc or desc',
            format('direction was "%s".', direction), NULL);
    END IF;
    IF page_size NOT BETWEEN 1 AND 100 THEN
        PERFORM @extschema@.raise_error('invalid_parameter', 'page_size must be between 1 and 100',
            format('page_size was %s.', page_size), NULL);
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.check_page_args(text, text[], text, integer) IS 'Raise invalid_parameter (400) for a sort not in sorts, a direction other than asc or desc, or a page_size outside 1..100.';

-- GET /rpc/tasks_page ----------------------------------------------------------

CREATE FUNCTION api.tasks_page(project_id uuid DEFAULT NULL, status @extschema@.task_status DEFAULT NULL,
                               assignee_id uuid DEFAULT NULL, q text DEFAULT NULL,
                               sort text DEFAULT 'created_at', direction text DEFAULT 'desc',
                               page_size integer DEFAULT 25, cursor text DEFAULT NULL) RETURNS json
    LANGUAGE plpgsql STABLE SECURITY INVOKER PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    q_norm text := nullif(btrim(q), '');
    sort_ text := coalesce(sort, 'created_at');
    dir text := coalesce(direction, 'desc');
    n integer := coalesce(page_size, 25);
    fp text;
    key_expr text;
    key_type text;
    key_null boolean := false;
    cmp text;
    ranges text[];
    filters text := '';
    branch text;
    projects uuid[];
    sql text := '';
    with_ text;
    q_nodes integer;
    rows_ api.tasks[] := '{}';
    last_ api.tasks;
    next_cursor text;
    has_more boolean := false;
    r record;
BEGIN
    PERFORM @extschema@.check_page_args(sort_, ARRAY['created_at', 'updated_at', 'due_date', 'priority'], dir, n);
    -- A q PostgreSQL cannot turn into a query (more than 32 nested NOTs,
    -- "tsquery stack too small", an internal error: 500), or one so large
    -- that matching it overflows the stack (413), is invalid_parameter.
    IF q_norm IS NOT NULL THEN
        BEGIN
            q_nodes := numnode(websearch_to_tsquery('simple'::regconfig, q_norm));
        EXCEPTION WHEN internal_error OR program_limit_exceeded OR statement_too_complex THEN
            q_nodes := NULL;
        END;
        IF q_nodes IS NULL OR q_nodes > 1000 THEN
            PERFORM @extschema@.raise_error('invalid_parameter', 'q is too complex',
                'q makes a full-text query of more than 1000 terms and operators, or nests more than 32 NOTs.', NULL);
        END IF;
    END IF;
    -- What the cursor is bound to: the filters, the sort and the direction.
    fp := jsonb_build_array('api.tasks_page', project_id, status, assignee_id, q_norm, sort_, dir)::text;

    -- Only fixed SQL fragments are put together; every value is a parameter.
    key_expr := 't.' || CASE sort_ WHEN 'updated_at' THEN 'updated_at' WHEN 'due_date' THEN 'due_date'
                                   WHEN 'priority' THEN 'priority' ELSE 'created_at' END;
    key_type := CASE sort_ WHEN 'due_date' THEN 'date' WHEN 'priority' THEN 'smallint' ELSE 'timestamptz' END;
    cmp := CASE dir WHEN 'asc' THEN '>' ELSE '<' END;

    IF cursor IS NOT NULL THEN
        -- Checked here first, so a bad cursor is an error even when nothing is visible.
        EXECUTE format('SELECT d.sort_key IS NULL FROM @extschema@.cursor_decode($1, $2, NULL::%s) d', key_type)
            INTO key_null USING cursor, fp;
    END IF;
    -- The keyset ranges after the cursor, each one index range scan.  A NULL
    -- due_date sorts as +infinity, which is where the (project_id, due_date,
    -- id) index keeps it: last ascending, first descending.  Around the
    -- NULLs the rest of a walk is two ranges, read one after the other.
    IF cursor IS NULL THEN
        ranges := ARRAY[''];
    ELSIF sort_ <> 'due_date' OR (dir = 'desc' AND NOT key_null) THEN
        ranges := ARRAY[format(' AND (%s, t.id) %s ((SELECT c.sort_key FROM c), (SELECT c.last_id FROM c))', key_expr, cmp)];
    ELSIF dir = 'asc' AND NOT key_null THEN
        ranges := ARRAY[' AND (t.due_date, t.id) > ((SELECT c.sort_key FROM c), (SELECT c.last_id FROM c))',
                        ' AND t.due_date IS NULL'];
    ELSIF dir = 'asc' THEN
        ranges := ARRAY[' AND t.due_date IS NULL AND t.id > (SELECT c.last_id FROM c)'];
    ELSE
        ranges := ARRAY[' AND t.due_date IS NULL AND t.id < (SELECT c.last_id FROM c)',
                        ' AND t.due_date IS NOT NULL'];
    END IF;
    IF status IS NOT NULL THEN
        filters := filters || ' AND t.status = $2';
    END IF;
    IF assignee_id IS NOT NULL THEN
        filters := filters || ' AND t.assignee_id = $3';
    END IF;

    -- The projects to read: the one asked for, or every project of the
    -- caller (RLS applies on top either way).  Without q: per project and
    -- range, one ordered index range scan that stops after page_size + 1
    -- rows, then a merge, so a page costs the same at any depth.  With q:
    -- the matches come from the full-text index (search_tasks), then are
    -- ordered.
    projects := CASE WHEN project_id IS NOT NULL THEN ARRAY[project_id]
                     ELSE @extschema@.member_project_ids('viewer') END;
    FOREACH branch IN ARRAY ranges LOOP
        IF sql <> '' THEN
            sql := sql || ' UNION ALL ';
        END IF;
        sql := sql || format($q$(SELECT t, %1$s AS k FROM api.tasks t WHERE %2$s%3$s%4$s
                                  ORDER BY %1$s %5$s, t.id %5$s LIMIT $7 + 1)$q$,
            key_expr,
            CASE WHEN q_norm IS NULL THEN 't.project_id = p.id'
                 ELSE 't.project_id = ANY ($1) AND t.id IN (SELECT m.id FROM m)' END,
            branch, filters, dir);
    END LOOP;
    IF q_norm IS NULL THEN
        sql := format($q$SELECT l.t, l.k FROM pg_catalog.unnest($1) AS p(id) CROSS JOIN LATERAL (%s) l$q$, sql);
    END IF;
    with_ := concat_ws(', ',
        CASE WHEN cursor IS NOT NULL THEN
            format('c AS MATERIALIZED (SELECT * FROM @extschema@.cursor_decode($5, $6, NULL::%s))', key_type) END,
        CASE WHEN q_norm IS NOT NULL THEN
            'm AS MATERIALIZED (SELECT s.id FROM @extschema@.search_tasks($1, $4) AS s(id))' END);
    sql := format($q$%1$s
        SELECT y.t
          FROM (%2$s) y
         ORDER BY y.k %3$s, (y.t).id %3$s
         LIMIT $7 + 1$q$,
        CASE WHEN with_ <> '' THEN 'WITH ' || with_ END, sql, dir);

    FOR r IN EXECUTE sql USING projects, status, assignee_id, q_norm, cursor, fp, n LOOP
        IF cardinality(rows_) = n THEN
            -- One more row than asked for: there is a next page.
            has_more := true;
            EXIT;
        END IF;
        rows_ := rows_ || r.t;
    END LOOP;
    IF has_more THEN
        -- The cursor that resumes after the page's last row (made once, with
        -- the sort key's own type).
        last_ := rows_[n];
        next_cursor := CASE sort_
            WHEN 'updated_at' THEN @extschema@.cursor_encode(last_.updated_at, last_.id, dir, fp)
            WHEN 'due_date' THEN @extschema@.cursor_encode(last_.due_date, last_.id, dir, fp)
            WHEN 'priority' THEN @extschema@.cursor_encode(last_.priority, last_.id, dir, fp)
            ELSE @extschema@.cursor_encode(last_.created_at, last_.id, dir, fp) END;
        PERFORM @extschema@.page_link('/rpc/tasks_page',
            ARRAY['project_id', project_id::text, 'status', status::text, 'assignee_id', assignee_id::text,
                  'q', q_norm, 'sort', sort_, 'direction', dir, 'page_size', n::text],
            next_cursor);
    END IF;
    RETURN json_build_object('data', array_to_json(rows_), 'next_cursor', next_cursor, 'has_more', has_more);
END
$$;
COMMENT ON FUNCTION api.tasks_page(uuid, @extschema@.task_status, uuid, text, text, text, integer, text) IS E'One page of your tasks in keyset order.\n\nReturns {data (rows as in /tasks), next_cursor, has_more}, with a Link rel="next" header when there is more. A walk returns every task that exists throughout exactly once, whatever is written meanwhile.\n\nArguments:\nproject_id: only this project''s tasks.\nstatus: only tasks with this status.\nassignee_id: only tasks assigned to this user.\nq: full-text search over title and description (websearch syntax).\nsort: created_at (default), updated_at, due_date (no due date sorts as the latest) or priority; ties are broken by id.\ndirection: desc (default) or asc.\npage_size: rows per page, 1..100 (default 25); may change between pages.\ncursor: next_cursor of the previous page; valid only with the same filters, sort and direction.';

-- GET /rpc/projects_page -------------------------------------------------------

CREATE FUNCTION api.projects_page(sort text DEFAULT 'created_at', direction text DEFAULT 'desc',
                                  page_size integer DEFAULT 25, cursor text DEFAULT NULL) RETURNS json
    LANGUAGE plpgsql STABLE SECURITY INVOKER PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    sort_ text := coalesce(sort, 'created_at');
    dir text := coalesce(direction, 'desc');
    n integer := coalesce(page_size, 25);
    fp text;
    key_expr text;
    cmp text;
    where_ text := '';
    sql text;
    rows_ api.projects[] := '{}';
    last_ api.projects;
    next_cursor text;
    has_more boolean := false;
    r record;
BEGIN
    PERFORM @extschema@.check_page_args(sort_, ARRAY['created_at', 'updated_at'], dir, n);
    fp := jsonb_build_array('api.projects_page', sort_, dir)::text;
    key_expr := CASE sort_ WHEN 'created_at' THEN 'p.created_at' ELSE 'p.updated_at' END;
    cmp := CASE dir WHEN 'asc' THEN '>' ELSE '<' END;
    IF cursor IS NOT NULL THEN
        PERFORM @extschema@.cursor_decode(cursor, fp, NULL::timestamptz);
        where_ := format(' AND (%s, p.id) %s ((SELECT c.sort_key FROM c), (SELECT c.last_id FROM c))', key_expr, cmp);
    END IF;
    -- The caller's projects are found by id (owners are members too), then
    -- ordered: a page costs the same at any depth, in proportion to how
    -- many projects the caller belongs to.
    sql := format($q$%1$s
        SELECT p
          FROM api.projects p
         WHERE p.id = ANY ((SELECT @extschema@.member_project_ids('viewer'))::uuid[]) %3$s
         ORDER BY %2$s %4$s, p.id %4$s
         LIMIT $3 + 1$q$,
        CASE WHEN cursor IS NOT NULL THEN
            'WITH c AS MATERIALIZED (SELECT * FROM @extschema@.cursor_decode($1, $2, NULL::timestamptz))' END,
        key_expr, where_, dir);
    FOR r IN EXECUTE sql USING cursor, fp, n LOOP
        IF cardinality(rows_) = n THEN
            has_more := true;
            EXIT;
        END IF;
        rows_ := rows_ || r.p;
    END LOOP;
    IF has_more THEN
        last_ := rows_[n];
        next_cursor := CASE sort_
            WHEN 'updated_at' THEN @extschema@.cursor_encode(last_.updated_at, last_.id, dir, fp)
            ELSE @extschema@.cursor_encode(last_.created_at, last_.id, dir, fp) END;
        PERFORM @extschema@.page_link('/rpc/projects_page',
            ARRAY['sort', sort_, 'direction', dir, 'page_size', n::text], next_cursor);
    END IF;
    RETURN json_build_object('data', array_to_json(rows_), 'next_cursor', next_cursor, 'has_more', has_more);
END
$$;
COMMENT ON FUNCTION api.projects_page(text, text, integer, text) IS E'One page of your projects in keyset order.\n\nReturns {data (rows as in /projects), next_cursor, has_more}, with a Link rel="next" header when there is more.\n\nArguments:\nsort: created_at (default) or updated_at; ties are broken by id.\ndirection: desc (default) or asc.\npage_size: rows per page, 1..100 (default 25); may change between pages.\ncursor: next_cursor of the previous page; valid only with the same sort and direction.';

-- Privileges (90_grants.sql has already revoked everything from PUBLIC for
-- the objects before it; these are revoked here the same way).
REVOKE ALL ON FUNCTION
    @extschema@.cursor_encode(anyelement, uuid, text, text),
    @extschema@.cursor_decode(text, text, anyelement),
    @extschema@.percent_encode(text),
    @extschema@.search_tasks(uuid[], text),
    @extschema@.page_link(text, text[], text),
    @extschema@.check_page_args(text, text[], text, integer),
    api.tasks_page(uuid, @extschema@.task_status, uuid, text, text, text, integer, text),
    api.projects_page(text, text, integer, text)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    @extschema@.cursor_encode(anyelement, uuid, text, text),
    @extschema@.cursor_decode(text, text, anyelement),
    @extschema@.percent_encode(text),
    @extschema@.search_tasks(uuid[], text),
    @extschema@.page_link(text, text[], text),
    @extschema@.check_page_args(text, text[], text, integer),
    api.tasks_page(uuid, @extschema@.task_status, uuid, text, text, text, integer, text),
    api.projects_page(text, text, integer, text)
TO task_api_user;
-- Authentication ------------------------------------------------------------------
-- Signup and login issue HS256 JWTs signed in C; every login is a session
-- (the token's jti) that logout revokes; API keys are long-lived bearer
-- tokens carrying key_id.  task_api.pre_request() (pre_request.c) checks
-- sessions and keys on every request and authenticates browsers by cookie.

CREATE FUNCTION @extschema@.jwt_sign(claims text) RETURNS text
    AS 'MODULE_PATHNAME', 'task_api_jwt_sign' LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.jwt_sign(text) IS 'Sign a flat JSON object of claims as an HS256 JWT with task_api.jwt_secret (refuses a secret under 32 bytes).';

CREATE FUNCTION @extschema@.jwt_verify(token text, OUT valid boolean, OUT reason text, OUT claims json)
    AS 'MODULE_PATHNAME', 'task_api_jwt_verify' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.jwt_verify(text) IS 'Verify an HS256 JWT (header, signature in constant time, exp/nbf/iat with 30 s skew): whether it is valid, why not, and its claims.';

CREATE FUNCTION @extschema@.csrf_token(session_id text) RETURNS text
    AS 'MODULE_PATHNAME', 'task_api_csrf_token' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.csrf_token(text) IS 'The CSRF token bound to a session: base64url(HMAC-SHA-256(jwt_secret, ''csrf:'' || session id)).';

CREATE FUNCTION @extschema@.password_hash(password text) RETURNS text
    AS 'MODULE_PATHNAME', 'task_api_password_hash' LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.password_hash(text) IS 'A SCRAM-SHA-256 verifier of the password (PBKDF2, random salt, task_api.password_iterations rounds).';

CREATE FUNCTION @extschema@.password_verify(password text, verifier text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'task_api_password_verify' LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.password_verify(text, text) IS 'Whether the password matches the verifier; a NULL verifier costs the same time and answers false.';

CREATE TABLE @extschema@.sessions (
    id         uuid PRIMARY KEY DEFAULT @extschema@.uuidv7(),
    user_id    uuid NOT NULL REFERENCES @extschema@.users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
COMMENT ON TABLE @extschema@.sessions IS 'One row per login or signup; the id is the token''s jti.  Never exposed.';
CREATE INDEX sessions_user_idx ON @extschema@.sessions (user_id);
CREATE INDEX sessions_expires_idx ON @extschema@.sessions (expires_at);
ALTER TABLE @extschema@.sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.sessions FORCE ROW LEVEL SECURITY;
-- No policies: only the owner (SECURITY DEFINER functions, pre_request) reads it.

CREATE TABLE @extschema@.api_keys (
    id           uuid PRIMARY KEY DEFAULT @extschema@.uuidv7(),
    user_id      uuid NOT NULL REFERENCES @extschema@.users (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (pg_catalog.char_length(name) BETWEEN 1 AND 100),
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);
COMMENT ON TABLE @extschema@.api_keys IS 'API keys (the key itself is never stored); exposed as api.api_keys.';
CREATE INDEX api_keys_user_idx ON @extschema@.api_keys (user_id) WHERE revoked_at IS NULL;
ALTER TABLE @extschema@.api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY api_keys_select ON @extschema@.api_keys FOR SELECT
    USING (user_id = @extschema@.current_user_id());
-- The only update a user makes is revoking a live key: never un-revoking.
CREATE POLICY api_keys_update ON @extschema@.api_keys FOR UPDATE
    USING (user_id = @extschema@.current_user_id() AND revoked_at IS NULL)
    WITH CHECK (user_id = @extschema@.current_user_id() AND revoked_at IS NOT NULL);

-- Sessions and keys changed in this transaction: the cached checks are stale.
CREATE TRIGGER sessions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.sessions
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.membership_changed();
CREATE TRIGGER api_keys_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.membership_changed();

CREATE VIEW api.api_keys WITH (security_invoker = true) AS
    SELECT k.id, k.name, k.created_at, k.expires_at, k.last_used_at
      FROM @extschema@.api_keys k
     WHERE k.revoked_at IS NULL;
COMMENT ON VIEW api.api_keys IS 'Your API keys (never the key itself). DELETE revokes a key: it fails on the next request.';
COMMENT ON COLUMN api.api_keys.id IS 'Key id (the key_id claim of the key).';
COMMENT ON COLUMN api.api_keys.name IS 'Your name for the key.';
COMMENT ON COLUMN api.api_keys.created_at IS 'When the key was created.';
COMMENT ON COLUMN api.api_keys.expires_at IS 'When the key stops working, or null for never.';
COMMENT ON COLUMN api.api_keys.last_used_at IS 'Last use by a request that may write (kept to the minute; GET and HEAD are read-only and do not update it).';

CREATE FUNCTION @extschema@.api_keys_delete() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE @extschema@.api_keys SET revoked_at = pg_catalog.now()
     WHERE id = OLD.id AND revoked_at IS NULL;
    RETURN OLD;
END
$$;
CREATE TRIGGER api_keys_delete INSTEAD OF DELETE ON api.api_keys
    FOR EACH ROW EXECUTE FUNCTION @extschema@.api_keys_delete();

-- Start a session for a user: the session row, its JWT, both cookies, and
-- the response body of signup and login.
CREATE FUNCTION @extschema@.start_session(user_id uuid) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ttl integer := extract(epoch FROM current_setting('task_api.jwt_ttl')::interval)::integer;
    issued bigint := floor(extract(epoch FROM now()))::bigint;
    session_id uuid := @extschema@.uuidv7();
    expires timestamptz := to_timestamp(issued + ttl);
    token text;
BEGIN
    INSERT INTO @extschema@.sessions (id, user_id, expires_at)
    VALUES (session_id, start_session.user_id, expires);
    token := @extschema@.jwt_sign(json_build_object(
        'sub', start_session.user_id, 'role', 'task_api_user',
        'iat', issued, 'exp', issued + ttl, 'jti', session_id)::text);
    PERFORM @extschema@.append_response_header('Set-Cookie',
        format('task_api_session=%s; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=%s', token, ttl));
    PERFORM @extschema@.append_response_header('Set-Cookie',
        format('task_api_csrf=%s; Secure; SameSite=Lax; Path=/; Max-Age=%s',
               @extschema@.csrf_token(session_id::text), ttl));
    RETURN json_build_object('user_id', start_session.user_id, 'token', token,
                             'token_type', 'bearer', 'expires_at', expires);
END
$$;
COMMENT ON FUNCTION @extschema@.start_session(uuid) IS 'Create a session for the user; returns {user_id, token, token_type, expires_at} and sets the session and CSRF cookies.';

CREATE FUNCTION api.signup(email text, password text, display_name text DEFAULT NULL) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    problems jsonb := '[]';
    clean_email text := btrim(signup.email);
    name text := btrim(signup.display_name, E' \t\r\n');
    p text;
    new_id uuid;
BEGIN
    IF clean_email IS NULL OR clean_email = '' THEN
        problems := problems || @extschema@.problem('email', 'is required');
    ELSIF char_length(clean_email) > 254
          OR clean_email !~ '^[A-Za-z0-9.!#$%&''*+/=?^_`{|}~-]+@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$' THEN
        problems := problems || @extschema@.problem('email', 'is not a valid email address');
    END IF;
    -- Without a display name, the email's local part (at most 100 characters).
    IF name IS NULL THEN
        name := left(split_part(clean_email, '@', 1), 100);
        IF name IS NULL OR name = '' THEN
            name := 'user';
        END IF;
    END IF;
    IF signup.password IS NULL OR signup.password = '' THEN
        problems := problems || @extschema@.problem('password', 'is required');
    ELSIF char_length(signup.password) < 10 THEN
        problems := problems || @extschema@.problem('password', 'must be at least 10 characters');
    ELSIF octet_length(signup.password) > 1024 THEN
        problems := problems || @extschema@.problem('password', 'must be at most 1024 bytes');
    END IF;
    p := @extschema@.text_problem(name, 100, true);
    IF p IS NOT NULL THEN
        problems := problems || @extschema@.problem('display_name', p);
    END IF;
    PERFORM @extschema@.check_problems('signup', problems);

    BEGIN
        INSERT INTO @extschema@.users (email, display_name, password_hash)
        VALUES (clean_email, name, @extschema@.password_hash(signup.password))
        RETURNING id INTO new_id;
    EXCEPTION WHEN unique_violation THEN
        PERFORM @extschema@.raise_error('conflict', 'this email cannot be used to sign up',
            NULL, 'sign in instead, or use another email');
    END;
    PERFORM set_config('response.status', '201', true);
    RETURN @extschema@.start_session(new_id);
END
$$;
COMMENT ON FUNCTION api.signup(text, text, text) IS E'Create an account and sign in: 201 {user_id, token, token_type, expires_at}, plus the session and CSRF cookies. Password at least 10 characters; email unique (case-insensitive).\n\nArguments:\nemail: your email address (case-insensitive unique; conflict 409 if taken).\npassword: at least 10 characters, at most 1024 bytes.\ndisplay_name: the name other members see (1 to 100 characters; optional).';

CREATE FUNCTION api.login(email text, password text) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    found_id uuid;
    verifier text;
BEGIN
    SELECT u.id, u.password_hash INTO found_id, verifier
      FROM @extschema@.users u
     WHERE lower(u.email) = lower(btrim(login.email));
    -- Same work whether or not the user exists; oversized input is refused
    -- the same way as a wrong password, before any hashing.
    IF login.password IS NULL OR octet_length(login.password) > 1024
       OR NOT @extschema@.password_verify(login.password, verifier) THEN
        PERFORM @extschema@.raise_error('invalid_credentials', 'the email or password is incorrect');
    END IF;
    -- A hash made with another cost is redone with the current one, so that
    -- every account costs what an unknown email costs.
    IF split_part(split_part(verifier, '$', 2), ':', 1) <> current_setting('task_api.password_iterations') THEN
        UPDATE @extschema@.users SET password_hash = @extschema@.password_hash(login.password)
         WHERE id = found_id;
    END IF;
    RETURN @extschema@.start_session(found_id);
END
$$;
COMMENT ON FUNCTION api.login(text, text) IS E'Sign in: 200 {user_id, token, token_type, expires_at}, plus the HttpOnly session cookie and the CSRF cookie. Wrong email and wrong password answer the same invalid_credentials (401).\n\nArguments:\nemail: the account''s email (matched case-insensitively).\npassword: the account''s password.';

CREATE FUNCTION api.logout() RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    jti text := @extschema@.request_claim('jti');
BEGIN
    IF jti IS NOT NULL THEN
        UPDATE @extschema@.sessions SET revoked_at = now()
         WHERE id = jti::uuid AND user_id = @extschema@.current_user_id() AND revoked_at IS NULL;
    END IF;
    PERFORM @extschema@.append_response_header('Set-Cookie',
        'task_api_session=; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=0');
    PERFORM @extschema@.append_response_header('Set-Cookie',
        'task_api_csrf=; Secure; SameSite=Lax; Path=/; Max-Age=0');
END
$$;
COMMENT ON FUNCTION api.logout() IS E'Sign out: 204; revokes this session (its token then gets 401 everywhere) and clears both cookies.\n\nArguments: none.';

CREATE FUNCTION api.create_api_key(name text, expires_at timestamptz DEFAULT NULL) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := @extschema@.current_user_id();
    problems jsonb := '[]';
    key_name text := btrim(create_api_key.name, E' \t\r\n');
    p text;
    key_id uuid := @extschema@.uuidv7();
    issued bigint := floor(extract(epoch FROM now()))::bigint;
    claims jsonb;
    prior jsonb;
    result json;
BEGIN
    IF me IS NULL THEN
        PERFORM @extschema@.raise_error('unauthenticated', 'sign in to create API keys');
    END IF;
    prior := @extschema@.idempotency_claim(jsonb_build_object('name', create_api_key.name, 'expires_at', create_api_key.expires_at));
    IF prior IS NOT NULL THEN
        RETURN (prior -> 'body')::json;
    END IF;
    IF @extschema@.request_claim('key_id') IS NOT NULL THEN
        PERFORM @extschema@.raise_error('forbidden', 'an API key cannot create API keys',
            NULL, 'sign in with your password to create keys');
    END IF;
    p := @extschema@.text_problem(key_name, 100, true);
    IF p IS NOT NULL THEN
        problems := problems || @extschema@.problem('name', p);
    END IF;
    IF create_api_key.expires_at IS NOT NULL AND create_api_key.expires_at <= now() THEN
        problems := problems || @extschema@.problem('expires_at', 'must be in the future');
    END IF;
    PERFORM @extschema@.check_problems('API key', problems);

    INSERT INTO @extschema@.api_keys (id, user_id, name, expires_at)
    VALUES (key_id, me, key_name, create_api_key.expires_at);
    -- Every token this API issues carries exp, so the strict verifier accepts
    -- all of them: a key without expires_at gets one 100 years out (it is
    -- still revocable at any time).
    claims := jsonb_build_object('sub', me, 'role', 'task_api_user', 'iat', issued, 'key_id', key_id,
        'exp', coalesce(floor(extract(epoch FROM create_api_key.expires_at))::bigint,
                        issued + 100::bigint * 365 * 86400));
    PERFORM set_config('response.status', '201', true);
    result := json_build_object('id', key_id, 'key', @extschema@.jwt_sign(claims::text),
                                'name', key_name, 'expires_at', create_api_key.expires_at);
    PERFORM @extschema@.idempotency_record(result::jsonb);
    RETURN result;
END
$$;
COMMENT ON FUNCTION api.create_api_key(text, timestamptz) IS E'Create an API key: 201 {id, key, name, expires_at}. The key is a bearer token shown only in this response; revoke it with DELETE /api_keys?id=eq.<id>.\n\nArguments:\nname: a label for the key (shown in /api_keys).\nexpires_at: when the key stops working (optional; without it, never).';
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
    -- Expired idempotency keys too (70_idempotency.sql); not counted.
    PERFORM @extschema@.purge_expired_idempotency_keys();
    RETURN tasks_purged + more + projects_purged;
END
$$;
COMMENT ON FUNCTION @extschema@.purge_expired() IS 'Delete for good what has been in the trash longer than task_api.trash_retention, and the expired idempotency keys; returns how many projects and tasks. Schedule it, e.g. SELECT cron.schedule(''task_api purge'', ''17 3 * * *'', ''SELECT task_api.purge_expired()'').';
-- Idempotency keys (SPEC section 8) ---------------------------------------------
-- A write that carries Idempotency-Key claims the key in the same transaction
-- as the write (idempotency.c): the key row exists if and only if the write
-- committed.  The same key with the same request replays the stored
-- response; with another request it is idempotency_key_reused (422).

CREATE TABLE @extschema@.idempotency_keys (
    caller_kind text NOT NULL CHECK (caller_kind IN ('user', 'api_key')),
    caller_id   uuid NOT NULL,
    key         text NOT NULL CHECK (pg_catalog.octet_length(key) BETWEEN 1 AND 255),
    -- The user (also when caller_kind is api_key).  No foreign key: keys
    -- expire on their own, and user ids (UUIDv7) are never reused.
    user_id     uuid NOT NULL,
    method      text NOT NULL,
    path        text NOT NULL,
    fingerprint bytea,
    status      smallint,
    response    jsonb,
    etag        text,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (caller_kind, caller_id, key)
);
COMMENT ON TABLE @extschema@.idempotency_keys IS 'Idempotency-Key of each caller (a user, or an API key) and the response of the write it was first sent with.  Never exposed: it holds create_api_key responses, keys included.';
COMMENT ON COLUMN @extschema@.idempotency_keys.caller_kind IS 'user (session or cookie) or api_key: keys are scoped to the credential.';
COMMENT ON COLUMN @extschema@.idempotency_keys.caller_id IS 'The user id, or the API key id.';
COMMENT ON COLUMN @extschema@.idempotency_keys.fingerprint IS 'SHA-256 of method, path and the canonical payload (see request_fingerprint()).';
COMMENT ON COLUMN @extschema@.idempotency_keys.status IS 'HTTP status of the original response.';
COMMENT ON COLUMN @extschema@.idempotency_keys.response IS 'What a replay returns: the rows (POST, PATCH) or the function result (RPC); null for a void RPC.';
COMMENT ON COLUMN @extschema@.idempotency_keys.etag IS 'The ETag of the original response, if it had one.';
-- No index on expires_at: every request would pay for it, and the purge
-- (a scheduled job) removes about half of the table each day anyway.
ALTER TABLE @extschema@.idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.idempotency_keys FORCE ROW LEVEL SECURITY;
-- No policies and no grants: only the C code, as the tables' owner and for
-- the request's own caller, reads and writes it.

CREATE FUNCTION @extschema@.request_fingerprint(method text, path text, payload jsonb) RETURNS bytea
    AS 'MODULE_PATHNAME', 'task_api_request_fingerprint' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.request_fingerprint(text, text, jsonb) IS 'SHA-256 of an idempotent request: method, path and a canonical form of the payload in which key order, whitespace, duplicate keys and trailing zeros of numbers (1 = 1.0 = 1e0) make no difference.';

-- INSERT and UPDATE on the API views: four triggers around the write ones.
CREATE FUNCTION @extschema@.idempotency_begin() RETURNS trigger
    AS 'MODULE_PATHNAME', 'task_api_idempotency_begin' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.idempotency_begin() IS 'BEFORE INSERT OR UPDATE FOR EACH STATEMENT on an API view: claims the request''s Idempotency-Key (waits for a concurrent request with the same key).';
CREATE FUNCTION @extschema@.idempotency_row_in() RETURNS trigger
    AS 'MODULE_PATHNAME', 'task_api_idempotency_row_in' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.idempotency_row_in() IS 'First INSTEAD OF row trigger: folds the row into the fingerprint; on a replay, passes the stored row on instead.';
CREATE FUNCTION @extschema@.idempotency_row_out() RETURNS trigger
    AS 'MODULE_PATHNAME', 'task_api_idempotency_row_out' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.idempotency_row_out() IS 'Last INSTEAD OF row trigger: collects the representation the write returned.';
CREATE FUNCTION @extschema@.idempotency_end() RETURNS trigger
    AS 'MODULE_PATHNAME', 'task_api_idempotency_end' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.idempotency_end() IS 'AFTER INSERT OR UPDATE FOR EACH STATEMENT: stores the response with the key, or checks a replay''s fingerprint and adds Idempotent-Replayed: true.';
CREATE FUNCTION @extschema@.idempotent_replay() RETURNS boolean
    AS 'MODULE_PATHNAME', 'task_api_idempotent_replay' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.idempotent_replay() IS 'Whether the current INSERT or UPDATE replays a stored response: the write triggers then return NEW and write nothing.';

-- The mutating RPCs call these first and last.
CREATE FUNCTION @extschema@.idempotency_claim(payload jsonb) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'task_api_idempotency_claim' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.idempotency_claim(jsonb) IS 'Called first by a mutating RPC with its arguments: NULL to go ahead, or {status, body} of the stored response to replay (headers and status already set).';
CREATE FUNCTION @extschema@.idempotency_record(result jsonb) RETURNS void
    AS 'MODULE_PATHNAME', 'task_api_idempotency_record' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.idempotency_record(jsonb) IS 'Called by a mutating RPC just before it returns: stores its result, status and ETag with the claimed key.';

-- Expired keys count as new already; this deletes them (purge_expired() calls it).
CREATE FUNCTION @extschema@.purge_expired_idempotency_keys() RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    gone bigint;
BEGIN
    DELETE FROM @extschema@.idempotency_keys WHERE expires_at <= now();
    GET DIAGNOSTICS gone = ROW_COUNT;
    RETURN gone;
END
$$;
COMMENT ON FUNCTION @extschema@.purge_expired_idempotency_keys() IS 'Delete the idempotency keys past task_api.idempotency_ttl; returns how many. task_api.purge_expired() calls it.';

CREATE TRIGGER projects_idempotency_begin BEFORE INSERT OR UPDATE ON api.projects
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.idempotency_begin();
CREATE TRIGGER projects_idempotency_in INSTEAD OF INSERT OR UPDATE ON api.projects
    FOR EACH ROW EXECUTE FUNCTION @extschema@.idempotency_row_in();
-- Named to fire after projects_insert and projects_update (triggers fire in name order).
CREATE TRIGGER projects_zz_idempotency_out INSTEAD OF INSERT OR UPDATE ON api.projects
    FOR EACH ROW EXECUTE FUNCTION @extschema@.idempotency_row_out();
CREATE TRIGGER projects_idempotency_end AFTER INSERT OR UPDATE ON api.projects
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.idempotency_end();

CREATE TRIGGER tasks_idempotency_begin BEFORE INSERT OR UPDATE ON api.tasks
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.idempotency_begin();
CREATE TRIGGER tasks_idempotency_in INSTEAD OF INSERT OR UPDATE ON api.tasks
    FOR EACH ROW EXECUTE FUNCTION @extschema@.idempotency_row_in();
CREATE TRIGGER tasks_zz_idempotency_out INSTEAD OF INSERT OR UPDATE ON api.tasks
    FOR EACH ROW EXECUTE FUNCTION @extschema@.idempotency_row_out();
CREATE TRIGGER tasks_idempotency_end AFTER INSERT OR UPDATE ON api.tasks
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.idempotency_end();

GRANT EXECUTE ON FUNCTION
    @extschema@.idempotent_replay(),
    @extschema@.idempotency_claim(jsonb),
    @extschema@.idempotency_record(jsonb)
TO task_api_user;
-- Rate limiting (SPEC section 7) ---------------------------------------------
-- The limiter itself lives in shared memory and is called by pre_request();
-- these are the operators' functions (status, reset, charge) and the GCRA step for tests.  Nothing
-- here is for PUBLIC: status for superusers and pg_monitor, reset and charge
-- for superusers only (also checked in C), the GCRA step for the owner.

CREATE FUNCTION @extschema@.rate_limit_status(kind text, key text DEFAULT NULL,
        OUT policy text, OUT quota integer, OUT window_seconds integer, OUT burst integer,
        OUT remaining bigint, OUT reset_seconds bigint, OUT tracked boolean)
    RETURNS record
    AS 'MODULE_PATHNAME', 'task_api_rate_limit_status' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.rate_limit_status(text, text) IS 'One rate-limit bucket, without charging it: kind anon (key NULL: the shared anonymous bucket, or a client address), user or api_key (key: the UUID). remaining is NULL when the kind is unlimited; a bucket not tracked is full.';

CREATE FUNCTION @extschema@.rate_limit_reset(kind text DEFAULT NULL, key text DEFAULT NULL) RETURNS bigint
    AS 'MODULE_PATHNAME', 'task_api_rate_limit_reset' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.rate_limit_reset(text, text) IS 'Superuser only: forget rate-limit buckets (all of them, every bucket of a kind, or one), so they are full again; returns how many were tracked.';

CREATE FUNCTION @extschema@.rate_limit_charge(kind text, key text DEFAULT NULL,
        OUT allowed boolean, OUT remaining bigint, OUT reset_seconds bigint, OUT retry_after_seconds bigint)
    RETURNS record
    AS 'MODULE_PATHNAME', 'task_api_rate_limit_charge' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.rate_limit_charge(text, text) IS 'Superuser only: charge one request to a bucket (named as in rate_limit_status) exactly as pre_request() does, without raising when it is refused.';

CREATE FUNCTION @extschema@.rate_limit_gcra(tat bigint, now bigint, per_minute integer, burst integer,
        OUT allowed boolean, OUT new_tat bigint, OUT remaining bigint, OUT reset_ns bigint,
        OUT retry_after_ns bigint, OUT reset_seconds bigint, OUT retry_after_seconds bigint)
    RETURNS record
    AS 'MODULE_PATHNAME', 'task_api_rate_limit_gcra' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rate_limit_gcra(bigint, bigint, integer, integer) IS 'The limiter''s GCRA step with the clock passed in (times in ns; tat 0 is a new bucket), for tests: it touches no bucket.';

REVOKE ALL ON FUNCTION @extschema@.rate_limit_status(text, text),
    @extschema@.rate_limit_reset(text, text),
    @extschema@.rate_limit_charge(text, text),
    @extschema@.rate_limit_gcra(bigint, bigint, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.rate_limit_status(text, text) TO pg_monitor;
-- Events: the transactional outbox and the activity feed ------------------------------
-- Every create, update, delete (to the trash), restore and purge of a project,
-- membership or task appends one row to task_api.events in the same
-- transaction (the C trigger task_api.record_event()) and queues NOTIFY
-- task_api_events with the event id.  Members read their projects' events
-- through api.task_events; consumers outside the API (webhook relays, search
-- indexers) take them in order with claim_events() and ack_events().

-- Consumers connect as (or as a member of) this role; the API roles cannot
-- claim or acknowledge events.
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'task_api_relay') THEN
        CREATE ROLE task_api_relay NOLOGIN;
    END IF;
END
$roles$;

CREATE TABLE @extschema@.events (
    -- CACHE 1 (the default) matters: ids must be drawn from the shared
    -- sequence in order for the claim bound (events.c) to hold.
    id            bigint GENERATED ALWAYS AS IDENTITY (CACHE 1) PRIMARY KEY,
    occurred_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    xact_id       xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(),
    actor_id      uuid,
    -- resource_type and action come only from record_event(), which refuses
    -- any other value (the trigger's argument is checked, the action is one
    -- of its own constants) and no role may write this table: no CHECK
    -- constraints, which the executor's single-row insert would compile for
    -- every event (half the trigger's cost per row).
    resource_type text NOT NULL,
    resource_id   uuid NOT NULL,
    project_id    uuid NOT NULL,
    action        text NOT NULL,
    changes       jsonb NOT NULL
);
COMMENT ON TABLE @extschema@.events IS 'The outbox: one row per change of a project, membership or task, written in the changing transaction by task_api.record_event(); exposed as api.task_events, consumed with claim_events()/ack_events().';
COMMENT ON COLUMN @extschema@.events.id IS 'Event id: increasing in the order the events were written; consumers receive events in this order.';
COMMENT ON COLUMN @extschema@.events.occurred_at IS 'Start time of the writing transaction (now()).';
COMMENT ON COLUMN @extschema@.events.xact_id IS 'The writing transaction (pg_current_xact_id()), for diagnosis.';
COMMENT ON COLUMN @extschema@.events.actor_id IS 'The user whose request made the change (sub claim), or NULL for maintenance (no request).';
COMMENT ON COLUMN @extschema@.events.resource_type IS 'project, member or task.';
COMMENT ON COLUMN @extschema@.events.resource_id IS 'Id of the project or task; the user id for a membership.';
COMMENT ON COLUMN @extschema@.events.project_id IS 'The project the resource belongs to (for a project, its own id).';
COMMENT ON COLUMN @extschema@.events.action IS 'created, updated, deleted (to the trash), restored (from the trash) or purged (deleted for good).';
COMMENT ON COLUMN @extschema@.events.changes IS 'created: the new row; purged: the last row; updated, deleted, restored: {column: {old, new}} for the columns that changed. updated_at and version are not recorded.';
-- The feed: a project's events, newest first, through the RLS filter on project_id.
CREATE INDEX events_project_idx ON @extschema@.events (project_id, id DESC);

CREATE TABLE @extschema@.event_consumers (
    name       text PRIMARY KEY CHECK (pg_catalog.char_length(name) BETWEEN 1 AND 100),
    acked_id   bigint NOT NULL DEFAULT 0,
    claimed_id bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    acked_at   timestamptz
);
COMMENT ON TABLE @extschema@.event_consumers IS 'One row per consumer of task_api.events (created by its first claim_events()): how far it has acknowledged.';
COMMENT ON COLUMN @extschema@.event_consumers.name IS 'Consumer name (1 to 100 characters); every worker of one consumer uses the same name.';
COMMENT ON COLUMN @extschema@.event_consumers.acked_id IS 'Every event up to this id has been acknowledged; the next claim starts after it.';
COMMENT ON COLUMN @extschema@.event_consumers.claimed_id IS 'Last event id of the latest batch handed out; ack_events() accepts ids up to it.';
COMMENT ON COLUMN @extschema@.event_consumers.created_at IS 'When the consumer first claimed.';
COMMENT ON COLUMN @extschema@.event_consumers.acked_at IS 'When the consumer last acknowledged.';

ALTER TABLE @extschema@.events ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.events FORCE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.event_consumers ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.event_consumers FORCE ROW LEVEL SECURITY;

-- Members read their projects' events.  Nobody else has a policy: events are
-- written by the trigger as the tables' owner and consumers go through the
-- SECURITY DEFINER functions below.
CREATE POLICY events_select ON @extschema@.events FOR SELECT TO task_api_user
    USING (project_id = ANY ((SELECT @extschema@.member_project_ids('viewer'))::uuid[]));

CREATE FUNCTION @extschema@.record_event() RETURNS trigger
    AS 'MODULE_PATHNAME', 'task_api_record_event' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.record_event() IS 'AFTER INSERT OR UPDATE OR DELETE row trigger: record_event(resource_type, id_col, project_id_col [, unrecorded_col ...]) appends the change to task_api.events (created, updated with the changed columns, deleted/restored by deleted_at, purged) and queues NOTIFY task_api_events with the event id; updates that change only unrecorded columns record nothing.';

CREATE FUNCTION @extschema@.events_claim_bound() RETURNS bigint
    AS 'MODULE_PATHNAME', 'task_api_events_claim_bound' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.events_claim_bound() IS 'Exclusive upper bound of the event ids that may be handed out now: every transaction that drew a smaller id has ended, and none can still add one. Read events under a snapshot taken after calling it. Needs shared_preload_libraries.';

-- Named to fire before the other AFTER triggers of the table (they fire in
-- name order), so a project's "created" comes before its owner's membership
-- and a membership change before the owner hand-off it causes.
CREATE TRIGGER events_record AFTER INSERT OR UPDATE OR DELETE ON @extschema@.projects
    FOR EACH ROW EXECUTE FUNCTION @extschema@.record_event('project', 'id', 'id', 'updated_at', 'version');
CREATE TRIGGER events_record AFTER INSERT OR UPDATE OR DELETE ON @extschema@.project_members
    FOR EACH ROW EXECUTE FUNCTION @extschema@.record_event('member', 'user_id', 'project_id');
CREATE TRIGGER events_record AFTER INSERT OR UPDATE OR DELETE ON @extschema@.tasks
    FOR EACH ROW EXECUTE FUNCTION @extschema@.record_event('task', 'id', 'project_id', 'updated_at', 'version');

-- Consumers ----------------------------------------------------------------------------

CREATE FUNCTION @extschema@.claim_events(consumer text, max integer DEFAULT 100) RETURNS SETOF @extschema@.events
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c @extschema@.event_consumers;
    bound bigint;
    e @extschema@.events;
    last_id bigint;
BEGIN
    IF consumer IS NULL OR char_length(consumer) NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'consumer must be a name of 1 to 100 characters' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF claim_events.max IS NULL OR claim_events.max NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION 'max must be between 1 and 10000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The bound is only valid for a snapshot taken after it is computed.
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'claim_events() must run in a READ COMMITTED transaction' USING ERRCODE = 'feature_not_supported',
            HINT = 'A snapshot taken earlier in the transaction could miss events below the bound.';
    END IF;
    IF NOT EXISTS (SELECT FROM @extschema@.event_consumers ec WHERE ec.name = consumer) THEN
        INSERT INTO @extschema@.event_consumers (name) VALUES (consumer) ON CONFLICT DO NOTHING;
    END IF;
    -- Another worker of this consumer holds its batch until its transaction
    -- ends: hand out nothing rather than the same events twice at once.
    SELECT * INTO c FROM @extschema@.event_consumers ec WHERE ec.name = consumer FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    bound := @extschema@.events_claim_bound();
    -- A new statement, so a new snapshot: it sees every event below the bound.
    FOR e IN SELECT * FROM @extschema@.events ev
              WHERE ev.id > c.acked_id AND ev.id < bound
              ORDER BY ev.id LIMIT claim_events.max
    LOOP
        last_id := e.id;
        RETURN NEXT e;
    END LOOP;
    UPDATE @extschema@.event_consumers ec SET claimed_id = coalesce(last_id, c.acked_id) WHERE ec.name = consumer;
    RETURN;
END
$$;
COMMENT ON FUNCTION @extschema@.claim_events(text, integer) IS 'Hand the consumer its next events after the last acknowledged one, in id order, at most max (1 to 10000, default 100), and lock the consumer until the transaction ends (other workers of it get nothing meanwhile: FOR UPDATE SKIP LOCKED). Only events no in-flight transaction can precede are handed out. Deliver them, then ack_events() in the same transaction; a batch not acknowledged is handed out again. READ COMMITTED only.';

CREATE FUNCTION @extschema@.ack_events(consumer text, last_id bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c @extschema@.event_consumers;
BEGIN
    IF consumer IS NULL OR last_id IS NULL THEN
        RAISE EXCEPTION 'consumer and last_id are required' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    BEGIN
        SELECT * INTO c FROM @extschema@.event_consumers ec WHERE ec.name = consumer FOR UPDATE NOWAIT;
    EXCEPTION WHEN lock_not_available THEN
        RAISE EXCEPTION 'consumer "%" is claimed by another worker', consumer USING ERRCODE = 'lock_not_available',
            HINT = 'Acknowledge in the transaction that claimed the events.';
    END;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no consumer named "%"', consumer USING ERRCODE = 'invalid_parameter_value',
            HINT = 'A consumer is created by its first claim_events().';
    END IF;
    IF last_id > c.claimed_id THEN
        RAISE EXCEPTION 'event % was not handed out to consumer "%"', last_id, consumer USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('The latest batch ends at event %s.', c.claimed_id);
    END IF;
    IF last_id <= c.acked_id THEN
        RETURN c.acked_id;
    END IF;
    UPDATE @extschema@.event_consumers ec SET acked_id = last_id, acked_at = now() WHERE ec.name = consumer;
    RETURN last_id;
END
$$;
COMMENT ON FUNCTION @extschema@.ack_events(text, bigint) IS 'Acknowledge every event of the consumer up to last_id (at most the end of the batch claimed); returns the consumer''s new position. Acknowledging again is harmless.';

-- The API view ------------------------------------------------------------------------

CREATE VIEW api.task_events WITH (security_invoker = true) AS
    SELECT e.id, e.occurred_at, e.actor_id, e.resource_type, e.resource_id, e.project_id, e.action, e.changes
      FROM @extschema@.events e;
COMMENT ON VIEW api.task_events IS E'Activity feed: every change to the projects you are a member of, their memberships and tasks. Read-only.\n\nNewest first with order=id.desc; a removed member no longer sees the project''s events.';
COMMENT ON COLUMN api.task_events.id IS 'Event id, increasing in the order changes were written: order=id.desc for newest first.';
COMMENT ON COLUMN api.task_events.occurred_at IS 'When the change was made (its transaction''s start).';
COMMENT ON COLUMN api.task_events.actor_id IS 'Who made the change, or null for maintenance (e.g. the scheduled purge).';
COMMENT ON COLUMN api.task_events.resource_type IS 'project, member or task.';
COMMENT ON COLUMN api.task_events.resource_id IS 'Id of the project or task; the member''s user id for a membership.';
COMMENT ON COLUMN api.task_events.project_id IS 'The project (for a project event, its own id).';
COMMENT ON COLUMN api.task_events.action IS 'created, updated, deleted (moved to the trash), restored or purged.';
COMMENT ON COLUMN api.task_events.changes IS 'created: the new row; purged: the last row; updated, deleted, restored: {"column": {"old": ..., "new": ...}} for each changed column (updated_at and version are not recorded).';

-- Privileges -----------------------------------------------------------------------------
GRANT SELECT ON api.task_events TO task_api_user;
GRANT SELECT (id, occurred_at, actor_id, resource_type, resource_id, project_id, action, changes)
    ON @extschema@.events TO task_api_user;
GRANT USAGE ON SCHEMA @extschema@ TO task_api_relay;
REVOKE ALL ON FUNCTION @extschema@.claim_events(text, integer), @extschema@.ack_events(text, bigint),
    @extschema@.events_claim_bound(), @extschema@.record_event() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.claim_events(text, integer), @extschema@.ack_events(text, bigint) TO task_api_relay;
-- GET /rpc/task_events_page: the activity feed, one page at a time, with the
-- signed cursors of 45_pages.sql.  Event ids are unique, so the keyset is the
-- id alone (the cursor's last_id slot carries the event's resource id, which
-- nothing reads).

CREATE FUNCTION api.task_events_page(project_id uuid DEFAULT NULL, resource_type text DEFAULT NULL,
                                     direction text DEFAULT 'desc', page_size integer DEFAULT 25,
                                     cursor text DEFAULT NULL) RETURNS json
    LANGUAGE plpgsql STABLE SECURITY INVOKER PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    dir text := coalesce(task_events_page.direction, 'desc');
    n integer := coalesce(task_events_page.page_size, 25);
    kind text := task_events_page.resource_type;
    fp text;
    after bigint;
    projects uuid[];
    rows_ api.task_events[] := '{}';
    next_cursor text;
    has_more boolean := false;
    r api.task_events;
BEGIN
    PERFORM @extschema@.check_page_args('id', ARRAY['id'], dir, n);
    IF kind IS NOT NULL AND kind NOT IN ('project', 'member', 'task') THEN
        PERFORM @extschema@.raise_error('invalid_parameter', 'resource_type must be project, member or task',
            format('resource_type was "%s".', kind), NULL);
    END IF;
    -- What the cursor is bound to: the filters and the direction.
    fp := jsonb_build_array('api.task_events_page', task_events_page.project_id, kind, dir)::text;
    IF task_events_page.cursor IS NOT NULL THEN
        SELECT d.sort_key INTO after
          FROM @extschema@.cursor_decode(task_events_page.cursor, fp, NULL::bigint) AS d;
    END IF;

    -- Per project, one range scan of events (project_id, id DESC) that stops
    -- after page_size + 1 rows, then a merge: the same cost at any depth.
    -- Row-level security applies to every row on top.
    projects := CASE WHEN task_events_page.project_id IS NOT NULL THEN ARRAY[task_events_page.project_id]
                     ELSE @extschema@.member_project_ids('viewer') END;
    -- Only the fixed direction fragments are put together; values are parameters.
    FOR r IN EXECUTE format($q$
        SELECT l.* FROM pg_catalog.unnest($1) AS p(id) CROSS JOIN LATERAL (
            SELECT e.* FROM api.task_events e
             WHERE e.project_id = p.id AND ($2 IS NULL OR e.id %1$s $2) AND ($3 IS NULL OR e.resource_type = $3)
             ORDER BY e.id %2$s LIMIT $4 + 1) AS l
         ORDER BY l.id %2$s LIMIT $4 + 1$q$,
        CASE dir WHEN 'asc' THEN '>' ELSE '<' END, dir)
        USING projects, after, kind, n
    LOOP
        IF cardinality(rows_) = n THEN
            has_more := true;
            EXIT;
        END IF;
        rows_ := rows_ || r;
    END LOOP;

    IF has_more THEN
        r := rows_[n];
        next_cursor := @extschema@.cursor_encode(r.id, r.resource_id, dir, fp);
        PERFORM @extschema@.page_link('/rpc/task_events_page',
            ARRAY['project_id', task_events_page.project_id::text, 'resource_type', kind,
                  'direction', dir, 'page_size', n::text],
            next_cursor);
    END IF;
    RETURN json_build_object('data', array_to_json(rows_), 'next_cursor', next_cursor, 'has_more', has_more);
END
$$;
COMMENT ON FUNCTION api.task_events_page(uuid, text, text, integer, text) IS E'One page of the activity feed of your projects, newest first by default.\n\nReturns {data (rows as in /task_events), next_cursor, has_more}, with a Link rel="next" header when there is more. Events are ordered by id; an event whose transaction commits after a walk passed its id is not returned to that walk (consumers that need every event use task_api.claim_events()).\n\nArguments:\nproject_id: only this project''s events.\nresource_type: only events of project, member or task.\ndirection: desc (default, newest first) or asc.\npage_size: rows per page, 1..100 (default 25); may change between pages.\ncursor: next_cursor of the previous page; valid only with the same filters and direction.';

REVOKE ALL ON FUNCTION api.task_events_page(uuid, text, text, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.task_events_page(uuid, text, text, integer, text) TO task_api_user;
-- Privileges ------------------------------------------------------------------
-- Least privilege: nothing for PUBLIC; anonymous callers may only run the
-- pre-request hook; authenticated users get exactly what the API needs.
-- task_api_user reaches the task_api tables only through the security-invoker
-- api views and their triggers, under the row-level security above.

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA api FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA api FROM PUBLIC;

GRANT USAGE ON SCHEMA api TO task_api_anon, task_api_user;
GRANT USAGE ON SCHEMA @extschema@ TO task_api_anon, task_api_user;
GRANT USAGE ON TYPE @extschema@.member_role, @extschema@.task_status TO task_api_user;

GRANT EXECUTE ON FUNCTION @extschema@.pre_request() TO task_api_anon, task_api_user;
GRANT EXECUTE ON FUNCTION
    @extschema@.uuidv7(),
    @extschema@.uuidv7_time(uuid),
    @extschema@.current_user_id(),
    @extschema@.request_header(text),
    @extschema@.request_cookie(text),
    @extschema@.request_claim(text),
    @extschema@.raise_error(text, text, text, text),
    @extschema@.problem(text, text),
    @extschema@.text_problem(text, integer, boolean),
    @extschema@.check_problems(text, jsonb),
    @extschema@.member_project_ids(@extschema@.member_role),
    @extschema@.project_role(uuid),
    @extschema@.has_project_role(uuid, @extschema@.member_role),
    @extschema@.user_id_for(uuid, text),
    @extschema@.project_problems(text, text),
    @extschema@.check_project_name(uuid, text, uuid),
    @extschema@.task_problems(api.tasks),
    @extschema@.own_email(uuid),
    @extschema@.check_if_match(integer),
    @extschema@.note_etag(integer)
TO task_api_user;

-- Tables behind the views.  Users: no password hash and no email (the
-- caller's own comes through own_email()), and only display_name is writable.
GRANT SELECT (id, display_name, created_at), UPDATE (display_name)
    ON @extschema@.users TO task_api_user;
-- Column-level INSERT and UPDATE: only what the API's triggers write, so
-- server-owned columns (owner_id, stamps, ...) cannot be set even by SQL
-- that reaches the tables directly.  tasks.id is insertable because the
-- insert trigger generates it (a UUIDv7) before the set-based insert;
-- created_by is pinned to the caller by the insert policy.  The owner hand-off and the
-- stamp trigger run with the table owner's rights.
GRANT SELECT, DELETE ON @extschema@.projects, @extschema@.project_members, @extschema@.tasks TO task_api_user;
GRANT INSERT (name, description, owner_id), UPDATE (name, description, deleted_at, deleted_by)
    ON @extschema@.projects TO task_api_user;
GRANT INSERT (project_id, user_id, role), UPDATE (role)
    ON @extschema@.project_members TO task_api_user;
GRANT INSERT (id, project_id, assignee_id, title, description, status, priority, due_date, created_by),
      UPDATE (project_id, assignee_id, title, description, status, priority, due_date,
              deleted_at, deleted_by, deleted_with_project)
    ON @extschema@.tasks TO task_api_user;

-- Authentication: signup and login for everybody; the rest for users.
GRANT EXECUTE ON FUNCTION api.signup(text, text, text), api.login(text, text)
    TO task_api_anon, task_api_user;
GRANT EXECUTE ON FUNCTION api.logout(), api.create_api_key(text, timestamptz) TO task_api_user;
GRANT SELECT (id, name, created_at, expires_at, revoked_at, last_used_at, user_id), UPDATE (revoked_at)
    ON @extschema@.api_keys TO task_api_user;
GRANT SELECT, DELETE ON api.api_keys TO task_api_user;

-- The trash.
GRANT SELECT ON api.trash TO task_api_user;
GRANT EXECUTE ON FUNCTION
    @extschema@.trash_retention(),
    @extschema@.trashed_task(uuid),
    api.restore_task(uuid), api.restore_project(uuid), api.purge_task(uuid), api.purge_project(uuid)
TO task_api_user;

-- The API.
GRANT SELECT, UPDATE ON api.users TO task_api_user;
GRANT SELECT, INSERT, UPDATE, DELETE ON api.projects, api.project_members, api.tasks TO task_api_user;
GRANT SELECT ON @extschema@.error_codes TO task_api_anon, task_api_user;
GRANT EXECUTE ON FUNCTION @extschema@.error_catalogue() TO task_api_anon, task_api_user;
