/*
 * json_pairs.h
 *		Collect the scalar members of the flat JSON objects PostgREST hands us.
 */
#ifndef TASK_API_JSON_PAIRS_H
#define TASK_API_JSON_PAIRS_H

typedef struct TaPairs
{
	int			count;
	int			capacity;
	char	  **names;
	char	  **values;		/* NULL for JSON null */
} TaPairs;

/*
 * Parse json and collect the scalar members of objects found at nesting
 * depth `depth` (1: a top-level object; 2: objects inside a top-level
 * array).  Nested arrays and objects inside those objects are skipped.
 * Returns false, leaving `out` empty, if json is not valid JSON.
 */
extern bool ta_json_collect_pairs(const char *json, int depth, TaPairs *out);

/* Value of the last pair called `name` (exact match), or NULL. */
extern const char *ta_pairs_get(const TaPairs *pairs, const char *name, bool *found);

#endif							/* TASK_API_JSON_PAIRS_H */
