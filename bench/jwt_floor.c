/*
 * jwt_floor.c
 *		The floor of task_api.jwt_verify()'s benchmark (scripts/bench-auth.sh):
 *		a C function of the same signature, (token text, OUT valid boolean,
 *		OUT reason text, OUT claims json), that verifies nothing and returns
 *		a constant row of the same shape (the claims text of a session
 *		token, as jwt_verify() returns it).  Called in the same query form,
 *		what it costs is the SQL machinery of a row-returning function in
 *		FROM (the call, its row built and put through a tuplestore), which
 *		no verifier can go below.  Built and loaded by the benchmark only;
 *		never part of the extension.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(jwt_floor);

/* The claims jwt_verify() returns for the benchmark's session token. */
static const char claims[] =
"{\"sub\": \"01900000-0000-7000-8000-0000000000c1\", \"role\": \"task_api_user\", "
"\"iat\": 1796581932, \"exp\": 1796585532, \"jti\": \"01a24ca0-be44-7b11-b23b-7d1c5025fd44\"}";

/* The row type, looked up once per call site as ta_result_desc() does. */
static TupleDesc
result_desc(FunctionCallInfo fcinfo)
{
	TupleDesc	desc = fcinfo->flinfo->fn_extra;

	if (desc == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "return type must be a row type");
		desc = BlessTupleDesc(CreateTupleDescCopy(desc));
		MemoryContextSwitchTo(old);
		fcinfo->flinfo->fn_extra = desc;
	}
	return desc;
}

Datum
jwt_floor(PG_FUNCTION_ARGS)
{
	TupleDesc	desc = result_desc(fcinfo);
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	text	   *t = palloc(VARHDRSZ + sizeof(claims) - 1);

	(void) PG_GETARG_TEXT_PP(0);
	SET_VARSIZE(t, VARHDRSZ + sizeof(claims) - 1);
	memcpy(VARDATA(t), claims, sizeof(claims) - 1);
	values[0] = BoolGetDatum(true);
	values[1] = CStringGetTextDatum("valid");
	values[2] = PointerGetDatum(t);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
