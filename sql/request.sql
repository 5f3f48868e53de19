-- The request context: request_header(), request_cookie(), request_claim(),
-- current_user_id(), pre_request()

-- A fixed request id (src/trace.c), so that the errors' headers are stable.
SET request.headers = '{"x-request-id": "regress-request"}';

-- Nothing set: everything is NULL (anonymous, not an error).
SELECT task_api.current_user_id() IS NULL AS anon,
       task_api.request_header('accept') IS NULL AS no_header,
       task_api.request_cookie('a') IS NULL AS no_cookie,
       task_api.request_claim('sub') IS NULL AS no_claim;
SELECT task_api.pre_request();

INSERT INTO task_api.users (id, email, display_name)
VALUES ('01890a5d-ac96-774b-bcce-b302099a8057', 'request@example.com', 'Request');
INSERT INTO task_api.sessions (id, user_id, expires_at)
VALUES ('01890a5d-ac96-774b-bcce-b30209950001', '01890a5d-ac96-774b-bcce-b302099a8057', now() + interval '1 hour');

BEGIN;
SELECT set_config('request.headers', '{"accept": "application/json", "authorization": "Bearer t", "x-forwarded-for": "1.2.3.4, 5.6.7.8", "if-match": "\"3\""}', true);
SELECT set_config('request.cookies', '{"task_api_session": "abc.def", "theme": "dark"}', true);
SELECT set_config('request.jwt.claims', '{"sub": "01890a5d-ac96-774b-bcce-b302099a8057", "role": "task_api_user", "jti": "01890a5d-ac96-774b-bcce-b30209950001", "exp": 1700000000, "aud": ["a", "b"], "nested": {"sub": "x"}}', true);
-- Header names are case-insensitive (PostgREST lowercases them).
SELECT task_api.request_header('Accept'), task_api.request_header('IF-MATCH'), task_api.request_header('x-forwarded-for');
SELECT task_api.request_cookie('task_api_session'), task_api.request_cookie('theme'), task_api.request_cookie('Theme') IS NULL AS cookies_case_sensitive;
-- Scalars come back as text; nested values are not claims of their own.
SELECT task_api.request_claim('role'), task_api.request_claim('exp'), task_api.request_claim('aud') IS NULL AS array_skipped;
SELECT task_api.current_user_id();
SELECT task_api.pre_request();
-- The cache follows the setting: a new identity is seen at once.
SELECT set_config('request.jwt.claims', '{"sub": "01890a5d-ac96-774b-bcce-b302099a8058", "role": "task_api_user"}', true);
SELECT task_api.current_user_id();
ROLLBACK;

-- Transaction-local settings are gone after the transaction.
SELECT task_api.current_user_id() IS NULL AS anon_again;

-- A sub that is not a UUID, a user token without a sub, or the sub of no
-- user: unauthenticated.
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub": "admin", "role": "task_api_user"}', true);
SELECT task_api.current_user_id();
ROLLBACK;
BEGIN;
SELECT set_config('request.jwt.claims', '{"role": "task_api_user"}', true);
SELECT task_api.pre_request();
ROLLBACK;
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub": "01890a5d-ac96-774b-bcce-b302099a9999", "role": "task_api_user"}', true);
SELECT task_api.pre_request();
ROLLBACK;

-- Malformed or oddly shaped settings read as empty, never crash.
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub": ', true);
SELECT task_api.current_user_id() IS NULL AS truncated_json;
SELECT set_config('request.jwt.claims', '["sub", "x"]', true);
SELECT task_api.current_user_id() IS NULL AS array_json;
SELECT set_config('request.jwt.claims', '"just a string"', true);
SELECT task_api.current_user_id() IS NULL AS scalar_json;
SELECT set_config('request.jwt.claims', '{"sub": null}', true);
SELECT task_api.current_user_id() IS NULL AS null_sub;
SELECT set_config('request.headers', '{"a": "\u0000"}', true);
SELECT task_api.request_header('a') IS NULL AS nul_escape;
SELECT length(set_config('request.headers', repeat('{"a":', 10000), true));
SELECT task_api.request_header('a') IS NULL AS deep_garbage;
ROLLBACK;

-- Which origins may use the session cookie (task_api.cors_allowed_origins):
-- a request without an Origin header may; with one, only the listed origins
-- (any case) and the API's own (its Host); malformed lists are refused.
BEGIN;
SET LOCAL task_api.cors_allowed_origins = ' https://app.example.com ,http://localhost:5173,,http://[::1]:8080';
SELECT set_config('request.headers', '{}', true);
SELECT task_api.cookie_origin_allowed() AS no_origin;
SELECT set_config('request.headers', '{"origin": "HTTPS://APP.example.com"}', true);
SELECT task_api.cookie_origin_allowed() AS listed_any_case;
SELECT set_config('request.headers', '{"origin": "http://[::1]:8080"}', true);
SELECT task_api.cookie_origin_allowed() AS listed_ipv6;
SELECT set_config('request.headers', '{"origin": "http://localhost:5174"}', true);
SELECT task_api.cookie_origin_allowed() AS other_port;
SELECT set_config('request.headers', '{"origin": "http://localhost:5173.evil.test"}', true);
SELECT task_api.cookie_origin_allowed() AS suffix;
-- The API's own origin: the Host, and the scheme the client used (a TLS proxy's
-- X-Forwarded-Proto or Forwarded proto=, else http).
SELECT set_config('request.headers', '{"origin": "https://api.example.com", "host": "api.example.com"}', true);
SELECT task_api.cookie_origin_allowed() AS https_origin_http_api;
SELECT set_config('request.headers', '{"origin": "https://api.example.com", "host": "api.example.com", "x-forwarded-proto": "https"}', true);
SELECT task_api.cookie_origin_allowed() AS own_origin;
SELECT set_config('request.headers', '{"origin": "https://api.example.com", "host": "api.example.com", "forwarded": "for=192.0.2.1;proto=https"}', true);
SELECT task_api.cookie_origin_allowed() AS own_origin_forwarded;
SELECT set_config('request.headers', '{"origin": "http://api.example.com", "host": "api.example.com", "x-forwarded-proto": "https"}', true);
SELECT task_api.cookie_origin_allowed() AS http_origin_https_api;
SELECT set_config('request.headers', '{"origin": "null", "host": "null"}', true);
SELECT task_api.cookie_origin_allowed() AS null_origin;
SELECT set_config('request.headers', '{"origin": ""}', true);
SELECT task_api.cookie_origin_allowed() AS empty_origin;
SELECT set_config('request.headers', '{"origin": "https://app.example.com/"}', true);
SELECT task_api.cookie_origin_allowed() AS trailing_slash;
SET LOCAL task_api.cors_allowed_origins = '';
SELECT set_config('request.headers', '{"origin": "https://app.example.com"}', true);
SELECT task_api.cookie_origin_allowed() AS empty_list;
SAVEPOINT s;
SET LOCAL task_api.cors_allowed_origins = 'https://app.example.com/path';
ROLLBACK TO s;
SET LOCAL task_api.cors_allowed_origins = '*';
ROLLBACK TO s;
SET LOCAL task_api.cors_allowed_origins = 'app.example.com';
ROLLBACK;

DELETE FROM task_api.users WHERE id = '01890a5d-ac96-774b-bcce-b302099a8057';
