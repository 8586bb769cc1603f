/* net/users.h: the users file (one "name:crypt-hash:privileges" per line) and password checks.
 * Loaded once at start; the hashes are any crypt(3) hash (openssl passwd -6, mkpasswd ...). */
#ifndef NET_USERS_H
#define NET_USERS_H

#include "core/common.h"

typedef struct users users_t;

/* Loads and checks the whole file; on a bad line prints file:line and why, returns NULL. */
users_t *users_load(const char *path);
void users_free(users_t *u);
size_t users_count(const users_t *u);
/* Longest hash the users file may hold (a $6$ hash with rounds= is about 120 bytes). */
#define USERS_HASH_MAX 512

/* What a password check needs, copied out for a worker thread (net/login.c): true and the
 * user's hash and privileges if name is a user; else false, a dummy hash (a valid SHA-512
 * crypt hash of a random string) and no privileges, so that checking an unknown name costs as
 * much as a wrong password and names cannot be probed. */
bool users_lookup(const users_t *u, const char *name, char hash[USERS_HASH_MAX], uint32_t *privs);
/* True if password hashes to hash with crypt_r. Thread-safe and slow on purpose (about 2 ms
 * for a $6$ hash): never call it on the event loop thread. */
bool users_password_matches(const char *password, const char *hash);
/* Decodes an "Authorization: Basic ..." header value into name and password. */
int basic_auth_decode(const char *header, char *name, size_t nsize, char *password, size_t psize);

#endif
