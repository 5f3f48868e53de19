-- Every row of every table of schema task_api (all of which pg_dump carries:
-- test/pgtap/backup.sql) and the positions of its sequences, as one line per table: name, row count, md5 of the rows in
-- primary-key order.  Two databases hold the same data exactly when their
-- snapshots are equal (test/backup/, test/upgrade/).  Trailing null
-- fields of a row are left out, so that a nullable column an update adds at
-- the end of a table (0.2.0: events.request_id) leaves its rows as they were.
\pset format unaligned
\pset tuples_only on
SELECT c.oid::regclass::text || ' ' ||
       (xpath('/row/n/text()', query_to_xml(
            pg_catalog.format('SELECT count(*) AS n FROM %s', c.oid::regclass), false, true, '')))[1]::text || ' ' ||
       (xpath('/row/h/text()', query_to_xml(
            pg_catalog.format('SELECT md5(coalesce(string_agg(pg_catalog.regexp_replace(t::text, %L, %L), %L ORDER BY %s), %L)) AS h FROM %s t',
                              ',+\)$', ')',
                              E'\n', coalesce(pk.cols, 't::text'), '', c.oid::regclass), false, true, '')))[1]::text
  FROM pg_class c
  LEFT JOIN LATERAL (
        SELECT string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY k.n) AS cols
          FROM pg_index i
         CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
         WHERE i.indrelid = c.oid AND i.indisprimary) pk ON true
 WHERE c.relnamespace = 'task_api'::regnamespace AND c.relkind = 'r'
UNION ALL
SELECT s.schemaname || '.' || s.sequencename || ' last_value ' || coalesce(s.last_value::text, 'unset')
  FROM pg_sequences s
 WHERE s.schemaname = 'task_api'
 ORDER BY 1;
