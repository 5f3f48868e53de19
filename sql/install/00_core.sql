-- task_api install script, assembled at build time from sql/install/*.sql
-- in name order: core, then one file per resource, then grants.

\echo Use "CREATE EXTENSION task_api" to load this file. \quit

-- Roles (cluster-wide, so created only when missing; never dropped with the
-- extension).  PostgREST logs in as task_api_authenticator and switches to
-- task_api_anon or task_api_user for each request.
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'task_api_anon') THEN
        CREATE ROLE task_api_anon NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'task_api_user') THEN
        CREATE ROLE task_api_user NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'task_api_authenticator') THEN
        CREATE ROLE task_api_authenticator LOGIN NOINHERIT;
    END IF;
END
$roles$;
GRANT task_api_anon, task_api_user TO task_api_authenticator;
-- PostgREST applies an impersonated role's settings (ALTER ROLE ... SET) in
-- every request: plan each prepared statement once per connection.  With
-- `LIMIT $1`, PostgreSQL would otherwise keep choosing a custom plan and plan
-- the page query again on every request (docs/performance.md, "Planning").
ALTER ROLE task_api_user SET plan_cache_mode = 'force_generic_plan';

-- Backups: every table that holds state (and the sequence behind an identity
-- column) is marked with pg_extension_config_dump right after it is created,
-- so pg_dump carries its rows; test/pgtap/schema.sql fails if one is missing.
-- Restoring: pg_dump's scripts and pg_restore turn row_security off, and
-- while a superuser session has it off the row triggers load rows exactly as
-- they were dumped (no stamps, no events, no owner membership added):
-- task_api.restoring().

-- The exposed schema: only views and functions PostgREST serves.
CREATE SCHEMA api;
COMMENT ON SCHEMA api IS E'task_api\n\nA task-manager REST API inside PostgreSQL: users, projects, members and tasks, with per-project roles enforced by row-level security. Authenticate with a bearer JWT; errors are JSON objects with a stable code.';

-- Types ------------------------------------------------------------------

-- Declared from least to most privileged, so roles compare with >=.
CREATE TYPE @extschema@.member_role AS ENUM ('viewer', 'editor', 'owner');
COMMENT ON TYPE @extschema@.member_role IS 'A member''s role in a project: viewer reads; editor also writes tasks; owner also manages the project and its members.';

CREATE TYPE @extschema@.task_status AS ENUM ('todo', 'in_progress', 'blocked', 'done', 'cancelled');
COMMENT ON TYPE @extschema@.task_status IS 'Workflow state of a task.';

-- C functions --------------------------------------------------------------

CREATE FUNCTION @extschema@.uuidv7() RETURNS uuid
    AS 'MODULE_PATHNAME', 'task_api_uuidv7' LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.uuidv7() IS 'A new time-ordered UUID (RFC 9562 version 7), monotonic within a session.';

CREATE FUNCTION @extschema@.uuidv7_time(uuid) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'task_api_uuidv7_time' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.uuidv7_time(uuid) IS 'Creation time embedded in a UUIDv7 (millisecond precision); NULL for other UUID versions.';

CREATE FUNCTION @extschema@.status() RETURNS jsonb
    AS 'MODULE_PATHNAME', 'task_api_status' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.status() IS 'Library version, whether it was preloaded, and which settings are set (never their values).';

CREATE FUNCTION @extschema@.restoring() RETURNS boolean
    AS 'MODULE_PATHNAME', 'task_api_restoring' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.restoring() IS 'Whether rows are being restored (a superuser session with row_security off, as pg_restore and pg_dump''s scripts set it): the row triggers then keep rows as they were dumped.';

CREATE FUNCTION @extschema@.raise_error(code text, message text, details text DEFAULT NULL, hint text DEFAULT NULL) RETURNS void
    AS 'MODULE_PATHNAME', 'task_api_raise_error' LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.raise_error(text, text, text, text) IS 'Raise a catalogue error (task_api.error_codes) as PostgREST turns it into HTTP: exact status, {code, message, details, hint} body, and the response headers set so far.';

CREATE FUNCTION @extschema@.append_response_header(name text, value text) RETURNS void
    AS 'MODULE_PATHNAME', 'task_api_append_header' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.append_response_header(text, text) IS 'Add an HTTP response header for this request, keeping the headers already set (response.headers).';

CREATE FUNCTION @extschema@.error_catalogue(OUT code text, OUT status integer, OUT description text) RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'task_api_error_catalogue' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.error_catalogue() IS 'The error catalogue compiled into the library.';

CREATE VIEW @extschema@.error_codes AS
    SELECT code, status, description FROM @extschema@.error_catalogue();
COMMENT ON VIEW @extschema@.error_codes IS 'Every error code the API raises, with its HTTP status.';

CREATE FUNCTION @extschema@.current_user_id() RETURNS uuid
    AS 'MODULE_PATHNAME', 'task_api_current_user_id' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.current_user_id() IS 'The caller''s user id (the sub claim of the request''s JWT), or NULL when anonymous.';

CREATE FUNCTION @extschema@.request_header(name text) RETURNS text
    AS 'MODULE_PATHNAME', 'task_api_request_header' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.request_header(text) IS 'A header of the current PostgREST request, matched case-insensitively.';

CREATE FUNCTION @extschema@.request_cookie(name text) RETURNS text
    AS 'MODULE_PATHNAME', 'task_api_request_cookie' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.request_cookie(text) IS 'A cookie of the current PostgREST request.';

CREATE FUNCTION @extschema@.request_claim(name text) RETURNS text
    AS 'MODULE_PATHNAME', 'task_api_request_claim' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.request_claim(text) IS 'A claim of the current request''s JWT, as text.';

CREATE FUNCTION @extschema@.pre_request() RETURNS void
    AS 'MODULE_PATHNAME', 'task_api_pre_request' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.pre_request() IS 'The request gate as PostgREST''s db-pre-request, needed only when the library is not preloaded: timeouts, rate limit, in-flight slot, then the caller''s identity. Does nothing in a request the preloaded library''s gate has checked (docs/operations.md#the-request-gate).';

CREATE FUNCTION @extschema@.stamp_row() RETURNS trigger
    AS 'MODULE_PATHNAME', 'task_api_stamp_row' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.stamp_row() IS 'BEFORE INSERT OR UPDATE row trigger: stamp_row(updated_at_col, version_col [, status_col, done_value, completed_at_col]) maintains updated_at, version and completed_at.';

CREATE FUNCTION @extschema@.check_if_match(version integer) RETURNS void
    AS 'MODULE_PATHNAME', 'task_api_check_if_match' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.check_if_match(integer) IS 'Compare the request''s If-Match with a row''s version: precondition_failed (412) on a mismatch, invalid_parameter (400) when malformed; nothing without If-Match.';

CREATE FUNCTION @extschema@.note_etag(version integer) RETURNS void
    AS 'MODULE_PATHNAME', 'task_api_note_etag' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.note_etag(integer) IS 'Note a row written by this statement: a response for exactly one row carries ETag: "<version>".';

-- Validation helpers --------------------------------------------------------

-- One {field, problem} entry of a validation_failed details array.
CREATE FUNCTION @extschema@.problem(field text, problem text) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('field', field, 'problem', problem));
COMMENT ON FUNCTION @extschema@.problem(text, text) IS 'A one-element validation_failed details array: [{field, problem}].';

-- What is wrong with a required, trimmed text of 1..max characters, if anything.
-- STABLE like format(), so that the planner inlines it into callers.
CREATE FUNCTION @extschema@.text_problem(value text, max_chars integer, required boolean) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN CASE
        WHEN value IS NULL THEN CASE WHEN required THEN 'is required' END
        WHEN pg_catalog.char_length(value) > max_chars THEN pg_catalog.format('must be at most %s characters', max_chars)
        WHEN required AND pg_catalog.btrim(value, E' \t\r\n') = '' THEN 'must not be blank'
    END;
COMMENT ON FUNCTION @extschema@.text_problem(text, integer, boolean) IS 'The problem with a text field (NULL when valid): required, at most max_chars, not blank.';

-- Raise validation_failed if any problem was collected.
CREATE FUNCTION @extschema@.check_problems(what text, problems jsonb) RETURNS void
    LANGUAGE plpgsql VOLATILE PARALLEL SAFE
AS $$
BEGIN
    IF problems IS NOT NULL AND problems OPERATOR(pg_catalog.<>) '[]'::jsonb THEN
        PERFORM @extschema@.raise_error('validation_failed', pg_catalog.format('%s is invalid', what), problems::text,
            'details lists every field with a problem');
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.check_problems(text, jsonb) IS 'Raise validation_failed (422) with every collected {field, problem} when there is any.';

-- The server-owned fields a write tried to set, as {field, problem} entries
-- in the order of fields: on INSERT (old_row NULL) each one given, on UPDATE
-- each one changed.  notes ({field: text}) adds to a field's problem.
CREATE FUNCTION @extschema@.server_set_problems(new_row jsonb, old_row jsonb, fields text[], notes jsonb DEFAULT '{}')
    RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('field', f.name, 'problem',
                       'is set by the server' OPERATOR(pg_catalog.||) coalesce('; ' OPERATOR(pg_catalog.||) (notes OPERATOR(pg_catalog.->>) f.name), ''))
                       ORDER BY f.i), '[]')
              FROM pg_catalog.unnest(fields) WITH ORDINALITY AS f(name, i)
             WHERE CASE WHEN old_row IS NULL THEN (new_row OPERATOR(pg_catalog.->) f.name) OPERATOR(pg_catalog.<>) 'null'
                        ELSE (new_row OPERATOR(pg_catalog.->) f.name) IS DISTINCT FROM (old_row OPERATOR(pg_catalog.->) f.name) END);
COMMENT ON FUNCTION @extschema@.server_set_problems(jsonb, jsonb, text[], jsonb) IS 'The validation_failed entries {field, problem: is set by the server} of the server-owned fields a write sets: given on INSERT (old_row NULL), changed on UPDATE.';

-- Triggers on the API views ---------------------------------------------------
-- PostgreSQL fires the triggers of one kind (BEFORE, INSTEAD OF or AFTER; row
-- or statement) in the order of their names.  Every trigger on an api view is
-- made by view_trigger(), which names it <view>_<stage>_<what>, so that it
-- fires by its two-digit stage:
--   10  bounds: bulk_rows refuses a statement past max_bulk_rows (76_bounds.sql)
--   20  idempotency going in: claim the key, fingerprint or replay each row
--       (70_idempotency.sql)
--   50  the view's own triggers: insert, update, delete, insert_flush
--   90  idempotency going out: collect the rows written, store the response
-- A mechanism attaches itself to a view with one helper (attach_bounds(),
-- attach_idempotency()); test/pgtap/trigger_order.sql checks the order of
-- every view's triggers.
CREATE FUNCTION @extschema@.view_trigger(view regclass, stage integer, what text, fires text, fn regproc) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- {timing and events, level} of one of the fixed forms.
    parts text[] := regexp_match(fires,
        '^((?:BEFORE|AFTER|INSTEAD OF) (?:INSERT|UPDATE|DELETE)(?: OR (?:INSERT|UPDATE|DELETE))*) FOR EACH (ROW|STATEMENT)$');
BEGIN
    IF stage NOT BETWEEN 10 AND 99 OR what !~ '^[a-z_]+$' OR parts IS NULL THEN
        RAISE EXCEPTION 'view_trigger: stage %, what "%", fires "%" do not follow 00_core.sql', stage, what, fires
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    EXECUTE format('CREATE TRIGGER %I %s ON %s FOR EACH %s EXECUTE FUNCTION %s()',
                   format('%s_%s_%s', (SELECT c.relname FROM pg_class c WHERE c.oid = view), stage, what),
                   parts[1], view, parts[2], fn);
END
$$;
COMMENT ON FUNCTION @extschema@.view_trigger(regclass, integer, text, text, regproc) IS 'Create a trigger on an API view named <view>_<stage>_<what>: fires is e.g. INSTEAD OF INSERT FOR EACH ROW; triggers of one kind fire by stage (10 bounds, 20 idempotency in, 50 the view''s own, 90 idempotency out).';

-- Privileges ------------------------------------------------------------------
-- (90_grants.sql takes everything from PUBLIC.)  Every request runs the hook
-- and may read the error catalogue; users run the helpers their views'
-- triggers call.
GRANT EXECUTE ON FUNCTION @extschema@.pre_request() TO task_api_anon, task_api_user;
GRANT SELECT ON @extschema@.error_codes TO task_api_anon, task_api_user;
GRANT EXECUTE ON FUNCTION @extschema@.error_catalogue() TO task_api_anon, task_api_user;
GRANT EXECUTE ON FUNCTION
    @extschema@.uuidv7(),
    @extschema@.uuidv7_time(uuid),
    @extschema@.current_user_id(),
    @extschema@.request_header(text),
    @extschema@.request_cookie(text),
    @extschema@.request_claim(text),
    @extschema@.raise_error(text, text, text, text),
    @extschema@.problem(text, text),
    @extschema@.text_problem(text, integer, boolean),
    @extschema@.check_problems(text, jsonb),
    @extschema@.server_set_problems(jsonb, jsonb, text[], jsonb),
    @extschema@.check_if_match(integer),
    @extschema@.note_etag(integer)
TO task_api_user;
