-- task_api.cursor_encode(), task_api.cursor_decode(), task_api.percent_encode()
SET TimeZone = 'UTC';
\set id '''01900000-0000-7000-8000-00000000abcd'''

-- Round trips for every sort key type, both directions, NULLs included.
CREATE FUNCTION rt(key anyelement, dir text DEFAULT 'asc') RETURNS text LANGUAGE sql AS $$
    SELECT format('%s | %s | %s | %s', pg_typeof(d.sort_key), coalesce(d.sort_key::text, 'NULL'), d.last_id, d.direction)
      FROM task_api.cursor_decode(task_api.cursor_encode(key, '01900000-0000-7000-8000-00000000abcd', dir, 'fp'), 'fp', key) d
$$;
SELECT rt(7::smallint), rt((-32768)::smallint, 'desc'), rt(32767::smallint);
SELECT rt(0), rt(-2147483648, 'desc'), rt(2147483647);
SELECT rt(0::bigint), rt(-9223372036854775808, 'desc'), rt(9223372036854775807);
SELECT rt(timestamptz '2026-11-27 12:34:56.789012+00'), rt(timestamptz 'infinity', 'desc'), rt(timestamptz '-infinity');
SELECT rt(timestamp '1999-12-31 23:59:59.999999'), rt(timestamp 'infinity');
SELECT rt(date '2026-02-28', 'desc'), rt(date 'infinity'), rt(date '-infinity');
SELECT rt(''::text), rt('plain'::text, 'desc'), rt(E'quote '' percent % \u00e9 \U0001F600'::text);
SELECT rt(repeat('x', 512)) = format('text | %s | 01900000-0000-7000-8000-00000000abcd | asc', repeat('x', 512)) AS longest_text;
SELECT rt('0190a000-1111-7222-8333-444455556666'::uuid, 'desc');
SELECT rt(NULL::smallint), rt(NULL::integer), rt(NULL::bigint), rt(NULL::timestamptz);
SELECT rt(NULL::timestamp), rt(NULL::date), rt(NULL::text), rt(NULL::uuid, 'desc');

-- Cursors are URL-safe base64 of a fixed layout: a bigint key is 100 characters.
SELECT c ~ '^[A-Za-z0-9_-]+$' AS url_safe, length(c)
  FROM task_api.cursor_encode(42::bigint, :id, 'desc', 'events') c;
-- The same position, direction and fingerprint give the same cursor.
SELECT task_api.cursor_encode(42::bigint, :id, 'desc', 'events') = task_api.cursor_encode(42::bigint, :id, 'desc', 'events') AS deterministic;
-- A NULL cursor decodes to NULL (the first page).
SELECT d IS NULL AS first_page FROM task_api.cursor_decode(NULL, 'fp', NULL::bigint) d;

-- The MAC is standard HMAC-SHA-256 over the record: pgcrypto gives the same bytes.
CREATE EXTENSION pgcrypto;
CREATE FUNCTION b64url_decode(s text) RETURNS bytea LANGUAGE sql AS $$
    SELECT decode(rpad(translate(s, '-_', '+/'), (length(s) + 3) / 4 * 4, '='), 'base64') $$;
CREATE FUNCTION b64url_encode(b bytea) RETURNS text LANGUAGE sql AS $$
    SELECT rtrim(translate(replace(encode(b, 'base64'), E'\n', ''), '+/', '-_'), '=') $$;
-- Sign a record (without MAC) with the server's secret, as cursor_encode does.
CREATE FUNCTION resign(rec bytea) RETURNS text LANGUAGE sql AS $$
    SELECT b64url_encode(rec || hmac(rec, convert_to(current_setting('task_api.cursor_secret'), 'UTF8'), 'sha256')) $$;
CREATE FUNCTION record_of(cursor text) RETURNS bytea LANGUAGE sql AS $$
    SELECT substring(b from 1 for length(b) - 32) FROM b64url_decode(cursor) b $$;
SELECT task_api.cursor_encode(42::bigint, :id, 'desc', 'events') AS c \gset
SELECT resign(record_of(:'c')) = :'c' AS same_mac;
-- version 1, direction desc, tag 3 (bigint), value, id, fingerprint
SELECT encode(substring(record_of(:'c') from 1 for 11), 'hex') AS head,
       encode(substring(record_of(:'c') from 12 for 16), 'hex') AS last_id,
       substring(record_of(:'c') from 28) = substring(sha256('events') from 1 for 16) AS fingerprint;

-- invalid_cursor (400): garbage, empty, padding, truncated, extended, altered.
SELECT * FROM task_api.cursor_decode('garbage', 'events', NULL::bigint);
SELECT * FROM task_api.cursor_decode('', 'events', NULL::bigint);
SELECT * FROM task_api.cursor_decode('not base64url!', 'events', NULL::bigint);
SELECT * FROM task_api.cursor_decode(:'c' || '=', 'events', NULL::bigint);
SELECT * FROM task_api.cursor_decode(left(:'c', -1), 'events', NULL::bigint);
SELECT * FROM task_api.cursor_decode(left(:'c', -4), 'events', NULL::bigint);
SELECT * FROM task_api.cursor_decode(:'c' || 'AAAA', 'events', NULL::bigint);
SELECT * FROM task_api.cursor_decode(repeat('A', 5000), 'events', NULL::bigint);
SELECT * FROM task_api.cursor_decode(overlay(:'c' placing (CASE WHEN substr(:'c', 10, 1) = 'A' THEN 'B' ELSE 'A' END) from 10 for 1),
                                     'events', NULL::bigint);
-- Every single-character change and every truncation is refused (none decodes).
CREATE FUNCTION accepted_variants(c text) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    n integer := 0;
    m text;
BEGIN
    FOR i IN 1 .. length(c) LOOP
        FOREACH m IN ARRAY ARRAY[overlay(c placing 'A' from i for 1), overlay(c placing 'w' from i for 1),
                                 overlay(c placing '-' from i for 1), left(c, i - 1)] LOOP
            CONTINUE WHEN m = c;
            BEGIN
                PERFORM task_api.cursor_decode(m, 'events', NULL::bigint);
                n := n + 1;
            EXCEPTION WHEN sqlstate 'PGRST' THEN
                NULL;
            END;
        END LOOP;
    END LOOP;
    RETURN n;
END
$$;
SELECT accepted_variants(:'c');
-- Authentic (signed with the secret) but a version this server does not read.
SELECT * FROM task_api.cursor_decode(resign(set_byte(record_of(:'c'), 0, 2)), 'events', NULL::bigint);
-- Authentic but malformed: bad direction, unknown type, extra and missing bytes.
SELECT * FROM task_api.cursor_decode(resign(set_byte(record_of(:'c'), 1, 7)), 'events', NULL::bigint);
SELECT * FROM task_api.cursor_decode(resign(set_byte(record_of(:'c'), 2, 42)), 'events', NULL::bigint);
SELECT * FROM task_api.cursor_decode(resign(record_of(:'c') || '\x00'::bytea), 'events', NULL::bigint);
SELECT * FROM task_api.cursor_decode(resign(substring(record_of(:'c') from 2)), 'events', NULL::bigint);
-- Authentic text key that is not valid in the database encoding.
SELECT task_api.cursor_encode('ab'::text, :id, 'asc', 'fp') AS t \gset
SELECT * FROM task_api.cursor_decode(resign(set_byte(record_of(:'t'), 5, 255)), 'fp', NULL::text);
SELECT * FROM task_api.cursor_decode(resign(set_byte(record_of(:'t'), 5, 0)), 'fp', NULL::text);
-- Signed with another secret.
SET task_api.cursor_secret = 'another secret that is long enough for cursors';
SELECT * FROM task_api.cursor_decode(:'c', 'events', NULL::bigint);
RESET task_api.cursor_secret;
SELECT last_id FROM task_api.cursor_decode(:'c', 'events', NULL::bigint);

-- cursor_mismatch (400): another fingerprint, or another sort key type.
SELECT * FROM task_api.cursor_decode(:'c', 'other filters', NULL::bigint);
SELECT * FROM task_api.cursor_decode(:'c', 'events', NULL::integer);
SELECT * FROM task_api.cursor_decode(:'c', 'events', NULL::timestamptz);

-- Bad arguments.
SELECT task_api.cursor_encode(1.5, :id, 'asc', 'fp');
SELECT * FROM task_api.cursor_decode(:'c', 'events', NULL::numeric);
SELECT task_api.cursor_encode(1, :id, 'up', 'fp');
SELECT task_api.cursor_encode(1, :id, NULL, 'fp');
SELECT task_api.cursor_encode(1, NULL, 'asc', 'fp');
SELECT task_api.cursor_encode(1, :id, 'asc', NULL);
SELECT * FROM task_api.cursor_decode(:'c', NULL, NULL::bigint);
SELECT task_api.cursor_encode(repeat('x', 513), :id, 'asc', 'fp');

-- The secret must be set, and at least 32 bytes.
SET task_api.cursor_secret = 'too short';
SELECT task_api.cursor_encode(1, :id, 'asc', 'fp');
SELECT * FROM task_api.cursor_decode(:'c', 'events', NULL::bigint);
SET task_api.cursor_secret = '';
SELECT task_api.cursor_encode(1, :id, 'asc', 'fp');
RESET task_api.cursor_secret;

-- Only a superuser sees the secret; API roles may call the codec.
SET ROLE task_api_user;
SELECT current_setting('task_api.cursor_secret');
SELECT last_id FROM task_api.cursor_decode(task_api.cursor_encode(now(), :id, 'asc', 'x'), 'x', NULL::timestamptz);
RESET ROLE;
SET ROLE task_api_anon;
SELECT task_api.cursor_encode(1, :id, 'asc', 'fp');
RESET ROLE;

-- percent_encode: every byte but the unreserved ones.
SELECT task_api.percent_encode('AZaz09-._~ /?&=+%#'), task_api.percent_encode(E'\u00e9'), task_api.percent_encode('');

-- A user's own paginated function (README "Your own paginated functions"):
-- an events feed ordered by a bigint id, newest first.
CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                     ref uuid NOT NULL DEFAULT task_api.uuidv7(), body text);
CREATE FUNCTION events_page(page_size int DEFAULT 25, cursor text DEFAULT NULL) RETURNS json
LANGUAGE plpgsql STABLE AS $$
DECLARE
    fp constant text := 'events_page';      -- a canonical text of the filters and sort
    after bigint;
    page events[];
BEGIN
    SELECT d.sort_key INTO after FROM task_api.cursor_decode(cursor, fp, NULL::bigint) d;
    page := ARRAY(SELECT e FROM events e WHERE e.id < coalesce(after, 9223372036854775807)
                   ORDER BY e.id DESC LIMIT page_size + 1);
    RETURN json_build_object(
        'data', array_to_json(page[1:page_size]),
        'next_cursor', CASE WHEN cardinality(page) > page_size
                            THEN task_api.cursor_encode((page[page_size]).id, (page[page_size]).ref, 'desc', fp) END,
        'has_more', cardinality(page) > page_size);
END
$$;
INSERT INTO events (body) SELECT 'event ' || g FROM generate_series(1, 7) g;
SELECT json_agg(e->>'body') AS page1, events_page(3)->'has_more' AS more FROM json_array_elements(events_page(3)->'data') e;
SELECT json_agg(e->>'body') AS page2, events_page(3, events_page(3, events_page(3)->>'next_cursor')->>'next_cursor')->'has_more' AS more_after_page3
  FROM json_array_elements(events_page(3, events_page(3)->>'next_cursor')->'data') e;
SELECT json_agg(e->>'body') AS page3 FROM json_array_elements(events_page(3, events_page(3, events_page(3)->>'next_cursor')->>'next_cursor')->'data') e;
SELECT events_page(3, task_api.cursor_encode(5::bigint, :id, 'desc', 'another feed'));
SELECT events_page(3, task_api.cursor_encode(5, :id, 'desc', 'events_page'));

-- Leave the shared regression database as it was.
DROP FUNCTION events_page(int, text);
DROP TABLE events;
DROP FUNCTION rt(anyelement, text), accepted_variants(text), resign(bytea), record_of(text),
              b64url_decode(text), b64url_encode(bytea);
DROP EXTENSION pgcrypto;
