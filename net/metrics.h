/* net/metrics.h: the instance's metrics, GET /metrics in the Prometheus text exposition format
 * (version 0.0.4), every name prefixed usd_ (README "Health and metrics" lists them).
 *
 * Requests are counted by the HTTP front end's observer (net/http.h), once per answer: the
 * request's tag names its operation label, the status its code. The hot path is two array
 * increments and a histogram bucket (core/histogram.h): no allocation, no formatting. The
 * labels are tables: the fixed ones below, then one per name in the operation table
 * (net/routes.c; rows that share a name share the label), and status codes get a slot the
 * first time they are answered. Formatting happens only when /metrics is read.
 *
 * usd_sessions_active is ZCARD of the deadline index, asked of Redis twice a second by a timer
 * (never on the request path; at most one ask in flight). The same ask is the readiness probe
 * of a quiet instance: a frozen Redis fails it within --redis-timeout-ms, which drops the link
 * (store/redis.c), so /readyz turns 503 without any traffic. */
#ifndef NET_METRICS_H
#define NET_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "net/http.h"

struct app;
struct evbuffer;

/* http_request_t.tag values: who served a request. 0 (never tagged) is the data plane's
 * streamed requests, which no operation routes. */
typedef enum {
    REQ_UPLOAD,     /* the upload URIs (/cls/data/...) */
    REQ_UNMATCHED,  /* no operation at this method, path and action */
    REQ_REJECTED,   /* refused by the front end itself (malformed, 413, 431 ...) */
    REQ_SOAP,       /* /sdk */
    REQ_LIVEZ,
    REQ_READYZ,
    REQ_METRICS,
    REQ_OPERATIONS  /* + the row of the operation table (net/routes.c) */
} req_tag_t;

/* The operation table's rows, for the labels (net/routes.c). */
size_t api_operation_count(void);
const char *api_operation_name(size_t row);

typedef struct metrics metrics_t;

/* Starts the once-a-second sessions_active ask. */
metrics_t *metrics_new(struct app *app);
/* Stops the ask timer (the store answers a call still in flight; m stays valid until freed). */
void metrics_stop(metrics_t *m);
void metrics_free(metrics_t *m);

/* The front end's observer (http_server_set_observer, arg = the metrics_t): counts the answer
 * and writes its access-log line when --access-log is on. */
void metrics_observe(const http_request_t *req, int status, int64_t elapsed_ns, void *arg);

/* Appends the whole exposition to out. */
void metrics_render(metrics_t *m, struct evbuffer *out);

#endif
