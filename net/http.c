/* net/http.c: the HTTP/1.1 front end. It owns the listening socket (and its pause after
 * EMFILE and friends), one bufferevent per connection, request parsing with Debian's
 * http_parser, every limit in http_limits_t, keep-alive and pipelining, and response framing.
 * It knows nothing of vAPI: a complete request goes to the handler, a refused one to the
 * reject function, and both come back through http_respond().
 *
 * A connection (conn_t) embeds the single request it may have in flight, so a keep-alive
 * request costs no allocation of its own: the header bytes go into a per-connection buffer
 * that is reused, the body into a per-connection evbuffer. States:
 *
 *   ST_READ     parsing. Before the first byte of a request the idle timer runs (on a fresh
 *               connection: the request deadline, counted from accept); from the first byte
 *               of a request the request deadline runs and is not reset by later bytes.
 *   ST_HANDLER  a complete request (or a refusal) is with the handler. The parser is paused,
 *               reading is off, no timer runs. A one-shot watch on the socket notices a client
 *               that leaves: the connection is then orphaned (socket and events freed, memory
 *               kept) and http_respond() only frees it.
 *   ST_STREAM   a streamed request body (see "Streaming request bodies" in net/http.h and
 *               below): the application holds the request and may answer at any time, while
 *               the body goes to it piece by piece. Reading runs only while the application
 *               has not paused it; then the idle timer runs, re-armed by every read. While
 *               paused, no timer runs and the client-gone watch is on, as in ST_HANDLER.
 *   ST_CLOSING  the last response is being written; then close, or linger.
 *   ST_LINGER   after a refusal with input still unread: half-close and discard input for a
 *               moment, so the client reads our 4xx instead of a TCP reset.
 *
 * Writes are ours: the bufferevent's EV_WRITE stays off and responses are written to the
 * socket directly once the current batch of requests is handled (one write(2) for a whole
 * pipelined batch); only a response the kernel does not take at once is handed to the
 * bufferevent to finish. Over TLS (http_server_set_tls) the bufferevent is an openssl one and
 * OpenSSL alone writes the socket: every response goes through the bufferevent (EV_WRITE on
 * until drained), and a close sends close_notify first. Reading is the same for both.
 *
 * Strict framing: what lenient http_parser lets through is refused here (check_framing,
 * is_tchar, crlf_check, the HTTP/0.9 check): HTTP/1.1 without exactly one Host, non-token
 * header names, control bytes in values, repeated Content-Length or one with
 * Transfer-Encoding (400), any transfer coding but a lone chunked (501), chunk data not
 * followed by CRLF, and a request line without a version (400 at once).
 *
 * Connection caps: a hash of client addresses counts connections per address; an idle list
 * (fresh or between keep-alive requests, oldest first) gives the connection to close at
 * max_connections; otherwise a "busy" connection answers 503 + Retry-After and lingers.
 *
 * Streaming request bodies. When a request's headers are complete and the stream matcher
 * accepts it, on_headers_complete pauses the parser; the read loop then moves the connection
 * to ST_STREAM and calls on_start (the request deadline stops; max_body_bytes does not apply).
 * Reading starts paused: http_stream_resume() turns it on (and sends a pending "100 Continue"),
 * http_stream_pause() turns it off. Pausing from inside on_data pauses http_parser itself, so
 * http_parser_execute() returns at once and reports how far it got; the unparsed rest of the
 * chunk stays in the input evbuffer and parsing resumes from there. Input is never read while
 * paused and is parsed as soon as it is read otherwise (a resume parses what is left before
 * the next read), so a streamed body costs at most one read of buffering. The callbacks are
 * copied into the connection when the matcher takes a request, so http_server_set_stream() may
 * change them at any time without affecting streams in progress.
 *
 * Big reads (plain TCP only). libevent 2.1 reads a socket 4 KiB at a time, so a streamed body
 * cost one epoll round, one read(2) and one on_data (a hash update and a write(2) in the upload
 * plane) per 4 KiB. While a plain-TCP stream is reading, the bufferevent's read event is off and
 * the connection's own read event (stream_rd) does one read(2) of up to STREAM_READ bytes into a
 * page-aligned buffer of the connection (bigbuf_t), which is lent to the input evbuffer by
 * reference (no copy): the read loop then parses it as any input, so chunked framing, pauses
 * from inside on_data and pipelined bytes after the body work as before. The buffer is reused
 * only once the evbuffer let go of it (drained: its cleanup callback). One read per loop turn
 * per connection bounds the work a turn does for one upload (one read, one on_data of at most
 * STREAM_READ bytes). Over TLS the bufferevent reads as before (OpenSSL owns the socket). For a
 * Content-Length body the application may offer its own memory (http_stream_t.buffer): the
 * read goes there instead (at most up to the body's end, so no byte of a next request lands in
 * it), lent the same way, and on_data points into it.
 *
 * How a streamed request ends; on_end is called at most once, and exactly once unless the
 * application took charge of the end first (it answered, or on_data returned -1):
 *   - the body is complete: state ST_HANDLER, then on_end(req, true); the application answers
 *     with http_respond() (now or later) and keep-alive goes on as for any request.
 *   - the application answers while the body is still arriving (refusal, before or after
 *     resume): no on_end; the response carries "Connection: close" and the connection closes
 *     with linger (the unread rest of the body is discarded for a moment).
 *   - on_data returns -1: nothing more is delivered and reading stops; no on_end. The
 *     application must answer (then close with linger as above). If the client leaves before
 *     that, the request is orphaned without on_end and the answer only frees it.
 *   - the client leaves, the socket fails, the idle timer fires, the body is malformed (bad
 *     chunk, oversized trailers) or the server is freed: on_end(req, false), after the request
 *     was orphaned (socket gone, memory kept): http_respond() then only frees it. It may be
 *     called from inside on_end.
 * http_stream_pause()/resume() on a request that is not streaming (ended, orphaned) do
 * nothing; on a request already answered (freed) they must not be called. */

/* http_parser.h names its method constants HTTP_GET, HTTP_POST, ... exactly like
 * http_method_t in net/http.h. Its enum is generated by token pasting, and pasted tokens are
 * macro-expanded, so these defines rename the parser's constants while its header is read. */
#define HTTP_DELETE HPARSER_DELETE
#define HTTP_GET HPARSER_GET
#define HTTP_HEAD HPARSER_HEAD
#define HTTP_POST HPARSER_POST
#define HTTP_PUT HPARSER_PUT
#define HTTP_OPTIONS HPARSER_OPTIONS
#define HTTP_PATCH HPARSER_PATCH
#include <http_parser.h>
#undef HTTP_DELETE
#undef HTTP_GET
#undef HTTP_HEAD
#undef HTTP_POST
#undef HTTP_PUT
#undef HTTP_OPTIONS
#undef HTTP_PATCH

#include "net/http.h"
#include "core/common.h"
#include "net/log.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#define DEFAULT_MAX_HEADER_BYTES (16u * 1024)
#define DEFAULT_MAX_BODY_BYTES (1024u * 1024)
#define DEFAULT_MAX_CONNECTIONS 1024
#define DEFAULT_MAX_CONNECTIONS_PER_CLIENT 64
#define DEFAULT_REQUEST_DEADLINE_MS 30000
#define DEFAULT_IDLE_TIMEOUT_MS 60000

#define READ_SLACK (16u * 1024)      /* input buffered beyond max(header, body) limit */
#define REQUEST_LINE_OVERHEAD 16     /* method, spaces, "HTTP/1.1\r\n" counted per request */
#define HEADER_LINE_OVERHEAD 4       /* ": " and CRLF counted per header line */
#define RAW_HEADER_SLACK 4096        /* bytes the parser eats without telling (whitespace) */
#define OUTPUT_HIGH (256u * 1024)    /* stop parsing pipelined requests above this */
#define LINGER_MAX_MS 2000
#define LINGER_MAX_BYTES (1024u * 1024)
#define ACCEPT_PAUSE_MS 100
#define BUSY_MAX 64                  /* 503 answers being written or lingering at once */
#define BUSY_REASON "Too many connections; retry later"
#define LISTEN_BACKLOG 1024
#define CONTINUE_100 "HTTP/1.1 100 Continue\r\n\r\n"
#define STREAM_READ (256u * 1024)   /* one read(2) of a plain-TCP streamed body (big reads) */
#define STREAM_ALIGN 4096

typedef enum { ST_READ, ST_HANDLER, ST_STREAM, ST_CLOSING, ST_LINGER, ST_DONE } conn_state_t;
typedef enum { PIECE_NONE, PIECE_URL, PIECE_FIELD, PIECE_VALUE } piece_t;
typedef enum { TK_DEADLINE, TK_IDLE, TK_CLOSE, TK_LINGER } timer_kind_t;

/* One header line, as offsets into conn_t.hbuf (which may move while it grows). */
typedef struct {
    uint32_t name, name_len, value, value_len;
} hdr_t;

/* One client address and how many connections it holds (the per-client cap). */
typedef struct peer peer_t;
struct peer {
    peer_t *next;               /* bucket chain */
    uint8_t addr[16];
    uint8_t family;
    int count;
};

/* The big-read buffer of a connection (see "Big reads"): lent to the input evbuffer by
 * reference while `lent`; a connection freed while it is lent leaves the free to the evbuffer's
 * cleanup (`orphan`), which may run later (bufferevents are finalized by the event loop). */
typedef struct {
    char *data;                 /* STREAM_READ bytes, STREAM_ALIGN-aligned */
    bool lent;
    bool orphan;
} bigbuf_t;

typedef struct conn conn_t;
struct conn {
    http_request_t pub;         /* first member: an http_request_t * is a conn_t * */
    http_server_t *srv;         /* NULL once orphaned or detached */
    conn_t *prev, *next;
    conn_t *idle_prev, *idle_next; /* the server's idle list, oldest first */
    bool idle;                  /* on the idle list: open, no request begun */
    bool busy;                  /* only answers 503 (over a connection cap), then closes */
    bool tls;                   /* an openssl bufferevent: every byte goes through it */
    peer_t *peer_ent;           /* counted against this client address (NULL: not counted) */
    struct bufferevent *bev;    /* NULL once orphaned */
    evutil_socket_t fd;
    struct event *timer;
    struct event *watch;        /* client-gone watch while the handler has the request */
    struct event *stream_rd;    /* big reads of a plain-TCP streamed body (NULL until needed) */
    bigbuf_t *big;              /* their buffer (NULL until needed) */
    http_parser parser;
    conn_state_t state;

    /* The request being parsed: URL and header bytes, NUL-separated, then the decoded path. */
    char *hbuf;
    size_t hlen, hcap;
    hdr_t *hdrs;
    size_t nhdrs, nhdrs_done, hdrcap;
    piece_t piece;
    size_t url_off, url_len;
    size_t raw_path_off, path_off, query_off;
    size_t header_bytes;        /* counted from the callbacks, against max_header_bytes */
    size_t raw_header_bytes;    /* counted from bytes fed, a backstop */
    int reject_status;
    const char *reject_reason;
    int64_t content_length;     /* as declared, -1 when chunked or absent */

    bool fresh;                 /* no request begun yet: the accept-time deadline runs */
    bool msg_begun, url_seen, url_done, path_ok, has_query, headers_done;
    bool keep_alive, echo_keep_alive, rejected;
    bool in_process;            /* conn_process() is on the stack: never free, never recurse */
    bool free_pending;
    bool orphaned;
    bool io_error;
    bool write_armed;           /* the bufferevent is finishing a write for us */
    bool wait_drain;            /* parsing stopped until the output drains */
    bool linger;
    size_t linger_bytes;

    /* Streaming (ST_STREAM): set on_headers_complete, cleared by req_reset(). */
    http_stream_t stream;       /* the server's callbacks when the matcher took the request */
    bool streaming;             /* the matcher took this request */
    bool stream_paused;         /* the application paused reading (true until first resume) */
    bool stream_stopped;        /* on_data returned -1: nothing more is delivered */
    bool stream_continue;       /* "100 Continue" owed at the first resume */
    bool msg_complete;          /* on_message_complete ran for the current request */

    /* Strict chunk framing: the stream offset of the CRLF owed after a chunk's data. */
    uint64_t fed;               /* bytes http_parser consumed before the current execute */
    const char *exec_buf;       /* the buffer of the current http_parser_execute() */
    size_t exec_len;
    uint64_t crlf_at;           /* where the owed CRLF starts (stream offset) */
    int crlf_left;              /* bytes of it still unchecked (0: none owed) */
    int64_t started_ns;         /* handed to the handler (CLOCK_MONOTONIC), for the observer */
};

struct http_server {
    struct event_base *base;
    http_limits_t limits;
    http_handler_fn handler;
    http_reject_fn reject;
    void *arg;
    struct evconnlistener *lev;
    struct event *pause_timer;
    bool stopping;
    bool draining;              /* http_server_drain: every answer closes its connection */
    bool accept_paused;         /* inside a run of EMFILE pauses (logged once per run) */
    long last_refuse_log;       /* second of the last "max_connections" log line */
    conn_t *conns;
    int nconns;                 /* connections serving requests (busy ones not counted) */
    int nbusy;                  /* connections answering 503 */
    conn_t *idle_head, *idle_tail;
    peer_t **peers;             /* hash of client addresses, nbuckets a power of two */
    size_t nbuckets, npeers;
    long last_evict_log;
    size_t read_high;
    struct timeval tv_deadline, tv_idle, tv_linger;
    http_stats_t stats;
    http_stream_t stream;       /* all callbacks NULL: no streaming */
    SSL_CTX *ssl_ctx;           /* borrowed; NULL: plain HTTP */
    http_observe_fn observe;    /* http_server_set_observer */
    void *observe_arg;
};

/* For tests only (deliberately not in net/http.h): the most input bytes a streamed request
 * ever had buffered at once (read from its socket, not yet handed to on_data), process-wide. */
size_t http_test_stream_peak_input;

static http_parser_settings parser_settings;

static void conn_process(conn_t *c);
static void conn_close(conn_t *c);
static bool conn_reading(const conn_t *c);
static void bigbuf_drop(conn_t *c);
static void on_stream_read(evutil_socket_t fd, short what, void *arg);
static void conn_dispatch(conn_t *c, int status, const char *reason);
static void idle_unlink(conn_t *c);
static void req_publish(conn_t *c);

/* One log line (net/log.h): the front end reports only trouble (listener pauses, refusals). */
static void hlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void hlog(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log_kv(LV_WARN, line, "src", "http", (const char *)NULL);
}

const char *http_method_name(http_method_t m)
{
    static const char *const names[] = {
        [HTTP_GET] = "GET",         [HTTP_POST] = "POST",    [HTTP_PUT] = "PUT",
        [HTTP_PATCH] = "PATCH",     [HTTP_DELETE] = "DELETE", [HTTP_HEAD] = "HEAD",
        [HTTP_OPTIONS] = "OPTIONS", [HTTP_OTHER] = "OTHER",
    };
    if ((unsigned)m >= ARRAY_LEN(names))
        return "OTHER";
    return names[m];
}

static http_method_t map_method(unsigned m)
{
    switch (m) {
    case HPARSER_GET: return HTTP_GET;
    case HPARSER_POST: return HTTP_POST;
    case HPARSER_PUT: return HTTP_PUT;
    case HPARSER_PATCH: return HTTP_PATCH;
    case HPARSER_DELETE: return HTTP_DELETE;
    case HPARSER_HEAD: return HTTP_HEAD;
    case HPARSER_OPTIONS: return HTTP_OPTIONS;
    default: return HTTP_OTHER;
    }
}

void http_limits_defaults(http_limits_t *l)
{
    l->max_header_bytes = DEFAULT_MAX_HEADER_BYTES;
    l->max_body_bytes = DEFAULT_MAX_BODY_BYTES;
    l->max_connections = DEFAULT_MAX_CONNECTIONS;
    l->max_connections_per_client = DEFAULT_MAX_CONNECTIONS_PER_CLIENT;
    l->request_deadline_ms = DEFAULT_REQUEST_DEADLINE_MS;
    l->idle_timeout_ms = DEFAULT_IDLE_TIMEOUT_MS;
}

/* ---------- percent-decoding ---------- */

static int hexval(unsigned char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Decodes %XX escapes (and '+' as space when plus_space) into dst. Returns the decoded length,
 * or -1 for a malformed escape, a NUL (encoded or not) or more than cap bytes: a decoded
 * string is handed on as a C string, so a NUL would silently cut it. */
static long pct_decode(const char *s, size_t len, char *dst, size_t cap, bool plus_space)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '%') {
            if (i + 2 >= len)
                return -1;
            int hi = hexval((unsigned char)s[i + 1]), lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            ch = (unsigned char)(hi * 16 + lo);
            i += 2;
        } else if (plus_space && ch == '+') {
            ch = ' ';
        }
        if (ch == '\0' || o >= cap)
            return -1;
        dst[o++] = (char)ch;
    }
    return (long)o;
}

/* ---------- request buffer ---------- */

/* Grows hbuf by doubling. Its size is bounded by the header limit (checked before every
 * append) plus the decoded path, and it is reused by every request on the connection. */
static int hbuf_reserve(conn_t *c, size_t more)
{
    if (c->hlen + more <= c->hcap)
        return C_OK;
    size_t cap = c->hcap ? c->hcap : 1024;
    while (cap < c->hlen + more)
        cap *= 2;
    char *p = realloc(c->hbuf, cap);
    if (!p)
        return C_ERR;
    c->hbuf = p;
    c->hcap = cap;
    return C_OK;
}

static int hbuf_append(conn_t *c, const char *at, size_t len)
{
    if (hbuf_reserve(c, len) != C_OK)
        return C_ERR;
    memcpy(c->hbuf + c->hlen, at, len);
    c->hlen += len;
    return C_OK;
}

static int hbuf_nul(conn_t *c)
{
    return hbuf_append(c, "", 1);
}

/* Records why parsing stops; the read loop turns it into a call of the reject function. */
static int refuse(conn_t *c, int status, const char *reason)
{
    if (!c->reject_status) {
        c->reject_status = status;
        c->reject_reason = reason;
    }
    return -1;
}

static int count_header_bytes(conn_t *c, size_t n)
{
    c->header_bytes += n;
    if (c->header_bytes > c->srv->limits.max_header_bytes)
        return refuse(c, 431, "Request Header Fields Too Large");
    return 0;
}

/* RFC 9110 "tchar": the bytes a header field name is made of. http_parser (built without
 * HTTP_PARSER_STRICT) lets spaces and other bytes through, which other HTTP agents in front of
 * or behind us may read differently (request smuggling), so names are checked here. */
static bool is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* Field values may hold visible bytes, spaces, tabs and obs-text, never other controls. */
static bool value_byte_ok(unsigned char ch)
{
    return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

/* A chunk's data must be followed by CRLF; lenient http_parser takes any two bytes. The owed
 * CRLF is found by its stream offset (it may be split across reads, or lie past where the
 * parser stopped), and checked in whatever part of it the current buffer holds. */
static int crlf_check(conn_t *c)
{
    uint64_t end = c->fed + c->exec_len;
    while (c->crlf_left > 0) {
        uint64_t pos = c->crlf_at + (uint64_t)(2 - c->crlf_left);
        if (pos < c->fed || pos >= end)
            return 0;
        char want = c->crlf_left == 2 ? '\r' : '\n';
        if (c->exec_buf[pos - c->fed] != want)
            return refuse(c, 400, "Chunk data not followed by CRLF");
        c->crlf_left--;
    }
    return 0;
}

/* Called when a chunk's data was all delivered (at + len is just past its last byte). */
static int chunk_data_done(conn_t *c, const char *at, size_t len)
{
    c->crlf_at = c->fed + (uint64_t)(at + len - c->exec_buf);
    c->crlf_left = 2;
    return crlf_check(c);
}

/* Splits the finished URL into raw path and raw query (in place, at '?' and '#'), then
 * appends the percent-decoded path. Origin form ("/a?b") is split by hand, the common case;
 * absolute form, "*" and CONNECT's authority go through http_parser_parse_url. */
static int url_finish(conn_t *c)
{
    if (hbuf_nul(c) != C_OK)
        return refuse(c, 500, "Out of memory");
    c->url_done = true;
    char *u = c->hbuf + c->url_off;
    size_t ulen = c->url_len, pstart = 0, plen = 0;
    bool synth_root = false;

    if (ulen > 0 && (u[0] == '/' || u[0] == '*')) {
        plen = strcspn(u, "?#");
    } else {
        struct http_parser_url pu;
        http_parser_url_init(&pu);
        if (http_parser_parse_url(u, ulen, c->parser.method == HTTP_CONNECT, &pu) != 0)
            return refuse(c, 400, "Malformed request target");
        if (c->parser.method == HTTP_CONNECT) {
            plen = ulen; /* the authority is the target */
        } else if (pu.field_set & (1u << UF_PATH)) {
            pstart = pu.field_data[UF_PATH].off;
            plen = pu.field_data[UF_PATH].len;
        } else {
            pstart = strcspn(u, "?#");
            synth_root = true;
        }
    }
    size_t end = pstart + plen; /* '?', '#' or the terminating NUL */
    c->has_query = false;
    if (u[end] == '?') {
        c->has_query = true;
        c->query_off = c->url_off + end + 1;
        u[c->query_off - c->url_off + strcspn(u + end + 1, "#")] = '\0';
    }
    u[end] = '\0';
    c->raw_path_off = c->url_off + pstart;

    if (synth_root) {
        c->raw_path_off = c->hlen;
        if (hbuf_append(c, "/", 2) != C_OK)
            return refuse(c, 500, "Out of memory");
        plen = 1;
    }
    if (hbuf_reserve(c, plen + 1) != C_OK)
        return refuse(c, 500, "Out of memory");
    long n = pct_decode(c->hbuf + c->raw_path_off, plen, c->hbuf + c->hlen, plen, false);
    if (n < 0)
        return refuse(c, 400, "Malformed percent-encoding in path");
    c->path_off = c->hlen;
    c->hlen += (size_t)n;
    c->hbuf[c->hlen++] = '\0';
    c->path_ok = true;
    return 0;
}

/* ---------- http_parser callbacks: copy, count, and refuse early ---------- */

static int on_message_begin(http_parser *p)
{
    conn_t *c = p->data;
    c->msg_begun = true;
    idle_unlink(c);
    if (c->fresh) {
        c->fresh = false; /* the deadline armed at accept keeps running */
    } else if (c->timer) {
        evtimer_add(c->timer, &c->srv->tv_deadline);
    }
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    conn_t *c = p->data;
    if (!c->url_seen) {
        c->url_seen = true;
        c->piece = PIECE_URL;
        c->url_off = c->hlen;
        if (count_header_bytes(c, REQUEST_LINE_OVERHEAD))
            return -1;
    }
    if (count_header_bytes(c, len))
        return -1;
    if (hbuf_append(c, at, len) != C_OK)
        return refuse(c, 500, "Out of memory");
    c->url_len += len;
    if (p->http_major == 0 && p->http_minor == 9)
        return refuse(c, 400, "HTTP/0.9 request (no HTTP version)");
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    conn_t *c = p->data;
    for (size_t i = 0; i < len; i++)
        if (!is_tchar((unsigned char)at[i]))
            return refuse(c, 400, "Invalid character in a header field name");
    if (c->headers_done) /* a trailer after a chunked body: counted, not kept */
        return count_header_bytes(c, len + HEADER_LINE_OVERHEAD);
    if (c->piece != PIECE_FIELD) {
        if (c->piece == PIECE_URL) {
            if (url_finish(c))
                return -1;
        } else if (c->piece == PIECE_VALUE) {
            if (hbuf_nul(c) != C_OK)
                return refuse(c, 500, "Out of memory");
            c->nhdrs_done++;
        }
        if (count_header_bytes(c, HEADER_LINE_OVERHEAD))
            return -1;
        if (c->nhdrs == c->hdrcap) {
            size_t cap = c->hdrcap ? c->hdrcap * 2 : 16;
            hdr_t *h = realloc(c->hdrs, cap * sizeof *h);
            if (!h)
                return refuse(c, 500, "Out of memory");
            c->hdrs = h;
            c->hdrcap = cap;
        }
        c->hdrs[c->nhdrs++] = (hdr_t){.name = (uint32_t)c->hlen};
        c->piece = PIECE_FIELD;
    }
    if (count_header_bytes(c, len))
        return -1;
    if (hbuf_append(c, at, len) != C_OK)
        return refuse(c, 500, "Out of memory");
    c->hdrs[c->nhdrs - 1].name_len += (uint32_t)len;
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    conn_t *c = p->data;
    for (size_t i = 0; i < len; i++)
        if (!value_byte_ok((unsigned char)at[i]))
            return refuse(c, 400, "Invalid character in a header field value");
    if (c->headers_done)
        return count_header_bytes(c, len);
    if (c->piece != PIECE_VALUE) {
        if (hbuf_nul(c) != C_OK)
            return refuse(c, 500, "Out of memory");
        c->hdrs[c->nhdrs - 1].value = (uint32_t)c->hlen;
        c->piece = PIECE_VALUE;
    }
    if (count_header_bytes(c, len))
        return -1;
    if (hbuf_append(c, at, len) != C_OK)
        return refuse(c, 500, "Out of memory");
    c->hdrs[c->nhdrs - 1].value_len += (uint32_t)len;
    return 0;
}

/* Header lookup on offsets; usable before the public pointers are set. */
static const char *find_header(const conn_t *c, const char *name)
{
    for (size_t i = 0; i < c->nhdrs_done; i++)
        if (strcasecmp(c->hbuf + c->hdrs[i].name, name) == 0)
            return c->hbuf + c->hdrs[i].value;
    return NULL;
}

static size_t count_headers(const conn_t *c, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < c->nhdrs_done; i++)
        n += strcasecmp(c->hbuf + c->hdrs[i].name, name) == 0;
    return n;
}

/* The framing headers, read strictly: HTTP/1.1 needs exactly one Host; Content-Length once at
 * most and never with Transfer-Encoding (400: two agents could frame the body differently);
 * the only transfer coding served is a lone "chunked" (501 for any other, "gzip, chunked"
 * included). Returns 0, or refuse()'s -1. */
static int check_framing(conn_t *c, const http_parser *p)
{
    size_t hosts = count_headers(c, "Host");
    if (p->http_minor == 1 && hosts == 0)
        return refuse(c, 400, "Missing Host header");
    if (hosts > 1)
        return refuse(c, 400, "More than one Host header");
    size_t lengths = count_headers(c, "Content-Length");
    size_t codings = count_headers(c, "Transfer-Encoding");
    if (lengths > 1)
        return refuse(c, 400, "More than one Content-Length header");
    if (codings > 0) {
        const char *te = find_header(c, "Transfer-Encoding");
        te += strspn(te, " \t");
        size_t n = strcspn(te, " \t");
        if (codings > 1 || n != 7 || strncasecmp(te, "chunked", 7) != 0 || te[n + strspn(te + n, " \t")])
            return refuse(c, 501, "Transfer-Encoding other than chunked");
        if (lengths > 0)
            return refuse(c, 400, "Both Content-Length and Transfer-Encoding");
    }
    return 0;
}

/* Decides everything that can be decided before the body: version (505), body size from
 * Content-Length (413 without reading a byte of it), keep-alive, "100 Continue", and whether
 * the body is streamed. A streamed request pauses the parser here (on the last header byte,
 * which the parser sees again when resumed) so that the read loop can call on_start outside
 * of http_parser; its "100 Continue" waits for the first http_stream_resume(). */
static int on_headers_complete(http_parser *p)
{
    conn_t *c = p->data;
    if (c->piece == PIECE_URL) {
        if (url_finish(c))
            return -1;
    } else if (c->piece == PIECE_VALUE) {
        if (hbuf_nul(c) != C_OK)
            return refuse(c, 500, "Out of memory");
        c->nhdrs_done++;
    }
    c->piece = PIECE_NONE;
    c->headers_done = true;
    c->pub.method = map_method(p->method);
    c->pub.method_name = http_method_str((enum http_method)p->method);

    if (p->http_major != 1 || p->http_minor > 1)
        return refuse(c, 505, "HTTP Version Not Supported");
    if (check_framing(c, p))
        return -1;
    c->keep_alive = http_should_keep_alive(p) && p->method != HTTP_CONNECT;
    c->echo_keep_alive = c->keep_alive && p->http_minor == 0;

    http_server_t *srv = c->srv;
    size_t max_body = srv->limits.max_body_bytes;
    bool chunked = (p->flags & F_CHUNKED) != 0;
    bool has_length = !chunked && p->content_length != ULLONG_MAX;
    c->content_length = -1;
    if (has_length) {
        if (p->content_length > (uint64_t)INT64_MAX)
            return refuse(c, 413, "Payload Too Large");
        c->content_length = (int64_t)p->content_length;
    }
    if (srv->stream.match) {
        req_publish(c); /* the matcher reads method, path, query and headers */
        c->streaming = srv->stream.match(&c->pub, srv->stream.arg);
        if (c->streaming)
            c->stream = srv->stream;
    }
    if (!c->streaming && has_length && p->content_length > max_body)
        return refuse(c, 413, "Payload Too Large");

    if (p->http_minor == 1 && (chunked || (has_length && p->content_length > 0))) {
        const char *expect = find_header(c, "Expect");
        if (expect && strcasecmp(expect, "100-continue") == 0) {
            if (c->streaming)
                c->stream_continue = true;
            else
                evbuffer_add(bufferevent_get_output(c->bev), CONTINUE_100,
                             sizeof CONTINUE_100 - 1);
        }
    }
    if (c->streaming)
        http_parser_pause(p, 1);
    return 0;
}

static int on_chunk_header(http_parser *p)
{
    conn_t *c = p->data;
    if (c->streaming)
        return 0; /* the application enforces its own size */
    size_t have = evbuffer_get_length(c->pub.body);
    if (p->content_length > c->srv->limits.max_body_bytes - have)
        return refuse(c, 413, "Payload Too Large");
    return 0;
}

/* A streamed body goes to on_data as it is parsed; -1 stops the parser (the read loop tells a
 * refusal, c->stream_stopped, from an answer given inside on_data, c->state). */
static int on_body(http_parser *p, const char *at, size_t len)
{
    conn_t *c = p->data;
    if ((p->flags & F_CHUNKED) && p->content_length == 0 && chunk_data_done(c, at, len))
        return -1;
    if (c->streaming || c->state != ST_READ) {
        if (c->state != ST_STREAM || c->stream_stopped)
            return -1; /* answered from inside on_data: the rest is discarded */
        if (c->stream.on_data(&c->pub, at, len, c->stream.arg) != 0) {
            if (c->state == ST_STREAM)
                c->stream_stopped = true;
            return -1;
        }
        return c->state == ST_STREAM ? 0 : -1;
    }
    size_t have = evbuffer_get_length(c->pub.body);
    if (len > c->srv->limits.max_body_bytes - have)
        return refuse(c, 413, "Payload Too Large");
    if (evbuffer_add(c->pub.body, at, len) != 0)
        return refuse(c, 500, "Out of memory");
    return 0;
}

/* One request in flight: stop the parser at the end of a message; the read loop sees
 * HPE_PAUSED and hands the request over. */
static int on_message_complete(http_parser *p)
{
    conn_t *c = p->data;
    c->msg_complete = true;
    http_parser_pause(p, 1);
    return 0;
}

/* ---------- request state ---------- */

/* Turns the offsets into the public pointers; hbuf does not move after this until the
 * request is finished (trailers and body do not touch it). */
static void req_publish(conn_t *c)
{
    http_request_t *r = &c->pub;
    if (!c->headers_done) {
        r->method = c->url_seen ? map_method(c->parser.method) : HTTP_OTHER;
        r->method_name = c->url_seen ? http_method_str((enum http_method)c->parser.method) : "";
    }
    if (c->path_ok) {
        r->raw_path = c->hbuf + c->raw_path_off;
        r->path = c->hbuf + c->path_off;
        r->query = c->has_query ? c->hbuf + c->query_off : NULL;
    }
}

/* Forgets the finished request; buffers are kept for the next one on this connection. */
static void req_reset(conn_t *c)
{
    http_request_t *r = &c->pub;
    r->method = HTTP_OTHER;
    r->method_name = "";
    r->path = r->raw_path = r->query = NULL;
    r->user = NULL;
    r->tag = 0;
    evbuffer_drain(r->body, evbuffer_get_length(r->body));
    c->hlen = c->nhdrs = c->nhdrs_done = 0;
    c->piece = PIECE_NONE;
    c->url_off = c->url_len = c->raw_path_off = c->path_off = c->query_off = 0;
    c->header_bytes = c->raw_header_bytes = 0;
    c->reject_status = 0;
    c->reject_reason = NULL;
    c->msg_begun = c->url_seen = c->url_done = c->path_ok = c->has_query = false;
    c->headers_done = false;
    c->content_length = -1;
    c->streaming = c->stream_paused = c->stream_stopped = c->stream_continue = false;
    c->msg_complete = false;
    c->crlf_left = 0;
    if (c->big && !c->big->lent)
        bigbuf_drop(c); /* a keep-alive connection does not keep 1 MiB between uploads */
}

/* ---------- idle list and client addresses ---------- */

/* The idle list holds every connection that is open with no request begun (fresh, or
 * between keep-alive requests), oldest first: at the connection cap its head makes room. */
static void idle_unlink(conn_t *c)
{
    http_server_t *srv = c->srv;
    if (!c->idle || !srv)
        return;
    if (c->idle_prev)
        c->idle_prev->idle_next = c->idle_next;
    else
        srv->idle_head = c->idle_next;
    if (c->idle_next)
        c->idle_next->idle_prev = c->idle_prev;
    else
        srv->idle_tail = c->idle_prev;
    c->idle_prev = c->idle_next = NULL;
    c->idle = false;
}

static void idle_link(conn_t *c)
{
    http_server_t *srv = c->srv;
    if (!srv || c->busy)
        return;
    idle_unlink(c);
    c->idle_prev = srv->idle_tail;
    if (srv->idle_tail)
        srv->idle_tail->idle_next = c;
    else
        srv->idle_head = c;
    srv->idle_tail = c;
    c->idle = true;
}

/* The address part of a client's sockaddr (no port); false for other families. */
static bool peer_key(const struct sockaddr *sa, uint8_t addr[16], uint8_t *family)
{
    memset(addr, 0, 16);
    if (sa->sa_family == AF_INET) {
        memcpy(addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        memcpy(addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    } else {
        return false;
    }
    *family = (uint8_t)sa->sa_family;
    return true;
}

static size_t peer_hash(const uint8_t addr[16], size_t nbuckets)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (int i = 0; i < 16; i++)
        h = (h ^ addr[i]) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29)) & (nbuckets - 1);
}

static peer_t **peer_slot(http_server_t *srv, const uint8_t addr[16], uint8_t family)
{
    peer_t **pp = &srv->peers[peer_hash(addr, srv->nbuckets)];
    while (*pp && ((*pp)->family != family || memcmp((*pp)->addr, addr, 16) != 0))
        pp = &(*pp)->next;
    return pp;
}

/* Doubles the table when it holds twice as many addresses as buckets (chains stay short
 * whatever --max-connections is). A failed allocation keeps the old table. */
static void peers_grow(http_server_t *srv)
{
    size_t n = srv->nbuckets ? srv->nbuckets * 2 : 256;
    peer_t **nb = calloc(n, sizeof *nb);
    if (!nb)
        return;
    for (size_t i = 0; i < srv->nbuckets; i++) {
        peer_t *e = srv->peers[i], *next;
        for (; e; e = next) {
            next = e->next;
            size_t h = peer_hash(e->addr, n);
            e->next = nb[h];
            nb[h] = e;
        }
    }
    free(srv->peers);
    srv->peers = nb;
    srv->nbuckets = n;
}

/* How many connections the client at sa holds now. */
static int peer_count(http_server_t *srv, const struct sockaddr *sa)
{
    uint8_t addr[16], family;
    if (!srv->nbuckets || !peer_key(sa, addr, &family))
        return 0;
    peer_t *e = *peer_slot(srv, addr, family);
    return e ? e->count : 0;
}

/* Counts the connection against its client address (not done when memory runs out: the cap
 * is then not enforced for it, which is safer than refusing it). */
static void peer_attach(conn_t *c, const struct sockaddr *sa)
{
    http_server_t *srv = c->srv;
    uint8_t addr[16], family;
    if (!peer_key(sa, addr, &family))
        return;
    if (srv->npeers >= 2 * srv->nbuckets)
        peers_grow(srv);
    if (!srv->nbuckets)
        return;
    peer_t **pp = peer_slot(srv, addr, family);
    if (!*pp) {
        peer_t *e = calloc(1, sizeof *e);
        if (!e)
            return;
        memcpy(e->addr, addr, 16);
        e->family = family;
        *pp = e;
        srv->npeers++;
    }
    (*pp)->count++;
    c->peer_ent = *pp;
}

static void peer_detach(conn_t *c)
{
    http_server_t *srv = c->srv;
    peer_t *e = c->peer_ent;
    c->peer_ent = NULL;
    if (!e || --e->count > 0)
        return;
    peer_t **pp = peer_slot(srv, e->addr, e->family);
    if (*pp == e) {
        *pp = e->next;
        srv->npeers--;
        free(e);
    }
}

/* ---------- connection plumbing ---------- */

static void timer_arm(conn_t *c, timer_kind_t kind)
{
    if (!c->timer || !c->srv)
        return;
    const struct timeval *tv = kind == TK_DEADLINE ? &c->srv->tv_deadline
                             : kind == TK_LINGER   ? &c->srv->tv_linger
                                                   : &c->srv->tv_idle;
    evtimer_add(c->timer, tv);
}

/* ---------- big reads of a streamed body (see "Big reads" at the top) ---------- */

/* The application's memory (http_stream_t.buffer) is the application's to free. */
static void app_buf_returned(const void *data, size_t len, void *arg)
{
    (void)data;
    (void)len;
    (void)arg;
}

static void bigbuf_free(bigbuf_t *b)
{
    free(b->data);
    free(b);
}

/* The input evbuffer let go of the buffer (drained, or freed with the bufferevent). */
static void bigbuf_returned(const void *data, size_t len, void *arg)
{
    bigbuf_t *b = arg;
    (void)data;
    (void)len;
    b->lent = false;
    if (b->orphan)
        bigbuf_free(b);
}

/* The connection no longer needs its buffer: free it now, or when the evbuffer returns it. */
static void bigbuf_drop(conn_t *c)
{
    bigbuf_t *b = c->big;
    c->big = NULL;
    if (!b)
        return;
    if (b->lent)
        b->orphan = true;
    else
        bigbuf_free(b);
}

static bigbuf_t *bigbuf_get(conn_t *c)
{
    if (c->big)
        return c->big;
    bigbuf_t *b = calloc(1, sizeof *b);
    void *data = NULL;
    if (!b || posix_memalign(&data, STREAM_ALIGN, STREAM_READ) != 0) {
        free(b);
        return NULL;
    }
    b->data = data;
    return c->big = b;
}

/* Does this connection read with big reads now: a plain-TCP streamed body that is reading? */
static bool big_reads(const conn_t *c)
{
    return !c->tls && c->bev && c->state == ST_STREAM && conn_reading(c) && !c->wait_drain;
}

/* Reading on: the connection's own read event for a streamed plain-TCP body, the
 * bufferevent's otherwise. The new event is added before the other goes, so the count of
 * readers on the fd never drops to zero (no epoll_ctl), as in conn_wait_handler(). */
static void conn_read_on(conn_t *c)
{
    if (big_reads(c)) {
        if (!c->stream_rd)
            c->stream_rd = event_new(c->srv->base, c->fd, EV_READ | EV_PERSIST, on_stream_read, c);
        if (c->stream_rd && event_add(c->stream_rd, NULL) == 0) {
            bufferevent_disable(c->bev, EV_READ);
            return;
        }
    }
    bufferevent_enable(c->bev, EV_READ);
}

static void conn_read_off(conn_t *c)
{
    bufferevent_disable(c->bev, EV_READ);
    if (c->stream_rd)
        event_del(c->stream_rd);
}

/* Frees the socket and every event of the connection (not its memory). After this nothing
 * in the event loop refers to it, so it may outlive the server and the event base. */
static void conn_release_io(conn_t *c)
{
    if (c->watch) {
        event_free(c->watch);
        c->watch = NULL;
    }
    if (c->timer) {
        event_free(c->timer);
        c->timer = NULL;
    }
    if (c->stream_rd) {
        event_free(c->stream_rd);
        c->stream_rd = NULL;
    }
    if (c->bev) {
        bufferevent_free(c->bev); /* closes the socket */
        c->bev = NULL;
    }
}

static void conn_detach(conn_t *c)
{
    http_server_t *srv = c->srv;
    if (!srv)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    idle_unlink(c);
    peer_detach(c);
    if (c->busy)
        srv->nbusy--;
    else
        srv->nconns--;
    c->srv = NULL;
}

static void conn_destroy(conn_t *c)
{
    conn_release_io(c);
    conn_detach(c);
    bigbuf_drop(c);
    if (c->pub.body)
        evbuffer_free(c->pub.body);
    free(c->hbuf);
    free(c->hdrs);
    free(c);
}

/* The client left while the handler holds the request: give back the socket now, keep the
 * request valid until http_respond(), which frees it. */
static void conn_orphan(conn_t *c)
{
    if (c->srv)
        c->srv->stats.orphaned++;
    c->orphaned = true;
    conn_release_io(c);
    conn_detach(c);
}

/* The streamed body is cut (client gone, socket error, idle timeout, malformed body, server
 * freed): orphan the request, then tell the application with on_end(false) unless it already
 * took charge of the end (on_data returned -1). An http_respond() from inside on_end only marks
 * the request for freeing, done here or by the read loop on the stack. */
static void stream_abort(conn_t *c)
{
    http_stream_t st = c->stream;
    bool tell = !c->stream_stopped;
    c->state = ST_HANDLER;
    conn_orphan(c);
    if (!tell)
        return;
    bool nested = c->in_process;
    c->in_process = true;
    st.on_end(&c->pub, false, st.arg);
    c->in_process = nested;
    if (!nested && c->free_pending)
        conn_destroy(c);
}

/* The one way to end a connection: orphan it if the handler has its request (telling a
 * streaming application first), defer the free if conn_process() is on the stack, free it
 * otherwise. */
static void conn_close(conn_t *c)
{
    if (c->state == ST_STREAM) {
        stream_abort(c);
    } else if (c->state == ST_HANDLER) {
        conn_orphan(c);
    } else if (c->in_process) {
        conn_release_io(c);
        conn_detach(c);
        c->free_pending = true;
    } else {
        conn_destroy(c);
    }
}

/* Writes pending output straight to the socket; whatever the kernel does not take is left
 * to the bufferevent (EV_WRITE on), whose write callback reports the drain. */
static int conn_flush(conn_t *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (c->write_armed || evbuffer_get_length(out) == 0)
        return C_OK;
    if (c->tls) { /* only OpenSSL may write to a TLS socket: always through the bufferevent */
        c->write_armed = true;
        bufferevent_enable(c->bev, EV_WRITE);
        return C_OK;
    }
    /* bufferevent_socket keeps the start of its output buffer frozen so that only it drains
     * the buffer; we drain it ourselves the same way it does: unfreeze, write, freeze. */
    evbuffer_unfreeze(out, 1);
    errno = 0;
    int written = evbuffer_write(out, c->fd);
    int write_errno = errno;
    evbuffer_freeze(out, 1);
    if (written < 0 && write_errno != EAGAIN && write_errno != EWOULDBLOCK && write_errno != EINTR)
        return C_ERR;
    if (evbuffer_get_length(out) > 0) {
        c->write_armed = true;
        bufferevent_enable(c->bev, EV_WRITE);
    }
    return C_OK;
}

/* The last response is out. Close, or half-close and drain the client's unread input for a
 * moment so that closing with unread data does not reset the connection under our answer. */
static void conn_finish_close(conn_t *c)
{
    if (c->tls && c->bev) { /* the output is drained: close_notify goes out now */
        SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
        if (ssl && SSL_is_init_finished(ssl))
            SSL_shutdown(ssl);
    }
    if (!c->linger || !c->bev) {
        conn_close(c);
        return;
    }
    c->state = ST_LINGER;
    shutdown(c->fd, SHUT_WR);
    struct evbuffer *in = bufferevent_get_input(c->bev);
    evbuffer_drain(in, evbuffer_get_length(in));
    bufferevent_enable(c->bev, EV_READ);
    timer_arm(c, TK_LINGER);
}

/* Runs after every batch of work on a connection: deferred free, the one write of the
 * batch, and the end of a closing connection. */
static void conn_settle(conn_t *c)
{
    if (c->free_pending) {
        conn_destroy(c);
        return;
    }
    if (!c->bev)
        return; /* orphaned, waiting for http_respond() */
    if (c->io_error || conn_flush(c) != C_OK) {
        conn_close(c);
        return;
    }
    if (c->state == ST_CLOSING) {
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
            conn_finish_close(c);
        else
            timer_arm(c, TK_CLOSE);
    }
}

/* Fires while the handler has the request (or a streamed body is paused) and the socket turns
 * readable: either the client left (EOF or error: orphan the request now and give the socket
 * back) or it sent more bytes, which stay unread until the response (or the resume). */
static void on_watch(evutil_socket_t fd, short what, void *arg)
{
    conn_t *c = arg;
    char ch;
    (void)what;
    ssize_t r = recv(fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r > 0) {
        /* Pipelined bytes: the EOF, if any, is behind them. Stop watching (level-triggered,
         * it would spin); a gone client then shows at write time. */
        event_del(c->watch);
        return;
    }
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    conn_close(c); /* ST_HANDLER: orphaned; ST_STREAM: also on_end(false) */
}

/* The handler kept the request: stop reading, and watch the socket for the client leaving.
 * The watch is added before the bufferevent's read event goes, so libevent's count of
 * readers on the fd never drops to zero and neither step costs an epoll_ctl; http_respond()
 * undoes it in the same order. */
static void conn_wait_handler(conn_t *c)
{
    if (!c->watch)
        c->watch = event_new(c->srv->base, c->fd, EV_READ | EV_PERSIST, on_watch, c);
    if (c->watch)
        event_add(c->watch, NULL);
    conn_read_off(c);
}

/* Hands a complete request to the handler, or a refused one to the reject function. Either
 * may answer at once (http_respond() sees in_process and leaves the rest to the read loop)
 * or later. */
static void conn_dispatch(conn_t *c, int status, const char *reason)
{
    http_server_t *srv = c->srv;
    if (c->timer)
        evtimer_del(c->timer);
    idle_unlink(c);
    c->state = ST_HANDLER;
    c->started_ns = mono_ns();
    req_publish(c);
    if (status) {
        c->keep_alive = false;
        c->rejected = true;
        srv->stats.rejected++;
        if (srv->reject)
            srv->reject(&c->pub, status, reason, srv->arg);
        else
            http_respond(&c->pub, status, "text/plain", reason, strlen(reason), NULL);
    } else {
        srv->stats.requests++;
        srv->handler(&c->pub, srv->arg);
    }
    if (c->state == ST_HANDLER && c->bev)
        conn_wait_handler(c);
}

/* ---------- streaming request bodies ---------- */

/* Is the read loop to parse this connection's input now? */
static bool conn_reading(const conn_t *c)
{
    return c->state == ST_READ ||
           (c->state == ST_STREAM && !c->stream_paused && !c->stream_stopped);
}

/* Pauses or unpauses http_parser, which must not be touched once it reported an error (its
 * http_parser_pause() asserts). */
static void parser_set_paused(conn_t *c, bool paused)
{
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_OK || e == HPE_PAUSED)
        http_parser_pause(&c->parser, paused ? 1 : 0);
}

/* The headers of a streamed request are complete (the parser is paused on them): hand the
 * request to on_start, reading paused, no timer. */
static void stream_begin(conn_t *c)
{
    http_server_t *srv = c->srv;
    if (c->timer)
        evtimer_del(c->timer);
    c->state = ST_STREAM;
    c->stream_paused = true;
    c->started_ns = mono_ns();
    req_publish(c);
    srv->stats.requests++; /* streamed requests count as handed to the application */
    c->stream.on_start(&c->pub, c->stream.arg);
    if (c->state == ST_STREAM && c->stream_paused && c->bev)
        conn_wait_handler(c);
}

/* The whole body was delivered: the request is now with the application as any complete
 * request is (ST_HANDLER), and on_end(true) tells it. */
static void stream_complete(conn_t *c)
{
    if (c->timer)
        evtimer_del(c->timer);
    if (c->stream_rd)
        event_del(c->stream_rd);
    c->state = ST_HANDLER;
    c->stream.on_end(&c->pub, true, c->stream.arg);
    if (c->state == ST_HANDLER && c->bev)
        conn_wait_handler(c);
    else if (c->state == ST_READ && c->bev)
        bufferevent_enable(c->bev, EV_READ); /* answered at once: reading was the big reads' */
}

/* What the read loop makes of one http_parser_execute() on a streamed body. */
static void stream_parsed(conn_t *c, enum http_errno e, bool short_read)
{
    if (c->state != ST_STREAM)
        return; /* answered from inside on_data */
    if (e == HPE_PAUSED) {
        if (c->msg_complete)
            stream_complete(c);
        return; /* else paused by the application: the rest stays in the input buffer */
    }
    if (e == HPE_OK && !short_read)
        return;
    if (c->stream_stopped) {
        /* on_data refused the body: stop reading, wait for the application's answer. */
        if (c->timer)
            evtimer_del(c->timer);
        conn_wait_handler(c);
        return;
    }
    /* Malformed body: on_end(false). Answers to earlier requests of this batch may still be
     * in the output buffer: write them first (best effort, one write), so that a pipelining
     * client still gets them. */
    conn_flush(c);
    conn_close(c);
}

/* NULL (or a missing callback) turns streaming off; every callback is required. */
void http_server_set_stream(http_server_t *srv, const http_stream_t *stream)
{
    if (!srv)
        return;
    if (stream && stream->match && stream->on_start && stream->on_data && stream->on_end)
        srv->stream = *stream;
    else
        memset(&srv->stream, 0, sizeof srv->stream);
}

/* Stops reading: at once from inside on_data (the parser stops after this piece; the rest of
 * the input stays buffered), otherwise before the next read. */
void http_stream_pause(http_request_t *req)
{
    conn_t *c = (conn_t *)req;
    if (!c || c->state != ST_STREAM || c->stream_paused)
        return;
    c->stream_paused = true;
    if (c->stream_stopped)
        return; /* not reading anyway */
    parser_set_paused(c, true);
    if (c->timer)
        evtimer_del(c->timer);
    conn_wait_handler(c);
}

/* Reads again: parses what is already buffered (now, or when the read loop on the stack gets
 * to it), then the socket; the first resume sends an owed "100 Continue". */
void http_stream_resume(http_request_t *req)
{
    conn_t *c = (conn_t *)req;
    if (!c || c->state != ST_STREAM || !c->stream_paused)
        return;
    c->stream_paused = false;
    if (c->stream_stopped)
        return;
    if (c->stream_continue) {
        c->stream_continue = false;
        evbuffer_add(bufferevent_get_output(c->bev), CONTINUE_100, sizeof CONTINUE_100 - 1);
    }
    parser_set_paused(c, false);
    if (!c->wait_drain)
        conn_read_on(c);
    if (c->watch)
        event_del(c->watch);
    timer_arm(c, TK_IDLE);
    if (!c->in_process)
        conn_process(c);
}

int64_t http_content_length(const http_request_t *req)
{
    return req ? ((const conn_t *)req)->content_length : -1;
}

static int errno_status(conn_t *c, enum http_errno e, const char **reason)
{
    if (c->reject_status) {
        *reason = c->reject_reason;
        return c->reject_status;
    }
    if (e == HPE_HEADER_OVERFLOW) {
        *reason = "Request Header Fields Too Large";
        return 431;
    }
    *reason = http_errno_description(e);
    return 400;
}

/* The read loop: feeds buffered input to the parser chunk by chunk (no copy), hands over each
 * complete request, and keeps going through pipelined requests that were answered at once.
 * It stops when input runs out, a request stays with the handler, the connection closes, or
 * the client is not reading its responses (output above OUTPUT_HIGH). A streamed body is fed
 * the same way while it is not paused; only what the parser consumed is drained, so a pause
 * from inside on_data leaves the rest of the chunk for later. */
static void conn_process(conn_t *c)
{
    if (c->in_process)
        return;
    c->in_process = true;
    while (c->bev && conn_reading(c) && !c->free_pending) {
        struct evbuffer *in = bufferevent_get_input(c->bev);
        if (evbuffer_get_length(in) == 0)
            break;
        struct evbuffer *out = bufferevent_get_output(c->bev);
        if (evbuffer_get_length(out) > OUTPUT_HIGH) {
            if (conn_flush(c) != C_OK) {
                c->io_error = true;
                break;
            }
            if (evbuffer_get_length(out) > OUTPUT_HIGH) {
                c->wait_drain = true;
                conn_read_off(c);
                break;
            }
        }
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            break;
        bool streamed = c->state == ST_STREAM;
        c->exec_buf = v.iov_base;
        c->exec_len = v.iov_len;
        size_t n = 0;
        enum http_errno e = HPE_CB_body;
        if (!c->crlf_left || crlf_check(c) == 0) { /* the rest of an owed CRLF comes first */
            n = http_parser_execute(&c->parser, &parser_settings, v.iov_base, v.iov_len);
            e = HTTP_PARSER_ERRNO(&c->parser);
        }
        c->fed += n;
        if (streamed) {
            evbuffer_drain(in, n);
            stream_parsed(c, e, n < v.iov_len);
            continue;
        }
        if (!c->headers_done && e == HPE_OK && c->url_seen && c->parser.http_major == 0 &&
            c->parser.http_minor == 9) {
            refuse(c, 400, "HTTP/0.9 request (no HTTP version)"); /* not held to the deadline */
            e = HPE_CB_url;
        }
        if (!c->headers_done && e == HPE_OK) {
            c->raw_header_bytes += n;
            if (c->raw_header_bytes > c->srv->limits.max_header_bytes + RAW_HEADER_SLACK) {
                refuse(c, 431, "Request Header Fields Too Large");
                e = HPE_CB_header_field;
            }
        }
        evbuffer_drain(in, n);
        if (e == HPE_PAUSED) {
            if (c->streaming)
                stream_begin(c);
            else
                conn_dispatch(c, 0, NULL);
        } else if (e != HPE_OK) {
            const char *reason;
            int status = errno_status(c, e, &reason);
            conn_dispatch(c, status, reason);
        } else if (n < v.iov_len) {
            conn_dispatch(c, 400, "Bad Request");
        }
    }
    c->in_process = false;
    conn_settle(c);
}

/* Body bytes arrived for a streamed request: the client is not idle (and the test hook). */
static void stream_bytes_in(conn_t *c)
{
    size_t buffered = evbuffer_get_length(bufferevent_get_input(c->bev));
    if (buffered > http_test_stream_peak_input)
        http_test_stream_peak_input = buffered;
    if (conn_reading(c))
        timer_arm(c, TK_IDLE);
}

/* New bytes: parse them (a streamed body re-arms its idle timer), or throw them away while
 * lingering (bounded). */
static void on_read(struct bufferevent *bev, void *arg)
{
    conn_t *c = arg;
    if (c->state == ST_LINGER) {
        struct evbuffer *in = bufferevent_get_input(bev);
        c->linger_bytes += evbuffer_get_length(in);
        evbuffer_drain(in, evbuffer_get_length(in));
        if (c->linger_bytes > LINGER_MAX_BYTES)
            conn_close(c);
        return;
    }
    if (c->state == ST_STREAM)
        stream_bytes_in(c);
    conn_process(c);
}

/* Big reads (see the top): one read(2) of up to STREAM_READ bytes of a streamed plain-TCP body
 * into the connection's buffer, lent to the input evbuffer and parsed at once. An event that
 * fires when the connection no longer reads that way (answered, paused, closing) removes
 * itself. EOF or a socket error end the connection as the bufferevent's on_event would. */
static void on_stream_read(evutil_socket_t fd, short what, void *arg)
{
    conn_t *c = arg;
    (void)what;
    if (!big_reads(c)) {
        event_del(c->stream_rd);
        return;
    }
    struct evbuffer *in = bufferevent_get_input(c->bev);
    /* In place: a Content-Length body (the parser counts down what is left of it), into the
     * application's memory when it offers some. */
    char *dst = NULL;
    size_t want = STREAM_READ;
    uint64_t left = c->parser.content_length;
    if (c->stream.buffer && c->content_length >= 0 && left > 0 && left != ULLONG_MAX &&
        evbuffer_get_length(in) == 0) {
        size_t have = 0;
        dst = c->stream.buffer(&c->pub, &have, c->stream.arg);
        if (dst && have > 0) {
            want = have < want ? have : want;
            if (left < want)
                want = (size_t)left;
        } else {
            dst = NULL;
            want = STREAM_READ;
        }
    }
    bigbuf_t *b = dst ? NULL : bigbuf_get(c);
    if ((!dst && (!b || b->lent)) || evbuffer_get_length(in) > 0) {
        /* No buffer (out of memory) or input still unparsed: the bufferevent reads instead. */
        event_del(c->stream_rd);
        bufferevent_enable(c->bev, EV_READ);
        conn_process(c);
        return;
    }
    ssize_t n = read(fd, dst ? dst : b->data, want);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        conn_close(c);
        return;
    }
    /* The input's end is frozen (only the bufferevent adds to it): we add the way it does. */
    evbuffer_unfreeze(in, 0);
    int rc = dst ? evbuffer_add_reference(in, dst, (size_t)n, app_buf_returned, NULL)
                 : evbuffer_add_reference(in, b->data, (size_t)n, bigbuf_returned, b);
    evbuffer_freeze(in, 0);
    if (rc != 0) {
        conn_close(c);
        return;
    }
    if (b)
        b->lent = true;
    stream_bytes_in(c);
    conn_process(c);
}

/* The bufferevent finished a write we could not finish ourselves. */
static void on_write(struct bufferevent *bev, void *arg)
{
    conn_t *c = arg;
    c->write_armed = false;
    bufferevent_disable(bev, EV_WRITE);
    if (c->state == ST_CLOSING) {
        conn_finish_close(c);
    } else if (c->wait_drain) {
        c->wait_drain = false;
        if (conn_reading(c)) {
            conn_read_on(c);
            conn_process(c);
        }
    }
}

/* EOF or error from the socket. A half-closed client still gets the responses already
 * queued; one that leaves while the handler has its request is orphaned. */
static void on_event(struct bufferevent *bev, short what, void *arg)
{
    conn_t *c = arg;
    if (what & BEV_EVENT_CONNECTED)
        return; /* the TLS handshake is done; the request deadline still runs */
    if ((what & BEV_EVENT_EOF) && c->state == ST_READ && c->write_armed &&
        evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
        c->state = ST_CLOSING;
        c->linger = false;
        bufferevent_disable(bev, EV_READ);
        timer_arm(c, TK_CLOSE);
        return;
    }
    conn_close(c);
}

/* The connection's single timer: request deadline, idle keep-alive or streamed body, drain or
 * linger limit, whichever its state armed. Never armed while the handler has the request or
 * a streamed body is paused. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    conn_t *c = arg;
    (void)fd;
    (void)what;
    if (c->srv && (c->state == ST_READ || c->state == ST_STREAM))
        c->srv->stats.timeouts++;
    conn_close(c);
}

static void format_peer(char *out, size_t size, const struct sockaddr *sa)
{
    char ip[INET6_ADDRSTRLEN];
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        snprintf(out, size, "%s:%u", ip, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        snprintf(out, size, "[%s]:%u", ip, ntohs(in6->sin6_port));
    } else {
        snprintf(out, size, "local");
    }
}

/* Everything a connection needs is allocated here, once; requests on it allocate nothing
 * of their own beyond what their bytes need. */
static conn_t *conn_new(http_server_t *srv, evutil_socket_t fd, const struct sockaddr *sa,
                        bool busy)
{
    conn_t *c = calloc(1, sizeof *c);
    if (!c) {
        evutil_closesocket(fd);
        return NULL;
    }
    c->fd = fd;
    c->pub.body = evbuffer_new();
    if (srv->ssl_ctx) {
        SSL *ssl = SSL_new(srv->ssl_ctx);
        c->bev = ssl ? bufferevent_openssl_socket_new(srv->base, fd, ssl,
                                                      BUFFEREVENT_SSL_ACCEPTING,
                                                      BEV_OPT_CLOSE_ON_FREE)
                     : NULL;
        if (!c->bev)
            SSL_free(ssl);
        else
            bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
        c->tls = true;
    } else {
        c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
    }
    c->timer = evtimer_new(srv->base, on_timer, c);
    if (!c->pub.body || !c->bev || !c->timer) {
        if (!c->bev)
            evutil_closesocket(fd);
        conn_destroy(c);
        return NULL;
    }
    c->srv = srv;
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    c->busy = busy;
    if (busy) {
        srv->nbusy++;
    } else {
        srv->nconns++;
        peer_attach(c, sa);
        idle_link(c);
    }

    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->state = ST_READ;
    c->fresh = true;
    req_reset(c);
    format_peer(c->pub.peer, sizeof c->pub.peer, sa);

    if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_setwatermark(c->bev, EV_READ, 0, srv->read_high);
    bufferevent_disable(c->bev, EV_WRITE); /* we write ourselves, see conn_flush() */
    bufferevent_enable(c->bev, EV_READ);
    timer_arm(c, TK_DEADLINE);
    return c;
}

/* ---------- responses ---------- */

static const char *reason_phrase(int status)
{
    const char *s = http_status_str((enum http_status)status);
    return strcmp(s, "<unknown>") == 0 ? "Unknown" : s;
}

/* Frames the whole response into one contiguous reservation of the output buffer, so it
 * leaves in one write together with any other responses of the same batch. */
static void write_response(conn_t *c, int status, const char *ctype, const char *body,
                           size_t blen, const char *extra, bool close)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    bool bodyless = status < 200 || status == 204 || status == 304;
    bool send_body = !bodyless && c->pub.method != HTTP_HEAD && blen > 0;
    char head[160];
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\n", status, reason_phrase(status));
    if (!bodyless)
        n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %zu\r\n", blen);
    const char *conn_hdr = c->busy ? "Retry-After: 1\r\nConnection: close\r\n"
                         : close ? "Connection: close\r\n"
                         : c->echo_keep_alive ? "Connection: keep-alive\r\n" : "";
    size_t ct_len = ctype ? strlen(ctype) : 0;
    size_t ex_len = extra ? strlen(extra) : 0;
    size_t ch_len = strlen(conn_hdr);
    size_t total = (size_t)n + (ctype ? 14 + ct_len + 2 : 0) + ex_len + ch_len + 2 +
                   (send_body ? blen : 0);

    struct evbuffer_iovec v;
    if (evbuffer_reserve_space(out, (ev_ssize_t)total, &v, 1) < 1 || v.iov_len < total) {
        c->io_error = true;
        return;
    }
    char *p = v.iov_base;
    memcpy(p, head, (size_t)n);
    p += n;
    if (ctype) {
        memcpy(p, "Content-Type: ", 14);
        memcpy(p + 14, ctype, ct_len);
        memcpy(p + 14 + ct_len, "\r\n", 2);
        p += 14 + ct_len + 2;
    }
    memcpy(p, extra ? extra : "", ex_len);
    p += ex_len;
    memcpy(p, conn_hdr, ch_len);
    p += ch_len;
    memcpy(p, "\r\n", 2);
    p += 2;
    if (send_body)
        memcpy(p, body, blen);
    v.iov_len = total;
    evbuffer_commit_space(out, &v, 1);
}

/* Finishes the request: writes the response, then either resumes the connection (parses
 * pipelined bytes already buffered, reads again) or closes it after the output drains. On an
 * orphaned request it only frees. An answer while a streamed body is still arriving closes
 * the connection (with linger: the rest of the body is not read). */
void http_respond(http_request_t *req, int status, const char *content_type, const char *body,
                  size_t body_len, const char *extra_headers)
{
    conn_t *c = (conn_t *)req;
    assert(c->state == ST_HANDLER || c->state == ST_STREAM);
    if (c->orphaned) {
        c->state = ST_DONE;
        if (c->in_process)
            c->free_pending = true;
        else
            conn_destroy(c);
        return;
    }
    if (status < 100 || status > 999)
        status = 500;
    if (c->srv && c->srv->observe)
        c->srv->observe(req, status, mono_ns() - c->started_ns, c->srv->observe_arg);
    if (!body)
        body_len = 0;
    bool mid_stream = c->state == ST_STREAM;
    bool close = !c->keep_alive || c->srv->stopping || c->srv->draining || mid_stream;
    write_response(c, status, content_type, body, body_len, extra_headers, close);
    req_reset(c);

    if (close) {
        c->state = ST_CLOSING;
        c->linger = c->rejected || mid_stream ||
                    evbuffer_get_length(bufferevent_get_input(c->bev)) > 0;
        if (mid_stream && c->timer)
            evtimer_del(c->timer);
        conn_read_off(c);
        if (c->watch)
            event_del(c->watch);
    } else {
        c->state = ST_READ;
        idle_link(c);
        http_parser_pause(&c->parser, 0);
        if (!c->in_process) {
            bufferevent_enable(c->bev, EV_READ);
            if (c->watch)
                event_del(c->watch);
        }
        timer_arm(c, TK_IDLE);
    }
    if (!c->in_process)
        conn_process(c);
}

/* ---------- lookups for handlers ---------- */

bool http_request_tls(const http_request_t *req)
{
    return req && ((const conn_t *)req)->tls;
}

const char *http_header(const http_request_t *req, const char *name)
{
    if (!req || !name)
        return NULL;
    return find_header((const conn_t *)req, name);
}

/* Parameter names are compared decoded ("n%61me" is "name"); names longer than any we use
 * never match. */
static bool key_matches(const char *raw, size_t len, const char *name)
{
    char key[256];
    long n = pct_decode(raw, len, key, sizeof key, true);
    return n >= 0 && strlen(name) == (size_t)n && memcmp(key, name, (size_t)n) == 0;
}

/* Walks "a=1&b&c=2" without copying; "b" alone counts as present with an empty value. */
bool http_query_param(const http_request_t *req, const char *name, char *out, size_t size)
{
    if (!req || !req->query || !name || !out || size == 0)
        return false;
    const char *q = req->query;
    for (;;) {
        size_t plen = strcspn(q, "&");
        const char *eq = memchr(q, '=', plen);
        size_t klen = eq ? (size_t)(eq - q) : plen;
        if (plen > 0 && key_matches(q, klen, name)) {
            const char *val = eq ? eq + 1 : q + plen;
            size_t vlen = eq ? plen - klen - 1 : 0;
            long n = pct_decode(val, vlen, out, size - 1, true);
            if (n < 0)
                return false;
            out[n] = '\0';
            return true;
        }
        if (q[plen] == '\0')
            return false;
        q += plen + 1;
    }
}

/* Is s[0..len) well-formed percent-encoding whose decoding holds no NUL? */
static bool pct_valid(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\0')
            return false;
        if (s[i] != '%')
            continue;
        if (i + 2 >= len)
            return false;
        int hi = hexval((unsigned char)s[i + 1]), lo = hexval((unsigned char)s[i + 2]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
            return false;
        i += 2;
    }
    return true;
}

/* A parameter that does not decode would read as absent through http_query_param(), so the
 * application checks the whole query once first: a bad escape is an error, never a silently
 * dropped parameter. */
bool http_query_valid(const http_request_t *req, char *bad, size_t size)
{
    if (!req || !req->query)
        return true;
    for (const char *q = req->query;;) {
        size_t plen = strcspn(q, "&");
        const char *eq = memchr(q, '=', plen);
        size_t klen = eq ? (size_t)(eq - q) : plen;
        if (!pct_valid(q, plen)) {
            if (bad && size > 0) {
                long n = pct_decode(q, klen, bad, size - 1, true);
                if (n < 0) { /* the name itself is bad: show it as sent */
                    n = (long)(klen < size - 1 ? klen : size - 1);
                    memcpy(bad, q, (size_t)n);
                }
                bad[n] = '\0';
            }
            return false;
        }
        if (q[plen] == '\0')
            return true;
        q += plen + 1;
    }
}

/* ---------- listener ---------- */

/* Logs a connection-cap event at most once a second per kind. */
static void cap_log(http_server_t *srv, long *last, const char *what, uint64_t count)
{
    struct timeval now;
    event_base_gettimeofday_cached(srv->base, &now);
    if (now.tv_sec == *last)
        return;
    *last = now.tv_sec;
    hlog("%s (%llu so far)", what, (unsigned long long)count);
}

/* Over a connection cap the client is told so, never reset: a "busy" connection answers 503
 * with Retry-After through the reject function at once, then closes with linger (its request,
 * when it comes, is read and discarded, so the close does not reset the answer away). Busy
 * connections are few (BUSY_MAX); past that the socket is closed at once. */
static void refuse_busy(http_server_t *srv, evutil_socket_t fd, const struct sockaddr *sa,
                        bool per_client)
{
    srv->stats.refused++;
    char what[160];
    if (per_client)
        snprintf(what, sizeof what, "a client is at max_connections_per_client (%d): answering 503",
                 srv->limits.max_connections_per_client);
    else
        snprintf(what, sizeof what, "at max_connections (%d), none idle: answering 503",
                 srv->limits.max_connections);
    cap_log(srv, &srv->last_refuse_log, what, srv->stats.refused);
    if (srv->nbusy >= BUSY_MAX) {
        evutil_closesocket(fd);
        return;
    }
    conn_t *c = conn_new(srv, fd, sa, true);
    if (c)
        conn_dispatch(c, 503, BUSY_REASON);
}

/* The longest-idle keep-alive connection whose last answer has left entirely: one still
 * flushing a response (a slow reader) is not idle yet, and closing it would cut that answer. */
static conn_t *idle_victim(http_server_t *srv)
{
    for (conn_t *c = srv->idle_head; c; c = c->idle_next)
        if (c->bev && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
            return c;
    return NULL;
}

/* A new client within its per-client cap gets a connection: at max_connections the longest
 * idle keep-alive connection (no request begun) is closed to make room; with none idle, and
 * over the per-client cap, the client gets 503 (refuse_busy). */
static void on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    http_server_t *srv = arg;
    (void)lev;
    (void)salen;
    if (srv->accept_paused) {
        srv->accept_paused = false;
        hlog("accepting again after %llu pause(s)", (unsigned long long)srv->stats.accept_pauses);
    }
    if (peer_count(srv, sa) >= srv->limits.max_connections_per_client) {
        refuse_busy(srv, fd, sa, true);
        return;
    }
    conn_t *victim = srv->nconns >= srv->limits.max_connections ? idle_victim(srv) : NULL;
    if (victim) {
        srv->stats.evicted++;
        cap_log(srv, &srv->last_evict_log,
                "at max_connections: closing the longest-idle connection for a new client",
                srv->stats.evicted);
        conn_close(victim);
    }
    if (srv->nconns >= srv->limits.max_connections) {
        refuse_busy(srv, fd, sa, false);
        return;
    }
    if (conn_new(srv, fd, sa, false))
        srv->stats.accepted++;
}

static void on_pause_end(evutil_socket_t fd, short what, void *arg)
{
    http_server_t *srv = arg;
    (void)fd;
    (void)what;
    if (srv->lev && !srv->stopping)
        evconnlistener_enable(srv->lev);
}

/* accept() failing for lack of descriptors or memory leaves the connection queued, so the
 * listener would fire again at once and spin; pause it instead and retry in 100 ms. */
static void on_accept_error(struct evconnlistener *lev, void *arg)
{
    http_server_t *srv = arg;
    int err = EVUTIL_SOCKET_ERROR();
    if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        evconnlistener_disable(lev);
        struct timeval tv = {0, ACCEPT_PAUSE_MS * 1000};
        evtimer_add(srv->pause_timer, &tv);
        srv->stats.accept_pauses++;
        if (!srv->accept_paused) {
            srv->accept_paused = true;
            hlog("accept: %s; pausing the listener for %d ms", strerror(err), ACCEPT_PAUSE_MS);
        }
        return;
    }
    hlog("accept: %s", strerror(err));
}

static struct timeval ms_to_tv(struct event_base *base, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    /* Every connection uses the same few durations: libevent keeps those in O(1) queues. */
    const struct timeval *common = event_base_init_common_timeout(base, &tv);
    return common ? *common : tv;
}

/* Fills in defaults for missing limits and precomputes what every connection shares: the
 * read watermark, the common timeouts and the parser callbacks. */
http_server_t *http_server_new(struct event_base *base, const http_limits_t *limits,
                               http_handler_fn handler, http_reject_fn reject, void *arg)
{
    if (!base || !handler)
        return NULL;
    http_server_t *srv = calloc(1, sizeof *srv);
    if (!srv)
        return NULL;
    http_limits_t d;
    http_limits_defaults(&d);
    srv->limits = d;
    if (limits) {
        if (limits->max_header_bytes > 0) srv->limits.max_header_bytes = limits->max_header_bytes;
        if (limits->max_body_bytes > 0) srv->limits.max_body_bytes = limits->max_body_bytes;
        if (limits->max_connections > 0) srv->limits.max_connections = limits->max_connections;
        if (limits->max_connections_per_client > 0)
            srv->limits.max_connections_per_client = limits->max_connections_per_client;
        if (limits->request_deadline_ms > 0)
            srv->limits.request_deadline_ms = limits->request_deadline_ms;
        if (limits->idle_timeout_ms > 0) srv->limits.idle_timeout_ms = limits->idle_timeout_ms;
    }
    srv->base = base;
    srv->handler = handler;
    srv->reject = reject;
    srv->arg = arg;
    srv->last_refuse_log = -1;
    srv->last_evict_log = -1;
    size_t biggest = srv->limits.max_header_bytes > srv->limits.max_body_bytes
                         ? srv->limits.max_header_bytes : srv->limits.max_body_bytes;
    srv->read_high = biggest + READ_SLACK;
    srv->tv_deadline = ms_to_tv(base, srv->limits.request_deadline_ms);
    srv->tv_idle = ms_to_tv(base, srv->limits.idle_timeout_ms);
    int linger = srv->limits.request_deadline_ms < LINGER_MAX_MS
                     ? srv->limits.request_deadline_ms : LINGER_MAX_MS;
    srv->tv_linger = ms_to_tv(base, linger);
    srv->pause_timer = evtimer_new(base, on_pause_end, srv);
    if (!srv->pause_timer) {
        free(srv);
        return NULL;
    }
    if (!parser_settings.on_message_complete) {
        http_parser_settings_init(&parser_settings);
        parser_settings.on_message_begin = on_message_begin;
        parser_settings.on_url = on_url;
        parser_settings.on_header_field = on_header_field;
        parser_settings.on_header_value = on_header_value;
        parser_settings.on_headers_complete = on_headers_complete;
        parser_settings.on_chunk_header = on_chunk_header;
        parser_settings.on_body = on_body;
        parser_settings.on_message_complete = on_message_complete;
    }
    /* A client gone before its response must cost an EPIPE, not the process. */
    signal(SIGPIPE, SIG_IGN);
    return srv;
}

/* Binds the first address the host resolves to (NULL: any), with our own error callback so
 * that accept failures pause instead of spinning. */
int http_server_listen(http_server_t *srv, const char *host, int port)
{
    if (!srv || srv->lev || srv->stopping || port < 0 || port > 65535)
        return -1;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char service[8];
    snprintf(service, sizeof service, "%d", port);
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        hlog("listen %s:%d: %s", host ? host : "*", port, gai_strerror(rc));
        return -1;
    }
    for (struct addrinfo *ai = res; ai && !srv->lev; ai = ai->ai_next)
        srv->lev = evconnlistener_new_bind(srv->base, on_accept, srv,
                                           LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
                                               LEV_OPT_CLOSE_ON_EXEC,
                                           LISTEN_BACKLOG, ai->ai_addr, (int)ai->ai_addrlen);
    freeaddrinfo(res);
    if (!srv->lev) {
        hlog("listen %s:%d: %s", host ? host : "*", port, strerror(errno));
        return -1;
    }
    evconnlistener_set_error_cb(srv->lev, on_accept_error);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(evconnlistener_get_fd(srv->lev), (struct sockaddr *)&ss, &sl) != 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Keep-alive ends: each connection closes after its next answer ("Connection: close"), so a
 * client or a balancer's pooled connection moves to a new connection at its next request
 * instead of holding one that http_server_stop() later closes while idle, which races with a
 * request the peer sends at that moment (a reset, not an answer). New connections are still
 * accepted and served. Connections that stay idle through the whole drain are closed by the
 * stop: a balancer has taken the instance out of rotation by then (README "Health and
 * metrics"). */
void http_server_drain(http_server_t *srv)
{
    if (srv)
        srv->draining = true;
}

/* No new connections; idle ones close now, busy ones after their current response. */
void http_server_stop(http_server_t *srv)
{
    if (!srv || srv->stopping)
        return;
    srv->stopping = true;
    if (srv->lev) {
        evconnlistener_free(srv->lev);
        srv->lev = NULL;
    }
    evtimer_del(srv->pause_timer);
    conn_t *next;
    for (conn_t *c = srv->conns; c; c = next) {
        next = c->next;
        if (c->state != ST_READ || c->msg_begun || c->in_process ||
            evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
            continue;
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
            conn_close(c);
        } else {
            c->state = ST_CLOSING;
            c->linger = false;
            c->wait_drain = false;
            bufferevent_disable(c->bev, EV_READ);
            if (!c->write_armed && conn_flush(c) != C_OK)
                conn_close(c);
            else
                conn_settle(c);
        }
    }
}

/* Closes everything. Requests still with the handler are orphaned, not freed: their
 * http_respond() frees them later, without the server. */
void http_server_free(http_server_t *srv)
{
    if (!srv)
        return;
    if (srv->lev)
        evconnlistener_free(srv->lev);
    srv->lev = NULL;
    srv->stopping = true;
    while (srv->conns)
        conn_close(srv->conns);
    event_free(srv->pause_timer);
    free(srv->peers);
    free(srv);
}

/* The handshake of every new connection runs within the request deadline armed at accept. */
void http_server_set_tls(http_server_t *srv, struct ssl_ctx_st *ctx)
{
    if (srv)
        srv->ssl_ctx = ctx;
}

int http_server_connections(const http_server_t *srv)
{
    return srv ? srv->nconns + srv->nbusy : 0;
}

void http_server_stats(const http_server_t *srv, http_stats_t *out)
{
    if (srv && out)
        *out = srv->stats;
}

/* For tests only (deliberately not in net/http.h; tests/fuzz declares it): serves an already
 * connected stream socket, for example one end of a socketpair, as if the listener had just
 * accepted it, so a test can drive the front end in-process without a listening port. The
 * server owns fd from then on (it is closed on failure too). */
int http_test_adopt(http_server_t *srv, int fd)
{
    struct sockaddr sa = {.sa_family = AF_UNIX};
    if (!srv || !conn_new(srv, fd, &sa, false))
        return -1;
    srv->stats.accepted++;
    return 0;
}

void http_server_set_observer(http_server_t *srv, http_observe_fn fn, void *arg)
{
    if (!srv)
        return;
    srv->observe = fn;
    srv->observe_arg = arg;
}
