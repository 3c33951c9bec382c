/* troupe — parking: how a blocking primitive (a channel, select, a
 * future, a blocking-pool job) waits until another thread wakes it
 * (private).
 *
 * A parker holds one permit, as Java's LockSupport and Go's notes do:
 * tr__parker_wake gives it (any thread; a wake while the permit is already
 * given adds nothing), and tr__parker_wait takes it, blocking until it is
 * given or the deadline passes. A wake that comes before the wait is not
 * lost. A permit can be left over from an earlier, abandoned wait: a
 * primitive decides what it waits for by its own state, under its own
 * lock, and treats a wake-up as "look again".
 *
 * Who waits: every thread has its own parker (a condition variable); a
 * fiber has one whose wait parks the fiber, so its scheduler thread runs
 * other work meanwhile, and whose wake makes the fiber runnable again.
 * tr__parker_self() gives the caller's: the running fiber's, else the
 * thread's.
 *
 * The rules for a primitive that keeps waiters in a queue (a waiter entry
 * may live on the waiting stack):
 *  - call tr__parker_wake while holding the lock that guards the queue, so
 *    that a waiter that takes the lock after the wake knows the waker is
 *    done with its entry;
 *  - before waiting, set p->cancel: a fiber that is killed while parked
 *    never returns from tr__parker_wait, and its exit calls cancel (once,
 *    on the exiting fiber's scheduler thread) to take its entries out of
 *    every queue (under those locks) before its stack is freed. Clear it
 *    after the wait. Threads are never cancelled.
 */
#ifndef TROUPE_BASE_PARK_H
#define TROUPE_BASE_PARK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct tr__parker tr__parker;

/* How a parker that is not a thread's blocks and is woken (a fiber's). */
typedef struct tr__parker_ops {
    /* Blocks the owner until the permit is given or deadline (ms of
     * tr__now_ms, TR__NEVER: none) passes; returns 0 or TR_ETIMEDOUT. Called
     * by the owner only, when it found no permit. */
    int (*block)(tr__parker *p, int64_t deadline);
    /* Makes the owner run again (after the permit was given). Any thread. */
    void (*unblock)(tr__parker *p);
} tr__parker_ops;

struct tr__parker {
    uint32_t permit;           /* atomic: 1 = given */
    const tr__parker_ops *ops; /* NULL: a thread's parker (mu, cv) */
    void (*cancel)(void *arg); /* owner: set while waiting in a queue (see above) */
    void *cancel_arg;
    pthread_mutex_t mu; /* a thread's parker */
    pthread_cond_t cv;
    bool sleeping; /* under mu: the thread waits on cv */
};

/* tr__parker_self: the calling fiber's parker, else the calling thread's
 * (made on first use; lives as long as the thread). Never NULL. */
tr__parker *tr__parker_self(void);

/* The calling thread's current fiber parker (NULL: none). */
extern __thread tr__parker *tr__tls_fiber_parker;

/* tr__parker_set_fiber: installs p as the calling thread's current fiber
 * parker (NULL: none, the thread's own is used). The scheduler calls it as
 * it switches into and out of a fiber (twice per resume: inline). */
static inline void tr__parker_set_fiber(tr__parker *p) {
    tr__tls_fiber_parker = p;
}

/* tr__parker_init_ops: initializes a fiber's parker (no permit). */
void tr__parker_init_ops(tr__parker *p, const tr__parker_ops *ops);

/* tr__parker_wait: takes the permit, waiting for it until deadline (ms of
 * tr__now_ms; TR__NEVER: no deadline). Returns 0 (taken) or TR_ETIMEDOUT.
 * The owner only. */
int tr__parker_wait(tr__parker *p, int64_t deadline);

/* tr__parker_wake: gives the permit and makes its owner run if it waits.
 * Any thread. */
void tr__parker_wake(tr__parker *p);

/* tr__parker_try: takes the permit if it is given; true when taken. */
bool tr__parker_try(tr__parker *p);

#endif
