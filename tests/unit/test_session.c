/* tests/unit/test_session.c: expiry rules of core/session.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "core/session.h"

static update_session_t active_until(int64_t deadline) {
    update_session_t s;
    memset(&s, 0, sizeof(s));
    s.state = SESSION_ACTIVE;
    s.expiration_ms = deadline;
    return s;
}

static void test_not_expired_at_deadline(void **state) {
    (void)state;
    update_session_t s = active_until(1000);
    assert_false(session_is_expired(&s, 999));
    assert_false(session_is_expired(&s, 1000)); /* never before or at expiration_time */
    assert_false(session_observe(&s, 1000));
    assert_int_equal(s.state, SESSION_ACTIVE);
    assert_false(s.has_error_message);
}

static void test_expired_reads_as_error(void **state) {
    (void)state;
    update_session_t s = active_until(1000);
    assert_true(session_is_expired(&s, 1001));
    assert_true(session_observe(&s, 1001));
    assert_int_equal(s.state, SESSION_ERROR);
    assert_true(s.has_error_message);
    assert_string_equal(s.error_message.id, "com.vmware.vdcs.cls-main.update_session_expired");
    assert_non_null(strstr(s.error_message.default_message, "expired"));
    assert_int_equal(s.error_message.nargs, 0);
}

static void test_terminal_sessions_never_expire(void **state) {
    (void)state;
    const session_state_t terminal[] = {SESSION_DONE, SESSION_ERROR, SESSION_CANCELED};
    for (size_t i = 0; i < 3; i++) {
        update_session_t s = active_until(1000);
        s.state = terminal[i];
        assert_false(session_is_expired(&s, 5000));
        assert_false(session_observe(&s, 5000));
        assert_int_equal(s.state, terminal[i]);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_expired_at_deadline),
        cmocka_unit_test(test_expired_reads_as_error),
        cmocka_unit_test(test_terminal_sessions_never_expire),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
