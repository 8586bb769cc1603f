/* net/data/mover.c: the lease, heartbeat and self-fencing of one transfer (net/data/mover.h).
 *
 * One timer per mover. Each tick first checks the fence (a whole lease since the last
 * successful heartbeat was sent), then, unless a heartbeat is still in flight, samples the
 * owner and sends the next one. A store call always comes back (within the store's call
 * timeout), so a mover stopped while a heartbeat is in flight lives on until that answer and
 * is freed there; one stopped from inside its own callback is freed when the callback returns. */
#include "net/data/mover.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/data/fault.h"
#include "net/log.h"

struct mover {
    data_plane_t *dp;
    char session_id[SESSION_ID_MAX];
    char name[FILE_NAME_MAX];
    char attempt[BLOB_ID_MAX];
    const char *fault_point;
    mover_callbacks_t cb;
    struct event *timer;
    int64_t last_ok_sent;  /* data_mono_ms() when the last successful heartbeat was sent */
    int64_t sent_at;       /* ... when the heartbeat in flight was sent */
    int64_t sent_bytes;
    bool in_flight;
    bool stopped;          /* the owner is done with it */
    bool lost;             /* `lost` was told (once) */
    bool fault_passed;
    int depth;             /* > 0 while one of the owner's callbacks runs */
};

static void mover_free(mover_t *m) {
    if (m->timer) event_free(m->timer);
    free(m);
}

/* Frees once nothing refers to it any more: stopped, no heartbeat in flight, no callback on
 * the stack. */
static void maybe_free(mover_t *m) {
    if (m->stopped && !m->in_flight && m->depth == 0) mover_free(m);
}

static void tell_lost(mover_t *m, mover_loss_t why, const char *detail) {
    if (m->lost || m->stopped) return;
    m->lost = true;
    event_del(m->timer);
    m->depth++;
    m->cb.lost(m->cb.arg, why, detail);
    m->depth--;
}

bool mover_fenced(const mover_t *m) {
    return m && data_mono_ms() - m->last_ok_sent >= m->dp->lease_ms;
}

static void on_progress(void *arg, store_status_t st, const char *detail) {
    mover_t *m = arg;
    m->in_flight = false;
    if (!m->stopped && !m->lost) {
        if (st == ST_OK) {
            if (m->sent_at > m->last_ok_sent) m->last_ok_sent = m->sent_at;
            if (m->sent_bytes > 0 && !m->fault_passed && m->fault_point) {
                m->fault_passed = true;
                FAULT_POINT(m->fault_point);
            }
        } else if (st == ST_STATE_CHANGED || st == ST_NOT_FOUND || st == ST_NO_FILE ||
                   st == ST_FILE_STATE) {
            tell_lost(m, MOVER_TAKEN, detail);
        }
        /* ST_UNAVAILABLE and the like: the fence decides. */
    }
    maybe_free(m);
}

static void arm(mover_t *m) {
    int64_t to_fence = m->last_ok_sent + m->dp->lease_ms - data_mono_ms();
    int64_t ms = m->dp->beat_ms < to_fence ? m->dp->beat_ms : to_fence;
    if (ms < 1) ms = 1;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    evtimer_add(m->timer, &tv);
}

static void on_beat(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    mover_t *m = arg;
    if (m->stopped || m->lost) { maybe_free(m); return; }
    if (mover_fenced(m)) {
        log_msg(LV_WARN, "transfer of %s in %s: no heartbeat succeeded for %d ms, "
                "stopping (fenced)", m->name, m->session_id, m->dp->lease_ms);
        tell_lost(m, MOVER_FENCED, NULL);
        maybe_free(m);
        return;
    }
    if (!m->in_flight && !m->dp->stopping) {
        int64_t bytes = 0, staged = 0;
        m->depth++;
        m->cb.sample(m->cb.arg, &bytes, &staged);
        m->depth--;
        if (m->stopped || m->lost) { maybe_free(m); return; }
        m->in_flight = true;
        m->sent_at = data_mono_ms();
        m->sent_bytes = bytes;
        store_transfer_progress(m->dp->store, m->session_id, m->name, m->attempt, bytes, staged,
                                on_progress, m);
    }
    if (!m->stopped && !m->lost) arm(m);
}

mover_t *mover_start(data_plane_t *dp, const char *session_id, const char *name,
                     const char *attempt, int64_t granted_ms, const char *fault_point,
                     const mover_callbacks_t *cb) {
    mover_t *m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    m->dp = dp;
    copy_str(m->session_id, sizeof(m->session_id), session_id);
    copy_str(m->name, sizeof(m->name), name);
    copy_str(m->attempt, sizeof(m->attempt), attempt);
    m->fault_point = fault_point;
    m->cb = *cb;
    m->last_ok_sent = granted_ms;
    m->timer = evtimer_new(dp->base, on_beat, m);
    if (!m->timer) { free(m); return NULL; }
    arm(m);
    return m;
}

void mover_stop(mover_t *m) {
    if (!m || m->stopped) return;
    m->stopped = true;
    event_del(m->timer);
    maybe_free(m);
}
