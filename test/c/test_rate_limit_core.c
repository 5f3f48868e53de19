/*
 * test_rate_limit_core.c
 *		Unit test of the rate limiter's pure-C core (src/rate_limit_core.c):
 *		GCRA arithmetic with an explicit clock, and client-address parsing.
 *
 * Prints one line "N passed, N failed" and exits non-zero if anything failed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "rate_limit_core.h"


#define SEC TA_NS_PER_SEC
#define T0 (INT64_C(1000) * SEC)

/* A fresh bucket admits the burst at once, then refuses until refill. */
static void
test_burst_and_refill(void)
{
	TaGcraResult r;
	int64_t		tat = 0;

	/* 60 a minute: one a second; burst 3. */
	for (int i = 1; i <= 3; i++)
	{
		ta_gcra(tat, T0, 60, 3, &r);
		CHECK(r.allowed);
		CHECK(r.remaining == 3 - i);
		CHECK(r.reset_ns == i * SEC);
		tat = r.new_tat;
	}
	ta_gcra(tat, T0, 60, 3, &r);
	CHECK(!r.allowed);
	CHECK(r.remaining == 0);
	CHECK(r.new_tat == tat);
	CHECK(r.retry_after_ns == SEC);
	CHECK(ta_ceil_seconds(r.retry_after_ns) == 1);
	/* One ns early: still refused; on time: admitted. */
	ta_gcra(tat, T0 + SEC - 1, 60, 3, &r);
	CHECK(!r.allowed);
	CHECK(r.retry_after_ns == 1);
	ta_gcra(tat, T0 + SEC, 60, 3, &r);
	CHECK(r.allowed);
	CHECK(r.remaining == 0);
	/* 2.5 s later two fit, then the third is refused. */
	ta_gcra(tat, T0 + 2500 * (SEC / 1000), 60, 3, &r);
	CHECK(r.allowed && r.remaining == 1);
	CHECK(r.reset_ns == 1500 * (SEC / 1000));
	CHECK(ta_ceil_seconds(r.reset_ns) == 2);
}

/* An idle bucket is the same as a new one; a raised limit clamps the debt. */
static void
test_idle_and_clamp(void)
{
	TaGcraResult a;
	TaGcraResult b;

	ta_gcra(5, T0, 60, 3, &a);
	ta_gcra(0, T0, 60, 3, &b);
	CHECK(a.allowed && b.allowed && a.remaining == b.remaining && a.new_tat == b.new_tat);
	/* 1000 s behind: counts as empty, one fits one interval later. */
	ta_gcra(T0 + 1000 * SEC, T0, 60, 3, &a);
	CHECK(!a.allowed);
	CHECK(a.new_tat == T0 + 3 * SEC);
	CHECK(a.retry_after_ns == SEC);
	ta_gcra(a.new_tat, T0 + SEC, 60, 3, &b);
	CHECK(b.allowed);
}

/* The largest settings stay exact. */
static void
test_extremes(void)
{
	TaGcraResult r;

	ta_gcra(0, TA_GCRA_MAX_TIME, TA_GCRA_MAX_LIMIT, TA_GCRA_MAX_LIMIT, &r);
	CHECK(r.allowed && r.remaining == TA_GCRA_MAX_LIMIT - 1);
	ta_gcra(TA_GCRA_MAX_TIME, TA_GCRA_MAX_TIME, 1, TA_GCRA_MAX_LIMIT, &r);
	CHECK(r.allowed && r.remaining == TA_GCRA_MAX_LIMIT - 1);
	ta_gcra(0, 0, 1, 1, &r);
	CHECK(r.allowed && r.remaining == 0 && r.reset_ns == 60 * SEC);
	ta_gcra(r.new_tat, 0, 1, 1, &r);
	CHECK(!r.allowed && r.retry_after_ns == 60 * SEC);
	CHECK(ta_ceil_seconds(0) == 0 && ta_ceil_seconds(-5) == 0 && ta_ceil_seconds(1) == 1);
}

/*
 * Never more than the quota in a minute: per_minute intervals cover at
 * least a minute, also where 60 s is not a multiple of the limit.
 */
static void
test_interval_covers_the_minute(void)
{
	static const int32_t limits[] = {1, 7, 600, 33333333, 99999999, TA_GCRA_MAX_LIMIT};
	TaGcraResult r;

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
	{
		int64_t		q = limits[i];

		/* With a burst of 1, one request moves tat one interval ahead. */
		ta_gcra(0, T0, limits[i], 1, &r);
		CHECK(r.allowed && (r.new_tat - T0) * q >= TA_GCRA_WINDOW_NS);
		CHECK((r.new_tat - T0 - 1) * q < TA_GCRA_WINDOW_NS);
		CHECK(ta_gcra_interval(limits[i]) == r.new_tat - T0);
	}
}

/*
 * A request that read the clock before the bucket's last update (it waited
 * for the lock) is charged as arriving at that update: it cannot move tat
 * back and refund requests already admitted.
 */
static void
test_late_request(void)
{
	TaGcraResult r;
	int64_t		tat = 0;
	int64_t		last = 0;

	/* 60 a minute, burst 2: emptied at T0 + 10 s, full again at T0 + 12 s. */
	ta_gcra_charge(&tat, &last, T0 + 10 * SEC, 60, 2, &r);
	ta_gcra_charge(&tat, &last, T0 + 10 * SEC, 60, 2, &r);
	CHECK(r.allowed && r.remaining == 0 && tat == T0 + 12 * SEC && last == T0 + 10 * SEC);
	/* ta_gcra() alone, with that old now, clamps tat 10 s back. */
	ta_gcra(tat, T0, 60, 2, &r);
	CHECK(!r.allowed && r.new_tat == T0 + 2 * SEC);
	/* The charge refuses it and keeps the bucket as it was. */
	ta_gcra_charge(&tat, &last, T0, 60, 2, &r);
	CHECK(!r.allowed && tat == T0 + 12 * SEC && last == T0 + 10 * SEC);
	CHECK(r.remaining == 0 && r.retry_after_ns == SEC);
	/* Nothing more gets through before the refill. */
	ta_gcra_charge(&tat, &last, T0 + 10 * SEC + SEC / 2, 60, 2, &r);
	CHECK(!r.allowed);
	ta_gcra_charge(&tat, &last, T0 + 11 * SEC, 60, 2, &r);
	CHECK(r.allowed && r.remaining == 0);
}

static int
parses(const char *s, uint8_t out[16])
{
	return ta_parse_client_address(s, strlen(s), out);
}

static void
test_addresses(void)
{
	uint8_t		a[16];
	uint8_t		b[16];
	static const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 7};
	static const char *const bad[] = {
		"", " ", "unknown", "203.0.113", "203.0.113.256", "203.0.113.7:", "203.0.113.7:x",
		"203.0.113.7:80:90", "[2001:db8::1", "[2001:db8::1]x", "[2001:db8::1]:", "[203.0.113.7]",
		"2001:db8::1%eth0", "2001:db8:::1", "1.2.3.4 5.6.7.8",
		"203.0.113.7:65536", "203.0.113.7:000080", "203.0.113.7:99999999999999999999", "[2001:db8::1]:70000",
		"0123456789012345678901234567890123456789012345678901234567890123456789",
	};

	CHECK(parses("203.0.113.7", a) && memcmp(a, mapped, 16) == 0);
	CHECK(parses(" \t203.0.113.7:8080 ", a) && memcmp(a, mapped, 16) == 0);
	CHECK(parses("203.0.113.7:65535", a) && memcmp(a, mapped, 16) == 0);
	CHECK(parses("::ffff:203.0.113.7", a) && memcmp(a, mapped, 16) == 0);
	CHECK(parses("[::ffff:203.0.113.7]:443", a) && memcmp(a, mapped, 16) == 0);
	/* IPv6 by /64. */
	CHECK(parses("2001:db8:1:2::1", a) && parses("[2001:db8:1:2:ffff::9]:443", b) && memcmp(a, b, 16) == 0);
	CHECK(a[7] == 2 && a[8] == 0 && a[15] == 0);
	CHECK(parses("2001:db8:1:3::1", b) && memcmp(a, b, 16) != 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		int			ok = parses(bad[i], a);

		if (ok)
			printf("accepted: \"%s\"\n", bad[i]);
		CHECK(!ok);
	}
	/* Only len bytes are read: the rest of the buffer does not matter. */
	CHECK(ta_parse_client_address("203.0.113.7, 10.0.0.1", 11, a) && memcmp(a, mapped, 16) == 0);
	CHECK(!ta_parse_client_address("203.0.113.7\0garbage", 19, a));
}

int
main(void)
{
	test_burst_and_refill();
	test_idle_and_clamp();
	test_extremes();
	test_interval_covers_the_minute();
	test_late_request();
	test_addresses();
	return check_summary();
}
