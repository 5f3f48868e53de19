-- Benchmark 2 setup (database bench_api, run as the superuser).
-- :projects projects, :tasks tasks spread round-robin over them; the member
-- (the user the requests are made for) belongs to the first :member_of
-- projects only, so most rows are not visible to them.
-- psql variables: owner, other, member (UUIDs), projects, member_of, tasks.

INSERT INTO task_api.users (id, email, display_name) VALUES
    (:'owner',  'owner@bench.invalid',  'Bench owner'),
    (:'other',  'other@bench.invalid',  'Other owner'),
    (:'member', 'member@bench.invalid', 'Bench member');

CREATE TEMP TABLE bench_projects AS
SELECT i, task_api.uuidv7() AS id, CASE WHEN i <= :member_of THEN :'owner'::uuid ELSE :'other'::uuid END AS owner_id
  FROM generate_series(1, :projects) AS i;

-- The owners' memberships are added by the projects_add_owner trigger.
INSERT INTO task_api.projects (id, name, owner_id)
SELECT id, 'Project ' || i, owner_id FROM bench_projects ORDER BY i;
INSERT INTO task_api.project_members (project_id, user_id, role)
SELECT id, :'member', 'editor' FROM bench_projects WHERE i <= :member_of;

INSERT INTO task_api.tasks (project_id, assignee_id, title, description, status, priority, due_date, created_by)
SELECT p.id,
       CASE WHEN g % 3 = 0 THEN p.owner_id END,
       'Task ' || g,
       'Benchmark task number ' || g,
       (ARRAY['todo', 'in_progress', 'blocked', 'done']::task_api.task_status[])[1 + g % 4],
       g % 5,
       DATE '2025-01-01' + g % 90,
       p.owner_id
  FROM generate_series(1, :tasks) AS g
  JOIN bench_projects p ON p.i = 1 + g % :projects
 ORDER BY g;

VACUUM (ANALYZE) task_api.users, task_api.projects, task_api.project_members, task_api.tasks;
