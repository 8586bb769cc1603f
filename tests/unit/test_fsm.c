/* tests/unit/test_fsm.c: every (state, event) pair of the session state machine against a
 * table written out independently here, plus the name tables and hostile enum values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/fsm.h"

#define NO -1
#define A SESSION_ACTIVE
#define D SESSION_DONE
#define E SESSION_ERROR
#define C SESSION_CANCELED

/* Columns: complete cancel fail expire keep_alive update delete add remove validate transfer */
static const int EXPECTED[SESSION_STATE_COUNT][SESSION_EVENT_COUNT] = {
    /* ACTIVE   */ {D, C, E, E, A, A, NO, A, A, A, A},
    /* DONE     */ {NO, NO, NO, NO, NO, NO, D, NO, NO, NO, NO},
    /* ERROR    */ {NO, NO, NO, NO, NO, NO, E, NO, NO, NO, NO},
    /* CANCELED */ {NO, NO, NO, NO, NO, NO, C, NO, NO, NO, NO},
};

static void test_every_pair(void **state) {
    (void)state;
    int checked = 0;
    for (int s = 0; s < SESSION_STATE_COUNT; s++) {
        for (int e = 0; e < SESSION_EVENT_COUNT; e++) {
            session_state_t next = (session_state_t)77;
            int rc = fsm_apply((session_state_t)s, (session_event_t)e, &next);
            if (EXPECTED[s][e] == NO) {
                if (rc != C_ERR)
                    fail_msg("%s in %s should be refused", session_event_name(e),
                             session_state_name(s));
                assert_int_equal(next, 77); /* untouched */
            } else {
                if (rc != C_OK)
                    fail_msg("%s in %s should be allowed", session_event_name(e),
                             session_state_name(s));
                assert_int_equal(next, EXPECTED[s][e]);
            }
            checked++;
        }
    }
    assert_int_equal(checked, 4 * 11);
}

static void test_null_next(void **state) {
    (void)state;
    assert_int_equal(fsm_apply(SESSION_ACTIVE, EV_KEEP_ALIVE, NULL), C_OK);
    assert_int_equal(fsm_apply(SESSION_DONE, EV_KEEP_ALIVE, NULL), C_ERR);
}

static void test_out_of_range(void **state) {
    (void)state;
    session_state_t next = SESSION_ACTIVE;
    assert_int_equal(fsm_apply(SESSION_STATE_COUNT, EV_DELETE, &next), C_ERR);
    assert_int_equal(fsm_apply((session_state_t)-1, EV_DELETE, &next), C_ERR);
    assert_int_equal(fsm_apply(SESSION_ACTIVE, SESSION_EVENT_COUNT, &next), C_ERR);
    assert_int_equal(fsm_apply(SESSION_ACTIVE, (session_event_t)-5, &next), C_ERR);
    assert_int_equal(next, SESSION_ACTIVE);
    assert_string_equal(session_state_name(SESSION_STATE_COUNT), "UNKNOWN");
    assert_string_equal(session_event_name(SESSION_EVENT_COUNT), "unknown");
}

static void test_state_names(void **state) {
    (void)state;
    static const char *const names[] = {"ACTIVE", "DONE", "ERROR", "CANCELED"};
    for (int s = 0; s < SESSION_STATE_COUNT; s++) {
        session_state_t back = SESSION_STATE_COUNT;
        assert_string_equal(session_state_name(s), names[s]);
        assert_int_equal(session_state_parse(names[s], &back), C_OK);
        assert_int_equal(back, s);
    }
    const char *bad[] = {"", "active", "Done", "ACTIVE ", "CANCELLED", "UNKNOWN"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        assert_int_equal(session_state_parse(bad[i], NULL), C_ERR);
    assert_int_equal(session_state_parse(NULL, NULL), C_ERR);
}

static void test_event_names(void **state) {
    (void)state;
    static const char *const names[] = {"complete", "cancel", "fail", "expire",
                                        "keep_alive", "update", "delete", "add",
                                        "remove", "validate", "transfer"};
    assert_int_equal(ARRAY_LEN(names), SESSION_EVENT_COUNT);
    for (int e = 0; e < SESSION_EVENT_COUNT; e++)
        assert_string_equal(session_event_name(e), names[e]);
}

static void test_terminal(void **state) {
    (void)state;
    assert_false(session_state_terminal(SESSION_ACTIVE));
    assert_true(session_state_terminal(SESSION_DONE));
    assert_true(session_state_terminal(SESSION_ERROR));
    assert_true(session_state_terminal(SESSION_CANCELED));
    assert_false(session_state_terminal(SESSION_STATE_COUNT));
    /* Terminal states are exactly those from which only delete is possible. */
    for (int s = 0; s < SESSION_STATE_COUNT; s++)
        assert_int_equal(session_state_terminal(s),
                         fsm_apply(s, EV_DELETE, NULL) == C_OK);
}

/* The owner rule: operators may cancel, fail and delete another user's session, nothing else. */
static void test_operator_events(void **state) {
    (void)state;
    for (int ev = 0; ev < SESSION_EVENT_COUNT; ev++) {
        bool want = ev == EV_CANCEL || ev == EV_FAIL || ev == EV_DELETE;
        assert_int_equal(session_event_for_operators((session_event_t)ev), want);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_operator_events),
        cmocka_unit_test(test_every_pair),  cmocka_unit_test(test_null_next),
        cmocka_unit_test(test_out_of_range), cmocka_unit_test(test_state_names),
        cmocka_unit_test(test_event_names), cmocka_unit_test(test_terminal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
