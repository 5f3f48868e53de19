-- task_api: what to run BEFORE `ALTER EXTENSION task_api UPDATE`, while the
-- API keeps serving (docs/operations.md, "Upgrading").  It builds, with
-- CREATE INDEX CONCURRENTLY (no lock that blocks writers), every index that
-- an upgrade step adds to a table that may be big; the upgrade step then
-- finds the index and only creates it if it is missing.  Run it with psql,
-- outside a transaction, as a superuser, on each database with task_api:
--
--   psql -d DB -v ON_ERROR_STOP=1 -f "$(pg_config --sharedir)/extension/task_api_prepare_upgrade.sql"
--
-- It is safe to run more than once and on any installed version.  An index
-- a failed or cancelled run left INVALID is dropped (concurrently) and built
-- again.  test/upgrade/upgrade.sh checks that after this script no upgrade
-- step builds an index on a table that existed before the update.
--
-- Each index is one block:
--
--   -- <version>: <why the index>
--   SELECT coalesce((SELECT NOT i.indisvalid FROM pg_catalog.pg_index i
--                     WHERE i.indexrelid = pg_catalog.to_regclass('task_api.<name>')), false) AS invalid \gset
--   \if :invalid
--     DROP INDEX CONCURRENTLY task_api.<name>;
--   \endif
--   CREATE INDEX CONCURRENTLY IF NOT EXISTS <name> ON task_api.<table> (...);
--
-- and the upgrade step creates the index only if it is missing (a plain
-- CREATE INDEX IF NOT EXISTS would take a SHARE lock on the table anyway):
--
--   DO $$ BEGIN
--       IF pg_catalog.to_regclass('@extschema@.<name>') IS NULL THEN
--           CREATE INDEX <name> ON @extschema@.<table> (...);
--       END IF;
--   END $$;

\set ON_ERROR_STOP on
SELECT pg_catalog.current_setting('server_version_num')::integer >= 150000 AS supported \gset
\if :supported
\else
  \echo 'task_api needs PostgreSQL 15'
  \quit
\endif
SELECT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'task_api') AS installed,
       (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'task_api') AS version \gset
\if :installed
  \echo 'task_api' :version 'is installed: building the indexes of later versions that are missing'
\else
  \echo 'task_api is not installed in this database: nothing to prepare'
  \quit
\endif

-- An index that exists is skipped quietly (no NOTICE on a second run).
SET client_min_messages = warning;

-- 0.2.0: GET /tasks ordered by created_at over all the caller's projects reads only the page
SELECT coalesce((SELECT NOT i.indisvalid FROM pg_catalog.pg_index i
                  WHERE i.indexrelid = pg_catalog.to_regclass('task_api.tasks_live_created_idx')), false) AS invalid \gset
\if :invalid
  DROP INDEX CONCURRENTLY task_api.tasks_live_created_idx;
\endif
CREATE INDEX CONCURRENTLY IF NOT EXISTS tasks_live_created_idx ON task_api.tasks (created_at DESC, id DESC)
    WHERE deleted_at IS NULL;

\echo 'done: now run ALTER EXTENSION task_api UPDATE'
