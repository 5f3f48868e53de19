-- Benchmark 2 baseline (database bench_bare, run as the superuser): a plain
-- table with the columns of api.tasks, exposed by a second PostgREST whose
-- anonymous role may read it.  No RLS, no views, no pre-request hook.
-- Rows are copied in from bench_api afterwards by scripts/bench.sh.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_anon') THEN
        CREATE ROLE bench_anon NOLOGIN;
    END IF;
END
$$;
GRANT bench_anon TO task_api_authenticator;

CREATE TYPE public.task_status AS ENUM ('todo', 'in_progress', 'blocked', 'done', 'cancelled');
CREATE SCHEMA api;
CREATE TABLE api.tasks (
    id           uuid PRIMARY KEY,
    project_id   uuid NOT NULL,
    assignee_id  uuid,
    title        text NOT NULL,
    description  text,
    status       public.task_status NOT NULL DEFAULT 'todo',
    priority     smallint NOT NULL DEFAULT 2,
    due_date     date,
    created_by   uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    version      integer NOT NULL DEFAULT 1
);
GRANT USAGE ON SCHEMA api TO bench_anon;
GRANT SELECT ON api.tasks TO bench_anon;
