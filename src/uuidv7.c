/*
 * uuidv7.c
 *		Time-ordered identifiers (RFC 9562 UUID version 7).
 *
 * Layout: 48 bits of Unix time in milliseconds, the version nibble, 12 bits
 * of sub-millisecond time (so ids made by one backend sort in the order they
 * were made), the variant bits and 62 random bits.  Keys that grow with time
 * keep B-tree inserts on the right-hand edge of the index.
 */
#include "postgres.h"

#include <time.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "port/pg_bswap.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "uuidv7.h"

/*
 * Random bytes for new ids (UUIDs here, request ids in trace.c), drawn from
 * pg_strong_random() 512 bytes at a time: each call of it checks and polls
 * OpenSSL's generator first (RAND_status), which cost more than the 8 or 16
 * bytes an id takes.  Filled in the backend that uses them (never inherited
 * across a fork), each byte handed out once and wiped.
 */
static uint8 random_pool[512];
static size_t random_used = sizeof(random_pool);
static int	random_pid = 0;

void
ta_random_bytes(uint8 *out, size_t n)
{
	Assert(n <= sizeof(random_pool));
	if (random_used + n > sizeof(random_pool) || random_pid != MyProcPid)
	{
		if (!pg_strong_random(random_pool, sizeof(random_pool)))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate random bytes for an id")));
		random_used = 0;
		random_pid = MyProcPid;
	}
	memcpy(out, random_pool + random_used, n);
	memset(random_pool + random_used, 0, n);
	random_used += n;
}

/* Last (ms, sub-ms) pair handed out by this backend, to stay monotonic. */
static uint64 last_unix_ms = 0;
static uint32 last_sub_ms = 0;

/* Fill uuid with a fresh UUIDv7 for the current time. */
void
ta_uuidv7(pg_uuid_t *uuid)
{
	struct timespec ts;
	uint64		unix_ms;
	uint32		sub_ms;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not read the system clock: %m")));

	unix_ms = (uint64) ts.tv_sec * 1000 + (uint64) ts.tv_nsec / 1000000;
	/* Fraction of the millisecond scaled to 12 bits (0..4095). */
	sub_ms = (uint32) (((uint64) (ts.tv_nsec % 1000000) * 4096) / 1000000);

	/* Never go backwards within this backend, even if the clock does. */
	if (unix_ms < last_unix_ms ||
		(unix_ms == last_unix_ms && sub_ms <= last_sub_ms))
	{
		unix_ms = last_unix_ms;
		sub_ms = last_sub_ms + 1;
		if (sub_ms > 0xFFF)
		{
			unix_ms++;
			sub_ms = 0;
		}
	}
	last_unix_ms = unix_ms;
	last_sub_ms = sub_ms;

	ta_random_bytes(&uuid->data[8], 8);

	uuid->data[0] = (unsigned char) (unix_ms >> 40);
	uuid->data[1] = (unsigned char) (unix_ms >> 32);
	uuid->data[2] = (unsigned char) (unix_ms >> 24);
	uuid->data[3] = (unsigned char) (unix_ms >> 16);
	uuid->data[4] = (unsigned char) (unix_ms >> 8);
	uuid->data[5] = (unsigned char) unix_ms;
	uuid->data[6] = (unsigned char) (0x70 | ((sub_ms >> 8) & 0x0F));
	uuid->data[7] = (unsigned char) (sub_ms & 0xFF);
	uuid->data[8] = (unsigned char) (0x80 | (uuid->data[8] & 0x3F));
}

PG_FUNCTION_INFO_V1(task_api_uuidv7);

/* SQL-callable generator used as the default of every id column. */
Datum
task_api_uuidv7(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *uuid = palloc(sizeof(pg_uuid_t));

	ta_uuidv7(uuid);
	PG_RETURN_UUID_P(uuid);
}

PG_FUNCTION_INFO_V1(task_api_uuidv7_time);

/*
 * Creation time embedded in a UUIDv7, so callers can range-filter by id;
 * NULL for UUIDs of other versions.
 */
Datum
task_api_uuidv7_time(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *uuid = PG_GETARG_UUID_P(0);
	uint64		unix_ms = 0;
	TimestampTz ts;

	if ((uuid->data[6] >> 4) != 7 || (uuid->data[8] & 0xC0) != 0x80)
		PG_RETURN_NULL();

	for (int i = 0; i < 6; i++)
		unix_ms = (unix_ms << 8) | uuid->data[i];

	ts = (TimestampTz) unix_ms * 1000 -
		((TimestampTz) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY);
	PG_RETURN_TIMESTAMPTZ(ts);
}
