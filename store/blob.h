/* store/blob.h: file content on disk under --storage-dir, and streaming writes with hashing.
 *
 * Layout (every path component comes from ids we made; the client's file name never reaches
 * the disk):
 *   <dir>/staging/<item id>/<session uuid>/<blob>.part   while bytes arrive
 *   <dir>/staging/<item id>/<session uuid>/<blob>        received whole (READY)
 *   <dir>/items/<item id>/<blob>                          published (hard link made on complete)
 * A blob is a fresh UUID per transfer attempt, so a retry never overwrites a file someone reads,
 * and publishing is: link the staged blobs into items/, then one atomic Redis script switches the
 * item's file list to them; blobs the item no longer references are unlinked afterwards. */
#ifndef STORE_BLOB_H
#define STORE_BLOB_H

#include "core/file.h"

typedef struct blob_writer blob_writer_t;

/* Creates (O_CREAT|O_EXCL) the .part file of `blob` for session "<item>:<uuid>", making the
 * directories; hashes with `alg`. NULL with f filled (INTERNAL_SERVER_ERROR or
 * UNABLE_TO_ALLOCATE_RESOURCE for ENOSPC) on failure. */
blob_writer_t *blob_writer_open(const char *storage_dir, const char *session_id, const char *blob,
                                checksum_alg_t alg, vapi_failure_t *f);
/* Writes and hashes; C_ERR on a write error (errno kept). */
int blob_writer_write(blob_writer_t *w, const void *data, size_t len);
int64_t blob_writer_bytes(const blob_writer_t *w);
/* Ends a successful transfer: hex digest into hex (CHECKSUM_MAX), renames .part to the final
 * name, frees w. C_ERR (and the .part removed) on failure. */
int blob_writer_finish(blob_writer_t *w, char *hex);
/* Ends a failed transfer: removes the .part file, frees w. */
void blob_writer_abort(blob_writer_t *w);

/* Hard-links a READY staged blob of the session into the item's directory. */
int blob_publish(const char *storage_dir, const char *session_id, const char *blob);
/* Removes the session's staging directory and everything in it. */
void blob_discard_session(const char *storage_dir, const char *session_id);
/* Unlinks a published blob the item no longer references. */
void blob_unlink_item_blob(const char *storage_dir, const char *item_id, const char *blob);

#endif
