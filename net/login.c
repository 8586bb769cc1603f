/* net/login.c: the one password check every login entry point calls (see net/login.h). The
 * loop side decides (backoff, queue room), copies what the hash needs into a job, and hands it
 * to the worker pool; the worker runs crypt_r on the copy; back on the loop the result updates
 * the backoff table and goes to the caller's callback. The workers see nothing but their job. */
#include "net/login.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/backoff.h"
#include "net/worker.h"
#include "net/log.h"

#define PASSWORD_MAX 512
#define BUSY_LOG_INTERVAL_MS 1000

struct login_checker {
    const users_t *users;
    worker_pool_t *pool;
    backoff_t *backoff;
    bool stopping;
    uint64_t dropped; /* checks answered LOGIN_STOPPING by login_checker_free() */
    int64_t busy_logged_ms;
    login_stats_t stats;
};

typedef struct {
    worker_job_t w; /* first: the pool hands back &w */
    login_checker_t *lc;
    login_cb cb;
    void *arg;
    bool known, match;
    uint32_t privs;
    char name[USER_MAX];
    char ip[BACKOFF_ADDR_MAX];
    char password[PASSWORD_MAX];
    char hash[USERS_HASH_MAX];
} login_job_t;

static int64_t monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The IP part of "1.2.3.4:port" or "[::1]:port" (anything else is kept whole). */
static void peer_ip(const char *peer, char out[BACKOFF_ADDR_MAX]) {
    const char *start = peer ? peer : "";
    const char *colon = strrchr(start, ':');
    size_t len = colon ? (size_t)(colon - start) : strlen(start);
    if (len >= 2 && start[0] == '[' && start[len - 1] == ']') {
        start++;
        len -= 2;
    }
    if (len >= BACKOFF_ADDR_MAX) len = BACKOFF_ADDR_MAX - 1;
    memcpy(out, start, len);
    out[len] = '\0';
}

login_checker_t *login_checker_new(struct event_base *base, const users_t *users, int workers,
                                   int queue_max) {
    login_checker_t *lc = calloc(1, sizeof(*lc));
    if (!lc) return NULL;
    lc->users = users;
    backoff_config_t bc = {.capacity = LOGIN_BACKOFF_PAIRS,
                           .first_ms = LOGIN_BACKOFF_FIRST_MS,
                           .max_ms = LOGIN_BACKOFF_MAX_MS,
                           .forget_ms = LOGIN_BACKOFF_FORGET_MS};
    if (RAND_bytes((unsigned char *)&bc.seed, sizeof(bc.seed)) != 1) bc.seed = (uint64_t)monotonic_ms();
    lc->backoff = backoff_new(&bc);
    lc->pool = lc->backoff ? worker_pool_new(base, workers, queue_max, LOGIN_WORKER_NICE) : NULL;
    if (!lc->pool) {
        login_checker_free(lc);
        return NULL;
    }
    lc->busy_logged_ms = -BUSY_LOG_INTERVAL_MS;
    return lc;
}

void login_checker_free(login_checker_t *lc) {
    if (!lc) return;
    lc->stopping = true; /* every callback the pool still owes answers LOGIN_STOPPING */
    worker_pool_free(lc->pool);
    if (lc->dropped)
        log_msg(LV_WARN, "%llu login checks still pending at stop: answered 503",
                (unsigned long long)lc->dropped);
    backoff_free(lc->backoff);
    free(lc);
}

void login_checker_set_users(login_checker_t *lc, const users_t *users) { lc->users = users; }

void login_checker_stats(const login_checker_t *lc, login_stats_t *out) {
    *out = lc->stats;
    out->backoff_pairs = backoff_size(lc->backoff);
}

static void job_free(login_job_t *j) {
    explicit_bzero(j->password, sizeof(j->password));
    free(j);
}

/* Worker thread: the hash, on the job's own copies. */
static void run_check(worker_job_t *w) {
    login_job_t *j = (login_job_t *)w;
    j->match = users_password_matches(j->password, j->hash);
    explicit_bzero(j->password, sizeof(j->password));
}

/* Loop thread: record the outcome for the backoff and answer. */
static void on_checked(worker_job_t *w, bool ran) {
    login_job_t *j = (login_job_t *)w;
    login_checker_t *lc = j->lc;
    login_result_t r;
    if (ran) lc->stats.hashed++;
    if (lc->stopping || !ran) {
        r = LOGIN_STOPPING;
        lc->dropped++;
    } else if (j->known && j->match) {
        backoff_succeeded(lc->backoff, j->name, j->ip);
        r = LOGIN_OK;
    } else {
        backoff_failed(lc->backoff, j->name, j->ip, monotonic_ms());
        r = LOGIN_DENIED;
    }
    login_cb cb = j->cb;
    void *arg = j->arg;
    uint32_t privs = r == LOGIN_OK ? j->privs : 0;
    job_free(j);
    cb(arg, r, privs);
}

void login_check(login_checker_t *lc, const char *peer, const char *name, const char *password,
                 login_cb cb, void *arg) {
    if (lc->stopping) { cb(arg, LOGIN_STOPPING, 0); return; }
    char ip[BACKOFF_ADDR_MAX];
    peer_ip(peer, ip);
    int64_t now = monotonic_ms();
    if (backoff_wait_ms(lc->backoff, name, ip, now) > 0) {
        lc->stats.backed_off++;
        cb(arg, LOGIN_DENIED, 0);
        return;
    }
    login_job_t *j = malloc(sizeof(*j));
    if (!j) { cb(arg, LOGIN_BUSY, 0); return; }
    memset(j, 0, offsetof(login_job_t, name));
    j->w.run = run_check;
    j->w.done = on_checked;
    j->lc = lc;
    j->cb = cb;
    j->arg = arg;
    memcpy(j->ip, ip, sizeof(ip));
    if (copy_str(j->name, sizeof(j->name), name) != C_OK ||
        copy_str(j->password, sizeof(j->password), password) != C_OK) {
        /* Longer than any login front end passes: no such user or password can exist. */
        job_free(j);
        cb(arg, LOGIN_DENIED, 0);
        return;
    }
    j->known = users_lookup(lc->users, j->name, j->hash, &j->privs);
    if (worker_submit(lc->pool, &j->w) != C_OK) {
        job_free(j);
        lc->stats.busy++;
        if (now - lc->busy_logged_ms >= BUSY_LOG_INTERVAL_MS) {
            lc->busy_logged_ms = now;
            log_msg(LV_WARN, "login queue full: refusing logins with 503 "
                            "(%llu so far)", (unsigned long long)lc->stats.busy);
        }
        cb(arg, LOGIN_BUSY, 0);
    }
}
