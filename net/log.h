/* net/log.h: the server's log lines on stderr and the optional access log. One line per event,
 * logfmt style:
 *
 *   ts=2024-05-01T12:00:00.123Z level=warn msg="redis link down: ...; reconnecting" src=store
 *
 * ts is UTC with milliseconds; msg is always quoted; a value is quoted when it is empty or holds
 * a space, '"', '=' or a byte below 0x20 or 0x7f (escapes \" \\ \n \r \t, other control bytes as
 * \xNN). Lines below the level set with --log-level are dropped. Every line leaves in one
 * write(2) from a stack buffer (no allocation, no stdio lock), so lines written by threads (the
 * login workers) or by several processes sharing a file never interleave; a line longer than
 * LOG_LINE_MAX is cut and ends with "...".
 *
 * The access log (--access-log FILE, or "-" for stderr) has one line per answered request:
 *   ts=... method=GET op=update_session.get status=200 duration_ms=0.412 client=127.0.0.1:5555
 * buffered in memory and written when the buffer fills or at log_flush() (main calls it from a
 * timer and at exit), so a busy server makes one write per batch, not per request.
 *
 * It does I/O, so it lives in net/ (core/ stays pure); store/ logs through store_set_log(). */
#ifndef NET_LOG_H
#define NET_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOG_LINE_MAX 4096

typedef enum { LV_DEBUG, LV_INFO, LV_WARN, LV_ERROR } log_level_t;

/* "debug", "info", "warn" (or "warning"), "error" -> level; C_ERR for anything else. */
int log_level_parse(const char *name, log_level_t *out);
const char *log_level_name(log_level_t level);
void log_set_level(log_level_t level);
bool log_enabled(log_level_t level);

/* A line whose message is made printf-style. */
void log_msg(log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A line with a fixed message and key=value pairs: a NULL-terminated list of (key, value)
 * strings, e.g. log_kv(LV_INFO, "listening", "url", url, (const char *)NULL). */
void log_kv(log_level_t level, const char *msg, ...);

/* The line for the given time (ms since the epoch), level (NULL: no level field), message
 * (NULL: none) and nkv (key, value) pairs, with its '\n', into buf. Returns its length (< size;
 * cut with "...\n" when it does not fit). Pure: what the unit tests check. */
size_t log_format(char *buf, size_t size, int64_t wall_ms, const char *level, const char *msg,
                  const char *const *kv, size_t nkv);

/* The access log. open: "-" is stderr; C_ERR with *why when the file cannot be opened for
 * appending. reopen (SIGHUP, after logrotate moved the file): the same path again. */
int log_access_open(const char *path, const char **why);
int log_access_reopen(void);
bool log_access_enabled(void);
void log_access(const char *method, const char *op, int status, int64_t duration_ns,
                const char *client);
void log_flush(void);
void log_access_close(void);

#endif
