/*
 * task_api.h
 *		Declarations shared by the task_api modules.
 */
#ifndef TASK_API_H
#define TASK_API_H

/* TASK_API_VERSION, the library's version, comes from task_api.control (Makefile). */

/* True when the library was loaded through shared_preload_libraries. */
extern bool ta_preloaded;

#include "fmgr.h"
#include "access/tupdesc.h"

/* The calling function's row type, looked up once per call site (task_api.c). */
extern TupleDesc ta_result_desc(FunctionCallInfo fcinfo);

/* True while pg_restore (or a pg_dump script) loads rows: see task_api.c. */
extern bool ta_restoring(void);

#endif							/* TASK_API_H */
