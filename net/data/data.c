/* net/data/data.c: the data plane's context (net/data/data.h): its settings, the instance
 * name, the list of transfers this instance runs and their stop on a session's end, the hook
 * that wakes the janitor, and the helpers the data plane's files share (net/data/plane.h). */
#include "net/data/plane.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/spec.h"
#include "net/api.h"
#include "net/log.h"

#define BEAT_MAX_MS 1000
#define BEAT_MIN_MS 10
#define DISK_THREADS 2      /* at most one job per upload in flight: more threads, more uploads */
#define DISK_QUEUE_MAX 4096 /* jobs waiting (one per upload at most); past it a job runs inline */
#define DISK_NICE 0          /* measured: nice 5 cost ~10% of upload throughput, no GET p99 gain */

void data_uuid(char *out) { new_uuid(out); }

int64_t data_mono_ms(void) { return mono_ms(); }

void data_respond_failure(http_request_t *req, int status, const vapi_failure_t *f,
                          const char *extra_headers) {
    struct json_object *doc = failure_to_json(f, FLAVOUR_API);
    size_t len = 0;
    const char *text = json_object_to_json_string_length(
        doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    http_respond(req, status, "application/json", text, len, extra_headers);
    json_object_put(doc);
}

void data_plane_stats(const data_plane_t *dp, data_stats_t *out) { *out = dp->stats; }

void xfer_link(data_plane_t *dp, data_xfer_t *x) {
    x->prev = NULL;
    x->next = dp->xfers;
    if (dp->xfers) dp->xfers->prev = x;
    dp->xfers = x;
}

void xfer_unlink(data_plane_t *dp, data_xfer_t *x) {
    if (x->prev) x->prev->next = x->next;
    else if (dp->xfers == x) dp->xfers = x->next;
    if (x->next) x->next->prev = x->prev;
    x->prev = x->next = NULL;
}

/* A stop unlinks the transfer it stops (and only that one), so the walk keeps the next. */
void data_stop(data_plane_t *dp, const char *session_id, const char *name, data_stop_t why) {
    if (!dp || !session_id) return;
    for (data_xfer_t *x = dp->xfers, *next; x; x = next) {
        next = x->next;
        if (strcmp(x->session_id, session_id) == 0 && (!name || strcmp(x->name, name) == 0))
            x->stop(x, why);
    }
}

/* The sweeper of this instance expired a session: its transfers here end now. */
static void on_expired(void *arg, const char *session_id) {
    data_plane_t *dp = arg;
    data_stop(dp, session_id, NULL, DATA_SESSION_ENDED);
    data_garbage_made(dp);
}

/* A requested complete that nobody finished, claimed by this instance's sweep. */
typedef struct {
    char session_id[SESSION_ID_MAX];
} due_complete_t;

static void on_due_published(void *arg, store_status_t st, const char *detail,
                             const vapi_failure_t *local) {
    due_complete_t *due = arg;
    log_msg(LV_WARN, "complete of %s left by another instance: %s%s%s",
            due->session_id, local ? local->msg.default_message : store_status_name(st),
            detail ? " " : "", detail ? detail : "");
    free(due);
}

/* The sweep claimed a requested complete whose pulls all ended but that the instance recording
 * the last one never finished (it died): run it here, through the one publish path. */
static void on_completion_due(void *arg, const char *session_id) {
    data_plane_t *dp = arg;
    due_complete_t *due = calloc(1, sizeof(*due));
    if (!due || dp->stopping ||
        copy_str(due->session_id, sizeof(due->session_id), session_id) != C_OK) {
        free(due);
        return; /* the claim lapses; another sweep claims it again */
    }
    data_publish(dp, NULL, due->session_id, on_due_published, due);
}

const char *data_instance(const data_plane_t *dp) { return dp->instance; }

void data_set_garbage_hook(data_plane_t *dp, void (*fn)(void *arg), void *arg) {
    dp->garbage_fn = fn;
    dp->garbage_arg = arg;
}

void data_garbage_made(data_plane_t *dp) {
    if (dp && dp->garbage_fn && !dp->stopping) dp->garbage_fn(dp->garbage_arg);
}

data_plane_t *data_plane_new(const data_config_t *cfg) {
    data_plane_t *dp = calloc(1, sizeof(*dp));
    if (!dp) return NULL;
    dp->base = cfg->base;
    dp->store = cfg->store;
    dp->http = cfg->http;
    if (copy_str(dp->storage_dir, sizeof(dp->storage_dir), cfg->storage_dir) != C_OK) {
        free(dp);
        return NULL;
    }
    /* A wildcard listen address names no host: the host name does, for operators. */
    const char *host = cfg->listen_host ? cfg->listen_host : "";
    char name[HOST_NAME_MAX + 1];
    if (!host[0] || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 ||
        strcmp(host, "*") == 0) {
        if (gethostname(name, sizeof(name)) == 0) {
            name[sizeof(name) - 1] = '\0';
            host = name;
        }
    }
    snprintf(dp->instance, sizeof(dp->instance), "%s:%d/%ld", host, cfg->listen_port,
             (long)getpid());
    dp->lease_ms = cfg->transfer_lease_ms > 0 ? cfg->transfer_lease_ms : 10000;
    int64_t beat = BEAT_MAX_MS;
    if (dp->lease_ms / 4 < beat) beat = dp->lease_ms / 4;
    if (cfg->session_timeout_ms > 0 && cfg->session_timeout_ms / 4 < beat)
        beat = cfg->session_timeout_ms / 4;
    dp->beat_ms = (int)(beat < BEAT_MIN_MS ? BEAT_MIN_MS : beat);
    dp->max_upload_bytes = cfg->max_upload_bytes;
    dp->min_free_bytes = cfg->min_free_bytes;
    if (egress_policy_init(&dp->policy, cfg) != C_OK) {
        free(dp);
        return NULL;
    }
    /* Hashing and writing upload bodies (net/data/sink.h). Without the pool the uploads do that
     * work on the loop, as before it existed. */
    dp->disk_pool = worker_pool_new(dp->base, DISK_THREADS, DISK_QUEUE_MAX, DISK_NICE);
    if (!dp->disk_pool) log_msg(LV_WARN, "no disk threads: uploads hash and write on the loop");
    upload_install(dp);
    store_on_expired(dp->store, on_expired, dp);
    store_on_completion_due(dp->store, on_completion_due, dp);
    return dp;
}

void data_plane_drain(data_plane_t *dp) {
    if (!dp) return;
    dp->draining = true; /* new uploads get a 503 */
    while (dp->xfers) dp->xfers->stop(dp->xfers, DATA_SHUTDOWN);
}

void data_plane_shutdown(data_plane_t *dp) {
    if (!dp) return;
    dp->stopping = true;
    http_server_set_stream(dp->http, NULL);
    store_on_expired(dp->store, NULL, NULL);
    store_on_completion_due(dp->store, NULL, NULL);
    while (dp->xfers) dp->xfers->stop(dp->xfers, DATA_SHUTDOWN);
    /* Joins the disk threads; the uploads waiting for them finish their ends now. */
    worker_pool_free(dp->disk_pool);
    dp->disk_pool = NULL;
}

void data_plane_free(data_plane_t *dp) {
    if (dp) worker_pool_free(dp->disk_pool);
    free(dp);
}
