/* store/blob.c: file content on disk under --storage-dir (layout in store/blob.h), and the
 * streaming writer that hashes as bytes arrive.
 *
 * Paths are built only from ids the server made (item id, session uuid, blob uuid); callers
 * validated them, but every component is checked again here: non-empty, no '/', no leading '.'
 * (so never "." or ".." and never a hidden name), so a bad id can only fail, never escape
 * <dir>.
 *
 * Durability. Bytes of a .part file are not made durable while they arrive: a crash loses the
 * transfer and the client (or the PULL) starts again, so per-write syncing would buy nothing.
 * blob_writer_finish() syncs the finished file once, renames it, and syncs the session's
 * staging directory, so a blob reported READY survives a crash. blob_publish() syncs the item
 * directory after the link (and its parents when it had to create them), so the published name
 * is on disk before the caller switches the item's file list to it in Redis.
 *
 * That one fsync of a whole file would stall the event loop for as long as the disk needs to
 * write all of its dirty pages: measured here (ext4 under gVisor) ~0.55 s for 1 GiB, and on a
 * 100 MB/s disk it would be ~10 s. So the writer starts writeback of every WB_WINDOW bytes as
 * soon as they are written (sync_file_range WRITE, asynchronous) and waits for the window two
 * behind it (WAIT_BEFORE|WRITE|WAIT_AFTER): at most ~3 windows are ever dirty, the wait is
 * spread over the transfer (max ~10-20 ms per window measured; when the disk is slower than the
 * network it paces the socket reads, i.e. TCP backpressure), and the final fsync measured
 * ~6 ms for 1 GiB. This is writeback scheduling, not durability (no metadata, no cache flush);
 * the fsync at the end is still what makes the file durable.
 *
 * Directories are created with mode 0777 and files with 0666, both reduced by the process
 * umask (the operator's choice). Everything here is synchronous file-system work on the event
 * loop thread: one open/mkdir per transfer, one write(2) per received piece, the writeback
 * pacing, and the syncs at the end. */
#include "store/blob.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#define PART_SUFFIX ".part"
#define WB_WINDOW (8 * 1024 * 1024)
#define MKDIR_RETRIES 3

struct blob_writer {
    int fd;
    bool failed;        /* a write failed: finish refuses */
    EVP_MD_CTX *md;
    int64_t bytes;
    int64_t wb_next;    /* writeback started for [0, wb_next) */
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

/* ---- writer ----------------------------------------------------------------------------- */

blob_writer_t *blob_writer_open(const char *storage_dir, const char *session_id, const char *blob,
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
    /* Usually the directory exists (second file of a session) and one open() is all. A
     * concurrent blob_discard_session() of another session of the item may remove the item's
     * directory between our mkdir and open: start again then. */
    for (int attempt = 0; attempt <= MKDIR_RETRIES; attempt++) {
        w->fd = open(w->part, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
        if (w->fd >= 0 || errno != ENOENT || attempt == MKDIR_RETRIES)
            break;
        if (mkdir_p(w->dir, NULL) != C_OK && errno != ENOENT)
            break;
    }
    if (w->fd < 0) {
        int err = errno;
        vapi_fail(f, errno_type(err), "storage_create_failed",
                  "Cannot create the file {0} in the storage directory: {1}.",
                  relative(storage_dir, w->part), strerror(err), NULL);
        free(w);
        return NULL;
    }
    w->md = EVP_MD_CTX_new();
    if (!w->md || EVP_DigestInit_ex(w->md, md, NULL) != 1) {
        vapi_fail(f, VAPI_INTERNAL_SERVER_ERROR, "storage_digest_failed",
                  "Cannot start the checksum of {0}.", relative(storage_dir, w->part), NULL);
        blob_writer_abort(w);
        return NULL;
    }
    return w;
}

int blob_writer_write(blob_writer_t *w, const void *data, size_t len)
{
    if (w->failed) {
        errno = EIO;
        return C_ERR;
    }
    if (len == 0)
        return C_OK;
    if (EVP_DigestUpdate(w->md, data, len) != 1) {
        w->failed = true;
        errno = EIO;
        return C_ERR;
    }
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
        if (w->wb_next >= 2 * WB_WINDOW)
            sync_file_range(w->fd, w->wb_next - 2 * WB_WINDOW, WB_WINDOW,
                            SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                SYNC_FILE_RANGE_WAIT_AFTER);
        w->wb_next += WB_WINDOW;
    }
    return C_OK;
}

int64_t blob_writer_bytes(const blob_writer_t *w) { return w->bytes; }

static void writer_free(blob_writer_t *w)
{
    if (w->fd >= 0)
        close(w->fd);
    EVP_MD_CTX_free(w->md);
    free(w);
}

int blob_writer_finish(blob_writer_t *w, char *hex)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    bool renamed = false;
    int err = EIO;

    if (w->failed || EVP_DigestFinal_ex(w->md, md, &mdlen) != 1 || mdlen * 2 >= CHECKSUM_MAX)
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
        fprintf(stderr, "blob: cannot remove %s: %s\n", w->part, strerror(errno));
    writer_free(w);
    errno = saved;
}

/* ---- published blobs -------------------------------------------------------------------- */

int blob_publish(const char *storage_dir, const char *session_id, const char *blob)
{
    char sdir[PATH_MAX], src[PATH_MAX], items[PATH_MAX], idir[PATH_MAX], dst[PATH_MAX];
    char item[SESSION_ID_MAX], uuid[SESSION_ID_MAX];
    if (!storage_dir || !name_ok(blob) ||
        split_session(session_id, item, sizeof item, uuid, sizeof uuid) != C_OK) {
        errno = EINVAL;
        return C_ERR;
    }
    if (staging_dir(storage_dir, session_id, sdir, sizeof sdir, NULL, 0) ||
        path_fmt(src, sizeof src, "%s/%s", sdir, blob) ||
        path_fmt(items, sizeof items, "%s/items", storage_dir) ||
        path_fmt(idir, sizeof idir, "%s/%s", items, item) ||
        path_fmt(dst, sizeof dst, "%s/%s", idir, blob))
        return C_ERR;

    bool created = false;
    int rc = link(src, dst);
    if (rc != 0 && errno == ENOENT && access(src, F_OK) == 0) {
        if (mkdir_p(idir, &created) != C_OK)
            return C_ERR;
        rc = link(src, dst);
    }
    if (rc != 0 && errno != EEXIST) /* EEXIST: published before (a retried complete) */
        return C_ERR;
    /* The new name must be on disk before the caller points the item at it. */
    if (fsync_path(idir) != C_OK)
        return C_ERR;
    if (created && (fsync_path(items) != C_OK || fsync_path(storage_dir) != C_OK))
        return C_ERR;
    return C_OK;
}

void blob_discard_session(const char *storage_dir, const char *session_id)
{
    char dir[PATH_MAX], item_dir[PATH_MAX];
    if (staging_dir(storage_dir, session_id, dir, sizeof dir, item_dir, sizeof item_dir) != C_OK)
        return;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno != ENOENT)
            fprintf(stderr, "blob: cannot open %s: %s\n", dir, strerror(errno));
        return;
    }
    int dfd = dirfd(d);
    struct dirent *e;
    while ((errno = 0, e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (unlinkat(dfd, e->d_name, 0) != 0 && errno != ENOENT)
            fprintf(stderr, "blob: cannot remove %s/%s: %s\n", dir, e->d_name, strerror(errno));
    }
    closedir(d);
    if (rmdir(dir) != 0 && errno != ENOENT)
        fprintf(stderr, "blob: cannot remove %s: %s\n", dir, strerror(errno));
    /* The item's staging directory goes too once no other session of the item uses it. */
    if (rmdir(item_dir) != 0 && errno != ENOTEMPTY && errno != EEXIST && errno != ENOENT)
        fprintf(stderr, "blob: cannot remove %s: %s\n", item_dir, strerror(errno));
}

void blob_unlink_item_blob(const char *storage_dir, const char *item_id, const char *blob)
{
    char path[PATH_MAX];
    if (!storage_dir || !name_ok(item_id) || !name_ok(blob) ||
        path_fmt(path, sizeof path, "%s/items/%s/%s", storage_dir, item_id, blob) != C_OK)
        return;
    if (unlink(path) != 0 && errno != ENOENT)
        fprintf(stderr, "blob: cannot remove %s: %s\n", path, strerror(errno));
}
