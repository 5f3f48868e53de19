/*
 * password.c
 *		Password hashing with PostgreSQL's own SCRAM-SHA-256 routines.
 *
 * Secrets are SCRAM-SHA-256 verifiers ("SCRAM-SHA-256$<iterations>:<salt>$
 * <StoredKey>:<ServerKey>"), the format PostgreSQL stores role passwords
 * in: PBKDF2-HMAC-SHA-256 with a random salt and task_api.password_iterations
 * rounds.  Verification recomputes the keys; an unknown user is checked
 * against a dummy verifier with the same cost, so the answer takes the same
 * time either way.
 */
#include "postgres.h"

#include "common/base64.h"
#include "common/saslprep.h"
#include "common/scram-common.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "guc.h"
#include "jwt_codec.h"

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

/* A fresh verifier for password with the configured cost. */
static char *
build_verifier(const char *password)
{
	char		salt[SCRAM_DEFAULT_SALT_LEN];
	const char *errstr = NULL;
	char	   *secret;

	if (!pg_strong_random(salt, sizeof(salt)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random salt")));
	secret = scram_build_secret(salt, sizeof(salt), ta_password_iterations,
								prepared(password), &errstr);
	if (secret == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not hash the password: %s", errstr ? errstr : "unknown error")));
	return secret;
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
	const char *prefix = "SCRAM-SHA-256$";
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

/* Hash a password into a SCRAM-SHA-256 verifier. */
Datum
task_api_password_hash(PG_FUNCTION_ARGS)
{
	char	   *password = text_to_cstring(PG_GETARG_TEXT_PP(0));

	check_length(password);
	PG_RETURN_TEXT_P(cstring_to_text(build_verifier(password)));
}

PG_FUNCTION_INFO_V1(task_api_password_verify);

/*
 * Does password match verifier?  A NULL verifier (no such user) is checked
 * against a dummy one of the same cost and answers false.
 */
Datum
task_api_password_verify(PG_FUNCTION_ARGS)
{
	static char *dummy = NULL;
	static int	dummy_iterations = 0;
	char	   *password;
	bool		ok;

	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	password = text_to_cstring(PG_GETARG_TEXT_PP(0));
	check_length(password);

	if (PG_ARGISNULL(1))
	{
		/*
		 * No such user: the same PBKDF2 work against a verifier of the
		 * current cost, built without hashing (only its salt and iteration
		 * count matter), so even the first such login takes the usual time.
		 */
		if (dummy == NULL || dummy_iterations != ta_password_iterations)
		{
			if (dummy)
				pfree(dummy);
			dummy = MemoryContextStrdup(TopMemoryContext,
										psprintf("SCRAM-SHA-256$%d:%s$%s:%s", ta_password_iterations,
												 "dGFza19hcGkgZHVtbXk=",
												 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
												 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
			dummy_iterations = ta_password_iterations;
		}
		(void) verify_scram(password, dummy);
		PG_RETURN_BOOL(false);
	}

	ok = verify_scram(password, text_to_cstring(PG_GETARG_TEXT_PP(1)));
	PG_RETURN_BOOL(ok);
}
