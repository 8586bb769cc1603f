/* core/errors.h: the 25 standard vAPI error types, their names in both wire flavours and their
 * HTTP status per flavour (vsphere-api.md 5.3), and the failure value every layer passes up. */
#ifndef CORE_ERRORS_H
#define CORE_ERRORS_H

#include "core/common.h"

typedef enum {
    VAPI_ERROR,
    VAPI_ALREADY_EXISTS,
    VAPI_ALREADY_IN_DESIRED_STATE,
    VAPI_CANCELED,
    VAPI_CONCURRENT_CHANGE,
    VAPI_FEATURE_IN_USE,
    VAPI_INTERNAL_SERVER_ERROR,
    VAPI_INVALID_ARGUMENT,
    VAPI_INVALID_ELEMENT_CONFIGURATION,
    VAPI_INVALID_ELEMENT_TYPE,
    VAPI_INVALID_REQUEST,
    VAPI_NOT_ALLOWED_IN_CURRENT_STATE,
    VAPI_NOT_FOUND,
    VAPI_OPERATION_NOT_FOUND,
    VAPI_RESOURCE_BUSY,
    VAPI_RESOURCE_IN_USE,
    VAPI_RESOURCE_INACCESSIBLE,
    VAPI_SERVICE_UNAVAILABLE,
    VAPI_TIMED_OUT,
    VAPI_UNABLE_TO_ALLOCATE_RESOURCE,
    VAPI_UNAUTHENTICATED,
    VAPI_UNAUTHORIZED,
    VAPI_UNEXPECTED_INPUT,
    VAPI_UNSUPPORTED,
    VAPI_UNVERIFIED_PEER,
    VAPI_ERROR_COUNT
} vapi_error_t;

/* The two wire flavours: /api (raw bodies, 201/204) and /rest (value-wrapped, 200). */
typedef enum { FLAVOUR_API, FLAVOUR_REST } flavour_t;

const char *vapi_error_name(vapi_error_t e);      /* "NOT_FOUND" */
const char *vapi_error_rest_type(vapi_error_t e); /* "com.vmware.vapi.std.errors.not_found" */
int vapi_error_status(vapi_error_t e, flavour_t f);
/* Parses "NOT_FOUND" back to the enum; C_ERR if unknown. */
int vapi_error_parse(const char *name, vapi_error_t *out);

/* LocalizableMessage (vsphere-api.md 5.1). Fixed size: messages are built by us, never
 * copied wholesale from clients (client text is cut to fit an arg). */
#define MSG_ID_MAX 128
#define MSG_TEXT_MAX 1024
#define MSG_ARG_MAX 512
#define MSG_ARGS_MAX 4
typedef struct {
    char id[MSG_ID_MAX];
    char default_message[MSG_TEXT_MAX];
    int nargs;
    char args[MSG_ARGS_MAX][MSG_ARG_MAX];
} vapi_message_t;

/* What a failed operation reports: one error type and its first message. */
typedef struct {
    vapi_error_t type;
    vapi_message_t msg;
} vapi_failure_t;

/* Builds a failure. `what` becomes the message id "com.vmware.vdcs.cls-main.<what>" unless it
 * already contains a '.', in which case it is used as is ("vapi.method.authentication.required").
 * The variadic part is a NULL-terminated list of `const char *` args (at most MSG_ARGS_MAX are
 * kept, each cut to MSG_ARG_MAX-1 bytes); `fmt` is the English sentence and refers to them by
 * position as {0}..{3}. Example:
 *   vapi_fail(f, VAPI_NOT_FOUND, "item_not_found",
 *             "The library item {0} does not exist.", id, NULL);
 * Always returns C_ERR so handlers can `return vapi_fail(...)`. */
int vapi_fail(vapi_failure_t *f, vapi_error_t type, const char *what, const char *fmt, ...);

/* Fills a message the same way (used for session error_message). */
void vapi_message_set(vapi_message_t *m, const char *what, const char *fmt, ...);

#endif
