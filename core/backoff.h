/* core/backoff.h: the login failure backoff. After a failed login for a (user, client address)
 * pair, that pair must wait before its next attempt is even checked; the wait starts at
 * first_ms, doubles with each further failure up to max_ms, and ends on a success (or after
 * forget_ms without a failure). Other users from the same address, and the same user from
 * other addresses, are not affected.
 *
 * The table has a fixed size, allocated once: when it is full, the pair whose last failure is
 * the oldest is forgotten to make room, so a flood of random user names costs no memory. The
 * bucket hash is seeded (the server passes random bits) so a client cannot aim names at one
 * bucket. Pure C: time is a parameter (monotonic milliseconds), no I/O, not thread-safe (the
 * event loop owns it). */
#ifndef CORE_BACKOFF_H
#define CORE_BACKOFF_H

#include "core/common.h"

#define BACKOFF_ADDR_MAX 48 /* an IPv6 address in text (INET6_ADDRSTRLEN) and its NUL */

typedef struct {
    size_t capacity;   /* pairs remembered at most (>= 1) */
    int64_t first_ms;  /* wait after the first failure */
    int64_t max_ms;    /* the wait never grows beyond this */
    int64_t forget_ms; /* a pair with no failure for this long starts again from first_ms */
    uint64_t seed;     /* bucket hash seed */
} backoff_config_t;

typedef struct backoff backoff_t;

/* NULL when out of memory. */
backoff_t *backoff_new(const backoff_config_t *cfg);
void backoff_free(backoff_t *b);

/* Milliseconds the pair must still wait before an attempt may be checked; 0 = check it now.
 * A user name longer than USER_MAX-1 bytes or an address longer than BACKOFF_ADDR_MAX-1 is
 * never tracked (no users-file name is that long). */
int64_t backoff_wait_ms(backoff_t *b, const char *user, const char *addr, int64_t now_ms);
/* Records a failed attempt; returns the wait it imposes from now. */
int64_t backoff_failed(backoff_t *b, const char *user, const char *addr, int64_t now_ms);
/* A successful login: the pair is forgotten. */
void backoff_succeeded(backoff_t *b, const char *user, const char *addr);
/* Pairs currently remembered (<= capacity). */
size_t backoff_size(const backoff_t *b);

#endif
