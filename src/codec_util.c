/*
 * codec_util.c
 *		base64url and constant-time comparison: the byte-level helpers the
 *		JWT and cursor codecs share.  Pure C, no backend dependency.
 */
#include "codec_util.h"

#include <string.h>

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

/* Value + 1 of each base64url character; 0: not base64url. */
static const uint8_t b64url_values[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6,
	['G'] = 7, ['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12,
	['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18,
	['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
	['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30,
	['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36,
	['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
	['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
	['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54,
	['2'] = 55, ['3'] = 56, ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60,
	['8'] = 61, ['9'] = 62, ['-'] = 63, ['_'] = 64
};

/* Four characters' 24 bits, or -1 if one is not base64url (absent: 'A'). */
static int32_t
b64url_quad(const char *src, size_t n)
{
	int32_t		v = 0;

	for (size_t k = 0; k < 4; k++)
	{
		uint8_t		x = k < n ? b64url_values[(unsigned char) src[k]] : 1;

		if (x == 0)
			return -1;
		v = (v << 6) | (x - 1);
	}
	return v;
}

/*
 * Decode strict unpadded base64url; -1 on any invalid or non-canonical input.
 * Four characters at a time, by table.
 */
long
ta_base64url_decode(const char *src, size_t len, uint8_t *dst, size_t dstcap)
{
	size_t		o = 0;
	size_t		i = 0;
	size_t		rest = len % 4;
	int32_t		v;

	/* A length of 1 mod 4 cannot come from any byte string. */
	if (rest == 1)
		return -1;
	if ((len / 4) * 3 + (rest ? rest - 1 : 0) > dstcap)
		return -1;

	for (; i + 4 <= len; i += 4)
	{
		/* Values 0-63; 255 (0 - 1) for a character not in the alphabet. */
		uint8_t		a = (uint8_t) (b64url_values[(unsigned char) src[i]] - 1);
		uint8_t		b = (uint8_t) (b64url_values[(unsigned char) src[i + 1]] - 1);
		uint8_t		c = (uint8_t) (b64url_values[(unsigned char) src[i + 2]] - 1);
		uint8_t		d = (uint8_t) (b64url_values[(unsigned char) src[i + 3]] - 1);

		if ((a | b | c | d) > 63)
			return -1;
		v = ((int32_t) a << 18) | ((int32_t) b << 12) | ((int32_t) c << 6) | d;
		dst[o++] = (uint8_t) (v >> 16);
		dst[o++] = (uint8_t) (v >> 8);
		dst[o++] = (uint8_t) v;
	}
	if (rest == 0)
		return (long) o;
	if ((v = b64url_quad(src + i, rest)) < 0)
		return -1;
	/* Leftover bits must be zero, so every byte string has one encoding. */
	if ((rest == 2 && (v & 0xFFFF) != 0) || (rest == 3 && (v & 0xFF) != 0))
		return -1;
	dst[o++] = (uint8_t) (v >> 16);
	if (rest == 3)
		dst[o++] = (uint8_t) (v >> 8);
	return (long) o;
}

/* Compare MACs without a data-dependent early exit, so timing reveals nothing. */
bool
ta_timing_safe_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
	volatile uint64_t diff = 0;
	size_t		i = 0;

	/* Eight bytes at a time (memcpy: any alignment), then the rest. */
	for (; i + 8 <= len; i += 8)
	{
		uint64_t	x,
					y;

		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		diff |= x ^ y;
	}
	for (; i < len; i++)
		diff |= (uint64_t) (a[i] ^ b[i]);
	return diff == 0;
}
