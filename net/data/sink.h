/* net/data/sink.h: the disk side of an upload's body, off the event loop. The loop copies the
 * bytes it reads into the sink; the sink hands them, half a MiB at a time, to the helper threads
 * of the data plane's disk pool (net/worker.h), one hashing (blob_writer_hash) while the other
 * writes (blob_writer_put) and, when asked, fdatasyncs (blob_writer_sync). So a turn of the loop
 * costs one read(2) and one memcpy per upload, whatever the hash and the disk cost, and hashing
 * runs beside the loop.
 *
 * The sink owns the blob writer from sink_new() until sink_finish() hands it back; while a job
 * is in flight only the helper threads touch the writer (each its own fields), and the loop
 * touches neither the writer nor the buffer being written. At most one job per sink is in flight (so a file's bytes
 * are written in order, and uploads share the pool's threads first come, first served); two
 * buffers let the loop fill one while the other is written. When both are in use the sink says
 * so (sink_put() returns false): the caller pauses reading, and `wake` tells it when the sink
 * can take bytes again (TCP backpressure, as a slow disk did before).
 *
 * Without a pool (none could start, or it was freed at shutdown) every job runs on the loop, at
 * once: the behaviour before the sink. */
#ifndef NET_DATA_SINK_H
#define NET_DATA_SINK_H

#include "net/data/plane.h"
#include "store/blob.h"

typedef struct sink sink_t;

/* The sink can take bytes again, or failed (sink_error()); called on the loop. */
typedef void (*sink_wake_fn)(void *arg);
/* sink_finish() is done: the sink is freed; w is the writer (the caller's again), err the
 * first write or sync error (errno) or 0. Called on the loop, maybe from inside sink_finish(). */
typedef void (*sink_done_fn)(void *arg, blob_writer_t *w, int err);

/* Takes the writer (NULL on out of memory: the writer stays the caller's). `pool` may be NULL. */
sink_t *sink_new(worker_pool_t *pool, blob_writer_t *w, sink_wake_fn wake, void *arg);
/* Copies len bytes in (always all of them). false: the caller must stop giving bytes until
 * `wake` (both buffers are busy). Bytes read in place (at sink_space()) are taken without a
 * copy. */
bool sink_put(sink_t *s, const void *data, size_t len);
/* Where the next bytes may be read in place (then given to sink_put() from there), and how
 * many fit (*len); NULL when the sink takes no bytes now. Valid until the next sink call. */
char *sink_space(sink_t *s, size_t *len);
/* Bytes taken by sink_put() plus the writer's bytes at sink_new() (what a resume began from). */
int64_t sink_bytes(const sink_t *s);
/* The prefix the last completed sync made durable (at first: the writer's bytes at sink_new()). */
int64_t sink_durable(const sink_t *s);
/* The first write or sync error (errno), or 0. */
int sink_error(const sink_t *s);
/* Asks for the bytes taken so far to be written and fdatasync'd, in the background (the
 * heartbeat's durable prefix: sink_durable() shows it once done). */
void sink_sync(sink_t *s);
/* Ends the sink: with write_rest, everything taken is written and fdatasync'd first; without, the
 * bytes not yet handed to the thread are dropped and only the job in flight is waited for. Then
 * done (see sink_done_fn). Nothing more may be put. */
void sink_finish(sink_t *s, bool write_rest, sink_done_fn done, void *arg);

#endif
