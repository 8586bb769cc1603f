/* net/worker.c: the worker pool (see net/worker.h). One mutex guards two singly linked FIFO
 * lists: `queue` (submitted, waiting for a worker; bounded by queue_max) and `finished` (run,
 * waiting for the loop). Workers sleep on a condition variable. A worker that puts a job on an
 * empty `finished` list writes the eventfd; the loop's event reads the eventfd first and then
 * takes the whole list, so a completion is never missed (a write after the take wakes the loop
 * again; a spurious wake finds the list empty). */
#include "net/worker.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/common.h"
#include "net/log.h"

typedef struct {
    worker_job_t *head, *tail;
} job_list_t;

struct worker_pool {
    pthread_mutex_t mu;
    pthread_cond_t wake;      /* a job was queued, or stopping */
    job_list_t queue, finished;
    int queued, running, queue_max;
    int nice;
    bool stopping;
    uint64_t submitted, refused, completed;

    int efd;                  /* eventfd: "finished is no longer empty" */
    struct event *ev;
    pthread_t *threads;
    int nthreads;             /* started */
};

static void list_push(job_list_t *l, worker_job_t *j) {
    j->next = NULL;
    if (l->tail) l->tail->next = j;
    else l->head = j;
    l->tail = j;
}

static worker_job_t *list_pop(job_list_t *l) {
    worker_job_t *j = l->head;
    if (j) {
        l->head = j->next;
        if (!l->head) l->tail = NULL;
        j->next = NULL;
    }
    return j;
}

static job_list_t list_take(job_list_t *l) {
    job_list_t all = *l;
    l->head = l->tail = NULL;
    return all;
}

static void *worker_main(void *arg) {
    worker_pool_t *p = arg;
    if (p->nice > 0) {
        /* Linux applies a thread id's nice value to that thread alone. Lowering one's own
         * priority needs no privilege; if it fails anyway, the work still gets done. */
        id_t tid = (id_t)syscall(SYS_gettid);
        errno = 0;
        int now = getpriority(PRIO_PROCESS, tid);
        if (errno == 0) setpriority(PRIO_PROCESS, tid, now + p->nice);
    }
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stopping && !p->queue.head) pthread_cond_wait(&p->wake, &p->mu);
        if (p->stopping) break; /* jobs still queued are the loop's to cancel */
        worker_job_t *j = list_pop(&p->queue);
        p->queued--;
        p->running++;
        pthread_mutex_unlock(&p->mu);

        j->run(j);

        pthread_mutex_lock(&p->mu);
        p->running--;
        bool was_empty = p->finished.head == NULL;
        list_push(&p->finished, j);
        if (was_empty) {
            uint64_t one = 1;
            /* Cannot block (EFD_NONBLOCK) and cannot fail short of a counter at 2^64-2. */
            ssize_t n = write(p->efd, &one, sizeof(one));
            (void)n;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Runs the done callbacks of a list of jobs, in order. */
static void deliver(worker_pool_t *p, job_list_t l, bool ran) {
    worker_job_t *j;
    while ((j = list_pop(&l)) != NULL) {
        p->completed++;
        j->done(j, ran);
    }
}

/* The loop side of the eventfd: finished jobs are handed to their done callbacks. */
static void on_finished(evutil_socket_t fd, short what, void *arg) {
    (void)what;
    worker_pool_t *p = arg;
    uint64_t count;
    ssize_t n = read(fd, &count, sizeof(count)); /* reset before the take: see the top */
    (void)n;
    pthread_mutex_lock(&p->mu);
    job_list_t done = list_take(&p->finished);
    pthread_mutex_unlock(&p->mu);
    deliver(p, done, true);
}

worker_pool_t *worker_pool_new(struct event_base *base, int threads, int queue_max, int nice) {
    if (!base || threads < 1 || queue_max < 1) return NULL;
    worker_pool_t *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    p->queue_max = queue_max;
    p->nice = nice;
    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    p->threads = calloc((size_t)threads, sizeof(*p->threads));
    if (p->efd < 0 || !p->threads) goto fail;
    p->ev = event_new(base, p->efd, EV_READ | EV_PERSIST, on_finished, p);
    if (!p->ev || event_add(p->ev, NULL) != 0) goto fail;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);

    /* Workers start with every signal blocked (they inherit the mask at creation). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (int i = 0; i < threads; i++) {
        int rc = pthread_create(&p->threads[i], NULL, worker_main, p);
        if (rc != 0) {
            log_msg(LV_ERROR, "cannot start worker thread: %s", strerror(rc));
            break;
        }
        p->nthreads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (p->nthreads == threads) return p;
    worker_pool_free(p);
    return NULL;

fail:
    if (p->ev) event_free(p->ev);
    if (p->efd >= 0) close(p->efd);
    free(p->threads);
    free(p);
    return NULL;
}

int worker_submit(worker_pool_t *p, worker_job_t *job) {
    pthread_mutex_lock(&p->mu);
    if (p->stopping || p->queued >= p->queue_max) {
        p->refused++;
        pthread_mutex_unlock(&p->mu);
        return C_ERR;
    }
    list_push(&p->queue, job);
    p->queued++;
    p->submitted++;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->mu);
    return C_OK;
}

void worker_pool_free(worker_pool_t *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++) pthread_join(p->threads[i], NULL);

    /* No worker is left: the lists are the loop's alone. Finished jobs first (they are older
     * than anything still queued), then the never-run ones. Submits from these callbacks are
     * refused (stopping). */
    deliver(p, list_take(&p->finished), true);
    job_list_t never = list_take(&p->queue);
    p->queued = 0;
    deliver(p, never, false);

    event_free(p->ev);
    close(p->efd);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}

void worker_pool_stats(worker_pool_t *p, worker_stats_t *out) {
    pthread_mutex_lock(&p->mu);
    out->submitted = p->submitted;
    out->refused = p->refused;
    out->completed = p->completed;
    out->queued = p->queued;
    out->running = p->running;
    pthread_mutex_unlock(&p->mu);
}
