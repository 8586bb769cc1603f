/* tests/unit/test_sentinel.c: the +switch-master payload parser of store/sentinel.c (bytes a
 * sentinel sends), with good and hostile payloads. The resolving and the subscription run
 * against real sentinels in tests/system/test_sentinel.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "store/sentinel.h"

/* store/sentinel.c logs through store/redis.c, which this test does not link. */
void store_log(const char *fmt, ...) {
    (void)fmt;
}

static int parse(const char *msg, const char *master, char *host, size_t hsize, int *port) {
    return sentinel_parse_switch(msg, strlen(msg), master, host, hsize, port);
}

static void test_switch_good(void **state) {
    (void)state;
    char host[64];
    int port = 0;
    assert_int_equal(parse("m 127.0.0.1 6379 127.0.0.2 6380", "m", host, sizeof(host), &port),
                     C_OK);
    assert_string_equal(host, "127.0.0.2");
    assert_int_equal(port, 6380);
    assert_int_equal(parse("usd-master ::1 1 fe80::1 65535", "usd-master", host, sizeof(host),
                           &port),
                     C_OK);
    assert_string_equal(host, "fe80::1");
    assert_int_equal(port, 65535);
    /* Extra spaces around the words are tolerated. */
    assert_int_equal(parse("  m a 1  b 2 ", "m", host, sizeof(host), &port), C_OK);
    assert_string_equal(host, "b");
    assert_int_equal(port, 2);
}

static void test_switch_other_or_bad(void **state) {
    (void)state;
    const char *bad[] = {
        "other 127.0.0.1 6379 127.0.0.2 6380", /* another master */
        "mm 127.0.0.1 6379 127.0.0.2 6380",    /* a longer name */
        "M 127.0.0.1 6379 127.0.0.2 6380",     /* names are case-sensitive */
        "",
        "m",
        "m 127.0.0.1 6379 127.0.0.2",          /* four words */
        "m 127.0.0.1 6379 127.0.0.2 6380 x",   /* six words */
        "m 127.0.0.1 6379 127.0.0.2 0",        /* port 0 */
        "m 127.0.0.1 6379 127.0.0.2 65536",    /* port too big */
        "m 127.0.0.1 6379 127.0.0.2 123456",   /* six digits */
        "m 127.0.0.1 6379 127.0.0.2 -1",
        "m 127.0.0.1 6379 127.0.0.2 63a",
        "m 127.0.0.1 6379 127.0.0.2 +80",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char host[64] = "unchanged";
        int port = 7;
        if (parse(bad[i], "m", host, sizeof(host), &port) != C_ERR)
            fail_msg("accepted '%s'", bad[i]);
        assert_string_equal(host, "unchanged");
        assert_int_equal(port, 7);
    }
    /* A host that does not fit is refused, not cut. */
    char small[8];
    int port = 0;
    assert_int_equal(parse("m a 1 123456789 2", "m", small, sizeof(small), &port), C_ERR);
    assert_int_equal(parse("m a 1 1234567 2", "m", small, sizeof(small), &port), C_OK);
    assert_string_equal(small, "1234567");
    /* Bytes after a NUL inside the payload are not ignored. */
    const char nul[] = "m a 1 b 2\0x";
    assert_int_equal(sentinel_parse_switch(nul, sizeof(nul) - 1, "m", small, sizeof(small), &port),
                     C_ERR);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_switch_good),
        cmocka_unit_test(test_switch_other_or_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
