/* core/transfer.h: the two machines that sit beside the session's (core/fsm.h): the transfer of
 * one file of an update session, and the session's completion. Each is one `static const`
 * table [state][event] -> next state | not allowed, one apply function, name tables, and a
 * .dot drawing (core/transfer.dot). The store passes their answers to its Lua scripts as data
 * ("STATE=NEXT ..."), the way session transitions travel; the scripts never encode a table.
 *
 * Transfer states are the File.Info statuses on the wire (core/file.h transfer_status_t).
 * A TRANSFERRING file whose mover's lease lapsed (the instance that moved its bytes died or
 * stopped) is treated, read and decided on, as the state transfer_lapsed_state() names: a
 * PUSH file waits for the rest of its bytes (WAITING_FOR_TRANSFER: resumable from the durable
 * prefix), a PULL file has failed (ERROR). */
#ifndef CORE_TRANSFER_H
#define CORE_TRANSFER_H

#include "core/file.h"

typedef enum {
    TEV_ADD_PUSH,  /* File.add (or re-add) of a PUSH file: waits for an upload */
    TEV_ADD_PULL,  /* File.add (or re-add) of a PULL file: the adding instance starts the pull */
    TEV_BEGIN,     /* PUT/POST to the upload URI: the whole file again, from byte 0 */
    TEV_RESUME,    /* PATCH with Upload-Offset: append to the durable prefix */
    TEV_PROGRESS,  /* the mover's heartbeat: bytes moved, lease renewed */
    TEV_PAUSE,     /* the bytes stopped without an error (cut connection, Upload-Complete: ?0):
                      the durable prefix is kept for a resume */
    TEV_READY,     /* all bytes arrived and checked */
    TEV_FAIL,      /* the transfer failed (size, checksum, disk, source): staged bytes go */
    TEV_REMOVE,    /* File.remove: any transfer of the file ends */
    TRANSFER_EVENT_COUNT
} transfer_event_t;

const char *transfer_event_name(transfer_event_t e); /* "add_push", "begin", ... */

/* Decides whether `ev` is legal for a file in state `cur`; on C_OK *next is the state after.
 * Values outside the enums are refused. */
int transfer_apply(transfer_status_t cur, transfer_event_t ev, transfer_status_t *next);

/* The state a TRANSFERRING file of this source type is treated as once its lease lapsed. */
transfer_status_t transfer_lapsed_state(source_type_t source);

/* Encodes the machine's answer for ev from every state as "STATE=NEXT ..." (states that refuse
 * are absent) into out; C_ERR if it does not fit. */
int transfer_encode(transfer_event_t ev, char *out, size_t size);

/* Completion of a session: OPEN (its file set may change), COMPLETING (complete was requested
 * while PULL transfers ran: the file set is frozen and the last pull to end completes it),
 * ABORTED (a pull failed while completing: the session is failed). */
typedef enum {
    COMPLETION_OPEN,
    COMPLETION_COMPLETING,
    COMPLETION_ABORTED,
    COMPLETION_STATE_COUNT
} completion_state_t;

typedef enum {
    CEV_FILE_CHANGE,  /* add, remove, a new upload: only while OPEN */
    CEV_REQUEST,      /* complete found PULL transfers in flight */
    CEV_PULL_READY,   /* a PULL transfer ended READY */
    CEV_PULL_FAILED,  /* a PULL transfer ended in ERROR */
    CEV_RETRACT,      /* a repeated complete found a file that will never be READY (a pull
                         whose mover died): the request is withdrawn, the file set reopens */
    COMPLETION_EVENT_COUNT
} completion_event_t;

const char *completion_state_name(completion_state_t s); /* "OPEN", "COMPLETING", "ABORTED" */
const char *completion_event_name(completion_event_t e);
int completion_apply(completion_state_t cur, completion_event_t ev, completion_state_t *next);
/* "OPEN=OPEN COMPLETING=..." as transfer_encode. */
int completion_encode(completion_event_t ev, char *out, size_t size);

#endif
