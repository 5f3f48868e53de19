-- task_api.soft_delete(): the trigger on a user's own table

CREATE TABLE docs (
    id int PRIMARY KEY,
    body text,
    deleted_at timestamptz,
    deleted_by text
);
CREATE TRIGGER docs_soft_delete BEFORE DELETE ON docs
    FOR EACH ROW EXECUTE FUNCTION task_api.soft_delete('deleted_at', 'deleted_by');
INSERT INTO docs (id, body) VALUES (1, 'one'), (2, 'two'), (3, 'three');

-- Deleting live rows moves them to the trash: they stay, stamped, and the
-- DELETE reports no rows removed.
BEGIN;
DELETE FROM docs WHERE id IN (1, 2);
SELECT id, deleted_at = now() AS trashed_now, deleted_by = session_user AS by_me FROM docs ORDER BY id;
COMMIT;

-- Deleting a trashed row removes it for good; live rows are trashed.
DELETE FROM docs WHERE id IN (1, 3);
SELECT id, deleted_at IS NOT NULL AS trashed FROM docs ORDER BY id;

-- A uuid deleted_by gets the caller's id (NULL without one); one argument
-- sets only deleted_at.
CREATE TABLE notes (id int PRIMARY KEY, deleted_at timestamptz, deleted_by uuid);
CREATE TRIGGER notes_soft_delete BEFORE DELETE ON notes
    FOR EACH ROW EXECUTE FUNCTION task_api.soft_delete('deleted_at', 'deleted_by');
INSERT INTO notes VALUES (1), (2);
SELECT set_config('request.jwt.claims', '{"sub": "01890a5d-ac96-774b-bcce-b302099a0001"}', false);
DELETE FROM notes WHERE id = 1;
RESET request.jwt.claims;
DELETE FROM notes WHERE id = 2;
SELECT id, deleted_by FROM notes ORDER BY id;
CREATE TABLE plain (id int, gone timestamp);
CREATE TRIGGER plain_soft_delete BEFORE DELETE ON plain
    FOR EACH ROW EXECUTE FUNCTION task_api.soft_delete('gone');
INSERT INTO plain VALUES (1);
DELETE FROM plain;
SELECT id, gone IS NOT NULL AS trashed FROM plain;

-- Identifiers that need quoting work.
CREATE TABLE "Odd Table" ("Deleted At" timestamptz, "by" text);
CREATE TRIGGER odd BEFORE DELETE ON "Odd Table"
    FOR EACH ROW EXECUTE FUNCTION task_api.soft_delete('Deleted At', 'by');
INSERT INTO "Odd Table" VALUES (NULL, NULL);
DELETE FROM "Odd Table";
SELECT "Deleted At" IS NOT NULL AS trashed FROM "Odd Table";

-- Misuse is reported clearly.
CREATE TABLE bad (id int, deleted_at timestamptz, deleted_by int, d date);
INSERT INTO bad VALUES (1);
CREATE TRIGGER bad1 BEFORE DELETE ON bad FOR EACH ROW EXECUTE FUNCTION task_api.soft_delete('nope');
DELETE FROM bad;
DROP TRIGGER bad1 ON bad;
CREATE TRIGGER bad2 BEFORE DELETE ON bad FOR EACH ROW EXECUTE FUNCTION task_api.soft_delete('d');
DELETE FROM bad;
DROP TRIGGER bad2 ON bad;
CREATE TRIGGER bad3 BEFORE DELETE ON bad FOR EACH ROW EXECUTE FUNCTION task_api.soft_delete('deleted_at', 'deleted_by');
DELETE FROM bad;
DROP TRIGGER bad3 ON bad;
CREATE TRIGGER bad4 BEFORE DELETE ON bad FOR EACH ROW EXECUTE FUNCTION task_api.soft_delete();
DELETE FROM bad;
DROP TRIGGER bad4 ON bad;
CREATE TRIGGER bad5 AFTER DELETE ON bad FOR EACH ROW EXECUTE FUNCTION task_api.soft_delete('deleted_at');
DELETE FROM bad;
DROP TRIGGER bad5 ON bad;
CREATE TRIGGER bad6 BEFORE DELETE ON bad FOR EACH STATEMENT EXECUTE FUNCTION task_api.soft_delete('deleted_at');
DELETE FROM bad;
DROP TRIGGER bad6 ON bad;
CREATE TRIGGER bad7 BEFORE UPDATE ON bad FOR EACH ROW EXECUTE FUNCTION task_api.soft_delete('deleted_at');
UPDATE bad SET id = 2;
DROP TRIGGER bad7 ON bad;
SELECT task_api.soft_delete();

DROP TABLE docs, notes, plain, "Odd Table", bad;
