/* tests/tools/usd_seed.c: usd-seed, the test tool that puts content the HTTP API cannot make
 * straight into Redis through the store API:
 *
 *   usd-seed --redis HOST:PORT [--prefix P] subscribed-item LIBRARY_NAME ITEM_NAME
 *
 * creates a SUBSCRIBED library and one item in it (allow_subscribed) and prints
 * "<library id> <item id>". It records a throwaway login (PRIV_ALL) for itself and removes it
 * at the end. Exit status 0 on success, 1 on failure, 2 on bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <uuid/uuid.h>

#include "core/privilege.h"
#include "store/store.h"

/* The steps run one after the other from the callbacks; each failure ends the loop. */
typedef struct {
    struct event_base *base;
    store_t *st;
    char token[37];
    store_auth_t auth;
    library_t lib;
    item_t item;
    int status; /* exit status */
} seed_t;

static void new_uuid(char out[37]) {
    uuid_t u;
    uuid_generate_random(u);
    uuid_unparse_lower(u, out);
}

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool step_ok(seed_t *s, const char *what, store_status_t st, const char *detail) {
    if (st == ST_OK) return true;
    fprintf(stderr, "usd-seed: %s: %s%s%s\n", what, store_status_name(st), detail ? " " : "",
            detail ? detail : "");
    s->status = 1;
    return false;
}

static void on_logout(void *arg, store_status_t st, const char *detail) {
    seed_t *s = arg;
    (void)st, (void)detail; /* the login idles out anyway */
    event_base_loopexit(s->base, NULL);
}

/* Last step whatever happened before: drop the throwaway login. */
static void finish(seed_t *s) { store_logout(s->st, &s->auth, on_logout, s); }

static void on_item(void *arg, store_status_t st, const char *detail) {
    seed_t *s = arg;
    if (step_ok(s, "item create", st, detail)) {
        printf("%s %s\n", s->lib.id, s->item.id);
        s->status = 0;
    }
    finish(s);
}

static void on_library(void *arg, store_status_t st, const char *detail) {
    seed_t *s = arg;
    if (!step_ok(s, "library create", st, detail)) {
        finish(s);
        return;
    }
    store_item_create(s->st, &s->auth, &s->item, true, on_item, s);
}

static void on_login(void *arg, store_status_t st, const char *detail) {
    seed_t *s = arg;
    if (!step_ok(s, "login", st, detail)) {
        event_base_loopexit(s->base, NULL);
        return;
    }
    store_library_create(s->st, &s->auth, &s->lib, on_library, s);
}

static int usage(void) {
    fprintf(stderr, "usage: usd-seed --redis HOST:PORT [--prefix P] subscribed-item "
                    "LIBRARY_NAME ITEM_NAME\n");
    return 2;
}

int main(int argc, char **argv) {
    const char *redis = NULL, *prefix = "usd:";
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--redis") == 0)
            redis = argv[i + 1];
        else if (strcmp(argv[i], "--prefix") == 0)
            prefix = argv[i + 1];
        else
            return usage();
    }
    if (!redis || argc - i != 3 || strcmp(argv[i], "subscribed-item") != 0) return usage();
    const char *lib_name = argv[i + 1], *item_name = argv[i + 2];
    if (!*lib_name || !*item_name || strlen(lib_name) >= NAME_MAX_BYTES ||
        strlen(item_name) >= NAME_MAX_BYTES)
        return usage();
    const char *colon = strrchr(redis, ':');
    char host[256];
    if (!colon || (size_t)(colon - redis) >= sizeof(host) || atoi(colon + 1) <= 0) return usage();
    memcpy(host, redis, (size_t)(colon - redis));
    host[colon - redis] = '\0';

    seed_t s;
    memset(&s, 0, sizeof(s));
    s.status = 1;
    s.base = event_base_new();
    store_config_t cfg = {.redis_host = host, .redis_port = atoi(colon + 1), .prefix = prefix,
                          .call_timeout_ms = 5000, .login_idle_ms = 60000};
    s.st = store_new(s.base, &cfg);
    if (!s.base || !s.st) return 1;
    new_uuid(s.token);
    s.auth = (store_auth_t){s.token, PRIV_ALL};

    int64_t now = wall_ms();
    library_t *l = &s.lib;
    new_uuid(l->id);
    snprintf(l->name, sizeof(l->name), "%s", lib_name);
    l->type = LIBRARY_SUBSCRIBED;
    l->creation_ms = l->last_modified_ms = now;
    snprintf(l->version, sizeof(l->version), "1");
    l->subscription_info_json = "{\"authentication_method\":\"NONE\",\"automatic_sync_enabled\":"
                                "false,\"on_demand\":true,\"subscription_url\":"
                                "\"https://example.invalid/lib.json\"}";
    item_t *it = &s.item;
    new_uuid(it->id);
    snprintf(it->library_id, sizeof(it->library_id), "%s", l->id);
    snprintf(it->name, sizeof(it->name), "%s", item_name);
    snprintf(it->content_version, sizeof(it->content_version), "1");
    snprintf(it->metadata_version, sizeof(it->metadata_version), "1");
    snprintf(it->version, sizeof(it->version), "1");
    it->creation_ms = it->last_modified_ms = now;

    store_login(s.st, s.token, "usd-seed", PRIV_ALL, on_login, &s);
    event_base_dispatch(s.base);
    store_free(s.st);
    event_base_free(s.base);
    return s.status;
}
