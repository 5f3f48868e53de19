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

/* NOTIFY task_api_events for event id after commit (event_notify.c). */
extern void ta_event_notify(int64 id);

/* The notifier's transaction callback, shared memory and launcher (event_notify.c). */
extern void ta_event_notify_init(void);

#endif							/* TASK_API_EVENTS_H */
