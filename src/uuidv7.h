/*
 * uuidv7.h
 *		Time-ordered identifiers (RFC 9562 UUID version 7).
 */
#ifndef TASK_API_UUIDV7_H
#define TASK_API_UUIDV7_H

#include "utils/uuid.h"

/* n (at most 512) bytes from pg_strong_random(), drawn in batches. */
extern void ta_random_bytes(uint8 *out, size_t n);

/* A fresh UUIDv7, monotonic within this backend. */
extern void ta_uuidv7(pg_uuid_t *uuid);

#endif							/* TASK_API_UUIDV7_H */
