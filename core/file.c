/* core/file.c: the UpdateSession File model (vsphere-api.md 3.3): wire names of SourceType,
 * TransferStatus and ChecksumAlgorithm, the file name rule, and AddSpec decoding. Every failure
 * is INVALID_ARGUMENT naming the field as the client wrote it: prefix + field. */
#include "core/file.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/validate.h"

/* ---- name tables ------------------------------------------------------------------------ */

static const char *const SOURCE_TYPE_NAMES[SOURCE_TYPE_COUNT] = {
    [SOURCE_NONE] = "NONE",
    [SOURCE_PUSH] = "PUSH",
    [SOURCE_PULL] = "PULL",
};

static const char *const TRANSFER_STATUS_NAMES[TRANSFER_STATUS_COUNT] = {
    [TRANSFER_WAITING_FOR_TRANSFER] = "WAITING_FOR_TRANSFER",
    [TRANSFER_TRANSFERRING] = "TRANSFERRING",
    [TRANSFER_READY] = "READY",
    [TRANSFER_VALIDATING] = "VALIDATING",
    [TRANSFER_ERROR] = "ERROR",
};

static const struct {
    const char *name;
    size_t hex_len;
} CHECKSUM_ALGS[CHECKSUM_ALG_COUNT] = {
    [CHECKSUM_SHA1] = {"SHA1", 40},
    [CHECKSUM_MD5] = {"MD5", 32},
    [CHECKSUM_SHA256] = {"SHA256", 64},
    [CHECKSUM_SHA512] = {"SHA512", 128},
};

/* Exact-match lookup of a wire name in a name table; the index is the enum value. */
static int find_name(const char *const *names, size_t n, const char *name, int *out) {
    if (!name) return C_ERR;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], name) == 0) {
            *out = (int)i;
            return C_OK;
        }
    }
    return C_ERR;
}

const char *source_type_name(source_type_t t) {
    return (unsigned)t < SOURCE_TYPE_COUNT ? SOURCE_TYPE_NAMES[t] : "UNKNOWN";
}

int source_type_parse(const char *s, source_type_t *out) {
    int i;
    if (find_name(SOURCE_TYPE_NAMES, SOURCE_TYPE_COUNT, s, &i) != C_OK) return C_ERR;
    if (out) *out = (source_type_t)i;
    return C_OK;
}

const char *transfer_status_name(transfer_status_t t) {
    return (unsigned)t < TRANSFER_STATUS_COUNT ? TRANSFER_STATUS_NAMES[t] : "UNKNOWN";
}

int transfer_status_parse(const char *s, transfer_status_t *out) {
    int i;
    if (find_name(TRANSFER_STATUS_NAMES, TRANSFER_STATUS_COUNT, s, &i) != C_OK) return C_ERR;
    if (out) *out = (transfer_status_t)i;
    return C_OK;
}

const char *checksum_alg_name(checksum_alg_t a) {
    return (unsigned)a < CHECKSUM_ALG_COUNT ? CHECKSUM_ALGS[a].name : "UNKNOWN";
}

int checksum_alg_parse(const char *s, checksum_alg_t *out) {
    if (!s) return C_ERR;
    for (size_t i = 0; i < CHECKSUM_ALG_COUNT; i++) {
        if (strcmp(CHECKSUM_ALGS[i].name, s) == 0) {
            if (out) *out = (checksum_alg_t)i;
            return C_OK;
        }
    }
    return C_ERR;
}

/* 0 for a value outside the enum, which no checksum can match. */
size_t checksum_hex_len(checksum_alg_t a) {
    return (unsigned)a < CHECKSUM_ALG_COUNT ? CHECKSUM_ALGS[a].hex_len : 0;
}

/* ---- file names ------------------------------------------------------------------------- */

/* The name becomes one path component under the session's directory, so it must be exactly
 * one: no separator of either platform, and not a name the file system gives a meaning to.
 * Dots elsewhere ("a..b", ".hidden", "x.") are ordinary characters: without a separator they
 * cannot form a ".." segment. */
int check_file_name(const char *field, const char *name, vapi_failure_t *f) {
    char num[24];
    if (!name)
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "field_required", "The field {0} is required.",
                         field, NULL);
    size_t len = strnlen(name, FILE_NAME_MAX);
    if (len == 0)
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "empty_name", "The field {0} must not be empty.",
                         field, NULL);
    if (len >= FILE_NAME_MAX) {
        snprintf(num, sizeof(num), "%d", FILE_NAME_MAX - 1);
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "value_too_long",
                         "The field {0} must be at most {1} bytes long.", field, num, NULL);
    }
    if (!valid_utf8(name, len))
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_utf8",
                         "The field {0} is not valid UTF-8.", field, NULL);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f)
            return vapi_fail(f, VAPI_INVALID_ARGUMENT, "control_characters",
                             "The field {0} must not contain control characters.", field, NULL);
        if (c == '/' || c == '\\')
            return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_file_name",
                             "The field {0} has an invalid value '{1}'; a file name must not "
                             "contain '/' or '\\'.",
                             field, name, NULL);
    }
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_file_name",
                         "The field {0} has an invalid value '{1}'; a file name must not be '.' "
                         "or '..'.",
                         field, name, NULL);
    return C_OK;
}

/* ---- JSON field access (the approach of core/spec.c) -------------------------------------- */

#define FIELD_MAX 192

typedef enum { K_STRING, K_INT, K_OBJECT } kind_t;
static const struct {
    json_type type;
    const char *wrong;
} KINDS[] = {
    [K_STRING] = {json_type_string, "The field {0} must be a string."},
    [K_INT] = {json_type_int, "The field {0} must be an integer."},
    [K_OBJECT] = {json_type_object, "The field {0} must be an object."},
};

/* prefix + key into buf (FIELD_MAX bytes); our prefixes and keys fit, anything else is cut. */
static void field_name(char *buf, const char *prefix, const char *key) {
    const char *parts[] = {prefix ? prefix : "", key};
    size_t used = 0;
    for (size_t i = 0; i < ARRAY_LEN(parts); i++) {
        size_t n = strnlen(parts[i], FIELD_MAX - 1 - used);
        memmove(buf + used, parts[i], n); /* prefix may be buf itself */
        used += n;
    }
    buf[used] = '\0';
}

/* Looks up one field and checks its JSON kind. Absent and null are the same (*val = NULL),
 * an error only when required. Strings with an embedded NUL are refused. */
static int get_field(struct json_object *obj, const char *prefix, const char *key, kind_t kind,
                     bool required, struct json_object **val, vapi_failure_t *f) {
    char field[FIELD_MAX];
    struct json_object *v = NULL;
    *val = NULL;
    if (!json_object_object_get_ex(obj, key, &v) || v == NULL) {
        if (!required) return C_OK;
        field_name(field, prefix, key);
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "field_required", "The field {0} is required.",
                         field, NULL);
    }
    if (!json_object_is_type(v, KINDS[kind].type)) {
        field_name(field, prefix, key);
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_field_type", KINDS[kind].wrong, field,
                         NULL);
    }
    if (kind == K_STRING &&
        (size_t)json_object_get_string_len(v) != strlen(json_object_get_string(v))) {
        field_name(field, prefix, key);
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_argument",
                         "The field {0} must not contain NUL characters.", field, NULL);
    }
    *val = v;
    return C_OK;
}

static int get_string(struct json_object *obj, const char *prefix, const char *key, bool required,
                      const char **out, vapi_failure_t *f) {
    struct json_object *v;
    *out = NULL;
    if (get_field(obj, prefix, key, K_STRING, required, &v, f) != C_OK) return C_ERR;
    if (v) *out = json_object_get_string(v);
    return C_OK;
}

/* The body must be a JSON object; messages name it ("file_spec", or "request body"). */
static int check_body(struct json_object *body, const char *prefix, vapi_failure_t *f) {
    char name[FIELD_MAX];
    size_t n = prefix ? strlen(prefix) : 0;
    if (n == 0) {
        snprintf(name, sizeof(name), "request body");
    } else {
        if (prefix[n - 1] == '.') n--;
        snprintf(name, sizeof(name), "%.*s", (int)n, prefix);
    }
    if (!body)
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "field_required", "The {0} is required.", name,
                         NULL);
    if (!json_object_is_type(body, json_type_object))
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_field_type",
                         "The {0} must be a JSON object.", name, NULL);
    return C_OK;
}

/* ---- AddSpec ---------------------------------------------------------------------------- */

static bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static char lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }
static char upper(char c) { return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c; }

/* size: a JSON integer, 0..INT64_MAX. json-c keeps integers above INT64_MAX as unsigned and
 * clamps them in get_int64, so those are recognised and refused rather than clamped. */
static int parse_size(struct json_object *body, const char *prefix, file_spec_t *out,
                      vapi_failure_t *f) {
    char field[FIELD_MAX], num[32];
    struct json_object *v;
    if (get_field(body, prefix, "size", K_INT, false, &v, f) != C_OK) return C_ERR;
    if (!v) return C_OK;
    field_name(field, prefix, "size");
    int64_t n = json_object_get_int64(v);
    if (n == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX)
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_argument",
                         "The field {0} is too large.", field, NULL);
    if (n < 0) {
        snprintf(num, sizeof(num), "%lld", (long long)n);
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_argument",
                         "The field {0} has an invalid value {1}; it must not be negative.",
                         field, num, NULL);
    }
    out->has_size = true;
    out->size = n;
    return C_OK;
}

/* checksum_info {algorithm?, checksum}: the checksum must be hex of exactly the algorithm's
 * digest length, any case; it is stored lower-case. */
static int parse_checksum(struct json_object *body, const char *prefix, checksum_info_t *out,
                          vapi_failure_t *f) {
    char pfx[FIELD_MAX], field[FIELD_MAX], num[24];
    struct json_object *ci;
    const char *sum, *alg;
    if (get_field(body, prefix, "checksum_info", K_OBJECT, false, &ci, f) != C_OK) return C_ERR;
    if (!ci) return C_OK;
    field_name(pfx, prefix, "checksum_info.");
    if (get_string(ci, pfx, "checksum", true, &sum, f) != C_OK) return C_ERR;
    if (get_string(ci, pfx, "algorithm", false, &alg, f) != C_OK) return C_ERR;
    out->algorithm = CHECKSUM_SHA1; /* "If not specified the default checksum algorithm is SHA1" */
    if (alg && checksum_alg_parse(alg, &out->algorithm) != C_OK) {
        field_name(field, pfx, "algorithm");
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_argument",
                         "The field {0} has an invalid value '{1}'; it must be SHA1, MD5, SHA256 "
                         "or SHA512.",
                         field, alg, NULL);
    }
    size_t want = checksum_hex_len(out->algorithm);
    size_t len = strnlen(sum, want + 1);
    bool ok = len == want;
    for (size_t i = 0; ok && i < len; i++) ok = is_hex(sum[i]);
    if (!ok) {
        field_name(field, pfx, "checksum");
        snprintf(num, sizeof(num), "%zu", want);
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_checksum",
                         "The field {0} has an invalid value '{1}'; a {2} checksum is {3} "
                         "hexadecimal digits.",
                         field, sum, checksum_alg_name(out->algorithm), num, NULL);
    }
    for (size_t i = 0; i < len; i++) out->checksum[i] = lower(sum[i]);
    out->checksum[len] = '\0';
    out->present = true;
    return C_OK;
}

/* The URI a PULL fetches: an absolute http or https URL with a host, printable ASCII only (no
 * spaces, controls or raw non-ASCII: clients percent-encode), shorter than URI_MAX. The scheme
 * is matched in any case (RFC 3986 3.1) and stored lower-case, so the pull client can compare
 * it exactly. */
static int check_uri(const char *field, const char *uri, char *out, vapi_failure_t *f) {
    char num[24];
    size_t len = strnlen(uri, URI_MAX);
    if (len >= URI_MAX) {
        snprintf(num, sizeof(num), "%d", URI_MAX - 1);
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "value_too_long",
                         "The field {0} must be at most {1} bytes long.", field, num, NULL);
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)uri[i];
        if (c <= 0x20 || c >= 0x7f)
            return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_url_format",
                             "The field {0} has an invalid value '{1}'; a URI must not contain "
                             "spaces, control characters or non-ASCII characters.",
                             field, uri, NULL);
    }
    /* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
    size_t s = 0;
    while (s < len && ((uri[s] >= 'A' && uri[s] <= 'Z') || (uri[s] >= 'a' && uri[s] <= 'z') ||
                       (s > 0 && ((uri[s] >= '0' && uri[s] <= '9') || uri[s] == '+' ||
                                  uri[s] == '-' || uri[s] == '.'))))
        s++;
    if (s == 0 || s >= len || uri[s] != ':')
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_url_format",
                         "The field {0} has an invalid value '{1}'; it is not an absolute URI.",
                         field, uri, NULL);
    bool http = s == 4 && strncasecmp(uri, "http", 4) == 0;
    bool https = s == 5 && strncasecmp(uri, "https", 5) == 0;
    if (!http && !https) {
        char scheme[24];
        snprintf(scheme, sizeof(scheme), "%.*s", (int)(s < 16 ? s : 16), uri);
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "unsupported_uri_scheme",
                         "The field {0} has an unsupported scheme '{1}'; only http and https are "
                         "supported.",
                         field, scheme, NULL);
    }
    /* "//" authority, and the host in it must not be empty. */
    const char *rest = uri + s + 1;
    const char *host = rest + 2;
    if (strncmp(rest, "//", 2) != 0 || *host == '\0' || *host == '/' || *host == '?' ||
        *host == '#' || *host == ':')
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_url_format",
                         "The field {0} has an invalid value '{1}'; it has no host.", field, uri,
                         NULL);
    for (size_t i = 0; i < s; i++) out[i] = lower(uri[i]);
    memcpy(out + s, uri + s, len - s + 1);
    return C_OK;
}

/* SHA-1 thumbprint: 40 hex digits, bare or as 20 colon-separated pairs, any case; stored as
 * "AA:BB:..." (59 characters), the form net/pull.h expects. */
static int check_thumbprint(const char *field, const char *s, char *out, vapi_failure_t *f) {
    char hex[40];
    size_t len = strnlen(s, 60);
    size_t n = 0;
    bool ok;
    if (len == 40) {
        ok = true;
        for (size_t i = 0; ok && i < 40; i++) {
            ok = is_hex(s[i]);
            hex[n++] = s[i];
        }
    } else if (len == 59) {
        ok = true;
        for (size_t i = 0; ok && i < 59; i++) {
            if (i % 3 == 2) {
                ok = s[i] == ':';
            } else {
                ok = is_hex(s[i]);
                hex[n++] = s[i];
            }
        }
    } else {
        ok = false;
    }
    if (!ok)
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_thumbprint",
                         "The field {0} has an invalid value '{1}'; a SHA-1 thumbprint is 40 "
                         "hexadecimal digits, optionally in pairs separated by ':'.",
                         field, s, NULL);
    char *p = out;
    for (size_t i = 0; i < 40; i++) {
        if (i > 0 && i % 2 == 0) *p++ = ':';
        *p++ = upper(hex[i]);
    }
    *p = '\0';
    return C_OK;
}

/* source_endpoint {uri, ssl_certificate_thumbprint?}; ssl_certificate and other fields are
 * ignored. Read only for PULL. */
static int parse_endpoint(struct json_object *body, const char *prefix, file_spec_t *out,
                          vapi_failure_t *f) {
    char pfx[FIELD_MAX], field[FIELD_MAX];
    struct json_object *ep;
    const char *s;
    if (get_field(body, prefix, "source_endpoint", K_OBJECT, true, &ep, f) != C_OK) return C_ERR;
    field_name(pfx, prefix, "source_endpoint.");
    if (get_string(ep, pfx, "uri", true, &s, f) != C_OK) return C_ERR;
    field_name(field, pfx, "uri");
    if (check_uri(field, s, out->source_uri, f) != C_OK) return C_ERR;
    if (get_string(ep, pfx, "ssl_certificate_thumbprint", false, &s, f) != C_OK) return C_ERR;
    if (s) {
        field_name(field, pfx, "ssl_certificate_thumbprint");
        if (check_thumbprint(field, s, out->source_thumbprint, f) != C_OK) return C_ERR;
    }
    return C_OK;
}

/* Field order is the order of the messages a client sees: name, source_type, size,
 * checksum_info, source_endpoint. */
int spec_file_add(struct json_object *body, const char *prefix, file_spec_t *out,
                  vapi_failure_t *f) {
    char field[FIELD_MAX];
    const char *s;
    memset(out, 0, sizeof(*out));
    if (check_body(body, prefix, f) != C_OK) return C_ERR;
    if (get_string(body, prefix, "name", true, &s, f) != C_OK) return C_ERR;
    field_name(field, prefix, "name");
    if (check_file_name(field, s, f) != C_OK) return C_ERR;
    copy_str(out->name, sizeof(out->name), s);

    if (get_string(body, prefix, "source_type", true, &s, f) != C_OK) return C_ERR;
    field_name(field, prefix, "source_type");
    if (source_type_parse(s, &out->source_type) != C_OK || out->source_type == SOURCE_NONE)
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_argument",
                         "The field {0} has an invalid value '{1}'; it must be PUSH or PULL.",
                         field, s, NULL);

    if (parse_size(body, prefix, out, f) != C_OK) return C_ERR;
    if (parse_checksum(body, prefix, &out->checksum, f) != C_OK) return C_ERR;
    /* PUSH: the client uploads to our upload_endpoint; a source_endpoint means nothing. */
    if (out->source_type == SOURCE_PULL && parse_endpoint(body, prefix, out, f) != C_OK)
        return C_ERR;
    return C_OK;
}
