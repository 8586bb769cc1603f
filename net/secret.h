/* net/secret.h: the upload-token secret. Upload URIs carry a bearer token that Redis must not
 * hold in a readable form (a Redis dump must not let anyone upload): the token is
 * HMAC-SHA256(secret, session id, file name, nonce), the record keeps only the random nonce and
 * the token's SHA-256 (for the index key), and every instance derives the same token from the
 * same secret. The secret lives in a file outside Redis, shared by the fleet: --secret-file, by
 * default <storage-dir>/.secret (the storage directory is shared by every instance anyway),
 * created with 32 random bytes by the first instance that starts. */
#ifndef NET_SECRET_H
#define NET_SECRET_H

#include "core/file.h"

#define SECRET_BYTES 32

/* Reads the secret (64 hex digits) from path, or creates the file (mode 0600, atomically: a
 * temporary file linked into place, so two instances starting at once agree) when it does
 * not exist. C_ERR with *why set when the file is unreadable, malformed or not private. */
int secret_load(const char *path, unsigned char key[SECRET_BYTES], const char **why);

/* A fresh nonce: 16 random bytes in hex (UPLOAD_NONCE_MAX). C_ERR if the RNG fails. */
int secret_new_nonce(char nonce[UPLOAD_NONCE_MAX]);

/* The upload token of a file (UPLOAD_TOKEN_MAX hex digits), from its session, name and nonce. */
void secret_upload_token(const unsigned char key[SECRET_BYTES], const char *session_id,
                         const char *name, const char *nonce, char token[UPLOAD_TOKEN_MAX]);

#endif
