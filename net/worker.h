/* net/worker.h: a small pool of worker threads for CPU work that must not run on the event
 * loop (password hashing). The loop submits a job to a bounded queue; a worker runs it; the
 * finished job goes back to the loop through an eventfd watched by a libevent event, and the
 * job's done function runs on the loop thread. Nothing else of the server is touched by the
 * workers: a job carries copies of everything its run function reads.
 *
 * Only the loop thread calls these functions (and gets done callbacks); run functions are the
 * only code that runs on the workers. */
#ifndef NET_WORKER_H
#define NET_WORKER_H

#include <stdbool.h>
#include <stdint.h>

struct event_base;

typedef struct worker_job worker_job_t;
/* On a worker thread: the work itself. Must touch nothing but the job. */
typedef void (*worker_run_fn)(worker_job_t *job);
/* On the loop thread, exactly once per accepted job: ran is false when the job was still
 * queued when the pool was freed (its run function never ran). The job is the caller's again
 * (it may free it). */
typedef void (*worker_done_fn)(worker_job_t *job, bool ran);

/* Embed this in the job (first member, or use container_of); the pool owns `next` from
 * submit until done. */
struct worker_job {
    worker_run_fn run;
    worker_done_fn done;
    worker_job_t *next;
};

typedef struct worker_pool worker_pool_t;

typedef struct {
    uint64_t submitted; /* jobs accepted */
    uint64_t refused;   /* submits refused because the queue was full (or the pool stopping) */
    uint64_t completed; /* done callbacks run */
    int queued;         /* waiting for a worker now */
    int running;        /* on a worker now */
} worker_stats_t;

/* Starts `threads` workers (>= 1); at most queue_max jobs (>= 1) wait for a worker. Each
 * worker raises its own nice value by `nice` (0: unchanged; Linux nice values are per thread),
 * so that on a busy machine the loop thread wins the CPU over the background work. Workers
 * block every signal, so signals stay with the loop thread. NULL on failure (out of memory,
 * no eventfd, a thread that would not start). */
worker_pool_t *worker_pool_new(struct event_base *base, int threads, int queue_max, int nice);
/* Queues job (run and done set by the caller). C_OK, or C_ERR when queue_max jobs are
 * already waiting or the pool is being freed: then done will never be called. */
int worker_submit(worker_pool_t *p, worker_job_t *job);
/* Stops the workers (each finishes the job it is running) and joins them, then runs the done
 * callbacks still owed: ran=true for finished jobs not yet delivered, ran=false for jobs still
 * queued. Not from inside a done callback. */
void worker_pool_free(worker_pool_t *p);
void worker_pool_stats(worker_pool_t *p, worker_stats_t *out);

#endif
