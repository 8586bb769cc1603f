/* core/json_field.c: what this file owns: the one implementation of reading client JSON fields
 * (kind checks, required fields, the field names messages use, the request-body check) and of
 * looking wire names up in enum name tables. Every message text here is part of the API: the
 * decoders in spec.c and file.c and their tests rely on it word for word. */
#include "core/json_field.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

/* json-c type of each kind, with the message for a value of another kind. */
static const struct {
    json_type type;
    const char *wrong;
} KINDS[] = {
    [JF_STRING] = {json_type_string, "The field {0} must be a string."},
    [JF_INT] = {json_type_int, "The field {0} must be an integer."},
    [JF_BOOL] = {json_type_boolean, "The field {0} must be a boolean."},
    [JF_OBJECT] = {json_type_object, "The field {0} must be an object."},
    [JF_ARRAY] = {json_type_array, "The field {0} must be an array."},
};

/* ---- field names ------------------------------------------------------------------------ */

/* Paths are built from our own prefixes and keys plus an array index, so they fit; if one
 * ever did not, it is cut. memmove because a may be buf itself (appending to a path). */
void json_field_join(char *buf, const char *a, const char *b, const char *c) {
    const char *parts[] = {a ? a : "", b, c};
    size_t used = 0;
    for (size_t i = 0; i < ARRAY_LEN(parts); i++) {
        size_t n = strnlen(parts[i], JSON_FIELD_MAX - 1 - used);
        memmove(buf + used, parts[i], n);
        used += n;
    }
    buf[used] = '\0';
}

void json_field_name(char *buf, const char *prefix, const char *key) {
    json_field_join(buf, prefix, key, "");
}

void json_field_elem(char *buf, const char *field, size_t i) {
    char idx[24];
    snprintf(idx, sizeof(idx), "[%zu]", i);
    json_field_join(buf, field, idx, "");
}

/* ---- checks and getters ----------------------------------------------------------------- */

/* Strings with an embedded NUL are refused here, because every later check sees them as C
 * strings. */
int json_field_check(struct json_object *v, const char *field, json_kind_t kind,
                     vapi_failure_t *f) {
    if (!v || !json_object_is_type(v, KINDS[kind].type))
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_field_type", KINDS[kind].wrong, field,
                         NULL);
    if (kind == JF_STRING &&
        (size_t)json_object_get_string_len(v) != strlen(json_object_get_string(v)))
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_argument",
                         "The field {0} must not contain NUL characters.", field, NULL);
    return C_OK;
}

/* Looks up one field and checks its JSON kind. An absent field and an explicit null are the
 * same thing (*val = NULL), which is an error only when the field is required. */
int json_field_get(struct json_object *obj, const char *prefix, const char *key, json_kind_t kind,
                   bool required, struct json_object **val, vapi_failure_t *f) {
    char field[JSON_FIELD_MAX];
    struct json_object *v = NULL;
    *val = NULL;
    if (!json_object_object_get_ex(obj, key, &v) || v == NULL) {
        if (!required) return C_OK;
        json_field_name(field, prefix, key);
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "field_required", "The field {0} is required.",
                         field, NULL);
    }
    json_field_name(field, prefix, key);
    if (json_field_check(v, field, kind, f) != C_OK) return C_ERR;
    *val = v;
    return C_OK;
}

int json_field_string(struct json_object *obj, const char *prefix, const char *key, bool required,
                      const char **out, vapi_failure_t *f) {
    struct json_object *v;
    *out = NULL;
    if (json_field_get(obj, prefix, key, JF_STRING, required, &v, f) != C_OK) return C_ERR;
    if (v) *out = json_object_get_string(v);
    return C_OK;
}

int json_field_object(struct json_object *obj, const char *prefix, const char *key, bool required,
                      struct json_object **out, vapi_failure_t *f) {
    return json_field_get(obj, prefix, key, JF_OBJECT, required, out, f);
}

int json_field_array(struct json_object *obj, const char *prefix, const char *key, bool required,
                     struct json_object **out, vapi_failure_t *f) {
    return json_field_get(obj, prefix, key, JF_ARRAY, required, out, f);
}

int json_field_bool(struct json_object *obj, const char *prefix, const char *key, bool required,
                    bool *present, bool *out, vapi_failure_t *f) {
    struct json_object *v;
    if (present) *present = false;
    if (json_field_get(obj, prefix, key, JF_BOOL, required, &v, f) != C_OK) return C_ERR;
    if (!v) return C_OK;
    if (present) *present = true;
    *out = json_object_get_boolean(v);
    return C_OK;
}

/* json-c keeps integers above INT64_MAX as unsigned and clamps them in get_int64, so those are
 * recognised and refused rather than clamped. Range checks below that are the caller's. */
int json_field_int64(struct json_object *obj, const char *prefix, const char *key, bool required,
                     bool *present, int64_t *out, vapi_failure_t *f) {
    struct json_object *v;
    if (present) *present = false;
    if (json_field_get(obj, prefix, key, JF_INT, required, &v, f) != C_OK) return C_ERR;
    if (!v) return C_OK;
    int64_t n = json_object_get_int64(v);
    if (n == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX) {
        char field[JSON_FIELD_MAX];
        json_field_name(field, prefix, key);
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_argument",
                         "The field {0} is too large.", field, NULL);
    }
    if (present) *present = true;
    *out = n;
    return C_OK;
}

/* Messages name the object by its prefix without the trailing '.' ("create_spec"), or
 * "request body" when the object is the whole body (prefix ""). */
int json_field_body(struct json_object *body, const char *prefix, bool has_required,
                    vapi_failure_t *f) {
    char name[JSON_FIELD_MAX];
    size_t n = prefix ? strlen(prefix) : 0;
    if (n == 0) {
        snprintf(name, sizeof(name), "request body");
    } else {
        if (prefix[n - 1] == '.') n--;
        snprintf(name, sizeof(name), "%.*s", (int)n, prefix);
    }
    if (!body) {
        if (!has_required) return C_OK;
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "field_required", "The {0} is required.", name,
                         NULL);
    }
    if (!json_object_is_type(body, json_type_object))
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_field_type",
                         "The {0} must be a JSON object.", name, NULL);
    return C_OK;
}

/* ---- name tables ------------------------------------------------------------------------ */

int name_table_parse(const char *const *names, size_t n, const char *s, int *out) {
    if (!s) return C_ERR;
    for (size_t i = 0; i < n; i++) {
        if (names[i] && strcmp(names[i], s) == 0) {
            *out = (int)i;
            return C_OK;
        }
    }
    return C_ERR;
}

const char *name_table_name(const char *const *names, size_t n, int i) {
    return i >= 0 && (size_t)i < n && names[i] ? names[i] : "UNKNOWN";
}
