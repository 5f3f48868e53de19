-- Authentication benchmark 2, the baseline: the HS256 verifier a user would
-- otherwise write in PL/pgSQL with pgcrypto (database bench_auth, run as the
-- superuser after CREATE EXTENSION pgcrypto).
--
-- It checks what task_api.jwt_verify() checks: three dot-separated parts, a
-- JSON header saying HS256, HMAC-SHA-256 of "header.payload" under
-- task_api.jwt_secret equal to the decoded signature, a JSON object payload,
-- a numeric exp that has not passed, and nbf/iat not in the future, with the
-- same 30 s clock skew.  Same result shape: (valid, reason, claims).
-- Differences, none of which favour the C verifier: the signature is compared
-- with bytea = (not in constant time), and malformed base64 or JSON raises an
-- error instead of answering false (no EXCEPTION block, whose subtransaction
-- would make the baseline slower).

CREATE FUNCTION bench.base64url_decode(data text) RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT pg_catalog.decode(
        pg_catalog.translate(data, '-_', '+/')
            || pg_catalog.repeat('=', (4 - pg_catalog.length(data) % 4) % 4),
        'base64')
$$;

CREATE FUNCTION bench.jwt_verify_plpgsql(token text, OUT valid boolean, OUT reason text, OUT claims json)
    LANGUAGE plpgsql STABLE STRICT
AS $$
DECLARE
    parts text[] := pg_catalog.string_to_array(token, '.');
    secret text := pg_catalog.current_setting('task_api.jwt_secret');
    now_s numeric := extract(epoch FROM pg_catalog.now());
    skew constant integer := 30;
    header json;
    payload json;
BEGIN
    valid := false;
    IF pg_catalog.cardinality(parts) <> 3 THEN
        reason := 'the token is malformed';
        RETURN;
    END IF;
    header := pg_catalog.convert_from(bench.base64url_decode(parts[1]), 'UTF8')::json;
    IF pg_catalog.json_typeof(header) IS DISTINCT FROM 'object'
       OR header ->> 'alg' IS DISTINCT FROM 'HS256' THEN
        reason := 'the token''s algorithm is not HS256';
        RETURN;
    END IF;
    IF public.hmac(parts[1] || '.' || parts[2], secret, 'sha256')
       IS DISTINCT FROM bench.base64url_decode(parts[3]) THEN
        reason := 'the token''s signature does not match';
        RETURN;
    END IF;
    payload := pg_catalog.convert_from(bench.base64url_decode(parts[2]), 'UTF8')::json;
    IF pg_catalog.json_typeof(payload) IS DISTINCT FROM 'object' THEN
        reason := 'the token is malformed';
        RETURN;
    END IF;
    IF pg_catalog.json_typeof(payload -> 'exp') IS DISTINCT FROM 'number' THEN
        reason := 'the token lacks a required claim';
        RETURN;
    END IF;
    IF now_s - skew >= (payload ->> 'exp')::numeric THEN
        reason := 'the token has expired';
        RETURN;
    END IF;
    IF (payload ->> 'nbf')::numeric > now_s + skew OR (payload ->> 'iat')::numeric > now_s + skew THEN
        reason := 'the token is not valid yet';
        RETURN;
    END IF;
    valid := true;
    reason := 'valid';
    claims := payload;
END
$$;
