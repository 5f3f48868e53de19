/*
 * cursor.h
 *		Pagination cursors in the server, under task_api.cursor_secret.
 */
#ifndef TASK_API_CURSOR_H
#define TASK_API_CURSOR_H

#include "cursor_codec.h"

#endif							/* TASK_API_CURSOR_H */
