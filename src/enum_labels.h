/*
 * enum_labels.h
 *		The labels of the extension's enum types, cached per backend so the
 *		error translation (src/error_map.c) can name every bad enum field
 *		without reading the catalogue inside the emit_log_hook.
 */
#ifndef TASK_API_ENUM_LABELS_H
#define TASK_API_ENUM_LABELS_H

/* Outside the hook (at the start of a request): fill the cache if it is stale. */
extern void ta_enum_labels_load(void);

/*
 * From the hook, reading only the cache: 0 if text is a label of the enum
 * type named `type` (schema.name, as PostgREST writes it), 1 if it is not,
 * -1 if the cache does not know the type.  Never throws.
 */
extern int	ta_enum_label_check(const char *type, const char *text);

#endif							/* TASK_API_ENUM_LABELS_H */
