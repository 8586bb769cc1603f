/* net/data/janitor_path.c: the janitor's path check (net/data/janitor_path.h). */
#include "net/data/janitor_path.h"

#include <string.h>

static bool name_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == ':' || c == '-';
}

bool jpath_name_ok(const char *s, size_t len) {
    if (!s || len == 0 || len > JPATH_NAME_MAX || s[0] == '.') return false;
    for (size_t i = 0; i < len; i++)
        if (!name_char(s[i])) return false;
    return true;
}

bool jpath_is_dir(jpath_kind_t k) { return k == JPATH_STAGING_DIR || k == JPATH_ITEM_DIR; }

/* Splits at '/', every component checked, then decides the form from the first component and
 * the depth: staging has 3 or 4 components, items 2 or 3. */
jpath_kind_t jpath_parse(const char *s, jpath_t *p) {
    memset(p, 0, sizeof(*p));
    p->kind = JPATH_BAD;
    if (!s) return JPATH_BAD;
    for (const char *c = s;;) {
        const char *slash = strchr(c, '/');
        size_t len = slash ? (size_t)(slash - c) : strlen(c);
        if (p->depth == JPATH_DEPTH_MAX || !jpath_name_ok(c, len)) {
            p->depth = 0;
            return JPATH_BAD;
        }
        memcpy(p->comp[p->depth], c, len);
        p->comp[p->depth++][len] = '\0';
        if (!slash) break;
        c = slash + 1;
    }
    jpath_kind_t k = JPATH_BAD;
    if (strcmp(p->comp[0], "staging") == 0)
        k = p->depth == 3 ? JPATH_STAGING_DIR : p->depth == 4 ? JPATH_STAGING_BLOB : JPATH_BAD;
    else if (strcmp(p->comp[0], "items") == 0)
        k = p->depth == 2 ? JPATH_ITEM_DIR : p->depth == 3 ? JPATH_ITEM_BLOB : JPATH_BAD;
    p->kind = k;
    return k;
}
