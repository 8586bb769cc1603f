/* store/codec.c: turning script answers into core/ values and core/ values into script
 * arguments, shared by all typed operations: element access, the done/ids reply functions,
 * the table-driven record codec (store_field_t) and the stored-JSON helpers. */
#include "store/redis.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <json-c/json.h>

static const redisReply *element(const redisReply *r, size_t i) {
    if (!r || r->type != REDIS_REPLY_ARRAY || i >= r->elements) return NULL;
    return r->element[i];
}

const char *reply_str(const redisReply *r, size_t i) {
    const redisReply *e = element(r, i);
    if (!e || (e->type != REDIS_REPLY_STRING && e->type != REDIS_REPLY_STATUS)) return NULL;
    return e->str;
}

size_t reply_len(const redisReply *r) {
    return r && r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
}

const char *reply_field(const redisReply *r, size_t first, const char *name) {
    if (!r || r->type != REDIS_REPLY_ARRAY) return NULL;
    for (size_t i = first; i + 1 < r->elements; i += 2) {
        const char *k = reply_str(r, i);
        if (k && strcmp(k, name) == 0) return reply_str(r, i + 1);
    }
    return NULL;
}

/* Decimal text -> int64; the whole text must be the number. */
static int parse_i64(const char *s, size_t len, int64_t *out) {
    char buf[32];
    if (len == 0 || len >= sizeof(buf)) return C_ERR;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno || *end) return C_ERR;
    *out = v;
    return C_OK;
}

int reply_i64(const redisReply *r, size_t i, int64_t *out) {
    const redisReply *e = element(r, i);
    if (!e) return C_ERR;
    if (e->type == REDIS_REPLY_INTEGER) {
        *out = e->integer;
        return C_OK;
    }
    if (e->type == REDIS_REPLY_STRING) return parse_i64(e->str, e->len, out);
    return C_ERR;
}

void reply_done(store_status_t s, const redisReply *r, store_fn_t cb, void *arg) {
    ((store_done_cb)cb)(arg, s, reply_str(r, 1));
}

void reply_deleted(store_status_t s, const redisReply *r, store_fn_t cb, void *arg) {
    int64_t ended = 0;
    if (s == ST_OK && reply_i64(r, 1, &ended) == C_OK && ended > 0) {
        session_state_t to = SESSION_CANCELED;
        fsm_apply(SESSION_ACTIVE, EV_CANCEL, &to);
        store_count_transition(to, (uint64_t)ended);
    }
    ((store_done_cb)cb)(arg, s, NULL);
}

/* Ids are elements 1.. of the answer; the pointer array lives on the stack unless the list is
 * long. */
void reply_ids(store_status_t s, const redisReply *r, store_fn_t cb, void *arg) {
    store_ids_cb done = (store_ids_cb)cb;
    if (s != ST_OK) {
        done(arg, s, NULL, 0);
        return;
    }
    size_t n = r->elements - 1;
    char *small[64] = {NULL}, **ids = n <= ARRAY_LEN(small) ? small : malloc(n * sizeof(char *));
    if (!ids) {
        done(arg, ST_INTERNAL, NULL, 0);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const redisReply *e = r->element[i + 1];
        if (e->type != REDIS_REPLY_STRING) {
            store_log("id list: element %zu is not a string", i + 1);
            s = ST_INTERNAL;
            n = 0;
            break;
        }
        ids[i] = e->str;
    }
    done(arg, s, s == ST_OK ? ids : NULL, n);
    if (ids != small) free(ids);
}

void fields_encode(store_cmd_t *c, const store_field_t *f, size_t nf, const void *obj) {
    const char *base = obj;
    for (size_t i = 0; i < nf; i++) {
        if (f[i].server_filled) continue;
        const void *m = base + f[i].off;
        cmd_arg(c, f[i].name);
        switch (f[i].type) {
        case FT_STR: cmd_arg(c, m); break;
        case FT_I64: cmd_arg_i64(c, *(const int64_t *)m); break;
        case FT_INT: cmd_arg_i64(c, *(const int *)m); break;
        case FT_BOOL: cmd_arg(c, *(const bool *)m ? "1" : "0"); break;
        case FT_LIBTYPE: cmd_arg(c, library_type_name(*(const library_type_t *)m)); break;
        case FT_STATE: cmd_arg(c, session_state_name(*(const session_state_t *)m)); break;
        }
    }
}

static int decode_one(const store_field_t *f, char *m, const char *v, size_t len) {
    int64_t n;
    switch (f->type) {
    case FT_STR:
        if (len >= f->size) return C_ERR;
        memcpy(m, v, len);
        m[len] = '\0';
        return C_OK;
    case FT_I64:
        if (parse_i64(v, len, &n) != C_OK) return C_ERR;
        *(int64_t *)m = n;
        return C_OK;
    case FT_INT:
        if (parse_i64(v, len, &n) != C_OK || n < INT32_MIN || n > INT32_MAX) return C_ERR;
        *(int *)m = (int)n;
        return C_OK;
    case FT_BOOL:
        *(bool *)m = len == 1 && v[0] == '1';
        return C_OK;
    case FT_LIBTYPE: return library_type_parse(v, (library_type_t *)m);
    case FT_STATE: return session_state_parse(v, (session_state_t *)m);
    }
    return C_ERR;
}

int fields_decode(const store_field_t *f, size_t nf, void *obj, const redisReply *r,
                  size_t first, field_extra_fn extra) {
    if (!r || r->type != REDIS_REPLY_ARRAY || first > r->elements ||
        (r->elements - first) % 2 != 0)
        return C_ERR;
    for (size_t i = first; i < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) return C_ERR;
        size_t j = 0;
        while (j < nf && strcmp(f[j].name, k->str) != 0) j++;
        int rc = j < nf ? decode_one(&f[j], (char *)obj + f[j].off, v->str, v->len)
                 : extra ? extra(obj, k->str, v->str, v->len)
                         : C_OK;
        if (rc != C_OK) {
            store_log("record field %s: bad value", k->str);
            return C_ERR;
        }
    }
    return C_OK;
}

const char *json_text(struct json_object *o) {
    return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

struct json_object *json_parse_stored(const char *text, size_t len) {
    struct json_tokener *tok = json_tokener_new();
    if (!tok) return NULL;
    struct json_object *o = json_tokener_parse_ex(tok, text, (int)len);
    if (json_tokener_get_error(tok) != json_tokener_success) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}
