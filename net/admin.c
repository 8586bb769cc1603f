/* net/admin.c: /livez, /readyz and /metrics (net/admin.h). One table of routes; each answer is
 * plain text, made at once (no Redis round trip: readiness is the state of the link, which the
 * metrics probe keeps honest on a quiet instance). */
#include "net/admin.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <string.h>

#include "net/api.h"
#include "net/metrics.h"

#define TEXT "text/plain; charset=utf-8"
#define PROMETHEUS "text/plain; version=0.0.4; charset=utf-8"

typedef void (*admin_fn)(http_request_t *req, app_t *app);

typedef struct {
    const char *path;
    req_tag_t tag;
    admin_fn serve;
} admin_route_t;

static void serve_livez(http_request_t *req, app_t *app) {
    (void)app;
    http_respond(req, 200, TEXT, "ok\n", 3, "Cache-Control: no-store\r\n");
}

bool admin_ready(app_t *app, const char **why) {
    if (app->draining) {
        *why = "draining";
        return false;
    }
    if (!store_connected(app->store)) {
        store_kick(app->store);
        *why = "redis link down";
        return false;
    }
    *why = "";
    return true;
}

static void serve_readyz(http_request_t *req, app_t *app) {
    const char *why;
    char body[96];
    bool ready = admin_ready(app, &why);
    int n = ready ? snprintf(body, sizeof(body), "ok\n")
                  : snprintf(body, sizeof(body), "not ready: %s\n", why);
    http_respond(req, ready ? 200 : 503, TEXT, body, (size_t)n, "Cache-Control: no-store\r\n");
}

static void serve_metrics(http_request_t *req, app_t *app) {
    struct evbuffer *out = evbuffer_new();
    if (!out) {
        http_respond(req, 500, TEXT, "out of memory\n", 14, NULL);
        return;
    }
    metrics_render(app->metrics, out);
    size_t len = evbuffer_get_length(out);
    const char *text = (const char *)evbuffer_pullup(out, -1);
    http_respond(req, 200, PROMETHEUS, text, len, "Cache-Control: no-store\r\n");
    evbuffer_free(out);
}

static const admin_route_t routes[] = {
    {"/livez", REQ_LIVEZ, serve_livez},
    {"/readyz", REQ_READYZ, serve_readyz},
    {"/metrics", REQ_METRICS, serve_metrics},
};

bool admin_route(http_request_t *req, app_t *app) {
    if (!req->path) return false;
    for (size_t i = 0; i < ARRAY_LEN(routes); i++) {
        if (strcmp(req->path, routes[i].path) != 0) continue;
        req->tag = routes[i].tag;
        if (req->method != HTTP_GET && req->method != HTTP_HEAD)
            http_respond(req, 405, TEXT, "method not allowed\n", 19, "Allow: GET, HEAD\r\n");
        else
            routes[i].serve(req, app);
        return true;
    }
    return false;
}

void admin_handle(http_request_t *req, void *app) {
    if (admin_route(req, app)) return;
    req->tag = REQ_UNMATCHED;
    http_respond(req, 404, TEXT, "not found\n", 10, NULL);
}

void admin_reject(http_request_t *req, int status, const char *reason, void *app) {
    (void)app;
    req->tag = REQ_REJECTED;
    char body[160];
    int n = snprintf(body, sizeof(body), "%s\n", reason ? reason : "bad request");
    if (n < 0 || (size_t)n >= sizeof(body)) n = (int)sizeof(body) - 1;
    http_respond(req, status, TEXT, body, (size_t)n, NULL);
}
