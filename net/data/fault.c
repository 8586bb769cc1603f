/* net/data/fault.c: the crash points of net/data/fault.h (test builds only). */
#include "net/data/fault.h"
#include "net/log.h"

#ifdef USD_FAULTS
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Reads USD_FAULT on every pass (a test sets it once, at start): "<point>[:<n>]". */
void fault_point(const char *name) {
    static long passes;
    const char *spec = getenv("USD_FAULT");
    if (!spec) return;
    size_t len = strcspn(spec, ":");
    if (len != strlen(name) || strncmp(spec, name, len) != 0) return;
    long n = spec[len] == ':' ? strtol(spec + len + 1, NULL, 10) : 1;
    if (++passes < (n > 0 ? n : 1)) return;
    log_msg(LV_ERROR, "fault point %s reached, killing myself", name);
    kill(getpid(), SIGKILL);
}
#else
typedef int fault_points_are_off; /* ISO C forbids an empty translation unit */
#endif
