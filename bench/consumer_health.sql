-- The event consumers' health on 10M events (docs/performance.md#monitoring-counters):
-- fill task_api.events with :events rows (default 10M), three consumers
-- (caught up, 1000 behind, never acknowledged), then EXPLAIN ANALYZE the
-- view and time api.metrics().  Run on a scratch database with the
-- extension:  psql -d scratch -v events=10000000 -f bench/consumer_health.sql
\set ON_ERROR_STOP on
\if :{?events}
\else
\set events 10000000
\endif
SET client_min_messages = warning;
SET max_parallel_workers_per_gather = 0;
TRUNCATE task_api.events, task_api.event_consumers;
INSERT INTO task_api.events (id, resource_type, resource_id, project_id, action, changes)
    OVERRIDING SYSTEM VALUE
SELECT g, 'task', '01900000-0000-7000-8000-000000000001', '01900000-0000-7000-8000-0000000000a1', 'updated',
       '{"title": {"old": "a", "new": "b"}}'
  FROM generate_series(1, :events) g;
SELECT pg_catalog.setval('task_api.events_id_seq', :events);
VACUUM (ANALYZE) task_api.events;
INSERT INTO task_api.event_consumers (name, acked_id, claimed_id) VALUES
    ('caught-up', :events, :events), ('behind-1000', :events - 1000, :events - 1000), ('never-acked', 0, 0);
SELECT pg_catalog.pg_size_pretty(pg_catalog.pg_total_relation_size('task_api.events')) AS events_size,
       (SELECT count(*) FROM task_api.events) AS events;
\timing on
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT * FROM task_api.event_consumer_health;
SELECT consumer, backlog, oldest_unacked_at IS NOT NULL AS waiting FROM task_api.event_consumer_health ORDER BY consumer;
SELECT pg_catalog.length(api.metrics()) AS metrics_bytes;
SELECT pg_catalog.length(api.metrics()) AS metrics_bytes;
SELECT pg_catalog.length(api.metrics()) AS metrics_bytes;
