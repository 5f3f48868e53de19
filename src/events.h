/*
 * events.h
 *		The transactional outbox (task_api.events).
 */
#ifndef TASK_API_EVENTS_H
#define TASK_API_EVENTS_H

/* Register the transaction callback and, when preloaded, shared memory. */
extern void ta_events_init(void);

/* Register the statement-end hook that writes buffered events (events_store.c). */
extern void ta_events_store_init(void);

/* Write the events the current subtransaction buffered. */
extern void ta_events_flush(void);

#endif							/* TASK_API_EVENTS_H */
