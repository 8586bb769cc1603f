/* store/keys.c: the Redis key schema (every key name store/ uses is made here or, for keys a
 * script derives, documented here) and the builder of one call's KEYS and ARGV.
 *
 * Key schema. P is the configured prefix (default "usd:"). Times are integer milliseconds
 * since the Unix epoch from Redis TIME; versions are decimal strings.
 *
 *   P login:<hex SHA-256 of token>  hash {user, privs, created, last}; PEXPIRE login idle
 *                                   timeout, renewed on every use. Tokens are never stored in
 *                                   clear.
 *   P libs                          zset of library ids, score = creation
 *   P lib:<id>                      hash {id, name, description, type, creation, modified,
 *                                   version, backings (JSON), subscription_info (JSON)}
 *   P lib:<id>:items                zset of the library's item ids, score = creation
 *   P lib:<id>:names                hash lower(item name) -> item id (unique names)
 *   P {<item>}:item                 hash {id, library_id, library_type, name, description,
 *                                   type, content_version, metadata_version, version, creation,
 *                                   modified, size, cached ("1"/"0")}
 *   P {<item>}:lock                 string: id of the item's ACTIVE session (SET NX; PX =
 *                                   2 x session timeout + 60 s, a backstop only)
 *   P {<item>}:s:<uuid>             hash, session "<item>:<uuid>": {item, cv, state,
 *                                   progress, deadline, created, owner, wb (warning behavior
 *                                   JSON, optional), err (error_message JSON, optional),
 *                                   finished (once terminal), completion (core/transfer.h:
 *                                   "COMPLETING" while a complete waits for PULL transfers;
 *                                   absent or "OPEN" otherwise)}
 *   P {<item>}:s:<uuid>:files       hash file name -> the session's file record (JSON, see
 *                                   store/files.c); PEXPIRE retention once the session ends
 *   P {<item>}:files                hash file name -> the item's published file (JSON {name,
 *                                   size, checksum {algorithm, checksum}, version, blob})
 *   P upload:<hex SHA-256 of token> string "<session id>\n<file name>": a PUSH file's upload
 *                                   token; no TTL: deleted when the file is replaced or
 *                                   removed or its session ends (the URI lives exactly as long
 *                                   as the file is in an ACTIVE session)
 *   P garbage                       list of paths under --storage-dir that nothing references
 *                                   any more (store.h "Garbage"), drained by the janitors
 *   P deadlines                     zset of session ids, score = deadline (read by the sweeper)
 *   P user:<user>:sessions          zset of the user's session ids, score = creation
 *   P ctok:<lower(client token)>    hash {user, item, sid}; PEXPIRE token retention (a UUID:
 *                                   either case names one token). A token whose session
 *                                   record is gone is stale: the next create replaces it
 *
 * All keys of one item share the hash tag {<item>}. We target a standalone Redis (or one
 * primary with replicas): some scripts touch keys they build themselves rather than receive in
 * KEYS (the user's session list, made from the authenticated user inside the script; the
 * items and libraries scanned by find, list and delete; the session keys upload_begin.lua
 * derives from the upload token's entry), which Redis Cluster would refuse across slots. */
#include "store/logincache.h"
#include "store/redis.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "core/privilege.h"
#include "core/validate.h"

void cmd_init(store_cmd_t *c, store_t *st) {
    c->st = st;
    c->local = ST_OK;
    c->nkeys = c->nargs = 0;
    c->used = 0;
}

void cmd_fail(store_cmd_t *c, store_status_t s) {
    if (c->local == ST_OK) c->local = s;
}

/* Reserves n bytes of the arena; NULL (and ST_INTERNAL) when a call's keys do not fit, which
 * only a prefix or id beyond the validated limits can cause. */
static char *arena(store_cmd_t *c, size_t n) {
    if (c->used + n > sizeof(c->arena)) {
        if (c->local == ST_OK) store_log("call arguments do not fit (%zu bytes)", c->used + n);
        cmd_fail(c, ST_INTERNAL);
        return NULL;
    }
    char *p = c->arena + c->used;
    c->used += n;
    return p;
}

static void push_key(store_cmd_t *c, const char *s, size_t len) {
    if (c->nkeys == CMD_MAX_KEYS) {
        store_log("too many call keys");
        cmd_fail(c, ST_INTERNAL);
        return;
    }
    c->key[c->nkeys] = s ? s : "";
    c->keylen[c->nkeys++] = s ? len : 0;
}

void cmd_argn(store_cmd_t *c, const char *s, size_t len) {
    if (c->nargs == CMD_MAX_ARGS) {
        store_log("too many call arguments");
        cmd_fail(c, ST_INTERNAL);
        return;
    }
    c->arg[c->nargs] = s ? s : "";
    c->arglen[c->nargs++] = s ? len : 0;
}

void cmd_arg(store_cmd_t *c, const char *s) { cmd_argn(c, s, s ? strlen(s) : 0); }

void cmd_arg_i64(store_cmd_t *c, int64_t v) {
    char *p = arena(c, 24);
    if (!p) {
        cmd_argn(c, NULL, 0);
        return;
    }
    int n = snprintf(p, 24, "%" PRId64, v);
    c->used -= 24 - (size_t)n;
    cmd_argn(c, p, (size_t)n);
}

void cmd_arg_copy(store_cmd_t *c, const char *s) {
    size_t n = strlen(s);
    char *p = arena(c, n + 1);
    if (p) memcpy(p, s, n + 1);
    cmd_argn(c, p, p ? n : 0);
}

void cmd_arg_prefix(store_cmd_t *c) {
    size_t len;
    const char *p = store_prefix(c->st, &len);
    cmd_argn(c, p, len);
}

/* Key = prefix + parts, formatted into the arena. */
static void key_parts(store_cmd_t *c, va_list ap) {
    size_t plen;
    const char *prefix = store_prefix(c->st, &plen);
    size_t start = c->used;
    char *p = arena(c, plen);
    if (p) memcpy(p, prefix, plen);
    for (const char *part; p && (part = va_arg(ap, const char *)) != NULL;) {
        size_t n = strlen(part);
        if ((p = arena(c, n)) != NULL) memcpy(p, part, n);
    }
    if (p)
        push_key(c, c->arena + start, c->used - start);
    else
        push_key(c, NULL, 0);
}

void cmd_key(store_cmd_t *c, ...) {
    va_list ap;
    va_start(ap, c);
    key_parts(c, ap);
    va_end(ap);
}

/* Builds a key from a fixed list of parts (the va_list form needs a variadic caller). */
static void key3(store_cmd_t *c, const char *a, const char *b, const char *d) {
    cmd_key(c, a, b, d, (const char *)NULL);
}

void secret_key_hex(const char *secret, char *hex) {
    static const char digits[] = "0123456789abcdef";
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)secret, strlen(secret), md);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[2 * SHA256_DIGEST_LENGTH] = '\0';
}

void cmd_key_hashed(store_cmd_t *c, const char *kind, const char *secret) {
    char hex[2 * SHA256_DIGEST_LENGTH + 1];
    secret_key_hex(secret, hex);
    key3(c, kind, hex, "");
}

void cmd_login_key(store_cmd_t *c, const char *token) {
    if (!token) {
        cmd_fail(c, ST_UNAUTHENTICATED);
        push_key(c, NULL, 0);
        return;
    }
    cmd_key_hashed(c, "login:", token);
}

/* A login in this instance's cache (store/logincache.c) is passed as "u:<user>" with its
 * privileges, so the prelude neither reads nor renews it (the cache renews it itself). */
static void auth_args(store_cmd_t *c, const store_auth_t *auth, bool use_cache) {
    char privs[48], hex[LOGIN_HEX_LEN + 1];
    login_seen_t who;
    bool cached = false;
    if (!auth || !auth->token) {
        cmd_login_key(c, NULL);
    } else {
        secret_key_hex(auth->token, hex);
        key3(c, "login:", hex, "");
        logincache_t *lc = store_logins(c->st);
        cached = use_cache && logincache_get(lc, hex, &who);
        if (use_cache && !cached && logincache_active(lc))
            store_login_prefetch(c->st, auth->token, hex);
    }
    uint32_t need = auth ? auth->required_privs : 0u;
    uint32_t alt = (need & PRIV_OR_OPERATOR) ? PRIV_TERMINATE_SESSION : 0u;
    int n = snprintf(privs, sizeof(privs), "%u/%u/%u", (unsigned)(need & ~PRIV_OR_OPERATOR),
                     (unsigned)PRIV_TERMINATE_SESSION, (unsigned)alt);
    if (cached) {
        size_t ulen = strlen(who.user);
        char *u = arena(c, ulen + 2);
        if (u) {
            memcpy(u, "u:", 2);
            memcpy(u + 2, who.user, ulen);
        }
        cmd_argn(c, u, u ? ulen + 2 : 0);
        snprintf(privs + n, sizeof(privs) - (size_t)n, "/%u", (unsigned)who.privs);
    } else {
        cmd_arg_i64(c, store_cfg(c->st)->login_idle_ms);
    }
    cmd_arg_copy(c, privs);
}

void cmd_auth(store_cmd_t *c, const store_auth_t *auth) { auth_args(c, auth, true); }

void cmd_init_auth_uncached(store_cmd_t *c, store_t *st, const store_auth_t *auth) {
    cmd_init(c, st);
    auth_args(c, auth, false);
}

void cmd_init_auth(store_cmd_t *c, store_t *st, const store_auth_t *auth) {
    cmd_init(c, st);
    cmd_auth(c, auth);
}

/* Ids become part of key names; one that is not a valid resource id (for example one holding a
 * brace, which would move the hash tag) cannot name anything we made. */
static bool check_id(store_cmd_t *c, const char *id) {
    if (valid_resource_id(id)) return true;
    cmd_fail(c, ST_NOT_FOUND);
    return false;
}

void cmd_key_lib(store_cmd_t *c, const char *lib_id, const char *suffix) {
    if (!check_id(c, lib_id)) lib_id = "";
    key3(c, "lib:", lib_id, suffix);
}

void cmd_key_item(store_cmd_t *c, const char *item_id, const char *suffix) {
    if (!check_id(c, item_id)) item_id = "";
    cmd_key(c, "{", item_id, "}:", suffix, (const char *)NULL);
}

void cmd_key_session(store_cmd_t *c, const char *session_id, char *item_id) {
    if (!parse_session_id(session_id, item_id)) {
        cmd_fail(c, ST_NOT_FOUND);
        item_id[0] = '\0';
        push_key(c, NULL, 0);
        return;
    }
    const char *uuid = session_id + strlen(item_id) + 1;
    cmd_key(c, "{", item_id, "}:s:", uuid, (const char *)NULL);
}
