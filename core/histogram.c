/* core/histogram.c: the fixed-bucket histogram of core/histogram.h. */
#include "core/histogram.h"

#define MS 1000000LL

const int64_t hist_bounds_ns[HIST_BUCKETS] = {
    MS / 2, MS, 5 * MS / 2, 5 * MS, 10 * MS, 25 * MS, 50 * MS, 100 * MS, 250 * MS, 500 * MS,
    1000 * MS, 2500 * MS, 5000 * MS, 10000 * MS,
};

const char *const hist_bounds_text[HIST_BUCKETS] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
    "1",      "2.5",   "5",      "10",
};

/* Most observations are fast: a linear walk from the smallest bound ends early. */
void hist_observe(histogram_t *h, int64_t ns) {
    if (ns < 0) ns = 0;
    int i = 0;
    while (i < HIST_BUCKETS && ns > hist_bounds_ns[i]) i++;
    h->bucket[i]++;
    h->count++;
    h->sum_ns += (uint64_t)ns;
}

uint64_t hist_cumulative(const histogram_t *h, int i) {
    uint64_t sum = 0;
    for (int b = 0; b <= i && b <= HIST_BUCKETS; b++) sum += h->bucket[b];
    return sum;
}
