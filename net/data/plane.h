/* net/data/plane.h: what the files of the data plane share among themselves (not for the rest
 * of the server, which uses net/data/data.h): the plane's context, the list of transfers this
 * instance runs (so a session's end can stop them at once), and small helpers. */
#ifndef NET_DATA_PLANE_H
#define NET_DATA_PLANE_H

#include <limits.h>

#include "net/data/data.h"
#include "net/worker.h"

/* A transfer this instance runs (an upload or a pull), linked into the plane's list. */
typedef struct data_xfer {
    struct data_xfer *prev, *next;
    char session_id[SESSION_ID_MAX];
    char name[FILE_NAME_MAX];
    void (*stop)(struct data_xfer *x, data_stop_t why);
} data_xfer_t;

struct data_plane {
    struct event_base *base;
    store_t *store;
    http_server_t *http;
    char storage_dir[PATH_MAX];
    char instance[HOLDER_MAX];
    int lease_ms;
    int beat_ms;               /* heartbeat period: min(1000, lease/4, session timeout/4) */
    int64_t max_upload_bytes;
    int64_t min_free_bytes;
    netpolicy_t policy;        /* PULL egress (net/data/egress.c) */
    bool draining;             /* data_plane_drain ran: no new transfers */
    bool stopping;             /* data_plane_shutdown ran: no more store calls */
    data_xfer_t *xfers;
    worker_pool_t *disk_pool;  /* helper threads hashing and writing upload bodies (sink.h) */
    data_stats_t stats;        /* data_plane_stats */
    void (*garbage_fn)(void *arg);
    void *garbage_arg;
};

void xfer_link(data_plane_t *dp, data_xfer_t *x);
void xfer_unlink(data_plane_t *dp, data_xfer_t *x);

/* A new random UUID (lowercase, 37 bytes with the NUL). */
void data_uuid(char *out);
int64_t data_mono_ms(void);

/* Answers with the vAPI error body (/api flavour) and the given status; extra headers as
 * http_respond's. */
void data_respond_failure(http_request_t *req, int status, const vapi_failure_t *f,
                          const char *extra_headers);

/* The PULL egress policy from --pull-allow and the listen address (net/data/egress.c; start-up
 * only, may block). C_ERR after printing why. */
int egress_policy_init(netpolicy_t *np, const data_config_t *cfg);

/* The PUSH side (net/data/upload.c): the stream hooks of the upload URIs. */
void upload_install(data_plane_t *dp);

#endif
