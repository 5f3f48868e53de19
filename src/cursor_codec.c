/*
 * cursor_codec.c
 *		Pagination cursors: a pure-C codec with no backend dependency.
 *
 * See cursor_codec.h for the record layout.  Integers are written
 * big-endian through unsigned arithmetic, so no input can trigger a signed
 * overflow or an unaligned access; every read is bounds-checked first.
 */
#include "cursor_codec.h"

#include <string.h>

#define MIN_RECORD	(3 + TA_CURSOR_ID_LEN + TA_CURSOR_FP_LEN)

bool
ta_cursor_type_valid(int type)
{
	return type >= TA_CURSOR_INT2 && type <= TA_CURSOR_UUID;
}

/* Bytes a key of this type takes after the tag (text: its length prefix only). */
static size_t
fixed_width(ta_cursor_type type)
{
	switch (type)
	{
		case TA_CURSOR_INT2:
			return 2;
		case TA_CURSOR_INT4:
		case TA_CURSOR_DATE:
			return 4;
		case TA_CURSOR_INT8:
		case TA_CURSOR_TIMESTAMPTZ:
		case TA_CURSOR_TIMESTAMP:
			return 8;
		case TA_CURSOR_UUID:
			return 16;
		case TA_CURSOR_TEXT:
			return 2;
	}
	return 0;
}

/* Write the low `width` bytes of v big-endian. */
static void
put_be(uint8_t *p, uint64_t v, size_t width)
{
	for (size_t i = 0; i < width; i++)
		p[i] = (uint8_t) (v >> (8 * (width - 1 - i)));
}

/* Read `width` bytes big-endian as a sign-extended two's complement integer. */
static int64_t
get_be_signed(const uint8_t *p, size_t width)
{
	uint64_t	v = 0;
	uint64_t	sign = (uint64_t) 1 << (8 * width - 1);

	for (size_t i = 0; i < width; i++)
		v = (v << 8) | p[i];
	if (width < 8 && (v & sign))
		v |= ~(((uint64_t) 1 << (8 * width)) - 1);
	/* Two's complement reinterpretation without implementation-defined casts. */
	if (v <= (uint64_t) INT64_MAX)
		return (int64_t) v;
	return -(int64_t) (~v) - 1;
}

/* Whether v fits the integer width of the type. */
static bool
int_fits(ta_cursor_type type, int64_t v)
{
	switch (type)
	{
		case TA_CURSOR_INT2:
			return v >= INT16_MIN && v <= INT16_MAX;
		case TA_CURSOR_INT4:
		case TA_CURSOR_DATE:
			return v >= INT32_MIN && v <= INT32_MAX;
		default:
			return true;
	}
}

size_t
ta_cursor_serialize(const ta_cursor *c, uint8_t *buf, size_t cap)
{
	size_t		o = 0;
	size_t		need;
	size_t		w;

	if (!ta_cursor_type_valid((int) c->type) ||
		(c->direction != TA_CURSOR_ASC && c->direction != TA_CURSOR_DESC))
		return 0;
	w = fixed_width(c->type);
	need = 3 + TA_CURSOR_ID_LEN + TA_CURSOR_FP_LEN;
	if (!c->key_is_null)
	{
		if (c->type == TA_CURSOR_TEXT && c->key_text_len > TA_CURSOR_MAX_TEXT)
			return 0;
		if (c->type != TA_CURSOR_TEXT && c->type != TA_CURSOR_UUID &&
			!int_fits(c->type, c->key_int))
			return 0;
		need += w + (c->type == TA_CURSOR_TEXT ? c->key_text_len : 0);
	}
	if (need > cap)
		return 0;

	buf[o++] = TA_CURSOR_VERSION;
	buf[o++] = (uint8_t) c->direction;
	buf[o++] = (uint8_t) (c->type | (c->key_is_null ? TA_CURSOR_NULL_FLAG : 0));
	if (!c->key_is_null)
	{
		switch (c->type)
		{
			case TA_CURSOR_UUID:
				memcpy(buf + o, c->key_uuid, 16);
				o += 16;
				break;
			case TA_CURSOR_TEXT:
				put_be(buf + o, c->key_text_len, 2);
				o += 2;
				if (c->key_text_len > 0)
					memcpy(buf + o, c->key_text, c->key_text_len);
				o += c->key_text_len;
				break;
			default:
				put_be(buf + o, (uint64_t) c->key_int, w);
				o += w;
				break;
		}
	}
	memcpy(buf + o, c->last_id, TA_CURSOR_ID_LEN);
	o += TA_CURSOR_ID_LEN;
	memcpy(buf + o, c->fingerprint, TA_CURSOR_FP_LEN);
	o += TA_CURSOR_FP_LEN;
	return o;
}

ta_cursor_result
ta_cursor_parse(const uint8_t *buf, size_t len, ta_cursor *out)
{
	size_t		o = 3;
	int			type;

	memset(out, 0, sizeof(*out));
	if (len < 1)
		return TA_CURSOR_MALFORMED;
	if (buf[0] != TA_CURSOR_VERSION)
		return TA_CURSOR_BAD_VERSION;
	if (len < MIN_RECORD)
		return TA_CURSOR_MALFORMED;
	if (buf[1] != TA_CURSOR_ASC && buf[1] != TA_CURSOR_DESC)
		return TA_CURSOR_MALFORMED;
	out->direction = (ta_cursor_direction) buf[1];
	type = buf[2] & ~TA_CURSOR_NULL_FLAG;
	if (!ta_cursor_type_valid(type))
		return TA_CURSOR_MALFORMED;
	out->type = (ta_cursor_type) type;
	out->key_is_null = (buf[2] & TA_CURSOR_NULL_FLAG) != 0;

	if (!out->key_is_null)
	{
		size_t		w = fixed_width(out->type);

		/* The rest must hold the value, the id and the fingerprint. */
		if (len - o < w + TA_CURSOR_ID_LEN + TA_CURSOR_FP_LEN)
			return TA_CURSOR_MALFORMED;
		switch (out->type)
		{
			case TA_CURSOR_UUID:
				memcpy(out->key_uuid, buf + o, 16);
				o += 16;
				break;
			case TA_CURSOR_TEXT:
				{
					size_t		tl = ((size_t) buf[o] << 8) | buf[o + 1];

					o += 2;
					if (tl > TA_CURSOR_MAX_TEXT ||
						len - o < tl + TA_CURSOR_ID_LEN + TA_CURSOR_FP_LEN)
						return TA_CURSOR_MALFORMED;
					out->key_text_len = (uint16_t) tl;
					if (tl > 0)
						memcpy(out->key_text, buf + o, tl);
					o += tl;
				}
				break;
			default:
				out->key_int = get_be_signed(buf + o, w);
				o += w;
				break;
		}
	}
	/* Exactly the id and the fingerprint are left: no extra bytes. */
	if (len - o != TA_CURSOR_ID_LEN + TA_CURSOR_FP_LEN)
		return TA_CURSOR_MALFORMED;
	memcpy(out->last_id, buf + o, TA_CURSOR_ID_LEN);
	o += TA_CURSOR_ID_LEN;
	memcpy(out->fingerprint, buf + o, TA_CURSOR_FP_LEN);
	return TA_CURSOR_OK;
}

ta_cursor_result
ta_cursor_encode(const ta_cursor *c, const uint8_t *key, size_t keylen,
				 ta_hmac_sha256_fn hmac, char *out, size_t cap, size_t *outlen)
{
	uint8_t		rec[TA_CURSOR_MAX_RECORD];
	size_t		n;

	if (!c->key_is_null && c->type == TA_CURSOR_TEXT && c->key_text_len > TA_CURSOR_MAX_TEXT)
		return TA_CURSOR_TOO_LONG;
	n = ta_cursor_serialize(c, rec, sizeof(rec) - TA_CURSOR_MAC_LEN);
	if (n == 0)
		return TA_CURSOR_BAD_ARGUMENT;
	if (cap < ((n + TA_CURSOR_MAC_LEN) * 4 + 2) / 3 + 1)
		return TA_CURSOR_BAD_ARGUMENT;
	if (!hmac(key, keylen, rec, n, rec + n))
		return TA_CURSOR_HMAC_FAILED;
	*outlen = ta_base64url_encode(rec, n + TA_CURSOR_MAC_LEN, out);
	return TA_CURSOR_OK;
}

ta_cursor_result
ta_cursor_decode(const char *text, size_t len, const uint8_t *key, size_t keylen,
				 ta_hmac_sha256_fn hmac, ta_cursor *out)
{
	uint8_t		rec[TA_CURSOR_MAX_RECORD];
	uint8_t		mac[TA_CURSOR_MAC_LEN];
	long		n;

	memset(out, 0, sizeof(*out));
	if (len > TA_CURSOR_MAX_ENCODED - 1)
		return TA_CURSOR_MALFORMED;
	n = ta_base64url_decode(text, len, rec, sizeof(rec));
	if (n < (long) (MIN_RECORD + TA_CURSOR_MAC_LEN))
		return TA_CURSOR_MALFORMED;

	/* Authenticate before anything of the record is trusted. */
	if (!hmac(key, keylen, rec, (size_t) n - TA_CURSOR_MAC_LEN, mac))
		return TA_CURSOR_HMAC_FAILED;
	if (!ta_timing_safe_equal(mac, rec + n - TA_CURSOR_MAC_LEN, TA_CURSOR_MAC_LEN))
		return TA_CURSOR_BAD_MAC;
	return ta_cursor_parse(rec, (size_t) n - TA_CURSOR_MAC_LEN, out);
}

const char *
ta_cursor_result_text(ta_cursor_result r)
{
	switch (r)
	{
		case TA_CURSOR_OK:
			return "ok";
		case TA_CURSOR_MALFORMED:
			return "the cursor is malformed";
		case TA_CURSOR_BAD_VERSION:
			return "the cursor has an unknown version";
		case TA_CURSOR_BAD_MAC:
			return "the cursor's signature does not match";
		case TA_CURSOR_HMAC_FAILED:
			return "HMAC computation failed";
		case TA_CURSOR_TOO_LONG:
			return "the sort key is too long for a cursor";
		case TA_CURSOR_BAD_ARGUMENT:
			return "the cursor cannot be encoded";
	}
	return "unknown";
}
