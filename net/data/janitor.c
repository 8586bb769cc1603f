/* net/data/janitor.c: every instance's disk reclaimer (net/data/janitor.h). Two independent
 * jobs on the event loop, each driven by one timer event:
 *
 * The take. Every interval (+-25%, so instances do not poll in step) store_garbage_take hands
 * this instance up to TAKE_BATCH entries of P garbage (each entry goes to one janitor). Each is
 * checked (net/data/janitor_path.h: a malformed one is dropped, nothing is touched) and deleted
 * idempotently: a blob path unlinks <blob> and <blob>.part, a directory path is removed
 * recursively, then the item's staging directory goes too if that left it empty. ENOENT is
 * success: another janitor, the writer's own cleanup or an earlier crashed attempt was first.
 * At most DELETE_BUDGET unlinks per loop turn; a directory cut by the budget is taken up again
 * (what was deleted is gone from it, so that is progress). A full batch takes the next at once.
 * A batch taken and lost by a crash is the scan's to find.
 *
 * The scan. ~1 s after start and then every scan interval (+-25%) it walks
 * staging/<item>/<uuid>/<file> and items/<item>/<file>, SCAN_BUDGET directory entries per loop
 * turn (the open DIR*s are kept between turns). Regular files whose ctime is older than the
 * grace period are candidates, and so are the item and session directories it finished
 * reading; store_blobs_referenced answers for ASK_BATCH of them at a time (the walk waits
 * meanwhile), and those answered "0" are deleted: files unlinked (after checking their ctime
 * again), directories rmdir'ed (only if empty). An item's staging directory is rmdir'ed once its
 * sessions were looked at (ignoring ENOTEMPTY). A failed question (Redis away) is asked again
 * one take interval later. One log line per scan (net/log.h):
 *   ts=... level=info msg="storage scan done" files=N orphans=M ms=T
 *
 * Safety. Every path is opened one component at a time below the storage directory with
 * O_NOFOLLOW|O_DIRECTORY (openat/unlinkat relative to the parent's fd), so a symlink planted
 * anywhere under --storage-dir is never followed; the last component is unlinked, not
 * followed, whatever it is. Nothing outside staging/ and items/ is ever touched.
 *
 * Lifetime. A store call in flight holds the janitor: janitor_stop frees everything else at
 * once and the janitor itself when the last call is answered (store_free answers them all). */
#include "net/data/janitor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "net/data/fault.h"
#include "net/data/janitor_path.h"
#include "net/log.h"

#define TAKE_BATCH 100
#define KICK_COALESCE_MS 50 /* garbage made: taken this soon (together with what follows) */
#define DELETE_BUDGET 256 /* unlinks per loop turn */
#define SCAN_BUDGET 256   /* directory entries read per loop turn */
#define ASK_BATCH 200     /* paths per store_blobs_referenced */
#define CAND_MAX (ASK_BATCH + 64)
#define FIRST_SCAN_MS 1000
#define TREE_DEPTH_MAX 4  /* directories below a deleted directory (we make none) */
#define AGAIN 1           /* a step ran out of budget: call again next turn */

typedef enum { TAKE_IDLE, TAKE_ASKING, TAKE_DELETING } take_state_t;
typedef enum { SCAN_IDLE, SCAN_WALKING, SCAN_ASKING, SCAN_RETRY } scan_state_t;

typedef enum {
    CAND_FILE,  /* ask; "0": unlink (if still old enough) */
    CAND_DIR,   /* ask; "0": rmdir (only if empty) */
    CAND_RMDIR  /* staging/<item>: rmdir (only if empty), no question */
} cand_kind_t;

typedef struct {
    cand_kind_t kind;
    char *path;
} cand_t;

/* What the scan walks: <root>/<item>/<file> for items, <root>/<item>/<uuid>/<file> for
 * staging; `leaf` is the level whose entries are files (level 0 = the root directory). */
static const struct {
    const char *name;
    int leaf;
} ROOTS[] = {{"staging", 2}, {"items", 1}};
#define NROOTS ((int)(sizeof(ROOTS) / sizeof(ROOTS[0])))

struct janitor {
    struct event_base *base;
    store_t *store;
    char dir[PATH_MAX];
    int interval_ms;
    int64_t scan_interval_ms;
    int64_t grace_s;
    unsigned int seed;
    bool stopped;
    int pending; /* store calls not answered yet */
    janitor_stats_t stats;

    /* the take */
    struct event *take_ev;
    take_state_t take;
    bool kicked;
    bool kick_armed; /* a kick set take_ev to KICK_COALESCE_MS */
    char **batch;
    size_t nbatch, next;
    bool batch_full, first_done;

    /* the scan */
    struct event *scan_ev;
    scan_state_t scan;
    int root_fd;  /* the storage directory, while a scan runs */
    int root;     /* index in ROOTS */
    int depth;    /* open levels */
    struct {
        DIR *d;
        char name[JPATH_NAME_MAX + 1];
    } lv[3];
    bool walk_done;
    cand_t cand[CAND_MAX];
    size_t ncand;
    char *ask[ASK_BATCH];
    size_t nask;
    uint64_t files, orphans;
    int64_t t0_ms;
};

/* ---- small helpers ------------------------------------------------------------------------ */

static void arm(struct event *ev, int64_t ms) {
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    evtimer_add(ev, &tv);
}

/* ms +-25%, so instances started together do not hit Redis and the disk in step. */
static int64_t jitter(janitor_t *j, int64_t ms) {
    int64_t quarter = ms / 4;
    if (quarter <= 0) return ms;
    return ms - quarter + (int64_t)((uint64_t)rand_r(&j->seed) % (uint64_t)(2 * quarter + 1));
}

/* Logs an entry that came from Redis: at most 200 bytes, anything unprintable as '?'. */
static void log_entry(const char *what, const char *entry, int err) {
    char safe[201];
    size_t n = 0;
    for (; entry[n] && n < sizeof(safe) - 1; n++)
        safe[n] = entry[n] >= 0x20 && entry[n] < 0x7f ? entry[n] : '?';
    safe[n] = '\0';
    if (err)
        log_msg(LV_WARN, "janitor: %s \"%s\": %s", what, safe, strerror(err));
    else
        log_msg(LV_WARN, "janitor: %s \"%s\"", what, safe);
}

/* The directory names[0]/.../names[n-1] below root, opened one component at a time without
 * following symlinks (module comment). A new fd, or -1 with errno. */
static int open_below(int root, const char *const *names, int n) {
    int fd = fcntl(root, F_DUPFD_CLOEXEC, 0);
    for (int i = 0; fd >= 0 && i < n; i++) {
        int next = openat(fd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int err = errno;
        close(fd);
        errno = err;
        fd = next;
    }
    return fd;
}

/* rmdir of names[0]/.../names[n-1]; errors (not empty, gone, ...) are the caller's to ignore. */
static int rmdir_below(int root, const char *const *names, int n) {
    int parent = open_below(root, names, n - 1);
    if (parent < 0) return C_ERR;
    int rc = unlinkat(parent, names[n - 1], AT_REMOVEDIR) == 0 ? C_OK : C_ERR;
    int err = errno;
    close(parent);
    errno = err;
    return rc;
}

static void path_names(const jpath_t *p, const char **names) {
    for (int i = 0; i < p->depth; i++) names[i] = p->comp[i];
}

/* Removes directory `name` in parent and everything below it, spending one unit of *budget per
 * entry. C_OK (also when it was gone), AGAIN (budget spent; call again: what was deleted is
 * gone), C_ERR with errno (the first entry that could not go; we give up on this tree rather
 * than read it again and again). A symlink or file where the directory should be is unlinked
 * itself, never followed. */
static int remove_tree(int parent, const char *name, int depth, int *budget) {
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return C_OK;
        if (errno != ENOTDIR && errno != ELOOP) return C_ERR;
        return unlinkat(parent, name, 0) == 0 || errno == ENOENT ? C_OK : C_ERR;
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        int err = errno;
        close(fd);
        errno = err;
        return C_ERR;
    }
    int rc = C_OK, err = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (*budget <= 0) {
            rc = AGAIN;
            break;
        }
        (*budget)--;
        if (unlinkat(dirfd(d), e->d_name, 0) == 0 || errno == ENOENT) continue;
        if ((errno == EISDIR || errno == EPERM) && depth < TREE_DEPTH_MAX) {
            rc = remove_tree(dirfd(d), e->d_name, depth + 1, budget);
            if (rc == C_OK) continue;
        }
        if (rc != AGAIN) rc = C_ERR;
        err = errno;
        break;
    }
    closedir(d);
    if (rc == C_OK && unlinkat(parent, name, AT_REMOVEDIR) != 0 && errno != ENOENT) {
        rc = C_ERR;
        err = errno;
    }
    errno = err;
    return rc;
}

static int unlink_quiet(int dirfd_, const char *name) {
    return unlinkat(dirfd_, name, 0) == 0 || errno == ENOENT ? C_OK : C_ERR;
}

/* ---- the take ------------------------------------------------------------------------------ */

/* A call came back: false when the janitor was stopped meanwhile (then it is freed with its
 * last call, and the caller must not touch it). */
static bool answered(janitor_t *j) {
    j->pending--;
    if (!j->stopped) return true;
    if (j->pending == 0) free(j);
    return false;
}

/* Deletes one garbage entry (module comment). C_OK when done with it, whatever happened to it
 * (the outcome is counted and, unless success, logged); AGAIN when the budget ran out. */
static int delete_entry(janitor_t *j, int root, const char *entry, int *budget) {
    jpath_t p;
    const char *names[JPATH_DEPTH_MAX];
    if (jpath_parse(entry, &p) == JPATH_BAD) {
        j->stats.dropped++;
        log_entry("dropped malformed garbage entry", entry, 0);
        return C_OK;
    }
    path_names(&p, names);
    int rc, parent = open_below(root, names, p.depth - 1);
    if (parent < 0) {
        rc = errno == ENOENT ? C_OK : C_ERR;
    } else if (jpath_is_dir(p.kind)) {
        rc = remove_tree(parent, names[p.depth - 1], 0, budget);
    } else {
        char part[JPATH_NAME_MAX + sizeof(".part")];
        snprintf(part, sizeof(part), "%s.part", names[p.depth - 1]);
        (*budget)--;
        rc = unlink_quiet(parent, names[p.depth - 1]);
        int err = errno;
        if (unlink_quiet(parent, part) != C_OK) {
            rc = C_ERR;
            err = errno;
        }
        errno = err;
    }
    int err = errno;
    if (parent >= 0) close(parent);
    if (rc == AGAIN) return AGAIN;
    if (rc != C_OK) {
        j->stats.failed++;
        log_entry("cannot delete", entry, err);
        return C_OK;
    }
    j->stats.deleted++;
    /* The item's staging directory, once its last session's directory went. */
    if (p.kind == JPATH_STAGING_DIR) rmdir_below(root, names, 2);
    return C_OK;
}

static void free_batch(janitor_t *j) {
    for (size_t i = 0; i < j->nbatch; i++) free(j->batch[i]);
    free(j->batch);
    j->batch = NULL;
    j->nbatch = j->next = 0;
}

/* One loop turn of deletions (at most DELETE_BUDGET unlinks), then the next turn, the next take
 * (at once after a full batch or a kick) or the interval. */
static void delete_step(janitor_t *j) {
    int budget = DELETE_BUDGET;
    int root = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) { /* the storage is away (NFS?): keep the batch, try again later */
        log_msg(LV_WARN, "janitor: cannot open %s: %s", j->dir, strerror(errno));
        arm(j->take_ev, jitter(j, j->interval_ms));
        return;
    }
    while (j->next < j->nbatch && budget > 0) {
        if (delete_entry(j, root, j->batch[j->next], &budget) == AGAIN) break;
        free(j->batch[j->next]);
        j->batch[j->next++] = NULL;
        if (!j->first_done) {
            j->first_done = true;
            FAULT_POINT("in_janitor");
        }
    }
    close(root);
    if (j->next < j->nbatch) {
        arm(j->take_ev, 0);
        return;
    }
    free_batch(j);
    j->take = TAKE_IDLE;
    bool again = j->batch_full || j->kicked;
    j->kicked = false;
    arm(j->take_ev, again ? 0 : jitter(j, j->interval_ms));
}

static void on_taken(void *arg, store_status_t st, char *const *ids, size_t n) {
    janitor_t *j = arg;
    if (!answered(j)) return;
    j->take = TAKE_IDLE;
    if (st == ST_OK) j->stats.takes++;
    if (st != ST_OK || n == 0) { /* Redis away (retry next interval) or nothing to do */
        bool again = st == ST_OK && j->kicked;
        j->kicked = false;
        arm(j->take_ev, again ? 0 : jitter(j, j->interval_ms));
        return;
    }
    j->stats.entries += n;
    j->batch = calloc(n, sizeof(char *));
    for (size_t i = 0; j->batch && i < n; i++) {
        j->nbatch = i + 1;
        if ((j->batch[i] = strdup(ids[i])) == NULL) free_batch(j);
    }
    if (!j->batch) { /* out of memory: the entries are lost to us; the scan finds them */
        log_msg(LV_WARN, "janitor: out of memory for %zu garbage entries", n);
        arm(j->take_ev, jitter(j, j->interval_ms));
        return;
    }
    j->next = 0;
    j->batch_full = n >= TAKE_BATCH;
    j->first_done = false;
    j->take = TAKE_DELETING;
    FAULT_POINT("before_unlink");
    delete_step(j);
}

static void on_take_ev(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    janitor_t *j = arg;
    j->kick_armed = false;
    if (j->take == TAKE_DELETING) {
        delete_step(j);
    } else if (j->take == TAKE_IDLE) {
        j->take = TAKE_ASKING;
        j->kicked = false;
        j->pending++;
        store_garbage_take(j->store, TAKE_BATCH, on_taken, j);
    }
}

/* Garbage was made: take it soon, not at once, so that under load the garbage of many ends
 * (each cancel leaves a staging directory) goes in one take instead of one script each. */
void janitor_kick(janitor_t *j) {
    if (!j || j->stopped) return;
    if (j->take != TAKE_IDLE) {
        j->kicked = true;
    } else if (!j->kick_armed) {
        j->kick_armed = true;
        arm(j->take_ev, KICK_COALESCE_MS);
    }
}

/* ---- the scan ------------------------------------------------------------------------------ */

/* The path of level `upto` (1..depth-1) of the walk, plus `leaf` when not NULL; NULL when out
 * of memory. */
static char *walk_path(const janitor_t *j, int upto, const char *leaf) {
    char buf[(JPATH_NAME_MAX + 1) * (JPATH_DEPTH_MAX + 1)];
    int n = snprintf(buf, sizeof(buf), "%s", ROOTS[j->root].name);
    for (int i = 1; i <= upto; i++)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "/%s", j->lv[i].name);
    if (leaf) snprintf(buf + n, sizeof(buf) - (size_t)n, "/%s", leaf);
    return strdup(buf);
}

static void add_cand(janitor_t *j, cand_kind_t kind, char *path) {
    if (!path) return; /* out of memory: this one waits for the next scan */
    j->cand[j->ncand].kind = kind;
    j->cand[j->ncand++].path = path;
    if (kind != CAND_RMDIR) j->ask[j->nask++] = path;
}

static void free_cands(janitor_t *j) {
    for (size_t i = 0; i < j->ncand; i++) free(j->cand[i].path);
    j->ncand = j->nask = 0;
}

/* Opens directory `name` in parent as the next level; false if it is not a directory we may
 * enter (a file, a symlink, gone). */
static bool push_level(janitor_t *j, int parent, const char *name) {
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP)
            log_msg(LV_WARN, "janitor: scan cannot open %s/.../%s: %s", ROOTS[j->root].name,
                    name, strerror(errno));
        return false;
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return false;
    }
    j->lv[j->depth].d = d;
    snprintf(j->lv[j->depth].name, sizeof(j->lv[j->depth].name), "%s", name);
    j->depth++;
    return true;
}

/* A level was read to its end: an item or session directory becomes a candidate (its files'
 * candidates come before it, so they are deleted first). */
static void pop_level(janitor_t *j) {
    int l = --j->depth;
    closedir(j->lv[l].d);
    j->lv[l].d = NULL;
    if (l == 0) {
        j->root++;
    } else if (l == ROOTS[j->root].leaf) {
        add_cand(j, CAND_DIR, walk_path(j, l, NULL));
    } else {
        add_cand(j, CAND_RMDIR, walk_path(j, l, NULL)); /* staging/<item> */
    }
}

static void look_at_file(janitor_t *j, DIR *d, const char *name, time_t now) {
    struct stat st;
    if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) return;
    j->files++;
    if ((int64_t)(now - st.st_ctime) < j->grace_s) return;
    add_cand(j, CAND_FILE, walk_path(j, j->depth - 1, name));
}

/* Reads at most `budget` directory entries, stopping early when a question's worth of
 * candidates was collected or the walk is over. */
static void walk(janitor_t *j, int budget) {
    time_t now = time(NULL);
    while (budget > 0 && j->nask < ASK_BATCH && j->ncand < CAND_MAX) {
        if (j->depth == 0) {
            if (j->root == NROOTS) {
                j->walk_done = true;
                return;
            }
            if (!push_level(j, j->root_fd, ROOTS[j->root].name)) j->root++;
            continue;
        }
        DIR *d = j->lv[j->depth - 1].d;
        struct dirent *e = readdir(d);
        budget--;
        if (!e) {
            pop_level(j);
            continue;
        }
        if (!jpath_name_ok(e->d_name, strlen(e->d_name))) continue; /* ".", "..", not ours */
        if (j->depth - 1 == ROOTS[j->root].leaf)
            look_at_file(j, d, e->d_name, now);
        else
            push_level(j, dirfd(d), e->d_name);
    }
}

/* Deletes an orphan file the store called unreferenced, if it is still an old enough regular
 * file (it could have been replaced by a new one of the same name only by someone else). */
static void delete_orphan(janitor_t *j, const char *path, time_t now) {
    jpath_t p;
    const char *names[JPATH_DEPTH_MAX];
    if (jpath_parse(path, &p) == JPATH_BAD || jpath_is_dir(p.kind)) return;
    path_names(&p, names);
    int parent = open_below(j->root_fd, names, p.depth - 1);
    if (parent < 0) return;
    struct stat st;
    const char *name = names[p.depth - 1];
    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
        (int64_t)(now - st.st_ctime) >= j->grace_s) {
        if (unlinkat(parent, name, 0) == 0)
            j->orphans++;
        else if (errno != ENOENT)
            log_entry("scan cannot delete", path, errno);
    }
    close(parent);
}

/* Acts on a batch's answers (ids[k] for the k-th asked candidate; NULL when nothing was
 * asked), in the order the walk found them. */
static void apply(janitor_t *j, char *const *ids) {
    time_t now = time(NULL);
    size_t k = 0;
    for (size_t i = 0; i < j->ncand; i++) {
        cand_t *c = &j->cand[i];
        bool orphan = c->kind == CAND_RMDIR || strcmp(ids[k++], "0") == 0;
        if (!orphan) continue;
        if (c->kind == CAND_FILE) {
            delete_orphan(j, c->path, now);
        } else {
            jpath_t p;
            const char *names[JPATH_DEPTH_MAX];
            /* staging/<item> is not a garbage form: split it by hand (the walk checked it). */
            if (c->kind == CAND_RMDIR) {
                names[0] = ROOTS[0].name;
                names[1] = c->path + strlen(ROOTS[0].name) + 1;
                rmdir_below(j->root_fd, names, 2);
            } else if (jpath_parse(c->path, &p) != JPATH_BAD) {
                path_names(&p, names);
                rmdir_below(j->root_fd, names, p.depth);
            }
        }
    }
    free_cands(j);
}

static void scan_finish(janitor_t *j) {
    int64_t ms = mono_ms() - j->t0_ms;
    close(j->root_fd);
    j->root_fd = -1;
    j->stats.scans++;
    j->stats.orphans += j->orphans;
    j->stats.last_files = j->files;
    j->stats.last_orphans = j->orphans;
    j->stats.last_scan_ms = ms;
    char files[24], orphans[24], took[24];
    snprintf(files, sizeof(files), "%llu", (unsigned long long)j->files);
    snprintf(orphans, sizeof(orphans), "%llu", (unsigned long long)j->orphans);
    snprintf(took, sizeof(took), "%lld", (long long)ms);
    log_kv(LV_INFO, "storage scan done", "files", files, "orphans", orphans, "ms", took,
           (const char *)NULL);
    j->scan = SCAN_IDLE;
    arm(j->scan_ev, jitter(j, j->scan_interval_ms));
}

/* After a batch was acted on: walk on next turn, or the scan is over. */
static void after_batch(janitor_t *j) {
    if (j->walk_done) {
        scan_finish(j);
        return;
    }
    j->scan = SCAN_WALKING;
    arm(j->scan_ev, 0);
}

static void on_referenced(void *arg, store_status_t st, char *const *ids, size_t n) {
    janitor_t *j = arg;
    if (!answered(j)) return;
    if (st != ST_OK || n != j->nask) {
        if (st == ST_OK)
            log_msg(LV_WARN, "janitor: scan got %zu answers for %zu paths", n, j->nask);
        j->scan = SCAN_RETRY; /* the same question, one take interval later */
        arm(j->scan_ev, jitter(j, j->interval_ms));
        return;
    }
    apply(j, ids);
    after_batch(j);
}

/* Asks about the candidates collected (or acts at once when there is nothing to ask). */
static void ask(janitor_t *j) {
    if (j->nask == 0) {
        apply(j, NULL);
        after_batch(j);
        return;
    }
    j->scan = SCAN_ASKING;
    j->pending++;
    store_blobs_referenced(j->store, j->ask, j->nask, on_referenced, j);
}

static bool scan_begin(janitor_t *j) {
    j->root_fd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (j->root_fd < 0) {
        log_msg(LV_WARN, "janitor: scan cannot open %s: %s", j->dir, strerror(errno));
        return false;
    }
    j->t0_ms = mono_ms();
    j->files = j->orphans = 0;
    j->root = j->depth = 0;
    j->walk_done = false;
    j->scan = SCAN_WALKING;
    return true;
}

static void on_scan_ev(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    janitor_t *j = arg;
    switch (j->scan) {
    case SCAN_IDLE:
        if (!scan_begin(j)) {
            arm(j->scan_ev, jitter(j, j->scan_interval_ms));
            return;
        }
        /* fall through */
    case SCAN_WALKING:
        walk(j, SCAN_BUDGET);
        if (j->walk_done || j->nask >= ASK_BATCH || j->ncand >= CAND_MAX)
            ask(j);
        else
            arm(j->scan_ev, 0);
        return;
    case SCAN_RETRY:
        ask(j);
        return;
    case SCAN_ASKING:
        return;
    }
}

/* ---- start, stop ---------------------------------------------------------------------------- */

janitor_t *janitor_start(struct event_base *base, store_t *store, const char *storage_dir,
                         int interval_ms, int64_t scan_interval_s, int64_t grace_s) {
    janitor_t *j = calloc(1, sizeof(*j));
    if (!j) return NULL;
    j->base = base;
    j->store = store;
    j->root_fd = -1;
    j->interval_ms = interval_ms > 0 ? interval_ms : 1000;
    j->scan_interval_ms = (scan_interval_s > 0 ? scan_interval_s : 3600) * 1000;
    j->grace_s = grace_s > 0 ? grace_s : 0;
    j->seed = (unsigned int)getpid() ^ (unsigned int)(uintptr_t)j;
    if (copy_str(j->dir, sizeof(j->dir), storage_dir) != C_OK ||
        !(j->take_ev = evtimer_new(base, on_take_ev, j)) ||
        !(j->scan_ev = evtimer_new(base, on_scan_ev, j))) {
        if (j->take_ev) event_free(j->take_ev);
        free(j);
        return NULL;
    }
    arm(j->take_ev, jitter(j, j->interval_ms));
    arm(j->scan_ev, FIRST_SCAN_MS);
    return j;
}

void janitor_stop(janitor_t *j) {
    if (!j) return;
    log_msg(LV_INFO,
            "janitor stopped: entries=%llu deleted=%llu dropped=%llu failed=%llu scans=%llu "
            "orphans=%llu",
            (unsigned long long)j->stats.entries, (unsigned long long)j->stats.deleted,
            (unsigned long long)j->stats.dropped, (unsigned long long)j->stats.failed,
            (unsigned long long)j->stats.scans, (unsigned long long)j->stats.orphans);
    j->stopped = true;
    event_free(j->take_ev);
    event_free(j->scan_ev);
    free_batch(j);
    free_cands(j);
    while (j->depth > 0) closedir(j->lv[--j->depth].d);
    if (j->root_fd >= 0) close(j->root_fd);
    if (j->pending == 0) free(j);
}

void janitor_stats(const janitor_t *j, janitor_stats_t *out) {
    if (j)
        *out = j->stats;
    else
        memset(out, 0, sizeof(*out));
}
