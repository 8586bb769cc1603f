/* store/redis.c: the Redis link and every call made on it. Owns the hiredis async context
 * (libevent adapter, never a blocking hiredis call), connecting and reconnecting with backoff,
 * loading the scripts (store/lua/, prelude joined in), the per-call timers, the queue of calls
 * made while the link is down, NOSCRIPT recovery, and the guarantee that every call is answered
 * exactly once.
 *
 * Link states: DOWN (no context; a reconnect timer is pending) -> [RESOLVING (Sentinel only:
 * store/sentinel.c asks the sentinels for the primary's address)] -> CONNECTING (TCP connect in
 * progress) -> LOADING (connected, the ROLE and maxmemory-policy checks and SCRIPT LOADs in
 * flight) -> READY (calls are sent). CONNECTING and LOADING together are bounded by
 * connect_timeout_ms: a SIGSTOPped Redis accepts TCP connections but never answers, so a
 * connect that does not finish is torn down and retried. A Redis that may evict keys
 * (maxmemory-policy other than noeviction) never becomes READY: evicting a lock or a session
 * record would break the one-ACTIVE-session rule, so it is treated as a failed connect and
 * retried with backoff until an operator fixes the policy (CONFIG SET works; no restart of ours
 * needed). Nor does a replica (ROLE is not master), whatever the address form: nothing is ever
 * written to a replica. A link that meets READONLY (its server was demoted by a failover) is
 * dropped and made again, which re-resolves the primary with Sentinel; so does a
 * +switch-master for our master, which store/sentinel.c follows on one sentinel.
 *
 * --redis-wait-replicas N: a call whose script makes a change acknowledged to a client
 * (FX_ACKED in script_src) is followed on the link, pipelined, by WAIT N T; the call is answered
 * when WAIT answers. Fewer than N replicas in time answers ST_UNREPLICATED (the change was made
 * on the primary; a failover now may lose it). Group commit: WAIT blocks the link in Redis until
 * it answers (the calls sent after it wait too), and it covers every write made on the link
 * before it; so at most one WAIT is in flight per link, and the calls sent meanwhile share the
 * next one, sent behind them when the one in flight answers (or at the end of the turn when
 * none is), with T bounded by what is left of the shortest of their timeouts. Under load a
 * batch grows to what arrived during one replica round trip, instead of one WAIT per call.
 *
 * Call states (every call is answered exactly once; call_finish() is the only place that runs a
 * call's reply function, and it asserts the call was not answered before):
 *   LOCAL     answer already known (local status, or queue full); its timer is made active at
 *             once so the answer comes from the event loop, never from inside the API call
 *   WAITING   queued until the link is READY (bounded by QUEUE_MAX)
 *   SENT      handed to hiredis, unanswered
 *   ABANDONED answered (timeout, store_free, or an EVALSHA answer that needs no WAIT) while
 *             still referenced (`held` counts hiredis's EVALSHA callback and the WAIT batch):
 *             late replies or NULL replies are ignored and the last reference frees it
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
#include "store/logincache.h"
#include "store/sentinel.h"

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
/* With Sentinel a retry is one question to a sentinel: cheap, and the +switch-master of the one
 * sentinel we follow can come up to 2 s (its hello period) after the failover ended. */
#define SENTINEL_BACKOFF_MAX_MS 500
#define PREFIX_MAX 64

/* Generated from store/lua/NAME.lua by scripts/embed-lua.sh. */
extern const char lua_prelude[], lua_login[], lua_login_info[], lua_logout[], lua_hash_get[],
    lua_list[], lua_session_create[], lua_session_list[], lua_library_create[],
    lua_library_find[], lua_library_delete[], lua_item_create[], lua_item_find[],
    lua_item_delete[], lua_session_lib[], lua_session_change[], lua_sweep[], lua_file_add[],
    lua_file_get[], lua_file_list[], lua_file_remove[], lua_file_item_list[], lua_upload_begin[],
    lua_transfer_progress[], lua_transfer_end[], lua_session_complete[], lua_garbage_take[],
    lua_blobs_referenced[], lua_completions_due[], lua_sessions_active[], lua_session_read[],
    lua_login_check[], lua_login_touch[], lua_names_build[];

/* Joined in front of a body that uses `now`, `user` and `operator` but runs without the prelude
 * (which sets them): the server itself, user false, may do what an operator may. */
static const char lua_clock[] = "local now = time_ms()\nlocal user, operator = false, true\n";

/* Each script's text is [events] [session_lib] [prelude | clock] body: session_lib defines the
 * functions that end a session, preceded by the line that sets events_max (--events-max, which
 * session_lib's session_event reads), the prelude authenticates the caller, the clock sets `now`
 * for a body shared with a prelude'd script (the server's own complete). */
/* What a script does to the data, for --redis-wait-replicas. The zero value waits, so a new
 * script that forgets to say is safe. */
typedef enum {
    FX_ACKED,       /* a change acknowledged to a client: WAIT follows when wait_replicas > 0 */
    FX_READ,        /* reads only (the prelude's touch of a login's idle time aside) */
    FX_HOUSEKEEPING /* the server's own bookkeeping (sweeps, heartbeats, garbage, claims, the
                     * start of an upload): acknowledged to no one, redone if a failover loses
                     * it, or checked by the FX_ACKED call whose answer a client gets */
} script_effect_t;

static const struct {
    const char *name;
    const char *body;
    bool prelude;
    bool session_lib;
    bool clock;
    script_effect_t effect;
    const char *raw; /* not a script: this plain command, with the call's keys and arguments */
} script_src[SCRIPT_COUNT] = {
    [SCRIPT_LOGIN] = {"login", lua_login, false, false},
    [SCRIPT_SESSION_CHANGE] = {"session_change", lua_session_change, true, true},
    [SCRIPT_SWEEP] = {"sweep", lua_sweep, false, true, .effect = FX_HOUSEKEEPING},
    [SCRIPT_LOGIN_INFO] = {"login_info", lua_login_info, true, .effect = FX_READ},
    [SCRIPT_LOGOUT] = {"logout", lua_logout, true},
    [SCRIPT_HASH_GET] = {"hash_get", lua_hash_get, true, .effect = FX_READ},
    [SCRIPT_LIST] = {"list", lua_list, true, .effect = FX_READ},
    [SCRIPT_SESSION_CREATE] = {"session_create", lua_session_create, true, true},
    [SCRIPT_SESSION_LIST] = {"session_list", lua_session_list, true, .effect = FX_READ},
    [SCRIPT_LIBRARY_CREATE] = {"library_create", lua_library_create, true},
    [SCRIPT_LIBRARY_FIND] = {"library_find", lua_library_find, true, .effect = FX_READ},
    [SCRIPT_LIBRARY_DELETE] = {"library_delete", lua_library_delete, true, true},
    [SCRIPT_ITEM_CREATE] = {"item_create", lua_item_create, true},
    [SCRIPT_ITEM_FIND] = {"item_find", lua_item_find, true, .effect = FX_READ},
    [SCRIPT_ITEM_DELETE] = {"item_delete", lua_item_delete, true, true},
    [SCRIPT_FILE_ADD] = {"file_add", lua_file_add, true, true},
    [SCRIPT_FILE_GET] = {"file_get", lua_file_get, true, true, .effect = FX_READ},
    [SCRIPT_FILE_LIST] = {"file_list", lua_file_list, true, true, .effect = FX_READ},
    [SCRIPT_FILE_REMOVE] = {"file_remove", lua_file_remove, true, true},
    [SCRIPT_FILE_ITEM_LIST] = {"file_item_list", lua_file_item_list, true, .effect = FX_READ},
    [SCRIPT_UPLOAD_BEGIN] = {"upload_begin", lua_upload_begin, false, true, .effect = FX_HOUSEKEEPING},
    [SCRIPT_TRANSFER_PROGRESS] = {"transfer_progress", lua_transfer_progress, false, true, .effect = FX_HOUSEKEEPING},
    [SCRIPT_TRANSFER_END] = {"transfer_end", lua_transfer_end, false, true},
    [SCRIPT_SESSION_COMPLETE] = {"session_complete", lua_session_complete, true, true},
    [SCRIPT_SESSION_COMPLETE_SERVER] = {"session_complete", lua_session_complete, false, true, true, FX_HOUSEKEEPING},
    [SCRIPT_FILE_LIST_SERVER] = {"file_list", lua_file_list, false, true, true, FX_READ},
    [SCRIPT_GARBAGE_TAKE] = {"garbage_take", lua_garbage_take, false, false, .effect = FX_HOUSEKEEPING},
    [SCRIPT_BLOBS_REFERENCED] = {"blobs_referenced", lua_blobs_referenced, false, true, .effect = FX_READ},
    [SCRIPT_COMPLETIONS_DUE] = {"completions_due", lua_completions_due, false, true, .effect = FX_HOUSEKEEPING},
    [SCRIPT_SESSIONS_ACTIVE] = {"sessions_active", lua_sessions_active, false, false, .effect = FX_READ},
    [SCRIPT_SESSION_READ] = {"session_read", lua_session_read, false, false, .effect = FX_READ},
    [SCRIPT_LOGIN_CHECK] = {"login_check", lua_login_check, true, .effect = FX_READ},
    [SCRIPT_LOGIN_TOUCH] = {"login_touch", lua_login_touch, false, false, .effect = FX_HOUSEKEEPING},
    [CMD_HGETALL] = {"HGETALL", "", .effect = FX_READ, .raw = "HGETALL"},
    [SCRIPT_NAMES_BUILD] = {"names_build", lua_names_build, false, false, .effect = FX_HOUSEKEEPING},
};

typedef enum { LINK_DOWN, LINK_RESOLVING, LINK_CONNECTING, LINK_LOADING, LINK_READY } link_state_t;

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
    bool retried;    /* NOSCRIPT already recovered once */
    bool waits;      /* a WAIT follows the EVALSHA (FX_ACKED, wait_replicas > 0) */
    int held;        /* references still held: hiredis's EVALSHA callback, a WAIT batch */
    redisReply *saved; /* the script's OK answer, kept until its WAIT answers */
    int64_t deadline_ms; /* monotonic: when the call's timer fires */
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
    char *host, *unix_path, *prefix; /* host: with Sentinel, the primary last resolved */
    int port;
    size_t prefix_len;
    sentinel_t *sen; /* NULL without Sentinel */
    logincache_t *logins; /* store/logincache.c */

    redisAsyncContext *ac; /* NULL when DOWN */
    link_state_t link;
    unsigned gen;       /* counts links made, so a deferred drop hits only its own link */
    int loads_pending;  /* replies LOADING still waits for: ROLE, the policy, SCRIPT_COUNT */
    const char *drop_why; /* why the connect timer drops a LOADING link; NULL: it timed out */
    char bad_policy[32];  /* the wrong maxmemory-policy last logged; "" once one was right */
    bool policy_warned;   /* logged once: the policy could not be checked */
    char bad_role[32];    /* the role (not master) last logged; "" once a primary was found */
    bool role_warned;     /* logged once: the role could not be checked */
    struct event *readonly_ev; /* drops a link that met READONLY, from the loop */
    unsigned readonly_gen;     /* the link it drops */
    struct wait_batch *batch;  /* calls sent, whose WAIT is not sent yet */
    struct wait_batch *waiting_for; /* the batch whose WAIT is in flight, or NULL */
    struct event *wait_ev;     /* sends st->batch's WAIT (at the end of a turn) */
    int64_t unreplicated;      /* ST_UNREPLICATED answers not logged yet */
    int64_t unreplicated_logged_ms; /* when the last such line was logged */
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
    /* Redis TIME as seen from here (store_redis_now): offset = Redis ms - CLOCK_REALTIME ms,
     * sampled on every new link and every CLOCK_SAMPLE_MS by a plain TIME. */
    int64_t clock_offset_ms;
    unsigned clock_gen;          /* the link it was sampled on; 0: never */
    unsigned clock_asked_gen;    /* the link a TIME is in flight on; 0: none */
    int64_t clock_sent_ms;
    struct event *clock_timer;
    bool was_ready;              /* the link was READY once: a later READY is a reconnect */
    int64_t kicked_ns;           /* store_kick's last reconnect */
};

static void destroy(store_t *st);
static void link_connect(store_t *st);
static void clock_sample(store_t *st);

#define CLOCK_SAMPLE_MS 1000

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
    [ST_UNREPLICATED] = "UNREPLICATED",
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

unsigned store_link_gen(const store_t *st) { return st->gen; }

void store_link_target(const store_t *st, const char **host, int *port, const char **unix_path) {
    *host = st->host;
    *port = st->port;
    *unix_path = st->unix_path;
}

logincache_t *store_logins(const store_t *st) { return st->logins; }

void store_login_cache_stats(const store_t *st, store_login_cache_stats_t *out) {
    logincache_stats(st->logins, out);
}

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

static void reply_free(redisReply *r);

static void call_free(call_t *c) {
    assert((c->state == CALL_DONE || c->state == CALL_ABANDONED) && c->held == 0);
    reply_free(c->saved);
    free(c);
}

/* The only place a call is answered (see the invariant at the top), then freed, unless hiredis
 * still holds it as privdata of a pending callback (its EVALSHA's or its WAIT's): then it is
 * ABANDONED and freed by the last of those callbacks. */
static void call_finish(call_t *c, store_status_t s, const redisReply *r) {
    assert(c->state == CALL_LOCAL || c->state == CALL_WAITING || c->state == CALL_SENT);
    event_del(c->timer);
    if (c->state != CALL_LOCAL) {
        c->st->stats.calls++;
        hist_observe(&c->st->stats.call_seconds, mono_ns() - c->start_ns);
    }
    call_move(c, c->held > 0 ? CALL_ABANDONED : CALL_DONE);
    c->fn(s, r, c->cb, c->arg);
    if (c->held == 0) call_free(c);
}

/* A hiredis callback of c ran: true when c was answered already (and is now freed if this was
 * the last callback holding it), so the callback must not touch it. */
static bool call_unhold(call_t *c) {
    assert(c->held > 0);
    c->held--;
    if (c->state != CALL_ABANDONED) return false;
    if (c->held == 0) call_free(c);
    return true;
}

/* A deep copy of a script's answer (hiredis frees its own when the callback returns), kept
 * while the call waits for its WAIT. Answers are small: a status and a few fields. */
static redisReply *reply_dup(const redisReply *r) {
    redisReply *d = xmalloc(sizeof(*d));
    *d = *r;
    d->str = NULL;
    d->element = NULL;
    if (r->str) {
        d->str = xmalloc(r->len + 1);
        memcpy(d->str, r->str, r->len);
        d->str[r->len] = '\0';
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
        d->element = xmalloc(r->elements * sizeof(*d->element));
        for (size_t i = 0; i < r->elements; i++) d->element[i] = reply_dup(r->element[i]);
    }
    return d;
}

static void reply_free(redisReply *r) {
    if (!r) return;
    if (r->element)
        for (size_t i = 0; i < r->elements; i++) reply_free(r->element[i]);
    free(r->element);
    free(r->str);
    free(r);
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
    const char *raw = script_src[script].raw;
    int head = raw ? 1 : 3; /* HGETALL | EVALSHA sha numkeys */
    int argc = cmd->local == ST_OK ? head + cmd->nkeys + cmd->nargs : 0;
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
    c->waits = st->cfg.wait_replicas > 0 && script_src[script].effect == FX_ACKED;
    c->deadline_ms = mono_ms() + st->cfg.call_timeout_ms;
    c->timer = (struct event *)(block + off_ev);
    event_assign(c->timer, st->base, -1, 0, on_call_timer, c);
    c->argc = argc;
    c->argv = (const char **)(block + off_argv);
    c->argvlen = (size_t *)(block + off_len);
    if (argc == 0) return c;

    if (raw) {
        c->argv[0] = raw;
        c->argvlen[0] = strlen(raw);
    } else {
        snprintf(c->nkeys, sizeof(c->nkeys), "%d", cmd->nkeys);
        c->argv[0] = "EVALSHA";
        c->argvlen[0] = 7;
        c->argv[1] = st->sha[script];
        c->argvlen[1] = 40;
        c->argv[2] = c->nkeys;
        c->argvlen[2] = strlen(c->nkeys);
    }
    char *p = block + off_data;
    int j = head;
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

/* Calls sent on one link, answered by one WAIT (group commit). Each call in it holds a
 * reference (held) until the WAIT answers. */
typedef struct wait_batch {
    store_t *st;           /* NULL once the store is gone (a WAIT still held by hiredis) */
    redisAsyncContext *ac; /* the link its calls went out on: the WAIT must follow them there */
    int n, cap;
    call_t **calls;
    int64_t deadline_ms;   /* the earliest of the calls' deadlines */
} wait_batch_t;

/* A WAIT is in flight on the current link. */
static bool wait_in_flight(const store_t *st) {
    return st->waiting_for && st->waiting_for->ac == st->ac;
}

/* Adds c to the open batch (made by the first call; its WAIT goes at the end of this turn, or
 * when the WAIT in flight answers). */
static void batch_add(store_t *st, call_t *c) {
    wait_batch_t *b = st->batch;
    if (!b) {
        b = xmalloc(sizeof(*b));
        memset(b, 0, sizeof(*b));
        b->st = st;
        b->ac = st->ac;
        b->deadline_ms = INT64_MAX;
        st->batch = b;
    }
    /* A dropped link's batch ends in the same turn (its WAIT's NULL reply, or wait_ev), before
     * a new link can be READY. */
    assert(b->ac == st->ac);
    if (!wait_in_flight(st)) event_active(st->wait_ev, EV_TIMEOUT, 1);
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 16;
        call_t **calls = realloc(b->calls, (size_t)b->cap * sizeof(*calls));
        if (!calls) {
            store_log("out of memory");
            abort();
        }
        b->calls = calls;
    }
    b->calls[b->n++] = c;
    c->held++;
    if (c->deadline_ms < b->deadline_ms) b->deadline_ms = c->deadline_ms;
}

/* Hands the EVALSHA to hiredis (an FX_ACKED call joins this turn's WAIT batch). */
static int call_send(store_t *st, call_t *c) {
    if (redisAsyncCommandArgv(st->ac, on_reply, c, c->argc, c->argv, c->argvlen) != REDIS_OK)
        return C_ERR;
    c->held++;
    if (c->waits) batch_add(st, c);
    return C_OK;
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
    int max = st->sen ? SENTINEL_BACKOFF_MAX_MS : BACKOFF_MAX_MS;
    st->backoff_ms = st->backoff_ms * 2 > max ? max : st->backoff_ms * 2;
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
    logincache_link_ready(st->logins);
    clock_sample(st);
    flush_waiting(st);
}

/* ---- Redis's clock, from here ---------------------------------------------------------------
 * Reads that run no script (a session GET) still need Redis TIME to tell an overdue session:
 * the offset between Redis's clock and ours, sampled with TIME (taken at the midpoint of the
 * round trip, so off by at most half of it, plus our clock's drift within a second). */

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_time(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)privdata;
    store_t *st = ac->data;
    redisReply *r = reply;
    if (!st || ac != st->ac || !r) return;
    st->clock_asked_gen = 0;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING)
        return;
    int64_t redis_ms = strtoll(r->element[0]->str, NULL, 10) * 1000 +
                       strtoll(r->element[1]->str, NULL, 10) / 1000;
    st->clock_offset_ms = redis_ms - (st->clock_sent_ms + wall_ms()) / 2;
    st->clock_gen = st->gen;
}

static void clock_sample(store_t *st) {
    if (st->link != LINK_READY || st->clock_asked_gen == st->gen) return;
    st->clock_sent_ms = wall_ms();
    if (redisAsyncCommand(st->ac, on_time, NULL, "TIME") == REDIS_OK) st->clock_asked_gen = st->gen;
}

static void on_clock_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    clock_sample(arg);
}

bool store_redis_now(const store_t *st, int64_t *now_ms) {
    if (st->link != LINK_READY || st->clock_gen != st->gen || st->gen == 0) return false;
    *now_ms = wall_ms() + st->clock_offset_ms;
    return true;
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

/* "host:port" or "unix:path" of the link, for log lines. */
static const char *link_addr(const store_t *st, char *buf, size_t size) {
    if (st->unix_path) snprintf(buf, size, "unix:%s", st->unix_path);
    else snprintf(buf, size, "%s:%d", st->host, st->port);
    return buf;
}

/* The answer to ROLE (["master", ...], ["slave", ...], ["sentinel", ...]). Only a primary is
 * served: writing to a replica would fail (READONLY) or, on a writable replica, be lost, and
 * reading from one may be stale. Anything else is refused like a wrong maxmemory-policy:
 * dropped from the connect timer and retried with backoff (re-resolving with Sentinel),
 * logged once per role and address. A Redis that will not say (ROLE refused by an ACL) is
 * warned about once and served: a write to a replica would still meet READONLY. */
static void on_role(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)privdata;
    store_t *st = ac->data;
    redisReply *r = reply;
    if (!st || ac != st->ac || !r || st->link != LINK_LOADING) return; /* link going away */
    const redisReply *v = r->type == REDIS_REPLY_ARRAY && r->elements >= 1 ? r->element[0] : NULL;
    char addr[300];
    if (!v || v->type != REDIS_REPLY_STRING) {
        if (!st->role_warned)
            store_log("warning: cannot check that redis %s is a primary (ROLE: %s)",
                      link_addr(st, addr, sizeof(addr)),
                      r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        st->role_warned = true;
        load_step_done(st);
        return;
    }
    if (v->len == 6 && memcmp(v->str, "master", 6) == 0) {
        st->bad_role[0] = '\0';
        load_step_done(st);
        return;
    }
    char role[sizeof(st->bad_role)];
    snprintf(role, sizeof(role), "%.*s", (int)(v->len < 31 ? v->len : 31), v->str);
    if (strcmp(role, st->bad_role) != 0) {
        store_log("redis %s is a %s (ROLE), not a primary: not serving from it (nothing is "
                  "written to a replica); retrying%s", link_addr(st, addr, sizeof(addr)),
                  strcmp(role, "slave") == 0 ? "replica" : role,
                  st->sen ? " and asking the sentinels again" : " until it is a primary");
        memcpy(st->bad_role, role, sizeof(role));
    }
    st->drop_why = "not a primary (ROLE)";
    event_active(st->connect_timer, EV_TIMEOUT, 1); /* drop from the timer */
}

/* Connected: check the role and the maxmemory-policy and load every script (pipelined, one
 * round trip; ROLE first, and nothing that writes). No reply function can run here (hiredis
 * would not defer a free made from onConnect), so anything that fails is left to the connect
 * timer. */
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
    st->loads_pending = 2;
    for (int i = 0; i < SCRIPT_COUNT; i++) st->loads_pending += !script_src[i].raw;
    const char *rargv[1] = {"ROLE"};
    size_t rlen[1] = {4};
    const char *pargv[3] = {"CONFIG", "GET", "maxmemory-policy"};
    size_t plen[3] = {6, 3, 16};
    if (redisAsyncCommandArgv(st->ac, on_role, NULL, 1, rargv, rlen) != REDIS_OK ||
        redisAsyncCommandArgv(st->ac, on_policy, NULL, 3, pargv, plen) != REDIS_OK) {
        event_active(st->connect_timer, EV_TIMEOUT, 1);
        return;
    }
    for (int i = 0; i < SCRIPT_COUNT; i++) {
        if (script_src[i].raw) continue;
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

/* Starts a non-blocking connect to st->host:port or st->unix_path. (hiredis resolves a host
 * name with getaddrinfo; give an address or a name from /etc/hosts.) */
static void link_connect_to(store_t *st) {
    redisAsyncContext *ac = st->unix_path ? redisAsyncConnectUnix(st->unix_path)
                                          : redisAsyncConnect(st->host, st->port);
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
    st->gen++;
    st->link = LINK_CONNECTING;
    st->drop_why = NULL;
    struct timeval tv = {st->cfg.connect_timeout_ms / 1000,
                         (st->cfg.connect_timeout_ms % 1000) * 1000};
    evtimer_add(st->connect_timer, &tv);
}

/* Every (re)connect: with Sentinel, the primary's address is asked first (on_resolved
 * continues); else the one address given. */
static void link_connect(store_t *st) {
    if (!st->sen) {
        link_connect_to(st);
        return;
    }
    st->link = LINK_RESOLVING;
    sentinel_resolve(st->sen);
}

/* The sentinels' answer (from a timer of store/sentinel.c). */
static void on_resolved(void *arg, const char *host, int port) {
    store_t *st = arg;
    if (st->link != LINK_RESOLVING) return;
    st->link = LINK_DOWN;
    if (!host) {
        note_down(st, "no sentinel named the primary");
        schedule_reconnect(st);
        return;
    }
    free(st->host);
    st->host = xstrdup(host);
    st->port = port;
    link_connect_to(st);
}

/* A sentinel announced that our master moved to host:port (from a timer of store/sentinel.c).
 * A link to another address is dropped and made again at once (which re-resolves: the
 * announcement is a hint, the sentinels' answer and ROLE decide); a reconnect waiting for its
 * backoff goes now. */
static void on_switch(void *arg, const char *host, int port) {
    store_t *st = arg;
    store_log("sentinel: +switch-master: %s is now at %s:%d", sentinel_master(st->sen), host,
              port);
    st->backoff_ms = BACKOFF_MIN_MS;
    enter(st);
    if (st->link == LINK_DOWN && !st->ac && evtimer_pending(st->reconnect_timer, NULL)) {
        event_del(st->reconnect_timer);
        link_connect(st);
    } else if (st->link != LINK_DOWN && st->link != LINK_RESOLVING && st->ac &&
               (strcmp(st->host, host) != 0 || st->port != port)) {
        link_drop(st, "the primary moved (+switch-master)");
    }
    leave(st);
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
                if (!error_is(r, "READONLY")) /* logged once per link by link_readonly */
                    store_log("%s: %s", script_src[c->script].name, r->str);
                return ST_UNAVAILABLE;
            }
        store_log_at(STORE_LOG_ERROR, "%s: %s", script_src[c->script].name, r->str);
        return ST_INTERNAL;
    }
    if (script_src[c->script].raw) return ST_OK; /* the reply function reads the plain reply */
    const char *s = reply_str(r, 0);
    if (s) /* UNAVAILABLE and INTERNAL are decided here, never answered by a script */
        for (size_t i = 0; i < ARRAY_LEN(status_names); i++)
            if (status_names[i] && i != ST_UNAVAILABLE && i != ST_UNREPLICATED && i != ST_INTERNAL &&
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

/* A write met READONLY: the server of this link is a replica now (a failover demoted it).
 * Nothing more is sent on it (new calls queue), and it is dropped from the event loop (not from
 * inside this hiredis callback): the calls in flight on it are answered ST_UNAVAILABLE, and the
 * reconnect re-resolves the primary with Sentinel, or finds by ROLE that the one address we
 * have is still a replica. */
static void link_readonly(store_t *st, redisAsyncContext *ac) {
    if (ac != st->ac || event_pending(st->readonly_ev, EV_TIMEOUT, NULL)) return;
    char addr[300];
    store_log("redis %s answered READONLY: it is a replica now; reconnecting",
              link_addr(st, addr, sizeof(addr)));
    st->link = LINK_DOWN;
    st->readonly_gen = st->gen;
    event_active(st->readonly_ev, EV_TIMEOUT, 1);
}

static void on_readonly_ev(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    store_t *st = arg;
    if (!st->ac || st->gen != st->readonly_gen) return; /* that link is gone already */
    enter(st);
    link_drop(st, "the server became a replica (READONLY)");
    leave(st);
}

/* n ST_UNREPLICATED answers: logged at most once a second, with how many there were. */
static void note_unreplicated(store_t *st, const redisReply *r, int64_t n) {
    st->unreplicated += n;
    int64_t now = mono_ms();
    if (now - st->unreplicated_logged_ms < 1000) return;
    char got[64];
    if (!r) snprintf(got, sizeof(got), "no answer");
    else if (r->type == REDIS_REPLY_INTEGER) snprintf(got, sizeof(got), "%lld", (long long)r->integer);
    else snprintf(got, sizeof(got), "%.50s", r->type == REDIS_REPLY_ERROR ? r->str : "?");
    store_log("WAIT: %s of %d replicas acknowledged; %lld change(s) answered as not replicated "
              "since the last such line", got, st->cfg.wait_replicas, (long long)st->unreplicated);
    st->unreplicated = 0;
    st->unreplicated_logged_ms = now;
}

/* The answer to a call's EVALSHA. */
static void on_reply(redisAsyncContext *ac, void *reply, void *privdata) {
    call_t *c = privdata;
    redisReply *r = reply;
    if (call_unhold(c)) return; /* answered already; hiredis hands it back now */
    assert(c->state == CALL_SENT);
    store_t *st = c->st;
    enter(st);
    if (!r) {
        /* NULL replies come only while a context is being freed: stop sending on it. */
        if (ac == st->ac) st->link = LINK_DOWN;
        call_finish(c, ST_UNAVAILABLE, NULL);
    } else if (r->type == REDIS_REPLY_ERROR && error_is(r, "NOSCRIPT") &&
               retry_noscript(st, ac, c)) {
        /* still SENT: the retried EVALSHA's reply comes to on_reply again (it joined a new
         * WAIT batch; the batch of the failed one finds nothing saved and passes it by) */
    } else {
        store_status_t s = reply_status(c, r);
        if (r->type == REDIS_REPLY_ERROR && error_is(r, "READONLY")) link_readonly(st, ac);
        if (s == ST_OK && c->waits)
            c->saved = reply_dup(r); /* answered when its WAIT answers */
        else
            call_finish(c, s, r); /* no change to wait for (its batch passes it by) */
    }
    leave(st);
}

/* The end of a WAIT batch: r is WAIT's answer (the number of replicas that acknowledged every
 * write made on the link before it), or NULL when it was not sent or the link went away. Each
 * call still waiting gets ST_OK with its saved answer, or ST_UNREPLICATED. A call answered
 * already (no change, an error, a timeout) is only released; one with nothing saved is in a
 * NOSCRIPT retry, whose new batch answers it. st is touched only if a call still waits: the
 * store may be gone when hiredis hands a freed link's WAIT back. */
static void batch_end(wait_batch_t *b, redisAsyncContext *ac, const redisReply *r) {
    store_t *st = NULL;
    for (int i = 0; i < b->n && !st; i++)
        if (b->calls[i]->state != CALL_ABANDONED) st = b->calls[i]->st;
    if (st) enter(st);
    if (st && !r && ac && ac == st->ac) st->link = LINK_DOWN; /* the link is being freed */
    bool ok = st && r && r->type == REDIS_REPLY_INTEGER && r->integer >= st->cfg.wait_replicas;
    int64_t unconfirmed = 0;
    for (int i = 0; i < b->n; i++) {
        call_t *c = b->calls[i];
        if (call_unhold(c) || !c->saved) continue;
        if (!ok) unconfirmed++;
        call_finish(c, ok ? ST_OK : ST_UNREPLICATED, ok ? c->saved : NULL);
    }
    if (unconfirmed) note_unreplicated(st, r, unconfirmed);
    free(b->calls);
    free(b);
    if (st) leave(st);
}

/* A batch's WAIT answered (or hiredis hands it back with NULL): the batch ends, and the open
 * batch, if any, gets its WAIT now that none is in flight. */
static void on_wait(redisAsyncContext *ac, void *reply, void *privdata) {
    wait_batch_t *b = privdata;
    store_t *st = b->st;
    if (st) {
        enter(st);
        if (st->waiting_for == b) st->waiting_for = NULL;
    }
    batch_end(b, ac, reply);
    if (st) {
        if (st->batch && !st->closing) event_active(st->wait_ev, EV_TIMEOUT, 1);
        leave(st);
    }
}

/* Sends the open batch's WAIT behind its calls, on their link, unless one is in flight (its
 * answer sends this one), with what is left of the shortest of their timeouts less a margin (a
 * fifth of the call timeout, 10..500 ms), so that it answers before a call's timer would take
 * Redis for frozen; never 0 (WAIT 0 would block for ever). */
static void on_wait_ev(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    store_t *st = arg;
    wait_batch_t *b = st->batch;
    if (!b || wait_in_flight(st)) return;
    st->batch = NULL;
    int64_t margin = st->cfg.call_timeout_ms / 5;
    margin = margin < 10 ? 10 : margin > 500 ? 500 : margin;
    int64_t ms = b->deadline_ms - mono_ms() - margin;
    char n[16], t[24];
    snprintf(n, sizeof(n), "%d", st->cfg.wait_replicas);
    snprintf(t, sizeof(t), "%lld", (long long)(ms < 1 ? 1 : ms));
    const char *argv[3] = {"WAIT", n, t};
    size_t len[3] = {4, strlen(n), strlen(t)};
    if (b->ac && b->ac == st->ac &&
        redisAsyncCommandArgv(st->ac, on_wait, b, 3, argv, len) == REDIS_OK) {
        assert(!st->waiting_for); /* a dropped link's WAIT came back before a new link was up */
        st->waiting_for = b;
        return;
    }
    enter(st);
    batch_end(b, NULL, NULL); /* their link is gone: nothing can confirm them */
    leave(st);
}

static void on_call_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    call_t *c = arg;
    store_t *st = c->st;
    enter(st);
    switch (c->state) {
    case CALL_LOCAL:
        call_finish(c, c->local, NULL);
        break;
    case CALL_WAITING:
        st->stats.timeouts++;
        call_finish(c, ST_UNAVAILABLE, NULL);
        break;
    case CALL_SENT:
        /* Redis did not answer in time: frozen or stuck. Answer now, then drop the link so
         * every other call in flight is answered too, instead of each waiting its own timer.
         * A change made but not confirmed by its WAIT is answered as such. */
        st->link = LINK_DOWN;
        st->stats.timeouts++;
        if (c->saved) note_unreplicated(st, NULL, 1);
        call_finish(c, c->saved ? ST_UNREPLICATED : ST_UNAVAILABLE, NULL);
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
    bool sentinel = cfg->sentinels > 0;
    if (!base || strlen(prefix) > PREFIX_MAX ||
        (!sentinel && !cfg->redis_unix && !cfg->redis_host) ||
        (sentinel && (cfg->sentinels > STORE_SENTINELS_MAX || !cfg->master_name)) ||
        cfg->wait_replicas < 0) {
        store_log("bad configuration (prefix longer than %d bytes, no redis address, or a bad "
                  "sentinel list)", PREFIX_MAX);
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
    st->host = !sentinel && cfg->redis_host ? xstrdup(cfg->redis_host) : NULL;
    st->port = cfg->redis_port;
    st->unix_path = !sentinel && cfg->redis_unix ? xstrdup(cfg->redis_unix) : NULL;
    c->prefix = st->prefix;
    c->redis_host = sentinel ? NULL : st->host;
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
    st->readonly_ev = evtimer_new(base, on_readonly_ev, st);
    st->wait_ev = evtimer_new(base, on_wait_ev, st);
    st->clock_timer = event_new(base, -1, EV_PERSIST, on_clock_timer, st);
    struct timeval ctv = {CLOCK_SAMPLE_MS / 1000, (CLOCK_SAMPLE_MS % 1000) * 1000};
    evtimer_add(st->clock_timer, &ctv);
    if (sentinel) {
        st->sen = sentinel_new(base, c, on_resolved, on_switch, st);
        if (!st->sen) {
            store_log("out of memory");
            abort();
        }
        c->master_name = sentinel_master(st->sen); /* the caller's strings may not last */
        for (int i = 0; i < c->sentinels; i++) c->sentinel_host[i] = NULL;
    }

    char events[64];
    int elen = snprintf(events, sizeof(events), "local events_max = %lld\n",
                        (long long)(c->events_max > 0 ? c->events_max : 0));
    size_t llen = strlen(lua_session_lib);
    for (int i = 0; i < SCRIPT_COUNT; i++) {
        if (script_src[i].raw) continue; /* a plain command: no text, no SHA */
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
    st->logins = logincache_new(st);
    if (!st->logins) {
        store_log("out of memory");
        abort();
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
    sentinel_free(st->sen); /* no resolve or switch callback after this */
    st->sen = NULL;
    event_del(st->connect_timer);
    event_del(st->reconnect_timer);
    event_del(st->readonly_ev);
    event_del(st->wait_ev);
    event_del(st->clock_timer);
    for (;;) {
        call_t *c = TAILQ_FIRST(&st->local);
        if (!c) c = TAILQ_FIRST(&st->waiting);
        if (!c) c = TAILQ_FIRST(&st->sent);
        if (!c) break;
        /* those hiredis holds are freed by it */
        call_finish(c, c->saved ? ST_UNREPLICATED : ST_UNAVAILABLE, NULL);
    }
    if (st->batch) batch_end(st->batch, NULL, NULL); /* releases its (answered) calls */
    st->batch = NULL;
    if (st->waiting_for) st->waiting_for->st = NULL; /* its WAIT comes back without a store */
    st->waiting_for = NULL;
    redisAsyncContext *ac = st->ac;
    st->ac = NULL;
    if (ac) {
        ac->data = NULL;
        redisAsyncFree(ac); /* deferred by hiredis when we are inside one of its callbacks */
    }
    event_free(st->connect_timer);
    event_free(st->reconnect_timer);
    event_free(st->readonly_ev);
    event_free(st->wait_ev);
    event_free(st->clock_timer);
    sweeper_free(st->sweeper); /* after its call, if any, was answered above */
    logincache_free(st->logins);
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
