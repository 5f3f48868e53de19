-- Rolling-upgrade benchmark (scripts/bench-upgrade.sh): checks of the data
-- bench/upgrade_fill.sql loaded with triggers and foreign-key checks off.
-- Prints one line, "problems=N ...", N = 0 when the data is valid.
SELECT format('problems=%s tasks=%s live=%s users=%s projects=%s memberships=%s targets=%s',
              bad, (SELECT count(*) FROM task_api.tasks), (SELECT count(*) FROM task_api.tasks WHERE deleted_at IS NULL),
              (SELECT count(*) FROM task_api.users), (SELECT count(*) FROM task_api.projects),
              (SELECT count(*) FROM task_api.project_members), (SELECT count(*) FROM bench.targets))
  FROM (SELECT
        -- every foreign key, spelled out
        (SELECT count(*) FROM task_api.tasks t
          WHERE NOT EXISTS (SELECT 1 FROM task_api.projects p WHERE p.id = t.project_id)
             OR NOT EXISTS (SELECT 1 FROM task_api.users u WHERE u.id = t.created_by)
             OR (t.deleted_by IS NOT NULL AND NOT EXISTS (SELECT 1 FROM task_api.users u WHERE u.id = t.deleted_by))
             OR (t.assignee_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM task_api.project_members m
                                                            WHERE m.project_id = t.project_id AND m.user_id = t.assignee_id)))
        + (SELECT count(*) FROM task_api.project_members m
            WHERE NOT EXISTS (SELECT 1 FROM task_api.projects p WHERE p.id = m.project_id)
               OR NOT EXISTS (SELECT 1 FROM task_api.users u WHERE u.id = m.user_id))
        + (SELECT count(*) FROM task_api.projects p WHERE NOT EXISTS (SELECT 1 FROM task_api.users u WHERE u.id = p.owner_id))
        -- what the triggers would have made: the owner's membership, a
        -- creator who could write there, stamps, the trash columns
        + (SELECT count(*) FROM task_api.projects p
            WHERE NOT EXISTS (SELECT 1 FROM task_api.project_members m
                               WHERE m.project_id = p.id AND m.user_id = p.owner_id AND m.role = 'owner'))
        + (SELECT count(*) FROM task_api.tasks t
            WHERE NOT EXISTS (SELECT 1 FROM task_api.project_members m
                               WHERE m.project_id = t.project_id AND m.user_id = t.created_by AND m.role >= 'editor'))
        + (SELECT count(*) FROM task_api.tasks
            WHERE (status = 'done') <> (completed_at IS NOT NULL) OR updated_at < created_at OR version < 1
               OR (deleted_at IS NULL) <> (deleted_by IS NULL))
        -- the writer's pairs: a live task and an editor of its project
        + (SELECT count(*) FROM bench.targets b JOIN task_api.tasks t ON t.id = b.task_id
            WHERE t.deleted_at IS NOT NULL
               OR NOT EXISTS (SELECT 1 FROM task_api.project_members m
                               WHERE m.project_id = t.project_id AND m.user_id = b.user_id AND m.role >= 'editor'))
        + (SELECT count(*) FROM bench.targets b WHERE NOT EXISTS (SELECT 1 FROM task_api.tasks t WHERE t.id = b.task_id))
        + (SELECT CASE WHEN count(*) = 1 THEN 0 ELSE 1 END FROM bench.blocker)
        AS bad) AS c;
