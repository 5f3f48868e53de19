/*
 * replica.h
 *		Writes sent to a hot standby, as catalogue errors.
 */
#ifndef TASK_API_REPLICA_H
#define TASK_API_REPLICA_H

#include "utils/elog.h"

/* From the emit_log_hook: rewrite a write refused by a standby. */
extern void ta_replica_translate(ErrorData *edata, bool in_request);

#endif							/* TASK_API_REPLICA_H */
