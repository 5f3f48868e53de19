-- The OpenAPI 3.1 document at / ---------------------------------------------
-- PostgREST's db-root-spec calls api.openapi() as the request's role.  The
-- document is built from the catalogue (the api views, their columns, types
-- and comments, the api functions and their arguments, the caller's
-- privileges, the views' triggers) plus openapi_facts(): the one place for
-- what only the extension knows (statuses, bodies, headers, error codes).
-- A new view, column, function or comment appears by itself, with defaults.

CREATE FUNCTION @extschema@.openapi_facts() RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
SELECT $json${
  "errors": {
    "read": ["unauthenticated", "origin_not_allowed", "invalid_parameter", "query_too_expensive", "rate_limited", "busy", "internal_error", "unavailable"],
    "write": ["unauthenticated", "forbidden", "csrf_failed", "validation_failed", "conflict", "precondition_failed",
              "payload_too_large", "invalid_idempotency_key", "idempotency_key_reused", "idempotency_in_progress",
              "invalid_parameter", "method_not_allowed", "origin_not_allowed", "query_too_expensive", "rate_limited",
              "read_only_replica", "busy", "internal_error", "unavailable"],
    "rpc": ["unauthenticated", "forbidden", "csrf_failed", "origin_not_allowed", "validation_failed", "not_found", "conflict",
            "query_too_expensive", "rate_limited", "read_only_replica", "busy", "internal_error", "unavailable"]
  },
  "views": {
    "project_members": {"refuse": ["POST"], "null_always": ["email"]},
    "users": {"nullable": ["email"]}
  },
  "functions": {
    "signup": {"status": 201, "body": {"$ref": "#/components/schemas/Session"}, "anonymous": true,
               "errors": ["validation_failed", "conflict", "csrf_failed", "rate_limited", "busy", "internal_error", "unavailable"]},
    "login": {"status": 200, "body": {"$ref": "#/components/schemas/Session"}, "anonymous": true,
              "errors": ["invalid_credentials", "validation_failed", "csrf_failed", "rate_limited", "busy", "internal_error", "unavailable"]},
    "create_api_key": {"status": 201, "body": {"$ref": "#/components/schemas/ApiKeyCreated"}},
    "logout": {"errors": ["unauthenticated", "csrf_failed", "origin_not_allowed", "rate_limited", "read_only_replica", "busy", "internal_error", "unavailable"]},
    "refresh": {"body": {"$ref": "#/components/schemas/Session"},
                "errors": ["unauthenticated", "forbidden", "csrf_failed", "origin_not_allowed", "rate_limited", "read_only_replica", "busy", "internal_error", "unavailable"]},
    "metrics": {"body": {"type": "string", "contentMediaType": "text/plain", "description": "The Prometheus text format, version 0.0.4."},
                "errors": ["unauthenticated", "forbidden", "busy", "internal_error", "unavailable"]},
    "tasks_page": {"page": "tasks", "enums": {"sort": ["created_at", "updated_at", "due_date", "priority"]}},
    "projects_page": {"page": "projects", "enums": {"sort": ["created_at", "updated_at"]}},
    "task_events_page": {"page": "task_events", "enums": {"resource_type": ["project", "member", "task"]}},
    "openapi": {"body": {"type": "object", "description": "This document."}, "anonymous": true, "errors": ["rate_limited", "internal_error"]}
  },
  "pgrst": {"PGRST100": 400, "PGRST102": 400, "PGRST204": 400, "PGRST301": 401, "PGRST116": 406,
            "PGRST103": 416, "PGRST001": 503, "PGRST002": 503, "PGRST003": 504},
  "page_enums": {"direction": ["asc", "desc"]},
  "page_errors": ["unauthenticated", "origin_not_allowed", "invalid_parameter", "invalid_cursor", "cursor_mismatch",
                  "query_too_expensive", "rate_limited", "busy", "internal_error", "unavailable"]
}$json$::jsonb
$$;
COMMENT ON FUNCTION @extschema@.openapi_facts() IS 'What only the extension knows for the OpenAPI document: per operation its success status and body, its error codes, and per view the methods refused and the nullable columns.';

-- The JSON Schema of a column or argument type (enums with their labels).
CREATE FUNCTION @extschema@.openapi_type(typ oid, nullable boolean) RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH base AS (
        SELECT CASE
            WHEN t.typtype OPERATOR(pg_catalog.=) 'e' THEN pg_catalog.jsonb_build_object('type', 'string', 'enum',
                (SELECT pg_catalog.jsonb_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e
                  WHERE e.enumtypid OPERATOR(pg_catalog.=) t.oid))
            WHEN t.typname IN ('int2', 'int4', 'int8') THEN '{"type": "integer"}'::jsonb
            WHEN t.typname IN ('float4', 'float8', 'numeric') THEN '{"type": "number"}'::jsonb
            WHEN t.typname OPERATOR(pg_catalog.=) 'bool' THEN '{"type": "boolean"}'::jsonb
            WHEN t.typname OPERATOR(pg_catalog.=) 'uuid' THEN '{"type": "string", "format": "uuid"}'::jsonb
            WHEN t.typname OPERATOR(pg_catalog.=) 'timestamptz' THEN '{"type": "string", "format": "date-time"}'::jsonb
            WHEN t.typname OPERATOR(pg_catalog.=) 'date' THEN '{"type": "string", "format": "date"}'::jsonb
            WHEN t.typname IN ('json', 'jsonb') THEN '{}'::jsonb
            WHEN t.typcategory OPERATOR(pg_catalog.=) 'A' THEN '{"type": "array"}'::jsonb
            ELSE '{"type": "string"}'::jsonb END AS s
          FROM pg_catalog.pg_type t WHERE t.oid OPERATOR(pg_catalog.=) typ)
    SELECT CASE WHEN NOT nullable OR NOT (b.s ? 'type') THEN b.s
                ELSE b.s OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('type',
                         pg_catalog.jsonb_build_array(b.s OPERATOR(pg_catalog.->>) 'type', 'null'))
                         OPERATOR(pg_catalog.||) CASE WHEN b.s ? 'enum' THEN pg_catalog.jsonb_build_object('enum',
                         (b.s OPERATOR(pg_catalog.->) 'enum') OPERATOR(pg_catalog.||) '[null]'::jsonb) ELSE '{}'::jsonb END END
      FROM base b
$$;
COMMENT ON FUNCTION @extschema@.openapi_type(oid, boolean) IS 'The JSON Schema of a type for the OpenAPI document, null allowed when nullable.';

-- Item schemas of the api views the caller may read: a column is non-null when
-- the task_api table of the same name holds it NOT NULL and the facts do not
-- say otherwise.
CREATE FUNCTION @extschema@.openapi_schemas() RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(pg_catalog.jsonb_object_agg(v.relname, pg_catalog.jsonb_build_object(
               'type', 'object', 'description', coalesce(pg_catalog.obj_description(v.oid, 'pg_class'), v.relname),
               'properties', cols.props)), '{}'::jsonb)
      FROM pg_catalog.pg_class v
      JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) v.relnamespace AND n.nspname OPERATOR(pg_catalog.=) 'api'
      CROSS JOIN LATERAL (
          SELECT pg_catalog.jsonb_object_agg(a.attname, CASE WHEN nulls.always THEN '{"type": "null"}'::jsonb
                     ELSE @extschema@.openapi_type(a.atttypid, NOT coalesce(b.attnotnull, false) OR nulls.facts) END
                     OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('description',
                         coalesce(pg_catalog.col_description(v.oid, a.attnum), a.attname))) AS props
            FROM pg_catalog.pg_attribute a
            LEFT JOIN pg_catalog.pg_attribute b
                   ON b.attrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass('@extschema@.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(v.relname))
                  AND b.attname OPERATOR(pg_catalog.=) a.attname AND NOT b.attisdropped
            CROSS JOIN LATERAL (SELECT
                coalesce(@extschema@.openapi_facts() OPERATOR(pg_catalog.#>) ARRAY['views', v.relname::text, 'nullable'], '[]')
                    ? a.attname::text AS facts,
                coalesce(@extschema@.openapi_facts() OPERATOR(pg_catalog.#>) ARRAY['views', v.relname::text, 'null_always'], '[]')
                    ? a.attname::text AS always) nulls
           WHERE a.attrelid OPERATOR(pg_catalog.=) v.oid AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
             AND pg_catalog.has_column_privilege(v.oid, a.attnum, 'SELECT')) cols
     WHERE v.relkind IN ('v', 'r') AND pg_catalog.has_table_privilege(v.oid, 'SELECT')
$$;
COMMENT ON FUNCTION @extschema@.openapi_schemas() IS 'The item schema of every api view the caller may read, for the OpenAPI document.';

-- The error responses of an operation: one per status, each the Error schema
-- with the codes (the catalogue's and PostgREST's) it can carry.
CREATE FUNCTION @extschema@.openapi_errors(codes jsonb) RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH c AS (
        SELECT e.code, e.status FROM @extschema@.error_codes e
         WHERE codes ? e.code
        UNION ALL
        SELECT p.key, p.value::text::integer
          FROM pg_catalog.jsonb_each(@extschema@.openapi_facts() OPERATOR(pg_catalog.->) 'pgrst') p)
    SELECT pg_catalog.jsonb_object_agg(s.status::text, pg_catalog.jsonb_build_object(
               'description', 'Error: ' OPERATOR(pg_catalog.||) s.names,
               'headers', CASE WHEN s.status IN (429, 503, 504)
                               THEN '{"Retry-After": {"$ref": "#/components/headers/Retry-After"}}'::jsonb
                                    OPERATOR(pg_catalog.||) @extschema@.openapi_rate_headers()
                               ELSE @extschema@.openapi_rate_headers() END,
               'content', pg_catalog.jsonb_build_object('application/json', pg_catalog.jsonb_build_object('schema',
                   pg_catalog.jsonb_build_object('allOf', pg_catalog.jsonb_build_array(
                       '{"$ref": "#/components/schemas/Error"}'::jsonb,
                       pg_catalog.jsonb_build_object('properties', pg_catalog.jsonb_build_object('code',
                           pg_catalog.jsonb_build_object('enum', s.list)))))))))
      FROM (SELECT c.status, pg_catalog.jsonb_agg(c.code ORDER BY c.code) AS list,
                   pg_catalog.string_agg(c.code, ', ' ORDER BY c.code) AS names
              FROM c GROUP BY c.status) s
$$;
COMMENT ON FUNCTION @extschema@.openapi_errors(jsonb) IS 'The OpenAPI error responses for a list of catalogue codes, grouped by status, with PostgREST''s own codes a client can meet.';

CREATE FUNCTION @extschema@.openapi_rate_headers() RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT '{"RateLimit": {"$ref": "#/components/headers/RateLimit"},
             "RateLimit-Policy": {"$ref": "#/components/headers/RateLimit-Policy"}}'::jsonb
$$;
COMMENT ON FUNCTION @extschema@.openapi_rate_headers() IS 'The rate-limit response headers every answer carries, for the OpenAPI document.';

-- An OpenAPI response: status, description, optional body, headers.
CREATE FUNCTION @extschema@.openapi_response(description text, body jsonb, headers jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.jsonb_build_object('description', description,
               'headers', @extschema@.openapi_rate_headers() OPERATOR(pg_catalog.||) coalesce(headers, '{}'))
           OPERATOR(pg_catalog.||) CASE WHEN body IS NULL THEN '{}'::jsonb
               -- A function answering another media type (a domain named after it).
               WHEN body ? 'contentMediaType' THEN pg_catalog.jsonb_build_object('content', pg_catalog.jsonb_build_object(
                        body OPERATOR(pg_catalog.->>) 'contentMediaType', pg_catalog.jsonb_build_object('schema', body)))
               ELSE pg_catalog.jsonb_build_object('content', pg_catalog.jsonb_build_object('application/json',
                        pg_catalog.jsonb_build_object('schema', body))
                    OPERATOR(pg_catalog.||) CASE WHEN body ? 'items' THEN pg_catalog.jsonb_build_object(
                        'application/vnd.pgrst.object+json', pg_catalog.jsonb_build_object('schema', body OPERATOR(pg_catalog.->) 'items'))
                        ELSE '{}'::jsonb END) END
$$;
COMMENT ON FUNCTION @extschema@.openapi_response(text, jsonb, jsonb) IS 'One OpenAPI response object with the rate-limit headers; rows can also be asked for as one object (Accept: application/vnd.pgrst.object+json).';

-- The operations on one api view the caller may perform.
CREATE FUNCTION @extschema@.openapi_view_path(v oid) RETURNS jsonb
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    name text := (SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) v);
    facts jsonb := @extschema@.openapi_facts();
    refused jsonb := coalesce(facts OPERATOR(pg_catalog.#>) ARRAY['views', name, 'refuse'], '[]');
    item jsonb := pg_catalog.jsonb_build_object('$ref', '#/components/schemas/' OPERATOR(pg_catalog.||) name);
    rows_ jsonb := pg_catalog.jsonb_build_object('type', 'array', 'items', item);
    filters jsonb;
    versioned boolean;
    idempotent boolean;
    write_params jsonb;
    write_headers jsonb;
    security jsonb := '[{"bearer": []}, {"apiKey": []}, {"cookie": []}]';
    write_security jsonb := '[{"bearer": []}, {"apiKey": []}, {"cookie": [], "csrf": []}]';
    tag text := pg_catalog.initcap(pg_catalog.replace(name, '_', ' '));
    ops jsonb := '{}';
BEGIN
    SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('name', a.attname, 'in', 'query', 'required', false,
               'description', 'A PostgREST filter on ' OPERATOR(pg_catalog.||) a.attname OPERATOR(pg_catalog.||) ', e.g. eq.<value>',
               'schema', '{"type": "string"}'::jsonb) ORDER BY a.attnum), '[]'),
           pg_catalog.bool_or(a.attname OPERATOR(pg_catalog.=) 'version')
      INTO filters, versioned
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid OPERATOR(pg_catalog.=) v AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
       AND pg_catalog.has_column_privilege(v, a.attnum, 'SELECT');
    versioned := coalesce(versioned, false);
    idempotent := EXISTS (SELECT FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_proc p ON p.oid OPERATOR(pg_catalog.=) t.tgfoid
                           WHERE t.tgrelid OPERATOR(pg_catalog.=) v AND p.proname OPERATOR(pg_catalog.=) 'idempotency_row_in');
    write_params := '[{"$ref": "#/components/parameters/Prefer"}, {"$ref": "#/components/parameters/X-CSRF-Token"}]'::jsonb
        OPERATOR(pg_catalog.||) CASE WHEN idempotent THEN '[{"$ref": "#/components/parameters/Idempotency-Key"}]'::jsonb ELSE '[]' END;
    write_headers := CASE WHEN versioned THEN '{"ETag": {"$ref": "#/components/headers/ETag"}}'::jsonb ELSE '{}' END
        OPERATOR(pg_catalog.||) CASE WHEN idempotent THEN '{"Idempotent-Replayed": {"$ref": "#/components/headers/Idempotent-Replayed"}}'::jsonb ELSE '{}' END;
    IF pg_catalog.has_table_privilege(v, 'SELECT') AND NOT refused ? 'GET' THEN
        ops := ops OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('get', pg_catalog.jsonb_build_object(
            'operationId', 'list_' OPERATOR(pg_catalog.||) name, 'tags', pg_catalog.jsonb_build_array(tag),
            'summary', pg_catalog.split_part(coalesce(pg_catalog.obj_description(v, 'pg_class'), name), E'\n', 1),
            'description', coalesce(pg_catalog.obj_description(v, 'pg_class'), name), 'security', security,
            'parameters', '[{"$ref": "#/components/parameters/select"}, {"$ref": "#/components/parameters/order"},
                            {"$ref": "#/components/parameters/limit"}, {"$ref": "#/components/parameters/offset"},
                            {"$ref": "#/components/parameters/PreferCount"}]'::jsonb OPERATOR(pg_catalog.||) filters,
            'responses', pg_catalog.jsonb_build_object('200', @extschema@.openapi_response('The rows the caller may see.', rows_,
                             '{"Content-Range": {"$ref": "#/components/headers/Content-Range"}}'))
                OPERATOR(pg_catalog.||) @extschema@.openapi_errors(facts OPERATOR(pg_catalog.#>) '{errors,read}')));
    END IF;
    IF pg_catalog.has_table_privilege(v, 'INSERT') AND NOT refused ? 'POST' THEN
        ops := ops OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('post', pg_catalog.jsonb_build_object(
            'operationId', 'create_' OPERATOR(pg_catalog.||) name, 'tags', pg_catalog.jsonb_build_array(tag),
            'summary', 'Create ' OPERATOR(pg_catalog.||) name, 'security', write_security, 'parameters', write_params,
            'requestBody', pg_catalog.jsonb_build_object('required', true, 'content', pg_catalog.jsonb_build_object('application/json',
                pg_catalog.jsonb_build_object('schema', pg_catalog.jsonb_build_object('oneOf', pg_catalog.jsonb_build_array(item, rows_))))),
            'responses', pg_catalog.jsonb_build_object('201', @extschema@.openapi_response(
                    'Created; the rows with Prefer: return=representation, else no body.', rows_,
                    write_headers OPERATOR(pg_catalog.||) '{"Location": {"$ref": "#/components/headers/Location"}}'::jsonb))
                OPERATOR(pg_catalog.||) @extschema@.openapi_errors(facts OPERATOR(pg_catalog.#>) '{errors,write}')));
    END IF;
    IF pg_catalog.has_table_privilege(v, 'UPDATE') AND NOT refused ? 'PATCH' THEN
        ops := ops OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('patch', pg_catalog.jsonb_build_object(
            'operationId', 'update_' OPERATOR(pg_catalog.||) name, 'tags', pg_catalog.jsonb_build_array(tag),
            'summary', 'Change the ' OPERATOR(pg_catalog.||) name OPERATOR(pg_catalog.||) ' the filters select',
            'security', write_security,
            'parameters', write_params OPERATOR(pg_catalog.||) filters OPERATOR(pg_catalog.||)
                CASE WHEN versioned THEN '[{"$ref": "#/components/parameters/If-Match"}]'::jsonb ELSE '[]' END,
            'requestBody', pg_catalog.jsonb_build_object('required', true, 'content', pg_catalog.jsonb_build_object('application/json',
                pg_catalog.jsonb_build_object('schema', item))),
            'responses', pg_catalog.jsonb_build_object(
                    '200', @extschema@.openapi_response('The changed rows (Prefer: return=representation).', rows_, write_headers),
                    '204', @extschema@.openapi_response('Changed.', NULL, write_headers))
                OPERATOR(pg_catalog.||) @extschema@.openapi_errors(facts OPERATOR(pg_catalog.#>) '{errors,write}')));
    END IF;
    IF pg_catalog.has_table_privilege(v, 'DELETE') AND NOT refused ? 'DELETE' THEN
        ops := ops OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('delete', pg_catalog.jsonb_build_object(
            'operationId', 'delete_' OPERATOR(pg_catalog.||) name, 'tags', pg_catalog.jsonb_build_array(tag),
            'summary', 'Delete the ' OPERATOR(pg_catalog.||) name OPERATOR(pg_catalog.||) ' the filters select',
            'security', write_security,
            'parameters', write_params OPERATOR(pg_catalog.||) filters OPERATOR(pg_catalog.||)
                CASE WHEN versioned THEN '[{"$ref": "#/components/parameters/If-Match"}]'::jsonb ELSE '[]' END,
            'responses', pg_catalog.jsonb_build_object(
                    '200', @extschema@.openapi_response('The deleted rows (Prefer: return=representation).', rows_, NULL),
                    '204', @extschema@.openapi_response('Deleted.', NULL, NULL))
                OPERATOR(pg_catalog.||) @extschema@.openapi_errors(facts OPERATOR(pg_catalog.#>) '{errors,write}')));
    END IF;
    RETURN ops;
END
$$;
COMMENT ON FUNCTION @extschema@.openapi_view_path(oid) IS 'The OpenAPI path item of an api view: the methods the caller holds the privilege for and the view does not refuse.';

-- The operations on one api function: POST, and GET when it does not write.
CREATE FUNCTION @extschema@.openapi_function_path(f oid) RETURNS jsonb
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p pg_catalog.pg_proc;
    fact jsonb;
    facts jsonb := @extschema@.openapi_facts();
    props jsonb := '{}';
    required jsonb := '[]';
    query jsonb := '[]';
    arg_schema jsonb;
    body jsonb;
    status text;
    op jsonb;
    security jsonb;
    params jsonb := '[]';
    headers jsonb := '{}';
    ops jsonb := '{}';
BEGIN
    SELECT * INTO p FROM pg_catalog.pg_proc WHERE oid OPERATOR(pg_catalog.=) f;
    fact := coalesce(facts OPERATOR(pg_catalog.#>) ARRAY['functions', p.proname::text], '{}');
    FOR i IN 0 .. p.pronargs - 1 LOOP
        arg_schema := coalesce(fact OPERATOR(pg_catalog.#>) ARRAY['enums', p.proargnames[i + 1]],
                               facts OPERATOR(pg_catalog.#>) ARRAY['page_enums', p.proargnames[i + 1]]);
        arg_schema := CASE WHEN arg_schema IS NULL THEN @extschema@.openapi_type(p.proargtypes[i], false)
                           ELSE pg_catalog.jsonb_build_object('type', 'string', 'enum', arg_schema) END;
        props := props OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(p.proargnames[i + 1], arg_schema);
        IF i OPERATOR(pg_catalog.<) (p.pronargs OPERATOR(pg_catalog.-) p.pronargdefaults) THEN
            required := required OPERATOR(pg_catalog.||) pg_catalog.to_jsonb(p.proargnames[i + 1]);
        END IF;
        query := query OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('name', p.proargnames[i + 1], 'in', 'query',
            'required', i OPERATOR(pg_catalog.<) (p.pronargs OPERATOR(pg_catalog.-) p.pronargdefaults), 'schema', arg_schema);
    END LOOP;
    IF fact ? 'page' THEN
        body := pg_catalog.jsonb_build_object('type', 'object', 'required', '["data", "next_cursor", "has_more"]'::jsonb,
            'properties', pg_catalog.jsonb_build_object(
                'data', pg_catalog.jsonb_build_object('type', 'array', 'items',
                    pg_catalog.jsonb_build_object('$ref', '#/components/schemas/' OPERATOR(pg_catalog.||) (fact OPERATOR(pg_catalog.->>) 'page'))),
                'next_cursor', '{"type": ["string", "null"], "description": "The cursor of the next page; null on the last."}'::jsonb,
                'has_more', '{"type": "boolean"}'::jsonb));
        headers := '{"Link": {"$ref": "#/components/headers/Link"}}';
    ELSIF fact ? 'body' THEN
        body := fact OPERATOR(pg_catalog.->) 'body';
    ELSIF p.prorettype OPERATOR(pg_catalog.<>) 'void'::regtype THEN
        body := CASE WHEN (SELECT t.typrelid FROM pg_catalog.pg_type t WHERE t.oid OPERATOR(pg_catalog.=) p.prorettype) OPERATOR(pg_catalog.<>) 0
                     THEN pg_catalog.jsonb_build_object('$ref', '#/components/schemas/' OPERATOR(pg_catalog.||)
                              (SELECT t.typname FROM pg_catalog.pg_type t WHERE t.oid OPERATOR(pg_catalog.=) p.prorettype))
                     ELSE @extschema@.openapi_type(p.prorettype, true) END;
        IF p.proretset THEN body := pg_catalog.jsonb_build_object('type', 'array', 'items', body); END IF;
    END IF;
    status := coalesce(fact OPERATOR(pg_catalog.->>) 'status', CASE WHEN body IS NULL THEN '204' ELSE '200' END);
    security := '[{"bearer": []}, {"apiKey": []}, {"cookie": []}]'::jsonb OPERATOR(pg_catalog.||)
                CASE WHEN fact ? 'anonymous' THEN '[{}]'::jsonb ELSE '[]' END;
    op := pg_catalog.jsonb_build_object('operationId', p.proname, 'tags', '["Functions"]'::jsonb,
        'summary', pg_catalog.split_part(coalesce(pg_catalog.obj_description(f, 'pg_proc'), p.proname::text), E'\n', 1),
        'description', coalesce(pg_catalog.obj_description(f, 'pg_proc'), p.proname::text),
        'responses', pg_catalog.jsonb_build_object(status, @extschema@.openapi_response(
                         CASE WHEN body IS NULL THEN 'Done; no body.' ELSE 'Done.' END, body, headers))
            OPERATOR(pg_catalog.||) @extschema@.openapi_errors(coalesce(fact OPERATOR(pg_catalog.->) 'errors',
                CASE WHEN fact ? 'page' THEN facts OPERATOR(pg_catalog.->) 'page_errors' ELSE facts OPERATOR(pg_catalog.#>) '{errors,rpc}' END)));
    IF p.provolatile OPERATOR(pg_catalog.<>) 'v' THEN
        ops := pg_catalog.jsonb_build_object('get', op OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(
            'operationId', p.proname OPERATOR(pg_catalog.||) '_get', 'security', security, 'parameters', query));
    END IF;
    IF NOT fact ? 'anonymous' THEN
        security := '[{"bearer": []}, {"apiKey": []}, {"cookie": [], "csrf": []}]';
        params := '[{"$ref": "#/components/parameters/X-CSRF-Token"}]';
    END IF;
    RETURN ops OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('post', op OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(
        'security', security, 'parameters', params,
        'requestBody', pg_catalog.jsonb_build_object('required', p.pronargs OPERATOR(pg_catalog.>) 0,
            'content', pg_catalog.jsonb_build_object('application/json', pg_catalog.jsonb_build_object('schema',
                pg_catalog.jsonb_build_object('type', 'object', 'properties', props, 'required', required))))));
END
$$;
COMMENT ON FUNCTION @extschema@.openapi_function_path(oid) IS 'The OpenAPI path item of an api function: POST with its arguments as a JSON body, and GET with them in the query string when it does not write.';

-- GET /: PostgREST's db-root-spec.
CREATE FUNCTION api.openapi() RETURNS json
    LANGUAGE sql STABLE SECURITY INVOKER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.jsonb_build_object(
        'openapi', '3.1.0',
        'info', pg_catalog.jsonb_build_object('title', 'task_api', 'version',
            (SELECT e.extversion FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'task_api'),
            'description', coalesce(pg_catalog.obj_description('api'::regnamespace, 'pg_namespace') OPERATOR(pg_catalog.||) E'\n\n', '')
                OPERATOR(pg_catalog.||) 'This document lists what the requesting role may do.'),
        'servers', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('url', '/')),
        'paths', (SELECT coalesce(pg_catalog.jsonb_object_agg(x.path, x.item), '{}')
                    FROM (SELECT '/' OPERATOR(pg_catalog.||) c.relname AS path, @extschema@.openapi_view_path(c.oid) AS item
                            FROM pg_catalog.pg_class c
                           WHERE c.relnamespace OPERATOR(pg_catalog.=) 'api'::regnamespace AND c.relkind IN ('v', 'r')
                          UNION ALL
                          SELECT '/rpc/' OPERATOR(pg_catalog.||) p.proname, @extschema@.openapi_function_path(p.oid)
                            FROM pg_catalog.pg_proc p
                           WHERE p.pronamespace OPERATOR(pg_catalog.=) 'api'::regnamespace AND p.prokind OPERATOR(pg_catalog.=) 'f'
                             AND p.prorettype OPERATOR(pg_catalog.<>) 'trigger'::regtype
                             AND pg_catalog.has_function_privilege(p.oid, 'EXECUTE')) x
                   WHERE x.item OPERATOR(pg_catalog.<>) '{}')
                 OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('/', pg_catalog.jsonb_build_object('get', pg_catalog.jsonb_build_object(
                     'operationId', 'openapi_document', 'tags', '["Functions"]'::jsonb, 'summary', 'This document.',
                     'security', '[{}, {"bearer": []}, {"apiKey": []}, {"cookie": []}]'::jsonb,
                     'responses', pg_catalog.jsonb_build_object('200', @extschema@.openapi_response('The OpenAPI document for the caller.',
                                      '{"type": "object"}', NULL)
                                      OPERATOR(pg_catalog.||) '{"content": {"application/openapi+json": {"schema": {"type": "object"}},
                                                                            "application/json": {"schema": {"type": "object"}}}}'::jsonb)
                         OPERATOR(pg_catalog.||) @extschema@.openapi_errors('["rate_limited", "unauthenticated"]')))),
        'components', pg_catalog.jsonb_build_object(
            'securitySchemes', '{
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "The token of signup or login (a session)."},
                "apiKey": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "The key of create_api_key, sent as a bearer token."},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "__Host-task_api_session", "description": "The session cookie signup and login set (HttpOnly)."},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token", "description": "The value of the __Host-task_api_csrf cookie; required on writes by cookie."}}'::jsonb,
            'schemas', @extschema@.openapi_schemas() OPERATOR(pg_catalog.||) '{
                "Error": {"type": "object", "required": ["code", "message"],
                          "properties": {"code": {"type": "string", "description": "A code of task_api.error_codes, or PostgREST''s PGRST..."},
                                         "message": {"type": "string"},
                                         "details": {"type": ["string", "null"], "description": "validation_failed: the JSON text of an array of {field, problem}."},
                                         "hint": {"type": ["string", "null"]}}},
                "Session": {"type": "object", "required": ["user_id", "token", "token_type", "expires_at"],
                            "properties": {"user_id": {"type": "string", "format": "uuid"}, "token": {"type": "string"},
                                           "token_type": {"type": "string", "enum": ["bearer"]},
                                           "expires_at": {"type": "string", "format": "date-time"}}},
                "ApiKeyCreated": {"type": "object", "required": ["id", "key", "name", "expires_at"],
                                  "properties": {"id": {"type": "string", "format": "uuid"},
                                                 "key": {"type": ["string", "null"], "description": "The key, shown once; null once revoked or expired."},
                                                 "name": {"type": "string"},
                                                 "expires_at": {"type": ["string", "null"], "format": "date-time"}}}}'::jsonb,
            'parameters', '{
                "select": {"name": "select", "in": "query", "schema": {"type": "string"}, "description": "The columns and embeddings to return."},
                "order": {"name": "order", "in": "query", "schema": {"type": "string"}, "description": "e.g. created_at.desc"},
                "limit": {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                "offset": {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                "PreferCount": {"name": "Prefer", "in": "header", "schema": {"type": "string"}, "description": "count=exact for a total in Content-Range."},
                "Prefer": {"name": "Prefer", "in": "header", "schema": {"type": "string"}, "description": "return=representation to get the rows written."},
                "If-Match": {"name": "If-Match", "in": "header", "schema": {"type": "string"}, "description": "The ETag read (a quoted version): the write proceeds only on that version, else 412."},
                "Idempotency-Key": {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "minLength": 1, "maxLength": 255}, "description": "Send a write again with the same key and it is applied once; the replay carries Idempotent-Replayed."},
                "X-CSRF-Token": {"name": "X-CSRF-Token", "in": "header", "schema": {"type": "string"}, "description": "Required on writes authenticated by the session cookie."}}'::jsonb,
            'headers', '{
                "RateLimit": {"schema": {"type": "string"}, "description": "The caller''s remaining quota."},
                "RateLimit-Policy": {"schema": {"type": "string"}, "description": "The caller''s quota policy."},
                "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before trying again."},
                "ETag": {"schema": {"type": "string"}, "description": "The version of the one row written, quoted."},
                "Location": {"schema": {"type": "string"}, "description": "Where the row created is."},
                "Link": {"schema": {"type": "string"}, "description": "rel=next: the next page."},
                "Content-Range": {"schema": {"type": "string"}},
                "Idempotent-Replayed": {"schema": {"type": "string", "enum": ["true"]}, "description": "This answer is the stored answer of an earlier request with the same Idempotency-Key."}}'::jsonb)
    )::json
$$;
COMMENT ON FUNCTION api.openapi() IS E'The OpenAPI 3.1 document at / (PostgREST''s db-root-spec): what the requesting role may do.\n\nArguments: none.';
REVOKE ALL ON FUNCTION @extschema@.openapi_facts(), @extschema@.openapi_type(oid, boolean), @extschema@.openapi_schemas(),
    @extschema@.openapi_errors(jsonb), @extschema@.openapi_rate_headers(), @extschema@.openapi_response(text, jsonb, jsonb),
    @extschema@.openapi_view_path(oid), @extschema@.openapi_function_path(oid), api.openapi() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.openapi_facts(), @extschema@.openapi_type(oid, boolean), @extschema@.openapi_schemas(),
    @extschema@.openapi_errors(jsonb), @extschema@.openapi_rate_headers(), @extschema@.openapi_response(text, jsonb, jsonb),
    @extschema@.openapi_view_path(oid), @extschema@.openapi_function_path(oid), api.openapi() TO task_api_anon, task_api_user;
