/* tests/bench/evhttp_baseline.c: the floor that `make bench` compares update-sessiond with.
 * A bare libevent evhttp server, single thread, on 127.0.0.1:PORT (argv[1]): every request,
 * whatever its method, path or body, gets 200 with a fixed 50-byte JSON string body and
 * Content-Type application/json. No parsing, no Redis: it measures what HTTP/1.1 keep-alive
 * on loopback costs with libevent on this machine, so the server's number can be read as a
 * ratio of it. Built by scripts/bench.sh:
 *   cc -O2 -std=c11 -Wall -Wextra -Werror tests/bench/evhttp_baseline.c \
 *      $(pkg-config --cflags --libs libevent) -o build/bench/evhttp_baseline
 * Stops on SIGINT/SIGTERM. */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 50 bytes: a JSON string about the size of an update session id. */
static const char BODY[] = "\"0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d:01234567890\"";

static void on_request(struct evhttp_request *req, void *arg)
{
    (void)arg;
    struct evbuffer *out = evhttp_request_get_output_buffer(req);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "application/json");
    evbuffer_add_reference(out, BODY, sizeof BODY - 1, NULL, NULL);
    evhttp_send_reply(req, HTTP_OK, "OK", NULL);
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    char *end = NULL;
    errno = 0;
    long port = strtol(argv[1], &end, 10);
    if (errno != 0 || end == argv[1] || *end != '\0' || port < 1 || port > 65535) {
        fprintf(stderr, "evhttp_baseline: bad port '%s'\n", argv[1]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    struct event_base *base = event_base_new();
    struct evhttp *http = base ? evhttp_new(base) : NULL;
    if (!http) {
        fprintf(stderr, "evhttp_baseline: libevent init failed\n");
        return 1;
    }
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                         EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE |
                                         EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS);
    evhttp_set_gencb(http, on_request, NULL);
    if (evhttp_bind_socket(http, "127.0.0.1", (ev_uint16_t)port) != 0) {
        fprintf(stderr, "evhttp_baseline: cannot listen on 127.0.0.1:%ld: %s\n", port,
                strerror(errno));
        return 1;
    }
    struct event *sigint = evsignal_new(base, SIGINT, on_signal, base);
    struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    if (!sigint || !sigterm || event_add(sigint, NULL) != 0 || event_add(sigterm, NULL) != 0) {
        fprintf(stderr, "evhttp_baseline: cannot install signal handlers\n");
        return 1;
    }
    event_base_dispatch(base);

    event_free(sigint);
    event_free(sigterm);
    evhttp_free(http);
    event_base_free(base);
    return 0;
}
