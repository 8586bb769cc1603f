/* net/log.c: log lines and the access log (net/log.h). The format is written once, in
 * log_format(); log_msg/log_kv add the clock and the level filter, log_access the buffering. */
#include "net/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/common.h"

#define KV_MAX 16               /* pairs one log_kv line may carry */
#define ACCESS_BUF 65536        /* the access log's buffer */
#define ACCESS_FLUSH_AT 49152   /* written at once when the buffer holds this much */

static const char *const level_names[] = {"debug", "info", "warn", "error"};
static log_level_t min_level = LV_INFO;

static struct {
    int fd;                     /* -1: off */
    bool own;                   /* a file we opened (not stderr) */
    char path[4096];
    size_t used;
    char buf[ACCESS_BUF];
} access_log = {.fd = -1};

int log_level_parse(const char *name, log_level_t *out) {
    for (size_t i = 0; i < ARRAY_LEN(level_names); i++)
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (log_level_t)i;
            return C_OK;
        }
    if (strcasecmp(name, "warning") == 0) {
        *out = LV_WARN;
        return C_OK;
    }
    return C_ERR;
}

const char *log_level_name(log_level_t level) {
    return (size_t)level < ARRAY_LEN(level_names) ? level_names[level] : "?";
}

void log_set_level(log_level_t level) { min_level = level; }

bool log_enabled(log_level_t level) { return level >= min_level; }

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Appends to buf[*used..size) what fits; *used never passes size - 1. */
static void put(char *buf, size_t size, size_t *used, const char *s, size_t n) {
    size_t room = size - 1 - *used;
    if (n > room) n = room;
    memcpy(buf + *used, s, n);
    *used += n;
}

static bool needs_quotes(const char *v) {
    if (!*v) return true;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == 0x7f) return true;
    return false;
}

/* A value, quoted and escaped when needed (module comment of net/log.h). */
static void put_value(char *buf, size_t size, size_t *used, const char *v, bool quote) {
    if (!quote && !needs_quotes(v)) {
        put(buf, size, used, v, strlen(v));
        return;
    }
    put(buf, size, used, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        char esc[5];
        const char *s = esc;
        size_t n = 2;
        esc[0] = '\\';
        switch (*p) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                snprintf(esc, sizeof(esc), "\\x%02x", *p);
                n = 4;
            } else {
                s = (const char *)p;
                n = 1;
            }
        }
        put(buf, size, used, s, n);
    }
    put(buf, size, used, "\"", 1);
}

size_t log_format(char *buf, size_t size, int64_t wall, const char *level, const char *msg,
                  const char *const *kv, size_t nkv) {
    if (size < 8) {
        if (size) buf[0] = '\0';
        return 0;
    }
    size_t used = 0;
    time_t secs = (time_t)(wall / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char ts[48];
    int n = snprintf(ts, sizeof(ts), "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(wall % 1000));
    put(buf, size, &used, ts, (size_t)n);
    if (level) {
        put(buf, size, &used, " level=", 7);
        put(buf, size, &used, level, strlen(level));
    }
    if (msg) {
        put(buf, size, &used, " msg=", 5);
        put_value(buf, size, &used, msg, true);
    }
    for (size_t i = 0; i < nkv; i++) {
        put(buf, size, &used, " ", 1);
        put(buf, size, &used, kv[2 * i], strlen(kv[2 * i]));
        put(buf, size, &used, "=", 1);
        put_value(buf, size, &used, kv[2 * i + 1] ? kv[2 * i + 1] : "", false);
    }
    if (used >= size - 1) { /* cut: end with "..." where the line would have gone on */
        used = size - 5;
        memcpy(buf + used, "...", 3);
        used += 3;
    }
    buf[used++] = '\n';
    buf[used] = '\0';
    return used;
}

static void write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return; /* nowhere to report it */
        p += w;
        n -= (size_t)w;
    }
}

static void emit(log_level_t level, const char *msg, const char *const *kv, size_t nkv) {
    char line[LOG_LINE_MAX];
    size_t n = log_format(line, sizeof(line), wall_ms(), log_level_name(level), msg, kv, nkv);
    write_all(STDERR_FILENO, line, n);
}

void log_msg(log_level_t level, const char *fmt, ...) {
    if (!log_enabled(level)) return;
    char msg[LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    emit(level, msg, NULL, 0);
}

void log_kv(log_level_t level, const char *msg, ...) {
    if (!log_enabled(level)) return;
    const char *kv[2 * KV_MAX];
    size_t n = 0;
    va_list ap;
    va_start(ap, msg);
    for (;;) {
        const char *key = va_arg(ap, const char *);
        if (!key) break;
        const char *value = va_arg(ap, const char *);
        if (n < KV_MAX) {
            kv[2 * n] = key;
            kv[2 * n + 1] = value;
            n++;
        }
    }
    va_end(ap);
    emit(level, msg, kv, n);
}

/* ---- the access log ------------------------------------------------------------------------ */

static int open_append(const char *path) {
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

int log_access_open(const char *path, const char **why) {
    log_access_close();
    if (strcmp(path, "-") == 0) {
        access_log.fd = STDERR_FILENO;
        access_log.own = false;
    } else {
        if (copy_str(access_log.path, sizeof(access_log.path), path) != C_OK) {
            *why = "path too long";
            return C_ERR;
        }
        access_log.fd = open_append(path);
        if (access_log.fd < 0) {
            *why = strerror(errno);
            return C_ERR;
        }
        access_log.own = true;
    }
    access_log.used = 0;
    return C_OK;
}

int log_access_reopen(void) {
    if (!access_log.own) return C_OK;
    log_flush();
    int fd = open_append(access_log.path);
    if (fd < 0) return C_ERR; /* keep writing to the old file */
    close(access_log.fd);
    access_log.fd = fd;
    return C_OK;
}

bool log_access_enabled(void) { return access_log.fd >= 0; }

void log_flush(void) {
    if (access_log.fd < 0 || access_log.used == 0) return;
    write_all(access_log.fd, access_log.buf, access_log.used);
    access_log.used = 0;
}

void log_access(const char *method, const char *op, int status, int64_t duration_ns,
                const char *client) {
    if (access_log.fd < 0) return;
    char code[12], ms[32];
    snprintf(code, sizeof(code), "%d", status);
    snprintf(ms, sizeof(ms), "%.3f", (double)duration_ns / 1e6);
    const char *kv[] = {"method", method, "op", op, "status", code, "duration_ms", ms,
                        "client", client};
    char line[1024];
    size_t n = log_format(line, sizeof(line), wall_ms(), NULL, NULL, kv, ARRAY_LEN(kv) / 2);
    if (access_log.used + n > sizeof(access_log.buf)) log_flush();
    memcpy(access_log.buf + access_log.used, line, n);
    access_log.used += n;
    if (access_log.used >= ACCESS_FLUSH_AT) log_flush();
}

void log_access_close(void) {
    log_flush();
    if (access_log.own && access_log.fd >= 0) close(access_log.fd);
    access_log.fd = -1;
    access_log.own = false;
}
