/* net/main.c: process start and stop. Parses the command line (and --config), loads the users
 * file, wires the event loop, the store, the HTTP front end (and the --admin-listen one) and
 * the metrics together, and handles the signals:
 *   SIGTERM  drain: /readyz turns 503 at once and everything is still served for --drain-ms,
 *            so a load balancer's health checks take the instance out of rotation before it
 *            stops; answers on --listen close their keep-alive connection meanwhile, so no
 *            client is left holding one the stop closes under it. Then the stop below. A
 *            second SIGTERM (or SIGINT) stops at once.
 *   SIGINT   stop now (Ctrl-C): no new connections, in-flight requests finish (bounded wait),
 *            then the login workers are joined and everything is freed so sanitizer builds
 *            can check for leaks; exit 0.
 *   SIGHUP   reload the users file (a bad file keeps the old users and logs why) and reopen
 *            the access log (after logrotate moved it). */
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/admin.h"
#include "net/api.h"
#include "net/log.h"
#include "net/metrics.h"
#include "net/secret.h"
#include "net/tls.h"
#include "net/data/data.h"
#include "net/data/janitor.h"

#define DRAIN_POLL_MS 20
#define DRAIN_MAX_MS 5000
#define ACCESS_FLUSH_MS 200

typedef struct {
    app_t *app;
    struct event *drain_timer;   /* --drain-ms after SIGTERM */
    struct event *stop_timer;    /* polls the connections once stopping */
    int waited_ms;
    bool stopping;
} shutdown_t;

/* Polls until the last connection finished its request, or the stop limit passed. */
static void on_stop_tick(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    shutdown_t *s = arg;
    s->waited_ms += DRAIN_POLL_MS;
    if (http_server_connections(s->app->http) == 0 || s->waited_ms >= DRAIN_MAX_MS) {
        event_base_loopbreak(s->app->base);
        return;
    }
    struct timeval tv = {0, DRAIN_POLL_MS * 1000};
    evtimer_add(s->stop_timer, &tv);
}

/* No new connections, transfers stop (uploads keep their prefix), in-flight requests finish. */
static void stop_now(shutdown_t *s) {
    if (s->stopping) return;
    s->stopping = true;
    s->app->draining = true;
    evtimer_del(s->drain_timer);
    log_msg(LV_INFO, "stopping");
    http_server_stop(s->app->http);
    http_server_stop(s->app->admin);
    data_plane_drain(s->app->data);
    metrics_stop(s->app->metrics);
    on_stop_tick(-1, 0, s);
}

static void on_drained(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    stop_now(arg);
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
    (void)what;
    shutdown_t *s = arg;
    app_t *app = s->app;
    if (sig == SIGTERM && !app->draining && app->cfg.drain_ms > 0) {
        char ms[16];
        snprintf(ms, sizeof(ms), "%d", app->cfg.drain_ms);
        log_kv(LV_INFO, "SIGTERM: draining (/readyz answers 503), then stopping", "drain_ms", ms,
               (const char *)NULL);
        app->draining = true;
        http_server_drain(app->http);
        struct timeval tv = {app->cfg.drain_ms / 1000, (app->cfg.drain_ms % 1000) * 1000};
        evtimer_add(s->drain_timer, &tv);
        return;
    }
    log_msg(LV_INFO, "signal %d", (int)sig);
    stop_now(s);
}

static void on_hup(evutil_socket_t sig, short what, void *arg) {
    (void)sig;
    (void)what;
    app_t *app = arg;
    users_t *fresh = users_load(app->cfg.users_file); /* logs what is wrong */
    if (!fresh) {
        log_kv(LV_WARN, "SIGHUP: the users file was not reloaded; the old users stay",
               "file", app->cfg.users_file, (const char *)NULL);
    } else {
        login_checker_set_users(app->logins, fresh);
        users_free(app->users);
        app->users = fresh;
        char n[24];
        snprintf(n, sizeof(n), "%zu", users_count(fresh));
        log_kv(LV_INFO, "SIGHUP: users file reloaded", "file", app->cfg.users_file, "users", n,
               (const char *)NULL);
    }
    if (log_access_reopen() != C_OK)
        log_kv(LV_WARN, "SIGHUP: cannot reopen the access log; still writing the old file",
               "file", app->cfg.access_log, "error", strerror(errno), (const char *)NULL);
}

static void on_access_flush(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    (void)arg;
    log_flush();
}

/* store/'s log lines, as the server's (net/log.h), marked src=store. */
static void store_log_line(store_log_level_t level, const char *text) {
    log_level_t l = level == STORE_LOG_ERROR  ? LV_ERROR
                    : level == STORE_LOG_WARN ? LV_WARN
                                              : LV_INFO;
    log_kv(l, text, "src", "store", (const char *)NULL);
}

/* The data plane's garbage hook: a local operation made garbage, the janitor takes it now. */
static void kick_janitor(void *janitor) { janitor_kick(janitor); }

/* Creates the storage directory (and its parents) if missing. */
static int ensure_dir(const char *path) {
    char tmp[PATH_MAX];
    if (copy_str(tmp, sizeof(tmp), path) != C_OK) return C_ERR;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0750) != 0 && errno != EEXIST) return C_ERR;
        *p = '/';
    }
    if (mkdir(tmp, 0750) != 0 && errno != EEXIST) return C_ERR;
    return C_OK;
}

/* --admin-listen: a second front end that serves only net/admin.c's routes. */
static int start_admin(app_t *app) {
    if (!app->cfg.admin_host[0]) return C_OK;
    http_limits_t limits;
    http_limits_defaults(&limits);
    limits.max_connections = 64; /* health checks and scrapers */
    app->admin = http_server_new(app->base, &limits, admin_handle, admin_reject, app);
    if (!app->admin) return C_ERR;
    http_server_set_observer(app->admin, metrics_observe, app->metrics);
    int port = http_server_listen(app->admin, app->cfg.admin_host, app->cfg.admin_port);
    if (port < 0) return C_ERR;
    char url[320];
    snprintf(url, sizeof(url), "http://%s:%d", app->cfg.admin_host, port);
    log_kv(LV_INFO, "admin listener: /livez /readyz /metrics", "url", url, (const char *)NULL);
    return C_OK;
}

int main(int argc, char **argv) {
    static app_t app;
    int rc = config_parse(&app.cfg, argc, argv);
    if (rc == 1) return 0;
    if (rc != C_OK) return 2;
    log_set_level((log_level_t)app.cfg.log_level);
    if (app.cfg.check_config) {
        if (config_check(&app.cfg) != C_OK) return 2;
        printf("update-sessiond: configuration OK (users file %s, storage %s)\n",
               app.cfg.users_file, app.cfg.storage_dir);
        return 0;
    }
    store_set_log(store_log_line);
    const char *why = "";
    if (app.cfg.access_log[0] && log_access_open(app.cfg.access_log, &why) != C_OK) {
        log_msg(LV_ERROR, "cannot open --access-log %s: %s", app.cfg.access_log, why);
        return 1;
    }

    signal(SIGPIPE, SIG_IGN);
    if (ensure_dir(app.cfg.storage_dir) != C_OK) {
        log_msg(LV_ERROR, "cannot create --storage-dir %s: %s", app.cfg.storage_dir,
                strerror(errno));
        return 1;
    }
    char secret_path[PATH_MAX + 16];
    config_secret_path(&app.cfg, secret_path, sizeof(secret_path));
    if (secret_load(secret_path, app.upload_secret, &why) != C_OK) {
        log_msg(LV_ERROR, "cannot use the secret file %s: %s", secret_path, why);
        return 1;
    }
    app.users = users_load(app.cfg.users_file);
    if (!app.users) return 1;

    app.base = event_base_new();
    app.logins = app.base ? login_checker_new(app.base, app.users, app.cfg.login_workers,
                                              app.cfg.login_queue)
                          : NULL;
    if (!app.logins) {
        log_msg(LV_ERROR, "cannot start the login workers");
        return 1;
    }
    store_config_t scfg;
    config_store(&app.cfg, &scfg);
    app.store = store_new(app.base, &scfg);
    app.http = http_server_new(app.base, &app.cfg.http, api_handle, api_reject, &app);
    app.metrics = app.store ? metrics_new(&app) : NULL;
    if (!app.base || !app.store || !app.http || !app.metrics) {
        log_msg(LV_ERROR, "out of memory at start");
        return 1;
    }
    http_server_set_observer(app.http, metrics_observe, app.metrics);
    if (start_admin(&app) != C_OK) {
        log_msg(LV_ERROR, "cannot listen on --admin-listen %s:%d", app.cfg.admin_host,
                app.cfg.admin_port);
        return 1;
    }
    struct ssl_ctx_st *tls = NULL;
    if (app.cfg.tls_cert[0]) {
        char why[1024];
        tls = tls_server_ctx(app.cfg.tls_cert, app.cfg.tls_key, why, sizeof(why));
        if (!tls) {
            fprintf(stderr, "update-sessiond: %s\n", why);
            return 1;
        }
        http_server_set_tls(app.http, tls);
    }
    const char *scheme = tls ? "https" : "http";
    int port = http_server_listen(app.http, app.cfg.listen_host, app.cfg.listen_port);
    if (port < 0) {
        log_msg(LV_ERROR, "cannot listen on %s:%d", app.cfg.listen_host, app.cfg.listen_port);
        return 1;
    }
    if (app.cfg.public_url[0])
        copy_str(app.public_url, sizeof(app.public_url), app.cfg.public_url);
    else
        snprintf(app.public_url, sizeof(app.public_url), "%s://%s:%d", scheme,
                 app.cfg.listen_host, port);

    data_config_t dcfg = {
        .base = app.base,
        .store = app.store,
        .http = app.http,
        .storage_dir = app.cfg.storage_dir,
        .listen_host = app.cfg.listen_host,
        .listen_port = port,
        .transfer_lease_ms = app.cfg.transfer_lease_ms,
        .session_timeout_ms = app.cfg.session_timeout_s * 1000,
        .max_upload_bytes = app.cfg.max_upload_bytes,
        .min_free_bytes = app.cfg.min_free_bytes,
        .pull_allow = app.cfg.pull_allow,
        .pull_allow_n = app.cfg.pull_allow_n,
    };
    app.data = data_plane_new(&dcfg);
    if (!app.data) {
        log_msg(LV_ERROR, "cannot set up the data plane");
        return 1;
    }
    app.janitor = janitor_start(app.base, app.store, app.cfg.storage_dir,
                                app.cfg.janitor_interval_ms, app.cfg.scan_interval_s,
                                app.cfg.orphan_grace_s);
    if (!app.janitor) {
        log_msg(LV_ERROR, "out of memory at start");
        return 1;
    }
    data_set_garbage_hook(app.data, kick_janitor, app.janitor);
    shutdown_t stop = {.app = &app};
    stop.drain_timer = evtimer_new(app.base, on_drained, &stop);
    stop.stop_timer = evtimer_new(app.base, on_stop_tick, &stop);
    struct event *sigterm = evsignal_new(app.base, SIGTERM, on_signal, &stop);
    struct event *sigint = evsignal_new(app.base, SIGINT, on_signal, &stop);
    struct event *sighup = evsignal_new(app.base, SIGHUP, on_hup, &app);
    struct event *flush = event_new(app.base, -1, EV_PERSIST, on_access_flush, NULL);
    event_add(sigterm, NULL);
    event_add(sigint, NULL);
    event_add(sighup, NULL);
    if (log_access_enabled()) {
        struct timeval tv = {0, ACCESS_FLUSH_MS * 1000};
        event_add(flush, &tv);
    }

    char ready[320], pid[16];
    snprintf(ready, sizeof(ready), "update-sessiond listening on %s://%s:%d", scheme,
             app.cfg.listen_host, port);
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    log_kv(LV_INFO, ready, "pid", pid, (const char *)NULL);
    event_base_dispatch(app.base);

    event_free(sigterm);
    event_free(sigint);
    event_free(sighup);
    event_free(flush);
    event_free(stop.drain_timer);
    event_free(stop.stop_timer);
    /* Joins the login workers and answers every login still waiting on them (503), while the
     * requests and the store are still there. */
    login_checker_free(app.logins);
    data_plane_shutdown(app.data); /* transfers stop; no more store calls from the data plane */
    janitor_stop(app.janitor);
    store_free(app.store); /* answers calls still waiting on Redis, while HTTP is still there */
    http_server_free(app.http);
    http_server_free(app.admin);
    tls_ctx_free(tls);
    data_plane_free(app.data);
    metrics_free(app.metrics); /* after store_free answered its sessions_active call */
    users_free(app.users);
    event_base_free(app.base);
    log_msg(LV_INFO, "stopped");
    log_access_close();
    return 0;
}
