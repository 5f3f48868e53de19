-- Retention (sql/install/82_retention.sql): task_api.purge_expired() deletes
-- events past task_api.events_retention that every registered consumer has
-- acknowledged (age alone with no consumer), in batches; and sessions and API
-- keys expired or revoked longer than task_api.credentials_grace ago.
BEGIN;
SELECT plan(24);
\ir helpers/setup.psql

\o /dev/null
SELECT tap.make_user('alice', 'a0000000-0000-4000-8000-00000000000a');
\o

-- A clean outbox: 10 old events (400 days), 5 recent ones (1 day).
DELETE FROM task_api.event_consumers;
DELETE FROM task_api.events;
CREATE TEMP TABLE ev AS
WITH ins AS (
    INSERT INTO task_api.events (occurred_at, resource_type, resource_id, project_id, action, changes)
    SELECT now() - CASE WHEN g <= 10 THEN interval '400 days' ELSE interval '1 day' END,
           'task', gen_random_uuid(), gen_random_uuid(), 'created', '{}'
      FROM generate_series(1, 15) g
    RETURNING id, occurred_at)
SELECT row_number() OVER (ORDER BY id) AS n, id, occurred_at FROM ins;
CREATE FUNCTION pg_temp.ev(k bigint) RETURNS bigint LANGUAGE sql AS 'SELECT id FROM ev WHERE n = k';
CREATE FUNCTION pg_temp.left_events() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM task_api.events';

SELECT is((SELECT setting FROM pg_settings WHERE name = 'task_api.events_retention'), '2592000', 'task_api.events_retention: 30 days (in seconds) by default');
SELECT is((SELECT setting FROM pg_settings WHERE name = 'task_api.credentials_grace'), '604800', 'task_api.credentials_grace: 7 days (in seconds) by default');

-- Consumers: one has acknowledged the first 4 events, another the first 7.
INSERT INTO task_api.event_consumers (name, acked_id, claimed_id) VALUES
    ('slow', pg_temp.ev(4), pg_temp.ev(4)), ('fast', pg_temp.ev(7), pg_temp.ev(7));
SELECT is(task_api.purge_expired_events(), 4::bigint,
          'only old events every consumer has acknowledged go (the slowest consumer decides)');
SELECT is(pg_temp.left_events(), 11::bigint, 'the unacknowledged old events and the recent ones stay');
SELECT ok(NOT EXISTS (SELECT FROM task_api.events WHERE id <= pg_temp.ev(4))
          AND EXISTS (SELECT FROM task_api.events WHERE id = pg_temp.ev(5)),
          'events up to the slowest acknowledgement are gone, the next one is kept');

-- Every consumer has acknowledged everything: the recent events still stay.
UPDATE task_api.event_consumers SET acked_id = pg_temp.ev(15), claimed_id = pg_temp.ev(15);
SELECT is(task_api.purge_expired_events(), 6::bigint, 'acknowledged old events go once every consumer has them');
SELECT is(pg_temp.left_events(), 5::bigint, 'acknowledged events younger than the retention stay');

-- No consumer registered: age alone decides.
DELETE FROM task_api.event_consumers;
INSERT INTO task_api.events (occurred_at, resource_type, resource_id, project_id, action, changes)
SELECT now() - interval '31 days', 'task', gen_random_uuid(), gen_random_uuid(), 'created', '{}'
  FROM generate_series(1, 7);
SELECT is(task_api.purge_expired_events(), 7::bigint, 'with no consumer, every event older than the retention goes');
SELECT is(pg_temp.left_events(), 5::bigint, 'with no consumer, younger events stay');

-- Batches: 25 old events, 10 a statement, at most 2 statements a call.
INSERT INTO task_api.events (occurred_at, resource_type, resource_id, project_id, action, changes)
SELECT now() - interval '60 days', 'task', gen_random_uuid(), gen_random_uuid(), 'created', '{}'
  FROM generate_series(1, 25);
SELECT is(task_api.purge_expired_events(10, 2), 20::bigint, 'max_batches bounds a call: 2 batches of 10');
SELECT is(task_api.purge_expired_events(10, 2), 5::bigint, 'the next call takes the rest');
SELECT is(task_api.purge_expired_events(10, 2), 0::bigint, 'then nothing is left to purge');
SELECT throws_ok($$SELECT task_api.purge_expired_events(0)$$, '22023', NULL, 'a batch_size below 1 is refused');
SELECT throws_ok($$SELECT task_api.purge_expired_events(10, 0)$$, '22023', NULL, 'max_batches below 1 is refused');

-- A shorter retention (a setting, read at each call).
SET task_api.events_retention = '12h';
SELECT is(task_api.purge_expired(), 0::bigint, 'purge_expired() still returns the trash count');
SELECT is(pg_temp.left_events(), 0::bigint, 'purge_expired() purges events with the retention in force (12 hours: the 1-day-old ones go)');
RESET task_api.events_retention;

-- purge_expired() bounds its event purge: one call is at most 100 batches of
-- 10000 (1000000 events, one short transaction).  Watched through a stand-in
-- for purge_expired_events that records its arguments (rolled back with the test).
CREATE TEMP TABLE purge_calls (batch_size integer, max_batches integer);
ALTER FUNCTION task_api.purge_expired_events(integer, integer) RENAME TO purge_expired_events_real;
CREATE FUNCTION task_api.purge_expired_events(batch_size integer DEFAULT 10000, max_batches integer DEFAULT NULL)
    RETURNS bigint LANGUAGE sql
    AS 'INSERT INTO pg_temp.purge_calls VALUES (batch_size, max_batches) RETURNING 0::bigint';
SELECT is(task_api.purge_expired(), 0::bigint, 'purge_expired() with the stand-in');
SELECT results_eq('SELECT batch_size, max_batches FROM pg_temp.purge_calls',
                  $$VALUES (10000, 100)$$,
                  'purge_expired() purges events in at most 100 batches of 10000 a call');
DROP FUNCTION task_api.purge_expired_events(integer, integer);
ALTER FUNCTION task_api.purge_expired_events_real(integer, integer) RENAME TO purge_expired_events;

-- Sessions and API keys.
DELETE FROM task_api.sessions;
DELETE FROM task_api.api_keys;
INSERT INTO task_api.sessions (user_id, expires_at, revoked_at) VALUES
    ('a0000000-0000-4000-8000-00000000000a', now() - interval '400 days', NULL),   -- expired long ago: goes
    ('a0000000-0000-4000-8000-00000000000a', now() - interval '1 day', NULL),      -- expired within the grace: stays
    ('a0000000-0000-4000-8000-00000000000a', now() + interval '1 day', now() - interval '8 days'),  -- revoked long ago: goes
    ('a0000000-0000-4000-8000-00000000000a', now() + interval '1 day', now() - interval '1 day'),   -- revoked recently: stays
    ('a0000000-0000-4000-8000-00000000000a', now() + interval '1 day', NULL);      -- live: stays
INSERT INTO task_api.api_keys (user_id, name, expires_at, revoked_at) VALUES
    ('a0000000-0000-4000-8000-00000000000a', 'old revoked', NULL, now() - interval '400 days'),  -- goes
    ('a0000000-0000-4000-8000-00000000000a', 'old expired', now() - interval '8 days', NULL),   -- goes
    ('a0000000-0000-4000-8000-00000000000a', 'new revoked', NULL, now() - interval '1 day'),    -- stays
    ('a0000000-0000-4000-8000-00000000000a', 'no expiry', NULL, NULL),                          -- stays
    ('a0000000-0000-4000-8000-00000000000a', 'live', now() + interval '1 day', NULL);           -- stays
DELETE FROM task_api.scraper_tokens;
INSERT INTO task_api.scraper_tokens (id, expires_at, revoked_at) VALUES
    ('b0000000-0000-4000-8000-000000000001', now() + interval '80 days', now() - interval '8 days'),  -- revoked long ago: goes
    ('b0000000-0000-4000-8000-000000000002', now() - interval '8 days', NULL),                        -- expired long ago: goes
    ('b0000000-0000-4000-8000-000000000003', now() + interval '80 days', NULL);                       -- live: stays
SELECT is(task_api.purge_expired_credentials(), 6::bigint, 'sessions, keys and scraper tokens past the grace period go');
SELECT is((SELECT array_agg(id) FROM task_api.scraper_tokens), ARRAY['b0000000-0000-4000-8000-000000000003'::uuid],
          'a live scraper token stays');
SELECT is((SELECT count(*) FROM task_api.sessions), 3::bigint, 'live sessions and those ended within the grace period stay');
SELECT is((SELECT array_agg(name ORDER BY name) FROM task_api.api_keys), ARRAY['live', 'new revoked', 'no expiry'],
          'live keys and keys revoked within the grace period stay');
SET task_api.credentials_grace = 0;
SELECT is(task_api.purge_expired(), 0::bigint, 'purge_expired() runs the credentials purge too');
SELECT is((SELECT count(*) FROM task_api.sessions) + (SELECT count(*) FROM task_api.api_keys), 3::bigint,
          'with no grace period every ended session and key goes at once');
RESET task_api.credentials_grace;

SELECT * FROM finish();
ROLLBACK;
