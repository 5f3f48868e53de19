-- Citus, events per node (docs/scaling.md, "Claiming across nodes"): the
-- parts of the per-node claims that run without Citus.  On one server
-- there is one node, 0: its positions are acked_id and claimed_id, and
-- citus_ack_events() acknowledges as ack_events() does.  The claims
-- themselves need Citus (make test-citus: relay.test.mjs, events.test.mjs,
-- monitoring.test.mjs).  Nothing here changes claim_events() or
-- ack_events() on one server.  Everything here is rolled back.
BEGIN;
SELECT plan(16);
\ir helpers/setup.psql

\o /dev/null
SELECT tap.make_user('alice', 'a0000000-0000-4000-8000-00000000000a');
SELECT tap.make_project('P', tap.id('alice'));
\o

SELECT results_eq($$SELECT * FROM task_api.citus_event_nodes()$$, $$VALUES (0)$$, 'without Citus: one node, 0');
SELECT is(task_api.citus_node_top(0), (SELECT max(id) FROM task_api.events), 'node 0''s newest event is the newest event');
SELECT is(task_api.citus_node_top(1), 1::bigint << 48, 'a node with no events: its range''s start');

-- Positions: the node's entry, else acked_id in its own range, else the range's start.
SELECT is(task_api.citus_node_acked(NULL, 42, 0), 42::bigint, 'no node positions: acked_id, on its node');
SELECT is(task_api.citus_node_acked(NULL, 42, 2), 2::bigint << 48, 'no node positions: another node starts at its first event');
SELECT is(task_api.citus_node_acked('{"2": {"acked_id": 562949953421320, "claimed_id": 562949953421325}}', 42, 2),
          562949953421320::bigint, 'a node''s own entry');
SELECT is(task_api.citus_node_claimed('{"2": {"acked_id": 562949953421320, "claimed_id": 562949953421325}}', 42, 2),
          562949953421325::bigint, 'a node''s claimed position');
SELECT is(task_api.citus_node_claimed(NULL, 42, 0), 42::bigint, 'no claim on a node: its acknowledged position');
SELECT is(task_api.citus_event_positions(),
          jsonb_build_object('0', jsonb_build_object('acked_id', (SELECT max(id) FROM task_api.events),
                                                     'claimed_id', (SELECT max(id) FROM task_api.events))),
          'citus_event_positions(): every node at its newest event');

-- citus_ack_events(): the node's position moves, up to its part of the batch.
INSERT INTO task_api.event_consumers (name, acked_id, claimed_id) VALUES ('per node', 0, 0);
UPDATE task_api.event_consumers
   SET node_positions = jsonb_build_object('0', jsonb_build_object('acked_id', 0, 'claimed_id', (SELECT max(id) FROM task_api.events)))
 WHERE name = 'per node';
SELECT throws_ok(format($$SELECT task_api.citus_ack_events('per node', %s)$$, (SELECT max(id) + 1 FROM task_api.events)),
                 '22023', NULL, 'past the node''s part of the batch: refused (22023)');
SELECT throws_ok($$SELECT task_api.citus_ack_events('per node', 562949953421313)$$, '22023', NULL,
                 'an id of a node with nothing handed out: refused (22023)');
SELECT throws_ok($$SELECT task_api.citus_ack_events('nobody', 1)$$, '22023', NULL, 'an unknown consumer: refused (22023)');
SELECT is(task_api.citus_ack_events('per node', (SELECT min(id) FROM task_api.events)), (SELECT min(id) FROM task_api.events),
          'an acknowledgement returns the node''s new position');
SELECT results_eq($$SELECT acked_id, (node_positions -> '0' ->> 'acked_id')::bigint FROM task_api.event_consumers WHERE name = 'per node'$$,
                  $$SELECT min(id), min(id) FROM task_api.events$$,
                  'the node''s position and acked_id (the lowest node''s position) moved');
SELECT is(task_api.citus_ack_events('per node', 0), (SELECT min(id) FROM task_api.events),
          'acknowledging below the position: harmless, the position stays');
SELECT results_eq($$SELECT backlog FROM task_api.citus_event_consumer_health() WHERE consumer = 'per node'$$,
                  $$SELECT max(id) - min(id) FROM task_api.events$$,
                  'consumer health reads the node''s position');

SELECT * FROM finish();
ROLLBACK;
