/* tests/unit/test_login.c: the login check every entry point uses (net/login.c), with real
 * worker threads, a real event loop and real crypt_r against a users file written here:
 * right and wrong passwords and unknown users answer from the loop after the hash; after a
 * failure the same (user, IP) is refused at once without hashing while other users and other
 * addresses are not, and the backoff ends after its delay and on success; a full queue answers
 * LOGIN_BUSY at once; freeing the checker answers every pending check LOGIN_STOPPING. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <crypt.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/privilege.h"
#include "net/login.h"

static struct event_base *BASE;
static users_t *USERS;
static char USERS_PATH[64];

typedef struct {
    int calls;
    login_result_t result;
    uint32_t privs;
    bool in_check; /* set around login_check(): a call then is synchronous */
    bool sync;
} answer_t;

static int pending;

static void on_answer(void *arg, login_result_t r, uint32_t privs) {
    answer_t *a = arg;
    a->calls++;
    a->result = r;
    a->privs = privs;
    a->sync = a->in_check;
    if (!a->in_check && --pending == 0) event_base_loopbreak(BASE);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what, (void)arg;
    fail_msg("login checks not answered within 20 s (%d pending)", pending);
}

static void check(login_checker_t *lc, const char *peer, const char *name, const char *pw,
                  answer_t *a) {
    memset(a, 0, sizeof(*a));
    a->in_check = true;
    pending++;
    login_check(lc, peer, name, pw, on_answer, a);
    a->in_check = false;
    if (a->sync) pending--;
}

static void wait_all(void) {
    struct event *t = evtimer_new(BASE, on_timeout, NULL);
    struct timeval tv = {20, 0};
    evtimer_add(t, &tv);
    if (pending > 0) event_base_dispatch(BASE);
    event_free(t);
    assert_int_equal(pending, 0);
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int setup(void **state) {
    (void)state;
    struct crypt_data cd;
    memset(&cd, 0, sizeof(cd));
    char admin[256], ci[256];
    snprintf(admin, sizeof(admin), "%s", crypt_r("admin-pw", "$6$saltsaltsalt$", &cd));
    snprintf(ci, sizeof(ci), "%s", crypt_r("ci-pw", "$6$othersalt$", &cd));
    snprintf(USERS_PATH, sizeof(USERS_PATH), "/tmp/usd-test-login-%d", (int)getpid());
    FILE *f = fopen(USERS_PATH, "w");
    if (!f) return -1;
    fprintf(f, "admin:%s:*\nci:%s:System.Read\n", admin, ci);
    fclose(f);
    USERS = users_load(USERS_PATH);
    BASE = event_base_new();
    return USERS && BASE ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    users_free(USERS);
    event_base_free(BASE);
    unlink(USERS_PATH);
    return 0;
}

static void test_right_wrong_unknown(void **state) {
    (void)state;
    login_checker_t *lc = login_checker_new(BASE, USERS, 2, 64);
    assert_non_null(lc);
    answer_t ok, ci, wrong, unknown;
    check(lc, "10.0.0.1:1000", "admin", "admin-pw", &ok);
    check(lc, "10.0.0.1:1001", "ci", "ci-pw", &ci);
    check(lc, "10.0.0.2:1000", "admin", "wrong", &wrong);
    check(lc, "10.0.0.3:1000", "nobody", "admin-pw", &unknown);
    /* nothing is answered on the caller's stack: the hash runs on a worker */
    assert_false(ok.sync || ci.sync || wrong.sync || unknown.sync);
    wait_all();
    assert_int_equal(ok.calls, 1);
    assert_int_equal(ok.result, LOGIN_OK);
    assert_int_equal(ok.privs, PRIV_ALL);
    assert_int_equal(ci.result, LOGIN_OK);
    assert_int_equal(ci.privs, PRIV_SYSTEM_READ);
    assert_int_equal(wrong.result, LOGIN_DENIED);
    assert_int_equal(wrong.privs, 0);
    assert_int_equal(unknown.result, LOGIN_DENIED);
    login_stats_t s;
    login_checker_stats(lc, &s);
    assert_int_equal(s.hashed, 4); /* the unknown user was hashed too (dummy hash) */
    assert_int_equal(s.backoff_pairs, 2);
    login_checker_free(lc);
}

static void test_backoff(void **state) {
    (void)state;
    login_checker_t *lc = login_checker_new(BASE, USERS, 2, 64);
    assert_non_null(lc);
    answer_t a, b, c, d;
    check(lc, "127.0.0.1:5000", "admin", "wrong", &a);
    wait_all();
    assert_int_equal(a.result, LOGIN_DENIED);

    /* the right password at once, same user and IP (another port): refused without a hash */
    check(lc, "127.0.0.1:5001", "admin", "admin-pw", &b);
    assert_true(b.sync);
    assert_int_equal(b.result, LOGIN_DENIED);
    /* another user from that IP, the same user from another IP: checked as usual */
    check(lc, "127.0.0.1:5002", "ci", "ci-pw", &c);
    check(lc, "127.0.0.2:5000", "admin", "admin-pw", &d);
    assert_false(c.sync || d.sync);
    wait_all();
    assert_int_equal(c.result, LOGIN_OK);
    assert_int_equal(d.result, LOGIN_OK);
    login_stats_t s;
    login_checker_stats(lc, &s);
    assert_int_equal(s.backed_off, 1);
    assert_int_equal(s.hashed, 3);

    /* after the delay (100 ms after one failure) the right password works and resets */
    sleep_ms(LOGIN_BACKOFF_FIRST_MS + 20);
    check(lc, "127.0.0.1:5003", "admin", "admin-pw", &a);
    wait_all();
    assert_int_equal(a.result, LOGIN_OK);
    login_checker_stats(lc, &s);
    assert_int_equal(s.backoff_pairs, 0);

    /* IPv6 peers: the port does not count */
    check(lc, "[::1]:7000", "ci", "nope", &a);
    wait_all();
    check(lc, "[::1]:7001", "ci", "ci-pw", &b);
    assert_true(b.sync);
    assert_int_equal(b.result, LOGIN_DENIED);
    check(lc, "[::2]:7000", "ci", "ci-pw", &c);
    wait_all();
    assert_int_equal(c.result, LOGIN_OK);
    login_checker_free(lc);
}

static void test_queue_full(void **state) {
    (void)state;
    login_checker_t *lc = login_checker_new(BASE, USERS, 1, 1);
    assert_non_null(lc);
    enum { N = 8 };
    answer_t a[N];
    char peer[32];
    for (int i = 0; i < N; i++) {
        snprintf(peer, sizeof(peer), "10.9.0.%d:1", i); /* distinct: no backoff in the way */
        check(lc, peer, "admin", "admin-pw", &a[i]);
    }
    /* one worker, one waiting place: at most two taken, the rest refused at once */
    int busy = 0;
    for (int i = 0; i < N; i++)
        if (a[i].sync) {
            assert_int_equal(a[i].result, LOGIN_BUSY);
            busy++;
        }
    assert_true(busy >= N - 2);
    wait_all();
    for (int i = 0; i < N; i++) {
        assert_int_equal(a[i].calls, 1);
        if (!a[i].sync) assert_int_equal(a[i].result, LOGIN_OK);
    }
    login_stats_t s;
    login_checker_stats(lc, &s);
    assert_int_equal(s.busy, (uint64_t)busy);
    login_checker_free(lc);
}

static void test_free_with_pending(void **state) {
    (void)state;
    login_checker_t *lc = login_checker_new(BASE, USERS, 1, 16);
    assert_non_null(lc);
    enum { N = 6 };
    answer_t a[N];
    char peer[32];
    for (int i = 0; i < N; i++) {
        snprintf(peer, sizeof(peer), "10.8.0.%d:1", i);
        check(lc, peer, "admin", i % 2 ? "admin-pw" : "wrong", &a[i]);
    }
    login_checker_free(lc); /* joins the worker; nothing is left to call back later */
    for (int i = 0; i < N; i++) {
        assert_int_equal(a[i].calls, 1);
        assert_int_equal(a[i].result, LOGIN_STOPPING);
    }
    pending = 0;
    event_base_loop(BASE, EVLOOP_NONBLOCK); /* no stray event left behind */
}

static void test_oversized_input(void **state) {
    (void)state;
    login_checker_t *lc = login_checker_new(BASE, USERS, 1, 4);
    assert_non_null(lc);
    char big[2000];
    memset(big, 'p', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    answer_t a;
    check(lc, "10.0.0.1:1", "admin", big, &a);
    assert_true(a.sync);
    assert_int_equal(a.result, LOGIN_DENIED);
    check(lc, "10.0.0.1:1", big, "admin-pw", &a);
    assert_true(a.sync);
    assert_int_equal(a.result, LOGIN_DENIED);
    login_checker_free(lc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_right_wrong_unknown),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_queue_full),
        cmocka_unit_test(test_free_with_pending),
        cmocka_unit_test(test_oversized_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
