-- The per-request hot path (issue 15): pre_request() reads the session or API
-- key behind a token from its primary-key index (src/credential_lookup.c)
-- with exactly the checks of the SQL it replaced; HMACs use a keyed context
-- kept per secret (src/hmac_keyed.c), bit for bit HMAC-SHA-256, and a
-- changed secret takes effect at once; events are written per statement
-- (src/events_store.c) with the same rows, ids in order, and subtransactions
-- taking back exactly their own.
BEGIN;
SELECT plan(89);
\ir helpers/setup.psql

\o /dev/null
SELECT tap.make_user('hana', 'a1000000-0000-4000-8000-00000000000a');
SELECT tap.make_user('ivan', 'b1000000-0000-4000-8000-00000000000b');
SELECT tap.make_project('HP', tap.id('hana'));
\o

-- PostgREST's request, as test/pgtap/auth.sql simulates it.
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

-- A request whose (simulated) bearer token carries exactly these claims.
CREATE FUNCTION tap.claims(claims jsonb, method text DEFAULT 'GET', path text DEFAULT '/tasks') RETURNS text
    LANGUAGE sql AS $$
    SELECT tap.request(method, path, '{"authorization": "Bearer (simulated)"}', '{}', claims)
$$;

-- The pre-request hook's verdict for the current request.
CREATE FUNCTION tap.pre() RETURNS text
    LANGUAGE sql AS $$ SELECT tap.err('SELECT task_api.pre_request()') $$;

-- A session of who, started as login does; its id.
CREATE FUNCTION tap.session(who uuid) RETURNS uuid
    LANGUAGE sql AS $$
    SELECT ((task_api.jwt_verify(task_api.start_session(who) ->> 'token')).claims ->> 'jti')::uuid
$$;
-- A bearer request whose token names user sub and session or key ref.
CREATE FUNCTION tap.with_session(sub uuid, jti uuid) RETURNS text
    LANGUAGE sql AS $$
    SELECT tap.claims(jsonb_build_object('sub', sub, 'role', 'task_api_user', 'jti', jti))
$$;
CREATE FUNCTION tap.with_key(sub uuid, key_id uuid, method text DEFAULT 'GET') RETURNS text
    LANGUAGE sql AS $$
    SELECT tap.claims(jsonb_build_object('sub', sub, 'role', 'task_api_user', 'key_id', key_id), method)
$$;
-- The message of pre_request()'s error, or 'no error'.
CREATE FUNCTION tap.pre_message() RETURNS text
    LANGUAGE sql AS $$
    SELECT coalesce(tap.error_of('SELECT task_api.pre_request()') ->> 'message', 'no error')
$$;

-- Sessions, read from the primary key ---------------------------------------------------
\o /dev/null
SELECT tap.name_id('hana s1', tap.session(tap.id('hana')));
SELECT tap.name_id('hana s2', tap.session(tap.id('hana')));
\o
SELECT tap.with_session(tap.id('hana'), tap.id('hana s1'));
SELECT is(tap.pre_message(), 'no error', 'a live session of the token''s user passes');
SELECT tap.act_as_admin();
SELECT tap.with_session(tap.id('ivan'), tap.id('hana s1'));
SELECT is(tap.pre_message(), 'the session has ended', 'another user''s session is refused (user_id must match)');
SELECT tap.with_session(tap.id('hana'), 'c1000000-0000-4000-8000-00000000000c');
SELECT is(tap.pre_message(), 'the session has ended', 'a session id with no row is refused');
SELECT tap.act_as_admin();
UPDATE task_api.sessions SET revoked_at = now() WHERE id = tap.id('hana s1');
SELECT tap.with_session(tap.id('hana'), tap.id('hana s1'));
SELECT is(tap.pre(), 'unauthenticated 401', 'a revoked session: the next request is unauthenticated 401');
SELECT is(tap.pre_message(), 'the session has ended', 'and says the session has ended');
SELECT tap.with_session(tap.id('hana'), tap.id('hana s2'));
SELECT is(tap.pre_message(), 'no error', 'the user''s other session still passes');
SELECT tap.act_as_admin();
UPDATE task_api.sessions SET expires_at = now() - interval '1 second' WHERE id = tap.id('hana s2');
SELECT tap.with_session(tap.id('hana'), tap.id('hana s2'));
SELECT is(tap.pre_message(), 'the session has ended', 'an expired session is refused');
SELECT tap.act_as_admin();
UPDATE task_api.sessions SET expires_at = now() + interval '1 hour' WHERE id = tap.id('hana s2');
SELECT tap.with_session(tap.id('hana'), tap.id('hana s2'));
SELECT is(tap.pre_message(), 'no error', 'the same session with its expiry moved back to the future passes again');
SELECT tap.act_as_admin();
DELETE FROM task_api.sessions WHERE id = tap.id('hana s2');
SELECT tap.with_session(tap.id('hana'), tap.id('hana s2'));
SELECT is(tap.pre_message(), 'the session has ended', 'a deleted session row is refused');
SELECT tap.act_as_admin();
\o /dev/null
SELECT tap.name_id('hana s3', tap.session(tap.id('hana')));
\o
SELECT tap.with_session(tap.id('hana'), tap.id('hana s3'));
SELECT is(tap.pre_message(), 'no error', 'a session started in the same transaction passes');
SELECT tap.act_as_admin();

-- API keys ------------------------------------------------------------------------------
INSERT INTO task_api.api_keys (id, user_id, name, expires_at) VALUES
    ('d1000000-0000-4000-8000-000000000001', tap.id('hana'), 'live', NULL),
    ('d1000000-0000-4000-8000-000000000002', tap.id('hana'), 'expiring', now() + interval '1 hour'),
    ('d1000000-0000-4000-8000-000000000003', tap.id('hana'), 'expired', now() - interval '1 second');
SELECT tap.with_key(tap.id('hana'), 'd1000000-0000-4000-8000-000000000001');
SELECT is(tap.pre_message(), 'no error', 'a live API key without expiry passes');
SELECT tap.with_key(tap.id('hana'), 'd1000000-0000-4000-8000-000000000002');
SELECT is(tap.pre_message(), 'no error', 'a live API key expiring later passes');
SELECT tap.with_key(tap.id('hana'), 'd1000000-0000-4000-8000-000000000003');
SELECT is(tap.pre_message(), 'the API key is not valid', 'an expired API key is refused');
SELECT tap.with_key(tap.id('ivan'), 'd1000000-0000-4000-8000-000000000001');
SELECT is(tap.pre_message(), 'the API key is not valid', 'another user''s API key is refused');
SELECT tap.with_key(tap.id('hana'), 'd1000000-0000-4000-8000-000000000009');
SELECT is(tap.pre_message(), 'the API key is not valid', 'an API key id with no row is refused');
SELECT tap.act_as_admin();
UPDATE task_api.api_keys SET revoked_at = now() WHERE id = 'd1000000-0000-4000-8000-000000000001';
SELECT tap.with_key(tap.id('hana'), 'd1000000-0000-4000-8000-000000000001');
SELECT is(tap.pre(), 'unauthenticated 401', 'a revoked API key: the next request is unauthenticated 401');
SELECT tap.act_as_admin();
-- A writable request keeps last_used_at to the minute, as before.
UPDATE task_api.api_keys SET last_used_at = NULL WHERE id = 'd1000000-0000-4000-8000-000000000002';
SELECT tap.with_key(tap.id('hana'), 'd1000000-0000-4000-8000-000000000002', 'POST');
SELECT is(tap.pre_message(), 'no error', 'a POST with a live API key passes');
SELECT tap.act_as_admin();
SELECT ok((SELECT last_used_at = now() FROM task_api.api_keys WHERE id = 'd1000000-0000-4000-8000-000000000002'),
          'and sets its last_used_at');

-- A deleted user ------------------------------------------------------------------------
\o /dev/null
SELECT tap.name_id('ivan s1', tap.session(tap.id('ivan')));
\o
SELECT tap.with_session(tap.id('ivan'), tap.id('ivan s1'));
SELECT is(tap.pre_message(), 'no error', 'ivan''s session passes');
SELECT tap.act_as_admin();
DELETE FROM task_api.users WHERE id = tap.id('ivan');
SELECT tap.with_session(tap.id('ivan'), tap.id('ivan s1'));
SELECT is(tap.pre(), 'unauthenticated 401', 'once ivan is deleted, the next request with his token is unauthenticated 401');
SELECT is(tap.pre_message(), 'the token''s user does not exist', 'and says the user does not exist');
SELECT tap.act_as_admin();

-- Keyed HMAC contexts: HMAC-SHA-256 bit for bit, secrets changed in a session ------------
-- Expected values: base64url(HMAC-SHA-256(secret, 'csrf:' || id)), computed
-- outside PostgreSQL (Python's hmac).  Six secrets cycle through the four
-- keyed slots twice, and the last is longer than a SHA-256 block.
CREATE TEMP TABLE mac_cases (n int, secret text, msg text, want text);
INSERT INTO mac_cases VALUES
 (1, 'secret number one, at least thirty-two bytes long', 'session-a', 'ebhTB4EzIjHymKOK8fvT7UHE4edlFPoKonsjUFct_ZI'),
 (2, 'secret number two, at least thirty-two bytes long', 'session-b', 'WX9YuxOth4B7HJYi2ht0opHgyqkYZfxmanjiMxD56WU'),
 (3, 'secret number three, at least thirty-two bytes long', 'session-a', 'w8QjiBB5PPenCavdc3gSNLHRZ4TmqVVV4ev_8zsfp8c'),
 (4, 'secret number four, at least thirty-two bytes long', 'session-b', 'FOGh6NEvPPEuLn6kOr1H0H2CPQqboYF_gJqNUHc7vSw'),
 (5, 'secret number five, at least thirty-two bytes long', 'session-a', 'ZWuc7E6gn1yD6vjExU76a8HjXJBaoZPtnybeBpYvo4I'),
 (6, 'a secret longer than one SHA-256 block (64 bytes), which HMAC hashes first: ' || repeat('x', 40), 'session-b',
  'TnyiyXJXJMqUZBGYxjOTmf7pcKH34sXB_1jSROGTMI4'),
 (7, 'secret number one, at least thirty-two bytes long', 'session-b', '-FlvGtH4tD94Qi9zwybZ00_2luiHhdyIrjd6kyF0FeM'),
 (8, 'secret number two, at least thirty-two bytes long', 'session-a', '4mi2bMA4Ai9I_cnzHA_qX6mKw7sNnFCkEbzvUZbsKsc'),
 (9, 'secret number three, at least thirty-two bytes long', 'session-b', 'HW-TgIX0y1h2934IKMCc3OmPDaIOZqAdnx8ke6KQu1E'),
 (10, 'a secret longer than one SHA-256 block (64 bytes), which HMAC hashes first: ' || repeat('x', 40), 'session-a',
  '9O5-tX4WlhYiSo2AL5JtZWg8fL8ZlYFeXnYTgJENK14');
CREATE FUNCTION tap.mac_under(secret text, msg text) RETURNS text
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('task_api.jwt_secret', secret, true);
    RETURN task_api.csrf_token(msg);
END
$$;
SELECT is_empty($$SELECT n FROM mac_cases WHERE tap.mac_under(secret, msg) IS DISTINCT FROM want ORDER BY n$$,
                'HMAC-SHA-256 is bit for bit right for 10 MACs under 6 secrets taking turns in the keyed slots (one longer than a block)');
SELECT is((SELECT string_agg(tap.mac_under(secret, msg), ',' ORDER BY n) FROM mac_cases, generate_series(1, 3)),
          (SELECT string_agg(want, ',' ORDER BY n) FROM mac_cases, generate_series(1, 3)),
          'and again three times over (keyed contexts reused, evicted and rebuilt)');
RESET task_api.jwt_secret;

-- A token signed under one secret; SET another in this session: verified at once under it.
CREATE TEMP TABLE toks (name text PRIMARY KEY, token text);
SET LOCAL task_api.jwt_secret = 'secret number one, at least thirty-two bytes long';
INSERT INTO toks VALUES ('one', task_api.jwt_sign(jsonb_build_object('sub', 'x', 'exp', extract(epoch FROM now())::bigint + 600)::text));
SELECT is((SELECT reason FROM task_api.jwt_verify((SELECT token FROM toks WHERE name = 'one'))), 'valid',
          'jwt_verify: a token signed under secret one is valid under secret one');
SET LOCAL task_api.jwt_secret = 'secret number two, at least thirty-two bytes long';
SELECT is((SELECT reason FROM task_api.jwt_verify((SELECT token FROM toks WHERE name = 'one'))), 'the token''s signature does not match',
          'SET task_api.jwt_secret in the session: the very next jwt_verify uses the new secret');
INSERT INTO toks VALUES ('two', task_api.jwt_sign(jsonb_build_object('sub', 'x', 'exp', extract(epoch FROM now())::bigint + 600)::text));
SELECT is((SELECT reason FROM task_api.jwt_verify((SELECT token FROM toks WHERE name = 'two'))), 'valid',
          'and jwt_sign signs under it');
SET LOCAL task_api.jwt_secret = 'secret number one, at least thirty-two bytes long';
SELECT is((SELECT string_agg(v.reason, ' / ' ORDER BY t.name) FROM toks t, task_api.jwt_verify(t.token) v),
          'valid / the token''s signature does not match', 'back to secret one: its token is valid again, the other is not');
RESET task_api.jwt_secret;
SELECT is((SELECT reason FROM task_api.jwt_verify((SELECT token FROM toks WHERE name = 'one'))), 'the token''s signature does not match',
          'RESET task_api.jwt_secret: the server''s own secret again at once');
-- The cursor secret too: a cursor made under one secret no longer decodes under another.
SET LOCAL task_api.cursor_secret = 'cursor secret number one, at least thirty-two bytes';
CREATE TEMP TABLE curs AS SELECT task_api.cursor_encode(42, 'e1000000-0000-4000-8000-000000000001'::uuid, 'asc', 'fp') AS c;
SELECT is(task_api.cursor_encode(42, 'e1000000-0000-4000-8000-000000000001'::uuid, 'asc', 'fp'), (SELECT c FROM curs),
          'cursor_encode is deterministic under one cursor secret');
SET LOCAL task_api.cursor_secret = 'cursor secret number two, at least thirty-two bytes';
SELECT isnt(task_api.cursor_encode(42, 'e1000000-0000-4000-8000-000000000001'::uuid, 'asc', 'fp'), (SELECT c FROM curs),
            'SET task_api.cursor_secret: the next cursor is signed under the new secret');
RESET task_api.cursor_secret;

-- The session cookie, verified once per request ---------------------------------------------
-- The rate limiter and the authentication both read the cookie: its
-- signature is checked once per transaction (src/jwt.c's memo, keyed on the
-- exact token and the secret), its times on every call.  This whole file is
-- one transaction, so each request below reuses or drops that memo.
SELECT task_api.start_session(tap.id('hana')) ->> 'token' AS memo_cookie \gset
CREATE FUNCTION tap.with_cookie(token text) RETURNS text
    LANGUAGE sql AS $$
    SELECT tap.request('GET', '/tasks', '{}', jsonb_build_object('__Host-task_api_session', token))
$$;
SELECT tap.with_cookie(:'memo_cookie');
SELECT is(tap.pre_message(), 'no error', 'a session cookie passes');
SELECT is((current_setting('request.jwt.claims')::json ->> 'sub')::uuid, tap.id('hana'), 'as its user');
SELECT tap.with_cookie(:'memo_cookie');
SELECT is(tap.pre_message(), 'no error', 'and again in the same transaction (the signature''s answer reused)');
SELECT tap.act_as_admin();
SET LOCAL task_api.jwt_secret = 'secret number two, at least thirty-two bytes long';
SELECT tap.with_cookie(:'memo_cookie');
SELECT is((tap.error_of('SELECT task_api.pre_request()') ->> 'details')::jsonb ->> 'reason', 'the token''s signature does not match',
          'SET task_api.jwt_secret: the same cookie in the same transaction is verified again, under the new secret, and refused');
SELECT tap.act_as_admin();
RESET task_api.jwt_secret;
SELECT tap.with_cookie(:'memo_cookie');
SELECT is(tap.pre_message(), 'no error', 'RESET: the server''s secret again, the cookie accepted at once');
SELECT tap.with_cookie(left(:'memo_cookie', -1) || CASE WHEN right(:'memo_cookie', 1) = 'A' THEN 'B' ELSE 'A' END);
SELECT is((tap.error_of('SELECT task_api.pre_request()') ->> 'details')::jsonb ->> 'reason', 'the token''s signature does not match',
          'another cookie in the same transaction (one character of the signature changed) is verified afresh and refused');
SELECT tap.act_as_admin();

-- jwt_verify()'s claims text: the same with or without escapes -----------------------------
-- Claims read without an escape are written back by copying; any escape
-- sends the whole object through escape_json(): the text is the same as
-- before either way ({"name": value, ...}, members in order).
SELECT is((task_api.jwt_verify(task_api.jwt_sign('{ "exp" : 4102444800 ,"sub":"a1000000-0000-4000-8000-00000000000a", "n":-1.5e3,"t":true, "z" : null, "e": "é" }'))).claims::text,
          '{"exp": 4102444800, "sub": "a1000000-0000-4000-8000-00000000000a", "n": -1.5e3, "t": true, "z": null, "e": "é"}',
          'jwt_verify: claims without escapes, spaced any way, come back as {"name": value, ...}');
SELECT is((task_api.jwt_verify(task_api.jwt_sign($j${"exp": 4102444800, "q": "a\"b\\c\n\t\u0001", "u": "\u00e9\/x", "k\u0041": 1}$j$))).claims::text,
          $j${"exp": 4102444800, "q": "a\"b\\c\n\t\u0001", "u": "é/x", "kA": 1}$j$,
          'and claims with escapes come back through escape_json (\/ and \u00e9 unescaped, quotes, backslashes and controls escaped)');
SELECT is((task_api.jwt_verify(task_api.jwt_sign('{"exp": 4102444800}'))).claims::text, '{"exp": 4102444800}',
          'one claim');
SELECT ok((task_api.jwt_verify(task_api.jwt_sign('{"exp": 1}'))).claims IS NULL, 'an expired token has no claims');

-- The plan media type in any case (RFC 9110 8.3.1: media types are case-insensitive) --------
-- PostgREST 12 answers a plan type it does not spell 415 before the hook
-- runs; the hook refuses it in any spelling all the same.
SELECT tap.session(tap.id('hana')) AS plan_sid \gset
CREATE FUNCTION tap.accepting(accept text, sid uuid) RETURNS text
    LANGUAGE sql AS $$
    SELECT tap.request('GET', '/tasks', jsonb_build_object('authorization', 'Bearer (simulated)', 'accept', accept), '{}',
                       jsonb_build_object('sub', tap.id('hana'), 'role', 'task_api_user', 'jti', sid))
$$;
SELECT tap.accepting('application/vnd.pgrst.plan+json', :'plan_sid');
SELECT is(tap.pre_message(), 'query plans are for operators', 'a plan asked for by an ordinary user is refused');
SELECT tap.accepting('Application/VND.PGRST.Plan+JSON; for="application/json"', :'plan_sid');
SELECT is(tap.pre_message(), 'query plans are for operators', 'and so is one spelt in capitals');
SELECT tap.accepting('text/csv, APPLICATION/JSON', :'plan_sid');
SELECT is(tap.pre_message(), 'no error', 'another media type in capitals is no plan');
SELECT tap.act_as_admin();

-- Events per statement ------------------------------------------------------------------
CREATE TEMP TABLE marks AS SELECT coalesce(max(id), 0) AS m FROM task_api.events;
INSERT INTO task_api.tasks (project_id, title, created_by, priority)
SELECT tap.id('HP'), 'bulk ' || g, tap.id('hana'), g % 5 FROM generate_series(1, 50) g;
SELECT is((SELECT count(*) FROM task_api.events WHERE id > (SELECT m FROM marks) AND action = 'created' AND resource_type = 'task'),
          50::bigint, 'an INSERT ... SELECT of 50 tasks records 50 task created events');
SELECT ok((SELECT max(id) - min(id) = 49 FROM task_api.events WHERE id > (SELECT m FROM marks)),
          'with consecutive ids');
-- Written with heap_multi_insert() (events_store.c): each row has its index entries.
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
SELECT is((SELECT count(*) FROM task_api.events WHERE project_id = tap.id('HP') AND id > (SELECT m FROM marks)),
          50::bigint, 'and every one is found through the events'' project index');
RESET enable_seqscan;
RESET enable_bitmapscan;
SELECT is((SELECT array_agg(e.resource_id ORDER BY e.id) FROM task_api.events e WHERE e.id > (SELECT m FROM marks)),
          (SELECT array_agg(t.id ORDER BY t.id) FROM task_api.tasks t WHERE t.title LIKE 'bulk %'),
          'in the order the rows were inserted');
SELECT is_empty($$SELECT e.id FROM task_api.events e JOIN task_api.tasks t ON t.id = e.resource_id
                   WHERE e.id > (SELECT m FROM marks) AND e.changes IS DISTINCT FROM (row_to_json(t)::jsonb - 'updated_at' - 'version')$$,
                'each event''s changes are the row as row_to_json gives it, without the stamps');

-- Every column type of a task, null and not: the changes are built column
-- by column (events_record.c), and must be to_jsonb's, text for text.
TRUNCATE marks;
INSERT INTO marks SELECT coalesce(max(id), 0) FROM task_api.events;
INSERT INTO task_api.tasks (project_id, title, description, status, priority, due_date, assignee_id, created_by)
SELECT tap.id('HP'), E'typed "' || g || E'" \\ \u00e9\t/', CASE WHEN g % 2 = 0 THEN E'line\nbreak \u2028' END,
       (ARRAY['todo', 'in_progress', 'blocked', 'done']::task_api.task_status[])[1 + g % 4], g % 5,
       CASE WHEN g % 3 <> 0 THEN DATE '2024-02-28' + g END, CASE WHEN g % 2 = 1 THEN tap.id('hana') END, tap.id('hana')
  FROM generate_series(1, 8) g;
SELECT is_empty($$SELECT e.id FROM task_api.events e JOIN task_api.tasks t ON t.id = e.resource_id
                   WHERE e.id > (SELECT m FROM marks) AND e.changes::text IS DISTINCT FROM (to_jsonb(t) - 'updated_at' - 'version')::text$$,
                'created: every column type, null or not, as to_jsonb(row) writes it');
CREATE TEMP TABLE typed_old AS SELECT * FROM task_api.tasks WHERE title LIKE 'typed %';
TRUNCATE marks;
INSERT INTO marks SELECT coalesce(max(id), 0) FROM task_api.events;
UPDATE task_api.tasks SET priority = 4, due_date = NULL, description = 'changed', assignee_id = NULL,
                          status = 'done', deleted_at = CASE WHEN priority = 1 THEN now() END
 WHERE title LIKE 'typed %';
SELECT is_empty($$SELECT e.id FROM task_api.events e JOIN task_api.tasks t ON t.id = e.resource_id JOIN typed_old o ON o.id = t.id
                   WHERE e.id > (SELECT m FROM marks)
                     AND e.changes::text IS DISTINCT FROM
                         (SELECT jsonb_object_agg(a.key, jsonb_build_object('old', a.value, 'new', b.value))::text
                            FROM jsonb_each(to_jsonb(o) - 'updated_at' - 'version') a
                            JOIN jsonb_each(to_jsonb(t) - 'updated_at' - 'version') b ON b.key = a.key
                           WHERE a.value IS DISTINCT FROM b.value)$$,
                'updated and deleted: old and new of each changed column as to_jsonb writes them');
SELECT is((SELECT count(*) FROM task_api.events WHERE id > (SELECT m FROM marks)), 8::bigint, 'one event per updated row');

-- Statements run inside the AFTER triggers (a foreign key's check, this
-- trigger's SELECT) do not write the enclosing statement's events one row at
-- a time: they are all written when the insert ends.
CREATE TEMP TABLE seen (n int, visible bigint);
CREATE FUNCTION tap.count_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO seen SELECT coalesce(max(n), 0) + 1, (SELECT count(*) FROM task_api.events WHERE id > (SELECT m FROM marks)) FROM seen;
    RETURN NULL;
END
$$;
CREATE TRIGGER zz_count AFTER INSERT ON task_api.tasks FOR EACH ROW EXECUTE FUNCTION tap.count_events();
TRUNCATE marks;
INSERT INTO marks SELECT coalesce(max(id), 0) FROM task_api.events;
INSERT INTO task_api.tasks (project_id, title, created_by, assignee_id)
SELECT tap.id('HP'), 'nested writes ' || g, tap.id('hana'), tap.id('hana') FROM generate_series(1, 5) g;
DROP TRIGGER zz_count ON task_api.tasks;
SELECT is((SELECT array_agg(visible ORDER BY n) FROM seen), ARRAY[0, 0, 0, 0, 0]::bigint[],
          'no event of an insert is written by the statements its row triggers run');
SELECT is((SELECT count(*) FROM task_api.events WHERE id > (SELECT m FROM marks)), 5::bigint,
          'all five are written when the insert ends');

-- A statement that fails after some of its events were built: they go with it.
CREATE FUNCTION tap.fail_on_title() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.title = 'bulk fails' THEN
        RAISE EXCEPTION 'refused by the test';
    END IF;
    RETURN NULL;
END
$$;
-- After events_record (AFTER ROW triggers fire in name order).
CREATE TRIGGER zz_fail AFTER INSERT ON task_api.tasks FOR EACH ROW EXECUTE FUNCTION tap.fail_on_title();
TRUNCATE marks;
INSERT INTO marks SELECT coalesce(max(id), 0) FROM task_api.events;
SAVEPOINT s;
SELECT throws_ok($$INSERT INTO task_api.tasks (project_id, title, created_by)
                   SELECT tap.id('HP'), CASE g WHEN 3 THEN 'bulk fails' ELSE 'bulk ok' END, tap.id('hana') FROM generate_series(1, 3) g$$,
                 'P0001', 'refused by the test', 'a statement whose third row fails');
ROLLBACK TO SAVEPOINT s;
INSERT INTO task_api.tasks (project_id, title, created_by) VALUES (tap.id('HP'), 'after the failure', tap.id('hana'));
SELECT is((SELECT array_agg(changes ->> 'title' ORDER BY id) FROM task_api.events WHERE id > (SELECT m FROM marks)),
          ARRAY['after the failure'], 'the failed statement''s events are gone; the next statement''s one event is written');

-- A trigger's own subtransaction that aborts (an EXCEPTION block) ends a
-- statement inside it: it must not write, and so lose, the events the
-- enclosing statement recorded before.
DROP TRIGGER zz_fail ON task_api.tasks;
CREATE FUNCTION tap.inner_rollback() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        PERFORM count(*) FROM task_api.users;
        RAISE EXCEPTION 'inner';
    EXCEPTION WHEN raise_exception THEN
        NULL;
    END;
    RETURN NULL;
END
$$;
CREATE TRIGGER zz_inner AFTER INSERT ON task_api.tasks FOR EACH ROW EXECUTE FUNCTION tap.inner_rollback();
TRUNCATE marks;
INSERT INTO marks SELECT coalesce(max(id), 0) FROM task_api.events;
INSERT INTO task_api.tasks (project_id, title, created_by)
SELECT tap.id('HP'), 'nested ' || g, tap.id('hana') FROM generate_series(1, 5) g;
SELECT is((SELECT count(*) FROM task_api.events WHERE id > (SELECT m FROM marks)), 5::bigint,
          'a trigger''s aborted inner block loses none of the statement''s 5 events');
DROP TRIGGER zz_inner ON task_api.tasks;

-- A savepoint released keeps its events; one rolled back drops them.
TRUNCATE marks;
INSERT INTO marks SELECT coalesce(max(id), 0) FROM task_api.events;
SAVEPOINT kept;
INSERT INTO task_api.tasks (project_id, title, created_by) VALUES (tap.id('HP'), 'kept', tap.id('hana'));
RELEASE SAVEPOINT kept;
SAVEPOINT dropped;
INSERT INTO task_api.tasks (project_id, title, created_by) VALUES (tap.id('HP'), 'dropped', tap.id('hana'));
ROLLBACK TO SAVEPOINT dropped;
SELECT is((SELECT array_agg(changes ->> 'title' ORDER BY id) FROM task_api.events WHERE id > (SELECT m FROM marks)),
          ARRAY['kept'], 'a released savepoint keeps its event, a rolled-back one drops it');


-- Reading PostgREST's settings (src/request.c) ----------------------------------------------
-- Each request.* setting is read through a reference to its variable in
-- PostgreSQL's array of settings, checked on every read; the flat objects
-- are read by the JWT codec's reader when they are plain and by the
-- backend's JSON parser otherwise; the claims the hook writes for a session
-- cookie are kept as read.  Same values as before in every case.
CREATE FUNCTION tap.header_of(headers text, name text) RETURNS text
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('request.headers', headers, true);
    RETURN coalesce(task_api.request_header(name), '(null)');
END
$$;
SELECT is(tap.header_of('{"x-a": "1", "x-b": 2, "x-c": true, "x-d": null, "x-e": -1.5e3, "x-f": false}', h),
          v, 'a plain object: header ' || h || ' reads ' || v)
  FROM (VALUES ('x-a', '1'), ('x-b', '2'), ('x-c', 'true'), ('x-d', '(null)'), ('x-e', '-1.5e3'), ('x-f', 'false'),
               ('x-z', '(null)')) t(h, v);
SELECT is(tap.header_of(E' {\n"x-a"\t:\r"é 日本" ,"X-B":"up"} ', 'x-a'), 'é 日本', 'JSON whitespace and UTF-8 read as the parser reads them');
SELECT is(tap.header_of('{"x-a": "1", "x-b": "2"}', 'X-A'), '1', 'a header name is matched case-insensitively');
SELECT is(tap.header_of($j${"x-a": "a\"b\\c", "x-b": "\u00e9"}$j$, 'x-a'), 'a"b\c', 'a string with escapes is unescaped (the backend''s parser)');
SELECT is(tap.header_of($j${"x-a": "1", "x-b": "\u00e9"}$j$, 'x-b'), 'é', 'and a \u escape');
SELECT is(tap.header_of('{"x-a": "1", "x-a": "2"}', 'x-a'), '2', 'a duplicate name: the last one');
SELECT is(tap.header_of('{"x-a": {"y": "1"}, "x-b": "2"}', 'x-a'), '(null)', 'a nested object is no header');
SELECT is(tap.header_of('{"x-a": {"y": "1"}, "x-b": "2"}', 'x-b'), '2', 'and the members beside it still read');
SELECT is(tap.header_of('{"x-a": "1",}', 'x-a'), '(null)', 'malformed JSON reads as no headers');
SELECT is(tap.header_of('[{"x-a": "1"}]', 'x-a'), '(null)', 'an array reads as no headers');
SELECT is(tap.header_of('{"x-a": 01}', 'x-a'), '(null)', 'a number JSON refuses reads as no headers');
SELECT is(tap.header_of((SELECT json_object_agg('x-m' || g, g::text)::text FROM generate_series(1, 40) g), 'x-m40'), '40',
          'more members than the codec''s reader takes (40) read through the parser');
SELECT is(tap.header_of('', 'x-a'), '(null)', 'an empty setting reads as no headers');

-- The reference to a setting's variable stays right when PostgreSQL adds
-- settings (the array grows and is re-sorted), replaces a placeholder by a
-- module's definition, or is given the name in another case.
SELECT is(tap.header_of('{"x-a": "before"}', 'x-a'), 'before', 'a header read (its setting''s place remembered)');
SELECT count(set_config('aaa_h15.v' || g, 'x', true)) >= 0 AS added FROM generate_series(1, 60) g \gset
SELECT is(tap.header_of('{"x-a": "after 60 new settings"}', 'x-a'), 'after 60 new settings',
          'after 60 settings sorted before it were added, the new value is read');
SELECT set_config('auto_explain.log_min_duration', '5', true) IS NOT NULL AS placeholder \gset
LOAD 'auto_explain';
SELECT is(tap.header_of('{"x-a": "after LOAD"}', 'x-a'), 'after LOAD',
          'after a module replaced a placeholder and added its settings, the new value is read');
SELECT is(current_setting('auto_explain.log_min_duration'), '5ms', '(the placeholder was replaced by the module''s setting)');
SELECT set_config('REQUEST.HEADERS', '{"x-a": "upper case"}', true) IS NOT NULL AS upper \gset
SELECT is(task_api.request_header('x-a'), 'upper case', 'the setting set under its name in upper case is the same setting');

-- The claims a session cookie's request runs with are kept as the hook
-- wrote them: each reads as the claims setting says.
SELECT tap.with_cookie(:'memo_cookie');
SELECT is(tap.pre_message(), 'no error', 'a session cookie passes');
SELECT is((SELECT array_agg(key || '=' || coalesce(task_api.request_claim(key), '(null)') ORDER BY key)
             FROM json_object_keys(current_setting('request.jwt.claims')::json) key),
          (SELECT array_agg(key || '=' || coalesce(value, '(null)') ORDER BY key)
             FROM json_each_text(current_setting('request.jwt.claims')::json)),
          'after the cookie, every claim reads as the claims setting the hook wrote');
SELECT is(task_api.current_user_id(), tap.id('hana'), 'and the caller is the cookie''s user');
SELECT set_config('request.jwt.claims', '{"role": "task_api_user", "sub": "b1000000-0000-4000-8000-00000000000b"}', true) IS NOT NULL AS reset_claims \gset
SELECT is(task_api.current_user_id(), tap.id('ivan'), 'claims set again after the hook are read afresh');
SELECT tap.act_as_admin();

-- Response headers: an append to what this backend wrote last extends that
-- text without reading it back (src/errors.c); any other value is read.
SELECT set_config('response.headers', '', true) IS NOT NULL AS cleared \gset
SELECT task_api.append_response_header('A', 'one');
SELECT task_api.append_response_header('B', 'two "quoted" \ back');
SELECT is(current_setting('response.headers'), '[{"A": "one"}, {"B": "two \"quoted\" \\ back"}]',
          'headers appended one after another: each kept, in order, escaped as before');
SELECT set_config('response.headers', '[{"X": "set by SQL"}]', true) IS NOT NULL AS set_by_sql \gset
SELECT task_api.append_response_header('C', 'three');
SELECT is(current_setting('response.headers'), '[{"X": "set by SQL"}, {"C": "three"}]',
          'a value written by someone else in between is read back and kept');
SELECT set_config('response.headers', '[{"X": "set by SQL"}, {"C": "three"}]', true) IS NOT NULL AS same_text \gset
SELECT task_api.append_response_header('D', 'four');
SELECT is(current_setting('response.headers'), '[{"X": "set by SQL"}, {"C": "three"}, {"D": "four"}]',
          'the same text written again by someone else reads the same');
SELECT set_config('response.headers', '[]', true) IS NOT NULL AS emptied \gset
SELECT task_api.append_response_header('E', 'five');
SELECT is(current_setting('response.headers'), '[{"E": "five"}]', 'an empty array gets its first header');

SELECT * FROM finish();
ROLLBACK;
