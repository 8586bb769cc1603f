/* core/privilege.c: the table of vSphere privilege ids and their bits, and parsing of the
 * privilege list of a users-file line. */
#include "core/privilege.h"

#include <string.h>

static const struct {
    privilege_t bit;
    const char *name;
} PRIVILEGES[] = {
    {PRIV_SYSTEM_READ, "System.Read"},
    {PRIV_UPDATE_SESSION, "ContentLibrary.UpdateSession"},
    {PRIV_ADD_LIBRARY_ITEM, "ContentLibrary.AddLibraryItem"},
    {PRIV_CREATE_LOCAL_LIBRARY, "ContentLibrary.CreateLocalLibrary"},
    {PRIV_CREATE_SUBSCRIBED_LIBRARY, "ContentLibrary.CreateSubscribedLibrary"},
    {PRIV_DELETE_LOCAL_LIBRARY, "ContentLibrary.DeleteLocalLibrary"},
    {PRIV_DELETE_SUBSCRIBED_LIBRARY, "ContentLibrary.DeleteSubscribedLibrary"},
    {PRIV_DELETE_LIBRARY_ITEM, "ContentLibrary.DeleteLibraryItem"},
    {PRIV_UPDATE_LIBRARY_ITEM, "ContentLibrary.UpdateLibraryItem"},
    {PRIV_UPDATE_LOCAL_LIBRARY, "ContentLibrary.UpdateLocalLibrary"},
    {PRIV_READ_STORAGE, "ContentLibrary.ReadStorage"},
    {PRIV_SYNC_LIBRARY_ITEM, "ContentLibrary.SyncLibraryItem"},
    {PRIV_SYNC_LIBRARY, "ContentLibrary.SyncLibrary"},
    {PRIV_ALLOCATE_SPACE, "Datastore.AllocateSpace"},
    {PRIV_TERMINATE_SESSION, "Sessions.TerminateSession"},
};

/* Only single bits have a name: used to tell a client which privilege it lacks. */
const char *privilege_name(privilege_t p) {
    for (size_t i = 0; i < ARRAY_LEN(PRIVILEGES); i++)
        if (PRIVILEGES[i].bit == p) return PRIVILEGES[i].name;
    return NULL;
}

/* Bit of one privilege id given as n bytes (not NUL-terminated); 0 when unknown. */
static uint32_t lookup(const char *s, size_t n) {
    if (n == 1 && s[0] == '*') return PRIV_ALL;
    for (size_t i = 0; i < ARRAY_LEN(PRIVILEGES); i++)
        if (strlen(PRIVILEGES[i].name) == n && memcmp(PRIVILEGES[i].name, s, n) == 0)
            return (uint32_t)PRIVILEGES[i].bit;
    return 0;
}

static bool blank(char c) { return c == ' ' || c == '\t'; }

/* A list that is empty (or only blanks) grants nothing. Inside a non-empty list an empty
 * entry ("a,,b", trailing ',') is an error like an unknown id: both suggest a privilege the
 * author meant to grant and that would otherwise be silently missing. */
int privileges_parse(const char *list, uint32_t *out, char *bad, size_t bad_size) {
    uint32_t privs = PRIV_NONE;
    if (bad && bad_size) bad[0] = '\0';
    if (!list) list = "";
    const char *p = list;
    while (blank(*p)) p++;
    if (*p == '\0') {
        if (out) *out = PRIV_NONE;
        return C_OK;
    }
    for (;;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *s = p;
        while (n && blank(*s)) s++, n--;
        while (n && blank(s[n - 1])) n--;
        uint32_t bit = lookup(s, n);
        if (bit == 0) {
            if (bad && bad_size) {
                size_t k = n < bad_size - 1 ? n : bad_size - 1;
                memcpy(bad, s, k);
                bad[k] = '\0';
            }
            return C_ERR;
        }
        privs |= bit;
        if (!end) break;
        p = end + 1;
    }
    if (out) *out = privs;
    return C_OK;
}

bool privileges_allow(uint32_t have, uint32_t need) {
    uint32_t all = need & ~PRIV_OR_OPERATOR;
    if ((have & all) == all) return true;
    return (need & PRIV_OR_OPERATOR) && privileges_operator(have);
}

bool privileges_operator(uint32_t have) { return (have & PRIV_TERMINATE_SESSION) != 0; }
