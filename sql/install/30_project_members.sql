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
