/* tests/fuzz/http_driver.h: what the fuzzers that go through the HTTP front end share. It runs
 * net/http.c in-process without a listening port: the server gets one end of a socketpair
 * (through the test hook http_test_adopt), the fuzzer writes its input to the other end in
 * pieces, the event loop runs until nothing moves any more, and every byte the server sends
 * back is collected. It also splits those bytes into responses and checks their framing.
 *
 * Every wait is bounded: a loop that never settles, a write the server never drains or an
 * output that never ends are reported and abort() (libFuzzer then keeps the input). */
#ifndef TESTS_FUZZ_HTTP_DRIVER_H
#define TESTS_FUZZ_HTTP_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/http.h"

struct event_base;

typedef struct {
    struct event_base *base; /* one for the whole process; empty between inputs */
    http_server_t *srv;
    int client;              /* our end of the socketpair, non-blocking */
    char *out;               /* everything the server wrote, NUL-terminated */
    size_t out_len, out_cap;
    bool server_closed;      /* our end read EOF: the server closed or shut down writing */
    bool write_refused;      /* the server stopped taking input (closed, or never reads again) */
    uint64_t progress;       /* the fuzzer bumps it from its callbacks (settle sees movement) */
} hd_t;

/* A server with these limits (NULL: defaults) and callbacks, serving a fresh socketpair. */
void hd_start(hd_t *d, const http_limits_t *limits, http_handler_fn handler,
              http_reject_fn reject, void *arg);
/* Writes bytes to the server (as far as it takes them), then settles. */
void hd_feed(hd_t *d, const uint8_t *data, size_t len);
/* Runs the loop until a few rounds in a row move nothing: no callback, no byte read by either
 * side. */
void hd_settle(hd_t *d);
/* Half-closes our end (the server sees EOF) and settles. */
void hd_eof(hd_t *d);
/* Frees the server (requests still held by the application become orphans), runs the loop
 * once for deferred frees, and checks that no event of the server is left in the base. */
void hd_stop_server(hd_t *d);
/* Closes our end and frees the output. */
void hd_finish(hd_t *d);

/* Splits len bytes into 1..max_pieces pieces, sizes drawn from seed (deterministic). Fills
 * sizes[] and returns the number of pieces. */
size_t hd_split(size_t len, uint32_t seed, size_t *sizes, size_t max_pieces);

/* One response as parsed from the server's output. */
typedef struct {
    int status;
    const char *head;        /* status line and headers (not NUL-terminated) */
    size_t head_len;
    bool has_length;
    size_t content_length;
    bool close;              /* "Connection: close" */
    const char *body;        /* body bytes actually present (head + body_len within output) */
    size_t body_len;
} hd_response_t;

/* Parses the response starting at *pos. expect_body: whether a body of Content-Length bytes
 * follows (false for HEAD and bodyless statuses). Returns false (after printing why) for
 * anything that is not a well-framed HTTP/1.1 response; skips nothing. */
bool hd_parse_response(const hd_t *d, size_t *pos, bool expect_body, hd_response_t *r);
/* True when the output at *pos is an interim "HTTP/1.1 100 Continue" response (then skipped). */
bool hd_skip_continue(const hd_t *d, size_t *pos);

/* Prints a message and the output so far, then abort()s. */
void hd_fail(const hd_t *d, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

#endif
