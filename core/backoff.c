/* core/backoff.c: the login failure backoff table (see core/backoff.h). One array of entries
 * allocated at creation, threaded on three index lists: a bucket chain per hash bucket, the
 * age list (most recent failure first, so the tail is the entry to evict) and the free list.
 * Nothing is allocated after backoff_new(). */
#include "core/backoff.h"

#include <stdlib.h>
#include <string.h>

#define NIL (-1)
#define MAX_DOUBLINGS 62

typedef struct {
    char user[USER_MAX];
    char addr[BACKOFF_ADDR_MAX];
    uint64_t hash;
    int32_t hnext;      /* next in the bucket chain */
    int32_t prev, next; /* age list; `next` also links the free list */
    uint32_t failures;
    int64_t last_ms;    /* time of the last failure */
    int64_t until_ms;   /* attempts before this are refused */
} entry_t;

struct backoff {
    backoff_config_t cfg;
    entry_t *e;
    int32_t *buckets;
    size_t nbuckets; /* a power of two >= capacity */
    int32_t head, tail, free_list;
    size_t size;
};

/* FNV-1a over "user\0addr" started from the seed, then the splitmix64 finalizer so every bit
 * of the seed reaches the bucket index. */
static uint64_t pair_hash(uint64_t seed, const char *user, const char *addr) {
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;
    for (const unsigned char *p = (const unsigned char *)user; *p; p++) h = (h ^ *p) * 0x100000001b3ULL;
    h = (h ^ 0xff) * 0x100000001b3ULL;
    for (const unsigned char *p = (const unsigned char *)addr; *p; p++) h = (h ^ *p) * 0x100000001b3ULL;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

static bool fits(const char *user, const char *addr) {
    return strlen(user) < USER_MAX && strlen(addr) < BACKOFF_ADDR_MAX;
}

backoff_t *backoff_new(const backoff_config_t *cfg) {
    if (!cfg || cfg->capacity == 0 || cfg->capacity > INT32_MAX / 2) return NULL;
    backoff_t *b = calloc(1, sizeof(*b));
    if (!b) return NULL;
    b->cfg = *cfg;
    b->nbuckets = 1;
    while (b->nbuckets < cfg->capacity) b->nbuckets <<= 1;
    b->e = calloc(cfg->capacity, sizeof(*b->e));
    b->buckets = malloc(b->nbuckets * sizeof(*b->buckets));
    if (!b->e || !b->buckets) {
        backoff_free(b);
        return NULL;
    }
    for (size_t i = 0; i < b->nbuckets; i++) b->buckets[i] = NIL;
    for (size_t i = 0; i < cfg->capacity; i++)
        b->e[i].next = i + 1 < cfg->capacity ? (int32_t)(i + 1) : NIL;
    b->free_list = 0;
    b->head = b->tail = NIL;
    return b;
}

void backoff_free(backoff_t *b) {
    if (!b) return;
    free(b->e);
    free(b->buckets);
    free(b);
}

size_t backoff_size(const backoff_t *b) { return b ? b->size : 0; }

static int32_t *bucket_of(backoff_t *b, uint64_t hash) { return &b->buckets[hash & (b->nbuckets - 1)]; }

static int32_t find(backoff_t *b, const char *user, const char *addr, uint64_t hash) {
    for (int32_t i = *bucket_of(b, hash); i != NIL; i = b->e[i].hnext) {
        const entry_t *e = &b->e[i];
        if (e->hash == hash && strcmp(e->user, user) == 0 && strcmp(e->addr, addr) == 0) return i;
    }
    return NIL;
}

static void age_unlink(backoff_t *b, int32_t i) {
    entry_t *e = &b->e[i];
    if (e->prev != NIL) b->e[e->prev].next = e->next;
    else b->head = e->next;
    if (e->next != NIL) b->e[e->next].prev = e->prev;
    else b->tail = e->prev;
    e->prev = e->next = NIL;
}

static void age_push_front(backoff_t *b, int32_t i) {
    entry_t *e = &b->e[i];
    e->prev = NIL;
    e->next = b->head;
    if (b->head != NIL) b->e[b->head].prev = i;
    b->head = i;
    if (b->tail == NIL) b->tail = i;
}

/* Takes entry i out of its bucket and the age list and gives it back to the free list. */
static void forget(backoff_t *b, int32_t i) {
    entry_t *e = &b->e[i];
    int32_t *link = bucket_of(b, e->hash);
    while (*link != i) link = &b->e[*link].hnext;
    *link = e->hnext;
    age_unlink(b, i);
    memset(e, 0, sizeof(*e));
    e->next = b->free_list;
    b->free_list = i;
    b->size--;
}

int64_t backoff_wait_ms(backoff_t *b, const char *user, const char *addr, int64_t now_ms) {
    if (!b || !fits(user, addr)) return 0;
    int32_t i = find(b, user, addr, pair_hash(b->cfg.seed, user, addr));
    if (i == NIL) return 0;
    const entry_t *e = &b->e[i];
    if (now_ms - e->last_ms >= b->cfg.forget_ms) {
        forget(b, i);
        return 0;
    }
    return e->until_ms > now_ms ? e->until_ms - now_ms : 0;
}

/* first_ms doubled (failures - 1) times, capped at max_ms, without overflow. */
static int64_t delay_for(const backoff_config_t *cfg, uint32_t failures) {
    int64_t d = cfg->first_ms;
    for (uint32_t k = 1; k < failures && k < MAX_DOUBLINGS && d < cfg->max_ms; k++) d *= 2;
    return d < cfg->max_ms ? d : cfg->max_ms;
}

int64_t backoff_failed(backoff_t *b, const char *user, const char *addr, int64_t now_ms) {
    if (!b || !fits(user, addr)) return 0;
    uint64_t hash = pair_hash(b->cfg.seed, user, addr);
    int32_t i = find(b, user, addr, hash);
    if (i != NIL && now_ms - b->e[i].last_ms >= b->cfg.forget_ms) {
        forget(b, i);
        i = NIL;
    }
    if (i == NIL) {
        if (b->free_list == NIL) forget(b, b->tail); /* full: the oldest failure goes */
        i = b->free_list;
        entry_t *e = &b->e[i];
        b->free_list = e->next;
        memset(e, 0, sizeof(*e));
        copy_str(e->user, sizeof(e->user), user);
        copy_str(e->addr, sizeof(e->addr), addr);
        e->hash = hash;
        int32_t *bucket = bucket_of(b, hash);
        e->hnext = *bucket;
        *bucket = i;
        e->prev = e->next = NIL;
        b->size++;
    } else {
        age_unlink(b, i);
    }
    entry_t *e = &b->e[i];
    if (e->failures < UINT32_MAX) e->failures++;
    int64_t d = delay_for(&b->cfg, e->failures);
    e->last_ms = now_ms;
    e->until_ms = now_ms + d;
    age_push_front(b, i);
    return d;
}

void backoff_succeeded(backoff_t *b, const char *user, const char *addr) {
    if (!b || !fits(user, addr)) return;
    int32_t i = find(b, user, addr, pair_hash(b->cfg.seed, user, addr));
    if (i != NIL) forget(b, i);
}
