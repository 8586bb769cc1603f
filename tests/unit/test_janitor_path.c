/* tests/unit/test_janitor_path.c: net/data/janitor_path.c, the janitor's check of a garbage
 * entry: the four forms of store.h are accepted with their components; anything that could
 * leave --storage-dir, name something else in it, or that we do not make, is JPATH_BAD. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "net/data/janitor_path.h"

#define ITEM "6f1c5e2a-0d1e-4a3b-9c8d-7e6f5a4b3c2d"
#define UUID "0a4c6b8e-1f2e-4d3c-8b9a-0f1e2d3c4b5a"
#define BLOB "b10b0000-0000-4000-8000-000000000001"

static void accepted(const char *path, jpath_kind_t kind, int depth) {
    jpath_t p;
    assert_int_equal(jpath_parse(path, &p), kind);
    assert_int_equal(p.kind, kind);
    assert_int_equal(p.depth, depth);
    /* The components joined again give the path back. */
    char joined[1024] = "";
    for (int i = 0; i < p.depth; i++) {
        if (i) strcat(joined, "/");
        strcat(joined, p.comp[i]);
    }
    assert_string_equal(joined, path);
}

static void refused(const char *path) {
    jpath_t p;
    assert_int_equal(jpath_parse(path, &p), JPATH_BAD);
    assert_int_equal(p.kind, JPATH_BAD);
}

static void test_forms(void **state) {
    (void)state;
    accepted("staging/" ITEM "/" UUID, JPATH_STAGING_DIR, 3);
    accepted("staging/" ITEM "/" UUID "/" BLOB, JPATH_STAGING_BLOB, 4);
    accepted("staging/" ITEM "/" UUID "/" BLOB ".part", JPATH_STAGING_BLOB, 4);
    accepted("items/" ITEM, JPATH_ITEM_DIR, 2);
    accepted("items/" ITEM "/" BLOB, JPATH_ITEM_BLOB, 3);
    /* Item ids are any resource id: ':' '.' '_' '-' inside are fine. */
    accepted("items/my.item_1:x-y", JPATH_ITEM_DIR, 2);
    assert_true(jpath_is_dir(JPATH_STAGING_DIR));
    assert_true(jpath_is_dir(JPATH_ITEM_DIR));
    assert_false(jpath_is_dir(JPATH_STAGING_BLOB));
    assert_false(jpath_is_dir(JPATH_ITEM_BLOB));
    assert_false(jpath_is_dir(JPATH_BAD));
}

static void test_wrong_depth_or_root(void **state) {
    (void)state;
    refused("staging");
    refused("staging/" ITEM); /* an item's staging directory holds other sessions */
    refused("staging/a/b/c/d");
    refused("staging/a/b/c/d/e");
    refused("items");
    refused("items/a/b/c");
    refused("item/a/b");
    refused("Staging/a/b");
    refused("tmp/a/b");
    refused("users");
    refused("");
    refused(NULL);
}

static void test_escapes(void **state) {
    (void)state;
    refused("../x");
    refused("/etc/passwd");
    refused("items/../../x");
    refused("items/..");
    refused("items/./x");
    refused("staging/../items/x");
    refused("staging/a/b/..");
    refused("/staging/a/b");
    refused("staging/a/b/");
    refused("staging//a/b");
    refused("staging/a//b");
    refused("items/.hidden");
    refused("items/a/.b");
}

static void test_bad_bytes(void **state) {
    (void)state;
    refused("items/a b");
    refused("items/a\nb");
    refused("items/a\\b");
    refused("items/a*");
    refused("items/{a}");
    refused("items/a%2f..");
    refused("items/\xc3\xa9");
    refused("items/a\tb");
}

static void test_lengths(void **state) {
    (void)state;
    char name[JPATH_NAME_MAX + 2], path[JPATH_NAME_MAX + 16];
    memset(name, 'a', JPATH_NAME_MAX);
    name[JPATH_NAME_MAX] = '\0';
    snprintf(path, sizeof(path), "items/%s", name);
    accepted(path, JPATH_ITEM_DIR, 2);
    name[JPATH_NAME_MAX] = 'a';
    name[JPATH_NAME_MAX + 1] = '\0';
    snprintf(path, sizeof(path), "items/%s", name);
    refused(path);
    assert_true(jpath_name_ok("x", 1));
    assert_false(jpath_name_ok("x", 0));
    assert_false(jpath_name_ok(NULL, 1));
    assert_false(jpath_name_ok(".x", 2));
    assert_false(jpath_name_ok("a/b", 3));
    assert_true(jpath_name_ok("a/b", 1)); /* only len bytes count */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_wrong_depth_or_root),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_bad_bytes),
        cmocka_unit_test(test_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
