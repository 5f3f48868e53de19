/*
 * etag.h
 *		Optimistic concurrency: If-Match on writes, ETag on responses.
 */
#ifndef TASK_API_ETAG_H
#define TASK_API_ETAG_H

/* Raise precondition_failed (412) or invalid_parameter (400) as If-Match says. */
extern void ta_check_if_match(int32 version);

/* Note one row written: a single-row response carries ETag: "<version>". */
extern void ta_note_etag(int32 version);

#endif							/* TASK_API_ETAG_H */
