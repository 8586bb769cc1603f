/* store/log.c: where store/'s log lines go (store_set_log in store/store.h). store/ never
 * depends on net/, so the server hands its logger in as a hook; tools and tests without one get
 * plain "store: <text>" lines on stderr. */
#include "store/redis.h"

#include <stdarg.h>
#include <stdio.h>

static store_log_fn log_hook;

void store_set_log(store_log_fn fn) { log_hook = fn; }

static void log_v(store_log_level_t level, const char *fmt, va_list ap) {
    char text[1024];
    vsnprintf(text, sizeof(text), fmt, ap);
    if (log_hook) log_hook(level, text);
    else fprintf(stderr, "store: %s\n", text);
}

void store_log(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    log_v(STORE_LOG_WARN, fmt, ap);
    va_end(ap);
}

void store_log_at(store_log_level_t level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    log_v(level, fmt, ap);
    va_end(ap);
}
