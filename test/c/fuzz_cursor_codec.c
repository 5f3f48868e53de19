/*
 * fuzz_cursor_codec.c
 *		libFuzzer harness for the pure-C pagination cursor codec
 *		(src/cursor_codec.c).
 *
 * Each input is fed to
 *	 - ta_cursor_decode as cursor text (fixed key): whatever it accepts must
 *	   re-encode to exactly the same text (one encoding per cursor);
 *	 - ta_cursor_parse as a raw record: whatever it accepts must serialize
 *	   back to exactly the same bytes;
 *	 - the same raw record signed with the key and base64url-encoded, through
 *	   ta_cursor_decode: it must agree with ta_cursor_parse;
 *	 - the same signed record decoded with another key: never accepted.
 * Any disagreement aborts (a crash for libFuzzer).
 *
 * Built with -DTA_FUZZ_SEED_MAIN (and without -fsanitize=fuzzer) this file
 * is instead a program that writes the seed corpus into the directory given.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cursor_codec.h"
#include "hmac_pg.h"

static const uint8_t fuzz_key[] = "task_api cursor fuzz key: 0123456789abcdef";
#define FUZZ_KEYLEN (sizeof(fuzz_key) - 1)

#define FAIL(...) \
	do { \
		fprintf(stderr, "fuzz_cursor_codec: %s:%d: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} while (0)
#define ASSERT(cond) \
	do { if (!(cond)) FAIL("assertion failed: %s", #cond); } while (0)

#ifndef TA_FUZZ_SEED_MAIN

static const uint8_t other_key[] = "task_api cursor fuzz key: another one......";
#define OTHER_KEYLEN (sizeof(other_key) - 1)

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ta_cursor	c;
	ta_cursor	c2;
	ta_cursor_result r;
	ta_cursor_result pr;
	char		text[TA_CURSOR_MAX_ENCODED];
	size_t		len;
	uint8_t		rec[TA_CURSOR_MAX_RECORD];
	size_t		n;

	/* 1. The input as cursor text, in an exact-size heap copy (ASan sees overruns). */
	{
		char	   *copy = malloc(size ? size : 1);

		if (size)
			memcpy(copy, data, size);
		r = ta_cursor_decode(copy, size, fuzz_key, FUZZ_KEYLEN, ta_test_hmac_sha256, &c);
		if (r == TA_CURSOR_OK)
		{
			ASSERT(ta_cursor_encode(&c, fuzz_key, FUZZ_KEYLEN, ta_test_hmac_sha256,
									text, sizeof(text), &len) == TA_CURSOR_OK);
			ASSERT(len == size && memcmp(text, copy, size) == 0);
		}
		else
			ASSERT(r == TA_CURSOR_MALFORMED || r == TA_CURSOR_BAD_MAC || r == TA_CURSOR_BAD_VERSION);
		free(copy);
	}

	/* 2. The input as a raw record. */
	{
		uint8_t    *copy = malloc(size ? size : 1);

		if (size)
			memcpy(copy, data, size);
		pr = ta_cursor_parse(copy, size, &c);
		if (pr == TA_CURSOR_OK)
		{
			n = ta_cursor_serialize(&c, rec, sizeof(rec));
			ASSERT(n == size && memcmp(rec, copy, size) == 0);
		}
		else
			ASSERT(pr == TA_CURSOR_MALFORMED || pr == TA_CURSOR_BAD_VERSION);
		free(copy);
	}

	/* 3. The raw record signed: decode agrees with parse; another key never passes. */
	if (size + TA_CURSOR_MAC_LEN <= TA_CURSOR_MAX_RECORD + 8)
	{
		uint8_t		buf[TA_CURSOR_MAX_RECORD + 8 + TA_CURSOR_MAC_LEN];
		char		enc[2 * sizeof(buf)];
		size_t		el;

		if (size)
			memcpy(buf, data, size);
		ASSERT(ta_test_hmac_sha256(fuzz_key, FUZZ_KEYLEN, buf, size, buf + size));
		el = ta_base64url_encode(buf, size + TA_CURSOR_MAC_LEN, enc);
		r = ta_cursor_decode(enc, el, fuzz_key, FUZZ_KEYLEN, ta_test_hmac_sha256, &c2);
		if (size + TA_CURSOR_MAC_LEN > TA_CURSOR_MAX_RECORD)
			ASSERT(r == TA_CURSOR_MALFORMED);
		else if (size < 3 + TA_CURSOR_ID_LEN + TA_CURSOR_FP_LEN)
			ASSERT(r == TA_CURSOR_MALFORMED);
		else
		{
			ASSERT(r == pr);
			if (r == TA_CURSOR_OK)
			{
				ASSERT(ta_cursor_encode(&c2, fuzz_key, FUZZ_KEYLEN, ta_test_hmac_sha256,
										text, sizeof(text), &len) == TA_CURSOR_OK);
				ASSERT(len == el && memcmp(text, enc, el) == 0);
			}
		}
		ASSERT(ta_cursor_decode(enc, el, other_key, OTHER_KEYLEN, ta_test_hmac_sha256, &c2) != TA_CURSOR_OK);
	}
	return 0;
}

#else							/* TA_FUZZ_SEED_MAIN */

#include "fuzz_seed.h"

/* One valid cursor of the type as text, and its record without MAC. */
static void
seed_cursor(ta_cursor_type type, bool is_null, int64_t v)
{
	ta_cursor	c;
	char		text[TA_CURSOR_MAX_ENCODED];
	size_t		len;
	uint8_t		rec[TA_CURSOR_MAX_RECORD];
	size_t		n;

	memset(&c, 0, sizeof(c));
	c.type = type;
	c.direction = (v & 1) ? TA_CURSOR_DESC : TA_CURSOR_ASC;
	c.key_is_null = is_null;
	c.key_int = v;
	memset(c.key_uuid, 0x5A, sizeof(c.key_uuid));
	c.key_text_len = 5;
	memcpy(c.key_text, "hello", 5);
	memset(c.last_id, 0x11, sizeof(c.last_id));
	memset(c.fingerprint, 0x22, sizeof(c.fingerprint));
	if (ta_cursor_encode(&c, fuzz_key, FUZZ_KEYLEN, ta_test_hmac_sha256, text, sizeof(text), &len) != TA_CURSOR_OK)
		exit(1);
	write_seed(text, len);
	n = ta_cursor_serialize(&c, rec, sizeof(rec));
	write_seed(rec, n);
}

int
main(int argc, char **argv)
{
	if (argc != 2)
	{
		fprintf(stderr, "usage: %s SEED_DIR\n", argv[0]);
		return 2;
	}
	seed_dir = argv[1];
	for (int t = TA_CURSOR_INT2; t <= TA_CURSOR_UUID; t++)
	{
		seed_cursor((ta_cursor_type) t, false, t == TA_CURSOR_INT2 ? -7 : 1234567);
		seed_cursor((ta_cursor_type) t, true, 0);
	}
	write_seed("", 0);
	write_seed("AQ", 2);
	return 0;
}

#endif							/* TA_FUZZ_SEED_MAIN */
