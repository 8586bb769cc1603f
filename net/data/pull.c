/* net/data/pull.c: the PULL transfer client (contract in net/data/pull.h).
 *
 * One pull is one GET over one connection (libevent's evhttp client; for https a
 * bufferevent_openssl under it), streamed piece by piece into a blob writer that hashes as it
 * writes. Nothing of the body is kept: evhttp_request_set_chunked_cb hands over what has
 * arrived and the piece is written and dropped at once.
 *
 * Steps. pull_start() checks the request, opens the blob writer (so disk problems fail at
 * once) and schedules a zero-delay "kick" event; every later step runs from the loop, so done
 * is never called from inside pull_start(). The kick resolves the host (an IP literal
 * directly; a name through a per-pull evdns base, which reads /etc/hosts and resolv.conf, so
 * the loop never blocks in getaddrinfo), judges every address of the answer against the egress
 * policy (core/netpolicy.h; a literal was judged by pull_start already) and then hands the
 * numeric address it judged to evhttp, which connects to it without any lookup of its own;
 * the first address of the answer is used (libevent 2.1 tries only one). The host name still
 * goes out as the Host header, the TLS SNI and the name the certificate must match.
 *
 * Timers (our own, one event): the connect timer runs from the kick until the request is
 * written, i.e. name resolution + TCP connect + TLS handshake must take at most
 * connect_timeout_ms. After that the idle timer runs: it fails the pull when no byte arrived for
 * idle_timeout_ms. Arrival is seen by a callback on the bufferevent's input buffer (raw bytes,
 * before evhttp's parsing), so it also counts bytes of a chunk that evhttp has not delivered
 * yet. evhttp's own timeout (evhttp_connection_set_timeout) does apply while a body streams
 * (checked: with 1 s it fired 1 s after the last of several pieces, not 1 s after the start),
 * but in libevent 2.1 it is one value for the connect and for reads, and it stops counting
 * while reading is suspended; so it is only set well above our timers, as a backstop.
 *
 * Memory. With a Content-Length or a read-until-close body, evhttp hands over each socket read
 * as it comes (measured: 4 KiB pieces plain, libevent's EVBUFFER_MAX_READ; 16 KiB over TLS, one
 * record). With chunked encoding, evhttp 2.1 waits until a whole chunk is buffered before it
 * calls us (measured: 256 KiB pieces from a server sending 256 KiB chunks): a server sending
 * one huge chunk would make us buffer it, so the input-buffer callback fails the pull once more
 * than PULL_MAX_BUFFERED bytes wait in the input buffer (also bounds an endless header line).
 * Measured on 1 GiB over loopback (http and https, Content-Length and chunked): the peak RSS
 * of the client process grew by 2.5-4 MB.
 *
 * Certificates (https). With a thumbprint: the handshake's certificate check is replaced by
 * comparing the SHA-1 (or SHA-256 when 32 bytes are given) of the server certificate's DER with
 * it; chain, name and dates are not checked (the pin is the trust), and a mismatch aborts the
 * handshake, before the request (its path and query) is sent. Without a thumbprint: the chain
 * must verify against the system CA store (SSL_CTX_set_default_verify_paths) and the
 * certificate must match the URL's host name or IP; a self-signed server therefore fails
 * unless its thumbprint is given. A thumbprint on an http:// URL is ignored. The two SSL_CTXs
 * are made on first use and kept for the life of the process (loading the CA store costs some
 * 25 ms; CA store changes need a restart). SNI is sent for host names (not for IP literals).
 * Servers closing TLS without close_notify are accepted (most do); a body without a length
 * is then only protected against truncation by expected_size.
 *
 * The process must ignore SIGPIPE (main does): libevent writes with writev and SSL_write.
 *
 * HTTP. GET with Connection: close, no Accept-Encoding (so the bytes are the file), no
 * credentials (a URL with user:password@ is refused). Only 200 is success; redirects are not
 * followed (the thumbprint pins one server, the URL the client gave is the one we fetch, and
 * the egress policy judged that host only): a 3xx fails with its status and Location in the
 * detail. The byte count must equal Content-Length when the server sent one and expected_size
 * when it is >= 0 (checked against Content-Length as soon as the headers arrive, and against
 * the running count as bytes arrive).
 *
 * Messages. Each failure is described as precisely as we can, but what reaches the client
 * before a 200 arrived is the generic pull_source_unreachable message (net/data/pull.h): the
 * precise one travels as the result's detail for the operator's log.
 *
 * Lifetime. done is called exactly once unless pull_cancel() came first (hex is NULL when !ok,
 * error_message is NULL when ok); after done the handle
 * is gone (do not call pull_cancel() then). Freeing never happens inside a libevent
 * callback of the connection: the handle is released by a zero-delay "reaper" event after done
 * or after a pull_cancel() made from one of our callbacks (e.g. progress); pull_cancel() from
 * anywhere else frees at once, except while a name lookup is in flight: evdns cancels
 * asynchronously, so the memory goes one loop iteration later. */
#include "net/data/pull.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "store/blob.h"

#define PULL_MAX_BUFFERED (16 * 1024 * 1024) /* bytes waiting for evhttp: largest chunk */
#define PULL_MAX_HEADERS (64 * 1024)
#define PULL_CONNECT_TIMEOUT_MS 10000
#define PULL_IDLE_TIMEOUT_MS 30000
#define PULL_PROGRESS_MS 1000
#define PULL_USER_AGENT "update-sessiond"
#define HOST_MAX 256

typedef enum { PH_START, PH_RESOLVING, PH_CONNECTING, PH_ACTIVE } phase_t;

/* A source URL taken apart (parse_uri). */
typedef struct {
    char uri[URI_MAX];          /* for messages */
    char host[HOST_MAX];        /* without IPv6 brackets */
    char host_header[HOST_MAX + 16];
    char target[URI_MAX];       /* path?query */
    int port;
    bool tls, host_is_ip;
    np_addr_t ip;               /* host_is_ip */
} url_t;

struct pull {
    struct event_base *base;
    pull_callbacks_t cb;

    /* the request */
    url_t u;
    const netpolicy_t *policy;
    char file_name[FILE_NAME_MAX]; /* for the generic message */
    unsigned char pin[EVP_MAX_MD_SIZE];
    size_t pin_len;             /* 0: no pin; 20: SHA-1; 32: SHA-256 */
    int64_t expected_size;
    int connect_timeout_ms, idle_timeout_ms;

    /* resources */
    blob_writer_t *w;
    struct evdns_base *dns;
    struct evdns_getaddrinfo_request *dns_req;
    struct evhttp_connection *evcon; /* owns bev, which owns ssl */
    struct bufferevent *bev;
    struct event *timer, *kick, *reaper;
    char addr[INET6_ADDRSTRLEN];

    /* state */
    phase_t phase;
    bool resolving;   /* inside evdns_getaddrinfo(): it may answer synchronously */
    bool got_headers; /* a 200 status line and its headers arrived */
    bool local;       /* the failure is this process's own (module comment) */
    bool finished;    /* done called or cancelled: every callback ignores the connection */
    bool zombie;      /* released while a name lookup is in flight: free after its callback */
    int depth;        /* > 0 while one of our callbacks runs */
    int64_t bytes;
    int64_t content_length; /* -1 if none */
    struct timespec kicked, last_activity, last_progress;
    int http_error;   /* evhttp_request_error, -1 if none */
    int conn_errno;

    /* TLS diagnostics, filled during the handshake */
    bool pin_mismatch;
    char seen_thumbprint[THUMBPRINT_MAX];
    bool have_verify_error;
    long verify_error;
};

/* ---- small helpers ---------------------------------------------------------------------- */

static void now(struct timespec *t) { clock_gettime(CLOCK_MONOTONIC, t); }

static int64_t ms_since(const struct timespec *t)
{
    struct timespec n;
    now(&n);
    return (int64_t)(n.tv_sec - t->tv_sec) * 1000 + (n.tv_nsec - t->tv_nsec) / 1000000;
}

static void tv_ms(struct timeval *tv, int64_t ms)
{
    if (ms < 0)
        ms = 0;
    tv->tv_sec = (time_t)(ms / 1000);
    tv->tv_usec = (suseconds_t)((ms % 1000) * 1000);
}

static void i64s(char *buf, size_t size, int64_t v) { snprintf(buf, size, "%" PRId64, v); }

/* "AA:BB:..." of a digest. */
static void thumb_format(const unsigned char *d, size_t n, char *out, size_t size)
{
    static const char digits[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < n && o + 3 < size; i++) {
        if (i)
            out[o++] = ':';
        out[o++] = digits[d[i] >> 4];
        out[o++] = digits[d[i] & 15];
    }
    out[o] = '\0';
}

/* Hex pairs, separators ':' (or none); 20 bytes (SHA-1) or 32 (SHA-256). */
static int thumb_parse(const char *s, unsigned char *out, size_t *len)
{
    size_t n = 0;
    int half = -1;
    for (; *s; s++) {
        int v;
        if (*s >= '0' && *s <= '9')
            v = *s - '0';
        else if (*s >= 'a' && *s <= 'f')
            v = *s - 'a' + 10;
        else if (*s >= 'A' && *s <= 'F')
            v = *s - 'A' + 10;
        else if (*s == ':' && half < 0)
            continue;
        else
            return C_ERR;
        if (half < 0) {
            half = v;
        } else {
            if (n >= EVP_MAX_MD_SIZE)
                return C_ERR;
            out[n++] = (unsigned char)(half << 4 | v);
            half = -1;
        }
    }
    if (half >= 0 || (n != 20 && n != 32))
        return C_ERR;
    *len = n;
    return C_OK;
}

/* ---- ending ----------------------------------------------------------------------------- */

static void reap(pull_t *p);

static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    reap(arg);
}

/* Frees everything. Never called while libevent's HTTP code is below us on the stack. */
static void reap(pull_t *p)
{
    if (p->dns_req) {
        /* evdns answers a cancel with a deferred callback that still uses the request and the
         * base: let it come, then free (dns_cb schedules the reaper). */
        if (!p->zombie) {
            p->zombie = true;
            evdns_getaddrinfo_cancel(p->dns_req);
        }
        return;
    }
    if (p->evcon)
        evhttp_connection_free(p->evcon); /* frees the request, bev and SSL; no callbacks */
    else if (p->bev)
        bufferevent_free(p->bev);
    if (p->dns)
        evdns_base_free(p->dns, 0);
    blob_writer_abort(p->w);
    if (p->timer)
        event_free(p->timer);
    if (p->kick)
        event_free(p->kick);
    if (p->reaper)
        event_free(p->reaper);
    free(p);
}

static void release(pull_t *p)
{
    if (p->depth > 0)
        event_active(p->reaper, EV_TIMEOUT, 1);
    else
        reap(p);
}

static void storage_message(const pull_t *p, int err, vapi_message_t *m)
{
    if (err == ENOSPC || err == EDQUOT)
        vapi_message_set(m, "pull_storage_full",
                         "There is no space left to store the file from {0}.", p->u.uri, NULL);
    else
        vapi_message_set(m, "pull_storage_failed", "Cannot store the file from {0}: {1}.", p->u.uri,
                         strerror(err), NULL);
}

/* Ends the pull once. A failure before a 200 status line arrived that is not local (module
 * comment of pull.h) reaches the client as the generic message; msg becomes the detail. */
static void finish(pull_t *p, bool ok, const vapi_message_t *msg)
{
    if (p->finished)
        return;
    p->finished = true;
    event_del(p->timer);
    event_del(p->kick);

    char hex[CHECKSUM_MAX] = "";
    vapi_message_t m;
    if (ok) {
        blob_writer_t *w = p->w;
        p->w = NULL;
        if (blob_writer_finish(w, hex) != C_OK) {
            storage_message(p, errno, &m);
            p->local = true;
            ok = false;
            msg = &m;
        }
    } else {
        blob_writer_abort(p->w);
        p->w = NULL;
    }
    event_active(p->reaper, EV_TIMEOUT, 1);
    pull_result_t r = {.ok = ok, .bytes = p->bytes};
    vapi_message_t generic;
    if (ok) {
        r.hex = hex;
    } else {
        r.detail = msg->default_message; /* the args are in it already */
        r.error_message = msg;
        r.unreachable = !p->got_headers && !p->local;
        if (r.unreachable) {
            if (p->file_name[0])
                vapi_message_set(&generic, "pull_source_unreachable",
                                 "The source of file {0} cannot be reached.", p->file_name, NULL);
            else
                vapi_message_set(&generic, "pull_source_unreachable",
                                 "The source of the file cannot be reached.", NULL);
            r.error_message = &generic;
        }
    }
    p->cb.done(p->cb.arg, &r);
}

#define FAIL(p, what, ...)                                                                         \
    do {                                                                                           \
        vapi_message_t m_;                                                                         \
        vapi_message_set(&m_, what, __VA_ARGS__, NULL);                                            \
        finish(p, false, &m_);                                                                     \
    } while (0)

/* A failure of this process (memory, TLS set-up, disk), not of the source: said as it is. */
#define FAIL_LOCAL(p, what, ...)                                                                   \
    do {                                                                                           \
        (p)->local = true;                                                                         \
        FAIL(p, what, __VA_ARGS__);                                                                \
    } while (0)

/* Why the connection ended without a response: the most specific reason we know. */
static void fail_connection(pull_t *p)
{
    char port[16];
    snprintf(port, sizeof port, "%d", p->u.port);
    if (p->pin_mismatch) {
        char want[THUMBPRINT_MAX];
        thumb_format(p->pin, p->pin_len, want, sizeof want);
        FAIL(p, "pull_thumbprint_mismatch",
             "The certificate of {0} has the thumbprint {1}, not the expected thumbprint {2}.",
             p->u.host, p->seen_thumbprint, want);
        return;
    }
    if (p->have_verify_error) {
        FAIL(p, "pull_untrusted_certificate",
             "The certificate of {0} is not trusted ({1}). Give the certificate's SHA-1 thumbprint "
             "to accept it.",
             p->u.host, X509_verify_cert_error_string(p->verify_error));
        return;
    }
    if (p->u.tls && p->phase == PH_CONNECTING && p->bev) {
        unsigned long e = bufferevent_get_openssl_error(p->bev);
        if (e) {
            char buf[256];
            ERR_error_string_n(e, buf, sizeof buf);
            FAIL(p, "pull_tls_failed", "The TLS handshake with {0} port {1} failed: {2}.",
                 p->u.host, port, buf);
            return;
        }
    }
    if (p->phase < PH_ACTIVE) {
        int err = p->conn_errno;
        bool known = err == ECONNREFUSED || err == ECONNRESET || err == EHOSTUNREACH ||
                     err == ENETUNREACH || err == ETIMEDOUT || err == ECONNABORTED;
        char why[128] = "";
        if (known)
            snprintf(why, sizeof why, ": %s", strerror(err));
        else if (p->http_error < 0) /* evhttp's "connect failed" path, errno already lost */
            snprintf(why, sizeof why, ": the connection was refused or failed");
        FAIL(p, "pull_connect_failed", "Cannot connect to {0} port {1}{2}.", p->u.host, port, why);
        return;
    }
    switch (p->http_error) {
    case EVREQ_HTTP_TIMEOUT: {
        char s[32];
        i64s(s, sizeof s, p->idle_timeout_ms);
        FAIL(p, "pull_timed_out", "No data from {0} for {1} ms.", p->u.uri, s);
        return;
    }
    case EVREQ_HTTP_INVALID_HEADER:
        FAIL(p, "pull_bad_response", "The answer of {0} is not valid HTTP.", p->u.uri);
        return;
    case EVREQ_HTTP_DATA_TOO_LONG:
        FAIL(p, "pull_bad_response", "The answer of {0} has an invalid body encoding.", p->u.uri);
        return;
    default: {
        char got[32];
        i64s(got, sizeof got, p->bytes);
        if (!p->got_headers)
            FAIL(p, "pull_connection_closed", "{0} closed the connection without answering.",
                 p->u.uri);
        else
            FAIL(p, "pull_connection_closed",
                 "The connection to {0} ended after {1} bytes, before the whole file arrived.",
                 p->u.uri, got);
        return;
    }
    }
}

/* ---- TLS -------------------------------------------------------------------------------- */

static SSL_CTX *ctx_pinned, *ctx_verified;

static pull_t *pull_of_store(X509_STORE_CTX *x)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
    return ssl ? SSL_get_app_data(ssl) : NULL;
}

/* Replaces chain verification when a thumbprint is pinned: the leaf's digest decides alone. */
static int pin_verify(X509_STORE_CTX *x, void *arg)
{
    (void)arg;
    pull_t *p = pull_of_store(x);
    X509 *leaf = X509_STORE_CTX_get0_cert(x);
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!p || !leaf || X509_digest(leaf, p->pin_len == 32 ? EVP_sha256() : EVP_sha1(), d, &n) != 1) {
        X509_STORE_CTX_set_error(x, X509_V_ERR_UNSPECIFIED);
        return 0;
    }
    if (n != p->pin_len || CRYPTO_memcmp(d, p->pin, n) != 0) {
        p->pin_mismatch = true;
        thumb_format(d, n, p->seen_thumbprint, sizeof p->seen_thumbprint);
        X509_STORE_CTX_set_error(x, X509_V_ERR_CERT_REJECTED);
        return 0;
    }
    X509_STORE_CTX_set_error(x, X509_V_OK);
    return 1;
}

/* Normal chain verification; remembers the first complaint (SSL_clear, which evhttp's reset
 * calls, forgets the verify result). */
static int ca_verify(int ok, X509_STORE_CTX *x)
{
    pull_t *p = pull_of_store(x);
    if (!ok && p && !p->have_verify_error) {
        p->have_verify_error = true;
        p->verify_error = X509_STORE_CTX_get_error(x);
    }
    return ok;
}

static SSL_CTX *tls_ctx(bool pinned)
{
    SSL_CTX **slot = pinned ? &ctx_pinned : &ctx_verified;
    if (*slot)
        return *slot;
    SSL_CTX *c = SSL_CTX_new(TLS_client_method());
    if (!c)
        return NULL;
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    if (pinned) {
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_cert_verify_callback(c, pin_verify, NULL);
    } else {
        if (SSL_CTX_set_default_verify_paths(c) != 1) {
            SSL_CTX_free(c);
            return NULL;
        }
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER, ca_verify);
    }
    *slot = c;
    return c;
}

static SSL *tls_new(pull_t *p)
{
    SSL_CTX *c = tls_ctx(p->pin_len > 0);
    SSL *ssl = c ? SSL_new(c) : NULL;
    if (!ssl)
        return NULL;
    SSL_set_app_data(ssl, p);
    if (!p->u.host_is_ip && SSL_set_tlsext_host_name(ssl, p->u.host) != 1)
        goto fail;
    if (!p->pin_len) {
        X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        int ok = p->u.host_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, p->u.host)
                               : X509_VERIFY_PARAM_set1_host(param, p->u.host, 0);
        if (ok != 1)
            goto fail;
    }
    return ssl;
fail:
    SSL_free(ssl);
    return NULL;
}

/* ---- HTTP callbacks --------------------------------------------------------------------- */

static int header_cb(struct evhttp_request *req, void *arg)
{
    pull_t *p = arg;
    if (p->finished)
        return -1;
    p->depth++;
    int code = evhttp_request_get_response_code(req);
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    if (code != 200) {
        char c[16];
        snprintf(c, sizeof c, "%d", code);
        const char *loc = evhttp_find_header(h, "Location");
        if (code >= 300 && code < 400 && loc)
            FAIL(p, "pull_http_status",
                 "{0} answered with HTTP status {1} (a redirect to {2}); redirects are not "
                 "followed.",
                 p->u.uri, c, loc);
        else
            FAIL(p, "pull_http_status", "{0} answered with HTTP status {1}.", p->u.uri, c);
        p->depth--;
        return -1;
    }
    p->got_headers = true;
    const char *cl = evhttp_find_header(h, "Content-Length");
    if (cl) {
        char *end;
        errno = 0;
        long long v = strtoll(cl, &end, 10);
        if (errno == 0 && end != cl && *end == '\0' && v >= 0)
            p->content_length = v;
    }
    if (p->content_length >= 0 && p->expected_size >= 0 && p->content_length != p->expected_size) {
        char a[32], e[32];
        i64s(a, sizeof a, p->content_length);
        i64s(e, sizeof e, p->expected_size);
        FAIL(p, "pull_size_mismatch", "{0} announced {1} bytes, but the file size is {2} bytes.",
             p->u.uri, a, e);
        p->depth--;
        return -1;
    }
    p->depth--;
    return 0;
}

static void write_failed(pull_t *p, int err)
{
    p->local = true;
    vapi_message_t m;
    storage_message(p, err, &m);
    finish(p, false, &m);
}

static void chunk_cb(struct evhttp_request *req, void *arg)
{
    pull_t *p = arg;
    if (p->finished)
        return;
    p->depth++;
    struct evbuffer *buf = evhttp_request_get_input_buffer(req);
    size_t len;
    while (!p->finished && (len = evbuffer_get_length(buf)) > 0) {
        if (p->expected_size >= 0 && p->bytes + (int64_t)len > p->expected_size) {
            char e[32];
            i64s(e, sizeof e, p->expected_size);
            FAIL(p, "pull_size_mismatch", "{0} sent more than the file size of {1} bytes.",
                 p->u.uri, e);
            break;
        }
        struct evbuffer_iovec v[16];
        int n = evbuffer_peek(buf, -1, NULL, v, 16);
        if (n > 16)
            n = 16;
        size_t done = 0;
        for (int i = 0; i < n; i++) {
            if (blob_writer_write(p->w, v[i].iov_base, v[i].iov_len) != C_OK) {
                write_failed(p, errno);
                break;
            }
            done += v[i].iov_len;
        }
        p->bytes += (int64_t)done;
        evbuffer_drain(buf, done);
    }
    if (!p->finished && p->cb.progress && ms_since(&p->last_progress) >= PULL_PROGRESS_MS) {
        now(&p->last_progress);
        p->cb.progress(p->cb.arg, p->bytes);
    }
    p->depth--;
}

static void error_cb(enum evhttp_request_error err, void *arg)
{
    pull_t *p = arg;
    p->http_error = (int)err;
    p->conn_errno = errno;
}

static void request_cb(struct evhttp_request *req, void *arg)
{
    pull_t *p = arg;
    if (p->finished)
        return;
    p->depth++;
    if (!req || evhttp_request_get_response_code(req) == 0) {
        if (p->http_error < 0)
            p->conn_errno = errno;
        fail_connection(p);
    } else {
        char got[32], want[32];
        i64s(got, sizeof got, p->bytes);
        if (p->content_length >= 0 && p->bytes != p->content_length) {
            i64s(want, sizeof want, p->content_length);
            FAIL(p, "pull_size_mismatch", "{0} announced {1} bytes but sent {2}.", p->u.uri, want,
                 got);
        } else if (p->expected_size >= 0 && p->bytes != p->expected_size) {
            i64s(want, sizeof want, p->expected_size);
            FAIL(p, "pull_size_mismatch", "{0} sent {1} bytes, but the file size is {2} bytes.",
                 p->u.uri, got, want);
        } else {
            finish(p, true, NULL);
        }
    }
    p->depth--;
}

/* Raw bytes arrived (or were drained) in the connection's input buffer. */
static void input_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    pull_t *p = arg;
    if (p->finished || info->n_added == 0)
        return;
    now(&p->last_activity);
    if (evbuffer_get_length(buf) > PULL_MAX_BUFFERED) {
        char lim[32];
        i64s(lim, sizeof lim, PULL_MAX_BUFFERED);
        p->depth++;
        FAIL(p, "pull_chunk_too_large",
             "{0} sent a chunk or header larger than {1} bytes, which is not supported.", p->u.uri,
             lim);
        p->depth--;
    }
}

/* evhttp writes the request into the output buffer once the connection (and TLS handshake)
 * is up: from then on the idle timer runs instead of the connect timer. */
static void output_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    (void)buf;
    pull_t *p = arg;
    if (p->finished || info->n_added == 0 || p->phase != PH_CONNECTING)
        return;
    p->phase = PH_ACTIVE;
    now(&p->last_activity);
    struct timeval tv;
    tv_ms(&tv, p->idle_timeout_ms);
    event_add(p->timer, &tv);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pull_t *p = arg;
    if (p->finished)
        return;
    p->depth++;
    char ms[32];
    /* libevent's timer clock is coarse (a few ms): wait for the rest if it fired early. */
    bool active = p->phase == PH_ACTIVE;
    int64_t limit = active ? p->idle_timeout_ms : p->connect_timeout_ms;
    int64_t elapsed = ms_since(active ? &p->last_activity : &p->kicked);
    if (elapsed < limit) {
        struct timeval tv;
        tv_ms(&tv, limit - elapsed);
        event_add(p->timer, &tv);
    } else if (active) {
        i64s(ms, sizeof ms, p->idle_timeout_ms);
        FAIL(p, "pull_timed_out", "No data from {0} for {1} ms.", p->u.uri, ms);
    } else {
        i64s(ms, sizeof ms, p->connect_timeout_ms);
        char port[16];
        snprintf(port, sizeof port, "%d", p->u.port);
        if (p->phase == PH_RESOLVING)
            FAIL(p, "pull_timed_out", "Cannot resolve {0} within {1} ms.", p->u.host, ms);
        else
            FAIL(p, "pull_timed_out", "Cannot connect to {0} port {1} within {2} ms{3}.", p->u.host,
                 port, ms, p->u.tls ? " (TCP and TLS handshake)" : "");
    }
    p->depth--;
}

/* ---- starting --------------------------------------------------------------------------- */

static void connect_now(pull_t *p)
{
    p->phase = PH_CONNECTING;
    if (p->u.tls) {
        SSL *ssl = tls_new(p);
        if (ssl)
            p->bev = bufferevent_openssl_socket_new(p->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                                    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
        if (!p->bev) {
            SSL_free(ssl);
            FAIL_LOCAL(p, "pull_tls_failed", "Cannot set up TLS for {0}.", p->u.uri);
            return;
        }
        bufferevent_openssl_set_allow_dirty_shutdown(p->bev, 1);
    } else {
        p->bev = bufferevent_socket_new(p->base, -1, BEV_OPT_CLOSE_ON_FREE);
        if (!p->bev) {
            FAIL_LOCAL(p, "pull_connect_failed", "Cannot set up a connection for {0}.", p->u.uri);
            return;
        }
    }
    if (!evbuffer_add_cb(bufferevent_get_input(p->bev), input_cb, p) ||
        !evbuffer_add_cb(bufferevent_get_output(p->bev), output_cb, p)) {
        FAIL_LOCAL(p, "pull_connect_failed", "Cannot set up a connection for {0}.", p->u.uri);
        return;
    }
    p->evcon = evhttp_connection_base_bufferevent_new(p->base, NULL, p->bev, p->addr,
                                                      (ev_uint16_t)p->u.port);
    if (!p->evcon) {
        FAIL_LOCAL(p, "pull_connect_failed", "Cannot set up a connection for {0}.", p->u.uri);
        return;
    }
    /* Backstop only (module comment): well above both of our timers. */
    struct timeval backstop;
    int64_t longest = p->connect_timeout_ms > p->idle_timeout_ms ? p->connect_timeout_ms
                                                                  : p->idle_timeout_ms;
    tv_ms(&backstop, longest + 60000);
    evhttp_connection_set_timeout_tv(p->evcon, &backstop);
    evhttp_connection_set_max_headers_size(p->evcon, PULL_MAX_HEADERS);
    evhttp_connection_set_retries(p->evcon, 0);

    struct evhttp_request *req = evhttp_request_new(request_cb, p);
    if (!req) {
        FAIL_LOCAL(p, "pull_connect_failed", "Cannot set up a request for {0}.", p->u.uri);
        return;
    }
    evhttp_request_set_header_cb(req, header_cb);
    evhttp_request_set_chunked_cb(req, chunk_cb);
    evhttp_request_set_error_cb(req, error_cb);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Host", p->u.host_header);
    evhttp_add_header(h, "User-Agent", PULL_USER_AGENT);
    evhttp_add_header(h, "Accept", "*/*");
    evhttp_add_header(h, "Connection", "close");
    /* The callbacks a failing connect may run at once only record (finished is checked). */
    if (evhttp_make_request(p->evcon, req, EVHTTP_REQ_GET, p->u.target) != 0 && !p->finished)
        FAIL(p, "pull_connect_failed", "Cannot start the request for {0}.", p->u.uri);
}

/* Every address of the answer is judged, and one refused address refuses the name: which of
 * them a connection would use must not decide. The connection goes to the first one, as
 * text evhttp parses without any lookup. */
static void connect_checked(pull_t *p, const struct evutil_addrinfo *ai)
{
    np_addr_t use;
    bool have = false;
    for (const struct evutil_addrinfo *a = ai; a; a = a->ai_next) {
        np_addr_t na;
        if (a->ai_family == AF_INET)
            np_addr_from_bytes(&na, &((const struct sockaddr_in *)a->ai_addr)->sin_addr, 4);
        else if (a->ai_family == AF_INET6)
            np_addr_from_bytes(&na, &((const struct sockaddr_in6 *)a->ai_addr)->sin6_addr, 16);
        else
            continue;
        np_class_t c = netpolicy_check(p->policy, &na, p->u.port);
        if (c != NP_PUBLIC) {
            char text[NP_ADDR_TEXT], port[16];
            np_addr_format(&na, text, sizeof text);
            snprintf(port, sizeof port, "%d", p->u.port);
            FAIL(p, "pull_address_refused",
                 "The host name {0} resolves to {1} (port {2}), which is refused ({3}).",
                 p->u.host, text, port, np_class_name(c));
            return;
        }
        if (!have) {
            use = na;
            have = true;
        }
    }
    if (!have) {
        FAIL(p, "pull_resolve_failed", "Cannot resolve the host name {0}: no address.",
             p->u.host);
        return;
    }
    np_addr_format(&use, p->addr, sizeof p->addr);
    connect_now(p);
}

static void dns_cb(int result, struct evutil_addrinfo *ai, void *arg)
{
    pull_t *p = arg;
    p->dns_req = NULL;
    p->resolving = false;
    if (p->finished) {
        if (ai)
            evutil_freeaddrinfo(ai);
        if (p->zombie)
            event_active(p->reaper, EV_TIMEOUT, 1);
        return;
    }
    p->depth++;
    if (result != 0 || !ai)
        FAIL(p, "pull_resolve_failed", "Cannot resolve the host name {0}: {1}.", p->u.host,
             result ? evutil_gai_strerror(result) : "no address");
    else
        connect_checked(p, ai);
    if (ai)
        evutil_freeaddrinfo(ai);
    p->depth--;
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pull_t *p = arg;
    if (p->finished)
        return;
    p->depth++;
    now(&p->kicked);
    p->last_progress = p->kicked;
    struct timeval tv;
    tv_ms(&tv, p->connect_timeout_ms);
    event_add(p->timer, &tv);
    if (p->u.host_is_ip) {
        copy_str(p->addr, sizeof p->addr, p->u.host);
        connect_now(p);
    } else {
        p->phase = PH_RESOLVING;
        p->dns = evdns_base_new(p->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
                                             EVDNS_BASE_DISABLE_WHEN_INACTIVE);
        if (!p->dns) { /* no usable resolv.conf: /etc/hosts only */
            p->dns = evdns_base_new(p->base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
            if (p->dns)
                evdns_base_load_hosts(p->dns, "/etc/hosts");
        }
        if (!p->dns) {
            FAIL(p, "pull_resolve_failed", "Cannot resolve the host name {0}.", p->u.host);
        } else {
            struct evutil_addrinfo hints;
            memset(&hints, 0, sizeof hints);
            hints.ai_family = AF_UNSPEC;
            hints.ai_socktype = SOCK_STREAM;
            hints.ai_protocol = IPPROTO_TCP;
            hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
            char port[16];
            snprintf(port, sizeof port, "%d", p->u.port);
            p->resolving = true;
            struct evdns_getaddrinfo_request *r =
                evdns_getaddrinfo(p->dns, p->u.host, port, &hints, dns_cb, p);
            if (p->resolving) /* not answered synchronously */
                p->dns_req = r;
        }
    }
    p->depth--;
}

#define SOURCE_FIELD "source_endpoint.uri"

static int bad_uri(vapi_failure_t *f, const char *field, const char *uri, const char *why)
{
    return vapi_fail(f, VAPI_INVALID_ARGUMENT, "pull_bad_uri",
                     "The field {0} has an invalid value '{1}': {2}.", field, uri ? uri : "", why,
                     NULL);
}

/* Takes a source URL apart into u; C_ERR with f filled (naming field). */
static int parse_uri(url_t *out, const char *uri, const char *field, vapi_failure_t *f)
{
    if (!uri || !*uri)
        return bad_uri(f, field, uri, "no URI");
    if (copy_str(out->uri, sizeof out->uri, uri) != C_OK)
        return bad_uri(f, field, uri, "too long");
    struct evhttp_uri *u = evhttp_uri_parse(uri);
    if (!u)
        return bad_uri(f, field, uri, "not a valid URI");
    int rc = C_ERR;
    const char *scheme = evhttp_uri_get_scheme(u);
    const char *host = evhttp_uri_get_host(u);
    const char *path = evhttp_uri_get_path(u);
    const char *query = evhttp_uri_get_query(u);
    if (!scheme || (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
        bad_uri(f, field, uri, "only http and https are supported");
        goto out;
    }
    out->tls = strcasecmp(scheme, "https") == 0;
    if (!host || !*host) {
        bad_uri(f, field, uri, "no host");
        goto out;
    }
    if (evhttp_uri_get_userinfo(u)) {
        bad_uri(f, field, uri, "credentials in the URI are not supported");
        goto out;
    }
    size_t hl = strlen(host);
    if (host[0] == '[') { /* IPv6 literal (IPvFuture fails the check below) */
        if (hl < 3 || hl - 2 >= sizeof out->host) {
            bad_uri(f, field, uri, "invalid host");
            goto out;
        }
        memcpy(out->host, host + 1, hl - 2);
        out->host[hl - 2] = '\0';
    } else if (copy_str(out->host, sizeof out->host, host) != C_OK) {
        bad_uri(f, field, uri, "host name too long");
        goto out;
    }
    /* Brackets hold an IPv6 address and nothing else; without them, a strict IPv4 literal or
     * a name. A number in another form ("127.1", "0x7f000001", "127.0.0.1.") is read as an
     * address by some resolvers and as a name by others: refused as ambiguous. */
    out->host_is_ip = np_addr_parse(out->host, &out->ip) == C_OK &&
                      (host[0] == '[') == (out->ip.family == 6);
    if ((host[0] == '[' || strchr(out->host, ':')) && !out->host_is_ip) {
        bad_uri(f, field, uri, "invalid host");
        goto out;
    }
    if (!out->host_is_ip && np_host_is_numeric(out->host)) {
        bad_uri(f, field, uri,
                "its host is a number but not an IPv4 address in dotted decimal form");
        goto out;
    }
    int port = evhttp_uri_get_port(u);
    int dflt = out->tls ? 443 : 80;
    if (port == 0 || port > 65535) {
        bad_uri(f, field, uri, "invalid port");
        goto out;
    }
    out->port = port < 0 ? dflt : port;
    if (out->port == dflt)
        snprintf(out->host_header, sizeof out->host_header, "%s", host);
    else
        snprintf(out->host_header, sizeof out->host_header, "%s:%d", host, out->port);
    int n = snprintf(out->target, sizeof out->target, "%s%s%s", path && *path ? path : "/",
                     query ? "?" : "", query ? query : "");
    if (n < 0 || (size_t)n >= sizeof out->target) {
        bad_uri(f, field, uri, "too long");
        goto out;
    }
    rc = C_OK;
out:
    evhttp_uri_free(u);
    return rc;
}

/* A literal address is judged before anything starts: the client knows the address it
 * wrote, so saying that it is refused tells nothing new (which rule refused it is not said). */
static int check_literal(const netpolicy_t *policy, const url_t *u, const char *field,
                         vapi_failure_t *f)
{
    if (!u->host_is_ip || netpolicy_check(policy, &u->ip, u->port) == NP_PUBLIC)
        return C_OK;
    char addr[NP_ADDR_TEXT];
    np_addr_format(&u->ip, addr, sizeof addr);
    return vapi_fail(f, VAPI_INVALID_ARGUMENT, "pull_address_refused",
                     "The field {0} names the address {1}, which this server does not pull "
                     "from.",
                     field, addr, NULL);
}

int pull_check_source(const netpolicy_t *policy, const char *uri, const char *field,
                      vapi_failure_t *f)
{
    if (!policy)
        return vapi_fail(f, VAPI_INTERNAL_SERVER_ERROR, "pull_no_policy",
                         "No PULL egress policy is set.", NULL);
    url_t *u = calloc(1, sizeof *u);
    if (!u)
        return vapi_fail(f, VAPI_UNABLE_TO_ALLOCATE_RESOURCE, "pull_no_memory", "Out of memory.",
                         NULL);
    const char *name = field && *field ? field : SOURCE_FIELD;
    int rc = parse_uri(u, uri, name, f);
    if (rc == C_OK)
        rc = check_literal(policy, u, name, f);
    free(u);
    return rc;
}

pull_t *pull_start(struct event_base *base, const pull_request_t *rq, const pull_callbacks_t *cb,
                   vapi_failure_t *f)
{
    if (!base || !rq || !cb || !cb->done) {
        vapi_fail(f, VAPI_INTERNAL_SERVER_ERROR, "pull_bad_call", "Invalid PULL request.", NULL);
        return NULL;
    }
    pull_t *p = calloc(1, sizeof *p);
    if (!p) {
        vapi_fail(f, VAPI_UNABLE_TO_ALLOCATE_RESOURCE, "pull_no_memory", "Out of memory.", NULL);
        return NULL;
    }
    p->base = base;
    p->cb = *cb;
    p->expected_size = rq->expected_size >= 0 ? rq->expected_size : -1;
    p->content_length = -1;
    p->http_error = -1;
    p->connect_timeout_ms = rq->connect_timeout_ms > 0 ? rq->connect_timeout_ms
                                                       : PULL_CONNECT_TIMEOUT_MS;
    p->idle_timeout_ms = rq->idle_timeout_ms > 0 ? rq->idle_timeout_ms : PULL_IDLE_TIMEOUT_MS;

    if (!rq->policy) {
        vapi_fail(f, VAPI_INTERNAL_SERVER_ERROR, "pull_no_policy",
                  "No PULL egress policy is set.", NULL);
        goto fail;
    }
    p->policy = rq->policy;
    copy_str(p->file_name, sizeof p->file_name, rq->file_name ? rq->file_name : "");
    if (parse_uri(&p->u, rq->uri, SOURCE_FIELD, f) != C_OK ||
        check_literal(p->policy, &p->u, SOURCE_FIELD, f) != C_OK)
        goto fail;
    if (p->u.tls && rq->thumbprint && *rq->thumbprint &&
        thumb_parse(rq->thumbprint, p->pin, &p->pin_len) != C_OK) {
        vapi_fail(f, VAPI_INVALID_ARGUMENT, "pull_bad_thumbprint",
                  "The SSL certificate thumbprint {0} is not a SHA-1 thumbprint (AA:BB:...).",
                  rq->thumbprint, NULL);
        goto fail;
    }
    if (p->u.tls && !tls_ctx(p->pin_len > 0)) {
        vapi_fail(f, VAPI_INTERNAL_SERVER_ERROR, "pull_tls_setup_failed",
                  "Cannot set up TLS (certificate store).", NULL);
        goto fail;
    }
    p->timer = evtimer_new(base, timer_cb, p);
    p->kick = evtimer_new(base, kick_cb, p);
    p->reaper = evtimer_new(base, reap_cb, p);
    if (!p->timer || !p->kick || !p->reaper) {
        vapi_fail(f, VAPI_UNABLE_TO_ALLOCATE_RESOURCE, "pull_no_memory", "Out of memory.", NULL);
        goto fail;
    }
    p->w = blob_writer_open(rq->storage_dir, rq->session_id, rq->blob, rq->algorithm, f);
    if (!p->w)
        goto fail;
    event_active(p->kick, EV_TIMEOUT, 1);
    return p;

fail:
    reap(p);
    return NULL;
}

int64_t pull_bytes(const pull_t *p) { return p ? p->bytes : 0; }

void pull_cancel(pull_t *p)
{
    if (!p || p->finished) /* after done: nothing to stop (and done's caller frees) */
        return;
    p->finished = true;
    event_del(p->timer);
    event_del(p->kick);
    blob_writer_abort(p->w);
    p->w = NULL;
    release(p);
}
