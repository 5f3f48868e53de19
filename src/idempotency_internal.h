/*
 * idempotency_internal.h
 *		What the parts of the Idempotency-Key protocol share: the request
 *		being served and the functions each part offers the others.
 *
 *	idempotency.c				the RPC entry points and the requests' lifetime
 *	idempotency_triggers.c		the four triggers on the API views
 *	idempotency_fingerprint.c	the canonical serialization and its SHA-256
 *	idempotency_rows.c			view rows as JSON and back
 *	idempotency_store.c			the caller's key row: claim, replay, record
 */
#ifndef TASK_API_IDEMPOTENCY_INTERNAL_H
#define TASK_API_IDEMPOTENCY_INTERNAL_H

#include "access/htup.h"
#include "lib/stringinfo.h"
#include "nodes/bitmapset.h"
#include "nodes/pg_list.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

typedef enum IdemMode
{
	IDEM_EXECUTE,				/* the key is ours: run and record */
	IDEM_REPLAY					/* the key holds a committed response */
} IdemMode;

/* One request that carries a key, from claim to record (or replay). */
typedef struct IdemRequest
{
	MemoryContext cxt;			/* owns this struct and everything below */
	SubTransactionId subid;		/* subtransaction that claimed the key */
	IdemMode	mode;
	const char *caller_kind;	/* "user" or "api_key" */
	pg_uuid_t	caller_id;
	pg_uuid_t	user_id;
	char	   *key;
	char	   *method;
	char	   *path;
	bytea	   *fingerprint;	/* RPCs: known at the claim */

	/* INSERT and UPDATE on a view */
	bool		is_update;
	Bitmapset  *setcols;		/* UPDATE: the SET columns */
	int			nrows;
	StringInfoData canon;		/* INSERT: canonical rows so far */
	List	   *row_canons;		/* UPDATE: StringInfo per row, sorted later */
	StringInfoData response;	/* execute: the JSON rows produced */

	/* the stored request, when replaying */
	char	   *stored_method;
	char	   *stored_path;
	bytea	   *stored_fingerprint;
	int			stored_status;	/* -1 while its request is in flight */
	Jsonb	   *stored_response;
	char	   *stored_etag;
} IdemRequest;

/* The INSERT or UPDATE statement in progress (idempotency.c owns it). */
extern IdemRequest *idem_stmt_request;

/* idempotency.c */
extern void idem_discard(IdemRequest **request);

/* idempotency_fingerprint.c */
extern void idem_canon_jsonb(StringInfo out, Jsonb *j);
extern bytea *idem_fingerprint(const char *method, const char *path,
							   const char *canon, size_t len);
extern bool idem_same_bytea(const bytea *a, const bytea *b);

/* idempotency_rows.c */
extern char *idem_row_json(HeapTuple tuple, TupleDesc desc);
extern Jsonb *idem_row_jsonb(HeapTuple tuple, TupleDesc desc);
extern HeapTuple idem_jsonb_to_tuple(TupleDesc desc, JsonbContainer *obj);
extern char *idem_row_id(HeapTuple tuple, TupleDesc desc);
extern Jsonb *idem_update_entry(const IdemRequest *r, HeapTuple oldtup,
								HeapTuple newtup, TupleDesc desc);
extern JsonbContainer *idem_stored_row_by_id(const IdemRequest *r, const char *id);
extern JsonbContainer *idem_stored_row_at(const IdemRequest *r, int i);

/* idempotency_store.c */
extern IdemRequest *idem_start_request(void);
extern void idem_claim(IdemRequest *r);
extern void idem_record(IdemRequest *r, bytea *fp, int status, Jsonb *response,
						const char *etag);
extern void idem_key_reused(const IdemRequest *r) pg_attribute_noreturn();
extern char *idem_current_etag(void);

#endif							/* TASK_API_IDEMPOTENCY_INTERNAL_H */
