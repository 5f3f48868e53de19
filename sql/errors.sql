-- The error catalogue, task_api.raise_error() and append_response_header()

SELECT code, status FROM task_api.error_codes ORDER BY status, code;

-- A catalogue error: SQLSTATE PGRST, JSON body in the message, status and
-- headers in the detail, as PostgREST expects.
SELECT task_api.raise_error('not_found', 'no such task');
SELECT task_api.raise_error('validation_failed', 'task is invalid',
    '[{"field":"title","problem":"is required"}]', 'fix the fields');
-- Quotes, backslashes and control characters are escaped.
SELECT task_api.raise_error('conflict', E'say "hi"\\ \n now', E'tab\there', NULL);

-- The SQLSTATE is PGRST, which PostgREST reads as "body and status inside".
DO $$
BEGIN
    PERFORM task_api.raise_error('forbidden', 'no');
EXCEPTION WHEN SQLSTATE 'PGRST' THEN
    RAISE NOTICE 'caught SQLSTATE %', SQLSTATE;
END
$$;

-- Bad calls.
SELECT task_api.raise_error('no_such_code', 'x');
SELECT task_api.raise_error(NULL, 'x');
SELECT task_api.raise_error('conflict', NULL);

-- Response headers accumulate instead of replacing each other.
BEGIN;
SELECT task_api.append_response_header('ETag', '"1"');
SELECT current_setting('response.headers');
SELECT task_api.append_response_header('RateLimit', '"user";r=5;t=60');
SELECT current_setting('response.headers');
-- Headers set earlier by anybody (PostgREST-style whole-array writes) are kept.
SELECT set_config('response.headers', '[{"X-Earlier": "yes"}]', true);
SELECT task_api.append_response_header('X-Later', 'also');
SELECT current_setting('response.headers');
-- ...and travel into an error response; a later header of the same name wins.
SELECT task_api.append_response_header('x-earlier', 'replaced');
SELECT task_api.raise_error('rate_limited', 'slow down');
ROLLBACK;

-- The setting is transaction-local.
SELECT current_setting('response.headers', true) IS NULL OR current_setting('response.headers', true) = '' AS gone;

-- Header injection and malformed names are refused.
SELECT task_api.append_response_header('Bad Name', 'x');
SELECT task_api.append_response_header('X-Ok', E'a\r\nSet-Cookie: evil=1');
SELECT task_api.append_response_header('', 'x');

-- A response.headers that is not an array of objects is refused by append,
-- and ignored (not masking the error) by raise_error.
BEGIN;
SELECT set_config('response.headers', '{"not": "an array"}', true);
SELECT task_api.append_response_header('X-A', 'b');
ROLLBACK;
BEGIN;
SELECT set_config('response.headers', '[{"X-A": "b"', true);
SELECT task_api.raise_error('forbidden', 'no');
ROLLBACK;
