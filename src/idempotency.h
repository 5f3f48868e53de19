/*
 * idempotency.h
 *		Idempotency-Key: exactly-once writes (docs/contract.md §8).
 */
#ifndef TASK_API_IDEMPOTENCY_H
#define TASK_API_IDEMPOTENCY_H

/* Define the settings and the transaction callbacks; called from _PG_init. */
extern void ta_idempotency_init(void);

/*
 * True while the current INSERT or UPDATE on an API view replays a stored
 * response: the write triggers must then return NEW unchanged, write
 * nothing and note no ETag.
 */
extern bool ta_idempotency_replaying(void);

#endif							/* TASK_API_IDEMPOTENCY_H */
