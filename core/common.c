/* core/common.c: the small helpers every layer shares (bounded string copy, the monotonic clock). */
#include "core/common.h"

#include <string.h>
#include <time.h>

/* Fixed model buffers are filled from validated input; the return value lets a caller notice
 * the one case validation should have made impossible (a value that does not fit). */
int copy_str(char *dst, size_t size, const char *src) {
    if (!dst || size == 0) return C_ERR;
    if (!src) src = "";
    size_t n = strnlen(src, size);
    if (n >= size) {
        memcpy(dst, src, size - 1);
        dst[size - 1] = '\0';
        return C_ERR;
    }
    memcpy(dst, src, n + 1);
    return C_OK;
}

int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t mono_ms(void) { return mono_ns() / 1000000; }
