/* core/model.h: the resources the service keeps (update session, library, library item) as
 * plain C structs, independent of the wire format and of Redis. */
#ifndef CORE_MODEL_H
#define CORE_MODEL_H

#include "core/common.h"
#include "core/errors.h"
#include "core/fsm.h"

/* WarningBehavior (vsphere-api.md 4): one entry per WarningType at most. */
typedef enum {
    WARN_SELF_SIGNED_CERTIFICATE,
    WARN_EXPIRED_CERTIFICATE,
    WARN_NOT_YET_VALID_CERTIFICATE,
    WARN_UNTRUSTED_CERTIFICATE,
    WARNING_TYPE_COUNT
} warning_type_t;
const char *warning_type_name(warning_type_t t);
int warning_type_parse(const char *name, warning_type_t *out);

typedef struct {
    int count;
    struct {
        warning_type_t type;
        bool ignored;
    } items[WARNING_TYPE_COUNT];
} warning_behavior_t;

/* UpdateSessionModel. Times are milliseconds since the Unix epoch (from Redis TIME). */
typedef struct {
    char id[SESSION_ID_MAX];
    char library_item_id[ID_MAX];
    char library_item_content_version[VERSION_MAX];
    session_state_t state;
    int client_progress;
    int64_t expiration_ms;
    bool has_error_message;
    vapi_message_t error_message;
    bool has_warning_behavior;
    warning_behavior_t warning_behavior;
} update_session_t;

/* What create and update accept from a client (UpdateSessionModel's input fields). */
typedef struct {
    char library_item_id[ID_MAX]; /* empty when absent (update) */
    bool has_warning_behavior;
    warning_behavior_t warning_behavior;
} session_spec_t;

typedef enum { LIBRARY_LOCAL, LIBRARY_SUBSCRIBED } library_type_t;
const char *library_type_name(library_type_t t); /* "LOCAL", "SUBSCRIBED" */
int library_type_parse(const char *name, library_type_t *out);

#define BACKINGS_MAX 4
typedef struct {
    char type[16];         /* "DATASTORE" | "OTHER" */
    char datastore_id[ID_MAX];
    char storage_uri[512];
} storage_backing_t;

/* LibraryModel (vsphere-api.md 7.1). subscription_info is kept as the client's JSON text,
 * already checked to be an object (synchronization is a later issue). */
typedef struct {
    char id[ID_MAX];
    char name[NAME_MAX_BYTES];
    char description[DESC_MAX_BYTES];
    library_type_t type;
    int64_t creation_ms;
    int64_t last_modified_ms;
    char version[VERSION_MAX];
    int nbackings;
    storage_backing_t backings[BACKINGS_MAX];
    char *subscription_info_json; /* malloc'd or NULL */
} library_t;

/* ItemModel (vsphere-api.md 7.2). */
typedef struct {
    char id[ID_MAX];
    char library_id[ID_MAX];
    library_type_t library_type; /* copied at creation so session create checks one key */
    char name[NAME_MAX_BYTES];
    char description[DESC_MAX_BYTES];
    char type[TYPE_MAX];
    char content_version[VERSION_MAX];
    char metadata_version[VERSION_MAX];
    char version[VERSION_MAX];
    int64_t creation_ms;
    int64_t last_modified_ms;
    int64_t size;
    bool cached;
} item_t;

/* FindSpec for libraries (name case-insensitive, optional type) and items. Empty strings mean
 * "not given"; at least one field must be given. */
typedef struct {
    char name[NAME_MAX_BYTES];
    bool has_type;
    library_type_t type;
} library_find_t;

typedef struct {
    char name[NAME_MAX_BYTES];
    char library_id[ID_MAX];
    char type[TYPE_MAX];
    bool has_cached;
    bool cached;
} item_find_t;

void library_free(library_t *l); /* frees subscription_info_json */

#endif
