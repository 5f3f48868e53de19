-- api.json_agg(record), the aggregate PostgREST's response bodies resolve
-- to (sql/install/89_response_body.sql, src/json_agg.c): byte for byte the
-- text of pg_catalog.json_agg() for every kind of column, NULL, shape and
-- setting, and chosen by PostgREST's unqualified json_agg(_postgrest_t).
BEGIN;
SELECT plan(25);
\ir helpers/setup.psql

CREATE TYPE tap.mood AS ENUM ('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'quote"d', 'back\slash', 'é');
CREATE TYPE tap.loud AS ENUM ('x', 'y');
CREATE FUNCTION tap.loud_json(tap.loud) RETURNS json LANGUAGE sql IMMUTABLE
    AS $$ SELECT json_build_object('loud', $1::text) $$;
CREATE CAST (tap.loud AS json) WITH FUNCTION tap.loud_json(tap.loud);
CREATE DOMAIN tap.short_text AS text CHECK (length(VALUE) < 100);
CREATE DOMAIN tap.some_id AS uuid;
CREATE DOMAIN tap.some_mood AS tap.mood;
CREATE TYPE tap.pair AS (n integer, s text);

-- One column of each kind, with a dropped column in the middle.
CREATE TABLE tap.kinds (
    u uuid, t text, vc varchar(20), bp char(5), st task_api.task_status, m tap.mood, l tap.loud,
    i2 smallint, i4 integer, i8 bigint, gone integer, nm numeric, f8 float8, f4 float4, b boolean,
    d date, ts timestamp, tz timestamptz, j json, jb jsonb, ia integer[], ta text[],
    p tap.pair, dt tap.short_text, du tap.some_id, dm tap.some_mood, iv interval, by bytea, ip inet, o oid
);
ALTER TABLE tap.kinds DROP COLUMN gone;
INSERT INTO tap.kinds VALUES
    ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'plain', 'vc', 'bp', 'todo', 'a', 'x',
     0, 0, 0, 0, 0, 0, true, '2026-12-06', '2026-12-06 10:11:12.5', '2026-12-06 10:11:12.123456+00', '{"k": [1, 2]}', '{"k": [1, 2]}',
     '{1,2,3}', '{a,NULL,"c d"}', ROW(1, 'x'), 'dom', 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', 'b', '1 day 2 hours', '\x00ff', '10.0.0.1/8', 1),
    ('00000000-0000-0000-0000-000000000000', E'q"uote \\ back\nline\ttab\r\b\f\x01 end \u00e9 \U0001F600', 'é', 'x', 'in_progress', 'quote"d', 'y',
     -32768, -2147483648, -9223372036854775808, 'NaN', 'Infinity', '-Infinity', false, 'infinity', '-infinity', 'infinity', '  {"a" : 1 }  ', '{"b": "\u00e9"}',
     '{}', '{}', ROW(NULL, E'nl\n'), E'tab\t', '00000000-0000-0000-0000-000000000001', 'back\slash', '-1 year', '\x', '::1', 4294967295),
    ('ffffffff-ffff-ffff-ffff-ffffffffffff', '', '', '', 'done', 'é', NULL,
     32767, 2147483647, 9223372036854775807, -1.5e-10, 1e300, 3.5, NULL, '0044-03-15 BC', '2000-01-01', '1999-12-31 23:59:59.999999-08', 'null', 'null',
     '{{1,2},{3,4}}', ARRAY[NULL]::text[], NULL, '', NULL, 'k', NULL, NULL, NULL, NULL),
    (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
-- Every label of the enum, more than the per-column label cache holds.
INSERT INTO tap.kinds (m, dm, st) SELECT m, m, s
  FROM unnest(enum_range(NULL::tap.mood)) m, unnest(enum_range(NULL::task_api.task_status)) s;
-- A value stored out of line (TOAST), and one compressed.
INSERT INTO tap.kinds (t, j) SELECT string_agg(md5(g::text), '') || E'\n', ('[' || repeat('1,', 30000) || '1]')::json
  FROM generate_series(1, 3000) g;

SELECT is(api.json_agg(k ORDER BY k.u, k.t, k.m)::text, pg_catalog.json_agg(k ORDER BY k.u, k.t, k.m)::text,
          'every kind of column, NULLs and escapes: the text of pg_catalog.json_agg()')
  FROM tap.kinds k;
SELECT is(api.json_agg(k)::text, pg_catalog.json_agg(k)::text, 'the same with the rows in the order they are read')
  FROM tap.kinds k;
SELECT is(api.json_agg(k)::text, pg_catalog.json_agg(k)::text, 'a row of a sub-query (a record), the shape PostgREST sends')
  FROM (SELECT * FROM tap.kinds) k;
SELECT is(api.json_agg(k)::text, pg_catalog.json_agg(k)::text, 'only some columns, renamed, with expressions')
  FROM (SELECT t AS "the ""t""", i2 + 1 AS "sum", tz AS "é", NULL::text AS nothing FROM tap.kinds) k;
SET LOCAL timezone = 'America/St_Johns';
SET LOCAL datestyle = 'SQL, DMY';
SET LOCAL intervalstyle = 'iso_8601';
SET LOCAL extra_float_digits = 0;
SET LOCAL bytea_output = 'escape';
SELECT is(api.json_agg(k)::text, pg_catalog.json_agg(k)::text,
          'under another time zone, date style, interval style, float digits and bytea output')
  FROM tap.kinds k;
RESET timezone;
RESET datestyle;
RESET intervalstyle;
RESET extra_float_digits;
RESET bytea_output;

-- The array's layout -----------------------------------------------------------
SELECT is(api.json_agg(k)::text, NULL, 'no rows: NULL, as pg_catalog.json_agg()')
  FROM tap.kinds k WHERE false;
SELECT is(api.json_agg(k)::text, pg_catalog.json_agg(k)::text, 'one row')
  FROM (SELECT 1 AS a, 'x' AS b) k;
SELECT is(api.json_agg(CASE WHEN g % 3 = 1 THEN NULL ELSE k END)::text,
          pg_catalog.json_agg(CASE WHEN g % 3 = 1 THEN NULL ELSE k END)::text,
          'NULL rows first and among the others: null, with json_agg()''s separators')
  FROM generate_series(1, 7) g, LATERAL (SELECT g AS n, 'r' || g AS s) k;
SELECT is(api.json_agg(r)::text, pg_catalog.json_agg(r)::text, 'rows of different shapes in one array')
  FROM (SELECT ROW(1, 'a') AS r UNION ALL SELECT ROW(2, 'b', true) UNION ALL SELECT ROW(3, 'c')
        UNION ALL SELECT ROW(NULL::uuid)) s;
SELECT is(api.json_agg(k)::text, pg_catalog.json_agg(k)::text, 'a row with no columns')
  FROM (SELECT FROM generate_series(1, 3)) k;
SELECT is(api.json_agg(k)::text, pg_catalog.json_agg(k)::text, 'a table''s row type with a dropped column, by name')
  FROM tap.kinds k WHERE k.u IS NOT NULL;
SELECT results_eq($$SELECT (api.json_agg(k) OVER w)::text FROM (SELECT g AS n FROM generate_series(1, 4) g) k WINDOW w AS (ORDER BY n)$$,
                  $$SELECT (pg_catalog.json_agg(k) OVER w)::text FROM (SELECT g AS n FROM generate_series(1, 4) g) k WINDOW w AS (ORDER BY n)$$,
                  'as a window aggregate, finalised at every row: the same running arrays');
SELECT is((SELECT array_agg(body::text ORDER BY grp)
             FROM (SELECT g % 2 AS grp, api.json_agg(k) AS body FROM (SELECT g, 'v' || g AS v FROM generate_series(1, 6) g) k GROUP BY g % 2) x),
          (SELECT array_agg(body::text ORDER BY grp)
             FROM (SELECT g % 2 AS grp, pg_catalog.json_agg(k) AS body FROM (SELECT g, 'v' || g AS v FROM generate_series(1, 6) g) k GROUP BY g % 2) x),
          'one array per group');
SELECT is(api.json_agg(k ORDER BY k.n DESC)::text, pg_catalog.json_agg(k ORDER BY k.n DESC)::text, 'with ORDER BY inside the call')
  FROM (SELECT g AS n FROM generate_series(1, 5) g) k;

-- Chosen by PostgREST's query ------------------------------------------------------
-- PostgREST's shape: WITH pgrst_source AS (...) SELECT ... coalesce(json_agg(_postgrest_t), '[]')
-- FROM (SELECT * FROM pgrst_source) _postgrest_t, under search_path "api", "public".
SET LOCAL search_path = "api", "public";
CREATE VIEW tap.postgrest_body AS
    WITH pgrst_source AS (SELECT * FROM tap.kinds)
    SELECT pg_catalog.count(_postgrest_t) AS page_total, coalesce(json_agg(_postgrest_t), '[]') AS body
      FROM (SELECT * FROM pgrst_source) _postgrest_t;
CREATE VIEW tap.postgrest_scalar AS
    SELECT coalesce(json_agg(_postgrest_t.pgrst_scalar), '[]') AS body
      FROM (SELECT 1 AS pgrst_scalar) _postgrest_t;
RESET search_path;
SELECT ok(EXISTS (SELECT FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
                   WHERE r.ev_class = 'tap.postgrest_body'::regclass AND d.refobjid = 'api.json_agg(record)'::regprocedure),
          'PostgREST''s json_agg(_postgrest_t) under its search_path is api.json_agg(record)');
SELECT ok(NOT EXISTS (SELECT FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
                       WHERE r.ev_class = 'tap.postgrest_scalar'::regclass AND d.refobjid = 'api.json_agg(record)'::regprocedure),
          'a scalar (json_agg(_postgrest_t.pgrst_scalar)) is still pg_catalog.json_agg()');
SELECT is((SELECT body::text FROM tap.postgrest_body), (SELECT pg_catalog.json_agg(k)::text FROM tap.kinds k),
          'the body through PostgREST''s query shape is pg_catalog.json_agg()''s text');
SELECT is((SELECT body::text FROM tap.postgrest_scalar), '[1]', 'and the scalar body is unchanged');

-- The API's own rows, as their callers see them ----------------------------------------
\o /dev/null
SELECT tap.make_user('alice', 'a0000000-0000-4000-8000-00000000000a');
SELECT tap.act_as(tap.id('alice'));
INSERT INTO api.projects (name, description) VALUES ('Home', E'chores "and" \\ more');
INSERT INTO api.tasks (project_id, title, description, status, priority, due_date)
    SELECT p.id, 'task ' || g, CASE WHEN g % 2 = 0 THEN E'line\nbreak' END,
           (enum_range(NULL::task_api.task_status))[1 + g % 4], g % 5, CASE WHEN g % 3 = 0 THEN date '2027-01-01' + g END
      FROM api.projects p, generate_series(1, 30) g;
\o
SELECT is(api.json_agg(t)::text, pg_catalog.json_agg(t)::text, 'api.tasks rows') FROM (SELECT * FROM api.tasks) t;
SELECT is(api.json_agg(t)::text, pg_catalog.json_agg(t)::text, 'api.projects rows') FROM (SELECT * FROM api.projects) t;
SELECT is(api.json_agg(t)::text, pg_catalog.json_agg(t)::text, 'api.project_members rows') FROM (SELECT * FROM api.project_members) t;
SELECT is(api.json_agg(t)::text, pg_catalog.json_agg(t)::text, 'api.users rows') FROM (SELECT * FROM api.users) t;
SELECT is(api.json_agg(t)::text, pg_catalog.json_agg(t)::text, 'api.task_events rows') FROM (SELECT * FROM api.task_events) t;
\o /dev/null
SELECT tap.act_as_admin();
\o

-- Who may use it ------------------------------------------------------------------------
SELECT ok(has_function_privilege('task_api_anon', 'api.json_agg(record)', 'EXECUTE')
          AND has_function_privilege('task_api_user', 'api.json_agg(record)', 'EXECUTE')
          AND has_function_privilege('task_api_metrics', 'api.json_agg(record)', 'EXECUTE'),
          'every role that can see the api schema can execute api.json_agg(record)');
SELECT ok(NOT has_function_privilege('task_api_user', 'task_api.json_agg_rows_step(internal,record)', 'EXECUTE')
          AND NOT has_function_privilege('task_api_user', 'task_api.json_agg_rows_final(internal)', 'EXECUTE')
          AND NOT EXISTS (SELECT FROM pg_proc p, aclexplode(p.proacl) a
                           WHERE p.oid = 'api.json_agg(record)'::regprocedure AND a.grantee = 0),
          'its parts are granted to nobody, and the aggregate not to PUBLIC');

SELECT * FROM finish();
ROLLBACK;
