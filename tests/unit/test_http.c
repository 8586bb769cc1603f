/* tests/unit/test_http.c: the HTTP front end (net/http.c) run in-process on 127.0.0.1, port 0.
 * Each test starts its own event_base and server, talks to it through plain blocking client
 * sockets, and runs the loop in 1 ms steps while it waits for an answer, so every wait has a
 * bound. Covers parsing (query, Content-Length and chunked bodies, percent-decoding),
 * keep-alive and pipelining (also with an asynchronous handler), every limit (413, 431,
 * request deadline, idle timeout, max_connections, EMFILE pause), refusals (400, 505),
 * clients leaving before an asynchronous answer, server stop/free with work in flight,
 * streamed request bodies (checksummed pieces, pause/resume and the memory bound, chunked,
 * refusals before and during the body, cuts, idle timeout, 100-continue at resume), the strict
 * framing rules (Host, header names, Content-Length, transfer codings, chunk CRLF, HTTP/0.9),
 * the connection caps (idle eviction, 503 + Retry-After, per client address), and a set of
 * these again over TLS (tls_*: the server with a self-signed certificate, an OpenSSL client
 * on a non-blocking socket that runs the server's loop while it waits). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <fcntl.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "net/http.h"
#include "net/tls.h"

#define WAIT_MS 2000
#define LARGE_BODY (1024 * 1024)

/* ---------- server side: a handler that reports what it saw ---------- */

typedef struct {
    struct event_base *base;
    http_server_t *srv;
    int port;

    bool async;  /* answer from a timer after async_ms */
    int async_ms;
    bool hold;   /* keep the request; the test answers it */
    http_request_t *held[8];
    int nheld;
    int inflight, max_inflight;

    int calls, rejects, last_reject;
    char reject_path[64];
    char method[16], path[256], raw_path[256], query[256], peer[64];
    char body[4096];
    char qp[512];     /* query parameters as the handler decoded them */
    char hdrs[256];   /* a few header lookups */
} world_t;

static world_t W;

/* TLS runs: the server gets the context (srv_start) and cl_open() makes TLS clients. */
static bool use_tls;
static SSL_CTX *server_tls, *client_tls;
static char certdir[64];

typedef enum { ACT_NONE, ACT_RESUME, ACT_ANSWER } stream_act_t;

/* The streaming application: takes PUT/POST /up/..., checksums what on_data sees, and answers
 * with "bytes=<n> sum=<checksum>" (or as a test tells it). */
typedef struct {
    /* what the test asks */
    bool refuse_on_start;   /* answer 404 from inside on_start */
    bool hold_start;        /* do not resume in on_start: the test does */
    uint64_t fail_after;    /* on_data returns -1 once this many bytes arrived (0: never) */
    int fail_answer_ms;     /* ... and a 400 answers it this much later (default 20) */
    size_t pause_every;     /* pause from on_data after each this many bytes ... */
    int resume_ms;          /* ... and resume from a timer this much later */
    bool async_answer;      /* answer on_end(true) from a timer (else from inside on_end) */
    bool answer_in_cut_end; /* answer (free) from inside on_end(false) */
    char *inplace;          /* offered as http_stream_t.buffer (NULL: none) */
    size_t inplace_len;
    int inplace_hits;       /* pieces that arrived in it */
    /* what the application saw */
    int matches, starts, data_calls, ends, ends_ok, ends_cut, pauses, wrong_req;
    uint64_t bytes, sum;
    size_t since_pause, max_piece;
    int64_t declared;
    char path[64];
    bool failed;
    http_request_t *req;    /* the streamed request until answered (orphaned ones too) */
    struct event *ev;       /* the one pending action */
    stream_act_t act;
    int act_status;
} stream_world_t;

static stream_world_t S;
static int want_starts = 1; /* what stream_started() waits for */
static char *large_body;

/* The answer every test expects: "<method> <path>|<body>", or a big body for /large. */
static void answer(http_request_t *req)
{
    if (req->path && strcmp(req->path, "/large") == 0) {
        http_respond(req, 200, "application/octet-stream", large_body, LARGE_BODY, NULL);
        return;
    }
    char out[8192];
    size_t blen = evbuffer_get_length(req->body);
    int n = snprintf(out, sizeof out, "%s %s|", req->method_name, req->path ? req->path : "-");
    if (blen > sizeof out - (size_t)n - 1)
        blen = sizeof out - (size_t)n - 1;
    evbuffer_copyout(req->body, out + n, blen);
    http_respond(req, 200, "text/plain", out, (size_t)n + blen, "X-Answer: yes\r\n");
}

static void qp_add(http_request_t *req, const char *name)
{
    char v[128];
    size_t len = strlen(W.qp);
    if (http_query_param(req, name, v, sizeof v))
        snprintf(W.qp + len, sizeof W.qp - len, "%s=[%s];", name, v);
    else
        snprintf(W.qp + len, sizeof W.qp - len, "%s=absent;", name);
}

static void on_async(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    void **pair = arg;
    http_request_t *req = pair[0];
    event_free(pair[1]);
    free(pair);
    W.inflight--;
    /* Answering must not depend on a stale errno. Regression: the direct write hit the
     * bufferevent's frozen output buffer and failed every time; only a leftover EAGAIN from
     * an earlier read made it fall back to a delayed write instead of closing. */
    errno = 0;
    answer(req);
}

static void handler(http_request_t *req, void *arg)
{
    world_t *w = arg;
    w->calls++;
    snprintf(w->method, sizeof w->method, "%s", req->method_name);
    snprintf(w->path, sizeof w->path, "%s", req->path);
    snprintf(w->raw_path, sizeof w->raw_path, "%s", req->raw_path);
    snprintf(w->query, sizeof w->query, "%s", req->query ? req->query : "(none)");
    snprintf(w->peer, sizeof w->peer, "%s", req->peer);
    size_t blen = evbuffer_get_length(req->body);
    if (blen >= sizeof w->body)
        blen = sizeof w->body - 1;
    evbuffer_copyout(req->body, w->body, blen);
    w->body[blen] = '\0';
    w->qp[0] = '\0';
    qp_add(req, "name");
    qp_add(req, "empty");
    qp_add(req, "flag");
    qp_add(req, "name2");
    qp_add(req, "q");
    qp_add(req, "missing");
    const char *h1 = http_header(req, "x-test"), *h2 = http_header(req, "HOST");
    snprintf(w->hdrs, sizeof w->hdrs, "x-test=%s host=%s", h1 ? h1 : "-", h2 ? h2 : "-");

    if (w->hold) {
        w->held[w->nheld++] = req;
        return;
    }
    if (w->async) {
        void **pair = malloc(2 * sizeof *pair);
        pair[0] = req;
        pair[1] = evtimer_new(w->base, on_async, pair);
        struct timeval tv = {0, w->async_ms * 1000};
        evtimer_add(pair[1], &tv);
        if (++w->inflight > w->max_inflight)
            w->max_inflight = w->inflight;
        return;
    }
    answer(req);
}

static void reject(http_request_t *req, int status, const char *reason, void *arg)
{
    world_t *w = arg;
    w->rejects++;
    w->last_reject = status;
    snprintf(w->reject_path, sizeof w->reject_path, "%s", req->path ? req->path : "(null)");
    http_respond(req, status, "text/plain", reason, strlen(reason), NULL);
}

static http_limits_t limits(void)
{
    http_limits_t l;
    http_limits_defaults(&l);
    return l;
}

static void srv_start(const http_limits_t *l)
{
    W.base = event_base_new();
    assert_non_null(W.base);
    W.srv = http_server_new(W.base, l, handler, reject, &W);
    assert_non_null(W.srv);
    if (use_tls)
        http_server_set_tls(W.srv, server_tls);
    W.port = http_server_listen(W.srv, "127.0.0.1", 0);
    assert_true(W.port > 0);
}

static int setup(void **state)
{
    (void)state;
    memset(&W, 0, sizeof W);
    W.async_ms = 20;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (S.ev)
        event_free(S.ev);
    S.ev = NULL;
    if (W.srv)
        http_server_free(W.srv);
    if (S.req) /* orphaned by now: answering frees it */
        http_respond(S.req, 500, NULL, NULL, 0, NULL);
    for (int i = 0; i < W.nheld; i++)
        if (W.held[i])
            http_respond(W.held[i], 500, NULL, NULL, 0, NULL);
    if (W.base)
        event_base_free(W.base);
    memset(&W, 0, sizeof W);
    memset(&S, 0, sizeof S);
    want_starts = 1;
    use_tls = false;
    return 0;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Runs the server's loop for about ms milliseconds (returns early never; waits block). */
static void pump(int ms)
{
    if (!W.base)
        return;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_base_loopexit(W.base, &tv);
    event_base_dispatch(W.base);
}

/* ---------- client side ---------- */

typedef struct {
    int fd;
    SSL *ssl;     /* a TLS client (use_tls) */
    char *buf;
    size_t len, cap;
    bool eof;
} client_t;

typedef struct {
    int status;
    char head[4096];
    char *body;
    size_t body_len;
} resp_t;

/* A TLS client on a non-blocking socket: the handshake, like every read and write, runs the
 * server's loop while it waits. */
static void cl_tls_connect(client_t *cl)
{
    fcntl(cl->fd, F_SETFL, fcntl(cl->fd, F_GETFL) | O_NONBLOCK);
    cl->ssl = SSL_new(client_tls);
    assert_non_null(cl->ssl);
    SSL_set_fd(cl->ssl, cl->fd);
    long deadline = now_ms() + WAIT_MS;
    for (;;) {
        int r = SSL_connect(cl->ssl);
        if (r == 1)
            return;
        int e = SSL_get_error(cl->ssl, r);
        assert_true(e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE);
        assert_true(now_ms() < deadline);
        pump(1);
    }
}

static client_t *cl_open(void)
{
    client_t *cl = calloc(1, sizeof *cl);
    cl->cap = 4 * LARGE_BODY;
    cl->buf = malloc(cl->cap);
    cl->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(cl->fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)W.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(cl->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    if (use_tls)
        cl_tls_connect(cl);
    return cl;
}

static void cl_close(client_t *cl)
{
    if (!cl)
        return;
    if (cl->ssl)
        SSL_free(cl->ssl);
    if (cl->fd >= 0)
        close(cl->fd);
    free(cl->buf);
    free(cl);
}

static void cl_send(client_t *cl, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n;
        if (cl->ssl) {
            int chunk = len > 65536 ? 65536 : (int)len;
            int r = SSL_write(cl->ssl, data, chunk);
            if (r <= 0) {
                int e = SSL_get_error(cl->ssl, r);
                assert_true(e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE);
                pump(1);
                continue;
            }
            n = r;
        } else {
            n = send(cl->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                pump(1);
                continue;
            }
        }
        assert_true(n > 0);
        data += n;
        len -= (size_t)n;
    }
}

static void cl_sends(client_t *cl, const char *s)
{
    cl_send(cl, s, strlen(s));
}

static void cl_recv(client_t *cl)
{
    while (cl->ssl && !cl->eof && cl->len < cl->cap) {
        int r = SSL_read(cl->ssl, cl->buf + cl->len, (int)(cl->cap - cl->len));
        if (r > 0) {
            cl->len += (size_t)r;
            continue;
        }
        int e = SSL_get_error(cl->ssl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
            cl->eof = true; /* close_notify, EOF or a reset */
        ERR_clear_error();
        return;
    }
    while (!cl->eof && cl->len < cl->cap) {
        ssize_t n = recv(cl->fd, cl->buf + cl->len, cl->cap - cl->len, MSG_DONTWAIT);
        if (n > 0) {
            cl->len += (size_t)n;
        } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            cl->eof = true;
        } else {
            break;
        }
    }
}

/* Takes one complete response off the client's buffer, if there is one. */
static bool parse_response(client_t *cl, resp_t *r, bool head_request)
{
    char *end = memmem(cl->buf, cl->len, "\r\n\r\n", 4);
    if (!end)
        return false;
    size_t hlen = (size_t)(end - cl->buf) + 4;
    if (hlen >= sizeof r->head)
        return false;
    memcpy(r->head, cl->buf, hlen);
    r->head[hlen] = '\0';
    r->status = 0;
    sscanf(r->head, "HTTP/1.1 %d", &r->status);
    size_t clen = 0;
    const char *cl_hdr = strcasestr(r->head, "\r\nContent-Length:");
    if (cl_hdr && !head_request)
        clen = strtoul(cl_hdr + 17, NULL, 10);
    if (cl->len < hlen + clen)
        return false;
    r->body = malloc(clen + 1);
    memcpy(r->body, cl->buf + hlen, clen);
    r->body[clen] = '\0';
    r->body_len = clen;
    memmove(cl->buf, cl->buf + hlen + clen, cl->len - hlen - clen);
    cl->len -= hlen + clen;
    return true;
}

static int read_response_ex(client_t *cl, resp_t *r, bool head_request)
{
    memset(r, 0, sizeof *r);
    long deadline = now_ms() + WAIT_MS;
    for (;;) {
        cl_recv(cl);
        if (parse_response(cl, r, head_request))
            return 0;
        if (cl->eof || now_ms() > deadline)
            return -1;
        pump(1);
    }
}

static int read_response(client_t *cl, resp_t *r)
{
    return read_response_ex(cl, r, false);
}

static void resp_free(resp_t *r)
{
    free(r->body);
    r->body = NULL;
}

/* Waits for the server to close; returns the ms it took, or -1 if it did not. */
static long wait_closed(client_t *cl, int timeout_ms)
{
    long t0 = now_ms();
    while (now_ms() - t0 <= timeout_ms) {
        cl_recv(cl);
        cl->len = 0;
        if (cl->eof)
            return now_ms() - t0;
        pump(1);
    }
    return -1;
}

/* Sends one request and expects one 200 with the given body. */
static void roundtrip(client_t *cl, const char *request, const char *expect_body)
{
    resp_t r;
    cl_sends(cl, request);
    assert_int_equal(read_response(cl, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, expect_body);
    resp_free(&r);
}

static void pump_until(bool (*cond)(void))
{
    long deadline = now_ms() + WAIT_MS;
    while (!cond() && now_ms() < deadline)
        pump(1);
    assert_true(cond());
}

static bool one_call(void) { return W.calls >= 1; }
static bool no_connections(void) { return http_server_connections(W.srv) == 0; }
static bool four_or_fewer(void) { return http_server_connections(W.srv) <= 4; }

/* ---------- tests ---------- */

static void test_get_query_and_headers(void **state)
{
    (void)state;
    srv_start(NULL);
    client_t *cl = cl_open();
    resp_t r;
    cl_sends(cl, "GET /items/a%20b?name=caf%C3%A9+au+lait&empty=&flag&n%61me2=x%3Dy HTTP/1.1\r\n"
                 "Host: t\r\nX-Test: Hello\r\n\r\n");
    assert_int_equal(read_response(cl, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "GET /items/a b|");
    assert_non_null(strstr(r.head, "Content-Length: 15\r\n"));
    assert_non_null(strstr(r.head, "Content-Type: text/plain\r\n"));
    assert_non_null(strstr(r.head, "X-Answer: yes\r\n"));
    assert_null(strcasestr(r.head, "Connection:"));
    resp_free(&r);

    assert_string_equal(W.method, "GET");
    assert_string_equal(W.path, "/items/a b");
    assert_string_equal(W.raw_path, "/items/a%20b");
    assert_string_equal(W.query, "name=caf%C3%A9+au+lait&empty=&flag&n%61me2=x%3Dy");
    assert_string_equal(W.qp, "name=[caf\xC3\xA9 au lait];empty=[];flag=[];name2=[x=y];"
                              "q=absent;missing=absent;");
    assert_string_equal(W.hdrs, "x-test=Hello host=t");
    assert_true(strncmp(W.peer, "127.0.0.1:", 10) == 0);

    /* A query parameter that does not fit the caller's buffer is refused, not cut. */
    char req[512];
    int n = snprintf(req, sizeof req, "GET /q?name=");
    memset(req + n, 'v', 200);
    snprintf(req + n + 200, sizeof req - (size_t)n - 200, "&q=ok HTTP/1.1\r\nHost: t\r\n\r\n");
    cl_sends(cl, req);
    assert_int_equal(read_response(cl, &r), 0);
    resp_free(&r);
    assert_non_null(strstr(W.qp, "name=absent;"));
    assert_non_null(strstr(W.qp, "q=[ok];"));
    cl_close(cl);
}

static void test_post_content_length(void **state)
{
    (void)state;
    srv_start(NULL);
    client_t *cl = cl_open();
    resp_t r;
    cl_sends(cl, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                 "Content-Length: 13\r\n\r\n{\"a\":");
    pump(20);
    assert_int_equal(W.calls, 0); /* body incomplete: the handler waits */
    cl_sends(cl, "\"hello\"}");
    assert_int_equal(read_response(cl, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "POST /echo|{\"a\":\"hello\"}");
    resp_free(&r);
    assert_string_equal(W.body, "{\"a\":\"hello\"}");
    cl_close(cl);
}

static void test_chunked_body(void **state)
{
    (void)state;
    srv_start(NULL);
    client_t *cl = cl_open();
    roundtrip(cl, "POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
              "POST /c|hello world");
    /* Trailers are accepted (and ignored); the connection stays usable. */
    roundtrip(cl, "PUT /t HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "3\r\nabc\r\n0\r\nX-Checksum: 1\r\n\r\n",
              "PUT /t|abc");
    assert_string_equal(W.hdrs, "x-test=- host=t");
    cl_close(cl);
}

static void pipelined(bool async)
{
    W.async = async;
    srv_start(NULL);
    client_t *cl = cl_open();
    cl_sends(cl, "GET /one HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /two HTTP/1.1\r\nHost: t\r\n\r\n"
                 "POST /three HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc");
    const char *want[] = {"GET /one|", "GET /two|", "POST /three|abc"};
    for (int i = 0; i < 3; i++) {
        resp_t r;
        assert_int_equal(read_response(cl, &r), 0);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, want[i]);
        resp_free(&r);
    }
    assert_int_equal(W.calls, 3);
    if (async)
        assert_int_equal(W.max_inflight, 1); /* one request in flight per connection */
    http_stats_t st;
    http_server_stats(W.srv, &st);
    assert_int_equal(st.accepted, 1);
    assert_int_equal(st.requests, 3);
    cl_close(cl);
}

static void test_pipelined(void **state)
{
    (void)state;
    pipelined(false);
}

static void test_pipelined_async(void **state)
{
    (void)state;
    pipelined(true);
}

static void test_keepalive_reuse(void **state)
{
    (void)state;
    srv_start(NULL);
    client_t *cl = cl_open();
    for (int i = 0; i < 5; i++)
        roundtrip(cl, "GET /again HTTP/1.1\r\nHost: t\r\n\r\n", "GET /again|");
    assert_int_equal(http_server_connections(W.srv), 1);
    http_stats_t st;
    http_server_stats(W.srv, &st);
    assert_int_equal(st.accepted, 1);
    assert_int_equal(st.requests, 5);
    cl_close(cl);
    pump_until(no_connections);
}

static void test_connection_close(void **state)
{
    (void)state;
    srv_start(NULL);
    resp_t r;

    client_t *cl = cl_open();
    cl_sends(cl, "GET /bye HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_int_equal(read_response(cl, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.head, "Connection: close\r\n"));
    resp_free(&r);
    assert_true(wait_closed(cl, WAIT_MS) >= 0);
    cl_close(cl);

    /* HTTP/1.0 closes by default ... */
    cl = cl_open();
    cl_sends(cl, "GET /old HTTP/1.0\r\n\r\n");
    assert_int_equal(read_response(cl, &r), 0);
    assert_non_null(strstr(r.head, "Connection: close\r\n"));
    resp_free(&r);
    assert_true(wait_closed(cl, WAIT_MS) >= 0);
    cl_close(cl);

    /* ... and keeps the connection only when asked, saying so in the response. */
    cl = cl_open();
    for (int i = 0; i < 2; i++) {
        cl_sends(cl, "GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert_int_equal(read_response(cl, &r), 0);
        assert_non_null(strstr(r.head, "Connection: keep-alive\r\n"));
        resp_free(&r);
    }
    assert_int_equal(http_server_connections(W.srv), 1);
    cl_close(cl);
}

static void test_async_response(void **state)
{
    (void)state;
    W.async = true;
    W.async_ms = 60;
    srv_start(NULL);
    client_t *cl = cl_open();
    long t0 = now_ms();
    roundtrip(cl, "GET /later HTTP/1.1\r\nHost: t\r\n\r\n", "GET /later|");
    assert_true(now_ms() - t0 >= 50);
    /* The connection reads again after the asynchronous answer. */
    roundtrip(cl, "GET /later2 HTTP/1.1\r\nHost: t\r\n\r\n", "GET /later2|");
    cl_close(cl);
}

static void test_disconnect_before_async_answer(void **state)
{
    (void)state;
    W.hold = true;
    srv_start(NULL);
    client_t *cl = cl_open();
    cl_sends(cl, "POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nbody");
    pump_until(one_call);
    assert_int_equal(http_server_connections(W.srv), 1);
    cl_close(cl);
    pump_until(no_connections); /* orphaned: the socket is gone, the request is not */
    http_stats_t st;
    http_server_stats(W.srv, &st);
    assert_int_equal(st.orphaned, 1);
    /* The request is still readable, and answering it only frees it. */
    assert_string_equal(W.held[0]->path, "/slow");
    assert_int_equal(evbuffer_get_length(W.held[0]->body), 4);
    answer(W.held[0]);
    W.held[0] = NULL;
    W.nheld = 0;
    pump(10);
}

static bool two_calls(void) { return W.calls >= 2; }

static void test_pipelined_while_handler_holds(void **state)
{
    (void)state;
    W.hold = true;
    srv_start(NULL);
    client_t *cl = cl_open();
    cl_sends(cl, "GET /first HTTP/1.1\r\nHost: t\r\n\r\n");
    pump_until(one_call);
    /* The next request arrives while the first is with the handler: it waits, unread,
     * and the client-gone watch does not spin on it. */
    cl_sends(cl, "GET /second HTTP/1.1\r\nHost: t\r\n\r\n");
    long cpu0 = clock();
    pump(100);
    long cpu = (clock() - cpu0) * 1000 / CLOCKS_PER_SEC;
    assert_true(cpu < 50);
    assert_int_equal(W.calls, 1);
    answer(W.held[0]);
    W.held[0] = NULL;
    resp_t r;
    assert_int_equal(read_response(cl, &r), 0);
    assert_string_equal(r.body, "GET /first|");
    resp_free(&r);
    pump_until(two_calls);
    answer(W.held[1]);
    W.held[1] = NULL;
    W.nheld = 0;
    assert_int_equal(read_response(cl, &r), 0);
    assert_string_equal(r.body, "GET /second|");
    resp_free(&r);
    assert_int_equal(http_server_connections(W.srv), 1);
    cl_close(cl);
}

static void test_free_with_request_in_flight(void **state)
{
    (void)state;
    W.hold = true;
    srv_start(NULL);
    client_t *cl = cl_open();
    client_t *idle = cl_open();
    cl_sends(cl, "GET /inflight HTTP/1.1\r\nHost: t\r\n\r\n");
    pump_until(one_call);
    http_server_free(W.srv);
    W.srv = NULL;
    assert_true(wait_closed(cl, 500) >= 0);
    assert_true(wait_closed(idle, 500) >= 0);
    /* The handler answers after the server is gone: the request is freed, nothing written. */
    answer(W.held[0]);
    W.held[0] = NULL;
    W.nheld = 0;
    cl_close(cl);
    cl_close(idle);
}

static void expect_refusal(client_t *cl, int status)
{
    resp_t r;
    assert_int_equal(read_response(cl, &r), 0);
    assert_int_equal(r.status, status);
    assert_non_null(strstr(r.head, "Connection: close\r\n"));
    resp_free(&r);
    assert_true(wait_closed(cl, WAIT_MS) >= 0);
    assert_int_equal(W.last_reject, status);
}

static void test_413_content_length(void **state)
{
    (void)state;
    http_limits_t l = limits();
    l.max_body_bytes = 1024;
    srv_start(&l);
    /* Headers only: the refusal comes without the server waiting for the body. */
    client_t *cl = cl_open();
    cl_sends(cl, "POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n");
    expect_refusal(cl, 413);
    assert_string_equal(W.reject_path, "/big");
    cl_close(cl);

    /* With Expect: 100-continue the client gets the 413 instead of a "100 Continue". */
    cl = cl_open();
    cl_sends(cl, "PUT /big HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                 "Content-Length: 5000\r\n\r\n");
    expect_refusal(cl, 413);
    cl_close(cl);

    /* A client that sends the body anyway still reads the 413 (lingering close). */
    cl = cl_open();
    static char big[8192];
    memset(big, 'x', sizeof big);
    cl_sends(cl, "POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 8192\r\n\r\n");
    cl_send(cl, big, sizeof big);
    expect_refusal(cl, 413);
    cl_close(cl);

    /* Exactly at the limit is fine. */
    cl = cl_open();
    cl_sends(cl, "POST /edge HTTP/1.1\r\nHost: t\r\nContent-Length: 1024\r\n\r\n");
    cl_send(cl, big, 1024);
    resp_t r;
    assert_int_equal(read_response(cl, &r), 0);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    assert_int_equal(W.calls, 1);
    assert_int_equal(W.rejects, 3);
    cl_close(cl);
}

static void test_413_chunked(void **state)
{
    (void)state;
    http_limits_t l = limits();
    l.max_body_bytes = 1024;
    srv_start(&l);
    static char kb[1024];
    memset(kb, 'y', sizeof kb);

    client_t *cl = cl_open();
    cl_sends(cl, "POST /chunks HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    cl_sends(cl, "400\r\n");
    cl_send(cl, kb, sizeof kb);
    cl_sends(cl, "\r\n1\r\nz\r\n0\r\n\r\n");
    expect_refusal(cl, 413);
    cl_close(cl);

    /* One chunk announced bigger than the limit is refused before its data. */
    cl = cl_open();
    cl_sends(cl, "POST /chunks HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "100000\r\n");
    expect_refusal(cl, 413);
    cl_close(cl);
    assert_int_equal(W.calls, 0);
}

static void test_431_headers(void **state)
{
    (void)state;
    http_limits_t l = limits();
    l.max_header_bytes = 2048;
    srv_start(&l);
    char req[8192];

    client_t *cl = cl_open();
    int n = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: t\r\nX-Big: ");
    memset(req + n, 'a', 4000);
    memcpy(req + n + 4000, "\r\n\r\n", 5);
    cl_sends(cl, req);
    expect_refusal(cl, 431);
    cl_close(cl);

    /* A long request line counts too; so do many small headers. */
    cl = cl_open();
    n = snprintf(req, sizeof req, "GET /");
    memset(req + n, 'p', 3000);
    snprintf(req + n + 3000, sizeof req - (size_t)n - 3000, " HTTP/1.1\r\nHost: t\r\n\r\n");
    cl_sends(cl, req);
    expect_refusal(cl, 431);
    cl_close(cl);

    cl = cl_open();
    cl_sends(cl, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 500; i++)
        cl_sends(cl, "A: b\r\n");
    cl_sends(cl, "\r\n");
    expect_refusal(cl, 431);
    cl_close(cl);
    assert_int_equal(W.calls, 0);
}

static void test_400_and_505(void **state)
{
    (void)state;
    srv_start(NULL);
    client_t *cl = cl_open();
    cl_sends(cl, "\x01\x02 garbage\r\n\r\n");
    expect_refusal(cl, 400);
    cl_close(cl);

    /* Content-Length with chunked is a smuggling vector: refused. */
    cl = cl_open();
    cl_sends(cl, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    expect_refusal(cl, 400);
    cl_close(cl);

    cl = cl_open();
    cl_sends(cl, "GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n");
    expect_refusal(cl, 400);
    cl_close(cl);

    cl = cl_open();
    cl_sends(cl, "GET / HTTP/2.0\r\nHost: t\r\n\r\n");
    expect_refusal(cl, 505);
    cl_close(cl);
    assert_int_equal(W.calls, 0);
    http_stats_t st;
    http_server_stats(W.srv, &st);
    assert_int_equal(st.rejected, 4);
}

static void test_request_deadline(void **state)
{
    (void)state;
    http_limits_t l = limits();
    l.request_deadline_ms = 200;
    l.idle_timeout_ms = 5000;
    srv_start(&l);

    /* A fresh connection trickling one byte every 40 ms: the deadline is not reset. */
    client_t *cl = cl_open();
    long t0 = now_ms();
    cl_sends(cl, "GET / HTTP/1.1\r\nHo");
    long closed_at = -1;
    while (now_ms() - t0 < 1500) {
        pump(40);
        cl_recv(cl);
        if (cl->eof) {
            closed_at = now_ms() - t0;
            break;
        }
        send(cl->fd, "s", 1, MSG_NOSIGNAL);
    }
    assert_true(closed_at >= 150 && closed_at < 1000);
    assert_int_equal(W.calls, 0);
    cl_close(cl);

    /* On a keep-alive connection the deadline starts with the next request's first byte. */
    cl = cl_open();
    roundtrip(cl, "GET /first HTTP/1.1\r\nHost: t\r\n\r\n", "GET /first|");
    pump(300); /* idle longer than the deadline: still open */
    cl_recv(cl);
    assert_false(cl->eof);
    t0 = now_ms();
    cl_sends(cl, "POST /second HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n12345");
    long took = wait_closed(cl, 1500);
    assert_true(took >= 150 && took < 1000);
    assert_int_equal(W.calls, 1);
    http_stats_t st;
    http_server_stats(W.srv, &st);
    assert_int_equal(st.timeouts, 2);
    cl_close(cl);
}

static void test_deadline_not_applied_to_handler(void **state)
{
    (void)state;
    http_limits_t l = limits();
    l.request_deadline_ms = 100;
    l.idle_timeout_ms = 100;
    W.async = true;
    W.async_ms = 300;
    srv_start(&l);
    client_t *cl = cl_open();
    roundtrip(cl, "GET /slowhandler HTTP/1.1\r\nHost: t\r\n\r\n", "GET /slowhandler|");
    cl_close(cl);
}

static void test_idle_timeout(void **state)
{
    (void)state;
    http_limits_t l = limits();
    l.idle_timeout_ms = 200;
    srv_start(&l);
    client_t *cl = cl_open();
    roundtrip(cl, "GET / HTTP/1.1\r\nHost: t\r\n\r\n", "GET /|");
    long took = wait_closed(cl, 1500);
    assert_true(took >= 150 && took < 1000);
    assert_int_equal(http_server_connections(W.srv), 0);
    cl_close(cl);
}

/* Reads one response on a connection the server answers and closes: status, the head, and
 * whether the close came (a FIN after the answer, not a reset before it). */
static void expect_busy(client_t *cl)
{
    resp_t r;
    assert_int_equal(read_response(cl, &r), 0);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.head, "\r\nRetry-After: 1\r\n"));
    assert_non_null(strstr(r.head, "Connection: close\r\n"));
    resp_free(&r);
    assert_true(wait_closed(cl, WAIT_MS) >= 0);
}

/* At max_connections with idle keep-alive connections held, a new client is served: the
 * longest-idle one is closed to make room. With every connection busy, the new client gets
 * 503 + Retry-After (also after it sent its request: no reset), and is served once one frees. */
static void test_max_connections(void **state)
{
    (void)state;
    http_limits_t l = limits();
    l.max_connections = 4;
    srv_start(&l);
    client_t *idle[4];
    for (int i = 0; i < 4; i++) {
        idle[i] = cl_open();
        roundtrip(idle[i], "GET /i HTTP/1.1\r\nHost: t\r\n\r\n", "GET /i|");
        pump(2);
    }
    /* idle[1] is used again: idle[0] is now the longest idle, then idle[2]. */
    roundtrip(idle[0], "GET /again HTTP/1.1\r\nHost: t\r\n\r\n", "GET /again|");
    roundtrip(idle[1], "GET /again HTTP/1.1\r\nHost: t\r\n\r\n", "GET /again|");
    client_t *fifth = cl_open();
    roundtrip(fifth, "GET /fifth HTTP/1.1\r\nHost: t\r\n\r\n", "GET /fifth|");
    assert_true(wait_closed(idle[2], WAIT_MS) >= 0); /* the longest idle went */
    http_stats_t st;
    http_server_stats(W.srv, &st);
    assert_int_equal(st.evicted, 1);
    assert_int_equal(st.refused, 0);
    assert_int_equal(http_server_connections(W.srv), 4);
    roundtrip(idle[0], "GET /still HTTP/1.1\r\nHost: t\r\n\r\n", "GET /still|");
    roundtrip(idle[1], "GET /still HTTP/1.1\r\nHost: t\r\n\r\n", "GET /still|");
    roundtrip(idle[3], "GET /still HTTP/1.1\r\nHost: t\r\n\r\n", "GET /still|");
    cl_close(idle[2]);

    /* Now all four busy: requests the handler holds, or half-sent. */
    W.hold = true;
    cl_sends(idle[0], "GET /held0 HTTP/1.1\r\nHost: t\r\n\r\n");
    cl_sends(idle[1], "GET /held1 HTTP/1.1\r\nHost: t\r\n\r\n");
    cl_sends(idle[3], "POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n12");
    cl_sends(fifth, "GET /held3 HTTP/1.1\r\nHost: t\r\n\r\n");
    while (W.nheld < 3)
        pump(1);
    client_t *sixth = cl_open();
    cl_sends(sixth, "GET /sixth HTTP/1.1\r\nHost: t\r\n\r\n");
    expect_busy(sixth);
    cl_close(sixth);
    client_t *seventh = cl_open(); /* says nothing: answered all the same */
    expect_busy(seventh);
    cl_close(seventh);
    http_server_stats(W.srv, &st);
    assert_int_equal(st.refused, 2);
    assert_int_equal(st.evicted, 1);
    assert_int_equal(W.last_reject, 503);

    /* One frees up (answered, then closed by its client): a new client is served again. */
    W.hold = false;
    http_respond(W.held[0], 200, "text/plain", "ok", 2, NULL);
    W.held[0] = NULL;
    cl_close(idle[0]);
    pump_until(four_or_fewer);
    client_t *eighth = cl_open();
    roundtrip(eighth, "GET /eighth HTTP/1.1\r\nHost: t\r\n\r\n", "GET /eighth|");
    cl_close(eighth);
    cl_close(idle[1]);
    cl_close(idle[3]);
    cl_close(fifth);
}

static bool two_or_fewer(void) { return http_server_connections(W.srv) <= 2; }

/* A client address past max_connections_per_client gets 503 + Retry-After while the server
 * has room; its connections closing lets it in again. */
static void test_max_connections_per_client(void **state)
{
    (void)state;
    http_limits_t l = limits();
    l.max_connections_per_client = 2;
    srv_start(&l);
    client_t *a = cl_open(), *b = cl_open();
    roundtrip(a, "GET /a HTTP/1.1\r\nHost: t\r\n\r\n", "GET /a|");
    roundtrip(b, "GET /b HTTP/1.1\r\nHost: t\r\n\r\n", "GET /b|");
    client_t *c = cl_open();
    cl_sends(c, "GET /c HTTP/1.1\r\nHost: t\r\n\r\n");
    expect_busy(c);
    cl_close(c);
    http_stats_t st;
    http_server_stats(W.srv, &st);
    assert_int_equal(st.refused, 1);
    assert_int_equal(st.evicted, 0); /* the per-client cap never closes another's connection */
    roundtrip(a, "GET /a2 HTTP/1.1\r\nHost: t\r\n\r\n", "GET /a2|");
    cl_close(b);
    pump_until(two_or_fewer);
    pump(20);
    client_t *d = cl_open();
    roundtrip(d, "GET /d HTTP/1.1\r\nHost: t\r\n\r\n", "GET /d|");
    cl_close(a);
    cl_close(d);
}

/* One request on a fresh connection, refused with `status` and closed quickly (well before
 * the request deadline); the handler never sees it. */
static void refused_alone(const char *request, size_t len, int status)
{
    int calls = W.calls;
    client_t *cl = cl_open();
    long t0 = now_ms();
    cl_send(cl, request, len);
    expect_refusal(cl, status);
    assert_true(now_ms() - t0 < 1000);
    assert_int_equal(W.calls, calls);
    cl_close(cl);
}
#define REFUSED(lit, status) refused_alone(lit, sizeof lit - 1, status)

/* The strict framing rules (issue 9): each request below was once served. */
static void test_strict_framing(void **state)
{
    (void)state;
    http_limits_t l = limits();
    l.request_deadline_ms = 10000;
    srv_start(&l);
    /* HTTP/1.1 without Host; two Hosts. HTTP/1.0 may omit it. */
    REFUSED("GET / HTTP/1.1\r\n\r\n", 400);
    REFUSED("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
    client_t *cl = cl_open();
    roundtrip(cl, "GET /old HTTP/1.0\r\n\r\n", "GET /old|");
    cl_close(cl);
    /* Header names with a space, a space before the colon, other non-token bytes; a control
     * byte in a value. */
    REFUSED("GET / HTTP/1.1\r\nHost: t\r\nX Foo: 1\r\n\r\n", 400);
    REFUSED("GET / HTTP/1.1\r\nHost: t\r\nX-Foo : 1\r\n\r\n", 400);
    REFUSED("GET / HTTP/1.1\r\nHost: t\r\nX\"Foo: 1\r\n\r\n", 400);
    REFUSED("GET / HTTP/1.1\r\nHost: t\r\nX(F): 1\r\n\r\n", 400);
    REFUSED("GET / HTTP/1.1\r\nHost: t\r\nX-Foo: a\x01z\r\n\r\n", 400);
    /* Duplicate or conflicting Content-Length. */
    REFUSED("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400);
    REFUSED("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400);
    REFUSED("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3, 3\r\n\r\nabc", 400);
    /* Transfer codings other than a lone "chunked": 501. */
    REFUSED("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501);
    REFUSED("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 501);
    REFUSED("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
            "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501);
    REFUSED("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 501);
    /* Chunk data followed by junk instead of CRLF, in one piece or split. */
    REFUSED("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            "3\r\nabcXY4\r\ndefg\r\n0\r\n\r\n", 400);
    REFUSED("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            "3\r\nabc\rX0\r\n\r\n", 400);
    cl = cl_open();
    cl_sends(cl, "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc");
    pump(20);
    cl_sends(cl, "\r");
    pump(20);
    cl_sends(cl, "Z0\r\n\r\n");
    expect_refusal(cl, 400);
    cl_close(cl);
    /* The same bodies framed right still work, split at every awkward place. */
    cl = cl_open();
    cl_sends(cl, "POST /ok HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc");
    pump(20);
    cl_sends(cl, "\r");
    pump(20);
    cl_sends(cl, "\n4\r\ndefg\r\n0\r\n\r\n");
    resp_t r;
    assert_int_equal(read_response(cl, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "POST /ok|abcdefg");
    resp_free(&r);
    cl_close(cl);
    /* HTTP/0.9 (no version): 400 at once, not held until the deadline. */
    REFUSED("GET /\r\n", 400);
    REFUSED("GET /\n", 400);
    REFUSED("GET /x\r\n\r\n", 400);
    http_stats_t st;
    http_server_stats(W.srv, &st);
    assert_int_equal(st.timeouts, 0);
}

static void test_percent_decoding(void **state)
{
    (void)state;
    srv_start(NULL);
    client_t *cl = cl_open();
    roundtrip(cl, "GET /a%2Fb%41+c%e2%82%ac?q=%00 HTTP/1.1\r\nHost: t\r\n\r\n",
              "GET /a/bA+c\xe2\x82\xac|");
    assert_string_equal(W.raw_path, "/a%2Fb%41+c%e2%82%ac");
    assert_string_equal(W.query, "q=%00");
    assert_non_null(strstr(W.qp, "q=absent;")); /* a NUL in a parameter: refused */

    roundtrip(cl, "GET http://example.com:8080/p%20q?z=1 HTTP/1.1\r\nHost: t\r\n\r\n",
              "GET /p q|");
    assert_string_equal(W.query, "z=1");
    roundtrip(cl, "OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n", "OPTIONS *|");
    cl_close(cl);

    const char *bad[] = {"/x%00y", "/x%zz", "/x%4", "/x%"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char req[128];
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", bad[i]);
        cl = cl_open();
        cl_sends(cl, req);
        expect_refusal(cl, 400);
        assert_string_equal(W.reject_path, "(null)");
        cl_close(cl);
    }
    assert_int_equal(W.calls, 3);
}

static void test_head_and_bodyless_status(void **state)
{
    (void)state;
    srv_start(NULL);
    client_t *cl = cl_open();
    resp_t r;
    cl_sends(cl, "HEAD /h HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_response_ex(cl, &r, true), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.head, "Content-Length: 8\r\n")); /* "HEAD /h|" */
    resp_free(&r);
    /* No body bytes followed: the next response parses cleanly. */
    roundtrip(cl, "GET /g HTTP/1.1\r\nHost: t\r\n\r\n", "GET /g|");
    cl_close(cl);
}

static void test_expect_continue(void **state)
{
    (void)state;
    srv_start(NULL);
    client_t *cl = cl_open();
    resp_t r;
    cl_sends(cl, "POST /e HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                 "Content-Length: 5\r\n\r\n");
    assert_int_equal(read_response(cl, &r), 0);
    assert_int_equal(r.status, 100);
    resp_free(&r);
    roundtrip(cl, "hello", "POST /e|hello");
    cl_close(cl);
}

static void test_large_response_backpressure(void **state)
{
    (void)state;
    srv_start(NULL);
    client_t *cl = cl_open();
    /* Three pipelined requests, two with 1 MiB answers; the client reads late. */
    cl_sends(cl, "GET /large HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /large HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /small HTTP/1.1\r\nHost: t\r\n\r\n");
    pump(100);
    for (int i = 0; i < 2; i++) {
        resp_t r;
        assert_int_equal(read_response(cl, &r), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.body_len, LARGE_BODY);
        assert_memory_equal(r.body, large_body, LARGE_BODY);
        resp_free(&r);
    }
    resp_t r;
    assert_int_equal(read_response(cl, &r), 0);
    assert_string_equal(r.body, "GET /small|");
    resp_free(&r);
    cl_close(cl);
}

static void test_stop(void **state)
{
    (void)state;
    srv_start(NULL);
    client_t *idle = cl_open(), *busy = cl_open();
    roundtrip(idle, "GET /i HTTP/1.1\r\nHost: t\r\n\r\n", "GET /i|");
    cl_sends(busy, "GET /b HTTP/1.1\r\nHo");
    pump(20);
    http_server_stop(W.srv);
    assert_true(wait_closed(idle, WAIT_MS) >= 0);
    /* No longer listening. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)W.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_not_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    close(fd);
    /* The request in progress is answered, then the connection closes. */
    resp_t r;
    cl_sends(busy, "st: t\r\n\r\n");
    assert_int_equal(read_response(busy, &r), 0);
    assert_string_equal(r.body, "GET /b|");
    assert_non_null(strstr(r.head, "Connection: close\r\n"));
    resp_free(&r);
    assert_true(wait_closed(busy, WAIT_MS) >= 0);
    cl_close(idle);
    cl_close(busy);
}

static long cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000L +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000L;
}

static void test_emfile_pauses_listener(void **state)
{
    (void)state;
    srv_start(NULL);
    /* Connected and sent before the server may accept: it waits in the backlog. */
    client_t *cl = cl_open();
    cl_sends(cl, "GET /after HTTP/1.1\r\nHost: t\r\n\r\n");

    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    if (low.rlim_cur > 64)
        low.rlim_cur = 64;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    int fds[64], nfds = 0;
    while (nfds < 64) {
        int fd = dup(cl->fd);
        if (fd < 0)
            break;
        fds[nfds++] = fd;
    }
    long cpu0 = cpu_ms();
    pump(350);
    long cpu = cpu_ms() - cpu0;
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);

    http_stats_t st;
    http_server_stats(W.srv, &st);
    assert_int_equal(st.accepted, 0);
    assert_true(st.accept_pauses >= 2 && st.accept_pauses <= 5);
    assert_true(cpu < 150); /* paused, not spinning */

    resp_t r;
    assert_int_equal(read_response(cl, &r), 0);
    assert_string_equal(r.body, "GET /after|");
    resp_free(&r);
    http_server_stats(W.srv, &st);
    assert_int_equal(st.accepted, 1);
    cl_close(cl);
}

static void test_method_names(void **state)
{
    (void)state;
    assert_string_equal(http_method_name(HTTP_GET), "GET");
    assert_string_equal(http_method_name(HTTP_PATCH), "PATCH");
    assert_string_equal(http_method_name(HTTP_OPTIONS), "OPTIONS");
    assert_string_equal(http_method_name(HTTP_OTHER), "OTHER");
    srv_start(NULL);
    client_t *cl = cl_open();
    roundtrip(cl, "PATCH /p HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}", "PATCH /p|{}");
    roundtrip(cl, "MKCOL /m HTTP/1.1\r\nHost: t\r\n\r\n", "MKCOL /m|");
    /* An Upgrade request is answered as plain HTTP/1.1 and the connection goes on. */
    roundtrip(cl, "GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\n"
                  "Upgrade: websocket\r\n\r\n", "GET /ws|");
    roundtrip(cl, "GET /next HTTP/1.1\r\nHost: t\r\n\r\n", "GET /next|");
    cl_close(cl);
}

/* ---------- streamed request bodies ---------- */

/* Exported by net/http.c for tests only: the largest input backlog of a streamed request. */
extern size_t http_test_stream_peak_input;


#define FNV_PRIME 1099511628211ULL
#define FNV_BASIS 14695981039346656037ULL

static uint8_t pattern(uint64_t i)
{
    return (uint8_t)(((i * 2654435761u) >> 11) ^ (i >> 20));
}

static uint64_t sum_update(uint64_t sum, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sum = (sum ^ (uint8_t)p[i]) * FNV_PRIME;
    return sum;
}

static void stream_answer(int status)
{
    http_request_t *req = S.req;
    S.req = NULL;
    if (!req)
        return;
    char out[128];
    int n = snprintf(out, sizeof out, "bytes=%llu sum=%016llx", (unsigned long long)S.bytes,
                     (unsigned long long)S.sum);
    http_respond(req, status, "text/plain", out, (size_t)n, NULL);
}

static void on_stream_act(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    stream_act_t act = S.act;
    S.act = ACT_NONE;
    if (act == ACT_RESUME && S.req)
        http_stream_resume(S.req); /* a no-op if the stream was cut meanwhile */
    else if (act == ACT_ANSWER)
        stream_answer(S.act_status);
}

static void stream_schedule(stream_act_t act, int status, int ms)
{
    if (!S.ev)
        S.ev = evtimer_new(W.base, on_stream_act, NULL);
    S.act = act;
    S.act_status = status;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(S.ev, &tv);
}

static bool st_match(const http_request_t *req, void *arg)
{
    (void)arg;
    S.matches++;
    return (req->method == HTTP_PUT || req->method == HTTP_POST) && req->path &&
           strncmp(req->path, "/up/", 4) == 0 && http_header(req, "Host") != NULL;
}

static void st_start(http_request_t *req, void *arg)
{
    (void)arg;
    S.starts++;
    S.req = req;
    S.declared = http_content_length(req);
    snprintf(S.path, sizeof S.path, "%s", req->path);
    S.bytes = 0;
    S.sum = FNV_BASIS;
    S.since_pause = 0;
    if (S.refuse_on_start) {
        S.req = NULL;
        http_respond(req, 404, "text/plain", "no such upload", 14, NULL);
        return;
    }
    if (!S.hold_start)
        http_stream_resume(req);
}

static int st_data(http_request_t *req, const char *data, size_t len, void *arg)
{
    (void)arg;
    S.data_calls++;
    if (req != S.req || S.failed)
        S.wrong_req++;
    if (len > S.max_piece)
        S.max_piece = len;
    if (S.inplace && data == S.inplace) {
        S.inplace_hits++;
        if (len > S.inplace_len)
            S.wrong_req++;
    }
    S.sum = sum_update(S.sum, data, len);
    S.bytes += len;
    if (S.fail_after && S.bytes >= S.fail_after) {
        S.failed = true;
        /* the refusal is answered asynchronously */
        stream_schedule(ACT_ANSWER, 400, S.fail_answer_ms ? S.fail_answer_ms : 20);
        return -1;
    }
    if (S.pause_every) {
        S.since_pause += len;
        if (S.since_pause >= S.pause_every) {
            S.since_pause = 0;
            S.pauses++;
            http_stream_pause(req);
            stream_schedule(ACT_RESUME, 0, S.resume_ms);
        }
    }
    return 0;
}

static void st_end(http_request_t *req, bool complete, void *arg)
{
    (void)arg;
    S.ends++;
    if (req != S.req)
        S.wrong_req++;
    if (!complete) {
        S.ends_cut++;
        if (S.answer_in_cut_end)
            stream_answer(500); /* orphaned: this only frees */
        return;               /* else the test answers (frees) it later */
    }
    S.ends_ok++;
    if (S.async_answer)
        stream_schedule(ACT_ANSWER, 200, 20);
    else
        stream_answer(200);
}

static char *st_buffer(http_request_t *req, size_t *len, void *arg)
{
    (void)arg;
    if (req != S.req)
        S.wrong_req++;
    *len = S.inplace_len;
    return S.inplace;
}

static void stream_on(void)
{
    http_stream_t st = {st_match, st_start, st_data, st_end, NULL, st_buffer};
    http_server_set_stream(W.srv, &st);
}

static void stream_srv_start(const http_limits_t *l)
{
    srv_start(l);
    stream_on();
}

/* Sends `total` pattern bytes (offsets from `from`) in blocks, as they are or as chunks, with a
 * loop pause between blocks; returns the checksum the server should see. */
static uint64_t send_body(client_t *cl, uint64_t from, uint64_t total, size_t block, bool chunked,
                          int gap_ms, uint64_t sum)
{
    char *buf = malloc(block);
    for (uint64_t off = 0; off < total;) {
        size_t n = total - off < block ? (size_t)(total - off) : block;
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)pattern(from + off + i);
        if (chunked) {
            char hdr[32];
            snprintf(hdr, sizeof hdr, "%zx\r\n", n);
            cl_sends(cl, hdr);
        }
        cl_send(cl, buf, n);
        if (chunked)
            cl_sends(cl, "\r\n");
        sum = sum_update(sum, buf, n);
        off += n;
        if (gap_ms)
            pump(gap_ms);
    }
    free(buf);
    return sum;
}

/* Sends pattern bytes without blocking until the server answers or stops taking them (it may
 * close with unread data: a send error ends the loop too); returns what was sent. */
static uint64_t send_until_answer(client_t *cl, uint64_t total)
{
    static char buf[64 * 1024];
    uint64_t off = 0;
    long deadline = now_ms() + WAIT_MS;
    while (off < total && now_ms() < deadline) {
        size_t n = total - off < sizeof buf ? (size_t)(total - off) : sizeof buf;
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)pattern(off + i);
        ssize_t w = send(cl->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            off += (uint64_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            break;
        pump(1);
        cl_recv(cl);
        if (cl->len > 0 || cl->eof)
            break;
    }
    return off;
}

static void expect_stream_answer(client_t *cl, uint64_t bytes, uint64_t sum)
{
    resp_t r;
    assert_int_equal(read_response(cl, &r), 0);
    assert_int_equal(r.status, 200);
    char want[128];
    snprintf(want, sizeof want, "bytes=%llu sum=%016llx", (unsigned long long)bytes,
             (unsigned long long)sum);
    assert_string_equal(r.body, want);
    assert_null(strcasestr(r.head, "Connection: close"));
    resp_free(&r);
}

static bool stream_ended(void) { return S.ends >= 1; }
static bool stream_started(void) { return S.starts >= want_starts; }

#define MIB (1024u * 1024u)

static void test_stream_content_length(void **state)
{
    (void)state;
    S.async_answer = true;
    stream_srv_start(NULL);
    client_t *cl = cl_open();
    const uint64_t total = 5 * MIB + 123;
    char head[256];
    snprintf(head, sizeof head, "PUT /up/t1/disk.vmdk HTTP/1.1\r\nHost: t\r\n"
                                "Content-Length: %llu\r\n\r\n", (unsigned long long)total);
    cl_sends(cl, head);
    uint64_t sum = send_body(cl, 0, total, 100 * 1000 + 7, false, 1, FNV_BASIS);
    expect_stream_answer(cl, total, sum);
    assert_int_equal(S.starts, 1);
    assert_int_equal(S.ends_ok, 1);
    assert_int_equal(S.ends, 1);
    assert_int_equal(S.wrong_req, 0);
    assert_true(S.data_calls > 1);
    assert_int_equal(S.declared, (int64_t)total);
    assert_string_equal(S.path, "/up/t1/disk.vmdk");
    assert_int_equal(W.calls, 0); /* the handler never saw it */
    /* Keep-alive goes on: a normal request, then another streamed one. */
    roundtrip(cl, "GET /after HTTP/1.1\r\nHost: t\r\n\r\n", "GET /after|");
    assert_int_equal(W.calls, 1);
    cl_sends(cl, "POST /up/t2 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc");
    expect_stream_answer(cl, 3, sum_update(FNV_BASIS, "abc", 3));
    /* Content-Length: 0 streams too: on_end(true) without on_data. */
    int calls = S.data_calls;
    cl_sends(cl, "PUT /up/empty HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    expect_stream_answer(cl, 0, FNV_BASIS);
    assert_int_equal(S.data_calls, calls);
    /* Paused inside the last on_data: the end of the message comes after the resume. */
    S.pause_every = 3;
    S.resume_ms = 30;
    cl_sends(cl, "PUT /up/last HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nabcdef");
    pump(15);
    assert_int_equal(S.ends_ok, 3);
    assert_int_equal(S.bytes, 6);
    expect_stream_answer(cl, 6, sum_update(FNV_BASIS, "abcdef", 6));
    assert_int_equal(S.pauses, 1);
    assert_int_equal(S.ends_ok, 4);
    http_stats_t st;
    http_server_stats(W.srv, &st);
    assert_int_equal(st.accepted, 1);
    assert_int_equal(st.requests, 5);
    assert_int_equal(st.orphaned, 0);
    cl_close(cl);
}

static void test_stream_memory_bound(void **state)
{
    (void)state;
    S.pause_every = 4 * MIB;
    S.resume_ms = 5;
    stream_srv_start(NULL);
    http_test_stream_peak_input = 0;
    client_t *cl = cl_open();
    const uint64_t total = 64ull * MIB;
    cl_sends(cl, "PUT /up/big HTTP/1.1\r\nHost: t\r\nContent-Length: 67108864\r\n\r\n");
    uint64_t sum = send_body(cl, 0, total, 256 * 1024, false, 0, FNV_BASIS);
    expect_stream_answer(cl, total, sum);
    assert_true(S.pauses >= 15); /* every 4 MiB or a little more */
    assert_int_equal(S.ends_ok, 1);
    assert_int_equal(S.wrong_req, 0);
    /* Nothing piles up in the server: at most one read, whatever the client sends. Over plain
     * TCP a read is a big one (STREAM_READ in net/http.c, 256 KiB, not libevent's 4 KiB): with
     * the client ahead during the pauses, pieces that large do arrive. Over TLS the bufferevent
     * reads (a record or so at a time). */
    assert_true(http_test_stream_peak_input > 0);
    assert_true(http_test_stream_peak_input <= 256 * 1024);
    assert_true(S.max_piece <= 256 * 1024);
    if (!use_tls)
        assert_true(S.max_piece > 64 * 1024);
    cl_close(cl);
}

/* Reading in place: a Content-Length body is read into the application's buffer (never more
 * than it offers, never past the body's end: the pipelined request behind it is parsed as
 * usual), with pauses from inside on_data, the last one on the body's last piece. */
static void test_stream_in_place(void **state)
{
    (void)state;
    static char place[192 * 1024];
    S.inplace = place;
    S.inplace_len = sizeof place;
    S.pause_every = 1; /* after every piece, so also on the last one */
    S.resume_ms = 1;
    stream_srv_start(NULL);
    client_t *cl = cl_open();
    cl_sends(cl, "PUT /up/a HTTP/1.1\r\nHost: t\r\nContent-Length: 3145728\r\n\r\n");
    uint64_t sum = send_body(cl, 0, 3 * MIB, 256 * 1024, false, 0, FNV_BASIS);
    cl_sends(cl, "PUT /up/b HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nabcdef");
    expect_stream_answer(cl, 3 * MIB, sum);
    int hits = S.inplace_hits;
    expect_stream_answer(cl, 6, sum_update(FNV_BASIS, "abcdef", 6));
    if (!use_tls)
        assert_true(hits > 0);
    else
        assert_int_equal(S.inplace_hits, 0); /* TLS: the bufferevent reads */
    assert_int_equal(S.wrong_req, 0);
    assert_true(S.pauses >= 16); /* 3 MiB in pieces of at most 192 KiB */
    assert_int_equal(S.ends_ok, 2);
    cl_close(cl);
}

static void test_stream_chunked(void **state)
{
    (void)state;
    /* Pausing inside on_data while more chunks wait in the same read must lose nothing. */
    S.pause_every = 7000;
    S.resume_ms = 1;
    stream_srv_start(NULL);
    client_t *cl = cl_open();
    cl_sends(cl, "POST /up/chunks HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    uint64_t sum = send_body(cl, 0, 300 * 1000, 1000, true, 0, FNV_BASIS);
    sum = send_body(cl, 300 * 1000, 700 * 1000, 350 * 1000, true, 1, sum);
    /* The last chunk, trailers and a pipelined request in one go. */
    cl_sends(cl, "0\r\nX-Checksum: 1\r\n\r\nGET /next HTTP/1.1\r\nHost: t\r\n\r\n");
    expect_stream_answer(cl, 1000 * 1000, sum);
    assert_true(S.pauses >= 40);
    assert_int_equal(S.declared, -1);
    assert_int_equal(S.ends_ok, 1);
    resp_t r;
    assert_int_equal(read_response(cl, &r), 0);
    assert_string_equal(r.body, "GET /next|");
    resp_free(&r);
    cl_close(cl);

    /* A malformed chunk mid-body cuts the stream: on_end(false), the connection closes. */
    cl = cl_open();
    cl_sends(cl, "POST /up/bad HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "5\r\nhello\r\nzz\r\n");
    assert_true(wait_closed(cl, WAIT_MS) >= 0);
    assert_int_equal(S.ends_cut, 1);
    assert_int_equal(S.bytes, 5);
    assert_non_null(S.req);
    stream_answer(500); /* orphaned: only frees */
    http_stats_t st;
    http_server_stats(W.srv, &st);
    assert_int_equal(st.orphaned, 1);
    assert_int_equal(W.rejects, 0);
    cl_close(cl);
}

/* Found by tests/fuzz/fuzz_http (regression seed tests/fuzz/corpus/http/regress-cut-keeps-answer):
 * a streamed request answered at once, pipelined with a streamed request whose chunked body is
 * malformed, in one read. The cut closed the connection while the first answer still sat in
 * the output buffer, so the client never got it. */
static void test_stream_cut_keeps_earlier_answers(void **state)
{
    (void)state;
    S.answer_in_cut_end = true;
    stream_srv_start(NULL);
    client_t *cl = cl_open();
    cl_sends(cl, "PUT /up/ok HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
                 "POST /up/bad HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "5\r\nhello\r\nzz\r\n");
    expect_stream_answer(cl, 3, sum_update(FNV_BASIS, "abc", 3));
    assert_true(wait_closed(cl, WAIT_MS) >= 0);
    assert_int_equal(S.ends_ok, 1);
    assert_int_equal(S.ends_cut, 1);
    cl_close(cl);
}

static void test_stream_refused_on_start(void **state)
{
    (void)state;
    S.refuse_on_start = true;
    stream_srv_start(NULL);
    /* The body is already on its way: the client still reads the 404, then the close. */
    client_t *cl = cl_open();
    cl_sends(cl, "PUT /up/nosuch/f HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n");
    send_until_answer(cl, 64 * 1024);
    resp_t r;
    assert_int_equal(read_response(cl, &r), 0);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body, "no such upload");
    assert_non_null(strstr(r.head, "Connection: close\r\n"));
    resp_free(&r);
    assert_true(wait_closed(cl, WAIT_MS) >= 0);
    cl_close(cl);

    /* With "Expect: 100-continue" the refusal comes instead of the 100. */
    cl = cl_open();
    cl_sends(cl, "PUT /up/nosuch/g HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                 "Content-Length: 1000000\r\n\r\n");
    assert_int_equal(read_response(cl, &r), 0);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    assert_true(wait_closed(cl, WAIT_MS) >= 0);
    cl_close(cl);

    /* Refused later, before resume (an asynchronous check). */
    S.refuse_on_start = false;
    S.hold_start = true;
    cl = cl_open();
    cl_sends(cl, "PUT /up/late HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789");
    pump_until(stream_started);
    pump(20);
    assert_int_equal(S.data_calls, 0); /* paused until resumed */
    stream_answer(404);
    assert_int_equal(read_response(cl, &r), 0);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(r.head, "Connection: close\r\n"));
    resp_free(&r);
    assert_true(wait_closed(cl, WAIT_MS) >= 0);
    cl_close(cl);

    assert_int_equal(S.starts, 3);
    assert_int_equal(S.data_calls, 0);
    assert_int_equal(S.ends, 0); /* answered before the end of the body: no on_end */
    pump_until(no_connections);
}

static void test_stream_data_refused(void **state)
{
    (void)state;
    S.fail_after = 256 * 1024;
    stream_srv_start(NULL);
    client_t *cl = cl_open();
    cl_sends(cl, "PUT /up/fail HTTP/1.1\r\nHost: t\r\nContent-Length: 8388608\r\n\r\n");
    send_until_answer(cl, 8 * MIB);
    resp_t r;
    assert_int_equal(read_response(cl, &r), 0);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.head, "Connection: close\r\n"));
    resp_free(&r);
    assert_true(wait_closed(cl, 3 * WAIT_MS) >= 0);
    assert_true(S.bytes >= 256 * 1024 && S.bytes < 512 * 1024);
    assert_int_equal(S.ends, 0);
    assert_int_equal(S.wrong_req, 0); /* nothing delivered after -1 */
    assert_null(S.req);
    cl_close(cl);
    pump_until(no_connections);

    /* The client leaves after the refusal, before the answer: no on_end either; the answer
     * only frees the orphaned request. */
    S.fail_after = 10;
    S.fail_answer_ms = 100;
    S.failed = false;
    cl = cl_open();
    cl_sends(cl, "PUT /up/fail2 HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789");
    want_starts = 2;
    pump_until(stream_started);
    pump(20);
    assert_true(S.failed);
    cl_close(cl);
    pump_until(no_connections);
    http_stats_t st;
    http_server_stats(W.srv, &st);
    assert_int_equal(st.orphaned, 1);
    assert_non_null(S.req);
    pump(150); /* the answer frees it */
    assert_null(S.req);
    assert_int_equal(S.ends, 0);
    assert_int_equal(S.wrong_req, 0);
}

static bool stream_bytes_1mib(void) { return S.bytes >= MIB; }

static void test_stream_client_cut(void **state)
{
    (void)state;
    stream_srv_start(NULL);
    client_t *cl = cl_open();
    cl_sends(cl, "PUT /up/cut HTTP/1.1\r\nHost: t\r\nContent-Length: 5242880\r\n\r\n");
    send_body(cl, 0, MIB, 64 * 1024, false, 0, FNV_BASIS);
    pump_until(stream_bytes_1mib);
    cl_close(cl);
    pump_until(stream_ended);
    assert_int_equal(S.ends_cut, 1);
    assert_int_equal(S.ends, 1);
    pump_until(no_connections);
    http_stats_t st;
    http_server_stats(W.srv, &st);
    assert_int_equal(st.orphaned, 1);
    /* The orphaned request is still readable; answering only frees it. */
    assert_string_equal(S.req->path, "/up/cut");
    stream_answer(500);

    /* Cut while paused (before resume): noticed by the watch; answered from inside on_end. */
    S.hold_start = true;
    S.answer_in_cut_end = true;
    cl = cl_open();
    cl_sends(cl, "PUT /up/cut2 HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n");
    want_starts = 2;
    pump_until(stream_started);
    cl_close(cl);
    pump_until(no_connections);
    assert_int_equal(S.ends_cut, 2);
    assert_null(S.req); /* answered (freed) from inside on_end */
    /* A resume scheduled before the cut is a no-op on the orphaned request. */
    S.answer_in_cut_end = false;
    cl = cl_open();
    cl_sends(cl, "PUT /up/cut3 HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n");
    want_starts = 3;
    pump_until(stream_started);
    stream_schedule(ACT_RESUME, 0, 50);
    cl_close(cl);
    pump(100);
    assert_int_equal(S.ends_cut, 3);
    assert_int_equal(S.act, ACT_NONE); /* the resume ran */
    stream_answer(500);
    http_server_stats(W.srv, &st);
    assert_int_equal(st.orphaned, 3);

    /* Freeing the server cuts a stream in progress too. */
    S.hold_start = false;
    cl = cl_open();
    cl_sends(cl, "PUT /up/cut4 HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123");
    want_starts = 4;
    pump_until(stream_started);
    pump(10);
    assert_int_equal(S.bytes, 4);
    http_server_free(W.srv);
    W.srv = NULL;
    assert_int_equal(S.ends_cut, 4);
    assert_true(wait_closed(cl, WAIT_MS) >= 0);
    stream_answer(500);
    cl_close(cl);
}

static bool stream_bytes_256k(void) { return S.bytes >= 256 * 1024; }

/* The application stops a body that is still arriving, from outside any stream callback (the
 * data plane does so when a heartbeat is refused): pause, then answer. The client, still
 * sending (less than the linger discards), reads the answer with "Connection: close", then the
 * close; no on_end. The same without the pause (answering with reading on). */
static void test_stream_answer_mid_body(void **state)
{
    (void)state;
    stream_srv_start(NULL);
    for (int pause_first = 1; pause_first >= 0; pause_first--) {
        client_t *cl = cl_open();
        cl_sends(cl, "PUT /up/stop HTTP/1.1\r\nHost: t\r\nContent-Length: 67108864\r\n\r\n");
        send_body(cl, 0, 256 * 1024, 64 * 1024, false, 0, FNV_BASIS);
        want_starts = 2 - pause_first;
        pump_until(stream_started);
        pump_until(stream_bytes_256k);
        assert_true(S.bytes >= 256 * 1024);
        if (pause_first)
            http_stream_pause(S.req);
        stream_answer(409);
        send_until_answer(cl, 512 * 1024);
        resp_t r;
        assert_int_equal(read_response(cl, &r), 0);
        assert_int_equal(r.status, 409);
        assert_non_null(strstr(r.head, "Connection: close\r\n"));
        resp_free(&r);
        assert_true(wait_closed(cl, 3 * WAIT_MS) >= 0);
        cl_close(cl);
        pump_until(no_connections);
        assert_int_equal(S.ends, 0);
        assert_int_equal(S.wrong_req, 0);
    }
}

static void test_stream_idle_timeout(void **state)
{
    (void)state;
    http_limits_t l = limits();
    l.request_deadline_ms = 100; /* would cut this slow body: it does not apply */
    l.idle_timeout_ms = 200;
    stream_srv_start(&l);
    client_t *cl = cl_open();
    cl_sends(cl, "PUT /up/slow HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n");
    /* 50 bytes every 50 ms for 500 ms: longer than the deadline, never idle. */
    uint64_t sum = FNV_BASIS;
    for (int i = 0; i < 10; i++) {
        pump(50);
        sum = send_body(cl, (uint64_t)i * 50, 50, 50, false, 0, sum);
    }
    long took = wait_closed(cl, 1500);
    assert_int_equal(S.bytes, 500);
    assert_int_equal(S.sum, sum);
    assert_true(took >= 150 && took < 1000);
    assert_int_equal(S.ends_cut, 1);
    http_stats_t st;
    http_server_stats(W.srv, &st);
    assert_int_equal(st.timeouts, 1);
    stream_answer(500);
    cl_close(cl);
}

static void test_stream_ignores_max_body(void **state)
{
    (void)state;
    http_limits_t l = limits();
    l.max_body_bytes = 1024;
    stream_srv_start(&l);
    client_t *cl = cl_open();
    cl_sends(cl, "PUT /up/large HTTP/1.1\r\nHost: t\r\nContent-Length: 204800\r\n\r\n");
    uint64_t sum = send_body(cl, 0, 200 * 1024, 8192, false, 0, FNV_BASIS);
    expect_stream_answer(cl, 200 * 1024, sum);
    cl_sends(cl, "PUT /up/large HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    sum = send_body(cl, 0, 100 * 1024, 4096, true, 0, FNV_BASIS);
    cl_sends(cl, "0\r\n\r\n");
    expect_stream_answer(cl, 100 * 1024, sum);
    /* Requests the matcher does not take keep the limit. */
    cl_sends(cl, "PUT /other HTTP/1.1\r\nHost: t\r\nContent-Length: 2048\r\n\r\n");
    expect_refusal(cl, 413);
    cl_close(cl);
    cl = cl_open();
    cl_sends(cl, "PUT /up/x HTTP/1.0\r\nContent-Length: 2048\r\n\r\n"); /* no Host: no match */
    expect_refusal(cl, 413);
    cl_close(cl);
    assert_int_equal(S.ends_ok, 2);
    assert_true(S.matches >= 4);
    assert_int_equal(W.rejects, 2);
}

static void test_stream_expect_continue(void **state)
{
    (void)state;
    http_limits_t l = limits();
    l.request_deadline_ms = 150;
    l.idle_timeout_ms = 200;
    S.hold_start = true;
    stream_srv_start(&l);
    client_t *cl = cl_open();
    cl_sends(cl, "PUT /up/exp HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                 "Content-Length: 10\r\n\r\n");
    pump_until(stream_started);
    pump(300); /* paused longer than deadline and idle timeout: no timer runs while paused */
    cl_recv(cl);
    assert_int_equal(cl->len, 0);
    assert_false(cl->eof);
    http_stream_resume(S.req);
    resp_t r;
    assert_int_equal(read_response(cl, &r), 0);
    assert_int_equal(r.status, 100);
    resp_free(&r);
    /* Only the first resume sends it. */
    http_stream_pause(S.req);
    http_stream_resume(S.req);
    cl_sends(cl, "0123456789");
    expect_stream_answer(cl, 10, sum_update(FNV_BASIS, "0123456789", 10));
    assert_int_equal(cl->len, 0);
    cl_close(cl);
}

/* A streamed chunked body with junk after a chunk's data is cut (on_end(false)), as any other
 * malformed body. */
static void test_stream_chunk_crlf(void **state)
{
    (void)state;
    srv_start(NULL);
    stream_on();
    client_t *cl = cl_open();
    cl_sends(cl, "POST /up/junk HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "3\r\nabcXX0\r\n\r\n");
    assert_true(wait_closed(cl, WAIT_MS) >= 0);
    assert_int_equal(S.ends_cut, 1);
    assert_int_equal(S.ends_ok, 0);
    cl_close(cl);
}

/* The same tests through the openssl bufferevent (--tls-cert): framing, keep-alive and
 * pipelining, refusals and their close, the connection caps' 503, and streamed bodies with
 * their pause/resume backpressure and memory bound. */
#define TLS_VARIANT(name)                                                                     \
    static void tls_##name(void **state)                                                     \
    {                                                                                         \
        use_tls = true;                                                                       \
        name(state);                                                                          \
    }
TLS_VARIANT(test_keepalive_reuse)
TLS_VARIANT(test_pipelined)
TLS_VARIANT(test_413_content_length)
TLS_VARIANT(test_strict_framing)
TLS_VARIANT(test_max_connections)
TLS_VARIANT(test_large_response_backpressure)
TLS_VARIANT(test_stream_content_length)
TLS_VARIANT(test_stream_memory_bound)
TLS_VARIANT(test_stream_in_place)
TLS_VARIANT(test_stream_chunked)
TLS_VARIANT(test_stream_client_cut)
TLS_VARIANT(test_stream_expect_continue)
TLS_VARIANT(test_stream_chunk_crlf)

/* A self-signed certificate for the TLS runs (the openssl command, as test_pull does). */
static int tls_setup(void)
{
    strcpy(certdir, "/tmp/test_http_cert.XXXXXX");
    if (!mkdtemp(certdir))
        return -1;
    char cmd[512], cert[128], key[128], err[512];
    snprintf(cert, sizeof cert, "%s/cert.pem", certdir);
    snprintf(key, sizeof key, "%s/key.pem", certdir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
             "-subj /CN=127.0.0.1 -keyout %s -out %s >/dev/null 2>&1", key, cert);
    if (system(cmd) != 0)
        return -1;
    server_tls = tls_server_ctx(cert, key, err, sizeof err);
    client_tls = SSL_CTX_new(TLS_client_method());
    if (!server_tls || !client_tls) {
        fprintf(stderr, "tls setup: %s\n", err);
        return -1;
    }
    SSL_CTX_set_verify(client_tls, SSL_VERIFY_NONE, NULL);
    return 0;
}

static void tls_cleanup(void)
{
    char cmd[128];
    tls_ctx_free(server_tls);
    SSL_CTX_free(client_tls);
    snprintf(cmd, sizeof cmd, "rm -rf %s", certdir);
    if (certdir[0] && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", certdir);
}

int main(void)
{
    if (tls_setup() != 0) {
        fprintf(stderr, "test_http: cannot make the TLS certificate\n");
        return 1;
    }
    large_body = malloc(LARGE_BODY);
    for (size_t i = 0; i < LARGE_BODY; i++)
        large_body[i] = (char)('a' + i % 26);
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_get_query_and_headers),
        T(test_post_content_length),
        T(test_chunked_body),
        T(test_pipelined),
        T(test_pipelined_async),
        T(test_keepalive_reuse),
        T(test_connection_close),
        T(test_async_response),
        T(test_disconnect_before_async_answer),
        T(test_pipelined_while_handler_holds),
        T(test_free_with_request_in_flight),
        T(test_413_content_length),
        T(test_413_chunked),
        T(test_431_headers),
        T(test_400_and_505),
        T(test_request_deadline),
        T(test_deadline_not_applied_to_handler),
        T(test_idle_timeout),
        T(test_max_connections),
        T(test_max_connections_per_client),
        T(test_percent_decoding),
        T(test_head_and_bodyless_status),
        T(test_expect_continue),
        T(test_large_response_backpressure),
        T(test_stop),
        T(test_emfile_pauses_listener),
        T(test_method_names),
        T(test_stream_content_length),
        T(test_stream_memory_bound),
        T(test_stream_in_place),
        T(test_stream_chunked),
        T(test_stream_cut_keeps_earlier_answers),
        T(test_stream_refused_on_start),
        T(test_stream_data_refused),
        T(test_stream_client_cut),
        T(test_stream_answer_mid_body),
        T(test_stream_idle_timeout),
        T(test_stream_ignores_max_body),
        T(test_stream_expect_continue),
        T(test_strict_framing),
        T(test_stream_chunk_crlf),
        T(tls_test_keepalive_reuse),
        T(tls_test_pipelined),
        T(tls_test_413_content_length),
        T(tls_test_strict_framing),
        T(tls_test_max_connections),
        T(tls_test_large_response_backpressure),
        T(tls_test_stream_content_length),
        T(tls_test_stream_memory_bound),
        T(tls_test_stream_in_place),
        T(tls_test_stream_chunked),
        T(tls_test_stream_client_cut),
        T(tls_test_stream_expect_continue),
        T(tls_test_stream_chunk_crlf),
    };
#undef T
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tls_cleanup();
    free(large_body);
    return rc;
}
