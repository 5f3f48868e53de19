/*
 * jwt_codec.c
 *		HS256 JSON Web Tokens: a pure-C codec with no backend dependency.
 *
 * Deliberately strict: exactly three base64url parts without padding, a
 * header that says HS256 and nothing else that matters ("alg": "none",
 * RS256, "crit", "kid" and friends are refused), a payload that is a flat
 * JSON object, and a MAC compared in constant time.  Every input byte is
 * bounds-checked; nothing is allocated.
 */
#include "jwt_codec.h"

#include <string.h>

/* The flat JSON object reader. */

typedef struct json_reader
{
	const char *p;
	const char *end;
	char	   *store;			/* where unescaped strings go */
	char	   *store_end;
} json_reader;

static void
skip_ws(json_reader *r)
{
	while (r->p < r->end &&
		   (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static int
hex4(const char *p)
{
	int			v = 0;

	for (int i = 0; i < 4; i++)
	{
		char		c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* Append one byte to the string store. */
static bool
store_byte(json_reader *r, char c)
{
	if (r->store >= r->store_end)
		return false;
	*r->store++ = c;
	return true;
}

/* Append a code point as UTF-8. */
static bool
store_utf8(json_reader *r, uint32_t cp)
{
	if (cp < 0x80)
		return store_byte(r, (char) cp);
	if (cp < 0x800)
		return store_byte(r, (char) (0xC0 | (cp >> 6))) &&
			store_byte(r, (char) (0x80 | (cp & 0x3F)));
	if (cp < 0x10000)
		return store_byte(r, (char) (0xE0 | (cp >> 12))) &&
			store_byte(r, (char) (0x80 | ((cp >> 6) & 0x3F))) &&
			store_byte(r, (char) (0x80 | (cp & 0x3F)));
	return store_byte(r, (char) (0xF0 | (cp >> 18))) &&
		store_byte(r, (char) (0x80 | ((cp >> 12) & 0x3F))) &&
		store_byte(r, (char) (0x80 | ((cp >> 6) & 0x3F))) &&
		store_byte(r, (char) (0x80 | (cp & 0x3F)));
}

/*
 * Length of the well-formed UTF-8 sequence at p (a lead byte >= 0x80), or 0:
 * no overlong forms, no surrogates, nothing above U+10FFFF.
 */
static int
utf8_sequence_length(const char *p, const char *end)
{
	const unsigned char *s = (const unsigned char *) p;
	long		avail = end - p;
	int			n;
	uint32_t	cp;

	if (s[0] >= 0xC2 && s[0] <= 0xDF)
	{
		n = 2;
		cp = s[0] & 0x1F;
	}
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
	{
		n = 3;
		cp = s[0] & 0x0F;
	}
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
	{
		n = 4;
		cp = s[0] & 0x07;
	}
	else
		return 0;
	if (avail < n)
		return 0;
	for (int i = 1; i < n; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		(cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		return 0;
	return n;
}

/* 1 for the bytes a JSON string may hold as they are: printable ASCII but '"' and '\\'. */
static const uint8_t plain_byte[256] = {
	/* 0x00-0x7f; 0x80-0xff: 0 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/*
 * Read a JSON string at r->p (which is at the opening quote) into the store,
 * NUL-terminated; *out points at it and *len is its length.  *plain is
 * cleared when the string had an escape (so its JSON text is not simply the
 * value in quotes).  Refuses control characters and \u0000 (which would
 * truncate the C string), and unpaired surrogates.
 */
static bool
read_string(json_reader *r, char **out, uint32_t *len, bool *plain)
{
	*out = r->store;
	r->p++;						/* opening quote */
	while (r->p < r->end)
	{
		unsigned char c = (unsigned char) *r->p;
		const char *q = r->p;

		/* A run of printable ASCII other than '"' and '\\', copied at once. */
		while (q < r->end && plain_byte[(unsigned char) *q])
			q++;
		if (q > r->p)
		{
			if ((size_t) (q - r->p) > (size_t) (r->store_end - r->store))
				return false;
			memcpy(r->store, r->p, (size_t) (q - r->p));
			r->store += q - r->p;
			r->p = q;
			continue;
		}
		if (c == '"')
		{
			r->p++;
			*len = (uint32_t) (r->store - *out);
			return store_byte(r, '\0');
		}
		if (c < 0x20)
			return false;
		if (c >= 0x80)
		{
			int			n = utf8_sequence_length(r->p, r->end);

			if (n <= 0)
				return false;
			for (int i = 0; i < n; i++)
				if (!store_byte(r, r->p[i]))
					return false;
			r->p += n;
			continue;
		}
		if (c != '\\')
		{
			if (!store_byte(r, (char) c))
				return false;
			r->p++;
			continue;
		}
		if (r->end - r->p < 2)
			return false;
		r->p++;
		*plain = false;
		switch (*r->p)
		{
			case '"':
			case '\\':
			case '/':
				if (!store_byte(r, *r->p))
					return false;
				r->p++;
				break;
			case 'b':
				if (!store_byte(r, '\b'))
					return false;
				r->p++;
				break;
			case 'f':
				if (!store_byte(r, '\f'))
					return false;
				r->p++;
				break;
			case 'n':
				if (!store_byte(r, '\n'))
					return false;
				r->p++;
				break;
			case 'r':
				if (!store_byte(r, '\r'))
					return false;
				r->p++;
				break;
			case 't':
				if (!store_byte(r, '\t'))
					return false;
				r->p++;
				break;
			case 'u':
				{
					int			cp;

					if (r->end - r->p < 5 || (cp = hex4(r->p + 1)) < 0)
						return false;
					r->p += 5;
					if (cp == 0)
						return false;
					if (cp >= 0xDC00 && cp <= 0xDFFF)
						return false;
					if (cp >= 0xD800 && cp <= 0xDBFF)
					{
						int			lo;

						if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u' ||
							(lo = hex4(r->p + 2)) < 0 || lo < 0xDC00 || lo > 0xDFFF)
							return false;
						r->p += 6;
						cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
					}
					if (!store_utf8(r, (uint32_t) cp))
						return false;
					break;
				}
			default:
				return false;
		}
	}
	return false;
}

/* Read a number, true, false or null as its text, of length *len. */
static bool
read_bare(json_reader *r, char **out, uint32_t *len)
{
	const char *start = r->p;

	if (r->end - r->p >= 4 && memcmp(r->p, "true", 4) == 0)
		r->p += 4;
	else if (r->end - r->p >= 5 && memcmp(r->p, "false", 5) == 0)
		r->p += 5;
	else if (r->end - r->p >= 4 && memcmp(r->p, "null", 4) == 0)
		r->p += 4;
	else
	{
		/* RFC 8259 number grammar. */
		if (r->p < r->end && *r->p == '-')
			r->p++;
		if (r->p >= r->end)
			return false;
		if (*r->p == '0')
			r->p++;
		else if (*r->p >= '1' && *r->p <= '9')
			while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
				r->p++;
		else
			return false;
		if (r->p < r->end && *r->p == '.')
		{
			r->p++;
			if (r->p >= r->end || *r->p < '0' || *r->p > '9')
				return false;
			while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
				r->p++;
		}
		if (r->p < r->end && (*r->p == 'e' || *r->p == 'E'))
		{
			r->p++;
			if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
				r->p++;
			if (r->p >= r->end || *r->p < '0' || *r->p > '9')
				return false;
			while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
				r->p++;
		}
	}
	*out = r->store;
	*len = (uint32_t) (r->p - start);
	if ((size_t) (r->p - start) >= (size_t) (r->store_end - r->store))
		return false;
	memcpy(r->store, start, (size_t) (r->p - start));
	r->store += r->p - start;
	return store_byte(r, '\0');
}

bool
ta_json_parse_flat(const char *json, size_t len, ta_jwt_claims *out)
{
	json_reader r;
	uint64_t	names_seen = 0;
	uint64_t	name_bit;

	out->count = 0;
	r.p = json;
	r.end = json + len;
	r.store = out->storage;
	r.store_end = out->storage + sizeof(out->storage);

	skip_ws(&r);
	if (r.p >= r.end || *r.p != '{')
		return false;
	r.p++;
	skip_ws(&r);
	if (r.p < r.end && *r.p == '}')
	{
		r.p++;
		skip_ws(&r);
		return r.p == r.end;
	}
	for (;;)
	{
		ta_json_member *m;

		if (out->count >= TA_JWT_MAX_CLAIMS)
			return false;
		m = &out->members[out->count];
		m->plain = true;
		skip_ws(&r);
		if (r.p >= r.end || *r.p != '"' || !read_string(&r, &m->name, &m->name_len, &m->plain))
			return false;
		/*
		 * Duplicate names are ambiguous: refuse them.  A name whose length
		 * and first byte no earlier name had cannot be one (names_seen holds
		 * a bit per such pair, hashed).
		 */
		name_bit = UINT64_C(1) << ((m->name_len * 31 + (unsigned char) m->name[0]) & 63);
		if (names_seen & name_bit)
			for (int i = 0; i < out->count; i++)
				if (out->members[i].name_len == m->name_len &&
					memcmp(out->members[i].name, m->name, m->name_len) == 0)
					return false;
		names_seen |= name_bit;
		skip_ws(&r);
		if (r.p >= r.end || *r.p != ':')
			return false;
		r.p++;
		skip_ws(&r);
		if (r.p >= r.end)
			return false;
		if (*r.p == '"')
		{
			if (!read_string(&r, &m->value, &m->value_len, &m->plain))
				return false;
			m->is_string = true;
		}
		else
		{
			if (!read_bare(&r, &m->value, &m->value_len))
				return false;
			m->is_string = false;
		}
		out->count++;
		skip_ws(&r);
		if (r.p >= r.end)
			return false;
		if (*r.p == ',')
		{
			r.p++;
			continue;
		}
		if (*r.p != '}')
			return false;
		r.p++;
		skip_ws(&r);
		return r.p == r.end;
	}
}

const ta_json_member *
ta_jwt_claim(const ta_jwt_claims *claims, const char *name)
{
	size_t		len = strlen(name);

	for (int i = 0; i < claims->count; i++)
		if (claims->members[i].name_len == len &&
			memcmp(claims->members[i].name, name, len) == 0)
			return &claims->members[i];
	return NULL;
}

/*
 * The header must be a JSON object {"alg": "HS256"} with at most
 * "typ": "JWT" besides: malformed if it is not a flat object at all.
 */
static ta_jwt_result
check_header(const uint8_t *json, size_t len)
{
	ta_jwt_claims h;
	const ta_json_member *alg;
	const ta_json_member *typ;

	if (!ta_json_parse_flat((const char *) json, len, &h))
		return TA_JWT_MALFORMED;
	alg = ta_jwt_claim(&h, "alg");
	typ = ta_jwt_claim(&h, "typ");
	if (alg == NULL || !alg->is_string || strcmp(alg->value, "HS256") != 0)
		return TA_JWT_BAD_HEADER;
	if (typ != NULL && (!typ->is_string || strcmp(typ->value, "JWT") != 0))
		return TA_JWT_BAD_HEADER;
	return h.count == (typ != NULL ? 2 : 1) ? TA_JWT_OK : TA_JWT_BAD_HEADER;
}

/* base64url of {"alg":"HS256","typ":"JWT"}, the header ta_jwt_sign() writes. */
static const char signed_header_b64[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

ta_jwt_result
ta_jwt_verify(const char *token, size_t len, const uint8_t *key, size_t keylen,
			  ta_hmac_sha256_fn hmac, ta_jwt_claims *claims)
{
	const char *dot1;
	const char *dot2;
	uint8_t		json[TA_JWT_MAX_JSON];
	uint8_t		sig[TA_JWT_MAC_LEN + 3];
	uint8_t		mac[TA_JWT_MAC_LEN];
	long		n;
	bool		known_header;

	claims->count = 0;
	if (len > TA_JWT_MAX_TOKEN)
		return TA_JWT_TOO_LONG;

	/* The header this codec signs, then its dot, is the usual start. */
	known_header = len > sizeof(signed_header_b64) - 1 &&
		token[sizeof(signed_header_b64) - 1] == '.' &&
		memcmp(token, signed_header_b64, sizeof(signed_header_b64) - 1) == 0;
	dot1 = known_header ? token + sizeof(signed_header_b64) - 1 : memchr(token, '.', len);
	if (dot1 == NULL)
		return TA_JWT_MALFORMED;
	dot2 = memchr(dot1 + 1, '.', len - (size_t) (dot1 + 1 - token));
	if (dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t) (dot2 + 1 - token)) != NULL)
		return TA_JWT_MALFORMED;

	/* Header: the one this codec signs is known good; any other is read. */
	if (!known_header)
	{
		ta_jwt_result hr;

		n = ta_base64url_decode(token, (size_t) (dot1 - token), json, sizeof(json));
		if (n < 0)
			return TA_JWT_MALFORMED;
		if ((hr = check_header(json, (size_t) n)) != TA_JWT_OK)
			return hr;
	}

	/* Signature, before anything of the payload is trusted. */
	n = ta_base64url_decode(dot2 + 1, len - (size_t) (dot2 + 1 - token), sig, sizeof(sig));
	if (n != TA_JWT_MAC_LEN)
		return TA_JWT_BAD_SIGNATURE;
	if (!hmac(key, keylen, (const uint8_t *) token, (size_t) (dot2 - token), mac))
		return TA_JWT_HMAC_FAILED;
	if (!ta_timing_safe_equal(mac, sig, TA_JWT_MAC_LEN))
		return TA_JWT_BAD_SIGNATURE;

	/* Payload. */
	n = ta_base64url_decode(dot1 + 1, (size_t) (dot2 - dot1 - 1), json, sizeof(json));
	if (n < 0)
		return TA_JWT_MALFORMED;
	if (!ta_json_parse_flat((const char *) json, (size_t) n, claims))
		return TA_JWT_MALFORMED;
	return TA_JWT_OK;
}

/* Parse an integer NumericDate (seconds); fractions are truncated. */
static bool
numeric_date(const ta_json_member *m, int64_t *out)
{
	const char *p;
	int64_t		v = 0;
	bool		neg = false;

	if (m == NULL || m->is_string)
		return false;
	p = m->value;
	if (*p == '-')
	{
		neg = true;
		p++;
	}
	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++)
	{
		if (v > (INT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (*p - '0');
	}
	if (*p == '.')
	{
		p++;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p != '\0')
		return false;			/* exponents and the like */
	*out = neg ? -v : v;
	return true;
}

/* Is the member named by the three characters n? */
static inline bool
named3(const ta_json_member *m, const char *n)
{
	return m->name_len == 3 && m->name[0] == n[0] && m->name[1] == n[1] && m->name[2] == n[2];
}

ta_jwt_result
ta_jwt_check_times(const ta_jwt_claims *claims, int64_t now, int64_t skew)
{
	int64_t		exp,
				t;
	const ta_json_member *times[3] = {NULL, NULL, NULL};	/* exp, nbf, iat */

	/* One pass for the three (names are unique: the reader refuses twins). */
	for (int i = 0; i < claims->count; i++)
	{
		const ta_json_member *m = &claims->members[i];

		if (named3(m, "exp"))
			times[0] = m;
		else if (named3(m, "nbf"))
			times[1] = m;
		else if (named3(m, "iat"))
			times[2] = m;
	}
	if (!numeric_date(times[0], &exp))
		return TA_JWT_MISSING_CLAIM;
	if (now - skew >= exp)
		return TA_JWT_EXPIRED;
	for (int k = 1; k < 3; k++)
	{
		if (times[k] == NULL)
			continue;
		if (!numeric_date(times[k], &t))
			return TA_JWT_MALFORMED;
		if (t > now + skew)
			return TA_JWT_NOT_YET_VALID;
	}
	return TA_JWT_OK;
}

/* Length of the unpadded base64url encoding of n bytes. */
static size_t
b64url_length(size_t n)
{
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

size_t
ta_jwt_sign(const char *payload_json, size_t len, const uint8_t *key, size_t keylen,
			ta_hmac_sha256_fn hmac, char *out, size_t outcap)
{
	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	uint8_t		mac[TA_JWT_MAC_LEN];
	size_t		o;
	size_t		need;

	if (len > TA_JWT_MAX_JSON)
		return 0;
	/* Never issue a token that ta_jwt_verify would refuse as too long. */
	if (b64url_length(sizeof(header) - 1) + 1 + b64url_length(len) + 1 +
		b64url_length(TA_JWT_MAC_LEN) > TA_JWT_MAX_TOKEN)
		return 0;
	/* header.payload.signature, each base64url, plus the NUL. */
	need = (sizeof(header) - 1 + 2) / 3 * 4 + 1 + (len + 2) / 3 * 4 + 1 + 44 + 1;
	if (need > outcap)
		return 0;

	o = ta_base64url_encode((const uint8_t *) header, sizeof(header) - 1, out);
	out[o++] = '.';
	o += ta_base64url_encode((const uint8_t *) payload_json, len, out + o);
	if (!hmac(key, keylen, (const uint8_t *) out, o, mac))
		return 0;
	out[o++] = '.';
	o += ta_base64url_encode(mac, sizeof(mac), out + o);
	return o;
}

const char *
ta_jwt_result_text(ta_jwt_result r)
{
	switch (r)
	{
		case TA_JWT_OK:
			return "valid";
		case TA_JWT_TOO_LONG:
			return "the token is too long";
		case TA_JWT_MALFORMED:
			return "the token is malformed";
		case TA_JWT_BAD_HEADER:
			return "the token's algorithm is not HS256";
		case TA_JWT_BAD_SIGNATURE:
			return "the token's signature does not match";
		case TA_JWT_HMAC_FAILED:
			return "the token could not be verified";
		case TA_JWT_EXPIRED:
			return "the token has expired";
		case TA_JWT_NOT_YET_VALID:
			return "the token is not valid yet";
		case TA_JWT_MISSING_CLAIM:
			return "the token lacks a required claim";
	}
	return "the token is invalid";
}
