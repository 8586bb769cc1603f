/* net/data/data.h: the data plane, "where bytes go", as the rest of the server sees it.
 *
 * The data plane moves file content into --storage-dir and publishes it: PUSH uploads on the
 * upload URIs (/cls/data/<token>/<name>: PUT/POST whole files, HEAD + PATCH resumable uploads,
 * net/data/upload.c), PULL transfers started by File.add (net/data/pull_job.c), the lease and
 * heartbeat every mover holds (net/data/mover.c), and the one publish procedure of complete
 * (net/data/publish.c). It depends on the HTTP front end (net/http.h), store/ and core/ only,
 * never on the API layer: the API layer calls in through this header. */
#ifndef NET_DATA_DATA_H
#define NET_DATA_DATA_H

#include "core/file.h"
#include "core/netpolicy.h"
#include "net/http.h"
#include "store/store.h"

struct event_base;

typedef struct {
    struct event_base *base;
    store_t *store;
    http_server_t *http;       /* the upload URIs are streamed through its stream hooks */
    const char *storage_dir;
    const char *listen_host;   /* with listen_port and getpid(): the instance name */
    int listen_port;
    int transfer_lease_ms;
    int64_t session_timeout_ms;
    int64_t max_upload_bytes;  /* a body without declared size may not exceed this */
    int64_t min_free_bytes;    /* free space --storage-dir keeps */
    const np_cidr_t *pull_allow; /* --pull-allow (copied) */
    size_t pull_allow_n;
} data_config_t;

typedef struct data_plane data_plane_t;

/* Takes over the upload URIs of cfg->http and the store's expiry reports. Strings are copied. */
data_plane_t *data_plane_new(const data_config_t *cfg);
/* SIGTERM, while the loop still runs: every transfer stops now, so the drain does not wait for
 * them. An upload records its durable prefix (TEV_PAUSE) and then gets a 503 with the offset
 * to resume from (on any instance); a pull is cancelled and recorded failed. */
void data_plane_drain(data_plane_t *dp);
/* Shutdown, step 1 (the loop has stopped; store and HTTP server still exist): what still runs
 * stops without a store call (uploads keep their .part; their lease lapses), and no store call
 * is made from now on. */
void data_plane_shutdown(data_plane_t *dp);
/* Step 2, after store_free() answered every pending call. */
void data_plane_free(data_plane_t *dp);

/* Counters for metrics: bytes the uploads of this instance wrote to storage, and the uploads
 * holding a file's lease (bytes moving) right now. */
typedef struct {
    uint64_t upload_bytes;
    int uploads_active;
} data_stats_t;
void data_plane_stats(const data_plane_t *dp, data_stats_t *out);

/* "host:port/pid": what a file's `holder` names while this instance moves its bytes. */
const char *data_instance(const data_plane_t *dp);

/* Called after a local operation made garbage (store.h "Garbage"), so the janitor runs at once
 * instead of at its next tick. */
void data_set_garbage_hook(data_plane_t *dp, void (*fn)(void *arg), void *arg);
void data_garbage_made(data_plane_t *dp);

/* File.add of a PULL file, before anything is recorded: the source URI is one a pull accepts
 * and a literal address in it passes the egress policy (net/data/pull.h pull_check_source).
 * C_ERR with f filled: INVALID_ARGUMENT naming field. */
int data_pull_check(data_plane_t *dp, const char *uri, const char *field, vapi_failure_t *f);
/* Starts the PULL of a file the store just recorded TRANSFERRING, held by f->attempt. */
void data_pull_start(data_plane_t *dp, const char *session_id, const session_file_t *f);

/* Ends at once the local transfers of a session (name NULL) or of one of its files: the
 * session ended (cancel, fail, expiry) or the file was removed. The store already refuses
 * their heartbeats; this only spares the wait for the next one. */
typedef enum {
    DATA_SESSION_ENDED, /* 400 NOT_ALLOWED_IN_CURRENT_STATE to an upload */
    DATA_FILE_REMOVED,  /* 404 NOT_FOUND */
    DATA_SHUTDOWN       /* the server stops: 503, the durable prefix is kept */
} data_stop_t;
void data_stop(data_plane_t *dp, const char *session_id, const char *name, data_stop_t why);

/* The complete procedure: list the session's files, hard-link each READY PUSH/PULL file into
 * the item's directory, then store_session_complete with exactly the pairs linked; again
 * (at most 3 times) when the store answers ST_FILES_CHANGED. auth NULL: the server itself.
 * The answer: st as the store's (ST_OK with detail NULL: completed, "REQUESTED": PULLs still
 * run), or, when the disk failed, st ST_INTERNAL with `local` filled. */
typedef void (*data_publish_cb)(void *arg, store_status_t st, const char *detail,
                                const vapi_failure_t *local);
void data_publish(data_plane_t *dp, const store_auth_t *auth, const char *session_id,
                  data_publish_cb cb, void *arg);

#endif
