/*
 * fuzz_error_fields.c
 *		libFuzzer harness for the body checks of src/error_fields.c, which
 *		run inside PostgreSQL's error reporting (src/error_map.c).
 *
 * Each input is copied to an exact-size heap buffer (ASan sees any read past
 * it) and fed to
 *	 - ta_body_fields: every key and value span lies inside the input; each
 *	   key and string value is decoded with ta_json_unescape into a small
 *	   buffer (which must stay terminated within its size);
 *	 - ta_text_int_check (64 bits) against strtoll as the reference;
 *	 - ta_text_is_uuid: an accepted text has exactly 32 hex digits;
 *	 - ta_body_column_types: names and types are terminated within their
 *	   fields;
 *	 - ta_out_json / ta_out_raw (the writer of the answers built inside the
 *	   hook) into a small buffer: the text stays within it, terminated, a
 *	   failed append leaves it as it was, and a JSON string written holds
 *	   no raw control character and only escaped quotes;
 *	 - ta_datetime_text: its output is terminated within the buffer, has no
 *	   letter when it says TA_DT_DECODE and no digit when TA_DT_NO_DIGITS.
 * Any violation aborts (a crash for libFuzzer).
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error_fields.h"

#define ASSERT(cond) \
	do { \
		if (!(cond)) \
		{ \
			fprintf(stderr, "fuzz_error_fields: %s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond); \
			abort(); \
		} \
	} while (0)

typedef struct Span
{
	const char *start;
	size_t		len;
} Span;

static void
on_member(void *arg, const char *key, size_t keylen, TaJsonKind kind, const char *raw, size_t rawlen)
{
	const Span *in = arg;
	char		out[24];
	bool		nul;

	ASSERT(key >= in->start && key + keylen <= in->start + in->len);
	ASSERT(raw >= in->start && raw + rawlen <= in->start + in->len);
	if (ta_json_unescape(key, keylen, out, sizeof(out), &nul))
		ASSERT(memchr(out, '\0', sizeof(out)) != NULL);
	if (kind == TA_JSON_STRING && ta_json_unescape(raw, rawlen, out, sizeof(out), &nul))
		ASSERT(memchr(out, '\0', sizeof(out)) != NULL);
}

/* What int8in accepts, by strtoll: 0 yes, 1 syntax, 2 range. */
static int
reference_int64(const char *s)
{
	char	   *end;
	const char *p = s;
	long long	v;

	while (isspace((unsigned char) *p))
		p++;
	if (!(*p == '-' || *p == '+' || isdigit((unsigned char) *p)))
		return 1;
	if ((*p == '-' || *p == '+') && !isdigit((unsigned char) p[1]))
		return 1;
	errno = 0;
	v = strtoll(p, &end, 10);
	(void) v;
	while (isspace((unsigned char) *end))
		end++;
	if (*end != '\0')
		return 1;
	return errno == ERANGE ? 2 : 0;
}

/* The answer writer: bounded, whole appends, escaped strings. */
static void
check_out(const char *text)
{
	char		buf[48];
	char		copy[48];
	TaOut		out;
	size_t		before;

	ta_out_init(&out, buf, sizeof(buf), 1);
	ASSERT(ta_out_raw(&out, "["));
	for (int round = 0; round < 3; round++)
	{
		before = out.len;
		memcpy(copy, buf, sizeof(buf));
		if (ta_out_json(&out, text, 20))
		{
			ASSERT(buf[before] == '"' && buf[out.len - 1] == '"');
			for (size_t i = before + 1; i + 1 < out.len; i++)
			{
				ASSERT((unsigned char) buf[i] >= 0x20);
				if (buf[i] == '\\')
					i++;
				else
					ASSERT(buf[i] != '"');
			}
		}
		else
			ASSERT(out.len == before && memcmp(copy, buf, before + 1) == 0);
		ASSERT(out.len + out.reserve < sizeof(buf) && buf[out.len] == '\0');
	}
	out.reserve = 0;
	ASSERT(ta_out_raw(&out, "]"));
	ASSERT(strlen(buf) == out.len && out.len < sizeof(buf));
}

static void
check_datetime_text(const char *text)
{
	char		out[40];
	TaDatetimeText kind = ta_datetime_text(text, out, sizeof(out));

	if (kind == TA_DT_UNSURE)
		return;
	ASSERT(memchr(out, '\0', sizeof(out)) != NULL);
	for (const char *p = out; *p; p++)
	{
		if (kind == TA_DT_DECODE)
			ASSERT(!isalpha((unsigned char) *p) && (unsigned char) *p < 0x80);
		else
			ASSERT(!isdigit((unsigned char) *p));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *buf = malloc(size + 1);
	Span		in = {buf, size};
	TaColumnType cols[4];
	int			n;

	memcpy(buf, data, size);
	(void) ta_body_fields(buf, size, on_member, &in);

	buf[size] = '\0';
	if (strlen(buf) == size)
	{
		ASSERT(ta_text_int_check(buf, 64) == reference_int64(buf));
		if (ta_text_is_uuid(buf))
		{
			int			hex = 0;

			for (const char *p = buf; *p; p++)
				hex += isxdigit((unsigned char) *p) != 0;
			ASSERT(hex == 32);
		}
		check_out(buf);
		check_datetime_text(buf);
		n = ta_body_column_types(buf, cols, 4);
		ASSERT(n >= 0 && n <= 4);
		for (int i = 0; i < n; i++)
			ASSERT(memchr(cols[i].name, '\0', sizeof(cols[i].name)) && memchr(cols[i].type, '\0', sizeof(cols[i].type)));
	}
	free(buf);
	return 0;
}
