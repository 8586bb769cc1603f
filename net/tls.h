/* net/tls.h: the server's TLS context for --tls-cert/--tls-key (the listener then speaks HTTPS,
 * see http_server_set_tls() in net/http.h). */
#ifndef NET_TLS_H
#define NET_TLS_H

#include <stddef.h>

struct ssl_ctx_st;

/* Builds the context from PEM files (the certificate file may hold the chain): TLS 1.2 and
 * later only, forward-secret AEAD ciphers, no compression, no renegotiation, no session
 * tickets. NULL with the reason in err (file unreadable, not PEM, key not the certificate's). */
struct ssl_ctx_st *tls_server_ctx(const char *cert_file, const char *key_file, char *err,
                                  size_t size);
void tls_ctx_free(struct ssl_ctx_st *ctx);

#endif
