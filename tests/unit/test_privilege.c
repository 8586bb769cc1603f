/* tests/unit/test_privilege.c: privilege names and parsing of users-file privilege lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/privilege.h"

static const struct {
    uint32_t bit;
    const char *name;
} ALL[] = {
    {PRIV_SYSTEM_READ, "System.Read"},
    {PRIV_UPDATE_SESSION, "ContentLibrary.UpdateSession"},
    {PRIV_ADD_LIBRARY_ITEM, "ContentLibrary.AddLibraryItem"},
    {PRIV_CREATE_LOCAL_LIBRARY, "ContentLibrary.CreateLocalLibrary"},
    {PRIV_CREATE_SUBSCRIBED_LIBRARY, "ContentLibrary.CreateSubscribedLibrary"},
    {PRIV_DELETE_LOCAL_LIBRARY, "ContentLibrary.DeleteLocalLibrary"},
    {PRIV_DELETE_SUBSCRIBED_LIBRARY, "ContentLibrary.DeleteSubscribedLibrary"},
    {PRIV_DELETE_LIBRARY_ITEM, "ContentLibrary.DeleteLibraryItem"},
    {PRIV_UPDATE_LIBRARY_ITEM, "ContentLibrary.UpdateLibraryItem"},
    {PRIV_UPDATE_LOCAL_LIBRARY, "ContentLibrary.UpdateLocalLibrary"},
    {PRIV_READ_STORAGE, "ContentLibrary.ReadStorage"},
    {PRIV_SYNC_LIBRARY_ITEM, "ContentLibrary.SyncLibraryItem"},
    {PRIV_SYNC_LIBRARY, "ContentLibrary.SyncLibrary"},
    {PRIV_ALLOCATE_SPACE, "Datastore.AllocateSpace"},
    {PRIV_TERMINATE_SESSION, "Sessions.TerminateSession"},
};

static void test_names(void **state) {
    (void)state;
    uint32_t all = 0;
    for (size_t i = 0; i < ARRAY_LEN(ALL); i++) {
        assert_string_equal(privilege_name((privilege_t)ALL[i].bit), ALL[i].name);
        all |= ALL[i].bit;
    }
    assert_int_equal(all, PRIV_ALL);
    assert_null(privilege_name((privilege_t)0));
    assert_null(privilege_name((privilege_t)(PRIV_SYSTEM_READ | PRIV_UPDATE_SESSION)));
    assert_null(privilege_name((privilege_t)(1u << 15)));
    assert_null(privilege_name((privilege_t)PRIV_OR_OPERATOR));
}

static void test_each_alone(void **state) {
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(ALL); i++) {
        uint32_t p = 0;
        assert_int_equal(privileges_parse(ALL[i].name, &p, NULL, 0), C_OK);
        assert_int_equal(p, ALL[i].bit);
    }
}

static void test_lists(void **state) {
    (void)state;
    static const struct {
        const char *list;
        uint32_t privs;
    } good[] = {
        {"", PRIV_NONE},
        {"   ", PRIV_NONE},
        {"*", PRIV_ALL},
        {" * ", PRIV_ALL},
        {"*,System.Read", PRIV_ALL},
        {"System.Read,ContentLibrary.UpdateSession", PRIV_SYSTEM_READ | PRIV_UPDATE_SESSION},
        {"System.Read , ContentLibrary.UpdateSession ", PRIV_SYSTEM_READ | PRIV_UPDATE_SESSION},
        {"\tSystem.Read,\tDatastore.AllocateSpace", PRIV_SYSTEM_READ | PRIV_ALLOCATE_SPACE},
        {"System.Read,System.Read", PRIV_SYSTEM_READ},
    };
    for (size_t i = 0; i < ARRAY_LEN(good); i++) {
        uint32_t p = 0xdead;
        char bad[64] = "x";
        if (privileges_parse(good[i].list, &p, bad, sizeof(bad)) != C_OK)
            fail_msg("refused '%s'", good[i].list);
        assert_int_equal(p, good[i].privs);
        assert_string_equal(bad, "");
    }
    uint32_t p = 1;
    assert_int_equal(privileges_parse(NULL, &p, NULL, 0), C_OK);
    assert_int_equal(p, PRIV_NONE);
}

static void test_bad_lists(void **state) {
    (void)state;
    static const struct {
        const char *list;
        const char *bad;
    } cases[] = {
        {"System.read", "System.read"},
        {"System.Read,ContentLibrary.Nope", "ContentLibrary.Nope"},
        {"System.Read, Sys tem.Read ,x", "Sys tem.Read"},
        {"System.Read,", ""},
        {",System.Read", ""},
        {"System.Read,,ContentLibrary.UpdateSession", ""},
        {"**", "**"},
        {"System.Read;ContentLibrary.UpdateSession", "System.Read;ContentLibrary.UpdateSession"},
        {"System.Read\n", "System.Read\n"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        uint32_t p = 0xdead;
        char bad[64] = "x";
        if (privileges_parse(cases[i].list, &p, bad, sizeof(bad)) != C_ERR)
            fail_msg("accepted '%s'", cases[i].list);
        assert_int_equal(p, 0xdead);
        assert_string_equal(bad, cases[i].bad);
    }
}

static void test_bad_truncated(void **state) {
    (void)state;
    char *huge = malloc(100001);
    assert_non_null(huge);
    memset(huge, 'Z', 100000);
    huge[100000] = '\0';
    char bad[8];
    uint32_t p = 0;
    assert_int_equal(privileges_parse(huge, &p, bad, sizeof(bad)), C_ERR);
    assert_string_equal(bad, "ZZZZZZZ");
    assert_int_equal(privileges_parse(huge, &p, NULL, 0), C_ERR);
    free(huge);
}

/* The prelude's rule in C: all of need; PRIV_OR_OPERATOR lets an operator in as well. */
static void test_allow(void **state) {
    (void)state;
    const uint32_t read = PRIV_SYSTEM_READ, upd = PRIV_UPDATE_SESSION;
    assert_true(privileges_allow(read | upd, read | upd));
    assert_false(privileges_allow(read, read | upd));
    assert_true(privileges_allow(0, PRIV_NONE));
    assert_false(privileges_allow(PRIV_TERMINATE_SESSION, read | upd));
    assert_true(privileges_allow(PRIV_TERMINATE_SESSION, read | PRIV_OR_OPERATOR));
    assert_true(privileges_allow(read, read | PRIV_OR_OPERATOR));
    assert_false(privileges_allow(upd, read | PRIV_OR_OPERATOR));
    assert_true(privileges_allow(PRIV_ALL, read | upd | PRIV_OR_OPERATOR));
    assert_true(privileges_operator(PRIV_ALL));
    assert_false(privileges_operator(read | upd));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),     cmocka_unit_test(test_each_alone),
        cmocka_unit_test(test_lists),     cmocka_unit_test(test_bad_lists),
        cmocka_unit_test(test_bad_truncated), cmocka_unit_test(test_allow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
