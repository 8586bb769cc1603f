/* net/ops_session.c: the UpdateSession service (vsphere-api.md 2): create, get, list.
 * Legality of state changes is decided by core/fsm.c; the store applies them atomically. */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "core/spec.h"
#include "core/validate.h"
#include "net/api.h"

/* POST .../update-session: spec, optional client_token (query, Client-Token header, or /rest
 * body field), then one atomic store call that also enforces one ACTIVE session per item. */
void op_session_create(call_t *c) {
    session_spec_t spec;
    memset(&spec, 0, sizeof(spec));
    vapi_failure_t f;
    if (spec_session(c->spec, c->prefix, true, &spec, &f) != C_OK) { call_fail(c, &f); return; }

    char token_buf[128];
    bool wrong_type;
    const char *token = call_param(c, "client_token", token_buf, sizeof(token_buf), &wrong_type);
    if (wrong_type) {
        vapi_fail(&f, VAPI_INVALID_ARGUMENT, "invalid_argument",
                  "The field client_token must be a string.", NULL);
        call_fail(c, &f);
        return;
    }
    if (token && check_client_token(token, &f) != C_OK) { call_fail(c, &f); return; }
    if (token) copy_str(c->aux, sizeof(c->aux), token);

    char uuid[37], id[SESSION_ID_MAX];
    new_uuid(uuid);
    snprintf(id, sizeof(id), "%s:%s", spec.library_item_id, uuid);
    call_subject(c, "library item", spec.library_item_id);
    store_session_create(c->app->store, &c->auth, id, &spec, token, call_on_id, c);
}

void op_session_get(call_t *c) {
    char item[ID_MAX];
    if (!parse_session_id(c->id, item)) { call_fail_store(c, ST_NOT_FOUND, NULL); return; }
    store_session_get(c->app->store, &c->auth, c->id, call_on_session, c);
}

/* GET .../update-session[?library_item_id=]: the caller's sessions, optionally of one item. */
void op_session_list(call_t *c) {
    char item[ID_MAX];
    bool has_item = http_query_param(c->req, "library_item_id", item, sizeof(item));
    if (has_item) {
        call_subject(c, "library item", item);
        if (!valid_resource_id(item)) { call_fail_store(c, ST_NOT_FOUND, NULL); return; }
    }
    store_session_list(c->app->store, &c->auth, has_item ? item : NULL, call_on_ids, c);
}
