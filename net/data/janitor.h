/* net/data/janitor.h: every instance's disk reclaimer. It drains the garbage list that the
 * store's scripts fill (store/store.h, "Garbage"), deleting each entry idempotently, and scans
 * --storage-dir now and then for files no Redis record references (what a crashed instance
 * left) to delete them once older than the grace period. Everything runs on the event loop in
 * bounded steps; nothing waits for Redis. */
#ifndef NET_DATA_JANITOR_H
#define NET_DATA_JANITOR_H

#include <stdint.h>

#include "store/store.h"

struct event_base;

typedef struct janitor janitor_t;

typedef struct {
    uint64_t takes;        /* garbage takes answered */
    uint64_t entries;      /* garbage entries taken */
    uint64_t deleted;      /* entries done: deleted, or already gone */
    uint64_t dropped;      /* malformed entries dropped without touching the disk */
    uint64_t failed;       /* entries that could not be deleted (logged; left for the scan) */
    uint64_t scans;        /* scan passes finished */
    uint64_t orphans;      /* files the scans deleted, in total */
    uint64_t last_files;   /* files the last scan looked at */
    uint64_t last_orphans; /* files the last scan deleted */
    int64_t last_scan_ms;  /* how long the last scan took (walk, questions, deletes) */
} janitor_stats_t;

/* Starts the janitor: a garbage take every interval_ms (+-25%), and at once again while
 * batches come back full; a scan ~1 s after start and then every scan_interval_s; files on
 * disk are orphans only once their ctime is grace_s old. NULL if out of memory. */
janitor_t *janitor_start(struct event_base *base, store_t *store, const char *storage_dir,
                         int interval_ms, int64_t scan_interval_s, int64_t grace_s);
/* Frees everything (calls still waiting on the store are answered by store_free later and
 * find the janitor stopped). Call before store_free. NULL is fine. */
void janitor_stop(janitor_t *j);
/* Takes from the garbage list soon, instead of at the next interval (for example after a
 * script this instance ran put entries on it). NULL is fine. */
void janitor_kick(janitor_t *j);
void janitor_stats(const janitor_t *j, janitor_stats_t *out);

#endif
