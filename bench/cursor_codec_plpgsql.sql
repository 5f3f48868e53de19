-- Cursor pagination benchmark 5b, the baseline: the cursor codec a user would
-- otherwise write in SQL and PL/pgSQL with pgcrypto (database bench_pages,
-- run as the superuser after CREATE EXTENSION pgcrypto).
--
-- It carries what task_api.cursor_encode()/cursor_decode() carry for a
-- bigint sort key: a version, the direction, the key, the last id and a
-- fingerprint (the first 16 bytes of SHA-256 of the caller's text), as a
-- JSON object, followed by HMAC-SHA-256 under task_api.cursor_secret, in
-- base64url without padding.  Decoding checks the MAC, the version and the
-- fingerprint and returns (sort_key, last_id, direction).  Differences, none
-- of which favour the C codec: the MAC is compared with bytea <> (not in
-- constant time), and malformed input raises whatever error PostgreSQL
-- raises instead of invalid_cursor.

CREATE FUNCTION bench.cursor_encode_plpgsql(sort_key bigint, last_id uuid, direction text, fingerprint text)
    RETURNS text LANGUAGE plpgsql STABLE
AS $$
DECLARE
    payload bytea;
BEGIN
    payload := pg_catalog.convert_to(pg_catalog.json_build_object(
        'v', 1, 'd', direction, 'k', sort_key, 'id', last_id,
        'fp', pg_catalog.encode(pg_catalog.substr(pg_catalog.sha256(pg_catalog.convert_to(fingerprint, 'UTF8')), 1, 16), 'hex')
    )::text, 'UTF8');
    RETURN pg_catalog.rtrim(pg_catalog.translate(pg_catalog.encode(
        payload || public.hmac(payload, pg_catalog.convert_to(pg_catalog.current_setting('task_api.cursor_secret'), 'UTF8'), 'sha256'),
        'base64'), E'+/\n', '-_'), '=');
END
$$;

CREATE FUNCTION bench.cursor_decode_plpgsql(cursor text, fingerprint text,
                                            OUT sort_key bigint, OUT last_id uuid, OUT direction text)
    LANGUAGE plpgsql STABLE
AS $$
DECLARE
    raw bytea := pg_catalog.decode(pg_catalog.translate(cursor, '-_', '+/')
                                   || pg_catalog.repeat('=', (4 - pg_catalog.length(cursor) % 4) % 4), 'base64');
    payload bytea := pg_catalog.substr(raw, 1, pg_catalog.length(raw) - 32);
    j json;
BEGIN
    IF public.hmac(payload, pg_catalog.convert_to(pg_catalog.current_setting('task_api.cursor_secret'), 'UTF8'), 'sha256')
       <> pg_catalog.substr(raw, pg_catalog.length(raw) - 31) THEN
        RAISE EXCEPTION 'invalid cursor';
    END IF;
    j := pg_catalog.convert_from(payload, 'UTF8')::json;
    IF (j ->> 'v') IS DISTINCT FROM '1' THEN
        RAISE EXCEPTION 'invalid cursor version';
    END IF;
    IF (j ->> 'fp') IS DISTINCT FROM
       pg_catalog.encode(pg_catalog.substr(pg_catalog.sha256(pg_catalog.convert_to(fingerprint, 'UTF8')), 1, 16), 'hex') THEN
        RAISE EXCEPTION 'cursor mismatch';
    END IF;
    sort_key := (j ->> 'k')::bigint;
    last_id := (j ->> 'id')::uuid;
    direction := j ->> 'd';
END
$$;
