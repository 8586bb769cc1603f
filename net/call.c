/* net/call.c: finishing a call in either wire flavour. This is the one place that knows how
 * /api and /rest differ on success (201/204 and raw values against 200 and {"value": ...})
 * and on errors (the error body shape and the status map in core/errors.c), and how store
 * outcomes become vAPI errors with messages that name what was asked for. */
#include <ctype.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include <openssl/rand.h>

#include "core/privilege.h"
#include "core/session.h"
#include "core/validate.h"
#include "core/spec.h"
#include "net/api.h"
#include "net/log.h"

/* A random (version 4, RFC 4122 4.4) UUID in lower case. libuuid's uuid_generate_random
 * reseeds and cranks random(3) on every call (some 5% of a create's CPU), so the 16 bytes come
 * from OpenSSL's DRBG (a userspace CSPRNG) and libuuid only formats them. */
void new_uuid(char *buf) {
    uuid_t u;
    if (RAND_bytes(u, sizeof(u)) == 1) {
        u[6] = (unsigned char)((u[6] & 0x0f) | 0x40); /* version 4 */
        u[8] = (unsigned char)((u[8] & 0x3f) | 0x80); /* variant 10 */
    } else {
        uuid_generate_random(u);
    }
    uuid_unparse_lower(u, buf);
}

static void call_free(call_t *c) {
    if (c->body) json_object_put(c->body);
    free(c->extra);
    free(c);
}

static void respond_json(call_t *c, int status, struct json_object *doc, const char *headers) {
    size_t len = 0;
    const char *text = json_object_to_json_string_length(doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    http_respond(c->req, status, "application/json", text, len, headers);
}

void call_reply_extra_headers(call_t *c, struct json_object *value, const char *headers) {
    const result_kind_t kind = c->op->result;
    if (c->flavour == FLAVOUR_REST) {
        if (kind == RESULT_VOID) {
            http_respond(c->req, 200, NULL, "", 0, headers);
        } else {
            struct json_object *doc = json_object_new_object();
            json_object_object_add(doc, "value", value);
            value = NULL;
            respond_json(c, 200, doc, headers);
            json_object_put(doc);
        }
    } else if (kind == RESULT_VOID) {
        http_respond(c->req, 204, NULL, "", 0, headers);
    } else {
        respond_json(c, kind == RESULT_CREATED ? 201 : 200, value, headers);
    }
    if (value) json_object_put(value);
    call_free(c);
}

void call_reply(call_t *c, struct json_object *value) { call_reply_extra_headers(c, value, NULL); }

int call_file_add_spec(const call_t *c, file_spec_t *fs, const char **prefix,
                       vapi_failure_t *f) {
    struct json_object *spec = c->spec, *inner;
    *prefix = c->prefix;
    if (c->flavour == FLAVOUR_API && spec && json_object_is_type(spec, json_type_object) &&
        json_object_object_get_ex(spec, "file_spec", &inner)) {
        spec = inner;
        *prefix = "file_spec.";
    }
    return spec_file_add(spec, *prefix, fs, f);
}

/* host, [v6], with an optional :port: letters, digits, '.', '-', ':' and brackets only, so
 * nothing a client sends can bend the URI it gets back (no '/', '@', '?', spaces). */
static bool plain_host(const char *h) {
    size_t n = h ? strlen(h) : 0;
    if (n == 0 || n > 255) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)h[i];
        if (!isalnum(ch) && !strchr(".-:[]", ch)) return false;
    }
    return true;
}

const char *call_public_url(const call_t *c, char *buf, size_t size) {
    const char *host = http_header(c->req, "Host");
    if (c->app->cfg.public_url[0] || !plain_host(host))
        copy_str(buf, size, c->app->public_url);
    else
        snprintf(buf, size, "%s://%s", http_request_tls(c->req) ? "https" : "http", host);
    return buf;
}

void send_failure_status(http_request_t *req, flavour_t flavour, const vapi_failure_t *f,
                         int status) {
    struct json_object *doc = failure_to_json(f, flavour);
    size_t len = 0;
    const char *text = json_object_to_json_string_length(doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    /* 503: Redis is away or a wait fell short; a client or balancer may come back in a second */
    http_respond(req, status, "application/json", text, len,
                 status == 503 ? "Retry-After: 1\r\n" : NULL);
    json_object_put(doc);
}

void send_failure(http_request_t *req, flavour_t flavour, const vapi_failure_t *f) {
    send_failure_status(req, flavour, f, vapi_error_status(f->type, flavour));
}

void call_fail_quiet(call_t *c, const vapi_failure_t *f) {
    send_failure(c->req, c->flavour, f);
    call_free(c);
}

void call_fail(call_t *c, const vapi_failure_t *f) {
    if (f->type == VAPI_INTERNAL_SERVER_ERROR || f->type == VAPI_SERVICE_UNAVAILABLE)
        log_kv(f->type == VAPI_INTERNAL_SERVER_ERROR ? LV_ERROR : LV_WARN,
               f->msg.default_message, "op", c->op->name, "path", c->req->path, "error",
               vapi_error_name(f->type), (const char *)NULL);
    call_fail_quiet(c, f);
}

void call_subject(call_t *c, const char *what, const char *id) {
    c->subject = what;
    copy_str(c->subject_id, sizeof(c->subject_id), id ? id : "");
}

/* The first privilege of the operation's set, for the 403 message. */
static const char *first_privilege(uint32_t privs) {
    for (uint32_t bit = 1; bit && bit <= privs; bit <<= 1) {
        const char *name = (privs & bit) ? privilege_name((privilege_t)bit) : NULL;
        if (name) return name;
    }
    return "";
}

/* The state named by a NOT_ALLOWED_IN_CURRENT_STATE message, read when the store did not say. */
static void on_state_for_message(void *arg, store_status_t st, const update_session_t *s,
                                 int64_t now_ms) {
    call_t *c = arg;
    if (st != ST_OK) { call_fail_store(c, st, NULL); return; }
    update_session_t seen = *s;
    session_observe(&seen, now_ms);
    call_fail_store(c, ST_STATE_CHANGED, session_state_name(seen.state));
}

void call_fail_store(call_t *c, store_status_t st, const char *detail) {
    vapi_failure_t f;
    const char *subject = c->subject ? c->subject : (c->op->subject ? c->op->subject : "resource");
    const char *sid = c->subject_id[0] ? c->subject_id : c->id;
    detail = detail ? detail : "";
    switch (st) {
    case ST_OK: /* not a failure: callers never pass it */
    case ST_INTERNAL:
        vapi_fail(&f, VAPI_INTERNAL_SERVER_ERROR, "internal_error",
                  "The operation {0} failed because of an internal error.", c->op->name, NULL);
        break;
    case ST_UNAVAILABLE:
        vapi_fail(&f, VAPI_SERVICE_UNAVAILABLE, "service_unavailable",
                  "The service is temporarily unavailable: its data store did not answer in time. "
                  "Retry the operation {0}.", c->op->name, NULL);
        break;
    case ST_UNREPLICATED: { /* --redis-wait-replicas: made on the primary, not confirmed */
        char n[16];
        snprintf(n, sizeof(n), "%d", c->app->cfg.redis_wait_replicas);
        vapi_fail(&f, VAPI_SERVICE_UNAVAILABLE, "change_not_replicated",
                  "The operation {0} may have been applied, but it is not yet on {1} Redis "
                  "replica(s), so a failover could lose it. Read the result back before "
                  "retrying (a create retried with the same client_token is safe).",
                  c->op->name, n, NULL);
        break;
    }
    case ST_UNAUTHENTICATED:
        vapi_fail(&f, VAPI_UNAUTHENTICATED, "vapi.method.authentication.required",
                  "This method requires authentication.", NULL);
        break;
    case ST_UNAUTHORIZED:
        vapi_fail(&f, VAPI_UNAUTHORIZED, "privilege_missing",
                  "The user does not have the privilege {0} required by the operation {1}.",
                  first_privilege(c->auth.required_privs), c->op->name, NULL);
        break;
    case ST_NOT_FOUND:
        vapi_fail(&f, VAPI_NOT_FOUND, "not_found", "The {0} {1} does not exist.", subject, sid, NULL);
        break;
    case ST_ALREADY_EXISTS:
        vapi_fail(&f, VAPI_ALREADY_EXISTS, "duplicate_item_name_unsupported_in_library",
                  "Operation is not supported since a library item with the name {0} exists in "
                  "the library '{1}' (ID: {2}).", c->aux, detail, sid, NULL);
        break;
    case ST_BUSY: /* detail: the holder's id, given to its owner only (the owner rule) */
        if (detail[0])
            vapi_fail(&f, VAPI_RESOURCE_BUSY, "update_session_already_active",
                      "The library item {0} already has an active update session ({1}); only "
                      "one update session can be active for a library item.", sid, detail, NULL);
        else
            vapi_fail(&f, VAPI_RESOURCE_BUSY, "update_session_already_active",
                      "The library item {0} already has an active update session; only one "
                      "update session can be active for a library item.", sid, NULL);
        break;
    case ST_WRONG_TYPE:
        vapi_fail(&f, VAPI_INVALID_ELEMENT_TYPE, "subscribed_library_not_modifiable",
                  "The {0} {1} is in a subscribed library, whose content changes only through "
                  "synchronization.", subject, sid, NULL);
        break;
    case ST_TOKEN_CONFLICT:
        vapi_fail(&f, VAPI_INVALID_ARGUMENT, "client_token_reused",
                  "The client_token {0} was already used to create an update session for "
                  "another library item.", c->aux, NULL);
        break;
    case ST_STATE_CHANGED: {
        /* args as vCenter sends them: operation, state. A store answer that did not say the
         * state (file operations) costs one more read, on this error path only. */
        char item[ID_MAX];
        if (!detail[0] && parse_session_id(c->id, item)) {
            store_session_get(c->app->store, &c->auth, c->id, on_state_for_message, c);
            return;
        }
        const char *op = strrchr(c->op->name, '.');
        vapi_fail(&f, VAPI_NOT_ALLOWED_IN_CURRENT_STATE, "update_session_invalid_state",
                  "The operation {0} can not be invoked when the update session is in the {1} "
                  "state.", op ? op + 1 : c->op->name, detail, NULL);
        break;
    }
    case ST_NO_FILE:
        vapi_fail(&f, VAPI_INVALID_ARGUMENT, "file_not_found",
                  "The file {0} is not part of the update session {1}.", c->aux, sid, NULL);
        break;
    case ST_TRANSFER_BUSY:
        vapi_fail(&f, VAPI_RESOURCE_BUSY, "file_transfer_in_progress",
                  "The file {0} is being transferred; wait until the transfer ends.", c->aux, NULL);
        break;
    case ST_FILES_NOT_READY:
        vapi_fail(&f, VAPI_NOT_ALLOWED_IN_CURRENT_STATE, "update_session_files_not_ready",
                  "The operation complete can not be invoked while the file {0} has not been "
                  "received correctly.", detail, NULL);
        break;
    case ST_FILES_CHANGED: /* the complete procedure retried and its files kept changing */
        vapi_fail(&f, VAPI_CONCURRENT_CHANGE, "update_session_files_changed",
                  "The file {0} changed while the update session was being completed; retry "
                  "the operation complete.", detail, NULL);
        break;
    case ST_FILE_STATE:
        vapi_fail(&f, VAPI_NOT_ALLOWED_IN_CURRENT_STATE, "file_invalid_state",
                  "The operation {0} can not be invoked when the file {1} is in the {2} state.",
                  c->op->name, c->aux, detail, NULL);
        break;
    case ST_TOO_MANY_FILES:
        vapi_fail(&f, VAPI_UNABLE_TO_ALLOCATE_RESOURCE, "update_session_too_many_files",
                  "The update session {0} already holds the most files an update session may "
                  "hold.", sid, NULL);
        break;
    case ST_PROGRESS_LOWER:
        vapi_fail(&f, VAPI_INVALID_ARGUMENT, "invalid_client_progress",
                  "The field client_progress must not be lower than the current progress {0}.",
                  detail, NULL);
        break;
    }
    call_fail(c, &f);
}

/* Looks a parameter up in the body's top level (both flavours send scalar parameters there). */
static const char *body_param(call_t *c, const char *name, bool *wrong_type) {
    struct json_object *v;
    if (!c->body || !json_object_is_type(c->body, json_type_object) ||
        !json_object_object_get_ex(c->body, name, &v) || json_object_is_type(v, json_type_null))
        return NULL;
    if (!json_object_is_type(v, json_type_string)) { *wrong_type = true; return NULL; }
    return json_object_get_string(v);
}

/* Is the query parameter there, only too long for the caller's buffer? (The query was checked
 * for bad escapes before the call began, so a failed lookup is absence or length.) */
static bool query_param_present(call_t *c, const char *name) {
    if (!c->req->query) return false;
    size_t n = strlen(c->req->query) + 1;
    char *big = malloc(n);
    bool present = big && http_query_param(c->req, name, big, n);
    free(big);
    return present;
}

const char *call_param(call_t *c, const char *name, char *buf, size_t size, param_status_t *st) {
    bool wrong_type = false;
    *st = PARAM_OK;
    const char *v = body_param(c, name, &wrong_type);
    if (wrong_type) *st = PARAM_WRONG_TYPE;
    if (v || wrong_type) return v;
    if (http_query_param(c->req, name, buf, size)) return buf;
    if (query_param_present(c, name)) { *st = PARAM_TOO_LONG; return NULL; }
    char header[64];
    size_t i = 0;
    bool upper = true;
    for (; name[i] && i < sizeof(header) - 1; i++) {
        char ch = name[i] == '_' ? '-' : name[i];
        header[i] = (char)(upper && ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
        upper = ch == '-';
    }
    header[i] = '\0';
    v = http_header(c->req, header);
    if (v && copy_str(buf, size, v) == C_OK) return buf;
    if (v) *st = PARAM_TOO_LONG;
    return NULL;
}

int call_param_failure(const char *name, param_status_t st, vapi_failure_t *f) {
    if (st == PARAM_TOO_LONG)
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "value_too_long",
                         "The field {0} is too long.", name, NULL);
    return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_field_type",
                     "The field {0} must be a string.", name, NULL);
}

void call_on_id(void *arg, store_status_t st, const char *detail) {
    call_t *c = arg;
    if (st != ST_OK) { call_fail_store(c, st, detail); return; }
    call_reply(c, json_object_new_string(detail ? detail : ""));
}

void call_on_void(void *arg, store_status_t st, const char *detail) {
    call_t *c = arg;
    if (st != ST_OK) { call_fail_store(c, st, detail); return; }
    call_reply(c, NULL);
}

void call_on_ids(void *arg, store_status_t st, char *const *ids, size_t n) {
    call_t *c = arg;
    if (st != ST_OK) { call_fail_store(c, st, NULL); return; }
    call_reply(c, ids_to_json(ids, n));
}

/* A session past its deadline reads as expired even before a sweeper recorded it. */
void call_on_session(void *arg, store_status_t st, const update_session_t *s, int64_t now_ms) {
    call_t *c = arg;
    if (st != ST_OK) { call_fail_store(c, st, NULL); return; }
    update_session_t seen = *s;
    session_observe(&seen, now_ms);
    call_reply(c, session_to_json(&seen));
}

/* A library read through /local-library or /subscribed-library must be of that type. */
void call_on_library(void *arg, store_status_t st, const library_t *l) {
    call_t *c = arg;
    if (st == ST_OK && c->op->library_type >= 0 && (int)l->type != c->op->library_type)
        st = ST_NOT_FOUND;
    if (st != ST_OK) { call_fail_store(c, st, NULL); return; }
    call_reply(c, library_to_json(l));
}

void call_on_item(void *arg, store_status_t st, const item_t *it) {
    call_t *c = arg;
    if (st != ST_OK) { call_fail_store(c, st, NULL); return; }
    call_reply(c, item_to_json(it));
}
