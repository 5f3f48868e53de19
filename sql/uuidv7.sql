-- task_api.uuidv7() and task_api.uuidv7_time()

-- Version 7, RFC 9562 variant.
SELECT substr(task_api.uuidv7()::text, 15, 1) AS version,
       substr(task_api.uuidv7()::text, 20, 1) IN ('8', '9', 'a', 'b') AS variant_ok;

-- Monotonic within a session, even within one millisecond, and unique.
WITH ids AS (
    SELECT n, task_api.uuidv7() AS id FROM generate_series(1, 10000) AS n
)
SELECT count(DISTINCT id) = 10000 AS all_distinct,
       bool_and(ordered) AS monotonic
  FROM (SELECT id, id > lag(id) OVER (ORDER BY n) OR lag(id) OVER (ORDER BY n) IS NULL AS ordered
          FROM ids) s;

-- The embedded time is now, to the millisecond.
SELECT abs(extract(epoch FROM task_api.uuidv7_time(task_api.uuidv7()) - clock_timestamp())) < 1 AS time_is_now;

-- Known value: 2022-02-22 19:22:22 UTC from the RFC 9562 example.
SELECT task_api.uuidv7_time('017f22e2-79b0-7cc3-98c4-dc0c0c07398f') AT TIME ZONE 'UTC' AS rfc_example;

-- Not a version 7 UUID: NULL.  NULL in, NULL out.
SELECT task_api.uuidv7_time('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11') IS NULL AS v4_is_null,
       task_api.uuidv7_time('00000000-0000-0000-0000-000000000000') IS NULL AS nil_is_null,
       task_api.uuidv7_time(NULL) IS NULL AS null_is_null;

-- Bad input is rejected by the uuid type itself.
SELECT task_api.uuidv7_time('not-a-uuid');
