/* tests/unit/test_users.c: the login's Authorization header decoder (basic_auth_decode in
 * net/users.c) with good and hostile values: padding, no colon, NUL bytes, sizes at the limit,
 * and "Basic ====", which once took the decoded length below zero (found by
 * tests/fuzz/fuzz_validate; regression seed tests/fuzz/corpus/validate/regress-basic-padding). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "net/users.h"

static char name[128], password[256];

static int decode(const char *header) {
    memset(name, 'Z', sizeof(name));
    memset(password, 'Z', sizeof(password));
    return basic_auth_decode(header, name, sizeof(name), password, sizeof(password));
}

static void test_good(void **state) {
    (void)state;
    assert_int_equal(decode("Basic YWRtaW46c2VjcmV0"), C_OK); /* admin:secret */
    assert_string_equal(name, "admin");
    assert_string_equal(password, "secret");
    assert_int_equal(decode("basic   YTpi"), C_OK); /* scheme in any case, spaces */
    assert_string_equal(name, "a");
    assert_string_equal(password, "b");
    assert_int_equal(decode("Basic YTo="), C_OK); /* "a:" one '=' */
    assert_string_equal(name, "a");
    assert_string_equal(password, "");
    assert_int_equal(decode("Basic YTpiOmM="), C_OK); /* "a:b:c": the first colon splits */
    assert_string_equal(name, "a");
    assert_string_equal(password, "b:c");
    assert_int_equal(decode("Basic OmI="), C_OK); /* ":b": empty name (users_check refuses it) */
    assert_string_equal(name, "");
}

static void test_hostile(void **state) {
    (void)state;
    const char *bad[] = {
        NULL, "", "Basic", "Basic ", "Bearer YTpi", "Basic YWRtaW4=", /* no colon */
        "Basic %%%%", "Basic YTpi=", /* length not a multiple of 4 */
        "Basic ====", "Basic A===", "Basic ========", "Basic YTpi====", /* too much padding */
        "Basic YQBiOmM=", /* "a\0b:c": a NUL inside */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(decode(bad[i]), C_ERR);
    }
    /* Over 1024 base64 characters: refused before decoding. */
    char *big = malloc(6 + 1028 + 1);
    assert_non_null(big);
    memcpy(big, "Basic ", 6);
    memset(big + 6, 'A', 1028);
    big[6 + 1028] = '\0';
    assert_int_equal(decode(big), C_ERR);
    free(big);
    /* A name longer than its buffer is refused, not cut. */
    assert_int_equal(basic_auth_decode("Basic YWRtaW46c2VjcmV0", name, 5, password, sizeof(password)), C_ERR);
    assert_int_equal(basic_auth_decode("Basic YWRtaW46c2VjcmV0", name, 6, password, 6), C_ERR);
    assert_int_equal(basic_auth_decode("Basic YWRtaW46c2VjcmV0", name, 6, password, 7), C_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
