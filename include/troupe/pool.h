/* troupe — pool manager: a supervised set of workers behind a pool actor.
 *
 * tr_pool_start spawns a pool actor, which starts a one_for_one supervisor
 * over `size` workers running one behaviour. Calls sent to the pool's pid
 * are jobs: the pool picks a worker (round-robin or least-loaded) and
 * forwards the call, with the caller's `from`, to it; the worker's
 * handle_call replies to the caller directly. Casts to the pool are
 * forwarded the same way. The pool resizes at run time; a worker removed
 * by a scale-down finishes every job already queued to it before it stops.
 * A worker that crashes: every job it had accepted and not finished gets
 * an error reply (TR_ECRASHED, with the crash reason as text), and the
 * supervisor restarts it.
 *
 * Tags from TR_TAG_RESERVED_MIN (0xFFFF0000) up are reserved for troupe's
 * own requests (the table is in troupe/actor.h, above tr_send): the pool
 * answers a call with such a tag TR_EINVAL.
 */
#ifndef TROUPE_POOL_H
#define TROUPE_POOL_H

#include "actor.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Dispatch strategies. */
typedef enum tr_pool_strategy {
    TR_POOL_ROUND_ROBIN = 0, /* workers 0,1,...,n-1,0,... (reset by resize) */
    TR_POOL_LEAST_LOADED     /* fewest jobs queued or running; ties: lowest index */
} tr_pool_strategy;

/** Most workers in one pool. */
#define TR_POOL_MAX_WORKERS 4096

/** Pool options. Zero-initialize, then set worker and size.
 *  - worker/worker_arg/worker_arg_size: the workers' behaviour and init
 *    argument (copied when worker_arg_size > 0; else passed as is and kept
 *    alive by the caller). worker_arg_size, or the worker's state_size, over
 *    PTRDIFF_MAX / 2 is invalid.
 *  - size: initial workers, 1..TR_POOL_MAX_WORKERS.
 *  - intensity/period_ms: the workers' supervisor's restart intensity;
 *    0/0 gives 10 restarts per worker within 1000 ms.
 *  - worker_shutdown_ms: shutdown rule for workers; 0 = 5000 ms; one past
 *    the clock's range waits as TR_INFINITY; negative is invalid. */
typedef struct tr_pool_opts {
    const tr_behaviour *worker;
    const void *worker_arg;
    size_t worker_arg_size;
    unsigned size;
    tr_pool_strategy strategy;
    int intensity;
    tr_duration_ms period_ms;
    tr_duration_ms worker_shutdown_ms;
    /* Run the workers' callbacks on fibers (tr_spawn_opts.on_fiber): a job
     * may block (tr_blocking for a file read, tr_call, channels) and only
     * its worker parks. */
    bool fiber_workers;
    size_t worker_stack_size; /* with fiber_workers; 0 = default */
} tr_pool_opts;

/** tr_pool_start: starts a pool; returns after all workers ran init.
 *  Errors: TR_EINVAL (rt, opts or out NULL: a pool nobody can name could
 *  never be stopped; size 0 or too big, no behaviour, negative
 *  durations, worker_arg_size or state_size over PTRDIFF_MAX / 2,
 *  worker_stack_size outside 16 KiB .. 1 GiB), TR_EINIT (a
 *  worker's init failed), TR_ENOMEM, TR_ECLOSED. *out receives the pool's
 *  pid. Thread-safety: any thread. */
TR_API int tr_pool_start(tr_runtime *rt, const tr_pool_opts *opts, tr_pid *out);

/** tr_pool_worker_index: inside a pool worker's callbacks, its index
 *  (0..size-1; stable across restarts); TR_EINVAL elsewhere.
 *  Thread-safety: the callback's thread. */
TR_API int tr_pool_worker_index(const tr_self *self);

/** tr_pool_resize: sets the number of workers (1..TR_POOL_MAX_WORKERS).
 *  Growing starts workers at the next indexes; shrinking removes the
 *  highest indexes, which get no new job at once, run every job already
 *  queued to them (each caller gets the worker's own reply), then stop with
 *  reason normal (the call returns once they are told; it does not wait
 *  for their queues). A removed worker that crashes before its queue is
 *  done answers its unfinished jobs with TR_ECRASHED, as any worker; if the
 *  pool stops meanwhile, TR_EEXITED. Round-robin starts again at worker 0.
 *  Errors: TR_EINVAL, TR_EINIT (a new worker's init failed: the pool keeps
 *  the workers that started), TR_ENOPROC, TR_EDEADLK, TR_ECLOSED.
 *  Thread-safety: any non-scheduler thread (actors: tr_request with
 *  TR_POOL_RESIZE and an unsigned payload). */
TR_API int tr_pool_resize(tr_runtime *rt, tr_pid pool, unsigned size);

/** Statistics of one worker. */
typedef struct tr_pool_worker_stats {
    unsigned index;
    tr_pid pid; /* TR_PID_NONE while restarting */
    /* jobs_done, jobs_failed, restarts: over every worker the index has had
     * (restarts, and workers removed by a scale-down before a grow re-added
     * the index) */
    uint64_t jobs_done;   /* calls and casts its handlers finished */
    uint64_t jobs_failed; /* jobs that got TR_ECRASHED because it crashed */
    uint32_t restarts;
    uint32_t queued; /* jobs dispatched to its current worker and not finished */
} tr_pool_worker_stats;

/** Statistics of the pool. */
typedef struct tr_pool_stats {
    unsigned size; /* active workers (draining ones excluded) */
    uint64_t jobs_dispatched;
    uint64_t jobs_done;
    uint64_t jobs_failed;
    uint64_t restarts;
} tr_pool_stats;

/** tr_pool_get_stats: totals into *stats (may be NULL), and up to max
 *  per-worker rows (active workers, index order) into workers, with their
 *  number in *n (may be NULL).
 *  Errors: TR_EINVAL, TR_ENOPROC, TR_EDEADLK, TR_ECLOSED.
 *  Thread-safety: any non-scheduler thread (actors: tr_request with
 *  TR_POOL_STATS; the reply is a tr_pool_stats followed by the rows). */
TR_API int tr_pool_get_stats(tr_runtime *rt, tr_pid pool, tr_pool_stats *stats,
                             tr_pool_worker_stats *workers, size_t max, size_t *n);

/** tr_pool_stop: stops the pool: workers stop with reason shutdown (jobs
 *  still queued get TR_EEXITED replies), then the supervisor and the pool
 *  actor exit. Waits up to timeout_ms (> 0 or TR_INFINITY; past the clock's
 *  range waits as TR_INFINITY) for the pool to be gone.
 *  Errors: TR_EINVAL, TR_ENOPROC, TR_ETIMEDOUT, TR_EDEADLK, TR_ECLOSED.
 *  Thread-safety: any non-scheduler thread. */
TR_API int tr_pool_stop(tr_runtime *rt, tr_pid pool, tr_duration_ms timeout_ms);

/* Request tags of the pool, in its reserved range 0xFFFF0200-0xFFFF02FF
 * (the table of reserved tags is in troupe/actor.h, above tr_send). */
#define TR_POOL_RESIZE 0xFFFF0201u
#define TR_POOL_STATS 0xFFFF0202u

#ifdef __cplusplus
}
#endif
#endif
