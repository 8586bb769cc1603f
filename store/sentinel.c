/* store/sentinel.c: finding the Redis primary through Redis Sentinel (--redis
 * sentinel://HOST:PORT[,HOST:PORT...]/MASTER). Owns two kinds of hiredis async contexts to the
 * sentinels, separate from the data link of store/redis.c:
 *   - a question: one short-lived context per sentinel asked, `SENTINEL
 *     get-master-addr-by-name MASTER`, each bounded by the call timeout; the sentinels are
 *     asked in turn, starting with the one that answered last, until one names the master;
 *   - the subscription (store/subscription.c): `SUBSCRIBE +switch-master` on one
 *     sentinel at a time, moved to the next sentinel with backoff when it is lost or does not
 *     confirm within the call timeout. A message naming our master is handed to store/redis.c,
 *     which re-resolves (a graceful failover demotes the old primary without closing our link,
 *     so this is how we learn of it before a write meets READONLY).
 * What a sentinel says is only a hint: store/redis.c checks the role of whatever it connects
 * to (ROLE must say master) before sending anything that writes.
 *
 * Same rules as store/redis.c: never a blocking call; a context is freed by us only from a
 * timer (never from inside one of its callbacks) after its data pointer is cleared, so its
 * NULL callbacks are ignored; a context hiredis frees itself (connect failure, EOF) is
 * forgotten in the callback that reports it. Results reach store/redis.c from a timer. */
#include "store/sentinel.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "store/redis.h"
#include "store/subscription.h"

#define SUB_BACKOFF_MIN_MS 100
#define SUB_BACKOFF_MAX_MS 2000
#define HOST_MAX 256
#define SWITCH_CHANNEL "+switch-master"

struct sentinel {
    struct event_base *base;
    int n;
    char *host[STORE_SENTINELS_MAX];
    int port[STORE_SENTINELS_MAX];
    char *master;
    int timeout_ms;
    sentinel_found_fn found;
    sentinel_switch_fn on_switch;
    void *arg;

    /* The question (one sentinel at a time). */
    bool resolving;
    int first;                /* asked first: the sentinel that answered last */
    int cur, asked;           /* the one asked now; how many were asked in this round */
    redisAsyncContext *qac;   /* NULL once hiredis or we freed it */
    struct event *qtimer;     /* bounds one question; made active to take the next step */
    bool qok;                 /* the current sentinel named the master */
    char qhost[HOST_MAX];
    int qport;
    char last_host[HOST_MAX]; /* the answer logged last */
    int last_port;

    /* The subscription. */
    subscription_t *subs;     /* store/subscription.c */
    int sub;                  /* index of the sentinel subscribed to (or being tried) */
    bool sub_logged_down;
    struct event *switch_ev;  /* hands a +switch-master to store/redis.c */
    char sw_host[HOST_MAX];
    int sw_port;
};

static void ms_tv(struct timeval *tv, int ms) {
    tv->tv_sec = ms / 1000;
    tv->tv_usec = (ms % 1000) * 1000;
}

/* Frees a context we still hold; its pending callbacks then see data == NULL. */
static void ctx_free(redisAsyncContext **acp) {
    redisAsyncContext *ac = *acp;
    *acp = NULL;
    if (ac) {
        ac->data = NULL;
        redisAsyncFree(ac);
    }
}

/* A new context to sentinel i, attached to the loop, data = s; NULL (logged) on failure. */
static redisAsyncContext *ctx_open(sentinel_t *s, int i, redisConnectCallback *on_connect,
                                   redisDisconnectCallback *on_disconnect) {
    redisAsyncContext *ac = redisAsyncConnect(s->host[i], s->port[i]);
    if (!ac) return NULL;
    if (ac->err) {
        redisAsyncFree(ac);
        return NULL;
    }
    ac->data = s;
    redisLibeventAttach(ac, s->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    return ac;
}

/* ---- the question -------------------------------------------------------------------------- */

static void q_next(sentinel_t *s) { event_active(s->qtimer, EV_TIMEOUT, 1); }

/* The answer: [ip, port] when the sentinel knows the master, nil when it does not. */
static void q_on_reply(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)privdata;
    sentinel_t *s = ac->data;
    redisReply *r = reply;
    if (!s || ac != s->qac) return;
    if (!r) { /* hiredis is freeing the context */
        s->qac = NULL;
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
               r->element[0]->type == REDIS_REPLY_STRING &&
               r->element[1]->type == REDIS_REPLY_STRING && r->element[0]->len > 0 &&
               r->element[0]->len < HOST_MAX) {
        char *end;
        long port = strtol(r->element[1]->str, &end, 10);
        if (*end == '\0' && port > 0 && port <= 65535) {
            memcpy(s->qhost, r->element[0]->str, r->element[0]->len);
            s->qhost[r->element[0]->len] = '\0';
            s->qport = (int)port;
            s->qok = true;
        }
    } else {
        store_log("sentinel %s:%d does not name master %s (%s)", s->host[s->cur], s->port[s->cur],
                  s->master, r->type == REDIS_REPLY_ERROR ? r->str : "no such master");
    }
    q_next(s);
}

static void q_on_connect(const redisAsyncContext *cac, int status) {
    sentinel_t *s = cac->data;
    if (!s || cac != s->qac || status == REDIS_OK) return;
    s->qac = NULL; /* hiredis frees it after this */
    q_next(s);
}

static void q_on_disconnect(const redisAsyncContext *cac, int status) {
    (void)status;
    sentinel_t *s = cac->data;
    if (!s || cac != s->qac) return;
    s->qac = NULL;
    q_next(s);
}

/* Asks sentinel s->cur. Any failure to start goes to the next step at once. */
static void q_ask(sentinel_t *s) {
    s->qok = false;
    struct timeval tv;
    ms_tv(&tv, s->timeout_ms);
    evtimer_add(s->qtimer, &tv);
    s->qac = ctx_open(s, s->cur, q_on_connect, q_on_disconnect);
    if (!s->qac) {
        q_next(s);
        return;
    }
    const char *argv[3] = {"SENTINEL", "get-master-addr-by-name", s->master};
    size_t len[3] = {8, 23, strlen(s->master)};
    if (redisAsyncCommandArgv(s->qac, q_on_reply, NULL, 3, argv, len) != REDIS_OK) q_next(s);
}

/* The question's timer: it timed out, or a callback made it active. Frees the context (we are
 * not inside its callbacks here), then answers or asks the next sentinel. */
static void q_step(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    sentinel_t *s = arg;
    if (!s->resolving) return;
    event_del(s->qtimer);
    ctx_free(&s->qac);
    if (s->qok) {
        s->first = s->cur;
        s->resolving = false;
        if (strcmp(s->last_host, s->qhost) != 0 || s->last_port != s->qport)
            store_log("sentinel %s:%d: master %s is at %s:%d", s->host[s->cur], s->port[s->cur],
                      s->master, s->qhost, s->qport);
        memcpy(s->last_host, s->qhost, sizeof(s->last_host));
        s->last_port = s->qport;
        s->found(s->arg, s->qhost, s->qport);
        return;
    }
    if (++s->asked >= s->n) {
        s->resolving = false;
        s->found(s->arg, NULL, 0);
        return;
    }
    s->cur = (s->cur + 1) % s->n;
    q_ask(s);
}

void sentinel_resolve(sentinel_t *s) {
    if (s->resolving) return;
    s->resolving = true;
    s->asked = 0;
    s->cur = s->first;
    q_ask(s);
}

/* ---- the subscription ---------------------------------------------------------------------- */

/* Lost: the next attempt (after the subscription's backoff) goes to the next sentinel. */
static void sub_lost(void *arg, const char *why) {
    sentinel_t *s = arg;
    if (!s->sub_logged_down)
        store_log("sentinel %s:%d: %s subscription lost (%s); trying the next sentinel",
                  s->host[s->sub], s->port[s->sub], SWITCH_CHANNEL, why);
    s->sub_logged_down = true;
    s->sub = (s->sub + 1) % s->n;
}

static bool sub_target(void *arg, const char **host, int *port, const char **unix_path) {
    sentinel_t *s = arg;
    *host = s->host[s->sub];
    *port = s->port[s->sub];
    *unix_path = NULL;
    return true;
}

static void sub_confirmed(void *arg) {
    sentinel_t *s = arg;
    if (s->sub_logged_down)
        store_log("sentinel %s:%d: following %s", s->host[s->sub], s->port[s->sub], SWITCH_CHANNEL);
    s->sub_logged_down = false;
}

/* A +switch-master naming our master goes to store/redis.c from a timer. */
static void sub_message(void *arg, const char *text, size_t len) {
    sentinel_t *s = arg;
    if (sentinel_parse_switch(text, len, s->master, s->sw_host, sizeof(s->sw_host), &s->sw_port) ==
        C_OK)
        event_active(s->switch_ev, EV_TIMEOUT, 1);
}

int sentinel_parse_switch(const char *msg, size_t len, const char *master, char *host,
                          size_t hsize, int *port) {
    const char *word[5];
    size_t wlen[5];
    size_t i = 0;
    int n = 0;
    while (i < len && n < 5) {
        while (i < len && msg[i] == ' ') i++;
        if (i == len) break;
        word[n] = msg + i;
        while (i < len && msg[i] != ' ') i++;
        wlen[n] = (size_t)(msg + i - word[n]);
        n++;
    }
    while (i < len && msg[i] == ' ') i++;
    if (n != 5 || i != len) return C_ERR;
    if (wlen[0] != strlen(master) || memcmp(word[0], master, wlen[0]) != 0) return C_ERR;
    if (wlen[3] == 0 || wlen[3] >= hsize || wlen[4] == 0 || wlen[4] > 5) return C_ERR;
    long p = 0;
    for (size_t k = 0; k < wlen[4]; k++) {
        if (!isdigit((unsigned char)word[4][k])) return C_ERR;
        p = p * 10 + (word[4][k] - '0');
    }
    if (p < 1 || p > 65535) return C_ERR;
    memcpy(host, word[3], wlen[3]);
    host[wlen[3]] = '\0';
    *port = (int)p;
    return C_OK;
}

static void on_switch_ev(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    sentinel_t *s = arg;
    s->on_switch(s->arg, s->sw_host, s->sw_port);
}

/* ---- lifetime ------------------------------------------------------------------------------ */

static char *dup_str(const char *v) {
    size_t n = strlen(v) + 1;
    char *p = malloc(n);
    if (!p) {
        store_log("out of memory");
        abort();
    }
    return memcpy(p, v, n);
}

sentinel_t *sentinel_new(struct event_base *base, const store_config_t *cfg,
                         sentinel_found_fn found, sentinel_switch_fn on_switch, void *arg) {
    if (cfg->sentinels <= 0 || cfg->sentinels > STORE_SENTINELS_MAX || !cfg->master_name ||
        !cfg->master_name[0])
        return NULL;
    sentinel_t *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->base = base;
    s->n = cfg->sentinels;
    for (int i = 0; i < s->n; i++) {
        s->host[i] = dup_str(cfg->sentinel_host[i]);
        s->port[i] = cfg->sentinel_port[i];
    }
    s->master = dup_str(cfg->master_name);
    s->timeout_ms = cfg->call_timeout_ms > 0 ? cfg->call_timeout_ms : 2000;
    s->found = found;
    s->on_switch = on_switch;
    s->arg = arg;
    s->qtimer = evtimer_new(base, q_step, s);
    s->switch_ev = evtimer_new(base, on_switch_ev, s);
    s->sub_logged_down = true; /* so the first confirmation is logged */
    static const subscription_fns_t fns = {sub_target, sub_confirmed, sub_message, sub_lost};
    s->subs = subscription_new(base, SWITCH_CHANNEL, s->timeout_ms, SUB_BACKOFF_MIN_MS,
                               SUB_BACKOFF_MAX_MS, &fns, s);
    if (!s->subs || !s->qtimer || !s->switch_ev) {
        sentinel_free(s);
        return NULL;
    }
    subscription_start(s->subs);
    return s;
}

void sentinel_free(sentinel_t *s) {
    if (!s) return;
    ctx_free(&s->qac);
    subscription_free(s->subs);
    if (s->qtimer) event_free(s->qtimer);
    if (s->switch_ev) event_free(s->switch_ev);
    for (int i = 0; i < s->n; i++) free(s->host[i]);
    free(s->master);
    free(s);
}

const char *sentinel_master(const sentinel_t *s) { return s->master; }
