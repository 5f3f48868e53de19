-- GET /rpc/task_events_page: the activity feed, one page at a time, with the
-- signed cursors of 45_pages.sql.  Event ids are unique, so the keyset is the
-- id alone (the cursor's last_id slot carries the event's resource id, which
-- nothing reads).

CREATE FUNCTION api.task_events_page(project_id uuid DEFAULT NULL, resource_type text DEFAULT NULL,
                                     direction text DEFAULT 'desc', page_size integer DEFAULT 25,
                                     cursor text DEFAULT NULL) RETURNS json
    LANGUAGE plpgsql STABLE SECURITY INVOKER PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    dir text := coalesce(task_events_page.direction, 'desc');
    n integer := coalesce(task_events_page.page_size, 25);
    kind text := task_events_page.resource_type;
    fp text;
    after bigint;
    projects uuid[];
    rows_ api.task_events[] := '{}';
    r api.task_events;
BEGIN
    PERFORM @extschema@.check_page_args('id', ARRAY['id'], dir, n);
    IF kind IS NOT NULL AND kind NOT IN ('project', 'member', 'task') THEN
        PERFORM @extschema@.raise_error('invalid_parameter', 'resource_type must be project, member or task',
            format('resource_type was "%s".', kind), NULL);
    END IF;
    -- What the cursor is bound to: the filters and the direction.
    fp := jsonb_build_array('api.task_events_page', task_events_page.project_id, kind, dir)::text;
    IF task_events_page.cursor IS NOT NULL THEN
        SELECT d.sort_key INTO after
          FROM @extschema@.cursor_decode(task_events_page.cursor, fp, NULL::bigint) AS d;
    END IF;

    -- Per project, one range scan of events (project_id, id DESC) that stops
    -- after page_size + 1 rows, then a merge: the same cost at any depth.
    -- Row-level security applies to every row on top.
    projects := CASE WHEN task_events_page.project_id IS NOT NULL THEN ARRAY[task_events_page.project_id]
                     ELSE @extschema@.member_project_ids('viewer') END;
    -- Only the fixed direction fragments are put together; values are parameters.
    FOR r IN EXECUTE format($q$
        SELECT l.* FROM pg_catalog.unnest($1) AS p(id) CROSS JOIN LATERAL (
            SELECT e.* FROM api.task_events e
             WHERE e.project_id = p.id AND ($2 IS NULL OR e.id %1$s $2) AND ($3 IS NULL OR e.resource_type = $3)
             ORDER BY e.id %2$s LIMIT $4 + 1) AS l
         ORDER BY l.id %2$s LIMIT $4 + 1$q$,
        CASE dir WHEN 'asc' THEN '>' ELSE '<' END, dir)
        USING projects, after, kind, n
    LOOP
        rows_ := rows_ || r;
    END LOOP;
    RETURN @extschema@.page_tail(rows_, n, 'id', 'resource_id', dir, fp, '/rpc/task_events_page',
        ARRAY['project_id', task_events_page.project_id::text, 'resource_type', kind,
              'direction', dir, 'page_size', n::text]);
END
$$;
COMMENT ON FUNCTION api.task_events_page(uuid, text, text, integer, text) IS E'One page of the activity feed of your projects, newest first by default.\n\nReturns {data (rows as in /task_events), next_cursor, has_more}, with a Link rel="next" header when there is more. Events are ordered by id; an event whose transaction commits after a walk passed its id is not returned to that walk (consumers that need every event use task_api.claim_events()).\n\nArguments:\nproject_id: only this project''s events.\nresource_type: only events of project, member or task.\ndirection: desc (default, newest first) or asc.\npage_size: rows per page, 1..100 (default 25); may change between pages.\ncursor: next_cursor of the previous page; valid only with the same filters and direction.';

GRANT EXECUTE ON FUNCTION api.task_events_page(uuid, text, text, integer, text) TO task_api_user;
