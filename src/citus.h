/*
 * citus.h
 *		What the library does differently once task_api.distribute() has
 *		made its tables Citus tables (docs/scaling.md).
 */
#ifndef TASK_API_CITUS_H
#define TASK_API_CITUS_H

#include "datatype/timestamp.h"
#include "utils/rel.h"
#include "utils/uuid.h"

/* Is relid a Citus table (in pg_dist_partition)?  False without Citus. */
extern bool ta_citus_table(Oid relid);

/*
 * Is task_api.<name> a Citus table?  Without Citus, false before looking
 * the table up.
 */
extern bool ta_citus_table_named(const char *name);

/*
 * ta_credential_lookup() for a Citus table: its rows are in shards, which
 * a query reaches and a direct index scan of the table does not.
 */
extern void ta_citus_credential_lookup(char kind, const pg_uuid_t *id, const pg_uuid_t *user_id,
									   bool *ok, TimestampTz *expires);

/*
 * On a Citus worker, rel being a shard of a task_api table: the events
 * shard colocated with it, where its events go (docs/scaling.md, "Events").
 * InvalidOid for any other relation, and always on a single server (the
 * answer for the last relation is kept: one comparison per event).
 */
extern Oid ta_citus_events_shard(Relation rel);

/*
 * Where Citus is preloaded before task_api: the planner hook that lets
 * UPDATE and DELETE through the API views run (src/citus_views.c).
 */
extern void ta_citus_views_init(void);

/* Whether Citus was preloaded before task_api (set by ta_citus_views_init). */
extern bool ta_citus_preloaded;

/*
 * A task_api_citus.* setting the coordinator sends with a request
 * (citus_resolve_caller()), or NULL when it is unset or empty, or Citus is
 * not preloaded (then at the cost of one boolean).
 */
extern const char *ta_citus_request_setting(const char *name);

/*
 * now() for the row stamps: the transaction's start, except on a Citus node
 * inside a request, where it is the coordinator's (task_api_citus.now, set
 * by citus_resolve_caller() and sent to the workers): a row written on a
 * worker gets the time the coordinator's answer shows.  One boolean on a
 * server without Citus.
 */
extern TimestampTz ta_citus_request_start(void);

#endif							/* TASK_API_CITUS_H */
