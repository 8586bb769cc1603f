/* tests/unit/test_backoff.c: the login failure backoff table (core/backoff.c): the growing
 * wait and its cap, reset on success and after the forget time, independence of pairs, the
 * fixed capacity with the oldest failure evicted under a flood, and a seeded random run against
 * a naive model of the same rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backoff.h"

static backoff_t *make(size_t capacity) {
    backoff_config_t cfg = {.capacity = capacity, .first_ms = 100, .max_ms = 5000,
                            .forget_ms = 60000, .seed = 42};
    backoff_t *b = backoff_new(&cfg);
    assert_non_null(b);
    return b;
}

static void test_growing_wait(void **state) {
    (void)state;
    backoff_t *b = make(16);
    int64_t t = 1000;
    assert_int_equal(backoff_wait_ms(b, "admin", "10.0.0.1", t), 0);
    assert_int_equal(backoff_failed(b, "admin", "10.0.0.1", t), 100);
    assert_int_equal(backoff_wait_ms(b, "admin", "10.0.0.1", t), 100);
    assert_int_equal(backoff_wait_ms(b, "admin", "10.0.0.1", t + 40), 60);
    assert_int_equal(backoff_wait_ms(b, "admin", "10.0.0.1", t + 100), 0);
    /* each further failure doubles the wait, up to the cap */
    const int64_t want[] = {200, 400, 800, 1600, 3200, 5000, 5000, 5000};
    for (size_t i = 0; i < ARRAY_LEN(want); i++) {
        t += 6000;
        assert_int_equal(backoff_failed(b, "admin", "10.0.0.1", t), want[i]);
        assert_int_equal(backoff_wait_ms(b, "admin", "10.0.0.1", t + 1), want[i] - 1);
    }
    /* many more failures: no overflow, still the cap */
    for (int i = 0; i < 200; i++) t += 10, backoff_failed(b, "admin", "10.0.0.1", t);
    assert_int_equal(backoff_wait_ms(b, "admin", "10.0.0.1", t), 5000);
    assert_int_equal(backoff_size(b), 1);
    backoff_free(b);
}

static void test_pairs_are_independent(void **state) {
    (void)state;
    backoff_t *b = make(16);
    backoff_failed(b, "admin", "10.0.0.1", 0);
    assert_true(backoff_wait_ms(b, "admin", "10.0.0.1", 1) > 0);
    assert_int_equal(backoff_wait_ms(b, "admin", "10.0.0.2", 1), 0);   /* other address */
    assert_int_equal(backoff_wait_ms(b, "ci", "10.0.0.1", 1), 0);      /* other user */
    assert_int_equal(backoff_wait_ms(b, "admin10.0.0.1", "", 1), 0);   /* no key mixing */
    assert_int_equal(backoff_wait_ms(b, "admi", "n10.0.0.1", 1), 0);
    backoff_free(b);
}

static void test_success_and_forget_reset(void **state) {
    (void)state;
    backoff_t *b = make(16);
    backoff_failed(b, "u", "::1", 0);
    backoff_failed(b, "u", "::1", 200);  /* 200 */
    backoff_failed(b, "u", "::1", 500);  /* 400 */
    assert_int_equal(backoff_wait_ms(b, "u", "::1", 500), 400);
    backoff_succeeded(b, "u", "::1");
    assert_int_equal(backoff_size(b), 0);
    assert_int_equal(backoff_wait_ms(b, "u", "::1", 501), 0);
    assert_int_equal(backoff_failed(b, "u", "::1", 502), 100); /* starts again */
    backoff_succeeded(b, "nobody", "::1");                      /* unknown pair: nothing */
    assert_int_equal(backoff_size(b), 1);

    /* no failure for forget_ms: forgotten, the next failure starts from first_ms */
    backoff_failed(b, "u", "::1", 1000); /* 200 */
    assert_int_equal(backoff_failed(b, "u", "::1", 1300), 400);
    assert_int_equal(backoff_failed(b, "u", "::1", 1300 + 60000), 100);
    assert_int_equal(backoff_wait_ms(b, "u", "::1", 1400 + 120000), 0);
    assert_int_equal(backoff_size(b), 0); /* the read dropped the stale entry */
    backoff_free(b);
}

static void test_too_long_not_tracked(void **state) {
    (void)state;
    backoff_t *b = make(4);
    char name[USER_MAX + 1];
    memset(name, 'n', USER_MAX);
    name[USER_MAX] = '\0';
    assert_int_equal(backoff_failed(b, name, "1.2.3.4", 0), 0);
    assert_int_equal(backoff_wait_ms(b, name, "1.2.3.4", 0), 0);
    char addr[BACKOFF_ADDR_MAX + 1];
    memset(addr, '1', BACKOFF_ADDR_MAX);
    addr[BACKOFF_ADDR_MAX] = '\0';
    assert_int_equal(backoff_failed(b, "u", addr, 0), 0);
    assert_int_equal(backoff_size(b), 0);
    name[USER_MAX - 1] = '\0'; /* the longest that fits */
    assert_int_equal(backoff_failed(b, name, "1.2.3.4", 0), 100);
    assert_int_equal(backoff_wait_ms(b, name, "1.2.3.4", 0), 100);
    backoff_free(b);
}

static void test_full_table_evicts_oldest(void **state) {
    (void)state;
    backoff_t *b = make(4);
    backoff_failed(b, "a", "ip", 1);
    backoff_failed(b, "b", "ip", 2);
    backoff_failed(b, "c", "ip", 3);
    backoff_failed(b, "d", "ip", 4);
    backoff_failed(b, "a", "ip", 150); /* a is now the most recent */
    backoff_failed(b, "e", "ip", 151); /* full: b (oldest failure) goes */
    assert_int_equal(backoff_size(b), 4);
    assert_int_equal(backoff_wait_ms(b, "b", "ip", 152), 0);
    assert_int_equal(backoff_wait_ms(b, "a", "ip", 152), 198);
    assert_true(backoff_wait_ms(b, "c", "ip", 52) > 0);
    assert_true(backoff_wait_ms(b, "e", "ip", 152) > 0);

    /* a flood of random names: the size never passes the capacity, and the last ones stay */
    char name[32];
    for (int i = 0; i < 100000; i++) {
        snprintf(name, sizeof(name), "rnd%08x", (unsigned)(i * 2654435761u));
        backoff_failed(b, name, "203.0.113.9", 1000 + i);
        assert_true(backoff_size(b) <= 4);
    }
    assert_int_equal(backoff_size(b), 4);
    snprintf(name, sizeof(name), "rnd%08x", (unsigned)(99999 * 2654435761u));
    assert_true(backoff_wait_ms(b, name, "203.0.113.9", 1000 + 99999) > 0);
    backoff_free(b);
}

static void test_bad_config(void **state) {
    (void)state;
    backoff_config_t cfg = {.capacity = 0, .first_ms = 100, .max_ms = 5000, .forget_ms = 60000};
    assert_null(backoff_new(&cfg));
    assert_null(backoff_new(NULL));
    backoff_free(NULL);
    assert_int_equal(backoff_wait_ms(NULL, "u", "ip", 0), 0);
}

/* ---- random run against a naive model: a list ordered by last failure, newest first ---- */

#define NUSERS 7
#define NADDRS 3
#define CAP 8

typedef struct {
    int user, addr;
    uint32_t failures;
    int64_t last, until;
} model_entry_t;

static model_entry_t M[CAP];
static int MN;

static int model_find(int u, int a) {
    for (int i = 0; i < MN; i++)
        if (M[i].user == u && M[i].addr == a) return i;
    return -1;
}

static void model_remove(int i) {
    memmove(&M[i], &M[i + 1], (size_t)(MN - i - 1) * sizeof(M[0]));
    MN--;
}

static int64_t model_wait(int u, int a, int64_t now) {
    int i = model_find(u, a);
    if (i < 0) return 0;
    if (now - M[i].last >= 60000) { model_remove(i); return 0; }
    return M[i].until > now ? M[i].until - now : 0;
}

static int64_t model_failed(int u, int a, int64_t now) {
    int i = model_find(u, a);
    model_entry_t e = {u, a, 0, 0, 0};
    if (i >= 0) {
        if (now - M[i].last < 60000) e = M[i];
        model_remove(i);
    } else if (MN == CAP) {
        MN--; /* the last one is the oldest failure */
    }
    e.failures++;
    int64_t d = 100;
    for (uint32_t k = 1; k < e.failures && d < 5000; k++) d *= 2;
    if (d > 5000) d = 5000;
    e.last = now;
    e.until = now + d;
    memmove(&M[1], &M[0], (size_t)MN * sizeof(M[0]));
    M[0] = e;
    MN++;
    return d;
}

static void test_random_against_model(void **state) {
    (void)state;
    backoff_t *b = make(CAP);
    MN = 0;
    static const char *users[NUSERS] = {"admin", "ci", "reader", "x", "y", "zz", "root"};
    static const char *addrs[NADDRS] = {"127.0.0.1", "::1", "10.1.2.3"};
    srand(12345);
    int64_t now = 0;
    for (int step = 0; step < 200000; step++) {
        now += rand() % 300;
        if (rand() % 500 == 0) now += 61000;
        int u = rand() % NUSERS, a = rand() % NADDRS, op = rand() % 10;
        if (op < 4) {
            assert_int_equal(backoff_wait_ms(b, users[u], addrs[a], now), model_wait(u, a, now));
        } else if (op < 9) {
            assert_int_equal(backoff_failed(b, users[u], addrs[a], now), model_failed(u, a, now));
        } else {
            backoff_succeeded(b, users[u], addrs[a]);
            int i = model_find(u, a);
            if (i >= 0) model_remove(i);
        }
        assert_int_equal(backoff_size(b), (size_t)MN);
    }
    backoff_free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_growing_wait),
        cmocka_unit_test(test_pairs_are_independent),
        cmocka_unit_test(test_success_and_forget_reset),
        cmocka_unit_test(test_too_long_not_tracked),
        cmocka_unit_test(test_full_table_evicts_oldest),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_random_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
