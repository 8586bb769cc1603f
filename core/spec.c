/* core/spec.c: decoding of client JSON bodies (json-c objects) into validated specs for
 * sessions, libraries, items and find specs, and the JSON shape of LocalizableMessage and
 * WarningBehavior. Every failure is INVALID_ARGUMENT (or UNSUPPORTED) naming the field as
 * the client wrote it: prefix + field. */
#include "core/spec.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_field.h"
#include "core/validate.h"

static int invalid_value(const char *field, const char *value, vapi_failure_t *f) {
    return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_argument",
                     "The field {0} has an invalid value '{1}'.", field, value, NULL);
}

/* warning_behavior: at most one entry per WarningType, each with both fields. */
static int parse_warning_behavior(struct json_object *arr, const char *prefix,
                                  warning_behavior_t *w, vapi_failure_t *f) {
    char field[JSON_FIELD_MAX], elem[JSON_FIELD_MAX];
    json_field_name(field, prefix, "warning_behavior");
    w->count = 0;
    size_t n = json_object_array_length(arr);
    for (size_t i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(arr, i);
        bool ignored;
        const char *type;
        warning_type_t t;
        json_field_elem(elem, field, i);
        if (json_field_check(e, elem, JF_OBJECT, f) != C_OK) return C_ERR;
        json_field_join(elem, elem, ".", "");
        if (json_field_string(e, elem, "type", true, &type, f) != C_OK) return C_ERR;
        if (warning_type_parse(type, &t) != C_OK) {
            char tf[JSON_FIELD_MAX];
            json_field_name(tf, elem, "type");
            return invalid_value(tf, type, f);
        }
        if (json_field_bool(e, elem, "ignored", true, NULL, &ignored, f) != C_OK) return C_ERR;
        for (int k = 0; k < w->count; k++)
            if (w->items[k].type == t)
                return vapi_fail(f, VAPI_INVALID_ARGUMENT, "duplicate_warning_type",
                                 "The field {0} lists the warning type {1} more than once.", field,
                                 type, NULL);
        /* Distinct types only, so the count never exceeds the number of types. */
        w->items[w->count].type = t;
        w->items[w->count].ignored = ignored;
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
    if (json_field_body(body, prefix, create, f) != C_OK) return C_ERR;
    if (!body) return C_OK;
    if (create) {
        const char *id;
        char field[JSON_FIELD_MAX];
        if (json_field_string(body, prefix, "library_item_id", true, &id, f) != C_OK) return C_ERR;
        json_field_name(field, prefix, "library_item_id");
        if (check_resource_id(field, id, f) != C_OK) return C_ERR;
        copy_str(out->library_item_id, sizeof(out->library_item_id), id);
    }
    if (json_field_array(body, prefix, "warning_behavior", false, &wb, f) != C_OK) return C_ERR;
    if (wb) {
        if (parse_warning_behavior(wb, prefix, &out->warning_behavior, f) != C_OK) return C_ERR;
        out->has_warning_behavior = true;
    }
    return C_OK;
}

/* Name and description as libraries and items share them. */
static int name_and_description(struct json_object *body, const char *prefix, size_t name_chars,
                                char *name, char *description, vapi_failure_t *f) {
    char field[JSON_FIELD_MAX];
    const char *s;
    if (json_field_string(body, prefix, "name", true, &s, f) != C_OK) return C_ERR;
    json_field_name(field, prefix, "name");
    if (check_name(field, s, name_chars, f) != C_OK) return C_ERR;
    copy_str(name, NAME_MAX_BYTES, s);
    if (json_field_string(body, prefix, "description", false, &s, f) != C_OK) return C_ERR;
    json_field_name(field, prefix, "description");
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
    char field[JSON_FIELD_MAX];
    const char *s;
    char pfx[JSON_FIELD_MAX];
    if (json_field_check(e, elem, JF_OBJECT, f) != C_OK) return C_ERR;
    json_field_join(pfx, elem, ".", "");
    if (json_field_string(e, pfx, "type", true, &s, f) != C_OK) return C_ERR;
    int known;
    json_field_name(field, pfx, "type");
    if (name_table_parse(BACKING_TYPES, ARRAY_LEN(BACKING_TYPES), s, &known) != C_OK)
        return invalid_value(field, s, f);
    copy_str(b->type, sizeof(b->type), s);
    if (json_field_string(e, pfx, "datastore_id", false, &s, f) != C_OK) return C_ERR;
    if (s) {
        json_field_name(field, pfx, "datastore_id");
        if (check_resource_id(field, s, f) != C_OK) return C_ERR;
        copy_str(b->datastore_id, sizeof(b->datastore_id), s);
    }
    if (json_field_string(e, pfx, "storage_uri", false, &s, f) != C_OK) return C_ERR;
    if (s) {
        json_field_name(field, pfx, "storage_uri");
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
    char field[JSON_FIELD_MAX], elem[JSON_FIELD_MAX];
    memset(out, 0, sizeof(*out));
    out->type = type;
    if (json_field_body(body, prefix, true, f) != C_OK) return C_ERR;
    if (name_and_description(body, prefix, LIBRARY_NAME_MAX_CHARS, out->name, out->description,
                             f) != C_OK)
        return C_ERR;
    if (json_field_array(body, prefix, "storage_backings", false, &arr, f) != C_OK) return C_ERR;
    if (arr) {
        size_t n = json_object_array_length(arr);
        json_field_name(field, prefix, "storage_backings");
        if (n > 1)
            return vapi_fail(f, VAPI_UNSUPPORTED, "multiple_storage_backings_unsupported",
                             "The field {0} lists more than one storage backing, which is not "
                             "supported.",
                             field, NULL);
        for (size_t i = 0; i < n; i++) {
            json_field_elem(elem, field, i);
            if (parse_backing(json_object_array_get_idx(arr, i), elem, &out->backings[i], f) !=
                C_OK)
                return C_ERR;
            out->nbackings++;
        }
    }
    if (type != LIBRARY_SUBSCRIBED) return C_OK;
    /* Last, so no earlier failure has to free the copy. */
    if (json_field_object(body, prefix, "subscription_info", true, &si, f) != C_OK) return C_ERR;
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
    char field[JSON_FIELD_MAX];
    const char *s;
    memset(out, 0, sizeof(*out));
    if (json_field_body(body, prefix, true, f) != C_OK) return C_ERR;
    if (json_field_string(body, prefix, "library_id", true, &s, f) != C_OK) return C_ERR;
    json_field_name(field, prefix, "library_id");
    if (check_resource_id(field, s, f) != C_OK) return C_ERR;
    copy_str(out->library_id, sizeof(out->library_id), s);
    if (name_and_description(body, prefix, ITEM_NAME_MAX_CHARS, out->name, out->description, f) !=
        C_OK)
        return C_ERR;
    if (json_field_string(body, prefix, "type", false, &s, f) != C_OK) return C_ERR;
    if (s) {
        json_field_name(field, prefix, "type");
        if (check_item_type(field, s, f) != C_OK) return C_ERR;
        copy_str(out->type, sizeof(out->type), s);
    }
    return C_OK;
}

/* A find-by-name string: anything a stored name could be (valid UTF-8, fits the buffer). */
static int find_name(struct json_object *body, const char *prefix, char *out, vapi_failure_t *f) {
    char field[JSON_FIELD_MAX];
    const char *s;
    if (json_field_string(body, prefix, "name", false, &s, f) != C_OK) return C_ERR;
    if (!s) return C_OK;
    json_field_name(field, prefix, "name");
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
    if (json_field_body(body, prefix, false, f) != C_OK) return C_ERR;
    if (!body) return empty_find(f);
    if (find_name(body, prefix, out->name, f) != C_OK) return C_ERR;
    if (json_field_string(body, prefix, "type", false, &s, f) != C_OK) return C_ERR;
    if (s && *s) {
        char field[JSON_FIELD_MAX];
        json_field_name(field, prefix, "type");
        if (library_type_parse(s, &out->type) != C_OK) return invalid_value(field, s, f);
        out->has_type = true;
    }
    if (!out->name[0] && !out->has_type) return empty_find(f);
    return C_OK;
}

/* As spec_library_find; source_id and other fields we cannot filter on are ignored. */
int spec_item_find(struct json_object *body, const char *prefix, item_find_t *out,
                   vapi_failure_t *f) {
    char field[JSON_FIELD_MAX];
    const char *s;
    memset(out, 0, sizeof(*out));
    if (json_field_body(body, prefix, false, f) != C_OK) return C_ERR;
    if (!body) return empty_find(f);
    if (find_name(body, prefix, out->name, f) != C_OK) return C_ERR;
    if (json_field_string(body, prefix, "library_id", false, &s, f) != C_OK) return C_ERR;
    if (s && *s) {
        json_field_name(field, prefix, "library_id");
        if (check_resource_id(field, s, f) != C_OK) return C_ERR;
        copy_str(out->library_id, sizeof(out->library_id), s);
    }
    if (json_field_string(body, prefix, "type", false, &s, f) != C_OK) return C_ERR;
    if (s && *s) {
        json_field_name(field, prefix, "type");
        if (check_item_type(field, s, f) != C_OK) return C_ERR;
        copy_str(out->type, sizeof(out->type), s);
    }
    if (json_field_bool(body, prefix, "cached", false, &out->has_cached, &out->cached, f) != C_OK)
        return C_ERR;
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

struct json_object *failure_to_json(const vapi_failure_t *f, flavour_t flavour) {
    struct json_object *err = json_object_new_object();
    json_object_object_add(err, "error_type", json_object_new_string(vapi_error_name(f->type)));
    struct json_object *msgs = json_object_new_array();
    json_object_array_add(msgs, message_to_json(&f->msg));
    json_object_object_add(err, "messages", msgs);
    if (flavour == FLAVOUR_API) return err;
    struct json_object *doc = json_object_new_object();
    json_object_object_add(doc, "type", json_object_new_string(vapi_error_rest_type(f->type)));
    json_object_object_add(doc, "value", err);
    return doc;
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
