/*
 * session_slide.h
 *		Cookie sessions that slide (session_slide.c).
 */
#ifndef TASK_API_SESSION_SLIDE_H
#define TASK_API_SESSION_SLIDE_H

#include "jwt_codec.h"
#include "utils/uuid.h"

/*
 * The request was authenticated by this session cookie: past half its
 * life, send a new one for the same session.
 */
extern void ta_session_slide(const ta_jwt_claims *claims, const pg_uuid_t *session_id);

#endif							/* TASK_API_SESSION_SLIDE_H */
