/*
 * cursor_codec.h
 *		Pagination cursors: a pure-C codec with no backend dependency.
 *
 * A cursor is a versioned binary record, authenticated with HMAC-SHA-256
 * and written in base64url without padding:
 *
 *	version (1 byte, 1) | direction (1: 0 asc, 1 desc) |
 *	key tag (1: type, | 0x80 when the key is NULL) | key value (by type) |
 *	last id (16) | fingerprint (16) | HMAC-SHA-256 of everything before (32)
 *
 * Key values: int2 2 bytes, int4 and date 4, int8, timestamp and
 * timestamptz 8 (PostgreSQL's internal values, big-endian two's
 * complement), uuid 16, text a 2-byte length and at most
 * TA_CURSOR_MAX_TEXT bytes.  A NULL key has no value bytes.
 *
 * The codec never allocates and reads no byte outside its input; the HMAC is
 * injected (the server uses PostgreSQL's own, see cursor.c).  Decoding is
 * strict: one encoding per record, so any byte changed, added or removed is
 * refused.
 */
#ifndef TASK_API_CURSOR_CODEC_H
#define TASK_API_CURSOR_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec_util.h"		/* base64url, ta_hmac_sha256_fn, constant-time compare */

#define TA_CURSOR_VERSION		1
#define TA_CURSOR_ID_LEN		16
#define TA_CURSOR_FP_LEN		16
#define TA_CURSOR_MAC_LEN		32
#define TA_CURSOR_MAX_TEXT		512
/* version, direction, tag, text length + text, id, fingerprint, MAC */
#define TA_CURSOR_MAX_RECORD	(3 + 2 + TA_CURSOR_MAX_TEXT + TA_CURSOR_ID_LEN + TA_CURSOR_FP_LEN + TA_CURSOR_MAC_LEN)
#define TA_CURSOR_MAX_ENCODED	((TA_CURSOR_MAX_RECORD * 4 + 2) / 3 + 1)	/* with the NUL */

typedef enum ta_cursor_type
{
	TA_CURSOR_INT2 = 1,
	TA_CURSOR_INT4 = 2,
	TA_CURSOR_INT8 = 3,
	TA_CURSOR_TIMESTAMPTZ = 4,
	TA_CURSOR_TIMESTAMP = 5,
	TA_CURSOR_DATE = 6,
	TA_CURSOR_TEXT = 7,
	TA_CURSOR_UUID = 8
} ta_cursor_type;

#define TA_CURSOR_NULL_FLAG		0x80

typedef enum ta_cursor_direction
{
	TA_CURSOR_ASC = 0,
	TA_CURSOR_DESC = 1
} ta_cursor_direction;

typedef enum ta_cursor_result
{
	TA_CURSOR_OK = 0,
	TA_CURSOR_MALFORMED,		/* not base64url, or not a well-formed record */
	TA_CURSOR_BAD_VERSION,		/* authentic, but a version this codec does not read */
	TA_CURSOR_BAD_MAC,			/* MAC mismatch: tampered, truncated or another key */
	TA_CURSOR_HMAC_FAILED,		/* the HMAC provider failed */
	TA_CURSOR_TOO_LONG,			/* encode: text key over TA_CURSOR_MAX_TEXT */
	TA_CURSOR_BAD_ARGUMENT		/* encode: unknown type or direction, or a short buffer */
} ta_cursor_result;

typedef struct ta_cursor
{
	ta_cursor_direction direction;
	ta_cursor_type type;
	bool		key_is_null;
	int64_t		key_int;		/* int2, int4, int8, timestamp(tz), date */
	uint8_t		key_uuid[16];	/* uuid */
	uint16_t	key_text_len;	/* text: bytes in key_text */
	uint8_t		key_text[TA_CURSOR_MAX_TEXT];	/* not NUL-terminated */
	uint8_t		last_id[TA_CURSOR_ID_LEN];
	uint8_t		fingerprint[TA_CURSOR_FP_LEN];
} ta_cursor;

/* Whether a type tag is one the codec knows. */
extern bool ta_cursor_type_valid(int type);

/*
 * Serialize the record without the MAC into buf; returns its length, or 0
 * when the cursor cannot be encoded (bad type, direction, range or length).
 */
extern size_t ta_cursor_serialize(const ta_cursor *c, uint8_t *buf, size_t cap);

/*
 * Parse an unauthenticated record (no MAC) that must fill exactly len bytes.
 * TA_CURSOR_BAD_VERSION for another version, TA_CURSOR_MALFORMED otherwise.
 */
extern ta_cursor_result ta_cursor_parse(const uint8_t *buf, size_t len, ta_cursor *out);

/*
 * Encode a cursor: record + MAC in base64url, NUL-terminated, into out
 * (TA_CURSOR_MAX_ENCODED bytes are always enough); *outlen gets its length.
 */
extern ta_cursor_result ta_cursor_encode(const ta_cursor *c,
										 const uint8_t *key, size_t keylen,
										 ta_hmac_sha256_fn hmac,
										 char *out, size_t cap, size_t *outlen);

/*
 * Decode and authenticate a cursor.  The MAC is checked, in constant time,
 * before any field is trusted; the fingerprint is returned, not compared
 * (the caller decides what a mismatch means).
 */
extern ta_cursor_result ta_cursor_decode(const char *text, size_t len,
										 const uint8_t *key, size_t keylen,
										 ta_hmac_sha256_fn hmac,
										 ta_cursor *out);

/* A short English name for a result code, for messages and tests. */
extern const char *ta_cursor_result_text(ta_cursor_result r);

#endif							/* TASK_API_CURSOR_CODEC_H */
