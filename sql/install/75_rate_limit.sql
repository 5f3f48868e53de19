-- Rate limiting (SPEC section 7) ---------------------------------------------
-- The limiter itself lives in shared memory and is called by pre_request();
-- these are the operators' functions (status, reset, charge) and the GCRA step for tests.  Nothing
-- here is for PUBLIC: status for superusers and pg_monitor, reset and charge
-- for superusers only (also checked in C), the GCRA step for the owner.

CREATE FUNCTION @extschema@.rate_limit_status(kind text, key text DEFAULT NULL,
        OUT policy text, OUT quota integer, OUT window_seconds integer, OUT burst integer,
        OUT remaining bigint, OUT reset_seconds bigint, OUT tracked boolean)
    RETURNS record
    AS 'MODULE_PATHNAME', 'task_api_rate_limit_status' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.rate_limit_status(text, text) IS 'One rate-limit bucket, without charging it: kind anon (key NULL: the shared anonymous bucket, or a client address), user or api_key (key: the UUID). remaining is NULL when the kind is unlimited; a bucket not tracked is full.';

CREATE FUNCTION @extschema@.rate_limit_reset(kind text DEFAULT NULL, key text DEFAULT NULL) RETURNS bigint
    AS 'MODULE_PATHNAME', 'task_api_rate_limit_reset' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.rate_limit_reset(text, text) IS 'Superuser only: forget rate-limit buckets (all of them, every bucket of a kind, or one), so they are full again; returns how many were tracked.';

CREATE FUNCTION @extschema@.rate_limit_charge(kind text, key text DEFAULT NULL,
        OUT allowed boolean, OUT remaining bigint, OUT reset_seconds bigint, OUT retry_after_seconds bigint)
    RETURNS record
    AS 'MODULE_PATHNAME', 'task_api_rate_limit_charge' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.rate_limit_charge(text, text) IS 'Superuser only: charge one request to a bucket (named as in rate_limit_status) exactly as pre_request() does, without raising when it is refused.';

CREATE FUNCTION @extschema@.rate_limit_gcra(tat bigint, now bigint, per_minute integer, burst integer,
        OUT allowed boolean, OUT new_tat bigint, OUT remaining bigint, OUT reset_ns bigint,
        OUT retry_after_ns bigint, OUT reset_seconds bigint, OUT retry_after_seconds bigint)
    RETURNS record
    AS 'MODULE_PATHNAME', 'task_api_rate_limit_gcra' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rate_limit_gcra(bigint, bigint, integer, integer) IS 'The limiter''s GCRA step with the clock passed in (times in ns; tat 0 is a new bucket), for tests: it touches no bucket.';

REVOKE ALL ON FUNCTION @extschema@.rate_limit_status(text, text),
    @extschema@.rate_limit_reset(text, text),
    @extschema@.rate_limit_charge(text, text),
    @extschema@.rate_limit_gcra(bigint, bigint, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.rate_limit_status(text, text) TO pg_monitor;
