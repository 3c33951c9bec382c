/* troupe — task pool (as Elixir's Task.async/await and
 * Task.async_stream, on a fixed set of worker fibers).
 *
 * A task pool runs functions ("tasks") on worker fibers and hands the
 * submitter a future for each (troupe/future.h, included here). A future is
 * awaited from a plain thread (blocking, with a timeout: tr_future_await)
 * or from an actor (the result arrives as a message: tr_future_notify).
 *
 * Model. tr_task_pool_start spawns one manager actor, which traps exits and
 * spawns `workers` worker fibers (troupe/fiber.h) linked to it. Submitted
 * tasks queue in the manager (FIFO); the manager hands one task at a time
 * to an idle worker, which runs the task function and completes the
 * future. A worker that crashes while running a task (tr_task_fail,
 * tr_fail, or an exit signal) fails that task's future with TR_ECRASHED and
 * the crash text; the manager restarts the worker and the pool keeps
 * working (as a one_for_one supervisor with unlimited intensity: one
 * crash never affects another task). The manager plays the supervisor for
 * its workers itself so that it knows which task each worker was running.
 *
 * Tasks run on fibers. A task may block the troupe way: tr_sleep,
 * tr_call, tr_future_await (of another task too), channels, tr_blocking
 * (for a blocking system call), all on tr_task_self(task): only its fiber
 * parks, and its scheduler thread runs other work meanwhile. A plain
 * blocking system call (sleep(), read() of a slow file) still holds the
 * thread: use tr_blocking for those.
 *
 * Nothing accepted is lost: every future returned by tr_task_submit is
 * completed exactly once — with the task's result, its error, TR_ECRASHED,
 * TR_ECLOSED when the pool (or the runtime) stops before the task ran, or
 * TR_ENOMEM when the task could not be handed to a worker for lack of
 * memory (a worker that cannot report back crashes and is restarted).
 * This holds when the manager itself is killed: its queued tasks fail with
 * TR_ECLOSED, a task a worker is running completes, the pool is closed to
 * new tasks, and tr_task_pool_stop and tr_task_pool_free return.
 */
#ifndef TROUPE_TASK_POOL_H
#define TROUPE_TASK_POOL_H

#include "actor.h"
#include "future.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A task pool. Opaque; created by tr_task_pool_start, released by
 *  tr_task_pool_free. */
typedef struct tr_task_pool tr_task_pool;

/** The running task, as its function sees it. Opaque; valid only during the
 *  task function's call. */
typedef struct tr_task tr_task;

/** A task function. Runs on a worker fiber; may block the troupe way
 *  (tr_sleep, tr_call, channels, tr_blocking: see the header comment).
 *  Arguments: task, the running task (for tr_task_set_result, tr_task_error,
 *  tr_task_fail, tr_task_self); arg/arg_size, the pool's copy of the bytes
 *  given to tr_task_submit (borrowed: valid during this call; arg is NULL
 *  when arg_size is 0).
 *  Returns 0 for success (the result is what tr_task_set_result stored, or
 *  empty), or any non-zero code of the application's for an error: the
 *  future then fails with TR_EREMOTE and that code beside it
 *  (tr_buf.code from tr_future_await, tr_future_reply.code), its text
 *  from tr_task_error, else tr_strerror(code) for a value of troupe's
 *  table, else "task failed". */
typedef int (*tr_task_fn)(tr_task *task, const void *arg, size_t arg_size);

/** Task pool options. Zero-initialize, then set what you need.
 *  - workers: worker fibers, 1..4096; 0 = the runtime's scheduler threads.
 *  - max_pending: most tasks submitted and not yet completed; 0 = no
 *    limit. Beyond it tr_task_submit returns TR_EFULL. */
typedef struct tr_task_pool_opts {
    unsigned workers;
    size_t max_pending;
} tr_task_pool_opts;

/** Most workers in one task pool. */
#define TR_TASK_POOL_MAX_WORKERS 4096

/* ------------------------------------------------------------------------ */
/* Pool lifecycle                                                            */
/* ------------------------------------------------------------------------ */

/** tr_task_pool_start: starts a task pool on rt: a manager actor and its
 *  workers (see the header comment), ready when this returns.
 *  Arguments: rt, a running runtime; opts may be NULL (defaults); out
 *  receives the pool.
 *  Ownership: the caller owns *out: stop it with tr_task_pool_stop and
 *  release it with tr_task_pool_free (which stops it if needed).
 *  Errors: TR_EINVAL (rt or out NULL, workers > TR_TASK_POOL_MAX_WORKERS),
 *  TR_ENOMEM, TR_ECLOSED (runtime stopping), TR_EFULL (actor table full);
 *  on error nothing is left behind.
 *  Thread-safety: any thread (it spawns actors; it does not block on
 *  them). Semantics: as starting an Elixir Task.Supervisor with a fixed
 *  concurrency. */
TR_API int tr_task_pool_start(tr_runtime *rt, const tr_task_pool_opts *opts, tr_task_pool **out);

/** tr_task_pool_stop: refuses new tasks (tr_task_submit returns
 *  TR_ECLOSED from now on), waits until every task already submitted has
 *  completed (as tr_task_pool_drain), then stops the manager and the
 *  workers and waits for them to exit. Calling it again (or from several
 *  threads) is harmless: it waits for the same end and returns 0.
 *  Arguments: timeout_ms, the longest wait for the drain (> 0 or
 *  TR_INFINITY; past the clock's range waits as TR_INFINITY); on
 *  TR_ETIMEDOUT the pool still refuses new tasks, the pending ones keep
 *  running, and tr_task_pool_stop may be called again.
 *  Errors: TR_EINVAL (pool NULL, bad timeout), TR_ETIMEDOUT, TR_EDEADLK
 *  (called on a scheduler thread: it blocks). If the runtime stopped
 *  first, the pending futures were already failed with TR_ECLOSED and
 *  this returns 0.
 *  Thread-safety: any non-scheduler thread. Semantics: drain then stop, as
 *  Task.Supervisor's children are awaited before the supervisor stops. */
TR_API int tr_task_pool_stop(tr_task_pool *pool, tr_duration_ms timeout_ms);

/** tr_task_pool_free: stops the pool if that has not completed
 *  (tr_task_pool_stop with TR_INFINITY) and releases the caller's
 *  reference. Futures the caller still holds stay valid (each is released
 *  with tr_future_free). NULL is a no-op. No OTP analogue (Erlang's memory
 *  is collected); the stop part is Task.Supervisor's stop.
 *  Errors: TR_EDEADLK on a scheduler thread (nothing is released then).
 *  Thread-safety: one non-scheduler thread, once per pool. */
TR_API int tr_task_pool_free(tr_task_pool *pool);

/* ------------------------------------------------------------------------ */
/* Submitting and waiting                                                    */
/* ------------------------------------------------------------------------ */

/** tr_task_submit: queues fn(arg) on the pool and returns a future for its
 *  result at once (Elixir Task.async/1 on a pool).
 *  Arguments: fn, the task function; arg/arg_size, bytes copied by the
 *  pool (the caller keeps arg; arg may be NULL when arg_size is 0); out
 *  receives the future.
 *  Ownership: the caller owns *out and releases it with tr_future_free,
 *  whether or not it awaited it; the task runs either way.
 *  Errors: TR_EINVAL (NULL pool/fn/out, arg NULL with arg_size > 0,
 *  arg_size over PTRDIFF_MAX / 2),
 *  TR_ECLOSED (pool stopping or runtime stopping), TR_EFULL
 *  (max_pending reached), TR_ENOMEM. On error no future exists and fn is
 *  never called.
 *  Thread-safety: any thread, including actors' callbacks (it does not
 *  block). Tasks start in submission order; they may finish in any order. */
TR_API int tr_task_submit(tr_task_pool *pool, tr_task_fn fn, const void *arg, size_t arg_size,
                          tr_future **out);

/** tr_task_pool_map: runs fn over n inputs in parallel and waits for all
 *  of them, giving the results in input order (Elixir
 *  Task.async_stream/3 + Enum.to_list, ordered).
 *  Arguments: inputs, n consecutive elements of elem_size bytes each
 *  (element i is passed to fn as arg/arg_size); results, an array of n
 *  tr_buf that receive each task's result or error text as
 *  tr_future_await gives it (the caller frees each with tr_buf_free; may
 *  be NULL to discard them); codes, an array of n ints receiving each
 *  task's status (may be NULL); timeout_ms, for the whole map (> 0 or
 *  TR_INFINITY; past the clock's range waits as TR_INFINITY). A finite
 *  timeout always ends: after it, each task still pending is given 1 ms
 *  to complete, then gets TR_ETIMEDOUT.
 *  Returns 0 when every task succeeded; otherwise the status of the first
 *  failed task in input order (all n results are still filled).
 *  Errors: TR_EINVAL (NULL pool/fn, inputs NULL with n > 0 and elem_size
 *  > 0, n * elem_size or n * sizeof(tr_buf) over PTRDIFF_MAX / 2 (nothing
 *  is submitted), bad timeout), TR_EDEADLK (scheduler thread),
 *  TR_ETIMEDOUT (the deadline passed: the tasks not yet complete get code TR_ETIMEDOUT and
 *  empty results, and keep running), TR_ECLOSED/TR_EFULL/TR_ENOMEM from
 *  submission (then no task ran past those already submitted, which are
 *  still awaited, and the rest get that code). n == 0 returns 0.
 *  Thread-safety: any non-scheduler thread. */
TR_API int tr_task_pool_map(tr_task_pool *pool, tr_task_fn fn, const void *inputs, size_t elem_size,
                            size_t n, tr_buf *results, int *codes, tr_duration_ms timeout_ms);

/** tr_task_pool_drain: blocks until no task of the pool is pending
 *  (submitted and not completed), or timeout_ms passes (> 0 or
 *  TR_INFINITY; past the clock's range waits as TR_INFINITY). New tasks
 *  may be submitted meanwhile (by other threads); drain returns at a moment when
 *  the count is 0.
 *  Errors: TR_EINVAL (pool NULL, bad timeout), TR_ETIMEDOUT, TR_EDEADLK
 *  (scheduler thread).
 *  Thread-safety: any non-scheduler thread. */
TR_API int tr_task_pool_drain(tr_task_pool *pool, tr_duration_ms timeout_ms);

/** tr_task_pool_pending_count: tasks submitted and not yet completed
 *  (queued or running), as counting a Task.Supervisor's children. The pool
 *  is borrowed. 0 for NULL; never fails. Thread-safety: any thread (the
 *  count may change as soon as it is read). */
TR_API size_t tr_task_pool_pending_count(const tr_task_pool *pool);

/** tr_task_pool_workers: the pool's number of workers (its concurrency,
 *  Task.async_stream's max_concurrency). The pool is borrowed. 0 for NULL;
 *  never fails. Thread-safety: any thread. */
TR_API unsigned tr_task_pool_workers(const tr_task_pool *pool);

/* ------------------------------------------------------------------------ */
/* Inside a task function                                                    */
/* ------------------------------------------------------------------------ */

/** tr_task_set_result: stores the task's result bytes (copied; a second
 *  call replaces the first). They become the future's result when the
 *  task function returns 0.
 *  Errors: TR_EINVAL (task NULL, data NULL with size > 0), TR_ETOOBIG
 *  (size > UINT32_MAX), TR_ENOMEM. Thread-safety: the task's thread. */
TR_API int tr_task_set_result(tr_task *task, const void *data, size_t size);

/** tr_task_error: records an error text for the task and returns code, so
 *  a task function can say `return tr_task_error(t, -22, "bad input");`.
 *  The future then fails with code and this text (copied, truncated to
 *  255 bytes; NULL gives tr_strerror(code) or "task failed"). code should
 *  be non-zero; 0 is turned into TR_EREMOTE. Thread-safety: the task's
 *  thread. */
TR_API int tr_task_error(tr_task *task, int code, const char *text);

/** tr_task_fail: the crash path: crashes the worker running the task with
 *  reason error(code, text) (tr_fail). The future fails with TR_ECRASHED
 *  and the text (truncated to 55 bytes, as any exit reason); the worker is
 *  restarted; other tasks are not affected. Does not return; release the
 *  task's own resources first. Thread-safety: the task's thread. */
TR_API TR_NORETURN void tr_task_fail(tr_task *task, int code, const char *text);

/** tr_task_self: the worker fiber running the task (for tr_self_pid,
 *  tr_send, tr_fail...). Valid during the task function; NULL for task
 *  NULL (never fails otherwise). Thread-safety:
 *  the task's thread. */
TR_API tr_self *tr_task_self(tr_task *task);

#ifdef __cplusplus
}
#endif
#endif
