/* net/data/sink.c: an upload's bytes, hashed and written by helper threads (net/data/sink.h).
 *
 * Two buffers: `fill` is the loop's (sink_put copies into it), the other is the job's while one
 * is in flight. A job is handed out when the fill buffer reaches SINK_HIGH and no job is in
 * flight, when a sync is asked for, and at the end. The fill buffer holds SINK_CAP bytes,
 * SINK_HIGH plus the largest piece the HTTP front end hands over (a read of a streamed body),
 * so it takes a whole piece even when it is nearly at SINK_HIGH with the other buffer busy; a
 * larger piece grows it (not expected).
 *
 * A job is two parts submitted together, which the pool's two threads run side by side on the
 * same buffer: the digest (blob_writer_hash) and the write (blob_writer_put, then the sync when
 * asked), so a buffer takes max(hash, write) rather than their sum; each part touches its own
 * fields of the writer (store/blob.h). The job ends when both parts are back on the loop. The
 * job's fields belong to the threads while `busy`; the loop reads them once both parts are
 * back, after the pool's hand-over. */
#include "net/data/sink.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/worker.h"

#define SINK_HIGH (512u * 1024)           /* hand a buffer to the thread at this fill */
#define SINK_CAP (SINK_HIGH + 256u * 1024) /* + the largest read of a streamed body */
#define SINK_ALIGN 4096

typedef struct sink_part {
    worker_job_t w;             /* first: the pool hands back &w */
    struct sink *s;
    int err;                    /* errno of this part, or 0 */
} sink_part_t;

struct sink {
    sink_part_t hash, put;      /* the two parts of the job in flight */
    int parts;                  /* parts not back yet */
    worker_pool_t *pool;
    blob_writer_t *writer;
    sink_wake_fn wake;
    void *arg;
    char *buf[2];
    size_t cap[2];
    int fill;                   /* the buffer sink_put fills */
    size_t fill_len;
    bool busy;                  /* a job is in flight */
    bool sync_wanted;           /* sink_sync() while busy: the next job syncs */
    bool finishing;             /* sink_finish() ran: no more puts */
    bool write_rest;
    bool last_sent;             /* the final job (write_rest) was handed out */
    sink_done_fn done;
    void *done_arg;
    int64_t taken;              /* writer's bytes at the start + everything put */
    int64_t durable;
    int err;
    /* The job (see the top). */
    const char *job_data;
    size_t job_len;
    bool job_sync;
    int64_t job_durable;
};

/* On a helper thread (or the loop): the digest of the job's bytes. */
static void hash_run(worker_job_t *w) {
    sink_part_t *p = (sink_part_t *)w;
    sink_t *s = p->s;
    p->err = blob_writer_hash(s->writer, s->job_data, s->job_len) == C_OK ? 0 : errno ? errno : EIO;
}

/* On a helper thread (or the loop): the write of the job's bytes, then the sync when asked. */
static void put_run(worker_job_t *w) {
    sink_part_t *p = (sink_part_t *)w;
    sink_t *s = p->s;
    p->err = 0;
    if (blob_writer_put(s->writer, s->job_data, s->job_len) != C_OK ||
        (s->job_sync && blob_writer_sync(s->writer, &s->job_durable) != C_OK))
        p->err = errno ? errno : EIO;
}

static bool complete(sink_t *s, bool may_wake);

/* A part is back (ran=false: the pool never ran it; it runs here, so nothing is lost); the
 * job completes with its last part. Returns true if that freed the sink (the end). */
static bool part_back(sink_part_t *p, bool ran, bool may_wake) {
    if (!ran) p->w.run(&p->w);
    if (--p->s->parts > 0) return false;
    return complete(p->s, may_wake);
}

static void job_done(worker_job_t *w, bool ran) { part_back((sink_part_t *)w, ran, true); }

/* Hands the fill buffer (maybe empty: a sync alone) to the helper threads; with no pool, or a
 * refused submit, runs that part here and now. Returns true if that freed the sink (the end). */
static bool submit(sink_t *s, bool sync) {
    s->job_data = s->buf[s->fill];
    s->job_len = s->fill_len;
    s->job_sync = sync;
    s->sync_wanted = false;
    s->fill ^= 1;
    s->fill_len = 0;
    s->busy = true;
    s->parts = 2;
    sink_part_t *parts[2] = {&s->put, &s->hash};
    for (int i = 0; i < 2; i++) {
        if (s->pool && worker_submit(s->pool, &parts[i]->w) == C_OK) continue;
        if (part_back(parts[i], false, false)) return true;
    }
    return false;
}

static void free_sink(sink_t *s) {
    free(s->buf[0]);
    free(s->buf[1]);
    free(s);
}

/* The end: hand the writer back (and free the sink) once nothing is in flight. */
static void finish_now(sink_t *s) {
    sink_done_fn done = s->done;
    void *arg = s->done_arg;
    blob_writer_t *w = s->writer;
    int err = s->err;
    free_sink(s);
    done(arg, w, err);
}

/* What the sink does next when no job is in flight. Returns true if the sink was freed. */
static bool pump(sink_t *s) {
    if (s->busy) return false;
    if (s->finishing) {
        if (s->write_rest && !s->last_sent && !s->err) {
            s->last_sent = true;
            return submit(s, true);
        }
        finish_now(s);
        return true;
    }
    if (s->err) return false;
    if (s->sync_wanted || s->fill_len >= SINK_HIGH) return submit(s, s->sync_wanted);
    return false;
}

/* Both parts are back on the loop. may_wake is false for a part run from inside submit(): its
 * caller is on the stack and sees the state itself. Returns true if the sink was freed. */
static bool complete(sink_t *s, bool may_wake) {
    s->busy = false;
    int job_err = s->put.err ? s->put.err : s->hash.err;
    if (job_err && !s->err) s->err = job_err;
    if (!job_err && s->job_sync) s->durable = s->job_durable;
    bool was_full = s->fill_len >= SINK_HIGH;
    if (pump(s)) return true;
    if (may_wake && !s->finishing && (s->err || was_full) && s->wake) s->wake(s->arg);
    return false;
}

sink_t *sink_new(worker_pool_t *pool, blob_writer_t *w, sink_wake_fn wake, void *arg) {
    sink_t *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    for (int i = 0; i < 2; i++) {
        void *p = NULL;
        if (posix_memalign(&p, SINK_ALIGN, SINK_CAP) != 0) {
            free_sink(s);
            return NULL;
        }
        s->buf[i] = p;
        s->cap[i] = SINK_CAP;
    }
    s->pool = pool;
    s->writer = w;
    s->hash.s = s->put.s = s;
    s->hash.w.run = hash_run;
    s->put.w.run = put_run;
    s->hash.w.done = s->put.w.done = job_done;
    s->wake = wake;
    s->arg = arg;
    s->taken = s->durable = blob_writer_bytes(w);
    return s;
}

/* Makes room for len more bytes in the fill buffer (a piece larger than expected). */
static bool fit(sink_t *s, size_t len) {
    int i = s->fill;
    if (s->cap[i] - s->fill_len >= len) return true;
    size_t want = s->fill_len + len;
    void *p = NULL;
    if (posix_memalign(&p, SINK_ALIGN, want) != 0) return false;
    memcpy(p, s->buf[i], s->fill_len);
    free(s->buf[i]);
    s->buf[i] = p;
    s->cap[i] = want;
    return true;
}

char *sink_space(sink_t *s, size_t *len) {
    if (s->finishing || s->err || s->fill_len >= SINK_HIGH) return NULL;
    *len = s->cap[s->fill] - s->fill_len;
    return s->buf[s->fill] + s->fill_len;
}

bool sink_put(sink_t *s, const void *data, size_t len) {
    if (s->finishing || s->err) return false;
    char *tail = s->buf[s->fill] + s->fill_len;
    if (data != tail) { /* not read in place (sink_space): copy */
        if (!fit(s, len)) {
            s->err = ENOMEM;
            return false;
        }
        memcpy(s->buf[s->fill] + s->fill_len, data, len);
    }
    s->fill_len += len;
    s->taken += (int64_t)len;
    pump(s);
    return s->fill_len < SINK_HIGH && !s->err;
}

int64_t sink_bytes(const sink_t *s) { return s->taken; }
int64_t sink_durable(const sink_t *s) { return s->durable; }
int sink_error(const sink_t *s) { return s->err; }

void sink_sync(sink_t *s) {
    if (s->finishing || s->err) return;
    s->sync_wanted = true;
    pump(s);
}

void sink_finish(sink_t *s, bool write_rest, sink_done_fn done, void *arg) {
    s->finishing = true;
    s->write_rest = write_rest;
    s->done = done;
    s->done_arg = arg;
    if (!write_rest) s->fill_len = 0;
    pump(s);
}
