/* core/session.c: time-dependent rules of an update session (see session.h). Expiry goes
 * through the state machine like every other change (ACTIVE + expire -> ERROR). */
#include "core/session.h"


bool session_is_expired(const update_session_t *s, int64_t now_ms) {
    return s->state == SESSION_ACTIVE && now_ms > s->expiration_ms;
}

void session_expired_message(vapi_message_t *m) {
    vapi_message_set(m, "update_session_expired",
                     "The update session expired: it had no activity before its expiration time.",
                     NULL);
}

bool session_observe(update_session_t *s, int64_t now_ms) {
    session_state_t next;
    if (!session_is_expired(s, now_ms) || fsm_apply(s->state, EV_EXPIRE, &next) != C_OK)
        return false;
    s->state = next;
    s->has_error_message = true;
    session_expired_message(&s->error_message);
    return true;
}
