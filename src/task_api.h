/*
 * task_api.h
 *		Declarations shared by the task_api modules.
 */
#ifndef TASK_API_H
#define TASK_API_H

#define TASK_API_VERSION "0.1.0"

/* True when the library was loaded through shared_preload_libraries. */
extern bool ta_preloaded;

#endif							/* TASK_API_H */
