/*
 * hmac_pg.c
 *		HMAC-SHA-256 for the jwt_codec tests, via libpgcommon's pg_hmac_*.
 */
#include "postgres_fe.h"

#include "common/hmac.h"
#include "common/sha2.h"

#include "hmac_pg.h"

bool
ta_test_hmac_sha256(const uint8_t *key, size_t keylen,
					const uint8_t *msg, size_t msglen, uint8_t *out)
{
	static const uint8 empty[1] = {0};
	pg_hmac_ctx *ctx;
	bool		ok;

	ctx = pg_hmac_create(PG_SHA256);
	if (ctx == NULL)
		return false;
	/* Never hand OpenSSL a NULL key or message pointer, even for length 0. */
	ok = pg_hmac_init(ctx, keylen ? (const uint8 *) key : empty, keylen) == 0 &&
		pg_hmac_update(ctx, msglen ? (const uint8 *) msg : empty, msglen) == 0 &&
		pg_hmac_final(ctx, (uint8 *) out, PG_SHA256_DIGEST_LENGTH) == 0;
	pg_hmac_free(ctx);
	return ok;
}
