/* tests/unit/test_errors.c: the error type table (names, /rest types, both statuses, checked
 * against vsphere-api.md 5.3 written out again here) and message building by vapi_fail and
 * vapi_message_set (ids, args, placeholders, truncation, hostile client text). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/errors.h"
#include "core/validate.h"

static const struct {
    vapi_error_t e;
    const char *name;
    const char *rest_type;
    int api, rest;
} EXPECTED[] = {
    {VAPI_ERROR, "ERROR", "com.vmware.vapi.std.errors.error", 500, 400},
    {VAPI_ALREADY_EXISTS, "ALREADY_EXISTS", "com.vmware.vapi.std.errors.already_exists", 400, 400},
    {VAPI_ALREADY_IN_DESIRED_STATE, "ALREADY_IN_DESIRED_STATE",
     "com.vmware.vapi.std.errors.already_in_desired_state", 400, 400},
    {VAPI_CANCELED, "CANCELED", "com.vmware.vapi.std.errors.canceled", 400, 400},
    {VAPI_CONCURRENT_CHANGE, "CONCURRENT_CHANGE", "com.vmware.vapi.std.errors.concurrent_change",
     409, 400},
    {VAPI_FEATURE_IN_USE, "FEATURE_IN_USE", "com.vmware.vapi.std.errors.feature_in_use", 400, 400},
    {VAPI_INTERNAL_SERVER_ERROR, "INTERNAL_SERVER_ERROR",
     "com.vmware.vapi.std.errors.internal_server_error", 500, 500},
    {VAPI_INVALID_ARGUMENT, "INVALID_ARGUMENT", "com.vmware.vapi.std.errors.invalid_argument", 400,
     400},
    {VAPI_INVALID_ELEMENT_CONFIGURATION, "INVALID_ELEMENT_CONFIGURATION",
     "com.vmware.vapi.std.errors.invalid_element_configuration", 400, 400},
    {VAPI_INVALID_ELEMENT_TYPE, "INVALID_ELEMENT_TYPE",
     "com.vmware.vapi.std.errors.invalid_element_type", 400, 400},
    {VAPI_INVALID_REQUEST, "INVALID_REQUEST", "com.vmware.vapi.std.errors.invalid_request", 400,
     400},
    {VAPI_NOT_ALLOWED_IN_CURRENT_STATE, "NOT_ALLOWED_IN_CURRENT_STATE",
     "com.vmware.vapi.std.errors.not_allowed_in_current_state", 400, 400},
    {VAPI_NOT_FOUND, "NOT_FOUND", "com.vmware.vapi.std.errors.not_found", 404, 404},
    {VAPI_OPERATION_NOT_FOUND, "OPERATION_NOT_FOUND",
     "com.vmware.vapi.std.errors.operation_not_found", 404, 404},
    {VAPI_RESOURCE_BUSY, "RESOURCE_BUSY", "com.vmware.vapi.std.errors.resource_busy", 500, 400},
    {VAPI_RESOURCE_IN_USE, "RESOURCE_IN_USE", "com.vmware.vapi.std.errors.resource_in_use", 400,
     400},
    {VAPI_RESOURCE_INACCESSIBLE, "RESOURCE_INACCESSIBLE",
     "com.vmware.vapi.std.errors.resource_inaccessible", 500, 400},
    {VAPI_SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE",
     "com.vmware.vapi.std.errors.service_unavailable", 503, 503},
    {VAPI_TIMED_OUT, "TIMED_OUT", "com.vmware.vapi.std.errors.timed_out", 500, 504},
    {VAPI_UNABLE_TO_ALLOCATE_RESOURCE, "UNABLE_TO_ALLOCATE_RESOURCE",
     "com.vmware.vapi.std.errors.unable_to_allocate_resource", 500, 400},
    {VAPI_UNAUTHENTICATED, "UNAUTHENTICATED", "com.vmware.vapi.std.errors.unauthenticated", 401,
     401},
    {VAPI_UNAUTHORIZED, "UNAUTHORIZED", "com.vmware.vapi.std.errors.unauthorized", 403, 403},
    {VAPI_UNEXPECTED_INPUT, "UNEXPECTED_INPUT", "com.vmware.vapi.std.errors.unexpected_input", 400,
     400},
    {VAPI_UNSUPPORTED, "UNSUPPORTED", "com.vmware.vapi.std.errors.unsupported", 400, 400},
    {VAPI_UNVERIFIED_PEER, "UNVERIFIED_PEER", "com.vmware.vapi.std.errors.unverified_peer", 400,
     400},
};

static void test_table_complete(void **state) {
    (void)state;
    assert_int_equal(ARRAY_LEN(EXPECTED), 25);
    assert_int_equal(VAPI_ERROR_COUNT, 25);
    bool seen[VAPI_ERROR_COUNT] = {0};
    for (size_t i = 0; i < ARRAY_LEN(EXPECTED); i++) {
        assert_false(seen[EXPECTED[i].e]);
        seen[EXPECTED[i].e] = true;
    }
}

static void test_names_and_statuses(void **state) {
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(EXPECTED); i++) {
        vapi_error_t e = EXPECTED[i].e;
        assert_string_equal(vapi_error_name(e), EXPECTED[i].name);
        assert_string_equal(vapi_error_rest_type(e), EXPECTED[i].rest_type);
        assert_int_equal(vapi_error_status(e, FLAVOUR_API), EXPECTED[i].api);
        assert_int_equal(vapi_error_status(e, FLAVOUR_REST), EXPECTED[i].rest);
    }
}

static void test_parse(void **state) {
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(EXPECTED); i++) {
        vapi_error_t e = VAPI_ERROR_COUNT;
        assert_int_equal(vapi_error_parse(EXPECTED[i].name, &e), C_OK);
        assert_int_equal(e, EXPECTED[i].e);
    }
    const char *bad[] = {"", "not_found", "NOT_FOUND ", " NOT_FOUND", "NOT", "ERRORS",
                         "com.vmware.vapi.std.errors.not_found"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        vapi_error_t e = VAPI_NOT_FOUND;
        assert_int_equal(vapi_error_parse(bad[i], &e), C_ERR);
        assert_int_equal(e, VAPI_NOT_FOUND);
    }
    assert_int_equal(vapi_error_parse(NULL, NULL), C_ERR);
}

static void test_out_of_range_type(void **state) {
    (void)state;
    assert_string_equal(vapi_error_name(VAPI_ERROR_COUNT), "ERROR");
    assert_string_equal(vapi_error_name((vapi_error_t)-1), "ERROR");
    assert_int_equal(vapi_error_status((vapi_error_t)999, FLAVOUR_API), 500);
}

static void test_fail_basic(void **state) {
    (void)state;
    vapi_failure_t f;
    assert_int_equal(vapi_fail(&f, VAPI_NOT_FOUND, "item_not_found",
                               "The library item {0} does not exist.", "abc", NULL),
                     C_ERR);
    assert_int_equal(f.type, VAPI_NOT_FOUND);
    assert_string_equal(f.msg.id, "com.vmware.vdcs.cls-main.item_not_found");
    assert_string_equal(f.msg.default_message, "The library item abc does not exist.");
    assert_int_equal(f.msg.nargs, 1);
    assert_string_equal(f.msg.args[0], "abc");
}

static void test_fail_dotted_id_and_no_args(void **state) {
    (void)state;
    vapi_failure_t f;
    vapi_fail(&f, VAPI_UNAUTHENTICATED, "vapi.method.authentication.required",
              "This method requires authentication.", NULL);
    assert_string_equal(f.msg.id, "vapi.method.authentication.required");
    assert_string_equal(f.msg.default_message, "This method requires authentication.");
    assert_int_equal(f.msg.nargs, 0);
}

static void test_placeholders(void **state) {
    (void)state;
    vapi_message_t m;
    vapi_message_set(&m, "x", "{1}-{0}-{1} {2}{3}", "a", "b", "c", "d", NULL);
    assert_string_equal(m.default_message, "b-a-b cd");
    assert_int_equal(m.nargs, 4);
    /* Missing args and malformed placeholders are left as written. */
    vapi_message_set(&m, "x", "{0} {1} {9} {x} {0 {", "only", NULL);
    assert_string_equal(m.default_message, "only {1} {9} {x} {0 {");
    /* Args are text, never re-expanded. */
    vapi_message_set(&m, "x", "<{0}>", "{0}{1}", "zz", NULL);
    assert_string_equal(m.default_message, "<{0}{1}>");
    /* A trailing '{' at the very end of the format. */
    vapi_message_set(&m, "x", "end{", NULL);
    assert_string_equal(m.default_message, "end{");
}

static void test_more_args_than_kept(void **state) {
    (void)state;
    vapi_message_t m;
    vapi_message_set(&m, "x", "{0}{1}{2}{3}{4}", "a", "b", "c", "d", "e", "f", NULL);
    assert_int_equal(m.nargs, MSG_ARGS_MAX);
    assert_string_equal(m.args[3], "d");
    assert_string_equal(m.default_message, "abcd{4}");
}

static void test_null_what_and_fmt(void **state) {
    (void)state;
    vapi_message_t m;
    vapi_message_set(&m, NULL, NULL, NULL);
    assert_string_equal(m.id, "com.vmware.vdcs.cls-main.error");
    assert_string_equal(m.default_message, "");
}

static void test_long_id_truncated(void **state) {
    (void)state;
    char what[600];
    memset(what, 'w', sizeof(what) - 1);
    what[sizeof(what) - 1] = '\0';
    vapi_message_t m;
    vapi_message_set(&m, what, "t", NULL);
    assert_int_equal(strlen(m.id), MSG_ID_MAX - 1);
    what[5] = '.';
    vapi_message_set(&m, what, "t", NULL);
    assert_int_equal(strlen(m.id), MSG_ID_MAX - 1);
}

static char big[1 << 20];

static void test_huge_arg_and_message(void **state) {
    (void)state;
    memset(big, 'A', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    vapi_message_t m;
    vapi_message_set(&m, "x", "value '{0}' and '{0}' end", big, NULL);
    assert_int_equal(strlen(m.args[0]), MSG_ARG_MAX - 1);
    assert_int_equal(strlen(m.default_message), MSG_TEXT_MAX - 1);
    assert_memory_equal(m.default_message, "value 'AAA", 10);
    /* A format longer than the message buffer on its own. */
    vapi_message_set(&m, "x", big, NULL);
    assert_int_equal(strlen(m.default_message), MSG_TEXT_MAX - 1);
}

static void test_truncation_keeps_utf8(void **state) {
    (void)state;
    /* 3-byte characters: 511 bytes is not a multiple of 3, so the cut must back off. */
    size_t n = 0;
    while (n + 3 < sizeof(big) - 1) {
        memcpy(big + n, "\xe2\x82\xac", 3); /* EUR sign */
        n += 3;
    }
    big[n] = '\0';
    vapi_message_t m;
    vapi_message_set(&m, "x", "x{0}{0}{0}", big, NULL);
    size_t alen = strlen(m.args[0]);
    assert_true(alen <= MSG_ARG_MAX - 1);
    assert_int_equal(alen % 3, 0);
    assert_true(valid_utf8(m.args[0], alen));
    size_t mlen = strlen(m.default_message);
    assert_true(mlen <= MSG_TEXT_MAX - 1);
    assert_true(mlen >= MSG_TEXT_MAX - 4);
    assert_true(valid_utf8(m.default_message, mlen));
    /* The format itself cut in the middle of a 4-byte character. */
    memset(big, 'b', MSG_TEXT_MAX - 3);
    memcpy(big + MSG_TEXT_MAX - 3, "\xf0\x9f\x98\x80tail", 9);
    vapi_message_set(&m, "x", big, NULL);
    assert_int_equal(strlen(m.default_message), MSG_TEXT_MAX - 3);
    assert_true(valid_utf8(m.default_message, strlen(m.default_message)));
}

static void test_invalid_utf8_in_args(void **state) {
    (void)state;
    vapi_message_t m;
    vapi_message_set(&m, "x", "[{0}]", "a\xff" "b\xc3(\xe2\x82" "c\xc0\xaf\xed\xa0\x80\xc3\xa9", NULL);
    assert_string_equal(m.args[0], "a?b?(??c?????\xc3\xa9");
    assert_true(valid_utf8(m.default_message, strlen(m.default_message)));
    /* Truncated sequence at the very end of the client string. */
    vapi_message_set(&m, "x", "{0}", "ok\xf0\x9f\x98", NULL);
    assert_string_equal(m.args[0], "ok???");
    /* Control characters pass through (JSON escapes them); they are not our concern here. */
    vapi_message_set(&m, "x", "{0}", "a\nb\tc", NULL);
    assert_string_equal(m.default_message, "a\nb\tc");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_complete),
        cmocka_unit_test(test_names_and_statuses),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_out_of_range_type),
        cmocka_unit_test(test_fail_basic),
        cmocka_unit_test(test_fail_dotted_id_and_no_args),
        cmocka_unit_test(test_placeholders),
        cmocka_unit_test(test_more_args_than_kept),
        cmocka_unit_test(test_null_what_and_fmt),
        cmocka_unit_test(test_long_id_truncated),
        cmocka_unit_test(test_huge_arg_and_message),
        cmocka_unit_test(test_truncation_keeps_utf8),
        cmocka_unit_test(test_invalid_utf8_in_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
