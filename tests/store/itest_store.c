/* tests/store/itest_store.c: integration test of store/ against a real redis-server (env
 * USD_TEST_REDIS=host:port). Each run uses its own random key prefix and deletes its keys at
 * the end. The fault tests need no Redis (a closed port, a listener that never answers) or
 * freeze the test's Redis briefly with CLIENT PAUSE. The test drives its own event_base; the
 * test itself may use blocking hiredis (the store never does). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <uuid/uuid.h>

#include "core/privilege.h"
#include "store/store.h"

#define WAIT_MS 5000
#define MAX_IDS 64
#define MAX_FILES 8

/* ---- harness ------------------------------------------------------------------------------- */

static struct event_base *base;
static store_t *st;
static char redis_host[128];
static int redis_port;
static bool have_redis;
static char prefix[64];
static redisContext *sync_ctx;

static const store_config_t default_cfg = {
    .call_timeout_ms = 2000,
    .session_timeout_ms = 60000,
    .retention_ms = 600000,
    .token_retention_ms = 600000,
    .login_idle_ms = 600000,
};

/* What the last callback delivered, copied out of the callback's lifetime. */
typedef struct {
    int calls;
    store_status_t status;
    bool has_detail;
    char detail[SESSION_ID_MAX];
    size_t nids;
    char ids[MAX_IDS][SESSION_ID_MAX];
    library_t lib;
    char sub_info[256];
    item_t item;
    update_session_t sess;
    int64_t now;
    char user[USER_MAX];
    int64_t created, last;
    session_file_t file;       /* store_file_cb, store_upload_cb */
    size_t nfiles;             /* store_files_cb, store_item_files_cb */
    session_file_t files[MAX_FILES];
    item_file_t item_files[MAX_FILES];
} result_t;

static result_t R;

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void tick(evutil_socket_t fd, short what, void *arg) { (void)fd, (void)what, (void)arg; }

/* Runs the loop until *done is true or ms pass (a 10 ms tick keeps the loop from blocking
 * longer than that when nothing else is pending). */
static bool run_until(const bool *done, int ms) {
    struct event *t = event_new(base, -1, EV_PERSIST, tick, NULL);
    struct timeval tv = {0, 10000};
    event_add(t, &tv);
    int64_t end = mono_ms() + ms;
    while (!*done && mono_ms() < end) event_base_loop(base, EVLOOP_ONCE);
    event_free(t);
    return *done;
}

static void run_for(int ms) {
    bool never = false;
    run_until(&never, ms);
}

static bool got_answer;

/* Waits for the answer to the call just made and checks it came exactly once. */
static store_status_t wait_answer(void) {
    got_answer = false;
    if (R.calls == 0) run_until(&got_answer, WAIT_MS);
    assert_int_equal(R.calls, 1);
    return R.status;
}

static void reset(void) {
    free(R.lib.subscription_info_json);
    memset(&R, 0, sizeof(R));
}

static void answered(result_t *r, store_status_t s) {
    r->calls++;
    r->status = s;
    got_answer = true;
}

static void on_done(void *arg, store_status_t s, const char *detail) {
    result_t *r = arg;
    answered(r, s);
    r->has_detail = detail != NULL;
    if (detail) snprintf(r->detail, sizeof(r->detail), "%s", detail);
}

static void on_ids(void *arg, store_status_t s, char *const *ids, size_t n) {
    result_t *r = arg;
    answered(r, s);
    r->nids = n;
    for (size_t i = 0; i < n && i < MAX_IDS; i++)
        snprintf(r->ids[i], sizeof(r->ids[i]), "%s", ids[i]);
}

static void on_library(void *arg, store_status_t s, const library_t *l) {
    result_t *r = arg;
    answered(r, s);
    if (l) {
        r->lib = *l;
        r->lib.subscription_info_json = NULL;
        if (l->subscription_info_json)
            snprintf(r->sub_info, sizeof(r->sub_info), "%s", l->subscription_info_json);
    }
}

static void on_item(void *arg, store_status_t s, const item_t *it) {
    result_t *r = arg;
    answered(r, s);
    if (it) r->item = *it;
}

static void on_session(void *arg, store_status_t s, const update_session_t *us, int64_t now) {
    result_t *r = arg;
    answered(r, s);
    r->now = now;
    if (us) r->sess = *us;
}

static void on_login(void *arg, store_status_t s, const char *user, int64_t created,
                     int64_t last) {
    result_t *r = arg;
    answered(r, s);
    if (user) snprintf(r->user, sizeof(r->user), "%s", user);
    r->created = created;
    r->last = last;
}

static void on_file(void *arg, store_status_t s, const session_file_t *f) {
    result_t *r = arg;
    answered(r, s);
    if (f) r->file = *f;
}

static void on_files(void *arg, store_status_t s, const session_file_t *files, size_t n) {
    result_t *r = arg;
    answered(r, s);
    r->nfiles = n;
    for (size_t i = 0; i < n && i < MAX_FILES; i++) r->files[i] = files[i];
}

static void on_item_files(void *arg, store_status_t s, const item_file_t *files, size_t n) {
    result_t *r = arg;
    answered(r, s);
    r->nfiles = n;
    for (size_t i = 0; i < n && i < MAX_FILES; i++) r->item_files[i] = files[i];
}

static void on_upload(void *arg, store_status_t s, const char *sid, const session_file_t *f) {
    result_t *r = arg;
    answered(r, s);
    r->has_detail = sid != NULL;
    if (sid) snprintf(r->detail, sizeof(r->detail), "%s", sid);
    if (f) r->file = *f;
}

static bool has_id(const char *id) {
    for (size_t i = 0; i < R.nids; i++)
        if (strcmp(R.ids[i], id) == 0) return true;
    return false;
}

static void new_uuid(char out[37]) {
    uuid_t u;
    uuid_generate_random(u);
    uuid_unparse_lower(u, out);
}

static store_t *new_store(const char *host, int port, int call_timeout_ms,
                          int connect_timeout_ms) {
    store_config_t cfg = default_cfg;
    cfg.redis_host = host;
    cfg.redis_port = port;
    cfg.prefix = prefix;
    cfg.call_timeout_ms = call_timeout_ms;
    cfg.connect_timeout_ms = connect_timeout_ms;
    return store_new(base, &cfg);
}

static bool wait_connected(store_t *s, int ms) {
    int64_t end = mono_ms() + ms;
    while (!store_connected(s) && mono_ms() < end) run_for(10);
    return store_connected(s);
}

static redisReply *sync_cmd(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(sync_ctx, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    return r;
}

/* ---- fixtures ------------------------------------------------------------------------------ */

static char tok_admin[37], tok_reader[37], tok_user2[37];
static store_auth_t admin, reader, user2;

static store_status_t login(const char *token, const char *user, uint32_t privs) {
    reset();
    store_login(st, token, user, privs, on_done, &R);
    return wait_answer();
}

static void make_library(library_t *l, const char *name, library_type_t type) {
    memset(l, 0, sizeof(*l));
    new_uuid(l->id);
    snprintf(l->name, sizeof(l->name), "%s", name);
    snprintf(l->description, sizeof(l->description), "test library %s", name);
    l->type = type;
    l->creation_ms = l->last_modified_ms = wall_ms();
    snprintf(l->version, sizeof(l->version), "1");
}

static store_status_t create_library(const library_t *l) {
    reset();
    store_library_create(st, &admin, l, on_done, &R);
    return wait_answer();
}

static void make_item(item_t *it, const char *lib_id, const char *name) {
    memset(it, 0, sizeof(*it));
    new_uuid(it->id);
    snprintf(it->library_id, sizeof(it->library_id), "%s", lib_id);
    snprintf(it->name, sizeof(it->name), "%s", name);
    snprintf(it->description, sizeof(it->description), "item %s", name);
    snprintf(it->type, sizeof(it->type), "ovf");
    snprintf(it->content_version, sizeof(it->content_version), "1");
    snprintf(it->metadata_version, sizeof(it->metadata_version), "1");
    snprintf(it->version, sizeof(it->version), "1");
    it->creation_ms = it->last_modified_ms = wall_ms();
    it->size = 12345;
}

static store_status_t create_item(const item_t *it, bool allow_subscribed) {
    reset();
    store_item_create(st, &admin, it, allow_subscribed, on_done, &R);
    return wait_answer();
}

static store_status_t create_session(const store_auth_t *auth, const char *item_id,
                                     const char *token, char sid_out[SESSION_ID_MAX],
                                     const warning_behavior_t *wb) {
    session_spec_t spec;
    char uuid[37];
    memset(&spec, 0, sizeof(spec));
    snprintf(spec.library_item_id, sizeof(spec.library_item_id), "%s", item_id);
    if (wb) {
        spec.has_warning_behavior = true;
        spec.warning_behavior = *wb;
    }
    new_uuid(uuid);
    snprintf(sid_out, SESSION_ID_MAX, "%s:%s", item_id, uuid);
    reset();
    store_session_create(st, auth, sid_out, &spec, token, on_done, &R);
    return wait_answer();
}

static int group_setup(void **state) {
    (void)state;
    base = event_base_new();
    char id[37];
    new_uuid(id);
    snprintf(prefix, sizeof(prefix), "usdtest:%.8s:", id);
    const char *env = getenv("USD_TEST_REDIS");
    if (!env || !*env) {
        fprintf(stderr, "USD_TEST_REDIS not set: only the tests without Redis run\n");
        return 0;
    }
    const char *colon = strrchr(env, ':');
    if (!colon || (size_t)(colon - env) >= sizeof(redis_host)) return -1;
    memcpy(redis_host, env, (size_t)(colon - env));
    redis_host[colon - env] = '\0';
    redis_port = atoi(colon + 1);
    struct timeval tv = {2, 0};
    sync_ctx = redisConnectWithTimeout(redis_host, redis_port, tv);
    if (!sync_ctx || sync_ctx->err) {
        fprintf(stderr, "cannot reach redis at %s\n", env);
        return -1;
    }
    have_redis = true;
    st = new_store(redis_host, redis_port, 2000, 2000);
    if (!st || !wait_connected(st, WAIT_MS)) return -1;

    new_uuid(tok_admin);
    new_uuid(tok_reader);
    new_uuid(tok_user2);
    admin = (store_auth_t){tok_admin, PRIV_NONE};
    reader = (store_auth_t){tok_reader, PRIV_NONE};
    user2 = (store_auth_t){tok_user2, PRIV_NONE};
    if (login(tok_admin, "admin", PRIV_ALL) != ST_OK ||
        login(tok_reader, "reader", PRIV_SYSTEM_READ) != ST_OK ||
        login(tok_user2, "user2", PRIV_ALL) != ST_OK)
        return -1;
    return 0;
}

/* Deletes every key of this run. */
static int group_teardown(void **state) {
    (void)state;
    reset();
    store_free(st);
    if (sync_ctx) {
        char cursor[32] = "0";
        do {
            redisReply *r = redisCommand(sync_ctx, "SCAN %s MATCH %s* COUNT 1000", cursor, prefix);
            if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
                freeReplyObject(r);
                break;
            }
            snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
            for (size_t i = 0; i < r->element[1]->elements; i++)
                freeReplyObject(redisCommand(sync_ctx, "DEL %b", r->element[1]->element[i]->str,
                                             r->element[1]->element[i]->len));
            freeReplyObject(r);
        } while (strcmp(cursor, "0") != 0);
        redisFree(sync_ctx);
    }
    event_base_free(base);
    return 0;
}

#define NEED_REDIS()                                                                           \
    do {                                                                                       \
        if (!have_redis) skip();                                                               \
    } while (0)

/* ---- tests --------------------------------------------------------------------------------- */

static void test_login_and_auth(void **state) {
    (void)state;
    NEED_REDIS();
    reset();
    store_login_info(st, &admin, on_login, &R);
    assert_int_equal(wait_answer(), ST_OK);
    assert_string_equal(R.user, "admin");
    assert_true(R.created > 0);
    assert_true(R.last >= R.created);

    store_auth_t unknown = {"no-such-token", PRIV_NONE}, none = {NULL, PRIV_NONE};
    reset();
    store_login_info(st, &unknown, on_login, &R);
    assert_int_equal(wait_answer(), ST_UNAUTHENTICATED);
    reset();
    store_login_info(st, &none, on_login, &R);
    assert_int_equal(wait_answer(), ST_UNAUTHENTICATED);

    /* privileges: reader may read, not create */
    library_t l;
    make_library(&l, "denied", LIBRARY_LOCAL);
    store_auth_t want_create = {tok_reader, PRIV_CREATE_LOCAL_LIBRARY};
    reset();
    store_library_create(st, &want_create, &l, on_done, &R);
    assert_int_equal(wait_answer(), ST_UNAUTHORIZED);
    store_auth_t want_read = {tok_reader, PRIV_SYSTEM_READ};
    reset();
    store_library_list(st, &want_read, on_ids, &R);
    assert_int_equal(wait_answer(), ST_OK);
    store_auth_t want_two = {tok_reader, PRIV_SYSTEM_READ | PRIV_UPDATE_SESSION};
    reset();
    store_library_list(st, &want_two, on_ids, &R);
    assert_int_equal(wait_answer(), ST_UNAUTHORIZED);

    /* the token is never stored in clear, and the login has an idle TTL */
    redisReply *r = sync_cmd("KEYS %s*", prefix);
    for (size_t i = 0; i < r->elements; i++) assert_null(strstr(r->element[i]->str, tok_admin));
    freeReplyObject(r);

    /* logout */
    char tmp[37];
    new_uuid(tmp);
    assert_int_equal(login(tmp, "tmp", PRIV_ALL), ST_OK);
    store_auth_t t = {tmp, PRIV_NONE};
    reset();
    store_logout(st, &t, on_done, &R);
    assert_int_equal(wait_answer(), ST_OK);
    reset();
    store_login_info(st, &t, on_login, &R);
    assert_int_equal(wait_answer(), ST_UNAUTHENTICATED);
    reset();
    store_logout(st, &t, on_done, &R);
    assert_int_equal(wait_answer(), ST_UNAUTHENTICATED);
}

static void test_library_crud(void **state) {
    (void)state;
    NEED_REDIS();
    char name[64], uuid[37];
    new_uuid(uuid);
    snprintf(name, sizeof(name), "Lib-%.8s", uuid);
    library_t l;
    make_library(&l, name, LIBRARY_LOCAL);
    l.nbackings = 1;
    snprintf(l.backings[0].type, sizeof(l.backings[0].type), "DATASTORE");
    snprintf(l.backings[0].datastore_id, sizeof(l.backings[0].datastore_id), "datastore-1");
    assert_int_equal(create_library(&l), ST_OK);
    assert_string_equal(R.detail, l.id);

    reset();
    store_library_get(st, &admin, l.id, on_library, &R);
    assert_int_equal(wait_answer(), ST_OK);
    assert_string_equal(R.lib.id, l.id);
    assert_string_equal(R.lib.name, name);
    assert_string_equal(R.lib.description, l.description);
    assert_int_equal(R.lib.type, LIBRARY_LOCAL);
    assert_int_equal(R.lib.creation_ms, l.creation_ms);
    assert_int_equal(R.lib.last_modified_ms, l.last_modified_ms);
    assert_string_equal(R.lib.version, "1");
    assert_int_equal(R.lib.nbackings, 1);
    assert_string_equal(R.lib.backings[0].type, "DATASTORE");
    assert_string_equal(R.lib.backings[0].datastore_id, "datastore-1");
    assert_string_equal(R.sub_info, "");

    reset();
    store_library_get(st, &admin, "no-such-library", on_library, &R);
    assert_int_equal(wait_answer(), ST_NOT_FOUND);
    reset();
    store_library_get(st, &admin, "bad{id}", on_library, &R);
    assert_int_equal(wait_answer(), ST_NOT_FOUND);

    library_t s;
    make_library(&s, name, LIBRARY_SUBSCRIBED); /* same name, other type */
    s.subscription_info_json = "{\"on_demand\":true}";
    assert_int_equal(create_library(&s), ST_OK);
    reset();
    store_library_get(st, &admin, s.id, on_library, &R);
    assert_int_equal(wait_answer(), ST_OK);
    assert_int_equal(R.lib.type, LIBRARY_SUBSCRIBED);
    assert_string_equal(R.sub_info, "{\"on_demand\":true}");
    assert_int_equal(R.lib.nbackings, 0);

    reset();
    store_library_list(st, &admin, on_ids, &R);
    assert_int_equal(wait_answer(), ST_OK);
    assert_true(has_id(l.id) && has_id(s.id));

    library_find_t f;
    memset(&f, 0, sizeof(f));
    for (char *p = name; *p; p++) *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    snprintf(f.name, sizeof(f.name), "%s", name); /* upper case: case-insensitive match */
    reset();
    store_library_find(st, &admin, &f, on_ids, &R);
    assert_int_equal(wait_answer(), ST_OK);
    assert_int_equal(R.nids, 2);
    f.has_type = true;
    f.type = LIBRARY_SUBSCRIBED;
    reset();
    store_library_find(st, &admin, &f, on_ids, &R);
    assert_int_equal(wait_answer(), ST_OK);
    assert_int_equal(R.nids, 1);
    assert_string_equal(R.ids[0], s.id);
    snprintf(f.name, sizeof(f.name), "no such name");
    reset();
    store_library_find(st, &admin, &f, on_ids, &R);
    assert_int_equal(wait_answer(), ST_OK);
    assert_int_equal(R.nids, 0);

    /* delete: the type must match */
    reset();
    store_library_delete(st, &admin, l.id, LIBRARY_SUBSCRIBED, on_done, &R);
    assert_int_equal(wait_answer(), ST_NOT_FOUND);
    reset();
    store_library_delete(st, &admin, l.id, LIBRARY_LOCAL, on_done, &R);
    assert_int_equal(wait_answer(), ST_OK);
    reset();
    store_library_get(st, &admin, l.id, on_library, &R);
    assert_int_equal(wait_answer(), ST_NOT_FOUND);
    reset();
    store_library_delete(st, &admin, s.id, LIBRARY_SUBSCRIBED, on_done, &R);
    assert_int_equal(wait_answer(), ST_OK);
    reset();
    store_library_list(st, &admin, on_ids, &R);
    assert_int_equal(wait_answer(), ST_OK);
    assert_false(has_id(l.id) || has_id(s.id));
}

static void test_item_crud(void **state) {
    (void)state;
    NEED_REDIS();
    library_t l, s;
    make_library(&l, "items-local", LIBRARY_LOCAL);
    make_library(&s, "items-subscribed", LIBRARY_SUBSCRIBED);
    s.subscription_info_json = "{}";
    assert_int_equal(create_library(&l), ST_OK);
    assert_int_equal(create_library(&s), ST_OK);

    item_t a, dup, lost, sub;
    make_item(&a, l.id, "Item-A");
    assert_int_equal(create_item(&a, false), ST_OK);
    assert_string_equal(R.detail, a.id);
    reset();
    store_item_get(st, &admin, a.id, on_item, &R);
    assert_int_equal(wait_answer(), ST_OK);
    assert_string_equal(R.item.id, a.id);
    assert_string_equal(R.item.library_id, l.id);
    assert_int_equal(R.item.library_type, LIBRARY_LOCAL);
    assert_string_equal(R.item.name, "Item-A");
    assert_string_equal(R.item.description, a.description);
    assert_string_equal(R.item.type, "ovf");
    assert_string_equal(R.item.content_version, "1");
    assert_string_equal(R.item.metadata_version, "1");
    assert_string_equal(R.item.version, "1");
    assert_int_equal(R.item.creation_ms, a.creation_ms);
    assert_int_equal(R.item.size, 12345);
    assert_false(R.item.cached);

    make_item(&dup, l.id, "item-a");
    assert_int_equal(create_item(&dup, false), ST_ALREADY_EXISTS);
    assert_string_equal(R.detail, "items-local");
    make_item(&lost, "no-such-library", "x");
    assert_int_equal(create_item(&lost, false), ST_NOT_FOUND);
    make_item(&sub, s.id, "sub-item");
    sub.cached = true;
    assert_int_equal(create_item(&sub, false), ST_WRONG_TYPE);
    assert_int_equal(create_item(&sub, true), ST_OK);
    reset();
    store_item_get(st, &admin, sub.id, on_item, &R);
    assert_int_equal(wait_answer(), ST_OK);
    assert_int_equal(R.item.library_type, LIBRARY_SUBSCRIBED);
    assert_true(R.item.cached);

    reset();
    store_item_list(st, &admin, l.id, on_ids, &R);
    assert_int_equal(wait_answer(), ST_OK);
    assert_int_equal(R.nids, 1);
    assert_string_equal(R.ids[0], a.id);
    reset();
    store_item_list(st, &admin, "no-such-library", on_ids, &R);
    assert_int_equal(wait_answer(), ST_NOT_FOUND);

    item_find_t f;
    memset(&f, 0, sizeof(f));
    snprintf(f.name, sizeof(f.name), "ITEM-a");
    reset();
    store_item_find(st, &admin, &f, on_ids, &R);
    assert_int_equal(wait_answer(), ST_OK);
    assert_int_equal(R.nids, 1);
    assert_string_equal(R.ids[0], a.id);
    memset(&f, 0, sizeof(f));
    snprintf(f.type, sizeof(f.type), "OVF");
    snprintf(f.library_id, sizeof(f.library_id), "%s", s.id);
    reset();
    store_item_find(st, &admin, &f, on_ids, &R);
    assert_int_equal(wait_answer(), ST_OK);
    assert_int_equal(R.nids, 1);
    assert_string_equal(R.ids[0], sub.id);
    memset(&f, 0, sizeof(f));
    f.has_cached = true;
    f.cached = true;
    reset();
    store_item_find(st, &admin, &f, on_ids, &R);
    assert_int_equal(wait_answer(), ST_OK);
    assert_true(has_id(sub.id));
    assert_false(has_id(a.id));

    reset();
    store_item_delete(st, &admin, a.id, on_done, &R);
    assert_int_equal(wait_answer(), ST_OK);
    reset();
    store_item_get(st, &admin, a.id, on_item, &R);
    assert_int_equal(wait_answer(), ST_NOT_FOUND);
    reset();
    store_item_delete(st, &admin, a.id, on_done, &R);
    assert_int_equal(wait_answer(), ST_NOT_FOUND);
    assert_int_equal(create_item(&dup, false), ST_OK); /* the name is free again */

    /* deleting the library deletes its items */
    reset();
    store_library_delete(st, &admin, l.id, LIBRARY_LOCAL, on_done, &R);
    assert_int_equal(wait_answer(), ST_OK);
    reset();
    store_item_get(st, &admin, dup.id, on_item, &R);
    assert_int_equal(wait_answer(), ST_NOT_FOUND);
    reset();
    store_library_delete(st, &admin, s.id, LIBRARY_SUBSCRIBED, on_done, &R);
    assert_int_equal(wait_answer(), ST_OK);
    reset();
    store_item_get(st, &admin, sub.id, on_item, &R);
    assert_int_equal(wait_answer(), ST_NOT_FOUND);
}

static void test_sessions(void **state) {
    (void)state;
    NEED_REDIS();
    library_t l, s;
    item_t a, b, c;
    make_library(&l, "sessions-local", LIBRARY_LOCAL);
    make_library(&s, "sessions-subscribed", LIBRARY_SUBSCRIBED);
    s.subscription_info_json = "{}";
    assert_int_equal(create_library(&l), ST_OK);
    assert_int_equal(create_library(&s), ST_OK);
    make_item(&a, l.id, "a");
    make_item(&b, l.id, "b");
    make_item(&c, s.id, "c");
    assert_int_equal(create_item(&a, false), ST_OK);
    assert_int_equal(create_item(&b, false), ST_OK);
    assert_int_equal(create_item(&c, true), ST_OK);

    char tok[37], sid1[SESSION_ID_MAX], sid[SESSION_ID_MAX], sid2[SESSION_ID_MAX];
    new_uuid(tok);
    warning_behavior_t wb = {.count = 1};
    wb.items[0].type = WARN_SELF_SIGNED_CERTIFICATE;
    wb.items[0].ignored = true;
    store_auth_t upd = {tok_admin, PRIV_UPDATE_SESSION};
    assert_int_equal(create_session(&upd, a.id, tok, sid1, &wb), ST_OK);
    assert_string_equal(R.detail, sid1);

    reset();
    store_session_get(st, &admin, sid1, on_session, &R);
    assert_int_equal(wait_answer(), ST_OK);
    assert_string_equal(R.sess.id, sid1);
    assert_string_equal(R.sess.library_item_id, a.id);
    assert_string_equal(R.sess.library_item_content_version, "1");
    assert_int_equal(R.sess.state, SESSION_ACTIVE);
    assert_int_equal(R.sess.client_progress, 0);
    assert_false(R.sess.has_error_message);
    assert_true(R.sess.has_warning_behavior);
    assert_int_equal(R.sess.warning_behavior.count, 1);
    assert_int_equal(R.sess.warning_behavior.items[0].type, WARN_SELF_SIGNED_CERTIFICATE);
    assert_true(R.sess.warning_behavior.items[0].ignored);
    int64_t left = R.sess.expiration_ms - R.now;
    assert_true(left > 55000 && left <= 60000);
    assert_true(R.now > 0 && llabs(R.now - wall_ms()) < 5000);

    /* the item lock names the session; the deadline index has it */
    char key[256];
    snprintf(key, sizeof(key), "%s{%s}:lock", prefix, a.id);
    redisReply *r = sync_cmd("GET %s", key);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, sid1);
    freeReplyObject(r);
    r = sync_cmd("PTTL %s", key);
    assert_true(r->integer > 60000 * 2);
    freeReplyObject(r);
    snprintf(key, sizeof(key), "%sdeadlines", prefix);
    r = sync_cmd("ZSCORE %s %s", key, sid1);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_int_equal(atoll(r->str), R.sess.expiration_ms);
    freeReplyObject(r);

    /* the same token: replay on the same item, conflict elsewhere or for another user */
    assert_int_equal(create_session(&upd, a.id, tok, sid, NULL), ST_OK);
    assert_string_equal(R.detail, sid1);
    assert_int_equal(create_session(&upd, b.id, tok, sid, NULL), ST_TOKEN_CONFLICT);
    assert_int_equal(create_session(&user2, a.id, tok, sid, NULL), ST_TOKEN_CONFLICT);

    /* one ACTIVE session per item */
    assert_int_equal(create_session(&upd, a.id, NULL, sid, NULL), ST_BUSY);
    assert_string_equal(R.detail, sid1);
    assert_int_equal(create_session(&upd, c.id, NULL, sid, NULL), ST_WRONG_TYPE);
    assert_int_equal(create_session(&upd, "no-such-item", NULL, sid, NULL), ST_NOT_FOUND);
    store_auth_t denied = {tok_reader, PRIV_UPDATE_SESSION};
    assert_int_equal(create_session(&denied, b.id, NULL, sid, NULL), ST_UNAUTHORIZED);
    store_auth_t nobody = {"unknown", PRIV_UPDATE_SESSION};
    assert_int_equal(create_session(&nobody, b.id, NULL, sid, NULL), ST_UNAUTHENTICATED);

    reset();
    snprintf(sid, sizeof(sid), "%s:00000000-0000-4000-8000-000000000000", a.id);
    store_session_get(st, &admin, sid, on_session, &R);
    assert_int_equal(wait_answer(), ST_NOT_FOUND);
    reset();
    store_session_get(st, &admin, "not a session id", on_session, &R);
    assert_int_equal(wait_answer(), ST_NOT_FOUND);

    assert_int_equal(create_session(&upd, b.id, NULL, sid2, NULL), ST_OK);

    /* lists: the caller's own sessions; any login may read one by id */
    reset();
    store_session_list(st, &admin, NULL, on_ids, &R);
    assert_int_equal(wait_answer(), ST_OK);
    assert_int_equal(R.nids, 2);
    assert_true(has_id(sid1) && has_id(sid2));
    reset();
    store_session_list(st, &admin, a.id, on_ids, &R);
    assert_int_equal(wait_answer(), ST_OK);
    assert_int_equal(R.nids, 1);
    assert_string_equal(R.ids[0], sid1);
    reset();
    store_session_list(st, &admin, "no-such-item", on_ids, &R);
    assert_int_equal(wait_answer(), ST_NOT_FOUND);
    reset();
    store_session_list(st, &user2, NULL, on_ids, &R);
    assert_int_equal(wait_answer(), ST_OK);
    assert_int_equal(R.nids, 0);
    reset();
    store_session_get(st, &user2, sid1, on_session, &R);
    assert_int_equal(wait_answer(), ST_OK);

    /* a record whose retention ended drops out of the list at once, before any sweep takes
     * its id out (the record's TTL and its retire entries end together; session_list.lua) */
    snprintf(key, sizeof(key), "%s{%s}:s:%s", prefix, b.id, strrchr(sid2, ':') + 1);
    freeReplyObject(sync_cmd("PEXPIRE %s 1", key));
    char entry[USER_MAX + SESSION_ID_MAX];
    snprintf(entry, sizeof(entry), "admin\n%s", sid2);
    freeReplyObject(sync_cmd("ZADD %sretire 1 %b", prefix, entry, strlen(entry)));
    freeReplyObject(sync_cmd("ZADD %suser:admin:retire 1 %s", prefix, sid2));
    usleep(20 * 1000);
    reset();
    store_session_list(st, &admin, NULL, on_ids, &R);
    assert_int_equal(wait_answer(), ST_OK);
    assert_int_equal(R.nids, 1);
    assert_string_equal(R.ids[0], sid1);
}

/* ---- files of an update session ------------------------------------------------------------ */

static store_auth_t any_login(void) { return (store_auth_t){tok_admin, PRIV_NONE}; }

static void hex_of(char out[65], char c) {
    memset(out, c, 64);
    out[64] = '\0';
}

static void make_push(session_file_t *f, const char *name, const char *token, int64_t size) {
    memset(f, 0, sizeof(*f));
    snprintf(f->name, sizeof(f->name), "%s", name);
    f->source_type = SOURCE_PUSH;
    f->has_size = true;
    f->size = size;
    f->expected.present = true;
    f->expected.algorithm = CHECKSUM_SHA256;
    hex_of(f->expected.checksum, 'a');
    snprintf(f->upload_token, sizeof(f->upload_token), "%s", token);
    f->status = TRANSFER_WAITING_FOR_TRANSFER;
}

/* A PULL file is added already TRANSFERRING with its blob and its mover (attempt = blob here). */
static void make_pull(session_file_t *f, const char *name, const char *blob) {
    memset(f, 0, sizeof(*f));
    snprintf(f->name, sizeof(f->name), "%s", name);
    f->source_type = SOURCE_PULL;
    snprintf(f->source_uri, sizeof(f->source_uri), "https://example.com/%s", name);
    snprintf(f->source_thumbprint, sizeof(f->source_thumbprint), "AA:BB");
    snprintf(f->blob, sizeof(f->blob), "%s", blob);
    snprintf(f->attempt, sizeof(f->attempt), "%s", blob);
    snprintf(f->holder, sizeof(f->holder), "itest");
    f->status = TRANSFER_TRANSFERRING;
}

static store_status_t file_add(const char *sid, const session_file_t *f) {
    store_auth_t a = any_login();
    reset();
    store_file_add(st, &a, sid, f, on_file, &R);
    return wait_answer();
}

static store_status_t file_get(const char *sid, const char *name) {
    store_auth_t a = any_login();
    reset();
    store_file_get(st, &a, sid, name, on_file, &R);
    return wait_answer();
}

static store_status_t file_list(const char *sid, bool require_active) {
    store_auth_t a = any_login();
    reset();
    store_file_list(st, &a, sid, require_active, on_files, &R);
    return wait_answer();
}

static store_status_t file_remove(const char *sid, const char *name) {
    store_auth_t a = any_login();
    reset();
    store_file_remove(st, &a, sid, name, on_done, &R);
    return wait_answer();
}

/* An upload attempt; the tests use the blob's name as the attempt's id too. */
static store_status_t upload_mode(const char *token, upload_mode_t mode, const char *blob) {
    upload_begin_t u = {token, mode, blob, blob, "itest"};
    reset();
    store_upload_begin(st, &u, on_upload, &R);
    return wait_answer();
}

static store_status_t upload_begin(const char *token, const char *blob) {
    return upload_mode(token, UPLOAD_BEGIN, blob);
}

static store_status_t progress(const char *sid, const char *name, const char *attempt,
                               int64_t bytes) {
    reset();
    store_transfer_progress(st, sid, name, attempt, bytes, bytes, on_done, &R);
    return wait_answer();
}

/* Ends an attempt of a `src` file READY (size bytes, checksum of `c`), in ERROR (c == 0) or
 * paused with `size` durable bytes (c == 'P'). */
static store_status_t transfer_end_src(const char *sid, const char *name, const char *attempt,
                                       int64_t size, char c, source_type_t src) {
    session_file_t res;
    memset(&res, 0, sizeof(res));
    res.source_type = src;
    res.bytes_transferred = size;
    transfer_event_t ev = TEV_FAIL;
    if (c == 'P') {
        ev = TEV_PAUSE;
        res.staged = size;
    } else if (c) {
        ev = TEV_READY;
        res.staged = size;
        res.has_size = true;
        res.size = size;
        res.received.present = true;
        res.received.algorithm = CHECKSUM_SHA256;
        hex_of(res.received.checksum, c);
    } else {
        res.has_error_message = true;
        vapi_message_set(&res.error_message, "pull_failed", "Connection refused.", NULL);
    }
    reset();
    store_transfer_end(st, sid, name, attempt, ev, &res, on_done, &R);
    return wait_answer();
}

static store_status_t transfer_end(const char *sid, const char *name, const char *attempt,
                                   int64_t size, char c) {
    return transfer_end_src(sid, name, attempt, size, c, SOURCE_PUSH);
}

/* Complete with exactly these linked pairs, as a client (auth) or as the server (NULL). */
static store_status_t complete_linked_as(const char *sid, const linked_file_t *linked, size_t n,
                                         const store_auth_t *auth) {
    reset();
    store_session_complete(st, auth, sid, linked, n, on_done, &R);
    return wait_answer();
}

static store_status_t complete_linked(const char *sid, const linked_file_t *linked, size_t n) {
    store_auth_t a = any_login();
    return complete_linked_as(sid, linked, n, &a);
}

/* What net/data's complete does, without the disk: list, "link" every READY file with bytes,
 * then the compare-and-set over those pairs. */
static store_status_t complete_as(const char *sid, const store_auth_t *auth) {
    static char names[32][FILE_NAME_MAX], blobs[32][BLOB_ID_MAX];
    linked_file_t linked[32];
    size_t n = 0;
    store_status_t s = file_list(sid, false);
    if (s != ST_OK) return s;
    for (size_t i = 0; i < R.nfiles && n < 32; i++) {
        const session_file_t *f = &R.files[i];
        if (f->source_type == SOURCE_NONE || f->removed || f->status != TRANSFER_READY || !f->blob[0])
            continue;
        snprintf(names[n], sizeof(names[n]), "%s", f->name);
        snprintf(blobs[n], sizeof(blobs[n]), "%s", f->blob);
        linked[n] = (linked_file_t){names[n], blobs[n]};
        n++;
    }
    return complete_linked_as(sid, linked, n, auth);
}

static store_status_t complete(const char *sid) {
    store_auth_t a = any_login();
    return complete_as(sid, &a);
}

/* The garbage list, drained: how many entries, and whether `path` was one. */
static size_t garbage_drain(const char *path, bool *found) {
    size_t n = 0;
    if (found) *found = false;
    for (;;) {
        redisReply *r = sync_cmd("LPOP %sgarbage", prefix);
        bool end = r->type != REDIS_REPLY_STRING;
        if (!end) {
            n++;
            if (found && path && strcmp(r->str, path) == 0) *found = true;
        }
        freeReplyObject(r);
        if (end) return n;
    }
}

static bool garbage_has(const char *fmt, const char *a, const char *b, const char *c) {
    char path[512];
    bool found;
    snprintf(path, sizeof(path), fmt, a, b, c);
    garbage_drain(path, &found);
    return found;
}

static store_status_t item_files(const char *item_id) {
    store_auth_t a = {tok_reader, PRIV_SYSTEM_READ};
    reset();
    store_item_files(st, &a, item_id, on_item_files, &R);
    return wait_answer();
}

static update_session_t get_session(const char *sid) {
    reset();
    store_session_get(st, &admin, sid, on_session, &R);
    assert_int_equal(wait_answer(), ST_OK);
    return R.sess;
}

static item_t get_item(const char *id) {
    reset();
    store_item_get(st, &admin, id, on_item, &R);
    assert_int_equal(wait_answer(), ST_OK);
    return R.item;
}

/* Pushes a whole file: begin with its token, end READY. */
static void push_file(const char *sid, const char *name, const char *token, const char *blob,
                      int64_t size, char c) {
    assert_int_equal(upload_begin(token, blob), ST_OK);
    assert_int_equal(transfer_end(sid, name, blob, size, c), ST_OK);
    assert_false(R.has_detail);
}

static void setup_item(item_t *it, const char *name) {
    library_t l;
    make_library(&l, name, LIBRARY_LOCAL);
    assert_int_equal(create_library(&l), ST_OK);
    make_item(it, l.id, name);
    assert_int_equal(create_item(it, false), ST_OK);
}

static void test_files(void **state) {
    (void)state;
    NEED_REDIS();
    item_t it;
    setup_item(&it, "files-basic");
    store_auth_t upd = {tok_admin, PRIV_UPDATE_SESSION};
    char sid[SESSION_ID_MAX], sid2[SESSION_ID_MAX], ta[37], ta2[37], tb[37], tc[37];
    new_uuid(ta);
    new_uuid(ta2);
    new_uuid(tb);
    new_uuid(tc);
    assert_int_equal(create_session(&upd, it.id, NULL, sid, NULL), ST_OK);
    const char *uuid = sid + strlen(it.id) + 1;
    garbage_drain(NULL, NULL);

    assert_int_equal(file_list(sid, false), ST_OK);
    assert_int_equal(R.nfiles, 0);
    assert_int_equal(item_files(it.id), ST_OK);
    assert_int_equal(R.nfiles, 0);
    assert_int_equal(item_files("no-such-item"), ST_NOT_FOUND);

    /* add: the stored record comes back whole */
    session_file_t f;
    make_push(&f, "b.bin", tb, 7);
    assert_int_equal(file_add(sid, &f), ST_OK);
    make_push(&f, "a.txt", ta, 100);
    int64_t deadline = get_session(sid).expiration_ms;
    run_for(20);
    assert_int_equal(file_add(sid, &f), ST_OK);
    assert_string_equal(R.file.name, "a.txt");
    assert_int_equal(R.file.source_type, SOURCE_PUSH);
    assert_int_equal(R.file.status, TRANSFER_WAITING_FOR_TRANSFER);
    assert_true(R.file.has_size);
    assert_int_equal(R.file.size, 100);
    assert_true(R.file.expected.present);
    assert_int_equal(R.file.expected.algorithm, CHECKSUM_SHA256);
    assert_int_equal(R.file.expected.checksum[63], 'a');
    assert_false(R.file.received.present);
    assert_string_equal(R.file.upload_token, ""); /* never stored: only its hash */
    assert_false(R.file.removed);
    assert_true(get_session(sid).expiration_ms > deadline); /* activity */

    assert_int_equal(file_get(sid, "a.txt"), ST_OK);
    assert_string_equal(R.file.upload_token, ""); /* never stored: only its hash */
    assert_int_equal(file_get(sid, "nope"), ST_NO_FILE);
    assert_int_equal(file_list(sid, true), ST_OK); /* validate */
    assert_int_equal(R.nfiles, 2);
    assert_string_equal(R.files[0].name, "a.txt");
    assert_string_equal(R.files[1].name, "b.bin");

    /* the upload token is indexed by its hash only, with no TTL: it lives exactly as long as
     * the file is in the ACTIVE session */
    redisReply *r = sync_cmd("KEYS %s*", prefix);
    for (size_t i = 0; i < r->elements; i++) assert_null(strstr(r->element[i]->str, ta));
    freeReplyObject(r);
    r = sync_cmd("KEYS %supload:*", prefix);
    assert_true(r->elements >= 2);
    redisReply *ttl = sync_cmd("PTTL %s", r->element[0]->str);
    assert_int_equal(ttl->integer, -1);
    freeReplyObject(ttl);
    freeReplyObject(r);

    /* replacement: the old token no longer works */
    make_push(&f, "a.txt", ta2, 5);
    assert_int_equal(file_add(sid, &f), ST_OK);
    assert_int_equal(file_get(sid, "a.txt"), ST_OK);
    assert_int_equal(R.file.size, 5);
    assert_int_equal(upload_begin(ta, "blob-x"), ST_NOT_FOUND);
    assert_int_equal(upload_begin("no-such-token", "blob-x"), ST_NOT_FOUND);
    assert_int_equal(upload_begin(NULL, "blob-x"), ST_NOT_FOUND);

    /* upload: begin, busy, progress and end only by the attempt holding the lease */
    assert_int_equal(upload_begin(ta2, "blob-a1"), ST_OK);
    assert_string_equal(R.detail, sid);
    assert_int_equal(R.file.status, TRANSFER_TRANSFERRING);
    assert_string_equal(R.file.blob, "blob-a1");
    assert_string_equal(R.file.attempt, "blob-a1");
    assert_string_equal(R.file.holder, "itest");
    assert_true(R.file.lease_ms > 0);
    assert_int_equal(R.file.bytes_transferred, 0);
    assert_int_equal(upload_begin(ta2, "blob-a2"), ST_TRANSFER_BUSY);
    assert_int_equal(upload_mode(ta2, UPLOAD_RESUME, "blob-a2"), ST_TRANSFER_BUSY);
    assert_int_equal(file_add(sid, &f), ST_TRANSFER_BUSY);
    assert_int_equal(progress(sid, "a.txt", "blob-a2", 3), ST_STATE_CHANGED);
    assert_int_equal(progress(sid, "a.txt", "blob-a1", 3), ST_OK);
    assert_int_equal(file_get(sid, "a.txt"), ST_OK);
    assert_int_equal(R.file.bytes_transferred, 3);
    assert_int_equal(R.file.staged, 3);
    assert_int_equal(transfer_end(sid, "a.txt", "blob-a2", 5, 'c'), ST_STATE_CHANGED);
    assert_string_equal(R.detail, "TRANSFERRING");
    assert_int_equal(transfer_end(sid, "a.txt", "blob-a1", 5, 'c'), ST_OK);
    assert_false(R.has_detail);
    assert_int_equal(file_get(sid, "a.txt"), ST_OK);
    assert_int_equal(R.file.status, TRANSFER_READY);
    assert_int_equal(R.file.bytes_transferred, 5);
    assert_true(R.file.received.present);
    assert_int_equal(R.file.received.checksum[0], 'c');
    assert_true(R.file.expected.present);
    assert_string_equal(R.file.attempt, "");
    assert_int_equal(transfer_end(sid, "a.txt", "blob-a1", 5, 'c'), ST_STATE_CHANGED);
    /* a READY file is not appended to; its probe says so */
    assert_int_equal(upload_mode(ta2, UPLOAD_RESUME, "blob-a2"), ST_FILE_STATE);
    assert_int_equal(R.file.status, TRANSFER_READY);
    assert_int_equal(upload_mode(ta2, UPLOAD_PROBE, ""), ST_OK);
    assert_int_equal(R.file.status, TRANSFER_READY);
    assert_int_equal(R.file.staged, 5);

    /* complete refused while a PUSH file is not READY, naming it */
    assert_int_equal(complete(sid), ST_FILES_NOT_READY);
    assert_string_equal(R.detail, "b.bin");
    assert_int_equal(file_remove(sid, "zzz"), ST_NO_FILE);

    /* a failed upload's blob is garbage; the file can be uploaded again with a new blob */
    garbage_drain(NULL, NULL);
    assert_int_equal(upload_begin(tb, "blob-b0"), ST_OK);
    assert_int_equal(transfer_end(sid, "b.bin", "blob-b0", 2, 0), ST_OK);
    assert_true(garbage_has("staging/%s/%s/%s", it.id, uuid, "blob-b0"));
    assert_int_equal(file_get(sid, "b.bin"), ST_OK);
    assert_int_equal(R.file.status, TRANSFER_ERROR);
    assert_true(R.file.has_error_message);
    assert_string_equal(R.file.error_message.default_message, "Connection refused.");
    assert_string_equal(R.file.blob, "");
    assert_int_equal(complete(sid), ST_FILES_NOT_READY);
    push_file(sid, "b.bin", tb, "blob-b1", 7, 'b');
    assert_int_equal(file_get(sid, "b.bin"), ST_OK);
    assert_false(R.file.has_error_message);

    /* the compare-and-set: stale, extra or missing pairs publish nothing */
    linked_file_t stale[] = {{"a.txt", "blob-zz"}, {"b.bin", "blob-b1"}};
    assert_int_equal(complete_linked(sid, stale, 2), ST_FILES_CHANGED);
    assert_string_equal(R.detail, "a.txt");
    linked_file_t missing[] = {{"b.bin", "blob-b1"}};
    assert_int_equal(complete_linked(sid, missing, 1), ST_FILES_CHANGED);
    assert_string_equal(R.detail, "a.txt");
    linked_file_t extra[] = {{"a.txt", "blob-a1"}, {"b.bin", "blob-b1"}, {"c.bin", "blob-c"}};
    assert_int_equal(complete_linked(sid, extra, 3), ST_FILES_CHANGED);
    assert_string_equal(R.detail, "c.bin");
    assert_string_equal(get_item(it.id).content_version, "1");
    assert_int_equal(get_session(sid).state, SESSION_ACTIVE);

    /* the race of issue 8: a.txt is uploaded again between the link and the publish. The
     * complete that linked blob-a1 is refused; the next one publishes the new upload. */
    linked_file_t linked[] = {{"a.txt", "blob-a1"}, {"b.bin", "blob-b1"}};
    garbage_drain(NULL, NULL);
    push_file(sid, "a.txt", ta2, "blob-a4", 5, 'c');
    assert_true(garbage_has("staging/%s/%s/%s", it.id, uuid, "blob-a1")); /* replaced */
    assert_int_equal(complete_linked(sid, linked, 2), ST_FILES_CHANGED);
    assert_string_equal(R.detail, "a.txt");
    assert_string_equal(get_item(it.id).content_version, "1");
    /* and while it is being uploaded again, complete is refused */
    assert_int_equal(upload_begin(ta2, "blob-a5"), ST_OK);
    linked[0].blob = "blob-a4";
    assert_int_equal(complete_linked(sid, linked, 2), ST_FILES_NOT_READY);
    assert_int_equal(transfer_end(sid, "a.txt", "blob-a5", 5, 'c'), ST_OK);

    /* complete publishes */
    garbage_drain(NULL, NULL);
    assert_int_equal(complete(sid), ST_OK);
    assert_false(R.has_detail);
    assert_int_equal(get_session(sid).state, SESSION_DONE);
    assert_true(garbage_has("staging/%s/%s%s", it.id, uuid, ""));
    item_t got = get_item(it.id);
    assert_string_equal(got.content_version, "2");
    assert_int_equal(got.size, 12);
    assert_true(got.cached);
    assert_int_equal(item_files(it.id), ST_OK);
    assert_int_equal(R.nfiles, 2);
    assert_string_equal(R.item_files[0].name, "a.txt");
    assert_int_equal(R.item_files[0].size, 5);
    assert_string_equal(R.item_files[0].version, "1");
    assert_string_equal(R.item_files[0].blob, "blob-a5");
    assert_true(R.item_files[0].checksum.present);
    assert_int_equal(R.item_files[0].checksum.algorithm, CHECKSUM_SHA256);
    assert_int_equal(R.item_files[0].checksum.checksum[10], 'c');
    assert_string_equal(R.item_files[1].name, "b.bin");
    assert_string_equal(R.item_files[1].blob, "blob-b1");
    store_auth_t denied = {tok_reader, PRIV_UPDATE_SESSION};
    reset();
    store_item_files(st, &denied, it.id, on_item_files, &R);
    assert_int_equal(wait_answer(), ST_UNAUTHORIZED);

    /* after the end: file changes are refused and the upload URI is dead; reads (get, the
     * plain list) are served in every state */
    assert_int_equal(complete(sid), ST_STATE_CHANGED);
    assert_string_equal(R.detail, "DONE");
    assert_int_equal(upload_begin(ta2, "blob-late"), ST_NOT_FOUND);
    assert_int_equal(file_add(sid, &f), ST_STATE_CHANGED);
    assert_int_equal(file_remove(sid, "a.txt"), ST_STATE_CHANGED);
    assert_string_equal(R.detail, "DONE");
    assert_int_equal(file_list(sid, true), ST_STATE_CHANGED);
    assert_int_equal(file_list(sid, false), ST_OK);
    assert_int_equal(R.nfiles, 2);
    assert_int_equal(file_get(sid, "a.txt"), ST_OK);
    assert_int_equal(progress(sid, "a.txt", "blob-a5", 1), ST_STATE_CHANGED);
    assert_string_equal(R.detail, "DONE");

    /* a second session sees the item's files as NONE/READY, replaces one, removes one */
    assert_int_equal(create_session(&upd, it.id, NULL, sid2, NULL), ST_OK);
    const char *uuid2 = sid2 + strlen(it.id) + 1;
    assert_int_equal(file_list(sid2, false), ST_OK);
    assert_int_equal(R.nfiles, 2);
    assert_int_equal(R.files[0].source_type, SOURCE_NONE);
    assert_int_equal(R.files[0].status, TRANSFER_READY);
    assert_int_equal(R.files[0].size, 5);
    assert_int_equal(R.files[0].bytes_transferred, 5);
    assert_true(R.files[0].received.present);
    assert_int_equal(file_get(sid2, "b.bin"), ST_OK);
    assert_int_equal(R.file.source_type, SOURCE_NONE);
    assert_int_equal(R.file.size, 7);
    make_push(&f, "a.txt", tc, 9);
    assert_int_equal(file_add(sid2, &f), ST_OK);
    push_file(sid2, "a.txt", tc, "blob-a3", 9, 'd');
    assert_int_equal(file_remove(sid2, "b.bin"), ST_OK);
    assert_int_equal(file_remove(sid2, "b.bin"), ST_NO_FILE);
    assert_int_equal(file_get(sid2, "b.bin"), ST_NO_FILE);
    assert_int_equal(file_list(sid2, false), ST_OK);
    assert_int_equal(R.nfiles, 1);
    assert_string_equal(R.files[0].name, "a.txt");
    assert_int_equal(R.files[0].source_type, SOURCE_PUSH);
    /* removal ends a transfer in flight: its mover is refused, its blob is garbage */
    make_push(&f, "c.tmp", "tok-c-tmp", 1);
    assert_int_equal(file_add(sid2, &f), ST_OK);
    assert_int_equal(upload_begin("tok-c-tmp", "blob-c1"), ST_OK);
    garbage_drain(NULL, NULL);
    assert_int_equal(file_remove(sid2, "c.tmp"), ST_OK);
    assert_true(garbage_has("staging/%s/%s/%s", it.id, uuid2, "blob-c1"));
    assert_int_equal(progress(sid2, "c.tmp", "blob-c1", 1), ST_STATE_CHANGED);
    assert_string_equal(R.detail, "REMOVED");
    assert_int_equal(upload_begin("tok-c-tmp", "blob-c2"), ST_NOT_FOUND);
    garbage_drain(NULL, NULL);
    assert_int_equal(complete(sid2), ST_OK); /* c.tmp, removed, is not waited for */
    /* the item's replaced and removed blobs are garbage */
    assert_true(garbage_has("items/%s/%s%s", it.id, "blob-a5", ""));
    got = get_item(it.id);
    assert_string_equal(got.content_version, "3");
    assert_int_equal(got.size, 9);
    assert_int_equal(item_files(it.id), ST_OK);
    assert_int_equal(R.nfiles, 1);
    assert_string_equal(R.item_files[0].name, "a.txt");
    assert_string_equal(R.item_files[0].version, "2");
    assert_string_equal(R.item_files[0].blob, "blob-a3");
    assert_int_equal(R.item_files[0].checksum.checksum[0], 'd');

    /* a size the client did not declare is not held against the next upload */
    assert_int_equal(create_session(&upd, it.id, NULL, sid2, NULL), ST_OK);
    make_push(&f, "free.bin", "tok-free", 0);
    f.has_size = false;
    assert_int_equal(file_add(sid2, &f), ST_OK);
    assert_false(R.file.has_size);
    push_file(sid2, "free.bin", "tok-free", "blob-f1", 20480, 'a');
    assert_int_equal(file_get(sid2, "free.bin"), ST_OK);
    assert_true(R.file.has_size);
    assert_int_equal(R.file.size, 20480);
    assert_int_equal(upload_begin("tok-free", "blob-f2"), ST_OK);
    assert_false(R.file.has_size);
    assert_int_equal(transfer_end(sid2, "free.bin", "blob-f2", 20481, 'a'), ST_OK);
    assert_int_equal(file_get(sid2, "free.bin"), ST_OK);
    assert_int_equal(R.file.size, 20481);
    session_change_t cancel;
    session_change_init(&cancel, EV_CANCEL);
    reset();
    store_session_change(st, &upd, sid2, &cancel, on_done, &R);
    assert_int_equal(wait_answer(), ST_OK);

    /* sizes beyond a double's 53 bits stay exact (records keep them as decimal strings) */
    const int64_t huge = INT64_C(123456789012345678);
    assert_int_equal(create_session(&upd, it.id, NULL, sid2, NULL), ST_OK);
    make_push(&f, "huge.bin", "tok-huge", huge);
    assert_int_equal(file_add(sid2, &f), ST_OK);
    assert_int_equal(R.file.size, huge);
    push_file(sid2, "huge.bin", "tok-huge", "blob-h1", huge, 'e');
    assert_int_equal(file_get(sid2, "huge.bin"), ST_OK);
    assert_int_equal(R.file.size, huge);
    assert_int_equal(R.file.bytes_transferred, huge);
    assert_int_equal(complete(sid2), ST_OK);
    assert_int_equal(get_item(it.id).size, huge + 9);
    assert_int_equal(item_files(it.id), ST_OK);
    assert_string_equal(R.item_files[1].name, "huge.bin");
    assert_int_equal(R.item_files[1].size, huge);

    /* item delete ends the item's ACTIVE session and puts its directory on the garbage list */
    make_push(&f, "d.bin", "tok-d", 1);
    assert_int_equal(create_session(&upd, it.id, NULL, sid2, NULL), ST_OK);
    assert_int_equal(file_add(sid2, &f), ST_OK);
    garbage_drain(NULL, NULL);
    reset();
    store_item_delete(st, &admin, it.id, on_done, &R);
    assert_int_equal(wait_answer(), ST_OK);
    assert_int_equal(get_session(sid2).state, SESSION_CANCELED);
    assert_int_equal(upload_begin("tok-d", "blob-d1"), ST_NOT_FOUND);
    assert_true(garbage_has("items/%s%s%s", it.id, "", ""));
}

static void test_files_pull(void **state) {
    (void)state;
    NEED_REDIS();
    item_t it;
    setup_item(&it, "files-pull");
    store_auth_t upd = {tok_admin, PRIV_UPDATE_SESSION};
    char sid[SESSION_ID_MAX], tok[37];
    new_uuid(tok);

    /* complete while a PULL transfer is in flight: stays ACTIVE (COMPLETING); the last end says
     * COMPLETE and the server completes it through the same publish path */
    assert_int_equal(create_session(&upd, it.id, NULL, sid, NULL), ST_OK);
    session_file_t f;
    make_pull(&f, "disk.vmdk", "blob-p1");
    assert_int_equal(file_add(sid, &f), ST_OK);
    assert_int_equal(R.file.status, TRANSFER_TRANSFERRING);
    assert_string_equal(R.file.source_uri, "https://example.com/disk.vmdk");
    assert_string_equal(R.file.source_thumbprint, "AA:BB");
    assert_true(R.file.lease_ms > 0);
    make_push(&f, "desc.ovf", tok, 4);
    assert_int_equal(file_add(sid, &f), ST_OK);
    push_file(sid, "desc.ovf", tok, "blob-o1", 4, 'e');
    assert_int_equal(complete(sid), ST_OK);
    assert_string_equal(R.detail, "REQUESTED");
    assert_int_equal(get_session(sid).state, SESSION_ACTIVE);
    assert_string_equal(get_item(it.id).content_version, "1");
    make_push(&f, "late.txt", "tok-late", 1); /* the file set is frozen */
    assert_int_equal(file_add(sid, &f), ST_STATE_CHANGED);
    assert_int_equal(file_remove(sid, "desc.ovf"), ST_STATE_CHANGED);
    assert_int_equal(upload_begin(tok, "blob-o2"), ST_STATE_CHANGED);
    assert_int_equal(complete(sid), ST_OK); /* asking again changes nothing */
    assert_string_equal(R.detail, "REQUESTED");
    assert_int_equal(get_session(sid).state, SESSION_ACTIVE);
    assert_int_equal(progress(sid, "disk.vmdk", "blob-p1", 1000), ST_OK);
    assert_int_equal(transfer_end_src(sid, "disk.vmdk", "blob-p1", 2000, 'f', SOURCE_PULL), ST_OK);
    assert_string_equal(R.detail, "COMPLETE");
    assert_int_equal(get_session(sid).state, SESSION_ACTIVE);
    store_status_t listed;
    reset();
    store_file_list(st, NULL, sid, false, on_files, &R); /* the server's own list, no login */
    listed = wait_answer();
    assert_int_equal(listed, ST_OK);
    assert_int_equal(R.nfiles, 2);
    assert_int_equal(complete_as(sid, NULL), ST_OK);
    assert_false(R.has_detail);
    assert_int_equal(get_session(sid).state, SESSION_DONE);
    item_t got = get_item(it.id);
    assert_string_equal(got.content_version, "2");
    assert_int_equal(got.size, 2004);
    assert_int_equal(item_files(it.id), ST_OK);
    assert_int_equal(R.nfiles, 2);
    assert_string_equal(R.item_files[0].name, "desc.ovf");
    assert_string_equal(R.item_files[1].name, "disk.vmdk");
    assert_string_equal(R.item_files[1].blob, "blob-p1");
    assert_int_equal(R.item_files[1].size, 2000);

    /* a PULL failing after complete was requested fails the session */
    assert_int_equal(create_session(&upd, it.id, NULL, sid, NULL), ST_OK);
    make_pull(&f, "disk.vmdk", "blob-p2");
    assert_int_equal(file_add(sid, &f), ST_OK);
    assert_int_equal(complete(sid), ST_OK);
    assert_string_equal(R.detail, "REQUESTED");
    assert_int_equal(transfer_end_src(sid, "disk.vmdk", "blob-p2", 10, 0, SOURCE_PULL), ST_OK);
    assert_false(R.has_detail);
    update_session_t us = get_session(sid);
    assert_int_equal(us.state, SESSION_ERROR);
    assert_true(us.has_error_message);
    assert_string_equal(us.error_message.default_message,
                        "The transfer of file disk.vmdk failed: Connection refused.");
    assert_string_equal(get_item(it.id).content_version, "2");
    assert_int_equal(item_files(it.id), ST_OK);
    assert_int_equal(R.nfiles, 2);
    assert_string_equal(R.item_files[1].blob, "blob-p1");

    /* a PULL in ERROR before complete: complete refuses, naming it; the lock was released */
    assert_int_equal(create_session(&upd, it.id, NULL, sid, NULL), ST_OK);
    make_pull(&f, "disk.vmdk", "blob-p3");
    assert_int_equal(file_add(sid, &f), ST_OK);
    assert_int_equal(transfer_end_src(sid, "disk.vmdk", "blob-p3", 10, 0, SOURCE_PULL), ST_OK);
    assert_int_equal(get_session(sid).state, SESSION_ACTIVE);
    assert_int_equal(complete(sid), ST_FILES_NOT_READY);
    assert_string_equal(R.detail, "disk.vmdk");
    assert_int_equal(file_get(sid, "disk.vmdk"), ST_OK); /* error_message survived the scripts */
    assert_int_equal(R.file.status, TRANSFER_ERROR);
    assert_true(R.file.has_error_message);
    assert_int_equal(R.file.error_message.nargs, 0);

    /* cancel publishes nothing; complete never goes through session_change */
    session_change_t ch;
    session_change_init(&ch, EV_CANCEL);
    reset();
    store_session_change(st, &upd, sid, &ch, on_done, &R);
    assert_int_equal(wait_answer(), ST_OK);
    assert_string_equal(get_item(it.id).content_version, "2");
    assert_int_equal(create_session(&upd, it.id, NULL, sid, NULL), ST_OK);
    session_change_init(&ch, EV_COMPLETE);
    reset();
    store_session_change(st, &upd, sid, &ch, on_done, &R);
    assert_int_equal(wait_answer(), ST_INTERNAL);
    assert_int_equal(get_session(sid).state, SESSION_ACTIVE);
    assert_string_equal(get_item(it.id).content_version, "2");
    /* a complete with no files raises content_version once */
    assert_int_equal(complete(sid), ST_OK);
    got = get_item(it.id);
    assert_string_equal(got.content_version, "3");
    assert_int_equal(got.size, 2004);
    assert_int_equal(item_files(it.id), ST_OK);
    assert_int_equal(R.nfiles, 2);
}

typedef struct {
    int calls;
    char ids[8][SESSION_ID_MAX];
} expired_log_t;

static void on_expired(void *arg, const char *sid) {
    expired_log_t *l = arg;
    if (l->calls < 8) snprintf(l->ids[l->calls], SESSION_ID_MAX, "%s", sid);
    l->calls++;
}

/* Leases: a mover that stops renewing is taken for gone. Its PUSH file reads as waiting (with
 * the durable prefix its last heartbeat recorded) and any attempt may resume it; its old
 * attempt is refused from then on. A PULL whose mover is gone reads as failed; a repeated
 * complete withdraws a request that waits for it. */
static void test_files_lease(void **state) {
    (void)state;
    NEED_REDIS();
    item_t it;
    setup_item(&it, "files-lease");
    store_config_t cfg = default_cfg;
    cfg.redis_host = redis_host;
    cfg.redis_port = redis_port;
    cfg.prefix = prefix;
    cfg.transfer_lease_ms = 150;
    store_t *main_st = st;
    st = store_new(base, &cfg);
    assert_true(wait_connected(st, WAIT_MS));

    store_auth_t upd = {tok_admin, PRIV_UPDATE_SESSION};
    char sid[SESSION_ID_MAX], tok[37];
    new_uuid(tok);
    assert_int_equal(create_session(&upd, it.id, NULL, sid, NULL), ST_OK);
    session_file_t f;
    make_push(&f, "big.iso", tok, 100);
    assert_int_equal(file_add(sid, &f), ST_OK);
    assert_int_equal(upload_begin(tok, "blob-1"), ST_OK);
    assert_int_equal(progress(sid, "big.iso", "blob-1", 40), ST_OK);
    assert_int_equal(upload_mode(tok, UPLOAD_RESUME, "blob-2"), ST_TRANSFER_BUSY);
    run_for(250); /* the mover died */
    assert_int_equal(file_get(sid, "big.iso"), ST_OK);
    assert_int_equal(R.file.status, TRANSFER_WAITING_FOR_TRANSFER);
    assert_true(R.file.lapsed);
    assert_int_equal(R.file.bytes_transferred, 40);
    assert_int_equal(upload_mode(tok, UPLOAD_PROBE, ""), ST_OK);
    assert_int_equal(R.file.staged, 40);
    assert_int_equal(upload_mode(tok, UPLOAD_RESUME, "att-2"), ST_OK); /* taken over */
    assert_string_equal(R.file.blob, "blob-1");                     /* the same blob */
    assert_string_equal(R.file.attempt, "att-2");
    assert_int_equal(R.file.staged, 40);
    assert_int_equal(progress(sid, "big.iso", "blob-1", 50), ST_STATE_CHANGED); /* old mover */
    assert_string_equal(R.detail, "TRANSFERRING");
    assert_int_equal(transfer_end(sid, "big.iso", "att-2", 70, 'P'), ST_OK);   /* paused */
    assert_int_equal(file_get(sid, "big.iso"), ST_OK);
    assert_int_equal(R.file.status, TRANSFER_WAITING_FOR_TRANSFER);
    assert_false(R.file.lapsed);
    assert_int_equal(R.file.staged, 70);
    assert_int_equal(upload_mode(tok, UPLOAD_RESUME, "att-3"), ST_OK);
    assert_string_equal(R.file.blob, "blob-1");
    assert_int_equal(R.file.staged, 70);
    assert_int_equal(transfer_end(sid, "big.iso", "att-3", 100, 'c'), ST_OK);
    assert_int_equal(file_get(sid, "big.iso"), ST_OK);
    assert_int_equal(R.file.status, TRANSFER_READY);

    /* a PULL whose mover died, no complete requested: it reads as failed, complete refuses it,
     * and it can be added again */
    make_pull(&f, "disk.vmdk", "blob-p");
    assert_int_equal(file_add(sid, &f), ST_OK);
    run_for(250);
    assert_int_equal(file_get(sid, "disk.vmdk"), ST_OK);
    assert_int_equal(R.file.status, TRANSFER_ERROR);
    assert_true(R.file.lapsed);
    assert_true(R.file.has_error_message);
    assert_int_equal(complete(sid), ST_FILES_NOT_READY);
    assert_string_equal(R.detail, "disk.vmdk");
    make_pull(&f, "disk.vmdk", "blob-p2");
    assert_int_equal(file_add(sid, &f), ST_OK);

    /* the instance that ended the last pull of a requested complete died before completing it:
     * after one lease a sweep claims the complete and hands it to the hook, which runs it */
    expired_log_t due = {0};
    store_on_completion_due(st, on_expired, &due);
    store_on_completion_due(main_st, on_expired, &due);
    assert_int_equal(complete(sid), ST_OK);
    assert_string_equal(R.detail, "REQUESTED");
    assert_int_equal(progress(sid, "disk.vmdk", "blob-p2", 5), ST_OK);
    assert_int_equal(transfer_end_src(sid, "disk.vmdk", "blob-p2", 10, 'f', SOURCE_PULL), ST_OK);
    assert_string_equal(R.detail, "COMPLETE"); /* ... and this "instance" dies */
    int64_t end = mono_ms() + WAIT_MS;
    while (due.calls == 0 && mono_ms() < end) run_for(20);
    assert_int_equal(due.calls, 1);
    assert_string_equal(due.ids[0], sid);
    assert_int_equal(complete_as(sid, NULL), ST_OK);
    assert_false(R.has_detail);
    assert_int_equal(get_session(sid).state, SESSION_DONE);
    run_for(400);
    assert_int_equal(due.calls, 1); /* claimed once, and done */

    /* a requested complete whose pull lost its mover fails, as a failed pull fails it */
    char sid3[SESSION_ID_MAX];
    assert_int_equal(create_session(&upd, it.id, NULL, sid3, NULL), ST_OK);
    make_pull(&f, "disk.vmdk", "blob-p3");
    assert_int_equal(file_add(sid3, &f), ST_OK);
    assert_int_equal(complete(sid3), ST_OK);
    assert_string_equal(R.detail, "REQUESTED");
    end = mono_ms() + WAIT_MS;
    while (get_session(sid3).state == SESSION_ACTIVE && mono_ms() < end) run_for(20);
    update_session_t us = get_session(sid3);
    assert_int_equal(us.state, SESSION_ERROR);
    assert_true(us.has_error_message);
    assert_string_equal(us.error_message.default_message,
                        "The transfer of file disk.vmdk failed: the instance moving its bytes "
                        "went away.");
    assert_int_equal(us.error_message.nargs, 1);
    assert_string_equal(us.error_message.args[0], "disk.vmdk");
    assert_int_equal(due.calls, 1);
    store_on_completion_due(st, NULL, NULL);
    store_on_completion_due(main_st, NULL, NULL);

    store_free(st);
    st = main_st;
}


/* Sessions the sweepers expire are reported, once, by the instance that expired them. The
 * group's store sweeps the same keys, so both hooks are watched. */
static void test_files_expired_hook(void **state) {
    (void)state;
    NEED_REDIS();
    item_t it;
    setup_item(&it, "files-expiry");
    store_config_t cfg = default_cfg;
    cfg.redis_host = redis_host;
    cfg.redis_port = redis_port;
    cfg.prefix = prefix;
    cfg.session_timeout_ms = 300;
    cfg.sweep_interval_ms = 40;
    store_t *fast = store_new(base, &cfg);
    assert_true(wait_connected(fast, WAIT_MS));
    expired_log_t mine = {0}, other = {0};
    store_on_expired(fast, on_expired, &mine);
    store_on_expired(st, on_expired, &other);

    char sid[SESSION_ID_MAX], uuid[37], tok[37];
    new_uuid(uuid);
    new_uuid(tok);
    snprintf(sid, sizeof(sid), "%s:%s", it.id, uuid);
    session_spec_t spec;
    memset(&spec, 0, sizeof(spec));
    snprintf(spec.library_item_id, sizeof(spec.library_item_id), "%s", it.id);
    store_auth_t upd = {tok_admin, PRIV_UPDATE_SESSION};
    reset();
    store_session_create(fast, &upd, sid, &spec, NULL, on_done, &R);
    assert_int_equal(wait_answer(), ST_OK);
    session_file_t f;
    make_push(&f, "a.txt", tok, 1);
    store_auth_t a = any_login();
    reset();
    store_file_add(fast, &a, sid, &f, on_file, &R);
    assert_int_equal(wait_answer(), ST_OK);

    int64_t end = mono_ms() + WAIT_MS;
    while (mine.calls + other.calls == 0 && mono_ms() < end) run_for(10);
    run_for(300);
    assert_int_equal(mine.calls + other.calls, 1);
    assert_string_equal(mine.calls ? mine.ids[0] : other.ids[0], sid);
    assert_int_equal(get_session(sid).state, SESSION_ERROR);
    assert_int_equal(upload_begin(tok, "blob-late"), ST_NOT_FOUND); /* the URI died with it */
    assert_int_equal(file_get(sid, "a.txt"), ST_OK); /* a read, in every state */

    store_on_expired(st, NULL, NULL);
    store_free(fast);
}

/* SCRIPT FLUSH behind the store's back: the next calls reload and still succeed. */
static void test_noscript_recovery(void **state) {
    (void)state;
    NEED_REDIS();
    freeReplyObject(sync_cmd("SCRIPT FLUSH"));
    result_t rs[5];
    memset(rs, 0, sizeof(rs));
    for (int i = 0; i < 5; i++) store_library_list(st, &admin, on_ids, &rs[i]);
    int64_t end = mono_ms() + WAIT_MS;
    while (rs[4].calls == 0 && mono_ms() < end) run_for(10);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(rs[i].calls, 1);
        assert_int_equal(rs[i].status, ST_OK);
    }
    reset();
    store_login_info(st, &admin, on_login, &R);
    assert_int_equal(wait_answer(), ST_OK);
}

/* A free port: bound a moment ago, closed now. */
static int closed_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

/* No server: a call waits for the link and is answered ST_UNAVAILABLE at its timeout. */
static void test_no_server(void **state) {
    (void)state;
    store_t *s = new_store("127.0.0.1", closed_port(), 300, 300);
    assert_non_null(s);
    store_auth_t any = {"some-token", PRIV_NONE}; /* must wait for Redis to be refused */
    result_t r[3];
    memset(r, 0, sizeof(r));
    int64_t t0 = mono_ms();
    store_library_list(s, &any, on_ids, &r[0]);
    store_login_info(s, &any, on_login, &r[1]);
    assert_int_equal(r[0].calls + r[1].calls, 0); /* never answered from inside the call */
    while (r[1].calls == 0 && mono_ms() - t0 < WAIT_MS) run_for(5);
    int64_t took = mono_ms() - t0;
    assert_int_equal(r[0].calls, 1);
    assert_int_equal(r[1].calls, 1);
    assert_int_equal(r[0].status, ST_UNAVAILABLE);
    assert_int_equal(r[1].status, ST_UNAVAILABLE);
    assert_true(took >= 280 && took < 300 + 250);
    assert_false(store_connected(s));

    /* store_free answers what is pending, once */
    store_library_list(s, &any, on_ids, &r[2]);
    store_free(s);
    assert_int_equal(r[2].calls, 1);
    assert_int_equal(r[2].status, ST_UNAVAILABLE);
    run_for(400);
    assert_int_equal(r[0].calls + r[1].calls + r[2].calls, 3);
}

/* Calls made while the link is down wait in a bounded queue: the one beyond the bound is
 * answered ST_UNAVAILABLE at once (from the loop, not from inside the call), as is a call
 * whose answer is known locally (no token). store_free answers the rest, once each. */
static void test_queue_bound(void **state) {
    (void)state;
    enum { QUEUED = 10000 };
    store_t *s = new_store("127.0.0.1", closed_port(), 5000, 300);
    store_auth_t any = {"some-token", PRIV_NONE}, none = {NULL, PRIV_NONE};
    result_t *r = calloc(QUEUED + 2, sizeof(*r));
    for (int i = 0; i < QUEUED + 1; i++) store_library_list(s, &any, on_ids, &r[i]);
    store_library_list(s, &none, on_ids, &r[QUEUED + 1]);
    assert_int_equal(r[QUEUED].calls + r[QUEUED + 1].calls, 0);
    run_for(100);
    for (int i = 0; i < QUEUED; i++) assert_int_equal(r[i].calls, 0);
    assert_int_equal(r[QUEUED].calls, 1);
    assert_int_equal(r[QUEUED].status, ST_UNAVAILABLE);
    assert_int_equal(r[QUEUED + 1].calls, 1);
    assert_int_equal(r[QUEUED + 1].status, ST_UNAUTHENTICATED);
    store_free(s);
    for (int i = 0; i < QUEUED; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].status, ST_UNAVAILABLE);
    }
    free(r);
}

/* A server that accepts TCP connections and never answers (what a SIGSTOPped Redis looks like
 * from here): connects time out, calls are answered ST_UNAVAILABLE within their timeout. */
static void test_silent_server(void **state) {
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 64), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    store_t *s = new_store("127.0.0.1", ntohs(a.sin_port), 400, 150);
    store_auth_t any = {"some-token", PRIV_NONE};
    result_t r[4];
    memset(r, 0, sizeof(r));
    int64_t t0 = mono_ms();
    for (int i = 0; i < 4; i++) store_library_list(s, &any, on_ids, &r[i]);
    while (r[3].calls == 0 && mono_ms() - t0 < WAIT_MS) run_for(5);
    int64_t took = mono_ms() - t0;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].status, ST_UNAVAILABLE);
    }
    assert_true(took < 400 + 250);
    assert_false(store_connected(s));
    store_free(s);
    close(fd);
}

static store_t *freeing_store;
static result_t chain[3];

/* A reply function that frees the store it is answered by. */
static void on_ids_then_free(void *arg, store_status_t s, char *const *ids, size_t n) {
    on_ids(arg, s, ids, n);
    store_free(freeing_store);
}

/* Redis frozen (CLIENT PAUSE) while calls are in flight: they are answered ST_UNAVAILABLE at
 * their timeout, the link is dropped and comes back by itself when Redis answers again. Also:
 * store_free from inside a reply function, with a call still held by hiredis. */
static void test_frozen_redis(void **state) {
    (void)state;
    NEED_REDIS();
    store_t *s = new_store(redis_host, redis_port, 300, 300);
    assert_true(wait_connected(s, WAIT_MS));
    result_t r[3];
    memset(r, 0, sizeof(r));
    freeReplyObject(sync_cmd("CLIENT PAUSE 1000 ALL"));
    int64_t t0 = mono_ms();
    for (int i = 0; i < 3; i++) store_library_list(s, &admin, on_ids, &r[i]);
    while (r[2].calls == 0 && mono_ms() - t0 < WAIT_MS) run_for(5);
    int64_t took = mono_ms() - t0;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].status, ST_UNAVAILABLE);
    }
    assert_true(took >= 280 && took < 300 + 250);
    assert_false(store_connected(s));

    /* back by itself after the pause */
    assert_true(wait_connected(s, WAIT_MS));
    reset();
    store_library_list(s, &admin, on_ids, &R);
    assert_int_equal(wait_answer(), ST_OK);
    run_for(400);
    for (int i = 0; i < 3; i++) assert_int_equal(r[i].calls, 1);

    /* freeze again; the first answer frees the store, the others are answered once */
    freeReplyObject(sync_cmd("CLIENT PAUSE 600 ALL"));
    memset(chain, 0, sizeof(chain));
    freeing_store = s;
    store_library_list(s, &admin, on_ids_then_free, &chain[0]);
    store_library_list(s, &admin, on_ids, &chain[1]);
    store_library_list(s, &admin, on_ids, &chain[2]);
    t0 = mono_ms();
    while (chain[2].calls == 0 && mono_ms() - t0 < WAIT_MS) run_for(5);
    run_for(800);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(chain[i].calls, 1);
        assert_int_equal(chain[i].status, ST_UNAVAILABLE);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_login_and_auth),
        cmocka_unit_test(test_library_crud),
        cmocka_unit_test(test_item_crud),
        cmocka_unit_test(test_sessions),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_files_pull),
        cmocka_unit_test(test_files_lease),
        cmocka_unit_test(test_files_expired_hook),
        cmocka_unit_test(test_noscript_recovery),
        cmocka_unit_test(test_no_server),
        cmocka_unit_test(test_queue_bound),
        cmocka_unit_test(test_silent_server),
        cmocka_unit_test(test_frozen_redis),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
