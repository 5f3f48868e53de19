-- Idempotency keys (docs/contract.md §8) -------------------------------------
-- A write that carries Idempotency-Key claims the key in the same transaction
-- as the write (idempotency.c): the key row exists if and only if the write
-- committed.  The same key with the same request replays the stored
-- response; with another request it is idempotency_key_reused (422).

CREATE TABLE @extschema@.idempotency_keys (
    caller_kind text NOT NULL CHECK (caller_kind IN ('user', 'api_key')),
    caller_id   uuid NOT NULL,
    key         text NOT NULL CHECK (pg_catalog.octet_length(key) BETWEEN 1 AND 255),
    -- The user (also when caller_kind is api_key).  No foreign key: keys
    -- expire on their own, and user ids (UUIDv7) are never reused.
    user_id     uuid NOT NULL,
    method      text NOT NULL,
    path        text NOT NULL,
    fingerprint bytea,
    status      smallint,
    response    jsonb,
    etag        text,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (caller_kind, caller_id, key)
);
COMMENT ON TABLE @extschema@.idempotency_keys IS 'Idempotency-Key of each caller (a user, or an API key) and the response of the write it was first sent with.  Never exposed.  A create_api_key response is stored without its key (a replay signs it again).';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.idempotency_keys', '');
COMMENT ON COLUMN @extschema@.idempotency_keys.caller_kind IS 'user (session or cookie) or api_key: keys are scoped to the credential.';
COMMENT ON COLUMN @extschema@.idempotency_keys.caller_id IS 'The user id, or the API key id.';
COMMENT ON COLUMN @extschema@.idempotency_keys.fingerprint IS 'SHA-256 of method, path and the canonical payload (see request_fingerprint()).';
COMMENT ON COLUMN @extschema@.idempotency_keys.status IS 'HTTP status of the original response.';
COMMENT ON COLUMN @extschema@.idempotency_keys.response IS 'What a replay returns: the rows (POST, PATCH) or the function result (RPC); null for a void RPC.';
COMMENT ON COLUMN @extschema@.idempotency_keys.etag IS 'The ETag of the original response, if it had one.';
-- No index on expires_at: every request would pay for it, and the purge
-- (a scheduled job) removes about half of the table each day anyway.
ALTER TABLE @extschema@.idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.idempotency_keys FORCE ROW LEVEL SECURITY;
-- No policies and no grants: only the C code, as the tables' owner and for
-- the request's own caller, reads and writes it.

CREATE FUNCTION @extschema@.request_fingerprint(method text, path text, payload jsonb) RETURNS bytea
    AS 'MODULE_PATHNAME', 'task_api_request_fingerprint' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.request_fingerprint(text, text, jsonb) IS 'SHA-256 of an idempotent request: method, path and a canonical form of the payload in which key order, whitespace, duplicate keys and trailing zeros of numbers (1 = 1.0 = 1e0) make no difference.';

-- INSERT and UPDATE on the API views: four triggers around the write ones.
CREATE FUNCTION @extschema@.idempotency_begin() RETURNS trigger
    AS 'MODULE_PATHNAME', 'task_api_idempotency_begin' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.idempotency_begin() IS 'BEFORE INSERT OR UPDATE FOR EACH STATEMENT on an API view: claims the request''s Idempotency-Key (waits for a concurrent request with the same key).';
CREATE FUNCTION @extschema@.idempotency_row_in() RETURNS trigger
    AS 'MODULE_PATHNAME', 'task_api_idempotency_row_in' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.idempotency_row_in() IS 'First INSTEAD OF row trigger: folds the row into the fingerprint; on a replay, passes the stored row on instead.';
CREATE FUNCTION @extschema@.idempotency_row_out() RETURNS trigger
    AS 'MODULE_PATHNAME', 'task_api_idempotency_row_out' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.idempotency_row_out() IS 'Last INSTEAD OF row trigger: collects the representation the write returned.';
CREATE FUNCTION @extschema@.idempotency_end() RETURNS trigger
    AS 'MODULE_PATHNAME', 'task_api_idempotency_end' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.idempotency_end() IS 'AFTER INSERT OR UPDATE FOR EACH STATEMENT: stores the response with the key, or checks a replay''s fingerprint and adds Idempotent-Replayed: true.';
CREATE FUNCTION @extschema@.idempotent_replay() RETURNS boolean
    AS 'MODULE_PATHNAME', 'task_api_idempotent_replay' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.idempotent_replay() IS 'Whether the current INSERT or UPDATE replays a stored response: the write triggers then return NEW and write nothing.';

-- The mutating RPCs call these first and last.
CREATE FUNCTION @extschema@.idempotency_claim(payload jsonb) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'task_api_idempotency_claim' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.idempotency_claim(jsonb) IS 'Called first by a mutating RPC with its arguments: NULL to go ahead, or {status, body} of the stored response to replay (headers and status already set).';
CREATE FUNCTION @extschema@.idempotency_record(result jsonb) RETURNS void
    AS 'MODULE_PATHNAME', 'task_api_idempotency_record' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.idempotency_record(jsonb) IS 'Called by a mutating RPC just before it returns: stores its result, status and ETag with the claimed key.';

-- Expired keys count as new already; this deletes them (purge_expired() calls it).
CREATE FUNCTION @extschema@.purge_expired_idempotency_keys() RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    gone bigint;
BEGIN
    DELETE FROM @extschema@.idempotency_keys WHERE expires_at <= now();
    GET DIAGNOSTICS gone = ROW_COUNT;
    RETURN gone;
END
$$;
COMMENT ON FUNCTION @extschema@.purge_expired_idempotency_keys() IS 'Delete the idempotency keys past task_api.idempotency_ttl; returns how many. task_api.purge_expired() calls it.';

-- Attaching the protocol to a view: its four triggers, at the stages of
-- view_trigger() (00_core.sql): the key is claimed and each row fingerprinted
-- (or replaced by the stored one) before the view's own triggers (stage 50),
-- and the rows they return are collected and stored after them.
CREATE FUNCTION @extschema@.attach_idempotency(view regclass, events text) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM @extschema@.view_trigger(view, 20, 'idempotency_begin', format('BEFORE %s FOR EACH STATEMENT', events),
                                     '@extschema@.idempotency_begin');
    PERFORM @extschema@.view_trigger(view, 20, 'idempotency_in', format('INSTEAD OF %s FOR EACH ROW', events),
                                     '@extschema@.idempotency_row_in');
    PERFORM @extschema@.view_trigger(view, 90, 'idempotency_out', format('INSTEAD OF %s FOR EACH ROW', events),
                                     '@extschema@.idempotency_row_out');
    PERFORM @extschema@.view_trigger(view, 90, 'idempotency_end', format('AFTER %s FOR EACH STATEMENT', events),
                                     '@extschema@.idempotency_end');
END
$$;
COMMENT ON FUNCTION @extschema@.attach_idempotency(regclass, text) IS 'Make Idempotency-Key work on the writes (events: INSERT, or INSERT OR UPDATE) of an API view: its four triggers, around the view''s own (view_trigger() stages 20 and 90).';

SELECT @extschema@.attach_idempotency('api.projects', 'INSERT OR UPDATE');
SELECT @extschema@.attach_idempotency('api.tasks', 'INSERT OR UPDATE');
-- api.invitations attaches itself (72_invitations.sql).

GRANT EXECUTE ON FUNCTION
    @extschema@.idempotent_replay(),
    @extschema@.idempotency_claim(jsonb),
    @extschema@.idempotency_record(jsonb)
TO task_api_user;
