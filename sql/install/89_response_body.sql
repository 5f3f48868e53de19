-- The response body ------------------------------------------------------------
-- PostgREST writes every response body as json_agg(_postgrest_t), the name
-- unqualified, under a search_path that starts with api; a row of its
-- sub-query is a record.  api.json_agg(record) takes a record exactly, so
-- PostgreSQL chooses it over pg_catalog.json_agg(anyelement): the same text,
-- byte for byte, with each column's type looked up once per response
-- instead of once per value (src/json_agg.c; docs/performance.md).
CREATE FUNCTION @extschema@.json_agg_rows_step(internal, record) RETURNS internal
    AS 'MODULE_PATHNAME', 'task_api_json_agg_rows_step' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.json_agg_rows_step(internal, record) IS 'Transition of api.json_agg(record): one more row written as JSON.';
CREATE FUNCTION @extschema@.json_agg_rows_final(internal) RETURNS json
    AS 'MODULE_PATHNAME', 'task_api_json_agg_rows_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.json_agg_rows_final(internal) IS 'Final function of api.json_agg(record): the array closed (NULL for no rows).';
CREATE AGGREGATE api.json_agg(record) (
    SFUNC = @extschema@.json_agg_rows_step,
    STYPE = internal,
    FINALFUNC = @extschema@.json_agg_rows_final,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE api.json_agg(record) IS 'The JSON array of rows, the same text as pg_catalog.json_agg(); PostgREST''s response bodies use it (src/json_agg.c).';
REVOKE ALL ON FUNCTION @extschema@.json_agg_rows_step(internal, record), @extschema@.json_agg_rows_final(internal),
    api.json_agg(record) FROM PUBLIC;
-- Every role that can see the api schema writes its responses with it.
GRANT EXECUTE ON FUNCTION api.json_agg(record) TO task_api_anon, task_api_user, task_api_metrics;
