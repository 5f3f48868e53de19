-- Rate limiting: the GCRA arithmetic with the clock passed in, the shared
-- buckets through pre_request(), rate_limit_status() and rate_limit_reset(),
-- and who may call them.

-- GCRA: 60 a minute (one per second), burst 3.  Times in ns; tat 0 is a
-- new bucket.  A new bucket admits the burst at once, then refuses.
SELECT g.n, r.allowed, r.remaining, r.reset_seconds, r.retry_after_seconds, r.new_tat - 1000000000000 AS tat_ahead_ns
  FROM generate_series(1, 4) AS g(n),
       LATERAL (WITH RECURSIVE s(i, tat) AS (
                    SELECT 1, 0::bigint
                    UNION ALL
                    SELECT i + 1, (task_api.rate_limit_gcra(tat, 1000000000000, 60, 3)).new_tat FROM s WHERE i < g.n)
                SELECT (task_api.rate_limit_gcra(tat, 1000000000000, 60, 3)).* FROM s WHERE i = g.n) AS r
 ORDER BY g.n;
-- Refused at tat = now + 3 s: one request fits again after 1 s exactly.
SELECT allowed, remaining, retry_after_ns, retry_after_seconds, reset_seconds
  FROM task_api.rate_limit_gcra(1003000000000, 1000000000000, 60, 3);
SELECT allowed, remaining, new_tat - 1003000000000 AS tat_advanced_ns
  FROM task_api.rate_limit_gcra(1003000000000, 1000999999999, 60, 3);
SELECT allowed, remaining, new_tat - 1003000000000 AS tat_advanced_ns
  FROM task_api.rate_limit_gcra(1003000000000, 1001000000000, 60, 3);
-- Refill: 2.5 s after emptying, two requests fit (remaining counts whole ones).
SELECT allowed, remaining, reset_ns, reset_seconds
  FROM task_api.rate_limit_gcra(1003000000000, 1002500000000, 60, 3);
-- An idle bucket (tat in the past) is full: the same as a new one.
SELECT (task_api.rate_limit_gcra(5, 1000000000000, 60, 3)).remaining AS idle,
       (task_api.rate_limit_gcra(0, 1000000000000, 60, 3)).remaining AS new;
-- A bucket further behind than empty (its limit was raised since) counts as
-- empty under the new limit: one request fits after one new interval.
SELECT allowed, new_tat - 1000000000000 AS tat_ahead_ns, retry_after_ns
  FROM task_api.rate_limit_gcra(2000000000000, 1000000000000, 60, 3);
-- Reset time rounds up: 600 a minute is 100 ms a request.
SELECT reset_ns, reset_seconds FROM task_api.rate_limit_gcra(0, 1000000000000, 600, 600);
-- Burst 1: strictly spaced; retry-after is never 0 when refused.
SELECT allowed, retry_after_ns, retry_after_seconds
  FROM task_api.rate_limit_gcra(1000000000001, 1000000000000, 6000000, 1);
-- A large limit and burst stay exact (no overflow).
SELECT allowed, remaining FROM task_api.rate_limit_gcra(0, 1000000000000000000, 100000000, 100000000);
SELECT allowed, remaining FROM task_api.rate_limit_gcra(0, 1000000000000000000, 1, 100000000);
-- The interval is rounded up, so a limit that does not divide a minute
-- never lets more than the quota through in one (99999999 a minute: 601 ns,
-- not 600, which would admit 100000000 a minute).
SELECT new_tat - 1000000000000 AS interval_ns, (new_tat - 1000000000000) * 99999999 >= 60000000000 AS covers_a_minute
  FROM task_api.rate_limit_gcra(0, 1000000000000, 99999999, 1);
-- Bad arguments.
SELECT * FROM task_api.rate_limit_gcra(0, 1, 0, 1);
SELECT * FROM task_api.rate_limit_gcra(0, 1, 60, 100000001);
SELECT * FROM task_api.rate_limit_gcra(-1, 1, 60, 1);
SELECT * FROM task_api.rate_limit_gcra(0, 1000000000000000001, 60, 1);

-- The shared buckets.  Limits: 3 a minute per API key, the rest as the
-- cluster has them (off in make test).
SELECT current_setting('task_api.rate_limit_api_key') AS saved_api_key_limit \gset
ALTER SYSTEM SET task_api.rate_limit_api_key = 3;
ALTER SYSTEM SET task_api.rate_limit_api_key_burst = 2;
SELECT pg_reload_conf();
-- Wait until this backend has reread the configuration (between statements).
\set ECHO none
\o /dev/null
SELECT 'SELECT pg_sleep(0.05) WHERE current_setting(''task_api.rate_limit_api_key'') <> ''3''' FROM generate_series(1, 200) \gexec
\o
\set ECHO all
SHOW task_api.rate_limit_api_key;
SELECT task_api.status() ->> 'rate_limit' AS rate_limit,
       (task_api.status() -> 'rate_limit_buckets' ->> 'capacity')::int AS capacity,
       (task_api.status() -> 'rate_limit_buckets' ->> 'shared_memory_bytes')::bigint > 0 AS memory_reported;

-- A bucket never charged is full and not tracked.
SELECT * FROM task_api.rate_limit_status('api_key', '01900000-0000-7000-8000-00000000aa01');
-- One request as PostgREST makes it (claims of a verified bearer token),
-- answered as PostgREST would: status and headers, seconds masked (they
-- depend on the time between statements) but checked against their bounds.
CREATE FUNCTION pg_temp.request(claims text, earlier text DEFAULT '[]') RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    msg text;
    det text;
    t int;
BEGIN
    PERFORM set_config('request.jwt.claims', claims, true);
    PERFORM set_config('response.headers', earlier, true);
    BEGIN
        PERFORM task_api.pre_request();
        det := json_build_object('status', 200, 'headers', current_setting('response.headers'))::text;
        msg := '';
    EXCEPTION WHEN SQLSTATE 'PGRST' THEN
        GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
        msg := msg::json ->> 'code';
    END;
    t := substring(det FROM 'r=[0-9]+;t=([0-9]+)')::int;
    -- The request id is new in every request (src/trace.c): shown as ID.
    det := regexp_replace(det, '"X-Request-Id": "[0-9a-f]{32}"', '"X-Request-Id": "ID"');
    RETURN concat_ws(' ', msg, regexp_replace(regexp_replace(det, 't=[0-9]+', 't=N'), '"Retry-After": "[0-9]+"', '"Retry-After": "N"'))
        || CASE WHEN t IS NULL THEN '' ELSE ' t ' || (t BETWEEN 1 AND 120)::text END
        || coalesce(' retry-after ' || (substring(det FROM '"Retry-After": "([0-9]+)"')::int BETWEEN 1 AND 60)::text, '');
END
$$;
-- Charge it through pre_request(): the key does not exist, so the request
-- is refused (401) after it was charged; the error carries the headers.
BEGIN;
SELECT pg_temp.request('{"role": "task_api_user", "sub": "01900000-0000-7000-8000-00000000aa00", "key_id": "01900000-0000-7000-8000-00000000aa01"}');
ROLLBACK;
SELECT policy, quota, burst, remaining, reset_seconds BETWEEN 1 AND 20 AS reset_ok, tracked
  FROM task_api.rate_limit_status('api_key', '01900000-0000-7000-8000-00000000aa01');
BEGIN;
SELECT pg_temp.request('{"role": "task_api_user", "sub": "01900000-0000-7000-8000-00000000aa00", "key_id": "01900000-0000-7000-8000-00000000aa01"}');
ROLLBACK;
-- The third request within the burst of 2 is refused with 429, r=0 and
-- Retry-After; it goes no further (not the 401 of the key check).
BEGIN;
SELECT pg_temp.request('{"role": "task_api_user", "sub": "01900000-0000-7000-8000-00000000aa00", "key_id": "01900000-0000-7000-8000-00000000aa01"}');
ROLLBACK;
-- A burst lowered by a reload: the empty bucket is full again within the
-- new burst (1 request, 20 s), not the old one (40 s), as the next charge
-- would find it.
ALTER SYSTEM SET task_api.rate_limit_api_key_burst = 1;
SELECT pg_reload_conf();
\set ECHO none
\o /dev/null
SELECT 'SELECT pg_sleep(0.05) WHERE current_setting(''task_api.rate_limit_api_key_burst'') <> ''1''' FROM generate_series(1, 200) \gexec
\o
\set ECHO all
SELECT burst, remaining, reset_seconds BETWEEN 1 AND 20 AS reset_within_new_burst
  FROM task_api.rate_limit_status('api_key', '01900000-0000-7000-8000-00000000aa01');
ALTER SYSTEM SET task_api.rate_limit_api_key_burst = 2;
SELECT pg_reload_conf();
\set ECHO none
\o /dev/null
SELECT 'SELECT pg_sleep(0.05) WHERE current_setting(''task_api.rate_limit_api_key_burst'') <> ''2''' FROM generate_series(1, 200) \gexec
\o
\set ECHO all
-- Another key has its own bucket; the user (sub) bucket is untouched.
SELECT remaining FROM task_api.rate_limit_status('api_key', '01900000-0000-7000-8000-00000000aa02');
SELECT tracked FROM task_api.rate_limit_status('user', '01900000-0000-7000-8000-00000000aa00');
-- rate_limit_charge(): the same charge for operators, refusals as a row.
SELECT allowed, remaining, retry_after_seconds BETWEEN 1 AND 20 AS must_wait
  FROM generate_series(1, 3) AS g, LATERAL task_api.rate_limit_charge('api_key', '01900000-0000-7000-8000-00000000aa04' || left(g::text, 0))
 ORDER BY g;
SELECT allowed, remaining FROM task_api.rate_limit_charge('anon');
SELECT * FROM task_api.rate_limit_charge(NULL);
-- Headers are appended to those already set, never replacing them.
BEGIN;
SELECT pg_temp.request('{"role": "task_api_user", "sub": "01900000-0000-7000-8000-00000000aa00", "key_id": "01900000-0000-7000-8000-00000000aa03"}',
                       '[{"X-Earlier": "kept"}, {"RateLimit": "not ours"}]');
ROLLBACK;
-- A key_id or sub that is not a UUID is charged as anonymous (unlimited
-- here), then refused by the identity check.
BEGIN;
SELECT pg_temp.request('{"role": "task_api_user", "sub": "01900000-0000-7000-8000-00000000aa00", "key_id": "key-1"}');
ROLLBACK;

-- Unlimited kinds (0) are not charged and carry no RateLimit headers (only the request id).
BEGIN;
SELECT set_config('request.jwt.claims', '{"role": "task_api_anon"}', true) IS NOT NULL AS claims_set;
SELECT task_api.pre_request();
SELECT regexp_replace(current_setting('response.headers', true), '[0-9a-f]{32}', 'ID') AS anonymous_headers;
ROLLBACK;
SELECT remaining, tracked FROM task_api.rate_limit_status('anon');

-- Reset: one bucket, then the whole kind; a reset bucket is full again.
SELECT task_api.rate_limit_reset('api_key', '01900000-0000-7000-8000-00000000aa01') AS removed_one;
SELECT remaining, tracked FROM task_api.rate_limit_status('api_key', '01900000-0000-7000-8000-00000000aa01');
SELECT task_api.rate_limit_reset('api_key', '01900000-0000-7000-8000-00000000aa01') AS removed_again;
SELECT task_api.rate_limit_reset('api_key') AS removed_kind;
SELECT task_api.rate_limit_reset() >= 0 AS removed_all;

-- Bucket names: addresses (IPv4, IPv6, bracketed, with a port); garbage refused.
SELECT tracked FROM task_api.rate_limit_status('anon', '203.0.113.7');
SELECT tracked FROM task_api.rate_limit_status('anon', '[2001:db8::1]:443');
SELECT tracked FROM task_api.rate_limit_status('anon', ' 198.51.100.2:8080 ');
SELECT * FROM task_api.rate_limit_status('anon', 'not an address');
SELECT * FROM task_api.rate_limit_status('anon', '203.0.113.7:');
SELECT * FROM task_api.rate_limit_status('anon', '[2001:db8::1');
SELECT * FROM task_api.rate_limit_status('user', 'admin');
SELECT * FROM task_api.rate_limit_status('user', NULL);
SELECT * FROM task_api.rate_limit_status('robot', NULL);
SELECT * FROM task_api.rate_limit_status(NULL, NULL);
SELECT task_api.rate_limit_reset('robot');
-- The login kind (signup and login): a shared bucket, or one per address.
SELECT policy, tracked FROM task_api.rate_limit_status('login');
SELECT policy, tracked FROM task_api.rate_limit_status('login', '203.0.113.7');
SELECT * FROM task_api.rate_limit_status('login', 'not an address');
SELECT task_api.rate_limit_reset('login') >= 0 AS removed_login_kind;

-- Who may call: nobody by default; pg_monitor may read; only a superuser
-- may reset, even with EXECUTE granted.
SET ROLE task_api_user;
SELECT * FROM task_api.rate_limit_status('anon');
SELECT task_api.rate_limit_reset();
SELECT * FROM task_api.rate_limit_charge('anon');
SELECT * FROM task_api.rate_limit_gcra(0, 1, 60, 1);
RESET ROLE;
CREATE ROLE rate_limit_operator IN ROLE pg_monitor;
GRANT EXECUTE ON FUNCTION task_api.rate_limit_reset(text, text), task_api.rate_limit_charge(text, text) TO rate_limit_operator;
GRANT USAGE ON SCHEMA task_api TO rate_limit_operator;
SET ROLE rate_limit_operator;
SELECT policy, quota FROM task_api.rate_limit_status('api_key', '01900000-0000-7000-8000-00000000aa01');
SELECT task_api.rate_limit_reset();
SELECT * FROM task_api.rate_limit_charge('anon');
RESET ROLE;
REVOKE ALL ON FUNCTION task_api.rate_limit_reset(text, text), task_api.rate_limit_charge(text, text) FROM rate_limit_operator;
REVOKE ALL ON SCHEMA task_api FROM rate_limit_operator;
DROP ROLE rate_limit_operator;

-- Back to the cluster's settings.
ALTER SYSTEM SET task_api.rate_limit_api_key = :saved_api_key_limit;
ALTER SYSTEM RESET task_api.rate_limit_api_key_burst;
SELECT pg_reload_conf();
\set ECHO none
\o /dev/null
SELECT 'SELECT pg_sleep(0.05) WHERE current_setting(''task_api.rate_limit_api_key'') = ''3''' FROM generate_series(1, 200) \gexec
\o
\set ECHO all
SELECT current_setting('task_api.rate_limit_api_key') <> '3' AS restored;
