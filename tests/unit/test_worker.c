/* tests/unit/test_worker.c: the worker pool (net/worker.c) with a real event loop: jobs run on
 * worker threads (signals blocked) and their done callbacks on the loop thread, in order, each
 * exactly once; the queue bound refuses at once; freeing the pool joins the workers and answers
 * what was owed (finished jobs ran=true, queued ones ran=false); a stress run with many small
 * jobs loses no completion; workers run at the lower priority asked for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/event.h>
#include <pthread.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

#include "core/common.h"
#include "net/worker.h"

typedef struct {
    worker_job_t w;
    int id;
    pthread_t ran_on, done_on;
    bool run_called, signals_blocked;
    int prio; /* the worker thread's nice value */
    int done_calls;
    bool ran;
    bool wait_gate;
    int sleep_ms;
} job_t;

static struct {
    struct event_base *base;
    worker_pool_t *pool;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool gate_open;
    int done_total, want_total;
    int order[64];
    int norder;
    int resubmit_rc; /* what a submit from a done callback returned */
    bool try_resubmit;
} T = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void run_job(worker_job_t *w) {
    job_t *j = (job_t *)w;
    j->run_called = true;
    j->ran_on = pthread_self();
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    j->signals_blocked = sigismember(&cur, SIGTERM) && sigismember(&cur, SIGINT);
    j->prio = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
    if (j->wait_gate) {
        pthread_mutex_lock(&T.mu);
        while (!T.gate_open) pthread_cond_wait(&T.cv, &T.mu);
        pthread_mutex_unlock(&T.mu);
    }
    if (j->sleep_ms) sleep_ms(j->sleep_ms);
}

static void done_job(worker_job_t *w, bool ran) {
    job_t *j = (job_t *)w;
    j->done_calls++;
    j->done_on = pthread_self();
    j->ran = ran;
    if (T.norder < (int)ARRAY_LEN(T.order)) T.order[T.norder++] = j->id;
    if (T.try_resubmit) T.resubmit_rc = worker_submit(T.pool, w);
    if (++T.done_total == T.want_total && T.base) event_base_loopbreak(T.base);
}

static void open_gate(void) {
    pthread_mutex_lock(&T.mu);
    T.gate_open = true;
    pthread_cond_broadcast(&T.cv);
    pthread_mutex_unlock(&T.mu);
}

static void reset(void) {
    T.gate_open = false;
    T.done_total = T.want_total = 0;
    T.norder = 0;
    T.try_resubmit = false;
    T.resubmit_rc = 12345;
}

static void on_timeout(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what, (void)arg;
    fail_msg("the loop waited 20 s for done callbacks (%d of %d)", T.done_total, T.want_total);
}

/* Runs the loop until want_total done callbacks ran (fails after 20 s). */
static void loop_until_done(void) {
    struct event *t = evtimer_new(T.base, on_timeout, NULL);
    struct timeval tv = {20, 0};
    evtimer_add(t, &tv);
    if (T.done_total < T.want_total) event_base_dispatch(T.base);
    event_free(t);
    assert_int_equal(T.done_total, T.want_total);
}

static void wait_running(worker_pool_t *p, int running, int queued) {
    for (int i = 0; i < 2000; i++) {
        worker_stats_t s;
        worker_pool_stats(p, &s);
        if (s.running == running && s.queued == queued) return;
        sleep_ms(5);
    }
    fail_msg("the pool never had %d running and %d queued", running, queued);
}

static job_t *new_job(int id) {
    job_t *j = calloc(1, sizeof(*j));
    assert_non_null(j);
    j->w.run = run_job;
    j->w.done = done_job;
    j->id = id;
    return j;
}

static int setup(void **state) {
    (void)state;
    T.base = event_base_new();
    reset();
    return T.base ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    event_base_free(T.base);
    T.base = NULL;
    return 0;
}

static void test_runs_off_loop_done_on_loop(void **state) {
    (void)state;
    worker_pool_t *p = T.pool = worker_pool_new(T.base, 2, 64, 5);
    assert_non_null(p);
    errno = 0;
    int my_prio = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
    assert_int_equal(errno, 0);
    job_t *jobs[20];
    for (int i = 0; i < 20; i++) {
        jobs[i] = new_job(i);
        assert_int_equal(worker_submit(p, &jobs[i]->w), C_OK);
    }
    T.want_total = 20;
    loop_until_done();
    pthread_t me = pthread_self();
    for (int i = 0; i < 20; i++) {
        assert_true(jobs[i]->run_called);
        assert_false(pthread_equal(jobs[i]->ran_on, me));
        assert_true(pthread_equal(jobs[i]->done_on, me));
        assert_true(jobs[i]->signals_blocked);
        /* the workers yield to the loop thread; this one's priority is unchanged */
        assert_int_equal(jobs[i]->prio, my_prio + 5 > 19 ? 19 : my_prio + 5);
        assert_int_equal(jobs[i]->done_calls, 1);
        assert_true(jobs[i]->ran);
        free(jobs[i]);
    }
    worker_stats_t s;
    worker_pool_stats(p, &s);
    assert_int_equal(s.submitted, 20);
    assert_int_equal(s.completed, 20);
    assert_int_equal(s.refused, 0);
    assert_int_equal(s.queued + s.running, 0);
    worker_pool_free(p);
}

static void test_bounded_queue(void **state) {
    (void)state;
    worker_pool_t *p = T.pool = worker_pool_new(T.base, 1, 2, 0);
    assert_non_null(p);
    job_t *j1 = new_job(1), *j2 = new_job(2), *j3 = new_job(3), *j4 = new_job(4);
    j1->wait_gate = true;
    assert_int_equal(worker_submit(p, &j1->w), C_OK);
    wait_running(p, 1, 0);                             /* j1 holds the only worker */
    assert_int_equal(worker_submit(p, &j2->w), C_OK);
    assert_int_equal(worker_submit(p, &j3->w), C_OK);  /* two waiting: the bound */
    assert_int_equal(worker_submit(p, &j4->w), C_ERR); /* refused at once */
    worker_stats_t s;
    worker_pool_stats(p, &s);
    assert_int_equal(s.refused, 1);
    assert_int_equal(s.queued, 2);
    open_gate();
    T.want_total = 3;
    loop_until_done();
    assert_int_equal(T.norder, 3);
    assert_int_equal(T.order[0], 1); /* one worker: first in, first done */
    assert_int_equal(T.order[1], 2);
    assert_int_equal(T.order[2], 3);
    assert_int_equal(j4->done_calls, 0);
    /* room again */
    assert_int_equal(worker_submit(p, &j4->w), C_OK);
    T.want_total = 4;
    loop_until_done();
    assert_int_equal(j4->done_calls, 1);
    worker_pool_free(p);
    free(j1), free(j2), free(j3), free(j4);
}

static void test_free_answers_pending(void **state) {
    (void)state;
    worker_pool_t *p = T.pool = worker_pool_new(T.base, 1, 8, 0);
    assert_non_null(p);
    job_t *jobs[5];
    for (int i = 0; i < 5; i++) jobs[i] = new_job(i);
    jobs[0]->sleep_ms = 100;
    assert_int_equal(worker_submit(p, &jobs[0]->w), C_OK);
    wait_running(p, 1, 0);
    for (int i = 1; i < 5; i++) assert_int_equal(worker_submit(p, &jobs[i]->w), C_OK);
    T.try_resubmit = true; /* a done callback that submits again is refused while freeing */
    worker_pool_free(p);   /* joins: jobs[0] finishes first; the loop never ran */
    assert_int_equal(T.resubmit_rc, C_ERR);
    assert_int_equal(jobs[0]->done_calls, 1);
    assert_true(jobs[0]->ran);
    assert_true(jobs[0]->run_called);
    for (int i = 1; i < 5; i++) {
        assert_int_equal(jobs[i]->done_calls, 1);
        assert_false(jobs[i]->ran);
        assert_false(jobs[i]->run_called);
    }
    assert_int_equal(T.order[0], 0);
    for (int i = 0; i < 5; i++) free(jobs[i]);
}

static void test_free_delivers_finished(void **state) {
    (void)state;
    worker_pool_t *p = T.pool = worker_pool_new(T.base, 2, 8, 0);
    assert_non_null(p);
    job_t *a = new_job(1), *b = new_job(2);
    assert_int_equal(worker_submit(p, &a->w), C_OK);
    assert_int_equal(worker_submit(p, &b->w), C_OK);
    wait_running(p, 0, 0); /* both ran; the loop has not delivered them */
    assert_int_equal(a->done_calls + b->done_calls, 0);
    worker_pool_free(p);
    assert_int_equal(a->done_calls, 1);
    assert_int_equal(b->done_calls, 1);
    assert_true(a->ran && b->ran);
    free(a), free(b);
}

static void test_bad_arguments(void **state) {
    (void)state;
    assert_null(worker_pool_new(T.base, 0, 8, 0));
    assert_null(worker_pool_new(T.base, 2, 0, 0));
    assert_null(worker_pool_new(NULL, 2, 8, 0));
    worker_pool_free(NULL);
}

/* Many tiny jobs from several workers: every completion reaches the loop exactly once (no
 * lost eventfd wake-up), with the queue refusing whenever it is full. */
static void test_stress(void **state) {
    (void)state;
    enum { N = 20000 };
    worker_pool_t *p = T.pool = worker_pool_new(T.base, 4, 100, 0);
    assert_non_null(p);
    job_t *jobs = calloc(N, sizeof(*jobs));
    assert_non_null(jobs);
    int submitted = 0, refused = 0;
    T.want_total = 0;
    while (submitted < N) {
        jobs[submitted].w.run = run_job;
        jobs[submitted].w.done = done_job;
        jobs[submitted].id = submitted;
        if (worker_submit(p, &jobs[submitted].w) == C_OK) {
            submitted++;
            T.want_total = submitted;
        } else {
            refused++;
            event_base_loop(T.base, EVLOOP_ONCE | EVLOOP_NONBLOCK); /* deliver some */
        }
    }
    loop_until_done();
    for (int i = 0; i < N; i++) assert_int_equal(jobs[i].done_calls, 1);
    worker_stats_t s;
    worker_pool_stats(p, &s);
    assert_int_equal(s.completed, N);
    assert_int_equal(s.refused, (uint64_t)refused);
    worker_pool_free(p);
    free(jobs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_runs_off_loop_done_on_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bounded_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_answers_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_delivers_finished, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stress, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
