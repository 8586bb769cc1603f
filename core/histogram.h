/* core/histogram.h: a fixed-bucket latency histogram, the shape Prometheus exposes
 * (usd_http_request_duration_seconds, usd_redis_call_duration_seconds). Observing is a few
 * integer compares and adds: no allocation, no floating point, cheap enough for every request.
 * Buckets are per bucket here (not cumulative); whoever prints them sums as it goes. Pure: the
 * caller measures the duration. */
#ifndef CORE_HISTOGRAM_H
#define CORE_HISTOGRAM_H

#include "core/common.h"

/* Upper bounds, in nanoseconds, of the finite buckets (0.5 ms .. 10 s); one more bucket, +Inf,
 * takes the rest. */
#define HIST_BUCKETS 14
extern const int64_t hist_bounds_ns[HIST_BUCKETS];
/* The same bounds as Prometheus "le" label values ("0.0005", ..., "10"). */
extern const char *const hist_bounds_text[HIST_BUCKETS];

typedef struct {
    uint64_t bucket[HIST_BUCKETS + 1]; /* [HIST_BUCKETS] is +Inf only */
    uint64_t count;
    uint64_t sum_ns;
} histogram_t;

/* Counts one duration (a negative one as 0). */
void hist_observe(histogram_t *h, int64_t ns);
/* The cumulative count of bucket i (i = HIST_BUCKETS: +Inf, equal to count). */
uint64_t hist_cumulative(const histogram_t *h, int i);

#endif
