/* net/ops_session.c: the UpdateSession service (vsphere-api.md 2): create, get, list.
 * Legality of state changes is decided by core/fsm.c; the store applies them atomically. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/privilege.h"
#include "core/spec.h"
#include "core/validate.h"
#include "net/api.h"
#include "net/data/data.h"

/* POST .../update-session: spec, optional client_token (query, Client-Token header, or /rest
 * body field), then one atomic store call that also enforces one ACTIVE session per item. */
void op_session_create(call_t *c) {
    session_spec_t spec;
    memset(&spec, 0, sizeof(spec));
    vapi_failure_t f;
    if (spec_session(c->spec, c->prefix, true, &spec, &f) != C_OK) { call_fail(c, &f); return; }

    char token_buf[128];
    param_status_t pst;
    const char *token = call_param(c, "client_token", token_buf, sizeof(token_buf), &pst);
    if (pst != PARAM_OK) {
        call_param_failure("client_token", pst, &f);
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
    /* operators list too (the owner rule: with library_item_id, the session holding the item) */
    c->auth.required_privs |= PRIV_OR_OPERATOR;
    char item[ID_MAX];
    bool has_item = http_query_param(c->req, "library_item_id", item, sizeof(item));
    if (has_item) {
        call_subject(c, "library item", item);
        if (!valid_resource_id(item)) { call_fail_store(c, ST_NOT_FOUND, NULL); return; }
    }
    store_session_list(c->app->store, &c->auth, has_item ? item : NULL, call_on_ids, c);
}

/* Which state-machine event an operation on one session is. */
static session_event_t event_of(const operation_t *op) {
    static const struct {
        const char *action;
        session_event_t event;
    } actions[] = {
        {"complete", EV_COMPLETE}, {"cancel", EV_CANCEL}, {"fail", EV_FAIL},
        {"keep-alive", EV_KEEP_ALIVE},
    };
    if (op->method == HTTP_PATCH) return EV_UPDATE;
    if (op->method == HTTP_DELETE) return EV_DELETE;
    for (size_t i = 0; i < ARRAY_LEN(actions); i++)
        if (op->action && strcmp(op->action, actions[i].action) == 0) return actions[i].event;
    return SESSION_EVENT_COUNT;
}

/* The event-specific input: fail's client_error_message (optional), keep-alive's
 * client_progress (optional, 0..100), update's warning_behavior. */
static int read_change_input(call_t *c, session_change_t *ch, vapi_message_t *client_error,
                             vapi_failure_t *f) {
    struct json_object *v = NULL;
    bool present = c->body && json_object_is_type(c->body, json_type_object);
    if (c->body && !present)
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_argument",
                         "The request body must be a JSON object.", NULL);
    switch (ch->event) {
    case EV_FAIL:
        /* govmomi's FailLibraryItemUpdateSession sends no body: a fail without a message is
         * recorded with a generic one. */
        if (!present || !json_object_object_get_ex(c->body, "client_error_message", &v) ||
            json_object_is_type(v, json_type_null)) {
            vapi_message_set(client_error, "update_session_failed_by_client",
                             "The client failed the update session without a message.", NULL);
            ch->error_message = client_error;
            return C_OK;
        }
        if (!json_object_is_type(v, json_type_string))
            return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_argument",
                             "The field client_error_message must be a string.", NULL);
        if (check_text("client_error_message", json_object_get_string(v), MSG_ARG_MAX - 1, f) != C_OK)
            return C_ERR;
        vapi_message_set(client_error, "update_session_failed_by_client", "{0}",
                         json_object_get_string(v), NULL);
        ch->error_message = client_error;
        return C_OK;
    case EV_KEEP_ALIVE:
        if (!present || !json_object_object_get_ex(c->body, "client_progress", &v) ||
            json_object_is_type(v, json_type_null))
            return C_OK;
        if (!json_object_is_type(v, json_type_int))
            return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_argument",
                             "The field client_progress must be an integer.", NULL);
        if (check_progress("client_progress", json_object_get_int64(v), 0, f) != C_OK) return C_ERR;
        ch->has_progress = true;
        ch->progress = (int)json_object_get_int64(v);
        return C_OK;
    case EV_UPDATE: {
        session_spec_t spec;
        memset(&spec, 0, sizeof(spec));
        if (!c->spec)
            return vapi_fail(f, VAPI_INVALID_ARGUMENT, "field_required", "The {0} is required.",
                             c->flavour == FLAVOUR_REST ? "update_spec" : "request body", NULL);
        if (spec_session(c->spec, c->prefix, false, &spec, f) != C_OK) return C_ERR;
        ch->has_warning_behavior = spec.has_warning_behavior;
        ch->warning_behavior = spec.warning_behavior;
        return C_OK;
    }
    default:
        return C_OK;
    }
}

/* A change went through: a session that ended stops its transfers on this instance at once
 * (elsewhere: at their next heartbeat); its staging directory went on the garbage list. */
static void on_changed(void *arg, store_status_t st, const char *detail) {
    call_t *c = arg;
    session_event_t ev = event_of(c->op);
    if (st == ST_OK && (ev == EV_CANCEL || ev == EV_FAIL)) {
        data_stop(c->app->data, c->id, NULL, DATA_SESSION_ENDED);
        data_garbage_made(c->app->data);
    }
    call_on_void(arg, st, detail);
}

/* complete: the one publish path (net/data/publish.c). "REQUESTED" (PULLs still run) is a
 * success too: the instance that ends the last pull completes the session. */
static void on_published(void *arg, store_status_t st, const char *detail,
                         const vapi_failure_t *local) {
    call_t *c = arg;
    if (local) { call_fail(c, local); return; }
    if (st != ST_OK) { call_fail_store(c, st, detail); return; }
    call_reply(c, NULL);
}

/* PATCH, DELETE and the actions complete, cancel, fail, keep-alive: one compare-and-set in the
 * store with the state machine's answer for this event from every state. */
void op_session_change(call_t *c) {
    char item[ID_MAX];
    vapi_failure_t f;
    if (!parse_session_id(c->id, item)) { call_fail_store(c, ST_NOT_FOUND, NULL); return; }
    session_change_t ch;
    session_change_init(&ch, event_of(c->op));
    vapi_message_t client_error; /* the store copies it into the call's arguments */
    if (read_change_input(c, &ch, &client_error, &f) != C_OK) { call_fail(c, &f); return; }
    if (ch.event == EV_COMPLETE) {
        data_publish(c->app->data, &c->auth, c->id, on_published, c);
        return;
    }
    store_session_change(c->app->store, &c->auth, c->id, &ch, on_changed, c);
}

/* The download-session service is not implemented: its list is empty, for a valid login. */
static void on_login_checked(void *arg, store_status_t st, const char *user, int64_t created_ms,
                             int64_t last_ms) {
    (void)user;
    (void)created_ms;
    (void)last_ms;
    call_t *c = arg;
    if (st != ST_OK) { call_fail_store(c, st, NULL); return; }
    call_reply(c, ids_to_json(NULL, 0));
}

void op_download_session_list(call_t *c) {
    store_login_info(c->app->store, &c->auth, on_login_checked, c);
}
