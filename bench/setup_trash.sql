-- Soft-delete benchmark setup (scripts/bench-trash.sh; databases
-- bench_trash_delete and bench_trash_list, run as the superuser).
-- Users, projects and memberships are made directly: an owner of every
-- project, an editor of the delete project (who deletes) and a member who is
-- a viewer of the two list projects (who lists).  The task rows are loaded by
-- the runner.
-- psql variables: owner, editor, member, p_del, p_flat, p_half (UUIDs).

INSERT INTO task_api.users (id, email, display_name) VALUES
    (:'owner',  'owner@bench.invalid',  'Bench owner'),
    (:'editor', 'editor@bench.invalid', 'Bench editor'),
    (:'member', 'member@bench.invalid', 'Bench member');

-- The owner's memberships are added by the projects_add_owner trigger.
INSERT INTO task_api.projects (id, name, owner_id) VALUES
    (:'p_del',  'Delete benchmark', :'owner'),
    (:'p_flat', 'List benchmark: live tasks only', :'owner'),
    (:'p_half', 'List benchmark: half in the trash', :'owner');
INSERT INTO task_api.project_members (project_id, user_id, role) VALUES
    (:'p_del',  :'editor', 'editor'),
    (:'p_flat', :'member', 'viewer'),
    (:'p_half', :'member', 'viewer');

CREATE SCHEMA bench;
-- Benchmark 4a baseline: the same columns, defaults, CHECKs, primary key and
-- indexes (partial ones included) as task_api.tasks; LIKE copies no foreign
-- keys, no triggers and no row-level security.
CREATE TABLE bench.bare_tasks (LIKE task_api.tasks INCLUDING ALL);
-- The rows every round of 4a starts from (filled by the runner).
CREATE TABLE bench.src_tasks (LIKE task_api.tasks INCLUDING DEFAULTS);
ANALYZE;
