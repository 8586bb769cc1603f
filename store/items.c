/* store/items.c: library item records, each library's item set and name index: create, get,
 * list, find (name, library, type, cached) and delete. */
#include "store/redis.h"

#include <string.h>

static const store_field_t item_fields[] = {
    FIELD("id", FT_STR, item_t, id),
    FIELD("library_id", FT_STR, item_t, library_id),
    /* copied from the library by item_create.lua, so session create checks one key */
    {"library_type", FT_LIBTYPE, offsetof(item_t, library_type), sizeof(library_type_t), true},
    FIELD("name", FT_STR, item_t, name),
    FIELD("description", FT_STR, item_t, description),
    FIELD("type", FT_STR, item_t, type),
    FIELD("content_version", FT_STR, item_t, content_version),
    FIELD("metadata_version", FT_STR, item_t, metadata_version),
    FIELD("version", FT_STR, item_t, version),
    FIELD("creation", FT_I64, item_t, creation_ms),
    FIELD("modified", FT_I64, item_t, last_modified_ms),
    FIELD("size", FT_I64, item_t, size),
    FIELD("cached", FT_BOOL, item_t, cached),
};

/* {'OK', now, field, value, ...} */
static void reply_item(store_status_t s, const struct redisReply *r, store_fn_t cb, void *arg) {
    item_t it;
    memset(&it, 0, sizeof(it));
    if (s == ST_OK &&
        fields_decode(item_fields, ARRAY_LEN(item_fields), &it, r, 2, NULL) != C_OK) {
        store_log("item record: malformed");
        s = ST_INTERNAL;
    }
    ((store_item_cb)cb)(arg, s, s == ST_OK ? &it : NULL);
}

void store_item_create(store_t *st, const store_auth_t *auth, const item_t *it,
                       bool allow_subscribed, store_done_cb cb, void *arg) {
    store_cmd_t c;
    cmd_init_auth(&c, st, auth);
    cmd_key_lib(&c, it->library_id, "");
    cmd_key_item(&c, it->id, "item");
    cmd_key_lib(&c, it->library_id, ":items");
    cmd_key_lib(&c, it->library_id, ":names");
    cmd_arg(&c, it->id);
    cmd_arg(&c, it->name);
    cmd_arg(&c, allow_subscribed ? "1" : "0");
    cmd_arg_i64(&c, it->creation_ms);
    cmd_arg_prefix(&c);
    fields_encode(&c, item_fields, ARRAY_LEN(item_fields), it);
    store_eval(&c, SCRIPT_ITEM_CREATE, reply_done, (store_fn_t)cb, arg);
}

void store_item_get(store_t *st, const store_auth_t *auth, const char *id, store_item_cb cb,
                    void *arg) {
    store_cmd_t c;
    cmd_init_auth(&c, st, auth);
    cmd_key_item(&c, id, "item");
    store_eval(&c, SCRIPT_HASH_GET, reply_item, (store_fn_t)cb, arg);
}

void store_item_list(store_t *st, const store_auth_t *auth, const char *library_id,
                     store_ids_cb cb, void *arg) {
    store_cmd_t c;
    cmd_init_auth(&c, st, auth);
    cmd_key_lib(&c, library_id, "");
    cmd_key_lib(&c, library_id, ":items");
    store_eval(&c, SCRIPT_LIST, reply_ids, (store_fn_t)cb, arg);
}

void store_item_find(store_t *st, const store_auth_t *auth, const item_find_t *spec,
                     store_ids_cb cb, void *arg) {
    store_cmd_t c;
    cmd_init_auth(&c, st, auth);
    cmd_key(&c, "libs", (const char *)NULL);
    cmd_arg(&c, spec->name);
    cmd_arg(&c, spec->library_id);
    cmd_arg(&c, spec->type);
    cmd_arg(&c, !spec->has_cached ? "" : spec->cached ? "1" : "0");
    cmd_arg_prefix(&c);
    store_eval(&c, SCRIPT_ITEM_FIND, reply_ids, (store_fn_t)cb, arg);
}

void store_item_delete(store_t *st, const store_auth_t *auth, const char *id, store_done_cb cb,
                       void *arg) {
    store_cmd_t c;
    cmd_init_auth(&c, st, auth);
    cmd_key_item(&c, id, "item");
    cmd_key_item(&c, id, "lock");
    cmd_arg(&c, id);
    cmd_arg_prefix(&c);
    cmd_arg_item_gone(&c);
    store_eval(&c, SCRIPT_ITEM_DELETE, reply_deleted, (store_fn_t)cb, arg);
}
