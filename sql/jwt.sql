-- task_api.jwt_sign(), task_api.jwt_verify(), task_api.csrf_token()

-- Round trip: the claims come back as signed.
SELECT valid, reason, claims::jsonb - 'exp' AS claims
  FROM task_api.jwt_verify(task_api.jwt_sign(json_build_object(
      'sub', '01890a5d-ac96-774b-bcce-b302099a8057', 'role', 'task_api_user',
      'exp', extract(epoch FROM now())::bigint + 60, 'note', E'quote " slash \\ uni \u00e9')::text));

-- The header is fixed: {"alg":"HS256","typ":"JWT"}.
SELECT convert_from(decode(translate(split_part(task_api.jwt_sign('{"exp": 1}'), '.', 1), '-_', '+/'), 'base64'), 'UTF8') AS header;

-- Only flat objects are signed.
SELECT task_api.jwt_sign('{"aud": ["a"]}');
SELECT task_api.jwt_sign('[1, 2]');
SELECT task_api.jwt_sign('{"a": 1, "a": 2}');
SELECT task_api.jwt_sign('not json');

-- Time checks: exp required, 30 seconds of skew either way.
CREATE FUNCTION signed(offset_exp int, extra text DEFAULT '') RETURNS text LANGUAGE sql AS $$
    SELECT task_api.jwt_sign(format('{"sub": "x", "exp": %s%s}', extract(epoch FROM now())::bigint + offset_exp, extra))
$$;
SELECT valid, reason FROM task_api.jwt_verify(signed(60));
SELECT valid, reason FROM task_api.jwt_verify(signed(-10));
SELECT valid, reason FROM task_api.jwt_verify(signed(-60));
SELECT valid, reason FROM task_api.jwt_verify(task_api.jwt_sign('{"sub": "x"}'));
SELECT valid, reason FROM task_api.jwt_verify(task_api.jwt_sign('{"sub": "x", "exp": "tomorrow"}'));
SELECT valid, reason FROM task_api.jwt_verify(signed(600, format(', "nbf": %s', extract(epoch FROM now())::bigint + 300)));
SELECT valid, reason FROM task_api.jwt_verify(signed(600, format(', "iat": %s', extract(epoch FROM now())::bigint + 10)));
SELECT valid, reason FROM task_api.jwt_verify(signed(600, format(', "iat": %s', extract(epoch FROM now())::bigint + 300)));
SELECT valid, reason FROM task_api.jwt_verify(signed(600, ', "nbf": 1e3'));

-- Tampering, foreign keys and garbage.
WITH t AS (SELECT signed(600) AS tok)
SELECT (task_api.jwt_verify(split_part(tok, '.', 1) || '.' || split_part(signed(601), '.', 2) || '.' || split_part(tok, '.', 3))).reason AS swapped_payload,
       (task_api.jwt_verify(tok || 'A')).reason AS longer_signature,
       (task_api.jwt_verify(left(tok, -1))).reason AS shorter_signature,
       (task_api.jwt_verify(tok || '.x')).reason AS four_parts,
       (task_api.jwt_verify(split_part(tok, '.', 1) || '.' || split_part(tok, '.', 2))).reason AS two_parts
  FROM t;
-- Signed with another secret: HMAC of the same message under a different key.
SELECT (task_api.jwt_verify('eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ4IiwiZXhwIjo0MTAyNDQ0ODAwfQ.' ||
        'c2lnbmVkLXdpdGgtYW5vdGhlci1zZWNyZXQtMDEyMzQ1Njc')).reason AS foreign_key;
-- alg none and RS256 headers, with any signature.
SELECT (task_api.jwt_verify('eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4IiwiZXhwIjo0MTAyNDQ0ODAwfQ.')).reason AS alg_none,
       (task_api.jwt_verify('eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ4IiwiZXhwIjo0MTAyNDQ0ODAwfQ.AAAA')).reason AS rs256;
SELECT reason FROM task_api.jwt_verify('');
SELECT reason FROM task_api.jwt_verify('garbage');
SELECT reason FROM task_api.jwt_verify('a.b.c');
SELECT reason FROM task_api.jwt_verify('e30.e30.');
SELECT reason FROM task_api.jwt_verify('ey$.ey$.ey$');
SELECT reason FROM task_api.jwt_verify(repeat('a', 9000) || '.a.a');
SELECT reason FROM task_api.jwt_verify(repeat('.', 100));
SELECT task_api.jwt_verify(NULL) IS NULL AS null_in_null_out;

-- The CSRF token is bound to the session id, deterministic, URL-safe.
SELECT task_api.csrf_token('s1') = task_api.csrf_token('s1') AS stable,
       task_api.csrf_token('s1') <> task_api.csrf_token('s2') AS per_session,
       task_api.csrf_token('s1') ~ '^[A-Za-z0-9_-]{43}$' AS url_safe;

-- Nobody but the owner may sign, verify or mint CSRF tokens.
SET ROLE task_api_user;
SELECT task_api.jwt_sign('{"sub": "x"}');
SELECT task_api.csrf_token('s1');
RESET ROLE;
SET ROLE task_api_anon;
SELECT * FROM task_api.jwt_verify('a.b.c');
RESET ROLE;

-- A short secret is refused for signing and verifying.
SET task_api.jwt_secret = 'too short';
SELECT task_api.jwt_sign('{"sub": "x"}');
SELECT * FROM task_api.jwt_verify('a.b.c');
RESET task_api.jwt_secret;

DROP FUNCTION signed(int, text);
