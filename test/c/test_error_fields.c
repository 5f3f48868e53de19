/*
 * test_error_fields.c
 *		Unit test of the body checks src/error_map.c runs while an error is
 *		reported (src/error_fields.c): the column list PostgREST 12 writes,
 *		the members of a body, JSON string decoding, and the uuid and
 *		integer checks against what PostgreSQL 15's input functions accept.
 *
 * Prints one line "N passed, N failed" and exits non-zero if anything failed.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "error_fields.h"

typedef struct Seen
{
	int			n;
	char		keys[8][32];
	TaJsonKind	kinds[8];
	char		raws[8][64];
} Seen;

static void
collect(void *arg, const char *key, size_t keylen, TaJsonKind kind, const char *raw, size_t rawlen)
{
	Seen	   *s = arg;

	if (s->n >= 8 || keylen >= 32 || rawlen >= 64)
		return;
	memcpy(s->keys[s->n], key, keylen);
	s->keys[s->n][keylen] = '\0';
	memcpy(s->raws[s->n], raw, rawlen);
	s->raws[s->n][rawlen] = '\0';
	s->kinds[s->n++] = kind;
}

static void
test_column_types(void)
{
	TaColumnType cols[8];
	const char *sql = "WITH pgrst_source AS (INSERT INTO \"api\".\"tasks\"(\"project_id\", \"status\", \"title\") "
		"SELECT ... FROM json_to_recordset(pgrst_uniform_json.val) AS _(\"project_id\" uuid, "
		"\"status\" task_api.task_status, \"due\"\"x\" timestamp with time zone, \"n\" numeric(10,2)) ) pgrst_body";

	CHECK(ta_body_column_types(sql, cols, 8) == 4);
	CHECK(strcmp(cols[0].name, "project_id") == 0 && strcmp(cols[0].type, "uuid") == 0);
	CHECK(strcmp(cols[1].type, "task_api.task_status") == 0);
	CHECK(strcmp(cols[2].name, "due\"x") == 0 && strcmp(cols[2].type, "timestamp with time zone") == 0);
	CHECK(strcmp(cols[3].type, "numeric(10,2)") == 0);
	CHECK(ta_body_column_types(sql, cols, 2) == 2);
	CHECK(ta_body_column_types("SELECT 1", cols, 8) == 0);
	CHECK(ta_body_column_types("json_to_recordset(x) AS _(\"unterminated", cols, 8) == 0);
}

static void
test_body_fields(void)
{
	Seen		s = {0};

	{
		const char *body = "{\"a\": \"x\\\"y\", \"b\":1.5e3,\"c\":null,\"d\":{\"e\":[1,\"]\"]},\"f\":true}";

		CHECK(ta_body_fields(body, strlen(body), collect, &s));
		CHECK(s.n == 5);
		CHECK(strcmp(s.keys[0], "a") == 0 && s.kinds[0] == TA_JSON_STRING && strcmp(s.raws[0], "x\\\"y") == 0);
		CHECK(s.kinds[1] == TA_JSON_NUMBER && strcmp(s.raws[1], "1.5e3") == 0);
		CHECK(s.kinds[2] == TA_JSON_NULL);
		CHECK(s.kinds[3] == TA_JSON_OTHER && strcmp(s.raws[3], "{\"e\":[1,\"]\"]}") == 0);
		CHECK(strcmp(s.keys[4], "f") == 0 && s.kinds[4] == TA_JSON_OTHER);
	}
	memset(&s, 0, sizeof(s));
	{
		const char *body = " [ {\"a\":1}, 2, {\"b\":\"\"} ] ";

		CHECK(ta_body_fields(body, strlen(body), collect, &s));
		CHECK(s.n == 2 && strcmp(s.keys[1], "b") == 0 && s.raws[1][0] == '\0');
	}
	memset(&s, 0, sizeof(s));
	CHECK(!ta_body_fields("{\"a\":", 5, collect, &s));
	CHECK(!ta_body_fields("\"x\"", 3, collect, &s));
	CHECK(!ta_body_fields("{\"a\" 1}", 7, collect, &s));
	/* len is respected: the text after it is not read. */
	memset(&s, 0, sizeof(s));
	CHECK(ta_body_fields("{\"a\":1}{\"b\":2}", 7, collect, &s) && s.n == 1);
}

static void
test_unescape(void)
{
	char		out[16];
	bool		nul;

	CHECK(ta_json_unescape("a\\u0000b", 8, out, sizeof(out), &nul) && nul && strcmp(out, "ab") == 0);
	CHECK(ta_json_unescape("\\u00e9\\n", 8, out, sizeof(out), &nul) && !nul && strcmp(out, "\xc3\xa9\n") == 0);
	CHECK(ta_json_unescape("\\ud83d\\ude00", 12, out, sizeof(out), &nul) && strcmp(out, "\xf0\x9f\x98\x80") == 0);
	CHECK(ta_json_unescape("\\ud800", 6, out, sizeof(out), &nul) && strcmp(out, "\xef\xbf\xbd") == 0);
	CHECK(!ta_json_unescape("\\x", 2, out, sizeof(out), &nul));
	CHECK(!ta_json_unescape("\\u12", 4, out, sizeof(out), &nul));
	CHECK(!ta_json_unescape("\\", 1, out, sizeof(out), &nul));
	CHECK(!ta_json_unescape("0123456789abcdef", 16, out, sizeof(out), &nul));
	CHECK(ta_json_unescape("0123456789abcde", 15, out, sizeof(out), &nul));
}

static void
test_uuid_and_int(void)
{
	CHECK(ta_text_is_uuid("6ba7b810-9dad-11d1-80b4-00c04fd430c8"));
	CHECK(ta_text_is_uuid("{6ba7b810-9dad-11d1-80b4-00c04fd430c8}"));
	CHECK(ta_text_is_uuid("6BA7B8109DAD11D180B400C04FD430C8"));
	CHECK(ta_text_is_uuid("6ba7-b810-9dad-11d1-80b4-00c0-4fd4-30c8"));
	CHECK(!ta_text_is_uuid(""));
	CHECK(!ta_text_is_uuid("zz"));
	CHECK(!ta_text_is_uuid("6ba7b810-9dad-11d1-80b4-00c04fd430c"));
	CHECK(!ta_text_is_uuid("6ba7b810-9dad-11d1-80b4-00c04fd430c8-"));
	CHECK(!ta_text_is_uuid("{6ba7b810-9dad-11d1-80b4-00c04fd430c8"));
	CHECK(!ta_text_is_uuid("-6ba7b810-9dad-11d1-80b4-00c04fd430c8"));

	CHECK(ta_text_int_check("2", 16) == 0);
	CHECK(ta_text_int_check(" -32768 ", 16) == 0);
	CHECK(ta_text_int_check("32768", 16) == 2);
	CHECK(ta_text_int_check("+2147483647", 32) == 0);
	CHECK(ta_text_int_check("-2147483648", 32) == 0);
	CHECK(ta_text_int_check("2147483648", 32) == 2);
	CHECK(ta_text_int_check("99999999999999999999999", 64) == 2);
	CHECK(ta_text_int_check("1.5", 32) == 1);
	CHECK(ta_text_int_check("1e3", 32) == 1);
	CHECK(ta_text_int_check("", 32) == 1);
	CHECK(ta_text_int_check("-", 32) == 1);
	CHECK(ta_text_int_check("true", 32) == 1);
}

/* The fixed-size JSON writer of the error answers: whole appends, valid JSON when full. */
static void
test_out(void)
{
	char		buf[16];
	char		big[64];
	TaOut		out;

	ta_out_init(&out, big, sizeof(big), 0);
	CHECK(ta_out_json(&out, "a\"b\\c\n\x01", 100));
	CHECK(strcmp(big, "\"a\\\"b\\\\c\\n\\u0001\"") == 0);
	/* cut at max bytes, never inside a UTF-8 character */
	ta_out_init(&out, big, sizeof(big), 0);
	CHECK(ta_out_json(&out, "ab\xc3\xa9" "cd", 3));
	CHECK(strcmp(big, "\"ab\"") == 0);
	/* all or nothing, and the reserve stays free for the closing bracket */
	ta_out_init(&out, buf, sizeof(buf), 1);
	CHECK(ta_out_raw(&out, "["));
	CHECK(ta_out_json(&out, "0123456789", 100));
	CHECK(!ta_out_json(&out, "x", 100));
	CHECK(out.full);
	CHECK(strcmp(buf, "[\"0123456789\"") == 0);
	out.reserve = 0;
	CHECK(ta_out_raw(&out, "]"));
	CHECK(strcmp(buf, "[\"0123456789\"]") == 0);
	CHECK(!ta_out_raw(&out, "toolong"));
	CHECK(strlen(buf) < sizeof(buf));
}

/* Date texts: which may go to DecodeDateTime (no letters), which cannot be told. */
static void
test_datetime_text(void)
{
	char		out[32];

	CHECK(ta_datetime_text("2024-01-31", out, sizeof(out)) == TA_DT_DECODE);
	CHECK(strcmp(out, "2024-01-31") == 0);
	CHECK(ta_datetime_text("2024-01-31T10:00:00Z", out, sizeof(out)) == TA_DT_DECODE);
	CHECK(strcmp(out, "2024-01-31 10:00:00+00") == 0);
	CHECK(ta_datetime_text("2024-01-31t10:00:00.5z", out, sizeof(out)) == TA_DT_DECODE);
	CHECK(strcmp(out, "2024-01-31 10:00:00.5+00") == 0);
	/* zone names, abbreviations, month names, a T not before a time: cannot tell */
	CHECK(ta_datetime_text("2024-01-31 Europe/Paris", out, sizeof(out)) == TA_DT_UNSURE);
	CHECK(ta_datetime_text("2024-01-31 10:00 EST", out, sizeof(out)) == TA_DT_UNSURE);
	CHECK(ta_datetime_text("Jan 31 2024", out, sizeof(out)) == TA_DT_UNSURE);
	CHECK(ta_datetime_text("20240131T101010", out, sizeof(out)) == TA_DT_UNSURE);
	CHECK(ta_datetime_text("2024-01-31Z10", out, sizeof(out)) == TA_DT_UNSURE);
	CHECK(ta_datetime_text("2024-01-31 \xc3\xa9", out, sizeof(out)) == TA_DT_UNSURE);
	/* too long for out: cannot tell (PostgreSQL skips spaces: it may still be valid) */
	CHECK(ta_datetime_text("2024-01-31                            ", out, sizeof(out)) == TA_DT_UNSURE);
	/* no digit: only a special word can make it valid (the caller checks) */
	CHECK(ta_datetime_text("tomorrow-ish", out, sizeof(out)) == TA_DT_NO_DIGITS);
	CHECK(ta_datetime_text("", out, sizeof(out)) == TA_DT_NO_DIGITS);
	CHECK(ta_datetime_text("x", out, 3) == TA_DT_UNSURE);
}

int
main(void)
{
	test_column_types();
	test_body_fields();
	test_unescape();
	test_uuid_and_int();
	test_out();
	test_datetime_text();
	return check_summary();
}
