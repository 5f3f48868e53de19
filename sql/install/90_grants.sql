-- Privileges ------------------------------------------------------------------
-- Least privilege: nothing for PUBLIC; anonymous callers may only run the
-- pre-request hook; authenticated users get exactly what the API needs.
-- task_api_user reaches the task_api tables only through the security-invoker
-- api views and their triggers, under the row-level security above.

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA api FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA api FROM PUBLIC;

GRANT USAGE ON SCHEMA api TO task_api_anon, task_api_user;
GRANT USAGE ON SCHEMA @extschema@ TO task_api_anon, task_api_user;
GRANT USAGE ON TYPE @extschema@.member_role, @extschema@.task_status TO task_api_user;

GRANT EXECUTE ON FUNCTION @extschema@.pre_request() TO task_api_anon, task_api_user;
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
    @extschema@.member_project_ids(@extschema@.member_role),
    @extschema@.project_role(uuid),
    @extschema@.has_project_role(uuid, @extschema@.member_role),
    @extschema@.project_problems(text, text),
    @extschema@.check_project_name(uuid, text, uuid),
    @extschema@.task_rule(text),
    @extschema@.task_problems(api.tasks),
    @extschema@.own_email(uuid),
    @extschema@.check_if_match(integer),
    @extschema@.note_etag(integer)
TO task_api_user;

-- Tables behind the views.  Users: no password hash and no email (the
-- caller's own comes through own_email()), and only display_name is writable.
GRANT SELECT (id, display_name, created_at), UPDATE (display_name)
    ON @extschema@.users TO task_api_user;
-- Column-level INSERT and UPDATE: only what the API's triggers write, so
-- server-owned columns (owner_id, stamps, ...) cannot be set even by SQL
-- that reaches the tables directly.  tasks.id is insertable because the
-- insert trigger generates it (a UUIDv7) before the set-based insert;
-- created_by is pinned to the caller by the insert policy.  The owner hand-off and the
-- stamp trigger run with the table owner's rights.
GRANT SELECT, DELETE ON @extschema@.projects, @extschema@.project_members, @extschema@.tasks TO task_api_user;
GRANT INSERT (name, description, owner_id), UPDATE (name, description, deleted_at, deleted_by)
    ON @extschema@.projects TO task_api_user;
-- No INSERT on project_members: members join through accept_invitation()
-- (72_invitations.sql).
GRANT UPDATE (role) ON @extschema@.project_members TO task_api_user;
GRANT INSERT (id, project_id, assignee_id, title, description, status, priority, due_date, created_by),
      UPDATE (project_id, assignee_id, title, description, status, priority, due_date,
              deleted_at, deleted_by, deleted_with_project)
    ON @extschema@.tasks TO task_api_user;

-- Authentication: signup and login for everybody; the rest for users.
GRANT EXECUTE ON FUNCTION api.signup(text, text, text), api.login(text, text)
    TO task_api_anon, task_api_user;
GRANT EXECUTE ON FUNCTION api.logout(), api.create_api_key(text, timestamptz) TO task_api_user;
GRANT EXECUTE ON FUNCTION api.change_password(text, text), api.logout_all() TO task_api_user;
GRANT SELECT (id, name, created_at, expires_at, revoked_at, last_used_at, user_id), UPDATE (revoked_at)
    ON @extschema@.api_keys TO task_api_user;
GRANT SELECT, DELETE ON api.api_keys TO task_api_user;

-- The trash.
GRANT SELECT ON api.trash TO task_api_user;
GRANT EXECUTE ON FUNCTION
    @extschema@.trash_retention(),
    @extschema@.trashed_task(uuid),
    api.restore_task(uuid), api.restore_project(uuid), api.purge_task(uuid), api.purge_project(uuid)
TO task_api_user;

-- The API.
GRANT SELECT, UPDATE ON api.users TO task_api_user;
GRANT SELECT, INSERT, UPDATE, DELETE ON api.projects, api.project_members, api.tasks TO task_api_user;
GRANT SELECT ON @extschema@.error_codes TO task_api_anon, task_api_user;
GRANT EXECUTE ON FUNCTION @extschema@.error_catalogue() TO task_api_anon, task_api_user;
