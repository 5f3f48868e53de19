-- project_role(), has_project_role(), member_project_ids() and their cache

INSERT INTO task_api.users (id, email, display_name) VALUES
    ('01890a5d-ac96-774b-bcce-b302099a0001', 'owner@example.com', 'Owner'),
    ('01890a5d-ac96-774b-bcce-b302099a0002', 'editor@example.com', 'Editor'),
    ('01890a5d-ac96-774b-bcce-b302099a0003', 'outsider@example.com', 'Outsider');
INSERT INTO task_api.projects (id, name, owner_id) VALUES
    ('01890a5d-ac96-774b-bcce-b302099a1001', 'Alpha', '01890a5d-ac96-774b-bcce-b302099a0001'),
    ('01890a5d-ac96-774b-bcce-b302099a1002', 'Beta', '01890a5d-ac96-774b-bcce-b302099a0001');
INSERT INTO task_api.project_members (project_id, user_id, role) VALUES
    ('01890a5d-ac96-774b-bcce-b302099a1001', '01890a5d-ac96-774b-bcce-b302099a0002', 'editor');

CREATE FUNCTION act_as(uuid) RETURNS void LANGUAGE sql AS $$
    SELECT set_config('request.jwt.claims', json_build_object('sub', $1, 'role', 'task_api_user')::text, false);
$$;

-- Anonymous: no role anywhere, an empty list.
SELECT task_api.project_role('01890a5d-ac96-774b-bcce-b302099a1001') IS NULL AS anon_role,
       task_api.has_project_role('01890a5d-ac96-774b-bcce-b302099a1001', 'viewer') AS anon_has,
       task_api.member_project_ids('viewer') AS anon_ids;

-- The creator is owner of both (added by the projects trigger).
SELECT act_as('01890a5d-ac96-774b-bcce-b302099a0001');
SELECT task_api.project_role('01890a5d-ac96-774b-bcce-b302099a1001') AS alpha,
       task_api.project_role('01890a5d-ac96-774b-bcce-b302099a1002') AS beta,
       cardinality(task_api.member_project_ids('owner')) AS owned;

-- The editor: role order viewer < editor < owner.
SELECT act_as('01890a5d-ac96-774b-bcce-b302099a0002');
SELECT task_api.project_role('01890a5d-ac96-774b-bcce-b302099a1001') AS alpha,
       task_api.project_role('01890a5d-ac96-774b-bcce-b302099a1002') IS NULL AS beta_none,
       task_api.has_project_role('01890a5d-ac96-774b-bcce-b302099a1001', 'viewer') AS at_least_viewer,
       task_api.has_project_role('01890a5d-ac96-774b-bcce-b302099a1001', 'editor') AS at_least_editor,
       task_api.has_project_role('01890a5d-ac96-774b-bcce-b302099a1001', 'owner') AS at_least_owner,
       task_api.member_project_ids('viewer') AS viewer_ids,
       task_api.member_project_ids('owner') AS owner_ids;

-- Unknown project, NULL arguments.
SELECT task_api.project_role('01890a5d-ac96-774b-bcce-b302099a9999') IS NULL AS unknown,
       task_api.project_role(NULL) IS NULL AS null_project,
       task_api.has_project_role(NULL, 'viewer') IS NULL AS null_has;

-- Changes in this transaction are seen at once; a rolled-back savepoint
-- takes them back.
BEGIN;
SELECT task_api.project_role('01890a5d-ac96-774b-bcce-b302099a1001') AS before;
UPDATE task_api.project_members SET role = 'viewer'
 WHERE project_id = '01890a5d-ac96-774b-bcce-b302099a1001' AND user_id = '01890a5d-ac96-774b-bcce-b302099a0002';
SELECT task_api.project_role('01890a5d-ac96-774b-bcce-b302099a1001') AS demoted;
SAVEPOINT s;
DELETE FROM task_api.project_members
 WHERE project_id = '01890a5d-ac96-774b-bcce-b302099a1001' AND user_id = '01890a5d-ac96-774b-bcce-b302099a0002';
SELECT task_api.project_role('01890a5d-ac96-774b-bcce-b302099a1001') IS NULL AS removed;
ROLLBACK TO SAVEPOINT s;
SELECT task_api.project_role('01890a5d-ac96-774b-bcce-b302099a1001') AS restored;
ROLLBACK;
-- The cache outlives transactions, but not an abort that undid what it saw.
SELECT task_api.project_role('01890a5d-ac96-774b-bcce-b302099a1001') AS after_rollback;

-- A project in the trash: no role for writes, still a member for reads.
UPDATE task_api.projects SET deleted_at = now() WHERE id = '01890a5d-ac96-774b-bcce-b302099a1001';
SELECT task_api.project_role('01890a5d-ac96-774b-bcce-b302099a1001') IS NULL AS trashed_no_role,
       task_api.has_project_role('01890a5d-ac96-774b-bcce-b302099a1001', 'editor') AS trashed_still_member;
UPDATE task_api.projects SET deleted_at = NULL WHERE id = '01890a5d-ac96-774b-bcce-b302099a1001';

-- A statement whose nested statement removes the caller's membership keeps
-- its own snapshot's view; the next statement sees the removal.
SELECT act_as('01890a5d-ac96-774b-bcce-b302099a0002');
BEGIN;
SET LOCAL ROLE task_api_user;
WITH d AS (DELETE FROM api.project_members
            WHERE project_id = '01890a5d-ac96-774b-bcce-b302099a1001'
              AND user_id = '01890a5d-ac96-774b-bcce-b302099a0002' RETURNING 1)
SELECT (SELECT task_api.project_role('01890a5d-ac96-774b-bcce-b302099a1001')) AS during FROM d;
SELECT task_api.project_role('01890a5d-ac96-774b-bcce-b302099a1001') IS NULL AS removed_next_statement,
       (SELECT count(*) FROM api.projects) AS projects_seen;
ROLLBACK;

-- Switching identity switches the answers.
SELECT act_as('01890a5d-ac96-774b-bcce-b302099a0003');
SELECT task_api.member_project_ids('viewer') AS outsider_ids;

-- The policy form runs the lookup once per query and can use an index.
SELECT act_as('01890a5d-ac96-774b-bcce-b302099a0002');
-- (Which of the tasks' project-led indexes is picked is the planner's business.)
CREATE FUNCTION plan_of(query text) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
    plan json;
BEGIN
    EXECUTE 'EXPLAIN (COSTS OFF, FORMAT JSON) ' || query INTO plan;
    RETURN plan -> 0 -> 'Plan';
END $$;
SET enable_seqscan = off;
SELECT p ->> 'Node Type' LIKE 'Index%Scan' AS index_scan, p ->> 'Index Cond' AS index_cond,
       (SELECT count(*) FROM json_array_elements(p -> 'Plans')) AS init_plans
  FROM plan_of($q$SELECT id FROM task_api.tasks
 WHERE project_id = ANY ((SELECT task_api.member_project_ids('viewer'))::uuid[]) AND deleted_at IS NULL$q$) AS p;
RESET enable_seqscan;
DROP FUNCTION plan_of(text);

-- Used as a trigger only.
SELECT task_api.membership_changed();

RESET request.jwt.claims;
TRUNCATE task_api.users CASCADE;
DROP FUNCTION act_as(uuid);
