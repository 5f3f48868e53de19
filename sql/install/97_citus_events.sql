-- Citus: events per node (docs/scaling.md, "Events") ---------------------------
-- Each node draws the ids of the events its shards record from a range of
-- its own (citus_event_id_range(): group id << 48 and up), and the bound
-- under which claim_events() may hand events out (events_claim_bound(),
-- src/events_claim.c) holds per node.  So on a distributed database a
-- consumer claims per node: distribute_reads() points claim_events() and
-- ack_events() at the functions below, which take each node's bound, hand
-- out the union of each node's next events, and keep one position per node
-- in event_consumers.node_positions; event_consumer_health sums the nodes.
-- On one server none of this is called: claim_events() and ack_events() stay
-- as installed.

ALTER TABLE @extschema@.event_consumers ADD COLUMN node_positions jsonb;
COMMENT ON COLUMN @extschema@.event_consumers.node_positions IS 'On Citus: the position per node, {"<group id>": {"acked_id": ..., "claimed_id": ...}} (a node''s event ids are its group id << 48 and up); a node missing starts after acked_id when acked_id is in its range, else at its first event. NULL on one server.';

-- The nodes whose events a consumer claims: 0 (the coordinator, and the ids
-- of events written before distribute()) and every primary worker group.
-- Without Citus: 0 alone.
CREATE FUNCTION @extschema@.citus_event_nodes() RETURNS SETOF integer
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_node') IS NULL THEN
        RETURN NEXT 0;
        RETURN;
    END IF;
    RETURN QUERY EXECUTE 'SELECT 0 UNION SELECT n.groupid FROM pg_catalog.pg_dist_node n WHERE n.noderole = ''primary''';
END
$$;
COMMENT ON FUNCTION @extschema@.citus_event_nodes() IS 'On Citus: the node groups whose event id ranges consumers claim from (0 and every primary worker group); 0 alone without Citus.';

-- A consumer's acknowledged position on a node: its entry in node_positions,
-- else acked_id if acked_id is in the node's range (a consumer from before
-- distribute() continues there), else the node's start (all its events).
CREATE FUNCTION @extschema@.citus_node_acked(positions jsonb, acked_id bigint, node integer) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN coalesce((positions -> node::text ->> 'acked_id')::bigint,
                    CASE WHEN acked_id >> 48 = node THEN acked_id ELSE node::bigint << 48 END);
COMMENT ON FUNCTION @extschema@.citus_node_acked(jsonb, bigint, integer) IS 'On Citus: the consumer''s acknowledged position on a node, from event_consumers.node_positions and acked_id.';

-- Up to where ack_events() accepts on a node: the node's part of the latest
-- batch, else its acknowledged position.
CREATE FUNCTION @extschema@.citus_node_claimed(positions jsonb, acked_id bigint, node integer) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN coalesce((positions -> node::text ->> 'claimed_id')::bigint,
                    @extschema@.citus_node_acked(positions, acked_id, node));
COMMENT ON FUNCTION @extschema@.citus_node_claimed(jsonb, bigint, integer) IS 'On Citus: the last event id of the consumer''s latest batch on a node (its acknowledged position when none).';

-- The newest event id in a node's range (the node's start when it has
-- none): one descent of events_id_idx per shard (distribute_events()).
CREATE FUNCTION @extschema@.citus_node_top(node integer) RETURNS bigint
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    top bigint;
BEGIN
    EXECUTE 'SELECT pg_catalog.max(e.id) FROM @extschema@.events e WHERE e.id > $1 AND e.id < $2'
       INTO top USING node::bigint << 48, (node::bigint + 1) << 48;
    RETURN coalesce(top, node::bigint << 48);
END
$$;
COMMENT ON FUNCTION @extschema@.citus_node_top(integer) IS 'On Citus: the newest event id in a node''s range, or the range''s start when it has none.';

-- Every node at its newest event: node_positions for a consumer that starts
-- at the current end (what coalesce(max(id), 0) is on one server).
CREATE FUNCTION @extschema@.citus_event_positions() RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    RETURN (SELECT pg_catalog.jsonb_object_agg(n.node, pg_catalog.jsonb_build_object('acked_id', n.top, 'claimed_id', n.top))
              FROM (SELECT g AS node, @extschema@.citus_node_top(g) AS top FROM @extschema@.citus_event_nodes() g) n);
COMMENT ON FUNCTION @extschema@.citus_event_positions() IS 'On Citus: node_positions with every node at its newest event, for a consumer that starts at the current end.';

-- Each node's claim bound: this node's own, and every worker's, each
-- computed on the node that draws the ids (run_command_on_workers(), one
-- connection per worker, outside this transaction: it only reads shared
-- memory and the sequence).  A worker that does not answer is left out
-- (its events wait; a WARNING says which).  A node holding a prepared
-- transaction from before its server started (whose first event id its
-- shared memory lost) hands out nothing until Citus's recovery has
-- committed or rolled it back: its bound is 1.
CREATE FUNCTION @extschema@.citus_claim_bounds(OUT node integer, OUT bound bigint) RETURNS SETOF record
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    w record;
BEGIN
    EXECUTE 'SELECT g.groupid FROM pg_catalog.pg_dist_local_group g' INTO node;
    bound := @extschema@.citus_node_claim_bound();
    RETURN NEXT;
    FOR w IN EXECUTE 'SELECT * FROM pg_catalog.run_command_on_workers($c$SELECT pg_catalog.concat(g.groupid, '':'', @extschema@.citus_node_claim_bound()) FROM pg_catalog.pg_dist_local_group g$c$)' LOOP
        IF NOT w.success THEN
            RAISE WARNING 'claim_events: the worker %:% did not give its claim bound: %', w.nodename, w.nodeport, w.result;
            CONTINUE;
        END IF;
        node := pg_catalog.split_part(w.result, ':', 1)::integer;
        bound := pg_catalog.split_part(w.result, ':', 2)::bigint;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.citus_claim_bounds() IS 'On Citus: every node''s claim bound (events_claim_bound() on the node), for citus_claim_events().';

-- This node's claim bound on Citus: events_claim_bound(), which counts the
-- prepared transactions this server knows of, or 1 (nothing) while a
-- prepared transaction of the database is older than the server.
CREATE FUNCTION @extschema@.citus_node_claim_bound() RETURNS bigint
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
    RETURN CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_prepared_xacts x
                              WHERE x.database = pg_catalog.current_database()
                                AND x.prepared < pg_catalog.pg_postmaster_start_time())
                THEN 1 ELSE @extschema@.events_claim_bound() END;
COMMENT ON FUNCTION @extschema@.citus_node_claim_bound() IS 'On Citus: this node''s claim bound, events_claim_bound(), or 1 while a prepared transaction older than the server (its first event id unknown) is pending.';

-- claim_events() on Citus.  The same checks and the same lock as on one
-- server; then each node's bound first and, in statements after it (a new
-- snapshot on each node), each node's next events under its bound, after
-- its position.  The batch interleaves the nodes (each node's first event,
-- then each one's second, ...), so a busy node does not hold the others
-- back; within a node the events come in id order, which is what a
-- consumer acknowledges: ack_events() per node.
CREATE FUNCTION @extschema@.citus_claim_events(consumer text, max integer DEFAULT 100) RETURNS SETOF @extschema@.events
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c @extschema@.event_consumers;
    b record;
    e @extschema@.events;
    pos bigint;
    r integer;
    evs @extschema@.events[] := '{}';
    ranks integer[] := '{}';
    nodes integer[] := '{}';
    acked jsonb := '{}';
    claimed jsonb := '{}';
    positions jsonb;
    last_id bigint;
    n bigint := 0;
BEGIN
    c := @extschema@.claim_consumer(consumer, citus_claim_events.max);
    IF c.name IS NULL THEN
        RETURN;  -- another worker of this consumer holds its batch
    END IF;
    FOR b IN SELECT * FROM @extschema@.citus_claim_bounds() cb ORDER BY cb.node LOOP
        pos := @extschema@.citus_node_acked(c.node_positions, c.acked_id, b.node);
        acked := acked || pg_catalog.jsonb_build_object(b.node, pos);
        r := 0;
        -- A new statement: a snapshot on each node taken after its bound.
        FOR e IN EXECUTE 'SELECT * FROM @extschema@.events ev WHERE ev.id > $1 AND ev.id < $2 ORDER BY ev.id LIMIT $3'
                 USING pos, LEAST(b.bound, (b.node::bigint + 1) << 48), citus_claim_events.max LOOP
            r := r + 1;
            evs := evs || e;
            ranks := ranks || r;
            nodes := nodes || b.node;
        END LOOP;
    END LOOP;
    FOR e IN SELECT (evs[o.i]).* FROM pg_catalog.generate_subscripts(evs, 1) o(i)
              ORDER BY ranks[o.i], nodes[o.i] LIMIT citus_claim_events.max LOOP
        claimed := claimed || pg_catalog.jsonb_build_object(e.id >> 48, e.id);
        last_id := e.id;
        n := n + 1;
        RETURN NEXT e;
    END LOOP;
    SELECT pg_catalog.jsonb_object_agg(a.key, pg_catalog.jsonb_build_object(
               'acked_id', a.value::bigint, 'claimed_id', coalesce((claimed ->> a.key)::bigint, a.value::bigint)))
      INTO positions FROM pg_catalog.jsonb_each_text(acked) a;
    UPDATE @extschema@.event_consumers ec
       SET node_positions = coalesce(ec.node_positions, '{}') || coalesce(positions, '{}'),
           claimed_id = coalesce(last_id, c.acked_id)
     WHERE ec.name = consumer;
    PERFORM @extschema@.metrics_count_events('claimed', n);
    RETURN;
END
$$;
COMMENT ON FUNCTION @extschema@.citus_claim_events(text, integer) IS 'On Citus, claim_events(): each node''s next events under its own claim bound, after the consumer''s position on that node, interleaved across nodes and in id order within each, at most max in all; acknowledge per node with ack_events().';

-- ack_events() on Citus: the position of the node whose range holds last_id
-- (last_id >> 48 is its group id) moves; the others stay.  acked_id keeps
-- what it means on one server, every event up to it acknowledged: the
-- lowest node's position.
CREATE FUNCTION @extschema@.citus_ack_events(consumer text, last_id bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c @extschema@.event_consumers;
    node integer;
    pos bigint;
    upto bigint;
    positions jsonb;
BEGIN
    c := @extschema@.ack_consumer(consumer, last_id);
    node := (last_id >> 48)::integer;
    pos := @extschema@.citus_node_acked(c.node_positions, c.acked_id, node);
    upto := @extschema@.citus_node_claimed(c.node_positions, c.acked_id, node);
    IF last_id > upto THEN
        RAISE EXCEPTION 'event % was not handed out to consumer "%"', last_id, consumer USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('The latest batch ends at event %s on node %s.', upto, node);
    END IF;
    IF last_id <= pos THEN
        RETURN pos;
    END IF;
    positions := coalesce(c.node_positions, '{}')
                 || pg_catalog.jsonb_build_object(node, pg_catalog.jsonb_build_object('acked_id', last_id, 'claimed_id', upto));
    UPDATE @extschema@.event_consumers ec
       SET node_positions = positions,
           acked_id = (SELECT pg_catalog.min(@extschema@.citus_node_acked(positions, c.acked_id, g))
                         FROM @extschema@.citus_event_nodes() g),
           acked_at = now()
     WHERE ec.name = consumer;
    PERFORM @extschema@.metrics_count_events('acknowledged', count(*)) FROM @extschema@.events ev
      WHERE ev.id > pos AND ev.id <= last_id;
    RETURN last_id;
END
$$;
COMMENT ON FUNCTION @extschema@.citus_ack_events(text, bigint) IS 'On Citus, ack_events(): acknowledge the consumer''s events up to last_id on the node whose range holds it (at most that node''s part of the latest batch); returns the node''s new position.';

-- task_api.metrics on the coordinator: the events' counters add the
-- workers' (events are recorded there, in each worker's shared memory; one
-- run_command_on_workers() per read).  A worker that does not answer adds
-- nothing.  Elsewhere (a worker), this node's counters alone.
CREATE FUNCTION @extschema@.citus_metrics_read(OUT metric text, OUT labels text, OUT type text, OUT value bigint, OUT help text)
    RETURNS SETOF record
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g integer;
    workers jsonb := '{}';
    w record;
    kv record;
BEGIN
    EXECUTE 'SELECT g.groupid FROM pg_catalog.pg_dist_local_group g' INTO g;
    IF g = 0 THEN
        FOR w IN EXECUTE 'SELECT * FROM pg_catalog.run_command_on_workers($c$SELECT coalesce(pg_catalog.jsonb_object_agg(m.labels, m.value), ''{}'') FROM @extschema@.metrics_read() m WHERE m.metric = ''task_api_events_total''$c$)' LOOP
            CONTINUE WHEN NOT w.success;
            FOR kv IN SELECT * FROM pg_catalog.jsonb_each_text(w.result::jsonb) LOOP
                workers := workers || pg_catalog.jsonb_build_object(kv.key, coalesce((workers ->> kv.key)::bigint, 0) + kv.value::bigint);
            END LOOP;
        END LOOP;
    END IF;
    RETURN QUERY
        SELECT m.metric, m.labels, m.type,
               m.value + CASE WHEN m.metric = 'task_api_events_total' THEN coalesce((workers ->> m.labels)::bigint, 0) ELSE 0 END,
               m.help
          FROM @extschema@.metrics_read() m;
END
$$;
COMMENT ON FUNCTION @extschema@.citus_metrics_read() IS 'On Citus: metrics_read(), with the workers'' event counters added on the coordinator (task_api.metrics reads it after distribute()).';

CREATE FUNCTION @extschema@.citus_notify_at_commit() RETURNS void
    AS 'MODULE_PATHNAME', 'task_api_citus_notify_at_commit' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.citus_notify_at_commit() IS 'On a Citus coordinator, from citus_pre_request() for a request that may write: at commit, the notifier reads the newest committed event id (recorded on the workers) and sends NOTIFY task_api_events with it.';

-- Part of distribute(): an index on the events' id.  The shards' primary
-- key is (project_id, id); a node's claim, its newest event and a
-- consumer's first unacknowledged event read by id alone (per shard, one
-- descent instead of a scan).
CREATE FUNCTION @extschema@.distribute_events() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    CREATE INDEX IF NOT EXISTS events_id_idx ON @extschema@.events (id);
END
$$;
COMMENT ON FUNCTION @extschema@.distribute_events() IS 'Part of distribute(): an index on the events'' id on every shard, for the claims and consumer health per node.';

REVOKE ALL ON FUNCTION @extschema@.citus_event_nodes(), @extschema@.citus_node_acked(jsonb, bigint, integer),
    @extschema@.citus_node_claimed(jsonb, bigint, integer), @extschema@.citus_node_top(integer),
    @extschema@.citus_event_positions(), @extschema@.citus_claim_bounds(), @extschema@.citus_node_claim_bound(),
    @extschema@.citus_claim_events(text, integer), @extschema@.citus_ack_events(text, bigint),
    @extschema@.citus_metrics_read(), @extschema@.citus_notify_at_commit(), @extschema@.distribute_events() FROM PUBLIC;
