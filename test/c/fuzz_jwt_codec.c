/*
 * fuzz_jwt_codec.c
 *		libFuzzer harness for the pure-C HS256 JWT codec (src/jwt_codec.c).
 *
 * Each input is fed to
 *	 - ta_jwt_verify (fixed key), with invariants re-checked independently;
 *	 - ta_json_parse_flat, compared member by member with a reference parser
 *	   written here independently, then re-serialized and re-parsed;
 *	 - ta_base64url_decode into an exact-size heap buffer (ASan sees any
 *	   overrun) and a one-byte-smaller one, compared with a reference decoder;
 *	 - ta_jwt_sign -> ta_jwt_verify with the input as the payload (verify must
 *	   succeed iff the input is a valid flat object; claims re-found by name
 *	   must match), and with the input as the header;
 *	 - ta_jwt_check_times on whatever verify/parse returned, compared with a
 *	   reference where the claims are valid.
 * Any disagreement aborts (a crash for libFuzzer).
 *
 * Built with -DTA_FUZZ_SEED_MAIN (and without -fsanitize=fuzzer) this file
 * is instead a program that writes the seed corpus into the directory given.
 *
 * Built with -DTA_FUZZ_TOLERATE_SIGN_LIMIT the round trip accepts
 * TA_JWT_TOO_LONG from verify for a token that ta_jwt_sign produced but that
 * is longer than TA_JWT_MAX_TOKEN (see the report on sign/verify limits); by
 * default that is treated as the bug it is.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jwt_codec.h"
#include "hmac_pg.h"

static const uint8_t fuzz_key[] = "task_api fuzz key: 0123456789abcdef";
#define FUZZ_KEYLEN (sizeof(fuzz_key) - 1)

static const char fixed_header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

#define FAIL(...) \
	do { \
		fprintf(stderr, "fuzz_jwt_codec: %s:%d: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} while (0)
#define ASSERT(cond) \
	do { if (!(cond)) FAIL("assertion failed: %s", #cond); } while (0)

static size_t
b64_len(size_t n)
{
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

/* ------------------------------------------------------------------ */
/* Reference base64url decoder (canonical, unpadded). */

static int
ref_b64_val(uint8_t c)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

	if (c == 0)
		return -1;
	{
		const char *p = memchr(alphabet, c, 64);

		return p ? (int) (p - alphabet) : -1;
	}
}

/* Decoded length, or -1 if src is not canonical unpadded base64url. */
static long
ref_b64_decode(const uint8_t *src, size_t len, uint8_t *dst)
{
	size_t		o = 0;
	size_t		full = len / 4;
	size_t		rem = len % 4;

	if (rem == 1)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (ref_b64_val(src[i]) < 0)
			return -1;
	for (size_t g = 0; g < full; g++)
	{
		const uint8_t *s = src + 4 * g;
		uint32_t	v = ((uint32_t) ref_b64_val(s[0]) << 18) | ((uint32_t) ref_b64_val(s[1]) << 12) |
			((uint32_t) ref_b64_val(s[2]) << 6) | (uint32_t) ref_b64_val(s[3]);

		if (dst)
		{
			dst[o] = (uint8_t) (v >> 16);
			dst[o + 1] = (uint8_t) (v >> 8);
			dst[o + 2] = (uint8_t) v;
		}
		o += 3;
	}
	if (rem == 2)
	{
		int			a = ref_b64_val(src[len - 2]),
					b = ref_b64_val(src[len - 1]);

		if (b & 0x0F)
			return -1;
		if (dst)
			dst[o] = (uint8_t) ((a << 2) | (b >> 4));
		o += 1;
	}
	else if (rem == 3)
	{
		int			a = ref_b64_val(src[len - 3]),
					b = ref_b64_val(src[len - 2]),
					c = ref_b64_val(src[len - 1]);

		if (c & 0x03)
			return -1;
		if (dst)
		{
			dst[o] = (uint8_t) ((a << 2) | (b >> 4));
			dst[o + 1] = (uint8_t) (((b & 0x0F) << 4) | (c >> 2));
		}
		o += 2;
	}
	return (long) o;
}

/* ------------------------------------------------------------------ */
/* Reference flat-object parser, independent of the codec's. */

typedef struct ref_member
{
	const char *name;
	size_t		nlen;
	const char *val;
	size_t		vlen;
	bool		str;
} ref_member;

typedef struct ref_obj
{
	int			n;
	ref_member	m[TA_JWT_MAX_CLAIMS];
	char	   *buf;
	size_t		used;
	size_t		cap;
} ref_obj;

static bool
ref_ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int
ref_hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static long
ref_hex4(const uint8_t *s, size_t n, size_t k)
{
	long		v = 0;

	if (k + 4 > n)
		return -1;
	for (size_t i = 0; i < 4; i++)
	{
		int			h = ref_hexval(s[k + i]);

		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

static void
ref_put(ref_obj *o, uint8_t c)
{
	if (o->used >= o->cap)
		FAIL("reference parser buffer overflow (harness bug)");
	o->buf[o->used++] = (char) c;
}

/*
 * Reference UTF-8 check, written from the table of well-formed byte
 * sequences in the Unicode standard (Table 3-7): the length of the
 * sequence at s, or 0 if it is ill-formed.
 */
static size_t
ref_utf8_len(const uint8_t *s, size_t avail)
{
	static const struct
	{
		uint8_t		lead_lo, lead_hi, second_lo, second_hi;
		size_t		len;
	}			rows[] = {
		{0xC2, 0xDF, 0x80, 0xBF, 2},
		{0xE0, 0xE0, 0xA0, 0xBF, 3},
		{0xE1, 0xEC, 0x80, 0xBF, 3},
		{0xED, 0xED, 0x80, 0x9F, 3},
		{0xEE, 0xEF, 0x80, 0xBF, 3},
		{0xF0, 0xF0, 0x90, 0xBF, 4},
		{0xF1, 0xF3, 0x80, 0xBF, 4},
		{0xF4, 0xF4, 0x80, 0x8F, 4},
	};

	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++)
	{
		if (s[0] < rows[r].lead_lo || s[0] > rows[r].lead_hi)
			continue;
		if (avail < rows[r].len || s[1] < rows[r].second_lo || s[1] > rows[r].second_hi)
			return 0;
		for (size_t i = 2; i < rows[r].len; i++)
			if (s[i] < 0x80 || s[i] > 0xBF)
				return 0;
		return rows[r].len;
	}
	return 0;
}

static bool
ref_string(const uint8_t *s, size_t n, size_t *pos, ref_obj *o, const char **out, size_t *outlen)
{
	size_t		k = *pos + 1;
	size_t		start = o->used;

	for (;;)
	{
		uint8_t		c;

		if (k >= n)
			return false;
		c = s[k];
		if (c == '"')
		{
			k++;
			break;
		}
		if (c < 0x20)
			return false;
		if (c >= 0x80)
		{
			size_t		len = ref_utf8_len(s + k, n - k);

			if (len == 0)
				return false;
			for (size_t i = 0; i < len; i++)
				ref_put(o, s[k + i]);
			k += len;
			continue;
		}
		if (c != '\\')
		{
			ref_put(o, c);
			k++;
			continue;
		}
		if (k + 1 >= n)
			return false;
		c = s[k + 1];
		k += 2;
		if (c == '"' || c == '\\' || c == '/')
			ref_put(o, c);
		else if (c == 'b')
			ref_put(o, 8);
		else if (c == 'f')
			ref_put(o, 12);
		else if (c == 'n')
			ref_put(o, 10);
		else if (c == 'r')
			ref_put(o, 13);
		else if (c == 't')
			ref_put(o, 9);
		else if (c == 'u')
		{
			long		cp = ref_hex4(s, n, k);

			if (cp < 0)
				return false;
			k += 4;
			if (cp == 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
				return false;
			if (cp >= 0xD800 && cp <= 0xDBFF)
			{
				long		lo;

				if (k + 2 > n || s[k] != '\\' || s[k + 1] != 'u')
					return false;
				lo = ref_hex4(s, n, k + 2);
				if (lo < 0xDC00 || lo > 0xDFFF)
					return false;
				k += 6;
				cp = 0x10000 + ((cp - 0xD800) * 0x400) + (lo - 0xDC00);
			}
			if (cp <= 0x7F)
				ref_put(o, (uint8_t) cp);
			else if (cp <= 0x7FF)
			{
				ref_put(o, (uint8_t) (0xC0 + cp / 64));
				ref_put(o, (uint8_t) (0x80 + cp % 64));
			}
			else if (cp <= 0xFFFF)
			{
				ref_put(o, (uint8_t) (0xE0 + cp / 4096));
				ref_put(o, (uint8_t) (0x80 + cp / 64 % 64));
				ref_put(o, (uint8_t) (0x80 + cp % 64));
			}
			else
			{
				ref_put(o, (uint8_t) (0xF0 + cp / 262144));
				ref_put(o, (uint8_t) (0x80 + cp / 4096 % 64));
				ref_put(o, (uint8_t) (0x80 + cp / 64 % 64));
				ref_put(o, (uint8_t) (0x80 + cp % 64));
			}
		}
		else
			return false;
	}
	*out = o->buf + start;
	*outlen = o->used - start;
	ref_put(o, 0);
	*pos = k;
	return true;
}

static bool
ref_digit(const uint8_t *s, size_t n, size_t k)
{
	return k < n && s[k] >= '0' && s[k] <= '9';
}

static bool
ref_bare(const uint8_t *s, size_t n, size_t *pos, ref_obj *o, const char **out, size_t *outlen)
{
	static const char *const lits[] = {"true", "false", "null"};
	size_t		k = *pos;
	size_t		start = o->used;

	for (int i = 0; i < 3; i++)
	{
		size_t		l = strlen(lits[i]);

		if (n - k >= l && memcmp(s + k, lits[i], l) == 0)
		{
			k += l;
			goto done;
		}
	}
	if (k < n && s[k] == '-')
		k++;
	if (!ref_digit(s, n, k))
		return false;
	if (s[k] == '0')
		k++;
	else
		while (ref_digit(s, n, k))
			k++;
	if (k < n && s[k] == '.')
	{
		k++;
		if (!ref_digit(s, n, k))
			return false;
		while (ref_digit(s, n, k))
			k++;
	}
	if (k < n && (s[k] == 'e' || s[k] == 'E'))
	{
		k++;
		if (k < n && (s[k] == '+' || s[k] == '-'))
			k++;
		if (!ref_digit(s, n, k))
			return false;
		while (ref_digit(s, n, k))
			k++;
	}
done:
	for (size_t i = *pos; i < k; i++)
		ref_put(o, s[i]);
	*out = o->buf + start;
	*outlen = k - *pos;
	ref_put(o, 0);
	*pos = k;
	return true;
}

/* o->buf must have room for n + 2 * (TA_JWT_MAX_CLAIMS + 1) bytes. */
static bool
ref_parse(const uint8_t *s, size_t n, ref_obj *o)
{
	size_t		k = 0;

	o->n = 0;
	o->used = 0;
	while (k < n && ref_ws(s[k]))
		k++;
	if (k >= n || s[k] != '{')
		return false;
	k++;
	while (k < n && ref_ws(s[k]))
		k++;
	if (k < n && s[k] == '}')
		k++;
	else
	{
		for (;;)
		{
			ref_member m;

			while (k < n && ref_ws(s[k]))
				k++;
			if (k >= n || s[k] != '"' || !ref_string(s, n, &k, o, &m.name, &m.nlen))
				return false;
			while (k < n && ref_ws(s[k]))
				k++;
			if (k >= n || s[k] != ':')
				return false;
			k++;
			while (k < n && ref_ws(s[k]))
				k++;
			if (k >= n)
				return false;
			if (s[k] == '"')
			{
				if (!ref_string(s, n, &k, o, &m.val, &m.vlen))
					return false;
				m.str = true;
			}
			else
			{
				if (!ref_bare(s, n, &k, o, &m.val, &m.vlen))
					return false;
				m.str = false;
			}
			for (int i = 0; i < o->n; i++)
				if (o->m[i].nlen == m.nlen && memcmp(o->m[i].name, m.name, m.nlen) == 0)
					return false;
			if (o->n >= TA_JWT_MAX_CLAIMS)
				return false;
			o->m[o->n++] = m;
			while (k < n && ref_ws(s[k]))
				k++;
			if (k < n && s[k] == ',')
			{
				k++;
				continue;
			}
			if (k < n && s[k] == '}')
			{
				k++;
				break;
			}
			return false;
		}
	}
	while (k < n && ref_ws(s[k]))
		k++;
	return k == n;
}

static const ref_member *
ref_find(const ref_obj *o, const char *name)
{
	size_t		l = strlen(name);

	for (int i = 0; i < o->n; i++)
		if (o->m[i].nlen == l && memcmp(o->m[i].name, name, l) == 0)
			return &o->m[i];
	return NULL;
}

/* The codec's claims equal the reference's, in order and when re-found by name. */
static void
assert_claims_equal(const ta_jwt_claims *c, const ref_obj *o)
{
	ASSERT(c->count == o->n);
	for (int i = 0; i < o->n; i++)
	{
		const ta_json_member *m = &c->members[i];
		const ta_json_member *f;

		ASSERT(strlen(m->name) == o->m[i].nlen && memcmp(m->name, o->m[i].name, o->m[i].nlen) == 0);
		ASSERT(strlen(m->value) == o->m[i].vlen && memcmp(m->value, o->m[i].val, o->m[i].vlen) == 0);
		ASSERT(m->is_string == o->m[i].str);
		/* Names never hold a NUL, so lookup by C string finds this member. */
		f = ta_jwt_claim(c, o->m[i].name);
		ASSERT(f == m);
		ASSERT((const char *) m->name >= c->storage && m->name < c->storage + sizeof(c->storage));
		ASSERT((const char *) m->value >= c->storage && m->value < c->storage + sizeof(c->storage));
	}
}

/* Is this header acceptable: {"alg":"HS256"} plus at most "typ":"JWT"? */
static bool
ref_header_ok(const ref_obj *o)
{
	const ref_member *alg = ref_find(o, "alg");
	const ref_member *typ = ref_find(o, "typ");

	if (alg == NULL || !alg->str || alg->vlen != 5 || memcmp(alg->val, "HS256", 5) != 0)
		return false;
	if (typ != NULL && (!typ->str || typ->vlen != 3 || memcmp(typ->val, "JWT", 3) != 0))
		return false;
	return o->n == (typ ? 2 : 1);
}

/* ------------------------------------------------------------------ */
/* Reference for ta_jwt_check_times. */

typedef enum
{
	ND_ABSENT, ND_INVALID, ND_OK, ND_EITHER
} nd_kind;

/*
 * Read a NumericDate the way the codec documents it: a JSON number without
 * an exponent, fraction truncated.  Values beyond 9e18 in magnitude are at
 * the edge of int64 and may go either way (ND_EITHER).
 */
static nd_kind
ref_numeric_date(const ref_obj *o, const char *name, int64_t *out)
{
	const ref_member *m = ref_find(o, name);
	char		intpart[64];
	size_t		l = 0;
	long long	v;
	char	   *end;

	if (m == NULL)
		return ND_ABSENT;
	if (m->str || memchr(m->val, 'e', m->vlen) || memchr(m->val, 'E', m->vlen) ||
		strcmp(m->val, "true") == 0 || strcmp(m->val, "false") == 0 || strcmp(m->val, "null") == 0)
		return ND_INVALID;
	while (l < m->vlen && m->val[l] != '.')
		l++;
	if (l >= sizeof(intpart))
		return ND_INVALID;		/* 60+ digits: far outside int64 */
	memcpy(intpart, m->val, l);
	intpart[l] = '\0';
	errno = 0;
	v = strtoll(intpart, &end, 10);
	if (*end != '\0')
		FAIL("reference numeric date: unexpected text %s", m->val);
	if (errno == ERANGE)
		return ND_INVALID;
	if (v > 9000000000000000000LL || v < -9000000000000000000LL)
		return ND_EITHER;
	*out = (int64_t) v;
	return ND_OK;
}

/* -1: either outcome is acceptable (an int64 edge value is involved). */
static int
ref_check_times(const ref_obj *o, int64_t now, int64_t skew)
{
	int64_t		exp = 0,
				t = 0;
	nd_kind		k;
	static const char *const names[] = {"nbf", "iat"};

	k = ref_numeric_date(o, "exp", &exp);
	if (k == ND_EITHER)
		return -1;
	if (k != ND_OK)
		return TA_JWT_MISSING_CLAIM;
	if (now - skew >= exp)
		return TA_JWT_EXPIRED;
	for (int i = 0; i < 2; i++)
	{
		k = ref_numeric_date(o, names[i], &t);
		if (k == ND_EITHER)
			return -1;
		if (k == ND_INVALID)
			return TA_JWT_MALFORMED;
		if (k == ND_OK && t > now + skew)
			return TA_JWT_NOT_YET_VALID;
	}
	return TA_JWT_OK;
}

static bool
result_in_range(ta_jwt_result r)
{
	return (int) r >= TA_JWT_OK && (int) r <= TA_JWT_MISSING_CLAIM;
}

static uint64_t
fnv1a(const uint8_t *d, size_t n)
{
	uint64_t	h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ d[i]) * 1099511628211ULL;
	return h;
}

/* check_times on claims and, where the reference is defined, compare. */
static void
exercise_times(const ta_jwt_claims *c, const ref_obj *ref, uint64_t h)
{
	const int64_t nows[3] = {1700000000, (int64_t) (h % 4000000000ULL) - 100000000, 0};
	const int64_t skews[3] = {60, (int64_t) ((h >> 32) % 100000), 0};

	for (int i = 0; i < 3; i++)
	{
		ta_jwt_result r = ta_jwt_check_times(c, nows[i], skews[i]);

		ASSERT(result_in_range(r));
		ASSERT(r == TA_JWT_OK || r == TA_JWT_MISSING_CLAIM || r == TA_JWT_EXPIRED ||
			   r == TA_JWT_NOT_YET_VALID || r == TA_JWT_MALFORMED);
		if (ref != NULL)
		{
			int			want = ref_check_times(ref, nows[i], skews[i]);

			if (want >= 0 && (int) r != want)
				FAIL("check_times(now=%lld, skew=%lld) = %s, reference says %s",
					 (long long) nows[i], (long long) skews[i], ta_jwt_result_text(r),
					 ta_jwt_result_text((ta_jwt_result) want));
		}
	}
}

/* JSON-escape the codec's claims, for a re-parse round trip. */
static size_t
serialize_claims(const ta_jwt_claims *c, char *out)
{
	size_t		o = 0;

	out[o++] = '{';
	for (int i = 0; i < c->count; i++)
	{
		for (int part = 0; part < 2; part++)
		{
			const char *s = part == 0 ? c->members[i].name : c->members[i].value;
			bool		quote = part == 0 || c->members[i].is_string;

			if (quote)
				out[o++] = '"';
			for (; *s; s++)
			{
				unsigned char ch = (unsigned char) *s;

				if (!quote)
					out[o++] = (char) ch;
				else if (ch == '"' || ch == '\\')
				{
					out[o++] = '\\';
					out[o++] = (char) ch;
				}
				else if (ch < 0x20)
					o += (size_t) sprintf(out + o, "\\u%04x", ch);
				else
					out[o++] = (char) ch;
			}
			if (quote)
				out[o++] = '"';
			if (part == 0)
				out[o++] = ':';
		}
		if (i + 1 < c->count)
			out[o++] = ',';
	}
	out[o++] = '}';
	return o;
}

/* ------------------------------------------------------------------ */

static ta_jwt_claims claims_a;
static ta_jwt_claims claims_b;

/* The input as a compact token, verified with the fixed key. */
static void
fuzz_verify(const char *in, size_t size, uint64_t h)
{
	ta_jwt_result r = ta_jwt_verify(in, size, fuzz_key, FUZZ_KEYLEN, ta_test_hmac_sha256, &claims_a);

	ASSERT(result_in_range(r));
	ASSERT(r != TA_JWT_HMAC_FAILED);
	/* TOO_LONG iff over TA_JWT_MAX_TOKEN: within it, no part can exceed the JSON limit. */
	ASSERT((r == TA_JWT_TOO_LONG) == (size > TA_JWT_MAX_TOKEN));
	ASSERT(claims_a.count >= 0 && claims_a.count <= TA_JWT_MAX_CLAIMS);
	if (r != TA_JWT_MALFORMED && r != TA_JWT_OK)
		ASSERT(claims_a.count == 0);	/* nothing of an unverified payload */

	if (r == TA_JWT_OK)
	{
		/* Independently: three parts, header, MAC, payload. */
		const char *d1 = memchr(in, '.', size);
		const char *d2;
		uint8_t		mac[TA_JWT_MAC_LEN];
		uint8_t    *buf;
		long		n;
		ref_obj		ref;

		ASSERT(d1 != NULL);
		d2 = memchr(d1 + 1, '.', size - (size_t) (d1 + 1 - in));
		ASSERT(d2 != NULL && memchr(d2 + 1, '.', size - (size_t) (d2 + 1 - in)) == NULL);
		buf = malloc(size + 1);
		ref.cap = size + 2 * (TA_JWT_MAX_CLAIMS + 1) + 16;
		ref.buf = malloc(ref.cap);
		ASSERT(buf && ref.buf);

		n = ref_b64_decode((const uint8_t *) d2 + 1, size - (size_t) (d2 + 1 - in), buf);
		ASSERT(n == TA_JWT_MAC_LEN);
		ASSERT(ta_test_hmac_sha256(fuzz_key, FUZZ_KEYLEN, (const uint8_t *) in, (size_t) (d2 - in), mac));
		ASSERT(memcmp(mac, buf, TA_JWT_MAC_LEN) == 0);

		n = ref_b64_decode((const uint8_t *) in, (size_t) (d1 - in), buf);
		ASSERT(n >= 0 && ref_parse(buf, (size_t) n, &ref) && ref_header_ok(&ref));

		n = ref_b64_decode((const uint8_t *) d1 + 1, (size_t) (d2 - d1 - 1), buf);
		ASSERT(n >= 0 && n <= TA_JWT_MAX_JSON && ref_parse(buf, (size_t) n, &ref));
		assert_claims_equal(&claims_a, &ref);
		exercise_times(&claims_a, &ref, h);
		free(ref.buf);
		free(buf);
	}
	else
		exercise_times(&claims_a, NULL, h);	/* whatever verify left behind */
}

/* The input as a flat JSON object, against the reference parser. */
static void
fuzz_parse(const uint8_t *data, size_t size, uint64_t h, ref_obj *ref, bool *ref_valid)
{
	bool		ok = ta_json_parse_flat((const char *) data, size, &claims_a);

	*ref_valid = ref_parse(data, size, ref);
	if (ok != *ref_valid)
		FAIL("ta_json_parse_flat = %d, reference parser = %d (input %zu bytes)", ok, *ref_valid, size);
	if (!ok)
	{
		exercise_times(&claims_a, NULL, h);
		return;
	}
	assert_claims_equal(&claims_a, ref);
	exercise_times(&claims_a, ref, h);

	/* Re-serialize and re-parse: the same members come back. */
	{
		char	   *json = malloc(6 * sizeof(claims_a.storage) + 256);
		size_t		n;

		ASSERT(json != NULL);
		n = serialize_claims(&claims_a, json);
		ASSERT(ta_json_parse_flat(json, n, &claims_b));
		ASSERT(claims_b.count == claims_a.count);
		for (int i = 0; i < claims_a.count; i++)
		{
			ASSERT(strcmp(claims_a.members[i].name, claims_b.members[i].name) == 0);
			ASSERT(strcmp(claims_a.members[i].value, claims_b.members[i].value) == 0);
			ASSERT(claims_a.members[i].is_string == claims_b.members[i].is_string);
		}
		free(json);
	}
}

/* The input as base64url, into exact-size and smaller heap buffers. */
static void
fuzz_base64(const uint8_t *data, size_t size)
{
	const char *in = (const char *) data;
	long		want = ref_b64_decode(data, size, NULL);
	size_t		need = size % 4 == 1 ? 0 : size / 4 * 3 + (size % 4 ? size % 4 - 1 : 0);
	uint8_t    *ref = malloc(need ? need : 1);
	/* malloc(need) exactly: a write past it is a heap overflow for ASan. */
	uint8_t    *exact = malloc(need ? need : 1);
	long		n;

	ASSERT(exact && ref);
	n = ta_base64url_decode(in, size, exact, need);
	if (n != want)
		FAIL("ta_base64url_decode = %ld, reference = %ld (input %zu bytes)", n, want, size);
	if (n >= 0)
	{
		char	   *enc = malloc(size + 1);

		ASSERT((size_t) n == need && enc != NULL);
		ASSERT(ref_b64_decode(data, size, ref) == n);
		ASSERT(need == 0 || memcmp(exact, ref, need) == 0);
		/* Canonical: encoding the bytes again gives back the input. */
		ASSERT(ta_base64url_encode(exact, need, enc) == size);
		ASSERT(memcmp(enc, in, size) == 0 && enc[size] == '\0');
		free(enc);
	}
	free(exact);
	if (need > 0)
	{
		uint8_t    *small = malloc(need - 1 ? need - 1 : 1);

		ASSERT(small != NULL);
		ASSERT(ta_base64url_decode(in, size, small, need - 1) == -1);
		free(small);
	}
	free(ref);

	/* And any bytes round-trip through encode/decode. */
	{
		char	   *enc = malloc(b64_len(size) + 1);
		uint8_t    *dec = malloc(size + 1);

		ASSERT(enc && dec);
		ASSERT(ta_base64url_encode(data, size, enc) == b64_len(size));
		ASSERT(ta_base64url_decode(enc, b64_len(size), dec, size) == (long) size);
		ASSERT(memcmp(dec, data, size) == 0);
		free(dec);
		free(enc);
	}
}

/* sign -> verify with the input as the payload. */
static void
fuzz_roundtrip(const uint8_t *data, size_t size, const ref_obj *ref, bool ref_valid)
{
	static char tok[2 * TA_JWT_MAX_TOKEN + 256];
	size_t		expect_len = b64_len(sizeof(fixed_header) - 1) + 1 + b64_len(size) + 1 + 43;
	size_t		n;
	ta_jwt_result r;

	if (size >= TA_JWT_MAX_JSON)
		return;
	n = ta_jwt_sign((const char *) data, size, fuzz_key, FUZZ_KEYLEN, ta_test_hmac_sha256, tok, sizeof(tok));
	if (n == 0)
	{
		/* Only acceptable if the token would be longer than verify takes. */
		if (expect_len <= TA_JWT_MAX_TOKEN)
			FAIL("ta_jwt_sign refused a %zu-byte payload (token would be %zu bytes)", size, expect_len);
		return;
	}
	ASSERT(n == expect_len && strlen(tok) == n);
	{
		char		h64[64];
		size_t		hl = ta_base64url_encode((const uint8_t *) fixed_header, sizeof(fixed_header) - 1, h64);

		ASSERT(hl == 36 && memcmp(tok, h64, hl) == 0 && tok[hl] == '.');
		ASSERT(memcmp(h64, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9", 36) == 0);
	}

	r = ta_jwt_verify(tok, n, fuzz_key, FUZZ_KEYLEN, ta_test_hmac_sha256, &claims_b);
#ifdef TA_FUZZ_TOLERATE_SIGN_LIMIT
	if (r == TA_JWT_TOO_LONG && n > TA_JWT_MAX_TOKEN)
		return;
#endif
	if (r != (ref_valid ? TA_JWT_OK : TA_JWT_MALFORMED))
		FAIL("sign->verify of a %zu-byte payload (%s flat object) gave a %zu-byte token and %s",
			 size, ref_valid ? "a valid" : "not a", n, ta_jwt_result_text(r));
	if (ref_valid)
		assert_claims_equal(&claims_b, ref);

	/* The same token with a wrong key or a changed MAC character. */
	{
		uint8_t		key2[FUZZ_KEYLEN];
		char		save = tok[n - 2];

		memcpy(key2, fuzz_key, FUZZ_KEYLEN);
		key2[FUZZ_KEYLEN - 1] ^= 0x20;
		ASSERT(ta_jwt_verify(tok, n, key2, FUZZ_KEYLEN, ta_test_hmac_sha256, &claims_b) == TA_JWT_BAD_SIGNATURE);
		tok[n - 2] = save == 'A' ? 'B' : 'A';
		ASSERT(ta_jwt_verify(tok, n, fuzz_key, FUZZ_KEYLEN, ta_test_hmac_sha256, &claims_b) == TA_JWT_BAD_SIGNATURE);
		tok[n - 2] = save;
		/* Any truncation breaks it. */
		ASSERT(ta_jwt_verify(tok, n - 1, fuzz_key, FUZZ_KEYLEN, ta_test_hmac_sha256, &claims_b) != TA_JWT_OK);
	}
}

/* The input as the header JSON, correctly signed, with an empty-object payload. */
static void
fuzz_header(const uint8_t *data, size_t size, const ref_obj *ref, bool ref_valid)
{
	static char tok[2 * TA_JWT_MAX_TOKEN + 256];
	uint8_t		mac[TA_JWT_MAC_LEN];
	size_t		o;
	ta_jwt_result r;
	ta_jwt_result want;

	if (b64_len(size) > 2 * TA_JWT_MAX_TOKEN)
		return;
	o = ta_base64url_encode(data, size, tok);
	memcpy(tok + o, ".e30", 4);	/* "{}" */
	o += 4;
	ASSERT(ta_test_hmac_sha256(fuzz_key, FUZZ_KEYLEN, (const uint8_t *) tok, o, mac));
	tok[o++] = '.';
	o += ta_base64url_encode(mac, sizeof(mac), tok + o);

	r = ta_jwt_verify(tok, o, fuzz_key, FUZZ_KEYLEN, ta_test_hmac_sha256, &claims_b);
	if (o > TA_JWT_MAX_TOKEN)
		want = TA_JWT_TOO_LONG;
	else if (!ref_valid)
		want = TA_JWT_MALFORMED;	/* not a flat object: BAD_HEADER also accepted */
	else
		want = ref_header_ok(ref) ? TA_JWT_OK : TA_JWT_BAD_HEADER;
	if (r != want && !(want == TA_JWT_MALFORMED && r == TA_JWT_BAD_HEADER))
		FAIL("input as header: verify = %s, expected %s", ta_jwt_result_text(r), ta_jwt_result_text(want));
	if (r == TA_JWT_OK)
		ASSERT(claims_b.count == 0);
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t	h = fnv1a(data, size);
	ref_obj		ref;
	bool		ref_valid;

	ref.cap = size + 2 * (TA_JWT_MAX_CLAIMS + 1) + 16;
	ref.buf = malloc(ref.cap);
	if (ref.buf == NULL)
		abort();

	fuzz_verify((const char *) data, size, h);
	fuzz_parse(data, size, h, &ref, &ref_valid);
	fuzz_base64(data, size);
	fuzz_roundtrip(data, size, &ref, ref_valid);
	fuzz_header(data, size, &ref, ref_valid);

	free(ref.buf);
	return 0;
}

/* ------------------------------------------------------------------ */
#ifdef TA_FUZZ_SEED_MAIN

#include "fuzz_seed.h"

static void
seed_str(const char *s)
{
	write_seed(s, strlen(s));
}

static void
seed_token(const char *header, const char *payload)
{
	static char tok[2 * TA_JWT_MAX_TOKEN + 256];
	uint8_t		mac[TA_JWT_MAC_LEN];
	size_t		o;

	o = ta_base64url_encode((const uint8_t *) header, strlen(header), tok);
	tok[o++] = '.';
	o += ta_base64url_encode((const uint8_t *) payload, strlen(payload), tok + o);
	if (!ta_test_hmac_sha256(fuzz_key, FUZZ_KEYLEN, (const uint8_t *) tok, o, mac))
		exit(1);
	tok[o++] = '.';
	o += ta_base64url_encode(mac, sizeof(mac), tok + o);
	write_seed(tok, o);
}

/* {"s":"xxx...x"} of exactly len bytes. */
static char *
big_object(size_t len)
{
	char	   *p = malloc(len + 1);

	memset(p, 'x', len);
	memcpy(p, "{\"s\":\"", 6);
	p[len - 2] = '"';
	p[len - 1] = '}';
	p[len] = '\0';
	return p;
}

int
main(int argc, char **argv)
{
	static const char *objects[] = {
		"{}",
		"{\"sub\":\"alice\",\"exp\":2000000000}",
		"{\"sub\":\"alice\",\"role\":\"web_user\",\"exp\":1700000060,\"nbf\":1699999990,\"iat\":1699999990}",
		"{\"sub\":\"bob\",\"exp\":1700000000.5,\"iat\":-1}",
		"{\"exp\":1e9}",
		"{\"exp\":99999999999999999999}",
		"{\"exp\":9223372036854775799,\"nbf\":-9223372036854775799}",
		"{\"exp\":\"2000000000\"}",
		" {\r\n\t\"s\" : \"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\" , \"n\":-12.5e+3 }",
		"{\"u\":\"\\u00e9\\u20AC\\ud83d\\ude00\",\"t\":true,\"f\":false,\"z\":null}",
		"{\"a\":{\"b\":1}}",
		"{\"a\":[1]}",
		"{\"a\":1,\"a\":2}",
		"{\"s\":\"\\ud800\"}",
		"{\"s\":\"\\u0000\"}",
		"{\"alg\":\"HS256\"}",
		"{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
		"{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}",
		"{\"alg\":\"none\"}",
		"{\"alg\":\"HS256\",\"kid\":\"1\"}",
	};
	char		buf[2048];
	size_t		o;

	if (argc != 2)
	{
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	seed_dir = argv[1];

	for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++)
	{
		seed_str(objects[i]);
		seed_token(fixed_header, objects[i]);
	}
	seed_token("{\"alg\":\"HS256\"}", objects[1]);
	seed_token("{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}", objects[2]);
	seed_token("{\"alg\":\"none\"}", objects[1]);
	seed_token("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", objects[1]);
	seed_token("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", objects[1]);
	/* RFC 7515 A.1 (signed with another key here). */
	seed_str("eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
			 "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
			 "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
	/* base64url strings. */
	seed_str("Zm9vYmFy");
	seed_str("Zm9vYmE");
	seed_str("-_8");
	seed_str("Zg==");
	/* 32 claims. */
	o = 0;
	buf[o++] = '{';
	for (int i = 0; i < 32; i++)
		o += (size_t) snprintf(buf + o, sizeof(buf) - o, "%s\"c%d\":%d", i ? "," : "", i, i);
	buf[o++] = '}';
	write_seed(buf, o);
	/* Near the size limits: the largest payload whose token fits, one more, the JSON limit. */
	{
		static const size_t sizes[] = {6083, 6084, TA_JWT_MAX_JSON - 1};

		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		{
			char	   *p = big_object(sizes[i]);

			seed_str(p);
			if (sizes[i] == 6083)
				seed_token(fixed_header, p);
			free(p);
		}
	}
	printf("seeds: %d files in %s\n", seed_no, seed_dir);
	return 0;
}

#endif							/* TA_FUZZ_SEED_MAIN */
