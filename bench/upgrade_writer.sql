-- Rolling-upgrade benchmark writer (pgbench script, scripts/bench-upgrade.sh):
-- what PostgREST runs for PATCH /tasks?id=eq.<id> after pre_request(), as
-- an editor of the task's project: the role and claims, then the UPDATE
-- through api.tasks (its INSTEAD OF trigger, RLS, the stamp and event
-- triggers).  A random pair of bench.targets (a live task and an editor
-- of its project) per transaction.  pgbench -D ntargets=<count>.
\set n random(1, :ntargets)
\set p random(0, 4)
\set r random(1, 1000000000)
BEGIN;
SELECT set_config('role', 'task_api_user', true),
       set_config('request.jwt.claims', (SELECT json_build_object('sub', user_id, 'role', 'task_api_user')::text FROM bench.targets WHERE n = :n), true);
UPDATE api.tasks SET priority = :p, title = 'Task ' || :r WHERE id = (SELECT task_id FROM bench.targets WHERE n = :n);
COMMIT;
