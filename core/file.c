/* core/file.c: the UpdateSession File model (vsphere-api.md 3.3): wire names of SourceType,
 * TransferStatus and ChecksumAlgorithm, the file name rule, and AddSpec decoding. Every failure
 * is INVALID_ARGUMENT naming the field as the client wrote it: prefix + field. */
#include "core/file.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/json_field.h"
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

static const char *const CHECKSUM_ALG_NAMES[CHECKSUM_ALG_COUNT] = {
    [CHECKSUM_SHA1] = "SHA1",
    [CHECKSUM_MD5] = "MD5",
    [CHECKSUM_SHA256] = "SHA256",
    [CHECKSUM_SHA512] = "SHA512",
};

/* Hex digits of each algorithm's digest. */
static const size_t CHECKSUM_HEX_LEN[CHECKSUM_ALG_COUNT] = {
    [CHECKSUM_SHA1] = 40,
    [CHECKSUM_MD5] = 32,
    [CHECKSUM_SHA256] = 64,
    [CHECKSUM_SHA512] = 128,
};

const char *source_type_name(source_type_t t) {
    return name_table_name(SOURCE_TYPE_NAMES, SOURCE_TYPE_COUNT, (int)t);
}

int source_type_parse(const char *s, source_type_t *out) {
    int i;
    if (name_table_parse(SOURCE_TYPE_NAMES, SOURCE_TYPE_COUNT, s, &i) != C_OK) return C_ERR;
    if (out) *out = (source_type_t)i;
    return C_OK;
}

const char *transfer_status_name(transfer_status_t t) {
    return name_table_name(TRANSFER_STATUS_NAMES, TRANSFER_STATUS_COUNT, (int)t);
}

int transfer_status_parse(const char *s, transfer_status_t *out) {
    int i;
    if (name_table_parse(TRANSFER_STATUS_NAMES, TRANSFER_STATUS_COUNT, s, &i) != C_OK) return C_ERR;
    if (out) *out = (transfer_status_t)i;
    return C_OK;
}

const char *checksum_alg_name(checksum_alg_t a) {
    return name_table_name(CHECKSUM_ALG_NAMES, CHECKSUM_ALG_COUNT, (int)a);
}

int checksum_alg_parse(const char *s, checksum_alg_t *out) {
    int i;
    if (name_table_parse(CHECKSUM_ALG_NAMES, CHECKSUM_ALG_COUNT, s, &i) != C_OK) return C_ERR;
    if (out) *out = (checksum_alg_t)i;
    return C_OK;
}

/* 0 for a value outside the enum, which no checksum can match. */
size_t checksum_hex_len(checksum_alg_t a) {
    return (unsigned)a < CHECKSUM_ALG_COUNT ? CHECKSUM_HEX_LEN[a] : 0;
}

/* ---- file names ------------------------------------------------------------------------- */

/* The name becomes one path component under the session's directory, so it must be exactly
 * one: no separator of either platform, and not a name the file system gives a meaning to.
 * Dots elsewhere ("a..b", ".hidden", "x.") are ordinary characters: without a separator they
 * cannot form a ".." segment. */
/* Bytes of the white-space character at s (ASCII space, or a Unicode space in UTF-8: U+00A0,
 * U+2000..U+200B, U+202F, U+205F, U+3000, U+FEFF), or 0. Controls are refused before this. */
static size_t space_len(const unsigned char *s) {
    if (s[0] == ' ') return 1;
    if (s[0] == 0xc2 && s[1] == 0xa0) return 2;
    if (s[0] == 0xe2 && s[1] == 0x80 && ((s[2] >= 0x80 && s[2] <= 0x8b) || s[2] == 0xaf)) return 3;
    if (s[0] == 0xe2 && s[1] == 0x81 && s[2] == 0x9f) return 3;
    if (s[0] == 0xe3 && s[1] == 0x80 && s[2] == 0x80) return 3;
    if (s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf) return 3;
    return 0;
}

/* A name of white space only looks empty in every listing. */
static bool blank(const char *name) {
    const unsigned char *s = (const unsigned char *)name;
    while (*s) {
        size_t n = space_len(s);
        if (!n) return false;
        s += n;
    }
    return true;
}

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
    if (blank(name))
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_file_name",
                         "The field {0} has an invalid value '{1}'; a file name must not be only "
                         "white space.",
                         field, name, NULL);
    return C_OK;
}

/* ---- AddSpec ---------------------------------------------------------------------------- */

static bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static char lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }
static char upper(char c) { return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c; }

/* size: a JSON integer, 0..INT64_MAX (json_field_int64 refuses what does not fit int64). */
static int parse_size(struct json_object *body, const char *prefix, file_spec_t *out,
                      vapi_failure_t *f) {
    char field[JSON_FIELD_MAX], num[32];
    bool present;
    int64_t n;
    if (json_field_int64(body, prefix, "size", false, &present, &n, f) != C_OK) return C_ERR;
    if (!present) return C_OK;
    if (n < 0) {
        json_field_name(field, prefix, "size");
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
    char pfx[JSON_FIELD_MAX], field[JSON_FIELD_MAX], num[24];
    struct json_object *ci;
    const char *sum, *alg;
    if (json_field_object(body, prefix, "checksum_info", false, &ci, f) != C_OK) return C_ERR;
    if (!ci) return C_OK;
    json_field_name(pfx, prefix, "checksum_info.");
    if (json_field_string(ci, pfx, "checksum", true, &sum, f) != C_OK) return C_ERR;
    if (json_field_string(ci, pfx, "algorithm", false, &alg, f) != C_OK) return C_ERR;
    out->algorithm = CHECKSUM_SHA1; /* "If not specified the default checksum algorithm is SHA1" */
    if (alg && checksum_alg_parse(alg, &out->algorithm) != C_OK) {
        json_field_name(field, pfx, "algorithm");
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
        json_field_name(field, pfx, "checksum");
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
 * "AA:BB:..." (59 characters), the form net/data/pull.h expects. */
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
    char pfx[JSON_FIELD_MAX], field[JSON_FIELD_MAX];
    struct json_object *ep;
    const char *s;
    if (json_field_object(body, prefix, "source_endpoint", true, &ep, f) != C_OK) return C_ERR;
    json_field_name(pfx, prefix, "source_endpoint.");
    if (json_field_string(ep, pfx, "uri", true, &s, f) != C_OK) return C_ERR;
    json_field_name(field, pfx, "uri");
    if (check_uri(field, s, out->source_uri, f) != C_OK) return C_ERR;
    if (json_field_string(ep, pfx, "ssl_certificate_thumbprint", false, &s, f) != C_OK)
        return C_ERR;
    if (s) {
        json_field_name(field, pfx, "ssl_certificate_thumbprint");
        if (check_thumbprint(field, s, out->source_thumbprint, f) != C_OK) return C_ERR;
    }
    return C_OK;
}

/* Field order is the order of the messages a client sees: name, source_type, size,
 * checksum_info, source_endpoint. */
int spec_file_add(struct json_object *body, const char *prefix, file_spec_t *out,
                  vapi_failure_t *f) {
    char field[JSON_FIELD_MAX];
    const char *s;
    memset(out, 0, sizeof(*out));
    if (json_field_body(body, prefix, true, f) != C_OK) return C_ERR;
    if (json_field_string(body, prefix, "name", true, &s, f) != C_OK) return C_ERR;
    json_field_name(field, prefix, "name");
    if (check_file_name(field, s, f) != C_OK) return C_ERR;
    copy_str(out->name, sizeof(out->name), s);

    if (json_field_string(body, prefix, "source_type", true, &s, f) != C_OK) return C_ERR;
    json_field_name(field, prefix, "source_type");
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
