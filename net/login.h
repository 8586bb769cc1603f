/* net/login.h: password checks for every login entry point (/api and /rest session create,
 * SOAP Login), off the event loop and rate-limited:
 *   - the hash (crypt_r, about 2 ms for $6$) runs on a worker pool (net/worker.h) with a
 *     bounded queue: when the queue is full the attempt is refused at once (LOGIN_BUSY, which
 *     callers answer 503) instead of piling up. The workers run at a lower priority (nice
 *     +10), so on a busy machine requests on the loop thread go first and logins wait;
 *   - after a failed attempt, the same (user, client IP) pair is refused at once, without
 *     hashing, for a growing delay (core/backoff.h: 100 ms doubling up to 5 s, reset by a
 *     success). The answer is the same as for a wrong password.
 * Callers pass their own callback; it runs on the loop thread, either before login_check()
 * returns (refusals) or later (after the hash). */
#ifndef NET_LOGIN_H
#define NET_LOGIN_H

#include <stdint.h>

#include "net/users.h"

struct event_base;

#define LOGIN_BACKOFF_FIRST_MS 100
#define LOGIN_BACKOFF_MAX_MS 5000
#define LOGIN_BACKOFF_FORGET_MS 60000 /* no failure for this long: the pair starts again */
#define LOGIN_BACKOFF_PAIRS 8192      /* (user, IP) pairs remembered; the oldest go first */
#define LOGIN_WORKER_NICE 10          /* hashing yields the CPU to the event loop thread */

typedef enum {
    LOGIN_OK,       /* name and password match; privs are the user's */
    LOGIN_DENIED,   /* wrong name or password, or the pair is backing off: answer 401 */
    LOGIN_BUSY,     /* too many checks queued (or out of memory): answer 503 now */
    LOGIN_STOPPING, /* the server is stopping: answer 503 */
} login_result_t;

typedef void (*login_cb)(void *arg, login_result_t result, uint32_t privs);

typedef struct login_checker login_checker_t;

/* `workers` threads, at most `queue_max` checks waiting. users must outlive the checker. NULL
 * on failure. */
login_checker_t *login_checker_new(struct event_base *base, const users_t *users, int workers,
                                   int queue_max);
/* Checks from now on use `users` (SIGHUP reloaded the users file); the caller frees the old
 * set. Safe at any time on the loop thread: users are looked up there, workers only see the
 * copy in their job. */
void login_checker_set_users(login_checker_t *lc, const users_t *users);
/* Answers every check still pending with LOGIN_STOPPING (after the workers finished what they
 * were hashing), then frees everything. Call it before the requests waiting on it are freed. */
void login_checker_free(login_checker_t *lc);

/* Checks name and password for the client at peer ("ip:port" or "[ipv6]:port"; only the IP
 * counts) and calls cb exactly once. name and password are copied: the caller may wipe them
 * as soon as this returns. */
void login_check(login_checker_t *lc, const char *peer, const char *name, const char *password,
                 login_cb cb, void *arg);

/* Counters, for logs and tests. */
typedef struct {
    uint64_t hashed;     /* checks that ran crypt_r */
    uint64_t backed_off; /* refused at once by the backoff */
    uint64_t busy;       /* refused at once because the queue was full */
    size_t backoff_pairs;
} login_stats_t;
void login_checker_stats(const login_checker_t *lc, login_stats_t *out);

#endif
