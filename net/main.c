/* net/main.c: process start and stop. Parses the command line, loads the users file, wires the
 * event loop, the store and the HTTP front end together, and stops gracefully on SIGTERM or
 * SIGINT: no new connections, in-flight requests finish (bounded wait), then the login workers
 * are joined and everything is freed so sanitizer builds can check for leaks. */
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "net/api.h"
#include "net/secret.h"
#include "net/tls.h"
#include "net/data/data.h"
#include "net/data/janitor.h"

#define DRAIN_POLL_MS 20
#define DRAIN_MAX_MS 5000

typedef struct {
    app_t *app;
    struct event *drain_timer;
    int waited_ms;
} shutdown_t;

/* Polls until the last connection finished its request, or the drain limit passed. */
static void on_drain_tick(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    shutdown_t *s = arg;
    s->waited_ms += DRAIN_POLL_MS;
    if (http_server_connections(s->app->http) == 0 || s->waited_ms >= DRAIN_MAX_MS) {
        event_base_loopbreak(s->app->base);
        return;
    }
    struct timeval tv = {0, DRAIN_POLL_MS * 1000};
    evtimer_add(s->drain_timer, &tv);
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
    (void)what;
    shutdown_t *s = arg;
    if (evtimer_pending(s->drain_timer, NULL)) return;
    fprintf(stderr, "update-sessiond: signal %d, stopping\n", (int)sig);
    http_server_stop(s->app->http);
    data_plane_drain(s->app->data);
    on_drain_tick(-1, 0, s);
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

int main(int argc, char **argv) {
    static app_t app;
    int rc = config_parse(&app.cfg, argc, argv);
    if (rc == 1) return 0;
    if (rc != C_OK) return 2;

    signal(SIGPIPE, SIG_IGN);
    if (ensure_dir(app.cfg.storage_dir) != C_OK) {
        fprintf(stderr, "update-sessiond: cannot create --storage-dir %s: %s\n",
                app.cfg.storage_dir, strerror(errno));
        return 1;
    }
    char secret_path[PATH_MAX + 16];
    const char *why = "";
    if (app.cfg.secret_file[0])
        copy_str(secret_path, sizeof(secret_path), app.cfg.secret_file);
    else
        snprintf(secret_path, sizeof(secret_path), "%s/.secret", app.cfg.storage_dir);
    if (secret_load(secret_path, app.upload_secret, &why) != C_OK) {
        fprintf(stderr, "update-sessiond: cannot use the secret file %s: %s\n", secret_path, why);
        return 1;
    }
    app.users = users_load(app.cfg.users_file);
    if (!app.users) return 1;

    app.base = event_base_new();
    app.logins = app.base ? login_checker_new(app.base, app.users, app.cfg.login_workers,
                                              app.cfg.login_queue)
                          : NULL;
    if (!app.logins) {
        fprintf(stderr, "update-sessiond: cannot start the login workers\n");
        return 1;
    }
    store_config_t scfg;
    config_store(&app.cfg, &scfg);
    app.store = store_new(app.base, &scfg);
    app.http = http_server_new(app.base, &app.cfg.http, api_handle, api_reject, &app);
    if (!app.base || !app.store || !app.http) {
        fprintf(stderr, "update-sessiond: out of memory at start\n");
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
        fprintf(stderr, "update-sessiond: cannot listen on %s:%d\n", app.cfg.listen_host,
                app.cfg.listen_port);
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
        fprintf(stderr, "update-sessiond: cannot set up the data plane\n");
        return 1;
    }
    app.janitor = janitor_start(app.base, app.store, app.cfg.storage_dir,
                                app.cfg.janitor_interval_ms, app.cfg.scan_interval_s,
                                app.cfg.orphan_grace_s);
    if (!app.janitor) {
        fprintf(stderr, "update-sessiond: out of memory at start\n");
        return 1;
    }
    data_set_garbage_hook(app.data, kick_janitor, app.janitor);
    shutdown_t stop = {.app = &app};
    stop.drain_timer = evtimer_new(app.base, on_drain_tick, &stop);
    struct event *sigterm = evsignal_new(app.base, SIGTERM, on_signal, &stop);
    struct event *sigint = evsignal_new(app.base, SIGINT, on_signal, &stop);
    event_add(sigterm, NULL);
    event_add(sigint, NULL);

    fprintf(stderr, "update-sessiond listening on %s://%s:%d\n", scheme, app.cfg.listen_host,
            port);
    event_base_dispatch(app.base);

    event_free(sigterm);
    event_free(sigint);
    event_free(stop.drain_timer);
    /* Joins the login workers and answers every login still waiting on them (503), while the
     * requests and the store are still there. */
    login_checker_free(app.logins);
    data_plane_shutdown(app.data); /* transfers stop; no more store calls from the data plane */
    janitor_stop(app.janitor);
    store_free(app.store); /* answers calls still waiting on Redis, while HTTP is still there */
    http_server_free(app.http);
    tls_ctx_free(tls);
    data_plane_free(app.data);
    users_free(app.users);
    event_base_free(app.base);
    fprintf(stderr, "update-sessiond: stopped\n");
    return 0;
}
