/* net/users.c: loading the users file and verifying passwords with libcrypt's crypt_r (on the
 * login workers: net/login.c), and decoding HTTP Basic credentials with OpenSSL's base64
 * decoder. */
#include "net/users.h"

#include <crypt.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/privilege.h"
#include "net/log.h"

typedef struct {
    char name[USER_MAX];
    char *hash;
    uint32_t privs;
} user_t;

struct users {
    user_t *list;
    size_t count;
};

/* A valid SHA-512 crypt hash of a random string: checked for unknown users so that a missing
 * user costs as much time as a wrong password. */
static const char dummy_hash[] =
    "$6$usdummysalt$l1LmonjMlKaN2QK.9vIAjMlKjK3Sij/Roprw4iCNFJ0iP9iLSXLxnQXzN89kPk5dJf1dGY7GH.QVMLvqgk7an1";

/* Parses one line; returns C_ERR with *why set on a malformed one. */
static int parse_line(char *line, user_t *u, const char **why, char *bad, size_t bsize) {
    char *c1 = strchr(line, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c1 || !c2) { *why = "expected name:hash:privileges"; return C_ERR; }
    *c1 = *c2 = '\0';
    if (!line[0] || copy_str(u->name, sizeof(u->name), line) != C_OK) { *why = "bad user name"; return C_ERR; }
    if (c1[1] != '$') { *why = "the hash is not a crypt(3) hash (it must start with '$')"; return C_ERR; }
    if (strlen(c1 + 1) >= USERS_HASH_MAX) { *why = "the hash is too long"; return C_ERR; }
    if (privileges_parse(c2 + 1, &u->privs, bad, bsize) != C_OK) { *why = "unknown privilege"; return C_ERR; }
    u->hash = strdup(c1 + 1);
    return u->hash ? C_OK : C_ERR;
}

users_t *users_load(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        log_msg(LV_ERROR, "cannot read the users file %s: %s", path, strerror(errno));
        return NULL;
    }
    users_t *u = calloc(1, sizeof(*u));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0;
    while (u && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (len == 0 || line[0] == '#') continue;
        user_t nu = {0};
        const char *why = "out of memory";
        char bad[64] = "";
        user_t *grown = realloc(u->list, (u->count + 1) * sizeof(*u->list));
        if (!grown || parse_line(line, &nu, &why, bad, sizeof(bad)) != C_OK) {
            if (grown) u->list = grown;
            log_msg(LV_ERROR, "users file %s:%d: %s%s%s", path, lineno, why, bad[0] ? ": " : "",
                    bad);
            users_free(u);
            u = NULL;
            break;
        }
        u->list = grown;
        u->list[u->count++] = nu;
    }
    free(line);
    fclose(f);
    return u;
}

void users_free(users_t *u) {
    if (!u) return;
    for (size_t i = 0; i < u->count; i++) free(u->list[i].hash);
    free(u->list);
    free(u);
}

size_t users_count(const users_t *u) { return u ? u->count : 0; }

bool users_lookup(const users_t *u, const char *name, char hash[USERS_HASH_MAX], uint32_t *privs) {
    const user_t *found = NULL;
    for (size_t i = 0; i < u->count && !found; i++)
        if (strcmp(u->list[i].name, name) == 0) found = &u->list[i];
    copy_str(hash, USERS_HASH_MAX, found ? found->hash : dummy_hash);
    *privs = found ? found->privs : 0;
    return found != NULL;
}

bool users_password_matches(const char *password, const char *hash) {
    struct crypt_data cd;
    memset(&cd, 0, sizeof(cd));
    const char *out = crypt_r(password, hash, &cd);
    size_t len = strlen(hash);
    bool ok = out && out[0] != '*' && strlen(out) == len && CRYPTO_memcmp(out, hash, len) == 0;
    explicit_bzero(&cd, sizeof(cd)); /* holds the password's hash state */
    return ok;
}

int basic_auth_decode(const char *header, char *name, size_t nsize, char *password, size_t psize) {
    if (!header || strncasecmp(header, "Basic ", 6) != 0) return C_ERR;
    const char *b64 = header + 6;
    while (*b64 == ' ') b64++;
    size_t inlen = strlen(b64);
    if (inlen == 0 || inlen > 1024 || inlen % 4) return C_ERR;
    unsigned char out[1024];
    int n = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)inlen);
    if (n < 0) return C_ERR;
    /* EVP_DecodeBlock counts '=' padding as zero bytes: drop them. More than two is not base64
     * (and "Basic ====" would take n below zero: found by tests/fuzz/fuzz_validate). */
    size_t pad = 0;
    while (pad < inlen && b64[inlen - 1 - pad] == '=') pad++;
    if (pad > 2) return C_ERR;
    n -= (int)pad;
    out[n] = '\0';
    if (memchr(out, '\0', (size_t)n)) return C_ERR;
    char *colon = strchr((char *)out, ':');
    if (!colon) return C_ERR;
    *colon = '\0';
    if (copy_str(name, nsize, (char *)out) != C_OK || copy_str(password, psize, colon + 1) != C_OK)
        return C_ERR;
    return C_OK;
}
