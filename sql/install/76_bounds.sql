-- Bounds on the work of one request (issue 21) --------------------------------
-- task_api.pre_request() sets the request's statement_timeout from
-- task_api.statement_timeout (src/bounds.c); this trigger caps the rows one
-- request inserts at task_api.max_bulk_rows.

CREATE FUNCTION @extschema@.bulk_rows() RETURNS trigger
    AS 'MODULE_PATHNAME', 'task_api_bulk_rows' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.bulk_rows() IS 'Trigger: INSTEAD OF INSERT FOR EACH ROW on an API view, fired first: refuses the statement with payload_too_large (413) at its row past task_api.max_bulk_rows.';

-- Named to fire before the views' other INSTEAD OF triggers (name order).
CREATE TRIGGER projects_aa_bulk_rows INSTEAD OF INSERT ON api.projects
    FOR EACH ROW EXECUTE FUNCTION @extschema@.bulk_rows();
CREATE TRIGGER tasks_aa_bulk_rows INSTEAD OF INSERT ON api.tasks
    FOR EACH ROW EXECUTE FUNCTION @extschema@.bulk_rows();
