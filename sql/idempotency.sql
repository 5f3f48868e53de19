-- Idempotency keys: the canonical fingerprint, claims, replays and every
-- error, with the request context PostgREST would set.

-- The fingerprint ---------------------------------------------------------------
-- 32 bytes of SHA-256.
SELECT octet_length(task_api.request_fingerprint('POST', '/tasks', '{"a": 1}')) AS bytes;
-- Key order, whitespace and duplicate keys (the last one wins, as in jsonb) do not matter.
SELECT task_api.request_fingerprint('POST', '/tasks', '{"a": 1, "b": [true, null, "x"]}')
     = task_api.request_fingerprint('POST', '/tasks', '{ "b" :[true,null,"x"],"a":1 }') AS key_order_and_whitespace,
       task_api.request_fingerprint('POST', '/tasks', '{"a": 2, "a": 1}')
     = task_api.request_fingerprint('POST', '/tasks', '{"a": 1}') AS duplicate_keys;
-- Numbers compare by value: 1 = 1.0 = 1e0 = 1.000, -0 = 0; 1 and "1" differ.
SELECT task_api.request_fingerprint('POST', '/p', '[1, -0, 100]')
     = task_api.request_fingerprint('POST', '/p', '[1.000, 0.0, 1e2]') AS numbers_by_value,
       task_api.request_fingerprint('POST', '/p', '[1]')
     = task_api.request_fingerprint('POST', '/p', '["1"]') AS number_is_string,
       task_api.request_fingerprint('POST', '/p', '[0.1]')
     = task_api.request_fingerprint('POST', '/p', '[0.10000000000000000001]') AS close_numbers;
-- Method, path, array order, nesting, types and string bytes all count.
SELECT task_api.request_fingerprint('POST', '/tasks', '{"a": 1}') = task_api.request_fingerprint('PATCH', '/tasks', '{"a": 1}') AS method,
       task_api.request_fingerprint('POST', '/tasks', '{"a": 1}') = task_api.request_fingerprint('POST', '/projects', '{"a": 1}') AS path,
       task_api.request_fingerprint('POST', '/p', '[1, 2]') = task_api.request_fingerprint('POST', '/p', '[2, 1]') AS array_order,
       task_api.request_fingerprint('POST', '/p', '[[1], 2]') = task_api.request_fingerprint('POST', '/p', '[1, [2]]') AS nesting,
       task_api.request_fingerprint('POST', '/p', '{"a": null}') = task_api.request_fingerprint('POST', '/p', '{}') AS null_vs_absent,
       task_api.request_fingerprint('POST', '/p', '[true]') = task_api.request_fingerprint('POST', '/p', '["true"]') AS bool_vs_string,
       task_api.request_fingerprint('POST', '/p', '"é"') = task_api.request_fingerprint('POST', '/p', '"e\u0301"') AS unicode_forms;
-- No ambiguity between where the method ends and the path begins, or between keys and values.
SELECT task_api.request_fingerprint('POST', '/ab', '{}') = task_api.request_fingerprint('POST/', 'ab', '{}') AS split_method_path,
       task_api.request_fingerprint('POST', '/p', '{"ab": "c"}') = task_api.request_fingerprint('POST', '/p', '{"a": "bc"}') AS split_key_value,
       task_api.request_fingerprint('POST', '/p', '["a", "b"]') = task_api.request_fingerprint('POST', '/p', '["ab"]') AS split_strings;
-- Scalars at the top level, and the empty containers.
SELECT count(DISTINCT task_api.request_fingerprint('POST', '/p', v)) AS distinct_of_7
  FROM unnest(ARRAY['null', 'true', 'false', '0', '""', '[]', '{}']::jsonb[]) v;
-- STRICT: null in, null out.
SELECT task_api.request_fingerprint('POST', '/p', NULL) IS NULL AS strict;
-- Stable across releases: a known value (any change breaks every stored key).
SELECT encode(task_api.request_fingerprint('POST', '/tasks', '[{"title": "a", "priority": 2}]'), 'hex') AS known_value;

-- The trigger functions refuse the wrong kind of trigger ------------------------------
CREATE TABLE wrong (id int);
CREATE TRIGGER wrong_begin BEFORE INSERT ON wrong FOR EACH ROW EXECUTE FUNCTION task_api.idempotency_begin();
INSERT INTO wrong VALUES (1);
DROP TRIGGER wrong_begin ON wrong;
CREATE TRIGGER wrong_end BEFORE INSERT ON wrong FOR EACH STATEMENT EXECUTE FUNCTION task_api.idempotency_end();
INSERT INTO wrong VALUES (1);
DROP TRIGGER wrong_end ON wrong;
CREATE TRIGGER wrong_in BEFORE INSERT ON wrong FOR EACH ROW EXECUTE FUNCTION task_api.idempotency_row_in();
INSERT INTO wrong VALUES (1);
DROP TRIGGER wrong_in ON wrong;
CREATE TRIGGER wrong_out AFTER DELETE ON wrong FOR EACH ROW EXECUTE FUNCTION task_api.idempotency_row_out();
DELETE FROM wrong;
INSERT INTO wrong VALUES (1);
DELETE FROM wrong;
DROP TABLE wrong;

-- Requests ------------------------------------------------------------------------------
INSERT INTO task_api.users (id, email, display_name) VALUES
    ('01890a5d-ac96-774b-bcce-b302099a0001', 'one@example.com', 'One'),
    ('01890a5d-ac96-774b-bcce-b302099a0002', 'two@example.com', 'Two');

-- What PostgREST sets for a request (key NULL: no Idempotency-Key header).
CREATE FUNCTION request(method text, path text, key text, sub uuid DEFAULT '01890a5d-ac96-774b-bcce-b302099a0001',
                        key_id uuid DEFAULT NULL) RETURNS void LANGUAGE sql AS $$
    SELECT set_config('request.method', method, false),
           set_config('request.path', path, false),
           set_config('request.headers', CASE WHEN key IS NULL THEN '{}' ELSE json_build_object('idempotency-key', key)::text END, false),
           set_config('request.jwt.claims', json_strip_nulls(json_build_object('sub', sub, 'role', 'task_api_user', 'key_id', key_id))::text, false),
           set_config('response.headers', '[]', false),
           set_config('response.status', '', false);
$$;
CREATE FUNCTION replayed() RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(h ->> 'Idempotent-Replayed', ','), 'no') FROM json_array_elements(current_setting('response.headers')::json) h
$$;
GRANT EXECUTE ON FUNCTION request(text, text, text, uuid, uuid), replayed() TO task_api_user;

SET ROLE task_api_user;

-- Without a key nothing is recorded.
SELECT request('POST', '/projects', NULL);
INSERT INTO api.projects (name) VALUES ('no key');
-- A malformed key: 400 before anything is written.
SELECT request('POST', '/projects', '');
INSERT INTO api.projects (name) VALUES ('empty key');
SELECT request('POST', '/projects', 'has space');
INSERT INTO api.projects (name) VALUES ('space');
SELECT request('POST', '/projects', E'tab\tkey');
INSERT INTO api.projects (name) VALUES ('tab');
SELECT request('POST', '/projects', 'naïve');
INSERT INTO api.projects (name) VALUES ('non-ASCII');
SELECT request('POST', '/projects', repeat('k', 256));
INSERT INTO api.projects (name) VALUES ('256 characters');
-- 255 visible characters, every printable one included, are fine.
SELECT request('POST', '/projects', rpad((SELECT string_agg(chr(c), '') FROM generate_series(33, 126) c), 255, 'x'));
INSERT INTO api.projects (name) VALUES ('255 characters') RETURNING name, version;

-- A create, then its replay: the same row, nothing written, the replay header.
SELECT request('POST', '/projects', 'create-1');
CREATE TEMP TABLE first AS
    WITH r AS (INSERT INTO api.projects (name, description) VALUES ('Alpha', 'd') RETURNING *) SELECT * FROM r;
SELECT replayed();
-- (Response headers are transaction-local, as under PostgREST: look inside the transaction.)
SELECT request('POST', '/projects', 'create-1');
BEGIN;
CREATE TEMP TABLE second AS
    WITH r AS (INSERT INTO api.projects (description, name) VALUES ('d', 'Alpha') RETURNING *) SELECT * FROM r;
SELECT replayed(), current_setting('response.headers') AS headers;
COMMIT;
SELECT (f.*)::text = (s.*)::text AS same_row FROM first f, second s;
SELECT count(*) AS alphas FROM api.projects WHERE name = 'Alpha';
-- The same key with another payload, method or path: 422, and no replay header left behind.
SELECT request('POST', '/projects', 'create-1');
INSERT INTO api.projects (name, description) VALUES ('Alpha', 'other');
SELECT request('PATCH', '/projects', 'create-1');
UPDATE api.projects SET description = 'd' WHERE name = 'Alpha';
SELECT request('POST', '/tasks', 'create-1');
INSERT INTO api.tasks (project_id, title) SELECT id, 't' FROM first;
-- Two rows where one was stored: 422 at the second row.
SELECT request('POST', '/projects', 'create-1');
INSERT INTO api.projects (name, description) VALUES ('Alpha', 'd'), ('Beta', NULL);

-- Keys are per caller: user two's 'create-1' is a new request (and a conflict there is its own).
SELECT request('POST', '/projects', 'create-1', '01890a5d-ac96-774b-bcce-b302099a0002');
BEGIN;
INSERT INTO api.projects (name, description) VALUES ('Alpha', 'd') RETURNING name, owner_id;
SELECT replayed();
COMMIT;
-- An API key of user one is another caller than user one's sessions.
SELECT request('POST', '/projects', 'create-1', key_id => '01890a5d-ac96-774b-bcce-b302099a9999');
INSERT INTO api.projects (name, description) VALUES ('Alpha by key', 'd') RETURNING name;

-- A failed request leaves no key: the retry executes.
SELECT request('POST', '/tasks', 'task-1');
INSERT INTO api.tasks (project_id, title) SELECT id, '' FROM first;
BEGIN;
INSERT INTO api.tasks (project_id, title) SELECT id, 'fixed' FROM first RETURNING title, version;
SELECT replayed();
COMMIT;
-- A bulk create replays row for row, in order.
SELECT request('POST', '/tasks', 'task-bulk');
CREATE TEMP TABLE bulk1 AS WITH r AS (
    INSERT INTO api.tasks (project_id, title) SELECT id, 'bulk ' || g FROM first, generate_series(1, 3) g RETURNING *) SELECT * FROM r;
SELECT request('POST', '/tasks', 'task-bulk');
BEGIN;
CREATE TEMP TABLE bulk2 AS WITH r AS (
    INSERT INTO api.tasks (project_id, title) SELECT id, 'bulk ' || g FROM first, generate_series(1, 3) g RETURNING *) SELECT * FROM r;
SELECT replayed(), current_setting('response.headers') AS headers_without_etag,
       (SELECT array_agg(b.*::text) FROM bulk1 b) = (SELECT array_agg(b.*::text) FROM bulk2 b) AS same_rows,
       (SELECT count(*) FROM api.tasks WHERE title LIKE 'bulk %') AS stored;
COMMIT;
-- The same rows in another order are another request.
SELECT request('POST', '/tasks', 'task-bulk');
INSERT INTO api.tasks (project_id, title) SELECT id, 'bulk ' || g FROM first, generate_series(3, 1, -1) g;
-- Fewer rows: the first row matches the stored one, the end does not.
SELECT request('POST', '/tasks', 'task-bulk');
INSERT INTO api.tasks (project_id, title) SELECT id, 'bulk 1' FROM first;

-- PATCH: the target rows and the SET columns are the request.
SELECT request('PATCH', '/tasks', 'patch-1');
BEGIN;
UPDATE api.tasks SET priority = 4, title = 'bulk 1!' WHERE title = 'bulk 1' RETURNING title, priority, version;
SELECT current_setting('response.headers') AS headers;
COMMIT;
SELECT request('PATCH', '/tasks', 'patch-1');
BEGIN;
UPDATE api.tasks SET title = 'bulk 1!', priority = 4 WHERE title = 'bulk 1!' RETURNING title, priority, version;
SELECT current_setting('response.headers') AS headers;
COMMIT;
-- Another value, another column, another row: 422.
SELECT request('PATCH', '/tasks', 'patch-1');
UPDATE api.tasks SET title = 'bulk 1!', priority = 3 WHERE title = 'bulk 1!';
SELECT request('PATCH', '/tasks', 'patch-1');
UPDATE api.tasks SET title = 'bulk 1!', priority = 4, description = NULL WHERE title = 'bulk 1!';
SELECT request('PATCH', '/tasks', 'patch-1');
UPDATE api.tasks SET title = 'bulk 1!', priority = 4 WHERE title = 'bulk 2';
-- A multi-row PATCH replays whatever order the rows come in.
SELECT request('PATCH', '/tasks', 'patch-many');
BEGIN;
WITH u AS (UPDATE api.tasks SET status = 'in_progress' WHERE title LIKE 'bulk %' RETURNING title, status, version)
SELECT * FROM u ORDER BY title;
SELECT current_setting('response.headers') AS headers_without_etag;
COMMIT;
SELECT request('PATCH', '/tasks', 'patch-many');
BEGIN;
WITH u AS (UPDATE api.tasks SET status = 'in_progress' WHERE title LIKE 'bulk %' RETURNING title, status, version)
SELECT * FROM u ORDER BY title;
SELECT replayed(), (SELECT max(version) FROM api.tasks WHERE title LIKE 'bulk %') AS max_version;
COMMIT;
-- A PATCH that matched nothing replays as nothing.
SELECT request('PATCH', '/tasks', 'patch-none');
UPDATE api.tasks SET status = 'done' WHERE title = 'no such task';
SELECT request('PATCH', '/tasks', 'patch-none');
BEGIN;
UPDATE api.tasks SET status = 'done' WHERE title = 'no such task';
SELECT replayed();
COMMIT;

-- RPCs: restore and purge, with the stored status.
SELECT request('DELETE', '/tasks', NULL);
DELETE FROM api.tasks WHERE title = 'bulk 3';
SELECT request('POST', '/rpc/restore_task', 'restore-1');
SELECT title, version FROM api.restore_task((SELECT id FROM task_api.tasks WHERE title = 'bulk 3'));
SELECT request('POST', '/rpc/restore_task', 'restore-1');
BEGIN;
SELECT title, version FROM api.restore_task((SELECT id FROM task_api.tasks WHERE title = 'bulk 3'));
SELECT replayed(), current_setting('response.status') AS status, current_setting('response.headers') AS headers;
COMMIT;
SELECT request('POST', '/rpc/restore_task', 'restore-1');
SELECT api.restore_task('01890a5d-ac96-774b-bcce-b302099a7777');
CREATE TEMP TABLE gone AS SELECT id FROM task_api.tasks WHERE title = 'bulk 3';
SELECT request('POST', '/rpc/purge_task', 'purge-1');
BEGIN;
SELECT api.purge_task((SELECT id FROM gone));
SELECT current_setting('response.status') AS status, (SELECT count(*) FROM task_api.tasks WHERE id = (SELECT id FROM gone)) AS left;
COMMIT;
SELECT request('POST', '/rpc/purge_task', 'purge-1');
SELECT api.purge_task((SELECT id FROM api.tasks WHERE title = 'bulk 2'));
SELECT request('POST', '/rpc/purge_task', 'purge-1');
BEGIN;
SELECT api.purge_task((SELECT id FROM gone));
SELECT replayed(), current_setting('response.status') AS status;
COMMIT;

RESET ROLE;
-- What is stored (no API role can read it).
SELECT caller_kind, key, method, path, status, etag, jsonb_typeof(response) AS response,
       expires_at - created_at AS ttl, octet_length(fingerprint) AS fp_bytes
  FROM task_api.idempotency_keys WHERE length(key) < 100 ORDER BY caller_kind, key, caller_id;
-- The stored fingerprint of a POST is request_fingerprint() of the rows the triggers saw.
SELECT k.fingerprint = task_api.request_fingerprint('POST', '/tasks',
           (SELECT jsonb_agg(to_jsonb(t) ORDER BY t.title) FROM (
               SELECT NULL::uuid AS id, first.id AS project_id, NULL::uuid AS assignee_id, 'bulk ' || g AS title, NULL::text AS description,
                      'todo' AS status, 2 AS priority, NULL::date AS due_date, NULL::uuid AS created_by,
                      NULL::timestamptz AS created_at, NULL::timestamptz AS updated_at, NULL::timestamptz AS completed_at,
                      NULL::int AS version
                 FROM first, generate_series(1, 3) g) t)) AS documented_post_fingerprint
  FROM task_api.idempotency_keys k WHERE k.key = 'task-bulk';

-- Expired keys count as new, and purge_expired() removes them.
UPDATE task_api.idempotency_keys SET created_at = created_at - interval '2 days', expires_at = expires_at - interval '2 days'
 WHERE key = 'create-1' AND caller_kind = 'user' AND caller_id = '01890a5d-ac96-774b-bcce-b302099a0001';
SET ROLE task_api_user;
SELECT request('POST', '/projects', 'create-1');
BEGIN;
INSERT INTO api.projects (name) VALUES ('Gamma') RETURNING name;
SELECT replayed();
COMMIT;
RESET ROLE;
UPDATE task_api.idempotency_keys SET expires_at = now() - interval '1 second' WHERE key IN ('purge-1', 'restore-1');
SELECT task_api.purge_expired_idempotency_keys() AS purged;
SELECT task_api.purge_expired() AS purged_from_trash;
UPDATE task_api.idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = 'task-1';
SELECT task_api.purge_expired() AS purged_from_trash;
SELECT count(*) AS task_1_left FROM task_api.idempotency_keys WHERE key = 'task-1';

-- The API role cannot read or write the table directly.
SET ROLE task_api_user;
SELECT count(*) FROM task_api.idempotency_keys;
DELETE FROM task_api.idempotency_keys;
RESET ROLE;

-- The RPC helpers without a claim do nothing; a nested reuse inside one transaction is in progress.
SELECT task_api.idempotency_record('{}');
SET ROLE task_api_user;
SELECT request('POST', '/rpc/purge_task', 'nested');
BEGIN;
SELECT task_api.idempotency_claim('{"id": 1}') IS NULL AS claimed;
SELECT task_api.idempotency_claim('{"id": 1}');
ROLLBACK;
RESET ROLE;
SELECT count(*) AS nested_left FROM task_api.idempotency_keys WHERE key = 'nested';

-- The stored status is the RPC's response.status only when it is one: an
-- out-of-range number does not wrap around into a valid status (4294967497
-- would be 201 through atoi), it counts as unset (200 with a body).
SET ROLE task_api_user;
SELECT request('POST', '/rpc/purge_task', 'status-overflow');
BEGIN;
SELECT task_api.idempotency_claim('{"id": 2}') IS NULL AS claimed;
SELECT set_config('response.status', '4294967497', true) IS NOT NULL AS status_set;
SELECT task_api.idempotency_record('{"a": 1}');
COMMIT;
RESET ROLE;
SELECT status FROM task_api.idempotency_keys WHERE key = 'status-overflow';

-- The queries that run as the tables' owner (a superuser) resolve no name
-- through the caller's search_path: a caller who puts a schema of theirs
-- before pg_catalog cannot have a type (here a domain whose check runs a
-- function) of theirs used, so nothing of theirs runs as the owner.
CREATE SCHEMA evil;
CREATE FUNCTION evil.spy(v pg_catalog.jsonb) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF current_user <> 'task_api_user' THEN
        RAISE NOTICE 'a caller''s function ran as the tables'' owner';
    END IF;
    RETURN true;
END
$$;
CREATE DOMAIN evil.jsonb AS pg_catalog.jsonb CHECK (evil.spy(VALUE));
GRANT USAGE ON SCHEMA evil TO task_api_user;
GRANT EXECUTE ON FUNCTION evil.spy(pg_catalog.jsonb) TO task_api_user;
SET ROLE task_api_user;
SET search_path = evil, pg_catalog, public;
SELECT request('POST', '/projects', 'search-path');
INSERT INTO api.projects (name) VALUES ('Search path') RETURNING name;
SELECT request('POST', '/rpc/purge_task', 'search-path-rpc');
BEGIN;
SELECT task_api.idempotency_claim('{"id": 3}') IS NULL AS claimed;
SELECT task_api.idempotency_record('{"a": 1}');
COMMIT;
RESET search_path;
RESET ROLE;
SELECT key, status FROM task_api.idempotency_keys WHERE key LIKE 'search-path%' ORDER BY key;
-- Nor through the temporary schema, which is searched for types before
-- pg_catalog whatever the search_path, and where any role with TEMP (PUBLIC
-- by default) can create a domain.
SET ROLE task_api_user;
CREATE FUNCTION pg_temp.spy(v pg_catalog.jsonb) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF current_user <> 'task_api_user' THEN
        RAISE NOTICE 'a temporary function ran as the tables'' owner';
    END IF;
    RETURN true;
END
$$;
CREATE DOMAIN pg_temp.jsonb AS pg_catalog.jsonb CHECK (pg_temp.spy(VALUE));
SELECT request('POST', '/projects', 'search-path-temp');
INSERT INTO api.projects (name) VALUES ('Temporary schema') RETURNING name;
DROP DOMAIN pg_temp.jsonb;
DROP FUNCTION pg_temp.spy(pg_catalog.jsonb);
RESET ROLE;
DROP DOMAIN evil.jsonb;
DROP FUNCTION evil.spy(pg_catalog.jsonb);
DROP SCHEMA evil;

-- Clean up for the next test.
TRUNCATE task_api.users CASCADE;
TRUNCATE task_api.idempotency_keys;
DROP FUNCTION request(text, text, text, uuid, uuid);
DROP FUNCTION replayed();
