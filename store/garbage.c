/* store/garbage.c: the C side of the garbage list (store.h, "Garbage"): taking entries off
 * P garbage for a janitor (store/lua/garbage_take.lua) and the scan's question whether paths on
 * disk are still referenced (store/lua/blobs_referenced.lua). Both run without a login: the
 * janitor is the server's own. Deleting is not done here: net/data/janitor.c owns the disk. */
#include "store/redis.h"

#include <stdlib.h>
#include <string.h>

void store_garbage_take(store_t *st, int n, store_ids_cb cb, void *arg) {
    store_cmd_t c;
    cmd_init(&c, st);
    cmd_key(&c, "garbage", (const char *)NULL);
    cmd_arg_i64(&c, n);
    store_eval(&c, SCRIPT_GARBAGE_TAKE, reply_ids, (store_fn_t)cb, arg);
}

/* The paths travel as one argument joined with '\n' (a batch of 200 would not fit
 * CMD_MAX_ARGS), with their count beside it so the script answers exactly one flag per path.
 * A path that is empty or holds '\n' could shift the answers: the call is refused locally. */
void store_blobs_referenced(store_t *st, char *const *paths, size_t n, store_ids_cb cb,
                            void *arg) {
    store_cmd_t c;
    size_t total = 1;
    for (size_t i = 0; i < n; i++) total += strlen(paths[i]) + 1;
    char *joined = malloc(total), *p = joined;
    cmd_init(&c, st);
    cmd_arg_prefix(&c);
    cmd_arg_i64(&c, (int64_t)n);
    if (!joined) {
        cmd_fail(&c, ST_INTERNAL);
    } else {
        for (size_t i = 0; i < n; i++) {
            size_t len = strlen(paths[i]);
            if (len == 0 || memchr(paths[i], '\n', len)) {
                store_log("blobs_referenced: path %zu is empty or holds a newline", i);
                cmd_fail(&c, ST_INTERNAL);
            }
            if (i) *p++ = '\n';
            memcpy(p, paths[i], len);
            p += len;
        }
    }
    cmd_argn(&c, joined, joined ? (size_t)(p - joined) : 0);
    store_eval(&c, SCRIPT_BLOBS_REFERENCED, reply_ids, (store_fn_t)cb, arg); /* copies args */
    free(joined);
}
