/* store/subscription.h: one Redis (or Sentinel) connection kept subscribed to one channel
 * (store/subscription.c), for store/sentinel.c (+switch-master) and store/logincache.c
 * (P logouts). Internal to store/. */
#ifndef STORE_SUBSCRIPTION_H
#define STORE_SUBSCRIPTION_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
typedef struct subscription subscription_t;

typedef struct {
    /* Where to connect now (host and port, or unix_path); false: not now (the owner calls
     * subscription_start when it is). Asked before every attempt. */
    bool (*target)(void *arg, const char **host, int *port, const char **unix_path);
    void (*confirmed)(void *arg);                           /* SUBSCRIBE confirmed */
    void (*message)(void *arg, const char *text, size_t len);
    /* Lost, refused or not confirmed in time; the next attempt follows after the backoff. */
    void (*lost)(void *arg, const char *why);
} subscription_fns_t;

/* Nothing is connected until subscription_start. timeout_ms bounds connect + SUBSCRIBE; the
 * retry delay doubles from backoff_min_ms up to backoff_max_ms and is reset by a
 * confirmation or a start. */
subscription_t *subscription_new(struct event_base *base, const char *channel, int timeout_ms,
                                 int backoff_min_ms, int backoff_max_ms,
                                 const subscription_fns_t *fns, void *arg);
/* Drops the current connection, if any, and connects at once. */
void subscription_start(subscription_t *s);
bool subscription_confirmed(const subscription_t *s);
void subscription_free(subscription_t *s);

#endif
