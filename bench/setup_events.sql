-- Events benchmark setup (scripts/bench-events.sh; database bench_events,
-- run as the superuser).  An owner and an editor of one project with
-- :ntasks tasks; bench.task_ids maps 1..ntasks to the task ids so that
-- pgbench can pick a random task; bench.claim_ack() is one worker's turn.
-- psql variables: owner, editor, project (UUIDs), ntasks.

INSERT INTO task_api.users (id, email, display_name) VALUES
    (:'owner',  'owner@bench.invalid',  'Bench owner'),
    (:'editor', 'editor@bench.invalid', 'Bench editor');
INSERT INTO task_api.projects (id, name, owner_id) VALUES (:'project', 'Events benchmark', :'owner');
INSERT INTO task_api.project_members (project_id, user_id, role) VALUES (:'project', :'editor', 'editor');

CREATE SCHEMA bench;
GRANT USAGE ON SCHEMA bench TO PUBLIC;
CREATE TABLE bench.task_ids (n integer PRIMARY KEY, id uuid NOT NULL);
GRANT SELECT ON bench.task_ids TO PUBLIC;

INSERT INTO task_api.tasks (project_id, title, description, priority, created_by)
SELECT :'project', 'Task ' || g, 'Benchmark task number ' || g, g % 5, :'owner'
  FROM generate_series(1, :ntasks) AS g;
INSERT INTO bench.task_ids SELECT row_number() OVER (ORDER BY id), id FROM task_api.tasks;

-- One worker's turn: claim a batch, "deliver" it (nothing), acknowledge it,
-- in one transaction, as a relay does; returns how many events it took.
CREATE FUNCTION bench.claim_ack(consumer text, batch integer) RETURNS integer
    LANGUAGE plpgsql AS $$
DECLARE
    n integer;
    last bigint;
BEGIN
    SELECT count(*), max(id) INTO n, last FROM task_api.claim_events(consumer, batch);
    IF last IS NOT NULL THEN
        PERFORM task_api.ack_events(consumer, last);
    END IF;
    RETURN n;
END
$$;
GRANT EXECUTE ON FUNCTION bench.claim_ack(text, integer) TO task_api_relay;
VACUUM ANALYZE;
