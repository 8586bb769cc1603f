/* net/data/publish.c: the one publish path (net/data/data.h data_publish), used by the
 * client's complete (net/ops_session.c) and by the instance that ended a requested complete's
 * last PULL (net/data/pull_job.c, auth NULL).
 *
 * 1. List the session's own files (store_file_list_own: not the item's, which only grow).
 * 2. Hard-link every READY file that has bytes (PUSH or PULL, not removed) into the item's
 *    directory (store/blob.h blob_link: idempotent; then one blob_sync_item for them all),
 *    remembering the exact (name, blob) pairs linked.            FAULT_POINT("after_link")
 * 3. store_session_complete with those pairs: one compare-and-set that publishes only if every
 *    such file is still READY with the linked blob. FAULT_POINT("after_publish") once it
 *    answered OK. An upload that ended (or began again) between 1 and 3 makes the store answer
 *    ST_FILES_CHANGED: list, link and ask again, at most MAX_TRIES times in all, then the
 *    answer is ST_FILES_NOT_READY naming the file (the error a not-ready file gives).
 * Links the store did not take stay until the storage scan finds them unreferenced (a retry may
 * link and publish the same blob a moment later); nothing is unlinked here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/data/fault.h"
#include "net/data/plane.h"
#include "store/blob.h"
#include "net/log.h"

#define MAX_TRIES 3

typedef struct {
    char name[FILE_NAME_MAX];
    char blob[BLOB_ID_MAX];
} pair_t;

typedef struct {
    data_plane_t *dp;
    bool has_auth;
    char token[256];
    store_auth_t auth;
    char session_id[SESSION_ID_MAX];
    int tries;
    pair_t *pairs;
    linked_file_t *linked;
    size_t n;
    data_publish_cb cb;
    void *arg;
} publish_t;

static void finish(publish_t *p, store_status_t st, const char *detail,
                   const vapi_failure_t *local) {
    p->cb(p->arg, st, detail, local);
    free(p->pairs);
    free(p->linked);
    free(p);
}

static const store_auth_t *auth_of(const publish_t *p) { return p->has_auth ? &p->auth : NULL; }

static void list_files(publish_t *p);

static void on_completed(void *arg, store_status_t st, const char *detail) {
    publish_t *p = arg;
    if (st == ST_OK) {
        if (!detail) FAULT_POINT("after_publish");
        data_garbage_made(p->dp); /* the item's replaced blobs, the session's staging */
        finish(p, st, detail, NULL);
        return;
    }
    if (st == ST_FILES_CHANGED && p->tries < MAX_TRIES && !p->dp->stopping) {
        list_files(p);
        return;
    }
    finish(p, st == ST_FILES_CHANGED ? ST_FILES_NOT_READY : st, detail, NULL);
}

static bool has_bytes(const session_file_t *f) {
    return (f->source_type == SOURCE_PUSH || f->source_type == SOURCE_PULL) && !f->removed &&
           f->status == TRANSFER_READY && f->blob[0];
}

static void on_listed(void *arg, store_status_t st, const session_file_t *files, size_t n) {
    publish_t *p = arg;
    if (st != ST_OK || p->dp->stopping) {
        finish(p, st != ST_OK ? st : ST_UNAVAILABLE, NULL, NULL);
        return;
    }
    free(p->pairs);
    free(p->linked);
    p->pairs = calloc(n ? n : 1, sizeof(*p->pairs));
    p->linked = calloc(n ? n : 1, sizeof(*p->linked));
    p->n = 0;
    if (!p->pairs || !p->linked) {
        finish(p, ST_INTERNAL, NULL, NULL);
        return;
    }
    bool created = false;
    for (size_t i = 0; i < n; i++) {
        const session_file_t *f = &files[i];
        if (!has_bytes(f)) continue;
        if (blob_link(p->dp->storage_dir, p->session_id, f->blob, &created) != C_OK) {
            vapi_failure_t fail;
            vapi_fail(&fail, VAPI_INTERNAL_SERVER_ERROR, "storage_write_failed",
                      "The file {0} could not be published to storage.", f->name, NULL);
            log_msg(LV_ERROR, "complete of %s: cannot link blob %s of %s",
                    p->session_id, f->blob, f->name);
            finish(p, ST_INTERNAL, NULL, &fail);
            return;
        }
        pair_t *q = &p->pairs[p->n];
        copy_str(q->name, sizeof(q->name), f->name);
        copy_str(q->blob, sizeof(q->blob), f->blob);
        p->linked[p->n].name = q->name;
        p->linked[p->n].blob = q->blob;
        p->n++;
    }
    /* one fsync of the item's directory for all the links, before Redis points at them */
    if (p->n > 0 && blob_sync_item(p->dp->storage_dir, p->session_id, created) != C_OK) {
        vapi_failure_t fail;
        vapi_fail(&fail, VAPI_INTERNAL_SERVER_ERROR, "storage_write_failed",
                  "The files of update session {0} could not be published to storage.",
                  p->session_id, NULL);
        log_msg(LV_ERROR, "complete of %s: cannot sync the item's directory", p->session_id);
        finish(p, ST_INTERNAL, NULL, &fail);
        return;
    }
    FAULT_POINT("after_link");
    store_session_complete(p->dp->store, auth_of(p), p->session_id, p->linked, p->n,
                           on_completed, p);
}

static void list_files(publish_t *p) {
    p->tries++;
    store_file_list_own(p->dp->store, auth_of(p), p->session_id, on_listed, p);
}

void data_publish(data_plane_t *dp, const store_auth_t *auth, const char *session_id,
                  data_publish_cb cb, void *arg) {
    publish_t *p = dp->stopping ? NULL : calloc(1, sizeof(*p));
    if (!p || copy_str(p->session_id, sizeof(p->session_id), session_id) != C_OK) {
        free(p);
        cb(arg, dp->stopping ? ST_UNAVAILABLE : ST_INTERNAL, NULL, NULL);
        return;
    }
    p->dp = dp;
    p->cb = cb;
    p->arg = arg;
    if (auth) {
        p->has_auth = true;
        copy_str(p->token, sizeof(p->token), auth->token ? auth->token : "");
        p->auth.token = auth->token ? p->token : NULL;
        p->auth.required_privs = auth->required_privs;
    }
    list_files(p);
}
