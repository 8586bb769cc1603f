/* tests/unit/test_log.c: net/log.c's line format (logfmt): the timestamp, the level, the message
 * always quoted, values quoted only when they must be, escapes, cut lines, level names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/common.h"
#include "net/log.h"

#define T0 1714564800123LL /* 2024-05-01T12:00:00.123Z */

static void test_line_shape(void **state) {
    (void)state;
    char buf[256];
    const char *kv[] = {"src", "store", "n", "42"};
    size_t n = log_format(buf, sizeof(buf), T0, "warn", "redis link down", kv, 2);
    assert_string_equal(buf, "ts=2024-05-01T12:00:00.123Z level=warn msg=\"redis link down\" "
                             "src=store n=42\n");
    assert_int_equal(n, strlen(buf));
}

static void test_quoting(void **state) {
    (void)state;
    char buf[512];
    const char *kv[] = {"a", "two words", "b", "say \"hi\"", "c", "x=y", "d", "",
                        "e", "line\nbreak\ttab\\", "f", "bell\a", "g", "/plain/path:80"};
    log_format(buf, sizeof(buf), T0, NULL, NULL, kv, 7);
    assert_string_equal(buf, "ts=2024-05-01T12:00:00.123Z a=\"two words\" b=\"say \\\"hi\\\"\" "
                             "c=\"x=y\" d=\"\" e=\"line\\nbreak\\ttab\\\\\" f=\"bell\\x07\" "
                             "g=/plain/path:80\n");
}

static void test_message_escaped(void **state) {
    (void)state;
    char buf[128];
    log_format(buf, sizeof(buf), T0, "info", "a \"quoted\"\nmessage", NULL, 0);
    assert_string_equal(buf, "ts=2024-05-01T12:00:00.123Z level=info "
                             "msg=\"a \\\"quoted\\\"\\nmessage\"\n");
}

static void test_cut_line(void **state) {
    (void)state;
    char buf[64];
    char big[200];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    size_t n = log_format(buf, sizeof(buf), T0, "info", big, NULL, 0);
    assert_int_equal(n, sizeof(buf) - 1);
    assert_int_equal(strlen(buf), n);
    assert_memory_equal(buf + n - 4, "...\n", 4);
    assert_non_null(strstr(buf, "level=info msg=\"xxx"));
}

static void test_levels(void **state) {
    (void)state;
    log_level_t l;
    assert_int_equal(log_level_parse("debug", &l), C_OK);
    assert_int_equal(l, LV_DEBUG);
    assert_int_equal(log_level_parse("WARN", &l), C_OK);
    assert_int_equal(l, LV_WARN);
    assert_int_equal(log_level_parse("warning", &l), C_OK);
    assert_int_equal(l, LV_WARN);
    assert_int_equal(log_level_parse("error", &l), C_OK);
    assert_int_equal(l, LV_ERROR);
    assert_int_equal(log_level_parse("verbose", &l), C_ERR);
    assert_int_equal(log_level_parse("", &l), C_ERR);
    log_set_level(LV_WARN);
    assert_false(log_enabled(LV_INFO));
    assert_true(log_enabled(LV_WARN));
    assert_true(log_enabled(LV_ERROR));
    log_set_level(LV_INFO);
    assert_string_equal(log_level_name(LV_ERROR), "error");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_shape),
        cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_message_escaped),
        cmocka_unit_test(test_cut_line),
        cmocka_unit_test(test_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
