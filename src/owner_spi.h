/*
 * owner_spi.h
 *		Fixed lookups run as the owner of the task_api tables.
 */
#ifndef TASK_API_OWNER_SPI_H
#define TASK_API_OWNER_SPI_H

#include "executor/spi.h"

/* The role that owns task_api.project_members (the extension's creator). */
extern Oid	ta_tables_owner(void);

/* SPI_prepare with only pg_catalog on the search path. */
extern SPIPlanPtr ta_prepare_pinned(const char *sql, int nargs, Oid *argtypes);

/*
 * Run sql, prepared once into *plan, as the tables' owner; copy the first
 * row's first ncols columns into values/nulls (allocated in the caller's
 * memory context).  Returns false when there is no row.
 */
extern bool ta_owner_query_row(SPIPlanPtr *plan, const char *sql,
							   int nargs, Oid *argtypes, Datum *args,
							   bool read_only, int ncols, Datum *values, bool *nulls);

#endif							/* TASK_API_OWNER_SPI_H */
