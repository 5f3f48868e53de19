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
SELECT pg_catalog.pg_extension_config_dump('@extschema@.users', '');
-- Email is unique case-insensitively; login looks users up by lower(email).
CREATE UNIQUE INDEX users_email_key ON @extschema@.users (pg_catalog.lower(email));

ALTER TABLE @extschema@.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.users FORCE ROW LEVEL SECURITY;
-- Its policies read memberships: they follow them, in 30_project_members.sql.

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
SELECT @extschema@.view_trigger('api.users', 50, 'update', 'INSTEAD OF UPDATE FOR EACH ROW', '@extschema@.users_update');

-- Privileges: no password hash and no email (the caller's own comes through
-- own_email()), and only display_name is writable.
GRANT SELECT (id, display_name, created_at), UPDATE (display_name)
    ON @extschema@.users TO task_api_user;
GRANT EXECUTE ON FUNCTION @extschema@.own_email(uuid) TO task_api_user;
GRANT SELECT, UPDATE ON api.users TO task_api_user;
