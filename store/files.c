/* store/files.c: the files of an update session and of a library item, and the data plane's
 * transfer bookkeeping (store.h, "Files of an update session"). The scripts are
 * store/lua/file_*.lua, upload_begin.lua, transfer_*.lua and session_complete.lua; the shared
 * parts (file_ctx, file_session_check, session_touch, session_publish) are in session_lib.lua.
 *
 * Records are JSON text, encoded and decoded here with json-c; the scripts decode them with
 * cjson only to read or set the few fields they decide on (status, blob, bytes_transferred,
 * removed, ...), and session_publish builds the item's file records.
 *   session file  {name, source_type, size?, expected?, received?, source_uri?,
 *                  source_thumbprint?, upload_token?, blob?, bytes_transferred, status,
 *                  error_message?, removed}           (? = absent when unset or empty)
 *   checksum      {algorithm, checksum}
 *   item file     {name, size, checksum?, version, blob}
 * cjson turns an empty JSON array into {} when a script re-encodes a record, so an empty
 * error_message.args object reads as no args. Numbers pass through cjson as doubles printed
 * with 14 significant digits: sizes are exact below 10^14 bytes.
 *
 * Answers with ids (store_transfer_end, store_session_complete) carry the script's data for
 * every status: ST_OK the blobs to unlink, ST_FILES_NOT_READY the file's name, ST_STATE_CHANGED
 * the state (or, for a transfer, the file's status when it is not the transfer's any more). */
#include "store/redis.h"

#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <json-c/json.h>

#include "core/spec.h"

/* ---- JSON records -------------------------------------------------------------------------- */

static void put_str(struct json_object *o, const char *key, const char *v) {
    if (v[0]) json_object_object_add(o, key, json_object_new_string(v));
}

static struct json_object *checksum_to_json(const checksum_info_t *c) {
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "algorithm", json_object_new_string(checksum_alg_name(c->algorithm)));
    json_object_object_add(o, "checksum", json_object_new_string(c->checksum));
    return o;
}

static struct json_object *file_to_json(const session_file_t *f) {
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(f->name));
    json_object_object_add(o, "source_type",
                           json_object_new_string(source_type_name(f->source_type)));
    if (f->has_size) json_object_object_add(o, "size", json_object_new_int64(f->size));
    if (f->expected.present) json_object_object_add(o, "expected", checksum_to_json(&f->expected));
    if (f->received.present) json_object_object_add(o, "received", checksum_to_json(&f->received));
    put_str(o, "source_uri", f->source_uri);
    put_str(o, "source_thumbprint", f->source_thumbprint);
    put_str(o, "upload_token", f->upload_token);
    put_str(o, "blob", f->blob);
    json_object_object_add(o, "bytes_transferred", json_object_new_int64(f->bytes_transferred));
    json_object_object_add(o, "status", json_object_new_string(transfer_status_name(f->status)));
    if (f->has_error_message)
        json_object_object_add(o, "error_message", message_to_json(&f->error_message));
    json_object_object_add(o, "removed", json_object_new_boolean(f->removed));
    return o;
}

/* What transfer_end.lua merges into the record. */
static struct json_object *outcome_to_json(const session_file_t *f) {
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string(transfer_status_name(f->status)));
    json_object_object_add(o, "bytes_transferred", json_object_new_int64(f->bytes_transferred));
    if (f->has_size) json_object_object_add(o, "size", json_object_new_int64(f->size));
    if (f->received.present) json_object_object_add(o, "received", checksum_to_json(&f->received));
    if (f->has_error_message)
        json_object_object_add(o, "error_message", message_to_json(&f->error_message));
    return o;
}

/* Optional string member: absent is "". */
static int get_str(struct json_object *o, const char *key, char *dst, size_t size) {
    struct json_object *v;
    dst[0] = '\0';
    if (!json_object_object_get_ex(o, key, &v) || !v) return C_OK;
    if (!json_object_is_type(v, json_type_string)) return C_ERR;
    return copy_str(dst, size, json_object_get_string(v));
}

/* Optional number member (cjson may write a large one as a double). */
static int get_i64(struct json_object *o, const char *key, int64_t *out, bool *has) {
    struct json_object *v;
    *out = 0;
    if (has) *has = false;
    if (!json_object_object_get_ex(o, key, &v) || !v) return C_OK;
    if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
        return C_ERR;
    *out = json_object_get_int64(v);
    if (has) *has = true;
    return C_OK;
}

static int checksum_from_json(struct json_object *o, const char *key, checksum_info_t *c) {
    struct json_object *v, *alg;
    memset(c, 0, sizeof(*c));
    if (!json_object_object_get_ex(o, key, &v) || !v) return C_OK;
    if (!json_object_is_type(v, json_type_object) || !json_object_object_get_ex(v, "algorithm", &alg) ||
        checksum_alg_parse(json_object_get_string(alg), &c->algorithm) != C_OK ||
        get_str(v, "checksum", c->checksum, sizeof(c->checksum)) != C_OK)
        return C_ERR;
    c->present = true;
    return C_OK;
}

static int message_member(struct json_object *o, session_file_t *f) {
    struct json_object *m, *args;
    if (!json_object_object_get_ex(o, "error_message", &m) || !m) return C_OK;
    if (json_object_is_type(m, json_type_object) && json_object_object_get_ex(m, "args", &args) &&
        json_object_is_type(args, json_type_object) && json_object_object_length(args) == 0)
        json_object_object_del(m, "args"); /* [] after a cjson round trip */
    if (message_from_json(m, &f->error_message) != C_OK) return C_ERR;
    f->has_error_message = true;
    return C_OK;
}

static int file_from_json(const char *text, size_t len, session_file_t *f) {
    memset(f, 0, sizeof(*f));
    struct json_object *o = json_parse_stored(text, len), *v;
    int rc = C_ERR;
    if (!o || !json_object_is_type(o, json_type_object)) goto out;
    if (get_str(o, "name", f->name, sizeof(f->name)) != C_OK || !f->name[0] ||
        !json_object_object_get_ex(o, "source_type", &v) ||
        source_type_parse(json_object_get_string(v), &f->source_type) != C_OK ||
        !json_object_object_get_ex(o, "status", &v) ||
        transfer_status_parse(json_object_get_string(v), &f->status) != C_OK ||
        get_i64(o, "size", &f->size, &f->has_size) != C_OK ||
        checksum_from_json(o, "expected", &f->expected) != C_OK ||
        checksum_from_json(o, "received", &f->received) != C_OK ||
        get_str(o, "source_uri", f->source_uri, sizeof(f->source_uri)) != C_OK ||
        get_str(o, "source_thumbprint", f->source_thumbprint, sizeof(f->source_thumbprint)) !=
            C_OK ||
        get_str(o, "upload_token", f->upload_token, sizeof(f->upload_token)) != C_OK ||
        get_str(o, "blob", f->blob, sizeof(f->blob)) != C_OK ||
        get_i64(o, "bytes_transferred", &f->bytes_transferred, NULL) != C_OK ||
        message_member(o, f) != C_OK)
        goto out;
    f->removed = json_object_object_get_ex(o, "removed", &v) && json_object_get_boolean(v);
    rc = C_OK;
out:
    json_object_put(o);
    return rc;
}

static int item_file_from_json(const char *text, size_t len, item_file_t *f) {
    memset(f, 0, sizeof(*f));
    struct json_object *o = json_parse_stored(text, len);
    int rc = C_ERR;
    if (o && json_object_is_type(o, json_type_object) &&
        get_str(o, "name", f->name, sizeof(f->name)) == C_OK && f->name[0] &&
        get_i64(o, "size", &f->size, NULL) == C_OK &&
        checksum_from_json(o, "checksum", &f->checksum) == C_OK &&
        get_str(o, "version", f->version, sizeof(f->version)) == C_OK &&
        get_str(o, "blob", f->blob, sizeof(f->blob)) == C_OK)
        rc = C_OK;
    json_object_put(o);
    return rc;
}

/* An item file the session did not touch, as the session shows it. */
static void item_file_as_session(const item_file_t *i, session_file_t *f) {
    memset(f, 0, sizeof(*f));
    copy_str(f->name, sizeof(f->name), i->name);
    f->source_type = SOURCE_NONE;
    f->status = TRANSFER_READY;
    f->has_size = true;
    f->size = i->size;
    f->received = i->checksum;
    f->bytes_transferred = i->size;
    copy_str(f->blob, sizeof(f->blob), i->blob);
}

/* ---- reply functions ----------------------------------------------------------------------- */

static const redisReply *element(const redisReply *r, size_t i) {
    if (!r || r->type != REDIS_REPLY_ARRAY || i >= r->elements ||
        r->element[i]->type != REDIS_REPLY_STRING)
        return NULL;
    return r->element[i];
}

/* kind "S" (session record) or "I" (item file) followed by its JSON. */
static int decode_kind(const redisReply *r, size_t i, session_file_t *f) {
    const redisReply *k = element(r, i), *v = element(r, i + 1);
    if (!k || !v) return C_ERR;
    if (strcmp(k->str, "S") == 0) return file_from_json(v->str, v->len, f);
    item_file_t it;
    if (strcmp(k->str, "I") != 0 || item_file_from_json(v->str, v->len, &it) != C_OK) return C_ERR;
    item_file_as_session(&it, f);
    return C_OK;
}

/* {'OK', kind, record} */
static void reply_file(store_status_t s, const redisReply *r, store_fn_t cb, void *arg) {
    session_file_t *f = NULL;
    if (s == ST_OK && (!(f = malloc(sizeof(*f))) || decode_kind(r, 1, f) != C_OK)) {
        store_log("file record: malformed");
        s = ST_INTERNAL;
    }
    ((store_file_cb)cb)(arg, s, s == ST_OK ? f : NULL);
    free(f);
}

/* {'OK', session id, record} */
static void reply_upload(store_status_t s, const redisReply *r, store_fn_t cb, void *arg) {
    session_file_t *f = NULL;
    const redisReply *sid = element(r, 1), *rec = element(r, 2);
    if (s == ST_OK && (!sid || !rec || !(f = malloc(sizeof(*f))) ||
                       file_from_json(rec->str, rec->len, f) != C_OK)) {
        store_log("upload: malformed answer");
        s = ST_INTERNAL;
    }
    ((store_upload_cb)cb)(arg, s, s == ST_OK ? sid->str : NULL, s == ST_OK ? f : NULL);
    free(f);
}

static int cmp_file(const void *a, const void *b) {
    return strcmp(((const session_file_t *)a)->name, ((const session_file_t *)b)->name);
}

static int cmp_item_file(const void *a, const void *b) {
    return strcmp(((const item_file_t *)a)->name, ((const item_file_t *)b)->name);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* {'OK', n, name, session record, ... (n pairs), name, item file, ...}: the item's files
 * overlaid by the session's (a session record, removed or not, hides the item's file of its
 * name), without removed ones, sorted by name. */
static void reply_files(store_status_t s, const redisReply *r, store_fn_t cb, void *arg) {
    store_files_cb done = (store_files_cb)cb;
    int64_t ns = 0;
    if (s != ST_OK) {
        done(arg, s, NULL, 0);
        return;
    }
    size_t pairs = r->elements >= 2 ? (r->elements - 2) / 2 : 0;
    if (r->elements < 2 || r->elements % 2 != 0 || reply_i64(r, 1, &ns) != C_OK || ns < 0 ||
        (size_t)ns > pairs) {
        store_log("file list: malformed answer");
        done(arg, ST_INTERNAL, NULL, 0);
        return;
    }
    session_file_t *files = calloc(pairs ? pairs : 1, sizeof(*files));
    const char **names = calloc(ns ? (size_t)ns : 1, sizeof(*names));
    size_t n = 0;
    if (!files || !names) s = ST_INTERNAL;
    for (size_t i = 0; s == ST_OK && i < (size_t)ns; i++) {
        const redisReply *k = element(r, 2 + 2 * i), *v = element(r, 3 + 2 * i);
        if (!k || !v || file_from_json(v->str, v->len, &files[n]) != C_OK) {
            s = ST_INTERNAL;
            break;
        }
        names[i] = k->str;
        if (!files[n].removed) n++;
    }
    if (s == ST_OK) qsort(names, (size_t)ns, sizeof(*names), cmp_str);
    for (size_t i = (size_t)ns; s == ST_OK && i < pairs; i++) {
        const redisReply *k = element(r, 2 + 2 * i), *v = element(r, 3 + 2 * i);
        item_file_t it;
        if (!k || !v) {
            s = ST_INTERNAL;
            break;
        }
        const char *key = k->str;
        if (ns > 0 && bsearch(&key, names, (size_t)ns, sizeof(*names), cmp_str)) continue;
        if (item_file_from_json(v->str, v->len, &it) != C_OK) {
            s = ST_INTERNAL;
            break;
        }
        item_file_as_session(&it, &files[n++]);
    }
    if (s != ST_OK) store_log("file list: malformed record");
    if (s == ST_OK) qsort(files, n, sizeof(*files), cmp_file);
    done(arg, s, s == ST_OK ? files : NULL, s == ST_OK ? n : 0);
    free(files);
    free(names);
}

/* {'OK', item file, ...} sorted by name. */
static void reply_item_files(store_status_t s, const redisReply *r, store_fn_t cb, void *arg) {
    store_item_files_cb done = (store_item_files_cb)cb;
    if (s != ST_OK) {
        done(arg, s, NULL, 0);
        return;
    }
    size_t n = r->elements - 1;
    item_file_t *files = calloc(n ? n : 1, sizeof(*files));
    if (!files) s = ST_INTERNAL;
    for (size_t i = 0; s == ST_OK && i < n; i++) {
        const redisReply *v = element(r, i + 1);
        if (!v || item_file_from_json(v->str, v->len, &files[i]) != C_OK) {
            store_log("item files: malformed record");
            s = ST_INTERNAL;
        }
    }
    if (s == ST_OK) qsort(files, n, sizeof(*files), cmp_item_file);
    done(arg, s, s == ST_OK ? files : NULL, s == ST_OK ? n : 0);
    free(files);
}

/* {STATUS, string, ...}: the strings as ids, for every status (see the top of this file). */
static void reply_strings(store_status_t s, const redisReply *r, store_fn_t cb, void *arg) {
    store_ids_cb done = (store_ids_cb)cb;
    size_t n = r && r->type == REDIS_REPLY_ARRAY && r->elements > 1 ? r->elements - 1 : 0;
    char *small[16], **ids = n <= ARRAY_LEN(small) ? small : malloc(n * sizeof(char *));
    if (!ids) {
        done(arg, ST_INTERNAL, NULL, 0);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const redisReply *e = element(r, i + 1);
        if (!e) {
            store_log("blob list: element %zu is not a string", i + 1);
            s = ST_INTERNAL;
            n = 0;
            break;
        }
        ids[i] = e->str;
    }
    done(arg, s, n ? ids : NULL, n);
    if (ids != small) free(ids);
}

/* ---- building calls ------------------------------------------------------------------------ */

/* ARGV session timeout ms, lock backstop ms, retention ms, the state an expiry leads to, the
 * expiry message JSON: what file_ctx (and upload_begin.lua) need to keep a session alive or
 * end it. */
static void cmd_arg_session_ctx(store_cmd_t *c) {
    const store_config_t *cfg = store_cfg(c->st);
    cmd_arg_i64(c, cfg->session_timeout_ms);
    cmd_arg_i64(c, lock_backstop_ms(cfg));
    cmd_arg_i64(c, cfg->retention_ms);
    cmd_arg(c, expiry_next_state());
    cmd_arg(c, expiry_message_json());
}

/* The keys and arguments of session_lib.lua's file_ctx: KEYS record, item lock, item, deadline
 * index, session files, item files; ARGV session id, session timeout ms, lock backstop ms,
 * retention ms, the state an expiry leads to, the expiry message JSON. */
static void cmd_file_ctx(store_cmd_t *c, const char *sid) {
    char item[ID_MAX];
    cmd_key_session(c, sid, item);
    const char *uuid = item[0] ? sid + strlen(item) + 1 : "";
    cmd_key_item(c, item, "lock");
    cmd_key_item(c, item, "item");
    cmd_key(c, "deadlines", (const char *)NULL);
    cmd_key(c, "{", item, "}:s:", uuid, ":files", (const char *)NULL);
    cmd_key_item(c, item, "files");
    cmd_arg(c, sid);
    cmd_arg_session_ctx(c);
}

/* The state an ACTIVE session goes to on ev, as core/fsm says. */
static const char *active_next(session_event_t ev) {
    session_state_t next = SESSION_ERROR;
    return fsm_apply(SESSION_ACTIVE, ev, &next) == C_OK ? session_state_name(next) : "";
}

/* A file script called for an authenticated caller with file_ctx and one more argument
 * (ARGV[9]). */
static void file_call(store_t *st, const store_auth_t *auth, const char *session_id,
                      const char *arg9, script_id_t script, store_reply_fn fn, store_fn_t cb,
                      void *arg) {
    store_cmd_t c;
    cmd_init_auth(&c, st, auth);
    cmd_file_ctx(&c, session_id);
    cmd_arg(&c, arg9);
    store_eval(&c, script, fn, cb, arg);
}

/* ---- operations ---------------------------------------------------------------------------- */

void store_file_add(store_t *st, const store_auth_t *auth, const char *session_id,
                    const session_file_t *f, store_file_cb cb, void *arg) {
    const store_config_t *cfg = store_cfg(st);
    store_cmd_t c;
    cmd_init_auth(&c, st, auth);
    cmd_file_ctx(&c, session_id);
    if (f->upload_token[0]) cmd_key_hashed(&c, "upload:", f->upload_token);
    struct json_object *rec = file_to_json(f);
    cmd_arg(&c, f->name);
    cmd_arg(&c, json_text(rec));
    cmd_arg_i64(&c, cfg->session_timeout_ms * 2 + cfg->retention_ms);
    store_eval(&c, SCRIPT_FILE_ADD, reply_file, (store_fn_t)cb, arg); /* copies args */
    json_object_put(rec);
}

void store_file_get(store_t *st, const store_auth_t *auth, const char *session_id,
                    const char *name, store_file_cb cb, void *arg) {
    file_call(st, auth, session_id, name, SCRIPT_FILE_GET, reply_file, (store_fn_t)cb, arg);
}

void store_file_list(store_t *st, const store_auth_t *auth, const char *session_id,
                     bool require_active, store_files_cb cb, void *arg) {
    file_call(st, auth, session_id, require_active ? "1" : "0", SCRIPT_FILE_LIST, reply_files,
              (store_fn_t)cb, arg);
}

void store_file_remove(store_t *st, const store_auth_t *auth, const char *session_id,
                       const char *name, store_done_cb cb, void *arg) {
    file_call(st, auth, session_id, name, SCRIPT_FILE_REMOVE, reply_done, (store_fn_t)cb, arg);
}

void store_item_files(store_t *st, const store_auth_t *auth, const char *item_id,
                      store_item_files_cb cb, void *arg) {
    store_cmd_t c;
    cmd_init_auth(&c, st, auth);
    cmd_key_item(&c, item_id, "item");
    cmd_key_item(&c, item_id, "files");
    store_eval(&c, SCRIPT_FILE_ITEM_LIST, reply_item_files, (store_fn_t)cb, arg);
}

void store_upload_begin(store_t *st, const char *upload_token, const char *blob,
                        store_upload_cb cb, void *arg) {
    store_cmd_t c;
    cmd_init(&c, st);
    if (!upload_token || !upload_token[0]) {
        cmd_fail(&c, ST_NOT_FOUND);
        upload_token = "";
    }
    cmd_key_hashed(&c, "upload:", upload_token);
    cmd_arg_prefix(&c);
    cmd_arg_session_ctx(&c);
    cmd_arg(&c, upload_token);
    cmd_arg(&c, blob);
    store_eval(&c, SCRIPT_UPLOAD_BEGIN, reply_upload, (store_fn_t)cb, arg);
}

void store_transfer_progress(store_t *st, const char *session_id, const char *name,
                             const char *blob, int64_t bytes, store_done_cb cb, void *arg) {
    store_cmd_t c;
    cmd_init(&c, st);
    cmd_file_ctx(&c, session_id);
    cmd_arg(&c, name);
    cmd_arg(&c, blob);
    cmd_arg_i64(&c, bytes);
    store_eval(&c, SCRIPT_TRANSFER_PROGRESS, reply_done, (store_fn_t)cb, arg);
}

void store_transfer_end(store_t *st, const char *session_id, const char *name,
                        const char *blob, const session_file_t *result, store_ids_cb cb,
                        void *arg) {
    store_cmd_t c;
    cmd_init(&c, st);
    cmd_file_ctx(&c, session_id);
    struct json_object *outcome = outcome_to_json(result), *err = NULL;
    if (result->status != TRANSFER_READY) {
        /* What the session records if this failure ends it (its complete was requested). */
        vapi_message_t m;
        vapi_message_set(&m, "update_session_file_transfer_failed",
                         "The transfer of file {0} failed: {1}", name,
                         result->has_error_message ? result->error_message.default_message
                                                   : "unknown error",
                         (const char *)NULL);
        err = message_to_json(&m);
    }
    cmd_arg(&c, name);
    cmd_arg(&c, blob);
    cmd_arg(&c, json_text(outcome));
    cmd_arg(&c, active_next(EV_COMPLETE));
    cmd_arg(&c, active_next(EV_FAIL));
    cmd_arg(&c, err ? json_text(err) : "");
    store_eval(&c, SCRIPT_TRANSFER_END, reply_strings, (store_fn_t)cb, arg); /* copies args */
    json_object_put(outcome);
    json_object_put(err);
}

void store_session_complete(store_t *st, const store_auth_t *auth, const char *id,
                            store_ids_cb cb, void *arg) {
    session_change_t ch;
    char transitions[160];
    session_change_init(&ch, EV_COMPLETE);
    session_change_encode(&ch, transitions, sizeof(transitions));
    file_call(st, auth, id, transitions, SCRIPT_SESSION_COMPLETE, reply_strings, (store_fn_t)cb,
              arg);
}
