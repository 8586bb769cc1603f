/* store/files.c: the files of an update session and of a library item, and the data plane's
 * transfer bookkeeping (store.h, "Files of an update session"). The scripts are
 * store/lua/file_*.lua, upload_begin.lua, transfer_*.lua and session_complete.lua; the shared
 * parts (file_ctx, file_session_check, session_touch, session_publish) are in session_lib.lua.
 *
 * Records are JSON text, encoded and decoded here with json-c; the scripts decode them with
 * cjson only to read or set the few fields they decide on (status, blob, bytes_transferred,
 * removed, ...), and session_publish builds the item's file records.
 *   session file  {name, source_type, size?, expected?, received?, source_uri?,
 *                  source_thumbprint?, upload_nonce?, upload_key?, blob?, bytes_transferred,
 *                  staged?, status, error_message?, removed, attempt?, holder?, lease?}
 *                  (? = absent when unset or empty; upload_key = hex SHA-256 of the upload token,
 *                  which is never stored: net/ derives it from upload_nonce and a secret kept
 *                  outside Redis; scripts delete the token's index entry by upload_key; attempt/holder/lease = the
 *                  mover, core/transfer.h; reads add lapsed = true to a lapsed transfer)
 *   checksum      {algorithm, checksum}
 *   item file     {name, size, checksum?, version, blob}
 * Sizes, byte counts and times are decimal strings: cjson prints numbers as doubles with 14
 * significant digits, which would round sizes above 10^14 bytes. Numbers are still read (older
 * records). cjson turns an empty JSON array into {} when a script re-encodes a record, so an
 * empty error_message.args object reads as no args.
 *
 * The machines of core/transfer.c travel to the scripts as their encoded answers; the scripts
 * compare and set. */
#include "store/redis.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <openssl/sha.h>
#include <json-c/json.h>

#include "core/spec.h"
#include "core/transfer.h"

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

/* A number as a decimal string (see the top of this file). */
static void put_i64(struct json_object *o, const char *key, int64_t v) {
    char text[24];
    snprintf(text, sizeof(text), "%lld", (long long)v);
    json_object_object_add(o, key, json_object_new_string(text));
}

static struct json_object *file_to_json(const session_file_t *f) {
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(f->name));
    json_object_object_add(o, "source_type",
                           json_object_new_string(source_type_name(f->source_type)));
    if (f->has_size) put_i64(o, "size", f->size);
    if (f->expected.present) json_object_object_add(o, "expected", checksum_to_json(&f->expected));
    if (f->received.present) json_object_object_add(o, "received", checksum_to_json(&f->received));
    put_str(o, "source_uri", f->source_uri);
    put_str(o, "source_thumbprint", f->source_thumbprint);
    put_str(o, "upload_nonce", f->upload_nonce);
    if (f->upload_token[0]) { /* the token itself is never stored, only its hash */
        char key[2 * SHA256_DIGEST_LENGTH + 1];
        secret_key_hex(f->upload_token, key);
        json_object_object_add(o, "upload_key", json_object_new_string(key));
    }
    put_str(o, "blob", f->blob);
    put_i64(o, "bytes_transferred", f->bytes_transferred);
    if (f->staged) put_i64(o, "staged", f->staged);
    json_object_object_add(o, "status", json_object_new_string(transfer_status_name(f->status)));
    if (f->has_error_message)
        json_object_object_add(o, "error_message", message_to_json(&f->error_message));
    json_object_object_add(o, "removed", json_object_new_boolean(f->removed));
    put_str(o, "attempt", f->attempt);
    put_str(o, "holder", f->holder);
    return o;
}

/* What transfer_end.lua merges into the record. */
static struct json_object *outcome_to_json(const session_file_t *f) {
    struct json_object *o = json_object_new_object();
    put_i64(o, "bytes_transferred", f->bytes_transferred);
    if (f->has_size) put_i64(o, "size", f->size);
    put_i64(o, "staged", f->staged);
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

/* Optional number member: a decimal string (what we write), or a number (older records; cjson
 * may write a large one as a double). */
static int get_i64(struct json_object *o, const char *key, int64_t *out, bool *has) {
    struct json_object *v;
    *out = 0;
    if (has) *has = false;
    if (!json_object_object_get_ex(o, key, &v) || !v) return C_OK;
    if (json_object_is_type(v, json_type_string)) {
        const char *text = json_object_get_string(v);
        char *end;
        errno = 0;
        long long n = strtoll(text, &end, 10);
        if (errno || end == text || *end) return C_ERR;
        *out = n;
    } else if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)) {
        *out = json_object_get_int64(v);
    } else {
        return C_ERR;
    }
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
        get_str(o, "upload_nonce", f->upload_nonce, sizeof(f->upload_nonce)) != C_OK ||
        get_str(o, "blob", f->blob, sizeof(f->blob)) != C_OK ||
        get_i64(o, "bytes_transferred", &f->bytes_transferred, NULL) != C_OK ||
        get_i64(o, "staged", &f->staged, NULL) != C_OK ||
        get_i64(o, "lease", &f->lease_ms, NULL) != C_OK ||
        get_str(o, "attempt", f->attempt, sizeof(f->attempt)) != C_OK ||
        get_str(o, "holder", f->holder, sizeof(f->holder)) != C_OK ||
        message_member(o, f) != C_OK)
        goto out;
    f->removed = json_object_object_get_ex(o, "removed", &v) && json_object_get_boolean(v);
    f->lapsed = json_object_object_get_ex(o, "lapsed", &v) && json_object_get_boolean(v);
    /* A pull whose mover went away failed; a PUSH upload waits for the rest of its bytes (its
     * bytes_transferred shows the durable prefix a resume continues from). */
    if (f->lapsed && f->status == TRANSFER_ERROR && !f->has_error_message) {
        vapi_message_set(&f->error_message, "file_transfer_stopped",
                         "The transfer of file {0} stopped: the instance moving its bytes ({1}) "
                         "went away. Add the file again.", f->name, f->holder, NULL);
        f->has_error_message = true;
    }
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

/* {'OK', session id, record} | {'FILE_STATE', record} */
static void reply_upload(store_status_t s, const redisReply *r, store_fn_t cb, void *arg) {
    session_file_t *f = NULL;
    const redisReply *sid = s == ST_OK ? element(r, 1) : NULL;
    const redisReply *rec = element(r, s == ST_OK ? 2 : 1);
    if ((s == ST_OK || s == ST_FILE_STATE) &&
        ((s == ST_OK && !sid) || !rec || !(f = malloc(sizeof(*f))) ||
         file_from_json(rec->str, rec->len, f) != C_OK)) {
        store_log("upload: malformed answer");
        s = ST_INTERNAL;
    }
    bool with_file = s == ST_OK || s == ST_FILE_STATE;
    ((store_upload_cb)cb)(arg, s, s == ST_OK ? sid->str : NULL, with_file ? f : NULL);
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

/* ---- building calls ------------------------------------------------------------------------ */

/* ARGV session timeout ms, lock backstop ms, retention ms, the state an expiry leads to, the
 * expiry message JSON, the transfer lease ms, the lapsed states: what file_ctx (and
 * upload_begin.lua) need to keep a session alive or end it and to judge a transfer's lease. */
static void cmd_arg_session_ctx(store_cmd_t *c) {
    const store_config_t *cfg = store_cfg(c->st);
    cmd_arg_i64(c, cfg->session_timeout_ms);
    cmd_arg_i64(c, lock_backstop_ms(cfg));
    cmd_arg_i64(c, cfg->retention_ms);
    cmd_arg(c, expiry_next_state());
    cmd_arg(c, expiry_message_json());
    cmd_arg_i64(c, cfg->transfer_lease_ms);
    cmd_arg(c, lapsed_states_arg());
}

/* The keys and arguments of session_lib.lua's file_ctx: KEYS record, item lock, item, deadline
 * index, session files, item files; ARGV session id, then cmd_arg_session_ctx's. */
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

/* The transfer machine's answer for ev, as the scripts read it. */
static void cmd_arg_transfer(store_cmd_t *c, transfer_event_t ev) {
    char text[160];
    if (transfer_encode(ev, text, sizeof(text)) != C_OK) cmd_fail(c, ST_INTERNAL);
    cmd_arg_copy(c, text);
}

/* The completion machine's answer for ev. */
static void cmd_arg_completion(store_cmd_t *c, completion_event_t ev) {
    char text[96];
    if (completion_encode(ev, text, sizeof(text)) != C_OK) cmd_fail(c, ST_INTERNAL);
    cmd_arg_copy(c, text);
}

/* The session machine's answer for ev ("STATE=NEXT/T ..."). */
static void cmd_arg_session_event(store_cmd_t *c, session_event_t ev) {
    session_change_t ch;
    char text[160];
    session_change_init(&ch, ev);
    session_change_encode(&ch, text, sizeof(text));
    cmd_arg_copy(c, text);
}

/* The state an ACTIVE session goes to on ev, as core/fsm says. */
static const char *active_next(session_event_t ev) {
    session_state_t next = SESSION_ERROR;
    return fsm_apply(SESSION_ACTIVE, ev, &next) == C_OK ? session_state_name(next) : "";
}

/* Opens a call of a file script: for an authenticated caller, or for the server itself (auth
 * NULL: the prelude's KEYS[1], ARGV[1..2] become placeholders, and the script's login-less
 * variant runs), then file_ctx. */
static void cmd_file_open(store_cmd_t *c, store_t *st, const store_auth_t *auth,
                          const char *session_id) {
    if (auth) {
        cmd_init_auth(c, st, auth);
    } else {
        cmd_init(c, st);
        cmd_key(c, "deadlines", (const char *)NULL);
        cmd_arg(c, "0");
        cmd_arg(c, "0");
    }
    cmd_file_ctx(c, session_id);
}

/* A file script called for an authenticated caller with file_ctx and one more argument. */
static void file_call(store_t *st, const store_auth_t *auth, const char *session_id,
                      const char *arg, script_id_t script, store_reply_fn fn, store_fn_t cb,
                      void *cbarg) {
    store_cmd_t c;
    cmd_file_open(&c, st, auth, session_id);
    cmd_arg(&c, arg);
    store_eval(&c, script, fn, cb, cbarg);
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
    cmd_arg_transfer(&c, f->source_type == SOURCE_PULL ? TEV_ADD_PULL : TEV_ADD_PUSH);
    cmd_arg_completion(&c, CEV_FILE_CHANGE);
    cmd_arg_i64(&c, cfg->max_files_per_session);
    store_eval(&c, SCRIPT_FILE_ADD, reply_file, (store_fn_t)cb, arg); /* copies args */
    json_object_put(rec);
}

void store_file_get(store_t *st, const store_auth_t *auth, const char *session_id,
                    const char *name, store_file_cb cb, void *arg) {
    file_call(st, auth, session_id, name, SCRIPT_FILE_GET, reply_file, (store_fn_t)cb, arg);
}

void store_file_list(store_t *st, const store_auth_t *auth, const char *session_id,
                     bool require_active, store_files_cb cb, void *arg) {
    file_call(st, auth, session_id, require_active ? "1" : "0",
              auth ? SCRIPT_FILE_LIST : SCRIPT_FILE_LIST_SERVER, reply_files, (store_fn_t)cb, arg);
}

void store_file_list_own(store_t *st, const store_auth_t *auth, const char *session_id,
                         store_files_cb cb, void *arg) {
    file_call(st, auth, session_id, "S", auth ? SCRIPT_FILE_LIST : SCRIPT_FILE_LIST_SERVER,
              reply_files, (store_fn_t)cb, arg);
}

void store_file_remove(store_t *st, const store_auth_t *auth, const char *session_id,
                       const char *name, store_done_cb cb, void *arg) {
    store_cmd_t c;
    cmd_init_auth(&c, st, auth);
    cmd_file_ctx(&c, session_id);
    cmd_arg(&c, name);
    cmd_arg_transfer(&c, TEV_REMOVE);
    cmd_arg_completion(&c, CEV_FILE_CHANGE);
    store_eval(&c, SCRIPT_FILE_REMOVE, reply_done, (store_fn_t)cb, arg);
}

void store_item_files(store_t *st, const store_auth_t *auth, const char *item_id,
                      store_item_files_cb cb, void *arg) {
    store_cmd_t c;
    cmd_init_auth(&c, st, auth);
    cmd_key_item(&c, item_id, "item");
    cmd_key_item(&c, item_id, "files");
    store_eval(&c, SCRIPT_FILE_ITEM_LIST, reply_item_files, (store_fn_t)cb, arg);
}

void store_upload_begin(store_t *st, const upload_begin_t *u, store_upload_cb cb, void *arg) {
    static const char *const modes[] = {[UPLOAD_BEGIN] = "BEGIN", [UPLOAD_RESUME] = "RESUME",
                                        [UPLOAD_PROBE] = "PROBE"};
    store_cmd_t c;
    cmd_init(&c, st);
    const char *token = u->token;
    if (!token || !token[0] || (unsigned)u->mode > UPLOAD_PROBE) {
        cmd_fail(&c, ST_NOT_FOUND);
        token = "";
    }
    cmd_key_hashed(&c, "upload:", token);
    cmd_arg_prefix(&c);
    cmd_arg_session_ctx(&c);
    char key[2 * SHA256_DIGEST_LENGTH + 1];
    secret_key_hex(token, key);
    cmd_arg_copy(&c, key); /* the script compares the file's upload_key */
    cmd_arg(&c, (unsigned)u->mode <= UPLOAD_PROBE ? modes[u->mode] : "");
    cmd_arg(&c, u->attempt);
    cmd_arg(&c, u->blob);
    cmd_arg(&c, u->holder);
    cmd_arg_transfer(&c, u->mode == UPLOAD_RESUME ? TEV_RESUME : TEV_BEGIN);
    cmd_arg_completion(&c, CEV_FILE_CHANGE);
    store_eval(&c, SCRIPT_UPLOAD_BEGIN, reply_upload, (store_fn_t)cb, arg);
}

void store_transfer_progress(store_t *st, const char *session_id, const char *name,
                             const char *attempt, int64_t bytes, int64_t staged,
                             store_done_cb cb, void *arg) {
    store_cmd_t c;
    cmd_init(&c, st);
    cmd_file_ctx(&c, session_id);
    cmd_arg(&c, name);
    cmd_arg(&c, attempt);
    cmd_arg_i64(&c, bytes);
    cmd_arg_i64(&c, staged);
    cmd_arg_transfer(&c, TEV_PROGRESS);
    store_eval(&c, SCRIPT_TRANSFER_PROGRESS, reply_done, (store_fn_t)cb, arg);
}

/* {'OK', 'ABORTED'}: a failed pull ended its session's requested complete (counted; callers
 * see detail NULL, as for any other end). */
static void reply_transfer_end(store_status_t s, const struct redisReply *r, store_fn_t cb,
                               void *arg) {
    const char *detail = s == ST_OK ? reply_str(r, 1) : NULL;
    if (detail && strcmp(detail, "ABORTED") == 0) {
        store_count_transition(SESSION_ERROR, 1);
        ((store_done_cb)cb)(arg, s, NULL);
        return;
    }
    reply_done(s, r, cb, arg);
}

void store_transfer_end(store_t *st, const char *session_id, const char *name,
                        const char *attempt, transfer_event_t ev, const session_file_t *result,
                        store_done_cb cb, void *arg) {
    store_cmd_t c;
    cmd_init(&c, st);
    if (ev != TEV_READY && ev != TEV_PAUSE && ev != TEV_FAIL) cmd_fail(&c, ST_INTERNAL);
    cmd_file_ctx(&c, session_id);
    struct json_object *outcome = outcome_to_json(result), *err = NULL;
    if (ev != TEV_READY) {
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
    cmd_arg(&c, attempt);
    cmd_arg_transfer(&c, ev);
    cmd_arg(&c, json_text(outcome));
    if (result->source_type == SOURCE_PULL)
        cmd_arg_completion(&c, ev == TEV_READY ? CEV_PULL_READY : CEV_PULL_FAILED);
    else
        cmd_arg(&c, "");
    cmd_arg(&c, active_next(EV_FAIL));
    cmd_arg(&c, err ? json_text(err) : "");
    store_eval(&c, SCRIPT_TRANSFER_END, reply_transfer_end, (store_fn_t)cb, arg); /* copies args */
    json_object_put(outcome);
    json_object_put(err);
}

/* {'OK'}: completed (counted); {'OK', 'REQUESTED'}: pulls still run. */
static void reply_completed(store_status_t s, const struct redisReply *r, store_fn_t cb,
                            void *arg) {
    if (s == ST_OK && !reply_str(r, 1)) store_count_transition(SESSION_DONE, 1);
    reply_done(s, r, cb, arg);
}

void store_session_complete(store_t *st, const store_auth_t *auth, const char *id,
                            const linked_file_t *linked, size_t n, store_done_cb cb, void *arg) {
    store_cmd_t c;
    cmd_file_open(&c, st, auth, id);
    cmd_arg_session_event(&c, EV_COMPLETE);
    cmd_arg_completion(&c, CEV_REQUEST);
    /* The linked pairs, "<blob> <name>\n" each (names hold no control characters). */
    size_t len = 1;
    for (size_t i = 0; i < n; i++) len += strlen(linked[i].blob) + strlen(linked[i].name) + 2;
    char *pairs = malloc(len), *p = pairs;
    if (!pairs) {
        cmd_fail(&c, ST_INTERNAL);
    } else {
        for (size_t i = 0; i < n; i++)
            p += sprintf(p, "%s %s\n", linked[i].blob, linked[i].name);
        *p = '\0';
    }
    cmd_argn(&c, pairs, pairs ? (size_t)(p - pairs) : 0);
    cmd_arg_completion(&c, CEV_RETRACT);
    store_eval(&c, auth ? SCRIPT_SESSION_COMPLETE : SCRIPT_SESSION_COMPLETE_SERVER,
               reply_completed, (store_fn_t)cb, arg); /* copies args */
    free(pairs);
}
