/*
 * credential_lookup.h
 *		Sessions and API keys read from their primary-key index
 *		(credential_lookup.c).
 */
#ifndef TASK_API_CREDENTIAL_LOOKUP_H
#define TASK_API_CREDENTIAL_LOOKUP_H

#include "datatype/timestamp.h"
#include "utils/uuid.h"

/* Register the relcache callback that forgets the tables' OIDs. */
extern void ta_credential_init(void);

/* kind 's' or 'k': is id the user's and unrevoked, and when does it expire? */
extern void ta_credential_lookup(char kind, const pg_uuid_t *id, const pg_uuid_t *user_id,
								 bool *ok, TimestampTz *expires);

/*
 * Are the credentials in Citus tables (distribute() ran)?  Known once per
 * backend, until the table's relcache entry goes.
 */
extern bool ta_credentials_on_citus(void);

#endif							/* TASK_API_CREDENTIAL_LOOKUP_H */
