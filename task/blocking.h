/* troupe — the blocking pool's private interface (task/blocking.c): the
 * two halves of tr_blocking, for the fiber core and the tests.
 *
 * A job lives on the heap with a state word under the pool's lock:
 * queued -> running -> done, or abandoned when the waiter's parker is
 * cancelled (a fiber killed while it waits, park.h): a queued job is then
 * dropped at once, a running one freed by its pool thread when fn returns,
 * and nobody is woken. The caller's parker is woken under the pool's lock
 * (park.h's rule), so a waiter that sees `done` under that lock knows the
 * pool is finished with the job.
 */
#ifndef TROUPE_TASK_BLOCKING_H
#define TROUPE_TASK_BLOCKING_H

#include <troupe/blocking.h>

#include "base/park.h"

typedef struct tr__bjob tr__bjob;

/* tr__blocking_submit: queues fn(arg) on rt's pool for the waiter parked
 * on p, and sets p->cancel (tr__blocking_cancel, the job) so that the job
 * is abandoned if p's owner is killed while it waits. *out gets the job.
 * Errors: TR_ECLOSED, TR_ENOMEM (nothing queued, p untouched). No refusal
 * check (tr_blocking makes it). The owner of p only. */
int tr__blocking_submit(tr_runtime *rt, tr_blocking_fn fn, void *arg, tr__parker *p,
                        tr__bjob **out);

/* tr__blocking_finish: waits on p (TR__NEVER) until job is done, clears
 * p->cancel, frees the job and returns its outcome: 0 with *result = fn's
 * return value (result may be NULL), or TR_ECLOSED (the pool stopped
 * before fn ran). The owner of p only. */
int tr__blocking_finish(tr__bjob *job, tr__parker *p, int *result);

/* tr__blocking_cancel: a parker's cancel hook (arg: the job): abandons the
 * job (see above); after it the job must not be touched by the caller.
 * Called once, on any thread. */
void tr__blocking_cancel(void *job);

/* tr__blocking_set_idle_ms: how long a pool thread waits idle before it
 * exits (default 10,000 ms), from now on (a thread already idle keeps its
 * deadline). For tests. Any thread. */
void tr__blocking_set_idle_ms(tr_runtime *rt, unsigned ms);

#endif
