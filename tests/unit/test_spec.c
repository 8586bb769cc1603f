/* tests/unit/test_spec.c: the JSON decoders with good bodies, every missing or wrong-typed
 * field, hostile values and non-object bodies, and the LocalizableMessage / WarningBehavior
 * JSON shapes (including a round trip). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/spec.h"

#define UUID1 "815994e5-2828-4a88-86ed-4575f9e964e2"

/* Parses a test body; the JSON in these tests is always well formed. */
static struct json_object *J(const char *text) {
    struct json_object *o = json_tokener_parse(text);
    if (!o) fail_msg("test JSON does not parse: %s", text);
    return o;
}

static void fails(int rc, const vapi_failure_t *f, vapi_error_t type, const char *msg) {
    assert_int_equal(rc, C_ERR);
    assert_string_equal(vapi_error_name(f->type), vapi_error_name(type));
    assert_string_equal(f->msg.default_message, msg);
    assert_true(strncmp(f->msg.id, "com.vmware.vdcs.cls-main.", 25) == 0);
}

/* Runs spec_session on a JSON text and expects INVALID_ARGUMENT with msg. */
static void session_fails(const char *text, const char *prefix, bool create, const char *msg) {
    struct json_object *b = J(text);
    session_spec_t s;
    vapi_failure_t f;
    fails(spec_session(b, prefix, create, &s, &f), &f, VAPI_INVALID_ARGUMENT, msg);
    json_object_put(b);
}

static void test_session_create_good(void **state) {
    (void)state;
    session_spec_t s;
    vapi_failure_t f;
    struct json_object *b = J("{\"library_item_id\":\"" UUID1 "\",\"unknown\":[1,2]}");
    assert_int_equal(spec_session(b, "", true, &s, &f), C_OK);
    assert_string_equal(s.library_item_id, UUID1);
    assert_false(s.has_warning_behavior);
    json_object_put(b);

    b = J("{\"library_item_id\":\"item-1\",\"warning_behavior\":["
          "{\"type\":\"SELF_SIGNED_CERTIFICATE\",\"ignored\":true},"
          "{\"type\":\"EXPIRED_CERTIFICATE\",\"ignored\":false},"
          "{\"type\":\"NOT_YET_VALID_CERTIFICATE\",\"ignored\":true},"
          "{\"type\":\"UNTRUSTED_CERTIFICATE\",\"ignored\":false,\"extra\":1}]}");
    assert_int_equal(spec_session(b, "create_spec.", true, &s, &f), C_OK);
    assert_true(s.has_warning_behavior);
    assert_int_equal(s.warning_behavior.count, 4);
    assert_int_equal(s.warning_behavior.items[0].type, WARN_SELF_SIGNED_CERTIFICATE);
    assert_true(s.warning_behavior.items[0].ignored);
    assert_int_equal(s.warning_behavior.items[1].type, WARN_EXPIRED_CERTIFICATE);
    assert_false(s.warning_behavior.items[1].ignored);
    assert_int_equal(s.warning_behavior.items[3].type, WARN_UNTRUSTED_CERTIFICATE);
    json_object_put(b);

    b = J("{\"library_item_id\":\"i\",\"warning_behavior\":[]}");
    assert_int_equal(spec_session(b, "", true, &s, &f), C_OK);
    assert_true(s.has_warning_behavior);
    assert_int_equal(s.warning_behavior.count, 0);
    json_object_put(b);

    /* An explicit null is the same as an absent optional field. */
    b = J("{\"library_item_id\":\"i\",\"warning_behavior\":null}");
    assert_int_equal(spec_session(b, "", true, &s, &f), C_OK);
    assert_false(s.has_warning_behavior);
    json_object_put(b);
}

static void test_session_create_bad(void **state) {
    (void)state;
    session_fails("{}", "", true, "The field library_item_id is required.");
    session_fails("{}", "create_spec.", true, "The field create_spec.library_item_id is required.");
    session_fails("{\"library_item_id\":null}", "", true, "The field library_item_id is required.");
    session_fails("{\"library_item_id\":5}", "", true, "The field library_item_id must be a string.");
    session_fails("{\"library_item_id\":[\"x\"]}", "create_spec.", true,
                  "The field create_spec.library_item_id must be a string.");
    session_fails("{\"library_item_id\":{}}", "", true, "The field library_item_id must be a string.");
    session_fails("{\"library_item_id\":true}", "", true, "The field library_item_id must be a string.");
    session_fails("{\"library_item_id\":\"\"}", "", true,
                  "The field library_item_id has an invalid value ''.");
    session_fails("{\"library_item_id\":\"a b\"}", "", true,
                  "The field library_item_id has an invalid value 'a b'.");
    session_fails("{\"library_item_id\":\"../../etc\"}", "create_spec.", true,
                  "The field create_spec.library_item_id has an invalid value '../../etc'.");
    session_fails("{\"library_item_id\":\"{x}\"}", "", true,
                  "The field library_item_id has an invalid value '{x}'.");
    session_fails("{\"library_item_id\":\"a\\u0000b\"}", "", true,
                  "The field library_item_id must not contain NUL characters.");
    /* Field checks come before warning_behavior checks. */
    session_fails("{\"warning_behavior\":5}", "", true, "The field library_item_id is required.");
}

static void test_session_warning_behavior_bad(void **state) {
    (void)state;
    static const struct {
        const char *wb;
        const char *msg;
    } cases[] = {
        {"5", "The field create_spec.warning_behavior must be an array."},
        {"{}", "The field create_spec.warning_behavior must be an array."},
        {"\"SELF_SIGNED_CERTIFICATE\"", "The field create_spec.warning_behavior must be an array."},
        {"[5]", "The field create_spec.warning_behavior[0] must be an object."},
        {"[null]", "The field create_spec.warning_behavior[0] must be an object."},
        {"[{\"type\":\"EXPIRED_CERTIFICATE\",\"ignored\":true},[]]",
         "The field create_spec.warning_behavior[1] must be an object."},
        {"[{\"ignored\":true}]", "The field create_spec.warning_behavior[0].type is required."},
        {"[{\"type\":null,\"ignored\":true}]",
         "The field create_spec.warning_behavior[0].type is required."},
        {"[{\"type\":1,\"ignored\":true}]",
         "The field create_spec.warning_behavior[0].type must be a string."},
        {"[{\"type\":\"self_signed_certificate\",\"ignored\":true}]",
         "The field create_spec.warning_behavior[0].type has an invalid value "
         "'self_signed_certificate'."},
        {"[{\"type\":\"\",\"ignored\":true}]",
         "The field create_spec.warning_behavior[0].type has an invalid value ''."},
        {"[{\"type\":\"EXPIRED_CERTIFICATE\"}]",
         "The field create_spec.warning_behavior[0].ignored is required."},
        {"[{\"type\":\"EXPIRED_CERTIFICATE\",\"ignored\":\"true\"}]",
         "The field create_spec.warning_behavior[0].ignored must be a boolean."},
        {"[{\"type\":\"EXPIRED_CERTIFICATE\",\"ignored\":1}]",
         "The field create_spec.warning_behavior[0].ignored must be a boolean."},
        {"[{\"type\":\"EXPIRED_CERTIFICATE\",\"ignored\":true},"
         "{\"type\":\"EXPIRED_CERTIFICATE\",\"ignored\":false}]",
         "The field create_spec.warning_behavior lists the warning type EXPIRED_CERTIFICATE more "
         "than once."},
    };
    char text[512];
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        snprintf(text, sizeof(text), "{\"library_item_id\":\"x\",\"warning_behavior\":%s}",
                 cases[i].wb);
        session_fails(text, "create_spec.", true, cases[i].msg);
    }
    /* Many entries: refused at the first duplicate, nothing written past the array. */
    size_t cap = 64 + 60 * 1000;
    char *big = malloc(cap);
    assert_non_null(big);
    size_t n = (size_t)snprintf(big, cap, "{\"warning_behavior\":[");
    for (int i = 0; i < 1000; i++)
        n += (size_t)snprintf(big + n, cap - n, "%s{\"type\":\"%s\",\"ignored\":true}",
                              i ? "," : "", warning_type_name((warning_type_t)(i % 4)));
    snprintf(big + n, cap - n, "]}");
    session_fails(big, "", false,
                  "The field warning_behavior lists the warning type SELF_SIGNED_CERTIFICATE more "
                  "than once.");
    free(big);
}

static void test_session_update(void **state) {
    (void)state;
    session_spec_t s;
    vapi_failure_t f;
    memset(&s, 0x5a, sizeof(s));
    assert_int_equal(spec_session(NULL, "", false, &s, &f), C_OK);
    assert_false(s.has_warning_behavior);
    assert_string_equal(s.library_item_id, "");
    /* Update reads only warning_behavior: a bad library_item_id is not looked at. */
    struct json_object *b = J("{\"library_item_id\":7,\"warning_behavior\":"
                              "[{\"type\":\"UNTRUSTED_CERTIFICATE\",\"ignored\":true}]}");
    assert_int_equal(spec_session(b, "update_spec.", false, &s, &f), C_OK);
    assert_string_equal(s.library_item_id, "");
    assert_true(s.has_warning_behavior);
    assert_int_equal(s.warning_behavior.count, 1);
    json_object_put(b);
    session_fails("{\"warning_behavior\":{}}", "update_spec.", false,
                  "The field update_spec.warning_behavior must be an array.");
}

static void test_non_object_bodies(void **state) {
    (void)state;
    const char *bodies[] = {"[]", "\"text\"", "12", "true", "[{\"library_item_id\":\"x\"}]"};
    for (size_t i = 0; i < ARRAY_LEN(bodies); i++) {
        struct json_object *b = J(bodies[i]);
        vapi_failure_t f;
        session_spec_t s;
        library_t l;
        item_t it;
        library_find_t lf;
        item_find_t itf;
        fails(spec_session(b, "", true, &s, &f), &f, VAPI_INVALID_ARGUMENT,
              "The request body must be a JSON object.");
        fails(spec_session(b, "update_spec.", false, &s, &f), &f, VAPI_INVALID_ARGUMENT,
              "The update_spec must be a JSON object.");
        fails(spec_library(b, "create_spec.", LIBRARY_LOCAL, &l, &f), &f, VAPI_INVALID_ARGUMENT,
              "The create_spec must be a JSON object.");
        assert_null(l.subscription_info_json);
        fails(spec_item(b, "", &it, &f), &f, VAPI_INVALID_ARGUMENT,
              "The request body must be a JSON object.");
        fails(spec_library_find(b, "spec.", &lf, &f), &f, VAPI_INVALID_ARGUMENT,
              "The spec must be a JSON object.");
        fails(spec_item_find(b, "", &itf, &f), &f, VAPI_INVALID_ARGUMENT,
              "The request body must be a JSON object.");
        json_object_put(b);
    }
}

static void test_null_bodies(void **state) {
    (void)state;
    vapi_failure_t f;
    session_spec_t s;
    library_t l;
    item_t it;
    fails(spec_session(NULL, "", true, &s, &f), &f, VAPI_INVALID_ARGUMENT,
          "The request body is required.");
    fails(spec_session(NULL, "create_spec.", true, &s, &f), &f, VAPI_INVALID_ARGUMENT,
          "The create_spec is required.");
    fails(spec_library(NULL, "", LIBRARY_SUBSCRIBED, &l, &f), &f, VAPI_INVALID_ARGUMENT,
          "The request body is required.");
    fails(spec_item(NULL, "create_spec.", &it, &f), &f, VAPI_INVALID_ARGUMENT,
          "The create_spec is required.");
}

/* Runs spec_library and expects a failure of the given type and message. */
static void library_fails(const char *text, library_type_t type, vapi_error_t et,
                          const char *msg) {
    struct json_object *b = J(text);
    library_t l;
    vapi_failure_t f;
    fails(spec_library(b, "create_spec.", type, &l, &f), &f, et, msg);
    assert_null(l.subscription_info_json);
    json_object_put(b);
}

static void test_library_good(void **state) {
    (void)state;
    library_t l;
    vapi_failure_t f;
    struct json_object *b =
        J("{\"name\":\"lib\",\"description\":\"d\",\"storage_backings\":"
          "[{\"type\":\"DATASTORE\",\"datastore_id\":\"datastore-12\"}],"
          "\"subscription_info\":{\"x\":1}}");
    assert_int_equal(spec_library(b, "", LIBRARY_LOCAL, &l, &f), C_OK);
    assert_int_equal(l.type, LIBRARY_LOCAL);
    assert_string_equal(l.name, "lib");
    assert_string_equal(l.description, "d");
    assert_int_equal(l.nbackings, 1);
    assert_string_equal(l.backings[0].type, "DATASTORE");
    assert_string_equal(l.backings[0].datastore_id, "datastore-12");
    assert_string_equal(l.backings[0].storage_uri, "");
    assert_null(l.subscription_info_json); /* ignored for LOCAL */
    assert_string_equal(l.version, "");    /* the caller sets it */
    library_free(&l);
    json_object_put(b);

    /* LOCAL ignores even a wrong-typed subscription_info. */
    b = J("{\"name\":\"lib\",\"subscription_info\":7,\"storage_backings\":[]}");
    assert_int_equal(spec_library(b, "", LIBRARY_LOCAL, &l, &f), C_OK);
    assert_int_equal(l.nbackings, 0);
    assert_string_equal(l.description, "");
    json_object_put(b);

    b = J("{\"name\":\"sub\",\"storage_backings\":[{\"type\":\"OTHER\",\"storage_uri\":"
          "\"nfs://host/x\"}],\"subscription_info\":{\"subscription_url\":\"https://h/lib.json\","
          "\"automatic_sync_enabled\":false,\"on_demand\":true}}");
    assert_int_equal(spec_library(b, "create_spec.", LIBRARY_SUBSCRIBED, &l, &f), C_OK);
    assert_int_equal(l.type, LIBRARY_SUBSCRIBED);
    assert_string_equal(l.backings[0].type, "OTHER");
    assert_string_equal(l.backings[0].storage_uri, "nfs://host/x");
    assert_non_null(l.subscription_info_json);
    struct json_object *si = J(l.subscription_info_json);
    struct json_object *want = J("{\"subscription_url\":\"https://h/lib.json\","
                                 "\"automatic_sync_enabled\":false,\"on_demand\":true}");
    assert_true(json_object_equal(si, want));
    json_object_put(si);
    json_object_put(want);
    library_free(&l);
    assert_null(l.subscription_info_json);
    library_free(&l); /* twice is harmless */
    library_free(NULL);
    json_object_put(b);
}

static void test_library_bad(void **state) {
    (void)state;
    const vapi_error_t IA = VAPI_INVALID_ARGUMENT;
    library_fails("{}", LIBRARY_LOCAL, IA, "The field create_spec.name is required.");
    library_fails("{\"name\":null}", LIBRARY_LOCAL, IA, "The field create_spec.name is required.");
    library_fails("{\"name\":1}", LIBRARY_LOCAL, IA, "The field create_spec.name must be a string.");
    library_fails("{\"name\":\"  \"}", LIBRARY_LOCAL, IA,
                  "The field create_spec.name must not be empty.");
    library_fails("{\"name\":\"a\\nb\"}", LIBRARY_LOCAL, IA,
                  "The field create_spec.name must not contain control characters.");
    library_fails("{\"name\":\"a\\u0000b\"}", LIBRARY_LOCAL, IA,
                  "The field create_spec.name must not contain NUL characters.");
    library_fails("{\"name\":\"x\",\"description\":[]}", LIBRARY_LOCAL, IA,
                  "The field create_spec.description must be a string.");
    library_fails("{\"name\":\"x\",\"storage_backings\":{}}", LIBRARY_LOCAL, IA,
                  "The field create_spec.storage_backings must be an array.");
    library_fails("{\"name\":\"x\",\"storage_backings\":[{\"type\":\"DATASTORE\"},"
                  "{\"type\":\"DATASTORE\"}]}",
                  LIBRARY_LOCAL, VAPI_UNSUPPORTED,
                  "The field create_spec.storage_backings lists more than one storage backing, "
                  "which is not supported.");
    library_fails("{\"name\":\"x\",\"storage_backings\":[\"DATASTORE\"]}", LIBRARY_LOCAL, IA,
                  "The field create_spec.storage_backings[0] must be an object.");
    library_fails("{\"name\":\"x\",\"storage_backings\":[{}]}", LIBRARY_LOCAL, IA,
                  "The field create_spec.storage_backings[0].type is required.");
    library_fails("{\"name\":\"x\",\"storage_backings\":[{\"type\":2}]}", LIBRARY_LOCAL, IA,
                  "The field create_spec.storage_backings[0].type must be a string.");
    library_fails("{\"name\":\"x\",\"storage_backings\":[{\"type\":\"NFS\"}]}", LIBRARY_LOCAL, IA,
                  "The field create_spec.storage_backings[0].type has an invalid value 'NFS'.");
    library_fails("{\"name\":\"x\",\"storage_backings\":[{\"type\":\"DATASTORE\",\"datastore_id\":"
                  "\"ds 1\"}]}",
                  LIBRARY_LOCAL, IA,
                  "The field create_spec.storage_backings[0].datastore_id has an invalid value "
                  "'ds 1'.");
    library_fails("{\"name\":\"x\",\"storage_backings\":[{\"type\":\"DATASTORE\",\"datastore_id\":"
                  "12}]}",
                  LIBRARY_LOCAL, IA,
                  "The field create_spec.storage_backings[0].datastore_id must be a string.");
    library_fails("{\"name\":\"x\",\"storage_backings\":[{\"type\":\"OTHER\",\"storage_uri\":"
                  "\"nfs://a\\r\\nb\"}]}",
                  LIBRARY_LOCAL, IA,
                  "The field create_spec.storage_backings[0].storage_uri has an invalid value "
                  "'nfs://a\r\nb'.");
    library_fails("{\"name\":\"x\",\"storage_backings\":[{\"type\":\"OTHER\",\"storage_uri\":"
                  "false}]}",
                  LIBRARY_LOCAL, IA,
                  "The field create_spec.storage_backings[0].storage_uri must be a string.");
    library_fails("{\"name\":\"x\"}", LIBRARY_SUBSCRIBED, IA,
                  "The field create_spec.subscription_info is required.");
    library_fails("{\"name\":\"x\",\"subscription_info\":null}", LIBRARY_SUBSCRIBED, IA,
                  "The field create_spec.subscription_info is required.");
    library_fails("{\"name\":\"x\",\"subscription_info\":\"https://h/lib.json\"}",
                  LIBRARY_SUBSCRIBED, IA, "The field create_spec.subscription_info must be an object.");
    library_fails("{\"name\":\"x\",\"subscription_info\":[]}", LIBRARY_SUBSCRIBED, IA,
                  "The field create_spec.subscription_info must be an object.");
    /* An error after a valid subscription_info still leaves nothing allocated. */
    library_fails("{\"name\":\"\",\"subscription_info\":{}}", LIBRARY_SUBSCRIBED, IA,
                  "The field create_spec.name must not be empty.");
}

static void test_library_sizes(void **state) {
    (void)state;
    char *text = malloc(20000);
    assert_non_null(text);
    char name[100];
    memset(name, 'n', 81);
    name[81] = '\0';
    snprintf(text, 20000, "{\"name\":\"%s\"}", name);
    library_fails(text, LIBRARY_LOCAL, VAPI_INVALID_ARGUMENT,
                  "The field create_spec.name must be at most 80 characters long.");
    name[80] = '\0';
    snprintf(text, 20000, "{\"name\":\"%s\"}", name);
    struct json_object *b = J(text);
    library_t l;
    vapi_failure_t f;
    assert_int_equal(spec_library(b, "", LIBRARY_LOCAL, &l, &f), C_OK);
    assert_string_equal(l.name, name);
    json_object_put(b);

    char *desc = malloc(2002);
    assert_non_null(desc);
    memset(desc, 'd', 2001);
    desc[2001] = '\0';
    snprintf(text, 20000, "{\"name\":\"x\",\"description\":\"%s\"}", desc);
    library_fails(text, LIBRARY_LOCAL, VAPI_INVALID_ARGUMENT,
                  "The field create_spec.description must be at most 2000 characters long.");
    desc[2000] = '\0';
    snprintf(text, 20000, "{\"name\":\"x\",\"description\":\"%s\"}", desc);
    b = J(text);
    assert_int_equal(spec_library(b, "", LIBRARY_LOCAL, &l, &f), C_OK);
    assert_int_equal(strlen(l.description), 2000);
    json_object_put(b);
    free(desc);

    char uri[600];
    memset(uri, 'u', 512);
    uri[512] = '\0';
    snprintf(text, 20000, "{\"name\":\"x\",\"storage_backings\":[{\"type\":\"OTHER\","
                          "\"storage_uri\":\"%s\"}]}", uri);
    library_fails(text, LIBRARY_LOCAL, VAPI_INVALID_ARGUMENT,
                  "The field create_spec.storage_backings[0].storage_uri must be at most 511 bytes "
                  "long.");
    free(text);
}

static void item_fails(const char *text, const char *msg) {
    struct json_object *b = J(text);
    item_t it;
    vapi_failure_t f;
    fails(spec_item(b, "create_spec.", &it, &f), &f, VAPI_INVALID_ARGUMENT, msg);
    json_object_put(b);
}

static void test_item(void **state) {
    (void)state;
    item_t it;
    vapi_failure_t f;
    struct json_object *b = J("{\"library_id\":\"" UUID1 "\",\"name\":\"ttylinux\","
                              "\"description\":\"a \\u00e9 b\",\"type\":\"ovf\",\"size\":5}");
    assert_int_equal(spec_item(b, "", &it, &f), C_OK);
    assert_string_equal(it.library_id, UUID1);
    assert_string_equal(it.name, "ttylinux");
    assert_string_equal(it.description, "a \xc3\xa9 b");
    assert_string_equal(it.type, "ovf");
    assert_int_equal(it.size, 0);
    json_object_put(b);
    b = J("{\"library_id\":\"l\",\"name\":\"n\",\"type\":\"\"}");
    assert_int_equal(spec_item(b, "", &it, &f), C_OK);
    assert_string_equal(it.type, "");
    json_object_put(b);
    b = J("{\"library_id\":\"l\",\"name\":\"n\",\"type\":\"vm-template_v1.2\"}");
    assert_int_equal(spec_item(b, "", &it, &f), C_OK);
    json_object_put(b);

    item_fails("{\"name\":\"n\"}", "The field create_spec.library_id is required.");
    item_fails("{\"library_id\":3,\"name\":\"n\"}",
               "The field create_spec.library_id must be a string.");
    item_fails("{\"library_id\":\"x/y\",\"name\":\"n\"}",
               "The field create_spec.library_id has an invalid value 'x/y'.");
    item_fails("{\"library_id\":\"l\"}", "The field create_spec.name is required.");
    item_fails("{\"library_id\":\"l\",\"name\":{}}", "The field create_spec.name must be a string.");
    item_fails("{\"library_id\":\"l\",\"name\":\"\"}", "The field create_spec.name must not be empty.");
    item_fails("{\"library_id\":\"l\",\"name\":\"n\",\"description\":false}",
               "The field create_spec.description must be a string.");
    item_fails("{\"library_id\":\"l\",\"name\":\"n\",\"type\":[]}",
               "The field create_spec.type must be a string.");
    item_fails("{\"library_id\":\"l\",\"name\":\"n\",\"type\":\"o v f\"}",
               "The field create_spec.type has an invalid value 'o v f'.");
    item_fails("{\"library_id\":\"l\",\"name\":\"n\",\"type\":\"../ovf\"}",
               "The field create_spec.type has an invalid value '../ovf'.");
    item_fails("{\"library_id\":\"l\",\"name\":\"n\",\"type\":\"ovf:x\"}",
               "The field create_spec.type has an invalid value 'ovf:x'.");
    char text[300], type[TYPE_MAX + 1];
    memset(type, 't', TYPE_MAX);
    type[TYPE_MAX] = '\0';
    snprintf(text, sizeof(text), "{\"library_id\":\"l\",\"name\":\"n\",\"type\":\"%s\"}", type);
    char msg[300];
    snprintf(msg, sizeof(msg), "The field create_spec.type has an invalid value '%s'.", type);
    item_fails(text, msg);
    type[TYPE_MAX - 1] = '\0';
    snprintf(text, sizeof(text), "{\"library_id\":\"l\",\"name\":\"n\",\"type\":\"%s\"}", type);
    b = J(text);
    assert_int_equal(spec_item(b, "", &it, &f), C_OK);
    json_object_put(b);

    /* 81 two-byte characters. */
    char name[200] = "";
    for (int i = 0; i < 81; i++) strcat(name, "\xc3\xa9");
    snprintf(text, sizeof(text), "{\"library_id\":\"l\",\"name\":\"%s\"}", name);
    item_fails(text, "The field create_spec.name must be at most 80 characters long.");
}

static void find_fails(bool library, const char *text, const char *msg) {
    struct json_object *b = text ? J(text) : NULL;
    vapi_failure_t f;
    library_find_t lf;
    item_find_t itf;
    int rc = library ? spec_library_find(b, "spec.", &lf, &f) : spec_item_find(b, "spec.", &itf, &f);
    fails(rc, &f, VAPI_INVALID_ARGUMENT, msg);
    if (b) json_object_put(b);
}

static void test_library_find(void **state) {
    (void)state;
    library_find_t lf;
    vapi_failure_t f;
    struct json_object *b = J("{\"name\":\"Lib\"}");
    assert_int_equal(spec_library_find(b, "", &lf, &f), C_OK);
    assert_string_equal(lf.name, "Lib");
    assert_false(lf.has_type);
    json_object_put(b);
    b = J("{\"type\":\"SUBSCRIBED\"}");
    assert_int_equal(spec_library_find(b, "", &lf, &f), C_OK);
    assert_true(lf.has_type);
    assert_int_equal(lf.type, LIBRARY_SUBSCRIBED);
    assert_string_equal(lf.name, "");
    json_object_put(b);

    const char *empty = "The find spec must have at least one field set.";
    find_fails(true, NULL, empty);
    find_fails(true, "{}", empty);
    find_fails(true, "{\"name\":\"\"}", empty);
    find_fails(true, "{\"name\":null,\"type\":null}", empty);
    find_fails(true, "{\"other\":1}", empty);
    find_fails(true, "{\"name\":1}", "The field spec.name must be a string.");
    find_fails(true, "{\"type\":true}", "The field spec.type must be a string.");
    find_fails(true, "{\"type\":\"local\"}", "The field spec.type has an invalid value 'local'.");
}

static void test_item_find(void **state) {
    (void)state;
    item_find_t itf;
    vapi_failure_t f;
    struct json_object *b = J("{\"cached\":false}");
    assert_int_equal(spec_item_find(b, "", &itf, &f), C_OK);
    assert_true(itf.has_cached);
    assert_false(itf.cached);
    json_object_put(b);
    b = J("{\"name\":\"n\",\"library_id\":\"" UUID1 "\",\"type\":\"iso\",\"cached\":true,"
          "\"source_id\":\"s\"}");
    assert_int_equal(spec_item_find(b, "", &itf, &f), C_OK);
    assert_string_equal(itf.name, "n");
    assert_string_equal(itf.library_id, UUID1);
    assert_string_equal(itf.type, "iso");
    assert_true(itf.cached);
    json_object_put(b);

    const char *empty = "The find spec must have at least one field set.";
    find_fails(false, NULL, empty);
    find_fails(false, "{}", empty);
    find_fails(false, "{\"source_id\":\"s\"}", empty);
    find_fails(false, "{\"name\":\"\",\"library_id\":\"\",\"type\":\"\"}", empty);
    find_fails(false, "{\"cached\":\"yes\"}", "The field spec.cached must be a boolean.");
    find_fails(false, "{\"library_id\":5}", "The field spec.library_id must be a string.");
    find_fails(false, "{\"library_id\":\"a b\"}", "The field spec.library_id has an invalid value 'a b'.");
    find_fails(false, "{\"type\":\"a b\"}", "The field spec.type has an invalid value 'a b'.");
    find_fails(false, "{\"name\":[]}", "The field spec.name must be a string.");
}

static void test_find_name_hostile(void **state) {
    (void)state;
    /* Bytes that are not UTF-8 (json-c passes them through from the raw body). */
    struct json_object *b = json_object_new_object();
    json_object_object_add(b, "name", json_object_new_string("bad \xff name"));
    library_find_t lf;
    vapi_failure_t f;
    fails(spec_library_find(b, "", &lf, &f), &f, VAPI_INVALID_ARGUMENT,
          "The field name has an invalid value 'bad ? name'.");
    json_object_put(b);
    char *huge = malloc(1 << 20);
    assert_non_null(huge);
    memset(huge, 'h', (1 << 20) - 1);
    huge[(1 << 20) - 1] = '\0';
    b = json_object_new_object();
    json_object_object_add(b, "name", json_object_new_string(huge));
    item_find_t itf;
    assert_int_equal(spec_item_find(b, "", &itf, &f), C_ERR);
    assert_int_equal(strlen(f.msg.args[1]), MSG_ARG_MAX - 1);
    assert_true(strlen(f.msg.default_message) < MSG_TEXT_MAX);
    json_object_put(b);
    free(huge);
}

static void test_message_json(void **state) {
    (void)state;
    vapi_message_t m, back;
    vapi_message_set(&m, "item_not_found", "The item {0} in {1} does not exist.", "i\"1", "l\\1",
                     NULL);
    struct json_object *o = message_to_json(&m);
    struct json_object *want =
        J("{\"id\":\"com.vmware.vdcs.cls-main.item_not_found\","
          "\"default_message\":\"The item i\\\"1 in l\\\\1 does not exist.\","
          "\"args\":[\"i\\\"1\",\"l\\\\1\"]}");
    assert_true(json_object_equal(o, want));
    json_object_put(want);
    /* Through text and back. */
    struct json_object *again = J(json_object_to_json_string(o));
    assert_int_equal(message_from_json(again, &back), C_OK);
    assert_string_equal(back.id, m.id);
    assert_string_equal(back.default_message, m.default_message);
    assert_int_equal(back.nargs, 2);
    assert_string_equal(back.args[0], "i\"1");
    assert_string_equal(back.args[1], "l\\1");
    json_object_put(again);
    json_object_put(o);

    vapi_message_set(&m, "vapi.x", "No args.", NULL);
    o = message_to_json(&m);
    struct json_object *args;
    assert_true(json_object_object_get_ex(o, "args", &args));
    assert_true(json_object_is_type(args, json_type_array));
    assert_int_equal(json_object_array_length(args), 0);
    assert_int_equal(message_from_json(o, &back), C_OK);
    assert_int_equal(back.nargs, 0);
    json_object_put(o);

    /* Four maximal args survive the round trip. */
    char big[MSG_ARG_MAX];
    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    vapi_message_set(&m, "x", "{0}{1}{2}{3}", big, big, big, big, NULL);
    o = message_to_json(&m);
    assert_int_equal(message_from_json(o, &back), C_OK);
    assert_int_equal(back.nargs, 4);
    for (int i = 0; i < 4; i++) assert_string_equal(back.args[i], big);
    assert_string_equal(back.default_message, m.default_message);
    json_object_put(o);
}

static void test_message_from_json_bad(void **state) {
    (void)state;
    const char *bad[] = {
        "[]",
        "\"x\"",
        "{}",
        "{\"id\":\"a\"}",
        "{\"default_message\":\"a\"}",
        "{\"id\":1,\"default_message\":\"a\"}",
        "{\"id\":\"a\",\"default_message\":null}",
        "{\"id\":\"a\",\"default_message\":\"m\",\"args\":\"x\"}",
        "{\"id\":\"a\",\"default_message\":\"m\",\"args\":[1]}",
        "{\"id\":\"a\",\"default_message\":\"m\",\"args\":[null]}",
        "{\"id\":\"a\",\"default_message\":\"m\",\"args\":[\"1\",\"2\",\"3\",\"4\",\"5\"]}",
    };
    vapi_message_t m;
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        struct json_object *o = J(bad[i]);
        if (message_from_json(o, &m) != C_ERR) fail_msg("accepted %s", bad[i]);
        json_object_put(o);
    }
    assert_int_equal(message_from_json(NULL, &m), C_ERR);
    /* Values longer than the fixed fields are refused, not cut. */
    char *text = malloc(4000);
    char *id = malloc(MSG_ID_MAX + 1);
    assert_non_null(text);
    assert_non_null(id);
    memset(id, 'i', MSG_ID_MAX);
    id[MSG_ID_MAX] = '\0';
    snprintf(text, 4000, "{\"id\":\"%s\",\"default_message\":\"m\"}", id);
    struct json_object *o = J(text);
    assert_int_equal(message_from_json(o, &m), C_ERR);
    json_object_put(o);
    /* Missing args is accepted as none. */
    o = J("{\"id\":\"a\",\"default_message\":\"m\"}");
    assert_int_equal(message_from_json(o, &m), C_OK);
    assert_int_equal(m.nargs, 0);
    json_object_put(o);
    free(text);
    free(id);
}

static void test_warning_behavior_json(void **state) {
    (void)state;
    warning_behavior_t w = {.count = 2};
    w.items[0].type = WARN_EXPIRED_CERTIFICATE;
    w.items[0].ignored = true;
    w.items[1].type = WARN_UNTRUSTED_CERTIFICATE;
    w.items[1].ignored = false;
    struct json_object *o = warning_behavior_to_json(&w);
    struct json_object *want = J("[{\"type\":\"EXPIRED_CERTIFICATE\",\"ignored\":true},"
                                 "{\"type\":\"UNTRUSTED_CERTIFICATE\",\"ignored\":false}]");
    assert_true(json_object_equal(o, want));
    json_object_put(want);
    /* And it decodes back to the same thing. */
    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "warning_behavior", o);
    session_spec_t s;
    vapi_failure_t f;
    assert_int_equal(spec_session(body, "", false, &s, &f), C_OK);
    assert_int_equal(s.warning_behavior.count, 2);
    assert_int_equal(s.warning_behavior.items[1].type, WARN_UNTRUSTED_CERTIFICATE);
    assert_false(s.warning_behavior.items[1].ignored);
    json_object_put(body);
    w.count = 0;
    o = warning_behavior_to_json(&w);
    assert_int_equal(json_object_array_length(o), 0);
    json_object_put(o);
}

static void test_model_names(void **state) {
    (void)state;
    static const char *const wn[] = {"SELF_SIGNED_CERTIFICATE", "EXPIRED_CERTIFICATE",
                                     "NOT_YET_VALID_CERTIFICATE", "UNTRUSTED_CERTIFICATE"};
    for (int i = 0; i < WARNING_TYPE_COUNT; i++) {
        warning_type_t t;
        assert_string_equal(warning_type_name(i), wn[i]);
        assert_int_equal(warning_type_parse(wn[i], &t), C_OK);
        assert_int_equal(t, i);
    }
    assert_int_equal(warning_type_parse("", NULL), C_ERR);
    assert_int_equal(warning_type_parse(NULL, NULL), C_ERR);
    assert_string_equal(warning_type_name(WARNING_TYPE_COUNT), "UNKNOWN");
    library_type_t lt;
    assert_string_equal(library_type_name(LIBRARY_LOCAL), "LOCAL");
    assert_string_equal(library_type_name(LIBRARY_SUBSCRIBED), "SUBSCRIBED");
    assert_int_equal(library_type_parse("SUBSCRIBED", &lt), C_OK);
    assert_int_equal(lt, LIBRARY_SUBSCRIBED);
    assert_int_equal(library_type_parse("LOCAL", &lt), C_OK);
    assert_int_equal(lt, LIBRARY_LOCAL);
    assert_int_equal(library_type_parse("Local", &lt), C_ERR);
    assert_string_equal(library_type_name((library_type_t)9), "UNKNOWN");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_create_good),
        cmocka_unit_test(test_session_create_bad),
        cmocka_unit_test(test_session_warning_behavior_bad),
        cmocka_unit_test(test_session_update),
        cmocka_unit_test(test_non_object_bodies),
        cmocka_unit_test(test_null_bodies),
        cmocka_unit_test(test_library_good),
        cmocka_unit_test(test_library_bad),
        cmocka_unit_test(test_library_sizes),
        cmocka_unit_test(test_item),
        cmocka_unit_test(test_library_find),
        cmocka_unit_test(test_item_find),
        cmocka_unit_test(test_find_name_hostile),
        cmocka_unit_test(test_message_json),
        cmocka_unit_test(test_message_from_json_bad),
        cmocka_unit_test(test_warning_behavior_json),
        cmocka_unit_test(test_model_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
