/* net/data/pull.h: the PULL transfer client: the server fetches a file from an http:// or https://
 * URL (libevent's HTTP client, OpenSSL for TLS), streaming it into a staged blob with the
 * blob writer, hashing on the fly, with timeouts, and pinning the certificate when a SHA-1
 * thumbprint is given. It never blocks the loop and never holds the whole file in memory. */
#ifndef NET_DATA_PULL_H
#define NET_DATA_PULL_H

#include "core/file.h"

struct event_base;
typedef struct pull pull_t;

typedef struct {
    /* At most once per second while bytes arrive. */
    void (*progress)(void *arg, int64_t bytes);
    /* Exactly once (unless pull_cancel was called first). ok: the body arrived whole, its size
     * matched expected_size if >= 0, and the blob is final; hex is the digest. Otherwise
     * error_message says why (connection, HTTP status, TLS/thumbprint, size, timeout, disk). */
    void (*done)(void *arg, bool ok, int64_t bytes, const char *hex,
                 const vapi_message_t *error_message);
    void *arg;
} pull_callbacks_t;

typedef struct {
    const char *uri;
    const char *thumbprint;     /* "AA:BB:..." (SHA-1 of the DER certificate) or NULL/"" */
    checksum_alg_t algorithm;
    int64_t expected_size;      /* -1 if unknown */
    const char *storage_dir;
    const char *session_id;
    const char *blob;
    int connect_timeout_ms;     /* default 10000 */
    int idle_timeout_ms;        /* no byte for this long: fail; default 30000 */
} pull_request_t;

/* Starts the transfer; NULL with f filled if it cannot start (bad URL, disk). */
pull_t *pull_start(struct event_base *base, const pull_request_t *rq, const pull_callbacks_t *cb,
                   vapi_failure_t *f);
/* Bytes received so far (for the mover's heartbeat). */
int64_t pull_bytes(const pull_t *p);
/* Stops a transfer without calling done; removes the partial blob. */
void pull_cancel(pull_t *p);

#endif
