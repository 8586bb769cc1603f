/* core/validate.h: pure checks on client input (ids, UUID tokens, names, progress) and the
 * ISO-8601 time format. Each check that can fail for a client fills a vapi_failure_t whose
 * message names the field. */
#ifndef CORE_VALIDATE_H
#define CORE_VALIDATE_H

#include "core/common.h"
#include "core/errors.h"

/* Canonical 8-4-12 hex UUID (either case). */
bool valid_uuid(const char *s);

/* Resource ids we accept in paths and bodies: 1..ID_MAX-1 bytes of [A-Za-z0-9_.:-]. Anything
 * else cannot name a resource we made, and must never reach a Redis key. */
bool valid_resource_id(const char *s);
/* Session ids: "<item id>:<uuid>" where the item id passes valid_resource_id. On success the
 * item id part is copied to item_id (size ID_MAX). */
bool parse_session_id(const char *s, char *item_id);

/* `field` is the name used in the message ("library_item_id", "create_spec.name" ...). */
int check_resource_id(const char *field, const char *value, vapi_failure_t *f);
int check_client_token(const char *value, vapi_failure_t *f);
/* Library and item names: non-empty after trimming, valid UTF-8, no control characters,
 * at most max_chars characters. */
int check_name(const char *field, const char *value, size_t max_chars, vapi_failure_t *f);
/* Free text (descriptions): valid UTF-8, at most max_chars characters, no NUL. */
int check_text(const char *field, const char *value, size_t max_chars, vapi_failure_t *f);
int check_progress(const char *field, int64_t value, int current, vapi_failure_t *f);

bool valid_utf8(const char *s, size_t len);
size_t utf8_chars(const char *s);
/* Length (1..4) of the well-formed UTF-8 sequence at s, looking at no more than len bytes;
 * 0 when the bytes there are not well-formed (overlong, surrogate, > U+10FFFF, cut short). */
size_t utf8_seq_len(const char *s, size_t len);

/* "2026-11-27T05:50:36.123Z" into buf (at least 32 bytes). */
void format_iso8601(int64_t ms, char *buf, size_t size);
/* Parses the format above (and without milliseconds); C_ERR when malformed. */
int parse_iso8601(const char *s, int64_t *ms);

#endif
