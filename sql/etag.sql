-- task_api.check_if_match() and task_api.note_etag()

CREATE FUNCTION with_if_match(header text, version integer) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    detail text;
BEGIN
    PERFORM set_config('request.headers', json_build_object('if-match', header)::text, true);
    PERFORM task_api.check_if_match(version);
    RETURN 'proceeds';
EXCEPTION WHEN SQLSTATE 'PGRST' THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RETURN (SQLERRM::json ->> 'code') || ' ' || (detail::json ->> 'status');
END
$$;

-- No If-Match: always proceeds.
SELECT set_config('request.headers', '{}', false);
SELECT task_api.check_if_match(7);

SELECT h AS if_match, with_if_match(h, 7) AS result
  FROM unnest(ARRAY[
      '"7"', 'W/"7"', ' "7" ', '"3", "7"', '"3",W/"7"', '*', '"3", *',
      '"8"', 'W/"8"', '"07"', '"3", "4"',
      '7', '""', '"7', '"x"', 'w/"7"', '"7" "8"', '"7",', ',', '', '   ', '"12345678901"', '"-7"', 'W/*'
  ]) AS h;

-- A statement that writes one row carries ETag (other headers are kept);
-- one that writes several carries none.
BEGIN;
SELECT set_config('response.headers', '[{"X-Other": "kept"}]', true);
SELECT count(task_api.note_etag(v)) FROM generate_series(3, 3) v;
SELECT current_setting('response.headers') AS one_row;
ROLLBACK;
BEGIN;
SELECT set_config('response.headers', '[{"X-Other": "kept"}]', true);
SELECT count(task_api.note_etag(v)) FROM generate_series(1, 3) v;
SELECT current_setting('response.headers') AS three_rows;
ROLLBACK;

DROP FUNCTION with_if_match(text, integer);
