-- Cursor pagination benchmark setup (scripts/bench-pages.sh; database
-- bench_pages, run as the superuser).  One owner of one project; the task
-- rows are loaded by the runner.  pgcrypto is for the PL/pgSQL codec
-- (bench/cursor_codec_plpgsql.sql), the baseline of benchmark 5b.
-- psql variables: owner, project (UUIDs).

INSERT INTO task_api.users (id, email, display_name) VALUES (:'owner', 'owner@bench.invalid', 'Bench owner');
-- The owner's membership is added by the projects_add_owner trigger.
INSERT INTO task_api.projects (id, name, owner_id) VALUES (:'project', 'Pagination benchmark', :'owner');

CREATE EXTENSION pgcrypto;
CREATE SCHEMA bench;
-- Benchmark 5b: the (sort key, id) pairs every codec encodes, and the cursors
-- each one decodes (filled by the runner).
CREATE TABLE bench.codec_input (k bigint, id uuid);
CREATE TABLE bench.cursors_c (c text);
CREATE TABLE bench.cursors_plpgsql (c text);
