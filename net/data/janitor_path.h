/* net/data/janitor_path.h: what the janitor accepts as a path below --storage-dir. Pure (no
 * I/O), so it is unit-tested on its own (tests/unit/test_janitor_path.c).
 *
 * A garbage entry is one of the four forms of store/store.h ("Garbage"):
 *   staging/<item>/<uuid>          JPATH_STAGING_DIR   a session's staging directory
 *   staging/<item>/<uuid>/<blob>   JPATH_STAGING_BLOB  one staged blob (and <blob>.part)
 *   items/<item>                   JPATH_ITEM_DIR      a deleted item's directory
 *   items/<item>/<blob>            JPATH_ITEM_BLOB     one published blob
 * Every component is checked strictly: non-empty, at most JPATH_NAME_MAX bytes, only
 * [A-Za-z0-9._:-], not starting with '.' (so never "." or ".." or a hidden name); no empty
 * component (no leading, trailing or doubled '/'). Anything else is JPATH_BAD: the janitor
 * drops it without touching the disk. */
#ifndef NET_DATA_JANITOR_PATH_H
#define NET_DATA_JANITOR_PATH_H

#include <stdbool.h>
#include <stddef.h>

#define JPATH_NAME_MAX 200 /* ids are < 128 bytes, blobs 36 (+ ".part") */
#define JPATH_DEPTH_MAX 4

typedef enum {
    JPATH_BAD,
    JPATH_STAGING_DIR,
    JPATH_STAGING_BLOB,
    JPATH_ITEM_DIR,
    JPATH_ITEM_BLOB
} jpath_kind_t;

typedef struct {
    jpath_kind_t kind;
    int depth; /* number of components */
    char comp[JPATH_DEPTH_MAX][JPATH_NAME_MAX + 1];
} jpath_t;

/* One component as above (len bytes of s). */
bool jpath_name_ok(const char *s, size_t len);
/* Parses s into p; returns p->kind (JPATH_BAD for anything that is not one of the forms). */
jpath_kind_t jpath_parse(const char *s, jpath_t *p);
/* True for the kinds that name a directory to delete recursively. */
bool jpath_is_dir(jpath_kind_t k);

#endif
