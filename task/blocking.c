/* troupe — the blocking pool (include/troupe/blocking.h): per runtime, a
 * service (actor/services.c) whose threads run blocking functions so that
 * fibers need not hold a scheduler thread, as Erlang's dirty I/O
 * schedulers.
 *
 * One mutex guards everything: the FIFO of queued jobs, every job's state
 * word, the thread counts. Threads start on demand (when a job finds no
 * idle thread and the pool is below its maximum) and exit after idle_ms
 * idle; an exiting thread leaves its record on `exited`, joined by the next
 * tr_blocking call or by fini. fini (tr_runtime_free) answers the queued
 * jobs TR_ECLOSED, waits for the running ones and for every waiter to
 * take its answer, and joins every thread.
 */
#include <pthread.h>
#include <stdbool.h>

#include <troupe/blocking.h>

#include "actor/internal.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/fifo.h"
#include "base/park.h"
#include "task/blocking.h"

enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_ABANDONED };

typedef struct tr__bpool tr__bpool;

struct tr__bjob {
    tr__bjob *next; /* the queue's link */
    tr__bpool *pool;
    tr_blocking_fn fn;
    void *arg;
    tr__parker *parker; /* the waiter's: woken under pool->mu when done */
    unsigned state;     /* JOB_*, under pool->mu */
    int err;            /* when done: 0 or TR_ECLOSED */
    int result;         /* when done with err 0: fn's return value */
};

/* A pool thread's record: joined once it is on pool->exited. */
typedef struct tr__bthread {
    struct tr__bthread *next;
    tr__bpool *pool;
    pthread_t tid;
} tr__bthread;

struct tr__bpool {
    tr_runtime *rt;
    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* idle threads wait here for a job */
    pthread_cond_t gone_cv; /* fini waits here for threads and waiters to leave */
    TR__FIFO(tr__bjob) queue;
    size_t queued;
    unsigned max, threads, idle, peak;
    unsigned idle_ms;
    uint64_t run;
    size_t waiters;      /* jobs submitted and not yet finished or cancelled */
    bool closed;         /* fini has begun */
    tr__bthread *exited; /* threads that have exited, to join */
};

/* The pool whose thread this is (NULL elsewhere): tr_blocking from a fn
 * would wait for a thread of the pool it holds. */
static __thread tr__bpool *current_pool;

static tr__bpool *pool_of(const tr_runtime *rt) {
    return (tr__bpool *)tr__service_state(rt, TR__SVC_BLOCKING);
}

/* Under pool->mu: job is finished (err 0 with its result, or TR_ECLOSED);
 * wakes its waiter. */
static void job_done(tr__bjob *job, int err, int result) {
    job->err = err;
    job->result = result;
    job->state = JOB_DONE;
    tr__parker_wake(job->parker); /* under the lock: park.h's rule */
}

/* Under pool->mu: removes job from the queue; true when it was there. */
static bool queue_remove(tr__bpool *pool, tr__bjob *job) {
    tr__bjob *prev = NULL;
    for (tr__bjob *j = pool->queue.head; j; prev = j, j = j->next) {
        if (j != job)
            continue;
        if (prev)
            prev->next = j->next;
        else
            pool->queue.head = j->next;
        if (pool->queue.tail == j)
            pool->queue.tail = prev;
        pool->queued--;
        return true;
    }
    return false;
}

/* Under pool->mu: a waiter is done with the pool (fini waits for all). */
static void waiter_leaves(tr__bpool *pool) {
    if (--pool->waiters == 0 && pool->closed)
        pthread_cond_broadcast(&pool->gone_cv);
}

static tr__bthread *take_exited(tr__bpool *pool) {
    tr__bthread *t = pool->exited;
    pool->exited = NULL;
    return t;
}

/* Joins and frees a list from take_exited (without the lock: those threads
 * need it no more). */
static void join_exited(tr__bthread *t) {
    while (t) {
        tr__bthread *next = t->next;
        pthread_join(t->tid, NULL);
        tr__free(t);
        t = next;
    }
}

static void *pool_main(void *arg) {
    tr__bthread *self = (tr__bthread *)arg;
    tr__bpool *pool = self->pool;
    current_pool = pool;
    pthread_mutex_lock(&pool->mu);
    for (;;) {
        tr__bjob *job = TR__FIFO_POP(&pool->queue, next);
        if (job) {
            pool->queued--;
            if (tr__runtime_stopping(pool->rt)) {
                job_done(job, TR_ECLOSED, 0);
                continue;
            }
            job->state = JOB_RUNNING;
            pthread_mutex_unlock(&pool->mu);
            int r = job->fn(job->arg);
            pthread_mutex_lock(&pool->mu);
            pool->run++;
            if (job->state == JOB_ABANDONED)
                tr__free(job); /* its waiter was killed: nobody to tell */
            else
                job_done(job, 0, r);
            continue;
        }
        if (pool->closed)
            break;
        /* Idle: wait for a job, exit after idle_ms without one. */
        int64_t since = tr__now_ms();
        bool timed_out = false;
        pool->idle++;
        while (TR__FIFO_EMPTY(&pool->queue) && !pool->closed) {
            int64_t left = since + (int64_t)pool->idle_ms - tr__now_ms();
            struct timespec ts;
            if (left <= 0) {
                timed_out = true;
                break;
            }
            if (tr__abstime_after(&ts, left))
                pthread_cond_timedwait(&pool->work_cv, &pool->mu, &ts);
            else
                pthread_cond_wait(&pool->work_cv, &pool->mu);
        }
        pool->idle--;
        if (timed_out)
            break;
    }
    pool->threads--;
    self->next = pool->exited;
    pool->exited = self;
    if (pool->threads == 0 && pool->closed)
        pthread_cond_broadcast(&pool->gone_cv);
    pthread_mutex_unlock(&pool->mu);
    return NULL;
}

/* Under pool->mu: starts a thread; false when none could be. */
static bool start_thread(tr__bpool *pool) {
    tr__bthread *t = (tr__bthread *)tr__calloc(sizeof *t);
    if (!t)
        return false;
    t->pool = pool;
    if (pthread_create(&t->tid, NULL, pool_main, t)) {
        tr__free(t);
        return false;
    }
    pool->threads++;
    if (pool->threads > pool->peak)
        pool->peak = pool->threads;
    return true;
}

int tr__blocking_submit(tr_runtime *rt, tr_blocking_fn fn, void *arg, tr__parker *p,
                        tr__bjob **out) {
    tr__bpool *pool = pool_of(rt);
    if (!pool || tr__runtime_stopping(rt))
        return TR_ECLOSED;
    tr__bjob *job = (tr__bjob *)tr__calloc(sizeof *job);
    if (!job)
        return TR_ENOMEM;
    job->pool = pool;
    job->fn = fn;
    job->arg = arg;
    job->parker = p;
    job->state = JOB_QUEUED;
    pthread_mutex_lock(&pool->mu);
    if (pool->closed) {
        pthread_mutex_unlock(&pool->mu);
        tr__free(job);
        return TR_ECLOSED;
    }
    TR__FIFO_PUSH(&pool->queue, job, next);
    pool->queued++;
    /* Every idle thread will take a queued job; start one for each job
     * beyond them, up to the maximum. */
    if (pool->queued > pool->idle && pool->threads < pool->max && !start_thread(pool) &&
        pool->threads == 0) {
        queue_remove(pool, job);
        pthread_mutex_unlock(&pool->mu);
        tr__free(job);
        return TR_ENOMEM;
    }
    if (pool->idle > 0)
        pthread_cond_signal(&pool->work_cv);
    pool->waiters++;
    p->cancel = tr__blocking_cancel;
    p->cancel_arg = job;
    tr__bthread *gone = take_exited(pool);
    pthread_mutex_unlock(&pool->mu);
    join_exited(gone);
    *out = job;
    return TR_OK;
}

int tr__blocking_finish(tr__bjob *job, tr__parker *p, int *result) {
    tr__bpool *pool = job->pool;
    pthread_mutex_lock(&pool->mu);
    while (job->state != JOB_DONE) {
        pthread_mutex_unlock(&pool->mu);
        tr__parker_wait(p, TR__NEVER); /* a stale permit only loops once */
        pthread_mutex_lock(&pool->mu);
    }
    waiter_leaves(pool);
    pthread_mutex_unlock(&pool->mu);
    p->cancel = NULL;
    p->cancel_arg = NULL;
    int err = job->err;
    if (!err && result)
        *result = job->result;
    tr__free(job);
    return err;
}

void tr__blocking_cancel(void *arg) {
    tr__bjob *job = (tr__bjob *)arg;
    tr__bpool *pool = job->pool;
    bool drop = false;
    pthread_mutex_lock(&pool->mu);
    switch (job->state) {
    case JOB_QUEUED:
        queue_remove(pool, job);
        drop = true;
        break;
    case JOB_RUNNING:
        job->state = JOB_ABANDONED; /* its pool thread frees it */
        break;
    default: /* done (the wake came too late for the waiter): ours to free */
        drop = true;
        break;
    }
    waiter_leaves(pool);
    pthread_mutex_unlock(&pool->mu);
    if (drop)
        tr__free(job);
}

int tr_blocking(tr_runtime *rt, tr_blocking_fn fn, void *arg, int *result) {
    if (!rt || !fn)
        return TR_EINVAL;
    if (tr__park_refused() || (current_pool && current_pool == pool_of(rt)))
        return TR_EDEADLK;
    tr__parker *p = tr__parker_self();
    tr__bjob *job;
    int err = tr__blocking_submit(rt, fn, arg, p, &job);
    if (err)
        return err;
    return tr__blocking_finish(job, p, result);
}

int tr_blocking_get_stats(tr_runtime *rt, tr_blocking_stats *out) {
    if (!rt || !out)
        return TR_EINVAL;
    tr__bpool *pool = pool_of(rt);
    if (!pool)
        return TR_EINVAL;
    pthread_mutex_lock(&pool->mu);
    out->threads = pool->threads;
    out->threads_peak = pool->peak;
    out->threads_max = pool->max;
    out->queued = pool->queued;
    out->jobs_run = pool->run;
    pthread_mutex_unlock(&pool->mu);
    return TR_OK;
}

void tr__blocking_set_idle_ms(tr_runtime *rt, unsigned ms) {
    tr__bpool *pool = pool_of(rt);
    if (!pool)
        return;
    pthread_mutex_lock(&pool->mu);
    pool->idle_ms = ms;
    pthread_cond_broadcast(&pool->work_cv); /* idle threads look again */
    pthread_mutex_unlock(&pool->mu);
}

/* ---- the service ----------------------------------------------------- */

static int blocking_init(tr_runtime *rt, void **state) {
    tr__bpool *pool = (tr__bpool *)tr__calloc(sizeof *pool);
    if (!pool)
        return TR_ENOMEM;
    pool->rt = rt;
    pool->max = tr__runtime_blocking_threads(rt);
    pool->idle_ms = 10000;
    pthread_mutex_init(&pool->mu, NULL);
    tr__cond_init_monotonic(&pool->work_cv);
    tr__cond_init_monotonic(&pool->gone_cv);
    *state = pool;
    return TR_OK;
}

static void blocking_fini(tr_runtime *rt, void *state) {
    (void)rt;
    tr__bpool *pool = (tr__bpool *)state;
    pthread_mutex_lock(&pool->mu);
    pool->closed = true;
    for (tr__bjob *job; (job = TR__FIFO_POP(&pool->queue, next));) {
        pool->queued--;
        job_done(job, TR_ECLOSED, 0);
    }
    pthread_cond_broadcast(&pool->work_cv);
    /* Running fns end (one that never returns blocks here) and the waiters
     * answered above take their answers, then nothing touches the pool. */
    while (pool->threads > 0 || pool->waiters > 0)
        pthread_cond_wait(&pool->gone_cv, &pool->mu);
    tr__bthread *gone = take_exited(pool);
    pthread_mutex_unlock(&pool->mu);
    join_exited(gone);
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->work_cv);
    pthread_cond_destroy(&pool->gone_cv);
    tr__free(pool);
}

const tr__service tr__blocking_service = {
    .name = "blocking",
    .init = blocking_init,
    .fini = blocking_fini,
    .on_exit = NULL,
};
