/*
 * rate_limit_core.c
 *		GCRA arithmetic and client-address parsing, pure C.
 *
 * GCRA, the generic cell rate algorithm, is a token bucket described by one
 * timestamp, the theoretical arrival time (TAT) of the next request if
 * requests came exactly at the allowed rate.  With an emission interval
 * T = 60 s / limit and room for `burst` requests at once, a request at time
 * now is admitted when max(TAT, now) + T <= now + burst * T, and then TAT
 * becomes max(TAT, now) + T.  A bucket whose TAT is in the past is full.
 */
#include <arpa/inet.h>
#include <string.h>

#include "rate_limit_core.h"

/*
 * The emission interval of a per-minute limit, rounded up to the next ns:
 * rounded down, per_minute intervals would fall short of a minute and a
 * steady caller could get more than the quota in one (e.g. 100000000 in a
 * minute at 99999999 a minute, 600 ns apart).
 */
int64_t
ta_gcra_interval(int32_t per_minute)
{
	return (TA_GCRA_WINDOW_NS + per_minute - 1) / per_minute;
}

void
ta_gcra(int64_t tat, int64_t now, int32_t per_minute, int32_t burst, TaGcraResult *out)
{
	int64_t		interval = ta_gcra_interval(per_minute);
	int64_t		tolerance = interval * burst;
	int64_t		base;
	int64_t		next;
	int64_t		effective;

	/*
	 * Under constant limits tat never runs ahead of now + tolerance (an empty
	 * bucket).  It can after a reload raised the limit; the bucket is then
	 * empty under the new one and refills at the new rate from now.
	 */
	if (tat > now + tolerance)
		tat = now + tolerance;
	base = tat > now ? tat : now;
	next = base + interval;

	out->allowed = next - now <= tolerance;
	out->new_tat = out->allowed ? next : tat;
	effective = out->new_tat > now ? out->new_tat : now;
	out->remaining = (now + tolerance - effective) / interval;
	if (out->remaining < 0)
		out->remaining = 0;
	out->reset_ns = effective - now;
	out->retry_after_ns = out->allowed ? 0 : next - now - tolerance;
}

void
ta_gcra_charge(int64_t *tat, int64_t *last, int64_t now, int32_t per_minute, int32_t burst,
			   TaGcraResult *out)
{
	/*
	 * A caller reads the clock before it gets the bucket, so its now can be
	 * older than the last update's (it waited for the lock, or was not
	 * scheduled).  Such a now would make the clamp in ta_gcra() move tat
	 * back, refunding requests already admitted; the request is taken to
	 * arrive when the bucket was last updated instead.
	 */
	if (now < *last)
		now = *last;
	ta_gcra(*tat, now, per_minute, burst, out);
	*tat = out->new_tat;
	*last = now;
}

int64_t
ta_ceil_seconds(int64_t ns)
{
	return ns <= 0 ? 0 : (ns + TA_NS_PER_SEC - 1) / TA_NS_PER_SEC;
}

/* True if s is a TCP port: 1 to 5 ASCII digits, at most 65535. */
static bool
is_port(const char *s)
{
	long		value = 0;
	int			n = 0;

	if (*s == '\0')
		return false;
	for (; *s; s++, n++)
	{
		if (*s < '0' || *s > '9' || n == 5)
			return false;
		value = value * 10 + (*s - '0');
	}
	return value <= 65535;
}

bool
ta_parse_client_address(const char *s, size_t len, uint8_t out[16])
{
	static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	char		buf[64];
	char	   *start = buf;
	char	   *end;
	struct in_addr v4;
	struct in6_addr v6;

	while (len > 0 && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len == 0 || len >= sizeof(buf) || memchr(s, '\0', len) != NULL)
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';

	if (*start == '[')
	{
		/* [IPv6] or [IPv6]:port */
		end = strchr(start, ']');
		if (end == NULL || (end[1] != '\0' && (end[1] != ':' || !is_port(end + 2))))
			return false;
		*end = '\0';
		if (inet_pton(AF_INET6, start + 1, &v6) != 1)
			return false;
	}
	else if (inet_pton(AF_INET6, start, &v6) != 1)
	{
		/* IPv4, possibly with :port */
		char	   *colon = strchr(start, ':');

		if (colon != NULL)
		{
			if (!is_port(colon + 1))
				return false;
			*colon = '\0';
		}
		if (inet_pton(AF_INET, start, &v4) != 1)
			return false;
		memcpy(out, v4_mapped, 12);
		memcpy(out + 12, &v4, 4);
		return true;
	}

	memcpy(out, &v6, 16);
	if (memcmp(out, v4_mapped, 12) != 0)
		memset(out + 8, 0, 8);
	return true;
}
