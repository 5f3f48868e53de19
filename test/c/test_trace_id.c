/*
 * test_trace_id.c
 *		Unit test of the request ids, W3C trace ids and claims' UUIDs
 *		(src/trace_id.c): what X-Request-Id is kept, which traceparent
 *		headers give their trace id, which UUIDs parse to which bytes, and
 *		no read past any string (every prefix of a valid header or UUID,
 *		and random strings, under ASan).
 *
 * Prints one line "N passed, N failed" and exits non-zero if anything failed.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "trace_id.h"

#define CHECK_MSG(cond, ...) check_impl((cond), __FILE__, __LINE__, #cond, __VA_ARGS__)

#define VALID "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
#define TRACE "4bf92f3577b34da6a3ce929d0e0e4736"

static void
test_request_ids(void)
{
	char		longest[TA_REQUEST_ID_MAX + 2];

	CHECK(ta_valid_request_id("a"));
	CHECK(ta_valid_request_id("req-42.a:b_c"));
	CHECK(ta_valid_request_id(TRACE));
	CHECK(!ta_valid_request_id(NULL));
	CHECK(!ta_valid_request_id(""));
	CHECK(!ta_valid_request_id("has space"));
	CHECK(!ta_valid_request_id("new\nline"));
	CHECK(!ta_valid_request_id("quote\""));
	CHECK(!ta_valid_request_id("caf\xc3\xa9"));
	memset(longest, 'x', TA_REQUEST_ID_MAX);
	longest[TA_REQUEST_ID_MAX] = '\0';
	CHECK(ta_valid_request_id(longest));
	longest[TA_REQUEST_ID_MAX] = 'x';
	longest[TA_REQUEST_ID_MAX + 1] = '\0';
	CHECK(!ta_valid_request_id(longest));
}

/* traceparent -> trace id, or NULL when refused. */
static void
check_traceparent(const char *tp, const char *want)
{
	char		out[TA_TRACE_ID_LEN + 1] = "untouched";
	bool		ok = ta_traceparent_trace_id(tp, out);

	if (want == NULL)
		CHECK_MSG(!ok && strcmp(out, "untouched") == 0, "%s accepted", tp ? tp : "(null)");
	else
		CHECK_MSG(ok && strcmp(out, want) == 0, "%s gave %s", tp, ok ? out : "(refused)");
}

static void
test_traceparents(void)
{
	check_traceparent(VALID, TRACE);
	check_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", TRACE);
	/* A later version may append fields. */
	check_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later", TRACE);
	check_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", TRACE);
	check_traceparent(NULL, NULL);
	check_traceparent("", NULL);
	check_traceparent(VALID "-extra", NULL);	/* version 00 has four fields */
	check_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", NULL);
	check_traceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", NULL);
	check_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01", NULL);
	check_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", NULL);
	check_traceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", NULL);
	check_traceparent("00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01", NULL);
	check_traceparent("00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01", NULL);
	check_traceparent("0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", NULL);
	check_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0z", NULL);
}

#define UUID_TEXT "0190e6c0-12ab-7cDE-8f00-a1B2c3D4e5F6"

/*
 * A second reading: 36 characters, dashes exactly at 8, 13, 18 and 23,
 * isxdigit() everywhere else, and each byte by sscanf("%2x").
 */
static bool
reference_uuid(const char *s, unsigned char *out)
{
	char		digits[33];
	int			n = 0;

	if (strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++)
	{
		bool		dash_place = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash_place != (s[i] == '-') || (!dash_place && !isxdigit((unsigned char) s[i])))
			return false;
		if (!dash_place)
			digits[n++] = s[i];
	}
	digits[n] = '\0';
	for (int i = 0; i < 16; i++)
	{
		unsigned int v;
		char		pair[3] = {digits[2 * i], digits[2 * i + 1], '\0'};

		if (sscanf(pair, "%2x", &v) != 1)
			return false;
		out[i] = (unsigned char) v;
	}
	return true;
}

static void
check_uuid(const char *s, bool valid)
{
	unsigned char got[16];
	unsigned char want[16];
	bool		ok = ta_uuid_parse(s, got);

	CHECK_MSG(ok == valid, "%s: %s", s, ok ? "accepted" : "refused");
	if (ok && valid)
		CHECK_MSG(reference_uuid(s, want) && memcmp(got, want, 16) == 0, "%s: its bytes", s);
}

static void
test_uuids(void)
{
	unsigned char b[16];

	check_uuid(UUID_TEXT, true);
	check_uuid("00000000-0000-0000-0000-000000000000", true);
	check_uuid("ffffffff-ffff-ffff-ffff-ffffffffffff", true);
	check_uuid("FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", true);
	CHECK(ta_uuid_parse("0190e6c0-12ab-7cde-8f00-a1b2c3d4e5f6", b) && b[0] == 0x01 && b[1] == 0x90 &&
		  b[6] == 0x7c && b[15] == 0xf6);
	check_uuid("", false);
	check_uuid("0190e6c0-12ab-7cde-8f00-a1b2c3d4e5f", false);	/* 35 */
	check_uuid("0190e6c0-12ab-7cde-8f00-a1b2c3d4e5f60", false);	/* 37 */
	check_uuid("0190e6c012ab7cde8f00a1b2c3d4e5f6", false);	/* no dashes */
	check_uuid("{0190e6c0-12ab-7cde-8f00-a1b2c3d4e5f6}", false);
	check_uuid("0190e6c0012ab-7cde-8f00-a1b2c3d4e5f6", false);	/* dash moved */
	check_uuid("0190e6c0-12ab-7cde-8f00-a1b2c3d4e5-6", false);
	/* Just outside each range of digits: / : @ G ` g, and a byte >= 0x80. */
	check_uuid("/190e6c0-12ab-7cde-8f00-a1b2c3d4e5f6", false);
	check_uuid(":190e6c0-12ab-7cde-8f00-a1b2c3d4e5f6", false);
	check_uuid("@190e6c0-12ab-7cde-8f00-a1b2c3d4e5f6", false);
	check_uuid("G190e6c0-12ab-7cde-8f00-a1b2c3d4e5f6", false);
	check_uuid("`190e6c0-12ab-7cde-8f00-a1b2c3d4e5f6", false);
	check_uuid("0190e6c0-12ab-7cde-8f00-a1b2c3d4e5fg", false);
	check_uuid("0190e6c0-12ab-7cde-8f00-a1b2c3d4e5f\xc6", false);
	check_uuid("0190e6c0-12ab-7cde-8f00-a1b2c3d4e5 6", false);
}

/* Every prefix of a valid header, and random strings, each in a buffer of its exact size. */
static void
test_no_overread(void)
{
	const char *alphabet = "0123456789abcdef-fx ";
	char		out[TA_TRACE_ID_LEN + 1];
	int			accepted = 0;
	int			disagree;
	int			valid;

	for (size_t n = 0; n <= strlen(VALID); n++)
	{
		char	   *c = malloc(n + 1);

		memcpy(c, VALID, n);
		c[n] = '\0';
		accepted += ta_traceparent_trace_id(c, out);
		(void) ta_valid_request_id(c);
		free(c);
	}
	CHECK_MSG(accepted == 1, "only the whole header is valid: %d prefixes accepted", accepted);
	accepted = 0;
	for (size_t n = 0; n <= strlen(UUID_TEXT); n++)
	{
		char	   *c = malloc(n + 1);
		unsigned char bytes[16];

		memcpy(c, UUID_TEXT, n);
		c[n] = '\0';
		accepted += ta_uuid_parse(c, bytes);
		free(c);
	}
	CHECK_MSG(accepted == 1, "only the whole UUID is valid: %d prefixes accepted", accepted);
	srand(17);
	for (int k = 0; k < 100000; k++)
	{
		size_t		n = (size_t) (rand() % 80);
		char	   *c = malloc(n + 1);

		for (size_t j = 0; j < n; j++)
			c[j] = alphabet[rand() % 20];
		c[n] = '\0';
		if (ta_traceparent_trace_id(c, out))
			CHECK(strlen(out) == TA_TRACE_ID_LEN && memcmp(out, c + 3, TA_TRACE_ID_LEN) == 0);
		(void) ta_valid_request_id(c);
		free(c);
	}
	/* Random strings of UUID shape: the parser and the reference agree. */
	disagree = 0;
	valid = 0;
	for (int k = 0; k < 100000; k++)
	{
		char		c[37];
		unsigned char got[16];
		unsigned char want[16];
		bool		ok;
		bool		ref;

		for (int j = 0; j < 36; j++)
			c[j] = (j == 8 || j == 13 || j == 18 || j == 23) && rand() % 50 ? '-' : alphabet[rand() % 20];
		c[36] = '\0';
		ok = ta_uuid_parse(c, got);
		ref = reference_uuid(c, want);
		if (ok != ref || (ok && memcmp(got, want, 16) != 0))
		{
			if (disagree++ == 0)
				CHECK_MSG(false, "first disagreement: %s", c);
		}
		valid += ref;
	}
	CHECK_MSG(disagree == 0, "%d of 100000 random strings read otherwise than by the reference", disagree);
	CHECK_MSG(valid > 100, "only %d of the random strings were UUIDs", valid);
}

int
main(void)
{
	test_request_ids();
	test_traceparents();
	test_uuids();
	test_no_overread();
	return check_summary();
}
