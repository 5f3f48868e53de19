-- Privileges ------------------------------------------------------------------
-- Least privilege: nothing for PUBLIC; anonymous callers may only run the
-- pre-request hook, signup and login; authenticated users get exactly what
-- the API needs.  task_api_user reaches the task_api tables only through the
-- security-invoker api views and their triggers, under row-level security.
-- Each file grants what it defines; this one, last, holds what is global:
-- nothing for PUBLIC on anything the files before it made, the schemas and
-- the types.

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA api FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA api FROM PUBLIC;

GRANT USAGE ON SCHEMA api TO task_api_anon, task_api_user;
GRANT USAGE ON SCHEMA @extschema@ TO task_api_anon, task_api_user;
-- Monitoring (87_monitoring.sql): last, as the update to 0.2.0 adds them.
GRANT USAGE ON SCHEMA @extschema@ TO pg_monitor;
GRANT USAGE ON SCHEMA api, @extschema@ TO task_api_metrics;
GRANT USAGE ON TYPE @extschema@.member_role, @extschema@.task_status TO task_api_user;
