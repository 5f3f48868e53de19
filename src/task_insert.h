/*
 * task_insert.h
 *		POST /tasks: validation in C and one set-based insert per statement.
 */
#ifndef TASK_API_TASK_INSERT_H
#define TASK_API_TASK_INSERT_H

extern void ta_task_insert_init(void);

#endif							/* TASK_API_TASK_INSERT_H */
