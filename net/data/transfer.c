/* net/data/transfer.c: moving file content. The PUSH data plane: PUT or POST of raw bytes to
 * <public url>/cls/data/<token>/<name>, streamed (net/http.c's streaming bodies) into a staged
 * blob and hashed as it arrives; the token alone authorizes. PULL transfers started by
 * File.add, running on the instance that accepted the add. And what happens to staged data
 * when a session ends. Transfer state lives in Redis (store_upload_begin, store_transfer_*);
 * progress is written at a bounded rate and counts as session activity. */
#include <event2/buffer.h>
#include <event2/event.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/spec.h"
#include "core/validate.h"
#include "net/api.h"
#include "store/blob.h"
#include "net/data/pull.h"

#define DATA_PREFIX "/cls/data/"

typedef struct pull_job {
    struct pull_job *next;
    app_t *app;
    pull_t *pull;
    char session_id[SESSION_ID_MAX];
    session_file_t file;
    bool progress_in_flight;
} pull_job_t;

struct transfers {
    pull_job_t *pulls;
};

/* One PUSH upload being received. */
typedef struct {
    app_t *app;
    http_request_t *req;
    char token[UPLOAD_TOKEN_MAX];
    char session_id[SESSION_ID_MAX];
    char auth_token[256];
    session_file_t file;
    blob_writer_t *writer;
    int64_t bytes;
    int64_t last_progress_ms;
    bool begun;             /* the store has the file TRANSFERRING with our blob */
    bool gone;              /* the client left (on_end(false)) */
    bool failed;            /* on_data refused: failure holds why */
    bool progress_in_flight;
    int fail_status;
    vapi_failure_t failure;
} upload_t;

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Progress is written at most this often; short session timeouts get more frequent writes so
 * an upload always counts as activity before the session could expire. */
static int64_t progress_interval_ms(const app_t *app) {
    int64_t quarter = app->cfg.session_timeout_s * 1000 / 4;
    return quarter < 1000 ? quarter : 1000;
}

static void unlink_old_blobs(app_t *app, const char *session_id, char *const *blobs, size_t n) {
    char item[ID_MAX];
    if (!parse_session_id(session_id, item)) return;
    for (size_t i = 0; i < n; i++) blob_unlink_item_blob(app->cfg.storage_dir, item, blobs[i]);
}

/* ---- PUSH ------------------------------------------------------------------------------- */

static void upload_free(upload_t *u) {
    if (u->writer) blob_writer_abort(u->writer);
    free(u);
}

static void upload_respond(upload_t *u, int status, const vapi_failure_t *f) {
    if (f)
        send_failure_status(u->req, FLAVOUR_API, f, status);
    else
        http_respond(u->req, status, NULL, "", 0, NULL);
    upload_free(u);
}

static int status_of(store_status_t st, vapi_failure_t *f, const char *name) {
    switch (st) {
    case ST_NOT_FOUND:
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
    case ST_UNAUTHENTICATED:
        vapi_fail(f, VAPI_UNAUTHENTICATED, "vapi.method.authentication.required",
                  "This method requires authentication.", NULL);
        return 401;
    case ST_UNAVAILABLE:
        vapi_fail(f, VAPI_SERVICE_UNAVAILABLE, "service_unavailable",
                  "The service is temporarily unavailable. Retry the upload.", NULL);
        return 503;
    default:
        vapi_fail(f, VAPI_INTERNAL_SERVER_ERROR, "internal_error",
                  "The upload failed because of an internal error.", NULL);
        return 500;
    }
}

/* The answer to the upload comes once the store recorded its outcome. */
static void on_upload_recorded(void *arg, store_status_t st, char *const *ids, size_t n) {
    upload_t *u = arg;
    unlink_old_blobs(u->app, u->session_id, ids, n);
    if (u->gone) { http_respond(u->req, 500, NULL, "", 0, NULL); upload_free(u); return; }
    vapi_failure_t f;
    if (st != ST_OK) { int code = status_of(st, &f, u->file.name); upload_respond(u, code, &f); return; }
    if (u->file.status == TRANSFER_READY) { upload_respond(u, 200, NULL); return; }
    f.type = VAPI_INVALID_ARGUMENT;
    f.msg = u->file.error_message;
    upload_respond(u, u->fail_status ? u->fail_status : 400, &f);
}

/* Records the end of the transfer: READY with what arrived, or ERROR with why. */
static void upload_end(upload_t *u, const vapi_message_t *error) {
    session_file_t *r = &u->file;
    r->bytes_transferred = u->bytes;
    if (error) {
        r->status = TRANSFER_ERROR;
        r->has_error_message = true;
        r->error_message = *error;
    } else {
        r->status = TRANSFER_READY;
        r->has_size = true;
        r->size = u->bytes;
    }
    store_transfer_end(u->app->store, u->session_id, r->name, r->blob, r, on_upload_recorded, u);
}

/* Ends the transfer in ERROR (once: `failed` stops every later path from ending it again). */
static void upload_fail(upload_t *u, int status, const vapi_failure_t *f) {
    u->failed = true;
    u->fail_status = status;
    if (u->writer) { blob_writer_abort(u->writer); u->writer = NULL; }
    upload_end(u, &f->msg);
}

static void on_upload_begun(void *arg, store_status_t st, const char *session_id,
                            const session_file_t *f) {
    upload_t *u = arg;
    vapi_failure_t fail;
    if (st != ST_OK) {
        if (u->gone) { http_respond(u->req, 500, NULL, "", 0, NULL); upload_free(u); return; }
        int code = status_of(st, &fail, "");
        upload_respond(u, code, &fail);
        return;
    }
    u->begun = true;
    copy_str(u->session_id, sizeof(u->session_id), session_id);
    char blob[BLOB_ID_MAX];
    copy_str(blob, sizeof(blob), u->file.blob);
    u->file = *f;
    copy_str(u->file.blob, sizeof(u->file.blob), blob);
    if (u->gone) {
        vapi_fail(&fail, VAPI_INVALID_ARGUMENT, "upload_interrupted",
                  "The upload of file {0} was interrupted before any data arrived.", f->name, NULL);
        upload_fail(u, 400, &fail);
        return;
    }
    int64_t declared = http_content_length(u->req);
    if (f->has_size && declared >= 0 && declared != f->size) {
        char want[24], got[24];
        snprintf(want, sizeof(want), "%lld", (long long)f->size);
        snprintf(got, sizeof(got), "%lld", (long long)declared);
        vapi_fail(&fail, VAPI_INVALID_ARGUMENT, "file_size_mismatch",
                  "The file {0} was declared with size {1} but the upload sends {2} bytes.",
                  f->name, want, got, NULL);
        upload_fail(u, 400, &fail);
        return;
    }
    checksum_alg_t alg = f->expected.present ? f->expected.algorithm : CHECKSUM_SHA1;
    u->writer = blob_writer_open(u->app->cfg.storage_dir, session_id, u->file.blob, alg, &fail);
    if (!u->writer) { upload_fail(u, vapi_error_status(fail.type, FLAVOUR_API), &fail); return; }
    u->last_progress_ms = mono_ms();
    http_stream_resume(u->req);
}

static void on_progress_recorded(void *arg, store_status_t st, const char *detail) {
    (void)st;
    (void)detail;
    bool *in_flight = arg;
    *in_flight = false;
}

static bool upload_match(const http_request_t *req, void *arg) {
    (void)arg;
    return (req->method == HTTP_PUT || req->method == HTTP_POST) && req->path &&
           strncmp(req->path, DATA_PREFIX, strlen(DATA_PREFIX)) == 0;
}

/* Login check for callers that send a session header (it must then be valid). */
static void on_upload_login(void *arg, store_status_t st, const char *user, int64_t c, int64_t l) {
    (void)user;
    (void)c;
    (void)l;
    upload_t *u = arg;
    vapi_failure_t f;
    if (st != ST_OK) {
        if (u->gone) { http_respond(u->req, 500, NULL, "", 0, NULL); upload_free(u); return; }
        int code = status_of(st, &f, "");
        upload_respond(u, code, &f);
        return;
    }
    store_upload_begin(u->app->store, u->token, u->file.blob, on_upload_begun, u);
}

static void upload_start(http_request_t *req, void *arg) {
    app_t *app = arg;
    upload_t *u = calloc(1, sizeof(*u));
    if (!u) { http_respond(req, 503, NULL, "", 0, NULL); return; }
    u->app = app;
    u->req = req;
    req->user = u;
    const char *rest = req->path + strlen(DATA_PREFIX);
    const char *slash = strchr(rest, '/');
    size_t len = slash ? (size_t)(slash - rest) : 0;
    vapi_failure_t f;
    if (!slash || len == 0 || len >= sizeof(u->token)) {
        upload_respond(u, status_of(ST_NOT_FOUND, &f, ""), &f);
        return;
    }
    memcpy(u->token, rest, len);
    new_uuid(u->file.blob);
    const char *session_header = http_header(req, "vmware-api-session-id");
    if (session_header) {
        copy_str(u->auth_token, sizeof(u->auth_token), session_header);
        store_auth_t auth = {u->auth_token, 0};
        store_login_info(app->store, &auth, on_upload_login, u);
        return;
    }
    store_upload_begin(app->store, u->token, u->file.blob, on_upload_begun, u);
}

static int upload_data(http_request_t *req, const char *data, size_t len, void *arg) {
    (void)arg;
    upload_t *u = req->user;
    if (u->failed || !u->writer) return -1;
    u->bytes += (int64_t)len;
    vapi_failure_t *f = &u->failure;
    if (u->file.has_size && u->bytes > u->file.size) {
        char want[24];
        snprintf(want, sizeof(want), "%lld", (long long)u->file.size);
        vapi_fail(f, VAPI_INVALID_ARGUMENT, "file_size_mismatch",
                  "The file {0} was declared with size {1} but more bytes arrived.",
                  u->file.name, want, NULL);
        upload_fail(u, 400, f);
        return -1;
    }
    if (blob_writer_write(u->writer, data, len) != C_OK) {
        vapi_fail(f, VAPI_UNABLE_TO_ALLOCATE_RESOURCE, "storage_write_failed",
                  "The file {0} could not be written to storage.", u->file.name, NULL);
        upload_fail(u, 500, f);
        return -1;
    }
    int64_t now = mono_ms();
    if (!u->progress_in_flight && now - u->last_progress_ms >= progress_interval_ms(u->app)) {
        u->last_progress_ms = now;
        u->progress_in_flight = true;
        store_transfer_progress(u->app->store, u->session_id, u->file.name, u->file.blob,
                                u->bytes, on_progress_recorded, &u->progress_in_flight);
    }
    return 0;
}

/* The body ended: whole (verify size and checksum, then READY or ERROR) or cut. */
static void upload_finish(http_request_t *req, bool complete, void *arg) {
    (void)arg;
    upload_t *u = req->user;
    vapi_failure_t f;
    if (!complete) {
        u->gone = true;
        if (!u->begun || u->failed) return; /* on_upload_begun or the pending end answers */
        char got[24];
        snprintf(got, sizeof(got), "%lld", (long long)u->bytes);
        vapi_fail(&f, VAPI_INVALID_ARGUMENT, "upload_interrupted",
                  "The upload of file {0} was interrupted after {1} bytes.", u->file.name, got, NULL);
        upload_fail(u, 400, &f);
        return;
    }
    if (u->failed) return;
    if (u->file.has_size && u->bytes != u->file.size) {
        char want[24], got[24];
        snprintf(want, sizeof(want), "%lld", (long long)u->file.size);
        snprintf(got, sizeof(got), "%lld", (long long)u->bytes);
        vapi_fail(&f, VAPI_INVALID_ARGUMENT, "file_size_mismatch",
                  "The file {0} was declared with size {1} but {2} bytes arrived.",
                  u->file.name, want, got, NULL);
        upload_fail(u, 400, &f);
        return;
    }
    char hex[CHECKSUM_MAX];
    checksum_alg_t alg = u->file.expected.present ? u->file.expected.algorithm : CHECKSUM_SHA1;
    blob_writer_t *w = u->writer;
    u->writer = NULL;
    if (blob_writer_finish(w, hex) != C_OK) {
        vapi_fail(&f, VAPI_UNABLE_TO_ALLOCATE_RESOURCE, "storage_write_failed",
                  "The file {0} could not be written to storage.", u->file.name, NULL);
        upload_fail(u, 500, &f);
        return;
    }
    if (u->file.expected.present && strcasecmp(hex, u->file.expected.checksum) != 0) {
        vapi_fail(&f, VAPI_INVALID_ARGUMENT, "file_checksum_mismatch",
                  "The {0} checksum of file {1} is {2}, not the declared {3}.",
                  checksum_alg_name(alg), u->file.name, hex, u->file.expected.checksum, NULL);
        upload_fail(u, 400, &f);
        return;
    }
    u->file.received.present = true;
    u->file.received.algorithm = alg;
    copy_str(u->file.received.checksum, sizeof(u->file.received.checksum), hex);
    upload_end(u, NULL);
}

/* ---- PULL ------------------------------------------------------------------------------- */

static void job_unlink(app_t *app, pull_job_t *job) {
    for (pull_job_t **p = &app->transfers->pulls; *p; p = &(*p)->next)
        if (*p == job) { *p = job->next; break; }
}

static void on_pull_recorded(void *arg, store_status_t st, char *const *ids, size_t n) {
    pull_job_t *job = arg;
    (void)st;
    unlink_old_blobs(job->app, job->session_id, ids, n);
    free(job);
}

static void on_pull_progress(void *arg, int64_t bytes) {
    pull_job_t *job = arg;
    if (job->progress_in_flight) return;
    job->progress_in_flight = true;
    store_transfer_progress(job->app->store, job->session_id, job->file.name, job->file.blob,
                            bytes, on_progress_recorded, &job->progress_in_flight);
}

/* A pull ended: a READY blob is linked into the item's directory at once, because the store
 * may complete the session (publish) in the same script that records this outcome. */
static void on_pull_done(void *arg, bool ok, int64_t bytes, const char *hex,
                         const vapi_message_t *error_message) {
    pull_job_t *job = arg;
    app_t *app = job->app;
    job_unlink(app, job);
    job->pull = NULL;
    session_file_t *r = &job->file;
    r->bytes_transferred = bytes;
    vapi_message_t why;
    checksum_alg_t alg = r->expected.present ? r->expected.algorithm : CHECKSUM_SHA1;
    if (ok && r->expected.present && strcasecmp(hex, r->expected.checksum) != 0) {
        vapi_message_set(&why, "file_checksum_mismatch",
                         "The {0} checksum of file {1} is {2}, not the declared {3}.",
                         checksum_alg_name(alg), r->name, hex, r->expected.checksum, NULL);
        error_message = &why;
        ok = false;
    }
    if (ok && blob_publish(app->cfg.storage_dir, job->session_id, r->blob) != C_OK) {
        vapi_message_set(&why, "storage_write_failed",
                         "The file {0} could not be written to storage.", r->name, NULL);
        error_message = &why;
        ok = false;
    }
    if (ok) {
        r->status = TRANSFER_READY;
        r->has_size = true;
        r->size = bytes;
        r->received.present = true;
        r->received.algorithm = alg;
        copy_str(r->received.checksum, sizeof(r->received.checksum), hex);
    } else {
        r->status = TRANSFER_ERROR;
        r->has_error_message = true;
        r->error_message = *error_message;
    }
    store_transfer_end(app->store, job->session_id, r->name, r->blob, r, on_pull_recorded, job);
}

void transfer_start_pull(app_t *app, const char *session_id, const session_file_t *f) {
    pull_job_t *job = calloc(1, sizeof(*job));
    if (!job) return;
    job->app = app;
    copy_str(job->session_id, sizeof(job->session_id), session_id);
    job->file = *f;
    pull_request_t rq = {
        .uri = f->source_uri,
        .thumbprint = f->source_thumbprint,
        .algorithm = f->expected.present ? f->expected.algorithm : CHECKSUM_SHA1,
        .expected_size = f->has_size ? f->size : -1,
        .storage_dir = app->cfg.storage_dir,
        .session_id = session_id,
        .blob = f->blob,
    };
    pull_callbacks_t cb = {on_pull_progress, on_pull_done, job};
    vapi_failure_t fail;
    job->pull = pull_start(app->base, &rq, &cb, &fail);
    if (!job->pull) {
        on_pull_done(job, false, 0, "", &fail.msg);
        return;
    }
    job->next = app->transfers->pulls;
    app->transfers->pulls = job;
}

/* ---- sessions ending --------------------------------------------------------------------- */

void transfer_session_ended(app_t *app, const char *session_id, bool keep_staging) {
    for (pull_job_t **p = &app->transfers->pulls; *p;) {
        pull_job_t *job = *p;
        if (strcmp(job->session_id, session_id) != 0) { p = &job->next; continue; }
        *p = job->next;
        pull_cancel(job->pull);
        free(job);
    }
    if (!keep_staging) blob_discard_session(app->cfg.storage_dir, session_id);
}

static void on_expired(void *arg, const char *session_id) {
    transfer_session_ended(arg, session_id, false);
}

void transfer_init(app_t *app) {
    static struct transfers transfers;
    app->transfers = &transfers;
    http_stream_t stream = {upload_match, upload_start, upload_data, upload_finish, app};
    http_server_set_stream(app->http, &stream);
    store_on_expired(app->store, on_expired, app);
}

void transfer_shutdown(app_t *app) {
    while (app->transfers && app->transfers->pulls) {
        pull_job_t *job = app->transfers->pulls;
        app->transfers->pulls = job->next;
        pull_cancel(job->pull);
        free(job);
    }
}
