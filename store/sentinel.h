/* store/sentinel.h: finding the Redis primary through Redis Sentinel, for the connection layer
 * of store/redis.c (internal to store/). See store/sentinel.c. */
#ifndef STORE_SENTINEL_H
#define STORE_SENTINEL_H

#include <stddef.h>

#include "store/store.h"

struct event_base;

typedef struct sentinel sentinel_t;

/* The answer to sentinel_resolve: the primary's address, or host NULL when no sentinel named it
 * (each was asked once, within the timeout). */
typedef void (*sentinel_found_fn)(void *arg, const char *host, int port);
/* A sentinel announced +switch-master for our master; host:port is the new primary. */
typedef void (*sentinel_switch_fn)(void *arg, const char *host, int port);

/* Uses cfg->sentinels, sentinel_host/port, master_name and call_timeout_ms (each question and
 * each subscription attempt is bounded by it). Subscribes to +switch-master at once. Both
 * callbacks run from the event loop (a timer), never from inside a hiredis callback and never
 * from inside a sentinel_ function. NULL when cfg names no sentinel. */
sentinel_t *sentinel_new(struct event_base *base, const store_config_t *cfg,
                         sentinel_found_fn found, sentinel_switch_fn on_switch, void *arg);
/* Asks the sentinels in turn (starting with the one that answered last) for the master's
 * address; `found` is called once. A call while a resolve runs joins it. */
void sentinel_resolve(sentinel_t *s);
/* No callback runs after this. */
void sentinel_free(sentinel_t *s);
const char *sentinel_master(const sentinel_t *s);

/* Parses the payload of a +switch-master message, "<name> <old ip> <old port> <new ip> <new
 * port>": C_OK and the new address when it is about `master`; C_ERR when it is not, or is
 * malformed. */
int sentinel_parse_switch(const char *msg, size_t len, const char *master, char *host,
                          size_t hsize, int *port);

#endif
