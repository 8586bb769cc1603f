/* store/logincache.c: this instance's cache of login records (README "Logins"). A request whose
 * login is cached is authenticated and authorized in C, so a read needs no script that touches
 * the login (store/sessions.c reads a session with one small script).
 *
 * Why it stays true to Redis:
 *   - Logout: logout.lua deletes the login and PUBLISHes its hashed name on P logouts in the
 *     same step; every instance is subscribed (a second hiredis context, on the server the
 *     link is on) and forgets it when the message arrives. While the subscription is not
 *     confirmed on the current link, nothing is served from the cache (every request asks
 *     Redis), and everything cached is forgotten whenever the subscription or the link is
 *     lost: a logout missed meanwhile cannot be served from here.
 *   - Idle expiry: an entry is trusted until asked + idle (asked: when the Redis answer that
 *     filled it, or the last renewal, was sent). Redis's timer is at least that late: the
 *     prelude and login_touch.lua set it to idle + step at most `step` before. Another
 *     instance's uses only make the login live longer than this instance thinks (a miss then
 *     asks Redis again).
 *   - Renewal: a hit renews the login at most once per step, fire-and-forget (login_touch.lua;
 *     an answer "gone" forgets the entry). A renewal lost with the link is harmless: the link's
 *     loss clears the cache.
 *   - A fill that raced an invalidation: logincache_put is refused when anything invalidated
 *     since the question was asked (the version moves on every logout message and every loss).
 *   - A login deleted by hand: every script still checks that the login exists (the
 *     prelude's EXISTS), so changes are refused at once; a cached read finds out at the next
 *     renewal (within a step) and the entry is forgotten.
 *
 * Memory is bounded: a 4-way set-associative table of LC_SETS x LC_WAYS entries (about 3 MiB,
 * allocated at the first fill); a full set replaces the entry that expires first. */
#include "store/logincache.h"
#include "store/redis.h"
#include "store/subscription.h"

#include <stdlib.h>
#include <string.h>


#define LC_SETS 4096
#define LC_WAYS 4
#define SUB_BACKOFF_MIN_MS 50
#define SUB_BACKOFF_MAX_MS 2000
#define CHANNEL_SUFFIX "logouts"

typedef struct {
    char hex[LOGIN_HEX_LEN + 1]; /* "" = empty slot */
    login_seen_t who;
    int64_t valid_until_ms;
    int64_t renewed_ms;
} lc_entry_t;

struct logincache {
    store_t *st;
    lc_entry_t *slots; /* LC_SETS * LC_WAYS, NULL until the first fill */
    uint64_t version;  /* moves on every invalidation */
    store_login_cache_stats_t stats;

    subscription_t *sub;  /* to P logouts */
    unsigned sub_gen;     /* the store link generation it was made on */
    bool logged_down;
    char channel[96];
};

static int64_t idle_ms(const logincache_t *lc) { return store_cfg(lc->st)->login_idle_ms; }

/* The prelude's renewal step: at most once a second, less for tiny idle timeouts. */
static int64_t step_ms(const logincache_t *lc) {
    int64_t s = idle_ms(lc) / 10;
    return s < 1000 ? s : 1000;
}

/* FNV-1a of the hex name: tokens are random, so any mixing of their hash spreads well. */
static lc_entry_t *set_of(logincache_t *lc, const char *hex) {
    uint32_t h = 2166136261u;
    for (const char *p = hex; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    return lc->slots + (size_t)(h % LC_SETS) * LC_WAYS;
}

static void clear_all(logincache_t *lc) {
    lc->version++;
    if (lc->slots) memset(lc->slots, 0, sizeof(lc_entry_t) * LC_SETS * LC_WAYS);
}

/* Served from the cache only while the subscription is confirmed on the link in use. */
bool logincache_active(const logincache_t *lc) {
    return subscription_confirmed(lc->sub) && store_connected(lc->st) &&
           lc->sub_gen == store_link_gen(lc->st);
}

/* ---- the subscription (store/subscription.c) ---------------------------------------------- */

/* On the server the store's link is on (after a failover: the new primary); not while the
 * link is down (the next READY calls logincache_link_ready). */
static bool sub_target(void *arg, const char **host, int *port, const char **unix_path) {
    logincache_t *lc = arg;
    if (!store_connected(lc->st)) return false;
    store_link_target(lc->st, host, port, unix_path);
    lc->sub_gen = store_link_gen(lc->st);
    return true;
}

static void sub_confirmed(void *arg) {
    logincache_t *lc = arg;
    clear_all(lc); /* nothing heard before this counts */
    if (lc->logged_down)
        store_log_at(STORE_LOG_INFO, "login cache on: subscribed to %s", lc->channel);
    lc->logged_down = false;
}

static void sub_message(void *arg, const char *text, size_t len) {
    logincache_t *lc = arg;
    char hex[LOGIN_HEX_LEN + 1];
    if (len != LOGIN_HEX_LEN) return;
    memcpy(hex, text, len);
    hex[len] = '\0';
    lc->stats.invalidations++;
    logincache_forget(lc, hex);
}

/* Everything cached is forgotten: a logout published meanwhile was not heard. */
static void sub_lost(void *arg, const char *why) {
    logincache_t *lc = arg;
    clear_all(lc);
    if (!lc->logged_down && store_connected(lc->st))
        store_log("login cache off: %s subscription lost (%s)", lc->channel, why);
    lc->logged_down = true;
}

void logincache_link_ready(logincache_t *lc) {
    if (!lc) return;
    clear_all(lc);
    subscription_start(lc->sub);
}

/* ---- the cache ----------------------------------------------------------------------------- */

static lc_entry_t *find(logincache_t *lc, const char *hex) {
    if (!lc->slots) return NULL;
    lc_entry_t *set = set_of(lc, hex);
    for (int i = 0; i < LC_WAYS; i++)
        if (strcmp(set[i].hex, hex) == 0) return &set[i];
    return NULL;
}

/* {'OK', 1} renewed; {'OK', 0, name} the login is gone: forget it. */
static void reply_touch(store_status_t s, const struct redisReply *r, store_fn_t cb, void *arg) {
    (void)cb;
    int64_t renewed = 1;
    const char *hex = reply_str(r, 2);
    if (s == ST_OK && reply_i64(r, 1, &renewed) == C_OK && !renewed && hex)
        logincache_forget(arg, hex);
}

/* Sends login_touch.lua for hex; the answer is not waited for. */
static void send_touch(logincache_t *lc, const char *hex) {
    store_cmd_t c;
    cmd_init(&c, lc->st);
    cmd_key(&c, "login:", hex, (const char *)NULL);
    cmd_arg_i64(&c, idle_ms(lc) + step_ms(lc));
    cmd_arg_copy(&c, hex);
    store_eval(&c, SCRIPT_LOGIN_TOUCH, reply_touch, NULL, lc);
}

bool logincache_get(logincache_t *lc, const char *hex, login_seen_t *out) {
    lc_entry_t *e = logincache_active(lc) ? find(lc, hex) : NULL;
    int64_t now = mono_ms();
    if (!e || now >= e->valid_until_ms) {
        if (e) e->hex[0] = '\0';
        lc->stats.misses++;
        return false;
    }
    if (now - e->renewed_ms >= step_ms(lc)) {
        e->renewed_ms = now;
        e->valid_until_ms = now + idle_ms(lc);
        send_touch(lc, hex);
    }
    *out = e->who;
    lc->stats.hits++;
    return true;
}

logincache_ticket_t logincache_ticket(const logincache_t *lc) {
    logincache_ticket_t t = {lc->version, mono_ms()};
    return t;
}

void logincache_put(logincache_t *lc, logincache_ticket_t t, const char *hex, const char *user,
                    uint32_t privs) {
    if (!logincache_active(lc) || t.version != lc->version || strlen(hex) != LOGIN_HEX_LEN) return;
    if (!lc->slots && !(lc->slots = calloc((size_t)LC_SETS * LC_WAYS, sizeof(lc_entry_t)))) return;
    lc_entry_t *set = set_of(lc, hex), *e = find(lc, hex);
    for (int i = 0; !e && i < LC_WAYS; i++)
        if (!set[i].hex[0]) e = &set[i];
    if (!e) { /* a full set: replace the entry that expires first */
        e = &set[0];
        for (int i = 1; i < LC_WAYS; i++)
            if (set[i].valid_until_ms < e->valid_until_ms) e = &set[i];
    }
    if (copy_str(e->who.user, sizeof(e->who.user), user) != C_OK) {
        e->hex[0] = '\0';
        return;
    }
    memcpy(e->hex, hex, LOGIN_HEX_LEN + 1);
    e->who.privs = privs;
    e->renewed_ms = t.asked_ms;
    e->valid_until_ms = t.asked_ms + idle_ms(lc);
}

void logincache_forget(logincache_t *lc, const char *hex) {
    lc->version++;
    lc_entry_t *e = find(lc, hex);
    if (e) e->hex[0] = '\0';
}

void logincache_stats(const logincache_t *lc, store_login_cache_stats_t *out) {
    *out = lc->stats;
    out->subscribed = logincache_active(lc);
}

logincache_t *logincache_new(store_t *st) {
    static const subscription_fns_t fns = {sub_target, sub_confirmed, sub_message, sub_lost};
    logincache_t *lc = calloc(1, sizeof(*lc));
    if (!lc) return NULL;
    lc->st = st;
    lc->logged_down = false;
    size_t plen;
    const char *prefix = store_prefix(st, &plen);
    if (plen + sizeof(CHANNEL_SUFFIX) > sizeof(lc->channel)) {
        free(lc);
        return NULL;
    }
    memcpy(lc->channel, prefix, plen);
    memcpy(lc->channel + plen, CHANNEL_SUFFIX, sizeof(CHANNEL_SUFFIX));
    lc->sub = subscription_new(store_base(st), lc->channel, store_cfg(st)->connect_timeout_ms,
                               SUB_BACKOFF_MIN_MS, SUB_BACKOFF_MAX_MS, &fns, lc);
    if (!lc->sub) {
        free(lc);
        return NULL;
    }
    return lc;
}

void logincache_free(logincache_t *lc) {
    if (!lc) return;
    subscription_free(lc->sub);
    free(lc->slots);
    free(lc);
}

const char *logincache_channel(const logincache_t *lc) { return lc->channel; }
