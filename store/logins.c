/* store/logins.c: login records (store_login, store_login_info, store_logout) and
 * store_auth_resolve, which authorizes a request from this instance's login cache
 * (store/logincache.c) or, on a miss, with one login_check script that fills it. A login is
 * P login:<SHA-256 of token>; scripts other than the cached reads authenticate against it in
 * their prelude. */
#include "store/logincache.h"
#include "store/redis.h"

#include <stdlib.h>
#include <string.h>

#include "core/privilege.h"

void store_login(store_t *st, const char *token, const char *user, uint32_t privs,
                 store_done_cb cb, void *arg) {
    store_cmd_t c;
    cmd_init(&c, st);
    cmd_login_key(&c, token);
    cmd_arg_i64(&c, store_cfg(st)->login_idle_ms);
    cmd_arg(&c, user);
    cmd_arg_i64(&c, privs);
    if (!user) cmd_fail(&c, ST_INTERNAL);
    store_eval(&c, SCRIPT_LOGIN, reply_done, (store_fn_t)cb, arg);
}

/* {'OK', user, created, last} */
static void reply_login(store_status_t s, const struct redisReply *r, store_fn_t cb, void *arg) {
    int64_t created = 0, last = 0;
    const char *user = reply_str(r, 1);
    if (s == ST_OK &&
        (!user || reply_i64(r, 2, &created) != C_OK || reply_i64(r, 3, &last) != C_OK)) {
        store_log("login_info: malformed answer");
        s = ST_INTERNAL;
    }
    ((store_login_cb)cb)(arg, s, s == ST_OK ? user : NULL, created, last);
}

void store_login_info(store_t *st, const store_auth_t *auth, store_login_cb cb, void *arg) {
    store_cmd_t c;
    cmd_init_auth(&c, st, auth);
    store_eval(&c, SCRIPT_LOGIN_INFO, reply_login, (store_fn_t)cb, arg);
}

/* The logout is published (logout.lua) so every instance's login cache forgets the login;
 * this one forgets it at once. */
void store_logout(store_t *st, const store_auth_t *auth, store_done_cb cb, void *arg) {
    store_cmd_t c;
    char hex[LOGIN_HEX_LEN + 1] = "";
    logincache_t *lc = store_logins(st);
    cmd_init_auth(&c, st, auth);
    if (auth && auth->token) {
        secret_key_hex(auth->token, hex);
        logincache_forget(lc, hex);
    }
    cmd_arg(&c, logincache_channel(lc));
    cmd_arg_copy(&c, hex);
    store_eval(&c, SCRIPT_LOGOUT, reply_done, (store_fn_t)cb, arg);
}

/* ---- Authorizing from the login cache (store/logincache.c) --------------------------------- */

typedef struct {
    auth_next_fn next;
    void *ctx;
    store_t *st;
    uint32_t need;
    logincache_ticket_t ticket;
    char hex[LOGIN_HEX_LEN + 1];
} resolve_t;

/* {'OK', user, privilege mask}: the login exists (the prelude touched it). */
static void reply_login_check(store_status_t s, const struct redisReply *r, store_fn_t cb,
                              void *arg) {
    (void)cb;
    resolve_t *rs = arg;
    login_seen_t who;
    int64_t privs = 0;
    const char *user = reply_str(r, 1);
    if (s == ST_OK && (!user || reply_i64(r, 2, &privs) != C_OK || privs < 0 ||
                       privs > UINT32_MAX || copy_str(who.user, sizeof(who.user), user) != C_OK)) {
        store_log("login_check: malformed answer");
        s = ST_INTERNAL;
    }
    if (s == ST_OK) {
        who.privs = (uint32_t)privs;
        logincache_put(store_logins(rs->st), rs->ticket, rs->hex, who.user, who.privs);
        if (!privileges_allow(who.privs, rs->need)) s = ST_UNAUTHORIZED;
    }
    if (rs->next) rs->next(rs->ctx, s, s == ST_OK ? &who : NULL);
    free(rs);
}

/* Asks Redis who token is (login_check.lua) and caches the answer; then next, if any. */
static void login_check(store_t *st, const char *token, const char *hex, uint32_t need,
                        auth_next_fn next, void *ctx) {
    resolve_t *rs = malloc(sizeof(*rs));
    if (!rs) {
        if (next) next(ctx, ST_INTERNAL, NULL);
        return;
    }
    rs->next = next;
    rs->ctx = ctx;
    rs->st = st;
    rs->need = need;
    rs->ticket = logincache_ticket(store_logins(st));
    memcpy(rs->hex, hex, sizeof(rs->hex));
    store_auth_t any = {token, PRIV_NONE}; /* who it is; C decides what it may do */
    store_cmd_t c;
    cmd_init_auth_uncached(&c, st, &any);
    store_eval(&c, SCRIPT_LOGIN_CHECK, reply_login_check, NULL, rs);
}

void store_login_prefetch(store_t *st, const char *token, const char *hex) {
    login_check(st, token, hex, PRIV_NONE, NULL, NULL);
}

void store_auth_resolve(store_t *st, const store_auth_t *auth, auth_next_fn next, void *ctx) {
    if (!auth || !auth->token) {
        next(ctx, ST_UNAUTHENTICATED, NULL);
        return;
    }
    logincache_t *lc = store_logins(st);
    char hex[LOGIN_HEX_LEN + 1];
    login_seen_t who;
    secret_key_hex(auth->token, hex);
    if (logincache_get(lc, hex, &who)) {
        bool ok = privileges_allow(who.privs, auth->required_privs);
        next(ctx, ok ? ST_OK : ST_UNAUTHORIZED, ok ? &who : NULL);
        return;
    }
    login_check(st, auth->token, hex, auth->required_privs, next, ctx);
}
