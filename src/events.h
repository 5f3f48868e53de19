/*
 * events.h
 *		The transactional outbox (task_api.events).
 */
#ifndef TASK_API_EVENTS_H
#define TASK_API_EVENTS_H

/* Register the transaction callback and, when preloaded, shared memory. */
extern void ta_events_init(void);

#endif							/* TASK_API_EVENTS_H */
