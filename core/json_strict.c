/* core/json_strict.c: duplicate keys and non-finite numbers in a document json-c accepted.
 *
 * The common case costs one pass over the text and one walk of the tree: in valid JSON every
 * ':' outside a string separates one key from its value, so the text holds as many keys as the
 * parsed objects do exactly when no object repeated a key (a repeated key leaves one entry,
 * and the value it replaced, with any objects inside it, is gone from the tree). Only when the
 * counts differ does a second pass over the text find which key it was, keeping each open
 * object's keys in a json-c object used as a set. */
#include "core/json_strict.h"

#include <json-c/json.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static void set_where(char *where, size_t size, const char *key) {
    if (!where || size == 0) return;
    size_t n = strlen(key);
    if (n >= size) n = size - 1;
    memcpy(where, key, n);
    where[n] = '\0';
}

/* The index of the quote that closes the string opening at t[i] (or len). */
static size_t string_end(const char *t, size_t len, size_t i) {
    for (i++; i < len; i++) {
        if (t[i] == '\\') i++;
        else if (t[i] == '"') return i;
    }
    return len;
}

static size_t raw_key_count(const char *t, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (t[i] == '"') i = string_end(t, len, i);
        else if (t[i] == ':') n++;
    }
    return n;
}

/* Counts the keys of every object in the tree; false (and `where`) at a non-finite number.
 * The recursion is as deep as the document, which the tokener's depth limit bounds. */
static bool walk(struct json_object *o, const char *key, size_t *keys, char *where,
                 size_t size) {
    switch (json_object_get_type(o)) {
    case json_type_double:
        if (isfinite(json_object_get_double(o))) return true;
        set_where(where, size, key);
        return false;
    case json_type_object: {
        json_object_object_foreach(o, k, v) {
            (*keys)++;
            if (!walk(v, k, keys, where, size)) return false;
        }
        return true;
    }
    case json_type_array: {
        size_t n = json_object_array_length(o);
        for (size_t i = 0; i < n; i++)
            if (!walk(json_object_array_get_idx(o, i), key, keys, where, size)) return false;
        return true;
    }
    default:
        return true;
    }
}

static struct json_object *parse_key(const char *t, size_t n) {
    struct json_tokener *tok = json_tokener_new();
    if (!tok) return NULL;
    struct json_object *o = json_tokener_parse_ex(tok, t, (int)n);
    json_tokener_free(tok);
    return o;
}

/* The slow path: which key repeats. A stack of the open containers (a key set for an object,
 * NULL for an array); keys are decoded by json-c itself, so "a" and "\u0061" are one key. */
static void find_duplicate(const char *t, size_t len, char *where, size_t size) {
    struct json_object **stack = NULL;
    size_t depth = 0, cap = 0;
    bool found = false;
    for (size_t i = 0; i < len && !found; i++) {
        char ch = t[i];
        if (ch == '{' || ch == '[') {
            if (depth == cap) {
                size_t ncap = cap ? cap * 2 : 16;
                struct json_object **ns = realloc(stack, ncap * sizeof(*ns));
                if (!ns) break;
                stack = ns;
                cap = ncap;
            }
            stack[depth++] = ch == '{' ? json_object_new_object() : NULL;
        } else if ((ch == '}' || ch == ']') && depth > 0) {
            json_object_put(stack[--depth]);
        } else if (ch == '"') {
            size_t end = string_end(t, len, i);
            size_t k = end + 1;
            while (k < len && strchr(" \t\r\n", t[k])) k++;
            if (end < len && k < len && t[k] == ':' && depth > 0 && stack[depth - 1]) {
                struct json_object *key = parse_key(t + i, end - i + 1);
                const char *s = json_object_get_string(key);
                if (s && json_object_object_get_ex(stack[depth - 1], s, NULL)) {
                    set_where(where, size, s);
                    found = true;
                } else if (s) {
                    json_object_object_add(stack[depth - 1], s, NULL);
                }
                json_object_put(key);
            }
            i = end;
        }
    }
    while (depth > 0) json_object_put(stack[--depth]);
    free(stack);
    if (!found) set_where(where, size, "");
}

json_strict_t json_strict_check(const char *text, size_t len, struct json_object *doc,
                                char *where, size_t size) {
    size_t keys = 0;
    set_where(where, size, "");
    if (!walk(doc, "", &keys, where, size)) return JSON_STRICT_NOT_FINITE;
    if (keys == raw_key_count(text, len)) return JSON_STRICT_OK;
    find_duplicate(text, len, where, size);
    return JSON_STRICT_DUPLICATE_KEY;
}
