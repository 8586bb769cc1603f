/* net/data/mover.h: the lease every mover holds (an upload or a pull moving one file's bytes),
 * one implementation for both (store.h "Transfers", brief "Lease").
 *
 * From the moment the store granted the lease (store_upload_begin, store_file_add of a PULL),
 * the mover sends store_transfer_progress every beat (min(1000 ms, lease/4, session
 * timeout/4)), whether or not bytes arrived, with the bytes moved and the durable prefix its
 * owner reports. Two ways to lose the file, each told once through `lost`:
 *   MOVER_TAKEN   the store refused a heartbeat (ST_STATE_CHANGED, or the session is gone):
 *                 the session ended, the file was removed or replaced, or another instance
 *                 took the file over after the lease lapsed. detail: the store's, or NULL.
 *   MOVER_FENCED  no heartbeat has succeeded for a whole lease, counted (monotonic clock) from
 *                 the moment the last successful one was SENT: the lease may have lapsed and
 *                 someone else may write the file now. The owner must stop writing at once;
 *                 mover_fenced() lets it check before every write.
 * `lost` is called from the mover's timer or a store callback, never from inside a mover_*
 * call of the owner.
 * The owner stops the mover with mover_stop() (also from inside its callbacks). */
#ifndef NET_DATA_MOVER_H
#define NET_DATA_MOVER_H

#include "net/data/plane.h"

typedef enum { MOVER_TAKEN, MOVER_FENCED } mover_loss_t;

typedef struct {
    /* Before each heartbeat: bytes moved so far and the durable prefix (synced by the owner). */
    void (*sample)(void *arg, int64_t *bytes, int64_t *staged);
    void (*lost)(void *arg, mover_loss_t why, const char *detail);
    void *arg;
} mover_callbacks_t;

typedef struct mover mover_t;

/* granted_ms: data_mono_ms() when the call that granted the lease was sent. fault_point: the
 * crash point passed once, after the first heartbeat that recorded bytes ("mid_upload",
 * "mid_pull"). NULL when out of memory. */
mover_t *mover_start(data_plane_t *dp, const char *session_id, const char *name,
                     const char *attempt, int64_t granted_ms, const char *fault_point,
                     const mover_callbacks_t *cb);
/* Has a whole lease passed since the last successful heartbeat was sent? A pure check of the
 * clock, for the owner to call before it writes (the timer tells MOVER_FENCED on its own). */
bool mover_fenced(const mover_t *m);
/* Stops the heartbeat; a heartbeat in flight is ignored when it returns. NULL is fine. */
void mover_stop(mover_t *m);

#endif
