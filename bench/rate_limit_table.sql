-- The baseline for the rate-limit benchmark: the limiter a user would write
-- without task_api, GCRA over an UNLOGGED table with one upsert per check
-- (INSERT ... ON CONFLICT DO UPDATE ... RETURNING).  Returns true when the
-- request is admitted, NULL when it is refused (the conditional update
-- returns no row).  Same arithmetic as task_api's limiter: emission interval
-- 60 s / per_minute, room for burst requests at once.
CREATE SCHEMA IF NOT EXISTS bench;

CREATE UNLOGGED TABLE bench.rate_buckets (
    key text PRIMARY KEY,
    tat timestamptz NOT NULL
);

CREATE FUNCTION bench.table_limiter(k text, per_minute integer, burst integer) RETURNS boolean
LANGUAGE sql AS $$
    INSERT INTO bench.rate_buckets AS b (key, tat)
    VALUES (k, clock_timestamp() + make_interval(secs => 60.0 / per_minute))
    ON CONFLICT (key) DO UPDATE
       SET tat = greatest(b.tat, clock_timestamp()) + make_interval(secs => 60.0 / per_minute)
     WHERE greatest(b.tat, clock_timestamp()) + make_interval(secs => 60.0 / per_minute)
           <= clock_timestamp() + make_interval(secs => burst * 60.0 / per_minute)
    RETURNING true
$$;
