/* store/lifecycle.c: changing an update session's state. The legality of every change is the
 * state machine's (core/fsm.c): session_change_init asks it for the answer from every state,
 * and session_change.lua only looks the record's current state up in that answer and sets. */
#include "store/redis.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "core/session.h"
#include "core/spec.h"

void session_change_init(session_change_t *ch, session_event_t ev) {
    memset(ch, 0, sizeof(*ch));
    ch->event = ev;
    for (int s = 0; s < SESSION_STATE_COUNT; s++)
        ch->allowed[s] = fsm_apply((session_state_t)s, ev, &ch->next[s]) == C_OK;
    ch->activity = ev == EV_KEEP_ALIVE || ev == EV_UPDATE || ev == EV_FILE_ADD ||
                   ev == EV_FILE_REMOVE || ev == EV_FILE_VALIDATE || ev == EV_FILE_TRANSFER;
}

int64_t lock_backstop_ms(const store_config_t *cfg) {
    return cfg->session_timeout_ms * 2 + 60000;
}

const char *expiry_next_state(void) {
    session_state_t next = SESSION_ERROR;
    int rc = fsm_apply(SESSION_ACTIVE, EV_EXPIRE, &next);
    return rc == C_OK ? session_state_name(next) : "";
}

const char *expiry_message_json(void) {
    static char text[MSG_TEXT_MAX + 256];
    if (!text[0]) {
        vapi_message_t m;
        session_expired_message(&m);
        struct json_object *o = message_to_json(&m);
        copy_str(text, sizeof(text), json_text(o));
        json_object_put(o);
    }
    return text;
}

const char *lapsed_states_arg(void) {
    static char text[96];
    if (!text[0])
        snprintf(text, sizeof(text), "PUSH=%s PULL=%s",
                 transfer_status_name(transfer_lapsed_state(SOURCE_PUSH)),
                 transfer_status_name(transfer_lapsed_state(SOURCE_PULL)));
    return text;
}

const char *pull_lost_message_json(void) {
    static char text[MSG_TEXT_MAX + 256];
    if (!text[0]) {
        vapi_message_t m;
        vapi_message_set(&m, "update_session_file_transfer_failed",
                         "The transfer of file {0} failed: the instance moving its bytes went "
                         "away.", "\x01", (const char *)NULL);
        struct json_object *o = message_to_json(&m);
        copy_str(text, sizeof(text), json_text(o));
        json_object_put(o);
    }
    return text;
}

/* "ACTIVE=DONE/1 DONE=... ": the allowed states, each with its next state and whether that
 * one is terminal. */
void session_change_encode(const session_change_t *ch, char *out, size_t size) {
    size_t used = 0;
    out[0] = '\0';
    for (int s = 0; s < SESSION_STATE_COUNT && used < size; s++) {
        if (!ch->allowed[s]) continue;
        int n = snprintf(out + used, size - used, "%s=%s/%d ", session_state_name((session_state_t)s),
                         session_state_name(ch->next[s]), session_state_terminal(ch->next[s]));
        if (n > 0) used += (size_t)n;
    }
}

/* ARGV retention ms, the state cancel leads an ACTIVE session to, the message it records: what
 * session_lib.lua's item_gone needs to end the session of an item being deleted. */
void cmd_arg_item_gone(store_cmd_t *c) {
    static char message[320];
    session_state_t next = SESSION_CANCELED;
    if (!message[0]) {
        vapi_message_t m;
        vapi_message_set(&m, "update_session_item_deleted",
                         "The update session was canceled because its library item was deleted.",
                         (const char *)NULL);
        struct json_object *o = message_to_json(&m);
        copy_str(message, sizeof(message), json_text(o));
        json_object_put(o);
    }
    fsm_apply(SESSION_ACTIVE, EV_CANCEL, &next);
    cmd_arg_i64(c, store_cfg(c->st)->retention_ms);
    cmd_arg(c, session_state_name(next));
    cmd_arg(c, message);
}

/* {'OK', state before, state after} (no state after for delete): a change of state counts. */
static void reply_changed(store_status_t s, const struct redisReply *r, store_fn_t cb,
                          void *arg) {
    const char *before = s == ST_OK ? reply_str(r, 1) : NULL, *after = reply_str(r, 2);
    session_state_t to;
    if (before && after && strcmp(before, after) != 0 && session_state_parse(after, &to) == C_OK)
        store_count_transition(to, 1);
    reply_done(s, r, cb, arg);
}

/* Complete is refused here: its one path is store_session_complete (store/files.c), the
 * compare-and-set over the blobs that were linked. */
void store_session_change(store_t *st, const store_auth_t *auth, const char *id,
                          const session_change_t *ch, store_done_cb cb, void *arg) {
    const store_config_t *cfg = store_cfg(st);
    char item[ID_MAX], transitions[160];
    store_cmd_t c;
    cmd_init_auth(&c, st, auth);
    if (ch->event == EV_COMPLETE) {
        store_log("session change: complete goes through store_session_complete");
        cmd_fail(&c, ST_INTERNAL);
    }
    cmd_key_session(&c, id, item);
    if (c.local == ST_OK) {
        cmd_key_item(&c, item, "lock");
        cmd_key_item(&c, item, "item");
    }
    cmd_key(&c, "deadlines", (const char *)NULL);
    session_change_encode(ch, transitions, sizeof(transitions));
    cmd_arg(&c, id);
    cmd_arg(&c, transitions);
    cmd_arg(&c, ch->activity ? "1" : "0");
    cmd_arg_i64(&c, cfg->session_timeout_ms);
    cmd_arg_i64(&c, lock_backstop_ms(cfg));
    cmd_arg_i64(&c, cfg->retention_ms);
    struct json_object *err = ch->error_message ? message_to_json(ch->error_message) : NULL;
    cmd_arg(&c, err ? json_text(err) : "");
    char progress[16] = "";
    if (ch->has_progress) snprintf(progress, sizeof(progress), "%d", ch->progress);
    cmd_arg(&c, progress);
    struct json_object *wb =
        ch->has_warning_behavior ? warning_behavior_to_json(&ch->warning_behavior) : NULL;
    cmd_arg(&c, ch->has_warning_behavior ? "1" : "0");
    cmd_arg(&c, wb ? json_text(wb) : "");
    cmd_arg(&c, ch->event == EV_DELETE ? "1" : "0");
    cmd_arg(&c, expiry_next_state());
    cmd_arg(&c, expiry_message_json());
    cmd_arg_prefix(&c);
    cmd_arg(&c, session_event_for_operators(ch->event) ? "1" : "0");
    cmd_arg(&c, session_event_name(ch->event)); /* the events stream's reason */
    store_eval(&c, SCRIPT_SESSION_CHANGE, reply_changed, (store_fn_t)cb, arg); /* copies args */
    json_object_put(err);
    json_object_put(wb);
}
