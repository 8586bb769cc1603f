/* net/data/upload.c: PUSH uploads on the upload URIs <public url>/cls/data/<token>/<name> (the
 * token authorizes; the name segment must be the token's file's name, else 404 as for an
 * unknown token; a vmware-api-session-id header, when sent, must be a valid login). Bodies are streamed (net/http.h) into the file's blob and
 * hashed as they arrive.
 *
 *   PUT, POST  the whole file from byte 0 into a new blob (store UPLOAD_BEGIN) -> 200.
 *   HEAD       where the upload stands (UPLOAD_PROBE) -> 204, Upload-Offset (the durable
 *              prefix), Upload-Complete ?0/?1, Upload-Length when the size was declared.
 *   PATCH      appends from Upload-Offset (UPLOAD_RESUME; Content-Type
 *              application/partial-upload, or tus 1.0's application/offset+octet-stream);
 *              a different offset -> 409 with the server's Upload-Offset. The .part is cut
 *              back to the durable prefix and the prefix re-hashed (REHASH_SLICE per loop turn,
 *              reading paused) before new bytes are taken. Upload-Complete ?1, or reaching the
 *              declared size, ends the upload (READY or ERROR); otherwise it pauses -> 204.
 *
 * While bytes arrive, the upload holds the file's lease through a mover (net/data/mover.h):
 * heartbeats carry the durable prefix (fdatasync'd by the sink's thread since the last one). A
 * refused heartbeat, a session ended or a file removed here, stops the upload at once with a
 * 4xx (the connection closes, nothing is deleted); a fenced mover stops with 503. A cut body
 * (client gone) pauses the file with its durable prefix kept (TEV_PAUSE), resumable from any
 * instance sharing --storage-dir. A failure (size, checksum, disk, limits) ends it in ERROR
 * (TEV_FAIL: the store puts the blob on the garbage list; the .part is also removed here).
 *
 * The body's bytes go through a sink (net/data/sink.h): the loop copies each piece read into it,
 * a disk thread hashes and writes them, and fdatasyncs at each heartbeat, so the heartbeat's
 * durable prefix (Upload-Offset) is the one the last background sync made durable, at most a
 * beat old, as before. While both of the sink's buffers are busy, reading is paused (TCP
 * backpressure). Whatever needs the writer itself (the end, a pause, a cut, a failure, a stop)
 * first takes it back from the sink once its thread is done with it (with_writer(): phase WAIT).
 *
 * One upload_t per request. Phases (one choke point, set_phase):
 *   LOGIN -> BEGIN -> [REHASH ->] BODY -> [WAIT ->] ENDING -> DONE, and PROBE (HEAD) -> DONE.
 * The request is answered exactly once (respond()); the upload_t is freed once answered and
 * no store call is in flight (release()). */
#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/data/mover.h"
#include "net/data/plane.h"
#include "net/data/sink.h"
#include "store/blob.h"

#define DATA_PREFIX "/cls/data/"
#define REHASH_SLICE (4u * 1024 * 1024)
#define HEADERS_MAX 160

typedef enum {
    UP_LOGIN,  /* checking the session header's login */
    UP_BEGIN,  /* store_upload_begin in flight */
    UP_PROBE,  /* HEAD: waiting for the (empty) body's end, then the probe */
    UP_REHASH, /* PATCH: re-hashing the durable prefix, reading paused */
    UP_BODY,   /* bytes arrive into the sink; the mover holds the lease */
    UP_WAIT,   /* taking the writer back from the sink (with_writer); stops wait too */
    UP_ENDING, /* store_transfer_end in flight; the answer waits for it */
    UP_DONE    /* answered, or nothing more to do */
} up_phase_t;

typedef struct upload upload_t;
/* What runs once the writer is back from the sink (with_writer): err is the sink's. */
typedef void (*writer_step_fn)(upload_t *u, int err);

struct upload {
    data_xfer_t x;          /* session_id and name once begun; in the plane's list meanwhile */
    data_plane_t *dp;
    http_request_t *req;    /* NULL once answered */
    upload_mode_t mode;
    up_phase_t phase;
    char token[UPLOAD_TOKEN_MAX];
    char uri_name[FILE_NAME_MAX]; /* the URI's name segment, decoded */
    bool name_checked;      /* a read-only probe found uri_name to be the token's file */
    char login[256];
    char attempt[BLOB_ID_MAX];
    char blob[BLOB_ID_MAX];
    session_file_t file;    /* the file as begun; .blob is the blob written */
    int64_t offset;         /* PATCH: Upload-Offset */
    int complete_hdr;       /* PATCH: Upload-Complete -1 absent, 0 ?0, 1 ?1 */
    int64_t granted_ms;     /* when the begin call was sent (the lease's start) */
    blob_writer_t *writer;  /* while no sink has it (before BODY, after WAIT) */
    sink_t *sink;           /* BODY: the writer is the sink's */
    bool throttled;         /* reading paused until the sink can take bytes again */
    writer_step_fn step;    /* WAIT: what runs once the writer is back */
    mover_t *mover;
    struct event *rehash_ev;
    int64_t durable;        /* the durable prefix last reported */
    bool linked;            /* in the plane's list */
    bool gone;              /* the client left (on_end(false)) */
    bool disk_low;          /* a heartbeat found free space below --min-free-bytes */
    bool failed;            /* the end in flight is a TEV_FAIL (its blob is garbage) */
    int pending;            /* store calls in flight */
    /* The answer given when the store recorded the end (UP_ENDING). */
    int answer_status;
    bool answer_is_failure;
    vapi_failure_t answer;
    char answer_headers[HEADERS_MAX];
    bool answer_first;      /* park: answer before the prefix is recorded */
};

static void set_phase(upload_t *u, up_phase_t p) { u->phase = p; }

/* An upload holds its file (the list of transfers a session's end stops, and the metric). */
static void link_upload(upload_t *u) {
    xfer_link(u->dp, &u->x);
    u->linked = true;
    u->dp->stats.uploads_active++;
}

static void unlink_upload(upload_t *u) {
    if (!u->linked) return;
    xfer_unlink(u->dp, &u->x);
    u->linked = false;
    u->dp->stats.uploads_active--;
}

static const char *file_name_of(const upload_t *u) { return u->file.name; }

/* ---- answering and freeing ------------------------------------------------------------- */

static void close_writer(void *arg, blob_writer_t *w, int err) {
    (void)arg;
    (void)err;
    blob_writer_close(w);
}

static void release(upload_t *u) {
    if (u->req || u->pending > 0) return;
    unlink_upload(u);
    mover_stop(u->mover);
    if (u->sink) sink_finish(u->sink, false, close_writer, NULL); /* not expected: with_writer */
    if (u->writer) blob_writer_close(u->writer);
    if (u->rehash_ev) event_free(u->rehash_ev);
    free(u);
}

/* The one answer to the request (a no-op once answered). An answer while the body still
 * arrives closes the connection (net/http.c), after reading is paused. */
static void respond(upload_t *u, int status, const vapi_failure_t *f, const char *headers) {
    http_request_t *req = u->req;
    if (!req) return;
    u->req = NULL;
    http_stream_pause(req);
    if (f) data_respond_failure(req, status, f, headers);
    else http_respond(req, status, NULL, "", 0, headers);
}

static void on_writer_back(void *arg, blob_writer_t *w, int err) {
    upload_t *u = arg;
    u->pending--;
    u->writer = w;
    u->step(u, err);
}

/* Runs step once the sink's thread is done with the writer, with the writer back in u->writer
 * (the sink freed); at once when there is no sink. write_rest: everything received is written
 * and fdatasync'd first (an end, a pause, a cut); otherwise what the thread has not taken yet
 * is dropped (a failure, a stop, a fence: no more writing). Meanwhile the phase is WAIT: a stop
 * or a lost lease then changes nothing (the end the step records is the store's to accept). */
static void with_writer(upload_t *u, bool write_rest, writer_step_fn step) {
    set_phase(u, UP_WAIT);
    sink_t *s = u->sink;
    if (!s) {
        step(u, 0);
        return;
    }
    u->sink = NULL;
    u->step = step;
    u->pending++; /* the upload_t outlives the wait */
    sink_finish(s, write_rest, on_writer_back, u);
}

static void offset_header(char *out, size_t size, int64_t offset, bool complete) {
    snprintf(out, size, "Upload-Offset: %" PRId64 "\r\nUpload-Complete: %s\r\n", offset,
             complete ? "?1" : "?0");
}

/* Store outcomes of the upload calls, as vAPI errors with the statuses clients see today. */
static int status_of(store_status_t st, vapi_failure_t *f, const char *name) {
    switch (st) {
    case ST_NOT_FOUND:
    case ST_NO_FILE:
        vapi_fail(f, VAPI_NOT_FOUND, "upload_not_found",
                  "There is no upload waiting at this address.", NULL);
        return 404;
    case ST_TRANSFER_BUSY:
        vapi_fail(f, VAPI_RESOURCE_BUSY, "file_transfer_in_progress",
                  "The file {0} is being uploaded by another request.", name, NULL);
        return 409;
    case ST_STATE_CHANGED:
        vapi_fail(f, VAPI_NOT_ALLOWED_IN_CURRENT_STATE, "update_session_not_active",
                  "The update session of file {0} is no longer ACTIVE.", name, NULL);
        return 400;
    case ST_FILE_STATE:
        vapi_fail(f, VAPI_NOT_ALLOWED_IN_CURRENT_STATE, "upload_already_complete",
                  "The upload of file {0} is complete; upload it again with PUT to replace it.",
                  name, NULL);
        return 400;
    case ST_UNAUTHENTICATED:
        vapi_fail(f, VAPI_UNAUTHENTICATED, "vapi.method.authentication.required",
                  "This method requires authentication.", NULL);
        return 401;
    case ST_UNAVAILABLE:
        vapi_fail(f, VAPI_SERVICE_UNAVAILABLE, "service_unavailable",
                  "The service is temporarily unavailable. Retry the upload.", NULL);
        return 503;
    case ST_UNREPLICATED:
        vapi_fail(f, VAPI_SERVICE_UNAVAILABLE, "change_not_replicated",
                  "The upload of file {0} may have been recorded, but not yet on the Redis "
                  "replicas asked for, so a failover could lose it; HEAD tells what was kept.",
                  name, NULL);
        return 503;
    default:
        vapi_fail(f, VAPI_INTERNAL_SERVER_ERROR, "internal_error",
                  "The upload failed because of an internal error.", NULL);
        return 500;
    }
}

/* ---- recording the end of the attempt -------------------------------------------------- */

static void on_end_recorded(void *arg, store_status_t st, const char *detail) {
    (void)detail;
    upload_t *u = arg;
    u->pending--;
    set_phase(u, UP_DONE);
    if (u->answer_is_failure || st == ST_OK) {
        respond(u, u->answer_status, u->answer_is_failure ? &u->answer : NULL,
                u->answer_headers[0] ? u->answer_headers : NULL);
    } else {
        vapi_failure_t f;
        int code = status_of(st, &f, file_name_of(u));
        respond(u, code, &f, NULL);
    }
    if (st == ST_OK && u->failed) data_garbage_made(u->dp); /* the failed blob */
    release(u);
}

/* Ends this attempt in the store (the mover stops first: the end replaces its heartbeats) and
 * answers once that is recorded. Without a store (shutting down) the answer goes at once. */
static void end_attempt(upload_t *u, transfer_event_t ev, session_file_t *r) {
    mover_stop(u->mover);
    u->mover = NULL;
    set_phase(u, UP_ENDING);
    if (u->dp->stopping) {
        on_end_recorded(u, ST_UNAVAILABLE, NULL);
        return;
    }
    u->pending++;
    store_transfer_end(u->dp->store, u->x.session_id, u->file.name, u->attempt, ev, r,
                       on_end_recorded, u);
}

/* Keeps the durable prefix for a resume: the file waits (TEV_PAUSE) with staged = what is on
 * disk, which bytes_transferred shows too. */
static void pause_attempt(upload_t *u, int64_t staged) {
    session_file_t r = u->file;
    r.bytes_transferred = staged;
    r.staged = staged;
    r.has_error_message = false;
    end_attempt(u, TEV_PAUSE, &r);
}

static void fail_step(upload_t *u, int err) {
    (void)err;
    session_file_t r = u->file;
    if (u->writer) {
        r.bytes_transferred = blob_writer_bytes(u->writer);
        blob_writer_abort(u->writer);
        u->writer = NULL;
    }
    r.status = TRANSFER_ERROR;
    r.has_error_message = true;
    r.error_message = u->answer.msg;
    u->failed = true;
    end_attempt(u, TEV_FAIL, &r);
}

/* Ends the attempt in ERROR and answers `status` with f (and headers, or NULL): nothing
 * partial stays (the .part goes; the store puts the blob on the garbage list). */
static void fail_upload_h(upload_t *u, int status, const vapi_failure_t *f, const char *headers) {
    if (u->rehash_ev) event_del(u->rehash_ev);
    http_stream_pause(u->req);
    u->answer_status = status;
    u->answer_is_failure = true;
    u->answer = *f;
    copy_str(u->answer_headers, sizeof(u->answer_headers), headers ? headers : "");
    with_writer(u, false, fail_step);
}

static void fail_upload(upload_t *u, int status, const vapi_failure_t *f) {
    fail_upload_h(u, status, f, NULL);
}

/* Pauses back a resume that was refused before any byte: the file keeps its prefix as it was
 * (`staged`), the client gets `status` with f and the server's offset. */
static void refuse_resume(upload_t *u, int64_t staged, int status, const vapi_failure_t *f) {
    u->answer_status = status;
    u->answer_is_failure = true;
    u->answer = *f;
    offset_header(u->answer_headers, sizeof(u->answer_headers), staged, false);
    pause_attempt(u, staged);
}

/* The bytes a heartbeat reports as transferred: the durable prefix while a sink has the bytes
 * (what arrived after the last background sync shows at the next beat), else what is written. */
static int64_t written(const upload_t *u) {
    return u->sink ? sink_durable(u->sink) : u->writer ? blob_writer_bytes(u->writer) : u->durable;
}

static void size_text(char *out, size_t size, int64_t v) { snprintf(out, size, "%" PRId64, v); }

static int storage_failure(upload_t *u, int err, vapi_failure_t *f) {
    if (err == ENOSPC || err == EDQUOT)
        vapi_fail(f, VAPI_UNABLE_TO_ALLOCATE_RESOURCE, "storage_full",
                  "There is not enough space to store the file {0}.", file_name_of(u), NULL);
    else
        vapi_fail(f, VAPI_UNABLE_TO_ALLOCATE_RESOURCE, "storage_write_failed",
                  "The file {0} could not be written to storage.", file_name_of(u), NULL);
    return vapi_error_status(f->type, FLAVOUR_API);
}

/* ---- losing the file ------------------------------------------------------------------- */

/* Why this upload must stop, as the client reads it. */
static int stop_failure(upload_t *u, data_stop_t why, const char *detail, vapi_failure_t *f) {
    const char *name = file_name_of(u);
    if (why == DATA_FILE_REMOVED || (detail && strcasecmp(detail, "REMOVED") == 0)) {
        vapi_fail(f, VAPI_NOT_FOUND, "upload_file_removed", "The file {0} was removed.", name,
                  NULL);
        return 404;
    }
    if (why == DATA_SHUTDOWN) {
        vapi_fail(f, VAPI_SERVICE_UNAVAILABLE, "service_stopping",
                  "The service is stopping. The bytes of file {0} received so far are kept: "
                  "resume the upload.", name, NULL);
        return 503;
    }
    static const char *const ended[] = {"CANCELED", "ERROR", "DONE", "EXPIRED"};
    bool session = why == DATA_SESSION_ENDED && !detail;
    for (size_t i = 0; detail && i < ARRAY_LEN(ended); i++)
        if (strcasecmp(detail, ended[i]) == 0) session = true;
    if (session) {
        vapi_fail(f, VAPI_NOT_ALLOWED_IN_CURRENT_STATE, "update_session_not_active",
                  "The update session of file {0} is no longer ACTIVE.", name, NULL);
        return 400;
    }
    vapi_fail(f, VAPI_CONCURRENT_CHANGE, "upload_taken_over",
              "The upload of file {0} was stopped: the file was replaced or removed, its update "
              "session ended, or another request took the upload over.", name, NULL);
    return vapi_error_status(VAPI_CONCURRENT_CHANGE, FLAVOUR_API);
}

/* Stops writing now and keeps the durable prefix: answer 503 with f and the offset to resume
 * from, and record the prefix (TEV_PAUSE applies only while this attempt holds the file, so it
 * can never undo a takeover). A stopping server answers once the prefix is recorded (a retry
 * elsewhere then finds the file waiting); a fenced mover answers at once (its store is not
 * answering). */
static void park_step(upload_t *u, int err) {
    (void)err;
    int64_t durable = u->durable;
    if (u->writer) {
        blob_writer_suspend(u->writer, &durable);
        u->writer = NULL;
    }
    offset_header(u->answer_headers, sizeof(u->answer_headers), durable, false);
    if (u->answer_first) respond(u, 503, &u->answer, u->answer_headers);
    pause_attempt(u, durable);
}

static void park_upload(upload_t *u, const vapi_failure_t *f, bool answer_first) {
    if (u->phase == UP_WAIT) return; /* the end being made is the store's to judge */
    mover_stop(u->mover);
    u->mover = NULL;
    if (u->rehash_ev) event_del(u->rehash_ev);
    http_stream_pause(u->req);
    u->answer_status = 503;
    u->answer_is_failure = true;
    u->answer = *f;
    u->answer_first = answer_first;
    with_writer(u, false, park_step);
}

static void stop_step(upload_t *u, int err) {
    (void)err;
    if (u->writer) {
        blob_writer_close(u->writer);
        u->writer = NULL;
    }
    set_phase(u, UP_DONE);
    respond(u, u->answer_status, &u->answer, NULL);
    release(u);
}

/* Stops the upload at once, deleting nothing: someone else decided about the file or the
 * session (the client gets why), or the server stops (the prefix is recorded for a resume). */
static void stop_upload(upload_t *u, data_stop_t why, const char *detail) {
    unlink_upload(u);
    if (u->phase != UP_REHASH && u->phase != UP_BODY) return; /* an end is being recorded */
    vapi_failure_t f;
    int code = stop_failure(u, why, detail, &f);
    if (why == DATA_SHUTDOWN) { park_upload(u, &f, false); return; }
    mover_stop(u->mover);
    u->mover = NULL;
    if (u->rehash_ev) event_del(u->rehash_ev);
    http_stream_pause(u->req);
    u->answer_status = code;
    u->answer = f;
    with_writer(u, false, stop_step);
}

static void xfer_stop(data_xfer_t *x, data_stop_t why) { stop_upload((upload_t *)x, why, NULL); }

/* No heartbeat succeeded for a whole lease: someone else may own the file now. */
static void fence_upload(upload_t *u) {
    vapi_failure_t f;
    vapi_fail(&f, VAPI_SERVICE_UNAVAILABLE, "upload_fenced",
              "The upload of file {0} stopped: the service lost contact with its data store. "
              "Resume the upload.", file_name_of(u), NULL);
    park_upload(u, &f, true);
}

static void on_lost(void *arg, mover_loss_t why, const char *detail) {
    upload_t *u = arg;
    if (why == MOVER_FENCED) fence_upload(u);
    else stop_upload(u, DATA_SESSION_ENDED, detail ? detail : "TAKEN");
}

/* The heartbeat's numbers: the durable prefix is the one the sink's last sync made durable
 * (asked for at the previous heartbeat), and the next sync is asked for now, so the prefix
 * recorded is at most a beat old and no fdatasync runs on the loop. The bytes transferred are
 * that prefix too (as before the sink: every byte reported is durable, and a lapsed lease leaves
 * bytes_transferred = the prefix a resume starts from). Free space is checked too. */
static void on_sample(void *arg, int64_t *bytes, int64_t *staged) {
    upload_t *u = arg;
    if (u->sink && u->phase == UP_BODY) {
        u->durable = sink_durable(u->sink); /* what the last background sync made durable */
        sink_sync(u->sink);                 /* the next one, for the next heartbeat */
        int64_t free_bytes;
        if (blob_free_bytes(u->dp->storage_dir, &free_bytes) == C_OK &&
            free_bytes < u->dp->min_free_bytes)
            u->disk_low = true;
    }
    *bytes = written(u);
    *staged = u->durable;
}

/* ---- the body -------------------------------------------------------------------------- */

/* The sink can take bytes again (reading resumes), or its thread failed to write. */
static void on_sink_wake(void *arg) {
    upload_t *u = arg;
    if (u->phase != UP_BODY || !u->sink) return;
    int err = sink_error(u->sink);
    if (err) {
        vapi_failure_t f;
        int code = storage_failure(u, err, &f);
        fail_upload(u, code, &f);
        return;
    }
    if (u->throttled) {
        u->throttled = false;
        http_stream_resume(u->req);
    }
}

/* The writer goes to a sink (its thread hashes and writes), then reading starts. */
static void start_body(upload_t *u) {
    u->sink = sink_new(u->dp->disk_pool, u->writer, on_sink_wake, u);
    if (!u->sink) {
        vapi_failure_t f;
        vapi_fail(&f, VAPI_INTERNAL_SERVER_ERROR, "internal_error",
                  "The upload failed because of an internal error.", NULL);
        fail_upload(u, 500, &f);
        return;
    }
    u->writer = NULL;
    set_phase(u, UP_BODY);
    http_stream_resume(u->req);
}

static void on_rehash(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    upload_t *u = arg;
    if (u->phase != UP_REHASH) return;
    bool done = false;
    if (blob_writer_rehash(u->writer, REHASH_SLICE, &done) != C_OK) {
        vapi_failure_t f;
        int code = storage_failure(u, errno, &f);
        fail_upload(u, code, &f);
        return;
    }
    if (!done) {
        struct timeval now = {0, 0}; /* the next slice after the loop polled I/O again */
        evtimer_add(u->rehash_ev, &now);
        return;
    }
    start_body(u);
}

static bool space_ok(upload_t *u, int64_t need) {
    int64_t free_bytes;
    if (blob_free_bytes(u->dp->storage_dir, &free_bytes) != C_OK) return true; /* cannot tell */
    return free_bytes - (need > 0 ? need : 0) >= u->dp->min_free_bytes;
}

static void fail_no_space(upload_t *u) {
    vapi_failure_t f;
    vapi_fail(&f, VAPI_UNABLE_TO_ALLOCATE_RESOURCE, "storage_full",
              "There is not enough space to store the file {0}.", file_name_of(u), NULL);
    fail_upload(u, vapi_error_status(f.type, FLAVOUR_API), &f);
}

static void fail_too_large(upload_t *u) {
    char lim[24];
    size_text(lim, sizeof(lim), u->dp->max_upload_bytes);
    vapi_failure_t f;
    vapi_fail(&f, VAPI_INVALID_ARGUMENT, "upload_too_large",
              "The file {0} is larger than {1} bytes, the largest upload without a declared "
              "size.", file_name_of(u), lim, NULL);
    fail_upload(u, 400, &f);
}

/* PUT/POST: the whole file into our new blob. */
static void begin_whole(upload_t *u) {
    const session_file_t *f = &u->file;
    int64_t declared = http_content_length(u->req);
    vapi_failure_t fail;
    if (f->has_size && declared >= 0 && declared != f->size) {
        char want[24], got[24];
        size_text(want, sizeof(want), f->size);
        size_text(got, sizeof(got), declared);
        vapi_fail(&fail, VAPI_INVALID_ARGUMENT, "file_size_mismatch",
                  "The file {0} was declared with size {1} but the upload sends {2} bytes.",
                  f->name, want, got, NULL);
        fail_upload(u, 400, &fail);
        return;
    }
    if (!f->has_size && declared > u->dp->max_upload_bytes) { fail_too_large(u); return; }
    if (!space_ok(u, f->has_size ? f->size : declared)) { fail_no_space(u); return; }
    checksum_alg_t alg = f->expected.present ? f->expected.algorithm : CHECKSUM_SHA1;
    u->writer = blob_writer_open(u->dp->storage_dir, u->x.session_id, u->file.blob, alg, &fail);
    if (!u->writer) { fail_upload(u, vapi_error_status(fail.type, FLAVOUR_API), &fail); return; }
    start_body(u);
}

/* PATCH: append to the durable prefix, after checking the client's offset and re-hashing. */
static void begin_resume(upload_t *u) {
    const session_file_t *f = &u->file;
    int64_t staged = f->staged;
    int64_t declared = http_content_length(u->req);
    vapi_failure_t fail;
    char a[24], b[24];
    if (u->offset != staged) {
        size_text(a, sizeof(a), staged);
        size_text(b, sizeof(b), u->offset);
        vapi_fail(&fail, VAPI_CONCURRENT_CHANGE, "upload_offset_mismatch",
                  "The upload of file {0} continues at offset {1}, not {2}.", f->name, a, b, NULL);
        refuse_resume(u, staged, 409, &fail);
        return;
    }
    if (f->has_size && declared >= 0 && staged + declared > f->size) {
        size_text(a, sizeof(a), f->size);
        size_text(b, sizeof(b), staged + declared);
        vapi_fail(&fail, VAPI_INVALID_ARGUMENT, "file_size_mismatch",
                  "The file {0} was declared with size {1} but the upload would make it {2} "
                  "bytes.", f->name, a, b, NULL);
        refuse_resume(u, staged, 400, &fail);
        return;
    }
    if (!f->has_size && declared >= 0 && staged + declared > u->dp->max_upload_bytes) {
        fail_too_large(u);
        return;
    }
    if (!space_ok(u, f->has_size ? f->size - staged : declared)) { fail_no_space(u); return; }
    checksum_alg_t alg = f->expected.present ? f->expected.algorithm : CHECKSUM_SHA1;
    int64_t have = 0;
    blob_resume_t r = blob_writer_resume(u->dp->storage_dir, u->x.session_id, f->blob, alg,
                                         staged, &u->writer, &have, &fail);
    switch (r) {
    case BLOB_RESUME_OK:
        u->durable = staged;
        u->rehash_ev = evtimer_new(u->dp->base, on_rehash, u);
        if (!u->rehash_ev) {
            vapi_fail(&fail, VAPI_INTERNAL_SERVER_ERROR, "internal_error",
                      "The upload failed because of an internal error.", NULL);
            fail_upload(u, 500, &fail);
            return;
        }
        set_phase(u, UP_REHASH);
        on_rehash(-1, 0, u);
        return;
    case BLOB_RESUME_SHORT:
        size_text(a, sizeof(a), have);
        vapi_fail(&fail, VAPI_CONCURRENT_CHANGE, "upload_offset_mismatch",
                  "The upload of file {0} continues at offset {1}: fewer bytes were kept than "
                  "recorded.", f->name, a, NULL);
        refuse_resume(u, have, 409, &fail);
        return;
    case BLOB_RESUME_MISSING: {
        char h[HEADERS_MAX];
        offset_header(h, sizeof(h), 0, false);
        vapi_fail(&fail, VAPI_CONCURRENT_CHANGE, "upload_offset_mismatch",
                  "The bytes of file {0} received before are gone; upload it again from offset "
                  "0.", f->name, NULL);
        fail_upload_h(u, 409, &fail, h);
        return;
    }
    case BLOB_RESUME_LOCKED:
        vapi_fail(&fail, VAPI_RESOURCE_BUSY, "file_transfer_in_progress",
                  "The file {0} is being uploaded by another request.", f->name, NULL);
        refuse_resume(u, staged, 409, &fail);
        return;
    case BLOB_RESUME_ERROR:
    default:
        fail_upload(u, vapi_error_status(fail.type, FLAVOUR_API), &fail);
        return;
    }
}

/* The token's file must be the one the URI names: a token with another name segment is no
 * upload address (404, the answer for an unknown token). */
static bool name_mismatch(upload_t *u, const session_file_t *f) {
    if (!f || strcmp(f->name, u->uri_name) == 0) return false;
    vapi_failure_t fail;
    set_phase(u, UP_DONE);
    respond(u, status_of(ST_NOT_FOUND, &fail, ""), &fail, NULL);
    release(u);
    return true;
}

static void start_begin(upload_t *u);

/* The read-only probe that checks the name segment before a BEGIN or RESUME changes anything
 * (a BEGIN replaces the file's blob). Its refusals are the ones the change would get. */
static void on_checked(void *arg, store_status_t st, const char *session_id,
                       const session_file_t *f) {
    (void)session_id;
    upload_t *u = arg;
    u->pending--;
    if (name_mismatch(u, f)) return;
    if (st != ST_OK || u->dp->stopping) {
        vapi_failure_t fail;
        set_phase(u, UP_DONE);
        int code = status_of(u->dp->stopping ? ST_UNAVAILABLE : st, &fail, f ? f->name : "");
        respond(u, code, &fail, NULL);
        release(u);
        return;
    }
    u->name_checked = true;
    start_begin(u);
}

/* The store made the file TRANSFERRING under our attempt (or answered the probe). */
static void on_begun(void *arg, store_status_t st, const char *session_id,
                     const session_file_t *f) {
    upload_t *u = arg;
    u->pending--;
    vapi_failure_t fail;
    if (u->mode == UPLOAD_PROBE && name_mismatch(u, f)) return;
    if (st != ST_OK || u->dp->stopping) {
        set_phase(u, UP_DONE);
        int code = status_of(u->dp->stopping ? ST_UNAVAILABLE : st, &fail, f ? f->name : "");
        respond(u, code, &fail, NULL);
        release(u);
        return;
    }
    if (u->mode == UPLOAD_PROBE) {
        bool complete = f->status == TRANSFER_READY;
        int64_t offset = complete ? (f->has_size ? f->size : f->bytes_transferred) : f->staged;
        char h[HEADERS_MAX + 64];
        int n = snprintf(h, sizeof(h), "Upload-Offset: %" PRId64 "\r\nUpload-Complete: %s\r\n"
                         "Cache-Control: no-store\r\n", offset, complete ? "?1" : "?0");
        if (f->has_size && n > 0 && (size_t)n < sizeof(h))
            snprintf(h + n, sizeof(h) - (size_t)n, "Upload-Length: %" PRId64 "\r\n", f->size);
        set_phase(u, UP_DONE);
        respond(u, 204, NULL, h);
        release(u);
        return;
    }
    u->file = *f;
    if (u->mode == UPLOAD_BEGIN || !u->file.blob[0]) { /* RESUME of a file without a blob */
        copy_str(u->file.blob, sizeof(u->file.blob), u->blob);
        u->file.staged = 0;
    }
    copy_str(u->x.session_id, sizeof(u->x.session_id), session_id);
    copy_str(u->x.name, sizeof(u->x.name), f->name);
    link_upload(u);
    u->durable = u->file.staged;
    if (u->mode == UPLOAD_BEGIN) data_garbage_made(u->dp); /* the blob it replaced, if any */
    mover_callbacks_t mcb = {on_sample, on_lost, u};
    u->mover = mover_start(u->dp, session_id, f->name, u->attempt, u->granted_ms, "mid_upload",
                           &mcb);
    if (!u->mover) {
        vapi_fail(&fail, VAPI_INTERNAL_SERVER_ERROR, "internal_error",
                  "The upload failed because of an internal error.", NULL);
        fail_upload(u, 500, &fail);
        return;
    }
    if (u->gone) { /* the client left while we asked: nothing arrived, keep what was */
        u->answer_status = 400; /* the request is orphaned: the answer only frees it */
        pause_attempt(u, u->durable);
        return;
    }
    if (u->mode == UPLOAD_BEGIN) begin_whole(u);
    else begin_resume(u);
}

static void start_begin(upload_t *u) {
    set_phase(u, u->mode == UPLOAD_PROBE ? UP_PROBE : UP_BEGIN);
    if (u->dp->stopping) {
        on_begun(u, ST_UNAVAILABLE, NULL, NULL);
        return;
    }
    bool probe = u->mode == UPLOAD_PROBE;
    if (!probe && !u->name_checked) {
        upload_begin_t check = {u->token, UPLOAD_PROBE, NULL, NULL, u->dp->instance};
        u->pending++;
        store_upload_begin(u->dp->store, &check, on_checked, u);
        return;
    }
    upload_begin_t ub = {u->token, u->mode, probe ? NULL : u->attempt, probe ? NULL : u->blob,
                         u->dp->instance};
    u->granted_ms = data_mono_ms();
    u->pending++;
    store_upload_begin(u->dp->store, &ub, on_begun, u);
}

/* A session header, when sent, must be a valid login (then the token decides as always). */
static void on_login(void *arg, store_status_t st, const char *user, int64_t c, int64_t l) {
    (void)user;
    (void)c;
    (void)l;
    upload_t *u = arg;
    u->pending--;
    if (st != ST_OK || u->dp->stopping) {
        vapi_failure_t f;
        set_phase(u, UP_DONE);
        respond(u, status_of(u->dp->stopping ? ST_UNAVAILABLE : st, &f, ""), &f, NULL);
        release(u);
        return;
    }
    start_begin(u);
}

static void check_login_then_begin(upload_t *u) {
    if (!u->login[0]) { start_begin(u); return; }
    set_phase(u, UP_LOGIN);
    if (u->dp->stopping) { on_login(u, ST_UNAVAILABLE, NULL, 0, 0); return; }
    store_auth_t auth = {u->login, 0};
    u->pending++;
    store_login_info(u->dp->store, &auth, on_login, u);
}

/* ---- the stream hooks ------------------------------------------------------------------ */

static bool upload_match(const http_request_t *req, void *arg) {
    (void)arg;
    return (req->method == HTTP_PUT || req->method == HTTP_POST || req->method == HTTP_PATCH ||
            req->method == HTTP_HEAD) &&
           req->path && strncmp(req->path, DATA_PREFIX, strlen(DATA_PREFIX)) == 0;
}

/* The media type of a Content-Type value, without parameters, case-insensitively. */
static bool media_type_is(const char *value, const char *want) {
    if (!value) return false;
    while (*value == ' ' || *value == '\t') value++;
    size_t n = strcspn(value, "; \t");
    return n == strlen(want) && strncasecmp(value, want, n) == 0;
}

static bool parse_offset(const char *s, int64_t *out) {
    if (!s) return false;
    while (*s == ' ' || *s == '\t') s++;
    int64_t v = 0;
    size_t digits = 0;
    for (; *s >= '0' && *s <= '9'; s++, digits++) {
        if (digits >= 18) return false;
        v = v * 10 + (*s - '0');
    }
    while (*s == ' ' || *s == '\t') s++;
    if (digits == 0 || *s) return false;
    *out = v;
    return true;
}

/* PATCH's headers, checked before anything is asked of the store. */
static int check_patch(upload_t *u, vapi_failure_t *f) {
    const char *ctype = http_header(u->req, "Content-Type");
    if (!media_type_is(ctype, "application/partial-upload") &&
        !media_type_is(ctype, "application/offset+octet-stream")) {
        vapi_fail(f, VAPI_INVALID_ARGUMENT, "upload_bad_content_type",
                  "A PATCH to an upload URI must have the content type "
                  "application/partial-upload.", NULL);
        return 415;
    }
    if (!parse_offset(http_header(u->req, "Upload-Offset"), &u->offset)) {
        vapi_fail(f, VAPI_INVALID_ARGUMENT, "upload_bad_offset",
                  "A PATCH to an upload URI needs the header Upload-Offset with the offset to "
                  "continue from (a non-negative integer).", NULL);
        return 400;
    }
    const char *complete = http_header(u->req, "Upload-Complete");
    u->complete_hdr = -1;
    if (complete) {
        while (*complete == ' ') complete++;
        if (strncmp(complete, "?1", 2) == 0 && !complete[2 + strspn(complete + 2, " \t")])
            u->complete_hdr = 1;
        else if (strncmp(complete, "?0", 2) == 0 && !complete[2 + strspn(complete + 2, " \t")])
            u->complete_hdr = 0;
        else {
            vapi_fail(f, VAPI_INVALID_ARGUMENT, "upload_bad_complete",
                      "The header Upload-Complete must be ?0 or ?1.", NULL);
            return 400;
        }
    }
    return 0;
}

static void upload_start(http_request_t *req, void *arg) {
    data_plane_t *dp = arg;
    upload_t *u = calloc(1, sizeof(*u));
    if (!u) { http_respond(req, 503, NULL, "", 0, NULL); return; }
    u->dp = dp;
    u->req = req;
    u->x.stop = xfer_stop;
    req->user = u;
    u->mode = req->method == HTTP_HEAD    ? UPLOAD_PROBE
              : req->method == HTTP_PATCH ? UPLOAD_RESUME
                                          : UPLOAD_BEGIN;
    vapi_failure_t f;
    const char *rest = req->path + strlen(DATA_PREFIX);
    const char *slash = strchr(rest, '/');
    size_t len = slash ? (size_t)(slash - rest) : 0;
    if (!slash || len == 0 || len >= sizeof(u->token) ||
        copy_str(u->uri_name, sizeof(u->uri_name), slash + 1) != C_OK) {
        set_phase(u, UP_DONE);
        respond(u, status_of(ST_NOT_FOUND, &f, ""), &f, NULL);
        release(u);
        return;
    }
    memcpy(u->token, rest, len);
    if (dp->draining) {
        vapi_fail(&f, VAPI_SERVICE_UNAVAILABLE, "service_stopping",
                  "The service is stopping. Retry the upload.", NULL);
        set_phase(u, UP_DONE);
        respond(u, 503, &f, NULL);
        release(u);
        return;
    }
    if (u->mode == UPLOAD_RESUME) {
        int code = check_patch(u, &f);
        if (code) {
            set_phase(u, UP_DONE);
            respond(u, code, &f, NULL);
            release(u);
            return;
        }
    }
    data_uuid(u->attempt);
    data_uuid(u->blob);
    const char *session_header = http_header(req, "vmware-api-session-id");
    if (session_header) copy_str(u->login, sizeof(u->login), session_header);
    if (u->mode == UPLOAD_PROBE) {
        /* No body: read to its end first, so the answer keeps the connection alive. */
        set_phase(u, UP_PROBE);
        http_stream_resume(req);
        return;
    }
    check_login_then_begin(u);
}

static int upload_data(http_request_t *req, const char *data, size_t len, void *arg) {
    (void)arg;
    upload_t *u = req->user;
    if (u->phase == UP_PROBE) return 0; /* a HEAD with a body: ignored */
    if (u->phase != UP_BODY || !u->sink) return -1;
    if (mover_fenced(u->mover)) { fence_upload(u); return -1; }
    vapi_failure_t f;
    int64_t total = sink_bytes(u->sink) + (int64_t)len;
    if (u->file.has_size && total > u->file.size) {
        char want[24];
        size_text(want, sizeof(want), u->file.size);
        vapi_fail(&f, VAPI_INVALID_ARGUMENT, "file_size_mismatch",
                  "The file {0} was declared with size {1} but more bytes arrived.",
                  u->file.name, want, NULL);
        fail_upload(u, 400, &f);
        return -1;
    }
    if (!u->file.has_size && total > u->dp->max_upload_bytes) { fail_too_large(u); return -1; }
    if (u->disk_low) { fail_no_space(u); return -1; }
    if (!sink_put(u->sink, data, len)) {
        int err = sink_error(u->sink);
        if (err) {
            int code = storage_failure(u, err, &f);
            fail_upload(u, code, &f);
            return -1;
        }
        u->throttled = true; /* both buffers busy: on_sink_wake resumes */
        http_stream_pause(u->req);
    }
    u->dp->stats.upload_bytes += len;
    return 0;
}

/* The whole file arrived: check size and checksum, make it durable under its final name, then
 * record READY (the answer waits for that). */
static void finish_ready(upload_t *u) {
    vapi_failure_t f;
    int64_t bytes = blob_writer_bytes(u->writer);
    if (u->file.has_size && bytes != u->file.size) {
        char want[24], got[24];
        size_text(want, sizeof(want), u->file.size);
        size_text(got, sizeof(got), bytes);
        vapi_fail(&f, VAPI_INVALID_ARGUMENT, "file_size_mismatch",
                  "The file {0} was declared with size {1} but {2} bytes arrived.", u->file.name,
                  want, got, NULL);
        fail_upload(u, 400, &f);
        return;
    }
    char hex[CHECKSUM_MAX];
    checksum_alg_t alg = u->file.expected.present ? u->file.expected.algorithm : CHECKSUM_SHA1;
    blob_writer_t *w = u->writer;
    u->writer = NULL;
    if (blob_writer_finish(w, hex) != C_OK) {
        int code = storage_failure(u, errno, &f);
        fail_upload(u, code, &f);
        return;
    }
    if (u->file.expected.present && strcasecmp(hex, u->file.expected.checksum) != 0) {
        vapi_fail(&f, VAPI_INVALID_ARGUMENT, "file_checksum_mismatch",
                  "The {0} checksum of file {1} is {2}, not the declared {3}.",
                  checksum_alg_name(alg), u->file.name, hex, u->file.expected.checksum, NULL);
        u->file.bytes_transferred = bytes;
        fail_upload(u, 400, &f);
        return;
    }
    session_file_t r = u->file;
    r.status = TRANSFER_READY;
    r.has_size = true;
    r.size = bytes;
    r.bytes_transferred = bytes;
    r.staged = bytes;
    r.received.present = true;
    r.received.algorithm = alg;
    copy_str(r.received.checksum, sizeof(r.received.checksum), hex);
    u->answer_status = u->mode == UPLOAD_RESUME ? 204 : 200;
    u->answer_is_failure = false;
    if (u->mode == UPLOAD_RESUME)
        offset_header(u->answer_headers, sizeof(u->answer_headers), bytes, true);
    end_attempt(u, TEV_READY, &r);
}

/* A PATCH that does not end the upload: everything received is made durable and kept. */
static void finish_pause(upload_t *u) {
    int64_t durable = u->durable;
    int rc = blob_writer_suspend(u->writer, &durable);
    int err = errno;
    u->writer = NULL;
    if (rc != C_OK) {
        vapi_failure_t f;
        int code = storage_failure(u, err, &f);
        fail_upload(u, code, &f);
        return;
    }
    u->answer_status = 204;
    u->answer_is_failure = false;
    offset_header(u->answer_headers, sizeof(u->answer_headers), durable, false);
    pause_attempt(u, durable);
}

static void cut_step(upload_t *u, int err) {
    (void)err; /* the prefix is what the sync below made durable */
    int64_t durable = u->durable;
    if (u->writer) {
        blob_writer_suspend(u->writer, &durable);
        u->writer = NULL;
    }
    pause_attempt(u, durable);
}

/* The client went away mid-body: keep the durable prefix for a resume (what arrived is written
 * first). Nobody to answer (a WAITING file shows no error_message, so none is recorded). */
static void finish_cut(upload_t *u) {
    if (u->rehash_ev) event_del(u->rehash_ev);
    u->answer_status = 400; /* the request is orphaned: this only frees it */
    u->answer_is_failure = false;
    with_writer(u, true, cut_step);
}

/* The whole body is written and synced (with_writer): the upload ends or pauses. */
static void body_written(upload_t *u, int err) {
    if (err) {
        vapi_failure_t f;
        int code = storage_failure(u, err, &f);
        fail_upload(u, code, &f);
        return;
    }
    if (mover_fenced(u->mover)) {
        set_phase(u, UP_BODY); /* park_upload's phase: the writer is back, nothing waits */
        fence_upload(u);
        return;
    }
    int64_t bytes = blob_writer_bytes(u->writer);
    bool ends = u->mode != UPLOAD_RESUME || u->complete_hdr == 1 ||
                (u->file.has_size && bytes >= u->file.size);
    if (ends) finish_ready(u);
    else finish_pause(u);
}

static void upload_end(http_request_t *req, bool complete, void *arg) {
    (void)arg;
    upload_t *u = req->user;
    if (!complete) {
        u->gone = true;
        if (u->phase == UP_BODY || u->phase == UP_REHASH) finish_cut(u);
        else if (u->phase == UP_PROBE) {
            set_phase(u, UP_DONE);
            respond(u, 400, NULL, NULL); /* orphaned: only frees */
            release(u);
        }
        /* LOGIN, BEGIN: their callbacks see `gone`; ENDING: the pending answer frees. */
        return;
    }
    if (u->phase == UP_PROBE) { check_login_then_begin(u); return; }
    if (u->phase != UP_BODY) return;
    if (mover_fenced(u->mover)) { fence_upload(u); return; }
    with_writer(u, true, body_written);
}

/* Reading in place (net/http.h): a Content-Length body goes straight into the sink's buffer.
 * The memory stays valid as http.h asks: the sink keeps its buffers until with_writer(), which
 * runs after on_end or after the answer. */
static char *upload_buffer(http_request_t *req, size_t *len, void *arg) {
    (void)arg;
    upload_t *u = req->user;
    if (!u || u->phase != UP_BODY || !u->sink) return NULL;
    return sink_space(u->sink, len);
}

void upload_install(data_plane_t *dp) {
    http_stream_t stream = {upload_match, upload_start, upload_data, upload_end, dp,
                            upload_buffer};
    http_server_set_stream(dp->http, &stream);
}
