/* core/spec.c: decoding of client JSON bodies (json-c objects) into validated specs for
 * sessions, libraries, items and find specs, and the JSON shape of LocalizableMessage and
 * WarningBehavior. Every failure is INVALID_ARGUMENT (or UNSUPPORTED) naming the field as
 * the client wrote it: prefix + field. */
#include "core/spec.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/validate.h"

#define FIELD_MAX 192

/* The JSON kinds a known field may have, with the message for a value of another kind. */
typedef enum { K_STRING, K_BOOL, K_OBJECT, K_ARRAY } kind_t;
static const struct {
    json_type type;
    const char *wrong;
} KINDS[] = {
    [K_STRING] = {json_type_string, "The field {0} must be a string."},
    [K_BOOL] = {json_type_boolean, "The field {0} must be a boolean."},
    [K_OBJECT] = {json_type_object, "The field {0} must be an object."},
    [K_ARRAY] = {json_type_array, "The field {0} must be an array."},
};

/* Joins parts of a field path into buf (FIELD_MAX bytes). Paths are built from our own
 * prefixes and keys plus an array index, so they fit; if one ever did not, it is cut. */
static void join(char *buf, const char *a, const char *b, const char *c) {
    const char *parts[] = {a ? a : "", b, c};
    size_t used = 0;
    for (size_t i = 0; i < ARRAY_LEN(parts); i++) {
        size_t n = strnlen(parts[i], FIELD_MAX - 1 - used);
        memmove(buf + used, parts[i], n); /* a may be buf itself */
        used += n;
    }
    buf[used] = '\0';
}

static void field_name(char *buf, const char *prefix, const char *key) { join(buf, prefix, key, ""); }

/* "<field>[i]" for element i of an array field. */
static void elem_name(char *buf, const char *field, size_t i) {
    char idx[24];
    snprintf(idx, sizeof(idx), "[%zu]", i);
    join(buf, field, idx, "");
}

static int invalid_value(const char *field, const char *value, vapi_failure_t *f) {
    return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_argument",
                     "The field {0} has an invalid value '{1}'.", field, value, NULL);
}

/* Looks up one field and checks its JSON kind. An absent field and an explicit null are the
 * same thing (*val = NULL), which is an error only when the field is required. Strings with
 * an embedded NUL are refused here, because every later check sees them as C strings. */
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

/* Same as get_field for a string, giving the C string (NULL when absent). */
static int get_string(struct json_object *obj, const char *prefix, const char *key, bool required,
                      const char **out, vapi_failure_t *f) {
    struct json_object *v;
    *out = NULL;
    if (get_field(obj, prefix, key, K_STRING, required, &v, f) != C_OK) return C_ERR;
    if (v) *out = json_object_get_string(v);
    return C_OK;
}

/* The object a decoder reads must be a JSON object. NULL stands for "no body": acceptable
 * only where nothing is required. Messages name the object ("create_spec", "request body"). */
static int check_body(struct json_object *body, const char *prefix, bool has_required,
                      vapi_failure_t *f) {
    char name[FIELD_MAX];
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

/* warning_behavior: at most one entry per WarningType, each with both fields. */
static int parse_warning_behavior(struct json_object *arr, const char *prefix,
                                  warning_behavior_t *w, vapi_failure_t *f) {
    char field[FIELD_MAX], elem[FIELD_MAX];
    field_name(field, prefix, "warning_behavior");
    w->count = 0;
    size_t n = json_object_array_length(arr);
    for (size_t i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(arr, i), *ignored;
        const char *type;
        warning_type_t t;
        elem_name(elem, field, i);
        if (!e || !json_object_is_type(e, json_type_object))
            return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_field_type",
                             "The field {0} must be an object.", elem, NULL);
        join(elem, elem, ".", "");
        if (get_string(e, elem, "type", true, &type, f) != C_OK) return C_ERR;
        if (warning_type_parse(type, &t) != C_OK) {
            char tf[FIELD_MAX];
            field_name(tf, elem, "type");
            return invalid_value(tf, type, f);
        }
        if (get_field(e, elem, "ignored", K_BOOL, true, &ignored, f) != C_OK) return C_ERR;
        for (int k = 0; k < w->count; k++)
            if (w->items[k].type == t)
                return vapi_fail(f, VAPI_INVALID_ARGUMENT, "duplicate_warning_type",
                                 "The field {0} lists the warning type {1} more than once.", field,
                                 type, NULL);
        /* Distinct types only, so the count never exceeds the number of types. */
        w->items[w->count].type = t;
        w->items[w->count].ignored = json_object_get_boolean(ignored);
        w->count++;
    }
    return C_OK;
}

/* Create needs the item; update reads warning_behavior only, so a client that sends the whole
 * model back on PATCH is not refused for fields update ignores. */
int spec_session(struct json_object *body, const char *prefix, bool create, session_spec_t *out,
                 vapi_failure_t *f) {
    struct json_object *wb;
    memset(out, 0, sizeof(*out));
    if (check_body(body, prefix, create, f) != C_OK) return C_ERR;
    if (!body) return C_OK;
    if (create) {
        const char *id;
        char field[FIELD_MAX];
        if (get_string(body, prefix, "library_item_id", true, &id, f) != C_OK) return C_ERR;
        field_name(field, prefix, "library_item_id");
        if (check_resource_id(field, id, f) != C_OK) return C_ERR;
        copy_str(out->library_item_id, sizeof(out->library_item_id), id);
    }
    if (get_field(body, prefix, "warning_behavior", K_ARRAY, false, &wb, f) != C_OK) return C_ERR;
    if (wb) {
        if (parse_warning_behavior(wb, prefix, &out->warning_behavior, f) != C_OK) return C_ERR;
        out->has_warning_behavior = true;
    }
    return C_OK;
}

/* Name and description as libraries and items share them. */
static int name_and_description(struct json_object *body, const char *prefix, size_t name_chars,
                                char *name, char *description, vapi_failure_t *f) {
    char field[FIELD_MAX];
    const char *s;
    if (get_string(body, prefix, "name", true, &s, f) != C_OK) return C_ERR;
    field_name(field, prefix, "name");
    if (check_name(field, s, name_chars, f) != C_OK) return C_ERR;
    copy_str(name, NAME_MAX_BYTES, s);
    if (get_string(body, prefix, "description", false, &s, f) != C_OK) return C_ERR;
    field_name(field, prefix, "description");
    if (check_text(field, s, DESCRIPTION_MAX_CHARS, f) != C_OK) return C_ERR;
    copy_str(description, DESC_MAX_BYTES, s);
    return C_OK;
}

/* A string that must be valid UTF-8 without control characters and fit a buffer of size
 * bytes (storage_uri). */
static int check_plain_text(const char *field, const char *s, size_t size, vapi_failure_t *f) {
    size_t len = strlen(s);
    if (len >= size) {
        char num[24];
        snprintf(num, sizeof(num), "%zu", size - 1);
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "value_too_long",
                         "The field {0} must be at most {1} bytes long.", field, num, NULL);
    }
    bool ok = valid_utf8(s, len);
    for (size_t i = 0; ok && i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ok = false;
    return ok ? C_OK : invalid_value(field, s, f);
}

static const char *const BACKING_TYPES[] = {"DATASTORE", "OTHER"};

/* One StorageBacking {type, datastore_id?, storage_uri?}. */
static int parse_backing(struct json_object *e, const char *elem, storage_backing_t *b,
                         vapi_failure_t *f) {
    char field[FIELD_MAX];
    const char *s;
    if (!e || !json_object_is_type(e, json_type_object))
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_field_type",
                         "The field {0} must be an object.", elem, NULL);
    char pfx[FIELD_MAX];
    join(pfx, elem, ".", "");
    if (get_string(e, pfx, "type", true, &s, f) != C_OK) return C_ERR;
    bool known = false;
    for (size_t i = 0; i < ARRAY_LEN(BACKING_TYPES); i++)
        if (strcmp(s, BACKING_TYPES[i]) == 0) known = true;
    field_name(field, pfx, "type");
    if (!known) return invalid_value(field, s, f);
    copy_str(b->type, sizeof(b->type), s);
    if (get_string(e, pfx, "datastore_id", false, &s, f) != C_OK) return C_ERR;
    if (s) {
        field_name(field, pfx, "datastore_id");
        if (check_resource_id(field, s, f) != C_OK) return C_ERR;
        copy_str(b->datastore_id, sizeof(b->datastore_id), s);
    }
    if (get_string(e, pfx, "storage_uri", false, &s, f) != C_OK) return C_ERR;
    if (s) {
        field_name(field, pfx, "storage_uri");
        if (check_plain_text(field, s, sizeof(b->storage_uri), f) != C_OK) return C_ERR;
        copy_str(b->storage_uri, sizeof(b->storage_uri), s);
    }
    return C_OK;
}

/* Field order is the order of the messages a client sees: name, description, backings, then
 * subscription_info (the only field that allocates). */
int spec_library(struct json_object *body, const char *prefix, library_type_t type, library_t *out,
                 vapi_failure_t *f) {
    struct json_object *arr, *si;
    char field[FIELD_MAX], elem[FIELD_MAX];
    memset(out, 0, sizeof(*out));
    out->type = type;
    if (check_body(body, prefix, true, f) != C_OK) return C_ERR;
    if (name_and_description(body, prefix, LIBRARY_NAME_MAX_CHARS, out->name, out->description,
                             f) != C_OK)
        return C_ERR;
    if (get_field(body, prefix, "storage_backings", K_ARRAY, false, &arr, f) != C_OK) return C_ERR;
    if (arr) {
        size_t n = json_object_array_length(arr);
        field_name(field, prefix, "storage_backings");
        if (n > 1)
            return vapi_fail(f, VAPI_UNSUPPORTED, "multiple_storage_backings_unsupported",
                             "The field {0} lists more than one storage backing, which is not "
                             "supported.",
                             field, NULL);
        for (size_t i = 0; i < n; i++) {
            elem_name(elem, field, i);
            if (parse_backing(json_object_array_get_idx(arr, i), elem, &out->backings[i], f) !=
                C_OK)
                return C_ERR;
            out->nbackings++;
        }
    }
    if (type != LIBRARY_SUBSCRIBED) return C_OK;
    /* Last, so no earlier failure has to free the copy. */
    if (get_field(body, prefix, "subscription_info", K_OBJECT, true, &si, f) != C_OK) return C_ERR;
    out->subscription_info_json = strdup(json_object_to_json_string_ext(si, JSON_C_TO_STRING_PLAIN));
    if (!out->subscription_info_json)
        return vapi_fail(f, VAPI_INTERNAL_SERVER_ERROR, "out_of_memory",
                         "The server ran out of memory.", NULL);
    return C_OK;
}

/* Item type adapter ids ("ovf", "iso", "vm-template", ""): short and plain. */
static int check_item_type(const char *field, const char *s, vapi_failure_t *f) {
    size_t n = strnlen(s, TYPE_MAX);
    bool ok = n < TYPE_MAX;
    for (size_t i = 0; ok && i < n; i++) {
        char c = s[i];
        ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '.' || c == '-';
    }
    return ok ? C_OK : invalid_value(field, s, f);
}

/* library_id is checked first: nothing else matters if it cannot name a library. */
int spec_item(struct json_object *body, const char *prefix, item_t *out, vapi_failure_t *f) {
    char field[FIELD_MAX];
    const char *s;
    memset(out, 0, sizeof(*out));
    if (check_body(body, prefix, true, f) != C_OK) return C_ERR;
    if (get_string(body, prefix, "library_id", true, &s, f) != C_OK) return C_ERR;
    field_name(field, prefix, "library_id");
    if (check_resource_id(field, s, f) != C_OK) return C_ERR;
    copy_str(out->library_id, sizeof(out->library_id), s);
    if (name_and_description(body, prefix, ITEM_NAME_MAX_CHARS, out->name, out->description, f) !=
        C_OK)
        return C_ERR;
    if (get_string(body, prefix, "type", false, &s, f) != C_OK) return C_ERR;
    if (s) {
        field_name(field, prefix, "type");
        if (check_item_type(field, s, f) != C_OK) return C_ERR;
        copy_str(out->type, sizeof(out->type), s);
    }
    return C_OK;
}

/* A find-by-name string: anything a stored name could be (valid UTF-8, fits the buffer). */
static int find_name(struct json_object *body, const char *prefix, char *out, vapi_failure_t *f) {
    char field[FIELD_MAX];
    const char *s;
    if (get_string(body, prefix, "name", false, &s, f) != C_OK) return C_ERR;
    if (!s) return C_OK;
    field_name(field, prefix, "name");
    if (strlen(s) >= NAME_MAX_BYTES || !valid_utf8(s, strlen(s))) return invalid_value(field, s, f);
    copy_str(out, NAME_MAX_BYTES, s);
    return C_OK;
}

static int empty_find(vapi_failure_t *f) {
    return vapi_fail(f, VAPI_INVALID_ARGUMENT, "empty_find_spec",
                     "The find spec must have at least one field set.", NULL);
}

/* Empty strings count as "not given", so {"name": ""} is an empty spec like {}. */
int spec_library_find(struct json_object *body, const char *prefix, library_find_t *out,
                      vapi_failure_t *f) {
    const char *s;
    memset(out, 0, sizeof(*out));
    if (check_body(body, prefix, false, f) != C_OK) return C_ERR;
    if (!body) return empty_find(f);
    if (find_name(body, prefix, out->name, f) != C_OK) return C_ERR;
    if (get_string(body, prefix, "type", false, &s, f) != C_OK) return C_ERR;
    if (s && *s) {
        char field[FIELD_MAX];
        field_name(field, prefix, "type");
        if (library_type_parse(s, &out->type) != C_OK) return invalid_value(field, s, f);
        out->has_type = true;
    }
    if (!out->name[0] && !out->has_type) return empty_find(f);
    return C_OK;
}

/* As spec_library_find; source_id and other fields we cannot filter on are ignored. */
int spec_item_find(struct json_object *body, const char *prefix, item_find_t *out,
                   vapi_failure_t *f) {
    char field[FIELD_MAX];
    const char *s;
    struct json_object *cached;
    memset(out, 0, sizeof(*out));
    if (check_body(body, prefix, false, f) != C_OK) return C_ERR;
    if (!body) return empty_find(f);
    if (find_name(body, prefix, out->name, f) != C_OK) return C_ERR;
    if (get_string(body, prefix, "library_id", false, &s, f) != C_OK) return C_ERR;
    if (s && *s) {
        field_name(field, prefix, "library_id");
        if (check_resource_id(field, s, f) != C_OK) return C_ERR;
        copy_str(out->library_id, sizeof(out->library_id), s);
    }
    if (get_string(body, prefix, "type", false, &s, f) != C_OK) return C_ERR;
    if (s && *s) {
        field_name(field, prefix, "type");
        if (check_item_type(field, s, f) != C_OK) return C_ERR;
        copy_str(out->type, sizeof(out->type), s);
    }
    if (get_field(body, prefix, "cached", K_BOOL, false, &cached, f) != C_OK) return C_ERR;
    if (cached) {
        out->has_cached = true;
        out->cached = json_object_get_boolean(cached);
    }
    if (!out->name[0] && !out->library_id[0] && !out->type[0] && !out->has_cached)
        return empty_find(f);
    return C_OK;
}

/* args is always emitted, even empty: clients index it without checking (vsphere-api.md 5.1). */
struct json_object *message_to_json(const vapi_message_t *m) {
    struct json_object *o = json_object_new_object();
    struct json_object *args = json_object_new_array();
    int n = m->nargs < 0 ? 0 : m->nargs > MSG_ARGS_MAX ? MSG_ARGS_MAX : m->nargs;
    for (int i = 0; i < n; i++) json_object_array_add(args, json_object_new_string(m->args[i]));
    json_object_object_add(o, "id", json_object_new_string(m->id));
    json_object_object_add(o, "default_message", json_object_new_string(m->default_message));
    json_object_object_add(o, "args", args);
    return o;
}

/* Reads a message back (from a stored record). Anything that message_to_json could not have
 * written (missing field, wrong kind, too many or too long args) is C_ERR, not cut to fit. */
int message_from_json(struct json_object *obj, vapi_message_t *m) {
    struct json_object *id, *text, *args = NULL;
    memset(m, 0, sizeof(*m));
    if (!obj || !json_object_is_type(obj, json_type_object)) return C_ERR;
    if (!json_object_object_get_ex(obj, "id", &id) || !json_object_is_type(id, json_type_string) ||
        !json_object_object_get_ex(obj, "default_message", &text) ||
        !json_object_is_type(text, json_type_string))
        return C_ERR;
    if (copy_str(m->id, sizeof(m->id), json_object_get_string(id)) != C_OK ||
        copy_str(m->default_message, sizeof(m->default_message), json_object_get_string(text)) !=
            C_OK)
        return C_ERR;
    if (json_object_object_get_ex(obj, "args", &args) && args) {
        if (!json_object_is_type(args, json_type_array)) return C_ERR;
        size_t n = json_object_array_length(args);
        if (n > MSG_ARGS_MAX) return C_ERR;
        for (size_t i = 0; i < n; i++) {
            struct json_object *a = json_object_array_get_idx(args, i);
            if (!a || !json_object_is_type(a, json_type_string) ||
                copy_str(m->args[i], MSG_ARG_MAX, json_object_get_string(a)) != C_OK)
                return C_ERR;
        }
        m->nargs = (int)n;
    }
    return C_OK;
}

/* A count outside 0..WARNING_TYPE_COUNT (a corrupt record) is clamped, never read past. */
struct json_object *warning_behavior_to_json(const warning_behavior_t *w) {
    struct json_object *arr = json_object_new_array();
    int n = w->count < 0 ? 0 : w->count > WARNING_TYPE_COUNT ? WARNING_TYPE_COUNT : w->count;
    for (int i = 0; i < n; i++) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "type", json_object_new_string(warning_type_name(w->items[i].type)));
        json_object_object_add(o, "ignored", json_object_new_boolean(w->items[i].ignored));
        json_object_array_add(arr, o);
    }
    return arr;
}
