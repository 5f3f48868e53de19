-- Bounds on the work of one request (issue 21) --------------------------------
-- task_api.pre_request() sets the request's statement_timeout from
-- task_api.statement_timeout (src/bounds.c); this trigger caps the rows one
-- request inserts at task_api.max_bulk_rows.

CREATE FUNCTION @extschema@.bulk_rows() RETURNS trigger
    AS 'MODULE_PATHNAME', 'task_api_bulk_rows' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.bulk_rows() IS 'Trigger: INSTEAD OF INSERT FOR EACH ROW on an API view, fired first: refuses the statement with payload_too_large (413) at its row past task_api.max_bulk_rows.';

-- Attaching the bound to a view: its row trigger fires before every other
-- INSTEAD OF INSERT trigger of the view (view_trigger() stage 10, 00_core.sql).
CREATE FUNCTION @extschema@.attach_bounds(view regclass) RETURNS void
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
    RETURN @extschema@.view_trigger(view, 10, 'bulk_rows', 'INSTEAD OF INSERT FOR EACH ROW', '@extschema@.bulk_rows');
COMMENT ON FUNCTION @extschema@.attach_bounds(regclass) IS 'Cap the rows one INSERT on an API view may write at task_api.max_bulk_rows: the view''s first INSTEAD OF INSERT trigger (view_trigger() stage 10).';

SELECT @extschema@.attach_bounds('api.projects');
SELECT @extschema@.attach_bounds('api.tasks');
