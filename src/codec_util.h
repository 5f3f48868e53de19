/*
 * codec_util.h
 *		Byte-level helpers shared by the pure-C codecs (jwt_codec.c,
 *		cursor_codec.c) and parsers (error_fields.c, trace_id.c): base64url
 *		without padding, hex digits, a constant-time comparison and the
 *		injected HMAC's type.  No backend dependency, so the unit tests and
 *		fuzzers in test/c/ build them on their own.
 */
#ifndef TASK_API_CODEC_UTIL_H
#define TASK_API_CODEC_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* HMAC-SHA-256(key, msg) into out[32]; returns false on failure. */
typedef bool (*ta_hmac_sha256_fn) (const uint8_t *key, size_t keylen,
								   const uint8_t *msg, size_t msglen,
								   uint8_t *out);

/* base64url without padding.  decode returns -1 on any invalid input. */
extern size_t ta_base64url_encode(const uint8_t *src, size_t len, char *dst);
extern long ta_base64url_decode(const char *src, size_t len, uint8_t *dst, size_t dstcap);

/* The value of one hex digit of either case, or -1 for any other byte. */
static inline int
ta_hex_digit(unsigned char c)
{
	unsigned int d = (unsigned int) c - '0';

	if (d < 10)
		return (int) d;
	d = (unsigned int) (c | 0x20) - 'a';
	return d < 6 ? (int) d + 10 : -1;
}

/* Constant-time comparison of two byte strings of equal length. */
extern bool ta_timing_safe_equal(const uint8_t *a, const uint8_t *b, size_t len);

#endif							/* TASK_API_CODEC_UTIL_H */
