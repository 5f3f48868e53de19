-- Rolling-upgrade benchmark fill (scripts/bench-upgrade.sh; a database with
-- task_api 0.1.0 and the current library, run as the superuser).
--
-- :users users, :projects projects with 10 members each (1 owner, 6 editors,
-- 3 viewers; every user is in about 10 * projects / users projects) and
-- :tasks tasks spread round-robin over the projects, loaded as a restore
-- would: the secondary indexes of task_api.tasks are dropped and built again
-- afterwards, the rows go in with session_replication_role = replica (no
-- triggers, no foreign-key checks), so every value the triggers would set is
-- given here and the rows are made valid by construction (the runner checks
-- them afterwards with bench/upgrade_check.sql).  No events are made.
--
-- bench.targets lists (task, editor of its project) pairs for the writer:
-- every live task outside project 1, whose first live task
-- (bench.blocker) is left to scenario B's long transaction.
-- psql variables: users, projects, tasks.

\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET maintenance_work_mem = '512MB';

CREATE SCHEMA bench;
GRANT USAGE ON SCHEMA bench TO PUBLIC;

-- Member k (0 = owner, 1..6 editors, 7..9 viewers) of project p is user
-- 1 + ((p - 1) * 7 + k * (users / 10)) % users: ten different users.
CREATE TABLE bench.users (n integer PRIMARY KEY, id uuid NOT NULL);
CREATE TABLE bench.projects (p integer PRIMARY KEY, id uuid NOT NULL);
CREATE TABLE bench.members (p integer, k integer, user_id uuid NOT NULL, role task_api.member_role NOT NULL,
                            PRIMARY KEY (p, k));

INSERT INTO bench.users SELECT g, task_api.uuidv7() FROM generate_series(1, :users) AS g;
INSERT INTO bench.projects SELECT g, task_api.uuidv7() FROM generate_series(1, :projects) AS g;
INSERT INTO bench.members
SELECT p.p, k, u.id, CASE WHEN k = 0 THEN 'owner' WHEN k <= 6 THEN 'editor' ELSE 'viewer' END::task_api.member_role
  FROM bench.projects p CROSS JOIN generate_series(0, 9) AS k
  JOIN bench.users u ON u.n = 1 + ((p.p - 1) * 7 + k * (:users / 10)) % :users;

SET session_replication_role = replica;

INSERT INTO task_api.users (id, email, display_name, created_at)
SELECT id, 'user' || n || '@bench.invalid', 'Bench user ' || n,
       now() - interval '2 years' + n * interval '1 minute'
  FROM bench.users;

INSERT INTO task_api.projects (id, name, description, owner_id, created_at, updated_at, version)
SELECT p.id, 'Project ' || p.p, CASE WHEN p.p % 2 = 0 THEN 'Benchmark project number ' || p.p END, m.user_id,
       now() - interval '1 year' - interval '1 day' + p.p * interval '1 minute',
       now() - interval '1 year' - interval '1 day' + p.p * interval '1 minute', 1
  FROM bench.projects p JOIN bench.members m ON m.p = p.p AND m.k = 0;

INSERT INTO task_api.project_members (project_id, user_id, role, added_at)
SELECT p.id, m.user_id, m.role, now() - interval '1 year' + p.p * interval '1 minute' + m.k * interval '1 hour'
  FROM bench.members m JOIN bench.projects p USING (p);

-- As a restore does: the secondary indexes go, and come back after the load.
CREATE TABLE bench.tasks_indexes AS
    SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE i.indrelid = 'task_api.tasks'::regclass AND NOT i.indisprimary;
DO $$
DECLARE
    n text;
BEGIN
    FOR n IN SELECT name FROM bench.tasks_indexes LOOP
        EXECUTE format('DROP INDEX task_api.%I', n);
    END LOOP;
END
$$;

-- Task g belongs to project 1 + (g - 1) % projects, was created by its
-- owner or an editor (k = g % 7), is assigned to one of its members 4 times
-- in 5, was created over the last year in g order, changed version - 1
-- times (5 hours apart), is done (completed) 1 time in 5 and in the trash
-- 1 time in 50.
INSERT INTO task_api.tasks (id, project_id, assignee_id, title, description, status, priority, due_date,
                            created_by, created_at, updated_at, completed_at, version, deleted_at, deleted_by)
SELECT task_api.uuidv7(), p.id, a.user_id, 'Task ' || g || ' of project ' || p.p,
       CASE WHEN g % 3 = 0 THEN 'Benchmark task number ' || g || ': something to do in project ' || p.p || ', described in a sentence or two.' END,
       s.status, (g % 5)::smallint, CASE WHEN g % 2 = 0 THEN (x.created_at + (g % 90) * interval '1 day')::date END,
       c.user_id, x.created_at, x.updated_at, CASE WHEN s.status = 'done' THEN x.updated_at END, x.version,
       CASE WHEN g % 50 = 0 THEN x.updated_at END, CASE WHEN g % 50 = 0 THEN c.user_id END
  FROM generate_series(1, :tasks) AS g
  JOIN bench.projects p ON p.p = 1 + (g - 1) % :projects
  JOIN bench.members c ON c.p = p.p AND c.k = g % 7
  LEFT JOIN bench.members a ON a.p = p.p AND a.k = (g / 7) % 10 AND g % 5 <> 0
  CROSS JOIN LATERAL (SELECT (ARRAY['todo', 'in_progress', 'blocked', 'done', 'cancelled']::task_api.task_status[])[1 + (g / 3) % 5] AS status) AS s
  CROSS JOIN LATERAL (
      SELECT ct AS created_at, least(ct + (g % 4) * interval '5 hours', now()) AS updated_at, 1 + g % 4 AS version
        FROM (SELECT now() - interval '1 year' + (g::float8 / :tasks) * interval '1 year' - interval '1 day' AS ct) AS t) AS x;

RESET session_replication_role;

DO $$
DECLARE
    d text;
BEGIN
    FOR d IN SELECT def FROM bench.tasks_indexes LOOP
        EXECUTE d;
    END LOOP;
END
$$;

-- The writer's targets, and the task scenario B's long transaction holds.
CREATE TABLE bench.targets (n integer PRIMARY KEY, task_id uuid NOT NULL, user_id uuid NOT NULL);
INSERT INTO bench.targets
SELECT row_number() OVER (), t.id, m.user_id
  FROM task_api.tasks t
  JOIN bench.projects p ON p.id = t.project_id
  JOIN bench.members m ON m.p = p.p AND m.k = 1 + abs(hashtext(t.id::text)) % 6
 WHERE t.deleted_at IS NULL AND p.p > 1;
CREATE TABLE bench.blocker AS
SELECT t.id AS task_id, m.user_id
  FROM task_api.tasks t
  JOIN bench.projects p ON p.id = t.project_id
  JOIN bench.members m ON m.p = p.p AND m.k = 1
 WHERE p.p = 1 AND t.deleted_at IS NULL
 ORDER BY t.id LIMIT 1;
GRANT SELECT ON ALL TABLES IN SCHEMA bench TO PUBLIC;
