/* core/common.h: return codes, size limits and small helpers shared by every layer. */
#ifndef CORE_COMMON_H
#define CORE_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define C_OK 0
#define C_ERR -1

/* Sizes of fixed buffers in models. Validation rejects anything longer, so copies never
 * truncate valid data. */
#define ID_MAX 128          /* library, item, datastore ids (we make UUIDs; clients send any) */
#define SESSION_ID_MAX 176  /* "<item id>:<uuid>" */
#define NAME_MAX_BYTES 256  /* library and item names (item names limited to 80 chars) */
#define DESC_MAX_BYTES 2048 /* descriptions (2000 chars) */
#define USER_MAX 128
#define TYPE_MAX 64         /* item type adapter id ("ovf", "iso", ...) */
#define VERSION_MAX 24      /* integer in a string */

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Copies at most size-1 bytes and always terminates; returns C_ERR if src did not fit. */
int copy_str(char *dst, size_t size, const char *src);

/* CLOCK_MONOTONIC in ns and ms: every deadline, lease and duration of the process (never the
 * wall clock, which may step). */
int64_t mono_ns(void);
int64_t mono_ms(void);

#endif
