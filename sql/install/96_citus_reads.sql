-- Citus: the read path (docs/scaling.md, "Queries Citus cannot plan") ----------
-- Queries of the single-server functions and views that Citus cannot plan,
-- in forms it can.  distribute() (95_citus.sql) calls distribute_reads() on
-- every node, which points the API's functions and views at them; a single
-- server never calls it and keeps its catalogue as installed.

-- The caller's live tasks in projects matching q: search_tasks() (45_pages.sql)
-- in PL/pgSQL, whose statements Citus plans with the values known (it cannot
-- plan a SQL function's parameters), with the caller's projects resolved
-- here, on the coordinator, not on a worker inside the shard query.
CREATE FUNCTION @extschema@.citus_search_tasks(projects uuid[], q text) RETURNS SETOF uuid
    LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL RESTRICTED
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    mine uuid[] := ARRAY(SELECT p.id FROM pg_catalog.unnest(projects) AS p(id)
                          WHERE p.id = ANY (@extschema@.member_project_ids('viewer')));
BEGIN
    RETURN QUERY
        SELECT t.id FROM @extschema@.tasks t
         WHERE t.deleted_at IS NULL
           AND t.project_id = ANY (mine)
           AND pg_catalog.to_tsvector('simple'::regconfig, t.title || ' ' || COALESCE(t.description, ''))
               @@ pg_catalog.websearch_to_tsquery('simple'::regconfig, q);
END
$$;
COMMENT ON FUNCTION @extschema@.citus_search_tasks(uuid[], text) IS 'On Citus: search_tasks() in a form Citus can plan.';

-- GET /rpc/tasks_page on Citus.  On one server a page reads, per project of
-- the caller, one ordered index range that stops after page_size + 1 rows
-- (unnest(projects) CROSS JOIN LATERAL (... LIMIT)), then merges; Citus
-- cannot push that LATERAL down to the shards.  Here the page is one query
-- over the caller's projects (project_id = ANY): Citus prunes to their
-- shards, each shard returns its first page_size + 1 rows in order (the same
-- index, one range per project and key), and the coordinator merges them.
-- The cursor's position is a parameter (no CTE), and a cursor from one form
-- resumes in the other: the arguments, checks, fingerprint and answer are
-- api.tasks_page()'s.
CREATE FUNCTION @extschema@.citus_tasks_page(project_id uuid, status @extschema@.task_status, assignee_id uuid,
                                             q text, sort text, direction text, page_size integer, cursor text) RETURNS json
    LANGUAGE plpgsql STABLE SECURITY INVOKER PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    q_norm text := nullif(btrim(q), '');
    sort_ text := coalesce(sort, 'created_at');
    dir text := coalesce(direction, 'desc');
    n integer := coalesce(page_size, 25);
    fp text;
    key_expr text;
    key_type text;
    after_key text;
    after_id uuid;
    ranges text[];
    filters text := '';
    branch text;
    projects uuid[];
    matches uuid[];
    sql text := '';
    rows_ api.tasks[] := '{}';
    r record;
BEGIN
    PERFORM @extschema@.check_page_args(sort_, ARRAY['created_at', 'updated_at', 'due_date', 'priority'], dir, n);
    PERFORM @extschema@.check_search_q(q_norm);
    fp := jsonb_build_array('api.tasks_page', project_id, status, assignee_id, q_norm, sort_, dir)::text;
    key_expr := 't.' || CASE sort_ WHEN 'updated_at' THEN 'updated_at' WHEN 'due_date' THEN 'due_date'
                                   WHEN 'priority' THEN 'priority' ELSE 'created_at' END;
    key_type := CASE sort_ WHEN 'due_date' THEN 'date' WHEN 'priority' THEN 'smallint' ELSE 'timestamptz' END;
    IF cursor IS NOT NULL THEN
        -- The sort key goes back to its type in the query, in this session.
        EXECUTE format('SELECT d.sort_key::text, d.last_id FROM @extschema@.cursor_decode($1, $2, NULL::%s) d', key_type)
            INTO after_key, after_id USING cursor, fp;
    END IF;
    -- The keyset ranges after the cursor, as in api.tasks_page(), from $5 and $6.
    ranges := @extschema@.task_page_ranges(key_expr, sort_, dir, cursor IS NOT NULL, after_key IS NULL,
                                           format('$5::%s', key_type), '$6');
    IF status IS NOT NULL THEN
        filters := filters || ' AND t.status = $2';
    END IF;
    IF assignee_id IS NOT NULL THEN
        filters := filters || ' AND t.assignee_id = $3';
    END IF;
    IF q_norm IS NOT NULL THEN
        filters := filters || ' AND t.id = ANY ($4)';
    END IF;
    projects := CASE WHEN project_id IS NOT NULL THEN ARRAY[project_id]
                     ELSE @extschema@.member_project_ids('viewer') END;
    IF q_norm IS NOT NULL THEN
        matches := ARRAY(SELECT s.id FROM @extschema@.citus_search_tasks(projects, q_norm) AS s(id));
    END IF;
    FOREACH branch IN ARRAY ranges LOOP
        IF sql <> '' THEN
            sql := sql || ' UNION ALL ';
        END IF;
        sql := sql || format($q$(SELECT t, %1$s AS k FROM api.tasks t WHERE t.project_id = ANY ($1)%2$s%3$s
                                  ORDER BY %1$s %4$s, t.id %4$s LIMIT $7 + 1)$q$,
            key_expr, branch, filters, dir);
    END LOOP;
    IF cardinality(ranges) > 1 THEN
        sql := format('SELECT y.t FROM (%s) y ORDER BY y.k %s, (y.t).id %s LIMIT $7 + 1', sql, dir, dir);
    END IF;
    FOR r IN EXECUTE sql USING projects, status, assignee_id, matches, after_key, after_id, n LOOP
        rows_ := rows_ || r.t;
    END LOOP;
    RETURN @extschema@.page_tail(rows_, n, sort_, 'id', dir, fp, '/rpc/tasks_page',
        ARRAY['project_id', project_id::text, 'status', status::text, 'assignee_id', assignee_id::text,
              'q', q_norm, 'sort', sort_, 'direction', dir, 'page_size', n::text]);
END
$$;
COMMENT ON FUNCTION @extschema@.citus_tasks_page(uuid, @extschema@.task_status, uuid, text, text, text, integer, text) IS 'On Citus: api.tasks_page() as one query over the caller''s projects, which Citus pushes down to their shards and merges.';

-- GET /rpc/task_events_page on Citus: the same change as citus_tasks_page().
CREATE FUNCTION @extschema@.citus_task_events_page(project_id uuid, resource_type text, direction text,
                                                   page_size integer, cursor text) RETURNS json
    LANGUAGE plpgsql STABLE SECURITY INVOKER PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    dir text := coalesce(citus_task_events_page.direction, 'desc');
    n integer := coalesce(citus_task_events_page.page_size, 25);
    kind text := citus_task_events_page.resource_type;
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
    fp := jsonb_build_array('api.task_events_page', citus_task_events_page.project_id, kind, dir)::text;
    IF citus_task_events_page.cursor IS NOT NULL THEN
        SELECT d.sort_key INTO after
          FROM @extschema@.cursor_decode(citus_task_events_page.cursor, fp, NULL::bigint) AS d;
    END IF;
    projects := CASE WHEN citus_task_events_page.project_id IS NOT NULL THEN ARRAY[citus_task_events_page.project_id]
                     ELSE @extschema@.member_project_ids('viewer') END;
    FOR r IN EXECUTE format($q$
        SELECT e.* FROM api.task_events e
         WHERE e.project_id = ANY ($1) AND ($2::bigint IS NULL OR e.id %1$s $2) AND ($3::text IS NULL OR e.resource_type = $3)
         ORDER BY e.id %2$s LIMIT $4 + 1$q$,
        CASE dir WHEN 'asc' THEN '>' ELSE '<' END, dir)
        USING projects, after, kind, n
    LOOP
        rows_ := rows_ || r;
    END LOOP;
    RETURN @extschema@.page_tail(rows_, n, 'id', 'resource_id', dir, fp, '/rpc/task_events_page',
        ARRAY['project_id', citus_task_events_page.project_id::text, 'resource_type', kind,
              'direction', dir, 'page_size', n::text]);
END
$$;
COMMENT ON FUNCTION @extschema@.citus_task_events_page(uuid, text, text, integer, text) IS 'On Citus: api.task_events_page() as one query over the caller''s projects, which Citus pushes down to their shards and merges.';

-- task_api.event_consumer_health on Citus: its LATERAL outer join from the
-- reference table event_consumers to the distributed events is refused; per
-- consumer and node, the same two reads, each one query Citus pushes down
-- and merges (the first event after the node's position: per shard ORDER BY
-- id LIMIT 1), summed over the nodes.  As the tables' owner, as the view
-- reads them.  On one server (one node, 0) the same rows as the view.
CREATE FUNCTION @extschema@.citus_event_consumer_health(OUT consumer text, OUT acked_id bigint, OUT acked_at timestamptz,
                                                        OUT backlog bigint, OUT oldest_unacked_at timestamptz,
                                                        OUT oldest_unacked_age interval) RETURNS SETOF record
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
    nodes integer[] := ARRAY(SELECT n FROM @extschema@.citus_event_nodes() n ORDER BY n);
    tops bigint[] := '{}';
    pos bigint;
    first_at timestamptz;
BEGIN
    -- Per node (docs/scaling.md, "Claiming across nodes"): each node's
    -- newest event, each consumer's position there, and the first event
    -- after it; the backlog and the oldest wait over every node.
    FOR i IN 1 .. pg_catalog.cardinality(nodes) LOOP
        tops := tops || @extschema@.citus_node_top(nodes[i]);
    END LOOP;
    FOR c IN SELECT ec.name, ec.acked_id, ec.acked_at, ec.node_positions FROM @extschema@.event_consumers ec LOOP
        consumer := c.name;
        acked_id := c.acked_id;
        acked_at := c.acked_at;
        backlog := 0;
        oldest_unacked_at := NULL;
        FOR i IN 1 .. pg_catalog.cardinality(nodes) LOOP
            pos := @extschema@.citus_node_acked(c.node_positions, c.acked_id, nodes[i]);
            CONTINUE WHEN tops[i] <= pos;
            backlog := backlog + (tops[i] - pos);
            EXECUTE 'SELECT e.occurred_at FROM @extschema@.events e WHERE e.id > $1 AND e.id <= $2 ORDER BY e.id LIMIT 1'
               INTO first_at USING pos, tops[i];
            oldest_unacked_at := LEAST(oldest_unacked_at, first_at);
        END LOOP;
        oldest_unacked_age := pg_catalog.now() - oldest_unacked_at;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.citus_event_consumer_health() IS 'On Citus: the rows of task_api.event_consumer_health, read in queries Citus can plan.';

-- Functions that a view calls per row run where the rows are: on a worker,
-- inside the shard query, where reading another task_api table is a
-- distributed query Citus refuses (own_email() in api.users,
-- invitation_project_name() in api.invitations).  On Citus they read what
-- citus_pre_request() resolved on the coordinator instead: the caller's
-- email (citus_email()), and for GET /invitations alone the names of the
-- projects the caller owns or is invited to (task_api_citus.names, set by
-- citus_pre_request_reads()).
CREATE FUNCTION @extschema@.citus_pre_request_reads() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := @extschema@.current_user_id();
    ids uuid[];
    names jsonb;
BEGIN
    IF me IS NULL OR pg_catalog.current_setting('request.path', true) IS DISTINCT FROM '/invitations' THEN
        RETURN;
    END IF;
    -- One query each, with the values known: the invitee's invitations are
    -- looked up on every shard (invitations are sharded by project).
    ids := ARRAY(SELECT i.project_id FROM @extschema@.invitations i
                  WHERE i.user_id = me OR pg_catalog.lower(i.email) = pg_catalog.lower(@extschema@.citus_email()));
    ids := ids || @extschema@.member_project_ids('owner');
    SELECT pg_catalog.jsonb_object_agg(p.id, p.name) INTO names
      FROM @extschema@.projects p WHERE p.id = ANY (ids);
    EXECUTE pg_catalog.format('SET LOCAL task_api_citus.names = %L', coalesce(names, '{}'));
END
$$;
COMMENT ON FUNCTION @extschema@.citus_pre_request_reads() IS 'On Citus, part of citus_pre_request(): for GET /invitations, the names of the projects the caller owns or is invited to, SET LOCAL as task_api_citus.names.';

CREATE FUNCTION @extschema@.citus_project_name(project_id uuid) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN NULLIF(pg_catalog.current_setting('task_api_citus.names', true), '')::jsonb ->> project_id::text;
COMMENT ON FUNCTION @extschema@.citus_project_name(uuid) IS 'On Citus: the name of a project the caller owns or is invited to, from what citus_pre_request_reads() resolved for GET /invitations; else NULL.';

-- Part of distribute(), on every node: the API's functions and views above
-- point at the forms Citus can plan.  Their names, arguments, columns,
-- comments and grants stay.
CREATE FUNCTION @extschema@.distribute_reads() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ddl text := pg_catalog.current_setting('citus.enable_ddl_propagation', true);
BEGIN
    -- Each node replaces its own copy (distribute() runs this on every one).
    PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', 'off', true);
    CREATE OR REPLACE FUNCTION api.tasks_page(project_id uuid DEFAULT NULL, status @extschema@.task_status DEFAULT NULL,
                                              assignee_id uuid DEFAULT NULL, q text DEFAULT NULL,
                                              sort text DEFAULT 'created_at', direction text DEFAULT 'desc',
                                              page_size integer DEFAULT 25, cursor text DEFAULT NULL) RETURNS json
        LANGUAGE sql STABLE SECURITY INVOKER PARALLEL UNSAFE
        SET search_path = pg_catalog, pg_temp
        RETURN @extschema@.citus_tasks_page(project_id, status, assignee_id, q, sort, direction, page_size, cursor);
    CREATE OR REPLACE FUNCTION api.task_events_page(project_id uuid DEFAULT NULL, resource_type text DEFAULT NULL,
                                                    direction text DEFAULT 'desc', page_size integer DEFAULT 25,
                                                    cursor text DEFAULT NULL) RETURNS json
        LANGUAGE sql STABLE SECURITY INVOKER PARALLEL UNSAFE
        SET search_path = pg_catalog, pg_temp
        RETURN @extschema@.citus_task_events_page(project_id, resource_type, direction, page_size, cursor);
    CREATE OR REPLACE FUNCTION @extschema@.own_email(user_id uuid) RETURNS text
        LANGUAGE sql STABLE SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp
        RETURN CASE WHEN user_id OPERATOR(pg_catalog.=) @extschema@.current_user_id() THEN @extschema@.citus_email() END;
    CREATE OR REPLACE VIEW @extschema@.event_consumer_health AS
        SELECT h.consumer, h.acked_id, h.acked_at, h.backlog, h.oldest_unacked_at, h.oldest_unacked_age
          FROM @extschema@.citus_event_consumer_health() h;
    -- Consumers claim and acknowledge per node (97_citus_events.sql).
    CREATE OR REPLACE FUNCTION @extschema@.claim_events(consumer text, max integer DEFAULT 100)
        RETURNS SETOF @extschema@.events
        LANGUAGE sql VOLATILE SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp
        AS $f$ SELECT * FROM @extschema@.citus_claim_events(consumer, max) $f$;
    CREATE OR REPLACE FUNCTION @extschema@.ack_events(consumer text, last_id bigint) RETURNS bigint
        LANGUAGE sql VOLATILE SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp
        AS $f$ SELECT @extschema@.citus_ack_events(consumer, last_id) $f$;
    -- The coordinator's counters add the workers' event counters.
    CREATE OR REPLACE VIEW @extschema@.metrics AS
        SELECT m.metric, m.labels, m.type, m.value, m.help FROM @extschema@.citus_metrics_read() m;
    CREATE OR REPLACE VIEW api.invitations WITH (security_invoker = true) AS
        SELECT i.id, i.project_id, i.email, i.user_id, i.role, i.created_at, i.expires_at,
               @extschema@.citus_project_name(i.project_id) AS project_name
          FROM @extschema@.invitations i
         WHERE i.expires_at OPERATOR(pg_catalog.>) pg_catalog.now();
    -- The trash's rows are checked on the shards: against the roles
    -- citus_pre_request() resolved, not the membership cache (a look-up
    -- from a shard).
    CREATE OR REPLACE VIEW api.trash WITH (security_invoker = true) AS
        SELECT 'project'::text AS resource_type, p.id, p.id AS project_id, p.name AS title,
               p.deleted_at, p.deleted_by, p.deleted_at OPERATOR(pg_catalog.+) @extschema@.trash_retention() AS purge_after
          FROM @extschema@.projects p
         WHERE p.deleted_at IS NOT NULL AND @extschema@.citus_has_role(p.id, 'owner')
        UNION ALL
        SELECT 'task'::text, t.id, t.project_id, t.title,
               t.deleted_at, t.deleted_by, t.deleted_at OPERATOR(pg_catalog.+) @extschema@.trash_retention()
          FROM @extschema@.tasks t
          JOIN @extschema@.projects p ON p.id OPERATOR(pg_catalog.=) t.project_id AND p.deleted_at IS NULL
         WHERE t.deleted_at IS NOT NULL AND NOT t.deleted_with_project
           AND @extschema@.citus_has_role(t.project_id, 'editor');
    -- The triggers' checks of the caller's role (tasks_update(), ... one per
    -- row) read what citus_pre_request() resolved.
    CREATE OR REPLACE FUNCTION @extschema@.project_role(project_id uuid) RETURNS @extschema@.member_role
        LANGUAGE sql STABLE STRICT PARALLEL RESTRICTED
        RETURN @extschema@.citus_project_role(project_id);
    GRANT EXECUTE ON FUNCTION @extschema@.citus_tasks_page(uuid, @extschema@.task_status, uuid, text, text, text, integer, text),
        @extschema@.citus_task_events_page(uuid, text, text, integer, text),
        @extschema@.citus_search_tasks(uuid[], text), @extschema@.citus_project_name(uuid) TO task_api_user;
    GRANT EXECUTE ON FUNCTION @extschema@.citus_event_consumer_health(), @extschema@.citus_metrics_read() TO pg_monitor;
    PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', coalesce(ddl, 'on'), true);
END
$$;
COMMENT ON FUNCTION @extschema@.distribute_reads() IS 'Part of distribute(), on every node: api.tasks_page, api.task_events_page, own_email(), event_consumer_health, api.invitations and api.trash read in forms Citus can plan, project_role() reads the resolved caller, claim_events() and ack_events() work per node and task_api.metrics adds the workers'' event counters (docs/scaling.md).';

REVOKE ALL ON FUNCTION @extschema@.citus_search_tasks(uuid[], text),
    @extschema@.citus_tasks_page(uuid, @extschema@.task_status, uuid, text, text, text, integer, text),
    @extschema@.citus_task_events_page(uuid, text, text, integer, text),
    @extschema@.citus_event_consumer_health(), @extschema@.citus_pre_request_reads(),
    @extschema@.citus_project_name(uuid), @extschema@.distribute_reads() FROM PUBLIC;
