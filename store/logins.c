/* store/logins.c: login records (store_login, store_login_info, store_logout). A login is
 * P login:<SHA-256 of token>; every other script authenticates against it in its prelude. */
#include "store/redis.h"

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

void store_logout(store_t *st, const store_auth_t *auth, store_done_cb cb, void *arg) {
    store_cmd_t c;
    cmd_init_auth(&c, st, auth);
    store_eval(&c, SCRIPT_LOGOUT, reply_done, (store_fn_t)cb, arg);
}
