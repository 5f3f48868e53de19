/*
 * trace_id.h
 *		Request ids, W3C trace ids and the UUIDs of tokens' claims, pure C
 *		(no backend dependency), so that test/c can unit-test them under
 *		ASan and UBSan.
 */
#ifndef TASK_API_TRACE_ID_H
#define TASK_API_TRACE_ID_H

#include <stdbool.h>
#include <stddef.h>

/* Longest request id kept (application_name holds 63 bytes). */
#define TA_REQUEST_ID_MAX 63
/* A W3C trace id: 32 lowercase hex digits. */
#define TA_TRACE_ID_LEN 32

/* 1 to TA_REQUEST_ID_MAX characters of [A-Za-z0-9._:-]; false for NULL. */
extern bool ta_valid_request_id(const char *s);

/*
 * The trace id of a W3C traceparent header into out (TA_TRACE_ID_LEN + 1
 * bytes); false (out untouched) when the header is NULL or not valid.
 */
extern bool ta_traceparent_trace_id(const char *tp, char *out);

/*
 * A UUID in the canonical 8-4-4-4-12 form (hex digits of either case) into
 * out[16]; false for anything else (out then holds no meaning).  s is read
 * no further than its terminator.
 */
extern bool ta_uuid_parse(const char *s, unsigned char *out);

#endif							/* TASK_API_TRACE_ID_H */
