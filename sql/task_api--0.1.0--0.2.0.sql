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
    -- A hash made with another cost is redone with the current one, so that
    -- every account costs what an unknown email costs.
    IF split_part(split_part(verifier, '$', 2), ':', 1) <> current_setting('task_api.password_iterations') THEN
        UPDATE @extschema@.users SET password_hash = @extschema@.password_hash(login.password)
         WHERE id = found_id;
    END IF;
    RETURN @extschema@.start_session(found_id);
END
$$;

-- PostgREST reloads its schema cache when this update commits.
NOTIFY pgrst, 'reload schema';
