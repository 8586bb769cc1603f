/* core/spec.h: decoding client JSON (json-c objects, already parsed with a depth limit) into
 * validated specs, and the JSON shape of a LocalizableMessage. Pure: no I/O.
 *
 * Every decoder takes `prefix`, the path of the object in the request as the client sees it
 * ("" on /api, "create_spec." on /rest), so messages name the exact field, for example
 * "The field create_spec.library_item_id is required." Unknown fields are ignored; a known
 * field of the wrong JSON type is INVALID_ARGUMENT. A NULL body counts as an empty object only
 * where the operation has no required field. */
#ifndef CORE_SPEC_H
#define CORE_SPEC_H

#include "core/model.h"

struct json_object;

#define ITEM_NAME_MAX_CHARS 80
#define LIBRARY_NAME_MAX_CHARS 80
#define DESCRIPTION_MAX_CHARS 2000

/* UpdateSessionModel for create (library_item_id required) or update (only warning_behavior
 * is read). */
int spec_session(struct json_object *body, const char *prefix, bool create, session_spec_t *out,
                 vapi_failure_t *f);
/* LibraryModel for local-library / subscribed-library create. `type` comes from the endpoint.
 * name required; description optional; storage_backings optional, more than one is
 * UNSUPPORTED; subscription_info required (an object) for SUBSCRIBED. Times and id are
 * filled by the caller. */
int spec_library(struct json_object *body, const char *prefix, library_type_t type, library_t *out,
                 vapi_failure_t *f);
/* ItemModel for item create: library_id and name required; description, type optional. */
int spec_item(struct json_object *body, const char *prefix, item_t *out, vapi_failure_t *f);
/* FindSpecs; an empty spec is INVALID_ARGUMENT. */
int spec_library_find(struct json_object *body, const char *prefix, library_find_t *out,
                      vapi_failure_t *f);
int spec_item_find(struct json_object *body, const char *prefix, item_find_t *out,
                   vapi_failure_t *f);

/* {"id":..,"default_message":..,"args":[..]} (args always present). */
struct json_object *message_to_json(const vapi_message_t *m);
/* A failure's error body: /api {"error_type":..,"messages":[..]}; /rest the same wrapped as
 * {"type":"com.vmware.vapi.std.errors.x","value":{...}}. */
struct json_object *failure_to_json(const vapi_failure_t *f, flavour_t flavour);
int message_from_json(struct json_object *obj, vapi_message_t *m);
/* [{"type":..,"ignored":..}, ...] */
struct json_object *warning_behavior_to_json(const warning_behavior_t *w);

#endif
