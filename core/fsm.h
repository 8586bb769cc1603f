/* core/fsm.h: the update session state machine. One table [state][event] -> next state or
 * "not allowed", one fsm_apply() every transition goes through, and the name tables used in
 * logs, Redis records and messages. Drawn in core/fsm.dot. */
#ifndef CORE_FSM_H
#define CORE_FSM_H

#include "core/common.h"

typedef enum {
    SESSION_ACTIVE,
    SESSION_DONE,
    SESSION_ERROR,
    SESSION_CANCELED,
    SESSION_STATE_COUNT
} session_state_t;

typedef enum {
    EV_COMPLETE,
    EV_CANCEL,
    EV_FAIL,
    EV_EXPIRE,
    EV_KEEP_ALIVE,
    EV_UPDATE,      /* PATCH warning_behavior */
    EV_DELETE,      /* DELETE of the session record: only from a terminal state */
    EV_FILE_ADD,
    EV_FILE_REMOVE,
    EV_FILE_VALIDATE,
    EV_FILE_TRANSFER, /* upload/pull bytes arriving */
    SESSION_EVENT_COUNT
} session_event_t;

/* "ACTIVE", "DONE", "ERROR", "CANCELED" (the wire names). */
const char *session_state_name(session_state_t s);
int session_state_parse(const char *name, session_state_t *out);
/* The operation name used in messages: "complete", "cancel", "fail", "expire", "keep_alive",
 * "update", "delete", "add", "remove", "validate", "transfer". */
const char *session_event_name(session_event_t e);
bool session_state_terminal(session_state_t s);

/* The owner rule: an update session belongs to the user who created it; every event is the
 * owner's. An operator (Sessions.TerminateSession) may also apply these to any session: cancel,
 * fail and delete (cleaning up), besides reading it. */
bool session_event_for_operators(session_event_t ev);

/* Decides whether `ev` is legal in state `cur`. On C_OK *next is the state after the event
 * (equal to cur for events that do not change state). On C_ERR *next is untouched. */
int fsm_apply(session_state_t cur, session_event_t ev, session_state_t *next);

#endif
