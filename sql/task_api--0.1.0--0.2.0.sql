-- task_api 0.1.0 -> 0.2.0 (CHANGELOG.md).  Written by the rules in
-- docs/contributing.md, "Upgrade steps": no table rewrite, no long lock.
\echo Use "ALTER EXTENSION task_api UPDATE TO '0.2.0'" to load this file. \quit

-- Fail at once rather than queue behind a long transaction, holding up every
-- request behind us; the operator runs the update again (docs/operations.md).
SET lock_timeout = '1s';
-- Requests lock a view first, then its tables and the tables their checks
-- read (a task write reads memberships, projects and users).  The update
-- changes views and tables, so it takes every lock it needs at once, here,
-- views before tables, in the order requests meet them (api.tasks before
-- api.projects: a task write checks its project): a request is then never
-- holding a table the update still waits for.  A rarer order (a project
-- deleted to the trash takes its tasks) can still meet the update in a
-- deadlock: it is found early, so that the update, not the request, gives
-- way, and the operator runs it again (docs/operations.md).
SET deadlock_timeout = '100ms';
LOCK TABLE api.api_keys, api.tasks, api.projects, api.project_members, api.users, api.task_events,
    @extschema@.events, @extschema@.sessions IN ACCESS EXCLUSIVE MODE;

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

-- Issue 21: invitations with consent
-- Members join only by accepting an invitation (sql/install/72_invitations.sql).
-- Existing memberships are kept as they are; only new objects are added.
DROP POLICY project_members_insert ON @extschema@.project_members;
REVOKE INSERT (project_id, user_id, role) ON @extschema@.project_members FROM task_api_user;
REVOKE EXECUTE ON FUNCTION @extschema@.user_id_for(uuid, text) FROM task_api_user;
DROP FUNCTION @extschema@.user_id_for(uuid, text);
-- POST /project_members: nobody becomes a member without consenting.
-- SECURITY DEFINER only to add the Allow header (append_response_header()
-- is not granted to the API roles); it reads and writes nothing.
CREATE OR REPLACE FUNCTION @extschema@.project_members_insert() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM @extschema@.append_response_header('Allow', 'GET, PATCH, DELETE');
    PERFORM @extschema@.raise_error('method_not_allowed', 'members cannot be added directly, only invited',
        NULL,
        'invite with POST /invitations {project_id, email or user_id, role}; the invitee accepts with POST /rpc/accept_invitation');
    RETURN NULL;
END
$$;
COMMENT ON VIEW api.project_members IS 'Members of your projects and their roles. Owners PATCH role and DELETE; any member may DELETE their own membership to leave. POST answers 405: invite with POST /invitations, and the invitee joins by accepting.';
COMMENT ON COLUMN api.project_members.user_id IS 'The member.';
COMMENT ON COLUMN api.project_members.added_at IS 'When the member joined; set by the server.';
COMMENT ON COLUMN api.project_members.email IS 'Always null (kept for compatibility): members are invited by email or user id at /invitations.';

-- Invitations -------------------------------------------------------------------
-- Nobody becomes a member without consenting: a project owner invites an
-- email address or a user id, and the invitee joins by accepting.  POST
-- /invitations answers the same whether or not the address (or id) belongs
-- to an account: it only ever stores and echoes what the owner gave, and is
-- resolved to an account only when someone signed in as it looks.  An
-- invitation is gone once accepted, declined or revoked; it can no longer
-- be accepted after task_api.invitation_ttl.  Invitations record no
-- events: the feed is read by every member, and an invitee's address is
-- none of their business.

-- How long a new invitation stays open.
CREATE FUNCTION @extschema@.invitation_ttl() RETURNS interval
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN pg_catalog.current_setting('task_api.invitation_ttl')::interval;
COMMENT ON FUNCTION @extschema@.invitation_ttl() IS 'task_api.invitation_ttl as an interval (7 days by default).';

CREATE TABLE @extschema@.invitations (
    id         uuid PRIMARY KEY DEFAULT @extschema@.uuidv7(),
    project_id uuid NOT NULL REFERENCES @extschema@.projects (id) ON DELETE CASCADE,
    -- The invitee exactly as the owner gave it: an address or a user id,
    -- never resolved to an account here (so no foreign key on user_id).
    email      text CHECK (pg_catalog.char_length(email) <= 254 AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
    user_id    uuid,
    role       @extschema@.member_role NOT NULL,
    invited_by uuid REFERENCES @extschema@.users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    expires_at timestamptz NOT NULL DEFAULT pg_catalog.now() OPERATOR(pg_catalog.+) @extschema@.invitation_ttl(),
    CHECK ((email IS NULL) <> (user_id IS NULL))
);
COMMENT ON TABLE @extschema@.invitations IS 'Open invitations to join a project (deleted once accepted, declined or revoked); exposed as api.invitations.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.invitations', '');
-- One open invitation per project and invitee as given (NULLs never
-- collide); not partial, so that they also serve the owners' arm of the
-- select policy (project_id = ANY (...)).
CREATE UNIQUE INDEX invitations_project_email_key ON @extschema@.invitations (project_id, pg_catalog.lower(email));
CREATE UNIQUE INDEX invitations_project_user_key ON @extschema@.invitations (project_id, user_id);
-- The invitee's arms of the select policy.
CREATE INDEX invitations_email_idx ON @extschema@.invitations (pg_catalog.lower(email)) WHERE email IS NOT NULL;
CREATE INDEX invitations_user_idx ON @extschema@.invitations (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX invitations_expires_idx ON @extschema@.invitations (expires_at);

ALTER TABLE @extschema@.invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.invitations FORCE ROW LEVEL SECURITY;

-- The project's owners, and the invitee (by user id, or by the email of
-- their account); nobody else.
CREATE POLICY invitations_select ON @extschema@.invitations FOR SELECT
    USING (project_id = ANY ((SELECT @extschema@.member_project_ids('owner'))::uuid[])
           OR user_id = @extschema@.current_user_id()
           OR pg_catalog.lower(email) = pg_catalog.lower((SELECT @extschema@.own_email(@extschema@.current_user_id()))));
CREATE POLICY invitations_insert ON @extschema@.invitations FOR INSERT
    WITH CHECK (@extschema@.has_project_role(project_id, 'owner')
                AND invited_by = @extschema@.current_user_id());
CREATE POLICY invitations_delete ON @extschema@.invitations FOR DELETE
    USING (@extschema@.has_project_role(project_id, 'owner'));
-- No UPDATE: an invitation is never changed, only revoked and made again.

-- The name of the project an invitation is for, to its invitee and the
-- project's owners (NULL to anyone else): an invitee is no member and cannot
-- read the project, but consents knowing what they join.  SECURITY DEFINER
-- for that reason; it reveals nothing the caller could not see at GET
-- /invitations.
CREATE FUNCTION @extschema@.invitation_project_name(invitation_id uuid) RETURNS text
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- PL/pgSQL, not SQL: Citus cannot plan the parameter of a SQL function.
    RETURN (SELECT p.name
              FROM @extschema@.invitations i
              JOIN @extschema@.projects p ON p.id = i.project_id
             WHERE i.id = invitation_project_name.invitation_id
               AND (@extschema@.has_project_role(i.project_id, 'owner')
                    OR i.user_id = @extschema@.current_user_id()
                    OR lower(i.email) = (SELECT lower(u.email) FROM @extschema@.users u WHERE u.id = @extschema@.current_user_id())));
END
$$;
COMMENT ON FUNCTION @extschema@.invitation_project_name(uuid) IS 'The name of the invitation''s project if the caller is its invitee or an owner of the project, else NULL.';

-- The API view ----------------------------------------------------------------

CREATE VIEW api.invitations WITH (security_invoker = true) AS
    SELECT i.id, i.project_id, i.email, i.user_id, i.role, i.created_at, i.expires_at,
           @extschema@.invitation_project_name(i.id) AS project_name
      FROM @extschema@.invitations i
     WHERE i.expires_at OPERATOR(pg_catalog.>) pg_catalog.now();
ALTER VIEW api.invitations ALTER COLUMN role SET DEFAULT 'viewer';
COMMENT ON VIEW api.invitations IS E'Open invitations: yours (to your user id or your account''s email) and those of the projects you own. Owners POST (201, the same answer whether or not the address or id belongs to an account) and DELETE to revoke; the invitee accepts with /rpc/accept_invitation or declines with /rpc/decline_invitation. An invitation expires after task_api.invitation_ttl (7 days by default).';
COMMENT ON COLUMN api.invitations.id IS 'Invitation id (UUIDv7), set by the server; accept_invitation and decline_invitation take it.';
COMMENT ON COLUMN api.invitations.project_id IS 'The project (required; you must own it).';
COMMENT ON COLUMN api.invitations.email IS 'The invitee''s email as given (trimmed; matched case-insensitively to the account that accepts). Give email or user_id.';
COMMENT ON COLUMN api.invitations.user_id IS 'The invitee''s user id as given. Give email or user_id.';
COMMENT ON COLUMN api.invitations.role IS 'The role the invitee gets on accepting: owner, editor or viewer (default viewer).';
COMMENT ON COLUMN api.invitations.created_at IS 'When the invitation was made; set by the server.';
COMMENT ON COLUMN api.invitations.project_name IS 'The project''s name, so that the invitee knows what they join; set by the server.';
COMMENT ON COLUMN api.invitations.expires_at IS 'After this it can no longer be accepted and leaves this list; set by the server (created_at + task_api.invitation_ttl).';

-- POST /invitations.  Checks only the payload and the caller's right to
-- invite, never whether the invitee exists or is already a member: the
-- answer must not tell.  A duplicate is an open invitation of the project
-- for the same address (case-insensitively) or the same user id as given,
-- which the owner can see in this list anyway.
CREATE FUNCTION @extschema@.invitations_insert() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    problems jsonb := '[]';
    my_role @extschema@.member_role;
    clean_email text := pg_catalog.btrim(NEW.email, E' \t\r\n');
BEGIN
    IF @extschema@.idempotent_replay() THEN
        RETURN NEW;  -- the stored row of an idempotent replay (70_idempotency.sql)
    END IF;
    IF @extschema@.current_user_id() IS NULL THEN
        PERFORM @extschema@.raise_error('unauthenticated', 'sign in to invite members');
    END IF;
    IF NEW.project_id IS NULL THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('project_id', 'is required');
    ELSE
        my_role := @extschema@.project_role(NEW.project_id);
        IF my_role IS NULL THEN
            problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('project_id', 'no such project');
        ELSIF my_role OPERATOR(pg_catalog.<>) 'owner' THEN
            PERFORM @extschema@.raise_error('forbidden', 'only a project owner can invite members');
        END IF;
    END IF;
    IF NEW.user_id IS NULL AND NEW.email IS NULL THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('user_id', 'give user_id or email');
    ELSIF NEW.user_id IS NOT NULL AND NEW.email IS NOT NULL THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('email', 'give user_id or email, not both');
    ELSIF NEW.email IS NOT NULL AND (pg_catalog.char_length(clean_email) > 254
          OR clean_email OPERATOR(pg_catalog.!~) '^[A-Za-z0-9.!#$%&''*+/=?^_`{|}~-]+@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$') THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('email', 'is not a valid email address');
    END IF;
    IF NEW.role IS NULL THEN
        problems := problems OPERATOR(pg_catalog.||) @extschema@.problem('role', 'is required');
    END IF;
    problems := problems OPERATOR(pg_catalog.||) @extschema@.server_set_problems(pg_catalog.to_jsonb(NEW), NULL,
        ARRAY['id', 'created_at', 'expires_at', 'project_name']);
    PERFORM @extschema@.check_problems('invitation', problems);

    -- An expired invitation for the same invitee gives way to the new one.
    DELETE FROM @extschema@.invitations i
     WHERE i.project_id = NEW.project_id AND i.expires_at <= pg_catalog.now()
       AND (i.user_id = NEW.user_id OR pg_catalog.lower(i.email) = pg_catalog.lower(clean_email));
    BEGIN
        INSERT INTO @extschema@.invitations (project_id, email, user_id, role, invited_by)
        VALUES (NEW.project_id, clean_email, NEW.user_id, NEW.role, @extschema@.current_user_id())
        RETURNING id, project_id, email, user_id, role, created_at, expires_at
        INTO NEW.id, NEW.project_id, NEW.email, NEW.user_id, NEW.role, NEW.created_at, NEW.expires_at;
        -- As the caller, an owner of the project (checked above), not through
        -- invitation_project_name(): on Citus the owner's read of a shard
        -- group the caller has just written is refused (docs/scaling.md).
        NEW.project_name := (SELECT p.name FROM @extschema@.projects p WHERE p.id = NEW.project_id);
    EXCEPTION WHEN unique_violation THEN
        PERFORM @extschema@.raise_error('conflict', 'this project already has an open invitation for this invitee',
            NULL, 'revoke it first (DELETE /invitations?id=eq.<id>) to invite again');
    END;
    RETURN NEW;
END
$$;

-- DELETE /invitations: owners revoke.  The invitee sees the row too, but
-- declines through decline_invitation().
CREATE FUNCTION @extschema@.invitations_delete() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    IF NOT @extschema@.has_project_role(OLD.project_id, 'owner') THEN
        PERFORM @extschema@.raise_error('forbidden', 'only a project owner can revoke an invitation',
            NULL, 'decline it with POST /rpc/decline_invitation');
    END IF;
    DELETE FROM @extschema@.invitations WHERE id = OLD.id;
    RETURN OLD;
END
$$;

CREATE TRIGGER invitations_insert INSTEAD OF INSERT ON api.invitations
    FOR EACH ROW EXECUTE FUNCTION @extschema@.invitations_insert();
CREATE TRIGGER invitations_delete INSTEAD OF DELETE ON api.invitations
    FOR EACH ROW EXECUTE FUNCTION @extschema@.invitations_delete();
-- Idempotency-Key on POST /invitations, as on the other views (70_idempotency.sql).
CREATE TRIGGER invitations_idempotency_begin BEFORE INSERT ON api.invitations
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.idempotency_begin();
CREATE TRIGGER invitations_idempotency_in INSTEAD OF INSERT ON api.invitations
    FOR EACH ROW EXECUTE FUNCTION @extschema@.idempotency_row_in();
CREATE TRIGGER invitations_zz_idempotency_out INSTEAD OF INSERT ON api.invitations
    FOR EACH ROW EXECUTE FUNCTION @extschema@.idempotency_row_out();
CREATE TRIGGER invitations_idempotency_end AFTER INSERT ON api.invitations
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.idempotency_end();

-- Accepting and declining ------------------------------------------------------

-- The caller's invitation, locked, or not_found: absent, revoked, answered
-- already, addressed to someone else, or of a project in the trash all look
-- alike.  Called by the SECURITY DEFINER functions below only.
CREATE FUNCTION @extschema@.caller_invitation(invitation_id uuid) RETURNS @extschema@.invitations
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := @extschema@.current_user_id();
    inv @extschema@.invitations;
    pid uuid;
BEGIN
    IF me IS NULL THEN
        PERFORM @extschema@.raise_error('unauthenticated', 'sign in to answer an invitation');
    END IF;
    -- Its project first, unlocked: Citus locks rows only in a statement
    -- that names the shard (the project; docs/scaling.md).
    SELECT i.project_id INTO pid FROM @extschema@.invitations i WHERE i.id = invitation_id;
    SELECT i.* INTO inv
      FROM @extschema@.invitations i
      JOIN @extschema@.projects p ON p.id = i.project_id AND p.deleted_at IS NULL
     WHERE i.project_id = pid AND i.id = invitation_id
       AND (i.user_id = me
            OR lower(i.email) = (SELECT lower(u.email) FROM @extschema@.users u WHERE u.id = me))
       FOR UPDATE OF i;
    IF NOT FOUND THEN
        PERFORM @extschema@.raise_error('not_found', 'no such invitation',
            NULL, 'GET /invitations lists the invitations open to you');
    END IF;
    RETURN inv;
END
$$;
COMMENT ON FUNCTION @extschema@.caller_invitation(uuid) IS 'The caller''s open invitation with this id, locked FOR UPDATE; not_found (404) if there is none (absent, revoked, answered, someone else''s, or its project is in the trash).';

-- SECURITY DEFINER: the invitee is not a member yet, so neither the
-- membership policies nor the invitations' DELETE policy let them write.
CREATE FUNCTION api.accept_invitation(id uuid) RETURNS api.project_members
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    inv @extschema@.invitations;
    joined api.project_members;
    prior jsonb;
BEGIN
    IF @extschema@.current_user_id() IS NULL THEN
        PERFORM @extschema@.raise_error('unauthenticated', 'sign in to answer an invitation');
    END IF;
    prior := @extschema@.idempotency_claim(jsonb_build_object('id', accept_invitation.id));
    IF prior IS NOT NULL THEN
        RETURN jsonb_populate_record(NULL::api.project_members, prior -> 'body');
    END IF;
    inv := @extschema@.caller_invitation(accept_invitation.id);
    IF inv.expires_at <= now() THEN
        PERFORM @extschema@.raise_error('conflict', 'this invitation has expired',
            NULL, 'ask a project owner to invite you again');
    END IF;
    BEGIN
        INSERT INTO @extschema@.project_members (project_id, user_id, role)
        VALUES (inv.project_id, @extschema@.current_user_id(), inv.role)
        RETURNING project_id, user_id, role, added_at
        INTO joined.project_id, joined.user_id, joined.role, joined.added_at;
    EXCEPTION WHEN unique_violation THEN
        PERFORM @extschema@.raise_error('conflict', 'you are already a member of this project',
            NULL, 'decline the invitation; an owner can change your role');
    END;
    DELETE FROM @extschema@.invitations i WHERE i.id = inv.id;
    PERFORM @extschema@.idempotency_record(to_jsonb(joined));
    RETURN joined;
END
$$;
COMMENT ON FUNCTION api.accept_invitation(uuid) IS E'Accept an invitation addressed to you (your user id, or your account''s email): you become a member with its role; 200 with the membership as /project_members shows it. not_found (404) if it is not open to you (revoked, answered already, someone else''s); conflict (409) if it expired or you are a member already.\n\nArguments:\nid: the invitation''s id (see /invitations).';

CREATE FUNCTION api.decline_invitation(id uuid) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    inv @extschema@.invitations;
BEGIN
    IF @extschema@.current_user_id() IS NULL THEN
        PERFORM @extschema@.raise_error('unauthenticated', 'sign in to answer an invitation');
    END IF;
    IF @extschema@.idempotency_claim(jsonb_build_object('id', decline_invitation.id)) IS NOT NULL THEN
        RETURN;
    END IF;
    inv := @extschema@.caller_invitation(decline_invitation.id);
    DELETE FROM @extschema@.invitations i WHERE i.id = inv.id;
    PERFORM @extschema@.idempotency_record(NULL);
END
$$;
COMMENT ON FUNCTION api.decline_invitation(uuid) IS E'Decline an invitation addressed to you (expired ones too): 204; it is gone. not_found (404) if it is not open to you.\n\nArguments:\nid: the invitation''s id (see /invitations).';

-- Expired invitations are closed already; this deletes them (purge_expired() calls it).
CREATE FUNCTION @extschema@.purge_expired_invitations() RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    gone bigint;
BEGIN
    DELETE FROM @extschema@.invitations WHERE expires_at <= now();
    GET DIAGNOSTICS gone = ROW_COUNT;
    RETURN gone;
END
$$;
COMMENT ON FUNCTION @extschema@.purge_expired_invitations() IS 'Delete the invitations past their expires_at; returns how many. task_api.purge_expired() calls it.';

-- Privileges -------------------------------------------------------------------
-- The owner's writes go through the view's triggers under the policies
-- above; answering goes through the two functions.
GRANT SELECT, INSERT, DELETE ON api.invitations TO task_api_user;
GRANT SELECT (id, project_id, email, user_id, role, created_at, expires_at),
      INSERT (project_id, email, user_id, role, invited_by), DELETE
    ON @extschema@.invitations TO task_api_user;
GRANT EXECUTE ON FUNCTION @extschema@.invitation_ttl(), @extschema@.invitation_project_name(uuid),
    api.accept_invitation(uuid), api.decline_invitation(uuid)
    TO task_api_user;
REVOKE ALL ON FUNCTION @extschema@.invitation_ttl(), @extschema@.invitation_project_name(uuid), @extschema@.invitations_insert(), @extschema@.invitations_delete(), @extschema@.caller_invitation(uuid), api.accept_invitation(uuid), api.decline_invitation(uuid), @extschema@.purge_expired_invitations() FROM PUBLIC;
REVOKE ALL ON TABLE @extschema@.invitations, api.invitations FROM PUBLIC;

-- Issue 21: bounded work per request
CREATE FUNCTION @extschema@.bulk_rows() RETURNS trigger
    AS 'MODULE_PATHNAME', 'task_api_bulk_rows' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.bulk_rows() IS 'Trigger: INSTEAD OF INSERT FOR EACH ROW on an API view, fired first: refuses the statement with payload_too_large (413) at its row past task_api.max_bulk_rows.';
REVOKE ALL ON FUNCTION @extschema@.bulk_rows() FROM PUBLIC;
CREATE TRIGGER projects_aa_bulk_rows INSTEAD OF INSERT ON api.projects
    FOR EACH ROW EXECUTE FUNCTION @extschema@.bulk_rows();
CREATE TRIGGER tasks_aa_bulk_rows INSTEAD OF INSERT ON api.tasks
    FOR EACH ROW EXECUTE FUNCTION @extschema@.bulk_rows();


-- Issue 21: authentication (Argon2id passwords, change_password and logout_all,
-- caps on live sessions and API keys, no API key at rest, __Host- cookies)

CREATE FUNCTION @extschema@.password_needs_rehash(verifier text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'task_api_password_needs_rehash' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.password_needs_rehash(text) IS 'Whether a stored hash should be redone: not Argon2id, or made with another task_api.password_memory or task_api.password_time_cost.';

CREATE FUNCTION @extschema@.password_problem(password text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE
        WHEN password IS NULL OR password OPERATOR(pg_catalog.=) '' THEN 'is required'
        WHEN password OPERATOR(pg_catalog.~) '^[[:space:]\u00a0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff]*$' THEN 'must not be blank'
        WHEN pg_catalog.char_length(password) < 10 THEN 'must be at least 10 characters'
        WHEN pg_catalog.octet_length(password) > 1024 THEN 'must be at most 1024 bytes'
    END;
COMMENT ON FUNCTION @extschema@.password_problem(text) IS 'What is wrong with a new password (required, not blank, 10 characters to 1024 bytes), or NULL.';

CREATE FUNCTION @extschema@.clear_session_cookies() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM @extschema@.append_response_header('Set-Cookie',
        '__Host-task_api_session=; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=0');
    PERFORM @extschema@.append_response_header('Set-Cookie',
        '__Host-task_api_csrf=; Secure; SameSite=Lax; Path=/; Max-Age=0');
END
$$;
COMMENT ON FUNCTION @extschema@.clear_session_cookies() IS 'Set-Cookie headers that make the browser drop the session and CSRF cookies.';

CREATE FUNCTION @extschema@.api_key_response(key_id uuid) RETURNS json
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.json_build_object('id', k.id,
               'key', CASE WHEN k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at OPERATOR(pg_catalog.>) pg_catalog.now())
                      THEN @extschema@.jwt_sign(pg_catalog.jsonb_build_object(
                               'sub', k.user_id, 'role', 'task_api_user', 'iat', i.iat, 'key_id', k.id,
                               -- Every token this API issues carries exp, so the strict verifier
                               -- accepts all of them: a key without expires_at gets one 100 years
                               -- out (it is still revocable at any time).
                               'exp', coalesce(pg_catalog.floor(pg_catalog.date_part('epoch', k.expires_at))::bigint,
                                               i.iat OPERATOR(pg_catalog.+) 100::bigint * 365 * 86400))::text) END,
               'name', k.name, 'expires_at', k.expires_at)
      FROM @extschema@.api_keys k,
           LATERAL (SELECT pg_catalog.floor(pg_catalog.date_part('epoch', k.created_at))::bigint AS iat) i
     WHERE k.id OPERATOR(pg_catalog.=) api_key_response.key_id
$$;
COMMENT ON FUNCTION @extschema@.api_key_response(uuid) IS 'The create_api_key response for a key, its key signed again from the row (null once revoked or expired): what creation and a replay answer.';

CREATE FUNCTION @extschema@.password_session_user(action text) RETURNS uuid
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := @extschema@.current_user_id();
BEGIN
    IF me IS NULL OR @extschema@.request_claim('jti') IS NULL AND @extschema@.request_claim('key_id') IS NULL THEN
        PERFORM @extschema@.raise_error('unauthenticated', format('sign in to %s', action));
    END IF;
    IF @extschema@.request_claim('key_id') IS NOT NULL THEN
        PERFORM @extschema@.raise_error('forbidden', format('an API key cannot %s', action),
            NULL, 'sign in with your password (a session token or cookie)');
    END IF;
    RETURN me;
END
$$;
COMMENT ON FUNCTION @extschema@.password_session_user(text) IS 'The caller''s user id when the request comes from a password session; unauthenticated (401) when anonymous, forbidden (403) for an API key.';

REVOKE ALL ON FUNCTION @extschema@.password_needs_rehash(text), @extschema@.password_problem(text),
    @extschema@.clear_session_cookies(), @extschema@.api_key_response(uuid), @extschema@.password_session_user(text) FROM PUBLIC;

COMMENT ON FUNCTION @extschema@.password_hash(text) IS 'An Argon2id hash of the password (libsodium, random salt, task_api.password_memory and task_api.password_time_cost).';

COMMENT ON FUNCTION @extschema@.password_verify(text, text) IS 'Whether the password matches the stored hash (Argon2id, or a SCRAM-SHA-256 verifier of release 0.1.0); a NULL hash costs the same time and answers false.';

CREATE OR REPLACE FUNCTION @extschema@.start_session(user_id uuid) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cap integer := current_setting('task_api.max_sessions_per_user')::integer;
    lifetime interval := greatest(current_setting('task_api.session_lifetime')::interval,
                                  current_setting('task_api.jwt_ttl')::interval);
BEGIN
    -- One sign-in of the user at a time, so two cannot both find room; the
    -- newest cap - 1 live sessions stay, older ones end (users can always
    -- sign in).
    PERFORM FROM @extschema@.users u WHERE u.id = start_session.user_id FOR NO KEY UPDATE;
    UPDATE @extschema@.sessions SET revoked_at = now()
     WHERE id IN (SELECT s.id FROM @extschema@.sessions s
                   WHERE s.user_id = start_session.user_id AND s.revoked_at IS NULL AND s.expires_at > now()
                   ORDER BY s.created_at DESC, s.id DESC OFFSET cap - 1);
    RETURN @extschema@.issue_session(start_session.user_id, now() + lifetime);
END
$$;
COMMENT ON FUNCTION @extschema@.start_session(uuid) IS 'Create a session for the user, ending its oldest beyond task_api.max_sessions_per_user; returns {user_id, token, token_type, expires_at} and sets the session and CSRF cookies.';

CREATE OR REPLACE FUNCTION api.signup(email text, password text, display_name text DEFAULT NULL) RETURNS json
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
    p := @extschema@.password_problem(signup.password);
    IF p IS NOT NULL THEN
        problems := problems || @extschema@.problem('password', p);
    END IF;
    p := @extschema@.text_problem(name, 100, true);
    IF p IS NOT NULL THEN
        problems := problems || @extschema@.problem('display_name', p);
    END IF;
    PERFORM @extschema@.check_problems('signup', problems);
    -- On Citus (citus_pre_request() ran): users is a reference table, written
    -- on every node, where two sign-ups with one email could each wait for
    -- the other's index entry on another node (a deadlock, not a conflict):
    -- the coordinator lets one at a time in (docs/scaling.md).
    IF pg_catalog.current_setting('task_api_citus.caller', true) <> '' THEN
        PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(pg_catalog.lower(clean_email), 20));
    END IF;

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
COMMENT ON FUNCTION api.signup(text, text, text) IS E'Create an account and sign in: 201 {user_id, token, token_type, expires_at}, plus the session and CSRF cookies. Password at least 10 characters, not blank; email unique (case-insensitive).\n\nArguments:\nemail: your email address (case-insensitive unique; conflict 409 if taken).\npassword: at least 10 characters, at most 1024 bytes, not only whitespace.\ndisplay_name: the name other members see (1 to 100 characters; optional).';

CREATE OR REPLACE FUNCTION api.login(email text, password text) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    found_id uuid;
    verifier text;
BEGIN
    -- The login bucket and this email's backoff (login_throttle.c).
    PERFORM @extschema@.login_throttle(login.email);
    SELECT u.id, u.password_hash INTO found_id, verifier
      FROM @extschema@.users u
     WHERE lower(u.email) = lower(btrim(login.email));
    -- Same work whether or not the user exists; oversized input is refused
    -- the same way as a wrong password, before any hashing.
    IF login.password IS NULL OR octet_length(login.password) > 1024
       OR NOT @extschema@.password_verify(login.password, verifier) THEN
        PERFORM @extschema@.login_failed(login.email);
        PERFORM @extschema@.raise_error('invalid_credentials', 'the email or password is incorrect');
    END IF;
    PERFORM @extschema@.login_succeeded(login.email);
    -- A hash made with another algorithm (SCRAM-SHA-256 before 0.2.0) or
    -- cost is redone with the current one, so that every account costs what
    -- an unknown email costs.
    IF @extschema@.password_needs_rehash(verifier) THEN
        UPDATE @extschema@.users SET password_hash = @extschema@.password_hash(login.password)
         WHERE id = found_id;
    END IF;
    RETURN @extschema@.start_session(found_id);
END
$$;
COMMENT ON FUNCTION api.login(text, text) IS E'Sign in: 200 {user_id, token, token_type, expires_at}, plus the HttpOnly session cookie and the CSRF cookie. Wrong email and wrong password answer the same invalid_credentials (401).\n\nArguments:\nemail: the account''s email (matched case-insensitively).\npassword: the account''s password.';

CREATE OR REPLACE FUNCTION api.logout() RETURNS void
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
    PERFORM @extschema@.clear_session_cookies();
END
$$;
COMMENT ON FUNCTION api.logout() IS E'Sign out: 204; revokes this session (its token then gets 401 everywhere) and clears both cookies.\n\nArguments: none.';

CREATE OR REPLACE FUNCTION api.create_api_key(name text, expires_at timestamptz DEFAULT NULL) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := @extschema@.current_user_id();
    problems jsonb := '[]';
    key_name text := btrim(create_api_key.name, E' \t\r\n');
    p text;
    key_id uuid := @extschema@.uuidv7();
    cap integer := current_setting('task_api.max_api_keys_per_user')::integer;
    prior jsonb;
    result json;
BEGIN
    IF me IS NULL THEN
        PERFORM @extschema@.raise_error('unauthenticated', 'sign in to create API keys');
    END IF;
    prior := @extschema@.idempotency_claim(jsonb_build_object('name', create_api_key.name, 'expires_at', create_api_key.expires_at));
    IF prior IS NOT NULL THEN
        -- The stored response has no key: sign it again from the key's row.
        RETURN coalesce(@extschema@.api_key_response((prior -> 'body' ->> 'id')::uuid), (prior -> 'body')::json);
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

    -- One key creation of the user at a time, so two cannot both find room.
    PERFORM FROM @extschema@.users u WHERE u.id = me FOR NO KEY UPDATE;
    IF (SELECT count(*) FROM @extschema@.api_keys k
         WHERE k.user_id = me AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())) >= cap THEN
        PERFORM @extschema@.raise_error('conflict', format('you already have %s live API keys, the most allowed', cap),
            NULL, 'revoke a key you no longer use (DELETE /api_keys?id=eq.<id>), then try again');
    END IF;

    INSERT INTO @extschema@.api_keys (id, user_id, name, expires_at)
    VALUES (key_id, me, key_name, create_api_key.expires_at);
    PERFORM set_config('response.status', '201', true);
    result := @extschema@.api_key_response(key_id);
    -- The replay's copy leaves the key out: it is never stored.
    PERFORM @extschema@.idempotency_record(result::jsonb - 'key');
    RETURN result;
END
$$;
COMMENT ON FUNCTION api.create_api_key(text, timestamptz) IS E'Create an API key: 201 {id, key, name, expires_at}. The key is a bearer token shown only in this response (a replay with the same Idempotency-Key signs it again; it is never stored); revoke it with DELETE /api_keys?id=eq.<id>. At most task_api.max_api_keys_per_user live keys: conflict (409) beyond.\n\nArguments:\nname: a label for the key (shown in /api_keys).\nexpires_at: when the key stops working (optional; without it, never).';

CREATE FUNCTION api.change_password(current_password text, new_password text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := @extschema@.password_session_user('change the password');
    jti uuid := @extschema@.request_claim('jti')::uuid;
    p text := @extschema@.password_problem(change_password.new_password);
    verifier text;
BEGIN
    IF p IS NOT NULL THEN
        PERFORM @extschema@.check_problems('password change', @extschema@.problem('new_password', p));
    END IF;
    SELECT u.password_hash INTO verifier FROM @extschema@.users u WHERE u.id = me FOR NO KEY UPDATE;
    IF change_password.current_password IS NULL OR octet_length(change_password.current_password) > 1024
       OR NOT @extschema@.password_verify(change_password.current_password, verifier) THEN
        PERFORM @extschema@.raise_error('forbidden', 'the current password is incorrect',
            NULL, 'send the password you sign in with as current_password');
    END IF;
    -- The hash first: Citus refuses a volatile function in an UPDATE of a
    -- distributed or reference table.
    verifier := @extschema@.password_hash(change_password.new_password);
    UPDATE @extschema@.users SET password_hash = verifier WHERE id = me;
    -- Every other session ends; this one (by token or cookie) goes on.
    UPDATE @extschema@.sessions SET revoked_at = now()
     WHERE user_id = me AND id <> jti AND revoked_at IS NULL;
END
$$;
COMMENT ON FUNCTION api.change_password(text, text) IS E'Change your password: 204; every other session of yours ends (this one goes on; API keys stay). A wrong current password is forbidden (403); the new one follows the signup rules (validation_failed 422). Only a password session may call it: an API key gets forbidden (403).\n\nArguments:\ncurrent_password: the password you sign in with now.\nnew_password: at least 10 characters, at most 1024 bytes, not only whitespace.';

CREATE FUNCTION api.logout_all() RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := @extschema@.password_session_user('end sessions');
BEGIN
    UPDATE @extschema@.sessions SET revoked_at = now()
     WHERE user_id = me AND revoked_at IS NULL;
    PERFORM @extschema@.clear_session_cookies();
END
$$;
COMMENT ON FUNCTION api.logout_all() IS E'Sign out everywhere: 204; every session of yours ends, this one included (API keys stay), and both cookies are cleared. Only a password session may call it: an API key gets forbidden (403).\n\nArguments: none.';

REVOKE ALL ON FUNCTION api.change_password(text, text), api.logout_all() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.change_password(text, text), api.logout_all() TO task_api_user;

COMMENT ON TABLE @extschema@.idempotency_keys IS 'Idempotency-Key of each caller (a user, or an API key) and the response of the write it was first sent with.  Never exposed.  A create_api_key response is stored without its key (a replay signs it again).';

-- Keys at rest: create_api_key responses stored before this release hold the
-- key itself; drop it (a replay now signs it again from the key's row).  The
-- table holds only the last task_api.idempotency_ttl (a day) of keys.
UPDATE @extschema@.idempotency_keys SET response = response - 'key'
 WHERE path = '/rpc/create_api_key' AND response ? 'key';


-- Issue 21: login throttling, per-user requests in flight, quiet refusals
-- (src/login_throttle.c, src/inflight.c, src/quiet_log.c; the login bucket
-- and API keys charged to their owner are in src/rate_limit.c).
COMMENT ON FUNCTION @extschema@.rate_limit_status(text, text) IS 'One rate-limit bucket, without charging it: kind anon or login (key NULL: the shared anonymous or login bucket, or a client address), user or api_key (key: the UUID). remaining is NULL when the kind is unlimited; a bucket not tracked is full.';

-- Per-account backoff after failed logins (login_throttle.c): api.login
-- calls the first three; state in shared memory, keyed by an HMAC of the
-- normalised email, the same for known and unknown emails.
CREATE FUNCTION @extschema@.login_throttle(email text) RETURNS void
    AS 'MODULE_PATHNAME', 'task_api_login_throttle' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.login_throttle(text) IS 'Before a login verifies a password: charge the login bucket if pre_request() did not, and refuse (429 rate_limited, Retry-After) while the email backs off after failed logins.';

CREATE FUNCTION @extschema@.login_failed(email text) RETURNS void
    AS 'MODULE_PATHNAME', 'task_api_login_failed' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.login_failed(text) IS 'Count a failed login for the email; past task_api.login_max_failures its logins back off (task_api.login_backoff, doubling up to task_api.login_backoff_max).';

CREATE FUNCTION @extschema@.login_succeeded(email text) RETURNS void
    AS 'MODULE_PATHNAME', 'task_api_login_succeeded' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.login_succeeded(text) IS 'Forget the email''s failed logins after a successful one.';

CREATE FUNCTION @extschema@.login_throttle_reset(email text DEFAULT NULL) RETURNS bigint
    AS 'MODULE_PATHNAME', 'task_api_login_throttle_reset' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.login_throttle_reset(text) IS 'Superuser only: forget the failed logins of one email (or of every email when NULL); returns how many were tracked.';

REVOKE ALL ON FUNCTION @extschema@.login_throttle(text), @extschema@.login_failed(text),
    @extschema@.login_succeeded(text), @extschema@.login_throttle_reset(text) FROM PUBLIC;


-- Issue 13: one home per concern (SQL)
-- Every trigger on an api view is named <view>_<stage>_<what> by
-- view_trigger() (sql/install/00_core.sql) and fires by its stage; the
-- mechanisms attach themselves with attach_idempotency() and attach_bounds().
-- Renaming a trigger locks only its view, for a moment.
CREATE FUNCTION @extschema@.view_trigger(view regclass, stage integer, what text, fires text, fn regproc) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- {timing and events, level} of one of the fixed forms.
    parts text[] := regexp_match(fires,
        '^((?:BEFORE|AFTER|INSTEAD OF) (?:INSERT|UPDATE|DELETE)(?: OR (?:INSERT|UPDATE|DELETE))*) FOR EACH (ROW|STATEMENT)$');
BEGIN
    IF stage NOT BETWEEN 10 AND 99 OR what !~ '^[a-z_]+$' OR parts IS NULL THEN
        RAISE EXCEPTION 'view_trigger: stage %, what "%", fires "%" do not follow 00_core.sql', stage, what, fires
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    EXECUTE format('CREATE TRIGGER %I %s ON %s FOR EACH %s EXECUTE FUNCTION %s()',
                   format('%s_%s_%s', (SELECT c.relname FROM pg_class c WHERE c.oid = view), stage, what),
                   parts[1], view, parts[2], fn);
END
$$;
COMMENT ON FUNCTION @extschema@.view_trigger(regclass, integer, text, text, regproc) IS 'Create a trigger on an API view named <view>_<stage>_<what>: fires is e.g. INSTEAD OF INSERT FOR EACH ROW; triggers of one kind fire by stage (10 bounds, 20 idempotency in, 50 the view''s own, 90 idempotency out).';
CREATE FUNCTION @extschema@.attach_idempotency(view regclass, events text) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM @extschema@.view_trigger(view, 20, 'idempotency_begin', format('BEFORE %s FOR EACH STATEMENT', events),
                                     '@extschema@.idempotency_begin');
    PERFORM @extschema@.view_trigger(view, 20, 'idempotency_in', format('INSTEAD OF %s FOR EACH ROW', events),
                                     '@extschema@.idempotency_row_in');
    PERFORM @extschema@.view_trigger(view, 90, 'idempotency_out', format('INSTEAD OF %s FOR EACH ROW', events),
                                     '@extschema@.idempotency_row_out');
    PERFORM @extschema@.view_trigger(view, 90, 'idempotency_end', format('AFTER %s FOR EACH STATEMENT', events),
                                     '@extschema@.idempotency_end');
END
$$;
COMMENT ON FUNCTION @extschema@.attach_idempotency(regclass, text) IS 'Make Idempotency-Key work on the writes (events: INSERT, or INSERT OR UPDATE) of an API view: its four triggers, around the view''s own (view_trigger() stages 20 and 90).';

CREATE FUNCTION @extschema@.attach_bounds(view regclass) RETURNS void
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
    RETURN @extschema@.view_trigger(view, 10, 'bulk_rows', 'INSTEAD OF INSERT FOR EACH ROW', '@extschema@.bulk_rows');
COMMENT ON FUNCTION @extschema@.attach_bounds(regclass) IS 'Cap the rows one INSERT on an API view may write at task_api.max_bulk_rows: the view''s first INSTEAD OF INSERT trigger (view_trigger() stage 10).';

REVOKE ALL ON FUNCTION @extschema@.view_trigger(regclass, integer, text, text, regproc),
    @extschema@.attach_idempotency(regclass, text), @extschema@.attach_bounds(regclass) FROM PUBLIC;
ALTER TRIGGER users_update ON api.users RENAME TO users_50_update;
ALTER TRIGGER projects_insert ON api.projects RENAME TO projects_50_insert;
ALTER TRIGGER projects_update ON api.projects RENAME TO projects_50_update;
ALTER TRIGGER projects_delete ON api.projects RENAME TO projects_50_delete;
ALTER TRIGGER projects_aa_bulk_rows ON api.projects RENAME TO projects_10_bulk_rows;
ALTER TRIGGER projects_idempotency_begin ON api.projects RENAME TO projects_20_idempotency_begin;
ALTER TRIGGER projects_idempotency_in ON api.projects RENAME TO projects_20_idempotency_in;
ALTER TRIGGER projects_zz_idempotency_out ON api.projects RENAME TO projects_90_idempotency_out;
ALTER TRIGGER projects_idempotency_end ON api.projects RENAME TO projects_90_idempotency_end;
ALTER TRIGGER tasks_insert ON api.tasks RENAME TO tasks_50_insert;
ALTER TRIGGER tasks_update ON api.tasks RENAME TO tasks_50_update;
ALTER TRIGGER tasks_delete ON api.tasks RENAME TO tasks_50_delete;
ALTER TRIGGER tasks_aa_bulk_rows ON api.tasks RENAME TO tasks_10_bulk_rows;
ALTER TRIGGER tasks_idempotency_begin ON api.tasks RENAME TO tasks_20_idempotency_begin;
ALTER TRIGGER tasks_idempotency_in ON api.tasks RENAME TO tasks_20_idempotency_in;
ALTER TRIGGER tasks_zz_idempotency_out ON api.tasks RENAME TO tasks_90_idempotency_out;
ALTER TRIGGER tasks_idempotency_end ON api.tasks RENAME TO tasks_90_idempotency_end;
ALTER TRIGGER tasks_insert_flush ON api.tasks RENAME TO tasks_50_insert_flush;
ALTER TRIGGER project_members_insert ON api.project_members RENAME TO project_members_50_insert;
ALTER TRIGGER project_members_update ON api.project_members RENAME TO project_members_50_update;
ALTER TRIGGER project_members_delete ON api.project_members RENAME TO project_members_50_delete;
ALTER TRIGGER api_keys_delete ON api.api_keys RENAME TO api_keys_50_delete;
ALTER TRIGGER invitations_insert ON api.invitations RENAME TO invitations_50_insert;
ALTER TRIGGER invitations_delete ON api.invitations RENAME TO invitations_50_delete;
ALTER TRIGGER invitations_idempotency_begin ON api.invitations RENAME TO invitations_20_idempotency_begin;
ALTER TRIGGER invitations_idempotency_in ON api.invitations RENAME TO invitations_20_idempotency_in;
ALTER TRIGGER invitations_zz_idempotency_out ON api.invitations RENAME TO invitations_90_idempotency_out;
ALTER TRIGGER invitations_idempotency_end ON api.invitations RENAME TO invitations_90_idempotency_end;

-- One page tail (n + 1 rows, has_more, cursor, Link) for the three page
-- functions: page_tail() in sql/install/45_pages.sql.
CREATE FUNCTION @extschema@.page_tail(rows_ anyarray, page_size integer, key_col text, id_col text,
                                      direction text, fingerprint text, path text, args text[]) RETURNS json
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    has_more boolean := coalesce(cardinality(rows_), 0) > page_size;
    next_cursor text;
BEGIN
    IF has_more THEN
        -- The sort key keeps its own type in the cursor.
        EXECUTE format('SELECT @extschema@.cursor_encode(($1[$2]).%I, ($1[$2]).%I, $3, $4)', key_col, id_col)
            INTO next_cursor USING rows_, page_size, direction, fingerprint;
        PERFORM @extschema@.page_link(path, args, next_cursor);
    END IF;
    RETURN json_build_object('data', array_to_json(rows_[1:page_size]), 'next_cursor', next_cursor, 'has_more', has_more);
END
$$;
COMMENT ON FUNCTION @extschema@.page_tail(anyarray, integer, text, text, text, text, text, text[]) IS 'The response of a page function from its rows (page_size, and one more if there is a next page): {data, next_cursor, has_more}, and the Link header (page_link(path, args, cursor)) when there is more.';
REVOKE ALL ON FUNCTION @extschema@.page_tail(anyarray, integer, text, text, text, text, text, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.page_tail(anyarray, integer, text, text, text, text, text, text[]) TO task_api_user;

-- A q PostgreSQL cannot turn into a query (more than 32 nested NOTs,
-- "tsquery stack too small", an internal error: 500), or one so large that
-- matching it overflows the stack (413), is invalid_parameter.
CREATE FUNCTION @extschema@.check_search_q(q text) RETURNS void
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    q_nodes integer;
BEGIN
    IF q IS NULL THEN
        RETURN;
    END IF;
    BEGIN
        q_nodes := numnode(websearch_to_tsquery('simple'::regconfig, q));
    EXCEPTION WHEN internal_error OR program_limit_exceeded OR statement_too_complex THEN
        q_nodes := NULL;
    END;
    IF q_nodes IS NULL OR q_nodes > 1000 THEN
        PERFORM @extschema@.raise_error('invalid_parameter', 'q is too complex',
            'q makes a full-text query of more than 1000 terms and operators, or nests more than 32 NOTs.', NULL);
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.check_search_q(text) IS 'Raise invalid_parameter (400) for a search q that makes a full-text query of more than 1000 terms and operators, or one PostgreSQL cannot build.';
REVOKE ALL ON FUNCTION @extschema@.check_search_q(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.check_search_q(text) TO task_api_user;

-- The keyset ranges of a tasks page after its cursor, each one index range
-- scan, as WHERE fragments: key_ref and id_ref are how the query refers to
-- the cursor's sort key and id (api.tasks_page() and its Citus form read
-- them differently).  A NULL due_date sorts as +infinity, which is where the
-- (project_id, due_date, id) index keeps it: last ascending, first
-- descending.  Around the NULLs the rest of a walk is two ranges, read one
-- after the other.  Only fixed fragments: sort and direction are checked
-- first (check_page_args()).
CREATE FUNCTION @extschema@.task_page_ranges(key_expr text, sort text, direction text, has_cursor boolean,
                                             key_null boolean, key_ref text, id_ref text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE
        WHEN NOT has_cursor THEN ARRAY['']
        WHEN sort <> 'due_date' OR (direction = 'desc' AND NOT key_null) THEN
            ARRAY[pg_catalog.format(' AND (%s, t.id) %s (%s, %s)', key_expr,
                                    CASE direction WHEN 'asc' THEN '>' ELSE '<' END, key_ref, id_ref)]
        WHEN direction = 'asc' AND NOT key_null THEN
            ARRAY[pg_catalog.format(' AND (t.due_date, t.id) > (%s, %s)', key_ref, id_ref), ' AND t.due_date IS NULL']
        WHEN direction = 'asc' THEN
            ARRAY[pg_catalog.format(' AND t.due_date IS NULL AND t.id > %s', id_ref)]
        ELSE
            ARRAY[pg_catalog.format(' AND t.due_date IS NULL AND t.id < %s', id_ref), ' AND t.due_date IS NOT NULL']
    END;
COMMENT ON FUNCTION @extschema@.task_page_ranges(text, text, text, boolean, boolean, text, text) IS 'The keyset ranges of a tasks page after its cursor, as WHERE fragments over api.tasks t (key_ref and id_ref: how the query reads the cursor''s key and id); api.tasks_page() and its Citus form.';
REVOKE ALL ON FUNCTION @extschema@.task_page_ranges(text, text, text, boolean, boolean, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.task_page_ranges(text, text, text, boolean, boolean, text, text) TO task_api_user;


CREATE OR REPLACE FUNCTION api.tasks_page(project_id uuid DEFAULT NULL, status @extschema@.task_status DEFAULT NULL,
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
    ranges text[];
    filters text := '';
    branch text;
    projects uuid[];
    sql text := '';
    with_ text;
    rows_ api.tasks[] := '{}';
    r record;
BEGIN
    PERFORM @extschema@.check_page_args(sort_, ARRAY['created_at', 'updated_at', 'due_date', 'priority'], dir, n);
    PERFORM @extschema@.check_search_q(q_norm);
    -- What the cursor is bound to: the filters, the sort and the direction.
    fp := jsonb_build_array('api.tasks_page', project_id, status, assignee_id, q_norm, sort_, dir)::text;

    -- Only fixed SQL fragments are put together; every value is a parameter.
    key_expr := 't.' || CASE sort_ WHEN 'updated_at' THEN 'updated_at' WHEN 'due_date' THEN 'due_date'
                                   WHEN 'priority' THEN 'priority' ELSE 'created_at' END;
    key_type := CASE sort_ WHEN 'due_date' THEN 'date' WHEN 'priority' THEN 'smallint' ELSE 'timestamptz' END;

    IF cursor IS NOT NULL THEN
        -- Checked here first, so a bad cursor is an error even when nothing is visible.
        EXECUTE format('SELECT d.sort_key IS NULL FROM @extschema@.cursor_decode($1, $2, NULL::%s) d', key_type)
            INTO key_null USING cursor, fp;
    END IF;
    -- The keyset ranges after the cursor, read from the materialized c.
    ranges := @extschema@.task_page_ranges(key_expr, sort_, dir, cursor IS NOT NULL, key_null,
                                           '(SELECT c.sort_key FROM c)', '(SELECT c.last_id FROM c)');
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
        rows_ := rows_ || r.t;
    END LOOP;
    -- sort_ is one of the columns check_page_args() allowed.
    RETURN @extschema@.page_tail(rows_, n, sort_, 'id', dir, fp, '/rpc/tasks_page',
        ARRAY['project_id', project_id::text, 'status', status::text, 'assignee_id', assignee_id::text,
              'q', q_norm, 'sort', sort_, 'direction', dir, 'page_size', n::text]);
END
$$;

CREATE OR REPLACE FUNCTION api.projects_page(sort text DEFAULT 'created_at', direction text DEFAULT 'desc',
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
        rows_ := rows_ || r.p;
    END LOOP;
    RETURN @extschema@.page_tail(rows_, n, sort_, 'id', dir, fp, '/rpc/projects_page',
        ARRAY['sort', sort_, 'direction', dir, 'page_size', n::text]);
END
$$;

CREATE OR REPLACE FUNCTION api.task_events_page(project_id uuid DEFAULT NULL, resource_type text DEFAULT NULL,
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
        rows_ := rows_ || r;
    END LOOP;
    RETURN @extschema@.page_tail(rows_, n, 'id', 'resource_id', dir, fp, '/rpc/task_events_page',
        ARRAY['project_id', task_events_page.project_id::text, 'resource_type', kind,
              'direction', dir, 'page_size', n::text]);
END
$$;

-- "is set by the server" in one place: server_set_problems()
-- (sql/install/00_core.sql), called by the write triggers.
CREATE FUNCTION @extschema@.server_set_problems(new_row jsonb, old_row jsonb, fields text[], notes jsonb DEFAULT '{}')
    RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('field', f.name, 'problem',
                       'is set by the server' OPERATOR(pg_catalog.||) coalesce('; ' OPERATOR(pg_catalog.||) (notes OPERATOR(pg_catalog.->>) f.name), ''))
                       ORDER BY f.i), '[]')
              FROM pg_catalog.unnest(fields) WITH ORDINALITY AS f(name, i)
             WHERE CASE WHEN old_row IS NULL THEN (new_row OPERATOR(pg_catalog.->) f.name) OPERATOR(pg_catalog.<>) 'null'
                        ELSE (new_row OPERATOR(pg_catalog.->) f.name) IS DISTINCT FROM (old_row OPERATOR(pg_catalog.->) f.name) END);
COMMENT ON FUNCTION @extschema@.server_set_problems(jsonb, jsonb, text[], jsonb) IS 'The validation_failed entries {field, problem: is set by the server} of the server-owned fields a write sets: given on INSERT (old_row NULL), changed on UPDATE.';
REVOKE ALL ON FUNCTION @extschema@.server_set_problems(jsonb, jsonb, text[], jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.server_set_problems(jsonb, jsonb, text[], jsonb) TO task_api_user;

CREATE OR REPLACE FUNCTION @extschema@.users_update() RETURNS trigger
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
    problems := problems OPERATOR(pg_catalog.||) @extschema@.server_set_problems(pg_catalog.to_jsonb(NEW), pg_catalog.to_jsonb(OLD),
        ARRAY['id', 'created_at']);
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

CREATE OR REPLACE FUNCTION @extschema@.projects_insert() RETURNS trigger
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

CREATE OR REPLACE FUNCTION @extschema@.projects_update() RETURNS trigger
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

CREATE OR REPLACE FUNCTION @extschema@.project_members_update() RETURNS trigger
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
    problems := problems OPERATOR(pg_catalog.||) @extschema@.server_set_problems(pg_catalog.to_jsonb(NEW), pg_catalog.to_jsonb(OLD),
        ARRAY['added_at']);
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

CREATE OR REPLACE FUNCTION @extschema@.tasks_update() RETURNS trigger
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

-- Task rules in one place: task_rule() (sql/install/40_tasks.sql), which
-- the comments of api.tasks read; the CHECK constraints keep their literal
-- bounds (test/pgtap/task_rules.sql checks they agree).
CREATE FUNCTION @extschema@.task_rule(name text) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN CASE name WHEN 'title_min' THEN 1 WHEN 'title_max' THEN 200
                     WHEN 'description_max' THEN 10000
                     WHEN 'priority_min' THEN 0 WHEN 'priority_max' THEN 4 END;
COMMENT ON FUNCTION @extschema@.task_rule(text) IS 'A bound of a task''s fields, in characters or values: title_min, title_max, description_max, priority_min, priority_max.';
REVOKE ALL ON FUNCTION @extschema@.task_rule(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.task_rule(text) TO task_api_user;

-- Issue 14: the activity feed shows only fields of the public resource

-- The activity feed shows only fields of the public resource (issue 14): the
-- columns of the table that its api view does not have are dropped from
-- changes.  test/pgtap/events.sql checks the lists against the catalogue.
CREATE FUNCTION @extschema@.internal_columns(resource_type text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN CASE resource_type
        WHEN 'task' THEN '{deleted_at,deleted_by,deleted_with_project}'::text[]
        WHEN 'project' THEN '{deleted_at,deleted_by}'::text[]
        ELSE '{}'::text[] END;
COMMENT ON FUNCTION @extschema@.internal_columns(text) IS E'The columns of a resource''s table that its api view does not show (the trash''s bookkeeping), dropped from the changes of api.task_events.\n\nArguments:\nresource_type: project, member or task.';
REVOKE ALL ON FUNCTION @extschema@.internal_columns(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.internal_columns(text) TO task_api_user;

CREATE OR REPLACE VIEW api.task_events WITH (security_invoker = true) AS
    SELECT e.id, e.occurred_at, e.actor_id, e.resource_type, e.resource_id, e.project_id, e.action,
           e.changes OPERATOR(pg_catalog.-) @extschema@.internal_columns(e.resource_type) AS changes
      FROM @extschema@.events e;
COMMENT ON COLUMN api.task_events.changes IS 'created: the new row; purged: the last row; updated, deleted, restored: {"column": {"old": ..., "new": ...}} for each changed column (updated_at and version are not recorded). Only fields of the resource''s view appear: a move to the trash and a restore show {}.';
-- Issue 14: sessions that renew, cookies only for allowed origins
-- (task_api.session_lifetime, task_api.cors_allowed_origins; the session
-- rows of 0.1.0 keep their expires_at and end then).
-- May this request use the session cookie: no Origin header, the API's
-- own origin, or one task_api.cors_allowed_origins lists (cors.c).
CREATE FUNCTION @extschema@.cookie_origin_allowed() RETURNS boolean
    AS 'MODULE_PATHNAME', 'task_api_cookie_origin_allowed' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cookie_origin_allowed() IS 'Whether the current request may receive and use the session cookie: it has no Origin header, or the API''s own origin, or one task_api.cors_allowed_origins lists.';

-- A new session row that ends for good at `ends`, its JWT (task_api.jwt_ttl,
-- never past `ends`), both cookies (and the CSRF token in X-CSRF-Token)
-- unless the request's origin may not use them, and the response body of
-- signup, login and refresh.  The CSRF
-- cookie lives as long as the session can: the session cookie slides
-- (session_slide.c) without it.
CREATE FUNCTION @extschema@.issue_session(user_id uuid, ends timestamptz) RETURNS json
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    issued bigint := floor(extract(epoch FROM now()))::bigint;
    ends_at bigint := floor(extract(epoch FROM issue_session.ends))::bigint;
    expires bigint := least(issued + extract(epoch FROM current_setting('task_api.jwt_ttl')::interval)::bigint, ends_at);
    session_id uuid := @extschema@.uuidv7();
    token text;
BEGIN
    INSERT INTO @extschema@.sessions (id, user_id, expires_at)
    VALUES (session_id, issue_session.user_id, issue_session.ends);
    token := @extschema@.jwt_sign(json_build_object(
        'sub', issue_session.user_id, 'role', 'task_api_user',
        'iat', issued, 'exp', expires, 'jti', session_id)::text);
    IF @extschema@.cookie_origin_allowed() THEN
        PERFORM @extschema@.append_response_header('Set-Cookie',
            format('__Host-task_api_session=%s; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=%s', token, expires - issued));
        PERFORM @extschema@.append_response_header('Set-Cookie',
            format('__Host-task_api_csrf=%s; Secure; SameSite=Lax; Path=/; Max-Age=%s',
                   @extschema@.csrf_token(session_id::text), ends_at - issued));
        -- For a page on another host, which cannot read the API host's cookie.
        PERFORM @extschema@.append_response_header('X-CSRF-Token', @extschema@.csrf_token(session_id::text));
    END IF;
    RETURN json_build_object('user_id', issue_session.user_id, 'token', token,
                             'token_type', 'bearer', 'expires_at', to_timestamp(expires));
END
$$;
COMMENT ON FUNCTION @extschema@.issue_session(uuid, timestamptz) IS 'Create a session row ending at ends, sign its token (task_api.jwt_ttl, never past ends), set the session and CSRF cookies (and X-CSRF-Token) for an origin allowed to use them; returns {user_id, token, token_type, expires_at}.';

-- Start a session for a user at sign-in: it may be renewed (refresh, a
-- sliding cookie) until task_api.session_lifetime from now.
COMMENT ON FUNCTION @extschema@.start_session(uuid) IS 'Create a session for the user (renewable until task_api.session_lifetime from now), ending its oldest beyond task_api.max_sessions_per_user; returns {user_id, token, token_type, expires_at} and sets the session and CSRF cookies.';

CREATE FUNCTION api.refresh() RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := @extschema@.password_session_user('refresh a session');
    ends timestamptz;
BEGIN
    -- This session ends as its successor starts, which keeps its absolute
    -- limit; of two refreshes with one token, the second finds it ended.
    UPDATE @extschema@.sessions s SET revoked_at = now()
     WHERE s.id = @extschema@.request_claim('jti')::uuid AND s.user_id = me
       AND s.revoked_at IS NULL AND s.expires_at > now()
    RETURNING s.expires_at INTO ends;
    IF ends IS NULL THEN
        PERFORM @extschema@.raise_error('unauthenticated', 'the session has ended',
            'The session was signed out, revoked, refreshed already or has expired.', 'sign in again');
    END IF;
    RETURN @extschema@.issue_session(me, ends);
END
$$;
COMMENT ON FUNCTION api.refresh() IS E'Renew this session without the password: 200 {user_id, token, token_type, expires_at} with a new token (and new cookies) for a successor session; this token stops working at once. Renewal works until task_api.session_lifetime after sign-in. A revoked, expired or already refreshed session is unauthenticated (401); an API key gets forbidden (403).\n\nArguments: none.';
REVOKE ALL ON FUNCTION @extschema@.cookie_origin_allowed(), @extschema@.issue_session(uuid, timestamptz),
    api.refresh() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.refresh() TO task_api_user;

-- Issue 17: monitoring (counters, consumer health, /rpc/metrics, request ids, plans)
-- task_api.events gains request_id at its end: no default, no rewrite.
ALTER TABLE @extschema@.events ADD COLUMN request_id text;
COMMENT ON COLUMN @extschema@.events.request_id IS 'The id of the request that made the change (its X-Request-Id answer header, src/trace.c), or NULL outside a request.';
CREATE OR REPLACE VIEW api.task_events WITH (security_invoker = true) AS
    SELECT e.id, e.occurred_at, e.actor_id, e.resource_type, e.resource_id, e.project_id, e.action,
           e.changes OPERATOR(pg_catalog.-) @extschema@.internal_columns(e.resource_type) AS changes,
           e.request_id
      FROM @extschema@.events e;
COMMENT ON COLUMN api.task_events.request_id IS 'The id of the request that made the change (the X-Request-Id header of its answer), or null.';
GRANT SELECT (request_id) ON @extschema@.events TO task_api_user;
-- Consumers' claims and acknowledgements are counted.
-- What every claim begins with: the arguments checked, the consumer
-- registered on its first claim and locked.  NULL while another worker of
-- the consumer holds its batch (until that transaction ends): the claim then
-- hands out nothing rather than the same events twice at once.
CREATE FUNCTION @extschema@.claim_consumer(consumer text, max integer) RETURNS @extschema@.event_consumers
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c @extschema@.event_consumers;
BEGIN
    IF consumer IS NULL OR char_length(consumer) NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'consumer must be a name of 1 to 100 characters' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF claim_consumer.max IS NULL OR claim_consumer.max NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION 'max must be between 1 and 10000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The claim bound is only valid for a snapshot taken after it is computed.
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'claim_events() must run in a READ COMMITTED transaction' USING ERRCODE = 'feature_not_supported',
            HINT = 'A snapshot taken earlier in the transaction could miss events below the bound.';
    END IF;
    IF NOT EXISTS (SELECT FROM @extschema@.event_consumers ec WHERE ec.name = consumer) THEN
        INSERT INTO @extschema@.event_consumers (name) VALUES (consumer) ON CONFLICT DO NOTHING;
    END IF;
    SELECT * INTO c FROM @extschema@.event_consumers ec WHERE ec.name = consumer FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN c;
END
$$;
COMMENT ON FUNCTION @extschema@.claim_consumer(text, integer) IS 'The start of claim_events() (and of its Citus form): checks consumer and max, registers the consumer on its first claim and locks it; NULL while another worker of it holds a batch.';

REVOKE ALL ON FUNCTION @extschema@.claim_consumer(text, integer) FROM PUBLIC;
CREATE OR REPLACE FUNCTION @extschema@.claim_events(consumer text, max integer DEFAULT 100) RETURNS SETOF @extschema@.events
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c @extschema@.event_consumers;
    bound bigint;
    e @extschema@.events;
    last_id bigint;
    n bigint := 0;
BEGIN
    c := @extschema@.claim_consumer(consumer, claim_events.max);
    IF c.name IS NULL THEN
        RETURN;  -- another worker of this consumer holds its batch
    END IF;
    bound := @extschema@.events_claim_bound();
    -- A new statement, so a new snapshot: it sees every event below the bound.
    FOR e IN SELECT * FROM @extschema@.events ev
              WHERE ev.id > c.acked_id AND ev.id < bound
              ORDER BY ev.id LIMIT claim_events.max
    LOOP
        last_id := e.id;
        n := n + 1;
        RETURN NEXT e;
    END LOOP;
    UPDATE @extschema@.event_consumers ec SET claimed_id = coalesce(last_id, c.acked_id) WHERE ec.name = consumer;
    PERFORM @extschema@.metrics_count_events('claimed', n);
    RETURN;
END
$$;
-- What every acknowledgement begins with: the arguments checked and the
-- consumer locked, without waiting (the worker that claimed holds it).
CREATE FUNCTION @extschema@.ack_consumer(consumer text, last_id bigint) RETURNS @extschema@.event_consumers
    LANGUAGE plpgsql VOLATILE
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
    RETURN c;
END
$$;
COMMENT ON FUNCTION @extschema@.ack_consumer(text, bigint) IS 'The start of ack_events() (and of its Citus form): checks the arguments and locks the consumer without waiting (lock_not_available while another worker holds it; invalid_parameter_value when there is none).';

REVOKE ALL ON FUNCTION @extschema@.ack_consumer(text, bigint) FROM PUBLIC;
CREATE OR REPLACE FUNCTION @extschema@.ack_events(consumer text, last_id bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c @extschema@.event_consumers;
BEGIN
    c := @extschema@.ack_consumer(consumer, last_id);
    IF last_id > c.claimed_id THEN
        RAISE EXCEPTION 'event % was not handed out to consumer "%"', last_id, consumer USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('The latest batch ends at event %s.', c.claimed_id);
    END IF;
    IF last_id <= c.acked_id THEN
        RETURN c.acked_id;
    END IF;
    UPDATE @extschema@.event_consumers ec SET acked_id = last_id, acked_at = now() WHERE ec.name = consumer;
    PERFORM @extschema@.metrics_count_events('acknowledged', count(*)) FROM @extschema@.events ev
      WHERE ev.id > c.acked_id AND ev.id <= last_id;
    RETURN last_id;
END
$$;

-- Monitoring: counters, consumer health, the Prometheus endpoint, operators ---------
-- Counters live in shared memory (src/metrics.c): task_api.metrics shows
-- them to pg_monitor, task_api.metrics_reset() zeroes them (superuser), a
-- restart zeroes them too.  task_api.event_consumer_health shows each event
-- consumer's backlog and oldest unacknowledged event.  GET /rpc/metrics
-- serves both in the Prometheus text format to the scraper's role,
-- task_api_metrics, whose token task_api.metrics_token() signs; query plans
-- (PostgREST's db-plan-enabled) are answered only to tokens of
-- task_api.operator_session() (src/trace.c).  docs/operations.md#monitoring.

DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'task_api_metrics') THEN
        CREATE ROLE task_api_metrics NOLOGIN;
    END IF;
END
$roles$;
GRANT task_api_metrics TO task_api_authenticator;

CREATE FUNCTION @extschema@.metrics_read(OUT metric text, OUT labels text, OUT type text, OUT value bigint, OUT help text)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'task_api_metrics_read' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.metrics_read() IS 'Every task_api counter and gauge in shared memory: Prometheus family, labels, type, value and help. Needs shared_preload_libraries.';

CREATE VIEW @extschema@.metrics AS
    SELECT m.metric, m.labels, m.type, m.value, m.help FROM @extschema@.metrics_read() m;
COMMENT ON VIEW @extschema@.metrics IS 'task_api''s counters (since the server started or task_api.metrics_reset()) and the rate-limit table''s fill, for pg_monitor; docs/operations.md#monitoring.';
COMMENT ON COLUMN @extschema@.metrics.metric IS 'Prometheus metric family, e.g. task_api_requests_total.';
COMMENT ON COLUMN @extschema@.metrics.labels IS 'Prometheus labels of the sample, e.g. credential="cookie" (empty for none).';
COMMENT ON COLUMN @extschema@.metrics.type IS 'counter (only goes up until a restart or a reset) or gauge (a current state).';
COMMENT ON COLUMN @extschema@.metrics.value IS 'The count, or the gauge''s value.';
COMMENT ON COLUMN @extschema@.metrics.help IS 'What the family counts.';

CREATE FUNCTION @extschema@.metrics_reset() RETURNS void
    AS 'MODULE_PATHNAME', 'task_api_metrics_reset' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.metrics_reset() IS 'Superuser only: zero every task_api counter (a restart does too).';

CREATE FUNCTION @extschema@.metrics_count_events(stage text, n bigint) RETURNS void
    AS 'MODULE_PATHNAME', 'task_api_metrics_count_events' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION @extschema@.metrics_count_events(text, bigint) IS 'Count n events claimed or acknowledged; called by claim_events() and ack_events() only.';

-- Bounded on any number of events: max(id) and the first event after the
-- consumer's position are each one descent of the primary key.
CREATE VIEW @extschema@.event_consumer_health AS
    SELECT c.name AS consumer, c.acked_id, c.acked_at,
           pg_catalog.int8larger(coalesce((SELECT max(e.id) FROM @extschema@.events e), 0) - c.acked_id, 0) AS backlog,
           o.occurred_at AS oldest_unacked_at,
           pg_catalog.now() - o.occurred_at AS oldest_unacked_age
      FROM @extschema@.event_consumers c
      LEFT JOIN LATERAL (SELECT e.occurred_at FROM @extschema@.events e
                          WHERE e.id > c.acked_id ORDER BY e.id LIMIT 1) o ON true;
COMMENT ON VIEW @extschema@.event_consumer_health IS 'Per event consumer: how far behind it is, cheaply on any number of events (for pg_monitor and GET /rpc/metrics).';
COMMENT ON COLUMN @extschema@.event_consumer_health.consumer IS 'Consumer name.';
COMMENT ON COLUMN @extschema@.event_consumer_health.acked_id IS 'Every event up to this id is acknowledged.';
COMMENT ON COLUMN @extschema@.event_consumer_health.acked_at IS 'When the consumer last acknowledged.';
COMMENT ON COLUMN @extschema@.event_consumer_health.backlog IS 'Event ids written after acked_id: the events not yet acknowledged (ids of rolled-back writes, gaps, count too).';
COMMENT ON COLUMN @extschema@.event_consumer_health.oldest_unacked_at IS 'When the oldest unacknowledged event was written; null when none waits.';
COMMENT ON COLUMN @extschema@.event_consumer_health.oldest_unacked_age IS 'How long the oldest unacknowledged event has waited; null when none waits.';

-- PostgREST 12 answers a function returning a domain named after a media
-- type under that media type: text/plain; version=0.0.4 is Prometheus'
-- text format, which every scraper's Accept header lists.
CREATE DOMAIN api."text/plain" AS text;
COMMENT ON DOMAIN api."text/plain" IS 'Text PostgREST answers as text/plain (GET /rpc/metrics).';

-- Scraper tokens: each one task_api.metrics_token() signs is a row here
-- (its id is the token's jti), so one can be revoked without rotating
-- task_api.jwt_secret; api.metrics() refuses a token whose row is gone,
-- revoked or expired.
CREATE TABLE @extschema@.scraper_tokens (
    id uuid PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
COMMENT ON TABLE @extschema@.scraper_tokens IS 'One row per scraper token task_api.metrics_token() signed; the id is the token''s jti. Revoke with task_api.revoke_metrics_token(). Never exposed.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.scraper_tokens', '');
ALTER TABLE @extschema@.scraper_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.scraper_tokens FORCE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE @extschema@.scraper_tokens FROM PUBLIC;

CREATE FUNCTION @extschema@.check_scraper_token() RETURNS void
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    jti text := pg_catalog.current_setting('request.jwt.claims', true)::jsonb ->> 'jti';
BEGIN
    IF jti IS NULL OR jti !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
       OR NOT EXISTS (SELECT FROM @extschema@.scraper_tokens t
                       WHERE t.id = jti::uuid AND t.revoked_at IS NULL AND t.expires_at > pg_catalog.now()) THEN
        PERFORM @extschema@.raise_error('unauthenticated', 'this scraper token has been revoked or has expired',
                                        hint => 'Sign a new one with task_api.metrics_token().');
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.check_scraper_token() IS 'Refuse (unauthenticated, 401) a scraper token that task_api.scraper_tokens does not hold live: revoked, expired or never issued; api.metrics() calls it first.';

CREATE FUNCTION api.metrics() RETURNS api."text/plain"
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT @extschema@.check_scraper_token();
    WITH consumers AS (
        SELECT 'consumer="' || pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(h.consumer, '\', '\\'), '"', '\"'), E'\n', '\n') || '"' AS labels,
               h.backlog, h.oldest_unacked_age
          FROM @extschema@.event_consumer_health h
    ), samples AS (
        SELECT m.metric, m.type, m.help, m.labels, m.value::text AS value FROM @extschema@.metrics m
        UNION ALL
        SELECT 'task_api_event_consumer_backlog', 'gauge',
               'Events written after the consumer''s acknowledged position.', c.labels, c.backlog::text
          FROM consumers c
        UNION ALL
        SELECT 'task_api_event_consumer_oldest_unacked_age_seconds', 'gauge',
               'Age of the consumer''s oldest unacknowledged event (0 when none waits).', c.labels,
               coalesce(pg_catalog.round(pg_catalog.date_part('epoch', c.oldest_unacked_age)::numeric, 3), 0)::text
          FROM consumers c
    ), families AS (
        SELECT s.metric,
               pg_catalog.format(E'# HELP %s %s\n# TYPE %s %s\n', s.metric, pg_catalog.min(s.help), s.metric, pg_catalog.min(s.type)) ||
               pg_catalog.string_agg(s.metric || CASE WHEN s.labels = '' THEN '' ELSE '{' || s.labels || '}' END
                                     || ' ' || s.value || E'\n', '' ORDER BY s.labels) AS text
          FROM samples s GROUP BY s.metric
    )
    SELECT pg_catalog.string_agg(f.text, '' ORDER BY f.metric)::api."text/plain" FROM families f
$$;
COMMENT ON FUNCTION api.metrics() IS E'Prometheus metrics (text format 0.0.4, Accept: text/plain) for the scraper role task_api_metrics only: requests, refusals, authentication failures, logins, idempotency outcomes, events, the rate-limit table and each event consumer''s lag.\n\nArguments: none.';

CREATE FUNCTION @extschema@.metrics_token(ttl interval DEFAULT '90 days') RETURNS text
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    issued bigint := floor(extract(epoch FROM now()))::bigint;
    expires bigint;
    token_id uuid := @extschema@.uuidv7();
BEGIN
    IF ttl IS NULL OR ttl <= interval '0' THEN
        RAISE EXCEPTION 'ttl must be a positive interval' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    expires := issued + floor(extract(epoch FROM ttl))::bigint;
    INSERT INTO @extschema@.scraper_tokens (id, expires_at) VALUES (token_id, to_timestamp(expires));
    RETURN @extschema@.jwt_sign(json_build_object(
        'role', 'task_api_metrics', 'iat', issued, 'exp', expires, 'jti', token_id)::text);
END
$$;
COMMENT ON FUNCTION @extschema@.metrics_token(interval) IS 'Superuser only: a bearer token for the Prometheus scraper (role task_api_metrics: GET /rpc/metrics and nothing else), valid for ttl (90 days by default); its jti is its row in task_api.scraper_tokens, for task_api.revoke_metrics_token().';

CREATE FUNCTION @extschema@.revoke_metrics_token(token_id uuid) RETURNS boolean
    LANGUAGE sql VOLATILE STRICT
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH revoked AS (
        UPDATE @extschema@.scraper_tokens SET revoked_at = pg_catalog.now()
         WHERE id = token_id AND revoked_at IS NULL RETURNING id
    )
    SELECT EXISTS (SELECT FROM revoked)
$$;
COMMENT ON FUNCTION @extschema@.revoke_metrics_token(uuid) IS 'Superuser only: end the scraper token whose jti is token_id at once (its next scrape gets 401); true when a live token was revoked. task_api.scraper_tokens lists them.';

CREATE FUNCTION @extschema@.operator_session(user_id uuid) RETURNS json
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s json := @extschema@.start_session(user_id);
    claims jsonb;
BEGIN
    SELECT v.claims::jsonb INTO claims FROM @extschema@.jwt_verify(s ->> 'token') v;
    RETURN json_build_object('user_id', user_id,
        'token', @extschema@.jwt_sign((claims || '{"operator": true}'::jsonb)::text),
        'token_type', 'bearer', 'expires_at', s -> 'expires_at');
END
$$;
COMMENT ON FUNCTION @extschema@.operator_session(uuid) IS 'Superuser only: a new session of the user whose token also carries "operator": true, the only tokens whose requests PostgREST may answer with their query plan (Accept: application/vnd.pgrst.plan+json). It ends like any session (logout, expiry).';

GRANT SELECT ON @extschema@.metrics, @extschema@.event_consumer_health TO pg_monitor;
REVOKE ALL ON FUNCTION @extschema@.metrics_read(), @extschema@.metrics_reset(),
    @extschema@.metrics_count_events(text, bigint), api.metrics(),
    @extschema@.metrics_token(interval), @extschema@.revoke_metrics_token(uuid),
    @extschema@.check_scraper_token(), @extschema@.operator_session(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.metrics_read() TO pg_monitor;
GRANT EXECUTE ON FUNCTION api.metrics() TO task_api_metrics;
GRANT EXECUTE ON FUNCTION @extschema@.check_scraper_token() TO task_api_metrics;
GRANT EXECUTE ON FUNCTION @extschema@.pre_request() TO task_api_metrics;
GRANT USAGE ON SCHEMA @extschema@ TO pg_monitor;
GRANT USAGE ON SCHEMA api, @extschema@ TO task_api_metrics;


-- Issue 14: the OpenAPI 3.1 document at / (sql/install/88_openapi.sql)
-- PostgREST's db-root-spec calls api.openapi() as the request's role.  The
-- document is built from the catalogue (the api views, their columns, types
-- and comments, the api functions and their arguments, the caller's
-- privileges, the views' triggers) plus openapi_facts(): the one place for
-- what only the extension knows (statuses, bodies, headers, error codes).
-- A new view, column, function or comment appears by itself, with defaults.

CREATE FUNCTION @extschema@.openapi_facts() RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
SELECT $json${
  "errors": {
    "read": ["unauthenticated", "origin_not_allowed", "invalid_parameter", "query_too_expensive", "rate_limited", "busy", "internal_error", "unavailable"],
    "write": ["unauthenticated", "forbidden", "csrf_failed", "validation_failed", "conflict", "precondition_failed",
              "payload_too_large", "invalid_idempotency_key", "idempotency_key_reused", "idempotency_in_progress",
              "invalid_parameter", "method_not_allowed", "origin_not_allowed", "query_too_expensive", "rate_limited",
              "read_only_replica", "busy", "internal_error", "unavailable"],
    "rpc": ["unauthenticated", "forbidden", "csrf_failed", "origin_not_allowed", "validation_failed", "not_found", "conflict",
            "query_too_expensive", "rate_limited", "read_only_replica", "busy", "internal_error", "unavailable"]
  },
  "views": {
    "project_members": {"refuse": ["POST"], "null_always": ["email"]},
    "users": {"nullable": ["email"]}
  },
  "functions": {
    "signup": {"status": 201, "body": {"$ref": "#/components/schemas/Session"}, "anonymous": true,
               "errors": ["validation_failed", "conflict", "csrf_failed", "rate_limited", "busy", "internal_error", "unavailable"]},
    "login": {"status": 200, "body": {"$ref": "#/components/schemas/Session"}, "anonymous": true,
              "errors": ["invalid_credentials", "validation_failed", "csrf_failed", "rate_limited", "busy", "internal_error", "unavailable"]},
    "create_api_key": {"status": 201, "body": {"$ref": "#/components/schemas/ApiKeyCreated"}},
    "logout": {"errors": ["unauthenticated", "csrf_failed", "origin_not_allowed", "rate_limited", "read_only_replica", "busy", "internal_error", "unavailable"]},
    "refresh": {"body": {"$ref": "#/components/schemas/Session"},
                "errors": ["unauthenticated", "forbidden", "csrf_failed", "origin_not_allowed", "rate_limited", "read_only_replica", "busy", "internal_error", "unavailable"]},
    "metrics": {"body": {"type": "string", "contentMediaType": "text/plain", "description": "The Prometheus text format, version 0.0.4."},
                "errors": ["unauthenticated", "forbidden", "busy", "internal_error", "unavailable"]},
    "tasks_page": {"page": "tasks", "enums": {"sort": ["created_at", "updated_at", "due_date", "priority"]}},
    "projects_page": {"page": "projects", "enums": {"sort": ["created_at", "updated_at"]}},
    "task_events_page": {"page": "task_events", "enums": {"resource_type": ["project", "member", "task"]}},
    "openapi": {"body": {"type": "object", "description": "This document."}, "anonymous": true, "errors": ["rate_limited", "internal_error"]}
  },
  "pgrst": {"PGRST100": 400, "PGRST102": 400, "PGRST204": 400, "PGRST301": 401, "PGRST116": 406,
            "PGRST103": 416, "PGRST001": 503, "PGRST002": 503, "PGRST003": 504},
  "page_enums": {"direction": ["asc", "desc"]},
  "page_errors": ["unauthenticated", "origin_not_allowed", "invalid_parameter", "invalid_cursor", "cursor_mismatch",
                  "query_too_expensive", "rate_limited", "busy", "internal_error", "unavailable"]
}$json$::jsonb
$$;
COMMENT ON FUNCTION @extschema@.openapi_facts() IS 'What only the extension knows for the OpenAPI document: per operation its success status and body, its error codes, and per view the methods refused and the nullable columns.';

-- The JSON Schema of a column or argument type (enums with their labels).
CREATE FUNCTION @extschema@.openapi_type(typ oid, nullable boolean) RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH base AS (
        SELECT CASE
            WHEN t.typtype OPERATOR(pg_catalog.=) 'e' THEN pg_catalog.jsonb_build_object('type', 'string', 'enum',
                (SELECT pg_catalog.jsonb_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e
                  WHERE e.enumtypid OPERATOR(pg_catalog.=) t.oid))
            WHEN t.typname IN ('int2', 'int4', 'int8') THEN '{"type": "integer"}'::jsonb
            WHEN t.typname IN ('float4', 'float8', 'numeric') THEN '{"type": "number"}'::jsonb
            WHEN t.typname OPERATOR(pg_catalog.=) 'bool' THEN '{"type": "boolean"}'::jsonb
            WHEN t.typname OPERATOR(pg_catalog.=) 'uuid' THEN '{"type": "string", "format": "uuid"}'::jsonb
            WHEN t.typname OPERATOR(pg_catalog.=) 'timestamptz' THEN '{"type": "string", "format": "date-time"}'::jsonb
            WHEN t.typname OPERATOR(pg_catalog.=) 'date' THEN '{"type": "string", "format": "date"}'::jsonb
            WHEN t.typname IN ('json', 'jsonb') THEN '{}'::jsonb
            WHEN t.typcategory OPERATOR(pg_catalog.=) 'A' THEN '{"type": "array"}'::jsonb
            ELSE '{"type": "string"}'::jsonb END AS s
          FROM pg_catalog.pg_type t WHERE t.oid OPERATOR(pg_catalog.=) typ)
    SELECT CASE WHEN NOT nullable OR NOT (b.s ? 'type') THEN b.s
                ELSE b.s OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('type',
                         pg_catalog.jsonb_build_array(b.s OPERATOR(pg_catalog.->>) 'type', 'null'))
                         OPERATOR(pg_catalog.||) CASE WHEN b.s ? 'enum' THEN pg_catalog.jsonb_build_object('enum',
                         (b.s OPERATOR(pg_catalog.->) 'enum') OPERATOR(pg_catalog.||) '[null]'::jsonb) ELSE '{}'::jsonb END END
      FROM base b
$$;
COMMENT ON FUNCTION @extschema@.openapi_type(oid, boolean) IS 'The JSON Schema of a type for the OpenAPI document, null allowed when nullable.';

-- Item schemas of the api views the caller may read: a column is non-null when
-- the task_api table of the same name holds it NOT NULL and the facts do not
-- say otherwise.
CREATE FUNCTION @extschema@.openapi_schemas() RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(pg_catalog.jsonb_object_agg(v.relname, pg_catalog.jsonb_build_object(
               'type', 'object', 'description', coalesce(pg_catalog.obj_description(v.oid, 'pg_class'), v.relname),
               'properties', cols.props)), '{}'::jsonb)
      FROM pg_catalog.pg_class v
      JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) v.relnamespace AND n.nspname OPERATOR(pg_catalog.=) 'api'
      CROSS JOIN LATERAL (
          SELECT pg_catalog.jsonb_object_agg(a.attname, CASE WHEN nulls.always THEN '{"type": "null"}'::jsonb
                     ELSE @extschema@.openapi_type(a.atttypid, NOT coalesce(b.attnotnull, false) OR nulls.facts) END
                     OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('description',
                         coalesce(pg_catalog.col_description(v.oid, a.attnum), a.attname))) AS props
            FROM pg_catalog.pg_attribute a
            LEFT JOIN pg_catalog.pg_attribute b
                   ON b.attrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass('@extschema@.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(v.relname))
                  AND b.attname OPERATOR(pg_catalog.=) a.attname AND NOT b.attisdropped
            CROSS JOIN LATERAL (SELECT
                coalesce(@extschema@.openapi_facts() OPERATOR(pg_catalog.#>) ARRAY['views', v.relname::text, 'nullable'], '[]')
                    ? a.attname::text AS facts,
                coalesce(@extschema@.openapi_facts() OPERATOR(pg_catalog.#>) ARRAY['views', v.relname::text, 'null_always'], '[]')
                    ? a.attname::text AS always) nulls
           WHERE a.attrelid OPERATOR(pg_catalog.=) v.oid AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
             AND pg_catalog.has_column_privilege(v.oid, a.attnum, 'SELECT')) cols
     WHERE v.relkind IN ('v', 'r') AND pg_catalog.has_table_privilege(v.oid, 'SELECT')
$$;
COMMENT ON FUNCTION @extschema@.openapi_schemas() IS 'The item schema of every api view the caller may read, for the OpenAPI document.';

-- The error responses of an operation: one per status, each the Error schema
-- with the codes (the catalogue's and PostgREST's) it can carry.
CREATE FUNCTION @extschema@.openapi_errors(codes jsonb) RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH c AS (
        SELECT e.code, e.status FROM @extschema@.error_codes e
         WHERE codes ? e.code
        UNION ALL
        SELECT p.key, p.value::text::integer
          FROM pg_catalog.jsonb_each(@extschema@.openapi_facts() OPERATOR(pg_catalog.->) 'pgrst') p)
    SELECT pg_catalog.jsonb_object_agg(s.status::text, pg_catalog.jsonb_build_object(
               'description', 'Error: ' OPERATOR(pg_catalog.||) s.names,
               'headers', CASE WHEN s.status IN (429, 503, 504)
                               THEN '{"Retry-After": {"$ref": "#/components/headers/Retry-After"}}'::jsonb
                                    OPERATOR(pg_catalog.||) @extschema@.openapi_rate_headers()
                               ELSE @extschema@.openapi_rate_headers() END,
               'content', pg_catalog.jsonb_build_object('application/json', pg_catalog.jsonb_build_object('schema',
                   pg_catalog.jsonb_build_object('allOf', pg_catalog.jsonb_build_array(
                       '{"$ref": "#/components/schemas/Error"}'::jsonb,
                       pg_catalog.jsonb_build_object('properties', pg_catalog.jsonb_build_object('code',
                           pg_catalog.jsonb_build_object('enum', s.list)))))))))
      FROM (SELECT c.status, pg_catalog.jsonb_agg(c.code ORDER BY c.code) AS list,
                   pg_catalog.string_agg(c.code, ', ' ORDER BY c.code) AS names
              FROM c GROUP BY c.status) s
$$;
COMMENT ON FUNCTION @extschema@.openapi_errors(jsonb) IS 'The OpenAPI error responses for a list of catalogue codes, grouped by status, with PostgREST''s own codes a client can meet.';

CREATE FUNCTION @extschema@.openapi_rate_headers() RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT '{"RateLimit": {"$ref": "#/components/headers/RateLimit"},
             "RateLimit-Policy": {"$ref": "#/components/headers/RateLimit-Policy"}}'::jsonb
$$;
COMMENT ON FUNCTION @extschema@.openapi_rate_headers() IS 'The rate-limit response headers every answer carries, for the OpenAPI document.';

-- An OpenAPI response: status, description, optional body, headers.
CREATE FUNCTION @extschema@.openapi_response(description text, body jsonb, headers jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.jsonb_build_object('description', description,
               'headers', @extschema@.openapi_rate_headers() OPERATOR(pg_catalog.||) coalesce(headers, '{}'))
           OPERATOR(pg_catalog.||) CASE WHEN body IS NULL THEN '{}'::jsonb
               -- A function answering another media type (a domain named after it).
               WHEN body ? 'contentMediaType' THEN pg_catalog.jsonb_build_object('content', pg_catalog.jsonb_build_object(
                        body OPERATOR(pg_catalog.->>) 'contentMediaType', pg_catalog.jsonb_build_object('schema', body)))
               ELSE pg_catalog.jsonb_build_object('content', pg_catalog.jsonb_build_object('application/json',
                        pg_catalog.jsonb_build_object('schema', body))
                    OPERATOR(pg_catalog.||) CASE WHEN body ? 'items' THEN pg_catalog.jsonb_build_object(
                        'application/vnd.pgrst.object+json', pg_catalog.jsonb_build_object('schema', body OPERATOR(pg_catalog.->) 'items'))
                        ELSE '{}'::jsonb END) END
$$;
COMMENT ON FUNCTION @extschema@.openapi_response(text, jsonb, jsonb) IS 'One OpenAPI response object with the rate-limit headers; rows can also be asked for as one object (Accept: application/vnd.pgrst.object+json).';

-- The operations on one api view the caller may perform.
CREATE FUNCTION @extschema@.openapi_view_path(v oid) RETURNS jsonb
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    name text := (SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) v);
    facts jsonb := @extschema@.openapi_facts();
    refused jsonb := coalesce(facts OPERATOR(pg_catalog.#>) ARRAY['views', name, 'refuse'], '[]');
    item jsonb := pg_catalog.jsonb_build_object('$ref', '#/components/schemas/' OPERATOR(pg_catalog.||) name);
    rows_ jsonb := pg_catalog.jsonb_build_object('type', 'array', 'items', item);
    filters jsonb;
    versioned boolean;
    idempotent boolean;
    write_params jsonb;
    write_headers jsonb;
    security jsonb := '[{"bearer": []}, {"apiKey": []}, {"cookie": []}]';
    write_security jsonb := '[{"bearer": []}, {"apiKey": []}, {"cookie": [], "csrf": []}]';
    tag text := pg_catalog.initcap(pg_catalog.replace(name, '_', ' '));
    ops jsonb := '{}';
BEGIN
    SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('name', a.attname, 'in', 'query', 'required', false,
               'description', 'A PostgREST filter on ' OPERATOR(pg_catalog.||) a.attname OPERATOR(pg_catalog.||) ', e.g. eq.<value>',
               'schema', '{"type": "string"}'::jsonb) ORDER BY a.attnum), '[]'),
           pg_catalog.bool_or(a.attname OPERATOR(pg_catalog.=) 'version')
      INTO filters, versioned
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid OPERATOR(pg_catalog.=) v AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
       AND pg_catalog.has_column_privilege(v, a.attnum, 'SELECT');
    versioned := coalesce(versioned, false);
    idempotent := EXISTS (SELECT FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_proc p ON p.oid OPERATOR(pg_catalog.=) t.tgfoid
                           WHERE t.tgrelid OPERATOR(pg_catalog.=) v AND p.proname OPERATOR(pg_catalog.=) 'idempotency_row_in');
    write_params := '[{"$ref": "#/components/parameters/Prefer"}, {"$ref": "#/components/parameters/X-CSRF-Token"}]'::jsonb
        OPERATOR(pg_catalog.||) CASE WHEN idempotent THEN '[{"$ref": "#/components/parameters/Idempotency-Key"}]'::jsonb ELSE '[]' END;
    write_headers := CASE WHEN versioned THEN '{"ETag": {"$ref": "#/components/headers/ETag"}}'::jsonb ELSE '{}' END
        OPERATOR(pg_catalog.||) CASE WHEN idempotent THEN '{"Idempotent-Replayed": {"$ref": "#/components/headers/Idempotent-Replayed"}}'::jsonb ELSE '{}' END;
    IF pg_catalog.has_table_privilege(v, 'SELECT') AND NOT refused ? 'GET' THEN
        ops := ops OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('get', pg_catalog.jsonb_build_object(
            'operationId', 'list_' OPERATOR(pg_catalog.||) name, 'tags', pg_catalog.jsonb_build_array(tag),
            'summary', pg_catalog.split_part(coalesce(pg_catalog.obj_description(v, 'pg_class'), name), E'\n', 1),
            'description', coalesce(pg_catalog.obj_description(v, 'pg_class'), name), 'security', security,
            'parameters', '[{"$ref": "#/components/parameters/select"}, {"$ref": "#/components/parameters/order"},
                            {"$ref": "#/components/parameters/limit"}, {"$ref": "#/components/parameters/offset"},
                            {"$ref": "#/components/parameters/PreferCount"}]'::jsonb OPERATOR(pg_catalog.||) filters,
            'responses', pg_catalog.jsonb_build_object('200', @extschema@.openapi_response('The rows the caller may see.', rows_,
                             '{"Content-Range": {"$ref": "#/components/headers/Content-Range"}}'))
                OPERATOR(pg_catalog.||) @extschema@.openapi_errors(facts OPERATOR(pg_catalog.#>) '{errors,read}')));
    END IF;
    IF pg_catalog.has_table_privilege(v, 'INSERT') AND NOT refused ? 'POST' THEN
        ops := ops OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('post', pg_catalog.jsonb_build_object(
            'operationId', 'create_' OPERATOR(pg_catalog.||) name, 'tags', pg_catalog.jsonb_build_array(tag),
            'summary', 'Create ' OPERATOR(pg_catalog.||) name, 'security', write_security, 'parameters', write_params,
            'requestBody', pg_catalog.jsonb_build_object('required', true, 'content', pg_catalog.jsonb_build_object('application/json',
                pg_catalog.jsonb_build_object('schema', pg_catalog.jsonb_build_object('oneOf', pg_catalog.jsonb_build_array(item, rows_))))),
            'responses', pg_catalog.jsonb_build_object('201', @extschema@.openapi_response(
                    'Created; the rows with Prefer: return=representation, else no body.', rows_,
                    write_headers OPERATOR(pg_catalog.||) '{"Location": {"$ref": "#/components/headers/Location"}}'::jsonb))
                OPERATOR(pg_catalog.||) @extschema@.openapi_errors(facts OPERATOR(pg_catalog.#>) '{errors,write}')));
    END IF;
    IF pg_catalog.has_table_privilege(v, 'UPDATE') AND NOT refused ? 'PATCH' THEN
        ops := ops OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('patch', pg_catalog.jsonb_build_object(
            'operationId', 'update_' OPERATOR(pg_catalog.||) name, 'tags', pg_catalog.jsonb_build_array(tag),
            'summary', 'Change the ' OPERATOR(pg_catalog.||) name OPERATOR(pg_catalog.||) ' the filters select',
            'security', write_security,
            'parameters', write_params OPERATOR(pg_catalog.||) filters OPERATOR(pg_catalog.||)
                CASE WHEN versioned THEN '[{"$ref": "#/components/parameters/If-Match"}]'::jsonb ELSE '[]' END,
            'requestBody', pg_catalog.jsonb_build_object('required', true, 'content', pg_catalog.jsonb_build_object('application/json',
                pg_catalog.jsonb_build_object('schema', item))),
            'responses', pg_catalog.jsonb_build_object(
                    '200', @extschema@.openapi_response('The changed rows (Prefer: return=representation).', rows_, write_headers),
                    '204', @extschema@.openapi_response('Changed.', NULL, write_headers))
                OPERATOR(pg_catalog.||) @extschema@.openapi_errors(facts OPERATOR(pg_catalog.#>) '{errors,write}')));
    END IF;
    IF pg_catalog.has_table_privilege(v, 'DELETE') AND NOT refused ? 'DELETE' THEN
        ops := ops OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('delete', pg_catalog.jsonb_build_object(
            'operationId', 'delete_' OPERATOR(pg_catalog.||) name, 'tags', pg_catalog.jsonb_build_array(tag),
            'summary', 'Delete the ' OPERATOR(pg_catalog.||) name OPERATOR(pg_catalog.||) ' the filters select',
            'security', write_security,
            'parameters', write_params OPERATOR(pg_catalog.||) filters OPERATOR(pg_catalog.||)
                CASE WHEN versioned THEN '[{"$ref": "#/components/parameters/If-Match"}]'::jsonb ELSE '[]' END,
            'responses', pg_catalog.jsonb_build_object(
                    '200', @extschema@.openapi_response('The deleted rows (Prefer: return=representation).', rows_, NULL),
                    '204', @extschema@.openapi_response('Deleted.', NULL, NULL))
                OPERATOR(pg_catalog.||) @extschema@.openapi_errors(facts OPERATOR(pg_catalog.#>) '{errors,write}')));
    END IF;
    RETURN ops;
END
$$;
COMMENT ON FUNCTION @extschema@.openapi_view_path(oid) IS 'The OpenAPI path item of an api view: the methods the caller holds the privilege for and the view does not refuse.';

-- The operations on one api function: POST, and GET when it does not write.
CREATE FUNCTION @extschema@.openapi_function_path(f oid) RETURNS jsonb
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p pg_catalog.pg_proc;
    fact jsonb;
    facts jsonb := @extschema@.openapi_facts();
    props jsonb := '{}';
    required jsonb := '[]';
    query jsonb := '[]';
    arg_schema jsonb;
    body jsonb;
    status text;
    op jsonb;
    security jsonb;
    params jsonb := '[]';
    headers jsonb := '{}';
    ops jsonb := '{}';
BEGIN
    SELECT * INTO p FROM pg_catalog.pg_proc WHERE oid OPERATOR(pg_catalog.=) f;
    fact := coalesce(facts OPERATOR(pg_catalog.#>) ARRAY['functions', p.proname::text], '{}');
    FOR i IN 0 .. p.pronargs - 1 LOOP
        arg_schema := coalesce(fact OPERATOR(pg_catalog.#>) ARRAY['enums', p.proargnames[i + 1]],
                               facts OPERATOR(pg_catalog.#>) ARRAY['page_enums', p.proargnames[i + 1]]);
        arg_schema := CASE WHEN arg_schema IS NULL THEN @extschema@.openapi_type(p.proargtypes[i], false)
                           ELSE pg_catalog.jsonb_build_object('type', 'string', 'enum', arg_schema) END;
        props := props OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(p.proargnames[i + 1], arg_schema);
        IF i OPERATOR(pg_catalog.<) (p.pronargs OPERATOR(pg_catalog.-) p.pronargdefaults) THEN
            required := required OPERATOR(pg_catalog.||) pg_catalog.to_jsonb(p.proargnames[i + 1]);
        END IF;
        query := query OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('name', p.proargnames[i + 1], 'in', 'query',
            'required', i OPERATOR(pg_catalog.<) (p.pronargs OPERATOR(pg_catalog.-) p.pronargdefaults), 'schema', arg_schema);
    END LOOP;
    IF fact ? 'page' THEN
        body := pg_catalog.jsonb_build_object('type', 'object', 'required', '["data", "next_cursor", "has_more"]'::jsonb,
            'properties', pg_catalog.jsonb_build_object(
                'data', pg_catalog.jsonb_build_object('type', 'array', 'items',
                    pg_catalog.jsonb_build_object('$ref', '#/components/schemas/' OPERATOR(pg_catalog.||) (fact OPERATOR(pg_catalog.->>) 'page'))),
                'next_cursor', '{"type": ["string", "null"], "description": "The cursor of the next page; null on the last."}'::jsonb,
                'has_more', '{"type": "boolean"}'::jsonb));
        headers := '{"Link": {"$ref": "#/components/headers/Link"}}';
    ELSIF fact ? 'body' THEN
        body := fact OPERATOR(pg_catalog.->) 'body';
    ELSIF p.prorettype OPERATOR(pg_catalog.<>) 'void'::regtype THEN
        body := CASE WHEN (SELECT t.typrelid FROM pg_catalog.pg_type t WHERE t.oid OPERATOR(pg_catalog.=) p.prorettype) OPERATOR(pg_catalog.<>) 0
                     THEN pg_catalog.jsonb_build_object('$ref', '#/components/schemas/' OPERATOR(pg_catalog.||)
                              (SELECT t.typname FROM pg_catalog.pg_type t WHERE t.oid OPERATOR(pg_catalog.=) p.prorettype))
                     ELSE @extschema@.openapi_type(p.prorettype, true) END;
        IF p.proretset THEN body := pg_catalog.jsonb_build_object('type', 'array', 'items', body); END IF;
    END IF;
    status := coalesce(fact OPERATOR(pg_catalog.->>) 'status', CASE WHEN body IS NULL THEN '204' ELSE '200' END);
    security := '[{"bearer": []}, {"apiKey": []}, {"cookie": []}]'::jsonb OPERATOR(pg_catalog.||)
                CASE WHEN fact ? 'anonymous' THEN '[{}]'::jsonb ELSE '[]' END;
    op := pg_catalog.jsonb_build_object('operationId', p.proname, 'tags', '["Functions"]'::jsonb,
        'summary', pg_catalog.split_part(coalesce(pg_catalog.obj_description(f, 'pg_proc'), p.proname::text), E'\n', 1),
        'description', coalesce(pg_catalog.obj_description(f, 'pg_proc'), p.proname::text),
        'responses', pg_catalog.jsonb_build_object(status, @extschema@.openapi_response(
                         CASE WHEN body IS NULL THEN 'Done; no body.' ELSE 'Done.' END, body, headers))
            OPERATOR(pg_catalog.||) @extschema@.openapi_errors(coalesce(fact OPERATOR(pg_catalog.->) 'errors',
                CASE WHEN fact ? 'page' THEN facts OPERATOR(pg_catalog.->) 'page_errors' ELSE facts OPERATOR(pg_catalog.#>) '{errors,rpc}' END)));
    IF p.provolatile OPERATOR(pg_catalog.<>) 'v' THEN
        ops := pg_catalog.jsonb_build_object('get', op OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(
            'operationId', p.proname OPERATOR(pg_catalog.||) '_get', 'security', security, 'parameters', query));
    END IF;
    IF NOT fact ? 'anonymous' THEN
        security := '[{"bearer": []}, {"apiKey": []}, {"cookie": [], "csrf": []}]';
        params := '[{"$ref": "#/components/parameters/X-CSRF-Token"}]';
    END IF;
    RETURN ops OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('post', op OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(
        'security', security, 'parameters', params,
        'requestBody', pg_catalog.jsonb_build_object('required', p.pronargs OPERATOR(pg_catalog.>) 0,
            'content', pg_catalog.jsonb_build_object('application/json', pg_catalog.jsonb_build_object('schema',
                pg_catalog.jsonb_build_object('type', 'object', 'properties', props, 'required', required))))));
END
$$;
COMMENT ON FUNCTION @extschema@.openapi_function_path(oid) IS 'The OpenAPI path item of an api function: POST with its arguments as a JSON body, and GET with them in the query string when it does not write.';

-- GET /: PostgREST's db-root-spec.
CREATE FUNCTION api.openapi() RETURNS json
    LANGUAGE sql STABLE SECURITY INVOKER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.jsonb_build_object(
        'openapi', '3.1.0',
        'info', pg_catalog.jsonb_build_object('title', 'task_api', 'version',
            (SELECT e.extversion FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'task_api'),
            'description', coalesce(pg_catalog.obj_description('api'::regnamespace, 'pg_namespace') OPERATOR(pg_catalog.||) E'\n\n', '')
                OPERATOR(pg_catalog.||) 'This document lists what the requesting role may do.'),
        'servers', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('url', '/')),
        'paths', (SELECT coalesce(pg_catalog.jsonb_object_agg(x.path, x.item), '{}')
                    FROM (SELECT '/' OPERATOR(pg_catalog.||) c.relname AS path, @extschema@.openapi_view_path(c.oid) AS item
                            FROM pg_catalog.pg_class c
                           WHERE c.relnamespace OPERATOR(pg_catalog.=) 'api'::regnamespace AND c.relkind IN ('v', 'r')
                          UNION ALL
                          SELECT '/rpc/' OPERATOR(pg_catalog.||) p.proname, @extschema@.openapi_function_path(p.oid)
                            FROM pg_catalog.pg_proc p
                           WHERE p.pronamespace OPERATOR(pg_catalog.=) 'api'::regnamespace AND p.prokind OPERATOR(pg_catalog.=) 'f'
                             AND p.prorettype OPERATOR(pg_catalog.<>) 'trigger'::regtype
                             AND pg_catalog.has_function_privilege(p.oid, 'EXECUTE')) x
                   WHERE x.item OPERATOR(pg_catalog.<>) '{}')
                 OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('/', pg_catalog.jsonb_build_object('get', pg_catalog.jsonb_build_object(
                     'operationId', 'openapi_document', 'tags', '["Functions"]'::jsonb, 'summary', 'This document.',
                     'security', '[{}, {"bearer": []}, {"apiKey": []}, {"cookie": []}]'::jsonb,
                     'responses', pg_catalog.jsonb_build_object('200', @extschema@.openapi_response('The OpenAPI document for the caller.',
                                      '{"type": "object"}', NULL)
                                      OPERATOR(pg_catalog.||) '{"content": {"application/openapi+json": {"schema": {"type": "object"}},
                                                                            "application/json": {"schema": {"type": "object"}}}}'::jsonb)
                         OPERATOR(pg_catalog.||) @extschema@.openapi_errors('["rate_limited", "unauthenticated"]')))),
        'components', pg_catalog.jsonb_build_object(
            'securitySchemes', '{
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "The token of signup or login (a session)."},
                "apiKey": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "The key of create_api_key, sent as a bearer token."},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "__Host-task_api_session", "description": "The session cookie signup and login set (HttpOnly)."},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token", "description": "The value of the __Host-task_api_csrf cookie; required on writes by cookie."}}'::jsonb,
            'schemas', @extschema@.openapi_schemas() OPERATOR(pg_catalog.||) '{
                "Error": {"type": "object", "required": ["code", "message"],
                          "properties": {"code": {"type": "string", "description": "A code of task_api.error_codes, or PostgREST''s PGRST..."},
                                         "message": {"type": "string"},
                                         "details": {"type": ["string", "null"], "description": "validation_failed: the JSON text of an array of {field, problem}."},
                                         "hint": {"type": ["string", "null"]}}},
                "Session": {"type": "object", "required": ["user_id", "token", "token_type", "expires_at"],
                            "properties": {"user_id": {"type": "string", "format": "uuid"}, "token": {"type": "string"},
                                           "token_type": {"type": "string", "enum": ["bearer"]},
                                           "expires_at": {"type": "string", "format": "date-time"}}},
                "ApiKeyCreated": {"type": "object", "required": ["id", "key", "name", "expires_at"],
                                  "properties": {"id": {"type": "string", "format": "uuid"},
                                                 "key": {"type": ["string", "null"], "description": "The key, shown once; null once revoked or expired."},
                                                 "name": {"type": "string"},
                                                 "expires_at": {"type": ["string", "null"], "format": "date-time"}}}}'::jsonb,
            'parameters', '{
                "select": {"name": "select", "in": "query", "schema": {"type": "string"}, "description": "The columns and embeddings to return."},
                "order": {"name": "order", "in": "query", "schema": {"type": "string"}, "description": "e.g. created_at.desc"},
                "limit": {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                "offset": {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                "PreferCount": {"name": "Prefer", "in": "header", "schema": {"type": "string"}, "description": "count=exact for a total in Content-Range."},
                "Prefer": {"name": "Prefer", "in": "header", "schema": {"type": "string"}, "description": "return=representation to get the rows written."},
                "If-Match": {"name": "If-Match", "in": "header", "schema": {"type": "string"}, "description": "The ETag read (a quoted version): the write proceeds only on that version, else 412."},
                "Idempotency-Key": {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "minLength": 1, "maxLength": 255}, "description": "Send a write again with the same key and it is applied once; the replay carries Idempotent-Replayed."},
                "X-CSRF-Token": {"name": "X-CSRF-Token", "in": "header", "schema": {"type": "string"}, "description": "Required on writes authenticated by the session cookie."}}'::jsonb,
            'headers', '{
                "RateLimit": {"schema": {"type": "string"}, "description": "The caller''s remaining quota."},
                "RateLimit-Policy": {"schema": {"type": "string"}, "description": "The caller''s quota policy."},
                "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before trying again."},
                "ETag": {"schema": {"type": "string"}, "description": "The version of the one row written, quoted."},
                "Location": {"schema": {"type": "string"}, "description": "Where the row created is."},
                "Link": {"schema": {"type": "string"}, "description": "rel=next: the next page."},
                "Content-Range": {"schema": {"type": "string"}},
                "Idempotent-Replayed": {"schema": {"type": "string", "enum": ["true"]}, "description": "This answer is the stored answer of an earlier request with the same Idempotency-Key."}}'::jsonb)
    )::json
$$;
COMMENT ON FUNCTION api.openapi() IS E'The OpenAPI 3.1 document at / (PostgREST''s db-root-spec): what the requesting role may do.\n\nArguments: none.';
REVOKE ALL ON FUNCTION @extschema@.openapi_facts(), @extschema@.openapi_type(oid, boolean), @extschema@.openapi_schemas(),
    @extschema@.openapi_errors(jsonb), @extschema@.openapi_rate_headers(), @extschema@.openapi_response(text, jsonb, jsonb),
    @extschema@.openapi_view_path(oid), @extschema@.openapi_function_path(oid), api.openapi() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.openapi_facts(), @extschema@.openapi_type(oid, boolean), @extschema@.openapi_schemas(),
    @extschema@.openapi_errors(jsonb), @extschema@.openapi_rate_headers(), @extschema@.openapi_response(text, jsonb, jsonb),
    @extschema@.openapi_view_path(oid), @extschema@.openapi_function_path(oid), api.openapi() TO task_api_anon, task_api_user;

-- Issue 23: plans that read only the page
-- The index the prepare step built (sql/prepare/task_api_prepare_upgrade.sql);
-- built here only if it is missing.
DO $$ BEGIN
    IF pg_catalog.to_regclass('@extschema@.tasks_live_created_idx') IS NULL THEN
        CREATE INDEX tasks_live_created_idx ON @extschema@.tasks (created_at DESC, id DESC)
            WHERE deleted_at IS NULL;
    END IF;
END $$;

-- Issue 19: retention of events, sessions and API keys (sql/install/82_retention.sql)
CREATE FUNCTION @extschema@.purge_expired_events(batch_size integer DEFAULT 10000, max_batches integer DEFAULT NULL)
    RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cutoff timestamptz := pg_catalog.now() - pg_catalog.current_setting('task_api.events_retention')::interval;
    bound bigint;
    last_id bigint := 0;
    batch_max bigint;
    n bigint;
    total bigint := 0;
    batches integer := 0;
BEGIN
    IF batch_size IS NULL OR batch_size NOT BETWEEN 1 AND 1000000 OR max_batches < 1 THEN
        RAISE EXCEPTION 'batch_size must be 1 to 1000000 and max_batches at least 1'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- What every registered consumer has acknowledged (no consumer: no bound).
    SELECT pg_catalog.min(c.acked_id) INTO bound FROM @extschema@.event_consumers c;
    bound := coalesce(bound, 9223372036854775807);
    LOOP
        EXIT WHEN max_batches IS NOT NULL AND batches >= max_batches;
        WITH doomed AS (
            SELECT e.id FROM @extschema@.events e
             WHERE e.id > last_id AND e.id <= bound AND e.occurred_at < cutoff
             ORDER BY e.id LIMIT batch_size
        ), gone AS (
            DELETE FROM @extschema@.events e USING doomed d WHERE e.id = d.id RETURNING e.id
        )
        SELECT pg_catalog.count(*), pg_catalog.max(g.id) INTO n, batch_max FROM gone g;
        total := total + n;
        batches := batches + 1;
        EXIT WHEN n < batch_size;
        last_id := batch_max;
    END LOOP;
    RETURN total;
END
$$;
COMMENT ON FUNCTION @extschema@.purge_expired_events(integer, integer) IS E'Delete the events older than task_api.events_retention that every registered consumer has acknowledged (all of them past that age when no consumer is registered), in id order, batch_size rows a statement; returns how many. max_batches stops early (NULL: until none is left): call it in a loop, one transaction a call, to purge a large backlog in short transactions. task_api.purge_expired() calls it.\n\nArguments:\nbatch_size: rows deleted per statement (1 to 1000000, default 10000).\nmax_batches: most statements this call runs (NULL, the default: no limit).';

CREATE FUNCTION @extschema@.purge_expired_credentials() RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cutoff timestamptz := pg_catalog.now() - pg_catalog.current_setting('task_api.credentials_grace')::interval;
    sessions_purged bigint;
    keys_purged bigint;
    scrapers_purged bigint;
BEGIN
    -- A session or key that is gone is refused exactly as an expired or
    -- revoked one (pre_request() finds no row).
    DELETE FROM @extschema@.sessions s WHERE s.expires_at < cutoff OR s.revoked_at < cutoff;
    GET DIAGNOSTICS sessions_purged = ROW_COUNT;
    DELETE FROM @extschema@.api_keys k WHERE k.expires_at < cutoff OR k.revoked_at < cutoff;
    GET DIAGNOSTICS keys_purged = ROW_COUNT;
    DELETE FROM @extschema@.scraper_tokens t WHERE t.expires_at < cutoff OR t.revoked_at < cutoff;
    GET DIAGNOSTICS scrapers_purged = ROW_COUNT;
    RETURN sessions_purged + keys_purged + scrapers_purged;
END
$$;
COMMENT ON FUNCTION @extschema@.purge_expired_credentials() IS 'Delete the sessions expired or revoked, the API keys and the scraper tokens revoked or expired, longer than task_api.credentials_grace ago; returns how many. task_api.purge_expired() calls it.';

REVOKE ALL ON FUNCTION @extschema@.purge_expired_events(integer, integer),
    @extschema@.purge_expired_credentials() FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@.purge_expired() RETURNS bigint
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

-- Issue 23: NOTIFY off the commit path (src/event_notify.c)
-- The trigger no longer sends NOTIFY in the writing transaction: a
-- background worker sends it after the commit.
COMMENT ON FUNCTION @extschema@.record_event() IS 'AFTER INSERT OR UPDATE OR DELETE row trigger: record_event(resource_type, id_col, project_id_col [, unrecorded_col ...]) appends the change to task_api.events (created, updated with the changed columns, deleted/restored by deleted_at, purged) and, once the transaction has committed, has NOTIFY task_api_events sent by the notifier worker (payload: the highest event id committed since its previous notification); updates that change only unrecorded columns record nothing.';

-- Issue 23: statements planned once per connection, not per request
-- PostgREST applies an impersonated role's settings (ALTER ROLE ... SET) in
-- every request: plan each prepared statement once per connection.  With
-- `LIMIT $1`, PostgreSQL would otherwise keep choosing a custom plan and plan
-- the page query again on every request (docs/performance.md, "Planning").
ALTER ROLE task_api_user SET plan_cache_mode = 'force_generic_plan';
-- PostgREST reads role settings with its configuration.
NOTIFY pgrst, 'reload config';

-- Issue 20: Citus
-- A query Citus can plan (sql/install/20_projects.sql; the invitation
-- functions' forms Citus can plan are in the invitations section above), then
-- task_api.distribute() and its parts (sql/install/95_citus.sql): nothing
-- else changes until a Citus coordinator calls it.
CREATE OR REPLACE FUNCTION @extschema@.check_project_name(owner_id uuid, name text, except_id uuid) RETURNS void
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
    @extschema@.citus_keep_owner(),
    @extschema@.distribute_policies(), @extschema@.citus_pre_request(), @extschema@.citus_resolve_caller(),
    @extschema@.citus_caller(),
    @extschema@.citus_project_ids(@extschema@.member_role), @extschema@.citus_has_role(uuid, @extschema@.member_role),
    @extschema@.citus_is_peer(uuid), @extschema@.citus_email(), @extschema@.citus_project_role(uuid),
    @extschema@.citus_view_rows(text, text[]),
    @extschema@.distribute_view_writes(), @extschema@.citus_event_id_range(), @extschema@.distribute_event_ids() FROM PUBLIC;

-- The read path (sql/install/96_citus_reads.sql; docs/scaling.md, "Queries Citus
-- cannot plan")
-- Queries of the single-server functions and views that Citus cannot plan,
-- in forms it can.  distribute() (95_citus.sql) calls distribute_reads() on
-- every node, which points the API's functions and views at them; a single
-- server never calls it and keeps its catalogue as installed.

-- The caller's live tasks in projects matching q: search_tasks() (45_pages.sql)
-- in PL/pgSQL, whose statements Citus plans with the values known (it cannot
-- plan a SQL function's parameters), with the caller's projects resolved
-- here, on the coordinator, not on a worker inside the shard query.
CREATE FUNCTION @extschema@.citus_search_tasks(projects uuid[], q text) RETURNS SETOF uuid
    LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL RESTRICTED
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    mine uuid[] := ARRAY(SELECT p.id FROM pg_catalog.unnest(projects) AS p(id)
                          WHERE p.id = ANY (@extschema@.member_project_ids('viewer')));
BEGIN
    RETURN QUERY
        SELECT t.id FROM @extschema@.tasks t
         WHERE t.deleted_at IS NULL
           AND t.project_id = ANY (mine)
           AND pg_catalog.to_tsvector('simple'::regconfig, t.title || ' ' || COALESCE(t.description, ''))
               @@ pg_catalog.websearch_to_tsquery('simple'::regconfig, q);
END
$$;
COMMENT ON FUNCTION @extschema@.citus_search_tasks(uuid[], text) IS 'On Citus: search_tasks() in a form Citus can plan.';

-- GET /rpc/tasks_page on Citus.  On one server a page reads, per project of
-- the caller, one ordered index range that stops after page_size + 1 rows
-- (unnest(projects) CROSS JOIN LATERAL (... LIMIT)), then merges; Citus
-- cannot push that LATERAL down to the shards.  Here the page is one query
-- over the caller's projects (project_id = ANY): Citus prunes to their
-- shards, each shard returns its first page_size + 1 rows in order (the same
-- index, one range per project and key), and the coordinator merges them.
-- The cursor's position is a parameter (no CTE), and a cursor from one form
-- resumes in the other: the arguments, checks, fingerprint and answer are
-- api.tasks_page()'s.
CREATE FUNCTION @extschema@.citus_tasks_page(project_id uuid, status @extschema@.task_status, assignee_id uuid,
                                             q text, sort text, direction text, page_size integer, cursor text) RETURNS json
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
    after_key text;
    after_id uuid;
    ranges text[];
    filters text := '';
    branch text;
    projects uuid[];
    matches uuid[];
    sql text := '';
    rows_ api.tasks[] := '{}';
    r record;
BEGIN
    PERFORM @extschema@.check_page_args(sort_, ARRAY['created_at', 'updated_at', 'due_date', 'priority'], dir, n);
    PERFORM @extschema@.check_search_q(q_norm);
    fp := jsonb_build_array('api.tasks_page', project_id, status, assignee_id, q_norm, sort_, dir)::text;
    key_expr := 't.' || CASE sort_ WHEN 'updated_at' THEN 'updated_at' WHEN 'due_date' THEN 'due_date'
                                   WHEN 'priority' THEN 'priority' ELSE 'created_at' END;
    key_type := CASE sort_ WHEN 'due_date' THEN 'date' WHEN 'priority' THEN 'smallint' ELSE 'timestamptz' END;
    IF cursor IS NOT NULL THEN
        -- The sort key goes back to its type in the query, in this session.
        EXECUTE format('SELECT d.sort_key::text, d.last_id FROM @extschema@.cursor_decode($1, $2, NULL::%s) d', key_type)
            INTO after_key, after_id USING cursor, fp;
    END IF;
    -- The keyset ranges after the cursor, as in api.tasks_page(), from $5 and $6.
    ranges := @extschema@.task_page_ranges(key_expr, sort_, dir, cursor IS NOT NULL, after_key IS NULL,
                                           format('$5::%s', key_type), '$6');
    IF status IS NOT NULL THEN
        filters := filters || ' AND t.status = $2';
    END IF;
    IF assignee_id IS NOT NULL THEN
        filters := filters || ' AND t.assignee_id = $3';
    END IF;
    IF q_norm IS NOT NULL THEN
        filters := filters || ' AND t.id = ANY ($4)';
    END IF;
    projects := CASE WHEN project_id IS NOT NULL THEN ARRAY[project_id]
                     ELSE @extschema@.member_project_ids('viewer') END;
    IF q_norm IS NOT NULL THEN
        matches := ARRAY(SELECT s.id FROM @extschema@.citus_search_tasks(projects, q_norm) AS s(id));
    END IF;
    FOREACH branch IN ARRAY ranges LOOP
        IF sql <> '' THEN
            sql := sql || ' UNION ALL ';
        END IF;
        sql := sql || format($q$(SELECT t, %1$s AS k FROM api.tasks t WHERE t.project_id = ANY ($1)%2$s%3$s
                                  ORDER BY %1$s %4$s, t.id %4$s LIMIT $7 + 1)$q$,
            key_expr, branch, filters, dir);
    END LOOP;
    IF cardinality(ranges) > 1 THEN
        sql := format('SELECT y.t FROM (%s) y ORDER BY y.k %s, (y.t).id %s LIMIT $7 + 1', sql, dir, dir);
    END IF;
    FOR r IN EXECUTE sql USING projects, status, assignee_id, matches, after_key, after_id, n LOOP
        rows_ := rows_ || r.t;
    END LOOP;
    RETURN @extschema@.page_tail(rows_, n, sort_, 'id', dir, fp, '/rpc/tasks_page',
        ARRAY['project_id', project_id::text, 'status', status::text, 'assignee_id', assignee_id::text,
              'q', q_norm, 'sort', sort_, 'direction', dir, 'page_size', n::text]);
END
$$;
COMMENT ON FUNCTION @extschema@.citus_tasks_page(uuid, @extschema@.task_status, uuid, text, text, text, integer, text) IS 'On Citus: api.tasks_page() as one query over the caller''s projects, which Citus pushes down to their shards and merges.';

-- GET /rpc/task_events_page on Citus: the same change as citus_tasks_page().
CREATE FUNCTION @extschema@.citus_task_events_page(project_id uuid, resource_type text, direction text,
                                                   page_size integer, cursor text) RETURNS json
    LANGUAGE plpgsql STABLE SECURITY INVOKER PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    dir text := coalesce(citus_task_events_page.direction, 'desc');
    n integer := coalesce(citus_task_events_page.page_size, 25);
    kind text := citus_task_events_page.resource_type;
    fp text;
    after bigint;
    projects uuid[];
    rows_ api.task_events[] := '{}';
    r api.task_events;
BEGIN
    PERFORM @extschema@.check_page_args('id', ARRAY['id'], dir, n);
    IF kind IS NOT NULL AND kind NOT IN ('project', 'member', 'task') THEN
        PERFORM @extschema@.raise_error('invalid_parameter', 'resource_type must be project, member or task',
            format('resource_type was "%s".', kind), NULL);
    END IF;
    fp := jsonb_build_array('api.task_events_page', citus_task_events_page.project_id, kind, dir)::text;
    IF citus_task_events_page.cursor IS NOT NULL THEN
        SELECT d.sort_key INTO after
          FROM @extschema@.cursor_decode(citus_task_events_page.cursor, fp, NULL::bigint) AS d;
    END IF;
    projects := CASE WHEN citus_task_events_page.project_id IS NOT NULL THEN ARRAY[citus_task_events_page.project_id]
                     ELSE @extschema@.member_project_ids('viewer') END;
    FOR r IN EXECUTE format($q$
        SELECT e.* FROM api.task_events e
         WHERE e.project_id = ANY ($1) AND ($2::bigint IS NULL OR e.id %1$s $2) AND ($3::text IS NULL OR e.resource_type = $3)
         ORDER BY e.id %2$s LIMIT $4 + 1$q$,
        CASE dir WHEN 'asc' THEN '>' ELSE '<' END, dir)
        USING projects, after, kind, n
    LOOP
        rows_ := rows_ || r;
    END LOOP;
    RETURN @extschema@.page_tail(rows_, n, 'id', 'resource_id', dir, fp, '/rpc/task_events_page',
        ARRAY['project_id', citus_task_events_page.project_id::text, 'resource_type', kind,
              'direction', dir, 'page_size', n::text]);
END
$$;
COMMENT ON FUNCTION @extschema@.citus_task_events_page(uuid, text, text, integer, text) IS 'On Citus: api.task_events_page() as one query over the caller''s projects, which Citus pushes down to their shards and merges.';

-- task_api.event_consumer_health on Citus: its LATERAL outer join from the
-- reference table event_consumers to the distributed events is refused; per
-- consumer and node, the same two reads, each one query Citus pushes down
-- and merges (the first event after the node's position: per shard ORDER BY
-- id LIMIT 1), summed over the nodes.  As the tables' owner, as the view
-- reads them.  On one server (one node, 0) the same rows as the view.
CREATE FUNCTION @extschema@.citus_event_consumer_health(OUT consumer text, OUT acked_id bigint, OUT acked_at timestamptz,
                                                        OUT backlog bigint, OUT oldest_unacked_at timestamptz,
                                                        OUT oldest_unacked_age interval) RETURNS SETOF record
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
    nodes integer[] := ARRAY(SELECT n FROM @extschema@.citus_event_nodes() n ORDER BY n);
    tops bigint[] := '{}';
    pos bigint;
    first_at timestamptz;
BEGIN
    -- Per node (docs/scaling.md, "Claiming across nodes"): each node's
    -- newest event, each consumer's position there, and the first event
    -- after it; the backlog and the oldest wait over every node.
    FOR i IN 1 .. pg_catalog.cardinality(nodes) LOOP
        tops := tops || @extschema@.citus_node_top(nodes[i]);
    END LOOP;
    FOR c IN SELECT ec.name, ec.acked_id, ec.acked_at, ec.node_positions FROM @extschema@.event_consumers ec LOOP
        consumer := c.name;
        acked_id := c.acked_id;
        acked_at := c.acked_at;
        backlog := 0;
        oldest_unacked_at := NULL;
        FOR i IN 1 .. pg_catalog.cardinality(nodes) LOOP
            pos := @extschema@.citus_node_acked(c.node_positions, c.acked_id, nodes[i]);
            CONTINUE WHEN tops[i] <= pos;
            backlog := backlog + (tops[i] - pos);
            EXECUTE 'SELECT e.occurred_at FROM @extschema@.events e WHERE e.id > $1 AND e.id <= $2 ORDER BY e.id LIMIT 1'
               INTO first_at USING pos, tops[i];
            oldest_unacked_at := LEAST(oldest_unacked_at, first_at);
        END LOOP;
        oldest_unacked_age := pg_catalog.now() - oldest_unacked_at;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.citus_event_consumer_health() IS 'On Citus: the rows of task_api.event_consumer_health, read in queries Citus can plan.';

-- Functions that a view calls per row run where the rows are: on a worker,
-- inside the shard query, where reading another task_api table is a
-- distributed query Citus refuses (own_email() in api.users,
-- invitation_project_name() in api.invitations).  On Citus they read what
-- citus_pre_request() resolved on the coordinator instead: the caller's
-- email (citus_email()), and for GET /invitations alone the names of the
-- projects the caller owns or is invited to (task_api_citus.names, set by
-- citus_pre_request_reads()).
CREATE FUNCTION @extschema@.citus_pre_request_reads() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := @extschema@.current_user_id();
    ids uuid[];
    names jsonb;
BEGIN
    IF me IS NULL OR pg_catalog.current_setting('request.path', true) IS DISTINCT FROM '/invitations' THEN
        RETURN;
    END IF;
    -- One query each, with the values known: the invitee's invitations are
    -- looked up on every shard (invitations are sharded by project).
    ids := ARRAY(SELECT i.project_id FROM @extschema@.invitations i
                  WHERE i.user_id = me OR pg_catalog.lower(i.email) = pg_catalog.lower(@extschema@.citus_email()));
    ids := ids || @extschema@.member_project_ids('owner');
    SELECT pg_catalog.jsonb_object_agg(p.id, p.name) INTO names
      FROM @extschema@.projects p WHERE p.id = ANY (ids);
    EXECUTE pg_catalog.format('SET LOCAL task_api_citus.names = %L', coalesce(names, '{}'));
END
$$;
COMMENT ON FUNCTION @extschema@.citus_pre_request_reads() IS 'On Citus, part of citus_pre_request(): for GET /invitations, the names of the projects the caller owns or is invited to, SET LOCAL as task_api_citus.names.';

CREATE FUNCTION @extschema@.citus_project_name(project_id uuid) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN NULLIF(pg_catalog.current_setting('task_api_citus.names', true), '')::jsonb ->> project_id::text;
COMMENT ON FUNCTION @extschema@.citus_project_name(uuid) IS 'On Citus: the name of a project the caller owns or is invited to, from what citus_pre_request_reads() resolved for GET /invitations; else NULL.';

-- Part of distribute(), on every node: the API's functions and views above
-- point at the forms Citus can plan.  Their names, arguments, columns,
-- comments and grants stay.
CREATE FUNCTION @extschema@.distribute_reads() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ddl text := pg_catalog.current_setting('citus.enable_ddl_propagation', true);
BEGIN
    -- Each node replaces its own copy (distribute() runs this on every one).
    PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', 'off', true);
    CREATE OR REPLACE FUNCTION api.tasks_page(project_id uuid DEFAULT NULL, status @extschema@.task_status DEFAULT NULL,
                                              assignee_id uuid DEFAULT NULL, q text DEFAULT NULL,
                                              sort text DEFAULT 'created_at', direction text DEFAULT 'desc',
                                              page_size integer DEFAULT 25, cursor text DEFAULT NULL) RETURNS json
        LANGUAGE sql STABLE SECURITY INVOKER PARALLEL UNSAFE
        SET search_path = pg_catalog, pg_temp
        RETURN @extschema@.citus_tasks_page(project_id, status, assignee_id, q, sort, direction, page_size, cursor);
    CREATE OR REPLACE FUNCTION api.task_events_page(project_id uuid DEFAULT NULL, resource_type text DEFAULT NULL,
                                                    direction text DEFAULT 'desc', page_size integer DEFAULT 25,
                                                    cursor text DEFAULT NULL) RETURNS json
        LANGUAGE sql STABLE SECURITY INVOKER PARALLEL UNSAFE
        SET search_path = pg_catalog, pg_temp
        RETURN @extschema@.citus_task_events_page(project_id, resource_type, direction, page_size, cursor);
    CREATE OR REPLACE FUNCTION @extschema@.own_email(user_id uuid) RETURNS text
        LANGUAGE sql STABLE SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp
        RETURN CASE WHEN user_id OPERATOR(pg_catalog.=) @extschema@.current_user_id() THEN @extschema@.citus_email() END;
    CREATE OR REPLACE VIEW @extschema@.event_consumer_health AS
        SELECT h.consumer, h.acked_id, h.acked_at, h.backlog, h.oldest_unacked_at, h.oldest_unacked_age
          FROM @extschema@.citus_event_consumer_health() h;
    -- Consumers claim and acknowledge per node (97_citus_events.sql).
    CREATE OR REPLACE FUNCTION @extschema@.claim_events(consumer text, max integer DEFAULT 100)
        RETURNS SETOF @extschema@.events
        LANGUAGE sql VOLATILE SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp
        AS $f$ SELECT * FROM @extschema@.citus_claim_events(consumer, max) $f$;
    CREATE OR REPLACE FUNCTION @extschema@.ack_events(consumer text, last_id bigint) RETURNS bigint
        LANGUAGE sql VOLATILE SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp
        AS $f$ SELECT @extschema@.citus_ack_events(consumer, last_id) $f$;
    -- The coordinator's counters add the workers' event counters.
    CREATE OR REPLACE VIEW @extschema@.metrics AS
        SELECT m.metric, m.labels, m.type, m.value, m.help FROM @extschema@.citus_metrics_read() m;
    CREATE OR REPLACE VIEW api.invitations WITH (security_invoker = true) AS
        SELECT i.id, i.project_id, i.email, i.user_id, i.role, i.created_at, i.expires_at,
               @extschema@.citus_project_name(i.project_id) AS project_name
          FROM @extschema@.invitations i
         WHERE i.expires_at OPERATOR(pg_catalog.>) pg_catalog.now();
    -- The trash's rows are checked on the shards: against the roles
    -- citus_pre_request() resolved, not the membership cache (a look-up
    -- from a shard).
    CREATE OR REPLACE VIEW api.trash WITH (security_invoker = true) AS
        SELECT 'project'::text AS resource_type, p.id, p.id AS project_id, p.name AS title,
               p.deleted_at, p.deleted_by, p.deleted_at OPERATOR(pg_catalog.+) @extschema@.trash_retention() AS purge_after
          FROM @extschema@.projects p
         WHERE p.deleted_at IS NOT NULL AND @extschema@.citus_has_role(p.id, 'owner')
        UNION ALL
        SELECT 'task'::text, t.id, t.project_id, t.title,
               t.deleted_at, t.deleted_by, t.deleted_at OPERATOR(pg_catalog.+) @extschema@.trash_retention()
          FROM @extschema@.tasks t
          JOIN @extschema@.projects p ON p.id OPERATOR(pg_catalog.=) t.project_id AND p.deleted_at IS NULL
         WHERE t.deleted_at IS NOT NULL AND NOT t.deleted_with_project
           AND @extschema@.citus_has_role(t.project_id, 'editor');
    -- The triggers' checks of the caller's role (tasks_update(), ... one per
    -- row) read what citus_pre_request() resolved.
    CREATE OR REPLACE FUNCTION @extschema@.project_role(project_id uuid) RETURNS @extschema@.member_role
        LANGUAGE sql STABLE STRICT PARALLEL RESTRICTED
        RETURN @extschema@.citus_project_role(project_id);
    GRANT EXECUTE ON FUNCTION @extschema@.citus_tasks_page(uuid, @extschema@.task_status, uuid, text, text, text, integer, text),
        @extschema@.citus_task_events_page(uuid, text, text, integer, text),
        @extschema@.citus_search_tasks(uuid[], text), @extschema@.citus_project_name(uuid) TO task_api_user;
    GRANT EXECUTE ON FUNCTION @extschema@.citus_event_consumer_health(), @extschema@.citus_metrics_read() TO pg_monitor;
    PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', coalesce(ddl, 'on'), true);
END
$$;
COMMENT ON FUNCTION @extschema@.distribute_reads() IS 'Part of distribute(), on every node: api.tasks_page, api.task_events_page, own_email(), event_consumer_health, api.invitations and api.trash read in forms Citus can plan, project_role() reads the resolved caller, claim_events() and ack_events() work per node and task_api.metrics adds the workers'' event counters (docs/scaling.md).';

REVOKE ALL ON FUNCTION @extschema@.citus_search_tasks(uuid[], text),
    @extschema@.citus_tasks_page(uuid, @extschema@.task_status, uuid, text, text, text, integer, text),
    @extschema@.citus_task_events_page(uuid, text, text, integer, text),
    @extschema@.citus_event_consumer_health(), @extschema@.citus_pre_request_reads(),
    @extschema@.citus_project_name(uuid), @extschema@.distribute_reads() FROM PUBLIC;

-- Issue 23: memberships cached across other transactions' writes (src/membership.c)
COMMENT ON FUNCTION @extschema@.membership_changed() IS 'Statement trigger: marks the callers'' cached memberships and credential checks stale (this session''s now, others'' at commit).';
CREATE TRIGGER users_changed AFTER INSERT OR DELETE OR TRUNCATE ON @extschema@.users
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.membership_changed();
ALTER TABLE @extschema@.project_members ENABLE ALWAYS TRIGGER project_members_changed;
ALTER TABLE @extschema@.projects ENABLE ALWAYS TRIGGER projects_changed;
ALTER TABLE @extschema@.users ENABLE ALWAYS TRIGGER users_changed;
ALTER TABLE @extschema@.sessions ENABLE ALWAYS TRIGGER sessions_changed;
ALTER TABLE @extschema@.api_keys ENABLE ALWAYS TRIGGER api_keys_changed;

-- Issue 23: the response body (sql/install/89_response_body.sql, src/json_agg.c)
-- PostgREST writes every response body as json_agg(_postgrest_t), the name
-- unqualified, under a search_path that starts with api; a row of its
-- sub-query is a record.  api.json_agg(record) takes a record exactly, so
-- PostgreSQL chooses it over pg_catalog.json_agg(anyelement): the same text,
-- byte for byte, with each column's type looked up once per response
-- instead of once per value (src/json_agg.c; docs/performance.md).
CREATE FUNCTION @extschema@.json_agg_rows_step(internal, record) RETURNS internal
    AS 'MODULE_PATHNAME', 'task_api_json_agg_rows_step' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.json_agg_rows_step(internal, record) IS 'Transition of api.json_agg(record): one more row written as JSON.';
CREATE FUNCTION @extschema@.json_agg_rows_final(internal) RETURNS json
    AS 'MODULE_PATHNAME', 'task_api_json_agg_rows_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.json_agg_rows_final(internal) IS 'Final function of api.json_agg(record): the array closed (NULL for no rows).';
CREATE AGGREGATE api.json_agg(record) (
    SFUNC = @extschema@.json_agg_rows_step,
    STYPE = internal,
    FINALFUNC = @extschema@.json_agg_rows_final,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE api.json_agg(record) IS 'The JSON array of rows, the same text as pg_catalog.json_agg(); PostgREST''s response bodies use it (src/json_agg.c).';
REVOKE ALL ON FUNCTION @extschema@.json_agg_rows_step(internal, record), @extschema@.json_agg_rows_final(internal),
    api.json_agg(record) FROM PUBLIC;
-- Every role that can see the api schema writes its responses with it.
GRANT EXECUTE ON FUNCTION api.json_agg(record) TO task_api_anon, task_api_user, task_api_metrics;

-- Issue 20: Citus, the failures left
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

REVOKE ALL ON FUNCTION @extschema@.citus_unassign(), @extschema@.citus_api_keys_delete() FROM PUBLIC;

-- Issue 23: the request gate inside PostgREST's set_config() statement (src/pre_request.c)
COMMENT ON FUNCTION @extschema@.pre_request() IS 'The request gate as PostgREST''s db-pre-request, needed only when the library is not preloaded: timeouts, rate limit, in-flight slot, then the caller''s identity. Does nothing in a request the preloaded library''s gate has checked (docs/operations.md#the-request-gate).';

-- Issue 20: Citus, events per node (sql/install/97_citus_events.sql)
-- Each node draws the ids of the events its shards record from a range of
-- its own (citus_event_id_range(): group id << 48 and up), and the bound
-- under which claim_events() may hand events out (events_claim_bound(),
-- src/events_claim.c) holds per node.  So on a distributed database a
-- consumer claims per node: distribute_reads() points claim_events() and
-- ack_events() at the functions below, which take each node's bound, hand
-- out the union of each node's next events, and keep one position per node
-- in event_consumers.node_positions; event_consumer_health sums the nodes.
-- On one server none of this is called: claim_events() and ack_events() stay
-- as installed.

ALTER TABLE @extschema@.event_consumers ADD COLUMN node_positions jsonb;
COMMENT ON COLUMN @extschema@.event_consumers.node_positions IS 'On Citus: the position per node, {"<group id>": {"acked_id": ..., "claimed_id": ...}} (a node''s event ids are its group id << 48 and up); a node missing starts after acked_id when acked_id is in its range, else at its first event. NULL on one server.';

-- The nodes whose events a consumer claims: 0 (the coordinator, and the ids
-- of events written before distribute()) and every primary worker group.
-- Without Citus: 0 alone.
CREATE FUNCTION @extschema@.citus_event_nodes() RETURNS SETOF integer
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_node') IS NULL THEN
        RETURN NEXT 0;
        RETURN;
    END IF;
    RETURN QUERY EXECUTE 'SELECT 0 UNION SELECT n.groupid FROM pg_catalog.pg_dist_node n WHERE n.noderole = ''primary''';
END
$$;
COMMENT ON FUNCTION @extschema@.citus_event_nodes() IS 'On Citus: the node groups whose event id ranges consumers claim from (0 and every primary worker group); 0 alone without Citus.';

-- A consumer's acknowledged position on a node: its entry in node_positions,
-- else acked_id if acked_id is in the node's range (a consumer from before
-- distribute() continues there), else the node's start (all its events).
CREATE FUNCTION @extschema@.citus_node_acked(positions jsonb, acked_id bigint, node integer) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN coalesce((positions -> node::text ->> 'acked_id')::bigint,
                    CASE WHEN acked_id >> 48 = node THEN acked_id ELSE node::bigint << 48 END);
COMMENT ON FUNCTION @extschema@.citus_node_acked(jsonb, bigint, integer) IS 'On Citus: the consumer''s acknowledged position on a node, from event_consumers.node_positions and acked_id.';

-- Up to where ack_events() accepts on a node: the node's part of the latest
-- batch, else its acknowledged position.
CREATE FUNCTION @extschema@.citus_node_claimed(positions jsonb, acked_id bigint, node integer) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN coalesce((positions -> node::text ->> 'claimed_id')::bigint,
                    @extschema@.citus_node_acked(positions, acked_id, node));
COMMENT ON FUNCTION @extschema@.citus_node_claimed(jsonb, bigint, integer) IS 'On Citus: the last event id of the consumer''s latest batch on a node (its acknowledged position when none).';

-- The newest event id in a node's range (the node's start when it has
-- none): one descent of events_id_idx per shard (distribute_events()).
CREATE FUNCTION @extschema@.citus_node_top(node integer) RETURNS bigint
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    top bigint;
BEGIN
    EXECUTE 'SELECT pg_catalog.max(e.id) FROM @extschema@.events e WHERE e.id > $1 AND e.id < $2'
       INTO top USING node::bigint << 48, (node::bigint + 1) << 48;
    RETURN coalesce(top, node::bigint << 48);
END
$$;
COMMENT ON FUNCTION @extschema@.citus_node_top(integer) IS 'On Citus: the newest event id in a node''s range, or the range''s start when it has none.';

-- Every node at its newest event: node_positions for a consumer that starts
-- at the current end (what coalesce(max(id), 0) is on one server).
CREATE FUNCTION @extschema@.citus_event_positions() RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    RETURN (SELECT pg_catalog.jsonb_object_agg(n.node, pg_catalog.jsonb_build_object('acked_id', n.top, 'claimed_id', n.top))
              FROM (SELECT g AS node, @extschema@.citus_node_top(g) AS top FROM @extschema@.citus_event_nodes() g) n);
COMMENT ON FUNCTION @extschema@.citus_event_positions() IS 'On Citus: node_positions with every node at its newest event, for a consumer that starts at the current end.';

-- Each node's claim bound: this node's own, and every worker's, each
-- computed on the node that draws the ids (run_command_on_workers(), one
-- connection per worker, outside this transaction: it only reads shared
-- memory and the sequence).  A worker that does not answer is left out
-- (its events wait; a WARNING says which).  A node holding a prepared
-- transaction from before its server started (whose first event id its
-- shared memory lost) hands out nothing until Citus's recovery has
-- committed or rolled it back: its bound is 1.
CREATE FUNCTION @extschema@.citus_claim_bounds(OUT node integer, OUT bound bigint) RETURNS SETOF record
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    w record;
BEGIN
    EXECUTE 'SELECT g.groupid FROM pg_catalog.pg_dist_local_group g' INTO node;
    bound := @extschema@.citus_node_claim_bound();
    RETURN NEXT;
    FOR w IN EXECUTE 'SELECT * FROM pg_catalog.run_command_on_workers($c$SELECT pg_catalog.concat(g.groupid, '':'', @extschema@.citus_node_claim_bound()) FROM pg_catalog.pg_dist_local_group g$c$)' LOOP
        IF NOT w.success THEN
            RAISE WARNING 'claim_events: the worker %:% did not give its claim bound: %', w.nodename, w.nodeport, w.result;
            CONTINUE;
        END IF;
        node := pg_catalog.split_part(w.result, ':', 1)::integer;
        bound := pg_catalog.split_part(w.result, ':', 2)::bigint;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.citus_claim_bounds() IS 'On Citus: every node''s claim bound (events_claim_bound() on the node), for citus_claim_events().';

-- This node's claim bound on Citus: events_claim_bound(), which counts the
-- prepared transactions this server knows of, or 1 (nothing) while a
-- prepared transaction of the database is older than the server.
CREATE FUNCTION @extschema@.citus_node_claim_bound() RETURNS bigint
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
    RETURN CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_prepared_xacts x
                              WHERE x.database = pg_catalog.current_database()
                                AND x.prepared < pg_catalog.pg_postmaster_start_time())
                THEN 1 ELSE @extschema@.events_claim_bound() END;
COMMENT ON FUNCTION @extschema@.citus_node_claim_bound() IS 'On Citus: this node''s claim bound, events_claim_bound(), or 1 while a prepared transaction older than the server (its first event id unknown) is pending.';

-- claim_events() on Citus.  The same checks and the same lock as on one
-- server; then each node's bound first and, in statements after it (a new
-- snapshot on each node), each node's next events under its bound, after
-- its position.  The batch interleaves the nodes (each node's first event,
-- then each one's second, ...), so a busy node does not hold the others
-- back; within a node the events come in id order, which is what a
-- consumer acknowledges: ack_events() per node.
CREATE FUNCTION @extschema@.citus_claim_events(consumer text, max integer DEFAULT 100) RETURNS SETOF @extschema@.events
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c @extschema@.event_consumers;
    b record;
    e @extschema@.events;
    pos bigint;
    r integer;
    evs @extschema@.events[] := '{}';
    ranks integer[] := '{}';
    nodes integer[] := '{}';
    acked jsonb := '{}';
    claimed jsonb := '{}';
    positions jsonb;
    last_id bigint;
    n bigint := 0;
BEGIN
    c := @extschema@.claim_consumer(consumer, citus_claim_events.max);
    IF c.name IS NULL THEN
        RETURN;  -- another worker of this consumer holds its batch
    END IF;
    FOR b IN SELECT * FROM @extschema@.citus_claim_bounds() cb ORDER BY cb.node LOOP
        pos := @extschema@.citus_node_acked(c.node_positions, c.acked_id, b.node);
        acked := acked || pg_catalog.jsonb_build_object(b.node, pos);
        r := 0;
        -- A new statement: a snapshot on each node taken after its bound.
        FOR e IN EXECUTE 'SELECT * FROM @extschema@.events ev WHERE ev.id > $1 AND ev.id < $2 ORDER BY ev.id LIMIT $3'
                 USING pos, LEAST(b.bound, (b.node::bigint + 1) << 48), citus_claim_events.max LOOP
            r := r + 1;
            evs := evs || e;
            ranks := ranks || r;
            nodes := nodes || b.node;
        END LOOP;
    END LOOP;
    FOR e IN SELECT (evs[o.i]).* FROM pg_catalog.generate_subscripts(evs, 1) o(i)
              ORDER BY ranks[o.i], nodes[o.i] LIMIT citus_claim_events.max LOOP
        claimed := claimed || pg_catalog.jsonb_build_object(e.id >> 48, e.id);
        last_id := e.id;
        n := n + 1;
        RETURN NEXT e;
    END LOOP;
    SELECT pg_catalog.jsonb_object_agg(a.key, pg_catalog.jsonb_build_object(
               'acked_id', a.value::bigint, 'claimed_id', coalesce((claimed ->> a.key)::bigint, a.value::bigint)))
      INTO positions FROM pg_catalog.jsonb_each_text(acked) a;
    UPDATE @extschema@.event_consumers ec
       SET node_positions = coalesce(ec.node_positions, '{}') || coalesce(positions, '{}'),
           claimed_id = coalesce(last_id, c.acked_id)
     WHERE ec.name = consumer;
    PERFORM @extschema@.metrics_count_events('claimed', n);
    RETURN;
END
$$;
COMMENT ON FUNCTION @extschema@.citus_claim_events(text, integer) IS 'On Citus, claim_events(): each node''s next events under its own claim bound, after the consumer''s position on that node, interleaved across nodes and in id order within each, at most max in all; acknowledge per node with ack_events().';

-- ack_events() on Citus: the position of the node whose range holds last_id
-- (last_id >> 48 is its group id) moves; the others stay.  acked_id keeps
-- what it means on one server, every event up to it acknowledged: the
-- lowest node's position.
CREATE FUNCTION @extschema@.citus_ack_events(consumer text, last_id bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c @extschema@.event_consumers;
    node integer;
    pos bigint;
    upto bigint;
    positions jsonb;
BEGIN
    c := @extschema@.ack_consumer(consumer, last_id);
    node := (last_id >> 48)::integer;
    pos := @extschema@.citus_node_acked(c.node_positions, c.acked_id, node);
    upto := @extschema@.citus_node_claimed(c.node_positions, c.acked_id, node);
    IF last_id > upto THEN
        RAISE EXCEPTION 'event % was not handed out to consumer "%"', last_id, consumer USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('The latest batch ends at event %s on node %s.', upto, node);
    END IF;
    IF last_id <= pos THEN
        RETURN pos;
    END IF;
    positions := coalesce(c.node_positions, '{}')
                 || pg_catalog.jsonb_build_object(node, pg_catalog.jsonb_build_object('acked_id', last_id, 'claimed_id', upto));
    UPDATE @extschema@.event_consumers ec
       SET node_positions = positions,
           acked_id = (SELECT pg_catalog.min(@extschema@.citus_node_acked(positions, c.acked_id, g))
                         FROM @extschema@.citus_event_nodes() g),
           acked_at = now()
     WHERE ec.name = consumer;
    PERFORM @extschema@.metrics_count_events('acknowledged', count(*)) FROM @extschema@.events ev
      WHERE ev.id > pos AND ev.id <= last_id;
    RETURN last_id;
END
$$;
COMMENT ON FUNCTION @extschema@.citus_ack_events(text, bigint) IS 'On Citus, ack_events(): acknowledge the consumer''s events up to last_id on the node whose range holds it (at most that node''s part of the latest batch); returns the node''s new position.';

-- task_api.metrics on the coordinator: the events' counters add the
-- workers' (events are recorded there, in each worker's shared memory; one
-- run_command_on_workers() per read).  A worker that does not answer adds
-- nothing.  Elsewhere (a worker), this node's counters alone.
CREATE FUNCTION @extschema@.citus_metrics_read(OUT metric text, OUT labels text, OUT type text, OUT value bigint, OUT help text)
    RETURNS SETOF record
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g integer;
    workers jsonb := '{}';
    w record;
    kv record;
BEGIN
    EXECUTE 'SELECT g.groupid FROM pg_catalog.pg_dist_local_group g' INTO g;
    IF g = 0 THEN
        FOR w IN EXECUTE 'SELECT * FROM pg_catalog.run_command_on_workers($c$SELECT coalesce(pg_catalog.jsonb_object_agg(m.labels, m.value), ''{}'') FROM @extschema@.metrics_read() m WHERE m.metric = ''task_api_events_total''$c$)' LOOP
            CONTINUE WHEN NOT w.success;
            FOR kv IN SELECT * FROM pg_catalog.jsonb_each_text(w.result::jsonb) LOOP
                workers := workers || pg_catalog.jsonb_build_object(kv.key, coalesce((workers ->> kv.key)::bigint, 0) + kv.value::bigint);
            END LOOP;
        END LOOP;
    END IF;
    RETURN QUERY
        SELECT m.metric, m.labels, m.type,
               m.value + CASE WHEN m.metric = 'task_api_events_total' THEN coalesce((workers ->> m.labels)::bigint, 0) ELSE 0 END,
               m.help
          FROM @extschema@.metrics_read() m;
END
$$;
COMMENT ON FUNCTION @extschema@.citus_metrics_read() IS 'On Citus: metrics_read(), with the workers'' event counters added on the coordinator (task_api.metrics reads it after distribute()).';

CREATE FUNCTION @extschema@.citus_notify_at_commit() RETURNS void
    AS 'MODULE_PATHNAME', 'task_api_citus_notify_at_commit' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.citus_notify_at_commit() IS 'On a Citus coordinator, from citus_pre_request() for a request that may write: at commit, the notifier reads the newest committed event id (recorded on the workers) and sends NOTIFY task_api_events with it.';

-- Part of distribute(): an index on the events' id.  The shards' primary
-- key is (project_id, id); a node's claim, its newest event and a
-- consumer's first unacknowledged event read by id alone (per shard, one
-- descent instead of a scan).
CREATE FUNCTION @extschema@.distribute_events() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    CREATE INDEX IF NOT EXISTS events_id_idx ON @extschema@.events (id);
END
$$;
COMMENT ON FUNCTION @extschema@.distribute_events() IS 'Part of distribute(): an index on the events'' id on every shard, for the claims and consumer health per node.';

REVOKE ALL ON FUNCTION @extschema@.citus_event_nodes(), @extschema@.citus_node_acked(jsonb, bigint, integer),
    @extschema@.citus_node_claimed(jsonb, bigint, integer), @extschema@.citus_node_top(integer),
    @extschema@.citus_event_positions(), @extschema@.citus_claim_bounds(), @extschema@.citus_node_claim_bound(),
    @extschema@.citus_claim_events(text, integer), @extschema@.citus_ack_events(text, bigint),
    @extschema@.citus_metrics_read(), @extschema@.citus_notify_at_commit(), @extschema@.distribute_events() FROM PUBLIC;

-- PostgREST reloads its schema cache when this update commits.
NOTIFY pgrst, 'reload schema';
