/*
 * codec_util.c
 *		base64url and constant-time comparison: the byte-level helpers the
 *		JWT and cursor codecs share.  Pure C, no backend dependency.
 */
#include "codec_util.h"

static const char b64url_alphabet[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Encode len bytes as unpadded base64url into dst (NUL-terminated). */
size_t
ta_base64url_encode(const uint8_t *src, size_t len, char *dst)
{
	size_t		o = 0;
	size_t		i = 0;

	for (; i + 2 < len; i += 3)
	{
		uint32_t	v = ((uint32_t) src[i] << 16) | ((uint32_t) src[i + 1] << 8) | src[i + 2];

		dst[o++] = b64url_alphabet[(v >> 18) & 63];
		dst[o++] = b64url_alphabet[(v >> 12) & 63];
		dst[o++] = b64url_alphabet[(v >> 6) & 63];
		dst[o++] = b64url_alphabet[v & 63];
	}
	if (len - i == 1)
	{
		uint32_t	v = (uint32_t) src[i] << 16;

		dst[o++] = b64url_alphabet[(v >> 18) & 63];
		dst[o++] = b64url_alphabet[(v >> 12) & 63];
	}
	else if (len - i == 2)
	{
		uint32_t	v = ((uint32_t) src[i] << 16) | ((uint32_t) src[i + 1] << 8);

		dst[o++] = b64url_alphabet[(v >> 18) & 63];
		dst[o++] = b64url_alphabet[(v >> 12) & 63];
		dst[o++] = b64url_alphabet[(v >> 6) & 63];
	}
	dst[o] = '\0';
	return o;
}

/* Value of a base64url character, or -1. */
static int
b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* Decode strict unpadded base64url; -1 on any invalid or non-canonical input. */
long
ta_base64url_decode(const char *src, size_t len, uint8_t *dst, size_t dstcap)
{
	size_t		o = 0;
	uint32_t	acc = 0;
	int			bits = 0;

	/* A length of 1 mod 4 cannot come from any byte string. */
	if (len % 4 == 1)
		return -1;
	if ((len / 4) * 3 + (len % 4 ? len % 4 - 1 : 0) > dstcap)
		return -1;

	for (size_t i = 0; i < len; i++)
	{
		int			v = b64url_value((unsigned char) src[i]);

		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t) v;
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			dst[o++] = (uint8_t) (acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Leftover bits must be zero, so every byte string has one encoding. */
	if (acc != 0)
		return -1;
	return (long) o;
}

/* Compare MACs without a data-dependent early exit, so timing reveals nothing. */
bool
ta_timing_safe_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
	volatile uint8_t diff = 0;

	for (size_t i = 0; i < len; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}
