/* core/session.h: rules about an update session that need the current time (passed in, from
 * Redis TIME): when it counts as expired, and the message an expired session carries. */
#ifndef CORE_SESSION_H
#define CORE_SESSION_H

#include "core/model.h"

/* True when an ACTIVE session's expiration_time has passed at now_ms. The session is
 * guaranteed not to expire earlier than expiration_time, so "passed" is strictly after. */
bool session_is_expired(const update_session_t *s, int64_t now_ms);

/* The error_message an expired session carries. It has no arguments, so the store can record
 * the same text when a sweeper (or a create that finds the item's lock stale) expires it. */
void session_expired_message(vapi_message_t *m);

/* What a reader must see: a session past its deadline reads as ERROR with the expired message,
 * even before a sweeper recorded it. Returns true when it changed *s. */
bool session_observe(update_session_t *s, int64_t now_ms);

#endif
