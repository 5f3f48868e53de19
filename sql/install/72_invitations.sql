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

SELECT @extschema@.view_trigger('api.invitations', 50, 'insert', 'INSTEAD OF INSERT FOR EACH ROW', '@extschema@.invitations_insert');
SELECT @extschema@.view_trigger('api.invitations', 50, 'delete', 'INSTEAD OF DELETE FOR EACH ROW', '@extschema@.invitations_delete');
-- Idempotency-Key on POST /invitations, as on the other views (70_idempotency.sql).
SELECT @extschema@.attach_idempotency('api.invitations', 'INSERT');

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
