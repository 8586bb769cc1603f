/* tests/unit/test_transfer.c: the file-transfer machine and the completion machine of
 * core/transfer.h: every (state, event) pair of both against tables written out independently
 * here, hostile enum values, the lapsed-lease rule, the name tables, and the "STATE=NEXT "
 * encoding the store hands to its scripts (exact text, and too-small buffers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/transfer.h"

#define NO -1
#define W TRANSFER_WAITING_FOR_TRANSFER
#define T TRANSFER_TRANSFERRING
#define R TRANSFER_READY
#define V TRANSFER_VALIDATING
#define E TRANSFER_ERROR

/* Columns: add_push add_pull begin resume progress pause ready fail remove.
 * A moving file (T) takes only its mover's events and removal; READY can be replaced but not
 * appended to; VALIDATING is never entered and refuses everything. */
static const int TRANSFER_EXPECTED[TRANSFER_STATUS_COUNT][TRANSFER_EVENT_COUNT] = {
    /* WAITING_FOR_TRANSFER */ {W, T, T, T, NO, NO, NO, NO, W},
    /* TRANSFERRING         */ {NO, NO, NO, NO, T, W, R, E, T},
    /* READY                */ {W, T, T, NO, NO, NO, NO, NO, R},
    /* VALIDATING           */ {NO, NO, NO, NO, NO, NO, NO, NO, NO},
    /* ERROR                */ {W, T, T, T, NO, NO, NO, NO, E},
};

#define CO COMPLETION_OPEN
#define CC COMPLETION_COMPLETING
#define CA COMPLETION_ABORTED

/* Columns: file_change request pull_ready pull_failed retract. A retracted request (a repeated
 * complete found a file that will never be READY) reopens the file set. */
static const int COMPLETION_EXPECTED[COMPLETION_STATE_COUNT][COMPLETION_EVENT_COUNT] = {
    /* OPEN       */ {CO, CC, CO, CO, CO},
    /* COMPLETING */ {NO, CC, CC, CA, CO},
    /* ABORTED    */ {NO, NO, NO, NO, NO},
};

/* A new state or event must be added to the tables above (and the names below) first. */
_Static_assert(TRANSFER_STATUS_COUNT == 5 && TRANSFER_EVENT_COUNT == 9,
               "the transfer machine changed: update TRANSFER_EXPECTED");
_Static_assert(COMPLETION_STATE_COUNT == 3 && COMPLETION_EVENT_COUNT == 5,
               "the completion machine changed: update COMPLETION_EXPECTED");

static const char *const STATUS_NAMES[] = {"WAITING_FOR_TRANSFER", "TRANSFERRING", "READY",
                                           "VALIDATING", "ERROR"};
static const char *const TRANSFER_EVENT_NAMES[] = {"add_push", "add_pull", "begin",
                                                   "resume",   "progress", "pause",
                                                   "ready",    "fail",     "remove"};
static const char *const COMPLETION_STATE_NAMES[] = {"OPEN", "COMPLETING", "ABORTED"};
static const char *const COMPLETION_EVENT_NAMES[] = {"file_change", "request", "pull_ready",
                                                     "pull_failed", "retract"};

static void test_transfer_every_pair(void **state) {
    (void)state;
    int checked = 0;
    for (int s = 0; s < TRANSFER_STATUS_COUNT; s++) {
        for (int e = 0; e < TRANSFER_EVENT_COUNT; e++) {
            transfer_status_t next = (transfer_status_t)77;
            int rc = transfer_apply((transfer_status_t)s, (transfer_event_t)e, &next);
            if (TRANSFER_EXPECTED[s][e] == NO) {
                if (rc != C_ERR)
                    fail_msg("%s in %s should be refused", TRANSFER_EVENT_NAMES[e],
                             STATUS_NAMES[s]);
                assert_int_equal(next, 77); /* untouched */
            } else {
                if (rc != C_OK)
                    fail_msg("%s in %s should be allowed", TRANSFER_EVENT_NAMES[e],
                             STATUS_NAMES[s]);
                if ((int)next != TRANSFER_EXPECTED[s][e])
                    fail_msg("%s in %s: next %s, want %s", TRANSFER_EVENT_NAMES[e],
                             STATUS_NAMES[s], transfer_status_name(next),
                             STATUS_NAMES[TRANSFER_EXPECTED[s][e]]);
            }
            /* NULL next: the same decision. */
            assert_int_equal(transfer_apply((transfer_status_t)s, (transfer_event_t)e, NULL),
                             TRANSFER_EXPECTED[s][e] == NO ? C_ERR : C_OK);
            checked++;
        }
    }
    assert_int_equal(checked, 5 * 9);
}

static void test_completion_every_pair(void **state) {
    (void)state;
    int checked = 0;
    for (int s = 0; s < COMPLETION_STATE_COUNT; s++) {
        for (int e = 0; e < COMPLETION_EVENT_COUNT; e++) {
            completion_state_t next = (completion_state_t)77;
            int rc = completion_apply((completion_state_t)s, (completion_event_t)e, &next);
            if (COMPLETION_EXPECTED[s][e] == NO) {
                if (rc != C_ERR)
                    fail_msg("%s in %s should be refused", COMPLETION_EVENT_NAMES[e],
                             COMPLETION_STATE_NAMES[s]);
                assert_int_equal(next, 77);
            } else {
                if (rc != C_OK)
                    fail_msg("%s in %s should be allowed", COMPLETION_EVENT_NAMES[e],
                             COMPLETION_STATE_NAMES[s]);
                assert_int_equal(next, COMPLETION_EXPECTED[s][e]);
            }
            assert_int_equal(
                completion_apply((completion_state_t)s, (completion_event_t)e, NULL),
                COMPLETION_EXPECTED[s][e] == NO ? C_ERR : C_OK);
            checked++;
        }
    }
    assert_int_equal(checked, 3 * 5);
}

static void test_out_of_range(void **state) {
    (void)state;
    transfer_status_t tn = TRANSFER_READY;
    assert_int_equal(transfer_apply(TRANSFER_STATUS_COUNT, TEV_REMOVE, &tn), C_ERR);
    assert_int_equal(transfer_apply((transfer_status_t)-1, TEV_REMOVE, &tn), C_ERR);
    assert_int_equal(transfer_apply(TRANSFER_WAITING_FOR_TRANSFER, TRANSFER_EVENT_COUNT, &tn),
                     C_ERR);
    assert_int_equal(transfer_apply(TRANSFER_WAITING_FOR_TRANSFER, (transfer_event_t)-3, &tn),
                     C_ERR);
    assert_int_equal(transfer_apply((transfer_status_t)1000, (transfer_event_t)1000, NULL),
                     C_ERR);
    assert_int_equal(tn, TRANSFER_READY);

    completion_state_t cn = COMPLETION_ABORTED;
    assert_int_equal(completion_apply(COMPLETION_STATE_COUNT, CEV_REQUEST, &cn), C_ERR);
    assert_int_equal(completion_apply((completion_state_t)-1, CEV_REQUEST, &cn), C_ERR);
    assert_int_equal(completion_apply(COMPLETION_OPEN, COMPLETION_EVENT_COUNT, &cn), C_ERR);
    assert_int_equal(completion_apply(COMPLETION_OPEN, (completion_event_t)-2, &cn), C_ERR);
    assert_int_equal(cn, COMPLETION_ABORTED);

    /* Out-of-range names are a placeholder, never one of the real names, never NULL. */
    const char *bad[] = {transfer_event_name(TRANSFER_EVENT_COUNT),
                         transfer_event_name((transfer_event_t)-1),
                         completion_state_name(COMPLETION_STATE_COUNT),
                         completion_state_name((completion_state_t)-1),
                         completion_event_name(COMPLETION_EVENT_COUNT),
                         completion_event_name((completion_event_t)-1)};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        assert_non_null(bad[i]);
        for (size_t j = 0; j < ARRAY_LEN(TRANSFER_EVENT_NAMES); j++)
            assert_string_not_equal(bad[i], TRANSFER_EVENT_NAMES[j]);
        for (size_t j = 0; j < ARRAY_LEN(COMPLETION_STATE_NAMES); j++)
            assert_string_not_equal(bad[i], COMPLETION_STATE_NAMES[j]);
        for (size_t j = 0; j < ARRAY_LEN(COMPLETION_EVENT_NAMES); j++)
            assert_string_not_equal(bad[i], COMPLETION_EVENT_NAMES[j]);
    }
}

static void test_lapsed_state(void **state) {
    (void)state;
    assert_int_equal(transfer_lapsed_state(SOURCE_PUSH), TRANSFER_WAITING_FOR_TRANSFER);
    assert_int_equal(transfer_lapsed_state(SOURCE_PULL), TRANSFER_ERROR);
    /* A lapsed PUSH can be resumed or restarted; a lapsed PULL can be added again (the pull
     * starts over) but not resumed through an upload. Both can be removed. */
    transfer_status_t push = transfer_lapsed_state(SOURCE_PUSH);
    transfer_status_t pull = transfer_lapsed_state(SOURCE_PULL);
    assert_int_equal(transfer_apply(push, TEV_RESUME, NULL), C_OK);
    assert_int_equal(transfer_apply(push, TEV_BEGIN, NULL), C_OK);
    assert_int_equal(transfer_apply(push, TEV_REMOVE, NULL), C_OK);
    assert_int_equal(transfer_apply(pull, TEV_ADD_PULL, NULL), C_OK);
    assert_int_equal(transfer_apply(pull, TEV_REMOVE, NULL), C_OK);
    /* Neither is TRANSFERRING: a lapsed lease never reads as moving. */
    assert_int_not_equal(push, TRANSFER_TRANSFERRING);
    assert_int_not_equal(pull, TRANSFER_TRANSFERRING);
}

static void test_names(void **state) {
    (void)state;
    assert_int_equal(ARRAY_LEN(TRANSFER_EVENT_NAMES), TRANSFER_EVENT_COUNT);
    assert_int_equal(ARRAY_LEN(COMPLETION_STATE_NAMES), COMPLETION_STATE_COUNT);
    assert_int_equal(ARRAY_LEN(COMPLETION_EVENT_NAMES), COMPLETION_EVENT_COUNT);
    assert_int_equal(ARRAY_LEN(STATUS_NAMES), TRANSFER_STATUS_COUNT);
    for (int e = 0; e < TRANSFER_EVENT_COUNT; e++)
        assert_string_equal(transfer_event_name((transfer_event_t)e), TRANSFER_EVENT_NAMES[e]);
    for (int s = 0; s < COMPLETION_STATE_COUNT; s++)
        assert_string_equal(completion_state_name((completion_state_t)s),
                            COMPLETION_STATE_NAMES[s]);
    for (int e = 0; e < COMPLETION_EVENT_COUNT; e++)
        assert_string_equal(completion_event_name((completion_event_t)e),
                            COMPLETION_EVENT_NAMES[e]);
    for (int s = 0; s < TRANSFER_STATUS_COUNT; s++)
        assert_string_equal(transfer_status_name((transfer_status_t)s), STATUS_NAMES[s]);
}

/* The encoding built from an expected table: "STATE=NEXT " for each allowed state, in order. */
static void expected_encoding(int nstates, const int *column, int stride,
                              const char *const *names, char *out, size_t size) {
    size_t used = 0;
    out[0] = '\0';
    for (int s = 0; s < nstates; s++) {
        int next = column[s * stride];
        if (next == NO) continue;
        int n = snprintf(out + used, size - used, "%s=%s ", names[s], names[next]);
        assert_true(n > 0 && (size_t)n < size - used);
        used += (size_t)n;
    }
}

static void test_encode_exact(void **state) {
    (void)state;
    char got[512], want[512];
    assert_int_equal(transfer_encode(TEV_RESUME, got, sizeof(got)), C_OK);
    assert_string_equal(got, "WAITING_FOR_TRANSFER=TRANSFERRING ERROR=TRANSFERRING ");
    assert_int_equal(transfer_encode(TEV_PROGRESS, got, sizeof(got)), C_OK);
    assert_string_equal(got, "TRANSFERRING=TRANSFERRING ");
    assert_int_equal(transfer_encode(TEV_REMOVE, got, sizeof(got)), C_OK);
    assert_string_equal(got, "WAITING_FOR_TRANSFER=WAITING_FOR_TRANSFER "
                             "TRANSFERRING=TRANSFERRING READY=READY ERROR=ERROR ");
    assert_int_equal(completion_encode(CEV_PULL_FAILED, got, sizeof(got)), C_OK);
    assert_string_equal(got, "OPEN=OPEN COMPLETING=ABORTED ");
    assert_int_equal(completion_encode(CEV_FILE_CHANGE, got, sizeof(got)), C_OK);
    assert_string_equal(got, "OPEN=OPEN ");
    assert_int_equal(completion_encode(CEV_RETRACT, got, sizeof(got)), C_OK);
    assert_string_equal(got, "OPEN=OPEN COMPLETING=OPEN ");

    for (int e = 0; e < TRANSFER_EVENT_COUNT; e++) {
        expected_encoding(TRANSFER_STATUS_COUNT, &TRANSFER_EXPECTED[0][e], TRANSFER_EVENT_COUNT,
                          STATUS_NAMES, want, sizeof(want));
        memset(got, 'x', sizeof(got));
        assert_int_equal(transfer_encode((transfer_event_t)e, got, sizeof(got)), C_OK);
        if (strcmp(got, want) != 0)
            fail_msg("transfer_encode(%s) = \"%s\", want \"%s\"", TRANSFER_EVENT_NAMES[e], got,
                     want);
        assert_null(strstr(got, "VALIDATING"));
    }
    for (int e = 0; e < COMPLETION_EVENT_COUNT; e++) {
        expected_encoding(COMPLETION_STATE_COUNT, &COMPLETION_EXPECTED[0][e],
                          COMPLETION_EVENT_COUNT, COMPLETION_STATE_NAMES, want, sizeof(want));
        assert_int_equal(completion_encode((completion_event_t)e, got, sizeof(got)), C_OK);
        if (strcmp(got, want) != 0)
            fail_msg("completion_encode(%s) = \"%s\", want \"%s\"", COMPLETION_EVENT_NAMES[e],
                     got, want);
        assert_null(strstr(got, "ABORTED="));
    }
}

/* Every buffer shorter than the text + NUL is refused; exactly that size fits. */
static void test_encode_small_buffer(void **state) {
    (void)state;
    char full[512], buf[512];
    for (int e = 0; e < TRANSFER_EVENT_COUNT; e++) {
        assert_int_equal(transfer_encode((transfer_event_t)e, full, sizeof(full)), C_OK);
        size_t need = strlen(full) + 1;
        for (size_t size = 0; size < need; size++) {
            memset(buf, 'x', sizeof(buf));
            if (transfer_encode((transfer_event_t)e, buf, size) != C_ERR)
                fail_msg("transfer_encode(%s) into %zu bytes (needs %zu) should fail",
                         TRANSFER_EVENT_NAMES[e], size, need);
            /* never a byte past the buffer */
            for (size_t i = size; i < sizeof(buf); i++) assert_int_equal(buf[i], 'x');
        }
        assert_int_equal(transfer_encode((transfer_event_t)e, buf, need), C_OK);
        assert_string_equal(buf, full);
    }
    for (int e = 0; e < COMPLETION_EVENT_COUNT; e++) {
        assert_int_equal(completion_encode((completion_event_t)e, full, sizeof(full)), C_OK);
        size_t need = strlen(full) + 1;
        for (size_t size = 0; size < need; size++) {
            memset(buf, 'x', sizeof(buf));
            assert_int_equal(completion_encode((completion_event_t)e, buf, size), C_ERR);
            for (size_t i = size; i < sizeof(buf); i++) assert_int_equal(buf[i], 'x');
        }
        assert_int_equal(completion_encode((completion_event_t)e, buf, need), C_OK);
        assert_string_equal(buf, full);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transfer_every_pair),
        cmocka_unit_test(test_completion_every_pair),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_lapsed_state),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_encode_exact),
        cmocka_unit_test(test_encode_small_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
