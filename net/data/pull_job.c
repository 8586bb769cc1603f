/* net/data/pull_job.c: PULL transfers started by File.add (net/data/data.h data_pull_start).
 * The file arrives TRANSFERRING, held by the attempt net/ops_file.c chose; this instance runs
 * the fetch (net/data/pull.h) into a new staged blob and holds the lease with a mover
 * (net/data/mover.h), exactly as an upload does. It links nothing into items/: the end is
 * recorded with store_transfer_end (TEV_READY with size and checksum, or TEV_FAIL with why),
 * and when that answers "COMPLETE" (the session's complete was requested and this was its last
 * pull) this instance runs the publish procedure itself (net/data/publish.c, auth NULL).
 *
 * A refused heartbeat (session ended, file removed or replaced), a fenced mover, or a local
 * stop cancels the fetch; its .part is removed (the blob is this attempt's alone). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/data/mover.h"
#include "net/data/plane.h"
#include "net/data/pull.h"
#include "net/log.h"

typedef struct {
    data_xfer_t x;
    data_plane_t *dp;
    pull_t *pull;          /* NULL once done or cancelled */
    mover_t *mover;
    session_file_t file;
    bool linked;
    bool failed;           /* the end recorded is a TEV_FAIL (its blob is garbage) */
    int pending;           /* store calls in flight (the end, then the publish) */
} pull_job_t;

static void job_release(pull_job_t *job) {
    if (job->pending > 0 || job->pull) return;
    if (job->linked) xfer_unlink(job->dp, &job->x);
    mover_stop(job->mover);
    free(job);
}

static void record_end(pull_job_t *job, transfer_event_t ev, const session_file_t *r);

/* Stops the fetch and the lease; nothing is recorded (someone else decided). */
static void job_stop(pull_job_t *job) {
    mover_stop(job->mover);
    job->mover = NULL;
    if (job->linked) {
        xfer_unlink(job->dp, &job->x);
        job->linked = false;
    }
    pull_t *p = job->pull;
    job->pull = NULL;
    pull_cancel(p);
    job_release(job);
}

/* A session's end or a removal: stop, record nothing. The server stopping: the pull fails
 * now (rather than when its lease lapses), so a requested complete learns it at once. */
static void xfer_stop(data_xfer_t *x, data_stop_t why) {
    pull_job_t *job = (pull_job_t *)x;
    if (why != DATA_SHUTDOWN || job->dp->stopping || !job->pull) {
        job_stop(job);
        return;
    }
    pull_t *p = job->pull;
    job->pull = NULL;
    pull_cancel(p);
    session_file_t r = job->file;
    r.status = TRANSFER_ERROR;
    r.bytes_transferred = 0;
    r.has_error_message = true;
    vapi_message_set(&r.error_message, "pull_interrupted",
                     "The transfer of file {0} from {1} stopped because the server stopped; add "
                     "the file again.", r.name, r.source_uri, NULL);
    record_end(job, TEV_FAIL, &r);
}

static void on_published(void *arg, store_status_t st, const char *detail,
                         const vapi_failure_t *local) {
    pull_job_t *job = arg;
    job->pending--;
    if (st != ST_OK)
        log_msg(LV_WARN, "complete of %s after its last pull: %s%s%s",
                job->x.session_id, local ? local->msg.default_message : store_status_name(st),
                detail ? " " : "", detail ? detail : "");
    job_release(job);
}

static void on_end_recorded(void *arg, store_status_t st, const char *detail) {
    pull_job_t *job = arg;
    job->pending--;
    if (st == ST_OK && job->failed) data_garbage_made(job->dp); /* its blob; a failed session */
    if (st == ST_OK && detail && strcmp(detail, "COMPLETE") == 0 && !job->dp->stopping) {
        job->pending++;
        data_publish(job->dp, NULL, job->x.session_id, on_published, job);
    } else if (st != ST_OK && st != ST_STATE_CHANGED) {
        log_msg(LV_WARN, "pull of %s in %s: recording its end: %s",
                job->file.name, job->x.session_id, store_status_name(st));
    }
    job_release(job);
}

static void record_end(pull_job_t *job, transfer_event_t ev, const session_file_t *r) {
    mover_stop(job->mover);
    job->mover = NULL;
    if (job->linked) {
        xfer_unlink(job->dp, &job->x);
        job->linked = false;
    }
    if (job->dp->stopping) {
        job_release(job);
        return;
    }
    job->failed = ev == TEV_FAIL;
    job->pending++;
    store_transfer_end(job->dp->store, job->x.session_id, job->file.name, job->file.attempt, ev,
                       r, on_end_recorded, job);
}

/* The fetch ended (once): READY with what arrived if the checksum holds, else ERROR. The
 * operator's log gets the whole story of a failure; the file's error_message only what the
 * client may see (net/data/pull.h). */
static void on_pull_done(void *arg, const pull_result_t *res) {
    pull_job_t *job = arg;
    job->pull = NULL;
    bool ok = res->ok;
    int64_t bytes = res->bytes;
    const char *hex = res->hex;
    const vapi_message_t *error_message = res->error_message;
    if (!ok)
        fprintf(stderr, "update-sessiond: pull of %s in %s from %s failed: %s\n", job->file.name,
                job->x.session_id, job->file.source_uri,
                res->detail ? res->detail : error_message->default_message);
    session_file_t r = job->file;
    r.bytes_transferred = bytes;
    vapi_message_t why;
    checksum_alg_t alg = r.expected.present ? r.expected.algorithm : CHECKSUM_SHA1;
    if (ok && r.expected.present && strcasecmp(hex, r.expected.checksum) != 0) {
        vapi_message_set(&why, "file_checksum_mismatch",
                         "The {0} checksum of file {1} is {2}, not the declared {3}.",
                         checksum_alg_name(alg), r.name, hex, r.expected.checksum, NULL);
        error_message = &why;
        ok = false;
    }
    if (ok) {
        r.status = TRANSFER_READY;
        r.has_size = true;
        r.size = bytes;
        r.received.present = true;
        r.received.algorithm = alg;
        copy_str(r.received.checksum, sizeof(r.received.checksum), hex);
    } else {
        r.status = TRANSFER_ERROR;
        r.has_error_message = true;
        r.error_message = *error_message;
    }
    record_end(job, ok ? TEV_READY : TEV_FAIL, &r);
}

static void on_pull_progress(void *arg, int64_t bytes) {
    (void)arg;
    (void)bytes; /* the mover asks pull_bytes() at each heartbeat */
}

static void on_sample(void *arg, int64_t *bytes, int64_t *staged) {
    pull_job_t *job = arg;
    *bytes = pull_bytes(job->pull);
    *staged = 0; /* a PULL is not resumable: each attempt fetches a new blob from byte 0 */
}

static void on_lost(void *arg, mover_loss_t why, const char *detail) {
    pull_job_t *job = arg;
    log_msg(LV_WARN, "pull of %s in %s stopped: %s%s%s", job->file.name,
            job->x.session_id, why == MOVER_FENCED ? "fenced" : "taken away",
            detail ? " " : "", detail ? detail : "");
    job_stop(job);
}

int data_pull_check(data_plane_t *dp, const char *uri, const char *field, vapi_failure_t *f) {
    return pull_check_source(&dp->policy, uri, field, f);
}

void data_pull_start(data_plane_t *dp, const char *session_id, const session_file_t *f) {
    pull_job_t *job = calloc(1, sizeof(*job));
    if (!job) return; /* the lease lapses: the file reads ERROR */
    job->dp = dp;
    job->file = *f;
    job->x.stop = xfer_stop;
    copy_str(job->x.session_id, sizeof(job->x.session_id), session_id);
    copy_str(job->x.name, sizeof(job->x.name), f->name);
    xfer_link(dp, &job->x);
    job->linked = true;
    pull_request_t rq = {
        .policy = &dp->policy,
        .file_name = f->name,
        .uri = f->source_uri,
        .thumbprint = f->source_thumbprint,
        .algorithm = f->expected.present ? f->expected.algorithm : CHECKSUM_SHA1,
        .expected_size = f->has_size ? f->size : -1,
        .storage_dir = dp->storage_dir,
        .session_id = session_id,
        .blob = f->blob,
    };
    pull_callbacks_t cb = {on_pull_progress, on_pull_done, job};
    vapi_failure_t fail;
    job->pull = pull_start(dp->base, &rq, &cb, &fail);
    if (!job->pull) {
        pull_result_t res = {.error_message = &fail.msg};
        on_pull_done(job, &res);
        return;
    }
    /* The lease was granted by the store_file_add that answered just now; counting it from
     * one beat ago keeps the fence on the safe side of that call's round trip. */
    mover_callbacks_t mcb = {on_sample, on_lost, job};
    job->mover = mover_start(dp, session_id, f->name, f->attempt, data_mono_ms() - dp->beat_ms,
                             "mid_pull", &mcb);
    if (!job->mover) job_stop(job);
}
