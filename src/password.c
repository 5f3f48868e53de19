/*
 * password.c
 *		Password hashing: Argon2id (libsodium), and the SCRAM-SHA-256
 *		verifiers of earlier releases.
 *
 * New hashes are Argon2id in the PHC string format libsodium writes
 * ("$argon2id$v=19$m=<KiB>,t=<passes>,p=1$<salt>$<hash>") with
 * task_api.password_memory and task_api.password_time_cost.  Release 0.1.0
 * stored SCRAM-SHA-256 verifiers ("SCRAM-SHA-256$<iterations>:<salt>$
 * <StoredKey>:<ServerKey>", PBKDF2-HMAC-SHA-256, PostgreSQL's own
 * routines): they still verify, and password_needs_rehash() tells login to
 * replace them.  An unknown user is checked against a dummy Argon2id hash
 * of the current cost, so the answer takes the same time either way.
 * Passwords are SASLprep-normalized first, as PostgreSQL does.
 */
#include "postgres.h"

#include "common/base64.h"
#include "common/saslprep.h"
#include "common/scram-common.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include <sodium.h>

#include "guc.h"
#include "codec_util.h"

#define ARGON2ID_PREFIX "$argon2id$"
#define SCRAM_PREFIX "SCRAM-SHA-256$"

/* Longer passwords are refused by the API; this only bounds the work. */
#define MAX_PASSWORD_BYTES 1024

/* SASLprep the password as PostgreSQL does, falling back to the raw bytes. */
static const char *
prepared(const char *password)
{
	char	   *prep;

	if (pg_saslprep(password, &prep) == SASLPREP_SUCCESS)
		return prep;
	return password;
}

/* The configured Argon2id memory cost in bytes. */
static size_t
argon2_memlimit(void)
{
	return (size_t) ta_password_memory * 1024;
}

/* A fresh Argon2id hash of password with the configured cost. */
static char *
build_hash(const char *password)
{
	const char *prep = prepared(password);
	char	   *out = palloc(crypto_pwhash_STRBYTES);

	if (crypto_pwhash_str_alg(out, prep, strlen(prep), (unsigned long long) ta_password_time_cost,
							  argon2_memlimit(), crypto_pwhash_ALG_ARGON2ID13) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not hash the password"),
				 errdetail("Argon2id needs %d kB of memory (task_api.password_memory).",
						   ta_password_memory)));
	return out;
}

/* Check password against an Argon2id hash; false for one that does not parse. */
static bool
verify_argon2id(const char *password, const char *hash)
{
	const char *prep = prepared(password);

	return crypto_pwhash_str_verify(hash, prep, strlen(prep)) == 0;
}

/* Decode one base64 field of a verifier into dst; its length, or -1. */
static int
decode_field(const char *start, const char *end, char *dst, int dstcap)
{
	int			len = (int) (end - start);

	if (len <= 0 || pg_b64_dec_len(len) > dstcap)
		return -1;
	return pg_b64_decode(start, len, dst, dstcap);
}

/*
 * Check password against a verifier "SCRAM-SHA-256$<iterations>:<salt>$
 * <StoredKey>:<ServerKey>" by recomputing ServerKey; false for a verifier
 * that does not parse.
 */
static bool
verify_scram(const char *password, const char *verifier)
{
	const char *prefix = SCRAM_PREFIX;
	const char *p,
			   *colon1,
			   *dollar,
			   *colon2;
	char	   *endptr;
	long		iterations;
	char		salt[64];
	char		server_key[SCRAM_KEY_LEN + 8];
	uint8		salted[SCRAM_KEY_LEN];
	uint8		computed[SCRAM_KEY_LEN];
	int			saltlen;
	const char *errstr = NULL;

	if (strncmp(verifier, prefix, strlen(prefix)) != 0)
		return false;
	p = verifier + strlen(prefix);
	iterations = strtol(p, &endptr, 10);
	if (endptr == p || *endptr != ':' || iterations < 1 || iterations > 100000000)
		return false;
	colon1 = endptr;
	dollar = strchr(colon1 + 1, '$');
	if (dollar == NULL)
		return false;
	colon2 = strchr(dollar + 1, ':');
	if (colon2 == NULL)
		return false;
	saltlen = decode_field(colon1 + 1, dollar, salt, sizeof(salt));
	if (saltlen <= 0 ||
		decode_field(colon2 + 1, colon2 + 1 + strlen(colon2 + 1), server_key,
					 sizeof(server_key)) != SCRAM_KEY_LEN)
		return false;

	if (scram_SaltedPassword(prepared(password), salt, saltlen, (int) iterations,
							 salted, &errstr) < 0 ||
		scram_ServerKey(salted, computed, &errstr) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not verify the password: %s", errstr ? errstr : "unknown error")));
	return ta_timing_safe_equal(computed, (const uint8 *) server_key, SCRAM_KEY_LEN);
}

/* Refuse oversized input before doing any work on it. */
static void
check_length(const char *password)
{
	if (strlen(password) > MAX_PASSWORD_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("password is longer than %d bytes", MAX_PASSWORD_BYTES)));
}

PG_FUNCTION_INFO_V1(task_api_password_hash);

/* Hash a password with Argon2id at the configured cost. */
Datum
task_api_password_hash(PG_FUNCTION_ARGS)
{
	char	   *password = text_to_cstring(PG_GETARG_TEXT_PP(0));

	check_length(password);
	PG_RETURN_TEXT_P(cstring_to_text(build_hash(password)));
}

/*
 * A dummy Argon2id hash of the current cost, written without hashing (only
 * its parameters and salt matter: nothing matches it), so even the first
 * login for an unknown email takes the usual time.
 */
static const char *
dummy_hash(void)
{
	static char *dummy = NULL;
	static int	dummy_memory = 0;
	static int	dummy_time = 0;

	if (dummy == NULL || dummy_memory != ta_password_memory || dummy_time != ta_password_time_cost)
	{
		if (dummy)
			pfree(dummy);
		dummy = MemoryContextStrdup(TopMemoryContext,
									psprintf("$argon2id$v=19$m=%d,t=%d,p=1$%s$%s",
											 ta_password_memory, ta_password_time_cost,
											 "dGFza19hcGkgZHVtbXk",
											 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
		dummy_memory = ta_password_memory;
		dummy_time = ta_password_time_cost;
	}
	return dummy;
}

/* Does password match a stored hash of either kind? */
static bool
verify_any(const char *password, const char *hash)
{
	if (strncmp(hash, ARGON2ID_PREFIX, strlen(ARGON2ID_PREFIX)) == 0)
		return verify_argon2id(password, hash);
	return verify_scram(password, hash);
}

PG_FUNCTION_INFO_V1(task_api_password_verify);

/*
 * Does password match the stored hash (Argon2id, or a SCRAM-SHA-256
 * verifier of an earlier release)?  A NULL hash (no such user) is checked
 * against a dummy one of the current cost and answers false.
 */
Datum
task_api_password_verify(PG_FUNCTION_ARGS)
{
	char	   *password;

	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	password = text_to_cstring(PG_GETARG_TEXT_PP(0));
	check_length(password);

	if (PG_ARGISNULL(1))
	{
		(void) verify_argon2id(password, dummy_hash());
		PG_RETURN_BOOL(false);
	}
	PG_RETURN_BOOL(verify_any(password, text_to_cstring(PG_GETARG_TEXT_PP(1))));
}

PG_FUNCTION_INFO_V1(task_api_password_needs_rehash);

/*
 * Should a stored hash be replaced by one made now: it is not Argon2id, or
 * was made with another memory or time cost?  login() re-hashes on the next
 * successful sign-in, so every account costs what an unknown email costs.
 */
Datum
task_api_password_needs_rehash(PG_FUNCTION_ARGS)
{
	char	   *hash = text_to_cstring(PG_GETARG_TEXT_PP(0));

	if (strncmp(hash, ARGON2ID_PREFIX, strlen(ARGON2ID_PREFIX)) != 0)
		PG_RETURN_BOOL(true);
	PG_RETURN_BOOL(crypto_pwhash_str_needs_rehash(hash, (unsigned long long) ta_password_time_cost,
												  argon2_memlimit()) != 0);
}
