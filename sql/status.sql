-- task_api.status(): version, preloading, which settings are set (never values)

-- The library's version is the one task_api.control names.
SELECT task_api.status() ->> 'version' = (SELECT default_version FROM pg_available_extensions WHERE name = 'task_api') AS version_is_current,
       task_api.status() -> 'preloaded' AS preloaded;
SELECT jsonb_object_keys(task_api.status() -> 'settings') AS setting ORDER BY 1;
-- The values never appear.
SELECT position(current_setting('task_api.jwt_secret') IN task_api.status()::text) = 0 AS secret_not_shown;

-- Secrets are superuser-only and hidden from SHOW ALL.
SELECT name FROM pg_settings WHERE name LIKE 'task_api.%' ORDER BY name;
SET ROLE task_api_user;
SHOW task_api.jwt_secret;
SELECT current_setting('task_api.cursor_secret');
SELECT task_api.status() ->> 'version' AS version_for_user;
RESET ROLE;
-- Unknown settings under the reserved prefix are refused.
SET task_api.no_such_setting = 1;
