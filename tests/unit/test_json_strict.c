/* tests/unit/test_json_strict.c: core/json_strict.c on documents json-c accepts: duplicate keys
 * found (named, also when spelled with escapes, nested, or inside a value a duplicate
 * replaced), non-finite numbers found (named by their key), and clean documents passed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <string.h>

#include "core/json_strict.h"

static json_strict_t check(const char *text, char *where, size_t size) {
    struct json_tokener *tok = json_tokener_new_ex(32);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    struct json_object *o = json_tokener_parse_ex(tok, text, (int)strlen(text));
    assert_int_equal(json_tokener_get_error(tok), json_tokener_success);
    json_tokener_free(tok);
    json_strict_t r = json_strict_check(text, strlen(text), o, where, size);
    json_object_put(o);
    return r;
}

static void test_clean(void **state) {
    (void)state;
    const char *ok[] = {
        "{}", "[]", "[1]", "\"s\"", "[null]", "{\"a\":1,\"b\":{\"a\":2}}",
        "{\"a:b\":\"x:y\",\"c\":[{\"a\":1},{\"a\":2}]}", "{\"q\\\"x:\":1,\"q\\\\\":2}",
        "{\"n\":1.5e300,\"m\":-0.0}", "[{\"a\":1},{\"a\":1}]", "{ \"a\" : 1 , \"b\" : 2 }",
    };
    char where[64];
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        assert_int_equal(check(ok[i], where, sizeof(where)), JSON_STRICT_OK);
}

static void test_duplicates(void **state) {
    (void)state;
    static const struct { const char *text, *key; } dup[] = {
        {"{\"name\":\"../x\",\"name\":\"dup\"}", "name"},
        {"{\"a\":1,\"b\":2,\"a\":3}", "a"},
        {"{\"a\":1,\"\\u0061\":2}", "a"},
        {"{\"x\":{\"k\":1,\"k\":2}}", "k"},
        {"{\"x\":[{\"ok\":1},{\"k\":1, \"k\" :2}]}", "k"},
        {"{\"x\":{\"a\":1,\"b\":2},\"x\":{\"c\":3}}", "x"},
        {"{\"s:\":1,\"s:\":2}", "s:"},
    };
    for (size_t i = 0; i < sizeof(dup) / sizeof(dup[0]); i++) {
        char where[64];
        assert_int_equal(check(dup[i].text, where, sizeof(where)), JSON_STRICT_DUPLICATE_KEY);
        assert_string_equal(where, dup[i].key);
    }
    char small[3];
    assert_int_equal(check("{\"longkey\":1,\"longkey\":2}", small, sizeof(small)),
                     JSON_STRICT_DUPLICATE_KEY);
    assert_string_equal(small, "lo");
}

static void test_not_finite(void **state) {
    (void)state;
    static const struct { const char *text, *key; } bad[] = {
        {"{\"a\":NaN}", "a"}, {"{\"b\":Infinity}", "b"}, {"{\"c\":-Infinity}", "c"},
        {"{\"d\":{\"e\":[1,2,1e999]}}", "e"}, {"[NaN]", ""}, {"[-Infinity]", ""},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char where[64];
        assert_int_equal(check(bad[i].text, where, sizeof(where)), JSON_STRICT_NOT_FINITE);
        assert_string_equal(where, bad[i].key);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_not_finite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
