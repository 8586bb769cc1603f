/* store/logincache.h: this instance's cache of login records (store/logincache.c), so a request
 * whose login this instance saw recently is authenticated and authorized in C, without a Redis
 * script. Internal to store/. */
#ifndef STORE_LOGINCACHE_H
#define STORE_LOGINCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/common.h"
#include "store/store.h"

typedef struct logincache logincache_t;

#define LOGIN_HEX_LEN 64 /* the hex SHA-256 of a token: the name of its login key */

/* What a cached login says. */
typedef struct login_seen {
    char user[USER_MAX];
    uint32_t privs;
} login_seen_t;

logincache_t *logincache_new(store_t *st);
void logincache_free(logincache_t *lc);

/* The store's link became READY (a new link generation): everything cached is forgotten and
 * the subscription to P logouts is made again on the new link's server. */
void logincache_link_ready(logincache_t *lc);

/* Serving from the cache (its subscription confirmed on the current link). */
bool logincache_active(const logincache_t *lc);

/* A hit copies the login to out and, when the login's idle timer is due for renewal (at most
 * once per step), sends the renewal without waiting for it. A miss: ask Redis. */
bool logincache_get(logincache_t *lc, const char *hex, login_seen_t *out);

/* Taken before asking Redis about a login; logincache_put then caches the answer only if
 * nothing that could have made it stale happened in between (a logout message, the
 * subscription or the link lost). asked_ms: CLOCK_MONOTONIC ms when the question was sent. */
typedef struct {
    uint64_t version;
    int64_t asked_ms;
} logincache_ticket_t;
logincache_ticket_t logincache_ticket(const logincache_t *lc);
void logincache_put(logincache_t *lc, logincache_ticket_t t, const char *hex, const char *user,
                    uint32_t privs);

/* This instance logged hex out (it also hears its own PUBLISH; this is sooner). */
void logincache_forget(logincache_t *lc, const char *hex);

/* The channel logout.lua publishes on (P logouts). */
const char *logincache_channel(const logincache_t *lc);

/* Counters for /metrics (store_login_cache_stats). */
void logincache_stats(const logincache_t *lc, store_login_cache_stats_t *out);

#endif
