-- Monitoring: counters, consumer health, the Prometheus endpoint, operators ---------
-- Counters live in shared memory (src/metrics.c): task_api.metrics shows
-- them to pg_monitor, task_api.metrics_reset() zeroes them (superuser), a
-- restart zeroes them too.  task_api.event_consumer_health shows each event
-- consumer's backlog and oldest unacknowledged event.  GET /rpc/metrics
-- serves both in the Prometheus text format to the scraper's role,
-- task_api_metrics, whose token task_api.metrics_token() signs; query plans
-- (PostgREST's db-plan-enabled) are answered only to tokens of
-- task_api.operator_session() (src/trace.c).  docs/operations.md#monitoring.

DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'task_api_metrics') THEN
        CREATE ROLE task_api_metrics NOLOGIN;
    END IF;
END
$roles$;
GRANT task_api_metrics TO task_api_authenticator;

CREATE FUNCTION @extschema@.metrics_read(OUT metric text, OUT labels text, OUT type text, OUT value bigint, OUT help text)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'task_api_metrics_read' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.metrics_read() IS 'Every task_api counter and gauge in shared memory: Prometheus family, labels, type, value and help. Needs shared_preload_libraries.';

CREATE VIEW @extschema@.metrics AS
    SELECT m.metric, m.labels, m.type, m.value, m.help FROM @extschema@.metrics_read() m;
COMMENT ON VIEW @extschema@.metrics IS 'task_api''s counters (since the server started or task_api.metrics_reset()) and the rate-limit table''s fill, for pg_monitor; docs/operations.md#monitoring.';
COMMENT ON COLUMN @extschema@.metrics.metric IS 'Prometheus metric family, e.g. task_api_requests_total.';
COMMENT ON COLUMN @extschema@.metrics.labels IS 'Prometheus labels of the sample, e.g. credential="cookie" (empty for none).';
COMMENT ON COLUMN @extschema@.metrics.type IS 'counter (only goes up until a restart or a reset) or gauge (a current state).';
COMMENT ON COLUMN @extschema@.metrics.value IS 'The count, or the gauge''s value.';
COMMENT ON COLUMN @extschema@.metrics.help IS 'What the family counts.';

CREATE FUNCTION @extschema@.metrics_reset() RETURNS void
    AS 'MODULE_PATHNAME', 'task_api_metrics_reset' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.metrics_reset() IS 'Superuser only: zero every task_api counter (a restart does too).';

CREATE FUNCTION @extschema@.metrics_count_events(stage text, n bigint) RETURNS void
    AS 'MODULE_PATHNAME', 'task_api_metrics_count_events' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION @extschema@.metrics_count_events(text, bigint) IS 'Count n events claimed or acknowledged; called by claim_events() and ack_events() only.';

-- Bounded on any number of events: max(id) and the first event after the
-- consumer's position are each one descent of the primary key.
CREATE VIEW @extschema@.event_consumer_health AS
    SELECT c.name AS consumer, c.acked_id, c.acked_at,
           pg_catalog.int8larger(coalesce((SELECT max(e.id) FROM @extschema@.events e), 0) - c.acked_id, 0) AS backlog,
           o.occurred_at AS oldest_unacked_at,
           pg_catalog.now() - o.occurred_at AS oldest_unacked_age
      FROM @extschema@.event_consumers c
      LEFT JOIN LATERAL (SELECT e.occurred_at FROM @extschema@.events e
                          WHERE e.id > c.acked_id ORDER BY e.id LIMIT 1) o ON true;
COMMENT ON VIEW @extschema@.event_consumer_health IS 'Per event consumer: how far behind it is, cheaply on any number of events (for pg_monitor and GET /rpc/metrics).';
COMMENT ON COLUMN @extschema@.event_consumer_health.consumer IS 'Consumer name.';
COMMENT ON COLUMN @extschema@.event_consumer_health.acked_id IS 'Every event up to this id is acknowledged.';
COMMENT ON COLUMN @extschema@.event_consumer_health.acked_at IS 'When the consumer last acknowledged.';
COMMENT ON COLUMN @extschema@.event_consumer_health.backlog IS 'Event ids written after acked_id: the events not yet acknowledged (ids of rolled-back writes, gaps, count too).';
COMMENT ON COLUMN @extschema@.event_consumer_health.oldest_unacked_at IS 'When the oldest unacknowledged event was written; null when none waits.';
COMMENT ON COLUMN @extschema@.event_consumer_health.oldest_unacked_age IS 'How long the oldest unacknowledged event has waited; null when none waits.';

-- PostgREST 12 answers a function returning a domain named after a media
-- type under that media type: text/plain; version=0.0.4 is Prometheus'
-- text format, which every scraper's Accept header lists.
CREATE DOMAIN api."text/plain" AS text;
COMMENT ON DOMAIN api."text/plain" IS 'Text PostgREST answers as text/plain (GET /rpc/metrics).';

-- Scraper tokens: each one task_api.metrics_token() signs is a row here
-- (its id is the token's jti), so one can be revoked without rotating
-- task_api.jwt_secret; api.metrics() refuses a token whose row is gone,
-- revoked or expired.
CREATE TABLE @extschema@.scraper_tokens (
    id uuid PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
COMMENT ON TABLE @extschema@.scraper_tokens IS 'One row per scraper token task_api.metrics_token() signed; the id is the token''s jti. Revoke with task_api.revoke_metrics_token(). Never exposed.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.scraper_tokens', '');
ALTER TABLE @extschema@.scraper_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.scraper_tokens FORCE ROW LEVEL SECURITY;
REVOKE ALL ON TABLE @extschema@.scraper_tokens FROM PUBLIC;

CREATE FUNCTION @extschema@.check_scraper_token() RETURNS void
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    jti text := pg_catalog.current_setting('request.jwt.claims', true)::jsonb ->> 'jti';
BEGIN
    IF jti IS NULL OR jti !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
       OR NOT EXISTS (SELECT FROM @extschema@.scraper_tokens t
                       WHERE t.id = jti::uuid AND t.revoked_at IS NULL AND t.expires_at > pg_catalog.now()) THEN
        PERFORM @extschema@.raise_error('unauthenticated', 'this scraper token has been revoked or has expired',
                                        hint => 'Sign a new one with task_api.metrics_token().');
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.check_scraper_token() IS 'Refuse (unauthenticated, 401) a scraper token that task_api.scraper_tokens does not hold live: revoked, expired or never issued; api.metrics() calls it first.';

CREATE FUNCTION api.metrics() RETURNS api."text/plain"
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT @extschema@.check_scraper_token();
    WITH consumers AS (
        SELECT 'consumer="' || pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(h.consumer, '\', '\\'), '"', '\"'), E'\n', '\n') || '"' AS labels,
               h.backlog, h.oldest_unacked_age
          FROM @extschema@.event_consumer_health h
    ), samples AS (
        SELECT m.metric, m.type, m.help, m.labels, m.value::text AS value FROM @extschema@.metrics m
        UNION ALL
        SELECT 'task_api_event_consumer_backlog', 'gauge',
               'Events written after the consumer''s acknowledged position.', c.labels, c.backlog::text
          FROM consumers c
        UNION ALL
        SELECT 'task_api_event_consumer_oldest_unacked_age_seconds', 'gauge',
               'Age of the consumer''s oldest unacknowledged event (0 when none waits).', c.labels,
               coalesce(pg_catalog.round(pg_catalog.date_part('epoch', c.oldest_unacked_age)::numeric, 3), 0)::text
          FROM consumers c
    ), families AS (
        SELECT s.metric,
               pg_catalog.format(E'# HELP %s %s\n# TYPE %s %s\n', s.metric, pg_catalog.min(s.help), s.metric, pg_catalog.min(s.type)) ||
               pg_catalog.string_agg(s.metric || CASE WHEN s.labels = '' THEN '' ELSE '{' || s.labels || '}' END
                                     || ' ' || s.value || E'\n', '' ORDER BY s.labels) AS text
          FROM samples s GROUP BY s.metric
    )
    SELECT pg_catalog.string_agg(f.text, '' ORDER BY f.metric)::api."text/plain" FROM families f
$$;
COMMENT ON FUNCTION api.metrics() IS E'Prometheus metrics (text format 0.0.4, Accept: text/plain) for the scraper role task_api_metrics only: requests, refusals, authentication failures, logins, idempotency outcomes, events, the rate-limit table and each event consumer''s lag.\n\nArguments: none.';

CREATE FUNCTION @extschema@.metrics_token(ttl interval DEFAULT '90 days') RETURNS text
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    issued bigint := floor(extract(epoch FROM now()))::bigint;
    expires bigint;
    token_id uuid := @extschema@.uuidv7();
BEGIN
    IF ttl IS NULL OR ttl <= interval '0' THEN
        RAISE EXCEPTION 'ttl must be a positive interval' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    expires := issued + floor(extract(epoch FROM ttl))::bigint;
    INSERT INTO @extschema@.scraper_tokens (id, expires_at) VALUES (token_id, to_timestamp(expires));
    RETURN @extschema@.jwt_sign(json_build_object(
        'role', 'task_api_metrics', 'iat', issued, 'exp', expires, 'jti', token_id)::text);
END
$$;
COMMENT ON FUNCTION @extschema@.metrics_token(interval) IS 'Superuser only: a bearer token for the Prometheus scraper (role task_api_metrics: GET /rpc/metrics and nothing else), valid for ttl (90 days by default); its jti is its row in task_api.scraper_tokens, for task_api.revoke_metrics_token().';

CREATE FUNCTION @extschema@.revoke_metrics_token(token_id uuid) RETURNS boolean
    LANGUAGE sql VOLATILE STRICT
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH revoked AS (
        UPDATE @extschema@.scraper_tokens SET revoked_at = pg_catalog.now()
         WHERE id = token_id AND revoked_at IS NULL RETURNING id
    )
    SELECT EXISTS (SELECT FROM revoked)
$$;
COMMENT ON FUNCTION @extschema@.revoke_metrics_token(uuid) IS 'Superuser only: end the scraper token whose jti is token_id at once (its next scrape gets 401); true when a live token was revoked. task_api.scraper_tokens lists them.';

CREATE FUNCTION @extschema@.operator_session(user_id uuid) RETURNS json
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s json := @extschema@.start_session(user_id);
    claims jsonb;
BEGIN
    SELECT v.claims::jsonb INTO claims FROM @extschema@.jwt_verify(s ->> 'token') v;
    RETURN json_build_object('user_id', user_id,
        'token', @extschema@.jwt_sign((claims || '{"operator": true}'::jsonb)::text),
        'token_type', 'bearer', 'expires_at', s -> 'expires_at');
END
$$;
COMMENT ON FUNCTION @extschema@.operator_session(uuid) IS 'Superuser only: a new session of the user whose token also carries "operator": true, the only tokens whose requests PostgREST may answer with their query plan (Accept: application/vnd.pgrst.plan+json). It ends like any session (logout, expiry).';

GRANT SELECT ON @extschema@.metrics, @extschema@.event_consumer_health TO pg_monitor;
REVOKE ALL ON FUNCTION @extschema@.metrics_read(), @extschema@.metrics_reset(),
    @extschema@.metrics_count_events(text, bigint), api.metrics(),
    @extschema@.metrics_token(interval), @extschema@.revoke_metrics_token(uuid),
    @extschema@.check_scraper_token(), @extschema@.operator_session(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.metrics_read() TO pg_monitor;
GRANT EXECUTE ON FUNCTION api.metrics() TO task_api_metrics;
GRANT EXECUTE ON FUNCTION @extschema@.check_scraper_token() TO task_api_metrics;
GRANT EXECUTE ON FUNCTION @extschema@.pre_request() TO task_api_metrics;
-- USAGE on the schemas for pg_monitor and task_api_metrics: 90_grants.sql.
