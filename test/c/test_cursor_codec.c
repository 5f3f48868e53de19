/*
 * test_cursor_codec.c
 *		Unit tests for the pure-C pagination cursor codec (src/cursor_codec.c).
 *
 * Every CHECK counts as one check; the program ends by printing exactly one
 * line "N passed, N failed" and exits non-zero if anything failed.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cursor_codec.h"
#include "check.h"
#include "hmac_pg.h"

#define CHECK_RESULT(got, want) \
	do { \
		ta_cursor_result g_ = (got); \
		ta_cursor_result w_ = (want); \
		check_impl(g_ == w_, __FILE__, __LINE__, #got " == " #want, "got %s, want %s", \
				   ta_cursor_result_text(g_), ta_cursor_result_text(w_)); \
	} while (0)

static const uint8_t key[] = "task_api cursor unit-test secret, 32+ bytes";
#define KEYLEN (sizeof(key) - 1)
static const uint8_t other_key[] = "another cursor secret of 32+ bytes, not ours";
#define OTHER_KEYLEN (sizeof(other_key) - 1)

static bool
failing_hmac(const uint8_t *k, size_t kl, const uint8_t *m, size_t ml, uint8_t *out)
{
	(void) k;
	(void) kl;
	(void) m;
	(void) ml;
	(void) out;
	return false;
}

/* A cursor with recognisable id and fingerprint bytes. */
static ta_cursor
base_cursor(ta_cursor_type type, ta_cursor_direction dir)
{
	ta_cursor	c;

	memset(&c, 0, sizeof(c));
	c.type = type;
	c.direction = dir;
	for (int i = 0; i < TA_CURSOR_ID_LEN; i++)
		c.last_id[i] = (uint8_t) (0xA0 + i);
	for (int i = 0; i < TA_CURSOR_FP_LEN; i++)
		c.fingerprint[i] = (uint8_t) (0x10 * i + 3);
	return c;
}

static bool
same_cursor(const ta_cursor *a, const ta_cursor *b)
{
	if (a->type != b->type || a->direction != b->direction || a->key_is_null != b->key_is_null ||
		memcmp(a->last_id, b->last_id, TA_CURSOR_ID_LEN) != 0 ||
		memcmp(a->fingerprint, b->fingerprint, TA_CURSOR_FP_LEN) != 0)
		return false;
	if (a->key_is_null)
		return true;
	switch (a->type)
	{
		case TA_CURSOR_UUID:
			return memcmp(a->key_uuid, b->key_uuid, 16) == 0;
		case TA_CURSOR_TEXT:
			return a->key_text_len == b->key_text_len &&
				memcmp(a->key_text, b->key_text, a->key_text_len) == 0;
		default:
			return a->key_int == b->key_int;
	}
}

/* Encode, decode, compare; returns the encoded text's length. */
static size_t
roundtrip(const ta_cursor *c, const char *what)
{
	char		text[TA_CURSOR_MAX_ENCODED];
	size_t		len = 0;
	ta_cursor	back;

	CHECK_RESULT(ta_cursor_encode(c, key, KEYLEN, ta_test_hmac_sha256, text, sizeof(text), &len), TA_CURSOR_OK);
	CHECK(strlen(text) == len);
	check_impl(strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == len,
			   __FILE__, __LINE__, "only URL-safe characters", "%s: %s", what, text);
	CHECK_RESULT(ta_cursor_decode(text, len, key, KEYLEN, ta_test_hmac_sha256, &back), TA_CURSOR_OK);
	check_impl(same_cursor(c, &back), __FILE__, __LINE__, "round trip", "%s", what);
	return len;
}

static void
test_roundtrips(void)
{
	static const int64_t ints[] = {0, 1, -1, 2, 127, -128, 255, 32767, -32768, 65535,
		INT32_MAX, INT32_MIN, (int64_t) INT32_MAX + 1, INT64_MAX, INT64_MIN, 1234567890123456789LL};
	static const ta_cursor_type int_types[] = {TA_CURSOR_INT2, TA_CURSOR_INT4, TA_CURSOR_DATE,
		TA_CURSOR_INT8, TA_CURSOR_TIMESTAMP, TA_CURSOR_TIMESTAMPTZ};

	for (size_t t = 0; t < sizeof(int_types) / sizeof(int_types[0]); t++)
		for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
			for (int d = 0; d < 2; d++)
			{
				ta_cursor	c = base_cursor(int_types[t], (ta_cursor_direction) d);
				int64_t		v = ints[i];
				bool		fits = int_types[t] == TA_CURSOR_INT2 ? (v >= INT16_MIN && v <= INT16_MAX)
					: (int_types[t] == TA_CURSOR_INT4 || int_types[t] == TA_CURSOR_DATE)
					? (v >= INT32_MIN && v <= INT32_MAX) : true;
				char		text[TA_CURSOR_MAX_ENCODED];
				size_t		len;

				c.key_int = v;
				if (fits)
					roundtrip(&c, "integer key");
				else
					CHECK_RESULT(ta_cursor_encode(&c, key, KEYLEN, ta_test_hmac_sha256,
												  text, sizeof(text), &len), TA_CURSOR_BAD_ARGUMENT);
			}

	/* NULL of every type; text of every interesting length; uuids. */
	for (int t = TA_CURSOR_INT2; t <= TA_CURSOR_UUID; t++)
	{
		ta_cursor	c = base_cursor((ta_cursor_type) t, TA_CURSOR_DESC);

		c.key_is_null = true;
		roundtrip(&c, "NULL key");
	}
	{
		static const size_t lens[] = {0, 1, 2, 3, 100, 255, 256, 511, TA_CURSOR_MAX_TEXT};

		for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		{
			ta_cursor	c = base_cursor(TA_CURSOR_TEXT, TA_CURSOR_ASC);

			c.key_text_len = (uint16_t) lens[i];
			for (size_t j = 0; j < lens[i]; j++)
				c.key_text[j] = (uint8_t) ((j * 7 + 1) & 0xFF);
			roundtrip(&c, "text key");
		}
	}
	{
		ta_cursor	c = base_cursor(TA_CURSOR_UUID, TA_CURSOR_ASC);

		for (int i = 0; i < 16; i++)
			c.key_uuid[i] = (uint8_t) (0xFF - i);
		roundtrip(&c, "uuid key");
	}
	/* Size of an int8 cursor: 3 + 8 + 16 + 16 + 32 = 75 bytes, 100 characters. */
	{
		ta_cursor	c = base_cursor(TA_CURSOR_INT8, TA_CURSOR_DESC);

		c.key_int = 42;
		CHECK(roundtrip(&c, "int8 length") == 100);
	}
}

static void
test_encode_rejects(void)
{
	char		text[TA_CURSOR_MAX_ENCODED];
	size_t		len;
	ta_cursor	c = base_cursor(TA_CURSOR_TEXT, TA_CURSOR_ASC);

	c.key_text_len = TA_CURSOR_MAX_TEXT + 1;
	CHECK_RESULT(ta_cursor_encode(&c, key, KEYLEN, ta_test_hmac_sha256, text, sizeof(text), &len),
				 TA_CURSOR_TOO_LONG);
	c = base_cursor((ta_cursor_type) 0, TA_CURSOR_ASC);
	CHECK_RESULT(ta_cursor_encode(&c, key, KEYLEN, ta_test_hmac_sha256, text, sizeof(text), &len),
				 TA_CURSOR_BAD_ARGUMENT);
	c = base_cursor((ta_cursor_type) 9, TA_CURSOR_ASC);
	CHECK_RESULT(ta_cursor_encode(&c, key, KEYLEN, ta_test_hmac_sha256, text, sizeof(text), &len),
				 TA_CURSOR_BAD_ARGUMENT);
	c = base_cursor(TA_CURSOR_INT4, (ta_cursor_direction) 2);
	CHECK_RESULT(ta_cursor_encode(&c, key, KEYLEN, ta_test_hmac_sha256, text, sizeof(text), &len),
				 TA_CURSOR_BAD_ARGUMENT);
	c = base_cursor(TA_CURSOR_INT4, TA_CURSOR_ASC);
	CHECK_RESULT(ta_cursor_encode(&c, key, KEYLEN, ta_test_hmac_sha256, text, 20, &len),
				 TA_CURSOR_BAD_ARGUMENT);
	CHECK_RESULT(ta_cursor_encode(&c, key, KEYLEN, failing_hmac, text, sizeof(text), &len),
				 TA_CURSOR_HMAC_FAILED);
}

/* A record with a valid MAC around arbitrary bytes: what only the key holder can make. */
static size_t
sign_raw(const uint8_t *rec, size_t n, char *out)
{
	uint8_t		buf[TA_CURSOR_MAX_RECORD + 64];

	memcpy(buf, rec, n);
	if (!ta_test_hmac_sha256(key, KEYLEN, buf, n, buf + n))
		abort();
	return ta_base64url_encode(buf, n + TA_CURSOR_MAC_LEN, out);
}

static void
test_decode_rejects(void)
{
	ta_cursor	c = base_cursor(TA_CURSOR_TIMESTAMPTZ, TA_CURSOR_DESC);
	ta_cursor	out;
	char		text[TA_CURSOR_MAX_ENCODED + 8];
	char		mutated[TA_CURSOR_MAX_ENCODED + 8];
	size_t		len;
	uint8_t		rec[TA_CURSOR_MAX_RECORD + 8];
	size_t		n;
	char		signedtext[2 * TA_CURSOR_MAX_ENCODED];
	size_t		sl;

	c.key_int = 8123456789012LL;
	CHECK_RESULT(ta_cursor_encode(&c, key, KEYLEN, ta_test_hmac_sha256, text, sizeof(text), &len), TA_CURSOR_OK);

	/* Wrong key, failing HMAC, garbage, empty, padding, too long. */
	CHECK_RESULT(ta_cursor_decode(text, len, other_key, OTHER_KEYLEN, ta_test_hmac_sha256, &out), TA_CURSOR_BAD_MAC);
	CHECK_RESULT(ta_cursor_decode(text, len, key, KEYLEN, failing_hmac, &out), TA_CURSOR_HMAC_FAILED);
	CHECK_RESULT(ta_cursor_decode("", 0, key, KEYLEN, ta_test_hmac_sha256, &out), TA_CURSOR_MALFORMED);
	CHECK_RESULT(ta_cursor_decode("garbage", 7, key, KEYLEN, ta_test_hmac_sha256, &out), TA_CURSOR_MALFORMED);
	CHECK_RESULT(ta_cursor_decode("not a cursor!", 13, key, KEYLEN, ta_test_hmac_sha256, &out), TA_CURSOR_MALFORMED);
	memcpy(mutated, text, len);
	mutated[len] = '=';
	CHECK_RESULT(ta_cursor_decode(mutated, len + 1, key, KEYLEN, ta_test_hmac_sha256, &out), TA_CURSOR_MALFORMED);
	{
		static char longtext[TA_CURSOR_MAX_ENCODED + 100];

		memset(longtext, 'A', sizeof(longtext));
		CHECK_RESULT(ta_cursor_decode(longtext, sizeof(longtext), key, KEYLEN, ta_test_hmac_sha256, &out),
					 TA_CURSOR_MALFORMED);
	}

	/* Every truncation, every extension and every one-character change fails. */
	{
		int			ok = 0;

		for (size_t cut = 0; cut < len; cut++)
			ok += ta_cursor_decode(text, cut, key, KEYLEN, ta_test_hmac_sha256, &out) == TA_CURSOR_OK;
		CHECK(ok == 0);
		ok = 0;
		for (const char *extra = "AQw-_"; *extra; extra++)
		{
			memcpy(mutated, text, len);
			mutated[len] = *extra;
			ok += ta_cursor_decode(mutated, len + 1, key, KEYLEN, ta_test_hmac_sha256, &out) == TA_CURSOR_OK;
			mutated[len + 1] = *extra;
			ok += ta_cursor_decode(mutated, len + 2, key, KEYLEN, ta_test_hmac_sha256, &out) == TA_CURSOR_OK;
		}
		CHECK(ok == 0);
		ok = 0;
		for (size_t i = 0; i < len; i++)
			for (const char *alt = "Ab9-_"; *alt; alt++)
			{
				if (*alt == text[i])
					continue;
				memcpy(mutated, text, len);
				mutated[i] = *alt;
				ok += ta_cursor_decode(mutated, len, key, KEYLEN, ta_test_hmac_sha256, &out) == TA_CURSOR_OK;
			}
		CHECK(ok == 0);
	}

	/* Authentic records that are not well-formed. */
	n = ta_cursor_serialize(&c, rec, sizeof(rec));
	CHECK(n == 3 + 8 + 16 + 16);
	rec[0] = 2;					/* a future version */
	sl = sign_raw(rec, n, signedtext);
	CHECK_RESULT(ta_cursor_decode(signedtext, sl, key, KEYLEN, ta_test_hmac_sha256, &out), TA_CURSOR_BAD_VERSION);
	rec[0] = 0;
	sl = sign_raw(rec, n, signedtext);
	CHECK_RESULT(ta_cursor_decode(signedtext, sl, key, KEYLEN, ta_test_hmac_sha256, &out), TA_CURSOR_BAD_VERSION);
	rec[0] = TA_CURSOR_VERSION;
	rec[1] = 2;					/* direction */
	sl = sign_raw(rec, n, signedtext);
	CHECK_RESULT(ta_cursor_decode(signedtext, sl, key, KEYLEN, ta_test_hmac_sha256, &out), TA_CURSOR_MALFORMED);
	rec[1] = TA_CURSOR_DESC;
	for (int tag = 0; tag < 256; tag++)
	{
		int			type = tag & ~TA_CURSOR_NULL_FLAG;

		if (ta_cursor_type_valid(type))
			continue;
		rec[2] = (uint8_t) tag;
		sl = sign_raw(rec, n, signedtext);
		CHECK_RESULT(ta_cursor_decode(signedtext, sl, key, KEYLEN, ta_test_hmac_sha256, &out), TA_CURSOR_MALFORMED);
	}
	rec[2] = TA_CURSOR_TIMESTAMPTZ;
	sl = sign_raw(rec, n + 1, signedtext);	/* one extra byte */
	CHECK_RESULT(ta_cursor_decode(signedtext, sl, key, KEYLEN, ta_test_hmac_sha256, &out), TA_CURSOR_MALFORMED);
	sl = sign_raw(rec, n - 1, signedtext);	/* one byte short */
	CHECK_RESULT(ta_cursor_decode(signedtext, sl, key, KEYLEN, ta_test_hmac_sha256, &out), TA_CURSOR_MALFORMED);
	rec[2] = TA_CURSOR_TIMESTAMPTZ | TA_CURSOR_NULL_FLAG;	/* NULL, yet a value follows */
	sl = sign_raw(rec, n, signedtext);
	CHECK_RESULT(ta_cursor_decode(signedtext, sl, key, KEYLEN, ta_test_hmac_sha256, &out), TA_CURSOR_MALFORMED);
	sl = sign_raw(rec, n - 8, signedtext);	/* ... and without it, fine */
	CHECK_RESULT(ta_cursor_decode(signedtext, sl, key, KEYLEN, ta_test_hmac_sha256, &out), TA_CURSOR_OK);
	CHECK(out.key_is_null && out.type == TA_CURSOR_TIMESTAMPTZ);

	/* Text: a length beyond the limit, or beyond the record. */
	{
		ta_cursor	t = base_cursor(TA_CURSOR_TEXT, TA_CURSOR_ASC);

		t.key_text_len = 3;
		memcpy(t.key_text, "abc", 3);
		n = ta_cursor_serialize(&t, rec, sizeof(rec));
		CHECK(n == 3 + 2 + 3 + 32);
		rec[3] = 0x02;			/* length 0x0203: over TA_CURSOR_MAX_TEXT */
		sl = sign_raw(rec, n, signedtext);
		CHECK_RESULT(ta_cursor_decode(signedtext, sl, key, KEYLEN, ta_test_hmac_sha256, &out), TA_CURSOR_MALFORMED);
		rec[3] = 0;
		rec[4] = 4;				/* one byte more than there is before id + fingerprint */
		sl = sign_raw(rec, n, signedtext);
		CHECK_RESULT(ta_cursor_decode(signedtext, sl, key, KEYLEN, ta_test_hmac_sha256, &out), TA_CURSOR_MALFORMED);
		rec[4] = 2;
		sl = sign_raw(rec, n, signedtext);
		CHECK_RESULT(ta_cursor_decode(signedtext, sl, key, KEYLEN, ta_test_hmac_sha256, &out), TA_CURSOR_MALFORMED);
	}
	/* Parse on its own: the empty record. */
	CHECK_RESULT(ta_cursor_parse(rec, 0, &out), TA_CURSOR_MALFORMED);
}

static void
test_result_text(void)
{
	for (int r = TA_CURSOR_OK; r <= TA_CURSOR_BAD_ARGUMENT; r++)
		CHECK(strcmp(ta_cursor_result_text((ta_cursor_result) r), "unknown") != 0);
	CHECK(strcmp(ta_cursor_result_text((ta_cursor_result) 99), "unknown") == 0);
}

int
main(void)
{
	test_roundtrips();
	test_encode_rejects();
	test_decode_rejects();
	test_result_text();

	return check_summary();
}
