/* net/routes.c: the operation table, written once for both wire flavours, and the dispatch
 * that turns an HTTP request into a call: flavour from the path prefix, operation from method
 * + path shape + action, the path id (the /rest "id:" prefix stripped once), the body parsed
 * with a depth limit, and the login token from the header or cookie. */
#include <event2/buffer.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/json_strict.h"
#include "core/privilege.h"
#include "core/validate.h"
#include "net/admin.h"
#include "net/api.h"
#include "net/metrics.h"
#include "net/soap.h"

#define CL "/api/content/library"
#define RCL "/rest/com/vmware/content/library"
#define US "/item/update-session"
#define RF RCL "/item/updatesession/file"

static const operation_t operations[] = {
    /* logins */
    {"session.create", HTTP_POST, "/api/session", "/rest/com/vmware/cis/session", NULL, NULL,
     RESULT_CREATED, PRIV_NONE, true, NULL, -1, op_login_create},
    {"session.get", HTTP_GET, "/api/session", NULL, NULL, NULL, RESULT_VALUE, PRIV_NONE, false,
     NULL, -1, op_login_get},
    {"session.get", HTTP_POST, NULL, "/rest/com/vmware/cis/session", "get", NULL, RESULT_VALUE,
     PRIV_NONE, false, NULL, -1, op_login_get},
    {"session.delete", HTTP_DELETE, "/api/session", "/rest/com/vmware/cis/session", NULL, NULL,
     RESULT_VOID, PRIV_NONE, false, NULL, -1, op_login_delete},

    /* libraries */
    {"local_library.create", HTTP_POST, "/api/content/local-library",
     "/rest/com/vmware/content/local-library", NULL, "create_spec", RESULT_CREATED,
     PRIV_CREATE_LOCAL_LIBRARY, false, "library", LIBRARY_LOCAL, op_library_create},
    {"local_library.list", HTTP_GET, "/api/content/local-library",
     "/rest/com/vmware/content/local-library", NULL, NULL, RESULT_VALUE, PRIV_SYSTEM_READ,
     false, "library", LIBRARY_LOCAL, op_library_list},
    {"local_library.get", HTTP_GET, "/api/content/local-library/{}",
     "/rest/com/vmware/content/local-library/{}", NULL, NULL, RESULT_VALUE, PRIV_SYSTEM_READ,
     false, "library", LIBRARY_LOCAL, op_library_get},
    {"local_library.delete", HTTP_DELETE, "/api/content/local-library/{}",
     "/rest/com/vmware/content/local-library/{}", NULL, NULL, RESULT_VOID,
     PRIV_DELETE_LOCAL_LIBRARY, false, "library", LIBRARY_LOCAL, op_library_delete},
    {"subscribed_library.create", HTTP_POST, "/api/content/subscribed-library",
     "/rest/com/vmware/content/subscribed-library", NULL, "create_spec", RESULT_CREATED,
     PRIV_CREATE_SUBSCRIBED_LIBRARY, false, "library", LIBRARY_SUBSCRIBED, op_library_create},
    {"subscribed_library.list", HTTP_GET, "/api/content/subscribed-library",
     "/rest/com/vmware/content/subscribed-library", NULL, NULL, RESULT_VALUE, PRIV_SYSTEM_READ,
     false, "library", LIBRARY_SUBSCRIBED, op_library_list},
    {"subscribed_library.get", HTTP_GET, "/api/content/subscribed-library/{}",
     "/rest/com/vmware/content/subscribed-library/{}", NULL, NULL, RESULT_VALUE,
     PRIV_SYSTEM_READ, false, "library", LIBRARY_SUBSCRIBED, op_library_get},
    {"subscribed_library.delete", HTTP_DELETE, "/api/content/subscribed-library/{}",
     "/rest/com/vmware/content/subscribed-library/{}", NULL, NULL, RESULT_VOID,
     PRIV_DELETE_SUBSCRIBED_LIBRARY, false, "library", LIBRARY_SUBSCRIBED, op_library_delete},
    {"library.list", HTTP_GET, CL, RCL, NULL, NULL, RESULT_VALUE, PRIV_SYSTEM_READ, false,
     "library", -1, op_library_list},
    {"library.get", HTTP_GET, CL "/{}", RCL "/{}", NULL, NULL, RESULT_VALUE, PRIV_SYSTEM_READ,
     false, "library", -1, op_library_get},
    {"library.find", HTTP_POST, CL, RCL, "find", "spec", RESULT_VALUE, PRIV_SYSTEM_READ, false,
     "library", -1, op_library_find},

    /* library items */
    {"item.create", HTTP_POST, CL "/item", RCL "/item", NULL, "create_spec", RESULT_CREATED,
     PRIV_ADD_LIBRARY_ITEM, false, "library", -1, op_item_create},
    {"item.list", HTTP_GET, CL "/item", RCL "/item", NULL, NULL, RESULT_VALUE,
     PRIV_SYSTEM_READ, false, "library", -1, op_item_list},
    {"item.find", HTTP_POST, CL "/item", RCL "/item", "find", "spec", RESULT_VALUE,
     PRIV_SYSTEM_READ, false, "library item", -1, op_item_find},
    {"item.get", HTTP_GET, CL "/item/{}", RCL "/item/{}", NULL, NULL, RESULT_VALUE,
     PRIV_SYSTEM_READ, false, "library item", -1, op_item_get},
    {"item.delete", HTTP_DELETE, CL "/item/{}", RCL "/item/{}", NULL, NULL, RESULT_VOID,
     PRIV_DELETE_LIBRARY_ITEM, false, "library item", -1, op_item_delete},

    /* update sessions */
    {"update_session.create", HTTP_POST, CL US, RCL US, NULL, "create_spec", RESULT_CREATED,
     PRIV_UPDATE_SESSION, false, "library item", -1, op_session_create},
    {"update_session.list", HTTP_GET, CL US, RCL US, NULL, NULL, RESULT_VALUE,
     PRIV_UPDATE_SESSION, false, "library item", -1, op_session_list},
    {"update_session.get", HTTP_GET, CL US "/{}", RCL US "/{}", NULL, NULL, RESULT_VALUE,
     PRIV_NONE, false, "update session", -1, op_session_get},
    {"update_session.update", HTTP_PATCH, CL US "/{}", RCL US "/{}", NULL, "update_spec",
     RESULT_VOID, PRIV_NONE, false, "update session", -1, op_session_change},
    {"update_session.delete", HTTP_DELETE, CL US "/{}", RCL US "/{}", NULL, NULL, RESULT_VOID,
     PRIV_NONE, false, "update session", -1, op_session_change},
    {"update_session.complete", HTTP_POST, CL US "/{}", RCL US "/{}", "complete", NULL,
     RESULT_VOID, PRIV_NONE, false, "update session", -1, op_session_change},
    {"update_session.cancel", HTTP_POST, CL US "/{}", RCL US "/{}", "cancel", NULL, RESULT_VOID,
     PRIV_NONE, false, "update session", -1, op_session_change},
    {"update_session.fail", HTTP_POST, CL US "/{}", RCL US "/{}", "fail", NULL, RESULT_VOID,
     PRIV_NONE, false, "update session", -1, op_session_change},
    {"update_session.keep_alive", HTTP_POST, CL US "/{}", RCL US "/{}", "keep-alive", NULL,
     RESULT_VOID, PRIV_NONE, false, "update session", -1, op_session_change},

    /* files of an update session; /rest spells the service "updatesession" */
    {"update_session.file.add", HTTP_POST, CL US "/{}/file", NULL, NULL, NULL, RESULT_CREATED,
     PRIV_NONE, false, "update session", -1, op_file_add},
    {"update_session.file.add", HTTP_POST, CL US "/{}/file", RF "/{}", "add", "file_spec",
     RESULT_CREATED, PRIV_NONE, false, "update session", -1, op_file_add},
    {"update_session.file.list", HTTP_GET, CL US "/{}/file", RF, NULL, NULL, RESULT_VALUE,
     PRIV_NONE, false, "update session", -1, op_file_list},
    {"update_session.file.get", HTTP_GET, CL US "/{}/file/{name}", NULL, NULL, NULL,
     RESULT_VALUE, PRIV_NONE, false, "update session", -1, op_file_get},
    {"update_session.file.get", HTTP_POST, NULL, RF "/{}", "get", NULL, RESULT_VALUE, PRIV_NONE,
     false, "update session", -1, op_file_get},
    {"update_session.file.remove", HTTP_DELETE, CL US "/{}/file/{name}", NULL, NULL, NULL,
     RESULT_VOID, PRIV_NONE, false, "update session", -1, op_file_remove},
    {"update_session.file.remove", HTTP_POST, NULL, RF "/{}", "remove", NULL, RESULT_VOID,
     PRIV_NONE, false, "update session", -1, op_file_remove},
    {"update_session.file.validate", HTTP_POST, CL US "/{}/file", RF "/{}", "validate", NULL,
     RESULT_VALUE, PRIV_NONE, false, "update session", -1, op_file_validate},

    /* download sessions: not served yet; the list is empty (govc library.session.ls reads it) */
    {"download_session.list", HTTP_GET, CL "/item/download-session", RCL "/item/download-session",
     NULL, NULL, RESULT_VALUE, PRIV_NONE, false, NULL, -1, op_download_session_list},

    /* an item's published files */
    {"item.file.list", HTTP_GET, CL "/item/{}/file", RCL "/item/file", NULL, NULL, RESULT_VALUE,
     PRIV_SYSTEM_READ, false, "library item", -1, op_item_files},
    {"item.file.get", HTTP_POST, NULL, RCL "/item/file/{}", "get", NULL, RESULT_VALUE,
     PRIV_SYSTEM_READ, false, "library item", -1, op_item_files},
};

/* Matches a path against a pattern of literal segments, at most one "{}" segment (an id; on
 * /rest it must be "id:<id>" and the prefix is stripped once) and at most one "{name}" segment
 * (a file name, as is). */
static bool path_match(const char *pattern, const char *path, flavour_t flavour, char *id,
                       size_t id_size, char *name, size_t name_size) {
    id[0] = name[0] = '\0';
    while (*pattern && *path) {
        if (*pattern != '{') {
            if (*pattern != *path) return false;
            pattern++;
            path++;
            continue;
        }
        bool is_id = strncmp(pattern, "{}", 2) == 0; /* else "{name}" */
        const char *end = strchr(path, '/');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        if (is_id && flavour == FLAVOUR_REST) {
            if (len < 3 || strncmp(path, "id:", 3) != 0) return false;
            path += 3;
            len -= 3;
        }
        char *out = is_id ? id : name;
        if (len == 0 || len >= (is_id ? id_size : name_size)) return false;
        memcpy(out, path, len);
        out[len] = '\0';
        path += len;
        pattern += is_id ? 2 : 6;
    }
    if (*path == '/' && path[1] == '\0') path++; /* tolerate one trailing slash */
    return *pattern == '\0' && *path == '\0';
}

static flavour_t flavour_of(const char *path) {
    return path && strncmp(path, "/rest/", 6) == 0 ? FLAVOUR_REST : FLAVOUR_API;
}

/* The login token: header vmware-api-session-id, else the cookie of that name. True when it
 * came from the cookie. */
static bool read_token(const http_request_t *req, char *out, size_t size) {
    out[0] = '\0';
    const char *h = http_header(req, "vmware-api-session-id");
    if (h) { copy_str(out, size, h); return false; }
    const char *cookie = http_header(req, "Cookie");
    const char *name = "vmware-api-session-id=";
    for (const char *p = cookie; p && (p = strstr(p, name)) != NULL; p++) {
        if (p != cookie && p[-1] != ' ' && p[-1] != ';') continue;
        p += strlen(name);
        size_t len = strcspn(p, ";");
        if (len < size) { memcpy(out, p, len); out[len] = '\0'; }
        return out[0] != '\0';
    }
    return false;
}

/* Cross-site request forgery: a browser sends the cookie with any cross-site form post, but
 * only a same-origin script (or a non-browser client) can send Content-Type: application/json
 * or a custom header. So a state-changing request carried by the cookie alone must say it is
 * JSON; one with the vmware-api-session-id header (govc, every SDK) needs nothing more. */
static bool csrf_refused(const http_request_t *req, bool token_from_cookie) {
    if (!token_from_cookie) return false;
    if (req->method != HTTP_POST && req->method != HTTP_PUT && req->method != HTTP_PATCH &&
        req->method != HTTP_DELETE)
        return false;
    const char *ct = http_header(req, "Content-Type");
    if (!ct) return true;
    ct += strspn(ct, " \t");
    size_t n = strcspn(ct, "; \t");
    return !(n == 16 && strncasecmp(ct, "application/json", 16) == 0);
}

/* What json-c accepts and a body must not hold: a repeated key (json-c keeps the last) and
 * NaN / Infinity / overflowing numbers. */
static int strict_body(call_t *c, const char *text, size_t len, vapi_failure_t *f) {
    char where[128];
    json_strict_t r = json_strict_check(text, len, c->body, where, sizeof(where));
    if (r == JSON_STRICT_OK) return C_OK;
    json_object_put(c->body);
    c->body = NULL;
    if (r == JSON_STRICT_DUPLICATE_KEY)
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_json",
                         "The request body is not valid JSON: the key {0} appears twice in one "
                         "object.", where, NULL);
    return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_json",
                     "The request body is not valid JSON: the value of {0} is not a finite "
                     "number.", where[0] ? where : "the body", NULL);
}

/* Parses the body with the configured depth limit. An empty body gives NULL and C_OK. */
static int parse_body(call_t *c, vapi_failure_t *f) {
    struct evbuffer *buf = c->req->body;
    size_t len = buf ? evbuffer_get_length(buf) : 0;
    if (len == 0) return C_OK;
    const char *text = (const char *)evbuffer_pullup(buf, -1);
    struct json_tokener *tok = json_tokener_new_ex(c->app->cfg.json_max_depth);
    if (tok) json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    if (!tok) return vapi_fail(f, VAPI_INTERNAL_SERVER_ERROR, "internal_error", "Out of memory.", NULL);
    c->body = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error err = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (err == json_tokener_success) {
        while (used < len && strchr(" \t\r\n", text[used])) used++;
        if (used == len) return strict_body(c, text, len, f);
        err = json_tokener_error_parse_unexpected;
    }
    if (c->body) { json_object_put(c->body); c->body = NULL; }
    if (err == json_tokener_continue) err = json_tokener_error_parse_eof;
    return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_json",
                     "The request body is not valid JSON: {0}.", json_tokener_error_desc(err), NULL);
}

/* Finds the operation for method + path + action. Literal paths win over patterns with an
 * id ("/item/update-session" is not item "update-session"), so patterns are tried in a second
 * pass. *path_known tells a caller whose method or action matched nothing whether the path
 * itself exists (for the message). */
/* Whether op's pattern in this flavour has a {} or {name} segment; computed once (a pattern
 * without one is tried first, so /update-session/file is not read as an id). */
static bool pattern_has_segment(const operation_t *op, flavour_t flavour) {
    static signed char memo[2][ARRAY_LEN(operations)];
    size_t i = (size_t)(op - operations);
    signed char *m = &memo[flavour == FLAVOUR_REST][i];
    if (*m == 0) {
        const char *pattern = flavour == FLAVOUR_REST ? op->rest_path : op->api_path;
        *m = pattern && strchr(pattern, '{') ? 1 : -1;
    }
    return *m > 0;
}

static bool row_fits(const operation_t *op, const http_request_t *req, const char *action) {
    return op->method == req->method && (op->action == NULL) == (action == NULL) &&
           (!action || strcmp(op->action, action) == 0);
}

/* The operation for this method, path and action. Literal patterns come first: a path one of
 * them names (with whatever method) is never read as an id, so DELETE .../item/update-session
 * is "method not supported", not a delete of item "update-session". Patterns with an id are
 * then tried only in the rows of the request's method and action; when none matches, one more
 * walk tells whether the path exists at all (for the error message). */
static const operation_t *find_operation(const http_request_t *req, flavour_t flavour,
                                         const char *action, char *id, size_t id_size,
                                         char *name, size_t name_size, bool *path_known) {
    *path_known = false;
    const operation_t *found = NULL;
    for (size_t i = 0; i < ARRAY_LEN(operations); i++) {
        const operation_t *op = &operations[i];
        const char *pattern = flavour == FLAVOUR_REST ? op->rest_path : op->api_path;
        if (!pattern || pattern_has_segment(op, flavour) ||
            !path_match(pattern, req->path, flavour, id, id_size, name, name_size))
            continue;
        *path_known = true;
        if (!found && row_fits(op, req, action)) found = op;
    }
    if (*path_known) return found;
    for (size_t i = 0; i < ARRAY_LEN(operations); i++) {
        const operation_t *op = &operations[i];
        const char *pattern = flavour == FLAVOUR_REST ? op->rest_path : op->api_path;
        if (pattern && pattern_has_segment(op, flavour) && row_fits(op, req, action) &&
            path_match(pattern, req->path, flavour, id, id_size, name, name_size)) {
            *path_known = true;
            return op;
        }
    }
    for (size_t i = 0; i < ARRAY_LEN(operations) && !*path_known; i++) {
        const operation_t *op = &operations[i];
        const char *pattern = flavour == FLAVOUR_REST ? op->rest_path : op->api_path;
        *path_known = pattern && path_match(pattern, req->path, flavour, id, id_size, name, name_size);
    }
    return NULL;
}

size_t api_operation_count(void) { return ARRAY_LEN(operations); }

const char *api_operation_name(size_t row) {
    return row < ARRAY_LEN(operations) ? operations[row].name : "";
}

void api_handle(http_request_t *req, void *arg) {
    app_t *app = arg;
    /* health and metrics live here unless --admin-listen gives them a listener of their own */
    if (!app->admin && admin_route(req, app)) return;
    if (soap_handles(req)) {
        req->tag = REQ_SOAP;
        soap_handle(req, app);
        return;
    }
    flavour_t flavour = flavour_of(req->path);
    vapi_failure_t f;
    char bad[64];
    if (!http_query_valid(req, bad, sizeof(bad))) {
        vapi_fail(&f, VAPI_INVALID_ARGUMENT, "invalid_query_parameter",
                  "The query parameter {0} is not validly percent-encoded.", bad, NULL);
        send_failure(req, flavour, &f);
        return;
    }
    char action[64];
    const char *act = http_query_param(req, flavour == FLAVOUR_REST ? "~action" : "action",
                                       action, sizeof(action)) ? action : NULL;
    /* /rest create operations may also be called as ?~action=create (6.0 docs, vcsim). */
    if (act && flavour == FLAVOUR_REST && req->method == HTTP_POST && strcmp(act, "create") == 0)
        act = NULL;

    char id[SESSION_ID_MAX], name[FILE_NAME_MAX];
    bool path_known;
    const operation_t *op =
        find_operation(req, flavour, act, id, sizeof(id), name, sizeof(name), &path_known);
    req->tag = op ? REQ_OPERATIONS + (int)(op - operations) : REQ_UNMATCHED;
    if (!op) {
        if (act)
            vapi_fail(&f, VAPI_OPERATION_NOT_FOUND, "vapi.method.input.invalid.action",
                      "The action {0} is not available for {1} {2}.", act, req->method_name,
                      req->path, NULL);
        else
            vapi_fail(&f, VAPI_OPERATION_NOT_FOUND, "vapi.method.not.found",
                      path_known ? "The method {0} is not supported on {1}."
                                 : "There is no operation at {0} {1}.",
                      req->method_name, req->path, NULL);
        send_failure(req, flavour, &f);
        return;
    }

    call_t *c = calloc(1, sizeof(*c));
    if (!c) {
        vapi_fail(&f, VAPI_UNABLE_TO_ALLOCATE_RESOURCE, "out_of_memory", "Out of memory.", NULL);
        send_failure(req, flavour, &f);
        return;
    }
    c->app = app;
    c->req = req;
    c->op = op;
    c->flavour = flavour;
    memcpy(c->id, id, sizeof(c->id));
    memcpy(c->name, name, sizeof(c->name));
    bool token_from_cookie = read_token(req, c->token, sizeof(c->token));
    if (!op->anonymous && csrf_refused(req, token_from_cookie)) {
        vapi_fail(&f, VAPI_UNAUTHENTICATED, "vapi.security.authentication.cookie_needs_json",
                  "A {0} request authenticated by the session cookie alone must have the header "
                  "Content-Type: application/json (or send the login in the header "
                  "vmware-api-session-id).", req->method_name, NULL);
        call_fail(c, &f);
        return;
    }
    c->auth.token = c->token;
    c->auth.required_privs = op->privs;
    c->prefix = "";
    if (parse_body(c, &f) != C_OK) { call_fail(c, &f); return; }
    c->spec = c->body;
    if (flavour == FLAVOUR_REST && op->rest_spec) {
        struct json_object *inner = NULL;
        if (c->body && json_object_is_type(c->body, json_type_object) &&
            json_object_object_get_ex(c->body, op->rest_spec, &inner))
            c->spec = inner;
        else
            c->spec = NULL;
        snprintf(c->prefix_buf, sizeof(c->prefix_buf), "%s.", op->rest_spec);
        c->prefix = c->prefix_buf;
    }
    if (!op->anonymous && !c->token[0]) {
        call_fail_store(c, ST_UNAUTHENTICATED, NULL);
        return;
    }
    if (c->id[0] && op->subject) {
        if (!valid_resource_id(c->id)) {
            call_subject(c, op->subject, c->id);
            call_fail_store(c, ST_NOT_FOUND, NULL);
            return;
        }
    }
    op->fn(c);
}

/* Requests the front end refused (400 malformed, 413 body too large, 431 headers too large,
 * 501 transfer coding, 503 over a connection cap, 505): the front end decides the status,
 * the body says why in the vAPI shape. */
void api_reject(http_request_t *req, int status, const char *reason, void *arg) {
    (void)arg;
    req->tag = REQ_REJECTED;
    vapi_failure_t f;
    vapi_fail(&f, status == 503 ? VAPI_SERVICE_UNAVAILABLE : VAPI_INVALID_REQUEST,
              "vapi.http.request.rejected", "The request was rejected: {0}.", reason, NULL);
    send_failure_status(req, flavour_of(req->path), &f, status);
}
