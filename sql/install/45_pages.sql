-- Cursor pagination (docs/contract.md §6) ------------------------------------
-- Signed opaque cursors (C: cursor.c over the pure-C codec cursor_codec.c),
-- public so users can paginate their own functions, and the two page
-- endpoints GET /rpc/tasks_page and GET /rpc/projects_page.
--
-- Keyset order is (sort key, id).  A NULL due_date sorts as +infinity:
-- last in ascending order, first in descending order, which is what one
-- index scanned forwards or backwards gives.  A cursor only carries a
-- position: every page runs under the caller's row-level security.

CREATE FUNCTION @extschema@.cursor_encode(sort_key anyelement, last_id uuid, direction text, fingerprint text) RETURNS text
    AS 'MODULE_PATHNAME', 'task_api_cursor_encode' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cursor_encode(anyelement, uuid, text, text) IS 'A signed, URL-safe cursor that resumes a keyset walk after the row (sort_key, last_id): sort_key of type smallint, integer, bigint, timestamptz, timestamp, date, text (<= 512 bytes) or uuid, possibly NULL; direction asc or desc; fingerprint any canonical text describing the filters and sort (its SHA-256 is kept). HMAC-SHA-256 under task_api.cursor_secret.';

CREATE FUNCTION @extschema@.cursor_decode(cursor text, fingerprint text, key_type anyelement,
                                          OUT sort_key anyelement, OUT last_id uuid, OUT direction text) RETURNS record
    AS 'MODULE_PATHNAME', 'task_api_cursor_decode' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cursor_decode(text, text, anyelement) IS 'The position a cursor from cursor_encode() carries: invalid_cursor (400) unless it is intact and signed with task_api.cursor_secret; cursor_mismatch (400) unless it was made with the same fingerprint and a sort key of key_type''s type (pass NULL::<type>). NULL for a NULL cursor.';

CREATE FUNCTION @extschema@.percent_encode(value text) RETURNS text
    AS 'MODULE_PATHNAME', 'task_api_percent_encode' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.percent_encode(text) IS 'RFC 3986 percent-encoding of every byte but A-Z a-z 0-9 - . _ ~, for URL query values.';

-- Indexes: one per sort key, on live rows only (the API never shows trashed
-- ones), led by project_id so that a page of one project is one range scan
-- of (project_id, key, id); created_at uses tasks_project_created_idx
-- (40_tasks.sql).  Every index can be scanned both ways.
CREATE INDEX tasks_project_updated_idx ON @extschema@.tasks (project_id, updated_at, id)
    WHERE deleted_at IS NULL;
-- btree puts NULLs last ascending: a NULL due_date sorts as +infinity.
CREATE INDEX tasks_project_due_idx ON @extschema@.tasks (project_id, due_date, id)
    WHERE deleted_at IS NULL;
CREATE INDEX tasks_project_priority_idx ON @extschema@.tasks (project_id, priority, id)
    WHERE deleted_at IS NULL;
-- q: full-text search over title and description with the fixed 'simple'
-- configuration (no stemming or stop words, the same for every language).
CREATE INDEX tasks_search_idx ON @extschema@.tasks
    USING gin (pg_catalog.to_tsvector('simple'::regconfig,
               title OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) COALESCE(description, '')))
    WHERE deleted_at IS NULL;

-- The live tasks of projects (and of the caller's projects: the tasks
-- policy, spelled out) that match a websearch_to_tsquery() query, found
-- through tasks_search_idx.  SECURITY DEFINER because under row-level
-- security PostgreSQL may not use an index for the @@ operator (it is not
-- leakproof); tasks_page joins the ids back through api.tasks, so its
-- policy applies to every row returned all the same.
CREATE FUNCTION @extschema@.search_tasks(projects uuid[], q text) RETURNS SETOF uuid
    LANGUAGE sql STABLE SECURITY DEFINER PARALLEL RESTRICTED
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.id FROM @extschema@.tasks t
     WHERE t.deleted_at IS NULL
       AND t.project_id = ANY (projects)
       AND t.project_id = ANY ((SELECT @extschema@.member_project_ids('viewer'))::uuid[])
       AND pg_catalog.to_tsvector('simple'::regconfig, t.title || ' ' || COALESCE(t.description, ''))
           @@ pg_catalog.websearch_to_tsquery('simple'::regconfig, q)
$$;
COMMENT ON FUNCTION @extschema@.search_tasks(uuid[], text) IS 'Ids of the caller''s live tasks in projects that match the full-text query q (websearch syntax, ''simple'' configuration), through the GIN index tasks_search_idx.';

-- The Link header of a page that has more: the same path (request.path,
-- as PostgREST saw it) and arguments with the new cursor, as a path-absolute
-- reference that clients resolve against the URL they called (RFC 8288).
-- SECURITY DEFINER so that callers need no right to set arbitrary headers.
CREATE FUNCTION @extschema@.page_link(default_path text, args text[], cursor text) RETURNS void
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    path text := current_setting('request.path', true);
    query text := '';
BEGIN
    IF path IS NULL OR path !~ '^/[A-Za-z0-9/_.~-]*$' THEN
        path := default_path;
    END IF;
    -- The path goes into the header as it is: whichever one is used must be
    -- a plain path, or a direct caller could put any URL or parameter there.
    IF path IS NULL OR path !~ '^/[A-Za-z0-9/_.~-]*$' THEN
        RAISE EXCEPTION 'page_link: "%" is not a plain absolute path', path
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR i IN 1 .. coalesce(array_length(args, 1), 0) / 2 LOOP
        IF args[2 * i] IS NOT NULL THEN
            query := query || @extschema@.percent_encode(args[2 * i - 1]) || '='
                           || @extschema@.percent_encode(args[2 * i]) || '&';
        END IF;
    END LOOP;
    PERFORM @extschema@.append_response_header('Link',
        format('<%s?%scursor=%s>; rel="next"', path, query, @extschema@.percent_encode(cursor)));
END
$$;
COMMENT ON FUNCTION @extschema@.page_link(text, text[], text) IS 'Append Link: <path?args&cursor=...>; rel="next" to the response: args are name, value pairs (NULL values are left out), path is request.path or default_path.';

-- invalid_parameter unless sort, direction and page_size are acceptable.
CREATE FUNCTION @extschema@.check_page_args(sort text, sorts text[], direction text, page_size integer) RETURNS void
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT (sort = ANY (sorts)) THEN
        PERFORM @extschema@.raise_error('invalid_parameter', format('sort must be one of %s', array_to_string(sorts, ', ')),
            format('sort was "%s".', sort), NULL);
    END IF;
    IF direction IS DISTINCT FROM 'asc' AND direction IS DISTINCT FROM 'desc' THEN
        PERFORM @extschema@.raise_error('invalid_parameter', 'direction must be asc or desc',
            format('direction was "%s".', direction), NULL);
    END IF;
    IF page_size NOT BETWEEN 1 AND 100 THEN
        PERFORM @extschema@.raise_error('invalid_parameter', 'page_size must be between 1 and 100',
            format('page_size was %s.', page_size), NULL);
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.check_page_args(text, text[], text, integer) IS 'Raise invalid_parameter (400) for a sort not in sorts, a direction other than asc or desc, or a page_size outside 1..100.';

-- A q PostgreSQL cannot turn into a query (more than 32 nested NOTs,
-- "tsquery stack too small", an internal error: 500), or one so large that
-- matching it overflows the stack (413), is invalid_parameter.
CREATE FUNCTION @extschema@.check_search_q(q text) RETURNS void
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    q_nodes integer;
BEGIN
    IF q IS NULL THEN
        RETURN;
    END IF;
    BEGIN
        q_nodes := numnode(websearch_to_tsquery('simple'::regconfig, q));
    EXCEPTION WHEN internal_error OR program_limit_exceeded OR statement_too_complex THEN
        q_nodes := NULL;
    END;
    IF q_nodes IS NULL OR q_nodes > 1000 THEN
        PERFORM @extschema@.raise_error('invalid_parameter', 'q is too complex',
            'q makes a full-text query of more than 1000 terms and operators, or nests more than 32 NOTs.', NULL);
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.check_search_q(text) IS 'Raise invalid_parameter (400) for a search q that makes a full-text query of more than 1000 terms and operators, or one PostgreSQL cannot build.';

-- The keyset ranges of a tasks page after its cursor, each one index range
-- scan, as WHERE fragments: key_ref and id_ref are how the query refers to
-- the cursor's sort key and id (api.tasks_page() and its Citus form read
-- them differently).  A NULL due_date sorts as +infinity, which is where the
-- (project_id, due_date, id) index keeps it: last ascending, first
-- descending.  Around the NULLs the rest of a walk is two ranges, read one
-- after the other.  Only fixed fragments: sort and direction are checked
-- first (check_page_args()).
CREATE FUNCTION @extschema@.task_page_ranges(key_expr text, sort text, direction text, has_cursor boolean,
                                             key_null boolean, key_ref text, id_ref text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE
        WHEN NOT has_cursor THEN ARRAY['']
        WHEN sort <> 'due_date' OR (direction = 'desc' AND NOT key_null) THEN
            ARRAY[pg_catalog.format(' AND (%s, t.id) %s (%s, %s)', key_expr,
                                    CASE direction WHEN 'asc' THEN '>' ELSE '<' END, key_ref, id_ref)]
        WHEN direction = 'asc' AND NOT key_null THEN
            ARRAY[pg_catalog.format(' AND (t.due_date, t.id) > (%s, %s)', key_ref, id_ref), ' AND t.due_date IS NULL']
        WHEN direction = 'asc' THEN
            ARRAY[pg_catalog.format(' AND t.due_date IS NULL AND t.id > %s', id_ref)]
        ELSE
            ARRAY[pg_catalog.format(' AND t.due_date IS NULL AND t.id < %s', id_ref), ' AND t.due_date IS NOT NULL']
    END;
COMMENT ON FUNCTION @extschema@.task_page_ranges(text, text, text, boolean, boolean, text, text) IS 'The keyset ranges of a tasks page after its cursor, as WHERE fragments over api.tasks t (key_ref and id_ref: how the query reads the cursor''s key and id); api.tasks_page() and its Citus form.';

-- The end of every page function.  rows holds the page in order and, when
-- there is a next page, one row more (the page queries read page_size + 1
-- rows).  The next cursor resumes after the page's last row: its sort key is
-- that row's key_col, its id the row's id_col (names the caller fixes).
CREATE FUNCTION @extschema@.page_tail(rows_ anyarray, page_size integer, key_col text, id_col text,
                                      direction text, fingerprint text, path text, args text[]) RETURNS json
    LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    has_more boolean := coalesce(cardinality(rows_), 0) > page_size;
    next_cursor text;
BEGIN
    IF has_more THEN
        -- The sort key keeps its own type in the cursor.
        EXECUTE format('SELECT @extschema@.cursor_encode(($1[$2]).%I, ($1[$2]).%I, $3, $4)', key_col, id_col)
            INTO next_cursor USING rows_, page_size, direction, fingerprint;
        PERFORM @extschema@.page_link(path, args, next_cursor);
    END IF;
    RETURN json_build_object('data', array_to_json(rows_[1:page_size]), 'next_cursor', next_cursor, 'has_more', has_more);
END
$$;
COMMENT ON FUNCTION @extschema@.page_tail(anyarray, integer, text, text, text, text, text, text[]) IS 'The response of a page function from its rows (page_size, and one more if there is a next page): {data, next_cursor, has_more}, and the Link header (page_link(path, args, cursor)) when there is more.';

-- GET /rpc/tasks_page ----------------------------------------------------------

CREATE FUNCTION api.tasks_page(project_id uuid DEFAULT NULL, status @extschema@.task_status DEFAULT NULL,
                               assignee_id uuid DEFAULT NULL, q text DEFAULT NULL,
                               sort text DEFAULT 'created_at', direction text DEFAULT 'desc',
                               page_size integer DEFAULT 25, cursor text DEFAULT NULL) RETURNS json
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
    key_null boolean := false;
    ranges text[];
    filters text := '';
    branch text;
    projects uuid[];
    sql text := '';
    with_ text;
    rows_ api.tasks[] := '{}';
    r record;
BEGIN
    PERFORM @extschema@.check_page_args(sort_, ARRAY['created_at', 'updated_at', 'due_date', 'priority'], dir, n);
    PERFORM @extschema@.check_search_q(q_norm);
    -- What the cursor is bound to: the filters, the sort and the direction.
    fp := jsonb_build_array('api.tasks_page', project_id, status, assignee_id, q_norm, sort_, dir)::text;

    -- Only fixed SQL fragments are put together; every value is a parameter.
    key_expr := 't.' || CASE sort_ WHEN 'updated_at' THEN 'updated_at' WHEN 'due_date' THEN 'due_date'
                                   WHEN 'priority' THEN 'priority' ELSE 'created_at' END;
    key_type := CASE sort_ WHEN 'due_date' THEN 'date' WHEN 'priority' THEN 'smallint' ELSE 'timestamptz' END;

    IF cursor IS NOT NULL THEN
        -- Checked here first, so a bad cursor is an error even when nothing is visible.
        EXECUTE format('SELECT d.sort_key IS NULL FROM @extschema@.cursor_decode($1, $2, NULL::%s) d', key_type)
            INTO key_null USING cursor, fp;
    END IF;
    -- The keyset ranges after the cursor, read from the materialized c.
    ranges := @extschema@.task_page_ranges(key_expr, sort_, dir, cursor IS NOT NULL, key_null,
                                           '(SELECT c.sort_key FROM c)', '(SELECT c.last_id FROM c)');
    IF status IS NOT NULL THEN
        filters := filters || ' AND t.status = $2';
    END IF;
    IF assignee_id IS NOT NULL THEN
        filters := filters || ' AND t.assignee_id = $3';
    END IF;

    -- The projects to read: the one asked for, or every project of the
    -- caller (RLS applies on top either way).  Without q: per project and
    -- range, one ordered index range scan that stops after page_size + 1
    -- rows, then a merge, so a page costs the same at any depth.  With q:
    -- the matches come from the full-text index (search_tasks), then are
    -- ordered.
    projects := CASE WHEN project_id IS NOT NULL THEN ARRAY[project_id]
                     ELSE @extschema@.member_project_ids('viewer') END;
    FOREACH branch IN ARRAY ranges LOOP
        IF sql <> '' THEN
            sql := sql || ' UNION ALL ';
        END IF;
        sql := sql || format($q$(SELECT t, %1$s AS k FROM api.tasks t WHERE %2$s%3$s%4$s
                                  ORDER BY %1$s %5$s, t.id %5$s LIMIT $7 + 1)$q$,
            key_expr,
            CASE WHEN q_norm IS NULL THEN 't.project_id = p.id'
                 ELSE 't.project_id = ANY ($1) AND t.id IN (SELECT m.id FROM m)' END,
            branch, filters, dir);
    END LOOP;
    IF q_norm IS NULL THEN
        sql := format($q$SELECT l.t, l.k FROM pg_catalog.unnest($1) AS p(id) CROSS JOIN LATERAL (%s) l$q$, sql);
    END IF;
    with_ := concat_ws(', ',
        CASE WHEN cursor IS NOT NULL THEN
            format('c AS MATERIALIZED (SELECT * FROM @extschema@.cursor_decode($5, $6, NULL::%s))', key_type) END,
        CASE WHEN q_norm IS NOT NULL THEN
            'm AS MATERIALIZED (SELECT s.id FROM @extschema@.search_tasks($1, $4) AS s(id))' END);
    sql := format($q$%1$s
        SELECT y.t
          FROM (%2$s) y
         ORDER BY y.k %3$s, (y.t).id %3$s
         LIMIT $7 + 1$q$,
        CASE WHEN with_ <> '' THEN 'WITH ' || with_ END, sql, dir);

    FOR r IN EXECUTE sql USING projects, status, assignee_id, q_norm, cursor, fp, n LOOP
        rows_ := rows_ || r.t;
    END LOOP;
    -- sort_ is one of the columns check_page_args() allowed.
    RETURN @extschema@.page_tail(rows_, n, sort_, 'id', dir, fp, '/rpc/tasks_page',
        ARRAY['project_id', project_id::text, 'status', status::text, 'assignee_id', assignee_id::text,
              'q', q_norm, 'sort', sort_, 'direction', dir, 'page_size', n::text]);
END
$$;
COMMENT ON FUNCTION api.tasks_page(uuid, @extschema@.task_status, uuid, text, text, text, integer, text) IS E'One page of your tasks in keyset order.\n\nReturns {data (rows as in /tasks), next_cursor, has_more}, with a Link rel="next" header when there is more. A walk returns every task that exists throughout exactly once, whatever is written meanwhile.\n\nArguments:\nproject_id: only this project''s tasks.\nstatus: only tasks with this status.\nassignee_id: only tasks assigned to this user.\nq: full-text search over title and description (websearch syntax).\nsort: created_at (default), updated_at, due_date (no due date sorts as the latest) or priority; ties are broken by id.\ndirection: desc (default) or asc.\npage_size: rows per page, 1..100 (default 25); may change between pages.\ncursor: next_cursor of the previous page; valid only with the same filters, sort and direction.';

-- GET /rpc/projects_page -------------------------------------------------------

CREATE FUNCTION api.projects_page(sort text DEFAULT 'created_at', direction text DEFAULT 'desc',
                                  page_size integer DEFAULT 25, cursor text DEFAULT NULL) RETURNS json
    LANGUAGE plpgsql STABLE SECURITY INVOKER PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    sort_ text := coalesce(sort, 'created_at');
    dir text := coalesce(direction, 'desc');
    n integer := coalesce(page_size, 25);
    fp text;
    key_expr text;
    cmp text;
    where_ text := '';
    sql text;
    rows_ api.projects[] := '{}';
    r record;
BEGIN
    PERFORM @extschema@.check_page_args(sort_, ARRAY['created_at', 'updated_at'], dir, n);
    fp := jsonb_build_array('api.projects_page', sort_, dir)::text;
    key_expr := CASE sort_ WHEN 'created_at' THEN 'p.created_at' ELSE 'p.updated_at' END;
    cmp := CASE dir WHEN 'asc' THEN '>' ELSE '<' END;
    IF cursor IS NOT NULL THEN
        PERFORM @extschema@.cursor_decode(cursor, fp, NULL::timestamptz);
        where_ := format(' AND (%s, p.id) %s ((SELECT c.sort_key FROM c), (SELECT c.last_id FROM c))', key_expr, cmp);
    END IF;
    -- The caller's projects are found by id (owners are members too), then
    -- ordered: a page costs the same at any depth, in proportion to how
    -- many projects the caller belongs to.
    sql := format($q$%1$s
        SELECT p
          FROM api.projects p
         WHERE p.id = ANY ((SELECT @extschema@.member_project_ids('viewer'))::uuid[]) %3$s
         ORDER BY %2$s %4$s, p.id %4$s
         LIMIT $3 + 1$q$,
        CASE WHEN cursor IS NOT NULL THEN
            'WITH c AS MATERIALIZED (SELECT * FROM @extschema@.cursor_decode($1, $2, NULL::timestamptz))' END,
        key_expr, where_, dir);
    FOR r IN EXECUTE sql USING cursor, fp, n LOOP
        rows_ := rows_ || r.p;
    END LOOP;
    RETURN @extschema@.page_tail(rows_, n, sort_, 'id', dir, fp, '/rpc/projects_page',
        ARRAY['sort', sort_, 'direction', dir, 'page_size', n::text]);
END
$$;
COMMENT ON FUNCTION api.projects_page(text, text, integer, text) IS E'One page of your projects in keyset order.\n\nReturns {data (rows as in /projects), next_cursor, has_more}, with a Link rel="next" header when there is more.\n\nArguments:\nsort: created_at (default) or updated_at; ties are broken by id.\ndirection: desc (default) or asc.\npage_size: rows per page, 1..100 (default 25); may change between pages.\ncursor: next_cursor of the previous page; valid only with the same sort and direction.';

-- Privileges (90_grants.sql takes everything from PUBLIC).
GRANT EXECUTE ON FUNCTION
    @extschema@.cursor_encode(anyelement, uuid, text, text),
    @extschema@.cursor_decode(text, text, anyelement),
    @extschema@.percent_encode(text),
    @extschema@.search_tasks(uuid[], text),
    @extschema@.page_link(text, text[], text),
    @extschema@.check_page_args(text, text[], text, integer),
    @extschema@.check_search_q(text),
    @extschema@.task_page_ranges(text, text, text, boolean, boolean, text, text),
    @extschema@.page_tail(anyarray, integer, text, text, text, text, text, text[]),
    api.tasks_page(uuid, @extschema@.task_status, uuid, text, text, text, integer, text),
    api.projects_page(text, text, integer, text)
TO task_api_user;
