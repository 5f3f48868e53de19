/*
 * pre_request.h
 *		The request gate: who the caller is, the limits, before the query.
 */
#ifndef TASK_API_PRE_REQUEST_H
#define TASK_API_PRE_REQUEST_H

/* When preloading: run the gate at the end of PostgREST's first statement. */
extern void ta_gate_init(void);

/* Has the gate run in this transaction? */
extern bool ta_gate_ran(void);

/*
 * Refuse a request to the API (ta_request_for_api()) that no gate checked;
 * outside one, do nothing.
 */
extern void ta_gate_require(void);

#endif
