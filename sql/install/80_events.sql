-- Events: the transactional outbox and the activity feed ------------------------------
-- Every create, update, delete (to the trash), restore and purge of a project,
-- membership or task appends one row to task_api.events in the same
-- transaction (the C trigger task_api.record_event()); after commit a
-- background worker sends NOTIFY task_api_events (src/event_notify.c).
-- Members read their projects' events through api.task_events; consumers
-- outside the API (webhook relays, search indexers) take them in order with
-- claim_events() and ack_events().

-- Consumers connect as (or as a member of) this role; the API roles cannot
-- claim or acknowledge events.
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'task_api_relay') THEN
        CREATE ROLE task_api_relay NOLOGIN;
    END IF;
END
$roles$;

CREATE TABLE @extschema@.events (
    -- CACHE 1 (the default) matters: ids must be drawn from the shared
    -- sequence in order for the claim bound (events_claim.c) to hold.
    id            bigint GENERATED ALWAYS AS IDENTITY (CACHE 1) PRIMARY KEY,
    occurred_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    xact_id       xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(),
    actor_id      uuid,
    -- resource_type and action come only from record_event(), which refuses
    -- any other value (the trigger's argument is checked, the action is one
    -- of its own constants) and no role may write this table: no CHECK
    -- constraints, which the executor's single-row insert would compile for
    -- every event (half the trigger's cost per row).
    resource_type text NOT NULL,
    resource_id   uuid NOT NULL,
    project_id    uuid NOT NULL,
    action        text NOT NULL,
    changes       jsonb NOT NULL,
    request_id    text
);
COMMENT ON TABLE @extschema@.events IS 'The outbox: one row per change of a project, membership or task, written in the changing transaction by task_api.record_event(); exposed as api.task_events, consumed with claim_events()/ack_events().';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.events', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.events_id_seq', '');
COMMENT ON COLUMN @extschema@.events.id IS 'Event id: increasing in the order the events were written; consumers receive events in this order.';
COMMENT ON COLUMN @extschema@.events.occurred_at IS 'Start time of the writing transaction (now()).';
COMMENT ON COLUMN @extschema@.events.xact_id IS 'The writing transaction (pg_current_xact_id()), for diagnosis.';
COMMENT ON COLUMN @extschema@.events.actor_id IS 'The user whose request made the change (sub claim), or NULL for maintenance (no request).';
COMMENT ON COLUMN @extschema@.events.resource_type IS 'project, member or task.';
COMMENT ON COLUMN @extschema@.events.resource_id IS 'Id of the project or task; the user id for a membership.';
COMMENT ON COLUMN @extschema@.events.project_id IS 'The project the resource belongs to (for a project, its own id).';
COMMENT ON COLUMN @extschema@.events.action IS 'created, updated, deleted (to the trash), restored (from the trash) or purged (deleted for good).';
COMMENT ON COLUMN @extschema@.events.request_id IS 'The id of the request that made the change (its X-Request-Id answer header, src/trace.c), or NULL outside a request.';
COMMENT ON COLUMN @extschema@.events.changes IS 'created: the new row; purged: the last row; updated, deleted, restored: {column: {old, new}} for the columns that changed. updated_at and version are not recorded.';
-- The feed: a project's events, newest first, through the RLS filter on project_id.
CREATE INDEX events_project_idx ON @extschema@.events (project_id, id DESC);

CREATE TABLE @extschema@.event_consumers (
    name       text PRIMARY KEY CHECK (pg_catalog.char_length(name) BETWEEN 1 AND 100),
    acked_id   bigint NOT NULL DEFAULT 0,
    claimed_id bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    acked_at   timestamptz
);
COMMENT ON TABLE @extschema@.event_consumers IS 'One row per consumer of task_api.events (created by its first claim_events()): how far it has acknowledged.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.event_consumers', '');
COMMENT ON COLUMN @extschema@.event_consumers.name IS 'Consumer name (1 to 100 characters); every worker of one consumer uses the same name.';
COMMENT ON COLUMN @extschema@.event_consumers.acked_id IS 'Every event up to this id has been acknowledged; the next claim starts after it.';
COMMENT ON COLUMN @extschema@.event_consumers.claimed_id IS 'Last event id of the latest batch handed out; ack_events() accepts ids up to it.';
COMMENT ON COLUMN @extschema@.event_consumers.created_at IS 'When the consumer first claimed.';
COMMENT ON COLUMN @extschema@.event_consumers.acked_at IS 'When the consumer last acknowledged.';

ALTER TABLE @extschema@.events ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.events FORCE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.event_consumers ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.event_consumers FORCE ROW LEVEL SECURITY;

-- Members read their projects' events.  Nobody else has a policy: events are
-- written by the trigger as the tables' owner and consumers go through the
-- SECURITY DEFINER functions below.
CREATE POLICY events_select ON @extschema@.events FOR SELECT TO task_api_user
    USING (project_id = ANY ((SELECT @extschema@.member_project_ids('viewer'))::uuid[]));

CREATE FUNCTION @extschema@.record_event() RETURNS trigger
    AS 'MODULE_PATHNAME', 'task_api_record_event' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.record_event() IS 'AFTER INSERT OR UPDATE OR DELETE row trigger: record_event(resource_type, id_col, project_id_col [, unrecorded_col ...]) appends the change to task_api.events (created, updated with the changed columns, deleted/restored by deleted_at, purged) and, once the transaction has committed, has NOTIFY task_api_events sent by the notifier worker (payload: the highest event id committed since its previous notification); updates that change only unrecorded columns record nothing.';

CREATE FUNCTION @extschema@.events_claim_bound() RETURNS bigint
    AS 'MODULE_PATHNAME', 'task_api_events_claim_bound' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.events_claim_bound() IS 'Exclusive upper bound of the event ids that may be handed out now: every transaction that drew a smaller id has ended, and none can still add one. Read events under a snapshot taken after calling it. Needs shared_preload_libraries.';

-- Named to fire before the other AFTER triggers of the table (they fire in
-- name order), so a project's "created" comes before its owner's membership
-- and a membership change before the owner hand-off it causes
-- (test/pgtap/trigger_order.sql checks it).
CREATE TRIGGER events_record AFTER INSERT OR UPDATE OR DELETE ON @extschema@.projects
    FOR EACH ROW EXECUTE FUNCTION @extschema@.record_event('project', 'id', 'id', 'updated_at', 'version');
CREATE TRIGGER events_record AFTER INSERT OR UPDATE OR DELETE ON @extschema@.project_members
    FOR EACH ROW EXECUTE FUNCTION @extschema@.record_event('member', 'user_id', 'project_id');
CREATE TRIGGER events_record AFTER INSERT OR UPDATE OR DELETE ON @extschema@.tasks
    FOR EACH ROW EXECUTE FUNCTION @extschema@.record_event('task', 'id', 'project_id', 'updated_at', 'version');

-- Consumers ----------------------------------------------------------------------------

-- What every claim begins with: the arguments checked, the consumer
-- registered on its first claim and locked.  NULL while another worker of
-- the consumer holds its batch (until that transaction ends): the claim then
-- hands out nothing rather than the same events twice at once.
CREATE FUNCTION @extschema@.claim_consumer(consumer text, max integer) RETURNS @extschema@.event_consumers
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c @extschema@.event_consumers;
BEGIN
    IF consumer IS NULL OR char_length(consumer) NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'consumer must be a name of 1 to 100 characters' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF claim_consumer.max IS NULL OR claim_consumer.max NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION 'max must be between 1 and 10000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The claim bound is only valid for a snapshot taken after it is computed.
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'claim_events() must run in a READ COMMITTED transaction' USING ERRCODE = 'feature_not_supported',
            HINT = 'A snapshot taken earlier in the transaction could miss events below the bound.';
    END IF;
    IF NOT EXISTS (SELECT FROM @extschema@.event_consumers ec WHERE ec.name = consumer) THEN
        INSERT INTO @extschema@.event_consumers (name) VALUES (consumer) ON CONFLICT DO NOTHING;
    END IF;
    SELECT * INTO c FROM @extschema@.event_consumers ec WHERE ec.name = consumer FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN c;
END
$$;
COMMENT ON FUNCTION @extschema@.claim_consumer(text, integer) IS 'The start of claim_events() (and of its Citus form): checks consumer and max, registers the consumer on its first claim and locks it; NULL while another worker of it holds a batch.';

CREATE FUNCTION @extschema@.claim_events(consumer text, max integer DEFAULT 100) RETURNS SETOF @extschema@.events
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c @extschema@.event_consumers;
    bound bigint;
    e @extschema@.events;
    last_id bigint;
    n bigint := 0;
BEGIN
    c := @extschema@.claim_consumer(consumer, claim_events.max);
    IF c.name IS NULL THEN
        RETURN;  -- another worker of this consumer holds its batch
    END IF;
    bound := @extschema@.events_claim_bound();
    -- A new statement, so a new snapshot: it sees every event below the bound.
    FOR e IN SELECT * FROM @extschema@.events ev
              WHERE ev.id > c.acked_id AND ev.id < bound
              ORDER BY ev.id LIMIT claim_events.max
    LOOP
        last_id := e.id;
        n := n + 1;
        RETURN NEXT e;
    END LOOP;
    UPDATE @extschema@.event_consumers ec SET claimed_id = coalesce(last_id, c.acked_id) WHERE ec.name = consumer;
    PERFORM @extschema@.metrics_count_events('claimed', n);
    RETURN;
END
$$;
COMMENT ON FUNCTION @extschema@.claim_events(text, integer) IS 'Hand the consumer its next events after the last acknowledged one, in id order, at most max (1 to 10000, default 100), and lock the consumer until the transaction ends (other workers of it get nothing meanwhile: FOR UPDATE SKIP LOCKED). Only events no in-flight transaction can precede are handed out. Deliver them, then ack_events() in the same transaction; a batch not acknowledged is handed out again. READ COMMITTED only.';

-- What every acknowledgement begins with: the arguments checked and the
-- consumer locked, without waiting (the worker that claimed holds it).
CREATE FUNCTION @extschema@.ack_consumer(consumer text, last_id bigint) RETURNS @extschema@.event_consumers
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c @extschema@.event_consumers;
BEGIN
    IF consumer IS NULL OR last_id IS NULL THEN
        RAISE EXCEPTION 'consumer and last_id are required' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    BEGIN
        SELECT * INTO c FROM @extschema@.event_consumers ec WHERE ec.name = consumer FOR UPDATE NOWAIT;
    EXCEPTION WHEN lock_not_available THEN
        RAISE EXCEPTION 'consumer "%" is claimed by another worker', consumer USING ERRCODE = 'lock_not_available',
            HINT = 'Acknowledge in the transaction that claimed the events.';
    END;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no consumer named "%"', consumer USING ERRCODE = 'invalid_parameter_value',
            HINT = 'A consumer is created by its first claim_events().';
    END IF;
    RETURN c;
END
$$;
COMMENT ON FUNCTION @extschema@.ack_consumer(text, bigint) IS 'The start of ack_events() (and of its Citus form): checks the arguments and locks the consumer without waiting (lock_not_available while another worker holds it; invalid_parameter_value when there is none).';

CREATE FUNCTION @extschema@.ack_events(consumer text, last_id bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c @extschema@.event_consumers;
BEGIN
    c := @extschema@.ack_consumer(consumer, last_id);
    IF last_id > c.claimed_id THEN
        RAISE EXCEPTION 'event % was not handed out to consumer "%"', last_id, consumer USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('The latest batch ends at event %s.', c.claimed_id);
    END IF;
    IF last_id <= c.acked_id THEN
        RETURN c.acked_id;
    END IF;
    UPDATE @extschema@.event_consumers ec SET acked_id = last_id, acked_at = now() WHERE ec.name = consumer;
    PERFORM @extschema@.metrics_count_events('acknowledged', count(*)) FROM @extschema@.events ev
      WHERE ev.id > c.acked_id AND ev.id <= last_id;
    RETURN last_id;
END
$$;
COMMENT ON FUNCTION @extschema@.ack_events(text, bigint) IS 'Acknowledge every event of the consumer up to last_id (at most the end of the batch claimed); returns the consumer''s new position. Acknowledging again is harmless.';

-- The API view ------------------------------------------------------------------------

-- The activity feed shows only fields of the public resource (issue 14): the
-- columns of the table that its api view does not have are dropped from
-- changes.  test/pgtap/events.sql checks the lists against the catalogue.
CREATE FUNCTION @extschema@.internal_columns(resource_type text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN CASE resource_type
        WHEN 'task' THEN '{deleted_at,deleted_by,deleted_with_project}'::text[]
        WHEN 'project' THEN '{deleted_at,deleted_by}'::text[]
        ELSE '{}'::text[] END;
COMMENT ON FUNCTION @extschema@.internal_columns(text) IS E'The columns of a resource''s table that its api view does not show (the trash''s bookkeeping), dropped from the changes of api.task_events.\n\nArguments:\nresource_type: project, member or task.';
REVOKE ALL ON FUNCTION @extschema@.internal_columns(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.internal_columns(text) TO task_api_user;


CREATE VIEW api.task_events WITH (security_invoker = true) AS
    SELECT e.id, e.occurred_at, e.actor_id, e.resource_type, e.resource_id, e.project_id, e.action,
           e.changes OPERATOR(pg_catalog.-) @extschema@.internal_columns(e.resource_type) AS changes,
           e.request_id
      FROM @extschema@.events e;
COMMENT ON VIEW api.task_events IS E'Activity feed: every change to the projects you are a member of, their memberships and tasks. Read-only.\n\nNewest first with order=id.desc; a removed member no longer sees the project''s events.';
COMMENT ON COLUMN api.task_events.id IS 'Event id, increasing in the order changes were written: order=id.desc for newest first.';
COMMENT ON COLUMN api.task_events.occurred_at IS 'When the change was made (its transaction''s start).';
COMMENT ON COLUMN api.task_events.actor_id IS 'Who made the change, or null for maintenance (e.g. the scheduled purge).';
COMMENT ON COLUMN api.task_events.resource_type IS 'project, member or task.';
COMMENT ON COLUMN api.task_events.resource_id IS 'Id of the project or task; the member''s user id for a membership.';
COMMENT ON COLUMN api.task_events.project_id IS 'The project (for a project event, its own id).';
COMMENT ON COLUMN api.task_events.action IS 'created, updated, deleted (moved to the trash), restored or purged.';
COMMENT ON COLUMN api.task_events.request_id IS 'The id of the request that made the change (the X-Request-Id header of its answer), or null.';
COMMENT ON COLUMN api.task_events.changes IS 'created: the new row; purged: the last row; updated, deleted, restored: {"column": {"old": ..., "new": ...}} for each changed column (updated_at and version are not recorded). Only fields of the resource''s view appear: a move to the trash and a restore show {}.';

-- Privileges -----------------------------------------------------------------------------
GRANT SELECT ON api.task_events TO task_api_user;
GRANT SELECT (id, occurred_at, actor_id, resource_type, resource_id, project_id, action, changes, request_id)
    ON @extschema@.events TO task_api_user;
GRANT USAGE ON SCHEMA @extschema@ TO task_api_relay;
REVOKE ALL ON FUNCTION @extschema@.claim_events(text, integer), @extschema@.ack_events(text, bigint),
    @extschema@.events_claim_bound(), @extschema@.record_event() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.claim_events(text, integer), @extschema@.ack_events(text, bigint) TO task_api_relay;
