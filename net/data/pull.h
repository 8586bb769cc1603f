/* net/data/pull.h: the PULL transfer client: the server fetches a file from an http:// or https://
 * URL (libevent's HTTP client, OpenSSL for TLS), streaming it into a staged blob with the
 * blob writer, hashing on the fly, with timeouts, and pinning the certificate when a SHA-1
 * thumbprint is given. It never blocks the loop and never holds the whole file in memory.
 *
 * Egress policy (core/netpolicy.h). A literal address in the URL is judged before anything
 * starts (pull_check_source: INVALID_ARGUMENT naming the field). A host name is resolved
 * asynchronously, EVERY address of the answer is judged, and the connection goes to the
 * address that was judged (the name is never resolved twice; it only travels as the Host
 * header, the TLS SNI and the certificate name to check). A name with any refused address
 * fails the pull. Redirects are not followed.
 *
 * What the client sees. Every failure before a 200 status line arrived (name resolution, a
 * refused address, connect refused or timed out, TLS, a non-200 status including redirects,
 * a connection closed or silent before answering, an answer that is not HTTP) gives the same
 * generic message ("The source of file X cannot be reached.", id pull_source_unreachable), so
 * PULL cannot be used to scan ports or tell internal names from missing ones; the full story
 * is in the result's detail, for the operator's log. Failures after a 200 (size, truncation,
 * idle timeout mid-body, checksum) and local ones (disk) keep their specific messages: they
 * say nothing about other ports or hosts. */
#ifndef NET_DATA_PULL_H
#define NET_DATA_PULL_H

#include "core/file.h"
#include "core/netpolicy.h"

struct event_base;
typedef struct pull pull_t;

/* How a pull ended. ok: the body arrived whole, its size matched expected_size if >= 0, and
 * the blob is final; hex is the digest. Otherwise error_message is what the file's
 * error_message says, and detail the whole story for the operator (never shown to clients);
 * unreachable tells the generic "cannot be reached" message apart (module comment). */
typedef struct {
    bool ok;
    int64_t bytes;
    const char *hex;                     /* ok only */
    const vapi_message_t *error_message; /* !ok only */
    const char *detail;                  /* !ok only */
    bool unreachable;
} pull_result_t;

typedef struct {
    /* At most once per second while bytes arrive. */
    void (*progress)(void *arg, int64_t bytes);
    /* Exactly once (unless pull_cancel was called first). */
    void (*done)(void *arg, const pull_result_t *r);
    void *arg;
} pull_callbacks_t;

typedef struct {
    const netpolicy_t *policy;  /* required; must outlive the pull */
    const char *file_name;      /* named in the generic message; may be NULL */
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

/* What File.add checks before it records a PULL file: the URI is one pull_start accepts, and
 * a literal address in it is allowed by the policy. C_ERR with f filled (INVALID_ARGUMENT,
 * naming `field`): a malformed URI, a host that is a number in a non-standard form ("127.1",
 * "0x7f000001"), a refused literal address. A host name is judged only when it is resolved. */
int pull_check_source(const netpolicy_t *policy, const char *uri, const char *field,
                      vapi_failure_t *f);
/* Starts the transfer; NULL with f filled if it cannot start (what pull_check_source refuses,
 * a bad thumbprint, disk). */
pull_t *pull_start(struct event_base *base, const pull_request_t *rq, const pull_callbacks_t *cb,
                   vapi_failure_t *f);
/* Bytes received so far (for the mover's heartbeat). */
int64_t pull_bytes(const pull_t *p);
/* Stops a transfer without calling done; removes the partial blob. */
void pull_cancel(pull_t *p);

#endif
