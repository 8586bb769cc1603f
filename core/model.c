/* core/model.c: the wire names of the model enums (WarningType, library type) and freeing of
 * the one model that owns heap memory (library_t). */
#include "core/model.h"

#include <stdlib.h>

#include "core/json_field.h"

static const char *const WARNING_NAMES[WARNING_TYPE_COUNT] = {
    [WARN_SELF_SIGNED_CERTIFICATE] = "SELF_SIGNED_CERTIFICATE",
    [WARN_EXPIRED_CERTIFICATE] = "EXPIRED_CERTIFICATE",
    [WARN_NOT_YET_VALID_CERTIFICATE] = "NOT_YET_VALID_CERTIFICATE",
    [WARN_UNTRUSTED_CERTIFICATE] = "UNTRUSTED_CERTIFICATE",
};

static const char *const LIBRARY_TYPE_NAMES[] = {
    [LIBRARY_LOCAL] = "LOCAL",
    [LIBRARY_SUBSCRIBED] = "SUBSCRIBED",
};

const char *warning_type_name(warning_type_t t) {
    return name_table_name(WARNING_NAMES, ARRAY_LEN(WARNING_NAMES), (int)t);
}

int warning_type_parse(const char *name, warning_type_t *out) {
    int i;
    if (name_table_parse(WARNING_NAMES, ARRAY_LEN(WARNING_NAMES), name, &i) != C_OK) return C_ERR;
    if (out) *out = (warning_type_t)i;
    return C_OK;
}

const char *library_type_name(library_type_t t) {
    return name_table_name(LIBRARY_TYPE_NAMES, ARRAY_LEN(LIBRARY_TYPE_NAMES), (int)t);
}

int library_type_parse(const char *name, library_type_t *out) {
    int i;
    if (name_table_parse(LIBRARY_TYPE_NAMES, ARRAY_LEN(LIBRARY_TYPE_NAMES), name, &i) != C_OK)
        return C_ERR;
    if (out) *out = (library_type_t)i;
    return C_OK;
}

void library_free(library_t *l) {
    if (!l) return;
    free(l->subscription_info_json);
    l->subscription_info_json = NULL;
}
