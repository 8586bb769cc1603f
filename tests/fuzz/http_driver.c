/* tests/fuzz/http_driver.c: runs net/http.c over a socketpair for the fuzzers (see
 * http_driver.h): feeding, settling the event loop, and parsing what came back. */
#include "tests/fuzz/http_driver.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

/* The test hook in net/http.c (deliberately not in net/http.h). */
int http_test_adopt(http_server_t *srv, int fd);

#define QUIET_ROUNDS 3          /* rounds without movement before the loop counts as settled */
#define MAX_ROUNDS 200000       /* a loop that moves for longer than this spins */
#define MAX_OUTPUT (16u << 20)  /* the server never has that much to say to one input */

void hd_fail(const hd_t *d, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "\nhttp fuzz invariant broken: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (d && d->out)
        fprintf(stderr, "\n--- server output so far (%zu bytes) ---\n%.*s\n---\n", d->out_len,
                d->out_len > 4096 ? 4096 : (int)d->out_len, d->out);
    else
        fprintf(stderr, "\n");
    abort();
}

static struct event_base *shared_base(void) {
    static struct event_base *base;
    if (!base) {
        base = event_base_new();
        if (!base) hd_fail(NULL, "event_base_new failed");
    }
    return base;
}

void hd_start(hd_t *d, const http_limits_t *limits, http_handler_fn handler,
              http_reject_fn reject, void *arg) {
    memset(d, 0, sizeof(*d));
    d->base = shared_base();
    d->srv = http_server_new(d->base, limits, handler, reject, arg);
    if (!d->srv) hd_fail(d, "http_server_new failed");
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
        hd_fail(d, "socketpair: %s", strerror(errno));
    d->client = sv[0];
    if (http_test_adopt(d->srv, sv[1]) != 0) hd_fail(d, "http_test_adopt failed");
    d->out_cap = 4096;
    d->out = malloc(d->out_cap);
    if (!d->out) hd_fail(d, "out of memory");
    d->out[0] = '\0';
}

/* Reads whatever the server sent; returns the number of bytes read. */
static size_t drain_client(hd_t *d) {
    size_t total = 0;
    for (;;) {
        if (d->out_cap - d->out_len < 4096 + 1) {
            if (d->out_cap >= MAX_OUTPUT) hd_fail(d, "the server wrote more than %u bytes", MAX_OUTPUT);
            char *p = realloc(d->out, d->out_cap * 2);
            if (!p) hd_fail(d, "out of memory");
            d->out = p;
            d->out_cap *= 2;
        }
        ssize_t n = recv(d->client, d->out + d->out_len, d->out_cap - d->out_len - 1, 0);
        if (n > 0) {
            d->out_len += (size_t)n;
            d->out[d->out_len] = '\0';
            total += (size_t)n;
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            d->server_closed = true;
        return total;
    }
}

/* Bytes we wrote that the server has not read yet. */
static size_t unread_input(const hd_t *d) {
    int n = 0;
    if (ioctl(d->client, SIOCOUTQ, &n) != 0) return 0;
    return n > 0 ? (size_t)n : 0;
}

/* One round: the loop once without blocking, then our side reads. Returns whether anything
 * moved. */
static bool round_moved(hd_t *d) {
    uint64_t progress = d->progress;
    size_t unread = unread_input(d);
    bool closed = d->server_closed;
    event_base_loop(d->base, EVLOOP_NONBLOCK);
    size_t got = drain_client(d);
    return got > 0 || d->progress != progress || unread_input(d) != unread ||
           d->server_closed != closed;
}

void hd_settle(hd_t *d) {
    int quiet = 0;
    for (long rounds = 0; quiet < QUIET_ROUNDS; rounds++) {
        if (rounds > MAX_ROUNDS) hd_fail(d, "the event loop does not settle");
        quiet = round_moved(d) ? 0 : quiet + 1;
    }
}

void hd_feed(hd_t *d, const uint8_t *data, size_t len) {
    size_t off = 0;
    int stuck = 0;
    while (off < len && !d->write_refused) {
        ssize_t n = send(d->client, data + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            off += (size_t)n;
            stuck = 0;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            d->write_refused = true; /* EPIPE, ECONNRESET: the server closed */
            break;
        }
        /* Our send buffer is full: the server reads when the loop runs, or has stopped. */
        if (round_moved(d))
            stuck = 0;
        else if (++stuck >= QUIET_ROUNDS)
            d->write_refused = true;
    }
    hd_settle(d);
}

void hd_eof(hd_t *d) {
    shutdown(d->client, SHUT_WR);
    hd_settle(d);
}

void hd_stop_server(hd_t *d) {
    if (!d->srv) return;
    http_server_free(d->srv);
    d->srv = NULL;
    for (int i = 0; i < QUIET_ROUNDS; i++) event_base_loop(d->base, EVLOOP_NONBLOCK);
    drain_client(d);
    int left = event_base_get_num_events(d->base, EVENT_BASE_COUNT_ADDED | EVENT_BASE_COUNT_ACTIVE);
    if (left != 0) hd_fail(d, "%d event(s) left in the base after http_server_free", left);
}

void hd_finish(hd_t *d) {
    if (d->client > 0) close(d->client);
    d->client = -1;
    free(d->out);
    d->out = NULL;
}

/* xorshift32: small, deterministic, and good enough to pick piece sizes. */
static uint32_t next_rand(uint32_t *s) {
    uint32_t x = *s ? *s : 0x9e3779b9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

size_t hd_split(size_t len, uint32_t seed, size_t *sizes, size_t max_pieces) {
    if (max_pieces == 0) return 0;
    size_t n = 0;
    uint32_t s = seed * 2654435761u + 1;
    /* The low bits of the seed choose the style: whole, byte by byte at first, or random. */
    switch (seed & 3) {
    case 0:
        sizes[n++] = len;
        return n;
    case 1:
        while (len > 0 && n + 1 < max_pieces && n < 64) {
            sizes[n++] = 1;
            len--;
        }
        break;
    default:
        while (len > 0 && n + 1 < max_pieces) {
            size_t k = 1 + next_rand(&s) % ((seed & 3) == 2 ? 16 : 512);
            if (k > len) k = len;
            sizes[n++] = k;
            len -= k;
        }
        break;
    }
    if (len > 0 || n == 0) sizes[n++] = len;
    return n;
}

bool hd_skip_continue(const hd_t *d, size_t *pos) {
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    if (d->out_len - *pos >= sizeof(cont) - 1 && memcmp(d->out + *pos, cont, sizeof(cont) - 1) == 0) {
        *pos += sizeof(cont) - 1;
        return true;
    }
    return false;
}

/* "Name: value" at line (len bytes, without CRLF): value when the name matches. */
static const char *header_value(const char *line, size_t len, const char *name, size_t *vlen) {
    size_t nlen = strlen(name);
    if (len < nlen + 1 || strncasecmp(line, name, nlen) != 0 || line[nlen] != ':') return NULL;
    const char *v = line + nlen + 1;
    while (v < line + len && *v == ' ') v++;
    *vlen = (size_t)(line + len - v);
    return v;
}

bool hd_parse_response(const hd_t *d, size_t *pos, bool expect_body, hd_response_t *r) {
    memset(r, 0, sizeof(*r));
    const char *p = d->out + *pos;
    size_t avail = d->out_len - *pos;
    if (avail < 13 || memcmp(p, "HTTP/1.1 ", 9) != 0) {
        fprintf(stderr, "response at %zu does not start with \"HTTP/1.1 \"\n", *pos);
        return false;
    }
    for (int i = 9; i < 12; i++)
        if (p[i] < '0' || p[i] > '9') {
            fprintf(stderr, "response at %zu: bad status code\n", *pos);
            return false;
        }
    r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    const char *end = memmem(p, avail, "\r\n\r\n", 4);
    if (!end) {
        fprintf(stderr, "response at %zu: head never ends\n", *pos);
        return false;
    }
    r->head = p;
    r->head_len = (size_t)(end - p) + 4;
    const char *line = memchr(p, '\n', r->head_len) + 1; /* after the status line */
    while (line < end) {
        const char *eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
        size_t len = (size_t)(eol - line), vlen;
        const char *v;
        if (!memchr(line, ':', len)) {
            fprintf(stderr, "response at %zu: header line without ':'\n", *pos);
            return false;
        }
        if ((v = header_value(line, len, "Content-Length", &vlen)) != NULL) {
            size_t n = 0;
            if (vlen == 0 || vlen > 12) return false;
            for (size_t i = 0; i < vlen; i++) {
                if (v[i] < '0' || v[i] > '9') return false;
                n = n * 10 + (size_t)(v[i] - '0');
            }
            if (r->has_length) {
                fprintf(stderr, "response at %zu: two Content-Length headers\n", *pos);
                return false;
            }
            r->has_length = true;
            r->content_length = n;
        } else if ((v = header_value(line, len, "Connection", &vlen)) != NULL) {
            r->close = vlen == 5 && strncasecmp(v, "close", 5) == 0;
        }
        line = eol + 2;
    }
    bool bodyless_status = r->status < 200 || r->status == 204 || r->status == 304;
    if (bodyless_status && r->has_length) {
        fprintf(stderr, "response at %zu: status %d with a Content-Length\n", *pos, r->status);
        return false;
    }
    if (!bodyless_status && !r->has_length) {
        fprintf(stderr, "response at %zu: status %d without Content-Length\n", *pos, r->status);
        return false;
    }
    r->body = p + r->head_len;
    if (expect_body && !bodyless_status) {
        if (avail - r->head_len < r->content_length) {
            fprintf(stderr, "response at %zu: body cut short\n", *pos);
            return false;
        }
        r->body_len = r->content_length;
    }
    *pos += r->head_len + r->body_len;
    return true;
}
