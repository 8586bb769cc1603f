/* net/admin.h: the operations endpoints, GET (or HEAD) without login:
 *   /livez    200 while the process runs its event loop
 *   /readyz   200 when the Redis link is up (connected, maxmemory-policy checked, every script
 *             loaded) and the instance is not draining; else 503 with the reason
 *   /metrics  the Prometheus exposition (net/metrics.h)
 * They are served on the main listener, or, when --admin-listen is given, only on that
 * listener (the main one then answers them as any unknown path). The routes are a table in
 * net/admin.c, as the operation table is in net/routes.c. */
#ifndef NET_ADMIN_H
#define NET_ADMIN_H

#include <stdbool.h>

#include "net/http.h"

struct app;

/* Serves req if its path is one of the routes (true), else leaves it alone (false). */
bool admin_route(http_request_t *req, struct app *app);
/* The --admin-listen server's handler and reject function (arg = the app): the routes, else a
 * plain 404. */
void admin_handle(http_request_t *req, void *app);
void admin_reject(http_request_t *req, int status, const char *reason, void *app);

/* Ready to serve (what /readyz answers); *why says what is missing when not. A not-ready check
 * also asks the store to reconnect now if its link waits for a backoff (store_kick). */
bool admin_ready(struct app *app, const char **why);

#endif
