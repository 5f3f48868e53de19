/*
 * error_fields.c
 *		Which fields of a request body PostgreSQL would refuse to convert.
 *
 * PostgREST 12 sends a request body (and the arguments of an /rpc/ call,
 * GET included) as the statement's parameter $1 and converts it with
 * json_to_recordset($1) AS _("field" type, ...).  A value of the wrong type
 * fails there, before any trigger, with one error naming a type but no
 * field.  src/error_map.c reads $1 and the column definition list back
 * from the failed portal and uses these functions to name every field that
 * cannot be converted.  They run inside an emit_log_hook, so nothing here
 * may throw: plain C on bounded buffers, no allocation.  The uuid and
 * integer checks accept exactly what uuid_in and int2in/int4in/int8in of
 * PostgreSQL 15 accept.
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include "codec_util.h"
#include "error_fields.h"

static const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* p at an opening quote: the position after the closing one, or NULL. */
static const char *
skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++)
	{
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/* p at a value: the position after it, or NULL.  Nesting is counted, not recursed. */
static const char *
skip_value(const char *p, const char *end)
{
	long		depth = 0;

	if (p < end && *p == '"')
		return skip_string(p, end);
	if (p < end && *p != '{' && *p != '[')
	{
		const char *start = p;

		while (p < end && strchr(",}] \t\r\n", *p) == NULL)
			p++;
		return p > start ? p : NULL;
	}
	while (p < end)
	{
		if (*p == '"')
		{
			p = skip_string(p, end);
			if (p == NULL)
				return NULL;
			continue;
		}
		if (*p == '{' || *p == '[')
			depth++;
		else if (*p == '}' || *p == ']')
		{
			if (--depth == 0)
				return p + 1;
		}
		p++;
	}
	return NULL;
}

static TaJsonKind
value_kind(const char *p)
{
	if (*p == '"')
		return TA_JSON_STRING;
	if (*p == '-' || isdigit((unsigned char) *p))
		return TA_JSON_NUMBER;
	if (*p == 'n')
		return TA_JSON_NULL;
	return TA_JSON_OTHER;
}

/* p at '{': visit its members; the position after '}', or NULL. */
static const char *
scan_object(const char *p, const char *end, TaFieldCallback cb, void *arg)
{
	p = skip_ws(p + 1, end);
	if (p < end && *p == '}')
		return p + 1;
	while (p < end && *p == '"')
	{
		const char *key = p + 1;
		const char *after_key = skip_string(p, end);
		const char *value;
		const char *after;
		bool		str;

		if (after_key == NULL)
			return NULL;
		p = skip_ws(after_key, end);
		if (p >= end || *p != ':')
			return NULL;
		value = skip_ws(p + 1, end);
		after = skip_value(value, end);
		if (after == NULL)
			return NULL;
		str = *value == '"';
		cb(arg, key, (size_t) (after_key - 1 - key), value_kind(value),
		   value + (str ? 1 : 0), (size_t) (after - value) - (str ? 2 : 0));
		p = skip_ws(after, end);
		if (p < end && *p == '}')
			return p + 1;
		if (p >= end || *p != ',')
			return NULL;
		p = skip_ws(p + 1, end);
	}
	return NULL;
}

/* p at '[': visit the members of each object in it. */
static bool
scan_array(const char *p, const char *end, TaFieldCallback cb, void *arg)
{
	p = skip_ws(p + 1, end);
	if (p < end && *p == ']')
		return true;
	while (p < end)
	{
		p = *p == '{' ? scan_object(p, end, cb, arg) : skip_value(p, end);
		if (p == NULL)
			return false;
		p = skip_ws(p, end);
		if (p < end && *p == ']')
			return true;
		if (p >= end || *p != ',')
			return false;
		p = skip_ws(p + 1, end);
	}
	return false;
}

bool
ta_body_fields(const char *json, size_t len, TaFieldCallback cb, void *arg)
{
	const char *end = json + len;
	const char *p = skip_ws(json, end);

	if (p < end && *p == '{')
		return scan_object(p, end, cb, arg) != NULL;
	if (p < end && *p == '[')
		return scan_array(p, end, cb, arg);
	return false;
}

/* Four hex digits at p (p + 4 <= end), or -1. */
static long
hex4(const char *p, const char *end)
{
	long		v = 0;

	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++)
	{
		int			h = ta_hex_digit((unsigned char) p[i]);

		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/* Append code point cp as UTF-8; false if it does not fit. */
static bool
put_utf8(char *out, size_t cap, size_t *n, long cp)
{
	unsigned char buf[4];
	size_t		k;

	if (cp < 0x80)
		buf[0] = (unsigned char) cp, k = 1;
	else if (cp < 0x800)
		buf[0] = 0xC0 | (cp >> 6), buf[1] = 0x80 | (cp & 0x3F), k = 2;
	else if (cp < 0x10000)
		buf[0] = 0xE0 | (cp >> 12), buf[1] = 0x80 | ((cp >> 6) & 0x3F),
			buf[2] = 0x80 | (cp & 0x3F), k = 3;
	else
		buf[0] = 0xF0 | (cp >> 18), buf[1] = 0x80 | ((cp >> 12) & 0x3F),
			buf[2] = 0x80 | ((cp >> 6) & 0x3F), buf[3] = 0x80 | (cp & 0x3F), k = 4;
	if (*n + k >= cap)
		return false;
	memcpy(out + *n, buf, k);
	*n += k;
	return true;
}

/* One \u escape (and its low surrogate) at p, after the backslash; the position after it. */
static const char *
unescape_u(const char *p, const char *end, long *cp)
{
	long		hi = hex4(p + 1, end);

	if (hi < 0)
		return NULL;
	p += 5;
	if (hi >= 0xD800 && hi <= 0xDBFF && end - p >= 6 && p[0] == '\\' && p[1] == 'u')
	{
		long		lo = hex4(p + 2, end);

		if (lo >= 0xDC00 && lo <= 0xDFFF)
		{
			*cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
			return p + 6;
		}
	}
	*cp = (hi >= 0xD800 && hi <= 0xDFFF) ? 0xFFFD : hi;
	return p;
}

/* The character a one-letter escape (\n, \", ...) stands for, or -1. */
static int
simple_escape(char c)
{
	switch (c)
	{
		case '"':
		case '\\':
		case '/':
			return c;
		case 'b':
			return '\b';
		case 'f':
			return '\f';
		case 'n':
			return '\n';
		case 'r':
			return '\r';
		case 't':
			return '\t';
		default:
			return -1;
	}
}

bool
ta_json_unescape(const char *raw, size_t rawlen, char *out, size_t cap, bool *has_nul)
{
	const char *p = raw;
	const char *end = raw + rawlen;
	size_t		n = 0;

	*has_nul = false;
	if (cap == 0)
		return false;
	out[0] = '\0';
	while (p < end)
	{
		long		cp;

		if (*p != '\\' || p + 1 >= end)
		{
			/* raw bytes are copied as they are (UTF-8 already) */
			if (*p == '\\' || n + 1 >= cap)
				return false;
			out[n++] = *p++;
		}
		else if (p[1] == 'u')
		{
			p = unescape_u(p + 1, end, &cp);
			if (p == NULL)
				return false;
			if (cp == 0)
				*has_nul = true;
			else if (!put_utf8(out, cap, &n, cp))
				return false;
		}
		else
		{
			int			c = simple_escape(p[1]);

			if (c < 0 || n + 1 >= cap)
				return false;
			out[n++] = (char) c;
			p += 2;
		}
		out[n] = '\0';
	}
	return true;
}

bool
ta_text_is_uuid(const char *s)
{
	bool		braces = false;

	if (*s == '{')
		s++, braces = true;
	for (int i = 0; i < 16; i++)
	{
		if (s[0] == '\0' || s[1] == '\0' ||
			ta_hex_digit((unsigned char) s[0]) < 0 || ta_hex_digit((unsigned char) s[1]) < 0)
			return false;
		s += 2;
		if (s[0] == '-' && (i % 2) == 1 && i < 15)
			s++;
	}
	if (braces)
	{
		if (*s != '}')
			return false;
		s++;
	}
	return *s == '\0';
}

int
ta_text_int_check(const char *s, int bits)
{
	uint64_t	limit = (bits == 16) ? 32768 : (bits == 32) ? 2147483648ULL : 9223372036854775808ULL;
	uint64_t	v = 0;
	bool		neg = false;
	bool		digits = false;
	bool		overflow = false;

	while (isspace((unsigned char) *s))
		s++;
	if (*s == '-' || *s == '+')
		neg = (*s++ == '-');
	for (; isdigit((unsigned char) *s); s++)
	{
		digits = true;
		if (v > (UINT64_MAX - 9) / 10)
			overflow = true;
		else
			v = v * 10 + (uint64_t) (*s - '0');
	}
	while (isspace((unsigned char) *s))
		s++;
	if (!digits || *s != '\0')
		return 1;
	if (overflow || v > limit || (!neg && v == limit))
		return 2;
	return 0;
}

/* Copy a double-quoted identifier at p into out; the position after it, or NULL. */
static const char *
quoted_ident(const char *p, char *out, size_t cap)
{
	size_t		n = 0;

	if (*p != '"')
		return NULL;
	for (p++; *p; p++)
	{
		if (*p == '"' && p[1] == '"')
			p++;
		else if (*p == '"')
		{
			out[n] = '\0';
			return p + 1;
		}
		if (n + 1 >= cap)
			return NULL;
		out[n++] = *p;
	}
	return NULL;
}

/* Copy a type name up to the ',' or ')' that ends it; the position of that, or NULL. */
static const char *
type_name(const char *p, char *out, size_t cap)
{
	size_t		n = 0;
	int			parens = 0;

	while (*p == ' ')
		p++;
	for (; *p; p++)
	{
		if ((*p == ',' || *p == ')') && parens == 0)
		{
			while (n > 0 && out[n - 1] == ' ')
				n--;
			out[n] = '\0';
			return p;
		}
		parens += (*p == '(') - (*p == ')');
		if (n + 1 >= cap)
			return NULL;
		out[n++] = *p;
	}
	return NULL;
}

int
ta_body_column_types(const char *sql, TaColumnType *cols, int max)
{
	const char *p = strstr(sql, "json_to_recordset(");
	int			n = 0;

	if (p == NULL)
		p = strstr(sql, "json_to_record(");
	if (p == NULL || (p = strstr(p, ") AS _(")) == NULL)
		return 0;
	p += strlen(") AS _(");
	while (n < max)
	{
		p = quoted_ident(p, cols[n].name, sizeof(cols[n].name));
		if (p == NULL)
			return n;
		p = type_name(p, cols[n].type, sizeof(cols[n].type));
		if (p == NULL)
			return n;
		n++;
		if (*p == ')')
			return n;
		p++;
		while (*p == ' ')
			p++;
	}
	return n;
}

void
ta_out_init(TaOut *out, char *buf, size_t cap, size_t reserve)
{
	out->buf = buf;
	out->cap = cap;
	out->len = 0;
	out->reserve = reserve;
	out->full = false;
	buf[0] = '\0';
}

/* Can n more bytes (and the terminator, and the reserve) go in? */
static bool
out_room(TaOut *out, size_t n)
{
	if (out->len + n + out->reserve + 1 > out->cap)
	{
		out->full = true;
		return false;
	}
	return true;
}

bool
ta_out_raw(TaOut *out, const char *s)
{
	size_t		n = strlen(s);

	if (!out_room(out, n))
		return false;
	memcpy(out->buf + out->len, s, n + 1);
	out->len += n;
	return true;
}

/* The escape of byte c in a JSON string, in esc (7 bytes); its length. */
static size_t
json_escape_byte(unsigned char c, char *esc)
{
	static const char hex[] = "0123456789abcdef";
	const char *two = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b" :
		c == '\f' ? "\\f" : c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;

	if (two != NULL)
	{
		memcpy(esc, two, 3);
		return 2;
	}
	if (c < 0x20)
	{
		memcpy(esc, "\\u00", 4);
		esc[4] = hex[c >> 4];
		esc[5] = hex[c & 0xF];
		esc[6] = '\0';
		return 6;
	}
	esc[0] = (char) c;
	esc[1] = '\0';
	return 1;
}

bool
ta_out_json(TaOut *out, const char *s, size_t max)
{
	size_t		len = strnlen(s, max + 1);
	size_t		need = 2;
	char		esc[7];
	char	   *p;

	if (len > max)
	{
		len = max;
		while (len > 0 && ((unsigned char) s[len] & 0xC0) == 0x80)
			len--;
	}
	for (size_t i = 0; i < len; i++)
		need += json_escape_byte((unsigned char) s[i], esc);
	if (!out_room(out, need))
		return false;
	p = out->buf + out->len;
	*p++ = '"';
	for (size_t i = 0; i < len; i++)
	{
		size_t		n = json_escape_byte((unsigned char) s[i], esc);

		memcpy(p, esc, n);
		p += n;
	}
	*p++ = '"';
	*p = '\0';
	out->len += need;
	return true;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_letter(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Is s[i] an ISO 8601 'T' between a digit and a time (digits, then ':')? */
static bool
iso_t(const char *s, size_t i)
{
	size_t		k = i + 1;

	if ((s[i] != 'T' && s[i] != 't') || i == 0 || !is_digit(s[i - 1]))
		return false;
	while (is_digit(s[k]))
		k++;
	return k > i + 1 && s[k] == ':';
}

/* Is s[i] a final 'Z' (UTC) after a digit? */
static bool
iso_z(const char *s, size_t i)
{
	return (s[i] == 'Z' || s[i] == 'z') && i > 0 && is_digit(s[i - 1]) && s[i + 1] == '\0';
}

TaDatetimeText
ta_datetime_text(const char *s, char *out, size_t cap)
{
	size_t		n = 0;
	bool		digits = false;
	bool		letters = false;

	if (cap < 4 || strnlen(s, cap - 3) > cap - 4)
		return TA_DT_UNSURE;
	for (size_t i = 0; s[i] != '\0'; i++)
	{
		const char *put = NULL;

		if ((unsigned char) s[i] > 0x7F)
			return TA_DT_UNSURE;
		digits |= is_digit(s[i]);
		if (iso_t(s, i))
			put = " ";
		else if (iso_z(s, i))
			put = "+00";
		else if (is_letter(s[i]))
			letters = true;
		if (put == NULL)
			out[n++] = s[i];
		else
			for (; *put; put++)
				out[n++] = *put;
	}
	out[n] = '\0';
	if (!digits)
		return TA_DT_NO_DIGITS;
	return letters ? TA_DT_UNSURE : TA_DT_DECODE;
}
