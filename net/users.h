/* net/users.h: the users file (one "name:crypt-hash:privileges" per line) and password checks.
 * Loaded once at start; the hashes are any crypt(3) hash (openssl passwd -6, mkpasswd ...). */
#ifndef NET_USERS_H
#define NET_USERS_H

#include "core/common.h"

typedef struct users users_t;

/* Loads and checks the whole file; on a bad line prints file:line and why, returns NULL. */
users_t *users_load(const char *path);
void users_free(users_t *u);
/* C_OK and the user's privileges if name and password match. Takes about the same time for an
 * unknown user as for a wrong password (a dummy hash is checked), so names cannot be probed. */
int users_check(const users_t *u, const char *name, const char *password, uint32_t *privs);
/* Decodes an "Authorization: Basic ..." header value into name and password. */
int basic_auth_decode(const char *header, char *name, size_t nsize, char *password, size_t psize);

#endif
