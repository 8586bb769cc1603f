/* net/secret.c: the upload-token secret and the derivation of upload tokens (net/secret.h). */
#include "net/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

static void to_hex(const unsigned char *in, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int from_hex(const char *in, unsigned char *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char ch = in[2 * i + (size_t)k];
            v <<= 4;
            if (ch >= '0' && ch <= '9') v |= (unsigned)(ch - '0');
            else if (ch >= 'a' && ch <= 'f') v |= (unsigned)(ch - 'a' + 10);
            else return C_ERR;
        }
        out[i] = (unsigned char)v;
    }
    return C_OK;
}

/* Creates the secret file if it does not exist: written whole into a temporary file, then
 * linked into place (link fails with EEXIST if another instance won the race; either way the
 * file that is there is the one every instance reads). */
static int create_if_missing(const char *path, const char **why) {
    if (access(path, F_OK) == 0) return C_OK;
    unsigned char raw[SECRET_BYTES];
    char text[2 * SECRET_BYTES + 2], tmp[PATH_MAX];
    if (RAND_bytes(raw, sizeof(raw)) != 1) { *why = "the random generator failed"; return C_ERR; }
    to_hex(raw, sizeof(raw), text);
    strcat(text, "\n");
    if (snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid()) >= (int)sizeof(tmp)) {
        *why = "the path is too long";
        return C_ERR;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) { *why = strerror(errno); return C_ERR; }
    size_t len = strlen(text);
    bool ok = write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (ok && link(tmp, path) != 0 && errno != EEXIST) ok = false;
    int saved = errno;
    unlink(tmp);
    if (!ok) { *why = strerror(saved); return C_ERR; }
    return C_OK;
}

int secret_load(const char *path, unsigned char key[SECRET_BYTES], const char **why) {
    if (create_if_missing(path, why) != C_OK) return C_ERR;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) { *why = strerror(errno); return C_ERR; }
    struct stat sb;
    char text[2 * SECRET_BYTES + 8];
    ssize_t n = -1;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) n = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (n < 2 * SECRET_BYTES) { *why = "it does not hold 64 hex digits"; return C_ERR; }
    if (sb.st_mode & (S_IRWXG | S_IRWXO)) {
        *why = "it is readable by others (chmod 600 it)";
        return C_ERR;
    }
    text[n] = '\0';
    if ((n > 2 * SECRET_BYTES && text[2 * SECRET_BYTES] != '\n') ||
        from_hex(text, key, SECRET_BYTES) != C_OK) {
        *why = "it does not hold 64 lower-case hex digits";
        return C_ERR;
    }
    return C_OK;
}

int secret_new_nonce(char nonce[UPLOAD_NONCE_MAX]) {
    unsigned char raw[(UPLOAD_NONCE_MAX - 1) / 2];
    if (RAND_bytes(raw, sizeof(raw)) != 1) return C_ERR;
    to_hex(raw, sizeof(raw), nonce);
    return C_OK;
}

/* The session id, name and nonce are joined with NUL bytes, which none of them can contain,
 * so no two different triples hash the same input. */
void secret_upload_token(const unsigned char key[SECRET_BYTES], const char *session_id,
                         const char *name, const char *nonce, char token[UPLOAD_TOKEN_MAX]) {
    unsigned char msg[SESSION_ID_MAX + FILE_NAME_MAX + UPLOAD_NONCE_MAX + 3];
    size_t a = strlen(session_id) + 1, b = strlen(name) + 1, c = strlen(nonce) + 1;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    token[0] = '\0';
    if (a + b + c > sizeof(msg)) return;
    memcpy(msg, session_id, a);
    memcpy(msg + a, name, b);
    memcpy(msg + a + b, nonce, c);
    if (!HMAC(EVP_sha256(), key, SECRET_BYTES, msg, a + b + c, md, &mdlen) ||
        mdlen * 2 >= UPLOAD_TOKEN_MAX)
        return;
    to_hex(md, mdlen, token);
}
