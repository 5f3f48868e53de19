-- Authentication benchmarks setup (database bench_auth, run as the superuser
-- by scripts/bench-auth.sh).
-- psql variables: user (UUID of the cookie user), sessions (other sessions
-- in task_api.sessions, so the revocation lookup searches a real index).

CREATE EXTENSION pgcrypto;
CREATE SCHEMA bench;
-- Benchmark 2 compares the CPU cost of one call: task_api.jwt_verify() is
-- PARALLEL SAFE and would otherwise get parallel workers the baseline
-- (a PL/pgSQL function, parallel unsafe by default) does not get.
ALTER DATABASE :"DBNAME" SET max_parallel_workers_per_gather = 0;

INSERT INTO task_api.users (id, email, display_name)
VALUES (:'user', 'cookie@bench.invalid', 'Cookie user');

-- Three projects the user owns (the projects_add_owner trigger adds the
-- memberships), so the membership lookup pre_request() triggers returns rows.
INSERT INTO task_api.projects (name, owner_id)
SELECT 'Cookie project ' || i, :'user' FROM generate_series(1, 3) AS i;

-- Earlier logins: a tenth revoked, a tenth expired.
INSERT INTO task_api.sessions (id, user_id, created_at, expires_at, revoked_at)
SELECT task_api.uuidv7(), :'user', now() - interval '2 days',
       CASE WHEN g % 10 = 1 THEN now() - interval '1 day' ELSE now() + interval '1 day' END,
       CASE WHEN g % 10 = 2 THEN now() - interval '1 hour' END
  FROM generate_series(1, :sessions) AS g;

VACUUM (ANALYZE) task_api.users, task_api.projects, task_api.project_members, task_api.sessions;
