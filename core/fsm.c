/* core/fsm.c: the update session state machine: the transition table [state][event], the one
 * function every transition goes through, and the state and event name tables (see fsm.dot). */
#include "core/fsm.h"

#include <string.h>

static const char *const STATE_NAMES[SESSION_STATE_COUNT] = {
    [SESSION_ACTIVE] = "ACTIVE",
    [SESSION_DONE] = "DONE",
    [SESSION_ERROR] = "ERROR",
    [SESSION_CANCELED] = "CANCELED",
};

static const char *const EVENT_NAMES[SESSION_EVENT_COUNT] = {
    [EV_COMPLETE] = "complete",
    [EV_CANCEL] = "cancel",
    [EV_FAIL] = "fail",
    [EV_EXPIRE] = "expire",
    [EV_KEEP_ALIVE] = "keep_alive",
    [EV_UPDATE] = "update",
    [EV_DELETE] = "delete",
    [EV_FILE_ADD] = "add",
    [EV_FILE_REMOVE] = "remove",
    [EV_FILE_VALIDATE] = "validate",
    [EV_FILE_TRANSFER] = "transfer",
};

/* Cells hold next state + 1 so that the zero an omitted initializer leaves means "not
 * allowed": a forgotten cell refuses the event instead of silently allowing it. */
#define TO(s) ((unsigned char)((s) + 1))
#define NOT_ALLOWED 0

static const unsigned char TABLE[SESSION_STATE_COUNT][SESSION_EVENT_COUNT] = {
    [SESSION_ACTIVE] = {
        [EV_COMPLETE] = TO(SESSION_DONE),
        [EV_CANCEL] = TO(SESSION_CANCELED),
        [EV_FAIL] = TO(SESSION_ERROR),
        [EV_EXPIRE] = TO(SESSION_ERROR),
        [EV_KEEP_ALIVE] = TO(SESSION_ACTIVE),
        [EV_UPDATE] = TO(SESSION_ACTIVE),
        [EV_DELETE] = NOT_ALLOWED,
        [EV_FILE_ADD] = TO(SESSION_ACTIVE),
        [EV_FILE_REMOVE] = TO(SESSION_ACTIVE),
        [EV_FILE_VALIDATE] = TO(SESSION_ACTIVE),
        [EV_FILE_TRANSFER] = TO(SESSION_ACTIVE),
    },
    /* Finished sessions only accept removal of their record. */
    [SESSION_DONE] = {[EV_DELETE] = TO(SESSION_DONE)},
    [SESSION_ERROR] = {[EV_DELETE] = TO(SESSION_ERROR)},
    [SESSION_CANCELED] = {[EV_DELETE] = TO(SESSION_CANCELED)},
};

bool session_event_for_operators(session_event_t ev) {
    return ev == EV_CANCEL || ev == EV_FAIL || ev == EV_DELETE;
}

const char *session_state_name(session_state_t s) {
    return (unsigned)s < SESSION_STATE_COUNT ? STATE_NAMES[s] : "UNKNOWN";
}

int session_state_parse(const char *name, session_state_t *out) {
    if (!name) return C_ERR;
    for (size_t i = 0; i < ARRAY_LEN(STATE_NAMES); i++) {
        if (strcmp(STATE_NAMES[i], name) == 0) {
            if (out) *out = (session_state_t)i;
            return C_OK;
        }
    }
    return C_ERR;
}

const char *session_event_name(session_event_t e) {
    return (unsigned)e < SESSION_EVENT_COUNT ? EVENT_NAMES[e] : "unknown";
}

bool session_state_terminal(session_state_t s) {
    return s == SESSION_DONE || s == SESSION_ERROR || s == SESSION_CANCELED;
}

/* The single gate for state changes: states read back from Redis may be anything, so values
 * outside the enums are refused rather than indexing past the table. */
int fsm_apply(session_state_t cur, session_event_t ev, session_state_t *next) {
    if ((unsigned)cur >= SESSION_STATE_COUNT || (unsigned)ev >= SESSION_EVENT_COUNT) return C_ERR;
    unsigned char cell = TABLE[cur][ev];
    if (cell == NOT_ALLOWED) return C_ERR;
    if (next) *next = (session_state_t)(cell - 1);
    return C_OK;
}
