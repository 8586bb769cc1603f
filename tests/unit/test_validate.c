/* tests/unit/test_validate.c: the input checks with good and hostile values (empty, huge,
 * invalid UTF-8, control characters, path tricks, near-UUIDs, ids with spaces or braces),
 * the messages they produce, and ISO-8601 formatting and parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/validate.h"

#define UUID1 "815994e5-2828-4a88-86ed-4575f9e964e2"
#define UUID2 "9c7e16e9-9b8c-4c5a-a67b-a66a08b7d71c"

static char *repeat(const char *unit, size_t times) {
    size_t n = strlen(unit);
    char *s = malloc(n * times + 1);
    assert_non_null(s);
    for (size_t i = 0; i < times; i++) memcpy(s + i * n, unit, n);
    s[n * times] = '\0';
    return s;
}

static void test_uuid(void **state) {
    (void)state;
    const char *good[] = {UUID1, "00000000-0000-0000-0000-000000000000",
                          "ABCDEF01-2345-6789-ABCD-EF0123456789"};
    for (size_t i = 0; i < ARRAY_LEN(good); i++) assert_true(valid_uuid(good[i]));
    const char *bad[] = {
        "",
        "815994e5-2828-4a88-86ed-4575f9e964e",   /* 35 chars */
        "815994e5-2828-4a88-86ed-4575f9e964e22", /* 37 chars */
        "815994e5-2828-4a88-86ed-4575f9e964g2",  /* g */
        "815994e5_2828-4a88-86ed-4575f9e964e2",  /* '_' for '-' */
        "815994e52828-4a88-86ed-4575f9e964e2-",  /* dash moved */
        "{815994e5-2828-4a88-86ed-4575f9e964e2}",
        " 815994e5-2828-4a88-86ed-4575f9e964e2",
        "815994e5-2828-4a88-86ed-4575f9e964e2 ",
        "815994e5-2828-4a88-86ed-4575f9e964e2\n",
        "815994e528284a8886ed4575f9e964e2",      /* no dashes */
        "815994e5-2828-4a88-86ed-4575f9e964\xc3\xa9",
        "------------------------------------",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        if (valid_uuid(bad[i])) fail_msg("accepted '%s'", bad[i]);
    }
    assert_false(valid_uuid(NULL));
}

static void test_resource_id(void **state) {
    (void)state;
    const char *good[] = {UUID1, "datastore-12", "a", "lib_1.x:y-z", "..", "A:B:C"};
    for (size_t i = 0; i < ARRAY_LEN(good); i++)
        if (!valid_resource_id(good[i])) fail_msg("refused '%s'", good[i]);
    const char *bad[] = {"",        "../etc/passwd", "a/b",    "a b",    " a",     "a\n",
                         "{id}",    "id}",           "a*",     "a?",     "a%20",   "a\\b",
                         "\xc3\xa9", "a\x7f",        "a\tb",   "a,b",    "a\"b",   "a'b"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        if (valid_resource_id(bad[i])) fail_msg("accepted '%s'", bad[i]);
    assert_false(valid_resource_id(NULL));
    char *s = repeat("a", ID_MAX - 1);
    assert_true(valid_resource_id(s));
    free(s);
    s = repeat("a", ID_MAX);
    assert_false(valid_resource_id(s));
    free(s);
    s = repeat("a", 1 << 20);
    assert_false(valid_resource_id(s));
    free(s);
}

static void test_session_id(void **state) {
    (void)state;
    char item[ID_MAX];
    assert_true(parse_session_id(UUID1 ":" UUID2, item));
    assert_string_equal(item, UUID1);
    /* Item ids may contain ':'; the last one splits. */
    assert_true(parse_session_id("a:b:" UUID2, item));
    assert_string_equal(item, "a:b");
    assert_true(parse_session_id("x:" UUID2, NULL));
    const char *bad[] = {
        "",
        UUID1,
        UUID1 ":",
        ":" UUID2,
        UUID1 ":" UUID2 ":",
        UUID1 ":" UUID2 "x",
        UUID1 ":9c7e16e9-9b8c-4c5a-a67b-a66a08b7d71",
        UUID1 "::" UUID2 "0",
        "id:" UUID1 "/" UUID2,
        "../x:" UUID2,
        "a b:" UUID2,
        "{a}:" UUID2,
        UUID2 ":" UUID1 "\n",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        strcpy(item, "untouched");
        if (parse_session_id(bad[i], item)) fail_msg("accepted '%s'", bad[i]);
        assert_string_equal(item, "untouched");
    }
    assert_false(parse_session_id(NULL, item));
    /* The longest item id still makes a session id; one byte more does not. */
    char *longid = repeat("a", ID_MAX - 1);
    char buf[ID_MAX + 64];
    strcpy(buf, longid);
    strcat(buf, ":" UUID2);
    assert_true(parse_session_id(buf, item));
    assert_string_equal(item, longid);
    free(longid);
    longid = repeat("a", ID_MAX);
    strcpy(buf, longid);
    strcat(buf, ":" UUID2);
    assert_false(parse_session_id(buf, item));
    free(longid);
    char *huge = repeat("a:", 1 << 19);
    assert_false(parse_session_id(huge, item));
    free(huge);
}

static void test_check_resource_id(void **state) {
    (void)state;
    vapi_failure_t f;
    assert_int_equal(check_resource_id("library_item_id", UUID1, &f), C_OK);
    assert_int_equal(check_resource_id("library_item_id", "x y", &f), C_ERR);
    assert_int_equal(f.type, VAPI_INVALID_ARGUMENT);
    assert_string_equal(f.msg.default_message,
                        "The field library_item_id has an invalid value 'x y'.");
    assert_string_equal(f.msg.id, "com.vmware.vdcs.cls-main.invalid_argument");
    assert_int_equal(f.msg.nargs, 2);
    assert_string_equal(f.msg.args[0], "library_item_id");
    assert_int_equal(check_resource_id("create_spec.library_id", NULL, &f), C_ERR);
    assert_string_equal(f.msg.default_message,
                        "The field create_spec.library_id has an invalid value ''.");
    char *huge = repeat("{", 1 << 20);
    assert_int_equal(check_resource_id("f", huge, &f), C_ERR);
    assert_int_equal(strlen(f.msg.args[1]), MSG_ARG_MAX - 1);
    free(huge);
}

static void test_client_token(void **state) {
    (void)state;
    vapi_failure_t f;
    assert_int_equal(check_client_token(UUID1, &f), C_OK);
    assert_int_equal(check_client_token("not-a-uuid", &f), C_ERR);
    assert_int_equal(f.type, VAPI_INVALID_ARGUMENT);
    assert_string_equal(f.msg.default_message, "The client_token 'not-a-uuid' is not a valid UUID.");
    assert_int_equal(check_client_token("", &f), C_ERR);
    assert_int_equal(check_client_token(NULL, &f), C_ERR);
    assert_string_equal(f.msg.default_message, "The client_token '' is not a valid UUID.");
    assert_int_equal(check_client_token(UUID1 "0", &f), C_ERR);
}

static void test_utf8(void **state) {
    (void)state;
    static const struct {
        const char *s;
        bool ok;
    } cases[] = {
        {"", true},
        {"plain", true},
        {"\xc3\xa9", true},                  /* é */
        {"\xe2\x82\xac", true},              /* € */
        {"\xf0\x9f\x98\x80", true},          /* emoji */
        {"\xef\xbf\xbf", true},              /* U+FFFF */
        {"\xf4\x8f\xbf\xbf", true},          /* U+10FFFF */
        {"\xff", false},
        {"\x80", false},                     /* lone continuation */
        {"\xc3", false},                     /* cut short */
        {"\xc3(", false},
        {"\xc0\xaf", false},                 /* overlong '/' */
        {"\xc1\xbf", false},                 /* overlong */
        {"\xe0\x80\xaf", false},             /* overlong */
        {"\xe0\x9f\xbf", false},             /* overlong */
        {"\xed\xa0\x80", false},             /* surrogate D800 */
        {"\xed\xbf\xbf", false},             /* surrogate DFFF */
        {"\xf0\x8f\xbf\xbf", false},         /* overlong */
        {"\xf4\x90\x80\x80", false},         /* > U+10FFFF */
        {"\xf5\x80\x80\x80", false},
        {"\xf0\x9f\x98", false},
        {"\xe2\x82", false},
        {"ok\xe2\x82\xac\xff", false},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        if (valid_utf8(cases[i].s, strlen(cases[i].s)) != cases[i].ok)
            fail_msg("case %zu", i);
    assert_true(valid_utf8(NULL, 0));
    assert_false(valid_utf8(NULL, 1));
    /* The length bound is respected: a sequence cut by len is invalid. */
    assert_false(valid_utf8("\xc3\xa9", 1));
    assert_int_equal(utf8_chars("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"), 4);
    assert_int_equal(utf8_chars(""), 0);
    assert_int_equal(utf8_chars(NULL), 0);
    assert_int_equal(utf8_seq_len("\xe2\x82\xac", 3), 3);
    assert_int_equal(utf8_seq_len("\xe2\x82\xac", 2), 0);
    assert_int_equal(utf8_seq_len("a", 1), 1);
    assert_int_equal(utf8_seq_len("a", 0), 0);
}

static void test_check_name(void **state) {
    (void)state;
    vapi_failure_t f;
    assert_int_equal(check_name("name", "ttylinux", 80, &f), C_OK);
    assert_int_equal(check_name("name", " spaced name ", 80, &f), C_OK);
    assert_int_equal(check_name("name", "caf\xc3\xa9", 4, &f), C_OK);

    static const struct {
        const char *value;
        const char *msg;
    } bad[] = {
        {"", "The field create_spec.name must not be empty."},
        {"   ", "The field create_spec.name must not be empty."},
        {"a\nb", "The field create_spec.name must not contain control characters."},
        {"a\tb", "The field create_spec.name must not contain control characters."},
        {"\x1b[31m", "The field create_spec.name must not contain control characters."},
        {"a\x7f", "The field create_spec.name must not contain control characters."},
        {"a\xff", "The field create_spec.name is not valid UTF-8."},
        {"\xc0\xaf", "The field create_spec.name is not valid UTF-8."},
        {"\xed\xa0\x80", "The field create_spec.name is not valid UTF-8."},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        assert_int_equal(check_name("create_spec.name", bad[i].value, 80, &f), C_ERR);
        assert_int_equal(f.type, VAPI_INVALID_ARGUMENT);
        assert_string_equal(f.msg.default_message, bad[i].msg);
    }
    assert_int_equal(check_name("name", NULL, 80, &f), C_ERR);
    assert_string_equal(f.msg.default_message, "The field name is required.");

    char *s = repeat("x", 80);
    assert_int_equal(check_name("name", s, 80, &f), C_OK);
    free(s);
    s = repeat("x", 81);
    assert_int_equal(check_name("name", s, 80, &f), C_ERR);
    assert_string_equal(f.msg.default_message, "The field name must be at most 80 characters long.");
    free(s);
    /* 80 characters of 3 bytes each: counted as characters, not bytes. */
    s = repeat("\xe2\x82\xac", 80);
    assert_int_equal(check_name("name", s, 80, &f), C_OK);
    free(s);
    /* 80 four-byte characters are 320 bytes: more than a name buffer holds. */
    s = repeat("\xf0\x9f\x98\x80", 80);
    assert_int_equal(check_name("name", s, 80, &f), C_ERR);
    assert_string_equal(f.msg.default_message, "The field name must be at most 255 bytes long.");
    free(s);
    s = repeat("n", 1 << 20);
    assert_int_equal(check_name("name", s, 80, &f), C_ERR);
    free(s);
}

static void test_check_text(void **state) {
    (void)state;
    vapi_failure_t f;
    assert_int_equal(check_text("description", NULL, 2000, &f), C_OK);
    assert_int_equal(check_text("description", "", 2000, &f), C_OK);
    assert_int_equal(check_text("description", "line 1\nline 2\t\xc3\xa9", 2000, &f), C_OK);
    assert_int_equal(check_text("description", "bad \xfe", 2000, &f), C_ERR);
    assert_string_equal(f.msg.default_message, "The field description is not valid UTF-8.");
    char *s = repeat("d", 2000);
    assert_int_equal(check_text("description", s, 2000, &f), C_OK);
    free(s);
    s = repeat("d", 2001);
    assert_int_equal(check_text("description", s, 2000, &f), C_ERR);
    assert_string_equal(f.msg.default_message,
                        "The field description must be at most 2000 characters long.");
    free(s);
    s = repeat("\xc3\xa9", 1100); /* 1100 chars, 2200 bytes */
    assert_int_equal(check_text("description", s, 2000, &f), C_ERR);
    assert_string_equal(f.msg.default_message, "The field description must be at most 2047 bytes long.");
    free(s);
}

static void test_check_progress(void **state) {
    (void)state;
    vapi_failure_t f;
    assert_int_equal(check_progress("client_progress", 0, 0, &f), C_OK);
    assert_int_equal(check_progress("client_progress", 100, 100, &f), C_OK);
    assert_int_equal(check_progress("client_progress", 50, 20, &f), C_OK);
    assert_int_equal(check_progress("client_progress", 101, 0, &f), C_ERR);
    assert_string_equal(f.msg.default_message,
                        "The field client_progress has an invalid value 101; it must be between "
                        "0 and 100.");
    assert_int_equal(check_progress("client_progress", -1, 0, &f), C_ERR);
    assert_int_equal(check_progress("client_progress", INT64_MAX, 0, &f), C_ERR);
    assert_int_equal(check_progress("client_progress", INT64_MIN, 0, &f), C_ERR);
    assert_int_equal(check_progress("client_progress", 19, 20, &f), C_ERR);
    assert_int_equal(f.type, VAPI_INVALID_ARGUMENT);
    assert_string_equal(f.msg.default_message,
                        "The field client_progress has the value 19, lower than the current "
                        "progress 20.");
}

static void test_format_iso8601(void **state) {
    (void)state;
    static const struct {
        int64_t ms;
        const char *text;
    } cases[] = {
        {0, "1970-01-01T00:00:00.000Z"},
        {1, "1970-01-01T00:00:00.001Z"},
        {-1, "1969-12-31T23:59:59.999Z"},
        {951782400000, "2000-02-29T00:00:00.000Z"},
        {1795758636123, "2026-11-27T05:50:36.123Z"},
        {253402300799999, "9999-12-31T23:59:59.999Z"},
        {1709251199000, "2024-02-29T23:59:59.000Z"},
        {4107542400000, "2100-03-01T00:00:00.000Z"},
    };
    char buf[40];
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        int64_t back = 0;
        format_iso8601(cases[i].ms, buf, sizeof(buf));
        assert_string_equal(buf, cases[i].text);
        assert_int_equal(parse_iso8601(cases[i].text, &back), C_OK);
        assert_int_equal(back, cases[i].ms);
    }
    /* A small buffer is cut and terminated; extreme values do not crash. */
    char small[8];
    format_iso8601(0, small, sizeof(small));
    assert_string_equal(small, "1970-01");
    format_iso8601(INT64_MAX, buf, sizeof(buf));
    format_iso8601(INT64_MIN, buf, sizeof(buf));
    assert_true(strlen(buf) < sizeof(buf));
}

static void test_iso8601_round_trip(void **state) {
    (void)state;
    char buf[40];
    /* Every day over a few centuries, at a varying time of day. */
    for (int64_t ms = -5000LL * 86400000; ms < 60000LL * 86400000; ms += 86400000LL + 3723456) {
        int64_t back;
        format_iso8601(ms, buf, sizeof(buf));
        assert_int_equal(parse_iso8601(buf, &back), C_OK);
        assert_int_equal(back, ms);
    }
}

static void test_parse_iso8601(void **state) {
    (void)state;
    int64_t ms = 0;
    assert_int_equal(parse_iso8601("2026-11-27T05:50:36Z", &ms), C_OK);
    assert_int_equal(ms, 1795758636000);
    assert_int_equal(parse_iso8601("2026-11-27T05:50:36.1Z", &ms), C_OK);
    assert_int_equal(ms, 1795758636100);
    assert_int_equal(parse_iso8601("2026-11-27T05:50:36.123456789Z", &ms), C_OK);
    assert_int_equal(ms, 1795758636123);
    const char *bad[] = {
        "",
        "2026-11-27",
        "2026-11-27T05:50:36",
        "2026-11-27T05:50:36.Z",
        "2026-11-27T05:50:36.1234567890Z",
        "2026-11-27T05:50:36.123Zjunk",
        "2026-11-27T05:50:36.123+00:00",
        "2026-11-27 05:50:36.123Z",
        "2026-13-27T05:50:36.123Z",
        "2026-00-27T05:50:36.123Z",
        "2026-11-31T05:50:36.123Z",
        "2026-02-29T05:50:36.123Z",
        "1900-02-29T05:50:36.123Z",
        "2026-11-00T05:50:36.123Z",
        "2026-11-27T24:00:00.000Z",
        "2026-11-27T05:60:36.123Z",
        "2026-11-27T05:50:60.123Z",
        "2026-1-27T05:50:36.123Z",
        "+026-11-27T05:50:36.123Z",
        "2026-11-27T05:50:3a.123Z",
        "2026-11-27t05:50:36.123z",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        ms = 42;
        if (parse_iso8601(bad[i], &ms) != C_ERR) fail_msg("accepted '%s'", bad[i]);
        assert_int_equal(ms, 42);
    }
    assert_int_equal(parse_iso8601(NULL, &ms), C_ERR);
    assert_int_equal(parse_iso8601("2000-02-29T00:00:00Z", NULL), C_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uuid),
        cmocka_unit_test(test_resource_id),
        cmocka_unit_test(test_session_id),
        cmocka_unit_test(test_check_resource_id),
        cmocka_unit_test(test_client_token),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_check_name),
        cmocka_unit_test(test_check_text),
        cmocka_unit_test(test_check_progress),
        cmocka_unit_test(test_format_iso8601),
        cmocka_unit_test(test_iso8601_round_trip),
        cmocka_unit_test(test_parse_iso8601),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
