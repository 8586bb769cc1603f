/* net/http.h: the HTTP/1.1 front end, one for the whole port: our own listener, libevent
 * bufferevents and Debian's http_parser (see README "Architecture" for why not evhttp).
 * It owns connections, parsing, limits and response framing; it knows nothing of vAPI.
 *
 * Model: one request in flight per connection. When a request's headers and body have arrived
 * the server stops reading that connection and calls the handler; the handler (now or later,
 * from a Redis callback) calls http_respond() exactly once, which writes the response and
 * resumes reading (keep-alive) or closes. If the client goes away meanwhile, the request stays
 * valid until http_respond(), which then only frees it.
 *
 * Limits (all in http_limits_t): header bytes (431), body bytes (413, decided from
 * Content-Length before reading the body, or while reading a chunked one), connections (at
 * max_connections the longest-idle keep-alive connection is closed to make room; with none
 * idle, or over max_connections_per_client for the client's address, the new connection is
 * answered 503 with Retry-After and closed, never reset), a per-request deadline that closes a
 * client that has not sent a whole request in time (slow-loris), an idle keep-alive timeout,
 * and EMFILE/ENFILE on accept: the listener pauses for a moment instead of spinning. */
#ifndef NET_HTTP_H
#define NET_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

struct event_base;
struct evbuffer;

typedef enum {
    HTTP_GET, HTTP_POST, HTTP_PUT, HTTP_PATCH, HTTP_DELETE, HTTP_HEAD, HTTP_OPTIONS,
    HTTP_OTHER
} http_method_t;
const char *http_method_name(http_method_t m);

typedef struct {
    size_t max_header_bytes;   /* request line + headers, default 16 KiB */
    size_t max_body_bytes;     /* default 1 MiB */
    int max_connections;       /* default 1024 */
    int max_connections_per_client; /* by client address, default 64 */
    int request_deadline_ms;   /* whole request must arrive within this, default 30000 */
    int idle_timeout_ms;       /* keep-alive idle, default 60000 */
} http_limits_t;

typedef struct http_request http_request_t;

/* What a handler may read. Strings are NUL-terminated and owned by the request. */
struct http_request {
    http_method_t method;
    const char *method_name; /* as sent, e.g. "PATCH" or "BREW" */
    char *path;              /* percent-decoded path, without the query; never contains NUL */
    char *raw_path;          /* path as sent */
    char *query;             /* raw query string (after '?'), NULL if none */
    struct evbuffer *body;   /* whole body (bounded by max_body_bytes) */
    char peer[64];           /* "127.0.0.1:5555" for logs */
    void *user;              /* free for the handler */
    int tag;                 /* free for the handler: a label for the observer (0 at first) */
};

/* Case-insensitive header lookup; the first occurrence, or NULL. */
const char *http_header(const http_request_t *req, const char *name);
/* The request came over TLS (http_server_set_tls). */
bool http_request_tls(const http_request_t *req);
/* Percent-decoded value of a query parameter (first occurrence) into out; false if absent or
 * if it does not fit / contains NUL. */
bool http_query_param(const http_request_t *req, const char *name, char *out, size_t size);
/* Does every parameter of the query decode (well-formed escapes, no NUL)? If not, false, with
 * the first bad parameter's name (decoded if it can be, else as sent; cut to fit) in bad. */
bool http_query_valid(const http_request_t *req, char *bad, size_t size);

/* Sends the response and finishes the request (frees it). content_type may be NULL when the
 * body is empty. extra_headers: NULL or "Name: value\r\n..." lines. Adds Content-Length,
 * Date-less minimal headers and Connection handling. */
void http_respond(http_request_t *req, int status, const char *content_type, const char *body,
                  size_t body_len, const char *extra_headers);

typedef void (*http_handler_fn)(http_request_t *req, void *arg);
/* Called instead of the handler when a request is refused by the front end itself (status 400
 * malformed, 413 body too large, 431 headers too large, 505 ...). `req` has whatever was
 * parsed (path may be NULL); the function must call http_respond() once; the connection is
 * closed after that response. */
typedef void (*http_reject_fn)(http_request_t *req, int status, const char *reason, void *arg);

typedef struct http_server http_server_t;

http_server_t *http_server_new(struct event_base *base, const http_limits_t *limits,
                               http_handler_fn handler, http_reject_fn reject, void *arg);
/* Binds and listens; returns the bound port (useful with port 0) or -1. */
int http_server_listen(http_server_t *srv, const char *host, int port);
/* Draining (before a stop): from now on every answer carries "Connection: close" and its
 * connection closes after it; new connections are still accepted. */
void http_server_drain(http_server_t *srv);
/* Stops accepting; open connections finish their current request and close. */
void http_server_stop(http_server_t *srv);
void http_server_free(http_server_t *srv);
int http_server_connections(const http_server_t *srv);

/* HTTPS: connections accepted from now on speak TLS with this context (NULL: plain HTTP);
 * the context is borrowed and must outlive the server. Everything else, streamed bodies and
 * their backpressure included, works the same through the TLS bufferevent; what differs: a
 * client that leaves while the handler holds its request is noticed at the next write rather
 * than at once (its close_notify reads as pending bytes). */
struct ssl_ctx_st;
void http_server_set_tls(http_server_t *srv, struct ssl_ctx_st *ctx);

/* Fills every field with its default (the values named above). http_server_new() also treats a
 * NULL limits pointer, or any field <= 0, as "use the default". */
void http_limits_defaults(http_limits_t *limits);

/* Called by http_respond() for every answer that goes to a client (not for a request whose
 * client left first: those count in http_stats_t.orphaned), with the time since the request was
 * handed to the handler (or a streamed one to on_start): metrics and the access log. */
typedef void (*http_observe_fn)(const http_request_t *req, int status, int64_t elapsed_ns,
                                void *arg);
void http_server_set_observer(http_server_t *srv, http_observe_fn fn, void *arg);

/* Counters since http_server_new(), for logs, metrics and tests. */
typedef struct {
    uint64_t accepted;      /* connections taken on */
    uint64_t refused;       /* answered 503 (or closed, past the few kept for that) at a cap */
    uint64_t evicted;       /* idle connections closed at max_connections for a new client */
    uint64_t accept_pauses; /* 100 ms listener pauses after EMFILE/ENFILE/ENOBUFS/ENOMEM */
    uint64_t requests;      /* requests handed to the handler */
    uint64_t rejected;      /* requests refused by the front end (reject function) */
    uint64_t timeouts;      /* connections closed by the request deadline or idle timeout */
    uint64_t orphaned;      /* requests whose client left before the response */
} http_stats_t;
void http_server_stats(const http_server_t *srv, http_stats_t *out);

/* ---- Streaming request bodies (the upload data plane) ----------------------------------------
 * For requests the stream matcher accepts (decided when the headers are complete), the body is
 * not buffered: the front end calls on_start once, then on_data for each piece as it arrives,
 * then on_end. Reading is paused until the application calls http_stream_resume() (typically
 * after an asynchronous check of the request), and it may pause again at any time for
 * backpressure. The request deadline does not apply to a streamed body; instead the connection
 * closes when no byte arrives for idle_timeout_ms. max_body_bytes does not apply either (the
 * application enforces its own size). The application answers with http_respond() exactly once,
 * at any point: before resume (refusal: the connection then closes after the response), or
 * after on_end. on_end(complete=false) means the body was cut (client gone, idle, parse error);
 * the request is then orphaned and http_respond() only frees it.
 * Pieces: over plain TCP the body is read with one read(2) of up to 256 KiB per loop turn into a
 * buffer of the connection, and on_data gets what that read brought (less the chunk framing);
 * over TLS, what the OpenSSL bufferevent read (a few KiB). A piece is valid only during the
 * call: keep a copy.
 * Reading in place (optional `buffer`): for a Content-Length body over plain TCP, before each
 * read the front end asks the application where the bytes may go; it reads at most *len bytes
 * (and never past the body's end) straight there, and the on_data that follows points into that
 * memory (the application then need not copy). The memory must stay valid until on_data has
 * taken the piece, and until on_end or http_respond() if the application pauses inside the
 * on_data of the body's last piece (the parser looks at its last byte once more). NULL: the
 * connection's own buffer is used. */
typedef struct {
    bool (*match)(const http_request_t *req, void *arg); /* stream this request's body? */
    void (*on_start)(http_request_t *req, void *arg);
    /* Return 0 to go on, -1 to stop reading (the app then responds; the rest is discarded). */
    int (*on_data)(http_request_t *req, const char *data, size_t len, void *arg);
    void (*on_end)(http_request_t *req, bool complete, void *arg);
    void *arg;
    /* Optional (NULL: none), see "Reading in place" above. */
    char *(*buffer)(http_request_t *req, size_t *len, void *arg);
} http_stream_t;

void http_server_set_stream(http_server_t *srv, const http_stream_t *stream);
void http_stream_pause(http_request_t *req);
void http_stream_resume(http_request_t *req);
/* Declared body length (-1 when chunked). */
int64_t http_content_length(const http_request_t *req);

#endif
