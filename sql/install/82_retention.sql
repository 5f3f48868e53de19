-- Retention: task_api.purge_expired() keeps events, sessions and API keys bounded.
-- Events go once they are older than task_api.events_retention and every
-- registered consumer (task_api.event_consumers) has acknowledged them; with
-- no consumer registered, age alone decides.  They are deleted in batches of
-- ids (the primary key, in order): a delete takes only row locks on rows no
-- writer touches, so inserts of new events never wait.  Sessions past their
-- expiry and API keys revoked or expired, longer than
-- task_api.credentials_grace ago, are deleted by the same call.

CREATE FUNCTION @extschema@.purge_expired_events(batch_size integer DEFAULT 10000, max_batches integer DEFAULT NULL)
    RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cutoff timestamptz := pg_catalog.now() - pg_catalog.current_setting('task_api.events_retention')::interval;
    bound bigint;
    last_id bigint := 0;
    batch_max bigint;
    n bigint;
    total bigint := 0;
    batches integer := 0;
BEGIN
    IF batch_size IS NULL OR batch_size NOT BETWEEN 1 AND 1000000 OR max_batches < 1 THEN
        RAISE EXCEPTION 'batch_size must be 1 to 1000000 and max_batches at least 1'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- What every registered consumer has acknowledged (no consumer: no bound).
    SELECT pg_catalog.min(c.acked_id) INTO bound FROM @extschema@.event_consumers c;
    bound := coalesce(bound, 9223372036854775807);
    LOOP
        EXIT WHEN max_batches IS NOT NULL AND batches >= max_batches;
        WITH doomed AS (
            SELECT e.id FROM @extschema@.events e
             WHERE e.id > last_id AND e.id <= bound AND e.occurred_at < cutoff
             ORDER BY e.id LIMIT batch_size
        ), gone AS (
            DELETE FROM @extschema@.events e USING doomed d WHERE e.id = d.id RETURNING e.id
        )
        SELECT pg_catalog.count(*), pg_catalog.max(g.id) INTO n, batch_max FROM gone g;
        total := total + n;
        batches := batches + 1;
        EXIT WHEN n < batch_size;
        last_id := batch_max;
    END LOOP;
    RETURN total;
END
$$;
COMMENT ON FUNCTION @extschema@.purge_expired_events(integer, integer) IS E'Delete the events older than task_api.events_retention that every registered consumer has acknowledged (all of them past that age when no consumer is registered), in id order, batch_size rows a statement; returns how many. max_batches stops early (NULL: until none is left): call it in a loop, one transaction a call, to purge a large backlog in short transactions. task_api.purge_expired() calls it.\n\nArguments:\nbatch_size: rows deleted per statement (1 to 1000000, default 10000).\nmax_batches: most statements this call runs (NULL, the default: no limit).';

CREATE FUNCTION @extschema@.purge_expired_credentials() RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cutoff timestamptz := pg_catalog.now() - pg_catalog.current_setting('task_api.credentials_grace')::interval;
    sessions_purged bigint;
    keys_purged bigint;
    scrapers_purged bigint;
BEGIN
    -- A session or key that is gone is refused exactly as an expired or
    -- revoked one (pre_request() finds no row).
    DELETE FROM @extschema@.sessions s WHERE s.expires_at < cutoff OR s.revoked_at < cutoff;
    GET DIAGNOSTICS sessions_purged = ROW_COUNT;
    DELETE FROM @extschema@.api_keys k WHERE k.expires_at < cutoff OR k.revoked_at < cutoff;
    GET DIAGNOSTICS keys_purged = ROW_COUNT;
    DELETE FROM @extschema@.scraper_tokens t WHERE t.expires_at < cutoff OR t.revoked_at < cutoff;
    GET DIAGNOSTICS scrapers_purged = ROW_COUNT;
    RETURN sessions_purged + keys_purged + scrapers_purged;
END
$$;
COMMENT ON FUNCTION @extschema@.purge_expired_credentials() IS 'Delete the sessions expired or revoked, the API keys and the scraper tokens revoked or expired, longer than task_api.credentials_grace ago; returns how many. task_api.purge_expired() calls it.';

REVOKE ALL ON FUNCTION @extschema@.purge_expired_events(integer, integer),
    @extschema@.purge_expired_credentials() FROM PUBLIC;
