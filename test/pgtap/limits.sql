-- Issue 21, the shared-memory limits seen from SQL: the per-account login
-- backoff (login_throttle.c) through its functions and through api.login,
-- the same answer for known and unknown emails, the grants, and what
-- task_api.status() reports (login throttle, requests in flight, refusals
-- not logged).  The HTTP side is test/security/limits.test.mjs.
--
-- The throttle's state is shared memory, not rolled back with the
-- transaction: every email here is unique to this file, and it is reset at
-- the start and the end.
BEGIN;
SET LOCAL task_api.password_iterations = 4096;
SET LOCAL task_api.login_max_failures = 2;
SET LOCAL task_api.login_backoff = 60;
SET LOCAL task_api.login_backoff_max = 600;
SELECT plan(21);
\ir helpers/setup.psql

DO $$ BEGIN PERFORM task_api.login_throttle_reset(); END $$;
\o /dev/null
INSERT INTO task_api.users (email, display_name, password_hash)
VALUES ('limits-known@example.test', 'Known', task_api.password_hash('correct horse battery'));
\o

-- Through the functions: two failures are allowed, the next attempt waits.
SELECT is(tap.err($$SELECT task_api.login_throttle('limits-a@example.test')$$), 'no error',
          'an email without failures may try');
DO $$ BEGIN PERFORM task_api.login_failed('limits-a@example.test'); END $$;
SELECT is(tap.err($$SELECT task_api.login_throttle('limits-a@example.test')$$), 'no error',
          'one failure of two allowed: may still try');
DO $$ BEGIN PERFORM task_api.login_failed('limits-a@example.test'); END $$;
SELECT is(tap.err($$SELECT task_api.login_throttle('limits-a@example.test')$$), 'rate_limited 429',
          'after task_api.login_max_failures failures: 429 rate_limited');
SELECT is(tap.error_of($$SELECT task_api.login_throttle('limits-a@example.test')$$) -> 'headers' ->> 'Retry-After', '60',
          'Retry-After is task_api.login_backoff after the first failure past the limit');
SELECT is(tap.err($$SELECT task_api.login_throttle('  LIMITS-A@Example.TEST ')$$), 'rate_limited 429',
          'the email is normalised as api.login matches it (trimmed, lower-cased)');
SELECT is(tap.err($$SELECT task_api.login_throttle('limits-b@example.test')$$), 'no error',
          'another email is not affected');
DO $$ BEGIN PERFORM task_api.login_failed('limits-a@example.test'); END $$;
SELECT is(tap.error_of($$SELECT task_api.login_throttle('limits-a@example.test')$$) -> 'headers' ->> 'Retry-After', '120',
          'each further failure doubles the backoff');
DO $$ BEGIN PERFORM task_api.login_succeeded('limits-a@example.test'); END $$;
SELECT is(tap.err($$SELECT task_api.login_throttle('limits-a@example.test')$$), 'no error',
          'a successful login forgets the failures');

-- Through api.login: a known and an unknown email get the same answers.
SELECT is(tap.err($$SELECT api.login('limits-known@example.test', 'wrong password')$$), 'invalid_credentials 401',
          'known email, wrong password: 401');
SELECT is(tap.err($$SELECT api.login('limits-unknown@example.test', 'wrong password')$$), 'invalid_credentials 401',
          'unknown email: the same 401');
SELECT is(tap.err($$SELECT api.login('limits-known@example.test', 'wrong password')$$), 'invalid_credentials 401',
          'second failure of the known email: still 401');
SELECT is(tap.err($$SELECT api.login('limits-unknown@example.test', 'wrong password')$$), 'invalid_credentials 401',
          'second failure of the unknown email: still 401');
SELECT is(tap.err($$SELECT api.login('limits-known@example.test', 'correct horse battery')$$), 'rate_limited 429',
          'the known email, now with the right password, is refused while it backs off (no password check)');
SELECT is(tap.error_of($$SELECT api.login('limits-known@example.test', 'correct horse battery')$$) - 'raw_detail',
          tap.error_of($$SELECT api.login('limits-unknown@example.test', 'whatever password')$$) - 'raw_detail',
          'a throttled known and unknown email get the same status, body and headers');
SELECT is(task_api.login_throttle_reset('limits-known@example.test'), 1::bigint,
          'login_throttle_reset(email) forgets one email');
SELECT ok((api.login('limits-known@example.test', 'correct horse battery') ->> 'token') IS NOT NULL,
          'after the reset the right password signs in');

-- Who may call: nobody but the owner (api.login is SECURITY DEFINER).
SELECT ok(NOT has_function_privilege('public', 'task_api.login_throttle(text)', 'EXECUTE')
          AND NOT has_function_privilege('public', 'task_api.login_failed(text)', 'EXECUTE')
          AND NOT has_function_privilege('public', 'task_api.login_succeeded(text)', 'EXECUTE')
          AND NOT has_function_privilege('public', 'task_api.login_throttle_reset(text)', 'EXECUTE'),
          'PUBLIC cannot EXECUTE the login throttle functions');
SELECT ok(NOT has_function_privilege('task_api_anon', 'task_api.login_failed(text)', 'EXECUTE')
          AND NOT has_function_privilege('task_api_user', 'task_api.login_succeeded(text)', 'EXECUTE'),
          'the API roles cannot count failures or forget them');
CREATE ROLE tap_limits_monitor;
GRANT EXECUTE ON FUNCTION task_api.login_throttle_reset(text) TO tap_limits_monitor;
SET LOCAL ROLE tap_limits_monitor;
SELECT is(tap.err($$SELECT task_api.login_throttle_reset()$$), '42501',
          'only a superuser may reset the login throttle, even with EXECUTE');
RESET ROLE;

-- task_api.status() reports the three mechanisms.
SELECT ok(task_api.status() -> 'in_flight' ? 'max_per_user' AND task_api.status() -> 'in_flight' ? 'held',
          'status() shows the in-flight cap and the slots held');
SELECT ok((task_api.status() -> 'login_throttle' ->> 'tracked') IS NOT NULL
          AND (task_api.status() -> 'refusals_not_logged' ->> '429') IS NOT NULL,
          'status() shows the login throttle and the refusals not logged');

DO $$ BEGIN PERFORM task_api.login_throttle_reset(); END $$;
SELECT * FROM finish();
ROLLBACK;
