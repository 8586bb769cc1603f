/* store/sessions.c: update session records: create (token, item, lock, record, deadline index
 * and owner list in one script), get, and the caller's list. The record layout is in
 * store/keys.c. */
#include "store/logincache.h"
#include "store/redis.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/privilege.h"
#include "core/spec.h"
#include "core/validate.h"

static const store_field_t session_fields[] = {
    FIELD("id", FT_STR, update_session_t, id),
    FIELD("item", FT_STR, update_session_t, library_item_id),
    FIELD("cv", FT_STR, update_session_t, library_item_content_version),
    FIELD("state", FT_STATE, update_session_t, state),
    FIELD("progress", FT_INT, update_session_t, client_progress),
    FIELD("deadline", FT_I64, update_session_t, expiration_ms),
};

/* The stored form is warning_behavior_to_json's: [{"type": NAME, "ignored": BOOL}, ...]. */
static int warning_behavior_from_json(struct json_object *a, warning_behavior_t *w) {
    memset(w, 0, sizeof(*w));
    if (!a || !json_object_is_type(a, json_type_array) ||
        json_object_array_length(a) > WARNING_TYPE_COUNT)
        return C_ERR;
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        struct json_object *e = json_object_array_get_idx(a, i), *type, *ignored;
        if (!json_object_object_get_ex(e, "type", &type) ||
            !json_object_object_get_ex(e, "ignored", &ignored) ||
            warning_type_parse(json_object_get_string(type), &w->items[w->count].type) != C_OK)
            return C_ERR;
        w->items[w->count++].ignored = json_object_get_boolean(ignored);
    }
    return C_OK;
}

/* Record fields that are JSON text: wb (warning behavior) and err (error_message). created
 * and owner are the store's own bookkeeping and not part of the model. */
static int session_extra(void *obj, const char *name, const char *value, size_t len) {
    update_session_t *s = obj;
    bool wb = strcmp(name, "wb") == 0;
    if (!wb && strcmp(name, "err") != 0) return C_OK;
    struct json_object *o = json_parse_stored(value, len);
    int rc = wb ? warning_behavior_from_json(o, &s->warning_behavior)
                : message_from_json(o, &s->error_message);
    json_object_put(o);
    if (wb)
        s->has_warning_behavior = rc == C_OK;
    else
        s->has_error_message = rc == C_OK;
    return rc;
}

/* The field/value pairs of r from element `first` on into us (the record does not store its
 * id). */
static store_status_t session_decode(const struct redisReply *r, size_t first,
                                     update_session_t *us) {
    memset(us, 0, sizeof(*us));
    if (fields_decode(session_fields, ARRAY_LEN(session_fields), us, r, first, session_extra) !=
        C_OK) {
        store_log("session record: malformed");
        return ST_INTERNAL;
    }
    return ST_OK;
}

/* A get answered without a record (a local failure). */
static void reply_session_plain(store_status_t s, const struct redisReply *r, store_fn_t cb,
                                void *arg) {
    (void)r;
    ((store_session_cb)cb)(arg, s == ST_OK ? ST_INTERNAL : s, NULL, 0);
}

/* A client_token is a UUID, and UUIDs are case-insensitive (RFC 4122 3): "ABC..." and "abc..."
 * are one token, so the key is made from the lower-case form. The wire value is left as given.
 * A token longer than the buffer is not a UUID (the caller validated it): refused. */
static void cmd_key_client_token(store_cmd_t *c, const char *token) {
    char lower[64];
    size_t n = strlen(token);
    if (n >= sizeof(lower)) {
        store_log("client token of %zu bytes is not a UUID", n);
        cmd_fail(c, ST_INTERNAL);
        n = 0;
    }
    for (size_t i = 0; i < n; i++) lower[i] = (char)tolower((unsigned char)token[i]);
    lower[n] = '\0';
    cmd_key(c, "ctok:", lower, (const char *)NULL);
}

/* {'OK', sid} for a new session; {'OK', sid, 'REPLAY'} for a client_token seen before. */
static void reply_created(store_status_t s, const struct redisReply *r, store_fn_t cb,
                          void *arg) {
    if (s == ST_OK && !reply_str(r, 2)) store_count_transition(SESSION_ACTIVE, 1);
    reply_done(s, r, cb, arg);
}

void store_session_create(store_t *st, const store_auth_t *auth, const char *new_id,
                          const session_spec_t *spec, const char *client_token,
                          store_done_cb cb, void *arg) {
    const store_config_t *cfg = store_cfg(st);
    const char *item = spec->library_item_id;
    char id_item[ID_MAX];
    store_cmd_t c;
    cmd_init_auth(&c, st, auth);
    cmd_key_item(&c, item, "item");
    cmd_key_item(&c, item, "lock");
    cmd_key_session(&c, new_id, id_item);
    if (c.local == ST_OK && strcmp(id_item, item) != 0) {
        store_log("session id %s is not of item %s", new_id, item);
        cmd_fail(&c, ST_INTERNAL);
    }
    cmd_key(&c, "deadlines", (const char *)NULL);
    if (client_token) cmd_key_client_token(&c, client_token);
    cmd_arg(&c, new_id);
    cmd_arg_i64(&c, cfg->session_timeout_ms);
    cmd_arg_i64(&c, lock_backstop_ms(cfg));
    cmd_arg_i64(&c, cfg->token_retention_ms);
    struct json_object *wb =
        spec->has_warning_behavior ? warning_behavior_to_json(&spec->warning_behavior) : NULL;
    cmd_arg(&c, wb ? json_text(wb) : "");
    cmd_arg_prefix(&c);
    cmd_arg(&c, item);
    cmd_arg(&c, expiry_next_state());
    cmd_arg(&c, expiry_message_json());
    cmd_arg_i64(&c, cfg->retention_ms);
    store_eval(&c, SCRIPT_SESSION_CREATE, reply_created, (store_fn_t)cb, arg);
    json_object_put(wb);
}

/* A get: the caller is authorized from the login cache (store_auth_resolve), then the record is
 * read with a plain HGETALL (Redis's time comes from store_redis_now), or, before the link's
 * clock is known, by session_read.lua (HGETALL and TIME). The owner rule is applied here: to
 * anyone but its owner or an operator the session does not exist. */
typedef struct {
    store_t *st;
    store_session_cb cb;
    void *arg;
    bool operator;
    bool plain;       /* read with HGETALL (else session_read.lua) */
    int64_t sent_now; /* Redis's time when the HGETALL was sent */
    char user[USER_MAX];
    char id[SESSION_ID_MAX];
} session_read_t;

/* HGETALL's field/value array (no status; empty: no such record), or session_read.lua's
 * {'OK', now, field, value, ...}. */
static void reply_session_read(store_status_t s, const struct redisReply *r, store_fn_t cb,
                               void *arg) {
    (void)cb;
    session_read_t *rd = arg;
    update_session_t us;
    int64_t now = 0;
    size_t first = 2;
    if (s == ST_OK && rd->plain) { /* no status in front */
        first = 0;
        if (reply_len(r) == 0)
            s = ST_NOT_FOUND;
        else if (!store_redis_now(rd->st, &now))
            now = rd->sent_now; /* the link's clock was lost meanwhile: its last reading */
    } else if (s == ST_OK && reply_i64(r, 1, &now) != C_OK) {
        s = ST_INTERNAL;
    }
    if (s == ST_OK) {
        const char *owner = reply_field(r, first, "owner");
        if (!rd->operator && (!owner || strcmp(owner, rd->user) != 0))
            s = ST_NOT_FOUND;
        else if ((s = session_decode(r, first, &us)) == ST_OK)
            copy_str(us.id, sizeof(us.id), rd->id);
    }
    rd->cb(rd->arg, s, s == ST_OK ? &us : NULL, now);
    free(rd);
}

static void session_read_authed(void *ctx, store_status_t s, const login_seen_t *who) {
    session_read_t *rd = ctx;
    char item[ID_MAX];
    store_cmd_t c;
    cmd_init(&c, rd->st);
    if (s != ST_OK) {
        cmd_fail(&c, s);
    } else {
        rd->operator = privileges_operator(who->privs);
        copy_str(rd->user, sizeof(rd->user), who->user);
    }
    cmd_key_session(&c, rd->id, item);
    rd->plain = store_redis_now(rd->st, &rd->sent_now);
    store_eval(&c, rd->plain ? CMD_HGETALL : SCRIPT_SESSION_READ, reply_session_read, NULL, rd);
}

void store_session_get(store_t *st, const store_auth_t *auth, const char *id,
                       store_session_cb cb, void *arg) {
    session_read_t *rd = calloc(1, sizeof(*rd));
    if (!rd || copy_str(rd->id, sizeof(rd->id), id) != C_OK) {
        /* answered from the loop, like every call: a local failure through store_eval */
        store_cmd_t c;
        cmd_init(&c, st);
        cmd_fail(&c, rd ? ST_NOT_FOUND : ST_INTERNAL);
        free(rd);
        store_eval(&c, SCRIPT_SESSION_READ, reply_session_plain, (store_fn_t)cb, arg);
        return;
    }
    rd->st = st;
    rd->cb = cb;
    rd->arg = arg;
    store_auth_resolve(st, auth, session_read_authed, rd);
}

void store_session_list(store_t *st, const store_auth_t *auth, const char *item_id_or_null,
                        store_ids_cb cb, void *arg) {
    store_cmd_t c;
    cmd_init_auth(&c, st, auth);
    if (item_id_or_null) cmd_key_item(&c, item_id_or_null, "item");
    cmd_arg_prefix(&c);
    if (item_id_or_null) cmd_arg(&c, item_id_or_null);
    store_eval(&c, SCRIPT_SESSION_LIST, reply_ids, (store_fn_t)cb, arg);
}

/* {'OK', count} */
static void reply_count(store_status_t s, const struct redisReply *r, store_fn_t cb, void *arg) {
    int64_t n = 0;
    if (s == ST_OK && reply_i64(r, 1, &n) != C_OK) {
        store_log("sessions_active: malformed answer");
        s = ST_INTERNAL;
    }
    ((store_count_cb)cb)(arg, s, n);
}

void store_sessions_active(store_t *st, store_count_cb cb, void *arg) {
    store_cmd_t c;
    cmd_init(&c, st);
    cmd_key(&c, "deadlines", (const char *)NULL);
    store_eval(&c, SCRIPT_SESSIONS_ACTIVE, reply_count, (store_fn_t)cb, arg);
}
