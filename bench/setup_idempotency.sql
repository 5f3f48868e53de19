-- scripts/bench-idempotency.sh: one user with one project to POST tasks into.
INSERT INTO task_api.users (id, email, display_name) VALUES (:'user_id', 'bench-idem@example.test', 'Bench');
INSERT INTO task_api.projects (id, name, owner_id) VALUES (:'project', 'Idempotency bench', :'user_id');
ANALYZE;
