-- Monitoring (docs/operations.md#monitoring): the counters' view and its
-- grants, the reset, the event consumers' health, the Prometheus text of
-- api.metrics(), the scraper's and operators' tokens.  Counters are shared
-- by the whole server, so each check compares before and after.
BEGIN;
SELECT plan(39);
\ir helpers/setup.psql

CREATE FUNCTION tap.metric(family text, label text DEFAULT '') RETURNS bigint
    LANGUAGE sql AS $$ SELECT m.value FROM task_api.metrics m WHERE m.metric = family AND m.labels = label $$;

-- The view and who may read it --------------------------------------------------------
SELECT columns_are('task_api', 'metrics', ARRAY['metric', 'labels', 'type', 'value', 'help'],
                   'task_api.metrics has metric, labels, type, value, help');
SELECT ok(has_table_privilege('pg_monitor', 'task_api.metrics', 'SELECT')
          AND has_table_privilege('pg_monitor', 'task_api.event_consumer_health', 'SELECT'),
          'pg_monitor reads task_api.metrics and task_api.event_consumer_health');
SELECT ok(NOT has_table_privilege('task_api_user', 'task_api.metrics', 'SELECT')
          AND NOT has_table_privilege('task_api_anon', 'task_api.metrics', 'SELECT')
          AND NOT has_table_privilege('task_api_metrics', 'task_api.metrics', 'SELECT'),
          'the API roles do not read task_api.metrics');
SELECT ok(NOT has_function_privilege('pg_monitor', 'task_api.metrics_reset()', 'EXECUTE')
          AND NOT has_function_privilege('task_api_user', 'task_api.metrics_reset()', 'EXECUTE'),
          'only a superuser may reset the counters');
SELECT ok(NOT has_function_privilege('task_api_user', 'task_api.metrics_count_events(text,bigint)', 'EXECUTE')
          AND NOT has_function_privilege('task_api_relay', 'task_api.metrics_count_events(text,bigint)', 'EXECUTE')
          AND NOT has_function_privilege('pg_monitor', 'task_api.metrics_count_events(text,bigint)', 'EXECUTE'),
          'nobody but the owner may add to the event counters');
SELECT ok(has_function_privilege('task_api_metrics', 'api.metrics()', 'EXECUTE'), 'the scraper role may call api.metrics()');
SELECT ok(NOT has_function_privilege('task_api_anon', 'api.metrics()', 'EXECUTE')
          AND NOT has_function_privilege('task_api_user', 'api.metrics()', 'EXECUTE'),
          'anonymous callers and users may not call api.metrics()');
SELECT ok(NOT has_function_privilege('task_api_user', 'task_api.metrics_token(interval)', 'EXECUTE')
          AND NOT has_function_privilege('pg_monitor', 'task_api.metrics_token(interval)', 'EXECUTE')
          AND NOT has_function_privilege('task_api_user', 'task_api.operator_session(uuid)', 'EXECUTE')
          AND NOT has_function_privilege('pg_monitor', 'task_api.operator_session(uuid)', 'EXECUTE'),
          'only a superuser signs scraper and operator tokens');
SELECT is_member_of('task_api_metrics', 'task_api_authenticator', 'PostgREST can switch to the scraper role');
SELECT is_empty($$SELECT rolname FROM pg_roles WHERE rolname = 'task_api_metrics'
                    AND (rolcanlogin OR rolsuper OR rolbypassrls OR rolcreaterole OR rolcreatedb)$$,
                'task_api_metrics cannot log in and has no special attribute');
SELECT is_empty($$SELECT c.oid::regclass::text FROM pg_class c
                   WHERE c.relnamespace IN ('api'::regnamespace, 'task_api'::regnamespace) AND c.relkind IN ('r', 'v')
                     AND has_table_privilege('task_api_metrics', c.oid, 'SELECT')$$,
                'the scraper role reads no table or view');

-- Every counter is listed, with help and type ------------------------------------------
SELECT set_eq($$SELECT DISTINCT metric FROM task_api.metrics$$,
              ARRAY['task_api_requests_total', 'task_api_rate_limit_refusals_total', 'task_api_rate_limit_evictions_total',
                    'task_api_auth_failures_total', 'task_api_logins_total', 'task_api_idempotency_total',
                    'task_api_events_total', 'task_api_rate_limit_buckets'],
              'task_api.metrics lists every family');
SELECT is((SELECT count(*) FROM task_api.metrics WHERE help = '' OR type NOT IN ('counter', 'gauge')), 0::bigint,
          'every sample has help and a type');
SELECT set_eq($$SELECT labels FROM task_api.metrics WHERE metric = 'task_api_requests_total'$$,
              ARRAY['credential="anonymous"', 'credential="session"', 'credential="cookie"', 'credential="api_key"',
                    'credential="service"'],
              'requests are counted by credential kind');
SELECT set_eq($$SELECT labels FROM task_api.metrics WHERE metric = 'task_api_auth_failures_total'$$,
              ARRAY['reason="expired"', 'reason="revoked"', 'reason="bad_signature"', 'reason="malformed"',
                    'reason="unknown_user"', 'reason="csrf"', 'reason="plan_not_allowed"'],
              'authentication failures are counted by reason');
SELECT cmp_ok(tap.metric('task_api_rate_limit_buckets', 'state="capacity"'),
              '=', current_setting('task_api.rate_limit_buckets')::bigint,
              'the limiter table''s capacity is task_api.rate_limit_buckets');

-- A recorded event moves its counter; a reset zeroes the counters ---------------------
CREATE TEMP TABLE before AS SELECT tap.metric('task_api_events_total', 'stage="recorded"') AS recorded;
INSERT INTO task_api.users (id, email, display_name) VALUES (tap.name_id('m', task_api.uuidv7()), 'm@example.test', 'M');
INSERT INTO task_api.projects (name, owner_id) VALUES ('metrics project', tap.id('m'));
SELECT cmp_ok(tap.metric('task_api_events_total', 'stage="recorded"'), '>=', (SELECT recorded + 2 FROM before),
              'creating a project records its events and counts them (project, owner membership)');
SELECT lives_ok('SELECT task_api.metrics_reset()', 'a superuser resets the counters');
SELECT is(tap.metric('task_api_events_total', 'stage="recorded"'), 0::bigint, 'the reset zeroes the counters');
SELECT throws_ok('SELECT task_api.metrics_count_events(''lost'', 1)', '22023', NULL,
                 'an unknown event stage is refused (22023)');
SET LOCAL ROLE pg_monitor;
SELECT cmp_ok((SELECT count(*) FROM task_api.metrics), '>', 20::bigint, 'pg_monitor reads the counters');
SELECT throws_ok('SELECT task_api.metrics_reset()', '42501', NULL, 'pg_monitor cannot reset them');
RESET ROLE;

-- Event consumers' health ----------------------------------------------------------
INSERT INTO task_api.event_consumers (name, acked_id, claimed_id)
SELECT 'tap "lag"', max(id) - 2, max(id) - 2 FROM task_api.events;
INSERT INTO task_api.event_consumers (name, acked_id, claimed_id)
SELECT 'tap caught up', max(id), max(id) FROM task_api.events;
SELECT is((SELECT backlog FROM task_api.event_consumer_health WHERE consumer = 'tap "lag"'), 2::bigint,
          'backlog: the events after the consumer''s position');
SELECT ok((SELECT oldest_unacked_at = (SELECT occurred_at FROM task_api.events ORDER BY id DESC OFFSET 1 LIMIT 1)
             FROM task_api.event_consumer_health WHERE consumer = 'tap "lag"'),
          'oldest_unacked_at: the first event after the consumer''s position');
SELECT ok((SELECT backlog = 0 AND oldest_unacked_at IS NULL AND oldest_unacked_age IS NULL
             FROM task_api.event_consumer_health WHERE consumer = 'tap caught up'),
          'a consumer that is caught up has no backlog and no age');

-- The Prometheus text -----------------------------------------------------------------
CREATE TEMP TABLE tap_scraper AS
SELECT t.token, (task_api.jwt_verify(t.token)).claims ->> 'jti' AS jti
  FROM (SELECT task_api.metrics_token('1 hour') AS token) t;
SELECT is(tap.err('SELECT api.metrics()'), 'unauthenticated 401', 'api.metrics() refuses a caller without a scraper token''s jti (401)');
DO $$ BEGIN PERFORM set_config('request.jwt.claims', json_build_object('role', 'task_api_metrics', 'jti', jti)::text, true) FROM tap_scraper; END $$;
SELECT matches(api.metrics()::text, E'# HELP task_api_requests_total [^\n]+\n# TYPE task_api_requests_total counter\ntask_api_requests_total\\{credential="anonymous"\\} [0-9]+\n',
               'api.metrics(): HELP and TYPE lines, then the samples of each family');
SELECT matches(api.metrics()::text, E'\ntask_api_event_consumer_backlog\\{consumer="tap \\\\"lag\\\\""\\} 2\n',
               'a consumer name is escaped in its label');
SELECT is(pg_typeof(api.metrics())::text, 'api."text/plain"', 'api.metrics() returns the text/plain domain PostgREST serves as text/plain');
SELECT ok((SELECT t.expires_at > now() + interval '59 minutes' AND t.revoked_at IS NULL
             FROM task_api.scraper_tokens t JOIN tap_scraper s ON t.id = s.jti::uuid),
          'metrics_token() records its token, by jti, until it expires');
SELECT ok(task_api.revoke_metrics_token((SELECT jti::uuid FROM tap_scraper)), 'revoke_metrics_token() ends a live token');
SELECT ok(NOT task_api.revoke_metrics_token((SELECT jti::uuid FROM tap_scraper)), 'revoking it again changes nothing (false)');
SELECT is(tap.err('SELECT api.metrics()'), 'unauthenticated 401', 'api.metrics() refuses a revoked scraper token at once (401)');
UPDATE task_api.scraper_tokens SET revoked_at = NULL, expires_at = now() - interval '1 second'
 WHERE id = (SELECT jti::uuid FROM tap_scraper);
SELECT is(tap.err('SELECT api.metrics()'), 'unauthenticated 401', 'api.metrics() refuses an expired scraper token (401)');
DO $$ BEGIN PERFORM set_config('request.jwt.claims', '{"role": "task_api_metrics", "jti": "not-a-uuid"}', true); END $$;
SELECT is(tap.err('SELECT api.metrics()'), 'unauthenticated 401', 'api.metrics() refuses a jti that is not a UUID (401)');
SELECT ok(NOT has_function_privilege('task_api_user', 'task_api.revoke_metrics_token(uuid)', 'EXECUTE')
          AND NOT has_function_privilege('pg_monitor', 'task_api.revoke_metrics_token(uuid)', 'EXECUTE')
          AND NOT has_function_privilege('task_api_metrics', 'task_api.revoke_metrics_token(uuid)', 'EXECUTE'),
          'only a superuser revokes scraper tokens');

-- Tokens of the scraper and of operators --------------------------------------------
SELECT is((SELECT claims ->> 'role' FROM task_api.jwt_verify(task_api.metrics_token('1 hour'))), 'task_api_metrics',
          'metrics_token() signs a token of the scraper role');
SELECT throws_ok($$SELECT task_api.metrics_token('-1 hour')$$, '22023', NULL, 'a token lifetime must be positive (22023)');
SELECT is((SELECT claims ->> 'operator' FROM task_api.jwt_verify(task_api.operator_session(tap.id('m')) ->> 'token')),
          'true', 'operator_session() signs a session token with "operator": true');

SELECT * FROM finish();
ROLLBACK;
