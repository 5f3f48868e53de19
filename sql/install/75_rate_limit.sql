-- Rate limiting (docs/contract.md §7) ----------------------------------------
-- The limiter itself lives in shared memory and is called by pre_request();
-- these are the operators' functions (status, reset, charge) and the GCRA step for tests.  Nothing
-- here is for PUBLIC: status for superusers and pg_monitor, reset and charge
-- for superusers only (also checked in C), the GCRA step for the owner.

CREATE FUNCTION @extschema@.rate_limit_status(kind text, key text DEFAULT NULL,
        OUT policy text, OUT quota integer, OUT window_seconds integer, OUT burst integer,
        OUT remaining bigint, OUT reset_seconds bigint, OUT tracked boolean)
    RETURNS record
    AS 'MODULE_PATHNAME', 'task_api_rate_limit_status' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.rate_limit_status(text, text) IS 'One rate-limit bucket, without charging it: kind anon or login (key NULL: the shared anonymous or login bucket, or a client address), user or api_key (key: the UUID). remaining is NULL when the kind is unlimited; a bucket not tracked is full.';

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

-- Per-account backoff after failed logins (login_throttle.c): api.login
-- calls the first three; state in shared memory, keyed by an HMAC of the
-- normalised email, the same for known and unknown emails.
CREATE FUNCTION @extschema@.login_throttle(email text) RETURNS void
    AS 'MODULE_PATHNAME', 'task_api_login_throttle' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.login_throttle(text) IS 'Before a login verifies a password: charge the login bucket if pre_request() did not, and refuse (429 rate_limited, Retry-After) while the email backs off after failed logins.';

CREATE FUNCTION @extschema@.login_failed(email text) RETURNS void
    AS 'MODULE_PATHNAME', 'task_api_login_failed' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.login_failed(text) IS 'Count a failed login for the email; past task_api.login_max_failures its logins back off (task_api.login_backoff, doubling up to task_api.login_backoff_max).';

CREATE FUNCTION @extschema@.login_succeeded(email text) RETURNS void
    AS 'MODULE_PATHNAME', 'task_api_login_succeeded' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.login_succeeded(text) IS 'Forget the email''s failed logins after a successful one.';

CREATE FUNCTION @extschema@.login_throttle_reset(email text DEFAULT NULL) RETURNS bigint
    AS 'MODULE_PATHNAME', 'task_api_login_throttle_reset' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.login_throttle_reset(text) IS 'Superuser only: forget the failed logins of one email (or of every email when NULL); returns how many were tracked.';

REVOKE ALL ON FUNCTION @extschema@.login_throttle(text), @extschema@.login_failed(text),
    @extschema@.login_succeeded(text), @extschema@.login_throttle_reset(text) FROM PUBLIC;

REVOKE ALL ON FUNCTION @extschema@.rate_limit_status(text, text),
    @extschema@.rate_limit_reset(text, text),
    @extschema@.rate_limit_charge(text, text),
    @extschema@.rate_limit_gcra(bigint, bigint, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.rate_limit_status(text, text) TO pg_monitor;
