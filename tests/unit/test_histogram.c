/* tests/unit/test_histogram.c: core/histogram.c, the buckets behind the *_duration_seconds
 * metrics: bounds strictly increasing and matching their text, an observation on a bound goes
 * into that bucket (Prometheus "le" is <=), cumulative counts end at count on +Inf. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/histogram.h"

static void test_bounds_increase_and_match_text(void **state) {
    (void)state;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        if (i) assert_true(hist_bounds_ns[i] > hist_bounds_ns[i - 1]);
        double s = strtod(hist_bounds_text[i], NULL);
        assert_true((int64_t)(s * 1e9 + 0.5) == hist_bounds_ns[i]);
    }
}

static void test_bucket_edges(void **state) {
    (void)state;
    histogram_t h;
    memset(&h, 0, sizeof(h));
    hist_observe(&h, 0);
    hist_observe(&h, hist_bounds_ns[0]);     /* on the bound: first bucket (le) */
    hist_observe(&h, hist_bounds_ns[0] + 1); /* just above: second */
    hist_observe(&h, hist_bounds_ns[HIST_BUCKETS - 1] + 1); /* +Inf */
    hist_observe(&h, -5);                    /* a clock step back counts as 0 */
    assert_int_equal(h.count, 5);
    assert_int_equal(h.bucket[0], 3);
    assert_int_equal(h.bucket[1], 1);
    assert_int_equal(h.bucket[HIST_BUCKETS], 1);
    assert_int_equal(h.sum_ns, (uint64_t)(2 * hist_bounds_ns[0] + 1 +
                                          hist_bounds_ns[HIST_BUCKETS - 1] + 1));
}

static void test_cumulative(void **state) {
    (void)state;
    histogram_t h;
    memset(&h, 0, sizeof(h));
    for (int i = 0; i < HIST_BUCKETS; i++) hist_observe(&h, hist_bounds_ns[i]);
    hist_observe(&h, INT64_MAX);
    uint64_t prev = 0;
    for (int i = 0; i <= HIST_BUCKETS; i++) {
        uint64_t c = hist_cumulative(&h, i);
        assert_int_equal(c, prev + 1);
        prev = c;
    }
    assert_int_equal(hist_cumulative(&h, HIST_BUCKETS), h.count);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounds_increase_and_match_text),
        cmocka_unit_test(test_bucket_edges),
        cmocka_unit_test(test_cumulative),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
