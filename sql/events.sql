-- task_api.record_event() and task_api.events_claim_bound(): the claim
-- bound follows in-flight writers; a transaction that wrote events cannot be
-- prepared.
SET client_min_messages = warning;
TRUNCATE task_api.events, task_api.event_consumers RESTART IDENTITY;
INSERT INTO task_api.users (id, email, display_name) VALUES
    ('01890a5d-ac96-774b-bcce-b302099a0001', 'owner@example.com', 'Owner');
INSERT INTO task_api.projects (id, name, owner_id) VALUES
    ('01890a5d-ac96-774b-bcce-b302099a1001', 'Alpha', '01890a5d-ac96-774b-bcce-b302099a0001');
SELECT id, resource_type, action, actor_id FROM task_api.events ORDER BY id;
-- Nothing in flight: every event may be handed out.
SELECT task_api.events_claim_bound() AS bound;

-- In a transaction that wrote events, the bound stops at its first one.
BEGIN;
UPDATE task_api.projects SET name = 'Beta';
UPDATE task_api.projects SET description = 'second';
SELECT id, action, changes FROM task_api.events WHERE id > 2 ORDER BY id;
SELECT task_api.events_claim_bound() AS bound;
COMMIT;
SELECT task_api.events_claim_bound() AS bound;

-- A rolled-back writer leaves a gap and releases the bound.
BEGIN;
UPDATE task_api.projects SET name = 'Gamma';
ROLLBACK;
SELECT task_api.events_claim_bound() AS bound, (SELECT max(id) FROM task_api.events) AS last_event;

-- Two-phase commit: the events would stay invisible after the bound moved on.
BEGIN;
UPDATE task_api.projects SET name = 'Delta';
PREPARE TRANSACTION 'events';
SELECT name FROM task_api.projects;

-- An update that changes nothing (or only the stamps) is no event.
UPDATE task_api.projects SET name = name;
SELECT count(*) AS events FROM task_api.events;

TRUNCATE task_api.users CASCADE;
TRUNCATE task_api.events, task_api.event_consumers RESTART IDENTITY;
