-- Authentication ------------------------------------------------------------------
-- Signup and login issue HS256 JWTs signed in C; every login is a session
-- (the token's jti) that logout revokes; API keys are long-lived bearer
-- tokens carrying key_id.  task_api.pre_request() (pre_request.c) checks
-- sessions and keys on every request and authenticates browsers by cookie.
-- Passwords are Argon2id (password.c); a user holds at most
-- task_api.max_sessions_per_user live sessions (a new sign-in ends the
-- oldest) and task_api.max_api_keys_per_user live keys.

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
COMMENT ON FUNCTION @extschema@.password_hash(text) IS 'An Argon2id hash of the password (libsodium, random salt, task_api.password_memory and task_api.password_time_cost).';

CREATE FUNCTION @extschema@.password_verify(password text, verifier text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'task_api_password_verify' LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.password_verify(text, text) IS 'Whether the password matches the stored hash (Argon2id, or a SCRAM-SHA-256 verifier of release 0.1.0); a NULL hash costs the same time and answers false.';

CREATE FUNCTION @extschema@.password_needs_rehash(verifier text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'task_api_password_needs_rehash' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.password_needs_rehash(text) IS 'Whether a stored hash should be redone: not Argon2id, or made with another task_api.password_memory or task_api.password_time_cost.';

-- What is wrong with a new password, if anything: the rules of signup and
-- change_password.  Blank means only whitespace (Unicode spaces included).
CREATE FUNCTION @extschema@.password_problem(password text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE
        WHEN password IS NULL OR password OPERATOR(pg_catalog.=) '' THEN 'is required'
        WHEN password OPERATOR(pg_catalog.~) '^[[:space:]\u00a0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff]*$' THEN 'must not be blank'
        WHEN pg_catalog.char_length(password) < 10 THEN 'must be at least 10 characters'
        WHEN pg_catalog.octet_length(password) > 1024 THEN 'must be at most 1024 bytes'
    END;
COMMENT ON FUNCTION @extschema@.password_problem(text) IS 'What is wrong with a new password (required, not blank, 10 characters to 1024 bytes), or NULL.';

CREATE TABLE @extschema@.sessions (
    id         uuid PRIMARY KEY DEFAULT @extschema@.uuidv7(),
    user_id    uuid NOT NULL REFERENCES @extschema@.users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
COMMENT ON TABLE @extschema@.sessions IS 'One row per login or signup; the id is the token''s jti.  Never exposed.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.sessions', '');
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
SELECT pg_catalog.pg_extension_config_dump('@extschema@.api_keys', '');
CREATE INDEX api_keys_user_idx ON @extschema@.api_keys (user_id) WHERE revoked_at IS NULL;
ALTER TABLE @extschema@.api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY api_keys_select ON @extschema@.api_keys FOR SELECT
    USING (user_id = @extschema@.current_user_id());
-- The only update a user makes is revoking a live key: never un-revoking.
CREATE POLICY api_keys_update ON @extschema@.api_keys FOR UPDATE
    USING (user_id = @extschema@.current_user_id() AND revoked_at IS NULL)
    WITH CHECK (user_id = @extschema@.current_user_id() AND revoked_at IS NOT NULL);

-- Sessions and keys changed: the cached checks are stale (20_projects.sql).
CREATE TRIGGER sessions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.sessions
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.membership_changed();
CREATE TRIGGER api_keys_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.membership_changed();
ALTER TABLE @extschema@.sessions ENABLE ALWAYS TRIGGER sessions_changed;
ALTER TABLE @extschema@.api_keys ENABLE ALWAYS TRIGGER api_keys_changed;

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
SELECT @extschema@.view_trigger('api.api_keys', 50, 'delete', 'INSTEAD OF DELETE FOR EACH ROW', '@extschema@.api_keys_delete');

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
CREATE FUNCTION @extschema@.start_session(user_id uuid) RETURNS json
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
COMMENT ON FUNCTION @extschema@.start_session(uuid) IS 'Create a session for the user (renewable until task_api.session_lifetime from now), ending its oldest beyond task_api.max_sessions_per_user; returns {user_id, token, token_type, expires_at} and sets the session and CSRF cookies.';

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

CREATE FUNCTION api.login(email text, password text) RETURNS json
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

-- Tell the browser to drop both cookies.
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
    PERFORM @extschema@.clear_session_cookies();
END
$$;
COMMENT ON FUNCTION api.logout() IS E'Sign out: 204; revokes this session (its token then gets 401 everywhere) and clears both cookies.\n\nArguments: none.';

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

-- The response of create_api_key for a key: {id, key, name, expires_at}.
-- The key is signed again from the key's row, exactly as at creation (HS256
-- is deterministic), and null once the key is revoked or expired: the key
-- itself is never stored, and a replay of create_api_key re-derives it.
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

-- The caller of change_password and logout_all: a user signed in with a
-- password (a session, by bearer token or cookie), never an API key.
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

-- Privileges: signup and login for everybody; the rest for users.
GRANT EXECUTE ON FUNCTION api.signup(text, text, text), api.login(text, text)
    TO task_api_anon, task_api_user;
GRANT EXECUTE ON FUNCTION api.logout(), api.create_api_key(text, timestamptz) TO task_api_user;
GRANT EXECUTE ON FUNCTION api.refresh() TO task_api_user;
GRANT EXECUTE ON FUNCTION api.change_password(text, text), api.logout_all() TO task_api_user;
GRANT SELECT (id, name, created_at, expires_at, revoked_at, last_used_at, user_id), UPDATE (revoked_at)
    ON @extschema@.api_keys TO task_api_user;
GRANT SELECT, DELETE ON api.api_keys TO task_api_user;
