-- Authentication (docs/contract.md §4, with the codes of §11): signup, login,
-- sessions and logout, cookie authentication with CSRF, API keys, the grants
-- that keep the internals private, and the C JWT functions seen from SQL.
--
-- PostgREST is simulated as it runs a request: it sets request.method,
-- request.path, request.headers, request.cookies and request.jwt.claims,
-- switches to the token's role (task_api_anon without a bearer token), then
-- calls task_api.pre_request() before the request's own query.
BEGIN;
-- Keep password hashing fast (superuser-only settings): Argon2id with 64 kB
-- and one pass.
SET LOCAL task_api.password_memory = 64;
SET LOCAL task_api.password_time_cost = 1;
SELECT plan(375);
\ir helpers/setup.psql

\o /dev/null
SET client_min_messages = warning;
-- Values kept across requests: name -> {body, status, headers} of an RPC call.
CREATE TABLE tap.vals (name text PRIMARY KEY, v jsonb NOT NULL);
GRANT SELECT, INSERT, UPDATE ON tap.vals TO PUBLIC;

CREATE FUNCTION tap.keep(name text, v jsonb) RETURNS jsonb
    LANGUAGE sql AS $$
    INSERT INTO tap.vals VALUES (name, v) ON CONFLICT ON CONSTRAINT vals_pkey DO UPDATE SET v = EXCLUDED.v RETURNING v
$$;

CREATE FUNCTION tap.val(name text) RETURNS jsonb
    LANGUAGE sql STABLE AS $$ SELECT v.v FROM tap.vals v WHERE v.name = val.name $$;

-- The token returned by a kept call, its payload (decoded without
-- verification, as PostgREST hands it over) and its jti.
CREATE FUNCTION tap.jwt_payload(token text) RETURNS jsonb
    LANGUAGE sql IMMUTABLE AS $$
    SELECT convert_from(decode(rpad(translate(split_part(token, '.', 2), '-_', '+/'),
                                    (length(split_part(token, '.', 2)) + 3) / 4 * 4, '='), 'base64'), 'UTF8')::jsonb
$$;
CREATE FUNCTION tap.tok(name text) RETURNS text
    LANGUAGE sql STABLE AS $$ SELECT coalesce(tap.val(name) -> 'body' ->> 'token', tap.val(name) -> 'body' ->> 'key') $$;
CREATE FUNCTION tap.jti(name text) RETURNS uuid
    LANGUAGE sql STABLE AS $$ SELECT (tap.jwt_payload(tap.tok(name)) ->> 'jti')::uuid $$;

-- The Set-Cookie header of a kept call for one cookie, and that cookie's value.
CREATE FUNCTION tap.set_cookie(name text, cookie text) RETURNS text
    LANGUAGE sql STABLE AS $$
    SELECT h ->> 'Set-Cookie' FROM jsonb_array_elements(tap.val(name) -> 'headers') h
     WHERE h ->> 'Set-Cookie' LIKE cookie || '=%'
$$;
CREATE FUNCTION tap.cookie_value(name text, cookie text) RETURNS text
    LANGUAGE sql STABLE AS $$ SELECT substring(tap.set_cookie(name, cookie) FROM '^[^=]*=([^;]*)') $$;

-- Run an RPC (an expression) and keep {body, status, headers}; 'no error',
-- 'code status' of a PGRST error, or 'SQLSTATE: message'.
CREATE FUNCTION tap.call(name text, expr text) RETURNS text
    LANGUAGE plpgsql AS $$
DECLARE
    r jsonb;
    st text;
    msg text;
    det text;
BEGIN
    EXECUTE 'SELECT to_jsonb((' || expr || '))' INTO r;
    PERFORM tap.keep(name, jsonb_build_object('body', r,
        'status', nullif(current_setting('response.status', true), ''),
        'headers', coalesce(nullif(current_setting('response.headers', true), ''), '[]')::jsonb));
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
    IF st = 'PGRST' THEN
        RETURN concat_ws(' ', msg::jsonb ->> 'code', det::jsonb ->> 'status');
    END IF;
    RETURN st || ': ' || msg;
END
$$;

-- Start a simulated PostgREST request.  claims NULL: no bearer token, so the
-- anonymous role with PostgREST's {"role": "task_api_anon"} claims.
--
-- PostgREST runs every request in its own transaction, after the previous
-- one committed.  The extension's per-backend caches (memberships, the
-- session/API-key memo) are keyed on what the snapshot sees of other
-- transactions, which never changes inside this single test transaction; a
-- subtransaction abort is what makes them forget, as a new transaction after
-- a commit would.  So each simulated request starts with one.
CREATE FUNCTION tap.request(method text, path text, headers jsonb DEFAULT '{}', cookies jsonb DEFAULT '{}',
                            claims jsonb DEFAULT NULL) RETURNS text
    LANGUAGE plpgsql AS $$
DECLARE
    c jsonb := coalesce(claims, '{"role": "task_api_anon"}');
BEGIN
    BEGIN
        PERFORM 1 / 0;
    EXCEPTION WHEN division_by_zero THEN
        NULL;
    END;
    RESET ROLE;
    PERFORM set_config('request.method', method, true);
    PERFORM set_config('request.path', path, true);
    -- Clients send JSON bodies; a test can override the content type.
    PERFORM set_config('request.headers', (jsonb_build_object('content-type', 'application/json') || headers)::text, true);
    PERFORM set_config('request.cookies', cookies::text, true);
    PERFORM set_config('request.jwt.claims', c::text, true);
    PERFORM set_config('response.headers', '[]', true);
    PERFORM set_config('response.status', '', true);
    PERFORM set_config('role', c ->> 'role', true);
    RETURN format('# %s %s as %s', method, path, c ->> 'role');
END
$$;

-- A request with a bearer token: PostgREST verified it and passes its claims.
CREATE FUNCTION tap.bearer(token text, method text, path text, cookies jsonb DEFAULT '{}') RETURNS text
    LANGUAGE sql AS $$
    SELECT tap.request(method, path, jsonb_build_object('authorization', 'Bearer ' || token), cookies,
                       tap.jwt_payload(token))
$$;

-- A request whose (simulated) bearer token carries exactly these claims.
CREATE FUNCTION tap.claims(claims jsonb, method text DEFAULT 'GET', path text DEFAULT '/tasks') RETURNS text
    LANGUAGE sql AS $$
    SELECT tap.request(method, path, '{"authorization": "Bearer (simulated)"}', '{}', claims)
$$;

-- A browser request: no Authorization header, the session cookie, and
-- optionally the CSRF cookie and X-CSRF-Token header.
CREATE FUNCTION tap.cookie(method text, path text, session text, csrf_cookie text DEFAULT NULL,
                           csrf_header text DEFAULT NULL) RETURNS text
    LANGUAGE sql AS $$
    SELECT tap.request(method, path,
                       jsonb_strip_nulls(jsonb_build_object('x-csrf-token', csrf_header, 'accept', '*/*')),
                       jsonb_strip_nulls(jsonb_build_object('__Host-task_api_session', session, '__Host-task_api_csrf', csrf_cookie)))
$$;

-- The pre-request hook's verdict for the current request.
CREATE FUNCTION tap.pre() RETURNS text
    LANGUAGE sql AS $$ SELECT tap.err('SELECT task_api.pre_request()') $$;

CREATE FUNCTION tap.ttl() RETURNS bigint
    LANGUAGE sql STABLE AS $$ SELECT extract(epoch FROM current_setting('task_api.jwt_ttl')::interval)::bigint $$;
CREATE FUNCTION tap.lifetime() RETURNS bigint
    LANGUAGE sql STABLE AS $$ SELECT extract(epoch FROM current_setting('task_api.session_lifetime')::interval)::bigint $$;

-- A token signed by the server's own secret (as superuser) with these claims.
CREATE FUNCTION tap.sign(claims jsonb) RETURNS text
    LANGUAGE sql AS $$ SELECT task_api.jwt_sign(claims::text) $$;
CREATE FUNCTION tap.epoch(at timestamptz) RETURNS bigint
    LANGUAGE sql IMMUTABLE AS $$ SELECT floor(extract(epoch FROM at))::bigint $$;

SELECT tap.make_user('alice', 'a0000000-0000-4000-8000-00000000000a');
SELECT tap.make_user('bob', 'b0000000-0000-4000-8000-00000000000b');
RESET client_min_messages;
\o

-- Signup ---------------------------------------------------------------------------------
SELECT tap.request('POST', '/rpc/signup');
SELECT is(tap.call('erin', $$api.signup(' Erin@Example.com ', 'correct horse battery', 'Erin')$$), 'no error',
          'POST /rpc/signup: an anonymous caller signs up');
SELECT tap.act_as_admin();
\o /dev/null
SELECT tap.name_id('erin', id) FROM task_api.users WHERE lower(email) = 'erin@example.com';
\o
SELECT is(tap.val('erin') ->> 'status', '201', 'signup sets response.status 201');
SELECT set_eq($$SELECT jsonb_object_keys(tap.val('erin') -> 'body')$$, ARRAY['user_id', 'token', 'token_type', 'expires_at'],
              'signup answers {user_id, token, token_type, expires_at}');
SELECT is(tap.val('erin') -> 'body' ->> 'user_id', tap.id('erin')::text, 'signup: user_id is the new user''s id');
SELECT is(tap.val('erin') -> 'body' ->> 'token_type', 'bearer', 'signup: token_type is "bearer"');
SELECT is(tap.jwt_payload(tap.tok('erin')) - 'iat' - 'exp' - 'jti',
          jsonb_build_object('sub', tap.id('erin'), 'role', 'task_api_user'),
          'the token''s claims are sub (the user), role task_api_user, iat, exp and jti, nothing else');
SELECT is((tap.jwt_payload(tap.tok('erin')) ->> 'exp')::bigint - (tap.jwt_payload(tap.tok('erin')) ->> 'iat')::bigint, tap.ttl(),
          'the token lives task_api.jwt_ttl seconds (exp - iat)');
SELECT is((tap.jwt_payload(tap.tok('erin')) ->> 'exp')::bigint, tap.epoch((tap.val('erin') -> 'body' ->> 'expires_at')::timestamptz),
          'expires_at in the body is the token''s exp');
SELECT ok((SELECT valid FROM task_api.jwt_verify(tap.tok('erin'))), 'the token verifies with task_api.jwt_verify()');
SELECT results_eq($$SELECT user_id, revoked_at IS NULL, tap.epoch(expires_at) FROM task_api.sessions WHERE id = tap.jti('erin')$$,
                  $$VALUES (tap.id('erin'), true, (tap.jwt_payload(tap.tok('erin')) ->> 'iat')::bigint + tap.lifetime())$$,
                  'signup starts a session: the jti names a live sessions row of the user, renewable until task_api.session_lifetime');
SELECT is(tap.set_cookie('erin', '__Host-task_api_session'),
          format('__Host-task_api_session=%s; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=%s', tap.tok('erin'), tap.ttl()),
          'signup sets the HttpOnly, Secure, SameSite=Lax session cookie holding the token');
SELECT is(tap.set_cookie('erin', '__Host-task_api_csrf'),
          format('__Host-task_api_csrf=%s; Secure; SameSite=Lax; Path=/; Max-Age=%s', task_api.csrf_token(tap.jti('erin')::text), tap.lifetime()),
          'signup sets the readable (not HttpOnly) CSRF cookie bound to the session, for the session''s whole life');
SELECT results_eq($$SELECT email, display_name FROM task_api.users WHERE id = tap.id('erin')$$,
                  $$VALUES ('Erin@Example.com', 'Erin')$$, 'signup stores the trimmed email and the display name');
SELECT matches((SELECT password_hash FROM task_api.users WHERE id = tap.id('erin')),
               '^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$',
               'signup stores a salted Argon2id hash with task_api.password_memory and task_api.password_time_cost');
SELECT ok((SELECT strpos(password_hash, 'correct horse battery') = 0 FROM task_api.users WHERE id = tap.id('erin')),
          'the stored hash does not contain the password');
SELECT ok((SELECT task_api.password_verify('correct horse battery', password_hash) FROM task_api.users WHERE id = tap.id('erin')),
          'the stored verifier matches the password');
SELECT tap.request('POST', '/rpc/signup');
SELECT is(tap.call('frank', $$api.signup('frank.f@example.com', 'correct horse battery')$$), 'no error',
          'signup without display_name succeeds');
SELECT tap.act_as_admin();
\o /dev/null
SELECT tap.name_id('frank', id) FROM task_api.users WHERE email = 'frank.f@example.com';
\o
SELECT is((SELECT display_name FROM task_api.users WHERE id = tap.id('frank')), 'frank.f',
          'signup without display_name uses the part of the email before @');
SELECT isnt((SELECT password_hash FROM task_api.users WHERE id = tap.id('frank')),
            (SELECT password_hash FROM task_api.users WHERE id = tap.id('erin')),
            'the same password hashes differently for two users (random salt)');

-- Duplicate email: conflict (409), case-insensitively, revealing nothing.
SELECT tap.request('POST', '/rpc/signup');
SELECT is(tap.err($$SELECT api.signup('erin@example.COM', 'another good password')$$), 'conflict 409',
          'signup with an email differing only in case: conflict 409');
SELECT is(tap.err($$SELECT api.signup('  ERIN@EXAMPLE.COM', 'another good password', 'Impostor')$$), 'conflict 409',
          'signup with the upper-cased, space-padded email: conflict 409');
SELECT ok(tap.error_of($$SELECT api.signup('erin@example.com', 'another good password')$$) ->> 'message' !~* 'erin|exist|password',
          'the conflict message names neither the email nor the account');
SELECT is(tap.error_of($$SELECT api.signup('erin@example.com', 'another good password')$$) -> 'headers', '{}'::jsonb,
          'a refused signup sets no cookie');
SELECT tap.act_as_admin();
SELECT is((SELECT count(*) FROM task_api.users WHERE lower(email) = 'erin@example.com'), 1::bigint,
          'the duplicate signups created no account');

-- Validation: every problem at once.
SELECT tap.request('POST', '/rpc/signup');
SELECT is(tap.err($$SELECT api.signup('not-an-email', 'short', '   ')$$), 'validation_failed 422',
          'signup with a bad email, a short password and a blank name: validation_failed 422');
SELECT is(tap.problems($$SELECT api.signup('not-an-email', 'short', '   ')$$),
          ARRAY['display_name: must not be blank', 'email: is not a valid email address', 'password: must be at least 10 characters'],
          'signup lists every problem: email, password and display_name');
SELECT is(tap.problems($$SELECT api.signup('x@example.com', '', 'X')$$), ARRAY['password: is required'],
          'signup with an empty password: password is required');
SELECT is(tap.problems($$SELECT api.signup('x@example.com', NULL, 'X')$$), ARRAY['password: is required'],
          'signup without a password: password is required');
SELECT is(tap.problems($$SELECT api.signup('x@example.com', '123456789', 'X')$$), ARRAY['password: must be at least 10 characters'],
          'signup with a 9-character password: must be at least 10 characters');
SELECT is(tap.problems(format('SELECT api.signup(%L, %L, %L)', 'x@example.com', repeat('x', 1025), 'X')),
          ARRAY['password: must be at most 1024 bytes'], 'signup with a 1025-byte password: must be at most 1024 bytes');
SELECT is(tap.problems(format('SELECT api.signup(%L, %L, %L)', 'x@example.com', repeat('é', 513), 'X')),
          ARRAY['password: must be at most 1024 bytes'], 'the password limit counts bytes, not characters (513 two-byte characters)');
SELECT is(tap.problems($$SELECT api.signup('a@b', 'correct horse battery', 'X')$$), ARRAY['email: is not a valid email address'],
          'signup with an email without a domain dot: not a valid email address');
SELECT is(tap.problems($$SELECT api.signup('a b@example.com', 'correct horse battery', 'X')$$), ARRAY['email: is not a valid email address'],
          'signup with a space inside the email: not a valid email address');
SELECT is(tap.problems(format('SELECT api.signup(%L, %L, %L)', repeat('a', 243) || '@example.com', 'correct horse battery', 'X')),
          ARRAY['email: is not a valid email address'], 'signup with a 255-character email: not a valid email address');
SELECT is(tap.problems(format('SELECT api.signup(%L, %L, %L)', 'x@example.com', 'correct horse battery', repeat('n', 101))),
          ARRAY['display_name: must be at most 100 characters'], 'signup with a 101-character display name: at most 100 characters');
SELECT is(tap.problems($$SELECT api.signup('', 'correct horse battery')$$), ARRAY['email: is required'],
          'signup with an empty email and no display_name reports only the email (display_name was not given)');
SELECT is(tap.problems($$SELECT api.signup(NULL, 'correct horse battery')$$), ARRAY['email: is required'],
          'signup without an email and no display_name reports only the email (display_name was not given)');
SELECT is(tap.err($$SELECT api.signup('gina@example.com', 'abcdefghij', 'Gina')$$), 'no error',
          'signup with a password of exactly 10 characters succeeds');
SELECT is(tap.err(format('SELECT api.signup(%L, %L)', 'hank@example.com', repeat('p', 1024))), 'no error',
          'signup with a password of exactly 1024 bytes succeeds');
SELECT tap.act_as_admin();
SELECT is((SELECT count(*) FROM task_api.users WHERE lower(email) IN ('x@example.com', 'a@b', 'a b@example.com')), 0::bigint,
          'refused signups created no account');

-- Login ----------------------------------------------------------------------------------
SELECT tap.request('POST', '/rpc/login');
SELECT is(tap.call('erin login', $$api.login(' ERIN@example.com', 'correct horse battery')$$), 'no error',
          'POST /rpc/login with the right password, email in another case: signed in');
SELECT tap.act_as_admin();
SELECT set_eq($$SELECT jsonb_object_keys(tap.val('erin login') -> 'body')$$, ARRAY['user_id', 'token', 'token_type', 'expires_at'],
              'login answers {user_id, token, token_type, expires_at}');
SELECT is(tap.val('erin login') -> 'body' ->> 'user_id', tap.id('erin')::text, 'login: user_id is the user''s');
SELECT is(coalesce(tap.val('erin login') ->> 'status', '200'), '200', 'login answers 200 (response.status not changed)');
SELECT results_eq($$SELECT user_id, revoked_at IS NULL FROM task_api.sessions WHERE id = tap.jti('erin login')$$,
                  $$VALUES (tap.id('erin'), true)$$, 'login starts a new live session of the user');
SELECT isnt(tap.jti('erin login'), tap.jti('erin'), 'each login is its own session (a new jti)');
SELECT is(tap.set_cookie('erin login', '__Host-task_api_session'),
          format('__Host-task_api_session=%s; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=%s', tap.tok('erin login'), tap.ttl()),
          'login sets the session cookie');
SELECT is(tap.cookie_value('erin login', '__Host-task_api_csrf'), task_api.csrf_token(tap.jti('erin login')::text),
          'login sets the CSRF cookie of the new session');
SELECT tap.request('POST', '/rpc/login');
SELECT is(tap.err($$SELECT api.login('erin@example.com', 'wrong horse battery')$$), 'invalid_credentials 401',
          'login with a wrong password: invalid_credentials 401');
SELECT is(tap.err($$SELECT api.login('nobody@example.com', 'correct horse battery')$$), 'invalid_credentials 401',
          'login with an unknown email: invalid_credentials 401');
SELECT is(tap.error_of($$SELECT api.login('erin@example.com', 'wrong horse battery')$$),
          tap.error_of($$SELECT api.login('nobody@example.com', 'correct horse battery')$$),
          'wrong password and unknown email give identical errors (body, status and headers)');
SELECT is(tap.err($$SELECT api.login('erin@example.com', '')$$), 'invalid_credentials 401', 'login with an empty password: invalid_credentials 401');
SELECT is(tap.err($$SELECT api.login('erin@example.com', NULL)$$), 'invalid_credentials 401', 'login without a password: invalid_credentials 401');
SELECT is(tap.err($$SELECT api.login(NULL, 'correct horse battery')$$), 'invalid_credentials 401', 'login without an email: invalid_credentials 401');
SELECT is(tap.err(format('SELECT api.login(%L, %L)', 'erin@example.com', repeat('x', 1025))), 'invalid_credentials 401',
          'login with a 1025-byte password: invalid_credentials 401, not an internal error');
SELECT is(tap.err($$SELECT api.login('alice@example.com', 'correct horse battery')$$), 'invalid_credentials 401',
          'login to an account without a password: invalid_credentials 401');
SELECT is(tap.err(format('SELECT api.login(%L, %L)', 'hank@example.com', repeat('p', 1024))), 'no error',
          'login with a 1024-byte password that matches: signed in');
SELECT tap.act_as_admin();
SELECT is((SELECT count(*) FROM task_api.sessions WHERE user_id = tap.id('erin')), 2::bigint,
          'failed logins start no session (erin has her signup and login sessions only)');

-- Sessions and revocation (bearer tokens) ------------------------------------------------
SELECT tap.bearer(tap.tok('erin'), 'GET', '/tasks');
SELECT is(tap.pre(), 'no error', 'pre_request: the signup token of a live session passes');
SELECT is(task_api.current_user_id(), tap.id('erin'), 'the bearer request runs as its user');
SELECT tap.bearer(tap.tok('erin login'), 'POST', '/rpc/logout');
SELECT is(tap.pre(), 'no error', 'pre_request: the login token passes');
SELECT is(tap.err('SELECT api.logout()'), 'no error', 'POST /rpc/logout succeeds');
SELECT ok(current_setting('response.headers')::jsonb @>
          '[{"Set-Cookie": "__Host-task_api_session=; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=0"},
            {"Set-Cookie": "__Host-task_api_csrf=; Secure; SameSite=Lax; Path=/; Max-Age=0"}]',
          'logout clears both cookies');
SELECT is(tap.pre(), 'unauthenticated 401',
          'pre_request sees a logout made earlier in the same transaction (the session memo must not outlive its own writes)');
SELECT tap.act_as_admin();
SELECT ok((SELECT revoked_at IS NOT NULL FROM task_api.sessions WHERE id = tap.jti('erin login')), 'logout sets revoked_at on its session');
SELECT ok((SELECT revoked_at IS NULL FROM task_api.sessions WHERE id = tap.jti('erin')), 'logout leaves the user''s other sessions alone');
SELECT tap.bearer(tap.tok('erin login'), 'GET', '/tasks');
SELECT is(tap.pre(), 'unauthenticated 401', 'pre_request: the token of a signed-out session is unauthenticated 401');
SELECT is((tap.error_of('SELECT task_api.pre_request()') -> 'headers') - 'X-Request-Id', '{}'::jsonb,
          'a refused bearer token gets no Set-Cookie (there is no cookie to clear), only its X-Request-Id');
SELECT tap.bearer(tap.tok('erin'), 'GET', '/tasks');
SELECT is(tap.pre(), 'no error', 'pre_request: the other session''s token still passes');
-- An expired session (its token still within exp, as PostgREST would accept it).
SELECT tap.request('POST', '/rpc/login');
SELECT is(tap.call('erin expiring', $$api.login('erin@example.com', 'correct horse battery')$$), 'no error', 'login again');
SELECT tap.act_as_admin();
\o /dev/null
UPDATE task_api.sessions SET expires_at = now() - interval '1 second' WHERE id = tap.jti('erin expiring');
\o
SELECT tap.bearer(tap.tok('erin expiring'), 'GET', '/tasks');
SELECT is(tap.pre(), 'unauthenticated 401', 'pre_request: a token whose session expired is unauthenticated 401');
-- Forged claims PostgREST would accept (same secret): the session must match.
SELECT tap.claims(jsonb_build_object('role', 'task_api_user', 'sub', tap.id('alice'), 'jti', tap.jti('erin')));
SELECT is(tap.pre(), 'unauthenticated 401', 'pre_request: a token naming another user''s session is unauthenticated 401');
SELECT tap.claims(jsonb_build_object('role', 'task_api_user', 'sub', tap.id('erin')));
SELECT is(tap.pre(), 'unauthenticated 401', 'pre_request: a token with neither jti nor key_id is unauthenticated 401');
SELECT tap.claims(jsonb_build_object('role', 'task_api_user', 'sub', tap.id('erin'), 'jti', '0190e6c0-0000-7000-8000-000000000000'));
SELECT is(tap.pre(), 'unauthenticated 401', 'pre_request: a token whose jti names no session is unauthenticated 401');
SELECT tap.claims(jsonb_build_object('role', 'task_api_user', 'sub', tap.id('erin'), 'jti', 'nope'));
SELECT is(tap.pre(), 'unauthenticated 401', 'pre_request: a non-UUID jti is unauthenticated 401, not an internal error');
SELECT tap.claims(jsonb_build_object('role', 'task_api_user', 'sub', tap.id('erin'), 'jti', 42));
SELECT is(tap.pre(), 'unauthenticated 401', 'pre_request: a numeric jti is unauthenticated 401');
-- Near-UUIDs (src/request.c ta_parse_uuid): each refused as malformed, never
-- read as another id; the same id in upper-case hex is the same session.
CREATE TEMP TABLE jti_cases (jti text, what text) ON COMMIT DROP;
INSERT INTO jti_cases VALUES
    (overlay(tap.jti('erin')::text placing 'g' from 1 for 1), 'a g'),
    (overlay(tap.jti('erin')::text placing ':' from 36 for 1), 'a colon (after 9)'),
    (overlay(tap.jti('erin')::text placing '@' from 2 for 1), 'an @ (before A)'),
    (overlay(tap.jti('erin')::text placing '`' from 3 for 1), 'a backquote (before a)'),
    (overlay(tap.jti('erin')::text placing '0' from 9 for 1), 'a digit for its first dash'),
    (overlay(tap.jti('erin')::text placing '-' from 20 for 1), 'a dash for a digit'),
    (left(tap.jti('erin')::text, 35), '35 characters'),
    (tap.jti('erin')::text || '0', '37 characters'),
    (replace(tap.jti('erin')::text, '-', ''), '32 digits without dashes');
SELECT is((SELECT string_agg(what || ': ' || coalesce(got, 'accepted'), '; ' ORDER BY what)
             FROM (SELECT c.what, (SELECT tap.claims(jsonb_build_object('role', 'task_api_user', 'sub', tap.id('erin'), 'jti', c.jti)))
                                  || ' ' || (tap.error_of('SELECT task_api.pre_request()') ->> 'message') AS got
                     FROM jti_cases c) r
            WHERE got IS DISTINCT FROM '# GET /tasks as task_api_user the token''s session id is not valid'),
          NULL, 'pre_request: a jti one character off a UUID is refused as not valid, not looked up');
SELECT tap.claims(jsonb_build_object('role', 'task_api_user', 'sub', tap.id('erin'), 'jti', upper(tap.jti('erin')::text)));
SELECT is(tap.pre(), 'no error', 'pre_request: a jti in upper-case hex names the same session');
SELECT tap.claims(jsonb_build_object('role', 'task_api_user', 'sub', '0190e6c0-0000-7000-8000-0000000000ff', 'jti', tap.jti('erin')));
SELECT is(tap.pre(), 'unauthenticated 401', 'pre_request: a token naming no user is unauthenticated 401');
SELECT tap.act_as_admin();

-- Cookie authentication ------------------------------------------------------------------
SELECT tap.request('POST', '/rpc/login');
SELECT is(tap.call('erin web', $$api.login('erin@example.com', 'correct horse battery')$$), 'no error', 'a browser signs in');
SELECT tap.act_as_admin();
\o /dev/null
SELECT tap.keep('web csrf', to_jsonb(tap.cookie_value('erin web', '__Host-task_api_csrf')));
SELECT tap.keep('web cookie', to_jsonb(tap.cookie_value('erin web', '__Host-task_api_session')));
\o
SELECT is(tap.val('web cookie') #>> '{}', tap.tok('erin web'), 'the session cookie holds the session''s token');
SELECT tap.cookie('GET', '/tasks', tap.val('web cookie') #>> '{}');
SELECT is(current_user::text, 'task_api_anon', 'a request without Authorization header reaches pre_request as task_api_anon');
SELECT is(tap.pre(), 'no error', 'pre_request: GET with a valid session cookie passes without a CSRF token');
SELECT is(current_user::text, 'task_api_user', 'the cookie request now runs as task_api_user');
SELECT is(task_api.current_user_id(), tap.id('erin'), 'and as the cookie''s user');
SELECT is(current_setting('request.jwt.claims')::jsonb, tap.jwt_payload(tap.tok('erin web')),
          'request.jwt.claims are the token''s claims, as PostgREST sets them for a bearer token');
SELECT is((SELECT email FROM api.users WHERE id = tap.id('erin')), 'Erin@Example.com',
          'the cookie request reads the API as its user (its own email in api.users)');
-- On Citus the hook is citus_pre_request() (docs/scaling.md), granted there by
-- distribute(): it lets the cookie switch the role too.
SELECT tap.act_as_admin();
GRANT EXECUTE ON FUNCTION task_api.citus_pre_request(), task_api.citus_resolve_caller() TO task_api_anon, task_api_user;
SELECT tap.cookie('GET', '/tasks', tap.val('web cookie') #>> '{}');
SELECT is(tap.err('SELECT task_api.citus_pre_request()'), 'no error', 'citus_pre_request(), Citus''s hook: GET with the session cookie passes');
SELECT is(current_user::text, 'task_api_user', 'and the cookie request runs as task_api_user there too (not from a SECURITY DEFINER hook)');
SELECT tap.cookie('HEAD', '/tasks', tap.val('web cookie') #>> '{}');
SELECT is(tap.pre(), 'no error', 'pre_request: HEAD with the cookie needs no CSRF token');
SELECT tap.cookie('OPTIONS', '/tasks', tap.val('web cookie') #>> '{}');
SELECT is(tap.pre(), 'no error', 'pre_request: OPTIONS with the cookie needs no CSRF token');
SELECT tap.cookie('POST', '/tasks', tap.val('web cookie') #>> '{}');
SELECT is(tap.pre(), 'csrf_failed 403', 'pre_request: cookie POST without CSRF cookie or header: csrf_failed 403');
SELECT is(tap.error_of('SELECT task_api.pre_request()') ->> 'hint', 'read the __Host-task_api_csrf cookie and send it in X-CSRF-Token',
          'csrf_failed tells the client what to send');
SELECT tap.cookie('POST', '/tasks', tap.val('web cookie') #>> '{}', tap.val('web csrf') #>> '{}');
SELECT is(tap.pre(), 'csrf_failed 403', 'pre_request: cookie POST with the CSRF cookie but no X-CSRF-Token header: csrf_failed 403');
SELECT tap.cookie('POST', '/tasks', tap.val('web cookie') #>> '{}', NULL, tap.val('web csrf') #>> '{}');
SELECT is(tap.pre(), 'csrf_failed 403', 'pre_request: cookie POST with the header but no CSRF cookie: csrf_failed 403');
SELECT tap.cookie('POST', '/tasks', tap.val('web cookie') #>> '{}', tap.val('web csrf') #>> '{}', 'x' || (tap.val('web csrf') #>> '{}'));
SELECT is(tap.pre(), 'csrf_failed 403', 'pre_request: cookie POST whose header differs from the CSRF cookie: csrf_failed 403');
SELECT tap.cookie('POST', '/tasks', tap.val('web cookie') #>> '{}', tap.val('web csrf') #>> '{}', tap.cookie_value('erin', '__Host-task_api_csrf'));
SELECT is(tap.pre(), 'csrf_failed 403', 'pre_request: cookie POST with another session''s CSRF token in the header: csrf_failed 403');
SELECT tap.cookie('POST', '/tasks', tap.val('web cookie') #>> '{}', tap.cookie_value('erin', '__Host-task_api_csrf'), tap.cookie_value('erin', '__Host-task_api_csrf'));
SELECT is(tap.pre(), 'csrf_failed 403',
          'pre_request: cookie POST whose matching header and cookie belong to another session: csrf_failed 403');
SELECT tap.cookie('PATCH', '/tasks', tap.val('web cookie') #>> '{}', tap.val('web csrf') #>> '{}');
SELECT is(tap.pre(), 'csrf_failed 403', 'pre_request: cookie PATCH without X-CSRF-Token: csrf_failed 403');
SELECT tap.cookie('DELETE', '/tasks', tap.val('web cookie') #>> '{}', tap.val('web csrf') #>> '{}');
SELECT is(tap.pre(), 'csrf_failed 403', 'pre_request: cookie DELETE without X-CSRF-Token: csrf_failed 403');
SELECT tap.cookie('PUT', '/tasks', tap.val('web cookie') #>> '{}', tap.val('web csrf') #>> '{}');
SELECT is(tap.pre(), 'csrf_failed 403', 'pre_request: cookie PUT without X-CSRF-Token: csrf_failed 403');
SELECT tap.cookie('POST', '/tasks', tap.val('web cookie') #>> '{}', tap.val('web csrf') #>> '{}', tap.val('web csrf') #>> '{}');
SELECT is(tap.pre(), 'no error', 'pre_request: cookie POST with X-CSRF-Token equal to the CSRF cookie passes');
SELECT is(current_user::text || ' ' || task_api.current_user_id(), 'task_api_user ' || tap.id('erin'),
          'the cookie POST runs as task_api_user and the cookie''s user');
-- Bad cookies: 401, never anonymous.
SELECT tap.cookie('GET', '/tasks', 'garbage');
SELECT is(tap.pre(), 'unauthenticated 401', 'pre_request: a malformed session cookie is unauthenticated 401');
SELECT is(tap.error_of('SELECT task_api.pre_request()') -> 'headers' ->> 'Set-Cookie',
          '__Host-task_api_session=; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=0',
          'the 401 for a bad cookie tells the browser to drop it');
SELECT tap.cookie('GET', '/tasks', left(tap.val('web cookie') #>> '{}', -2) ||
                  CASE WHEN right(tap.val('web cookie') #>> '{}', 2) = 'AA' THEN 'BA' ELSE 'AA' END);
SELECT is(tap.pre(), 'unauthenticated 401', 'pre_request: a session cookie with a tampered signature is unauthenticated 401');
SELECT tap.cookie('GET', '/tasks', split_part(tap.tok('erin web'), '.', 1) || '.' || split_part(tap.tok('frank'), '.', 2) || '.'
                                   || split_part(tap.tok('erin web'), '.', 3));
SELECT is(tap.pre(), 'unauthenticated 401', 'pre_request: a session cookie with another token''s payload is unauthenticated 401');
SELECT tap.act_as_admin();
\o /dev/null
SELECT tap.keep('expired cookie', to_jsonb(tap.sign(jsonb_build_object('sub', tap.id('erin'), 'role', 'task_api_user',
    'iat', tap.epoch(now()) - 7200, 'exp', tap.epoch(now()) - 3600, 'jti', tap.jti('erin web')))));
SELECT tap.keep('sessionless cookie', to_jsonb(tap.sign(jsonb_build_object('sub', tap.id('erin'), 'role', 'task_api_user',
    'iat', tap.epoch(now()), 'exp', tap.epoch(now()) + 600))));
SELECT tap.keep('anon cookie', to_jsonb(tap.sign(jsonb_build_object('role', 'task_api_anon',
    'iat', tap.epoch(now()), 'exp', tap.epoch(now()) + 600, 'jti', tap.jti('erin web')))));
SELECT tap.keep('alice cookie', to_jsonb(tap.sign(jsonb_build_object('sub', tap.id('alice'), 'role', 'task_api_user',
    'iat', tap.epoch(now()), 'exp', tap.epoch(now()) + 600, 'jti', tap.jti('erin web')))));
\o
SELECT tap.cookie('GET', '/tasks', tap.val('expired cookie') #>> '{}');
SELECT is(tap.pre(), 'unauthenticated 401', 'pre_request: a session cookie whose token expired is unauthenticated 401 (even with a live session)');
SELECT tap.cookie('GET', '/tasks', tap.val('sessionless cookie') #>> '{}');
SELECT is(tap.pre(), 'unauthenticated 401', 'pre_request: a cookie token without jti is unauthenticated 401');
SELECT tap.cookie('GET', '/tasks', tap.val('anon cookie') #>> '{}');
SELECT is(tap.pre(), 'unauthenticated 401', 'pre_request: a cookie token for another role is unauthenticated 401');
SELECT tap.cookie('GET', '/tasks', tap.val('alice cookie') #>> '{}');
SELECT is(tap.pre(), 'unauthenticated 401', 'pre_request: a cookie naming another user''s session is unauthenticated 401');
-- Bearer beats cookie; an empty cookie is no cookie.
SELECT tap.bearer(tap.tok('erin'), 'POST', '/tasks', '{"__Host-task_api_session": "garbage"}');
SELECT is(tap.pre(), 'no error', 'pre_request: with an Authorization header the session cookie is ignored');
SELECT tap.cookie('POST', '/tasks', '');
SELECT is(tap.pre(), 'no error', 'pre_request: an empty session cookie (as logout leaves it) is anonymous');
SELECT is(current_user::text, 'task_api_anon', 'and the request stays anonymous');
-- Logout by cookie revokes the session.
SELECT tap.cookie('POST', '/rpc/logout', tap.val('web cookie') #>> '{}', tap.val('web csrf') #>> '{}', tap.val('web csrf') #>> '{}');
SELECT is(tap.pre(), 'no error', 'pre_request: cookie POST /rpc/logout with the CSRF token passes');
SELECT is(tap.err('SELECT api.logout()'), 'no error', 'cookie logout succeeds');
SELECT tap.act_as_admin();
SELECT ok((SELECT revoked_at IS NOT NULL FROM task_api.sessions WHERE id = tap.jti('erin web')), 'cookie logout revokes the cookie''s session');
SELECT tap.cookie('GET', '/tasks', tap.val('web cookie') #>> '{}');
SELECT is(tap.pre(), 'unauthenticated 401', 'pre_request: the revoked session cookie is unauthenticated 401');
SELECT tap.cookie('POST', '/rpc/logout', tap.val('web cookie') #>> '{}', tap.val('web csrf') #>> '{}', tap.val('web csrf') #>> '{}');
SELECT is(tap.pre(), 'unauthenticated 401', 'pre_request: the revoked cookie on /rpc/logout is unauthenticated 401 (only login and signup ignore it)');
SELECT tap.cookie('GET', '/tasks', tap.tok('erin expiring'));
SELECT is(tap.pre(), 'unauthenticated 401', 'pre_request: a cookie whose session expired is unauthenticated 401');
-- Signup and login ignore a stale cookie.
SELECT tap.cookie('POST', '/rpc/login', tap.val('web cookie') #>> '{}');
SELECT is(tap.pre(), 'no error', 'pre_request: POST /rpc/login ignores a revoked session cookie');
-- Login CSRF: signup and login accept only a JSON body (an HTML form cannot send one cross-site).
SELECT tap.request('POST', '/rpc/login', '{"content-type": "application/x-www-form-urlencoded"}');
SELECT is(tap.pre(), 'csrf_failed 403', 'pre_request: POST /rpc/login with a form body is csrf_failed 403');
SELECT tap.request('POST', '/rpc/signup', '{"content-type": "text/plain"}');
SELECT is(tap.pre(), 'csrf_failed 403', 'pre_request: POST /rpc/signup with a text/plain body is csrf_failed 403');
SELECT tap.request('POST', '/rpc/login', '{"content-type": "application/json; charset=utf-8"}');
SELECT is(tap.pre(), 'no error', 'pre_request: POST /rpc/login with application/json; charset=utf-8 passes');
SELECT is(current_user::text, 'task_api_anon', 'the login request stays anonymous');
SELECT is(tap.call('erin web2', $$api.login('erin@example.com', 'correct horse battery')$$), 'no error',
          'a browser with a stale cookie signs in again');
SELECT tap.cookie('POST', '/rpc/signup', 'garbage');
SELECT is(tap.pre(), 'no error', 'pre_request: POST /rpc/signup ignores a malformed session cookie');
SELECT is(tap.err($$SELECT api.signup('ivan@example.com', 'correct horse battery', 'Ivan')$$), 'no error',
          'a browser with a bad cookie signs up');
SELECT tap.cookie('POST', '/rpc/login', tap.val('expired cookie') #>> '{}');
SELECT is(tap.pre(), 'no error', 'pre_request: POST /rpc/login ignores an expired session cookie');
SELECT tap.act_as_admin();

-- API keys --------------------------------------------------------------------------------
SELECT tap.bearer(tap.tok('erin'), 'POST', '/rpc/create_api_key');
SELECT is(tap.pre(), 'no error', 'pre_request: a session token may call create_api_key');
SELECT is(tap.call('key ci', $$api.create_api_key('ci', now() + interval '1 day')$$), 'no error', 'POST /rpc/create_api_key succeeds');
SELECT is(tap.val('key ci') ->> 'status', '201', 'create_api_key sets response.status 201');
SELECT set_eq($$SELECT jsonb_object_keys(tap.val('key ci') -> 'body')$$, ARRAY['id', 'key', 'name', 'expires_at'],
              'create_api_key answers {id, key, name, expires_at}');
SELECT is(tap.call('key forever', $$api.create_api_key('  forever  ')$$), 'no error', 'create_api_key without expires_at succeeds');
SELECT is(tap.problems($$SELECT api.create_api_key('   ', now() - interval '1 day')$$),
          ARRAY['expires_at: must be in the future', 'name: must not be blank'],
          'create_api_key with a blank name and a past expiry lists both problems');
SELECT is(tap.problems(format('SELECT api.create_api_key(%L)', repeat('k', 101))), ARRAY['name: must be at most 100 characters'],
          'create_api_key with a 101-character name: at most 100 characters');
SELECT is(tap.problems($$SELECT api.create_api_key(NULL)$$), ARRAY['name: is required'], 'create_api_key without a name: name is required');
SELECT tap.act_as_admin();
SELECT results_eq($$SELECT user_id, name, revoked_at IS NULL, expires_at FROM task_api.api_keys WHERE id = (tap.val('key ci') -> 'body' ->> 'id')::uuid$$,
                  $$VALUES (tap.id('erin'), 'ci', true, now() + interval '1 day')$$,
                  'create_api_key stores the key''s row (user, name, expiry), never the key');
SELECT is((SELECT name FROM task_api.api_keys WHERE id = (tap.val('key forever') -> 'body' ->> 'id')::uuid), 'forever',
          'the key name is trimmed');
SELECT ok((SELECT valid FROM task_api.jwt_verify(tap.tok('key ci'))), 'an expiring API key verifies with jwt_verify()');
SELECT is((SELECT claims::jsonb FROM task_api.jwt_verify(tap.tok('key ci'))) - 'iat',
          jsonb_build_object('sub', tap.id('erin'), 'role', 'task_api_user', 'key_id', tap.val('key ci') -> 'body' ->> 'id',
                             'exp', tap.epoch(now() + interval '1 day')),
          'the key''s claims are sub, role, iat, key_id (its id) and exp (its expiry), and no jti');
SELECT is((SELECT reason FROM task_api.jwt_verify(tap.tok('key forever'))), 'valid',
          'an API key without expiry verifies with jwt_verify() too');
SELECT is(tap.jwt_payload(tap.tok('key forever')) ->> 'key_id', tap.val('key forever') -> 'body' ->> 'id',
          'the key without expiry carries key_id');
SELECT tap.bearer(tap.tok('key ci'), 'POST', '/tasks');
SELECT is(tap.pre(), 'no error', 'pre_request: a live API key passes');
SELECT is(task_api.current_user_id(), tap.id('erin'), 'the API key request runs as the key''s user');
SELECT set_eq($$SELECT name FROM api.api_keys$$, ARRAY['ci', 'forever'], 'GET /api_keys lists the caller''s live keys');
SELECT tap.act_as_admin();
SELECT ok((SELECT last_used_at IS NOT NULL FROM task_api.api_keys WHERE id = (tap.val('key ci') -> 'body' ->> 'id')::uuid),
          'a writing request with the key records last_used_at');
SELECT tap.bearer(tap.tok('key ci'), 'POST', '/rpc/create_api_key');
SELECT is(tap.pre(), 'no error', 'pre_request: the API key may call create_api_key');
SELECT is(tap.err($$SELECT api.create_api_key('sneaky')$$), 'forbidden 403', 'an API key cannot create API keys: forbidden 403');
SELECT tap.cookie('GET', '/tasks', tap.tok('key ci'));
SELECT is(tap.pre(), 'unauthenticated 401', 'pre_request: an API key as the session cookie is unauthenticated 401');
-- A browser session may create keys (with its CSRF token).
SELECT tap.cookie('POST', '/rpc/create_api_key', tap.tok('erin web2'), tap.cookie_value('erin web2', '__Host-task_api_csrf'),
                  tap.cookie_value('erin web2', '__Host-task_api_csrf'));
SELECT is(tap.pre(), 'no error', 'pre_request: cookie POST /rpc/create_api_key with the CSRF token passes');
SELECT is(tap.call('key web', $$api.create_api_key('web')$$), 'no error', 'a cookie session creates an API key');
-- Other users' keys are invisible.
SELECT tap.act_as_admin();
\o /dev/null
WITH k AS (INSERT INTO task_api.api_keys (user_id, name) VALUES (tap.id('alice'), 'alice key') RETURNING id)
SELECT tap.name_id('alice key', k.id) FROM k;
\o
SELECT tap.bearer(tap.tok('erin'), 'GET', '/api_keys');
SELECT is(tap.pre(), 'no error', 'GET /api_keys with erin''s session');
SELECT is_empty($$SELECT id FROM api.api_keys WHERE id = tap.id('alice key')$$, 'another user''s key is not in /api_keys');
SELECT is_empty($$SELECT id FROM task_api.api_keys WHERE user_id <> task_api.current_user_id()$$,
                'RLS hides other users'' keys even in task_api.api_keys');
SELECT tap.bearer(tap.tok('erin'), 'DELETE', '/api_keys');
SELECT is(tap.row_count($$DELETE FROM api.api_keys WHERE id = tap.id('alice key')$$), 0::bigint,
          'DELETE /api_keys?id=eq.<another user''s key> affects nothing');
SELECT tap.claims(jsonb_build_object('role', 'task_api_user', 'sub', tap.id('erin'), 'key_id', tap.id('alice key')));
SELECT is(tap.pre(), 'unauthenticated 401', 'pre_request: a token naming another user''s key is unauthenticated 401');
SELECT tap.claims(jsonb_build_object('role', 'task_api_user', 'sub', tap.id('erin'), 'key_id', 'nope'));
SELECT is(tap.pre(), 'unauthenticated 401', 'pre_request: a non-UUID key_id is unauthenticated 401');
SELECT tap.act_as_admin();
SELECT ok((SELECT revoked_at IS NULL FROM task_api.api_keys WHERE id = tap.id('alice key')), 'alice''s key is untouched');
-- Revocation.
SELECT tap.bearer(tap.tok('erin'), 'DELETE', '/api_keys');
SELECT is(tap.row_count(format('DELETE FROM api.api_keys WHERE id = %L', tap.val('key ci') -> 'body' ->> 'id')), 1::bigint,
          'DELETE /api_keys?id=eq.<own key> revokes it (1 row)');
SELECT is_empty(format('SELECT id FROM api.api_keys WHERE id = %L', tap.val('key ci') -> 'body' ->> 'id'),
                'a revoked key is no longer listed');
SELECT tap.act_as_admin();
SELECT ok((SELECT revoked_at IS NOT NULL FROM task_api.api_keys WHERE id = (tap.val('key ci') -> 'body' ->> 'id')::uuid),
          'the revoked key''s row keeps revoked_at');
SELECT tap.bearer(tap.tok('key ci'), 'GET', '/tasks');
SELECT is(tap.pre(), 'unauthenticated 401', 'pre_request: a revoked API key is unauthenticated 401');
SELECT tap.bearer(tap.tok('erin'), 'PATCH', '/api_keys');
SELECT is(tap.err('UPDATE task_api.api_keys SET name = ''renamed'''), '42501', 'task_api_user cannot rename keys in the table directly');
SELECT is(tap.err('UPDATE task_api.api_keys SET last_used_at = NULL'), '42501', 'task_api_user cannot write last_used_at');
SELECT '# trying to un-revoke the key in the table: ' || tap.err(format('UPDATE task_api.api_keys SET revoked_at = NULL WHERE id = %L', tap.val('key ci') -> 'body' ->> 'id'));
SELECT tap.act_as_admin();
SELECT ok((SELECT revoked_at IS NOT NULL FROM task_api.api_keys WHERE id = (tap.val('key ci') -> 'body' ->> 'id')::uuid),
          'a revoked key stays revoked, even for SQL that reaches task_api.api_keys directly');
-- Expiry.
\o /dev/null
UPDATE task_api.api_keys SET expires_at = now() - interval '1 second' WHERE id = (tap.val('key forever') -> 'body' ->> 'id')::uuid;
\o
SELECT tap.bearer(tap.tok('key forever'), 'GET', '/tasks');
SELECT is(tap.pre(), 'unauthenticated 401', 'pre_request: an API key past its expires_at is unauthenticated 401');
SELECT tap.act_as_admin();

-- Grants ----------------------------------------------------------------------------------
SELECT ok(NOT has_function_privilege('task_api_anon', f, 'EXECUTE') AND NOT has_function_privilege('task_api_user', f, 'EXECUTE'),
          format('neither task_api_anon nor task_api_user can EXECUTE %s', f))
  FROM unnest(ARRAY['task_api.jwt_sign(text)', 'task_api.jwt_verify(text)', 'task_api.csrf_token(text)',
                    'task_api.password_hash(text)', 'task_api.password_verify(text,text)', 'task_api.start_session(uuid)',
                    'task_api.api_keys_delete()']) f;
SELECT ok(has_function_privilege('task_api_anon', f, 'EXECUTE') AND has_function_privilege('task_api_user', f, 'EXECUTE'),
          format('task_api_anon and task_api_user can EXECUTE %s', f))
  FROM unnest(ARRAY['api.signup(text,text,text)', 'api.login(text,text)']) f;
SELECT ok(NOT has_function_privilege('task_api_anon', f, 'EXECUTE') AND has_function_privilege('task_api_user', f, 'EXECUTE'),
          format('only task_api_user can EXECUTE %s', f))
  FROM unnest(ARRAY['api.logout()', 'api.create_api_key(text,timestamp with time zone)']) f;
SELECT is_empty($$SELECT r || ' ' || p FROM unnest(ARRAY['task_api_anon', 'task_api_user', 'task_api_authenticator']) r,
                         unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p
                   WHERE has_table_privilege(r, 'task_api.sessions', p)
                  UNION ALL
                  SELECT r || ' ' || a.attname || ' ' || p FROM unnest(ARRAY['task_api_anon', 'task_api_user', 'task_api_authenticator']) r,
                         unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'REFERENCES']) p, pg_attribute a
                   WHERE a.attrelid = 'task_api.sessions'::regclass AND a.attnum > 0 AND NOT a.attisdropped
                     AND has_column_privilege(r, a.attrelid, a.attnum, p)$$,
                'no API role has any privilege on task_api.sessions, table or column');
SELECT is_empty($$SELECT polname FROM pg_policy WHERE polrelid = 'task_api.sessions'::regclass$$,
                'task_api.sessions has no policy: nobody but its owner reads it');
SELECT ok((SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE oid = 'task_api.sessions'::regclass),
          'RLS is enabled and forced on task_api.sessions');
SELECT set_eq($$SELECT a.attname::text || ' ' || p FROM pg_attribute a, unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'REFERENCES']) p
                 WHERE a.attrelid = 'task_api.api_keys'::regclass AND a.attnum > 0 AND NOT a.attisdropped
                   AND has_column_privilege('task_api_user', a.attrelid, a.attnum, p)$$,
              ARRAY['id SELECT', 'user_id SELECT', 'name SELECT', 'created_at SELECT', 'expires_at SELECT', 'revoked_at SELECT',
                    'last_used_at SELECT', 'revoked_at UPDATE'],
              'task_api_user reads task_api.api_keys by column and may only write revoked_at');
SELECT ok(NOT has_table_privilege('task_api_user', 'task_api.api_keys', 'INSERT, DELETE, TRUNCATE'),
          'task_api_user cannot insert or delete task_api.api_keys rows (keys come from create_api_key)');
SELECT set_eq($$SELECT p FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p
                 WHERE has_table_privilege('task_api_user', 'api.api_keys', p)$$,
              ARRAY['SELECT', 'DELETE'], 'api.api_keys is GET and DELETE only for task_api_user');
SELECT ok(NOT has_table_privilege('task_api_anon', 'api.api_keys', 'SELECT, INSERT, UPDATE, DELETE'),
          'task_api_anon has no privilege on api.api_keys');
SELECT tap.act_as(tap.id('erin'));
SELECT throws_ok($$SELECT * FROM task_api.sessions$$, '42501', NULL, 'task_api_user cannot read task_api.sessions');
SELECT throws_ok($$SELECT task_api.jwt_sign('{"sub":"x","role":"task_api_user","exp":9999999999}')$$, '42501', NULL,
                 'task_api_user cannot sign tokens');
SELECT throws_ok(format('SELECT task_api.start_session(%L)', tap.id('alice')), '42501', NULL,
                 'task_api_user cannot start a session for anybody');
SELECT throws_ok($$SELECT task_api.csrf_token('x')$$, '42501', NULL, 'task_api_user cannot compute CSRF tokens');
SELECT throws_ok($$SET task_api.password_iterations = 100000$$, '42501', NULL, 'task_api.password_iterations is superuser-only');
SELECT throws_ok($$SELECT current_setting('task_api.jwt_secret')$$, '42501', NULL, 'task_api_user cannot read task_api.jwt_secret');
SELECT tap.act_as_anon();
SELECT throws_ok($$SELECT task_api.password_hash('correct horse battery')$$, '42501', NULL, 'task_api_anon cannot hash passwords');
SELECT throws_ok($$SELECT * FROM task_api.jwt_verify('a.b.c')$$, '42501', NULL, 'task_api_anon cannot call jwt_verify()');
SELECT throws_ok($$SELECT api.logout()$$, '42501', NULL, 'task_api_anon cannot call logout');
SELECT throws_ok($$SELECT api.create_api_key('x')$$, '42501', NULL, 'task_api_anon cannot call create_api_key');
SELECT tap.act_as_admin();

-- jwt_sign / jwt_verify / csrf_token / password_* from SQL ------------------------------
\o /dev/null
SELECT tap.keep('claims', jsonb_build_object('sub', 'someone', 'role', 'task_api_user', 'n', 1.5, 'flag', true, 'nothing', NULL,
                                             'text', E'quote " back \\ é \u263a', 'exp', tap.epoch(now()) + 600));
SELECT tap.keep('signed', to_jsonb(tap.sign(tap.val('claims'))));
\o
SELECT matches(tap.val('signed') #>> '{}', '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$',
               'jwt_sign gives three unpadded base64url parts with a 32-byte signature');
SELECT is(convert_from(decode(rpad(translate(split_part(tap.val('signed') #>> '{}', '.', 1), '-_', '+/'),
                                   (length(split_part(tap.val('signed') #>> '{}', '.', 1)) + 3) / 4 * 4, '='), 'base64'), 'UTF8')::jsonb,
          '{"alg": "HS256", "typ": "JWT"}'::jsonb, 'the header is {"alg":"HS256","typ":"JWT"}');
SELECT results_eq($$SELECT valid, reason, claims::jsonb FROM task_api.jwt_verify(tap.val('signed') #>> '{}')$$,
                  $$VALUES (true, 'valid', tap.val('claims'))$$,
                  'jwt_verify round-trips strings (escapes, non-ASCII), numbers, booleans and null');
CREATE TEMP TABLE jwt_cases (token text, want text, what text) ON COMMIT DROP;
\o /dev/null
INSERT INTO jwt_cases
SELECT t.token, t.want, t.what FROM (VALUES
    (left(tap.val('signed') #>> '{}', -1) || CASE WHEN right(tap.val('signed') #>> '{}', 1) = 'A' THEN 'Q' ELSE 'A' END,
     'the token''s signature does not match', 'a changed signature'),
    (split_part(tap.val('signed') #>> '{}', '.', 1) || '.' || split_part(tap.tok('erin'), '.', 2) || '.' || split_part(tap.val('signed') #>> '{}', '.', 3),
     'the token''s signature does not match', 'a swapped payload'),
    (split_part(tap.val('signed') #>> '{}', '.', 1) || '.' || split_part(tap.val('signed') #>> '{}', '.', 2) || '.',
     'the token''s signature does not match', 'an empty signature'),
    ('eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.' || split_part(tap.val('signed') #>> '{}', '.', 2) || '.',
     'the token''s algorithm is not HS256', 'alg none'),
    ('eyJhbGciOiJIUzI1NiIsImtpZCI6IngifQ.' || split_part(tap.val('signed') #>> '{}', '.', 2) || '.' || split_part(tap.val('signed') #>> '{}', '.', 3),
     'the token''s algorithm is not HS256', 'a header with a kid'),
    ('eyJhbGciOiJSUzI1NiJ9.' || split_part(tap.val('signed') #>> '{}', '.', 2) || '.' || split_part(tap.val('signed') #>> '{}', '.', 3),
     'the token''s algorithm is not HS256', 'alg RS256'),
    ('abc', 'the token is malformed', 'no dots'),
    ('a.b', 'the token is malformed', 'two parts'),
    (tap.val('signed') #>> '{}' || '.x', 'the token is malformed', 'four parts'),
    ('', 'the token is malformed', 'an empty string'),
    ('!!!.' || split_part(tap.val('signed') #>> '{}', '.', 2) || '.' || split_part(tap.val('signed') #>> '{}', '.', 3),
     'the token is malformed', 'a header that is not base64url'),
    (repeat('a', 9000), 'the token is too long', 'a 9000-byte token'),
    (tap.sign(jsonb_build_object('sub', 'x', 'exp', tap.epoch(clock_timestamp()) - 60)), 'the token has expired', 'exp a minute ago'),
    (tap.sign(jsonb_build_object('sub', 'x', 'exp', tap.epoch(clock_timestamp()) - 10)), 'valid', 'exp 10 s ago (within the 30 s skew)'),
    (tap.sign(jsonb_build_object('sub', 'x', 'exp', tap.epoch(clock_timestamp()) + 7200, 'nbf', tap.epoch(clock_timestamp()) + 3600)),
     'the token is not valid yet', 'nbf in an hour'),
    (tap.sign(jsonb_build_object('sub', 'x', 'exp', tap.epoch(clock_timestamp()) + 7200, 'iat', tap.epoch(clock_timestamp()) + 3600)),
     'the token is not valid yet', 'iat in an hour'),
    (tap.sign(jsonb_build_object('sub', 'x', 'exp', tap.epoch(clock_timestamp()) + 600, 'nbf', tap.epoch(clock_timestamp()) - 10)), 'valid', 'nbf in the past'),
    (tap.sign(jsonb_build_object('sub', 'x')), 'the token lacks a required claim', 'no exp'),
    (tap.sign(jsonb_build_object('sub', 'x', 'exp', (tap.epoch(clock_timestamp()) + 600)::text)), 'the token lacks a required claim', 'exp as a string')
) AS t(token, want, what);
\o
SELECT is((SELECT reason FROM task_api.jwt_verify(c.token)), c.want, format('jwt_verify: %s -> %s', c.what, c.want))
  FROM jwt_cases c ORDER BY c.what;
SELECT is_empty($$SELECT c.what FROM jwt_cases c, task_api.jwt_verify(c.token) v
                   WHERE v.valid IS DISTINCT FROM (c.want = 'valid') OR (v.claims IS NULL) = v.valid$$,
                'jwt_verify: valid is true exactly when the reason is "valid", and claims are given only then');
SELECT is((SELECT valid FROM task_api.jwt_verify(NULL)), NULL, 'jwt_verify(NULL) is NULL (STRICT)');
SELECT is(task_api.jwt_sign(NULL), NULL, 'jwt_sign(NULL) is NULL (STRICT)');
SELECT throws_ok($$SELECT task_api.jwt_sign('{"a": {"b": 1}}')$$, '22023', 'claims must be a flat JSON object', 'jwt_sign refuses nested objects');
SELECT throws_ok($$SELECT task_api.jwt_sign('{"a": [1]}')$$, '22023', 'claims must be a flat JSON object', 'jwt_sign refuses arrays');
SELECT throws_ok($$SELECT task_api.jwt_sign('{"a": 1, "a": 2}')$$, '22023', 'claims must be a flat JSON object', 'jwt_sign refuses duplicate names');
SELECT throws_ok($$SELECT task_api.jwt_sign('[1, 2]')$$, '22023', 'claims must be a flat JSON object', 'jwt_sign refuses a non-object');
SELECT throws_ok($$SELECT task_api.jwt_sign('not json')$$, '22023', 'claims must be a flat JSON object', 'jwt_sign refuses text that is not JSON');
SELECT throws_ok(format('SELECT task_api.jwt_sign(%L)', jsonb_build_object('x', repeat('y', 7000))), '54000', NULL,
                 'jwt_sign refuses claims over the size limit with an error, not a crash');
-- Another secret.
\o /dev/null
SET LOCAL task_api.jwt_secret = 'another secret of at least thirty-two bytes';
SELECT tap.keep('foreign', to_jsonb(tap.sign(jsonb_build_object('sub', tap.id('erin'), 'role', 'task_api_user',
    'exp', tap.epoch(now()) + 600, 'jti', tap.jti('erin')))));
RESET task_api.jwt_secret;
\o
SELECT is((SELECT reason FROM task_api.jwt_verify(tap.val('foreign') #>> '{}')), 'the token''s signature does not match',
          'jwt_verify: a token signed with another secret -> the signature does not match');
SELECT tap.cookie('GET', '/tasks', tap.val('foreign') #>> '{}');
SELECT is(tap.pre(), 'unauthenticated 401', 'pre_request: a session cookie signed with another secret is unauthenticated 401');
SELECT tap.act_as_admin();
SET LOCAL task_api.jwt_secret = 'too short';
SELECT throws_ok($$SELECT task_api.jwt_sign('{"sub": "x"}')$$, 'F0000', NULL, 'jwt_sign refuses a secret under 32 bytes');
SELECT throws_ok($$SELECT * FROM task_api.jwt_verify('a.b.c')$$, 'F0000', NULL, 'jwt_verify refuses a secret under 32 bytes');
SELECT throws_ok($$SELECT task_api.csrf_token('x')$$, 'F0000', NULL, 'csrf_token refuses a secret under 32 bytes');
RESET task_api.jwt_secret;
SELECT is(task_api.csrf_token(tap.jti('erin')::text), task_api.csrf_token(tap.jti('erin')::text), 'csrf_token is deterministic for a session');
SELECT isnt(task_api.csrf_token(tap.jti('erin')::text), task_api.csrf_token(tap.jti('erin login')::text), 'csrf_token differs between sessions');
SELECT matches(task_api.csrf_token('x'), '^[A-Za-z0-9_-]{43}$', 'csrf_token is an unpadded base64url HMAC-SHA-256 (43 characters)');
SELECT ok(task_api.password_verify('correct horse battery', task_api.password_hash('correct horse battery')), 'password_verify accepts the right password');
SELECT ok(NOT task_api.password_verify('correct horse batterY', task_api.password_hash('correct horse battery')), 'password_verify refuses a wrong password');
SELECT ok(NOT task_api.password_verify('correct horse battery', NULL), 'password_verify with a NULL verifier (no such user) is false');
SELECT ok(NOT task_api.password_verify('correct horse battery', 'not a verifier'), 'password_verify with a malformed verifier is false');
SELECT ok(NOT task_api.password_verify('correct horse battery', 'SCRAM-SHA-256$0:c2FsdA==$a:b'), 'password_verify with zero iterations is false');
SELECT ok(NOT task_api.password_verify(NULL, task_api.password_hash('correct horse battery')), 'password_verify with a NULL password is false');
SELECT throws_ok(format('SELECT task_api.password_hash(%L)', repeat('x', 1025)), '22001', NULL, 'password_hash refuses more than 1024 bytes');
SELECT throws_ok($$SET LOCAL task_api.password_iterations = 100$$, '22023', NULL, 'task_api.password_iterations cannot go below 4096');

-- Passwords: Argon2id, old hashes redone at login, blank passwords (issue 21) ----------
SELECT ok(NOT task_api.password_needs_rehash(task_api.password_hash('correct horse battery')),
          'an Argon2id hash of the current cost needs no rehash');
SET LOCAL task_api.password_time_cost = 2;
SELECT ok(task_api.password_needs_rehash((SELECT password_hash FROM task_api.users WHERE id = tap.id('erin'))),
          'a hash made with another time cost needs a rehash');
SET LOCAL task_api.password_time_cost = 1;
SET LOCAL task_api.password_memory = 128;
SELECT ok(task_api.password_needs_rehash((SELECT password_hash FROM task_api.users WHERE id = tap.id('erin'))),
          'a hash made with another memory cost needs a rehash');
SET LOCAL task_api.password_memory = 64;
SELECT ok(task_api.password_needs_rehash('SCRAM-SHA-256$4096:c2FsdA==$a:b'), 'a SCRAM-SHA-256 verifier (release 0.1.0) needs a rehash');
-- A SCRAM-SHA-256 verifier as release 0.1.0 stored them: PostgreSQL's own.
\o /dev/null
SET LOCAL password_encryption = 'scram-sha-256';
CREATE ROLE tap_scram_role PASSWORD 'an old good password';
SELECT tap.make_user('olga', 'a1000000-0000-4000-8000-000000000001');
UPDATE task_api.users SET password_hash = (SELECT rolpassword FROM pg_authid WHERE rolname = 'tap_scram_role')
 WHERE id = tap.id('olga');
\o
SELECT matches((SELECT password_hash FROM task_api.users WHERE id = tap.id('olga')), '^SCRAM-SHA-256\$4096:',
               'olga has a SCRAM-SHA-256 verifier of release 0.1.0');
SELECT ok(task_api.password_verify('an old good password', (SELECT password_hash FROM task_api.users WHERE id = tap.id('olga'))),
          'password_verify still checks SCRAM-SHA-256 verifiers');
SELECT tap.request('POST', '/rpc/login');
SELECT is(tap.err($$SELECT api.login('olga@example.com', 'an old good password')$$), 'no error',
          'login with a SCRAM-SHA-256 verifier signs in');
SELECT tap.act_as_admin();
SELECT matches((SELECT password_hash FROM task_api.users WHERE id = tap.id('olga')), '^\$argon2id\$v=19\$m=64,t=1,p=1\$',
               'that login replaced the verifier by an Argon2id hash of the current cost');
SELECT ok(task_api.password_verify('an old good password', (SELECT password_hash FROM task_api.users WHERE id = tap.id('olga'))),
          'the new hash matches the password');
SET LOCAL task_api.password_memory = 72;
SELECT tap.request('POST', '/rpc/login');
SELECT is(tap.err($$SELECT api.login('olga@example.com', 'an old good password')$$), 'no error', 'login after the memory cost changed');
SELECT tap.act_as_admin();
SELECT matches((SELECT password_hash FROM task_api.users WHERE id = tap.id('olga')), '^\$argon2id\$v=19\$m=72,t=1,p=1\$',
               'an Argon2id hash of another cost is redone at login too');
SET LOCAL task_api.password_memory = 64;
SELECT tap.request('POST', '/rpc/signup');
SELECT is(tap.problems($$SELECT api.signup('blank@example.com', '          ', 'X')$$), ARRAY['password: must not be blank'],
          'signup with ten spaces as the password: must not be blank');
SELECT is(tap.problems(format('SELECT api.signup(%L, %L, %L)', 'blank@example.com', E'\t \u00a0\u3000\u2003\n\r \u200b  ', 'X')),
          ARRAY['password: must not be blank'], 'Unicode spaces, tabs and newlines are blank too');
SELECT is(tap.err($$SELECT api.signup('notblank@example.com', '  spaced  out  ', 'X')$$), 'no error',
          'a password with spaces around other characters is fine');
SELECT tap.act_as_admin();
SELECT throws_ok($$SET LOCAL task_api.password_memory = 4$$, '22023', NULL, 'task_api.password_memory cannot go below 8 kB');
SELECT throws_ok($$SET LOCAL task_api.password_time_cost = 0$$, '22023', NULL, 'task_api.password_time_cost cannot go below 1');

-- change_password and logout_all (issue 21) ----------------------------------------------
SELECT tap.request('POST', '/rpc/signup');
SELECT is(tap.call('pat', $$api.signup('pat@example.com', 'correct horse battery')$$), 'no error', 'pat signs up');
SELECT tap.request('POST', '/rpc/login');
SELECT is(tap.call('pat 2', $$api.login('pat@example.com', 'correct horse battery')$$), 'no error', 'pat signs in again');
SELECT tap.request('POST', '/rpc/login');
SELECT is(tap.call('pat 3', $$api.login('pat@example.com', 'correct horse battery')$$), 'no error', 'and a third time');
SELECT tap.act_as_admin();
\o /dev/null
SELECT tap.name_id('pat', id) FROM task_api.users WHERE email = 'pat@example.com';
WITH k AS (INSERT INTO task_api.api_keys (user_id, name) VALUES (tap.id('pat'), 'pat key') RETURNING id)
SELECT tap.name_id('pat key', k.id) FROM k;
SELECT tap.keep('pat key', jsonb_build_object('body', task_api.api_key_response(tap.id('pat key'))));
\o
SELECT tap.bearer(tap.tok('pat key'), 'POST', '/rpc/change_password');
SELECT is(tap.pre(), 'no error', 'pre_request: an API key may reach /rpc/change_password');
SELECT is(tap.err($$SELECT api.change_password('correct horse battery', 'a brand new password')$$), 'forbidden 403',
          'an API key cannot change the password: forbidden 403');
SELECT tap.bearer(tap.tok('pat key'), 'POST', '/rpc/logout_all');
SELECT is(tap.err($$SELECT api.logout_all()$$), 'forbidden 403', 'an API key cannot end sessions: forbidden 403');
SELECT tap.act_as_anon();
SELECT throws_ok($$SELECT api.change_password('correct horse battery', 'a brand new password')$$, '42501', NULL,
                 'task_api_anon cannot call change_password');
SELECT throws_ok($$SELECT api.logout_all()$$, '42501', NULL, 'task_api_anon cannot call logout_all');
SELECT tap.bearer(tap.tok('pat 2'), 'POST', '/rpc/change_password');
SELECT is(tap.err($$SELECT api.change_password('wrong horse battery', 'a brand new password')$$), 'forbidden 403',
          'change_password with a wrong current password: forbidden 403');
SELECT is(tap.error_of($$SELECT api.change_password('wrong horse battery', 'a brand new password')$$) ->> 'message',
          'the current password is incorrect', 'and the message says so');
SELECT is(tap.err($$SELECT api.change_password(NULL, 'a brand new password')$$), 'forbidden 403',
          'change_password without the current password: forbidden 403');
SELECT is(tap.problems($$SELECT api.change_password('correct horse battery', '          ')$$), ARRAY['new_password: must not be blank'],
          'change_password to ten spaces: new_password must not be blank');
SELECT is(tap.problems($$SELECT api.change_password('correct horse battery', 'short')$$),
          ARRAY['new_password: must be at least 10 characters'], 'change_password to 5 characters: at least 10');
SELECT is(tap.problems($$SELECT api.change_password('correct horse battery', NULL)$$), ARRAY['new_password: is required'],
          'change_password without a new password: is required');
SELECT is(tap.problems(format('SELECT api.change_password(%L, %L)', 'correct horse battery', repeat('x', 1025))),
          ARRAY['new_password: must be at most 1024 bytes'], 'change_password to 1025 bytes: at most 1024');
SELECT tap.act_as_admin();
SELECT is((SELECT count(*) FROM task_api.sessions WHERE user_id = tap.id('pat') AND revoked_at IS NULL), 3::bigint,
          'refused password changes end no session');
SELECT tap.bearer(tap.tok('pat 2'), 'POST', '/rpc/change_password');
SELECT is(tap.call('pat changed', $$api.change_password('correct horse battery', 'a brand new password')$$), 'no error',
          'POST /rpc/change_password with the right current password');
SELECT tap.act_as_admin();
SELECT ok((SELECT task_api.password_verify('a brand new password', password_hash)
                  AND NOT task_api.password_verify('correct horse battery', password_hash)
             FROM task_api.users WHERE id = tap.id('pat')), 'the new password replaces the old one');
SELECT results_eq($$SELECT id FROM task_api.sessions WHERE user_id = tap.id('pat') AND revoked_at IS NULL$$,
                  $$VALUES (tap.jti('pat 2'))$$, 'change_password ends every other session and keeps the caller''s');
SELECT ok((SELECT revoked_at IS NULL FROM task_api.api_keys WHERE id = tap.id('pat key')), 'API keys stay');
SELECT tap.bearer(tap.tok('pat'), 'GET', '/tasks');
SELECT is(tap.pre(), 'unauthenticated 401', 'pre_request: another session''s token is now unauthenticated 401');
SELECT tap.bearer(tap.tok('pat 2'), 'GET', '/tasks');
SELECT is(tap.pre(), 'no error', 'pre_request: the caller''s token still passes');
SELECT tap.request('POST', '/rpc/login');
SELECT is(tap.err($$SELECT api.login('pat@example.com', 'correct horse battery')$$), 'invalid_credentials 401',
          'the old password no longer signs in');
SELECT is(tap.call('pat 4', $$api.login('pat@example.com', 'a brand new password')$$), 'no error', 'the new one does');
SELECT tap.cookie('POST', '/rpc/change_password', tap.tok('pat 4'), tap.cookie_value('pat 4', '__Host-task_api_csrf'),
                  tap.cookie_value('pat 4', '__Host-task_api_csrf'));
SELECT is(tap.pre(), 'no error', 'pre_request: cookie POST /rpc/change_password with the CSRF token passes');
SELECT is(tap.err($$SELECT api.change_password('a brand new password', 'yet another password')$$), 'no error',
          'a cookie session changes the password');
SELECT tap.act_as_admin();
SELECT results_eq($$SELECT id FROM task_api.sessions WHERE user_id = tap.id('pat') AND revoked_at IS NULL$$,
                  $$VALUES (tap.jti('pat 4'))$$, 'by cookie too: the other sessions end, the cookie''s goes on');
SELECT tap.request('POST', '/rpc/login');
SELECT is(tap.call('pat 5', $$api.login('pat@example.com', 'yet another password')$$), 'no error', 'pat signs in once more');
SELECT tap.cookie('POST', '/rpc/logout_all', tap.tok('pat 5'), tap.cookie_value('pat 5', '__Host-task_api_csrf'));
SELECT is(tap.pre(), 'csrf_failed 403', 'pre_request: cookie POST /rpc/logout_all without X-CSRF-Token: csrf_failed 403');
SELECT tap.cookie('POST', '/rpc/logout_all', tap.tok('pat 5'), tap.cookie_value('pat 5', '__Host-task_api_csrf'),
                  tap.cookie_value('pat 5', '__Host-task_api_csrf'));
SELECT is(tap.pre(), 'no error', 'pre_request: with it, it passes');
SELECT is(tap.err('SELECT api.logout_all()'), 'no error', 'POST /rpc/logout_all by cookie');
SELECT ok(current_setting('response.headers')::jsonb @>
          '[{"Set-Cookie": "__Host-task_api_session=; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=0"},
            {"Set-Cookie": "__Host-task_api_csrf=; Secure; SameSite=Lax; Path=/; Max-Age=0"}]',
          'logout_all clears both cookies');
SELECT tap.act_as_admin();
SELECT is((SELECT count(*) FROM task_api.sessions WHERE user_id = tap.id('pat') AND revoked_at IS NULL), 0::bigint,
          'logout_all ends every session of the user, the caller''s included');
SELECT ok((SELECT revoked_at IS NULL FROM task_api.api_keys WHERE id = tap.id('pat key')), 'API keys stay');
SELECT tap.bearer(tap.tok('pat 4'), 'GET', '/tasks');
SELECT is(tap.pre(), 'unauthenticated 401', 'pre_request: a token of a session logout_all ended is unauthenticated 401');

-- Caps on live sessions and API keys (issue 21) -------------------------------------------
SELECT tap.act_as_admin();
SET LOCAL task_api.max_sessions_per_user = 2;
SELECT tap.request('POST', '/rpc/login');
SELECT is(tap.call('pat 6', $$api.login('pat@example.com', 'yet another password')$$), 'no error', 'a sign-in with room');
SELECT tap.request('POST', '/rpc/login');
SELECT is(tap.call('pat 7', $$api.login('pat@example.com', 'yet another password')$$), 'no error', 'a sign-in up to the cap');
SELECT tap.request('POST', '/rpc/login');
SELECT is(tap.call('pat 8', $$api.login('pat@example.com', 'yet another password')$$), 'no error',
          'a sign-in beyond task_api.max_sessions_per_user still succeeds');
SELECT tap.act_as_admin();
SELECT results_eq($$SELECT id FROM task_api.sessions WHERE user_id = tap.id('pat') AND revoked_at IS NULL ORDER BY id$$,
                  $$VALUES (tap.jti('pat 7')), (tap.jti('pat 8'))$$, 'and ends the oldest live session: two stay');
SELECT tap.bearer(tap.tok('pat 6'), 'GET', '/tasks');
SELECT is(tap.pre(), 'unauthenticated 401', 'pre_request: the ended oldest session is unauthenticated 401');
SELECT tap.act_as_admin();
SELECT throws_ok($$SET ROLE task_api_user; SET task_api.max_sessions_per_user = 1000$$, '42501', NULL,
                 'task_api.max_sessions_per_user is superuser-only');
RESET ROLE;
SET LOCAL task_api.max_api_keys_per_user = 2;
SELECT tap.bearer(tap.tok('pat 8'), 'POST', '/rpc/create_api_key');
SELECT is(tap.call('pat key 2', $$api.create_api_key('second')$$), 'no error', 'pat''s second live key (the cap is 2)');
SELECT is(tap.err($$SELECT api.create_api_key('third')$$), 'conflict 409',
          'a key beyond task_api.max_api_keys_per_user: conflict 409');
SELECT matches(tap.error_of($$SELECT api.create_api_key('third')$$) ->> 'message', 'you already have 2 live API keys',
               'the message gives the cap');
SELECT tap.act_as_admin();
\o /dev/null
UPDATE task_api.api_keys SET revoked_at = now() WHERE id = tap.id('pat key');
INSERT INTO task_api.api_keys (user_id, name, expires_at) VALUES (tap.id('pat'), 'expired', now() - interval '1 second');
\o
SELECT tap.bearer(tap.tok('pat 8'), 'POST', '/rpc/create_api_key');
SELECT is(tap.err($$SELECT api.create_api_key('third')$$), 'no error', 'revoked and expired keys do not count');
SELECT is(tap.err($$SELECT api.create_api_key('fourth')$$), 'conflict 409', 'then the cap holds again');
SELECT tap.act_as_admin();
SELECT is((SELECT count(*) FROM task_api.api_keys WHERE user_id = tap.id('pat') AND revoked_at IS NULL AND name NOT IN ('expired')),
          2::bigint, 'pat holds two live keys');
SELECT throws_ok($$SET ROLE task_api_user; SET task_api.max_api_keys_per_user = 1000$$, '42501', NULL,
                 'task_api.max_api_keys_per_user is superuser-only');
RESET ROLE;

-- create_api_key with an Idempotency-Key: the key is never stored (issue 21) --------------
SELECT tap.request('POST', '/rpc/create_api_key', jsonb_build_object('authorization', 'Bearer ' || tap.tok('erin'),
                   'idempotency-key', 'tap-key-once'), '{}', tap.jwt_payload(tap.tok('erin')));
SELECT is(tap.pre(), 'no error', 'pre_request: create_api_key with an Idempotency-Key');
SELECT is(tap.call('key once', $$api.create_api_key('once')$$), 'no error', 'creates a key');
SELECT matches(tap.val('key once') -> 'body' ->> 'key', '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$', 'the answer holds the key');
SELECT tap.act_as_admin();
SELECT is((SELECT response FROM task_api.idempotency_keys WHERE key = 'tap-key-once'),
          (tap.val('key once') -> 'body') - 'key', 'the stored response is the answer without the key');
SELECT is((SELECT count(*) FROM task_api.idempotency_keys WHERE strpos(response::text, tap.tok('key once')) > 0
                                                              OR strpos(response::text, split_part(tap.tok('key once'), '.', 3)) > 0),
          0::bigint, 'no stored response holds the key or its signature');
SELECT tap.request('POST', '/rpc/create_api_key', jsonb_build_object('authorization', 'Bearer ' || tap.tok('erin'),
                   'idempotency-key', 'tap-key-once'), '{}', tap.jwt_payload(tap.tok('erin')));
SELECT is(tap.call('key again', $$api.create_api_key('once')$$), 'no error', 'the same request again replays');
SELECT is(tap.val('key again') -> 'body', tap.val('key once') -> 'body', 'the replay answers the same body, the key signed again');
SELECT is(tap.val('key again') ->> 'status', '201', 'with the original status');
SELECT tap.act_as_admin();
SELECT is((SELECT count(*) FROM task_api.api_keys WHERE name = 'once'), 1::bigint, 'the replay created no second key');
\o /dev/null
UPDATE task_api.api_keys SET revoked_at = now() WHERE name = 'once';
\o
SELECT tap.request('POST', '/rpc/create_api_key', jsonb_build_object('authorization', 'Bearer ' || tap.tok('erin'),
                   'idempotency-key', 'tap-key-once'), '{}', tap.jwt_payload(tap.tok('erin')));
SELECT is(tap.call('key revoked', $$api.create_api_key('once')$$), 'no error', 'a replay after the key was revoked');
SELECT is(tap.val('key revoked') -> 'body', jsonb_set(tap.val('key once') -> 'body', '{key}', 'null'),
          'answers the same body with a null key (a dead key is not signed again)');
SELECT tap.act_as_admin();

-- Cookies: the __Host- name; the old name, alone or with the new one, is refused (issue 21)
SELECT tap.request('GET', '/tasks', '{}', jsonb_build_object('task_api_session', tap.tok('erin web2')));
SELECT is(tap.pre(), 'unauthenticated 401', 'pre_request: a valid session under the old cookie name is unauthenticated 401');
SELECT is(tap.error_of('SELECT task_api.pre_request()') ->> 'message', 'the session cookie has an old name', 'and says why');
SELECT is(tap.error_of('SELECT task_api.pre_request()') -> 'headers' ->> 'Set-Cookie',
          'task_api_session=; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=0', 'and tells the browser to drop it');
SELECT tap.request('GET', '/tasks', '{}', jsonb_build_object('__Host-task_api_session', tap.tok('erin web2'),
                                                             'task_api_session', tap.tok('erin web2')));
SELECT is(tap.pre(), 'unauthenticated 401', 'pre_request: two session cookies (the old and the new name) are unauthenticated 401');
SELECT is(tap.error_of('SELECT task_api.pre_request()') ->> 'message', 'the request carries two session cookies', 'and says why');
SELECT is(tap.error_of('SELECT task_api.pre_request()') -> 'headers' ->> 'Set-Cookie',
          'task_api_session=; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=0', 'and drops the old-name one');
SELECT tap.request('GET', '/tasks', '{}', jsonb_build_object('__Host-task_api_session', tap.tok('erin web2'), 'task_api_session', ''));
SELECT is(tap.pre(), 'unauthenticated 401', 'pre_request: even an empty old-name cookie next to the real one is refused');
SELECT tap.request('GET', '/tasks', '{}', jsonb_build_object('task_api_session', ''));
SELECT is(tap.pre(), 'no error', 'pre_request: an empty old-name cookie alone is anonymous (as logout left it)');
SELECT tap.request('POST', '/rpc/login', '{}', jsonb_build_object('__Host-task_api_session', 'x', 'task_api_session', 'y'));
SELECT is(tap.pre(), 'no error', 'pre_request: login ignores both cookies, so a browser can always sign in again');
SELECT tap.act_as_admin();

-- Sessions that renew: refresh rotates, the absolute end stays --------------------------
SELECT tap.request('POST', '/rpc/login');
SELECT is(tap.call('rita', $$api.login('erin@example.com', 'correct horse battery')$$), 'no error', 'login for the refresh tests');
SELECT tap.bearer(tap.tok('rita'), 'POST', '/rpc/refresh');
SELECT is(tap.pre(), 'no error', 'pre_request: a live session may call refresh');
SELECT is(tap.call('rita 2', 'api.refresh()'), 'no error', 'POST /rpc/refresh succeeds without the password');
SELECT tap.act_as_admin();
SELECT set_eq($$SELECT jsonb_object_keys(tap.val('rita 2') -> 'body')$$, ARRAY['user_id', 'token', 'token_type', 'expires_at'],
              'refresh answers what login answers');
SELECT isnt(tap.jti('rita 2'), tap.jti('rita'), 'refresh starts a new session');
SELECT ok((SELECT revoked_at IS NOT NULL FROM task_api.sessions WHERE id = tap.jti('rita')), 'and ends the old one');
SELECT is((SELECT expires_at FROM task_api.sessions WHERE id = tap.jti('rita 2')),
          (SELECT expires_at FROM task_api.sessions WHERE id = tap.jti('rita')),
          'the successor keeps the absolute end of the session it replaces');
SELECT is((tap.jwt_payload(tap.tok('rita 2')) ->> 'exp')::bigint - (tap.jwt_payload(tap.tok('rita 2')) ->> 'iat')::bigint, tap.ttl(),
          'the new token lives task_api.jwt_ttl');
SELECT is(tap.cookie_value('rita 2', '__Host-task_api_session'), tap.tok('rita 2'), 'refresh sets the new session cookie');
SELECT is(tap.cookie_value('rita 2', '__Host-task_api_csrf'), task_api.csrf_token(tap.jti('rita 2')::text),
          'and the CSRF cookie of the new session');
SELECT tap.bearer(tap.tok('rita'), 'POST', '/rpc/refresh');
SELECT is(tap.pre(), 'unauthenticated 401', 'the refreshed (rotated) token is unauthenticated 401 at once');
-- Two refreshes that both passed pre_request: the second finds the session ended.
SELECT tap.bearer(tap.tok('rita 2'), 'POST', '/rpc/refresh');
SELECT is(tap.call('rita 3', 'api.refresh()'), 'no error', 'a refresh of the successor works');
SELECT is(tap.call('rita 3b', 'api.refresh()'), 'unauthenticated 401', 'refresh of a session refreshed already is unauthenticated 401');
SELECT tap.act_as_admin();
\o /dev/null
UPDATE task_api.sessions SET expires_at = now() + interval '100 seconds' WHERE id = tap.jti('rita 3');
\o
SELECT tap.bearer(tap.tok('rita 3'), 'POST', '/rpc/refresh');
SELECT is(tap.call('rita 4', 'api.refresh()'), 'no error', 'a refresh near the session''s end works');
SELECT tap.act_as_admin();
SELECT is((tap.jwt_payload(tap.tok('rita 4')) ->> 'exp')::bigint, tap.epoch((SELECT expires_at FROM task_api.sessions WHERE id = tap.jti('rita 4'))),
          'but its token ends with the session, not task_api.jwt_ttl later');
\o /dev/null
UPDATE task_api.sessions SET expires_at = now() - interval '1 second' WHERE id = tap.jti('rita 4');
\o
SELECT tap.bearer(tap.tok('rita 4'), 'POST', '/rpc/refresh');
SELECT is(tap.pre(), 'unauthenticated 401', 'an expired session cannot be refreshed (401)');
SELECT tap.bearer(tap.tok('key web'), 'POST', '/rpc/refresh');
SELECT is(tap.call('key refresh', 'api.refresh()'), 'forbidden 403', 'an API key cannot refresh (forbidden 403)');
SELECT tap.act_as_admin();
SELECT function_privs_are('api', 'refresh', ARRAY[]::text[], 'task_api_user', ARRAY['EXECUTE'], 'users may call refresh');
SELECT function_privs_are('api', 'refresh', ARRAY[]::text[], 'task_api_anon', ARRAY[]::text[], 'anonymous callers may not');
SELECT function_privs_are('task_api', 'issue_session', ARRAY['uuid', 'timestamptz'], 'task_api_user', ARRAY[]::text[],
                          'issue_session is internal');

-- Sessions that renew: a cookie past half its life slides --------------------------------
SELECT tap.request('POST', '/rpc/login');
SELECT is(tap.call('sally', $$api.login('erin@example.com', 'correct horse battery')$$), 'no error', 'login for the sliding tests');
SELECT tap.act_as_admin();
SELECT tap.cookie('GET', '/tasks', tap.sign(tap.jwt_payload(tap.tok('sally')) || jsonb_build_object(
    'iat', tap.epoch(now()) - 60, 'exp', tap.epoch(now()) - 60 + tap.ttl())));
SELECT is(tap.pre(), 'no error', 'a young cookie passes');
SELECT is((SELECT coalesce(jsonb_agg(h), '[]')::text FROM jsonb_array_elements(current_setting('response.headers')::jsonb) h WHERE NOT h ? 'X-Request-Id'), '[]', 'and is not renewed (no header but the request id)');
SELECT tap.act_as_admin();
SELECT tap.cookie('GET', '/tasks', tap.sign(tap.jwt_payload(tap.tok('sally')) || jsonb_build_object(
    'iat', tap.epoch(now()) - tap.ttl() / 2 - 60, 'exp', tap.epoch(now()) - tap.ttl() / 2 - 60 + tap.ttl())));
SELECT is(tap.pre(), 'no error', 'a cookie past half its life passes (it writes nothing: test/http/refresh.test.mjs slides on read-only GETs)');
\o /dev/null
SELECT tap.keep('slid', current_setting('response.headers')::jsonb);
\o
SELECT tap.act_as_admin();
CREATE TEMP TABLE slid ON COMMIT DROP AS
SELECT substring(h ->> 'Set-Cookie' FROM '^__Host-task_api_session=([^;]*)') AS token, h ->> 'Set-Cookie' AS line
  FROM jsonb_array_elements(tap.val('slid')) h WHERE h ? 'Set-Cookie';
SELECT is((SELECT count(*) FROM slid), 1::bigint, 'and gets one Set-Cookie: the session cookie');
SELECT is((SELECT tap.jwt_payload(token) - 'iat' - 'exp' FROM slid), tap.jwt_payload(tap.tok('sally')) - 'iat' - 'exp',
          'for the same session (jti) and user');
SELECT is((SELECT (tap.jwt_payload(token) ->> 'exp')::bigint FROM slid), tap.epoch(now()) + tap.ttl(),
          'expiring task_api.jwt_ttl from now');
SELECT ok((SELECT (task_api.jwt_verify(token)).valid FROM slid), 'signed with the server''s secret');
SELECT matches((SELECT line FROM slid), '; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=' || tap.ttl() || '$',
               'with the session cookie''s attributes and a Max-Age of task_api.jwt_ttl');
SELECT tap.bearer(tap.tok('sally'), 'GET', '/tasks');
SELECT is(tap.pre(), 'no error', 'a bearer token passes');
SELECT is((SELECT coalesce(jsonb_agg(h), '[]')::text FROM jsonb_array_elements(current_setting('response.headers')::jsonb) h WHERE NOT h ? 'X-Request-Id'), '[]', 'and never slides (no header but the request id)');

-- Browsers on other origins -----------------------------------------------------------
SELECT tap.act_as_admin();
SET LOCAL task_api.cors_allowed_origins = 'https://app.example.com, http://localhost:5173';
SELECT tap.request('GET', '/tasks', '{"origin": "https://app.example.com", "host": "api.example.com"}',
                   jsonb_build_object('__Host-task_api_session', tap.tok('sally')));
SELECT is(tap.pre(), 'no error', 'a cookie from a listed origin passes');
SELECT is(current_setting('response.headers')::jsonb -> 1 ->> 'Access-Control-Expose-Headers',
          'ETag, Link, Location, RateLimit, RateLimit-Policy, Retry-After, Idempotent-Replayed, Allow, Preference-Applied, Content-Range, X-CSRF-Token, X-Request-Id',
          'a request with an Origin gets Access-Control-Expose-Headers right after its X-Request-Id');
SELECT is(current_setting('response.headers')::jsonb -> 2 ->> 'Vary', 'Origin', 'and Vary: Origin');
SELECT tap.request('GET', '/tasks', '{"origin": "https://api.example.com", "host": "api.example.com", "x-forwarded-proto": "https"}',
                   jsonb_build_object('__Host-task_api_session', tap.tok('sally')));
SELECT is(tap.pre(), 'no error', 'a cookie from the API''s own origin passes (its scheme from a TLS proxy''s X-Forwarded-Proto)');
SELECT tap.request('GET', '/tasks', '{"origin": "https://api.example.com", "host": "api.example.com"}',
                   jsonb_build_object('__Host-task_api_session', tap.tok('sally')));
SELECT is(tap.pre(), 'origin_not_allowed 403', 'https://host is not the own origin of an API reached over plain http');
SELECT tap.request('GET', '/tasks', '{"origin": "https://evil.example.com", "host": "api.example.com"}',
                   jsonb_build_object('__Host-task_api_session', tap.tok('sally')));
SELECT is(tap.pre(), 'origin_not_allowed 403', 'a cookie GET from another origin is origin_not_allowed 403');
SELECT is(tap.error_of('SELECT task_api.pre_request()') -> 'headers' ->> 'Access-Control-Expose-Headers',
          'ETag, Link, Location, RateLimit, RateLimit-Policy, Retry-After, Idempotent-Replayed, Allow, Preference-Applied, Content-Range, X-CSRF-Token, X-Request-Id',
          'whose refusal is readable too');
SELECT tap.request('GET', '/tasks', '{"origin": "null"}', jsonb_build_object('__Host-task_api_session', tap.tok('sally')));
SELECT is(tap.pre(), 'origin_not_allowed 403', 'Origin: null (a sandboxed page) may not use the cookie');
SELECT tap.request('GET', '/tasks', '{"authorization": "Bearer x", "origin": "https://evil.example.com"}', '{}', tap.jwt_payload(tap.tok('sally')));
SELECT is(tap.pre(), 'no error', 'a bearer token from any origin passes');
SELECT tap.request('POST', '/rpc/login', '{"origin": "https://evil.example.com"}');
SELECT is(tap.call('evil login', $$api.login('erin@example.com', 'correct horse battery')$$), 'no error',
          'login from another origin answers the token');
SELECT tap.act_as_admin();
SELECT is(tap.set_cookie('evil login', '__Host-task_api_session'), NULL, 'but sets no cookie');
SELECT tap.request('POST', '/rpc/login', '{"origin": "http://localhost:5173"}');
SELECT is(tap.call('dev login', $$api.login('erin@example.com', 'correct horse battery')$$), 'no error', 'login from a listed origin');
SELECT tap.act_as_admin();
SELECT isnt(tap.set_cookie('dev login', '__Host-task_api_session'), NULL, 'sets the cookies');
SELECT is((SELECT h ->> 'X-CSRF-Token' FROM jsonb_array_elements(tap.val('dev login') -> 'headers') h WHERE h ? 'X-CSRF-Token'),
          task_api.csrf_token(tap.jti('dev login')::text), 'and answers the CSRF token in X-CSRF-Token, for a page on another host');
SELECT throws_ok($$SET task_api.cors_allowed_origins = 'https://app.example.com/'$$, '22023', NULL,
                 'task_api.cors_allowed_origins refuses a path');
SELECT throws_ok($$SET task_api.cors_allowed_origins = '*'$$, '22023', NULL, 'and a wildcard');


-- A GET runs read-only: an API key still works and last_used_at is left alone ------------
\o /dev/null
UPDATE task_api.api_keys SET last_used_at = NULL WHERE id = (tap.val('key web') -> 'body' ->> 'id')::uuid;
SET LOCAL transaction_read_only = on;
\o
SELECT tap.bearer(tap.tok('key web'), 'GET', '/tasks');
SELECT is(tap.pre(), 'no error', 'pre_request: an API key on a read-only GET passes');
SELECT tap.act_as_admin();
SELECT ok((SELECT last_used_at IS NULL FROM task_api.api_keys WHERE id = (tap.val('key web') -> 'body' ->> 'id')::uuid),
          'a read-only GET does not touch last_used_at');


SELECT * FROM finish();
ROLLBACK;
