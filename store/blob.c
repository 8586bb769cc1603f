/* store/blob.c: file content on disk under --storage-dir (layout in store/blob.h), and the
 * streaming writer that hashes as bytes arrive.
 *
 * Paths are built only from ids the server made (item id, session uuid, blob uuid); callers
 * validated them, but every component is checked again here: non-empty, no '/', no leading '.'
 * (so never "." or ".." and never a hidden name), so a bad id can only fail, never escape
 * <dir>.
 *
 * Durability. Bytes of a .part file are made durable in steps: an upload's disk thread
 * (net/data/sink.c) calls blob_writer_sync() (fdatasync) when a heartbeat asks, and the next
 * heartbeat reports the synced length as the durable prefix (`staged`) a resume continues from
 * (a PULL syncs before each heartbeat, on the loop); what was written after the last sync may
 * be lost by a crash and is truncated away by blob_writer_resume(). A sync per heartbeat
 * (about once a second) costs little because the writeback pacing below keeps at most ~3
 * windows dirty. blob_writer_finish() syncs the finished file once, renames it, and syncs the
 * session's staging directory, so a blob reported READY survives a crash. blob_publish() syncs
 * the item directory after the link (and its parents when it had to create them), so the
 * published name is on disk before the caller switches the item's file list to it in Redis.
 *
 * That one fsync of a whole file would stall the event loop for as long as the disk needs to
 * write all of its dirty pages: measured here (ext4 under gVisor) ~0.55 s for 1 GiB, and on a
 * 100 MB/s disk it would be ~10 s. So the writer starts writeback of every WB_WINDOW bytes as
 * soon as they are written (sync_file_range WRITE, asynchronous) and waits for the window two
 * behind it (WAIT_BEFORE|WRITE|WAIT_AFTER): at most ~3 windows are ever dirty, the wait is
 * spread over the transfer (max ~10-20 ms per window measured; when the disk is slower than the
 * network it paces the socket reads, i.e. TCP backpressure), and the final fsync measured
 * ~6 ms for 1 GiB. This is writeback scheduling, not durability (no metadata, no cache flush);
 * the fsync at the end is still what makes the file durable. The window just waited for is
 * clean, and nothing here reads it again (a resume re-reads its prefix once): it is dropped
 * from the page cache (POSIX_FADV_DONTNEED), so a 1 GiB upload does not push 1 GiB of other
 * files' pages (Redis's, other uploads' unsynced windows) out of memory.
 *
 * One writer per blob: every writer holds an OFD write lock (fcntl F_OFD_SETLK, whole file) on
 * its .part for as long as it is open, so two writers on one host (a mover that has not noticed
 * it lost its lease, and a resume) can never interleave; over NFS the lock is the server's.
 * The lock goes with the descriptor (closed, or the process died).
 *
 * Resuming re-hashes the durable prefix (blob_writer_rehash, in slices the caller spreads over
 * loop turns) instead of saving the digest state: OpenSSL 3 offers no portable export of an
 * EVP_MD_CTX, and re-reading runs at hashing speed. Measured (tests/unit/test_blob.c with
 * USD_REHASH_MIB=512, release build, this box under gVisor): a 512 MiB prefix (a 1 GiB file
 * cut at 50%) re-hashes in 0.33 s (SHA-1) / 0.36 s (SHA-256) of CPU from the page cache, 0.4-0.6
 * s after dropping it; MD5 and SHA-512 take about twice that. In 4 MiB slices that is 3-6 ms
 * of loop time per turn, 128 turns.
 *
 * Directories are created with mode 0777 and files with 0666, both reduced by the process
 * umask (the operator's choice). Everything here is synchronous file-system work on the calling
 * thread: the event loop for opening, re-hashing, the end (finish, suspend, abort) and a PULL's
 * writes; an upload's disk thread for its writes, their writeback pacing and its syncs (one
 * thread at a time per writer: net/data/sink.h). */
#include "store/blob.h"
#include "store/redis.h" /* store_log */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <openssl/evp.h>

#define PART_SUFFIX ".part"
#define WB_WINDOW (8 * 1024 * 1024)
#define MKDIR_RETRIES 3
#define REHASH_READ (1024 * 1024) /* one pread of the prefix */

struct blob_writer {
    int fd;
    bool failed;        /* a write failed: finish refuses */
    bool hash_failed;   /* a digest update failed (its own flag: blob_writer_hash may run on
                         * another thread than blob_writer_put, each touching its own fields) */
    EVP_MD_CTX *md;
    int64_t bytes;
    int64_t synced;     /* bytes made durable by the last successful sync */
    int64_t wb_next;    /* writeback started for [0, wb_next) */
    int64_t hashed;     /* bytes fed to the digest (a resume: its prefix first); == bytes when done */
    char *rehash_buf;   /* resume: REHASH_READ bytes while re-hashing */
    char dir[PATH_MAX];   /* <dir>/staging/<item>/<uuid> */
    char part[PATH_MAX];  /* .../<blob>.part */
    char final[PATH_MAX]; /* .../<blob> */
};

/* ---- paths ------------------------------------------------------------------------------ */

/* One path component we made: non-empty, no '/', not starting with '.', fits a file name. */
static bool component_ok(const char *s, size_t len)
{
    if (len == 0 || len > 255 || s[0] == '.')
        return false;
    return memchr(s, '/', len) == NULL;
}

/* Splits "<item id>:<uuid>" at the last ':' into item and uuid. */
static int split_session(const char *session_id, char *item, size_t item_size, char *uuid,
                         size_t uuid_size)
{
    if (!session_id)
        return C_ERR;
    const char *colon = strrchr(session_id, ':');
    if (!colon)
        return C_ERR;
    size_t ilen = (size_t)(colon - session_id);
    size_t ulen = strlen(colon + 1);
    if (!component_ok(session_id, ilen) || !component_ok(colon + 1, ulen) || ilen >= item_size ||
        ulen >= uuid_size)
        return C_ERR;
    memcpy(item, session_id, ilen);
    item[ilen] = '\0';
    memcpy(uuid, colon + 1, ulen + 1);
    return C_OK;
}

static bool name_ok(const char *s) { return s && component_ok(s, strlen(s)); }

/* snprintf into a path buffer; ENAMETOOLONG if it does not fit. */
static int path_fmt(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int path_fmt(char *out, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size) {
        errno = ENAMETOOLONG;
        return C_ERR;
    }
    return C_OK;
}

/* The session's staging directory; EINVAL for an id that is not ours. */
static int staging_dir(const char *storage_dir, const char *session_id, char *out, size_t size,
                       char *item_dir, size_t item_dir_size)
{
    char item[SESSION_ID_MAX], uuid[SESSION_ID_MAX];
    if (!storage_dir || split_session(session_id, item, sizeof item, uuid, sizeof uuid) != C_OK) {
        errno = EINVAL;
        return C_ERR;
    }
    if (item_dir && path_fmt(item_dir, item_dir_size, "%s/staging/%s", storage_dir, item) != C_OK)
        return C_ERR;
    return path_fmt(out, size, "%s/staging/%s/%s", storage_dir, item, uuid);
}

/* mkdir -p. *created is set when at least one directory was made. errno kept on failure. */
static int mkdir_p(const char *path, bool *created)
{
    char tmp[PATH_MAX];
    if (path_fmt(tmp, sizeof tmp, "%s", path) != C_OK)
        return C_ERR;
    for (char *s = tmp + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(tmp, 0777) == 0) {
            if (created)
                *created = true;
        } else if (errno != EEXIST) {
            return C_ERR;
        }
        if (c == '\0')
            break;
        *s = c;
    }
    return C_OK;
}

static int fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return C_ERR;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc == 0 ? C_OK : C_ERR;
}

/* The part of a path below the storage directory, for messages: clients see where in the store
 * a problem is, not where the store is. */
static const char *relative(const char *storage_dir, const char *path)
{
    size_t n = strlen(storage_dir);
    if (strncmp(path, storage_dir, n) == 0 && path[n] == '/')
        return path + n + 1;
    return path;
}

static vapi_error_t errno_type(int err)
{
    return (err == ENOSPC || err == EDQUOT) ? VAPI_UNABLE_TO_ALLOCATE_RESOURCE
                                            : VAPI_INTERNAL_SERVER_ERROR;
}

static const EVP_MD *digest_of(checksum_alg_t alg)
{
    switch (alg) {
    case CHECKSUM_SHA1: return EVP_sha1();
    case CHECKSUM_MD5: return EVP_md5();
    case CHECKSUM_SHA256: return EVP_sha256();
    case CHECKSUM_SHA512: return EVP_sha512();
    default: return NULL;
    }
}

static void writer_free(blob_writer_t *w)
{
    if (w->fd >= 0)
        close(w->fd);
    EVP_MD_CTX_free(w->md);
    free(w->rehash_buf);
    free(w);
}

/* The writer's lock: an OFD write lock on the whole file, never waiting. */
static int lock_part(int fd)
{
    struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    return fcntl(fd, F_OFD_SETLK, &l) == 0 ? C_OK : C_ERR;
}

/* ---- writer ----------------------------------------------------------------------------- */

/* A writer with its paths and digest set up, no file open yet. */
static blob_writer_t *writer_new(const char *storage_dir, const char *session_id, const char *blob,
                                 checksum_alg_t alg, vapi_failure_t *f)
{
    const EVP_MD *md = digest_of(alg);
    if (!md) {
        vapi_fail(f, VAPI_INTERNAL_SERVER_ERROR, "storage_bad_algorithm",
                  "Unknown checksum algorithm.", NULL);
        return NULL;
    }
    blob_writer_t *w = calloc(1, sizeof *w);
    if (!w) {
        vapi_fail(f, VAPI_UNABLE_TO_ALLOCATE_RESOURCE, "storage_no_memory", "Out of memory.", NULL);
        return NULL;
    }
    w->fd = -1;
    if (!name_ok(blob) || staging_dir(storage_dir, session_id, w->dir, sizeof w->dir, NULL, 0) ||
        path_fmt(w->part, sizeof w->part, "%s/%s" PART_SUFFIX, w->dir, blob) ||
        path_fmt(w->final, sizeof w->final, "%s/%s", w->dir, blob)) {
        int err = errno == ENAMETOOLONG ? ENAMETOOLONG : EINVAL;
        vapi_fail(f, VAPI_INTERNAL_SERVER_ERROR, "storage_bad_path",
                  "Cannot make a storage path for session {0}: {1}.", session_id ? session_id : "",
                  strerror(err), NULL);
        free(w);
        return NULL;
    }
    w->md = EVP_MD_CTX_new();
    if (!w->md || EVP_DigestInit_ex(w->md, md, NULL) != 1) {
        vapi_fail(f, VAPI_INTERNAL_SERVER_ERROR, "storage_digest_failed",
                  "Cannot start the checksum of {0}.", relative(storage_dir, w->part), NULL);
        EVP_MD_CTX_free(w->md);
        free(w);
        return NULL;
    }
    return w;
}

/* open(2) of the .part, making the directories when they are missing. Usually the directory
 * exists (second file of a session) and one open() is all; a janitor removing an empty
 * directory between our mkdir and open makes us start again. */
static int open_part(blob_writer_t *w, int flags)
{
    int fd = -1;
    for (int attempt = 0; attempt <= MKDIR_RETRIES; attempt++) {
        fd = open(w->part, flags | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != ENOENT || !(flags & O_CREAT) || attempt == MKDIR_RETRIES)
            break;
        if (mkdir_p(w->dir, NULL) != C_OK && errno != ENOENT)
            break;
    }
    return fd;
}

blob_writer_t *blob_writer_open(const char *storage_dir, const char *session_id, const char *blob,
                                checksum_alg_t alg, vapi_failure_t *f)
{
    blob_writer_t *w = writer_new(storage_dir, session_id, blob, alg, f);
    if (!w)
        return NULL;
    w->fd = open_part(w, O_CREAT | O_EXCL | O_WRONLY);
    if (w->fd < 0 || lock_part(w->fd) != C_OK) {
        int err = errno;
        vapi_fail(f, errno_type(err), "storage_create_failed",
                  "Cannot create the file {0} in the storage directory: {1}.",
                  relative(storage_dir, w->part), strerror(err), NULL);
        if (w->fd >= 0)
            blob_writer_abort(w);
        else
            writer_free(w);
        return NULL;
    }
    return w;
}

blob_resume_t blob_writer_resume(const char *storage_dir, const char *session_id,
                                 const char *blob, checksum_alg_t alg, int64_t staged,
                                 blob_writer_t **out, int64_t *have, vapi_failure_t *f)
{
    *out = NULL;
    *have = 0;
    blob_writer_t *w = writer_new(storage_dir, session_id, blob, alg, f);
    if (!w)
        return BLOB_RESUME_ERROR;
    w->fd = open_part(w, O_RDWR | (staged == 0 ? O_CREAT : 0));
    if (w->fd < 0) {
        int err = errno;
        if (err == ENOENT) {
            writer_free(w);
            return BLOB_RESUME_MISSING;
        }
        vapi_fail(f, errno_type(err), "storage_open_failed",
                  "Cannot open the file {0} in the storage directory: {1}.",
                  relative(storage_dir, w->part), strerror(err), NULL);
        writer_free(w);
        return BLOB_RESUME_ERROR;
    }
    if (lock_part(w->fd) != C_OK) {
        int err = errno;
        blob_resume_t r = BLOB_RESUME_LOCKED;
        if (err != EAGAIN && err != EACCES) {
            vapi_fail(f, VAPI_INTERNAL_SERVER_ERROR, "storage_lock_failed",
                      "Cannot lock the file {0} in the storage directory: {1}.",
                      relative(storage_dir, w->part), strerror(err), NULL);
            r = BLOB_RESUME_ERROR;
        }
        writer_free(w);
        return r;
    }
    struct stat st;
    int err = 0;
    if (fstat(w->fd, &st) != 0)
        err = errno;
    else if (st.st_size < staged) {
        /* Report only what is on disk: sync it before it is recorded as the prefix. */
        *have = fdatasync(w->fd) == 0 ? (int64_t)st.st_size : 0;
        writer_free(w);
        return BLOB_RESUME_SHORT;
    } else if (st.st_size > staged && ftruncate(w->fd, staged) != 0)
        err = errno;
    else if (lseek(w->fd, staged, SEEK_SET) != staged)
        err = errno ? errno : EIO;
    if (err) {
        vapi_fail(f, errno_type(err), "storage_open_failed",
                  "Cannot reopen the file {0} in the storage directory: {1}.",
                  relative(storage_dir, w->part), strerror(err), NULL);
        writer_free(w);
        return BLOB_RESUME_ERROR;
    }
    w->bytes = w->synced = *have = staged;
    w->wb_next = staged - staged % WB_WINDOW;
    *out = w;
    return BLOB_RESUME_OK;
}

int blob_writer_rehash(blob_writer_t *w, size_t max_bytes, bool *done)
{
    *done = false;
    if (!w->rehash_buf && w->hashed < w->bytes && !(w->rehash_buf = malloc(REHASH_READ))) {
        errno = ENOMEM;
        return C_ERR;
    }
    size_t budget = max_bytes;
    while (w->hashed < w->bytes && budget > 0) {
        int64_t left = w->bytes - w->hashed;
        size_t want = budget < REHASH_READ ? budget : REHASH_READ;
        if ((int64_t)want > left)
            want = (size_t)left;
        ssize_t n = pread(w->fd, w->rehash_buf, want, w->hashed);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) { /* EOF inside the prefix: someone cut the file under us */
            if (n == 0)
                errno = EIO;
            w->failed = true;
            return C_ERR;
        }
        if (EVP_DigestUpdate(w->md, w->rehash_buf, (size_t)n) != 1) {
            w->failed = true;
            errno = EIO;
            return C_ERR;
        }
        w->hashed += n;
        budget -= (size_t)n;
    }
    if (w->hashed >= w->bytes) {
        free(w->rehash_buf);
        w->rehash_buf = NULL;
        *done = true;
    }
    return C_OK;
}

int blob_writer_write(blob_writer_t *w, const void *data, size_t len)
{
    if (w->hashed < w->bytes) { /* a resumed writer's prefix is not re-hashed yet */
        errno = EINVAL;
        return C_ERR;
    }
    if (blob_writer_hash(w, data, len) != C_OK)
        return C_ERR;
    return blob_writer_put(w, data, len);
}

int blob_writer_hash(blob_writer_t *w, const void *data, size_t len)
{
    if (w->hash_failed) {
        errno = EIO;
        return C_ERR;
    }
    if (len > 0 && EVP_DigestUpdate(w->md, data, len) != 1) {
        w->hash_failed = true;
        errno = EIO;
        return C_ERR;
    }
    w->hashed += (int64_t)len;
    return C_OK;
}

int blob_writer_put(blob_writer_t *w, const void *data, size_t len)
{
    if (w->failed) {
        errno = EIO;
        return C_ERR;
    }
    if (len == 0)
        return C_OK;
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(w->fd, p, left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            w->failed = true;
            return C_ERR;
        }
        if (n == 0) { /* not expected from a regular file; do not spin */
            w->failed = true;
            errno = EIO;
            return C_ERR;
        }
        p += n;
        left -= (size_t)n;
    }
    w->bytes += (int64_t)len;
    /* Writeback pacing (module comment). Advisory: an I/O error shows at the final fsync. */
    while (w->bytes - w->wb_next >= WB_WINDOW) {
        sync_file_range(w->fd, w->wb_next, WB_WINDOW, SYNC_FILE_RANGE_WRITE);
        if (w->wb_next >= 2 * WB_WINDOW) {
            off_t done = w->wb_next - 2 * WB_WINDOW;
            sync_file_range(w->fd, done, WB_WINDOW,
                            SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                SYNC_FILE_RANGE_WAIT_AFTER);
            posix_fadvise(w->fd, done, WB_WINDOW, POSIX_FADV_DONTNEED);
        }
        w->wb_next += WB_WINDOW;
    }
    return C_OK;
}

int64_t blob_writer_bytes(const blob_writer_t *w) { return w->bytes; }

int blob_writer_sync(blob_writer_t *w, int64_t *durable)
{
    int64_t now = w->bytes;
    if (w->fd < 0 || fdatasync(w->fd) != 0) {
        *durable = w->synced;
        if (w->fd < 0)
            errno = EBADF;
        return C_ERR;
    }
    w->synced = now;
    *durable = now;
    return C_OK;
}

int blob_writer_suspend(blob_writer_t *w, int64_t *durable)
{
    int rc = blob_writer_sync(w, durable);
    int saved = errno;
    writer_free(w);
    errno = saved;
    return rc;
}

void blob_writer_close(blob_writer_t *w)
{
    if (w)
        writer_free(w);
}

int blob_writer_finish(blob_writer_t *w, char *hex)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    bool renamed = false;
    int err = EIO;

    if (w->failed || w->hash_failed || w->hashed != w->bytes || EVP_DigestFinal_ex(w->md, md, &mdlen) != 1 ||
        mdlen * 2 >= CHECKSUM_MAX)
        goto fail;
    /* One sync per file, at the end (module comment). */
    if (fsync(w->fd) != 0) {
        err = errno;
        goto fail;
    }
    int fd = w->fd;
    w->fd = -1;
    /* After a successful fsync, close's EINTR (Linux closes the descriptor anyway) loses
     * nothing; any other error (EIO from NFS and the like) fails the transfer. */
    if (close(fd) != 0 && errno != EINTR) {
        err = errno;
        goto fail;
    }
    if (rename(w->part, w->final) != 0) {
        err = errno;
        goto fail;
    }
    renamed = true;
    if (fsync_path(w->dir) != C_OK) {
        err = errno;
        goto fail;
    }
    static const char digits[] = "0123456789abcdef";
    for (unsigned int i = 0; i < mdlen; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[2 * mdlen] = '\0';
    writer_free(w);
    return C_OK;

fail:
    unlink(renamed ? w->final : w->part);
    writer_free(w);
    errno = err;
    return C_ERR;
}

void blob_writer_abort(blob_writer_t *w)
{
    if (!w)
        return;
    int saved = errno;
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
    }
    if (unlink(w->part) != 0 && errno != ENOENT)
        store_log("blob: cannot remove %s: %s", w->part, strerror(errno));
    writer_free(w);
    errno = saved;
}

int blob_free_bytes(const char *storage_dir, int64_t *out)
{
    struct statvfs v;
    if (!storage_dir || statvfs(storage_dir, &v) != 0)
        return C_ERR;
    unsigned long long n = (unsigned long long)v.f_bavail * (unsigned long long)v.f_frsize;
    *out = n > (unsigned long long)INT64_MAX ? INT64_MAX : (int64_t)n;
    return C_OK;
}

/* ---- published blobs -------------------------------------------------------------------- */

/* The paths of publishing: the staged blob, items/, the item's directory and the link. */
static int publish_paths(const char *storage_dir, const char *session_id, const char *blob,
                         char *src, char *items, char *idir, char *dst)
{
    char sdir[PATH_MAX], item[SESSION_ID_MAX], uuid[SESSION_ID_MAX];
    if (!storage_dir || (blob && !name_ok(blob)) ||
        split_session(session_id, item, sizeof item, uuid, sizeof uuid) != C_OK) {
        errno = EINVAL;
        return C_ERR;
    }
    if (staging_dir(storage_dir, session_id, sdir, sizeof sdir, NULL, 0) ||
        path_fmt(items, PATH_MAX, "%s/items", storage_dir) ||
        path_fmt(idir, PATH_MAX, "%s/%s", items, item))
        return C_ERR;
    if (blob && (path_fmt(src, PATH_MAX, "%s/%s", sdir, blob) ||
                 path_fmt(dst, PATH_MAX, "%s/%s", idir, blob)))
        return C_ERR;
    return C_OK;
}

int blob_link(const char *storage_dir, const char *session_id, const char *blob, bool *created)
{
    char src[PATH_MAX], items[PATH_MAX], idir[PATH_MAX], dst[PATH_MAX];
    if (!blob) {
        errno = EINVAL;
        return C_ERR;
    }
    if (publish_paths(storage_dir, session_id, blob, src, items, idir, dst) != C_OK)
        return C_ERR;
    int rc = link(src, dst);
    if (rc != 0 && errno == ENOENT && access(src, F_OK) == 0) {
        bool made = false;
        if (mkdir_p(idir, &made) != C_OK)
            return C_ERR;
        *created = *created || made;
        rc = link(src, dst);
    }
    if (rc != 0 && errno != EEXIST) /* EEXIST: published before (a retried complete) */
        return C_ERR;
    return C_OK;
}

/* The new names must be on disk before the caller points the item at them. */
int blob_sync_item(const char *storage_dir, const char *session_id, bool created)
{
    char items[PATH_MAX], idir[PATH_MAX];
    if (publish_paths(storage_dir, session_id, NULL, NULL, items, idir, NULL) != C_OK)
        return C_ERR;
    if (fsync_path(idir) != C_OK)
        return C_ERR;
    if (created && (fsync_path(items) != C_OK || fsync_path(storage_dir) != C_OK))
        return C_ERR;
    return C_OK;
}

int blob_publish(const char *storage_dir, const char *session_id, const char *blob)
{
    bool created = false;
    if (blob_link(storage_dir, session_id, blob, &created) != C_OK)
        return C_ERR;
    return blob_sync_item(storage_dir, session_id, created);
}
