/* store/redis.c: the Redis link and every call made on it. Owns the hiredis async context
 * (libevent adapter, never a blocking hiredis call), connecting and reconnecting with backoff,
 * loading the scripts (store/lua/, prelude joined in), the per-call timers, the queue of calls
 * made while the link is down, NOSCRIPT recovery, and the guarantee that every call is answered
 * exactly once.
 *
 * Link states: DOWN (no context; a reconnect timer is pending) -> CONNECTING (TCP connect in
 * progress) -> LOADING (connected, the maxmemory-policy check and SCRIPT LOADs in flight) ->
 * READY (calls are sent). CONNECTING and LOADING together are bounded by connect_timeout_ms: a
 * SIGSTOPped Redis accepts TCP connections but never answers, so a connect that does not finish
 * is torn down and retried. A Redis that may evict keys (maxmemory-policy other than
 * noeviction) never becomes READY: evicting a lock or a session record would break the
 * one-ACTIVE-session rule, so it is treated as a failed connect and retried with backoff
 * until an operator fixes the policy (CONFIG SET works; no restart of ours needed).
 *
 * Call states (every call is answered exactly once; call_answer() is the only place that runs a
 * call's reply function, and it asserts the call was not answered before):
 *   LOCAL     answer already known (local status, or queue full); its timer is made active at
 *             once so the answer comes from the event loop, never from inside the API call
 *   WAITING   queued until the link is READY (bounded by QUEUE_MAX)
 *   SENT      handed to hiredis, unanswered
 *   ABANDONED answered (timeout or store_free) while hiredis still holds it: its late reply or
 *             NULL reply is ignored and the call is freed then
 *   DONE      answered and about to be freed
 * A SENT call that times out means Redis is frozen or hopelessly slow: the link is torn down
 * from the timer (redisAsyncFree), hiredis hands every other pending call a NULL reply (they
 * are answered ST_UNAVAILABLE then) and we reconnect with backoff.
 *
 * hiredis 0.14.1 facts relied on: pending callbacks get NULL before onDisconnect; onDisconnect
 * runs only for a context that had connected; the context is freed right after onDisconnect or
 * a failed onConnect, so we never touch it afterwards; redisAsyncFree from inside a reply
 * callback is deferred until that callback returns, but from inside onConnect it is not, so we
 * never free from onConnect.
 *
 * Re-entrancy: a reply function may call store_free. Every entry point that can run reply
 * functions (reply callbacks, timers) holds st->depth; store_free with depth > 0 only records
 * the request, and the outermost entry point destroys the store on its way out. */
#include "store/redis.h"

#include <assert.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/sha.h>

#define QUEUE_MAX 10000
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000
#define PREFIX_MAX 64

/* Generated from store/lua/NAME.lua by scripts/embed-lua.sh. */
extern const char lua_prelude[], lua_login[], lua_login_info[], lua_logout[], lua_hash_get[],
    lua_list[], lua_session_create[], lua_session_list[], lua_library_create[],
    lua_library_find[], lua_library_delete[], lua_item_create[], lua_item_find[],
    lua_item_delete[], lua_session_lib[], lua_session_change[], lua_sweep[], lua_file_add[],
    lua_file_get[], lua_file_list[], lua_file_remove[], lua_file_item_list[], lua_upload_begin[],
    lua_transfer_progress[], lua_transfer_end[], lua_session_complete[], lua_garbage_take[],
    lua_blobs_referenced[], lua_completions_due[], lua_session_get[], lua_sessions_active[];

/* Joined in front of a body that uses `now`, `user` and `operator` but runs without the prelude
 * (which sets them): the server itself, user false, may do what an operator may. */
static const char lua_clock[] = "local now = time_ms()\nlocal user, operator = false, true\n";

/* Each script's text is [events] [session_lib] [prelude | clock] body: session_lib defines the
 * functions that end a session, preceded by the line that sets events_max (--events-max, which
 * session_lib's session_event reads), the prelude authenticates the caller, the clock sets `now`
 * for a body shared with a prelude'd script (the server's own complete). */
static const struct {
    const char *name;
    const char *body;
    bool prelude;
    bool session_lib;
    bool clock;
} script_src[SCRIPT_COUNT] = {
    [SCRIPT_LOGIN] = {"login", lua_login, false, false},
    [SCRIPT_SESSION_CHANGE] = {"session_change", lua_session_change, true, true},
    [SCRIPT_SWEEP] = {"sweep", lua_sweep, false, true},
    [SCRIPT_LOGIN_INFO] = {"login_info", lua_login_info, true},
    [SCRIPT_LOGOUT] = {"logout", lua_logout, true},
    [SCRIPT_HASH_GET] = {"hash_get", lua_hash_get, true},
    [SCRIPT_LIST] = {"list", lua_list, true},
    [SCRIPT_SESSION_CREATE] = {"session_create", lua_session_create, true, true},
    [SCRIPT_SESSION_GET] = {"session_get", lua_session_get, true, true},
    [SCRIPT_SESSION_LIST] = {"session_list", lua_session_list, true},
    [SCRIPT_LIBRARY_CREATE] = {"library_create", lua_library_create, true},
    [SCRIPT_LIBRARY_FIND] = {"library_find", lua_library_find, true},
    [SCRIPT_LIBRARY_DELETE] = {"library_delete", lua_library_delete, true, true},
    [SCRIPT_ITEM_CREATE] = {"item_create", lua_item_create, true},
    [SCRIPT_ITEM_FIND] = {"item_find", lua_item_find, true},
    [SCRIPT_ITEM_DELETE] = {"item_delete", lua_item_delete, true, true},
    [SCRIPT_FILE_ADD] = {"file_add", lua_file_add, true, true},
    [SCRIPT_FILE_GET] = {"file_get", lua_file_get, true, true},
    [SCRIPT_FILE_LIST] = {"file_list", lua_file_list, true, true},
    [SCRIPT_FILE_REMOVE] = {"file_remove", lua_file_remove, true, true},
    [SCRIPT_FILE_ITEM_LIST] = {"file_item_list", lua_file_item_list, true},
    [SCRIPT_UPLOAD_BEGIN] = {"upload_begin", lua_upload_begin, false, true},
    [SCRIPT_TRANSFER_PROGRESS] = {"transfer_progress", lua_transfer_progress, false, true},
    [SCRIPT_TRANSFER_END] = {"transfer_end", lua_transfer_end, false, true},
    [SCRIPT_SESSION_COMPLETE] = {"session_complete", lua_session_complete, true, true},
    [SCRIPT_SESSION_COMPLETE_SERVER] = {"session_complete", lua_session_complete, false, true, true},
    [SCRIPT_FILE_LIST_SERVER] = {"file_list", lua_file_list, false, true, true},
    [SCRIPT_GARBAGE_TAKE] = {"garbage_take", lua_garbage_take, false, false},
    [SCRIPT_BLOBS_REFERENCED] = {"blobs_referenced", lua_blobs_referenced, false, true},
    [SCRIPT_COMPLETIONS_DUE] = {"completions_due", lua_completions_due, false, true},
    [SCRIPT_SESSIONS_ACTIVE] = {"sessions_active", lua_sessions_active, false, false},
};

typedef enum { LINK_DOWN, LINK_CONNECTING, LINK_LOADING, LINK_READY } link_state_t;

typedef enum { CALL_LOCAL, CALL_WAITING, CALL_SENT, CALL_ABANDONED, CALL_DONE } call_state_t;

typedef struct call call_t;
TAILQ_HEAD(call_list, call);

/* One call. Allocated as one block: this struct, the timer event, argv, lengths, and a copy of
 * every argument (queued calls outlive the caller's strings; NOSCRIPT retries resend them). */
struct call {
    TAILQ_ENTRY(call) link; /* in st->local, st->waiting or st->sent while unanswered */
    store_t *st;
    call_state_t state;
    store_status_t local;
    bool retried; /* NOSCRIPT already recovered once */
    script_id_t script;
    int64_t start_ns; /* store_eval, for the call duration histogram */
    store_reply_fn fn;
    store_fn_t cb;
    void *arg;
    struct event *timer; /* inside this block */
    int argc;
    const char **argv;
    size_t *argvlen;
    char nkeys[12];
};

struct store {
    struct event_base *base;
    store_config_t cfg;
    char *host, *unix_path, *prefix;
    size_t prefix_len;

    redisAsyncContext *ac; /* NULL when DOWN */
    link_state_t link;
    int loads_pending;  /* replies LOADING still waits for: the policy check + SCRIPT_COUNT */
    const char *drop_why; /* why the connect timer drops a LOADING link; NULL: it timed out */
    char bad_policy[32];  /* the wrong maxmemory-policy last logged; "" once one was right */
    bool policy_warned;   /* logged once: the policy could not be checked */
    struct event *connect_timer;   /* bounds CONNECTING + LOADING */
    struct event *reconnect_timer; /* backoff while DOWN */
    int backoff_ms;
    uint32_t rng;
    bool down_logged;

    const struct timeval *call_tv; /* libevent common timeout: O(1) timer adds */
    struct call_list local, waiting, sent;
    int nwaiting;

    int depth;
    bool free_requested;
    bool closing;

    char *text[SCRIPT_COUNT]; /* prelude + body */
    size_t text_len[SCRIPT_COUNT];
    char sha[SCRIPT_COUNT][41];
    sweeper_t *sweeper;
    store_expired_fn expired_fn; /* store_on_expired */
    void *expired_arg;
    store_expired_fn due_fn;     /* store_on_completion_due */
    void *due_arg;
    store_link_stats_t stats;    /* store_link_stats */
    bool was_ready;              /* the link was READY once: a later READY is a reconnect */
    int64_t kicked_ns;           /* store_kick's last reconnect */
};

static void destroy(store_t *st);
static void link_connect(store_t *st);

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Process-wide: the reply functions that see a transition have no store at hand. */
static store_session_counts_t session_counts;

void store_count_transition(session_state_t to, uint64_t n) {
    if ((unsigned)to < SESSION_STATE_COUNT) session_counts.to[to] += n;
}

void store_count_expired(uint64_t n) { session_counts.expired += n; }

void store_session_counts(store_session_counts_t *out) { *out = session_counts; }

void store_link_stats(const store_t *st, store_link_stats_t *out) {
    *out = st->stats;
    out->up = st->link == LINK_READY;
}

/* Out of memory is not recoverable in a server that must answer every call: stop loudly. */
static void *xmalloc(size_t n) {
    void *p = malloc(n);
    if (!p) {
        store_log_at(STORE_LOG_ERROR, "out of memory (%zu bytes)", n);
        abort();
    }
    return p;
}

static char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

/* Every status by name: the names scripts answer, and the ones only decided here. */
static const char *const status_names[] = {
    [ST_OK] = "OK",
    [ST_UNAVAILABLE] = "UNAVAILABLE",
    [ST_UNAUTHENTICATED] = "UNAUTHENTICATED",
    [ST_UNAUTHORIZED] = "UNAUTHORIZED",
    [ST_NOT_FOUND] = "NOT_FOUND",
    [ST_ALREADY_EXISTS] = "ALREADY_EXISTS",
    [ST_BUSY] = "BUSY",
    [ST_WRONG_TYPE] = "WRONG_TYPE",
    [ST_TOKEN_CONFLICT] = "TOKEN_CONFLICT",
    [ST_STATE_CHANGED] = "STATE_CHANGED",
    [ST_PROGRESS_LOWER] = "PROGRESS_LOWER",
    [ST_NO_FILE] = "NO_FILE",
    [ST_TRANSFER_BUSY] = "TRANSFER_BUSY",
    [ST_FILES_NOT_READY] = "FILES_NOT_READY",
    [ST_FILES_CHANGED] = "FILES_CHANGED",
    [ST_FILE_STATE] = "FILE_STATE",
    [ST_TOO_MANY_FILES] = "TOO_MANY_FILES",
    [ST_INTERNAL] = "INTERNAL",
};

const char *store_status_name(store_status_t s) {
    if ((size_t)s < ARRAY_LEN(status_names) && status_names[s]) return status_names[s];
    return "?";
}

const store_config_t *store_cfg(const store_t *st) { return &st->cfg; }

void store_on_expired(store_t *st, store_expired_fn fn, void *arg) {
    st->expired_fn = fn;
    st->expired_arg = arg;
}

void store_expired(store_t *st, const char *session_id) {
    if (st->expired_fn && !st->closing) st->expired_fn(st->expired_arg, session_id);
}

void store_on_completion_due(store_t *st, store_expired_fn fn, void *arg) {
    st->due_fn = fn;
    st->due_arg = arg;
}

void store_completion_due(store_t *st, const char *session_id) {
    if (st->due_fn && !st->closing) st->due_fn(st->due_arg, session_id);
}

struct event_base *store_base(const store_t *st) { return st->base; }

bool store_closing(const store_t *st) { return st->closing; }

void store_sweep_stats(const store_t *st, store_sweep_stats_t *out) { sweeper_stats(st->sweeper, out); }

const char *store_prefix(const store_t *st, size_t *len) {
    if (len) *len = st->prefix_len;
    return st->prefix;
}

bool store_connected(const store_t *st) { return st && st->link == LINK_READY; }

/* ---- entry points and re-entrancy ---------------------------------------------------------- */

static void enter(store_t *st) { st->depth++; }

/* The outermost entry point carries out a store_free requested by a reply function. */
static void leave(store_t *st) {
    assert(st->depth > 0);
    if (--st->depth == 0 && st->free_requested) destroy(st);
}

/* ---- calls --------------------------------------------------------------------------------- */

static struct call_list *call_list_of(store_t *st, call_state_t s) {
    switch (s) {
    case CALL_LOCAL: return &st->local;
    case CALL_WAITING: return &st->waiting;
    case CALL_SENT: return &st->sent;
    default: return NULL;
    }
}

/* Every state change goes through here, so a call is on exactly the list of its state and the
 * queue bound counts exactly the WAITING calls. */
static void call_move(call_t *c, call_state_t to) {
    store_t *st = c->st;
    struct call_list *from = call_list_of(st, c->state), *dst = call_list_of(st, to);
    if (from) TAILQ_REMOVE(from, c, link);
    if (c->state == CALL_WAITING) st->nwaiting--;
    c->state = to;
    if (dst) TAILQ_INSERT_TAIL(dst, c, link);
    if (to == CALL_WAITING) st->nwaiting++;
}

/* The only place a call is answered (see the invariant at the top). held: hiredis still has
 * the call as privdata of a pending callback, so it is ABANDONED and freed when that callback
 * runs; otherwise the caller frees it. */
static void call_answer(call_t *c, store_status_t s, const redisReply *r, bool held) {
    assert(c->state == CALL_LOCAL || c->state == CALL_WAITING || c->state == CALL_SENT);
    event_del(c->timer);
    if (c->state != CALL_LOCAL) {
        c->st->stats.calls++;
        hist_observe(&c->st->stats.call_seconds, mono_ns() - c->start_ns);
    }
    call_move(c, held ? CALL_ABANDONED : CALL_DONE);
    c->fn(s, r, c->cb, c->arg);
}

static void call_free(call_t *c) {
    assert(c->state == CALL_DONE || c->state == CALL_ABANDONED);
    free(c);
}

static void on_call_timer(evutil_socket_t fd, short what, void *arg);
static void on_reply(redisAsyncContext *ac, void *reply, void *privdata);

static size_t align_up(size_t n) {
    size_t a = alignof(max_align_t);
    return (n + a - 1) / a * a;
}

/* One allocation per call (see struct call). argv = EVALSHA sha nkeys keys... args... */
static call_t *call_new(store_t *st, const store_cmd_t *cmd, script_id_t script,
                        store_reply_fn fn, store_fn_t cb, void *arg) {
    int argc = cmd->local == ST_OK ? 3 + cmd->nkeys + cmd->nargs : 0;
    size_t data = 0;
    for (int i = 0; i < cmd->nkeys; i++) data += cmd->keylen[i];
    for (int i = 0; i < cmd->nargs; i++) data += cmd->arglen[i];
    if (argc == 0) data = 0;
    size_t off_ev = align_up(sizeof(call_t));
    size_t off_argv = off_ev + align_up(event_get_struct_event_size());
    size_t off_len = off_argv + (size_t)argc * sizeof(char *);
    size_t off_data = off_len + (size_t)argc * sizeof(size_t);
    char *block = xmalloc(off_data + data);

    call_t *c = (call_t *)block;
    memset(c, 0, sizeof(*c));
    c->st = st;
    c->state = CALL_DONE; /* not yet on any list */
    c->local = cmd->local;
    c->script = script;
    c->fn = fn;
    c->cb = cb;
    c->arg = arg;
    c->timer = (struct event *)(block + off_ev);
    event_assign(c->timer, st->base, -1, 0, on_call_timer, c);
    c->argc = argc;
    c->argv = (const char **)(block + off_argv);
    c->argvlen = (size_t *)(block + off_len);
    if (argc == 0) return c;

    snprintf(c->nkeys, sizeof(c->nkeys), "%d", cmd->nkeys);
    c->argv[0] = "EVALSHA";
    c->argvlen[0] = 7;
    c->argv[1] = st->sha[script];
    c->argvlen[1] = 40;
    c->argv[2] = c->nkeys;
    c->argvlen[2] = strlen(c->nkeys);
    char *p = block + off_data;
    int j = 3;
    for (int i = 0; i < cmd->nkeys; i++, j++) {
        memcpy(p, cmd->key[i], cmd->keylen[i]);
        c->argv[j] = p;
        c->argvlen[j] = cmd->keylen[i];
        p += cmd->keylen[i];
    }
    for (int i = 0; i < cmd->nargs; i++, j++) {
        if (cmd->arglen[i]) memcpy(p, cmd->arg[i], cmd->arglen[i]);
        c->argv[j] = p;
        c->argvlen[j] = cmd->arglen[i];
        p += cmd->arglen[i];
    }
    return c;
}

static int call_send(store_t *st, call_t *c) {
    return redisAsyncCommandArgv(st->ac, on_reply, c, c->argc, c->argv, c->argvlen) == REDIS_OK
               ? C_OK
               : C_ERR;
}

/* Sends the calls queued while the link was not READY, oldest first. A send refused by hiredis
 * means the context is already going away: the rest stay queued for the next link. */
static void flush_waiting(store_t *st) {
    call_t *c;
    while (st->link == LINK_READY && (c = TAILQ_FIRST(&st->waiting)) != NULL) {
        if (call_send(st, c) != C_OK) {
            st->link = LINK_DOWN;
            break;
        }
        call_move(c, CALL_SENT);
    }
}

void store_eval(store_cmd_t *cmd, script_id_t script, store_reply_fn fn, store_fn_t cb,
                void *arg) {
    store_t *st = cmd->st;
    if (st->closing) { /* only from a reply function run by store_free */
        fn(ST_UNAVAILABLE, NULL, cb, arg);
        return;
    }
    call_t *c = call_new(st, cmd, script, fn, cb, arg);
    c->start_ns = mono_ns();
    if (cmd->local != ST_OK || (st->link != LINK_READY && st->nwaiting >= QUEUE_MAX)) {
        if (cmd->local == ST_OK) c->local = ST_UNAVAILABLE;
        call_move(c, CALL_LOCAL);
        event_active(c->timer, EV_TIMEOUT, 1);
        return;
    }
    if (st->link == LINK_READY && call_send(st, c) == C_OK) {
        call_move(c, CALL_SENT);
    } else {
        if (st->link == LINK_READY) st->link = LINK_DOWN; /* hiredis refused: it is closing */
        call_move(c, CALL_WAITING);
    }
    evtimer_add(c->timer, st->call_tv);
}

/* ---- link ---------------------------------------------------------------------------------- */

/* Equal jitter: half the backoff fixed, half random, so instances that lost the same Redis do
 * not reconnect in lockstep. */
static void schedule_reconnect(store_t *st) {
    if (st->closing) return;
    st->rng ^= st->rng << 13;
    st->rng ^= st->rng >> 17;
    st->rng ^= st->rng << 5;
    int half = st->backoff_ms / 2;
    int ms = half + (int)(st->rng % (uint32_t)(half + 1));
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(st->reconnect_timer, &tv);
    st->backoff_ms = st->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : st->backoff_ms * 2;
}

static void note_down(store_t *st, const char *why) {
    if (!st->down_logged) store_log("redis link down: %s; reconnecting", why);
    st->down_logged = true;
}

/* Tears the link down from a timer (never from inside a hiredis callback): hiredis answers
 * every pending callback with NULL, then frees the context. The store forgets the context
 * first, so calls made from the reply functions run meanwhile are queued for the next link. */
static void link_drop(store_t *st, const char *why) {
    redisAsyncContext *ac = st->ac;
    st->ac = NULL;
    st->link = LINK_DOWN;
    event_del(st->connect_timer);
    note_down(st, why);
    if (ac) {
        ac->data = NULL;
        redisAsyncFree(ac);
    }
    schedule_reconnect(st);
}

static void on_connect_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    store_t *st = arg;
    if (st->link != LINK_CONNECTING && st->link != LINK_LOADING) return; /* already dropped */
    enter(st);
    link_drop(st, st->drop_why                ? st->drop_why
                  : st->link == LINK_LOADING ? "script load failed or timed out"
                                             : "connect timed out");
    leave(st);
}

static void on_reconnect_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    link_connect(arg);
}

#define KICK_MIN_NS (100 * 1000000LL)

/* The reconnect runs from the loop (its timer made active), never from the caller's stack. */
void store_kick(store_t *st) {
    if (!st || st->closing || st->link != LINK_DOWN || !evtimer_pending(st->reconnect_timer, NULL))
        return;
    int64_t now = mono_ns();
    if (now - st->kicked_ns < KICK_MIN_NS) return;
    st->kicked_ns = now;
    event_del(st->reconnect_timer);
    event_active(st->reconnect_timer, EV_TIMEOUT, 1);
}

/* One of LOADING's replies was good; the last one makes the link READY. A failed one never
 * counts, so a link with a failure cannot become READY while the connect timer drops it. */
static void load_step_done(store_t *st) {
    if (--st->loads_pending > 0) return;
    st->link = LINK_READY;
    st->backoff_ms = BACKOFF_MIN_MS;
    event_del(st->connect_timer);
    if (st->was_ready) st->stats.reconnects++;
    st->was_ready = true;
    if (st->down_logged) store_log_at(STORE_LOG_INFO, "redis link up");
    st->down_logged = false;
    flush_waiting(st);
}

static void on_script_loaded(redisAsyncContext *ac, void *reply, void *privdata) {
    store_t *st = ac->data;
    redisReply *r = reply;
    int i = (int)(intptr_t)privdata;
    if (!st || ac != st->ac || !r || st->link != LINK_LOADING) return; /* link going away */
    if (r->type != REDIS_REPLY_STRING || r->len != 40 || memcmp(r->str, st->sha[i], 40) != 0) {
        store_log("SCRIPT LOAD %s failed: %s", script_src[i].name,
                  r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        event_active(st->connect_timer, EV_TIMEOUT, 1); /* drop from the timer */
        return;
    }
    load_step_done(st);
}

/* The answer to CONFIG GET maxmemory-policy (["maxmemory-policy", POLICY]). Anything but
 * noeviction lets Redis evict a lock or a session under memory pressure, which would let a
 * second session become ACTIVE on an item: the link is refused (dropped from the connect timer,
 * so calls get ST_UNAVAILABLE) and retried with backoff, each retry asking again. The line is
 * logged once per wrong policy, not at every retry. A Redis that will not say (CONFIG renamed
 * or refused by ACL, an unexpected reply) cannot be checked: warned once, then served. */
static void on_policy(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)privdata;
    store_t *st = ac->data;
    redisReply *r = reply;
    if (!st || ac != st->ac || !r || st->link != LINK_LOADING) return; /* link going away */
    const redisReply *v =
        r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? r->element[1] : NULL;
    if (!v || (v->type != REDIS_REPLY_STRING && v->type != REDIS_REPLY_STATUS)) {
        if (!st->policy_warned)
            store_log("warning: cannot check Redis maxmemory-policy (CONFIG GET: %s); it must "
                      "be noeviction (keys of locks and sessions could be evicted)",
                      r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        st->policy_warned = true;
        load_step_done(st);
        return;
    }
    if (v->len == 10 && memcmp(v->str, "noeviction", 10) == 0) {
        st->bad_policy[0] = '\0';
        load_step_done(st);
        return;
    }
    int n = v->len < sizeof(st->bad_policy) ? (int)v->len : (int)sizeof(st->bad_policy) - 1;
    if (strlen(st->bad_policy) != (size_t)n || memcmp(st->bad_policy, v->str, (size_t)n) != 0) {
        store_log("Redis maxmemory-policy is %.*s; it must be noeviction (keys of locks and "
                  "sessions could be evicted); not serving until it is", n, v->str);
        memcpy(st->bad_policy, v->str, (size_t)n);
        st->bad_policy[n] = '\0';
    }
    st->drop_why = "maxmemory-policy is not noeviction";
    event_active(st->connect_timer, EV_TIMEOUT, 1); /* drop from the timer */
}

/* Connected: check the maxmemory-policy and load every script (pipelined, one round trip). No
 * reply function can run here (hiredis would not defer a free made from onConnect), so
 * anything that fails is left to the connect timer. */
static void on_connect(const redisAsyncContext *cac, int status) {
    store_t *st = cac->data;
    if (!st) return;
    if (status != REDIS_OK) { /* hiredis frees the context after this */
        st->ac = NULL;
        st->link = LINK_DOWN;
        event_del(st->connect_timer);
        note_down(st, cac->errstr);
        schedule_reconnect(st);
        return;
    }
    st->link = LINK_LOADING;
    st->loads_pending = 1 + SCRIPT_COUNT;
    const char *pargv[3] = {"CONFIG", "GET", "maxmemory-policy"};
    size_t plen[3] = {6, 3, 16};
    if (redisAsyncCommandArgv(st->ac, on_policy, NULL, 3, pargv, plen) != REDIS_OK) {
        event_active(st->connect_timer, EV_TIMEOUT, 1);
        return;
    }
    for (int i = 0; i < SCRIPT_COUNT; i++) {
        const char *argv[3] = {"SCRIPT", "LOAD", st->text[i]};
        size_t len[3] = {6, 4, st->text_len[i]};
        if (redisAsyncCommandArgv(st->ac, on_script_loaded, (void *)(intptr_t)i, 3, argv, len) !=
            REDIS_OK) {
            event_active(st->connect_timer, EV_TIMEOUT, 1);
            return;
        }
    }
}

/* The link died on its own (EOF, error). Pending calls already got their NULL replies; the
 * context is freed right after this returns. */
static void on_disconnect(const redisAsyncContext *cac, int status) {
    (void)status;
    store_t *st = cac->data;
    if (!st) return; /* we dropped it ourselves */
    st->ac = NULL;
    st->link = LINK_DOWN;
    event_del(st->connect_timer);
    note_down(st, cac->errstr[0] ? cac->errstr : "connection closed");
    schedule_reconnect(st);
}

/* Starts a non-blocking connect. (hiredis resolves a host name with getaddrinfo; give an
 * address or a name from /etc/hosts.) */
static void link_connect(store_t *st) {
    redisAsyncContext *ac = st->unix_path ? redisAsyncConnectUnix(st->unix_path)
                                          : redisAsyncConnect(st->host, st->cfg.redis_port);
    if (!ac) {
        note_down(st, "out of memory");
        schedule_reconnect(st);
        return;
    }
    if (ac->err) {
        note_down(st, ac->errstr);
        redisAsyncFree(ac);
        schedule_reconnect(st);
        return;
    }
    ac->data = st;
    redisLibeventAttach(ac, st->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    st->ac = ac;
    st->link = LINK_CONNECTING;
    st->drop_why = NULL;
    struct timeval tv = {st->cfg.connect_timeout_ms / 1000,
                         (st->cfg.connect_timeout_ms % 1000) * 1000};
    evtimer_add(st->connect_timer, &tv);
}

/* ---- replies and timeouts ------------------------------------------------------------------ */

static bool error_is(const redisReply *r, const char *code) {
    size_t n = strlen(code);
    return r->len >= n && memcmp(r->str, code, n) == 0 && (r->len == n || r->str[n] == ' ');
}

/* Maps a reply to a status: the script's status name, ST_UNAVAILABLE for errors that mean
 * "Redis cannot serve now" (loading, busy script, failover, out of memory), else ST_INTERNAL
 * (logged: a script bug or an incompatible server). */
static store_status_t reply_status(const call_t *c, const redisReply *r) {
    static const char *const transient[] = {"LOADING", "BUSY", "MASTERDOWN", "READONLY",
                                            "OOM", "TRYAGAIN", "CLUSTERDOWN"};
    if (r->type == REDIS_REPLY_ERROR) {
        for (size_t i = 0; i < ARRAY_LEN(transient); i++)
            if (error_is(r, transient[i])) {
                store_log("%s: %s", script_src[c->script].name, r->str);
                return ST_UNAVAILABLE;
            }
        store_log_at(STORE_LOG_ERROR, "%s: %s", script_src[c->script].name, r->str);
        return ST_INTERNAL;
    }
    const char *s = reply_str(r, 0);
    if (s) /* UNAVAILABLE and INTERNAL are decided here, never answered by a script */
        for (size_t i = 0; i < ARRAY_LEN(status_names); i++)
            if (status_names[i] && i != ST_UNAVAILABLE && i != ST_INTERNAL &&
                strcmp(s, status_names[i]) == 0)
                return (store_status_t)i;
    store_log_at(STORE_LOG_ERROR, "%s: unexpected reply (type %d%s%s)",
                 script_src[c->script].name, r->type, s ? ", status " : "", s ? s : "");
    return ST_INTERNAL;
}

/* NOSCRIPT (Redis restarted, SCRIPT FLUSH, failover to a replica that never saw the script):
 * pipeline SCRIPT LOAD and the same EVALSHA again, once. */
static bool retry_noscript(store_t *st, redisAsyncContext *ac, call_t *c) {
    if (c->retried || st->link != LINK_READY || ac != st->ac) return false;
    c->retried = true;
    const char *argv[3] = {"SCRIPT", "LOAD", st->text[c->script]};
    size_t len[3] = {6, 4, st->text_len[c->script]};
    return redisAsyncCommandArgv(ac, NULL, NULL, 3, argv, len) == REDIS_OK &&
           call_send(st, c) == C_OK;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata) {
    call_t *c = privdata;
    redisReply *r = reply;
    if (c->state == CALL_ABANDONED) { /* answered already; hiredis hands it back now */
        call_free(c);
        return;
    }
    assert(c->state == CALL_SENT);
    store_t *st = c->st;
    enter(st);
    if (!r) {
        /* NULL replies come only while a context is being freed: stop sending on it. */
        if (ac == st->ac) st->link = LINK_DOWN;
        call_answer(c, ST_UNAVAILABLE, NULL, false);
        call_free(c);
    } else if (r->type == REDIS_REPLY_ERROR && error_is(r, "NOSCRIPT") &&
               retry_noscript(st, ac, c)) {
        /* still SENT: the retried EVALSHA's reply comes to on_reply again */
    } else {
        call_answer(c, reply_status(c, r), r, false);
        call_free(c);
    }
    leave(st);
}

static void on_call_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    call_t *c = arg;
    store_t *st = c->st;
    enter(st);
    switch (c->state) {
    case CALL_LOCAL:
        call_answer(c, c->local, NULL, false);
        call_free(c);
        break;
    case CALL_WAITING:
        st->stats.timeouts++;
        call_answer(c, ST_UNAVAILABLE, NULL, false);
        call_free(c);
        break;
    case CALL_SENT:
        /* Redis did not answer in time: frozen or stuck. Answer now, then drop the link so
         * every other call in flight is answered too, instead of each waiting its own timer. */
        st->link = LINK_DOWN;
        st->stats.timeouts++;
        call_answer(c, ST_UNAVAILABLE, NULL, true);
        if (st->ac) link_drop(st, "call timed out");
        break;
    default:
        assert(!"timer of an answered call");
    }
    leave(st);
}

/* ---- lifetime ------------------------------------------------------------------------------ */

static void sha1_hex(const char *text, size_t len, char out[41]) {
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)text, len, md);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
}

store_t *store_new(struct event_base *base, const store_config_t *cfg) {
    const char *prefix = cfg->prefix ? cfg->prefix : "usd:";
    if (!base || strlen(prefix) > PREFIX_MAX || (!cfg->redis_unix && !cfg->redis_host)) {
        store_log("bad configuration (prefix longer than %d bytes, or no redis address)",
                  PREFIX_MAX);
        return NULL;
    }
    store_t *st = xmalloc(sizeof(*st));
    memset(st, 0, sizeof(*st));
    st->base = base;
    st->cfg = *cfg;
    store_config_t *c = &st->cfg;
    if (c->call_timeout_ms <= 0) c->call_timeout_ms = 2000;
    if (c->connect_timeout_ms <= 0) c->connect_timeout_ms = c->call_timeout_ms;
    if (c->session_timeout_ms <= 0) c->session_timeout_ms = 300000;
    if (c->retention_ms <= 0) c->retention_ms = 3600000;
    if (c->token_retention_ms <= 0) c->token_retention_ms = 86400000;
    if (c->sweep_interval_ms <= 0) c->sweep_interval_ms = 250;
    if (c->sweep_batch <= 0) c->sweep_batch = 200;
    if (c->transfer_lease_ms <= 0) c->transfer_lease_ms = 10000;
    if (c->max_files_per_session <= 0) c->max_files_per_session = 1000;
    if (c->login_idle_ms <= 0) c->login_idle_ms = 1800000;
    st->prefix = xstrdup(prefix);
    st->prefix_len = strlen(prefix);
    st->host = cfg->redis_host ? xstrdup(cfg->redis_host) : NULL;
    st->unix_path = cfg->redis_unix ? xstrdup(cfg->redis_unix) : NULL;
    c->prefix = st->prefix;
    c->redis_host = st->host;
    c->redis_unix = st->unix_path;

    TAILQ_INIT(&st->local);
    TAILQ_INIT(&st->waiting);
    TAILQ_INIT(&st->sent);
    st->backoff_ms = BACKOFF_MIN_MS;
    st->rng = (uint32_t)getpid() ^ (uint32_t)time(NULL) ^ (uint32_t)(uintptr_t)st;
    if (st->rng == 0) st->rng = 1;
    struct timeval tv = {c->call_timeout_ms / 1000, (c->call_timeout_ms % 1000) * 1000};
    st->call_tv = event_base_init_common_timeout(base, &tv);
    st->connect_timer = evtimer_new(base, on_connect_timer, st);
    st->reconnect_timer = evtimer_new(base, on_reconnect_timer, st);

    char events[64];
    int elen = snprintf(events, sizeof(events), "local events_max = %lld\n",
                        (long long)(c->events_max > 0 ? c->events_max : 0));
    size_t llen = strlen(lua_session_lib);
    for (int i = 0; i < SCRIPT_COUNT; i++) {
        size_t ev = script_src[i].session_lib ? (size_t)elen : 0;
        size_t lib = script_src[i].session_lib ? llen : 0;
        const char *head = script_src[i].prelude ? lua_prelude : script_src[i].clock ? lua_clock : "";
        size_t pre = strlen(head), blen = strlen(script_src[i].body);
        char *t = st->text[i] = xmalloc(ev + lib + pre + blen + 1);
        memcpy(t, events, ev);
        memcpy(t + ev, lua_session_lib, lib);
        memcpy(t + ev + lib, head, pre);
        memcpy(t + ev + lib + pre, script_src[i].body, blen + 1);
        st->text_len[i] = ev + lib + pre + blen;
        sha1_hex(st->text[i], st->text_len[i], st->sha[i]);
    }
    link_connect(st);
    st->sweeper = sweeper_new(st);
    return st;
}

/* Answers every unanswered call with ST_UNAVAILABLE (reply functions run here may only get
 * ST_UNAVAILABLE for new calls), hands the calls hiredis still holds over to it, frees the
 * context (its NULL callbacks free those calls) and the store. */
static void destroy(store_t *st) {
    st->depth = 1;
    st->closing = true;
    event_del(st->connect_timer);
    event_del(st->reconnect_timer);
    for (;;) {
        call_t *c = TAILQ_FIRST(&st->local);
        if (!c) c = TAILQ_FIRST(&st->waiting);
        if (!c) c = TAILQ_FIRST(&st->sent);
        if (!c) break;
        bool held = c->state == CALL_SENT;
        call_answer(c, ST_UNAVAILABLE, NULL, held);
        if (!held) call_free(c);
    }
    redisAsyncContext *ac = st->ac;
    st->ac = NULL;
    if (ac) {
        ac->data = NULL;
        redisAsyncFree(ac); /* deferred by hiredis when we are inside one of its callbacks */
    }
    event_free(st->connect_timer);
    event_free(st->reconnect_timer);
    sweeper_free(st->sweeper); /* after its call, if any, was answered above */
    for (int i = 0; i < SCRIPT_COUNT; i++) free(st->text[i]);
    free(st->prefix);
    free(st->host);
    free(st->unix_path);
    free(st);
}

void store_free(store_t *st) {
    if (!st) return;
    if (st->depth > 0) {
        st->free_requested = true;
        return;
    }
    destroy(st);
}
