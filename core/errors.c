/* core/errors.c: the table of the 25 vAPI error types (name, /rest type, HTTP status per wire
 * flavour, vsphere-api.md 5.3) and the building of LocalizableMessages for failures. */
#include "core/errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/validate.h"

#define REST_TYPE_PREFIX "com.vmware.vapi.std.errors."
#define MSG_ID_PREFIX "com.vmware.vdcs.cls-main."

static const struct {
    const char *name;
    const char *rest_type;
    int api_status;
    int rest_status;
} ERRORS[VAPI_ERROR_COUNT] = {
#define E(sym, lower, api, rest) [VAPI_##sym] = {#sym, REST_TYPE_PREFIX lower, api, rest}
    E(ERROR, "error", 500, 400),
    E(ALREADY_EXISTS, "already_exists", 400, 400),
    E(ALREADY_IN_DESIRED_STATE, "already_in_desired_state", 400, 400),
    E(CANCELED, "canceled", 400, 400),
    E(CONCURRENT_CHANGE, "concurrent_change", 409, 400),
    E(FEATURE_IN_USE, "feature_in_use", 400, 400),
    E(INTERNAL_SERVER_ERROR, "internal_server_error", 500, 500),
    E(INVALID_ARGUMENT, "invalid_argument", 400, 400),
    E(INVALID_ELEMENT_CONFIGURATION, "invalid_element_configuration", 400, 400),
    E(INVALID_ELEMENT_TYPE, "invalid_element_type", 400, 400),
    E(INVALID_REQUEST, "invalid_request", 400, 400),
    E(NOT_ALLOWED_IN_CURRENT_STATE, "not_allowed_in_current_state", 400, 400),
    E(NOT_FOUND, "not_found", 404, 404),
    E(OPERATION_NOT_FOUND, "operation_not_found", 404, 404),
    E(RESOURCE_BUSY, "resource_busy", 500, 400),
    E(RESOURCE_IN_USE, "resource_in_use", 400, 400),
    E(RESOURCE_INACCESSIBLE, "resource_inaccessible", 500, 400),
    E(SERVICE_UNAVAILABLE, "service_unavailable", 503, 503),
    E(TIMED_OUT, "timed_out", 500, 504),
    E(UNABLE_TO_ALLOCATE_RESOURCE, "unable_to_allocate_resource", 500, 400),
    E(UNAUTHENTICATED, "unauthenticated", 401, 401),
    E(UNAUTHORIZED, "unauthorized", 403, 403),
    E(UNEXPECTED_INPUT, "unexpected_input", 400, 400),
    E(UNSUPPORTED, "unsupported", 400, 400),
    E(UNVERIFIED_PEER, "unverified_peer", 400, 400),
#undef E
};

/* Error types only come from our own code, but an out-of-range value must still yield a
 * usable error body rather than a NULL name, so it reads as the generic ERROR. */
static vapi_error_t known(vapi_error_t e) {
    return (unsigned)e < VAPI_ERROR_COUNT ? e : VAPI_ERROR;
}

const char *vapi_error_name(vapi_error_t e) { return ERRORS[known(e)].name; }

const char *vapi_error_rest_type(vapi_error_t e) { return ERRORS[known(e)].rest_type; }

/* The two flavours disagree for a few types (5.3), so the status is looked up per flavour. */
int vapi_error_status(vapi_error_t e, flavour_t f) {
    return f == FLAVOUR_REST ? ERRORS[known(e)].rest_status : ERRORS[known(e)].api_status;
}

int vapi_error_parse(const char *name, vapi_error_t *out) {
    if (!name) return C_ERR;
    for (size_t i = 0; i < ARRAY_LEN(ERRORS); i++) {
        if (strcmp(ERRORS[i].name, name) == 0) {
            if (out) *out = (vapi_error_t)i;
            return C_OK;
        }
    }
    return C_ERR;
}

/* After a byte-wise cut, drops a trailing UTF-8 sequence that lost its last bytes, so a cut
 * message is still valid UTF-8 on the wire. */
static size_t trim_partial_utf8(const char *buf, size_t len) {
    size_t back = 0;
    while (back < len && back < 4 && ((unsigned char)buf[len - 1 - back] & 0xC0) == 0x80) back++;
    if (back == len) return len; /* only continuation bytes: nothing we wrote, leave it */
    size_t lead = len - 1 - back;
    size_t need = utf8_seq_len(buf + lead, len - lead);
    return need == 0 ? lead : len;
}

/* Client text reaches messages as args: cut to fit, and any byte that is not part of
 * well-formed UTF-8 becomes '?', so the JSON we send is always valid UTF-8. Reads the source
 * only as far as needed, so a huge client string costs no more than a short one. */
static void set_arg(char *dst, size_t size, const char *src) {
    size_t out = 0;
    for (size_t i = 0; src[i] != '\0';) {
        size_t n = utf8_seq_len(src + i, strnlen(src + i, 4));
        const char *piece = n ? src + i : "?";
        size_t plen = n ? n : 1;
        if (out + plen > size - 1) break;
        memcpy(dst + out, piece, plen);
        out += plen;
        i += n ? n : 1;
    }
    dst[out] = '\0';
}

/* Appends up to len bytes to buf (size bytes, currently *used); reports whether all fit. */
static bool append(char *buf, size_t size, size_t *used, const char *s, size_t len) {
    size_t room = size - 1 - *used;
    size_t n = len < room ? len : room;
    memcpy(buf + *used, s, n);
    *used += n;
    buf[*used] = '\0';
    return n == len;
}

/* The message id rule, the arg list and the {0}..{3} substitution shared by vapi_fail and
 * vapi_message_set. A placeholder without a matching arg is left as written. */
static void message_vset(vapi_message_t *m, const char *what, const char *fmt, va_list ap) {
    if (!what || !*what) what = "error";
    if (!fmt) fmt = "";
    if (strchr(what, '.'))
        snprintf(m->id, sizeof(m->id), "%s", what);
    else
        snprintf(m->id, sizeof(m->id), MSG_ID_PREFIX "%s", what);

    m->nargs = 0;
    const char *arg;
    while (m->nargs < MSG_ARGS_MAX && (arg = va_arg(ap, const char *)) != NULL)
        set_arg(m->args[m->nargs++], MSG_ARG_MAX, arg);

    size_t used = 0;
    bool fits = true;
    m->default_message[0] = '\0';
    for (const char *p = fmt; *p && fits;) {
        if (p[0] == '{' && p[1] >= '0' && p[1] <= '9' && p[2] == '}' && p[1] - '0' < m->nargs) {
            const char *a = m->args[p[1] - '0'];
            fits = append(m->default_message, sizeof(m->default_message), &used, a, strlen(a));
            p += 3;
        } else {
            fits = append(m->default_message, sizeof(m->default_message), &used, p, 1);
            p++;
        }
    }
    if (!fits) {
        used = trim_partial_utf8(m->default_message, used);
        m->default_message[used] = '\0';
    }
}

/* Returns C_ERR so a handler can fail in one statement: return vapi_fail(...). */
int vapi_fail(vapi_failure_t *f, vapi_error_t type, const char *what, const char *fmt, ...) {
    va_list ap;
    f->type = known(type);
    va_start(ap, fmt);
    message_vset(&f->msg, what, fmt, ap);
    va_end(ap);
    return C_ERR;
}

void vapi_message_set(vapi_message_t *m, const char *what, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    message_vset(m, what, fmt, ap);
    va_end(ap);
}
