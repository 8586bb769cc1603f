/* store/blob.h: file content on disk under --storage-dir, and streaming writes with hashing.
 *
 * Layout (every path component comes from ids we made; the client's file name never reaches
 * the disk):
 *   <dir>/staging/<item id>/<session uuid>/<blob>.part   while bytes arrive
 *   <dir>/staging/<item id>/<session uuid>/<blob>        received whole (READY)
 *   <dir>/items/<item id>/<blob>                          published (hard link made on complete)
 * A blob is a fresh UUID per upload from byte 0 (PUT/POST) and per PULL attempt, so a retry never
 * overwrites a file someone reads; a resume (PATCH) appends to the blob's durable prefix. Only
 * one writer at a time: every writer holds an OFD write lock on its .part. Publishing is: link
 * the staged blobs into items/, then one atomic Redis script switches the item's file list to
 * them; what no record references any more is deleted by the janitors (store.h "Garbage"). */
#ifndef STORE_BLOB_H
#define STORE_BLOB_H

#include "core/file.h"

typedef struct blob_writer blob_writer_t;

/* Creates (O_CREAT|O_EXCL) the .part file of `blob` for session "<item>:<uuid>", making the
 * directories, and takes its OFD write lock; hashes with `alg`. NULL with f filled
 * (INTERNAL_SERVER_ERROR or UNABLE_TO_ALLOCATE_RESOURCE for ENOSPC) on failure. */
blob_writer_t *blob_writer_open(const char *storage_dir, const char *session_id, const char *blob,
                                checksum_alg_t alg, vapi_failure_t *f);

/* What blob_writer_resume() found. */
typedef enum {
    BLOB_RESUME_OK,      /* *out is a writer at offset `staged`, its prefix still to re-hash */
    BLOB_RESUME_SHORT,   /* the .part holds fewer than `staged` bytes: *have (synced) */
    BLOB_RESUME_MISSING, /* no .part (and staged > 0): nothing is left to resume */
    BLOB_RESUME_LOCKED,  /* another writer holds the .part's lock */
    BLOB_RESUME_ERROR    /* f says why */
} blob_resume_t;

/* Reopens the .part of `blob` to append after its durable prefix of `staged` bytes: opens it
 * read-write without O_EXCL (creating it when staged is 0), takes the OFD write lock
 * (non-blocking), truncates it to `staged` (bytes written after the last durable point are
 * dropped) and positions the writer there. The digest of the prefix is then rebuilt with
 * blob_writer_rehash() before any new byte is written. */
blob_resume_t blob_writer_resume(const char *storage_dir, const char *session_id,
                                 const char *blob, checksum_alg_t alg, int64_t staged,
                                 blob_writer_t **out, int64_t *have, vapi_failure_t *f);
/* Hashes up to `max_bytes` more of the prefix (one slice per loop turn keeps the loop free);
 * *done once the whole prefix is hashed. C_ERR if the prefix cannot be read whole (errno). */
int blob_writer_rehash(blob_writer_t *w, size_t max_bytes, bool *done);

/* Writes and hashes; C_ERR on a write error (errno kept). */
int blob_writer_write(blob_writer_t *w, const void *data, size_t len);
/* The two halves of blob_writer_write, for running them side by side on two threads (each
 * touches only its own fields of w; the caller joins both before anything else uses w, and
 * gives both the same bytes in the same order). hash: the digest; put: write(2) and the
 * writeback pacing (blob_writer_bytes counts these). C_ERR with errno on failure; finish then
 * refuses the file. */
int blob_writer_hash(blob_writer_t *w, const void *data, size_t len);
int blob_writer_put(blob_writer_t *w, const void *data, size_t len);
/* Bytes in the file (for a resumed writer: the prefix plus what was written since). */
int64_t blob_writer_bytes(const blob_writer_t *w);
/* fdatasync: *durable = the bytes now known on disk. C_ERR (errno) if the sync failed; then
 * *durable is what the last successful sync made durable. */
int blob_writer_sync(blob_writer_t *w, int64_t *durable);
/* Ends a paused transfer: syncs (as blob_writer_sync), closes and frees w, keeping the .part
 * for a resume. */
int blob_writer_suspend(blob_writer_t *w, int64_t *durable);
/* Closes and frees w without syncing or deleting anything (the mover lost the file). */
void blob_writer_close(blob_writer_t *w);
/* Ends a successful transfer: hex digest into hex (CHECKSUM_MAX), renames .part to the final
 * name, frees w. C_ERR (and the .part removed) on failure. */
int blob_writer_finish(blob_writer_t *w, char *hex);
/* Ends a failed transfer: removes the .part file, frees w. */
void blob_writer_abort(blob_writer_t *w);

/* Space the storage directory's file system gives an unprivileged writer (statvfs). */
int blob_free_bytes(const char *storage_dir, int64_t *out);

/* Hard-links a READY staged blob of the session into the item's directory (idempotent), not yet
 * synced; *created is set when that made the item's directory. */
int blob_link(const char *storage_dir, const char *session_id, const char *blob, bool *created);
/* Makes the links of blob_link durable: one fsync of the item's directory (and of items/ and the
 * storage directory when the item's directory was created), however many files were linked. */
int blob_sync_item(const char *storage_dir, const char *session_id, bool created);
/* blob_link then blob_sync_item: one blob, durable. */
int blob_publish(const char *storage_dir, const char *session_id, const char *blob);

#endif
