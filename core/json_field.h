/* core/json_field.h: what this file owns: reading the fields of a client JSON object (json-c)
 * with messages that name the field as the client wrote it (prefix + field), and the lookup of
 * wire names in enum name tables. Shared by every decoder in core/ (spec.c, file.c) and by the
 * models' name/parse functions (model.c, file.c), so each message and rule has one home.
 *
 * Conventions: an absent field and an explicit null are the same thing ("absent"), an error
 * only when the field is required; a present field of another JSON kind is INVALID_ARGUMENT
 * "invalid_field_type". Field names are built in buffers of JSON_FIELD_MAX bytes. */
#ifndef CORE_JSON_FIELD_H
#define CORE_JSON_FIELD_H

#include "core/errors.h"

struct json_object;

#define JSON_FIELD_MAX 192

/* The JSON kinds a known field may have. */
typedef enum { JF_STRING, JF_INT, JF_BOOL, JF_OBJECT, JF_ARRAY } json_kind_t;

/* ---- field names ---- */
/* a + b + c into buf (JSON_FIELD_MAX bytes); a may be NULL ("") and may be buf itself. */
void json_field_join(char *buf, const char *a, const char *b, const char *c);
/* prefix + key ("create_spec." + "name"). */
void json_field_name(char *buf, const char *prefix, const char *key);
/* "<field>[i]" for element i of an array field. */
void json_field_elem(char *buf, const char *field, size_t i);

/* ---- checks and getters (C_OK, or C_ERR with *f filled) ---- */
/* v (NULL counts as a wrong kind) must be of `kind`; `field` names it in the message. */
int json_field_check(struct json_object *v, const char *field, json_kind_t kind,
                     vapi_failure_t *f);
/* Field `key` of obj: *val = the value, NULL when absent. */
int json_field_get(struct json_object *obj, const char *prefix, const char *key, json_kind_t kind,
                   bool required, struct json_object **val, vapi_failure_t *f);
/* Typed forms. *out is NULL when absent for string/object/array; for bool and int64 *present
 * (may be NULL) says whether the field was given, and *out is left untouched when it was not. */
int json_field_string(struct json_object *obj, const char *prefix, const char *key, bool required,
                      const char **out, vapi_failure_t *f);
int json_field_object(struct json_object *obj, const char *prefix, const char *key, bool required,
                      struct json_object **out, vapi_failure_t *f);
int json_field_array(struct json_object *obj, const char *prefix, const char *key, bool required,
                     struct json_object **out, vapi_failure_t *f);
int json_field_bool(struct json_object *obj, const char *prefix, const char *key, bool required,
                    bool *present, bool *out, vapi_failure_t *f);
int json_field_int64(struct json_object *obj, const char *prefix, const char *key, bool required,
                     bool *present, int64_t *out, vapi_failure_t *f);
/* The object a decoder reads ("create_spec." is named "create_spec", "" "request body") must be
 * a JSON object; NULL ("no body") is accepted only when !has_required. */
int json_field_body(struct json_object *body, const char *prefix, bool has_required,
                    vapi_failure_t *f);

/* ---- name tables: names[i] is the wire name of enum value i ---- */
/* Exact match of s (NULL never matches); *out = its index. */
int name_table_parse(const char *const *names, size_t n, const char *s, int *out);
/* names[i], or "UNKNOWN" for a value outside the table. */
const char *name_table_name(const char *const *names, size_t n, int i);

#endif
