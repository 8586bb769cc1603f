/* tests/fuzz/fuzz_http.c: libFuzzer target for the HTTP front end (net/http.c): raw bytes in,
 * responses and close decisions out.
 *
 * Input: byte 0 holds switches, byte 1 chooses how the rest is cut into pieces (hd_split), the
 * rest is what a client sends on one connection. Switches: bit 0 small limits (512-byte heads,
 * 256-byte bodies, so 431 and 413 are near), bit 1 streaming on for /cls/data/.
 *
 * The application answers in ways chosen by the request path, so the fuzzer reaches every
 * way of answering:
 *   /hold...        held by the handler, answered between two pieces (asynchronous answer)
 *   /big...         a 300 000-byte answer (output above the server's high-water mark)
 *   anything else   answered at once: 200 and "<method> <path>"
 *   /cls/data/X...  (streaming on; PUT, POST, PATCH, HEAD) a streamed body, by X:
 *                   r refused from on_start; h resumed only between pieces; a answered from
 *                   inside on_data; s on_data says stop, answered between pieces; p paused
 *                   after every piece of body, resumed between pieces; else plain streaming
 *                   answered 201 "bytes=N" from on_end.
 *
 * Checked, besides what ASan and UBSan see:
 *   - the output is exactly the responses the application gave, in order (status, framing,
 *     body; no body for HEAD), with only "100 Continue" interim responses in between;
 *   - a response that must close (refusal, answer mid-body, "Connection: close" request) says
 *     "Connection: close", and nothing follows a closing response: the server then closes;
 *     the server never closes after a keep-alive response unless a streamed body was cut;
 *   - the path the handler sees is the percent-decoding of the raw path, which never holds
 *     '?' or '#'; http_query_param agrees with a reference decoder for many names and sizes;
 *   - a streamed body delivers exactly its declared length; at most one request is with the
 *     application at a time; the counters add up;
 *   - the event loop settles after every piece, and no event is left after the server is freed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "net/http.h"
#include "tests/fuzz/http_driver.h"

#define SMALL_HEADER 512
#define SMALL_BODY 256
#define BIG_BODY 300000
#define MAX_PIECES 256
#define DATA_PREFIX "/cls/data/"

typedef enum { LIVE_NONE, LIVE_HELD, LIVE_STREAM } live_kind_t;

/* A response the application gave that must be on the wire. */
typedef struct {
    int status;
    bool head;        /* no body on the wire */
    bool must_close;
    char *body;
    size_t body_len;
} sent_t;

static struct {
    hd_t d;
    bool small;
    /* the one request with the application */
    live_kind_t live;
    http_request_t *req;
    char mode;
    bool hold_start, paused, stopped;
    uint64_t bytes;
    int64_t declared;
    /* what happened */
    sent_t *sent;
    size_t nsent, sent_cap;
    bool cut;         /* a streamed body was cut: the server closes without an answer */
    uint64_t handled, rejected, streams;
} A;

static char *big_body;

/* ---------- reference decoding (independent of net/http.c) ---------- */

static int hex(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* RFC 3986 percent-decoding of len bytes into out (cap bytes at most); '+' is a space when
 * plus is set. -1 for a bad escape, a NUL, or more than cap bytes. */
static long ref_decode(const char *s, size_t len, char *out, size_t cap, bool plus) {
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (len - i < 3 || hex((unsigned char)s[i + 1]) < 0 || hex((unsigned char)s[i + 2]) < 0)
                return -1;
            c = hex((unsigned char)s[i + 1]) * 16 + hex((unsigned char)s[i + 2]);
            i += 2;
        } else if (plus && c == '+') {
            c = ' ';
        }
        if (c == 0 || o >= cap) return -1;
        out[o++] = (char)c;
    }
    return (long)o;
}

/* What http_query_param is documented to do: the first parameter whose decoded name is `name`
 * (names decoding to more than 255 bytes never match), its value decoded into out. */
static bool ref_query_param(const char *q, const char *name, char *out, size_t size) {
    if (!q) return false;
    for (;;) {
        size_t plen = strcspn(q, "&");
        const char *eq = memchr(q, '=', plen);
        size_t klen = eq ? (size_t)(eq - q) : plen;
        char key[256];
        long k = plen > 0 ? ref_decode(q, klen, key, sizeof(key), true) : -1;
        if (k >= 0 && (size_t)k == strlen(name) && memcmp(key, name, (size_t)k) == 0) {
            long n = eq ? ref_decode(eq + 1, plen - klen - 1, out, size - 1, true) : 0;
            if (n < 0) return false;
            out[n] = '\0';
            return true;
        }
        if (q[plen] == '\0') return false;
        q += plen + 1;
    }
}

static void check_query(const http_request_t *req) {
    static const char *const names[] = {"action", "~action", "client_token", "library_item_id",
                                        "update_session_id", "a b", "x", ""};
    static const size_t sizes[] = {1, 2, 9, 64, 600};
    char first[300] = "";
    if (req->query) {
        size_t plen = strcspn(req->query, "&"), klen = strcspn(req->query, "&=");
        long n = ref_decode(req->query, klen < plen ? klen : plen, first, sizeof(first) - 1, true);
        first[n > 0 ? n : 0] = '\0';
    }
    for (size_t i = 0; i <= sizeof(names) / sizeof(names[0]); i++) {
        const char *name = i < sizeof(names) / sizeof(names[0]) ? names[i] : first;
        for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
            char got[600], want[600];
            memset(got, 'Z', sizeof(got));
            bool g = http_query_param(req, name, got, sizes[k]);
            bool w = ref_query_param(req->query, name, want, sizes[k]);
            if (g != w || (g && strcmp(got, want) != 0))
                hd_fail(&A.d, "http_query_param(\"%s\", size %zu) on query \"%s\": got %s \"%s\", "
                        "reference %s \"%s\"", name, sizes[k], req->query ? req->query : "(none)",
                        g ? "true" : "false", g ? got : "", w ? "true" : "false", w ? want : "");
            if (g && strlen(got) >= sizes[k]) hd_fail(&A.d, "http_query_param overran its size");
        }
    }
}

/* What every request handed to the application must look like. */
static void check_request(const http_request_t *req) {
    if (!req->path || !req->raw_path) hd_fail(&A.d, "a request without path");
    if (strpbrk(req->raw_path, "?#")) hd_fail(&A.d, "raw path \"%s\" holds '?' or '#'", req->raw_path);
    size_t rlen = strlen(req->raw_path);
    char *dec = malloc(rlen + 1);
    long n = dec ? ref_decode(req->raw_path, rlen, dec, rlen, false) : -1;
    if (n < 0 || (size_t)n != strlen(req->path) || memcmp(dec, req->path, (size_t)n) != 0)
        hd_fail(&A.d, "path \"%s\" is not the decoding of \"%s\"", req->path, req->raw_path);
    free(dec);
    if (!req->method_name || !*req->method_name) hd_fail(&A.d, "a request without method name");
    const char *hs[] = {"Host", "Content-Length", "Transfer-Encoding", "Expect", "Connection", "x"};
    for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
        const char *v = http_header(req, hs[i]);
        if (v) (void)strlen(v);
    }
    check_query(req);
}

/* ---------- the application ---------- */

static void record(http_request_t *req, int status, const char *body, size_t len, bool must_close) {
    if (A.nsent == A.sent_cap) {
        size_t cap = A.sent_cap ? A.sent_cap * 2 : 16;
        sent_t *s = realloc(A.sent, cap * sizeof(*s));
        if (!s) hd_fail(&A.d, "out of memory");
        A.sent = s;
        A.sent_cap = cap;
    }
    sent_t *s = &A.sent[A.nsent++];
    s->status = status;
    s->head = req->method == HTTP_HEAD;
    const char *conn = http_header(req, "Connection");
    s->must_close = must_close || (conn && strcasecmp(conn, "close") == 0);
    s->body = malloc(len + 1);
    if (!s->body) hd_fail(&A.d, "out of memory");
    memcpy(s->body, body, len);
    s->body_len = len;
}

/* Answers the live request. on_wire: the response must reach the client. */
static void answer(http_request_t *req, int status, const char *body, size_t len, bool on_wire,
                   bool must_close) {
    if (on_wire) record(req, status, body, len, must_close);
    if (req == A.req) {
        A.live = LIVE_NONE;
        A.req = NULL;
        A.hold_start = A.paused = A.stopped = false;
    }
    A.d.progress++;
    http_respond(req, status, "text/plain", body, len, "X-Fuzz: 1\r\n");
}

static void take(http_request_t *req, live_kind_t kind) {
    if (A.live != LIVE_NONE) hd_fail(&A.d, "a second request reached the application on one connection");
    A.live = kind;
    A.req = req;
}

static void handler(http_request_t *req, void *arg) {
    (void)arg;
    A.handled++;
    A.d.progress++;
    check_request(req);
    size_t blen = evbuffer_get_length(req->body);
    if (A.small && blen > SMALL_BODY) hd_fail(&A.d, "a %zu-byte body passed a %d-byte limit", blen, SMALL_BODY);
    if (strncmp(req->path, "/hold", 5) == 0) {
        take(req, LIVE_HELD);
        return;
    }
    take(req, LIVE_HELD);
    if (strncmp(req->path, "/big", 4) == 0) {
        answer(req, 200, big_body, BIG_BODY, true, false);
        return;
    }
    char out[256];
    int n = snprintf(out, sizeof(out), "%s %s", req->method_name, req->path);
    answer(req, 200, out, (size_t)n < sizeof(out) ? (size_t)n : sizeof(out) - 1, true, false);
}

static void reject(http_request_t *req, int status, const char *reason, void *arg) {
    (void)arg;
    A.rejected++;
    A.d.progress++;
    if (status < 400 || status > 599) hd_fail(&A.d, "refused with status %d", status);
    take(req, LIVE_HELD);
    answer(req, status, reason, strlen(reason), true, true);
}

static bool stream_match(const http_request_t *req, void *arg) {
    (void)arg;
    return (req->method == HTTP_PUT || req->method == HTTP_POST || req->method == HTTP_PATCH ||
            req->method == HTTP_HEAD) &&
           req->path && strncmp(req->path, DATA_PREFIX, strlen(DATA_PREFIX)) == 0;
}

static void stream_start(http_request_t *req, void *arg) {
    (void)arg;
    A.streams++;
    A.d.progress++;
    check_request(req);
    take(req, LIVE_STREAM);
    A.mode = req->path[strlen(DATA_PREFIX)];
    A.bytes = 0;
    A.declared = http_content_length(req);
    A.paused = A.stopped = A.hold_start = false;
    if (A.mode == 'r') {
        answer(req, 404, "no such upload", 14, true, true);
    } else if (A.mode == 'h') {
        A.hold_start = true;
    } else {
        http_stream_resume(req);
    }
}

static int stream_data(http_request_t *req, const char *data, size_t len, void *arg) {
    (void)arg;
    (void)data;
    A.d.progress++;
    if (req != A.req || A.live != LIVE_STREAM) hd_fail(&A.d, "on_data for a request not streaming");
    if (A.stopped) hd_fail(&A.d, "on_data after it asked to stop");
    if (A.paused || A.hold_start) hd_fail(&A.d, "on_data while paused");
    A.bytes += len;
    if (A.declared >= 0 && A.bytes > (uint64_t)A.declared)
        hd_fail(&A.d, "%llu body bytes delivered for a declared %lld",
                (unsigned long long)A.bytes, (long long)A.declared);
    switch (A.mode) {
    case 'a':
        answer(req, 413, "too much", 8, true, true);
        return 0;
    case 's':
        A.stopped = true;
        return -1;
    case 'p':
        A.paused = true;
        http_stream_pause(req);
        return 0;
    default:
        return 0;
    }
}

static void stream_end(http_request_t *req, bool complete, void *arg) {
    (void)arg;
    A.d.progress++;
    if (req != A.req || A.live != LIVE_STREAM) hd_fail(&A.d, "on_end for a request not streaming");
    if (!complete) {
        A.cut = true;
        answer(req, 500, "cut", 3, false, false); /* orphaned: only frees */
        return;
    }
    if (A.stopped) hd_fail(&A.d, "on_end(true) after on_data asked to stop");
    if (A.declared >= 0 && A.bytes != (uint64_t)A.declared)
        hd_fail(&A.d, "a complete body of %llu bytes for a declared %lld",
                (unsigned long long)A.bytes, (long long)A.declared);
    char out[64];
    int n = snprintf(out, sizeof(out), "bytes=%llu", (unsigned long long)A.bytes);
    answer(req, 201, out, (size_t)n, true, false);
}

/* Between pieces: what the application does later (asynchronous answers, resumes). Returns
 * whether it did anything. */
static bool tick(void) {
    http_request_t *req = A.req;
    if (A.live == LIVE_HELD) {
        answer(req, 200, "held", 4, true, false);
        return true;
    }
    if (A.live != LIVE_STREAM) return false;
    if (A.stopped) {
        answer(req, 400, "stopped", 7, true, true);
        return true;
    }
    if (A.hold_start || A.paused) {
        A.hold_start = A.paused = false;
        A.d.progress++;
        http_stream_resume(req);
        return true;
    }
    return false;
}

/* ---------- the output against what the application said ---------- */

static void check_output(bool before_eof) {
    size_t pos = 0;
    for (size_t i = 0; i < A.nsent; i++) {
        const sent_t *s = &A.sent[i];
        while (hd_skip_continue(&A.d, &pos)) {}
        hd_response_t r;
        if (pos >= A.d.out_len)
            hd_fail(&A.d, "response %zu of %zu (status %d) is missing", i + 1, A.nsent, s->status);
        if (!hd_parse_response(&A.d, &pos, !s->head, &r))
            hd_fail(&A.d, "response %zu of %zu is malformed", i + 1, A.nsent);
        if (r.status != s->status)
            hd_fail(&A.d, "response %zu has status %d, the application said %d", i + 1, r.status, s->status);
        bool bodyless = s->status < 200 || s->status == 204 || s->status == 304;
        if (!bodyless && r.content_length != s->body_len)
            hd_fail(&A.d, "response %zu: Content-Length %zu for a %zu-byte body", i + 1,
                    r.content_length, s->body_len);
        if (!bodyless && !s->head && memcmp(r.body, s->body, s->body_len) != 0)
            hd_fail(&A.d, "response %zu: body differs", i + 1);
        if (s->must_close && !r.close) hd_fail(&A.d, "response %zu should close the connection", i + 1);
        if (r.close && i + 1 < A.nsent) hd_fail(&A.d, "response %zu closes, yet more followed", i + 1);
    }
    while (hd_skip_continue(&A.d, &pos)) {}
    if (pos != A.d.out_len)
        hd_fail(&A.d, "%zu bytes after the last of %zu responses", A.d.out_len - pos, A.nsent);
    if (!before_eof) return;
    /* Close decisions: a closing response is followed by the close; a keep-alive one is not,
     * unless a streamed body was cut afterwards. */
    bool last_closes = false;
    if (A.nsent > 0) {
        size_t p = 0;
        hd_response_t r;
        for (size_t i = 0; i < A.nsent; i++) {
            while (hd_skip_continue(&A.d, &p)) {}
            hd_parse_response(&A.d, &p, !A.sent[i].head, &r);
        }
        last_closes = r.close;
    }
    if (last_closes && !A.d.server_closed) hd_fail(&A.d, "the last response closes, the connection stays open");
    if (A.d.server_closed && !last_closes && !A.cut)
        hd_fail(&A.d, "the server closed after a keep-alive response");
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    big_body = malloc(BIG_BODY);
    for (size_t i = 0; i < BIG_BODY; i++) big_body[i] = (char)('a' + i % 26);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    uint8_t flags = data[0];
    uint32_t seed = data[1];
    data += 2;
    size -= 2;

    memset(&A, 0, sizeof(A));
    A.small = flags & 1;
    http_limits_t l;
    http_limits_defaults(&l);
    if (A.small) {
        l.max_header_bytes = SMALL_HEADER;
        l.max_body_bytes = SMALL_BODY;
    }
    hd_start(&A.d, &l, handler, reject, NULL);
    if (flags & 2) {
        http_stream_t st = {stream_match, stream_start, stream_data, stream_end, NULL, NULL};
        http_server_set_stream(A.d.srv, &st);
    }

    size_t sizes[MAX_PIECES];
    size_t n = hd_split(size, seed, sizes, MAX_PIECES), off = 0;
    for (size_t i = 0; i < n; i++) {
        hd_feed(&A.d, data + off, sizes[i]);
        off += sizes[i];
        if (tick()) hd_settle(&A.d);
    }
    for (int i = 0; i < 100000 && tick(); i++) hd_settle(&A.d);
    if (A.live == LIVE_HELD || A.stopped || A.paused || A.hold_start)
        hd_fail(&A.d, "the application still holds a request it could answer");
    check_output(true);

    hd_eof(&A.d);
    http_stats_t stats;
    http_server_stats(A.d.srv, &stats);
    if (stats.requests != A.handled + A.streams || stats.rejected != A.rejected)
        hd_fail(&A.d, "counters: %llu requests and %llu refusals, the application saw %llu and %llu",
                (unsigned long long)stats.requests, (unsigned long long)stats.rejected,
                (unsigned long long)(A.handled + A.streams), (unsigned long long)A.rejected);
    hd_stop_server(&A.d);
    if (A.live != LIVE_NONE) /* a streamed body still arriving when the server went */
        hd_fail(&A.d, "a request still live after http_server_free");
    check_output(false);
    hd_finish(&A.d);
    for (size_t i = 0; i < A.nsent; i++) free(A.sent[i].body);
    free(A.sent);
    return 0;
}
