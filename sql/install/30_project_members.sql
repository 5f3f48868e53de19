-- Project members ---------------------------------------------------------------
-- Members join only by accepting an invitation (72_invitations.sql); owners
-- change roles and remove members; any member may leave.  A project always
-- keeps an owner.  Who shares a project also decides who can see whom in
-- api.users.

CREATE POLICY project_members_select ON @extschema@.project_members FOR SELECT
    USING (project_id = ANY ((SELECT @extschema@.member_project_ids('viewer'))::uuid[]));
-- No INSERT policy (and no INSERT grant): memberships are created by the
-- project's creation and by accept_invitation(), both as the tables' owner.
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

-- The API view ----------------------------------------------------------------

CREATE VIEW api.project_members WITH (security_invoker = true) AS
    SELECT m.project_id, m.user_id, m.role, m.added_at, NULL::text AS email
      FROM @extschema@.project_members m
      JOIN @extschema@.projects p ON p.id = m.project_id
     WHERE p.deleted_at IS NULL;
ALTER VIEW api.project_members ALTER COLUMN role SET DEFAULT 'viewer';
COMMENT ON VIEW api.project_members IS 'Members of your projects and their roles. Owners PATCH role and DELETE; any member may DELETE their own membership to leave. POST answers 405: invite with POST /invitations, and the invitee joins by accepting.';
COMMENT ON COLUMN api.project_members.project_id IS 'The project.';
COMMENT ON COLUMN api.project_members.user_id IS 'The member.';
COMMENT ON COLUMN api.project_members.role IS 'owner, editor or viewer (default viewer).';
COMMENT ON COLUMN api.project_members.added_at IS 'When the member joined; set by the server.';
COMMENT ON COLUMN api.project_members.email IS 'Always null (kept for compatibility): members are invited by email or user id at /invitations.';

-- POST /project_members: nobody becomes a member without consenting.
-- SECURITY DEFINER only to add the Allow header (append_response_header()
-- is not granted to the API roles); it reads and writes nothing.
CREATE FUNCTION @extschema@.project_members_insert() RETURNS trigger
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

SELECT @extschema@.view_trigger('api.project_members', 50, 'insert', 'INSTEAD OF INSERT FOR EACH ROW', '@extschema@.project_members_insert');
SELECT @extschema@.view_trigger('api.project_members', 50, 'update', 'INSTEAD OF UPDATE FOR EACH ROW', '@extschema@.project_members_update');
SELECT @extschema@.view_trigger('api.project_members', 50, 'delete', 'INSTEAD OF DELETE FOR EACH ROW', '@extschema@.project_members_delete');

-- Privileges: no INSERT on project_members (members join through
-- accept_invitation(), 72_invitations.sql); owners change roles.
GRANT SELECT, DELETE ON @extschema@.project_members TO task_api_user;
GRANT UPDATE (role) ON @extschema@.project_members TO task_api_user;
GRANT SELECT, INSERT, UPDATE, DELETE ON api.project_members TO task_api_user;
