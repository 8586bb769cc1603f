/* store/subscription.c: one hiredis async context kept subscribed to one channel: connect,
 * SUBSCRIBE, the confirmation within a timeout, TCP keepalive (a server that vanished silently
 * is noticed), and on any loss a new attempt after a doubling backoff, the owner's `target`
 * deciding where (store/sentinel.c moves on to the next sentinel; store/logincache.c follows
 * the data link). The owner hears of confirmations, messages and losses.
 *
 * Same rules as store/redis.c: never a blocking call; a context is freed by us only after its
 * data pointer is cleared, so its NULL callbacks are ignored; a context hiredis frees itself
 * (connect failure, EOF) is forgotten in the callback that reports it. */
#include "store/subscription.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

struct subscription {
    struct event_base *base;
    char *channel;
    int timeout_ms, backoff_min_ms, backoff_max_ms, backoff_ms;
    subscription_fns_t fns;
    void *arg;
    redisAsyncContext *ac; /* NULL when none */
    bool confirmed;
    struct event *timer;   /* bounds connect + SUBSCRIBE; then the retry delay */
};

static void ms_tv(struct timeval *tv, int ms) {
    tv->tv_sec = ms / 1000;
    tv->tv_usec = (ms % 1000) * 1000;
}

static void ctx_free(subscription_t *s) {
    redisAsyncContext *ac = s->ac;
    s->ac = NULL;
    s->confirmed = false;
    if (ac) {
        ac->data = NULL;
        redisAsyncFree(ac);
    }
}

/* Tells the owner, then tries again after the backoff. */
static void lost(subscription_t *s, const char *why) {
    s->confirmed = false;
    struct timeval tv;
    ms_tv(&tv, s->backoff_ms);
    event_del(s->timer);
    evtimer_add(s->timer, &tv);
    s->backoff_ms = s->backoff_ms * 2 > s->backoff_max_ms ? s->backoff_max_ms : s->backoff_ms * 2;
    s->fns.lost(s->arg, why);
}

/* Every reply of the subscribed context: the SUBSCRIBE confirmation, then messages. */
static void on_message(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)privdata;
    subscription_t *s = ac->data;
    redisReply *r = reply;
    if (!s || ac != s->ac) return;
    if (!r) { /* hiredis is freeing the context */
        s->ac = NULL;
        lost(s, ac->errstr[0] ? ac->errstr : "connection closed");
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING)
        return;
    const char *kind = r->element[0]->str;
    if (strcmp(kind, "subscribe") == 0) {
        s->confirmed = true;
        s->backoff_ms = s->backoff_min_ms;
        event_del(s->timer);
        s->fns.confirmed(s->arg);
    } else if (strcmp(kind, "message") == 0 && r->element[2]->type == REDIS_REPLY_STRING) {
        s->fns.message(s->arg, r->element[2]->str, r->element[2]->len);
    }
}

static void on_connect(const redisAsyncContext *cac, int status) {
    subscription_t *s = cac->data;
    if (!s || cac != s->ac || status == REDIS_OK) return;
    s->ac = NULL; /* hiredis frees it after this */
    lost(s, cac->errstr[0] ? cac->errstr : "connect failed");
}

static void on_disconnect(const redisAsyncContext *cac, int status) {
    (void)status;
    subscription_t *s = cac->data;
    if (!s || cac != s->ac) return;
    s->ac = NULL;
    lost(s, cac->errstr[0] ? cac->errstr : "connection closed");
}

static void attempt(subscription_t *s) {
    const char *host = NULL, *unix_path = NULL;
    int port = 0;
    ctx_free(s);
    event_del(s->timer);
    if (!s->fns.target(s->arg, &host, &port, &unix_path)) return;
    redisAsyncContext *ac = unix_path ? redisAsyncConnectUnix(unix_path)
                            : host    ? redisAsyncConnect(host, port)
                                      : NULL;
    if (!ac || ac->err) {
        if (ac) redisAsyncFree(ac);
        lost(s, "cannot connect");
        return;
    }
    ac->data = s;
    redisLibeventAttach(ac, s->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    s->ac = ac;
    const char *argv[2] = {"SUBSCRIBE", s->channel};
    size_t len[2] = {9, strlen(s->channel)};
    if (redisAsyncCommandArgv(ac, on_message, NULL, 2, argv, len) != REDIS_OK) {
        ctx_free(s);
        lost(s, "cannot send SUBSCRIBE");
        return;
    }
    redisEnableKeepAlive(&ac->c);
    struct timeval tv;
    ms_tv(&tv, s->timeout_ms);
    evtimer_add(s->timer, &tv);
}

/* Not confirmed in time (drop it, try again later), or the retry delay passed. */
static void on_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    subscription_t *s = arg;
    if (s->ac && !s->confirmed) {
        ctx_free(s);
        lost(s, "no SUBSCRIBE confirmation in time");
        return;
    }
    if (!s->ac) attempt(s);
}

void subscription_start(subscription_t *s) {
    s->backoff_ms = s->backoff_min_ms;
    attempt(s);
}

bool subscription_confirmed(const subscription_t *s) { return s && s->confirmed; }

subscription_t *subscription_new(struct event_base *base, const char *channel, int timeout_ms,
                                 int backoff_min_ms, int backoff_max_ms,
                                 const subscription_fns_t *fns, void *arg) {
    subscription_t *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->base = base;
    s->channel = strdup(channel);
    s->timeout_ms = timeout_ms > 0 ? timeout_ms : 2000;
    s->backoff_min_ms = s->backoff_ms = backoff_min_ms;
    s->backoff_max_ms = backoff_max_ms;
    s->fns = *fns;
    s->arg = arg;
    s->timer = evtimer_new(base, on_timer, s);
    if (!s->channel || !s->timer) {
        subscription_free(s);
        return NULL;
    }
    return s;
}

void subscription_free(subscription_t *s) {
    if (!s) return;
    ctx_free(s);
    if (s->timer) event_free(s->timer);
    free(s->channel);
    free(s);
}
