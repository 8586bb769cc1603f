/* tests/unit/test_pull.c: the PULL client (net/data/pull.c) against servers running in-process on
 * 127.0.0.1, port 0, in the same event_base: an evhttp server (plain and, through
 * evhttp_set_bevcb + bufferevent_openssl, TLS with a self-signed certificate the openssl
 * command makes at start), and a scripted raw TCP server for what evhttp will not do (stall
 * mid-body, trickle, close-delimited bodies, truncation, a huge chunk, silence).
 *
 * Covers: an 8 MiB body (Content-Length and chunked) with digest and on-disk content checked;
 * 404 and redirects; size mismatches (announced, short, long); connect refused; connect timeout
 * (TLS handshake never answered); idle timeout (no answer, and a stall mid-body); progress at
 * most once per second on a slow transfer; close-delimited and truncated bodies; a chunk over
 * the buffering limit; https with the right thumbprint (also via "localhost": name resolution
 * and SNI), a wrong one (the request is never sent) and none (self-signed: untrusted); TLS
 * against a plain server; cancel (before the loop ran, mid-transfer, from progress, during name
 * resolution); requests refused by pull_start. The egress policy: literal addresses refused at
 * start (and by pull_check_source, naming the field), a name resolving to a refused address
 * (nothing connects), this process's own endpoint. Failures before a 200 give the one generic
 * message (the precise story is in the detail); failures after it keep their own. Every wait
 * is bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "core/netpolicy.h"
#include "store/blob.h"
#include "net/data/pull.h"

#define BODY_LEN (8 * 1024 * 1024)
#define ITEM "item-1"
#define UUID "sess-1"
#define SID ITEM ":" UUID
#define WAIT_MS 10000
#define TRICKLE_PIECE 10240
#define TRICKLE_PIECES 25
#define FILE_NAME "f.bin"
#define UNREACHABLE_ID "com.vmware.vdcs.cls-main.pull_source_unreachable"
#define UNREACHABLE_TEXT "The source of file " FILE_NAME " cannot be reached."

static unsigned char *body;
static char body_sha256[CHECKSUM_MAX], body_sha1[CHECKSUM_MAX];
static char certdir[64], cert_pem[128], key_pem[128];
static char thumb[THUMBPRINT_MAX]; /* "AA:BB:..." of the test certificate */
static netpolicy_t allow_loopback;  /* 127.0.0.1/32 and ::1/128 allowed: the test servers */
static netpolicy_t strict;          /* nothing allowed */

/* ---------- the world of one test ---------- */

typedef enum { RAW_SILENT, RAW_CLOSE_BODY, RAW_SHORT, RAW_TRICKLE, RAW_BIG_CHUNK } raw_mode_t;

typedef struct raw_conn {
    struct bufferevent *bev;
    struct event *tick;
    int pieces;
    size_t sent;
    bool answered;
    struct raw_conn *next;
} raw_conn_t;

typedef struct {
    struct event_base *base;
    char dir[64];
    struct evhttp *http, *https;
    int port, tls_port;
    SSL_CTX *server_ctx;
    char sni[256];
    int http_requests, https_requests;
    struct evconnlistener *raw;
    int raw_port;
    raw_mode_t raw_mode;
    raw_conn_t *raw_conns;
    struct evhttp_request *stalled[4]; /* /stall requests: ended (or freed) at teardown */
    int nstalled;

    /* what the pull reported */
    pull_t *p;
    int done_calls;
    bool ok;
    int64_t bytes;
    char hex[CHECKSUM_MAX];
    vapi_message_t msg;
    char detail[MSG_TEXT_MAX];
    bool unreachable;
    const netpolicy_t *policy; /* NULL: allow_loopback */
    int progress_calls;
    int64_t progress_bytes[16];
    struct timespec progress_at[16];
    bool cancel_in_progress;
    struct timespec started;
} world_t;

static world_t W;

static int64_t ms_since(const struct timespec *t)
{
    struct timespec n;
    clock_gettime(CLOCK_MONOTONIC, &n);
    return (int64_t)(n.tv_sec - t->tv_sec) * 1000 + (n.tv_nsec - t->tv_nsec) / 1000000;
}

static void digest_hex(const EVP_MD *md, const void *data, size_t len, char *hex)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(data, len, d, &n, md, NULL);
    for (unsigned int i = 0; i < n; i++)
        sprintf(hex + 2 * i, "%02x", d[i]);
}

/* ---------- evhttp test server ---------- */

static void send_body(struct evhttp_request *req)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_reference(b, body, BODY_LEN, NULL, NULL);
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

static void handler(struct evhttp_request *req, void *arg)
{
    bool tls = arg != NULL;
    if (tls)
        W.https_requests++;
    else
        W.http_requests++;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    if (!path)
        path = "/";
    if (strcmp(path, "/big") == 0) {
        send_body(req);
    } else if (strcmp(path, "/chunked") == 0) {
        evhttp_send_reply_start(req, 200, "OK");
        struct evbuffer *b = evbuffer_new();
        for (size_t off = 0; off < BODY_LEN; off += 65536) {
            evbuffer_add_reference(b, body + off, 65536, NULL, NULL);
            evhttp_send_reply_chunk(req, b);
        }
        evbuffer_free(b);
        evhttp_send_reply_end(req);
    } else if (strcmp(path, "/redirect") == 0) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Location", "http://elsewhere/x");
        evhttp_send_reply(req, 302, "Found", NULL);
    } else if (strcmp(path, "/stall") == 0) {
        /* chunked (HTTP/1.1): one chunk of 1000 bytes, then nothing, ever */
        evhttp_send_reply_start(req, 200, "OK");
        struct evbuffer *b = evbuffer_new();
        evbuffer_add(b, body, 1000);
        evhttp_send_reply_chunk(req, b);
        evbuffer_free(b);
        if (W.nstalled < 4)
            W.stalled[W.nstalled++] = req;
    } else {
        evhttp_send_reply(req, 404, "Not Found", NULL);
    }
}

static int sni_cb(SSL *ssl, int *al, void *arg)
{
    (void)al;
    (void)arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    snprintf(W.sni, sizeof W.sni, "%s", name ? name : "");
    return SSL_TLSEXT_ERR_OK;
}

static struct bufferevent *tls_bevcb(struct event_base *base, void *arg)
{
    (void)arg;
    return bufferevent_openssl_socket_new(base, -1, SSL_new(W.server_ctx),
                                          BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
}

static int port_of(evutil_socket_t fd)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    getsockname(fd, (struct sockaddr *)&sin, &len);
    return ntohs(sin.sin_port);
}

static struct evhttp *http_server(bool tls, int *port)
{
    struct evhttp *h = evhttp_new(W.base);
    assert_non_null(h);
    if (tls)
        evhttp_set_bevcb(h, tls_bevcb, NULL);
    evhttp_set_gencb(h, handler, tls ? (void *)1 : NULL);
    struct evhttp_bound_socket *s = evhttp_bind_socket_with_handle(h, "127.0.0.1", 0);
    assert_non_null(s);
    *port = port_of(evhttp_bound_socket_get_fd(s));
    return h;
}

/* ---------- raw scripted server ---------- */

static void raw_free(raw_conn_t *c)
{
    for (raw_conn_t **pp = &W.raw_conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    if (c->tick)
        event_free(c->tick);
    bufferevent_free(c->bev);
    free(c);
}

static void raw_write_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    raw_conn_t *c = arg;
    if (!c->answered)
        return;
    switch (W.raw_mode) {
    case RAW_CLOSE_BODY:
    case RAW_SHORT:
        raw_free(c); /* all written: close */
        break;
    case RAW_BIG_CHUNK:
        /* keep the client's input full: 20 MiB of one 32 MiB chunk, then hold */
        if (c->sent < 20u * 1024 * 1024) {
            bufferevent_write(c->bev, body, 1024 * 1024);
            c->sent += 1024 * 1024;
        }
        break;
    default:
        break;
    }
}

static void raw_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    raw_conn_t *c = arg;
    bufferevent_write(c->bev, body + (size_t)c->pieces * TRICKLE_PIECE, TRICKLE_PIECE);
    if (++c->pieces < TRICKLE_PIECES) {
        struct timeval tv = {0, 100000};
        event_add(c->tick, &tv);
    }
}

static void raw_answer(raw_conn_t *c)
{
    char head[256];
    c->answered = true;
    switch (W.raw_mode) {
    case RAW_SILENT:
        break;
    case RAW_CLOSE_BODY:
        bufferevent_write(c->bev, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", 38);
        bufferevent_write(c->bev, body, 100000);
        break;
    case RAW_SHORT:
        snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
        bufferevent_write(c->bev, head, strlen(head));
        bufferevent_write(c->bev, body, 500);
        break;
    case RAW_TRICKLE:
        snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n",
                 TRICKLE_PIECE * TRICKLE_PIECES);
        bufferevent_write(c->bev, head, strlen(head));
        c->tick = evtimer_new(W.base, raw_tick, c);
        raw_tick(-1, 0, c);
        break;
    case RAW_BIG_CHUNK:
        snprintf(head, sizeof head,
                 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2000000\r\n");
        bufferevent_write(c->bev, head, strlen(head));
        bufferevent_setwatermark(c->bev, EV_WRITE, 256 * 1024, 0);
        bufferevent_write(c->bev, body, 1024 * 1024);
        c->sent = 1024 * 1024;
        break;
    }
}

static void raw_read_cb(struct bufferevent *bev, void *arg)
{
    raw_conn_t *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (!c->answered && evbuffer_search(in, "\r\n\r\n", 4, NULL).pos >= 0)
        raw_answer(c);
    evbuffer_drain(in, evbuffer_get_length(in));
}

static void raw_event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        raw_free(arg);
}

static void raw_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                       void *arg)
{
    (void)l;
    (void)sa;
    (void)len;
    (void)arg;
    raw_conn_t *c = calloc(1, sizeof *c);
    c->bev = bufferevent_socket_new(W.base, fd, BEV_OPT_CLOSE_ON_FREE);
    c->next = W.raw_conns;
    W.raw_conns = c;
    bufferevent_setcb(c->bev, raw_read_cb, raw_write_cb, raw_event_cb, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void raw_server(raw_mode_t mode)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    W.raw_mode = mode;
    W.raw = evconnlistener_new_bind(W.base, raw_accept, NULL,
                                    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
                                    (struct sockaddr *)&sin, sizeof sin);
    assert_non_null(W.raw);
    W.raw_port = port_of(evconnlistener_get_fd(W.raw));
}

/* ---------- pull side ---------- */

static void on_progress(void *arg, int64_t bytes)
{
    (void)arg;
    if (W.progress_calls < 16) {
        W.progress_bytes[W.progress_calls] = bytes;
        clock_gettime(CLOCK_MONOTONIC, &W.progress_at[W.progress_calls]);
    }
    W.progress_calls++;
    if (W.cancel_in_progress) {
        pull_cancel(W.p);
        W.p = NULL;
    }
}

static void on_done(void *arg, const pull_result_t *r)
{
    (void)arg;
    W.done_calls++;
    W.ok = r->ok;
    W.bytes = r->bytes;
    W.p = NULL;
    if (r->ok) {
        assert_non_null(r->hex);
        assert_null(r->error_message);
        assert_null(r->detail);
        snprintf(W.hex, sizeof W.hex, "%s", r->hex);
    } else {
        assert_non_null(r->error_message);
        assert_non_null(r->detail);
        W.msg = *r->error_message;
        W.unreachable = r->unreachable;
        snprintf(W.detail, sizeof W.detail, "%s", r->detail);
        printf("      done: %s [detail: %s]\n", W.msg.default_message, W.detail);
    }
}

typedef struct {
    const char *thumbprint;
    checksum_alg_t alg;
    int64_t expected;
    int idle_ms, connect_ms;
    const char *blob;
} opts_t;

static pull_t *start(const char *uri, opts_t o, vapi_failure_t *f)
{
    pull_request_t rq = {
        .policy = W.policy ? W.policy : &allow_loopback,
        .file_name = FILE_NAME,
        .uri = uri,
        .thumbprint = o.thumbprint,
        .algorithm = o.alg,
        .expected_size = o.expected,
        .storage_dir = W.dir,
        .session_id = SID,
        .blob = o.blob ? o.blob : "blob-1",
        .connect_timeout_ms = o.connect_ms,
        .idle_timeout_ms = o.idle_ms,
    };
    pull_callbacks_t cb = {.progress = on_progress, .done = on_done, .arg = NULL};
    clock_gettime(CLOCK_MONOTONIC, &W.started);
    W.p = pull_start(W.base, &rq, &cb, f);
    return W.p;
}

static void noop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

/* Runs the loop until done (or max_ms), then a few more rounds so deferred frees happen. */
static void run(int max_ms, bool until_done)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct event *tick = event_new(W.base, -1, EV_PERSIST, noop_cb, NULL);
    struct timeval tv = {0, 5000};
    event_add(tick, &tv);
    while ((!until_done || W.done_calls == 0) && ms_since(&t0) < max_ms)
        event_base_loop(W.base, EVLOOP_ONCE);
    event_free(tick);
    for (int i = 0; i < 4; i++)
        event_base_loop(W.base, EVLOOP_NONBLOCK);
}

static char url_buf[256];
static const char *url(const char *scheme, const char *host, int port, const char *path)
{
    snprintf(url_buf, sizeof url_buf, "%s://%s:%d%s", scheme, host, port, path);
    return url_buf;
}

/* Files left in the session's staging directory. */
static int staged_files(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/staging/" ITEM "/" UUID, W.dir);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* The staged blob's content has the size and SHA-256 of the body's first len bytes. */
static void check_staged(const char *blob, size_t len)
{
    char path[256];
    snprintf(path, sizeof path, "%s/staging/" ITEM "/" UUID "/%s", W.dir, blob);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    unsigned char *buf = malloc(len + 1);
    size_t n = fread(buf, 1, len + 1, fp);
    fclose(fp);
    assert_int_equal(n, len);
    assert_memory_equal(buf, body, len);
    free(buf);
}

/* A failure after a 200 arrived (or a local one): the client sees the precise message. */
static void expect_error(const char *needle)
{
    assert_int_equal(W.done_calls, 1);
    assert_false(W.ok);
    assert_false(W.unreachable);
    if (!strstr(W.msg.default_message, needle))
        fail_msg("message \"%s\" lacks \"%s\"", W.msg.default_message, needle);
    assert_string_equal(W.detail, W.msg.default_message);
    assert_true(strncmp(W.msg.id, "com.vmware.vdcs.cls-main.pull_", 30) == 0);
    assert_string_not_equal(W.msg.id, UNREACHABLE_ID);
    assert_int_equal(staged_files(), 0); /* the .part is gone */
}

/* A failure before a 200 arrived: the client sees the one generic message (whatever the
 * reason, so PULL is no port scanner); the detail (for the log) has the reason. */
static void expect_unreachable(const char *needle)
{
    assert_int_equal(W.done_calls, 1);
    assert_false(W.ok);
    assert_true(W.unreachable);
    assert_string_equal(W.msg.id, UNREACHABLE_ID);
    assert_string_equal(W.msg.default_message, UNREACHABLE_TEXT);
    assert_int_equal(W.msg.nargs, 1);
    assert_string_equal(W.msg.args[0], FILE_NAME);
    if (!strstr(W.detail, needle))
        fail_msg("detail \"%s\" lacks \"%s\"", W.detail, needle);
    assert_int_equal(W.bytes, 0);
    assert_int_equal(staged_files(), 0);
}

/* ---------- fixtures ---------- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN); /* as the daemon does: libevent writes with writev/SSL_write */
    body = malloc(BODY_LEN);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < BODY_LEN; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        body[i] = (unsigned char)x;
    }
    char why[NP_WHY_MAX];
    memset(&strict, 0, sizeof strict);
    memset(&allow_loopback, 0, sizeof allow_loopback);
    if (np_cidr_list_parse("127.0.0.1/32,::1/128", allow_loopback.allow, NP_ALLOW_MAX,
                           &allow_loopback.nallow, why, sizeof why) != C_OK)
        return -1;
    digest_hex(EVP_sha256(), body, BODY_LEN, body_sha256);
    digest_hex(EVP_sha1(), body, BODY_LEN, body_sha1);

    strcpy(certdir, "/tmp/test_pull_cert.XXXXXX");
    if (!mkdtemp(certdir))
        return -1;
    snprintf(cert_pem, sizeof cert_pem, "%s/cert.pem", certdir);
    snprintf(key_pem, sizeof key_pem, "%s/key.pem", certdir);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout %s -out %s -days 2 -subj /CN=localhost "
             "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1",
             key_pem, cert_pem);
    if (system(cmd) != 0)
        return -1;
    FILE *fp = fopen(cert_pem, "r");
    X509 *x509 = fp ? PEM_read_X509(fp, NULL, NULL, NULL) : NULL;
    if (fp)
        fclose(fp);
    if (!x509)
        return -1;
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    X509_digest(x509, EVP_sha1(), d, &n);
    X509_free(x509);
    for (unsigned int i = 0; i < n; i++)
        sprintf(thumb + 3 * i, i + 1 < n ? "%02X:" : "%02X", d[i]);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    free(body);
    return nftw(certdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static int setup(void **state)
{
    (void)state;
    memset(&W, 0, sizeof W);
    W.base = event_base_new();
    strcpy(W.dir, "/tmp/test_pull.XXXXXX");
    if (!W.base || !mkdtemp(W.dir))
        return -1;
    W.server_ctx = SSL_CTX_new(TLS_server_method());
    if (SSL_CTX_use_certificate_chain_file(W.server_ctx, cert_pem) != 1 ||
        SSL_CTX_use_PrivateKey_file(W.server_ctx, key_pem, SSL_FILETYPE_PEM) != 1)
        return -1;
    SSL_CTX_set_tlsext_servername_callback(W.server_ctx, sni_cb);
    W.http = http_server(false, &W.port);
    W.https = http_server(true, &W.tls_port);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (W.p) /* a test that failed half-way */
        pull_cancel(W.p);
    while (W.raw_conns)
        raw_free(W.raw_conns);
    /* a stalled request whose client left is detached from its connection and ours to free;
     * one still connected is ended, and freed with the server */
    for (int i = 0; i < W.nstalled; i++)
        evhttp_send_reply_end(W.stalled[i]);
    if (W.raw)
        evconnlistener_free(W.raw);
    evhttp_free(W.http);
    evhttp_free(W.https);
    for (int i = 0; i < 4; i++)
        event_base_loop(W.base, EVLOOP_NONBLOCK);
    event_base_free(W.base);
    SSL_CTX_free(W.server_ctx);
    return nftw(W.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---------- tests ---------- */

static void test_http_8mib(void **state)
{
    (void)state;
    vapi_failure_t f;
    assert_non_null(start(url("http", "127.0.0.1", W.port, "/big"),
                          (opts_t){.alg = CHECKSUM_SHA256, .expected = BODY_LEN}, &f));
    assert_int_equal(W.done_calls, 0); /* never from inside pull_start */
    run(WAIT_MS, true);
    assert_int_equal(W.done_calls, 1);
    assert_true(W.ok);
    assert_int_equal(W.bytes, BODY_LEN);
    assert_string_equal(W.hex, body_sha256);
    check_staged("blob-1", BODY_LEN);
    assert_int_equal(staged_files(), 1); /* no .part left */
    assert_int_equal(W.http_requests, 1);
}

static void test_http_chunked_unknown_size(void **state)
{
    (void)state;
    vapi_failure_t f;
    assert_non_null(start(url("http", "127.0.0.1", W.port, "/chunked?x=1"),
                          (opts_t){.alg = CHECKSUM_SHA1, .expected = -1}, &f));
    run(WAIT_MS, true);
    assert_true(W.ok);
    assert_int_equal(W.bytes, BODY_LEN);
    assert_string_equal(W.hex, body_sha1);
    check_staged("blob-1", BODY_LEN);
}

static void test_http_404(void **state)
{
    (void)state;
    vapi_failure_t f;
    assert_non_null(start(url("http", "127.0.0.1", W.port, "/nothing"),
                          (opts_t){.expected = -1}, &f));
    run(WAIT_MS, true);
    expect_unreachable("HTTP status 404");
}

static void test_redirect_not_followed(void **state)
{
    (void)state;
    vapi_failure_t f;
    assert_non_null(start(url("http", "127.0.0.1", W.port, "/redirect"),
                          (opts_t){.expected = -1}, &f));
    run(WAIT_MS, true);
    expect_unreachable("HTTP status 302");
    expect_unreachable("http://elsewhere/x");
    assert_int_equal(W.http_requests, 1); /* and nothing went to elsewhere */
}

static void test_size_announced_mismatch(void **state)
{
    (void)state;
    vapi_failure_t f;
    assert_non_null(start(url("http", "127.0.0.1", W.port, "/big"),
                          (opts_t){.expected = BODY_LEN - 1}, &f));
    run(WAIT_MS, true);
    expect_error("announced 8388608 bytes, but the file size is 8388607 bytes");
    assert_int_equal(W.bytes, 0);
}

static void test_size_chunked_short_and_long(void **state)
{
    (void)state;
    vapi_failure_t f;
    assert_non_null(start(url("http", "127.0.0.1", W.port, "/chunked"),
                          (opts_t){.expected = BODY_LEN + 1}, &f));
    run(WAIT_MS, true);
    expect_error("sent 8388608 bytes, but the file size is 8388609 bytes");

    W.done_calls = 0;
    assert_non_null(start(url("http", "127.0.0.1", W.port, "/chunked"),
                          (opts_t){.expected = 100000, .blob = "blob-2"}, &f));
    run(WAIT_MS, true);
    expect_error("sent more than the file size of 100000 bytes");
    assert_true(W.bytes <= 100000);
}

static void test_idle_timeout_mid_body(void **state)
{
    (void)state;
    vapi_failure_t f;
    assert_non_null(start(url("http", "127.0.0.1", W.port, "/stall"),
                          (opts_t){.expected = -1, .idle_ms = 300}, &f));
    run(WAIT_MS, true);
    int64_t took = ms_since(&W.started);
    expect_error("No data from");
    assert_int_equal(W.bytes, 1000);
    if (took < 300 || took >= 2000)
        fail_msg("took %lld ms", (long long)took);
}

static void test_idle_timeout_no_answer(void **state)
{
    (void)state;
    raw_server(RAW_SILENT);
    vapi_failure_t f;
    assert_non_null(start(url("http", "127.0.0.1", W.raw_port, "/"),
                          (opts_t){.expected = -1, .idle_ms = 300, .connect_ms = 5000}, &f));
    run(WAIT_MS, true);
    int64_t took = ms_since(&W.started);
    expect_unreachable("No data from");
    if (took < 300 || took >= 2000)
        fail_msg("took %lld ms", (long long)took);
}

static void test_connect_refused(void **state)
{
    (void)state;
    /* a port nobody listens on: bind one, note it, close it */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof sin), 0);
    int port = port_of(s);
    close(s);
    vapi_failure_t f;
    assert_non_null(start(url("http", "127.0.0.1", port, "/"), (opts_t){.expected = -1}, &f));
    run(WAIT_MS, true);
    expect_unreachable("Cannot connect to 127.0.0.1 port");
}

static void test_connect_timeout_tls_handshake(void **state)
{
    (void)state;
    raw_server(RAW_SILENT); /* accepts TCP, never says a TLS word */
    vapi_failure_t f;
    assert_non_null(start(url("https", "127.0.0.1", W.raw_port, "/"),
                          (opts_t){.thumbprint = thumb, .expected = -1, .connect_ms = 300,
                                   .idle_ms = 60000},
                          &f));
    run(WAIT_MS, true);
    int64_t took = ms_since(&W.started);
    expect_unreachable("within 300 ms");
    if (took < 300 || took >= 2000)
        fail_msg("took %lld ms", (long long)took);
}

static void test_progress_slow_transfer(void **state)
{
    (void)state;
    raw_server(RAW_TRICKLE); /* 25 x 10 KiB, one every 100 ms: ~2.4 s */
    vapi_failure_t f;
    assert_non_null(start(url("http", "127.0.0.1", W.raw_port, "/slow"),
                          (opts_t){.alg = CHECKSUM_MD5, .expected = TRICKLE_PIECE * TRICKLE_PIECES,
                                   .idle_ms = 500},
                          &f));
    run(WAIT_MS, true);
    assert_true(W.ok); /* the idle timer (500 ms) was reset by every piece */
    assert_int_equal(W.bytes, TRICKLE_PIECE * TRICKLE_PIECES);
    char md5[CHECKSUM_MAX];
    digest_hex(EVP_md5(), body, TRICKLE_PIECE * TRICKLE_PIECES, md5);
    assert_string_equal(W.hex, md5);
    assert_in_range(W.progress_calls, 1, 3);
    assert_true(ms_since(&W.started) - ms_since(&W.progress_at[0]) >= 1000 - 5);
    for (int i = 1; i < W.progress_calls; i++) {
        int64_t gap = ms_since(&W.progress_at[i - 1]) - ms_since(&W.progress_at[i]);
        assert_true(gap >= 1000 - 5);
        assert_true(W.progress_bytes[i] > W.progress_bytes[i - 1]);
    }
}

static void test_close_delimited_body(void **state)
{
    (void)state;
    raw_server(RAW_CLOSE_BODY);
    vapi_failure_t f;
    assert_non_null(start(url("http", "127.0.0.1", W.raw_port, "/"),
                          (opts_t){.alg = CHECKSUM_SHA512, .expected = -1}, &f));
    run(WAIT_MS, true);
    assert_true(W.ok);
    assert_int_equal(W.bytes, 100000);
    char sha512[CHECKSUM_MAX];
    digest_hex(EVP_sha512(), body, 100000, sha512);
    assert_string_equal(W.hex, sha512);

    /* the same, but the size we expect is larger: the truncation is caught */
    W.done_calls = 0;
    assert_non_null(start(url("http", "127.0.0.1", W.raw_port, "/"),
                          (opts_t){.expected = 100001, .blob = "blob-2"}, &f));
    run(WAIT_MS, true);
    assert_int_equal(W.done_calls, 1);
    assert_false(W.ok);
    assert_non_null(strstr(W.msg.default_message, "sent 100000 bytes, but the file size is"));
}

static void test_truncated_body(void **state)
{
    (void)state;
    raw_server(RAW_SHORT); /* Content-Length 1000, 500 bytes, close */
    vapi_failure_t f;
    assert_non_null(start(url("http", "127.0.0.1", W.raw_port, "/"),
                          (opts_t){.expected = -1}, &f));
    run(WAIT_MS, true);
    expect_error("ended after 500 bytes");
}

static void test_huge_chunk_refused(void **state)
{
    (void)state;
    raw_server(RAW_BIG_CHUNK); /* one 32 MiB chunk */
    vapi_failure_t f;
    assert_non_null(start(url("http", "127.0.0.1", W.raw_port, "/"),
                          (opts_t){.expected = -1}, &f));
    run(WAIT_MS, true);
    expect_error("larger than 16777216 bytes");
    assert_int_equal(W.bytes, 0);
}

static void test_https_thumbprint_ok(void **state)
{
    (void)state;
    vapi_failure_t f;
    assert_non_null(start(url("https", "127.0.0.1", W.tls_port, "/big"),
                          (opts_t){.thumbprint = thumb, .alg = CHECKSUM_SHA256,
                                   .expected = BODY_LEN},
                          &f));
    run(WAIT_MS, true);
    assert_true(W.ok);
    assert_int_equal(W.bytes, BODY_LEN);
    assert_string_equal(W.hex, body_sha256);
    check_staged("blob-1", BODY_LEN);
    assert_string_equal(W.sni, ""); /* no SNI for an IP address */

    /* lower case without colons is the same thumbprint */
    char bare[THUMBPRINT_MAX];
    size_t n = 0;
    for (const char *s = thumb; *s; s++)
        if (*s != ':')
            bare[n++] = (char)(*s >= 'A' && *s <= 'F' ? *s - 'A' + 'a' : *s);
    bare[n] = '\0';
    W.done_calls = 0;
    assert_non_null(start(url("https", "127.0.0.1", W.tls_port, "/chunked"),
                          (opts_t){.thumbprint = bare, .expected = -1, .blob = "blob-2"}, &f));
    run(WAIT_MS, true);
    assert_true(W.ok);
    assert_string_equal(W.hex, body_sha1);
}

static void test_https_localhost_sni(void **state)
{
    (void)state;
    vapi_failure_t f;
    assert_non_null(start(url("https", "localhost", W.tls_port, "/big"),
                          (opts_t){.thumbprint = thumb, .expected = BODY_LEN}, &f));
    run(WAIT_MS, true);
    assert_true(W.ok);
    assert_string_equal(W.hex, body_sha1);
    assert_string_equal(W.sni, "localhost");
}

static void test_https_wrong_thumbprint(void **state)
{
    (void)state;
    char wrong[THUMBPRINT_MAX];
    snprintf(wrong, sizeof wrong, "%s", thumb);
    wrong[0] = wrong[0] == '0' ? '1' : '0';
    vapi_failure_t f;
    assert_non_null(start(url("https", "127.0.0.1", W.tls_port, "/big"),
                          (opts_t){.thumbprint = wrong, .expected = -1}, &f));
    run(WAIT_MS, true);
    expect_unreachable("thumbprint");
    assert_non_null(strstr(W.detail, thumb)); /* what the server has */
    assert_non_null(strstr(W.detail, wrong)); /* what we expected */
    assert_int_equal(W.https_requests, 0); /* the request never left */
}

static void test_https_untrusted_without_thumbprint(void **state)
{
    (void)state;
    vapi_failure_t f;
    assert_non_null(start(url("https", "127.0.0.1", W.tls_port, "/big"),
                          (opts_t){.thumbprint = "", .expected = -1}, &f));
    run(WAIT_MS, true);
    expect_unreachable("is not trusted");
    expect_unreachable("self-signed");
    assert_int_equal(W.https_requests, 0);
}

static void test_https_to_plain_server(void **state)
{
    (void)state;
    vapi_failure_t f;
    assert_non_null(start(url("https", "127.0.0.1", W.port, "/big"),
                          (opts_t){.thumbprint = thumb, .expected = -1}, &f));
    run(WAIT_MS, true);
    expect_unreachable("TLS handshake with 127.0.0.1");
}

static void test_cancel(void **state)
{
    (void)state;
    vapi_failure_t f;
    /* before the loop ever ran */
    assert_non_null(start(url("http", "127.0.0.1", W.port, "/big"), (opts_t){.expected = -1}, &f));
    pull_cancel(W.p);
    W.p = NULL;
    assert_int_equal(staged_files(), 0);

    /* mid-transfer (the server stalls after 1000 bytes) */
    assert_non_null(start(url("http", "127.0.0.1", W.port, "/stall"),
                          (opts_t){.expected = -1, .blob = "blob-2"}, &f));
    run(200, false);
    assert_int_equal(staged_files(), 1); /* the .part */
    pull_cancel(W.p);
    W.p = NULL;
    assert_int_equal(staged_files(), 0);
    run(100, false);
    assert_int_equal(W.done_calls, 0);
}

static void test_cancel_from_progress(void **state)
{
    (void)state;
    raw_server(RAW_TRICKLE);
    W.cancel_in_progress = true;
    vapi_failure_t f;
    assert_non_null(start(url("http", "127.0.0.1", W.raw_port, "/"), (opts_t){.expected = -1}, &f));
    run(3000, false);
    assert_int_equal(W.progress_calls, 1);
    assert_int_equal(W.done_calls, 0);
    assert_null(W.p);
    assert_int_equal(staged_files(), 0);
}

static void test_cancel_while_resolving(void **state)
{
    (void)state;
    vapi_failure_t f;
    /* a name that is in no hosts file: the lookup goes to the resolver (and may not return) */
    assert_non_null(start("http://pull-test.invalid/x", (opts_t){.expected = -1}, &f));
    event_base_loop(W.base, EVLOOP_NONBLOCK); /* the kick: the lookup starts */
    if (W.done_calls == 0) {
        pull_cancel(W.p);
        W.p = NULL;
    }
    run(200, false); /* evdns answers the cancel later; the handle goes after it */
    assert_int_equal(staged_files(), 0);
}

static void test_start_refusals(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "ftp://127.0.0.1/x", "http://", "http:///x", "http://u:p@127.0.0.1/x", "not a uri",
        "https://[zz]/x", "http://127.0.0.1:0/x", "http://127.0.0.1:70000/x", NULL,
    };
    vapi_failure_t f;
    for (int i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
        memset(&f, 0, sizeof f);
        assert_null(start(bad[i], (opts_t){.expected = -1}, &f));
        assert_int_equal(f.type, VAPI_INVALID_ARGUMENT);
    }
    assert_null(start("https://127.0.0.1/x", (opts_t){.thumbprint = "AA:BB", .expected = -1}, &f));
    assert_int_equal(f.type, VAPI_INVALID_ARGUMENT);
    assert_non_null(strstr(f.msg.default_message, "AA:BB"));
    assert_null(start("https://127.0.0.1/x", (opts_t){.thumbprint = "zz", .expected = -1}, &f));
    /* a thumbprint on http:// is ignored */
    assert_non_null(start(url("http", "127.0.0.1", W.port, "/big"),
                          (opts_t){.thumbprint = "junk", .expected = -1}, &f));
    pull_cancel(W.p);
    W.p = NULL;
    /* the storage cannot take the file: refused at once */
    pull_request_t rq = {.policy = &allow_loopback, .uri = "http://127.0.0.1/x",
                         .expected_size = -1, .storage_dir = W.dir, .session_id = "../bad:id",
                         .blob = "b"};
    pull_callbacks_t cb = {.done = on_done};
    assert_null(pull_start(W.base, &rq, &cb, &f));
    assert_int_equal(f.type, VAPI_INTERNAL_SERVER_ERROR);
    /* no policy: refused */
    rq.policy = NULL;
    rq.session_id = SID;
    assert_null(pull_start(W.base, &rq, &cb, &f));
    assert_int_equal(f.type, VAPI_INTERNAL_SERVER_ERROR);
    /* two pulls of the same blob: the second cannot create the file */
    assert_non_null(start(url("http", "127.0.0.1", W.port, "/big"), (opts_t){.expected = -1}, &f));
    pull_t *first = W.p;
    assert_null(start(url("http", "127.0.0.1", W.port, "/big"), (opts_t){.expected = -1}, &f));
    pull_cancel(first);
    W.p = NULL;
    assert_int_equal(W.done_calls, 0);
}

/* Literal addresses the policy refuses never start: pull_start and pull_check_source refuse
 * them (INVALID_ARGUMENT naming the field), and nothing connects. */
static void test_policy_literal_refused(void **state)
{
    (void)state;
    W.policy = &strict;
    char u4[64], u6[64], mapped[64];
    snprintf(u4, sizeof u4, "http://127.0.0.1:%d/big", W.port);
    snprintf(u6, sizeof u6, "http://[::1]:%d/big", W.port);
    snprintf(mapped, sizeof mapped, "http://[::ffff:127.0.0.1]:%d/big", W.port);
    const char *refused[] = {u4, u6, mapped, "http://10.0.0.1/x", "https://169.254.169.254/x",
                             "http://0.0.0.0/x", "http://[::]/x", "http://[fe80::1]/x",
                             "http://255.255.255.255/x", "http://100.64.0.1/x"};
    vapi_failure_t f;
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        memset(&f, 0, sizeof f);
        assert_null(start(refused[i], (opts_t){.expected = -1}, &f));
        assert_int_equal(f.type, VAPI_INVALID_ARGUMENT);
        assert_string_equal(f.msg.id, "com.vmware.vdcs.cls-main.pull_address_refused");
        assert_non_null(strstr(f.msg.default_message, "source_endpoint.uri"));
        memset(&f, 0, sizeof f);
        assert_int_equal(pull_check_source(&strict, refused[i], "file_spec.source_endpoint.uri",
                                           &f),
                         C_ERR);
        assert_int_equal(f.type, VAPI_INVALID_ARGUMENT);
        assert_non_null(strstr(f.msg.default_message, "file_spec.source_endpoint.uri"));
        /* which rule refused it is not said */
        assert_null(strstr(f.msg.default_message, "loopback"));
        assert_null(strstr(f.msg.default_message, "private"));
    }
    /* numbers in other forms: refused whatever the policy (ambiguous) */
    const char *numeric[] = {"http://127.1/x", "http://2130706433/x", "http://0x7f000001/x",
                             "http://0x7f.0.0.1/x", "http://127.0.0.1./x", "http://0177.0.0.1/x"};
    for (size_t i = 0; i < sizeof numeric / sizeof numeric[0]; i++) {
        memset(&f, 0, sizeof f);
        assert_int_equal(pull_check_source(&allow_loopback, numeric[i], "source_endpoint.uri",
                                           &f),
                         C_ERR);
        assert_int_equal(f.type, VAPI_INVALID_ARGUMENT);
        assert_non_null(strstr(f.msg.default_message, "dotted decimal"));
    }
    /* allowed by the policy: accepted; a public address or a name: accepted (names are judged
     * when resolved) */
    assert_int_equal(pull_check_source(&allow_loopback, u4, NULL, &f), C_OK);
    assert_int_equal(pull_check_source(&allow_loopback, u6, NULL, &f), C_OK);
    assert_int_equal(pull_check_source(&strict, "http://198.51.100.7/x", NULL, &f), C_OK);
    assert_int_equal(pull_check_source(&strict, "https://[2001:db8::1]:8443/x", NULL, &f), C_OK);
    assert_int_equal(pull_check_source(&strict, "http://localhost/x", NULL, &f), C_OK);
    /* malformed: named */
    assert_int_equal(pull_check_source(&strict, "http://u:p@h/x", "a.b", &f), C_ERR);
    assert_non_null(strstr(f.msg.default_message, "a.b"));
    assert_int_equal(pull_check_source(&strict, "http://[1.2.3.4]/x", "a.b", &f), C_ERR);
    assert_int_equal(pull_check_source(NULL, u4, "a.b", &f), C_ERR);
    assert_int_equal(f.type, VAPI_INTERNAL_SERVER_ERROR);

    run(100, false);
    assert_int_equal(W.done_calls, 0);
    assert_int_equal(W.http_requests, 0);
    assert_int_equal(staged_files(), 0);
}

/* A name that resolves to a refused address: the pull fails with the generic message, the
 * detail says what was found, and nothing connects. */
static void test_policy_name_refused(void **state)
{
    (void)state;
    W.policy = &strict;
    vapi_failure_t f;
    assert_non_null(start(url("http", "localhost", W.port, "/big"), (opts_t){.expected = -1}, &f));
    run(WAIT_MS, true);
    expect_unreachable("localhost resolves to 127.0.0.1");
    assert_non_null(strstr(W.detail, "loopback"));
    assert_int_equal(W.http_requests, 0);

    /* the same name with loopback allowed: fetched */
    W.policy = &allow_loopback;
    W.done_calls = 0;
    assert_non_null(start(url("http", "localhost", W.port, "/big"),
                          (opts_t){.expected = BODY_LEN, .blob = "blob-2"}, &f));
    run(WAIT_MS, true);
    assert_true(W.ok);
    assert_int_equal(W.http_requests, 1);
}

/* This process's own listen endpoint is refused even when its address is allowed; another
 * port of the same address is not. */
static void test_policy_own_endpoint(void **state)
{
    (void)state;
    netpolicy_t own = allow_loopback;
    own.self_port = W.port; /* as if we were the test server */
    own.self[own.nself++] = (np_addr_t){.family = 4, .b = {127, 0, 0, 1}};
    W.policy = &own;
    vapi_failure_t f;
    assert_null(start(url("http", "127.0.0.1", W.port, "/big"), (opts_t){.expected = -1}, &f));
    assert_int_equal(f.type, VAPI_INVALID_ARGUMENT);
    assert_non_null(start(url("http", "localhost", W.port, "/big"), (opts_t){.expected = -1}, &f));
    run(WAIT_MS, true);
    expect_unreachable("own listen address and port");
    assert_int_equal(W.http_requests, 0);
    /* the TLS server is on another port of the same address: allowed */
    W.done_calls = 0;
    assert_non_null(start(url("https", "127.0.0.1", W.tls_port, "/big"),
                          (opts_t){.thumbprint = thumb, .expected = BODY_LEN, .blob = "blob-2"},
                          &f));
    run(WAIT_MS, true);
    assert_true(W.ok);
}

/* Every failure before a 200 looks the same to the client: 404, redirect, connection refused,
 * TLS failure, silence, a name refused by the policy. */
static void test_unreachable_all_alike(void **state)
{
    (void)state;
    vapi_message_t seen[4];
    int n = 0;
    vapi_failure_t f;
    const char *uris[] = {"/nothing", "/redirect"};
    for (int i = 0; i < 2; i++) {
        W.done_calls = 0;
        assert_non_null(start(url("http", "127.0.0.1", W.port, uris[i]), (opts_t){.expected = -1},
                              &f));
        run(WAIT_MS, true);
        assert_true(W.unreachable);
        seen[n++] = W.msg;
    }
    W.done_calls = 0;
    assert_non_null(start(url("https", "127.0.0.1", W.port, "/big"),
                          (opts_t){.thumbprint = thumb, .expected = -1}, &f));
    run(WAIT_MS, true);
    assert_true(W.unreachable);
    seen[n++] = W.msg;
    W.done_calls = 0;
    W.policy = &strict;
    assert_non_null(start(url("http", "localhost", W.port, "/big"), (opts_t){.expected = -1}, &f));
    run(WAIT_MS, true);
    assert_true(W.unreachable);
    seen[n++] = W.msg;
    for (int i = 1; i < n; i++) {
        assert_string_equal(seen[i].id, seen[0].id);
        assert_string_equal(seen[i].default_message, seen[0].default_message);
        assert_int_equal(seen[i].nargs, seen[0].nargs);
        for (int a = 0; a < seen[0].nargs; a++)
            assert_string_equal(seen[i].args[a], seen[0].args[a]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_http_8mib, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_chunked_unknown_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_404, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redirect_not_followed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_announced_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_chunked_short_and_long, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_timeout_mid_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_timeout_no_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_timeout_tls_handshake, setup, teardown),
        cmocka_unit_test_setup_teardown(test_progress_slow_transfer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_delimited_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_huge_chunk_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_https_thumbprint_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_https_localhost_sni, setup, teardown),
        cmocka_unit_test_setup_teardown(test_https_wrong_thumbprint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_https_untrusted_without_thumbprint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_https_to_plain_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_from_progress, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_while_resolving, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_literal_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_name_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_own_endpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreachable_all_alike, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
