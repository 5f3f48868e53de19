-- Benchmark 1 setup (database bench_insert, run as the superuser).
-- One owner, one editor, one project; the bare tables the baseline inserts into.
-- psql variables: owner, editor, project (UUIDs).

INSERT INTO task_api.users (id, email, display_name) VALUES
    (:'owner',  'owner@bench.invalid',  'Bench owner'),
    (:'editor', 'editor@bench.invalid', 'Bench editor');
-- The owner's membership is added by the projects_add_owner trigger.
INSERT INTO task_api.projects (id, name, owner_id) VALUES (:'project', 'Insert benchmark', :'owner');
INSERT INTO task_api.project_members (project_id, user_id, role) VALUES (:'project', :'editor', 'editor');

CREATE SCHEMA bench;
-- Baseline: the same constraints as task_api.tasks, nothing else: its
-- columns, defaults (uuidv7(), now()), CHECK constraints, primary key,
-- indexes (LIKE ... INCLUDING ALL) and its four foreign keys (which LIKE does
-- not copy); no triggers and no row-level security.
CREATE TABLE bench.bare_tasks (LIKE task_api.tasks INCLUDING ALL,
    FOREIGN KEY (project_id) REFERENCES task_api.projects (id) ON DELETE RESTRICT,
    FOREIGN KEY (created_by) REFERENCES task_api.users (id),
    FOREIGN KEY (deleted_by) REFERENCES task_api.users (id),
    FOREIGN KEY (project_id, assignee_id) REFERENCES task_api.project_members (project_id, user_id)
        ON DELETE SET NULL (assignee_id));
-- Extra line: the same without the foreign keys.
CREATE TABLE bench.nofk_tasks (LIKE task_api.tasks INCLUDING ALL);
-- Extra line: the same columns and defaults only (no constraints, no indexes).
CREATE TABLE bench.heap_tasks (LIKE task_api.tasks INCLUDING DEFAULTS);
ANALYZE;
