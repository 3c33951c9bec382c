/* troupe — blocking calls on a separate pool of threads (as Erlang's dirty
 * I/O schedulers).
 *
 * A blocking system call (a file read, a DNS lookup, a wait on a lock held
 * by foreign code) made on a scheduler thread holds that thread and every
 * actor and fiber queued on it. tr_blocking runs such a call on one of the
 * runtime's blocking threads instead: a fiber that calls it parks (its
 * scheduler thread runs other work meanwhile) and runs again once the call
 * has returned; a plain thread waits.
 *
 * The pool. Each runtime has its own, made by tr_runtime_start. Threads
 * start on demand, one per job that finds no idle thread, up to
 * tr_runtime_opts.blocking_threads (0 = 16); beyond that, jobs queue in
 * FIFO order and the next free thread takes the next one. A thread idle
 * for 10 s exits, so an idle runtime keeps none.
 *
 * Shutdown. Once tr_runtime_stop has begun, tr_blocking returns
 * TR_ECLOSED, and jobs still queued are answered TR_ECLOSED instead of
 * running (by the next free pool thread, or by tr_runtime_free at the
 * latest). tr_runtime_free waits for the jobs that are running: a fn that
 * never returns blocks tr_runtime_free, as a dirty NIF that never returns
 * blocks an Erlang node's halt.
 */
#ifndef TROUPE_BLOCKING_H
#define TROUPE_BLOCKING_H

#include <stddef.h>
#include <stdint.h>

#include "actor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A blocking function: runs on a pool thread with the arg given to
 * tr_blocking; its return value comes back in *result. It may make any
 * blocking system call; it must not call tr_blocking itself (TR_EDEADLK). */
typedef int (*tr_blocking_fn)(void *arg);

/** tr_blocking: runs fn(arg) on one of rt's blocking threads and returns
 *  once it has returned, with *result = its return value.
 *  Where it may be called: from a fiber (the fiber parks; its scheduler
 *  thread runs other work meanwhile) and from a plain thread (the thread
 *  waits: fn still runs on a pool thread, so that it always runs in the
 *  same place). Not inside an actor's callback, nor on a scheduler thread
 *  outside a fiber, nor from a fn on one of rt's blocking threads: those
 *  would hold the thread the call is meant to free, and get TR_EDEADLK.
 *  Arguments: rt, a running runtime; fn, the function (not NULL); arg,
 *  passed to fn as is; result, where fn's return value goes (may be NULL
 *  when it is not wanted).
 *  Ownership: arg stays the caller's; it must live until tr_blocking
 *  returns. A fiber killed while it waits never returns from tr_blocking:
 *  a job still queued is then dropped (fn never runs); a running fn runs
 *  to its end, and its result is thrown away: arg must then outlive the
 *  call by other means (not on the fiber's stack) if fn uses it.
 *  Errors: TR_EINVAL (rt or fn NULL), TR_ECLOSED (tr_runtime_stop has
 *  begun; fn did not run), TR_ENOMEM (no memory for the job, or the pool
 *  had no thread and none could be started; fn did not run), TR_EDEADLK (see above; fn
 *  did not run). On any error *result is unchanged.
 *  Thread-safety: any fiber, any plain thread. */
TR_API int tr_blocking(tr_runtime *rt, tr_blocking_fn fn, void *arg, int *result);

/* What tr_blocking_get_stats reports. */
typedef struct tr_blocking_stats {
    unsigned threads;      /* pool threads alive now (running a job or idle) */
    unsigned threads_peak; /* most pool threads alive at once since start */
    unsigned threads_max;  /* the limit: tr_runtime_opts.blocking_threads */
    size_t queued;         /* jobs waiting for a free thread now */
    uint64_t jobs_run;     /* fns that have returned since start */
} tr_blocking_stats;

/** tr_blocking_get_stats: a snapshot of rt's blocking pool into *out (the
 *  counts move as jobs come and go).
 *  Arguments: rt, a runtime (running or stopped, not freed); out, filled.
 *  Errors: TR_EINVAL (rt or out NULL).
 *  Thread-safety: any thread. */
TR_API int tr_blocking_get_stats(tr_runtime *rt, tr_blocking_stats *out);

#ifdef __cplusplus
}
#endif

#endif
