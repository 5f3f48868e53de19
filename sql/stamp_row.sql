-- task_api.stamp_row(): the trigger on a user's own table

CREATE TABLE notes (
    id serial PRIMARY KEY,
    body text,
    state text NOT NULL DEFAULT 'open',
    updated_at timestamptz,
    version integer,
    closed_at timestamptz
);
CREATE TRIGGER notes_stamp BEFORE INSERT OR UPDATE ON notes
    FOR EACH ROW EXECUTE FUNCTION task_api.stamp_row('updated_at', 'version', 'state', 'closed', 'closed_at');

-- Put stamps in the past, behind the trigger's back, so we can see whether
-- the next update keeps or renews them.
CREATE FUNCTION age_notes() RETURNS void LANGUAGE sql AS $$
    ALTER TABLE notes DISABLE TRIGGER notes_stamp;
    UPDATE notes SET updated_at = 'epoch', closed_at = CASE WHEN closed_at IS NOT NULL THEN 'epoch'::timestamptz END;
    ALTER TABLE notes ENABLE TRIGGER notes_stamp;
$$;

-- Insert: version 1 whatever the client says, updated_at now, completion
-- only when already done.
BEGIN;
INSERT INTO notes (body, version, updated_at) VALUES ('a', 42, 'epoch');
INSERT INTO notes (body, state) VALUES ('b', 'closed');
SELECT id, version, updated_at = now() AS stamped, closed_at = now() AS closed_now FROM notes ORDER BY id;
COMMIT;

-- A real change bumps the version and renews updated_at.
SELECT age_notes();
BEGIN;
UPDATE notes SET body = 'a2' WHERE id = 1;
SELECT id, version, updated_at = now() AS renewed FROM notes WHERE id = 1;
COMMIT;

-- A no-op update keeps both, even if it tries to set them.
SELECT age_notes();
UPDATE notes SET body = 'a2' WHERE id = 1;
UPDATE notes SET body = body, version = 99, updated_at = now() WHERE id = 1;
SELECT id, version, updated_at = 'epoch' AS kept FROM notes WHERE id = 1;

-- Completion: set when the state becomes the done value, kept while it
-- stays done, cleared when it leaves.
BEGIN;
UPDATE notes SET state = 'closed' WHERE id = 1;
SELECT version, closed_at = now() AS closed_now FROM notes WHERE id = 1;
COMMIT;
SELECT age_notes();
UPDATE notes SET closed_at = now(), body = 'a3' WHERE id = 1;
SELECT version, closed_at = 'epoch' AS completion_kept FROM notes WHERE id = 1;
UPDATE notes SET state = 'open' WHERE id = 1;
SELECT version, closed_at IS NULL AS cleared FROM notes WHERE id = 1;
-- Setting the completion time by hand on an open row does nothing.
UPDATE notes SET closed_at = now() WHERE id = 1;
SELECT version, closed_at IS NULL AS still_cleared FROM notes WHERE id = 1;

-- NULL to value and value to NULL are changes.
UPDATE notes SET body = NULL WHERE id = 2;
UPDATE notes SET body = 'back' WHERE id = 2;
SELECT version FROM notes WHERE id = 2;

-- Two-argument form: no completion column.
CREATE TABLE plain (id int PRIMARY KEY, v text, updated_at timestamptz, version int);
CREATE TRIGGER plain_stamp BEFORE INSERT OR UPDATE ON plain
    FOR EACH ROW EXECUTE FUNCTION task_api.stamp_row('updated_at', 'version');
INSERT INTO plain VALUES (1, 'x');
UPDATE plain SET v = 'y';
SELECT version FROM plain;

-- Misuse is reported clearly.
CREATE TABLE bad (id int, updated_at timestamptz, version int, ts timestamp, v bigint);
CREATE TRIGGER bad1 BEFORE INSERT ON bad FOR EACH ROW EXECUTE FUNCTION task_api.stamp_row('nope', 'version');
INSERT INTO bad (id) VALUES (1);
DROP TRIGGER bad1 ON bad;
CREATE TRIGGER bad2 BEFORE INSERT ON bad FOR EACH ROW EXECUTE FUNCTION task_api.stamp_row('ts', 'version');
INSERT INTO bad (id) VALUES (1);
DROP TRIGGER bad2 ON bad;
CREATE TRIGGER bad3 BEFORE INSERT ON bad FOR EACH ROW EXECUTE FUNCTION task_api.stamp_row('updated_at', 'v');
INSERT INTO bad (id) VALUES (1);
DROP TRIGGER bad3 ON bad;
CREATE TRIGGER bad4 BEFORE INSERT ON bad FOR EACH ROW EXECUTE FUNCTION task_api.stamp_row('updated_at');
INSERT INTO bad (id) VALUES (1);
DROP TRIGGER bad4 ON bad;
CREATE TRIGGER bad5 AFTER INSERT ON bad FOR EACH ROW EXECUTE FUNCTION task_api.stamp_row('updated_at', 'version');
INSERT INTO bad (id) VALUES (1);
DROP TRIGGER bad5 ON bad;
CREATE TRIGGER bad6 BEFORE INSERT ON bad FOR EACH STATEMENT EXECUTE FUNCTION task_api.stamp_row('updated_at', 'version');
INSERT INTO bad (id) VALUES (1);
DROP TRIGGER bad6 ON bad;
CREATE TRIGGER bad7 BEFORE DELETE ON bad FOR EACH ROW EXECUTE FUNCTION task_api.stamp_row('updated_at', 'version');
INSERT INTO bad (id, version) VALUES (1, 1);
DELETE FROM bad;
DROP TRIGGER bad7 ON bad;
SELECT task_api.stamp_row();

-- The version cannot wrap around.
ALTER TABLE plain DISABLE TRIGGER plain_stamp;
UPDATE plain SET version = 2147483647;
ALTER TABLE plain ENABLE TRIGGER plain_stamp;
UPDATE plain SET v = 'z';

DROP TABLE notes, plain, bad;
DROP FUNCTION age_notes();
