/* core/transfer.c: the file-transfer machine and the completion machine (core/transfer.h,
 * drawn in core/transfer.dot): their tables, apply functions, name tables and the encoding the
 * store hands to its scripts. */
#include "core/transfer.h"

#include <stdio.h>

#include "core/json_field.h"

static const char *const TRANSFER_EVENT_NAMES[TRANSFER_EVENT_COUNT] = {
    [TEV_ADD_PUSH] = "add_push", [TEV_ADD_PULL] = "add_pull", [TEV_BEGIN] = "begin",
    [TEV_RESUME] = "resume",     [TEV_PROGRESS] = "progress", [TEV_PAUSE] = "pause",
    [TEV_READY] = "ready",       [TEV_FAIL] = "fail",         [TEV_REMOVE] = "remove",
};

static const char *const COMPLETION_STATE_NAMES[COMPLETION_STATE_COUNT] = {
    [COMPLETION_OPEN] = "OPEN", [COMPLETION_COMPLETING] = "COMPLETING",
    [COMPLETION_ABORTED] = "ABORTED",
};

static const char *const COMPLETION_EVENT_NAMES[COMPLETION_EVENT_COUNT] = {
    [CEV_FILE_CHANGE] = "file_change", [CEV_REQUEST] = "request",
    [CEV_PULL_READY] = "pull_ready",   [CEV_PULL_FAILED] = "pull_failed",
    [CEV_RETRACT] = "retract",
};

/* Cells hold next state + 1: the zero an omitted initializer leaves refuses (as core/fsm.c). */
#define TO(s) ((unsigned char)((s) + 1))

#define W TRANSFER_WAITING_FOR_TRANSFER
#define T TRANSFER_TRANSFERRING
#define R TRANSFER_READY
#define E TRANSFER_ERROR

/* A file being moved refuses everything but its mover's own events and removal (which ends the
 * transfer). A READY file can be replaced (add, PUT) but not appended to. VALIDATING is never
 * entered (files are checked as their bytes arrive) and refuses everything. */
static const unsigned char TRANSFER_TABLE[TRANSFER_STATUS_COUNT][TRANSFER_EVENT_COUNT] = {
    [W] = {[TEV_ADD_PUSH] = TO(W), [TEV_ADD_PULL] = TO(T), [TEV_BEGIN] = TO(T),
           [TEV_RESUME] = TO(T), [TEV_REMOVE] = TO(W)},
    [T] = {[TEV_PROGRESS] = TO(T), [TEV_PAUSE] = TO(W), [TEV_READY] = TO(R), [TEV_FAIL] = TO(E),
           [TEV_REMOVE] = TO(T)},
    [R] = {[TEV_ADD_PUSH] = TO(W), [TEV_ADD_PULL] = TO(T), [TEV_BEGIN] = TO(T),
           [TEV_REMOVE] = TO(R)},
    [E] = {[TEV_ADD_PUSH] = TO(W), [TEV_ADD_PULL] = TO(T), [TEV_BEGIN] = TO(T),
           [TEV_RESUME] = TO(T), [TEV_REMOVE] = TO(E)},
};

#undef W
#undef T
#undef R
#undef E

/* Completion: the file set is frozen while COMPLETING; a failed pull aborts the completion
 * (the store then fails the session). */
static const unsigned char COMPLETION_TABLE[COMPLETION_STATE_COUNT][COMPLETION_EVENT_COUNT] = {
    [COMPLETION_OPEN] = {[CEV_FILE_CHANGE] = TO(COMPLETION_OPEN),
                         [CEV_REQUEST] = TO(COMPLETION_COMPLETING),
                         [CEV_PULL_READY] = TO(COMPLETION_OPEN),
                         [CEV_PULL_FAILED] = TO(COMPLETION_OPEN),
                         [CEV_RETRACT] = TO(COMPLETION_OPEN)},
    [COMPLETION_COMPLETING] = {[CEV_REQUEST] = TO(COMPLETION_COMPLETING),
                               [CEV_PULL_READY] = TO(COMPLETION_COMPLETING),
                               [CEV_PULL_FAILED] = TO(COMPLETION_ABORTED),
                               [CEV_RETRACT] = TO(COMPLETION_OPEN)},
};

const char *transfer_event_name(transfer_event_t e) {
    return name_table_name(TRANSFER_EVENT_NAMES, TRANSFER_EVENT_COUNT, (int)e);
}

int transfer_apply(transfer_status_t cur, transfer_event_t ev, transfer_status_t *next) {
    if ((unsigned)cur >= TRANSFER_STATUS_COUNT || (unsigned)ev >= TRANSFER_EVENT_COUNT) return C_ERR;
    unsigned char cell = TRANSFER_TABLE[cur][ev];
    if (!cell) return C_ERR;
    if (next) *next = (transfer_status_t)(cell - 1);
    return C_OK;
}

transfer_status_t transfer_lapsed_state(source_type_t source) {
    return source == SOURCE_PULL ? TRANSFER_ERROR : TRANSFER_WAITING_FOR_TRANSFER;
}

/* "NAME=NEXT " for every state the apply function accepts ev in. */
static int encode(int nstates, int ev, int (*apply)(int, int, int *), const char *(*name)(int),
                  char *out, size_t size) {
    size_t used = 0;
    if (size == 0) return C_ERR;
    out[0] = '\0';
    for (int s = 0; s < nstates; s++) {
        int next;
        if (apply(s, ev, &next) != C_OK) continue;
        int n = snprintf(out + used, size - used, "%s=%s ", name(s), name(next));
        if (n < 0 || (size_t)n >= size - used) return C_ERR;
        used += (size_t)n;
    }
    return C_OK;
}

static int transfer_apply_int(int s, int ev, int *next) {
    transfer_status_t n;
    if (transfer_apply((transfer_status_t)s, (transfer_event_t)ev, &n) != C_OK) return C_ERR;
    *next = (int)n;
    return C_OK;
}
static const char *transfer_name_int(int s) { return transfer_status_name((transfer_status_t)s); }

int transfer_encode(transfer_event_t ev, char *out, size_t size) {
    return encode(TRANSFER_STATUS_COUNT, (int)ev, transfer_apply_int, transfer_name_int, out, size);
}

const char *completion_state_name(completion_state_t s) {
    return name_table_name(COMPLETION_STATE_NAMES, COMPLETION_STATE_COUNT, (int)s);
}

const char *completion_event_name(completion_event_t e) {
    return name_table_name(COMPLETION_EVENT_NAMES, COMPLETION_EVENT_COUNT, (int)e);
}

int completion_apply(completion_state_t cur, completion_event_t ev, completion_state_t *next) {
    if ((unsigned)cur >= COMPLETION_STATE_COUNT || (unsigned)ev >= COMPLETION_EVENT_COUNT)
        return C_ERR;
    unsigned char cell = COMPLETION_TABLE[cur][ev];
    if (!cell) return C_ERR;
    if (next) *next = (completion_state_t)(cell - 1);
    return C_OK;
}

static int completion_apply_int(int s, int ev, int *next) {
    completion_state_t n;
    if (completion_apply((completion_state_t)s, (completion_event_t)ev, &n) != C_OK) return C_ERR;
    *next = (int)n;
    return C_OK;
}
static const char *completion_name_int(int s) { return completion_state_name((completion_state_t)s); }

int completion_encode(completion_event_t ev, char *out, size_t size) {
    return encode(COMPLETION_STATE_COUNT, (int)ev, completion_apply_int, completion_name_int, out,
                  size);
}
