/* core/json_strict.h: what json-c's tokener lets through and a request body must not carry:
 * duplicate object keys (json-c keeps the last one silently, so `{"name":"../x","name":"a"}`
 * would be judged by one value and logged or stored by another) and numbers that are not
 * finite (NaN, Infinity, -Infinity, and overflows such as 1e999). */
#ifndef CORE_JSON_STRICT_H
#define CORE_JSON_STRICT_H

#include <stddef.h>

struct json_object;

typedef enum { JSON_STRICT_OK, JSON_STRICT_DUPLICATE_KEY, JSON_STRICT_NOT_FINITE } json_strict_t;

/* Checks a document json-c parsed from text[0..len). On a finding, `where` names the key: the
 * duplicated key, or the key holding the non-finite number ("" at the top level or inside an
 * array at the top level); cut to fit. */
json_strict_t json_strict_check(const char *text, size_t len, struct json_object *doc,
                                char *where, size_t size);

#endif
