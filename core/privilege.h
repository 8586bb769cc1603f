/* core/privilege.h: the vSphere privilege ids a user can hold (users file) and an operation can
 * require, as bits, so a login record carries them as one number. */
#ifndef CORE_PRIVILEGE_H
#define CORE_PRIVILEGE_H

#include "core/common.h"

typedef enum {
    PRIV_SYSTEM_READ = 1u << 0,                    /* System.Read */
    PRIV_UPDATE_SESSION = 1u << 1,                 /* ContentLibrary.UpdateSession */
    PRIV_ADD_LIBRARY_ITEM = 1u << 2,               /* ContentLibrary.AddLibraryItem */
    PRIV_CREATE_LOCAL_LIBRARY = 1u << 3,           /* ContentLibrary.CreateLocalLibrary */
    PRIV_CREATE_SUBSCRIBED_LIBRARY = 1u << 4,      /* ContentLibrary.CreateSubscribedLibrary */
    PRIV_DELETE_LOCAL_LIBRARY = 1u << 5,           /* ContentLibrary.DeleteLocalLibrary */
    PRIV_DELETE_SUBSCRIBED_LIBRARY = 1u << 6,      /* ContentLibrary.DeleteSubscribedLibrary */
    PRIV_DELETE_LIBRARY_ITEM = 1u << 7,            /* ContentLibrary.DeleteLibraryItem */
    PRIV_UPDATE_LIBRARY_ITEM = 1u << 8,            /* ContentLibrary.UpdateLibraryItem */
    PRIV_UPDATE_LOCAL_LIBRARY = 1u << 9,           /* ContentLibrary.UpdateLocalLibrary */
    PRIV_READ_STORAGE = 1u << 10,                  /* ContentLibrary.ReadStorage */
    PRIV_SYNC_LIBRARY_ITEM = 1u << 11,             /* ContentLibrary.SyncLibraryItem */
    PRIV_SYNC_LIBRARY = 1u << 12,                  /* ContentLibrary.SyncLibrary */
    PRIV_ALLOCATE_SPACE = 1u << 13,                /* Datastore.AllocateSpace */
    PRIV_TERMINATE_SESSION = 1u << 14,             /* Sessions.TerminateSession: operators may
                                                      get, cancel, fail and delete any update
                                                      session (not only their own) */
} privilege_t;

#define PRIV_NONE 0u
/* Not a privilege: marks a requirement that an operator (PRIV_TERMINATE_SESSION) satisfies
 * too (the owner rule lets operators list sessions). */
#define PRIV_OR_OPERATOR (1u << 31)
#define PRIV_ALL 0x7fffu

const char *privilege_name(privilege_t p); /* the vSphere id, NULL for a non-single bit */
/* Parses "System.Read,ContentLibrary.UpdateSession" or "*". Unknown ids are C_ERR (a typo in
 * the users file must not silently drop a privilege); the first bad id is copied to bad. */
int privileges_parse(const char *list, uint32_t *out, char *bad, size_t bad_size);

/* Whether a login holding `have` may run an operation needing `need` (all of need's
 * privileges; with PRIV_OR_OPERATOR, an operator qualifies too). The prelude's rule
 * (store/lua/prelude.lua), for requests authorized from the login cache. */
bool privileges_allow(uint32_t have, uint32_t need);
/* An operator may read, cancel, fail and delete any update session (the owner rule). */
bool privileges_operator(uint32_t have);

#endif
