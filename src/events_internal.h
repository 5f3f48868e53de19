/*
 * events_internal.h
 *		What the three parts of the outbox share: events_record.c builds an
 *		event, events_claim.c draws its id (in an order consumers can rely
 *		on) and events_store.c writes it into task_api.events.
 */
#ifndef TASK_API_EVENTS_INTERNAL_H
#define TASK_API_EVENTS_INTERNAL_H

#include "utils/rel.h"

/* Columns of task_api.events, in order (80_events.sql). */
enum
{
	Anum_events_id = 1,
	Anum_events_occurred_at,
	Anum_events_xact_id,
	Anum_events_actor_id,
	Anum_events_resource_type,
	Anum_events_resource_id,
	Anum_events_project_id,
	Anum_events_action,
	Anum_events_changes,
	/* Since 0.2.0; a table without it (0.1.0's) is still written. */
	Anum_events_request_id,
	Natts_events = Anum_events_request_id
};

/* Draw the next event id from task_api.events_id_seq, published for claimers. */
extern int64 ta_events_next_id(void);

/*
 * Buffer one event row (values/nulls in column order), recorded by a
 * trigger on rel, for task_api.events (on a Citus worker, rel's colocated
 * events shard); written at statement end.
 */
extern void ta_events_store(Relation rel, Datum *values, bool *nulls);

/* Did every event of this transaction go into a Citus events shard (none recorded: true)? */
extern bool ta_events_only_in_shards(void);

#endif							/* TASK_API_EVENTS_INTERNAL_H */
