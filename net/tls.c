/* net/tls.c: the TLS server context. One policy, set here once: TLS 1.2+ (1.0/1.1 and SSLv3
 * are refused in the handshake), ECDHE with AES-GCM or ChaCha20-Poly1305 for TLS 1.2 (OpenSSL's
 * defaults for 1.3, all AEAD), no TLS compression (CRIME), no renegotiation (client-initiated
 * renegotiation is a CPU lever), no session tickets (nothing to rotate; a handshake is cheap
 * next to an upload). The files are read once, at start: an unreadable or mismatched pair
 * stops the start with the reason. */
#include "net/tls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define TLS12_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!SHA1"

/* "what: OpenSSL's reason" into err. */
static void ssl_reason(char *err, size_t size, const char *what) {
    unsigned long e = ERR_get_error();
    char reason[256] = "unknown error";
    if (e) ERR_error_string_n(e, reason, sizeof(reason));
    ERR_clear_error();
    snprintf(err, size, "%s: %s", what, reason);
}

/* fopen first: "No such file or directory" says more than a PEM library error. */
static int readable(const char *path, const char *flag, char *err, size_t size) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, size, "cannot read %s %s: %s", flag, path, strerror(errno));
        return -1;
    }
    fclose(f);
    return 0;
}

struct ssl_ctx_st *tls_server_ctx(const char *cert_file, const char *key_file, char *err,
                                  size_t size) {
    char what[600];
    if (readable(cert_file, "--tls-cert", err, size) || readable(key_file, "--tls-key", err, size))
        return NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        ssl_reason(err, size, "cannot create the TLS context");
        return NULL;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1) {
        ssl_reason(err, size, "cannot set the TLS protocol policy");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        snprintf(what, sizeof(what), "--tls-cert %s is not a PEM certificate", cert_file);
        ssl_reason(err, size, what);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        snprintf(what, sizeof(what), "--tls-key %s is not a PEM private key (or does not match "
                 "--tls-cert)", key_file);
        ssl_reason(err, size, what);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(what, sizeof(what), "--tls-key %s does not match --tls-cert %s", key_file,
                 cert_file);
        ssl_reason(err, size, what);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

void tls_ctx_free(struct ssl_ctx_st *ctx) { SSL_CTX_free(ctx); }
