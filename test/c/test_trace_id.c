/*
 * test_trace_id.c
 *		Unit test of the request ids and W3C trace ids (src/trace_id.c):
 *		what X-Request-Id is kept, which traceparent headers give their
 *		trace id, and no read past any string (every prefix of a valid
 *		header, and random strings, under ASan).
 *
 * Prints one line "N passed, N failed" and exits non-zero if anything failed.
 */
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

/* Every prefix of a valid header, and random strings, each in a buffer of its exact size. */
static void
test_no_overread(void)
{
	const char *alphabet = "0123456789abcdef-fx ";
	char		out[TA_TRACE_ID_LEN + 1];
	int			accepted = 0;

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
}

int
main(void)
{
	test_request_ids();
	test_traceparents();
	test_no_overread();
	return check_summary();
}
