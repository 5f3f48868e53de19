/*
 * test_jwt_codec.c
 *		Unit tests for the pure-C HS256 JWT codec (src/jwt_codec.c).
 *
 * Every CHECK counts as one check; the program ends by printing exactly one
 * line "N passed, N failed" and exits non-zero if anything failed.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jwt_codec.h"
#include "check.h"
#include "hmac_pg.h"

#define CHECKF(cond, ...) check_impl((cond), __FILE__, __LINE__, #cond, __VA_ARGS__)

/* Compare a verify/check result with the expected one, naming both. */
#define CHECK_RESULT(got, want) \
	do { \
		ta_jwt_result g_ = (got); \
		ta_jwt_result w_ = (want); \
		check_impl(g_ == w_, __FILE__, __LINE__, #got " == " #want, \
				   "got %d (%s), want %d (%s)", (int) g_, ta_jwt_result_text(g_), \
				   (int) w_, ta_jwt_result_text(w_)); \
	} while (0)

static const uint8_t test_key[] = "task_api unit-test secret, 32+ bytes long!";
#define TEST_KEYLEN (sizeof(test_key) - 1)

/* An HMAC provider that always fails. */
static bool
failing_hmac(const uint8_t *key, size_t keylen, const uint8_t *msg, size_t msglen, uint8_t *out)
{
	(void) key;
	(void) keylen;
	(void) msg;
	(void) msglen;
	memset(out, 0, TA_JWT_MAC_LEN);
	return false;
}

/* Build b64(header).b64(payload).b64(HMAC) with arbitrary header and payload. */
static size_t
make_token_raw(const char *header, size_t hlen, const char *payload, size_t plen,
			   const uint8_t *key, size_t keylen, char *out)
{
	uint8_t		mac[TA_JWT_MAC_LEN];
	size_t		o;

	o = ta_base64url_encode((const uint8_t *) header, hlen, out);
	out[o++] = '.';
	o += ta_base64url_encode((const uint8_t *) payload, plen, out + o);
	if (!ta_test_hmac_sha256(key, keylen, (const uint8_t *) out, o, mac))
	{
		fprintf(stderr, "HMAC provider failed\n");
		exit(2);
	}
	out[o++] = '.';
	o += ta_base64url_encode(mac, sizeof(mac), out + o);
	return o;
}

static size_t
make_token(const char *header, const char *payload, char *out)
{
	return make_token_raw(header, strlen(header), payload, strlen(payload),
						  test_key, TEST_KEYLEN, out);
}

/* Sign (header, payload) with the test key and verify the result. */
static ta_jwt_result
verify_hp(const char *header, const char *payload, ta_jwt_claims *claims)
{
	static char tok[3 * TA_JWT_MAX_TOKEN];
	size_t		n = make_token(header, payload, tok);

	return ta_jwt_verify(tok, n, test_key, TEST_KEYLEN, ta_test_hmac_sha256, claims);
}

static ta_jwt_result
verify_str(const char *tok, ta_jwt_claims *claims)
{
	return ta_jwt_verify(tok, strlen(tok), test_key, TEST_KEYLEN, ta_test_hmac_sha256, claims);
}

static bool
parse(const char *json, ta_jwt_claims *c)
{
	return ta_json_parse_flat(json, strlen(json), c);
}

/* The claim exists, has this kind, and this exact value. */
static bool
claim_is(const ta_jwt_claims *c, const char *name, bool is_string, const char *value)
{
	const ta_json_member *m = ta_jwt_claim(c, name);

	return m != NULL && m->is_string == is_string && strcmp(m->value, value) == 0;
}

static size_t
b64_len(size_t n)
{
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

/* ------------------------------------------------------------------ */

static void
test_base64url_roundtrip(void)
{
	uint8_t		src[64];
	char		enc[128];
	uint8_t		dec[80];
	uint32_t	x = 12345;

	for (size_t len = 0; len <= 64; len++)
	{
		size_t		elen;
		long		n;
		bool		alphabet_ok = true;

		for (size_t i = 0; i < len; i++)
		{
			x = x * 1103515245u + 12345u;
			src[i] = (uint8_t) (x >> 16);
		}
		/* Include the extreme byte values too. */
		if (len > 0)
			src[0] = (len % 2) ? 0xFF : 0x00;
		memset(enc, '#', sizeof(enc));
		elen = ta_base64url_encode(src, len, enc);
		CHECKF(elen == b64_len(len), "len %zu: encoded %zu chars", len, elen);
		CHECKF(enc[elen] == '\0', "len %zu: not NUL-terminated", len);
		for (size_t i = 0; i < elen; i++)
			if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", enc[i]) || enc[i] == '\0')
				alphabet_ok = false;
		CHECKF(alphabet_ok, "len %zu: character outside the base64url alphabet", len);

		/* Exact-size buffer. */
		memset(dec, 0xA5, sizeof(dec));
		n = ta_base64url_decode(enc, elen, dec, len);
		CHECKF(n == (long) len && memcmp(dec, src, len) == 0,
			   "len %zu: decode returned %ld", len, n);
		CHECKF(dec[len] == 0xA5, "len %zu: decode wrote past the exact-size buffer", len);

		/* One byte too small: refused, nothing written. */
		if (len > 0)
		{
			memset(dec, 0xA5, sizeof(dec));
			n = ta_base64url_decode(enc, elen, dec, len - 1);
			CHECKF(n == -1, "len %zu: decode into %zu bytes returned %ld", len, len - 1, n);
			CHECKF(dec[len - 1] == 0xA5, "len %zu: too-small decode wrote past its capacity", len);
		}
	}
}

static void
test_base64url_vectors(void)
{
	/* RFC 4648 section 10, base64 without padding (identical in base64url). */
	static const struct
	{
		const char *plain;
		const char *b64;
	}			v[] = {
		{"", ""},
		{"f", "Zg"},
		{"fo", "Zm8"},
		{"foo", "Zm9v"},
		{"foob", "Zm9vYg"},
		{"fooba", "Zm9vYmE"},
		{"foobar", "Zm9vYmFy"},
	};
	char		enc[64];
	uint8_t		dec[64];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
	{
		size_t		plen = strlen(v[i].plain);
		size_t		elen = ta_base64url_encode((const uint8_t *) v[i].plain, plen, enc);
		long		n;

		CHECKF(elen == strlen(v[i].b64) && strcmp(enc, v[i].b64) == 0,
			   "encode(\"%s\") = \"%s\", want \"%s\"", v[i].plain, enc, v[i].b64);
		n = ta_base64url_decode(v[i].b64, strlen(v[i].b64), dec, sizeof(dec));
		CHECKF(n == (long) plen && memcmp(dec, v[i].plain, plen) == 0,
			   "decode(\"%s\") returned %ld", v[i].b64, n);
	}

	/* The two characters where base64url differs from base64 ('+/' -> '-_'). */
	{
		static const uint8_t b1[] = {0xFB, 0xFF};	/* base64 "+/8=" */
		static const uint8_t b2[] = {0xFB, 0xEF, 0xBE};	/* base64 "++++" */
		static const uint8_t b3[] = {0xFF, 0xFF, 0xFF};	/* base64 "////" */
		long		n;

		ta_base64url_encode(b1, 2, enc);
		CHECKF(strcmp(enc, "-_8") == 0, "got %s", enc);
		ta_base64url_encode(b2, 3, enc);
		CHECKF(strcmp(enc, "----") == 0, "got %s", enc);
		ta_base64url_encode(b3, 3, enc);
		CHECKF(strcmp(enc, "____") == 0, "got %s", enc);
		n = ta_base64url_decode("-_8", 3, dec, sizeof(dec));
		CHECK(n == 2 && memcmp(dec, b1, 2) == 0);
		n = ta_base64url_decode("____", 4, dec, sizeof(dec));
		CHECK(n == 3 && memcmp(dec, b3, 3) == 0);
	}
}

static void
test_base64url_rejects(void)
{
	static const char *bad[] = {
		"Zg==",					/* padding */
		"Zm8=",
		"Zg=",
		"=",
		"Zm9v====",
		"+/8",					/* base64, not base64url */
		"Zm9+",
		"Zm9/",
		"Zm 9v",				/* whitespace */
		" Zm9v",
		"Zm9v\n",
		"Zm9v\r\n",
		"Zm\t9v",
		"Z",					/* length 1 mod 4 */
		"Zm9vY",
		"Zm9vYmFyZ",
		"Zh",					/* non-canonical: "f" is "Zg" */
		"Zm9",					/* non-canonical: "fo" is "Zm8" */
		"Zm9vYh",
		"Zm9vYmF",				/* non-canonical: "fooba" is "Zm9vYmE" */
		"_w",					/* 0xFF is "_w"; '_x' has low bits set */
		"_x",
		"Zm9v.",				/* other punctuation */
		"Zm9v*",
		"\xC3\xA9Zg",			/* non-ASCII */
	};
	uint8_t		dec[64];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		long		n = ta_base64url_decode(bad[i], strlen(bad[i]), dec, sizeof(dec));

		/* "_w" is the canonical encoding of 0xFF and must decode. */
		if (strcmp(bad[i], "_w") == 0)
			CHECKF(n == 1 && dec[0] == 0xFF, "decode(\"_w\") returned %ld", n);
		else
			CHECKF(n == -1, "decode(\"%s\") returned %ld, want -1", bad[i], n);
	}

	/* An embedded NUL byte is not an alphabet character. */
	{
		static const char withnul[] = {'Z', 'm', '\0', 'v'};

		CHECK(ta_base64url_decode(withnul, 4, dec, sizeof(dec)) == -1);
	}

	/* Too-small output buffer: refused up front, nothing written. */
	{
		uint8_t		small[8];

		memset(small, 0xA5, sizeof(small));
		CHECK(ta_base64url_decode("Zm9vYmFy", 8, small, 5) == -1);
		CHECK(small[0] == 0xA5 && small[5] == 0xA5);
		CHECK(ta_base64url_decode("Zm9vYmFy", 8, small, 6) == 6);
		CHECK(ta_base64url_decode("Zm9vYmE", 7, small, 4) == -1);
		CHECK(ta_base64url_decode("Zm9vYmE", 7, small, 5) == 5);
		CHECK(ta_base64url_decode("Zg", 2, small, 0) == -1);
		CHECK(ta_base64url_decode("", 0, small, 0) == 0);
	}
}

static void
test_timing_safe_equal(void)
{
	uint8_t		a[32];
	uint8_t		b[32];
	bool		all_bits_ok = true;

	for (int i = 0; i < 32; i++)
		a[i] = b[i] = (uint8_t) (i * 37 + 1);
	CHECK(ta_timing_safe_equal(a, b, 32));
	CHECK(ta_timing_safe_equal(a, b, 0));
	for (int i = 0; i < 32; i++)
		for (int bit = 0; bit < 8; bit++)
		{
			b[i] ^= (uint8_t) (1u << bit);
			if (ta_timing_safe_equal(a, b, 32))
				all_bits_ok = false;
			/* A difference outside the compared length does not count. */
			if (!ta_timing_safe_equal(a, b, (size_t) i))
				all_bits_ok = false;
			b[i] ^= (uint8_t) (1u << bit);
		}
	CHECKF(all_bits_ok, "some single-bit difference was missed");
	b[0] ^= 0x80;
	b[31] ^= 0x01;
	CHECK(!ta_timing_safe_equal(a, b, 32));
}

static void
test_sign_verify(void)
{
	static const char payload[] = "{\"sub\":\"alice\",\"exp\":2000000000,\"role\":\"web_user\"}";
	char		tok[512];
	char		tok2[512];
	size_t		n;
	ta_jwt_claims claims;
	uint8_t		other_key[TEST_KEYLEN];

	n = ta_jwt_sign(payload, strlen(payload), test_key, TEST_KEYLEN, ta_test_hmac_sha256, tok, sizeof(tok));
	CHECK(n > 0 && n == strlen(tok));
	/* The fixed header {"alg":"HS256","typ":"JWT"}. */
	CHECK(strncmp(tok, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", 37) == 0);
	/* Same as building it by hand. */
	make_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, tok2);
	CHECK(strcmp(tok, tok2) == 0);

	CHECK_RESULT(ta_jwt_verify(tok, n, test_key, TEST_KEYLEN, ta_test_hmac_sha256, &claims), TA_JWT_OK);
	CHECK(claims.count == 3);
	CHECK(claim_is(&claims, "sub", true, "alice"));
	CHECK(claim_is(&claims, "exp", false, "2000000000"));
	CHECK(claim_is(&claims, "role", true, "web_user"));
	CHECK(ta_jwt_claim(&claims, "nbf") == NULL);
	CHECK_RESULT(ta_jwt_check_times(&claims, 1999999999, 0), TA_JWT_OK);

	/* Wrong key. */
	memcpy(other_key, test_key, TEST_KEYLEN);
	other_key[0] ^= 1;
	CHECK_RESULT(ta_jwt_verify(tok, n, other_key, TEST_KEYLEN, ta_test_hmac_sha256, &claims),
				 TA_JWT_BAD_SIGNATURE);
	CHECK_RESULT(ta_jwt_verify(tok, n, test_key, TEST_KEYLEN - 1, ta_test_hmac_sha256, &claims),
				 TA_JWT_BAD_SIGNATURE);

	/* Output buffer too small: 0, never a truncated token. */
	CHECK(ta_jwt_sign(payload, strlen(payload), test_key, TEST_KEYLEN, ta_test_hmac_sha256, tok2, n) == 0);
	CHECK(ta_jwt_sign(payload, strlen(payload), test_key, TEST_KEYLEN, ta_test_hmac_sha256, tok2, 10) == 0);
	/*
	 * Any capacity: 0 or the whole token, never a write past outcap.  The
	 * size estimate may be a few bytes generous, but n + 4 always suffices.
	 */
	{
		bool		ok = true;

		for (size_t cap = 0; cap <= n + 4; cap++)
		{
			size_t		r;

			memset(tok2, '#', sizeof(tok2));
			r = ta_jwt_sign(payload, strlen(payload), test_key, TEST_KEYLEN, ta_test_hmac_sha256, tok2, cap);
			if (r != 0 && (r != n || strcmp(tok2, tok) != 0))
				ok = false;
			for (size_t i = cap; i < sizeof(tok2); i++)
				if (tok2[i] != '#')
					ok = false;
			if (cap == n + 4 && r != n)
				ok = false;
		}
		CHECKF(ok, "ta_jwt_sign mishandles small output buffers");
	}

	/* The HMAC provider fails. */
	CHECK(ta_jwt_sign(payload, strlen(payload), test_key, TEST_KEYLEN, failing_hmac, tok2, sizeof(tok2)) == 0);
	CHECK_RESULT(ta_jwt_verify(tok, n, test_key, TEST_KEYLEN, failing_hmac, &claims), TA_JWT_HMAC_FAILED);

	/* Empty key and empty object payload still round-trip. */
	n = ta_jwt_sign("{}", 2, (const uint8_t *) "", 0, ta_test_hmac_sha256, tok, sizeof(tok));
	CHECK(n > 0);
	CHECK_RESULT(ta_jwt_verify(tok, n, (const uint8_t *) "", 0, ta_test_hmac_sha256, &claims), TA_JWT_OK);
	CHECK(claims.count == 0);
	CHECK_RESULT(ta_jwt_check_times(&claims, 0, 0), TA_JWT_MISSING_CLAIM);

	/* Payloads over TA_JWT_MAX_JSON are refused by sign. */
	{
		static char big[TA_JWT_MAX_JSON + 2];
		static char out[2 * TA_JWT_MAX_TOKEN];

		memset(big, ' ', sizeof(big));
		big[0] = '{';
		big[TA_JWT_MAX_JSON] = '}';
		CHECK(ta_jwt_sign(big, TA_JWT_MAX_JSON + 1, test_key, TEST_KEYLEN, ta_test_hmac_sha256, out, sizeof(out)) == 0);
	}
}

static void
test_rfc7515_a1(void)
{
	/* RFC 7515 Appendix A.1: JWS using HMAC SHA-256. */
	static const char jwk_k[] =
		"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
	static const char header_json[] = "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}";
	static const char payload_json[] =
		"{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";
	static const char header_b64[] = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9";
	static const char payload_b64[] =
		"eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
	static const char sig_b64[] = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
	static const uint8_t sig_bytes[32] = {
		116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173,
		187, 186, 22, 212, 37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83,
		132, 141, 121
	};
	char		token[512];
	char		enc[256];
	uint8_t		key[128];
	uint8_t		mac[32];
	uint8_t		sig[40];
	long		keylen;
	long		n;
	ta_jwt_claims claims;

	keylen = ta_base64url_decode(jwk_k, strlen(jwk_k), key, sizeof(key));
	CHECKF(keylen == 64, "JWK k decoded to %ld bytes", keylen);
	CHECK(keylen == 64 && key[0] == 3 && key[1] == 35 && key[63] == 163);

	ta_base64url_encode((const uint8_t *) header_json, strlen(header_json), enc);
	CHECKF(strcmp(enc, header_b64) == 0, "header encodes to %s", enc);
	ta_base64url_encode((const uint8_t *) payload_json, strlen(payload_json), enc);
	CHECKF(strcmp(enc, payload_b64) == 0, "payload encodes to %s", enc);

	snprintf(token, sizeof(token), "%s.%s", header_b64, payload_b64);
	CHECK(ta_test_hmac_sha256(key, (size_t) keylen, (const uint8_t *) token, strlen(token), mac));
	CHECK(memcmp(mac, sig_bytes, 32) == 0);
	ta_base64url_encode(mac, 32, enc);
	CHECKF(strcmp(enc, sig_b64) == 0, "signature encodes to %s", enc);
	n = ta_base64url_decode(sig_b64, strlen(sig_b64), sig, sizeof(sig));
	CHECK(n == 32 && memcmp(sig, sig_bytes, 32) == 0);

	snprintf(token, sizeof(token), "%s.%s.%s", header_b64, payload_b64, sig_b64);
	/* The header has CRLF and a space between members: valid JSON, accepted. */
	CHECK_RESULT(ta_jwt_verify(token, strlen(token), key, (size_t) keylen, ta_test_hmac_sha256, &claims),
				 TA_JWT_OK);
	CHECK(claims.count == 3);
	CHECK(claim_is(&claims, "iss", true, "joe"));
	CHECK(claim_is(&claims, "exp", false, "1300819380"));
	CHECK(claim_is(&claims, "http://example.com/is_root", false, "true"));
	CHECK_RESULT(ta_jwt_check_times(&claims, 1300819379, 0), TA_JWT_OK);
	CHECK_RESULT(ta_jwt_check_times(&claims, 1300819380, 0), TA_JWT_EXPIRED);
	/* Any flipped signature character is refused. */
	{
		bool		all_refused = true;
		size_t		sigpos = strlen(header_b64) + 1 + strlen(payload_b64) + 1;

		for (size_t i = sigpos; i < strlen(token); i++)
		{
			char		save = token[i];

			token[i] = (save == 'A') ? 'B' : 'A';
			if (ta_jwt_verify(token, strlen(token), key, (size_t) keylen, ta_test_hmac_sha256, &claims) !=
				TA_JWT_BAD_SIGNATURE)
				all_refused = false;
			token[i] = save;
		}
		CHECK(all_refused);
	}
	/* The same token with a different key. */
	CHECK_RESULT(verify_str(token, &claims), TA_JWT_BAD_SIGNATURE);
}

static void
test_bad_headers(void)
{
	static const char payload[] = "{\"sub\":\"a\",\"exp\":2000000000}";
	static const char *bad[] = {
		"{\"alg\":\"none\"}",
		"{\"alg\":\"none\",\"typ\":\"JWT\"}",
		"{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
		"{\"alg\":\"HS512\",\"typ\":\"JWT\"}",
		"{\"alg\":\"HS384\"}",
		"{\"alg\":\"hs256\"}",
		"{\"alg\":\"HS256 \"}",
		"{\"alg\":\"HS2560\"}",
		"{\"alg\":\"HS25\"}",
		"{\"alg\":\"\"}",
		"{\"alg\":null}",
		"{\"alg\":256}",
		"{\"alg\":true}",
		"{\"typ\":\"JWT\"}",	/* missing alg */
		"{}",
		"{\"ALG\":\"HS256\"}",
		"{\"alg\":\"HS256\",\"kid\":\"1\"}",
		"{\"kid\":\"k\",\"alg\":\"HS256\",\"typ\":\"JWT\"}",
		"{\"alg\":\"HS256\",\"crit\":\"exp\"}",
		"{\"alg\":\"HS256\",\"jku\":\"https://evil.example/\"}",
		"{\"alg\":\"HS256\",\"b64\":false}",
		"{\"alg\":\"HS256\",\"typ\":\"jwt\"}",
		"{\"alg\":\"HS256\",\"typ\":\"JWS\"}",
		"{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}",
		"{\"alg\":\"HS256\",\"typ\":\"\"}",
		"{\"alg\":\"HS256\",\"typ\":null}",
		"{\"alg\":\"HS256\",\"typ\":1}",
	};
	static const char *not_flat[] = {
		"{\"alg\":\"HS256\",\"crit\":[\"exp\"]}",
		"{\"alg\":\"HS256\",\"jwk\":{}}",
		"{\"alg\":\"HS256\",\"alg\":\"HS256\"}",	/* duplicates */
		"{\"alg\":\"none\",\"alg\":\"HS256\"}",
		"{\"alg\":\"HS256\",\"alg\":\"none\"}",
		"{\"alg\":\"HS256\",\"\\u0061lg\":\"HS256\"}",
		"{\"alg\":\"HS256\",\"typ\":\"JWT\",\"typ\":\"JWT\"}",
		"[\"alg\",\"HS256\"]",	/* not an object */
		"\"HS256\"",
		"",
		" ",
		"{\"alg\":\"HS256\"",
		"{\"alg\":\"HS256\"}x",
		"{\"alg\":\"HS256\",}",
		"{\"alg\":\"HS\\u0000256\"}",
	};
	ta_jwt_claims claims;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		ta_jwt_result r = verify_hp(bad[i], payload, &claims);

		CHECKF(r == TA_JWT_BAD_HEADER, "header %s: got %s", bad[i], ta_jwt_result_text(r));
		CHECK(claims.count == 0);
	}

	/*
	 * Headers that are not a flat JSON object at all (duplicates, nesting,
	 * syntax errors): refused, as MALFORMED (bad JSON) or BAD_HEADER.
	 */
	for (size_t i = 0; i < sizeof(not_flat) / sizeof(not_flat[0]); i++)
	{
		ta_jwt_claims hc;
		ta_jwt_result r = verify_hp(not_flat[i], payload, &claims);

		CHECKF(!parse(not_flat[i], &hc), "test bug: %s parses", not_flat[i]);
		CHECKF(r == TA_JWT_MALFORMED || r == TA_JWT_BAD_HEADER, "header %s: got %s",
			   not_flat[i], ta_jwt_result_text(r));
		CHECK(claims.count == 0);
	}

	/* Accepted spellings. */
	CHECK_RESULT(verify_hp("{\"alg\":\"HS256\"}", payload, &claims), TA_JWT_OK);
	CHECK_RESULT(verify_hp("{\"typ\":\"JWT\",\"alg\":\"HS256\"}", payload, &claims), TA_JWT_OK);
	CHECK_RESULT(verify_hp(" {\t\"alg\" :\n\"HS256\" , \"typ\":\"JWT\" }\r\n", payload, &claims), TA_JWT_OK);
	CHECK_RESULT(verify_hp("{\"\\u0061lg\":\"HS\\u00325\\u0036\"}", payload, &claims), TA_JWT_OK);

	/* alg none with an empty signature, the classic attack. */
	{
		char		tok[512];
		char		h[128];
		char		p[128];

		ta_base64url_encode((const uint8_t *) "{\"alg\":\"none\"}", 14, h);
		ta_base64url_encode((const uint8_t *) payload, strlen(payload), p);
		snprintf(tok, sizeof(tok), "%s.%s.", h, p);
		CHECK_RESULT(verify_str(tok, &claims), TA_JWT_BAD_HEADER);
		CHECK(claims.count == 0);
		/* HS256 header, empty signature. */
		ta_base64url_encode((const uint8_t *) "{\"alg\":\"HS256\"}", 15, h);
		snprintf(tok, sizeof(tok), "%s.%s.", h, p);
		CHECK_RESULT(verify_str(tok, &claims), TA_JWT_BAD_SIGNATURE);
		CHECK(claims.count == 0);
	}
}

static void
test_bad_payloads(void)
{
	static const char hdr[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	static const char *bad[] = {
		"{\"sub\":\"a\",\"sub\":\"b\"}",	/* duplicate claim */
		"{\"sub\":\"a\",\"\\u0073ub\":\"b\"}",	/* duplicate after unescaping */
		"{\"exp\":1,\"exp\":2}",
		"{\"exp\":1,\"sub\":\"x\",\"iat\":3,\"exp\":2}",	/* duplicate after others */
		"{\"\":1,\"a\":2,\"\":3}",	/* empty names */
		"{\"ab\":1,\"ac\":2,\"ab\":3}",	/* same length and first byte */
		"{\"a\":{}}",			/* nested */
		"{\"a\":{\"b\":1}}",
		"{\"a\":[]}",
		"{\"a\":[1,2]}",
		"[]",					/* not an object */
		"[{\"sub\":\"a\"}]",
		"\"sub\"",
		"42",
		"true",
		"null",
		"",
		"   ",
		"{",
		"}",
		"{\"sub\"}",
		"{\"sub\":}",
		"{\"sub\" \"a\"}",
		"{\"sub\":\"a\",}",
		"{,\"sub\":\"a\"}",
		"{\"sub\":\"a\"}}",
		"{\"sub\":\"a\"} x",
		"{\"sub\":\"a\"}{}",
		"{sub:\"a\"}",
		"{'sub':'a'}",
		"{\"sub\":\"a\\x\"}",	/* invalid escapes */
		"{\"sub\":\"a\\'\"}",
		"{\"sub\":\"a\\U0041\"}",
		"{\"sub\":\"a\\u12\"}",
		"{\"sub\":\"a\\u12G4\"}",
		"{\"sub\":\"a\\u\"}",
		"{\"sub\":\"a\\\"}",
		"{\"sub\":\"a\\u0000b\"}",	/* \u0000 */
		"{\"s\\u0000\":1}",
		"{\"sub\":\"\\ud800\"}",	/* lone surrogates */
		"{\"sub\":\"\\uD83D\"}",
		"{\"sub\":\"\\udc00\"}",
		"{\"sub\":\"\\uDFFF x\"}",
		"{\"sub\":\"\\ud83dx\"}",
		"{\"sub\":\"\\ud83d\\u0041\"}",
		"{\"sub\":\"\\ud83d\\ud83d\"}",
		"{\"sub\":\"\\ud83d\\n\"}",
		"{\"sub\":\"\\ude00\\ud83d\"}",
		"{\"sub\":\"a\nb\"}",	/* raw control characters */
		"{\"sub\":\"a\tb\"}",
		"{\"sub\":\"a\x01\"}",
		"{\"sub\":\"a\x1f\"}",
		"{\"n\":01}",			/* numbers */
		"{\"n\":-01}",
		"{\"n\":1.}",
		"{\"n\":.5}",
		"{\"n\":-}",
		"{\"n\":+1}",
		"{\"n\":1e}",
		"{\"n\":1e+}",
		"{\"n\":1.e5}",
		"{\"n\":0x10}",
		"{\"n\":NaN}",
		"{\"n\":Infinity}",
		"{\"n\":-Infinity}",
		"{\"n\":1 2}",
		"{\"b\":True}",
		"{\"b\":tru}",
		"{\"b\":nul}",
		"{\"b\":falsey}",
		"{\"b\":undefined}",
		"{\"s\":\"unterminated}",
		"\xEF\xBB\xBF{}",		/* BOM */
		"{\"a\":1\f}",			/* form feed is not JSON whitespace */
		"{\"a\":1\v}",
	};
	ta_jwt_claims claims;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		ta_jwt_result r = verify_hp(hdr, bad[i], &claims);

		CHECKF(r == TA_JWT_MALFORMED, "payload [%s]: got %s", bad[i], ta_jwt_result_text(r));
		CHECKF(!parse(bad[i], &claims), "parse_flat accepted [%s]", bad[i]);
	}

	/* 32 claims are fine, 33 are not. */
	{
		char		json[1024];
		size_t		o = 0;

		json[o++] = '{';
		for (int i = 0; i < 33; i++)
		{
			o += (size_t) snprintf(json + o, sizeof(json) - o, "%s\"c%d\":%d", i ? "," : "", i, i);
			if (i == 31)
			{
				json[o] = '}';
				json[o + 1] = '\0';
				CHECK(parse(json, &claims) && claims.count == 32);
				CHECK_RESULT(verify_hp(hdr, json, &claims), TA_JWT_OK);
				CHECK(claim_is(&claims, "c31", false, "31"));
			}
		}
		json[o++] = '}';
		json[o] = '\0';
		CHECK(!parse(json, &claims));
		CHECK_RESULT(verify_hp(hdr, json, &claims), TA_JWT_MALFORMED);
	}
}

static void
test_bad_signatures_and_parts(void)
{
	static const char payload[] = "{\"sub\":\"alice\",\"exp\":2000000000}";
	char		tok[512];
	char		tmp[1024];
	char		h[128];
	char		p[128];
	char		s[128];
	uint8_t		mac[TA_JWT_MAC_LEN + 1];
	size_t		n;
	size_t		d2;
	ta_jwt_claims claims;

	n = ta_jwt_sign(payload, strlen(payload), test_key, TEST_KEYLEN, ta_test_hmac_sha256, tok, sizeof(tok));
	CHECK(n > 0);
	CHECK_RESULT(verify_str(tok, &claims), TA_JWT_OK);
	d2 = (size_t) (strrchr(tok, '.') - tok);
	ta_base64url_encode((const uint8_t *) "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", 27, h);
	ta_base64url_encode((const uint8_t *) payload, strlen(payload), p);
	snprintf(tmp, sizeof(tmp), "%s.%s", h, p);
	ta_test_hmac_sha256(test_key, TEST_KEYLEN, (const uint8_t *) tmp, strlen(tmp), mac);

	/* A wrong MAC of the right length. */
	mac[31] ^= 1;
	ta_base64url_encode(mac, 32, s);
	mac[31] ^= 1;
	snprintf(tmp, sizeof(tmp), "%s.%s.%s", h, p, s);
	CHECK_RESULT(verify_str(tmp, &claims), TA_JWT_BAD_SIGNATURE);
	CHECK(claims.count == 0);

	/* Truncated by a byte: the first 31 MAC bytes. */
	ta_base64url_encode(mac, 31, s);
	snprintf(tmp, sizeof(tmp), "%s.%s.%s", h, p, s);
	CHECK_RESULT(verify_str(tmp, &claims), TA_JWT_BAD_SIGNATURE);
	/* Extended by a byte: the MAC plus one more byte. */
	mac[32] = 0;
	ta_base64url_encode(mac, 33, s);
	snprintf(tmp, sizeof(tmp), "%s.%s.%s", h, p, s);
	CHECK_RESULT(verify_str(tmp, &claims), TA_JWT_BAD_SIGNATURE);
	mac[32] = 0xFF;
	ta_base64url_encode(mac, 33, s);
	snprintf(tmp, sizeof(tmp), "%s.%s.%s", h, p, s);
	CHECK_RESULT(verify_str(tmp, &claims), TA_JWT_BAD_SIGNATURE);
	/* Much longer signatures. */
	snprintf(tmp, sizeof(tmp), "%s%s", tok, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	CHECK_RESULT(verify_str(tmp, &claims), TA_JWT_BAD_SIGNATURE);
	/* Truncated or extended by a character. */
	memcpy(tmp, tok, n);
	tmp[n - 1] = '\0';
	CHECK_RESULT(verify_str(tmp, &claims), TA_JWT_BAD_SIGNATURE);
	snprintf(tmp, sizeof(tmp), "%sA", tok);
	CHECK_RESULT(verify_str(tmp, &claims), TA_JWT_BAD_SIGNATURE);
	/* Non-canonical last character (same 32 bytes, low bits set). */
	{
		static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
		int			v = (int) (strchr(alphabet, tok[n - 1]) - alphabet);
		bool		all_refused = true;

		for (int low = 1; low < 4; low++)
		{
			memcpy(tmp, tok, n + 1);
			tmp[n - 1] = alphabet[(v & ~3) | low];
			if (verify_str(tmp, &claims) != TA_JWT_BAD_SIGNATURE)
				all_refused = false;
		}
		CHECK(all_refused);
	}
	/* Padding on the signature. */
	snprintf(tmp, sizeof(tmp), "%s=", tok);
	CHECK_RESULT(verify_str(tmp, &claims), TA_JWT_BAD_SIGNATURE);
	/* Tampered payload, original signature. */
	{
		char		p2[128];

		ta_base64url_encode((const uint8_t *) "{\"sub\":\"admin\",\"exp\":2000000000}", 32, p2);
		snprintf(tmp, sizeof(tmp), "%s.%s%s", h, p2, tok + d2);
		CHECK_RESULT(verify_str(tmp, &claims), TA_JWT_BAD_SIGNATURE);
		CHECK(claims.count == 0);
	}
	/* Tampered header (alg still HS256), original signature. */
	{
		char		h2[128];

		ta_base64url_encode((const uint8_t *) "{\"alg\":\"HS256\"}", 15, h2);
		snprintf(tmp, sizeof(tmp), "%s.%s%s", h2, p, tok + d2);
		CHECK_RESULT(verify_str(tmp, &claims), TA_JWT_BAD_SIGNATURE);
	}

	/* Two parts, four parts, empty parts. */
	snprintf(tmp, sizeof(tmp), "%s.%s", h, p);
	CHECK_RESULT(verify_str(tmp, &claims), TA_JWT_MALFORMED);
	snprintf(tmp, sizeof(tmp), "%s.", tok);
	CHECK_RESULT(verify_str(tmp, &claims), TA_JWT_MALFORMED);
	snprintf(tmp, sizeof(tmp), "%s.%s", tok, s);
	CHECK_RESULT(verify_str(tmp, &claims), TA_JWT_MALFORMED);
	snprintf(tmp, sizeof(tmp), "%s.%s..%s", h, p, tok + d2 + 1);
	CHECK_RESULT(verify_str(tmp, &claims), TA_JWT_MALFORMED);
	CHECK_RESULT(verify_str(h, &claims), TA_JWT_MALFORMED);
	CHECK_RESULT(verify_str("", &claims), TA_JWT_MALFORMED);
	CHECK_RESULT(verify_str(".", &claims), TA_JWT_MALFORMED);
	CHECK_RESULT(verify_str("...", &claims), TA_JWT_MALFORMED);
	CHECK(verify_str("..", &claims) != TA_JWT_OK);
	/* Empty header: no JSON at all. */
	snprintf(tmp, sizeof(tmp), ".%s%s", p, tok + d2);
	{
		ta_jwt_result r = verify_str(tmp, &claims);

		CHECKF(r == TA_JWT_MALFORMED || r == TA_JWT_BAD_HEADER, "got %s", ta_jwt_result_text(r));
	}
	/* Empty payload, correctly signed: not a JSON object. */
	n = make_token_raw("{\"alg\":\"HS256\"}", 15, "", 0, test_key, TEST_KEYLEN, tmp);
	CHECK(strstr(tmp, "..") != NULL);
	CHECK_RESULT(verify_str(tmp, &claims), TA_JWT_MALFORMED);
	/* Empty signature. */
	snprintf(tmp, sizeof(tmp), "%s.%s.", h, p);
	CHECK_RESULT(verify_str(tmp, &claims), TA_JWT_BAD_SIGNATURE);
	/* Invalid base64url in the header or the payload. */
	snprintf(tmp, sizeof(tmp), "%s=.%s%s", h, p, tok + d2);
	CHECK_RESULT(verify_str(tmp, &claims), TA_JWT_MALFORMED);
	snprintf(tmp, sizeof(tmp), "%s.%s=%s", h, p, tok + d2);
	CHECK(verify_str(tmp, &claims) != TA_JWT_OK);
	/* Whitespace around the token is not tolerated. */
	snprintf(tmp, sizeof(tmp), " %s", tok);
	CHECK(verify_str(tmp, &claims) != TA_JWT_OK);
	snprintf(tmp, sizeof(tmp), "%s\n", tok);
	CHECK(verify_str(tmp, &claims) != TA_JWT_OK);
	/* Only the given length is read: a valid token followed by junk. */
	snprintf(tmp, sizeof(tmp), "%s.junk", tok);
	CHECK_RESULT(ta_jwt_verify(tmp, strlen(tok), test_key, TEST_KEYLEN, ta_test_hmac_sha256, &claims), TA_JWT_OK);
}

static void
test_too_long(void)
{
	static char tok[2 * TA_JWT_MAX_TOKEN + 256];
	static char payload[TA_JWT_MAX_JSON + 1];
	ta_jwt_claims claims;
	size_t		n;
	/* base64url length of the fixed 27-byte header, two dots, 43-char MAC */
	const size_t overhead = 36 + 1 + 1 + 43;
	/* The longest payload whose token is exactly TA_JWT_MAX_TOKEN long. */
	size_t		maxp = 0;

	while (overhead + b64_len(maxp + 1) <= TA_JWT_MAX_TOKEN)
		maxp++;
	CHECKF(maxp == 6083, "maxp = %zu", maxp);

	/* Refused unread: 8193 bytes of anything. */
	memset(tok, '.', TA_JWT_MAX_TOKEN + 1);
	CHECK_RESULT(ta_jwt_verify(tok, TA_JWT_MAX_TOKEN + 1, test_key, TEST_KEYLEN, ta_test_hmac_sha256, &claims),
				 TA_JWT_TOO_LONG);
	CHECK_RESULT(ta_jwt_verify(tok, (size_t) -1, test_key, TEST_KEYLEN, ta_test_hmac_sha256, &claims),
				 TA_JWT_TOO_LONG);

	/* A valid flat object of maxp bytes: {"s":"xxx..."}. */
	memset(payload, 'x', maxp);
	memcpy(payload, "{\"s\":\"", 6);
	payload[maxp - 2] = '"';
	payload[maxp - 1] = '}';
	payload[maxp] = '\0';
	CHECK(parse(payload, &claims) && claims.count == 1);

	/* Exactly TA_JWT_MAX_TOKEN: accepted. */
	n = ta_jwt_sign(payload, maxp, test_key, TEST_KEYLEN, ta_test_hmac_sha256, tok, sizeof(tok));
	CHECKF(n == TA_JWT_MAX_TOKEN, "n = %zu", n);
	CHECK_RESULT(ta_jwt_verify(tok, n, test_key, TEST_KEYLEN, ta_test_hmac_sha256, &claims), TA_JWT_OK);
	CHECK(claims.count == 1 && strlen(ta_jwt_claim(&claims, "s")->value) == maxp - 8);

	/* One more payload byte: a correctly signed token of 8193 bytes is TOO_LONG. */
	memmove(payload + 7, payload + 6, maxp - 6 + 1);
	n = make_token_raw("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", 27, payload, maxp + 1,
					   test_key, TEST_KEYLEN, tok);
	CHECKF(n == TA_JWT_MAX_TOKEN + 1, "n = %zu", n);
	CHECK_RESULT(ta_jwt_verify(tok, n, test_key, TEST_KEYLEN, ta_test_hmac_sha256, &claims), TA_JWT_TOO_LONG);

	/*
	 * ta_jwt_sign must never hand out a token that ta_jwt_verify then refuses
	 * as too long: for payloads of maxp+1 .. TA_JWT_MAX_JSON bytes it should
	 * either return 0 or produce a token that verifies.
	 */
	{
		size_t		bad_len = 0;
		size_t		bad_n = 0;
		ta_jwt_result bad_r = TA_JWT_OK;

		for (size_t len = maxp + 1; len <= TA_JWT_MAX_JSON && bad_len == 0; len++)
		{
			memset(payload, 'x', len);
			memcpy(payload, "{\"s\":\"", 6);
			payload[len - 2] = '"';
			payload[len - 1] = '}';
			n = ta_jwt_sign(payload, len, test_key, TEST_KEYLEN, ta_test_hmac_sha256, tok, sizeof(tok));
			if (n > 0)
			{
				ta_jwt_result r = ta_jwt_verify(tok, n, test_key, TEST_KEYLEN, ta_test_hmac_sha256, &claims);

				if (r != TA_JWT_OK)
				{
					bad_len = len;
					bad_n = n;
					bad_r = r;
				}
			}
		}
		CHECKF(bad_len == 0, "ta_jwt_sign accepted a %zu-byte payload (valid flat object) and returned "
			   "a %zu-byte token that ta_jwt_verify refuses: %s", bad_len, bad_n, ta_jwt_result_text(bad_r));
	}
}

static void
test_claims_parsing(void)
{
	ta_jwt_claims c;
	static const char json[] =
		" {\r\n\t\"s\" : \"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\te\" ,"
		"\"u\":\"\\u00e9\\u00C9\\u20AC\\ud83d\\ude00\\uD834\\uDD1E\\u0041\\u007f\","
		"\"raw\":\"\xC3\xA9\xE2\x82\xAC\","
		"\"n1\":-12.5e+3, \"n2\":0, \"n3\":-0, \"n4\":1E-7, \"n5\":123456789012345678901234567890,"
		"\"t\":true,\"f\":false,\"z\":null,\"e\":\"\",\"\":\"empty name\","
		"\"sn\":\"42\"} \n";

	CHECK(parse(json, &c));
	CHECK(c.count == 14);
	CHECK(claim_is(&c, "s", true, "a\"b\\c/d\b\f\n\r\te"));
	CHECK(claim_is(&c, "u", true,
				   "\xC3\xA9" "\xC3\x89" "\xE2\x82\xAC" "\xF0\x9F\x98\x80" "\xF0\x9D\x84\x9E" "A" "\x7F"));
	CHECK(claim_is(&c, "raw", true, "\xC3\xA9\xE2\x82\xAC"));
	CHECK(claim_is(&c, "n1", false, "-12.5e+3"));
	CHECK(claim_is(&c, "n2", false, "0"));
	CHECK(claim_is(&c, "n3", false, "-0"));
	CHECK(claim_is(&c, "n4", false, "1E-7"));
	CHECK(claim_is(&c, "n5", false, "123456789012345678901234567890"));
	CHECK(claim_is(&c, "t", false, "true"));
	CHECK(claim_is(&c, "f", false, "false"));
	CHECK(claim_is(&c, "z", false, "null"));
	CHECK(claim_is(&c, "e", true, ""));
	CHECK(claim_is(&c, "", true, "empty name"));
	CHECK(claim_is(&c, "sn", true, "42"));
	CHECK(ta_jwt_claim(&c, "missing") == NULL);
	CHECK(ta_jwt_claim(&c, "S") == NULL);
	/* Member order is kept. */
	CHECK(strcmp(c.members[0].name, "s") == 0 && strcmp(c.members[13].name, "sn") == 0);

	/* The same through a signed token. */
	{
		ta_jwt_claims c2;

		CHECK_RESULT(verify_hp("{\"alg\":\"HS256\"}", json, &c2), TA_JWT_OK);
		CHECK(c2.count == c.count);
		CHECK(claim_is(&c2, "u", true,
					   "\xC3\xA9" "\xC3\x89" "\xE2\x82\xAC" "\xF0\x9F\x98\x80" "\xF0\x9D\x84\x9E" "A" "\x7F"));
	}

	/* Escaped names. */
	CHECK(parse("{\"\\u0073ub\":\"x\",\"a\\nb\":1}", &c) && claim_is(&c, "sub", true, "x") &&
		  claim_is(&c, "a\nb", false, "1"));
	/* Empty object, whitespace only inside. */
	CHECK(parse("{}", &c) && c.count == 0);
	CHECK(parse(" { \t\r\n } ", &c) && c.count == 0);
	/* The largest and smallest code points. */
	CHECK(parse("{\"a\":\"\\uDBFF\\uDFFF\\u0001\\uFFFF\"}", &c) &&
		  claim_is(&c, "a", true, "\xF4\x8F\xBF\xBF\x01\xEF\xBF\xBF"));
	/* Numbers: every grammar branch. */
	CHECK(parse("{\"a\":0.5,\"b\":-0.0e0,\"c\":10E+10,\"d\":7e-0}", &c) &&
		  claim_is(&c, "a", false, "0.5") && claim_is(&c, "b", false, "-0.0e0") &&
		  claim_is(&c, "c", false, "10E+10") && claim_is(&c, "d", false, "7e-0"));
	/* Distinct names of one length and first byte are no duplicates. */
	CHECK(parse("{\"ab\":1,\"ac\":2,\"a\":3,\"\":4,\"ad\":5}", &c) && c.count == 5 &&
		  claim_is(&c, "ac", false, "2") && claim_is(&c, "", false, "4") && claim_is(&c, "ad", false, "5"));
	/* A byte-length-limited parse never reads past len. */
	CHECK(!ta_json_parse_flat("{\"a\":1}", 6, &c));
	CHECK(ta_json_parse_flat("{\"a\":1}xyz", 7, &c) && claim_is(&c, "a", false, "1"));
	CHECK(!ta_json_parse_flat("{\"a\":tru", 8, &c));
	CHECK(!ta_json_parse_flat("{\"a\":\"\\u00", 10, &c));
	CHECK(!ta_json_parse_flat("{\"a\":\"\\ud83d\\ude0", 17, &c));
}

static ta_jwt_result
times(const char *json, int64_t now, int64_t skew)
{
	ta_jwt_claims c;

	if (!parse(json, &c))
	{
		fprintf(stderr, "test bug: cannot parse %s\n", json);
		exit(2);
	}
	return ta_jwt_check_times(&c, now, skew);
}

static void
test_check_times(void)
{
	const int64_t now = 1700000000;

	CHECK_RESULT(times("{}", now, 0), TA_JWT_MISSING_CLAIM);
	CHECK_RESULT(times("{\"sub\":\"a\"}", now, 60), TA_JWT_MISSING_CLAIM);
	CHECK_RESULT(times("{\"exp\":\"1800000000\"}", now, 0), TA_JWT_MISSING_CLAIM);
	CHECK_RESULT(times("{\"exp\":true}", now, 0), TA_JWT_MISSING_CLAIM);
	CHECK_RESULT(times("{\"exp\":null}", now, 0), TA_JWT_MISSING_CLAIM);
	CHECK_RESULT(times("{\"EXP\":1800000000}", now, 0), TA_JWT_MISSING_CLAIM);

	/* exp: valid strictly before it. */
	CHECK_RESULT(times("{\"exp\":1700000001}", now, 0), TA_JWT_OK);
	CHECK_RESULT(times("{\"exp\":1700000000}", now, 0), TA_JWT_EXPIRED);
	CHECK_RESULT(times("{\"exp\":1699999999}", now, 0), TA_JWT_EXPIRED);
	CHECK_RESULT(times("{\"exp\":0}", now, 0), TA_JWT_EXPIRED);
	/* Within the skew. */
	CHECK_RESULT(times("{\"exp\":1699999970}", now, 60), TA_JWT_OK);
	CHECK_RESULT(times("{\"exp\":1699999941}", now, 60), TA_JWT_OK);
	CHECK_RESULT(times("{\"exp\":1699999940}", now, 60), TA_JWT_EXPIRED);
	CHECK_RESULT(times("{\"exp\":1699999000}", now, 60), TA_JWT_EXPIRED);

	/* nbf and iat in the future. */
	CHECK_RESULT(times("{\"exp\":1800000000,\"nbf\":1700000000}", now, 0), TA_JWT_OK);
	CHECK_RESULT(times("{\"exp\":1800000000,\"nbf\":1700000001}", now, 0), TA_JWT_NOT_YET_VALID);
	CHECK_RESULT(times("{\"exp\":1800000000,\"nbf\":1700000060}", now, 60), TA_JWT_OK);
	CHECK_RESULT(times("{\"exp\":1800000000,\"nbf\":1700000061}", now, 60), TA_JWT_NOT_YET_VALID);
	CHECK_RESULT(times("{\"exp\":1800000000,\"nbf\":1600000000}", now, 60), TA_JWT_OK);
	CHECK_RESULT(times("{\"exp\":1800000000,\"iat\":1700000030}", now, 60), TA_JWT_OK);
	CHECK_RESULT(times("{\"exp\":1800000000,\"iat\":1700000060}", now, 60), TA_JWT_OK);
	CHECK_RESULT(times("{\"exp\":1800000000,\"iat\":1700000061}", now, 60), TA_JWT_NOT_YET_VALID);
	CHECK_RESULT(times("{\"exp\":1800000000,\"iat\":1700000001}", now, 0), TA_JWT_NOT_YET_VALID);
	CHECK_RESULT(times("{\"exp\":1800000000,\"iat\":1699999999,\"nbf\":1699999999}", now, 0), TA_JWT_OK);
	CHECK_RESULT(times("{\"exp\":1800000000,\"iat\":1699999999,\"nbf\":1700000500}", now, 60),
				 TA_JWT_NOT_YET_VALID);
	CHECK_RESULT(times("{\"exp\":1800000000,\"iat\":1700000500,\"nbf\":1699999999}", now, 60),
				 TA_JWT_NOT_YET_VALID);
	/* Expiry wins over "not yet valid" only in the sense that both refuse. */
	CHECK(times("{\"exp\":1,\"nbf\":1800000000}", now, 0) != TA_JWT_OK);
	/* nbf and iat of the wrong type. */
	CHECK_RESULT(times("{\"exp\":1800000000,\"nbf\":\"1\"}", now, 0), TA_JWT_MALFORMED);
	CHECK_RESULT(times("{\"exp\":1800000000,\"iat\":false}", now, 0), TA_JWT_MALFORMED);
	CHECK_RESULT(times("{\"exp\":1800000000,\"iat\":null}", now, 0), TA_JWT_MALFORMED);

	/* Fractions are truncated (toward zero). */
	CHECK_RESULT(times("{\"exp\":1700000001.5}", now, 0), TA_JWT_OK);
	CHECK_RESULT(times("{\"exp\":1700000000.999}", now, 0), TA_JWT_EXPIRED);
	CHECK_RESULT(times("{\"exp\":1800000000,\"nbf\":1700000000.9}", now, 0), TA_JWT_OK);
	CHECK_RESULT(times("{\"exp\":1800000000,\"nbf\":1700000001.0}", now, 0), TA_JWT_NOT_YET_VALID);
	CHECK_RESULT(times("{\"exp\":-0.5}", 0, 0), TA_JWT_EXPIRED);
	CHECK_RESULT(times("{\"exp\":0.5}", -1, 0), TA_JWT_OK);

	/* Negative numbers. */
	CHECK_RESULT(times("{\"exp\":-1}", now, 0), TA_JWT_EXPIRED);
	CHECK_RESULT(times("{\"exp\":-1}", -2, 0), TA_JWT_OK);
	CHECK_RESULT(times("{\"exp\":-0}", now, 0), TA_JWT_EXPIRED);
	CHECK_RESULT(times("{\"exp\":1800000000,\"nbf\":-1700000000,\"iat\":-1}", now, 0), TA_JWT_OK);

	/* Huge numbers: refused or handled, never overflowed (UBSan would abort). */
	{
		static const char *huge[] = {
			"{\"exp\":99999999999999999999}",
			"{\"exp\":123456789012345678901234567890}",
			"{\"exp\":-99999999999999999999}",
			"{\"exp\":18446744073709551616}",
			"{\"exp\":18446744073709551615}",
			"{\"exp\":9223372036854775808}",
			"{\"exp\":-9223372036854775809}",
			"{\"exp\":99999999999999999999.5}",
		};

		for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++)
		{
			ta_jwt_result r = times(huge[i], now, 0);

			/* Out of int64 range: cannot be read as a time, so not OK. */
			CHECKF(r == TA_JWT_MISSING_CLAIM, "%s: got %s", huge[i], ta_jwt_result_text(r));
		}
		/* In range but near the limit: either accepted or refused, no UB. */
		{
			ta_jwt_result r1 = times("{\"exp\":9223372036854775807}", now, 0);
			ta_jwt_result r2 = times("{\"exp\":-9223372036854775807}", now, 0);
			ta_jwt_result r3 = times("{\"exp\":922337203685477579}", now, 0);

			CHECK(r1 == TA_JWT_OK || r1 == TA_JWT_MISSING_CLAIM);
			CHECK(r2 == TA_JWT_EXPIRED || r2 == TA_JWT_MISSING_CLAIM);
			CHECK_RESULT(r3, TA_JWT_OK);
		}
		CHECK(times("{\"exp\":1800000000,\"nbf\":99999999999999999999}", now, 0) != TA_JWT_OK);
		CHECK(times("{\"exp\":1800000000,\"iat\":99999999999999999999}", now, 0) != TA_JWT_OK);
		CHECK_RESULT(times("{\"exp\":1800000000,\"nbf\":-99999999999999999999}", now, 0), TA_JWT_MALFORMED);
		/* Large skew and now values stay in range for ordinary claims. */
		CHECK_RESULT(times("{\"exp\":1800000000}", now, 1000000000), TA_JWT_OK);
		CHECK_RESULT(times("{\"exp\":1800000000,\"nbf\":2600000000}", now, 1000000000), TA_JWT_OK);
	}

	/* Exponent forms are refused. */
	CHECK_RESULT(times("{\"exp\":1.8e9}", now, 0), TA_JWT_MISSING_CLAIM);
	CHECK_RESULT(times("{\"exp\":18E8}", now, 0), TA_JWT_MISSING_CLAIM);
	CHECK_RESULT(times("{\"exp\":1800000000e0}", now, 0), TA_JWT_MISSING_CLAIM);
	CHECK_RESULT(times("{\"exp\":1800000000.0e+0}", now, 0), TA_JWT_MISSING_CLAIM);
	CHECK_RESULT(times("{\"exp\":1800000000,\"nbf\":1e3}", now, 0), TA_JWT_MALFORMED);
	CHECK_RESULT(times("{\"exp\":1800000000,\"iat\":1E3}", now, 0), TA_JWT_MALFORMED);
}

/* Raw bytes >= 0x80 in strings must be well-formed UTF-8. */
static void
test_raw_utf8(void)
{
	ta_jwt_claims c;

	CHECK(parse("{\"n\":\"caf\xc3\xa9\"}", &c) && strcmp(ta_jwt_claim(&c, "n")->value, "caf\xc3\xa9") == 0);
	CHECK(parse("{\"n\":\"\xe2\x82\xac \xf0\x9f\x98\x80\"}", &c));
	CHECK(!parse("{\"n\":\"\xff\"}", &c));			/* never a lead byte */
	CHECK(!parse("{\"n\":\"\xc3\"}", &c));			/* truncated */
	CHECK(!parse("{\"n\":\"\xc0\xaf\"}", &c));		/* overlong '/' */
	CHECK(!parse("{\"n\":\"\xe0\x80\xaf\"}", &c));	/* overlong, 3 bytes */
	CHECK(!parse("{\"n\":\"\xed\xa0\x80\"}", &c));	/* surrogate U+D800 */
	CHECK(!parse("{\"n\":\"\xf4\x90\x80\x80\"}", &c));	/* above U+10FFFF */
	CHECK(!parse("{\"n\":\"\x80\"}", &c));			/* lone continuation */
	CHECK(!parse("{\"\xc3\":1}", &c));				/* in a name too */
}

static void
test_result_text(void)
{
	bool		ok = true;

	for (int r = TA_JWT_OK; r <= TA_JWT_MISSING_CLAIM; r++)
	{
		const char *t = ta_jwt_result_text((ta_jwt_result) r);

		if (t == NULL || t[0] == '\0')
			ok = false;
		for (int s = TA_JWT_OK; s < r; s++)
			if (strcmp(t, ta_jwt_result_text((ta_jwt_result) s)) == 0)
				ok = false;
	}
	CHECK(ok);
	CHECK(strcmp(ta_jwt_result_text(TA_JWT_OK), "valid") == 0);
}

int
main(void)
{
	test_base64url_roundtrip();
	test_base64url_vectors();
	test_base64url_rejects();
	test_timing_safe_equal();
	test_sign_verify();
	test_rfc7515_a1();
	test_bad_headers();
	test_bad_payloads();
	test_bad_signatures_and_parts();
	test_too_long();
	test_claims_parsing();
	test_check_times();
	test_raw_utf8();
	test_result_text();

	return check_summary();
}
