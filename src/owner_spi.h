/*
 * owner_spi.h
 *		Every SPI statement of the library: fixed lookups run as the owner of
 *		the task_api tables, and the triggers' statements run as the caller.
 */
#ifndef TASK_API_OWNER_SPI_H
#define TASK_API_OWNER_SPI_H

#include "executor/spi.h"

/*
 * One statement: sql is prepared into *plan on first use (pinned search
 * path, kept for the backend's life) and then executed with args (and
 * nulls, SPI's ' '/'n' flags, or NULL).
 */
typedef struct TaSpiQuery
{
	SPIPlanPtr *plan;
	const char *sql;
	int			nargs;
	Oid		   *argtypes;
	Datum	   *args;
	const char *nulls;
	bool		read_only;
} TaSpiQuery;

/* Receives every row of an owner-run query, while SPI is still connected. */
typedef void (*ta_owner_rows_fn) (SPITupleTable *tuptable, uint64 nrows, void *arg);

/* The OID of task_api.<name> (a table or sequence); an error if it is missing. */
extern Oid	ta_task_api_relid(const char *name);

/* The role that owns task_api.project_members (the extension's creator). */
extern Oid	ta_tables_owner(void);

/*
 * Run sql, prepared once into *plan, as the tables' owner; copy the first
 * row's first ncols columns into values/nulls (allocated in the caller's
 * memory context).  Returns false when there is no row.
 */
extern bool ta_owner_query_row(SPIPlanPtr *plan, const char *sql,
							   int nargs, Oid *argtypes, Datum *args,
							   bool read_only, int ncols, Datum *values, bool *nulls);

/* Run every row of q as the tables' owner through fn. */
extern void ta_owner_query_rows(const TaSpiQuery *q, ta_owner_rows_fn fn, void *arg);

/* Run q as the caller (row-level security applies); returns SPI's code. */
extern int	ta_spi_run(const TaSpiQuery *q);

/* Does q, run as the caller, return a row? */
extern bool ta_spi_exists(const TaSpiQuery *q);

#endif							/* TASK_API_OWNER_SPI_H */
