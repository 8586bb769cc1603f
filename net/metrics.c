/* net/metrics.c: counting requests (the observer), the sessions_active ask, and the
 * exposition (net/metrics.h). */
#include "net/metrics.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/histogram.h"
#include "net/admin.h"
#include "net/api.h"
#include "net/data/data.h"
#include "net/log.h"

#define TAGS_MAX 256
#define LABELS_MAX 128
#define CODE_SLOTS 32          /* distinct status codes counted one by one; more: code="other" */
#define ASK_INTERVAL_MS 500    /* usd_sessions_active is at most this old (plus a round trip) */

/* The labels of the fixed tags (req_tag_t), in order. */
static const char *const fixed_labels[REQ_OPERATIONS] = {
    [REQ_UPLOAD] = "upload",   [REQ_UNMATCHED] = "unmatched", [REQ_REJECTED] = "rejected",
    [REQ_SOAP] = "soap",       [REQ_LIVEZ] = "livez",         [REQ_READYZ] = "readyz",
    [REQ_METRICS] = "metrics",
};

struct metrics {
    app_t *app;
    struct event *ask_timer;
    bool asking;                     /* a sessions_active call is in flight */
    bool sessions_known;             /* the last ask was answered */
    int64_t sessions_active;
    int64_t start_s;                 /* process start, wall clock */

    size_t nlabels;
    const char *label[LABELS_MAX];
    uint8_t label_of_tag[TAGS_MAX];
    uint8_t code_slot[1000];         /* status -> slot + 1; 0: no slot yet */
    int slot_code[CODE_SLOTS];
    int nslots;
    uint64_t requests[LABELS_MAX][CODE_SLOTS + 1]; /* [CODE_SLOTS]: code="other" */
    histogram_t duration[LABELS_MAX];
};

/* The label index of name, added if new (rows of the operation table share names). */
static uint8_t label_index(metrics_t *m, const char *name) {
    for (size_t i = 0; i < m->nlabels; i++)
        if (strcmp(m->label[i], name) == 0) return (uint8_t)i;
    if (m->nlabels == LABELS_MAX) return REQ_UNMATCHED; /* cannot happen with today's table */
    m->label[m->nlabels] = name;
    return (uint8_t)m->nlabels++;
}

static void on_sessions_active(void *arg, store_status_t st, int64_t n) {
    metrics_t *m = arg;
    m->asking = false;
    m->sessions_known = st == ST_OK;
    if (st == ST_OK) m->sessions_active = n;
}

static void on_ask(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    metrics_t *m = arg;
    if (m->asking) return; /* a frozen Redis: the call's own timeout answers it */
    m->asking = true;
    store_sessions_active(m->app->store, on_sessions_active, m);
}

metrics_t *metrics_new(app_t *app) {
    metrics_t *m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    m->app = app;
    m->start_s = (int64_t)time(NULL);
    for (int t = 0; t < REQ_OPERATIONS; t++) m->label_of_tag[t] = label_index(m, fixed_labels[t]);
    size_t rows = api_operation_count();
    for (size_t r = 0; r < rows && REQ_OPERATIONS + r < TAGS_MAX; r++)
        m->label_of_tag[REQ_OPERATIONS + r] = label_index(m, api_operation_name(r));
    m->ask_timer = event_new(app->base, -1, EV_PERSIST, on_ask, m);
    if (!m->ask_timer) {
        free(m);
        return NULL;
    }
    struct timeval tv = {ASK_INTERVAL_MS / 1000, (ASK_INTERVAL_MS % 1000) * 1000};
    event_add(m->ask_timer, &tv);
    on_ask(-1, 0, m); /* the first ask now (answered from the loop, never from here) */
    return m;
}

void metrics_stop(metrics_t *m) {
    if (m && m->ask_timer) event_del(m->ask_timer);
}

void metrics_free(metrics_t *m) {
    if (!m) return;
    if (m->ask_timer) event_free(m->ask_timer);
    free(m);
}

/* The slot of a status code, assigned the first time it is answered. */
static int code_slot(metrics_t *m, int status) {
    int s = m->code_slot[status];
    if (s) return s - 1;
    if (m->nslots == CODE_SLOTS) return CODE_SLOTS;
    m->slot_code[m->nslots] = status;
    m->code_slot[status] = (uint8_t)(++m->nslots);
    return m->nslots - 1;
}

void metrics_observe(const http_request_t *req, int status, int64_t elapsed_ns, void *arg) {
    metrics_t *m = arg;
    int tag = req->tag >= 0 && req->tag < TAGS_MAX ? req->tag : REQ_UNMATCHED;
    unsigned l = m->label_of_tag[tag];
    m->requests[l][code_slot(m, status)]++; /* http_respond keeps status in 100..999 */
    hist_observe(&m->duration[l], elapsed_ns);
    if (log_access_enabled())
        log_access(req->method_name && req->method_name[0] ? req->method_name : "-", m->label[l],
                   status, elapsed_ns, req->peer);
}

/* ---- the exposition ------------------------------------------------------------------------ */

static void family(struct evbuffer *o, const char *name, const char *type, const char *help) {
    evbuffer_add_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void scalar(struct evbuffer *o, const char *name, const char *type, const char *help,
                   uint64_t value) {
    family(o, name, type, help);
    evbuffer_add_printf(o, "%s %llu\n", name, (unsigned long long)value);
}

/* A histogram's series; labels is "" or `name="value"` pairs without braces. */
static void histogram(struct evbuffer *o, const char *name, const char *labels,
                      const histogram_t *h) {
    const char *sep = labels[0] ? "," : "";
    for (int i = 0; i <= HIST_BUCKETS; i++)
        evbuffer_add_printf(o, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels, sep,
                            i < HIST_BUCKETS ? hist_bounds_text[i] : "+Inf",
                            (unsigned long long)hist_cumulative(h, i));
    const char *open = labels[0] ? "{" : "", *close = labels[0] ? "}" : "";
    evbuffer_add_printf(o, "%s_sum%s%s%s %.9f\n", name, open, labels, close,
                        (double)h->sum_ns / 1e9);
    evbuffer_add_printf(o, "%s_count%s%s%s %llu\n", name, open, labels, close,
                        (unsigned long long)h->count);
}

static void render_http(metrics_t *m, struct evbuffer *o) {
    family(o, "usd_http_requests_total", "counter",
           "Requests answered, by operation and HTTP status.");
    for (size_t l = 0; l < m->nlabels; l++) {
        for (int s = 0; s <= CODE_SLOTS; s++) {
            if (!m->requests[l][s]) continue;
            char code[12] = "other";
            if (s < CODE_SLOTS) snprintf(code, sizeof(code), "%d", m->slot_code[s]);
            evbuffer_add_printf(o, "usd_http_requests_total{op=\"%s\",code=\"%s\"} %llu\n",
                                m->label[l], code, (unsigned long long)m->requests[l][s]);
        }
    }
    family(o, "usd_http_request_duration_seconds", "histogram",
           "Time from a request's arrival (whole, or its headers for an upload) to its answer.");
    for (size_t l = 0; l < m->nlabels; l++) {
        if (!m->duration[l].count) continue;
        char labels[160];
        snprintf(labels, sizeof(labels), "op=\"%s\"", m->label[l]);
        histogram(o, "usd_http_request_duration_seconds", labels, &m->duration[l]);
    }
    http_stats_t hs;
    http_server_stats(m->app->http, &hs);
    scalar(o, "usd_http_orphaned_total", "counter",
           "Requests whose client left before the answer (not in usd_http_requests_total).",
           hs.orphaned);
    scalar(o, "usd_connections_open", "gauge", "Open client connections (main listener).",
           (uint64_t)http_server_connections(m->app->http));
    scalar(o, "usd_connections_accepted_total", "counter", "Client connections accepted.",
           hs.accepted);
    scalar(o, "usd_connections_refused_total", "counter",
           "Connections closed at once because --max-connections were open.", hs.refused);
}

static void render_sessions(metrics_t *m, struct evbuffer *o) {
    family(o, "usd_sessions_active", "gauge",
           "ACTIVE update sessions in Redis (all instances), at most about half a second old.");
    if (m->sessions_known)
        evbuffer_add_printf(o, "usd_sessions_active %lld\n", (long long)m->sessions_active);
    store_session_counts_t sc;
    store_session_counts(&sc);
    family(o, "usd_session_transitions_total", "counter",
           "Session state changes made by this instance, by the state reached.");
    for (int s = 0; s < SESSION_STATE_COUNT; s++)
        evbuffer_add_printf(o, "usd_session_transitions_total{to=\"%s\"} %llu\n",
                            session_state_name((session_state_t)s),
                            (unsigned long long)sc.to[s]);
    scalar(o, "usd_session_expired_total", "counter",
           "Sessions that expired, as reported by this instance's sweeps.", sc.expired);
    store_sweep_stats_t sw;
    store_sweep_stats(m->app->store, &sw);
    scalar(o, "usd_sweeps_total", "counter", "Expiry sweeps this instance ran.", sw.sweeps);
}

static void render_data(metrics_t *m, struct evbuffer *o) {
    data_stats_t ds;
    data_plane_stats(m->app->data, &ds);
    scalar(o, "usd_upload_bytes_total", "counter",
           "Bytes uploads wrote to storage on this instance.", ds.upload_bytes);
    scalar(o, "usd_uploads_in_progress", "gauge", "Uploads moving bytes on this instance.",
           (uint64_t)(ds.uploads_active > 0 ? ds.uploads_active : 0));
}

static void render_redis(metrics_t *m, struct evbuffer *o) {
    store_link_stats_t ls;
    store_link_stats(m->app->store, &ls);
    scalar(o, "usd_redis_up", "gauge", "1 when the Redis link is up and its scripts loaded.",
           ls.up ? 1 : 0);
    family(o, "usd_redis_call_duration_seconds", "histogram",
           "Time from a Redis call to its answer (waiting for the link included).");
    histogram(o, "usd_redis_call_duration_seconds", "", &ls.call_seconds);
    scalar(o, "usd_redis_timeouts_total", "counter",
           "Redis calls answered 503 because --redis-timeout-ms passed.", ls.timeouts);
    scalar(o, "usd_redis_reconnects_total", "counter",
           "Times the Redis link came back after it was lost.", ls.reconnects);
}

static void render_logins(metrics_t *m, struct evbuffer *o) {
    login_stats_t ls;
    login_checker_stats(m->app->logins, &ls);
    family(o, "usd_login_checks_total", "counter",
           "Login attempts: hashed on a worker, refused by the failure backoff, or refused "
           "because the queue was full.");
    evbuffer_add_printf(o, "usd_login_checks_total{outcome=\"hashed\"} %llu\n",
                        (unsigned long long)ls.hashed);
    evbuffer_add_printf(o, "usd_login_checks_total{outcome=\"backed_off\"} %llu\n",
                        (unsigned long long)ls.backed_off);
    evbuffer_add_printf(o, "usd_login_checks_total{outcome=\"busy\"} %llu\n",
                        (unsigned long long)ls.busy);
    scalar(o, "usd_login_backoff_pairs", "gauge",
           "(user, client address) pairs the login backoff remembers.", ls.backoff_pairs);
    store_login_cache_stats_t lc;
    store_login_cache_stats(m->app->store, &lc);
    scalar(o, "usd_login_cache_hits_total", "counter",
           "Requests authorized from this instance's login cache, without asking Redis.", lc.hits);
    scalar(o, "usd_login_cache_misses_total", "counter",
           "Requests whose login was not cached (asked Redis, which fills the cache).", lc.misses);
    scalar(o, "usd_login_cache_invalidations_total", "counter",
           "Logouts heard on the logouts channel.", lc.invalidations);
    scalar(o, "usd_login_cache_subscribed", "gauge",
           "1 when the login cache is in use (its logout subscription is confirmed).",
           lc.subscribed ? 1 : 0);
}

void metrics_render(metrics_t *m, struct evbuffer *o) {
    const char *why;
    scalar(o, "usd_ready", "gauge", "1 when /readyz answers 200.",
           admin_ready(m->app, &why) ? 1 : 0);
    scalar(o, "usd_start_time_seconds", "gauge", "When the process started (Unix time).",
           (uint64_t)m->start_s);
    render_http(m, o);
    render_sessions(m, o);
    render_data(m, o);
    render_redis(m, o);
    render_logins(m, o);
}
