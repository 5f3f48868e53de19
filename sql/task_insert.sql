-- POST /tasks in C: tasks_insert() buffers, tasks_insert_flush() stores.
-- What the client sees is what is stored, and aborted work leaves nothing.

INSERT INTO task_api.users (id, email, display_name) VALUES
    ('01890a5d-ac96-774b-bcce-b302099a0001', 'editor@example.com', 'Editor'),
    ('01890a5d-ac96-774b-bcce-b302099a0002', 'viewer@example.com', 'Viewer');
INSERT INTO task_api.projects (id, name, owner_id) VALUES
    ('01890a5d-ac96-774b-bcce-b302099a1001', 'Alpha', '01890a5d-ac96-774b-bcce-b302099a0001');
INSERT INTO task_api.project_members (project_id, user_id, role) VALUES
    ('01890a5d-ac96-774b-bcce-b302099a1001', '01890a5d-ac96-774b-bcce-b302099a0002', 'viewer');

CREATE FUNCTION act_as(uuid) RETURNS void LANGUAGE sql AS $$
    SELECT set_config('request.jwt.claims', json_build_object('sub', $1, 'role', 'task_api_user')::text, false);
$$;
-- A title computed inside a subtransaction that fails and is caught.
CREATE FUNCTION careful_title(n int) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RETURN 'careful ' || (10 / (n - 2));
EXCEPTION WHEN division_by_zero THEN
    RETURN 'careful caught';
END
$$;

-- Inserts one task, swallowing its error: a subtransaction inside a statement.
CREATE FUNCTION try_insert(title text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO api.tasks (project_id, title) VALUES ('01890a5d-ac96-774b-bcce-b302099a1001', title);
    RETURN true;
EXCEPTION WHEN OTHERS THEN
    RETURN false;
END
$$;

SELECT act_as('01890a5d-ac96-774b-bcce-b302099a0001');
SET ROLE task_api_user;

-- The representation returned is the row stored, to the microsecond.
CREATE TEMP TABLE returned AS
WITH r AS (
    INSERT INTO api.tasks (project_id, title, status)
    SELECT '01890a5d-ac96-774b-bcce-b302099a1001', '  t' || g || '  ', CASE WHEN g = 2 THEN 'done' ELSE 'todo' END::task_api.task_status
      FROM generate_series(1, 3) g
    RETURNING *)
SELECT * FROM r;
SELECT title, status, version, completed_at IS NOT NULL AS completed,
       created_by = task_api.current_user_id() AS mine,
       task_api.uuidv7_time(id) IS NOT NULL AS uuidv7
  FROM returned ORDER BY title;
SELECT count(*) AS stored_equal_returned
  FROM returned r JOIN api.tasks t USING (id)
 WHERE (r.*)::text = (t.*)::text;

-- A multi-row insert with one bad row stores nothing.
INSERT INTO api.tasks (project_id, title)
VALUES ('01890a5d-ac96-774b-bcce-b302099a1001', 'ok 1'),
       ('01890a5d-ac96-774b-bcce-b302099a1001', ''),
       ('01890a5d-ac96-774b-bcce-b302099a1001', 'ok 3');
SELECT count(*) AS after_failed_batch FROM api.tasks;

-- A savepoint rolled back takes back its rows; the rest of the transaction
-- is stored once, in order.
BEGIN;
INSERT INTO api.tasks (project_id, title) VALUES ('01890a5d-ac96-774b-bcce-b302099a1001', 'kept 1');
SAVEPOINT s;
INSERT INTO api.tasks (project_id, title)
SELECT '01890a5d-ac96-774b-bcce-b302099a1001', CASE WHEN g < 5 THEN 'lost' ELSE repeat('x', 201) END
  FROM generate_series(1, 5) g;
ROLLBACK TO SAVEPOINT s;
INSERT INTO api.tasks (project_id, title) VALUES ('01890a5d-ac96-774b-bcce-b302099a1001', 'kept 2');
COMMIT;
SELECT title FROM api.tasks WHERE title LIKE 'kept%' OR title = 'lost' ORDER BY id;

-- An exception caught inside a function, in the middle of one statement,
-- takes back only what was buffered inside the failed block.
SELECT g, try_insert(CASE WHEN g = 2 THEN '' ELSE 'caught ' || g END) FROM generate_series(1, 3) g;
SELECT title FROM api.tasks WHERE title LIKE 'caught%' ORDER BY title;

-- A subtransaction that aborts in the middle of one INSERT (while its
-- earlier rows are buffered) takes none of them back.
INSERT INTO api.tasks (project_id, title)
SELECT '01890a5d-ac96-774b-bcce-b302099a1001', careful_title(g) FROM generate_series(1, 3) g;
SELECT title FROM api.tasks WHERE title LIKE 'careful%' ORDER BY title;

-- Viewers are refused before anything is buffered; so are the anonymous.
SELECT act_as('01890a5d-ac96-774b-bcce-b302099a0002');
INSERT INTO api.tasks (project_id, title) VALUES ('01890a5d-ac96-774b-bcce-b302099a1001', 'viewer');
RESET request.jwt.claims;
INSERT INTO api.tasks (project_id, title) VALUES ('01890a5d-ac96-774b-bcce-b302099a1001', 'anonymous');
SELECT act_as('01890a5d-ac96-774b-bcce-b302099a0001');

-- The trigger functions refuse to run any other way.
RESET ROLE;
SELECT task_api.tasks_insert();
SELECT task_api.tasks_insert_flush();
CREATE TABLE other (id int);
CREATE TRIGGER wrong BEFORE INSERT ON other FOR EACH ROW EXECUTE FUNCTION task_api.tasks_insert();
INSERT INTO other VALUES (1);
CREATE TRIGGER wrong2 AFTER INSERT ON other FOR EACH ROW EXECUTE FUNCTION task_api.tasks_insert_flush();
DROP TRIGGER wrong ON other;
INSERT INTO other VALUES (1);
DROP TABLE other;

-- Dropping and re-creating the extension in a live session: the next insert
-- works (prepared plans follow the new types).
DROP EXTENSION task_api CASCADE;
CREATE EXTENSION task_api;
INSERT INTO task_api.users (id, email, display_name) VALUES
    ('01890a5d-ac96-774b-bcce-b302099a0001', 'editor@example.com', 'Editor');
INSERT INTO task_api.projects (id, name, owner_id) VALUES
    ('01890a5d-ac96-774b-bcce-b302099a1001', 'Alpha', '01890a5d-ac96-774b-bcce-b302099a0001');
SET ROLE task_api_user;
INSERT INTO api.tasks (project_id, title, status)
VALUES ('01890a5d-ac96-774b-bcce-b302099a1001', 'after re-create', 'done')
RETURNING title, status, version;
RESET ROLE;

RESET request.jwt.claims;
TRUNCATE task_api.users CASCADE;
DROP FUNCTION act_as(uuid);
DROP FUNCTION try_insert(text);
DROP FUNCTION careful_title(int);
