/*
 * fuzz_rate_limit_core.c
 *		libFuzzer harness for the rate limiter's pure-C core
 *		(src/rate_limit_core.c).
 *
 * Each input is fed to
 *	 - ta_parse_client_address: an accepted address is IPv4-mapped or has a
 *	   zero interface half, and its text form (inet_ntop) parses back to the
 *	   same bucket; the parse never reads past len (the input is copied to an
 *	   exact-size heap buffer, so ASan sees any overrun);
 *	 - ta_gcra, with the first 24 bytes as tat, now, per_minute and burst
 *	   brought into range, and 16 requests in a row checked against GCRA's
 *	   invariants (remaining below burst, admitted requests move tat by one
 *	   interval, refused ones wait a positive time no longer than one
 *	   interval, a bucket never gets emptier than empty).
 * Any violation aborts (a crash for libFuzzer).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rate_limit_core.h"

#define ASSERT(cond) \
	do { \
		if (!(cond)) \
		{ \
			fprintf(stderr, "fuzz_rate_limit_core: %s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond); \
			abort(); \
		} \
	} while (0)

static uint64_t
take(const uint8_t *data, size_t size, size_t at)
{
	uint64_t	v = 0;

	for (size_t i = 0; i < 8; i++)
		v = (v << 8) | (at + i < size ? data[at + i] : 0);
	return v;
}

static void
check_address(const uint8_t *data, size_t size)
{
	static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	char	   *copy = malloc(size ? size : 1);
	uint8_t		out[16];
	uint8_t		again[16];
	char		text[INET6_ADDRSTRLEN + 2];

	ASSERT(copy != NULL);
	memcpy(copy, data, size);
	if (ta_parse_client_address(copy, size, out))
	{
		if (memcmp(out, v4_mapped, 12) == 0)
			ASSERT(inet_ntop(AF_INET, out + 12, text, sizeof(text)) != NULL);
		else
		{
			for (int i = 8; i < 16; i++)
				ASSERT(out[i] == 0);
			ASSERT(inet_ntop(AF_INET6, out, text, sizeof(text)) != NULL);
		}
		ASSERT(ta_parse_client_address(text, strlen(text), again));
		ASSERT(memcmp(out, again, 16) == 0);
	}
	free(copy);
}

static void
check_gcra(const uint8_t *data, size_t size)
{
	int64_t		tat = (int64_t) (take(data, size, 0) % (uint64_t) (TA_GCRA_MAX_TIME / 2));
	int64_t		now = (int64_t) (take(data, size, 8) % (uint64_t) (TA_GCRA_MAX_TIME / 2));
	uint64_t	lb = take(data, size, 16);
	int32_t		per_minute = (int32_t) ((lb >> 32) % TA_GCRA_MAX_LIMIT) + 1;
	int32_t		burst = (int32_t) ((lb & 0xffffffff) % TA_GCRA_MAX_LIMIT) + 1;
	int64_t		interval = ta_gcra_interval(per_minute);
	int64_t		tolerance = interval * burst;

	for (int i = 0; i < 16; i++)
	{
		TaGcraResult r;
		int64_t		clamped = tat > now + tolerance ? now + tolerance : tat;

		ta_gcra(tat, now, per_minute, burst, &r);
		ASSERT(r.remaining >= 0 && r.remaining < burst);
		ASSERT(r.reset_ns >= 0 && r.reset_ns <= tolerance);
		if (r.allowed)
		{
			ASSERT(r.new_tat == (clamped > now ? clamped : now) + interval);
			ASSERT(r.retry_after_ns == 0);
			ASSERT(r.new_tat - now <= tolerance);
		}
		else
		{
			ASSERT(r.new_tat == clamped);
			ASSERT(r.retry_after_ns > 0 && r.retry_after_ns <= interval);
			ASSERT(r.remaining == 0);
		}
		tat = r.new_tat;
		/* Time moves on by an input-chosen step, sometimes not at all. */
		now += (int64_t) (take(data, size, 24 + (size_t) i) % (uint64_t) (2 * interval + 1)) *
			((i & 1) ? 1 : 0);
	}
}

/*
 * ta_gcra_charge() on a stored bucket under constant limits, with request
 * times that arrive out of order (read before the lock): the bucket never
 * moves back in time, and it never holds more than the burst allows.
 */
static void
check_charge(const uint8_t *data, size_t size)
{
	uint64_t	lb = take(data, size, 32);
	int32_t		per_minute = (int32_t) ((lb >> 32) % TA_GCRA_MAX_LIMIT) + 1;
	int32_t		burst = (int32_t) ((lb & 0xffffffff) % 1000) + 1;
	int64_t		interval = ta_gcra_interval(per_minute);
	int64_t		base = (int64_t) (take(data, size, 40) % (uint64_t) (TA_GCRA_MAX_TIME / 4));
	int64_t		tat = 0;
	int64_t		last = 0;
	int64_t		admitted = 0;
	int64_t		latest = 0;

	for (int i = 0; i < 24; i++)
	{
		TaGcraResult r;
		int64_t		old_tat = tat;
		int64_t		old_last = last;
		int64_t		now = base + (int64_t) (take(data, size, 48 + (size_t) i) % (uint64_t) (4 * interval + 1));

		ta_gcra_charge(&tat, &last, now, per_minute, burst, &r);
		ASSERT(last >= old_last && last >= now);
		ASSERT(tat >= old_tat);
		ASSERT(tat - last <= interval * burst);
		if (r.allowed)
			admitted++;
		if (now > latest)
			latest = now;
	}
	/* Never more than the burst plus what refilled by the latest time. */
	ASSERT(admitted <= burst + (latest - base) / interval);
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_address(data, size);
	check_gcra(data, size);
	check_charge(data, size);
	return 0;
}
