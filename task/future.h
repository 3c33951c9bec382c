/* troupe — futures inside the task pool (private): what task/future.c and
 * task/task_pool.c share.
 *
 * future.c owns the thread-side half: a future's reference count, its
 * completion (exactly once, first caller wins), await, notify. task_pool.c
 * owns the manager and worker actors that run the tasks and complete the
 * futures through the calls below.
 *
 * A future's references: 1 for the user, 1 for the SUBMIT message, 1 for
 * the manager while the task is queued or assigned, 1 for the RUN message.
 * Until it completes it also holds a reference on its pool, dropped by
 * tr__task_pool_future_done.
 */
#ifndef TROUPE_TASK_FUTURE_H
#define TROUPE_TASK_FUTURE_H

#include <pthread.h>
#include <stdbool.h>

#include <troupe/task_pool.h>

#include "actor/internal.h"

/* Longest error text kept for a task, NUL included. */
#define TR__TASK_TEXT_MAX 256

struct tr_future {
    uint64_t id;
    tr_task_pool *pool; /* a reference until completion */
    tr_runtime *rt;
    tr_task_fn fn;
    void *arg;
    size_t arg_size;
    uint32_t refs;   /* atomic */
    bool accepted;   /* manager took it (set on the manager's thread) */
    bool started;    /* a worker began running it (set on the worker's thread) */
    tr_future *next; /* manager's queue */

    pthread_mutex_t mu;
    struct tr__fwaiter *waiters; /* under mu: threads and fibers in tr_future_await */
    int status;                  /* under mu: TR_FUTURE_PENDING or the outcome */
    int code;                    /* under mu: with status TR_EREMOTE, the task's own code */
    void *data;                  /* under mu: result, or NUL-terminated error text */
    size_t size;
    bool notify_set;
    tr_pid notify_pid;
    uint32_t notify_tag;
};

/* True for a timeout the blocking calls accept: > 0 or TR_INFINITY. */
static inline bool tr__task_valid_timeout(tr_duration_ms t) {
    return t > 0 || t == TR_INFINITY;
}

/* tr__future_new: a pending future with a copy of arg (arg_size bytes),
 * its lock and its condvar, zero references; the caller fills in the rest.
 * NULL when out of memory (nothing is left behind). */
tr_future *tr__future_new(tr_task_fn fn, const void *arg, size_t arg_size);

/* tr__future_ref / tr__future_unref: take or drop one reference; the last
 * unref frees the future. Any thread. */
void tr__future_ref(tr_future *f);
void tr__future_unref(tr_future *f);

/* tr__future_complete: completes f with status and data (owned: taken, or
 * freed when f was already complete), wakes its awaiters, sends its
 * notification, and tells the pool (tr__task_pool_future_done). Returns
 * true when this call completed it. Any thread. */
bool tr__future_complete(tr_future *f, int status, void *data, size_t size);

/* tr__future_fail_text: completes f with status and a copy of text
 * (truncated to TR__TASK_TEXT_MAX - 1 bytes). No-op if already complete. */
void tr__future_fail_text(tr_future *f, int status, const char *text);
/* tr__future_fail_code: completes f with TR_EREMOTE, the task's own error
 * code and a copy of text (the closed error space: the code travels
 * beside troupe's status). */
void tr__future_fail_code(tr_future *f, int code, const char *text);

/* tr__future_fail_reason: fails f because the worker holding it exited
 * with reason r: an orderly stop (normal, shutdown) gives TR_ECLOSED, any
 * other reason TR_ECRASHED with its text. */
void tr__future_fail_reason(tr_future *f, const tr_reason *r);

/* tr__task_pool_future_done (task_pool.c): one of p's futures completed;
 * lowers its pending count and drops the future's reference on p. */
void tr__task_pool_future_done(tr_task_pool *p);

#endif
