/* tests/fuzz/fuzz_spec.c: libFuzzer target for the JSON spec decoders of core/ (core/spec.c:
 * session, library, item and find specs, LocalizableMessage; core/file.c: spec_file_add).
 *
 * The input is a request body. It is parsed as net/routes.c parses bodies (json-c, depth 32,
 * strict), then every decoder reads it as /api does (prefix "", the whole body) and as /rest
 * does (prefix "create_spec." and friends, the member of that name, absent or not).
 *
 * Checked: on success, every value the decoder kept passes the validator that guards it (ids,
 * names, file names, checksums, URIs, thumbprints, ...) and fits its buffer; on failure, the
 * error is INVALID_ARGUMENT or UNSUPPORTED, with a message id and text, every message string
 * valid UTF-8, and (with a prefix) the first argument names a field under that prefix.
 * (Encoding the error bodies is left to fuzz_routes: it doubles the cost here.) message_from_json accepts only what message_to_json gives back
 * unchanged. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/file.h"
#include "core/spec.h"
#include "core/validate.h"

#define MAX_DEPTH 32

static void die(const char *fmt, const char *a, const char *b) {
    fprintf(stderr, "\nspec fuzz invariant broken: ");
    fprintf(stderr, fmt, a ? a : "", b ? b : "");
    fprintf(stderr, "\n");
    abort();
}

static bool cstr_in(const char *s, size_t size) { return memchr(s, '\0', size) != NULL; }

static bool utf8(const char *s) { return valid_utf8(s, strlen(s)); }

/* What every failure must look like. */
static void check_failure(const vapi_failure_t *f, const char *prefix, const char *decoder) {
    if (f->type != VAPI_INVALID_ARGUMENT && f->type != VAPI_UNSUPPORTED &&
        f->type != VAPI_INTERNAL_SERVER_ERROR)
        die("%s failed with error type %s", decoder, vapi_error_name(f->type));
    const vapi_message_t *m = &f->msg;
    if (!cstr_in(m->id, sizeof(m->id)) || !m->id[0]) die("%s: message without id", decoder, NULL);
    if (!cstr_in(m->default_message, sizeof(m->default_message)) || !m->default_message[0])
        die("%s: message without text", decoder, NULL);
    if (!utf8(m->default_message)) die("%s: message text is not UTF-8: %s", decoder, m->default_message);
    if (m->nargs < 0 || m->nargs > MSG_ARGS_MAX) die("%s: bad argument count", decoder, NULL);
    for (int i = 0; i < m->nargs; i++) {
        if (!cstr_in(m->args[i], MSG_ARG_MAX)) die("%s: unterminated argument", decoder, NULL);
        if (!utf8(m->args[i])) die("%s: argument is not UTF-8", decoder, NULL);
    }
    /* A field named under the prefix ("create_spec.name", or "create_spec" itself). */
    size_t plen = strlen(prefix);
    if (plen > 0 && strstr(m->id, "empty_find_spec") == NULL && strstr(m->id, "out_of_memory") == NULL) {
        if (m->nargs < 1 || strncmp(m->args[0], prefix, plen - 1) != 0)
            die("%s: the message does not name the field under the prefix: %s", decoder, m->default_message);
    }
}

static void check_resource_id_ok(const char *id, const char *what) {
    if (!cstr_in(id, ID_MAX) || !valid_resource_id(id)) die("%s kept the invalid id %s", what, id);
}

static void check_session(const session_spec_t *s, bool create) {
    if (create) check_resource_id_ok(s->library_item_id, "spec_session");
    else if (s->library_item_id[0]) die("spec_session(update) kept a library_item_id", NULL, NULL);
    const warning_behavior_t *w = &s->warning_behavior;
    if (w->count < 0 || w->count > WARNING_TYPE_COUNT) die("spec_session: bad warning count", NULL, NULL);
    for (int i = 0; i < w->count; i++) {
        if ((unsigned)w->items[i].type >= WARNING_TYPE_COUNT) die("spec_session: bad warning type", NULL, NULL);
        for (int k = 0; k < i; k++)
            if (w->items[k].type == w->items[i].type) die("spec_session: a warning type twice", NULL, NULL);
    }
}

static void check_name_ok(const char *name, size_t max_chars, const char *what) {
    vapi_failure_t f;
    if (!cstr_in(name, NAME_MAX_BYTES) || check_name("name", name, max_chars, &f) != C_OK)
        die("%s kept the invalid name '%s'", what, name);
}

static void check_library(const library_t *l, library_type_t type) {
    vapi_failure_t f;
    check_name_ok(l->name, LIBRARY_NAME_MAX_CHARS, "spec_library");
    if (!cstr_in(l->description, DESC_MAX_BYTES) ||
        check_text("description", l->description, DESCRIPTION_MAX_CHARS, &f) != C_OK)
        die("spec_library kept an invalid description", NULL, NULL);
    if (l->type != type || l->nbackings < 0 || l->nbackings > 1) die("spec_library: bad type or backings", NULL, NULL);
    for (int i = 0; i < l->nbackings; i++) {
        const storage_backing_t *b = &l->backings[i];
        if (strcmp(b->type, "DATASTORE") != 0 && strcmp(b->type, "OTHER") != 0)
            die("spec_library kept the backing type %s", b->type, NULL);
        if (b->datastore_id[0]) check_resource_id_ok(b->datastore_id, "spec_library");
        if (!cstr_in(b->storage_uri, sizeof(b->storage_uri)) || !utf8(b->storage_uri))
            die("spec_library kept an invalid storage_uri", NULL, NULL);
        for (const char *p = b->storage_uri; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f) die("spec_library: control character in storage_uri", NULL, NULL);
    }
    if ((type == LIBRARY_SUBSCRIBED) != (l->subscription_info_json != NULL))
        die("spec_library: subscription_info kept for the wrong type", NULL, NULL);
    if (l->subscription_info_json) {
        struct json_object *o = json_tokener_parse(l->subscription_info_json);
        if (!o || !json_object_is_type(o, json_type_object))
            die("spec_library kept subscription_info that is not an object: %s", l->subscription_info_json, NULL);
        json_object_put(o);
    }
}

static bool plain_type(const char *t, size_t size) {
    if (!cstr_in(t, size)) return false;
    for (; *t; t++)
        if (!((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') || (*t >= '0' && *t <= '9') ||
              *t == '_' || *t == '.' || *t == '-'))
            return false;
    return true;
}

static void check_item(const item_t *it) {
    check_resource_id_ok(it->library_id, "spec_item");
    check_name_ok(it->name, ITEM_NAME_MAX_CHARS, "spec_item");
    if (!plain_type(it->type, sizeof(it->type))) die("spec_item kept the type %s", it->type, NULL);
}

static bool is_lower_hex(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return s[n] == '\0';
}

static void check_file(const file_spec_t *fs) {
    vapi_failure_t f;
    if (!cstr_in(fs->name, sizeof(fs->name)) || check_file_name("name", fs->name, &f) != C_OK)
        die("spec_file_add kept the invalid file name '%s'", fs->name, NULL);
    if (fs->source_type != SOURCE_PUSH && fs->source_type != SOURCE_PULL) die("spec_file_add: bad source type", NULL, NULL);
    if (fs->has_size && fs->size < 0) die("spec_file_add kept a negative size", NULL, NULL);
    if (fs->checksum.present) {
        size_t want = checksum_hex_len(fs->checksum.algorithm);
        if (want == 0 || !is_lower_hex(fs->checksum.checksum, want))
            die("spec_file_add kept the checksum %s", fs->checksum.checksum, NULL);
    }
    if (fs->source_type == SOURCE_PUSH) {
        if (fs->source_uri[0] || fs->source_thumbprint[0]) die("spec_file_add: an endpoint kept for PUSH", NULL, NULL);
        return;
    }
    const char *u = fs->source_uri;
    if (!cstr_in(u, sizeof(fs->source_uri)) || (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0))
        die("spec_file_add kept the source URI %s", u, NULL);
    const char *host = u + (u[4] == 's' ? 8 : 7);
    if (!*host || strchr("/?#:", *host)) die("spec_file_add kept a URI without host: %s", u, NULL);
    for (const char *p = u; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) die("spec_file_add: a URI with byte outside ASCII", NULL, NULL);
    const char *t = fs->source_thumbprint;
    if (t[0]) {
        if (strlen(t) != 59) die("spec_file_add kept the thumbprint %s", t, NULL);
        for (int i = 0; i < 59; i++) {
            bool ok = i % 3 == 2 ? t[i] == ':'
                                 : ((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'A' && t[i] <= 'F'));
            if (!ok) die("spec_file_add kept the thumbprint %s", t, NULL);
        }
    }
}

/* Runs every decoder on one object (the whole body, or a /rest member) under prefix. */
static void decode_all(struct json_object *obj, const char *prefix) {
    vapi_failure_t f;
    session_spec_t ss;
    for (int create = 0; create <= 1; create++) {
        memset(&f, 0, sizeof(f));
        if (spec_session(obj, prefix, create, &ss, &f) == C_OK) check_session(&ss, create);
        else check_failure(&f, prefix, "spec_session");
    }
    for (int t = LIBRARY_LOCAL; t <= LIBRARY_SUBSCRIBED; t++) {
        library_t lib;
        memset(&f, 0, sizeof(f));
        if (spec_library(obj, prefix, (library_type_t)t, &lib, &f) == C_OK) check_library(&lib, (library_type_t)t);
        else check_failure(&f, prefix, "spec_library");
        library_free(&lib);
    }
    item_t it;
    memset(&f, 0, sizeof(f));
    if (spec_item(obj, prefix, &it, &f) == C_OK) check_item(&it);
    else check_failure(&f, prefix, "spec_item");

    library_find_t lf;
    memset(&f, 0, sizeof(f));
    if (spec_library_find(obj, prefix, &lf, &f) == C_OK) {
        if (!lf.name[0] && !lf.has_type) die("spec_library_find accepted an empty spec", NULL, NULL);
        if (!cstr_in(lf.name, sizeof(lf.name)) || !utf8(lf.name)) die("spec_library_find kept a bad name", NULL, NULL);
    } else {
        check_failure(&f, prefix, "spec_library_find");
    }
    item_find_t itf;
    memset(&f, 0, sizeof(f));
    if (spec_item_find(obj, prefix, &itf, &f) == C_OK) {
        if (!itf.name[0] && !itf.library_id[0] && !itf.type[0] && !itf.has_cached)
            die("spec_item_find accepted an empty spec", NULL, NULL);
        if (itf.library_id[0]) check_resource_id_ok(itf.library_id, "spec_item_find");
        if (!plain_type(itf.type, sizeof(itf.type))) die("spec_item_find kept the type %s", itf.type, NULL);
    } else {
        check_failure(&f, prefix, "spec_item_find");
    }
    file_spec_t fs;
    memset(&f, 0, sizeof(f));
    if (spec_file_add(obj, prefix, &fs, &f) == C_OK) check_file(&fs);
    else check_failure(&f, prefix, "spec_file_add");
}

/* A stored message reads back only as what message_to_json wrote. */
static void message_round_trip(struct json_object *obj) {
    vapi_message_t m, again;
    if (message_from_json(obj, &m) != C_OK) return;
    struct json_object *o = message_to_json(&m);
    if (message_from_json(o, &again) != C_OK || memcmp(&m, &again, sizeof(m)) != 0)
        die("message_from_json(message_to_json(m)) differs from m", NULL, NULL);
    json_object_put(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 1 << 20) return 0;
    struct json_tokener *tok = json_tokener_new_ex(MAX_DEPTH);
    if (!tok) return 0;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    struct json_object *body = json_tokener_parse_ex(tok, (const char *)data, (int)size);
    bool ok = json_tokener_get_error(tok) == json_tokener_success;
    json_tokener_free(tok);
    if (!ok) {
        json_object_put(body);
        body = NULL; /* routes.c refuses the request; decoders still see "no body" */
    }
    decode_all(body, "");
    static const char *const members[] = {"create_spec", "spec", "update_spec", "file_spec"};
    for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
        struct json_object *inner = NULL;
        if (body && json_object_is_type(body, json_type_object))
            json_object_object_get_ex(body, members[i], &inner);
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "%s.", members[i]);
        decode_all(inner, prefix);
    }
    message_round_trip(body);
    json_object_put(body);
    return 0;
}
