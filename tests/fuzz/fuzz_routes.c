/* tests/fuzz/fuzz_routes.c: libFuzzer target for path, query and id parsing: the operation
 * table and dispatch of net/routes.c (flavour, path patterns, "id:" segments, ids with ':',
 * actions, body parsing and /rest unwrapping, login token from header or cookie), the call
 * plumbing of net/call.c (call_param, store outcomes turned into vAPI errors in both flavours),
 * http_query_param's percent-decoding, and the core/ validators the operations apply to what
 * routing hands them (parse_session_id, valid_resource_id, check_client_token,
 * check_file_name, the spec decoders).
 *
 * A request is built from the input and sent through the real HTTP front end (over a
 * socketpair, tests/fuzz/http_driver.h) to the real api_handle(). The operations are
 * replaced by the functions below: each checks what routing gave it, validates its input as
 * the real operation does, then answers as the store would (byte 1 of the input chooses the
 * outcome). The store, the data plane and SOAP are not linked.
 *
 * Input: byte 0 = method (bits 0-2: GET POST PUT PATCH DELETE OPTIONS POST GET), bit 3 login
 * token in the cookie instead of the header, bit 4 no token, bit 5 no Content-Type; byte 1 =
 * store outcome (0 success, else the store_status_t 2 + (byte - 1) % 15); then
 * "TARGET\nTOKEN\nBODY". Bytes of TARGET that cannot appear in a request line are
 * percent-encoded.
 *
 * Checked: exactly one well-framed response; an operation is reached only when the path
 * rebuilt from its pattern and ids is the request path, with its method and action, the
 * flavour and prefix of the path, and a valid id; success bodies and error bodies are JSON of
 * the flavour's shape, error statuses are the vAPI table's (or the front end's refusal), and
 * every message is valid UTF-8. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/file.h"
#include "core/spec.h"
#include "core/validate.h"
#include "net/admin.h"
#include "net/api.h"
#include "net/soap.h"
#include "tests/fuzz/http_driver.h"

static struct {
    hd_t d;
    int outcome;          /* 0: success, else the store_status_t every store answer gives */
    int answered;         /* operations reached */
    bool rejected;        /* the front end refused the request */
    bool soap;
    flavour_t flavour;    /* of the request path */
} R;

static app_t app;

/* ---------- what routing must have done ---------- */

static void check_route(call_t *c) {
    const operation_t *op = c->op;
    const http_request_t *req = c->req;
    bool rest = strncmp(req->path, "/rest/", 6) == 0;
    if (c->flavour != (rest ? FLAVOUR_REST : FLAVOUR_API))
        hd_fail(&R.d, "%s: flavour does not match the path %s", op->name, req->path);
    if (req->method != op->method) hd_fail(&R.d, "%s reached with method %s", op->name, req->method_name);
    const char *pattern = rest ? op->rest_path : op->api_path;
    if (!pattern) hd_fail(&R.d, "%s reached in a flavour it does not have", op->name);

    /* The path, rebuilt from the pattern and what was extracted. */
    char built[4096];
    size_t n = 0;
    for (const char *p = pattern; *p && n < sizeof(built) - 300;) {
        if (strncmp(p, "{}", 2) == 0) {
            n += (size_t)snprintf(built + n, sizeof(built) - n, "%s%s", rest ? "id:" : "", c->id);
            p += 2;
        } else if (strncmp(p, "{name}", 6) == 0) {
            n += (size_t)snprintf(built + n, sizeof(built) - n, "%s", c->name);
            p += 6;
        } else {
            built[n++] = *p++;
        }
    }
    built[n] = '\0';
    size_t plen = strlen(req->path);
    bool same = strcmp(built, req->path) == 0 ||
                (plen == n + 1 && req->path[n] == '/' && strncmp(built, req->path, n) == 0);
    if (!same) hd_fail(&R.d, "%s: path %s rebuilt as %s", op->name, req->path, built);
    if (strstr(pattern, "{}") && !c->id[0]) hd_fail(&R.d, "%s: empty id", op->name);
    if (strchr(c->id, '/') || strchr(c->name, '/')) hd_fail(&R.d, "%s: id or name holds '/'", op->name);
    if (c->id[0] && op->subject && !valid_resource_id(c->id))
        hd_fail(&R.d, "%s reached with the invalid id \"%s\"", op->name, c->id);

    /* The action. */
    char act[64];
    bool has = http_query_param(req, rest ? "~action" : "action", act, sizeof(act));
    if (op->action) {
        if (!has || strcmp(act, op->action) != 0) hd_fail(&R.d, "%s reached without its action", op->name);
    } else if (has && !(rest && op->method == HTTP_POST && strcmp(act, "create") == 0)) {
        hd_fail(&R.d, "%s reached with the action %s", op->name, act);
    }

    /* Body prefix, and the /rest unwrapping. */
    char want[40];
    snprintf(want, sizeof(want), "%s%s", rest && op->rest_spec ? op->rest_spec : "",
             rest && op->rest_spec ? "." : "");
    if (strcmp(c->prefix, want) != 0) hd_fail(&R.d, "%s: prefix \"%s\", want \"%s\"", op->name, c->prefix, want);
    if (!op->anonymous && !c->token[0]) hd_fail(&R.d, "%s reached without a login token", op->name);
}

/* ---------- the operations' own input checks (as net/ops_*.c do them) ---------- */

static bool fail(call_t *c, vapi_failure_t *f) {
    call_fail(c, f);
    return false;
}

/* The session a file operation is about: path id, else ?update_session_id=. */
static bool file_session(call_t *c) {
    char item[ID_MAX];
    vapi_failure_t f;
    if (!c->id[0] && !http_query_param(c->req, "update_session_id", c->id, sizeof(c->id))) {
        vapi_fail(&f, VAPI_INVALID_ARGUMENT, "missing_parameter",
                  "The query parameter update_session_id is required.", NULL);
        return fail(c, &f);
    }
    call_subject(c, "update session", c->id);
    if (parse_session_id(c->id, item)) {
        if (!valid_resource_id(item)) hd_fail(&R.d, "parse_session_id gave the bad item id %s", item);
        return true;
    }
    call_fail_store(c, ST_NOT_FOUND, NULL);
    return false;
}

/* The health and metrics routes (net/admin.c) are not fuzzed here: no request is one. */
bool admin_route(http_request_t *req, struct app *app) {
    (void)req, (void)app;
    return false;
}

static bool string_param(call_t *c, const char *name, bool required, char *buf, size_t size,
                         const char **out) {
    vapi_failure_t f;
    param_status_t st;
    *out = call_param(c, name, buf, size, &st);
    if (st != PARAM_OK) {
        call_param_failure(name, st, &f);
        return fail(c, &f);
    }
    if (required && (!*out || !**out)) {
        vapi_fail(&f, VAPI_INVALID_ARGUMENT, "field_required", "The field {0} is required.", name, NULL);
        return fail(c, &f);
    }
    return true;
}

static bool file_name(call_t *c) {
    char buf[FILE_NAME_MAX];
    const char *name = c->name;
    vapi_failure_t f;
    if (!name[0] && !string_param(c, "file_name", true, buf, sizeof(buf), &name)) return false;
    if (check_file_name("file_name", name, &f) != C_OK) return fail(c, &f);
    copy_str(c->aux, sizeof(c->aux), name);
    return true;
}

static bool session_id(call_t *c) {
    char item[ID_MAX];
    if (parse_session_id(c->id, item)) return true;
    call_fail_store(c, ST_NOT_FOUND, NULL);
    return false;
}

/* The body of fail and keep-alive. */
static bool change_input(call_t *c) {
    vapi_failure_t f;
    struct json_object *v = NULL;
    const char *name = c->op->name;
    bool obj = c->body && json_object_is_type(c->body, json_type_object);
    if (c->body && !obj) {
        vapi_fail(&f, VAPI_INVALID_ARGUMENT, "invalid_argument", "The request body must be a JSON object.", NULL);
        return fail(c, &f);
    }
    if (strcmp(name, "update_session.fail") == 0) {
        if (!obj || !json_object_object_get_ex(c->body, "client_error_message", &v) ||
            !json_object_is_type(v, json_type_string)) {
            vapi_fail(&f, VAPI_INVALID_ARGUMENT, "invalid_argument", "The field client_error_message is required.", NULL);
            return fail(c, &f);
        }
        if (check_text("client_error_message", json_object_get_string(v), MSG_ARG_MAX - 1, &f) != C_OK)
            return fail(c, &f);
    } else if (strcmp(name, "update_session.keep_alive") == 0) {
        if (obj && json_object_object_get_ex(c->body, "client_progress", &v) && v &&
            check_progress("client_progress", json_object_get_int64(v), 0, &f) != C_OK)
            return fail(c, &f);
    } else if (strcmp(name, "update_session.update") == 0) {
        session_spec_t spec;
        if (c->spec && spec_session(c->spec, c->prefix, false, &spec, &f) != C_OK) return fail(c, &f);
    }
    return true;
}

/* Returns false when the call was finished with an input error. */
static bool validate_input(call_t *c) {
    const char *n = c->op->name;
    vapi_failure_t f;
    char buf[600];
    const char *s;
    if (strcmp(n, "local_library.create") == 0 || strcmp(n, "subscribed_library.create") == 0) {
        library_t lib;
        int rc = spec_library(c->spec, c->prefix, (library_type_t)c->op->library_type, &lib, &f);
        library_free(&lib);
        return rc == C_OK || fail(c, &f);
    }
    if (strcmp(n, "library.find") == 0) {
        library_find_t spec;
        return spec_library_find(c->spec, c->prefix, &spec, &f) == C_OK || fail(c, &f);
    }
    if (strcmp(n, "item.find") == 0) {
        item_find_t spec;
        return spec_item_find(c->spec, c->prefix, &spec, &f) == C_OK || fail(c, &f);
    }
    if (strcmp(n, "item.create") == 0) {
        item_t it;
        if (spec_item(c->spec, c->prefix, &it, &f) != C_OK) return fail(c, &f);
        copy_str(c->aux, sizeof(c->aux), it.name);
        return true;
    }
    if (strcmp(n, "item.list") == 0) {
        if (!string_param(c, "library_id", true, buf, sizeof(buf), &s)) return false;
        call_subject(c, "library", s);
        if (valid_resource_id(s)) return true;
        call_fail_store(c, ST_NOT_FOUND, NULL);
        return false;
    }
    if (strcmp(n, "update_session.create") == 0) {
        session_spec_t spec;
        if (spec_session(c->spec, c->prefix, true, &spec, &f) != C_OK) return fail(c, &f);
        if (!string_param(c, "client_token", false, buf, 128, &s)) return false;
        if (s && check_client_token(s, &f) != C_OK) return fail(c, &f);
        if (s) copy_str(c->aux, sizeof(c->aux), s);
        call_subject(c, "library item", spec.library_item_id);
        return true;
    }
    if (strcmp(n, "update_session.list") == 0) {
        char item[ID_MAX];
        if (!http_query_param(c->req, "library_item_id", item, sizeof(item))) return true;
        call_subject(c, "library item", item);
        if (valid_resource_id(item)) return true;
        call_fail_store(c, ST_NOT_FOUND, NULL);
        return false;
    }
    if (strncmp(n, "update_session.file.", 20) == 0) {
        if (!file_session(c)) return false;
        if (strcmp(n, "update_session.file.add") == 0) {
            file_spec_t fs;
            const char *prefix;
            if (call_file_add_spec(c, &fs, &prefix, &f) != C_OK) return fail(c, &f);
            copy_str(c->aux, sizeof(c->aux), fs.name);
            return true;
        }
        if (strcmp(n, "update_session.file.get") == 0 || strcmp(n, "update_session.file.remove") == 0)
            return file_name(c);
        return true;
    }
    if (strncmp(n, "update_session.", 15) == 0) return session_id(c) && change_input(c);
    if (strncmp(n, "item.file.", 10) == 0) {
        if (!c->id[0]) http_query_param(c->req, "library_item_id", c->id, sizeof(c->id));
        call_subject(c, "library item", c->id);
        if (!valid_resource_id(c->id)) {
            call_fail_store(c, ST_NOT_FOUND, NULL);
            return false;
        }
        char name[FILE_NAME_MAX];
        if (c->op->action || http_query_param(c->req, "name", name, sizeof(name)))
            return string_param(c, "name", true, buf, sizeof(buf), &s);
        return true;
    }
    return true;
}

/* Answers as the store would: success in the operation's result shape, or the chosen store
 * status (its detail: the call's id, so messages echo client text). */
static void serve(call_t *c) {
    R.answered++;
    R.d.progress++;
    check_route(c);
    if (!validate_input(c)) return;
    if (R.outcome == ST_OK) {
        call_reply(c, c->op->result == RESULT_VOID ? NULL : json_object_new_string(c->op->name));
        return;
    }
    store_status_t st = (store_status_t)R.outcome;
    call_fail_store(c, st, st == ST_STATE_CHANGED ? NULL : c->id);
}

#define OP(opfn)                                                                               \
    void opfn(call_t *c) {                                                                     \
        if (c->op->fn != opfn) hd_fail(&R.d, "%s ran for %s", #opfn, c->op->name);             \
        serve(c);                                                                              \
    }
OP(op_login_create)
OP(op_login_get)
OP(op_login_delete)
OP(op_session_create)
OP(op_session_get)
OP(op_session_list)
OP(op_session_change)
OP(op_download_session_list)
OP(op_file_add)
OP(op_file_get)
OP(op_file_list)
OP(op_file_remove)
OP(op_file_validate)
OP(op_item_files)
OP(op_library_create)
OP(op_library_get)
OP(op_library_list)
OP(op_library_find)
OP(op_library_delete)
OP(op_item_create)
OP(op_item_get)
OP(op_item_list)
OP(op_item_find)
OP(op_item_delete)

/* call_fail_store reads the session for a state message the store did not give. */
void store_session_get(store_t *st, const store_auth_t *auth, const char *id, store_session_cb cb,
                       void *arg) {
    (void)st;
    (void)auth;
    update_session_t s;
    memset(&s, 0, sizeof(s));
    copy_str(s.id, sizeof(s.id), id);
    s.state = SESSION_DONE;
    cb(arg, R.outcome == ST_STATE_CHANGED ? ST_OK : (store_status_t)R.outcome, &s, 0);
}

bool soap_handles(const http_request_t *req) {
    return req->path && strncmp(req->path, "/sdk", 4) == 0 && (!req->path[4] || req->path[4] == '/');
}

void soap_handle(http_request_t *req, app_t *a) {
    (void)a;
    R.soap = true;
    R.d.progress++;
    http_respond(req, 200, "text/xml", "<soap/>", 7, NULL);
}

/* ---------- the front end's callbacks ---------- */

static void on_request(http_request_t *req, void *arg) {
    R.flavour = strncmp(req->path, "/rest/", 6) == 0 ? FLAVOUR_REST : FLAVOUR_API;
    R.d.progress++;
    api_handle(req, arg);
}

static void on_reject(http_request_t *req, int status, const char *reason, void *arg) {
    R.rejected = true;
    R.flavour = req->path && strncmp(req->path, "/rest/", 6) == 0 ? FLAVOUR_REST : FLAVOUR_API;
    R.d.progress++;
    api_reject(req, status, reason, arg);
}

/* ---------- checks of the answer ---------- */

static void check_string(const char *what, struct json_object *s) {
    if (!s || !json_object_is_type(s, json_type_string)) hd_fail(&R.d, "%s is not a string", what);
    const char *v = json_object_get_string(s);
    if (!valid_utf8(v, (size_t)json_object_get_string_len(s))) hd_fail(&R.d, "%s is not valid UTF-8", what);
}

static void check_error_body(int status, struct json_object *doc) {
    struct json_object *err = doc, *type, *msgs;
    if (R.flavour == FLAVOUR_REST) {
        struct json_object *rt;
        if (!json_object_object_get_ex(doc, "type", &rt) || !json_object_object_get_ex(doc, "value", &err))
            hd_fail(&R.d, "a /rest error without type and value");
        check_string("type", rt);
    }
    if (!json_object_object_get_ex(err, "error_type", &type)) hd_fail(&R.d, "an error without error_type");
    check_string("error_type", type);
    vapi_error_t e;
    if (vapi_error_parse(json_object_get_string(type), &e) != C_OK) hd_fail(&R.d, "unknown error_type");
    if (!R.rejected && vapi_error_status(e, R.flavour) != status)
        hd_fail(&R.d, "%s answered with %d", json_object_get_string(type), status);
    if (!json_object_object_get_ex(err, "messages", &msgs) || !json_object_is_type(msgs, json_type_array) ||
        json_object_array_length(msgs) < 1)
        hd_fail(&R.d, "an error without messages");
    for (size_t i = 0; i < json_object_array_length(msgs); i++) {
        struct json_object *m = json_object_array_get_idx(msgs, i), *v, *args;
        if (!json_object_object_get_ex(m, "id", &v)) hd_fail(&R.d, "a message without id");
        check_string("message id", v);
        if (!json_object_object_get_ex(m, "default_message", &v)) hd_fail(&R.d, "a message without text");
        check_string("default_message", v);
        if (json_object_get_string_len(v) == 0) hd_fail(&R.d, "an empty message");
        if (!json_object_object_get_ex(m, "args", &args) || !json_object_is_type(args, json_type_array))
            hd_fail(&R.d, "a message without args");
        for (size_t k = 0; k < json_object_array_length(args); k++)
            check_string("message arg", json_object_array_get_idx(args, k));
    }
}

static void check_answer(void) {
    size_t pos = 0;
    hd_response_t r;
    if (R.d.out_len == 0) hd_fail(&R.d, "no answer");
    if (!hd_parse_response(&R.d, &pos, true, &r)) hd_fail(&R.d, "a malformed answer");
    if (pos != R.d.out_len) hd_fail(&R.d, "more than one answer to one request");
    if (R.soap) return;
    if (r.body_len == 0) {
        if (r.status >= 400) hd_fail(&R.d, "an error without body");
        return;
    }
    struct json_tokener *tok = json_tokener_new();
    struct json_object *doc = json_tokener_parse_ex(tok, r.body, (int)r.body_len);
    bool whole = json_tokener_get_error(tok) == json_tokener_success &&
                 json_tokener_get_parse_end(tok) == r.body_len;
    json_tokener_free(tok);
    if (!whole) hd_fail(&R.d, "the answer body is not one JSON document");
    if (r.status >= 400) {
        check_error_body(r.status, doc);
    } else if (R.flavour == FLAVOUR_REST) {
        struct json_object *v;
        if (!json_object_object_get_ex(doc, "value", &v)) hd_fail(&R.d, "a /rest success without value");
    }
    json_object_put(doc);
}

/* ---------- building the request ---------- */

typedef struct {
    char *p;
    size_t len, cap;
} buf_t;

static void put(buf_t *b, const void *s, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) abort();
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void puts_(buf_t *b, const char *s) { put(b, s, strlen(s)); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "POST", "GET"};
    if (size < 2) return 0;
    uint8_t flags = data[0];
    memset(&R, 0, sizeof(R));
    /* ST_UNAVAILABLE and ST_INTERNAL are left out: the server logs them on stderr. */
    R.outcome = data[1] == 0 ? ST_OK : ST_UNAUTHENTICATED + (data[1] - 1) % (ST_INTERNAL - ST_UNAUTHENTICATED);
    const char *in = (const char *)data + 2, *end = (const char *)data + size;
    const char *nl = memchr(in, '\n', (size_t)(end - in));
    const char *target_end = nl ? nl : end;
    const char *tok = nl ? nl + 1 : end;
    const char *nl2 = memchr(tok, '\n', (size_t)(end - tok));
    const char *tok_end = nl2 ? nl2 : end;
    const char *body = nl2 ? nl2 + 1 : end;

    buf_t b = {0};
    puts_(&b, methods[flags & 7]);
    puts_(&b, " ");
    for (const char *p = in; p < target_end; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch <= 0x20 || ch >= 0x7f) {
            char esc[4];
            snprintf(esc, sizeof(esc), "%%%02X", ch);
            puts_(&b, esc);
        } else {
            put(&b, p, 1);
        }
    }
    if (target_end == in) puts_(&b, "/");
    puts_(&b, " HTTP/1.1\r\nHost: fuzz\r\n");
    if (!(flags & 16)) {
        puts_(&b, flags & 8 ? "Cookie: a=b; vmware-api-session-id=" : "vmware-api-session-id: ");
        for (const char *p = tok; p < tok_end; p++)
            if ((unsigned char)*p >= 0x20 && *p != 0x7f) put(&b, p, 1);
        if (tok == tok_end) puts_(&b, "t");
        puts_(&b, "\r\n");
    }
    if (!(flags & 32)) puts_(&b, "Content-Type: application/json\r\n");
    char cl[64];
    snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n\r\n", (size_t)(end - body));
    puts_(&b, cl);
    put(&b, body, (size_t)(end - body));

    hd_start(&R.d, &app.cfg.http, on_request, on_reject, &app);
    hd_feed(&R.d, (const uint8_t *)b.p, b.len);
    check_answer();
    hd_eof(&R.d);
    hd_stop_server(&R.d);
    hd_finish(&R.d);
    free(b.p);
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    app.cfg.json_max_depth = 32;
    http_limits_defaults(&app.cfg.http);
    copy_str(app.public_url, sizeof(app.public_url), "http://127.0.0.1:8080");
    return 0;
}
