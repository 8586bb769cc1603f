/* store/libraries.c: library records and the library index: create, get, list, find (name
 * case-insensitive, type) and delete (with the library's items). */
#include "store/redis.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

static const store_field_t library_fields[] = {
    FIELD("id", FT_STR, library_t, id),
    FIELD("name", FT_STR, library_t, name),
    FIELD("description", FT_STR, library_t, description),
    FIELD("type", FT_LIBTYPE, library_t, type),
    FIELD("creation", FT_I64, library_t, creation_ms),
    FIELD("modified", FT_I64, library_t, last_modified_ms),
    FIELD("version", FT_STR, library_t, version),
};

/* Backings are stored as [{"type":..,"datastore_id":..,"storage_uri":..}] (empty members
 * left out), the shape of the API's StorageBacking. */
static struct json_object *backings_to_json(const library_t *l) {
    struct json_object *a = json_object_new_array();
    for (int i = 0; i < l->nbackings && i < BACKINGS_MAX; i++) {
        const storage_backing_t *b = &l->backings[i];
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "type", json_object_new_string(b->type));
        if (b->datastore_id[0])
            json_object_object_add(o, "datastore_id", json_object_new_string(b->datastore_id));
        if (b->storage_uri[0])
            json_object_object_add(o, "storage_uri", json_object_new_string(b->storage_uri));
        json_object_array_add(a, o);
    }
    return a;
}

static int backings_from_json(struct json_object *a, library_t *l) {
    if (!a || !json_object_is_type(a, json_type_array) ||
        json_object_array_length(a) > BACKINGS_MAX)
        return C_ERR;
    static const struct {
        const char *name;
        size_t off, size;
    } members[] = {
        {"type", offsetof(storage_backing_t, type), sizeof(((storage_backing_t *)0)->type)},
        {"datastore_id", offsetof(storage_backing_t, datastore_id),
         sizeof(((storage_backing_t *)0)->datastore_id)},
        {"storage_uri", offsetof(storage_backing_t, storage_uri),
         sizeof(((storage_backing_t *)0)->storage_uri)},
    };
    l->nbackings = 0;
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        struct json_object *o = json_object_array_get_idx(a, i), *v;
        storage_backing_t *b = &l->backings[l->nbackings++];
        memset(b, 0, sizeof(*b));
        for (size_t m = 0; m < ARRAY_LEN(members); m++)
            if (json_object_object_get_ex(o, members[m].name, &v) &&
                copy_str((char *)b + members[m].off, members[m].size,
                         json_object_get_string(v)) != C_OK)
                return C_ERR;
    }
    return C_OK;
}

/* The JSON-text fields: backings (decoded) and subscription_info (kept as text). */
static int library_extra(void *obj, const char *name, const char *value, size_t len) {
    library_t *l = obj;
    if (strcmp(name, "backings") == 0) {
        struct json_object *a = json_parse_stored(value, len);
        int rc = backings_from_json(a, l);
        json_object_put(a);
        return rc;
    }
    if (strcmp(name, "subscription_info") == 0) {
        free(l->subscription_info_json);
        l->subscription_info_json = strndup(value, len);
        return l->subscription_info_json ? C_OK : C_ERR;
    }
    return C_OK;
}

/* {'OK', now, field, value, ...} */
static void reply_library(store_status_t s, const struct redisReply *r, store_fn_t cb,
                          void *arg) {
    library_t l;
    memset(&l, 0, sizeof(l));
    if (s == ST_OK && fields_decode(library_fields, ARRAY_LEN(library_fields), &l, r, 2,
                                    library_extra) != C_OK) {
        store_log("library record: malformed");
        s = ST_INTERNAL;
    }
    ((store_library_cb)cb)(arg, s, s == ST_OK ? &l : NULL);
    library_free(&l);
}

void store_library_create(store_t *st, const store_auth_t *auth, const library_t *l,
                          store_done_cb cb, void *arg) {
    store_cmd_t c;
    cmd_init_auth(&c, st, auth);
    cmd_key_lib(&c, l->id, "");
    cmd_key(&c, "libs", (const char *)NULL);
    cmd_arg(&c, l->id);
    cmd_arg_i64(&c, l->creation_ms);
    fields_encode(&c, library_fields, ARRAY_LEN(library_fields), l);
    struct json_object *backings = backings_to_json(l);
    cmd_arg(&c, "backings");
    cmd_arg(&c, json_text(backings));
    if (l->subscription_info_json) {
        cmd_arg(&c, "subscription_info");
        cmd_arg(&c, l->subscription_info_json);
    }
    store_eval(&c, SCRIPT_LIBRARY_CREATE, reply_done, (store_fn_t)cb, arg);
    json_object_put(backings);
}

void store_library_get(store_t *st, const store_auth_t *auth, const char *id,
                       store_library_cb cb, void *arg) {
    store_cmd_t c;
    cmd_init_auth(&c, st, auth);
    cmd_key_lib(&c, id, "");
    store_eval(&c, SCRIPT_HASH_GET, reply_library, (store_fn_t)cb, arg);
}

void store_library_list(store_t *st, const store_auth_t *auth, store_ids_cb cb, void *arg) {
    store_cmd_t c;
    cmd_init_auth(&c, st, auth);
    cmd_key(&c, "libs", (const char *)NULL);
    store_eval(&c, SCRIPT_LIST, reply_ids, (store_fn_t)cb, arg);
}

void store_library_find(store_t *st, const store_auth_t *auth, const library_find_t *spec,
                        store_ids_cb cb, void *arg) {
    store_cmd_t c;
    cmd_init_auth(&c, st, auth);
    cmd_key(&c, "libs", (const char *)NULL);
    cmd_arg(&c, spec->name);
    cmd_arg(&c, spec->has_type ? library_type_name(spec->type) : "");
    cmd_arg_prefix(&c);
    store_eval(&c, SCRIPT_LIBRARY_FIND, reply_ids, (store_fn_t)cb, arg);
}

/* Items a library_delete.lua call removes: each item costs some 10 Redis commands (10-20 us;
 * tests/bench/growth.py), so a call stays near half a millisecond of Redis time however large
 * the library (the delete of a library of N items takes N / LIBRARY_DELETE_BATCH round trips,
 * about 2.6 s for 100 000 items; other clients run between them). */
#define LIBRARY_DELETE_BATCH 32

/* One library delete in flight: the calls after the first repeat the first's arguments. */
typedef struct {
    store_t *st;
    store_auth_t auth;
    char *token;
    char id[ID_MAX];
    library_type_t type;
    int64_t ended; /* sessions the calls so far ended */
    bool started;  /* a call already removed something: NOT_FOUND now means another delete
                    * finished it */
    store_done_cb cb;
    void *arg;
} library_delete_t;

static void library_delete_call(library_delete_t *d);

/* {'OK', sessions ended[, 'MORE']}: call again while 'MORE'; the client hears once, at the
 * end, with every session the calls ended counted. */
static void on_library_deleted(store_status_t s, const struct redisReply *r, store_fn_t cb,
                               void *arg) {
    (void)cb;
    library_delete_t *d = arg;
    int64_t ended = 0;
    if (s == ST_OK && reply_i64(r, 1, &ended) == C_OK) d->ended += ended;
    const char *more = s == ST_OK ? reply_str(r, 2) : NULL;
    if (more && strcmp(more, "MORE") == 0) {
        d->started = true;
        if (!store_closing(d->st)) {
            library_delete_call(d);
            return;
        }
        s = ST_UNAVAILABLE; /* not finished: the client may delete again */
    }
    if (s == ST_NOT_FOUND && d->started) s = ST_OK;
    if (d->ended > 0) {
        session_state_t to = SESSION_CANCELED;
        fsm_apply(SESSION_ACTIVE, EV_CANCEL, &to);
        store_count_transition(to, (uint64_t)d->ended);
    }
    d->cb(d->arg, s, NULL);
    free(d->token);
    free(d);
}

static void library_delete_call(library_delete_t *d) {
    store_cmd_t c;
    cmd_init_auth(&c, d->st, &d->auth);
    cmd_key_lib(&c, d->id, "");
    cmd_key(&c, "libs", (const char *)NULL);
    cmd_key_lib(&c, d->id, ":items");
    cmd_key_lib(&c, d->id, ":names");
    cmd_arg(&c, d->id);
    cmd_arg(&c, library_type_name(d->type));
    cmd_arg_prefix(&c);
    cmd_arg_item_gone(&c);
    cmd_arg_i64(&c, LIBRARY_DELETE_BATCH);
    store_eval(&c, SCRIPT_LIBRARY_DELETE, on_library_deleted, NULL, d);
}

void store_library_delete(store_t *st, const store_auth_t *auth, const char *id,
                          library_type_t type, store_done_cb cb, void *arg) {
    library_delete_t *d = calloc(1, sizeof(*d));
    store_status_t refused = ST_INTERNAL;
    if (d && copy_str(d->id, sizeof(d->id), id ? id : "") != C_OK) refused = ST_NOT_FOUND;
    else if (d && (!auth || !auth->token || (d->token = strdup(auth->token)))) {
        d->st = st;
        if (auth) d->auth = *auth;
        d->auth.token = d->token;
        d->type = type;
        d->cb = cb;
        d->arg = arg;
        library_delete_call(d);
        return;
    }
    free(d);
    store_cmd_t c; /* answered by store_eval without a round trip, never from inside this call */
    cmd_init(&c, st);
    cmd_fail(&c, refused);
    store_eval(&c, SCRIPT_LIBRARY_DELETE, reply_deleted, (store_fn_t)cb, arg);
}
